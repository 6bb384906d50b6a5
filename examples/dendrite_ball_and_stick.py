"""A ball-and-stick neuron: Hodgkin-Huxley soma, passive dendrite, a current step.

The soma (20 x 20 um) carries NEURON's ``hh``, the dendrite (500 x 2 um) a leak; 0.3 nA
into the soma from 5 to 35 ms makes it fire, and the spikes spread passively (attenuated
and delayed) into the dendrite. Same numerics as NEURON's fixed step (backward Euler,
dt 0.025 ms): tests/dendrite/test_dendrite_neuron.py checks this cell against NEURON.

    python examples/dendrite_ball_and_stick.py [--amp 0.3] [--t 50] [--plot]

Prints one JSON line: spike times at the soma, the peak and the delay of the first spike
at the dendrite's end, build and run times.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

import neurodyn as nd
import neurodyn.units as u
from neurodyn import dendrite as D


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--amp", type=float, default=0.3, help="clamp amplitude (nA)")
    ap.add_argument("--t", type=float, default=50.0, help="duration (ms)")
    ap.add_argument("--plot", action="store_true", help="save a figure in examples/figures/")
    args = ap.parse_args()

    t0 = time.perf_counter()
    morph = D.Morphology.ball_and_stick(
        soma_diam=20 * u.um, dend_length=500 * u.um, dend_diam=2 * u.um
    )
    cell = D.Cell(morph, ncomp=5, cm=1 * u.uF / u.cm**2, Ra=100 * u.ohm * u.cm,
                  temperature=6.3 * u.celsius, V_initializer=-65 * u.mV)  # fmt: skip
    cell.paint("soma", D.HH())  # NEURON's hh defaults
    cell.paint("dendrites", D.Leak(g=1e-4 * u.S / u.cm**2, E=-65 * u.mV))
    soma, tip = cell.location("soma", 0.5), cell.location("dend[0]", 1.0)
    cell.place(soma, D.IClamp(delay=5 * u.ms, duration=30 * u.ms, amplitude=args.amp * u.nA))
    cell.detect_spikes(soma, threshold=-20 * u.mV)
    build_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    res = nd.run(
        cell,
        args.t * u.ms,
        dt=0.025 * u.ms,
        monitors={"soma": cell.V_at(soma), "tip": cell.V_at(tip), "spike": cell.spike,
                  "t_spike": cell.spike_time},
    )  # fmt: skip
    run_s = time.perf_counter() - t0

    t = np.asarray(res.times.to_value(u.ms))
    v_soma = np.asarray(res["soma"].to_value(u.mV))
    v_tip = np.asarray(res["tip"].to_value(u.mV))
    spikes = np.asarray(res["t_spike"].to_value(u.ms))[np.asarray(res["spike"])]
    out = {
        "spikes_ms": [round(float(s), 4) for s in spikes],
        "soma_peak_mV": round(float(v_soma.max()), 3),
        "tip_peak_mV": round(float(v_tip.max()), 3),
        "build_s": round(build_s, 3),
        "run_s": round(run_s, 3),
    }
    if len(spikes):
        window = (t > spikes[0]) & (t < spikes[0] + 5)
        out["tip_delay_ms"] = round(float(t[window][np.argmax(v_tip[window])] - spikes[0]), 3)
    if args.plot:
        import pathlib

        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 3.5))
        ax.plot(t, v_soma, label="soma(0.5)")
        ax.plot(t, v_tip, label="dend(1)")
        ax.set(xlabel="t (ms)", ylabel="V (mV)", title="ball-and-stick, 0.3 nA at the soma")
        ax.legend()
        path = pathlib.Path(__file__).resolve().parent / "figures" / "dendrite_ball_and_stick.png"
        path.parent.mkdir(exist_ok=True)
        fig.savefig(path, dpi=120, bbox_inches="tight")
        out["figure"] = str(path)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
