"""Quantity: an array (the mantissa) with a static unit, as a JAX pytree."""

from __future__ import annotations

import numbers
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ._dimension import DIMENSIONLESS
from ._errors import UnitMismatchError
from ._unit import Unit, _ratio, div_units, mul_units, pow_unit

__all__ = [
    "Quantity",
    "is_quantity",
    "get_unit",
    "get_mantissa",
    "get_dim",
]

_ARRAY_TYPES = (jax.Array, np.ndarray, np.generic)
_SCALAR_TYPES = (int, float, complex, np.number, np.bool_, bool)
_Tracer = jax.core.Tracer


def _plain_array(x):
    """``x`` as something jnp accepts, or None when it is not array-like."""
    if isinstance(x, _ARRAY_TYPES) or isinstance(x, _SCALAR_TYPES):
        return x
    if isinstance(x, (list, tuple)):
        return jnp.asarray(x)
    return None


def _to_mantissa(value):
    """Numbers for a Quantity: arrays become (inexact) jax arrays; Python scalars
    stay Python floats, exactly as in unitless code, so that arithmetic on
    constants folds in Python and the traced program matches the unitless one."""
    if isinstance(value, jax.Array):
        arr = value
    elif isinstance(value, float) or isinstance(value, complex):
        return value
    elif isinstance(value, int):
        return float(value)
    else:
        arr = jnp.asarray(value)
    if not jnp.issubdtype(arr.dtype, jnp.inexact):
        arr = arr.astype(jnp.result_type(float))
    return arr


def _describe(x) -> str:
    if isinstance(x, Quantity):
        return f"a quantity in {x.unit.name}"
    if isinstance(x, _Tracer) or (hasattr(x, "shape") and getattr(x, "size", 1) > 4):
        return f"a unitless array of shape {tuple(np.shape(x))}"
    return f"the unitless value {x!r}"


