"""Sweeps: nd.dyn.sweep over parameters of a built network, and nd.vmap over a function
that builds and runs one, equal the single runs (and an f-I curve its closed form)."""

import jax.numpy as jnp
import numpy as np
import pytest

import neurodyn as nd
import neurodyn.units as u
from neurodyn import event
from neurodyn.dyn import LIF, Monitor, PoissonInput, Projection, VoltageJump

T = 100 * u.ms


class Cell(nd.Network):
    def __init__(self, I=0 * u.pA):
        self.pop = LIF(1, tau_ref=2 * u.ms, I_ext=I)


def _count(net):
    mon = Monitor(net.pop.spike, every=T)
    return nd.run(net, T, dt=0.1 * u.ms, monitors={"n": mon})["n"][0, 0]


def test_f_I_curve_of_64_currents_equals_64_single_runs_and_the_closed_form():
    currents = np.linspace(50, 800, 64)
    net = Cell()
    V0 = np.asarray(net.pop.V.value.mantissa).copy()
    counts = nd.dyn.sweep(net, {"pop.I_ext": jnp.asarray(currents) * u.pA}, lambda: _count(net))
    # the single runs: one network whose current is a Param (one compiled program)
    cell = Cell(nd.Param(jnp.asarray(0.0) * u.pA))
    single = []
    for I in currents:
        cell.pop.__dict__["I_ext"].value = jnp.asarray(I, jnp.float32) * u.pA
        cell.reset_state()
        single.append(int(_count(cell)))
    np.testing.assert_array_equal(np.asarray(counts), single)
    # closed form of the LIF (R = 100 MOhm, tau 20 ms, 15 mV from rest = reset to
    # threshold, 2 ms dead time): first spike at t1, then one every t1 + 2 ms
    drive = currents * 1e-12 * 1e8 * 1e3  # R I in mV
    with np.errstate(divide="ignore", invalid="ignore"):
        t1 = 20 * np.log(drive / (drive - 15))
        expected = np.where(drive > 15, np.floor((100 - t1) / (t1 + 2)) + 1, 0)
    expected = np.maximum(expected, 0)
    assert np.all(np.abs(np.asarray(counts) - expected) <= 1), (counts, expected)
    assert int(counts[-1]) > 10 and int(counts[0]) == 0
    # the network is left as it was
    assert float(net.pop.I_ext.to_value(u.pA)) == 0.0
    np.testing.assert_array_equal(np.asarray(net.pop.V.value.mantissa), V0)


class Driven(nd.Network):
    def __init__(self):
        self.pop = LIF(30, V_rest=0 * u.mV, V_reset=10 * u.mV, V_th=20 * u.mV, tau_ref=2 * u.ms)
        self.rec = Projection(
            self.pop,
            self.pop,
            event.FixedProb(0.2, seed=4),
            weight=0.2 * u.mV,
            output=VoltageJump(),
        )
        self.ext = PoissonInput(self.pop, 100, 60 * u.Hz, 0.5 * u.mV, output=VoltageJump())


@pytest.mark.slow  # (~10-18 s: make test-slow)
def test_a_sweep_returns_run_results_with_a_lane_axis_and_rates_follow_the_drive():
    net = Driven()
    rates = jnp.array([10.0, 40.0, 80.0]) * u.Hz

    def run():
        return nd.run(
            net, T, dt=0.1 * u.ms, monitors={"V": net.pop.V, "n": Monitor(net.pop.spike, every=T)}
        )

    res = nd.dyn.sweep(net, {"ext.rate": rates}, run)
    assert res["V"].shape == (3, 1000, 30) and res["V"].unit == u.mV
    n = np.asarray(res["n"]).sum(axis=(1, 2))
    assert n[0] < n[1] < n[2] and n[0] >= 0  # a traced rate draws from JAX's binomial
    # lanes draw independent numbers: the same rate twice gives different trains
    twice = nd.dyn.sweep(net, {"ext.rate": jnp.array([40.0, 40.0]) * u.Hz}, run)
    assert not np.array_equal(
        np.asarray(twice["V"][0].mantissa), np.asarray(twice["V"][1].mantissa)
    )


