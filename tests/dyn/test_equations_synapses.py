"""Synapses from strings: a pathway with every kind of statement against a NumPy loop
written from Brian2's semantics (event-driven variables advanced exactly from their last
update, statements in order, writes to the pre- and postsynaptic groups), on the event
operators and on the masked computation; per-synapse delays; summed and clock-driven
variables against their closed form; refractory neurons protected from writes; errors."""

import jax
import numpy as np
import pytest

import neurodyn as nd
import neurodyn.units as u
from neurodyn import event
from neurodyn.dyn import EquationError, NeuronGroup, SpikeTimeGroup, Synapses

N_PRE, N_POST, STEPS, DT = 5, 4, 400, 1e-4
PERIOD_PRE, PHASE_PRE = np.array([7, 11, 13, 5, 9]), np.array([1, 3, 0, 2, 4])
PERIOD_POST, PHASE_POST = np.array([17, 6, 23, 8]), np.array([2, 0, 5, 3])
TAU_A, TAU_B = 5e-3, 8e-3
MODEL = """
w : 1
dA/dt = -A/tauA : 1 (event-driven)
dB/dt = (1 - B)/tauB : 1 (event-driven)
"""
ON_PRE = """
y_post += w*B
A += 0.5
w = clip(w + 0.1*A - 0.05*y_post, 0, 2)
q_pre += 1
"""
ON_POST = """
B -= 0.2*B
z_pre += w
w = w*0.9
"""


def _conn():
    return event.FixedProb(0.6, seed=4).build(N_PRE, N_POST, weight=1.0)


def _network(backend, w0):
    clock = "period : integer\nphase : integer\n"
    pre = NeuronGroup(N_PRE, clock + "q : 1\nz : 1", threshold="t_in_timesteps % period == phase")
    pre.period, pre.phase = PERIOD_PRE, PHASE_PRE
    post = NeuronGroup(N_POST, clock + "y : 1", threshold="t_in_timesteps % period == phase")
    post.period, post.phase = PERIOD_POST, PHASE_POST
    net = nd.Network()
    net.pre, net.post = pre, post
    net.S = Synapses(
        pre,
        post,
        _conn(),
        MODEL,
        on_pre=ON_PRE,
        on_post=ON_POST,
        namespace={"tauA": TAU_A * u.second, "tauB": TAU_B * u.second},
        backend=backend,
    )
    net.S.w = w0
    return net


def _numpy_reference(w0):
    """Brian2's semantics, one step at a time."""
    conn = _conn()
    i, j = np.asarray(conn.row_ids()), np.asarray(conn.indices)
    w, A, B, last = w0.copy(), np.zeros(len(i)), np.zeros(len(i)), np.zeros(len(i))
    y, q, z = np.zeros(N_POST), np.zeros(N_PRE), np.zeros(N_PRE)
    for k in range(STEPS):
        t = k * DT
        for side, spiking in (
            ("pre", k % PERIOD_PRE == PHASE_PRE),
            ("post", k % PERIOD_POST == PHASE_POST),
        ):
            act = spiking[i] if side == "pre" else spiking[j]
            d = t - last[act]
            A[act] = A[act] * np.exp(-d / TAU_A)
            B[act] = 1 + (B[act] - 1) * np.exp(-d / TAU_B)
            if side == "pre":
                np.add.at(y, j[act], w[act] * B[act])
                A[act] += 0.5
                w[act] = np.clip(w[act] + 0.1 * A[act] - 0.05 * y[j[act]], 0, 2)
                np.add.at(q, i[act], 1.0)
            else:
                B[act] -= 0.2 * B[act]
                np.add.at(z, i[act], w[act])
                w[act] = w[act] * 0.9
            last[act] = t
    return {"w": w, "A": A, "B": B, "lastupdate": last, "y": y, "q": q, "z": z}


