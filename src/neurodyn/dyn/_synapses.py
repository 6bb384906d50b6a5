"""Synaptic dynamics (post-aligned: one state per postsynaptic neuron) and outputs."""

from __future__ import annotations

import math

import jax.numpy as jnp

import neurodyn.units as u
from neurodyn.state import Hidden, Module

from . import _clock
from ._base import param

__all__ = [
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
    Integrated exactly (``g <- g exp(-dt/tau) + x``)."""

    def __init__(self, tau=5.0 * u.ms):
        self.tau = param(tau, u.ms, "tau", "Expon")

    def init(self, shape, unit):
        self.g = Hidden(jnp.zeros(shape) * unit)

    def update(self, x):
        decay = u.math.exp(-_clock.dt() / self.tau)
        self.g.value = self.g.value * decay + x
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
