"""NEURON references for the point processes of neurodyn.dendrite
(tests/dendrite/test_dendrite_synapses.py): synapses receiving events, a cell's own
spikes fed back through a NetCon with a delay, and a voltage clamp (SEClamp).

Run with the interpreter of the NEURON venv (see generate_neuron_dendrite.py)::

    benchmarks/.envs/neuron/bin/python tests/reference/generate_neuron_dendrite_synapses.py

It writes into tests/reference/neuron/:

- ``ball_and_stick_synapses.npz``: the ball-and-stick of ``ball_and_stick.npz`` (hh soma
  20 x 20 um, pas dendrite 500 x 2 um, nseg 5, Ra 100 ohm cm) without a current clamp,
  driven by events at fixed times (``NetCon.event``) onto an ``ExpSyn`` at dend(0.7), an
  ``Exp2Syn`` at dend(0.3) and an inhibitory ``Exp2Syn`` at soma(0.5), and by its own
  spikes (a ``NetCon`` from soma(0.5), threshold -20 mV, delay 1.5 ms) onto an
  ``ExpSyn`` at dend(0.9). Every step (dt 0.025 ms, backward Euler, exact hh rates) of
  V at soma(0.5) and dend(0.7) and of each synapse's ``g`` and ``i``; the event times
  and weights; the NetCon's spike times; the same with Crank-Nicolson
  (``secondorder = 2``) under ``cn_``.
- ``ball_and_stick_regions.npz``: the ball-and-stick with cm 2 uF/cm2 and Ra 250 ohm cm
  in the dendrite (1 and 100 in the soma), 0.3 nA at soma(0.5) from 5 to 35 ms: V at
  soma(0.5) and dend(0.9) after every step.
- ``ball_and_stick_seclamp.npz``: the same cell with an ``SEClamp`` at soma(0.5)
  (rs 0.5 MOhm; -65 mV for 2 ms, -30 mV for 5 ms, -50 mV for 10 ms) and an ``IClamp``
  of 0.05 nA at dend(1) from 1 ms: every step of V at soma(0.5) and dend(1), the clamp
  current ``i``, the hh gates ``m``, ``h``, ``n`` and the currents ``ina``, ``ik`` at
  soma(0.5).

Rows hold the value after each step (``v[k]`` at t = (k + 1) dt), as neurodyn's monitors.
"""

from __future__ import annotations

import os

import numpy as np
from neuron import h

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "neuron")
DT = 0.025
THRESHOLD = -20.0

h.load_file("stdrun.hoc")

# (synapse, event times ms, weight uS)
EVENTS = {
    "exp": ([5.0, 5.5, 6.0, 6.5, 7.0], 0.004),
    "exp2": ([20.0, 20.25, 20.5], 0.006),
    "inh": ([30.0], 0.02),
}
SELF_DELAY, SELF_WEIGHT = 1.5, 0.002


def clear():
    for sec in list(h.allsec()):
        h.delete_section(sec=sec)


def ball_and_stick():
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
    return soma, dend


def setup(celsius=6.3, secondorder=0):
    h.dt = DT
    h.steps_per_ms = 1.0 / DT
    h.celsius = celsius
    h.secondorder = secondorder
    h.usetable_hh = 0


def record(ref):
    vec = h.Vector()
    vec.record(ref)
    return vec


def steps(vecs, tstop):
    n = int(round(tstop / DT))
    for _ in range(n):
        h.fadvance()
    return {k: np.array(v)[1:] for k, v in vecs.items()}  # after each step


def synapses():
    out = synapses_run(0)
    cn = synapses_run(2)
    out.update({f"cn_{k}": v for k, v in cn.items() if not k.startswith(("times", "weight"))})
    np.savez_compressed(os.path.join(OUT, "ball_and_stick_synapses.npz"), **out)
    return out


