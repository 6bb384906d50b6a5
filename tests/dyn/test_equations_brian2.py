"""Equation strings against Brian2 2.9 (tests/reference/generate_brian2_equations.py and
the exact COBA reference of generate_brian2_coba_exact.py): the reading of 34 equation
strings, LIF spike steps for the three forms of refractoriness, the COBA network's spike
train and the Song-Miller-Abbott STDP weights, all from strings."""

import json
from pathlib import Path

import jax
import numpy as np
import pytest
from brian2_exact import assert_same_spike_train, load_exact

import neurodyn as nd
import neurodyn.units as u
from neurodyn import event
from neurodyn.dyn import EquationError, Equations, NeuronGroup, Synapses

REF = Path(__file__).resolve().parents[1] / "reference"
DATA = json.loads((REF / "brian2_equations.json").read_text())


@pytest.mark.parametrize("name", sorted(DATA["texts"]))
def test_equations_are_read_as_brian2_reads_them(name):
    ref = DATA["equations"][name]
    eqs = Equations(DATA["texts"][name])
    assert sorted(eqs.diff_eq_names) == ref["diff_eq_names"]
    assert sorted(eqs.subexpr_names) == ref["subexpr_names"]
    assert sorted(eqs.parameter_names) == ref["parameter_names"]
    assert sorted(eqs.stochastic_variables) == ref["stochastic_variables"]
    assert sorted(eqs.identifiers) == ref["identifiers"]
    for var, r in ref["variables"].items():
        e = eqs[var]
        assert e.kind == r["kind"]
        assert [float(x) for x in e.dim.exponents] == r["dim"]
        assert e.var_type == r["var_type"]
        assert list(e.flags) == r["flags"]


@pytest.mark.parametrize("name", sorted(DATA["invalid"]["texts"]))
def test_strings_brian2_refuses_are_refused(name):
    assert DATA["invalid"]["raises"][name] is not None  # Brian2 refused it
    with pytest.raises(EquationError):
        NeuronGroup(1, DATA["invalid"]["texts"][name])


@pytest.mark.parametrize("form", ["time", "name", "condition"])
def test_lif_spike_steps_equal_brian2_for_every_refractory_form(form):
    d = DATA["lif"]
    refractory = {"time": 2 * u.ms, "name": "ref", "condition": "x > 0.5"}[form]
    with jax.enable_x64(True):
        G = NeuronGroup(
            d["n"],
            """
            dv/dt = (I - v)/tau : volt (unless refractory)
            I : volt
            ref : second
            dx/dt = -x/(3*ms) : 1
            """,
            threshold="v > 20*mV",
            reset="v = 0*mV; x = 1",
            refractory=refractory,
            method="exact",
            namespace={"tau": d["tau_ms"] * u.ms},
        )
        G.I = np.array(d["I_mV"]) * u.mV
        G.ref = np.array(d["ref_ms"]) * u.ms
        res = nd.run(G, d["t_ms"] * u.ms, dt=d["dt_ms"] * u.ms, monitors={"s": G.spike})
    steps, index = np.nonzero(np.asarray(res["s"]))
    ref = d["spikes"][form]
    assert len(ref["step"]) > 1000
    assert sorted(zip(steps.tolist(), index.tolist())) == sorted(zip(ref["step"], ref["index"]))


COBA = """
dv/dt = (-60*mV - v + ge*(0*mV - v) + gi*(-80*mV - v) + 20*mV)/(20*ms)
        : volt (unless refractory)
dge/dt = -ge/(5*ms) : 1
dgi/dt = -gi/(10*ms) : 1
"""


@pytest.mark.parametrize("backend", ["event", pytest.param("dense", marks=pytest.mark.slow)])
def test_coba_network_from_strings_gives_brian2s_spike_train(backend):
    """Brian2's own COBA strings (generate_brian2_networks.coba_group) with the exact
    reference's connectivity and initial voltages: in float64 every spike at Brian2's
    step and neuron. ``event``: ``ge += 0.6`` on the native scatter; ``dense``: the masked
    computation over all synapses."""
    ref, n, n_e, adj_e, adj_i = load_exact("brian2_coba_exact.npz")
    with jax.enable_x64(True):
        G = NeuronGroup(
            n,
            COBA,
            threshold="v >= -50*mV",
            reset="v = -60*mV",
            refractory=5 * u.ms,
            method="exponential_euler",
        )
        G.v = ref["v0"] * u.mV
        conn_e = event.CSR.from_dense(adj_e.astype(float))
        conn_i = event.CSR.from_dense(adj_i.astype(float))
        net = nd.Network()
        net.G = G
        net.Se = Synapses(G[:n_e], G, conn_e, on_pre="ge += 0.6", backend=backend)
        net.Si = Synapses(G[n_e:], G, conn_i, on_pre="gi += 6.7", backend=backend)
        res = nd.run(net, float(ref["t_ms"]) * u.ms, dt=0.1 * u.ms, monitors={"s": G.spike})
    assert_same_spike_train(res["s"], ref, at_least=5000)


