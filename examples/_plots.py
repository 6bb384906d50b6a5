"""Shared figure helpers of the examples: a figure on the Agg backend (None without
matplotlib), a raster with a population rate, and saving into ``examples/figures/``
(the docs' example gallery shows the PNGs an example writes there)."""

from __future__ import annotations

import os

import numpy as np

FIGURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "figures")


def figure(name: str, nrows: int = 1, ncols: int = 1, figsize=(8, 4), **kw):
    """``(fig, axes)`` of a new figure (``plt.subplots``), or None when matplotlib is
    not installed (then says so once). ``name`` is only used in that message."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("  (matplotlib not installed: no figure)")
        return None
    return plt.subplots(nrows, ncols, figsize=figsize, **kw)


def save(fig, name: str) -> str:
    """Write ``fig`` to ``examples/figures/<name>.png`` (tight layout, dpi 110), close it
    and return the path."""
    import matplotlib.pyplot as plt

    os.makedirs(FIGURES, exist_ok=True)
    path = os.path.join(FIGURES, f"{name}.png")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def raster(ax, t_ms, i, offset: int = 0, color="k", label=None, max_neurons=None):
    """Spike raster of ``(t_ms, i)`` on ``ax`` (neurons shifted by ``offset``); with
    ``max_neurons`` only the first ones are drawn."""
    t_ms, i = np.asarray(t_ms, float), np.asarray(i)
    if max_neurons is not None:
        keep = i < max_neurons
        t_ms, i = t_ms[keep], i[keep]
    ax.plot(t_ms, i + offset, ".", ms=2.5, mew=0, color=color, label=label, rasterized=True)
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.set_ylabel("neuron")


def rate(ax, t_ms, n: int, t_end_ms: float, bin_ms: float = 5.0, color="k", label=None):
    """Population rate (Hz) of ``n`` neurons in bins of ``bin_ms`` on ``ax``."""
    edges = np.arange(0.0, t_end_ms + bin_ms / 2, bin_ms)
    counts, _ = np.histogram(np.asarray(t_ms, float), edges)
    ax.plot(edges[:-1] + bin_ms / 2, counts / max(n, 1) / (bin_ms / 1000), color=color, label=label)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("rate (Hz)")
    ax.set_xlim(0, t_end_ms)


def network(
    name: str, title: str, t_end_ms: float, exc, inh, shown: int = 400, labels=("E", "I"), axes=None
) -> None:
    """Save the figure of an E/I network: a raster of (at most) ``shown`` neurons, E and I
    in proportion, over the E and I population rates. ``exc`` and ``inh`` are
    ``(t_ms, i, n)``: spike times, indices (within the group) and group size; ``labels``
    name the two groups. ``axes``: ``(fig, ax_raster, ax_rate)`` to draw into instead of a
    new figure (then it is not saved here)."""
    if axes is None:
        made = figure(name, 2, 1, figsize=(8, 5), sharex=True, height_ratios=(3, 1))
        if made is None:
            return
        fig, (ax, ax_rate) = made
    else:
        fig, ax, ax_rate = axes
    (t_e, i_e, n_e), (t_i, i_i, n_i) = exc, inh
    show_e = max(1, round(shown * n_e / (n_e + n_i))) if n_e + n_i > shown else n_e
    show_i = max(1, shown - show_e) if n_e + n_i > shown else n_i
    raster(ax, t_e, i_e, color="tab:blue", max_neurons=show_e)
    raster(ax, t_i, i_i, offset=show_e, color="tab:red", max_neurons=show_i)
    ax.set_ylim(0, show_e + show_i)
    ax.set_ylabel(f"neuron ({show_e} {labels[0]}, {show_i} {labels[1]})")
    ax.set_title(title)
    rate(ax_rate, t_e, n_e, t_end_ms, color="tab:blue", label=labels[0])
    rate(ax_rate, t_i, n_i, t_end_ms, color="tab:red", label=labels[1])
    ax_rate.legend(loc="best", fontsize="small", ncols=2)
    if axes is None:
        save(fig, name)


def learning_curve(ax, values, label=None, color=None) -> None:
    """A per-update training curve on ``ax``: the values, faint, and their running mean
    over ~5% of the updates."""
    values = np.asarray([float(v) for v in values])
    k = max(1, len(values) // 20)
    smooth = np.convolve(values, np.ones(k) / k, mode="valid")
    (line,) = ax.plot(np.arange(1, len(values) + 1), values, lw=0.6, alpha=0.35, color=color)
    ax.plot(np.arange(k, len(values) + 1), smooth, color=line.get_color(), label=label)
    ax.set_xlabel("update")


def learning_figure(name: str, curves, xlabel: str, ylabel: str, title: str) -> None:
    """``examples/figures/<name>.png``: one :func:`learning_curve` per ``(label, values)``
    in ``curves``, with a legend (nothing without matplotlib)."""
    made = figure(name, figsize=(7, 4))
    if made is None:
        return
    fig, ax = made
    for label, values in curves:
        learning_curve(ax, values, label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize="small")
    save(fig, name)
