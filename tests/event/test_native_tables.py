"""The tables that C++ and Python share (``_native/kernels.def``, ``_native/jithash.def``):
kernel names, exported symbols, error messages, and the counter hash of procedural
connectivity, checked against the compiled kernels."""

from __future__ import annotations

import re
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from neurodyn import event as ev
from neurodyn.event import _native
from neurodyn.event._jitconn import hash3, skip_table

NATIVE_DIR = Path(_native.__file__).parent
needs_native = pytest.mark.skipif(
    not _native.available(), reason=f"native kernels unavailable: {_native.reason()}"
)


def test_tables_are_read():
    assert _native.TARGETS["jitconn_scatter"] == "neurodyn_jitconn_scatter"
    assert _native.SYMBOLS["neurodyn_csr_update"] == "NeurodynCsrUpdate"
    assert set(_native.SYMBOLS) == set(_native.TARGETS.values())
    # MurmurHash3's finaliser and the golden-ratio seed multiplier
    assert (_native.HASH["FMIX_MUL1"], _native.HASH["FMIX_MUL2"]) == (0x85EBCA6B, 0xC2B2AE35)
    assert _native.HASH["SEED_MUL"] == 0x9E3779B1


def test_a_malformed_table_line_is_refused(tmp_path, monkeypatch):
    (tmp_path / "kernels.def").write_text(
        '// comment\nND_KERNEL(a_op, "neurodyn_a_op", NeurodynAOp)\nND_KERNEL(b_op, neurodyn_b)\n'
    )
    monkeypatch.setattr(_native, "_HERE", tmp_path)
    with pytest.raises(ImportError, match=r"kernels.def:3: expected `ND_KERNEL\(...\)`"):
        _native._read_table("kernels.def", _native._KERNEL_LINE, "ND_KERNEL")
    with pytest.raises(ImportError, match="cannot read the table"):
        _native._read_table("missing.def", _native._KERNEL_LINE, "ND_KERNEL")


def test_primitives_are_named_from_the_table():
    from neurodyn.event import _prim_csr, _prim_fanout, _prim_jitconn, _prim_update, _record

    prims = {
        "csr_scatter": _prim_csr.csr_scatter_p,
        "csr_gather": _prim_csr.csr_gather_p,
        "fanout_scatter": _prim_fanout.fanout_scatter_p,
        "fanout_gather": _prim_fanout.fanout_gather_p,
        "jitconn_scatter": _prim_jitconn.jitconn_scatter_p,
        "jitconn_gather": _prim_jitconn.jitconn_gather_p,
        "csr_update": _prim_update.csr_update_p,
        "record_spikes": _record.record_spikes_p,
    }
    assert {op: p.name for op, p in prims.items()} == {op: _native.TARGETS[op] for op in prims}


def test_hash_constants_have_one_definition():
    """Neither the C++ sources nor _jitconn.py spell a constant of the hash: they read
    jithash.def."""
    values = [v for v in _native.HASH.values() if v > 0xFFFF]  # (not the shifts)
    files = [*NATIVE_DIR.glob("*.cc"), *NATIVE_DIR.glob("*.h"), NATIVE_DIR.parent / "_jitconn.py"]
    assert len(files) > 5
    for path in files:
        text = path.read_text().lower()
        for v in values:
            assert f"{v:#x}" not in text, f"{path.name} spells the hash constant {v:#X}"


@needs_native
def test_every_symbol_of_the_table_is_exported():
    lib = _native._lib
    missing = [s for s in _native.SYMBOLS.values() if not hasattr(lib, s)]
    assert not missing, f"not exported by {_native.library_path()}: {missing}"