@pytest.mark.parametrize("backend", ["event", "dense"])
def test_a_pathway_with_every_kind_of_statement_follows_brian2s_semantics(backend):
    w0 = np.linspace(0.2, 1.5, _conn().nnz)
    with jax.enable_x64(True):
        net = _network(backend, w0)
        nd.run(net, STEPS * DT * u.second, dt=DT * u.second)
        got = {
            k: np.asarray(u.get_mantissa(getattr(net.S, k).value))
            for k in ("w", "A", "B", "lastupdate")
        }
        got.update(
            y=np.asarray(net.post.y.value),
            q=np.asarray(net.pre.q.value),
            z=np.asarray(net.pre.z.value),
        )
    ref = _numpy_reference(w0)
    assert ref["q"].min() > 10 and ref["z"].max() > 1  # both pathways ran often
    for key, value in ref.items():
        np.testing.assert_allclose(got[key], value, rtol=1e-12, atol=1e-14, err_msg=key)


@pytest.mark.slow
def test_a_batched_pathway_equals_single_runs():
    rng = np.random.default_rng(2)
    w0 = rng.uniform(0.2, 1.5, (2, _conn().nnz))
    net = _network("event", w0[0])
    net.init_state(batch_size=2)
    net.S.w = w0
    nd.run(net, 10 * u.ms, dt=0.1 * u.ms)
    for b in range(2):
        single = _network("event", w0[b])
        nd.run(single, 10 * u.ms, dt=0.1 * u.ms)
        np.testing.assert_allclose(net.S.w.value[b], single.S.w.value, rtol=1e-6)
        np.testing.assert_allclose(net.post.y.value[b], single.post.y.value, rtol=1e-6)


def test_per_synapse_delays_and_jumps_dropped_while_refractory():
    """``v_post += w`` with one delay per synapse: each jump arrives delay / dt steps
    after its spike; a refractory target (Brian2's conditional write) drops it."""
    times = np.array([0.5, 1.0, 2.3])  # ms
    src = SpikeTimeGroup(3, [0, 1, 2], times * u.ms)
    conn = event.AllToAll().build(3, 2)
    G = NeuronGroup(
        2,
        "dv/dt = 0*mV/ms : volt (unless refractory)\nrefr : boolean",
        threshold="v > 100*mV",
        reset="v = 0*mV",
        refractory="refr",
    )
    G.refr = np.array([False, True])
    delays = np.array([0.0, 0.3, 1.0, 1.5, 0.2, 2.0])  # ms, CSR order (row-major)
    w = np.arange(1.0, 7.0)
    net = nd.Network()
    net.src, net.G = src, G
    net.S = Synapses(
        src, G, conn, "w : volt", on_pre="v_post += w", delay=delays * u.ms, w=w * u.mV
    )
    G.not_refractory.value = np.array([True, False])
    res = nd.run(net, 6 * u.ms, dt=0.1 * u.ms, monitors={"v": G.v})
    v = np.asarray(res["v"].to_value(u.mV))
    expected = np.zeros((60, 2))
    for k, (pre, post) in enumerate([(0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1)]):
        step = int(round(times[pre] / 0.1)) + int(round(delays[k] / 0.1))
        if post == 0:  # neuron 1 is refractory throughout ("refr" holds it there)
            expected[step:, 0] += w[k]
    np.testing.assert_allclose(v, expected, atol=1e-5)


