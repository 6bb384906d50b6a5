"""COBA-HH (Brette et al. 2007, benchmark 3): Traub-Miles Hodgkin-Huxley neurons with
exponential conductance synapses, as in Brian2's COBAHH example.

    python examples/coba_hh.py [--n 4000] [--t 1000]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

import neurodyn as nd
import neurodyn.units as u
from neurodyn import event
from neurodyn.dyn import COBA, Expon, HHTraub, Monitor, Normal, Projection


class COBAHHNet(nd.Network):
    def __init__(self, n: int = 4000, seed: int = 0):
        n_e, n_i = int(0.8 * n), n - int(0.8 * n)
        init = Normal(-65 * u.mV, 5 * u.mV)  # E_L + (randn * 5 - 5) mV
        self.E = HHTraub(n_e, V_initializer=init, name="E")
        self.I = HHTraub(n_i, V_initializer=init, name="I")
        p = 80 / n
        exc = dict(synapse=Expon(5 * u.ms), output=COBA(E=0 * u.mV), weight=6 * u.nS)
        inh = dict(synapse=Expon(10 * u.ms), output=COBA(E=-80 * u.mV), weight=67 * u.nS)
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
    net = COBAHHNet(args.n, args.seed)
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
    print(f"COBA-HH: {args.n} neurons, {args.t:g} ms: E {rate_e:.1f} Hz, I {rate_i:.1f} Hz")
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
