"""Integrate-and-fire neurons on the model protocol: each model is its parameters, its
variables and a pure vector field; refractoriness, noise, the spike function, adaptation
and the integration method are options of every model (:class:`~neurodyn.dyn.Model`)."""

from __future__ import annotations

import neurodyn.units as u

from ._model import Adaptation, Model, Parameter, derived, heaviside
from ._params import concrete

__all__ = [
    "AbstractIF",
    "Adaptation",
    "LIF",
    "ExpIF",
    "AdEx",
    "QuaIF",
    "AdQuaIF",
    "Izhikevich",
    "GIF",
    "heaviside",
]

_POS = "positive"


class AbstractIF(Model):
    """Integrate-and-fire models: a membrane potential ``V`` that starts at ``V_rest``
    (or ``V_initializer``), a spike when ``V >= V_th``, then ``V <- V_reset``.
    Subclasses add parameters and define ``vector_field``."""

    V_rest = Parameter(u.mV, -65.0 * u.mV, "finite", doc="resting potential")
    V_reset = Parameter(u.mV, -65.0 * u.mV, "finite", doc="potential after a spike")
    V_th = Parameter(u.mV, -50.0 * u.mV, "finite", doc="spike threshold")
    variables = {"V": (u.mV, "V_rest")}

    def check(self):
        th, reset = concrete(self.V_th), concrete(self.V_reset)
        if th is not None and reset is not None:
            import numpy as np

            bad = ~(np.broadcast_to(th, np.broadcast_shapes(th.shape, reset.shape)) > reset)
            if np.any(bad):
                i = tuple(int(k) for k in np.argwhere(bad)[0])
                t_i = float(np.broadcast_to(th, bad.shape)[i])
                r_i = float(np.broadcast_to(reset, bad.shape)[i])
                raise ValueError(
                    f"{self.name}: V_th ({t_i:g} mV) must be above V_reset ({r_i:g} mV); "
                    "otherwise every reset is followed by a spike. Raise V_th or lower V_reset."
                )

    def threshold(self, y):
        """``V - V_th``: a spike where it is ``>= 0``."""
        return y["V"] - self.V_th

    def on_spike(self, y, spiked):
        """``V`` set to ``V_reset`` where ``spiked``; other variables unchanged."""
        return {**y, "V": u.math.where(spiked, self.V_reset, y["V"])}


class LIF(AbstractIF):
    """Leaky integrate-and-fire: ``tau dV/dt = V_rest - V + R I``.

    Example:
        >>> import neurodyn as nd
        >>> import neurodyn.units as u
        >>> lif = nd.dyn.LIF(3, tau=20 * u.ms, V_th=-50 * u.mV, I_ext=300 * u.pA)
        >>> with nd.clock(dt=0.1 * u.ms):
        ...     _ = lif.update()
        >>> lif.V.value.unit
        Unit("mV")
    """

    tau = Parameter(u.ms, 20.0 * u.ms, _POS, doc="membrane time constant")
    R = Parameter(u.Mohm, 100.0 * u.Mohm, _POS, doc="membrane resistance")

    def vector_field(self, t, y, I):
        """``{"V": (V_rest - V + R I) / tau}`` (mV/ms), ``I`` the total input current."""
        return {"V": (self.V_rest - y["V"] + self.R * I) / self.tau}


class ExpIF(AbstractIF):
    """Exponential integrate-and-fire (Fourcaud-Trocmé et al. 2003):
    ``tau dV/dt = V_rest - V + delta_T exp((V - V_T)/delta_T) + R I``."""

    tau = Parameter(u.ms, 10.0 * u.ms, _POS)
    R = Parameter(u.Mohm, 100.0 * u.Mohm, _POS)
    V_reset = Parameter(u.mV, -68.0 * u.mV, "finite")
    V_th = Parameter(u.mV, -30.0 * u.mV, "finite")
    V_T = Parameter(u.mV, -59.9 * u.mV, "finite", doc="threshold of the exponential term")
    delta_T = Parameter(u.mV, 3.48 * u.mV, _POS, doc="slope factor")

    def vector_field(self, t, y, I):
        """``{"V": (V_rest - V + delta_T exp((V - V_T) / delta_T) + R I) / tau}`` (mV/ms)."""
        V = y["V"]
        spike_term = self.delta_T * u.math.exp((V - self.V_T) / self.delta_T)
        return {"V": (self.V_rest - V + spike_term + self.R * I) / self.tau}


