"""Online learning (``neurodyn.online``) against BPTT: memory and time.

Model: a recurrent adaptive LIF network (Bellec et al. 2020), float32, batch B = 16:
32 Poisson inputs (probability 0.1 per step) -> N ALIF neurons (alpha = exp(-1/20),
rho = exp(-1/200), beta = 1.8, surrogate spikes, detached soft reset; W_in, W_rec trained)
-> 4 leaky readout units (kappa = exp(-1/20); W_out trained); squared error against
a fixed random target per step. Inputs and targets are made inside the compiled loop
from ``jax.random.fold_in(key, t)``: no [T, ...] array exists, for either rule.

1. Memory (bytes; XLA's ``memory_analysis`` of the compiled gradient function over T
   steps: arguments + outputs + temporaries) at N = 256 for T = 100, 1000, 5000:
   ES-D-RTRL, D-RTRL and e-prop (``stream_gradient``) vs BPTT (``nd.grad`` through an
   ``nd.for_loop``) and BPTT with O(sqrt T) checkpointing.
2. Time per time step of the gradient over T = 100 steps at N = 64, 256, 1024.

    python benchmarks/online.py [--quick] [--out results/online.json]
"""

from __future__ import annotations

import argparse
import pathlib
import time

import jax
import jax.numpy as jnp
import numpy as np
from _timing import ROWS, write_json

import neurodyn as nd
from neurodyn.dyn import surrogate
from neurodyn.train import checkpointed_for_loop

N_IN, N_OUT, BATCH = 32, 4, 16


class ALIFNet(nd.Module):
    def __init__(self, n, batch=BATCH, seed=0):
        r = np.random.default_rng(seed)
        f32 = np.float32
        self.w_in = nd.Param(jnp.asarray(r.normal(size=(N_IN, n)) / np.sqrt(N_IN), f32))
        self.w_rec = nd.Param(jnp.asarray(r.normal(size=(n, n)) / np.sqrt(n) * 0.5, f32))
        self.w_out = nd.Param(jnp.asarray(r.normal(size=(n, N_OUT)) / np.sqrt(n), f32))
        self.alpha, self.rho, self.beta = np.exp(-1 / 20), np.exp(-1 / 200), 1.8
        self.kappa = np.exp(-1 / 20)
        self.spike_fn = surrogate.FastSigmoid(1.0)
        z = jnp.zeros((batch, n), f32)
        self.v, self.a, self.z = nd.Hidden(z), nd.Hidden(z), nd.Hidden(z)
        self.y = nd.Hidden(jnp.zeros((batch, N_OUT), f32))

    def update(self, x):
        z = self.z.value
        cur = x @ self.w_in.value + z @ self.w_rec.value
        v = self.alpha * self.v.value + (1 - self.alpha) * cur - jax.lax.stop_gradient(z) * 0.6
        a = self.rho * self.a.value + z
        z_new = self.spike_fn((v - (0.6 + self.beta * 0.07 * a)) / 0.6)
        self.v.value, self.a.value, self.z.value = v, a, z_new
        self.y.value = self.kappa * self.y.value + z_new @ self.w_out.value
        return self.y.value


def source(i):
    key = jax.random.fold_in(jax.random.key(0), i)
    x = (jax.random.uniform(key, (BATCH, N_IN)) < 0.1).astype(jnp.float32)
    y = jnp.sin(0.05 * i.astype(jnp.float32) + jnp.arange(N_OUT, dtype=jnp.float32))
    return x, jnp.broadcast_to(y, (BATCH, N_OUT))


def loss(o, y):
    return jnp.mean((o - y) ** 2)


def bptt_fn(net, steps, checkpointed=False):
    """The compiled BPTT gradient (``nd.jit`` of ``nd.grad`` over an ``nd.for_loop``)."""
    params = net.states(nd.Param)

    def total():
        def step(i):
            x, y = source(i)
            return loss(net.update(x), y)

        idx = jnp.arange(steps)
        losses = checkpointed_for_loop(step, idx) if checkpointed else nd.for_loop(step, idx)
        return jnp.sum(losses)

    return nd.jit(nd.grad(total, params))


