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


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
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
