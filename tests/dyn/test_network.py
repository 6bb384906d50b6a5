"""Synapses, projections, delays, inputs, the runner and the COBA benchmark network."""

import sys
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest

import neurodyn as nd
import neurodyn.units as u
from neurodyn import event
from neurodyn.dyn import (
    COBA,
    CUBA,
    LIF,
    Alpha,
    DualExpon,
    Expon,
    Monitor,
    PoissonGroup,
    Projection,
    SpikeTimeGroup,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))


class OneSpike(nd.Network):
    """One presynaptic spike at 1 ms onto one passive neuron through a synapse."""

    def __init__(self, synapse, delay=None, weight=2.0 * u.nS):
        self.src = SpikeTimeGroup(1, [0], [1.0] * u.ms)
        self.post = LIF(1, V_th=100 * u.mV)  # never fires
        self.proj = Projection(
            self.src,
            self.post,
            event.FixedProb(1.0).build(1, 1, weight),
            synapse=synapse,
            output=COBA(0 * u.mV),
            delay=delay,
        )


def _g_trace(net, T=30.0):
    res = nd.run(net, T * u.ms, dt=0.1 * u.ms, monitors={"g": net.proj.synapse.g})
    return np.asarray(res.times.to_value(u.ms)), np.asarray(res["g"].to_value(u.nS))[:, 0]


def test_synapse_kernels_match_their_formulas():
    ts, g = _g_trace(OneSpike(Expon(5 * u.ms)))
    # the spike emitted in the step ending at 1.1 ms reaches the synapse one step later
    onset = ts[np.argmax(g > 0)]
    after = ts >= onset
    np.testing.assert_allclose(g[after], 2.0 * np.exp(-(ts[after] - onset) / 5.0), rtol=1e-5)
    ts, g = _g_trace(OneSpike(Alpha(2 * u.ms)))
    onset = ts[np.argmax(g > 0)] - 0.1
    assert ts[np.argmax(g)] - onset == pytest.approx(2.0, abs=0.11)
    assert g.max() == pytest.approx(2.0, rel=1e-2)
    ts, g = _g_trace(OneSpike(DualExpon(1 * u.ms, 5 * u.ms)))
    assert g.max() == pytest.approx(2.0, rel=2e-2)  # normalised peak


def test_delay_shifts_the_arrival_by_whole_steps():
    ts0, g0 = _g_trace(OneSpike(Expon(5 * u.ms)))
    ts1, g1 = _g_trace(OneSpike(Expon(5 * u.ms), delay=2 * u.ms))
    assert ts1[np.argmax(g1 > 0)] - ts0[np.argmax(g0 > 0)] == pytest.approx(2.0, abs=1e-6)
    with pytest.raises(ValueError, match="not a whole number of steps"):
        nd.run(OneSpike(Expon(5 * u.ms), delay=0.25 * u.ms), 1 * u.ms, dt=0.1 * u.ms)


def test_projection_errors_name_the_populations_and_units():
    a, b = LIF(10, name="A"), LIF(20, name="B")
    with pytest.raises(ValueError, match=r"A -> B.*\(10, 5\).*10 \(A\) and 20 \(B\)"):
        Projection(a, b, event.FixedProb(0.5).build(10, 5, 1 * u.nS))
    with pytest.raises(u.UnitMismatchError, match="COBA needs weights in nS"):
        Projection(a, b, event.FixedProb(0.5), weight=1 * u.pA, output=COBA())
    with pytest.raises(TypeError, match="weight"):
        Projection(a, b, event.FixedProb(0.5), output=CUBA())


def test_runner_continues_without_retracing_and_subsamples():
    lif = LIF(5, I_ext=jnp.linspace(200, 400, 5) * u.pA, tau_ref=2 * u.ms)

    class Net(nd.Network):
        def __init__(self):
            self.pop = lif

    net = Net()
    mons = {
        "V": Monitor(lif.V, every=1 * u.ms, index=slice(0, 2)),
        "n": Monitor(lif.spike, every=10 * u.ms),
        "s": lif.spike,
    }
    r1 = nd.run(net, 50 * u.ms, dt=0.1 * u.ms, monitors=mons)
    assert r1["V"].shape == (50, 2) and r1["n"].shape == (5, 5) and r1["s"].shape == (500, 5)
    # counts per 10 ms equal the spikes recorded every step
    np.testing.assert_array_equal(
        np.asarray(r1["n"]), np.asarray(r1["s"]).reshape(5, 100, 5).sum(1)
    )
    v = np.asarray(r1["V"].to_value(u.mV))  # after reset/refractory, below threshold
    assert r1["V"].unit is u.mV and v.min() >= -65.0 - 1e-4 and v.max() < -50.0
    compiled = dict(net._nd_compiled)
    r2 = nd.run(net, 50 * u.ms, dt=0.1 * u.ms, monitors=mons)
    assert dict(net._nd_compiled).keys() == compiled.keys()  # same compiled program
    assert float(r2.times[0].to_value(u.ms)) == pytest.approx(50.1)  # time continues
    only = list(net._nd_compiled.values())[0].run_chunks.cache_size
    assert only == 1
    # one continuous 100 ms run gives the same trace (deterministic model)
    lif.reset_state()
    net2 = Net()
    net2.pop.reset_state()
    r3 = nd.run(net2, 100 * u.ms, dt=0.1 * u.ms, monitors={"s": lif.spike})
    np.testing.assert_array_equal(
        np.asarray(r3["s"]), np.concatenate([np.asarray(r1["s"]), np.asarray(r2["s"])])
    )


