"""NEURON references for neurodyn.dendrite (tests/dendrite/test_neuron_reference.py).

Run with the interpreter of the NEURON venv (``python3 -m venv benchmarks/.envs/neuron &&
benchmarks/.envs/neuron/bin/pip install neuron numpy``)::

    benchmarks/.envs/neuron/bin/python tests/reference/generate_neuron_dendrite.py

It writes into tests/reference/neuron/:

- ``import3d_cases.json``: small SWC files (their text included) and the sections NEURON's
  Import3d makes of them (names, parents, parent x, 3-D points);
- ``n120_geometry.npz``: area and ``ri`` of every segment of the CA1 cell n120.swc
  (nseg = 4, Ra = 100 ohm cm), ``lambda_f(100)`` of every section and the nseg of the
  d_lambda rule (0.1, cm = 1 uF/cm2);
- ``passive_cable.npz``, ``ball_and_stick.npz``, ``n120_hh_soma.npz`` (hh soma, pas
  dendrites, 2 nA at the soma), ``n120_hh_all.npz`` (hh everywhere, 0.1 nA at the apical
  tip, SWC point 410): voltage traces (every 0.1 ms; each row is the value after a
  step, as neurodyn's monitors) and spike times, fixed step dt = 0.025 ms, backward
  Euler (``secondorder = 0``) unless the file says otherwise, ``usetable_hh = 0`` (exact
  rates) unless it says otherwise.

Spike times are upward crossings of -20 mV, linearly interpolated between the steps of
the full-resolution trace; NEURON's own NetCon times (the end of the step) are stored
too.
"""

from __future__ import annotations

import json
import os
import tempfile

import numpy as np
from neuron import h

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "neuron")
SWC = os.path.join(OUT, "n120.swc")
DT = 0.025
EVERY = 4  # store every 4th step: 0.1 ms
THRESHOLD = -20.0

h.load_file("stdrun.hoc")
h.load_file("import3d.hoc")


def clear():
    for sec in list(h.allsec()):
        h.delete_section(sec=sec)


def load_swc(path):
    clear()
    swc = h.Import3d_SWC_read()
    swc.quiet = 1
    swc.input(path)
    h.Import3d_GUI(swc, 0).instantiate(None)
    return {sec.name(): sec for sec in h.allsec()}


def sections_json():
    out = []
    for sec in h.allsec():
        ps = sec.parentseg()
        out.append(
            {
                "name": sec.name(),
                "parent": ps.sec.name() if ps is not None else None,
                "parent_x": ps.x if ps is not None else None,
                "points": [
                    [sec.x3d(i), sec.y3d(i), sec.z3d(i), sec.diam3d(i)] for i in range(sec.n3d())
                ],
            }
        )
    return out


def crossings(v, dt=DT, thr=THRESHOLD):
    """Upward crossings of thr in v[0..n] (v[k] at t = k dt), linearly interpolated."""
    k = np.flatnonzero((v[:-1] < thr) & (v[1:] >= thr))
    return (k + (thr - v[k]) / (v[k + 1] - v[k])) * dt


def run(tstop, records, secondorder=0, usetable=0, v_init=-65.0, celsius=6.3):
    """Fixed-step run; ``records`` maps a name to a segment. Returns traces (after
    every step, every EVERY-th kept), spike crossings and NetCon times of each."""
    h.dt = DT
    h.steps_per_ms = 1.0 / DT
    h.celsius = celsius
    h.secondorder = secondorder
    if hasattr(h, "usetable_hh"):
        h.usetable_hh = usetable
    vecs, ncs = {}, {}
    for name, seg in records.items():
        vec = h.Vector()
        vec.record(seg._ref_v)
        vecs[name] = vec
        tv = h.Vector()
        nc = h.NetCon(seg._ref_v, None, sec=seg.sec)
        nc.threshold = THRESHOLD
        nc.record(tv)
        ncs[name] = (nc, tv)
    h.finitialize(v_init)
    n = int(round(tstop / DT))
    for _ in range(n):
        h.fadvance()
    out = {}
    for name, vec in vecs.items():
        v = np.array(vec)  # n + 1 values, v[0] at t = 0
        out[f"v_{name}"] = v[1:][EVERY - 1 :: EVERY]
        out[f"spikes_{name}"] = crossings(v)
        out[f"netcon_{name}"] = np.array(ncs[name][1])
    return out


