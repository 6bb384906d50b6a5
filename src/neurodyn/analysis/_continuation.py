"""Pseudo-arclength continuation of equilibria in one parameter, with fold (limit
point) and Hopf detection.

``f(x, p) -> dx/dt`` with ``x`` of shape ``(d,)`` and a scalar parameter ``p``. The
branch is followed with a tangent predictor and a Newton corrector on the augmented
system ``[f(x, p) = 0, t·(y - y_pred) = 0]`` (``y = (x, p)``), so it turns around folds.
Folds are where the ``p`` component of the tangent changes sign; Hopf points where a
complex-conjugate pair of eigenvalues crosses the imaginary axis. Both are refined by
bisection along the branch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["Branch", "continuation"]


@dataclass
class Branch:
    """A branch of equilibria: ``x`` ``[points, d]``, ``p`` ``[points]``, ``stable``
    flags, and special points (``folds``, ``hopfs``: lists of ``(x, p)``)."""

    x: np.ndarray
    p: np.ndarray
    stable: np.ndarray
    eigenvalues: np.ndarray
    folds: list = field(default_factory=list)
    hopfs: list = field(default_factory=list)


def _hopf_test(ev: np.ndarray, tol: float = 1e-9) -> float:
    """Largest real part among eigenvalues with a non-zero imaginary part (or -inf)."""
    cplx = np.abs(np.imag(ev)) > tol
    return float(np.max(np.real(ev[cplx]))) if np.any(cplx) else -np.inf


def continuation(
    f: Callable,
    x0,
    p0: float,
    p_range: tuple[float, float],
    ds: float = 0.01,
    max_steps: int = 2000,
    newton_iter: int = 20,
    tol: float = 1e-9,
    direction: float = 1.0,
) -> Branch:
    """Follow the equilibria of ``f`` from ``(x0, p0)`` (refined first) while ``p`` stays in
    ``p_range``; ``direction`` (+1/-1) chooses which way ``p`` starts moving.

    Example:
        >>> import jax.numpy as jnp
        >>> from neurodyn.analysis import continuation
        >>> br = continuation(lambda x, p: jnp.array([p + x[0] ** 2]), [-1.0], -1.0,
        ...                   (-2.0, 0.5), ds=0.05)
        >>> [round(float(p), 3) + 0.0 for _, p in br.folds]   # saddle-node at p = 0
        [0.0]
    """
    with jax.enable_x64(True):
        return _continuation(f, x0, p0, p_range, ds, max_steps, newton_iter, tol, direction)


def _continuation(f, x0, p0, p_range, ds, max_steps, newton_iter, tol, direction):
    x0 = jnp.atleast_1d(jnp.asarray(x0, jnp.float64))
    d = x0.shape[0]

    def F(y):
        return jnp.atleast_1d(f(y[:d], y[d]))

    jac = jax.jit(jax.jacfwd(F))
    Fj = jax.jit(F)

    def tangent(y, prev=None):
        J = np.asarray(jac(y))  # [d, d+1]
        _, _, vt = np.linalg.svd(J)
        t = vt[-1]
        if prev is not None:
            if np.dot(t, prev) < 0:
                t = -t
        elif t[d] * direction < 0:
            t = -t
        return t / np.linalg.norm(t)

    def correct(y_pred, t):
        y = np.array(y_pred)
        for _ in range(newton_iter):
            J = np.asarray(jac(jnp.asarray(y)))
            r = np.concatenate([np.asarray(Fj(jnp.asarray(y))), [np.dot(t, y - y_pred)]])
            A = np.vstack([J, t])
            dy = np.linalg.solve(A, -r)
            y = y + dy
            if np.max(np.abs(dy)) < tol:
                return y, True
        return y, np.max(np.abs(np.asarray(Fj(jnp.asarray(y))))) < 1e-7

    # refine the starting point at fixed p
    y = np.concatenate([np.asarray(x0), [p0]])
    for _ in range(newton_iter):
        J = np.asarray(jac(jnp.asarray(y)))[:, :d]
        y[:d] -= np.linalg.solve(J, np.asarray(Fj(jnp.asarray(y))))

    def eig(y):
        return np.linalg.eigvals(np.asarray(jac(jnp.asarray(y)))[:, :d])

    ys, evs, ts = [y], [eig(y)], [tangent(y)]
    step = ds
    for _ in range(max_steps):
        t = ts[-1]
        y_new, ok = correct(ys[-1] + step * t, t)
        if not ok:
            step *= 0.5
            if step < ds * 1e-4:
                break
            continue
        ys.append(y_new)
        evs.append(eig(y_new))
        ts.append(tangent(y_new, t))
        step = min(step * 1.2, ds * 4)
        if not p_range[0] <= y_new[d] <= p_range[1]:
            break

    Y = np.array(ys)
    T = np.array(ts)
    EV = np.array(evs)
    folds, hopfs = [], []
    for k in range(1, len(Y)):
        if T[k - 1, d] * T[k, d] < 0:  # dp/ds changes sign: limit point
            folds.append(_refine_fold(Y[k - 1], Y[k], T[k - 1], correct, tangent, d))
        h0, h1 = _hopf_test(EV[k - 1]), _hopf_test(EV[k])
        if np.isfinite(h0) and np.isfinite(h1) and h0 * h1 < 0:
            ya, yb = Y[k - 1], Y[k]
            for _ in range(40):  # bisection on the sign of the Hopf test function
                ym, _ = correct(0.5 * (ya + yb), T[k - 1])
                if _hopf_test(eig(ym)) * h0 > 0:
                    ya = ym
                else:
                    yb = ym
            ym = 0.5 * (ya + yb)
            hopfs.append((ym[:d], float(ym[d])))
    stable = np.array([np.all(np.real(e) < 0) for e in EV])
    return Branch(Y[:, :d], Y[:, d], stable, EV, folds, hopfs)


def _refine_fold(ya, yb, t, correct, tangent, d, n: int = 30):
    """Bisection on the sign of dp/ds between two branch points."""
    ta = tangent(ya, t)
    for _ in range(n):
        ym, _ = correct(0.5 * (ya + yb), t)
        tm = tangent(ym, t)
        if tm[d] * ta[d] < 0:
            yb = ym
        else:
            ya, ta = ym, tm
    ym = 0.5 * (ya + yb)
    return ym[:d], float(ym[d])
