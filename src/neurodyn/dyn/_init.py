"""Initialisers: how a State's first value is drawn (with units)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from neurodyn.state import random as nd_random
from neurodyn.units import Quantity, UnitMismatchError
from neurodyn.units import get_mantissa as u_value

__all__ = ["Constant", "Normal", "Uniform", "initialize"]


class Constant:
    """Every element equal to ``value``."""

    def __init__(self, value: Any):
        self.value = value

    def __call__(self, shape):
        v = self.value
        if isinstance(v, Quantity):
            return Quantity(jnp.broadcast_to(jnp.asarray(v.mantissa, float), shape), v.unit)
        return jnp.broadcast_to(jnp.asarray(v, float), shape)


class Normal:
    """Normal samples with mean ``mean`` and standard deviation ``std`` (Quantities
    allowed), drawn from ``neurodyn.state.random`` (reproducible with ``nd.random.seed``)."""

    def __init__(self, mean: Any, std: Any):
        from ._params import check_value

        check_value(std, "nonnegative", "std", "Normal", getattr(std, "unit", None))
        check_value(mean, "finite", "mean", "Normal", getattr(mean, "unit", None))
        self.mean, self.std = mean, std

    def __call__(self, shape):
        return nd_random.normal(self.mean, self.std, size=shape)


class Uniform:
    """Uniform samples in ``[low, high)``."""

    def __init__(self, low: Any, high: Any):
        from ._params import check_value

        check_value(low, "finite", "low", "Uniform", getattr(low, "unit", None))
        check_value(high, "finite", "high", "Uniform", getattr(high, "unit", None))
        if isinstance(low, Quantity) and isinstance(high, Quantity):
            if low.unit.dim is not high.unit.dim:
                raise UnitMismatchError(
                    f"Uniform: low ({low}) and high ({high}) need the same dimension."
                )
            ok = jnp.all(high.to_value(low.unit) >= low.mantissa)
        else:
            ok = jnp.all(jnp.asarray(u_value(high)) >= jnp.asarray(u_value(low)))
        if not isinstance(ok, jax.core.Tracer) and not bool(ok):
            raise ValueError(f"Uniform: low ({low}) must not exceed high ({high}).")
        self.low, self.high = low, high

    def __call__(self, shape):
        return nd_random.uniform(self.low, self.high, size=shape)


def initialize(init: Callable | Any, shape, unit=None, name: str = "value"):
    """Apply an initialiser (callable of shape), or broadcast a constant; check the unit."""
    value = init(shape) if callable(init) else Constant(init)(shape)
    if unit is not None:
        if not isinstance(value, Quantity) or value.unit.dim is not unit.dim:
            got = value.unit.name if isinstance(value, Quantity) else "no unit"
            raise TypeError(f"{name} must be in units of {unit.name}; its initialiser gave {got}.")
        value = value.to(unit)
    return value
