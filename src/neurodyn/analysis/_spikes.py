"""Spike-train statistics, jit-able and vmappable.

Two representations of spikes are accepted:

* a **raster** ``[time, neurons]`` (bool, or spike counts; a plain array) with its step
  ``dt``;
* **spike times**: a :class:`SpikeTrains` (a padded array ``[neurons, max_spikes]`` of
  sorted times in ms, padded with NaN, plus ``t_start``/``t_stop``), or bare times:

  - **one train**: a 1-D time Quantity (``np.array([1., 5., 9.]) * u.ms``) or a flat list
    of times (``[1.0, 5.0, 9.0]`` in ms, or of scalar Quantities). The statistics then
    drop the neuron axis: ``firing_rate`` gives one rate, ``isi`` a 1-D array,
    ``isi_statistics`` a dict of scalars, ``to_raster``/``bin_counts`` 1-D counts;
  - **several trains**: a list of 1-D arrays (Quantities or floats in ms), one per
    neuron, or a 2-D time Quantity ``[neurons, max_spikes]`` padded with NaN.

  Bare times are recorded from 0 to ``t_stop`` (pass ``t_stop=``; use
  :class:`SpikeTrains` for another ``t_start``). A time Quantity is never read as a
  raster, whatever its shape.

Distances between trains are in :mod:`._spike_distances`, spectra in :mod:`._spectra`.

Everything is computed with array operations or one ``scan``, never with per-neuron
Python loops, so functions work under ``jax.jit`` and ``jax.vmap`` (with a static
``max_spikes`` for spike times). Times are Quantities or floats in ms; rates are in Hz.

Conventions (chosen to agree with Elephant): CV and Fano factor use the population
variance (``ddof=0``) by default; bins are half-open ``[t, t + bin)``; the van Rossum
distance uses van Rossum's (2001) normalisation (one spike against none gives
``1/sqrt(2)``; Elephant's is ``sqrt(2)`` times ours); kernel widths are the kernel's
standard deviation (Elephant's ``sigma``).
"""

from __future__ import annotations

import math
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

import neurodyn.units as u

__all__ = [
    "SpikeTrains",
    "spike_trains",
    "to_raster",
    "firing_rate",
    "population_rate",
    "instantaneous_rate",
    "bin_counts",
    "isi",
    "isi_statistics",
    "cv_isi",
    "cv",
    "cv2",
    "lv",
    "fano_factor",
    "spike_count_correlation",
    "cross_correlogram",
    "synchrony",
]


# ----------------------------------------------------------------------------- helpers
def _ms(x, name: str = "time") -> float:
    """A time (Quantity, or float in ms) as a Python float in ms."""
    if isinstance(x, u.Quantity):
        try:
            return float(x.to_value(u.ms))
        except Exception as err:
            raise TypeError(f"{name} must be a time (e.g. 1 * u.ms); got {x}") from err
    if isinstance(x, (int, float, np.integer, np.floating)):
        return float(x)
    raise TypeError(
        f"{name} must be a time Quantity or a number in ms; got {type(x).__name__} {x!r}"
    )


_dt_ms = _ms  # kept for older callers


def _is_time_quantity(x) -> bool:
    return isinstance(x, u.Quantity) and x.unit.dim is u.ms.dim


def _is_scalar(x) -> bool:
    return np.ndim(u.get_mantissa(x)) == 0


def _ms_array(x):
    """Spike times (Quantity or numbers in ms) as a float array in ms."""
    if isinstance(x, u.Quantity):
        if not _is_time_quantity(x):
            raise u.UnitMismatchError(
                f"spike times must be times (e.g. np.array([1., 5.]) * u.ms) or numbers in ms; "
                f"got a Quantity in {x.unit.name}."
            )
        return jnp.asarray(x.to_value(u.ms), jnp.result_type(float))
    if isinstance(x, (list, tuple)):  # e.g. [1 * u.ms, 5 * u.ms]
        return jnp.asarray([_ms_array(e) for e in x], jnp.result_type(float))
    return jnp.asarray(x, jnp.result_type(float))


def _per_ms(q, name: str) -> float:
    """A rate/cost (Quantity in 1/time, or float per ms) as a float per ms."""
    if isinstance(q, u.Quantity):
        try:
            return float(q.to_value(u.kHz))
        except Exception as err:
            raise TypeError(
                f"{name} must be a rate (e.g. 0.1 / u.ms or 100 * u.Hz); got {q}"
            ) from err
    return float(q)


def _counts(raster):
    r = jnp.asarray(u.get_mantissa(raster))
    return r.astype(jnp.result_type(float)) if r.dtype == jnp.bool_ else r


