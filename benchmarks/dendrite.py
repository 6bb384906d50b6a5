"""neurodyn.dendrite against NEURON on a real reconstruction, one core each.

The cell: tests/reference/neuron/n120.swc (CA1 pyramidal cell n120, NeuroMorpho.org; 156
sections as NEURON's Import3d makes them), 4 compartments per section (624 compartments,
781 nodes with the zero-area section ends), Ra 100 ohm cm, cm 1 uF/cm2, 6.3 degC,
v_init -65 mV, fixed step 0.025 ms, backward Euler, 50 ms. Two models:

- ``hh_soma``: hh in the two soma sections, pas (1e-4 S/cm2, -65 mV) in the dendrites,
  IClamp 2 nA at soma(0.5) from 5 to 35 ms;
- ``hh_all``: hh in every section, IClamp 0.1 nA at the apical tip (SWC point 410).

hh rates exact (NEURON ``usetable_hh = 0``, neurodyn ``HH(table=False)``), and also with
NEURON's default rate table (``usetable_hh = 1``, ``HH(table=True)``).

Measured, both simulators pinned to CPU 0: SWC-to-runnable time (read the file, build
the sections or the Cell, insert the mechanisms; neurodyn's second build in the process,
the first is ``swc_to_runnable_first_s``), compile time (neurodyn: first run minus
the fastest later run), run time of 50 ms (min and median of the repeats), and a batch of
``--batch`` cells (NEURON: that many instances in one process; neurodyn: one Cell with a
batch axis, clamp amplitudes spread by +-10%), as ns per cell-compartment-step. neurodyn
runs in float32 (its default) and float64. ``--rounds`` alternations of the two
simulators, the fastest time of each kept; CPU times (``time.process_time``) beside the
wall-clock times and the load average before and after (the machine is shared). Also:
``--big-batch`` cells (default 1000; neurodyn, float32, exact rates) against the
``--batch`` figure ("no loss at 1000"; ``nd.run`` runs the big batch in lane blocks
that fit the cache, and it is also measured whole, ``lane_block=False``); the gradient
of a soma-trace loss with respect to the channel densities (hh's g_Na, g_K, pas's g as
``nd.Param``) through the 50 ms run (``nd.grad`` under ``nd.jit``, ``checkpoint_every``
2.5 ms, and without), its time over
the forward run's and its memory (``compiled.memory_analysis()``); and the accuracy of
backward Euler and Crank-Nicolson at dt 0.025 ms (neurodyn and NEURON) against a
converged NEURON run (Crank-Nicolson at dt 0.001 ms; the soma trace every 0.1 ms and
the spike times). Results: benchmarks/results/dendrite-<date><tag>.json.

    .venv/bin/python benchmarks/dendrite.py [--batch 100] [--big-batch 1000] [--repeats 5]
        [--rounds 2] [--quick] [--tag b]

NEURON runs from benchmarks/.envs/neuron (``python3 -m venv benchmarks/.envs/neuron &&
benchmarks/.envs/neuron/bin/pip install neuron numpy``); without it the NEURON rows are
skipped.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import textwrap
import time

from _timing import cpu_model

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
SWC = ROOT / "tests" / "reference" / "neuron" / "n120.swc"
NEURON_PY = HERE / ".envs" / "neuron" / "bin" / "python"
T_MS, DT_MS = 50.0, 0.025
STEPS = int(round(T_MS / DT_MS))
MODELS = ("hh_soma", "hh_all")

NEURON_WORKER = textwrap.dedent(
    """
    import json, os, statistics, sys, time
    os.sched_setaffinity(0, {0})
    t0 = time.perf_counter()
    from neuron import h
    h.load_file("stdrun.hoc"); h.load_file("import3d.hoc")
    import numpy as np
    swc_path, model, table, batch, repeats = sys.argv[1:6]
    table, batch, repeats = int(table), int(batch), int(repeats)
    t_import = time.perf_counter() - t0

    class Cell:
        pass

    def build(amp):
        swc = h.Import3d_SWC_read(); swc.quiet = 1; swc.input(swc_path)
        c = Cell()
        h.Import3d_GUI(swc, 0).instantiate(c)
        for sec in c.all:
            sec.nseg, sec.Ra, sec.cm = 4, 100.0, 1.0
            if model == "hh_all" or "soma" in sec.name():
                sec.insert("hh")
                if model == "hh_soma":  # the benchmark model's soma densities
                    for seg in sec:
                        seg.hh.gnabar, seg.hh.gkbar = 0.6, 0.18
            else:
                sec.insert("pas")
                for seg in sec:
                    seg.pas.g, seg.pas.e = 1e-4, -65.0
        if model == "hh_all":
            data = np.loadtxt(swc_path)
            target = data[data[:, 0] == 410][0, 2:5].astype(np.float32)
            for sec in c.all:
                n = sec.n3d()
                p = np.array([sec.x3d(n - 1), sec.y3d(n - 1), sec.z3d(n - 1)], np.float32)
                if np.all(p == target):
                    site = sec(1 - 0.5 / sec.nseg)
        else:
            site = c.soma[0](0.5)
        stim = h.IClamp(site)
        stim.delay, stim.dur, stim.amp = 5.0, 30.0, amp
        c.stim = stim
        return c

    base = 0.1 if model == "hh_all" else 2.0
    t0 = time.perf_counter()
    one = build(base)
    swc_to_runnable = time.perf_counter() - t0
    h.dt = 0.025; h.steps_per_ms = 40; h.celsius = 6.3; h.secondorder = 0
    h.usetable_hh = table
    vec = h.Vector(); vec.record(one.soma[0](0.5)._ref_v)

    cpu = []

    def run():
        h.finitialize(-65.0)
        t0, c0 = time.perf_counter(), time.process_time()
        h.continuerun(50.0)
        cpu.append(time.process_time() - c0)
        return time.perf_counter() - t0

    run()
    cpu.clear()
    times = [run() for _ in range(repeats)]
    trace = np.array(vec)[1:].tolist()
    out = {"swc_to_runnable_s": swc_to_runnable, "import_s": t_import, "run_min_s": min(times),
           "run_median_s": statistics.median(times), "run_cpu_min_s": min(cpu),
           "version": h.nrnversion(),
           "n_segments": sum(sec.nseg for sec in one.all), "soma_trace": trace[3::4]}
    if batch > 1:
        t0 = time.perf_counter()
        cells = [build(base * (0.9 + 0.2 * k / (batch - 1))) for k in range(batch - 1)]
        out["batch_build_s"] = time.perf_counter() - t0
        run()
        cpu.clear()
        bt = [run() for _ in range(max(1, repeats // 2))]
        out["batch_run_min_s"] = min(bt)
        out["batch_run_cpu_min_s"] = min(cpu)
        out["batch"] = batch
    print("RESULT " + json.dumps(out))
    """
)


NEURON_ACCURACY = textwrap.dedent(
    """
    import json, sys
    from neuron import h
    h.load_file("stdrun.hoc"); h.load_file("import3d.hoc")
    import numpy as np
    swc_path = sys.argv[1]

    class Cell:
        pass

    swc = h.Import3d_SWC_read(); swc.quiet = 1; swc.input(swc_path)
    c = Cell()
    h.Import3d_GUI(swc, 0).instantiate(c)
    for sec in c.all:
        sec.nseg, sec.Ra, sec.cm = 4, 100.0, 1.0
        if "soma" in sec.name():
            sec.insert("hh")
            for seg in sec:
                seg.hh.gnabar, seg.hh.gkbar = 0.6, 0.18
        else:
            sec.insert("pas")
            for seg in sec:
                seg.pas.g, seg.pas.e = 1e-4, -65.0
    stim = h.IClamp(c.soma[0](0.5))
    stim.delay, stim.dur, stim.amp = 5.0, 30.0, 2.0
    h.celsius = 6.3; h.usetable_hh = 0
    vec = h.Vector(); vec.record(c.soma[0](0.5)._ref_v)
    out = {}
    for name, dt, order in (("be_0.025", 0.025, 0), ("cn_0.025", 0.025, 2),
                            ("cn_0.001", 0.001, 2), ("be_0.001", 0.001, 0)):
        h.dt = dt; h.steps_per_ms = 1.0 / dt; h.secondorder = order
        h.finitialize(-65.0)
        h.continuerun(50.0)
        out[name] = np.array(vec).tolist()  # v at t = 0, dt, 2 dt, ...
    print("RESULT " + json.dumps(out))
    """
)


def _crossings(v, dt: float, threshold: float = -20.0) -> list[float]:
    """Upward threshold crossings of a trace sampled every dt from t = 0, linearly
    interpolated."""
    import numpy as np

    v = np.asarray(v)
    k = np.flatnonzero((v[:-1] < threshold) & (v[1:] >= threshold))
    return ((k + (threshold - v[k]) / (v[k + 1] - v[k])) * dt).tolist()


def accuracy_case() -> dict | None:
    """Backward Euler and Crank-Nicolson at dt 0.025 ms (neurodyn in float64 and
    float32, NEURON) against a converged run (NEURON, Crank-Nicolson at dt 0.001 ms) of
    ``hh_soma`` with hh's densities of the benchmark model (gnabar 0.6, gkbar 0.18):
    the soma trace's RMS and maximal difference every 0.1 ms, and the spike times."""
    import jax
    import numpy as np

    import neurodyn as nd
    import neurodyn.units as u
    from neurodyn import dendrite as D

    if not NEURON_PY.exists():
        return None
    proc = subprocess.run(
        [str(NEURON_PY), "-c", NEURON_ACCURACY, str(SWC)], capture_output=True, text=True,
        timeout=3600,
    )  # fmt: skip
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if not lines:
        print(f"NEURON accuracy run failed:\n{proc.stderr[-2000:]}")
        return None
    nrn = json.loads(lines[0][7:])
    ref = np.asarray(nrn["cn_0.001"])
    ref_every = ref[100::100]  # t = 0.1, 0.2, ..., 50 ms
    ref_spikes = np.asarray(_crossings(ref, 0.001))
    traces = {f"neuron_{k}": np.asarray(v) for k, v in nrn.items() if k != "cn_0.001"}
    S_CM2 = u.S / u.cm**2
    for x64 in (True, False):
        for method, tag in (("backward_euler", "be"), ("crank_nicolson", "cn")):
            with jax.enable_x64(x64):
                cell = D.Cell(
                    D.Morphology.from_swc(SWC), ncomp=4, cm=1 * u.uF / u.cm**2,
                    Ra=100 * u.ohm * u.cm, temperature=6.3 * u.celsius,
                    V_initializer=-65 * u.mV, method=method, warn_d_lambda=False,
                )  # fmt: skip
                cell.paint("soma", D.HH(g_Na=0.6 * S_CM2, g_K=0.18 * S_CM2))
                cell.paint("dendrites", D.Leak(g=1e-4 * S_CM2, E=-65 * u.mV))
                soma = cell.location("soma", 0.5)
                cell.place(soma, D.IClamp(5 * u.ms, 30 * u.ms, 2 * u.nA))
                res = nd.run(cell, T_MS * u.ms, dt=DT_MS * u.ms, monitors={"v": cell.V_at(soma)})
                v = np.asarray(res["v"].to_value(u.mV), np.float64).ravel()
            traces[f"neurodyn_{'f64' if x64 else 'f32'}_{tag}_0.025"] = np.concatenate([[-65.0], v])
    out: dict = {"reference": "NEURON crank_nicolson dt 0.001 ms", "n_spikes": len(ref_spikes)}
    for name, v in traces.items():
        dt = 0.001 if name.endswith("0.001") else DT_MS
        step = int(round(0.1 / dt))
        err = v[step::step][: len(ref_every)] - ref_every
        spikes = np.asarray(_crossings(v, dt))
        row = {
            "soma_rms_mV": float(np.sqrt(np.mean(err**2))),
            "soma_max_mV": float(np.abs(err).max()),
        }
        row["n_spikes"] = len(spikes)
        if len(spikes) == len(ref_spikes):
            row["spike_time_max_ms"] = float(np.abs(spikes - ref_spikes).max())
            row["spike_time_mean_ms"] = float(np.mean(spikes - ref_spikes))
        out[name] = row
    return out


def neuron_case(model: str, table: int, batch: int, repeats: int) -> dict | None:
    if not NEURON_PY.exists():
        print(f"NEURON skipped: no {NEURON_PY} (see the docstring).")
        return None
    cmd = [str(NEURON_PY), "-c", NEURON_WORKER, str(SWC), model, str(table), str(batch)]
    cmd.append(str(repeats))
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    print(f"NEURON {model} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return None


def neurodyn_case(
    model: str, table: bool, batch: int, repeats: int, x64: bool, big_batch: int = 0
) -> dict:
    import jax
    import jax.numpy as jnp
    import numpy as np

    import neurodyn as nd
    import neurodyn.units as u
    from neurodyn import dendrite as D

    out: dict = {}
    with jax.enable_x64(x64):

        def build(batch_size=None):
            t0 = time.perf_counter()
            cell = D.Cell(
                D.Morphology.from_swc(SWC),
                ncomp=4,
                cm=1 * u.uF / u.cm**2,
                Ra=100 * u.ohm * u.cm,
                temperature=6.3 * u.celsius,
                V_initializer=-65 * u.mV,
            )
            if model == "hh_all":
                cell.paint("all", D.HH(table=table))
                site, base = cell.location(swc_point=410), 0.1
            else:
                s_cm2 = u.S / u.cm**2  # the benchmark model's soma densities
                cell.paint("soma", D.HH(g_Na=0.6 * s_cm2, g_K=0.18 * s_cm2, table=table))
                cell.paint("dendrites", D.Leak(g=1e-4 * u.S / u.cm**2, E=-65 * u.mV))
                site, base = cell.location("soma", 0.5), 2.0
            amp = base if batch_size is None else base * (0.9 + 0.2 * np.linspace(0, 1, batch_size))
            cell.place(site, D.IClamp(5 * u.ms, 30 * u.ms, jnp.asarray(amp) * u.nA))
            if batch_size is not None:
                cell.init_state(batch_size)
            return cell, time.perf_counter() - t0

        _, out["swc_to_runnable_first_s"] = build()  # the first in this process: JAX warms up
        cell, out["swc_to_runnable_s"] = build()
        soma = cell.location("soma", 0.5)
        mons = {"v": cell.V_at(soma)}

        cpu = []

        def run():
            cell.reset_state()
            t0, c0 = time.perf_counter(), time.process_time()
            res = nd.run(cell, T_MS * u.ms, dt=DT_MS * u.ms, monitors=mons)
            jax.block_until_ready(res["v"].mantissa)
            cpu.append(time.process_time() - c0)
            return time.perf_counter() - t0, res

        first, res = run()
        cpu.clear()
        times = [run()[0] for _ in range(repeats)]
        out.update(
            first_run_s=first,
            compile_s=first - min(times),
            run_min_s=min(times),
            run_median_s=statistics.median(times),
            run_cpu_min_s=min(cpu),
            native_solver=bool(cell._solver.native),
            n_compartments=cell.n_compartments,
            n_nodes=cell.geometry.n_nodes,
            solver_rounds=cell._solver.n_rounds,
            soma_trace=np.asarray(res["v"].to_value(u.mV))[3::4].tolist(),
        )

        def batch_run(n: int, lane_block) -> tuple:
            bcell, build_s = build(n)
            bmons = {"v": bcell.V_at(bcell.location("soma", 0.5))}
            bcpu, blocks = [], []

            def brun():
                bcell.reset_state()
                t0, c0 = time.perf_counter(), time.process_time()
                res = nd.run(
                    bcell, T_MS * u.ms, dt=DT_MS * u.ms, monitors=bmons, lane_block=lane_block
                )
                jax.block_until_ready(res["v"].mantissa)
                bcpu.append(time.process_time() - c0)
                blocks.append(res.timing["lane_block"])
                return time.perf_counter() - t0

            bfirst = brun()
            bcpu.clear()
            bt = [brun() for _ in range(max(1, repeats // 2))]
            return build_s, bfirst, min(bt), min(bcpu), blocks[-1]

        # the batches as nd.run runs them by default (in lane blocks when the batch's
        # States outgrow the cache), and the big batch also whole (lane_block=False)
        for key, n, lane_block in (
            ("batch", batch, None),
            ("big_batch", big_batch, None),
            ("big_batch_whole", big_batch, False),
        ):
            if n > 1:
                times = batch_run(n, lane_block)
                out[key] = n
                names = ("build_s", "first_run_s", "run_min_s", "run_cpu_min_s", "lane_block")
                for name, t in zip(names, times):
                    out[f"{key}_{name}"] = t
    return out


def gradient_case(x64: bool, checkpoint_ms: float | None, repeats: int) -> dict:
    """The gradient of ``mean((V_soma + 40 mV)^2)`` over the 50 ms run of ``hh_soma`` with
    respect to hh's g_Na and g_K and pas's g (``nd.Param``), against the same loss's
    forward run, both under ``nd.jit``: times (wall and CPU) and the compiled programs'
    memory."""
    import jax
    import jax.numpy as jnp

    import neurodyn as nd
    import neurodyn.units as u
    from neurodyn import dendrite as D

    S_CM2 = u.S / u.cm**2
    with jax.enable_x64(x64):
        params = {
            "g_Na": nd.Param(jnp.asarray(0.6) * S_CM2),
            "g_K": nd.Param(jnp.asarray(0.18) * S_CM2),
            "g_pas": nd.Param(jnp.asarray(1e-4) * S_CM2),
        }
        cell = D.Cell(
            D.Morphology.from_swc(SWC), ncomp=4, cm=1 * u.uF / u.cm**2, Ra=100 * u.ohm * u.cm,
            temperature=6.3 * u.celsius, V_initializer=-65 * u.mV, warn_d_lambda=False,
        )  # fmt: skip
        cell.paint("soma", D.HH(g_Na=params["g_Na"], g_K=params["g_K"]))
        cell.paint("dendrites", D.Leak(g=params["g_pas"], E=-65 * u.mV))
        soma = cell.location("soma", 0.5)
        cell.place(soma, D.IClamp(5 * u.ms, 30 * u.ms, 2 * u.nA))
        every = None if checkpoint_ms is None else checkpoint_ms * u.ms

        def loss():
            cell.reset_state()
            res = nd.run(
                cell, T_MS * u.ms, dt=DT_MS * u.ms, monitors={"v": cell.V_at(soma)},
                checkpoint_every=every,
            )  # fmt: skip
            return jnp.mean((res["v"].to_value(u.mV) + 40.0) ** 2)

        out: dict = {"x64": x64, "checkpoint_every_ms": checkpoint_ms}
        for name, fn in (("forward", nd.jit(loss)), ("gradient", nd.jit(nd.grad(loss, params)))):
            t0 = time.perf_counter()
            value = jax.block_until_ready(fn())
            out[f"{name}_first_s"] = time.perf_counter() - t0
            wall, cpu = [], []
            for _ in range(repeats):
                t0, c0 = time.perf_counter(), time.process_time()
                jax.block_until_ready(fn())
                wall.append(time.perf_counter() - t0)
                cpu.append(time.process_time() - c0)
            out[f"{name}_min_s"], out[f"{name}_cpu_min_s"] = min(wall), min(cpu)
            mem = fn.lower().compile().memory_analysis()
            out[f"{name}_temp_bytes"] = int(mem.temp_size_in_bytes)
            out[f"{name}_total_bytes"] = int(
                mem.temp_size_in_bytes + mem.argument_size_in_bytes + mem.output_size_in_bytes
            )
            if name == "gradient":
                out["gradient"] = {k: float(v.mantissa) for k, v in value.items()}
        out["gradient_over_forward"] = out["gradient_min_s"] / out["forward_min_s"]
        out["gradient_over_forward_cpu"] = out["gradient_cpu_min_s"] / out["forward_cpu_min_s"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--big-batch", type=int, default=1000, help="neurodyn f32, exact rates")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=2, help="alternations of the simulators")
    ap.add_argument("--quick", action="store_true", help="batch 10, 3 repeats, no tables")
    ap.add_argument("--out", default=None)
    ap.add_argument("--tag", default="", help="appended to the date in the file name")
    ap.add_argument("--no-extras", action="store_true", help="no gradient, no accuracy")
    args = ap.parse_args()
    if args.quick:
        args.batch, args.big_batch, args.repeats, args.rounds = 10, 0, 3, 1
    os.sched_setaffinity(0, {0})  # one core for XLA too (set before JAX starts its threads)
    import numpy as np

    results: dict = {
        "date": datetime.date.today().isoformat(),
        "host": platform.node(),
        "cpu": cpu_model(),
        "load_average": os.getloadavg(),
        "python": sys.version.split()[0],
        "swc": str(SWC.relative_to(ROOT)),
        "t_ms": T_MS,
        "dt_ms": DT_MS,
        "cases": [],
    }
    tables = (0,) if args.quick else (0, 1)
    for model in MODELS:
        for table in tables:
            # rounds alternate the simulators, so that drift in the machine's load touches
            # both; the fastest of each time is kept
            nrn, nd_all = None, {False: None, True: None}
            for _ in range(args.rounds):
                nrn = _fastest(nrn, neuron_case(model, table, args.batch, args.repeats))
                for x64 in (False, True):
                    big = args.big_batch if not (x64 or table) else 0
                    nd_one = neurodyn_case(
                        model, bool(table), args.batch, args.repeats, x64, big_batch=big
                    )
                    nd_all[x64] = _fastest(nd_all[x64], nd_one)
            for x64 in (False, True):
                nd_res = nd_all[x64]
                row = {
                    "model": model,
                    "table": bool(table),
                    "neurodyn_x64": x64,
                    "neurodyn": nd_res,
                }
                ncomp = nd_res["n_compartments"]
                per = 1e9 / (ncomp * STEPS)
                nd_res["ns_per_comp_step"] = nd_res["run_min_s"] * per
                nd_res["cpu_ns_per_comp_step"] = nd_res["run_cpu_min_s"] * per
                for pre in ("batch", "big_batch", "big_batch_whole"):
                    if f"{pre}_run_min_s" in nd_res:
                        n = nd_res[pre]
                        nd_res[f"{pre}_ns_per_cell_comp_step"] = (
                            nd_res[f"{pre}_run_min_s"] * per / n
                        )
                        nd_res[f"{pre}_cpu_ns_per_cell_comp_step"] = (
                            nd_res[f"{pre}_run_cpu_min_s"] * per / n
                        )
                if nrn is not None:
                    nrn_row = dict(nrn)
                    nrn_row["ns_per_comp_step"] = nrn["run_min_s"] * per
                    nrn_row["cpu_ns_per_comp_step"] = nrn["run_cpu_min_s"] * per
                    if "batch_run_min_s" in nrn:
                        nrn_row["batch_ns_per_cell_comp_step"] = (
                            nrn["batch_run_min_s"] * per / nrn["batch"]
                        )
                        nrn_row["batch_cpu_ns_per_cell_comp_step"] = (
                            nrn["batch_run_cpu_min_s"] * per / nrn["batch"]
                        )
                    a = np.asarray(nd_res["soma_trace"])
                    b = np.asarray(nrn["soma_trace"])
                    row["soma_rms_mV"] = float(np.sqrt(np.mean((a - b) ** 2)))
                    row["neuron"] = nrn_row
                    row["neurodyn_over_neuron"] = nd_res["run_min_s"] / nrn["run_min_s"]
                    row["neurodyn_over_neuron_cpu"] = nd_res["run_cpu_min_s"] / nrn["run_cpu_min_s"]
                    if "batch_run_min_s" in nrn and "batch_run_min_s" in nd_res:
                        row["batch_neurodyn_over_neuron"] = (
                            nd_res["batch_run_min_s"] / nrn["batch_run_min_s"]
                        )
                rows_print(row)
                results["cases"].append(row)
    if not args.no_extras:
        results["gradient"] = []
        for x64 in (False, True):
            for ck in (2.5, None):
                g = gradient_case(x64, ck, args.repeats)
                print(
                    f"gradient {'f64' if x64 else 'f32'} checkpoint_every={ck} ms: forward "
                    f"{g['forward_min_s'] * 1e3:.1f} ms (cpu {g['forward_cpu_min_s'] * 1e3:.1f}), "
                    f"gradient {g['gradient_min_s'] * 1e3:.1f} ms "
                    f"(cpu {g['gradient_cpu_min_s'] * 1e3:.1f}): "
                    f"{g['gradient_over_forward']:.2f}x "
                    f"(cpu {g['gradient_over_forward_cpu']:.2f}x), "
                    f"temp {g['gradient_temp_bytes'] / 1e6:.1f} MB"
                )
                results["gradient"].append(g)
        acc = accuracy_case()
        if acc is not None:
            results["accuracy"] = acc
            for k, v in acc.items():
                if isinstance(v, dict):
                    print(f"accuracy {k:24s}: {v}")
    results["load_average_end"] = os.getloadavg()
    for row in results["cases"]:
        for side in ("neurodyn", "neuron"):
            if side in row:
                row[side].pop("soma_trace", None)
    out = (
        pathlib.Path(args.out)
        if args.out
        else HERE / "results" / (f"dendrite-{results['date']}{args.tag}.json")
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    print(f"wrote {out}")


def _fastest(best: dict | None, new: dict | None) -> dict | None:
    """Merge two measurements of a case: the smaller of every time."""
    if best is None or new is None:
        return new if best is None else best
    out = dict(new)
    for k, v in best.items():
        if k == "swc_to_runnable_first_s":
            out[k] = v  # the first round's: the first build in the process
        elif k.endswith("_s") and isinstance(v, float) and k in new:
            out[k] = min(v, new[k])
    return out


def rows_print(row: dict) -> None:
    nd_r, nrn = row["neurodyn"], row.get("neuron")
    tag = f"{row['model']:8s} table={int(row['table'])} {'f64' if row['neurodyn_x64'] else 'f32'}"
    line = (
        f"{tag}: neurodyn run {nd_r['run_min_s'] * 1e3:7.1f} ms "
        f"({nd_r['ns_per_comp_step']:.1f} ns/comp-step), compile {nd_r['compile_s']:.2f} s, "
        f"swc->runnable {nd_r['swc_to_runnable_s']:.3f} s"
    )
    line += f" [cpu {nd_r['run_cpu_min_s'] * 1e3:.1f} ms]"
    for pre in ("batch", "big_batch", "big_batch_whole"):
        if f"{pre}_run_min_s" in nd_r:
            lanes = nd_r.get(f"{pre}_lane_block")
            line += (
                f", batch {nd_r[pre]}{'' if lanes is None else f' (blocks of {lanes})'}"
                f"{' whole' if pre.endswith('whole') else ''}: "
                f"{nd_r[f'{pre}_ns_per_cell_comp_step']:.2f} "
                f"(cpu {nd_r[f'{pre}_cpu_ns_per_cell_comp_step']:.2f}) ns/cell-comp-step"
            )
    print(line)
    if nrn is not None:
        line = (
            f"{'':{len(tag)}s}  NEURON   run {nrn['run_min_s'] * 1e3:7.1f} ms "
            f"({nrn['ns_per_comp_step']:.1f} ns/comp-step), "
            f"swc->runnable {nrn['swc_to_runnable_s']:.3f} s "
            f"[cpu {nrn['run_cpu_min_s'] * 1e3:.1f} ms]"
        )
        if "batch_run_min_s" in nrn:
            per = nrn["batch_ns_per_cell_comp_step"]
            line += f", batch {nrn['batch']}: {per:.2f} ns/cell-comp-step"
        line += f"  | soma RMS {row['soma_rms_mV']:.2e} mV"
        print(line)


if __name__ == "__main__":
    main()
