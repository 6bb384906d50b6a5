"""nd.save / nd.load: round trip and refusals that leave the module untouched."""

import json
import os
import zipfile

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurodyn as nd
import neurodyn.units as u
from neurodyn.state import CheckpointError


class Model(nd.Module):
    def __init__(self, n=3):
        self.v = nd.Hidden(jnp.linspace(-70.0, -60.0, n) * u.mV)
        self.w = nd.Param(jnp.arange(n * 2, dtype=jnp.float32).reshape(n, 2))
        self.idx = nd.Memory(jnp.arange(n, dtype=jnp.int32))
        self.pair = nd.Memory({"a": jnp.ones(2, jnp.bfloat16), "b": jnp.zeros((), jnp.float16)})
        self.key = nd.RandomKey(jax.random.key(7))


def _values(m):
    out = {}
    for p, s in m.states().items():
        leaves = jax.tree_util.tree_leaves(s.value)
        out[p] = [
            np.asarray(jax.random.key_data(x))
            if jnp.issubdtype(x.dtype, jax.dtypes.prng_key)
            else np.asarray(x)
            for x in leaves
        ]
    return out


def test_round_trip_preserves_values_units_dtypes(tmp_path):
    m = Model()
    m.v.value = jnp.array([1.0, 2.0, 3.0]) * u.mV
    m.key.value = jax.random.key(99)
    path = tmp_path / "ckpt.npz"
    nd.save(path, m)
    m2 = Model()
    nd.load(path, m2)
    for (p, a), (_, b) in zip(_values(m).items(), _values(m2).items()):
        for x, y in zip(a, b):
            assert x.dtype == y.dtype, p
            np.testing.assert_array_equal(x, y)
    assert m2.v.value.unit is u.mV
    assert m2.pair.value["a"].dtype == jnp.bfloat16
    # the file is an ordinary npz without pickled objects
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(data["__meta__"].tobytes())
    assert meta["states"]["v"]["unit"] == "mV"
    assert [f for f in os.listdir(tmp_path)] == ["ckpt.npz"]  # no temp files left


def _assert_untouched(m, before):
    for (p, a), (_, b) in zip(before.items(), _values(m).items()):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y, err_msg=p)


def test_refuses_missing_and_extra_states(tmp_path):
    path = tmp_path / "c.npz"
    nd.save(path, Model())

    class Bigger(Model):
        def __init__(self):
            super().__init__()
            self.extra = nd.Param(jnp.zeros(1))

    big = Bigger()
    before = _values(big)
    with pytest.raises(CheckpointError, match=r"missing from the file \['extra'\]"):
        nd.load(path, big)
    _assert_untouched(big, before)

    class Smaller(nd.Module):
        def __init__(self):
            self.v = nd.Hidden(jnp.zeros(3) * u.mV)

    with pytest.raises(CheckpointError, match="in the file but not in the module"):
        nd.load(path, Smaller())


@pytest.mark.parametrize(
    "change, fragment",
    [
        (lambda m: setattr(m, "w", nd.Param(jnp.zeros((4, 2)))), "leaves"),
        (lambda m: setattr(m, "v", nd.Hidden(jnp.zeros(3) * u.volt)), "unit mV in the file, V"),
        (lambda m: setattr(m, "idx", nd.Memory(jnp.zeros(3))), "int32"),
        (lambda m: setattr(m, "w", nd.Hidden(jnp.zeros((3, 2)))), "State type Param"),
    ],
)
def test_refuses_mismatches_and_leaves_module_untouched(tmp_path, change, fragment):
    path = tmp_path / "c.npz"
    nd.save(path, Model())
    m = Model()
    m.v.value = jnp.array([5.0, 5.0, 5.0]) * u.mV
    change(m)
    before = _values(m)
    with pytest.raises(CheckpointError, match=fragment):
        nd.load(path, m)
    _assert_untouched(m, before)


def test_refuses_corrupt_and_foreign_files(tmp_path):
    m = Model()
    before = _values(m)
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip file at all")
    with pytest.raises(CheckpointError, match="not a readable neurodyn checkpoint"):
        nd.load(bad, m)
    good = tmp_path / "good.npz"
    nd.save(good, m)
    truncated = tmp_path / "trunc.npz"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(CheckpointError):
        nd.load(truncated, m)
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, x=np.zeros(3))
    with pytest.raises(CheckpointError, match="no neurodyn metadata"):
        nd.load(foreign, m)
    with zipfile.ZipFile(good) as z:
        assert "__meta__.npy" in z.namelist()
    _assert_untouched(m, before)


def test_failed_save_leaves_previous_file_and_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "c.npz"
    m = Model()
    nd.save(path, m)
    original = path.read_bytes()

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", boom)
    m.w.value = jnp.zeros((3, 2))
    with pytest.raises(OSError, match="disk full"):
        nd.save(path, m)
    assert path.read_bytes() == original
    assert os.listdir(tmp_path) == ["c.npz"]
