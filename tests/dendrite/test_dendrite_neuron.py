"""Traces and spike times against NEURON 9 (tests/reference/generate_neuron_dendrite.py;
fixed step 0.025 ms, backward Euler unless said, exact hh rates unless said), in float64:
a passive cable (and its analytic steady state), a ball-and-stick (backward Euler,
Crank-Nicolson, NEURON's rate table) and the CA1 cell n120 (4 compartments per branch)
with hh in the soma and pas dendrites, and with hh everywhere and a distal clamp."""

import math
from pathlib import Path

import jax
import numpy as np
import pytest

import neurodyn as nd
import neurodyn.units as u
from neurodyn import dendrite as D

REF = Path(__file__).resolve().parents[1] / "reference" / "neuron"
DT = 0.025 * u.ms
S_CM2 = u.S / u.cm**2


def _rms(a, b):
    return float(np.sqrt(np.mean((np.asarray(a) - np.asarray(b)) ** 2)))


def _every_4th(q):
    """Monitors record after every step; the references keep every 4th (0.1 ms)."""
    return np.asarray(q.to_value(u.mV))[3::4]


@pytest.mark.parametrize(
    "method, key",
    # (Crank-Nicolson is also checked, faster, on the ball-and-stick)
    [("backward_euler", "v"), pytest.param("crank_nicolson", "v_cn", marks=pytest.mark.slow)],
)
def test_passive_cable_matches_neuron_and_the_cable_equation(method, key):
    ref = np.load(REF / "passive_cable.npz")
    L, d, Ra, gm = 1000.0, 2.0, 100.0, 1e-4
    with jax.enable_x64(True):
        cell = D.Cell(
            D.Morphology.cylinder(L * u.um, d * u.um),
            ncomp=101,
            Ra=Ra * u.ohm * u.cm,
            method=method,
        )
        cell.paint("all", D.Leak(g=gm * S_CM2, E=-65 * u.mV))
        cell.place(cell.location(0, 0.001), D.IClamp(5 * u.ms, 80 * u.ms, 0.1 * u.nA))
        mons = {str(k): cell.V_at(cell.location(0, x)) for k, x in enumerate(ref["x"])}
        res = nd.run(cell, 100 * u.ms, dt=DT, monitors=mons)
    v = np.stack([_every_4th(res[str(k)]) for k in range(len(ref["x"]))], 1)[4::5]
    assert _rms(v, ref[key]) < 1e-9 and np.abs(v - ref[key]).max() < 1e-8
    # the cable equation: at 85 ms (8 membrane time constants) V is at its steady state
    # (to e^-8), I R_inf cosh(x0/lam) cosh((L - x)/lam) / sinh(L/lam) for x >= x0
    lam = math.sqrt((1 / gm) * (d * 1e-4) / (4 * Ra)) * 1e4  # um
    r_inf = 4 * Ra * lam * 1e-4 / (math.pi * (d * 1e-4) ** 2) / 1e6  # MOhm
    x0 = L / 202  # the centre of the first segment
    x = ref["x"] * L
    xs = np.maximum(x, x0)
    xm = np.minimum(x, x0)
    theory = 0.1 * r_inf * np.cosh(xm / lam) * np.cosh((L - xs) / lam) / math.sinh(L / lam)
    k = int(round(85.0 / 0.5)) - 1  # the row of t = 85 ms (rows every 0.5 ms)
    np.testing.assert_allclose(v[k] + 65.0, theory, rtol=2e-3)


@pytest.mark.parametrize(
    "tag, method, table",
    [
        ("", "backward_euler", False),
        ("cn_", "crank_nicolson", False),
        pytest.param("table_", "backward_euler", True, marks=pytest.mark.slow),
    ],
)
def test_ball_and_stick_matches_neuron(tag, method, table):
    ref = np.load(REF / "ball_and_stick.npz")
    with jax.enable_x64(True):
        morph = D.Morphology.ball_and_stick(20 * u.um, 500 * u.um, 2 * u.um)
        cell = D.Cell(
            morph, ncomp=5, cm=1 * u.uF / u.cm**2, Ra=100 * u.ohm * u.cm,
            temperature=6.3 * u.celsius, V_initializer=-65 * u.mV, method=method,
        )  # fmt: skip
        cell.paint("soma", D.HH(table=table))
        cell.paint("dendrites", D.Leak(g=1e-4 * S_CM2, E=-65 * u.mV))
        soma = cell.location("soma", 0.5)
        cell.place(soma, D.IClamp(delay=5 * u.ms, duration=30 * u.ms, amplitude=0.3 * u.nA))
        cell.detect_spikes(soma, threshold=-20 * u.mV)
        mons = {
            "soma": cell.V_at(soma),
            "dend": cell.V_at(cell.location("dend[0]", 0.9)),
            "spike": cell.spike,
            "t": cell.spike_time,
        }
        res = nd.run(cell, 50 * u.ms, dt=DT, monitors=mons)
    for site in ("soma", "dend"):
        assert _rms(_every_4th(res[site]), ref[f"{tag}v_{site}"]) < 1e-8, site
    spikes = np.asarray(res["t"].to_value(u.ms))[np.asarray(res["spike"])]
    assert len(spikes) == len(ref[f"{tag}spikes_soma"]) == 3
    np.testing.assert_allclose(spikes, ref[f"{tag}spikes_soma"], atol=1e-8)
    # the steps in which the crossings happen end at NEURON's NetCon times
    steps = np.flatnonzero(np.asarray(res["spike"]).ravel())
    np.testing.assert_allclose(res.times.to_value(u.ms)[steps], ref[f"{tag}netcon_soma"])


