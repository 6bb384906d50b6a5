"""Distances and synchrony between spike trains: van Rossum (2001), Victor-Purpura, and the
spike time tiling coefficient. Inputs as in :mod:`._spikes`: each of ``a`` and ``b`` is one
train, as spike times (a 1-D time Quantity such as ``np.array([1., 5.]) * u.ms``, a flat
list of times, a 1-D array of times in ms, NaN-padded, or a one-neuron SpikeTrains) or as
a 1-D raster with ``dt`` (a plain array). A time Quantity is always read as spike times,
also when ``dt`` is given. jit-able, and vmappable over pairs."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ._spikes import _counts, _is_times, _ms, _per_ms, _train, spike_trains

__all__ = ["van_rossum_distance", "victor_purpura_distance", "spike_time_tiling_coefficient"]


# -------------------------------------------------------------------------- distances
def _one_train(x, dt, fn):
    """A single spike train as a padded 1-D array of times in ms."""
    if dt is not None and not _is_times(x):
        c = _counts(x)
        if c.ndim != 1:
            raise ValueError(f"{fn}: with dt, a and b are 1-D rasters; got shape {c.shape}.")
        try:  # outside jit: pad to the spike count; under jit: to the raster length
            k = max(int(np.asarray(c > 0).sum()), 1)
        except (jax.errors.ConcretizationTypeError, jax.errors.TracerArrayConversionError):
            k = c.shape[0]
        return spike_trains(c[:, None], dt, max_spikes=k).times[0]
    return _train(x, fn)


def van_rossum_distance(a, b, tau, dt=None):
    """Van Rossum (2001) distance between two spike trains: the L2 norm of the
    difference of the trains filtered by ``exp(-t/tau)``, divided by ``sqrt(tau)``:
    ``D**2 = (1/tau) int (f_a - f_b)**2 dt``, computed exactly from the spike times
    (``D**2 = 1/2 sum_ij s_i s_j exp(-|t_i - t_j|/tau)``, ``s = +1`` for ``a``, ``-1``
    for ``b``). One spike against none gives ``1/sqrt(2)``; Elephant's
    ``van_rossum_distance`` is ``sqrt(2)`` times this.

    ``a``, ``b``: one spike train each (a 1-D time Quantity, a flat list of times, a 1-D
    array in ms, NaN-padded), or 1-D rasters with ``dt``.

    Example
    -------
    >>> import neurodyn.units as u
    >>> round(float(van_rossum_distance([5.0], [jnp.nan], tau=10 * u.ms)), 6)
    0.707107
    """
    tm = _ms(tau, "tau")
    if dt is not None and not (_is_times(a) or _is_times(b)):
        return _van_rossum_raster(a, b, tm, _ms(dt, "dt"))
    ta, tb = _one_train(a, dt, "van_rossum_distance"), _one_train(b, dt, "van_rossum_distance")
    return _van_rossum_times(ta, tb, tm)


@jax.jit
def _van_rossum_times(ta, tb, tm):
    t = jnp.concatenate([ta, tb])
    s = jnp.concatenate([jnp.ones_like(ta), -jnp.ones_like(tb)])
    ok = jnp.isfinite(t)
    s = jnp.where(ok, s, 0.0)
    t = jnp.where(ok, t, 0.0)
    k = jnp.exp(-jnp.abs(t[:, None] - t[None, :]) / tm)
    d2 = 0.5 * (s[:, None] * s[None, :] * k).sum()
    return jnp.sqrt(jnp.maximum(d2, 0.0))


def _van_rossum_raster(a, b, tm, dtm):
    """Exact for spikes on the grid: between steps the filtered difference decays as
    ``D_k exp(-(t - t_k)/tau)``, whose squared integral is ``D_k**2 tau/2 (1 - e**(-2dt/tau))``
    (to infinity after the last step)."""
    a, b = _counts(a), _counts(b)
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(
            f"van_rossum_distance: expected two 1-D rasters of equal length; got {a.shape} "
            f"and {b.shape}."
        )
    return _van_rossum_scan(a, b, tm, dtm)


@jax.jit
def _van_rossum_scan(a, b, tm, dtm):
    decay = jnp.exp(-dtm / tm)

    def step(c, s):
        c = c * decay + s
        return c, c

    d = jax.lax.scan(step, jnp.zeros((), a.dtype), a - b)[1]
    d2 = 0.5 * ((1 - decay**2) * jnp.sum(d[:-1] ** 2) + d[-1] ** 2)
    return jnp.sqrt(d2)


def victor_purpura_distance(a, b, q, dt=None):
    """Victor-Purpura (1996) distance: the cheapest way to turn ``a`` into ``b`` by
    deleting/inserting spikes (cost 1) and shifting them (cost ``q |dt|``).

    Dynamic programming, one ``lax.scan`` over the spikes of ``a`` with a vectorised
    row update (``cummin``). ``q`` is a cost per time (Quantity such as ``0.1 / u.ms``
    or ``100 * u.Hz``, or a float per ms). ``a``, ``b``: spike times (NaN-padded) or
    1-D rasters with ``dt``.

    Example
    -------
    >>> float(victor_purpura_distance([1.0, 10.0], [2.0], q=0.5))   # shift 0.5 + delete 1
    1.5
    """
    qm = _per_ms(q, "q")
    ta = _one_train(a, dt, "victor_purpura_distance")
    tb = _one_train(b, dt, "victor_purpura_distance")
    return _victor_purpura(ta, tb, qm)


@jax.jit
def _victor_purpura(ta, tb, qm):
    ta, tb = jnp.sort(ta), jnp.sort(tb)
    na, nb = jnp.isfinite(ta).sum(), jnp.isfinite(tb).sum()
    f = jnp.result_type(float)
    j = jnp.arange(tb.shape[0] + 1, dtype=f)

    def row(prev, ai):
        shift = qm * jnp.abs(ai - tb)
        shift = jnp.where(jnp.isfinite(shift), shift, jnp.inf)
        c = jnp.concatenate([prev[:1] + 1, jnp.minimum(prev[1:] + 1, prev[:-1] + shift)])
        new = j + jax.lax.cummin(c - j)  # G[j] = min(c[j], G[j-1] + 1)
        return new, new

    g0 = j
    _, rows = jax.lax.scan(row, g0, ta)
    table = jnp.concatenate([g0[None], rows])
    return table[na, nb]


def spike_time_tiling_coefficient(a, b, window, t_start=None, t_stop=None):
    """Spike time tiling coefficient (Cutts & Eglen 2014) of two spike trains:
    ``(PA - TB)/(1 - PA TB)/2 + (PB - TA)/(1 - PB TA)/2`` where ``PA`` is the fraction
    of spikes of ``a`` within ``±window`` of a spike of ``b`` and ``TA`` the fraction of
    ``[t_start, t_stop]`` within ``±window`` of a spike of ``a``. NaN if a train is
    empty.

    ``a``, ``b``: 1-D spike times (ms or Quantity, NaN-padded) or a :class:`SpikeTrains`
    pair's rows; ``t_start`` defaults to 0, ``t_stop`` to the last spike.

    Example
    -------
    >>> round(float(spike_time_tiling_coefficient([10.0, 50.0], [11.0, 50.5],
    ...     window=2.0, t_stop=100.0)), 4)
    1.0
    """
    w = _ms(window, "window")
    ta, tb = _one_train(a, None, "sttc"), _one_train(b, None, "sttc")
    t0 = 0.0 if t_start is None else _ms(t_start, "t_start")
    t1 = jnp.nan if t_stop is None else _ms(t_stop, "t_stop")
    return _sttc(ta, tb, w, t0, t1)


@jax.jit
def _sttc(ta, tb, w, t0, t1):
    ta, tb = jnp.sort(ta), jnp.sort(tb)
    t1 = jnp.where(jnp.isnan(t1), jnp.maximum(jnp.nanmax(ta), jnp.nanmax(tb)), t1)

    def prop(x, y):  # fraction of spikes of x within +-w of a spike of y
        d = jnp.abs(x[:, None] - y[None, :])
        near = jnp.any(jnp.where(jnp.isfinite(d), d <= w, False), axis=1)
        ok = jnp.isfinite(x)
        return (near & ok).sum() / ok.sum()

    def tiled(x):  # fraction of [t0, t1] covered by the union of [x_i - w, x_i + w]
        ok = jnp.isfinite(x)
        lo = jnp.where(ok, jnp.maximum(x - w, t0), t0)
        hi = jnp.where(ok, jnp.minimum(x + w, t1), t0)
        prev_hi = jnp.concatenate([jnp.full((1,), t0, lo.dtype), jax.lax.cummax(hi)[:-1]])
        return jnp.where(ok, jnp.maximum(hi - jnp.maximum(lo, prev_hi), 0.0), 0.0).sum() / (t1 - t0)

    pa, pb, tA, tB = prop(ta, tb), prop(tb, ta), tiled(ta), tiled(tb)

    def term(p, t):
        return jnp.where(p * t == 1.0, 1.0, (p - t) / (1.0 - p * t))

    out = 0.5 * (term(pa, tB) + term(pb, tA))
    empty = (jnp.isfinite(ta).sum() == 0) | (jnp.isfinite(tb).sum() == 0)
    return jnp.where(empty, jnp.nan, out)
