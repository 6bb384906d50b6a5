"""Procedural (just-in-time) connectivity primitives: rows regenerated from the seed in
every call; linear in the dense operand (the weights are not stored)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.extend.core import Primitive
from jax.interpreters import ad, batching

from ._jitconn import generate_rows
from ._native import TARGETS
from ._prim_rules import _batch_vector_operand, _over_active_rows, _register, _zero_or

_ROW_BLOCK = 1024
_EVENT_ROW_BLOCK = 256


def _ref_jitconn(vec, table, *, seed, dist, w0, w1, n_pre, n_post, bound, dtype, scatter):
    """Scatter (vec: [B, n_pre] -> [B, n_post]) or gather (vec: [B, n_post] -> [B, n_pre]),
    generating rows block by block so memory stays O(block * bound). The scatter is
    event-driven: only the rows of neurons active in some batch row are generated, in
    blocks of ``_EVENT_ROW_BLOCK`` under a while loop (work O(active rows x bound), on
    every platform); the gather needs every row."""
    b = vec.shape[0]
    n_blocks = -(-n_pre // _ROW_BLOCK)
    vecf = vec.astype(dtype)
    if scatter:

        def add_block(out, rows, in_range):
            cols, w = generate_rows(rows, seed, table, n_post, bound, dist, w0, w1, dtype)
            s = vecf[:, rows] * in_range  # [B, block]
            contrib = s[:, :, None] * w[None]  # [B, block, bound]
            return out.at[:, cols.reshape(-1)].add(contrib.reshape(b, -1), mode="drop")

        init = jnp.zeros((b, n_post), dtype)
        return _over_active_rows(vec, _EVENT_ROW_BLOCK, init, add_block)

    def block(carry, blk):
        rows = blk * _ROW_BLOCK + jnp.arange(_ROW_BLOCK, dtype=jnp.int32)
        in_range = rows < n_pre
        rows_c = jnp.minimum(rows, n_pre - 1)
        cols, w = generate_rows(rows_c, seed, table, n_post, bound, dist, w0, w1, dtype)
        w = jnp.where(in_range[:, None], w, 0)
        xv = jnp.concatenate([vecf, jnp.zeros((b, 1), dtype)], axis=1)  # column n_post -> 0
        vals = jnp.sum(xv[:, cols] * w[None], axis=-1)  # [B, block]
        return carry.at[:, rows_c].add(jnp.where(in_range, vals, 0)), None

    out, _ = jax.lax.scan(block, jnp.zeros((b, n_pre), dtype), jnp.arange(n_blocks))
    return out


jitconn_scatter_p = Primitive(TARGETS["jitconn_scatter"])
jitconn_gather_p = Primitive(TARGETS["jitconn_gather"])


def _jit_abstract(scatter):
    def abstract(vec, table, *, seed, dist, w0, w1, n_pre, n_post, bound, dtype):
        return jax.core.ShapedArray((vec.shape[0], n_post if scatter else n_pre), dtype)

    return abstract


def _jit_ref(scatter):
    def ref(vec, table, **params):
        return _ref_jitconn(vec, table, scatter=scatter, **params)

    return ref


def _jit_native_params(params):
    return {
        "seed": int(params["seed"]),
        "dist": int(params["dist"]),
        "w0": float(params["w0"]),
        "w1": float(params["w1"]),
        "n_post": int(params["n_post"]),
    }


_register(
    jitconn_scatter_p,
    _jit_ref(True),
    _jit_abstract(True),
    TARGETS["jitconn_scatter"],
    _jit_native_params,
)
_register(
    jitconn_gather_p,
    _jit_ref(False),
    _jit_abstract(False),
    TARGETS["jitconn_gather"],
    _jit_native_params,
)


def _jit_jvp(prim):
    def jvp(primals, tangents, **params):
        vec, table = primals
        dvec, _ = tangents
        out = prim.bind(vec, table, **params)
        if _zero_or(dvec) is None or not jnp.issubdtype(vec.dtype, jnp.floating):
            return out, ad.Zero.from_primal_value(out)
        return out, prim.bind(dvec, table, **params)

    return jvp


def _jit_transpose(other):
    def transpose(ct, vec, table, **params):
        if type(ct) is ad.Zero:
            return [None, None]
        out = other.bind(ct, table, **params)
        return [out.astype(vec.aval.dtype), None]

    return transpose


ad.primitive_jvps[jitconn_scatter_p] = _jit_jvp(jitconn_scatter_p)
ad.primitive_jvps[jitconn_gather_p] = _jit_jvp(jitconn_gather_p)
ad.primitive_transposes[jitconn_scatter_p] = _jit_transpose(jitconn_gather_p)
ad.primitive_transposes[jitconn_gather_p] = _jit_transpose(jitconn_scatter_p)
batching.primitive_batchers[jitconn_scatter_p] = _batch_vector_operand(jitconn_scatter_p, 0)
batching.primitive_batchers[jitconn_gather_p] = _batch_vector_operand(jitconn_gather_p, 0)
