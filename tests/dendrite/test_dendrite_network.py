"""Detailed cells in networks: a population of cells (``n_cells``) equals the same cells
run one at a time, and cells and point neurons exchange spikes through Projections with
delays in one ``nd.run`` (checked against a numpy recurrence of the LIF side)."""

import jax
import numpy as np
import pytest

import neurodyn as nd
import neurodyn.units as u
from neurodyn import dendrite as D
from neurodyn import event

DT = 0.025
S_CM2 = u.S / u.cm**2


def _cell(n_cells=None, amp=0.0):
    m = D.Morphology.ball_and_stick(20 * u.um, 200 * u.um, 2 * u.um)
    c = D.Cell(m, ncomp=3, Ra=100 * u.ohm * u.cm, n_cells=n_cells)
    c.paint("soma", D.HH())
    c.paint("dendrites", D.Leak(g=1e-4 * S_CM2, E=-65 * u.mV))
    c.place(c.location("soma", 0.5), D.IClamp(2 * u.ms, 20 * u.ms, amp * u.nA))
    return c


class _Net(nd.Network):
    """Generators -> AMPA on the dendrite of ``n`` cells (one generator per cell)."""

    def __init__(self, times, amps, n_cells):
        self.cells = c = _cell(n_cells, amps)
        self.dend = c.location("dend[0]", 0.5)
        self.soma = c.location("soma", 0.5)
        self.site = c.place(self.dend, D.AMPA(tau1=0.3 * u.ms, tau2=3 * u.ms))
        self.source = c.detect_spikes(self.soma)
        n = 1 if n_cells is None else n_cells
        idx = [i for i, ts in enumerate(times) for _ in ts]
        ts = [t for tt in times for t in tt]
        self.gen = nd.dyn.SpikeTimeGroup(n, idx, np.asarray(ts) * u.ms)
        self.proj = nd.dyn.Projection(
            self.gen,
            self.site,
            event.CSR.from_dense(np.eye(n) * 8.0 * u.nS),
            delay=0.5 * u.ms,
        )


@pytest.mark.slow  # ~7 s: four compiled runs
def test_a_population_of_cells_equals_single_cells():
    times = [[3.0, 3.5, 4.0, 4.5], [], [10.0, 10.25, 10.5, 10.75, 11.0]]
    amps = [0.0, 0.25, 0.0]
    with jax.enable_x64(True):
        pop = _Net(times, np.array(amps), 3)
        mons = {"v": pop.cells.V_at(pop.soma), "d": pop.cells.V_at(pop.dend)}
        mons["s"] = pop.source.spike
        res = nd.run(pop, 20 * u.ms, dt=DT * u.ms, monitors=mons)
        v_pop = np.asarray(res["v"].to_value(u.mV))
        d_pop = np.asarray(res["d"].to_value(u.mV))
        s_pop = np.asarray(res["s"])
        singles = []
        for k in range(3):
            one = _Net([times[k]], amps[k], None)
            r = nd.run(one, 20 * u.ms, dt=DT * u.ms, monitors={"v": one.cells.V_at(one.soma)})
            singles.append(np.asarray(r["v"].to_value(u.mV)))
    assert v_pop.shape == (800, 3) and d_pop.shape == (800, 3) and s_pop.shape == (800, 3)
    np.testing.assert_allclose(v_pop, np.stack(singles, 1), atol=1e-10, rtol=0)
    # the synaptic bursts fire cells 0 and 2, the clamp cell 1
    assert np.all(s_pop.sum(0) >= 1)
    assert np.abs(d_pop[:, 1] - d_pop[:, 0]).max() > 1.0  # the cells differ