def test_runner_bad_input_is_explained():
    class Net(nd.Network):
        def __init__(self):
            self.pop = LIF(2)

    net = Net()
    with pytest.raises(u.UnitMismatchError, match="dt must be a time"):
        nd.run(net, 10 * u.ms, dt=0.1)
    with pytest.raises(ValueError, match="not a positive whole number of steps"):
        nd.run(net, 10.05 * u.ms, dt=0.1 * u.ms)
    with pytest.raises(KeyError, match="no State 'pop.v'. Available: .*pop.V"):
        nd.run(net, 1 * u.ms, dt=0.1 * u.ms, monitors={"x": "pop.v"})
    res = nd.run(net, 1 * u.ms, dt=0.1 * u.ms, monitors={"x": "pop.V"})
    with pytest.raises(KeyError, match=r"recorded: \['x'\]"):
        res["y"]


def test_poisson_group_rate():
    class Net(nd.Network):
        def __init__(self):
            self.src = PoissonGroup(2000, 20 * u.Hz)

    nd.random.seed(0)
    res = nd.run(
        Net(), 500 * u.ms, dt=0.1 * u.ms, monitors={"n": Monitor("src.spike", every=500 * u.ms)}
    )
    rate = float(np.asarray(res["n"]).mean() / 0.5)
    assert abs(rate - 20.0) < 0.6  # 2000 x 10 expected spikes: sd of the mean ~0.14 Hz


def test_coba_benchmark_rates_within_the_anchors_spread():
    from coba import COBANet

    rates = []
    for seed in (0, 1, 2):
        nd.random.seed(seed)
        net = COBANet(4000, seed=seed)
        res = nd.run(
            net,
            500 * u.ms,
            dt=0.1 * u.ms,
            monitors={
                "E": Monitor(net.E.spike, every=500 * u.ms),
                "I": Monitor(net.I.spike, every=500 * u.ms),
            },
        )
        rates.append(
            (
                float(np.asarray(res["E"]).sum() / net.E.num / 0.5),
                float(np.asarray(res["I"]).sum() / net.I.num / 0.5),
            )
        )
    mean_e = np.mean([r[0] for r in rates])
    # Brian2, BrainPy and NEST give 19-23 Hz for this model (BENCHMARK_MODELS.md)
    assert 17.0 <= mean_e <= 25.0, rates
    assert all(10 < r[1] < 35 for r in rates), rates


def test_population_views_feed_projections():
    pop = LIF(10, V_th=100 * u.mV, name="P")
    src = SpikeTimeGroup(10, np.arange(10), np.full(10, 1.0) * u.ms)
    view = src_view = src  # noqa: F841 - spike source without views
    proj_all = Projection(
        src, pop, event.FixedProb(1.0).build(10, 10, 1 * u.nS), synapse=Expon(5 * u.ms)
    )
    net = nd.Network()
    net.pop, net.src, net.proj = pop, src, proj_all
    view = pop[:4]
    assert view.num == 4 and view.name == "P[0:4]"
    with pytest.raises(TypeError, match="cannot receive inputs"):
        Projection(src, view, event.FixedProb(1.0).build(10, 4, 1 * u.nS))
    # a view as the presynaptic side: only its neurons' spikes are sent
    lif = LIF(6, I_ext=jnp.array([2000.0, 2000, 2000, 0, 0, 0]) * u.pA, name="L")
    target = LIF(1, V_th=100 * u.mV)
    p_first = Projection(lif[:3], target, event.FixedProb(1.0).build(3, 1, 1 * u.nS))
    p_last = Projection(lif[3:], target, event.FixedProb(1.0).build(3, 1, 1 * u.nS))
    net2 = nd.Network()
    net2.lif, net2.target, net2.a, net2.b = lif, target, p_first, p_last
    res = nd.run(
        net2, 20 * u.ms, dt=0.1 * u.ms, monitors={"a": p_first.synapse.g, "b": p_last.synapse.g}
    )
    assert float(np.asarray(res["a"].to_value(u.nS)).max()) > 0
    assert float(np.asarray(res["b"].to_value(u.nS)).max()) == 0.0


