"""The defining equivalences of ES-D-RTRL and e-prop.

- ES-D-RTRL factorises a weight's D-RTRL trace e[i, j] into a presynaptic trace
  (decay lam) times a postsynaptic one. When every neuron's Jacobian is lam * I and
  dh/dy is constant (LIF with a detached soft reset and no adaptation), the
  factorisation is exact: ES-D-RTRL == D-RTRL.
- e-prop (Bellec et al. 2020) with symmetric feedback equals BPTT for a network without
  recurrent weights whose loss reaches the hidden neurons through a leaky readout
  (the eligibility traces filtered with the readout's kappa); D-RTRL, which does not
  filter them, does not. Readout weights always get their exact gradient.
"""

import jax.numpy as jnp
import pytest


def _data(rng, T=30, batch=4):
    xs = jnp.asarray(rng.normal(size=(T, batch, 3)))
    ys = jnp.asarray(rng.normal(size=(T, batch, 2)))
    return xs, ys


@pytest.mark.slow  # (about 10 s; make test-slow)
def test_es_d_rtrl_equals_d_rtrl_for_linear_postsynaptic_dynamics(nets):
    m = nets.ALIF(rec=True, beta=0.0, batch=4)  # LIF: v' = alpha v + (1-alpha) I - sg(z)
    xs, ys = _data(nets.rng)
    diag = nets.online(m, xs, ys, "d_rtrl")
    auto = nets.online(m, xs, ys, "es_d_rtrl")  # decay taken from the Jacobian: alpha
    for k in ("w_in", "w_rec"):
        assert nets.rel_err(auto[k], diag[k]) < 1e-10, k
    wrong = nets.online(m, xs, ys, "es_d_rtrl", decay=0.5)
    assert nets.rel_err(wrong["w_in"], diag["w_in"]) > 1e-2


def test_es_d_rtrl_is_an_approximation_with_adaptation(nets):
    m = nets.ALIF(rec=False, beta=0.5, batch=4)  # the adaptation makes J time-varying
    xs, ys = _data(nets.rng)
    diag = nets.online(m, xs, ys, "d_rtrl")
    es = nets.online(m, xs, ys, "es_d_rtrl", decay=m.alpha)
    assert nets.rel_err(es["w_in"], diag["w_in"]) > 1e-3
    assert nets.rel_err(es["w_out"], diag["w_out"]) < 1e-10  # the readout stays exact
    cos = jnp.sum(es["w_in"] * diag["w_in"]) / (
        jnp.linalg.norm(es["w_in"]) * jnp.linalg.norm(diag["w_in"])
    )
    assert cos > 0.9


def test_eprop_with_leaky_readout_equals_bptt_without_recurrence(nets):
    m = nets.ALIF(rec=False, kappa=0.8, batch=4)
    xs, ys = _data(nets.rng)
    ref = nets.bptt(m, xs, ys)
    ep = nets.online(m, xs, ys, "eprop")  # kappa read from the readout State: 0.8
    for k in ref:
        assert nets.rel_err(ep[k], ref[k]) < 1e-10, k
    diag = nets.online(m, xs, ys, "d_rtrl")  # no filtering: the readout's memory is lost
    assert nets.rel_err(diag["w_in"], ref["w_in"]) > 1e-2
    assert nets.rel_err(diag["w_out"], ref["w_out"]) < 1e-10


@pytest.mark.slow
def test_eprop_stateless_readout_equals_bptt_and_d_rtrl(nets):
    m = nets.ALIF(rec=False, batch=4)
    xs, ys = _data(nets.rng)
    ref = nets.bptt(m, xs, ys)
    ep = nets.online(m, xs, ys, "eprop")
    explicit = nets.online(m, xs, ys, "eprop", kappa=0.0, readout=["w_out", "b_out"])
    for k in ref:
        assert nets.rel_err(ep[k], ref[k]) < 1e-10, k
        assert nets.rel_err(explicit[k], ref[k]) < 1e-10, k


