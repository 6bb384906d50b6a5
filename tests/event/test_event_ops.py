"""Event operators against dense references: values, gradients, vmap, procedural connectivity."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

import neurodyn.units as u
from neurodyn import event
from neurodyn.event import CSR, Dense, FixedFanOut, JitProb, _ops


def _random_csr(rng, n_pre, n_post, p, homo, dtype, empty_rows=True):
    mask = rng.random((n_pre, n_post)) < p
    if empty_rows:
        mask[::3] = False  # some rows have no synapses
    w = rng.normal(size=(n_pre, n_post)).astype(dtype) * mask
    if homo:
        w = mask.astype(dtype) * dtype(0.7)
    rows, cols = np.nonzero(mask)
    indptr = np.concatenate([[0], np.cumsum(mask.sum(1))]).astype(np.int32)
    data = jnp.asarray(dtype(0.7)) if homo else jnp.asarray(w[rows, cols])
    return CSR(data, cols, indptr, (n_pre, n_post)), w


def _spike_cases(rng, n, dtype):
    return {
        "bool": jnp.asarray(rng.random(n) < 0.3),
        "none": jnp.zeros(n, bool),
        "all": jnp.ones(n, bool),
        "float": jnp.asarray((rng.random(n) < 0.3) * rng.normal(size=n)).astype(dtype),
    }


@pytest.mark.parametrize(
    "shape, homo, dtype",
    [  # the tall shape with a homogeneous weight (the costly compiles) is `slow`
        pytest.param(
            shape,
            homo,
            dtype,
            marks=[pytest.mark.slow] if shape == (64, 20) and homo else [],
            id=f"shape{i}-{homo}-{dtype.__name__}",
        )
        for i, shape in enumerate([(37, 53), (64, 20)])
        for homo in [True, False]
        for dtype in [np.float32, np.float64]
    ],
)
def test_csr_and_fanout_match_dense(dtype, homo, shape):
    with jax.enable_x64(dtype == np.float64):
        rng = np.random.default_rng(0)
        conn, w = _random_csr(rng, *shape, 0.2, homo, dtype)
        tol = 1e-5 if dtype == np.float32 else 1e-12
        for name, s in _spike_cases(rng, shape[0], dtype).items():
            ref = np.asarray(s, dtype) @ w
            np.testing.assert_allclose(s @ conn, ref, rtol=tol, atol=tol, err_msg=name)
            np.testing.assert_allclose(jax.jit(lambda s: s @ conn)(s), ref, rtol=tol, atol=tol)
        x = jnp.asarray(rng.normal(size=shape[1]), dtype)
        np.testing.assert_allclose(conn @ x, w @ np.asarray(x), rtol=tol, atol=tol)
        X = jnp.asarray(rng.normal(size=(shape[1], 4)), dtype)
        np.testing.assert_allclose(conn @ X, w @ np.asarray(X), rtol=tol, atol=tol)
        np.testing.assert_allclose(conn.todense(), w, rtol=tol, atol=tol)
        np.testing.assert_allclose(conn.T.todense(), w.T, rtol=tol, atol=tol)
        # fixed fan-out
        k = 5
        idx = np.stack([rng.choice(shape[1], k, replace=False) for _ in range(shape[0])])
        fw = rng.normal(size=(shape[0], k)).astype(dtype)
        ff = FixedFanOut(idx, dtype(0.7) if homo else fw, shape[1])
        dense = np.zeros(shape, dtype)
        for i in range(shape[0]):
            dense[i, idx[i]] = 0.7 if homo else fw[i]
        for name, s in _spike_cases(rng, shape[0], dtype).items():
            np.testing.assert_allclose(
                s @ ff, np.asarray(s, dtype) @ dense, rtol=tol, atol=tol, err_msg=name
            )
        np.testing.assert_allclose(ff @ x, dense @ np.asarray(x), rtol=tol, atol=tol)
        np.testing.assert_allclose(ff.to_csr().todense(), dense, rtol=tol, atol=tol)


def test_native_kernels_agree_with_pure_jax_reference():
    rng = np.random.default_rng(1)
    conn, _ = _random_csr(rng, 50, 40, 0.3, False, np.float32)
    s = jnp.asarray(rng.random((3, 50)) < 0.4)
    a = _ops.csr_scatter(conn._w(), conn.indices, conn.indptr, s, homo=False, n_post=40)
    b = _ops._ref_csr_scatter(conn._w(), conn.indices, conn.indptr, s, homo=False, n_post=40)
    np.testing.assert_allclose(a, b, rtol=1e-6)


def test_gradients_match_dense():
    rng = np.random.default_rng(2)
    conn, w = _random_csr(rng, 30, 25, 0.3, False, np.float32)
    s = jnp.asarray(rng.random(30) < 0.5).astype(jnp.float32) * 1.3
    x = jnp.asarray(rng.normal(size=25), jnp.float32)
    target = jnp.asarray(rng.normal(size=25), jnp.float32)
    rows = np.asarray(conn.row_ids())
    cols = np.asarray(conn.indices)

    def loss_sparse(data, s, x):
        c = conn.with_data(data)
        return jnp.sum(jnp.tanh(s @ c) * target) + jnp.sum((c @ x) ** 2)

    def loss_dense(wd, s, x):
        return jnp.sum(jnp.tanh(s @ wd) * target) + jnp.sum((wd @ x) ** 2)

    gd, gs, gx = jax.grad(loss_sparse, argnums=(0, 1, 2))(conn.data, s, x)
    Gw, Gs, Gx = jax.grad(loss_dense, argnums=(0, 1, 2))(jnp.asarray(w), s, x)
    np.testing.assert_allclose(gd, np.asarray(Gw)[rows, cols], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(gs, Gs, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(gx, Gx, rtol=1e-4, atol=1e-5)
    # homogeneous weight: gradient is the sum over synapses
    homo = CSR(jnp.asarray(0.5), conn.indices, conn.indptr, conn.shape)
    g = jax.grad(lambda a: jnp.sum((s @ homo.with_data(a)) * target))(jnp.asarray(0.5))
    mask = np.zeros((30, 25), np.float32)
    mask[rows, cols] = 1
    assert float(g) == pytest.approx(float(np.asarray(s) @ mask @ np.asarray(target)), rel=1e-4)
    # forward mode agrees with reverse mode
    jf = jax.jacfwd(lambda s: s @ conn)(s)
    jr = jax.jacrev(lambda s: s @ conn)(s)
    np.testing.assert_allclose(jf, jr, rtol=1e-5)
    np.testing.assert_allclose(jf, w.T, rtol=1e-5)


def test_vmap_equals_a_python_loop_and_folds_into_one_kernel():
    rng = np.random.default_rng(3)
    conn, w = _random_csr(rng, 40, 30, 0.25, False, np.float32)
    S = jnp.asarray(rng.random((6, 40)) < 0.3)
    out = jax.vmap(lambda s: s @ conn)(S)
    for i in range(6):
        np.testing.assert_allclose(out[i], S[i] @ conn, rtol=1e-6)
    jaxpr = str(jax.make_jaxpr(jax.vmap(lambda s: s @ conn))(S))
    assert jaxpr.count("neurodyn_csr_scatter") == 1 and "while" not in jaxpr
    # batched weights (one matrix per lane): see test_vmap_over_weights below
    datas = jnp.stack([conn.data * (i + 1) for i in range(3)])
    outs = jax.vmap(lambda d: S[0] @ conn.with_data(d))(datas)
    for i in range(3):
        np.testing.assert_allclose(
            outs[i], np.asarray(S[0], np.float32) @ (w * (i + 1)), rtol=1e-5, atol=1e-6
        )


def _fanout(rng, n_pre, n_post, k, homo, dtype):
    idx = rng.integers(0, n_post, (n_pre, k)).astype(np.int32)
    w = jnp.asarray(dtype(0.7)) if homo else jnp.asarray(rng.normal(size=(n_pre, k)), dtype)
    return FixedFanOut(idx, w, n_post)


@pytest.mark.parametrize(
    "spike_kind, vec_batched, homo, kind",
    [  # every CSR case; fan-out: float batched per-synapse, bool unbatched homogeneous
        pytest.param(
            spike_kind,
            vec_batched,
            homo,
            kind,
            marks=[]
            if kind == "csr"
            or (spike_kind, vec_batched, homo) in (("float", True, False), ("bool", False, True))
            else [pytest.mark.slow],
            id=f"{spike_kind}-{vec_batched}-{homo}-{kind}",
        )
        for kind in ["csr", "fanout"]
        for homo in [False, True]
        for vec_batched in [False, True]
        for spike_kind in ["bool", "float"]
    ],
)
def test_vmap_over_weights_folds_into_one_kernel(kind, homo, vec_batched, spike_kind):
    """vmap over the weights (V matrices, one structure) and optionally over the spikes
    equals a Python loop, in both orientations, in one kernel call (no loop), and its
    gradient w.r.t. the stacked weights equals the loop's."""
    rng = np.random.default_rng(11)
    n_pre, n_post, nv = 23, 17, 4
    if kind == "csr":
        conn, _ = _random_csr(rng, n_pre, n_post, 0.3, homo, np.float32)
    else:
        conn = _fanout(rng, n_pre, n_post, 5, homo, np.float32)
    data = conn.data if kind == "csr" else conn.weights
    ws = jnp.stack([data * (1.0 + 0.5 * i) + 0.1 * i for i in range(nv)])
    if spike_kind == "bool":
        S = jnp.asarray(rng.random((nv, n_pre)) < 0.4)
    else:
        S = jnp.asarray(rng.normal(size=(nv, n_pre)), jnp.float32)
    X = jnp.asarray(rng.normal(size=(nv, n_post)), jnp.float32)

    def with_w(w):
        return conn.with_data(w) if kind == "csr" else FixedFanOut(conn.indices, w, n_post)

    in_axes = (0, 0) if vec_batched else (0, None)
    s_in, x_in = (S, X) if vec_batched else (S[0], X[0])
    scat = jax.jit(jax.vmap(lambda w, s: s @ with_w(w), in_axes=in_axes))
    gath = jax.jit(jax.vmap(lambda w, x: with_w(w) @ x, in_axes=in_axes))
    out_s, out_g = scat(ws, s_in), gath(ws, x_in)
    for i in range(nv):
        s_i, x_i = (S[i], X[i]) if vec_batched else (S[0], X[0])
        dense = np.asarray(with_w(ws[i]).todense())
        np.testing.assert_allclose(
            out_s[i], np.asarray(s_i, np.float32) @ dense, rtol=1e-5, atol=1e-5
        )
        np.testing.assert_allclose(out_g[i], dense @ np.asarray(x_i), rtol=1e-5, atol=1e-5)
    prim = "neurodyn_csr" if kind == "csr" else "neurodyn_fanout"
    jaxpr = str(jax.make_jaxpr(jax.vmap(lambda w, s: s @ with_w(w), in_axes=in_axes))(ws, s_in))
    assert jaxpr.count(f"{prim}_scatter") == 1 and "while" not in jaxpr
    if spike_kind == "float":

        def loss(w_stack):
            return jnp.sum(jnp.sin(scat(w_stack, s_in))) + jnp.sum(jnp.cos(gath(w_stack, x_in)))

        def loss_loop(w_stack):
            tot = 0.0
            for i in range(nv):
                s_i, x_i = (S[i], X[i]) if vec_batched else (S[0], X[0])
                tot += jnp.sum(jnp.sin(s_i @ with_w(w_stack[i])))
                tot += jnp.sum(jnp.cos(with_w(w_stack[i]) @ x_i))
            return tot

        np.testing.assert_allclose(
            jax.grad(loss)(ws), jax.grad(loss_loop)(ws), rtol=2e-4, atol=1e-5
        )


