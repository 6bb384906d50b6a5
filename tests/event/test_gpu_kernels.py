"""The Pallas GPU scatter kernel, run in Pallas' interpret mode (on CPU), against the
dense product. (On a GPU, benchmarks/gpu.sh runs it for real with NEURODYN_GPU_KERNELS=1.)"""

from __future__ import annotations

import contextlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from neurodyn import event
from neurodyn.event import _gpu

pytest.importorskip("jax.experimental.pallas")

# float64 runs the same kernel code as float32 (dtype-generic): `slow`
DTYPES = [np.float32, pytest.param(np.float64, marks=pytest.mark.slow)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("homo", [True, False])
@pytest.mark.parametrize("spike_kind", ["bool", "float", "none"])
def test_pallas_scatter_equals_dense(dtype, homo, spike_kind):
    rng = np.random.default_rng(4)
    # rows of ~290 synapses: three BLOCK-steps, the last one partial; row 5 is empty
    n_pre, n_post = 24, 2900
    ctx = jax.enable_x64(True) if dtype == np.float64 else contextlib.nullcontext()
    with ctx:
        weight = 0.7 if homo else (lambda r, n: r.normal(size=n).astype(dtype))
        conn = event.FixedProb(0.1, seed=3).build(n_pre, n_post, weight=weight)
        data = jnp.asarray(conn.data, dtype).reshape(-1)
        indptr = np.asarray(conn.indptr).copy()
        indptr[6:] -= indptr[6] - indptr[5]  # empty row 5 (drop its synapses)
        keep = np.r_[0 : indptr[5], np.asarray(conn.indptr)[6] : conn.nnz]
        indices = np.asarray(conn.indices)[keep]
        if not homo:
            data = data[keep]
        csr = event.CSR(data if not homo else data[0], indices, indptr, (n_pre, n_post))
        if spike_kind == "bool":
            S = jnp.asarray(rng.random((3, n_pre)) < 0.4).at[:, 5].set(True)
        elif spike_kind == "float":
            S = jnp.asarray(rng.normal(size=(3, n_pre)), dtype)
        else:
            S = jnp.zeros((3, n_pre), bool)
        out = _gpu.csr_scatter_pallas(
            data,
            jnp.asarray(indices),
            jnp.asarray(indptr),
            S,
            homo=homo,
            n_post=n_post,
            interpret=True,
        )
        assert out.shape == (3, n_post) and out.dtype == dtype
        want = np.asarray(S, dtype) @ np.asarray(csr.todense(), dtype)
        np.testing.assert_allclose(np.asarray(out), want, rtol=1e-5, atol=1e-5)


def _structure(rng, dtype, homo):
    """CSR [24, 700] with rows of ~210 synapses (two BLOCK-steps, the last partial), an
    empty row 5 and duplicate columns, with its dense matrix in float64."""
    n_pre, n_post = 24, 700
    counts = rng.poisson(210, n_pre)
    counts[5] = 0
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    indices = rng.integers(0, n_post, indptr[-1]).astype(np.int32)
    w = np.array([0.7], dtype) if homo else rng.normal(size=len(indices)).astype(dtype)
    W = np.zeros((n_pre, n_post))
    rows = np.repeat(np.arange(n_pre), counts)
    np.add.at(W, (rows, indices), np.broadcast_to(w, indices.shape).astype(np.float64))
    return w, indices, indptr, W


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("homo", [True, False])
@pytest.mark.parametrize("x_kind", ["bool", "float"])
def test_pallas_gather_equals_dense(dtype, homo, x_kind):
    rng = np.random.default_rng([homo, x_kind == "bool"])
    ctx = jax.enable_x64(True) if dtype == np.float64 else contextlib.nullcontext()
    with ctx:
        w, indices, indptr, W = _structure(rng, dtype, homo)
        if x_kind == "bool":
            x = rng.random((3, W.shape[1])) < 0.3
        else:
            x = rng.normal(size=(3, W.shape[1])).astype(dtype)
        out = _gpu.csr_gather_pallas(
            jnp.asarray(w),
            jnp.asarray(indices),
            jnp.asarray(indptr),
            jnp.asarray(x),
            homo=homo,
            interpret=True,
        )
        assert out.shape == (3, W.shape[0]) and out.dtype == dtype
        np.testing.assert_allclose(
            np.asarray(out), x.astype(np.float64) @ W.T, rtol=1e-5, atol=1e-4
        )


@pytest.mark.parametrize("homo", [True, False])
def test_pallas_fanout_scatter_and_gather_equal_dense(homo):
    rng = np.random.default_rng(7 + homo)
    n_pre, n_post, k = 20, 600, 150  # rows of two BLOCK-steps, the last partial
    # distinct columns per row: Pallas' interpret mode applies one of several atomic adds
    # to the same address in one vector (a real GPU applies them all)
    indices = np.stack([rng.permutation(n_post)[:k] for _ in range(n_pre)]).astype(np.int32)
    w = np.array([0.4], np.float32) if homo else rng.normal(size=n_pre * k).astype(np.float32)
    W = np.zeros((n_pre, n_post))
    rows = np.repeat(np.arange(n_pre), k)
    np.add.at(W, (rows, indices.ravel()), np.broadcast_to(w, (n_pre * k,)).astype(np.float64))
    s = rng.random((2, n_pre)) < 0.5
    out = _gpu.fanout_scatter_pallas(
        jnp.asarray(w),
        jnp.asarray(indices),
        jnp.asarray(s),
        homo=homo,
        n_post=n_post,
        interpret=True,
    )
    np.testing.assert_allclose(np.asarray(out), s @ W, rtol=1e-5, atol=1e-4)
    x = rng.normal(size=(2, n_post)).astype(np.float32)
    out = _gpu.fanout_gather_pallas(
        jnp.asarray(w), jnp.asarray(indices), jnp.asarray(x), homo=homo, interpret=True
    )
    np.testing.assert_allclose(np.asarray(out), x @ W.T, rtol=1e-5, atol=1e-4)