def test_sweeping_trainable_weights_equals_single_runs():
    class Net(nd.Network):
        def __init__(self):
            self.pre = LIF(5, I_ext=jnp.linspace(250, 400, 5) * u.pA)
            self.post = LIF(3)
            per_synapse = lambda rng, k: np.full(k, 3.0, np.float32) * u.nS  # noqa: E731
            conn = event.FixedProb(0.8, seed=1).build(5, 3, weight=per_synapse)
            self.proj = Projection(self.pre, self.post, conn, trainable=True)

    def mean_v(net):
        net.reset_state()
        return nd.run(net, 50 * u.ms, dt=0.1 * u.ms, monitors={"V": net.post.V})[
            "V"
        ].mantissa.mean()

    net = Net()
    nnz = net.proj.weights.value.shape[0]
    w = jnp.stack([jnp.full(nnz, g) for g in (1.0, 5.0, 20.0)]) * u.nS
    swept = nd.dyn.sweep(net, {"proj.weights": w}, lambda: mean_v(net))
    single = []
    for row in w:
        other = Net()
        other.proj.weights.value = row
        single.append(float(mean_v(other)))
    np.testing.assert_allclose(np.asarray(swept), single, rtol=1e-6)


def test_bad_sweeps_name_the_cause():
    net = Cell()
    with pytest.raises(KeyError, match="neither a declared parameter nor a State of LIF"):
        nd.dyn.sweep(net, {"pop.size": jnp.ones(3)}, lambda: 0)
    with pytest.raises(KeyError, match="Cell has no attribute 'popp'"):
        nd.dyn.sweep(net, {"popp.tau": jnp.ones(3) * u.ms}, lambda: 0)
    with pytest.raises(ValueError, match="same number of lanes"):
        nd.dyn.sweep(
            net, {"pop.tau": jnp.ones(3) * u.ms, "pop.V_th": jnp.ones(4) * u.mV}, lambda: 0
        )
    with pytest.raises(ValueError, match="must have a leading axis"):
        nd.dyn.sweep(net, {"pop.tau": 3 * u.ms}, lambda: 0)
    with pytest.raises(u.UnitMismatchError, match="'pop.I_ext' is in pA"):
        nd.dyn.sweep(net, {"pop.I_ext": jnp.ones(3) * u.mV}, lambda: 0)
    with pytest.raises(ValueError, match="parameter tau has shape \\(4,\\), which does not fit"):
        nd.dyn.sweep(net, {"pop.tau": jnp.ones((2, 4)) * u.ms}, lambda: _count(net))
    # the network is unchanged after a refused sweep
    assert float(net.pop.tau.to_value(u.ms)) == 20.0


def test_a_traced_connection_probability_is_refused_with_the_fix():
    def build_and_run(p):
        class Net(nd.Network):
            def __init__(self):
                self.a = LIF(10)
                self.proj = Projection(self.a, self.a, event.FixedProb(p, seed=1), weight=1 * u.nS)

        net = Net()
        return nd.run(net, 1 * u.ms, dt=0.1 * u.ms, monitors={"V": net.a.V})["V"].mantissa.mean()

    with pytest.raises(TypeError, match="FixedProb: p decides how many synapses there are"):
        nd.vmap(build_and_run)(jnp.array([0.1, 0.2]))


@pytest.mark.slow
def test_a_brunel_grid_in_one_vmapped_call_matches_single_runs():
    """nd.vmap over a function that builds and runs Brunel's network: a (g, nu_ext) grid
    in one compiled call. Lanes draw other random numbers than the single runs, so the
    rates agree statistically (1000 neurons, 300 ms: within 6%), and the grid is
    ordered as Brunel's phase diagram says (more inhibition, lower rate)."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))
    from brunel import BrunelNet

    T = 300 * u.ms

    def rate(g, ratio):
        net = BrunelNet(1000, 0, g=g, ratio=ratio)
        res = nd.run(net, T, dt=0.1 * u.ms, monitors={"n": Monitor(net.N.spike, every=T)})
        return res["n"].sum() / 1000 / 0.3

    gs, ratios = jnp.meshgrid(jnp.array([3.0, 4.5, 6.0]), jnp.array([2.0, 4.0]))
    grid = np.asarray(nd.vmap(rate)(gs.ravel(), ratios.ravel()))
    single = [float(rate(g, r)) for g, r in zip(np.asarray(gs.ravel()), np.asarray(ratios.ravel()))]
    np.testing.assert_allclose(grid, single, rtol=0.06)
    per_g = grid.reshape(2, 3)
    assert np.all(np.diff(per_g, axis=1) < 0)  # more inhibition, lower rate
    assert np.all(per_g[1] > per_g[0])  # more drive, higher rate
