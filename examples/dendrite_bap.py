"""A backpropagating action potential in a reconstructed CA1 pyramidal cell.

The cell is n120 (tests/reference/neuron/n120.swc, 156 sections; NeuroMorpho.Org, Turner
archive), 4 compartments per section. The soma carries NEURON's ``hh``; the dendrites
carry the same channels at densities that fall with the path distance from the soma
(g_Na = 0.04 exp(-d / 350 um), g_K = 0.01 S/cm2, painted as functions of the distance)
and a leak of 1e-4 S/cm2. A 1 ms current pulse at the soma fires one action potential,
which travels back into the apical tree, shrinking with distance; with ``--passive`` the
dendrites have the leak only and the spike spreads passively (much steeper attenuation).

    python examples/dendrite_bap.py [--passive] [--amp 3] [--t 12] [--no-plot]

Prints one JSON line: the spike amplitude (peak - rest, mV) at the soma and its mean over
apical compartments in 100 um bins of path distance, the distance at which it falls to
half, the delay of the peak at the farthest bin, build and run times. Writes the voltage
at the soma and along the apical tree, and the amplitude against the distance, to
examples/figures/dendrite_bap.png (not with ``--no-plot``).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import time

import numpy as np

import neurodyn as nd
import neurodyn.units as u
from neurodyn import dendrite as D

SWC = pathlib.Path(__file__).resolve().parents[1] / "tests" / "reference" / "neuron" / "n120.swc"
S_CM2 = u.S / u.cm**2
REST = -65.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--passive", action="store_true", help="leak-only dendrites")
    ap.add_argument("--amp", type=float, default=3.0, help="pulse amplitude (nA)")
    ap.add_argument("--t", type=float, default=12.0, help="duration (ms)")
    ap.add_argument("--no-plot", action="store_true", help="write no figure")
    args = ap.parse_args()

    t0 = time.perf_counter()
    cell = D.Cell(D.Morphology.from_swc(SWC), ncomp=4, cm=1 * u.uF / u.cm**2,
                  Ra=100 * u.ohm * u.cm, V_initializer=REST * u.mV,
                  warn_d_lambda=False)  # fmt: skip
    cell.paint("soma", D.HH())
    if args.passive:
        cell.paint("dendrites", D.Leak(g=1e-4 * S_CM2, E=REST * u.mV))
    else:
        cell.paint(
            "dendrites",
            D.HH(
                g_Na=lambda d: 0.04 * S_CM2 * np.exp(-d.to_value(u.um) / 350.0),
                g_K=0.01 * S_CM2,
                g_L=1e-4 * S_CM2,
                E_L=REST * u.mV,
            ),
        )
    soma = cell.location("soma", 0.5)
    cell.place(soma, D.IClamp(delay=1 * u.ms, duration=1 * u.ms, amplitude=args.amp * u.nA))
    build_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    res = nd.run(cell, args.t * u.ms, dt=0.025 * u.ms, monitors={"V": cell.V})
    run_s = time.perf_counter() - t0

    V = np.asarray(res["V"].to_value(u.mV))  # (steps, nodes)
    t = np.asarray(res.times.to_value(u.ms))
    dist = np.asarray(cell.path_distance().to_value(u.um))
    apical = cell.compartments("apical")
    amp = V.max(0) - REST
    t_peak = t[V.argmax(0)]
    soma_amp = float(amp[soma.node])
    edges = np.arange(0, dist[apical].max() + 100, 100)
    bins = {}
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = apical[(dist[apical] >= lo) & (dist[apical] < hi)]
        if sel.size:
            bins[f"{int(lo)}-{int(hi)}"] = round(float(amp[sel].mean()), 2)
    order = np.argsort(dist[apical])
    d_sorted, a_sorted = dist[apical][order], amp[apical][order]
    below = np.flatnonzero(a_sorted < soma_amp / 2)
    half = float(d_sorted[below[0]]) if below.size else None
    far = apical[dist[apical] >= edges[-2]]
    out = {
        "dendrites": "passive" if args.passive else "active",
        "soma_amplitude_mV": round(soma_amp, 2),
        "apical_amplitude_mV_by_distance_um": bins,
        "half_amplitude_distance_um": None if half is None else round(half, 1),
        "far_peak_delay_ms": round(float(t_peak[far].mean() - t_peak[soma.node]), 3),
        "compartments": cell.n_compartments,
        "build_s": round(build_s, 3),
        "run_s": round(run_s, 3),
    }
    if not args.no_plot:
        _figure(t, V, dist, apical, amp, soma.node, args.passive)
    print(json.dumps(out))


def _figure(t, V, dist, apical, amp, soma_node, passive) -> None:
    import _plots

    made = _plots.figure("dendrite_bap", 1, 2, figsize=(10, 4))
    if made is None:
        return
    fig, (ax_v, ax_a) = made
    import matplotlib as mpl

    cmap = mpl.colormaps["viridis"]
    d_max = dist[apical].max()
    ax_v.plot(t, V[:, soma_node], color="k", lw=2, label="soma")
    for d in np.arange(100, d_max, 100):
        k = apical[np.argmin(np.abs(dist[apical] - d))]
        ax_v.plot(t, V[:, k], color=cmap(d / d_max), label=f"apical, {dist[k]:.0f} um")
    ax_v.set_xlabel("time (ms)")
    ax_v.set_ylabel("membrane potential (mV)")
    ax_v.set_title("voltage at the soma and along the apical tree")
    ax_v.legend(fontsize="x-small", ncols=2)
    ax_a.plot(dist[apical], amp[apical], ".", ms=3, color="tab:blue", label="apical compartments")
    ax_a.plot([0], [amp[soma_node]], "o", color="k", label="soma")
    ax_a.set_xlabel("path distance from the soma (um)")
    ax_a.set_ylabel("spike amplitude, peak - rest (mV)")
    ax_a.set_title(f"{'passive' if passive else 'active'} dendrites: amplitude vs distance")
    ax_a.legend(fontsize="small")
    _plots.save(fig, "dendrite_bap")


if __name__ == "__main__":
    main()
