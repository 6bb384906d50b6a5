"""The event/sparse primitives: abstract eval, kernels, JVP, transpose and batching.

Each operator is one JAX primitive working on a leading batch axis
(``[B, n]``). Lowering uses the native CPU kernel (XLA FFI) when it is
available and the pure-JAX reference (``_ref_*``) otherwise; the reference is
also the test oracle. All primitives are linear in the spikes/vector operand
and (except procedural connectivity, whose weights are not stored) linear in
the weights, which is what the JVP and transpose rules use.
"""

from __future__ import annotations

import functools
import os

import jax
import jax.numpy as jnp
from jax.extend.core import Primitive
from jax.interpreters import ad, batching, mlir

from ._jitconn import generate_rows

__all__ = [
    "csr_scatter",
    "csr_gather",
    "fanout_scatter",
    "fanout_gather",
    "jitconn_scatter",
    "jitconn_gather",
    "csr_update",
    "native_available",
]


def native_available() -> bool:
    if os.environ.get("NEURODYN_DISABLE_NATIVE") == "1":
        return False
    try:
        from . import _native
    except Exception:  # pragma: no cover - broken build
        return False
    return bool(getattr(_native, "available", lambda: False)())


def _rows_of(indptr, nnz: int):
    """The row of each of the ``nnz`` positions of a CSR. A binary search written as a
    loop (``method="scan"``): with a constant ``indptr`` (connectivity closed over by a
    jitted function) ``jnp.repeat`` makes XLA constant-fold a cumulative sum over nnz
    elements, 8 s at 320k synapses; the loop is not folded and runs as fast."""
    positions = jnp.arange(nnz, dtype=indptr.dtype)
    rows = jnp.searchsorted(indptr, positions, side="right", method="scan") - 1
    return rows.astype(jnp.int32)


def _w_full(weights, nnz, homo):
    return jnp.broadcast_to(weights.reshape(()), (nnz,)) if homo else weights


def _as_float(s, dtype):
    return s.astype(dtype)


# ---------------------------------------------------------------------------
# pure-JAX references
def _per_matrix(ref):
    """Let a reference take weights [V, m]: V matrices sharing one structure, batch row b
    of the dense operand (the last argument, [B, n]) using matrix b // (B // V) (what the
    batching rule makes of vmap over the weights)."""

    @functools.wraps(ref)
    def wrapped(weights, *ops, **params):
        if weights.ndim < 2:
            return ref(weights, *ops, **params)
        n_mat, vec = weights.shape[0], ops[-1]
        grouped = vec.reshape(n_mat, vec.shape[0] // n_mat, vec.shape[1])
        out = jax.vmap(lambda w, v: ref(w, *ops[:-1], v, **params))(weights, grouped)
        return out.reshape(vec.shape[0], out.shape[-1])

    return wrapped


_EVENT_SYNAPSES = 1 << 16  # synapses per block of the event-driven references


def _active_rows(spikes):
    """(number of rows active in some batch row, those rows first in index order)."""
    active = jnp.any(spikes != 0, axis=0)
    order = jnp.nonzero(active, size=active.shape[0], fill_value=0)[0].astype(jnp.int32)
    return jnp.sum(active, dtype=jnp.int32), order


def _over_active_rows(spikes, per_block: int, init, add_block):
    """The event-driven loop of the scatter references: the rows of neurons active in some
    batch row, ``per_block`` at a time under a while loop (work O(active rows)), with
    ``out = add_block(out, rows, in_range)`` from ``init`` (``in_range`` marks the lanes
    past the last active row, whose ``rows`` are padding)."""
    n_pre = spikes.shape[1]
    n_active, order = _active_rows(spikes)
    lanes = jnp.arange(per_block, dtype=jnp.int32)

    def body(carry):
        out, blk = carry
        sel = blk * per_block + lanes
        rows = order[jnp.minimum(sel, n_pre - 1)]
        return add_block(out, rows, sel < n_active), blk + 1

    out, _ = jax.lax.while_loop(lambda c: c[1] * per_block < n_active, body, (init, jnp.int32(0)))
    return out


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


# ---------------------------------------------------------------------------
# primitive construction helpers
def _impl(prim):
    def impl(*args, **params):
        return jax.jit(functools.partial(prim.bind, **params))(*args)

    return impl


def _register(prim, ref, abstract, native_target: str | None, native_params=None, **lowering):
    prim.def_impl(_impl(prim))
    prim.def_abstract_eval(abstract)
    mlir.register_lowering(prim, mlir.lower_fun(ref, multiple_results=False))
    if native_target is not None and native_available():
        rule = jax.ffi.ffi_lowering(native_target, **lowering)

        def lowering(ctx, *args, **params):
            return rule(ctx, *args, **(native_params(params) if native_params else params))

        mlir.register_lowering(prim, lowering, platform="cpu")


def _out_dtype(weights):
    return weights.dtype


# -- CSR ----------------------------------------------------------------------------
csr_scatter_p = Primitive("neurodyn_csr_scatter")
csr_gather_p = Primitive("neurodyn_csr_gather")


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
    "neurodyn_csr_scatter",
    _csr_native_params,
)
_register(
    csr_gather_p, _ref_csr_gather, _csr_gather_abstract, "neurodyn_csr_gather", _csr_native_params
)


