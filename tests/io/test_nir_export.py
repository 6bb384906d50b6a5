"""neurodyn -> NIR -> neurodyn: a network of LIF populations and CUBA exponential
Projections (dense, CSR and fan-out weights; homogeneous, per-synapse and recurrent
delays; a population view) is saved as NIR, read back by NIR with its type checks, and
loaded: every parameter is in the graph and the loaded graph reproduces every spike of
``nd.run``. Re-exporting a loaded graph keeps its arrays; errors name the fix."""

from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest

import neurodyn as nd
import neurodyn.units as u
from neurodyn import event
from neurodyn.dyn import COBA, CUBA, LIF, ArrayInput, Delta, Expon, Projection

nir = pytest.importorskip("nir")
from neurodyn.io import nir as ndnir  # noqa: E402

REF = Path(__file__).resolve().parents[1] / "reference" / "nir"
DT = 0.1 * u.ms
T = 400


class Net(nd.Network):
    def __init__(self):
        rng = np.random.default_rng(1)
        self.inp = ArrayInput(20, steps=T)
        self.hid = LIF(
            30,
            tau=10 * u.ms,
            V_rest=-65 * u.mV,
            V_reset=-70 * u.mV,
            V_th=-50 * u.mV,
            R=100 * u.Mohm,
            I_ext=np.linspace(0, 140, 30) * u.pA,
            V_initializer=np.linspace(-70, -55, 30) * u.mV,
        )
        self.out = LIF(
            6, tau=15 * u.ms, V_rest=-65 * u.mV, V_reset=-65 * u.mV, V_th=-52 * u.mV, R=50 * u.Mohm
        )
        self.p_in = Projection(
            self.inp,
            self.hid,
            event.Dense(rng.uniform(0, 120, (20, 30)) * u.pA),
            synapse=Expon(5 * u.ms),
            output=CUBA(),
        )
        csr = event.FixedProb(0.2, seed=3).build(30, 30, weight=-30 * u.pA)
        self.p_rec = Projection(  # recurrent, per-synapse delays of 1..3 steps
            self.hid,
            self.hid,
            csr,
            synapse=Expon(5 * u.ms),
            output=CUBA(),
            delay=(1 + np.arange(csr.nnz) % 3) * 0.1 * u.ms,
        )
        self.p_out = Projection(  # from a view of the first 20 neurons, delayed
            self.hid[:20],
            self.out,
            event.FixedProb(0.5, seed=4),
            weight=150 * u.pA,
            synapse=Expon(3 * u.ms),
            output=CUBA(),
            delay=0.5 * u.ms,
        )
        self.p_fb = Projection(  # feedback out -> hid closes a second cycle
            self.out,
            self.hid,
            event.FixedPostNum(5, seed=5),
            weight=40 * u.pA,
            synapse=Expon(5 * u.ms),
            output=CUBA(),
            delay=0.2 * u.ms,
        )


def _inputs():
    return (np.random.default_rng(2).random((T, 20)) < 0.05).astype(np.float32)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    net = Net()
    path = tmp_path_factory.mktemp("nir") / "net.nir"
    ndnir.save(path, net, dt=DT, outputs=["out"])
    xs = _inputs()
    net.inp.feed(jnp.asarray(xs))
    res = nd.run(
        net, T * DT, dt=DT, monitors={"h": net.hid.spike, "o": net.out.spike, "V": net.hid.V}
    )
    return Net(), path, xs, res