def seg_of_point(secs, point_id):
    """The segment (centre) holding SWC point ``point_id``, found by its coordinates."""
    data = np.loadtxt(SWC)
    row = data[data[:, 0] == point_id][0]
    target = row[2:5].astype(np.float32)
    for sec in secs.values():
        n = sec.n3d()
        first = 0 if sec.parentseg() is None else 1  # skip the copied parent point
        for i in range(first, n):
            p = np.array([sec.x3d(i), sec.y3d(i), sec.z3d(i)], np.float32)
            if np.all(p == target):
                x = sec.arc3d(i) / sec.L
                k = min(int(x * sec.nseg), sec.nseg - 1)
                return sec((k + 0.5) / sec.nseg), sec.name(), x
    raise ValueError(f"point {point_id} not found")


IMPORT3D_CASES = {
    "single_point_soma": """# soma of one point, dendrites and an axon on it
1 1 0 0 0 10 -1
2 3 12 0 0 1.5 1
3 3 30 5 0 1.2 2
4 3 45 12 0 1.0 3
5 3 40 20 0 0.8 3
6 4 0 -15 0 2 1
7 4 0 -60 2 1.6 6
8 2 -11 0 0 0.7 1
9 2 -40 1 0 0.5 8
10 3 5 9 0 1 1
""",
    "three_point_soma": """# NeuroMorpho's 3-point soma (the middle point is the root)
1 1 0 0 0 6 -1
2 1 0 -6 0 6 1
3 1 0 6 0 6 1
4 3 0 -6 0 1 1
5 3 0 -40 0 0.8 4
6 4 0 6 0 1.5 1
7 4 3 60 0 1.2 6
8 4 -10 90 0 1.0 7
9 4 12 95 0 1.0 7
""",
    "multipoint_soma": """# a soma of several points, a somatic branch point, dendrites in between
1 1 0 0 0 5 -1
2 1 0 3 0 6 1
3 1 0 6 0 5 2
4 1 0 9 0 3 3
5 1 0 -3 0 4 1
6 1 0 -6 0 2 5
7 3 4 2 0 1 2
8 3 30 10 0 0.8 7
9 4 0 12 0 2 4
10 4 0 80 0 1.5 9
11 3 0 -10 0 1 6
12 3 0 -50 4 0.8 11
13 3 -20 -60 4 0.6 12
14 3 20 -65 4 0.6 12
15 2 -3 0 0 0.6 1
16 2 -50 0 0 0.4 15
""",
    "type_change_and_zero_length": """# a dendrite turning into an axon, a zero-length branch
1 1 0 0 0 4 -1
2 1 0 4 0 4 1
3 1 0 8 0 4 2
4 3 0 12 0 1 3
5 3 0 30 0 1 4
6 2 0 50 0 0.5 5
7 2 0 90 0 0.4 6
8 3 0 30 0 0.9 5
9 3 10 30 0 0.8 5
10 3 30 40 0 0.6 9
""",
}


def import3d_cases():
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, text in IMPORT3D_CASES.items():
            path = os.path.join(tmp, f"{name}.swc")
            with open(path, "w") as f:
                f.write(text)
            load_swc(path)
            out[name] = {"swc": text, "sections": sections_json()}
    with open(os.path.join(OUT, "import3d_cases.json"), "w") as f:
        json.dump(out, f, indent=1)


def n120_geometry():
    secs = load_swc(SWC)
    names = sorted(secs)
    area = np.zeros((len(names), 4))
    ri = np.zeros((len(names), 5))
    lam = np.zeros(len(names))
    for k, name in enumerate(names):
        sec = secs[name]
        sec.nseg, sec.Ra, sec.cm = 4, 100.0, 1.0
        lam[k] = h.lambda_f(100.0, sec=sec)  # stdlib.hoc: the AC length constant at 100 Hz
    # the d_lambda rule of fixnseg.hoc (The NEURON Book) with d_lambda = 0.1
    nseg_dlambda = np.array(
        [int((secs[n].L / (0.1 * lam[k]) + 0.9) / 2) * 2 + 1 for k, n in enumerate(names)]
    )
    for k, name in enumerate(names):
        sec = secs[name]
        area[k] = [seg.area() for seg in sec]
        ri[k] = [seg.ri() for seg in sec] + [sec(1).ri()]
    np.savez_compressed(
        os.path.join(OUT, "n120_geometry.npz"),
        names=np.array(names),
        area=area,
        ri=ri,
        lambda_f=lam,
        nseg_dlambda=nseg_dlambda,
    )