def _zero_or(x):
    return None if type(x) is ad.Zero else x


def _csr_scatter_jvp(primals, tangents, *, homo, n_post, max_row=None):
    weights, indices, indptr, spikes = primals
    dw, _, _, ds = tangents
    kw = dict(homo=homo, n_post=n_post, max_row=max_row)
    out = csr_scatter_p.bind(weights, indices, indptr, spikes, **kw)
    t = None
    if _zero_or(dw) is not None:
        t = csr_scatter_p.bind(dw, indices, indptr, spikes, **kw)
    if _zero_or(ds) is not None and jnp.issubdtype(spikes.dtype, jnp.floating):
        t2 = csr_scatter_p.bind(weights, indices, indptr, ds, **kw)
        t = t2 if t is None else t + t2
    return out, (ad.Zero.from_primal_value(out) if t is None else t)


def _csr_gather_jvp(primals, tangents, *, homo):
    weights, indices, indptr, x = primals
    dw, _, _, dx = tangents
    out = csr_gather_p.bind(weights, indices, indptr, x, homo=homo)
    t = None
    if _zero_or(dw) is not None:
        t = csr_gather_p.bind(dw, indices, indptr, x, homo=homo)
    if _zero_or(dx) is not None and jnp.issubdtype(x.dtype, jnp.floating):
        t2 = csr_gather_p.bind(weights, indices, indptr, dx, homo=homo)
        t = t2 if t is None else t + t2
    return out, (ad.Zero.from_primal_value(out) if t is None else t)


def _register_gpu_kernels():
    """The Pallas (Triton) kernels as the CUDA lowerings of the CSR and fan-out scatter and
    gather, opt-in with ``NEURODYN_GPU_KERNELS=1`` until they have been run on a GPU (see
    ``_gpu``). Called after the primitives are defined."""
    from . import _gpu

    if not _gpu.enabled():
        return

    @_per_matrix
    def csr_scatter(weights, indices, indptr, spikes, *, homo, n_post, max_row=None):
        return _gpu.csr_scatter_pallas(weights, indices, indptr, spikes, homo=homo, n_post=n_post)

    @_per_matrix
    def csr_gather(weights, indices, indptr, x, *, homo):
        return _gpu.csr_gather_pallas(weights, indices, indptr, x, homo=homo)

    @_per_matrix
    def fanout_scatter(weights, indices, spikes, *, homo, n_post):
        return _gpu.fanout_scatter_pallas(weights, indices, spikes, homo=homo, n_post=n_post)

    @_per_matrix
    def fanout_gather(weights, indices, x, *, homo):
        return _gpu.fanout_gather_pallas(weights, indices, x, homo=homo)

    for prim, fn in (
        (csr_scatter_p, csr_scatter),
        (csr_gather_p, csr_gather),
        (fanout_scatter_p, fanout_scatter),
        (fanout_gather_p, fanout_gather),
    ):
        mlir.register_lowering(prim, mlir.lower_fun(fn, multiple_results=False), platform="cuda")


ad.primitive_jvps[csr_scatter_p] = _csr_scatter_jvp
ad.primitive_jvps[csr_gather_p] = _csr_gather_jvp


