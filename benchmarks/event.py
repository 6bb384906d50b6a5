"""Event-driven sparse matrix-vector products: neurodyn vs dense jnp vs brainevent, in one run.

Problem: y = s @ W, W (N, N) with each (pre, post) pair connected with probability
p = 0.02 (at every N), one homogeneous weight 1.0; s a bool spike vector with 1% or 5%
of its entries true. Every case runs under ``jax.jit``; compile is excluded. Two timings,
the cases interleaved in both so that drift in machine load affects all alike:

  warm  each sample is 20 consecutive calls after one untimed call (dense: 1) and a 20 ms
        pause (the machine idle again after the previous case), so a call finds the
        connectivity in the caches as a simulation loop does when its connectivity fits
        (at N = 10k the CSR indices are 8 MB, the last-level cache here 32 MB). The
        headline numbers (``min_ms``, ``median_ms``) and the issue's targets use these.
  cold  before each timed call 96 MB are written (``_timing.cold``), so the call reads
        its connectivity from DRAM (``cold_min_ms``, ``cold_median_ms``).

Cases:
  dense jnp           s.astype(float32) @ W (N <= 10000; 40k dense would be 6.4 GB)
  neurodyn CSR        s @ FixedProb(0.02, seed=0).build(N, N, weight=1.0)
  neurodyn JIT conn   s @ JitProb(N, N, 0.02, weight=1.0, seed=0)
  brainevent CSR      BinaryArray(s) @ brainevent.CSR, same indices/indptr as neurodyn's
  brainevent JIT conn BinaryArray(s) @ JITCScalarR((1.0, 0.02, 0), corder=True)

Build: the time of ``FixedProb(80 / N, seed=0).build(N, N, weight=1.0)`` at N = 200k
(``--build-n``; 16M synapses, host-side numpy; a per-neuron Python loop would take
minutes), min and median of 3 builds after an untimed one (``build`` in the JSON).

Run with `cd benchmarks && python event.py` in an environment that has both neurodyn and
brainevent; without brainevent its columns are skipped. neurodyn's scatter of bool spikes
through a homogeneous weight takes one helper thread from XLA's pool from 40k synapses on
(N=10k at 5%: 100k); `NEURODYN_NATIVE_THREADS=1 python event.py` times it on one core.
Results are also written to results/event-<YYYYMMDD>.json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import platform
import sys

import jax
import jax.numpy as jnp
import numpy as np
from _timing import cold, cpu_model, interleaved

import neurodyn.event as ev

try:
    import brainevent as be
except ImportError:  # pragma: no cover - anchor not installed
    be = None

P = 0.02
WEIGHT = 1.0
SIZES = (1000, 4000, 10000, 40000)
RATES = (0.01, 0.05)
DENSE_MAX_N = 10000  # 40000^2 float32 = 6.4 GB
CASES = ("dense jnp", "neurodyn CSR", "neurodyn JIT conn", "brainevent CSR", "brainevent JIT conn")


REPEATS = {"small": 50, "large": 30}  # timed samples per case at N <= 10000 / above
WARM_BLOCK = 20  # consecutive calls per warm sample (dense: 1)
# Sleep before each warm sample. XLA runs the dense product on both cores, and its worker
# threads keep the machine busy for a while after the call: measured at N=10k, the case
# timed next (neurodyn CSR) had a 10-15% higher min without this pause.
SETTLE_S = 0.02
BUILD_N = 200_000  # the build case: FixedProb(BUILD_K / N) at N x N
BUILD_K = 80  # mean out-degree
BUILD_REPEATS = 3


def repeats_for(n: int) -> int:
    """Timed calls per case (one call per sample); fewer at the largest size."""
    return REPEATS["large"] if n >= 40000 else REPEATS["small"]


def spikes(n: int, rate: float, seed: int = 1) -> jax.Array:
    """A bool vector with exactly round(rate * n) entries true, at random positions."""
    rng = np.random.default_rng(seed)
    s = np.zeros(n, bool)
    s[rng.choice(n, size=round(rate * n), replace=False)] = True
    return jnp.asarray(s)


def build(n: int) -> dict[str, object]:
    """Connectivity objects for one size. neurodyn and brainevent CSR share one structure."""
    conn = ev.FixedProb(P, seed=0).build(n, n, weight=WEIGHT)
    mats: dict[str, object] = {
        "conn": conn,
        "jc": ev.JitProb(n, n, P, weight=WEIGHT, seed=0),
    }
    if n <= DENSE_MAX_N:
        mats["dense"] = jnp.asarray(conn.todense(), jnp.float32)
    if be is not None:
        indices = jnp.asarray(np.asarray(conn.indices))
        indptr = jnp.asarray(np.asarray(conn.indptr))
        # Homogeneous weight: data of size 1 selects brainevent's scalar-weight kernels.
        csr = be.CSR((jnp.full((1,), WEIGHT, jnp.float32), indices, indptr), shape=(n, n))
        # brainevent creates a task workspace buffer on the first binary product and stores
        # it on the matrix object; done inside jit on a closed-over matrix it leaks a tracer
        # into that object. One eager product first stores concrete arrays instead.
        (be.BinaryArray(jnp.zeros(n, bool)) @ csr).block_until_ready()
        mats["be_csr"] = csr
        # vector @ JITCScalar* computes M^T @ v with corder=(not corder). corder=True here
        # gives the scatter kernel (numba), a loop over the active presynaptic rows only;
        # the default corder=False gives the gather kernel, a loop over all N outputs that
        # regenerates every row whatever the spikes: ~17x slower at N=10000, rate 5%
        # (45 ms vs 2.6 ms measured on the 2-core dev machine).
        mats["be_jit"] = be.JITCScalarR((WEIGHT, P, 0), shape=(n, n), corder=True)
    return mats


def build_case(n: int, repeats: int = BUILD_REPEATS) -> dict[str, object]:
    """Time building the CSR of FixedProb(BUILD_K / n) at n x n (homogeneous weight),
    compile-free host code: one untimed build, then ``repeats`` timed ones."""
    p = BUILD_K / n
    nnz = []

    def one():
        conn = ev.FixedProb(p, seed=0).build(n, n, weight=WEIGHT)
        jax.block_until_ready(conn)
        nnz.append(conn.nnz)

    ((mn, med),) = interleaved({"neurodyn CSR": one}, number=1, repeats=repeats).values()
    print(f"  N={n:>6}, p={BUILD_K}/N: {nnz[-1]} synapses, min {mn:.3f} s, median {med:.3f} s")
    return {
        "case": f"FixedProb({BUILD_K}/N).build",
        "N": n,
        "simulator": "neurodyn CSR",
        "nnz": nnz[-1],
        "builds": repeats,
        "run_min_s": mn,
        "run_median_s": med,
    }


def functions(mats: dict[str, object]) -> dict[str, object]:
    """Jitted s -> y for each case available at this size."""
    conn, jc = mats["conn"], mats["jc"]
    fns = {
        "neurodyn CSR": jax.jit(lambda s: s @ conn),
        "neurodyn JIT conn": jax.jit(lambda s: s @ jc),
    }
    if "dense" in mats:
        # The dense matrix is passed as an argument, not closed over: closed over, its 400 MB
        # (N=10000) would be embedded in the compiled program as a constant.
        dense_fn = jax.jit(lambda s, w: s.astype(jnp.float32) @ w)
        w = mats["dense"]
        fns = {"dense jnp": lambda s: dense_fn(s, w), **fns}
    if "be_csr" in mats:
        csr, jm = mats["be_csr"], mats["be_jit"]
        fns["brainevent CSR"] = jax.jit(lambda s: be.BinaryArray(s) @ csr)
        fns["brainevent JIT conn"] = jax.jit(lambda s: be.BinaryArray(s) @ jm)
    return fns


def check(n: int, s: jax.Array, fns: dict[str, object]) -> dict[str, object]:
    """Correctness at one size. The CSR cases share one structure, so they must agree with
    each other and with dense; the JIT cases use different RNGs, so only their means are
    compared, loosely, with the expected n_active * p * w."""
    y = {name: np.asarray(fn(s)) for name, fn in fns.items()}
    expected = int(s.sum()) * P * WEIGHT
    out: dict[str, object] = {"N": n, "n_active": int(s.sum()), "expected_mean": expected}
    parts = []
    for other, tag in (("dense jnp", "dense"), ("brainevent CSR", "brainevent")):
        if other in y:
            ok = bool(np.allclose(y["neurodyn CSR"], y[other], rtol=1e-5, atol=1e-4))
            out[f"neurodyn CSR allclose {other}"] = ok
            parts.append(f"nd CSR == {tag}: {ok}")
    parts.append(f"mean: expected {expected:.2f}")
    for name, tag in (
        ("neurodyn CSR", "nd CSR"),
        ("neurodyn JIT conn", "nd JIT"),
        ("brainevent JIT conn", "be JIT"),
    ):
        if name in y:
            mean = float(y[name].mean())
            out[f"mean {name}"] = mean
            parts.append(f"{tag} {mean:.2f}")
            if "JIT" in name:
                out[f"mean {name} within 5%"] = bool(abs(mean - expected) <= 0.05 * expected)
    print(f"  N={n:>6}: " + ", ".join(parts))
    return out


def fmt(x: float | None, width: int = 11, spec: str = ".3f") -> str:
    return f"{'-':>{width}}" if x is None else f"{x:>{width}{spec}}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=list(SIZES), help="N values")
    ap.add_argument("--rates", type=float, nargs="+", default=list(RATES), help="spike fractions")
    ap.add_argument("--calls", type=int, help="timed calls per case (default 50, 30 at 40k)")
    ap.add_argument("--out", type=pathlib.Path, help="JSON path (default results/event-...)")
    ap.add_argument("--build-n", type=int, default=BUILD_N, help="N of the build case (0: none)")
    args = ap.parse_args()
    if args.calls:
        REPEATS["small"] = REPEATS["large"] = args.calls
    versions = {
        "python": platform.python_version(),
        "jax": jax.__version__,
        "numpy": np.__version__,
        "brainevent": None if be is None else be.__version__,
    }
    from neurodyn.event import _native

    native = bool(_native.available())
    print(
        f"jax {jax.__version__}, backend {jax.default_backend()}, "
        f"neurodyn native kernels {native}"
        + (
            " (one thread: NEURODYN_NATIVE_THREADS=1)"
            if os.environ.get("NEURODYN_NATIVE_THREADS", "").strip() == "1"
            else ""
        )
        + ("" if be is None else f", brainevent {be.__version__}")
        + f", {platform.machine()} {cpu_model()}, {os.cpu_count()} CPUs"
    )
    print(f"y = s @ W, W (N, N) with p={P}, homogeneous weight {WEIGHT}; s bool")
    if be is None:
        print("brainevent not installed: its columns are skipped")

    build_rows = []
    if args.build_n:
        print(f"\nbuild: FixedProb({BUILD_K}/N, seed=0).build(N, N), s per build")
        build_rows.append(build_case(args.build_n))

    rows, checks = [], []
    print("\ncorrectness (rate 5%):")
    for n in args.sizes:
        mats = build(n)
        fns = functions(mats)
        checks.append(check(n, spikes(n, 0.05), fns))
        for rate in args.rates:
            s = spikes(n, rate)
            cases = {name: (lambda f=fn, s=s: f(s).block_until_ready()) for name, fn in fns.items()}
            reps = repeats_for(n)
            # dense reads its whole matrix each call (400 MB at 10k): one call per sample
            block = {k: 1 if k == "dense jnp" else WARM_BLOCK for k in cases}
            res = interleaved(cases, number=block, repeats=reps, prime=True, settle=SETTLE_S)
            # and has no cache to be cold in
            res_cold = cold(
                {k: f for k, f in cases.items() if k != "dense jnp"}, repeats=max(10, reps // 2)
            )
            rows.append(
                {
                    "N": n,
                    "rate": rate,
                    "n_active": int(s.sum()),
                    "calls": reps,
                    "min_ms": {k: (res[k][0] * 1e3 if k in res else None) for k in CASES},
                    "median_ms": {k: (res[k][1] * 1e3 if k in res else None) for k in CASES},
                    "cold_min_ms": {
                        k: (res_cold[k][0] * 1e3 if k in res_cold else None) for k in CASES
                    },
                    "cold_median_ms": {
                        k: (res_cold[k][1] * 1e3 if k in res_cold else None) for k in CASES
                    },
                }
            )
        del mats, fns

    for row in rows:
        mn = row["min_ms"]
        row["neurodyn/brainevent CSR"] = (
            None if mn["brainevent CSR"] is None else mn["neurodyn CSR"] / mn["brainevent CSR"]
        )
        row["neurodyn/brainevent JIT"] = (
            None
            if mn["brainevent JIT conn"] is None
            else mn["neurodyn JIT conn"] / mn["brainevent JIT conn"]
        )

    short = ("dense", "nd CSR", "nd JIT", "be CSR", "be JIT")
    labels = {
        "min_ms": "warm, min",
        "median_ms": "warm, median",
        "cold_min_ms": "cold cache, min",
        "cold_median_ms": "cold cache, median",
    }
    for stat, label in labels.items():
        how = (
            f"{repeats_for(1000)} samples of {WARM_BLOCK} calls per case at N <= 10000,"
            f" {repeats_for(40000)} at N = 40000"
            if stat.startswith("min") or stat.startswith("median")
            else "96 MB written before each call"
        )
        print(f"\n{label}: ms per call (jit, compile excluded; {how})")
        header = f"  {'N':>6}{'rate':>6}" + "".join(f"{h:>11}" for h in short)
        ratios = stat in ("min_ms", "cold_min_ms")
        if ratios:
            header += f"{'CSR nd/be':>11}{'JIT nd/be':>11}"
        print(header)
        for row in rows:
            line = f"  {row['N']:>6}{row['rate']:>6.0%}"
            line += "".join(fmt(row[stat][k]) for k in CASES)
            if ratios:
                v = row[stat]
                for nd, be_ in (
                    ("neurodyn CSR", "brainevent CSR"),
                    ("neurodyn JIT conn", "brainevent JIT conn"),
                ):
                    line += fmt(None if v[be_] is None else v[nd] / v[be_], spec=".2f")
            print(line)

    scaling = scaling_cold = None
    for stat in ("min_ms", "cold_min_ms"):
        at10k = {row["rate"]: row[stat]["neurodyn CSR"] for row in rows if row["N"] == 10000}
        if 0.01 in at10k and 0.05 in at10k:
            ratio = at10k[0.01] / at10k[0.05]
            if stat == "min_ms":
                scaling = ratio
            else:
                scaling_cold = ratio
            print(
                f"\nneurodyn CSR, N=10000, {labels[stat]}: time(1%) / time(5%) = {ratio:.3f}"
                " (event-driven ideal 0.2)"
            )

    results = {
        "benchmark": "event: y = s @ W, bool s",
        "date": datetime.date.today().isoformat(),
        "p": P,
        "weight": WEIGHT,
        "versions": versions,
        "neurodyn_native": native,
        "NEURODYN_NATIVE_THREADS": os.environ.get("NEURODYN_NATIVE_THREADS"),
        "platform": {
            "processor": platform.processor(),
            "machine": platform.machine(),
            "cpu_model": cpu_model(),
            "system": platform.system(),
            "cpu_count": os.cpu_count(),
            "jax_backend": jax.default_backend(),
        },
        "command": " ".join([pathlib.Path(sys.executable).name, *sys.argv]),
        "brainevent_jit_orientation": "JITCScalarR(corder=True): s @ W uses the scatter kernel",
        "rows": rows,
        "neurodyn_csr_10k_time_1pct_over_5pct": scaling,
        "neurodyn_csr_10k_time_1pct_over_5pct_cold": scaling_cold,
        "checks": checks,
        "build": build_rows,
    }
    out_dir = pathlib.Path(__file__).resolve().parent / "results"
    path = args.out or out_dir / f"event-{datetime.date.today():%Y%m%d}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
