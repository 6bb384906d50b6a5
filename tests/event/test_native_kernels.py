"""The native XLA FFI kernels of neurodyn.event against dense numpy references."""

from __future__ import annotations

import contextlib
import math
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from neurodyn.event import _native

if not _native.available():  # pragma: no cover - exercised on machines without a compiler
    pytest.skip(f"native kernels unavailable: {_native.reason()}", allow_module_level=True)

T = _native.TARGETS
DTYPES = [np.float32, np.float64]
TOL = {np.float32: dict(rtol=2e-5, atol=1e-5), np.float64: dict(rtol=1e-12, atol=1e-12)}


def _x64(dtype):
    return jax.enable_x64(True) if dtype == np.float64 else contextlib.nullcontext()


def _call(target, out_shape, dtype, *args, jit=False, **attrs):
    f = jax.ffi.ffi_call(target, jax.ShapeDtypeStruct(out_shape, dtype), vmap_method="sequential")
    args = [jnp.asarray(a) for a in args]
    if jit:
        return np.asarray(jax.jit(lambda *a: f(*a, **attrs))(*args))
    return np.asarray(f(*args, **attrs))


# -- structures ---
def _csr(rng, n_pre, n_post, mean_fan=4):
    """Random CSR with duplicate columns allowed and some empty rows (0 and n_pre // 2)."""
    counts = rng.poisson(mean_fan, n_pre)
    counts[0] = 0
    counts[n_pre // 2] = 0
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    indices = rng.integers(0, n_post, indptr[-1]).astype(np.int32)
    return indices, indptr


def _rows_of(indptr):
    return np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))


def _dense(rows, cols, w, n_pre, n_post):
    W = np.zeros((n_pre, n_post))
    np.add.at(W, (rows, cols), w)
    return W


def _weights(rng, nnz, homo, dtype):
    return (np.array([0.75]) if homo else rng.normal(size=nnz)).astype(dtype)


def _events(rng, shape, kind, dtype, pattern="random"):
    """bool spikes, or float spikes with zeros (the float kind is also used for x)."""
    if pattern == "none":
        mask = np.zeros(shape, bool)
    elif pattern == "all":
        mask = np.ones(shape, bool)
    else:
        mask = rng.random(shape) < 0.3
    if kind == "bool":
        return mask, mask.astype(np.float64)
    vals = (mask * rng.uniform(0.5, 2.0, shape)).astype(dtype)
    return vals, vals.astype(np.float64)


def _structure(kind, rng, n_pre, n_post, homo, dtype):
    """(target prefix, structure args, dense matrix W [n_pre, n_post] in float64)."""
    if kind == "csr":
        indices, indptr = _csr(rng, n_pre, n_post)
        w = _weights(rng, len(indices), homo, dtype)
        W = _dense(_rows_of(indptr), indices, np.broadcast_to(w, indices.shape), n_pre, n_post)
        return "csr", (w, indices, indptr), W
    k = 5
    indices = rng.integers(0, n_post, (n_pre, k)).astype(np.int32)
    w = _weights(rng, n_pre * k, homo, dtype)
    rows = np.repeat(np.arange(n_pre), k)
    W = _dense(rows, indices.ravel(), np.broadcast_to(w, (n_pre * k,)), n_pre, n_post)
    return "fanout", (w, indices), W


