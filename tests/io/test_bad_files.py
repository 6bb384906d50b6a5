"""Corrupt and foreign files are refused by every reader with a message that names the
format (nothing is returned), and a writer that fails leaves no half-written file: the
target keeps its old contents and no temporary file stays behind."""

from pathlib import Path

import numpy as np
import pytest

import neurodyn as nd
import neurodyn.units as u

h5py = pytest.importorskip("h5py")
pytest.importorskip("nir")
pytest.importorskip("pynwb")
from neurodyn.io import nir as ndnir  # noqa: E402
from neurodyn.io import nwb, sonata  # noqa: E402

REF = Path(__file__).resolve().parents[1] / "reference" / "nir"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """One valid file of each format, plus a text file and an empty HDF5 file."""
    d = tmp_path_factory.mktemp("files")

    class Net(nd.Network):
        def __init__(self):
            self.E = nd.dyn.LIF(3, I_ext=np.array([200, 300, 400]) * u.pA)

    net = Net()
    res = nd.run(net, 30 * u.ms, dt=0.1 * u.ms, monitors={"E": net.E.spike, "V": net.E.V})
    out = {
        "nwb": nwb.write(d / "run.nwb", res),
        "sonata": sonata.write_spikes(d / "spikes.h5", res),
        "nir": ndnir.save(d / "lif.nir", ndnir.load(REF / "lif_norse.nir")),
        "text": d / "notes.txt",
        "empty_hdf5": d / "empty.h5",
    }
    out["text"].write_text("spikes: 1 2 3\n")
    with h5py.File(out["empty_hdf5"], "w"):
        pass
    return {k: Path(v) for k, v in out.items()}, res


READERS = {
    "nwb": (nwb.read, "NWB"),
    "sonata": (sonata.read_spikes, "SONATA spike"),
    "nir": (ndnir.load, "NIR"),
}


@pytest.mark.parametrize("fmt", list(READERS))
@pytest.mark.parametrize("other", ["text", "empty_hdf5", "nwb", "sonata", "nir"])
def test_a_foreign_file_is_refused_by_name(files, fmt, other):
    paths, _ = files
    if other == fmt:
        pytest.skip("its own format")
    read, name = READERS[fmt]
    with pytest.raises(ValueError, match=f"is not an? {name} file"):
        read(paths[other])


@pytest.mark.parametrize("fmt", list(READERS))
def test_a_truncated_or_damaged_file_is_refused(files, fmt, tmp_path):
    paths, _ = files
    read, name = READERS[fmt]
    data = paths[fmt].read_bytes()
    cut = tmp_path / f"cut{paths[fmt].suffix}"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=f"not a (readable )?{name} file"):
        read(cut)
    flipped = bytearray(data)  # the superblock intact, the rest overwritten
    flipped[2048:] = bytes(len(flipped) - 2048)
    bad = tmp_path / f"bad{paths[fmt].suffix}"
    bad.write_bytes(bytes(flipped))
    with pytest.raises(ValueError, match=f"not a (readable )?{name} file"):
        read(bad)
    with pytest.raises(FileNotFoundError):
        read(tmp_path / f"missing{paths[fmt].suffix}")


def _fails_midway(monkeypatch, module, name):
    """Make ``module.name`` raise after writing part of the file."""
    original = getattr(module, name)
    calls = []

    def broken(*args, **kwargs):
        calls.append(1)
        if len(calls) > 1:
            raise OSError("disk full")
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, broken)


def _broken_writer(files, writer, target, monkeypatch):
    """A call of ``writer`` that fails half-way through writing ``target``."""
    paths, res = files
    if writer == "nwb":
        import neurodyn.io.nwb as mod

        _fails_midway(monkeypatch, mod, "fill")  # the structure is written, the data not
        return lambda: nwb.write(target, res)
    if writer == "sonata":
        _fails_midway(monkeypatch, h5py.Group, "create_dataset")
        return lambda: sonata.write_spikes(target, res)
    import nir

    model = ndnir.load(paths["nir"])

    def broken(path, graph, **kwargs):
        Path(path).write_bytes(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(nir, "write", broken)
    return lambda: ndnir.save(target, model)


@pytest.mark.parametrize("writer", ["nwb", "sonata", "nir"])
@pytest.mark.parametrize("old", [True, False])
def test_a_failed_write_leaves_no_half_written_file(files, writer, old, tmp_path, monkeypatch):
    target = tmp_path / f"out.{writer}"
    if old:
        target.write_bytes(b"old contents")
    call = _broken_writer(files, writer, target, monkeypatch)
    with pytest.raises(OSError, match="disk full"):
        call()
    assert [p.name for p in tmp_path.iterdir()] == ([target.name] if old else [])
    if old:
        assert target.read_bytes() == b"old contents"
