"""GPU kernels (Pallas, Triton backend) for the stored-connectivity event operators.

Scatter (``s @ W``), event-driven: one program per (batch row, presynaptic neuron); a
program whose neuron did not spike returns at once, the others walk their CSR row
``BLOCK`` synapses at a time and add the weights into the output with atomic adds. Work
is O(spikes x fan-out). Gather (``W @ x``): one program per (batch row, row), summing its
row ``BLOCK`` synapses at a time; no atomics. A fixed fan-out table [n_pre, k] is a CSR
whose row i spans [i k, (i + 1) k): the same kernels serve it.

Status: checked here only in Pallas' interpret mode (on CPU); not yet run on a GPU. They
are therefore opt-in: ``NEURODYN_GPU_KERNELS=1`` registers them as the CUDA lowerings of
the CSR and fan-out scatter and gather; without it the GPU runs the pure-JAX references
(event-driven for the scatters). Interpret mode applies only one of several atomic adds to
the same address from one vector, so rows that repeat a column are checked only on a GPU
(``benchmarks/gpu_kernels.py``, case "csr scatter dup"). The procedural-connectivity and
plasticity operators have no GPU kernel: the GPU runs their pure-JAX references.

User-defined scatter and gather operators (``backend="pallas"``, opt-in per op or call)
run the same programs with the user's body evaluated on each vector of synapses
(``user_pallas``); checked in interpret mode only, like the built-ins.
"""

from __future__ import annotations

import functools
import os

import jax
import jax.numpy as jnp

__all__ = [
    "enabled",
    "csr_scatter_pallas",
    "csr_gather_pallas",
    "fanout_scatter_pallas",
    "fanout_gather_pallas",
    "BLOCK",
    "user_pallas",
]

BLOCK = 128  # synapses per step of a program (one warp-multiple vector)


def enabled() -> bool:
    return os.environ.get("NEURODYN_GPU_KERNELS", "").strip().lower() in ("1", "true", "yes")


def _scatter_kernel(
    indptr_ref, indices_ref, w_ref, spikes_ref, zeros_ref, out_ref, *, homo, nnz, n_post
):
    del zeros_ref  # aliased to out_ref: the output starts at zero
    from jax.experimental.pallas import triton as plt

    b = jax.lax.convert_element_type(jax.experimental.pallas.program_id(0), jnp.int32)
    i = jax.lax.convert_element_type(jax.experimental.pallas.program_id(1), jnp.int32)
    s = spikes_ref[b, i].astype(out_ref.dtype)

    @jax.experimental.pallas.when(s != 0)
    def _row():
        beg = indptr_ref[i]
        end = indptr_ref[i + 1]
        lanes = jnp.arange(BLOCK, dtype=jnp.int32)

        def body(k, carry):
            pos = beg + k * BLOCK + lanes
            valid = pos < end
            safe = jnp.minimum(pos, nnz - 1)
            cols = indices_ref[safe]
            w = w_ref[0] if homo else w_ref[safe]
            vals = jnp.where(valid, w * s, 0).astype(out_ref.dtype)
            # lanes past the row's end add 0 to the spare last column (sliced off)
            cols = jnp.where(valid, cols, n_post)
            plt.atomic_add(out_ref, (b, cols), vals)
            return carry

        n_blocks = (end - beg + BLOCK - 1) // BLOCK
        jax.lax.fori_loop(0, n_blocks, body, 0)


@functools.partial(jax.jit, static_argnames=("homo", "n_post", "interpret"))
def csr_scatter_pallas(weights, indices, indptr, spikes, *, homo, n_post, interpret=False):
    """``out[b] = spikes[b] @ W`` for a CSR ``W``; spikes [B, n_pre] bool or float."""
    from jax.experimental import pallas as pl

    batch, n_pre = spikes.shape
    nnz = indices.shape[0]
    dtype = weights.dtype
    if nnz == 0:
        return jnp.zeros((batch, n_post), dtype)
    zeros = jnp.zeros((batch, n_post + 1), dtype)  # + the spare column
    spk = spikes.astype(jnp.int8) if spikes.dtype == jnp.bool_ else spikes  # no i1 loads
    kernel = functools.partial(_scatter_kernel, homo=homo, nnz=nnz, n_post=n_post)
    out = pl.pallas_call(
        kernel,
        out_shape=jax.ShapeDtypeStruct((batch, n_post + 1), dtype),
        grid=(batch, n_pre),
        input_output_aliases={4: 0},
        interpret=interpret,
    )(indptr, indices, weights.reshape(-1), spk, zeros)
    return out[:, :n_post]


