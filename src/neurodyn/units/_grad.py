"""Gradients that carry the right unit: d(out)/d(in) has unit out.unit / in.unit."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import jax

from ._quantity import Quantity, _make
from ._unit import Unit, div_units

__all__ = ["grad", "value_and_grad", "fix_gradient_units"]


def _is_q(x) -> bool:
    return isinstance(x, Quantity)


def fix_gradient_units(grads, out_unit: Unit | None):
    """Relabel a gradient pytree computed by plain ``jax.grad`` on the mantissas.

    ``jax.grad`` of a function of Quantities returns Quantities labelled with
    the *input's* unit and numbers that are d(out mantissa)/d(in mantissa).
    The physical derivative is that number in unit ``out_unit / in_unit``;
    this rewrites every leaf accordingly (plain-array inputs get ``out_unit``).
    """

    def fix(g):
        if isinstance(g, Quantity):
            if out_unit is None:
                return _make(g.mantissa, div_units(_one(), g.unit))
            return _make(g.mantissa, div_units(out_unit, g.unit))
        if out_unit is None or g is None:
            return g
        return _make(g, out_unit)

    return jax.tree_util.tree_map(fix, grads, is_leaf=_is_q)


def _one() -> Unit:
    from ._unit import dimensionless

    return dimensionless


def _split_output(out, has_aux: bool, name: str):
    if has_aux:
        if not (isinstance(out, tuple) and len(out) == 2):
            raise TypeError(
                f"{name}(has_aux=True) expects the function to return a pair (output, aux), "
                f"got {type(out).__name__}."
            )
        out, aux = out
    else:
        aux = None
    if isinstance(out, Quantity):
        unit, m = out.unit, out.mantissa
    else:
        unit, m = None, out
    return m, unit, aux


def value_and_grad(
    fun: Callable,
    argnums: int | Sequence[int] = 0,
    has_aux: bool = False,
    **kwargs,
) -> Callable:
    """Like :func:`jax.value_and_grad`, with Quantities and correct gradient units.

    The function may return a scalar Quantity; the gradient with respect to an
    argument in unit ``U`` has unit ``out.unit / U``.

    Example:
        >>> import neurodyn.units as u
        >>> energy = lambda v: 0.5 * (2 * u.pF) * v**2
        >>> value, g = u.value_and_grad(energy)(3 * u.mV)
        >>> g.to(u.fC)
        Quantity(6., "fC")
    """

    @functools.wraps(fun)
    def wrapper(*args, **kw):
        units: list = []

        def plain(*a, **k):
            m, unit, aux = _split_output(fun(*a, **k), has_aux, "value_and_grad")
            units.append(unit)
            return (m, aux) if has_aux else m

        value, grads = jax.value_and_grad(plain, argnums=argnums, has_aux=has_aux, **kwargs)(
            *args, **kw
        )
        out_unit = units[-1]
        if has_aux:
            m, aux = value
            value = (_make(m, out_unit) if out_unit is not None else m, aux)
        elif out_unit is not None:
            value = _make(value, out_unit)
        return value, fix_gradient_units(grads, out_unit)

    return wrapper


def grad(
    fun: Callable,
    argnums: int | Sequence[int] = 0,
    has_aux: bool = False,
    **kwargs,
) -> Callable:
    """Like :func:`jax.grad`, with Quantities and correct gradient units.

    Example:
        >>> import neurodyn.units as u
        >>> current = lambda v: (10 * u.nS) * (v - (-70 * u.mV))
        >>> u.grad(current)(-65 * u.mV)     # dI/dV is a conductance
        Quantity(10., "nS")
    """
    vg = value_and_grad(fun, argnums=argnums, has_aux=has_aux, **kwargs)

    @functools.wraps(fun)
    def wrapper(*args, **kw):
        value, g = vg(*args, **kw)
        return (g, value[1]) if has_aux else g

    return wrapper
