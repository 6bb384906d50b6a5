"""brainevent's plasticity update, timed for benchmarks/custom_ops.py (run there in a
subprocess with the interpreter of benchmarks/.envs/brainevent; never imported by neurodyn).

Reads the problem from an .npz (``indptr``, ``indices``, ``data``, ``trace``, ``spikes``
[STEPS, n]: the same structure, weights, trace and spikes as the neurodyn cases), runs
``update_csr_on_binary_pre(w, indices, indptr, spikes[i], -A * trace, w_min=0, w_max=1)``
for every step under ``jax.jit`` inside a ``lax.fori_loop`` (as the neurodyn cases), with
brainevent's generic pure-JAX kernel (``backend="jax_raw"``) and, when numba is installed
here, its numba kernel; prints one JSON line ``{case: [min_s, median_s] per step, ...}``
and checks the final weights against the expected ones (``--check PATH.npy``).

    python _custom_ops_brainevent.py PROBLEM.npz [--check W.npy]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import timeit

import jax
import jax.numpy as jnp
import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("problem")
    ap.add_argument("--check")
    ap.add_argument("--A", type=float, default=0.01)
    args = ap.parse_args()
    import brainevent as be

    z = np.load(args.problem)
    indptr, indices = jnp.asarray(z["indptr"]), jnp.asarray(z["indices"])
    data, trace, spikes = jnp.asarray(z["data"]), jnp.asarray(z["trace"]), jnp.asarray(z["spikes"])
    n_pre, n_post = int(indptr.shape[0] - 1), int(trace.shape[0])
    steps = int(spikes.shape[0])
    backends = ["jax_raw"] + (["numba"] if importlib.util.find_spec("numba") else [])

    def loop(backend):
        # the arrays as arguments (closed over, XLA constant-folds the structure for minutes)
        def run(data, indices, indptr, spikes, trace):
            def step(i, w):
                return be.update_csr_on_binary_pre(
                    w,
                    indices,
                    indptr,
                    spikes[i],
                    -args.A * trace,
                    w_min=0.0,
                    w_max=1.0,
                    shape=(n_pre, n_post),
                    backend=backend,
                )

            return jax.lax.fori_loop(0, steps, step, data)

        f = jax.jit(run)
        return lambda: f(data, indices, indptr, spikes, trace)

    fns = {f"brainevent {b}": loop(b) for b in backends}
    for f in fns.values():
        out = jax.block_until_ready(f())
        if args.check:
            np.testing.assert_allclose(np.asarray(out), np.load(args.check), rtol=1e-5, atol=1e-6)
    samples = {k: [] for k in fns}
    for _ in range(7):
        for k, f in fns.items():
            samples[k].append(timeit.timeit(lambda f=f: jax.block_until_ready(f()), number=3) / 3)
    res = {k: [min(s) / steps, statistics.median(s) / steps] for k, s in samples.items()}
    res["versions"] = {"brainevent": be.__version__, "jax": jax.__version__}
    print(json.dumps(res))


if __name__ == "__main__":
    main()
