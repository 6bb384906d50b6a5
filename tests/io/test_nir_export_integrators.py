"""neurodyn -> NIR -> neurodyn for IF and LI populations: an IF driven through Delta
synapses is NIR's IF, an LI NIR's LI (Delta) or CubaLI (Expon). The file passes NIR's
type checks and holds every parameter; the loaded graph reproduces every spike and
every potential of ``nd.run`` of the original network. Networks NIR cannot express are
refused by name."""

import jax.numpy as jnp
import numpy as np
import pytest

import neurodyn as nd
import neurodyn.units as u
from neurodyn import event
from neurodyn.dyn import CUBA, IF, LI, ArrayInput, Delta, Expon, Projection

nir = pytest.importorskip("nir")
from neurodyn.io import nir as ndnir  # noqa: E402

DT = 0.1 * u.ms
T = 400
N_IN, N_HID, N_OUT, N_MON = 10, 12, 4, 3


class IntegratorNet(nd.Network):
    """Input -> IF (Delta, recurrent inhibition) -> LI readouts: one through an Expon
    synapse with a delay (NIR's CubaLI), one through a Delta synapse (NIR's LI)."""

    def __init__(self):
        rng = np.random.default_rng(5)
        self.inp = ArrayInput(N_IN, steps=T)
        self.hid = IF(
            N_HID,
            C=np.linspace(40, 80, N_HID) * u.pF,
            V_rest=-65 * u.mV,
            V_reset=-68 * u.mV,
            V_th=-55 * u.mV,
            V_initializer=np.linspace(-66, -56, N_HID) * u.mV,
        )
        self.out = LI(
            N_OUT,
            tau=12 * u.ms,
            R=np.array([40, 50, 60, 70]) * u.Mohm,
            V_rest=-60 * u.mV,
            I_ext=np.array([0, 20, 40, 60]) * u.pA,
            V_initializer=np.array([-61, -60, -59, -58]) * u.mV,
        )
        self.mon = LI(N_MON, tau=5 * u.ms, R=30 * u.Mohm, V_rest=-70 * u.mV)
        w_in = rng.uniform(0, 2000, (N_IN, N_HID)) * u.pA
        self.p_in = Projection(
            self.inp, self.hid, event.Dense(w_in), synapse=Delta(), output=CUBA()
        )
        rec = event.FixedProb(0.3, seed=2).build(N_HID, N_HID, weight=-500 * u.pA)
        self.p_rec = Projection(self.hid, self.hid, rec, synapse=Delta(), output=CUBA())
        self.p_out = Projection(
            self.hid,
            self.out,
            event.Dense(rng.uniform(-50, 150, (N_HID, N_OUT)) * u.pA),
            synapse=Expon(4 * u.ms, g_initializer=np.array([10, 0, -10, 5]) * u.pA),
            output=CUBA(),
            delay=0.3 * u.ms,
        )
        self.p_mon = Projection(
            self.hid,
            self.mon,
            event.FixedProb(0.5, seed=3),
            weight=300 * u.pA,
            synapse=Delta(),
            output=CUBA(),
        )


def _inputs():
    return (np.random.default_rng(2).random((T, N_IN)) < 0.05).astype(np.float32)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    net = IntegratorNet()
    path = ndnir.save(tmp_path_factory.mktemp("nir") / "int.nir", net, dt=DT)
    xs = _inputs()
    net.inp.feed(jnp.asarray(xs))
    mons = {"h": net.hid.spike, "Vh": net.hid.V, "Vo": net.out.V, "Vm": net.mon.V}
    res = nd.run(net, T * DT, dt=DT, monitors=mons)
    return IntegratorNet(), path, xs, res


