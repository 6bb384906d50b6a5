"""Fast-slow analysis: the slow variable as a parameter of the fast subsystem.

For ``dx/dt = f_fast(x, z)``, ``dz/dt = slow(x, z)`` with ``z`` slow (a scalar), the
critical manifold is the set of equilibria of the fast subsystem with ``z`` frozen; it is
computed by :func:`continue_equilibria` in ``z`` (stability, folds and Hopf points of the
fast subsystem). With the slow vector field given, the slow drift along the manifold and
the equilibria of the full system (zeros of ``slow`` on the manifold) are added. Further
slow variables can be held fixed through a closure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np

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
    """

    manifold: EquilibriumBranch
    slow_rate: np.ndarray | None = None
    equilibria: list[SpecialPoint] = field(default_factory=list)

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
    x0,
    z0: float,
    z_range: tuple[float, float],
    *,
    slow: Callable | None = None,
    **kwargs,
) -> FastSlowAnalysis:
    """Critical manifold of ``dx/dt = f_fast(x, z)`` with the slow variable ``z`` frozen.

    Parameters
    ----------
    f_fast : callable
        ``f_fast(x, z)`` in ``jax.numpy``, ``x`` of shape ``(d,)``, ``z`` a scalar.
    x0, z0 : array, float
        A point near an equilibrium of the fast subsystem at ``z0``.
    z_range : (low, high)
        Range of the slow variable.
    slow : callable, optional
        ``slow(x, z) -> dz/dt`` (scalar): adds the drift along the manifold and the
        equilibria of the full system.
    **kwargs
        Passed to :func:`continue_equilibria` (``ds``, ``ds_max``, ``max_steps``, ...).

    Example
    -------
    >>> import jax.numpy as jnp
    >>> from neurodyn.analysis import critical_manifold
    >>> fs = critical_manifold(lambda x, z: z - x**2, [-1.0], 1.0,
    ...                        (-1.0, 2.0), slow=lambda x, z: -z + 0.25, ds=0.05, direction=-1)
    >>> [s.kind for s in fs.folds], sorted(round(float(e.state[0]), 6) for e in fs.equilibria)
    (['fold'], [-0.5, 0.5])
    """
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


def fast_slow_diagram(
    analysis: FastSlowAnalysis, trajectory=None, *, var: int = 0, ax=None, **kwargs
):
    """Plot the critical manifold (``var``-th fast variable against ``z``; solid stable,
    dashed unstable) and optionally a full-system trajectory ``(z_t, x_t)`` (slow trace,
    fast trace) on top. Returns the Axes.

    Example
    -------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from neurodyn.analysis import critical_manifold, fast_slow_diagram
    >>> fs = critical_manifold(lambda x, z: z - x**2, [-1.0], 1.0, (-1.0, 2.0), ds=0.05)
    >>> ax = fast_slow_diagram(fs, ([1.0, 0.5], [-1.0, -0.7]))
    """
    from ._plots import _plt, bifurcation_diagram

    ax = bifurcation_diagram(analysis.manifold, ax=ax, var=var, **kwargs)
    if trajectory is not None:
        z_t, x_t = (np.asarray(a, dtype=float) for a in trajectory)
        if z_t.shape != x_t.shape:
            raise ValueError(
                f"trajectory must be (slow trace, fast trace) of equal length; got shapes "
                f"{z_t.shape} and {x_t.shape}."
            )
        ax.plot(z_t, x_t, color="tab:gray", lw=0.8, alpha=0.8, zorder=0, label="trajectory")
    for e in analysis.equilibria:
        ax.plot(
            e.param,
            e.state[var],
            "o",
            mfc="k" if e.data["stable"] else "w",
            mec="k",
            zorder=5,
        )
    _plt()
    ax.set_xlabel("slow variable")
    return ax
