"""Physical units and unit-aware math that cost nothing under ``jax.jit``.

A :class:`Quantity` is an array (its *mantissa*, kept in the quantity's own
unit so that float32 keeps its precision for nS, pA or µm²) plus a static
:class:`Unit`. It is a JAX pytree whose only leaf is the mantissa, so unit
algebra and dimension checks run while JAX traces a function, and the
compiled program is the unitless one.

Every SI unit, with every SI prefix, is an attribute: ``u.mV``, ``u.nS``,
``u.pA``, ``u.uF``, ``u.um``, ``u.mM``, ``u.kHz``, ``u.millivolt``... Powers are
written with ``**`` (``u.cm**2``); strings are parsed by :func:`unit`.

Example:
    >>> import neurodyn.units as u
    >>> v = -65.0 * u.mV
    >>> g = 10 * u.nS
    >>> print(g * (v - 0 * u.mV))
    -650. pA
    >>> print(10 * u.nS / (20000 * u.um**2))
    0.05 mS/cm^2
    >>> u.unit("uS * cm**-2") == u.uS / u.cm**2
    True
"""

from __future__ import annotations

from . import math
from ._check import check_units
from ._dimension import DIMENSIONLESS, Dimension
from ._errors import UnitMismatchError, UnitParseError
from ._grad import fix_gradient_units, grad, value_and_grad
from ._parse import unit
from ._quantity import Quantity, get_dim, get_mantissa, get_unit, is_quantity
from ._registry import DISPLAY, PREFIXES, as_unit, lookup, register_unit
from ._unit import Unit, dimensionless

# The common units, spelled out so that editors and `dir()` show them. Every
# other prefixed unit is found on first attribute access (see __getattr__).
_COMMON = (
    "m metre meter km cm mm um nm "
    "g gram kg mg ug "
    "s second ms us ns minute hour "
    "A amp ampere mA uA nA pA fA "
    "K kelvin celsius fahrenheit "
    "mol mole mmol umol nmol "
    "cd candela "
    "Hz hertz kHz MHz "
    "N newton Pa pascal kPa J joule W watt "
    "C coulomb mC uC nC pC "
    "V volt mV uV kV "
    "F farad mF uF nF pF fF "
    "ohm kohm Mohm Gohm "
    "S siemens mS uS nS pS "
    "Wb weber T tesla H henry "
    "L l litre liter mL uL "
    "M molar mM uM nM "
    "rad radian sr steradian"
).split()

for _name in _COMMON:
    globals()[_name] = lookup(_name)

DISPLAY.update(
    {
        (mS / cm**2).dim: mS / cm**2,
        (uF / cm**2).dim: uF / cm**2,
        (uA / cm**2).dim: uA / cm**2,
        (mV / ms).dim: mV / ms,
    }
)


def __getattr__(name: str) -> Unit:
    found = lookup(name)
    if found is None:
        raise AttributeError(
            f"neurodyn.units has no unit or attribute {name!r}. Units are SI symbols or names "
            "with SI prefixes (mV, nS, um, millivolt); write powers with ** (u.cm**2)."
        )
    globals()[name] = found
    return found


__all__ = [
    "Dimension",
    "DIMENSIONLESS",
    "Unit",
    "Quantity",
    "UnitMismatchError",
    "UnitParseError",
    "dimensionless",
    "unit",
    "as_unit",
    "lookup",
    "register_unit",
    "PREFIXES",
    "math",
    "grad",
    "value_and_grad",
    "fix_gradient_units",
    "check_units",
    "is_quantity",
    "get_unit",
    "get_mantissa",
    "get_dim",
    *_COMMON,
]
