"""neurodyn.io.nir.load against the NIR paper's reference data (tests/reference/nir):
the single LIF neuron of paper/01_lif (Norse's and snnTorch's spikes, Norse's forward
Euler trace, the exact event-based trace), the Braille RNNs of paper/03_rnn (hidden
spikes against a numpy forward-Euler reference written here) and the N-MNIST CNN of
paper/02_cnn (shapes; convolution and pooling against numpy)."""

import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest

import neurodyn as nd
import neurodyn.units as u
from neurodyn.dyn import surrogate

nir = pytest.importorskip("nir")
h5py = pytest.importorskip("h5py")
from neurodyn.io import nir as ndnir  # noqa: E402

REF = Path(__file__).resolve().parents[1] / "reference" / "nir"
DT = 1e-4 * u.second


def _csv(name):
    return np.loadtxt(REF / name, delimiter=",")  # columns: input, v, spike


def _run_lif(model):
    lif = model.nodes["1"]

    def step(x):
        return model.update(x), lif.v.value

    xs = jnp.asarray(_csv("lif_norse.csv")[:, :1], jnp.float32)
    z, v = nd.for_loop(nd.jit(step), xs)
    return np.asarray(z)[:, 0], np.asarray(v)[:, 0]


def test_lif_euler_reset_to_zero_matches_norse_and_snntorch():
    model = ndnir.load(REF / "lif_norse.nir", dt=DT, method="euler", reset="zero")
    assert model.nodes["1"].tau.value.unit == u.ms
    np.testing.assert_allclose(model.nodes["1"].tau.value.to_value(u.ms), [2.5], rtol=1e-6)
    z, v = _run_lif(model)
    norse, snntorch = _csv("lif_norse.csv"), _csv("lif_snntorch.csv")
    steps = np.flatnonzero(z)
    assert steps.tolist() == [460, 510, 710, 760]
    assert steps.tolist() == np.flatnonzero(norse[:, 2]).tolist()
    assert steps.tolist() == np.flatnonzero(snntorch[:, 2]).tolist()
    assert np.max(np.abs(v - norse[:, 1])) < 1e-6  # measured 1.9e-8 (float32)


def test_lif_exact_matches_the_exact_solution_before_the_first_spike():
    model = ndnir.load(REF / "lif_norse.nir", dt=DT, method="exact", reset="subtract")
    z, v = _run_lif(model)
    exact = _csv("lif_exact.csv")
    first = int(np.flatnonzero(exact[:, 2])[0])
    assert first == 460
    assert np.max(np.abs(v[:first] - exact[:first, 1])) < 1e-6  # measured 1.2e-8
    assert int(np.flatnonzero(z)[0]) == first
    # forward Euler is visibly different from the exact solution (the methods differ)
    _, v_euler = _run_lif(ndnir.load(REF / "lif_norse.nir", dt=DT, method="euler"))
    assert np.max(np.abs(v_euler[:first] - exact[:first, 1])) > 1e-4


# -- Braille RNN (paper/03_rnn) ----------------------------------------------------------


def _numpy_braille(g, xs, reset):
    """Forward Euler of the NIR equations in float64, written out for the Braille graph:
    x -> fc1 -> CubaLIF lif1 (+ w_rec of the previous step's spikes) -> fc2 -> CubaLIF lif2."""

    def p(node, key):
        return np.asarray(getattr(node, key), np.float64)

    def affine(node, x):
        y = p(node, "weight") @ x
        return y + p(node, "bias") if isinstance(node, nir.Affine) else y

    @dataclass
    class Cuba:
        node: object
        i: np.ndarray
        v: np.ndarray

        def step(self, x):
            n, dt = self.node, 1e-4
            i_new = self.i + dt / p(n, "tau_syn") * (p(n, "w_in") * x - self.i)
            v = self.v + dt / p(n, "tau_mem") * (p(n, "v_leak") - self.v + p(n, "r") * self.i)
            z = (v > p(n, "v_threshold")).astype(float)
            if reset == "zero":
                v = np.where(z > 0, p(n, "v_reset"), v)
            else:
                v = v - z * (p(n, "v_threshold") - p(n, "v_reset"))
            self.i, self.v = i_new, v
            return z

    n1, n2 = g.nodes["lif1.lif"], g.nodes["lif2"]
    l1 = Cuba(n1, np.zeros(n1.r.shape), np.zeros(n1.r.shape))
    l2 = Cuba(n2, np.zeros(n2.r.shape), np.zeros(n2.r.shape))
    z1, hidden, out = np.zeros(n1.r.shape), [], []
    for x in xs.astype(np.float64):
        z1 = l1.step(affine(g.nodes["fc1"], x) + affine(g.nodes["lif1.w_rec"], z1))
        hidden.append(z1)
        out.append(l2.step(affine(g.nodes["fc2"], z1)))
    return np.array(hidden), np.array(out)


