"""Parsing unit strings: ``"nS/cm^2"``, ``"uS * cm**-2"``, ``"kg m s^-2"``."""

from __future__ import annotations

from fractions import Fraction

from ._errors import UnitParseError
from ._registry import lookup
from ._unit import Unit, dimensionless, div_units, mul_units, pow_unit

__all__ = ["unit"]

_SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻", "0123456789-")
_CACHE: dict[str, Unit] = {}


def unit(text: str) -> Unit:
    """Parse a unit expression.

    Grammar: factors joined by ``*``, ``/``, ``·`` or whitespace (all
    left-associative with equal precedence, so ``J/mol/K`` is J/(mol K)),
    each optionally raised to a power with ``^`` or ``**`` (an integer, a
    decimal or ``(p/q)``, or Unicode superscripts like ``cm²``), with
    parentheses for grouping and ``1`` for "one", as in ``1/ms``.

    Example:
        >>> import neurodyn.units as u
        >>> u.unit("nS/cm^2") == u.nS / u.cm**2
        True
        >>> u.unit("uS * cm**-2") == u.unit("uS/cm^2")
        True
        >>> u.unit("kg m s^-2") == u.newton
        True

    Raises:
        UnitParseError: naming the position of the first character that could
            not be understood.
    """
    if isinstance(text, Unit):
        return text
    if not isinstance(text, str):
        raise TypeError(f"unit() expects a string such as 'mV/ms', got {type(text).__name__}.")
    try:
        return _CACHE[text]
    except KeyError:
        pass
    parser = _Parser(text)
    result = parser.parse()
    if result.auto:  # a unit the user asked for by name is displayed as written
        result = Unit(result.dim, result.scale, factors=result.factors)
    _CACHE[text] = result
    return result


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.pos = 0

    def error(self, message: str, pos: int | None = None):
        raise UnitParseError(message, self.text, self.pos if pos is None else pos)

    def skip_ws(self):
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def peek(self) -> str:
        self.skip_ws()
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def parse(self) -> Unit:
        if not self.text.strip():
            self.error("Empty unit string; use '1' for a dimensionless unit.", 0)
        result = self.expr()
        c = self.peek()
        if c:
            hint = ""
            if c.isdigit() and self.pos and self.text[self.pos - 1].isalpha():
                hint = " Write powers with ^ or **, e.g. 'cm^2'."
            self.error(f"Unexpected {c!r} in unit string.{hint}")
        return result

    def expr(self) -> Unit:
        result = self.power()
        while True:
            c = self.peek()
            if c in ("*", "·", "×") and not self.text.startswith("**", self.pos):
                self.pos += 1
                result = mul_units(result, self.power())
            elif c == "/":
                self.pos += 1
                result = div_units(result, self.power())
            elif c and (c.isalpha() or c in "(µμΩ°1"):  # juxtaposition: "kg m"
                result = mul_units(result, self.power())
            else:
                return result

    def power(self) -> Unit:
        base = self.atom()
        self.skip_ws()
        if self.text.startswith("**", self.pos):
            self.pos += 2
            return pow_unit(base, self.exponent())
        if self.peek() == "^":
            self.pos += 1
            return pow_unit(base, self.exponent())
        # unicode superscripts directly after the name: cm²
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] in "⁰¹²³⁴⁵⁶⁷⁸⁹⁻":
            self.pos += 1
        if self.pos > start:
            digits = self.text[start : self.pos].translate(_SUPERSCRIPTS)
            try:
                return pow_unit(base, int(digits))
            except ValueError:
                self.error(f"Bad superscript exponent {self.text[start : self.pos]!r}.", start)
        return base

    def exponent(self) -> Fraction:
        self.skip_ws()
        start = self.pos
        if self.peek() == "(":
            self.pos += 1
            close = self.text.find(")", self.pos)
            if close < 0:
                self.error("Missing ')' in exponent.", start)
            body = self.text[self.pos : close]
            self.pos = close + 1
        else:
            end = self.pos
            if end < len(self.text) and self.text[end] in "+-":
                end += 1
            while end < len(self.text) and (self.text[end].isdigit() or self.text[end] == "."):
                end += 1
            body = self.text[self.pos : end]
            self.pos = end
        try:
            return Fraction(body.replace(" ", ""))
        except (ValueError, ZeroDivisionError):
            self.error(f"Expected a number as exponent, got {body!r}.", start)

    def atom(self) -> Unit:
        c = self.peek()
        start = self.pos
        if c == "(":
            self.pos += 1
            inner = self.expr()
            if self.peek() != ")":
                self.error("Missing ')'.")
            self.pos += 1
            return inner
        if c == "1":
            self.pos += 1
            return dimensionless
        end = self.pos
        while end < len(self.text) and (self.text[end].isalpha() or self.text[end] in "_°"):
            end += 1
        name = self.text[self.pos : end]
        if not name:
            self.error(
                f"Expected a unit name, got {c!r}." if c else "Expected a unit name at the end."
            )
        found = lookup(name)
        if found is None:
            hint = ""
            if name[-1:].isdigit():
                hint = " Write powers with ^ or **, e.g. 'cm^2'."
            self.error(f"Unknown unit {name!r}.{hint}", start)
        self.pos = end
        if found.offset and self.text.strip() != name:
            self.error(
                f"The temperature scale {name!r} cannot be combined with other units; "
                "use 'K' for temperature differences and rates.",
                start,
            )
        return found