def _raster2d(raster, fn: str):
    if isinstance(raster, u.Quantity) and raster.unit.dim is not u.dimensionless.dim:
        raise TypeError(
            f"{fn}: expected a raster [time, neurons] (bool or counts) or spike times; got a "
            f"Quantity in {raster.unit.name}. Spike times are Quantities in time units "
            "(e.g. np.array([1., 5.]) * u.ms)."
        )
    c = _counts(raster)
    if c.ndim != 2:
        hint = (
            " If these are spike times, give them as a time Quantity (times * u.ms) or a "
            "list; a plain array is read as a raster."
            if c.ndim == 1 and not jnp.issubdtype(c.dtype, jnp.bool_)
            else ""
        )
        raise ValueError(
            f"{fn}: expected a raster [time, neurons]; got shape {c.shape}. "
            f"Use raster[:, None] for a single neuron.{hint}"
        )
    return c


# ------------------------------------------------------------------------ spike times
@jax.tree_util.register_pytree_node_class
class SpikeTrains:
    """Spike times of ``N`` neurons as a padded array: ``times`` is ``[N, max_spikes]``
    in ms, each row sorted, padded with NaN; ``t_start`` and ``t_stop`` (ms, static)
    delimit the recording (spikes outside ``[t_start, t_stop]`` are ignored).

    A pytree: ``jax.jit``/``jax.vmap`` see ``times`` as the only array.

    Parameters
    ----------
    trains : list of 1-D arrays (Quantity or ms), or a 2-D padded array
    t_stop, t_start : time (Quantity or ms); without ``t_stop`` (infinite) only the
        ISI statistics and distances work, rates and binning need it.
    max_spikes : int, optional, pad to this many spikes (longer trains raise).

    Example
    -------
    >>> import neurodyn.units as u
    >>> st = SpikeTrains([[1.0, 5.0], [2.0]], t_stop=10 * u.ms)   # times in ms
    >>> st.times
    Array([[ 1.,  5.],
           [ 2., nan]], dtype=float32)
    >>> st.counts
    Array([2, 1], dtype=int32)
    """

    def __init__(self, trains, t_stop=None, t_start=0.0, max_spikes: int | None = None):
        if isinstance(trains, SpikeTrains):
            times = trains.times
        elif isinstance(trains, (list, tuple)):
            if trains and all(_is_scalar(t) for t in trains):
                trains = [trains]  # a flat list of times: one train
            rows = [np.sort(np.asarray(_ms_array(t), float).ravel()) for t in trains]
            k = max([len(r) for r in rows] + [1]) if max_spikes is None else max_spikes
            if any(len(r) > k for r in rows):
                raise ValueError(
                    f"SpikeTrains: a train has {max(len(r) for r in rows)} spikes, more than "
                    f"max_spikes={k}; raise max_spikes or leave it None."
                )
            arr = np.full((len(rows), k), np.nan)
            for i, r in enumerate(rows):
                arr[i, : len(r)] = r
            times = jnp.asarray(arr, jnp.result_type(float))
        else:
            times = _ms_array(trains)
            if times.ndim == 1:
                times = times[None]
            if times.ndim != 2:
                raise ValueError(
                    "SpikeTrains: expected a list of spike-time arrays or a padded array "
                    f"[neurons, max_spikes]; got shape {times.shape}."
                )
            times = jnp.sort(times, axis=1)  # NaN sorts last
        self.times = times
        self.t_start = _ms(t_start, "t_start")
        self.t_stop = math.inf if t_stop is None else _ms(t_stop, "t_stop")

    def tree_flatten(self):
        """JAX pytree hook: ``times`` is the leaf; ``t_start``/``t_stop`` are static."""
        return (self.times,), (self.t_start, self.t_stop)

    @classmethod
    def tree_unflatten(cls, aux, children):
        """JAX pytree hook: rebuild from ``tree_flatten``'s output."""
        obj = object.__new__(cls)
        obj.times, (obj.t_start, obj.t_stop) = children[0], aux
        return obj

    @property
    def n_neurons(self) -> int:
        """Number of spike trains (the second-to-last axis of ``times``)."""
        return self.times.shape[-2]

    @property
    def valid(self):
        """Mask of real spikes inside ``[t_start, t_stop]``."""
        t = self.times
        return jnp.isfinite(t) & (t >= self.t_start) & (t <= self.t_stop)

    @property
    def counts(self):
        """Number of spikes of each neuron."""
        return self.valid.sum(axis=-1)

    @property
    def duration_ms(self) -> float:
        """Length of the recording, ``t_stop - t_start`` in ms (a float).

        Raises:
            ValueError: without a ``t_stop``.
        """
        if not math.isfinite(self.t_stop):
            raise ValueError(
                "SpikeTrains without t_stop: rates and binning need the recording's end; "
                "pass t_stop=... (e.g. SpikeTrains(trains, t_stop=1 * u.second))."
            )
        return self.t_stop - self.t_start

    def __repr__(self) -> str:
        return (
            f"SpikeTrains({self.n_neurons} neurons, max {self.times.shape[-1]} spikes, "
            f"[{self.t_start}, {self.t_stop}) ms)"
        )


