"""Synaptic dynamics (post-aligned: one state per postsynaptic neuron) and outputs."""

from __future__ import annotations

import math

import jax.numpy as jnp

import neurodyn.units as u
from neurodyn.state import Hidden, Module

from . import _clock
from ._base import reset_in_place
from ._init import initialize
from ._params import Parameter

__all__ = [
    "Delta",
    "AMPA",
    "GABAa",
    "Synapse",
    "Expon",
    "DualExpon",
    "Alpha",
    "NMDA",
    "Output",
    "CUBA",
    "COBA",
    "MgBlock",
    "VoltageJump",
]

_POS = "positive"


class Synapse(Module):
    """Linear synaptic filter driven by the summed presynaptic input ``x`` (already
    weighted: a conductance or current jump per step). ``g`` is the output.
    Linear filters can be post-aligned: one state per postsynaptic neuron.

    Lifecycle: a projection binds the synapse to the postsynaptic shape and the weights'
    unit (:meth:`bind`); ``init_state(batch_size)`` / ``reset_state`` then work as for
    every other stateful piece of a network. Subclasses define ``initial(shape, unit)``
    (the States' first values) and ``update(x)``.
    """

    linear = True
    pre_aligned = False

    def bind(self, shape, unit) -> None:
        """Attach to a postsynaptic population of ``shape`` with weights in ``unit``."""
        self._shape, self._unit = tuple(shape), unit
        self.init_state()

    init = bind  # the former name

    def initial(self, shape, unit) -> dict:  # pragma: no cover - interface
        """The first values of the synapse's States (override): ``{name: value}`` for
        States of ``shape`` (the postsynaptic shape, with a leading batch axis when
        batched), in ``unit`` (the unit of the projection's weights)."""
        raise NotImplementedError

    def init_state(self, batch_size: int | None = None, **kwargs) -> None:
        if not hasattr(self, "_shape"):
            return  # not bound to a projection yet
        shape = self._shape if batch_size is None else (batch_size, *self._shape)
        for key, value in self.initial(shape, self._unit).items():
            setattr(self, key, Hidden(value))

    def reset_state(self, batch_size: int | None = None, **kwargs) -> None:
        reset_in_place(self, batch_size)

    def update(self, x):  # pragma: no cover - interface
        """Advance one step with input ``x`` (the weighted presynaptic spikes arriving
        now, in the weights' unit, postsynaptic shape) and return the synaptic variable
        ``g`` (override)."""
        raise NotImplementedError


class Expon(Synapse):
    """Exponential decay with jumps: ``dg/dt = -g / tau``, ``g += x`` on input.
    Integrated exactly (``g <- g exp(-dt/tau) + x``).

    ``g_initializer`` sets the initial ``g`` (a value or an initialiser such as
    ``Normal(40 * u.nS, 15 * u.nS)``, in the unit of the projection's weights); it is
    applied again by ``reset_state``. Default: zero.
    """

    tau = Parameter(u.ms, check=_POS, doc="decay time constant")

    def __init__(self, tau=5.0 * u.ms, g_initializer=None):
        self.name = "Expon"
        self.tau = tau
        self.g_initializer = g_initializer

    def initial(self, shape, unit):
        """``{"g": ...}``: zeros of ``shape`` in ``unit``, or drawn from ``g_initializer``."""
        if self.g_initializer is None:
            return {"g": jnp.zeros(shape) * unit}
        return {"g": initialize(self.g_initializer, shape, unit, "Expon.g_initializer")}

    def update(self, x):
        """``g <- g exp(-dt / tau) + x``; returns the new ``g``."""
        decay = u.math.exp(-_clock.dt() / self.tau)
        self.g.value = self.g.value * decay + x
        return self.g.value


class Delta(Synapse):
    """Instantaneous synapse: the input of a step acts during the next step only
    (``g = x``; no memory). With :class:`CUBA` and weights ``w`` in pA, a spike
    delivers the charge ``w dt`` (a voltage jump of about ``R w dt / tau``, which scales
    with dt). For Brian2's ``on_pre="v += J"`` (a jump in mV, independent of dt) use
    ``output=VoltageJump()``."""

    def __init__(self):
        self.name = "Delta"

    def initial(self, shape, unit):
        """``{"g": zeros of shape in unit}``."""
        return {"g": jnp.zeros(shape) * unit}

    def update(self, x):
        """``g <- x`` (no memory); returns ``g``."""
        self.g.value = x + 0 * self.g.value
        return self.g.value


