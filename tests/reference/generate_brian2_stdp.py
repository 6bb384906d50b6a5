"""Pair-based additive STDP driven by given pre- and postsynaptic spike trains, simulated
by Brian2 2.9 with its standard event-driven ``Synapses`` model; tests/dyn/test_stdp_brian2.py
runs neurodyn's ``STDP`` on the same spike trains (float64) and compares every weight.

Run with an interpreter that has Brian2 2.9 (numpy<2.4), e.g.
``benchmarks/envs/brian2/bin/python tests/reference/generate_brian2_stdp.py``.
Writes ``tests/reference/brian2_stdp.npz`` (~40 kB): the spike trains (step, neuron),
the initial and final weights (all-to-all, row-major [pre, post]) and the parameters.

Both spike trains are fixed (SpikeGeneratorGroups), so the weights do not act back on the
spikes and the comparison is exact up to rounding: Brian2 decays each trace with one
exp over the time since its last update, neurodyn multiplies by exp(-dt/tau) every step.
A tenth of the postsynaptic spikes are placed in the same step as a presynaptic spike of
the same pair, which fixes the order of the two updates within a step.
"""

from __future__ import annotations

import os

import brian2 as b2
import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "brian2_stdp.npz")
N_PRE, N_POST, T_MS, DT_MS, SEED = 40, 15, 1000.0, 0.1, 3
RATE_PRE_HZ, RATE_POST_HZ = 15.0, 10.0
TAU_PRE_MS, TAU_POST_MS = 20.0, 30.0
A_PLUS, A_MINUS, W_MAX = 0.04, 0.05, 1.0


def poisson_steps(rng, n, rate_hz, n_steps):
    """(step, neuron) of independent Poisson trains on the dt grid, one spike per step max."""
    p = rate_hz * DT_MS * 1e-3
    steps, neurons = np.nonzero(rng.random((n_steps, n)) < p)
    return steps.astype(np.int64), neurons.astype(np.int64)


if __name__ == "__main__":
    rng = np.random.default_rng(SEED)
    n_steps = int(round(T_MS / DT_MS))
    pre_steps, pre_idx = poisson_steps(rng, N_PRE, RATE_PRE_HZ, n_steps - 1)
    post_steps, post_idx = poisson_steps(rng, N_POST, RATE_POST_HZ, n_steps - 1)
    # coincident pairs: copy the step of some presynaptic spikes to a postsynaptic neuron
    pick = rng.choice(len(pre_steps), size=len(post_steps) // 10, replace=False)
    extra_steps, extra_idx = pre_steps[pick], rng.integers(0, N_POST, len(pick))
    post = {(int(s), int(j)) for s, j in zip(post_steps, post_idx)}
    post |= {(int(s), int(j)) for s, j in zip(extra_steps, extra_idx)}
    post_steps, post_idx = (np.array(a, np.int64) for a in zip(*sorted(post)))
    w0 = rng.uniform(0.0, 1.0, (N_PRE, N_POST))

    b2.prefs.codegen.target = "numpy"
    b2.defaultclock.dt = DT_MS * b2.ms
    ms = b2.ms
    pre = b2.SpikeGeneratorGroup(N_PRE, pre_idx, pre_steps * DT_MS * ms)
    post_g = b2.SpikeGeneratorGroup(N_POST, post_idx, post_steps * DT_MS * ms)
    syn = b2.Synapses(
        pre,
        post_g,
        model="""w : 1
        dapre/dt = -apre/tau_pre : 1 (event-driven)
        dapost/dt = -apost/tau_post : 1 (event-driven)""",
        on_pre="""apre += 1
        w = clip(w - A_minus*apost, 0, w_max)""",
        on_post="""apost += 1
        w = clip(w + A_plus*apre, 0, w_max)""",
        namespace=dict(
            tau_pre=TAU_PRE_MS * ms,
            tau_post=TAU_POST_MS * ms,
            A_plus=A_PLUS,
            A_minus=A_MINUS,
            w_max=W_MAX,
        ),
    )
    syn.connect(True)
    i, j = np.asarray(syn.i[:]), np.asarray(syn.j[:])
    syn.w[:] = w0[i, j]
    b2.run(T_MS * ms)
    w1 = np.zeros((N_PRE, N_POST))
    w1[i, j] = np.asarray(syn.w[:])
    changed = np.abs(w1 - w0) > 1e-12
    print(
        f"{len(pre_steps)} pre and {len(post_steps)} post spikes; {changed.mean():.0%} of "
        f"the weights changed; mean w {w0.mean():.4f} -> {w1.mean():.4f}; "
        f"{(w1 == 0).sum()} at 0, {(w1 == W_MAX).sum()} at w_max"
    )
    np.savez_compressed(
        OUT,
        pre_steps=pre_steps,
        pre_idx=pre_idx,
        post_steps=post_steps,
        post_idx=post_idx,
        w0=w0,
        w1=w1,
        params=np.array(
            [N_PRE, N_POST, T_MS, DT_MS, TAU_PRE_MS, TAU_POST_MS, A_PLUS, A_MINUS, W_MAX]
        ),
        brian2_version=np.array(b2.__version__),
    )
    print(f"wrote {OUT}")
