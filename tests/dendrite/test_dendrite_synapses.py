"""Point processes against NEURON 9 (tests/reference/generate_neuron_dendrite_synapses.py)
and against their closed forms: ExpSyn / Exp2Syn receiving events through Projections,
a cell's own spikes fed back through a delayed Projection, SEClamp, gate and current
monitors, and the NMDA Mg block."""

import math
from pathlib import Path

import jax
import numpy as np
import pytest

import neurodyn as nd
import neurodyn.units as u
from neurodyn import dendrite as D
from neurodyn import event

REF = Path(__file__).resolve().parents[1] / "reference" / "neuron"
DT = 0.025
S_CM2 = u.S / u.cm**2


def _ball_and_stick(**kwargs):
    m = D.Morphology.ball_and_stick(20 * u.um, 500 * u.um, 2 * u.um)
    cell = D.Cell(m, ncomp=5, Ra=100 * u.ohm * u.cm, **kwargs)
    cell.paint("soma", D.HH())
    cell.paint("dendrites", D.Leak(g=1e-4 * S_CM2, E=-65 * u.mV))
    return cell


def _events(times_ms, name):
    """A one-neuron generator whose spikes act as NEURON events at ``times_ms``: a
    generator's spike in a step acts on V from the next step (NEURON: from the step that
    starts at the event time), so it fires one step earlier."""
    times = np.asarray(times_ms, float) - DT
    return nd.dyn.SpikeTimeGroup(1, [0] * len(times), times * u.ms, name=name)


def _crossings(v, thr=-20.0):
    """Upward crossings of thr in v[0..n] (v[k] at t = k dt), linearly interpolated."""
    k = np.flatnonzero((v[:-1] < thr) & (v[1:] >= thr))
    return (k + (thr - v[k]) / (v[k + 1] - v[k])) * DT


@pytest.mark.slow  # ~5-9 s each (x64 compile of a network); the closed-form tests are fast
@pytest.mark.parametrize("method, tag", [("backward_euler", ""), ("crank_nicolson", "cn_")])
def test_synapses_and_a_delayed_feedback_projection_match_neuron(method, tag):
    data = np.load(REF / "ball_and_stick_synapses.npz")
    ref = {k: data[tag + k] if tag + k in data else data[k] for k in data if "cn_" not in k}
    uS = 1e3 * u.nS

    class Net(nd.Network):
        def __init__(self):
            self.cell = c = _ball_and_stick(method=method)
            self.soma = c.location("soma", 0.5)
            self.sites = {
                "exp": c.place(c.location("dend[0]", 0.7), D.ExpSyn(tau=2 * u.ms, e=0 * u.mV)),
                "exp2": c.place(
                    c.location("dend[0]", 0.3), D.Exp2Syn(tau1=0.5 * u.ms, tau2=5 * u.ms)
                ),
                "inh": c.place(self.soma, D.Exp2Syn(tau1=1 * u.ms, tau2=10 * u.ms, e=-80 * u.mV)),
                "self": c.place(c.location("dend[0]", 0.9), D.ExpSyn(tau=3 * u.ms)),
            }
            self.source = c.detect_spikes(self.soma, -20 * u.mV)
            self.gens = [_events(ref[f"times_{k}"], k) for k in ("exp", "exp2", "inh")]
            self.projs = [
                nd.dyn.Projection(
                    g, self.sites[k], event.FixedProb(1.0), weight=float(ref[f"weight_{k}"]) * uS
                )
                for g, k in zip(self.gens, ("exp", "exp2", "inh"))
            ]
            # the cell's own spikes, as a NetCon with the same delay
            self.feedback = nd.dyn.Projection(
                self.source,
                self.sites["self"],
                event.FixedProb(1.0),
                weight=float(ref["self_weight"]) * uS,
                delay=float(ref["self_delay"]) * u.ms,
            )

    with jax.enable_x64(True):
        net = Net()
        c = net.cell
        mons = {"v_soma": c.V_at(net.soma), "v_dend": c.V_at(c.location("dend[0]", 0.7))}
        for k, site in net.sites.items():
            mons[f"g_{k}"], mons[f"i_{k}"] = site.g, site.i
        mons.update(spike=net.source.spike, t=c.spike_time)
        res = nd.run(net, 40 * u.ms, dt=DT * u.ms, monitors=mons)
        res = {k: np.asarray(getattr(res[k], "mantissa", res[k])) for k in mons}
    for k in ("v_soma", "v_dend"):
        np.testing.assert_allclose(res[k], ref[k], atol=1e-9, rtol=0)
    for k in ("exp", "exp2", "inh", "self"):
        # NEURON's i is computed at the start of a step and recorded at its end: one row
        # later than the value after the step
        i = res[f"i_{k}"]  # nA
        np.testing.assert_allclose(i[:-1], ref[f"i_{k}"][1:], atol=1e-12, rtol=0)
        assert np.abs(ref[f"i_{k}"]).max() > 1e-4  # every synapse was active
    for k in ("exp2", "inh"):  # Exp2Syn's g does not jump at an event
        g = res[f"g_{k}"] * 1e-3  # nS -> uS
        np.testing.assert_allclose(g[:-1], ref[f"g_{k}"][1:], atol=1e-14, rtol=0)
    # two spikes (one from each excitatory synapse), each fed back after 1.5 ms
    spikes = res["t"][res["spike"][:, 0], 0]  # ms
    v_full = np.concatenate([[-65.0], ref["v_soma"]])
    np.testing.assert_allclose(spikes, _crossings(v_full), atol=1e-9)
    np.testing.assert_allclose(np.ceil(spikes / DT - 1e-9) * DT, ref["spikes"], atol=1e-9)
    assert len(spikes) == 2