def _weight_ct(prod, homo, shape):
    """The weights' cotangent from per-batch-row products ``prod`` [B, m]: summed over the
    batch (over each matrix's rows when the weights are [V, m]), and over the synapses
    for a homogeneous weight."""
    if len(shape) == 2:
        per_matrix = prod.reshape(shape[0], -1, prod.shape[-1]).sum(axis=1)  # [V, m]
        return per_matrix.sum(axis=-1).reshape(shape) if homo else per_matrix
    total = prod.sum(axis=0)
    return total.sum().reshape(shape) if homo else total


def _csr_scatter_transpose(ct, weights, indices, indptr, spikes, *, homo, n_post, max_row=None):
    if type(ct) is ad.Zero:
        return [None] * 4
    if ad.is_undefined_primal(spikes):
        w = weights
        ct_s = csr_gather_p.bind(w, indices, indptr, ct, homo=homo)
        return [None, None, None, ct_s.astype(spikes.aval.dtype)]
    nnz = indices.shape[0]
    rows = _rows_of(indptr, nnz)
    prod = spikes.astype(ct.dtype)[:, rows] * ct[:, indices]
    return [_weight_ct(prod, homo, weights.aval.shape), None, None, None]


def _csr_gather_transpose(ct, weights, indices, indptr, x, *, homo):
    if type(ct) is ad.Zero:
        return [None] * 4
    if ad.is_undefined_primal(x):
        n_post = x.aval.shape[1]
        ct_x = csr_scatter_p.bind(weights, indices, indptr, ct, homo=homo, n_post=n_post)
        return [None, None, None, ct_x.astype(x.aval.dtype)]
    nnz = indices.shape[0]
    rows = _rows_of(indptr, nnz)
    prod = ct[:, rows] * x.astype(ct.dtype)[:, indices]
    return [_weight_ct(prod, homo, weights.aval.shape), None, None, None]


ad.primitive_transposes[csr_scatter_p] = _csr_scatter_transpose
ad.primitive_transposes[csr_gather_p] = _csr_gather_transpose


def _batch_vector_operand(prim, vec_index: int):
    """vmap over the [B, n] operand folds into B; other batched operands loop."""

    def rule(args, dims, **params):
        others_batched = any(d is not None for i, d in enumerate(dims) if i != vec_index)
        structure_batched = any(
            d is not None for i, d in enumerate(dims) if i not in (0, vec_index)
        )
        if dims[0] is not None and not structure_batched and args[0].ndim == 2:
            # vmap over the weights (one or more matrices sharing a structure): the
            # kernels take weights [V, m] and a dense operand [V * B, n], matrix v for
            # rows v*B .. (v+1)*B - 1; an unbatched dense operand is repeated V times
            w = jnp.moveaxis(args[0], dims[0], 0)
            nv = w.shape[0]
            v, d = args[vec_index], dims[vec_index]
            v = jnp.broadcast_to(v, (nv, *v.shape)) if d is None else jnp.moveaxis(v, d, 0)
            nb = v.shape[1]
            args = list(args)
            args[0] = w
            args[vec_index] = v.reshape(nv * nb, v.shape[2])
            out = prim.bind(*args, **params)
            return out.reshape(nv, nb, out.shape[-1]), 0
        if not others_batched:
            v = args[vec_index]
            d = dims[vec_index]
            v = jnp.moveaxis(v, d, 0)  # [V, B, n]
            nv, nb = v.shape[0], v.shape[1]
            args = list(args)
            args[vec_index] = v.reshape(nv * nb, v.shape[2])
            out = prim.bind(*args, **params)
            return out.reshape(nv, nb, out.shape[-1]), 0
        size = next(a.shape[d] for a, d in zip(args, dims) if d is not None)
        moved = [jnp.moveaxis(a, d, 0) if d is not None else a for a, d in zip(args, dims)]

        def one(i):
            sliced = [m[i] if d is not None else m for m, d in zip(moved, dims)]
            return prim.bind(*sliced, **params)

        return jax.lax.map(one, jnp.arange(size)), 0

    return rule


batching.primitive_batchers[csr_scatter_p] = _batch_vector_operand(csr_scatter_p, 3)
batching.primitive_batchers[csr_gather_p] = _batch_vector_operand(csr_gather_p, 3)


