"""NWB files of a run: pynwb's schema validation and nwbinspector's best-practice checks
pass; spikes, series and stimuli come back with their units; to_neo feeds Elephant, whose mean
firing rates equal the spike counts of the raster divided by the run's duration."""

import datetime

import jax.numpy as jnp
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


def _stimuli():
    """Every kind of stimulus for the 1000 steps of ``run``: a spike raster on the run's
    grid (as ArrayInput.feed takes it), a current on the grid, a clamp at irregular times,
    a float32 time grid (written as a rate) and a ready pynwb TimeSeries."""
    rng = np.random.default_rng(4)
    raster = rng.random((1000, 4)) < 0.05
    current = (np.sin(np.arange(1000) / 80.0)[:, None] * [100.0, 250.0]).astype(np.float32)
    t_clamp = 20 + np.cumsum(rng.uniform(0.5, 3.0, 30))
    pulse_t = u.Quantity(jnp.arange(50, dtype=jnp.float32) * 2.0 + 20.0, u.ms)  # float32
    given = pynwb.TimeSeries(
        name="given",
        description="A stimulus made with pynwb.",
        data=np.arange(10.0),
        unit="amperes",
        conversion=1e-9,
        starting_time=0.02,
        rate=100.0,
    )
    return {
        "input": raster,
        "current": current * u.pA,
        "clamp": (t_clamp * u.ms, np.linspace(-70, -50, 30) * u.mV),
        "pulse": (pulse_t, np.ones(50) * u.nA),
        "given": given,
    }


def test_stimuli_are_time_series_in_stimulus_that_read_back(tmp_path, run):
    path = tmp_path / "stim.nwb"
    stim = _stimuli()
    nwb.write(path, run, stimuli=stim, **META)
    assert pynwb.validate(path=str(path)) == []
    assert _findings(path) == []
    with pynwb.NWBHDF5IO(str(path), "r") as io:
        f = io.read()
        assert sorted(f.stimulus) == ["clamp", "current", "given", "input", "pulse"]
        assert not set(f.stimulus) & set(f.acquisition)
        cur = f.stimulus["current"]
        assert cur.unit == "amperes" and cur.conversion == pytest.approx(1e-12)
        # row k is the input during step k: stamped with the start of the step; the run
        # (continued) starts at 20 ms
        assert cur.starting_time == pytest.approx(0.02) and cur.rate == pytest.approx(1e4)
        assert f.stimulus["input"].unit == "n.a." and f.stimulus["input"].data.dtype == np.uint8
        clamp = f.stimulus["clamp"]
        assert clamp.unit == "volts" and clamp.conversion == pytest.approx(1e-3)
        np.testing.assert_allclose(clamp.timestamps[()], stim["clamp"][0].to_value(u.second))
        pulse = f.stimulus["pulse"]  # float32 times of a 2 ms grid: a rate
        assert pulse.timestamps is None and pulse.rate == pytest.approx(500.0)
        assert pulse.starting_time == pytest.approx(0.02)
    back = nwb.read(path)["stimuli"]
    t, x = back["input"]
    np.testing.assert_array_equal(x, stim["input"].astype(np.uint8))
    # (Quantities hold float32, JAX's default; the file the float64 grid)
    np.testing.assert_allclose(t.to_value(u.ms), 20 + np.arange(1000) * 0.1, rtol=1e-7)
    t, c = back["current"]
    assert c.unit == u.pA
    np.testing.assert_array_equal(c.to_value(u.pA), stim["current"].to_value(u.pA))
    t, v = back["clamp"]
    assert v.unit == u.mV
    np.testing.assert_array_equal(v.to_value(u.mV), stim["clamp"][1].to_value(u.mV))
    # float32 times through seconds and back: two roundings
    np.testing.assert_allclose(t.to_value(u.ms), stim["clamp"][0].to_value(u.ms), rtol=3e-7)
    t, p = back["pulse"]
    np.testing.assert_allclose(t.to_value(u.ms), 20 + 2.0 * np.arange(50), rtol=3e-7)
    assert p.unit == u.nA
    t, g = back["given"]  # a file's own SI unit and conversion
    np.testing.assert_allclose(g.to_value(u.nA), np.arange(10.0))
    np.testing.assert_allclose(t.to_value(u.ms), 20 + 10 * np.arange(10))