def spike_trains(raster, dt, max_spikes: int | None = None, t_start=0.0) -> SpikeTrains:
    """Spike times of a raster ``[time, neurons]``: step ``k`` becomes ``t_start + k dt``.

    ``max_spikes`` must be given under ``jit`` (the padded width is a static shape);
    otherwise it is the largest spike count. Steps with counts > 1 give one spike.

    Example
    -------
    >>> import jax.numpy as jnp, neurodyn.units as u
    >>> r = jnp.zeros((10, 2), bool).at[jnp.array([2, 7]), 0].set(True)
    >>> spike_trains(r, dt=0.5 * u.ms).times
    Array([[1. , 3.5],
           [nan, nan]], dtype=float32)
    """
    if _is_times(raster):
        raise TypeError(
            "spike_trains converts a raster [time, neurons]; these are already spike times. "
            "Use SpikeTrains(times, t_stop=...) to hold them with the recording's end."
        )
    s = _raster2d(raster, "spike_trains") > 0
    dtm, t0 = _ms(dt, "dt"), _ms(t_start, "t_start")
    if max_spikes is None:
        try:
            max_spikes = max(int(np.asarray(s.sum(axis=0)).max(initial=0)), 1)
        except (jax.errors.ConcretizationTypeError, jax.errors.TracerArrayConversionError):
            raise ValueError(
                "spike times of a traced raster (under jit/vmap) need a static width: pass "
                "max_spikes=... (an upper bound of any neuron's spike count)."
            ) from None

    times = _times_of(s, dtm, t0, int(max_spikes))
    out = object.__new__(SpikeTrains)
    out.times, out.t_start, out.t_stop = times, t0, t0 + s.shape[0] * dtm
    return out


@partial(jax.jit, static_argnums=(1, 2, 3))
def _times_of(s, dtm: float, t0: float, max_spikes: int):
    def row(col):
        idx = jnp.nonzero(col, size=max_spikes, fill_value=-1)[0]
        return jnp.where(idx >= 0, t0 + idx * dtm, jnp.nan)

    return jax.vmap(row, in_axes=1)(s).astype(jnp.result_type(float))


def _as_trains(spikes, t_stop=None, fn: str = "") -> SpikeTrains:
    if isinstance(spikes, SpikeTrains):
        return spikes
    if isinstance(spikes, (list, tuple)) or _is_time_quantity(spikes):
        return SpikeTrains(spikes, t_stop=t_stop)
    raise TypeError(
        f"{fn}: expected spike times (a SpikeTrains, a time Quantity, a list of spike-time "
        f"arrays) or a raster with dt=...; got {type(spikes).__name__}."
    )


def _is_times(spikes) -> bool:
    """Whether ``spikes`` are spike times (any time Quantity, a list, a SpikeTrains)
    rather than a raster."""
    return isinstance(spikes, (SpikeTrains, list, tuple)) or _is_time_quantity(spikes)


def _is_single(spikes) -> bool:
    """Whether ``spikes`` is one bare train: a time Quantity of at most one dimension or
    a non-empty flat list of times (the statistics then drop the neuron axis)."""
    if _is_time_quantity(spikes):
        return np.ndim(spikes.mantissa) <= 1
    if isinstance(spikes, (list, tuple)):
        return bool(spikes) and all(_is_scalar(t) for t in spikes)
    return False


def _train(x, fn: str):
    """One spike train (a 1-D time Quantity, a flat list of times, a 1-D array of times
    in ms, NaN-padded, or a one-neuron SpikeTrains) as a 1-D array of times in ms."""
    if isinstance(x, SpikeTrains):
        if x.n_neurons != 1:
            raise ValueError(
                f"{fn}: expected one spike train; got a SpikeTrains of {x.n_neurons}. Pass "
                "one row (st.times[i]); use jax.vmap for many pairs."
            )
        return x.times[0]
    if isinstance(x, (list, tuple)) and x and not all(_is_scalar(t) for t in x):
        if len(x) == 1:
            return _train(x[0], fn)
        raise ValueError(
            f"{fn}: expected one spike train; got a list of {len(x)} trains. Pass the trains "
            "one at a time (a, b); use jax.vmap over a padded array for many pairs."
        )
    t = _ms_array(x)
    if t.ndim == 0:
        t = t[None]
    if t.ndim != 1:
        raise ValueError(
            f"{fn}: expected one spike train (1-D times in ms, NaN-padded); got shape "
            f"{t.shape}. Use jax.vmap for many pairs."
        )
    return t


