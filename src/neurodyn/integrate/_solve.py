"""Whole-trajectory solvers: fixed-step and adaptive ODE, and SDE."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from neurodyn.units import Quantity, Unit, UnitMismatchError, dimensionless

from ._ode import ExplicitRK, ODEMethod
from ._sde import SDEMethod, brownian_increments
from ._tree import as_arrays, is_q, mantissa_leaves

__all__ = ["Solution", "solve", "time_grid"]


@dataclass
class Solution:
    """The result of :func:`solve`.

    Attributes:
        ts: save times (a Quantity when the times had units).
        ys: the solution at ``ts``, stacked along a new leading axis (a pytree
            like ``y0``).
        stats: counters (``n_steps``, ``n_rejected`` for adaptive methods).
    """

    ts: Any
    ys: Any
    stats: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        n = len(np.asarray(self.ts.mantissa if isinstance(self.ts, Quantity) else self.ts))
        return f"Solution({n} save points, stats={self.stats})"


jax.tree_util.register_pytree_node(
    Solution, lambda s: ((s.ts, s.ys), s.stats), lambda st, ch: Solution(ch[0], ch[1], st)
)


def _time_parts(t_span, dt, saveat):
    """Common time unit and float64 numpy mantissas of t0, t1, dt, saveat."""
    if not (isinstance(t_span, (tuple, list)) and len(t_span) == 2):
        raise TypeError(f"t_span must be a pair (t0, t1), got {t_span!r}.")
    t0, t1 = t_span
    ref = next((x for x in (dt, t0, t1) if isinstance(x, Quantity)), None)
    unit: Unit = ref.unit if ref is not None else dimensionless

    def m(x, what):
        if x is None:
            return None
        if isinstance(x, Quantity):
            if x.unit.dim is not unit.dim:
                raise UnitMismatchError(
                    f"{what} has unit {x.unit.name} but the other times are in {unit.name}."
                )
            return np.asarray(x.to_value(unit), dtype=np.float64)
        if unit is not dimensionless and not (np.ndim(x) == 0 and float(np.asarray(x)) == 0):
            raise UnitMismatchError(
                f"{what} is a plain number but the other times have units ({unit.name}); "
                f"write it as a quantity, e.g. `{x} * u.{unit.name}`."
            )
        return np.asarray(x, dtype=np.float64)

    t0m, t1m = float(m(t0, "t0")), float(m(t1, "t1"))
    dtm = None if dt is None else float(m(dt, "dt"))
    sm = None if saveat is None else np.atleast_1d(m(saveat, "saveat"))
    if t1m <= t0m:
        raise ValueError(f"t_span must go forward in time: got t0={t0m}, t1={t1m} ({unit.name}).")
    if dtm is not None and dtm <= 0:
        raise ValueError(f"dt must be positive, got {dtm} {unit.name}.")
    if sm is not None and (np.any(sm < t0m - 1e-12) or np.any(sm > t1m + 1e-12)):
        raise ValueError(f"saveat times must lie within t_span [{t0m}, {t1m}] {unit.name}.")
    return unit, t0m, t1m, dtm, sm


def time_grid(t0: float, t1: float, dt: float, saveat: np.ndarray | None):
    """Step start times, step sizes and the indices (into the n+1 points of the
    grid) to save: every step of size dt, shortened to land on save times."""
    n = int(np.ceil((t1 - t0) / dt - 1e-9))
    points = t0 + dt * np.arange(n + 1)
    points[-1] = t1
    if saveat is not None:
        points = np.unique(np.concatenate([points, saveat]))
        keep = np.concatenate([[True], np.diff(points) > 1e-9 * max(dt, 1.0)])
        points = points[keep]
    hs = np.diff(points)
    if saveat is None:
        save_idx = np.arange(len(points))
    else:
        save_idx = np.searchsorted(points, saveat - 1e-9 * max(dt, 1.0))
    return points, hs, save_idx


def _wrap_t(x, unit):
    return x if unit is dimensionless else Quantity(x, unit)


def _stack_select(y0, ys, idx):
    """Prepend y0 to the per-step outputs and take the save indices."""

    def leaf(a, b):
        full = jnp.concatenate([jnp.expand_dims(a, 0), b], axis=0)
        return full[jnp.asarray(idx)]

    return jax.tree_util.tree_map(leaf, y0, ys)


def solve(
    f: Callable,
    y0: Any,
    t_span: tuple,
    dt: Any = None,
    method: str | ODEMethod | SDEMethod = "rk4",
    saveat: Any = None,
    args: Sequence = (),
    *,
    g: Callable | None = None,
    noise: str = "diagonal",
    key: Any = None,
    dW: Any = None,
    dZ: Any = None,
    rtol: float = 1e-6,
    atol: float = 1e-9,
    max_steps: int | None = None,
    dt_min: float = 0.0,
    adaptive: bool | None = None,
) -> Solution:
    """Integrate ``dy/dt = f(t, y, *args)`` (or the SDE ``dy = f dt + g dW``)
    from ``t_span[0]`` to ``t_span[1]``.

    Args:
        f: vector field ``f(t, y, *args) -> dy/dt`` over a pytree ``y`` of
            arrays or Quantities (dy/dt must have unit y.unit / time).
        y0: initial state.
        t_span: ``(t0, t1)``, numbers or time Quantities.
        dt: the step (fixed-step methods) or the initial step (adaptive).
        method: a name from :func:`methods` or a method object.
        saveat: times to save (default: every step for fixed-step methods,
            ``t0`` and ``t1`` for adaptive ones). Fixed steps are shortened to
            land on them exactly.
        args: extra arguments of ``f`` (and ``g``).
        g: diffusion ``g(t, y, *args)`` for SDE methods.
        noise: ``"diagonal"``, ``"scalar"`` or ``"general"`` (see
            ``neurodyn.integrate._sde``).
        key: PRNG key for the Brownian increments (default: drawn from
            ``neurodyn.state.random``, so it advances the global key State).
        dW, dZ: given Brownian increments, stacked per step (instead of
            sampling; to compare methods on the same path).
        rtol, atol: tolerances of adaptive methods (atol in y's own units).
        max_steps: adaptive only: run as a masked ``scan`` of this length,
            which makes the solve reverse-mode differentiable; ``None`` uses a
            ``while_loop`` (forward mode only).
        dt_min: adaptive only: smallest step allowed.
        adaptive: use step-size control (default: for embedded pairs);
            ``False`` runs an embedded pair with fixed steps.

    Returns:
        :class:`Solution` with ``ts``, ``ys``, ``stats``.

    Example:
        >>> import jax.numpy as jnp
        >>> from neurodyn.integrate import solve
        >>> sol = solve(lambda t, y: -y, jnp.array(1.0), (0.0, 1.0), dt=0.1, method="rk4")
        >>> round(float(sol.ys[-1]), 5)  # exp(-1) = 0.367879...
        0.36788
    """
    from ._registry import get_method

    m = get_method(method) if isinstance(method, str) else method
    args = tuple(args)
    y0 = as_arrays(y0)
    if isinstance(m, SDEMethod):
        if g is None:
            raise TypeError(f"{m.name} is an SDE method: pass the diffusion g(t, y, *args).")
        return _solve_sde(m, f, g, y0, t_span, dt, saveat, args, noise, key, dW, dZ)
    if g is not None:
        raise TypeError(f"{m.name} is an ODE method; for an SDE choose e.g. method='milstein'.")
    if adaptive is None:
        adaptive = getattr(m, "adaptive", False)
    if adaptive:
        if not getattr(m, "adaptive", False):
            raise ValueError(
                f"{m.name} has no error estimate; adaptive stepping needs an "
                "embedded pair: dopri5, bs3, rkf45 or cash_karp."
            )
        return _solve_adaptive(m, f, y0, t_span, dt, saveat, args, rtol, atol, max_steps, dt_min)
    if dt is None:
        raise TypeError(f"{m.name} is a fixed-step method: give dt.")
    unit, t0, t1, dtm, sm = _time_parts(t_span, dt, saveat)
    points, hs, save_idx = time_grid(t0, t1, dtm, sm)

    def body(y, x):
        t, h = x
        y = m.step(f, y, _wrap_t(t, unit), _wrap_t(h, unit), *args)
        return y, y

    dtype = jnp.result_type(float)
    xs = (jnp.asarray(points[:-1], dtype), jnp.asarray(hs, dtype))
    _, ys = jax.lax.scan(body, y0, xs)
    ts = _wrap_t(jnp.asarray(points[save_idx], dtype), unit)
    return Solution(ts, _stack_select(y0, ys, save_idx), {"n_steps": len(hs)})


def _solve_sde(m, f, g, y0, t_span, dt, saveat, args, noise, key, dW, dZ):
    m.check(noise)
    if dt is None:
        raise TypeError(f"{m.name} is a fixed-step method: give dt.")
    unit, t0, t1, dtm, sm = _time_parts(t_span, dt, saveat)
    points, hs, save_idx = time_grid(t0, t1, dtm, sm)
    n = len(hs)
    dtype = jnp.result_type(float)
    if dW is None:
        if key is None:
            from neurodyn.state import random as nd_random

            key = nd_random.split_key()
        keys = jax.random.split(key, n)
        m_general = None
        if noise == "general":
            g0 = g(_wrap_t(t0, unit), y0, *args)
            m_general = jnp.shape(jax.tree_util.tree_leaves(g0, is_leaf=is_q)[0])[-1]

        def draw(k, h):
            return brownian_increments(k, _wrap_t(h, unit), y0, noise, m_general, m.needs_dZ)

        dW, dZ_drawn = jax.vmap(draw)(keys, jnp.asarray(hs, dtype))
        dZ = dZ_drawn if m.needs_dZ else None
    elif m.needs_dZ and dZ is None:
        raise ValueError(f"{m.name} needs dZ together with a given dW.")

    def body(y, x):
        t, h, w, z = x
        y = m.step(f, g, y, _wrap_t(t, unit), _wrap_t(h, unit), w, *args, noise=noise, dZ=z)
        return y, y

    xs = (jnp.asarray(points[:-1], dtype), jnp.asarray(hs, dtype), dW, dZ)
    _, ys = jax.lax.scan(body, y0, xs)
    ts = _wrap_t(jnp.asarray(points[save_idx], dtype), unit)
    return Solution(ts, _stack_select(y0, ys, save_idx), {"n_steps": n})


def _error_norm(err, y, y_new, rtol, atol):
    es = mantissa_leaves(err)
    y0s, y1s = mantissa_leaves(y), mantissa_leaves(y_new)
    total, count = 0.0, 0
    for e, a, b in zip(es, y0s, y1s):
        scale = atol + rtol * jnp.maximum(jnp.abs(a), jnp.abs(b))
        total = total + jnp.sum((e / scale) ** 2)
        count += int(np.prod(jnp.shape(e))) if jnp.shape(e) else 1
    return jnp.sqrt(total / max(count, 1))


def _solve_adaptive(m: ExplicitRK, f, y0, t_span, dt, saveat, args, rtol, atol, max_steps, dt_min):
    unit, t0, t1, dtm, sm = _time_parts(t_span, dt, saveat)
    save_times = np.array([t0, t1]) if sm is None else np.sort(sm)
    dtype = jnp.result_type(float)
    n_save = len(save_times)
    h0 = dtm if dtm is not None else (t1 - t0) * 1e-3
    k_exp = 1.0 / (min(m.order, m.tableau.err_order) + 1)
    save_arr = jnp.asarray(save_times, dtype)
    span = t1 - t0

    def empty_like(y):
        return jax.tree_util.tree_map(lambda a: jnp.zeros((n_save, *jnp.shape(a)), a.dtype), y)

    def record(buf, idx, y, t):
        # store y at every save time <= t (save times reached exactly by clipping)
        hit = (idx < n_save) & (
            jnp.abs(save_arr[jnp.minimum(idx, n_save - 1)] - t) <= 1e-10 * max(span, 1.0)
        )
        buf = jax.tree_util.tree_map(
            lambda b, v: jnp.where(hit, b.at[jnp.minimum(idx, n_save - 1)].set(v), b), buf, y
        )
        return buf, idx + hit.astype(jnp.int32)

    def attempt(state):
        t, y, h, buf, idx, n_acc, n_rej = state
        target = save_arr[jnp.minimum(idx, n_save - 1)]
        h_eff = jnp.minimum(h, target - t)
        y_new, err = m.step_with_error(f, y, _wrap_t(t, unit), _wrap_t(h_eff, unit), *args)
        en = _error_norm(err, y, y_new, rtol, atol)
        accept = (en <= 1.0) | (h_eff <= dt_min)
        factor = jnp.clip(0.9 * jnp.where(en > 0, en, 1e-10) ** (-k_exp), 0.2, 10.0)
        t_new = jnp.where(accept, t + h_eff, t)
        t_new = jnp.where(
            accept & (jnp.abs(t_new - target) < 1e-10 * max(span, 1.0)), target, t_new
        )
        y_out = jax.tree_util.tree_map(lambda a, b: jnp.where(accept, a, b), y_new, y)
        buf2, idx2 = record(buf, idx, y_out, t_new)
        h_new = jnp.maximum(h_eff * factor, dt_min)
        return (t_new, y_out, h_new, buf2, idx2, n_acc + accept, n_rej + (~accept))

    def done(state):
        return state[4] >= n_save

    buf, idx = record(empty_like(y0), jnp.asarray(0), y0, jnp.asarray(t0, dtype))
    state = (
        jnp.asarray(t0, dtype),
        y0,
        jnp.asarray(h0, dtype),
        buf,
        idx,
        jnp.asarray(0),
        jnp.asarray(0),
    )
    if max_steps is None:
        state = jax.lax.while_loop(lambda s: ~done(s), attempt, state)
    else:

        def body(s, _):
            return jax.lax.cond(done(s), lambda s: s, attempt, s), None

        state, _ = jax.lax.scan(body, state, None, length=max_steps)
    _, _, _, buf, idx, n_acc, n_rej = state
    ts = _wrap_t(save_arr, unit)
    stats = {"n_steps": n_acc, "n_rejected": n_rej, "n_saved": idx}
    return Solution(ts, buf, stats)
