"""User-defined event operators against dense references written here with numpy:
forward on random structures (empty rows, no spikes, all spikes, n_pre != n_post,
float32/float64, CSR / fixed fan-out / dense, event-driven and reference backends),
gradients against jax.grad of a dense formula, jvp against central differences, vmap
against a loop (and one operator call for all lanes), plasticity updates, and every
refusal."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurodyn.units as u
from neurodyn import event
from neurodyn.event import _numba
from neurodyn.event._custom import user_event_p

# every backend present: numba kernels (when numba is installed), the lax loop, the oracle
BACKENDS = (["numba"] if _numba.usable() else []) + ["lax", "reference"]


def _csr(rng, n_pre, n_post, p, dtype=np.float32):
    mask = rng.random((n_pre, n_post)) < p
    mask[1] = False  # an empty row
    w = np.where(mask, rng.uniform(0.5, 2.0, (n_pre, n_post)), 0).astype(dtype)
    return event.CSR.from_dense(jnp.asarray(w)), w, mask


@event.scatter_op
def drive(pre, post, syn, p):
    return syn.w * p.g * (1.0 + post.trace) * jnp.exp(-pre.age)


def _dense_drive(s, w, mask, trace, age, g):
    # out[j] = sum_i s_i * w_ij g (1 + trace_j) exp(-age_i) over existing synapses
    return np.einsum("i,ij->j", s * np.exp(-age), np.where(mask, w, 0) * g * (1 + trace)[None])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("sizes", [(30, 20), (20, 45)])
@pytest.mark.parametrize("spiking", ["some", "none", "all"])
def test_scatter_equals_a_dense_reference(backend, dtype, sizes, spiking):
    rng = np.random.default_rng(0)
    n_pre, n_post = sizes
    with jax.enable_x64(dtype == np.float64):
        conn, w, mask = _csr(rng, n_pre, n_post, 0.3, dtype)
        s = {
            "some": rng.random(n_pre) < 0.3,
            "none": np.zeros(n_pre, bool),
            "all": np.ones(n_pre, bool),
        }[spiking]
        trace, age = rng.random(n_post).astype(dtype), rng.random(n_pre).astype(dtype)
        out = drive(
            jnp.asarray(s),
            conn,
            pre={"age": age},
            post={"trace": trace},
            syn={"w": conn.data},
            params={"g": 0.5},
            backend=backend,
        )
        assert out.dtype == dtype
        ref = _dense_drive(s.astype(dtype), w, mask, trace, age, 0.5)
        np.testing.assert_allclose(
            np.asarray(out), ref, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-6
        )


@pytest.mark.parametrize("kind", ["fanout", "dense"])
def test_scatter_on_fixed_fan_out_and_dense(kind):
    rng = np.random.default_rng(1)
    n_pre, n_post, k = 25, 12, 4
    if kind == "fanout":
        idx = np.stack([rng.choice(n_post, k, replace=False) for _ in range(n_pre)]).astype(
            np.int32
        )
        wv = rng.uniform(0.5, 2, (n_pre, k)).astype(np.float32)
        conn = event.FixedFanOut(idx, wv, n_post)
        w = np.zeros((n_pre, n_post), np.float32)
        np.put_along_axis(w, idx, wv, axis=1)
        mask = w != 0
    else:
        w = rng.uniform(0.5, 2, (n_pre, n_post)).astype(np.float32)
        conn, mask = event.Dense(jnp.asarray(w)), np.ones((n_pre, n_post), bool)
    s = rng.random(n_pre) < 0.4
    trace, age = rng.random(n_post).astype(np.float32), np.zeros(n_pre, np.float32)
    out = drive(
        jnp.asarray(s),
        conn,
        pre={"age": age},
        post={"trace": trace},
        syn={"w": conn.data},
        params={"g": 2.0},
    )
    np.testing.assert_allclose(
        np.asarray(out), _dense_drive(s * 1.0, w, mask, trace, age, 2.0), rtol=1e-5
    )


def test_units_flow_through_the_body():
    conn = event.CSR.from_dense(jnp.array([[0.0, 2.0], [1.0, 0.0]]) * u.nS)

    @event.scatter_op
    def cond(pre, post, syn, p):
        return syn.w * (p.E - post.v) / p.E  # nS * (mV - mV) / V: the framework converts

    out = cond(
        jnp.array([True, True]),
        conn,
        post={"v": jnp.array([-70.0, -60.0]) * u.mV},
        syn={"w": conn.data},
        params={"E": 0.0 * u.mV + 0.01 * u.volt},
    )
    assert out.unit.dim is u.nS.dim
    # E = 10 mV: (10 - v) / 10 mV
    np.testing.assert_allclose(out.to_value(u.nS), [1.0 * 80 / 10, 2.0 * 70 / 10], rtol=1e-5)
    with pytest.raises(u.UnitMismatchError, match="scatter_op 'cond': the body's units"):
        cond(
            jnp.array([True, True]),
            conn,
            post={"v": jnp.array([-70.0, -60.0]) * u.mV},
            syn={"w": conn.data},
            params={"E": 1.0 * u.nS},
        )


def test_gradients_equal_jax_grad_of_the_dense_formula():
    rng = np.random.default_rng(2)
    with jax.enable_x64(True):
        conn, w, mask = _csr(rng, 15, 10, 0.4, np.float64)
        s = jnp.asarray(rng.random(15) < 0.5).astype(jnp.float64)  # float spikes: d/ds too
        trace, age = jnp.asarray(rng.random(10)), jnp.asarray(rng.random(15))
        wd = jnp.asarray(np.where(mask, w, 0))

        def ours(s, trace, age, data, g):
            out = drive(
                s,
                conn.with_data(data),
                pre={"age": age},
                post={"trace": trace},
                syn={"w": data},
                params={"g": g},
            )
            return jnp.sum(jnp.sin(out))

        def dense(s, trace, age, wd, g):
            out = (s * jnp.exp(-age)) @ (wd * g * (1 + trace)[None])
            return jnp.sum(jnp.sin(out))

        g_ours = jax.grad(ours, argnums=(0, 1, 2, 3, 4))(s, trace, age, conn.data, 0.7)
        g_ref = jax.grad(dense, argnums=(0, 1, 2, 3, 4))(s, trace, age, wd, 0.7)
        for a, b in zip(g_ours[:3], g_ref[:3]):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-10, atol=1e-12)
        rows = np.repeat(np.arange(15), np.diff(np.asarray(conn.indptr)))
        np.testing.assert_allclose(
            np.asarray(g_ours[3]), np.asarray(g_ref[3])[rows, np.asarray(conn.indices)], rtol=1e-10
        )
        np.testing.assert_allclose(float(g_ours[4]), float(g_ref[4]), rtol=1e-10)

        # jvp against central differences
        v = jnp.asarray(rng.standard_normal(10))
        _, t = jax.jvp(lambda tr: ours(s, tr, age, conn.data, 0.7), (trace,), (v,))
        h = 1e-6
        fd = (
            ours(s, trace + h * v, age, conn.data, 0.7)
            - ours(s, trace - h * v, age, conn.data, 0.7)
        ) / (2 * h)
        np.testing.assert_allclose(float(t), float(fd), rtol=1e-7)


def test_vmap_over_spikes_equals_a_loop_in_one_operator_call():
    rng = np.random.default_rng(3)
    conn, w, mask = _csr(rng, 40, 30, 0.2)
    spikes = jnp.asarray(rng.random((6, 40)) < 0.2)
    trace = jnp.asarray(rng.random((6, 30)), jnp.float32)  # per lane
    age = jnp.zeros(40, jnp.float32)

    def f(s, tr):
        return drive(
            s, conn, pre={"age": age}, post={"trace": tr}, syn={"w": conn.data}, params={"g": 1.0}
        )

    batched = jax.vmap(f)(spikes, trace)
    loop = jnp.stack([f(spikes[i], trace[i]) for i in range(6)])
    np.testing.assert_allclose(np.asarray(batched), np.asarray(loop), rtol=1e-6)
    jaxpr = jax.make_jaxpr(jax.vmap(f))(spikes, trace)
    calls = [e for e in jaxpr.jaxpr.eqns if e.primitive is user_event_p]
    assert len(calls) == 1  # one call for all lanes, not a loop of calls
    # a vmapped parameter runs lane by lane, with the same results
    gs = jnp.array([0.5, 1.0, 2.0])
    per_g = jax.vmap(
        lambda g: drive(
            spikes[0],
            conn,
            pre={"age": age},
            post={"trace": trace[0]},
            syn={"w": conn.data},
            params={"g": g},
        )
    )(gs)
    np.testing.assert_allclose(
        np.asarray(per_g), np.asarray(gs[:, None] * f(spikes[0], trace[0])[None]), rtol=1e-6
    )


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("on", ["pre", "post"])
def test_update_changes_only_synapses_of_spiking_neurons(backend, on):
    rng = np.random.default_rng(4)
    conn, w, mask = _csr(rng, 20, 15, 0.3)

    @event.update_op(on=on, backend=backend)
    def rule(pre, post, syn, p):
        return jnp.clip(syn.w + p.A * pre.x - p.B * post.y, 0.0, 2.0)

    n = 20 if on == "pre" else 15
    s = rng.random(n) < 0.4
    x, y = rng.random(20).astype(np.float32), rng.random(15).astype(np.float32)
    new = rule(
        jnp.asarray(s),
        conn,
        pre={"x": x},
        post={"y": y},
        syn={"w": conn.data},
        params={"A": 0.3, "B": 0.2},
    )
    rows = np.repeat(np.arange(20), np.diff(np.asarray(conn.indptr)))
    cols = np.asarray(conn.indices)
    old = np.asarray(conn.data)
    hit = s[rows] if on == "pre" else s[cols]
    expect = np.where(hit, np.clip(old + 0.3 * x[rows] - 0.2 * y[cols], 0, 2), old)
    np.testing.assert_allclose(np.asarray(new), expect, rtol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_gather_equals_a_dense_reference(backend):
    rng = np.random.default_rng(5)
    conn, w, mask = _csr(rng, 12, 18, 0.4)

    @event.gather_op(backend=backend)
    def pull(pre, post, syn, p):
        return syn.w * post.gain * pre.h

    x, gain = rng.random((2, 18)).astype(np.float32), rng.random(18).astype(np.float32)
    h = rng.random(12).astype(np.float32)
    out = pull(jnp.asarray(x), conn, pre={"h": h}, post={"gain": gain}, syn={"w": conn.data})
    expect = (x * gain) @ (np.where(mask, w, 0) * h[:, None]).T
    np.testing.assert_allclose(np.asarray(out), expect, rtol=1e-5)


def test_bodies_and_calls_that_are_refused():
    with pytest.raises(TypeError, match="uses `random_bits`|uses `threefry2x32`|uses `random"):

        @event.scatter_op
        def noisy(pre, post, syn, p):
            return syn.w * jax.random.uniform(jax.random.key(0))

    with pytest.raises(TypeError, match="branches in Python on a value"):

        @event.scatter_op
        def branchy(pre, post, syn, p):
            return syn.w if post.v > 0 else 0.0

    with pytest.raises(TypeError, match="could not be run on scalars|may not"):

        @event.scatter_op
        def indexing(pre, post, syn, p):
            return syn.w[0]

    with pytest.raises(TypeError, match="uses `(stack|concatenate|reduce_sum|broadcast_in_dim)`"):

        @event.scatter_op
        def summing(pre, post, syn, p):
            return jnp.sum(jnp.stack([syn.w, post.v]))

    conn = event.CSR.from_dense(jnp.ones((3, 2)))
    with pytest.raises(KeyError, match=r"reads post.trace, but the call gives post=\{\}"):
        drive(
            jnp.ones(3, bool),
            conn,
            pre={"age": jnp.zeros(3)},
            syn={"w": conn.data},
            params={"g": 1.0},
        )
    with pytest.raises(ValueError, match="2 events for a presynaptic side of 3 neurons"):
        drive(
            jnp.ones(2, bool),
            conn,
            pre={"age": jnp.zeros(3)},
            post={"trace": jnp.zeros(2)},
            syn={"w": conn.data},
            params={"g": 1.0},
        )
    with pytest.raises(
        ValueError, match=r"post\['trace'\] needs one value per postsynaptic neuron \(2\)"
    ):
        drive(
            jnp.ones(3, bool),
            conn,
            pre={"age": jnp.zeros(3)},
            post={"trace": jnp.zeros(5)},
            syn={"w": conn.data},
            params={"g": 1.0},
        )
    with pytest.raises(ValueError, match=r"params\['g'\] must be a scalar"):
        drive(
            jnp.ones(3, bool),
            conn,
            pre={"age": jnp.zeros(3)},
            post={"trace": jnp.zeros(2)},
            syn={"w": conn.data},
            params={"g": jnp.ones(2)},
        )
    with pytest.raises(TypeError, match="connectivity tuple is not supported"):
        drive(jnp.ones(3, bool), (3, 2), pre={}, post={}, syn={}, params={})


@pytest.mark.skipif(not _numba.usable(), reason="numba not installed")
def test_a_body_of_many_primitives_gives_the_same_numbers_in_the_numba_kernel():
    rng = np.random.default_rng(6)
    conn, w, mask = _csr(rng, 30, 25, 0.3)

    @event.scatter_op
    def busy(pre, post, syn, p):
        x = jnp.tanh(post.v) + jnp.log1p(jnp.abs(pre.x)) * jax.nn.sigmoid(syn.w) ** 2
        y = jnp.where(post.v > 0.5, jnp.sqrt(syn.w), jnp.exp(-pre.x))
        return jnp.clip(x * y, -p.c, p.c) + jnp.maximum(syn.w, p.c) - jnp.minimum(pre.x, 0.3)

    s = jnp.asarray(rng.random(30) < 0.5)
    kw = dict(
        pre={"x": rng.standard_normal(30).astype(np.float32)},
        post={"v": rng.random(25).astype(np.float32)},
        syn={"w": conn.data},
        params={"c": 1.5},
    )
    fast = jax.jit(lambda s: busy(s, conn, **kw, backend="numba"))
    hlo = fast.lower(s).as_text()
    assert "neurodyn_user_kernel" in hlo  # the generated kernel, not the lax loop
    np.testing.assert_allclose(
        np.asarray(fast(s)),
        np.asarray(busy(s, conn, **kw, backend="reference")),
        rtol=2e-5,
        atol=1e-6,
    )


def test_a_body_with_unit_constants_is_checked_at_its_first_call():
    @event.update_op(on="pre")
    def floor_at_zero(pre, post, syn, p):  # 0 * u.nS: the units are known only at the call
        return u.math.maximum(syn.w - p.A * post.y, 0.0 * u.nS)

    assert floor_at_zero.body.fields is None
    conn = event.CSR.from_dense(jnp.array([[1.0, 0.2], [0.5, 0.0]]) * u.nS)
    w = floor_at_zero(
        jnp.array([True, False]),
        conn,
        post={"y": jnp.array([0.5, 1.0])},
        syn={"w": conn.data},
        params={"A": 0.6 * u.nS},
    )
    np.testing.assert_allclose(w.to_value(u.nS), [0.7, 0.0, 0.5], atol=1e-6)
    assert floor_at_zero.body.fields["post"] == ("y",)

    @event.scatter_op
    def needs_v(pre, post, syn, p):
        return syn.w * (post.v - 0.0 * u.mV) / u.mV

    with pytest.raises(KeyError, match=r"reads post.v, but the call gives post=\{\}"):
        needs_v(jnp.array([True, False]), conn, syn={"w": conn.data})


# ------------------------------------------------------------------ several fields at once
def _multi_rule(on, backend, form="dict"):
    @event.update_op(on=on, target=("w", "x", "seen"), backend=backend)
    def rule(pre, post, syn, p):
        x = syn.x * jnp.exp(-p.k) + 1.0  # a per-synapse trace that decays, then jumps
        w = jnp.clip(syn.w + p.A * x * pre.a - p.B * post.y, 0.0, 2.0)  # reads the new x
        seen = p.t + 0.0 * pre.a  # a target the body does not read
        return {"seen": seen, "x": x, "w": w} if form == "dict" else (w, x, seen)

    return rule


def _multi_dense(on, s, rows, cols, w, x, seen, a, y, A, B, k, t):
    hit = s[rows] if on == "pre" else s[cols]
    x_new = x * np.exp(-k) + 1.0
    w_new = np.clip(w + A * x_new * a[rows] - B * y[cols], 0.0, 2.0)
    return (
        np.where(hit, w_new, w),
        np.where(hit, x_new, x),
        np.where(hit, t, seen),
    )


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("on", ["pre", "post"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_an_update_of_several_fields_equals_dense_formulas(backend, on, dtype):
    rng = np.random.default_rng(7)
    with jax.enable_x64(dtype == np.float64):
        conn, _, _ = _csr(rng, 20, 15, 0.3, dtype)
        nnz = conn.indices.shape[0]
        n = 20 if on == "pre" else 15
        rows = np.repeat(np.arange(20), np.diff(np.asarray(conn.indptr)))
        cols = np.asarray(conn.indices)
        a, y = rng.random(20).astype(dtype), rng.random(15).astype(dtype)
        w0, x0 = np.asarray(conn.data), rng.random(nnz).astype(dtype)
        seen0 = np.full(nnz, -1.0, dtype)
        rules = {form: _multi_rule(on, backend, form) for form in ("dict", "tuple")}
        for spiking in ("some", "none", "all"):
            s = {"some": rng.random(n) < 0.4, "none": np.zeros(n, bool), "all": np.ones(n, bool)}
            s = s[spiking]
            for form in ("dict", "tuple"):
                new = rules[form](
                    jnp.asarray(s),
                    conn,
                    pre={"a": a},
                    post={"y": y},
                    syn={"w": w0, "x": x0, "seen": seen0},
                    params={"A": 0.3, "B": 0.2, "k": 0.5, "t": 7.0},
                )
                assert set(new) == {"w", "x", "seen"}
                expect = _multi_dense(on, s, rows, cols, w0, x0, seen0, a, y, 0.3, 0.2, 0.5, 7.0)
                for key, ref in zip(("w", "x", "seen"), expect):
                    assert new[key].dtype == dtype
                    np.testing.assert_allclose(
                        np.asarray(new[key]), ref, rtol=1e-6 if dtype == np.float32 else 1e-13
                    )


@pytest.mark.slow
def test_an_update_of_several_fields_has_gradients_and_jvp():
    rng = np.random.default_rng(8)
    with jax.enable_x64(True):
        conn, _, _ = _csr(rng, 12, 10, 0.4, np.float64)
        nnz = conn.indices.shape[0]
        rows = np.repeat(np.arange(12), np.diff(np.asarray(conn.indptr)))
        cols = np.asarray(conn.indices)
        s = jnp.asarray(rng.random(12) < 0.5)
        hit = np.asarray(s)[rows]
        a, y = jnp.asarray(rng.random(12)), jnp.asarray(rng.random(10))
        w0, x0 = jnp.asarray(rng.uniform(0.2, 1.0, nnz)), jnp.asarray(rng.random(nnz))
        seen0 = jnp.zeros(nnz)
        rule = _multi_rule("pre", "event")

        def ours(w, x, y, A):
            new = rule(
                s,
                conn,
                pre={"a": a},
                post={"y": y},
                syn={"w": w, "x": x, "seen": seen0},
                params={"A": A, "B": 0.2, "k": 0.5, "t": 1.0},
            )
            return jnp.sum(jnp.sin(new["w"])) + jnp.sum(new["x"] ** 2)

        def dense(w, x, y, A):
            x_new = x * jnp.exp(-0.5) + 1.0
            w_new = jnp.clip(w + A * x_new * a[rows] - 0.2 * y[cols], 0.0, 2.0)
            return jnp.sum(jnp.sin(jnp.where(hit, w_new, w))) + jnp.sum(
                jnp.where(hit, x_new, x) ** 2
            )

        ours, dense = jax.jit(ours), jax.jit(dense)
        args = (w0, x0, y, 0.3)
        for g1, g2 in zip(
            jax.grad(ours, (0, 1, 2, 3))(*args), jax.grad(dense, (0, 1, 2, 3))(*args)
        ):
            np.testing.assert_allclose(np.asarray(g1), np.asarray(g2), rtol=1e-10, atol=1e-12)
        v = jnp.asarray(rng.standard_normal(nnz))
        _, t = jax.jvp(lambda x: ours(w0, x, y, 0.3), (x0,), (v,))
        h = 1e-6
        fd = (ours(w0, x0 + h * v, y, 0.3) - ours(w0, x0 - h * v, y, 0.3)) / (2 * h)
        np.testing.assert_allclose(float(t), float(fd), rtol=1e-7)


def test_an_update_of_several_fields_vmapped_over_spikes_equals_a_loop():
    rng = np.random.default_rng(8)
    conn, _, _ = _csr(rng, 12, 10, 0.4)
    nnz = conn.indices.shape[0]
    a, y = jnp.asarray(rng.random(12)), jnp.asarray(rng.random(10))
    w0, x0 = jnp.asarray(rng.uniform(0.2, 1.0, nnz)), jnp.asarray(rng.random(nnz))
    seen0 = jnp.zeros(nnz)
    rule = _multi_rule("pre", "event")
    spikes = jnp.asarray(rng.random((4, 12)) < 0.5)

    def one(sp):
        return rule(
            sp,
            conn,
            pre={"a": a},
            post={"y": y},
            syn={"w": w0, "x": x0, "seen": seen0},
            params={"A": 0.3, "B": 0.2, "k": 0.5, "t": 1.0},
        )

    batched = jax.vmap(one)(spikes)
    for i in range(4):
        single = one(spikes[i])
        for key in ("w", "x", "seen"):
            np.testing.assert_allclose(np.asarray(batched[key][i]), np.asarray(single[key]))


def test_an_update_of_several_fields_checks_each_targets_unit():
    conn = event.CSR.from_dense(jnp.array([[1.0, 0.5], [0.0, 2.0]]) * u.nS)

    @event.update_op(on="pre", target=("w", "x"))
    def rule(pre, post, syn, p):
        x = syn.x + 1.0
        return {"w": p.A * x, "x": x}

    new = rule(
        jnp.array([True, False]),
        conn,
        syn={"w": conn.data, "x": jnp.zeros(3)},
        params={"A": 100.0 * u.pS},
    )
    np.testing.assert_allclose(new["w"].to_value(u.nS), [0.1, 0.1, 2.0], rtol=1e-6)
    np.testing.assert_allclose(np.asarray(new["x"]), [1.0, 1.0, 0.0])
    with pytest.raises(u.UnitMismatchError, match=r"value for 'w' is in .*syn\['w'\] is in"):
        rule(
            jnp.array([True, False]),
            conn,
            syn={"w": conn.data, "x": jnp.zeros(3)},
            params={"A": 0.1 * u.mV},
        )


def test_bodies_of_several_fields_that_are_refused():
    with pytest.raises(TypeError, match=r"returns values for \['w'\], but the targets are"):

        @event.update_op(target=("w", "x"))
        def missing(pre, post, syn, p):
            return {"w": syn.w}

    with pytest.raises(TypeError, match="a tuple of 2 values .* it returns 3 values"):

        @event.update_op(target=("w", "x"))
        def too_many(pre, post, syn, p):
            return syn.w, syn.x, syn.w

    with pytest.raises(TypeError, match="must return one scalar; it returns a dict"):

        @event.update_op(target="w")
        def one_target(pre, post, syn, p):
            return {"w": syn.w}

    conn = event.CSR.from_dense(jnp.ones((2, 2)))

    @event.update_op(target=("w", "x"))
    def fine(pre, post, syn, p):
        return syn.w, syn.w

    with pytest.raises(KeyError, match=r"updates syn\['x'\], which the call does not give"):
        fine(jnp.array([True, False]), conn, syn={"w": conn.data})


@pytest.mark.skipif(not _numba.usable(), reason="numba not installed")
def test_a_scatter_then_an_update_of_several_fields_runs_in_place_in_a_loop():
    # the update waits for the scatter that reads the old weights (after=): XLA then
    # updates the per-synapse arrays in place, with no O(nnz) copy per step
    rng = np.random.default_rng(9)
    conn, _, _ = _csr(rng, 300, 200, 0.2)
    nnz = conn.indices.shape[0]

    @event.scatter_op
    def drive(pre, post, syn, p):
        return syn.w

    rule = _multi_rule("pre", "event")
    spikes = jnp.asarray(rng.random((20, 300)) < 0.05)

    def run(w, x, seen):
        def step(carry, s):
            w, x, seen, g = carry
            out = drive(s, conn, syn={"w": w})
            new = rule(
                s,
                conn,
                pre={"a": jnp.ones(300)},
                post={"y": g},
                syn={"w": w, "x": x, "seen": seen},
                params={"A": 0.01, "B": 0.01, "k": 0.1, "t": 0.0},
                after=out,
            )
            return (new["w"], new["x"], new["seen"], g * 0.9 + out), None

        return jax.lax.scan(step, (w, x, seen, jnp.zeros(200)), spikes)[0]

    args = (conn.data, jnp.zeros(nnz), jnp.zeros(nnz))
    hlo = jax.jit(run).lower(*args).compile().as_text()
    assert f"f32[{nnz}]{{0}} copy(" not in hlo.split("ENTRY")[0]  # none inside the loop
    fast = jax.jit(run)(*args)
    ref = jax.jit(lambda *a: run(*a))(*args)
    np.testing.assert_allclose(np.asarray(fast[0]), np.asarray(ref[0]))


@pytest.mark.parametrize("backend", BACKENDS)
def test_batched_float_events_equal_a_dense_reference(backend):
    # several batch rows of float events: the loops multiply each lane by its own value
    rng = np.random.default_rng(9)
    conn, w, mask = _csr(rng, 25, 18, 0.3)
    s = (rng.random((3, 25)) < 0.4) * rng.uniform(0.5, 2.0, (3, 25))
    trace = rng.random((3, 18)).astype(np.float32)
    age = rng.random(25).astype(np.float32)
    out = drive(
        jnp.asarray(s, jnp.float32),
        conn,
        pre={"age": age},
        post={"trace": trace},
        syn={"w": conn.data},
        params={"g": 0.5},
        backend=backend,
    )
    expect = np.stack([_dense_drive(s[b], w, mask, trace[b], age, 0.5) for b in range(3)])
    np.testing.assert_allclose(np.asarray(out), expect, rtol=1e-5, atol=1e-6)