class Alpha(Synapse):
    """Alpha function ``g(t) = w (t/tau) exp(1 - t/tau)`` per input (peak w at t = tau);
    integrated exactly as the linear system ``dg/dt = -g/tau + h``, ``dh/dt = -h/tau``."""

    tau = Parameter(u.ms, check=_POS, doc="time to peak")

    def __init__(self, tau=2.0 * u.ms):
        self.name = "Alpha"
        self.tau = tau

    def initial(self, shape, unit):
        """``{"g", "h"}``: zeros of ``shape``, ``g`` in ``unit`` and ``h`` in ``unit`` per ms."""
        return {"g": jnp.zeros(shape) * unit, "h": jnp.zeros(shape) * unit / u.ms}

    def update(self, x):
        """Add ``x e / tau`` to ``h``, advance ``(g, h)`` exactly over ``dt``; returns ``g``."""
        dt = _clock.dt()
        e = u.math.exp(-dt / self.tau)
        h = self.h.value + x * (math.e / self.tau)
        self.g.value = e * (self.g.value + dt * h)
        self.h.value = e * h
        return self.g.value


class DualExpon(Synapse):
    """Difference of exponentials (rise ``tau_rise``, decay ``tau_decay``), normalised
    so that one input of size w peaks at w. Integrated exactly."""

    tau_rise = Parameter(u.ms, check=_POS, per_neuron=False)
    tau_decay = Parameter(u.ms, check=_POS, per_neuron=False)

    def __init__(self, tau_rise=1.0 * u.ms, tau_decay=10.0 * u.ms):
        self.name = "DualExpon"
        self.tau_rise, self.tau_decay = tau_rise, tau_decay
        tr, td = float(self.tau_rise.to_value(u.ms)), float(self.tau_decay.to_value(u.ms))
        if not tr < td:
            raise ValueError(
                f"DualExpon needs tau_rise < tau_decay, got {tr:g} and {td:g} ms. Swap them, "
                "or use Expon for a single time constant."
            )
        t_peak = tr * td / (td - tr) * math.log(td / tr)
        self._norm = 1.0 / (math.exp(-t_peak / td) - math.exp(-t_peak / tr))

    def initial(self, shape, unit):
        """``{"g", "h"}``: zeros of ``shape`` in ``unit`` (``h`` is the rising exponential)."""
        return {"g": jnp.zeros(shape) * unit, "h": jnp.zeros(shape) * unit}

    def update(self, x):
        """Jump both exponentials by the normalised ``x``, decay them exactly over ``dt``;
        returns ``g`` (decay minus rise).
        """
        dt = _clock.dt()
        er, ed = u.math.exp(-dt / self.tau_rise), u.math.exp(-dt / self.tau_decay)
        # g = norm * (d - r) with d, r exponentials jumping together: keep d - r (g) and r (h)
        h = self.h.value + x * self._norm
        d = (self.g.value + self.h.value) + x * self._norm
        self.h.value = h * er
        self.g.value = d * ed - h * er
        return self.g.value


class NMDA(Synapse):
    """NMDA receptor kinetics (Wang 2002): ``ds/dt = -s/tau_decay + a x (1 - s)``,
    ``dx/dt = -x/tau_rise``; each input of weight w jumps ``x`` by ``w / g_max``;
    ``g = g_max s``. Nonlinear in the input (saturating), so post-aligned NMDA is
    the usual approximation; combine with :class:`MgBlock`.
    """

    linear = False
    tau_decay = Parameter(u.ms, check=_POS)
    tau_rise = Parameter(u.ms, check=_POS)
    a = Parameter(u.ms**-1, check=_POS)
    g_max = Parameter(u.nS, check=_POS)

    def __init__(self, tau_decay=100.0 * u.ms, tau_rise=2.0 * u.ms, a=0.5 / u.ms, g_max=1.0 * u.nS):
        self.name = "NMDA"
        self.tau_decay, self.tau_rise, self.a, self.g_max = tau_decay, tau_rise, a, g_max

    def initial(self, shape, unit):
        """``{"s", "x", "g"}``: zeros of ``shape`` (``s``, ``x`` dimensionless, ``g`` in
        ``unit``).
        """
        return {"s": jnp.zeros(shape), "x": jnp.zeros(shape), "g": jnp.zeros(shape) * unit}

    def update(self, x_in):
        """Decay ``x`` and add ``x_in / g_max``, advance ``s`` exactly at that ``x``;
        returns ``g = g_max s``.
        """
        dt = _clock.dt()
        x = self.x.value * u.math.exp(-dt / self.tau_rise) + x_in / self.g_max
        rate = 1.0 / self.tau_decay + self.a * x  # ds/dt = a x - rate s, exact for fixed x
        inf = self.a * x / rate
        s = inf + (self.s.value - inf) * u.math.exp(-rate * dt)
        self.x.value, self.s.value = x, s
        self.g.value = (self.g_max * s).to(self.g.value.unit)
        return self.g.value


