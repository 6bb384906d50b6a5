"""State-aware transforms against the equivalent hand-written pure JAX code."""

import gc

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurodyn as nd
import neurodyn.units as u
from neurodyn.state import StateError, StateLeakError


class LIF(nd.Module):
    """A tiny LIF layer with a trainable input weight."""

    def __init__(self, n=4, n_in=3):
        self.w = nd.Param(jnp.linspace(0.5, 1.5, n * n_in).reshape(n_in, n))
        self.v = nd.Hidden(jnp.zeros(n))
        self.count = nd.Memory(jnp.zeros(n))

    def __call__(self, x):
        v = 0.9 * self.v.value + x @ self.w.value
        spike = jax.nn.sigmoid(5.0 * (v - 1.0))
        self.v.value = v * (1.0 - spike)
        self.count.value = self.count.value + spike
        return spike


def lif_pure(w, v, count, x):
    v = 0.9 * v + x @ w
    spike = jax.nn.sigmoid(5.0 * (v - 1.0))
    return v * (1.0 - spike), count + spike, spike


XS = jnp.sin(jnp.arange(60.0)).reshape(20, 3) + 0.6


def test_jit_matches_pure_function():
    net = LIF()
    w, v, c = net.w.value, net.v.value, net.count.value
    step = nd.jit(net)
    for x in XS[:5]:
        out = step(x)
        v, c, ref = lif_pure(w, v, c, x)
        np.testing.assert_allclose(out, ref, rtol=1e-6)
    np.testing.assert_allclose(net.v.value, v, rtol=1e-6)
    np.testing.assert_allclose(net.count.value, c, rtol=1e-6)


def test_jit_traces_once_per_signature_and_does_not_grow_memory():
    net = LIF()
    traces = []

    @nd.jit
    def step(x):
        traces.append(1)
        return net(x)

    step(XS[0])
    n_first = len(traces)
    assert n_first == 2  # one abstract pass to collect States, one compile
    step(XS[1])
    assert len(traces) == n_first
    for x in XS:
        step(x)
    gc.collect()
    live = len(jax.live_arrays())
    for _ in range(100):
        step(XS[0])
    gc.collect()
    assert len(jax.live_arrays()) <= live
    assert len(traces) == n_first and step.cache_size == 1

    @nd.jit
    def total(x):
        traces.append(1)
        return net.v.value.sum() + x.sum()

    total(jnp.ones(3))
    total(jnp.ones(3))
    assert len(traces) == n_first + 2
    total(jnp.ones(5))  # a new shape retraces (jax.jit's own cache), no new collection
    assert len(traces) == n_first + 3


def test_jit_static_args_and_donation():
    s = nd.Memory(jnp.zeros(3))

    @nd.jit(static_argnums=1, donate_states=True)
    def add(x, times):
        for _ in range(times):
            s.value = s.value + x
        return s.value.sum()

    assert float(add(jnp.ones(3), 2)) == 6.0
    assert float(add(jnp.ones(3), 3)) == 15.0
    np.testing.assert_array_equal(s.value, 5 * np.ones(3))
    with pytest.raises(TypeError, match="hashable"):
        add(jnp.ones(3), [1])


def test_jit_as_method_decorator():
    class Acc(nd.Module):
        def __init__(self):
            self.total = nd.Memory(jnp.zeros(()))

        @nd.jit
        def add(self, x):
            self.total.value = self.total.value + x
            return self.total.value

    a, b = Acc(), Acc()
    a.add(1.0)
    a.add(2.0)
    b.add(5.0)
    assert float(a.total.value) == 3.0 and float(b.total.value) == 5.0


