"""Jaxley on the dendrite benchmark cell (see benchmarks/dendrite.py), one JSON line out.

Runs inside benchmarks/.envs/jaxley (``python3 -m venv benchmarks/.envs/jaxley &&
benchmarks/.envs/jaxley/bin/pip install jaxley``), pinned to CPU 0:

    benchmarks/.envs/jaxley/bin/python benchmarks/_dendrite_jaxley.py [--x64] [--batch 100]

The cell: tests/reference/neuron/n120.swc read by ``jx.read_swc(path, ncomp=4)``, Ra 100
ohm cm, cm 1 uF/cm2, v_init -65 mV, dt 0.025 ms, backward Euler ("bwd_euler"), 50 ms.
Jaxley's HH has no temperature (its rates are hh's at 6.3 degC, where NEURON's q10
factor is 1). Models:

- ``hh_soma``: HH (gNa 0.6, gK 0.18, gLeak 3e-4 S/cm2) in the soma group, Leak (1e-4
  S/cm2, -65 mV) in every other branch, step current 2 nA from 5 to 35 ms at the soma
  compartment nearest soma(0.5);
- ``hh_all``: standard HH everywhere, 0.1 nA at the compartment nearest SWC point 410.

Timed: SWC read (+ building: channels, parameters), the first run (compile), the
steady run (min of --repeats), a vmapped batch of --batch cells (stimulus amplitudes
+-10 %, ``data_stimulate``), and (hh_soma) the gradient of mean((V_soma + 40)^2) with
respect to HH's gNa, gK and Leak's gLeak (``make_trainable`` per group, one value
each), with the compiled program's memory. Soma spikes: upward crossings of -20 mV.
"""

