"""Conductance-based neurons assembled from channels: :class:`ConductanceNeuron` is a
population whose vector field is a :class:`~neurodyn.dyn.Membrane` (channels, ions,
capacitance) times a membrane ``area``, so synaptic currents (pA, from projections) and
densities combine with the right units. Spikes are upward crossings of ``V_th``. All
variables are advanced together by exponential Euler (exact for the gating variables at
fixed V) unless ``method=`` names another fixed-step method (``"rk4"``, ...).

HH, HHTraub, WangBuzsaki and MorrisLecar are short presets with the published values.
"""

from __future__ import annotations

import weakref
from typing import ClassVar

import jax
import jax.numpy as jnp

import neurodyn.units as u

from ._channel_library import (
    HHPotassium,
    HHSodium,
    Leak,
    MorrisLecarCalcium,
    MorrisLecarPotassium,
    TraubPotassium,
    TraubSodium,
    WangBuzsakiPotassium,
    WangBuzsakiSodium,
)
from ._init import initialize
from ._membrane import Membrane
from ._model import Model, Parameter

__all__ = ["ConductanceNeuron", "HH", "HHTraub", "WangBuzsaki", "MorrisLecar"]

_G = u.mS / u.cm**2
_STEADY: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class ConductanceNeuron(Model):
    """A population of single-compartment neurons with the membrane ``membrane``::

        C area dV/dt = -area * sum(channel currents) + I ;  gates, concentrations: membrane

    Args:
        size: number (or shape) of neurons.
        membrane: a :class:`~neurodyn.dyn.Membrane` (channels, ions, capacitance C).
        area: membrane area (µm²).
        V_th: spikes are upward crossings of ``V_th``.
        V_initializer: initial V (value or initialiser); gates and concentrations start
            at their steady state for it (or ``<name>_initializer=``).
        names: short State names for membrane variables, e.g. ``{"m": "INa.m"}``; the
            others are named with ``.`` replaced by ``_`` (``"ICa_m"``).

    Example:
        >>> import neurodyn as nd
        >>> import neurodyn.units as u
        >>> from neurodyn.dyn import ConductanceNeuron, Membrane, HHSodium, HHPotassium, Leak
        >>> cell = ConductanceNeuron(2, Membrane([HHSodium(), HHPotassium(), Leak()]))
        >>> sorted(cell.variables)
        ['IK_n', 'INa_h', 'INa_m', 'V']
    """

    crossing = True
    area = Parameter(u.um**2, 20000.0 * u.um**2, "positive", doc="membrane area")
    V_th = Parameter(u.mV, 20.0 * u.mV, "finite", doc="spike detection threshold")
    names: ClassVar[dict[str, str]] = {}
    variables = {"V": (u.mV, -65.0 * u.mV)}  # completed per population from the membrane

    def __init__(self, size, membrane: Membrane | None = None, *, V_initializer=None, **kwargs):
        if membrane is not None:
            self.membrane = membrane
        self._V_init = V_initializer
        super().__init__(size, **kwargs)

    def setup(self) -> None:
        if not isinstance(getattr(self, "membrane", None), Membrane):
            raise TypeError(f"{self.name}: membrane must be a Membrane of channels.")
        mem_vars = self.membrane.variables()
        short = {v: k for k, v in self.names.items()}
        self._state_of = {name: short.get(name, name.replace(".", "_")) for name in mem_vars}
        V0 = self._V_init if self._V_init is not None else self.variables["V"][1]
        self.variables = {"V": (u.mV, V0)}
        self.variables.update({self._state_of[k]: (unit, None) for k, unit in mem_vars.items()})

    def initial_values(self, shape) -> dict:
        V = initialize(self.variables["V"][1], shape, u.mV, f"{self.name}.V")
        steady = _STEADY.get(self)
        if steady is None:
            # one compiled call instead of ~100 eager ops (each compiled on first use)
            steady = _STEADY[self] = jax.jit(self.membrane.steady_state)
        y = {"V": V}
        for name, value in steady(V).items():
            key = self._state_of[name]
            if key in self._initializers:
                unit = self.membrane.variables()[name]
                value = initialize(self._initializers[key], shape, unit, f"{self.name}.{key}")
            elif isinstance(value, u.Quantity):
                value = u.Quantity(jnp.broadcast_to(value.mantissa, shape) * 1.0, value.unit)
            else:
                value = jnp.broadcast_to(value, shape) * 1.0
            y[key] = value
        return y

    def vector_field(self, t, y, I):
        """``dV/dt = (I - area * membrane current density) / (C area)`` (mV/ms) and the
        membrane's gate and concentration derivatives, under their State names.
        """
        V = y["V"]
        z = {name: y[key] for name, key in self._state_of.items()}
        mem = self.membrane
        dV = (I - mem.current_density(V, z) * self.area) / (mem.C * self.area)
        dz = mem.derivatives(V, z)
        out = {"V": dV.to(u.mV / u.ms)}
        out.update({self._state_of[name]: d for name, d in dz.items()})
        return out

    def threshold(self, y):
        """``V - V_th``; with ``crossing``, a spike is an upward crossing of ``V_th``."""
        return y["V"] - self.V_th

    def steady_state(self, V) -> dict:
        """Gate values and concentrations at rest for the membrane potential ``V``."""
        return {self._state_of[k]: v for k, v in self.membrane.steady_state(V).items()}


