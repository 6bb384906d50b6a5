"""A library of published ionic channels, built from :mod:`._channels`' gates.

Each class cites its source; its defaults are the published parameters. Rates are in
1/ms, time constants in ms, of the membrane potential ``v`` in mV. Every constructor
takes ``g_max``, ``E`` (None: the published value, or the reversal of the membrane's
:class:`~._channels.Ion` of the channel's ion), ``name``, ``q10``, ``T_ref`` and ``phi``
(see :class:`~._channels.Channel`). Calcium currents are ohmic, ``g (V - E_Ca)``; with a
Nernst ``Ion("Ca", ...)`` their reversal follows ``[Ca]_i``.

Example:
    >>> import neurodyn.units as u
    >>> from neurodyn.dyn._membrane import Membrane
    >>> wb = Membrane([WangBuzsakiSodium(), WangBuzsakiPotassium(),
    ...                Leak(g_max=0.1 * u.mS / u.cm**2, E=-65 * u.mV)])
    >>> list(wb.variables())
    ['INa.h', 'IK.n']
"""

from __future__ import annotations

import jax.numpy as jnp

import neurodyn.units as u

from ._channels import AlphaBetaGate, Channel, InfTauGate, _exprel, _quantity

__all__ = [
    "HHSodium",
    "HHPotassium",
    "Leak",
    "TraubSodium",
    "TraubPotassium",
    "WangBuzsakiSodium",
    "WangBuzsakiPotassium",
    "MorrisLecarCalcium",
    "MorrisLecarPotassium",
    "MCurrent",
    "ATypePotassium",
    "TTypeCalcium",
    "HVACalcium",
    "HCurrent",
    "SKPotassium",
]

_G = u.mS / u.cm**2


def _mv(value, name, owner) -> float:
    return float(_quantity(value, u.mV, name, owner).to_value(u.mV))


# -- Hodgkin & Huxley 1952 --------------------------------------------------------------


class HHSodium(Channel):
    """Fast sodium current of Hodgkin & Huxley (1952, J Physiol 117:500), squid axon at
    6.3 °C, potentials shifted so that rest is -65 mV.

    ``I = g_max m^3 h (V - E)``; ``alpha_m = 0.1 (v+40) / (1 - exp(-(v+40)/10))``,
    ``beta_m = 4 exp(-(v+65)/18)``, ``alpha_h = 0.07 exp(-(v+65)/20)``,
    ``beta_h = 1 / (1 + exp(-(v+35)/10))``. Defaults: g_max 120 mS/cm², E 50 mV,
    q10 3 at T_ref 6.3 °C.
    """

    default_E = 50.0 * u.mV

    def __init__(
        self, g_max=120.0 * _G, E=None, *, name="INa", q10=3.0, T_ref=6.3 * u.celsius, phi=1.0
    ):
        super().__init__(name, ion="Na", g_max=g_max, E=E, q10=q10, T_ref=T_ref, phi=phi)

    def make_gates(self):
        return {
            "m": AlphaBetaGate(
                lambda v: 1.0 * _exprel(-(v + 40) / 10),
                lambda v: 4.0 * jnp.exp(-(v + 65) / 18),
                power=3,
            ),
            "h": AlphaBetaGate(
                lambda v: 0.07 * jnp.exp(-(v + 65) / 20),
                lambda v: 1 / (1 + jnp.exp(-(v + 35) / 10)),
            ),
        }


class HHPotassium(Channel):
    """Delayed-rectifier potassium current of Hodgkin & Huxley (1952), 6.3 °C.

    ``I = g_max n^4 (V - E)``; ``alpha_n = 0.01 (v+55) / (1 - exp(-(v+55)/10))``,
    ``beta_n = 0.125 exp(-(v+65)/80)``. Defaults: g_max 36 mS/cm², E -77 mV, q10 3 at
    T_ref 6.3 °C.
    """

    default_E = -77.0 * u.mV

    def __init__(
        self, g_max=36.0 * _G, E=None, *, name="IK", q10=3.0, T_ref=6.3 * u.celsius, phi=1.0
    ):
        super().__init__(name, ion="K", g_max=g_max, E=E, q10=q10, T_ref=T_ref, phi=phi)

    def make_gates(self):
        return {
            "n": AlphaBetaGate(
                lambda v: 0.1 * _exprel(-(v + 55) / 10),
                lambda v: 0.125 * jnp.exp(-(v + 65) / 80),
                power=4,
            )
        }


