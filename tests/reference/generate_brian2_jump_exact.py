"""A network of LIF neurons with voltage-jump synapses (``on_pre="v_post += w"``),
homogeneous and per-synapse delays, given connectivity and initial voltages, simulated
by Brian2 2.9; tests/dyn/test_brunel.py runs the same network in neurodyn (float64) and
requires the identical spike train. It pins down Brian2's schedule: state update ->
threshold -> synaptic effects (after their delays) -> reset, jumps to refractory neurons
ignored (``unless refractory``), delays in whole steps.

Run with the Brian2 2.9 environment, from the repository root:
``benchmarks/.envs/brian2/bin/python tests/reference/generate_brian2_jump_exact.py``.
Writes ``tests/reference/brian2_jump_exact.npz`` (~100 kB).

Model (dt = 0.1 ms, 300 ms, numpy target): N = 1000 LIF neurons (800 E first),
dv/dt = (mu - v) / tau (unless refractory), tau = 20 ms, mu ~ U(20, 26) mV per neuron
(suprathreshold drive), threshold v > 20 mV, reset v = 10 mV, refractory 2 ms,
v0 ~ U(0, 20) mV. E -> all: each pair with p = 0.1, v_post += 0.2 mV, delay 1.5 ms.
I -> all: each pair with p = 0.1, v_post += -1.0 mV, one delay per synapse drawn from
{0, 0.1, ..., 3.0} ms.
"""

from __future__ import annotations

import os

import brian2 as b2
import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "brian2_jump_exact.npz")
N, N_E, P, T_MS, SEED = 1000, 800, 0.1, 300.0, 11

if __name__ == "__main__":
    rng = np.random.default_rng(SEED)
    adj_e = rng.random((N_E, N)) < P
    adj_i = rng.random((N - N_E, N)) < P
    v0 = rng.uniform(0.0, 20.0, N)
    mu_mV = rng.uniform(20.0, 26.0, N)
    ie, je = np.nonzero(adj_e)
    ii, ji = np.nonzero(adj_i)
    delay_i = rng.integers(0, 31, len(ii)) * 0.1  # ms, row-major order of adj_i
    b2.prefs.codegen.target = "numpy"
    b2.defaultclock.dt = 0.1 * b2.ms
    ms, mV = b2.ms, b2.mV
    pop = b2.NeuronGroup(
        N,
        "dv/dt = (mu - v) / (20*ms) : volt (unless refractory)\nmu : volt",
        threshold="v > 20*mV",
        reset="v = 10*mV",
        refractory=2 * ms,
        method="exact",
    )
    pop.v = v0 * mV
    pop.mu = mu_mV * mV
    se = b2.Synapses(pop[:N_E], pop, on_pre="v_post += 0.2*mV", delay=1.5 * ms)
    se.connect(i=ie, j=je)
    si = b2.Synapses(pop[N_E:], pop, on_pre="v_post += -1.0*mV")
    si.connect(i=ii, j=ji)
    si.delay = delay_i * ms
    mon = b2.SpikeMonitor(pop)
    b2.run(T_MS * ms)
    steps = np.round(np.asarray(mon.t / ms) / 0.1).astype(np.int32)
    np.savez_compressed(
        OUT,
        adj_e=np.packbits(adj_e, axis=1),
        adj_i=np.packbits(adj_i, axis=1),
        v0=v0,
        mu=mu_mV,
        delay_i=delay_i,
        spike_step=steps,
        spike_index=np.asarray(mon.i, np.int32),
        n=N,
        n_e=N_E,
        t_ms=T_MS,
        brian2=b2.__version__,
    )
    print(f"wrote {OUT}: {len(steps)} spikes, rate {len(steps) / N / (T_MS / 1000):.1f} Hz")
