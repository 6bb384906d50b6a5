"""Brette et al. (2007) COBA network of leaky integrate-and-fire neurons.

4000 neurons (80% excitatory), ~80 random inputs per neuron, exponential
conductance synapses, 1 s of biological time at dt = 0.1 ms — the project's COBA-LIF
benchmark model (benchmarks/coba.py). Prints the firing rates and a JSON line with the key
numbers; writes a raster plot when matplotlib is installed.

``--variant brette`` runs the network as in Brette et al.'s original script instead:
no external drive, V0 ~ N(-65, 5) mV and initial conductances g_e ~ N(4, 1.5) g_L,
g_i ~ N(20, 12) g_L (g_L = 10 nS), from which the activity sustains itself.

``--variant stdp`` is the benchmark network with pair-based additive STDP on every
excitatory synapse (per-synapse weights starting at 6 nS, A+ = 0.01 nS, A- = 0.0105 nS,
tau+ = tau- = 20 ms, weights kept in [0, 12] nS), updated on events.

    python examples/coba.py [--n 4000] [--t 1000] [--seed 0] [--variant brette|stdp] [--no-plot]
"""

from __future__ import annotations

import os

import numpy as np
from _bench import parse, run_and_report

import neurodyn as nd
import neurodyn.units as u
from neurodyn import event
from neurodyn.dyn import COBA, LIF, STDP, Expon, Normal, Projection, SpikeMonitor


class COBANet(nd.Network):
    """One population of 4000 LIF neurons; the first 80% are excitatory (``E`` is a
    view of them, as Brian2's subgroups), the rest inhibitory (``I``). With the "stdp"
    variant, ``rule`` replaces the built-in STDP (examples/custom_plasticity.py)."""

    def __init__(self, n: int = 4000, seed: int = 0, variant: str = "benchmark", rule=None):
        if variant not in ("benchmark", "brette", "stdp"):
            raise ValueError(f"variant must be 'benchmark', 'brette' or 'stdp', got {variant!r}.")
        brette = variant == "brette"
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
            I_ext=0 * u.pA if brette else 200 * u.pA,  # 20 mV * g_L
            V_initializer=Normal(-65 * u.mV, 5 * u.mV) if brette else Normal(-55 * u.mV, 2 * u.mV),
        )
        g_e0 = Normal(40 * u.nS, 15 * u.nS) if brette else None
        g_i0 = Normal(200 * u.nS, 120 * u.nS) if brette else None
        self.E, self.I = self.N[:n_e], self.N[n_e:]
        p = 80 / n  # ~64 E + 16 I inputs per neuron at every n
        # each (pre, post) pair independently with probability p: E -> all and I -> all
        if variant == "stdp":
            # per-synapse weights (STDP changes each one), all starting at 6 nS
            exc_conn = event.FixedProb(p, seed=seed + 1).build(
                n_e, n, weight=lambda rng, k: np.full(k, 6.0, np.float32) * u.nS
            )
            stdp = rule or STDP(
                tau_pre=20 * u.ms,
                tau_post=20 * u.ms,
                A_plus=0.01 * u.nS,
                A_minus=0.0105 * u.nS,
                w_min=0 * u.nS,
                w_max=12 * u.nS,
            )
            exc_w = {}
        else:
            exc_conn, stdp, exc_w = event.FixedProb(p, seed=seed + 1), None, {"weight": 6 * u.nS}
        self.exc = Projection(
            self.E,
            self.N,
            exc_conn,
            synapse=Expon(5 * u.ms, g_initializer=g_e0),
            output=COBA(E=0 * u.mV),
            stdp=stdp,
            **exc_w,
        )
        self.inh = Projection(
            self.I,
            self.N,
            event.FixedProb(p, seed=seed + 2),
            weight=67 * u.nS,
            synapse=Expon(10 * u.ms, g_initializer=g_i0),
            output=COBA(E=-80 * u.mV),
        )


def main() -> None:
    def extra(ap):
        ap.add_argument("--variant", choices=("benchmark", "brette", "stdp"), default="benchmark")

    args = parse(__doc__.splitlines()[0], extra=extra)
    # every spike as (time, index), as Brian2's SpikeMonitor (memory ~ number of spikes)
    raster = {} if args.no_plot else {"spike": SpikeMonitor("N.spike")}
    net, res = run_and_report(
        "COBA network",
        lambda n, seed: COBANet(n, seed, args.variant),
        args,
        monitors=raster,
    )
    if not args.no_plot:
        _raster(res, os.path.join(os.path.dirname(__file__), "figures", "coba_raster.png"))


def _raster(res, path: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("  (matplotlib not installed: no raster plot)")
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    t, i = res.spikes("spike")
    first = i < 400
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.plot(np.asarray(t.to_value(u.ms))[first], i[first], ",k")
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("excitatory neuron")
    ax.set_title("COBA network (first 400 E neurons)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