def bptt_compiled(net, steps, checkpointed=False):
    return bptt_fn(net, steps, checkpointed).lower().compile()


def online_compiled(net, steps, algorithm):
    return nd.online.stream_gradient(net, loss, source, steps, algorithm, compile_only=True)


def mem_bytes(compiled) -> dict:
    m = compiled.memory_analysis()
    total = (
        m.argument_size_in_bytes
        + m.output_size_in_bytes
        + m.temp_size_in_bytes
        - m.alias_size_in_bytes
    )
    return {"total": int(total), "temp": int(m.temp_size_in_bytes)}


def _mib(b):
    return f"{b / 2**20:9.2f}"


def bench_memory(n, lengths, algorithms):
    print(
        f"\nmemory (MiB, XLA memory_analysis: arguments + outputs + temporaries), N={n}, B={BATCH}"
    )
    print(f"  {'rule':<22}" + "".join(f"{'T=' + str(t):>12}" for t in lengths))
    rows = {}
    for name in [*algorithms, "bptt", "bptt_checkpointed"]:
        vals = []
        for t in lengths:
            net = ALIFNet(n)
            if name == "bptt":
                c = bptt_compiled(net, t)
            elif name == "bptt_checkpointed":
                c = bptt_compiled(net, t, checkpointed=True)
            else:
                c = online_compiled(net, t, name)
            mb = mem_bytes(c)
            vals.append(mb["total"])
            ROWS.append({"case": "memory", "rule": name, "N": n, "B": BATCH, "T": t, **mb})
        rows[name] = vals
        print(f"  {name:<22}" + "".join(f"{_mib(v):>12}" for v in vals))
    return rows


def bench_time(sizes, steps, algorithms, repeats):
    print(f"\ntime per time step (ms; min of {repeats} runs over T={steps}, B={BATCH})")
    print(f"  {'rule':<22}" + "".join(f"{'N=' + str(n):>12}" for n in sizes))
    for name in [*algorithms, "bptt"]:
        cells = []
        for n in sizes:
            net = ALIFNet(n)
            if name == "bptt":
                run = bptt_fn(net, steps)
            else:
                compiled = online_compiled(net, steps, name)
                args = _online_args(net)

                def run(compiled=compiled, args=args):
                    return compiled(*args)

            jax.block_until_ready(run())
            best = float("inf")
            for _ in range(repeats):
                t0 = time.perf_counter()
                jax.block_until_ready(run())
                best = min(best, time.perf_counter() - t0)
            ms = best / steps * 1e3
            cells.append(f"{ms:.3f}")
            ROWS.append({"case": "time", "rule": name, "N": n, "B": BATCH, "T": steps,
                         "ms_per_step": ms})  # fmt: skip
        print(f"  {name:<22}" + "".join(f"{c:>12}" for c in cells))


def _online_args(net):
    """The arguments of ``stream_gradient``'s compiled function: the values of the
    trained Params, the hidden States (batched) and the constants."""
    from neurodyn.online._step import StepFunction

    x0, _ = source(jnp.int32(0))
    st = StepFunction(net, x0)
    return (st.theta_leaves(), st.add_batch(st.hidden_leaves()), st.const_values())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="N = 64, 256 only; fewer repeats")
    ap.add_argument("--out", type=pathlib.Path)
    args = ap.parse_args()
    algorithms = ["es_d_rtrl", "d_rtrl", "eprop"]
    print(f"jax {jax.__version__}, {jax.devices()[0].platform}, float32")
    bench_memory(256, [100, 1000, 5000], algorithms)
    sizes = [64, 256] if args.quick else [64, 256, 1024]
    bench_time(sizes, 100, algorithms, 2 if args.quick else 3)
    write_json(args.out, "online", {"jax": jax.__version__})


if __name__ == "__main__":
    main()
