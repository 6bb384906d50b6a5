"""Spike-train statistics on rasters ``[time, neurons]`` (bool or counts), jit-able
and vmappable: everything is computed with array operations or one ``scan`` over
time, never with per-neuron Python loops or ragged spike-time lists.

Times are in the unit of ``dt`` (a time Quantity, or a float in ms).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

import neurodyn.units as u

__all__ = [
    "firing_rate",
    "population_rate",
    "isi_statistics",
    "cv",
    "cv2",
    "lv",
    "fano_factor",
    "spike_count_correlation",
    "cross_correlogram",
    "synchrony",
    "van_rossum_distance",
    "bin_counts",
]


def _dt_ms(dt) -> float:
    if isinstance(dt, u.Quantity):
        return float(dt.to_value(u.ms))
    return float(dt)


def _counts(raster):
    r = jnp.asarray(raster)
    return r.astype(jnp.result_type(float)) if r.dtype == jnp.bool_ else r


def firing_rate(raster, dt) -> u.Quantity:
    """Mean firing rate of each neuron over the whole raster (Hz)."""
    c = _counts(raster)
    seconds = c.shape[0] * _dt_ms(dt) * 1e-3
    return c.sum(axis=0) / seconds * u.Hz


def population_rate(raster, dt, width=None) -> u.Quantity:
    """Instantaneous population rate (Hz per neuron), optionally smoothed with a
    Gaussian kernel of standard deviation ``width`` (a time)."""
    c = _counts(raster)
    rate = c.mean(axis=1) / (_dt_ms(dt) * 1e-3)
    if width is not None:
        sd = _dt_ms(width) / _dt_ms(dt)
        half = int(4 * sd) + 1
        k = jnp.exp(-0.5 * (jnp.arange(-half, half + 1) / sd) ** 2)
        rate = jnp.convolve(rate, k / k.sum(), mode="same")
    return rate * u.Hz


def bin_counts(raster, bin_steps: int):
    """Spike counts in consecutive bins of ``bin_steps`` steps: ``[bins, neurons]``."""
    c = _counts(raster)
    n = (c.shape[0] // bin_steps) * bin_steps
    return c[:n].reshape(-1, bin_steps, *c.shape[1:]).sum(axis=1)


def isi_statistics(raster, dt) -> dict:
    """Per-neuron interspike-interval statistics from one scan over time.

    Returns a dict of arrays (one value per neuron; NaN where undefined):
    ``n_isi``, ``mean`` (ms), ``std`` (ms), ``cv``, ``cv2`` (Holt et al. 1996),
    ``lv`` (Shinomoto et al. 2003).
    """
    s = jnp.asarray(raster) > 0
    n_neurons = s.shape[1]
    dtm = _dt_ms(dt)
    f = jnp.result_type(float)
    zeros = jnp.zeros(n_neurons, f)

    def step(carry, x):
        k, spk = x
        last, prev_isi, n, s1, s2, cv2_sum, lv_sum, n_pairs = carry
        t = k.astype(f) * dtm
        has_last = last >= 0
        isi = jnp.where(has_last, t - last, 0.0)
        new_isi = spk & has_last
        pair = new_isi & (prev_isi > 0)
        ratio = jnp.where(pair, jnp.abs(isi - prev_isi) / (isi + prev_isi), 0.0)
        carry = (
            jnp.where(spk, t, last),
            jnp.where(new_isi, isi, prev_isi),
            n + new_isi,
            s1 + jnp.where(new_isi, isi, 0.0),
            s2 + jnp.where(new_isi, isi * isi, 0.0),
            cv2_sum + 2 * ratio,
            lv_sum + ratio * ratio,
            n_pairs + pair,
        )
        return carry, None

    init = (jnp.full(n_neurons, -1.0, f), zeros, zeros, zeros, zeros, zeros, zeros, zeros)
    (last, prev, n, s1, s2, cv2_sum, lv_sum, n_pairs), _ = jax.lax.scan(
        step, init, (jnp.arange(s.shape[0]), s)
    )
    mean = jnp.where(n > 0, s1 / jnp.maximum(n, 1), jnp.nan)
    var = jnp.where(n > 1, (s2 - n * mean**2) / jnp.maximum(n - 1, 1), jnp.nan)
    std = jnp.sqrt(jnp.maximum(var, 0.0))
    return {
        "n_isi": n,
        "mean": mean,
        "std": std,
        "cv": std / mean,
        "cv2": jnp.where(n_pairs > 0, cv2_sum / jnp.maximum(n_pairs, 1), jnp.nan),
        "lv": jnp.where(n_pairs > 0, 3.0 * lv_sum / jnp.maximum(n_pairs, 1), jnp.nan),
    }


def cv(raster, dt):
    """Coefficient of variation of the ISIs of each neuron (sample std / mean)."""
    return isi_statistics(raster, dt)["cv"]


def cv2(raster, dt):
    """Local variation CV2 (Holt et al. 1996): mean of 2|I_{k+1}-I_k|/(I_{k+1}+I_k)."""
    return isi_statistics(raster, dt)["cv2"]


def lv(raster, dt):
    """Local variation LV (Shinomoto et al. 2003): 3/(n-1) sum ((I_k-I_{k+1})/(I_k+I_{k+1}))²."""
    return isi_statistics(raster, dt)["lv"]


def fano_factor(raster, bin_steps: int):
    """Fano factor of each neuron's spike counts in bins of ``bin_steps`` steps
    (sample variance / mean)."""
    c = bin_counts(raster, bin_steps)
    mean = c.mean(axis=0)
    return jnp.where(mean > 0, c.var(axis=0, ddof=1) / mean, jnp.nan)


def spike_count_correlation(raster, bin_steps: int):
    """Pearson correlation matrix of binned spike counts ``[neurons, neurons]``
    (NaN rows for silent neurons)."""
    c = bin_counts(raster, bin_steps)
    z = c - c.mean(axis=0)
    sd = jnp.sqrt((z * z).sum(axis=0))
    return (z.T @ z) / (sd[:, None] * sd[None, :])


def cross_correlogram(a, b, max_lag: int):
    """Cross-correlogram of two spike trains (1-D rasters): ``cc[k]`` counts pairs with
    ``b`` spiking ``k - max_lag`` steps after ``a``, for lags ``-max_lag..max_lag``."""
    a, b = _counts(a), _counts(b)
    n = a.shape[0]
    size = 1 << (2 * n - 1).bit_length()
    fa, fb = jnp.fft.rfft(a, size), jnp.fft.rfft(b, size)
    full = jnp.fft.irfft(jnp.conj(fa) * fb, size)  # full[k] = sum_t a[t] b[t + k]
    lags = jnp.arange(-max_lag, max_lag + 1)
    return jnp.round(full[lags % size])


def synchrony(traces):
    """Golomb's synchrony measure chi (0: asynchronous, 1: synchronous) of signals
    ``[time, neurons]`` (membrane potentials or filtered spike trains)."""
    x = jnp.asarray(u.get_mantissa(traces))
    pop_var = jnp.var(x.mean(axis=1))
    ind_var = jnp.mean(jnp.var(x, axis=0))
    return jnp.sqrt(pop_var / ind_var)


def van_rossum_distance(a, b, dt, tau):
    """Van Rossum (2001) distance between two spike trains (1-D rasters): the L2 norm
    of the difference of the trains filtered by ``exp(-t/tau)``, normalised by tau."""
    a, b = _counts(a), _counts(b)
    decay = jnp.exp(-_dt_ms(dt) / _dt_ms(tau))

    def filt(x):
        def step(c, s):
            c = c * decay + s
            return c, c

        return jax.lax.scan(step, jnp.zeros(()), x)[1]

    d = filt(a) - filt(b)
    return jnp.sqrt(jnp.sum(d * d) * _dt_ms(dt) / _dt_ms(tau))