def test_units_flow_through():
    rng = np.random.default_rng(4)
    conn, w = _random_csr(rng, 10, 8, 0.5, False, np.float32)
    cq = conn.with_data(conn.data * u.nS)
    g = jnp.ones(10, bool) @ cq
    assert g.unit is u.nS
    i = cq @ (jnp.ones(8) * u.mV)
    assert i.unit == u.pA
    np.testing.assert_allclose(i.to_value(u.pA), w @ np.ones(8), rtol=1e-6)
    assert (jnp.ones(10, bool) @ JitProb(10, 8, 0.5, weight=2 * u.nS, seed=1)).unit is u.nS


def test_bad_input_is_explained():
    with pytest.raises(ValueError, match=r"indices must lie in \[0, n_post=5\)"):
        CSR(1.0, np.array([0, 7]), np.array([0, 1, 2]), (2, 5))
    with pytest.raises(ValueError, match=r"indices must lie"):
        CSR(1.0, np.array([0, -1]), np.array([0, 1, 2]), (2, 5))
    with pytest.raises(ValueError, match="indptr"):
        CSR(1.0, np.array([0, 1]), np.array([0, 2]), (2, 5))
    conn = CSR(1.0, np.array([0, 1]), np.array([0, 1, 2]), (2, 5))
    with pytest.raises(ValueError, match=r"shape \(2, 5\).*2 entries.*\(3,\)"):
        jnp.ones(3, bool) @ conn
    with pytest.raises(TypeError, match="bool .* or float"):
        jnp.ones(2, jnp.int32) @ conn
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\]"):
        JitProb(10, 10, 1.5)
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\]"):
        event.FixedProb(-0.1)
    with pytest.raises(ValueError, match="indices must lie"):
        FixedFanOut(np.array([[0, 9]]), 1.0, 5)