def test_expsyn_and_exp2syn_conductances_are_their_closed_forms():
    # one event at t0 on a passive cell: g(t) = w exp(-(t - t0)/tau) for ExpSyn and
    # w f (exp(-(t - t0)/tau2) - exp(-(t - t0)/tau1)) for Exp2Syn, peak w at
    # t_peak = tau1 tau2 / (tau2 - tau1) ln(tau2 / tau1)
    w, t0, tau, tau1, tau2 = 2.0, 1.0, 3.0, 0.7, 6.0

    class Net(nd.Network):
        def __init__(self):
            self.cell = c = D.Cell(D.Morphology.cylinder(100 * u.um, 2 * u.um), ncomp=3)
            c.paint("all", D.Leak())
            self.s1 = c.place(c.location(0, 0.5), D.ExpSyn(tau=tau * u.ms))
            self.s2 = c.place(c.location(0, 0.5), D.Exp2Syn(tau1=tau1 * u.ms, tau2=tau2 * u.ms))
            self.gen = _events([t0], "gen")
            self.p1 = nd.dyn.Projection(self.gen, self.s1, event.FixedProb(1.0), weight=w * u.nS)
            self.p2 = nd.dyn.Projection(self.gen, self.s2, event.FixedProb(1.0), weight=w * u.nS)

    with jax.enable_x64(True):
        net = Net()
        res = nd.run(net, 30 * u.ms, dt=DT * u.ms, monitors={"g1": net.s1.g, "g2": net.s2.g})
        g1 = np.asarray(res["g1"].to_value(u.nS))
        g2 = np.asarray(res["g2"].to_value(u.nS))
    # the value after step k acts during step k + 1, from t = (k + 1) dt
    t = (np.arange(1, 1201) * DT) - t0
    on = t >= -1e-9
    np.testing.assert_allclose(g1[on], w * np.exp(-t[on] / tau), rtol=1e-12)
    assert np.all(g1[~on] == 0)
    tp = tau1 * tau2 / (tau2 - tau1) * math.log(tau2 / tau1)
    f = 1 / (math.exp(-tp / tau2) - math.exp(-tp / tau1))
    np.testing.assert_allclose(
        g2[on], w * f * (np.exp(-t[on] / tau2) - np.exp(-t[on] / tau1)), rtol=1e-12, atol=1e-15
    )
    assert abs(g2.max() - w) < 2e-3 * w and abs(t[np.argmax(g2)] - tp) <= DT


def test_nmda_current_has_the_jahr_stevens_block():
    class Net(nd.Network):
        def __init__(self):
            self.cell = c = D.Cell(D.Morphology.cylinder(20 * u.um, 20 * u.um), ncomp=1)
            c.paint("all", D.Leak(g=1e-4 * S_CM2, E=-65 * u.mV))
            self.loc = c.location(0, 0.5)
            self.site = c.place(self.loc, D.NMDA(mg=1.2 * u.mM))
            self.gen = _events([1.0, 2.0], "gen")
            self.p = nd.dyn.Projection(self.gen, self.site, event.FixedProb(1.0), weight=1 * u.nS)

    with jax.enable_x64(True):
        net = Net()
        mons = {"v": net.cell.V_at(net.loc), "g": net.site.g, "i": net.site.i}
        res = nd.run(net, 50 * u.ms, dt=DT * u.ms, monitors=mons)
        v = np.asarray(res["v"].to_value(u.mV))
        g = np.asarray(res["g"].to_value(u.uS))
        i = np.asarray(res["i"].to_value(u.nA))
    block = 1 / (1 + 1.2 / 3.57 * np.exp(-0.062 * v))
    np.testing.assert_allclose(i, g * v * block, rtol=1e-12, atol=1e-15)
    assert g.max() > 1e-3 and 0.01 < block.min() < block.max() < 0.1
    assert v.max() > -65.0 + 0.01  # it depolarised


