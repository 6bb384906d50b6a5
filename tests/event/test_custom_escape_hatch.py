"""``event.CustomOp``: the rules derived from the reference against dense formulas and
finite differences, the rules a user gives actually used (counted, or found as the
custom call in the compiled program), and the refusals at construction."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from neurodyn import event
from neurodyn.event import _numba


def _matvec_ref(w, x):
    return jnp.einsum("ij,j->i", w, x)


def test_derived_rules_equal_dense_gradients_finite_differences_and_a_loop():
    rng = np.random.default_rng(0)
    with jax.enable_x64(True):
        w, x = jnp.asarray(rng.standard_normal((5, 7))), jnp.asarray(rng.standard_normal(7))
        mv = event.CustomOp(_matvec_ref, linear=(1,), name="mv")
        np.testing.assert_allclose(np.asarray(jax.jit(mv)(w, x)), np.asarray(w) @ np.asarray(x))

        def loss(w, x, f):
            return jnp.sum(jnp.sin(f(w, x)))

        ours = jax.grad(loss, argnums=(0, 1))(w, x, mv)
        dense = jax.grad(loss, argnums=(0, 1))(w, x, lambda w, x: w @ x)
        for a, b in zip(ours, dense):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-12)
        # jvp in both arguments against central differences
        dw, dx = jnp.asarray(rng.standard_normal((5, 7))), jnp.asarray(rng.standard_normal(7))
        _, t = jax.jvp(lambda w, x: loss(w, x, mv), (w, x), (dw, dx))
        h = 1e-6
        fd = (loss(w + h * dw, x + h * dx, mv) - loss(w - h * dw, x - h * dx, mv)) / (2 * h)
        np.testing.assert_allclose(float(t), float(fd), rtol=1e-7)
        # vmap over x and over w (no kernel: vmap of the reference)
        xs = jnp.asarray(rng.standard_normal((3, 7)))
        np.testing.assert_allclose(
            np.asarray(jax.vmap(mv, (None, 0))(w, xs)), np.asarray(xs @ w.T), rtol=1e-12
        )
        ws = jnp.asarray(rng.standard_normal((3, 5, 7)))
        np.testing.assert_allclose(
            np.asarray(jax.vmap(mv, (0, None))(ws, x)), np.asarray(ws @ x), rtol=1e-12
        )

        # a nonlinear op: every derivative through the reference
        def softplus_ref(a, b):
            return jnp.log1p(jnp.exp(a * b)), a - b

        sp = event.CustomOp(softplus_ref)
        a, b = jnp.asarray(rng.standard_normal(4)), jnp.asarray(rng.standard_normal(4))
        out = sp(a, b)
        assert isinstance(out, tuple) and len(out) == 2

        def lsp(a):
            p, q = sp(a, b)
            return jnp.sum(p * q)

        g = jax.grad(lsp)(a)
        v = jnp.asarray(rng.standard_normal(4))  # a directional derivative
        fd = (lsp(a + h * v) - lsp(a - h * v)) / (2 * h)
        np.testing.assert_allclose(float(g @ v), float(fd), rtol=1e-7)


def test_the_rules_a_user_gives_are_used():
    rng = np.random.default_rng(1)
    w = jnp.asarray(rng.standard_normal((4, 6)), jnp.float32)
    x = jnp.asarray(rng.standard_normal(6), jnp.float32)
    calls = {"cpu": 0, "jvp": 0, "transpose": 0, "batch": 0}

    def cpu(w, x):  # a different formula: the result shows it ran
        calls["cpu"] += 1
        return jnp.sum(w * x[None, :], axis=1)

    def transpose(cts, w, x):
        calls["transpose"] += 1
        assert x is None  # the linear argument is not given
        return (cts[0] @ w,)

    def batch(args, dims):
        calls["batch"] += 1
        w, x = args
        x = jnp.moveaxis(x, dims[1], 0)
        return x @ w.T, 0  # one result: an array and its axis

    mv = event.CustomOp(_matvec_ref, cpu=cpu, transpose=transpose, batch=batch, linear=(1,))
    np.testing.assert_allclose(np.asarray(jax.jit(mv)(w, x)), np.asarray(w @ x), rtol=1e-5)
    assert calls["cpu"] == 1
    g = jax.jit(jax.grad(lambda x: jnp.sum(jnp.sin(mv(w, x)))))(x)
    np.testing.assert_allclose(np.asarray(g), np.asarray(jnp.cos(w @ x) @ w), rtol=1e-5)
    assert calls["transpose"] == 1
    xs = jnp.asarray(rng.standard_normal((3, 6)), jnp.float32)
    np.testing.assert_allclose(
        np.asarray(jax.vmap(mv, (None, 0))(w, xs)), np.asarray(xs @ w.T), rtol=1e-5
    )
    assert calls["batch"] == 1

    def jvp(primals, tangents):
        calls["jvp"] += 1
        (w, x), (dw, dx) = primals, tangents
        return w @ x, dw @ x + w @ dx

    mj = event.CustomOp(_matvec_ref, jvp=jvp)
    _, t = jax.jvp(mj, (w, x), (w, x))
    np.testing.assert_allclose(np.asarray(t), np.asarray(2 * w @ x), rtol=1e-5)
    assert calls["jvp"] == 1


@pytest.mark.skipif(not _numba.usable(), reason="numba or the native trampoline missing")
def test_an_ffi_target_name_is_the_custom_call_of_the_compiled_program():
    from numba import carray, cfunc, types

    @cfunc(types.void(types.CPointer(types.voidptr), types.CPointer(types.int64)))
    def triple(ptrs, sizes):  # void(void** ptrs, int64* sizes): operand, then result
        x = carray(ptrs[0], (sizes[0],), dtype=np.float32)
        out = carray(ptrs[1], (sizes[1],), dtype=np.float32)
        for i in range(sizes[0]):
            out[i] = 3.0 * x[i]

    def ref(x, fn, alias):
        return 3.0 * x

    op = event.CustomOp(ref, cpu="neurodyn_user_kernel", name="triple")
    x = jnp.arange(5.0, dtype=jnp.float32)
    f = jax.jit(lambda x: op(x, fn=np.int64(triple.address), alias=np.int64(-1)))
    assert 'custom_call_target="neurodyn_user_kernel"' in f.lower(x).as_text("hlo")
    np.testing.assert_allclose(np.asarray(f(x)), 3.0 * np.arange(5.0))


def test_bad_input_is_refused_at_construction():
    with pytest.raises(TypeError, match="reference= must be a pure-JAX function"):
        event.CustomOp(None)
    with pytest.raises(TypeError, match="cpu= must be a registered jax.ffi target name"):
        event.CustomOp(_matvec_ref, cpu=3)
    with pytest.raises(ValueError, match="gpu= is an empty target name"):
        event.CustomOp(_matvec_ref, gpu="")
    with pytest.raises(TypeError, match="jvp= must be jvp\\(primals, tangents"):
        event.CustomOp(_matvec_ref, jvp="no")
    with pytest.raises(ValueError, match="transpose= is the transpose of a linear op.*linear="):
        event.CustomOp(_matvec_ref, transpose=lambda cts, w, x: cts)
    with pytest.raises(TypeError, match="linear= must be a tuple of argument positions"):
        event.CustomOp(_matvec_ref, linear="x")
    with pytest.raises(ValueError, match="distinct non-negative"):
        event.CustomOp(_matvec_ref, linear=(1, 1))
    op = event.CustomOp(_matvec_ref, linear=(2,))
    with pytest.raises(ValueError, match="names argument 2, but the call gives 2 arguments"):
        op(jnp.ones((2, 2)), jnp.ones(2))
    with pytest.raises(TypeError, match="keyword scale= is a static parameter"):
        event.CustomOp(lambda x, scale: x)(jnp.ones(2), scale=jnp.ones(2))
