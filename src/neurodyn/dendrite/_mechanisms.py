"""Membrane mechanisms painted on regions (:class:`HH`, :class:`Leak`) and point processes
placed at locations (:class:`IClamp`), with NEURON's conventions.

A density mechanism maps plain arrays (V in mV, its gate states) to a current density
(mA/cm², outward positive) and its derivative with respect to V (S/cm²), and advances its
states over a step at the new V. Parameters may be Quantities or ``nd.Param`` States (read
at every step, so they can be differentiated or swept); values broadcast against the
compartments a mechanism is painted on (a leading batch axis is allowed).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

import neurodyn.units as u
from neurodyn.dyn import HHPotassium, HHSodium
from neurodyn.state import State

__all__ = ["Mechanism", "HH", "Leak", "IClamp"]

_S_CM2 = u.siemens / u.cm**2
_EXAMPLES = {
    _S_CM2.name: "0.12 * u.S / u.cm**2",
    u.mV.name: "-65 * u.mV",
    u.ms.name: "5 * u.ms",
    u.nA.name: "0.5 * u.nA",
    u.Hz.name: "100 * u.Hz",
}


def _value(p, unit):
    """The plain value of a parameter (a Quantity or a State holding one) in ``unit``."""
    v = p.value if isinstance(p, State) else p
    return v.to_value(unit)


def _check(value, unit, name: str, owner: str, rule: str | None = None, fn: bool = False):
    """A parameter checked for its dimension (and, when concrete, its sign). With
    ``fn=True`` a function of the path distance from the soma is kept, to be evaluated
    (and checked) when the mechanism is painted."""
    if fn and callable(value) and not isinstance(value, (State, u.Quantity)):
        return _Distance(value, unit, name, owner, rule)
    v = value.value if isinstance(value, State) else value
    if not isinstance(v, u.Quantity) or v.unit.dim is not u.as_unit(unit).dim:
        got = v.unit.name if isinstance(v, u.Quantity) else f"the plain value {v!r}"
        example = _EXAMPLES.get(u.as_unit(unit).name, f"1 * u.{u.as_unit(unit).name}")
        raise u.UnitMismatchError(
            f"{owner}: {name} must be in {u.as_unit(unit).name} (or a compatible unit); got "
            f"{got}. Write e.g. {name}={example}."
        )
    try:
        arr = np.asarray(v.to_value(unit), dtype=float)
    except Exception:  # traced: checked where concrete
        return value
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{owner}: {name} must be finite; got {v}.")
    if rule == "nonnegative" and np.any(arr < 0):
        raise ValueError(f"{owner}: {name} must be >= 0; got {v}.")
    if rule == "positive" and np.any(arr <= 0):
        raise ValueError(f"{owner}: {name} must be > 0; got {v}.")
    return value


class _Distance:
    """A parameter given as a function of the path distance from the soma (a Quantity
    in µm, one value per compartment), evaluated when the mechanism is painted."""

    def __init__(self, fn, unit, name, owner, rule):
        self.fn, self.unit, self.name, self.owner, self.rule = fn, unit, name, owner, rule

    def evaluate(self, distance_um: np.ndarray):
        d = u.Quantity(np.asarray(distance_um, np.float64), u.um)
        try:
            out = self.fn(d)
        except Exception as err:
            raise type(err)(
                f"{self.owner}: {self.name}=f(distance) failed on the distances (a Quantity "
                f"in um, shape {d.shape}): {err}"
            ) from err
        out = _check(out, self.unit, f"{self.name}(distance)", self.owner, self.rule)
        shape = np.shape(out.mantissa)
        if shape not in ((), d.shape):
            raise ValueError(
                f"{self.owner}: {self.name}=f(distance) must return one value or one per "
                f"compartment (shape {d.shape}); got shape {shape}."
            )
        return out

    def __repr__(self) -> str:
        return f"f(distance) -> {u.as_unit(self.unit).name}"


class Mechanism:
    """A density mechanism: ``states``, ``parameters`` (name -> unit), and the methods
    :meth:`Mechanism.steady_state`, :meth:`Mechanism.current` and
    :meth:`Mechanism.advance` on plain arrays."""

    name = "mechanism"
    states: tuple[str, ...] = ()
    parameters: dict = {}

    def params(self) -> dict:
        """Plain values of the parameters in their units (States read now)."""
        out = {}
        for k, unit in self.parameters.items():
            val = getattr(self, k)
            if isinstance(val, _Distance):
                raise TypeError(
                    f"{type(self).__name__}: {k} is a function of the distance; paint the "
                    "mechanism on a cell (cell.paint) to evaluate it."
                )
            out[k] = _value(val, unit)
        return out

    def at_distance(self, distance_um) -> Mechanism:
        """A copy with the parameters given as functions of the path distance evaluated
        at ``distance_um`` (one per compartment it is painted on)."""
        import copy

        if not any(isinstance(getattr(self, k), _Distance) for k in self.parameters):
            return self
        new = copy.copy(self)
        for k in self.parameters:
            val = getattr(self, k)
            if isinstance(val, _Distance):
                setattr(new, k, val.evaluate(distance_um))
        return new

    def steady_state(self, v, p, temperature_c) -> dict:
        """The states at rest: ``{state: value}`` at membrane potential ``v`` (mV, plain
        array), parameters ``p`` (from :meth:`params`) and ``temperature_c`` (degrees C).
        Default: no states (``{}``)."""
        return {}

    def current(self, v, s: dict, p: dict):
        """``(i, g)``: current density (mA/cm²) and di/dV (S/cm²)."""
        raise NotImplementedError

    def advance(self, v, s: dict, p: dict, dt, temperature_c) -> dict:
        """The states ``s`` one step of ``dt`` (ms) later, at membrane potential ``v``
        (mV) and ``temperature_c`` (degrees C), with parameters ``p``. Default: ``s``
        unchanged."""
        return s

    #: the names of the currents :meth:`currents` returns
    current_names: tuple[str, ...] = ("i",)

    def currents(self, v, s: dict, p: dict) -> dict:
        """The current densities (mA/cm²) by name (``current_names``)."""
        return {"i": self.current(v, s, p)[0]}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={getattr(self, k)!r}" for k in self.parameters)
        return f"{type(self).__name__}({args})"


class Leak(Mechanism):
    """A passive leak (NEURON's ``pas``): ``i = g (V - E)``.

    Args:
        g: conductance density (default 0.001 S/cm², as ``g_pas``).
        E: reversal potential (default -70 mV, as ``e_pas``).

    Any parameter of a painted mechanism may also be a function of the path distance
    from the soma (a Quantity in µm, one value per compartment), evaluated at each
    compartment's centre when painted: ``Leak(g=lambda d: 1e-4 * u.S / u.cm**2 *
    (1 + d / (300 * u.um)))``.
    """

    name = "pas"
    parameters = {"g": _S_CM2, "E": u.mV}

    def __init__(self, g=0.001 * _S_CM2, E=-70.0 * u.mV):
        self.g = _check(g, _S_CM2, "g", "Leak", "nonnegative", fn=True)
        self.E = _check(E, u.mV, "E", "Leak", fn=True)

    def current(self, v, s, p):
        return p["g"] * (v - p["E"]), p["g"] + 0.0 * v


def _hh_rates(v, q10):
    """``(m_inf, m_tau, h_inf, h_tau, n_inf, n_tau)`` of NEURON's ``hh.mod`` ``rates(v)``:
    ``x_inf = alpha / (alpha + beta)``, ``tau_x = 1 / (q10 (alpha + beta))`` with the
    alpha/beta functions of :class:`neurodyn.dyn.HHSodium` and
    :class:`neurodyn.dyn.HHPotassium` (hh.mod's, with ``vtrap(x, y) = y exprel(x/y)``:
    the same function; at the removable singularity dyn's ``exprel`` switches to its
    series within |x/y| < 1e-4 and ``vtrap`` within 1e-6, a difference below 1e-9
    relative)."""
    out = []
    for gate in (*_NA.values(), *_K.values()):
        a, b = gate.rates(v)
        s = a + b
        out += [a / s, 1.0 / (q10 * s)]
    return tuple(out)


_NA = HHSodium().gates  # {"m": ..., "h": ...}
_K = HHPotassium().gates  # {"n": ...}
_Q10_CHANNEL = HHSodium()  # its rate_factor: 3 ** ((T - 6.3 degC) / 10 K)


class HH(Mechanism):
    """Hodgkin-Huxley sodium, potassium and leak currents as NEURON's ``hh`` mechanism.

    ``i = g_Na m^3 h (V - E_Na) + g_K n^4 (V - E_K) + g_L (V - E_L)``; the rates are those
    of ``hh.mod`` (``rates(v)``), scaled by ``q10 = 3 ** ((celsius - 6.3) / 10)`` at the
    cell's temperature; the gates start at their steady state and are advanced by
    ``cnexp`` (``x += (1 - exp(-dt / tau)) (x_inf - x)``) at the new V after each
    voltage step, as NEURON's fixed step does.

    Args:
        g_Na, g_K, g_L: maximal conductance densities (defaults 0.12, 0.036, 0.0003 S/cm²);
            any parameter may be a function of the path distance (see :class:`Leak`).
        E_Na, E_K, E_L: reversal potentials (defaults 50, -77, -54.3 mV).
        table: use NEURON's rate table (``usetable_hh = 1``, NEURON's default: the rates
            at every mV from -100 to 100 mV, linearly interpolated, clamped outside)
            instead of the exact rates (``usetable_hh = 0``, the default here).
    """

    name = "hh"
    states = ("m", "h", "n")
    parameters = {
        "g_Na": _S_CM2,
        "g_K": _S_CM2,
        "g_L": _S_CM2,
        "E_Na": u.mV,
        "E_K": u.mV,
        "E_L": u.mV,
    }

    def __init__(
        self,
        g_Na=0.12 * _S_CM2,
        g_K=0.036 * _S_CM2,
        g_L=0.0003 * _S_CM2,
        E_Na=50.0 * u.mV,
        E_K=-77.0 * u.mV,
        E_L=-54.3 * u.mV,
        table: bool = False,
    ):
        for k in ("g_Na", "g_K", "g_L"):
            setattr(self, k, _check(locals()[k], _S_CM2, k, "HH", "nonnegative", fn=True))
        for k in ("E_Na", "E_K", "E_L"):
            setattr(self, k, _check(locals()[k], u.mV, k, "HH", fn=True))
        if not isinstance(table, bool):
            raise TypeError(f"HH: table must be True or False; got {table!r}.")
        self.table = table
        self._tables: dict = {}

    @staticmethod
    def q10(temperature_c: float) -> float:
        """The rate factor ``3 ** ((celsius - 6.3) / 10)``."""
        return float(_Q10_CHANNEL.rate_factor(temperature_c * u.celsius))

    def _rates(self, v, temperature_c):
        q10 = self.q10(temperature_c)
        if not self.table:
            return _hh_rates(v, q10)
        key = float(temperature_c)
        if key not in self._tables:
            grid = np.linspace(-100.0, 100.0, 201)  # hh.mod: FROM -100 TO 100 WITH 200
            self._tables[key] = np.stack([np.asarray(x) for x in _hh_rates(grid, q10)])
        tab = jnp.asarray(self._tables[key], dtype=jnp.result_type(v))
        xi = v + 100.0  # _mfac = 200 / 200 = 1 per mV
        xi_c = jnp.clip(xi, 0.0, 200.0)
        i = jnp.clip(jnp.floor(xi_c).astype(jnp.int32), 0, 199)
        theta = xi_c - i
        lo, hi = tab[:, i], tab[:, i + 1]
        vals = lo + theta * (hi - lo)
        return tuple(vals[k] for k in range(6))

    def steady_state(self, v, p, temperature_c):
        """``{"m", "h", "n"}`` at their steady state ``x_inf(v)`` (``v`` in mV)."""
        mi, _, hi, _, ni, _ = self._rates(v, temperature_c)
        return {"m": mi, "h": hi, "n": ni}

    current_names = ("na", "k", "leak")

    def currents(self, v, s, p):
        m, h, n = s["m"], s["h"], s["n"]
        return {
            "na": p["g_Na"] * m * m * m * h * (v - p["E_Na"]),
            "k": p["g_K"] * n * n * n * n * (v - p["E_K"]),
            "leak": p["g_L"] * (v - p["E_L"]),
        }

    def current(self, v, s, p):
        m, h, n = s["m"], s["h"], s["n"]
        gna = p["g_Na"] * m * m * m * h
        gk = p["g_K"] * n * n * n * n
        i = gna * (v - p["E_Na"]) + gk * (v - p["E_K"]) + p["g_L"] * (v - p["E_L"])
        return i, gna + gk + p["g_L"]

    def advance(self, v, s, p, dt, temperature_c):
        """The gates one step of ``dt`` (ms) later, integrated exactly at fixed ``v``
        (mV): ``x + (1 - exp(-dt / tau_x)) (x_inf - x)``, rates from NEURON's ``hh.mod``
        table (Q10-scaled to ``temperature_c``)."""
        mi, mt, hi, ht, ni, nt = self._rates(v, temperature_c)
        return {
            "m": s["m"] + (1.0 - jnp.exp(-dt / mt)) * (mi - s["m"]),
            "h": s["h"] + (1.0 - jnp.exp(-dt / ht)) * (hi - s["h"]),
            "n": s["n"] + (1.0 - jnp.exp(-dt / nt)) * (ni - s["n"]),
        }


class IClamp:
    """A current clamp (NEURON's ``IClamp``): ``amplitude`` is injected while
    ``delay <= t < delay + duration``, with ``t`` the middle of the step (NEURON evaluates
    its currents at ``t + dt/2``), so the current acts on the steps that start at
    ``delay`` and later, up to ``delay + duration``.

    Args:
        delay, duration: times (duration >= 0).
        amplitude: current (positive depolarises), a Quantity or an ``nd.Param``.
    """

    def __init__(self, delay, duration, amplitude):
        self.delay = _check(delay, u.ms, "delay", "IClamp")
        self.duration = _check(duration, u.ms, "duration", "IClamp", "nonnegative")
        self.amplitude = _check(amplitude, u.nA, "amplitude", "IClamp")

    def current(self, t_mid_ms):
        """The injected current (nA, plain) at the middle-of-step time ``t_mid_ms``."""
        d = _value(self.delay, u.ms)
        on = (t_mid_ms >= d) & (t_mid_ms < d + _value(self.duration, u.ms))
        return jnp.where(on, _value(self.amplitude, u.nA), 0.0)

    def __repr__(self) -> str:
        return f"IClamp(delay={self.delay}, duration={self.duration}, amplitude={self.amplitude})"