def AdEx(size, a=1.0 * u.nS, b=10.0 * u.pA, tau_w=30.0 * u.ms, **kwargs) -> ExpIF:
    """Adaptive exponential integrate-and-fire (Brette & Gerstner 2005): an
    :class:`ExpIF` with an :class:`Adaptation` current::

        tau dV/dt   = V_rest - V + delta_T exp((V - V_T)/delta_T) + R (I - w)
        tau_w dw/dt = a (V - V_rest) - w ;   on spike: V <- V_reset, w <- w + b
    """
    return ExpIF(
        size, adaptation=Adaptation(a, b, tau_w), name=kwargs.pop("name", "AdEx"), **kwargs
    )


class QuaIF(AbstractIF):
    """Quadratic integrate-and-fire: ``tau dV/dt = c (V - V_rest)(V - V_c) + R I``."""

    tau = Parameter(u.ms, 10.0 * u.ms, _POS)
    R = Parameter(u.Mohm, 100.0 * u.Mohm, _POS)
    V_reset = Parameter(u.mV, -68.0 * u.mV, "finite")
    V_th = Parameter(u.mV, -30.0 * u.mV, "finite")
    V_c = Parameter(u.mV, -50.0 * u.mV, "finite", doc="critical voltage")
    c = Parameter(u.mV**-1, 0.07 / u.mV, _POS, doc="curvature")

    def vector_field(self, t, y, I):
        """``{"V": (c (V - V_rest) (V - V_c) + R I) / tau}`` (mV/ms)."""
        V = y["V"]
        return {"V": (self.c * (V - self.V_rest) * (V - self.V_c) + self.R * I) / self.tau}


def AdQuaIF(size, a=1.0 * u.nS, b=10.0 * u.pA, tau_w=30.0 * u.ms, **kwargs) -> QuaIF:
    """Adaptive quadratic integrate-and-fire: a :class:`QuaIF` with an
    :class:`Adaptation` current."""
    return QuaIF(
        size, adaptation=Adaptation(a, b, tau_w), name=kwargs.pop("name", "AdQuaIF"), **kwargs
    )


class Izhikevich(Model):
    """Izhikevich (2003) neuron.

    Equations::

        dV/dt = (0.04 V²/mV + 5 V + 140 mV + R I) / ms - u
        du/dt = a (b V - u) ;   on spike (V >= 30 mV): V <- c, u <- u + d
    """

    a = Parameter(u.ms**-1, 0.02 / u.ms, _POS)
    b = Parameter(u.ms**-1, 0.2 / u.ms, "finite")
    c = Parameter(u.mV, -65.0 * u.mV, "finite", doc="reset potential")
    d = Parameter(u.mV / u.ms, 8.0 * u.mV / u.ms, "finite")
    R = Parameter(u.Mohm, 1.0 * u.Mohm, _POS)
    V_th = Parameter(u.mV, 30.0 * u.mV, "finite")
    variables = {
        "V": (u.mV, -65.0 * u.mV),
        "u": (u.mV / u.ms, derived(lambda m, y: m.b * y["V"])),
    }

    def vector_field(self, t, y, I):
        """``dV/dt`` and ``du/dt`` of the class equations (mV/ms and mV/ms²)."""
        V, w = y["V"], y["u"]
        dV = (0.04 / u.mV * V * V + 5.0 * V + 140.0 * u.mV + self.R * I) / u.ms - w
        return {"V": dV, "u": self.a * (self.b * V - w)}

    def threshold(self, y):
        """``V - V_th``: a spike where it is ``>= 0`` (``V_th`` is the 30 mV peak)."""
        return y["V"] - self.V_th

    def on_spike(self, y, spiked):
        """Where ``spiked``: ``V <- c`` and ``u <- u + d``."""
        return {
            "V": u.math.where(spiked, self.c, y["V"]),
            "u": u.math.where(spiked, y["u"] + self.d, y["u"]),
        }


