"""Brian2 statistics of the COBA and CUBA networks over 10 seeds, used by
tests/dyn/test_network_statistics.py.

Run with an interpreter that has Brian2 2.9 (it needs numpy<2.4), e.g.
``benchmarks/envs/brian2/bin/python tests/reference/generate_brian2_networks.py``.
Writes ``tests/reference/brian2_network_stats.json``.

Models (identical to examples/coba.py and examples/cuba.py; dt = 0.1 ms, 1 s,
exponential Euler, 4000 neurons, 80% excitatory, each (pre, post) pair connected with
p = 80 / N, spikes act on the next step):
- COBA (Brette et al. 2007 benchmark 1): tau_m 20 ms, V_rest = V_reset = -60 mV,
  V_th -50 mV, refractory 5 ms, drive 20 mV, V0 ~ N(-55, 2) mV, conductances in units
  of g_L, jumps 0.6 / 6.7, tau 5 / 10 ms, E 0 / -80 mV.
- CUBA (Vogels & Abbott 2005, Brian2's CUBA example): V_rest -49 mV, V_reset -60 mV,
  V_th -50 mV, V0 ~ U(-60, -50) mV, current jumps 1.62 mV / -9 mV, tau 5 / 10 ms.

Statistics per seed: mean rate of E and I (Hz, spikes / neurons / 1 s) and the mean
over neurons with at least 3 spikes of the coefficient of variation of the ISIs.
"""

from __future__ import annotations

import json
import os
import tempfile

import brian2 as b2
import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "brian2_network_stats.json")
N, T_MS, SEEDS = 4000, 1000.0, tuple(range(10))


def mean_cv(times_ms, index, n):
    """Mean ISI CV over neurons with >= 3 spikes (the same code as the test's)."""
    order = np.lexsort((times_ms, index))
    t, i = times_ms[order], index[order]
    cvs = []
    for k in range(n):
        tk = t[i == k]
        if len(tk) >= 3:
            isi = np.diff(tk)
            cvs.append(isi.std() / isi.mean())
    return float(np.mean(cvs)) if cvs else float("nan")


def coba_group(n):
    """The COBA-LIF population (conductances in units of g_L; jumps 0.6 / 6.7 on spikes)."""
    eqs = """
    dv/dt = (-60*mV - v + ge*(0*mV - v) + gi*(-80*mV - v) + 20*mV)/(20*ms)
            : volt (unless refractory)
    dge/dt = -ge/(5*ms) : 1
    dgi/dt = -gi/(10*ms) : 1
    """
    return b2.NeuronGroup(
        n,
        eqs,
        threshold="v >= -50*mV",
        reset="v = -60*mV",
        refractory=5 * b2.ms,
        method="exponential_euler",
    )


def network(model, seed):
    b2.start_scope()
    b2.seed(seed)
    b2.defaultclock.dt = 0.1 * b2.ms
    ms = b2.ms
    if model == "coba":
        pop = coba_group(N)
        pop.v = "-55*mV + 2*mV*randn()"
        on_e, on_i = "ge += 0.6", "gi += 6.7"
    else:
        eqs = """
        dv/dt = (ge + gi - (v - (-49*mV)))/(20*ms) : volt (unless refractory)
        dge/dt = -ge/(5*ms) : volt
        dgi/dt = -gi/(10*ms) : volt
        """
        pop = b2.NeuronGroup(
            N,
            eqs,
            threshold="v >= -50*mV",
            reset="v = -60*mV",
            refractory=5 * ms,
            method="exponential_euler",
        )
        pop.v = "-60*mV + 10*mV*rand()"
        on_e, on_i = "ge += 1.62*mV", "gi -= 9*mV"
    n_e = int(0.8 * N)
    exc, inh = pop[:n_e], pop[n_e:]
    syn_e = b2.Synapses(exc, pop, on_pre=on_e)
    syn_e.connect(p=80 / N)
    syn_i = b2.Synapses(inh, pop, on_pre=on_i)
    syn_i.connect(p=80 / N)
    mon = b2.SpikeMonitor(pop)
    b2.run(T_MS * ms)
    t, i = np.asarray(mon.t / ms), np.asarray(mon.i)
    e = i < n_e
    sec = T_MS / 1000
    return {
        "rate_E_hz": float(e.sum() / n_e / sec),
        "rate_I_hz": float((~e).sum() / (N - n_e) / sec),
        "cv_E": mean_cv(t[e], i[e], n_e),
        "cv_I": mean_cv(t[~e], i[~e] - n_e, N - n_e),
    }


if __name__ == "__main__":
    b2.prefs.codegen.target = "cython"
    b2.prefs.codegen.runtime.cython.cache_dir = tempfile.mkdtemp(prefix="b2-cython-")
    out = {"brian2": b2.__version__, "n": N, "t_ms": T_MS, "seeds": list(SEEDS)}
    for model in ("coba", "cuba"):
        rows = [network(model, s) for s in SEEDS]
        out[model] = {k: [r[k] for r in rows] for k in rows[0]}
        print(model, {k: np.round(v, 3).tolist() for k, v in out[model].items()})
    with open(OUT, "w") as f:
        json.dump(out, f, indent=1)
    print(f"wrote {OUT}")
