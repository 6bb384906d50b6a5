"""Two-parameter continuation of fold and Hopf curves of equilibria.

The vector field is ``f(x, p) -> dx/dt`` with ``p`` a length-2 array ``[p1, p2]``. A curve
starts from a :class:`SpecialPoint` of a one-parameter branch computed in ``p1`` with ``p2``
held fixed, e.g. ``continue_equilibria(lambda x, p1: f(x, jnp.stack([p1, p2])), ...)``.

* Fold curves follow ``[f = 0, J v = 0, v·v = 1]`` in ``(x, p1, p2, v)``; along them the
  cusp (``w·D²f(v, v) = 0``, ``w`` the left null vector) and the Bogdanov-Takens point
  (``w·v = 0``: a double zero eigenvalue) are detected and located by bisection.
* Hopf curves follow ``[f = 0, (J² + κ I) v = 0, v·v = 1, c·v = 0]`` in
  ``(x, p1, p2, v, κ)`` with ``κ = ω²``, which stays regular through a Bogdanov-Takens point
  (``κ = 0``; the curve ends there, beyond it lie neutral saddles) and a zero-Hopf point
  (``det J`` changes sign while ``κ > 0``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import jax
import numpy as np

from . import _models
from ._continuation import (
    SpecialPoint,
    _check_range,
    _check_step,
    _fold_start,
    _hopf_start,
    _Systems,
    _Tracker,
    _wrap_field,
)

__all__ = ["Codim2Branch", "continue_fold", "continue_hopf"]


@dataclass
class Codim2Branch:
    """A fold or Hopf curve in the plane of two parameters.

    ``kind`` (``"fold"`` or ``"hopf"``), ``params`` ``[n, 2]``, ``states`` ``[n, d]``,
    ``omega`` ``[n]`` (Hopf frequency, ``nan`` for folds), ``special_points`` (kinds
    ``"cusp"``, ``"bogdanov_takens"``, ``"zero_hopf"``; each also a row of the arrays),
    ``stop_reason``. For a ``dyn`` model: ``param_names``, ``param_units`` (the columns
    of ``params``, plain numbers in these units), ``var_names``, ``var_units``.
    """

    kind: str
    params: np.ndarray
    states: np.ndarray
    omega: np.ndarray
    special_points: list[SpecialPoint] = field(default_factory=list)
    stop_reason: str = ""
    param_names: tuple = ("p1", "p2")
    param_units: tuple = (None, None)
    var_names: tuple = ()
    var_units: tuple = ()

    def __len__(self) -> int:
        return len(self.params)


def continue_fold(
    f: Callable,
    point: SpecialPoint,
    p2: float,
    bounds,
    *,
    param=None,
    param_unit=None,
    ds: float = 0.01,
    ds_max: float | None = None,
    max_steps: int = 1000,
    tol: float = 1e-10,
    direction: int = +1,
    args: tuple = (),
) -> Codim2Branch:
    """Continue a fold (saddle-node) point in two parameters.

    Parameters
    ----------
    f : callable
        ``f(x, p, *args)`` with ``p = [p1, p2]`` (a length-2 array), in ``jax.numpy``.
    point : SpecialPoint
        A ``"fold"`` of the one-parameter branch in ``p1`` at ``p2`` fixed.
    p2 : float
        The value of ``p2`` on that branch.
    bounds : ((p1_low, p1_high), (p2_low, p2_high))
        The curve stops when it leaves this box.
    ds, ds_max, max_steps, tol : as in :func:`continue_equilibria`.
    direction : +1 or -1
        Whether ``p2`` starts increasing or decreasing (``p1`` if ``p2`` is stationary).
    param, param_unit
        With a :mod:`neurodyn.dyn` model in place of ``f``: the two parameter names
        ``(p1, p2)`` (``p1`` the parameter of the branch ``point`` comes from) and their
        units (see :func:`~neurodyn.analysis.model_field`); ``p2`` and ``bounds`` may
        be Quantities. ``p2`` defaults to the model's value.

    Returns
    -------
    Codim2Branch
        With ``"cusp"`` and ``"bogdanov_takens"`` special points.

    Example
    -------
    >>> import jax.numpy as jnp
    >>> from neurodyn.analysis import continue_equilibria, continue_fold
    >>> f = lambda x, p: p[0] + p[1] * x - x**3           # cusp normal form
    >>> br = continue_equilibria(lambda x, a: f(x, jnp.stack([a, 1.0])), [-1.2], -0.3,
    ...                          (-1.0, 1.0), ds=0.05)
    >>> c = continue_fold(f, br.folds[0], 1.0, ((-1, 1), (-0.5, 2)), ds=0.05, direction=-1)
    >>> [(s.kind, bool(abs(s.param).max() < 1e-8)) for s in c.special_points]
    [('cusp', True)]
    """
    return _codim2(
        "fold", f, point, p2, bounds, ds, ds_max, max_steps, tol, direction, args, param, param_unit
    )


def continue_hopf(
    f: Callable,
    point: SpecialPoint,
    p2: float,
    bounds,
    *,
    param=None,
    param_unit=None,
    ds: float = 0.01,
    ds_max: float | None = None,
    max_steps: int = 1000,
    tol: float = 1e-10,
    direction: int = +1,
    args: tuple = (),
) -> Codim2Branch:
    """Continue a Hopf point in two parameters (arguments as in :func:`continue_fold`).

    Returns a :class:`Codim2Branch` with ``omega`` along the curve and
    ``"bogdanov_takens"`` (where the curve ends, ``ω → 0``) and ``"zero_hopf"`` points.

    Example
    -------
    >>> import jax.numpy as jnp
    >>> from neurodyn.analysis import continue_equilibria, continue_hopf
    >>> def bt(x, b):     # Bogdanov-Takens normal form: Hopf curve b1 = -b2**2, b2 > 0
    ...     return jnp.stack([x[1], b[0] + b[1] * x[1] + x[0] ** 2 + x[0] * x[1]])
    >>> br = continue_equilibria(lambda x, b1: bt(x, jnp.stack([b1, 0.5])), [-1.0, 0.0],
    ...                          -1.0, (-1.0, 0.1), ds=0.05)
    >>> h = continue_hopf(bt, br.hopfs[0], 0.5, ((-1, 1), (-1, 1)), ds=0.05, direction=-1)
    >>> [(s.kind, bool(abs(s.param).max() < 1e-6)) for s in h.special_points]
    [('bogdanov_takens', True)]
    """
    return _codim2(
        "hopf", f, point, p2, bounds, ds, ds_max, max_steps, tol, direction, args, param, param_unit
    )


def _codim2(kind, f, point, p2, bounds, ds, ds_max, max_steps, tol, direction, args, param, unit):
    model = _models.as_field(f, param, unit, f"continue_{kind}")
    if model is not None:
        _models.require_param(model, f"continue_{kind}", 2)
        if isinstance(point, SpecialPoint) and _models.has_quantity(point.param):
            point = replace(point, param=model.param_value([point.param, 0.0], "point")[0])
        if p2 is None:
            p2 = model.param_value()[1]
        p2 = model.param_value([0.0, p2], "p2")[1]
        try:
            b1, b2 = bounds
        except (TypeError, ValueError) as err:
            raise ValueError(
                f"bounds must be ((p1_low, p1_high), (p2_low, p2_high)); got {bounds!r}."
            ) from err
        bounds = (model.param_range(b1, "bounds[0]", 0), model.param_range(b2, "bounds[1]", 1))
        out = _codim2(
            kind, model, point, p2, bounds, ds, ds_max, max_steps, tol, direction, args, None, None
        )
        out.param_names, out.param_units = model.params, model.param_units
        out.var_names, out.var_units = model.var_names, model.var_units
        return out
    if not isinstance(point, SpecialPoint):
        raise TypeError(
            f"point must be a SpecialPoint from continue_equilibria (branch.{kind}s[0]); "
            f"got {type(point).__name__}."
        )
    if point.kind != kind:
        raise ValueError(
            f"continue_{kind} needs a '{kind}' point; got a '{point.kind}' point. Use "
            f"continue_{'hopf' if kind == 'fold' else 'fold'} for it, or pick from "
            f"branch.{kind}s."
        )
    try:
        (lo1, hi1), (lo2, hi2) = bounds
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"bounds must be ((p1_low, p1_high), (p2_low, p2_high)); got {bounds!r}."
        ) from err
    lo1, hi1 = _check_range((lo1, hi1), "bounds[0]")
    lo2, hi2 = _check_range((lo2, hi2), "bounds[1]")
    ds, ds_max, max_steps = _check_step(ds, ds_max, max_steps, tol)
    if direction not in (1, -1):
        raise ValueError(f"direction must be +1 or -1; got {direction!r}.")
    pv = np.array([float(point.param), float(p2)])
    if not (lo1 <= pv[0] <= hi1 and lo2 <= pv[1] <= hi2):
        raise ValueError(
            f"the start point (p1, p2) = {tuple(pv)} is outside bounds "
            f"(({lo1}, {hi1}), ({lo2}, {hi2})); widen the bounds."
        )
    with jax.enable_x64(True):
        x0, F = _wrap_field(f, point.state, pv, tuple(args), 2)
        sys = _Systems(F, x0.shape[0], 2)
        return _follow(
            kind, sys, x0, pv, (lo1, lo2), (hi1, hi2), ds, ds_max, max_steps, tol, direction
        )


def _follow(kind, sys, x0, pv, lo, hi, ds, ds_max, max_steps, tol, direction):
    d = sys.d
    y_eq = np.concatenate([x0, pv])
    ref = {"c": None}
    if kind == "fold":
        z0 = _fold_start(sys, y_eq)
        G, JG = sys.fold, sys.jfold
    else:
        start = _hopf_start(sys, y_eq)
        if start is None:
            raise ValueError(
                "the Jacobian at the Hopf point has no complex eigenvalues; pass a 'hopf' "
                "point of a branch computed with the same f and p2."
            )
        z0, ref["c"] = start

        def G(z):
            return sys.hopf(z, ref["c"])

        def JG(z):
            return sys.jhopf(z, ref["c"])

    # refine at fixed p2 (a square system)
    e2 = np.zeros(z0.size)
    e2[d + 1] = 1.0
    tr = _Tracker(G, JG, tol, [d, d + 1], lo, hi, ds, ds_max)
    z, _ = tr.correct(z0, e2, pv[1])
    if z is None:
        raise ValueError(
            f"Newton on the {kind} system did not converge from {tuple(pv)}: no {kind} of "
            f"f(x, [p1, p2]) near this point with p2 = {pv[1]}. Pass the p2 used for the "
            "one-parameter branch the point comes from."
        )
    if kind == "hopf":
        ref["c"] = _new_phase(sys, z)
    t = tr.tangent(z)
    lead = d + 1 if abs(t[d + 1]) > 1e-8 else d
    if np.sign(t[lead]) != direction:
        t = -t

    w_ref = {"w": _left_null(sys, z)}

    def tests(zz, wref):
        x, p = zz[:d], zz[d : d + 2]
        if kind == "fold":
            v = zz[d + 2 : 2 * d + 2]
            w = _left_null(sys, zz, wref)
            return np.array([w @ sys.bvv(x, p, v), w @ v]), w
        det = np.linalg.det(sys.jx(zz))
        return np.array([zz[-1], det]), None

    names = ("cusp", "bogdanov_takens") if kind == "fold" else ("bogdanov_takens", "zero_hopf")
    zs, specials = [z], []
    test_prev, w_ref["w"] = tests(z, w_ref["w"])
    reason, h = "max_steps reached", ds
    for _ in range(max_steps):
        res = tr.step(zs[-1], t, h)
        if res is None:
            reason = "step size underflow (Newton failed)"
            break
        z_new, t_new, _, h, hit = res
        test_new, w_new = tests(z_new, w_ref["w"])
        changed = list(np.nonzero(test_prev * test_new < 0)[0])
        bt_on_hopf = kind == "hopf" and 0 in changed
        if bt_on_hopf:  # det J vanishes at BT too: not a separate zero-Hopf point
            changed = [0]
        found = []
        for i in changed:
            wa = w_ref["w"]
            z_s = tr.bisect(zs[-1], t, z_new, lambda zz, tt, i=i, wa=wa: tests(zz, wa)[0][i])
            found.append((float(t @ (z_s - zs[-1])), i, z_s))
        for _, i, z_s in sorted(found, key=lambda a: a[0]):
            zs.append(z_s)
            specials.append(
                SpecialPoint(names[i], z_s[d : d + 2].copy(), z_s[:d].copy(), len(zs) - 1, {})
            )
        if bt_on_hopf:
            reason = "Bogdanov-Takens point (omega -> 0)"
            break
        zs.append(z_new)
        t, test_prev, w_ref["w"] = t_new, test_new, w_new
        if kind == "hopf":
            ref["c"] = _new_phase(sys, z_new)
            t = tr.tangent(z_new, t)
        if hit:
            reason = "left bounds"
            break
    Z = np.array(zs)
    omega = np.sqrt(np.maximum(Z[:, -1], 0.0)) if kind == "hopf" else np.full(len(Z), np.nan)
    return Codim2Branch(kind, Z[:, d : d + 2], Z[:, :d], omega, specials, reason)


def _new_phase(sys, z):
    d = sys.d
    v = z[d + 2 : 2 * d + 2]
    Jv = sys.jx(z) @ v
    c = Jv - (v @ Jv) * v
    return c / np.linalg.norm(c)


def _left_null(sys, z, w_ref=None):
    w = np.linalg.svd(sys.jx(z))[0][:, -1]
    if w_ref is not None and w @ w_ref < 0:
        w = -w
    return w
