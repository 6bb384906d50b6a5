"""A network of multi-compartment cells and point neurons in one run.

100 ball-and-stick cells (Hodgkin-Huxley soma, passive dendrite, 3 compartments on the
dendrite) receive AMPA and NMDA (Mg2+-blocked) synapses on the dendrite from 200 Poisson
sources, and inhibition on the soma from 50 LIF interneurons, which the cells' own spikes
(detected at the soma) excite: Poisson -> cells -> LIF -> cells, all through
``nd.dyn.Projection`` with delays, in one ``nd.run``.

    python examples/dendrite_network.py [--n 100] [--t 300] [--rate 12] [--seed 0] [--no-plot]

Prints one JSON line: the firing rates of the cells and of the interneurons (Hz), the
number of cells that fired, build and run times. Writes the soma and dendrite voltage of
one cell, a raster and the population rates to examples/figures/dendrite_network.png (not
with ``--no-plot``).
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


class DendriticNet(nd.Network):
    def __init__(self, n=100, n_inputs=200, n_inh=50, rate=12.0, seed=0):
        self.inputs = nd.dyn.PoissonGroup(n_inputs, rate * u.Hz)
        morph = D.Morphology.ball_and_stick(20 * u.um, 300 * u.um, 2 * u.um)
        self.cells = c = D.Cell(
            morph, ncomp=3, Ra=100 * u.ohm * u.cm, n_cells=n, warn_d_lambda=False
        )
        c.paint("soma", D.HH())
        c.paint("dendrites", D.Leak(g=1e-4 * u.S / u.cm**2, E=-65 * u.mV))
        dend, soma = c.location("dend[0]", 0.8), c.location("soma", 0.5)
        self.ampa = c.place(dend, D.AMPA())
        self.nmda = c.place(dend, D.NMDA())
        self.gaba = c.place(soma, D.Exp2Syn(tau1=0.5 * u.ms, tau2=8 * u.ms, e=-80 * u.mV))
        self.spikes = c.detect_spikes(soma, threshold=-20 * u.mV)
        self.inh = nd.dyn.LIF(
            n_inh, tau=10 * u.ms, V_rest=-65 * u.mV, V_reset=-65 * u.mV, V_th=-50 * u.mV,
            tau_ref=2 * u.ms, R=100 * u.Mohm,
        )  # fmt: skip
        conn = event.FixedProb(0.1, seed=seed)
        self.p_ampa = nd.dyn.Projection(self.inputs, self.ampa, conn, weight=2 * u.nS,
                                         delay=1 * u.ms)  # fmt: skip
        self.p_nmda = nd.dyn.Projection(self.inputs, self.nmda, event.FixedProb(0.1, seed=seed),
                                         weight=0.3 * u.nS, delay=1 * u.ms)  # fmt: skip
        self.p_exc = nd.dyn.Projection(self.spikes, self.inh, event.FixedProb(0.2, seed=seed + 1),
                                        weight=1.5 * u.nS, delay=1.5 * u.ms)  # fmt: skip
        self.p_inh = nd.dyn.Projection(self.inh, self.gaba, event.FixedProb(0.2, seed=seed + 2),
                                        weight=2 * u.nS, delay=1 * u.ms)  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100, help="number of cells")
    ap.add_argument("--t", type=float, default=300.0, help="duration (ms)")
    ap.add_argument("--rate", type=float, default=12.0, help="Poisson rate (Hz)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-plot", action="store_true", help="write no figure")
    args = ap.parse_args()

    t0 = time.perf_counter()
    net = DendriticNet(args.n, rate=args.rate, seed=args.seed)
    build_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    mons = {"cells": net.spikes.spike, "inh": net.inh.spike}
    if not args.no_plot:  # the voltage of every cell at its soma and dendrite, for the figure
        c = net.cells
        mons.update(soma=c.V_at(c.location("soma", 0.5)), dend=c.V_at(c.location("dend[0]", 0.8)))
    res = nd.run(net, args.t * u.ms, dt=0.025 * u.ms, monitors=mons)
    run_s = time.perf_counter() - t0
    cells = np.asarray(res["cells"])
    inh = np.asarray(res["inh"])
    sec = args.t / 1000.0
    out = {
        "n": args.n,
        "t_ms": args.t,
        "rate_cells_hz": round(float(cells.sum() / args.n / sec), 3),
        "rate_inh_hz": round(float(inh.sum() / inh.shape[1] / sec), 3),
        "cells_fired": int((cells.sum(0) > 0).sum()),
        "build_s": round(build_s, 3),
        "run_s": round(run_s, 3),
    }
    if not args.no_plot:
        _figure(res, args)
    print(json.dumps(out))


def _figure(res, args) -> None:
    import _plots

    made = _plots.figure(
        "dendrite_network", 3, 1, figsize=(8, 7), sharex=True, height_ratios=(2, 3, 1.3)
    )
    if made is None:
        return
    fig, (ax_v, ax, ax_rate) = made
    t = np.asarray(res.times.to_value(u.ms))
    ax_v.plot(t, np.asarray(res["soma"].to_value(u.mV))[:, 0], color="k", lw=1, label="soma")
    ax_v.plot(t, np.asarray(res["dend"].to_value(u.mV))[:, 0], color="tab:green", lw=1,
              label="dendrite (synapses)")  # fmt: skip
    ax_v.set_ylabel("V of cell 0 (mV)")
    ax_v.legend(fontsize="small", loc="upper right")
    t_c, i_c = res.spikes("cells")
    t_i, i_i = res.spikes("inh")
    n_inh = np.asarray(res["inh"]).shape[1]
    _plots.network(
        "dendrite_network", f"{args.n} ball-and-stick cells and {n_inh} LIF interneurons",
        args.t, (t_c.to_value(u.ms), i_c, args.n), (t_i.to_value(u.ms), i_i, n_inh),
        labels=("cells", "interneurons"), axes=(fig, ax, ax_rate),
    )  # fmt: skip
    ax_v.set_title(ax.get_title())
    ax.set_title("")
    _plots.save(fig, "dendrite_network")


if __name__ == "__main__":
    main()