def _mV(x):
    return x if isinstance(x, u.Quantity) else x * u.mV


class _NaKLeak(ConductanceNeuron):
    """Sodium, potassium and leak channels (``sodium``, ``potassium``: channel classes)."""

    names = {"m": "INa.m", "h": "INa.h", "n": "IK.n"}
    C = Parameter(u.uF / u.cm**2, 1.0 * u.uF / u.cm**2, "positive")
    g_Na = Parameter(_G, 120.0 * _G, "nonnegative")
    g_K = Parameter(_G, 36.0 * _G, "nonnegative")
    g_L = Parameter(_G, 0.3 * _G, "nonnegative")
    E_Na = Parameter(u.mV, 50.0 * u.mV, "finite")
    E_K = Parameter(u.mV, -77.0 * u.mV, "finite")
    E_L = Parameter(u.mV, -54.387 * u.mV, "finite")
    sodium: ClassVar[type] = HHSodium
    potassium: ClassVar[type] = HHPotassium
    V_init: ClassVar = -65.0 * u.mV

    def __init__(self, size, V_initializer=None, **kwargs):
        V0 = V_initializer if V_initializer is not None else self.V_init
        super().__init__(size, V_initializer=V0, **kwargs)

    def channel_options(self) -> dict:
        """Extra keyword arguments for the model's channels (override); default none."""
        return {}

    def setup(self):
        extra = self.channel_options()
        self.membrane = Membrane(
            [
                self.sodium(self.g_Na, E=self.E_Na, **extra),
                self.potassium(self.g_K, E=self.E_K, **extra),
                Leak(self.g_L, E=self.E_L),
            ],
            C=self.C,
        )
        super().setup()


class HH(_NaKLeak):
    """The Hodgkin-Huxley (1952) squid giant axon: Na, K and leak channels at 6.3 °C,
    potentials shifted so that rest is -65 mV (Hodgkin & Huxley, J. Physiol. 117:500;
    g_Na 120, g_K 36, g_L 0.3 mS/cm², E_Na 50, E_K -77, E_L -54.387 mV, C 1 µF/cm²).
    These values rest at -65.0 mV (tests/dyn/test_neurons.py)."""


