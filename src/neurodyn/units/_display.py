"""Choosing the unit a computed quantity is shown in."""

from __future__ import annotations

import numpy as np

from ._registry import _SIMPLIFY, DISPLAY, PREFIXES, _prefixed
from ._unit import Unit

__all__ = ["display_unit"]

_ENGINEERING = sorted(
    (exp, sym) for sym, (_, exp) in PREFIXES.items() if exp % 3 == 0 and abs(exp) <= 24
)


def display_unit(unit: Unit, values: np.ndarray) -> Unit:
    """The unit to show ``values`` (given in ``unit``) in.

    Only units produced by unit algebra (``unit.auto``) are changed:
    a dimension with a preferred display unit (conductance density in
    mS/cm^2, voltage slopes in mV/ms, ...) uses it; a dimension with a named
    SI unit gets the engineering prefix that suits the largest magnitude
    (1e-11 S shows as 10 pS); anything else keeps its composed name.
    """
    if not unit.auto:
        return unit
    preferred = DISPLAY.get(unit.dim)
    if preferred is not None:
        return preferred
    base = _SIMPLIFY.get(unit.dim)
    if base is None:
        return unit
    finite = np.abs(values[np.isfinite(values)]) if np.size(values) else np.zeros(0)
    peak = float(finite.max()) if finite.size else 0.0
    si_peak = peak * float(unit.scale / base.scale)
    if si_peak == 0.0:
        return base
    exp3 = int(np.floor(np.log10(si_peak) / 3.0)) * 3
    exp3 = min(max(exp3, _ENGINEERING[0][0]), _ENGINEERING[-1][0])
    if exp3 == 0:
        return base
    sym = dict(_ENGINEERING)[exp3]
    out = _prefixed(sym, base)
    return out
