"""Rate (population) models. Each integrates its variables with a method from
:mod:`neurodyn.integrate` (RK4 by default); external input is ``update(inp)``."""

from __future__ import annotations

import jax.numpy as jnp

import neurodyn.units as u

from ._base import size_of
from ._model import Model, Parameter

__all__ = [
    "RateModel",
    "WilsonCowan",
    "StuartLandau",
    "QIFMeanField",
    "ThresholdLinear",
    "JansenRit",
]


class RateModel(Model):
    """Rate models: a :class:`Model` without a threshold, integrated with RK4 by
    default; ``update(inp)`` adds ``inp`` to the input of the first variable and returns
    that variable. Initial values are given by variable name (``E=0.1``)."""

    input_unit = None
    default_method = "rk4"

    def __init__(self, size=1, **kwargs):
        super().__init__(size, **kwargs)

    def update(self, inp=None):
        self.integrate_and_fire(inp)
        return getattr(self, next(iter(self.variables))).value


def _sigmoid(x, a, theta):
    return 1 / (1 + jnp.exp(-a * (x - theta))) - 1 / (1 + jnp.exp(a * theta))


class WilsonCowan(RateModel):
    """Wilson & Cowan (1972) excitatory/inhibitory populations.

    Equations::

        tau_E dE/dt = -E + (1 - r E) S_E(w_EE E - w_EI I + P + inp)
        tau_I dI/dt = -I + (1 - r I) S_I(w_IE E - w_II I + Q)
    """

    tau_E = Parameter(u.ms, 1.0 * u.ms, "positive")
    tau_I = Parameter(u.ms, 1.0 * u.ms, "positive")
    a_E = Parameter(None, 1.3, "positive")
    theta_E = Parameter(None, 4.0, "finite")
    a_I = Parameter(None, 2.0, "positive")
    theta_I = Parameter(None, 3.7, "finite")
    w_EE = Parameter(None, 16.0, "finite")
    w_EI = Parameter(None, 12.0, "finite")
    w_IE = Parameter(None, 15.0, "finite")
    w_II = Parameter(None, 3.0, "finite")
    r = Parameter(None, 1.0, "nonnegative")
    P = Parameter(None, 1.25, "finite")
    Q = Parameter(None, 0.0, "finite")
    variables = {"E": (None, 0.0), "I": (None, 0.0)}

    def vector_field(self, t, y, inp):
        """``dE/dt`` and ``dI/dt`` of the class equations (per ms); ``inp`` adds to the
        excitatory population's input.
        """
        E, I = y["E"], y["I"]
        xe = self.w_EE * E - self.w_EI * I + self.P + inp
        xi = self.w_IE * E - self.w_II * I + self.Q
        dE = (-E + (1 - self.r * E) * _sigmoid(xe, self.a_E, self.theta_E)) / self.tau_E
        dI = (-I + (1 - self.r * I) * _sigmoid(xi, self.a_I, self.theta_I)) / self.tau_I
        return {"E": dE, "I": dI}


class StuartLandau(RateModel):
    """Normal form of the supercritical Hopf bifurcation::

        tau dx/dt = (a - x² - y²) x - w y + inp ;  tau dy/dt = (a - x² - y²) y + w x

    For ``a > 0`` the limit cycle has radius sqrt(a) and angular frequency w / tau.
    """

    a = Parameter(None, 0.25, "finite")
    w = Parameter(None, 0.2, "finite")
    tau = Parameter(u.ms, 1.0 * u.ms, "positive")
    variables = {"x": (None, 0.1), "y": (None, 0.0)}

    def __init__(self, size=1, x0=None, y0=None, **kwargs):
        if x0 is not None:
            kwargs["x"] = x0
        if y0 is not None:
            kwargs["y"] = y0
        super().__init__(size, **kwargs)

    def vector_field(self, t, y, inp):
        """``dx/dt`` and ``dy/dt`` of the class equations (per ms); ``inp`` drives ``x``."""
        x, yy = y["x"], y["y"]
        r2 = x * x + yy * yy
        return {
            "x": ((self.a - r2) * x - self.w * yy + inp) / self.tau,
            "y": ((self.a - r2) * yy + self.w * x) / self.tau,
        }


