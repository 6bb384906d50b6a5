"""An E/I conductance-based spiking network with sparse projections, trained online.

An ``nd.dyn`` network in the style of the COBA benchmark (Brette et al. 2007): an
excitatory and an inhibitory population of LIF neurons (surrogate spikes), exponential
conductance synapses (tau 5 ms excitatory, 10 ms inhibitory, reversal 0 / -80 mV), and
every projection sparse (CSR, connection probability 0.2): input -> E, input -> I,
E -> E, E -> I, I -> E, I -> I. All six sparse weight matrices and a leaky linear
readout of the excitatory spikes are trained online with D-RTRL: one trace per existing
synapse (O(nnz), updated with the event operators), none for the absent ones. A dense-
layer view of the network (braintrace's) has no place for these projections.

Task: 20 Poisson input channels; in each trial one of two groups of 10 fires at 40 Hz
(the other at 5 Hz) for the whole trial; the readout must name the group during the last
quarter of the trial (cross-entropy there). dt = 1 ms.

    python examples/online_ei_coba.py            # fast: 40 E + 10 I, T = 60 ms
    python examples/online_ei_coba.py --full     # 160 E + 40 I, T = 100 ms, more updates

Prints the test accuracy on 256 new trials before and after training and asserts the
figure reached (``--min-accuracy``, default 0.9). Writes the training loss to
examples/figures/online_ei_coba.png (not with ``--no-plot``).

Figures (seed 0, 2-core CPU shared with other jobs): fast default, 713 synapses,
accuracy 0.535 -> 0.984 after 40 updates (D-RTRL traces 228 KiB); ``--full``, 8855
synapses, 0.453 -> 0.980 after 150 updates (136 s; traces 2.8 MiB).
"""

from __future__ import annotations

import argparse
import json
import time

import jax.numpy as jnp
import numpy as np
import optax

import neurodyn as nd
import neurodyn.units as u
from neurodyn import event
from neurodyn.dyn import COBA, LIF, Expon, Projection, surrogate

DT = 1 * u.ms
N_IN = 20


class Drive(nd.Module):
    """The input spikes of one step, set from outside (a presynaptic side)."""

    def __init__(self, n, batch):
        self.varshape, self.name = (n,), "drive"
        self.spike = nd.Hidden(jnp.zeros((batch, n)))

    @property
    def num(self):
        return self.varshape[0]


def _lif(n, name):
    return LIF(
        n,
        name=name,
        tau=20 * u.ms,
        R=100 * u.Mohm,
        V_rest=-60 * u.mV,
        V_reset=-60 * u.mV,
        V_th=-50 * u.mV,
        spike_fn=surrogate.PiecewiseLinear(1.0),
    )


class EINet(nd.Network):
    def __init__(self, n_e, n_i, batch, p=0.2, seed=0):
        r = np.random.default_rng(seed)
        self.src = Drive(N_IN, batch)
        self.E, self.I = _lif(n_e, "E"), _lif(n_i, "I")

        def csr(n_pre, n_post, mean):
            mask = r.uniform(size=(n_pre, n_post)) < p
            w = np.abs(r.normal(mean, mean / 2, size=(n_pre, n_post))) * mask
            return event.CSR.from_dense(jnp.asarray(w, jnp.float32) * u.nS)

        exc = dict(synapse=Expon(5 * u.ms), output=COBA(E=0 * u.mV), trainable=True)
        inh = dict(synapse=Expon(10 * u.ms), output=COBA(E=-80 * u.mV), trainable=True)
        self.in_e = Projection(self.src, self.E, csr(N_IN, n_e, 12.0), **exc)
        self.in_i = Projection(self.src, self.I, csr(N_IN, n_i, 12.0), **exc)
        self.ee = Projection(self.E, self.E, csr(n_e, n_e, 2.0), **exc)
        self.ei = Projection(self.E, self.I, csr(n_e, n_i, 4.0), **exc)
        self.ie = Projection(self.I, self.E, csr(n_i, n_e, 8.0), **inh)
        self.ii = Projection(self.I, self.I, csr(n_i, n_i, 8.0), **inh)
        self.w_out = nd.Param(jnp.asarray(r.normal(size=(n_e, 2)) / np.sqrt(n_e), jnp.float32))
        self.kappa = float(np.exp(-1 / 10))
        self.y = nd.Hidden(jnp.zeros((batch, 2)))

    def update(self, x):
        self.src.spike.value = x
        super().update()  # integrate, threshold, deliver, reset
        self.y.value = self.kappa * self.y.value + self.E.spike.value @ self.w_out.value
        return self.y.value