# ruff: noqa: B023  (each case's closures are called within the iteration that makes them)

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
SWC = HERE.parent / "tests" / "reference" / "neuron" / "n120.swc"
T_MS, DT_MS = 50.0, 0.025


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--x64", action="store_true")
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--models", default="hh_soma,hh_all")
    ap.add_argument("--no-grad", action="store_true")
    args = ap.parse_args()
    try:
        os.sched_setaffinity(0, {0})
    except OSError:
        pass
    t0 = time.perf_counter()
    import jax

    jax.config.update("jax_enable_x64", args.x64)
    jax.config.update("jax_platform_name", "cpu")
    import jax.numpy as jnp
    import jaxley as jx
    import numpy as np
    from jaxley.channels import HH, Leak

    import_s = time.perf_counter() - t0
    out: dict = {
        "jaxley_version": jx.__version__ if hasattr(jx, "__version__") else None,
        "jax_version": jax.__version__,
        "x64": args.x64,
        "import_s": import_s,
        "cases": {},
    }
    try:
        from importlib.metadata import version

        out["jaxley_version"] = version("jaxley")
    except Exception:
        pass
    swc_pts = np.loadtxt(SWC)
    tip = swc_pts[swc_pts[:, 0] == 410][0, 2:5]

    def spikes(v: np.ndarray) -> int:
        return int(np.sum((v[:-1] < -20.0) & (v[1:] >= -20.0)))

    for model in args.models.split(","):
        res: dict = {}
        for k in range(2):  # the second build in the process is the one reported
            t0 = time.perf_counter()
            cell = jx.read_swc(str(SWC), ncomp=4)
            t_read = time.perf_counter() - t0
            cell.set("axial_resistivity", 100.0)
            cell.set("capacitance", 1.0)
            groups = set(cell.group_names)
            if model == "hh_all":
                cell.insert(HH())
            else:
                cell.soma.insert(HH())
                cell.soma.set("HH_gNa", 0.6)
                cell.soma.set("HH_gK", 0.18)
                for g in sorted(groups - {"soma"}):
                    getattr(cell, g).insert(Leak())
                    getattr(cell, g).set("Leak_gLeak", 1e-4)
                    getattr(cell, g).set("Leak_eLeak", -65.0)
            cell.set("v", -65.0)
            cell.init_states()
            t_build = time.perf_counter() - t0
            if k == 0:
                res["swc_read_first_s"], res["swc_to_runnable_first_s"] = t_read, t_build
        res["swc_read_s"], res["swc_to_runnable_s"] = t_read, t_build
        res["groups"] = sorted(groups)
        res["n_branches"] = int(cell.total_nbranches) if hasattr(cell, "total_nbranches") else None
        res["n_compartments"] = int(len(cell.nodes))
        cell.compute_compartment_centers()
        xyz = cell.nodes[["x", "y", "z"]].to_numpy()
        soma_idx = cell.nodes.index[cell.nodes["soma"]].to_numpy() if "soma" in cell.nodes else None
        if soma_idx is None or len(soma_idx) == 0:
            soma_idx = np.arange(len(cell.nodes))
        # NEURON's soma(0.5) of the first soma section ~ the first SWC point (0, 0, 0)
        s = int(soma_idx[np.argmin(np.linalg.norm(xyz[soma_idx] - swc_pts[0, 2:5], axis=1))])
        res["soma_comp"] = s
        res["soma_comp_dist_um"] = float(np.linalg.norm(xyz[s] - swc_pts[0, 2:5]))
        if model == "hh_all":
            site = int(np.argmin(np.linalg.norm(xyz - tip, axis=1)))
            res["stim_comp_dist_um"] = float(np.linalg.norm(xyz[site] - tip))
            base = 0.1
        else:
            site, base = s, 2.0
        res["stim_comp"] = site
        cell.select(nodes=np.array([s])).record("v", verbose=False)

        def sim(amp, params=None):
            cur = jx.step_current(5.0, 30.0, amp, DT_MS, T_MS)
            ds = cell.select(nodes=np.array([site])).data_stimulate(cur)
            v = jx.integrate(
                cell,
                params=params or [],
                data_stimuli=ds,
                delta_t=DT_MS,
                t_max=T_MS,
                solver="bwd_euler",
            )
            return v[0]

        f = jax.jit(sim)
        amp0 = jnp.asarray(base)
        t0 = time.perf_counter()
        v = np.asarray(jax.block_until_ready(f(amp0)))
        res["first_run_s"] = time.perf_counter() - t0
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            jax.block_until_ready(f(amp0))
            times.append(time.perf_counter() - t0)
        res["run_min_s"] = min(times)
        res["compile_s"] = res["first_run_s"] - res["run_min_s"]
        res["n_steps_out"] = int(v.shape[-1])
        res["soma_spikes"] = spikes(v)
        bad = np.flatnonzero(~np.isfinite(v))
        res["soma_nonfinite_from_ms"] = float(bad[0] * DT_MS) if len(bad) else None
        res["soma_v_max_mV"] = float(np.nanmax(v))
        res["soma_v_end_mV"] = float(v[-1]) if np.isfinite(v[-1]) else None
        print(
            f"# {model}: run {res['run_min_s'] * 1e3:.1f} ms, compile {res['compile_s']:.2f} s, "
            f"spikes {res['soma_spikes']}",
            file=sys.stderr,
            flush=True,
        )
        if args.batch > 1:
            amps = base * (0.9 + 0.2 * jnp.linspace(0, 1, args.batch))
            fb = jax.jit(jax.vmap(sim))
            t0 = time.perf_counter()
            vb = np.asarray(jax.block_until_ready(fb(amps)))
            res["batch_first_run_s"] = time.perf_counter() - t0
            bt = []
            for _ in range(max(1, args.repeats - 1)):
                t0 = time.perf_counter()
                jax.block_until_ready(fb(amps))
                bt.append(time.perf_counter() - t0)
            res["batch"] = args.batch
            res["batch_run_min_s"] = min(bt)
            res["batch_soma_spikes_min_max"] = [min(map(spikes, vb)), max(map(spikes, vb))]
            print(
                f"# {model}: batch {args.batch} run {res['batch_run_min_s']:.2f} s",
                file=sys.stderr,
                flush=True,
            )
        if model == "hh_soma" and not args.no_grad:
            cell.soma.make_trainable("HH_gNa", verbose=False)
            cell.soma.make_trainable("HH_gK", verbose=False)
            for g in sorted(groups - {"soma"}):
                getattr(cell, g).make_trainable("Leak_gLeak", verbose=False)
            params = cell.get_parameters()

            def loss(params):
                return jnp.mean((sim(amp0, params) + 40.0) ** 2)

            for name, fn in (("forward", jax.jit(loss)), ("gradient", jax.jit(jax.grad(loss)))):
                t0 = time.perf_counter()
                val = jax.block_until_ready(fn(params))
                res[f"{name}_first_s"] = time.perf_counter() - t0
                ts = []
                for _ in range(args.repeats):
                    t0 = time.perf_counter()
                    jax.block_until_ready(fn(params))
                    ts.append(time.perf_counter() - t0)
                res[f"{name}_min_s"] = min(ts)
                try:
                    mem = fn.lower(params).compile().memory_analysis()
                    res[f"{name}_temp_bytes"] = int(mem.temp_size_in_bytes)
                except Exception as e:
                    res[f"{name}_memory_error"] = repr(e)[:200]
                if name == "gradient":
                    res["gradient"] = [
                        {k: np.asarray(v).tolist() for k, v in p.items()} for p in val
                    ]
                else:
                    res["loss"] = float(val)
            res["gradient_over_forward"] = res["gradient_min_s"] / res["forward_min_s"]
            res["n_trainable_groups"] = len(params)
            print(f"# gradient {res['gradient_min_s'] * 1e3:.1f} ms", file=sys.stderr, flush=True)
        out["cases"][model] = res
    print(json.dumps(out))


if __name__ == "__main__":
    main()
