"""COBA-LIF from equation strings (``NeuronGroup`` + ``Synapses``, examples/coba_strings.py)
against the same network from the built-in classes (``examples/coba.py``: LIF, Projection
with Expon + COBA).

Both are the project's COBA-LIF benchmark network (Brette et al. 2007; 4000 neurons,
80 % excitatory, p = 80 / N, 6 nS / 67 nS conductance jumps, tau_e 5 ms, tau_i 10 ms,
E_e 0 mV, E_i -80 mV, refractory 5 ms, drive 200 pA through R = 100 Mohm, V0 ~ N(-55,
2) mV), with the same connectivity (same seeds) and exponential Euler; 1 s at dt = 0.1
ms. Each run is timed after a first (compiling) run, interleaved, ``--repeats`` times
(each continues the network from where the previous run stopped, reusing the compiled
program); the minimum and median are printed with the firing rates of the first run.

    taskset -c 0 python benchmarks/strings.py [--n 4000] [--t 1000] [--repeats 7] [--stdp]

``--stdp``: the same network with pair-based additive STDP on every excitatory synapse
(examples/coba.py ``--variant stdp``: A+ = 0.01 nS, A- = 0.0105 nS, tau 20 ms, weights in
[0, 12] nS), against the same rule written as Brian2 text: per-synapse event-driven traces
(``apre``, ``apost``, advanced exactly from their last update) and ``on_pre`` / ``on_post``
pathways of several statements, each compiled into one multi-field ``update_op`` (plus one
``scatter_op`` for ``ge_post += w``).

(pin to one core: ``taskset -c 0``; ``NEURODYN_NATIVE_THREADS=1`` is set here so that
the native event kernels stay on the calling thread).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import time

os.environ.setdefault("NEURODYN_NATIVE_THREADS", "1")

import numpy as np

import neurodyn as nd
import neurodyn.units as u
from neurodyn.dyn import Monitor

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "examples"))
from coba import COBANet
from coba_strings import EQUATIONS, StringCOBA

from neurodyn import event
from neurodyn.dyn import NeuronGroup, Normal, Synapses

STDP_MODEL = """
w : siemens
dapre/dt = -apre / tau_pre : 1 (event-driven)
dapost/dt = -apost / tau_post : 1 (event-driven)
"""
STDP_PRE = "ge_post += w; apre += 1; w = clip(w - A_minus * apost, 0 * nS, w_max)"
STDP_POST = "apost += 1; w = clip(w + A_plus * apre, 0 * nS, w_max)"


class StringSTDPCOBA(nd.Network):
    """examples/coba_strings.py with Brian2-style text STDP on the excitatory synapses
    (the twin of ``COBANet(n, seed, "stdp")``)."""

    def __init__(self, n: int = 4000, seed: int = 0):
        ns = dict(
            V_rest=-60 * u.mV,
            R=100 * u.Mohm,
            I_ext=200 * u.pA,
            E_e=0 * u.mV,
            E_i=-80 * u.mV,
            tau=20 * u.ms,
            tau_e=5 * u.ms,
            tau_i=10 * u.ms,
            V_th=-50 * u.mV,
            V_reset=-60 * u.mV,
            w_i=67 * u.nS,
            tau_pre=20 * u.ms,
            tau_post=20 * u.ms,
            A_plus=0.01 * u.nS,
            A_minus=0.0105 * u.nS,
            w_max=12 * u.nS,
        )
        n_e = int(0.8 * n)
        self.N = NeuronGroup(
            n,
            EQUATIONS,
            threshold="v >= V_th",
            reset="v = V_reset",
            refractory=5 * u.ms,
            method="exponential_euler",
            namespace=ns,
            name="N",
        )
        self.N.v = Normal(-55 * u.mV, 2 * u.mV)
        self.E, self.I = self.N[:n_e], self.N[n_e:]
        p = 80 / n
        self.exc = Synapses(
            self.E,
            self.N,
            event.FixedProb(p, seed=seed + 1),
            STDP_MODEL,
            on_pre=STDP_PRE,
            on_post=STDP_POST,
            namespace=ns,
            w=6 * u.nS,
        )
        self.inh = Synapses(
            self.I, self.N, event.FixedProb(p, seed=seed + 2), on_pre="gi += w_i", namespace=ns
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=4000)
    ap.add_argument("--t", type=float, default=1000.0, help="biological time in ms")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--out", default=None, help="write the results as JSON here")
    ap.add_argument("--stdp", action="store_true", help="the STDP variant (see above)")
    args = ap.parse_args()
    if args.stdp:
        makers = (("built-in", lambda n, s: COBANet(n, s, "stdp")), ("strings", StringSTDPCOBA))
    else:
        makers = (("built-in", COBANet), ("strings", StringCOBA))
    T, dt = args.t * u.ms, 0.1 * u.ms
    nets, mons, rates = {}, {}, {}
    for label, make in makers:
        nd.random.seed(0)
        t0 = time.perf_counter()
        net = make(args.n, 0)
        build = time.perf_counter() - t0
        mons[label] = {"E": Monitor(net.E.spike, every=T), "I": Monitor(net.I.spike, every=T)}
        t0 = time.perf_counter()
        res = nd.run(net, T, dt=dt, monitors=mons[label])
        first = time.perf_counter() - t0
        s = args.t / 1000
        rates[label] = (
            float(np.asarray(res["E"]).sum() / net.E.num / s),
            float(np.asarray(res["I"]).sum() / net.I.num / s),
        )
        nets[label] = net
        print(
            f"{label:9s} build {build:.2f} s, first run (compile + run) {first:.2f} s, "
            f"rates E {rates[label][0]:.1f} Hz, I {rates[label][1]:.1f} Hz"
        )
    samples = {k: [] for k in nets}
    for _ in range(args.repeats):
        for label, net in nets.items():  # each run continues the previous one
            t0 = time.perf_counter()
            res = nd.run(net, T, dt=dt, monitors=mons[label])
            np.asarray(res["E"])
            samples[label].append(time.perf_counter() - t0)
    out = {}
    for label, s in samples.items():
        out[label] = {
            "min_s": min(s),
            "median_s": float(np.median(s)),
            "rate_E_hz": rates[label][0],
            "rate_I_hz": rates[label][1],
        }
        print(f"{label:9s} run min {min(s):.4f} s, median {np.median(s):.4f} s")
    ratio = out["strings"]["min_s"] / out["built-in"]["min_s"]
    ratio_med = out["strings"]["median_s"] / out["built-in"]["median_s"]
    print(f"strings / built-in: {ratio:.3f} (min), {ratio_med:.3f} (median)")
    out.update({"n": args.n, "t_ms": args.t, "stdp": args.stdp})
    out.update({"ratio_min": ratio, "ratio_median": ratio_med})
    print(json.dumps(out))
    if args.out:
        pathlib.Path(args.out).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
