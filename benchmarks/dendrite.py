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
simulators, the fastest time of each kept. Results:
benchmarks/results/dendrite-<date>.json.

    .venv/bin/python benchmarks/dendrite.py [--batch 100] [--repeats 5] [--rounds 2] [--quick]

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

    def run():
        h.finitialize(-65.0)
        t0 = time.perf_counter()
        h.continuerun(50.0)
        return time.perf_counter() - t0

    run()
    times = [run() for _ in range(repeats)]
    trace = np.array(vec)[1:].tolist()
    out = {"swc_to_runnable_s": swc_to_runnable, "import_s": t_import, "run_min_s": min(times),
           "run_median_s": statistics.median(times), "version": h.nrnversion(),
           "n_segments": sum(sec.nseg for sec in one.all), "soma_trace": trace[3::4]}
    if batch > 1:
        t0 = time.perf_counter()
        cells = [build(base * (0.9 + 0.2 * k / (batch - 1))) for k in range(batch - 1)]
        out["batch_build_s"] = time.perf_counter() - t0
        run()
        bt = [run() for _ in range(max(1, repeats // 2))]
        out["batch_run_min_s"] = min(bt)
        out["batch"] = batch
    print("RESULT " + json.dumps(out))
    """
)


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


def neurodyn_case(model: str, table: bool, batch: int, repeats: int, x64: bool) -> dict:
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
                cell.paint("soma", D.HH(table=table))
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

        def run():
            cell.reset_state()
            t0 = time.perf_counter()
            res = nd.run(cell, T_MS * u.ms, dt=DT_MS * u.ms, monitors=mons)
            return time.perf_counter() - t0, res

        first, res = run()
        times = [run()[0] for _ in range(repeats)]
        out.update(
            first_run_s=first,
            compile_s=first - min(times),
            run_min_s=min(times),
            run_median_s=statistics.median(times),
            n_compartments=cell.n_compartments,
            n_nodes=cell.geometry.n_nodes,
            solver_rounds=cell._solver.n_rounds,
            soma_trace=np.asarray(res["v"].to_value(u.mV))[3::4].tolist(),
        )
        if batch > 1:
            bcell, out["batch_build_s"] = build(batch)
            bmons = {"v": bcell.V_at(bcell.location("soma", 0.5))}

            def brun():
                bcell.reset_state()
                t0 = time.perf_counter()
                nd.run(bcell, T_MS * u.ms, dt=DT_MS * u.ms, monitors=bmons)
                return time.perf_counter() - t0

            bfirst = brun()
            bt = [brun() for _ in range(max(1, repeats // 2))]
            out.update(batch=batch, batch_first_run_s=bfirst, batch_run_min_s=min(bt))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=2, help="alternations of the simulators")
    ap.add_argument("--quick", action="store_true", help="batch 10, 3 repeats, no tables")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    if args.quick:
        args.batch, args.repeats, args.rounds = 10, 3, 1
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
                    nd_one = neurodyn_case(model, bool(table), args.batch, args.repeats, x64)
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
                if "batch_run_min_s" in nd_res:
                    nd_res["batch_ns_per_cell_comp_step"] = (
                        nd_res["batch_run_min_s"] * per / nd_res["batch"]
                    )
                if nrn is not None:
                    nrn_row = dict(nrn)
                    nrn_row["ns_per_comp_step"] = nrn["run_min_s"] * per
                    if "batch_run_min_s" in nrn:
                        nrn_row["batch_ns_per_cell_comp_step"] = (
                            nrn["batch_run_min_s"] * per / nrn["batch"]
                        )
                    a = np.asarray(nd_res["soma_trace"])
                    b = np.asarray(nrn["soma_trace"])
                    row["soma_rms_mV"] = float(np.sqrt(np.mean((a - b) ** 2)))
                    row["neuron"] = nrn_row
                    row["neurodyn_over_neuron"] = nd_res["run_min_s"] / nrn["run_min_s"]
                    if "batch_run_min_s" in nrn and "batch_run_min_s" in nd_res:
                        row["batch_neurodyn_over_neuron"] = (
                            nd_res["batch_run_min_s"] / nrn["batch_run_min_s"]
                        )
                rows_print(row)
                results["cases"].append(row)
    for row in results["cases"]:
        for side in ("neurodyn", "neuron"):
            if side in row:
                row[side].pop("soma_trace", None)
    out = (
        pathlib.Path(args.out)
        if args.out
        else HERE / "results" / (f"dendrite-{results['date']}.json")
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
    if "batch_run_min_s" in nd_r:
        line += (
            f", batch {nd_r['batch']}: {nd_r['batch_ns_per_cell_comp_step']:.2f} ns/cell-comp-step"
        )
    print(line)
    if nrn is not None:
        line = (
            f"{'':{len(tag)}s}  NEURON   run {nrn['run_min_s'] * 1e3:7.1f} ms "
            f"({nrn['ns_per_comp_step']:.1f} ns/comp-step), "
            f"swc->runnable {nrn['swc_to_runnable_s']:.3f} s"
        )
        if "batch_run_min_s" in nrn:
            per = nrn["batch_ns_per_cell_comp_step"]
            line += f", batch {nrn['batch']}: {per:.2f} ns/cell-comp-step"
        line += f"  | soma RMS {row['soma_rms_mV']:.2e} mV"
        print(line)


if __name__ == "__main__":
    main()
