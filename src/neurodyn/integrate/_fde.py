"""Fractional-order ODEs with the Caputo derivative: L1 and Grünwald-Letnikov schemes."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ._solve import Solution, _time_parts, _wrap_t

__all__ = ["solve_fde", "FDE_METHODS"]

FDE_METHODS = ("l1", "gl")


def solve_fde(
    f: Callable,
    y0: Any,
    t_span: tuple,
    dt: float,
    alpha: float,
    method: str = "l1",
    memory: int | None = None,
    args: Sequence = (),
) -> Solution:
    """Solve the Caputo fractional ODE ``D^alpha y = f(t, y, *args)``, ``0 < alpha <= 1``.

    Methods (explicit, first order in time for ``alpha = 1``):

    - ``"l1"``: the L1 discretisation of the Caputo derivative,
      ``y_n = y_{n-1} - sum_{k=1}^{n-1} b_k (y_{n-k} - y_{n-k-1})
      + Gamma(2 - alpha) dt^alpha f(t_{n-1}, y_{n-1})`` with
      ``b_k = (k+1)^{1-alpha} - k^{1-alpha}``.
    - ``"gl"``: Grünwald-Letnikov applied to ``y - y0``:
      ``y_n = y0 + dt^alpha f(t_{n-1}, y_{n-1}) - sum_{k=1}^{n} c_k (y_{n-k} - y0)``.

    ``memory`` keeps only the last ``memory`` steps in the history sums (the
    short-memory principle: O(memory) work and storage per step instead of
    O(n)); the older terms are lumped onto the oldest value kept, with their
    summed weight. Plain arrays
    only (a fractional derivative's unit would be time^-alpha).

    Example:
        >>> import jax.numpy as jnp
        >>> from neurodyn.integrate import solve_fde
        >>> sol = solve_fde(lambda t, y: -y, jnp.array(1.0), (0.0, 1.0), 0.01, alpha=1.0)
        >>> round(float(sol.ys[-1]), 2)  # alpha = 1: exp(-1)
        0.37
    """
    if not 0 < alpha <= 1:
        raise ValueError(f"alpha must be in (0, 1], got {alpha}.")
    if method not in FDE_METHODS:
        raise ValueError(f"method must be one of {FDE_METHODS}, got {method!r}.")
    _, t0, t1, dtm, _ = _time_parts(t_span, dt, None)
    n = int(round((t1 - t0) / dtm))
    L = n if memory is None else min(int(memory), n)
    if L < 1:
        raise ValueError(f"memory must be at least 1, got {memory}.")
    dtype = jnp.result_type(float)
    y0 = jnp.asarray(y0, dtype)
    kk = np.arange(1, n + 1, dtype=np.float64)
    if method == "l1":
        w_all = (kk + 1) ** (1 - alpha) - kk ** (1 - alpha)  # b_1..b_n
        scale = math.gamma(2 - alpha) * dtm**alpha
    else:
        w_all = np.empty(n)
        c = 1.0
        for i in range(1, n + 1):
            c = c * (1 - (1 + alpha) / i)
            w_all[i - 1] = c  # c_1..c_n
        scale = dtm**alpha
    w = jnp.asarray(w_all[:L], dtype)
    # Short memory: the terms older than L steps are lumped onto the oldest value kept,
    # y_{n-L-1}, with their summed weight (instead of being dropped).
    steps = np.arange(1, n + 1)
    tail = np.zeros(n)
    if L < n:
        if method == "l1":
            # sum_{k=L+1}^{n-1} b_k (y_{n-k} - y_{n-k-1}) ~ b_{L+1} (y_{n-L-1} - y_0)
            tail = np.where(steps - 1 > L, w_all[L], 0.0)
        else:
            # sum_{k=L+1}^{n} c_k (y_{n-k} - y0) ~ (sum_{k=L+1}^{n} c_k) (y_{n-L-1} - y0)
            cums = np.concatenate([[0.0], np.cumsum(w_all)])
            tail = np.where(steps > L, cums[steps] - cums[L], 0.0)
    tail = jnp.asarray(tail, dtype)
    shape = jnp.shape(y0)

    # history buffer of the last L+1 values, newest last: hist[-1] = y_{n-1}
    def body(carry, x):
        i, tail_w = x
        hist, y_prev = carry
        t = t0 + (i - 1) * dtm
        fy = f(_wrap_t(t, _unit_none()), y_prev, *args)
        valid = jnp.arange(L) < i - 1 + (method == "gl")  # terms that exist
        old = tail_w * (hist[0] - y0)
        if method == "l1":
            # increments y_{n-k} - y_{n-k-1} for k = 1..L
            incs = hist[1:][::-1] - hist[:-1][::-1]
            s = jnp.tensordot(w * valid, incs, axes=1) + old
            y_new = y_prev - s + scale * fy
        else:
            # y_{n-k} - y0 for k = 1..L
            diffs = hist[1:][::-1] - y0
            s = jnp.tensordot(w * valid, diffs, axes=1) + old
            y_new = y0 + scale * fy - s
        hist = jnp.concatenate([hist[1:], y_new[None]])
        return (hist, y_new), y_new

    hist0 = jnp.broadcast_to(y0, (L + 1, *shape))
    (_, _), ys = jax.lax.scan(body, (hist0, y0), (jnp.arange(1, n + 1), tail))
    ys = jnp.concatenate([y0[None], ys])
    ts = jnp.asarray(t0 + dtm * np.arange(n + 1), dtype)
    return Solution(ts, ys, {"n_steps": n})


def _unit_none():
    from neurodyn.units import dimensionless

    return dimensionless