def test_grad_matches_pure_grad_and_finite_differences():
    net = LIF()
    params = net.states(nd.Param)

    def loss(xs):
        out = nd.for_loop(net, xs)
        return jnp.sum((out - 0.5) ** 2)

    def loss_pure(w, xs):
        v, c = jnp.zeros(4), jnp.zeros(4)
        total = 0.0
        for x in xs:
            v, c, s = lif_pure(w, v, c, x)
            total = total + jnp.sum((s - 0.5) ** 2)
        return total

    xs = XS[:8]
    g = nd.grad(loss, params)(xs)
    assert set(g) == {"w"}
    g_ref = jax.grad(loss_pure)(net.w.value, xs)
    np.testing.assert_allclose(g["w"], g_ref, rtol=1e-4, atol=1e-6)
    # finite differences on one entry
    eps = 1e-2
    w0 = net.w.value
    e = jnp.zeros_like(w0).at[1, 2].set(eps)
    fd = (loss_pure(w0 + e, xs) - loss_pure(w0 - e, xs)) / (2 * eps)
    assert float(g["w"][1, 2]) == pytest.approx(float(fd), rel=2e-2)
    # the hidden state was advanced by the forward pass
    assert float(jnp.abs(net.v.value).sum()) > 0


def test_value_and_grad_aux_argnums_and_units():
    g_leak = nd.Param(10 * u.nS)

    def current(v):
        i = g_leak.value * (v - (-70 * u.mV))
        return i, "aux"

    (value, aux), (g_state, g_arg) = nd.value_and_grad(current, g_leak, argnums=0, has_aux=True)(
        -65 * u.mV
    )
    assert aux == "aux"
    assert value.unit == u.pA and float(value.mantissa) == pytest.approx(50.0)
    assert g_state.unit.dim is u.volt.dim
    assert float(g_state.to_value(u.mV)) == pytest.approx(5.0)
    assert g_arg.unit == u.nS and float(g_arg.mantissa) == pytest.approx(10.0)


def test_grad_refuses_a_state_the_function_never_reads():
    used, unused = nd.Param(jnp.ones(2), name="used"), nd.Param(jnp.ones(2), name="unused")
    with pytest.raises(StateError, match="never reads Param 'unused'"):
        nd.grad(lambda: jnp.sum(used.value**2), [used, unused])()


def test_jacobians_match_jax():
    w = nd.Param(jnp.array([[1.0, 2.0], [3.0, 4.0]]))

    def f(x):
        return jnp.tanh(w.value @ x)

    x = jnp.array([0.3, -0.2])
    ref = jax.jacrev(lambda w_, x_: jnp.tanh(w_ @ x_), argnums=(0, 1))(w.value, x)
    jr = nd.jacrev(f, w, argnums=0)(x)
    jf = nd.jacfwd(f, w, argnums=0)(x)
    for j in (jr, jf):
        np.testing.assert_allclose(j[0], ref[0], rtol=1e-6)
        np.testing.assert_allclose(j[1], ref[1], rtol=1e-6)


def test_vmap_lanes_are_independent_and_equal_a_python_loop():
    n_lanes = 5
    net = LIF()
    net.v = nd.Hidden(jnp.zeros((n_lanes, 4)))  # batched hidden state
    net.count = nd.Memory(jnp.zeros((n_lanes, 4)))
    xs = XS[:n_lanes]
    out = nd.vmap(net, state_axes={nd.Hidden: 0, nd.Memory: 0})(xs)
    for i in range(n_lanes):
        v, c, ref = lif_pure(net.w.value, jnp.zeros(4), jnp.zeros(4), xs[i])
        np.testing.assert_allclose(out[i], ref, rtol=1e-6)
        np.testing.assert_allclose(net.v.value[i], v, rtol=1e-6)
        np.testing.assert_allclose(net.count.value[i], c, rtol=1e-6)


def test_vmap_writing_a_shared_state_per_lane_raises():
    shared = nd.Memory(jnp.zeros(()), name="shared")

    def f(x):
        shared.value = shared.value + x
        return x

    with pytest.raises(StateError, match="Memory 'shared'"):
        nd.vmap(f)(jnp.arange(3.0))
    assert float(shared.value) == 0.0  # left untouched


def test_vmap_random_keys_split_per_lane_and_reproducible():
    def draw(_):
        return nd.random.normal(size=2)

    nd.random.seed(42)
    a = nd.vmap(draw)(jnp.arange(4.0))
    nd.random.seed(42)
    b = nd.vmap(draw)(jnp.arange(4.0))
    np.testing.assert_array_equal(a, b)
    assert len({tuple(np.asarray(r)) for r in a}) == 4  # lanes differ
    c = nd.vmap(draw)(jnp.arange(4.0))  # the key advanced
    assert not np.allclose(a, c)


