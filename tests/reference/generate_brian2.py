"""Generate the Brian2 reference traces used by tests/dyn/test_brian2_reference.py.

Run with an interpreter that has Brian2 2.9 (it needs numpy<2.4), e.g. the benchmark
environment: ``benchmarks/envs/brian2/bin/python tests/reference/generate_brian2.py``.
Writes ``tests/reference/brian2_traces.npz`` (float32 traces, a few hundred kB).

Models (dt = 0.01 ms, method 'exponential_euler', 100 ms, current step 10-90 ms):
- LIF: tau 20 ms, R 100 MOhm, V_rest -65, V_reset -70, V_th -50 mV, refractory 2 ms,
  currents 160 / 250 / 400 pA (one neuron each).
- HH: the squid axon (Hodgkin & Huxley 1952: g_L 0.3 mS/cm^2), area 20000 um^2,
  10 uA/cm^2 step.
"""

from __future__ import annotations

import os

import brian2 as b2
import numpy as np
from brian2 import Mohm, amp, cm, ms, msiemens, mV, nS, ohm, pA, second, uF, um  # noqa: F401

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
        gL=0.3 * msiemens / cm**2,
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


# ---------------------------------------------------------------- nonlinear models
# Each: a NeuronGroup with one neuron per step amplitude, the step on from 10 ms to
# T - 10 ms, v recorded every step and stored every STRIDE steps.
STRIDE = 5


def step_current_t(amplitudes, t_ms):
    n = int(round(t_ms / 0.01)) + 1
    values = np.zeros((n, len(amplitudes)))
    values[1000 : n - 1 - 1000] = amplitudes  # on for 10 ms <= t < t_ms - 10 ms
    return b2.TimedArray(values * pA, dt=0.01 * ms)


def run_group(
    eqs,
    amps,
    t_ms,
    method,
    init,
    threshold=None,
    reset=None,
    refractory=False,
    namespace=None,
    constant=False,
):
    """``constant=True``: the current is on for the whole run (no step; RK4's half-step
    stages would sample a TimedArray step half a step early)."""
    b2.start_scope()
    ns = dict(namespace or {})
    if constant:
        eqs = eqs.replace("I_step(t, i)", "I_c") + "\nI_c : amp (constant)\n"
    else:
        ns["I_step"] = step_current_t(np.asarray(amps, float), t_ms)
    g = b2.NeuronGroup(
        len(amps),
        eqs,
        threshold=threshold,
        reset=reset,
        refractory=refractory,
        method=method,
        namespace=ns,
    )
    if constant:
        g.I_c = np.asarray(amps, float) * pA
    for key, value in init.items():
        setattr(g, key, value)
    mon = b2.StateMonitor(g, "v", record=True)
    spk = b2.SpikeMonitor(g) if threshold is not None else None
    b2.run(t_ms * ms)
    return np.asarray(mon.v / mV)[:, ::STRIDE], (len(spk.t) if spk is not None else 0)


IF_EQS = {
    # the same equations as neurodyn.dyn (default parameters of each class)
    "expif": """
    dv/dt = (-65*mV - v + 3.48*mV * exp((v - (-59.9*mV)) / (3.48*mV))
             + 100*Mohm * I_step(t, i)) / (10*ms) : volt
    """,
    "adex": """
    dv/dt = (-65*mV - v + 3.48*mV * exp((v - (-59.9*mV)) / (3.48*mV))
             + 100*Mohm * (I_step(t, i) - w)) / (10*ms) : volt
    dw/dt = (1*nS * (v - (-65*mV)) - w) / (30*ms) : amp
    """,
    "quaif": """
    dv/dt = (0.07/mV * (v - (-65*mV)) * (v - (-50*mV)) + 100*Mohm * I_step(t, i)) / (10*ms)
            : volt
    """,
    "izhikevich": """
    dv/dt = (0.04/mV * v**2 + 5*v + 140*mV + 1*Mohm * I_step(t, i)) / ms - u : volt
    du/dt = 0.02/ms * (0.2/ms * v - u) : volt/second
    """,
    "gif": """
    dv/dt = (-70*mV - v + 20*Mohm * (I_step(t, i) + I1 + I2)) / (20*ms) : volt
    dI1/dt = -0.2/ms * I1 : amp
    dI2/dt = -0.02/ms * I2 : amp
    dvth/dt = 0.005/ms * (v - (-70*mV)) - 0.01/ms * (vth - (-50*mV)) : volt
    """,
}