def _gather_kernel(indptr_ref, indices_ref, w_ref, x_ref, out_ref, *, homo, nnz):
    b = jax.lax.convert_element_type(jax.experimental.pallas.program_id(0), jnp.int32)
    i = jax.lax.convert_element_type(jax.experimental.pallas.program_id(1), jnp.int32)
    beg = indptr_ref[i]
    end = indptr_ref[i + 1]
    lanes = jnp.arange(BLOCK, dtype=jnp.int32)
    dtype = out_ref.dtype

    def body(k, acc):
        pos = beg + k * BLOCK + lanes
        valid = pos < end
        safe = jnp.minimum(pos, nnz - 1)
        cols = indices_ref[safe]
        xs = x_ref[b, cols].astype(dtype)
        w = jnp.ones((), dtype) if homo else w_ref[safe]
        return acc + jnp.sum(jnp.where(valid, w * xs, 0).astype(dtype))

    n_blocks = (end - beg + BLOCK - 1) // BLOCK
    acc = jax.lax.fori_loop(0, n_blocks, body, jnp.zeros((), dtype))
    out_ref[b, i] = acc * w_ref[0] if homo else acc


@functools.partial(jax.jit, static_argnames=("homo", "interpret"))
def csr_gather_pallas(weights, indices, indptr, x, *, homo, interpret=False):
    """``out[b] = W @ x[b]`` for a CSR ``W`` [n_pre, n_post]; x [B, n_post] bool or float."""
    from jax.experimental import pallas as pl

    batch = x.shape[0]
    n_pre = indptr.shape[0] - 1
    nnz = indices.shape[0]
    dtype = weights.dtype
    if nnz == 0 or n_pre == 0:
        return jnp.zeros((batch, n_pre), dtype)
    xs = x.astype(jnp.int8) if x.dtype == jnp.bool_ else x  # no i1 loads
    kernel = functools.partial(_gather_kernel, homo=homo, nnz=nnz)
    return pl.pallas_call(
        kernel,
        out_shape=jax.ShapeDtypeStruct((batch, n_pre), dtype),
        grid=(batch, n_pre),
        interpret=interpret,
    )(indptr, indices, weights.reshape(-1), xs)


def _fanout_indptr(indices):
    n_pre, k = indices.shape
    return jnp.arange(n_pre + 1, dtype=jnp.int32) * k


def fanout_scatter_pallas(weights, indices, spikes, *, homo, n_post, interpret=False):
    """``out[b] = spikes[b] @ W`` for a fixed fan-out table ``indices`` [n_pre, k]."""
    return csr_scatter_pallas(
        weights,
        indices.reshape(-1),
        _fanout_indptr(indices),
        spikes,
        homo=homo,
        n_post=n_post,
        interpret=interpret,
    )


def fanout_gather_pallas(weights, indices, x, *, homo, interpret=False):
    """``out[b] = W @ x[b]`` for a fixed fan-out table ``indices`` [n_pre, k]."""
    return csr_gather_pallas(
        weights, indices.reshape(-1), _fanout_indptr(indices), x, homo=homo, interpret=interpret
    )


# ---------------------------------------------------------------------------------------
# user-defined operators (event.scatter_op / gather_op, ``backend="pallas"``): the same
# programs as the built-ins, the user's body evaluated on a vector of BLOCK synapses
def _user_fields(refs, layout, b, i, cols, safe):
    """The body's field values for the lanes of one block: ``pre`` at row ``i``, ``post``
    at the lanes' columns, ``syn`` at their positions, parameters (stored as [1])."""
    it = iter(refs)
    vals = {}
    for g in ("pre", "post", "syn", "p"):
        vals[g] = {}
        for k in layout[g]:
            ref = next(it)
            if g == "pre":
                vals[g][k] = ref[b if ref.shape[0] > 1 else 0, i]
            elif g == "post":
                vals[g][k] = ref[b if ref.shape[0] > 1 else 0, cols]
            elif g == "syn":
                vals[g][k] = ref[safe]
            else:
                vals[g][k] = ref[0]
    return vals


