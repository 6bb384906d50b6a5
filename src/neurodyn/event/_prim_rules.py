"""What every event primitive shares: registration (native CPU kernel through the XLA
FFI when built, the pure-JAX reference everywhere else and as the test oracle), the
event-driven loop of the references, and the rule factories (JVP, transpose, batching)
of the primitives that are linear in their weights and in their dense operand."""

from __future__ import annotations

import functools
import os

import jax
import jax.numpy as jnp
from jax.interpreters import ad, mlir


def native_available() -> bool:
    """Whether the native CPU kernels were built and load (``NEURODYN_DISABLE_NATIVE=1``:
    never); otherwise the pure-JAX implementations run."""
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


def _zero_or(x):
    return None if type(x) is ad.Zero else x


def _weight_ct(prod, homo, shape):
    """The weights' cotangent from per-batch-row products ``prod`` [B, m]: summed over the
    batch (over each matrix's rows when the weights are [V, m]), and over the synapses
    for a homogeneous weight."""
    if len(shape) == 2:
        per_matrix = prod.reshape(shape[0], -1, prod.shape[-1]).sum(axis=1)  # [V, m]
        return per_matrix.sum(axis=-1).reshape(shape) if homo else per_matrix
    total = prod.sum(axis=0)
    return total.sum().reshape(shape) if homo else total


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


def bilinear_jvp(prim):
    """The JVP of a primitive linear in its weights (first operand) and in its dense
    operand (last), the structure in between: ``op(dW, ..., x) + op(W, ..., dx)`` (bool
    spikes carry no tangent)."""

    def jvp(primals, tangents, **params):
        out = prim.bind(*primals, **params)
        w, mid, vec = primals[0], primals[1:-1], primals[-1]
        dw, dvec = _zero_or(tangents[0]), _zero_or(tangents[-1])
        t = None
        if dw is not None:
            t = prim.bind(dw, *mid, vec, **params)
        if dvec is not None and jnp.issubdtype(vec.dtype, jnp.floating):
            t2 = prim.bind(w, *mid, dvec, **params)
            t = t2 if t is None else t + t2
        return out, (ad.Zero.from_primal_value(out) if t is None else t)

    return jvp


def bilinear_transpose(adjoint, adjoint_params, weight_products):
    """The transpose of such a primitive. For the dense operand: the ``adjoint`` primitive
    (scatter <-> gather) applied to the cotangent, with ``adjoint_params(params, aval)``.
    For the weights: ``weight_products(ct, vec, *structure)`` ([B, m] products of the
    cotangent and the operand on every synapse), summed by :func:`_weight_ct`."""

    def transpose(ct, *operands, **params):
        n = len(operands)
        if type(ct) is ad.Zero:
            return [None] * n
        w, mid, vec = operands[0], operands[1:-1], operands[-1]
        if ad.is_undefined_primal(vec):
            out = adjoint.bind(w, *mid, ct, **adjoint_params(params, vec.aval))
            return [None] * (n - 1) + [out.astype(vec.aval.dtype)]
        prod = weight_products(ct, vec, *mid)
        return [_weight_ct(prod, params["homo"], w.aval.shape)] + [None] * (n - 1)

    return transpose
