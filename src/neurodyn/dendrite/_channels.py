"""``neurodyn.dyn``'s channels and ions painted on compartments.

:class:`Channels` wraps a set of :class:`neurodyn.dyn.Channel` objects and
:class:`neurodyn.dyn.Ion` objects (reversal potentials, Nernst, calcium dynamics) as one
density mechanism: the pure vector field of a :class:`neurodyn.dyn.Membrane` evaluated
per compartment at the cell's temperature. The membrane current and its derivative in V
(with the gates held, as NEURON's ``di/dv``) enter the implicit voltage step; after it,
every state (gates and concentrations) advances by exponential Euler at the new V
(``x += (exp(a dt) - 1) / a * f(x)`` with ``a = df/dx``: exact for the gates, NEURON's
``cnexp``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

import neurodyn.units as u
from neurodyn.dyn import Channel, Ion, Membrane

from ._mechanisms import Mechanism

__all__ = ["Channels"]

_UA_CM2 = u.uA / u.cm**2


def _key(name: str) -> str:
    """A state name usable as an attribute (``"INa.m"`` -> ``"INa__m"``)."""
    return name.replace(".", "__")


class Channels(Mechanism):
    """Channels and ions of ``neurodyn.dyn`` as a painted mechanism.

    Args:
        channels: :class:`neurodyn.dyn.Channel` objects (``HHSodium``, ``HVACalcium``,
            ``SKPotassium``, ``HCurrent``, ``MCurrent``, ``ATypePotassium``, ...; unique
            names).
        ions: :class:`neurodyn.dyn.Ion` objects: a channel whose ion is listed takes its
            reversal from it (Nernst with a concentration that may evolve:
            ``decay=CalciumDecay()``); calcium-gated channels read ``[Ca]_i`` of the ion
            ``"Ca"``. A channel without ``E`` whose ion is missing, or reading calcium
            without a ``"Ca"`` ion, is refused, naming both.

    Example:
        >>> import neurodyn as nd
        >>> import neurodyn.units as u
        >>> from neurodyn import dendrite as D
        >>> cell = D.Cell(D.Morphology.cylinder(20 * u.um, 20 * u.um))
        >>> cell.paint("all", D.Channels([nd.dyn.HHSodium(), nd.dyn.HHPotassium(),
        ...                               nd.dyn.Leak(E=-54.3 * u.mV)]))
        >>> sorted(cell.mechanisms[0].mech.states)
        ['IK__n', 'INa__h', 'INa__m']
    """

    name = "channels"
    parameters: dict = {}

    def __init__(self, channels, ions=()):
        if isinstance(channels, Channel):
            channels = [channels]
        channels = list(channels)
        if not channels or not all(isinstance(c, Channel) for c in channels):
            raise TypeError(
                "Channels: channels must be neurodyn.dyn Channel objects (nd.dyn.HHSodium(), "
                f"...); got {channels!r}."
            )
        ions = [ions] if isinstance(ions, Ion) else list(ions or ())
        self.channels, self.ions = channels, ions
        try:
            mem = Membrane(channels, ions, temperature=300.0 * u.kelvin)  # checks only
        except ValueError as err:
            raise ValueError(str(err).replace("Membrane:", "Channels:", 1)) from None
        self._vars = list(mem.variables())  # "INa.m", "Ca.c", ...
        self._units = mem.variables()
        self.states = tuple(_key(k) for k in self._vars)
        self.name = "channels[" + ",".join(c.name for c in channels) + "]"
        self.current_names = tuple(c.name for c in channels)
        self._mems: dict = {}

    def membrane(self, temperature_c: float) -> Membrane:
        """The :class:`~neurodyn.dyn.Membrane` of these channels at a temperature (degrees C)."""
        key = float(temperature_c)
        if key not in self._mems:
            self._mems[key] = Membrane(self.channels, self.ions, temperature=key * u.celsius)
        return self._mems[key]

    def bind_temperature(self, temperature_c: float) -> None:
        """Set the temperature (degrees C) at which :meth:`current` and
        :meth:`currents` evaluate the channels (done when the cell is built)."""
        self._T = float(temperature_c)

    def _y(self, s: dict) -> dict:
        out = {}
        for k in self._vars:
            val = s[_key(k)]
            unit = self._units[k]
            out[k] = val if unit is u.dimensionless else u.Quantity(val, unit)
        return out

    def steady_state(self, v, p, temperature_c):
        """The channels' states at rest at ``v`` (mV) and ``temperature_c`` (degrees C),
        as plain values in their units (also binds the temperature)."""
        self.bind_temperature(temperature_c)
        y = self.membrane(temperature_c).steady_state(u.Quantity(v, u.mV))
        return {
            _key(k): (val.to_value(self._units[k]) if isinstance(val, u.Quantity) else val)
            for k, val in y.items()
        }

    def _temperature(self):
        if not hasattr(self, "_T"):
            raise RuntimeError("Channels: paint the mechanism on a cell before using it.")
        return self._T

    def currents(self, v, s, p):
        mem = self.membrane(self._temperature())
        out = mem.channel_currents(u.Quantity(v, u.mV), self._y(s))
        return {k: i.to_value(_UA_CM2) * 1e-3 for k, i in out.items()}  # mA/cm2

    def current(self, v, s, p):
        mem = self.membrane(self._temperature())
        y = self._y(s)

        def total(vv):
            return mem.current_density(u.Quantity(vv, u.mV), y).to_value(_UA_CM2) * 1e-3

        i, di = jax.jvp(total, (v,), (jnp.ones_like(v),))
        return i, di

    def advance(self, v, s, p, dt, temperature_c):
        """The states one step of ``dt`` (ms) later at fixed ``v`` (mV), each advanced by
        exponential Euler on its own linearised derivative."""
        mem = self.membrane(temperature_c)
        V = u.Quantity(v, u.mV)

        def field(k, x):
            y = self._y({**s, _key(k): x})
            d = mem.derivatives(V, y)[k]
            return d.to_value(self._units[k] / u.ms)

        new = {}
        for k in self._vars:
            x = s[_key(k)]
            f, a = jax.jvp(lambda xx, k=k: field(k, xx), (x,), (jnp.ones_like(x),))
            ad = a * dt
            small = jnp.abs(ad) < 1e-6
            phi = jnp.where(small, dt * (1 + 0.5 * ad), jnp.expm1(ad) / jnp.where(small, 1.0, a))
            new[_key(k)] = x + phi * f
        return new

    def __repr__(self) -> str:
        return f"Channels({[c.name for c in self.channels]}, ions={[i.name for i in self.ions]})"
