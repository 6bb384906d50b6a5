"""Physical dimensions as exponents of the seven SI base quantities."""

from __future__ import annotations

from fractions import Fraction
from typing import ClassVar

__all__ = ["Dimension", "DIMENSIONLESS", "BASE_SYMBOLS"]

#: Order and display symbols of the SI base dimensions.
BASE_SYMBOLS = ("m", "kg", "s", "A", "K", "mol", "cd")
_NAMES = ("length", "mass", "time", "current", "temperature", "amount", "luminosity")


class Dimension:
    """The dimension of a physical quantity: exponents of the SI base units.

    Dimensions are interned: two equal dimensions are the same object, so
    comparing them is an identity check (this keeps unit checks cheap in
    eager mode). Exponents are :class:`fractions.Fraction` so that square
    roots of quantities (e.g. of a variance) stay exact.

    Example:
        >>> from neurodyn.units import Dimension
        >>> Dimension(length=1, time=-1)
        Dimension(m s^-1)
        >>> Dimension(length=1) * Dimension(length=1) is Dimension(length=2)
        True
    """

    __slots__ = ("exponents", "_hash", "__weakref__")
    _cache: ClassVar[dict[tuple[Fraction, ...], Dimension]] = {}

    exponents: tuple[Fraction, ...]

    def __new__(
        cls,
        length: float = 0,
        mass: float = 0,
        time: float = 0,
        current: float = 0,
        temperature: float = 0,
        amount: float = 0,
        luminosity: float = 0,
    ) -> Dimension:
        exps = (length, mass, time, current, temperature, amount, luminosity)
        return cls._from_exponents(tuple(Fraction(e).limit_denominator(1000) for e in exps))

    @classmethod
    def _from_exponents(cls, exps: tuple[Fraction, ...]) -> Dimension:
        try:
            return cls._cache[exps]
        except KeyError:
            pass
        self = object.__new__(cls)
        object.__setattr__(self, "exponents", exps)
        object.__setattr__(self, "_hash", hash(exps))
        cls._cache[exps] = self
        return self

    def __setattr__(self, name, value):
        raise AttributeError("Dimension is immutable")

    def __reduce__(self):
        return (Dimension, tuple(self.exponents))

    @property
    def is_dimensionless(self) -> bool:
        """True when every exponent is zero."""
        return self is DIMENSIONLESS

    def __mul__(self, other: Dimension) -> Dimension:
        if not isinstance(other, Dimension):
            return NotImplemented
        return Dimension._from_exponents(
            tuple(a + b for a, b in zip(self.exponents, other.exponents))
        )

    def __truediv__(self, other: Dimension) -> Dimension:
        if not isinstance(other, Dimension):
            return NotImplemented
        return Dimension._from_exponents(
            tuple(a - b for a, b in zip(self.exponents, other.exponents))
        )

    def __pow__(self, power) -> Dimension:
        p = Fraction(power).limit_denominator(1000)
        return Dimension._from_exponents(tuple(a * p for a in self.exponents))

    def __eq__(self, other) -> bool:
        return self is other

    def __hash__(self) -> int:
        return self._hash

    def __str__(self) -> str:
        parts = []
        for sym, e in zip(BASE_SYMBOLS, self.exponents):
            if e == 0:
                continue
            parts.append(sym if e == 1 else f"{sym}^{_fmt_exp(e)}")
        return " ".join(parts) if parts else "1"

    def __repr__(self) -> str:
        return f"Dimension({self})"


def _fmt_exp(e: Fraction) -> str:
    if e.denominator == 1:
        return str(e.numerator)
    return f"({e.numerator}/{e.denominator})"


DIMENSIONLESS = Dimension()