@pytest.mark.parametrize(
    ("stimulus", "error", "match"),
    [
        ({"a/b": np.ones(3)}, ValueError, "cannot hold '/' or ':'; rename stimulus 'a/b'"),
        ({"x": (np.arange(3.0), np.ones(3))}, u.UnitMismatchError, "must be a time Quantity"),
        ({"x": (np.arange(3.0) * u.ms, np.ones(4))}, ValueError, "3 times for 4 rows"),
        ({"x": ([0.0, 2.0, 1.0] * u.ms, np.ones(3))}, ValueError, "finite and increasing"),
        ({"x": np.array(["a", "b"])}, ValueError, "must hold numbers with time on the first"),
        ({"x": np.ones(0)}, ValueError, "shape \\(0,\\)"),
        ({"x": (1, 2, 3)}, ValueError, "tuple of 3; give \\(times, values\\)"),
    ],
)
def test_bad_stimuli_are_refused_without_a_file(tmp_path, run, stimulus, error, match):
    with pytest.raises(error, match=match):
        nwb.write(tmp_path / "x.nwb", run, stimuli=stimulus)
    assert not list(tmp_path.iterdir())


def test_a_time_series_stimulus_keeps_its_name(tmp_path, run):
    ts = pynwb.TimeSeries(name="a", data=np.ones(3), unit="n.a.", rate=1.0, description="d")
    with pytest.raises(ValueError, match="TimeSeries named 'a'; give it under its own name"):
        nwb.write(tmp_path / "x.nwb", run, stimuli={"b": ts})
    assert not list(tmp_path.iterdir())


def test_the_models_parameters_are_a_table_that_reads_back(tmp_path):
    from neurodyn import event

    class Net(nd.Network):
        def __init__(self):
            self.E = nd.dyn.LIF(6, tau=15 * u.ms, I_ext=np.linspace(170, 420, 6) * u.pA)
            self.out = nd.dyn.LI(2, tau=8 * u.ms, R=50 * u.Mohm)
            self.p = nd.dyn.Projection(
                self.E,
                self.out,
                event.FixedProb(0.5, seed=1),
                weight=20 * u.pA,
                synapse=nd.dyn.Expon(3 * u.ms),
                output=nd.dyn.CUBA(),
            )

    net = Net()
    res = nd.run(net, 10 * u.ms, dt=0.1 * u.ms, monitors={"E": net.E.spike})
    path = tmp_path / "model.nwb"
    nwb.write(path, res, model=net, **META)
    assert pynwb.validate(path=str(path)) == []
    assert _findings(path) == []
    params = nwb.read(path)["parameters"]
    assert params["E.tau"].unit == u.ms and float(params["E.tau"].to_value(u.ms)) == 15.0
    np.testing.assert_allclose(params["E.I_ext"].to_value(u.pA), np.linspace(170, 420, 6))
    assert params["E.I_ext"].shape == (6,)
    assert float(params["out.R"].to_value(u.Mohm)) == 50.0
    assert float(params["p.synapse.tau"].to_value(u.ms)) == 3.0
    assert "p.conn" not in params  # connectivity is not a parameter value
    with pynwb.NWBHDF5IO(str(path), "r") as io:
        table = io.read().processing["misc"]["model_parameters"]
        rows = dict(zip(table["parameter"][:], table["model"][:]))
        assert rows["E.tau"] == "LIF" and rows["out.tau"] == "LI"
    with pytest.raises(TypeError, match="model must be a neurodyn Module"):
        nwb.write(tmp_path / "x.nwb", res, model={"tau": 1})
    assert not (tmp_path / "x.nwb").exists()


def _mean_firing_rate(st):
    """Elephant's mean_firing_rate (Hz) when Elephant is installed, else the same
    definition with neo alone (spikes / (t_stop - t_start))."""
    import quantities as pq

    try:
        from elephant.statistics import mean_firing_rate
    except ImportError:
        return len(st) / float((st.t_stop - st.t_start).rescale(pq.s))
    return float(mean_firing_rate(st).rescale(pq.Hz))


