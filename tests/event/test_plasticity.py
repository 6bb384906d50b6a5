"""Event-driven weight updates (update_on_pre / update_on_post) against independent numpy
loops, native kernel against the pure-JAX reference, gradients, vmap, in-place updates."""

from __future__ import annotations

import contextlib
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurodyn.units as u
from neurodyn import event
from neurodyn.event import _ops

DTYPES = [np.float32, np.float64]


def _x64(dtype):
    return jax.enable_x64(True) if dtype == np.float64 else contextlib.nullcontext()


def _random_csr(rng, n_pre, n_post, dtype, dup=True):
    """A CSR with empty rows, unsorted columns and (optionally) duplicate (i, j) pairs."""
    counts = rng.poisson(5, n_pre)
    counts[0] = 0
    counts[n_pre // 2] = 0
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    indices = rng.integers(0, n_post, indptr[-1]).astype(np.int32)
    if dup and indptr[-1] > 3:
        indices[1] = indices[0]  # a repeated column in the first non-empty row
    w = rng.uniform(-1.0, 2.0, indptr[-1]).astype(dtype)
    return event.CSR(jnp.asarray(w), indices, indptr, (n_pre, n_post))


def _loop_pre(indptr, indices, w, spikes, trace, lo, hi):
    """Independent reference: a plain loop over spiking rows."""
    w = w.copy()
    for i in np.flatnonzero(spikes):
        for s in range(indptr[i], indptr[i + 1]):
            w[s] = min(max(w[s] + trace[indices[s]], lo), hi)
    return w


def _loop_post(indptr, indices, w, spikes, trace, lo, hi):
    w = w.copy()
    for i in range(len(indptr) - 1):
        for s in range(indptr[i], indptr[i + 1]):
            if spikes[indices[s]]:
                w[s] = min(max(w[s] + trace[i], lo), hi)
    return w


@pytest.mark.parametrize(
    "which, n_pre, n_post, dtype",
    [  # random spikes in float64 only on the square matrix by default (each compiles anew)
        pytest.param(
            which,
            n_pre,
            n_post,
            dtype,
            marks=[pytest.mark.slow]
            if which == "random" and dtype == np.float64 and n_pre != n_post
            else [],
            id=f"{which}-{n_pre}-{n_post}-{np.dtype(dtype).name}",
        )
        for which in ["random", "none", "all"]
        for n_pre, n_post in [(30, 30), (17, 41), (41, 9)]
        for dtype in DTYPES
    ],
)
def test_updates_equal_a_loop_and_native_equals_reference(dtype, n_pre, n_post, which):
    rng = np.random.default_rng(n_pre * 100 + n_post)
    with _x64(dtype):
        conn = _random_csr(rng, n_pre, n_post, dtype)
        indptr, indices = np.asarray(conn.indptr), np.asarray(conn.indices)
        w = np.asarray(conn.data)
        if which == "random":
            pre_s, post_s = rng.random(n_pre) < 0.4, rng.random(n_post) < 0.4
        else:
            pre_s = np.full(n_pre, which == "all")
            post_s = np.full(n_post, which == "all")
        post_tr = rng.normal(size=n_post).astype(dtype)
        pre_tr = rng.normal(size=n_pre).astype(dtype)
        lo, hi = -0.5, 1.5
        got_pre = event.update_on_pre(conn, pre_s, post_tr, w_min=lo, w_max=hi).data
        got_post = event.update_on_post(conn, post_s, pre_tr, w_min=lo, w_max=hi).data
        assert got_pre.dtype == dtype and got_post.dtype == dtype
        want_pre = _loop_pre(indptr, indices, w, pre_s, post_tr, dtype(lo), dtype(hi))
        want_post = _loop_post(indptr, indices, w, post_s, pre_tr, dtype(lo), dtype(hi))
        np.testing.assert_array_equal(np.asarray(got_pre), want_pre)
        np.testing.assert_array_equal(np.asarray(got_post), want_post)
        # the pure-JAX reference (the lowering used where no native kernel runs)
        csc = event.csc_view(conn)
        empty = jnp.zeros(0, jnp.int32)
        ref_pre = _ops._ref_csr_update(
            conn.data,
            conn.indptr,
            empty,
            conn.indices,
            jnp.asarray(pre_s),
            jnp.asarray(post_tr),
            lo=lo,
            hi=hi,
        )
        ref_post = _ops._ref_csr_update(
            conn.data,
            csc.colptr,
            csc.perm,
            csc.rows,
            jnp.asarray(post_s),
            jnp.asarray(pre_tr),
            lo=lo,
            hi=hi,
        )
        np.testing.assert_array_equal(np.asarray(ref_pre), want_pre)
        np.testing.assert_array_equal(np.asarray(ref_post), want_post)


def test_csc_view_matches_the_transpose_and_works_traced():
    rng = np.random.default_rng(3)
    conn = _random_csr(rng, 23, 19, np.float32)
    csc = event.csc_view(conn)
    dense = np.asarray(conn.todense())
    # column j's synapses, read through the view, rebuild column j of the dense matrix
    rebuilt = np.zeros_like(dense)
    w = np.asarray(conn.data)
    cp, perm, rows = (np.asarray(a) for a in csc)
    for j in range(conn.n_post):
        for q in range(cp[j], cp[j + 1]):
            assert np.asarray(conn.indices)[perm[q]] == j
            rebuilt[rows[q], j] += w[perm[q]]
    np.testing.assert_allclose(rebuilt, dense, rtol=1e-6)
    traced = jax.jit(lambda c: tuple(event.csc_view(c)))(conn)
    for a, b in zip(traced, csc):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_units_and_bounds_in_units():
    rng = np.random.default_rng(1)
    conn = _random_csr(rng, 12, 10, np.float32, dup=False)
    conn = conn.with_data(u.Quantity(jnp.abs(conn.data), u.nS))
    s = np.ones(12, bool)
    out = event.update_on_pre(conn, s, 0.5 * u.nS * jnp.ones(10), w_max=1.0 * u.nS)
    assert out.data.unit is u.nS
    np.testing.assert_array_less(np.asarray(out.data.mantissa), 1.0 + 1e-7)
    same = event.update_on_pre(conn, s, 500.0 * u.pS * jnp.ones(10), w_max=1000 * u.pS)
    np.testing.assert_allclose(np.asarray(same.data.mantissa), np.asarray(out.data.mantissa))
    with pytest.raises(ValueError, match="does not match the weights"):
        event.update_on_pre(conn, s, 0.5 * u.mV * jnp.ones(10))
    with pytest.raises(ValueError, match="w_max = .* does not have the weights' unit"):
        event.update_on_pre(conn, s, 0.5 * u.nS * jnp.ones(10), w_max=1.0 * u.mV)


def test_bad_input_is_refused_with_shapes():
    rng = np.random.default_rng(2)
    conn = _random_csr(rng, 12, 10, np.float32)
    with pytest.raises(ValueError, match=r"spikes must have shape \(12,\).*got \(10,\)"):
        event.update_on_pre(conn, np.ones(10, bool), jnp.ones(10))
    with pytest.raises(ValueError, match=r"spikes must have shape \(10,\)"):
        event.update_on_post(conn, np.ones(12, bool), jnp.ones(12))
    other = _random_csr(np.random.default_rng(9), 12, 11, np.float32)
    with pytest.raises(ValueError, match="column view"):
        event.update_on_post(conn, np.ones(10, bool), jnp.ones(12), csc=event.csc_view(other))
    homo = event.FixedProb(0.5, seed=0).build(12, 10, weight=1.0)
    with pytest.raises(ValueError, match="per-synapse weights"):
        event.update_on_pre(homo, np.ones(12, bool), jnp.ones(10))
    with pytest.raises(TypeError, match="expects a CSR"):
        event.update_on_pre(event.Dense(jnp.ones((12, 10))), np.ones(12, bool), jnp.ones(10))


def test_gradients_equal_the_reference():
    """d(sum(c * w'))/d(w, trace) through the native primitive equals jax.grad of the
    pure-JAX reference and central finite differences."""
    rng = np.random.default_rng(5)
    with jax.enable_x64(True):
        conn = _random_csr(rng, 15, 13, np.float64, dup=False)
        spikes = jnp.asarray(rng.random(15) < 0.5)
        tr = jnp.asarray(rng.normal(size=13) * 0.3)
        c = jnp.asarray(rng.normal(size=conn.nnz))
        empty = jnp.zeros(0, jnp.int32)

        def loss_native(w, t):
            new = event.update_on_pre(conn.with_data(w), spikes, t, w_min=-0.8, w_max=1.7).data
            return jnp.sum(c * new)

        def loss_ref(w, t):
            new = _ops._ref_csr_update(
                w, conn.indptr, empty, conn.indices, spikes, t, lo=-0.8, hi=1.7
            )
            return jnp.sum(c * new)

        w0 = conn.data
        g_nat = jax.grad(loss_native, argnums=(0, 1))(w0, tr)
        g_ref = jax.grad(loss_ref, argnums=(0, 1))(w0, tr)
        for a, b in zip(g_nat, g_ref):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-12)
        eps = 1e-6
        for k in range(13):
            e = jnp.zeros(13).at[k].set(eps)
            fd = (loss_native(w0, tr + e) - loss_native(w0, tr - e)) / (2 * eps)
            np.testing.assert_allclose(float(g_nat[1][k]), float(fd), atol=1e-6)


