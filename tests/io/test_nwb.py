"""NWB files of a run: pynwb's schema validation and nwbinspector's best-practice checks
pass; spikes and series come back with their units; to_neo feeds Elephant, whose mean
firing rates equal the spike counts of the raster divided by the run's duration."""

import datetime

import numpy as np
import pytest

import neurodyn as nd
import neurodyn.units as u
from neurodyn.dyn import Monitor

pynwb = pytest.importorskip("pynwb")
nwbinspector = pytest.importorskip("nwbinspector")
from neurodyn.io import nwb  # noqa: E402

META = {
    "experimenter": "Doe, Jane",
    "institution": "Example Institute",
    "subject": {"species": "Mus musculus", "sex": "U", "age": "P90D"},
    "session_start_time": datetime.datetime(2024, 5, 1, 12, tzinfo=datetime.UTC),
}


@pytest.fixture(scope="module")
def run():
    class Net(nd.Network):
        def __init__(self):
            self.E = nd.dyn.LIF(6, I_ext=np.linspace(170, 420, 6) * u.pA)
            self.I = nd.dyn.LIF(2, I_ext=300 * u.pA)

    net = Net()
    nd.run(net, 20 * u.ms, dt=0.1 * u.ms)  # a continued run: it starts at 20 ms
    return nd.run(
        net,
        100 * u.ms,
        dt=0.1 * u.ms,
        monitors={
            "E": net.E.spike,
            "I": net.I.spike,
            "V": net.E.V,
            "count": Monitor(net.E.spike, every=1 * u.ms),
        },
    )


def _findings(path):
    return [
        (m.importance.name, m.check_function_name, m.message)
        for m in nwbinspector.inspect_nwbfile(
            nwbfile_path=str(path),
            importance_threshold=nwbinspector.Importance.BEST_PRACTICE_SUGGESTION,
        )
    ]


def test_file_passes_validation_and_the_inspector(tmp_path, run):
    path = tmp_path / "run.nwb"
    nwb.write(path, run, populations={"E": "excitatory"}, **META)
    assert pynwb.validate(path=str(path)) == []
    assert _findings(path) == []
    # without the experiment's metadata, the inspector asks for exactly that
    nwb.write(tmp_path / "bare.nwb", run)
    assert pynwb.validate(path=str(tmp_path / "bare.nwb")) == []
    missing = {f[1] for f in _findings(tmp_path / "bare.nwb")}
    assert missing == {"check_experimenter_exists", "check_institution", "check_subject_exists"}


def test_units_and_series_round_trip(tmp_path, run):
    path = tmp_path / "run.nwb"
    nwb.write(path, run, populations={"E": "excitatory"}, **META)
    with pynwb.NWBHDF5IO(str(path), "r") as io:
        f = io.read()
        assert f.units.resolution == pytest.approx(1e-4)
        steps = np.flatnonzero(np.asarray(run["E"])[:, 3])
        row = [k for k in range(len(f.units)) if f.units["population"][k] == "excitatory"][3]
        times = f.units.get_unit_spike_times(row)  # seconds, float64, on the dt grid
        np.testing.assert_allclose(times, (200 + steps) * 1e-4, rtol=1e-14)
        assert sorted(set(f.units["population"][:])) == ["I", "excitatory"]
        v = f.acquisition["V"]
        assert v.unit == "volts" and v.conversion == pytest.approx(1e-3)
        assert v.rate == pytest.approx(1e4) and v.starting_time == pytest.approx(0.0201)
    back = nwb.read(path)
    assert back["resolution"].to_value(u.ms) == pytest.approx(0.1)
    for mon, pop in (("E", "excitatory"), ("I", "I")):
        raster = np.asarray(run[mon])
        steps, ids = np.nonzero(raster)  # start-of-step stamps on the 0.1 ms grid
        order = np.lexsort((ids, steps))
        t, i = back["spikes"][pop]
        # Quantities hold float32 (JAX's default); the file the float64 grid
        np.testing.assert_allclose(t.to_value(u.ms), 20 + steps[order] * 0.1, rtol=1e-7)
        np.testing.assert_array_equal(i, ids[order])
    t, v = back["series"]["V"]
    assert v.unit == u.mV
    np.testing.assert_array_equal(v.to_value(u.mV), np.asarray(run["V"].to_value(u.mV)))
    np.testing.assert_allclose(t.to_value(u.ms)[:2], [20.1, 20.2])
    t, c = back["series"]["count"]
    np.testing.assert_array_equal(c, np.asarray(run["count"]))
    np.testing.assert_allclose(t.to_value(u.ms)[:2], [21.0, 22.0])


def test_to_neo_rates_equal_the_raster_counts(run):
    import quantities as pq
    from elephant.statistics import mean_firing_rate

    block = nwb.to_neo(run)
    seg = block.segments[0]
    trains = [st for st in seg.spiketrains if st.annotations["population"] == "E"]
    assert len(trains) == 6 and [g.name for g in block.groups] == ["E", "I"]
    expected = np.asarray(run["E"]).sum(axis=0) / (1000 * 1e-4)  # spikes / 0.1 s
    assert expected.max() > 0
    for k, st in enumerate(trains):
        assert st.annotations["node_id"] == k
        assert float(st.t_start.rescale(pq.ms)) == pytest.approx(20.0)
        rate = float(mean_firing_rate(st).rescale(pq.Hz))
        assert abs(rate - expected[k]) <= 1e-12 * max(1.0, expected[k])
    v = next(s for s in seg.analogsignals if s.name == "V")
    assert v.units == pq.mV and v.shape == (1000, 6)
    assert float(v.sampling_period.rescale(pq.ms)) == pytest.approx(0.1)


def test_errors(tmp_path, run):
    with pytest.raises(KeyError, match="no monitor"):
        nwb.write(tmp_path / "x.nwb", run, monitors=["W"])
    with pytest.raises(ValueError, match="timezone-aware"):
        nwb.write(tmp_path / "x.nwb", run, session_start_time=datetime.datetime(2024, 1, 1))
    assert not (tmp_path / "x.nwb").exists()


def test_sparse_spike_monitors_write_like_rasters(tmp_path):
    """A SpikeMonitor's (t, i) record goes to Units as a raster does, and fast: the
    table is written as arrays (hdmf converting spike by spike took 30 s for 1.7 M)."""
    from neurodyn.dyn import SpikeMonitor

    class Net(nd.Network):
        def __init__(self):
            self.E = nd.dyn.LIF(6, I_ext=np.linspace(170, 420, 6) * u.pA)

    net = Net()
    nd.run(net, 5 * u.ms, dt=0.1 * u.ms)
    res = nd.run(
        net, 50 * u.ms, dt=0.1 * u.ms, monitors={"r": net.E.spike, "s": SpikeMonitor(net.E.spike)}
    )
    nwb.write(tmp_path / "run.nwb", res, monitors=["s"], **META)
    assert pynwb.validate(path=str(tmp_path / "run.nwb")) == []
    t, i = nwb.read(tmp_path / "run.nwb")["spikes"]["s"]
    steps, ids = np.nonzero(np.asarray(res["r"]))
    order = np.lexsort((ids, steps))
    np.testing.assert_allclose(t.to_value(u.ms), 5 + steps[order] * 0.1, rtol=1e-6)
    np.testing.assert_array_equal(i, ids[order])
