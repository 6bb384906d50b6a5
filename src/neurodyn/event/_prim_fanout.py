"""Fixed fan-out primitives (``indices [n_pre, k]``): scatter and gather, linear in the
weights and in the dense operand."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.extend.core import Primitive
from jax.interpreters import ad, batching

from ._native import TARGETS
from ._prim_csr import _csr_native_params
from ._prim_rules import (
    _EVENT_SYNAPSES,
    _as_float,
    _batch_vector_operand,
    _over_active_rows,
    _per_matrix,
    _register,
    bilinear_jvp,
    bilinear_transpose,
)


@_per_matrix
def _ref_fanout_scatter(weights, indices, spikes, *, homo, n_post):
    """``spikes @ W`` for a fixed fan-out table. Small tables (n_pre * k below one block)
    are read whole; larger ones only at the rows of active neurons, in blocks under a
    while loop (O(active rows x k) on every platform)."""
    n_pre, k = indices.shape
    w = jnp.broadcast_to(weights.reshape(()), (n_pre, k)) if homo else weights.reshape(n_pre, k)
    b = spikes.shape[0]
    sf = _as_float(spikes, w.dtype)
    out = jnp.zeros((b, n_post), w.dtype)
    if k == 0 or n_pre * k <= _EVENT_SYNAPSES:
        contrib = sf[:, :, None] * w[None]
        return out.at[:, indices.reshape(-1)].add(contrib.reshape(b, -1))
    per_block = max(1, min(n_pre, _EVENT_SYNAPSES // k))

    def add_block(acc, rows, in_range):
        cols = jnp.where(in_range[:, None], indices[rows], n_post)  # column n_post: dropped
        contrib = (sf[:, rows] * in_range)[:, :, None] * w[rows][None]
        return acc.at[:, cols.reshape(-1)].add(contrib.reshape(b, -1), mode="drop")

    return _over_active_rows(spikes, per_block, out, add_block)


@_per_matrix
def _ref_fanout_gather(weights, indices, x, *, homo):
    n_pre, k = indices.shape
    w = jnp.broadcast_to(weights.reshape(()), (n_pre, k)) if homo else weights.reshape(n_pre, k)
    return jnp.sum(_as_float(x, w.dtype)[:, indices] * w[None], axis=-1)


fanout_scatter_p = Primitive(TARGETS["fanout_scatter"])
fanout_gather_p = Primitive(TARGETS["fanout_gather"])


def _fanout_scatter_abstract(weights, indices, spikes, *, homo, n_post):
    return jax.core.ShapedArray((spikes.shape[0], n_post), weights.dtype)


def _fanout_gather_abstract(weights, indices, x, *, homo):
    return jax.core.ShapedArray((x.shape[0], indices.shape[0]), weights.dtype)


_register(
    fanout_scatter_p,
    _ref_fanout_scatter,
    _fanout_scatter_abstract,
    TARGETS["fanout_scatter"],
    _csr_native_params,
)
_register(
    fanout_gather_p,
    _ref_fanout_gather,
    _fanout_gather_abstract,
    TARGETS["fanout_gather"],
    _csr_native_params,
)


ad.primitive_jvps[fanout_scatter_p] = bilinear_jvp(fanout_scatter_p)
ad.primitive_jvps[fanout_gather_p] = bilinear_jvp(fanout_gather_p)
ad.primitive_transposes[fanout_scatter_p] = bilinear_transpose(
    fanout_gather_p,
    lambda params, aval: {"homo": params["homo"]},
    lambda ct, spikes, indices: (spikes.astype(ct.dtype)[:, :, None] * ct[:, indices]).reshape(
        ct.shape[0], -1
    ),
)
ad.primitive_transposes[fanout_gather_p] = bilinear_transpose(
    fanout_scatter_p,
    lambda params, aval: {"homo": params["homo"], "n_post": aval.shape[1]},
    lambda ct, x, indices: (ct[:, :, None] * x.astype(ct.dtype)[:, indices]).reshape(
        ct.shape[0], -1
    ),
)
batching.primitive_batchers[fanout_scatter_p] = _batch_vector_operand(fanout_scatter_p, 2)
batching.primitive_batchers[fanout_gather_p] = _batch_vector_operand(fanout_gather_p, 2)