def test_random_reproducible_under_jit_and_loops():
    @nd.jit
    def sample():
        return nd.for_loop(lambda i: nd.random.uniform(size=3), jnp.arange(5))

    nd.random.seed(1)
    a = sample()
    nd.random.seed(1)
    b = sample()
    np.testing.assert_array_equal(a, b)
    assert a.shape == (5, 3) and len(np.unique(np.asarray(a))) == 15
    q = nd.random.normal(-55 * u.mV, 2 * u.mV, size=1000)
    assert q.unit is u.mV and abs(float(q.mean().mantissa) + 55) < 0.5


def test_scan_and_for_loop_match_python_loops():
    acc = nd.Memory(jnp.zeros(3))

    def body(carry, x):
        acc.value = acc.value * 0.5 + x
        return carry + acc.value.sum(), acc.value

    carry, ys = nd.scan(body, 0.0, XS[:6])
    ref_acc, ref_carry, ref_ys = np.zeros(3), 0.0, []
    for x in np.asarray(XS[:6]):
        ref_acc = ref_acc * 0.5 + x
        ref_carry += ref_acc.sum()
        ref_ys.append(ref_acc)
    np.testing.assert_allclose(carry, ref_carry, rtol=1e-5)
    np.testing.assert_allclose(ys, np.stack(ref_ys), rtol=1e-5)
    np.testing.assert_allclose(acc.value, ref_acc, rtol=1e-5)
    # several sequences, reversed
    ys = nd.for_loop(lambda a, b: a * b, jnp.arange(3.0), jnp.arange(3.0), reverse=True)
    np.testing.assert_allclose(ys, [0.0, 1.0, 4.0])


def test_while_cond_switch():
    total = nd.Memory(jnp.zeros(()))

    def body(i):
        total.value = total.value + i
        return i + 1

    i = nd.while_loop(lambda i: total.value < 10, body, 0)
    assert int(i) == 5 and float(total.value) == 10.0  # 0+1+2+3+4
    with pytest.raises(StateLeakError, match="condition"):
        nd.while_loop(lambda i: body(i) < 3, body, 0)

    a, b = nd.Memory(jnp.zeros(()), name="a"), nd.Memory(jnp.zeros(()), name="b")

    def set_a(x):
        a.value = x
        return 1

    def set_b(x):
        b.value = x
        return 2

    def set_none(x):
        return 3

    out = nd.switch(1, [set_a, set_b, set_none], 7.0)
    assert int(out) == 2 and float(a.value) == 0.0 and float(b.value) == 7.0
    out = nd.cond(jnp.array(True), set_a, set_b, 3.0)
    assert int(out) == 1 and float(a.value) == 3.0 and float(b.value) == 7.0

    @nd.jit
    def f(flag):
        return nd.cond(flag, set_a, set_b, 9.0)

    f(False)
    assert float(b.value) == 9.0 and float(a.value) == 3.0


