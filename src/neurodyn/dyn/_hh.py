"""Conductance-based (Hodgkin-Huxley type) neurons.

Parameters are densities (uF/cm², mS/cm²) times a membrane ``area``, so synaptic
currents (pA, from projections) and densities combine with the right units.
Spikes are upward crossings of ``V_th``. All variables are advanced together by
exponential Euler (exact for the gating variables at fixed V) unless ``method=`` names
another fixed-step method (``"rk4"``, ...).
"""

from __future__ import annotations

import weakref

import jax
import jax.numpy as jnp

import neurodyn.units as u
from neurodyn.state import Hidden

from . import _clock
from ._base import SpikingNeuron, param, reset_in_place, resolve_method
from ._init import initialize

__all__ = ["AbstractHH", "HH", "HHTraub", "WangBuzsaki", "MorrisLecar"]

_PER_MS = 1.0 / u.ms
_STEADY_STATE_JIT: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _exprel(x):
    """x / (exp(x) - 1), safe at 0 (the usual HH rate form)."""
    small = jnp.abs(x) < 1e-4
    safe = jnp.where(small, 1.0, x)
    return jnp.where(small, 1.0 - x / 2.0, safe / jnp.expm1(safe))


class AbstractHH(SpikingNeuron):
    """Shared mechanics: ``C dV/dt = -I_ion(V, gates) + I`` with gates following
    ``dx/dt = alpha(V)(1 - x) - beta(V) x`` (or the subclass's ``gate_derivatives``)."""

    gates: tuple[str, ...] = ()

    def __init__(
        self,
        size,
        *,
        C,
        area,
        V_th,
        V_initializer,
        I_ext=0.0 * u.pA,
        method="exp_euler",
        name=None,
    ):
        super().__init__(size, name)
        self.method = resolve_method(method, self.name)
        self.C = param(C, u.uF / u.cm**2, "C", self.name)
        self.area = param(area, u.um**2, "area", self.name)
        self.V_th = param(V_th, u.mV, "V_th", self.name)
        self.I_ext = param(I_ext, u.pA, "I_ext", self.name, self.varshape)
        self.V_initializer = V_initializer
        self.init_state()

    def steady_state(self, V) -> dict:
        """Gate values at rest for the membrane potential ``V`` (alpha / (alpha + beta))."""
        v = V.to_value(u.mV)
        return {g: a / (a + b) for g, (a, b) in self.rates(v).items()}

    def _steady_state_compiled(self, V) -> dict:
        # one compiled call instead of ~100 eager ops, each compiled on first use (~1.5 s
        # for the first HH population of a process); cached per population
        fn = _STEADY_STATE_JIT.get(self)
        if fn is None:
            fn = _STEADY_STATE_JIT[self] = jax.jit(self.steady_state)
        return fn(V)

    def init_state(self, batch_size=None, **kwargs):
        shape = self.varshape if batch_size is None else (batch_size, *self.varshape)
        self.V = Hidden(initialize(self.V_initializer, shape, u.mV, f"{self.name}.V"))
        for g, val in self._steady_state_compiled(self.V.value).items():
            setattr(self, g, Hidden(jnp.broadcast_to(val, shape) * 1.0))
        self.spike = Hidden(jnp.zeros(shape, bool))

    def reset_state(self, batch_size=None, **kwargs):
        reset_in_place(self, batch_size)

    def rates(self, v) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError

    def ionic_density(self, V, y):  # pragma: no cover - abstract
        """Total ionic current density (uA/cm²), positive outward."""
        raise NotImplementedError

    def gate_derivatives(self, v, y) -> dict:
        return {g: (a * (1 - y[g]) - b * y[g]) * _PER_MS for g, (a, b) in self.rates(v).items()}

    def derivatives(self, t, y, I):
        V = y["V"]
        cap = self.C * self.area
        dV = (I - self.ionic_density(V, y) * self.area) / cap
        out = {"V": dV}
        out.update(self.gate_derivatives(V.to_value(u.mV), y))
        return out

    def update(self, I_ext=None):
        dt, t = _clock.dt(), _clock.t()
        states = {"V": self.V, **{g: getattr(self, g) for g in self.gates}}
        y = {k: s.value for k, s in states.items()}
        extra = self.I_ext if I_ext is None else self.I_ext + I_ext

        def f(t, y):
            return self.derivatives(t, y, self.input_current(y["V"], extra))

        y_new = self.method.step(f, y, t, dt)
        spike = (y_new["V"] >= self.V_th) & (y["V"] < self.V_th)
        for k, s in states.items():
            s.value = y_new[k]
        self.spike.value = spike
        return spike


