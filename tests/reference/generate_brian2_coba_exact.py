"""A COBA-LIF network with given connectivity and initial voltages, simulated by
Brian2 2.9; tests/dyn/test_network_statistics.py runs the same network in neurodyn
(float64) and requires the identical spike train.

Run with an interpreter that has Brian2 2.9 (numpy<2.4), e.g.
``benchmarks/envs/brian2/bin/python tests/reference/generate_brian2_coba_exact.py``.
Writes ``tests/reference/brian2_coba_exact.npz`` (~150 kB): the E and I adjacency
matrices as packed bits, V0 (float64, mV) and the spikes (step index, neuron index).

The model is that of generate_brian2_networks.py (Brette et al. 2007 COBA, dt 0.1 ms,
exponential Euler) at N = 1000 with p = 0.08 (80 inputs per neuron), 500 ms.
"""

from __future__ import annotations

import os

import brian2 as b2
import numpy as np
from generate_brian2_networks import coba_group  # the same model (this folder)

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "brian2_coba_exact.npz")
N, N_E, P, T_MS, SEED = 1000, 800, 0.08, 500.0, 7

if __name__ == "__main__":
    rng = np.random.default_rng(SEED)
    adj_e = rng.random((N_E, N)) < P
    adj_i = rng.random((N - N_E, N)) < P
    v0 = rng.normal(-55.0, 2.0, N)
    b2.prefs.codegen.target = "numpy"
    b2.defaultclock.dt = 0.1 * b2.ms
    ms = b2.ms
    pop = coba_group(N)
    pop.v = v0 * b2.mV
    se = b2.Synapses(pop[:N_E], pop, on_pre="ge += 0.6")
    se.connect(i=np.nonzero(adj_e)[0], j=np.nonzero(adj_e)[1])
    si = b2.Synapses(pop[N_E:], pop, on_pre="gi += 6.7")
    si.connect(i=np.nonzero(adj_i)[0], j=np.nonzero(adj_i)[1])
    mon = b2.SpikeMonitor(pop)
    b2.run(T_MS * ms)
    steps = np.round(np.asarray(mon.t / ms) / 0.1).astype(np.int32)
    np.savez_compressed(
        OUT,
        adj_e=np.packbits(adj_e, axis=1),
        adj_i=np.packbits(adj_i, axis=1),
        v0=v0,
        spike_step=steps,
        spike_index=np.asarray(mon.i, np.int32),
        n=N,
        n_e=N_E,
        t_ms=T_MS,
        brian2=b2.__version__,
    )
    print(f"wrote {OUT}: {len(steps)} spikes, rate {len(steps) / N / (T_MS / 1000):.1f} Hz")
