"""Traub-Miles Hodgkin-Huxley neurons (the cells of Brette et al. 2007's COBA-HH
benchmark, Brian2's ``COBAHH`` example) written as Brian2 strings, next to their built-in
twin ``nd.dyn.HHTraub`` (examples/coba_hh.py): ``n`` neurons driven by constant currents
from 0 to 1 nA (an f-I curve), both with exponential Euler at dt = 0.1 ms. Prints the
spike counts of both and asserts that they agree (to one spike per neuron), then a JSON
line.

    python examples/hh_strings.py [--n 20] [--t 500] [--no-plot]

Writes the f-I curves and the voltage of one neuron of both to
examples/figures/hh_strings.png (not with ``--no-plot``).
"""

from __future__ import annotations

import numpy as np
from _twins import compare

import neurodyn.units as u
from neurodyn.dyn import HHTraub, NeuronGroup

# Brian2's COBAHH example, without its synaptic conductances, with a current I
EQUATIONS = """
dv/dt = (gl*(El-v) - g_na*(m*m*m)*h*(v-ENa) - g_kd*(n*n*n*n)*(v-EK) + I)/Cm : volt
dm/dt = 0.32*(mV**-1)*4*mV/exprel((13.*mV-v+VT)/(4*mV))/ms*(1-m)-0.28*(mV**-1)*5*mV/exprel((v-VT-40.*mV)/(5*mV))/ms*m : 1
dn/dt = 0.032*(mV**-1)*5*mV/exprel((15.*mV-v+VT)/(5*mV))/ms*(1.-n)-.5*exp((10.*mV-v+VT)/(40.*mV))/ms*n : 1
dh/dt = 0.128*exp((17.*mV-v+VT)/(18.*mV))/ms*(1.-h)-4./(1+exp((40.*mV-v+VT)/(5.*mV)))/ms*h : 1
I : amp
"""  # noqa: E501

AREA = 20000 * u.um**2
NAMESPACE = dict(
    Cm=1 * u.uF / u.cm**2 * AREA,
    gl=5e-5 * u.siemens / u.cm**2 * AREA,
    El=-60 * u.mV,
    EK=-90 * u.mV,
    ENa=50 * u.mV,
    g_na=100 * u.mS / u.cm**2 * AREA,
    g_kd=30 * u.mS / u.cm**2 * AREA,
    VT=-63 * u.mV,
)


def build(n: int):
    """``(strings, built-in)``: the same n neurons, currents 0..1 nA, at rest (-60 mV)
    with their gates at steady state."""
    currents = np.linspace(0.0, 1.0, n) * u.nA
    builtin = HHTraub(n, I_ext=currents, name="builtin")
    strings = NeuronGroup(
        n,
        EQUATIONS,
        threshold="v > -20*mV",
        refractory="v > -20*mV",
        method="exponential_euler",
        namespace=NAMESPACE,
        name="strings",
    )
    strings.I = currents
    strings.v = builtin.V.value  # the same start: V and the gates at rest
    strings.m, strings.n, strings.h = (builtin.m.value, builtin.n.value, builtin.h.value)
    return strings, builtin


def main() -> None:
    compare("Traub-Miles HH", __doc__.splitlines()[0], build, figure="hh_strings")


if __name__ == "__main__":
    main()
