"""GPU kernels (Pallas, Triton backend) for the stored-connectivity event operators.

Event-driven on the GPU: one program per (batch row, presynaptic neuron); a program whose
neuron did not spike returns at once, the others walk their CSR row ``BLOCK`` synapses at
a time and add the weights into the output with atomic adds. Work is O(spikes x fan-out)
instead of the O(nnz) of the pure-JAX reference, which is what XLA runs elsewhere.

Status: checked here only in Pallas' interpret mode (on CPU); not yet run on a GPU. They
are therefore opt-in: ``NEURODYN_GPU_KERNELS=1`` registers them as the CUDA lowering of
``csr_scatter``; without it the GPU runs the pure-JAX reference.
"""

from __future__ import annotations

import functools
import os

import jax
import jax.numpy as jnp

__all__ = ["enabled", "csr_scatter_pallas", "BLOCK"]

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
