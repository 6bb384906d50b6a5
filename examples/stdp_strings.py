"""Spike-timing dependent plasticity as in Brian2's example (Song, Miller & Abbott 2000),
written as Brian2 strings: 1000 Poisson inputs at 15 Hz onto one conductance-based LIF,
additive STDP with event-driven traces (advanced exactly between spikes) and weights
clipped to [0, gmax]. The weights become bimodal: most go to 0 or to gmax.

Prints the weight distribution (a text histogram) and a JSON line.

    python examples/stdp_strings.py [--n 1000] [--t 20000] [--backend dense|event] [--no-plot]

Writes the weight distribution before and after to examples/figures/stdp_strings.png (not
with ``--no-plot``).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

import neurodyn as nd
import neurodyn.units as u
from neurodyn import event
from neurodyn.dyn import NeuronGroup, Synapses

NEURONS = """
dv/dt = (ge * (Ee-v) + El - v) / taum : volt
dge/dt = -ge / taue : 1
"""
SYNAPSES = """
w : 1
dApre/dt = -Apre / taupre : 1 (event-driven)
dApost/dt = -Apost / taupost : 1 (event-driven)
"""
ON_PRE = """
ge += w
Apre += dApre
w = clip(w + Apost, 0, gmax)
"""
ON_POST = """
Apost += dApost
w = clip(w + Apre, 0, gmax)
"""


def build(n: int = 1000, backend: str = "dense", seed: int = 0) -> nd.Network:
    taupre = taupost = 20 * u.ms
    gmax = 0.01 * 1000 / n  # the example's total conductance at any n
    d_apre = 0.01
    ns = dict(
        taum=10 * u.ms,
        taupre=taupre,
        taupost=taupost,
        Ee=0 * u.mV,
        vt=-54 * u.mV,
        vr=-60 * u.mV,
        El=-74 * u.mV,
        taue=5 * u.ms,
        gmax=gmax,
        dApre=d_apre * gmax,
        dApost=-d_apre * 1.05 * gmax,  # -dApre * taupre / taupost * 1.05
        F=15 * u.Hz,
    )
    nd.random.seed(seed)
    net = nd.Network()
    net.inputs = NeuronGroup(n, "", threshold="rand() < F*dt", namespace=ns)
    net.neuron = NeuronGroup(
        1, NEURONS, threshold="v > vt", reset="v = vr", method="euler", namespace=ns
    )
    net.neuron.v = ns["vr"]
    net.S = Synapses(
        net.inputs,
        net.neuron,
        event.AllToAll(),
        SYNAPSES,
        on_pre=ON_PRE,
        on_post=ON_POST,
        namespace=ns,
        backend=backend,
    )
    net.S.w = "rand() * gmax"
    net.gmax = gmax
    return net


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000, help="number of inputs")
    ap.add_argument("--t", type=float, default=20000.0, help="biological time in ms")
    ap.add_argument("--backend", choices=("dense", "event"), default="dense")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-plot", action="store_true", help="write no figure")
    args = ap.parse_args()
    t0 = time.perf_counter()
    net = build(args.n, args.backend, args.seed)
    build_s = time.perf_counter() - t0
    w0 = np.array(net.S.w.value) / net.gmax  # a copy: the weights before the run
    t0 = time.perf_counter()
    res = nd.run(
        net, args.t * u.ms, dt=0.1 * u.ms, monitors={"s": nd.dyn.SpikeMonitor(net.neuron.spike)}
    )
    run_s = time.perf_counter() - t0
    w = np.asarray(net.S.w.value) / net.gmax
    rate = len(res.spikes("s")[0]) / (args.t / 1000)
    counts, edges = np.histogram(w, bins=10, range=(0, 1))
    print(f"STDP (Song, Miller & Abbott 2000): {args.n} inputs, {args.t:g} ms, {args.backend}")
    print(f"  postsynaptic rate {rate:.1f} Hz; w / gmax:")
    for c, lo in zip(counts, edges):
        print(f"  {lo:4.1f}-{lo + 0.1:3.1f} {'#' * int(60 * c / max(counts.max(), 1))} {c}")
    if not args.no_plot:
        _figure(w0, w, rate, args)
    print(
        json.dumps(
            {
                "n": args.n,
                "t_ms": args.t,
                "post_rate_hz": round(rate, 3),
                "frac_below_0.1": round(float(np.mean(w < 0.1)), 4),
                "frac_above_0.9": round(float(np.mean(w > 0.9)), 4),
                "build_s": round(build_s, 3),
                "run_s": round(run_s, 3),
            }
        )
    )


def _figure(w0, w, rate, args) -> None:
    import _plots

    made = _plots.figure("stdp_strings", figsize=(7, 4))
    if made is None:
        return
    fig, ax = made
    bins = np.linspace(0, 1, 21)
    ax.hist(w0, bins=bins, color="grey", alpha=0.5, label="before (uniform)")
    ax.hist(w, bins=bins, histtype="step", lw=2, color="tab:blue",
            label=f"after {args.t / 1000:g} s (post. rate {rate:.1f} Hz)")  # fmt: skip
    ax.set_xlabel("weight w / gmax")
    ax.set_ylabel("synapses")
    ax.set_title(f"STDP (Song, Miller & Abbott 2000): {args.n} Poisson inputs")
    ax.legend(fontsize="small", loc="upper center")
    _plots.save(fig, "stdp_strings")


if __name__ == "__main__":
    main()
