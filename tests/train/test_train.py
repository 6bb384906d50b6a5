"""BPTT through a spiking layer, ridge readouts vs numpy, FORCE on a reservoir."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import neurodyn as nd
import neurodyn.units as u
from neurodyn.dyn import LIF, surrogate
from neurodyn.train import BPTT, FORCE, RidgeAccumulator, ridge


class SpikingLayer(nd.Module):
    """Poisson-like input spikes -> weights -> LIF with a surrogate spike function."""

    def __init__(self, n_in=20, n_out=3):
        self.w = nd.Param(jnp.full((n_in, n_out), 0.5))
        self.lif = LIF(
            n_out,
            tau=10 * u.ms,
            V_th=-50 * u.mV,
            V_reset=-65 * u.mV,
            spike_fn=surrogate.FastSigmoid(2.0),
        )

    def reset_state(self, batch_size=None, **kw):
        self.lif.reset_state(batch_size)

    def run(self, spikes_in):
        def step(i, s):
            with nd.clock(dt=1 * u.ms, t=i * u.ms):
                current = (s @ self.w.value) * 100 * u.pA
                return self.lif.update(I_ext=current)

        return nd.for_loop(step, jnp.arange(spikes_in.shape[0]), spikes_in)


def test_bptt_trains_spike_counts_towards_targets():
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.random((200, 20)) < 0.2, jnp.float32)  # 200 ms of input spikes
    target = jnp.array([2.0, 6.0, 10.0])

    def loss_fn(model, inputs, targets):
        counts = model.run(inputs).sum(axis=0)
        return jnp.mean((counts - targets) ** 2)

    model = SpikingLayer()
    trainer = BPTT(model, loss_fn, optax.adam(0.05), clip_norm=10.0)
    first = float(trainer.step(x, target))
    for _ in range(150):
        trainer.step(x, target)
    model.reset_state()
    counts = np.asarray(model.run(x).sum(axis=0))
    assert trainer.history[-1] < first / 10, (first, trainer.history[-1])
    np.testing.assert_allclose(counts, target, atol=1.5)
    means = trainer.fit([(x, target)], epochs=2)
    assert len(means) == 2


def test_ridge_matches_numpy_and_streaming_equals_one_shot():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(500, 8))
    W_true, b_true = rng.normal(size=(8, 2)), np.array([0.5, -1.0])
    Y = X @ W_true + b_true + 0.01 * rng.normal(size=(500, 2))
    W, b = ridge(jnp.asarray(X), jnp.asarray(Y), alpha=1e-6)
    Xa = np.concatenate([X, np.ones((500, 1))], axis=1)
    ref = np.linalg.lstsq(Xa, Y, rcond=None)[0]
    np.testing.assert_allclose(W, ref[:-1], rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(b, ref[-1], rtol=1e-3, atol=1e-3)
    alpha = 10.0
    W2 = ridge(jnp.asarray(X), jnp.asarray(Y), alpha=alpha, bias=False)
    ref2 = np.linalg.solve(X.T @ X + alpha * np.eye(8), X.T @ Y)
    np.testing.assert_allclose(W2, ref2, rtol=1e-4, atol=1e-5)
    acc = RidgeAccumulator(8, 2, bias=False)
    for k in range(5):
        acc.update(jnp.asarray(X[k * 100 : (k + 1) * 100]), jnp.asarray(Y[k * 100 : (k + 1) * 100]))
    np.testing.assert_allclose(acc.solve(alpha), W2, rtol=1e-4, atol=1e-5)


def test_force_learns_a_sine_with_a_chaotic_rate_reservoir():
    n, dt, tau = 300, 1.0, 10.0
    rng = np.random.default_rng(2)
    J = jnp.asarray(1.5 * rng.normal(size=(n, n)) / np.sqrt(n), jnp.float32)
    w_fb = jnp.asarray(rng.uniform(-1, 1, size=(n, 1)), jnp.float32)

    class Reservoir(nd.Module):
        def __init__(self):
            self.x = nd.Hidden(jnp.asarray(0.5 * rng.normal(size=n), jnp.float32))
            self.readout = FORCE(n, 1, alpha=1.0)

        def step(self, target, learn):
            r = jnp.tanh(self.x.value)
            z = self.readout.step(r, target, learn)
            self.x.value = self.x.value + dt / tau * (-self.x.value + J @ r + (w_fb @ z))
            return z[0]

    res = Reservoir()
    t = jnp.arange(6000) * dt
    target = jnp.sin(2 * jnp.pi * t / 200.0)[:, None]
    learn = t < 4000
    run = nd.jit(lambda: nd.for_loop(res.step, target, learn))
    z = np.asarray(run())
    test = ~np.asarray(learn)
    err = np.sqrt(np.mean((z[test] - np.asarray(target)[test, 0]) ** 2))
    assert err < 0.2, err
    assert np.std(z[test]) > 0.5  # it produces the oscillation, not a constant


def test_bptt_refuses_a_model_without_params():
    class Empty(nd.Module):
        pass

    with pytest.raises(ValueError, match="no Param"):
        BPTT(Empty(), lambda m, x, y: 0.0, optax.sgd(0.1))


def test_bptt_gradient_of_a_tiny_recurrent_network_equals_finite_differences():
    with jax.enable_x64(True):
        rng = np.random.default_rng(3)

        class RNN(nd.Module):
            def __init__(self):
                self.W = nd.Param(jnp.asarray(0.5 * rng.normal(size=(4, 4))))
                self.U = nd.Param(jnp.asarray(rng.normal(size=(2, 4))))
                self.h = nd.Hidden(jnp.zeros(4))

            def reset_state(self, batch_size=None, **kw):
                self.h.value = jnp.zeros(4)

        m = RNN()
        xs = jnp.asarray(rng.normal(size=(15, 2)))

        def loss_fn(model):
            def step(x):
                model.h.value = jnp.tanh(model.h.value @ model.W.value + x @ model.U.value)
                return model.h.value

            return jnp.sum(nd.for_loop(step, xs)[-1] ** 2)

        g = nd.grad(lambda: loss_fn(m), m.states(nd.Param))()
        for name in ("W", "U"):
            p = m.states(nd.Param)[name]
            base = p.value
            num = np.zeros(base.shape)
            for idx in np.ndindex(base.shape):
                eps = 1e-6
                p.value = base.at[idx].add(eps)
                m.reset_state()
                up = float(loss_fn(m))
                p.value = base.at[idx].add(-eps)
                m.reset_state()
                down = float(loss_fn(m))
                num[idx] = (up - down) / (2 * eps)
            p.value = base
            np.testing.assert_allclose(g[name], num, rtol=1e-5, atol=1e-8)


def test_bptt_reports_non_finite_gradients():
    class M(nd.Module):
        def __init__(self):
            self.w = nd.Param(jnp.array([1.0]))

    trainer = BPTT(M(), lambda m, x, y: jnp.sum(jnp.sqrt(m.w.value - 1.0)), optax.sgd(0.1))
    with pytest.raises(FloatingPointError, match="step 0: non-finite gradients for w"):
        trainer.step(0.0, 0.0)


def test_surrogates_by_name_and_bad_width():
    from neurodyn.train import surrogate as s

    assert set(s.all()) >= {"sigmoid", "arctan", "super_spike", "piecewise_linear", "gaussian"}
    assert float(jax.grad(lambda x: s.piecewise_linear(x, 2.0))(1.0)) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="must be positive"):
        s.gaussian(0.0, 0.0)
    with pytest.raises(ValueError, match="Unknown surrogate"):
        s.get("nope")


def test_checkpointed_loop_gives_the_same_values_and_gradients():
    from neurodyn.train import checkpointed_for_loop

    w = nd.Param(jnp.array([0.9, -0.3]))
    h = nd.Hidden(jnp.zeros(2))
    xs = jnp.sin(jnp.arange(64.0))[:, None] * jnp.ones((64, 2))

    def step(x):
        h.value = jnp.tanh(h.value * w.value + x)
        return h.value

    def loss(loop):
        h.value = jnp.zeros(2)
        return jnp.sum(loop(step, xs) ** 2)

    g1 = nd.grad(lambda: loss(nd.for_loop), w)()
    g2 = nd.grad(lambda: loss(checkpointed_for_loop), w)()
    np.testing.assert_allclose(g1, g2, rtol=1e-5)
    h.value = jnp.zeros(2)
    a = checkpointed_for_loop(step, xs, segments=4)
    h.value = jnp.zeros(2)
    np.testing.assert_allclose(a, nd.for_loop(step, xs), rtol=1e-6)


def test_lasso_elastic_net_lms_rls_nvar():
    from neurodyn.train import elastic_net, lms_step, nvar_features

    rng = np.random.default_rng(4)
    X = rng.normal(size=(400, 10))
    w_true = np.zeros(10)
    w_true[[1, 4]] = [2.0, -3.0]
    y = X @ w_true + 0.5 + 0.01 * rng.normal(size=400)
    W, b = elastic_net(jnp.asarray(X), jnp.asarray(y), alpha=0.05, l1_ratio=1.0)
    W = np.asarray(W)[:, 0]
    assert np.all(np.abs(W[[0, 2, 3, 5, 6, 7, 8, 9]]) < 1e-6)  # exact zeros (sparsity)
    np.testing.assert_allclose(W[[1, 4]], [2.0 - 0.05, -3.0 + 0.05], atol=0.01)  # shrunk by alpha
    assert float(b[0]) == pytest.approx(0.5, abs=0.02)
    # LMS and RLS (FORCE) converge on a noiseless linear problem
    w = jnp.zeros((10, 1))
    rls = FORCE(10, 1, alpha=1.0)
    for x, t in zip(X, X @ w_true):
        w, _ = lms_step(w, jnp.asarray(x), jnp.asarray([t]), lr=0.05)
        rls.step(jnp.asarray(x), jnp.asarray([t]))
    np.testing.assert_allclose(np.asarray(w)[:, 0], w_true, atol=0.05)
    np.testing.assert_allclose(np.asarray(rls.w.value)[:, 0], w_true, atol=1e-2)
    # NVAR features: constant, k lagged copies, unique quadratic monomials
    u = jnp.arange(10.0)[:, None]
    f = nvar_features(u, k=2, skip=1)
    assert f.shape == (9, 1 + 2 + 3)
    np.testing.assert_allclose(f[0], [1.0, 1.0, 0.0, 1.0, 0.0, 0.0])


@pytest.mark.slow  # (~10-18 s: make test-slow)
def test_esn_and_nvar_models():
    from neurodyn.train import ESN, NVAR

    t = jnp.arange(1200.0) * 0.1
    sig = jnp.sin(t) * jnp.cos(0.3 * t)
    esn = ESN(200, seed=0).fit(sig[:-1], sig[1:], washout=100, alpha=1e-6)
    pred = esn.predict(sig[:-1])[100:, 0]
    assert float(jnp.sqrt(jnp.mean((pred - sig[101:]) ** 2))) < 0.02
    with pytest.raises(ValueError, match="input steps but"):
        ESN(10).fit(sig[:10], sig[:5])
    # NVAR reproduces a quadratic map of the last two samples exactly
    u = jnp.asarray(np.random.default_rng(0).normal(size=300))
    y = 0.5 * u + 0.2 * jnp.roll(u, 1) + 0.3 * u * jnp.roll(u, 1)
    m = NVAR(k=2).fit(u, y)
    np.testing.assert_allclose(m.predict(u)[:, 0], y[1:], atol=1e-4)
    with pytest.raises(RuntimeError, match="fit"):
        NVAR().predict(u)
