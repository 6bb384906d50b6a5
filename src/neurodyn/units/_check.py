"""``check_units``: declare the dimensions of a function's arguments and result."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable

from ._dimension import DIMENSIONLESS, Dimension
from ._errors import UnitMismatchError
from ._quantity import Quantity
from ._registry import as_unit
from ._unit import Unit

__all__ = ["check_units"]

_MISSING = object()


def _expected(spec) -> Dimension | None | type:
    if spec is None or spec is bool:
        return spec
    if isinstance(spec, Dimension):
        return spec
    if isinstance(spec, (Unit, str)):
        return as_unit(spec).dim
    raise TypeError(
        f"check_units expects units (u.mV), unit strings ('mV'), Dimensions, None (a plain "
        f"number) or bool, got {spec!r}."
    )


def _check(fname: str, what: str, value, spec, expected):
    if expected is bool:
        if not isinstance(value, bool):
            raise TypeError(f"{fname}: {what} must be a bool, got {type(value).__name__}.")
        return
    if isinstance(value, Quantity):
        if expected is None or value.unit.dim is not expected:
            want = "a plain number (no unit)" if expected is None else _name(spec, expected)
            raise UnitMismatchError(
                f"{fname}: {what} should be {want}, got a quantity in {value.unit.name} "
                f"({value.unit.dim})."
            )
        return
    if value is None:
        return
    if expected is None or expected is DIMENSIONLESS:
        return
    raise UnitMismatchError(
        f"{fname}: {what} should be {_name(spec, expected)}, got a unitless "
        f"{type(value).__name__}. Attach the unit, e.g. `x * u.{_example(spec)}`."
    )


def _name(spec, dim) -> str:
    if isinstance(spec, Unit):
        return f"a quantity with the dimension of {spec.name} ({dim})"
    if isinstance(spec, str):
        return f"a quantity with the dimension of {spec} ({dim})"
    return f"a quantity of dimension {dim}"


def _example(spec) -> str:
    return spec.name if isinstance(spec, Unit) else (spec if isinstance(spec, str) else "volt")


def check_units(**specs) -> Callable[[Callable], Callable]:
    """Decorator checking the *dimensions* of arguments and of the result.

    Any unit of the right dimension is accepted (``mV`` where ``volt`` is
    declared) and passed on unchanged; a Quantity knows its own unit, so no
    conversion is needed. ``None`` declares a plain (unitless) argument,
    ``bool`` a boolean; ``result=`` checks the return value. Arguments given
    as ``None`` are not checked (optional arguments).

    Example:
        >>> import neurodyn.units as u
        >>> @u.check_units(v=u.volt, g=u.siemens, result=u.amp)
        ... def current(v, g):
        ...     return g * v
        >>> current(-65 * u.mV, 10 * u.nS)
        Quantity(-650., "pA")
    """
    result_spec = specs.pop("result", _MISSING)
    expected = {name: _expected(spec) for name, spec in specs.items()}
    result_expected = _expected(result_spec) if result_spec is not _MISSING else _MISSING

    def decorator(fn: Callable) -> Callable:
        sig = inspect.signature(fn)
        unknown = [n for n in specs if n not in sig.parameters]
        if unknown:
            raise TypeError(
                f"check_units on {fn.__qualname__}: no parameter named {', '.join(unknown)}; "
                f"the function takes ({', '.join(sig.parameters)})."
            )

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            bound = sig.bind(*args, **kwargs)
            for name, exp in expected.items():
                if name in bound.arguments:
                    _check(
                        fn.__name__, f"argument {name!r}", bound.arguments[name], specs[name], exp
                    )
            out = fn(*args, **kwargs)
            if result_expected is not _MISSING:
                _check(fn.__name__, "the result", out, result_spec, result_expected)
            return out

        return wrapper

    return decorator
