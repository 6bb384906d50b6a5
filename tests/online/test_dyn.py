"""The online rules on an nd.dyn network: populations and trainable Projections."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurodyn as nd
import neurodyn.units as u
from neurodyn import event
from neurodyn.dyn import CUBA, LIF, Delta, Projection, surrogate

DT = 1 * u.ms


class Drive(nd.Module):
    """Input spikes set from outside each step (a presynaptic side for a Projection)."""

    def __init__(self, n):
        self.varshape, self.name = (n,), "drive"
        self.spike = nd.Hidden(jnp.zeros(n))

    @property
    def num(self):
        return self.varshape[0]


class Net(nd.Network):
    """Drive -> LIF (surrogate spikes) through a trainable dense Projection and a trainable
    sparse (CSR) one, optionally a recurrent one; the output is a trained linear readout
    of the spikes."""

    def __init__(self, rec=False, seed=0):
        r = np.random.default_rng(seed)
        self.src = Drive(3)
        self.hid = LIF(5, tau=10 * u.ms, V_rest=0 * u.mV, V_reset=0 * u.mV, V_th=1 * u.mV,
                       R=1 * u.Mohm, spike_fn=surrogate.FastSigmoid(5.0))  # fmt: skip
        syn = dict(synapse=Delta(), output=CUBA(), trainable=True)
        w = jnp.asarray(r.normal(size=(3, 5)) * 2) * u.nA
        self.w_in = Projection(self.src, self.hid, event.Dense(w), **syn)
        w = r.normal(size=(3, 5)) * 2 * (r.uniform(size=(3, 5)) < 0.5)
        self.w_sparse = Projection(
            self.src, self.hid, event.CSR.from_dense(jnp.asarray(w) * u.nA), **syn
        )
        if rec:
            w = jnp.asarray(r.normal(size=(5, 5))) * u.nA
            self.w_rec = Projection(self.hid, self.hid, event.Dense(w), **syn)
        self.w_out = nd.Param(jnp.asarray(r.normal(size=(5, 2))))

    def update(self, x):
        self.src.spike.value = x
        super().update()  # Brian2's schedule: integrate, threshold, deliver, reset
        return self.hid.spike.value @ self.w_out.value


def _bptt(net, xs, ys):
    saved = {k: s.value for k, s in net.states(nd.Hidden).items()}

    def total():
        def step(i, x):
            with nd.dyn.clock(DT, t=i * DT, i=i):
                return net.update(x)

        outs = nd.for_loop(step, jnp.arange(xs.shape[0]), xs)
        return jnp.sum(jax.vmap(lambda o, y: jnp.sum((o - y) ** 2))(outs, ys))

    g = nd.grad(total, net.states(nd.Param))()
    for k, s in net.states(nd.Hidden).items():
        s.value = saved[k]
    return g


def _data(T=40):
    r = np.random.default_rng(1)
    xs = jnp.asarray((r.uniform(size=(T, 3)) < 0.3).astype(float))
    return xs, jnp.asarray(r.normal(size=(T, 2)))


def test_feedforward_dyn_network_d_rtrl_equals_bptt(nets):
    net = Net()
    xs, ys = _data()
    plan = nd.online.prepare(net, xs, "d_rtrl", dt=DT)
    k = [g.k for g in plan.groups if g.shape == (5,) and g.k > 1][0]  # V, spike, g, g
    nnz = int(net.w_sparse.conn.data.mantissa.shape[0])
    assert plan.trace_elements() == {"w_in.weights": 15 * k, "w_sparse.weights": nnz * k}
    ref = _bptt(net, xs, ys)
    got = nets.online(net, xs, ys, "d_rtrl", dt=DT)
    assert set(got) == {"w_in.weights", "w_sparse.weights", "w_out"}
    assert got["w_in.weights"].unit == ref["w_in.weights"].unit == u.nA**-1
    assert float(jnp.abs(ref["w_in.weights"].mantissa).max()) > 0.01
    for k in ref:
        assert nets.rel_err(got[k], ref[k]) < 1e-10, k


@pytest.mark.slow
def test_recurrent_dyn_network(nets):
    net = Net(rec=True)
    xs, ys = _data()
    ref = _bptt(net, xs, ys)
    exact = nets.online(net, xs, ys, "rtrl", dt=DT)
    diag = nets.online(net, xs, ys, "d_rtrl", dt=DT)
    for k in ref:
        assert nets.rel_err(exact[k], ref[k]) < 1e-10, k
    assert nets.rel_err(diag["w_rec.weights"], ref["w_rec.weights"]) > 1e-2
    assert nets.rel_err(diag["w_out"], ref["w_out"]) < 1e-10
    report = nd.online.check_against_bptt(net, nets.mse, xs, ys, "d_rtrl", dt=DT)
    assert report["w_out"]["cosine"] > 1 - 1e-12
    assert report["w_rec.weights"]["cosine"] > 0.5