def test_if_and_li_populations_become_nir_if_li_and_cuba_li_with_every_parameter(exported):
    net, path, _, _ = exported
    g = nir.read(path)  # NIR's type checks
    hid, out, mon = g.nodes["hid"], g.nodes["out"], g.nodes["mon"]
    assert type(hid) is nir.IF and type(out) is nir.CubaLI and type(mon) is nir.LI
    # the loose readouts are the Output nodes
    assert {("out", "output.out"), ("mon", "output.mon")} <= set(g.edges)
    # IF: r = dt / C (mV per nA: NIR platforms add r x once per step)
    c_pf = np.linspace(40, 80, N_HID)
    np.testing.assert_allclose(hid.r, 0.1 / c_pf * 1e3, rtol=1e-6)
    np.testing.assert_allclose(hid.v_threshold, -55.0)
    np.testing.assert_allclose(hid.v_reset, -68.0)
    meta = hid.metadata["neurodyn"]
    assert meta["model"] == "IF"
    np.testing.assert_allclose(meta["C"], c_pf, rtol=1e-6)
    np.testing.assert_allclose(meta["V_rest"], -65.0)
    np.testing.assert_allclose(meta["v_initial"], np.linspace(-66, -56, N_HID), rtol=1e-6)
    # CubaLI: v_leak = V_rest + R I_ext; w_in makes a spike of weight w add w to I
    np.testing.assert_allclose(out.tau_mem, 12e-3, rtol=1e-6)
    np.testing.assert_allclose(out.tau_syn, 4e-3, rtol=1e-6)
    np.testing.assert_allclose(out.r, [40, 50, 60, 70])
    np.testing.assert_allclose(out.v_leak, -60 + np.array([40, 50, 60, 70]) * [0, 0.02, 0.04, 0.06])
    np.testing.assert_allclose(out.w_in, 1 / -np.expm1(-0.1 / 4), rtol=1e-6)
    meta = out.metadata["neurodyn"]
    assert meta["model"] == "LI"
    np.testing.assert_allclose(meta["V_rest"], -60.0)
    np.testing.assert_allclose(meta["I_ext"], [0, 0.02, 0.04, 0.06], rtol=1e-6)
    np.testing.assert_allclose(meta["i_initial"], [0.01, 0, -0.01, 0.005], rtol=1e-6)
    np.testing.assert_allclose(meta["v_initial"], [-61, -60, -59, -58])
    # LI: tau, r, v_leak
    np.testing.assert_allclose(mon.tau, 5e-3, rtol=1e-6)
    np.testing.assert_allclose(mon.r, 30.0)
    np.testing.assert_allclose(mon.v_leak, -70.0)
    # weights in nA in NIR's (out, in) layout; Delta adds a step of delay
    for name in ("p_in", "p_rec", "p_out", "p_mon"):
        dense = np.asarray(getattr(net, name).conn.todense().to_value(u.nA)).T
        np.testing.assert_allclose(g.nodes[name].weight, dense, rtol=1e-6)
    np.testing.assert_allclose(g.nodes["p_in.delay"].delay, 1e-4, rtol=1e-6)
    np.testing.assert_allclose(g.nodes["p_out.delay"].delay, 3e-4, rtol=1e-6)
    np.testing.assert_allclose(g.nodes["p_mon.delay"].delay, 1e-4, rtol=1e-6)
    assert "p_rec.delay" not in g.nodes  # the recurrent edge is the Delta's step
    assert g.metadata["neurodyn"]["method"] == "exact"


def test_the_loaded_graph_reproduces_every_spike_and_potential(exported):
    _, path, xs, res = exported
    model = ndnir.load(path, dt=DT, method="exact")
    assert set(model.recurrent) == {("p_rec", "hid")}
    hid = model.nodes["hid"]

    def step(x):
        out = model.step(x)
        return out["hid"], hid.v.value, out["out"], out["mon"]

    h, vh, vo, vm = nd.for_loop(nd.jit(step), jnp.asarray(xs))
    ref_h = np.asarray(res["h"])
    assert 100 < ref_h.sum() < 0.5 * ref_h.size  # measured 223 of 4800
    np.testing.assert_array_equal(np.asarray(h).astype(bool), ref_h)
    # float32 rounding only
    for got, ref in ((vh, "Vh"), (vo, "Vo"), (vm, "Vm")):
        np.testing.assert_allclose(np.asarray(got), np.asarray(res[ref].to_value(u.mV)), atol=1e-3)
    # the readouts moved: they are driven by the IF's spikes
    assert np.ptp(np.asarray(vo)) > 1.0 and np.ptp(np.asarray(vm)) > 1.0