# -- CSR and fixed fan-out ---
@pytest.mark.parametrize("kind", ["csr", "fanout"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("homo", [True, False])
@pytest.mark.parametrize("ev", ["bool", "float"])
@pytest.mark.parametrize("batch", [1, 3])
def test_scatter_and_gather_match_dense(kind, dtype, homo, ev, batch):
    rng = np.random.default_rng([kind == "csr", homo, ev == "bool", batch])
    n_pre, n_post = 37, 23
    with _x64(dtype):
        prefix, struct, W = _structure(kind, rng, n_pre, n_post, homo, dtype)
        s, s64 = _events(rng, (batch, n_pre), ev, dtype)
        x, x64 = _events(rng, (batch, n_post), ev, dtype)
        for jit in (False, True):
            out = _call(
                T[f"{prefix}_scatter"], (batch, n_post), dtype, *struct, s, jit=jit, homo=homo
            )
            assert out.dtype == dtype and out.shape == (batch, n_post)
            np.testing.assert_allclose(out, s64 @ W, **TOL[dtype])
            out = _call(
                T[f"{prefix}_gather"], (batch, n_pre), dtype, *struct, x, jit=jit, homo=homo
            )
            assert out.dtype == dtype and out.shape == (batch, n_pre)
            np.testing.assert_allclose(out, x64 @ W.T, **TOL[dtype])


@pytest.mark.parametrize("kind", ["csr", "fanout"])
@pytest.mark.parametrize("pattern", ["none", "all"])
def test_no_spikes_and_all_spikes(kind, pattern):
    rng = np.random.default_rng(1)
    n_pre, n_post = 12, 30
    prefix, struct, W = _structure(kind, rng, n_pre, n_post, False, np.float32)
    for ev in ("bool", "float"):
        s, s64 = _events(rng, (2, n_pre), ev, np.float32, pattern)
        out = _call(T[f"{prefix}_scatter"], (2, n_post), np.float32, *struct, s, homo=False)
        np.testing.assert_allclose(out, s64 @ W, **TOL[np.float32])
        x, x64 = _events(rng, (2, n_post), ev, np.float32, pattern)
        out = _call(T[f"{prefix}_gather"], (2, n_pre), np.float32, *struct, x, homo=False)
        np.testing.assert_allclose(out, x64 @ W.T, **TOL[np.float32])


def test_empty_matrix_and_empty_rows():
    indptr = np.zeros(5, np.int32)  # 4 rows, no synapses
    indices = np.zeros(0, np.int32)
    s = np.ones((1, 4), bool)
    for homo, w in ((True, np.ones(1, np.float32)), (False, np.zeros(0, np.float32))):
        out = _call(T["csr_scatter"], (1, 6), np.float32, w, indices, indptr, s, homo=homo)
        np.testing.assert_array_equal(out, 0)
        out = _call(
            T["csr_gather"], (1, 4), np.float32, w, indices, indptr, np.ones((1, 6)), homo=homo
        )
        np.testing.assert_array_equal(out, 0)
    k0 = np.zeros((4, 0), np.int32)  # fan-out of zero
    out = _call(T["fanout_scatter"], (1, 6), np.float32, np.ones(1, np.float32), k0, s, homo=True)
    np.testing.assert_array_equal(out, 0)


# -- the counting scatter (bool spikes, homogeneous weight, many synapses per post) ---
@pytest.mark.parametrize("rate", [0.01, 0.1, 0.5, 1.0])  # below and above 1 synapse per post
@pytest.mark.parametrize("dtype", DTYPES)
def test_scatter_counts_or_adds_and_matches_dense(rate, dtype):
    """Homogeneous bool scatters count the synapses in uint16 when there are at least as
    many as posts, and add in float otherwise; both equal the dense product."""
    rng = np.random.default_rng(int(rate * 100))
    n_pre, n_post = 400, 50
    with _x64(dtype):
        indices, indptr = _csr(rng, n_pre, n_post, mean_fan=6)
        w = np.array([0.3], dtype)
        W = _dense(_rows_of(indptr), indices, np.full(len(indices), 0.3), n_pre, n_post)
        s = rng.random((3, n_pre)) < rate
        out = _call(T["csr_scatter"], (3, n_post), dtype, w, indices, indptr, s, homo=True)
        np.testing.assert_allclose(out, s @ W, **TOL[dtype])


def test_scatter_counts_are_flushed_before_they_overflow():
    """Rows that repeat one column 40 000 times: two of them overflow a uint16 count (the
    kernel flushes the counts to the output first); a row of 70 000 is added in float."""
    rows = [np.full(40000, 3), np.full(40000, 3), np.full(40000, 3), np.full(70000, 5)]
    indices = np.concatenate(rows).astype(np.int32)
    indptr = np.concatenate([[0], np.cumsum([len(r) for r in rows])]).astype(np.int32)
    s = np.array([[True, True, True, True], [True, False, True, False]])
    out = _call(
        T["csr_scatter"],
        (2, 10),
        np.float32,
        np.array([0.5], np.float32),
        indices,
        indptr,
        s,
        homo=True,
    )
    expected = np.zeros((2, 10), np.float32)
    expected[0, 3], expected[0, 5], expected[1, 3] = 60000.0, 35000.0, 40000.0
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("jit", [False, True])
def test_counting_split_between_threads_is_exact_and_deterministic(jit):
    """From 40k synapses the count is split between this thread and a helper of XLA's pool.
    The output is w * (exact count), rounded once, whichever rows each thread counted: equal
    to the integer product bit for bit, on every call."""
    rng = np.random.default_rng(11)
    n_pre, n_post = 3000, 700
    indices, indptr = _csr(rng, n_pre, n_post, mean_fan=40)  # ~120k synapses, duplicates
    M = _dense(_rows_of(indptr), indices, np.ones(len(indices)), n_pre, n_post)
    s = rng.random((2, n_pre)) < 0.6  # ~72k synapses to add per batch row
    w = np.float32(0.37)
    expected = w * (s.astype(np.int64) @ M.astype(np.int64)).astype(np.float32)
    for _ in range(10):
        out = _call(
            T["csr_scatter"],
            (2, n_post),
            np.float32,
            np.array([w]),
            indices,
            indptr,
            s,
            jit=jit,
            homo=True,
        )
        np.testing.assert_array_equal(out, expected)


def test_bad_index_in_any_chunk_of_a_split_count_is_an_error():
    n_pre, n_post = 2000, 500
    rng = np.random.default_rng(12)
    indices, indptr = _csr(rng, n_pre, n_post, mean_fan=40)
    s = np.ones((1, n_pre), bool)
    w = np.array([1.0], np.float32)
    M = _dense(_rows_of(indptr), indices, np.ones(len(indices)), n_pre, n_post)
    for row in (1, 700, 1999):  # early, middle and last chunk
        bad = indices.copy()
        bad[indptr[row]] = n_post
        with pytest.raises(Exception, match=rf"\(row {row}\) is not in \[0, {n_post}\)"):
            _call(T["csr_scatter"], (1, n_post), np.float32, w, bad, indptr, s, homo=True)
        out = _call(T["csr_scatter"], (1, n_post), np.float32, w, indices, indptr, s, homo=True)
        np.testing.assert_array_equal(out, s @ M)


def test_bad_index_while_counting_leaves_later_calls_correct():
    """An error raised in the middle of counting must not leave counts behind for the next
    call on this thread."""
    n_pre, n_post = 6, 4
    good = np.tile(np.arange(n_post, dtype=np.int32), n_pre)  # every row holds every post
    indptr = np.arange(0, n_pre * n_post + 1, n_post, dtype=np.int32)
    bad = good.copy()
    bad[3 * n_post + 1] = n_post  # row 3: rows 0-2 are counted before it is reached
    s = np.ones((1, n_pre), bool)
    w = np.array([1.0], np.float32)
    with pytest.raises(Exception, match="out of range"):
        _call(T["csr_scatter"], (1, n_post), np.float32, w, bad, indptr, s, homo=True)
    out = _call(T["csr_scatter"], (1, n_post), np.float32, w, good, indptr, s, homo=True)
    np.testing.assert_array_equal(out, np.full((1, n_post), n_pre, np.float32))


# -- errors ---
@pytest.mark.parametrize("pos", [0, 3, 7, 8, 12, 15, 16, 18])  # in the blocks of 8 and the tail
@pytest.mark.parametrize("homo", [True, False])
@pytest.mark.parametrize("spike_dtype", [bool, np.float32])
def test_bad_index_anywhere_in_a_long_row_is_an_error(pos, homo, spike_dtype):
    """Rows of 19 synapses: the kernels check indices eight at a time and then one by one;
    a bad index at any position is reported with its position. (Homogeneous bool spikes
    here take the counting scatter: 38 synapses >= 2 x 11 posts.)"""
    indices = np.arange(38, dtype=np.int32) % 11
    indices[19 + pos] = 11  # row 1, position pos
    indptr = np.array([0, 19, 38], np.int32)
    w = np.ones(1 if homo else 38, np.float32)
    s = np.ones((1, 2), spike_dtype)
    where = rf"indices\[{19 + pos}\] = 11 \(row 1\) is not in \[0, 11\)"
    with pytest.raises(Exception, match=where):
        _call(T["csr_scatter"], (1, 11), np.float32, w, indices, indptr, s, homo=homo)
    x = np.ones((1, 11), spike_dtype)
    with pytest.raises(Exception, match=where):
        _call(T["csr_gather"], (1, 2), np.float32, w, indices, indptr, x, homo=homo)
    fan = indices.reshape(2, 19)
    with pytest.raises(Exception, match=where):
        _call(T["fanout_scatter"], (1, 11), np.float32, w, fan, s, homo=homo)


@pytest.mark.parametrize("bad", [7, -1])
@pytest.mark.parametrize("jit", [False, True])
def test_out_of_range_index_is_an_error(bad, jit):
    w = np.ones(3, np.float32)
    indices = np.array([0, bad, 1], np.int32)
    indptr = np.array([0, 2, 3], np.int32)
    s = np.ones((1, 2), bool)
    with pytest.raises(Exception, match="out of range"):
        _call(T["csr_scatter"], (1, 7), np.float32, w, indices, indptr, s, jit=jit, homo=False)
    with pytest.raises(Exception, match="out of range"):
        _call(
            T["csr_gather"],
            (1, 2),
            np.float32,
            w,
            indices,
            indptr,
            np.ones((1, 7), np.float32),
            jit=jit,
            homo=False,
        )
    fan = indices[:2].reshape(2, 1)
    with pytest.raises(Exception, match="out of range"):
        _call(T["fanout_scatter"], (1, 7), np.float32, w[:2], fan, s, jit=jit, homo=False)
    with pytest.raises(Exception, match="out of range"):
        _call(
            T["fanout_gather"],
            (1, 2),
            np.float32,
            w[:2],
            fan,
            np.ones((1, 7), bool),
            jit=jit,
            homo=False,
        )


def test_bad_indptr_dtype_and_shape_are_errors():
    w = np.ones(3, np.float32)
    indices = np.array([0, 1, 1], np.int32)
    s = np.ones((1, 2), bool)
    for indptr, msg in (
        ([0, 2, 1], "non-decreasing"),
        ([0, 2, 9], "exceeds nnz"),
        ([-1, 2, 3], "negative"),
    ):
        with pytest.raises(Exception, match=msg):
            _call(
                T["csr_scatter"],
                (1, 4),
                np.float32,
                w,
                indices,
                np.array(indptr, np.int32),
                s,
                homo=False,
            )
    indptr = np.array([0, 2, 3], np.int32)
    with pytest.raises(Exception, match="one weight per synapse"):
        _call(T["csr_scatter"], (1, 4), np.float32, w[:2], indices, indptr, s, homo=False)
    with pytest.raises(Exception, match="shape mismatch"):
        _call(
            T["csr_scatter"],
            (1, 4),
            np.float32,
            w,
            indices,
            indptr,
            np.ones((1, 3), bool),
            homo=False,
        )
    with pytest.raises(Exception, match="bool or float32"):
        _call(
            T["csr_scatter"],
            (1, 4),
            np.float32,
            w,
            indices,
            indptr,
            np.ones((1, 2), np.int32),
            homo=False,
        )
    with pytest.raises(Exception, match="int32"):
        _call(
            T["csr_scatter"],
            (1, 4),
            np.float32,
            w,
            indices.astype(np.uint32),
            indptr,
            s,
            homo=False,
        )


# -- just-in-time connectivity ---
# An independent pure-Python (int) implementation of the hash; its constants come from the
# one table that the kernels and _jitconn.py read (_native/jithash.def).
_MASK = 0xFFFFFFFF
_H = _native.HASH


def _fmix(x):
    x ^= x >> _H["FMIX_SHIFT1"]
    x = (x * _H["FMIX_MUL1"]) & _MASK
    x ^= x >> _H["FMIX_SHIFT2"]
    x = (x * _H["FMIX_MUL2"]) & _MASK
    return x ^ (x >> _H["FMIX_SHIFT3"])


def _hash3(seed, i, k, stream):
    x = (seed * _H["SEED_MUL"]) & _MASK
    x ^= (i * _H["ROW_MUL"]) & _MASK
    x = _fmix(x)
    x ^= (k * _H["COL_MUL"] + stream * _H["STREAM_MUL"]) & _MASK
    return _fmix(x)


def _table(p, n_post):
    m = min(n_post, math.ceil(-40 / math.log1p(-p))) + 1
    cdf = 1 - (1 - p) ** (np.arange(m) + 1)
    return np.floor(cdf * 2.0**32).clip(max=2**32 - 1).astype(np.uint32)


def _unit(h):
    return ((h >> 8) + 0.5) * 2.0**-24


def _jit_dense(seed, table, n_pre, n_post, dist, w0, w1, dtype):
    """Independent Python implementation of the row generation."""
    tab = [int(t) for t in table]
    W = np.zeros((n_pre, n_post), dtype)
    for i in range(n_pre):
        col, k = -1, 0
        while True:
            h = _hash3(seed, i, k, 0)
            col += 1 + sum(t <= h for t in tab)  # linear count: independent of the binary search
            if col >= n_post:
                break
            if dist == 0:
                w = w0
            elif dist == 1:
                w = w0 + (w1 - w0) * _unit(_hash3(seed, i, k, 1))
            else:
                u1, u2 = _unit(_hash3(seed, i, k, 1)), _unit(_hash3(seed, i, k, 2))
                z = math.sqrt(-2 * math.log(u1)) * math.cos(2 * math.pi * u2)
                w = w0 + w1 * z
            W[i, col] = dtype(w)
            k += 1
    return W


JIT_CASES = [(0, 0.5, 0.0), (1, -1.0, 2.0), (2, 0.3, 1.5)]


@pytest.mark.parametrize("p", [0.001, 0.02, 0.3, 0.95])
def test_jitconn_structure_is_exact_across_p(p):
    """The kernel guesses each skip by inverting the geometric CDF in float and corrects it
    against the table; the columns must be exactly the table's at any p (long skips at
    small p, skips of 0 at large p), in both orientations."""
    n_pre, n_post, seed = 24, 1500, 99
    table = _table(p, n_post)
    W = _jit_dense(seed, table, n_pre, n_post, 0, 1.0, 0.0, np.float32)
    assert np.count_nonzero(W) > 0
    attrs = dict(seed=seed, dist=0, w0=1.0, w1=0.0, n_post=n_post)
    out = _call(
        T["jitconn_scatter"], (n_pre, n_post), np.float32, np.eye(n_pre, dtype=bool), table, **attrs
    )
    np.testing.assert_array_equal(out, W)
    out = _call(
        T["jitconn_gather"], (n_post, n_pre), np.float32, np.eye(n_post, dtype=bool), table, **attrs
    )
    np.testing.assert_array_equal(out, W.T)


@pytest.mark.parametrize("dist,w0,w1", JIT_CASES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_jitconn_structure_is_exact(dist, w0, w1, dtype):
    n_pre, n_post, p, seed = 50, 70, 0.1, 12345
    table = _table(p, n_post)
    W = _jit_dense(seed, table, n_pre, n_post, dist, w0, w1, dtype)
    assert 0 < np.count_nonzero(W) < n_pre * n_post
    attrs = dict(seed=seed, dist=dist, w0=w0, w1=w1, n_post=n_post)
    with _x64(dtype):
        # Identity spikes (batch = n_pre) read the matrix out row by row, bit for bit.
        out = _call(
            T["jitconn_scatter"], (n_pre, n_post), dtype, np.eye(n_pre, dtype=bool), table, **attrs
        )
        np.testing.assert_array_equal(out, W)
        out = _call(
            T["jitconn_gather"],
            (n_post, n_pre),
            dtype,
            np.eye(n_post, dtype=dtype),
            table,
            jit=True,
            **attrs,
        )
        np.testing.assert_array_equal(out, W.T)


@pytest.mark.parametrize("dist,w0,w1", JIT_CASES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ev", ["bool", "float"])
def test_jitconn_matches_dense(dist, w0, w1, dtype, ev):
    n_pre, n_post, p, seed = 40, 55, 0.15, 7
    table = _table(p, n_post)
    W = _jit_dense(seed, table, n_pre, n_post, dist, w0, w1, dtype).astype(np.float64)
    rng = np.random.default_rng(dist)
    attrs = dict(seed=seed, dist=dist, w0=w0, w1=w1, n_post=n_post)
    with _x64(dtype):
        for batch in (1, 3):
            s, s64 = _events(rng, (batch, n_pre), ev, dtype)
            x, x64 = _events(rng, (batch, n_post), ev, dtype)
            for jit in (False, True):
                out = _call(
                    T["jitconn_scatter"], (batch, n_post), dtype, s, table, jit=jit, **attrs
                )
                np.testing.assert_allclose(out, s64 @ W, **TOL[dtype])
                out = _call(T["jitconn_gather"], (batch, n_pre), dtype, x, table, jit=jit, **attrs)
                np.testing.assert_allclose(out, x64 @ W.T, **TOL[dtype])
        none = np.zeros((2, n_pre), bool)
        out = _call(T["jitconn_scatter"], (2, n_post), dtype, none, table, **attrs)
        np.testing.assert_array_equal(out, 0)


def test_jitconn_numpy_scalar_attributes_and_seed_dependence():
    n_pre, n_post, p = 20, 30, 0.2
    table = _table(p, n_post)
    s = np.ones((1, n_pre), bool)
    a = _call(
        T["jitconn_scatter"],
        (1, n_post),
        np.float32,
        s,
        table,
        seed=np.uint32(3),
        dist=np.int32(1),
        w0=np.float32(0.0),
        w1=1.0,
        n_post=n_post,
    )
    b = _call(
        T["jitconn_scatter"],
        (1, n_post),
        np.float32,
        s,
        table,
        seed=3,
        dist=1,
        w0=0.0,
        w1=1.0,
        n_post=n_post,
    )
    c = _call(
        T["jitconn_scatter"],
        (1, n_post),
        np.float32,
        s,
        table,
        seed=4,
        dist=1,
        w0=0.0,
        w1=1.0,
        n_post=n_post,
    )
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_jitconn_realised_probability():
    n_pre, n_post, p = 400, 500, 0.05
    table = _table(p, n_post)
    # Row sums with x = 1 and unit weights count the connections of each row.
    counts = _call(
        T["jitconn_gather"],
        (1, n_pre),
        np.float32,
        np.ones((1, n_post), bool),
        table,
        seed=2024,
        dist=0,
        w0=1.0,
        w1=0.0,
        n_post=n_post,
    )
    total = counts.sum()
    n = n_pre * n_post
    half_width = 3.2905 * math.sqrt(n * p * (1 - p))  # two-sided 99.9% (normal approximation)
    assert abs(total - n * p) < half_width, (total, n * p, half_width)
    # And no row is degenerate.
    assert counts.min() > 0 and counts.max() < 3 * n_post * p


def test_jitconn_errors():
    table = _table(0.1, 10)
    s = np.ones((1, 5), bool)
    with pytest.raises(Exception, match="dist must be"):
        _call(
            T["jitconn_scatter"],
            (1, 10),
            np.float32,
            s,
            table,
            seed=0,
            dist=3,
            w0=1.0,
            w1=0.0,
            n_post=10,
        )
    with pytest.raises(Exception, match="shape mismatch"):
        _call(
            T["jitconn_scatter"],
            (1, 10),
            np.float32,
            s,
            table,
            seed=0,
            dist=0,
            w0=1.0,
            w1=0.0,
            n_post=11,
        )
    with pytest.raises(Exception, match="uint32"):
        _call(
            T["jitconn_scatter"],
            (1, 10),
            np.float32,
            s,
            table.astype(np.int32),
            seed=0,
            dist=0,
            w0=1.0,
            w1=0.0,
            n_post=10,
        )


# -- loader ---
def test_loader_reports_and_can_be_disabled(monkeypatch):
    assert _native.reason() == ""
    assert set(T) == {
        f"{k}_{d}" for k in ("csr", "fanout", "jitconn") for d in ("scatter", "gather")
    } | {"csr_update", "record_spikes", "user_kernel"}
    assert all(v == f"neurodyn_{k}" for k, v in T.items())
    monkeypatch.setenv("NEURODYN_DISABLE_NATIVE", "1")
    assert not _native.available()
    assert "NEURODYN_DISABLE_NATIVE" in _native.reason()


def test_disabled_at_import_loads_nothing():
    code = (
        "from neurodyn.event import _native as n;"
        "assert not n.available() and n.library_path() is None, n.reason();"
        "print(n.reason())"
    )
    env = dict(os.environ, NEURODYN_DISABLE_NATIVE="1", JAX_PLATFORMS="cpu")
    res = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 0, res.stderr
    assert "disabled" in res.stdout


def test_native_kernels_are_built_where_a_compiler_exists():
    """The extension is optional so that installs without a compiler still work; on a
    machine with one (CI included) a silent fallback to pure JAX would hide a build error."""
    import os
    import shutil

    from neurodyn.event import _native

    if os.environ.get("NEURODYN_DISABLE_NATIVE") == "1" or shutil.which("g++") is None:
        pytest.skip("native kernels disabled or no C++ compiler")
    assert _native.available(), _native.reason()


@pytest.mark.parametrize("jit", [False, True])
def test_jitconn_homogeneous_count_is_exact_and_deterministic(jit):
    """Bool spikes through procedural connectivity with one weight are counted (with a
    helper thread from 40k synapses): w * (exact count), against the structure that the
    pure-JAX generator builds, bit for bit on every call."""
    from neurodyn import event

    n_pre, n_post = 3000, 900
    jc = event.JitProb(n_pre, n_post, 0.05, weight=0.37, seed=5)
    M = np.asarray(jc.to_csr().todense()) != 0
    s = np.random.default_rng(3).random((2, n_pre)) < 0.6  # ~81k synapses per batch row
    expected = np.float32(0.37) * (s.astype(np.int64) @ M.astype(np.int64)).astype(np.float32)
    f = jax.jit(lambda s: s @ jc) if jit else (lambda s: s @ jc)
    for _ in range(5):
        np.testing.assert_array_equal(np.asarray(f(jnp.asarray(s))), expected)
