"""Phase-plane analysis of the FitzHugh-Nagumo neuron (neurodyn.dyn.FitzHughNagumo):
nullclines, fixed points with their stability and trajectories, below threshold
(I = 0: one stable fixed point, an excitable cell) and above (I = 0.5: the fixed
point has lost stability and a limit cycle fires periodically); the spiking neuron is
also simulated with nd.run and its period measured from its spikes. Draws
examples/figures/analysis_phase_plane.png and prints one JSON line at the end.

    python examples/analysis_phase_plane.py [--current 0.5] [--t 300] [--no-plot]
"""

from __future__ import annotations

import argparse
import json
import os
import time

import jax.numpy as jnp
import numpy as np

import neurodyn as nd
import neurodyn.units as u
from neurodyn import analysis
from neurodyn.dyn import FitzHughNagumo, Monitor

V_RANGE, W_RANGE = (-2.5, 2.5), (-1.0, 2.0)


def vector_field(neuron):
    """``f(x, I) -> dx/dt`` (per ms): the model's own pure vector field (the one the
    simulation integrates), for the analysis."""

    def f(x, current):
        d = neuron.vector_field(0 * u.ms, {"V": x[0], "w": x[1]}, current)
        return jnp.stack([d["V"].to_value(u.kHz), d["w"].to_value(u.kHz)])

    return f


def describe(plane, current) -> list[dict]:
    out = []
    for fp in plane.fixed_points():
        ev = np.asarray(fp.eigenvalues)
        print(
            f"  I = {current:g}: fixed point V = {fp.x[0]:.4f}, w = {fp.x[1]:.4f}: {fp.kind}, "
            f"eigenvalues {np.round(ev, 4)}"
        )
        out.append({"V": round(float(fp.x[0]), 5), "w": round(float(fp.x[1]), 5), "kind": fp.kind})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--current", type=float, default=0.5, help="suprathreshold input I")
    ap.add_argument("--t", type=float, default=300.0, help="simulated time in ms")
    ap.add_argument("--no-plot", action="store_true")
    args = ap.parse_args()
    t0 = time.perf_counter()
    neuron = FitzHughNagumo(1, I_ext=args.current)
    f = vector_field(neuron)
    planes = {
        I: analysis.PhasePlane(f, V_RANGE, W_RANGE, args=(I,), labels=("V", "w"))
        for I in (0.0, args.current)
    }
    print("FitzHugh-Nagumo (a = 0.7, b = 0.8, tau_w = 12.5)")
    fixed = {I: describe(pp, I) for I, pp in planes.items()}

    # the spiking neuron itself, simulated by neurodyn
    mons = {"V": Monitor(neuron.V), "w": Monitor(neuron.w), "spike": Monitor(neuron.spike)}
    res = nd.run(neuron, args.t * u.ms, dt=0.05 * u.ms, monitors=mons)
    spikes = np.asarray(res["spike"])
    isi = np.asarray(analysis.isi(spikes, dt=0.05 * u.ms).to_value(u.ms))[0]
    isi = isi[np.isfinite(isi)]
    period = float(isi[1:].mean()) if isi.size > 1 else float("nan")  # skip the transient
    rate = float(analysis.firing_rate(spikes, 0.05 * u.ms).to_value(u.Hz)[0])
    print(
        f"  simulated at I = {args.current:g}: {int(spikes.sum())} spikes in {args.t:g} ms, ",
        end="",
    )
    print(f"period {period:.3f} ms (rate {rate:.1f} Hz), ISI CV {np.std(isi[1:]) / period:.2e}")

    if not args.no_plot:
        path = os.path.join(os.path.dirname(__file__), "figures", "analysis_phase_plane.png")
        figure(planes, res, args.current, path)
    elapsed = time.perf_counter() - t0
    print(
        json.dumps(
            {
                "fixed_points_I0": fixed[0.0],
                "fixed_points_I": fixed[args.current],
                "current": args.current,
                "period_ms": round(period, 4),
                "rate_hz": round(rate, 3),
                "elapsed_s": round(elapsed, 2),
            }
        )
    )


def figure(planes, res, current, path: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("  (matplotlib not installed: no figure)")
        return
    fig = plt.figure(figsize=(11, 9), layout="constrained")
    grid = fig.add_gridspec(2, 2, height_ratios=[2.2, 1])
    starts = {0.0: [[-2.0, -0.5], [0.0, -0.8], [-1.0, 1.5]], current: [[-2.0, -0.5], [-0.3, 0.5]]}
    for k, (I, pp) in enumerate(planes.items()):
        ax = fig.add_subplot(grid[0, k])
        analysis.phase_portrait(pp, ax=ax, trajectories=starts[I], duration=150.0, annotate=True)
        regime = "excitable" if all(fp.stable for fp in pp.fixed_points()) else "oscillating"
        ax.set_title(f"I = {I:g} ({regime})")
    ax = fig.add_subplot(grid[1, :])
    v = np.asarray(res["V"])[:, 0]
    w = np.asarray(res["w"])[:, 0]
    analysis.traces(res.times, np.stack([v, w], axis=1), ax=ax, labels=["V", "w"])
    ax.set_ylabel("V, w (dimensionless)")
    ax.set_title(f"FitzHughNagumo simulated with nd.run at I = {current:g}")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"  figure written to {path}")


if __name__ == "__main__":
    main()
