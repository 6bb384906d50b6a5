"""Numerical integrators for ODEs, SDEs, delay and fractional equations.

Methods are data: every explicit Runge-Kutta method is a
:class:`ButcherTableau` driving one small stepper. Vector fields are
``f(t, y, *args) -> dy/dt`` over pytrees of arrays or Quantities; dy/dt must
have unit ``y.unit / time`` (checked at trace time, naming the variable).

Two ways to use them:

- inside a model's update: ``rk4 = get_method("rk4")``, then
  ``y = rk4.step(f, y, t, dt, *args)`` (or ``odeint(f, "rk4")(y, t, dt)``);
- for a whole trajectory: :func:`solve` (fixed or adaptive step, ``saveat``),
  :func:`solve_dde`, :func:`solve_fde`.

Example:
    >>> import jax.numpy as jnp
    >>> import neurodyn.units as u
    >>> from neurodyn.integrate import solve
    >>> tau = 10 * u.ms
    >>> sol = solve(lambda t, v: -v / tau, 1.0 * u.mV, (0 * u.ms, 10 * u.ms), dt=0.1 * u.ms,
    ...             method="exp_euler", saveat=10 * u.ms)
    >>> round(float(sol.ys[0].to_value(u.mV)), 5)   # exp(-1), exact for a linear ODE
    0.36788
"""

from __future__ import annotations

from collections.abc import Callable

from ._dde import solve_dde
from ._fde import solve_fde
from ._ode import ExplicitRK, ExponentialEuler, ODEMethod, exp_euler_step, phi1
from ._registry import AdaptiveRK, get_method, methods
from ._sde import SDE_METHODS, SDEMethod, brownian_increments
from ._solve import Solution, solve
from ._tableaus import TABLEAUS, ButcherTableau


def odeint(f: Callable, method: str = "rk4") -> Callable:
    """A stepper for ``f``: ``step(y, t, dt, *args) -> y_next``.

    Example:
        >>> import jax.numpy as jnp
        >>> from neurodyn.integrate import odeint
        >>> step = odeint(lambda t, y: -y, "euler")
        >>> round(float(step(jnp.array(1.0), 0.0, 0.1)), 6)
        0.9
    """
    m = get_method(method)
    if isinstance(m, SDEMethod):
        raise ValueError(f"{method} is an SDE method; use sdeint.")

    def step(y, t, dt, *args):
        return m.step(f, y, t, dt, *args)

    return step


def sdeint(
    f: Callable, g: Callable, method: str = "euler_maruyama", noise: str = "diagonal"
) -> Callable:
    """A stepper for ``dy = f dt + g dW``: ``step(y, t, dt, *args, key=None)``.

    Increments are drawn from ``key`` or, by default, from the global
    :mod:`neurodyn.state.random` key State (reproducible under nd.jit/loops).
    """
    m = get_method(method)
    if not isinstance(m, SDEMethod):
        raise ValueError(f"{method} is an ODE method; use odeint.")
    m.check(noise)

    def step(y, t, dt, *args, key=None):
        if key is None:
            from neurodyn.state import random as nd_random

            key = nd_random.split_key()
        n_general = None
        if noise == "general":
            import jax

            from ._tree import is_q

            g0 = g(t, y, *args)
            n_general = jax.numpy.shape(jax.tree_util.tree_leaves(g0, is_leaf=is_q)[0])[-1]
        dW, dZ = brownian_increments(key, dt, y, noise, n_general, m.needs_dZ)
        return m.step(f, g, y, t, dt, dW, *args, noise=noise, dZ=dZ)

    return step


__all__ = [
    "solve",
    "solve_dde",
    "solve_fde",
    "Solution",
    "odeint",
    "sdeint",
    "get_method",
    "methods",
    "ButcherTableau",
    "TABLEAUS",
    "ODEMethod",
    "ExplicitRK",
    "AdaptiveRK",
    "ExponentialEuler",
    "exp_euler_step",
    "phi1",
    "SDEMethod",
    "SDE_METHODS",
    "brownian_increments",
]
