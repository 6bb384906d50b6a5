"""Polynomial (dimensionless) spiking models: FitzHugh-Nagumo and Hindmarsh-Rose.

Variables are dimensionless, time is scaled by ``tau`` (1 ms by default); spikes
are upward crossings of ``V_th``. Integrated with RK4 by default.
"""

from __future__ import annotations

import jax.numpy as jnp

import neurodyn.units as u
from neurodyn.integrate import get_method
from neurodyn.state import Hidden

from . import _clock
from ._base import SpikingNeuron, param, reset_in_place

__all__ = ["FitzHughNagumo", "HindmarshRose"]


class _Polynomial(SpikingNeuron):
    variables: tuple[str, ...] = ()

    def __init__(self, size, tau=1.0 * u.ms, V_th=1.0, method="rk4", I_ext=0.0, name=None, **init):
        super().__init__(size, name)
        self.tau = param(tau, u.ms, "tau", self.name)
        self.V_th, self.I_ext = V_th, I_ext
        self.method = get_method(method)
        self._init = init
        self.init_state()

    def init_state(self, batch_size=None, **kwargs):
        shape = self.varshape if batch_size is None else (batch_size, *self.varshape)
        for v in self.variables:
            setattr(self, v, Hidden(jnp.full(shape, float(self._init.get(v, 0.0)))))
        self.spike = Hidden(jnp.zeros(shape, bool))

    def reset_state(self, batch_size=None, **kwargs):
        reset_in_place(self, batch_size)

    def update(self, I_ext=None):
        inp = self.I_ext if I_ext is None else self.I_ext + I_ext
        y = {v: getattr(self, v).value for v in self.variables}
        y_new = self.method.step(lambda t, y: self.derivatives(y, inp), y, _clock.t(), _clock.dt())
        V_old, V = y[self.variables[0]], y_new[self.variables[0]]
        spike = (V >= self.V_th) & (V_old < self.V_th)
        for v in self.variables:
            getattr(self, v).value = y_new[v]
        self.spike.value = spike
        return spike


class FitzHughNagumo(_Polynomial):
    """FitzHugh (1961) - Nagumo: ``dV/dt = V - V³/3 - w + I``,
    ``dw/dt = (V + a - b w) / tau_w`` (times in units of ``tau``)."""

    variables = ("V", "w")

    def __init__(self, size, a=0.7, b=0.8, tau_w=12.5, **kwargs):
        self.a, self.b, self.tau_w = a, b, tau_w
        kwargs.setdefault("V", -1.2)
        kwargs.setdefault("w", -0.6)
        super().__init__(size, **kwargs)

    def derivatives(self, y, inp):
        V, w = y["V"], y["w"]
        return {
            "V": (V - V**3 / 3 - w + inp) / self.tau,
            "w": ((V + self.a - self.b * w) / self.tau_w) / self.tau,
        }


class HindmarshRose(_Polynomial):
    """Hindmarsh & Rose (1984) bursting neuron::

    dV/dt = y - a V³ + b V² - z + I ;  dy/dt = c - d V² - y ;
    dz/dt = r (s (V - V_rest) - z)
    """

    variables = ("V", "y", "z")

    def __init__(self, size, a=1.0, b=3.0, c=1.0, d=5.0, r=0.01, s=4.0, V_rest=-1.6, **kwargs):
        self.a, self.b, self.c, self.d, self.r, self.s, self.V_rest = a, b, c, d, r, s, V_rest
        kwargs.setdefault("V", -1.6)
        kwargs.setdefault("y", -10.0)
        super().__init__(size, **kwargs)

    def derivatives(self, y, inp):
        V, yy, z = y["V"], y["y"], y["z"]
        return {
            "V": (yy - self.a * V**3 + self.b * V**2 - z + inp) / self.tau,
            "y": (self.c - self.d * V**2 - yy) / self.tau,
            "z": (self.r * (self.s * (V - self.V_rest) - z)) / self.tau,
        }
