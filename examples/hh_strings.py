"""Traub-Miles Hodgkin-Huxley neurons (the cells of Brette et al. 2007's COBA-HH
benchmark, Brian2's ``COBAHH`` example) written as Brian2 strings, next to their built-in
twin ``nd.dyn.HHTraub`` (examples/coba_hh.py): ``n`` neurons driven by constant currents
from 0 to 1 nA (an f-I curve), both with exponential Euler at dt = 0.1 ms. Prints the
spike counts of both and asserts that they agree (to one spike per neuron), then a JSON
line.

    python examples/hh_strings.py [--n 20] [--t 500]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

import neurodyn as nd
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
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--t", type=float, default=500.0, help="biological time in ms")
    args = ap.parse_args()
    strings, builtin = build(args.n)
    counts, run_s = {}, {}
    for label, group, spike in (
        ("strings", strings, strings.spike),
        ("built-in", builtin, builtin.spike),
    ):
        t0 = time.perf_counter()
        res = nd.run(group, args.t * u.ms, dt=0.1 * u.ms, monitors={"s": spike})
        counts[label] = np.asarray(res["s"]).sum(0).astype(int)
        run_s[label] = time.perf_counter() - t0
    print(f"Traub-Miles HH from strings and built-in: {args.n} neurons, {args.t:g} ms")
    print("  I (nA)   " + " ".join(f"{x:5.2f}" for x in np.linspace(0, 1, args.n)))
    for label in counts:
        print(f"  {label:9s}" + " ".join(f"{c:5d}" for c in counts[label]))
    diff = int(np.abs(counts["strings"] - counts["built-in"]).max())
    rates = {k: float(v.mean() / (args.t / 1000)) for k, v in counts.items()}
    print(f"  mean rate: strings {rates['strings']:.2f} Hz, built-in {rates['built-in']:.2f} Hz")
    assert diff <= 1, f"spike counts differ by {diff}: {counts}"
    print(
        json.dumps(
            {
                "n": args.n,
                "t_ms": args.t,
                "rate_strings_hz": round(rates["strings"], 3),
                "rate_builtin_hz": round(rates["built-in"], 3),
                "max_count_diff": diff,
                "run_s": {k: round(v, 3) for k, v in run_s.items()},
            }
        )
    )


if __name__ == "__main__":
    main()