class HH(AbstractHH):
    """The Hodgkin-Huxley squid axon model (6.3 °C rates, as in BrainPy's ``HH``)."""

    gates = ("m", "h", "n")

    def __init__(
        self,
        size,
        C=1.0 * u.uF / u.cm**2,
        g_Na=120.0 * u.mS / u.cm**2,
        g_K=36.0 * u.mS / u.cm**2,
        g_L=0.03 * u.mS / u.cm**2,
        E_Na=50.0 * u.mV,
        E_K=-77.0 * u.mV,
        E_L=-54.387 * u.mV,
        area=20000.0 * u.um**2,
        V_th=20.0 * u.mV,
        V_initializer=-65.0 * u.mV,
        **kwargs,
    ):
        dens = u.mS / u.cm**2
        self.g_Na, self.g_K = param(g_Na, dens, "g_Na", "HH"), param(g_K, dens, "g_K", "HH")
        self.g_L = param(g_L, dens, "g_L", "HH")
        self.E_Na, self.E_K = param(E_Na, u.mV, "E_Na", "HH"), param(E_K, u.mV, "E_K", "HH")
        self.E_L = param(E_L, u.mV, "E_L", "HH")
        super().__init__(size, C=C, area=area, V_th=V_th, V_initializer=V_initializer, **kwargs)

    def rates(self, v):
        return {
            "m": (1.0 * _exprel(-(v + 40) / 10), 4.0 * jnp.exp(-(v + 65) / 18)),
            "h": (0.07 * jnp.exp(-(v + 65) / 20), 1 / (1 + jnp.exp(-(v + 35) / 10))),
            "n": (0.1 * _exprel(-(v + 55) / 10), 0.125 * jnp.exp(-(v + 65) / 80)),
        }

    def ionic_density(self, V, y):
        m, h, n = y["m"], y["h"], y["n"]
        i = self.g_Na * m**3 * h * (V - self.E_Na) + self.g_K * n**4 * (V - self.E_K)
        return (i + self.g_L * (V - self.E_L)).to(u.uA / u.cm**2)


class HHTraub(AbstractHH):
    """Traub-Miles type HH neuron of the Brette et al. (2007) COBA-HH benchmark
    (Brian2's ``COBAHH`` example): area 20000 um², g_Na 100, g_K 30 mS/cm²,
    g_L 5e-5 S/cm², E_L -60, E_K -90, E_Na 50 mV, V_T -63 mV."""

    gates = ("m", "h", "n")

    def __init__(
        self,
        size,
        C=1.0 * u.uF / u.cm**2,
        g_Na=100.0 * u.mS / u.cm**2,
        g_K=30.0 * u.mS / u.cm**2,
        g_L=0.05 * u.mS / u.cm**2,
        E_Na=50.0 * u.mV,
        E_K=-90.0 * u.mV,
        E_L=-60.0 * u.mV,
        V_T=-63.0 * u.mV,
        area=20000.0 * u.um**2,
        V_th=-20.0 * u.mV,
        V_initializer=-60.0 * u.mV,
        **kwargs,
    ):
        dens = u.mS / u.cm**2
        self.g_Na, self.g_K = (
            param(g_Na, dens, "g_Na", "HHTraub"),
            param(g_K, dens, "g_K", "HHTraub"),
        )
        self.g_L = param(g_L, dens, "g_L", "HHTraub")
        self.E_Na, self.E_K = (
            param(E_Na, u.mV, "E_Na", "HHTraub"),
            param(E_K, u.mV, "E_K", "HHTraub"),
        )
        self.E_L = param(E_L, u.mV, "E_L", "HHTraub")
        self.V_T = float(param(V_T, u.mV, "V_T", "HHTraub").to_value(u.mV))
        super().__init__(size, C=C, area=area, V_th=V_th, V_initializer=V_initializer, **kwargs)

    def rates(self, v):
        vt = self.V_T
        return {
            "m": (0.32 * 4 * _exprel((13 - v + vt) / 4), 0.28 * 5 * _exprel((v - vt - 40) / 5)),
            "h": (0.128 * jnp.exp((17 - v + vt) / 18), 4.0 / (1 + jnp.exp((40 - v + vt) / 5))),
            "n": (0.032 * 5 * _exprel((15 - v + vt) / 5), 0.5 * jnp.exp((10 - v + vt) / 40)),
        }

    def ionic_density(self, V, y):
        m, h, n = y["m"], y["h"], y["n"]
        i = self.g_Na * m**3 * h * (V - self.E_Na) + self.g_K * n**4 * (V - self.E_K)
        return (i + self.g_L * (V - self.E_L)).to(u.uA / u.cm**2)