def test_to_neo_rates_equal_the_raster_counts(run):
    import quantities as pq

    block = run.to_neo()
    seg = block.segments[0]
    trains = [st for st in seg.spiketrains if st.annotations["population"] == "E"]
    assert len(trains) == 6 and [g.name for g in block.groups] == ["E", "I"]
    expected = np.asarray(run["E"]).sum(axis=0) / (1000 * 1e-4)  # spikes / 0.1 s
    assert expected.max() > 0
    ours = np.asarray(nd.analysis.firing_rate(run["E"], dt=0.1 * u.ms).to_value(u.Hz))
    np.testing.assert_allclose(ours, expected, rtol=1e-6)  # (float32 Quantities)
    for k, st in enumerate(trains):
        assert st.annotations["node_id"] == k
        assert float(st.t_start.rescale(pq.ms)) == pytest.approx(20.0)
        rate = _mean_firing_rate(st)
        assert abs(rate - expected[k]) <= 1e-12 * max(1.0, expected[k])
    v = next(s for s in seg.analogsignals if s.name == "V")
    assert v.units == pq.mV and v.shape == (1000, 6)
    assert float(v.sampling_period.rescale(pq.ms)) == pytest.approx(0.1)
    np.testing.assert_array_equal(v.magnitude, np.asarray(run["V"].to_value(u.mV)))


def test_to_neo_of_a_spike_monitor_gives_the_same_rates(tmp_path):
    from neurodyn.dyn import SpikeMonitor

    class Net(nd.Network):
        def __init__(self):
            self.E = nd.dyn.LIF(6, I_ext=np.linspace(170, 420, 6) * u.pA)

    net = Net()
    nd.run(net, 5 * u.ms, dt=0.1 * u.ms)
    res = nd.run(
        net, 50 * u.ms, dt=0.1 * u.ms, monitors={"r": net.E.spike, "s": SpikeMonitor(net.E.spike)}
    )
    block = res.to_neo()
    by = {
        (st.annotations["population"], st.annotations["node_id"]): st
        for st in block.segments[0].spiketrains
    }
    expected = np.asarray(res["r"]).sum(axis=0) / 0.05
    assert expected.max() > 0
    for k in range(6):
        a, b = by[("r", k)], by[("s", k)]
        np.testing.assert_array_equal(a.magnitude, b.magnitude)
        assert a.t_start == b.t_start and a.t_stop == b.t_stop
        assert abs(_mean_firing_rate(b) - expected[k]) <= 1e-12 * max(1.0, expected[k])


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


def _long_run(steps=100_000, n=250, seed=0):
    """A RunResult of ``steps`` x ``n`` float32 values in mV (100 MB by default) and a
    SpikeMonitor record, made without simulating."""
    from neurodyn.dyn import RunResult, SpikeRecord

    rng = np.random.default_rng(seed)
    v = rng.random((steps, n), dtype=np.float32)  # (incompressible: the worst case)
    spike_steps = np.sort(rng.integers(0, steps, 20_000))
    rec = SpikeRecord(
        t=spike_steps * 0.1 * u.ms, i=rng.integers(0, n, spike_steps.size), shape=(n,)
    )
    times = (np.arange(1, steps + 1) * 0.1) * u.ms
    timing = {"dt_ms": 0.1, "t_start_ms": 0.0, "t_stop_ms": steps * 0.1}
    return RunResult(times=times, data={"V": v * u.mV, "s": rec}, timing=timing), v, rec


def test_a_long_series_is_written_in_chunks_without_a_second_copy(tmp_path):
    """The datasets are filled a chunk (1 MiB) at a time from the run's own arrays: the
    Python heap (numpy's buffers included) grows by a small fraction of the series."""
    import tracemalloc

    import h5py

    res, v, rec = _long_run()
    nwb.write(tmp_path / "warm.nwb", _long_run(100, 4)[0], **META)  # imports, caches
    tracemalloc.start()
    nwb.write(tmp_path / "run.nwb", res, threads=2, **META)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 0.1 * v.nbytes, f"peak {peak / 1e6:.1f} MB for a {v.nbytes / 1e6:.0f} MB series"
    with h5py.File(tmp_path / "run.nwb", "r") as f:
        d = f["acquisition/V/data"]
        assert d.dtype == np.float32 and d.compression == "gzip" and d.shuffle
        assert d.chunks[1] <= 128 and np.prod(d.chunks) * 4 <= 1 << 20
        for rows in (slice(0, 2500), slice(len(v) - 2500, None)):  # first and edge chunks
            np.testing.assert_array_equal(d[rows], v[rows])
        assert f["units/spike_times"].compression == "gzip"
        steps = np.round(np.asarray(rec.t.to_value(u.ms), float) / 0.1)
        order = np.lexsort((steps, rec.i))  # by neuron, then time
        np.testing.assert_array_equal(f["units/spike_times"][()], steps[order] * 0.1 / 1e3)
        counts = np.bincount(rec.i, minlength=rec.shape[0])
        np.testing.assert_array_equal(f["units/spike_times_index"][()], np.cumsum(counts))