def test_seclamp_gates_and_currents_match_neuron():
    ref = np.load(REF / "ball_and_stick_seclamp.npz")
    with jax.enable_x64(True):
        c = _ball_and_stick()
        soma, end = c.location("soma", 0.5), c.location("dend[0]", 1.0)
        clamp = D.VClamp(
            dur1=2 * u.ms, amp1=-65 * u.mV, dur2=5 * u.ms, amp2=-30 * u.mV,
            dur3=10 * u.ms, amp3=-50 * u.mV, rs=0.5 * u.Mohm,
        )  # fmt: skip
        vc = c.place(soma, clamp)
        c.place(end, D.IClamp(1 * u.ms, 100 * u.ms, 0.05 * u.nA))
        mons = {
            "v_soma": c.V_at(soma),
            "v_end": c.V_at(end),
            "i_clamp": vc.i,
            "m": c.state_at(soma, "hh", "m"),
            "h": c.state_at(soma, D.HH, "h"),
            "n": c.state_at(soma, c.mechanisms[0].mech, "n"),
            "ina": c.current_at(soma, "hh", "na"),
            "ik": c.current_at(soma, "hh", "k"),
        }
        res = nd.run(c, 20 * u.ms, dt=DT * u.ms, monitors=mons)
        res = {k: np.asarray(getattr(res[k], "mantissa", res[k])) for k in mons}

    def val(k):
        return res[k]

    for k, tol in (("v_soma", 1e-9), ("v_end", 1e-9), ("i_clamp", 1e-9)):
        np.testing.assert_allclose(val(k), ref[k], atol=tol, rtol=0)
    for k in ("m", "h", "n"):
        np.testing.assert_allclose(val(k), ref[k], atol=1e-11, rtol=0)
    for k in ("ina", "ik"):  # NEURON's currents: computed at the start of the step
        np.testing.assert_allclose(val(k)[:-1], ref[k][1:], atol=1e-11, rtol=0)
    # the clamp holds: V at the soma approaches each command through rs
    assert abs(val("v_soma")[int(6.9 / DT)] + 30) < 3


def test_point_process_refusals_name_the_choices():
    c = _ball_and_stick()
    soma = c.location("soma", 0.5)
    with pytest.raises(TypeError, match="D.IClamp, D.VClamp, D.ExpSyn"):
        c.place(soma, D.Leak())
    with pytest.raises(KeyError, match=r"painted there: \['hh'\]"):
        c.state_at(soma, "pas", "m")
    with pytest.raises(KeyError, match=r"its states: \['m', 'h', 'n'\]"):
        c.state_at(soma, "hh", "x")
    with pytest.raises(KeyError, match=r"its currents: \['na', 'k', 'leak'\]"):
        c.current_at(soma, "hh", "ca")
    with pytest.raises(u.UnitMismatchError, match="tau must be in ms"):
        D.ExpSyn(tau=2 * u.mV)
    with pytest.raises(ValueError, match="rs must be > 0"):
        D.VClamp(rs=0 * u.Mohm)
    site = c.place(soma, D.ExpSyn(tau=1 * u.ms))
    lif = nd.dyn.LIF(2)
    with pytest.raises(ValueError, match=r"shape \(2, 2\) but the populations have 2"):
        nd.dyn.Projection(lif, site, event.CSR.from_dense(np.ones((2, 2)) * u.nS))


@pytest.mark.slow  # ~5 s: a gradient and two finite-difference runs
def test_the_gradient_through_a_synaptic_weight_equals_finite_differences():
    class Net(nd.Network):
        def __init__(self):
            self.cell = c = _ball_and_stick(warn_d_lambda=False)
            self.soma = c.location("soma", 0.5)
            self.site = c.place(c.location("dend[0]", 0.5), D.NMDA(tau1=1 * u.ms, tau2=20 * u.ms))
            self.gen = nd.dyn.SpikeTimeGroup(2, [0, 1, 0], [2.0, 3.0, 6.0] * u.ms)
            self.p = nd.dyn.Projection(
                self.gen, self.site, event.FixedProb(1.0), weight=5 * u.nS, trainable=True,
                delay=0.5 * u.ms,
            )  # fmt: skip

    with jax.enable_x64(True):
        net = Net()
        nd.run(net, 1 * u.ms, dt=DT * u.ms)  # sizes the delay buffer

        def loss():
            net.reset_state()
            r = nd.run(net, 15 * u.ms, dt=DT * u.ms, monitors={"v": net.cell.V_at(net.soma)})
            return jax.numpy.mean((r["v"].to_value(u.mV) + 60.0) ** 2)

        w = net.p.weights
        grad = nd.grad(loss, [w])()[0]
        w0, h = w.value, 1e-5 * u.nS
        w.value = w0 + h
        up = float(loss())
        w.value = w0 - h
        down = float(loss())
        w.value = w0
    fd = (up - down) / (2 * 1e-5)
    assert float(np.sum(grad.to_value(u.nS**-1))) == pytest.approx(fd, rel=1e-6)
    assert abs(fd) > 0.1