class GIF(AbstractIF):
    """Generalised integrate-and-fire (Mihalaş & Niebur 2009) with two spike-induced
    currents and an adaptive threshold::

        tau dV/dt = -(V - V_rest) + R (I + I1 + I2)
        dI_j/dt = -k_j I_j ;  dV_th/dt = a (V - V_rest) - b (V_th - V_th_inf)
        on spike: I_j <- R_j I_j + A_j ; V <- V_reset ; V_th <- max(V_th_reset, V_th)
    """

    tau = Parameter(u.ms, 20.0 * u.ms, _POS)
    R = Parameter(u.Mohm, 20.0 * u.Mohm, _POS)
    V_rest = Parameter(u.mV, -70.0 * u.mV, "finite")
    V_reset = Parameter(u.mV, -70.0 * u.mV, "finite")
    V_th = Parameter(u.mV, -50.0 * u.mV, "finite", doc="set from V_th_inf")
    V_th_inf = Parameter(u.mV, -50.0 * u.mV, "finite")
    V_th_reset = Parameter(u.mV, -60.0 * u.mV, "finite")
    k1 = Parameter(u.ms**-1, 0.2 / u.ms, "nonnegative")
    k2 = Parameter(u.ms**-1, 0.02 / u.ms, "nonnegative")
    R1 = Parameter(None, 0.0, "finite")
    R2 = Parameter(None, 1.0, "finite")
    A1 = Parameter(u.pA, 0.0 * u.pA, "finite")
    A2 = Parameter(u.pA, 0.0 * u.pA, "finite")
    a = Parameter(u.ms**-1, 0.0 / u.ms, "finite")
    b = Parameter(u.ms**-1, 0.01 / u.ms, "nonnegative")
    variables = {
        "V": (u.mV, "V_rest"),
        "I1": (u.pA, 0.0 * u.pA),
        "I2": (u.pA, 0.0 * u.pA),
        "V_thr": (u.mV, "V_th_inf"),
    }

    def __init__(self, size, **kwargs):
        if "V_th" in kwargs:
            raise TypeError("GIF: the threshold is a variable; set V_th_inf (and V_th_reset).")
        if "V_th_inf" in kwargs:
            kwargs["V_th"] = kwargs["V_th_inf"]
        super().__init__(size, **kwargs)

    def vector_field(self, t, y, I):
        """The derivatives of ``V``, ``I1``, ``I2`` and the threshold ``V_thr`` (class
        equations).
        """
        V = y["V"]
        dV = (self.V_rest - V + self.R * (I + y["I1"] + y["I2"])) / self.tau
        dth = self.a * (V - self.V_rest) - self.b * (y["V_thr"] - self.V_th_inf)
        return {"V": dV, "I1": -self.k1 * y["I1"], "I2": -self.k2 * y["I2"], "V_thr": dth}

    def threshold(self, y):
        """``V - V_thr``: the potential against the adaptive threshold of the same time."""
        # the new V is tested against the threshold of the same time point (as Brian2)
        return y["V"] - y["V_thr"]

    def on_spike(self, y, spiked):
        """Where ``spiked``: ``V <- V_reset``, ``I_j <- R_j I_j + A_j`` and
        ``V_thr <- max(V_th_reset, V_thr)``.
        """
        return {
            "V": u.math.where(spiked, self.V_reset, y["V"]),
            "I1": u.math.where(spiked, self.R1 * y["I1"] + self.A1, y["I1"]),
            "I2": u.math.where(spiked, self.R2 * y["I2"] + self.A2, y["I2"]),
            "V_thr": u.math.where(spiked, u.math.maximum(self.V_th_reset, y["V_thr"]), y["V_thr"]),
        }
