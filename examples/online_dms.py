"""Delayed match-to-sample learned online with D-RTRL (and the other rules).

A recurrent network of adaptive LIF neurons sees a direction (sample) through 40
direction-tuned Poisson channels, waits through a delay, sees a second direction (test)
and must answer, during the test period, whether the two are the same. The model and
task are those of ``shared/BENCHMARK_MODELS.md`` ("Online learning"): 40 channels firing
with probability ``0.1 exp(3 (cos(theta - phi_i) - 1)) + 0.002`` per step, 8 directions,
fixation / sample / delay / test from 0 / 0.1 / 0.3 / 0.8 of T, match with probability
0.5; ALIF neurons (theta = 1, alpha = kappa = exp(-1/20), rho = exp(-1/2000), beta = 1.8
for half of them, pseudo-derivative ``0.3 max(0, 1 - |u|)``, reset gradient stopped),
2 leaky readouts; masked cross-entropy over the test period; Adam 5e-3, clip 1.

    python examples/online_dms.py                 # fast: T = 100, N = 64, B = 32
    python examples/online_dms.py --full          # T = 100 and T = 1000, 1000 updates
    python examples/online_dms.py --rules bptt,d_rtrl,es_d_rtrl,eprop
    python examples/online_dms.py --no-plot       # no figure

The script prints the test accuracy of every rule on 512 new trials and asserts the
figure D-RTRL reaches (``--min-accuracy``; default 0.75 for the fast run, 0.90 with
``--full``). It writes the training loss of every rule to
examples/figures/online_dms.png (not with ``--no-plot``).

Figures (seed 0, 2-core CPU shared with other jobs): fast default (150 updates of
Adam 5e-3) D-RTRL 0.865 (~20-50 s). ``--full`` (the learning rate decayed to zero over
the budget, cosine): D-RTRL 0.916 at T = 100 (1000 updates, 385 s) and 0.928 at
T = 1000 (200 updates, 382 s). BPTT with 600 updates at a constant 5e-3: 0.875 at
T = 100. braintrace's D-RTRL: 0.93-0.94 at T = 100.
"""

from __future__ import annotations

import argparse
import json
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

import neurodyn as nd
from neurodyn.dyn import surrogate
from neurodyn.train import BPTT

N_IN, N_DIR, N_OUT = 40, 8, 2


def dms_task(rng, batch, steps):
    """Inputs ``[T, batch, 40]`` (0/1 spikes), labels ``[batch]`` (1: match) and the
    decision mask ``[T]`` (the test period)."""
    t_sample, t_delay, t_test = int(0.1 * steps), int(0.3 * steps), int(0.8 * steps)
    sample = rng.integers(0, N_DIR, size=batch)
    match = rng.uniform(size=batch) < 0.5
    other = (sample + rng.integers(1, N_DIR, size=batch)) % N_DIR
    test = np.where(match, sample, other)
    phi = 2 * np.pi * np.arange(N_IN) / N_IN

    def rate(direction):
        theta = 2 * np.pi * direction / N_DIR
        return 0.1 * np.exp(3 * (np.cos(theta[:, None] - phi[None]) - 1))

    p = np.full((steps, batch, N_IN), 0.002)
    p[t_sample:t_delay] += rate(sample)[None]
    p[t_test:] += rate(test)[None]
    x = (rng.uniform(size=p.shape) < p).astype(np.float32)
    mask = np.zeros(steps, np.float32)
    mask[t_test:] = 1.0
    return jnp.asarray(x), jnp.asarray(match.astype(np.int32)), jnp.asarray(mask)


