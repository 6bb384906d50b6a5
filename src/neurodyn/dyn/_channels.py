"""Conductance-based membrane pieces: gates, channels and ions (the membrane that
assembles them is :mod:`neurodyn.dyn._membrane`).

Everything here is pure: no States, no clock, no population size. A gate, a channel or a
:class:`Membrane` maps arrays of any shape (a batch axis, a compartment axis) to arrays of
the same shape, so the same objects serve point neurons and, per compartment,
multi-compartment cells. All functions are built from ``jax.numpy`` with no Python
branching on values: they can be jitted, vmapped and differentiated.

Conventions: voltages in mV, conductance densities in mS/cm², current densities in
µA/cm² (positive outward), concentrations in mM, rates in 1/ms. Gate functions receive
and return plain arrays in those units (the membrane potential in mV, or ``[Ca]_i`` in
mM for calcium-gated channels); gate values are plain dimensionless arrays.

Example:
    >>> import neurodyn.units as u
    >>> from neurodyn.dyn._membrane import Membrane
    >>> from neurodyn.dyn._channel_library import HHPotassium, HHSodium, Leak
    >>> mem = Membrane([HHSodium(), HHPotassium(), Leak()])
    >>> list(mem.variables())
    ['INa.m', 'INa.h', 'IK.n']
    >>> y = mem.steady_state(-65.0 * u.mV)
    >>> round(float(y["INa.m"]), 4)
    0.0529
    >>> print(round(float(mem.rest_potential().to_value(u.mV)), 1))
    -65.0
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import neurodyn.units as u

from ._base import param
from ._params import concrete

__all__ = [
    "FARADAY",
    "GAS_CONSTANT",
    "AbstractGate",
    "AlphaBetaGate",
    "InfTauGate",
    "Channel",
    "CustomChannel",
    "Ion",
    "CalciumDecay",
    "nernst",
]

FARADAY = 96485.33212 * u.coulomb / u.mol
GAS_CONSTANT = 8.314462618 * u.joule / (u.mol * u.kelvin)

_DENSITY = u.mS / u.cm**2
_CURRENT = u.uA / u.cm**2
_CAPACITANCE = u.uF / u.cm**2
_PER_MS = u.ms**-1  # a Unit (1 / u.ms would be a Quantity)
CALCIUM = "Ca"  # the ion whose [Ca]_i calcium-gated channels read


def _exprel(x):
    """x / (exp(x) - 1), safe at 0 (the usual HH rate form)."""
    small = jnp.abs(x) < 1e-4
    safe = jnp.where(small, 1.0, x)
    return jnp.where(small, 1.0 - x / 2.0, safe / jnp.expm1(safe))


# -- validation helpers -----------------------------------------------------------------


def _quantity(value, unit, name: str, owner: str, check: str | None = None):
    """A unit-checked parameter (see :func:`param`); ``check`` is "positive" or
    "nonnegative" and applies to concrete values."""
    if value is None or (callable(value) and not isinstance(value, u.Quantity)):
        raise TypeError(
            f"{owner}: parameter {name} must be a quantity in {u.as_unit(unit).name}, "
            f"got {value!r}."
        )
    q = param(value, unit, name, owner)
    m = concrete(q.to_value(unit))
    if m is not None and check is not None:
        bad = np.any(m <= 0) if check == "positive" else np.any(m < 0)
        if bad:
            rel = "> 0" if check == "positive" else ">= 0"
            raise ValueError(f"{owner}: {name} must be {rel} {u.as_unit(unit).name}, got {q}.")
    return q


def _number(value, name: str, owner: str, check: str = "positive") -> float | int:
    if isinstance(value, u.Quantity):
        raise u.UnitMismatchError(
            f"{owner}: parameter {name} is a plain number, got a quantity in {value.unit.name}."
        )
    if isinstance(value, jax.core.Tracer) and jnp.ndim(value) == 0:
        return value  # traced (a parameter under analysis or grad): checked where concrete
    if isinstance(value, (jnp.ndarray, np.ndarray)) and jnp.ndim(value) == 0:
        value = float(value)
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{owner}: {name} must be a number, got {value!r}.")
    if (check == "positive" and not value > 0) or (check == "nonzero" and value == 0):
        rel = "> 0" if check == "positive" else "non-zero"
        raise ValueError(f"{owner}: {name} must be {rel}, got {value!r}.")
    value = float(value)
    return int(value) if value.is_integer() else value


def _name(value, what: str) -> str:
    if not isinstance(value, str) or not value or "." in value:
        raise ValueError(f"{what} must be a non-empty string without '.', got {value!r}.")
    return value


def _plain(x, unit, what: str):
    """A plain array from a plain array or a quantity (converted to ``unit``)."""
    if isinstance(x, u.Quantity):
        if x.unit.dim is not u.as_unit(unit).dim:
            raise u.UnitMismatchError(
                f"{what} must be in {u.as_unit(unit).name}, got a quantity in {x.unit.name}."
            )
        return x.to_value(unit)
    return x


def _voltage(V, owner: str):
    if not isinstance(V, u.Quantity) or V.unit.dim is not u.mV.dim:
        got = V.unit.name if isinstance(V, u.Quantity) else f"the plain value {V!r}"
        raise u.UnitMismatchError(
            f"{owner}: the membrane potential V must be a voltage such as -65 * u.mV, got {got}."
        )
    return V.to_value(u.mV)


# -- gates ------------------------------------------------------------------------------


class AbstractGate(abc.ABC):
    """A gating variable ``x`` raised to ``power`` in a channel's conductance.

    Its functions take the plain array of the variable it depends on (``variable``:
    ``"V"``, the membrane potential in mV, or ``"Ca"``, ``[Ca]_i`` in mM). An
    ``instantaneous`` gate is always at its steady state and is not a state variable.
    """

    power: float | int
    instantaneous: bool
    variable: str

    def _setup(self, power, instantaneous, variable):
        owner = type(self).__name__
        self.power = _number(power, "power", owner)
        if not isinstance(instantaneous, bool):
            raise TypeError(f"{owner}: instantaneous must be True or False, got {instantaneous!r}.")
        if variable not in ("V", CALCIUM):
            raise ValueError(f"{owner}: variable must be 'V' or 'Ca', got {variable!r}.")
        self.instantaneous, self.variable = instantaneous, variable

    @abc.abstractmethod
    def steady_state(self, x):
        """The steady-state value ``x_inf`` (plain array)."""

    @abc.abstractmethod
    def time_constant(self, x):
        """The time constant ``tau_x`` in ms (plain array), before rate factors."""

    @abc.abstractmethod
    def derivative(self, x, value, factor=1.0):
        """``d value / dt`` in 1/ms (plain array), rates multiplied by ``factor``."""


class AlphaBetaGate(AbstractGate):
    """A gate with opening and closing rates: ``dx/dt = factor (alpha (1 - x) - beta x)``.

    Args:
        alpha: opening rate in 1/ms, a function of the plain array ``v`` (mV).
        beta: closing rate in 1/ms, a function of ``v``.
        power: the exponent of the gate in the conductance (3 for HH's ``m``).
        instantaneous: keep the gate at ``alpha / (alpha + beta)`` (no state variable).
        variable: ``"V"`` (default) or ``"Ca"`` (the functions then take ``[Ca]_i`` in mM).

    Example:
        >>> import jax.numpy as jnp
        >>> n = AlphaBetaGate(lambda v: 0.01 * (v + 55) / (1 - jnp.exp(-(v + 55) / 10)),
        ...                   lambda v: 0.125 * jnp.exp(-(v + 65) / 80), power=4)
        >>> round(float(n.steady_state(-65.0)), 4)
        0.3177
    """

    def __init__(
        self,
        alpha: Callable,
        beta: Callable,
        *,
        power: float = 1,
        instantaneous: bool = False,
        variable: str = "V",
    ):
        if not (callable(alpha) and callable(beta)):
            raise TypeError("AlphaBetaGate: alpha and beta must be functions of v (mV).")
        self.alpha, self.beta = alpha, beta
        self._setup(power, instantaneous, variable)

    def rates(self, x):
        """``(alpha(x), beta(x))`` in 1/ms."""
        return _plain(self.alpha(x), _PER_MS, "alpha"), _plain(self.beta(x), _PER_MS, "beta")

    def steady_state(self, x):
        a, b = self.rates(x)
        return a / (a + b)

    def time_constant(self, x):
        a, b = self.rates(x)
        return 1.0 / (a + b)

    def derivative(self, x, value, factor=1.0):
        a, b = self.rates(x)
        return factor * (a * (1 - value) - b * value)


class InfTauGate(AbstractGate):
    """A gate relaxing to a steady state: ``dx/dt = factor (x_inf - x) / tau_x``.

    Args:
        x_inf: steady state, a function of the plain array ``v`` (mV) or ``[Ca]_i`` (mM).
        tau: time constant in ms, a function of the same variable.
        power: the exponent of the gate in the conductance.
        instantaneous: keep the gate at ``x_inf`` (no state variable; ``tau`` may be None).
        variable: ``"V"`` (default) or ``"Ca"``.

    Example:
        >>> import jax.numpy as jnp
        >>> w = InfTauGate(lambda v: 0.5 * (1 + jnp.tanh((v - 2) / 30)),
        ...                lambda v: 1 / jnp.cosh((v - 2) / 60))
        >>> round(float(w.steady_state(2.0)), 3)
        0.5
    """

    def __init__(
        self,
        x_inf: Callable,
        tau: Callable | None = None,
        *,
        power: float = 1,
        instantaneous: bool = False,
        variable: str = "V",
    ):
        if not callable(x_inf) or not (callable(tau) or (tau is None and instantaneous)):
            raise TypeError(
                "InfTauGate: x_inf and tau must be functions of v (mV); tau may be None only "
                "for an instantaneous gate."
            )
        self.x_inf, self.tau = x_inf, tau
        self._setup(power, instantaneous, variable)

    def steady_state(self, x):
        return _plain(self.x_inf(x), u.dimensionless, "x_inf")

    def time_constant(self, x):
        return _plain(self.tau(x), u.ms, "tau")

    def derivative(self, x, value, factor=1.0):
        return factor * (self.steady_state(x) - value) / self.time_constant(x)


# -- channels ---------------------------------------------------------------------------


class Channel(abc.ABC):
    """An ionic channel: ``I = g_max * prod_k x_k**p_k * (V - E)`` (µA/cm², outward +).

    Subclasses set their parameters and call ``super().__init__``, which calls
    :meth:`make_gates`. Gate rates are multiplied by the rate factor
    ``phi * q10 ** ((T - T_ref) / 10 K)`` at the membrane temperature ``T`` (``phi``
    alone when the membrane has no temperature or ``T_ref`` is None).

    Args:
        name: the channel's name; variables are called ``"<name>.<gate>"``.
        ion: the ion it carries (``"Na"``, ``"K"``, ``"Ca"``, ...), None for leak and
            nonspecific currents. A membrane :class:`Ion` of that name sets ``E``.
        g_max: maximal conductance density (mS/cm², >= 0).
        E: reversal potential; None takes the reversal of the membrane's :class:`Ion` of
            this channel's ion when it has one, else the class's ``default_E`` (the
            published value; without one, the membrane must have the ion).
        q10: temperature coefficient of the rates (1: no temperature dependence).
        T_ref: the temperature the rates were measured at (needed when q10 != 1).
        phi: a constant rate factor (Wang-Buzsáki's and Morris-Lecar's phi).
    """

    default_E: u.Quantity | None = None

    def __init__(
        self,
        name: str,
        *,
        ion: str | None,
        g_max,
        E=None,
        q10: float = 1.0,
        T_ref=None,
        phi: float = 1.0,
    ):
        self.name = _name(name, f"{type(self).__name__}: name")
        owner = f"{type(self).__name__} {name!r}"
        self.ion = None if ion is None else _name(ion, f"{owner}: ion")
        self.g_max = _quantity(g_max, _DENSITY, "g_max", owner, "nonnegative")
        self.E_given = E is not None
        if E is None and self.default_E is None and self.ion is None:
            raise ValueError(f"{owner}: give the reversal potential E, e.g. E=-70 * u.mV.")
        E = self.default_E if E is None else E
        self.E = None if E is None else _quantity(E, u.mV, "E", owner)
        self.q10 = _number(q10, "q10", owner)
        self.phi = _number(phi, "phi", owner)
        self.T_ref = (
            None if T_ref is None else _quantity(T_ref, u.kelvin, "T_ref", owner, "positive")
        )
        if self.q10 != 1 and self.T_ref is None:
            raise ValueError(
                f"{owner}: q10={q10} needs T_ref, the temperature the rates were measured at "
                "(e.g. T_ref=6.3 * u.celsius)."
            )
        gates = self.make_gates()
        if not isinstance(gates, Mapping):
            raise TypeError(f"{owner}: make_gates must return a dict of gates.")
        for g, gate in gates.items():
            _name(g, f"{owner}: gate name")
            if not isinstance(gate, AbstractGate):
                raise TypeError(f"{owner}: gate {g!r} must be a gate object, got {gate!r}.")
        self.gates: dict[str, AbstractGate] = dict(gates)

    @abc.abstractmethod
    def make_gates(self) -> dict[str, AbstractGate]:
        """The channel's gates by name, in the order of the conductance product."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, g_max={self.g_max}, ion={self.ion!r})"

    @property
    def reads_calcium(self) -> bool:
        """Whether a gate depends on ``[Ca]_i``."""
        return any(g.variable == CALCIUM for g in self.gates.values())

    def variables(self) -> tuple[str, ...]:
        """Names of the gates that are state variables (not instantaneous)."""
        return tuple(g for g, gate in self.gates.items() if not gate.instantaneous)

    def rate_factor(self, temperature=None):
        """``phi * q10 ** ((T - T_ref) / 10 K)``; ``phi`` without a temperature."""
        if temperature is None or self.T_ref is None or self.q10 == 1:
            return self.phi
        dT = (temperature.to(u.kelvin) - self.T_ref) / (10.0 * u.kelvin)
        return self.phi * self.q10**dT

    def _input(self, gate, v, Ca):
        if gate.variable == "V":
            return v
        if Ca is None:
            raise ValueError(
                f"{type(self).__name__} {self.name!r} reads [Ca]_i: pass Ca= (a concentration)."
            )
        return _plain(Ca, u.mM, f"{self.name}: Ca")

    def gate_values(self, V, y, Ca=None) -> dict:
        """All gate values: from ``y`` for state variables, steady states for instantaneous
        gates."""
        v = _voltage(V, self.name)
        out = {}
        for g, gate in self.gates.items():
            if gate.instantaneous:
                out[g] = gate.steady_state(self._input(gate, v, Ca))
            else:
                out[g] = _plain(y[g], u.dimensionless, f"{self.name}.{g}")
        return out

    def conductance(self, V, y, Ca=None) -> u.Quantity:
        """The conductance density ``g_max * prod x**p`` (mS/cm²)."""
        g = self.g_max
        for name, x in self.gate_values(V, y, Ca).items():
            g = g * x ** self.gates[name].power
        return g

    def current(self, V, y, E=None, Ca=None) -> u.Quantity:
        """Current density (µA/cm², outward positive) at reversal ``E`` (default
        ``self.E``)."""
        E = self.E if E is None else E
        if E is None:
            raise ValueError(
                f"{type(self).__name__} {self.name!r} has no reversal potential: pass E=."
            )
        return (self.conductance(V, y, Ca) * (V - E)).to(_CURRENT)

    def derivatives(self, V, y, Ca=None, temperature=None) -> dict:
        """``d x / dt`` (1/ms) for every state gate."""
        v = _voltage(V, self.name)
        factor = self.rate_factor(temperature)
        out = {}
        for g in self.variables():
            gate = self.gates[g]
            x = _plain(y[g], u.dimensionless, f"{self.name}.{g}")
            out[g] = u.Quantity(gate.derivative(self._input(gate, v, Ca), x, factor), _PER_MS)
        return out

    def steady_state(self, V, Ca=None) -> dict:
        """Steady-state values of the state gates, broadcast to ``V``'s shape."""
        v = jnp.asarray(_voltage(V, self.name))
        out = {}
        for g in self.variables():
            gate = self.gates[g]
            val = jnp.asarray(gate.steady_state(self._input(gate, v, Ca)))
            out[g] = jnp.broadcast_to(val, jnp.broadcast_shapes(v.shape, val.shape))
        return out


class CustomChannel(Channel):
    """A channel from given gates, for currents outside the library.

    Example:
        >>> import jax.numpy as jnp
        >>> import neurodyn.units as u
        >>> kdr = CustomChannel("IKdr", ion="K", g_max=10 * u.mS / u.cm**2, E=-90 * u.mV,
        ...     gates={"n": InfTauGate(lambda v: 1 / (1 + jnp.exp(-(v + 30) / 10)),
        ...                            lambda v: 5.0 + 0 * v, power=4)})
        >>> kdr.variables()
        ('n',)
    """

    def __init__(self, name: str, *, gates: Mapping[str, AbstractGate], **kwargs: Any):
        self._given_gates = gates
        super().__init__(name, **kwargs)

    def make_gates(self):
        return self._given_gates


# -- ions -------------------------------------------------------------------------------


def nernst(z: int, C_in, C_out, temperature) -> u.Quantity:
    """The Nernst potential ``R T / (z F) ln(C_out / C_in)`` in mV.

    Example:
        >>> import neurodyn.units as u
        >>> E = nernst(1, 140 * u.mM, 5 * u.mM, 37 * u.celsius)
        >>> round(float(E.to_value(u.mV)), 1)
        -89.1
    """
    rt_zf = (GAS_CONSTANT * temperature.to(u.kelvin) / (z * FARADAY)).to(u.mV)
    return rt_zf * jnp.log(C_out / C_in)


class CalciumDecay:
    """First-order concentration dynamics in a submembrane shell (Destexhe et al. 1994,
    ``cadecay``; Traub et al. 1991): ``dC/dt = -k I / (z F d) - (C - C_rest) / tau``,
    with ``I`` the ion's current density (inward negative), ``d`` the shell depth and
    ``C_rest`` the ion's ``C_in``. Named for its usual ion; works for any valence.

    Args:
        tau: decay time constant (> 0; default 5 ms, Destexhe et al. 1994).
        depth: shell depth ``d`` (> 0; default 0.1 µm, Destexhe et al. 1994).
        k: dimensionless fraction of the current that enters the shell (default 1).
        influx_only: drop the current term when it would remove ions (as Destexhe's
            ``cadecay`` does); default False (the plain equation above).
    """

    def __init__(self, tau=5.0 * u.ms, depth=0.1 * u.um, k: float = 1.0, influx_only=False):
        self.tau = _quantity(tau, u.ms, "tau", "CalciumDecay", "positive")
        self.depth = _quantity(depth, u.um, "depth", "CalciumDecay", "positive")
        self.k = _number(k, "k", "CalciumDecay")
        if not isinstance(influx_only, bool):
            raise TypeError(
                f"CalciumDecay: influx_only must be True or False, got {influx_only!r}."
            )
        self.influx_only = influx_only

    def derivative(self, C, I, z: int, C_rest) -> u.Quantity:
        """``dC/dt`` (mM/ms) at concentration ``C`` under current density ``I``."""
        drive = (-self.k * I / (z * FARADAY * self.depth)).to(u.mM / u.ms)
        if self.influx_only:
            drive = u.math.maximum(drive, 0.0 * u.mM / u.ms)
        return drive - ((C - C_rest) / self.tau).to(u.mM / u.ms)

    def steady_state(self, I, z: int, C_rest) -> u.Quantity:
        """The concentration reached under a constant current density ``I``."""
        return C_rest + (self.derivative(C_rest, I, z, C_rest) * self.tau).to(u.mM)


class Ion:
    """An ion species: its reversal potential and, optionally, concentration dynamics.

    Either a fixed reversal (``E=``) or the Nernst potential from ``z``, ``C_in``,
    ``C_out`` and the temperature (the ion's, else the membrane's). With ``decay`` the
    inner concentration is a state variable ``"<name>.c"`` starting at ``C_in`` (its
    resting value) and the Nernst reversal follows it. Calcium-gated channels read the
    concentration of the ion named ``"Ca"``.

    Args:
        name: the name channels refer to by ``ion=`` (``"Na"``, ``"K"``, ``"Ca"``...).
        E: fixed reversal potential (mV).
        z: valence (non-zero integer).
        C_in: inner (resting) concentration (> 0, mM).
        C_out: outer concentration (> 0, mM).
        temperature: for the Nernst potential (default: the membrane's).
        decay: a :class:`CalciumDecay` (needs ``z`` and ``C_in``).

    Example:
        >>> import neurodyn.units as u
        >>> K = Ion("K", z=1, C_in=140 * u.mM, C_out=5 * u.mM, temperature=37 * u.celsius)
        >>> round(float(K.reversal().to_value(u.mV)), 1)
        -89.1
    """

    def __init__(
        self,
        name: str,
        *,
        E=None,
        z: int | None = None,
        C_in=None,
        C_out=None,
        temperature=None,
        decay: CalciumDecay | None = None,
    ):
        self.name = _name(name, "Ion: name")
        owner = f"Ion {name!r}"
        self.E = None if E is None else _quantity(E, u.mV, "E", owner)
        if z is not None:
            if isinstance(z, bool) or not isinstance(z, (int, np.integer)) or z == 0:
                raise ValueError(f"{owner}: z must be a non-zero integer valence, got {z!r}.")
            z = int(z)
        self.z = z
        self.C_in = None if C_in is None else _quantity(C_in, u.mM, "C_in", owner, "positive")
        self.C_out = None if C_out is None else _quantity(C_out, u.mM, "C_out", owner, "positive")
        self.temperature = (
            None
            if temperature is None
            else _quantity(temperature, u.kelvin, "temperature", owner, "positive")
        )
        nernst_given = [x is not None for x in (z, C_out)]
        if E is not None and C_out is not None:
            raise ValueError(
                f"{owner}: give either a fixed E or the Nernst parameters (z, C_in, C_out), "
                "not both."
            )
        if E is None and not (all(nernst_given) and C_in is not None):
            raise ValueError(
                f"{owner}: needs a fixed reversal E=... or z, C_in and C_out for the Nernst "
                "potential."
            )
        if decay is not None:
            if not isinstance(decay, CalciumDecay):
                raise TypeError(f"{owner}: decay must be a CalciumDecay, got {decay!r}.")
            if z is None or C_in is None:
                raise ValueError(
                    f"{owner}: concentration dynamics (decay=) need the valence z and the "
                    "resting concentration C_in."
                )
        self.decay = decay

    @property
    def uses_nernst(self) -> bool:
        """Whether the reversal potential comes from the Nernst equation (no fixed
        ``E``)."""
        return self.E is None

    def variables(self) -> dict:
        """The ion's state variables ``{name: unit}``: ``{"c": mM}`` (the inner
        concentration) with concentration dynamics (``decay``), else none."""
        return {} if self.decay is None else {"c": u.mM}

    def reversal(self, C_in=None, temperature=None) -> u.Quantity:
        """The reversal potential (mV) at inner concentration ``C_in`` (default the
        resting one) and ``temperature`` (default the ion's)."""
        if self.E is not None:
            return self.E
        T = self.temperature if temperature is None else temperature
        if T is None:
            raise ValueError(f"Ion {self.name!r}: the Nernst potential needs a temperature.")
        C_in = self.C_in if C_in is None else C_in
        return nernst(self.z, C_in, self.C_out, T)

    def __repr__(self) -> str:
        kind = f"E={self.E}" if self.E is not None else f"Nernst z={self.z}"
        return f"Ion({self.name!r}, {kind}, dynamic={self.decay is not None})"