class QIFMeanField(RateModel):
    """Exact mean field of quadratic integrate-and-fire neurons with Lorentzian
    heterogeneity (Montbrió, Pazó & Roxin 2015), in units of the membrane time::

        tau dr/dt = Delta / (pi tau) + 2 r v
        tau dv/dt = v² + eta + J tau r - (pi tau r)² + inp

    ``r`` is a rate (Hz), ``v`` the mean (dimensionless) potential.
    """

    tau = Parameter(u.ms, 10.0 * u.ms, "positive")
    eta = Parameter(None, -5.0, "finite")
    delta = Parameter(None, 1.0, "nonnegative")
    J = Parameter(None, 15.0, "finite")
    variables = {"r": (u.Hz, 0.0 * u.Hz), "v": (None, -2.0)}

    def vector_field(self, t, y, inp):
        """``dr/dt`` (Hz/ms) and ``dv/dt`` (per ms) of the class equations; ``inp`` adds to
        ``eta``.
        """
        r, v = y["r"], y["v"]
        tr = r * self.tau  # dimensionless
        dr = (self.delta / (jnp.pi * self.tau) + 2 * r * v) / self.tau
        dv = (v * v + self.eta + self.J * tr - (jnp.pi * tr) ** 2 + inp) / self.tau
        return {"r": dr.to(u.Hz / u.ms), "v": dv}


class ThresholdLinear(RateModel):
    """Threshold-linear network: ``tau dr/dt = -r + max(0, W r + inp)``."""

    tau = Parameter(u.ms, 10.0 * u.ms, "positive")
    variables = {"r": (None, 0.0)}
    checkpoint_attrs = (*Model.checkpoint_attrs, "W")

    def __init__(self, size, W=None, **kwargs):
        n = size_of(size)[-1]
        W = jnp.zeros((n, n)) if W is None else jnp.asarray(W, float)
        if W.shape != (n, n):
            raise ValueError(f"ThresholdLinear: W must be ({n}, {n}) for {n} units; got {W.shape}.")
        self.W = W
        super().__init__(size, **kwargs)

    def vector_field(self, t, y, inp):
        """``{"r": (-r + max(0, W r + inp)) / tau}`` (per ms)."""
        r = y["r"]
        return {"r": (-r + jnp.maximum(0.0, r @ self.W.T + inp)) / self.tau}


class JansenRit(RateModel):
    """Jansen & Rit (1995) cortical column (pyramidal cells with excitatory and
    inhibitory interneurons); ``y1 - y2`` is the EEG-like output (mV)."""

    A = Parameter(None, 3.25, "positive", doc="excitatory gain (mV)")
    B = Parameter(None, 22.0, "positive", doc="inhibitory gain (mV)")
    a = Parameter(None, 100.0, "positive", doc="1/s")
    b = Parameter(None, 50.0, "positive", doc="1/s")
    C = Parameter(None, 135.0, "positive")
    e0 = Parameter(None, 2.5, "positive")
    v0 = Parameter(None, 6.0, "finite")
    r = Parameter(None, 0.56, "positive")
    p = Parameter(None, 220.0, "finite")
    variables = {f"y{k}": (None, 0.0) for k in range(6)}

    def _S(self, v):
        return 2 * self.e0 / (1 + jnp.exp(self.r * (self.v0 - v)))

    def vector_field(self, t, y, inp):
        """The derivatives of ``y0`` ... ``y5`` (per ms; the standard equations in seconds,
        converted); ``inp`` adds to the external input ``p``.
        """
        # the standard equations in seconds (a, b in 1/s; y3..y5 in mV/s), then per ms
        A, B, a, b, C = self.A, self.B, self.a, self.b, self.C
        y0, y1, y2, y3, y4, y5 = (y[k] for k in self.variables)
        p = self.p + inp
        f = {
            "y0": y3,
            "y1": y4,
            "y2": y5,
            "y3": A * a * self._S(y1 - y2) - 2 * a * y3 - a * a * y0,
            "y4": A * a * (p + 0.8 * C * self._S(C * y0)) - 2 * a * y4 - a * a * y1,
            "y5": B * b * 0.25 * C * self._S(0.25 * C * y0) - 2 * b * y5 - b * b * y2,
        }
        return {k: v * 1e-3 / u.ms for k, v in f.items()}