class ALIFNet(nd.Module):
    """The online-learning benchmark network: ``z_{t-1} = H((v - 1 - beta a) / 1)``,
    ``a <- rho a + z``, ``v <- alpha (v - sg(z)) + [x, z] W``, ``y <- kappa y + z W_out``."""

    def __init__(self, n, batch, seed=0):
        r = np.random.default_rng(seed)
        f32 = jnp.float32
        self.w_in = nd.Param(jnp.asarray(r.normal(size=(N_IN, n)) * 3 / np.sqrt(N_IN), f32))
        w_rec = r.normal(size=(n, n)) * 1.5 / np.sqrt(n)
        np.fill_diagonal(w_rec, 0.0)
        self.w_rec = nd.Param(jnp.asarray(w_rec, f32))
        self.w_out = nd.Param(jnp.asarray(r.normal(size=(n, N_OUT)) / np.sqrt(n), f32))
        self.alpha = self.kappa = float(np.exp(-1 / 20))
        self.rho = float(np.exp(-1 / 2000))
        self.beta = np.where(np.arange(n) < n // 2, 0.0, 1.8).astype(np.float32)
        self.spike_fn = surrogate.PiecewiseLinear(1.0)
        self.n, self.batch = n, batch
        self.reset_state()

    def reset_state(self, batch_size=None):
        del batch_size
        for name, width in (("v", self.n), ("a", self.n), ("z", self.n), ("y", N_OUT)):
            value = jnp.zeros((self.batch, width), jnp.float32)
            if name in vars(self):
                getattr(self, name).value = value
            else:
                setattr(self, name, nd.Hidden(value))

    def update(self, x):
        z = self.z.value
        v = self.alpha * (self.v.value - jax.lax.stop_gradient(z))
        v = v + x @ self.w_in.value + z @ self.w_rec.value
        a = self.rho * self.a.value + z
        s = self.spike_fn(v - 1.0 - self.beta * a)
        z_new = jax.lax.stop_gradient(s) + 0.3 * (s - jax.lax.stop_gradient(s))
        self.v.value, self.a.value, self.z.value = v, a, z_new
        self.y.value = self.kappa * self.y.value + z_new @ self.w_out.value
        return self.y.value


def make_loss(n_decision):
    def step_loss(out, target):
        labels, mask = target
        ce = optax.softmax_cross_entropy_with_integer_labels(out, labels)
        return jnp.mean(ce) * mask / n_decision

    return step_loss


def accuracy(net, x, labels, mask):
    run = nd.jit(lambda xs: nd.for_loop(net.update, xs))
    correct = 0
    for start in range(0, x.shape[1], net.batch):
        net.reset_state()
        outs = run(x[:, start : start + net.batch])
        mean = jnp.sum(outs * mask[:, None, None], 0) / jnp.sum(mask)
        correct += int(jnp.sum(jnp.argmax(mean, -1) == labels[start : start + net.batch]))
    net.reset_state()
    return correct / x.shape[1]


RULES = {
    "d_rtrl": (nd.online.DRTRL, {}),
    "es_d_rtrl": (nd.online.ESDRTRL, {}),
    "eprop": (nd.online.EProp, {"feedback": "symmetric"}),
}


def train(rule, steps, args, test, curve=None):
    """Train with ``rule``; the loss of every update is appended to ``curve`` (a list)."""
    net = ALIFNet(args.hidden, args.batch, seed=args.seed)
    lr = args.lr
    if args.schedule == "cosine":  # decays to zero over the budget
        lr = optax.cosine_decay_schedule(args.lr, args.iterations)
    opt = optax.chain(optax.clip_by_global_norm(1.0), optax.adam(lr))
    rng = np.random.default_rng(args.seed + 1)
    n_dec = steps - int(0.8 * steps)
    step_loss = make_loss(n_dec)
    t0 = time.perf_counter()
    if rule == "bptt":

        def loss_fn(m, x, target):
            m.reset_state()
            outs = nd.for_loop(m.update, x)
            labels, mask = target
            return jnp.sum(jax.vmap(lambda o, k: step_loss(o, (labels, k)))(outs, mask))

        trainer = BPTT(net, loss_fn, opt)
        for _ in range(args.iterations):
            x, labels, mask = dms_task(rng, args.batch, steps)
            loss = trainer.step(x, (labels, mask))
            if curve is not None:
                curve.append(loss)
        memory = None
    else:
        cls, options = RULES[rule]
        learner = cls(net, step_loss, opt, **options)
        memory = None
        for it in range(args.iterations):
            x, labels, mask = dms_task(rng, args.batch, steps)
            if memory is None:
                memory = learner.memory(x[0])
            losses = learner.sequence(x, (jnp.broadcast_to(labels, (steps, args.batch)), mask))
            if curve is not None:
                curve.append(jnp.sum(losses))
            if args.eval_every and (it + 1) % args.eval_every == 0:
                small = tuple(a[:, :128] if a.ndim == 3 else a for a in test[:1]) + (
                    test[1][:128],
                    test[2],
                )
                print(f"    {rule} iteration {it + 1}: accuracy {accuracy(net, *small):.3f}",
                      flush=True)  # fmt: skip
    seconds = time.perf_counter() - t0
    acc = accuracy(net, *test)
    out = {"rule": rule, "T": steps, "iterations": args.iterations, "test_accuracy": acc,
           "train_s": round(seconds, 1)}  # fmt: skip
    if memory is not None:
        out["trace_bytes"] = memory
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="T = 100 and 1000, full budget")
    ap.add_argument("--lengths", help="comma-separated T (default 100; --full: 100,1000)")
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument(
        "--iterations", type=int, help="default 150 (--full: 1000 at T = 100, 200 at T = 1000)"
    )
    ap.add_argument("--lr", type=float, default=5e-3)
    ap.add_argument(
        "--schedule", choices=("constant", "cosine"),
        help="learning rate: constant (default) or decayed to zero (default with --full)",
    )  # fmt: skip
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rules", default="d_rtrl", help="bptt, d_rtrl, es_d_rtrl, eprop")
    ap.add_argument("--min-accuracy", type=float, help="assert at least this accuracy")
    ap.add_argument("--eval-every", type=int, default=0, help="print accuracy on 128 trials")
    ap.add_argument("--no-plot", action="store_true", help="write no figure")
    args = ap.parse_args()
    if args.full and args.schedule is None:
        args.schedule = "cosine"
    lengths = [int(t) for t in (args.lengths or ("100,1000" if args.full else "100")).split(",")]
    floor = args.min_accuracy
    if floor is None:
        floor = 0.90 if args.full else 0.75
    results, curves = [], []
    given = args.iterations
    for steps in lengths:
        # the budget: 150 updates (fast); --full: 1000 at T <= 100, 200 at longer T
        args.iterations = given or ((1000 if steps <= 100 else 200) if args.full else 150)
        test = dms_task(np.random.default_rng(12345), 512, steps)
        for rule in args.rules.split(","):
            curve = None if args.no_plot else []
            res = train(rule, steps, args, test, curve)
            curves.append((res, curve))
            print(f"  T={steps:<5} {rule:<10} test accuracy {res['test_accuracy']:.3f}  "
                  f"({res['train_s']} s)")  # fmt: skip
            results.append(res)
    if not args.no_plot:
        _figure(curves, args)
    print(json.dumps({"hidden": args.hidden, "batch": args.batch, "results": results}))
    for res in results:
        if res["rule"] == "d_rtrl":
            assert res["test_accuracy"] >= floor, (
                f"D-RTRL reached {res['test_accuracy']:.3f} at T={res['T']}, below {floor}"
            )


def _figure(curves, args) -> None:
    import _plots

    _plots.learning_figure(
        "online_dms",
        [
            (f"{res['rule']}, T = {res['T']}: test accuracy {res['test_accuracy']:.3f}", curve)
            for res, curve in curves
        ],
        "update (batch of trials)",
        "cross-entropy over the test period",
        f"Delayed match-to-sample, {args.hidden} ALIF neurons: training loss",
    )


if __name__ == "__main__":
    main()
