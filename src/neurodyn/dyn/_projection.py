"""Projections: pre spikes -> delay -> connectivity -> synapse -> output -> post."""

from __future__ import annotations

import copy
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import neurodyn.units as u
from neurodyn.event import Connectivity
from neurodyn.state import Memory, Module

from ._synapses import COBA, Expon, Output, Synapse

__all__ = ["Projection"]


class Projection(Module):
    """Connect the spikes of ``pre`` to the input current of ``post``.

    Each step, the presynaptic spikes (delayed by ``delay``) are propagated
    through ``conn`` (event-driven: work proportional to spikes x fan-out),
    drive the ``synapse`` — kept once per postsynaptic neuron (the align-post
    optimisation, exact for linear synapses) — and ``output`` turns its
    variable into a current on ``post`` (read while ``post`` integrates its V).

    Args:
        pre: a population with a ``spike`` State.
        post: a neuron population (``add_input``).
        conn: a connectivity object (``neurodyn.event``) of shape (pre, post), or a
            builder with ``build(n_pre, n_post, weight)`` such as ``FixedProb``.
        weight: synaptic weight for builders (nS for COBA, pA for CUBA).
        synapse: a :class:`Synapse` (default :class:`Expon` with 5 ms).
        output: an :class:`Output` (default :class:`COBA` with E = 0 mV).
        delay: extra transmission delay (a time, a whole number of steps of the
            run's dt). Spikes always reach the synapse one step after they are
            emitted; ``delay`` adds to that. One delay per synapse (an array with
            one value per CSR entry) gives heterogeneous delays (O(synapses) per step).
        name: key under which the current is registered on ``post``.
        stp: a :class:`~neurodyn.dyn.STP` (short-term plasticity of release).
        stdp: a :class:`~neurodyn.dyn.STDP` (long-term plasticity of the weights).
    """

    def __init__(
        self,
        pre,
        post,
        conn: Any,
        weight: Any = None,
        synapse: Synapse | None = None,
        output: Output | None = None,
        delay=None,
        name: str | None = None,
        stp=None,
        stdp=None,
    ):
        self.pre, self.post = pre, post
        n_pre, n_post = getattr(pre, "num", None), getattr(post, "num", None)
        if n_pre is None or not hasattr(pre, "spike"):
            raise TypeError(f"Projection: pre must be a population with spikes, got {pre!r}.")
        if not hasattr(post, "add_input"):
            raise TypeError(f"Projection: post must be a neuron population, got {post!r}.")
        output = output if output is not None else COBA()
        synapse = synapse if synapse is not None else Expon()
        if hasattr(conn, "build") and not isinstance(conn, Connectivity):
            if weight is None:
                raise TypeError(
                    "Projection: a connectivity builder needs weight=... "
                    f"(in {output.unit.name} for {type(output).__name__})."
                )
            conn = conn.build(n_pre, n_post, weight=weight)
        elif weight is not None:
            raise TypeError(
                "Projection: weight=... is for connectivity builders (FixedProb, ...); a built "
                f"{type(conn).__name__} carries its own weights. Build it with them, e.g. "
                f"CSR.from_dense(w * u.{output.unit.name}), and leave weight out."
            )
        if not isinstance(conn, Connectivity):
            raise TypeError(
                f"Projection: conn must be a neurodyn.event connectivity or builder, "
                f"got {type(conn).__name__}."
            )
        if conn.shape != (n_pre, n_post):
            raise ValueError(
                f"Projection {getattr(pre, 'name', 'pre')} -> {getattr(post, 'name', 'post')}: "
                f"the connectivity has shape {conn.shape} but the populations have "
                f"{n_pre} ({getattr(pre, 'name', 'pre')}) and {n_post} "
                f"({getattr(post, 'name', 'post')}) neurons."
            )
        self.conn = conn
        w_unit = conn._weight_parts()[1]
        if w_unit.dim is not output.unit.dim:
            raise u.UnitMismatchError(
                f"Projection to {getattr(post, 'name', 'post')}: {type(output).__name__} needs "
                f"weights in {output.unit.name} ({output.unit.dim}); the connectivity's weights "
                f"are in {w_unit.name}."
            )
        # a synapse object given to several projections gets its own states in each
        self.synapse = copy.copy(synapse)
        self.output = output
        self._w_unit = w_unit
        self.delay = None if delay is None else u.Quantity(delay).to(u.ms)
        self._delay_steps = None
        self._hetero = self.delay is not None and jnp.ndim(self.delay.mantissa) > 0
        if self._hetero:
            from neurodyn.event import CSR

            if not isinstance(conn, CSR) or jnp.shape(self.delay.mantissa) != (conn.nnz,):
                raise ValueError(
                    "Per-synapse delays need a CSR connectivity and one delay per synapse "
                    f"({getattr(conn, 'nnz', '?')}); got delays of shape "
                    f"{jnp.shape(self.delay.mantissa)} for {type(conn).__name__}."
                )
        if getattr(self.synapse, "pre_aligned", False):
            self.synapse.init_pre(pre.varshape, post.varshape, w_unit)
        else:
            self.synapse.init(post.varshape, w_unit)
        self.stp = copy.copy(stp) if stp is not None else None
        if self.stp is not None:
            self.stp.init(pre.varshape)
        self.stdp = copy.copy(stdp) if stdp is not None else None
        if self.stdp is not None:
            self.stdp.init(conn, pre.varshape, post.varshape)
        key = name or f"{getattr(pre, 'name', 'pre')}->{type(output).__name__}#{id(self):x}"
        post.add_input(key, self._current)

    def _current(self, V):
        return self.output.current(self.synapse.g.value, V)

    def init_state(self, batch_size: int | None = None, **kwargs):
        shape = self.post.varshape if batch_size is None else (batch_size, *self.post.varshape)
        self.synapse.init(shape, self._w_unit)
        if self._delay_steps:
            self._init_buffer(batch_size)

    def reset_state(self, batch_size: int | None = None, **kwargs):
        if batch_size is not None:
            return self.init_state(batch_size)
        if hasattr(self.synapse, "reset"):
            self.synapse.reset()
        else:
            for st in self.synapse.states().values():
                st.value = st.value * 0
        if self._delay_steps:
            self.buffer.value = (
                self.buffer.value & False
                if self.buffer.value.dtype == bool
                else self.buffer.value * 0
            )
            self.cursor.value = self.cursor.value * 0
        if self.stp is not None:
            self.stp.reset()

    def _init_buffer(self, batch_size=None):
        shape = self.pre.spike.value.shape
        self.buffer = Memory(jnp.zeros((self._delay_steps, *shape), self.pre.spike.value.dtype))
        self.cursor = Memory(jnp.zeros((), jnp.int32))

    def before_run(self, dt) -> None:
        """Size the delay buffer for the time step (called by the runner before compiling)."""
        if self.delay is None:
            return
        steps = np.asarray(self.delay.mantissa, float) / float(dt.to_value(u.ms))
        n = np.round(steps).astype(np.int64)
        if np.any(np.abs(n - steps) > 1e-6) or np.any(n < 0):
            raise ValueError(
                f"Projection delay {self.delay} is not a whole number of steps of dt = {dt}."
            )
        if self._hetero:
            self._syn_steps = jnp.asarray(n, jnp.int32)
            length = int(n.max()) + 1
            if length != self._delay_steps:
                self._delay_steps = length
                self._init_buffer()
            return
        n = int(n)
        if n != self._delay_steps:
            self._delay_steps = n
            if n:
                self._init_buffer()

    def _delayed_spikes(self):
        spikes = self.pre.spike.value
        if not self._delay_steps:
            if self.delay is not None and self._delay_steps is None:
                raise RuntimeError(
                    "Projection with a delay: call before_run(dt) first (nd.run does it)."
                )
            return spikes
        i = self.cursor.value
        out = self.buffer.value[i]
        self.buffer.value = self.buffer.value.at[i].set(spikes)
        self.cursor.value = (i + 1) % self._delay_steps
        return out

    def _hetero_input(self):
        """Per-synapse delays: the ring buffer holds the last D steps of presynaptic
        spikes; synapse k reads its presynaptic neuron d_k steps back (O(synapses))."""
        spikes = self.pre.spike.value
        i = self.cursor.value
        buf = self.buffer.value.at[i].set(spikes)
        self.buffer.value = buf
        self.cursor.value = (i + 1) % self._delay_steps
        conn = self.conn
        rows = conn.row_ids()
        slot = (i - self._syn_steps) % self._delay_steps
        s_k = buf[slot, ..., rows] if buf.ndim == 2 else jnp.moveaxis(buf[slot, :, rows], 0, -1)
        w, unit = (
            (conn.data.mantissa, conn.data.unit)
            if isinstance(conn.data, u.Quantity)
            else (conn.data, u.dimensionless)
        )
        contrib = s_k.astype(jnp.result_type(w)) * w
        x = jax.ops.segment_sum(contrib, conn.indices, conn.n_post)
        return x * unit if unit is not u.dimensionless else x

    def update(self):
        if self._hetero:
            return self.synapse.update(self._hetero_input())
        spikes = self._delayed_spikes()
        conn = self.conn if self.stdp is None else self.stdp.conn_with_weights(self.conn)
        pre_spikes = spikes
        if self.stp is not None:
            spikes = self.stp.update(spikes)
        if getattr(self.synapse, "pre_aligned", False):
            # receptor kinetics per presynaptic neuron, summed through the weights
            r = self.synapse.update_pre(spikes)
            self.synapse.g.value = propagated = r @ conn
            out = self.synapse.g.value
        else:
            propagated = spikes @ conn
            out = self.synapse.update(propagated)
        if self.stdp is not None:
            # after the propagation has read the weights, so they can be updated in place
            self.stdp.update(self.conn, pre_spikes, self.post.spike.value, after=propagated)
        return out