# -- fixed fan-out ----------------------------------------------------------------------
fanout_scatter_p = Primitive("neurodyn_fanout_scatter")
fanout_gather_p = Primitive("neurodyn_fanout_gather")


def _fanout_scatter_abstract(weights, indices, spikes, *, homo, n_post):
    return jax.core.ShapedArray((spikes.shape[0], n_post), weights.dtype)


def _fanout_gather_abstract(weights, indices, x, *, homo):
    return jax.core.ShapedArray((x.shape[0], indices.shape[0]), weights.dtype)


_register(
    fanout_scatter_p,
    _ref_fanout_scatter,
    _fanout_scatter_abstract,
    "neurodyn_fanout_scatter",
    _csr_native_params,
)
_register(
    fanout_gather_p,
    _ref_fanout_gather,
    _fanout_gather_abstract,
    "neurodyn_fanout_gather",
    _csr_native_params,
)


def _fanout_scatter_jvp(primals, tangents, *, homo, n_post):
    weights, indices, spikes = primals
    dw, _, ds = tangents
    out = fanout_scatter_p.bind(weights, indices, spikes, homo=homo, n_post=n_post)
    t = None
    if _zero_or(dw) is not None:
        t = fanout_scatter_p.bind(dw, indices, spikes, homo=homo, n_post=n_post)
    if _zero_or(ds) is not None and jnp.issubdtype(spikes.dtype, jnp.floating):
        t2 = fanout_scatter_p.bind(weights, indices, ds, homo=homo, n_post=n_post)
        t = t2 if t is None else t + t2
    return out, (ad.Zero.from_primal_value(out) if t is None else t)


def _fanout_gather_jvp(primals, tangents, *, homo):
    weights, indices, x = primals
    dw, _, dx = tangents
    out = fanout_gather_p.bind(weights, indices, x, homo=homo)
    t = None
    if _zero_or(dw) is not None:
        t = fanout_gather_p.bind(dw, indices, x, homo=homo)
    if _zero_or(dx) is not None and jnp.issubdtype(x.dtype, jnp.floating):
        t2 = fanout_gather_p.bind(weights, indices, dx, homo=homo)
        t = t2 if t is None else t + t2
    return out, (ad.Zero.from_primal_value(out) if t is None else t)


ad.primitive_jvps[fanout_scatter_p] = _fanout_scatter_jvp
ad.primitive_jvps[fanout_gather_p] = _fanout_gather_jvp


def _fanout_scatter_transpose(ct, weights, indices, spikes, *, homo, n_post):
    if type(ct) is ad.Zero:
        return [None] * 3
    if ad.is_undefined_primal(spikes):
        ct_s = fanout_gather_p.bind(weights, indices, ct, homo=homo)
        return [None, None, ct_s.astype(spikes.aval.dtype)]
    prod = spikes.astype(ct.dtype)[:, :, None] * ct[:, indices]  # [B, n_pre, k]
    return [_weight_ct(prod.reshape(prod.shape[0], -1), homo, weights.aval.shape), None, None]


def _fanout_gather_transpose(ct, weights, indices, x, *, homo):
    if type(ct) is ad.Zero:
        return [None] * 3
    if ad.is_undefined_primal(x):
        n_post = x.aval.shape[1]
        ct_x = fanout_scatter_p.bind(weights, indices, ct, homo=homo, n_post=n_post)
        return [None, None, ct_x.astype(x.aval.dtype)]
    prod = ct[:, :, None] * x.astype(ct.dtype)[:, indices]  # [B, n_pre, k]
    return [_weight_ct(prod.reshape(prod.shape[0], -1), homo, weights.aval.shape), None, None]


ad.primitive_transposes[fanout_scatter_p] = _fanout_scatter_transpose
ad.primitive_transposes[fanout_gather_p] = _fanout_gather_transpose
batching.primitive_batchers[fanout_scatter_p] = _batch_vector_operand(fanout_scatter_p, 2)
batching.primitive_batchers[fanout_gather_p] = _batch_vector_operand(fanout_gather_p, 2)