def test_summed_and_clock_driven_variables_follow_their_closed_form():
    """One spike at 1 ms: g = w e^{-(t - 1 ms)/tau_s} per synapse, integrated with the
    neurons; I_syn_post, set before each state update, is the sum over the neuron's
    synapses of g (E - v)."""
    with jax.enable_x64(True):
        src = SpikeTimeGroup(3, [0, 1, 2], [1.0, 1.0, 1.0] * u.ms)
        G = NeuronGroup(2, "v : volt\nI_syn : amp", v=np.array([-65.0, -50.0]) * u.mV)
        S = Synapses(
            src,
            G,
            event.AllToAll(),
            """
            dg/dt = -g/tau_s : siemens (clock-driven)
            I_syn_post = g*(E - v_post) : amp (summed)
            w : siemens
            """,
            on_pre="g += w",
            namespace=dict(tau_s=4 * u.ms, E=0 * u.mV),
            w=np.arange(1.0, 7.0) * u.nS,
        )
        net = nd.Network()
        net.src, net.G, net.S = src, G, S
        res = nd.run(net, 5 * u.ms, dt=0.1 * u.ms, monitors={"I": G.I_syn})
        I = np.asarray(res["I"].to_value(u.pA))
    k = np.arange(1, 51)  # row k-1: the summed value computed at the start of step k-1
    w_in = np.array([1 + 3 + 5, 2 + 4 + 6])  # nS into neuron 0, 1 (row-major CSR)
    decay = np.where(k - 1 > 10, np.exp(-0.1 * (k - 1 - 11) / 4.0), 0.0)
    expected = decay[:, None] * w_in[None, :] * np.array([65.0, 50.0])[None, :]
    np.testing.assert_allclose(I, expected, rtol=1e-10, atol=1e-12)


def test_values_indices_and_errors():
    G = NeuronGroup(4, "dv/dt = -v/(10*ms) : volt\nI : amp", threshold="v > 1*mV")
    nd.random.seed(0)
    S = Synapses(
        G, G, event.FixedProb(0.5, seed=1), "w : siemens\nd : 1", on_pre="v_post += 0.1*mV"
    )
    S.w = "rand()*wmax"
    assert S.i.shape == S.j.shape == (S.N,) and S.N > 0
    w = np.asarray(S.w.value.to_value(u.nS))
    assert 0 <= w.min() and w.max() <= 2 and len(set(w.tolist())) == S.N
    S.d = "i + 10*j"
    np.testing.assert_array_equal(np.asarray(S.d.value), S.i + 10 * S.j)
    with pytest.raises(u.UnitMismatchError, match="in S; got a quantity in mV"):
        S.w = 1 * u.mV
    with pytest.raises(EquationError, match="must name a parameter of the pre- or"):
        Synapses(G, G, event.FixedProb(0.5), "I_x_post = 1*pA : amp (summed)")
    with pytest.raises(EquationError, match="targets v, which must be a parameter"):
        Synapses(G, G, event.FixedProb(0.5), "v_post = 1*mV : volt (summed)")
    with pytest.raises(u.UnitMismatchError, match="summed\\)` is in V but NeuronGroup.I is in A"):
        Synapses(G, G, event.FixedProb(0.5), "I_post = 1*mV : volt (summed)", name="S")
    with pytest.raises(EquationError, match="writes x, which is neither"):
        Synapses(G, G, event.FixedProb(0.5), on_pre="x += 1")
    with pytest.raises(u.UnitMismatchError, match="v_post is in V but `1\\*nS` is in S"):
        Synapses(G, G, event.FixedProb(0.5), on_pre="v_post += 1*nS")
    with pytest.raises(EquationError, match="linear in it and read only constants"):
        Synapses(G, G, event.FixedProb(0.5), "dx/dt = -x**2/ms : 1 (event-driven)")
    with pytest.raises(EquationError, match="flag \\(unless refractory\\)"):
        Synapses(G, G, event.FixedProb(0.5), "dx/dt = -x/ms : 1 (unless refractory)")
    with pytest.raises(TypeError, match="a delay applies to on_pre"):
        Synapses(
            G, G, event.FixedProb(0.5, seed=1), "w : 1", on_post="w += 1", delay=np.ones(S.N) * u.ms
        )
    with pytest.raises(TypeError, match="give delay=... to Synapses"):
        S.delay = 2 * u.ms
    with pytest.raises(EquationError, match="reserved name in Synapses"):
        Synapses(G, G, event.FixedProb(0.5), "delay : second")


wmax = 2 * u.nS  # read by S.w = "rand()*wmax" through the caller's namespace