class Leak(Channel):
    """Leak current ``I = g_max (V - E)`` (nonspecific, no gates). Defaults are Hodgkin &
    Huxley's (1952): g_max 0.3 mS/cm², E -54.387 mV (10.613 mV above rest)."""

    default_E = -54.387 * u.mV

    def __init__(self, g_max=0.3 * _G, E=None, *, name="IL"):
        super().__init__(name, ion=None, g_max=g_max, E=E)

    def make_gates(self):
        return {}


# -- Traub & Miles 1991 -----------------------------------------------------------------


class TraubSodium(Channel):
    """Sodium current of Traub & Miles (1991, Neuronal Networks of the Hippocampus) in
    the form of Brette et al. (2007) COBAHH benchmark, threshold set by ``V_T``.

    ``I = g_max m^3 h (V - E)``, with ``u = v - V_T``:
    ``alpha_m = 0.32 (13-u) / (exp((13-u)/4) - 1)``,
    ``beta_m = 0.28 (u-40) / (exp((u-40)/5) - 1)``, ``alpha_h = 0.128 exp((17-u)/18)``,
    ``beta_h = 4 / (1 + exp((40-u)/5))``. Defaults (Brette et al. 2007): g_max 100
    mS/cm², E 50 mV, V_T -63 mV; no temperature dependence.
    """

    default_E = 50.0 * u.mV

    def __init__(
        self,
        g_max=100.0 * _G,
        E=None,
        *,
        V_T=-63.0 * u.mV,
        name="INa",
        q10=1.0,
        T_ref=None,
        phi=1.0,
    ):
        self.V_T = _mv(V_T, "V_T", f"TraubSodium {name!r}")
        super().__init__(name, ion="Na", g_max=g_max, E=E, q10=q10, T_ref=T_ref, phi=phi)

    def make_gates(self):
        vt = self.V_T
        return {
            "m": AlphaBetaGate(
                lambda v: 0.32 * 4 * _exprel((13 - v + vt) / 4),
                lambda v: 0.28 * 5 * _exprel((v - vt - 40) / 5),
                power=3,
            ),
            "h": AlphaBetaGate(
                lambda v: 0.128 * jnp.exp((17 - v + vt) / 18),
                lambda v: 4.0 / (1 + jnp.exp((40 - v + vt) / 5)),
            ),
        }


class TraubPotassium(Channel):
    """Delayed-rectifier potassium current of Traub & Miles (1991) as in Brette et al.
    (2007): ``I = g_max n^4 (V - E)``, ``u = v - V_T``,
    ``alpha_n = 0.032 (15-u) / (exp((15-u)/5) - 1)``, ``beta_n = 0.5 exp((10-u)/40)``.
    Defaults: g_max 30 mS/cm², E -90 mV, V_T -63 mV.
    """

    default_E = -90.0 * u.mV

    def __init__(
        self, g_max=30.0 * _G, E=None, *, V_T=-63.0 * u.mV, name="IK", q10=1.0, T_ref=None, phi=1.0
    ):
        self.V_T = _mv(V_T, "V_T", f"TraubPotassium {name!r}")
        super().__init__(name, ion="K", g_max=g_max, E=E, q10=q10, T_ref=T_ref, phi=phi)

    def make_gates(self):
        vt = self.V_T
        return {
            "n": AlphaBetaGate(
                lambda v: 0.032 * 5 * _exprel((15 - v + vt) / 5),
                lambda v: 0.5 * jnp.exp((10 - v + vt) / 40),
                power=4,
            )
        }