def test_vmap_equals_a_python_loop():
    rng = np.random.default_rng(7)
    conn = _random_csr(rng, 20, 16, np.float32)
    spikes = jnp.asarray(rng.random((4, 16)) < 0.5)
    traces = jnp.asarray(rng.normal(size=(4, 20)), jnp.float32)
    ws = jnp.asarray(rng.normal(size=(4, conn.nnz)), jnp.float32)
    csc = event.csc_view(conn)

    def one(w, s, t):
        return event.update_on_post(conn.with_data(w), s, t, w_max=0.7, csc=csc).data

    got = jax.vmap(one)(ws, spikes, traces)
    for k in range(4):
        np.testing.assert_array_equal(
            np.asarray(got[k]), np.asarray(one(ws[k], spikes[k], traces[k]))
        )
    got = jax.vmap(one, in_axes=(None, 0, 0))(ws[0], spikes, traces)
    for k in range(4):
        np.testing.assert_array_equal(
            np.asarray(got[k]), np.asarray(one(ws[0], spikes[k], traces[k]))
        )


def test_a_compiled_loop_of_updates_equals_numpy():
    """Propagate through the weights, then update them (``after=`` the propagation), 50
    steps in a compiled loop: equals the same loop op by op in numpy."""
    conn = event.FixedProb(0.05, seed=0).build(
        300, 300, weight=lambda r, n: r.uniform(0, 1, n).astype(np.float32)
    )
    csc = event.csc_view(conn)

    def step(i, carry):
        w, g = carry
        s = jax.random.bernoulli(jax.random.PRNGKey(i), 0.1, (300,))
        c = conn.with_data(w)
        out = s @ c
        c = event.update_on_pre(c, s, -0.01 * jnp.ones(300), w_min=0.0, after=out)
        c = event.update_on_post(c, s, 0.01 * jnp.ones(300), w_max=1.0, csc=csc, after=out)
        return c.data, g + out

    f = jax.jit(lambda w: jax.lax.fori_loop(0, 50, step, (w, jnp.zeros(300)))[0])
    w = np.asarray(conn.data).copy()
    indptr, indices = np.asarray(conn.indptr), np.asarray(conn.indices)
    for i in range(50):
        s = np.asarray(jax.random.bernoulli(jax.random.PRNGKey(i), 0.1, (300,)))
        w = _loop_pre(indptr, indices, w, s, -0.01 * np.ones(300, np.float32), 0.0, np.inf)
        w = _loop_post(indptr, indices, w, s, 0.01 * np.ones(300, np.float32), -np.inf, 1.0)
    np.testing.assert_allclose(np.asarray(f(conn.data)), w, rtol=1e-6)


