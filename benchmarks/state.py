"""State transforms overhead: neurodyn vs hand-written pure jax.jit vs brainstate.

1. Per-call overhead of a jitted step over a module with 100 States (each a
   float32[16], updated every call), against the same computation written as
   a pure function of a tuple of 100 arrays under jax.jit. Target <= 1.5x.
2. Trace (first call) time for a module with 1000 States.

Run with `make bench`; brainstate is optional (installed in benchmarks/.envs/anchors).
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
from _timing import interleaved, out_arg, record, report, write_json

import neurodyn as nd

try:
    import brainstate as bst
except ImportError:  # pragma: no cover - anchor not installed
    bst = None

N_STATES, SIZE = 100, 16


class Many(nd.Module):
    def __init__(self, n):
        self.hs = [nd.Hidden(jnp.full(SIZE, float(i))) for i in range(n)]

    def step(self, x):
        for h in self.hs:
            h.value = h.value * 0.9 + x
        return self.hs[0].value


def pure_step(values, x):
    values = tuple(v * 0.9 + x for v in values)
    return values, values[0]


def bench_call_overhead():
    x = jnp.ones(SIZE)
    model = Many(N_STATES)
    nd_step = nd.jit(model.step)
    pure = jax.jit(pure_step)
    box = {"values": tuple(jnp.full(SIZE, float(i)) for i in range(N_STATES))}

    def run_pure():
        box["values"], out = pure(box["values"], x)
        return out

    cases = {
        "pure jax.jit (tuple of 100)": lambda: run_pure().block_until_ready(),
        "neurodyn nd.jit": lambda: nd_step(x).block_until_ready(),
    }
    if bst is not None:
        hs = [bst.HiddenState(jnp.full(SIZE, float(i))) for i in range(N_STATES)]

        def bst_fn(x):
            for h in hs:
                h.value = h.value * 0.9 + x
            return hs[0].value

        jit = getattr(bst, "transform", None)
        jit = jit.jit if jit is not None and hasattr(jit, "jit") else bst.compile.jit
        bst_step = jit(bst_fn)
        cases["brainstate jit"] = lambda: bst_step(x).block_until_ready()
    report(
        f"per-call overhead, {N_STATES} States of float32[{SIZE}]",
        interleaved(cases, number=300),
        "pure jax.jit (tuple of 100)",
    )


def bench_trace_time(n=1000):
    x = jnp.ones(SIZE)
    rows = {}
    model = Many(n)
    t0 = time.perf_counter()
    jax.block_until_ready(nd.jit(model.step)(x))
    rows["neurodyn nd.jit"] = time.perf_counter() - t0
    values = tuple(jnp.full(SIZE, float(i)) for i in range(n))
    t0 = time.perf_counter()
    jax.block_until_ready(jax.jit(pure_step)(values, x))
    rows["pure jax.jit"] = time.perf_counter() - t0
    if bst is not None:
        hs = [bst.HiddenState(jnp.full(SIZE, float(i))) for i in range(n)]

        def bst_fn(x):
            for h in hs:
                h.value = h.value * 0.9 + x
            return hs[0].value

        jit = getattr(bst, "transform", None)
        jit = jit.jit if jit is not None and hasattr(jit, "jit") else bst.compile.jit
        t0 = time.perf_counter()
        jax.block_until_ready(jit(bst_fn)(x))
        rows["brainstate jit"] = time.perf_counter() - t0
    base = rows["pure jax.jit"]
    print(f"\nfirst call (trace + compile), {n} States")
    for name, t in rows.items():
        print(f"  {name:<28}{t * 1e3:>10.1f} ms{t / base:>8.2f}x")
        record(f"first call (trace + compile), {n} States", name, t, baseline="pure jax.jit")


if __name__ == "__main__":
    args = out_arg(__doc__.splitlines()[0])
    print(
        f"jax {jax.__version__}, backend {jax.default_backend()}"
        + ("" if bst is None else f", brainstate {bst.__version__}")
    )
    bench_call_overhead()
    bench_trace_time()
    versions = {"jax": jax.__version__, "brainstate": None if bst is None else bst.__version__}
    write_json(args.out, "state transforms overhead", versions)
