"""Features of the string models checked against analytic results: Brian2's
derivative-free Milstein method (OU statistics; strong order 1 on geometric Brownian
motion against the exact Stratonovich solution on the same Brownian paths) and random
numbers in synaptic code (statistics)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurodyn as nd
import neurodyn.units as u
from neurodyn import event
from neurodyn.dyn import EquationError, NeuronGroup, Synapses


def test_milstein_gives_the_ou_processs_mean_and_variance():
    tau, sigma, n = 10 * u.ms, 2 * u.mV, 4000
    nd.random.seed(3)
    G = NeuronGroup(
        n,
        "dv/dt = (mu - v)/tau + sigma*sqrt(2/tau)*xi : volt",
        method="milstein",
        namespace=dict(tau=tau, sigma=sigma, mu=1 * u.mV),
    )
    nd.run(G, 30 * u.ms, dt=0.1 * u.ms)  # 3 tau from v = 0
    v = np.asarray(G.v.value.to_value(u.mV))
    decay = np.exp(-3.0)
    mean, var = 1.0 * (1 - decay), 4.0 * (1 - decay**2)  # analytic, mV and mV^2
    assert abs(v.mean() - mean) < 4 * np.sqrt(var / n)
    assert abs(v.var() / var - 1) < 4 * np.sqrt(2 / n)


def test_milstein_has_strong_order_one_on_geometric_brownian_motion():
    # dx = sigma x o dW (Stratonovich, as Brian2's milstein converges to): x = exp(sigma W)
    G = NeuronGroup(
        1, "dx/dt = sigma*x*xi : 1", method="milstein", namespace=dict(sigma=0.5 / u.second**0.5)
    )
    system = G._spec.system
    T, paths, fine = 1.0, 2000, 2**9
    dW = np.random.default_rng(0).standard_normal((fine, paths)) * np.sqrt(T / fine)
    exact = np.exp(0.5 * dW.sum(0))
    errors = []
    for n in (2**4, 2**6, 2**8):
        dt, inc = T / n, dW.reshape(n, fine // n, paths).sum(1)

        def step(x, d, dt=dt):
            return system.step({}, {"x": x}, 0.0, dt, None, {"xi": d / dt})["x"], None

        x, _ = jax.lax.scan(step, jnp.ones(paths), jnp.asarray(inc))
        errors.append(float(np.mean(np.abs(np.asarray(x) - exact))))
    orders = -np.diff(np.log2(errors)) / 2  # dt shrinks 4x per level
    assert np.all(orders > 0.85), (errors, orders)  # Euler-type schemes: 0.5


def test_milstein_needs_diagonal_noise():
    with pytest.raises(EquationError, match="milstein' needs diagonal noise"):
        NeuronGroup(
            1, "dx/dt = x*xi/sqrt(second) : 1\ndy/dt = y*xi/sqrt(second) : 1", method="milstein"
        )


@pytest.mark.parametrize("backend", ["event", "dense"])
def test_random_numbers_in_synaptic_code_have_the_right_statistics(backend):
    # one source spiking at every step for K steps onto n targets: each synapse sums K
    # draws; two rand() calls are independent draws; a post write gets one per synapse
    n, K = 3000, 20
    nd.random.seed(4)
    net = nd.Network()
    net.src = nd.dyn.SpikeTimeGroup(1, [0] * K, np.arange(K) * 0.1 * u.ms)
    net.G = NeuronGroup(n, "v : volt")
    net.S = Synapses(
        net.src,
        net.G,
        event.AllToAll(),
        "a : 1\nb : 1\nc : 1",
        on_pre="a += rand(); b += randn(); c += rand() - rand(); v_post += rand()*mV",
        backend=backend,
    )
    nd.run(net, K * 0.1 * u.ms, dt=0.1 * u.ms)
    a, b, c = (np.asarray(getattr(net.S, k).value) for k in "abc")
    v = np.asarray(net.G.v.value.to_value(u.mV))
    tol = 5 / np.sqrt(n)  # in standard errors, relative to the spread
    for x, mean, var in ((a, K / 2, K / 12), (b, 0.0, K), (c, 0.0, K / 6), (v, K / 2, K / 12)):
        assert abs(x.mean() - mean) < tol * np.sqrt(var), (x.mean(), mean)
        assert abs(x.var() / var - 1) < 5 * np.sqrt(2 / n), (x.var(), var)
    assert abs(np.corrcoef(a, v)[0, 1]) < 0.1  # separate draws for separate calls


@pytest.mark.parametrize("backend", ["event", "dense"])
def test_per_synapse_delays_on_a_pathway_that_writes_synaptic_variables(backend):
    # one spike at 1 ms onto 5 targets with delays 0.5..2.5 ms: each synapse counts its
    # arrivals (w += 1) and jumps its target by (w * 1 mV) when its spike arrives
    net = nd.Network()
    net.src = nd.dyn.SpikeTimeGroup(1, [0, 0], [1.0, 1.3] * u.ms)
    net.G = NeuronGroup(5, "v : volt")
    delays = np.array([0.5, 1.0, 1.5, 2.0, 2.5]) * u.ms
    net.S = Synapses(net.src, net.G, event.AllToAll(), "w : 1", on_pre="w += 1; v_post += w*mV",
                     delay=delays, backend=backend)  # fmt: skip
    res = nd.run(net, 5 * u.ms, dt=0.1 * u.ms, monitors={"v": net.G.v})
    v = np.asarray(res["v"].to_value(u.mV))  # [step, neuron], after each step
    np.testing.assert_allclose(np.asarray(net.S.w.value), 2.0)
    np.testing.assert_allclose(v[-1], 3.0)  # 1 mV, then 2 mV
    first = np.argmax(v > 0.5, axis=0)  # the step of the first arrival: (1 ms + d) / dt
    np.testing.assert_array_equal(first, np.round((1.0 + np.array([0.5, 1, 1.5, 2, 2.5])) / 0.1))
    second = np.argmax(v > 1.5, axis=0)
    np.testing.assert_array_equal(second, first + 3)
