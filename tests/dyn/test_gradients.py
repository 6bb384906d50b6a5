"""Gradients through ``nd.run``: of a loss of a run's monitors with respect to model
parameters given as ``nd.Param`` and to trainable projection weights (CSR per synapse,
dense, homogeneous), through delays (homogeneous and per synapse) and STP, equal
central finite differences in float64 with a smooth spike function."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurodyn as nd
import neurodyn.units as u
from neurodyn import event
from neurodyn.dyn import LIF, STP, Expon, Projection


def smooth(x):
    """A smooth spike function: the gradient of the run is the exact derivative."""
    return jax.nn.sigmoid(x / 0.5)


smooth.differentiable = True


class Net(nd.Network):
    def __init__(self):
        lif = dict(spike_fn=smooth, detach_reset=False)
        self.tau = nd.Param(jnp.asarray(20.0) * u.ms)
        self.A = LIF(4, tau=self.tau, I_ext=jnp.array([300.0, 320, 340, 360]) * u.pA, **lif)
        self.B = LIF(3, V_th=-55 * u.mV, **lif)
        csr = event.FixedProb(0.8, seed=1).build(4, 3, weight=lambda r, n: 2.0 + r.random(n))
        csr = csr.with_data(jnp.asarray(csr.data, float) * u.nS)  # float64 under x64
        self.p_csr = Projection(
            self.A, self.B, csr, trainable=True, delay=(np.arange(csr.nnz) % 3) * 0.1 * u.ms
        )
        dense = event.Dense(jnp.full((4, 3), 20.0) * u.pA)
        from neurodyn.dyn import CUBA

        self.p_dense = Projection(
            self.A,
            self.B,
            dense,
            trainable=True,
            synapse=Expon(3 * u.ms),
            output=CUBA(),
            stp=STP(U=0.3, tau_d=20 * u.ms),
            delay=0.2 * u.ms,
        )
        self.g_homo = nd.Param(jnp.asarray(1.5) * u.nS)
        self.p_homo = Projection(self.A, self.B, event.FixedProb(0.5, seed=2), weight=self.g_homo)


def _loss(net, duration=20 * u.ms, ck=None):
    net.reset_state()
    res = nd.run(net, duration, dt=0.1 * u.ms, monitors={"V": net.B.V}, checkpoint_every=ck)
    return jnp.mean(res["V"].to_value(u.mV))


def test_gradients_through_a_run_equal_finite_differences():
    with jax.enable_x64(True):
        net = Net()
        params = {
            "tau": net.tau,
            "csr": net.p_csr.weights,
            "dense": net.p_dense.weights,
            "homo": net.g_homo,
        }
        _loss(net)  # a first run sizes the delay buffers for dt (outside the transform)
        grads = nd.grad(lambda: _loss(net), params)()

        def fd(state, index=None, h=1e-4):
            v0 = state.value
            m, unit = np.asarray(v0.mantissa, float), v0.unit

            def at(delta):
                m2 = m.copy()
                if index is None:
                    m2 = m2 + delta
                else:
                    m2[index] += delta
                state.value = jnp.asarray(m2, v0.mantissa.dtype) * unit
                return float(_loss(net))

            out = (at(h) - at(-h)) / (2 * h)
            state.value = v0
            return out

        checks = [("tau", None), ("homo", None), ("csr", 0), ("csr", 5), ("dense", (1, 2))]
        for name, index in checks:
            g = np.asarray(grads[name].mantissa)
            ours = float(g if index is None else g[index])
            ref = fd(params[name], index)
            assert ours == pytest.approx(ref, rel=1e-4, abs=1e-9), (name, index, ours, ref)
        assert abs(float(grads["tau"].mantissa)) > 1e-4  # not trivially zero


def test_trainable_weights_are_params_and_procedural_ones_are_refused():
    net = Net()
    assert {"p_csr.weights", "p_dense.weights", "tau", "g_homo"} <= set(net.states(nd.Param))
    with pytest.raises(TypeError, match="does not store its weights"):
        Projection(net.A, net.B, event.FixedProb(0.5).jit(4, 3, 1.0 * u.nS), trainable=True)


def _temp_bytes(net, params, ck):
    # the compiled gradient program's scratch memory (XLA's own accounting)
    fn = nd.jit(nd.grad(lambda: _loss(net, 200 * u.ms, ck), params))
    return fn.lower().compile().memory_analysis().temp_size_in_bytes


@pytest.mark.slow  # (~10-18 s: make test-slow)
def test_checkpoint_every_gives_the_same_gradients_in_less_memory():
    """checkpoint_every: the gradients equal central finite differences (as above), and
    the backward pass of a 2000-step run keeps the state of 10 blocks, not of every step."""
    with jax.enable_x64(True):
        net = Net()
        params = {"tau": net.tau, "dense": net.p_dense.weights}
        _loss(net)
        grads = nd.grad(lambda: _loss(net, ck=5 * u.ms), params)()
        for name, index in (("tau", None), ("dense", (1, 2))):
            state, h = params[name], 1e-4
            v0 = state.value
            m = np.asarray(v0.mantissa, float)

            def at(delta, state=state, v0=v0, m=m, index=index):
                m2 = m.copy()
                if index is None:
                    m2 = m2 + delta
                else:
                    m2[index] += delta
                state.value = jnp.asarray(m2) * v0.unit
                return float(_loss(net))

            ref = (at(h) - at(-h)) / (2 * h)
            state.value = v0
            g = np.asarray(grads[name].mantissa)
            ours = float(g if index is None else g[index])
            assert ours == pytest.approx(ref, rel=1e-4, abs=1e-9), (name, ours, ref)
        full = _temp_bytes(net, params, None)
        blocks = _temp_bytes(net, params, 20 * u.ms)
        assert blocks < full / 4, (blocks, full)


def test_checkpoint_every_must_fit_the_run_and_the_monitors():
    net = Net()
    with pytest.raises(ValueError, match="does not divide the duration"):
        nd.run(net, 10 * u.ms, dt=0.1 * u.ms, checkpoint_every=3 * u.ms)
    with pytest.raises(ValueError, match="not a multiple of the recording period of monitor 'V'"):
        mons = {"V": nd.dyn.Monitor(net.B.V, every=2 * u.ms)}
        nd.run(net, 10 * u.ms, dt=0.1 * u.ms, monitors=mons, checkpoint_every=5 * u.ms)


def test_a_hard_threshold_under_grad_is_named_with_the_fix():
    class Hard(nd.Network):
        def __init__(self):
            self.w = nd.Param(jnp.asarray(1.0) * u.nS)
            self.A = LIF(2, I_ext=400 * u.pA, name="A")
            self.B = LIF(2, name="B", spike_fn=smooth)
            self.p = Projection(self.A, self.B, event.FixedProb(1.0, seed=0), weight=self.w)

    net = Hard()

    def loss():
        net.reset_state()
        return jnp.mean(nd.run(net, 5 * u.ms, dt=0.1 * u.ms, monitors={"V": net.B.V})["V"].mantissa)

    with pytest.warns(
        UserWarning, match=r"A spike through a hard threshold .* spike_fn=nd.dyn.surrogate"
    ):
        nd.grad(loss, {"w": net.w})()
