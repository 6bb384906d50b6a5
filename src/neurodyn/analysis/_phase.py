"""Low-dimensional dynamical-systems analysis: fixed points with stability, nullclines,
vector fields and phase planes.

Vector fields are ``f(x, *args) -> dx/dt`` on arrays of shape ``(d,)`` (plain numbers;
strip units with ``to_value`` first), or a :mod:`neurodyn.dyn` model (see
:func:`~neurodyn.analysis.model_field`): then ``x`` holds its variables in their declared
units, and with ``param=`` the value of that parameter is ``args[0]`` (a number in its
unit or a Quantity); without ``param`` the model's own parameter values are used.
Everything is vectorised with ``jax.vmap`` and differentiated with ``jax.jacfwd``; Newton's
method refines candidates.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from . import _models

__all__ = [
    "FixedPoint",
    "fixed_points",
    "find_fixed_points",
    "classify",
    "nullclines",
    "vector_field",
    "PhasePlane",
]


@dataclass
class FixedPoint:
    """A fixed point, its Jacobian, eigenvalues and stability class (for a ``dyn`` model
    also ``var_names`` and ``var_units``, the entries of ``x``; see :attr:`FixedPoint.values`)."""

    x: np.ndarray
    jacobian: np.ndarray
    eigenvalues: np.ndarray
    kind: str
    var_names: tuple = ()
    var_units: tuple = ()

    @property
    def values(self) -> dict:
        """``{variable: value}`` (Quantities in the declared units) for a ``dyn`` model;
        ``{index: value}`` otherwise."""
        import neurodyn.units as u

        if not self.var_names:
            return {i: float(v) for i, v in enumerate(self.x)}
        return {
            k: float(v) if unit is None else u.Quantity(float(v), unit)
            for k, unit, v in zip(self.var_names, self.var_units, self.x, strict=True)
        }

    @property
    def stable(self) -> bool:
        """Whether every eigenvalue of the Jacobian has a negative real part (linearly
        stable)."""
        return bool(np.all(np.real(self.eigenvalues) < 0))


def classify(jacobian, tol: float = 1e-9) -> str:
    """Stability class from the eigenvalues of a Jacobian.

    1-D: ``stable``/``unstable``/``marginal``; 2-D: ``stable node``, ``unstable node``,
    ``stable focus``, ``unstable focus``, ``saddle``, ``center``; higher: ``stable``,
    ``unstable``, ``saddle`` (mixed signs) or ``marginal``.
    """
    J = np.atleast_2d(np.asarray(jacobian, float))
    ev = np.linalg.eigvals(J)
    re, im = np.real(ev), np.imag(ev)
    if J.shape == (1, 1):
        return "stable" if re[0] < -tol else "unstable" if re[0] > tol else "marginal"
    if J.shape == (2, 2):
        if np.all(np.abs(re) <= tol) and np.any(np.abs(im) > tol):
            return "center"
        if re[0] * re[1] < 0 and np.all(np.abs(im) <= tol):
            return "saddle"
        kind = "focus" if np.any(np.abs(im) > tol) else "node"
        if np.all(re < -tol):
            return f"stable {kind}"
        if np.all(re > tol):
            return f"unstable {kind}"
        return "marginal"
    if np.all(re < -tol):
        return "stable"
    if np.all(re > tol):
        return "unstable"
    if np.any(re > tol) and np.any(re < -tol):
        return "saddle"
    return "marginal"


def _newton(f, x, args, n_iter: int):
    jac = jax.jacfwd(lambda z: f(z, *args))

    def step(x, _):
        fx = f(x, *args)
        dx = jnp.linalg.lstsq(jac(x), -fx)[0]
        return x + dx, None

    return jax.lax.scan(step, x, None, length=n_iter)[0]


def fixed_points(
    f: Callable,
    candidates,
    args: Sequence = (),
    tol: float | None = None,
    n_iter: int = 40,
    merge: float = 1e-4,
    *,
    param: str | None = None,
    param_unit=None,
) -> list[FixedPoint]:
    """Fixed points of ``f`` from many candidates: Newton refinement (vectorised),
    residual filter ``|f(x)| < tol`` (default 1e-5 in float32, 1e-10 in float64),
    de-duplication within ``merge``, Jacobian,
    eigenvalues and class (:func:`classify`) for each.

    Example:
        >>> import jax.numpy as jnp
        >>> from neurodyn.analysis import fixed_points
        >>> f = lambda x: jnp.array([x[1], -x[0] - 0.5 * x[1]])   # damped oscillator
        >>> [fp.kind for fp in fixed_points(f, jnp.array([[1.0, 1.0], [-2.0, 0.5]]))]
        ['stable focus']

    With a model (``candidates``: ``None`` for its current state, a dict of
    Quantities, or rows of plain numbers in the declared units):

        >>> import neurodyn as nd
        >>> import neurodyn.units as u
        >>> [fp] = fixed_points(nd.dyn.MorrisLecar(1), None)
        >>> fp.kind, round(float(fp.values["V"].to_value(u.mV)), 2)
        ('stable focus', -60.86)
    """
    model = _models.as_field(f, param, param_unit, "fixed_points")
    if model is not None:
        cands = _model_candidates(model, candidates)
        f, args = _model_call(model, args)
        out = fixed_points(f, cands, args, tol=tol, n_iter=n_iter, merge=merge)
        for fp in out:
            fp.var_names, fp.var_units = model.var_names, model.var_units
        return out
    cands = jnp.atleast_2d(jnp.asarray(candidates, jnp.result_type(float)))
    if tol is None:
        tol = 1e-5 if cands.dtype == jnp.float32 else 1e-10
    refined = jax.vmap(lambda x: _newton(f, x, tuple(args), n_iter))(cands)
    res = jax.vmap(lambda x: jnp.max(jnp.abs(f(x, *args))))(refined)
    good = np.asarray(refined)[np.isfinite(np.asarray(res)) & (np.asarray(res) < tol)]
    unique: list[np.ndarray] = []
    for x in good:
        if not any(np.max(np.abs(x - y)) < merge for y in unique):
            unique.append(x)
    unique.sort(key=lambda x: tuple(x))
    out = []
    jac = jax.jacfwd(lambda z: f(z, *args))
    for x in unique:
        J = np.asarray(jac(jnp.asarray(x)))
        out.append(FixedPoint(x, J, np.linalg.eigvals(np.atleast_2d(J)), classify(J)))
    return out


def find_fixed_points(
    f: Callable,
    candidates,
    args: Sequence = (),
    tol: float | None = None,
    n_iter: int = 40,
    merge: float = 1e-4,
    *,
    param: str | None = None,
    param_unit=None,
) -> list[FixedPoint]:
    """Fixed points of ``f(x, *args)`` refined from ``candidates`` ``[k, d]`` by Newton's
    method, de-duplicated and classified: the public name of :func:`fixed_points` (same
    arguments; see there).

    Example:
        >>> import jax.numpy as jnp
        >>> from neurodyn.analysis import find_fixed_points
        >>> f = lambda x, a: jnp.array([a - x[0] ** 2, -x[1]])      # saddle-node pair
        >>> fps = find_fixed_points(f, jnp.array([[-2.0, 1.0], [2.0, 1.0]]), args=(1.0,))
        >>> [(round(float(p.x[0]), 6), p.kind) for p in fps]
        [(-1.0, 'saddle'), (1.0, 'stable node')]
    """
    return fixed_points(
        f, candidates, args, tol=tol, n_iter=n_iter, merge=merge, param=param, param_unit=param_unit
    )


def vector_field(
    f: Callable,
    x_range,
    y_range,
    resolution: int = 30,
    args: Sequence = (),
    *,
    param: str | None = None,
    param_unit=None,
):
    """``(X, Y, U, V)`` of a 2-D vector field on a grid (a model: ranges of its two
    variables, numbers in the declared units or Quantities; ``U, V`` per ms)."""
    model = _models.as_field(f, param, param_unit, "vector_field")
    if model is not None:
        f, args = _model_call(model, args, planar=True)
        x_range, y_range = _model_ranges(model, x_range, y_range)
    xs = jnp.linspace(*x_range, resolution)
    ys = jnp.linspace(*y_range, resolution)
    X, Y = jnp.meshgrid(xs, ys)
    pts = jnp.stack([X.ravel(), Y.ravel()], axis=1)
    d = jax.vmap(lambda p: f(p, *args))(pts)
    return X, Y, d[:, 0].reshape(X.shape), d[:, 1].reshape(X.shape)


def nullclines(
    f: Callable,
    x_range,
    y_range,
    resolution: int = 200,
    args: Sequence = (),
    n_iter: int = 30,
    *,
    param: str | None = None,
    param_unit=None,
) -> dict[int, np.ndarray]:
    """Points on the nullclines ``f_i = 0`` (i = 0, 1) of a 2-D field.

    Sign changes are searched along both grid directions (so horizontal and vertical
    nullclines are found alike) and refined by Newton's method along the grid line.
    Returns ``{0: points [k, 2], 1: points [m, 2]}`` sorted along x then y (a model: its
    two variables in their declared units).
    """
    model = _models.as_field(f, param, param_unit, "nullclines")
    if model is not None:
        f, args = _model_call(model, args, planar=True)
        x_range, y_range = _model_ranges(model, x_range, y_range)
    xs = np.linspace(*x_range, resolution)
    ys = np.linspace(*y_range, resolution)
    X, Y = np.meshgrid(xs, ys)
    pts = jnp.asarray(np.stack([X.ravel(), Y.ravel()], axis=1))
    F = np.asarray(jax.vmap(lambda p: f(p, *args))(pts)).reshape(resolution, resolution, 2)
    out = {}
    for i in (0, 1):
        Fi = F[..., i]
        seeds, axes = [], []
        # along x (rows): sign change between neighbours -> refine x at fixed y
        r, c = np.nonzero(np.sign(Fi[:, :-1]) * np.sign(Fi[:, 1:]) <= 0)
        for a, b in zip(r, c):
            seeds.append((0.5 * (xs[b] + xs[b + 1]), ys[a]))
            axes.append(0)
        r, c = np.nonzero(np.sign(Fi[:-1, :]) * np.sign(Fi[1:, :]) <= 0)
        for a, b in zip(r, c):
            seeds.append((xs[b], 0.5 * (ys[a] + ys[a + 1])))
            axes.append(1)
        if not seeds:
            out[i] = np.zeros((0, 2))
            continue
        seeds_a = jnp.asarray(np.array(seeds, float))
        axes_a = jnp.asarray(np.array(axes))

        def refine(p, ax, i=i):
            def g(s):
                q = p.at[ax].set(s)
                return f(q, *args)[i]

            dg = jax.grad(g)

            def step(s, _):
                d = dg(s)
                return jnp.where(jnp.abs(d) > 1e-12, s - g(s) / d, s), None

            s = jax.lax.scan(step, p[ax], None, length=n_iter)[0]
            return p.at[ax].set(s)

        refined = np.asarray(jax.vmap(refine)(seeds_a, axes_a))
        vals = np.asarray(jax.vmap(lambda p, i=i: f(p, *args)[i])(jnp.asarray(refined)))
        ok = np.isfinite(vals) & (np.abs(vals) < 1e-6)
        ok &= (refined[:, 0] >= x_range[0]) & (refined[:, 0] <= x_range[1])
        ok &= (refined[:, 1] >= y_range[0]) & (refined[:, 1] <= y_range[1])
        pts_i = refined[ok]
        order = np.lexsort((pts_i[:, 1], pts_i[:, 0]))
        out[i] = pts_i[order]
    return out


class PhasePlane:
    """A 2-D phase plane of ``f`` over ``x_range`` x ``y_range``: nullclines, fixed
    points (from a grid of candidates), vector field, trajectories and a plot."""

    def __init__(
        self,
        f: Callable,
        x_range,
        y_range,
        args: Sequence = (),
        labels=None,
        *,
        param: str | None = None,
        param_unit=None,
    ):
        model = _models.as_field(f, param, param_unit, "PhasePlane")
        self.model = model
        if model is not None:
            f, args = _model_call(model, args, planar=True)
            x_range, y_range = _model_ranges(model, x_range, y_range)
            labels = model.labels() if labels is None else labels
        self.f, self.x_range, self.y_range, self.args = f, x_range, y_range, tuple(args)
        self.labels = ("x", "y") if labels is None else labels

    def nullclines(self, resolution: int = 200):
        """The two nullclines over the plane, as :func:`~neurodyn.analysis.nullclines`.

        Args:
            resolution: grid points per axis used to find the sign changes.

        Returns:
            ``{0: points, 1: points}``: for each component ``i``, an ``(n, 2)`` array of
            points (sorted by x) where ``f_i = 0``, i.e. where ``d(labels[i])/dt = 0``.
        """
        return nullclines(self.f, self.x_range, self.y_range, resolution, self.args)

    def fixed_points(self, grid: int = 12):
        """The fixed points inside the plane, found by Newton iteration from a
        ``grid`` x ``grid`` lattice of starting points.

        Returns:
            A list of :class:`~neurodyn.analysis.FixedPoint` (duplicates merged) lying in
            ``x_range`` x ``y_range``; for a ``dyn`` model they carry its variable names
            and units.
        """
        xs = np.linspace(*self.x_range, grid)
        ys = np.linspace(*self.y_range, grid)
        cands = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)
        pts = fixed_points(self.f, cands, self.args)
        if self.model is not None:
            for p in pts:
                p.var_names, p.var_units = self.model.var_names, self.model.var_units
        lo = np.array([self.x_range[0], self.y_range[0]])
        hi = np.array([self.x_range[1], self.y_range[1]])
        return [p for p in pts if np.all(p.x >= lo) and np.all(p.x <= hi)]

    def trajectory(self, x0, duration: float, dt: float = 0.01, method: str = "rk4"):
        """Integrate ``f`` from ``x0`` for ``duration`` with a fixed step.

        Args:
            x0: the initial point, shape ``(2,)`` (plain numbers in the plane's units).
            duration: how long to integrate (the time unit of ``f``, ms for a ``dyn``
                model).
            dt: the time step.
            method: a fixed-step method name of :func:`~neurodyn.integrate.solve`.

        Returns:
            ``(ts, ys)``: NumPy arrays of shape ``(n,)`` and ``(n, 2)``.
        """
        from neurodyn.integrate import solve

        sol = solve(
            lambda t, y: self.f(y, *self.args),
            jnp.asarray(x0, float),
            (0.0, duration),
            dt=dt,
            method=method,
        )
        return np.asarray(sol.ts), np.asarray(sol.ys)

    def plot(self, ax=None, trajectories: Sequence = (), duration: float = 50.0):
        """Draw the vector field (streamlines), both nullclines, the fixed points (filled
        when stable, labelled with their kind) and optional trajectories.

        Args:
            ax: a Matplotlib axes; a new 5 x 5 inch figure when ``None``.
            trajectories: initial points, each integrated for ``duration`` with
                :meth:`trajectory` and drawn as a black line.
            duration: the length of each trajectory.

        Returns:
            The Matplotlib axes.
        """
        from ._plots import _plt

        plt = _plt()
        if ax is None:
            _, ax = plt.subplots(figsize=(5, 5))
        X, Y, U, V = vector_field(self.f, self.x_range, self.y_range, 20, self.args)
        ax.streamplot(
            np.asarray(X), np.asarray(Y), np.asarray(U), np.asarray(V), color="0.8", density=1.0
        )
        for i, color in ((0, "C0"), (1, "C1")):
            p = self.nullclines()[i]
            ax.plot(p[:, 0], p[:, 1], ".", ms=1.5, color=color, label=f"d{self.labels[i]}/dt = 0")
        for fp in self.fixed_points():
            ax.plot(*fp.x, "o", mfc="k" if fp.stable else "w", mec="k")
            ax.annotate(fp.kind, fp.x, textcoords="offset points", xytext=(5, 5), fontsize=8)
        for x0 in trajectories:
            _, ys = self.trajectory(x0, duration)
            ax.plot(ys[:, 0], ys[:, 1], "k-", lw=0.8)
        ax.set_xlim(*self.x_range)
        ax.set_ylim(*self.y_range)
        ax.set_xlabel(self.labels[0])
        ax.set_ylabel(self.labels[1])
        ax.legend(loc="best", fontsize=8)
        return ax


# -- dyn models -------------------------------------------------------------------------


def _model_call(model, args, planar: bool = False):
    """``(f, args)`` for a ModelField: ``f(x, *args)`` with the parameter value (if one
    is named) the first of ``args`` (a Quantity is converted)."""
    if planar and len(model.var_names) != 2:
        raise ValueError(
            f"a phase plane needs a model with two variables; {model.model.name} has "
            f"{len(model.var_names)} ({', '.join(model.var_names)})."
        )
    args = tuple(args)
    if not model.params:
        if args:
            raise TypeError(
                "args= with a model holds the value of the parameter named by param=; "
                "no param was named."
            )
        return (lambda x: model(x)), ()
    if len(args) > 1:
        raise TypeError("args= with a model holds one value: that of the parameter param=.")
    return model, (model.param_value(args[0] if args else None, "args[0]"),)


def _model_candidates(model, candidates):
    if candidates is None or isinstance(candidates, dict):
        return model.state(candidates)[None, :]
    return candidates


def _model_ranges(model, x_range, y_range):
    out = []
    for k, rng, unit in zip(model.var_names, (x_range, y_range), model.var_units, strict=True):
        lo, hi = rng
        what = f"the range of {k}"
        out.append(tuple(float(np.asarray(model._to_number(v, unit, what))) for v in (lo, hi)))
    return out[0], out[1]