def _is_literal_zero(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and x == 0


def _make(mantissa, unit: Unit):
    """Wrap ``mantissa`` in ``unit``; dimensionless results become plain arrays."""
    if unit.dim is DIMENSIONLESS:
        s = unit._fscale
        return mantissa if s == 1.0 else mantissa * s
    q = object.__new__(Quantity)
    q.mantissa = mantissa
    q.unit = unit
    return q


def _mismatch(op: str, a, b, extra: str = "") -> UnitMismatchError:
    ua = a.unit if isinstance(a, Quantity) else None
    ub = b.unit if isinstance(b, Quantity) else None
    if ua is not None and ub is not None:
        msg = f"Cannot {op} {ua.name} ({ua.dim}) and {ub.name} ({ub.dim}): the dimensions differ."
    else:
        q = a if ua is not None else b
        other = b if ua is not None else a
        msg = (
            f"Cannot {op} a quantity in {q.unit.name} and {_describe(other)}. "
            f"Give the number a unit (e.g. `x * u.{q.unit.name}` if it is in {q.unit.name}) "
            f"or take the unit off the quantity with `.to_value(u.{q.unit.name})`. "
            "Only a literal 0 may be combined with a dimensioned quantity without a unit."
        )
    return UnitMismatchError(msg + extra)


def _align(op: str, a: Quantity, b):
    """``b``'s mantissa expressed in ``a``'s unit, for +, -, comparisons..."""
    if isinstance(b, Quantity):
        ua, ub = a.unit, b.unit
        if ub is ua:
            return b.mantissa
        if ua.dim is not ub.dim:
            raise _mismatch(op, a, b)
        if ua.offset or ub.offset:
            raise UnitMismatchError(
                f"Cannot {op} temperatures on the scales {ua.name} and {ub.name} directly; "
                "convert both with `.to(u.kelvin)` first."
            )
        r = _ratio(ub, ua)
        return b.mantissa if r == 1.0 else b.mantissa * r
    value = _plain_array(b)
    if value is None:
        return NotImplemented
    if a.unit.dim is DIMENSIONLESS:
        s = a.unit._fscale
        return value if s == 1.0 else value / s
    if _is_literal_zero(value) and not a.unit.offset:
        return value
    raise _mismatch(op, a, b)


def _check_not_offset(q: Quantity, op: str):
    if q.unit.offset:
        raise UnitMismatchError(
            f"Cannot {op} a temperature on the {q.unit.name} scale: it is not zero at absolute "
            "zero. Convert first with `.to(u.kelvin)`."
        )


class Quantity:
    """An array of values in a physical unit.

    A Quantity is a JAX pytree whose only leaf is ``mantissa`` (the numbers,
    in the quantity's own unit: ``3 * u.mV`` stores ``3.0``) and whose static
    data is the :class:`Unit`. Unit algebra therefore happens when JAX traces
    a function, and a jitted function with Quantities compiles to the same
    program as the one without (up to constant rescalings where units differ).

    Arithmetic keeps the left operand's unit: ``1 * u.mV + 1 * u.V`` is
    ``1001 mV``. Results with no dimension (``v / u.mV``) are plain arrays.
    A unitless number cannot be added to or compared with a dimensioned
    quantity, except a literal ``0`` (which means the same in every unit, so
    ``sum(quantities)`` and ``v > 0`` work).

    Args:
        value: numbers (array-like). Integers become floats.
        unit: a :class:`Unit` or a unit string; defaults to dimensionless.

    Example:
        >>> import neurodyn.units as u
        >>> v = -65.0 * u.mV
        >>> i = 10 * u.nS * (v - 0 * u.mV)
        >>> print(i)
        -650. pA
        >>> i.to_value(u.nA)
        -0.65
    """

    __slots__ = ("mantissa", "unit")
    __array_ufunc__ = None  # numpy defers to our reflected operators
    __array_priority__ = 1000
    __hash__ = None  # type: ignore[assignment]

    mantissa: Any
    unit: Unit

    def __init__(self, value, unit: Unit | str | None = None):
        from ._registry import as_unit
        from ._unit import dimensionless

        unit = dimensionless if unit is None else as_unit(unit)
        if isinstance(value, Quantity):
            value = value.to(unit).mantissa if unit is not dimensionless else value
            if isinstance(value, Quantity):
                self.mantissa, self.unit = value.mantissa, value.unit
                return
        self.mantissa = _to_mantissa(value)
        self.unit = unit

    @classmethod
    def _new(cls, value, unit: Unit):
        return _make(_to_mantissa(value), unit)

    # -- conversion ---------------------------------------------------------------
    @property
    def dim(self):
        """The :class:`Dimension` of the unit."""
        return self.unit.dim

    def to(self, unit: Unit | str) -> Quantity:
        """This quantity expressed in ``unit`` (same dimension).

        Raises:
            UnitMismatchError: when the dimensions differ.
        """
        from ._registry import as_unit

        target = as_unit(unit)
        src = self.unit
        if target is src:
            return self
        if target.dim is not src.dim:
            raise UnitMismatchError(
                f"Cannot convert a quantity in {src.name} ({src.dim}) to {target.name} "
                f"({target.dim}): the dimensions differ."
            )
        if src.offset or target.offset:
            si = self.mantissa * float(src.scale) + float(src.offset)
            m = (si - float(target.offset)) / float(target.scale)
        else:
            r = _ratio(src, target)
            m = self.mantissa if r == 1.0 else self.mantissa * r
        if target.dim is DIMENSIONLESS:
            q = object.__new__(Quantity)
            q.mantissa, q.unit = m, target
            return q
        return _make(m, target)

    def to_value(self, unit: Unit | str) -> jax.Array | float:
        """The numbers of this quantity expressed in ``unit``, as a plain array
        (a Python float for a quantity made from a Python number)."""
        return self.to(unit).mantissa

    in_unit = to

    # -- pytree-friendly array attributes ------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of the mantissa."""
        return jnp.shape(self.mantissa)

    @property
    def ndim(self) -> int:
        """Number of axes of the mantissa."""
        return jnp.ndim(self.mantissa)

    @property
    def size(self) -> int:
        """Number of elements of the mantissa."""
        return jnp.size(self.mantissa)

    @property
    def dtype(self):
        """The dtype of the mantissa."""
        return jnp.result_type(self.mantissa)

    @property
    def T(self) -> Quantity:
        """The transpose (axes reversed), in the same unit."""
        return _make(jnp.transpose(self.mantissa), self.unit)

    def __len__(self) -> int:
        return len(self.mantissa)

    def __getitem__(self, index) -> Quantity:
        return _make(self.mantissa[index], self.unit)

    def __iter__(self):
        for m in self.mantissa:
            yield _make(m, self.unit)

    @property
    def at(self):
        """Functional indexed updates, as ``jax.Array.at``: ``q.at[i].set(1 * u.mV)``."""
        return _IndexUpdateHelper(self)

    def reshape(self, *shape) -> Quantity:
        """The mantissa reshaped to ``shape`` (a tuple or separate ints), same unit."""
        return _make(jnp.reshape(self.mantissa, shape[0] if len(shape) == 1 else shape), self.unit)

    def astype(self, dtype) -> Quantity:
        """The mantissa cast to ``dtype``, same unit."""
        return _make(jnp.asarray(self.mantissa, dtype=dtype), self.unit)

    def squeeze(self, axis=None) -> Quantity:
        """Length-1 axes removed (all, or ``axis``), same unit."""
        return _make(jnp.squeeze(self.mantissa, axis), self.unit)

    def flatten(self) -> Quantity:
        """A 1-D copy of the values, same unit (``ravel`` is the same method)."""
        return _make(jnp.ravel(self.mantissa), self.unit)

    ravel = flatten

    def sum(self, axis=None, keepdims=False) -> Quantity:
        """The sum over ``axis`` (all axes by default), same unit.

        Raises:
            UnitMismatchError: for a temperature on an offset scale (e.g. degrees C).
        """
        _check_not_offset(self, "sum")
        return _make(jnp.sum(self.mantissa, axis=axis, keepdims=keepdims), self.unit)

    def mean(self, axis=None, keepdims=False) -> Quantity:
        """The mean over ``axis`` (all axes by default), same unit."""
        return _make(jnp.mean(self.mantissa, axis=axis, keepdims=keepdims), self.unit)

    def max(self, axis=None, keepdims=False) -> Quantity:
        """The maximum over ``axis`` (all axes by default), same unit."""
        return _make(jnp.max(self.mantissa, axis=axis, keepdims=keepdims), self.unit)

    def min(self, axis=None, keepdims=False) -> Quantity:
        """The minimum over ``axis`` (all axes by default), same unit."""
        return _make(jnp.min(self.mantissa, axis=axis, keepdims=keepdims), self.unit)

    def std(self, axis=None, ddof=0, keepdims=False) -> Quantity:
        """The standard deviation over ``axis`` (``ddof`` as NumPy), same unit."""
        return _make(jnp.std(self.mantissa, axis=axis, ddof=ddof, keepdims=keepdims), self.unit)

    def var(self, axis=None, ddof=0, keepdims=False):
        """The variance over ``axis`` (``ddof`` as NumPy), in the unit squared.

        Raises:
            UnitMismatchError: for a temperature on an offset scale (e.g. degrees C).
        """
        _check_not_offset(self, "take the variance of")
        out = jnp.var(self.mantissa, axis=axis, ddof=ddof, keepdims=keepdims)
        return _make(out, pow_unit(self.unit, 2))

    def cumsum(self, axis=None) -> Quantity:
        """The cumulative sum along ``axis`` (of the flattened values by default), same
        unit."""
        return _make(jnp.cumsum(self.mantissa, axis=axis), self.unit)

    # -- arithmetic ------------------------------------------------------------------
    def __add__(self, other):
        if type(other) is Quantity and other.unit is self.unit and not self.unit.offset:
            return _make(self.mantissa + other.mantissa, self.unit)
        _check_not_offset(self, "add to")
        m = _align("add", self, other)
        if m is NotImplemented:
            return m
        return _make(self.mantissa + m, self.unit)

    def __radd__(self, other):
        _check_not_offset(self, "add to")
        m = _align("add", self, other)
        if m is NotImplemented:
            return m
        return _make(m + self.mantissa, self.unit)

    def __sub__(self, other):
        if type(other) is Quantity and other.unit is self.unit:
            if self.unit.offset:  # celsius - celsius is a temperature difference
                from ._registry import kelvin

                return _make((self.mantissa - other.mantissa) * self.unit._fscale, kelvin)
            return _make(self.mantissa - other.mantissa, self.unit)
        _check_not_offset(self, "subtract from")
        m = _align("subtract", self, other)
        if m is NotImplemented:
            return m
        return _make(self.mantissa - m, self.unit)

    def __rsub__(self, other):
        _check_not_offset(self, "subtract")
        m = _align("subtract", self, other)
        if m is NotImplemented:
            return m
        return _make(m - self.mantissa, self.unit)

    def __mul__(self, other):
        if type(other) is Quantity:
            return _make(self.mantissa * other.mantissa, mul_units(self.unit, other.unit))
        if isinstance(other, Unit):
            return _make(self.mantissa, mul_units(self.unit, other))
        value = _plain_array(other)
        if value is None:
            return NotImplemented
        _check_not_offset(self, "multiply")
        return _make(self.mantissa * value, self.unit)

    def __rmul__(self, other):
        value = _plain_array(other)
        if value is None:
            return NotImplemented
        _check_not_offset(self, "multiply")
        return _make(value * self.mantissa, self.unit)

    def __truediv__(self, other):
        if type(other) is Quantity:
            return _make(self.mantissa / other.mantissa, div_units(self.unit, other.unit))
        if isinstance(other, Unit):
            return _make(self.mantissa, div_units(self.unit, other))
        value = _plain_array(other)
        if value is None:
            return NotImplemented
        _check_not_offset(self, "divide")
        return _make(self.mantissa / value, self.unit)

    def __rtruediv__(self, other):
        value = _plain_array(other)
        if value is None:
            return NotImplemented
        return _make(value / self.mantissa, pow_unit(self.unit, -1))

    def __floordiv__(self, other):
        m = _align("floor-divide", self, other)
        if m is NotImplemented:
            return m
        return self.mantissa // m

    def __mod__(self, other):
        m = _align("take the remainder of", self, other)
        if m is NotImplemented:
            return m
        return _make(self.mantissa % m, self.unit)

    def __matmul__(self, other):
        if isinstance(other, Quantity):
            return _make(self.mantissa @ other.mantissa, mul_units(self.unit, other.unit))
        value = _plain_array(other)
        if value is None:
            return NotImplemented
        return _make(self.mantissa @ value, self.unit)

    def __rmatmul__(self, other):
        value = _plain_array(other)
        if value is None:
            return NotImplemented
        return _make(value @ self.mantissa, self.unit)

    def __pow__(self, power):
        if isinstance(power, Quantity) or isinstance(power, _Tracer):
            raise UnitMismatchError(
                f"A quantity in {self.unit.name} can only be raised to a fixed Python number "
                "(the unit of the result must be known when the function is traced); "
                f"got {_describe(power)}."
            )
        if isinstance(power, (jax.Array, np.ndarray)):
            if np.ndim(power) != 0:
                raise UnitMismatchError(
                    f"A quantity in {self.unit.name} can only be raised to one number, "
                    f"got an array of shape {np.shape(power)}."
                )
            power = float(power)
        if not isinstance(power, numbers.Real):
            return NotImplemented
        return _make(self.mantissa**power, pow_unit(self.unit, power))

    def __rpow__(self, base):
        raise UnitMismatchError(
            f"An exponent must be dimensionless, got a quantity in {self.unit.name}. "
            f"Divide it by a unit first, e.g. `x ** (t / u.{self.unit.name})`."
        )

    def __neg__(self):
        _check_not_offset(self, "negate")
        return _make(-self.mantissa, self.unit)

    def __pos__(self):
        return self

    def __abs__(self):
        _check_not_offset(self, "take the absolute value of")
        return _make(abs(self.mantissa), self.unit)

    # -- comparisons return plain boolean arrays ---------------------------------------
    def _compare(self, other, op, name):
        m = _align(f"compare ({name})", self, other)
        if m is NotImplemented:
            return m
        return op(self.mantissa, m)

    def __lt__(self, other):
        return self._compare(other, jnp.less, "<")

    def __le__(self, other):
        return self._compare(other, jnp.less_equal, "<=")

    def __gt__(self, other):
        return self._compare(other, jnp.greater, ">")

    def __ge__(self, other):
        return self._compare(other, jnp.greater_equal, ">=")

    def __eq__(self, other):
        if isinstance(other, Quantity) and other.unit.dim is not self.unit.dim:
            raise _mismatch("compare (==)", self, other)
        return self._compare(other, jnp.equal, "==")

    def __ne__(self, other):
        if isinstance(other, Quantity) and other.unit.dim is not self.unit.dim:
            raise _mismatch("compare (!=)", self, other)
        return self._compare(other, jnp.not_equal, "!=")

    # -- refuse silent unit drops ---------------------------------------------------
    def _refuse(self, what: str):
        raise TypeError(
            f"Refusing to convert a quantity in {self.unit.name} to {what}: the unit would be "
            f"lost. Say which unit you want the number in: `q.to_value(u.{self.unit.name})`."
        )

    def __float__(self):
        self._refuse("a Python float")

    def __int__(self):
        self._refuse("a Python int")

    def __complex__(self):
        self._refuse("a Python complex")

    def __index__(self):
        self._refuse("an index")

    def __array__(self, dtype=None, copy=None):
        self._refuse("a NumPy array")

    def __bool__(self):
        raise TypeError(
            f"The truth value of a quantity in {self.unit.name} is ambiguous; compare it with "
            f"another quantity, e.g. `v > 0 * u.{self.unit.name}`."
        )

    # -- display ----------------------------------------------------------------------
    def _display(self):
        """(numbers as numpy or a tracer, unit name) in the best unit for display."""
        m, unit = self.mantissa, self.unit
        if isinstance(m, _Tracer) or not unit.auto:
            return m, unit.name
        from ._display import display_unit

        values = np.asarray(m)
        target = display_unit(unit, values)
        if target is unit:
            return values, unit.name
        factor = float(unit.scale / target.scale)
        return (values * factor).astype(values.dtype), target.name

    def __str__(self) -> str:
        m, name = self._display()
        if isinstance(m, _Tracer):
            return f"{m} {name}"
        return f"{np.array2string(np.asarray(m))} {name}"

    def __repr__(self) -> str:
        m, name = self._display()
        if isinstance(m, _Tracer):
            return f'Quantity({m}, "{name}")'
        text = np.array2string(np.asarray(m), separator=", ", prefix="Quantity(")
        return f'Quantity({text}, "{name}")'

    def __format__(self, spec: str) -> str:
        if not spec:
            return str(self)
        m, name = self._display()
        if np.ndim(m) == 0 and not isinstance(m, _Tracer):
            return f"{format(np.asarray(m).item(), spec)} {name}"
        return f"{m} {name}"


class _IndexUpdateHelper:
    __slots__ = ("q",)

    def __init__(self, q):
        self.q = q

    def __getitem__(self, index):
        return _IndexUpdateRef(self.q, index)


class _IndexUpdateRef:
    __slots__ = ("q", "index")

    def __init__(self, q, index):
        self.q, self.index = q, index

    def _value(self, value, op):
        m = _align(op, self.q, value)
        if m is NotImplemented:
            raise TypeError(f"Cannot {op} with a value of type {type(value).__name__}.")
        return m

    def get(self, **kw):
        return _make(jnp.asarray(self.q.mantissa).at[self.index].get(**kw), self.q.unit)

    def set(self, value, **kw):
        m = self._value(value, "set")
        return _make(jnp.asarray(self.q.mantissa).at[self.index].set(m, **kw), self.q.unit)

    def add(self, value, **kw):
        m = self._value(value, "add")
        return _make(jnp.asarray(self.q.mantissa).at[self.index].add(m, **kw), self.q.unit)

    def min(self, value, **kw):
        m = self._value(value, "take the minimum")
        return _make(jnp.asarray(self.q.mantissa).at[self.index].min(m, **kw), self.q.unit)

    def max(self, value, **kw):
        m = self._value(value, "take the maximum")
        return _make(jnp.asarray(self.q.mantissa).at[self.index].max(m, **kw), self.q.unit)


def _flatten_with_keys(q: Quantity):
    return ((jax.tree_util.GetAttrKey("mantissa"), q.mantissa),), q.unit


def _flatten(q: Quantity):
    return (q.mantissa,), q.unit


def _unflatten(unit: Unit, children):
    q = object.__new__(Quantity)
    q.mantissa = children[0]
    q.unit = unit
    return q


jax.tree_util.register_pytree_with_keys(Quantity, _flatten_with_keys, _unflatten, _flatten)


def is_quantity(x) -> bool:
    """True for a :class:`Quantity`."""
    return isinstance(x, Quantity)


def get_unit(x) -> Unit:
    """The unit of ``x``: ``x.unit`` for a Quantity, dimensionless otherwise."""
    from ._unit import dimensionless

    return x.unit if isinstance(x, Quantity) else dimensionless


def get_mantissa(x):
    """The numbers of ``x`` in its own unit (``x`` itself for plain arrays)."""
    return x.mantissa if isinstance(x, Quantity) else x


def get_dim(x):
    """The :class:`Dimension` of ``x`` (dimensionless for plain arrays)."""
    return x.unit.dim if isinstance(x, Quantity) else DIMENSIONLESS
