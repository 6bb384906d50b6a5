"""Small networks for the online-learning tests (float64: the exactness tests compare
with BPTT to 1e-10)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurodyn as nd
from neurodyn.dyn import surrogate


@pytest.fixture(autouse=True)
def x64():
    with jax.enable_x64(True):
        yield


class Rate(nd.Module):
    """Leaky rate units ``h <- (1 - a) h + a phi(x W_in [+ tanh(h) W_rec])``, ``a = 1/tau``
    (tau trained per neuron), with an instantaneous readout ``tanh(h) W_out``."""

    def __init__(self, n_in=3, n=4, n_out=2, rec=False, linear=False, train_tau=True, seed=0):
        r = np.random.default_rng(seed)
        self.w_in = nd.Param(jnp.asarray(r.normal(size=(n_in, n))))
        tau = jnp.asarray(r.uniform(2, 5, size=n)) if train_tau else jnp.full(n, 3.0)
        self.tau = nd.Param(tau) if train_tau else tau
        self.w_out = nd.Param(jnp.asarray(r.normal(size=(n, n_out))))
        self.rec, self.linear = rec, linear
        if rec:
            self.w_rec = nd.Param(jnp.asarray(0.5 * r.normal(size=(n, n))))
        self.h = nd.Hidden(jnp.zeros(n))

    def update(self, x):
        inp = x @ self.w_in.value
        if self.rec:
            inp = inp + jnp.tanh(self.h.value) @ self.w_rec.value
        a = 1 / (self.tau.value if isinstance(self.tau, nd.State) else self.tau)
        phi = inp if self.linear else jnp.tanh(inp)
        self.h.value = (1 - a) * self.h.value + a * phi
        return jnp.tanh(self.h.value) @ self.w_out.value


class ALIF(nd.Module):
    """Adaptive LIF (Bellec et al. 2020) with surrogate spikes and a detached soft reset::

        v_t = alpha v + (1 - alpha) (x W_in [+ z W_rec]) - sg(z)
        a_t = rho a + z ;   z_t = spike(v_t - 1 - beta a_t)

    and a readout ``z_t W_out + b`` returned as it is (``kappa=None``) or integrated by a
    leaky readout State ``y_t = kappa y + z_t W_out + b``."""

    def __init__(self, n_in=3, n=5, n_out=2, rec=False, beta=0.5, kappa=None, batch=None,
                 seed=0):  # fmt: skip
        r = np.random.default_rng(seed)
        self.w_in = nd.Param(jnp.asarray(r.normal(size=(n_in, n)) * 1.5))
        self.w_out = nd.Param(jnp.asarray(r.normal(size=(n, n_out))))
        self.b_out = nd.Param(jnp.asarray(r.normal(size=n_out) * 0.1))
        self.rec = rec
        if rec:
            self.w_rec = nd.Param(jnp.asarray(r.normal(size=(n, n)) * 0.5))
        self.alpha, self.rho, self.beta = float(np.exp(-1 / 5)), float(np.exp(-1 / 30)), beta
        self.kappa = kappa
        self.spike_fn = surrogate.FastSigmoid(3.0)
        self.shape = (n,) if batch is None else (batch, n)
        self.n_out = n_out
        self.reset_state()

    def reset_state(self, batch_size=None):
        shapes = {"v": self.shape, "a": self.shape, "z": self.shape}
        if self.kappa is not None:
            shapes["y"] = (*self.shape[:-1], self.n_out)
        for name, shape in shapes.items():
            if name in vars(self):
                getattr(self, name).value = jnp.zeros(shape)  # in place: plans keep the States
            else:
                setattr(self, name, nd.Hidden(jnp.zeros(shape)))

    def update(self, x):
        z = self.z.value
        cur = x @ self.w_in.value
        if self.rec:
            cur = cur + z @ self.w_rec.value
        v = self.alpha * self.v.value + (1 - self.alpha) * cur - jax.lax.stop_gradient(z)
        a = self.rho * self.a.value + z
        z_new = self.spike_fn(v - (1.0 + self.beta * a))
        self.v.value, self.a.value, self.z.value = v, a, z_new
        u = z_new @ self.w_out.value + self.b_out.value
        if self.kappa is None:
            return u
        self.y.value = self.kappa * self.y.value + u
        return self.y.value


def mse(o, y):
    return jnp.sum((o - y) ** 2)


def hidden_values(m):
    return {k: s.value for k, s in m.states(nd.Hidden).items()}


def restore(m, saved):
    for k, s in m.states(nd.Hidden).items():
        s.value = saved[k]


def bptt(m, xs, ys, loss=mse):
    """The reference: nd.grad of the summed loss over an nd.for_loop (state restored)."""
    saved = hidden_values(m)

    def total():
        outs = nd.for_loop(m.update, xs)
        return jnp.sum(jax.vmap(loss)(outs, ys))

    g = nd.grad(total, m.states(nd.Param))()
    restore(m, saved)
    return g


def rel_err(a, b):
    a = getattr(a, "mantissa", a)
    b = getattr(b, "mantissa", b)
    return float(jnp.max(jnp.abs(a - b)) / jnp.max(jnp.abs(b)))


def online(m, xs, ys, algorithm, loss=mse, **kw):
    saved = hidden_values(m)
    g = nd.online.sequence_gradient(m, loss, xs, ys, algorithm=algorithm, **kw)
    restore(m, saved)
    return g


@pytest.fixture
def nets():
    """The model classes and helpers (one namespace)."""
    from types import SimpleNamespace

    return SimpleNamespace(
        Rate=Rate, ALIF=ALIF, mse=mse, bptt=bptt, rel_err=rel_err, online=online,
        rng=np.random.default_rng(1),
    )  # fmt: skip
