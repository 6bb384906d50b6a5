"""The membrane: the pure vector field of a patch of membrane assembled from channels
(:mod:`neurodyn.dyn._channels`), ions and a capacitance. No States, no clock, no size:
``V`` and the variables may have any shape (a batch axis, a compartment axis), so the
same membrane serves point neurons and, per compartment, multi-compartment cells."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np

import neurodyn.units as u

from ._channels import (
    _CAPACITANCE,
    _CURRENT,
    CALCIUM,
    Channel,
    Ion,
    _quantity,
    _voltage,
)

__all__ = ["Membrane"]


class Membrane:
    """The pure vector field of a patch of membrane: channels, ions, capacitance.

    Variables other than ``V`` are namespaced: ``"<channel>.<gate>"`` (plain arrays) and
    ``"<ion>.c"`` (inner concentration, Quantity in mM). ``V`` and the variables may have
    any (common, broadcastable) shape.

    Args:
        channels: the :class:`Channel` objects (unique names).
        ions: :class:`Ion` objects (unique names, each carried by a channel or read by a
            calcium-gated one). A channel whose ion is not listed uses its own ``E``.
        C: membrane capacitance density (> 0, µF/cm²).
        temperature: for Q10 scaling and Nernst potentials (e.g. ``36 * u.celsius``);
            None runs each channel at its reference temperature.

    Example:
        >>> import neurodyn.units as u
        >>> from neurodyn.dyn._channel_library import MorrisLecarCalcium, Leak
        >>> mem = Membrane([MorrisLecarCalcium(), Leak(g_max=2 * u.mS / u.cm**2,
        ...                                            E=-60 * u.mV)], C=20 * u.uF / u.cm**2)
        >>> mem.variables()
        {}
    """

    def __init__(
        self,
        channels: Sequence[Channel],
        ions: Sequence[Ion] | None = None,
        C=1.0 * _CAPACITANCE,
        temperature=None,
    ):
        channels = tuple(channels) if isinstance(channels, (list, tuple)) else None
        if not channels or not all(isinstance(c, Channel) for c in channels):
            raise TypeError("Membrane: channels must be a non-empty list of Channel objects.")
        names = [c.name for c in channels]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(
                f"Membrane: duplicate channel names {dup}; give each channel a unique name=."
            )
        ions = tuple(ions or ())
        if not all(isinstance(i, Ion) for i in ions):
            raise TypeError("Membrane: ions must be a list of Ion objects.")
        ion_names = [i.name for i in ions]
        dup = sorted({n for n in ion_names if ion_names.count(n) > 1})
        if dup:
            raise ValueError(f"Membrane: duplicate ion names {dup}.")
        self.channels = channels
        self.ions = {i.name: i for i in ions}
        self.C = _quantity(C, _CAPACITANCE, "C", "Membrane", "positive")
        self.temperature = (
            None
            if temperature is None
            else _quantity(temperature, u.kelvin, "temperature", "Membrane", "positive")
        )
        carried = {c.ion for c in channels if c.ion is not None}
        reads_ca = [c.name for c in channels if c.reads_calcium]
        for name, ion in self.ions.items():
            if name not in carried and not (name == CALCIUM and reads_ca):
                raise ValueError(
                    f"Membrane: ion {name!r} is carried by no channel (channels carry "
                    f"{sorted(carried) or 'no ion'}); remove it or set a channel's ion={name!r}."
                )
            if ion.uses_nernst and ion.temperature is None and self.temperature is None:
                raise ValueError(
                    f"Membrane: ion {name!r} uses the Nernst potential and needs a temperature: "
                    "pass temperature= to the Ion or to the Membrane."
                )
        for c in channels:
            if c.E is None and c.ion not in self.ions:
                raise ValueError(
                    f"Membrane: channel {c.name!r} has no reversal potential; give it E= or add "
                    f"ions=[Ion({c.ion!r}, ...)]."
                )
            if c.ion in self.ions and c.E_given:
                raise ValueError(
                    f"Membrane: channel {c.name!r} sets E={c.E} but the membrane has the ion "
                    f"{c.ion!r}, which sets the reversal; give it in one place."
                )
        ca = self.ions.get(CALCIUM)
        if reads_ca and (ca is None or ca.C_in is None):
            raise ValueError(
                f"Membrane: channel {reads_ca[0]!r} reads [Ca]_i, but the membrane has no ion "
                "'Ca' with a concentration; add e.g. ions=[Ion('Ca', E=120 * u.mV, z=2, "
                "C_in=2.4e-4 * u.mM, decay=CalciumDecay())]."
            )

    def __repr__(self) -> str:
        return f"Membrane(channels={[c.name for c in self.channels]}, ions={list(self.ions)})"

    # -- variables ----------------------------------------------------------------------

    def variables(self) -> dict[str, u.Unit]:
        """The state variables other than ``V`` and their units."""
        out: dict[str, u.Unit] = {}
        for c in self.channels:
            out.update({f"{c.name}.{g}": u.dimensionless for g in c.variables()})
        for name, ion in self.ions.items():
            out.update({f"{name}.{k}": unit for k, unit in ion.variables().items()})
        return out

    def _check_y(self, y, where: str):
        if not isinstance(y, Mapping):
            raise TypeError(f"Membrane.{where}: y must be a dict of the variables, got {y!r}.")
        missing = [k for k in self.variables() if k not in y]
        if missing:
            raise KeyError(
                f"Membrane.{where}: y lacks {missing}; it needs the keys of variables(): "
                f"{list(self.variables())}."
            )

    def _concentrations(self, y) -> dict:
        out = {}
        for name, ion in self.ions.items():
            if ion.decay is not None:
                out[name] = y[f"{name}.c"]
            elif ion.C_in is not None:
                out[name] = ion.C_in
        return out

    def _reversals(self, conc) -> dict:
        return {
            name: ion.reversal(
                conc.get(name), self.temperature if ion.temperature is None else ion.temperature
            )
            for name, ion in self.ions.items()
        }

    def _currents(self, V, y, conc, E) -> dict:
        Ca = conc.get(CALCIUM)
        out = {}
        for c in self.channels:
            sub = {g: y[f"{c.name}.{g}"] for g in c.variables()}
            out[c.name] = c.current(V, sub, E.get(c.ion), Ca)
        return out

    # -- the vector field ---------------------------------------------------------------

    def steady_state(self, V) -> dict:
        """Initial values at membrane potential ``V``: gates at their steady states,
        concentrations at rest (``C_in``); broadcast to ``V``'s shape."""
        v = jnp.asarray(_voltage(V, "Membrane.steady_state"))
        Ca = None if CALCIUM not in self.ions else self.ions[CALCIUM].C_in
        out = {}
        for c in self.channels:
            for g, val in c.steady_state(V, Ca).items():
                out[f"{c.name}.{g}"] = val
        for name, ion in self.ions.items():
            if ion.decay is not None:
                c0 = ion.C_in.to_value(u.mM)
                out[f"{name}.c"] = jnp.full(v.shape, c0, dtype=jnp.result_type(v, float)) * u.mM
        return out

    def channel_currents(self, V, y) -> dict:
        """Each channel's current density (µA/cm², outward positive) by channel name."""
        self._check_y(y, "channel_currents")
        conc = self._concentrations(y)
        return self._currents(V, y, conc, self._reversals(conc))

    def current_density(self, V, y) -> u.Quantity:
        """The total ionic current density (µA/cm², outward positive)."""
        currents = self.channel_currents(V, y)
        total = None
        for i in currents.values():
            total = i if total is None else total + i
        return total

    def derivatives(self, V, y) -> dict:
        """``d/dt`` of every variable in :meth:`variables` (units of variable / ms)."""
        self._check_y(y, "derivatives")
        conc = self._concentrations(y)
        Ca = conc.get(CALCIUM)
        out = {}
        for c in self.channels:
            sub = {g: y[f"{c.name}.{g}"] for g in c.variables()}
            for g, d in c.derivatives(V, sub, Ca, self.temperature).items():
                out[f"{c.name}.{g}"] = d
        dynamic = [n for n, ion in self.ions.items() if ion.decay is not None]
        if dynamic:
            E = self._reversals(conc)
            currents = self._currents(V, y, conc, E)
            for name in dynamic:
                ion = self.ions[name]
                I = 0.0 * _CURRENT
                for c in self.channels:
                    if c.ion == name:
                        I = I + currents[c.name]
                out[f"{name}.c"] = ion.decay.derivative(conc[name], I, ion.z, ion.C_in)
        return out

    def voltage_derivative(self, V, y, I=None) -> u.Quantity:
        """``dV/dt = (I - I_ion) / C`` (mV/ms) for an applied current density ``I``."""
        i_ion = self.current_density(V, y)
        drive = -i_ion if I is None else I - i_ion
        return (drive / self.C).to(u.mV / u.ms)

    def rest_potential(self, V0=-65.0 * u.mV, tol=1e-6 * u.mV, max_iter: int = 100):
        """The resting potential: the root of the steady-state current
        ``current_density(V, steady_state(V))`` nearest ``V0`` (damped Newton steps of at
        most 5 mV; concentrations at rest). Raises if it does not converge."""
        v0 = float(_quantity(V0, u.mV, "V0", "Membrane.rest_potential").to_value(u.mV))
        tol = float(
            _quantity(tol, u.mV, "tol", "Membrane.rest_potential", "positive").to_value(u.mV)
        )

        def f(v):
            V = v * u.mV
            return self.current_density(V, self.steady_state(V)).to_value(_CURRENT)

        fdf = jax.jit(jax.value_and_grad(f))
        # float32 cannot resolve 1e-6 mV near -65 mV: stop at a few ulps
        tol = max(tol, 100 * float(np.finfo(jnp.result_type(float)).eps) * max(abs(v0), 1.0))
        v, step = v0, np.inf
        for _ in range(max_iter):
            i, di = (float(x) for x in fdf(jnp.asarray(v, dtype=float)))
            step = i / di if di != 0 else float(np.sign(i)) * 5.0
            step = float(np.clip(step, -5.0, 5.0))
            v -= step
            if abs(step) < tol:
                return v * u.mV
        raise RuntimeError(
            f"Membrane.rest_potential: no convergence from V0={v0} mV after {max_iter} steps "
            f"(last step {step:.3g} mV); try another V0 (the membrane may oscillate or be "
            "bistable)."
        )
