"""Unit-aware versions of the ``jax.numpy`` functions models use.

Every function here is generated from one rule table (:data:`RULES`) instead
of being written by hand. A rule says what a function does with units:

==========================  ====================================================
``keep``                    result has the unit of the first argument
                            (``abs``, ``sum``, ``mean``, ``reshape``, ``cumsum``)
``same``                    the listed arguments are converted to the unit of the
                            first quantity among them; result keeps it
                            (``maximum``, ``where``, ``clip``, ``concatenate``)
``compare``                 like ``same`` but the result is a plain array
                            (``less``, ``isclose``, ``arctan2``, ``searchsorted``)
``multiply`` / ``divide``   result unit is the product / quotient of the units
                            (``dot``, ``matmul``, ``outer``, ``divide``)
``power`` *p*               result unit is the unit to the power *p*
                            (``sqrt``: 1/2, ``square``: 2, ``var``: 2)
``dimensionless``           arguments must have no dimension (``exp``, ``log``,
                            ``sin``, ``tanh``); result is a plain array
``drop``                    result has no unit and the input may have any unit
                            (``sign``, ``argmax``, ``isnan``, ``argsort``)
==========================  ====================================================

Plain arrays pass straight to ``jax.numpy``. A literal ``0`` is accepted
wherever a quantity is expected (it means the same in every unit).

Example:
    >>> import neurodyn.units as u
    >>> u.math.sqrt(4 * u.um**2)
    Quantity(2., "um")
    >>> u.math.exp((-70 * u.mV) / (10 * u.mV))
    Array(0.00091188, dtype=float32, weak_type=True)
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from fractions import Fraction

import jax.numpy as jnp

from ._dimension import DIMENSIONLESS
from ._errors import UnitMismatchError
from ._quantity import Quantity, _align, _make, _to_mantissa
from ._registry import as_unit
from ._unit import Unit, dimensionless, div_units, mul_units, pow_unit

# name -> (rule, argument positions or power)
RULES: dict[str, tuple] = {}


def _add(rule: str, names: str, arg=None):
    for name in names.split():
        RULES[name] = (rule, arg)


_add(
    "keep",
    "abs absolute negative positive real imag conj conjugate round around rint floor "
    "ceil trunc sum nansum mean nanmean median nanmedian max min amax amin nanmax nanmin "
    "ptp std nanstd cumsum nancumsum sort reshape ravel squeeze transpose swapaxes moveaxis "
    "expand_dims broadcast_to flip fliplr flipud roll rot90 tile repeat diagonal diag trace "
    "tril triu take take_along_axis atleast_1d atleast_2d atleast_3d diff zeros_like ones_like "
    "empty_like percentile nanpercentile quantile nanquantile average cumulative_sum",
)
_add("same", "add subtract maximum minimum fmax fmin fmod remainder mod hypot copysign", (0, 1))
_add("same", "where", (1, 2))
_add("same", "clip", (0, 1, 2))
_add("same", "append", (0, 1))
_add("same_seq", "concatenate stack hstack vstack dstack column_stack")
_add(
    "compare",
    "equal not_equal less less_equal greater greater_equal array_equal arctan2 searchsorted",
    (0, 1),
)
_add("compare", "isclose allclose", (0, 1, 3))
_add("multiply", "multiply dot matmul vdot inner outer tensordot kron cross convolve correlate")
_add("divide", "divide true_divide")
_add("power", "sqrt", Fraction(1, 2))
_add("power", "cbrt", Fraction(1, 3))
_add("power", "square var nanvar", 2)
_add("power", "reciprocal", -1)
_add(
    "dimensionless",
    "exp exp2 expm1 log log2 log10 log1p sin cos tan arcsin arccos arctan "
    "sinh cosh tanh arcsinh arccosh arctanh sinc deg2rad rad2deg radians degrees",
    (0,),
)
_add("dimensionless", "logaddexp logaddexp2", (0, 1))
_add(
    "drop",
    "sign signbit argmax argmin argsort nonzero count_nonzero isnan isinf isfinite "
    "isposinf isneginf shape ndim size argwhere flatnonzero nanargmax nanargmin",
)


def _unit_of(x) -> Unit:
    return x.unit if isinstance(x, Quantity) else dimensionless


def _strip_dimensionless(name: str, x, position: int):
    if not isinstance(x, Quantity):
        return x
    if x.unit.dim is not DIMENSIONLESS:
        raise UnitMismatchError(
            f"{name} needs a dimensionless argument, got a quantity in {x.unit.name} "
            f"(argument {position}). Divide by a unit to make it dimensionless first, "
            f"e.g. `u.math.{name}(x / u.{x.unit.name})`."
        )
    return x.mantissa * x.unit._fscale


def _in_unit_of(name: str, ref: Quantity, x):
    if x is None:
        return None
    out = _align(name, ref, x)
    if out is NotImplemented:
        raise TypeError(f"{name}: expected a quantity or an array, got {type(x).__name__}.")
    return out


def _make_fn(name: str, rule: str, arg) -> Callable:
    jfn = getattr(jnp, name)

    if rule == "keep":

        def fn(x, *args, **kwargs):
            if isinstance(x, Quantity):
                return _make(jfn(x.mantissa, *args, **kwargs), x.unit)
            return jfn(x, *args, **kwargs)

    elif rule in ("same", "compare"):
        positions = arg
        keep = rule == "same"

        def fn(*args, **kwargs):
            ref = next(
                (args[i] for i in positions if i < len(args) and isinstance(args[i], Quantity)),
                None,
            )
            if ref is None:
                return jfn(*args, **kwargs)
            args = list(args)
            for i in positions:
                if i < len(args):
                    args[i] = _in_unit_of(name, ref, args[i])
            if "atol" in kwargs:
                kwargs["atol"] = _in_unit_of(name, ref, kwargs["atol"])
            out = jfn(*args, **kwargs)
            return _make(out, ref.unit) if keep else out

    elif rule == "same_seq":

        def fn(arrays: Sequence, *args, **kwargs):
            ref = next((a for a in arrays if isinstance(a, Quantity)), None)
            if ref is None:
                return jfn(arrays, *args, **kwargs)
            ms = [_in_unit_of(name, ref, a) for a in arrays]
            return _make(jfn(ms, *args, **kwargs), ref.unit)

    elif rule in ("multiply", "divide"):
        combine = mul_units if rule == "multiply" else div_units

        def fn(a, b, *args, **kwargs):
            if not isinstance(a, Quantity) and not isinstance(b, Quantity):
                return jfn(a, b, *args, **kwargs)
            unit = combine(_unit_of(a), _unit_of(b))
            out = jfn(
                a.mantissa if isinstance(a, Quantity) else a,
                b.mantissa if isinstance(b, Quantity) else b,
                *args,
                **kwargs,
            )
            return _make(out, unit)

    elif rule == "power":
        p = arg

        def fn(x, *args, **kwargs):
            if isinstance(x, Quantity):
                return _make(jfn(x.mantissa, *args, **kwargs), pow_unit(x.unit, p))
            return jfn(x, *args, **kwargs)

    elif rule == "dimensionless":
        positions = arg

        def fn(*args, **kwargs):
            args = [
                _strip_dimensionless(name, a, i) if i in positions else a
                for i, a in enumerate(args)
            ]
            return jfn(*args, **kwargs)

    elif rule == "drop":

        def fn(x, *args, **kwargs):
            return jfn(x.mantissa if isinstance(x, Quantity) else x, *args, **kwargs)

    else:  # pragma: no cover - table typo
        raise ValueError(f"unknown rule {rule!r} for {name}")

    functools.update_wrapper(fn, jfn, assigned=("__name__", "__qualname__"))
    fn.__module__ = __name__
    described = {
        "keep": "the result keeps the unit of the first argument",
        "same": f"arguments at positions {arg} are converted to one unit, which the result has",
        "compare": f"arguments at positions {arg} are converted to one unit; plain result",
        "same_seq": "all arrays are converted to the unit of the first quantity",
        "multiply": "the result unit is the product of the argument units",
        "divide": "the result unit is the quotient of the argument units",
        "power": f"the result unit is the argument's unit to the power {arg}",
        "dimensionless": "the arguments must be dimensionless; plain result",
        "drop": "the result is a plain array, whatever the argument's unit",
    }[rule]
    fn.__doc__ = f"Unit-aware :func:`jax.numpy.{name}`: {described}."
    return fn


for _name, (_rule, _arg) in RULES.items():
    if hasattr(jnp, _name):
        globals()[_name] = _make_fn(_name, _rule, _arg)


# ---------------------------------------------------------------------------
# Functions whose unit rule depends on their arguments.
def power(x, p):
    """``x ** p`` for a fixed Python number ``p`` (the unit must be static)."""
    if isinstance(x, Quantity):
        return x**p
    if isinstance(p, Quantity):
        _strip_dimensionless("power", p, 1)
    return jnp.power(x, p)


def prod(x, axis=None, keepdims=False):
    """Product of elements; the unit is raised to the number of factors."""
    if not isinstance(x, Quantity):
        return jnp.prod(x, axis=axis, keepdims=keepdims)
    shape = jnp.shape(x.mantissa)
    if axis is None:
        n = 1
        for s in shape:
            n *= s
    else:
        axes = (axis,) if isinstance(axis, int) else tuple(axis)
        n = 1
        for a in axes:
            n *= shape[a]
    return _make(jnp.prod(x.mantissa, axis=axis, keepdims=keepdims), pow_unit(x.unit, n))


def einsum(subscripts: str, *operands, **kwargs):
    """:func:`jax.numpy.einsum`; the result unit is the product of the operands' units."""
    unit = dimensionless
    ms = []
    for op in operands:
        unit = mul_units(unit, _unit_of(op))
        ms.append(op.mantissa if isinstance(op, Quantity) else op)
    return _make(jnp.einsum(subscripts, *ms, **kwargs), unit)


