"""A converged NEURON reference for the accuracy of neurodyn.dendrite's fixed steps
(tests/dendrite/test_dendrite_neuron.py; benchmarks/dendrite.py reports the same).

The benchmark's passive-dominated cell (n120, nseg 4, Ra 100 ohm cm, cm 1 uF/cm2, 6.3 degC;
hh in the soma with gnabar 0.6 and gkbar 0.18 S/cm2, pas 1e-4 S/cm2 and -65 mV in the
dendrites; IClamp 2 nA at soma(0.5) from 5 to 35 ms; v_init -65 mV, 50 ms, exact hh rates)
run with Crank-Nicolson (``secondorder = 2``) at dt 0.001 ms, and with backward Euler and
Crank-Nicolson at dt 0.025 ms. Run with the interpreter of the NEURON venv::

    benchmarks/.envs/neuron/bin/python tests/reference/generate_neuron_dendrite_converged.py

It writes ``tests/reference/neuron/n120_converged.npz``: the soma trace every 0.1 ms
(``v_<run>``, t = 0.1 ... 50 ms) and the spike times (``spikes_<run>``: upward crossings
of -20 mV, linearly interpolated on the full-resolution trace) of the runs ``cn_0.001``
(the reference), ``be_0.025`` and ``cn_0.025``.
"""

from __future__ import annotations

import os

import numpy as np
from neuron import h

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "neuron")
SWC = os.path.join(OUT, "n120.swc")
THRESHOLD = -20.0

h.load_file("stdrun.hoc")
h.load_file("import3d.hoc")


class Cell:
    pass


def crossings(v, dt):
    k = np.flatnonzero((v[:-1] < THRESHOLD) & (v[1:] >= THRESHOLD))
    return (k + (THRESHOLD - v[k]) / (v[k + 1] - v[k])) * dt


def main():
    swc = h.Import3d_SWC_read()
    swc.quiet = 1
    swc.input(SWC)
    c = Cell()
    h.Import3d_GUI(swc, 0).instantiate(c)
    for sec in c.all:
        sec.nseg, sec.Ra, sec.cm = 4, 100.0, 1.0
        if "soma" in sec.name():
            sec.insert("hh")
            for seg in sec:
                seg.hh.gnabar, seg.hh.gkbar = 0.6, 0.18
        else:
            sec.insert("pas")
            for seg in sec:
                seg.pas.g, seg.pas.e = 1e-4, -65.0
    stim = h.IClamp(c.soma[0](0.5))
    stim.delay, stim.dur, stim.amp = 5.0, 30.0, 2.0
    h.celsius = 6.3
    h.usetable_hh = 0
    vec = h.Vector()
    vec.record(c.soma[0](0.5)._ref_v)
    out = {}
    for name, dt, order in (("cn_0.001", 0.001, 2), ("be_0.025", 0.025, 0), ("cn_0.025", 0.025, 2)):
        h.dt, h.steps_per_ms, h.secondorder = dt, 1.0 / dt, order
        h.finitialize(-65.0)
        h.continuerun(50.0)
        v = np.array(vec)  # t = 0, dt, 2 dt, ...
        step = int(round(0.1 / dt))
        out[f"v_{name}"] = v[step::step][:500]
        out[f"spikes_{name}"] = crossings(v, dt)
    out["version"] = np.array([h.nrnversion()])
    np.savez_compressed(os.path.join(OUT, "n120_converged.npz"), **out)
    print({k: np.shape(v) for k, v in out.items()})


if __name__ == "__main__":
    main()