def _stdp_network(backend):
    d = DATA["stdp"]
    ref = np.load(REF / "brian2_equations_stdp.npz")
    gmax = 0.05
    ns = dict(
        taum=10 * u.ms,
        taupre=20 * u.ms,
        taupost=20 * u.ms,
        Ee=0 * u.mV,
        vt=-54 * u.mV,
        vr=-60 * u.mV,
        El=-74 * u.mV,
        taue=5 * u.ms,
        gmax=gmax,
        dApre=0.01 * gmax,
        dApost=-0.01 * 1.05 * gmax,
    )
    n = int(ref["n"])
    net = nd.Network()
    net.inp = nd.dyn.SpikeTimeGroup(n, ref["in_index"].astype(int), ref["in_step"] * 0.1 * u.ms)
    net.G = NeuronGroup(
        1, d["neurons"], threshold="v>vt", reset="v = vr", method="euler", namespace=ns
    )
    net.G.v = ns["vr"]
    net.S = Synapses(
        net.inp,
        net.G,
        event.AllToAll(),
        d["synapses"],
        on_pre=d["on_pre"],
        on_post=d["on_post"],
        namespace=ns,
        backend=backend,
    )
    net.S.w = ref["w0"]
    return net, ref


@pytest.mark.parametrize("backend", ["dense", pytest.param("event", marks=pytest.mark.slow)])
def test_song_miller_abbott_stdp_from_strings_gives_brian2s_weights(backend):
    """Brian2's STDP example as written in its documentation (event-driven traces
    advanced exactly between events, ``clip`` of the weights), on fixed input trains for
    4 s: the same postsynaptic spikes and every weight within 1e-6 of gmax (float64)."""
    with jax.enable_x64(True):
        net, ref = _stdp_network(backend)
        res = nd.run(net, float(ref["t_ms"]) * u.ms, dt=0.1 * u.ms, monitors={"s": net.G.spike})
        w = np.asarray(net.S.w.value)
    steps = np.nonzero(np.asarray(res["s"])[:, 0])[0]
    assert len(ref["post_step"]) > 100
    np.testing.assert_array_equal(steps, ref["post_step"])
    assert np.abs(w - ref["w"]).max() < 1e-6 * 0.05
    assert np.abs(ref["w"] - ref["w0"]).max() > 0.005  # the weights moved


def test_jump_network_from_strings_gives_brian2s_spike_train():
    """Brian2's strings of tests/reference/generate_brian2_jump_exact.py (``v_post +=
    0.2*mV`` with a 1.5 ms delay, ``v_post += -1.0*mV`` with one delay per synapse, method
    exact, refractory 2 ms): in float64 the whole spike train is Brian2's."""
    ref, n, n_e, adj_e, adj_i = load_exact("brian2_jump_exact.npz")
    with jax.enable_x64(True):
        G = NeuronGroup(
            n,
            "dv/dt = (mu - v) / (20*ms) : volt (unless refractory)\nmu : volt",
            threshold="v > 20*mV",
            reset="v = 10*mV",
            refractory=2 * u.ms,
            method="exact",
        )
        G.v = ref["v0"] * u.mV
        G.mu = ref["mu"] * u.mV
        net = nd.Network()
        net.G = G
        net.se = Synapses(
            G[:n_e],
            G,
            event.CSR.from_dense(adj_e.astype(float)),
            on_pre="v_post += 0.2*mV",
            delay=1.5 * u.ms,
        )
        net.si = Synapses(
            G[n_e:],
            G,
            event.CSR.from_dense(adj_i.astype(float)),
            on_pre="v_post += -1.0*mV",
            delay=ref["delay_i"] * u.ms,
        )
        res = nd.run(net, float(ref["t_ms"]) * u.ms, dt=0.1 * u.ms, monitors={"s": G.spike})
    assert_same_spike_train(res["s"], ref, at_least=5000)


EXTRAS = json.loads((REF / "brian2_equations_extras.json").read_text())