@pytest.mark.slow  # ~5-10 s: three kinds of populations compiled in one network
def test_cells_and_point_neurons_exchange_spikes_with_delays():
    # LIF -> cells (ExpSyn) -> LIF (VoltageJump, 1.25 ms): the LIF side is a recurrence
    J, tau, delay_steps = 0.5, 10.0, 50

    class Net(nd.Network):
        def __init__(self):
            self.drive = nd.dyn.LIF(
                4, tau=5 * u.ms, V_rest=-60 * u.mV, V_th=-50 * u.mV, V_reset=-60 * u.mV,
                I_ext=2.5 * u.nA, R=10 * u.Mohm,
            )  # fmt: skip
            self.cells = c = _cell(2)
            self.site = c.place(c.location("dend[0]", 0.5), D.ExpSyn(tau=2 * u.ms))
            self.source = c.detect_spikes(c.location("soma", 0.5))
            self.readout = nd.dyn.LIF(1, tau=tau * u.ms, V_rest=0 * u.mV, V_reset=0 * u.mV,
                                      V_th=1e6 * u.mV)  # fmt: skip
            self.p_in = nd.dyn.Projection(
                self.drive, self.site, event.FixedProb(1.0), weight=6 * u.nS, delay=1 * u.ms
            )
            # a cell of another morphology, passive, excited by the first cells
            tree = D.Morphology.binary_tree(3, 100 * u.um, 2 * u.um, soma_diam=15 * u.um)
            self.tree = D.Cell(tree, ncomp=2, warn_d_lambda=False)
            self.tree.paint("all", D.Leak(g=1e-4 * S_CM2, E=-65 * u.mV))
            self.tree_soma = self.tree.location("soma", 0.5)
            tip = self.tree.location(self.tree.morphology.n_branches - 1, 0.5)
            self.p_tree = nd.dyn.Projection(
                self.source,
                self.tree.place(tip, D.Exp2Syn(tau1=1 * u.ms, tau2=5 * u.ms)),
                event.FixedProb(1.0),
                weight=1 * u.nS,
                delay=delay_steps * DT * u.ms,
            )
            self.p_out = nd.dyn.Projection(
                self.source,
                self.readout,
                event.FixedProb(1.0),
                weight=J * u.mV,
                output=nd.dyn.VoltageJump(),
                delay=delay_steps * DT * u.ms,
            )

    net = Net()
    mons = {"cell": net.source.spike, "drive": net.drive.spike, "V": net.readout.V}
    mons["tree"] = net.tree.V_at(net.tree_soma)
    res = nd.run(net, 60 * u.ms, dt=DT * u.ms, monitors=mons)
    cell = np.asarray(res["cell"]).sum(1)  # spikes per step, both cells
    assert np.asarray(res["drive"]).sum() > 10 and cell.sum() >= 4
    arriving = np.concatenate([np.zeros(delay_steps), cell[:-delay_steps]])
    v, ref = 0.0, []
    for a in arriving:
        v = v * np.exp(-DT / tau) + J * a
        ref.append(v)
    np.testing.assert_allclose(np.asarray(res["V"].to_value(u.mV))[:, 0], ref, atol=1e-4)
    # the tree rests until the first spike's Exp2Syn conductance rises (the step after
    # the arrival: Exp2Syn's g is 0 in the arrival step, as NEURON's)
    first = int(np.flatnonzero(cell)[0]) + delay_steps
    tree = np.asarray(res["tree"].to_value(u.mV))
    assert np.all(tree[: first + 2] == -65.0) and tree[first + 2] > -65.0 + 1e-6


def test_spike_sources_and_sites_name_their_shapes():
    c = _cell(5)
    site = c.place(c.location("dend[0]", 0.5), D.NMDA())
    src = c.detect_spikes(c.location("soma", 0.5))
    assert site.num == 5 and src.num == 5 and int(src) == 0
    assert c.V.value.shape == (5, c.geometry.n_nodes)
    assert "NMDA" in repr(site) and "spikes@soma[0](0.5)" in repr(src)
    with pytest.raises(ValueError, match="n_cells must be an int >= 1"):
        _cell(0)


def test_per_cell_parameters_of_a_population():
    # g_Na per cell (shape (n_cells, 1)) and a clamp amplitude per cell: only the cell
    # with sodium and current fires
    m = D.Morphology.ball_and_stick(20 * u.um, 200 * u.um, 2 * u.um)
    c = D.Cell(m, ncomp=3, Ra=100 * u.ohm * u.cm, n_cells=3, warn_d_lambda=False)
    c.paint("soma", D.HH(g_Na=np.array([[0.12], [0.0], [0.12]]) * S_CM2))
    c.paint("dendrites", D.Leak(g=1e-4 * S_CM2, E=-65 * u.mV))
    soma = c.location("soma", 0.5)
    c.place(soma, D.IClamp(1 * u.ms, 8 * u.ms, np.array([0.3, 0.3, 0.0]) * u.nA))
    src = c.detect_spikes(soma)
    res = nd.run(c, 10 * u.ms, dt=DT * u.ms,
                 monitors={"s": src.spike, "m": c.state_at(soma, "hh", "m")})  # fmt: skip
    assert np.asarray(res["s"]).sum(0).tolist() == [1, 0, 0]
    assert np.asarray(res["m"]).shape == (400, 3)
