"""Plasticity on events: one in-place primitive for both sides. Synapse positions are
grouped in segments (``ptr``), one per neuron of the spiking side; ``syn`` maps a position
to its synapse (empty: identity, the CSR rows), ``other`` gives the neuron of the other
side whose trace is added."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax.extend.core import Primitive
from jax.interpreters import ad, batching

from ._native import TARGETS
from ._prim_rules import _register, _rows_of, _zero_or

csr_update_p = Primitive(TARGETS["csr_update"])


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
    TARGETS["csr_update"],
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
