"""neurodyn's STDP against Brian2's event-driven Synapses STDP on the same spike trains
(tests/reference/generate_brian2_stdp.py): every weight, float64."""

from __future__ import annotations

import os

import jax
import numpy as np

import neurodyn as nd
import neurodyn.units as u
from neurodyn import event
from neurodyn.dyn import LIF, STDP, Projection, SpikeTimeGroup

REF = os.path.join(os.path.dirname(__file__), "..", "reference", "brian2_stdp.npz")


def test_stdp_weights_equal_brian2():
    ref = np.load(REF)
    n_pre, n_post, t_ms, dt_ms, tau_pre, tau_post, a_plus, a_minus, w_max = ref["params"]
    n_pre, n_post = int(n_pre), int(n_post)
    with jax.enable_x64(True):
        pre = SpikeTimeGroup(n_pre, ref["pre_idx"], ref["pre_steps"] * dt_ms * u.ms)
        post = SpikeTimeGroup(n_post, ref["post_idx"], ref["post_steps"] * dt_ms * u.ms)
        conn = event.CSR.from_dense(ref["w0"] * u.nS, threshold=-1.0)  # keep every pair
        assert conn.nnz == n_pre * n_post
        proj = Projection(
            pre,
            LIF(n_post, V_th=1e9 * u.mV),
            conn,
            stdp=STDP(
                tau_pre=tau_pre * u.ms,
                tau_post=tau_post * u.ms,
                A_plus=a_plus * u.nS,
                A_minus=a_minus * u.nS,
                w_min=0 * u.nS,
                w_max=w_max * u.nS,
            ),
        )

        class Net(nd.Network):
            def __init__(self):
                self.pre, self.post, self.proj = pre, post, proj

            def update(self):
                # the spikes of the previous step on both sides (a uniform one-step shift
                # of Brian2's timing, which keeps every pre-post interval)
                self.proj.stdp.update(self.proj.conn, self.pre.spike.value, self.post.spike.value)
                self.pre.update()
                self.post.update()

        nd.run(Net(), (t_ms + dt_ms) * u.ms, dt=dt_ms * u.ms)
        w = np.asarray(proj.stdp.weights.value.to_value(u.nS))
    dense = np.zeros((n_pre, n_post))
    rows = np.repeat(np.arange(n_pre), np.diff(np.asarray(conn.indptr)))
    dense[rows, np.asarray(conn.indices)] = w
    assert w.dtype == np.float64
    changed = np.abs(ref["w1"] - ref["w0"]) > 1e-9
    assert changed.mean() > 0.9 and (ref["w1"] == 0).any() and (ref["w1"] == w_max).any()
    np.testing.assert_allclose(dense, ref["w1"], rtol=0, atol=1e-10)