def _n120(hh_everywhere, x64=True):
    ref = np.load(REF / ("n120_hh_all.npz" if hh_everywhere else "n120_hh_soma.npz"))
    with jax.enable_x64(x64):
        cell = D.Cell(
            D.Morphology.from_swc(REF / "n120.swc"), ncomp=4, cm=1 * u.uF / u.cm**2,
            Ra=100 * u.ohm * u.cm, temperature=6.3 * u.celsius, V_initializer=-65 * u.mV,
            method="backward_euler",
        )  # fmt: skip
        if hh_everywhere:
            cell.paint("all", D.HH())
        else:
            cell.paint("soma", D.HH())
            cell.paint("dendrites", D.Leak(g=1e-4 * S_CM2, E=-65 * u.mV))
        soma = cell.location("soma", 0.5)
        site = cell.location(swc_point=1683)  # NEURON: the segment of dend[53] holding it
        tip = cell.location(swc_point=410)  # the end of apic[25]
        assert (site.name, tip.name) == (str(ref["site"][0]), str(ref["tip"][0]))
        amp = 0.1 * u.nA if hh_everywhere else 2 * u.nA
        cell.place(tip if hh_everywhere else soma, D.IClamp(5 * u.ms, 30 * u.ms, amp))
        for loc in (soma, site, tip):
            cell.detect_spikes(loc, -20 * u.mV)
        mons = {"soma": cell.V_at(soma), "site": cell.V_at(site), "tip": cell.V_at(tip)}
        mons.update(spike=cell.spike, t=cell.spike_time)
        res = nd.run(cell, 50 * u.ms, dt=DT, monitors=mons)
    out = {}
    for j, name in enumerate(("soma", "site", "tip")):
        out[name] = _rms(_every_4th(res[name]), ref[f"v_{name}"])
        spk = np.asarray(res["spike"])[:, j]
        ours = np.asarray(res["t"].to_value(u.ms))[:, j][spk]
        assert len(ours) == len(ref[f"spikes_{name}"]), name
        out[f"dt_{name}"] = float(np.max(np.abs(ours - ref[f"spikes_{name}"]), initial=0.0))
    return out


@pytest.mark.slow  # ~5 s: mostly compiling; the geometry of this cell is checked fast
def test_ca1_cell_with_hh_soma_and_passive_dendrites_matches_neuron():
    err = _n120(hh_everywhere=False)
    assert max(err["soma"], err["site"], err["tip"]) < 1e-8, err  # mV RMS (goal 0.01)
    assert err["dt_soma"] < 1e-8, err  # ms (goal 0.001)


@pytest.mark.slow
def test_ca1_cell_with_hh_everywhere_matches_neuron():
    err = _n120(hh_everywhere=True)
    assert max(err["soma"], err["site"], err["tip"]) < 1e-7, err
    assert max(err["dt_soma"], err["dt_site"], err["dt_tip"]) < 1e-7, err


@pytest.mark.slow
def test_ca1_cell_in_float32_is_within_the_goals():
    err = _n120(hh_everywhere=True, x64=False)
    assert max(err["soma"], err["site"], err["tip"]) < 0.01, err
    assert max(err["dt_soma"], err["dt_site"], err["dt_tip"]) < 0.001, err


@pytest.mark.slow  # (two runs of the CA1 cell: mostly compiling)
def test_crank_nicolson_is_second_order_against_a_converged_neuron_run():
    """Both methods at dt 0.025 ms against NEURON's Crank-Nicolson at dt 0.001 ms
    (tests/reference/generate_neuron_dendrite_converged.py): neurodyn's errors are
    NEURON's own at the same dt, and Crank-Nicolson's are far smaller."""
    ref = np.load(REF / "n120_converged.npz")
    errors = {}
    for method, tag in (("backward_euler", "be"), ("crank_nicolson", "cn")):
        with jax.enable_x64(True):
            cell = D.Cell(
                D.Morphology.from_swc(REF / "n120.swc"), ncomp=4, cm=1 * u.uF / u.cm**2,
                Ra=100 * u.ohm * u.cm, temperature=6.3 * u.celsius,
                V_initializer=-65 * u.mV, method=method, warn_d_lambda=False,
            )  # fmt: skip
            cell.paint("soma", D.HH(g_Na=0.6 * S_CM2, g_K=0.18 * S_CM2))
            cell.paint("dendrites", D.Leak(g=1e-4 * S_CM2, E=-65 * u.mV))
            soma = cell.location("soma", 0.5)
            cell.place(soma, D.IClamp(5 * u.ms, 30 * u.ms, 2 * u.nA))
            cell.detect_spikes(soma, -20 * u.mV)
            mons = {"v": cell.V_at(soma), "spike": cell.spike, "t": cell.spike_time}
            res = nd.run(cell, 50 * u.ms, dt=DT, monitors=mons)
        v = _every_4th(res["v"])
        spikes = np.asarray(res["t"].to_value(u.ms))[np.asarray(res["spike"])]
        # the same numerics as NEURON's at this dt
        assert _rms(v, ref[f"v_{tag}_0.025"]) < 1e-8
        np.testing.assert_allclose(spikes, ref[f"spikes_{tag}_0.025"], atol=1e-8)
        errors[tag] = (_rms(v, ref["v_cn_0.001"]), np.abs(spikes - ref["spikes_cn_0.001"]).max())
    (be_rms, be_dt), (cn_rms, cn_dt) = errors["be"], errors["cn"]
    assert cn_rms < 0.1 and cn_dt < 0.01, errors  # mV RMS, ms (seen: 0.076, 0.005)
    assert be_rms > 10 * cn_rms and be_dt > 10 * cn_dt, errors  # (seen: 2.56, 0.17)