class HHTraub(_NaKLeak):
    """Traub-Miles type HH neuron of the Brette et al. (2007) COBA-HH benchmark
    (J. Comput. Neurosci. 23:349; Brian2's ``COBAHH`` example): area 20000 um², g_Na 100,
    g_K 30 mS/cm², g_L 5e-5 S/cm², E_L -60, E_K -90, E_Na 50 mV, V_T -63 mV."""

    defaults = {
        "g_Na": 100.0 * _G,
        "g_K": 30.0 * _G,
        "g_L": 0.05 * _G,
        "E_K": -90.0 * u.mV,
        "E_L": -60.0 * u.mV,
        "V_th": -20.0 * u.mV,
    }
    V_T = Parameter(u.mV, -63.0 * u.mV, "finite", per_neuron=False)
    sodium, potassium, V_init = TraubSodium, TraubPotassium, -60.0 * u.mV

    def channel_options(self):
        """``V_T``, for the Traub channels (their rates are functions of ``V - V_T``)."""
        return {"V_T": self.V_T}


class WangBuzsaki(_NaKLeak):
    """Wang & Buzsáki (1996) fast-spiking interneuron (J. Neurosci. 16:6402):
    instantaneous m, phi = 5; g_Na 35, g_K 9, g_L 0.1 mS/cm², E_Na 55, E_K -90,
    E_L -65 mV."""

    names = {"h": "INa.h", "n": "IK.n"}
    defaults = {
        "g_Na": 35.0 * _G,
        "g_K": 9.0 * _G,
        "g_L": 0.1 * _G,
        "E_Na": 55.0 * u.mV,
        "E_K": -90.0 * u.mV,
        "E_L": -65.0 * u.mV,
        "V_th": 0.0 * u.mV,
    }
    phi = Parameter(None, 5.0, "positive", per_neuron=False)
    sodium, potassium = WangBuzsakiSodium, WangBuzsakiPotassium

    def channel_options(self):
        """The factor ``phi`` that multiplies the h and n gates' rates."""
        return {"phi": self.phi}


class MorrisLecar(ConductanceNeuron):
    """Morris & Lecar (1981) barnacle muscle fibre (Biophys. J. 35:193), with the
    parameters of Rinzel & Ermentrout (1989): instantaneous Ca²⁺ activation, K⁺ gate
    ``w``; C 20 µF/cm², g_Ca 4.4, g_K 8, g_L 2 mS/cm², E_Ca 120, E_K -84, E_L -60 mV,
    V1 -1.2, V2 18, V3 2, V4 30 mV, phi 0.04."""

    names = {"w": "IK.w"}
    checkpoint_attrs = (*ConductanceNeuron.checkpoint_attrs, "V1", "V2", "V3", "V4")
    C = Parameter(u.uF / u.cm**2, 20.0 * u.uF / u.cm**2, "positive")
    g_Ca = Parameter(_G, 4.4 * _G, "nonnegative")
    g_K = Parameter(_G, 8.0 * _G, "nonnegative")
    g_L = Parameter(_G, 2.0 * _G, "nonnegative")
    E_Ca = Parameter(u.mV, 120.0 * u.mV, "finite")
    E_K = Parameter(u.mV, -84.0 * u.mV, "finite")
    E_L = Parameter(u.mV, -60.0 * u.mV, "finite")
    phi = Parameter(None, 0.04, "positive", per_neuron=False)
    defaults = {"V_th": 10.0 * u.mV}

    def __init__(self, size, V1=-1.2, V2=18.0, V3=2.0, V4=30.0, V_initializer=-60.0 * u.mV, **kw):
        # V1..V4 in mV (plain numbers, as before, or quantities)
        self.V1, self.V2, self.V3, self.V4 = _mV(V1), _mV(V2), _mV(V3), _mV(V4)
        super().__init__(size, V_initializer=V_initializer, **kw)

    def setup(self):
        self.membrane = Membrane(
            [
                MorrisLecarCalcium(self.g_Ca, E=self.E_Ca, V1=self.V1, V2=self.V2),
                MorrisLecarPotassium(self.g_K, E=self.E_K, V3=self.V3, V4=self.V4, phi=self.phi),
                Leak(self.g_L, E=self.E_L),
            ],
            C=self.C,
        )
        super().setup()
