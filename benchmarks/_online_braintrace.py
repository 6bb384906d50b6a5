"""braintrace's side of ``benchmarks/online.py``, run in its own environment
(``benchmarks/.envs/braintrace``): the same recurrent ALIF network (``online.ALIFNet``:
N_IN Poisson inputs -> N ALIF neurons -> N_OUT leaky readouts, B = 16, float32) written
with brainstate States and ``braintrace.matmul``; the gradient of the summed squared
error over T steps with ``etrace_grad`` for D-RTRL and ES-D-RTRL (pp_prop).

    benchmarks/.envs/braintrace/bin/python benchmarks/_online_braintrace.py \
        --sizes 64,256,1024 --steps 100 --repeats 3 [--memory 100,1000,5000]

Prints one JSON object (rows of ``{"case", "rule", "N", "B", "T", ...}``).
"""

from __future__ import annotations

import argparse
import json
import time

import brainstate
import braintrace
import jax
import jax.numpy as jnp
import numpy as np

N_IN, N_OUT, BATCH = 32, 4, 16


@jax.custom_jvp
def spike(u):
    return (u > 0).astype(u.dtype)


@spike.defjvp
def _spike_jvp(primals, tangents):
    (u,), (du,) = primals, tangents
    return spike(u), du / (1.0 + jnp.abs(u)) ** 2  # fast sigmoid, scale 1


class ALIFNet(brainstate.nn.Module):
    def __init__(self, n, seed=0):
        super().__init__()
        r = np.random.default_rng(seed)
        f32 = np.float32
        self.n = n
        self.w_in = brainstate.ParamState(
            jnp.asarray(r.normal(size=(N_IN, n)) / np.sqrt(N_IN), f32)
        )
        self.w_rec = brainstate.ParamState(
            jnp.asarray(r.normal(size=(n, n)) / np.sqrt(n) * 0.5, f32)
        )
        self.w_out = brainstate.ParamState(jnp.asarray(r.normal(size=(n, N_OUT)) / np.sqrt(n), f32))
        self.alpha, self.rho, self.beta = np.exp(-1 / 20), np.exp(-1 / 200), 1.8
        self.kappa = np.exp(-1 / 20)

    def init_state(self, batch_size=None, **kwargs):
        z = jnp.zeros((batch_size, self.n), jnp.float32)
        self.v = brainstate.HiddenState(z)
        self.a = brainstate.HiddenState(z)
        self.z = brainstate.HiddenState(z)
        self.y = brainstate.HiddenState(jnp.zeros((batch_size, N_OUT), jnp.float32))

    def update(self, x):
        z = self.z.value
        cur = braintrace.matmul(x, self.w_in.value) + braintrace.matmul(z, self.w_rec.value)
        v = self.alpha * self.v.value + (1 - self.alpha) * cur - jax.lax.stop_gradient(z) * 0.6
        a = self.rho * self.a.value + z
        z_new = spike((v - (0.6 + self.beta * 0.07 * a)) / 0.6)
        self.v.value, self.a.value, self.z.value = v, a, z_new
        self.y.value = self.kappa * self.y.value + braintrace.matmul(z_new, self.w_out.value)
        return self.y.value


def data(steps):
    key = jax.random.key(0)
    xs = (jax.random.uniform(key, (steps, BATCH, N_IN)) < 0.1).astype(jnp.float32)
    t = jnp.arange(steps, dtype=jnp.float32)[:, None]
    ys = jnp.sin(0.05 * t + jnp.arange(N_OUT, dtype=jnp.float32))
    return xs, jnp.broadcast_to(ys[:, None], (steps, BATCH, N_OUT))


def build(n, rule, steps):
    model = ALIFNet(n)
    xs, ys = data(steps)
    opts = {"decay_or_rank": float(np.exp(-1 / 20))} if rule == "es_d_rtrl" else {}
    learner = braintrace.compile(model, rule, xs[0], batch_size=BATCH, **opts)

    def step_loss(x, y):
        return jnp.mean((learner(x) - y) ** 2)

    @brainstate.transform.jit
    def grad(xs, ys):
        return learner.etrace_grad(xs, ys, step_fn=step_loss, reduction="sum")

    return grad, xs, ys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="64,256,1024")
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--rules", default="d_rtrl,es_d_rtrl")
    ap.add_argument("--memory", default="")
    args = ap.parse_args()
    rows = []
    for rule in args.rules.split(","):
        for n in [int(s) for s in args.sizes.split(",")]:
            grad, xs, ys = build(n, rule, args.steps)
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
