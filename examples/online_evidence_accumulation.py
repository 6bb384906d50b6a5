"""Evidence accumulation (the cue task of Bellec et al. 2020) learned online.

A recurrent network of adaptive LIF neurons sees 7 cues, each on the left or the right
(a burst of Poisson spikes on one of two input groups), then a delay, then a recall
signal: during recall its leaky readout must tell which side had more cues. The
adaptation (a threshold that decays over 200 steps) carries the count across the delay.

The same network is trained with backpropagation through time (``nd.train.BPTT``) and
with the online rules of ``neurodyn.online`` (one forward pass, eligibility traces, no
stored history): D-RTRL, ES-D-RTRL, and e-prop with symmetric, random and adaptive
feedback (``--rules ...,eprop_adaptive``; not in the default list).
The task is generated in code; the sizes are scaled down from the paper (100 neurons,
cues of 10 ms, a 40 ms delay, dt = 1 ms) to train in minutes on a laptop CPU.

    python examples/online_evidence_accumulation.py [--iterations 600] [--hidden 100]
    python examples/online_evidence_accumulation.py --benchmark [--steps 100]

Writes the training loss of every rule to examples/figures/online_evidence_accumulation.png
(not with ``--no-plot``).

With ``--benchmark``: the task and network of ``shared/BENCHMARK_MODELS.md`` (5 cues, a
delay of T - 90 steps, recall in the last 15; the ALIF network of ``online_dms.py``),
N = 64, B = 32, T = 100, 300 updates of Adam 5e-3 with clipping at 1, seed 0: BPTT 0.945,
D-RTRL 0.941, ES-D-RTRL 0.936, e-prop 0.947, e-prop with random feedback 0.918 (a fixed
matrix: the normal draw of ``--feedback-seed`` scaled by the root mean square of the
readout weights at the first step, kept at that scale for the whole training; with other
draws, ``--feedback-seed 1..4``: 0.855, 0.770, 0.936, 0.932; the seed moves it by far
more than the 3 points of the goal. Before it was fixed, when the draw was rescaled to
the readout weights at every step: 0.914, 0.932, 0.955, 0.910, 0.873 at seeds 0..4,
although that scale hardly moved (the root mean square of the readout weights stayed
within 0.125-0.131 over the whole run at seed 2): a run's figure swings with small
changes of its trajectory),
e-prop with adaptive feedback (the random draw of the same seed, moved with the readout
weights, their difference decayed by the default 1e-2 per update; Adam does not decay
the readout itself) 0.955 at feedback seed 0 and 0.969, 0.955, 0.953, 0.947 at seeds
1..4 (all within 3 points of BPTT).

Default run, test accuracy on 512 new trials after 600 batches of 64 (Adam 1e-3, seed 0):
BPTT 0.984 (14 s), D-RTRL 0.959 (272 s, traces 10.8 MB), ES-D-RTRL 0.936 (13 s, traces
0.2 MB), e-prop 0.953 (233 s), e-prop with random feedback 0.965 (424 s; 0.980 before
it was fixed at its first-step scale), e-prop with adaptive feedback 0.939 (428 s; these
two on a 2-core CPU shared with other jobs); chance 0.5.
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

N_CUES, CUE, GAP, DELAY, RECALL = 7, 10, 5, 40, 20
T = N_CUES * (CUE + GAP) + DELAY + RECALL
N_IN = 40  # 10 left, 10 right, 10 recall, 10 background


def benchmark_cue_task(rng, batch, steps):
    """The task of ``shared/BENCHMARK_MODELS.md`` (``--benchmark``): 5 cues of 10 steps
    with 5-step gaps (the cue side's 10 channels at p = 0.1), background p = 0.01 always,
    a delay of T - 90 steps, recall p = 0.1 in the last 15 steps (the decision window)."""
    sides = rng.integers(0, 2, size=(batch, 5))
    labels = (sides.sum(1) > 2).astype(np.int32)
    p = np.zeros((steps, batch, N_IN))
    p[:, :, 30:] = 0.01
    for c in range(5):
        for b in range(batch):
            group = slice(10, 20) if sides[b, c] else slice(0, 10)
            p[15 * c : 15 * c + 10, b, group] = 0.1
    p[steps - 15 :, :, 20:30] = 0.1
    x = (rng.uniform(size=p.shape) < p).astype(np.float32)
    mask = np.zeros(steps, np.float32)
    mask[steps - 15 :] = 1.0
    return jnp.asarray(x), jnp.asarray(labels), jnp.asarray(mask)


def cue_task(rng, batch):
    """Inputs [T, batch, 40] (0/1 spikes), labels [batch] (1: more right cues) and the
    recall mask [T] (where the loss is taken)."""
    sides = rng.integers(0, 2, size=(batch, N_CUES))
    labels = (sides.sum(1) > N_CUES // 2).astype(np.int32)
    p = np.zeros((T, batch, N_IN))
    p[:, :, 30:] = 0.01  # background
    for c in range(N_CUES):
        t0 = c * (CUE + GAP)
        for b in range(batch):
            group = slice(10, 20) if sides[b, c] else slice(0, 10)
            p[t0 : t0 + CUE, b, group] = 0.2
    p[T - RECALL :, :, 20:30] = 0.2
    x = (rng.uniform(size=p.shape) < p).astype(np.float32)
    mask = np.zeros(T, np.float32)
    mask[T - RECALL :] = 1.0
    return jnp.asarray(x), jnp.asarray(labels), jnp.asarray(mask)


class ALIFNet(nd.Module):
    """Recurrent ALIF neurons (Bellec et al. 2020: ``v <- alpha v + I - sg(z) v_th``, half of
    them with an adaptive threshold; surrogate spikes whose derivative is dampened by 0.3)
    and 2 leaky readout units ``y <- kappa y + z W_out``."""

    def __init__(self, n, batch, seed=0):
        r = np.random.default_rng(seed)
        self.w_in = nd.Param(jnp.asarray(r.normal(size=(N_IN, n)) / np.sqrt(N_IN), jnp.float32))
        w_rec = r.normal(size=(n, n)) / np.sqrt(n) * 0.5
        np.fill_diagonal(w_rec, 0.0)
        self.w_rec = nd.Param(jnp.asarray(w_rec, jnp.float32))
        self.w_out = nd.Param(jnp.asarray(r.normal(size=(n, 2)) / np.sqrt(n), jnp.float32))
        self.alpha, self.rho, self.kappa = np.exp(-1 / 20), np.exp(-1 / 200), np.exp(-1 / 20)
        self.beta = np.where(np.arange(n) < n // 2, 0.0, 1.8).astype(np.float32)  # half adapt
        self.v_th = 0.6
        self.spike_fn = surrogate.FastSigmoid(1.0 / 0.3)
        self.n, self.batch = n, batch
        self.reset_state()

    def reset_state(self, batch_size=None):
        shapes = {"v": (self.batch, self.n), "a": (self.batch, self.n), "z": (self.batch, self.n),
                  "y": (self.batch, 2)}  # fmt: skip
        for name, shape in shapes.items():
            if name in vars(self):
                getattr(self, name).value = jnp.zeros(shape, jnp.float32)
            else:
                setattr(self, name, nd.Hidden(jnp.zeros(shape, jnp.float32)))

    def update(self, x):
        z = self.z.value
        cur = x @ self.w_in.value + z @ self.w_rec.value
        v = self.alpha * self.v.value + cur
        v = v - jax.lax.stop_gradient(z) * self.v_th
        a = self.rho * self.a.value + z
        thr = self.v_th + self.beta * 0.07 * a
        s = self.spike_fn((v - thr) / self.v_th)
        z_new = jax.lax.stop_gradient(s) + 0.3 * (s - jax.lax.stop_gradient(s))  # dampened
        self.v.value, self.a.value, self.z.value = v, a, z_new
        self.y.value = self.kappa * self.y.value + z_new @ self.w_out.value
        return self.y.value


def make_loss(n_decision):
    def step_loss(out, target):
        labels, mask = target
        ce = optax.softmax_cross_entropy_with_integer_labels(out, labels)
        return jnp.mean(ce) * mask / n_decision

    return step_loss


step_loss = make_loss(RECALL)


def accuracy(net, x, labels, mask):
    """Fraction of test trials (in chunks of the network's batch) whose mean readout over
    the decision window picks the side with more cues."""
    run = nd.jit(lambda xs: nd.for_loop(net.update, xs))
    correct = 0
    for start in range(0, x.shape[1], net.batch):
        net.reset_state()
        outs = run(x[:, start : start + net.batch])
        mean = jnp.sum(outs * mask[:, None, None], 0) / jnp.sum(mask)
        correct += int(jnp.sum(jnp.argmax(mean, -1) == labels[start : start + net.batch]))
    net.reset_state()
    return correct / x.shape[1]


def setup(args):
    """``(make_net, make_task(rng, batch), steps, decision steps, optimizer)``."""
    if args.benchmark:
        from online_dms import ALIFNet as BenchNet  # the benchmark network

        steps = args.steps
        opt = optax.chain(optax.clip_by_global_norm(1.0), optax.adam(args.lr or 5e-3))
        return (
            lambda: BenchNet(args.hidden, args.batch, seed=args.seed),
            lambda rng, batch: benchmark_cue_task(rng, batch, steps),
            steps,
            15,
            opt,
        )
    return (
        lambda: ALIFNet(args.hidden, args.batch, seed=args.seed),
        cue_task,
        T,
        RECALL,
        optax.adam(args.lr or 1e-3),
    )


def train(rule, args, test, curve=None):
    """Train with ``rule``; the loss of every update is appended to ``curve`` (a list)."""
    make_net, make_task, steps, n_dec, opt = setup(args)
    net = make_net()
    loss = make_loss(n_dec)
    rng = np.random.default_rng(args.seed + 1)
    t0 = time.perf_counter()
    if rule == "bptt":

        def loss_fn(m, x, target):
            m.reset_state()
            outs = nd.for_loop(m.update, x)
            labels, mask = target
            return jnp.sum(jax.vmap(lambda o, k: loss(o, (labels, k)))(outs, mask))

        trainer = BPTT(net, loss_fn, opt)
        for _ in range(args.iterations):
            x, labels, mask = make_task(rng, args.batch)
            loss_value = trainer.step(x, (labels, mask))
            if curve is not None:
                curve.append(loss_value)
    else:
        algorithm, options = {
            "d_rtrl": (nd.online.DRTRL, {}),
            "es_d_rtrl": (nd.online.ESDRTRL, {}),
            "eprop": (nd.online.EProp, {"feedback": "symmetric"}),
            "eprop_random": (nd.online.EProp, {"feedback": "random", "seed": args.feedback_seed}),
            "eprop_adaptive": (
                nd.online.EProp,
                {"feedback": "adaptive", "seed": args.feedback_seed},
            ),
        }[rule]
        learner = algorithm(net, loss, opt, **options)
        x, labels, mask = make_task(rng, args.batch)
        memory = learner.memory(x[0])
        for _ in range(args.iterations):
            x, labels, mask = make_task(rng, args.batch)
            labels_t = jnp.broadcast_to(labels, (steps, args.batch))
            losses = learner.sequence(x, (labels_t, mask))
            if curve is not None:
                curve.append(jnp.sum(losses))
    seconds = time.perf_counter() - t0
    acc = accuracy(net, *test)
    out = {"rule": rule, "test_accuracy": acc, "train_s": round(seconds, 1)}
    if rule != "bptt":
        out["trace_bytes"] = memory
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hidden", type=int)
    ap.add_argument("--batch", type=int)
    ap.add_argument("--iterations", type=int)
    ap.add_argument("--lr", type=float)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--feedback-seed",
        type=int,
        help="seed of e-prop's random (and adaptive) feedback (default: --seed)",
    )
    ap.add_argument(
        "--benchmark", action="store_true",
        help="the task and network of shared/BENCHMARK_MODELS.md (N=64, B=32, T=100)",
    )  # fmt: skip
    ap.add_argument("--steps", type=int, default=100, help="T with --benchmark")
    ap.add_argument(
        "--rules", default="bptt,d_rtrl,es_d_rtrl,eprop,eprop_random",
        help="comma-separated: bptt, d_rtrl, es_d_rtrl, eprop, eprop_random, eprop_adaptive",
    )  # fmt: skip
    ap.add_argument("--no-plot", action="store_true", help="write no figure")
    args = ap.parse_args()
    if args.feedback_seed is None:
        args.feedback_seed = args.seed
    defaults = (64, 32, 300) if args.benchmark else (100, 64, 600)
    for name, value in zip(("hidden", "batch", "iterations"), defaults):
        if getattr(args, name) is None:
            setattr(args, name, value)
    _, make_task, steps, _, _ = setup(args)
    test = make_task(np.random.default_rng(12345), 512)  # the test set
    results, curves = [], []
    for rule in args.rules.split(","):
        curve = None if args.no_plot else []
        res = train(rule, args, test, curve)
        curves.append((res, curve))
        print(f"  {rule:<14} test accuracy {res['test_accuracy']:.3f}  ({res['train_s']} s)")
        results.append(res)
    if not args.no_plot:
        _figure(curves, args)
    print(json.dumps({"T": steps, "hidden": args.hidden, "batch": args.batch,
                      "iterations": args.iterations, "results": results}))  # fmt: skip


def _figure(curves, args) -> None:
    import _plots

    _plots.learning_figure(
        "online_evidence_accumulation",
        [(f"{res['rule']}: test accuracy {res['test_accuracy']:.3f}", c) for res, c in curves],
        f"update (batch of {args.batch} trials)",
        "cross-entropy over the recall period",
        f"Evidence accumulation, {args.hidden} ALIF neurons: training loss",
    )


if __name__ == "__main__":
    main()
