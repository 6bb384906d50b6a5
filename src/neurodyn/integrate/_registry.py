"""Method names."""

from __future__ import annotations

from ._ode import ExplicitRK, ExponentialEuler, ODEMethod
from ._sde import SDE_METHODS, SDEMethod
from ._tableaus import TABLEAUS

__all__ = ["get_method", "methods"]


class AdaptiveRK(ExplicitRK):
    """An embedded Runge-Kutta pair used with step-size control in :func:`solve`
    (its ``step`` is a plain fixed step of the propagated solution)."""

    adaptive = True


_METHODS: dict[str, ODEMethod | SDEMethod] = {}
for _name, _tab in TABLEAUS.items():
    _METHODS[_name] = AdaptiveRK(_tab) if _tab.b_err is not None else ExplicitRK(_tab)
_METHODS["exp_euler"] = ExponentialEuler()
_METHODS["exp_auto"] = _METHODS["exp_euler"]
_METHODS.update(SDE_METHODS)


def get_method(name: str) -> ODEMethod | SDEMethod:
    """The method object for ``name`` (see :func:`methods`)."""
    try:
        return _METHODS[name]
    except KeyError:
        raise ValueError(
            f"Unknown integration method {name!r}. Available: {', '.join(sorted(_METHODS))}."
        ) from None


def methods() -> dict[str, str]:
    """``{name: description}`` of every method :func:`solve` accepts, plus the
    DDE (``solve_dde``, any explicit RK tableau) and fractional (``solve_fde``:
    ``l1``, ``gl``) solvers."""
    out = {}
    for name, m in sorted(_METHODS.items()):
        if isinstance(m, SDEMethod):
            out[name] = f"SDE, strong order {m.strong_order}, {m.calculus}"
        elif getattr(m, "adaptive", False):
            out[name] = f"ODE, adaptive {m.order}({m.tableau.err_order}) pair"
        else:
            out[name] = f"ODE, order {m.order}"
    out["l1"] = "fractional (Caputo) ODE, L1 scheme (solve_fde)"
    out["gl"] = "fractional (Caputo) ODE, Grünwald-Letnikov (solve_fde)"
    return out