class WangBuzsaki(AbstractHH):
    """Wang & Buzsáki (1996) fast-spiking interneuron (instantaneous m, phi = 5)."""

    gates = ("h", "n")

    def __init__(
        self,
        size,
        C=1.0 * u.uF / u.cm**2,
        g_Na=35.0 * u.mS / u.cm**2,
        g_K=9.0 * u.mS / u.cm**2,
        g_L=0.1 * u.mS / u.cm**2,
        E_Na=55.0 * u.mV,
        E_K=-90.0 * u.mV,
        E_L=-65.0 * u.mV,
        phi=5.0,
        area=20000.0 * u.um**2,
        V_th=0.0 * u.mV,
        V_initializer=-65.0 * u.mV,
        **kwargs,
    ):
        dens = u.mS / u.cm**2
        self.g_Na, self.g_K = param(g_Na, dens, "g_Na", "WB"), param(g_K, dens, "g_K", "WB")
        self.g_L = param(g_L, dens, "g_L", "WB")
        self.E_Na, self.E_K = param(E_Na, u.mV, "E_Na", "WB"), param(E_K, u.mV, "E_K", "WB")
        self.E_L, self.phi = param(E_L, u.mV, "E_L", "WB"), phi
        super().__init__(size, C=C, area=area, V_th=V_th, V_initializer=V_initializer, **kwargs)

    def rates(self, v):
        return {
            "h": (0.07 * jnp.exp(-(v + 58) / 20), 1 / (jnp.exp(-0.1 * (v + 28)) + 1)),
            "n": (0.1 * _exprel(-0.1 * (v + 34)), 0.125 * jnp.exp(-(v + 44) / 80)),
        }

    def gate_derivatives(self, v, y):
        base = super().gate_derivatives(v, y)
        return {k: self.phi * val for k, val in base.items()}

    def ionic_density(self, V, y):
        v = V.to_value(u.mV)
        am, bm = 1.0 * _exprel(-0.1 * (v + 35)), 4.0 * jnp.exp(-(v + 60) / 18)
        m_inf = am / (am + bm)
        i = self.g_Na * m_inf**3 * y["h"] * (V - self.E_Na) + self.g_K * y["n"] ** 4 * (
            V - self.E_K
        )
        return (i + self.g_L * (V - self.E_L)).to(u.uA / u.cm**2)


class MorrisLecar(AbstractHH):
    """Morris-Lecar (1981) model: instantaneous Ca²⁺ activation, K⁺ gate ``w``."""

    gates = ("w",)

    def __init__(
        self,
        size,
        C=20.0 * u.uF / u.cm**2,
        g_Ca=4.4 * u.mS / u.cm**2,
        g_K=8.0 * u.mS / u.cm**2,
        g_L=2.0 * u.mS / u.cm**2,
        E_Ca=120.0 * u.mV,
        E_K=-84.0 * u.mV,
        E_L=-60.0 * u.mV,
        V1=-1.2,
        V2=18.0,
        V3=2.0,
        V4=30.0,
        phi=0.04,
        area=20000.0 * u.um**2,
        V_th=10.0 * u.mV,
        V_initializer=-60.0 * u.mV,
        **kwargs,
    ):
        dens = u.mS / u.cm**2
        self.g_Ca, self.g_K = param(g_Ca, dens, "g_Ca", "ML"), param(g_K, dens, "g_K", "ML")
        self.g_L = param(g_L, dens, "g_L", "ML")
        self.E_Ca, self.E_K = param(E_Ca, u.mV, "E_Ca", "ML"), param(E_K, u.mV, "E_K", "ML")
        self.E_L = param(E_L, u.mV, "E_L", "ML")
        self.V1, self.V2, self.V3, self.V4, self.phi = V1, V2, V3, V4, phi
        super().__init__(size, C=C, area=area, V_th=V_th, V_initializer=V_initializer, **kwargs)

    def steady_state(self, V):
        v = V.to_value(u.mV)
        return {"w": 0.5 * (1 + jnp.tanh((v - self.V3) / self.V4))}

    def gate_derivatives(self, v, y):
        w_inf = 0.5 * (1 + jnp.tanh((v - self.V3) / self.V4))
        tau_w = 1 / jnp.cosh((v - self.V3) / (2 * self.V4))
        return {"w": self.phi * (w_inf - y["w"]) / tau_w * _PER_MS}

    def ionic_density(self, V, y):
        v = V.to_value(u.mV)
        m_inf = 0.5 * (1 + jnp.tanh((v - self.V1) / self.V2))
        i = self.g_Ca * m_inf * (V - self.E_Ca) + self.g_K * y["w"] * (V - self.E_K)
        return (i + self.g_L * (V - self.E_L)).to(u.uA / u.cm**2)
