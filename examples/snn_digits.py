"""A recurrent spiking network built from Projections, trained by backpropagation
through time (surrogate gradients, optax Adam) through ``nd.run`` to classify
scikit-learn's 8x8 handwritten digits, encoded as Poisson spike trains. The network is
the one a simulation would use — populations, trainable projections, the runner — not a
hand-written loop. Target: >= 95% test accuracy.

    python examples/snn_digits.py [--hidden 128] [--epochs 15] [--steps 25] [--no-plot]

Writes the training loss to examples/figures/snn_digits.png (not with ``--no-plot``).
"""

from __future__ import annotations

import argparse
import json
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from sklearn.datasets import load_digits

import neurodyn as nd
import neurodyn.units as u
from neurodyn import event
from neurodyn.dyn import CUBA, LIF, ArrayInput, Delta, Model, Parameter, Projection, surrogate
from neurodyn.train import BPTT

DT = 1 * u.ms


class Readout(Model):
    """Leaky integrators without spikes: ``tau dV/dt = -V + R I`` (the class scores)."""

    tau = Parameter(u.ms, 4.48 * u.ms, "positive")  # exp(-1 ms / tau) = 0.8 per step
    R = Parameter(u.Mohm, 1 * u.Mohm, "positive")
    variables = {"V": (u.mV, 0 * u.mV)}

    def vector_field(self, t, y, I):
        return {"V": (-y["V"] + self.R * I) / self.tau}


class RecurrentSNN(nd.Network):
    """64 inputs -> recurrent LIF layer -> 10 leaky read-out units; every weight matrix is
    a trainable dense Projection (instantaneous current synapses)."""

    def __init__(self, n_hidden: int, batch: int, steps: int, seed: int = 0):
        rng = np.random.default_rng(seed)

        def dense(n_in, n_out, scale):
            w = rng.normal(size=(n_in, n_out)) / np.sqrt(n_in) * scale
            return event.Dense(jnp.asarray(w, float) * u.nA)  # 1 nA per unit weight

        self.inp = ArrayInput(64, steps=steps)
        self.hidden = LIF(
            n_hidden,
            tau=10 * u.ms,
            V_rest=0 * u.mV,
            V_reset=0 * u.mV,
            V_th=1 * u.mV,
            R=1 * u.Mohm,
            spike_fn=surrogate.FastSigmoid(5.0),
        )
        self.out = Readout(10)
        syn = dict(synapse=Delta(), output=CUBA(), trainable=True)
        self.w_in = Projection(self.inp, self.hidden, dense(64, n_hidden, 1.0), **syn)
        self.w_rec = Projection(self.hidden, self.hidden, dense(n_hidden, n_hidden, 0.5), **syn)
        self.w_out = Projection(self.hidden, self.out, dense(n_hidden, 10, 10.0), **syn)
        self.init_state(batch)

    def logits(self, spikes_in):  # spikes_in: [time, batch, 64]
        self.inp.feed(spikes_in)
        res = nd.run(self, spikes_in.shape[0] * DT, dt=DT, monitors={"V": self.out.V})
        return res["V"].to_value(u.mV).mean(axis=0)


def encode(x, steps, key):
    """Poisson encoding: pixel intensity / 16 is the spike probability per step."""
    p = jnp.asarray(x / 16.0)
    return (jax.random.uniform(key, (steps, *p.shape)) < p).astype(jnp.result_type(float))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--steps", type=int, default=25)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-plot", action="store_true", help="write no figure")
    args = ap.parse_args()
    data = load_digits()
    rng = np.random.default_rng(args.seed)
    order = rng.permutation(len(data.target))
    x, y = data.data[order], data.target[order]
    n_train = 1400
    x_tr, y_tr, x_te, y_te = x[:n_train], y[:n_train], x[n_train:], y[n_train:]
    model = RecurrentSNN(args.hidden, args.batch, args.steps, args.seed)

    def loss_fn(model, spikes, labels):
        logits = model.logits(spikes)
        return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()

    trainer = BPTT(model, loss_fn, optax.adam(2e-3), clip_norm=5.0)
    key = jax.random.key(args.seed)
    t0 = time.perf_counter()
    n_batches = n_train // args.batch
    curve = []  # the loss of every batch, for the figure
    for epoch in range(args.epochs):
        perm = rng.permutation(n_train)
        losses = []
        for b in range(n_batches):
            idx = perm[b * args.batch : (b + 1) * args.batch]
            key, sub = jax.random.split(key)
            losses.append(
                float(trainer.step(encode(x_tr[idx], args.steps, sub), jnp.asarray(y_tr[idx])))
            )
        print(f"  epoch {epoch + 1}: loss {np.mean(losses):.3f}")
        curve.extend(losses)
    train_s = time.perf_counter() - t0

    def predict(s):
        return jnp.argmax(model.logits(s), axis=-1)

    correct = 0
    n_test = (len(y_te) // args.batch) * args.batch
    for b in range(0, n_test, args.batch):
        key, sub = jax.random.split(key)
        model.reset_state()
        pred = predict(encode(x_te[b : b + args.batch], args.steps, sub))
        correct += int(jnp.sum(pred == jnp.asarray(y_te[b : b + args.batch])))
    acc = correct / n_test
    print(
        f"recurrent SNN ({args.hidden} LIF) on 8x8 digits: test accuracy {acc:.3f} "
        f"(target >= 0.95), training {train_s:.1f} s"
    )
    if not args.no_plot:
        _figure(curve, n_batches, acc, args)
    print(
        json.dumps(
            {
                "test_accuracy": round(acc, 4),
                "hidden": args.hidden,
                "epochs": args.epochs,
                "train_s": round(train_s, 1),
            }
        )
    )


def _figure(curve, n_batches, acc, args) -> None:
    import _plots

    made = _plots.figure("snn_digits", figsize=(7, 4))
    if made is None:
        return
    fig, ax = made
    steps = np.arange(1, len(curve) + 1)
    ax.plot(steps, curve, color="tab:blue", lw=1, label="batch loss")
    epochs = np.asarray(curve).reshape(-1, n_batches).mean(1)
    ax.plot((np.arange(len(epochs)) + 1) * n_batches, epochs, "o-", color="k", label="epoch mean")
    ax.set_xlabel(f"update (batch of {args.batch} digits; {n_batches} per epoch)")
    ax.set_ylabel("cross-entropy loss")
    ax.set_title(f"Recurrent SNN ({args.hidden} LIF) on 8x8 digits: test accuracy {acc:.3f}")
    ax.legend(fontsize="small")
    _plots.save(fig, "snn_digits")


if __name__ == "__main__":
    main()
