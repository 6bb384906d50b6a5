"""braintrace's side of ``benchmarks/online.py``, run in its own environment
(``benchmarks/.envs/braintrace``), and the task both sides share.

The network and task are those of ``shared/BENCHMARK_MODELS.md`` ("Online learning"):
a recurrent adaptive LIF network (40 Poisson inputs -> N ALIF neurons -> 2 leaky
readouts; ``v <- alpha (v - sg(z)) + [x, z] W``, ``a <- rho a + z``,
``z = H(v - 1 - beta a)`` with the pseudo-derivative ``0.3 max(0, 1 - |u|)``,
``y <- kappa y + z W_out``; ``alpha = kappa = exp(-1/20)``, ``rho = exp(-1/2000)``,
``beta = 1.8`` for half the neurons; ``W_in ~ N(0, (3/sqrt(40))^2)``,
``W_rec ~ N(0, (1.5/sqrt(N))^2)`` with zero diagonal, ``W_out ~ N(0, 1/N)``) on the
evidence-accumulation task (5 cues, a delay of T - 90 steps, recall and the decision
window in the last 15 steps), masked cross-entropy over the decision window, B = 16,
float32. Here written with brainstate States and ``braintrace.matmul``; the gradient of
the summed loss over T steps with ``etrace_grad`` for D-RTRL and ES-D-RTRL (pp_prop).

The task and the network's constants (:func:`cue_probs`, :func:`cue_data`,
:func:`cue_labels`, :func:`init_weights`, :func:`step_loss`) import only jax and numpy:
``online.py`` uses the same definitions, so both sides see the same numbers.

    benchmarks/.envs/braintrace/bin/python benchmarks/_online_braintrace.py \
        --sizes 64,256,1024 --steps 100 --repeats 3 [--memory 100,1000,5000]

Prints one JSON object (rows of ``{"case", "rule", "N", "B", "T", ...}``).
"""

from __future__ import annotations

import argparse
import json
import time

import jax
import jax.numpy as jnp
import numpy as np

N_IN, N_OUT, BATCH, N_DECISION = 40, 2, 16, 15
ALPHA = KAPPA = float(np.exp(-1 / 20))
RHO = float(np.exp(-1 / 2000))


@jax.custom_jvp
def spike(u):
    """Heaviside with the pseudo-derivative ``0.3 max(0, 1 - |u|)``."""
    return (u >= 0).astype(u.dtype)


@spike.defjvp
def _spike_jvp(primals, tangents):
    (u,), (du,) = primals, tangents
    return spike(u), 0.3 * jnp.maximum(0.0, 1.0 - jnp.abs(u)) * du


