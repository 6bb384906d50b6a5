"""Units: a dimension, an exact scale relative to SI, and a display name."""

from __future__ import annotations

from fractions import Fraction
from typing import ClassVar

from ._dimension import DIMENSIONLESS, Dimension
from ._errors import UnitMismatchError

__all__ = ["Unit", "dimensionless"]

_Factors = tuple[tuple[str, Fraction], ...]


def _frac(x) -> Fraction:
    if isinstance(x, Fraction):
        return x
    if isinstance(x, float):
        return Fraction(x).limit_denominator(10**15) if x != 0 else Fraction(0)
    return Fraction(x)


def _fmt_power(p: Fraction) -> str:
    if p.denominator == 1:
        return str(p.numerator)
    return f"({p.numerator}/{p.denominator})"


def _compose_name(factors: _Factors) -> str:
    num = [s if p == 1 else f"{s}^{_fmt_power(p)}" for s, p in factors if p > 0]
    den = [s if p == -1 else f"{s}^{_fmt_power(-p)}" for s, p in factors if p < 0]
    text = "*".join(num) if num else "1"
    if len(den) == 1:
        text += "/" + den[0]
    elif den:
        text += "/(" + "*".join(den) + ")"
    return text


class Unit:
    """A physical unit: a :class:`Dimension`, an exact scale and a name.

    ``scale`` is the size of one unit in SI base units (``mV`` has scale
    ``1/1000``) and is kept as an exact :class:`fractions.Fraction`, so that
    ``nS * mV`` is recognised as exactly ``pA``. ``offset`` is non-zero only
    for temperature scales such as ``celsius``.

    Units are interned and immutable: creating the same unit twice returns the
    same object, which keeps unit checks in eager code to an identity test.
    Equality is physical: ``u.nS * u.mV == u.pA``.

    Multiplying a number or an array by a unit makes a :class:`Quantity`;
    units multiply, divide and take powers among themselves.

    Example:
        >>> import neurodyn.units as u
        >>> u.nS * u.mV
        Unit("pA")
        >>> (u.uS * u.cm**-2).dim
        Dimension(m^-4 kg^-1 s^3 A^2)
        >>> 3 * u.mV
        Quantity(3., "mV")
    """

    __slots__ = ("dim", "scale", "offset", "name", "factors", "auto", "_hash", "_fscale")
    __array_ufunc__ = None  # numpy defers `array * unit` to Unit.__rmul__
    __array_priority__ = 1000
    _cache: ClassVar[dict[tuple, Unit]] = {}

    dim: Dimension
    scale: Fraction
    offset: Fraction
    name: str
    factors: _Factors
    auto: bool

    def __new__(
        cls,
        dim: Dimension = DIMENSIONLESS,
        scale=1,
        name: str | None = None,
        *,
        offset=0,
        factors: _Factors | None = None,
        auto: bool = False,
    ) -> Unit:
        if not isinstance(dim, Dimension):
            raise TypeError(f"Unit(dim=...) expects a Dimension, got {type(dim).__name__}.")
        scale = _frac(scale)
        if scale <= 0:
            raise ValueError(f"A unit's scale must be positive, got {scale}.")
        offset = _frac(offset)
        if name is None:
            if factors is None:
                name = "1" if dim is DIMENSIONLESS and scale == 1 else f"{float(scale):g} {dim}"
            else:
                name = _compose_name(factors)
        if factors is None:
            factors = ((name, Fraction(1)),)
        key = (dim, scale, offset, name, factors, auto)
        try:
            return cls._cache[key]
        except KeyError:
            pass
        self = object.__new__(cls)
        for attr, value in (
            ("dim", dim),
            ("scale", scale),
            ("offset", offset),
            ("name", name),
            ("factors", factors),
            ("auto", auto),
            ("_hash", hash((dim, scale, offset))),
            ("_fscale", float(scale)),
        ):
            object.__setattr__(self, attr, value)
        cls._cache[key] = self
        return self

    def __setattr__(self, name, value):
        raise AttributeError("Unit is immutable")

    def __reduce__(self):
        return (
            _rebuild_unit,
            (self.dim, self.scale, self.name, self.offset, self.factors, self.auto),
        )

    # -- identity -------------------------------------------------------------
    def __eq__(self, other) -> bool:
        if self is other:
            return True
        if not isinstance(other, Unit):
            return False
        return self.dim is other.dim and self.scale == other.scale and self.offset == other.offset

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        return f'Unit("{self.name}")'

    def __str__(self) -> str:
        return self.name

    @property
    def is_dimensionless(self) -> bool:
        """True when the unit has no physical dimension (e.g. ``mV/V``)."""
        return self.dim is DIMENSIONLESS

    def is_compatible(self, other: Unit) -> bool:
        """True when ``other`` has the same dimension (values can be converted)."""
        return isinstance(other, Unit) and self.dim is other.dim

    def conversion_factor(self, other: Unit) -> float:
        """The number to multiply a value in ``self`` by to express it in ``other``.

        Raises:
            UnitMismatchError: if the dimensions differ or either unit has an
                offset (use :meth:`Quantity.to` for temperatures).
        """
        from ._registry import as_unit

        other = as_unit(other)
        if self.dim is not other.dim:
            raise UnitMismatchError(
                f"Cannot convert from {self.name} ({self.dim}) to {other.name} ({other.dim}): "
                "the dimensions differ."
            )
        if self.offset or other.offset:
            raise UnitMismatchError(
                f"{self.name} -> {other.name} is an affine conversion (a temperature scale); "
                "use quantity.to(...) instead of a conversion factor."
            )
        return _ratio(self, other)

    # -- algebra ----------------------------------------------------------------
    def __mul__(self, other):
        if isinstance(other, Unit):
            return mul_units(self, other)
        from ._quantity import Quantity, _make, _plain_array

        if isinstance(other, Quantity):
            return _make(other.mantissa, mul_units(self, other.unit))
        value = _plain_array(other)
        if value is None:
            return NotImplemented
        return Quantity._new(value, self)

    def __rmul__(self, other):
        if isinstance(other, Unit):
            return mul_units(other, self)
        from ._quantity import Quantity, _make, _plain_array

        if isinstance(other, Quantity):
            return _make(other.mantissa, mul_units(other.unit, self))
        value = _plain_array(other)
        if value is None:
            return NotImplemented
        return Quantity._new(value, self)

    def __truediv__(self, other):
        if isinstance(other, Unit):
            return div_units(self, other)
        from ._quantity import Quantity, _make, _plain_array

        if isinstance(other, Quantity):
            return _make(1.0 / other.mantissa, div_units(self, other.unit))
        value = _plain_array(other)
        if value is None:
            return NotImplemented
        return Quantity._new(1.0 / value, self)

    def __rtruediv__(self, other):
        from ._quantity import Quantity, _make, _plain_array

        inv = pow_unit(self, -1)
        if isinstance(other, Quantity):
            return _make(other.mantissa, mul_units(other.unit, inv))
        value = _plain_array(other)
        if value is None:
            return NotImplemented
        return Quantity._new(value, inv)

    def __pow__(self, power):
        return pow_unit(self, power)

    def __add__(self, other):
        raise TypeError(
            f"Cannot add to the unit {self.name} itself. Make a quantity first, "
            f"e.g. `1 * u.{self.name}`."
        )

    __radd__ = __sub__ = __rsub__ = __add__