def test_connectivity_is_safe_to_close_over_from_several_jitted_functions():
    conn = event.FixedProb(0.2, seed=0).build(20, 20, weight=1.0)
    f = jax.jit(lambda s: s @ conn)
    g = jax.jit(lambda s: (s @ conn).sum())
    s = jnp.ones(20, bool)
    np.testing.assert_allclose(f(s).sum(), g(s))
    h = jax.jit(lambda c, s: s @ c)  # and passed as an argument
    np.testing.assert_allclose(h(conn, s), f(s))


@pytest.mark.slow  # 400 x 500 materialised twice over; the native kernel tests check p, seeds
def test_jitconn_probability_and_reproducibility():
    n_pre, n_post, p = 400, 500, 0.05
    conn = JitProb(n_pre, n_post, p, weight=1.0, seed=7)
    dense = np.asarray(conn.to_csr().todense())
    nnz = int((dense != 0).sum())
    lo, hi = stats.binom.interval(0.999, n_pre * n_post, p)
    assert lo <= nnz <= hi
    # the operator equals the materialised matrix, in both orientations, jit or not
    rng = np.random.default_rng(5)
    s = jnp.asarray(rng.random(n_pre) < 0.1)
    np.testing.assert_allclose(s @ conn, np.asarray(s, np.float32) @ dense, rtol=1e-5)
    x = jnp.asarray(rng.normal(size=n_post), jnp.float32)
    np.testing.assert_allclose(
        jax.jit(lambda x: conn @ x)(x), dense @ np.asarray(x), rtol=1e-4, atol=1e-4
    )
    # same seed -> same matrix; another seed -> another matrix
    again = np.asarray(JitProb(n_pre, n_post, p, weight=1.0, seed=7).to_csr().todense())
    np.testing.assert_array_equal(dense, again)
    other = np.asarray(JitProb(n_pre, n_post, p, weight=1.0, seed=8).to_csr().todense())
    assert (dense != other).any()
    # native kernel (when present) and pure-JAX reference draw the same matrix
    params = conn._params()
    eye = jnp.eye(n_pre, dtype=bool)
    native = _ops.jitconn_scatter(eye, conn.table, **params)
    ref = _ops._ref_jitconn(eye, conn.table, scatter=True, **params)
    np.testing.assert_array_equal(np.asarray(native) != 0, np.asarray(ref) != 0)
    np.testing.assert_allclose(native, ref, rtol=1e-6)
    for dist in [("uniform", 0.5, 1.5), ("normal", 1.0, 0.2)]:
        c = JitProb(100, 120, 0.2, weight=dist, seed=3)
        a = _ops.jitconn_scatter(jnp.eye(100, dtype=bool), c.table, **c._params())
        b = _ops._ref_jitconn(jnp.eye(100, dtype=bool), c.table, scatter=True, **c._params())
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
        vals = np.asarray(a)[np.asarray(a) != 0]
        if dist[0] == "uniform":
            assert vals.min() >= 0.5 and vals.max() <= 1.5
        else:
            assert abs(vals.mean() - 1.0) < 0.05 and abs(vals.std() - 0.2) < 0.05


