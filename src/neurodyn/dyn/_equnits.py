"""Units in equation strings: Brian2's unit names in expressions (``mV``, ``msiemens``,
``umetre2``), declarations read with neurodyn's unit parser, and readable names of
dimensions for error messages."""

from __future__ import annotations

import re

import neurodyn.units as u
from neurodyn.units import Dimension

__all__ = ["EquationError", "brian_unit", "parse_unit", "dim_name"]


class EquationError(ValueError):
    """An equation string that cannot be read: syntax, a flag, a name, a cycle."""


_BASE_NAMES = {
    "metre": "m",
    "meter": "m",
    "gram": "g",
    "gramme": "g",
    "second": "s",
    "amp": "A",
    "ampere": "A",
    "kelvin": "K",
    "mole": "mol",
    "mol": "mol",
    "volt": "V",
    "siemens": "S",
    "farad": "F",
    "ohm": "ohm",
    "hertz": "Hz",
    "coulomb": "C",
    "joule": "J",
    "watt": "W",
    "pascal": "Pa",
    "newton": "N",
    "tesla": "T",
    "weber": "Wb",
    "henry": "H",
    "radian": "rad",
    "steradian": "sr",
    "liter": "L",
    "litre": "L",
    "molar": "M",
}
_PREFIXES = ("", "E", "G", "M", "P", "T", "Y", "Z", "a", "f", "k", "m", "n", "p", "u", "y", "z")
_SHORT = set("mV mA uA nA pA pF uF nF nS uS ms us Hz kHz MHz cm mm um mM uM nM".split())
_UNIT_CACHE: dict[str, u.Unit | None] = {}


def brian_unit(name: str) -> u.Unit | None:
    """The unit Brian2 calls ``name`` in expressions (``mV``, ``msiemens``, ``umetre2``,
    ``cm2``, ``kilogram``), or None: short SI symbols such as ``m`` or ``A`` are not
    units in Brian2's expressions (``m`` is a gating variable)."""
    if name in _UNIT_CACHE:
        return _UNIT_CACHE[name]
    found = None
    base, power = name, 1
    if name[-1:] in "23" and len(name) > 1:
        base, power = name[:-1], int(name[-1])
    if base in _SHORT:
        found = u.lookup(base)
    elif base in ("kilogram", "kilogramme"):
        found = u.lookup("kg")
    else:
        for full, sym in _BASE_NAMES.items():
            if base.endswith(full) and base[: -len(full)] in _PREFIXES:
                found = u.lookup(base[: -len(full)] + sym)
                break
    if found is not None and power != 1:
        found = found**power
    _UNIT_CACHE[name] = found
    return found


def parse_unit(text: str, where: str = "") -> tuple[u.Unit, str]:
    """``(unit, var_type)`` of a declaration: ``"1"``, ``"boolean"``, ``"integer"`` or a unit
    (``volt``, ``mV``, ``nS/cm**2``, ``msiemens/cm2``); var_type is ``"float"``,
    ``"boolean"`` or ``"integer"``."""
    text = text.strip()
    if text in ("1", ""):
        if not text:
            raise EquationError(f"{where}: no unit after ':'. Write e.g. `: volt` or `: 1`.")
        return u.dimensionless, "float"
    if text in ("boolean", "integer"):
        return u.dimensionless, text
    if text == "bool":
        raise EquationError(f"{where}: write `: boolean` (not `: bool`) for a boolean variable.")

    def swap(m):
        found = brian_unit(m.group(0))
        if found is None:
            return m.group(0)
        return f"({found.name})" if found.name != m.group(0) else m.group(0)

    converted = re.sub(r"[A-Za-z_µμΩ][A-Za-z_0-9]*", swap, text)
    try:
        return u.unit(converted), "float"
    except (u.UnitParseError, ValueError, TypeError) as err:
        raise EquationError(
            f"{where}: the unit `{text}` could not be read ({err}). Units are written as in "
            "Brian2 or neurodyn: `volt`, `mV`, `siemens/meter**2`, `nS/cm**2`, `1`, "
            "`boolean`, `integer`."
        ) from None


def dim_name(dim: Dimension) -> str:
    """A readable unit for a dimension: ``V``, ``V/s``, ``S/m^2`` or the SI exponents."""
    from neurodyn.units._registry import _SIMPLIFY

    if dim is u.DIMENSIONLESS:
        return "1 (dimensionless)"
    if dim is u.kg.dim:
        return "kg"
    if dim in _SIMPLIFY:
        return _SIMPLIFY[dim].name
    s, m = u.second.dim, u.metre.dim
    for factor, fmt in ((s, "{}/s"), (s**-1, "{}*s"), (m**2, "{}/m^2"), (s**2, "{}/s^2")):
        base = _SIMPLIFY.get(dim * factor)
        if base is not None and base.dim is not u.DIMENSIONLESS:
            return fmt.format(base.name)
    return str(dim)
