"""Fixed and slow points of high-dimensional systems (Sussillo & Barak 2013)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from ._phase import classify

__all__ = ["SlowPoint", "slow_points"]


@dataclass
class SlowPoint:
    """A point with small speed ``q = |F(h)|² / 2``, its Jacobian eigenvalues and class."""

    h: np.ndarray
    q: float
    eigenvalues: np.ndarray
    kind: str


def slow_points(
    F: Callable,
    starts,
    args: Sequence = (),
    steps: int = 3000,
    learning_rate: float = 0.05,
    tol: float = 1e-8,
    merge: float = 1e-3,
    optimizer=None,
) -> list[SlowPoint]:
    """Minimise ``q(h) = |F(h)|² / 2`` from every start in parallel (vmap, optax Adam by
    default), keep the minima with ``q < tol`` (fixed points; raise ``tol`` for slow
    points), de-duplicate within ``merge`` and classify each by its Jacobian.
    Returned sorted by ``q``."""
    try:
        import optax
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("slow_points needs optax: pip install 'neurodyn[train]'.") from err
    opt = optimizer or optax.adam(learning_rate)
    starts = jnp.atleast_2d(jnp.asarray(starts, jnp.result_type(float)))

    def q(h):
        v = F(h, *args)
        return 0.5 * jnp.sum(v * v)

    def run(h0):
        state = opt.init(h0)

        def step(carry, _):
            h, s = carry
            g = jax.grad(q)(h)
            upd, s = opt.update(g, s, h)
            return (optax.apply_updates(h, upd), s), None

        (h, _), _ = jax.lax.scan(step, (h0, state), None, length=steps)
        return h, q(h)

    hs, qs = jax.jit(jax.vmap(run))(starts)
    hs, qs = np.asarray(hs), np.asarray(qs)
    keep = np.isfinite(qs) & (qs < tol)
    order = np.argsort(qs[keep])
    found: list[SlowPoint] = []
    jac = jax.jacfwd(lambda h: F(h, *args))
    for h, qv in zip(hs[keep][order], qs[keep][order]):
        if any(np.max(np.abs(h - p.h)) < merge for p in found):
            continue
        J = np.asarray(jac(jnp.asarray(h)))
        found.append(SlowPoint(h, float(qv), np.linalg.eigvals(J), classify(J)))
    return found
