"""Plasticity rules written as event operators, in a Projection's plasticity slot."""

from __future__ import annotations

import jax.numpy as jnp

import neurodyn.units as u
from neurodyn.event import CSR, EventOp, csc_view
from neurodyn.state import Hidden, Module, Param

from . import _clock
from ._base import reset_in_place

__all__ = ["Plasticity"]


class Plasticity(Module):
    """A plasticity rule of your own on a projection's per-synapse weights: ``on_pre`` and
    ``on_post`` are :func:`neurodyn.event.update_op` operators (on="pre" / on="post")
    returning the new weight ``syn.w`` of the synapses of neurons that spiked, with
    exponentially decaying traces (``traces = {name: (tau, "pre" | "post")}``, each
    +1 per spike of its side) and constants ``params``. Use as
    ``Projection(..., stdp=Plasticity(...))``; the weights are a Param
    (``proj.stdp.weights``).

    Within a step (Brian2's order, as :class:`STDP`): the traces decay; ``on_pre`` runs
    with the traces before this step's spikes are added; the presynaptic traces take
    this step's spikes; ``on_post`` runs with those and the postsynaptic traces before
    this step's spikes; then the postsynaptic traces take theirs. The updates are
    event-driven (only the synapses of neurons that spiked), in place, with the numba
    kernels when installed.

    Example (pair-based additive STDP; the built-in :class:`STDP` gives the same weights):
        >>> import jax.numpy as jnp
        >>> import neurodyn.units as u
        >>> from neurodyn import event
        >>> from neurodyn.dyn import Plasticity
        >>> @event.update_op(on="pre")
        ... def ltd(pre, post, syn, p):
        ...     return u.math.maximum(syn.w - p.A_minus * post.y, 0.0 * u.nS)
        >>> @event.update_op(on="post")
        ... def ltp(pre, post, syn, p):
        ...     return u.math.minimum(syn.w + p.A_plus * pre.x, p.w_max)
        >>> rule = Plasticity(ltd, ltp, traces={"x": (20 * u.ms, "pre"), "y": (20 * u.ms, "post")},
        ...                   params={"A_plus": 0.01 * u.nS, "A_minus": 0.0105 * u.nS,
        ...                           "w_max": 12 * u.nS})
    """

    def __init__(
        self,
        on_pre: EventOp | None = None,
        on_post: EventOp | None = None,
        traces: dict | None = None,
        params: dict | None = None,
    ):
        self.name = "Plasticity"
        for what, op, side in (("on_pre", on_pre, "pre"), ("on_post", on_post, "post")):
            if op is not None and (
                not isinstance(op, EventOp) or op.kind != "update" or op.on != side
            ):
                raise TypeError(
                    f"Plasticity: {what} must be an event.update_op(on={side!r}) operator; "
                    f"got {op!r}."
                )
        self.on_pre, self.on_post = on_pre, on_post
        self.traces = {}
        for name, spec in (traces or {}).items():
            if not (isinstance(spec, tuple) and len(spec) == 2 and spec[1] in ("pre", "post")):
                raise ValueError(
                    f"Plasticity: trace {name!r} must be (tau, 'pre' | 'post'); got {spec!r}."
                )
            tau, side = spec
            if not isinstance(tau, u.Quantity) or tau.unit.dim is not u.ms.dim:
                raise u.UnitMismatchError(
                    f"Plasticity: trace {name!r} needs a time constant; got {tau!r}."
                )
            if not float(tau.to_value(u.ms)) > 0:
                raise ValueError(f"Plasticity: trace {name!r} needs tau > 0; got {tau}.")
            self.traces[name] = (tau, side)
        self.params = dict(params or {})
        for op in (on_pre, on_post):
            if op is None:
                continue
            # (a body with unit-carrying constants is checked at its first call instead)
            for g, names in (op.body.fields or {}).items():
                if g in ("pre", "post"):
                    unknown = [k for k in names if self.traces.get(k, (0, None))[1] != g]
                    if unknown:
                        raise KeyError(
                            f"Plasticity: {op.op} reads {g}.{unknown[0]}, which is not a "
                            f"{g}synaptic trace; traces: {self.traces or 'none'}."
                        )
                if g == "p":
                    missing = [k for k in names if k not in self.params]
                    if missing:
                        raise KeyError(
                            f"Plasticity: {op.op} reads p.{missing[0]}; give "
                            f"params={{'{missing[0]}': ...}}."
                        )

    def bind(self, conn: CSR, pre_shape, post_shape) -> None:
        """Attach to a projection: take ``conn``'s per-synapse weights as the initial
        weights and make the traces for the ``pre_shape`` / ``post_shape`` populations
        (called by the projection; ``init`` is the former name).

        Raises:
            TypeError: when ``conn`` is not a :class:`~neurodyn.event.CSR` with
                per-synapse weights.
        """
        if not isinstance(conn, CSR) or conn.homogeneous:
            raise TypeError(
                "Plasticity needs a CSR with per-synapse weights (e.g. FixedProb(...)."
                "build(..., weight=lambda rng, n: w0 * np.ones(n)))."
            )
        self._conn0, self._shapes = conn, {"pre": tuple(pre_shape), "post": tuple(post_shape)}
        self._csc = csc_view(conn)
        self.init_state()

    init = bind

    def init_state(self, batch_size=None, **kwargs):
        if not hasattr(self, "_conn0"):
            return
        if batch_size is not None:
            raise ValueError(
                "Plasticity: batched networks are not supported yet (one set of weights)."
            )
        self.weights = Param(self._conn0.data)
        for name, (_, side) in self.traces.items():
            setattr(self, f"trace_{name}", Hidden(jnp.zeros(self._shapes[side])))

    def reset_state(self, batch_size=None, **kwargs):
        reset_in_place(self, batch_size)

    batched = False

    def propagate(self, conn: CSR, spikes):
        """``spikes @ conn`` with the current (learned) weights: the summed input of
        each postsynaptic neuron, shape ``(..., n_post)``."""
        return spikes @ conn.with_data(self.weights.value)

    def _side(self, side: str) -> dict:
        return {
            k: getattr(self, f"trace_{k}").value for k, (_, s) in self.traces.items() if s == side
        }

    def update(self, conn: CSR, pre_spikes, post_spikes, after=None):
        """One step of the rule (in the order given in the class description): decay
        the traces, run ``on_pre`` for ``pre_spikes`` and ``on_post`` for
        ``post_spikes``, add the spikes to the traces and store the new weights.
        ``after`` is an array the in-place weight update must wait for (the
        projection passes the input it has just computed with the old weights)."""
        dt = _clock.dt()
        for name, (tau, _) in self.traces.items():
            st = getattr(self, f"trace_{name}")
            st.value = st.value * u.math.exp(-dt / tau)
        w = self.weights.value
        if self.on_pre is not None:
            w = self.on_pre(
                pre_spikes,
                conn,
                pre=self._side("pre"),
                post=self._side("post"),
                syn={"w": w},
                params=self.params,
            )
        self._bump("pre", pre_spikes)
        if self.on_post is not None:
            w = self.on_post(
                post_spikes,
                conn,
                pre=self._side("pre"),
                post=self._side("post"),
                syn={"w": w},
                params=self.params,
            )
        self._bump("post", post_spikes)
        self.weights.value = w

    def _bump(self, side: str, spikes):
        for name, (_, s) in self.traces.items():
            if s == side:
                st = getattr(self, f"trace_{name}")
                st.value = st.value + spikes