def interp(x, xp, fp, left=None, right=None, period=None):
    """:func:`jax.numpy.interp` with ``x``/``xp`` in one unit and ``fp``/``left``/``right``
    in another; the result has the unit of ``fp``."""
    if isinstance(x, Quantity) or isinstance(xp, Quantity):
        ref = x if isinstance(x, Quantity) else xp
        x, xp = _in_unit_of("interp", ref, x), _in_unit_of("interp", ref, xp)
        period = _in_unit_of("interp", ref, period)
    if isinstance(fp, Quantity):
        left, right = _in_unit_of("interp", fp, left), _in_unit_of("interp", fp, right)
        return _make(jnp.interp(x, xp, fp.mantissa, left, right, period), fp.unit)
    return jnp.interp(x, xp, fp, left, right, period)


def gradient(f, *varargs, axis=None):
    """:func:`jax.numpy.gradient`; the result unit is ``f``'s unit over the spacing's."""
    spacing_unit = _unit_of(varargs[0]) if varargs else dimensionless
    ms = [v.mantissa if isinstance(v, Quantity) else v for v in varargs]
    out = jnp.gradient(f.mantissa if isinstance(f, Quantity) else f, *ms, axis=axis)
    unit = div_units(_unit_of(f), spacing_unit)
    if isinstance(out, list):
        return [_make(o, unit) for o in out]
    return _make(out, unit)


