"""User scatter/gather operators on the Pallas GPU kernel (``backend="pallas"``), run in
Pallas' interpret mode on CPU, against dense formulas (rows with distinct columns:
interpret mode applies one of several atomic adds to one address from one vector)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from neurodyn import event
from neurodyn.event import _gpu

pytest.importorskip("jax.experimental.pallas")


@event.scatter_op(backend="pallas")
def drive(pre, post, syn, p):
    return syn.w * p.g * (1.0 + post.trace) * jnp.exp(-pre.age)


@event.gather_op(backend="pallas")
def pull(pre, post, syn, p):
    return syn.w * p.g * (1.0 + post.trace) * jnp.exp(-pre.age)


@pytest.mark.parametrize("dtype", [np.float32, pytest.param(np.float64, marks=pytest.mark.slow)])
def test_pallas_user_ops_equal_dense_formulas_in_interpret_mode(dtype, monkeypatch):
    calls = []
    real = _gpu.user_pallas

    def counted(kind, *args, **kw):
        calls.append((kind, kw["interpret"]))
        return real(kind, *args, **kw)

    monkeypatch.setattr(_gpu, "user_pallas", counted)
    rng = np.random.default_rng(0)
    n_pre, n_post = 12, 300  # rows longer than one block of synapses
    with jax.enable_x64(dtype == np.float64):
        mask = rng.random((n_pre, n_post)) < 0.6
        mask[1] = False  # an empty row
        w = np.where(mask, rng.uniform(0.5, 2.0, (n_pre, n_post)), 0).astype(dtype)
        conn = event.CSR.from_dense(jnp.asarray(w))
        trace = rng.random((2, n_post)).astype(dtype)  # per batch row
        age = rng.random(n_pre).astype(dtype)
        kw = dict(pre={"age": age}, post={"trace": trace}, syn={"w": conn.data}, params={"g": 0.5})
        s = rng.random((2, n_pre)) < 0.4
        out = drive(jnp.asarray(s), conn, **kw)
        assert out.dtype == dtype
        wb = w[None] * 0.5 * (1 + trace)[:, None, :] * np.exp(-age)[None, :, None]
        expect = np.einsum("bi,bij->bj", s.astype(dtype), wb)
        tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12)
        np.testing.assert_allclose(np.asarray(out), expect, **tol)
        x = rng.standard_normal((2, n_post)).astype(dtype)
        np.testing.assert_allclose(
            np.asarray(pull(jnp.asarray(x), conn, **kw)), np.einsum("bij,bj->bi", wb, x), **tol
        )
    assert ("scatter", True) in calls and ("gather", True) in calls  # the kernel ran


def test_pallas_refuses_updates_and_jitprob():
    conn = event.JitProb(10, 8, 0.3, weight=0.5, seed=0)

    @event.scatter_op(backend="pallas")
    def plain(pre, post, syn, p):
        return syn.w

    with pytest.raises(ValueError, match="Pallas kernel serves scatter_op and gather_op"):
        plain(jnp.ones(10, bool), conn)
