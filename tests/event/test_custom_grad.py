"""The event-driven derivatives of user scatter/gather operators: gradients in every
operand group on every backend against jax.grad of a dense formula (bool and float
events, batched events, a vmapped gradient, second order), jvp against jax.jvp of the
dense formula, and the shape of the backward program (the cotangents are other user
operators, not the transposed O(nnz) reference)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from neurodyn import event
from neurodyn.event import _numba
from neurodyn.event._custom import user_event_p

BACKENDS = (["numba"] if _numba.usable() else []) + ["lax", "reference"]


@event.scatter_op
def drive(pre, post, syn, p):
    return syn.w * p.g * jnp.tanh(1.0 + post.trace) * jnp.exp(-pre.age) + syn.d * post.trace


@event.gather_op
def pull(pre, post, syn, p):
    return syn.w * p.g * jnp.tanh(1.0 + post.trace) * jnp.exp(-pre.age) + syn.d * post.trace


def _csr(rng, n_pre, n_post, p):
    mask = rng.random((n_pre, n_post)) < p
    mask[1] = False  # an empty row
    w = np.where(mask, rng.uniform(0.5, 2.0, (n_pre, n_post)), 0)
    return event.CSR.from_dense(jnp.asarray(w)), mask


def _dense_matrix(mask, w, d, trace, age, g):
    """[B?, n_pre, n_post] values of the body on existing synapses (w, d dense)."""
    return jnp.where(
        mask, w * g * jnp.tanh(1.0 + trace)[..., None, :] * jnp.exp(-age)[..., :, None], 0
    ) + jnp.where(mask, d * trace[..., None, :], 0)


def _grads(backend, float_events, batch):
    rng = np.random.default_rng(0)
    n_pre, n_post = 14, 9
    with jax.enable_x64(True):
        conn, mask = _csr(rng, n_pre, n_post, 0.4)
        rows = np.repeat(np.arange(n_pre), np.diff(np.asarray(conn.indptr)))
        cols = np.asarray(conn.indices)
        shape = (batch, n_pre) if batch else (n_pre,)
        s = rng.random(shape) < 0.4
        s = jnp.asarray(s * rng.uniform(0.5, 1.5, shape) if float_events else s)
        trace = jnp.asarray(rng.random((batch, n_post) if batch else n_post))
        age = jnp.asarray(rng.random(n_pre))
        data, dsyn = conn.data, jnp.asarray(rng.random(cols.shape[0]))
        x = jnp.asarray(rng.standard_normal((batch, n_post) if batch else n_post))

        def ours(s, trace, age, data, dsyn, g):
            kw = dict(
                pre={"age": age},
                post={"trace": trace},
                syn={"w": data, "d": dsyn},
                params={"g": g},
                backend=backend,
            )
            return jnp.sum(jnp.sin(drive(s, conn, **kw))) + jnp.sum(jnp.cos(pull(x, conn, **kw)))

        def dense(s, trace, age, data, dsyn, g):
            w = jnp.zeros((n_pre, n_post)).at[rows, cols].set(data)
            d = jnp.zeros((n_pre, n_post)).at[rows, cols].set(dsyn)
            m = _dense_matrix(mask, w, d, trace, age, g)
            out = jnp.einsum("...i,...ij->...j", s.astype(jnp.float64), m)
            back = jnp.einsum("...ij,...j->...i", m, x)
            return jnp.sum(jnp.sin(out)) + jnp.sum(jnp.cos(back))

        args = (s, trace, age, data, dsyn, 0.7)
        argnums = (0, 1, 2, 3, 4, 5) if float_events else (1, 2, 3, 4, 5)
        g_ours = jax.jit(jax.grad(ours, argnums=argnums))(*args)
        g_ref = jax.grad(dense, argnums=argnums)(*args)
        for a, b in zip(g_ours, g_ref):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-10, atol=1e-12)
        # forward mode (the op with the body's jvp) along a random direction in every group
        tans = tuple(jnp.asarray(rng.standard_normal(jnp.shape(a))) for a in args)
        if not float_events:
            args_f = (s,) + args[1:]
            t_ours = jax.jvp(lambda *xs: ours(s, *xs), args_f[1:], tans[1:])[1]
            t_ref = jax.jvp(lambda *xs: dense(s, *xs), args_f[1:], tans[1:])[1]
        else:
            t_ours = jax.jvp(ours, args, tans)[1]
            t_ref = jax.jvp(dense, args, tans)[1]
        np.testing.assert_allclose(float(t_ours), float(t_ref), rtol=1e-10)
        return jax.make_jaxpr(jax.grad(ours, argnums=argnums))(*args)


@pytest.mark.parametrize(
    "backend",
    [b if b == BACKENDS[0] else pytest.param(b, marks=pytest.mark.slow) for b in BACKENDS],
)
def test_gradients_in_every_group_equal_jax_grad_of_the_dense_formula(backend):
    jaxpr = _grads(backend, float_events=False, batch=0)
    if backend != "reference":
        # the cotangents are user operators derived from the body's gradient
        kinds = set()

        def walk(jx):
            for e in jx.eqns:
                if e.primitive is user_event_p:
                    kinds.add((e.params["st"].backend[0], e.params["st"].body.op))

        walk(jaxpr.jaxpr)
        assert any("(d/dsyn." in op and kind == "update" for kind, op in kinds)
        assert any("(d/dpost." in op and kind == "scatter" for kind, op in kinds)


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_gradients_with_float_and_batched_events(backend):
    _grads(backend, float_events=True, batch=0)
    _grads(backend, float_events=True, batch=3)


@pytest.mark.slow
def test_a_vmapped_gradient_equals_a_loop():
    rng = np.random.default_rng(5)
    conn, mask = _csr(rng, 20, 12, 0.3)
    spikes = jnp.asarray(rng.random((4, 20)) < 0.3)
    trace = jnp.asarray(rng.random(12), jnp.float32)

    def loss(s, data):
        out = drive(
            s,
            conn,
            pre={"age": jnp.zeros(20)},
            post={"trace": trace},
            syn={"w": data, "d": 0.5 * data},
            params={"g": 1.0},
        )
        return jnp.sum(out**2)

    g = jax.vmap(jax.grad(loss, argnums=1), (0, None))(spikes, conn.data)
    loop = jnp.stack([jax.grad(loss, argnums=1)(spikes[i], conn.data) for i in range(4)])
    np.testing.assert_allclose(np.asarray(g), np.asarray(loop), rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_second_order_derivatives_equal_the_dense_formula():
    # grad of grad and the Hessian go through the derived operators' own rules
    rng = np.random.default_rng(6)
    with jax.enable_x64(True):
        conn, mask = _csr(rng, 8, 6, 0.5)
        w = np.asarray(conn.todense())
        s, age = jnp.asarray(rng.random(8) < 0.5), jnp.asarray(rng.random(8))

        @event.scatter_op
        def squash(pre, post, syn, p):
            return syn.w * jnp.tanh(post.trace * pre.age)

        def ours(tr):
            out = squash(s, conn, pre={"age": age}, post={"trace": tr}, syn={"w": conn.data})
            return jnp.sum(out**2)

        def dense(tr):
            m = jnp.where(mask, w * jnp.tanh(tr[None, :] * age[:, None]), 0)
            return jnp.sum((s.astype(jnp.float64) @ m) ** 2)

        tr = jnp.asarray(rng.random(6))
        np.testing.assert_allclose(
            np.asarray(jax.hessian(ours)(tr)), np.asarray(jax.hessian(dense)(tr)), atol=1e-12
        )
        gg = jax.grad(lambda t: jnp.sum(jax.grad(ours)(t)))(tr)
        gg_ref = jax.grad(lambda t: jnp.sum(jax.grad(dense)(t)))(tr)
        np.testing.assert_allclose(np.asarray(gg), np.asarray(gg_ref), atol=1e-12)