def if_models():
    out = {}
    # method: Brian2's exponential_euler needs equations linear in each variable, so the
    # exponential and quadratic models use forward Euler here (and neurodyn's method="euler"
    # in the test; Brian2's RK4 overflows inside the AdEx spike upswing)
    specs = {
        "expif": ([50.0, 100.0, 200.0], "v >= -30*mV", "v = -68*mV", "euler", {"v": -65 * mV}),
        "adex": (
            [100.0, 200.0, 400.0],
            "v >= -30*mV",
            "v = -68*mV; w += 10*pA",
            "euler",
            {"v": -65 * mV},
        ),
        "quaif": ([50.0, 100.0, 200.0], "v >= -30*mV", "v = -68*mV", "euler", {"v": -65 * mV}),
        "izhikevich": (
            [5000.0, 10000.0, 15000.0],
            "v >= 30*mV",
            "v = -65*mV; u += 8*mV/ms",
            "euler",
            {"v": -65 * mV, "u": -13 * mV / ms},
        ),
        "gif": (
            [600.0, 1000.0, 1500.0],
            "v >= vth",
            "v = -70*mV; I1 = 0*I1 + 5*pA; I2 = I2 - 0.3*pA; vth = clip(vth, -60*mV, inf*mV)",
            "exponential_euler",
            {"v": -70 * mV, "vth": -50 * mV},
        ),
    }
    for name, (amps, thr, reset, method, init) in specs.items():
        v, n_spk = run_group(IF_EQS[name], amps, 200.0, method, init, thr, reset)
        out[f"{name}_v"] = np.asarray(v, np.float32)
        out[f"{name}_amps"] = np.asarray(amps)
        print(f"{name}: {n_spk} spikes")
    return out