@pytest.mark.slow
def test_eprop_random_feedback_and_recurrence(nets):
    m = nets.ALIF(rec=True, kappa=0.8, batch=4)
    xs, ys = _data(nets.rng)
    ref = nets.bptt(m, xs, ys)
    sym = nets.online(m, xs, ys, "eprop")
    rnd = nets.online(m, xs, ys, "eprop", feedback="random", seed=3)
    for g in (sym, rnd):  # the readout is exact whatever the feedback
        assert nets.rel_err(g["w_out"], ref["w_out"]) < 1e-10
        assert nets.rel_err(g["b_out"], ref["b_out"]) < 1e-10
    # with recurrence symmetric e-prop is an approximation, random feedback a worse one
    assert 1e-3 < nets.rel_err(sym["w_rec"], ref["w_rec"]) < 0.5
    assert nets.rel_err(rnd["w_in"], ref["w_in"]) > nets.rel_err(sym["w_in"], ref["w_in"])
    same = nets.online(m, xs, ys, "eprop", kappa=0.8)
    assert nets.rel_err(same["w_in"], sym["w_in"]) < 1e-12


@pytest.mark.slow
def test_shared_scalar_parameter_broadcast_traces(nets):
    # a time constant shared by all neurons reaches every neuron: a trace per neuron
    import neurodyn as nd

    class Shared(nets.Rate):
        def __init__(self):
            super().__init__()
            self.tau = nd.Param(jnp.asarray(3.0))
            self.y = nd.Hidden(jnp.zeros(2))

        def update(self, x):
            self.y.value = 0.7 * self.y.value + super().update(x)
            return self.y.value

    m = Shared()
    xs = jnp.asarray(nets.rng.normal(size=(12, 3)))
    ys = jnp.asarray(nets.rng.normal(size=(12, 2)))
    plan = nd.online.prepare(m, xs, "d_rtrl")
    assert [tr.mode for tr in plan.traces if plan.theta_names[tr.leaf] == "tau"] == ["broadcast"]
    ref = nets.bptt(m, xs, ys)
    ep = nets.online(m, xs, ys, "eprop")  # feed-forward, leaky readout: exact
    for k in ref:
        assert nets.rel_err(ep[k], ref[k]) < 1e-10, k


def test_accumulate_outer_tiles_without_a_weight_sized_temporary():
    import jax
    import numpy as np

    from neurodyn.online._rules import accumulate_outer

    r = np.random.default_rng(0)
    g = jnp.asarray(r.normal(size=(64, 48)))
    pairs = [(jnp.asarray(r.normal(size=(5, 64))), jnp.asarray(r.normal(size=(5, 48))))
             for _ in range(2)]  # fmt: skip
    ref = g + sum(a.T @ b for a, b in pairs)
    for tile in (48, 100, 10**6):  # 1-row and 2-row blocks, and one product
        got = jax.jit(lambda g, p, tile=tile: accumulate_outer(g, p, tile))(g, pairs)
        assert jnp.allclose(got, ref, rtol=1e-12, atol=1e-12)


def test_steps_without_loss_are_skipped_exactly(nets):
    # a loss on a few steps only (a decision window, a gap, the last two steps): the rules
    # skip the reverse pass where the loss has a zero gradient and keep the ES weights'
    # last immediate term pending; feed-forward LIF: D-RTRL and ES-D-RTRL equal BPTT
    m = nets.ALIF(rec=False, beta=0.0, batch=4)
    xs, ys = _data(nets.rng, T=20)
    mask = jnp.zeros(20).at[jnp.asarray([5, 6, 11, 18, 19])].set(1.0)

    def loss(o, target):
        y, k = target
        return k * jnp.sum((o - y) ** 2)

    ref = nets.bptt(m, xs, (ys, mask), loss=loss)
    assert float(jnp.abs(ref["w_in"]).max()) > 1e-3
    for algorithm in ("d_rtrl", "es_d_rtrl"):
        got = nets.online(m, xs, (ys, mask), algorithm, loss=loss)
        for k in ref:
            assert nets.rel_err(got[k], ref[k]) < 1e-10, (algorithm, k)
