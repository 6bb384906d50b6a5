"""Fast-slow analysis: the slow variable as a parameter of the fast subsystem.

For ``dx/dt = f_fast(x, z)``, ``dz/dt = slow(x, z)`` with ``z`` slow (a scalar), the
critical manifold is the set of equilibria of the fast subsystem with ``z`` frozen; it is
computed by :func:`continue_equilibria` in ``z`` (stability, folds and Hopf points of the
fast subsystem). With the slow vector field given, the slow drift along the manifold and
the equilibria of the full system (zeros of ``slow`` on the manifold) are added. Further
slow variables can be held fixed through a closure.

A :mod:`neurodyn.dyn` model may replace ``f_fast``: name its slow variable (``slow="z"``)
and optionally the fast ones (``fast=("V", "y")``; default: all the others; the rest are
held at their values in ``x0``). The slow vector field is then the model's own, values
are in the variables' declared units (Quantities accepted), and the results carry the
names and units (see :func:`critical_manifold`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np

import neurodyn.units as u

from ._continuation import EquilibriumBranch, SpecialPoint, _newton, continue_equilibria

__all__ = ["FastSlowAnalysis", "critical_manifold", "fast_slow_diagram"]


@dataclass
class FastSlowAnalysis:
    """The critical manifold of a fast-slow system.

    ``manifold`` (an :class:`EquilibriumBranch` of the fast subsystem with the slow
    variable as ``params``), ``slow_rate`` ``[n]`` (``dz/dt`` along it, or ``None``),
    ``equilibria`` (full-system equilibria on the manifold as ``SpecialPoint`` of kind
    ``"equilibrium"`` with ``data["stable"]`` and ``data["eigenvalues"]`` of the full
    system).

    From a ``dyn`` model: ``manifold.param_name`` is the slow variable, ``var_names`` /
    ``var_units`` the fast ones (the columns of ``states``); ``slow_name`` and
    ``slow_unit`` (its declared unit, ``None`` if dimensionless) name the slow variable;
    the slow values (``manifold.params``, each point's ``param``) and ``slow_rate`` (per
    ms) are Quantities when ``z0`` or ``z_range`` was given as one and the slow variable
    has a unit.
    """

    manifold: EquilibriumBranch
    slow_rate: np.ndarray | None = None
    equilibria: list[SpecialPoint] = field(default_factory=list)
    slow_name: str | None = None
    slow_unit: object = None

    @property
    def folds(self) -> list[SpecialPoint]:
        """Folds of the critical manifold (where fast-slow relaxation jumps)."""
        return self.manifold.folds

    @property
    def hopfs(self) -> list[SpecialPoint]:
        """Hopf points of the fast subsystem (onset of fast oscillations, e.g. bursts)."""
        return self.manifold.hopfs


def critical_manifold(
    f_fast: Callable,
    x0=None,
    z0: float | None = None,
    z_range: tuple[float, float] | None = None,
    *,
    slow: Callable | str | None = None,
    fast: str | Sequence[str] | None = None,
    **kwargs,
) -> FastSlowAnalysis:
    """Critical manifold of ``dx/dt = f_fast(x, z)`` with the slow variable ``z`` frozen.

    Parameters
    ----------
    f_fast : callable or neurodyn.dyn.Model
        ``f_fast(x, z)`` in ``jax.numpy``, ``x`` of shape ``(d,)``, ``z`` a scalar; or a
        ``dyn`` model (neuron 0; see below).
    x0, z0 : array, float
        A point near an equilibrium of the fast subsystem at ``z0``.
    z_range : (low, high)
        Range of the slow variable.
    slow : callable or str, optional
        ``slow(x, z) -> dz/dt`` (scalar): adds the drift along the manifold and the
        equilibria of the full system. With a model: the name of its slow variable
        (required).
    fast : str or sequence of str, optional
        With a model: the fast variables (default: all but ``slow``); the variables named
        in neither are held at their values in ``x0``.
    **kwargs
        Passed to :func:`continue_equilibria` (``ds``, ``ds_max``, ``max_steps``, ...).

    With a model, ``x0`` is ``None`` (its current state), a dict ``{variable: value}``
    (Quantities or numbers in the declared units; the others from the current state) or
    numbers for all its variables; ``z0`` (default: the slow variable in ``x0``) and
    ``z_range`` are Quantities or numbers in the slow variable's declared unit. The
    manifold's ``states`` are the fast variables in their declared units, ``dz/dt`` is per
    ms, and :class:`FastSlowAnalysis` names everything (``slow_name``, ``var_names``).
    For example, ``critical_manifold(nd.dyn.AdEx(1), {"V": -70 * u.mV}, z_range=(-100, 50)
    * u.pA, slow="w")`` gives the V-nullcline of the AdEx neuron with ``w`` in pA.

    Example
    -------
    >>> import jax.numpy as jnp
    >>> from neurodyn.analysis import critical_manifold
    >>> fs = critical_manifold(lambda x, z: z - x**2, [-1.0], 1.0,
    ...                        (-1.0, 2.0), slow=lambda x, z: -z + 0.25, ds=0.05, direction=-1)
    >>> [s.kind for s in fs.folds], sorted(round(float(e.state[0]), 6) for e in fs.equilibria)
    (['fold'], [-0.5, 0.5])
    """
    from ._models import Model

    if isinstance(f_fast, Model):
        return _model_manifold(f_fast, x0, z0, z_range, slow, fast, kwargs)
    if isinstance(slow, str) or fast is not None:
        raise TypeError(
            "critical_manifold: slow= as a variable name and fast= are for a neurodyn.dyn "
            f"model in place of f_fast; f_fast is a {type(f_fast).__name__} (give slow as a "
            "function slow(x, z))."
        )
    if x0 is None or z0 is None or z_range is None:
        raise TypeError("critical_manifold(f_fast, x0, z0, z_range) needs x0, z0 and z_range.")
    an = continue_equilibria(f_fast, x0, z0, z_range, **kwargs)
    if slow is None:
        return FastSlowAnalysis(an)
    with jax.enable_x64(True):
        d = an.states.shape[1]

        def full(y):
            return jnp.concatenate(
                [jnp.reshape(f_fast(y[:d], y[d]), (d,)), jnp.reshape(slow(y[:d], y[d]), (1,))]
            )

        F, JF = jax.jit(full), jax.jit(jax.jacfwd(full))
        Y = np.column_stack([an.states, an.params])
        rate = np.asarray(jax.vmap(full)(jnp.asarray(Y)))[:, d]
        if not np.all(np.isfinite(rate)):
            raise ValueError("slow(x, z) is not finite on the critical manifold; check slow.")
        eqs = []
        for i in np.nonzero(rate[:-1] * rate[1:] <= 0)[0]:
            if rate[i] == 0 and i > 0 and rate[i - 1] * rate[i] <= 0:
                continue  # already counted in the previous interval
            w = rate[i] / (rate[i] - rate[i + 1]) if rate[i] != rate[i + 1] else 0.0
            y0 = Y[i] + w * (Y[i + 1] - Y[i])
            y, ok = _newton(
                lambda yy: np.asarray(F(jnp.asarray(yy))),
                lambda yy: np.asarray(JF(jnp.asarray(yy))),
                y0,
                1e-12,
            )
            if not ok:
                y = y0
            ev = np.linalg.eigvals(np.asarray(JF(jnp.asarray(y))))
            eqs.append(
                SpecialPoint(
                    "equilibrium",
                    float(y[d]),
                    y[:d].copy(),
                    int(i),
                    {"eigenvalues": ev, "stable": bool(np.all(ev.real < 0)), "located": ok},
                )
            )
    return FastSlowAnalysis(an, rate, eqs)


_CONTINUATION = (
    *("x0", "z0", "z_range", "slow", "fast"),
    *("ds", "ds_max", "max_steps", "tol", "direction"),
)


def fast_slow_diagram(
    analysis: FastSlowAnalysis, trajectory=None, *, var: int | str = 0, ax=None, **kwargs
):
    """Plot the critical manifold (``var``-th fast variable against ``z``; solid stable,
    dashed unstable) and optionally a full-system trajectory ``(z_t, x_t)`` (slow trace,
    fast trace) on top. Returns the Axes.

    ``analysis`` may be a ``dyn`` model: the arguments of :func:`critical_manifold`
    (``slow=``, ``z_range=``, ``fast=``, ``x0=``, ``z0=``, ``ds=``, ``direction=``, ...)
    are then given here. For a model's analysis ``var`` may name a fast variable, the
    axes are labelled with names and units, and the trajectory may hold Quantities
    (converted to the declared units) or be a dict ``{variable: trace}`` (e.g. monitored
    values; a trace ``[time, neurons]`` is read at neuron 0).

    Example
    -------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from neurodyn.analysis import critical_manifold, fast_slow_diagram
    >>> fs = critical_manifold(lambda x, z: z - x**2, [-1.0], 1.0, (-1.0, 2.0), ds=0.05)
    >>> ax = fast_slow_diagram(fs, ([1.0, 0.5], [-1.0, -0.7]))
    """
    from ._models import Model
    from ._plots import _plt, bifurcation_diagram

    if isinstance(analysis, Model):
        cm = {k: kwargs.pop(k) for k in _CONTINUATION if k in kwargs}
        analysis = critical_manifold(analysis, **cm)
    elif not isinstance(analysis, FastSlowAnalysis):
        raise TypeError(
            "fast_slow_diagram expected a FastSlowAnalysis (from critical_manifold) or a "
            f"neurodyn.dyn model with slow=... and z_range=...; got {type(analysis).__name__}."
        )
    var = _var_index(analysis, var)
    ax = bifurcation_diagram(analysis.manifold, ax=ax, var=var, **kwargs)
    if trajectory is not None:
        z_t, x_t = _trajectory(analysis, trajectory, var)
        if z_t.shape != x_t.shape:
            raise ValueError(
                f"trajectory must be (slow trace, fast trace) of equal length; got shapes "
                f"{z_t.shape} and {x_t.shape}."
            )
        ax.plot(z_t, x_t, color="tab:gray", lw=0.8, alpha=0.8, zorder=0, label="trajectory")
    for e in analysis.equilibria:
        ax.plot(
            float(u.get_mantissa(e.param)),
            e.state[var],
            "o",
            mfc="k" if e.data["stable"] else "w",
            mec="k",
            zorder=5,
        )
    _plt()
    if analysis.slow_name is None:
        ax.set_xlabel("slow variable")
    return ax


def _var_index(analysis: FastSlowAnalysis, var) -> int:
    names = tuple(analysis.manifold.var_names)
    if isinstance(var, str):
        if var not in names:
            model = " of the model's fast variables" if names else ""
            raise ValueError(
                f"fast_slow_diagram: var={var!r} is not one{model}; the fast variables are "
                f"{', '.join(names) if names else 'unnamed (give var as an index)'}."
            )
        return names.index(var)
    return var


def _trace(value, unit, what: str) -> np.ndarray:
    """A trace as plain numbers in ``unit`` (neuron 0 of a ``[time, neurons]`` trace)."""
    if isinstance(value, u.Quantity):
        if unit is None:
            if value.unit.dim is not u.dimensionless.dim:
                raise u.UnitMismatchError(
                    f"{what} is dimensionless; got a quantity in {value.unit.name}."
                )
            value = value.to_value(u.dimensionless)
        else:
            if value.unit.dim is not unit.dim:
                raise u.UnitMismatchError(
                    f"{what} must have the dimension of {unit.name}; got {value.unit.name}."
                )
            value = value.to_value(unit)
    a = np.asarray(value, dtype=float)
    return a[:, 0] if a.ndim == 2 else a


def _trajectory(analysis: FastSlowAnalysis, trajectory, var: int):
    m = analysis.manifold
    names, units = tuple(m.var_names), tuple(m.var_units)
    fast_unit = units[var] if units else None
    if isinstance(trajectory, dict):
        if analysis.slow_name is None:
            raise TypeError(
                "fast_slow_diagram: a dict trajectory needs an analysis of a dyn model (its "
                "variables name the traces); give (slow trace, fast trace)."
            )
        need = (analysis.slow_name, names[var])
        missing = [k for k in need if k not in trajectory]
        if missing:
            raise ValueError(
                f"fast_slow_diagram: the trajectory has no {', '.join(missing)}; it needs "
                f"{need[0]!r} (slow) and {need[1]!r} (fast); it has {', '.join(trajectory)}."
            )
        trajectory = (trajectory[need[0]], trajectory[need[1]])
    z_t, x_t = trajectory
    fast_name = names[var] if names else "fast trace"
    return (
        _trace(z_t, analysis.slow_unit, f"the slow trace ({analysis.slow_name or 'z'})"),
        _trace(x_t, fast_unit, f"the fast trace ({fast_name})"),
    )


# -- dyn models ---------------------------------------------------------------------------


def _names(model, slow, fast):
    """``(slow index, fast indices)`` of the variables named by ``slow`` and ``fast``."""
    names = tuple(model.var_names)
    where = f"critical_manifold({model.name})"
    if not isinstance(slow, str):
        raise TypeError(
            f"{where} needs slow='name': the slow variable, one of {', '.join(names)}; "
            f"got slow={slow!r}."
        )
    if slow not in names:
        raise ValueError(
            f"{where}: slow={slow!r} is not a variable of {model.name}; its variables are "
            f"{', '.join(names)}."
        )
    if fast is None:
        fast = tuple(k for k in names if k != slow)
    elif isinstance(fast, str):
        fast = (fast,)
    fast = tuple(fast)
    unknown = [k for k in fast if k not in names]
    if unknown:
        raise ValueError(
            f"{where}: fast={fast} names {', '.join(map(repr, unknown))}, not variables of "
            f"{model.name}; its variables are {', '.join(names)}."
        )
    if slow in fast or len(set(fast)) != len(fast) or not fast:
        raise ValueError(
            f"{where}: fast={fast} must name distinct variables other than the slow one "
            f"({slow!r}), at least one; {model.name}'s variables are {', '.join(names)}."
        )
    return names.index(slow), [names.index(k) for k in fast]


def _model_manifold(model, x0, z0, z_range, slow, fast, kwargs) -> FastSlowAnalysis:
    from dataclasses import replace

    from ._models import ModelField, has_quantity

    k, idx = _names(model, slow, fast)
    field = ModelField(model)
    unit = field.var_units[k]
    what = f"{model.name}.{slow}"
    x = field.state(x0)
    z = x[k] if z0 is None else float(np.asarray(field._to_number(z0, unit, f"z0 ({what})")))
    if z_range is None:
        raise TypeError(
            f"critical_manifold({model.name}) needs z_range=(low, high) of the slow variable "
            f"{slow!r} (in {unit.name if unit is not None else 'its (dimensionless) values'})."
        )
    if isinstance(z_range, u.Quantity):
        z_range = list(z_range)
    try:
        lo, hi = z_range
    except (TypeError, ValueError) as err:
        raise ValueError(f"z_range must be a pair (low, high); got {z_range!r}.") from err
    z_range = tuple(
        float(np.asarray(field._to_number(v, unit, f"z_range ({what})"))) for v in (lo, hi)
    )
    idx_a = jnp.asarray(idx)

    def full(xf, zz):
        return jnp.asarray(x, jnp.result_type(xf)).at[idx_a].set(xf).at[k].set(zz)

    # jitted: the continuation also calls them eagerly, where the model's many small
    # operations would each be compiled
    @jax.jit
    def f_fast(xf, zz):
        return field(full(xf, zz))[idx_a]

    @jax.jit
    def f_slow(xf, zz):
        return field(full(xf, zz))[k]

    an = critical_manifold(f_fast, x[idx], z, z_range, slow=f_slow, **kwargs)
    m = an.manifold
    m.param_name = slow
    m.var_names = tuple(field.var_names[i] for i in idx)
    m.var_units = tuple(field.var_units[i] for i in idx)
    an.slow_name, an.slow_unit = slow, unit
    if unit is not None and has_quantity(z0, (lo, hi)):
        q = lambda v: u.Quantity(np.asarray(v, float), unit)  # noqa: E731
        m.params = q(m.params)
        m.special_points = [replace(sp, param=q(sp.param)) for sp in m.special_points]
        an.equilibria = [replace(e, param=q(e.param)) for e in an.equilibria]
        an.slow_rate = u.Quantity(an.slow_rate, unit / u.ms)
    return an
