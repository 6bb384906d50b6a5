"""SpikeMonitor: every spike as (time, index), memory bounded by the number of spikes.

Checked against the dense raster recorded in the same run by an independent path (a
[steps, n] boolean array and numpy's argwhere), with buffers too small on purpose (the
segment is rerun, random draws included), over segments, continued runs and batches.
The exact comparison with Brian2's spike train is in test_brunel.py."""

import numpy as np
import pytest

import neurodyn as nd
import neurodyn.units as u
from neurodyn import event
from neurodyn.dyn import (
    LIF,
    Monitor,
    PoissonInput,
    Projection,
    RunResult,
    SpikeMonitor,
    VoltageJump,
)


class Net(nd.Network):
    def __init__(self, n=50):
        self.pop = LIF(n, tau_ref=2 * u.ms, V_initializer=nd.dyn.Uniform(-70 * u.mV, -50 * u.mV))
        self.rec = Projection(self.pop, self.pop, event.FixedProb(0.1, seed=3), weight=0.5 * u.nS)
        self.drive = PoissonInput(self.pop, 200, 30 * u.Hz, 1 * u.mV, output=VoltageJump())


def _raster_spikes(res, name):
    steps, i = np.nonzero(np.asarray(res[name]))
    return steps, i


def _steps(t):
    return np.round(t.to_value(u.ms) / 0.1).astype(int)


def test_spike_monitor_equals_the_raster_even_when_its_buffer_overflows():
    net = Net()
    mons = {"raster": net.pop.spike, "sp": SpikeMonitor(net.pop.spike, capacity=8)}
    res = nd.run(net, 100 * u.ms, dt=0.1 * u.ms, monitors=mons)
    steps, i = _raster_spikes(res, "raster")
    assert len(i) > 100  # the buffer of 8 overflowed: the segment was run again
    t, j = res.spikes("sp")
    np.testing.assert_array_equal(_steps(t), steps)
    np.testing.assert_array_equal(j, i)
    rec = res["sp"]
    np.testing.assert_array_equal(rec.count, np.asarray(res["raster"]).sum(0))
    assert "spikes of (50,)" in repr(res) and len(repr(res)) < 200
    trains = res.spike_trains("sp")
    for k in (0, 7, 49):
        np.testing.assert_allclose(
            trains[k].to_value(u.ms),
            np.flatnonzero(steps[i == k] >= 0) * 0 + steps[i == k] * 0.1,
            atol=1e-4,
        )


def test_segments_continued_runs_and_the_default_capacity():
    nd.random.seed(5)  # (the Poisson drive draws from the global key)
    a = Net()
    res_a = nd.run(a, 60 * u.ms, dt=0.1 * u.ms, monitors={"raster": a.pop.spike})
    nd.random.seed(5)
    b = Net()
    parts = [
        nd.run(b, T * u.ms, dt=0.1 * u.ms, monitors={"sp": SpikeMonitor("pop.spike")}, n_segments=s)
        for T, s in ((20, 4), (40, 1))
    ]
    steps, i = _raster_spikes(res_a, "raster")
    t = np.concatenate([_steps(p["sp"].t) for p in parts])
    j = np.concatenate([p["sp"].i for p in parts])
    np.testing.assert_array_equal(t, steps)  # the second run continues at 20 ms
    np.testing.assert_array_equal(j, i)
    assert parts[0].timing["segments"] == 4


def test_a_batched_run_gives_batch_neuron_pairs():
    net = Net(n=20)
    net.init_state(batch_size=3)
    mons = {"raster": net.pop.spike, "sp": SpikeMonitor(net.pop.spike)}
    res = nd.run(net, 30 * u.ms, dt=0.1 * u.ms, monitors=mons)
    hits = np.argwhere(np.asarray(res["raster"]))  # [step, batch, neuron]
    t, pairs = res.spikes("sp")
    assert pairs.shape == (len(hits), 2) and len(hits) > 10
    np.testing.assert_array_equal(_steps(t), hits[:, 0])
    np.testing.assert_array_equal(pairs, hits[:, 1:])
    assert res["sp"].count.shape == (3, 20)
    with pytest.raises(ValueError, match="batched run"):
        res.spike_trains("sp")


def test_save_and_load_keep_the_spikes(tmp_path):
    net = Net()
    res = nd.run(
        net, 30 * u.ms, dt=0.1 * u.ms, monitors={"V": net.pop.V, "sp": SpikeMonitor(net.pop.spike)}
    )
    res.save(tmp_path / "run.npz")
    back = RunResult.load(tmp_path / "run.npz")
    np.testing.assert_array_equal(back["sp"].i, res["sp"].i)
    np.testing.assert_allclose(back["sp"].t.to_value(u.ms), res["sp"].t.to_value(u.ms))
    assert back["sp"].shape == (50,) and back["V"].unit == u.mV
    assert res.units()["sp.t"] == "ms"


def test_bad_targets_and_transforms_are_refused():
    net = Net()
    with pytest.raises(TypeError, match="SpikeMonitor 'v': expected a boolean"):
        nd.run(net, 1 * u.ms, dt=0.1 * u.ms, monitors={"v": SpikeMonitor(net.pop.V)})
    with pytest.raises(ValueError, match="capacity must be a positive int"):
        nd.run(
            net, 1 * u.ms, dt=0.1 * u.ms, monitors={"s": SpikeMonitor(net.pop.spike, capacity=0)}
        )

    def loss():
        res = nd.run(net, 1 * u.ms, dt=0.1 * u.ms, monitors={"s": SpikeMonitor(net.pop.spike)})
        return res["s"].count.sum()

    with pytest.raises(ValueError, match="cannot record inside nd.grad"):
        nd.jit(loss)()


def test_plot_draws_a_raster_and_traces():
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    net = Net()
    res = nd.run(
        net,
        20 * u.ms,
        dt=0.1 * u.ms,
        monitors={"V": Monitor(net.pop.V), "sp": SpikeMonitor(net.pop.spike)},
    )
    axes = res.plot()
    assert len(axes) == 2
    xs = np.concatenate([ln.get_xdata() for ln in axes[1].lines])
    np.testing.assert_allclose(np.sort(xs), np.sort(res["sp"].t.to_value(u.ms)), atol=1e-4)