BRAILLE = [
    ("braille_noDelay_bias_zero.nir", "zero", 38),
    ("braille_noDelay_noBias_subtract.nir", "subtract", 40),
]


@pytest.mark.parametrize(("name", "reset", "n_hidden"), BRAILLE)
def test_braille_hidden_spikes_equal_a_numpy_euler_reference(name, reset, n_hidden):
    g = nir.read(REF / name)
    model = ndnir.load(REF / name, dt=DT, method="euler", reset=reset)
    assert model.nodes["input"].out_shape == (12,)
    assert model.nodes["lif1.lif"].in_shape == (n_hidden,)
    assert model.nodes["output"].out_shape == (7,)
    assert model.recurrent == [("lif1.w_rec", "lif1.lif")]
    xs = (np.random.default_rng(0).random((256, 12)) < 0.3).astype(np.float32)
    out = nd.for_loop(nd.jit(model.step), jnp.asarray(xs))
    hidden, final = _numpy_braille(g, xs, reset)
    # enough spikes for the comparison to mean something (measured: 27 and 67 hidden,
    # 599 and 106 output spikes)
    assert hidden.sum() >= 20 and final.sum() >= 100
    np.testing.assert_array_equal(np.asarray(out["lif1.lif"]), hidden)
    np.testing.assert_array_equal(np.asarray(out["output"]), final)


def test_nested_subgraph_runs_like_the_flat_graph(tmp_path):
    # paper/03_rnn/extras: the same network with the recurrent layer as a subgraph; the
    # file's inner edges name a node 'lif' that is called 'lif1' (and NIR rejects it)
    path = REF / "braille_noDelay_bias_zero_subgraph.nir"
    with pytest.warns(UserWarning, match="type checks fail"):
        with pytest.raises(ValueError, match=r"names the node 'lif', which does not exist"):
            ndnir.load(path)
    from nir.serialization import hdf2dict

    with h5py.File(path, "r") as f:
        raw = hdf2dict(f["node"])
    inner = raw["nodes"]["lif1"]
    inner["edges"] = [[b"lif1" if e == b"lif" else e for e in edge] for edge in inner["edges"]]
    graph = ndnir._graph_from_dict(raw, nir)
    nested = ndnir.load(graph, dt=DT)
    flat = ndnir.load(REF / "braille_noDelay_bias_zero.nir", dt=DT)
    assert nested.nodes["lif1"].recurrent == [("lin", "lif1")]
    xs = jnp.asarray((np.random.default_rng(1).random((100, 12)) < 0.5).astype(np.float32))
    a = nd.for_loop(nd.jit(nested.step), xs)
    b = nd.for_loop(nd.jit(flat.step), xs)
    np.testing.assert_array_equal(np.asarray(a["lif1.lif1"]), np.asarray(b["lif1.lif"]))
    np.testing.assert_array_equal(np.asarray(a["output"]), np.asarray(b["output"]))
    ndnir.save(tmp_path / "nested.nir", nested)  # the subgraph stays a subgraph
    assert isinstance(nir.read(tmp_path / "nested.nir").nodes["lif1"], nir.NIRGraph)


def test_old_file_that_fails_shape_inference_loads_with_a_warning(tmp_path):
    old = tmp_path / "old.nir"
    shutil.copy(REF / "braille_noDelay_bias_zero.nir", old)
    with h5py.File(old, "a") as f:  # old exporters wrote (1,) for the Input and Output
        for node in ("input", "output"):
            del f[f"node/nodes/{node}/shape"]
            f[f"node/nodes/{node}/shape"] = np.array([1])
    with pytest.raises(ValueError):
        nir.read(old)
    with pytest.warns(UserWarning) as record:
        model = ndnir.load(old, dt=DT)
    messages = " ".join(str(w.message) for w in record)
    assert "type checks fail" in messages
    assert "declares shape (1,), but the nodes it feeds take (12,)" in messages
    assert model.nodes["input"].out_shape == (12,)
    assert model.nodes["output"].out_shape == (7,)
    ndnir.save(tmp_path / "fixed.nir", model)  # the re-export passes NIR's type checks
    assert nir.read(tmp_path / "fixed.nir").nodes["input"].input_type["input"].tolist() == [12]