def test_jitconn_gradient_and_vmap():
    conn = JitProb(60, 50, 0.2, weight=("normal", 0.0, 1.0), seed=2)
    dense = jnp.asarray(conn.to_csr().todense())
    x = jnp.linspace(-1, 1, 50)
    g = jax.grad(lambda x: jnp.sum(jnp.sin(conn @ x)))(x)
    gd = jax.grad(lambda x: jnp.sum(jnp.sin(dense @ x)))(x)
    np.testing.assert_allclose(g, gd, rtol=1e-4, atol=1e-5)
    S = jnp.asarray(np.random.default_rng(0).random((4, 60)) < 0.3)
    np.testing.assert_allclose(
        jax.vmap(lambda s: s @ conn)(S),
        np.asarray(S, np.float32) @ np.asarray(dense),
        rtol=1e-4,
        atol=1e-5,
    )


def test_dense_connectivity():
    w = jnp.arange(6.0).reshape(2, 3)
    d = Dense(w)
    np.testing.assert_allclose(jnp.array([True, False]) @ d, w[0])
    np.testing.assert_allclose(d @ jnp.ones(3), w.sum(1))


@pytest.mark.parametrize(
    "dist, rate",
    [  # every rate with the homogeneous weight, the random weights at the few-active rate
        pytest.param(
            dist,
            rate,
            marks=[] if dist == 1.5 or rate == 0.02 else [pytest.mark.slow],
            id=f"{rate}-{dist if dist == 1.5 else dist[0]}",
        )
        for dist in [1.5, ("uniform", 0.5, 1.5), ("normal", 1.0, 0.2)]
        for rate in [0.0, 0.02, 0.3, 1.0]
    ],
)
def test_jitconn_event_driven_reference_equals_native(dist, rate):
    """The pure-JAX scatter (the lowering off CPU) generates only the rows of active
    neurons, in blocks under a while loop: equal to the native kernel and to the
    materialised matrix for no, few, many and all active neurons, batch of 3, float
    and bool spikes (rows active in one batch row only included)."""
    rng = np.random.default_rng(int(rate * 100))
    n_pre, n_post = 700, 90  # three event blocks when all are active
    conn = JitProb(n_pre, n_post, 0.1, weight=dist, seed=5)
    dense = np.asarray(conn.to_csr().todense())
    params = conn._params()
    for spikes in (
        jnp.asarray(rng.random((3, n_pre)) < rate),
        jnp.asarray((rng.random((3, n_pre)) < rate) * rng.normal(size=(3, n_pre)), jnp.float32),
    ):
        ref = _ops._ref_jitconn(spikes, conn.table, scatter=True, **params)
        want = np.asarray(spikes, np.float32) @ dense
        np.testing.assert_allclose(np.asarray(ref), want, rtol=1e-5, atol=1e-5)
        if _ops.native_available():
            native = _ops.jitconn_scatter(spikes, conn.table, **params)
            np.testing.assert_allclose(np.asarray(native), np.asarray(ref), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "rate, homo",
    [  # few active with both weights, no and all active with per-synapse weights
        pytest.param(
            rate,
            homo,
            marks=[] if rate == 0.05 or (rate != 0.5 and not homo) else [pytest.mark.slow],
            id=f"{rate}-{homo}",
        )
        for rate in [0.0, 0.05, 0.5, 1.0]
        for homo in [True, False]
    ],
)
def test_csr_event_driven_reference_equals_dense(homo, rate):
    """The pure-JAX scatter with ``max_row`` (the lowering off CPU) reads only the rows of
    active neurons, in blocks under a while loop: equal to the dense product for no, few,
    many and all active neurons, empty rows, batch of 3, bool and float spikes."""
    rng = np.random.default_rng(int(rate * 100) + homo)
    conn, w = _random_csr(rng, 900, 70, 0.2, homo, np.float32)
    assert conn.max_row == int(np.diff(np.asarray(conn.indptr)).max()) > 0
    wts = conn._w()
    for spikes in (
        jnp.asarray(rng.random((3, 900)) < rate),
        jnp.asarray((rng.random((3, 900)) < rate) * rng.normal(size=(3, 900)), jnp.float32),
    ):
        want = np.asarray(spikes, np.float32) @ w
        for max_row in (conn.max_row, None):
            out = _ops._ref_csr_scatter(
                wts, conn.indices, conn.indptr, spikes, homo=homo, n_post=70, max_row=max_row
            )
            np.testing.assert_allclose(np.asarray(out), want, rtol=1e-5, atol=1e-5)
    # the static max_row survives with_data, pytree round trips and transposition
    assert conn.with_data(conn.data).max_row == conn.max_row
    leaves, tree = jax.tree_util.tree_flatten(conn)
    assert jax.tree_util.tree_unflatten(tree, leaves).max_row == conn.max_row
    assert conn.T.max_row == int(np.diff(np.asarray(conn.T.indptr)).max())