def test_nested_transforms():
    net = LIF()
    params = net.states(nd.Param)

    @nd.jit
    def train_step(xs):
        def loss():
            return jnp.sum(nd.for_loop(net, xs))

        g = nd.grad(loss, params)()
        net.w.value = net.w.value - 0.1 * g["w"]
        return g["w"]

    w0 = net.w.value
    g = train_step(XS[:5])

    def loss_pure(w):
        v, c, total = jnp.zeros(4), jnp.zeros(4), 0.0
        for x in XS[:5]:
            v, c, s = lif_pure(w, v, c, x)
            total = total + s.sum()
        return total

    np.testing.assert_allclose(g, jax.grad(loss_pure)(w0), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(net.w.value, w0 - 0.1 * g, rtol=1e-6)

    # vmap of jit
    counter = nd.Hidden(jnp.zeros((3, 2)))

    @nd.jit
    def inc(x):
        counter.value = counter.value + x
        return counter.value.sum()

    out = nd.vmap(inc)(jnp.arange(3.0))
    np.testing.assert_allclose(out, [0.0, 2.0, 4.0])
    np.testing.assert_allclose(counter.value, [[0, 0], [1, 1], [2, 2]])


def test_checkpoint_gives_the_same_gradient():
    w = nd.Param(jnp.array([0.5, -0.3]))

    def block(x):
        return jnp.sin(w.value * x) ** 2

    def loss(f):
        return lambda x: jnp.sum(f(f(x)))

    g1 = nd.grad(loss(block), w)(jnp.array([1.0, 2.0]))
    g2 = nd.grad(loss(nd.checkpoint(block)), w)(jnp.array([1.0, 2.0]))
    np.testing.assert_allclose(g1, g2, rtol=1e-6)


def test_leaked_state_error_says_where_it_was_created():
    holder = {}

    @nd.jit
    def make(x):
        holder["s"] = nd.State(x * 2)  # created inside a transform
        return x

    make(jnp.ones(2))
    with pytest.raises(StateLeakError, match=r"created inside a function transformed by jit"):
        holder["s"].value  # noqa: B018
    with pytest.raises(StateLeakError, match="test_transforms.py"):
        holder["s"].value  # noqa: B018


def test_tracer_from_plain_jax_transform_is_caught():
    s = nd.Memory(jnp.zeros(2), name="s")

    def inner(x):
        s.value = x
        return x

    with pytest.raises(StateLeakError, match="plain JAX transform"):
        jax.jit(inner)(jnp.ones(2))

    @nd.jit
    def outer(x):
        return jax.vmap(inner)(jnp.stack([x, x]))

    with pytest.raises(StateLeakError, match="nested inside jit"):
        outer(jnp.ones(2))
    np.testing.assert_array_equal(s.value, np.zeros(2))  # untouched


def test_poisson_small_matches_the_poisson_distribution():
    from scipy import stats

    nd.random.seed(3)
    for lam in (0.05, 0.24, 2.0):
        k = np.asarray(nd.random.poisson_small(lam, size=200_000))
        freq = np.bincount(k, minlength=6)[:6] / k.size
        np.testing.assert_allclose(freq, stats.poisson.pmf(np.arange(6), lam), atol=3e-3)
        assert abs(k.mean() - lam) < 5 * np.sqrt(lam / k.size) + 1e-4
    with pytest.raises(ValueError, match="lam must be >= 0"):
        nd.random.poisson_small(-1.0)


@pytest.mark.parametrize("donate", [False, True])
def test_jit_hoist_constants_passes_closed_over_arrays_as_arguments(donate):
    """A large closed-over array is an argument of the compiled program, not an embedded
    constant; results, State writes, donation and recompiles behave as without hoisting."""
    from neurodyn.state._core import read_values

    big = jnp.asarray(np.arange(100_000, dtype=np.float32))
    small = jnp.asarray([1.0, 2.0])
    acc = nd.Memory(jnp.zeros(()))

    def f(i, scale):
        acc.value = acc.value + big[i] * scale + small[1]
        return acc.value * 2

    plain = nd.jit(f)
    hoisted = nd.jit(f, hoist_constants=True, donate_states=donate)
    outs = []
    for fn in (plain, hoisted):
        acc.value = jnp.zeros(())
        outs.append([float(fn(3, 1.0)), float(fn(5, 2.0)), float(acc.value)])
    assert outs[0] == outs[1] == [10.0, 34.0, 17.0]  # acc: 0 + 3 + 2, then 5 + 10 + 2
    assert float(hoisted(jnp.int32(7), jnp.float32(0.5))) == 2 * (17.0 + 3.5 + 2.0)
    texts = []
    for fn in (plain, hoisted):
        entry = next(iter(fn._cache.values()))
        written, read_only, compiled = entry
        txt = compiled.lower(read_values(written), read_values(read_only), 3, 1.0).as_text()
        texts.append(sum(1 for ln in txt.splitlines() if "constant" in ln and "100000xf32" in ln))
    assert texts == [1, 0]
