"""The named units, SI prefixes and the lookup of a unit by name."""

from __future__ import annotations

from fractions import Fraction

from ._dimension import DIMENSIONLESS, Dimension
from ._unit import Unit, dimensionless

__all__ = ["PREFIXES", "lookup", "as_unit", "simplest_name", "register_unit"]

#: SI prefixes: symbol -> (long name, power of ten).
PREFIXES: dict[str, tuple[str, int]] = {
    "Q": ("quetta", 30),
    "R": ("ronna", 27),
    "Y": ("yotta", 24),
    "Z": ("zetta", 21),
    "E": ("exa", 18),
    "P": ("peta", 15),
    "T": ("tera", 12),
    "G": ("giga", 9),
    "M": ("mega", 6),
    "k": ("kilo", 3),
    "h": ("hecto", 2),
    "da": ("deca", 1),
    "d": ("deci", -1),
    "c": ("centi", -2),
    "m": ("milli", -3),
    "u": ("micro", -6),
    "n": ("nano", -9),
    "p": ("pico", -12),
    "f": ("femto", -15),
    "a": ("atto", -18),
    "z": ("zepto", -21),
    "y": ("yocto", -24),
    "r": ("ronto", -27),
    "q": ("quecto", -30),
}
_MICRO_ALIASES = ("\u00b5", "\u03bc")  # micro sign and Greek mu both mean "u"
_LONG_PREFIXES = {long: (sym, exp) for sym, (long, exp) in PREFIXES.items()}

# name -> Unit for names that are not made with a prefix
_EXACT: dict[str, Unit] = {}
# symbol -> Unit for the units that take symbol prefixes (mV, kHz, ...)
_PREFIXABLE: dict[str, Unit] = {}
# long name -> Unit for the units that take long prefixes (millivolt, ...)
_PREFIXABLE_LONG: dict[str, Unit] = {}


def register_unit(
    symbol: str,
    dim: Dimension,
    scale=1,
    *,
    long_names: tuple[str, ...] = (),
    aliases: tuple[str, ...] = (),
    prefixable: bool = True,
    offset=0,
) -> Unit:
    """Register a named unit so that :func:`neurodyn.units.unit` and attribute
    access (``u.<symbol>``) know it.

    Args:
        symbol: the display symbol, e.g. ``"V"``.
        dim: its :class:`Dimension`.
        scale: size of one unit in SI base units.
        long_names: full names (``"volt"``); they take long prefixes
            (``"millivolt"``) when ``prefixable``.
        aliases: other exact spellings (``"Ω"``).
        prefixable: whether SI prefixes apply.
        offset: the SI value of zero of this scale (temperatures only).
    """
    for name in (symbol, *long_names, *aliases):
        if name in _EXACT and _EXACT[name] != Unit(dim, scale, symbol, offset=offset):
            raise ValueError(f"The unit name {name!r} is already registered as {_EXACT[name]!r}.")
    unit = Unit(dim, scale, symbol, offset=offset)
    for name in (symbol, *long_names, *aliases):
        _EXACT[name] = unit
    if prefixable:
        _PREFIXABLE[symbol] = unit
        for alias in aliases:
            _PREFIXABLE[alias] = unit
        for long in long_names:
            _PREFIXABLE_LONG[long] = unit
    return unit


def _prefixed(prefix_symbol: str, base: Unit) -> Unit:
    exp = PREFIXES[prefix_symbol][1]
    return Unit(base.dim, base.scale * Fraction(10) ** exp, prefix_symbol + base.name)


def lookup(name: str) -> Unit | None:
    """The unit spelled ``name`` (``"mV"``, ``"millivolt"``, ``"µm"``), or None."""
    unit = _EXACT.get(name)
    if unit is not None:
        return unit
    for alias in _MICRO_ALIASES:
        if name.startswith(alias):
            name = "u" + name[len(alias) :]
            unit = _EXACT.get(name)
            if unit is not None:
                return unit
    # symbol prefix: "da" is the only two-letter prefix
    for plen in (2, 1):
        pre, rest = name[:plen], name[plen:]
        if rest and pre in PREFIXES and rest in _PREFIXABLE:
            unit = _prefixed(pre, _PREFIXABLE[rest])
            _EXACT[name] = unit
            return unit
    for long, (sym, _) in _LONG_PREFIXES.items():
        if name.startswith(long) and name[len(long) :] in _PREFIXABLE_LONG:
            unit = _prefixed(sym, _PREFIXABLE_LONG[name[len(long) :]])
            _EXACT[name] = unit
            return unit
    return None


def as_unit(value) -> Unit:
    """Accept a :class:`Unit` or a unit string and return the :class:`Unit`."""
    if isinstance(value, Unit):
        return value
    if isinstance(value, str):
        from ._parse import unit

        return unit(value)
    raise TypeError(
        f"Expected a unit (e.g. u.mV or the string 'mV'), got {type(value).__name__}: {value!r}."
    )


