"""Plots (matplotlib, an optional dependency: ``pip install neurodyn[plot]``)."""

from __future__ import annotations

import numpy as np

import neurodyn.units as u

__all__ = ["raster", "line"]


def _plt():
    try:
        import matplotlib.pyplot as plt
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "Plotting needs matplotlib: pip install 'neurodyn[plot]' (or matplotlib)."
        ) from err
    return plt


def _ms(times):
    return np.asarray(times.to_value(u.ms) if isinstance(times, u.Quantity) else times)


def raster(times, spikes, ax=None, max_neurons: int | None = None, **kwargs):
    """Raster plot of a boolean ``[time, neurons]`` array recorded by ``nd.run``.

    Example:
        >>> import numpy as np
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from neurodyn import analysis
        >>> ax = analysis.raster(np.arange(100.0), np.random.rand(100, 5) < 0.1)
    """
    plt = _plt()
    s = np.asarray(u.get_mantissa(spikes))
    if max_neurons is not None:
        s = s[:, :max_neurons]
    t_idx, n_idx = np.nonzero(s)
    t = _ms(times)
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4))
    kwargs.setdefault("marker", ",")
    kwargs.setdefault("color", "k")
    ax.plot(t[t_idx], n_idx, linestyle="none", **kwargs)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("neuron")
    return ax


def line(times, values, ax=None, **kwargs):
    """Plot traces ``[time, ...]`` (a Quantity's unit goes into the y label)."""
    plt = _plt()
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 3))
    unit = values.unit.name if isinstance(values, u.Quantity) else ""
    ax.plot(_ms(times), np.asarray(u.get_mantissa(values)), **kwargs)
    ax.set_xlabel("time (ms)")
    if unit:
        ax.set_ylabel(unit)
    return ax