def init_weights(n, seed=0):
    """``(w_in, w_rec, w_out, beta)`` as float32 numpy arrays."""
    r = np.random.default_rng(seed)
    w_in = r.normal(size=(N_IN, n)) * 3 / np.sqrt(N_IN)
    w_rec = r.normal(size=(n, n)) * 1.5 / np.sqrt(n)
    np.fill_diagonal(w_rec, 0.0)
    w_out = r.normal(size=(n, N_OUT)) / np.sqrt(n)
    beta = np.where(np.arange(n) < n // 2, 0.0, 1.8)
    return tuple(np.asarray(a, np.float32) for a in (w_in, w_rec, w_out, beta))


def step_loss(out, target):
    """Masked cross-entropy of one step: ``mean_b CE(out_b, label_b) mask / 15``."""
    labels, mask = target
    logp = jax.nn.log_softmax(out, axis=-1)
    ce = -jnp.take_along_axis(logp, labels[:, None], axis=-1)[:, 0]
    return jnp.mean(ce) * mask / N_DECISION


def cue_labels(seed=0):
    """The cue sides ``[B, 5]`` (1: right) and the labels ``[B]`` (1: more right cues)."""
    key = jax.random.fold_in(jax.random.key(seed), 1)
    sides = jax.random.bernoulli(key, 0.5, (BATCH, 5)).astype(jnp.int32)
    return sides, (jnp.sum(sides, 1) > 2).astype(jnp.int32)


def cue_probs(i, steps, sides):
    """Firing probabilities ``[B, 40]`` at step ``i``: 5 cues of 10 steps with 5-step
    gaps on the cue side's 10 channels (left 0-9, right 10-19) at 0.1, recall (20-29) at
    0.1 in the last 15 steps, background (30-39) at 0.01 always."""
    i = jnp.asarray(i)
    ch = jnp.arange(N_IN)
    side = sides[:, jnp.minimum(i // 15, 4)][:, None]  # [B, 1]
    in_cue = (i < 75) & (i % 15 < 10)
    cue = in_cue & (((ch < 10) & (side == 0)) | ((ch >= 10) & (ch < 20) & (side == 1)))
    recall = (ch >= 20) & (ch < 30) & (i >= steps - N_DECISION)
    return jnp.where(cue, 0.1, 0.0) + jnp.where(recall, 0.1, 0.0) + jnp.where(ch >= 30, 0.01, 0.0)


def cue_step(i, steps, sides, labels, seed=0):
    """Step ``i`` of the task: ``(x [B, 40] spikes, (labels [B], mask))``, the spikes
    drawn from ``fold_in(key, i)`` (nothing of length T exists)."""
    key = jax.random.fold_in(jax.random.fold_in(jax.random.key(seed), 2), i)
    x = (jax.random.uniform(key, (BATCH, N_IN)) < cue_probs(i, steps, sides)).astype(jnp.float32)
    mask = (jnp.asarray(i) >= steps - N_DECISION).astype(jnp.float32)
    return x, (labels, mask)


def cue_data(steps, seed=0, every_step=False):
    """The whole sequence as arrays: ``xs [T, B, 40]``, ``(labels [T, B], mask [T])``;
    ``every_step=True``: the mask is 1 at every step (a loss at every step: no step
    whose loss has a zero gradient)."""
    sides, labels = cue_labels(seed)
    xs, (_, mask) = jax.vmap(lambda i: cue_step(i, steps, sides, labels, seed))(jnp.arange(steps))
    if every_step:
        mask = jnp.ones_like(mask)
    return xs, (jnp.broadcast_to(labels, (steps, BATCH)), mask)


def _network(n):
    import brainstate
    import braintrace

    class ALIFNet(brainstate.nn.Module):
        def __init__(self, n, seed=0):
            super().__init__()
            w_in, w_rec, w_out, beta = init_weights(n, seed)
            self.n = n
            self.w_in = brainstate.ParamState(jnp.asarray(w_in))
            self.w_rec = brainstate.ParamState(jnp.asarray(w_rec))
            self.w_out = brainstate.ParamState(jnp.asarray(w_out))
            self.beta = jnp.asarray(beta)

        def init_state(self, batch_size=None, **kwargs):
            z = jnp.zeros((batch_size, self.n), jnp.float32)
            self.v = brainstate.HiddenState(z)
            self.a = brainstate.HiddenState(z)
            self.z = brainstate.HiddenState(z)
            self.y = brainstate.HiddenState(jnp.zeros((batch_size, N_OUT), jnp.float32))

        def update(self, x):
            z = self.z.value
            v = ALPHA * (self.v.value - jax.lax.stop_gradient(z))
            v = v + braintrace.matmul(x, self.w_in.value) + braintrace.matmul(z, self.w_rec.value)
            a = RHO * self.a.value + z
            z_new = spike(v - 1.0 - self.beta * a)
            self.v.value, self.a.value, self.z.value = v, a, z_new
            self.y.value = KAPPA * self.y.value + braintrace.matmul(z_new, self.w_out.value)
            return self.y.value

    return ALIFNet(n)


def build(n, rule, steps, every_step=False):
    import brainstate
    import braintrace

    model = _network(n)
    xs, ys = cue_data(steps, every_step=every_step)
    opts = {"decay_or_rank": ALPHA} if rule == "es_d_rtrl" else {}
    learner = braintrace.compile(model, rule, xs[0], batch_size=BATCH, **opts)

    def loss(x, y):
        return step_loss(learner(x), y)

    @brainstate.transform.jit
    def grad(xs, ys):
        return learner.etrace_grad(xs, ys, step_fn=loss, reduction="sum")

    return grad, xs, ys


def main():
    import braintrace

    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="64,256,1024")
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--rules", default="d_rtrl,es_d_rtrl")
    ap.add_argument("--memory", default="")
    ap.add_argument("--every-step", action="store_true", help="the loss at every step")
    args = ap.parse_args()
    rows = []
    for rule in args.rules.split(","):
        for n in [int(s) for s in args.sizes.split(",")]:
            grad, xs, ys = build(n, rule, args.steps, args.every_step)
            jax.block_until_ready(grad(xs, ys))
            best = float("inf")
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                jax.block_until_ready(grad(xs, ys))
                best = min(best, time.perf_counter() - t0)
            rows.append(
                {
                    "case": "time",
                    "rule": rule,
                    "N": n,
                    "B": BATCH,
                    "T": args.steps,
                    "loss": "every step" if args.every_step else "decision window",
                    "ms_per_step": best / args.steps * 1e3,
                }
            )
        for t in [int(s) for s in args.memory.split(",") if s]:
            grad, xs, ys = build(256, rule, t)
            m = grad.lower(xs, ys).compile().memory_analysis() if hasattr(grad, "lower") else None
            if m is None:
                continue
            rows.append(
                {
                    "case": "memory",
                    "rule": rule,
                    "N": 256,
                    "B": BATCH,
                    "T": t,
                    "temp": int(m.temp_size_in_bytes),
                    "argument": int(m.argument_size_in_bytes),
                    "output": int(m.output_size_in_bytes),
                    "total": int(
                        m.argument_size_in_bytes
                        + m.output_size_in_bytes
                        + m.temp_size_in_bytes
                        - m.alias_size_in_bytes
                    ),
                }
            )
    print(json.dumps({"braintrace": braintrace.__version__, "jax": jax.__version__, "rows": rows}))


if __name__ == "__main__":
    main()
