"""Polynomial (dimensionless) spiking models on the model protocol: FitzHugh-Nagumo and
Hindmarsh-Rose.

Variables are dimensionless, time is scaled by ``tau`` (1 ms by default); spikes
are upward crossings of ``V_th``. Integrated with RK4 by default.
"""

from __future__ import annotations

import neurodyn.units as u

from ._model import Model, Parameter

__all__ = ["FitzHughNagumo", "HindmarshRose"]


class _Polynomial(Model):
    input_unit = None
    default_method = "rk4"
    crossing = True
    tau = Parameter(u.ms, 1.0 * u.ms, "positive", doc="time unit")
    V_th = Parameter(None, 1.0, "finite", doc="spikes are upward crossings of V_th")

    def threshold(self, y):
        return y["V"] - self.V_th


class FitzHughNagumo(_Polynomial):
    """FitzHugh (1961) - Nagumo: ``dV/dt = V - V³/3 - w + I``,
    ``dw/dt = (V + a - b w) / tau_w`` (times in units of ``tau``)."""

    a = Parameter(None, 0.7, "finite")
    b = Parameter(None, 0.8, "finite")
    tau_w = Parameter(None, 12.5, "positive")
    variables = {"V": (None, -1.2), "w": (None, -0.6)}

    def vector_field(self, t, y, I):
        """``dV/dt`` and ``dw/dt`` of the class equations, divided by ``tau`` (per ms)."""
        V, w = y["V"], y["w"]
        return {
            "V": (V - V**3 / 3 - w + I) / self.tau,
            "w": ((V + self.a - self.b * w) / self.tau_w) / self.tau,
        }


class HindmarshRose(_Polynomial):
    """Hindmarsh & Rose (1984) bursting neuron.

    Equations::

        dV/dt = y - a V³ + b V² - z + I ;  dy/dt = c - d V² - y ;
        dz/dt = r (s (V - V_rest) - z)
    """

    a = Parameter(None, 1.0, "finite")
    b = Parameter(None, 3.0, "finite")
    c = Parameter(None, 1.0, "finite")
    d = Parameter(None, 5.0, "finite")
    r = Parameter(None, 0.01, "nonnegative")
    s = Parameter(None, 4.0, "finite")
    V_rest = Parameter(None, -1.6, "finite")
    variables = {"V": (None, -1.6), "y": (None, -10.0), "z": (None, 0.0)}

    def vector_field(self, t, y, I):
        """``dV/dt``, ``dy/dt`` and ``dz/dt`` of the class equations, divided by ``tau``
        (per ms).
        """
        V, yy, z = y["V"], y["y"], y["z"]
        return {
            "V": (yy - self.a * V**3 + self.b * V**2 - z + I) / self.tau,
            "y": (self.c - self.d * V**2 - yy) / self.tau,
            "z": (self.r * (self.s * (V - self.V_rest) - z)) / self.tau,
        }
