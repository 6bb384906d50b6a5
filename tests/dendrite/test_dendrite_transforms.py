"""A cell under the transforms: gradients of a loss on the soma trace with respect to
channel densities given as ``nd.Param`` equal central finite differences (float64); a
batch of cells (``init_state(batch)``) and ``nd.vmap`` over a parameter equal single
runs."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurodyn as nd
import neurodyn.units as u
from neurodyn import dendrite as D

S_CM2 = u.S / u.cm**2


def _ball_and_stick(g_na=0.12 * S_CM2, g_k=0.036 * S_CM2, g_pas=1e-4 * S_CM2, amp=0.3 * u.nA):
    cell = D.Cell(D.Morphology.ball_and_stick(20 * u.um, 300 * u.um, 2 * u.um), ncomp=1,
                  Ra=100 * u.ohm * u.cm)  # fmt: skip
    cell.paint("soma", D.HH(g_Na=g_na, g_K=g_k))
    cell.paint("dendrites", D.Leak(g=g_pas, E=-65 * u.mV))
    soma = cell.location("soma", 0.5)
    cell.place(soma, D.IClamp(2 * u.ms, 10 * u.ms, amp))
    return cell, soma


@pytest.mark.slow  # (about 10 s; make test-slow)
def test_gradients_of_a_soma_trace_loss_equal_finite_differences():
    with jax.enable_x64(True):
        params = {
            "g_Na": nd.Param(jnp.asarray(0.12) * S_CM2),
            "g_K": nd.Param(jnp.asarray(0.036) * S_CM2),
            "g_pas": nd.Param(jnp.asarray(1e-4) * S_CM2),
        }
        cell, soma = _ball_and_stick(params["g_Na"], params["g_K"], params["g_pas"])

        def loss():
            cell.reset_state()
            res = nd.run(cell, 15 * u.ms, dt=0.025 * u.ms, monitors={"v": cell.V_at(soma)})
            return jnp.mean((res["v"].to_value(u.mV) + 40.0) ** 2)

        grads = nd.grad(loss, params)()
        for name, p in params.items():
            v0 = p.value
            h = 1e-4 * float(v0.mantissa)
            p.value = v0 + h * S_CM2
            up = float(loss())
            p.value = v0 - h * S_CM2
            down = float(loss())
            p.value = v0
            fd = (up - down) / (2 * h)
            ours = float(grads[name].to_value(S_CM2**-1))
            assert ours == pytest.approx(fd, rel=1e-5), (name, ours, fd)
            assert abs(fd) > 1.0  # the loss depends on every density


@pytest.mark.slow  # (about 10 s; make test-slow)
def test_a_batch_of_cells_and_vmap_over_a_parameter_equal_single_runs():
    amps = np.array([0.1, 0.2, 0.3])
    with jax.enable_x64(True):
        amp = nd.Param(jnp.asarray(0.0) * u.nA)  # one compiled program for the three runs
        cell, soma = _ball_and_stick(amp=amp)
        singles = []
        for a in amps:
            amp.value = jnp.asarray(a) * u.nA
            cell.reset_state()
            res = nd.run(cell, 12 * u.ms, dt=0.025 * u.ms, monitors={"v": cell.V_at(soma)})
            singles.append(np.asarray(res["v"].to_value(u.mV)))
        singles = np.stack(singles, 1)
        # one cell object, a batch axis of 3 and one amplitude per lane
        cell, soma = _ball_and_stick(amp=jnp.asarray(amps) * u.nA)
        cell.init_state(batch_size=3)
        res = nd.run(cell, 12 * u.ms, dt=0.025 * u.ms, monitors={"v": cell.V_at(soma)})
        assert res["v"].shape == (480, 3)
        np.testing.assert_allclose(np.asarray(res["v"].to_value(u.mV)), singles, atol=1e-10)

        # nd.vmap over a function that builds and runs a cell for one g_K
        def trace(g_k):
            cell, soma = _ball_and_stick(g_k=g_k * S_CM2, amp=0.3 * u.nA)
            return nd.run(cell, 12 * u.ms, dt=0.025 * u.ms, monitors={"v": cell.V_at(soma)})[
                "v"
            ].to_value(u.mV)

        gks = jnp.asarray([0.036, 0.036, 0.02])
        lanes = np.asarray(nd.vmap(trace)(gks))
        np.testing.assert_allclose(lanes[0], singles[:, 2], atol=1e-10)
        np.testing.assert_allclose(lanes[1], lanes[0], atol=0)
        assert np.abs(lanes[2] - lanes[0]).max() > 1.0  # less K current: another trace
