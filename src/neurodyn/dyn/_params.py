"""Declared model parameters: unit, default, shape rule and validity rule, checked when
a model is built (never discovered as NaNs at run time)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from neurodyn.state import State
from neurodyn.units import Quantity, Unit, UnitMismatchError, as_unit, dimensionless

from . import _shard

__all__ = ["Parameter", "REQUIRED", "check_value", "concrete"]


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED = _Required()

# name -> (test on a float array, what the rule says, a hint for the fix)
_RULES: dict[str, tuple[Callable, str]] = {
    "positive": (lambda x: x > 0, "> 0"),
    "nonnegative": (lambda x: x >= 0, ">= 0"),
    "negative": (lambda x: x < 0, "< 0"),
    "probability": (lambda x: (x >= 0) & (x <= 1), "between 0 and 1"),
    "finite": (lambda x: np.isfinite(x), "finite"),
}


def concrete(x) -> np.ndarray | None:
    """The value of ``x`` as a numpy float array, or None when it is traced."""
    m = x.mantissa if isinstance(x, Quantity) else x
    if isinstance(m, jax.core.Tracer) or callable(m):
        return None
    try:
        return np.asarray(m, dtype=float)
    except (TypeError, ValueError):
        return None


def check_value(value, rule, name: str, owner: str, unit: Unit | None = None) -> None:
    """Raise ``ValueError`` if a concrete ``value`` breaks ``rule`` (a rule name such as
    ``"positive"``, or ``(test, description)``); NaN is always refused. Traced values
    pass (they are checked where they are concrete)."""
    arr = concrete(value)
    if arr is None:
        return
    unit_s = "" if unit is None or unit is dimensionless else f" {unit.name}"
    bad_nan = np.isnan(arr)
    if np.any(bad_nan):
        where = (
            "" if arr.ndim == 0 else f" at index {tuple(int(i) for i in np.argwhere(bad_nan)[0])}"
        )
        raise ValueError(f"{owner}: parameter {name} is NaN{where}. Give a number.")
    if rule is None:
        return
    test, text = _RULES[rule] if isinstance(rule, str) else rule
    ok = np.asarray(test(arr))
    if not np.all(ok):
        if arr.ndim == 0:
            got = f"{float(arr):g}{unit_s}"
        else:
            idx = tuple(int(i) for i in np.argwhere(~np.broadcast_to(ok, arr.shape))[0])
            got = f"{float(arr[idx]):g}{unit_s} at index {idx}"
        hint = ""
        if rule == "positive":
            hint = f" A time constant or a size must be positive, e.g. {name}=20 * u.ms."
        raise ValueError(f"{owner}: parameter {name} must be {text}; got {got}.{hint}")


class Parameter:
    """A declared model parameter (a descriptor: set it in the class body).

    Args:
        unit: the unit it is stored in (``u.ms``, ``"mS/cm^2"``); ``None`` for a plain
            dimensionless number.
        default: the value used when the model is built without it (``REQUIRED``: none).
        check: a validity rule: ``"positive"``, ``"nonnegative"``, ``"negative"``,
            ``"probability"``, ``"finite"`` or ``(test, "description")``. NaN is always
            refused.
        per_neuron: whether one value per neuron is allowed (the value must broadcast to
            the population shape); otherwise the parameter is a scalar.
        doc: one line on what it is.

    Example:
        >>> import neurodyn as nd
        >>> import neurodyn.units as u
        >>> class Leaky(nd.dyn.Model):
        ...     tau = nd.dyn.Parameter(u.ms, default=10 * u.ms, check="positive")
        ...     variables = {"V": (u.mV, 0 * u.mV)}
        ...     def vector_field(self, t, y, I):
        ...         return {"V": -y["V"] / self.tau}
        >>> Leaky(3, tau=-5 * u.ms)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: Leaky: parameter tau must be > 0; got -5 ms. ...
    """

    def __init__(
        self,
        unit: Unit | str | None = None,
        default: Any = REQUIRED,
        check: str | tuple | None = None,
        per_neuron: bool = True,
        doc: str = "",
    ):
        self.unit = None if unit is None else as_unit(unit)
        self.default = default
        self.check = check
        self.per_neuron = per_neuron
        self.doc = doc
        self.name = "?"

    #: nd.save stores declared parameters; nd.load compares them
    checkpointed = True

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, obj, cls=None):
        if obj is None:
            return self
        try:
            value = obj.__dict__[self.name]
        except KeyError:
            raise AttributeError(
                f"{type(obj).__name__}.{self.name} is not set yet (set in __init__)."
            ) from None
        value = value.value if isinstance(value, State) else value
        return _shard.local(obj, value) if _shard._ACTIVE else value

    def __set__(self, obj, value):
        obj.__dict__[self.name] = self.convert(value, obj)

    def convert(self, value, obj=None):
        """``value`` checked (unit, shape, rule) and converted to this parameter's unit.

        A :class:`~neurodyn.state.Param` (or any State) is kept as it is — its value is
        checked now and read at every use — so the parameter can be trained or swept:
        ``LIF(n, tau=nd.Param(20 * u.ms))``."""
        if isinstance(value, State):
            self.convert(value.value, obj)  # check its current value
            return value
        owner = getattr(obj, "name", None) or type(obj).__name__
        shape = getattr(obj, "varshape", None)
        name, unit = self.name, self.unit
        if unit is None or unit.dim is dimensionless.dim:
            if isinstance(value, Quantity):
                if value.unit.dim is not dimensionless.dim:
                    raise UnitMismatchError(
                        f"{owner}: parameter {name} is dimensionless; got a quantity in "
                        f"{value.unit.name}. Give a plain number."
                    )
                value = value.to_value(dimensionless)
            if not callable(value):
                value = jnp.asarray(value, dtype=float) if np.ndim(value) else float(value)
        else:
            if not isinstance(value, Quantity):
                if callable(value):
                    return value
                raise UnitMismatchError(
                    f"{owner}: parameter {name} needs a unit of {unit.name} ({unit.dim}); got "
                    f"the plain number {value!r}. Write e.g. `{name}={value} * u.{unit.name}`."
                )
            if value.unit.dim is not unit.dim:
                raise UnitMismatchError(
                    f"{owner}: parameter {name} must have the dimension of {unit.name} "
                    f"({unit.dim}); got {value.unit.name} ({value.unit.dim})."
                )
            value = value.to(unit)
        vshape = jnp.shape(value.mantissa if isinstance(value, Quantity) else value)
        if vshape:
            if not self.per_neuron:
                raise ValueError(
                    f"{owner}: parameter {name} is one value for the whole population; got "
                    f"an array of shape {vshape}. Give a scalar."
                )
            if shape is not None:
                try:
                    fits = jnp.broadcast_shapes(vshape, shape) == tuple(shape)
                except ValueError:
                    fits = False
                if not fits:
                    raise ValueError(
                        f"{owner}: parameter {name} has shape {vshape}, which does not fit the "
                        f"population shape {tuple(shape)}. Give one value (a scalar) or one "
                        f"per neuron (shape {tuple(shape)})."
                    )
        check_value(value, self.check, name, owner, unit)
        return value

    def __repr__(self) -> str:
        unit = "" if self.unit is None else self.unit.name
        return f"Parameter({unit!r}, default={self.default!r}, check={self.check!r})"