# -- Wang & Buzsaki 1996 ----------------------------------------------------------------


class WangBuzsakiSodium(Channel):
    """Sodium current of the Wang & Buzsáki (1996, J Neurosci 16:6402) interneuron:
    ``I = g_max m_inf^3 h (V - E)`` with instantaneous ``m_inf = a_m / (a_m + b_m)``,
    ``a_m = 0.1 (v+35) / (1 - exp(-0.1 (v+35)))``, ``b_m = 4 exp(-(v+60)/18)``;
    ``alpha_h = 0.07 exp(-(v+58)/20)``, ``beta_h = 1 / (exp(-0.1 (v+28)) + 1)``, rates
    times ``phi``. Defaults: g_max 35 mS/cm², E 55 mV, phi 5.
    """

    default_E = 55.0 * u.mV

    def __init__(self, g_max=35.0 * _G, E=None, *, phi=5.0, name="INa", q10=1.0, T_ref=None):
        super().__init__(name, ion="Na", g_max=g_max, E=E, q10=q10, T_ref=T_ref, phi=phi)

    def make_gates(self):
        return {
            "m": AlphaBetaGate(
                lambda v: 1.0 * _exprel(-0.1 * (v + 35)),
                lambda v: 4.0 * jnp.exp(-(v + 60) / 18),
                power=3,
                instantaneous=True,
            ),
            "h": AlphaBetaGate(
                lambda v: 0.07 * jnp.exp(-(v + 58) / 20),
                lambda v: 1 / (jnp.exp(-0.1 * (v + 28)) + 1),
            ),
        }


class WangBuzsakiPotassium(Channel):
    """Potassium current of Wang & Buzsáki (1996): ``I = g_max n^4 (V - E)``,
    ``alpha_n = 0.01 (v+34) / (1 - exp(-0.1 (v+34)))``, ``beta_n = 0.125 exp(-(v+44)/80)``,
    rates times ``phi``. Defaults: g_max 9 mS/cm², E -90 mV, phi 5.
    """

    default_E = -90.0 * u.mV

    def __init__(self, g_max=9.0 * _G, E=None, *, phi=5.0, name="IK", q10=1.0, T_ref=None):
        super().__init__(name, ion="K", g_max=g_max, E=E, q10=q10, T_ref=T_ref, phi=phi)

    def make_gates(self):
        return {
            "n": AlphaBetaGate(
                lambda v: 0.1 * _exprel(-0.1 * (v + 34)),
                lambda v: 0.125 * jnp.exp(-(v + 44) / 80),
                power=4,
            )
        }


# -- Morris & Lecar 1981 ----------------------------------------------------------------


class MorrisLecarCalcium(Channel):
    """Calcium current of Morris & Lecar (1981, Biophys J 35:193):
    ``I = g_max m_inf (V - E)``, instantaneous ``m_inf = (1 + tanh((v - V1) / V2)) / 2``.
    Defaults (as in Rinzel & Ermentrout 1989): g_max 4.4 mS/cm², E 120 mV, V1 -1.2 mV,
    V2 18 mV.
    """

    default_E = 120.0 * u.mV

    def __init__(self, g_max=4.4 * _G, E=None, *, V1=-1.2 * u.mV, V2=18.0 * u.mV, name="ICa"):
        owner = f"MorrisLecarCalcium {name!r}"
        self.V1, self.V2 = _mv(V1, "V1", owner), _mv(V2, "V2", owner)
        super().__init__(name, ion="Ca", g_max=g_max, E=E)

    def make_gates(self):
        V1, V2 = self.V1, self.V2
        return {
            "m": InfTauGate(lambda v: 0.5 * (1 + jnp.tanh((v - V1) / V2)), None, instantaneous=True)
        }