@pytest.mark.skipif(not _ops.native_available(), reason="native kernels not built")
@pytest.mark.parametrize("ordered", [True, False])
def test_stdp_network_updates_weights_in_place(ordered, monkeypatch):
    """A Projection with STDP passes its propagation as ``after=`` to the weight updates,
    so the compiled simulation loop holds no copy of the weight array (without it XLA
    copies the weights twice per step: 14.7 s instead of 0.6 s for COBA-4k + STDP)."""
    import neurodyn as nd
    from neurodyn.dyn import COBA, LIF, STDP, Expon, Normal, Projection

    class Net(nd.Network):
        def __init__(self):
            self.N = LIF(300, I_ext=200 * u.pA, V_initializer=Normal(-55 * u.mV, 2 * u.mV))
            conn = event.FixedProb(0.05, seed=0).build(
                300, 300, weight=lambda r, n: np.full(n, 1.0, np.float32) * u.nS
            )
            self.p = Projection(
                self.N,
                self.N,
                conn,
                synapse=Expon(5 * u.ms),
                output=COBA(E=0 * u.mV),
                stdp=STDP(),
            )

    net = Net()
    if not ordered:  # the same update without the ordering hint: XLA must copy
        update = net.p.stdp.update
        monkeypatch.setattr(net.p.stdp, "update", lambda c, a, b, after=None: update(c, a, b))
    nd.run(net, 2 * u.ms, dt=0.1 * u.ms)
    (compiled,) = net._nd_compiled.values()
    idx = jnp.arange(0, 20).reshape(20, 1)  # [blocks, chunks of one step]
    hlo = compiled.run_chunks.lower(jnp.int32(0), idx).compile().as_text()
    nnz = net.p.conn.nnz
    copies = [ln for ln in hlo.splitlines() if re.search(rf"f32\[{nnz}\]\{{0\}} copy\(", ln)]
    if ordered:
        assert len(copies) <= 1, copies  # one copy of the written-back state, outside the loop
    else:
        assert len(copies) >= 2, copies