def test_the_file_passes_nir_type_checks_and_holds_every_parameter(exported):
    net, path, _, _ = exported
    g = nir.read(path)  # with NIR's type checks
    hid, out = g.nodes["hid"], g.nodes["out"]
    assert isinstance(hid, nir.CubaLIF) and isinstance(g.nodes["inp"], nir.Input)
    np.testing.assert_allclose(hid.tau_mem, 10e-3, rtol=1e-6)
    np.testing.assert_allclose(hid.tau_syn, 5e-3, rtol=1e-6)
    np.testing.assert_allclose(out.tau_syn, 3e-3, rtol=1e-6)
    np.testing.assert_allclose(hid.r, 100.0)  # MOhm
    np.testing.assert_allclose(hid.v_threshold, -50.0)  # mV
    np.testing.assert_allclose(hid.v_reset, -70.0)
    # v_leak = V_rest + R I_ext (MOhm x nA = mV); V_rest and I_ext kept as metadata
    np.testing.assert_allclose(hid.v_leak, -65 + 100 * np.linspace(0, 140, 30) * 1e-3, rtol=1e-6)
    meta = hid.metadata["neurodyn"]
    np.testing.assert_allclose(meta["V_rest"], -65.0)
    np.testing.assert_allclose(meta["I_ext"], np.linspace(0, 140, 30) * 1e-3, rtol=1e-6)
    np.testing.assert_allclose(meta["v_initial"], np.linspace(-70, -55, 30), rtol=1e-6)
    np.testing.assert_allclose(hid.w_in, 1 / -np.expm1(-0.1 / 5), rtol=1e-6)
    # weights (nA, NIR's (out, in) layout) and delays
    w_in = np.asarray(net.p_in.conn.todense().to_value(u.nA)).T
    np.testing.assert_allclose(g.nodes["p_in"].weight, w_in, rtol=1e-6)
    w_out = np.zeros((30, 6))
    w_out[:20] = np.asarray(net.p_out.conn.todense().to_value(u.nA))
    np.testing.assert_allclose(g.nodes["p_out"].weight, w_out.T, rtol=1e-6)
    np.testing.assert_allclose(g.nodes["p_out.delay"].delay, 5e-4, rtol=1e-6)
    # per-synapse delays 1, 2, 3 steps: one Linear per delay; the recurrent edge adds a
    # step, so the Delay nodes hold 0, 1 and 2 steps
    rec = sum(np.asarray(g.nodes[f"p_rec.{k}"].weight) for k in range(3))
    np.testing.assert_allclose(
        rec, np.asarray(net.p_rec.conn.todense().to_value(u.nA)).T, rtol=1e-6
    )
    assert "p_rec.0.delay" not in g.nodes
    np.testing.assert_allclose(g.nodes["p_rec.1.delay"].delay, 1e-4, rtol=1e-6)
    np.testing.assert_allclose(g.nodes["p_rec.2.delay"].delay, 2e-4, rtol=1e-6)
    assert g.metadata["neurodyn"]["method"] == "exact"
    assert float(g.metadata["neurodyn"]["dt"]) == pytest.approx(1e-4)


def test_the_loaded_graph_reproduces_every_spike_of_the_network(exported):
    _, path, xs, res = exported
    model = ndnir.load(path, dt=DT, method="exact")
    # the edges that close the two cycles carry the previous step
    assert set(model.recurrent) == {
        ("p_rec.0", "hid"),
        ("p_rec.1", "hid"),
        ("p_rec.2", "hid"),
        ("p_fb", "hid"),
    }
    hid = model.nodes["hid"]

    def step(x):
        out = model.step(x)
        return out["hid"], out["out"], hid.v.value

    h, o, v = nd.for_loop(nd.jit(step), jnp.asarray(xs))
    ref_h, ref_o = np.asarray(res["h"]), np.asarray(res["o"])
    assert ref_h.sum() > 500 and ref_o.sum() > 100  # measured 1056 and 192
    np.testing.assert_array_equal(np.asarray(h).astype(bool), ref_h)
    np.testing.assert_array_equal(np.asarray(o).astype(bool), ref_o)
    # float32 rounding only (measured 2.3e-5 mV)
    np.testing.assert_allclose(np.asarray(v), np.asarray(res["V"].to_value(u.mV)), atol=1e-3)
    # the loaded parameters are the network's, with units for times
    assert hid.tau_mem.value.unit == u.ms
    np.testing.assert_allclose(hid.tau_mem.value.to_value(u.ms), 10.0, rtol=1e-6)


def test_nir_to_neurodyn_to_nir_keeps_the_arrays(exported, tmp_path):
    _, path, _, _ = exported
    for source in (
        path,
        REF / "lif_norse.nir",
        REF / "braille_noDelay_noBias_subtract.nir",
        REF / "cnn_sinabs.nir",
    ):
        model = ndnir.load(source, dt=1e-4 * u.second, method="exact")
        ndnir.save(tmp_path / "again.nir", model)
        a, b = nir.read(source), nir.read(tmp_path / "again.nir")
        assert sorted(a.nodes) == sorted(b.nodes) and sorted(a.edges) == sorted(b.edges)
        for name, node in a.nodes.items():
            for key, value in vars(node).items():
                if isinstance(value, np.ndarray) and key not in ("input_type", "output_type"):
                    np.testing.assert_array_equal(getattr(b.nodes[name], key), value)