def test_the_loaded_graph_saves_back_to_the_same_arrays(exported, tmp_path):
    _, path, _, _ = exported
    again = ndnir.save(tmp_path / "again.nir", ndnir.load(path, dt=DT, method="exact"))
    a, b = nir.read(path), nir.read(again)
    assert sorted(a.nodes) == sorted(b.nodes) and sorted(a.edges) == sorted(b.edges)
    for name, node in a.nodes.items():
        assert type(b.nodes[name]) is type(node)
        for key, value in vars(node).items():
            if isinstance(value, np.ndarray) and key not in ("input_type", "output_type"):
                np.testing.assert_array_equal(getattr(b.nodes[name], key), value)


def test_an_euler_li_exports_for_the_euler_loader(tmp_path):
    """A network integrated with forward Euler is marked so; load(method="euler")
    reproduces its LI trace (Delta synapses: neurodyn's Expon synapse always decays
    exactly, NIR's Euler CubaLI does not)."""

    class Net(nd.Network):
        def __init__(self):
            self.inp = ArrayInput(3, steps=100)
            self.li = LI(2, tau=2 * u.ms, R=20 * u.Mohm, method="euler")
            w = event.Dense(np.array([[1000, 0], [500, 800], [0, 3000]]) * u.pA)
            self.p = Projection(self.inp, self.li, w, synapse=Delta(), output=CUBA())

    net = Net()
    path = ndnir.save(tmp_path / "euler.nir", net, dt=DT)
    assert nir.read(path).metadata["neurodyn"]["method"] == "euler"
    xs = (np.random.default_rng(0).random((100, 3)) < 0.2).astype(np.float32)
    net.inp.feed(jnp.asarray(xs))
    res = nd.run(net, 100 * DT, dt=DT, monitors={"V": net.li.V})
    model = ndnir.load(path, dt=DT, method="euler")
    v = np.asarray(nd.for_loop(nd.jit(model.update), jnp.asarray(xs)))
    assert np.ptp(v) > 1.0
    np.testing.assert_allclose(v, np.asarray(res["V"].to_value(u.mV)), atol=1e-4)


def _net(pop, synapse, **proj):
    class Net(nd.Network):
        def __init__(self):
            self.inp = ArrayInput(2, steps=5)
            self.pop = pop()
            w = event.Dense(np.ones((2, pop().num)) * u.pA)
            self.p = Projection(self.inp, self.pop, w, synapse=synapse, output=CUBA(), **proj)

    return Net()


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (
            lambda: _net(lambda: IF(3), Expon(5 * u.ms)),
            r"IF population pop is driven through an Expon synapse \(p\); NIR has no "
            r"current-based IF.*synapse=Delta\(\)",
        ),
        (
            lambda: _net(lambda: IF(3, I_ext=[0, 5, 0] * u.pA), Delta()),
            r"pop is an IF with I_ext = 5 pA; NIR's IF .* has no bias current",
        ),
        (
            lambda: _net(lambda: IF(3, tau_ref=1 * u.ms), Delta()),
            r"tau_ref= \(refractoriness\), which NIR's IF does not have",
        ),
        (
            lambda: _net(lambda: LI(3, noise=0.1 * u.mV / u.ms**0.5), Delta()),
            r"noise= \(noise\), which NIR's LI does not have",
        ),
    ],
)
def test_integrator_networks_nir_cannot_express_are_refused_by_name(tmp_path, make, match):
    with pytest.raises(ValueError, match=match):
        ndnir.save(tmp_path / "x.nir", make(), dt=DT)
    assert not list(tmp_path.iterdir())