def task(rng, batch, steps):
    """Inputs ``[T, batch, 20]`` (spikes), labels ``[batch]``, decision mask ``[T]``."""
    labels = rng.integers(0, 2, size=batch)
    rate = np.full((batch, N_IN), 5.0)
    rate[labels == 0, :10] = 40.0
    rate[labels == 1, 10:] = 40.0
    p = np.broadcast_to(rate * 1e-3, (steps, batch, N_IN))  # per 1 ms step
    x = (rng.uniform(size=p.shape) < p).astype(np.float32)
    mask = np.zeros(steps, np.float32)
    mask[steps - steps // 4 :] = 1.0
    return jnp.asarray(x), jnp.asarray(labels.astype(np.int32)), jnp.asarray(mask)


def accuracy(net, x, labels, mask, batch):
    def run(xs):
        def step(i, xt):
            with nd.dyn.clock(DT, t=i * DT, i=i):
                return net.update(xt)

        return nd.for_loop(step, jnp.arange(xs.shape[0]), xs)

    run = nd.jit(run)
    correct = 0
    for start in range(0, x.shape[1], batch):
        net.reset_state(batch)
        outs = run(x[:, start : start + batch])
        mean = jnp.sum(outs * mask[:, None, None], 0)
        correct += int(jnp.sum(jnp.argmax(mean, -1) == labels[start : start + batch]))
    net.reset_state(batch)
    return correct / x.shape[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true")
    ap.add_argument("--iterations", type=int)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=5e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--min-accuracy", type=float, default=0.9)
    ap.add_argument("--no-plot", action="store_true", help="write no figure")
    args = ap.parse_args()
    n_e, n_i, steps = (160, 40, 100) if args.full else (40, 10, 60)
    iterations = args.iterations or (150 if args.full else 40)
    net = EINet(n_e, n_i, args.batch, seed=args.seed)
    net.reset_state(args.batch)
    test = task(np.random.default_rng(12345), 256, steps)
    before = accuracy(net, *test, args.batch)

    def step_loss(out, target):
        labels, m = target
        return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(out, labels)) * m

    opt = optax.chain(optax.clip_by_global_norm(1.0), optax.adam(args.lr))
    learner = nd.online.DRTRL(net, step_loss, opt, dt=DT, batched=True)
    rng = np.random.default_rng(args.seed + 1)
    t0 = time.perf_counter()
    memory, curve = None, []
    for _ in range(iterations):
        x, labels, mask = task(rng, args.batch, steps)
        if memory is None:
            memory = learner.memory(x[0])
        losses = learner.sequence(x, (jnp.broadcast_to(labels, (steps, args.batch)), mask))
        if not args.no_plot:
            curve.append(jnp.sum(losses))
    seconds = time.perf_counter() - t0
    after = accuracy(net, *test, args.batch)
    nnz = sum(int(p.conn.nnz) for p in (net.in_e, net.in_i, net.ee, net.ei, net.ie, net.ii))
    print(f"  E/I COBA, {n_e} E + {n_i} I, {nnz} synapses (CSR), T = {steps} ms: test accuracy "
          f"{before:.3f} before, {after:.3f} after {iterations} online updates ({seconds:.1f} s; "
          f"D-RTRL traces {memory / 2**10:.0f} KiB)")  # fmt: skip
    if not args.no_plot:
        _figure(curve, n_e, n_i, nnz, steps, before, after, args.batch)
    print(json.dumps({"n_e": n_e, "n_i": n_i, "synapses": nnz, "T": steps,
                      "iterations": iterations, "accuracy_before": before,
                      "accuracy_after": after, "trace_bytes": memory,
                      "train_s": round(seconds, 1)}))  # fmt: skip
    assert after >= args.min_accuracy, f"accuracy {after:.3f} below {args.min_accuracy}"


def _figure(curve, n_e, n_i, nnz, steps, before, after, batch) -> None:
    import _plots

    _plots.learning_figure(
        "online_ei_coba",
        [(f"D-RTRL: test accuracy {before:.3f} -> {after:.3f}", curve)],
        f"update (batch of {batch} trials)",
        f"cross-entropy over the last {steps // 4} ms",
        f"E/I COBA network ({n_e} E + {n_i} I, {nnz} synapses) trained online",
    )


if __name__ == "__main__":
    main()
