"""SONATA spike files: the layout of the specification (read with plain h5py), the
sorting orders, and the round trip of a RunResult's spikes."""

import numpy as np
import pytest

import neurodyn as nd
import neurodyn.units as u

h5py = pytest.importorskip("h5py")
from neurodyn.io import sonata  # noqa: E402


def test_layout_follows_the_sonata_specification(tmp_path):
    path = tmp_path / "spikes.h5"
    sonata.write_spikes(path, {"E": (np.array([3.0, 1.5, 1.5, 0.2]) * u.ms, [4, 2, 1, 7])})
    with h5py.File(path, "r") as f:
        g = f["spikes/E"]
        assert g["timestamps"].dtype == np.float64 and g["node_ids"].dtype == np.uint64
        assert g["timestamps"].attrs["units"] == "ms"
        enum = h5py.check_enum_dtype(g.attrs.get_id("sorting").dtype)
        assert enum == {"none": 0, "by_id": 1, "by_time": 2}
        assert g.attrs["sorting"] == 2  # by_time
        # float64 in the file; the Quantity given held float32 values
        np.testing.assert_allclose(g["timestamps"][()], [0.2, 1.5, 1.5, 3.0], rtol=1e-7)
        np.testing.assert_array_equal(g["node_ids"][()], [7, 1, 2, 4])  # ties by id


@pytest.mark.parametrize(
    ("sorting", "times", "ids"),
    [
        ("by_id", [1.5, 1.5, 0.5, 3.0], [1, 2, 4, 4]),
        ("none", [3.0, 1.5, 0.5, 1.5], [4, 2, 4, 1]),
    ],
)
def test_sorting_orders(tmp_path, sorting, times, ids):
    path = tmp_path / "s.h5"
    spikes = {"pop": (np.array([3.0, 1.5, 0.5, 1.5]) * u.ms, np.array([4, 2, 4, 1]))}
    sonata.write_spikes(path, spikes, sorting=sorting)
    t, i, s = sonata.read_spikes(path, with_sorting=True)["pop"]
    assert s == sorting
    np.testing.assert_array_equal(t.to_value(u.ms), times)
    np.testing.assert_array_equal(i, ids)


def test_run_result_round_trip(tmp_path):
    class Net(nd.Network):
        def __init__(self):
            self.E = nd.dyn.LIF(8, I_ext=np.linspace(160, 400, 8) * u.pA)
            self.I = nd.dyn.LIF(3, I_ext=300 * u.pA)

    net = Net()
    res = nd.run(
        net, 60 * u.ms, dt=0.1 * u.ms, monitors={"E": net.E.spike, "I": net.I.spike, "V": net.E.V}
    )
    path = tmp_path / "run.h5"
    sonata.write_spikes(path, res)  # every boolean monitor, one population each
    back = sonata.read_spikes(path)
    assert sorted(back) == ["E", "I"]
    for name in ("E", "I"):
        raster = np.asarray(res[name])
        steps, ids = np.nonzero(raster)  # independent of RunResult.spikes
        order = np.lexsort((ids, steps))
        t, i = back[name]
        assert t.unit == u.ms and len(t) == raster.sum() > 0
        np.testing.assert_allclose(t.to_value(u.ms), steps[order] * 0.1, rtol=1e-7)
        np.testing.assert_array_equal(i, ids[order])
    with h5py.File(path, "r") as f:  # the file holds the dt grid in float64
        steps, ids = np.nonzero(np.asarray(res["E"]))
        np.testing.assert_array_equal(f["spikes/E/timestamps"][()], np.sort(steps) * 0.1)
    sonata.write_spikes(path, res, monitors={"excitatory": "E"})
    assert list(sonata.read_spikes(path)) == ["excitatory"]
    times_s = {"x": (np.array([0.5, 0.25]) * u.second, [0, 1])}
    sonata.write_spikes(path, times_s)
    np.testing.assert_allclose(sonata.read_spikes(path)["x"][0].to_value(u.ms), [250.0, 500.0])


def test_errors_say_what_is_expected(tmp_path):
    path = tmp_path / "bad.h5"
    with pytest.raises(u.UnitMismatchError, match="must be a time Quantity"):
        sonata.write_spikes(path, {"E": (np.array([1.0]), [0])})
    with pytest.raises(ValueError, match="has 2 times but node ids of shape"):
        sonata.write_spikes(path, {"E": (np.array([1.0, 2.0]) * u.ms, [0])})
    with pytest.raises(ValueError, match="sorting must be one of"):
        sonata.write_spikes(path, {"E": (np.array([1.0]) * u.ms, [0])}, sorting="random")
    assert not path.exists()
    with h5py.File(path, "w") as f:
        f.create_group("report")
    with pytest.raises(ValueError, match="not a SONATA spike file"):
        sonata.read_spikes(path)