# every kernel, called with an integer output (refused): the message names the kernel
_F32 = np.zeros(1, np.float32)
_I32 = np.zeros(3, np.int32)
_PTR = np.zeros(4, np.int32)
_S = np.zeros(3, bool)
_BAD_CALLS = {
    "csr_scatter": ((_F32, _I32, _PTR, _S), dict(homo=True)),
    "csr_gather": ((_F32, _I32, _PTR, np.zeros(3, np.float32)), dict(homo=True)),
    "fanout_scatter": ((_F32, _I32.reshape(3, 1), _S), dict(homo=True)),
    "fanout_gather": ((_F32, _I32.reshape(3, 1), np.zeros(3, np.float32)), dict(homo=True)),
    "jitconn_scatter": (
        (_S, np.zeros(2, np.uint32)),
        dict(seed=0, dist=0, w0=1.0, w1=0.0, n_post=3),
    ),
    "jitconn_gather": (
        (np.zeros(3, np.float32), np.zeros(2, np.uint32)),
        dict(seed=0, dist=0, w0=1.0, w1=0.0, n_post=3),
    ),
    "csr_update": (
        (np.zeros(3, np.float32), _PTR, np.zeros(0, np.int32), _I32, _S, _F32, _F32),
        dict(lo=0.0, hi=1.0),
    ),
}


@needs_native
@pytest.mark.parametrize("op", sorted(_BAD_CALLS))
def test_error_messages_name_the_kernel(op):
    args, attrs = _BAD_CALLS[op]
    f = jax.ffi.ffi_call(_native.TARGETS[op], jax.ShapeDtypeStruct((3,), jnp.int32))
    want = re.escape(f"{_native.TARGETS[op]}: output dtype must be float32 or float64, got int32")
    with pytest.raises(Exception, match=want):
        jax.block_until_ready(f(*[jnp.asarray(a) for a in args], **attrs))


@needs_native
def test_record_spikes_errors_name_the_kernel():
    f = jax.ffi.ffi_call(
        _native.TARGETS["record_spikes"],
        (jax.ShapeDtypeStruct((4,), jnp.int32),) * 2 + (jax.ShapeDtypeStruct((), jnp.int32),),
    )
    z = jnp.zeros(4, jnp.int32)
    with pytest.raises(Exception, match=f"{_native.TARGETS['record_spikes']}: spikes must be"):
        jax.block_until_ready(f(jnp.zeros(8, jnp.int32), jnp.int32(0), z, z, jnp.int32(0)))


@needs_native
def test_python_hash_is_the_native_kernels_hash():
    """The native JitProb kernels draw the matrix that Python's hash3 (_jitconn.py) defines:
    a dense matrix built here from hash3 (each skip a linear count over the table) against
    ``s @ JitProb`` and ``JitProb @ x`` lowered to the native kernels."""
    n_pre, n_post, p, seed = 40, 300, 0.1, 2024
    jc = ev.JitProb(n_pre, n_post, p, weight=1.0, seed=seed)
    table = skip_table(p, n_post)
    i = np.arange(n_pre)[:, None]
    k = np.arange(n_post)[None, :]  # no row has more than n_post synapses
    h = np.asarray(hash3(np.uint32(seed), i, k, 0)).astype(np.uint64)
    skips = (table.astype(np.uint64)[None, None, :] <= h[:, :, None]).sum(-1)
    cols = np.cumsum(skips + 1, axis=1) - 1
    W = np.zeros((n_pre, n_post), np.float32)
    for r in range(n_pre):
        W[r, cols[r][cols[r] < n_post]] = 1.0
    assert 0.05 < W.mean() < 0.15

    scatter = jax.jit(lambda s: s @ jc)
    eye = jnp.eye(n_pre, dtype=bool)
    assert _native.TARGETS["jitconn_scatter"] in scatter.lower(eye).as_text()
    np.testing.assert_array_equal(np.asarray(scatter(eye)), W)

    x = np.random.default_rng(0).normal(size=n_post).astype(np.float32)
    gather = jax.jit(lambda x: jc @ x)
    assert _native.TARGETS["jitconn_gather"] in gather.lower(x).as_text()
    np.testing.assert_allclose(np.asarray(gather(x)), W @ x, rtol=1e-5, atol=1e-5)
