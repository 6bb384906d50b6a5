"""Spectral measures of rate- or LFP-like signals: Welch power spectrum and coherence
(Hann windows, pure ``jax.numpy``; they agree with ``scipy.signal``)."""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

import neurodyn.units as u

from ._spikes import _ms

__all__ = ["power_spectrum", "coherence"]


# --------------------------------------------------------------------------- spectra
def _segments(x, nperseg: int, noverlap: int | None):
    n = x.shape[0]
    nperseg = min(int(nperseg), n)
    noverlap = nperseg // 2 if noverlap is None else int(noverlap)
    if not 0 <= noverlap < nperseg:
        raise ValueError(f"noverlap must be in [0, nperseg={nperseg}); got {noverlap}.")
    step = nperseg - noverlap
    starts = np.arange(0, n - nperseg + 1, step)
    idx = starts[:, None] + np.arange(nperseg)[None, :]
    seg = x[idx]  # [segments, nperseg, ...]
    seg = seg - seg.mean(axis=1, keepdims=True)  # detrend='constant'
    win = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(nperseg) / nperseg)  # periodic Hann
    wss = float((win**2).sum())
    win = jnp.asarray(win, seg.dtype).reshape((1, nperseg) + (1,) * (x.ndim - 1))
    return jnp.fft.rfft(seg * win, axis=1), nperseg, wss


def _onesided(p, nperseg):
    scale = np.full(nperseg // 2 + 1, 2.0)
    scale[0] = 1.0
    if nperseg % 2 == 0:
        scale[-1] = 1.0
    return p * jnp.asarray(scale, p.real.dtype).reshape((-1,) + (1,) * (p.ndim - 1))


def power_spectrum(x, dt, nperseg: int = 256, noverlap: int | None = None):
    """Welch power spectral density of signals ``[time, ...]`` sampled every ``dt``:
    periodic Hann windows of ``nperseg`` samples overlapping by ``noverlap`` (default
    half), mean removed per segment, one-sided density (as ``scipy.signal.welch``).

    Returns ``(freqs, power)``: frequencies in Hz, power ``[freqs, ...]`` in
    ``unit**2 / Hz`` (a Quantity when ``x`` is one, else per Hz).

    Example
    -------
    >>> import jax.numpy as jnp, neurodyn.units as u
    >>> t = jnp.arange(4096) * 1e-3                       # 1 kHz sampling
    >>> f, p = power_spectrum(jnp.sin(2 * jnp.pi * 50 * t), dt=1 * u.ms)
    >>> round(float(f.to_value(u.Hz)[jnp.argmax(p)]), 2)   # bin nearest 50 Hz
    50.78
    """
    unit = x.unit if isinstance(x, u.Quantity) else None
    v = jnp.asarray(u.get_mantissa(x), jnp.result_type(float))
    fs = 1e3 / _ms(dt, "dt")
    nperseg = min(int(nperseg), v.shape[0])
    p = _welch(v, fs, nperseg, noverlap)
    freqs = jnp.fft.rfftfreq(nperseg, 1.0 / fs) * u.Hz
    return freqs, (p * (unit**2 / u.Hz) if unit is not None else p)


@partial(jax.jit, static_argnums=(2, 3))
def _welch(v, fs, nperseg: int, noverlap):
    spec, nperseg, wss = _segments(v, nperseg, noverlap)
    return _onesided((jnp.abs(spec) ** 2).mean(axis=0) / (fs * wss), nperseg)


def coherence(x, y, dt, nperseg: int = 256, noverlap: int | None = None):
    """Magnitude-squared coherence ``|Pxy|**2 / (Pxx Pyy)`` of two signals ``[time,
    ...]`` with Welch's method (as ``scipy.signal.coherence``). Returns ``(freqs in Hz,
    coherence)``.

    Example
    -------
    >>> import jax.numpy as jnp
    >>> x = jnp.sin(jnp.arange(2048) * 0.3)
    >>> f, c = coherence(x, 2 * x, dt=1.0)
    >>> bool(jnp.allclose(c[1:], 1.0, atol=1e-4))
    True
    """
    vx = jnp.asarray(u.get_mantissa(x), jnp.result_type(float))
    vy = jnp.asarray(u.get_mantissa(y), jnp.result_type(float))
    if vx.shape != vy.shape:
        raise ValueError(f"coherence: x and y must have one shape; got {vx.shape}, {vy.shape}.")
    fs = 1e3 / _ms(dt, "dt")
    nperseg = min(int(nperseg), vx.shape[0])
    return jnp.fft.rfftfreq(nperseg, 1.0 / fs) * u.Hz, _coherence(vx, vy, nperseg, noverlap)


@partial(jax.jit, static_argnums=(2, 3))
def _coherence(vx, vy, nperseg: int, noverlap):
    sx, nperseg, _ = _segments(vx, nperseg, noverlap)
    sy, _, _ = _segments(vy, nperseg, noverlap)
    pxx = (jnp.abs(sx) ** 2).mean(axis=0)
    pyy = (jnp.abs(sy) ** 2).mean(axis=0)
    pxy = (jnp.conj(sx) * sy).mean(axis=0)
    return jnp.abs(pxy) ** 2 / (pxx * pyy)
