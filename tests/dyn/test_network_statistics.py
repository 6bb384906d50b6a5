"""COBA and CUBA network statistics against Brian2 over several seeds.

The Brian2 numbers come from tests/reference/generate_brian2_networks.py (same models,
parameters, dt, duration and statistics; Brian2 2.9 with its Cython target) and are
stored in tests/reference/brian2_network_stats.json. Connectivity and initial values
are random on both sides, so only the statistics can agree: neurodyn's mean over 5 seeds
must lie within the spread (min..max) of Brian2's 10 seeds, and each of neurodyn's seeds
within that spread widened by half its width on either side. (That the models are the
same, not only alike, is shown by the last test: with the same connectivity and initial
voltages the spike trains are identical.)
"""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

import neurodyn as nd
import neurodyn.units as u

ROOT = Path(__file__).resolve().parents[2]
REF = json.loads((ROOT / "tests" / "reference" / "brian2_network_stats.json").read_text())
sys.path.insert(0, str(ROOT / "examples"))


def mean_cv(raster_bool, dt_ms):
    """Mean ISI CV over neurons with >= 3 spikes (same definition as the generator)."""
    cvs = []
    for k in range(raster_bool.shape[1]):
        tk = np.flatnonzero(raster_bool[:, k]) * dt_ms
        if len(tk) >= 3:
            isi = np.diff(tk)
            cvs.append(isi.std() / isi.mean())
    return float(np.mean(cvs))


def statistics(net, seed):
    nd.random.seed(seed)
    T = REF["t_ms"] * u.ms
    res = nd.run(net, T, dt=0.1 * u.ms, monitors={"E": net.E.spike, "I": net.I.spike})
    e, i = np.asarray(res["E"]), np.asarray(res["I"])
    sec = REF["t_ms"] / 1000
    return {
        "rate_E_hz": e.sum() / e.shape[1] / sec,
        "rate_I_hz": i.sum() / i.shape[1] / sec,
        "cv_E": mean_cv(e, 0.1),
        "cv_I": mean_cv(i, 0.1),
    }


@pytest.mark.slow
@pytest.mark.parametrize("model", ["coba", "cuba"])
def test_statistics_within_brian2_spread(model):
    if model == "coba":
        from coba import COBANet as Net
    else:
        from cuba import CUBANet as Net
    rows = [statistics(Net(REF["n"], seed=s), seed=s) for s in range(100, 105)]
    ours = {k: np.array([r[k] for r in rows]) for k in rows[0]}
    for key, values in ours.items():
        ref = np.array(REF[model][key])
        lo, hi = ref.min(), ref.max()
        width = hi - lo
        msg = f"{model} {key}: neurodyn {np.round(values, 3)} vs Brian2 {np.round(ref, 3)}"
        assert lo <= values.mean() <= hi, msg
        assert np.all((values >= lo - width / 2) & (values <= hi + width / 2)), msg


def test_coba_spike_train_identical_to_brian2_for_given_connectivity():
    """Same connectivity and initial voltages as Brian2 (tests/reference/
    generate_brian2_coba_exact.py): in float64 the whole spike train is identical,
    every spike at the same step (COBA, N = 1000, 500 ms, ~9000 spikes)."""
    import jax
    from brian2_exact import assert_same_spike_train, load_exact

    from neurodyn import event
    from neurodyn.dyn import COBA, LIF, Expon, Projection

    ref, n, n_e, adj_e, adj_i = load_exact("brian2_coba_exact.npz")

    class Net(nd.Network):
        def __init__(self):
            self.N = LIF(
                n,
                tau=20 * u.ms,
                R=100 * u.Mohm,
                V_rest=-60 * u.mV,
                V_reset=-60 * u.mV,
                V_th=-50 * u.mV,
                tau_ref=5 * u.ms,
                I_ext=200 * u.pA,
                V_initializer=ref["v0"] * u.mV,
            )
            E, I = self.N[:n_e], self.N[n_e:]
            self.exc = Projection(
                E,
                self.N,
                event.CSR.from_dense(adj_e * 6.0 * u.nS),
                synapse=Expon(5 * u.ms),
                output=COBA(E=0 * u.mV),
            )
            self.inh = Projection(
                I,
                self.N,
                event.CSR.from_dense(adj_i * 67.0 * u.nS),
                synapse=Expon(10 * u.ms),
                output=COBA(E=-80 * u.mV),
            )

    with jax.enable_x64(True):
        net = Net()
        res = nd.run(net, float(ref["t_ms"]) * u.ms, dt=0.1 * u.ms, monitors={"s": net.N.spike})
    assert_same_spike_train(res["s"], ref, at_least=5000)
