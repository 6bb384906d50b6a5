"""Plots (matplotlib, an optional dependency: ``pip install neurodyn[plot]``)."""

from __future__ import annotations

import numpy as np

import neurodyn.units as u

__all__ = [
    "raster",
    "line",
    "traces",
    "population_rate_plot",
    "isi_histogram",
    "phase_portrait",
]


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


def traces(times, values, ax=None, labels=None, offset=None, **kwargs):
    """Several traces ``[time, k]`` (or a list of ``[time]`` arrays/Quantities sharing a
    unit) against time; the unit goes into the y label, ``labels`` into a legend and
    ``offset`` (in the values' unit) stacks the traces apart. Returns the Axes.

    Example:
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import numpy as np, neurodyn.units as u
        >>> from neurodyn import analysis
        >>> v = np.random.rand(100, 3) * u.mV
        >>> ax = analysis.traces(np.arange(100.0) * u.ms, v, labels=["a", "b", "c"])
        >>> len(ax.lines), ax.get_ylabel()
        (3, 'mV')
    """
    plt = _plt()
    if isinstance(values, (list, tuple)):
        unit = values[0].unit if isinstance(values[0], u.Quantity) else None
        cols = [np.asarray(v.to_value(unit) if unit is not None else v) for v in values]
        y = np.stack(cols, axis=1)
    else:
        unit = values.unit if isinstance(values, u.Quantity) else None
        y = np.asarray(u.get_mantissa(values))
        y = y.reshape(y.shape[0], -1)
    t = _ms(times)
    if t.shape[0] != y.shape[0]:
        raise ValueError(
            f"traces: times has {t.shape[0]} samples but values has {y.shape[0]}; "
            "values must be [time, traces]."
        )
    if labels is not None and len(labels) != y.shape[1]:
        raise ValueError(f"traces: {y.shape[1]} traces but {len(labels)} labels.")
    if offset is not None:
        off = offset.to_value(unit) if isinstance(offset, u.Quantity) else float(offset)
        y = y + off * np.arange(y.shape[1])[None, :]
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 3))
    for k in range(y.shape[1]):
        ax.plot(t, y[:, k], label=None if labels is None else labels[k], **kwargs)
    ax.set_xlabel("time (ms)")
    if unit is not None:
        ax.set_ylabel(unit.name)
    if labels is not None:
        ax.legend(loc="upper right", fontsize=8)
    return ax


def population_rate_plot(spikes, dt, width=None, ax=None, t_start=0.0, **kwargs):
    """Population rate (Hz per neuron) of a raster ``[time, neurons]`` or spike times,
    smoothed with a Gaussian of standard deviation ``width`` (a time; default: none),
    against time. Returns the Axes.

    Example:
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import numpy as np, neurodyn.units as u
        >>> from neurodyn import analysis
        >>> r = np.random.rand(500, 20) < 0.01
        >>> ax = analysis.population_rate_plot(r, 1 * u.ms, width=5 * u.ms)
        >>> ax.get_ylabel()
        'rate (Hz)'
    """
    from ._spikes import _ms as _time_ms
    from ._spikes import population_rate

    plt = _plt()
    rate = np.asarray(population_rate(spikes, dt, width).to_value(u.Hz))
    t = _time_ms(t_start, "t_start") + np.arange(rate.shape[0]) * _time_ms(dt, "dt")
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 2.5))
    kwargs.setdefault("color", "k")
    kwargs.setdefault("lw", 1.0)
    ax.plot(t, rate, **kwargs)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("rate (Hz)")
    ax.set_xlim(t[0], t[-1])
    return ax


def isi_histogram(spikes, dt=None, bins=50, ax=None, log: bool = False, **kwargs):
    """Histogram of the interspike intervals of all neurons (ms), from a raster with
    ``dt`` or spike times; the title gives the number of ISIs and their CV (all neurons
    pooled). ``log=True`` uses logarithmic bins. Returns the Axes.

    Example:
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import numpy as np, neurodyn.units as u
        >>> from neurodyn import analysis
        >>> ax = analysis.isi_histogram([np.cumsum(np.random.exponential(20, 200))])
        >>> ax.get_xlabel()
        'ISI (ms)'
    """
    from ._spikes import isi

    plt = _plt()
    d = np.asarray(isi(spikes, dt).to_value(u.ms)).ravel()
    d = d[np.isfinite(d)]
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 3))
    if log and d.size:
        bins = np.geomspace(max(d.min(), 1e-3), d.max(), bins if np.ndim(bins) == 0 else bins)
        ax.set_xscale("log")
    kwargs.setdefault("color", "0.4")
    ax.hist(d, bins=bins, **kwargs)
    ax.set_xlabel("ISI (ms)")
    ax.set_ylabel("count")
    cv = d.std() / d.mean() if d.size > 1 else float("nan")
    ax.set_title(f"{d.size} ISIs, pooled CV = {cv:.2f}", fontsize=9)
    return ax


