"""One-step ODE methods: explicit Runge-Kutta from tableaus, exponential Euler."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from neurodyn.units import Quantity, get_unit

from ._tableaus import TABLEAUS, ButcherTableau
from ._tree import check_derivative, is_q, lincomb, tree_map

__all__ = ["ODEMethod", "ExplicitRK", "ExponentialEuler", "exp_euler_step", "phi1"]


class ODEMethod:
    """Interface of a one-step ODE method: ``step(f, y, t, dt, *args) -> y_next``
    for a vector field ``f(t, y, *args) -> dy/dt`` over pytrees of arrays or
    Quantities."""

    name: str
    order: int
    kind = "ode"

    def step(self, f: Callable, y: Any, t: Any, dt: Any, *args) -> Any:
        """One step of size ``dt`` from ``(t, y)`` for the vector field
        ``f(t, y, *args)``; returns ``y`` at ``t + dt`` (same pytree, units kept).
        Calling the method calls this (override)."""
        raise NotImplementedError

    def __call__(self, f: Callable, y: Any, t: Any, dt: Any, *args) -> Any:
        return self.step(f, y, t, dt, *args)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, order={self.order})"


def _t_at(t, c, dt):
    if c == 0:
        return t
    return t + c * dt


class ExplicitRK(ODEMethod):
    """An explicit Runge-Kutta method given by its :class:`ButcherTableau`.

    Example:
        >>> import jax.numpy as jnp
        >>> from neurodyn.integrate import get_method
        >>> rk4 = get_method("rk4")
        >>> y1 = rk4.step(lambda t, y: -y, jnp.array(1.0), 0.0, 0.1)
        >>> round(float(y1), 6)  # exp(-0.1) = 0.904837...
        0.904837
    """

    def __init__(self, tableau: ButcherTableau):
        self.tableau = tableau
        self.name = tableau.name
        self.order = tableau.order

    def stages(self, f, y, t, dt, *args) -> list:
        """The stage derivatives ``k_i = f(t + c_i dt, y + dt sum_j a_ij k_j, *args)``,
        one per row of the tableau."""
        tab = self.tableau
        ks = []
        for i in range(tab.stages):
            yi = y if i == 0 else lincomb(y, dt, tab.a[i], ks)
            k = f(_t_at(t, tab.c[i], dt), yi, *args)
            if i == 0:
                check_derivative(y, k, dt)
            ks.append(k)
        return ks

    def step(self, f, y, t, dt, *args):
        """``y + dt sum_i b_i k_i``: one step with the tableau's weights."""
        ks = self.stages(f, y, t, dt, *args)
        return lincomb(y, dt, self.tableau.b, ks)

    def step_with_error(self, f, y, t, dt, *args):
        """(y_next, error estimate) for embedded pairs."""
        tab = self.tableau
        if tab.b_err is None:
            raise ValueError(
                f"{self.name} has no embedded error estimate; use an adaptive pair "
                "such as 'dopri5', 'bs3', 'rkf45' or 'cash_karp'."
            )
        ks = self.stages(f, y, t, dt, *args)
        y_next = lincomb(y, dt, tab.b, ks)
        diff = [b - be for b, be in zip(tab.b, tab.b_err)]
        zero = tree_map(lambda x: x * 0, y)
        err = lincomb(zero, dt, diff, ks)
        return y_next, err


def phi1(z):
    """``(exp(z) - 1) / z``, accurate near 0 (1 at z = 0).

    A cubic Taylor polynomial below ``|z| < 1e-2`` (error < z⁴/120) and
    ``(exp(z) - 1) / z`` above, which XLA evaluates faster than ``expm1``."""
    small = jnp.abs(z) < 1e-2
    safe = jnp.where(small, 1.0, z)
    series = 1.0 + z * (0.5 + z * (1.0 / 6.0 + z / 24.0))
    return jnp.where(small, series, (jnp.exp(safe) - 1.0) / safe)


def exp_euler_step(y, dt, a, dydt):
    """One exponential-Euler step given the linear coefficient: for
    ``dy/dt = a*y + b`` (``dydt = a*y + b``) returns ``y + dt*phi1(a*dt)*dydt``,
    exact when ``a`` and ``b`` are constant over the step.

    ``a`` has unit 1/time; works on arrays or Quantities."""
    z = a * dt
    if isinstance(z, Quantity):
        raise TypeError(
            f"exp_euler_step: a*dt must be dimensionless, got a quantity in "
            f"{z.unit.name}; give a in 1/time (e.g. 1/u.ms)."
        )
    return y + dt * phi1(z) * dydt


