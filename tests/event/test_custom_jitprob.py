"""User-defined event operators on procedural (JitProb) connectivity, against dense
matrices built from JitProb's own materialisation (``to_csr().todense()``): forward on
every backend (f32/f64, empty rows, no spikes, all spikes, n_pre != n_post, the three
weight distributions), gradients against jax.grad of the dense formula, vmap against a
loop, and the refusals."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurodyn.units as u
from neurodyn import event
from neurodyn.event import _numba
from neurodyn.event._custom import user_event_p

BACKENDS = (["numba"] if _numba.usable() else []) + ["lax", "reference"]


@event.scatter_op
def drive(pre, post, syn, p):
    return syn.w * p.g * (1.0 + post.trace) * jnp.exp(-pre.age)


@event.gather_op
def pull(pre, post, syn, p):
    return syn.w * p.g * (1.0 + post.trace) * jnp.exp(-pre.age)


def _dense(conn):
    return np.asarray(u.get_mantissa(conn.to_csr().todense()))


CASES = [(b, np.float32) for b in BACKENDS] + [
    pytest.param(b, np.float64, marks=pytest.mark.slow) for b in BACKENDS
]


@pytest.mark.parametrize("backend,dtype", CASES)
def test_scatter_and_gather_equal_the_dense_materialisation(backend, dtype):
    rng = np.random.default_rng(0)
    weight = ("uniform", 0.5, 1.5) if dtype == np.float32 else ("normal", 1.0, 0.3)
    n_pre, n_post = 40, 25  # n_pre != n_post; p = 0.06: some rows are empty
    with jax.enable_x64(dtype == np.float64):
        conn = event.JitProb(n_pre, n_post, 0.06, weight=weight, seed=11)
        w = _dense(conn)
        assert (np.abs(w).sum(1) == 0).any()  # empty rows are exercised
        trace, age = rng.random(n_post).astype(dtype), rng.random(n_pre).astype(dtype)
        kw = dict(pre={"age": age}, post={"trace": trace}, params={"g": 0.5}, backend=backend)
        # (the generator draws its weights in float32 arithmetic, which XLA may fuse
        # differently inside and outside jit: a float64 weight agrees to ~1e-8)
        tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-6, atol=1e-7)
        wb = w * 0.5 * (1 + trace)[None] * np.exp(-age)[:, None]
        for s in (rng.random(n_pre) < 0.3, np.zeros(n_pre, bool), np.ones(n_pre, bool)):
            out = drive(jnp.asarray(s), conn, **kw)
            assert out.dtype == dtype
            np.testing.assert_allclose(np.asarray(out), s.astype(dtype) @ wb, **tol)
        x = rng.standard_normal(n_post).astype(dtype)
        out = pull(jnp.asarray(x), conn, **kw)
        assert out.dtype == dtype
        np.testing.assert_allclose(np.asarray(out), wb @ x, **tol)


def test_float_events_batches_units_and_scalar_synapse_fields():
    rng = np.random.default_rng(1)
    # a seed with the high bit set (the numba kernel reads it as an int32 bit pattern)
    conn = event.JitProb(30, 50, 0.2, weight=("uniform", 0.5 * u.nS, 1.0 * u.nS), seed=2**31 + 4)
    w = _dense(conn)

    @event.scatter_op
    def cond(pre, post, syn, p):
        return syn.w * syn.scale * (p.E - post.v) / p.E

    s = rng.random((3, 30)).astype(np.float32) * (rng.random((3, 30)) < 0.3)
    v = rng.uniform(-70, -50, 50).astype(np.float32)
    out = cond(
        jnp.asarray(s),
        conn,
        post={"v": v * u.mV},
        syn={"scale": 2.0},
        params={"E": 10.0 * u.mV},
    )
    assert out.unit.dim is u.nS.dim
    expect = s @ (w * 2.0 * ((10 - v) / 10)[None])
    np.testing.assert_allclose(out.to_value(u.nS), expect, rtol=1e-5, atol=1e-5)


@pytest.mark.slow
def test_gradients_equal_jax_grad_of_the_dense_formula():
    rng = np.random.default_rng(2)
    with jax.enable_x64(True):
        conn = event.JitProb(20, 13, 0.3, weight=("normal", 1.0, 0.2), seed=2)
        wd = jnp.asarray(_dense(conn))
        s = jnp.asarray(rng.random(20) < 0.5).astype(jnp.float64)
        trace, age = jnp.asarray(rng.random(13)), jnp.asarray(rng.random(20))
        x = jnp.asarray(rng.standard_normal(13))

        def ours(s, trace, age, g):
            kw = dict(pre={"age": age}, post={"trace": trace}, params={"g": g})
            a = drive(s, conn, **kw)
            b = pull(x * trace, conn, **kw)
            return jnp.sum(jnp.sin(a)) + jnp.sum(jnp.cos(b))

        def dense(s, trace, age, g):
            m = wd * g * (1 + trace)[None] * jnp.exp(-age)[:, None]
            return jnp.sum(jnp.sin(s @ m)) + jnp.sum(jnp.cos(m @ (x * trace)))

        args = (s, trace, age, 0.7)
        g_ours = jax.grad(ours, argnums=(0, 1, 2, 3))(*args)
        g_ref = jax.grad(dense, argnums=(0, 1, 2, 3))(*args)
        for a, b in zip(g_ours, g_ref):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-7, atol=1e-9)
        v = jnp.asarray(rng.standard_normal(13))
        _, t = jax.jvp(lambda tr: ours(s, tr, age, 0.7), (trace,), (v,))
        _, t_ref = jax.jvp(lambda tr: dense(s, tr, age, 0.7), (trace,), (v,))
        np.testing.assert_allclose(float(t), float(t_ref), rtol=1e-7)


def test_vmap_over_spikes_equals_a_loop_in_one_operator_call():
    rng = np.random.default_rng(3)
    conn = event.JitProb(40, 30, 0.2, weight=0.5, seed=9)
    spikes = jnp.asarray(rng.random((5, 40)) < 0.2)
    trace = jnp.asarray(rng.random((5, 30)), jnp.float32)

    def f(s, tr):
        return drive(s, conn, pre={"age": jnp.zeros(40)}, post={"trace": tr}, params={"g": 1.0})

    batched = jax.vmap(f)(spikes, trace)
    loop = jnp.stack([f(spikes[i], trace[i]) for i in range(5)])
    np.testing.assert_allclose(np.asarray(batched), np.asarray(loop), rtol=1e-6)
    jaxpr = jax.make_jaxpr(jax.vmap(f))(spikes, trace)
    assert sum(e.primitive is user_event_p for e in jaxpr.jaxpr.eqns) == 1


def test_what_a_jitprob_refuses():
    conn = event.JitProb(10, 8, 0.3, weight=0.5, seed=0)
    s = jnp.ones(10, bool)

    @event.update_op(on="pre")
    def rule(pre, post, syn, p):
        return syn.w + 1.0

    with pytest.raises(TypeError, match="stores no synapses.*conn.to_csr"):
        rule(s, conn, syn={"w": jnp.zeros(3)})
    with pytest.raises(ValueError, match="generated weight; do not pass syn\\['w'\\]"):
        drive(s, conn, syn={"w": 1.0}, pre={"age": 0.0}, post={"trace": 0.0}, params={"g": 1})

    @event.scatter_op
    def scaled(pre, post, syn, p):
        return syn.w * syn.k

    with pytest.raises(ValueError, match="syn\\['k'\\] must be a scalar"):
        scaled(s, conn, syn={"k": jnp.ones(24)})