def _first_neuron(x, single: bool):
    """``x`` (neurons on the last axis) without that axis when ``single``."""
    return x[..., 0] if single else x


def to_raster(trains, dt, t_stop=None):
    """Spike counts ``[bins, neurons]`` of spike times in bins of ``dt`` from
    ``t_start`` (half-open bins; spikes within 1e-6 bin below an edge count in the
    upper bin, so that times like ``7 * 0.1`` land where expected); ``[bins]`` for one
    bare train (a 1-D time Quantity or a flat list of times).

    Example
    -------
    >>> to_raster(SpikeTrains([[0.0, 0.7, 2.9]], t_stop=3.0), dt=1.0)[:, 0]
    Array([2., 0., 1.], dtype=float32)
    """
    st = _as_trains(trains, t_stop, "to_raster")
    dtm = _ms(dt, "dt")
    n_bins = int(math.floor(st.duration_ms / dtm + 1e-6))
    out = _bin_times(st.times, st.t_start, st.t_stop, dtm, n_bins)
    return _first_neuron(out, _is_single(trains))


@partial(jax.jit, static_argnums=4)
def _bin_times(times, t0, t1, dtm, n_bins: int):
    valid = jnp.isfinite(times) & (times >= t0) & (times <= t1)
    x = (times - t0) / dtm
    idx = jnp.floor(x + 1e-6 * jnp.maximum(1.0, jnp.abs(x)))
    ok = valid & (idx >= 0) & (idx < n_bins)
    idx = jnp.where(ok, idx, n_bins).astype(jnp.int32)
    n = jnp.broadcast_to(jnp.arange(times.shape[0])[:, None], idx.shape)
    out = jnp.zeros((n_bins + 1, times.shape[0]), jnp.result_type(float))
    return out.at[idx, n].add(1.0)[:n_bins]


