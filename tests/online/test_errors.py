"""What the rules refuse, and how they say it (no compilation needed: plans only)."""

import jax
import jax.numpy as jnp
import pytest

import neurodyn as nd
from neurodyn.online import OnlineError, prepare


class TwoWeights(nd.Module):
    """x @ W1 @ W2 feeds the neurons: W1 reaches them only through W2."""

    def __init__(self):
        self.w1 = nd.Param(jnp.ones((3, 4)) * 0.1)
        self.w2 = nd.Param(jnp.ones((4, 4)) * 0.1)
        self.h = nd.Hidden(jnp.zeros(4))

    def update(self, x):
        self.h.value = 0.9 * self.h.value + (x @ self.w1.value) @ self.w2.value
        return self.h.value


class MeanField(nd.Module):
    """Each neuron feels the population mean of h (a coupling without a weight)."""

    def __init__(self):
        self.w = nd.Param(jnp.ones((3, 4)) * 0.1)
        self.h = nd.Hidden(jnp.zeros(4))

    def update(self, x):
        h = self.h.value
        self.h.value = 0.9 * h - 0.1 * jnp.mean(h) + jnp.tanh(x @ self.w.value)
        return self.h.value


class WhileWeight(nd.Module):
    """The recurrent weight is applied inside a data-dependent loop."""

    def __init__(self):
        self.w = nd.Param(jnp.ones((4, 4)) * 0.1)
        self.h = nd.Hidden(jnp.zeros(4))

    def update(self, x):
        def body(c):
            k, v = c
            return k + 1, jnp.tanh(v @ self.w.value)

        h = self.h.value
        _, v = jax.lax.while_loop(lambda c: jnp.sum(c[1]) < 3.0 + c[0], body, (0, h + x))
        self.h.value = 0.9 * h + v
        return self.h.value


XS = jnp.ones((4, 3))


def test_weight_reaching_neurons_only_through_another_weight_is_refused():
    with pytest.raises(OnlineError, match=r"w1 reaches the hidden States only through another"):
        prepare(TwoWeights(), XS, "d_rtrl")
    prepare(TwoWeights(), XS, "rtrl")  # the exact rule has no such restriction


def test_coupling_without_a_weight_is_refused():
    with pytest.raises(OnlineError, match=r"hidden State h depends on h through `reduce_sum`"):
        prepare(MeanField(), XS, "es_d_rtrl")


def test_weight_inside_a_while_loop_is_refused():
    with pytest.raises(OnlineError, match=r"depends on h through `while`"):
        prepare(WhileWeight(), jnp.ones((4, 4)), "d_rtrl")


def test_bad_usage_is_explained(nets):
    m = nets.Rate()
    with pytest.raises(OnlineError, match="unknown algorithm 'bptt'"):
        prepare(m, XS, "bptt")
    with pytest.raises(OnlineError, match="never reads the Param"):
        prepare(m, XS, "d_rtrl", params={"w_in": m.w_in, "other": nd.Param(jnp.ones(2))})
    with pytest.raises(OnlineError, match="time as their leading axis"):
        prepare(m, jnp.ones(()), "d_rtrl")
    with pytest.raises(TypeError, match="must return a scalar"):
        nd.online.sequence_gradient(m, lambda o, y: (o - y) ** 2, XS, jnp.zeros((4, 2)))
    with pytest.raises(OnlineError, match="unknown option.*feeback; its options are: feedback"):
        nd.online.sequence_gradient(m, nets.mse, XS, jnp.zeros((4, 2)), "eprop", feeback="x")
    with pytest.raises(OnlineError, match="feedback must be"):
        nd.online.sequence_gradient(m, nets.mse, XS, jnp.zeros((4, 2)), "eprop", feedback="x")


def test_plan_reports_structure_and_memory(nets):
    plan = prepare(nets.ALIF(rec=True, batch=2), jnp.ones((4, 2, 3)), "d_rtrl")
    assert [g.k for g in plan.groups] == [3]  # v, a, z: one 3-variable neuron
    assert plan.trace_elements() == {"w_in": 3 * 5 * 3, "w_rec": 5 * 5 * 3}
    assert plan.trace_bytes() == 2 * (45 + 75) * 8
    assert [plan.theta_names[k] for k in plan.readout] == ["w_out", "b_out"]
    es = prepare(nets.ALIF(rec=True, batch=2), jnp.ones((4, 2, 3)), "es_d_rtrl")
    # x @ w_in + z @ w_rec: one postsynaptic trace (3 variables) and one pending dl/dy
    # serve both weights
    assert es.trace_elements() == {"w_in": 3 + 5 * (3 + 1), "w_rec": 5}
    assert "exact (readout) gradients: w_out, b_out" in plan.report()