def conductance_models():
    out = {}
    area = 20000 * um**2
    dens = msiemens / cm**2
    wb = """
    dv/dt = (I_step(t, i) - area * (gNa * m_inf**3 * h * (v - ENa) + gK * n**4 * (v - EK)
             + gL * (v - EL))) / (C * area) : volt
    m_inf = alpha_m / (alpha_m + beta_m) : 1
    alpha_m = 1 / exprel(-0.1/mV * (v + 35*mV)) / ms : Hz
    beta_m = 4 * exp(-(v + 60*mV) / (18*mV)) / ms : Hz
    dh/dt = 5 * (alpha_h * (1 - h) - beta_h * h) : 1
    dn/dt = 5 * (alpha_n * (1 - n) - beta_n * n) : 1
    alpha_h = 0.07 * exp(-(v + 58*mV) / (20*mV)) / ms : Hz
    beta_h = 1 / (exp(-0.1/mV * (v + 28*mV)) + 1) / ms : Hz
    alpha_n = 0.1 / exprel(-0.1/mV * (v + 34*mV)) / ms : Hz
    beta_n = 0.125 * exp(-(v + 44*mV) / (80*mV)) / ms : Hz
    """
    ns = dict(
        area=area,
        gNa=35 * dens,
        gK=9 * dens,
        gL=0.1 * dens,
        ENa=55 * mV,
        EK=-90 * mV,
        EL=-65 * mV,
        C=1 * uF / cm**2,
    )
    v0 = -65.0
    ah, bh = 0.07 * np.exp(-(v0 + 58) / 20), 1 / (np.exp(-0.1 * (v0 + 28)) + 1)
    an = 0.01 * (v0 + 34) / (1 - np.exp(-0.1 * (v0 + 34)))
    bn = 0.125 * np.exp(-(v0 + 44) / 80)
    amps = [0.5, 1.0, 2.0]  # uA/cm^2
    pamps = [(a * b2.uA / cm**2 * area) / pA for a in amps]
    # m_inf(v) makes the v equation non-linear in v: RK4 on both sides (Brian2's
    # exponential_euler and neurodyn's linearise it differently); constant current
    v, n_spk = run_group(
        wb,
        pamps,
        100.0,
        "rk4",
        {"v": v0 * mV, "h": ah / (ah + bh), "n": an / (an + bn)},
        namespace=ns,
        constant=True,
    )
    out["wb_v"], out["wb_amps"] = np.asarray(v, np.float32), np.asarray(pamps)
    print(f"wang-buzsaki: traces {v.shape}")

    ml = """
    dv/dt = (I_step(t, i) - area * (gCa * m_inf * (v - ECa) + gK * w * (v - EK)
             + gL * (v - EL))) / (C * area) : volt
    m_inf = 0.5 * (1 + tanh((v/mV + 1.2) / 18)) : 1
    dw/dt = 0.04 * (0.5 * (1 + tanh((v/mV - 2) / 30)) - w) * cosh((v/mV - 2) / 60) / ms : 1
    """
    ns = dict(
        area=area,
        gCa=4.4 * dens,
        gK=8 * dens,
        gL=2 * dens,
        ECa=120 * mV,
        EK=-84 * mV,
        EL=-60 * mV,
        C=20 * uF / cm**2,
    )
    amps = [60.0, 100.0, 150.0]  # uA/cm^2
    pamps = [(a * b2.uA / cm**2 * area) / pA for a in amps]
    w0 = 0.5 * (1 + np.tanh((-60 - 2) / 30))
    v, _ = run_group(ml, pamps, 400.0, "rk4", {"v": -60 * mV, "w": w0}, namespace=ns, constant=True)
    out["ml_v"], out["ml_amps"] = np.asarray(v, np.float32), np.asarray(pamps)
    print(f"morris-lecar: traces {v.shape}")

    traub = """
    dv/dt = (I_step(t, i) - area * (gNa * m**3 * h * (v - ENa) + gK * n**4 * (v - EK)
             + gL * (v - EL))) / (C * area) : volt
    dm/dt = alpha_m * (1 - m) - beta_m * m : 1
    dh/dt = alpha_h * (1 - h) - beta_h * h : 1
    dn/dt = alpha_n * (1 - n) - beta_n * n : 1
    alpha_m = 0.32/mV * 4*mV / exprel((13*mV - v + VT) / (4*mV)) / ms : Hz
    beta_m = 0.28/mV * 5*mV / exprel((v - VT - 40*mV) / (5*mV)) / ms : Hz
    alpha_h = 0.128 * exp((17*mV - v + VT) / (18*mV)) / ms : Hz
    beta_h = 4 / (1 + exp((40*mV - v + VT) / (5*mV))) / ms : Hz
    alpha_n = 0.032/mV * 5*mV / exprel((15*mV - v + VT) / (5*mV)) / ms : Hz
    beta_n = 0.5 * exp((10*mV - v + VT) / (40*mV)) / ms : Hz
    """
    ns = dict(
        area=area,
        gNa=100 * dens,
        gK=30 * dens,
        gL=0.05 * dens,
        ENa=50 * mV,
        EK=-90 * mV,
        EL=-60 * mV,
        C=1 * uF / cm**2,
        VT=-63 * mV,
    )
    v0, vt = -60.0, -63.0

    def ss(a, b):
        return a / (a + b)

    def xr(x):
        return x / np.expm1(x)

    m0 = ss(0.32 * 4 * xr((13 - v0 + vt) / 4), 0.28 * 5 * xr((v0 - vt - 40) / 5))
    h0 = ss(0.128 * np.exp((17 - v0 + vt) / 18), 4 / (1 + np.exp((40 - v0 + vt) / 5)))
    n0 = ss(0.032 * 5 * xr((15 - v0 + vt) / 5), 0.5 * np.exp((10 - v0 + vt) / 40))
    amps = [1.0, 3.0, 6.0]  # uA/cm^2
    pamps = [(a * b2.uA / cm**2 * area) / pA for a in amps]
    v, _ = run_group(
        traub,
        pamps,
        100.0,
        "exponential_euler",
        {"v": v0 * mV, "m": m0, "h": h0, "n": n0},
        namespace=ns,
    )
    out["traub_v"], out["traub_amps"] = np.asarray(v, np.float32), np.asarray(pamps)
    print(f"hh-traub: traces {v.shape}")
    return out


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
        stride=STRIDE,
        **if_models(),
        **conductance_models(),
    )
    print(f"wrote {OUT}: LIF {lif_v.shape}, HH {hh_v.shape}, {len(spike_t)} LIF spikes")
