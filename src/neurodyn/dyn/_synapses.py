"""Synaptic dynamics (post-aligned: one state per postsynaptic neuron) and outputs."""

from __future__ import annotations

import math

import jax.numpy as jnp

import neurodyn.units as u
from neurodyn.state import Hidden, Module

from . import _clock
from ._base import param
from ._init import initialize

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
]


class Synapse(Module):
    """Linear synaptic filter driven by the summed presynaptic input ``x`` (already
    weighted: a conductance or current jump per step). ``g`` is the output.
    Linear filters can be post-aligned: one state per postsynaptic neuron."""

    linear = True

    def init(self, shape, unit) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def update(self, x):  # pragma: no cover - interface
        raise NotImplementedError


class Expon(Synapse):
    """Exponential decay with jumps: ``dg/dt = -g / tau``, ``g += x`` on input.
    Integrated exactly (``g <- g exp(-dt/tau) + x``).

    ``g_initializer`` sets the initial ``g`` (a value or an initialiser such as
    ``Normal(40 * u.nS, 15 * u.nS)``, in the unit of the projection's weights); it is
    applied again by ``reset_state``. Default: zero.
    """

    def __init__(self, tau=5.0 * u.ms, g_initializer=None):
        self.tau = param(tau, u.ms, "tau", "Expon")
        self.g_initializer = g_initializer

    def _initial(self, shape, unit):
        if self.g_initializer is None:
            return jnp.zeros(shape) * unit
        return initialize(self.g_initializer, shape, unit, "Expon.g_initializer")

    def init(self, shape, unit):
        self._shape_unit = (shape, unit)
        self.g = Hidden(self._initial(shape, unit))

    def reset(self):
        self.g.value = self._initial(*self._shape_unit)

    def update(self, x):
        decay = u.math.exp(-_clock.dt() / self.tau)
        self.g.value = self.g.value * decay + x
        return self.g.value


class Delta(Synapse):
    """Instantaneous synapse: the input of a step acts during that step only
    (``g = x``; no memory). With :class:`CUBA` and weights ``w`` in pA, a spike
    delivers the charge ``w dt`` (a voltage jump of about ``R w dt / tau``)."""

    def init(self, shape, unit):
        self.g = Hidden(jnp.zeros(shape) * unit)

    def update(self, x):
        self.g.value = x + 0 * self.g.value
        return self.g.value


class Alpha(Synapse):
    """Alpha function ``g(t) = w (t/tau) exp(1 - t/tau)`` per input (peak w at t = tau);
    integrated exactly as the linear system ``dg/dt = -g/tau + h``, ``dh/dt = -h/tau``."""

    def __init__(self, tau=2.0 * u.ms):
        self.tau = param(tau, u.ms, "tau", "Alpha")

    def init(self, shape, unit):
        self.g = Hidden(jnp.zeros(shape) * unit)
        self.h = Hidden(jnp.zeros(shape) * unit / u.ms)

    def update(self, x):
        dt = _clock.dt()
        e = u.math.exp(-dt / self.tau)
        h = self.h.value + x * (math.e / self.tau)
        self.g.value = e * (self.g.value + dt * h)
        self.h.value = e * h
        return self.g.value


