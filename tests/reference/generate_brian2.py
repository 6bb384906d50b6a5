"""Generate the Brian2 reference traces used by tests/dyn/test_brian2_reference.py.

Run with an interpreter that has Brian2 2.9 (it needs numpy<2.4), e.g. the benchmark
environment: ``benchmarks/envs/brian2/bin/python tests/reference/generate_brian2.py``.
Writes ``tests/reference/brian2_traces.npz`` (float32 traces, a few hundred kB).

Models (dt = 0.01 ms, method 'exponential_euler', 100 ms, current step 10-90 ms):
- LIF: tau 20 ms, R 100 MOhm, V_rest -65, V_reset -70, V_th -50 mV, refractory 2 ms,
  currents 160 / 250 / 400 pA (one neuron each).
- HH: the squid axon (BrainPy's HH parameters), area 20000 um^2, 10 uA/cm^2 step.
"""

from __future__ import annotations

import os

import brian2 as b2
import numpy as np
from brian2 import Mohm, amp, cm, ms, msiemens, mV, ohm, pA, second, uF, um  # noqa: F401

b2.prefs.codegen.target = "numpy"
b2.defaultclock.dt = 0.01 * ms
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "brian2_traces.npz")


def step_current(amplitudes):
    values = np.zeros((10001, len(amplitudes)))
    values[1000:9000] = amplitudes
    return b2.TimedArray(values * pA, dt=0.01 * ms)


def lif():
    b2.start_scope()
    amps = np.array([160.0, 250.0, 400.0])
    I_step = step_current(amps)  # noqa: F841 - used by the equations
    eqs = """
    dv/dt = (-65*mV - v + 100*Mohm * I_step(t, i)) / (20*ms) : volt (unless refractory)
    """
    g = b2.NeuronGroup(
        3,
        eqs,
        threshold="v >= -50*mV",
        reset="v = -70*mV",
        refractory=2 * ms,
        method="exponential_euler",
    )
    g.v = -65 * mV
    mon = b2.StateMonitor(g, "v", record=True)
    spk = b2.SpikeMonitor(g)
    b2.run(100 * ms)
    return mon.v / mV, amps, np.array(spk.t / ms), np.array(spk.i)


def hh():
    b2.start_scope()
    area = 20000 * um**2
    I_step = step_current(np.array([(10 * b2.uA / cm**2 * area) / pA]))  # noqa: F841
    eqs = """
    dv/dt = (I_step(t, i) - area * (gNa * m**3 * h * (v - ENa) + gK * n**4 * (v - EK)
             + gL * (v - EL))) / (C * area) : volt
    dm/dt = alpha_m * (1 - m) - beta_m * m : 1
    dh/dt = alpha_h * (1 - h) - beta_h * h : 1
    dn/dt = alpha_n * (1 - n) - beta_n * n : 1
    alpha_m = 0.1/mV * 10*mV / exprel(-(v + 40*mV) / (10*mV)) / ms : Hz
    beta_m = 4 * exp(-(v + 65*mV) / (18*mV)) / ms : Hz
    alpha_h = 0.07 * exp(-(v + 65*mV) / (20*mV)) / ms : Hz
    beta_h = 1 / (1 + exp(-(v + 35*mV) / (10*mV))) / ms : Hz
    alpha_n = 0.01/mV * 10*mV / exprel(-(v + 55*mV) / (10*mV)) / ms : Hz
    beta_n = 0.125 * exp(-(v + 65*mV) / (80*mV)) / ms : Hz
    """
    ns = dict(
        area=area,
        gNa=120 * msiemens / cm**2,
        gK=36 * msiemens / cm**2,
        gL=0.03 * msiemens / cm**2,
        ENa=50 * mV,
        EK=-77 * mV,
        EL=-54.387 * mV,
        C=1 * uF / cm**2,
    )
    g = b2.NeuronGroup(1, eqs, method="exponential_euler", namespace=ns)
    v0 = -65.0
    am = 0.1 * (v0 + 40) / (1 - np.exp(-(v0 + 40) / 10))
    bm = 4 * np.exp(-(v0 + 65) / 18)
    ah, bh = 0.07 * np.exp(-(v0 + 65) / 20), 1 / (1 + np.exp(-(v0 + 35) / 10))
    an = 0.01 * (v0 + 55) / (1 - np.exp(-(v0 + 55) / 10))
    bn = 0.125 * np.exp(-(v0 + 65) / 80)
    g.v, g.m, g.h, g.n = v0 * mV, am / (am + bm), ah / (ah + bh), an / (an + bn)
    mon = b2.StateMonitor(g, "v", record=True)
    b2.run(100 * ms)
    return mon.v / mV


if __name__ == "__main__":
    lif_v, amps, spike_t, spike_i = lif()
    hh_v = hh()
    np.savez_compressed(
        OUT,
        lif_v=np.asarray(lif_v, np.float32),
        lif_amps=amps,
        lif_spike_t=spike_t,
        lif_spike_i=spike_i,
        hh_v=np.asarray(hh_v, np.float32),
        brian2=b2.__version__,
    )
    print(f"wrote {OUT}: LIF {lif_v.shape}, HH {hh_v.shape}, {len(spike_t)} LIF spikes")
