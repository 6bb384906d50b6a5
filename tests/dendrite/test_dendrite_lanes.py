"""Lane blocks (``nd.run(lane_block=...)``): a batch of independent cells run one block
of cells at a time gives every cell the trace it has when run alone (one cell, scalar
parameters), and the batch run whole gives the same; what cannot run in blocks is
refused with the reason when asked for, and runs whole by default."""

import jax.numpy as jnp
import numpy as np
import pytest

import neurodyn as nd
import neurodyn.units as u
from neurodyn import dendrite as D
from neurodyn.dyn import _lanes

S_CM2 = u.S / u.cm**2
AMPS = np.linspace(0.15, 0.45, 8)  # nA, one per cell
G_NA = np.linspace(0.10, 0.14, 8)  # S/cm2, one per cell


def _cell(amp, g_na, batch=None, vclamp=False):
    cell = D.Cell(D.Morphology.ball_and_stick(20 * u.um, 200 * u.um, 2 * u.um), ncomp=3,
                  Ra=100 * u.ohm * u.cm, warn_d_lambda=False)  # fmt: skip
    hh = D.HH(g_Na=jnp.asarray(g_na) * S_CM2)
    cell.paint("soma", hh)
    cell.paint("dendrites", D.Leak(g=1e-4 * S_CM2, E=-65 * u.mV))
    soma = cell.location("soma", 0.5)
    cell.place(soma, D.IClamp(1 * u.ms, 8 * u.ms, jnp.asarray(amp) * u.nA))
    clamp = None
    if vclamp:  # at the dendrite's far end, -50 mV for the first 3 ms
        clamp = cell.place(cell.location(1, 0.9), D.VClamp(dur1=3 * u.ms, amp1=-50 * u.mV))
    if batch is not None:
        cell.init_state(batch)
    mons = {
        "v": cell.V_at(soma),
        "m": cell.state_at(soma, hh, "m"),
        "i_na": cell.current_at(soma, hh, "na"),
    }
    if clamp is not None:
        mons["i_clamp"] = clamp.i
    return cell, mons


def _run(cell, mons, **kw):
    cell.reset_state()
    res = nd.run(cell, 12 * u.ms, dt=0.025 * u.ms, monitors=mons, **kw)
    return {k: _plain(res[k]) for k in mons}


def _plain(x):
    return np.asarray(getattr(x, "mantissa", x))


def _as_batch(g_na):
    return jnp.asarray(g_na)[:, None]  # (cells, 1): one density per cell, every node


def test_blocks_of_cells_equal_each_cell_run_alone():
    cell, mons = _cell(AMPS, _as_batch(G_NA), batch=8)
    blocked = _run(cell, mons, lane_block=2)
    whole = _run(cell, mons, lane_block=False)
    for k in mons:
        assert blocked[k].shape == (480, 8)
        np.testing.assert_array_equal(blocked[k], whole[k])
    for j in (0, 5, 7):  # independent: one cell, scalar parameters
        one, one_mons = _cell(AMPS[j], G_NA[j])
        alone = _run(one, one_mons)
        for k in mons:
            np.testing.assert_allclose(blocked[k][:, j], alone[k], rtol=1e-5, atol=1e-5)
    # the cells differ (a per-cell value read as another cell's would show)
    assert np.ptp(blocked["v"].max(0)) > 1.0


def test_a_continued_run_and_a_voltage_clamp_in_blocks():
    cell, mons = _cell(AMPS, _as_batch(G_NA), batch=8, vclamp=True)
    cell.reset_state()
    first = nd.run(cell, 6 * u.ms, dt=0.025 * u.ms, monitors=mons, lane_block=4)
    second = nd.run(cell, 6 * u.ms, dt=0.025 * u.ms, monitors=mons, lane_block=4)
    whole = _run(cell, mons, lane_block=False)
    for k in mons:
        joined = np.concatenate([_plain(first[k]), _plain(second[k])])
        np.testing.assert_array_equal(joined, whole[k].reshape(joined.shape))
    assert np.abs(whole["i_clamp"]).max() > 0  # the clamp acted


def test_the_default_block_and_what_runs_whole():
    assert _lanes.choose_block(1000, 14_000.0, None) == 125  # 1.75 MB of States a block
    assert _lanes.choose_block(100, 14_000.0, None) == 100  # 1.4 MB: fits, runs whole
    assert _lanes.choose_block(997, 14_000.0, None) == 997  # prime: no block
    assert _lanes.choose_block(1000, 14_000.0, 40) == 40
    with pytest.raises(ValueError, match=r"divisor of the batch size 1000.*got 33"):
        _lanes.choose_block(1000, 14_000.0, 33)


def test_lane_blocks_refused_with_the_reason():
    cell, mons = _cell(AMPS, _as_batch(G_NA), batch=8)
    cell.reset_state()
    v0 = np.asarray(cell.V.value.mantissa).copy()
    with pytest.raises(ValueError, match=r"lane_block must be a divisor of the batch size 8"):
        nd.run(cell, 1 * u.ms, dt=0.025 * u.ms, monitors=mons, lane_block=3)
    np.testing.assert_array_equal(np.asarray(cell.V.value.mantissa), v0)  # nothing ran
    # a monitor that mixes the cells cannot be recorded block by block
    mean = {"mean": lambda: cell.V.value.mean()}
    with pytest.raises(ValueError, match=r"monitor 'mean' does not record lane by lane"):
        nd.run(cell, 1 * u.ms, dt=0.025 * u.ms, monitors=mean, lane_block=2)
    res = nd.run(cell, 1 * u.ms, dt=0.025 * u.ms, monitors=mean)  # default: whole batch
    assert res["mean"].shape == (40,)
    one, one_mons = _cell(0.3, 0.12)  # one cell: no lanes
    with pytest.raises(ValueError, match=r"lanes are not independent"):
        nd.run(one, 1 * u.ms, dt=0.025 * u.ms, monitors=one_mons, lane_block=1)