class Output(Module):
    """Turns the synaptic variable ``g`` and the postsynaptic V into a current."""

    def current(self, g, V):  # pragma: no cover - interface
        """The postsynaptic current for synaptic variable ``g`` at membrane potential
        ``V`` (override), in amperes (pA), shaped as ``V``."""
        raise NotImplementedError


class CUBA(Output):
    """Current-based: the synaptic variable is the current (``g`` in amperes)."""

    unit = u.pA

    def current(self, g, V):
        """``g`` itself: the synaptic variable is the current."""
        return g


class COBA(Output):
    """Conductance-based: ``I = g (E - V)``."""

    unit = u.nS

    E = Parameter(u.mV, check="finite", doc="reversal potential")

    def __init__(self, E=0.0 * u.mV):
        self.name = "COBA"
        self.E = E

    def current(self, g, V):
        """``g (E - V)``: conductance ``g`` (nS) times the driving force."""
        return g * (self.E - V)


class MgBlock(Output):
    """Conductance with the voltage-dependent Mg²⁺ block of NMDA receptors (Jahr &
    Stevens 1990): ``I = g (E - V) / (1 + [Mg] / beta * exp(-alpha V))``."""

    unit = u.nS

    E = Parameter(u.mV, check="finite")
    mg = Parameter(u.mM, check="nonnegative")
    alpha = Parameter(u.mV**-1, check="finite")
    beta = Parameter(u.mM, check=_POS)

    def __init__(self, E=0.0 * u.mV, mg=1.0 * u.mM, alpha=0.062 / u.mV, beta=3.57 * u.mM):
        self.name = "MgBlock"
        self.E, self.mg, self.alpha, self.beta = E, mg, alpha, beta

    def current(self, g, V):
        """``g (E - V) / (1 + [Mg] / beta * exp(-alpha V))``."""
        block = 1.0 + self.mg / self.beta * u.math.exp(-self.alpha * V)
        return g * (self.E - V) / block


class VoltageJump(Output):
    """A jump of a postsynaptic variable on each arriving spike: Brian2's
    ``on_pre="v += J"``. Weights are in the variable's unit (mV for ``V``); the jump does
    not depend on dt. It is applied after the threshold test and before the reset of the
    step in which the spike arrives, as in Brian2: a neuron that spikes in that step
    loses it to the reset, a refractory neuron keeps it. Use it with ``synapse=Delta()``
    or no synapse.

    Example:
        >>> import neurodyn as nd
        >>> import neurodyn.units as u
        >>> from neurodyn import event
        >>> class Net(nd.Network):
        ...     def __init__(self):
        ...         self.src = nd.dyn.SpikeTimeGroup(1, [0], [1.0] * u.ms)
        ...         self.post = nd.dyn.LIF(1, V_rest=0 * u.mV, V_reset=0 * u.mV,
        ...                                V_th=20 * u.mV)
        ...         self.p = nd.dyn.Projection(self.src, self.post,
        ...                                    event.FixedProb(1.0), weight=0.5 * u.mV,
        ...                                    output=nd.dyn.VoltageJump())
        >>> res = nd.run(Net(), 2 * u.ms, dt=0.1 * u.ms, monitors={"V": "post.V"})
        >>> round(float(res["V"][10, 0].to_value(u.mV)), 6)      # the step of the spike
        0.5
    """

    unit = u.mV
    jump = True

    def __init__(self, target: str = "V"):
        self.name = "VoltageJump"
        self.target = target

    def current(self, g, V):  # pragma: no cover - a jump is not a current
        """Not available: a jump acts on a variable directly.

        Raises:
            TypeError: always.
        """
        raise TypeError("VoltageJump acts on a variable, not through a current.")

    def check(self, post, w_unit, synapse, owner: str) -> None:
        """Refuse a post without the target variable, weights in another unit, or a
        synapse that would filter the jumps (raises naming ``owner``)."""
        target = getattr(post, self.target, None)
        if not hasattr(target, "value"):
            raise TypeError(
                f"{owner}: VoltageJump(target={self.target!r}) needs a postsynaptic variable "
                f"{self.target!r}; {getattr(post, 'name', 'post')} has none."
            )
        t_unit = u.get_unit(target.value)
        if w_unit.dim is not t_unit.dim:
            raise u.UnitMismatchError(
                f"{owner}: VoltageJump adds the weights to {self.target}, so they need the unit "
                f"of {self.target} ({t_unit.name}); got weights in {w_unit.name}. Write e.g. "
                f"weight=0.1 * u.{t_unit.name}."
            )
        if synapse is not None and not isinstance(synapse, Delta):
            raise TypeError(
                f"{owner}: a VoltageJump output applies each spike at once; a "
                f"{type(synapse).__name__} synapse would filter it. Leave synapse out (or use "
                "Delta())."
            )

    def apply(self, post, x):
        """Add ``x`` to ``post``'s target variable; neurons in their refractory period
        (or spiking in this step) do not take it when the variable is held while
        refractory (as Brian2's ``unless refractory``)."""
        target = getattr(post, self.target)
        mask = post.refractory_mask() if hasattr(post, "refractory_mask") else None
        if mask is not None and self.target in getattr(post, "refractory_vars", ()):
            x = u.math.where(mask, 0 * x, x)
        target.value = target.value + x.to(target.value.unit)
        return x


