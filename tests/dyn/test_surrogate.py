"""Surrogate spike functions: Heaviside forward; derivative = that of a known smooth
function (central differences of its closed form); gradients flow through a LIF run."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import erf

import neurodyn as nd
import neurodyn.units as u
from neurodyn.dyn import LIF, surrogate

X = np.linspace(-2.0, 2.0, 41) + 1e-3  # avoid the kink of |x| at 0

SMOOTH = {
    surrogate.Sigmoid(4.0): lambda x: 4 / 4.0 / (1 + np.exp(-4.0 * x)),
    surrogate.Arctan(2.0): lambda x: 2 / (np.pi * 2.0) * np.arctan(np.pi / 2 * 2.0 * x),
    surrogate.FastSigmoid(10.0): lambda x: x / (1 + 10.0 * np.abs(x)),
    surrogate.Gaussian(0.5): lambda x: 0.5 * np.sqrt(np.pi / 2) * erf(x / (0.5 * np.sqrt(2))),
    surrogate.Exponential(2.0): lambda x: np.sign(x) * (1 - np.exp(-2.0 * np.abs(x))) / 2.0,
    surrogate.Erf(1.0): lambda x: (1 + erf(1.0 * x)) / 2,
    surrogate.Softsign(2.0): lambda x: (1 + 2.0 * x / (1 + 2.0 * np.abs(x))) / 2,
}


@pytest.mark.parametrize("fn", list(SMOOTH), ids=lambda f: type(f).__name__)
def test_surrogate_gradient_is_the_derivative_of_its_smooth_function(fn):
    np.testing.assert_array_equal(np.asarray(fn(jnp.asarray(X))), (X >= 0).astype(float))
    grads = np.asarray(jax.vmap(jax.grad(fn))(jnp.asarray(X)))
    h = 1e-5
    fd = (SMOOTH[fn](X + h) - SMOOTH[fn](X - h)) / (2 * h)
    np.testing.assert_allclose(grads, fd, rtol=1e-3, atol=1e-5)


def test_other_surrogates_shapes():
    tri = surrogate.PiecewiseLinear(1.0)
    np.testing.assert_allclose(
        jax.vmap(jax.grad(tri))(jnp.array([-2.0, -0.5, 0.0, 0.5])), [0.0, 0.5, 1.0, 0.5]
    )
    st = surrogate.StraightThrough(1.0)
    np.testing.assert_allclose(
        jax.vmap(jax.grad(st))(jnp.array([-0.6, -0.4, 0.4, 0.6])), [0.0, 1.0, 1.0, 0.0]
    )
    mg = surrogate.MultiGaussian(0.5)
    g = jax.vmap(jax.grad(mg))(jnp.linspace(-30, 30, 12001))
    assert float(jnp.sum(g) * 0.005) == pytest.approx(1.0 - 0.15, rel=2e-2)  # 1 - h


def test_gradient_flows_through_a_spiking_run():
    lif = LIF(
        3,
        tau=10 * u.ms,
        V_th=-50 * u.mV,
        spike_fn=surrogate.Sigmoid(2.0),
        I_ext=jnp.array([180.0, 200.0, 220.0]) * u.pA,
    )
    drive = nd.Param(jnp.ones(3))
    lif.spike.value = jnp.zeros(3)

    def loss():
        def step(i):
            with nd.clock(dt=0.1 * u.ms, t=i * 0.1 * u.ms):
                return lif.update(I_ext=drive.value * 50 * u.pA)

        return jnp.sum(nd.for_loop(step, jnp.arange(500)))

    assert lif.spike.value.dtype == jnp.float32
    count = float(loss())
    assert count > 0
    lif.reset_state()
    g = nd.grad(loss, drive)()
    assert bool(jnp.all(g > 0))  # more drive, more spikes
