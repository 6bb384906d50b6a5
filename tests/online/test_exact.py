"""D-RTRL and RTRL against BPTT (jax.grad through nd.for_loop), float64."""

import jax.numpy as jnp
import numpy as np
import pytest

import neurodyn as nd


def _data(rng, T, n_in, n_out, batch=None):
    lead = (T,) if batch is None else (T, batch)
    return jnp.asarray(rng.normal(size=(*lead, n_in))), jnp.asarray(rng.normal(size=(*lead, n_out)))


def test_feedforward_rate_network_d_rtrl_equals_bptt(nets):
    # input weights, per-neuron time constants and the readout, all to 1e-10
    m = nets.Rate(rec=False)
    xs, ys = _data(nets.rng, 15, 3, 2)
    ref = nets.bptt(m, xs, ys)
    got = nets.online(m, xs, ys, "d_rtrl")
    assert set(got) == {"w_in", "tau", "w_out"}
    for k in ref:
        assert nets.rel_err(got[k], ref[k]) < 1e-10, k


def test_feedforward_alif_d_rtrl_equals_bptt_batched(nets):
    # surrogate spikes, detached soft reset, adaptation: a 3-variable neuron; batch of 3
    m = nets.ALIF(rec=False, batch=3)
    xs, ys = _data(nets.rng, 30, 3, 2, batch=3)
    ref = nets.bptt(m, xs, ys)
    assert float(jnp.abs(ref["w_in"]).max()) > 0.1  # the neurons come near threshold
    got = nets.online(m, xs, ys, "d_rtrl")
    for k in ref:
        assert nets.rel_err(got[k], ref[k]) < 1e-10, k


def test_recurrent_alif_d_rtrl_is_approximate_rtrl_is_exact(nets):
    m = nets.ALIF(rec=True)
    xs, ys = _data(nets.rng, 30, 3, 2)
    ref = nets.bptt(m, xs, ys)
    exact = nets.online(m, xs, ys, "rtrl")
    diag = nets.online(m, xs, ys, "d_rtrl")
    for k in ref:
        assert nets.rel_err(exact[k], ref[k]) < 1e-10, k
    # the couplings through W_rec are what D-RTRL leaves out ...
    assert nets.rel_err(diag["w_rec"], ref["w_rec"]) > 1e-2
    assert nets.rel_err(diag["w_in"], ref["w_in"]) > 1e-2
    # ... the readout has no State after it: its gradient stays exact
    assert nets.rel_err(diag["w_out"], ref["w_out"]) < 1e-10
    assert nets.rel_err(diag["b_out"], ref["b_out"]) < 1e-10


@pytest.mark.slow
@pytest.mark.parametrize("batch", [None, 3])
def test_feedforward_alif_rtrl_equals_bptt(nets, batch):
    m = nets.ALIF(rec=False, batch=batch)
    xs, ys = _data(nets.rng, 30, 3, 2, batch)
    ref = nets.bptt(m, xs, ys)
    got = nets.online(m, xs, ys, "rtrl")
    for k in ref:
        assert nets.rel_err(got[k], ref[k]) < 1e-10, k


@pytest.mark.slow
def test_recurrent_rate_network(nets):
    m = nets.Rate(rec=True)
    xs, ys = _data(nets.rng, 20, 3, 2)
    ref = nets.bptt(m, xs, ys)
    exact = nets.online(m, xs, ys, "rtrl")
    diag = nets.online(m, xs, ys, "d_rtrl")
    for k in ref:
        assert nets.rel_err(exact[k], ref[k]) < 1e-10, k
    assert nets.rel_err(diag["w_rec"], ref["w_rec"]) > 1e-2
    assert nets.rel_err(diag["tau"], ref["tau"]) > 1e-2


@pytest.mark.slow
def test_rtrl_matches_finite_differences(nets):
    # an independent check of the reference itself (no reverse mode anywhere)
    m = nets.Rate(rec=True, n=3)
    xs, ys = _data(nets.rng, 8, 3, 2)
    got = np.asarray(nets.online(m, xs, ys, "rtrl")["w_rec"])
    w0 = np.array(m.w_rec.value)

    def total(w):
        saved = {k: s.value for k, s in m.states(nd.Hidden).items()}
        m.w_rec.value = jnp.asarray(w)
        outs = nd.for_loop(m.update, xs)
        for k, s in m.states(nd.Hidden).items():
            s.value = saved[k]
        m.w_rec.value = jnp.asarray(w0)
        return float(jnp.sum((outs - ys) ** 2))

    eps = 1e-6
    for d in np.random.default_rng(3).normal(size=(2, *w0.shape)):
        fd = (total(w0 + eps * d) - total(w0 - eps * d)) / (2 * eps)
        assert abs(fd - float(np.sum(got * d))) < 1e-6 * max(1.0, abs(fd))


def test_state_is_left_at_the_end_of_the_sequence(nets):
    m = nets.Rate()
    xs, ys = _data(nets.rng, 5, 3, 2)
    nd.for_loop(m.update, xs)
    h_run = m.h.value
    m.h.value = jnp.zeros(4)
    loss, _ = nd.online.sequence_gradient(m, nets.mse, xs, ys, "d_rtrl", return_loss=True)
    assert jnp.allclose(m.h.value, h_run)
    m.h.value = jnp.zeros(4)
    outs = nd.for_loop(m.update, xs)
    assert jnp.allclose(loss, jnp.sum((outs - ys) ** 2))


@pytest.mark.slow
def test_stream_gradient_equals_sequence_gradient(nets):
    # inputs made inside the compiled loop (no [T, ...] array) give the same gradient
    m = nets.Rate(rec=True)
    xs, ys = _data(nets.rng, 12, 3, 2)
    ref = nets.online(m, xs, ys, "es_d_rtrl")
    saved = m.h.value
    got = nd.online.stream_gradient(m, nets.mse, lambda i: (xs[i], ys[i]), 12, "es_d_rtrl")
    m.h.value = saved
    for k in ref:
        assert nets.rel_err(got[k], ref[k]) < 1e-12, k
    compiled = nd.online.stream_gradient(
        m, nets.mse, lambda i: (xs[i], ys[i]), 12, "es_d_rtrl", compile_only=True
    )
    assert compiled.memory_analysis().temp_size_in_bytes > 0
