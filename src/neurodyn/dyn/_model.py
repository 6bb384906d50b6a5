"""The model protocol: a model declares its parameters, its variables and a pure vector
field; one population class (:class:`Model`) owns the States and the whole lifecycle —
integration, refractoriness, noise, the spike function, adaptation, reset.

A step of a population is split in the two halves of Brian2's schedule:
:meth:`Model.integrate_and_fire` (state update, then threshold) and :meth:`Model.reset`;
a :class:`~neurodyn.dyn.Network` runs the synaptic effects of the step's spikes between
them (see ``Network.update``).
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np

import neurodyn.units as u
from neurodyn.state import Hidden, State, random

from . import _clock, _shard
from ._base import SpikingNeuron, materialize, reset_in_place, resolve_method
from ._init import initialize
from ._params import REQUIRED, Parameter, concrete

__all__ = ["Model", "Parameter", "Adaptation", "heaviside", "derived"]


def heaviside(x):
    """The default spike function: ``x >= 0`` (x = V - V_th, in mV)."""
    return x >= 0


class derived:
    """A variable's default initial value computed from the model and the variables
    initialised before it: ``derived(lambda model, y: model.b * y["V"])``."""

    def __init__(self, fn: Callable):
        self.fn = fn

    def __call__(self, model, y):
        return self.fn(model, y)


class Adaptation:
    """A spike-triggered adaptation current ``w`` that composes with any IF model::

        tau_w dw/dt = a (V - V_rest) - w ;  on a spike: w <- w + b

    ``w`` is subtracted from the neuron's input current. ``ExpIF(...,
    adaptation=Adaptation(...))`` is the AdEx model; with ``LIF`` it is an
    adaptive LIF.
    """

    a = Parameter(u.nS, check="finite")
    b = Parameter(u.pA, check="finite")
    tau_w = Parameter(u.ms, check="positive")

    def __init__(self, a=1.0 * u.nS, b=10.0 * u.pA, tau_w=30.0 * u.ms):
        self.name = "Adaptation"
        self.a, self.b, self.tau_w = a, b, tau_w

    def derivative(self, V, w, V_rest):
        """``dw/dt = (a (V - V_rest) - w) / tau_w`` (pA/ms) for membrane potential ``V``,
        adaptation current ``w`` and resting potential ``V_rest``."""
        return (self.a * (V - V_rest) - w) / self.tau_w


_OPTIONS = (
    "method",
    "I_ext",
    "tau_ref",
    "noise",
    "spike_fn",
    "adaptation",
    "detach_reset",
    "name",
)


class Model(SpikingNeuron):
    """A population of ``size`` identical models: the one extension point of ``dyn``.

    A subclass declares

    - its parameters, as :class:`Parameter` class attributes (unit, default, shape and
      validity rules; checked when the population is built); a subclass changes
      inherited defaults with ``defaults = {name: value}``;
    - ``variables = {name: (unit, default initial value)}`` — every declared variable is
      a State of the population and is integrated; the default is a value, the name of a
      parameter, or ``derived(lambda model, y: ...)``;
    - a pure ``vector_field(t, y, I) -> {name: dy/dt}`` over the dict ``y`` of variables,
      with ``I`` the total input to the first variable (a current for neurons: external,
      synaptic and the adaptation current); no States, no clock;

    and, for spiking models, ``threshold(y)`` (a signed distance that is >= 0 on a spike,
    e.g. ``y["V"] - self.V_th``, or a boolean array) and ``on_spike(y, spiked) -> y``
    (the reset). ``crossing = True`` makes spikes upward crossings of the threshold
    (conductance-based models, no reset).

    The population adds, for every model: the integration ``method`` (exponential Euler
    by default, or any fixed-step :class:`~neurodyn.integrate.ODEMethod` or its name),
    ``I_ext``, absolute refractoriness ``tau_ref`` (the variables in ``refractory_vars``
    are held and no spike is emitted, as Brian2's ``unless refractory``), white ``noise``
    on V (mV/sqrt(ms)), the spike function ``spike_fn`` (a surrogate makes spikes
    differentiable; the reset then blends with the spike, its gradient stopped unless
    ``detach_reset=False``) and spike-triggered ``adaptation``. Initial values are set with
    ``<variable>_initializer=`` (a value or an initialiser such as ``Normal``).

    Example:
        >>> import neurodyn as nd
        >>> import neurodyn.units as u
        >>> from neurodyn.dyn import Model, Parameter
        >>> class ThetaLIF(Model):                  # LIF with an adaptive threshold
        ...     tau = Parameter(u.ms, default=20 * u.ms, check="positive")
        ...     tau_th = Parameter(u.ms, default=100 * u.ms, check="positive")
        ...     R = Parameter(u.Mohm, default=100 * u.Mohm, check="positive")
        ...     variables = {"V": (u.mV, -65 * u.mV), "th": (u.mV, 0 * u.mV)}
        ...     def vector_field(self, t, y, I):
        ...         return {"V": (-65 * u.mV - y["V"] + self.R * I) / self.tau,
        ...                 "th": -y["th"] / self.tau_th}
        ...     def threshold(self, y):
        ...         return y["V"] - (-50 * u.mV + y["th"])
        ...     def on_spike(self, y, spiked):
        ...         return {"V": u.math.where(spiked, -65 * u.mV, y["V"]),
        ...                 "th": y["th"] + u.math.where(spiked, 2 * u.mV, 0 * u.mV)}
        >>> class Net(nd.Network):
        ...     def __init__(self):
        ...         self.pop = ThetaLIF(5, I_ext=300 * u.pA)
        >>> net = Net()
        >>> res = nd.run(net, 20 * u.ms, dt=0.1 * u.ms, monitors={"s": net.pop.spike})
        >>> bool(net.pop.th.value.mantissa.max() > 0)       # the threshold adapted
        True
    """

    variables: ClassVar[dict[str, tuple[Any, Any]]] = {}
    input_unit: ClassVar[Any] = u.pA
    default_method: ClassVar[str] = "exp_euler"
    crossing: ClassVar[bool] = False
    refractory_vars: ClassVar[tuple[str, ...]] = ("V",)
    noise_var: ClassVar[str] = "V"
    _parameters: ClassVar[dict[str, Parameter]] = {}
    checkpoint_attrs = ("I_ext", "tau_ref", "noise")

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        params = {}
        for klass in reversed(cls.__mro__):
            for key, value in vars(klass).items():
                if isinstance(value, Parameter):
                    params[key] = value
                elif key in params:
                    params.pop(key)  # a subclass replaced the parameter by a plain attribute
        for name, default in cls.__dict__.get("defaults", {}).items():
            if name not in params:
                raise TypeError(f"{cls.__name__}.defaults: {name!r} is not a parameter.")
            p = copy.copy(params[name])
            p.default = default
            setattr(cls, name, p)
            params[name] = p
        cls._parameters = params
        clash = [v for v in cls.variables if v in params or v in _OPTIONS]
        if clash:
            raise TypeError(
                f"{cls.__name__}: variable(s) {clash} have the name of a parameter or a "
                "population option; rename them."
            )

    # -- construction ------------------------------------------------------------------
    def __init__(
        self,
        size,
        *,
        method: Any = None,
        I_ext: Any = None,
        tau_ref: Any = None,
        noise: Any = None,
        spike_fn: Callable = heaviside,
        adaptation: Adaptation | None = None,
        detach_reset: bool = True,
        name: str | None = None,
        **kwargs,
    ):
        super().__init__(size, name)
        owner = self.name
        if not self.variables:
            raise TypeError(f"{owner}: a Model declares `variables = {{name: (unit, init)}}`.")
        inits = {}
        for key in list(kwargs):
            if key.endswith("_initializer") or (
                key in self.variables and key not in self._parameters
            ):
                inits[key.removesuffix("_initializer")] = kwargs.pop(key)
        unknown = sorted(set(kwargs) - set(self._parameters))
        if unknown:
            raise TypeError(
                f"{owner}: unknown argument(s) {', '.join(unknown)}. Parameters: "
                f"{', '.join(self._parameters) or 'none'}; population options: "
                f"{', '.join(_OPTIONS)}; initial values: <variable>_initializer=."
            )
        for pname, p in self._parameters.items():
            value = kwargs.get(pname, p.default)
            if value is REQUIRED:
                raise TypeError(f"{owner}: parameter {pname} is required. {p.doc}".strip())
            setattr(self, pname, value)
        self.setup()
        bad = sorted(set(inits) - set(self.variables))
        if bad:
            raise TypeError(
                f"{owner}: no variable {', '.join(bad)} to initialise; the variables are "
                f"{', '.join(self.variables)} (set them with <variable>_initializer=)."
            )
        self.method = resolve_method(method if method is not None else self.default_method, owner)
        self.spiking = type(self).threshold is not Model.threshold
        self.I_ext = self._option(
            I_ext if I_ext is not None else 0.0 * (self.input_unit or u.dimensionless),
            self.input_unit,
            "I_ext",
            "finite",
        )
        self.tau_ref = None
        self.noise = None
        if tau_ref is not None:
            self._need_spikes("tau_ref")
            self.tau_ref = self._option(tau_ref, u.ms, "tau_ref", "nonnegative")
        if noise is not None:
            var_unit = self._unit_of(self.noise_var)
            self.noise = self._option(
                noise, var_unit / u.ms**0.5, "noise", "nonnegative", per_neuron=False
            )
        if adaptation is not None:
            self._need_spikes("adaptation")
            if not isinstance(adaptation, Adaptation):
                raise TypeError(
                    f"{owner}: adaptation must be an Adaptation(a, b, tau_w); got "
                    f"{type(adaptation).__name__}."
                )
            if "V_rest" not in self._parameters:
                raise TypeError(f"{owner}: adaptation needs a model with a V_rest parameter.")
        self.adaptation = adaptation
        self.spike_fn = spike_fn
        self.detach_reset = bool(detach_reset)
        self._initializers = inits
        self.check()
        self.init_state()

    def _option(self, value, unit, name, rule, per_neuron=True):
        p = Parameter(unit, check=rule, per_neuron=per_neuron)
        p.name = name
        return p.convert(value, self)

    def _need_spikes(self, what):
        if not self.spiking:
            raise TypeError(f"{self.name}: {what} needs a spiking model (one with a threshold).")

    def _unit_of(self, var):
        unit = self.variables[var][0]
        return u.dimensionless if unit is None else u.as_unit(unit)

    def setup(self) -> None:
        """Derived attributes, after the parameters are set and before the States are
        made (e.g. a membrane built from conductance parameters)."""

    def checkpoint_constants(self) -> dict:
        out = super().checkpoint_constants()
        if self.adaptation is not None:
            a = self.adaptation
            out.update({"adaptation.a": a.a, "adaptation.b": a.b, "adaptation.tau_w": a.tau_w})
        return out

    def check(self) -> None:
        """Rules between parameters (raise ``ValueError``); called when built."""

    # -- the model (override) ----------------------------------------------------------
    def vector_field(self, t, y: dict, I) -> dict:  # pragma: no cover - abstract
        """The model's derivatives (override; pure: no States, no clock).

        Args:
            t: the time (a Quantity in ms).
            y: ``{variable: value}`` in the declared units, one value per neuron (shape
                ``varshape``, with a leading batch axis when batched).
            I: the total input to the first variable (for neurons, a current: ``I_ext``,
                synaptic and adaptation currents).

        Returns:
            ``{variable: dy/dt}`` for every declared variable, in its unit per time.
        """
        raise NotImplementedError(f"{type(self).__name__} must define vector_field(t, y, I).")

    def threshold(self, y: dict):  # pragma: no cover - marker: not spiking
        """The spike condition (override in spiking models): a signed distance that is
        ``>= 0`` on a spike (e.g. ``y["V"] - self.V_th``) or a boolean array, shaped as
        the variables. ``None`` (the default) marks a model that does not spike."""
        return None

    def on_spike(self, y: dict, spiked) -> dict:
        """The reset (override in spiking models): the variables ``y`` after the neurons
        where ``spiked`` (boolean, or a surrogate spike in ``[0, 1]``) fired. Default:
        ``y`` unchanged."""
        return y

    # -- States and lifecycle ----------------------------------------------------------
    @property
    def var_names(self) -> tuple[str, ...]:
        """Names of the integrated variables: those in ``variables``, in order, then
        ``"w"`` (the adaptation current) when the model has ``adaptation``."""
        names = tuple(self.variables)
        return (*names, "w") if self.adaptation is not None else names

    def initial_values(self, shape) -> dict:
        """The initial value of every variable for States of ``shape``."""
        y: dict[str, Any] = {}
        for var, (unit, default) in self.variables.items():
            unit = None if unit is None else u.as_unit(unit)
            init = self._initializers.get(var, default)
            if isinstance(init, str):
                init = getattr(self, init)
            if isinstance(init, derived):
                value = init(self, y)
                if isinstance(value, u.Quantity):
                    value = u.Quantity(jnp.broadcast_to(value.mantissa * 1.0, shape), value.unit)
                else:
                    value = jnp.broadcast_to(jnp.asarray(value, float), shape)
                value = value.to(unit) if unit is not None else value
            else:
                value = initialize(init, shape, unit, f"{self.name}.{var}")
            arr = concrete(value)
            if arr is not None and not np.all(np.isfinite(arr)):
                idx = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
                raise ValueError(
                    f"{self.name}: the initial value of {var} is {float(arr[idx])} at index "
                    f"{idx}. Give finite values ({var}_initializer=...)."
                )
            y[var] = value
        if self.adaptation is not None:
            y["w"] = jnp.zeros(shape) * u.pA
        return y

    def init_state(self, batch_size: int | None = None, **kwargs):
        shape = self.varshape if batch_size is None else (batch_size, *self.varshape)
        for var, value in self.initial_values(shape).items():
            setattr(self, var, Hidden(value))
        if self.spiking:
            self.spike = Hidden(jnp.zeros(shape, self._spike_dtype()))
            self.t_last_spike = Hidden(jnp.full(shape, -1e7) * u.ms)

    def reset_state(self, batch_size: int | None = None, **kwargs):
        """Initial values again, written into the existing States (compiled runs that
        use them stay valid); a new batch size creates new States."""
        reset_in_place(self, batch_size)

    def _spike_dtype(self):
        # differentiable (surrogate) spike functions give float spikes
        differentiable = getattr(self.spike_fn, "differentiable", False)
        return jnp.result_type(float) if differentiable else jnp.bool_

    def before_run(self, dt) -> None:
        """Warn about explicit Euler with dt above half a time constant (unstable)."""
        if getattr(self.method, "name", None) != "euler":
            return
        dt_ms = float(dt.to_value(u.ms))
        for pname, p in self._parameters.items():
            if p.unit is None or p.unit.dim is not u.ms.dim:
                continue
            arr = concrete(getattr(self, pname))
            if arr is not None and np.any(dt_ms > arr / 2):
                warnings.warn(
                    f"{self.name}: explicit Euler with dt = {dt_ms:g} ms above half of "
                    f"{pname} = {float(np.min(arr)):g} ms is unstable or inaccurate. Use "
                    "method='exp_euler' (the default) or a smaller dt.",
                    stacklevel=3,
                )

    # -- one step ----------------------------------------------------------------------
    def full_vector_field(self, t, y: dict, I_ext=None) -> dict:
        """The derivatives the population integrates: the model's vector field with the
        synaptic and external inputs and the adaptation current."""
        own = self.I_ext.value if isinstance(self.I_ext, State) else self.I_ext  # nd.Param
        own = _shard.local(self, own)  # (this device's neurons in a sharded run)
        extra = own if I_ext is None else own + I_ext
        first = next(iter(self.variables))
        current = self.input_current(y[first], extra)
        adapt = self.adaptation
        if adapt is None:
            dy = self.vector_field(t, y, current)
        else:
            dy = dict(
                self.vector_field(t, {k: v for k, v in y.items() if k != "w"}, current - y["w"])
            )
            dy["w"] = adapt.derivative(y["V"], y["w"], self.V_rest)
        if set(dy) != set(y):
            raise TypeError(
                f"{self.name}: vector_field returned derivatives of {sorted(dy)} but the model "
                f"declares the variables {sorted(y)}. Every declared variable is integrated: "
                "return a derivative for each (zero for a constant one)."
            )
        return dy

    def integrate_and_fire(self, I_ext=None):
        """State update over one step, then the threshold test (Brian2's first two
        slots); the reset is :meth:`reset`."""
        dt, t = _clock.dt(), _clock.t()
        names = self.var_names
        y = {k: getattr(self, k).value for k in names}

        def f(t, y):
            return self.full_vector_field(t, y, I_ext)

        y_new = materialize(lambda y: self.method.step(f, y, t, dt), t, y)
        if self.noise is not None:
            v = y_new[self.noise_var]
            xi = random.normal(size=jnp.shape(u.get_mantissa(v)))
            noise = self.noise.value if isinstance(self.noise, State) else self.noise
            noise = _shard.local(self, noise)
            y_new[self.noise_var] = v + noise * dt**0.5 * xi
        if not self.spiking:
            for k in names:
                getattr(self, k).value = y_new[k]
            return None
        refractory = None
        if self.tau_ref is not None:
            refractory = self.refractory_mask()
            for k in self.refractory_vars:
                y_new[k] = u.math.where(refractory, y[k], y_new[k])
        dist = self.threshold(y_new)
        if self.crossing:
            spike = (dist >= 0) & (self.threshold(y) < 0)
        elif getattr(dist, "dtype", None) == jnp.bool_:
            spike = dist
        else:
            if isinstance(dist, u.Quantity):
                dist = dist.to_value(u.mV) if dist.unit.dim is u.mV.dim else dist.mantissa
            spike = self.spike_fn(dist)
        if refractory is not None:
            spike = spike & ~refractory if spike.dtype == jnp.bool_ else spike * (~refractory)
        for k in names:
            getattr(self, k).value = y_new[k]
        return self._store_spikes(spike, t)

    def _store_spikes(self, spike, t):
        """Write this step's spikes (in the spike State's dtype) and the time of the last
        spike of every neuron that fired; returns ``spike``."""
        dtype = self.spike.value.dtype
        self.spike.value = spike.astype(dtype) if spike.dtype != dtype else spike
        is_spike = spike if spike.dtype == jnp.bool_ else spike > 0
        self.t_last_spike.value = u.math.where(
            is_spike,
            jnp.broadcast_to(t.to_value(u.ms), jnp.shape(is_spike)) * u.ms,
            self.t_last_spike.value,
        )
        return spike

    def refractory_mask(self):
        """Which neurons are refractory now (a boolean array; None without ``tau_ref``).
        After the threshold test of a step it includes the neurons that spiked in it."""
        if self.tau_ref is None or not self.spiking:
            return None
        dt, t = _clock.dt(), _clock.t()
        # whole steps: half a step of margin so that float32 rounding of t never adds or
        # drops a step (Brian2 compares step counts)
        return (t - self.t_last_spike.value) < _shard.local(self, self.tau_ref) - 0.5 * dt

    def reset(self) -> None:
        """Apply ``on_spike`` to the neurons that spiked in this step (Brian2's last slot)."""
        if not self.spiking:
            return
        names = self.var_names
        y = {k: getattr(self, k).value for k in names}
        spike = self.spike.value
        if spike.dtype == jnp.bool_:
            y_new = dict(self.on_spike({k: y[k] for k in self.variables}, spike))
            if self.adaptation is not None:
                y_new["w"] = u.math.where(spike, y["w"] + self.adaptation.b, y["w"])
        else:
            # surrogate spikes: the reset uses the spike with its gradient stopped (the
            # usual "detached reset"); differentiating through the reset itself makes
            # gradients explode over a few spikes
            s = jax.lax.stop_gradient(spike) if self.detach_reset else spike
            on = jnp.ones(jnp.shape(s), bool)
            y_r = dict(self.on_spike({k: y[k] for k in self.variables}, on))
            if self.adaptation is not None:
                y_r["w"] = y["w"] + self.adaptation.b
            y_new = {k: y[k] * (1.0 - s) + y_r[k] * s for k in y_r}
        for k in names:
            if k in y_new and y_new[k] is not y[k]:
                getattr(self, k).value = y_new[k]

    def update(self, I_ext=None):
        """One whole step of this population alone: state update, threshold, reset.
        Returns the spikes (None for models without a threshold)."""
        spike = self.integrate_and_fire(I_ext)
        self.reset()
        return spike