# ---------------------------------------------------------------------------
# The catalogue.
L, M, T, I, K, N, J = (
    Dimension(**{k: 1})
    for k in ("length", "mass", "time", "current", "temperature", "amount", "luminosity")
)

metre = register_unit("m", L, long_names=("metre", "meter"))
gram = register_unit("g", M, Fraction(1, 1000), long_names=("gram",))
second = register_unit("s", T, long_names=("second",))
amp = register_unit("A", I, long_names=("amp", "ampere"))
kelvin = register_unit("K", K, long_names=("kelvin",))
mole = register_unit("mol", N, long_names=("mole",))
candela = register_unit("cd", J, long_names=("candela",))

hertz = register_unit("Hz", T**-1, long_names=("hertz",))
newton = register_unit("N", M * L / T**2, long_names=("newton",))
pascal = register_unit("Pa", M / L / T**2, long_names=("pascal",))
joule = register_unit("J", M * L**2 / T**2, long_names=("joule",))
watt = register_unit("W", M * L**2 / T**3, long_names=("watt",))
coulomb = register_unit("C", I * T, long_names=("coulomb",))
volt = register_unit("V", M * L**2 / T**3 / I, long_names=("volt",))
farad = register_unit("F", T**4 * I**2 / M / L**2, long_names=("farad",))
ohm = register_unit("ohm", M * L**2 / T**3 / I**2, long_names=("ohm",), aliases=("Ω", "Ohm"))
siemens = register_unit("S", T**3 * I**2 / M / L**2, long_names=("siemens",))
weber = register_unit("Wb", M * L**2 / T**2 / I, long_names=("weber",))
tesla = register_unit("T", M / T**2 / I, long_names=("tesla",))
henry = register_unit("H", M * L**2 / T**2 / I**2, long_names=("henry",))
becquerel = register_unit("Bq", T**-1, long_names=("becquerel",))
gray = register_unit("Gy", L**2 / T**2, long_names=("gray",))
katal = register_unit("kat", N / T, long_names=("katal",))
litre = register_unit("L", L**3, Fraction(1, 1000), long_names=("litre", "liter"), aliases=("l",))
molar = register_unit("M", N / L**3, 1000, long_names=("molar",))

register_unit("rad", DIMENSIONLESS, long_names=("radian",), prefixable=False)
register_unit("sr", DIMENSIONLESS, long_names=("steradian",), prefixable=False)
register_unit("min", T, 60, long_names=("minute",), prefixable=False)
register_unit("h", T, 3600, long_names=("hour",), prefixable=False)
register_unit("day", T, 86400, prefixable=False)
celsius = register_unit(
    "degC",
    K,
    long_names=("celsius",),
    aliases=("°C",),
    prefixable=False,
    offset=Fraction(27315, 100),
)
fahrenheit = register_unit(
    "degF",
    K,
    Fraction(5, 9),
    long_names=("fahrenheit",),
    aliases=("°F",),
    prefixable=False,
    offset=Fraction(27315, 100) - Fraction(32 * 5, 9),
)
_EXACT["1"] = dimensionless

# Units that an algebraic result is renamed to when the scale is an exact
# prefix of it: nS*mV -> pA, pF/nS -> ms, MOhm*nA -> mV.
_SIMPLIFY: dict[Dimension, Unit] = {
    u.dim: u
    for u in (
        metre,
        gram,
        second,
        amp,
        mole,
        hertz,
        newton,
        pascal,
        joule,
        watt,
        coulomb,
        volt,
        farad,
        ohm,
        siemens,
        molar,
    )
}
_EXP_TO_PREFIX = {exp: sym for sym, (_, exp) in PREFIXES.items()}


def simplest_name(dim: Dimension, scale: Fraction) -> Unit | None:
    """A single named (possibly prefixed) unit of exactly this dimension and
    scale, or None."""
    base = _SIMPLIFY.get(dim)
    if base is None:
        return None
    ratio = scale / base.scale
    if ratio == 1:
        return base
    num, den = ratio.numerator, ratio.denominator
    if den == 1:
        exp = len(str(num)) - 1
        if num != 10**exp:
            return None
    elif num == 1:
        exp = -(len(str(den)) - 1)
        if den != 10**-exp:
            return None
    else:
        return None
    sym = _EXP_TO_PREFIX.get(exp)
    if sym is None or (exp % 3 and exp != -2):  # centi, but not deci, deca, hecto
        return None
    return _prefixed(sym, base)


#: Preferred display units (for results of unit algebra) of some dimensions
#: that have no single-symbol SI unit. Filled in by the package __init__.
DISPLAY: dict[Dimension, Unit] = {}
