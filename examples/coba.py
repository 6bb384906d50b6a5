"""Brette et al. (2007) COBA network of leaky integrate-and-fire neurons.

4000 neurons (80% excitatory), ~80 random inputs per neuron, exponential
conductance synapses, 1 s of biological time at dt = 0.1 ms — the definition of
shared/BENCHMARK_MODELS.md. Prints the firing rates and a JSON line with the key
numbers; writes a raster plot when matplotlib is installed.

    python examples/coba.py [--n 4000] [--t 1000] [--seed 0] [--no-plot]
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

import neurodyn as nd
import neurodyn.units as u
from neurodyn import event
from neurodyn.dyn import COBA, LIF, Expon, Normal, Projection


class COBANet(nd.Network):
    """One population of 4000 LIF neurons; the first 80% are excitatory (``E`` is a
    view of them, as Brian2's subgroups), the rest inhibitory (``I``)."""

    def __init__(self, n: int = 4000, seed: int = 0):
        n_e = int(0.8 * n)
        self.N = LIF(
            n,
            name="N",
            tau=20 * u.ms,
            R=100 * u.Mohm,  # R = 1 / g_L with g_L = 10 nS
            V_rest=-60 * u.mV,
            V_reset=-60 * u.mV,
            V_th=-50 * u.mV,
            tau_ref=5 * u.ms,
            I_ext=200 * u.pA,  # 20 mV * g_L
            V_initializer=Normal(-55 * u.mV, 2 * u.mV),
        )
        self.E, self.I = self.N[:n_e], self.N[n_e:]
        p = 80 / n  # ~64 E + 16 I inputs per neuron at every n
        # each (pre, post) pair independently with probability p: E -> all and I -> all
        self.exc = Projection(
            self.E,
            self.N,
            event.FixedProb(p, seed=seed + 1),
            weight=6 * u.nS,
            synapse=Expon(5 * u.ms),
            output=COBA(E=0 * u.mV),
        )
        self.inh = Projection(
            self.I,
            self.N,
            event.FixedProb(p, seed=seed + 2),
            weight=67 * u.nS,
            synapse=Expon(10 * u.ms),
            output=COBA(E=-80 * u.mV),
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=4000)
    ap.add_argument("--t", type=float, default=1000.0, help="biological time in ms")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-plot", action="store_true")
    args = ap.parse_args()

    nd.random.seed(args.seed)
    t0 = time.perf_counter()
    net = COBANet(args.n, args.seed)
    build_s = time.perf_counter() - t0
    duration, dt = args.t * u.ms, 0.1 * u.ms
    monitors = {"spike": net.N.spike}

    t0 = time.perf_counter()
    res = nd.run(net, duration, dt=dt, monitors=monitors)
    first_s = time.perf_counter() - t0  # compile + run
    # a second run of the same length reuses the compiled program: pure run time
    net.reset_state()
    t0 = time.perf_counter()
    nd.run(net, duration, dt=dt, monitors=monitors)
    run_s = time.perf_counter() - t0

    seconds = args.t / 1000
    spikes = np.asarray(res["spike"])
    n_e = net.E.num
    rate_e = float(spikes[:, :n_e].sum() / n_e / seconds)
    rate_i = float(spikes[:, n_e:].sum() / net.I.num / seconds)
    print(f"COBA network: {args.n} neurons, {args.t:g} ms at dt = 0.1 ms")
    print(f"  excitatory rate {rate_e:.1f} Hz, inhibitory rate {rate_i:.1f} Hz")
    print(f"  build {build_s:.2f} s, compile {max(first_s - run_s, 0):.2f} s, run {run_s:.3f} s")
    if not args.no_plot:
        _raster(res, net, os.path.join(os.path.dirname(__file__), "figures", "coba_raster.png"))
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


def _raster(res, net, path: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("  (matplotlib not installed: no raster plot)")
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    spikes = np.asarray(res["spike"])[:, :400]
    t_idx, n_idx = np.nonzero(spikes)
    times = np.asarray(res.times.to_value(u.ms))
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.plot(times[t_idx], n_idx, ",k")
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("excitatory neuron")
    ax.set_title("COBA network (first 400 E neurons)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"  raster written to {path}")


if __name__ == "__main__":
    main()