class MorrisLecarPotassium(Channel):
    """Potassium current of Morris & Lecar (1981): ``I = g_max w (V - E)``,
    ``w_inf = (1 + tanh((v - V3) / V4)) / 2``, ``tau_w = 1 / cosh((v - V3) / (2 V4))`` ms,
    rates times ``phi``. Defaults: g_max 8 mS/cm², E -84 mV, V3 2 mV, V4 30 mV, phi 0.04.
    """

    default_E = -84.0 * u.mV

    def __init__(
        self,
        g_max=8.0 * _G,
        E=None,
        *,
        V3=2.0 * u.mV,
        V4=30.0 * u.mV,
        phi=0.04,
        name="IK",
        q10=1.0,
        T_ref=None,
    ):
        owner = f"MorrisLecarPotassium {name!r}"
        self.V3, self.V4 = _mv(V3, "V3", owner), _mv(V4, "V4", owner)
        super().__init__(name, ion="K", g_max=g_max, E=E, q10=q10, T_ref=T_ref, phi=phi)

    def make_gates(self):
        V3, V4 = self.V3, self.V4
        return {
            "w": InfTauGate(
                lambda v: 0.5 * (1 + jnp.tanh((v - V3) / V4)),
                lambda v: 1 / jnp.cosh((v - V3) / (2 * V4)),
            )
        }


# -- cortical and thalamic currents -----------------------------------------------------


class MCurrent(Channel):
    """Slow non-inactivating potassium (M) current, Yamada, Koch & Adams (1989) kinetics
    in the form of Pospischil et al. (2008, Biol Cybern 99:427):
    ``I = g_max p (V - E)``, ``p_inf = 1 / (1 + exp(-(v+35)/10))``,
    ``tau_p = tau_max / (3.3 exp((v+35)/20) + exp(-(v+35)/20))``. Defaults (Pospischil's
    regular-spiking cell): g_max 0.075 mS/cm², E -90 mV, tau_max 608 ms; q10 2.3 at
    T_ref 36 °C (Destexhe's cortical IM mechanism).
    """

    default_E = -90.0 * u.mV

    def __init__(
        self,
        g_max=0.075 * _G,
        E=None,
        *,
        tau_max=608.0 * u.ms,
        name="IM",
        q10=2.3,
        T_ref=36.0 * u.celsius,
        phi=1.0,
    ):
        owner = f"MCurrent {name!r}"
        self.tau_max = float(_quantity(tau_max, u.ms, "tau_max", owner, "positive").to_value(u.ms))
        super().__init__(name, ion="K", g_max=g_max, E=E, q10=q10, T_ref=T_ref, phi=phi)

    def make_gates(self):
        tau_max = self.tau_max
        return {
            "p": InfTauGate(
                lambda v: 1 / (1 + jnp.exp(-(v + 35) / 10)),
                lambda v: tau_max / (3.3 * jnp.exp((v + 35) / 20) + jnp.exp(-(v + 35) / 20)),
            )
        }


class ATypePotassium(Channel):
    """Transient (A-type) potassium current of Connor & Stevens (1971; Connor, Walter &
    McKown 1977) in the form of Dayan & Abbott (2001, eq. 6.4): ``I = g_max a^3 b (V - E)``,
    ``a_inf = (0.0761 exp(0.0314 (v+94.22)) / (1 + exp(0.0346 (v+1.17))))^(1/3)``,
    ``tau_a = 0.3632 + 1.158 / (1 + exp(0.0497 (v+55.96)))``,
    ``b_inf = (1 + exp(0.0688 (v+53.3)))^-4``, ``tau_b = 1.24 + 2.678 / (1 +
    exp(0.0624 (v+50)))``. Defaults: g_max 47.7 mS/cm², E -75 mV.
    """

    default_E = -75.0 * u.mV

    def __init__(self, g_max=47.7 * _G, E=None, *, name="IA", q10=1.0, T_ref=None, phi=1.0):
        super().__init__(name, ion="K", g_max=g_max, E=E, q10=q10, T_ref=T_ref, phi=phi)

    def make_gates(self):
        return {
            "a": InfTauGate(
                lambda v: jnp.cbrt(
                    0.0761 * jnp.exp(0.0314 * (v + 94.22)) / (1 + jnp.exp(0.0346 * (v + 1.17)))
                ),
                lambda v: 0.3632 + 1.158 / (1 + jnp.exp(0.0497 * (v + 55.96))),
                power=3,
            ),
            "b": InfTauGate(
                lambda v: 1 / (1 + jnp.exp(0.0688 * (v + 53.3))) ** 4,
                lambda v: 1.24 + 2.678 / (1 + jnp.exp(0.0624 * (v + 50))),
            ),
        }


