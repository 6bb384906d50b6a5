"""Shared command line and timing for the network examples: build, a first run
(compile + run), then a second run of the same length reusing the compiled program
(pure run time); prints E/I rates and one JSON line."""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

import neurodyn as nd
import neurodyn.units as u
from neurodyn.dyn import Monitor


def parse(description: str, n: int = 4000, t: float = 1000.0, extra=None):
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--n", type=int, default=n)
    ap.add_argument("--t", type=float, default=t, help="biological time in ms")
    ap.add_argument("--seed", type=int, default=0)
    if extra is not None:
        extra(ap)
    return ap.parse_args()


def run_and_report(title: str, make_net, args, dt=0.1 * u.ms, monitors=None):
    """Build ``make_net(n, seed)`` (a network with ``E`` and ``I`` populations or
    views), time it and print its rates; returns (net, result of the first run)."""
    nd.random.seed(args.seed)
    t0 = time.perf_counter()
    net = make_net(args.n, args.seed)
    build_s = time.perf_counter() - t0
    T = args.t * u.ms
    mons = {"E": Monitor(net.E.spike, every=T), "I": Monitor(net.I.spike, every=T)}
    mons.update(monitors or {})
    t0 = time.perf_counter()
    res = nd.run(net, T, dt=dt, monitors=mons)
    first_s = time.perf_counter() - t0
    net.reset_state()
    t0 = time.perf_counter()
    nd.run(net, T, dt=dt, monitors=mons)
    run_s = time.perf_counter() - t0
    seconds = args.t / 1000
    rate_e = float(np.asarray(res["E"]).sum() / net.E.num / seconds)
    rate_i = float(np.asarray(res["I"]).sum() / net.I.num / seconds)
    compile_s = max(first_s - run_s, 0.0)
    print(f"{title}: {args.n} neurons, {args.t:g} ms at dt = {dt}")
    print(f"  excitatory rate {rate_e:.1f} Hz, inhibitory rate {rate_i:.1f} Hz")
    print(f"  build {build_s:.2f} s, compile {compile_s:.2f} s, run {run_s:.3f} s")
    print(
        json.dumps(
            {
                "rate_E_hz": round(rate_e, 3),
                "rate_I_hz": round(rate_i, 3),
                "n": args.n,
                "t_ms": args.t,
                "build_s": round(build_s, 3),
                "compile_s": round(compile_s, 3),
                "run_s": round(run_s, 4),
            }
        )
    )
    return net, res
