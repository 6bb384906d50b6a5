"""Any network batches: ``net.init_state(batch_size=B)`` gives every State a leading
batch axis, and a batched run equals the loop of single runs (each batch element started
from its own initial voltages). The network has every synapse type, STP, STDP,
homogeneous and per-synapse delays, voltage jumps and recurrent spikes."""

import jax.numpy as jnp
import numpy as np
import pytest

import neurodyn as nd
import neurodyn.units as u
from neurodyn import event
from neurodyn.dyn import (
    AMPA,
    COBA,
    CUBA,
    LIF,
    NMDA,
    STDP,
    STP,
    Alpha,
    Delta,
    DualExpon,
    Expon,
    GABAa,
    MgBlock,
    Projection,
    SpikeTimeGroup,
    VoltageJump,
)

N_SRC, N_A, N_B, B = 20, 12, 8, 3
T_MS = 40.0


class Everything(nd.Network):
    def __init__(self):
        rng = np.random.default_rng(0)
        times = rng.uniform(0, 35, 60)
        self.src = SpikeTimeGroup(N_SRC, rng.integers(0, N_SRC, 60), times * u.ms)
        lif = dict(V_rest=-65 * u.mV, V_reset=-65 * u.mV, V_th=-55 * u.mV, tau_ref=2 * u.ms)
        self.A = LIF(N_A, I_ext=80 * u.pA, **lif)
        self.B = LIF(N_B, **lif)
        nS, pA, mV = u.nS, u.pA, u.mV
        p = lambda s: event.FixedProb(0.5, seed=s)  # noqa: E731
        self.p_expon = Projection(self.src, self.A, p(1), weight=2 * nS, synapse=Expon(5 * u.ms))
        self.p_alpha = Projection(self.src, self.A, p(2), weight=1 * nS, synapse=Alpha(2 * u.ms))
        self.p_dual = Projection(
            self.src,
            self.A,
            p(3),
            weight=20 * pA,
            synapse=DualExpon(1 * u.ms, 5 * u.ms),
            output=CUBA(),
        )
        self.p_nmda = Projection(
            self.src, self.A, p(4), weight=0.5 * nS, synapse=NMDA(), output=MgBlock()
        )
        self.p_ampa = Projection(self.src, self.A, p(5), weight=1 * nS, synapse=AMPA())
        self.p_gaba = Projection(
            self.src, self.A, p(6), weight=1 * nS, synapse=GABAa(), output=COBA(-80 * mV)
        )
        self.p_delta = Projection(
            self.src, self.A, p(7), weight=30 * pA, synapse=Delta(), output=CUBA(), delay=1 * u.ms
        )
        self.p_stp = Projection(
            self.src, self.A, p(8), weight=3 * nS, stp=STP(U=0.3, tau_d=50 * u.ms)
        )
        w = event.FixedProb(0.5, seed=9).build(N_A, N_B, weight=lambda r, n: 3.0 * np.ones(n) * nS)
        self.p_stdp = Projection(
            self.A,
            self.B,
            w,
            synapse=Expon(5 * u.ms),
            stdp=STDP(A_plus=0.5 * nS, A_minus=0.5 * nS, w_max=6 * nS),
        )
        csr = event.FixedProb(0.5, seed=10).build(N_A, N_B, weight=2 * mV)
        delays = jnp.asarray(rng.integers(0, 30, csr.nnz) * 0.1) * u.ms
        self.p_jump = Projection(self.A, self.B, csr, output=VoltageJump(), delay=delays)
        self.p_jump_homo = Projection(
            self.src, self.B, p(11), weight=1 * mV, output=VoltageJump(), delay=0.5 * u.ms
        )


def _start(net, vA, vB):
    net.A.V.value = vA * u.mV
    net.B.V.value = vB * u.mV


def _record(net):
    mons = {
        "A": net.A.V,
        "B": net.B.V,
        "sA": net.A.spike,
        "w": net.p_stdp.stdp.weights,
        "ampa": net.p_ampa.synapse.g,
    }
    res = nd.run(net, T_MS * u.ms, dt=0.1 * u.ms, monitors=mons)
    return {k: np.asarray(u.get_mantissa(v)) for k, v in res.data.items()}


@pytest.mark.slow  # (~10-18 s: make test-slow)
def test_batched_run_equals_the_loop_of_single_runs():
    rng = np.random.default_rng(1)
    vA = rng.uniform(-66, -56, (B, N_A))
    vB = rng.uniform(-66, -56, (B, N_B))
    net = Everything()
    net.init_state(batch_size=B)
    _start(net, vA, vB)
    batched = _record(net)
    assert batched["A"].shape == (400, B, N_A) and batched["w"].shape[1] == B
    assert batched["sA"].sum() > 10  # recurrent spikes happen
    for b in range(B):
        single_net = Everything()
        _start(single_net, vA[b], vB[b])
        single = _record(single_net)
        for key, value in single.items():
            np.testing.assert_allclose(batched[key][:, b], value, rtol=2e-5, atol=1e-5, err_msg=key)
    # the batch elements differ (so the comparison is not between copies)
    assert np.abs(batched["A"][:, 0] - batched["A"][:, 1]).max() > 1.0


def test_reset_state_restores_a_batched_network():
    net = Everything()
    net.init_state(batch_size=2)
    first = _record(net)
    net.reset_state()  # keeps the batch size; time starts again at 0
    again = _record(net)
    for key in first:
        np.testing.assert_allclose(first[key], again[key], rtol=1e-6, err_msg=key)


def test_random_inputs_batch_with_independent_draws():
    from neurodyn.dyn import GapJunction, OUProcess, PoissonGroup, PoissonInput

    class Noisy(nd.Network):
        def __init__(self):
            self.src = PoissonGroup(30, 50 * u.Hz)
            self.pop = LIF(10, V_th=-55 * u.mV, noise=0.5 * u.mV / u.ms**0.5)
            self.ou = OUProcess(10, mean=50 * u.pA, sigma=20 * u.pA, tau=5 * u.ms)
            self.proj = Projection(
                self.src, self.pop, event.FixedProb(0.3, seed=1), weight=1 * u.nS
            )
            self.drive = PoissonInput(self.pop, 50, 10 * u.Hz, 0.5 * u.mV, output=VoltageJump())
            self.gap = GapJunction(self.pop, event.FixedProb(0.2, seed=2), weight=0.1 * u.nS)

        def update(self):  # the OU current drives the population
            self.ou.update()
            self.src.update()
            self.pop.integrate_and_fire(self.ou.x.value)
            self.proj.deliver()
            self.drive.deliver()
            self.pop.reset()

    net = Noisy()
    net.init_state(batch_size=4)
    res = nd.run(net, 20 * u.ms, dt=0.1 * u.ms, monitors={"V": net.pop.V, "x": net.ou.x})
    v = np.asarray(res["V"].to_value(u.mV))
    x = np.asarray(res["x"].to_value(u.pA))
    assert v.shape == (200, 4, 10) and x.shape == (200, 4, 10)
    # every batch element draws its own noise, spikes and inputs
    assert np.all(np.abs(v[-1, 0] - v[-1, 1]) > 0)
    assert np.all(np.abs(x[-1, 2] - x[-1, 3]) > 0)