class _Kinetic(Synapse):
    """Receptor kinetics driven by a transmitter pulse (Destexhe, Mainen & Sejnowski
    1994): ``dr/dt = alpha [T] (1 - r) - beta r`` with ``[T] = T_max`` for ``T_dur``
    after each presynaptic spike. The kinetics depend only on the presynaptic neuron,
    so ``r`` is kept per presynaptic neuron (exact, not an approximation) and the
    postsynaptic conductance is ``g = r @ W`` every step (O(synapses), since ``r`` is
    not sparse). Integrated exactly (``r`` is linear for fixed ``[T]``)."""

    pre_aligned = True
    linear = False
    alpha = Parameter((u.ms * u.mM) ** -1, check=_POS, doc="binding rate")
    beta = Parameter(u.ms**-1, check=_POS, doc="unbinding rate")
    T_max = Parameter(u.mM, check="nonnegative", doc="transmitter concentration")
    T_dur = Parameter(u.ms, check="nonnegative", doc="transmitter pulse duration")

    def __init__(self, alpha, beta, T_max, T_dur):
        self.name = type(self).__name__
        self.alpha, self.beta, self.T_max, self.T_dur = alpha, beta, T_max, T_dur

    def bind_pre(self, pre_shape, post_shape, unit) -> None:
        """Attach to a projection: ``r`` per presynaptic neuron, ``g`` per postsynaptic."""
        self._pre_shape, self._shape, self._unit = tuple(pre_shape), tuple(post_shape), unit
        self.init_state()

    init_pre = bind_pre

    def bind(self, shape, unit):  # post-aligned use is not defined for kinetic synapses
        raise TypeError(
            f"{type(self).__name__} is driven per presynaptic neuron; use it in a "
            "Projection (which binds it with bind_pre)."
        )

    init = bind

    def init_state(self, batch_size: int | None = None, **kwargs) -> None:
        if not hasattr(self, "_shape"):
            return
        b = () if batch_size is None else (batch_size,)
        self.r = Hidden(jnp.zeros((*b, *self._pre_shape)))
        self.t_spike = Hidden(jnp.full((*b, *self._pre_shape), -1e7) * u.ms)
        self.g = Hidden(jnp.zeros((*b, *self._shape)) * self._unit)

    def update_pre(self, spikes):
        dt, t = _clock.dt(), _clock.t()
        t_spike = u.math.where(
            spikes > 0 if spikes.dtype != jnp.bool_ else spikes,
            jnp.broadcast_to(t.to_value(u.ms), spikes.shape) * u.ms,
            self.t_spike.value,
        )
        releasing = (t - t_spike) < self.T_dur - 0.5 * dt
        T = u.math.where(releasing, self.T_max, 0 * u.mM)
        rate = self.alpha * T + self.beta  # 1/ms
        r_inf = self.alpha * T / rate
        self.r.value = r_inf + (self.r.value - r_inf) * u.math.exp(-rate * dt)
        self.t_spike.value = t_spike
        return self.r.value


class AMPA(_Kinetic):
    """AMPA receptor kinetics (Destexhe et al. 1994): alpha 0.98/(ms mM), beta 0.18/ms,
    a transmitter pulse of 0.5 mM for 0.5 ms."""

    def __init__(
        self, alpha=0.98 / (u.ms * u.mM), beta=0.18 / u.ms, T_max=0.5 * u.mM, T_dur=0.5 * u.ms
    ):
        super().__init__(alpha, beta, T_max, T_dur)


class GABAa(_Kinetic):
    """GABA_A receptor kinetics (Destexhe et al. 1994): alpha 0.53/(ms mM), beta
    0.18/ms, pulse of 1 mM for 1 ms."""

    def __init__(
        self, alpha=0.53 / (u.ms * u.mM), beta=0.18 / u.ms, T_max=1.0 * u.mM, T_dur=1.0 * u.ms
    ):
        super().__init__(alpha, beta, T_max, T_dur)
