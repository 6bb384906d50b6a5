"""Sparse spike recording: append (index, step) of every true flag to fixed buffers.

``record_spikes`` is the per-step recorder behind ``nd.dyn.SpikeMonitor``. On CPU it
is one native call that scans the flags eight at a time and writes into the buffers
in place (no copy of the buffers per step); elsewhere, or without the native
kernels, a pure-JAX compaction (cumulative sum and scatter) gives the same result.
The recorder is not differentiable (its outputs are integers) and has no batching
rule: it records one simulation.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.extend.core import Primitive
from jax.interpreters import mlir

from ._ops import native_available

__all__ = ["record_spikes"]

record_spikes_p = Primitive("neurodyn_record_spikes")
record_spikes_p.multiple_results = True


def _reference(spikes, step, idx, steps, count):
    flat = spikes.reshape(-1)
    cap = idx.shape[0]
    pos = count + jnp.cumsum(flat, dtype=jnp.int32) - 1
    pos = jnp.where(flat, pos, cap)  # (non-spiking lanes write nowhere)
    idx = idx.at[pos].set(jnp.arange(flat.shape[0], dtype=jnp.int32), mode="drop")
    steps = steps.at[pos].set(jnp.broadcast_to(step, flat.shape), mode="drop")
    return [idx, steps, count + jnp.sum(flat, dtype=jnp.int32)]


def _abstract(spikes, step, idx, steps, count):
    return [
        jax.core.ShapedArray(idx.shape, jnp.int32),
        jax.core.ShapedArray(steps.shape, jnp.int32),
        jax.core.ShapedArray((), jnp.int32),
    ]


record_spikes_p.def_impl(lambda *args: jax.jit(record_spikes_p.bind)(*args))
record_spikes_p.def_abstract_eval(_abstract)
mlir.register_lowering(record_spikes_p, mlir.lower_fun(_reference, multiple_results=True))
if native_available():
    _native_rule = jax.ffi.ffi_lowering(
        "neurodyn_record_spikes", operand_output_aliases={2: 0, 3: 1, 4: 2}
    )
    mlir.register_lowering(record_spikes_p, _native_rule, platform="cpu")


def record_spikes(spikes, step, idx, steps, count):
    """Append the flat indices of the true entries of ``spikes`` (any shape, row-major)
    and ``step`` to the buffers ``idx`` and ``steps`` (int32 ``[C]``) from position
    ``count``; returns ``(idx, steps, count + number of spikes)``. Entries beyond the
    capacity ``C`` are not written, but counted: ``count > C`` after a run means the
    buffers were too small.

    Example:
        >>> import jax.numpy as jnp
        >>> from neurodyn.event import record_spikes
        >>> buf = jnp.zeros(4, jnp.int32)
        >>> idx, steps, n = record_spikes(jnp.array([0, 1, 1, 0], bool), 7, buf, buf, 0)
        >>> idx[:2].tolist(), steps[:2].tolist(), int(n)
        ([1, 2], [7, 7], 2)
    """
    spikes = jnp.asarray(spikes)
    if spikes.dtype != jnp.bool_:
        spikes = spikes != 0
    idx, steps = jnp.asarray(idx, jnp.int32), jnp.asarray(steps, jnp.int32)
    if idx.ndim != 1 or idx.shape != steps.shape:
        raise ValueError(
            f"record_spikes: idx and steps must be 1-D buffers of one length; got shapes "
            f"{idx.shape} and {steps.shape}."
        )
    if spikes.size >= 2**31:
        raise ValueError(
            f"record_spikes: {spikes.size} flags per step do not fit int32 indices (< 2^31)."
        )
    step = jnp.asarray(step, jnp.int32).reshape(())
    count = jnp.asarray(count, jnp.int32).reshape(())
    return tuple(record_spikes_p.bind(jax.lax.stop_gradient(spikes), step, idx, steps, count))
