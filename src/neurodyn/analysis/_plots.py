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


def bifurcation_diagram(branch, ax=None, var=0, label_points: bool = True, **kwargs):
    """Bifurcation diagram of a branch from ``continue_equilibria`` (the ``var``-th state,
    an int or a function of ``states``, against the parameter; solid: stable, dashed:
    unstable) or of a ``Codim2Branch`` (the curve in the ``(p1, p2)`` plane). Special points
    are marked and labelled (LP fold, H Hopf, BP branch point, CP cusp, BT
    Bogdanov-Takens, ZH zero-Hopf). Returns the Axes.

    Example:
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from neurodyn import analysis
        >>> br = analysis.continue_equilibria(lambda x, p: p + x**2, [-1.0], -1.0, (-2, 0.5),
        ...                                   ds=0.05)
        >>> ax = analysis.bifurcation_diagram(br)
    """
    plt = _plt()
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    params = np.asarray(branch.params)
    color = kwargs.pop("color", "k")
    if params.ndim == 2:  # two-parameter curve
        ax.plot(params[:, 0], params[:, 1], color=color, **kwargs)
        xy = [(sp.param[0], sp.param[1]) for sp in branch.special_points]
        ax.set_xlabel("p1")
        ax.set_ylabel("p2")
    else:
        states = np.asarray(branch.states)
        y = var(states) if callable(var) else states[:, var]
        stable = np.asarray(branch.stable, bool)
        label = kwargs.pop("label", None)
        # runs of equal stability, each extended by one point so the line stays connected
        edges = np.flatnonzero(np.diff(stable.astype(int))) + 1
        starts = np.concatenate([[0], edges])
        stops = np.concatenate([edges, [len(stable)]])
        for k, (i, j) in enumerate(zip(starts, stops)):
            ls = "-" if stable[i] else "--"
            ax.plot(
                params[i : j + 1],
                y[i : j + 1],
                color=color,
                ls=ls,
                label=label if k == 0 else None,
                **kwargs,
            )
        xy = [(sp.param, y[sp.index]) for sp in branch.special_points]
        ax.set_xlabel("parameter")
        ax.set_ylabel(f"state[{var}]" if not callable(var) else "state")
    for sp, (px, py) in zip(branch.special_points, xy):
        ax.plot(px, py, "o", ms=5, mfc="w", mec="tab:red", zorder=5)
        if label_points:
            ax.annotate(
                sp.label,
                (px, py),
                textcoords="offset points",
                xytext=(4, 4),
                fontsize=8,
                color="tab:red",
            )
    return ax
