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


def test_gather_equals_a_dense_reference():
    rng = np.random.default_rng(5)
    conn, w, mask = _csr(rng, 12, 18, 0.4)

    @event.gather_op
    def pull(pre, post, syn, p):
        return syn.w * post.gain

    x, gain = rng.random(18).astype(np.float32), rng.random(18).astype(np.float32)
    out = pull(jnp.asarray(x), conn, post={"gain": gain}, syn={"w": conn.data})
    np.testing.assert_allclose(np.asarray(out), np.where(mask, w, 0) @ (x * gain), rtol=1e-5)


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
    with pytest.raises(TypeError, match="JitProb is not supported"):
        drive(jnp.ones(3, bool), event.JitProb(3, 2, 0.5), pre={}, post={}, syn={}, params={})


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