# -- procedural (just-in-time) connectivity -----------------------------------------------
jitconn_scatter_p = Primitive("neurodyn_jitconn_scatter")
jitconn_gather_p = Primitive("neurodyn_jitconn_gather")


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
    "neurodyn_jitconn_scatter",
    _jit_native_params,
)
_register(
    jitconn_gather_p,
    _jit_ref(False),
    _jit_abstract(False),
    "neurodyn_jitconn_gather",
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


# -- plasticity on events ----------------------------------------------------------------
# One primitive serves both sides: synapse positions grouped in segments (ptr), one segment
# per neuron of the spiking side; `syn` maps a position to its synapse (empty: identity, the
# CSR rows), `other` gives the neuron of the other side whose trace is added.
csr_update_p = Primitive("neurodyn_csr_update")


def _ref_csr_update(weights, ptr, syn, other, spikes, trace, after=None, *, lo, hi):
    nnz = weights.shape[0]
    seg = _rows_of(ptr, nnz)
    pos = syn if syn.shape[0] else jnp.arange(nnz, dtype=jnp.int32)
    old = weights[pos]
    new = jnp.clip(old + trace.astype(weights.dtype)[other], lo, hi).astype(weights.dtype)
    return weights.at[pos].set(jnp.where(spikes[seg], new, old), unique_indices=True)


def _csr_update_abstract(weights, ptr, syn, other, spikes, trace, after, *, lo, hi):
    return jax.core.ShapedArray(weights.shape, weights.dtype)


_register(
    csr_update_p,
    _ref_csr_update,
    _csr_update_abstract,
    "neurodyn_csr_update",
    lambda params: {"lo": float(params["lo"]), "hi": float(params["hi"])},
    operand_output_aliases={0: 0},  # in place when XLA can (a loop-carried weight array)
)


def _csr_update_jvp(primals, tangents, *, lo, hi):
    weights, ptr, syn, other, spikes, trace, _ = primals
    dw, _, _, _, _, dtr, _ = tangents
    out = csr_update_p.bind(*primals, lo=lo, hi=hi)
    if _zero_or(dw) is None and _zero_or(dtr) is None:
        return out, ad.Zero.from_primal_value(out)
    dw = jnp.zeros_like(weights) if _zero_or(dw) is None else dw
    dtr = jnp.zeros_like(trace) if _zero_or(dtr) is None else dtr

    def ref(w, tr):
        return _ref_csr_update(w, ptr, syn, other, spikes, tr, lo=lo, hi=hi)

    return out, jax.jvp(ref, (weights, trace), (dw, dtr))[1]


def _csr_update_batch(args, dims, *, lo, hi):
    ref = functools.partial(_ref_csr_update, lo=lo, hi=hi)
    return jax.vmap(ref, in_axes=tuple(dims[:6]))(*args[:6]), 0


ad.primitive_jvps[csr_update_p] = _csr_update_jvp
batching.primitive_batchers[csr_update_p] = _csr_update_batch


# ---------------------------------------------------------------------------
# thin call helpers (operands already validated and 2-D)
def csr_scatter(weights, indices, indptr, spikes, *, homo: bool, n_post: int, max_row=None):
    return csr_scatter_p.bind(
        weights, indices, indptr, spikes, homo=homo, n_post=n_post, max_row=max_row
    )


def csr_gather(weights, indices, indptr, x, *, homo: bool):
    return csr_gather_p.bind(weights, indices, indptr, x, homo=homo)


def fanout_scatter(weights, indices, spikes, *, homo: bool, n_post: int):
    return fanout_scatter_p.bind(weights, indices, spikes, homo=homo, n_post=n_post)


def fanout_gather(weights, indices, x, *, homo: bool):
    return fanout_gather_p.bind(weights, indices, x, homo=homo)


def jitconn_scatter(spikes, table, **params):
    return jitconn_scatter_p.bind(spikes, table, **params)


def jitconn_gather(x, table, **params):
    return jitconn_gather_p.bind(x, table, **params)


def csr_update(weights, ptr, syn, other, spikes, trace, *, lo: float, hi: float, after=None):
    """``after``: any array the update must wait for (not read). Passing the result of
    the step's propagation through these weights lets XLA update them in place: without
    it, XLA cannot order the in-place write after that read and copies the weights."""
    after = jnp.zeros(0, jnp.int8) if after is None else after
    return csr_update_p.bind(weights, ptr, syn, other, spikes, trace, after, lo=lo, hi=hi)


_register_gpu_kernels()