def _binned(spikes, bin_size, dt, fn, t_stop=None):
    """Counts ``[bins, neurons]`` from a raster (``bin_size`` in steps or a time) or
    from spike times (``bin_size`` a time; numbers in ms)."""
    if _is_times(spikes):
        return to_raster(_as_trains(spikes, t_stop, fn), bin_size)
    c = _raster2d(spikes, fn)
    if isinstance(bin_size, (int, np.integer)):
        steps = int(bin_size)
    else:
        if dt is None:
            raise ValueError(f"{fn}: a bin given as a time needs dt=...; or give it in steps.")
        ratio = _ms(bin_size, "bin_size") / _ms(dt, "dt")
        steps = int(round(ratio))
        if abs(ratio - steps) > 1e-6 * max(1.0, ratio):
            raise ValueError(f"{fn}: bin_size must be a multiple of dt; got {ratio} steps.")
    if steps < 1 or steps > c.shape[0]:
        raise ValueError(f"{fn}: bin of {steps} steps for a raster of {c.shape[0]} steps.")
    n = (c.shape[0] // steps) * steps
    return c[:n].reshape(-1, steps, c.shape[1]).sum(axis=1)


# ------------------------------------------------------------------------------ rates
def firing_rate(spikes, dt=None, t_stop=None) -> u.Quantity:
    """Mean firing rate of each neuron (Hz): spike count / duration (one rate for one
    bare train).

    Example
    -------
    >>> firing_rate([[10.0, 20.0], []], t_stop=1000.0)
    Quantity([2., 0.], "Hz")
    >>> import numpy as np
    >>> firing_rate(np.array([10.0, 20.0, 30.0]) * u.ms, t_stop=1 * u.second)
    Quantity(3., "Hz")
    """
    if _is_times(spikes):
        st = _as_trains(spikes, t_stop, "firing_rate")
        rate = st.counts * (1e3 / st.duration_ms)
        return _first_neuron(rate, _is_single(spikes)) * u.Hz
    if dt is None:
        raise ValueError("firing_rate: a raster needs dt=... (the time step).")
    c = _raster2d(spikes, "firing_rate")
    return c.sum(axis=0) * (1e3 / (c.shape[0] * _ms(dt, "dt"))) * u.Hz


def _kernel(kind: str, width_ms: float, dt_ms: float, cutoff: float):
    """Kernel values (1/ms, unit area) at ``k dt`` for ``|k dt| <= cutoff * width``."""
    half = int(math.floor(cutoff * width_ms / dt_ms + 1e-9))
    t = np.arange(-half, half + 1) * dt_ms
    if kind == "gaussian":
        k = np.exp(-0.5 * (t / width_ms) ** 2) / (np.sqrt(2 * np.pi) * width_ms)
    elif kind == "exponential":  # std = tau
        k = np.where(t >= 0, np.exp(-np.abs(t) / width_ms) / width_ms, 0.0)
    elif kind == "alpha":  # std = sqrt(2) tau
        tau = width_ms / np.sqrt(2.0)
        k = np.where(t >= 0, t / tau**2 * np.exp(-np.abs(t) / tau), 0.0)
    else:
        raise ValueError(f"kernel must be 'gaussian', 'exponential' or 'alpha'; got {kind!r}.")
    return jnp.asarray(k, jnp.result_type(float))


def instantaneous_rate(
    spikes, width, dt, kernel: str = "gaussian", cutoff: float = 5.0, t_stop=None
) -> u.Quantity:
    """Kernel-smoothed rate of each neuron, ``[time, neurons]`` in Hz (``[time]`` for
    one bare train).

    ``r(t) = sum_i K(t - t_i)`` on the grid ``t_start + k dt``, with ``K`` of unit area
    truncated at ``cutoff * width``. ``width`` is the kernel's standard deviation (as
    Elephant's ``sigma``): Gaussian ``sigma``; exponential ``exp(-t/tau)/tau`` (t >= 0)
    with ``tau = width``; alpha ``t exp(-t/tau)/tau**2`` with ``tau = width/sqrt(2)``.
    Causal kernels are not shifted (Elephant's ``center_kernel=False``). Spike times
    are first binned at ``dt`` (the raster's step, or the sampling period). Equals
    Elephant's ``instantaneous_rate`` (same ``cutoff``) when ``cutoff * width`` is a
    multiple of ``dt``; otherwise Elephant stretches its kernel grid, we do not.

    Example
    -------
    >>> import jax.numpy as jnp, neurodyn.units as u
    >>> r = jnp.zeros((200, 1), bool).at[100, 0].set(True)
    >>> rate = instantaneous_rate(r, width=5 * u.ms, dt=1 * u.ms)
    >>> round(float(rate.to_value(u.Hz)[100, 0]), 3)   # 1 / (sqrt(2 pi) 5 ms)
    79.788
    """
    dtm = _ms(dt, "dt")
    if _is_times(spikes):
        c = to_raster(_as_trains(spikes, t_stop, "instantaneous_rate"), dt)
    else:
        c = _raster2d(spikes, "instantaneous_rate")
    k = _kernel(kernel, _ms(width, "width"), dtm, cutoff)
    return _first_neuron(_smooth(c, k), _is_single(spikes)) * u.Hz


@jax.jit
def _smooth(c, k):
    kk = jnp.broadcast_to(k[:, None], (k.shape[0], c.shape[1]))
    rate = jax.scipy.signal.fftconvolve(c, kk, mode="same", axes=0)
    return jnp.maximum(rate, 0.0) * 1e3


def population_rate(spikes, dt, width=None, kernel: str = "gaussian", t_stop=None) -> u.Quantity:
    """Population rate (Hz per neuron) at each step, optionally smoothed with a kernel
    of standard deviation ``width`` (see :func:`instantaneous_rate`); spike times are
    binned at ``dt`` up to ``t_stop``.

    Example
    -------
    >>> import jax.numpy as jnp, neurodyn.units as u
    >>> population_rate(jnp.ones((3, 4), bool), dt=1 * u.ms)
    Quantity([1000., 1000., 1000.], "Hz")
    """
    if _is_times(spikes):
        spikes = _as_trains(spikes, t_stop, "population_rate")  # keeps the neuron axis
    if width is not None:
        return instantaneous_rate(spikes, width, dt, kernel).mean(axis=1)
    c = to_raster(spikes, dt) if _is_times(spikes) else _raster2d(spikes, "population_rate")
    return c.mean(axis=1) * (1e3 / _ms(dt, "dt")) * u.Hz


def bin_counts(spikes, bin_size, dt=None, t_stop=None):
    """Spike counts ``[bins, neurons]`` in consecutive bins: ``bin_size`` in steps (int)
    or a time (needs ``dt`` for a raster; spike times need ``t_stop``, and ``bin_size``
    is then a time, numbers in ms); incomplete last bins are dropped. ``[bins]`` for one
    bare train.

    Example
    -------
    >>> import jax.numpy as jnp
    >>> bin_counts(jnp.ones((5, 1), bool), 2)[:, 0]
    Array([2., 2.], dtype=float32)
    """
    c = _binned(spikes, bin_size, dt, "bin_counts", t_stop)
    return _first_neuron(c, _is_single(spikes))


# ------------------------------------------------------------------------------- ISIs
def isi(spikes, dt=None, max_spikes: int | None = None) -> u.Quantity:
    """Interspike intervals ``[neurons, max_spikes - 1]`` (ms, NaN-padded); a 1-D array
    for one bare train.

    Example
    -------
    >>> isi([[1.0, 4.0, 9.0]]).to_value(u.ms)
    Array([[3., 5.]], dtype=float32)
    >>> import numpy as np
    >>> isi(np.array([1.0, 4.0, 9.0]) * u.ms).to_value(u.ms)
    Array([3., 5.], dtype=float32)
    """
    st = spike_trains(spikes, dt, max_spikes) if not _is_times(spikes) else _as_trains(spikes)
    t = jnp.where(st.valid, st.times, jnp.nan)
    d = t[..., 1:] - t[..., :-1]
    return (d[0] if _is_single(spikes) else d) * u.ms


@partial(jax.jit, static_argnums=1)
def _isi_stats_times(st: SpikeTrains, ddof: int):
    t = jnp.where(st.valid, st.times, jnp.nan)
    d = t[..., 1:] - t[..., :-1]
    ok = jnp.isfinite(d)
    n = ok.sum(axis=-1).astype(d.dtype)
    d0 = jnp.where(ok, d, 0.0)
    mean = jnp.where(n > 0, d0.sum(-1) / jnp.maximum(n, 1), jnp.nan)
    var = jnp.where(ok, (d0 - mean[..., None]) ** 2, 0.0).sum(-1) / jnp.maximum(n - ddof, 1)
    var = jnp.where(n > ddof, var, jnp.nan)
    a, b = d[..., :-1], d[..., 1:]
    pair = jnp.isfinite(a) & jnp.isfinite(b)
    ratio = jnp.where(pair, jnp.abs(a - b) / jnp.where(pair, a + b, 1.0), 0.0)
    n_pairs = pair.sum(-1)
    m = jnp.maximum(n_pairs, 1)
    return n, mean, jnp.sqrt(var), ratio.sum(-1) * 2, (ratio**2).sum(-1) * 3, n_pairs, m


def isi_statistics(spikes, dt=None, ddof: int = 0) -> dict:
    """Per-neuron interspike-interval statistics.

    Returns a dict of arrays (one value per neuron; NaN where undefined): ``n_isi``,
    ``mean`` (ms), ``std`` (ms, ``ddof`` as in numpy), ``cv`` (std / mean), ``cv2``
    (Holt et al. 1996: mean of ``2|I[k+1]-I[k]|/(I[k+1]+I[k])``) and ``lv`` (Shinomoto
    et al. 2003: ``3/(n-1) sum ((I[k]-I[k+1])/(I[k]+I[k+1]))**2``). A raster is read
    in one ``scan`` over time (no padding needed). One bare train gives scalars.
    """
    if _is_times(spikes):
        n, mean, std, cv2s, lvs, n_pairs, m = _isi_stats_times(_as_trains(spikes), ddof)
    else:
        if dt is None:
            raise ValueError("isi_statistics: a raster needs dt=... (the time step).")
        n, mean, std, cv2s, lvs, n_pairs, m = _isi_stats_raster(spikes, _ms(dt, "dt"), ddof)
    out = {
        "n_isi": n,
        "mean": mean,
        "std": std,
        "cv": std / mean,
        "cv2": jnp.where(n_pairs > 0, cv2s / m, jnp.nan),
        "lv": jnp.where(n_pairs > 0, lvs / m, jnp.nan),
    }
    single = _is_single(spikes)
    return {k: _first_neuron(v, single) for k, v in out.items()}


def _isi_stats_raster(raster, dtm: float, ddof: int):
    return _isi_scan(_raster2d(raster, "isi_statistics") > 0, dtm, ddof)


@partial(jax.jit, static_argnums=(1, 2))
def _isi_scan(s, dtm: float, ddof: int):
    n_neurons = s.shape[1]
    f = jnp.result_type(float)
    zeros = jnp.zeros(n_neurons, f)

    def step(carry, x):
        k, spk = x
        last, prev_isi, n, s1, s2, cv2_sum, lv_sum, n_pairs = carry
        t = k.astype(f) * dtm
        has_last = last >= 0
        d = jnp.where(has_last, t - last, 0.0)
        new = spk & has_last
        pair = new & (prev_isi > 0)
        ratio = jnp.where(pair, jnp.abs(d - prev_isi) / jnp.where(pair, d + prev_isi, 1.0), 0.0)
        carry = (
            jnp.where(spk, t, last),
            jnp.where(new, d, prev_isi),
            n + new,
            s1 + jnp.where(new, d, 0.0),
            s2 + jnp.where(new, d * d, 0.0),
            cv2_sum + 2 * ratio,
            lv_sum + 3 * ratio * ratio,
            n_pairs + pair,
        )
        return carry, None

    init = (jnp.full(n_neurons, -1.0, f), zeros, zeros, zeros, zeros, zeros, zeros, zeros)
    (_, _, n, s1, s2, cv2s, lvs, n_pairs), _ = jax.lax.scan(step, init, (jnp.arange(s.shape[0]), s))
    mean = jnp.where(n > 0, s1 / jnp.maximum(n, 1), jnp.nan)
    var = (s2 - n * mean**2) / jnp.maximum(n - ddof, 1)
    var = jnp.where(n > ddof, jnp.maximum(var, 0.0), jnp.nan)
    return n, mean, jnp.sqrt(var), cv2s, lvs, n_pairs, jnp.maximum(n_pairs, 1)


def cv_isi(spikes, dt=None, ddof: int = 0):
    """Coefficient of variation of each neuron's ISIs, ``std / mean`` with the
    population std (``ddof=0``, as Elephant's ``cv``); NaN with fewer than 2 spikes.

    Example
    -------
    >>> import jax.numpy as jnp, neurodyn.units as u
    >>> r = jnp.zeros((1000, 1), bool).at[::100, 0].set(True)   # regular
    >>> float(cv_isi(r, dt=1 * u.ms)[0])
    0.0
    >>> float(cv_isi([[0.0, 1.0, 4.0]])[0])                    # ISIs 1, 3
    0.5
    """
    return isi_statistics(spikes, dt, ddof)["cv"]


cv = cv_isi


def cv2(spikes, dt=None):
    """Local coefficient of variation CV2 (Holt et al. 1996) of each neuron.

    Example
    -------
    >>> float(cv2([[0.0, 1.0, 4.0]])[0])          # 2 |3 - 1| / (3 + 1)
    1.0
    """
    return isi_statistics(spikes, dt)["cv2"]


def lv(spikes, dt=None):
    """Local variation LV (Shinomoto et al. 2003) of each neuron.

    Example
    -------
    >>> float(lv([[0.0, 1.0, 4.0]])[0])           # 3 ((1 - 3) / 4)**2
    0.75
    """
    return isi_statistics(spikes, dt)["lv"]


def fano_factor(spikes, bin_size, dt=None, ddof: int = 0, t_stop=None):
    """Fano factor (variance / mean, ``ddof=0`` as Elephant) of each neuron's spike
    counts in consecutive bins (``bin_size`` in steps, or a time; spike times need
    ``t_stop``); one value for one bare train.

    Example
    -------
    >>> import jax.numpy as jnp
    >>> r = jnp.zeros((40, 1), bool).at[jnp.array([0, 1, 2, 10, 20, 21]), 0].set(True)
    >>> round(float(fano_factor(r, 10)[0]), 4)        # counts 3, 1, 2, 0
    0.8333
    """
    c = _binned(spikes, bin_size, dt, "fano_factor", t_stop)
    mean = c.mean(axis=0)
    out = jnp.where(mean > 0, c.var(axis=0, ddof=ddof) / mean, jnp.nan)
    return _first_neuron(out, _is_single(spikes))


def spike_count_correlation(spikes, bin_size, dt=None, t_stop=None):
    """Pearson correlation matrix ``[neurons, neurons]`` of binned spike counts (NaN
    rows for silent neurons); spike times (a list of trains) need ``t_stop``.

    Example
    -------
    >>> import jax.numpy as jnp
    >>> r = jnp.zeros((40, 2), bool).at[jnp.array([0, 1, 20]), :].set(True)
    >>> r = r.at[30, 1].set(True)                       # counts (2,0,1,0), (2,0,1,1)
    >>> round(float(spike_count_correlation(r, 10)[0, 1]), 4)
    0.8528
    """
    if _is_single(spikes):
        raise ValueError(
            "spike_count_correlation: got one spike train (a 1-D time array); the "
            "correlation is between trains: pass a list of them, [a, b, ...], with t_stop=."
        )
    c = _binned(spikes, bin_size, dt, "spike_count_correlation", t_stop)
    z = c - c.mean(axis=0)
    sd = jnp.sqrt((z * z).sum(axis=0))
    return (z.T @ z) / (sd[:, None] * sd[None, :])


def cross_correlogram(a, b, max_lag: int, *, bin_size=None, t_start=0.0):
    """Cross-correlogram of two 1-D rasters (or binned counts): ``cc[k]`` counts pairs
    with ``b`` spiking ``k - max_lag`` steps after ``a``, lags ``-max_lag..max_lag``
    (Elephant's ``cross_correlation_histogram`` without border correction).

    ``a`` and ``b`` may also be two spike trains (1-D time Quantities or flat lists of
    times in ms): they are binned at ``bin_size`` (a time) from ``t_start`` over a
    common length, and ``max_lag`` counts bins.

    Example
    -------
    >>> import jax.numpy as jnp
    >>> a = jnp.zeros(20).at[5].set(1)
    >>> cross_correlogram(a, jnp.roll(a, 2), 3)
    Array([0., 0., 0., 0., 0., 1., 0.], dtype=float32)
    """
    if isinstance(max_lag, bool) or not isinstance(max_lag, (int, np.integer)) or max_lag < 0:
        raise TypeError(
            f"cross_correlogram: max_lag is a number of bins (an int >= 0); got {max_lag!r}."
        )
    if _is_times(a) or _is_times(b):
        a, b = _bin_pair(a, b, bin_size, t_start)
    elif bin_size is not None:
        raise TypeError(
            "cross_correlogram: bin_size is for spike times; a and b are rasters (already "
            "binned). Leave bin_size out, or pass spike times (e.g. times * u.ms)."
        )
    a, b = _counts(a), _counts(b)
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(
            f"cross_correlogram: expected two 1-D rasters of equal length; got {a.shape} "
            f"and {b.shape}. Bin spike times first with to_raster."
        )
    n = a.shape[0]
    size = 1 << (2 * n - 1).bit_length()
    fa, fb = jnp.fft.rfft(a, size), jnp.fft.rfft(b, size)
    full = jnp.fft.irfft(jnp.conj(fa) * fb, size)  # full[k] = sum_t a[t] b[t + k]
    lags = jnp.arange(-max_lag, max_lag + 1)
    return jnp.round(full[lags % size]) + 0.0  # + 0.0: no -0.0


def _bin_pair(a, b, bin_size, t_start):
    """Two spike trains binned at ``bin_size`` over a common length."""
    if not (_is_times(a) and _is_times(b)):
        raise TypeError(
            "cross_correlogram: a and b must both be spike times or both 1-D rasters; got "
            f"{'spike times' if _is_times(a) else 'a raster'} and "
            f"{'spike times' if _is_times(b) else 'a raster'}."
        )
    if bin_size is None:
        raise TypeError(
            "cross_correlogram: a and b are spike times; pass bin_size=... (e.g. 1 * u.ms) "
            "to bin them (max_lag then counts bins)."
        )
    ta, tb = _train(a, "cross_correlogram"), _train(b, "cross_correlogram")
    t0, w = _ms(t_start, "t_start"), _ms(bin_size, "bin_size")
    try:
        last = float(np.nanmax(np.concatenate([np.asarray(ta), np.asarray(tb), [t0]])))
    except (jax.errors.ConcretizationTypeError, jax.errors.TracerArrayConversionError):
        raise ValueError(
            "cross_correlogram of traced spike times (under jit/vmap): bin them first with "
            "to_raster(SpikeTrains([a, b], t_stop=...), bin_size) and pass the columns."
        ) from None
    st = SpikeTrains([ta, tb], t_start=t0, t_stop=t0 + (math.floor((last - t0) / w) + 1) * w)
    c = to_raster(st, w)
    return c[:, 0], c[:, 1]


def synchrony(traces):
    """Golomb's synchrony measure chi (0: asynchronous, 1: synchronous) of signals
    ``[time, neurons]`` (membrane potentials or filtered spike trains).

    Example
    -------
    >>> import jax.numpy as jnp
    >>> x = jnp.sin(jnp.linspace(0, 10, 100))[:, None] * jnp.ones((1, 3))
    >>> round(float(synchrony(x)), 4)
    1.0
    """
    if _is_times(traces):
        raise TypeError(
            "synchrony takes signals [time, neurons] (membrane potentials or filtered spike "
            "trains), not spike times; smooth spike times first, e.g. "
            "instantaneous_rate(trains, width, dt, t_stop=...)."
        )
    x = jnp.asarray(u.get_mantissa(traces))
    if x.ndim != 2:
        raise ValueError(f"synchrony: expected signals [time, neurons]; got shape {x.shape}.")
    pop_var = jnp.var(x.mean(axis=1))
    ind_var = jnp.mean(jnp.var(x, axis=0))
    return jnp.sqrt(pop_var / ind_var)