# -- batches, transforms ------------------------------------------------------------------


def test_batched_states_nd_vmap_and_single_samples_agree():
    model = ndnir.load(REF / "braille_noDelay_bias_zero.nir", dt=DT)
    xs = jnp.asarray((np.random.default_rng(2).random((3, 40, 12)) < 0.5).astype(np.float32))
    run = nd.jit(lambda xs: nd.for_loop(model.update, xs))
    single = []
    for b in range(3):
        model.reset_state()
        single.append(np.asarray(run(xs[b])))
    model.init_state(3)  # new States: a new compiled function
    batched = np.asarray(nd.for_loop(nd.jit(model.update), jnp.swapaxes(xs, 0, 1)))
    np.testing.assert_array_equal(np.swapaxes(batched, 0, 1), np.stack(single))
    model.init_state(3)
    vmapped = np.asarray(nd.for_loop(nd.jit(nd.vmap(model.update)), jnp.swapaxes(xs, 0, 1)))
    np.testing.assert_array_equal(vmapped, batched)
    with pytest.raises(ValueError, match=r"expected \(3, 12\)"):
        model.update(jnp.zeros(12))


def _smooth_graph():
    """Input -> Affine -> CubaLI -> Output: no spikes, so the gradients are exact."""
    return nir.NIRGraph.from_list(
        nir.Input(input_type=np.array([3])),
        nir.Affine(
            weight=np.array([[0.5, -1.0, 2.0], [1.5, 0.3, -0.7]], np.float32),
            bias=np.array([0.1, -0.2], np.float32),
        ),
        nir.CubaLI(
            tau_syn=np.full(2, 2e-3),
            tau_mem=np.full(2, 5e-3),
            r=np.ones(2),
            v_leak=np.zeros(2),
            w_in=np.full(2, 3.0),
        ),
        nir.Output(output_type=np.array([2])),
    )


def _central_difference(loss, state, idx, h):
    base = state.value
    unit = base.unit if isinstance(base, u.Quantity) else None
    m = np.asarray(u.get_mantissa(base), np.float64)
    values = []
    for delta in (h, -h):
        mm = m.copy()
        mm[idx] += delta
        state.value = mm.astype(np.float32) * unit if unit else jnp.asarray(mm, jnp.float32)
        values.append(float(loss()))
    state.value = base
    return (values[0] - values[1]) / (2 * h)


@pytest.mark.parametrize("method", ["euler", "exact"])
def test_gradients_of_a_smooth_graph_equal_finite_differences(method):
    model = ndnir.load(_smooth_graph(), dt=DT, method=method)
    params = model.states(nd.Param)
    xs = jnp.asarray(np.random.default_rng(3).normal(size=(60, 3)).astype(np.float32))

    def loss():
        model.reset_state()
        return jnp.sum(nd.for_loop(model.update, xs) ** 2)

    grads = nd.grad(loss, params)()
    compiled = nd.jit(loss)  # compiled once for the finite differences
    for key, idx in (("nodes.affine.weight", (1, 2)), ("nodes.cubali.tau_mem", (0,))):
        fd = _central_difference(compiled, params[key], idx, 1e-2)
        g = np.asarray(u.get_mantissa(grads[key]))[idx]
        np.testing.assert_allclose(g, fd, rtol=2e-2)
    assert grads["nodes.cubali.tau_mem"].unit.dim is (1 / u.ms).dim  # d loss / d tau