@pytest.mark.parametrize("backend", ["event", "dense"])
def test_every_on_pre_runs_before_any_on_post_as_in_brian2(backend):
    # x is doubled by the on_post of the first Synapses and incremented by the on_pre of
    # the second; at 2 ms both act and Brian2 gives (x + 1) * 2, not 2 x + 1
    ref = EXTRAS["order"]
    net = nd.Network()
    net.P = nd.dyn.SpikeTimeGroup(1, [0] * len(ref["P_ms"]), ref["P_ms"] * u.ms)
    net.Q = nd.dyn.SpikeTimeGroup(1, [0] * len(ref["Q_ms"]), ref["Q_ms"] * u.ms)
    net.N = NeuronGroup(1, "x : 1", threshold="False")
    net.N.x = ref["x0"]
    net.first = Synapses(net.N, net.Q, event.AllToAll(), on_post="x_pre *= 2", backend=backend)
    net.second = Synapses(net.P, net.N, event.AllToAll(), on_pre="x_post += 1", backend=backend)
    xs = []
    for _ in range(5):
        nd.run(net, 1 * u.ms, dt=0.1 * u.ms)
        xs.append(float(np.asarray(net.N.x.value)[0]))
    assert xs == ref["x_each_ms"]


def test_run_regularly_gives_brian2s_values():
    ref = EXTRAS["run_regularly"]
    G = NeuronGroup(3, "dv/dt = -v / tau : volt\nk : 1", method="exact",
                    namespace=dict(tau=ref["tau_ms"] * u.ms))  # fmt: skip
    G.k = np.asarray(ref["k"])
    G.run_regularly("v += k*mV", dt=ref["every_ms"] * u.ms)
    res = nd.run(G, 10 * u.ms, dt=0.1 * u.ms, monitors={"v": G.v})
    v = np.asarray(res["v"].to_value(u.mV))[9::10]  # after each ms
    np.testing.assert_allclose(v, np.asarray(ref["v_mV_each_ms"]), rtol=1e-5, atol=1e-6)


def test_linked_variables_follow_their_source_as_in_brian2():
    ref = EXTRAS["linked"]
    net = nd.Network()
    net.H = NeuronGroup(2, "dy/dt = 0*volt/second : volt")
    net.H.y = np.asarray(ref["y_mV"][0]) * u.mV
    net.G = NeuronGroup(4, "dv/dt = (x - v) / tau : volt\nx : volt (linked)", method="exact",
                        namespace=dict(tau=ref["tau_ms"] * u.ms))  # fmt: skip
    net.G.x = nd.dyn.linked_var(net.H, "y", index=ref["index"])
    vs = []
    for k in range(10):
        if k == 5:
            net.H.y = np.asarray(ref["y_mV"][1]) * u.mV
        nd.run(net, 1 * u.ms, dt=0.1 * u.ms)
        vs.append(np.asarray(net.G.v.value.to_value(u.mV)))
    np.testing.assert_allclose(np.asarray(vs), np.asarray(ref["v_mV_each_ms"]), rtol=1e-5)


def test_run_regularly_and_linked_variables_refuse_bad_input():
    G = NeuronGroup(3, "dv/dt = -v / (10*ms) : volt\nx : volt (linked)")
    with pytest.raises(u.UnitMismatchError, match="run_regularly `v = 1`: v is in V but `1` is in"):
        G.run_regularly("v = 1")
    with pytest.raises(EquationError, match="writes x, a linked variable"):
        G.run_regularly("x = 1*mV")
    with pytest.raises(ValueError, match="when must be 'start'"):
        G.run_regularly("v = 0*mV", when="end")
    H = NeuronGroup(2, "y : volt\nz : 1")
    with pytest.raises(ValueError, match="has 2 neurons and NeuronGroup 3; give index="):
        G.x = nd.dyn.linked_var(H, "y")
    with pytest.raises(u.UnitMismatchError, match="another dimension"):
        G.x = nd.dyn.linked_var(H, "z", index=[0, 1, 1])
    with pytest.raises(TypeError, match="set it with .*linked_var"):
        G.x = 1 * u.mV
    with pytest.raises(RuntimeError, match="was not linked"):
        nd.run(G, 1 * u.ms, dt=0.1 * u.ms)
    G2 = NeuronGroup(1, "dv/dt = -v / (10*ms) : volt")
    G2.run_regularly("v += 1*mV", dt=0.25 * u.ms)
    with pytest.raises(ValueError, match="not a multiple of the simulation's dt"):
        nd.run(G2, 1 * u.ms, dt=0.1 * u.ms)
