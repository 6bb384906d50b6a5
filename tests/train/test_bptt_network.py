"""BPTT on a simulation network: Projections with trainable weights, fed from arrays,
trained through ``nd.run`` with surrogate spikes."""

import jax
import jax.numpy as jnp
import numpy as np
import optax

import neurodyn as nd
import neurodyn.units as u
from neurodyn import event
from neurodyn.dyn import CUBA, LIF, ArrayInput, Expon, Projection, surrogate

T, N_IN, B = 50, 20, 16


class Classifier(nd.Network):
    """Input spikes -> (trainable dense weights, exponential current synapses) -> 2 LIF
    read-out neurons with surrogate spikes; the class is the neuron with the higher mean V."""

    def __init__(self):
        rng = np.random.default_rng(0)
        self.inp = ArrayInput(N_IN, steps=T)
        self.out = LIF(2, tau=10 * u.ms, V_th=-50 * u.mV, spike_fn=surrogate.Sigmoid())
        w0 = rng.normal(0.0, 5.0, (N_IN, 2))
        self.proj = Projection(
            self.inp,
            self.out,
            event.Dense(jnp.asarray(w0) * u.pA),
            synapse=Expon(5 * u.ms),
            output=CUBA(),
            trainable=True,
        )


def _batch(key):
    """Class 0: the first half of the inputs fire at 20%, the second at 2%; class 1: swapped."""
    k1, k2 = jax.random.split(key)
    labels = jax.random.bernoulli(k1, 0.5, (B,)).astype(jnp.int32)
    first = jnp.where(labels[:, None] == 0, 0.2, 0.02)
    rates = jnp.concatenate(
        [jnp.broadcast_to(first, (B, N_IN // 2)), jnp.broadcast_to(0.22 - first, (B, N_IN // 2))],
        axis=1,
    )
    spikes = jax.random.uniform(k2, (T, B, N_IN)) < rates
    return spikes.astype(jnp.float32), labels


def _loss(net, x, y):
    net.inp.feed(x)
    res = nd.run(net, T * 0.1 * u.ms, dt=0.1 * u.ms, monitors={"V": net.out.V})
    logits = jnp.mean(res["V"].to_value(u.mV), axis=0)  # [B, 2]
    return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()


def test_bptt_trains_the_weights_of_a_projection_network():
    net = Classifier()
    net.init_state(batch_size=B)
    trainer = nd.train.BPTT(net, _loss, optax.adam(2.0))
    assert set(trainer.params) == {"proj.weights"}
    key = jax.random.PRNGKey(0)
    losses = []
    for _ in range(40):
        key, sub = jax.random.split(key)
        losses.append(float(trainer.step(*_batch(sub))))
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:5]), losses
    # held-out accuracy
    x, y = _batch(jax.random.PRNGKey(123))
    net.reset_state()
    net.inp.feed(x)
    res = nd.run(net, T * 0.1 * u.ms, dt=0.1 * u.ms, monitors={"V": net.out.V})
    pred = np.argmax(np.mean(np.asarray(res["V"].to_value(u.mV)), axis=0), axis=1)
    assert np.mean(pred == np.asarray(y)) >= 0.9