def _rebuild_unit(dim, scale, name, offset, factors, auto):
    return Unit(dim, scale, name, offset=offset, factors=factors, auto=auto)


dimensionless = Unit(DIMENSIONLESS, 1, "1", factors=())

# ---------------------------------------------------------------------------
# Cached unit algebra. Units are interned (never freed), so their ids are
# stable keys for these caches.
_MUL: dict[tuple[int, int], Unit] = {}
_DIV: dict[tuple[int, int], Unit] = {}
_POW: dict[tuple[int, Fraction], Unit] = {}
_RATIO: dict[tuple[int, int], float] = {}


def _ratio(a: Unit, b: Unit) -> float:
    key = (id(a), id(b))
    try:
        return _RATIO[key]
    except KeyError:
        r = _RATIO[key] = float(a.scale / b.scale)
        return r


def _check_no_offset(a: Unit, op: str):
    if a.offset:
        raise UnitMismatchError(
            f"Cannot {op} the temperature scale {a.name}: it has an offset from absolute zero. "
            f"Convert first, e.g. `t.to(u.kelvin)`."
        )


def _merge(fa: _Factors, fb: _Factors, sign: int) -> _Factors:
    out: dict[str, Fraction] = dict(fa)
    for s, p in fb:
        out[s] = out.get(s, Fraction(0)) + sign * p
    return tuple((s, p) for s, p in out.items() if p != 0)


def _combine(dim: Dimension, scale: Fraction, factors: _Factors) -> Unit:
    if len(factors) == 1 and factors[0][1] == 1:
        from ._registry import lookup

        found = lookup(factors[0][0])
        if found is not None and found.scale == scale and found.dim is dim:
            return found
    from ._registry import simplest_name

    named = simplest_name(dim, scale) if factors else None
    if named is not None:
        return named
    return Unit(dim, scale, factors=factors, auto=True)


def mul_units(a: Unit, b: Unit) -> Unit:
    key = (id(a), id(b))
    try:
        return _MUL[key]
    except KeyError:
        pass
    _check_no_offset(a, "multiply")
    _check_no_offset(b, "multiply")
    u = _MUL[key] = _combine(a.dim * b.dim, a.scale * b.scale, _merge(a.factors, b.factors, 1))
    return u


def div_units(a: Unit, b: Unit) -> Unit:
    key = (id(a), id(b))
    try:
        return _DIV[key]
    except KeyError:
        pass
    _check_no_offset(a, "divide")
    _check_no_offset(b, "divide")
    u = _DIV[key] = _combine(a.dim / b.dim, a.scale / b.scale, _merge(a.factors, b.factors, -1))
    return u


def pow_unit(a: Unit, power) -> Unit:
    try:
        p = Fraction(power).limit_denominator(1000)
    except (TypeError, ValueError):
        raise TypeError(
            f"A unit can only be raised to a fixed number (int, float or Fraction), "
            f"got {type(power).__name__}."
        ) from None
    key = (id(a), p)
    try:
        return _POW[key]
    except KeyError:
        pass
    if p == 1:
        return a
    _check_no_offset(a, "raise to a power")
    scale = a.scale**p if p.denominator == 1 else _frac(float(a.scale) ** float(p))
    factors = tuple((s, e * p) for s, e in a.factors)
    u = _POW[key] = _combine(a.dim**p, scale, factors)
    return u