_FP_STYLE = {  # stability -> marker, face colour, legend label
    "stable": ("o", "k", "stable"),
    "unstable": ("o", "w", "unstable"),
    "saddle": ("X", "w", "saddle"),
    "other": ("s", "0.6", "center/marginal"),
}


def _fp_style(kind: str):
    if kind.startswith("stable"):
        return _FP_STYLE["stable"]
    if kind.startswith("unstable"):
        return _FP_STYLE["unstable"]
    if kind == "saddle":
        return _FP_STYLE["saddle"]
    return _FP_STYLE["other"]


def phase_portrait(
    plane_or_f,
    x_range=None,
    y_range=None,
    args=(),
    ax=None,
    trajectories=(),
    duration: float = 50.0,
    dt: float = 0.01,
    labels=None,
    streamlines: bool = True,
    density: float = 1.0,
    annotate: bool = False,
):
    """Phase portrait of a 2-D vector field: the flow (streamlines, or arrows with
    ``streamlines=False``), both nullclines, the fixed points with their stability
    (filled: stable, open: unstable, cross: saddle; ``annotate`` writes the class) and
    trajectories from the initial conditions ``trajectories`` over ``duration``.

    ``plane_or_f`` is a :class:`PhasePlane`, or ``f(x, *args)`` with ``x_range`` and
    ``y_range``. Returns the Axes.

    Example:
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import jax.numpy as jnp
        >>> from neurodyn import analysis
        >>> f = lambda x: jnp.array([x[1], -x[0] - 0.5 * x[1]])   # damped oscillator
        >>> ax = analysis.phase_portrait(f, (-2, 2), (-2, 2), trajectories=[[1.5, 0.0]])
        >>> ax.get_legend_handles_labels()[1]
        ['dx/dt = 0', 'dy/dt = 0', 'stable', 'trajectory']
    """
    from ._phase import PhasePlane, vector_field

    plt = _plt()
    if isinstance(plane_or_f, PhasePlane):
        pp = plane_or_f
    else:
        if x_range is None or y_range is None:
            raise ValueError(
                "phase_portrait: with a function, give x_range and y_range, e.g. "
                "phase_portrait(f, (-2, 2), (-1, 1)); or pass a PhasePlane."
            )
        pp = PhasePlane(plane_or_f, x_range, y_range, args, labels or ("x", "y"))
    names = labels or pp.labels
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 5))
    X, Y, U, V = (np.asarray(a) for a in vector_field(pp.f, pp.x_range, pp.y_range, 25, pp.args))
    if streamlines:
        ax.streamplot(X, Y, U, V, color="0.8", density=density, linewidth=0.7, arrowsize=0.8)
    else:
        n = np.hypot(U, V)
        n[n == 0] = 1.0
        ax.quiver(X, Y, U / n, V / n, color="0.7", angles="xy", pivot="mid")
    null = pp.nullclines()
    for i, color in ((0, "tab:blue"), (1, "tab:orange")):
        p = null[i]
        ax.plot(p[:, 0], p[:, 1], ".", ms=1.5, color=color, label=f"d{names[i]}/dt = 0")
    seen = set()
    for fp in pp.fixed_points():
        marker, face, name = _fp_style(fp.kind)
        ax.plot(
            *fp.x,
            marker,
            ms=9,
            mfc=face,
            mec="k",
            mew=1.5,
            ls="none",
            zorder=6,
            label=None if name in seen else name,
        )
        seen.add(name)
        if annotate:
            ax.annotate(fp.kind, fp.x, textcoords="offset points", xytext=(6, 6), fontsize=8)
    for k, x0 in enumerate(trajectories):
        _, ys = pp.trajectory(x0, duration, dt)
        ax.plot(
            ys[:, 0], ys[:, 1], "-", color="tab:red", lw=1.2, label="trajectory" if k == 0 else None
        )
        ax.plot(*ys[0], ".", color="tab:red", ms=6)
    ax.set_xlim(*pp.x_range)
    ax.set_ylim(*pp.y_range)
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1])
    ax.legend(loc="upper right", fontsize=8, framealpha=0.9)
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
    # a model's branch may carry Quantities: plot their numbers, label with their unit
    punit = getattr(branch.params, "unit", None)
    params = np.asarray(u.get_mantissa(branch.params))
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
        xy = [(float(u.get_mantissa(sp.param)), y[sp.index]) for sp in branch.special_points]
        pname = getattr(branch, "param_name", "p")
        ax.set_xlabel(
            "parameter" if pname == "p" else f"{pname} ({punit.name})" if punit else pname
        )
        names, units = getattr(branch, "var_names", ()), getattr(branch, "var_units", ())
        if names and not callable(var):
            unit = units[var]
            ax.set_ylabel(names[var] if unit is None else f"{names[var]} ({unit.name})")
        else:
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
