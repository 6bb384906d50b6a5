"""An E/I network of LIF neurons driven only by external Poisson input (Brunel-style
balanced regime): 1000 E + 250 I neurons, 1000 Poisson sources per neuron at 1.5 Hz,
never materialised as a population. Prints rates and irregularity (CV of ISIs).

    python examples/ei_poisson.py [--n 1250] [--t 1000] [--no-plot]

Writes a raster with the E and I population rates to examples/figures/ei_poisson.png
(not with ``--no-plot``).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

import neurodyn as nd
import neurodyn.units as u
from neurodyn import analysis, event
from neurodyn.dyn import COBA, LIF, Expon, Monitor, Normal, PoissonInput, Projection


class EINet(nd.Network):
    def __init__(self, n: int = 1250, seed: int = 0):
        n_e = int(0.8 * n)
        self.N = LIF(
            n,
            name="N",
            tau=20 * u.ms,
            R=100 * u.Mohm,
            V_rest=-70 * u.mV,
            V_reset=-60 * u.mV,
            V_th=-50 * u.mV,
            tau_ref=2 * u.ms,
            V_initializer=Normal(-60 * u.mV, 5 * u.mV),
        )
        self.E, self.I = self.N[:n_e], self.N[n_e:]
        p = 0.1
        self.exc = Projection(
            self.E,
            self.N,
            event.FixedProb(p, seed=seed + 1),
            weight=1.0 * u.nS,
            synapse=Expon(5 * u.ms),
            output=COBA(E=0 * u.mV),
            delay=1.0 * u.ms,
        )
        self.inh = Projection(
            self.I,
            self.N,
            event.FixedProb(p, seed=seed + 2),
            weight=15.0 * u.nS,
            synapse=Expon(10 * u.ms),
            output=COBA(E=-80 * u.mV),
            delay=1.0 * u.ms,
        )
        self.ext = PoissonInput(
            self.N,
            num_inputs=1000,
            rate=1.5 * u.Hz,
            weight=1.0 * u.nS,
            synapse=Expon(5 * u.ms),
            output=COBA(E=0 * u.mV),
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1250)
    ap.add_argument("--t", type=float, default=1000.0, help="biological time in ms")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-plot", action="store_true", help="write no figure")
    args = ap.parse_args()
    nd.random.seed(args.seed)
    t0 = time.perf_counter()
    net = EINet(args.n, args.seed)
    build_s = time.perf_counter() - t0
    T = args.t * u.ms
    mons = {"spike": Monitor(net.N.spike)}
    t0 = time.perf_counter()
    res = nd.run(net, T, dt=0.1 * u.ms, monitors=mons)
    run_s = time.perf_counter() - t0
    spikes = res["spike"]
    n_e = net.E.num
    rates = np.asarray(analysis.firing_rate(spikes, 0.1 * u.ms).to_value(u.Hz))
    cv = np.asarray(analysis.cv(spikes, 0.1 * u.ms))
    rate_e, rate_i = float(rates[:n_e].mean()), float(rates[n_e:].mean())
    cv_e = float(np.nanmean(cv[:n_e]))
    print(f"E/I network driven by Poisson input: {args.n} neurons, {args.t:g} ms")
    print(f"  E {rate_e:.1f} Hz, I {rate_i:.1f} Hz, mean CV of E ISIs {cv_e:.2f}")
    if not args.no_plot:
        import _plots

        t, i = res.spikes("spike")
        t = np.asarray(t.to_value(u.ms))
        e = i < n_e
        _plots.network(
            "ei_poisson", f"E/I network driven by Poisson input: {args.n} neurons", args.t,
            (t[e], i[e], n_e), (t[~e], i[~e] - n_e, args.n - n_e),
        )  # fmt: skip
    print(
        json.dumps(
            {
                "rate_E_hz": round(rate_e, 3),
                "rate_I_hz": round(rate_i, 3),
                "cv_E": round(cv_e, 3),
                "n": args.n,
                "t_ms": args.t,
                "build_s": round(build_s, 3),
                "run_s": round(run_s, 4),
            }
        )
    )


if __name__ == "__main__":
    main()
