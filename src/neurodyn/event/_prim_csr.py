"""CSR primitives: ``spikes @ W`` (scatter over the rows of active neurons) and
``W @ x`` (gather), linear in the weights and in the dense operand."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.extend.core import Primitive
from jax.interpreters import ad, batching

from ._native import TARGETS
from ._prim_rules import (
    _EVENT_SYNAPSES,
    _as_float,
    _batch_vector_operand,
    _over_active_rows,
    _per_matrix,
    _register,
    _rows_of,
    _w_full,
    bilinear_jvp,
    bilinear_transpose,
)


@_per_matrix
def _ref_csr_scatter(weights, indices, indptr, spikes, *, homo, n_post, max_row=None):
    """``spikes @ W``. With ``max_row`` (the longest row, known when the CSR was built
    from concrete arrays) only the rows of active neurons are read, in blocks under a
    while loop: O(active rows x max_row) on every platform; without it O(nnz)."""
    nnz = indices.shape[0]
    w = _w_full(weights, nnz, homo)
    b, n_pre = spikes.shape
    if max_row is None or nnz == 0 or max_row == 0:
        rows = _rows_of(indptr, nnz)
        contrib = _as_float(spikes, w.dtype)[:, rows] * w[None, :]
        return jnp.zeros((b, n_post), w.dtype).at[:, indices].add(contrib)
    per_block = max(1, min(n_pre, _EVENT_SYNAPSES // max_row))
    k = jnp.arange(max_row, dtype=indptr.dtype)
    sf = _as_float(spikes, w.dtype)

    def add_block(out, rows, in_range):
        pos = indptr[rows][:, None] + k[None, :]  # [rows, max_row]
        valid = (pos < indptr[rows + 1][:, None]) & in_range[:, None]
        pos = jnp.minimum(pos, nnz - 1)
        cols = jnp.where(valid, indices[pos], n_post)  # column n_post: dropped
        contrib = sf[:, rows][:, :, None] * jnp.where(valid, w[pos], 0)[None]
        return out.at[:, cols.reshape(-1)].add(contrib.reshape(b, -1), mode="drop")

    return _over_active_rows(spikes, per_block, jnp.zeros((b, n_post), w.dtype), add_block)


@_per_matrix
def _ref_csr_gather(weights, indices, indptr, x, *, homo):
    nnz = indices.shape[0]
    n_pre = indptr.shape[0] - 1
    rows = _rows_of(indptr, nnz)
    w = _w_full(weights, nnz, homo)
    contrib = _as_float(x, w.dtype)[:, indices] * w[None, :]
    return jax.vmap(lambda c: jax.ops.segment_sum(c, rows, n_pre))(contrib)


csr_scatter_p = Primitive(TARGETS["csr_scatter"])
csr_gather_p = Primitive(TARGETS["csr_gather"])


def _csr_scatter_abstract(weights, indices, indptr, spikes, *, homo, n_post, max_row=None):
    return jax.core.ShapedArray((spikes.shape[0], n_post), weights.dtype)


def _csr_gather_abstract(weights, indices, indptr, x, *, homo):
    return jax.core.ShapedArray((x.shape[0], indptr.shape[0] - 1), weights.dtype)


def _csr_native_params(params):
    return {"homo": bool(params["homo"])}


_register(
    csr_scatter_p,
    _ref_csr_scatter,
    _csr_scatter_abstract,
    TARGETS["csr_scatter"],
    _csr_native_params,
)
_register(
    csr_gather_p, _ref_csr_gather, _csr_gather_abstract, TARGETS["csr_gather"], _csr_native_params
)


ad.primitive_jvps[csr_scatter_p] = bilinear_jvp(csr_scatter_p)
ad.primitive_jvps[csr_gather_p] = bilinear_jvp(csr_gather_p)
ad.primitive_transposes[csr_scatter_p] = bilinear_transpose(
    csr_gather_p,
    lambda params, aval: {"homo": params["homo"]},
    lambda ct, spikes, indices, indptr: (
        spikes.astype(ct.dtype)[:, _rows_of(indptr, indices.shape[0])] * ct[:, indices]
    ),
)
ad.primitive_transposes[csr_gather_p] = bilinear_transpose(
    csr_scatter_p,
    lambda params, aval: {"homo": params["homo"], "n_post": aval.shape[1]},
    lambda ct, x, indices, indptr: (
        ct[:, _rows_of(indptr, indices.shape[0])] * x.astype(ct.dtype)[:, indices]
    ),
)
batching.primitive_batchers[csr_scatter_p] = _batch_vector_operand(csr_scatter_p, 3)
batching.primitive_batchers[csr_gather_p] = _batch_vector_operand(csr_gather_p, 3)