class TTypeCalcium(Channel):
    """Low-threshold (T-type) calcium current, Huguenard & McCormick (1992, J
    Neurophysiol 68:1373) kinetics at 24 °C, ohmic as in Pospischil et al. (2008):
    ``I = g_max m^2 h (V - E)``, with ``w = v + V_shift``:
    ``m_inf = 1 / (1 + exp(-(w+57)/6.2))``,
    ``tau_m = 0.612 + 1 / (exp(-(w+132)/16.7) + exp((w+16.8)/18.2))``,
    ``h_inf = 1 / (1 + exp((w+81)/4))``, ``tau_h = exp((w+467)/66.6)`` for ``w < -80``,
    else ``exp(-(w+22)/10.5) + 28``. ``instantaneous_m=True`` gives the ``m_inf^2 h``
    form of Destexhe et al. (1996). Defaults: g_max 0.4 mS/cm² (Pospischil's LTS cell),
    E 120 mV, V_shift 0 mV, q10 3 at T_ref 24 °C (3^1.2 = 3.74 at 36 °C; Pospischil
    divide both time constants by 3.7).
    """

    default_E = 120.0 * u.mV

    def __init__(
        self,
        g_max=0.4 * _G,
        E=None,
        *,
        V_shift=0.0 * u.mV,
        instantaneous_m=False,
        name="IT",
        q10=3.0,
        T_ref=24.0 * u.celsius,
        phi=1.0,
    ):
        self.V_shift = _mv(V_shift, "V_shift", f"TTypeCalcium {name!r}")
        if not isinstance(instantaneous_m, bool):
            raise TypeError(f"TTypeCalcium {name!r}: instantaneous_m must be True or False.")
        self.instantaneous_m = instantaneous_m
        super().__init__(name, ion="Ca", g_max=g_max, E=E, q10=q10, T_ref=T_ref, phi=phi)

    def make_gates(self):
        s = self.V_shift

        def tau_h(v):
            w = v + s
            return jnp.where(w < -80, jnp.exp((w + 467) / 66.6), jnp.exp(-(w + 22) / 10.5) + 28.0)

        return {
            "m": InfTauGate(
                lambda v: 1 / (1 + jnp.exp(-(v + s + 57) / 6.2)),
                lambda v: (
                    0.612 + 1 / (jnp.exp(-(v + s + 132) / 16.7) + jnp.exp((v + s + 16.8) / 18.2))
                ),
                power=2,
                instantaneous=self.instantaneous_m,
            ),
            "h": InfTauGate(lambda v: 1 / (1 + jnp.exp((v + s + 81) / 4)), tau_h),
        }


class HVACalcium(Channel):
    """High-threshold (L-type) calcium current of Reuveni et al. (1993, J Neurosci
    13:4609) as in Pospischil et al. (2008): ``I = g_max q^2 r (V - E)``,
    ``alpha_q = 0.055 (-27-v) / (exp((-27-v)/3.8) - 1)``, ``beta_q = 0.94 exp((-75-v)/17)``,
    ``alpha_r = 0.000457 exp((-13-v)/50)``, ``beta_r = 0.0065 / (exp((-15-v)/28) + 1)``.
    Defaults: g_max 0.1 mS/cm² (Pospischil's IB cell), E 120 mV.
    """

    default_E = 120.0 * u.mV

    def __init__(self, g_max=0.1 * _G, E=None, *, name="ICaL", q10=1.0, T_ref=None, phi=1.0):
        super().__init__(name, ion="Ca", g_max=g_max, E=E, q10=q10, T_ref=T_ref, phi=phi)

    def make_gates(self):
        return {
            "q": AlphaBetaGate(
                lambda v: 0.055 * 3.8 * _exprel((-27 - v) / 3.8),
                lambda v: 0.94 * jnp.exp((-75 - v) / 17),
                power=2,
            ),
            "r": AlphaBetaGate(
                lambda v: 0.000457 * jnp.exp((-13 - v) / 50),
                lambda v: 0.0065 / (jnp.exp((-15 - v) / 28) + 1),
            ),
        }