def test_per_synapse_delays():
    src = SpikeTimeGroup(2, [0, 1], [1.0, 1.0] * u.ms)
    post = LIF(1, V_th=100 * u.mV)
    conn = event.CSR(jnp.array([1.0, 2.0]) * u.nS, np.array([0, 0]), np.array([0, 1, 2]), (2, 1))
    proj = Projection(
        src, post, conn, synapse=Expon(1000 * u.ms), delay=jnp.array([1.0, 3.0]) * u.ms
    )
    net = nd.Network()
    net.src, net.post, net.proj = src, post, proj
    res = nd.run(net, 8 * u.ms, dt=0.1 * u.ms, monitors={"g": proj.synapse.g})
    g = np.asarray(res["g"].to_value(u.nS))[:, 0]
    ts = np.asarray(res.times.to_value(u.ms))
    steps = ts[1:][np.diff(g) > 0.5]  # times at which g jumps
    # the undelayed arrival (see test_synapse_kernels...) is one step after emission;
    # the two synapses arrive 1 ms and 3 ms after that
    base = ts[np.argmax(np.asarray(_g_trace(OneSpike(Expon(5 * u.ms)))[1]) > 0)]
    np.testing.assert_allclose(steps, [base + 1.0, base + 3.0], atol=1e-6)
    np.testing.assert_allclose(np.diff(g)[np.diff(g) > 0.5], [1.0, 2.0], rtol=1e-3)
    with pytest.raises(ValueError, match="one delay per synapse"):
        Projection(src, post, conn, delay=jnp.array([1.0, 2.0, 3.0]) * u.ms)


def test_ampa_kinetics_match_the_analytic_pulse_response():
    from neurodyn.dyn import AMPA

    net = OneSpike(AMPA(), weight=1.0 * u.nS)
    res = nd.run(
        net, 10 * u.ms, dt=0.01 * u.ms, monitors={"r": net.proj.synapse.r, "g": net.proj.synapse.g}
    )
    r = np.asarray(res["r"])[:, 0]
    ts = np.asarray(res.times.to_value(u.ms))
    alpha, beta, T, dur = 0.98, 0.18, 0.5, 0.5
    onset = ts[np.argmax(r > 0)] - 0.01  # start of the pulse
    rate = alpha * T + beta
    r_end = alpha * T / rate * (1 - np.exp(-rate * dur))
    k_end = np.argmin(np.abs(ts - (onset + dur)))
    assert r[k_end] == pytest.approx(r_end, rel=1e-3)
    later = ts > onset + dur + 0.5
    expected = r_end * np.exp(-beta * (ts[later] - onset - dur))
    np.testing.assert_allclose(r[later], expected, rtol=2e-3)
    np.testing.assert_allclose(np.asarray(res["g"].to_value(u.nS))[:, 0], r, rtol=1e-6)


def test_delta_synapse_acts_for_one_step():
    from neurodyn.dyn import Delta

    net = OneSpike(Delta(), weight=3.0 * u.nS)
    ts, g = _g_trace(net, T=5.0)
    assert np.count_nonzero(g) == 1 and g.max() == pytest.approx(3.0)


def test_projection_refuses_weight_with_built_connectivity():
    import numpy as np

    from neurodyn import event
    from neurodyn.dyn import LIF, Projection

    a, b = LIF(3), LIF(2)
    conn = event.CSR.from_dense(np.ones((3, 2)) * u.nS)
    with pytest.raises(TypeError, match="carries its own weights"):
        Projection(a, b, conn, weight=2 * u.nS)
    assert Projection(a, b, conn).conn is conn


