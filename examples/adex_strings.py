"""The adaptive exponential integrate-and-fire neuron (Brette & Gerstner 2005) written as
Brian2 strings, next to its built-in twin ``nd.dyn.AdEx``: ``n`` neurons with constant
currents from 0 to 1 nA (an f-I curve with spike-frequency adaptation), both with
exponential Euler at dt = 0.1 ms. Prints the spike counts of both and asserts that they
agree (to one spike per neuron), then a JSON line.

    python examples/adex_strings.py [--n 20] [--t 500]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

import neurodyn as nd
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
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--t", type=float, default=500.0, help="biological time in ms")
    args = ap.parse_args()
    strings, builtin = build(args.n)
    counts, run_s = {}, {}
    for label, group in (("strings", strings), ("built-in", builtin)):
        t0 = time.perf_counter()
        res = nd.run(group, args.t * u.ms, dt=0.1 * u.ms, monitors={"s": group.spike})
        counts[label] = np.asarray(res["s"]).sum(0).astype(int)
        run_s[label] = time.perf_counter() - t0
    print(f"AdEx from strings and built-in: {args.n} neurons, {args.t:g} ms")
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