def _one_hot_like(y, index):
    leaves, tree = jax.tree_util.tree_flatten(y, is_leaf=is_q)
    out = []
    for i, leaf in enumerate(leaves):
        m = leaf.mantissa if isinstance(leaf, Quantity) else leaf
        t = jnp.ones_like(m) if i == index else jnp.zeros_like(m)
        out.append(Quantity(t, leaf.unit) if isinstance(leaf, Quantity) else t)
    return jax.tree_util.tree_unflatten(tree, out)


class ExponentialEuler(ODEMethod):
    """Exponential Euler with automatic per-variable linearisation (BrainPy's
    ``exp_auto``).

    For each variable (pytree leaf) ``y_i`` the linear coefficient
    ``a_i = ∂f_i/∂y_i`` is found with :func:`jax.linearize` (other variables
    held fixed), and ``y_i ← y_i + dt·phi1(a_i dt)·f_i(y)``. Exact for linear
    ODEs; first order in general, and stable for stiff linear decay
    (gating variables, conductances). The coefficient is taken elementwise
    (the tangent is all ones), which is exact for the usual populations whose
    element ``j`` depends on element ``j`` of each variable only.

    Models that know their coefficient can pass ``linear(t, y, *args) -> a``
    (a pytree like ``y``), or call :func:`exp_euler_step` directly.
    """

    name = "exp_euler"
    order = 1

    def __init__(self, linear: Callable | None = None):
        self.linear = linear

    def step(self, f, y, t, dt, *args):
        """``y_i + dt phi1(a_i dt) f_i(y)`` for every leaf, with ``a_i`` from ``linear``
        when given, else the diagonal of the Jacobian found by :func:`jax.linearize`."""
        if self.linear is not None:
            dydt = f(t, y, *args)
            check_derivative(y, dydt, dt)
            a = self.linear(t, y, *args)
        else:
            dydt, a = _diagonal_linearisation(f, t, y, args)
            check_derivative(y, dydt, dt)

        def leaf(yl, al, fl):
            z = al * dt
            if isinstance(z, Quantity):
                raise TypeError(f"a*dt must be dimensionless, got {z.unit.name}")
            return yl + dt * phi1(z) * fl

        return tree_map(leaf, y, a, dydt)


def _diagonal_linearisation(f, t, y, args):
    """``(f(t, y), a)`` with ``a_i = ∂f_i/∂y_i`` elementwise, one JVP per variable.

    Each JVP differentiates only output ``i`` with respect to input ``i``; under
    ``jit`` the unused outputs are dead code, so the cost is about two
    evaluations of ``f`` in total (not one per variable)."""
    leaves, tree = jax.tree_util.tree_flatten(y, is_leaf=is_q)
    outs, coeffs = [], []
    for i, yi in enumerate(leaves):

        def fi(v, i=i):
            ys = list(leaves)
            ys[i] = v
            out = f(t, jax.tree_util.tree_unflatten(tree, ys), *args)
            out_leaves = jax.tree_util.tree_leaves(out, is_leaf=is_q)
            if len(out_leaves) != len(leaves):
                raise ValueError(
                    f"The vector field must return dy/dt with the structure of y ({tree}); got "
                    f"{jax.tree_util.tree_structure(out, is_leaf=is_q)}."
                )
            return out_leaves[i]

        m = yi.mantissa if isinstance(yi, Quantity) else yi
        tangent = (
            Quantity(jnp.ones_like(m), yi.unit) if isinstance(yi, Quantity) else jnp.ones_like(m)
        )
        fi_val, ai = jax.jvp(fi, (yi,), (tangent,))
        if isinstance(ai, Quantity) or isinstance(yi, Quantity):
            ai = ai / get_unit(yi)  # the tangent carries f's unit; a is in 1/time
        outs.append(fi_val)
        coeffs.append(ai)
    return jax.tree_util.tree_unflatten(tree, outs), jax.tree_util.tree_unflatten(tree, coeffs)


def make_rk(name: str) -> ExplicitRK:
    return ExplicitRK(TABLEAUS[name])