def test_expon_initial_conductance_is_drawn_and_redrawn_on_reset():
    from neurodyn import event
    from neurodyn.dyn import COBA, LIF, Expon, Normal, Projection

    nd.random.seed(3)
    a, b = LIF(10), LIF(20000)
    proj = Projection(
        a,
        b,
        event.FixedProb(0.1, seed=1),
        weight=1 * u.nS,
        synapse=Expon(5 * u.ms, g_initializer=Normal(40 * u.nS, 15 * u.nS)),
        output=COBA(E=0 * u.mV),
    )
    g0 = np.asarray(proj.synapse.g.value.to_value(u.nS))
    assert abs(g0.mean() - 40) < 0.5 and abs(g0.std() - 15) < 0.5
    proj.synapse.g.value = proj.synapse.g.value * 0
    proj.reset_state()
    g1 = np.asarray(proj.synapse.g.value.to_value(u.nS))
    assert abs(g1.mean() - 40) < 0.5 and not np.allclose(g1, g0)
    with pytest.raises(TypeError, match="must be in units of nS"):
        Projection(
            a,
            b,
            event.FixedProb(0.1, seed=1),
            weight=1 * u.nS,
            synapse=Expon(5 * u.ms, g_initializer=Normal(40 * u.mV, 15 * u.mV)),
        )


@pytest.mark.parametrize("kind", ["hh", "fhn", "poisson", "wilson_cowan"])
def test_reset_state_keeps_states_so_a_second_run_does_not_recompile(kind):
    from neurodyn import dyn

    pop = {
        "hh": lambda: dyn.HH(3),
        "fhn": lambda: dyn.FitzHughNagumo(3),
        "poisson": lambda: dyn.PoissonGroup(3, 10 * u.Hz),
        "wilson_cowan": lambda: dyn.WilsonCowan(3),
    }[kind]()

    class Net(nd.Network):
        def __init__(self):
            self.pop = pop

        def update(self):
            self.pop.update()

    net = Net()
    first = {k: np.asarray(u.get_mantissa(s.value)) for k, s in net.states().items()}
    nd.run(net, 1 * u.ms, dt=0.1 * u.ms)
    before = {k: id(s) for k, s in net.states().items()}
    net.reset_state()
    assert {k: id(s) for k, s in net.states().items()} == before
    for k, s in net.states().items():
        if k in first and kind != "poisson":
            np.testing.assert_allclose(np.asarray(u.get_mantissa(s.value)), first[k])
    nd.run(net, 1 * u.ms, dt=0.1 * u.ms)
    assert len(net._nd_compiled) == 1


def test_spike_times_are_stamped_with_the_start_of_the_step_as_brian2():
    # a spike generated for t = 1.0 ms is emitted in the step [1.0, 1.1) ms
    class Net(nd.Network):
        def __init__(self):
            self.src = SpikeTimeGroup(3, [2, 0], [1.0, 2.5] * u.ms)

    res = nd.run(Net(), 5 * u.ms, dt=0.1 * u.ms, monitors={"s": "src.spike"})
    t, i = res.spikes("s")
    np.testing.assert_allclose(t.to_value(u.ms), [1.0, 2.5], atol=1e-6)
    np.testing.assert_array_equal(i, [2, 0])
    assert res.times[10].to_value(u.ms) == pytest.approx(1.1)  # rows: end of each step


def test_a_parameter_changed_after_a_run_is_used_by_the_next_run():
    """The compiled program holds parameters as constants: assigning one (net.pop.tau =
    ...) must give a new program, and the next run must use the new value — a fresh
    network built with the new values gives the same spikes."""
    from neurodyn.dyn import LIF, Monitor

    class Cell(nd.Network):
        def __init__(self, I=300 * u.pA, tau=20 * u.ms):
            self.pop = LIF(1, tau_ref=2 * u.ms, I_ext=I, tau=tau)

    def count(net):
        net.reset_state()
        mon = Monitor(net.pop.spike, every=100 * u.ms)
        return int(nd.run(net, 100 * u.ms, dt=0.1 * u.ms, monitors={"n": mon})["n"][0, 0])

    net = Cell()
    first = count(net)
    net.pop.I_ext = 600 * u.pA
    second = count(net)
    net.pop.tau = 10 * u.ms
    third = count(net)
    assert first < second < third
    assert second == count(Cell(I=600 * u.pA)) and third == count(Cell(600 * u.pA, 10 * u.ms))
    assert len(net._nd_compiled) == 1  # the programs of the old values are dropped
    count(net)
    assert len(net._nd_compiled) == 1  # and an unchanged network reuses its program


def test_reset_state_between_runs_reuses_the_compiled_program():
    from neurodyn.dyn import LIF

    class Cell(nd.Network):
        def __init__(self):
            self.pop = LIF(3, I_ext=300 * u.pA)

    net = Cell()
    nd.run(net, 5 * u.ms, dt=0.1 * u.ms, monitors={"V": net.pop.V})
    (compiled,) = net._nd_compiled.values()
    net.reset_state()
    nd.run(net, 5 * u.ms, dt=0.1 * u.ms, monitors={"V": net.pop.V})
    assert list(net._nd_compiled.values()) == [compiled]