@pytest.mark.slow  # (about 10 s; make test-slow)
def test_surrogate_gradients_flow_through_the_braille_spikes():
    model = ndnir.load(
        REF / "braille_noDelay_noBias_subtract.nir",
        dt=DT,
        reset="subtract",
        spike_fn=surrogate.Sigmoid(4.0),
    )
    hard = ndnir.load(REF / "braille_noDelay_noBias_subtract.nir", dt=DT, reset="subtract")
    xs = jnp.asarray((np.random.default_rng(4).random((60, 12)) < 0.5).astype(np.float32))
    # the surrogate changes the gradient only: the spikes are those of the hard threshold
    np.testing.assert_array_equal(
        np.asarray(nd.for_loop(model.update, xs)), np.asarray(nd.for_loop(hard.update, xs))
    )
    params = model.states(nd.Param)

    def loss():
        model.reset_state()
        return jnp.sum(nd.for_loop(model.update, xs) * jnp.arange(7.0))

    value_and_grad = nd.jit(nd.value_and_grad(loss, params))
    first, grads = value_and_grad()
    for key in ("nodes.fc1.weight", "nodes.lif1.w_rec.weight", "nodes.lif2.tau_mem"):
        g = np.asarray(u.get_mantissa(grads[key]))
        assert np.all(np.isfinite(g)) and np.any(g != 0), key
    assert grads["nodes.lif2.tau_mem"].unit.dim is (1 / u.ms).dim  # d loss / d tau
    # one gradient step on the weights lowers the loss (training works; 156 -> 0 here)
    weights = [k for k in params if k.endswith("weight")]
    for k in weights:
        params[k].value = params[k].value - 2e-3 * grads[k]
    assert float(value_and_grad()[0]) < 0.7 * float(first)


# -- CNN (paper/02_cnn) -------------------------------------------------------------------


def _conv2d(x, w, stride, pad):
    x = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))
    c_out, _, kh, kw = w.shape
    h = (x.shape[1] - kh) // stride + 1
    out = np.zeros((c_out, h, (x.shape[2] - kw) // stride + 1))
    for i in range(kh):
        for j in range(kw):
            patch = x[:, i : i + stride * h : stride, j : j + stride * out.shape[2] : stride]
            out += np.einsum("oc,chw->ohw", w[:, :, i, j], patch)
    return out


def test_cnn_imports_with_its_shapes_and_runs_under_jit():
    model = ndnir.load(REF / "cnn_sinabs.nir", dt=DT)
    shapes = {k: n.out_shape for k, n in model.nodes.items()}
    assert shapes["input"] == (2, 34, 34)
    assert shapes["0"] == shapes["1"] == shapes["2"] == (16, 16, 16)
    assert shapes["4"] == (16, 8, 8)
    assert shapes["5"] == (8, 8, 8) and shapes["7"] == (8, 4, 4)
    assert shapes["8"] == (128,) and shapes["9"] == (256,) and shapes["output"] == (10,)
    xs = (np.random.default_rng(5).random((6, 2, 34, 34)) < 0.3).astype(np.float32)
    out = nd.for_loop(nd.jit(model.step), jnp.asarray(xs))
    assert out["output"].shape == (6, 10)
    g = nir.read(REF / "cnn_sinabs.nir")
    conv = _conv2d(xs[0].astype(np.float64), np.asarray(g.nodes["0"].weight, np.float64), 2, 1)
    np.testing.assert_allclose(np.asarray(out["0"][0]), conv, rtol=1e-5, atol=1e-5)
    s3 = np.asarray(out["3"][2], np.float64)
    pooled = s3.reshape(16, 8, 2, 8, 2).sum(axis=(2, 4))
    np.testing.assert_allclose(np.asarray(out["4"][2]), pooled, atol=1e-6)


# -- errors ---------------------------------------------------------------------------------


def test_unsupported_node_is_named_with_the_supported_list():
    @dataclass(eq=False)
    class Resonator(nir.NIRNode):
        omega: np.ndarray

        def __post_init__(self):
            self.input_type = {"input": np.array(self.omega.shape)}
            self.output_type = {"output": np.array(self.omega.shape)}

    graph = nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type=np.array([2])),
            "res": Resonator(omega=np.ones(2)),
            "output": nir.Output(output_type=np.array([2])),
        },
        edges=[("input", "res"), ("res", "output")],
        type_check=False,
    )
    with pytest.raises(NotImplementedError) as err:
        ndnir.load(graph)
    msg = str(err.value)
    assert "'res' is a Resonator" in msg and "CubaLIF" in msg and "Conv2d" in msg


def _delay_graph(delay_s):
    return nir.NIRGraph.from_list(
        nir.Input(input_type=np.array([2])),
        nir.Delay(delay=np.array([delay_s, 2e-4])),
        nir.Output(output_type=np.array([2])),
    )


def test_delay_must_be_a_multiple_of_dt():
    with pytest.raises(ValueError, match=r"0.25 ms is 2.5 steps of dt = 0.1 ms, not a multiple"):
        ndnir.load(_delay_graph(2.5e-4), dt=DT)
    model = ndnir.load(_delay_graph(3e-4), dt=DT)
    xs = jnp.asarray(np.arange(12, dtype=np.float32).reshape(6, 2) + 1)
    out = np.asarray(nd.for_loop(nd.jit(model.update), xs))
    np.testing.assert_array_equal(out[:, 0], [0, 0, 0, 1, 3, 5])  # x[k - 3]
    np.testing.assert_array_equal(out[:, 1], [0, 0, 2, 4, 6, 8])  # x[k - 2]


