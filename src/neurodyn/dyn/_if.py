"""Integrate-and-fire neurons. One small class per model; refractoriness, noise and
the spike function are parameters that compose with every model."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

import neurodyn.units as u
from neurodyn.state import Hidden, random

from . import _clock
from ._base import SpikingNeuron, materialize, param, resolve_method
from ._init import initialize

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


def heaviside(x):
    """The default spike function: ``x >= 0`` (x = V - V_th, in mV)."""
    return x >= 0


class Adaptation:
    """A spike-triggered adaptation current ``w`` that composes with any IF model::

        tau_w dw/dt = a (V - V_rest) - w ;  on a spike: w <- w + b

    ``w`` is subtracted from the neuron's input current. ``ExpIF(...,
    adaptation=Adaptation(...))`` is the AdEx model; with ``LIF`` it is an
    adaptive LIF.
    """

    def __init__(self, a=1.0 * u.nS, b=10.0 * u.pA, tau_w=30.0 * u.ms):
        self.a = param(a, u.nS, "a", "Adaptation")
        self.b = param(b, u.pA, "b", "Adaptation")
        self.tau_w = param(tau_w, u.ms, "tau_w", "Adaptation")

    def derivative(self, V, w, V_rest):
        return (self.a * (V - V_rest) - w) / self.tau_w


class AbstractIF(SpikingNeuron):
    """Mechanics shared by integrate-and-fire models: integration of ``derivatives``
    (exponential Euler by default; ``method="rk4"``, ``"euler"``, ... or any fixed-step
    :class:`~neurodyn.integrate.ODEMethod`), threshold crossing through ``spike_fn``,
    reset, absolute refractoriness ``tau_ref`` (V held at V_reset) and optional white
    noise ``noise`` (standard deviation of V per sqrt(time), in mV/sqrt(ms)).

    Subclasses define ``derivatives(t, y, I)`` over the dict ``y`` of their
    variables (``{"V": ...}`` plus e.g. an adaptation current) and ``on_spike``.
    """

    def __init__(
        self,
        size,
        *,
        V_rest,
        V_reset,
        V_th,
        adaptation: Adaptation | None = None,
        tau_ref=0.0 * u.ms,
        V_initializer=None,
        noise=None,
        spike_fn: Callable = heaviside,
        I_ext=0.0 * u.pA,
        method="exp_euler",
        name=None,
    ):
        super().__init__(size, name)
        owner = self.name
        self.method = resolve_method(method, owner)
        self.V_rest = param(V_rest, u.mV, "V_rest", owner, self.varshape)
        self.V_reset = param(V_reset, u.mV, "V_reset", owner, self.varshape)
        self.V_th = param(V_th, u.mV, "V_th", owner, self.varshape)
        self.tau_ref = param(tau_ref, u.ms, "tau_ref", owner, self.varshape)
        self.I_ext = param(I_ext, u.pA, "I_ext", owner, self.varshape)
        self.noise = None if noise is None else param(noise, u.mV / u.ms**0.5, "noise", owner)
        self.V_initializer = V_initializer if V_initializer is not None else self.V_rest
        self.spike_fn = spike_fn
        self.adaptation = adaptation
        self.init_state()

    # -- states ------------------------------------------------------------------------
    def _extra_init(self, shape) -> dict[str, Any]:
        return {}

    def _all_extra_init(self, shape) -> dict[str, Any]:
        extra = dict(self._extra_init(shape))
        if self.adaptation is not None:
            extra["w"] = jnp.zeros(shape) * u.pA
        return extra

    def init_state(self, batch_size: int | None = None, **kwargs):
        shape = self.varshape if batch_size is None else (batch_size, *self.varshape)
        self.V = Hidden(initialize(self.V_initializer, shape, u.mV, f"{self.name}.V"))
        self.spike = Hidden(jnp.zeros(shape, self._spike_dtype()))
        self.t_last_spike = Hidden(jnp.full(shape, -1e7) * u.ms)
        for key, value in self._all_extra_init(shape).items():
            setattr(self, key, Hidden(value))

    def _spike_dtype(self):
        # differentiable (surrogate) spike functions give float spikes
        return (
            jnp.result_type(float) if getattr(self.spike_fn, "differentiable", False) else jnp.bool_
        )

    def reset_state(self, batch_size: int | None = None, **kwargs):
        """Initial values again, written into the existing States (compiled runs that
        use them stay valid); a new batch size creates new States."""
        shape = self.V.value.shape
        new_shape = self.varshape if batch_size is None else (batch_size, *self.varshape)
        if batch_size is not None and new_shape != shape:
            return self.init_state(batch_size)
        self.V.value = initialize(self.V_initializer, shape, u.mV, f"{self.name}.V")
        self.spike.value = jnp.zeros(shape, self._spike_dtype())
        self.t_last_spike.value = jnp.full(shape, -1e7) * u.ms
        for key, value in self._all_extra_init(shape).items():
            getattr(self, key).value = value

    def _variables(self) -> dict[str, Any]:
        return {"V": self.V}

    # -- model ---------------------------------------------------------------------------
    def derivatives(self, t, y, I):  # pragma: no cover - abstract
        raise NotImplementedError

    def on_spike(self, y, spike) -> dict[str, Any]:
        return y

    def _threshold(self, y_new):
        """The threshold the new V is compared with (a model variable for GIF)."""
        return self.V_th

    def update(self, I_ext=None):
        dt, t = _clock.dt(), _clock.t()
        states = self._variables()
        y = {k: s.value for k, s in states.items()}
        extra = self.I_ext if I_ext is None else self.I_ext + I_ext

        adapt = self.adaptation
        if adapt is not None:
            states["w"] = self.w
            y["w"] = self.w.value

        def f(t, y):
            current = self.input_current(y["V"], extra)
            if adapt is None:
                return self.derivatives(t, y, current)
            out = dict(
                self.derivatives(t, {k: v for k, v in y.items() if k != "w"}, current - y["w"])
            )
            out["w"] = adapt.derivative(y["V"], y["w"], self.V_rest)
            return out

        y_new = materialize(lambda y: self.method.step(f, y, t, dt), t, y)
        V = y_new["V"]
        if self.noise is not None:
            xi = random.normal(size=jnp.shape(V.mantissa))
            V = V + self.noise * dt**0.5 * xi
        # refractory for whole steps: compare with half a step of margin so that float32
        # rounding of t never adds or drops a step (Brian2 compares step counts)
        refractory = (t - self.t_last_spike.value) < self.tau_ref - 0.5 * dt
        V = u.math.where(refractory, self.V_reset, V)
        spike = self.spike_fn((V - self._threshold(y_new)).to_value(u.mV))
        is_spike = spike if spike.dtype == jnp.bool_ else spike > 0
        if spike.dtype == jnp.bool_:
            y_new["V"] = u.math.where(is_spike, self.V_reset, V)
        else:
            # surrogate spikes: the reset uses the spike with its gradient stopped (the
            # usual "detached reset"); differentiating through the reset itself makes
            # gradients explode over a few spikes
            s_reset = jax.lax.stop_gradient(spike)
            y_new["V"] = V * (1.0 - s_reset) + self.V_reset * s_reset
        y_new = self.on_spike(y_new, is_spike)
        if adapt is not None:
            y_new["w"] = u.math.where(is_spike, y_new["w"] + adapt.b, y_new["w"])
        for k, s in states.items():
            s.value = y_new[k]
        self.spike.value = (
            spike.astype(self.spike.value.dtype) if spike.dtype != self.spike.value.dtype else spike
        )
        self.t_last_spike.value = u.math.where(
            is_spike,
            jnp.broadcast_to(t.to_value(u.ms), jnp.shape(is_spike)) * u.ms,
            self.t_last_spike.value,
        )
        return spike


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

    def __init__(
        self,
        size,
        tau=20.0 * u.ms,
        R=100.0 * u.Mohm,
        V_rest=-65.0 * u.mV,
        V_reset=-65.0 * u.mV,
        V_th=-50.0 * u.mV,
        **kwargs,
    ):
        self.tau = param(tau, u.ms, "tau", "LIF")
        self.R = param(R, u.Mohm, "R", "LIF")
        super().__init__(size, V_rest=V_rest, V_reset=V_reset, V_th=V_th, **kwargs)

    def derivatives(self, t, y, I):
        return {"V": (self.V_rest - y["V"] + self.R * I) / self.tau}


class ExpIF(AbstractIF):
    """Exponential integrate-and-fire (Fourcaud-Trocmé et al. 2003):
    ``tau dV/dt = V_rest - V + delta_T exp((V - V_T)/delta_T) + R I``."""

    def __init__(
        self,
        size,
        tau=10.0 * u.ms,
        R=100.0 * u.Mohm,
        V_rest=-65.0 * u.mV,
        V_reset=-68.0 * u.mV,
        V_th=-30.0 * u.mV,
        V_T=-59.9 * u.mV,
        delta_T=3.48 * u.mV,
        **kwargs,
    ):
        self.tau = param(tau, u.ms, "tau", "ExpIF")
        self.R = param(R, u.Mohm, "R", "ExpIF")
        self.V_T = param(V_T, u.mV, "V_T", "ExpIF")
        self.delta_T = param(delta_T, u.mV, "delta_T", "ExpIF")
        super().__init__(size, V_rest=V_rest, V_reset=V_reset, V_th=V_th, **kwargs)

    def derivatives(self, t, y, I):
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

    def __init__(
        self,
        size,
        tau=10.0 * u.ms,
        R=100.0 * u.Mohm,
        V_rest=-65.0 * u.mV,
        V_reset=-68.0 * u.mV,
        V_th=-30.0 * u.mV,
        V_c=-50.0 * u.mV,
        c=0.07 / u.mV,
        **kwargs,
    ):
        self.tau = param(tau, u.ms, "tau", "QuaIF")
        self.R = param(R, u.Mohm, "R", "QuaIF")
        self.V_c = param(V_c, u.mV, "V_c", "QuaIF")
        self.c = param(c, u.mV**-1, "c", "QuaIF")
        super().__init__(size, V_rest=V_rest, V_reset=V_reset, V_th=V_th, **kwargs)

    def derivatives(self, t, y, I):
        V = y["V"]
        return {"V": (self.c * (V - self.V_rest) * (V - self.V_c) + self.R * I) / self.tau}


def AdQuaIF(size, a=1.0 * u.nS, b=10.0 * u.pA, tau_w=30.0 * u.ms, **kwargs) -> QuaIF:
    """Adaptive quadratic integrate-and-fire: a :class:`QuaIF` with an
    :class:`Adaptation` current."""
    return QuaIF(
        size, adaptation=Adaptation(a, b, tau_w), name=kwargs.pop("name", "AdQuaIF"), **kwargs
    )


class Izhikevich(AbstractIF):
    """Izhikevich (2003)::

    dV/dt = (0.04 V²/mV + 5 V + 140 mV + R I) / ms - u
    du/dt = a (b V - u) ;   on spike (V >= 30 mV): V <- c, u <- u + d
    """

    def __init__(
        self,
        size,
        a=0.02 / u.ms,
        b=0.2 / u.ms,
        c=-65.0 * u.mV,
        d=8.0 * u.mV / u.ms,
        R=1.0 * u.Mohm,
        V_th=30.0 * u.mV,
        V_initializer=-65.0 * u.mV,
        **kwargs,
    ):
        self.a = param(a, u.ms**-1, "a", "Izhikevich")
        self.b = param(b, u.ms**-1, "b", "Izhikevich")
        self.d = param(d, u.mV / u.ms, "d", "Izhikevich")
        self.R = param(R, u.Mohm, "R", "Izhikevich")
        super().__init__(
            size, V_rest=c, V_reset=c, V_th=V_th, V_initializer=V_initializer, **kwargs
        )

    def _extra_init(self, shape):
        V0 = self.V.value if hasattr(self, "V") else None
        base = V0 if V0 is not None else u.math.full(shape, self.V_reset)
        return {"u_rec": (self.b * base).to(u.mV / u.ms)}

    def _variables(self):
        return {"V": self.V, "u": self.u_rec}

    def derivatives(self, t, y, I):
        V, w = y["V"], y["u"]
        dV = (0.04 / u.mV * V * V + 5.0 * V + 140.0 * u.mV + self.R * I) / u.ms - w
        return {"V": dV, "u": self.a * (self.b * V - w)}

    def on_spike(self, y, spike):
        y["u"] = u.math.where(spike, y["u"] + self.d, y["u"])
        return y


class GIF(AbstractIF):
    """Generalised integrate-and-fire (Mihalaş & Niebur 2009) with two spike-induced
    currents and an adaptive threshold::

        tau dV/dt = -(V - V_rest) + R (I + I1 + I2)
        dI_j/dt = -k_j I_j ;  dV_th/dt = a (V - V_rest) - b (V_th - V_th_inf)
        on spike: I_j <- R_j I_j + A_j ; V <- V_reset ; V_th <- max(V_th_reset, V_th)
    """

    def __init__(
        self,
        size,
        tau=20.0 * u.ms,
        R=20.0 * u.Mohm,
        V_rest=-70.0 * u.mV,
        V_reset=-70.0 * u.mV,
        V_th_inf=-50.0 * u.mV,
        V_th_reset=-60.0 * u.mV,
        k1=0.2 / u.ms,
        k2=0.02 / u.ms,
        R1=0.0,
        R2=1.0,
        A1=0.0 * u.pA,
        A2=0.0 * u.pA,
        a=0.0 / u.ms,
        b=0.01 / u.ms,
        **kwargs,
    ):
        self.tau = param(tau, u.ms, "tau", "GIF")
        self.R = param(R, u.Mohm, "R", "GIF")
        self.V_th_inf = param(V_th_inf, u.mV, "V_th_inf", "GIF")
        self.V_th_reset = param(V_th_reset, u.mV, "V_th_reset", "GIF")
        self.k1, self.k2 = param(k1, u.ms**-1, "k1", "GIF"), param(k2, u.ms**-1, "k2", "GIF")
        self.R1, self.R2 = R1, R2
        self.A1, self.A2 = param(A1, u.pA, "A1", "GIF"), param(A2, u.pA, "A2", "GIF")
        self.a, self.b = param(a, u.ms**-1, "a", "GIF"), param(b, u.ms**-1, "b", "GIF")
        super().__init__(size, V_rest=V_rest, V_reset=V_reset, V_th=V_th_inf, **kwargs)

    def _extra_init(self, shape):
        return {
            "I1": jnp.zeros(shape) * u.pA,
            "I2": jnp.zeros(shape) * u.pA,
            "V_thr": u.math.full(shape, self.V_th_inf),
        }

    def _variables(self):
        return {"V": self.V, "I1": self.I1, "I2": self.I2, "V_thr": self.V_thr}

    def derivatives(self, t, y, I):
        V = y["V"]
        dV = (self.V_rest - V + self.R * (I + y["I1"] + y["I2"])) / self.tau
        dth = self.a * (V - self.V_rest) - self.b * (y["V_thr"] - self.V_th_inf)
        return {"V": dV, "I1": -self.k1 * y["I1"], "I2": -self.k2 * y["I2"], "V_thr": dth}

    def _threshold(self, y_new):
        # the new V is tested against the threshold of the same time point (as Brian2)
        return y_new["V_thr"]

    def on_spike(self, y, spike):
        y["I1"] = u.math.where(spike, self.R1 * y["I1"] + self.A1, y["I1"])
        y["I2"] = u.math.where(spike, self.R2 * y["I2"] + self.A2, y["I2"])
        y["V_thr"] = u.math.where(spike, u.math.maximum(self.V_th_reset, y["V_thr"]), y["V_thr"])
        return y
