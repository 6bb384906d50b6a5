"""Delay differential equations with constant delays: method of steps on a ring buffer."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from neurodyn.units import Quantity

from ._ode import ExplicitRK
from ._solve import Solution, _time_parts, _wrap_t
from ._tableaus import TABLEAUS
from ._tree import as_arrays, check_derivative, lincomb

__all__ = ["solve_dde"]


def _hermite(y0, y1, d0, d1, h, s):
    """Cubic Hermite interpolation at fraction s in [0, 1] of a step of size h."""
    h00 = 2 * s**3 - 3 * s**2 + 1
    h10 = s**3 - 2 * s**2 + s
    h01 = -2 * s**3 + 3 * s**2
    h11 = s**3 - s**2
    return jax.tree_util.tree_map(
        lambda a, b, da, db: h00 * a + h10 * h * da + h01 * b + h11 * h * db, y0, y1, d0, d1
    )


def _take(tree, index):
    return jax.tree_util.tree_map(lambda b: b[index], tree)


def _select(pred, a, b):
    return jax.tree_util.tree_map(lambda x, y: jnp.where(pred, x, y), a, b)


def solve_dde(
    f: Callable,
    history: Callable | Any,
    t_span: tuple,
    dt: Any,
    delays: Any | Sequence[Any],
    method: str = "rk4",
    args: Sequence = (),
) -> Solution:
    """Solve ``dy/dt = f(t, y, y_delayed, *args)`` with constant delays.

    ``y_delayed`` is ``y(t - tau)`` for a single delay, or a tuple with one
    entry per delay. ``history(t)`` gives y for ``t <= t0`` (or pass a
    constant). The solution is kept in a ring buffer as long as the longest
    delay (values and derivatives), and delayed values between grid points
    come from cubic Hermite interpolation, so explicit Runge-Kutta methods
    keep their order when the delays are multiples of ``dt``.

    Example:
        >>> import jax.numpy as jnp
        >>> from neurodyn.integrate import solve_dde
        >>> sol = solve_dde(lambda t, y, yd: -yd, 1.0, (0.0, 1.0), 0.01, delays=1.0)
        >>> round(float(sol.ys[-1]), 4)   # 1 - t on [0, 1]
        0.0
    """
    tab = TABLEAUS[method] if isinstance(method, str) else method.tableau
    rk = ExplicitRK(tab)
    single = not isinstance(delays, (tuple, list))
    delays = (delays,) if single else tuple(delays)
    unit, t0, t1, dtm, _ = _time_parts(t_span, dt, None)
    taus = [
        float(_time_parts((0.0 * d if isinstance(d, Quantity) else 0.0, d), d, None)[3])
        for d in delays
    ]
    if any(tau <= 0 for tau in taus):
        raise ValueError(f"delays must be positive, got {taus} {unit.name}.")
    if min(taus) < dtm:
        raise ValueError(
            f"The smallest delay ({min(taus)} {unit.name}) is shorter than dt ({dtm}); the "
            "method of steps needs dt <= every delay."
        )
    n = int(round((t1 - t0) / dtm))
    if abs(n * dtm - (t1 - t0)) > 1e-9 * dtm * max(n, 1):
        raise ValueError(f"t1 - t0 must be a multiple of dt for solve_dde; got {t1 - t0}, {dtm}.")
    lag = max(int(np.ceil(tau / dtm)) for tau in taus) + 2
    hist = history if callable(history) else (lambda t: history)
    dtype = jnp.result_type(float)

    def hist_at(tm):
        return hist(_wrap_t(tm, unit))

    y0 = as_arrays(hist_at(jnp.asarray(t0, dtype)))
    # ring buffer of the past `lag` grid points: times t0 - (lag-1-j)*dt
    past_t = t0 - dtm * np.arange(lag - 1, -1, -1)
    ys_hist = jax.vmap(hist_at)(jnp.asarray(past_t, dtype))
    eps = 1e-6 * dtm

    def dhist(tm):
        return jax.jvp(lambda s: hist_at(s), (tm,), (jnp.ones_like(tm),))[1]

    ds_hist = (
        jax.vmap(dhist)(jnp.asarray(past_t, dtype))
        if callable(history)
        else jax.tree_util.tree_map(jnp.zeros_like, ys_hist)
    )

    def delayed(buf_y, buf_d, k, t_query):
        """y at t_query <= current time, from history or the buffer (k = current index)."""
        out = []
        for tau in taus:
            tq = t_query - tau
            # position in grid units relative to t0
            pos = (tq - t0) / dtm
            i0 = jnp.floor(pos + eps / dtm)
            s = pos - i0
            in_hist = tq < t0 - eps
            # buffer slot of grid index i: slot = (i + lag - 1 - k) relative layout
            j0 = (i0 - k + lag - 1).astype(jnp.int32)
            j0c = jnp.clip(j0, 0, lag - 2)
            interp = _hermite(
                _take(buf_y, j0c),
                _take(buf_y, j0c + 1),
                _take(buf_d, j0c),
                _take(buf_d, j0c + 1),
                dtm,
                s,
            )
            out.append(_select(in_hist, hist_at(tq), interp))
        return out[0] if single else tuple(out)

    def body(carry, k):
        buf_y, buf_d, y = carry
        t = t0 + k * dtm

        def g(tt, yy):
            return f(tt, yy, delayed(buf_y, buf_d, k, tt), *args)

        ks = []
        for i in range(tab.stages):
            yi = y if i == 0 else lincomb(y, dtm, tab.a[i], ks)
            ki = g(t + tab.c[i] * dtm, yi)
            if i == 0:
                check_derivative(y, ki, dtm)
            ks.append(ki)
        y_new = lincomb(y, dtm, tab.b, ks)
        d0 = ks[0]
        # store the derivative at the current point, then the new point
        buf_d = jax.tree_util.tree_map(lambda b, v: b.at[-1].set(v), buf_d, d0)
        buf_y = jax.tree_util.tree_map(lambda b, v: jnp.concatenate([b[1:], v[None]]), buf_y, y_new)
        buf_d = jax.tree_util.tree_map(
            lambda b, v: jnp.concatenate([b[1:], v[None] * 0]), buf_d, d0
        )
        # derivative at the new point (needed for Hermite interpolation inside the next step)
        d_new = g(t + dtm, y_new)
        buf_d = jax.tree_util.tree_map(lambda b, v: b.at[-1].set(v), buf_d, d_new)
        return (buf_y, buf_d, y_new), y_new

    _ = rk  # the stepper's tableau drives the stages above
    (_, _, _), ys = jax.lax.scan(body, (ys_hist, ds_hist, y0), jnp.arange(n, dtype=dtype))
    ys = jax.tree_util.tree_map(lambda a, b: jnp.concatenate([a[None], b]), y0, ys)
    ts = _wrap_t(jnp.asarray(t0 + dtm * np.arange(n + 1), dtype), unit)
    return Solution(ts, ys, {"n_steps": n})