class HCurrent(Channel):
    """Hyperpolarisation-activated cation current ``I_h`` of Huguenard & McCormick (1992)
    (McCormick & Pape 1990 data): ``I = g_max m (V - E)``,
    ``m_inf = 1 / (1 + exp((v+75)/5.5))``,
    ``tau_m = 1 / (exp(-14.59 - 0.086 v) + exp(-1.87 + 0.0701 v))``. Nonspecific.
    Defaults: E -43 mV (Huguenard & McCormick); g_max 0.02 mS/cm² is a typical thalamic
    density, not a published constant: set it for your cell.
    """

    default_E = -43.0 * u.mV

    def __init__(self, g_max=0.02 * _G, E=None, *, name="Ih", q10=1.0, T_ref=None, phi=1.0):
        super().__init__(name, ion=None, g_max=g_max, E=E, q10=q10, T_ref=T_ref, phi=phi)

    def make_gates(self):
        return {
            "m": InfTauGate(
                lambda v: 1 / (1 + jnp.exp((v + 75) / 5.5)),
                lambda v: 1 / (jnp.exp(-14.59 - 0.086 * v) + jnp.exp(-1.87 + 0.0701 * v)),
            )
        }


class SKPotassium(Channel):
    """Calcium-activated (SK-type, slow AHP) potassium current of Destexhe, Contreras,
    Sejnowski & Steriade (1994, J Neurophysiol 72:803), Hill form with ``n`` binding
    sites: ``I = g_max m^2 (V - E)``, ``r = ([Ca]_i / C_half)^n``,
    ``m_inf = r / (1 + r)``, ``tau_m = max(1 / (beta (1 + r)), tau_min)``. Needs the
    membrane ion ``"Ca"`` with a concentration. Defaults (Destexhe's IAHP mechanism):
    g_max 10 mS/cm², E -95 mV, C_half 0.025 mM, n 2, beta 0.03/ms, tau_min 0.1 ms, q10 3
    at T_ref 22 °C (the original clamps tau_m after the temperature scaling).
    """

    default_E = -95.0 * u.mV

    def __init__(
        self,
        g_max=10.0 * _G,
        E=None,
        *,
        C_half=0.025 * u.mM,
        n=2,
        beta=0.03 / u.ms,
        tau_min=0.1 * u.ms,
        name="ISK",
        q10=3.0,
        T_ref=22.0 * u.celsius,
        phi=1.0,
    ):
        owner = f"SKPotassium {name!r}"
        self.C_half = float(_quantity(C_half, u.mM, "C_half", owner, "positive").to_value(u.mM))
        self.beta = float(_quantity(beta, u.ms**-1, "beta", owner, "positive").to_value(u.ms**-1))
        self.tau_min = float(
            _quantity(tau_min, u.ms, "tau_min", owner, "nonnegative").to_value(u.ms)
        )
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"{owner}: n (binding sites) must be a positive integer, got {n!r}.")
        self.n = n
        super().__init__(name, ion="K", g_max=g_max, E=E, q10=q10, T_ref=T_ref, phi=phi)

    def make_gates(self):
        c_half, n, beta, tau_min = self.C_half, self.n, self.beta, self.tau_min
        return {
            "m": InfTauGate(
                lambda c: (c / c_half) ** n / (1 + (c / c_half) ** n),
                lambda c: jnp.maximum(1 / (beta * (1 + (c / c_half) ** n)), tau_min),
                power=2,
                variable="Ca",
            )
        }
