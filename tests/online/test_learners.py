"""The learners (optax, step/fit, periodic updates), memory reports and the BPTT check."""

import jax.numpy as jnp
import numpy as np
import optax
import pytest

import neurodyn as nd
from neurodyn.online import DRTRL, ESDRTRL, EProp, OnlineError


def _task(rng, T=30, batch=4):
    xs = jnp.asarray(rng.normal(size=(T, batch, 3)))
    ys = jnp.asarray(0.3 * rng.normal(size=(T, batch, 2)))
    return xs, ys


def test_step_by_step_learning_is_sgd_on_the_sequence_gradient(nets):
    m = nets.ALIF(rec=True, batch=4)
    xs, ys = _task(nets.rng, T=8)
    g = nets.online(m, xs, ys, "d_rtrl")
    w0 = {k: p.value for k, p in m.states(nd.Param).items()}
    learner = DRTRL(m, nets.mse, optax.sgd(0.1))
    for t in range(8):
        learner.step(xs[t], ys[t])
    for k, p in m.states(nd.Param).items():  # nothing applied before the sequence ends
        assert jnp.array_equal(p.value, w0[k])
    learner.end_sequence()
    for k, p in m.states(nd.Param).items():
        assert jnp.allclose(p.value, w0[k] - 0.1 * g[k], rtol=1e-12, atol=1e-12), k
    assert jnp.all(m.v.value == 0)  # end_sequence resets the network for the next one


def test_update_every_k_steps(nets):
    m = nets.ALIF(rec=False, batch=4)
    xs, ys = _task(nets.rng, T=6)
    learner = ESDRTRL(m, nets.mse, optax.sgd(0.1), update_every=3)
    w0 = m.w_in.value
    learner.step(xs[0], ys[0])
    learner.step(xs[1], ys[1])
    assert jnp.array_equal(m.w_in.value, w0)
    learner.step(xs[2], ys[2])
    assert not jnp.array_equal(m.w_in.value, w0)
    assert learner.updates == 1


def test_fit_reduces_the_loss_and_memory_is_reported_first(nets, capsys):
    m = nets.ALIF(rec=True, batch=4)
    xs, ys = _task(nets.rng)
    learner = DRTRL(m, nets.mse, optax.adam(1e-2), verbose=True)
    assert learner.memory(xs[0]) == 4 * (3 * 5 * 3 + 5 * 5 * 3) * 8
    assert "total: 3.8 KiB for batch 4" in capsys.readouterr().out
    history = learner.fit([(xs, ys)], epochs=20)
    assert history[-1] < 0.8 * history[0]


def test_es_d_rtrl_memory_is_linear_in_the_layer_size(nets):
    sizes = {}
    for n in (16, 64):
        m = nets.ALIF(n=n, rec=True, batch=2)
        for cls in (DRTRL, ESDRTRL):
            sizes[cls.__name__, n] = cls(m, nets.mse, optax.sgd(0.1)).memory(jnp.ones((2, 3)))
    # one shared P (3 variables) and the pending dl/dy of the last step (64), xbar (3, 64)
    assert sizes["ESDRTRL", 64] == 2 * 8 * ((3 + 64 * (3 + 1)) + 64)
    assert sizes["DRTRL", 64] == 2 * 8 * (3 * 64 * 3 + 64 * 64 * 3)
    assert sizes["ESDRTRL", 64] / sizes["ESDRTRL", 16] < 4.5  # ~linear
    assert sizes["DRTRL", 64] / sizes["DRTRL", 16] > 10  # ~quadratic


@pytest.mark.slow  # (about 10 s; make test-slow)
def test_check_against_bptt_reports_and_fails_loudly(nets):
    m = nets.ALIF(rec=True)
    xs = jnp.asarray(nets.rng.normal(size=(20, 3)))
    ys = jnp.asarray(nets.rng.normal(size=(20, 2)))
    learner = DRTRL(m, nets.mse, optax.sgd(0.1))
    report = learner.check_against_bptt(xs, ys)
    assert report["w_out"]["cosine"] > 1 - 1e-12 and report["w_out"]["relative_error"] < 1e-10
    assert 0.9 < report["w_in"]["cosine"] < 1 - 1e-6  # recurrent: close, not exact
    zeros = jnp.zeros((10, 3))  # no input: no spikes, the input weights do nothing
    with pytest.raises(OnlineError, match="gradient of w_in is identically zero"):
        nd.online.check_against_bptt(m, nets.mse, zeros, jnp.ones((10, 2)))
    with pytest.raises(FloatingPointError, match="non-finite"):
        nd.online.check_against_bptt(
            m, lambda o, y: jnp.sum(jnp.sqrt(o - y)), xs, jnp.full((20, 2), 100.0)
        )


@pytest.mark.slow
def test_check_against_bptt_min_cosine(nets):
    m = nets.ALIF(rec=True)
    xs = jnp.asarray(nets.rng.normal(size=(20, 3)))
    ys = jnp.asarray(nets.rng.normal(size=(20, 2)))
    with pytest.raises(OnlineError, match="cosine .* below min_cosine=0.99999999"):
        nd.online.check_against_bptt(m, nets.mse, xs, ys, "d_rtrl", min_cosine=0.99999999)


@pytest.mark.slow
def test_eprop_learner_reduces_the_loss(nets):
    m = nets.ALIF(rec=True, kappa=0.8, batch=4)
    xs, ys = _task(nets.rng)
    learner = EProp(m, nets.mse, optax.adam(1e-2), feedback="random")
    history = learner.fit([(xs, ys)], epochs=25)
    assert history[-1] < 0.8 * history[0]
    assert np.isfinite(history).all()


def test_memory_detail_is_reported_before_running(nets):
    m = nets.ALIF(rec=True, batch=4)
    learner = ESDRTRL(m, nets.mse, optax.adam(1e-2))
    mem = learner.memory(jnp.ones((4, 3)), detail=True)
    assert learner.steps == 0 and learner.updates == 0  # nothing ran
    assert mem["traces"] == learner.memory(jnp.ones((4, 3)))
    n_params = sum(int(p.value.size) for p in m.states(nd.Param).values())
    assert mem["gradient"] == n_params * 8
    assert mem["optimizer"] >= 2 * n_params * 8  # adam: two moments
    assert mem["total"] == mem["traces"] + mem["gradient"] + mem["hidden"] + mem["optimizer"]


def test_es_d_rtrl_stream_memory_does_not_grow_with_the_length(nets):
    # inputs streamed (made inside the loop): XLA's temporary memory is the same for
    # T = 10 and T = 100,000 (compiled only, not run)
    m = nets.ALIF(n=64, rec=True, batch=4)

    def source(i):
        x = jnp.sin(i * jnp.arange(12.0)).reshape(4, 3)
        return x, jnp.zeros((4, 2))

    temps = [
        nd.online.stream_gradient(m, nets.mse, source, t, "es_d_rtrl", compile_only=True)
        .memory_analysis()
        .temp_size_in_bytes
        for t in (10, 100_000)
    ]
    assert temps[0] == temps[1]
