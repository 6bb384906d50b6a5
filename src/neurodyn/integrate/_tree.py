"""Pytree arithmetic over arrays and Quantities, and the derivative unit check."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from neurodyn.units import Quantity, UnitMismatchError, get_unit

__all__ = ["is_q", "tree_map", "lincomb", "check_derivative", "time_unit", "leaves_with_paths"]


def is_q(x) -> bool:
    return isinstance(x, Quantity)


def tree_map(fn, tree, *rest):
    return jax.tree_util.tree_map(fn, tree, *rest, is_leaf=is_q)


def leaves_with_paths(tree):
    return jax.tree_util.tree_flatten_with_path(tree, is_leaf=is_q)[0]


def _path_name(path) -> str:
    if not path:
        return "y"
    return "y" + "".join(str(p) for p in path)


def lincomb(y, dt, coeffs, ks):
    """``y + dt * sum(c * k)`` over pytrees, skipping zero coefficients."""
    pairs = [(float(c), k) for c, k in zip(coeffs, ks) if c != 0]
    if not pairs:
        return y

    def leaf(yl, *kl):
        acc = None
        for (c, _), k in zip(pairs, kl):
            term = k * c if c != 1.0 else k
            acc = term if acc is None else acc + term
        return yl + dt * acc

    return tree_map(leaf, y, *[k for _, k in pairs])


def time_unit(dt):
    return get_unit(dt)


def check_derivative(y, dydt, dt, what: str = "dy/dt") -> None:
    """Raise if ``dydt`` does not have the structure of ``y`` or the unit
    ``y.unit / dt.unit`` for every variable (runs at trace time)."""
    ys = leaves_with_paths(y)
    ty = jax.tree_util.tree_structure(y, is_leaf=is_q)
    td = jax.tree_util.tree_structure(dydt, is_leaf=is_q)
    if ty != td:
        raise ValueError(
            f"The vector field must return {what} with the structure of y: expected {ty}, got {td}."
        )
    tu = time_unit(dt)
    for (path, yl), dl in zip(ys, jax.tree_util.tree_leaves(dydt, is_leaf=is_q)):
        expected = get_unit(yl) / tu
        got = get_unit(dl)
        if got.dim is not expected.dim:
            name = _path_name(path)
            raise UnitMismatchError(
                f"{what} for {name} has unit {got.name} ({got.dim}) but {name} is in "
                f"{get_unit(yl).name} and time in {tu.name}, so {what} must have the "
                f"dimension of {expected.name} ({expected.dim})."
            )
        if jnp.shape(dl) != jnp.shape(yl) and jnp.broadcast_shapes(
            jnp.shape(dl), jnp.shape(yl)
        ) != jnp.shape(yl):
            raise ValueError(
                f"{what} for {_path_name(path)} has shape {jnp.shape(dl)}, y has {jnp.shape(yl)}."
            )


def mantissa_leaves(tree) -> list[Any]:
    return [
        x.mantissa if isinstance(x, Quantity) else x
        for x in jax.tree_util.tree_leaves(tree, is_leaf=is_q)
    ]


def as_arrays(y):
    """``y`` with every leaf (and Quantity mantissa) a float jax array."""
    dtype = jnp.result_type(float)

    def leaf(x):
        if isinstance(x, Quantity):
            m = x.mantissa
            if not hasattr(m, "dtype"):
                return Quantity(jnp.asarray(m, dtype), x.unit)
            return x
        if not hasattr(x, "dtype"):
            return jnp.asarray(x, dtype)
        return jnp.asarray(x)

    return tree_map(leaf, y)