@pytest.mark.parametrize("homo", [True, False])
@pytest.mark.parametrize("rate", [0.0, 0.05, 1.0])
def test_fanout_event_driven_reference_equals_dense(homo, rate):
    """Past one block of synapses the pure-JAX fan-out scatter reads only active rows
    (a while loop over blocks): equal to the dense product, batch of 3, bool and float."""
    rng = np.random.default_rng(int(rate * 10) + homo)
    n_pre, n_post, k = 3000, 50, 40  # 120k synapses: two blocks of rows when all are active
    conn = _fanout(rng, n_pre, n_post, k, homo, np.float32)
    dense = np.asarray(conn.todense())
    for spikes in (
        jnp.asarray(rng.random((3, n_pre)) < rate),
        jnp.asarray((rng.random((3, n_pre)) < rate) * rng.normal(size=(3, n_pre)), jnp.float32),
    ):
        out = _ops._ref_fanout_scatter(conn._w(), conn.indices, spikes, homo=homo, n_post=n_post)
        want = np.asarray(spikes, np.float32) @ dense
        np.testing.assert_allclose(np.asarray(out), want, rtol=1e-4, atol=1e-4)


def test_sizes_beyond_int32_are_refused_not_truncated():
    from neurodyn.event import CSR, FixedFanOut, JitProb

    big = 2**31  # one past the int32 range of the kernels' indices
    with pytest.raises(ValueError, match=r"JitProb: n_post = 2147483648 exceeds the int32"):
        JitProb(10, big, 0.1)
    with pytest.raises(ValueError, match=r"CSR: n_post = 2147483648 exceeds"):
        CSR(1.0, np.zeros(1, np.int32), np.array([0, 1], np.int32), (1, big))
    with pytest.raises(ValueError, match=r"FixedFanOut: n_post = 2147483648"):
        FixedFanOut(np.zeros((2, 1), np.int32), 1.0, big)
    JitProb(10, 2**31 - 1, 0.5)  # the largest size is fine
