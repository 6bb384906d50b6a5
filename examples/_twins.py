"""Shared by the string-model examples: run a model written as strings and its built-in
twin over the same f-I curve, print both spike counts and one JSON line, and assert that
they agree to within one spike per neuron."""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

import neurodyn as nd
import neurodyn.units as u


def compare(title: str, description: str, build, n: int = 20, t: float = 500.0) -> None:
    """``build(n) -> (strings group, built-in group)``, each of ``n`` neurons driven by
    currents from 0 to 1 nA; runs both for ``--t`` ms."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--n", type=int, default=n)
    ap.add_argument("--t", type=float, default=t, help="biological time in ms")
    args = ap.parse_args()
    strings, builtin = build(args.n)
    counts, run_s = {}, {}
    for label, group in (("strings", strings), ("built-in", builtin)):
        t0 = time.perf_counter()
        res = nd.run(group, args.t * u.ms, dt=0.1 * u.ms, monitors={"s": group.spike})
        counts[label] = np.asarray(res["s"]).sum(0).astype(int)
        run_s[label] = time.perf_counter() - t0
    print(f"{title} from strings and built-in: {args.n} neurons, {args.t:g} ms")
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
