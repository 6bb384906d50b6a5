"""Projections: pre spikes -> delay -> connectivity -> synapse -> output -> post."""

from __future__ import annotations

import copy
from typing import Any

import jax.numpy as jnp
import numpy as np

import neurodyn.units as u
from neurodyn.event import Connectivity
from neurodyn.state import Module, Param, State

from . import _shard
from ._delay import Delay, SynapseDelays
from ._params import concrete
from ._synapses import COBA, Expon, Output, Synapse

__all__ = ["Projection"]


class Projection(Module):
    """Connect the spikes of ``pre`` to the input current of ``post``.

    Each step, after the threshold test and before the reset (Brian2's ``synapses``
    slot), the presynaptic spikes that arrive now (emitted ``delay`` earlier) are
    propagated through ``conn`` (event-driven: work proportional to spikes x fan-out)
    and drive the ``synapse`` — kept once per postsynaptic neuron (the align-post
    optimisation, exact for linear synapses); ``output`` turns its variable into a
    current on ``post``, which acts from the next state update on. With
    ``output=VoltageJump()`` the weights (mV) are added to ``post.V`` at once instead.

    Args:
        pre: a population with a ``spike`` State.
        post: a neuron population (``add_input``).
        conn: a connectivity object (``neurodyn.event``) of shape (pre, post), or a
            builder with ``build(n_pre, n_post, weight)`` such as ``FixedProb``.
        weight: synaptic weight for builders (nS for COBA, pA for CUBA).
        synapse: a :class:`Synapse` (default :class:`Expon` with 5 ms, or the post's
            ``default_synapse()`` where it has one, as a dendritic synapse site).
        output: an :class:`Output` (default :class:`COBA` with E = 0 mV, or the post's
            ``default_output()``).
        delay: transmission delay (a time >= 0, rounded to whole steps of the run's dt;
            default 0: a spike acts on the synapse in the step it is emitted, and so on
            the postsynaptic state update of the next step, as in Brian2). One delay per
            synapse (an array with one value per entry of a built CSR) gives
            heterogeneous delays, handled by the event operators (one per distinct
            delay; O(spikes x fan-out) per step).
        name: key under which the current is registered on ``post``.
        stp: a :class:`~neurodyn.dyn.STP` (short-term plasticity of release).
        stdp: a :class:`~neurodyn.dyn.STDP` (long-term plasticity of the weights).
        trainable: keep the weights in a :class:`~neurodyn.state.Param` (``proj.weights``)
            that ``nd.grad`` / ``nd.train`` can differentiate and update; a ``weight``
            given as a ``Param`` is used (and trained) as it is.
    """

    checkpoint_attrs = ("conn", "delay")

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
        trainable: bool = False,
    ):
        self.pre, self.post = pre, post
        n_pre, n_post = getattr(pre, "num", None), getattr(post, "num", None)
        if n_pre is None or not hasattr(pre, "spike"):
            raise TypeError(f"Projection: pre must be a population with spikes, got {pre!r}.")
        if not hasattr(post, "add_input"):
            raise TypeError(f"Projection: post must be a neuron population, got {post!r}.")
        if output is None:  # a post may name its own (a dendritic synapse site)
            output = post.default_output() if hasattr(post, "default_output") else COBA()
        weight_param = None
        if hasattr(conn, "build") and not isinstance(conn, Connectivity):
            if weight is None:
                raise TypeError(
                    "Projection: a connectivity builder needs weight=... "
                    f"(in {output.unit.name} for {type(output).__name__})."
                )
            weight_param = weight if isinstance(weight, State) else None
            conn = conn.build(
                n_pre, n_post, weight=weight.value if weight_param is not None else weight
            )
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
        owner = f"Projection {getattr(pre, 'name', 'pre')} -> {getattr(post, 'name', 'post')}"
        if conn.shape != (n_pre, n_post):
            raise ValueError(
                f"{owner}: the connectivity has shape {conn.shape} but the populations have "
                f"{n_pre} ({getattr(pre, 'name', 'pre')}) and {n_post} "
                f"({getattr(post, 'name', 'post')}) neurons."
            )
        self.conn = conn
        self.name = owner
        w = concrete(conn.data) if hasattr(conn, "data") else None  # procedural: none stored
        if w is not None and not np.all(np.isfinite(w)):
            k = int(np.argmax(~np.isfinite(np.ravel(w))))
            raise ValueError(
                f"{owner}: the connectivity's weight {k} is {np.ravel(w)[k]}; weights must be "
                "finite numbers."
            )
        w_unit = conn._weight_parts()[1]
        self.jump = bool(getattr(output, "jump", False))
        if self.jump:
            output.check(post, w_unit, synapse, owner)
            synapse = None
        elif w_unit.dim is not output.unit.dim:
            raise u.UnitMismatchError(
                f"Projection to {getattr(post, 'name', 'post')}: {type(output).__name__} needs "
                f"weights in {output.unit.name} ({output.unit.dim}); the connectivity's weights "
                f"are in {w_unit.name}."
            )
        else:
            if synapse is None:
                synapse = post.default_synapse() if hasattr(post, "default_synapse") else Expon()
        self.output = output
        self._w_unit = w_unit
        self.stp = copy.copy(stp) if stp is not None else None
        self.stdp = copy.copy(stdp) if stdp is not None else None
        spike_dtype = pre.spike.value.dtype
        # the delay line: none, homogeneous (a ring buffer) or one delay per synapse
        self.delays = None
        if delay is not None:
            delay = u.Quantity(delay) if not isinstance(delay, u.Quantity) else delay
            if jnp.ndim(delay.mantissa) > 0:
                self.delays = SynapseDelays(delay, conn, name=owner)
                if self.stp is not None:
                    spike_dtype = jnp.result_type(float)  # releases are delayed
                if self.stdp is not None:
                    raise TypeError(f"{owner}: per-synapse delays do not combine with STDP yet.")
                if getattr(synapse, "pre_aligned", False):
                    raise TypeError(
                        f"{owner}: per-synapse delays do not combine with the kinetic synapse "
                        f"{type(synapse).__name__} (its state is kept per presynaptic neuron)."
                    )
            else:
                self.delays = Delay(delay, name=owner)
            self.delays.bind(pre.varshape, spike_dtype)
        self.delay = None if self.delays is None else self.delays.delay
        # a synapse object given to several projections gets its own states in each
        self.synapse = copy.copy(synapse) if synapse is not None else None
        if self.synapse is not None:
            if getattr(self.synapse, "pre_aligned", False):
                self.synapse.bind_pre(pre.varshape, post.varshape, w_unit)
            else:
                self.synapse.bind(post.varshape, w_unit)
        if self.stp is not None:
            self.stp.bind(pre.varshape)
        if self.stdp is not None:
            self.stdp.bind(conn, pre.varshape, post.varshape)
        self.weights = None
        if trainable or weight_param is not None:
            if self.stdp is not None:
                raise TypeError(
                    f"{owner}: STDP already changes these weights; leave trainable out."
                )
            if not hasattr(conn, "with_data"):
                raise TypeError(
                    f"{owner}: {type(conn).__name__} does not store its weights, so they "
                    "cannot be trained; build the connectivity (e.g. FixedProb(...).build) "
                    "instead of using procedural connectivity."
                )
            self.weights = weight_param if weight_param is not None else Param(conn.data)
        if not self.jump:
            key = name or f"{getattr(pre, 'name', 'pre')}->{type(output).__name__}#{id(self):x}"
            post.add_input(key, self._current)

    def _conn(self):
        """The connectivity with the trainable weights when there are some."""
        ctx = _shard.current()
        if ctx is not None:  # a sharded run: this device's columns
            return ctx.conn(self)
        return self.conn if self.weights is None else self.conn.with_data(self.weights.value)

    def _current(self, V):
        return self.output.current(self.synapse.g.value, V)

    def _arriving(self):
        """``(spikes, events, x)``: the presynaptic spikes that arrive in this step, the
        events they carry (the spikes, or STP's releases) and the input through the
        connectivity (None for kinetic synapses, which filter per presynaptic neuron)."""
        ctx = _shard.current()
        if ctx is not None and isinstance(self.delays, SynapseDelays):
            return None, None, ctx.delayed_input(self)  # a sharded run: from the exchange
        if ctx is not None:  # a sharded run: every presynaptic spike, from the exchange
            spikes = ctx.arriving(self)
        else:
            spikes = self.pre.spike.value
            if isinstance(self.delays, SynapseDelays):
                events = self.stp.update(spikes) if self.stp is not None else spikes
                data = None if self.weights is None else self.weights.value
                return spikes, events, self.delays.propagate(events, data)
            if self.delays is not None:
                spikes = self.delays(spikes)
        events = self.stp.update(spikes) if self.stp is not None else spikes
        if getattr(self.synapse, "pre_aligned", False):
            return spikes, events, None
        if self.stdp is not None:
            return spikes, events, self.stdp.propagate(self.conn, events)
        return spikes, events, events @ self._conn()

    def deliver(self):
        """The synaptic effects of the spikes arriving in this step (Brian2's
        ``synapses`` slot: after the threshold test, before the reset)."""
        spikes, events, x = self._arriving()
        if self.jump:
            out = self.output.apply(self.post, x)
        elif getattr(self.synapse, "pre_aligned", False):
            # receptor kinetics per presynaptic neuron, summed through the weights
            r = self.synapse.update_pre(events)
            x = self.stdp.propagate(self.conn, r) if self.stdp is not None else r @ self._conn()
            self.synapse.g.value = out = x
        else:
            out = self.synapse.update(x)
        if self.stdp is not None:
            # after the propagation has read the weights, so they can be updated in place
            self.stdp.update(self.conn, spikes, self.post.spike.value, after=x)
        return out

    update = deliver