def zeros(shape, unit: Unit | str | None = None, dtype=None):
    """Zeros of ``shape`` in ``unit``."""
    return _with_unit(jnp.zeros(shape, dtype), unit)


def ones(shape, unit: Unit | str | None = None, dtype=None):
    """Ones of ``shape`` in ``unit``."""
    return _with_unit(jnp.ones(shape, dtype), unit)


def full(shape, fill_value, dtype=None):
    """An array of ``shape`` filled with ``fill_value`` (which may be a quantity)."""
    if isinstance(fill_value, Quantity):
        return _make(jnp.full(shape, fill_value.mantissa, dtype), fill_value.unit)
    return jnp.full(shape, fill_value, dtype)


def full_like(a, fill_value, dtype=None, shape=None):
    """Like :func:`full`, with the shape of ``a``."""
    target = jnp.shape(a.mantissa if isinstance(a, Quantity) else a) if shape is None else shape
    return full(target, fill_value, dtype)


def arange(start, stop=None, step=None, dtype=None):
    """:func:`jax.numpy.arange` on quantities of one unit (the unit of ``start``)."""
    if not isinstance(start, Quantity):
        if any(isinstance(v, Quantity) for v in (stop, step)):
            raise UnitMismatchError(
                "arange: give start as a quantity too, e.g. arange(0 * u.ms, 10 * u.ms, 1 * u.ms)."
            )
        return jnp.arange(start, stop, step, dtype=dtype)
    s, e = start.mantissa, _in_unit_of("arange", start, stop)
    st = _in_unit_of("arange", start, step)
    return _make(jnp.arange(s, e, st, dtype=dtype), start.unit)


def linspace(start, stop, num: int = 50, endpoint: bool = True, dtype=None):
    """:func:`jax.numpy.linspace` between two quantities of one dimension."""
    if isinstance(start, Quantity) or isinstance(stop, Quantity):
        ref = start if isinstance(start, Quantity) else stop
        s, e = _in_unit_of("linspace", ref, start), _in_unit_of("linspace", ref, stop)
        return _make(jnp.linspace(s, e, num, endpoint=endpoint, dtype=dtype), ref.unit)
    return jnp.linspace(start, stop, num, endpoint=endpoint, dtype=dtype)


def asarray(x, unit: Unit | str | None = None, dtype=None):
    """``x`` as an array; with ``unit``, a quantity in that unit (converting
    quantities, attaching the unit to plain numbers). Lists of quantities are
    stacked in the unit of the first."""
    if isinstance(x, (list, tuple)) and any(isinstance(v, Quantity) for v in x):
        x = globals()["stack"]([v if isinstance(v, Quantity) else jnp.asarray(v) for v in x])
    if isinstance(x, Quantity):
        out = x if unit is None else x.to(unit)
        return out.astype(dtype) if dtype is not None else out
    arr = jnp.asarray(x, dtype=dtype)
    return arr if unit is None else _with_unit(arr, unit)


def _with_unit(arr, unit):
    if unit is None:
        return arr
    unit = as_unit(unit)
    return _make(_to_mantissa(arr) if not jnp.issubdtype(arr.dtype, jnp.inexact) else arr, unit)


__all__ = sorted(
    [n for n in RULES if n in globals()]
    + [
        "power",
        "prod",
        "einsum",
        "interp",
        "gradient",
        "zeros",
        "ones",
        "full",
        "full_like",
        "arange",
        "linspace",
        "asarray",
        "RULES",
    ]
)
