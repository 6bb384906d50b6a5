"""Brian2 statistics of Brunel's (2000) sparse E/I network with voltage-jump synapses
(J. Comput. Neurosci. 8:183) in two states over 3 seeds.

Run with the Brian2 2.9 environment (``make benchmarks/.envs/brian2/.installed`` builds
it; it needs numpy<2.4 and a C++ compiler for Cython), from the repository root:
``benchmarks/.envs/brian2/bin/python tests/reference/generate_brian2_brunel.py``.
Writes ``tests/reference/brian2_brunel.json``.

Model (dt = 0.1 ms, 1200 ms, Cython code generation):
- N_E = 4000 excitatory and N_I = 1000 inhibitory LIF neurons in one group (E first,
  indices 0..3999), dv/dt = -v / tau (unless refractory), tau = 20 ms, integrated
  exactly; spike when v > theta = 20 mV, then v = V_r = 10 mV and refractory for
  tau_rp = 2 ms. Initial v ~ U[0, 20) mV.
- Recurrent synapses: every (pre, post) pair, self-pairs included, is connected
  independently with probability eps = 0.1 (Brian2's ``connect(p=0.1)``; about 400 E and
  100 I inputs per neuron, not a fixed in-degree). A spike of an E neuron adds
  J = 0.1 mV to v of each target, one of an I neuron adds -g * J; homogeneous delay
  D = 1.5 ms for both (a spike emitted at step k acts at step k + 15).
- External drive: each neuron gets C_E = 400 independent Poisson inputs of rate nu_ext,
  each spike adding J (Brian2's PoissonInput: per step v += Binomial(C_E, nu_ext * dt)
  * J). nu_thr = theta / (J * C_E * tau) = 25 Hz, nu_ext = ratio * nu_thr.
- States: "SR" g = 3, ratio = 2 (nu_ext = 50 Hz); "SI_fast" g = 5, ratio = 2.
- Brian2 order within a step (default schedule start, groups, thresholds, synapses,
  resets, end): exact decay of v for non-refractory neurons; threshold (the spike is
  stamped with the step's start time t); recurrent jumps due this step and the
  PoissonInput jumps (both in the 'synapses' slot, synapses first as created); reset.
  ``(unless refractory)`` makes every write to v, synaptic and PoissonInput jumps
  included, a no-op while ``not_refractory`` is False: from the spike step until
  timestep(t - lastspike) >= 20, i.e. a neuron that spikes at step k ignores inputs at
  steps k..k+19 and evolves again from step k+20.

Statistics per seed over the window [200, 1200) ms (the first 200 ms discarded): mean
rate of all neurons, of E and of I (Hz = spikes in the window / neurons / 1 s), and the
mean over all neurons with at least 3 spikes in the window of the coefficient of
variation of their ISIs (the ``mean_cv`` helper).
"""

from __future__ import annotations

import json
import os
import tempfile
import time

import brian2 as b2
import numpy as np
from generate_brian2_networks import mean_cv  # the same statistic as the COBA/CUBA ones

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "brian2_brunel.json")
DT_MS, T_MS, T_SKIP_MS, SEEDS = 0.1, 1200.0, 200.0, (0, 1, 2)
N_E, N_I = 4000, 1000
PARAMS = {
    "tau_ms": 20.0,
    "theta_mV": 20.0,
    "V_r_mV": 10.0,
    "tau_rp_ms": 2.0,
    "J_mV": 0.1,
    "D_ms": 1.5,
    "eps": 0.1,
    "C_E": 400,
    "v0_mV": [0.0, 20.0],
    "nu_thr_hz": 25.0,
}
STATES = {"SR": {"g": 3.0, "ratio": 2.0}, "SI_fast": {"g": 5.0, "ratio": 2.0}}


def network(g, ratio, seed):
    b2.start_scope()
    b2.seed(seed)
    b2.defaultclock.dt = DT_MS * b2.ms
    ms, mV = b2.ms, b2.mV
    tau, theta, V_r = PARAMS["tau_ms"] * ms, PARAMS["theta_mV"] * mV, PARAMS["V_r_mV"] * mV
    J, D, C_E = PARAMS["J_mV"] * mV, PARAMS["D_ms"] * ms, PARAMS["C_E"]
    nu_thr = theta / (J * C_E * tau)
    nu_ext = ratio * nu_thr
    n = N_E + N_I
    pop = b2.NeuronGroup(
        n,
        "dv/dt = -v/tau : volt (unless refractory)",
        threshold="v > theta",
        reset="v = V_r",
        refractory=PARAMS["tau_rp_ms"] * ms,
        method="exact",
    )
    pop.v = "20*mV*rand()"
    syn_e = b2.Synapses(pop[:N_E], pop, on_pre="v_post += J", delay=D)
    syn_e.connect(p=PARAMS["eps"])
    syn_i = b2.Synapses(pop[N_E:], pop, on_pre="v_post += -g*J", delay=D)
    syn_i.connect(p=PARAMS["eps"])
    ext = b2.PoissonInput(pop, "v", N=C_E, rate=nu_ext, weight="J")
    mon = b2.SpikeMonitor(pop)
    net = b2.Network(pop, syn_e, syn_i, ext, mon)
    net.run(T_MS * ms, namespace={"tau": tau, "theta": theta, "V_r": V_r, "J": J, "g": g})
    step = np.round(np.asarray(mon.t / ms) / DT_MS).astype(np.int64)
    keep = step >= int(round(T_SKIP_MS / DT_MS))
    t, i = step[keep] * DT_MS, np.asarray(mon.i)[keep]
    e = i < N_E
    sec = (T_MS - T_SKIP_MS) / 1000
    return {
        "rate_hz": float(len(i) / n / sec),
        "rate_E_hz": float(e.sum() / N_E / sec),
        "rate_I_hz": float((~e).sum() / N_I / sec),
        "cv": mean_cv(t, i, n),
    }


if __name__ == "__main__":
    b2.prefs.codegen.target = "cython"
    b2.prefs.codegen.runtime.cython.cache_dir = tempfile.mkdtemp(prefix="b2-cython-")
    out = {
        "brian2": b2.__version__,
        "dt_ms": DT_MS,
        "t_ms": T_MS,
        "t_skip_ms": T_SKIP_MS,
        "n_e": N_E,
        "n_i": N_I,
        "seeds": list(SEEDS),
        "params": {**PARAMS, "states": STATES},
    }
    for name, p in STATES.items():
        rows = []
        for s in SEEDS:
            t0 = time.perf_counter()
            rows.append(network(p["g"], p["ratio"], s))
            print(f"{name} seed {s}: {time.perf_counter() - t0:.1f} s wall", rows[-1])
        out[name] = {k: [r[k] for r in rows] for k in rows[0]}
        print(name, {k: np.round(v, 3).tolist() for k, v in out[name].items()})
    with open(OUT, "w") as f:
        json.dump(out, f, indent=1)
    print(f"wrote {OUT}")
