"""Input generators: spike sources and current waveforms."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

import neurodyn.units as u
from neurodyn.state import Hidden, Memory, random

from . import _clock, _shard
from ._base import Dynamics, param, reset_in_place, size_of
from ._params import Parameter, check_value

__all__ = [
    "PoissonGroup",
    "SpikeTimeGroup",
    "constant",
    "section",
    "ramp",
    "sinusoid",
    "OUProcess",
    "wiener",
    "ArrayInput",
]


class _SpikeSource(Dynamics):
    """A population of spike generators: a ``spike`` State, batched like any other."""

    def init_state(self, batch_size=None, **kwargs):
        shape = self.varshape if batch_size is None else (batch_size, *self.varshape)
        self.spike = Hidden(jnp.zeros(shape, bool))

    def reset_state(self, batch_size=None, **kwargs):
        reset_in_place(self, batch_size)


class PoissonGroup(_SpikeSource):
    """Independent Poisson spike trains at ``rates`` (Hz; scalar or per neuron).
    A spike source for projections (it has a ``spike`` State)."""

    checkpoint_attrs = ("rates",)

    def __init__(self, size, rates, name: str | None = None):
        self.varshape = size_of(size)
        self.name = name or "PoissonGroup"
        self.rates = param(rates, u.Hz, "rates", self.name, self.varshape)
        check_value(self.rates, "nonnegative", "rates", self.name, u.Hz)
        self.init_state()

    def update(self):
        """One step: each neuron spikes with probability ``rates * dt``; returns the
        boolean ``spike``.
        """
        p = _shard.local(self, self.rates) * _clock.dt()  # dimensionless: a plain array
        spk = random.uniform(size=self.spike.value.shape) < p
        self.spike.value = spk
        return spk


class SpikeTimeGroup(_SpikeSource):
    """Neurons that spike at given times: ``indices[k]`` fires at ``times[k]`` (in the
    step whose start is nearest to it, as Brian2's ``SpikeGeneratorGroup``)."""

    def __init__(self, size, indices, times, name: str | None = None):
        self.varshape = size_of(size)
        self.name = name or "SpikeTimeGroup"
        times = param(times, u.ms, "times", self.name)
        check_value(times, "nonnegative", "times", self.name, u.ms)
        idx = np.asarray(indices)
        if idx.shape != np.shape(times.mantissa):
            raise ValueError(
                f"{self.name}: indices {idx.shape} and times {np.shape(times.mantissa)} differ; "
                "give one neuron index per spike time."
            )
        if idx.size and (idx.min() < 0 or idx.max() >= self.num or np.any(idx != idx.astype(int))):
            raise ValueError(
                f"{self.name}: neuron indices must be whole numbers in [0, {self.num}); got "
                f"values from {idx.min()} to {idx.max()}."
            )
        self.indices = jnp.asarray(idx, jnp.int32)
        self.times = jnp.asarray(times.to_value(u.ms))
        self.init_state()

    def update(self):
        """One step: the neurons with a spike time within half a step of ``t`` spike;
        returns the boolean ``spike``.
        """
        t, dt = _clock.t().to_value(u.ms), _clock.dt().to_value(u.ms)
        hit = (self.times >= t - 0.5 * dt) & (self.times < t + 0.5 * dt)
        spk = jnp.zeros(self.num, bool).at[self.indices].max(hit).reshape(self.varshape)
        self.spike.value = jnp.broadcast_to(spk, self.spike.value.shape)
        return self.spike.value


class ArrayInput(_SpikeSource):
    """Spikes (or spike-like values, e.g. rates or currents for a projection) given as an
    array over time: ``inp.feed(values)`` with ``values`` of shape ``[steps, *shape]``
    (``[steps, batch, *shape]`` once batched); in step ``k`` after the last reset,
    ``inp.spike`` is ``values[k]`` (zeros after the last row). The data live in a State, so
    a trainer can feed a new batch inside a compiled step without recompiling.

    Example:
        >>> import jax.numpy as jnp
        >>> import neurodyn as nd
        >>> import neurodyn.units as u
        >>> class Net(nd.Network):
        ...     def __init__(self):
        ...         self.inp = nd.dyn.ArrayInput(2, steps=3)
        >>> net = Net()
        >>> net.inp.feed(jnp.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
        >>> nd.run(net, 0.4 * u.ms, dt=0.1 * u.ms, monitors={"s": "inp.spike"})["s"].tolist()
        [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 0.0]]
    """

    def __init__(self, size, steps: int, dtype=float, name: str | None = None):
        self.varshape = size_of(size)
        self.name = name or "ArrayInput"
        if int(steps) != steps or steps < 1:
            raise ValueError(f"{self.name}: steps must be a positive whole number, got {steps}.")
        self.steps = int(steps)
        self.dtype = jnp.dtype(jnp.result_type(dtype))  # float: float32 unless x64
        self.init_state()

    def init_state(self, batch_size=None, **kwargs):
        shape = self.varshape if batch_size is None else (batch_size, *self.varshape)
        self.spike = Hidden(jnp.zeros(shape, self.dtype))
        self.data = Memory(jnp.zeros((self.steps, *shape), self.dtype))

    def reset_state(self, batch_size=None, **kwargs):
        data = self.data.value
        reset_in_place(self, batch_size)
        if jnp.shape(self.data.value) == jnp.shape(data):
            self.data.value = data  # a reset keeps the fed values

    def feed(self, values) -> None:
        """Set the values of the next run (shape ``[steps, *spike shape]``)."""
        want = (self.steps, *jnp.shape(self.spike.value))
        if tuple(jnp.shape(values)) != want:
            raise ValueError(
                f"{self.name}: feed expects values of shape {want} (steps, then the shape of "
                f"the spikes); got {tuple(jnp.shape(values))}."
            )
        self.data.value = jnp.asarray(values, self.dtype)

    def update(self):
        """One step: ``spike`` becomes row ``k`` of the fed values (``k`` the step since
        the last reset; zeros after the last row); returns it.
        """
        k = _clock.current_clock().i
        row = self.data.value[jnp.clip(k, 0, self.steps - 1)]
        self.spike.value = jnp.where(k < self.steps, row, jnp.zeros_like(row))
        return self.spike.value


# -- current waveforms: functions of the clock's t ----------------------------------------
def constant(value):
    """A constant input (returned unchanged; for symmetry with the others)."""
    return value


def section(values, durations):
    """Piecewise-constant input: ``values[k]`` for ``durations[k]`` (a function of t)."""
    values = list(values)
    bounds = np.cumsum([float(u.Quantity(d).to_value(u.ms)) for d in durations])
    ref = values[0]
    unit = ref.unit if isinstance(ref, u.Quantity) else None
    ms = [v.to_value(unit) if unit is not None else v for v in values]
    arr = jnp.stack([jnp.broadcast_to(jnp.asarray(m, float), jnp.shape(ms[0])) for m in ms])

    def fn(t=None):
        t = (_clock.t() if t is None else t).to_value(u.ms)
        k = jnp.clip(jnp.searchsorted(jnp.asarray(bounds), t, side="right"), 0, len(ms) - 1)
        out = arr[k]
        out = jnp.where(t < bounds[-1], out, 0.0)
        return out if unit is None else out * unit

    return fn


def ramp(start, stop, t_start, t_end):
    """Linear ramp from ``start`` at ``t_start`` to ``stop`` at ``t_end`` (0 outside)."""

    def fn(t=None):
        t = _clock.t() if t is None else t
        frac = u.math.clip((t - t_start) / (t_end - t_start), 0.0, 1.0)
        inside = (t >= t_start) & (t <= t_end)
        return u.math.where(inside, start + (stop - start) * frac, 0 * start)

    return fn


def sinusoid(amplitude, frequency, bias=None):
    """``bias + amplitude sin(2 pi f t)``."""

    def fn(t=None):
        t = _clock.t() if t is None else t
        out = amplitude * u.math.sin(2 * jnp.pi * frequency * t)
        return out if bias is None else out + bias

    return fn


class OUProcess(Dynamics):
    """Ornstein-Uhlenbeck current ``dx = (mean - x)/tau dt + sigma sqrt(2/tau) dW``
    (stationary standard deviation ``sigma``), integrated exactly. ``mean`` and ``sigma``
    share a dimension (a current, a conductance, ...); ``x`` starts at ``mean``."""

    tau = Parameter(u.ms, check="positive")
    checkpoint_attrs = ("mean", "sigma")

    def __init__(self, size, mean, sigma, tau, name: str | None = None):
        self.varshape = size_of(size)
        self.name = name or "OUProcess"
        unit = u.get_unit(mean)
        if u.get_unit(sigma).dim is not unit.dim:
            raise u.UnitMismatchError(
                f"{self.name}: sigma must have the dimension of mean ({unit.name}); got "
                f"{u.get_unit(sigma).name}. Write e.g. sigma=10 * u.{unit.name}."
            )
        check_value(sigma, "nonnegative", "sigma", self.name, u.get_unit(sigma))
        check_value(mean, "finite", "mean", self.name, unit)
        self.mean, self.sigma = mean, sigma
        self.tau = tau
        self.init_state()

    def init_state(self, batch_size=None, **kwargs):
        shape = self.varshape if batch_size is None else (batch_size, *self.varshape)
        m = self.mean
        self.x = Hidden(
            u.Quantity(jnp.broadcast_to(u.get_mantissa(m) * 1.0, shape), u.get_unit(m))
            if isinstance(m, u.Quantity)
            else jnp.broadcast_to(jnp.asarray(m, float), shape)
        )

    def reset_state(self, batch_size=None, **kwargs):
        reset_in_place(self, batch_size)

    def update(self):
        """One exact step of the Ornstein-Uhlenbeck process:
        ``x <- mean + (x - mean) e + sigma sqrt(1 - e²) N(0, 1)``, ``e = exp(-dt / tau)``;
        returns ``x``.
        """
        e = u.math.exp(-_clock.dt() / self.tau)
        noise = random.normal(size=jnp.shape(u.get_mantissa(self.x.value)))
        self.x.value = (
            self.mean + (self.x.value - self.mean) * e + self.sigma * u.math.sqrt(1 - e * e) * noise
        )
        return self.x.value


def wiener(sigma, shape):
    """White noise input ``sigma xi / sqrt(dt)`` (a function of the clock)."""

    def fn(t=None):
        return sigma * random.normal(size=shape) / _clock.dt() ** 0.5

    return fn