def synapses_run(secondorder):
    soma, dend = ball_and_stick()
    setup(secondorder=secondorder)
    syns = {
        "exp": h.ExpSyn(dend(0.7)),
        "exp2": h.Exp2Syn(dend(0.3)),
        "inh": h.Exp2Syn(soma(0.5)),
        "self": h.ExpSyn(dend(0.9)),
    }
    syns["exp"].tau, syns["exp"].e = 2.0, 0.0
    syns["exp2"].tau1, syns["exp2"].tau2, syns["exp2"].e = 0.5, 5.0, 0.0
    syns["inh"].tau1, syns["inh"].tau2, syns["inh"].e = 1.0, 10.0, -80.0
    syns["self"].tau, syns["self"].e = 3.0, 0.0
    ncs = {}
    for name, (_, w) in EVENTS.items():
        nc = h.NetCon(None, syns[name])
        nc.weight[0] = w
        ncs[name] = nc
    fb = h.NetCon(soma(0.5)._ref_v, syns["self"], sec=soma)
    fb.threshold, fb.delay, fb.weight[0] = THRESHOLD, SELF_DELAY, SELF_WEIGHT
    spikes = h.Vector()
    fb.record(spikes)
    vecs = {"v_soma": record(soma(0.5)._ref_v), "v_dend": record(dend(0.7)._ref_v)}
    for name, syn in syns.items():
        vecs[f"g_{name}"] = record(syn._ref_g)
        vecs[f"i_{name}"] = record(syn._ref_i)
    h.finitialize(-65.0)
    for name, (times, _) in EVENTS.items():
        for t in times:
            ncs[name].event(t)
    out = steps(vecs, 40.0)
    out["spikes"] = np.array(spikes)
    for name, (times, w) in EVENTS.items():
        out[f"times_{name}"] = np.array(times)
        out[f"weight_{name}"] = np.array(w)
    out["self_delay"], out["self_weight"] = np.array(SELF_DELAY), np.array(SELF_WEIGHT)
    return out


def seclamp():
    soma, dend = ball_and_stick()
    setup()
    vc = h.SEClamp(soma(0.5))
    vc.rs = 0.5
    vc.dur1, vc.amp1 = 2.0, -65.0
    vc.dur2, vc.amp2 = 5.0, -30.0
    vc.dur3, vc.amp3 = 10.0, -50.0
    ic = h.IClamp(dend(1.0))
    ic.delay, ic.dur, ic.amp = 1.0, 100.0, 0.05
    s = soma(0.5)
    vecs = {
        "v_soma": record(s._ref_v),
        "v_end": record(dend(1.0)._ref_v),
        "i_clamp": record(vc._ref_i),
        "m": record(s.hh._ref_m),
        "h": record(s.hh._ref_h),
        "n": record(s.hh._ref_n),
        "ina": record(s._ref_ina),
        "ik": record(s._ref_ik),
    }
    h.finitialize(-65.0)
    out = steps(vecs, 20.0)
    np.savez_compressed(os.path.join(OUT, "ball_and_stick_seclamp.npz"), **out)
    return out


def regions():
    """cm and Ra per section: soma cm 1 uF/cm2, Ra 100 ohm cm; dendrite cm 2, Ra 250."""
    soma, dend = ball_and_stick()
    setup()
    dend.cm, dend.Ra = 2.0, 250.0
    ic = h.IClamp(soma(0.5))
    ic.delay, ic.dur, ic.amp = 5.0, 30.0, 0.3
    vecs = {"v_soma": record(soma(0.5)._ref_v), "v_dend": record(dend(0.9)._ref_v)}
    h.finitialize(-65.0)
    out = steps(vecs, 40.0)
    np.savez_compressed(os.path.join(OUT, "ball_and_stick_regions.npz"), **out)
    return out


if __name__ == "__main__":
    print("NEURON", h.nrnversion())
    res = synapses()
    print("spikes", res["spikes"], "peak soma", res["v_soma"].max())
    res = seclamp()
    print("clamp i range", res["i_clamp"].min(), res["i_clamp"].max())
    res = regions()
    print("regions: peak soma", res["v_soma"].max())
    for f in ("synapses", "seclamp", "regions"):
        f = f"ball_and_stick_{f}.npz"
        print(f, os.path.getsize(os.path.join(OUT, f)))
