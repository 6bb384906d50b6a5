"""Vogels & Abbott (2005) CUBA network: LIF neurons with current-based exponential
synapses (Brette et al. 2007, benchmark 2 of the LIF family).

    python examples/cuba.py [--n 4000] [--t 1000]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

import neurodyn as nd
import neurodyn.units as u
from neurodyn import event
from neurodyn.dyn import CUBA, LIF, Expon, Monitor, Projection, Uniform


class CUBANet(nd.Network):
    def __init__(self, n: int = 4000, seed: int = 0):
        n_e, n_i = int(0.8 * n), n - int(0.8 * n)
        neuron = dict(
            tau=20 * u.ms,
            R=100 * u.Mohm,
            V_rest=-49 * u.mV,
            V_reset=-60 * u.mV,
            V_th=-50 * u.mV,
            tau_ref=5 * u.ms,
            V_initializer=Uniform(-60 * u.mV, -50 * u.mV),
        )
        self.E = LIF(n_e, name="E", **neuron)
        self.I = LIF(n_i, name="I", **neuron)
        p = 80 / n
        # jumps of 1.62 mV and -9 mV through R = 100 MOhm
        exc = dict(synapse=Expon(5 * u.ms), output=CUBA(), weight=16.2 * u.pA)
        inh = dict(synapse=Expon(10 * u.ms), output=CUBA(), weight=-90 * u.pA)
        self.E2E = Projection(self.E, self.E, event.FixedProb(p, seed=seed + 1), **exc)
        self.E2I = Projection(self.E, self.I, event.FixedProb(p, seed=seed + 2), **exc)
        self.I2E = Projection(self.I, self.E, event.FixedProb(p, seed=seed + 3), **inh)
        self.I2I = Projection(self.I, self.I, event.FixedProb(p, seed=seed + 4), **inh)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=4000)
    ap.add_argument("--t", type=float, default=1000.0, help="biological time in ms")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    nd.random.seed(args.seed)
    t0 = time.perf_counter()
    net = CUBANet(args.n, args.seed)
    build_s = time.perf_counter() - t0
    T = args.t * u.ms
    mons = {"E": Monitor(net.E.spike, every=T), "I": Monitor(net.I.spike, every=T)}
    t0 = time.perf_counter()
    res = nd.run(net, T, dt=0.1 * u.ms, monitors=mons)
    first_s = time.perf_counter() - t0
    net.reset_state()
    t0 = time.perf_counter()
    nd.run(net, T, dt=0.1 * u.ms, monitors=mons)
    run_s = time.perf_counter() - t0
    rate_e = float(np.asarray(res["E"]).sum() / net.E.num / (args.t / 1000))
    rate_i = float(np.asarray(res["I"]).sum() / net.I.num / (args.t / 1000))
    print(f"CUBA network: {args.n} neurons, {args.t:g} ms: E {rate_e:.1f} Hz, I {rate_i:.1f} Hz")
    print(
        json.dumps(
            {
                "rate_E_hz": round(rate_e, 3),
                "rate_I_hz": round(rate_i, 3),
                "n": args.n,
                "t_ms": args.t,
                "build_s": round(build_s, 3),
                "compile_s": round(max(first_s - run_s, 0.0), 3),
                "run_s": round(run_s, 4),
            }
        )
    )


if __name__ == "__main__":
    main()