@pytest.mark.parametrize(("gzip_level", "threads"), [(None, 1), (1, 1), (6, 3)])
def test_every_compression_setting_reads_back_exactly(tmp_path, gzip_level, threads):
    """Edge chunks, a bool series (uint8 in the file), 3-D values, one thread or several,
    uncompressed, ISA-L (levels 1-3) or zlib: the values come back as written."""
    from neurodyn.dyn import RunResult

    rng = np.random.default_rng(1)
    steps = 3001  # not a multiple of any chunk
    data = {
        "V": rng.standard_normal((steps, 130)).astype(np.float32) * u.mV,
        "flag": rng.random((steps // 2, 3)) < 0.5,  # every 2nd step: a series, not spikes
        "m": rng.standard_normal((steps, 2, 3)) * u.nS,
        "raster": rng.random((steps, 5)) < 0.01,
    }
    times = (np.arange(1, steps + 1) * 0.1) * u.ms
    res = RunResult(
        times=times, data=data, timing={"dt_ms": 0.1}, monitor_times={"flag": times[1::2]}
    )
    path = tmp_path / "run.nwb"
    nwb.write(path, res, gzip_level=gzip_level, threads=threads, **META)
    assert pynwb.validate(path=str(path)) == []
    back = nwb.read(path)
    np.testing.assert_array_equal(back["series"]["V"][1].to_value(u.mV), data["V"].to_value(u.mV))
    t, flag = back["series"]["flag"]
    np.testing.assert_array_equal(flag, data["flag"].astype(np.uint8))
    np.testing.assert_allclose(t.to_value(u.ms)[:2], [0.2, 0.4])
    np.testing.assert_array_equal(back["series"]["m"][1].to_value(u.nS), data["m"].to_value(u.nS))
    rows, ids = np.nonzero(data["raster"])
    order = np.lexsort((ids, rows))
    t, i = back["spikes"]["raster"]
    np.testing.assert_array_equal(i, ids[order])
    np.testing.assert_allclose(t.to_value(u.ms), rows[order] * 0.1, rtol=1e-7)  # (float32)
    with pynwb.NWBHDF5IO(str(path), "r") as io:  # the file: float64 on the dt grid
        units = io.read().units
        for k in range(5):
            np.testing.assert_array_equal(
                units.get_unit_spike_times(k), np.flatnonzero(data["raster"][:, k]) * 0.1 / 1e3
            )


def test_to_neo_is_the_run_results_method(run):
    """One implementation: nwb.to_neo(res) is res.to_neo(), which needs only neo."""
    a, b = nwb.to_neo(run, populations={"E": "exc"}), run.to_neo(populations={"E": "exc"})
    sa, sb = a.segments[0].spiketrains, b.segments[0].spiketrains
    assert len(sa) == len(sb) == 8
    for x, y in zip(sa, sb):
        np.testing.assert_array_equal(x.magnitude, y.magnitude)
        assert x.annotations == y.annotations
    assert [g.name for g in b.groups] == ["exc", "I"]
    with pytest.raises(KeyError, match="no monitor"):
        run.to_neo(monitors=["W"])


def test_to_neo_says_which_extra_to_install(run, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "neo", None)
    with pytest.raises(ImportError, match=r"'neo'.*pip install neurodyn\[io\]"):
        run.to_neo()


def test_without_isal_zlib_compresses_the_same_values(tmp_path, monkeypatch):
    """ISA-L (the io extra's ``isal``) only makes deflate faster: without it zlib writes
    the same data."""
    import sys

    import h5py

    res, v, _ = _long_run(steps=4000, n=50)
    nwb.write(tmp_path / "isal.nwb", res, **META)
    monkeypatch.setitem(sys.modules, "isal", None)
    monkeypatch.setitem(sys.modules, "isal.isal_zlib", None)
    nwb.write(tmp_path / "zlib.nwb", res, **META)
    for name in ("isal.nwb", "zlib.nwb"):
        with h5py.File(tmp_path / name, "r") as f:
            assert f["acquisition/V/data"].compression_opts == 1
            np.testing.assert_array_equal(f["acquisition/V/data"][()], v)
