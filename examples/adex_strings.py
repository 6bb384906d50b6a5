"""The adaptive exponential integrate-and-fire neuron (Brette & Gerstner 2005) written as
Brian2 strings, next to its built-in twin ``nd.dyn.AdEx``: ``n`` neurons with constant
currents from 0 to 1 nA (an f-I curve with spike-frequency adaptation), both with
exponential Euler at dt = 0.1 ms. Prints the spike counts of both and asserts that they
agree (to one spike per neuron), then a JSON line.

    python examples/adex_strings.py [--n 20] [--t 500] [--no-plot]

Writes the f-I curves and the voltage of one neuron of both to
examples/figures/adex_strings.png (not with ``--no-plot``).
"""

from __future__ import annotations

import numpy as np
from _twins import compare

import neurodyn.units as u
from neurodyn.dyn import AdEx, NeuronGroup

EQUATIONS = """
dv/dt = (V_rest - v + delta_T*exp((v - V_T)/delta_T) + R*(I - w)) / tau : volt
dw/dt = (a*(v - V_rest) - w) / tau_w : amp
I : amp
"""
PARAMS = dict(
    tau=10 * u.ms,
    R=100 * u.Mohm,
    V_rest=-65 * u.mV,
    V_reset=-68 * u.mV,
    V_th=-30 * u.mV,
    V_T=-59.9 * u.mV,
    delta_T=3.48 * u.mV,
)
ADAPTATION = dict(a=1 * u.nS, b=10 * u.pA, tau_w=30 * u.ms)


def build(n: int):
    """``(strings, built-in)``: the same n neurons, currents 0..1 nA, from rest."""
    currents = np.linspace(0.0, 1.0, n) * u.nA
    builtin = AdEx(n, **ADAPTATION, **PARAMS, I_ext=currents, name="builtin")
    strings = NeuronGroup(
        n,
        EQUATIONS,
        threshold="v >= V_th",
        reset="v = V_reset; w += b",
        method="exponential_euler",
        namespace={**PARAMS, **ADAPTATION},
        name="strings",
    )
    strings.I = currents
    strings.v = PARAMS["V_rest"]
    return strings, builtin


def main() -> None:
    compare("AdEx", __doc__.splitlines()[0], build, figure="adex_strings")


if __name__ == "__main__":
    main()
