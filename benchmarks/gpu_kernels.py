"""Check and time neurodyn's Pallas GPU scatter kernel against the pure-JAX reference.

On a GPU machine (benchmarks/gpu.sh runs it first): for N in {10k, 100k} (p = 80 / N, one
homogeneous and one per-synapse weight) and 1% / 5% of the neurons spiking, the kernel's
``s @ W`` must equal the reference's (which XLA runs, O(nnz)); then both are timed
(min of 50 calls, compile excluded). Prints one line per case and writes
results/gpu-kernels-<date>.json. Off a GPU it runs the kernel in interpret mode at 1k only.

    python benchmarks/gpu_kernels.py
"""

from __future__ import annotations

import datetime
import json
import pathlib
import time

import jax
import jax.numpy as jnp
import numpy as np

from neurodyn import event
from neurodyn.event import _gpu, _ops


def timed(fn, *args, calls: int = 50) -> float:
    jax.block_until_ready(fn(*args))
    best = float("inf")
    for _ in range(calls):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(*args))
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    on_gpu = jax.default_backend() == "gpu"
    sizes = (10_000, 100_000) if on_gpu else (1000,)
    print(f"jax {jax.__version__}, backend {jax.default_backend()}, devices {jax.devices()}")
    rows = []
    rng = np.random.default_rng(0)
    for n in sizes:
        for homo in (True, False):
            weight = 1.0 if homo else (lambda r, k: r.uniform(0, 1, k).astype(np.float32))
            conn = event.FixedProb(80 / n, seed=1).build(n, n, weight=weight)
            w = jnp.asarray(conn.data, jnp.float32).reshape(-1)
            idx, ptr = jnp.asarray(conn.indices), jnp.asarray(conn.indptr)
            ref = jax.jit(
                lambda s, w=w, idx=idx, ptr=ptr, homo=homo, n=n: _ops._ref_csr_scatter(
                    w, idx, ptr, s, homo=homo, n_post=n
                )
            )
            kern = jax.jit(
                lambda s, w=w, idx=idx, ptr=ptr, homo=homo, n=n: _gpu.csr_scatter_pallas(
                    w, idx, ptr, s, homo=homo, n_post=n, interpret=not on_gpu
                )
            )
            for rate in (0.01, 0.05):
                s = jnp.asarray(rng.random((1, n)) < rate)
                a, b = np.asarray(kern(s)), np.asarray(ref(s))
                ok = bool(np.allclose(a, b, rtol=1e-5, atol=1e-4))
                t_k, t_r = timed(kern, s), timed(ref, s)
                row = {
                    "N": n,
                    "homo": homo,
                    "rate": rate,
                    "equal": ok,
                    "pallas_ms": t_k * 1e3,
                    "reference_ms": t_r * 1e3,
                }
                rows.append(row)
                print(
                    f"N={n:>7} {'homo' if homo else 'w_ij'} {rate:.0%}: equal {ok}, "
                    f"pallas {t_k * 1e3:.3f} ms, reference {t_r * 1e3:.3f} ms"
                )
    out = pathlib.Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    path = out / f"gpu-kernels-{datetime.date.today():%Y%m%d}.json"
    path.write_text(json.dumps({"backend": jax.default_backend(), "rows": rows}, indent=2))
    print(f"wrote {path}")
    if not all(r["equal"] for r in rows):
        raise SystemExit("the Pallas kernel differs from the reference")


if __name__ == "__main__":
    main()
