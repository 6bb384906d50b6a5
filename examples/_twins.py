"""Shared by the string-model examples: run a model written as strings and its built-in
twin over the same f-I curve, print both spike counts and one JSON line, and assert that
they agree to within one spike per neuron. Without ``--no-plot`` they also write the f-I
curves and the voltage of one neuron of both to examples/figures/<figure>.png."""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

import neurodyn as nd
import neurodyn.units as u


def compare(
    title: str, description: str, build, n: int = 20, t: float = 500.0, figure=None
) -> None:
    """``build(n) -> (strings group, built-in group)``, each of ``n`` neurons driven by
    currents from 0 to 1 nA; runs both for ``--t`` ms. ``figure``: the name of the
    figure (none without it or with ``--no-plot``)."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--n", type=int, default=n)
    ap.add_argument("--t", type=float, default=t, help="biological time in ms")
    ap.add_argument("--no-plot", action="store_true", help="write no figure")
    args = ap.parse_args()
    plot = figure is not None and not args.no_plot
    strings, builtin = build(args.n)
    counts, run_s, volts = {}, {}, {}
    for label, group in (("strings", strings), ("built-in", builtin)):
        mons = {"s": group.spike}
        if plot:  # the membrane potential (v or V), for the figure only
            mons["V"] = "v" if "v" in group.states() else "V"
        t0 = time.perf_counter()
        res = nd.run(group, args.t * u.ms, dt=0.1 * u.ms, monitors=mons)
        counts[label] = np.asarray(res["s"]).sum(0).astype(int)
        run_s[label] = time.perf_counter() - t0
        if plot:
            volts[label] = np.asarray(res["V"].to_value(u.mV))
            t_ms = np.asarray(res.times.to_value(u.ms))
    print(f"{title} from strings and built-in: {args.n} neurons, {args.t:g} ms")
    print("  I (nA)   " + " ".join(f"{x:5.2f}" for x in np.linspace(0, 1, args.n)))
    for label in counts:
        print(f"  {label:9s}" + " ".join(f"{c:5d}" for c in counts[label]))
    diff = int(np.abs(counts["strings"] - counts["built-in"]).max())
    rates = {k: float(v.mean() / (args.t / 1000)) for k, v in counts.items()}
    print(f"  mean rate: strings {rates['strings']:.2f} Hz, built-in {rates['built-in']:.2f} Hz")
    assert diff <= 1, f"spike counts differ by {diff}: {counts}"
    if plot:
        _figure(figure, title, args, counts, t_ms, volts)
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


def _figure(name, title, args, counts, t_ms, volts) -> None:
    import _plots

    made = _plots.figure(name, 1, 2, figsize=(11, 4), width_ratios=(2, 3))
    if made is None:
        return
    fig, (ax_f, ax_v) = made
    current = np.linspace(0, 1, args.n)
    seconds = args.t / 1000
    ax_f.plot(current, counts["built-in"] / seconds, "o", color="k", mfc="none", ms=8,
              label="built-in")  # fmt: skip
    ax_f.plot(current, counts["strings"] / seconds, "x", color="tab:red", label="strings")
    ax_f.set_xlabel("input current (nA)")
    ax_f.set_ylabel("firing rate (Hz)")
    ax_f.set_title(f"f-I curve over {args.t:g} ms")
    ax_f.legend(fontsize="small")
    k = args.n // 4  # a neuron low on the f-I curve
    shown = t_ms <= min(args.t, 100.0)
    ax_v.plot(t_ms[shown], volts["built-in"][shown, k], color="k", lw=2.5, alpha=0.35,
              label="built-in")  # fmt: skip
    ax_v.plot(t_ms[shown], volts["strings"][shown, k], "--", color="tab:red", lw=1,
              label="strings")  # fmt: skip
    ax_v.set_xlabel("time (ms)")
    ax_v.set_ylabel("membrane potential (mV)")
    ax_v.set_title(f"{title}: neuron {k} ({current[k]:.2f} nA)")
    ax_v.legend(fontsize="small", loc="upper right")
    _plots.save(fig, name)