def test_a_trained_parameter_is_exported_with_its_new_value(tmp_path):
    model = ndnir.load(REF / "lif_norse.nir")
    model.nodes["1"].tau.value = model.nodes["1"].tau.value * 2
    model.nodes["0"].weight.value = model.nodes["0"].weight.value * 3
    ndnir.save(tmp_path / "trained.nir", model)
    g = nir.read(tmp_path / "trained.nir")
    np.testing.assert_allclose(g.nodes["1"].tau, [5e-3], rtol=1e-6)
    np.testing.assert_allclose(g.nodes["0"].weight, [[3.0]])
    assert g.nodes["1"].tau.dtype == np.float32


def test_loading_with_other_settings_than_the_export_warns(exported):
    _, path, _, _ = exported
    with pytest.warns(UserWarning, match=r"method='exact' \(loading with 'euler'\)"):
        ndnir.load(path, dt=DT, method="euler")


def test_a_failed_save_leaves_no_file_and_keeps_the_old_one(tmp_path, monkeypatch):
    target = tmp_path / "model.nir"
    target.write_bytes(b"old contents")
    model = ndnir.load(REF / "lif_norse.nir")

    def broken_write(path, graph, **kwargs):
        Path(path).write_bytes(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(nir, "write", broken_write)
    with pytest.raises(OSError, match="disk full"):
        ndnir.save(target, model)
    assert target.read_bytes() == b"old contents"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.nir"]


class _Small(nd.Network):
    def __init__(self, output=None, delay=None, tau2=5 * u.ms, **lif):
        self.inp = ArrayInput(3, steps=5)
        self.pop = LIF(4, **lif)
        w = np.ones((3, 4)) * (u.nS if isinstance(output, COBA) else u.pA)
        self.a = Projection(
            self.inp, self.pop, event.Dense(w), synapse=Expon(5 * u.ms), output=output or CUBA()
        )
        if delay is not None or tau2 is not None:
            self.b = Projection(
                self.pop,
                self.pop,
                event.Dense(np.ones((4, 4)) * u.pA),
                synapse=Expon(tau2),
                output=CUBA(),
                delay=delay,
            )


@pytest.mark.parametrize(
    ("net", "match"),
    [
        (lambda: _Small(output=COBA(), delay=DT), "COBA output; NIR's CubaLIF is current-based"),
        (lambda: _Small(delay=None), r"closes a cycle with no delay.*delay of at least dt"),
        (lambda: _Small(delay=DT, tau2=10 * u.ms), "different time constants"),
        (lambda: _Small(delay=DT, tau_ref=2 * u.ms), "tau_ref= .refractoriness."),
    ],
)
def test_networks_nir_cannot_express_are_refused_by_name(tmp_path, net, match):
    with pytest.raises(ValueError, match=match):
        ndnir.save(tmp_path / "x.nir", net(), dt=DT)
    assert not list(tmp_path.iterdir())


def test_other_export_errors(tmp_path):
    with pytest.raises(TypeError, match="needs dt="):
        ndnir.save(tmp_path / "x.nir", _Small(delay=DT))

    class NoInput(nd.Network):
        def __init__(self):
            self.pop = LIF(2)

    with pytest.raises(ValueError, match="no ArrayInput"):
        ndnir.save(tmp_path / "x.nir", NoInput(), dt=DT)

    class Exp(nd.Network):
        def __init__(self):
            self.inp = ArrayInput(2, steps=2)
            self.pop = nd.dyn.ExpIF(2)

    with pytest.raises(TypeError, match="is a ExpIF; NIR export supports LIF, IF and LI") as err:
        ndnir.save(tmp_path / "x.nir", Exp(), dt=DT)
    for what in ("Expon synapse (NIR's CubaLIF, CubaLI)", "Delta synapse (NIR's LIF, IF, LI)"):
        assert what in str(err.value)


class DeltaNet(nd.Network):
    """LIF populations driven through Delta synapses (a current for one step): NIR's LIF."""

    def __init__(self):
        rng = np.random.default_rng(7)
        self.inp = ArrayInput(10, steps=T)
        self.hid = LIF(
            12,
            tau=8 * u.ms,
            V_rest=-65 * u.mV,
            V_reset=-68 * u.mV,
            V_th=-55 * u.mV,
            R=80 * u.Mohm,
            I_ext=np.linspace(0, 100, 12) * u.pA,
            V_initializer=np.linspace(-66, -56, 12) * u.mV,
        )
        self.out = LIF(4, tau=12 * u.ms, V_th=-60 * u.mV, R=50 * u.Mohm)
        w_in = rng.uniform(0, 2000, (10, 12)) * u.pA
        self.p_in = Projection(
            self.inp, self.hid, event.Dense(w_in), synapse=Delta(), output=CUBA()
        )
        rec = event.FixedProb(0.3, seed=1).build(12, 12, weight=-500 * u.pA)
        # recurrent without a delay: the Delta current is already a step late
        self.p_rec = Projection(self.hid, self.hid, rec, synapse=Delta(), output=CUBA())
        w_out = rng.uniform(0, 3000, (12, 4)) * u.pA
        self.p_out = Projection(
            self.hid, self.out, event.Dense(w_out), synapse=Delta(), output=CUBA(), delay=0.3 * u.ms
        )


def test_delta_driven_lif_populations_export_as_nir_lif_with_every_spike(tmp_path):
    net = DeltaNet()
    path = ndnir.save(tmp_path / "delta.nir", net, dt=DT, outputs=["out"])
    g = nir.read(path)
    hid, out = g.nodes["hid"], g.nodes["out"]
    assert type(hid) is nir.LIF and type(out) is nir.LIF
    np.testing.assert_allclose(hid.tau, 8e-3, rtol=1e-6)
    np.testing.assert_allclose(hid.r, 80.0)
    np.testing.assert_allclose(hid.v_leak, -65 + 80 * np.linspace(0, 100, 12) * 1e-3, rtol=1e-6)
    np.testing.assert_allclose(hid.v_threshold, -55.0)
    np.testing.assert_allclose(hid.v_reset, -68.0)
    np.testing.assert_allclose(hid.metadata["neurodyn"]["v_initial"], np.linspace(-66, -56, 12))
    np.testing.assert_allclose(out.tau, 12e-3, rtol=1e-6)
    np.testing.assert_allclose(
        g.nodes["p_in"].weight, np.asarray(net.p_in.conn.todense().to_value(u.nA)).T, rtol=1e-6
    )
    np.testing.assert_allclose(
        g.nodes["p_rec"].weight, np.asarray(net.p_rec.conn.todense().to_value(u.nA)).T, rtol=1e-6
    )
    # the Delta current acts one step after the spike: one step of Delay more than the
    # projection's (the recurrent edge is that step for p_rec)
    np.testing.assert_allclose(g.nodes["p_in.delay"].delay, 1e-4, rtol=1e-6)
    np.testing.assert_allclose(g.nodes["p_out.delay"].delay, 4e-4, rtol=1e-6)
    assert "p_rec.delay" not in g.nodes

    xs = (np.random.default_rng(2).random((T, 10)) < 0.05).astype(np.float32)
    net.inp.feed(jnp.asarray(xs))
    res = nd.run(
        net, T * DT, dt=DT, monitors={"h": net.hid.spike, "o": net.out.spike, "V": net.hid.V}
    )
    model = ndnir.load(path, dt=DT, method="exact")
    node = model.nodes["hid"]

    def step(x):
        outs = model.step(x)
        return outs["hid"], outs["out"], node.v.value

    h, o, v = nd.for_loop(nd.jit(step), jnp.asarray(xs))
    assert np.asarray(res["h"]).sum() > 100 and np.asarray(res["o"]).sum() > 30  # 143, 64
    np.testing.assert_array_equal(np.asarray(h).astype(bool), np.asarray(res["h"]))
    np.testing.assert_array_equal(np.asarray(o).astype(bool), np.asarray(res["o"]))
    np.testing.assert_allclose(np.asarray(v), np.asarray(res["V"].to_value(u.mV)), atol=1e-3)


def test_a_population_with_expon_and_delta_inputs_is_refused(tmp_path):
    class Mixed(nd.Network):
        def __init__(self):
            self.inp = ArrayInput(2, steps=5)
            self.pop = LIF(3)
            w = event.Dense(np.ones((2, 3)) * u.pA)
            self.a = Projection(self.inp, self.pop, w, synapse=Expon(5 * u.ms), output=CUBA())
            self.b = Projection(self.inp, self.pop, w, synapse=Delta(), output=CUBA())

    with pytest.raises(ValueError, match=r"an Expon synapse \(a\) and a Delta synapse \(b\)"):
        ndnir.save(tmp_path / "x.nir", Mixed(), dt=DT)
    assert not list(tmp_path.iterdir())


def _graph_of_every_neuron():
    """Input -> Linear -> IF, LI, CubaLI, LIF and CubaLIF side by side (random parameters)."""
    rng = np.random.default_rng(11)
    n_in, n = 5, 4

    def pos(lo, hi):
        return rng.uniform(lo, hi, n).astype(np.float32)

    nodes = {
        "in": nir.Input(input_type=np.array([n_in])),
        "IF": nir.IF(r=pos(0.5, 2), v_threshold=pos(0.8, 1.5), v_reset=pos(-0.2, 0.0)),
        "LI": nir.LI(tau=pos(2e-3, 9e-3), r=pos(0.5, 2), v_leak=pos(-0.1, 0.1)),
        "CubaLI": nir.CubaLI(
            tau_syn=pos(2e-3, 5e-3),
            tau_mem=pos(5e-3, 9e-3),
            r=pos(0.5, 2),
            v_leak=pos(-0.1, 0.1),
            w_in=pos(0.5, 2),
        ),
        "LIF": nir.LIF(
            tau=pos(2e-3, 9e-3),
            r=pos(5, 20),
            v_leak=pos(-0.1, 0.1),
            v_threshold=pos(0.5, 1),
            v_reset=pos(-0.2, 0.0),
        ),
        "CubaLIF": nir.CubaLIF(
            tau_syn=pos(2e-3, 5e-3),
            tau_mem=pos(5e-3, 9e-3),
            r=pos(5, 20),
            v_leak=pos(-0.1, 0.1),
            v_threshold=pos(0.3, 0.6),
            v_reset=pos(-0.2, 0.0),
            w_in=pos(5, 20),
        ),
    }
    edges = []
    for kind in ("IF", "LI", "CubaLI", "LIF", "CubaLIF"):
        nodes[f"w_{kind}"] = nir.Linear(weight=rng.uniform(0, 1, (n, n_in)).astype(np.float32))
        nodes[f"out_{kind}"] = nir.Output(output_type=np.array([n]))
        edges += [("in", f"w_{kind}"), (f"w_{kind}", kind), (kind, f"out_{kind}")]
    return nir.NIRGraph(nodes=nodes, edges=edges)


@pytest.mark.parametrize("method", ["euler", "exact"])
def test_if_li_and_cuba_li_graphs_round_trip_with_every_parameter_and_output(tmp_path, method):
    """NIR's IF, LI and CubaLI from other tools load as a NIRNetwork; saving it keeps
    every parameter, and the saved graph runs to the same spikes and potentials (export
    of neurodyn's own IF and LI populations: test_nir_export_integrators.py)."""
    graph = _graph_of_every_neuron()
    xs = jnp.asarray((np.random.default_rng(3).random((300, 5)) < 0.3).astype(np.float32))
    first = ndnir.load(graph, dt=DT, method=method)
    path = ndnir.save(tmp_path / "all.nir", first)
    back = nir.read(path)  # NIR's type checks
    for name, node in graph.nodes.items():
        assert type(back.nodes[name]) is type(node)
        for key, value in vars(node).items():
            if isinstance(value, np.ndarray) and key not in ("input_type", "output_type"):
                np.testing.assert_array_equal(getattr(back.nodes[name], key), value)
    again = ndnir.load(path, dt=DT, method=method)
    a = nd.for_loop(nd.jit(ndnir.load(graph, dt=DT, method=method).step), xs)
    b = nd.for_loop(nd.jit(again.step), xs)
    for kind in ("IF", "LI", "CubaLI", "LIF", "CubaLIF"):
        np.testing.assert_array_equal(np.asarray(a[kind]), np.asarray(b[kind]))
    for kind in ("IF", "LIF", "CubaLIF"):  # spiking nodes that spike
        assert np.asarray(a[kind]).sum() > 10, kind