def test_argument_errors_say_what_is_expected():
    with pytest.raises(ValueError, match="method must be one of"):
        ndnir.load(REF / "lif_norse.nir", method="rk4")
    with pytest.raises(ValueError, match="reset must be one of"):
        ndnir.load(REF / "lif_norse.nir", reset="hold")
    with pytest.raises(u.UnitMismatchError, match="dt must be a time"):
        ndnir.load(REF / "lif_norse.nir", dt=1e-4)
    with pytest.raises(TypeError, match="path to a .nir file or a nir.NIRGraph"):
        ndnir.load(42)
    model = ndnir.load(REF / "lif_norse.nir")
    with pytest.raises(ValueError, match=r"expected \(1,\)"):
        model.update(jnp.zeros((2, 1)))


def test_no_warning_for_a_clean_file():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ndnir.load(REF / "braille_noDelay_noBias_subtract.nir")


# -- the other primitives, against numpy -------------------------------------------------


def test_conv1d_flatten_scale_threshold_against_numpy():
    rng = np.random.default_rng(6)
    w, b = rng.normal(size=(3, 2, 3)).astype(np.float32), rng.normal(size=3).astype(np.float32)
    scale, th = rng.uniform(0.5, 2, 30).astype(np.float32), rng.normal(size=30).astype(np.float32)
    graph = nir.NIRGraph.from_list(
        nir.Input(input_type=np.array([2, 10])),
        nir.Conv1d(input_shape=10, weight=w, stride=1, padding=1, dilation=1, groups=1, bias=b),
        nir.Flatten(input_type={"input": np.array([3, 10])}, start_dim=0, end_dim=-1),
        nir.Scale(scale=scale),
        nir.Threshold(threshold=th),
        nir.Output(output_type=np.array([30])),
    )
    model = ndnir.load(graph, dt=DT)
    xs = rng.normal(size=(4, 2, 10)).astype(np.float32)
    out = np.asarray(nd.for_loop(nd.jit(model.update), jnp.asarray(xs)))
    for k, x in enumerate(xs.astype(np.float64)):
        xp = np.pad(x, ((0, 0), (1, 1)))
        conv = b[:, None] + sum(
            np.einsum("oc,cn->on", w[:, :, j], xp[:, j : j + 10]) for j in range(3)
        )
        np.testing.assert_array_equal(out[k], (conv.reshape(-1) * scale > th).astype(np.float32))


def test_avgpool_integrator_and_leaky_integrator_against_numpy():
    rng = np.random.default_rng(7)
    graph = nir.NIRGraph.from_list(
        nir.Input(input_type=np.array([1, 4, 4])),
        nir.AvgPool2d(
            kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0])
        ),
        nir.Flatten(input_type={"input": np.array([1, 2, 2])}, start_dim=0, end_dim=-1),
        nir.I(r=np.array([1.0, 2.0, 3.0, 4.0])),
        nir.Output(output_type=np.array([4])),
    )
    xs = rng.normal(size=(5, 1, 4, 4))
    out = np.asarray(
        nd.for_loop(nd.jit(ndnir.load(graph, dt=DT).update), jnp.asarray(xs, jnp.float32))
    )
    pooled = xs.reshape(5, 2, 2, 2, 2).mean(axis=(2, 4)).reshape(5, 4)
    np.testing.assert_allclose(out, np.cumsum(pooled * [1, 2, 3, 4], axis=0), rtol=1e-5, atol=1e-6)

    tau, r, v_leak = np.array([2e-3, 5e-4]), np.array([1.0, 3.0]), np.array([0.5, -1.0])
    li = nir.NIRGraph.from_list(nir.LI(tau=tau, r=r, v_leak=v_leak))
    xs = rng.normal(size=(30, 2))
    for method in ("euler", "exact"):
        out = np.asarray(
            nd.for_loop(ndnir.load(li, dt=DT, method=method).update, jnp.asarray(xs, jnp.float32))
        )
        v, ref = v_leak.copy(), []  # starts at rest
        h = 1e-4 / tau
        a = h if method == "euler" else 1 - np.exp(-h)
        for x in xs:
            v = v + a * (v_leak + r * x - v)
            ref.append(v)
        np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)
