"""Units: algebra laws, prefixes against pint, parsing."""

import re
from fractions import Fraction

import pint
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import neurodyn.units as u
from neurodyn.units import PREFIXES, Dimension, Unit, UnitParseError

ureg = pint.UnitRegistry()

# our symbol -> pint's name for it
PINT_NAMES = {
    "m": "meter",
    "g": "gram",
    "s": "second",
    "A": "ampere",
    "K": "kelvin",
    "mol": "mole",
    "cd": "candela",
    "Hz": "hertz",
    "N": "newton",
    "Pa": "pascal",
    "J": "joule",
    "W": "watt",
    "C": "coulomb",
    "V": "volt",
    "F": "farad",
    "ohm": "ohm",
    "S": "siemens",
    "Wb": "weber",
    "T": "tesla",
    "H": "henry",
    "Bq": "becquerel",
    "Gy": "gray",
    "kat": "katal",
    "L": "liter",
    "M": "molar",
}
PINT_BASE = ["meter", "kilogram", "second", "ampere", "kelvin", "mole", "candela"]


def _pint_si(expr: str):
    q = ureg.Quantity(1, expr).to_base_units()
    dims = tuple(Fraction(q.units._units.get(name, 0)).limit_denominator() for name in PINT_BASE)
    return q.magnitude, dims


@pytest.mark.parametrize("symbol", sorted(PINT_NAMES))
@pytest.mark.parametrize("prefix", sorted(PREFIXES))
def test_every_prefixed_unit_matches_pint(prefix, symbol):
    ours = u.lookup(prefix + symbol)
    assert ours is not None, prefix + symbol
    long_prefix = PREFIXES[prefix][0]
    magnitude, dims = _pint_si(long_prefix + PINT_NAMES[symbol])
    assert float(ours.scale) == pytest.approx(magnitude, rel=1e-12)
    assert ours.dim.exponents == dims
    # the long spelling (millivolt) is the same unit
    long_names = {"m": "metre", "g": "gram", "s": "second", "A": "amp", "V": "volt"}
    if symbol in long_names:
        assert u.lookup(long_prefix + long_names[symbol]) == ours


def test_named_units_are_attributes_and_agree_with_pint():
    for name, pint_expr in [
        ("mV", "millivolt"),
        ("nS", "nanosiemens"),
        ("pA", "picoampere"),
        ("uF", "microfarad"),
        ("cm", "centimeter"),
        ("um", "micrometer"),
        ("mM", "millimolar"),
        ("Hz", "hertz"),
        ("ms", "millisecond"),
        ("Mohm", "megaohm"),
        ("mL", "milliliter"),
        ("minute", "minute"),
    ]:
        ours = getattr(u, name)
        magnitude, dims = _pint_si(pint_expr)
        assert float(ours.scale) == pytest.approx(magnitude, rel=1e-12), name
        assert ours.dim.exponents == dims, name


def test_unknown_attribute_is_clear():
    with pytest.raises(AttributeError, match="cm\\*\\*2"):
        u.cm2  # noqa: B018


units_st = st.sampled_from(
    [
        u.mV,
        u.nS,
        u.pA,
        u.uF,
        u.cm,
        u.um,
        u.ms,
        u.mM,
        u.Hz,
        u.kg,
        u.mol,
        u.K,
        u.ohm,
        u.J,
        u.Mohm,
        u.second,
        u.volt,
        u.amp,
        u.nA,
        u.pF,
    ]
)


@settings(max_examples=200, deadline=None)
@given(units_st, units_st, units_st)
def test_unit_products_are_associative_and_commutative(a, b, c):
    assert (a * b) * c == a * (b * c)
    assert a * b == b * a
    assert (a / b) * b == a
    assert (a * b) ** 2 == a**2 * b**2
    assert float(((a * b) * c).scale) == pytest.approx(
        float(a.scale) * float(b.scale) * float(c.scale), rel=1e-12
    )


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from([u.mV, u.uV, u.volt, u.kV]),
    st.sampled_from([u.mV, u.uV, u.volt]),
    st.floats(-1e3, 1e3, allow_nan=False),
)
def test_conversion_round_trip(a, b, x):
    q = u.Quantity(x, a)
    back = q.to(b).to(a)
    assert float(back.to_value(a)) == pytest.approx(x, rel=1e-5, abs=1e-6)
    # the factor agrees with pint
    ratio = ureg.Quantity(1, _pint_expr(a)).to(_pint_expr(b)).magnitude
    assert a.conversion_factor(b) == pytest.approx(ratio, rel=1e-12)


def _pint_expr(unit: Unit) -> str:
    return {"mV": "millivolt", "uV": "microvolt", "V": "volt", "kV": "kilovolt"}[unit.name]


def test_products_get_named_units():
    assert (u.nS * u.mV).name == "pA"
    assert (u.pF / u.nS).name == "ms"
    assert (u.Mohm * u.nA).name == "mV"
    assert (u.mV / u.ms).name == "mV/ms"
    assert (u.uS * u.cm**-2).name == "uS/cm^2"
    assert (u.um**2).name == "um^2"
    assert str(u.kg * u.m / u.second**2) == "N"


def test_dimension_interning_and_display():
    assert Dimension(length=1) * Dimension(time=-1) is Dimension(length=1, time=-1)
    assert str(u.volt.dim) == "m^2 kg s^-3 A^-1"
    assert (u.um**2) ** Fraction(1, 2) == u.um


@pytest.mark.parametrize(
    "text, expected",
    [
        ("nS/cm^2", u.nS / u.cm**2),
        ("uS * cm**-2", u.uS / u.cm**2),
        ("kg m s^-2", u.newton),
        ("mV/ms", u.mV / u.ms),
        ("1/ms", u.ms**-1),
        ("J/mol/K", u.J / (u.mol * u.K)),
        ("(mV/ms)^2", u.mV**2 / u.ms**2),
        ("µm²", u.um**2),
        ("μF/cm²", u.uF / u.cm**2),
        ("MΩ", u.Mohm),
        ("m^(1/2)", u.m ** Fraction(1, 2)),
        ("mS·cm⁻²", u.mS / u.cm**2),
        ("millivolt", u.mV),
        ("degC", u.celsius),
    ],
)
def test_parse(text, expected):
    assert u.unit(text) == expected


def test_parse_round_trips_display_names():
    for unit in [
        u.nS / u.cm**2,
        u.mV / u.ms,
        u.mol / (u.L * u.ms),
        u.um**3,
        u.ms**-1,
        u.mV**2 / u.ms**2,
        u.m ** Fraction(1, 2),
    ]:
        assert u.unit(unit.name) == unit, unit.name


@pytest.mark.parametrize(
    "text, position, fragment",
    [
        ("mV/xx", 3, "Unknown unit 'xx'"),
        ("cm2", 2, "Write powers with"),
        ("mV/(ms", 6, "Missing ')'"),
        ("mV^x", 3, "Expected a number as exponent"),
        ("", 0, "Empty unit string"),
        ("mV $", 3, "Unexpected '$'"),
        ("degC/s", 0, "temperature scale"),
    ],
)
def test_parse_errors_name_the_position(text, position, fragment):
    with pytest.raises(UnitParseError, match=re.escape(fragment)) as info:
        u.unit(text)
    assert info.value.position == position
    assert f"at position {position}" in str(info.value)
