"""Run results leave the runner: a short summary, spike trains, numpy arrays with their
units, files; and a checkpoint taken after a run loads into a freshly built network."""

import numpy as np
import pytest

import neurodyn as nd
import neurodyn.units as u
from neurodyn.dyn import LIF, Monitor, RunResult


class Net(nd.Network):
    def __init__(self):
        self.pop = LIF(3, I_ext=np.array([250.0, 300.0, 400.0]) * u.pA)


def _run(net):
    mons = {
        "V": net.pop.V,
        "s": net.pop.spike,
        "count": Monitor(net.pop.spike, every=10 * u.ms),
    }
    return nd.run(net, 50 * u.ms, dt=0.1 * u.ms, monitors=mons)


def test_summary_spike_trains_and_numpy():
    res = _run(Net())
    text = repr(res)
    assert len(text) < 200 and "V: (500, 3) float32 mV" in text and "count: (5, 3)" in text
    raster = np.asarray(res["s"])
    trains = res.spike_trains("s")
    for k in range(3):
        # start-of-step stamps: row r is the step [r dt, (r + 1) dt)
        np.testing.assert_allclose(
            trains[k].to_value(u.ms), np.flatnonzero(raster[:, k]) * 0.1, atol=1e-4
        )
    # the interval counts agree with the raster
    np.testing.assert_array_equal(np.asarray(res["count"]), raster.reshape(5, 100, 3).sum(1))
    arrays, units = res.to_numpy(), res.units()
    assert units == {"times": "ms", "V": "mV", "s": "", "count": ""}
    np.testing.assert_allclose(arrays["V"], np.asarray(res["V"].to_value(u.mV)))


def test_save_and_load_round_trip(tmp_path):
    res = _run(Net())
    res.save(tmp_path / "run.npz")
    back = RunResult.load(tmp_path / "run.npz")
    assert back["V"].unit == u.mV
    np.testing.assert_array_equal(np.asarray(back["V"].mantissa), np.asarray(res["V"].mantissa))
    np.testing.assert_array_equal(np.asarray(back["s"]), np.asarray(res["s"]))
    np.testing.assert_allclose(
        back.monitor_times["count"].to_value(u.ms), [10, 20, 30, 40, 50], atol=1e-4
    )
    assert [p.name for p in tmp_path.iterdir()] == ["run.npz"]  # no temporary left over


def test_checkpoint_after_a_run_loads_into_a_fresh_network(tmp_path):
    net = Net()
    _run(net)
    nd.save(tmp_path / "ckpt", net)
    fresh = Net()
    nd.load(tmp_path / "ckpt", fresh)
    np.testing.assert_array_equal(
        np.asarray(fresh.pop.V.value.mantissa), np.asarray(net.pop.V.value.mantissa)
    )
    assert "_nd_step" not in " ".join(net.states())  # the runner's clock is not a model State


def test_spike_trains_of_a_batched_run_are_refused():
    net = Net()
    net.init_state(batch_size=2)
    res = nd.run(net, 5 * u.ms, dt=0.1 * u.ms, monitors={"s": net.pop.spike})
    with pytest.raises(ValueError, match="batched run; take one batch element first"):
        res.spike_trains("s")


class ProjNet(nd.Network):
    def __init__(self, tau=20 * u.ms, seed=1, w=1 * u.nS):
        from neurodyn import event
        from neurodyn.dyn import Projection

        self.pop = LIF(20, tau=tau)
        self.proj = Projection(self.pop, self.pop, event.FixedProb(0.2, seed=seed), weight=w)


def test_a_checkpoint_of_a_different_model_is_refused_naming_what_differs(tmp_path):
    from neurodyn.state import CheckpointError

    nd.save(tmp_path / "ckpt", ProjNet())
    nd.load(tmp_path / "ckpt", ProjNet())  # the same model: fine
    with pytest.raises(CheckpointError, match=r"pop.tau: 20. ms in the file, 10. ms here"):
        nd.load(tmp_path / "ckpt", ProjNet(tau=10 * u.ms))
    with pytest.raises(
        CheckpointError,
        match=r"proj.conn.indices: an array of shape \[83\] in the file, an array of shape \[80\]",
    ):
        nd.load(tmp_path / "ckpt", ProjNet(seed=2))
    with pytest.raises(CheckpointError, match=r"proj.conn.data: 1. nS in the file, 2. nS here"):
        nd.load(tmp_path / "ckpt", ProjNet(w=2 * u.nS))
    other = ProjNet(tau=10 * u.ms)
    nd.load(tmp_path / "ckpt", other, strict=False)  # on explicit request


class Rich(nd.Network):
    """Random drive (Poisson input from the global stream), per-synapse and homogeneous
    delays, STP and conductance synapses: everything a continuation must carry over."""

    def __init__(self):
        from neurodyn import event
        from neurodyn.dyn import STP, PoissonInput, Projection, Uniform, VoltageJump

        self.N = LIF(60, tau_ref=2 * u.ms, V_initializer=Uniform(-70 * u.mV, -52 * u.mV))
        conn = event.FixedProb(0.15, seed=3).build(60, 60, weight=0.8 * u.nS)
        self.rec = Projection(
            self.N, self.N, conn, stp=STP(U=0.4, tau_d=50 * u.ms), delay=1.5 * u.ms
        )
        d = (np.arange(conn.nnz) % 4) * 0.5 * u.ms
        self.jump = Projection(
            self.N, self.N, conn.with_data(0.3 * u.mV), output=VoltageJump(), delay=d
        )
        self.ext = PoissonInput(self.N, 50, 40 * u.Hz, 1.2 * u.mV, output=VoltageJump())


@pytest.mark.slow  # (~10-18 s: make test-slow)
def test_save_fresh_build_load_continue_reproduces_the_uninterrupted_spikes(tmp_path):
    from neurodyn.dyn import SpikeMonitor

    def steps_and_ids(res):
        t, i = res.spikes("s")
        return list(zip(np.round(t.to_value(u.ms) / 0.1).astype(int).tolist(), i.tolist()))

    nd.random.seed(7)
    whole = Rich()
    ref = steps_and_ids(
        nd.run(whole, 100 * u.ms, dt=0.1 * u.ms, monitors={"s": SpikeMonitor(whole.N.spike)})
    )
    nd.random.seed(7)
    first = Rich()
    part1 = nd.run(first, 40 * u.ms, dt=0.1 * u.ms, monitors={"s": SpikeMonitor(first.N.spike)})
    nd.save(tmp_path / "mid", first)
    nd.random.seed(123)  # another process, another stream: the file carries the stream
    fresh = Rich()
    nd.run(fresh, 0.1 * u.ms, dt=0.1 * u.ms)  # (sizes the delay buffers; then overwritten)
    nd.load(tmp_path / "mid", fresh)
    part2 = nd.run(fresh, 60 * u.ms, dt=0.1 * u.ms, monitors={"s": SpikeMonitor(fresh.N.spike)})
    assert len(ref) > 200
    # (spike times continue from the saved step count)
    assert steps_and_ids(part1) + steps_and_ids(part2) == ref
