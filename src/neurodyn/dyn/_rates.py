"""Rate (population) models. Each integrates its variables with a method from
:mod:`neurodyn.integrate` (RK4 by default); external input is ``update(inp)``."""

from __future__ import annotations

import jax.numpy as jnp

import neurodyn.units as u
from neurodyn.integrate import get_method
from neurodyn.state import Hidden

from . import _clock
from ._base import Dynamics, param, reset_in_place, size_of

__all__ = [
    "RateModel",
    "WilsonCowan",
    "StuartLandau",
    "QIFMeanField",
    "ThresholdLinear",
    "JansenRit",
]


class RateModel(Dynamics):
    """Shared mechanics: States named in ``variables``, ``derivatives(t, y, inp)``."""

    variables: tuple[str, ...] = ()

    def __init__(self, size, method: str = "rk4", name: str | None = None, **init):
        self.varshape = size_of(size)
        self.name = name or type(self).__name__
        self.method = get_method(method)
        self._init = init
        self.init_state()

    def init_state(self, batch_size=None, **kwargs):
        shape = self.varshape if batch_size is None else (batch_size, *self.varshape)
        for v in self.variables:
            val = self._init.get(v, 0.0)
            arr = jnp.broadcast_to(jnp.asarray(u.get_mantissa(val), float), shape) * 1.0
            setattr(
                self,
                v,
                Hidden(u.Quantity(arr, u.get_unit(val)) if isinstance(val, u.Quantity) else arr),
            )

    def reset_state(self, batch_size=None, **kwargs):
        reset_in_place(self, batch_size)

    def derivatives(self, t, y, inp):  # pragma: no cover - abstract
        raise NotImplementedError

    def update(self, inp=0.0):
        y = {v: getattr(self, v).value for v in self.variables}
        y = self.method.step(lambda t, y: self.derivatives(t, y, inp), y, _clock.t(), _clock.dt())
        for v in self.variables:
            getattr(self, v).value = y[v]
        return y[self.variables[0]]


def _sigmoid(x, a, theta):
    return 1 / (1 + jnp.exp(-a * (x - theta))) - 1 / (1 + jnp.exp(a * theta))


class WilsonCowan(RateModel):
    """Wilson & Cowan (1972) excitatory/inhibitory populations::

    tau_E dE/dt = -E + (1 - r E) S_E(w_EE E - w_EI I + P + inp)
    tau_I dI/dt = -I + (1 - r I) S_I(w_IE E - w_II I + Q)
    """

    variables = ("E", "I")

    def __init__(
        self,
        size=1,
        tau_E=1.0 * u.ms,
        tau_I=1.0 * u.ms,
        a_E=1.3,
        theta_E=4.0,
        a_I=2.0,
        theta_I=3.7,
        w_EE=16.0,
        w_EI=12.0,
        w_IE=15.0,
        w_II=3.0,
        r=1.0,
        P=1.25,
        Q=0.0,
        **kwargs,
    ):
        self.tau_E = param(tau_E, u.ms, "tau_E", "WilsonCowan")
        self.tau_I = param(tau_I, u.ms, "tau_I", "WilsonCowan")
        self.a_E, self.theta_E, self.a_I, self.theta_I = a_E, theta_E, a_I, theta_I
        self.w_EE, self.w_EI, self.w_IE, self.w_II = w_EE, w_EI, w_IE, w_II
        self.r, self.P, self.Q = r, P, Q
        super().__init__(size, **kwargs)

    def derivatives(self, t, y, inp):
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

    variables = ("x", "y")

    def __init__(self, size=1, a=0.25, w=0.2, tau=1.0 * u.ms, x0=0.1, y0=0.0, **kwargs):
        self.a, self.w = a, w
        self.tau = param(tau, u.ms, "tau", "StuartLandau")
        super().__init__(size, x=x0, y=y0, **kwargs)

    def derivatives(self, t, y, inp):
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

    variables = ("r", "v")

    def __init__(self, size=1, tau=10.0 * u.ms, eta=-5.0, delta=1.0, J=15.0, **kwargs):
        self.tau = param(tau, u.ms, "tau", "QIFMeanField")
        self.eta, self.delta, self.J = eta, delta, J
        super().__init__(size, r=0.0 * u.Hz, v=-2.0, **kwargs)

    def derivatives(self, t, y, inp):
        r, v = y["r"], y["v"]
        tr = r * self.tau  # dimensionless
        dr = (self.delta / (jnp.pi * self.tau) + 2 * r * v) / self.tau
        dv = (v * v + self.eta + self.J * tr - (jnp.pi * tr) ** 2 + inp) / self.tau
        return {"r": dr.to(u.Hz / u.ms), "v": dv}


class ThresholdLinear(RateModel):
    """Threshold-linear network: ``tau dr/dt = -r + max(0, W r + inp)``."""

    variables = ("r",)

    def __init__(self, size, W=None, tau=10.0 * u.ms, **kwargs):
        self.tau = param(tau, u.ms, "tau", "ThresholdLinear")
        n = size_of(size)[-1]
        self.W = jnp.zeros((n, n)) if W is None else jnp.asarray(W, float)
        super().__init__(size, **kwargs)

    def derivatives(self, t, y, inp):
        r = y["r"]
        return {"r": (-r + jnp.maximum(0.0, r @ self.W.T + inp)) / self.tau}


class JansenRit(RateModel):
    """Jansen & Rit (1995) cortical column (pyramidal cells with excitatory and
    inhibitory interneurons); ``y1 - y2`` is the EEG-like output (mV)."""

    variables = ("y0", "y1", "y2", "y3", "y4", "y5")

    def __init__(
        self,
        size=1,
        A=3.25,
        B=22.0,
        a=100.0,
        b=50.0,
        C=135.0,
        e0=2.5,
        v0=6.0,
        r=0.56,
        p=220.0,
        **kwargs,
    ):
        self.A, self.B, self.a, self.b, self.C = A, B, a, b, C
        self.e0, self.v0, self.r, self.p = e0, v0, r, p
        super().__init__(size, **kwargs)

    def _S(self, v):
        return 2 * self.e0 / (1 + jnp.exp(self.r * (self.v0 - v)))

    def derivatives(self, t, y, inp):
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