def passive_cable():
    """A sealed cable, 1000 um x 2 um, 101 segments, pas 1e-4 S/cm2 at -65 mV, Ra 100,
    0.1 nA from 5 to 85 ms into the first segment; V at every 10th segment every 0.5 ms
    (backward Euler ``v`` and Crank-Nicolson ``v_cn``)."""
    clear()
    cable = h.Section(name="cable")
    cable.L, cable.diam, cable.nseg, cable.Ra, cable.cm = 1000.0, 2.0, 101, 100.0, 1.0
    cable.insert("pas")
    for seg in cable:
        seg.pas.g, seg.pas.e = 1e-4, -65.0
    stim = h.IClamp(cable(0.001))
    stim.delay, stim.dur, stim.amp = 5.0, 80.0, 0.1
    segs = list(cable)[::10]
    recs = {str(k): seg for k, seg in enumerate(segs)}
    out = run(100.0, recs)
    v = np.stack([out[f"v_{k}"] for k in range(len(segs))], axis=1)[4::5]
    out2 = run(100.0, recs, secondorder=2)
    v_cn = np.stack([out2[f"v_{k}"] for k in range(len(segs))], axis=1)[4::5]
    np.savez_compressed(
        os.path.join(OUT, "passive_cable.npz"),
        v=v,
        v_cn=v_cn,
        x=np.array([seg.x for seg in segs]),
        segment=np.arange(0, 101, 10),
    )


def ball_and_stick():
    """Soma 20 x 20 um (hh), dendrite 500 x 2 um (pas 1e-4 S/cm2, -65 mV), nseg 5 each,
    Ra 100, IClamp 0.3 nA at soma(0.5) from 5 to 35 ms; 50 ms."""
    out = {}
    for tag, so, table in (("", 0, 0), ("cn_", 2, 0), ("table_", 0, 1)):
        clear()
        soma = h.Section(name="soma")
        dend = h.Section(name="dend")
        dend.connect(soma(1))
        soma.L = soma.diam = 20.0
        dend.L, dend.diam = 500.0, 2.0
        for sec in (soma, dend):
            sec.nseg, sec.Ra, sec.cm = 5, 100.0, 1.0
        soma.insert("hh")
        dend.insert("pas")
        for seg in dend:
            seg.pas.g, seg.pas.e = 1e-4, -65.0
        stim = h.IClamp(soma(0.5))
        stim.delay, stim.dur, stim.amp = 5.0, 30.0, 0.3
        res = run(50.0, {"soma": soma(0.5), "dend": dend(0.9), "end": dend(1.0)}, so, table)
        out.update({tag + k: v for k, v in res.items()})
    np.savez_compressed(os.path.join(OUT, "ball_and_stick.npz"), **out)


def n120(hh_everywhere: bool):
    secs = load_swc(SWC)
    for sec in secs.values():
        sec.nseg, sec.Ra, sec.cm = 4, 100.0, 1.0
        if hh_everywhere or sec.name().startswith("soma"):
            sec.insert("hh")
        else:
            sec.insert("pas")
            for seg in sec:
                seg.pas.g, seg.pas.e = 1e-4, -65.0
    soma = secs["soma[0]"](0.5)
    site, site_name, site_x = seg_of_point(secs, 1683)
    tip, tip_name, tip_x = seg_of_point(secs, 410)
    stim = h.IClamp(tip if hh_everywhere else soma)
    stim.delay, stim.dur, stim.amp = 5.0, 30.0, (0.1 if hh_everywhere else 2.0)
    out = run(50.0, {"soma": soma, "site": site, "tip": tip})
    name = "n120_hh_all.npz" if hh_everywhere else "n120_hh_soma.npz"
    np.savez_compressed(
        os.path.join(OUT, name),
        site=np.array([site_name, str(site_x)]),
        tip=np.array([tip_name, str(tip_x)]),
        **out,
    )
    return out


if __name__ == "__main__":
    print("NEURON", h.nrnversion())
    import3d_cases()
    n120_geometry()
    passive_cable()
    ball_and_stick()
    for every in (False, True):
        res = n120(every)
        print(
            "n120 hh everywhere" if every else "n120 hh soma",
            {k: len(v) for k, v in res.items() if k.startswith("spikes")},
        )
    for f in sorted(os.listdir(OUT)):
        print(f, os.path.getsize(os.path.join(OUT, f)))