class DualExpon(Synapse):
    """Difference of exponentials (rise ``tau_rise``, decay ``tau_decay``), normalised
    so that one input of size w peaks at w. Integrated exactly."""

    def __init__(self, tau_rise=1.0 * u.ms, tau_decay=10.0 * u.ms):
        self.tau_rise = param(tau_rise, u.ms, "tau_rise", "DualExpon")
        self.tau_decay = param(tau_decay, u.ms, "tau_decay", "DualExpon")
        tr, td = float(self.tau_rise.to_value(u.ms)), float(self.tau_decay.to_value(u.ms))
        if not tr < td:
            raise ValueError(f"DualExpon needs tau_rise < tau_decay, got {tr} and {td} ms.")
        t_peak = tr * td / (td - tr) * math.log(td / tr)
        self._norm = 1.0 / (math.exp(-t_peak / td) - math.exp(-t_peak / tr))

    def init(self, shape, unit):
        self.g = Hidden(jnp.zeros(shape) * unit)
        self.h = Hidden(jnp.zeros(shape) * unit)

    def update(self, x):
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

    def __init__(self, tau_decay=100.0 * u.ms, tau_rise=2.0 * u.ms, a=0.5 / u.ms, g_max=1.0 * u.nS):
        self.tau_decay = param(tau_decay, u.ms, "tau_decay", "NMDA")
        self.tau_rise = param(tau_rise, u.ms, "tau_rise", "NMDA")
        self.a = param(a, u.ms**-1, "a", "NMDA")
        self.g_max = param(g_max, u.nS, "g_max", "NMDA")

    def init(self, shape, unit):
        self.s = Hidden(jnp.zeros(shape))
        self.x = Hidden(jnp.zeros(shape))
        self.g = Hidden(jnp.zeros(shape) * unit)

    def update(self, x_in):
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
        raise NotImplementedError


class CUBA(Output):
    """Current-based: the synaptic variable is the current (``g`` in amperes)."""

    unit = u.pA

    def current(self, g, V):
        return g


class COBA(Output):
    """Conductance-based: ``I = g (E - V)``."""

    unit = u.nS

    def __init__(self, E=0.0 * u.mV):
        self.E = param(E, u.mV, "E", "COBA")

    def current(self, g, V):
        return g * (self.E - V)


class MgBlock(Output):
    """Conductance with the voltage-dependent Mg²⁺ block of NMDA receptors (Jahr &
    Stevens 1990): ``I = g (E - V) / (1 + [Mg] / beta * exp(-alpha V))``."""

    unit = u.nS

    def __init__(self, E=0.0 * u.mV, mg=1.0 * u.mM, alpha=0.062 / u.mV, beta=3.57 * u.mM):
        self.E = param(E, u.mV, "E", "MgBlock")
        self.mg = param(mg, u.mM, "mg", "MgBlock")
        self.alpha = param(alpha, u.mV**-1, "alpha", "MgBlock")
        self.beta = param(beta, u.mM, "beta", "MgBlock")

    def current(self, g, V):
        block = 1.0 + self.mg / self.beta * u.math.exp(-self.alpha * V)
        return g * (self.E - V) / block


class _Kinetic(Synapse):
    """Receptor kinetics driven by a transmitter pulse (Destexhe, Mainen & Sejnowski
    1994): ``dr/dt = alpha [T] (1 - r) - beta r`` with ``[T] = T_max`` for ``T_dur``
    after each presynaptic spike. The kinetics depend only on the presynaptic neuron,
    so ``r`` is kept per presynaptic neuron (exact, not an approximation) and the
    postsynaptic conductance is ``g = r @ W`` every step (O(synapses), since ``r`` is
    not sparse). Integrated exactly (``r`` is linear for fixed ``[T]``)."""

    pre_aligned = True
    linear = False

    def __init__(self, alpha, beta, T_max, T_dur):
        name = type(self).__name__
        self.alpha = param(alpha, (u.ms * u.mM) ** -1, "alpha", name)
        self.beta = param(beta, u.ms**-1, "beta", name)
        self.T_max = param(T_max, u.mM, "T_max", name)
        self.T_dur = param(T_dur, u.ms, "T_dur", name)

    def init_pre(self, pre_shape, post_shape, unit):
        self.r = Hidden(jnp.zeros(pre_shape))
        self.t_spike = Hidden(jnp.full(pre_shape, -1e7) * u.ms)
        self.g = Hidden(jnp.zeros(post_shape) * unit)

    def init(self, shape, unit):  # post-aligned use is not defined for kinetic synapses
        raise TypeError(
            f"{type(self).__name__} is driven per presynaptic neuron; use it in a "
            "Projection (which calls init_pre)."
        )

    def reset(self):
        self.r.value = jnp.zeros(self.r.value.shape)
        self.t_spike.value = u.math.full(self.t_spike.value.shape, -1e7 * u.ms)
        self.g.value = self.g.value * 0

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