def _user_scatter_kernel(ev_ref, indptr_ref, cols_ref, *refs, layout, values, nnz, n_post):
    from jax.experimental import pallas as pl
    from jax.experimental.pallas import triton as plt

    *field_refs, zeros_ref, out_ref = refs
    del zeros_ref  # aliased to out_ref: the output starts at zero
    b = jax.lax.convert_element_type(pl.program_id(0), jnp.int32)
    i = jax.lax.convert_element_type(pl.program_id(1), jnp.int32)
    s = ev_ref[b, i].astype(out_ref.dtype)

    @pl.when(s != 0)
    def _row():
        beg, end = indptr_ref[i], indptr_ref[i + 1]
        lanes = jnp.arange(BLOCK, dtype=jnp.int32)

        def body(k, carry):
            pos = beg + k * BLOCK + lanes
            valid = pos < end
            safe = jnp.minimum(pos, nnz - 1)
            cols = cols_ref[safe]
            f = _user_fields(field_refs, layout, b, i, cols, safe)
            val = jnp.broadcast_to(values(f), (BLOCK,))
            vals = jnp.where(valid, val * s, 0).astype(out_ref.dtype)
            # lanes past the row's end add 0 to the spare last column (sliced off)
            plt.atomic_add(out_ref, (b, jnp.where(valid, cols, n_post)), vals)
            return carry

        jax.lax.fori_loop(0, (end - beg + BLOCK - 1) // BLOCK, body, 0)


def _user_gather_kernel(x_ref, indptr_ref, cols_ref, *refs, layout, values, nnz):
    from jax.experimental import pallas as pl

    *field_refs, out_ref = refs
    b = jax.lax.convert_element_type(pl.program_id(0), jnp.int32)
    i = jax.lax.convert_element_type(pl.program_id(1), jnp.int32)
    beg, end = indptr_ref[i], indptr_ref[i + 1]
    lanes = jnp.arange(BLOCK, dtype=jnp.int32)
    dtype = out_ref.dtype

    def body(k, acc):
        pos = beg + k * BLOCK + lanes
        valid = pos < end
        safe = jnp.minimum(pos, nnz - 1)
        cols = cols_ref[safe]
        f = _user_fields(field_refs, layout, b, i, cols, safe)
        val = jnp.broadcast_to(values(f), (BLOCK,))
        xs = x_ref[b, cols].astype(dtype)
        return acc + jnp.sum(jnp.where(valid, val * xs, 0).astype(dtype))

    acc = jax.lax.fori_loop(0, (end - beg + BLOCK - 1) // BLOCK, body, jnp.zeros((), dtype))
    out_ref[b, i] = acc


def user_pallas(
    kind, events, indptr, cols, fields, *, layout, values, n_pre, n_post, dtype, interpret=False
):
    """A user scatter (``[B, n_pre]`` events -> ``[B, n_post]``) or gather (``[B, n_post]``
    -> ``[B, n_pre]``) on a CSR; ``fields`` the operands in ``layout`` order (parameters
    as [1]); ``values(f)`` the body on the block's field values ``f[group][name]``."""
    from jax.experimental import pallas as pl

    batch = events.shape[0]
    nnz = cols.shape[0]
    n_out = n_post if kind == "scatter" else n_pre
    if nnz == 0 or n_pre == 0:
        return jnp.zeros((batch, n_out), dtype)
    ev = events.astype(jnp.int8) if events.dtype == jnp.bool_ else events  # no i1 loads
    if kind == "scatter":
        kernel = functools.partial(
            _user_scatter_kernel, layout=layout, values=values, nnz=nnz, n_post=n_post
        )
        zeros = jnp.zeros((batch, n_post + 1), dtype)  # + the spare column
        out = pl.pallas_call(
            kernel,
            out_shape=jax.ShapeDtypeStruct((batch, n_post + 1), dtype),
            grid=(batch, n_pre),
            input_output_aliases={3 + len(fields): 0},
            interpret=interpret,
        )(ev, indptr, cols, *fields, zeros)
        return out[:, :n_post]
    kernel = functools.partial(_user_gather_kernel, layout=layout, values=values, nnz=nnz)
    return pl.pallas_call(
        kernel,
        out_shape=jax.ShapeDtypeStruct((batch, n_pre), dtype),
        grid=(batch, n_pre),
        interpret=interpret,
    )(ev, indptr, cols, *fields)
