"""Dendritic integration of synaptic input on a ball-and-stick cell.

A passive ball-and-stick (soma 20 x 20 um, dendrite 500 x 2 um, 11 compartments) receives
AMPA synapses (0.2 ms rise, 2 ms decay) at five distances along the dendrite and an NMDA
synapse (Jahr-Stevens Mg2+ block) at its far end. Eight copies of the cell run as one
population, one condition each: a single 0.5 nS AMPA input at each distance (the local
EPSP grows with distance, the somatic one shrinks and is delayed), ten synchronous inputs
at the far end with AMPA alone (sublinear: the local depolarisation eats the driving force)
and with AMPA + NMDA (the depolarisation relieves the Mg2+ block: the NMDA part adds more
than ten times its single-input share).

    python examples/dendrite_integration.py [--t 60] [--no-plot]

Prints one JSON line: somatic and local EPSP peaks (mV above rest) and the time to the
somatic peak for each distance, and the ten-input/ten-times-one ratios of the somatic
EPSP with AMPA alone, with AMPA + NMDA, and of the NMDA part alone (what NMDA adds).
Writes the EPSPs at the soma and at the synapse, and ten inputs against ten times one, to
examples/figures/dendrite_integration.png (not with ``--no-plot``).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

import neurodyn as nd
import neurodyn.units as u
from neurodyn import dendrite as D
from neurodyn import event

XS = (0.1, 0.3, 0.5, 0.7, 0.9)
W_AMPA, W_NMDA, T_IN = 0.5, 0.5, 5.0  # nS, nS, ms
REST = -65.0


class Integration(nd.Network):
    """Cells 0-4: one AMPA input at XS[k]; 5: ten at the far end; 6: one AMPA + NMDA at
    the far end; 7: ten AMPA + NMDA there."""

    def __init__(self):
        n = 8
        morph = D.Morphology.ball_and_stick(20 * u.um, 500 * u.um, 2 * u.um)
        self.cells = c = D.Cell(morph, ncomp=11, Ra=100 * u.ohm * u.cm, n_cells=n,
                                V_initializer=REST * u.mV, warn_d_lambda=False)  # fmt: skip
        c.paint("all", D.Leak(g=1e-4 * u.S / u.cm**2, E=REST * u.mV))
        self.soma = c.location("soma", 0.5)
        self.sites = [c.location("dend[0]", x) for x in XS]
        self.gen = nd.dyn.SpikeTimeGroup(n, np.arange(n), np.full(n, T_IN) * u.ms)
        self.ampa, self.proj = [], []
        for k, loc in enumerate(self.sites):
            w = np.zeros((n, n))
            w[k, k] = W_AMPA
            if k == len(XS) - 1:
                w[5, 5], w[6, 6], w[7, 7] = 10 * W_AMPA, W_AMPA, 10 * W_AMPA
            site = c.place(loc, D.AMPA())
            self.ampa.append(site)
            self.proj.append(nd.dyn.Projection(self.gen, site, event.CSR.from_dense(w * u.nS)))
        w = np.zeros((n, n))
        w[6, 6], w[7, 7] = W_NMDA, 10 * W_NMDA
        self.nmda = c.place(self.sites[-1], D.NMDA())
        self.p_nmda = nd.dyn.Projection(self.gen, self.nmda, event.CSR.from_dense(w * u.nS))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--t", type=float, default=60.0, help="duration (ms)")
    ap.add_argument("--no-plot", action="store_true", help="write no figure")
    args = ap.parse_args()

    t0 = time.perf_counter()
    net = Integration()
    c = net.cells
    mons = {"soma": c.V_at(net.soma)}
    mons.update({f"x{k}": c.V_at(loc) for k, loc in enumerate(net.sites)})
    res = nd.run(net, args.t * u.ms, dt=0.025 * u.ms, monitors=mons)
    run_s = time.perf_counter() - t0
    t = np.asarray(res.times.to_value(u.ms))
    soma = np.asarray(res["soma"].to_value(u.mV)) - REST  # (steps, cells)
    peak = soma.max(0)
    t_peak = t[soma.argmax(0)] - T_IN
    local = [float(np.asarray(res[f"x{k}"].to_value(u.mV))[:, k].max() - REST) for k in range(5)]
    out = {
        "distance_um": [round(10 + 500 * x, 1) for x in XS],
        "soma_epsp_mV": [round(float(p), 4) for p in peak[:5]],
        "local_epsp_mV": [round(v, 3) for v in local],
        "soma_time_to_peak_ms": [round(float(tp), 3) for tp in t_peak[:5]],
        "ten_inputs_ratio_ampa": round(float(peak[5] / (10 * peak[4])), 3),
        "ten_inputs_ratio_ampa_nmda": round(float(peak[7] / (10 * peak[6])), 3),
        # the NMDA part alone: what it adds to AMPA, ten inputs against ten times one
        "ten_inputs_ratio_nmda_part": round(
            float((peak[7] - peak[5]) / (10 * (peak[6] - peak[4]))), 3
        ),
        "run_s": round(run_s, 3),
    }
    if not args.no_plot:
        local_v = [np.asarray(res[f"x{k}"].to_value(u.mV))[:, k] - REST for k in range(5)]
        _figure(t, soma, local_v, out["distance_um"])
    print(json.dumps(out))


def _figure(t, soma, local_v, distances) -> None:
    import _plots

    made = _plots.figure("dendrite_integration", 1, 3, figsize=(12, 3.8))
    if made is None:
        return
    fig, (ax_s, ax_l, ax_n) = made
    import matplotlib as mpl

    colors = mpl.colormaps["viridis"](np.linspace(0, 0.9, len(distances)))
    for k, (d, col) in enumerate(zip(distances, colors)):
        ax_s.plot(t, soma[:, k], color=col, label=f"{d:g} um")
        ax_l.plot(t, local_v[k], color=col, label=f"{d:g} um")
    ax_s.set_title("somatic EPSP, one AMPA input")
    ax_l.set_title("local EPSP at the synapse")
    ax_n.plot(t, soma[:, 5], color="tab:blue", label="10 AMPA inputs")
    ax_n.plot(t, 10 * soma[:, 4], "--", color="tab:blue", label="10 x one AMPA")
    ax_n.plot(t, soma[:, 7], color="tab:red", label="10 AMPA + NMDA")
    ax_n.plot(t, 10 * soma[:, 6], "--", color="tab:red", label="10 x one AMPA + NMDA")
    ax_n.set_title(f"somatic EPSP, inputs at {distances[-1]:g} um")
    for ax in (ax_s, ax_l, ax_n):
        ax.set_xlabel("time (ms)")
        ax.set_ylabel("depolarisation from rest (mV)")
        title = None if ax is ax_n else "synapse at"
        ax.legend(fontsize="x-small", title=title, title_fontsize="x-small")
    _plots.save(fig, "dendrite_integration")


if __name__ == "__main__":
    main()
