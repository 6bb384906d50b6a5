"""Check and time neurodyn's Pallas GPU kernels against the pure-JAX references.

On a GPU machine (benchmarks/gpu.sh runs it first): for N in {10k, 100k} (p = 80 / N, one
homogeneous and one per-synapse weight), each kernel must equal its reference (which XLA
runs): the CSR scatter ``s @ W`` at 1% / 5% spiking, the CSR gather ``W @ x``, the fixed
fan-out scatter and gather (80 per row), and the CSR scatter on rows that repeat columns
(atomic adds to one address from one vector, which Pallas' interpret mode cannot check).
Then kernel and reference are timed (min of 50 calls, compile excluded). Prints one line
per case and writes results/gpu-kernels-<date>.json. Off a GPU it runs the kernels in
interpret mode at 1k only.

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
    interp = not on_gpu
    sizes = (10_000, 100_000) if on_gpu else (1000,)
    print(f"jax {jax.__version__}, backend {jax.default_backend()}, devices {jax.devices()}")
    rows = []
    rng = np.random.default_rng(0)

    def case(name, n, homo, kern, ref, arg, **extra):
        a, b = np.asarray(kern(arg)), np.asarray(ref(arg))
        ok = bool(np.allclose(a, b, rtol=1e-5, atol=1e-4))
        t_k, t_r = timed(kern, arg), timed(ref, arg)
        rows.append(
            {
                "case": name,
                "N": n,
                "homo": homo,
                "equal": ok,
                "pallas_ms": t_k * 1e3,
                "reference_ms": t_r * 1e3,
                **extra,
            }
        )
        tag = " ".join(f"{k} {v}" for k, v in extra.items())
        print(
            f"{name:<16} N={n:>7} {'homo' if homo else 'w_ij'} {tag}: equal {ok}, "
            f"pallas {t_k * 1e3:.3f} ms, reference {t_r * 1e3:.3f} ms"
        )

    for n in sizes:
        for homo in (True, False):
            weight = 1.0 if homo else (lambda r, k: r.uniform(0, 1, k).astype(np.float32))
            conn = event.FixedProb(80 / n, seed=1).build(n, n, weight=weight)
            w = jnp.asarray(conn.data, jnp.float32).reshape(-1)
            idx, ptr = jnp.asarray(conn.indices), jnp.asarray(conn.indptr)
            for rate in (0.01, 0.05):
                s = jnp.asarray(rng.random((1, n)) < rate)
                case(
                    "csr scatter",
                    n,
                    homo,
                    jax.jit(
                        lambda s, w=w, idx=idx, ptr=ptr, homo=homo, n=n: _gpu.csr_scatter_pallas(
                            w, idx, ptr, s, homo=homo, n_post=n, interpret=interp
                        )
                    ),
                    jax.jit(
                        lambda s, w=w, idx=idx, ptr=ptr, homo=homo, n=n: _ops._ref_csr_scatter(
                            w, idx, ptr, s, homo=homo, n_post=n
                        )
                    ),
                    s,
                    rate=rate,
                )
            x = jnp.asarray(rng.normal(size=(1, n)), jnp.float32)
            case(
                "csr gather",
                n,
                homo,
                jax.jit(
                    lambda x, w=w, idx=idx, ptr=ptr, homo=homo: _gpu.csr_gather_pallas(
                        w, idx, ptr, x, homo=homo, interpret=interp
                    )
                ),
                jax.jit(
                    lambda x, w=w, idx=idx, ptr=ptr, homo=homo: _ops._ref_csr_gather(
                        w, idx, ptr, x, homo=homo
                    )
                ),
                x,
            )
            # columns repeat within rows on the GPU; interpret mode applies one of several
            # atomic adds to one address from one vector, so it gets distinct ones
            fan = (
                jnp.asarray(np.stack([rng.permutation(n)[:80] for _ in range(n)]), jnp.int32)
                if interp
                else jnp.asarray(rng.integers(0, n, (n, 80)), jnp.int32)
            )
            wf = jnp.ones(1, jnp.float32) if homo else jnp.asarray(rng.random(n * 80), jnp.float32)
            s = jnp.asarray(rng.random((1, n)) < 0.05)
            case(
                "fanout scatter",
                n,
                homo,
                jax.jit(
                    lambda s, wf=wf, fan=fan, homo=homo, n=n: _gpu.fanout_scatter_pallas(
                        wf, fan, s, homo=homo, n_post=n, interpret=interp
                    )
                ),
                jax.jit(
                    lambda s, wf=wf, fan=fan, homo=homo, n=n: _ops._ref_fanout_scatter(
                        wf, fan, s, homo=homo, n_post=n
                    )
                ),
                s,
                rate=0.05,
            )
            case(
                "fanout gather",
                n,
                homo,
                jax.jit(
                    lambda x, wf=wf, fan=fan, homo=homo: _gpu.fanout_gather_pallas(
                        wf, fan, x, homo=homo, interpret=interp
                    )
                ),
                jax.jit(
                    lambda x, wf=wf, fan=fan, homo=homo: _ops._ref_fanout_gather(
                        wf, fan, x, homo=homo
                    )
                ),
                x,
            )
        if interp:
            continue  # (repeated addresses: see above)
        # rows of 200 synapses over 20 columns: every vector of atomic adds repeats columns
        dup = jnp.asarray(rng.integers(0, 20, n * 200 // 100), jnp.int32)
        dptr = jnp.arange(n // 100 + 1, dtype=jnp.int32) * 200
        s = jnp.asarray(rng.random((1, n // 100)) < 0.5)
        one = jnp.ones(1, jnp.float32)
        case(
            "csr scatter dup",
            n,
            True,
            jax.jit(
                lambda s, one=one, dup=dup, dptr=dptr, n=n: _gpu.csr_scatter_pallas(
                    one, dup, dptr, s, homo=True, n_post=n, interpret=interp
                )
            ),
            jax.jit(
                lambda s, one=one, dup=dup, dptr=dptr, n=n: _ops._ref_csr_scatter(
                    one, dup, dptr, s, homo=True, n_post=n
                )
            ),
            s,
            rate=0.5,
        )
    out = pathlib.Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    path = out / f"gpu-kernels-{datetime.date.today():%Y%m%d}.json"
    path.write_text(json.dumps({"backend": jax.default_backend(), "rows": rows}, indent=2))
    print(f"wrote {path}")
    bad = [f"{r['case']} N={r['N']}" for r in rows if not r["equal"]]
    if bad:
        raise SystemExit(f"Pallas kernels differ from the references: {', '.join(bad)}")


if __name__ == "__main__":
    main()
