"""COBA networks: neurodyn vs BrainPy, Brian2 and NEST, side by side in one run.

COBA-LIF (``--model lif``, the project's benchmark model; Brette et al. 2007 benchmark 1 in
the form of BrainPy's COBA example), identical in every simulator: N_E = 0.8 N, N_I = 0.2 N
LIF neurons (tau_m 20 ms, V_rest = V_reset = -60 mV, V_th -50 mV, t_ref 5 ms, I_ext 20 mV,
V0 ~ N(-55, 2) mV), conductances in units of g_L with exponential decay (tau_e 5 ms,
tau_i 10 ms; jumps 0.6 and 6.7; E_e 0 mV, E_i -80 mV), each (pre, post) pair connected
with p = 80 / N, spikes act one step (0.1 ms) after they are emitted, dt = 0.1 ms,
exponential Euler. COBA-HH (``--model hh``): the same network of Traub-Miles HH neurons
(examples/coba_hh.py; Brian2's COBAHH example), V0 ~ N(-65, 5) mV, gates at steady state.
``--record counts spikes raster``: each run records spike counts only (the default), every
spike as (time, index) (neurodyn's ``SpikeMonitor``, Brian2's ``SpikeMonitor``), or a dense
[steps, n] raster (neurodyn's ``Monitor``), side by side as "<simulator> <mode>".
``--conn jit``: COBA-LIF with procedural connectivity (``event.JitProb``; neurodyn only).
COBA-LIF + STDP (``--model stdp``): COBA-LIF with pair-based additive STDP on every E
synapse (w0 0.6, A+ 0.001, A- 0.00105 in units of g_L, tau 20 ms, w in [0, 1.2]; neurodyn
``examples/coba.py --variant stdp``, Brian2's event-driven ``Synapses`` STDP). Repeats of
a neurodyn worker continue from the learned weights (reset_state resets the neurons and
traces, not Params); Brian2 standalone repeats rerun from w0. Rates differ by < 1 Hz.

Simulators (each runs in its own worker process, this same file with ``--worker``):

  neurodyn           ``COBANet`` of examples/coba.py (``COBAHHNet`` of examples/coba_hh.py)
                     run by ``nd.run`` with spike-count monitors; this interpreter.
  brainpy            ``bp.dyn.LifRef`` populations, ``FullProjAlignPostMg`` projections
                     (``EventCSRLinear`` on ``bp.conn.FixedProb``, ``Expon`` synapses,
                     ``COBA`` outputs), one ``bm.jit``-ed ``bm.for_loop`` over the steps
                     (COBA-LIF only); venv benchmarks/.envs/anchors.
  brian2 cython      Brian2 runtime mode, Cython target (fresh Cython cache per worker,
                     so the compile times are cold); venv benchmarks/.envs/brian2 (or the
                     old benchmarks/envs/brian2).
  brian2 standalone  Brian2 C++ standalone device (in a temporary directory).
  nest               ``iaf_cond_exp`` / ``hh_cond_exp_traub``, same parameters in NEST's
                     units; venv benchmarks/.envs/nest.

The venvs come from ``make bench-setup``; a simulator whose venv is missing (and that is
not importable here) is skipped with the reason.

Timing, per simulator and N:
  build    constructing the network (connectivity included). Brian2 cython: includes
           compiling the connect code; Brian2 standalone: the Python model description
           plus the binary's own setup (its wall time minus its reported run time).
  compile  first run minus the fastest later run (JIT/Cython compilation); Brian2
           standalone: code generation + C++ compilation (``device.build``).
  run      min over ``--repeats`` runs after the first (state reset in between, reset
           not timed); the repeats are interleaved across the simulators so that drift
           in machine load hits all alike. Brian2 standalone: the run time the binary
           reports (``device._last_run_time``). NEST continues the simulation instead.
Rates come from the first run's spike counts; an E rate outside the anchors' spread in
any run is flagged (``flag_rates``). Peak resident memory per worker is reported.

    cd benchmarks && python coba.py [--model lif|hh] [--conn csr|jit] [--n 4000 16000]
        [--t 1000] [--repeats 3] [--skip SIM ...] [--max-n nest=64000] [--out PATH]

Results are also written to results/coba-<YYYYMMDD>.json (or ``--out``).
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import pathlib
import platform
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from _coba_workers import DT_MS, HERE, TAG, worker_main
from _timing import cpu_model

ENVS = HERE / ".envs"
# each anchor's own venv (make bench-setup); benchmarks/envs/brian2 is the old location
BRIAN2_VENV_PYS = (ENVS / "brian2" / "bin" / "python", HERE / "envs" / "brian2" / "bin" / "python")
ANCHORS_VENV_PY = ENVS / "anchors" / "bin" / "python"  # brainpy, brainevent, numba
NEST_VENV_PY = ENVS / "nest" / "bin" / "python"
RATE_OK = (17.0, 25.0)  # Hz
SIMS = ("neurodyn", "brainpy", "brian2 cython", "brian2 standalone", "nest")
MODELS = ("lif", "hh", "stdp")
# what the runs record (--record); a mode other than counts runs as "<simulator> <mode>"
RECORD_MODES = ("counts", "spikes", "raster")
RECORDERS = {"spikes": ("neurodyn", "brian2 cython", "brian2 standalone"), "raster": ("neurodyn",)}


def base_sim(name: str) -> str:
    """The simulator of a run name ("neurodyn spikes" -> "neurodyn")."""
    mode = name.rsplit(" ", 1)[-1]
    return name.rsplit(" ", 1)[0] if mode in RECORDERS else name


def run_names(args) -> list[str]:
    return [
        sim if mode == "counts" else f"{sim} {mode}"
        for sim in SIMS
        for mode in args.record
        if mode == "counts" or sim in RECORDERS[mode]
    ]


# which simulators have a worker for each model / connectivity (the others are skipped)
SUPPORTED = {
    ("lif", "csr"): SIMS,
    ("hh", "csr"): ("neurodyn", "brian2 cython", "brian2 standalone", "nest"),
    ("lif", "jit"): ("neurodyn",),
    ("hh", "jit"): ("neurodyn",),
    ("stdp", "csr"): ("neurodyn", "brian2 cython", "brian2 standalone"),
    ("stdp", "jit"): (),
}
FIRST_TIMEOUT_S = 1200  # import, build or first run (compilation) of one worker
RUN_TIMEOUT_S = 600  # one timed run


# ----------------------------------------------------------------------- coordinator


class WorkerError(RuntimeError):
    pass


class Worker:
    """One simulator at one N in a subprocess, driven line by line."""

    def __init__(self, sim: str, python: str, n: int, args):
        self.sim = sim
        self.log = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(
            [python, str(pathlib.Path(__file__).resolve()), "--worker", sim]
            + ["--n", str(n), "--t", str(args.t), "--seed", str(args.seed)]
            + ["--model", args.model, "--conn", args.conn]
            + ["--nest-threads", str(args.nest_threads)]
            + ["--brian2-threads", str(args.brian2_threads)]
            + ([] if args.pin_cpu is None else ["--pin-cpu", str(args.pin_cpu)]),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            bufsize=1,
            cwd=HERE,
        )
        self.lines: queue.Queue = queue.Queue()
        self.other: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            if line.startswith(TAG):
                self.lines.put(json.loads(line[len(TAG) :]))
            else:
                self.other.append(line.rstrip())
        self.lines.put(None)  # EOF

    def receive(self, timeout: float) -> dict:
        try:
            msg = self.lines.get(timeout=timeout)
        except queue.Empty:
            self.kill()
            raise WorkerError(f"no answer within {timeout:.0f} s") from None
        if msg is None:
            raise WorkerError(f"worker exited ({self.proc.wait()}): {self._tail()}")
        if "error" in msg:
            self.kill()
            raise WorkerError(msg["error"])
        return msg

    def ask(self, cmd: str, timeout: float) -> dict:
        try:
            self.proc.stdin.write(cmd + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise WorkerError(f"worker gone: {self._tail()}") from None
        return self.receive(timeout)

    def _tail(self) -> str:
        self.log.seek(0)
        lines = [ln for ln in self.log.read().splitlines() if ln.strip()]
        return " | ".join(lines[-3:]) or "no message"

    def quit(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
                self.proc.wait(timeout=60)
            except Exception:
                self.kill()
        self.log.close()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def _venv_has(python: pathlib.Path, module: str) -> bool:
    if not python.exists():
        return False
    probe = f"import importlib.util, sys; sys.exit(importlib.util.find_spec({module!r}) is None)"
    return subprocess.run([str(python), "-c", probe], capture_output=True).returncode == 0


def interpreters() -> tuple[dict[str, str], dict[str, str]]:
    """The interpreter for each simulator, and the reason for each one unavailable.

    neurodyn runs under this interpreter; each anchor from its own venv under
    benchmarks/.envs/ (``make bench-setup``), else from this interpreter if it has it."""
    found, missing = {"neurodyn": sys.executable}, {}
    if _venv_has(ANCHORS_VENV_PY, "brainpy"):
        found["brainpy"] = str(ANCHORS_VENV_PY)
    elif importlib.util.find_spec("brainpy") is not None:
        found["brainpy"] = sys.executable
    else:
        missing["brainpy"] = f"no {ANCHORS_VENV_PY.relative_to(HERE)} and no brainpy here"
    b2_py = next((str(py) for py in BRIAN2_VENV_PYS if py.exists()), None)
    if b2_py is None and importlib.util.find_spec("brian2") is not None:
        b2_py = sys.executable
    if b2_py:
        found["brian2 cython"] = found["brian2 standalone"] = b2_py
    else:
        why = f"no {BRIAN2_VENV_PYS[0].relative_to(HERE)} and no brian2 here"
        missing["brian2 cython"] = missing["brian2 standalone"] = why
    failed = ENVS / "nest.failed"
    if _venv_has(NEST_VENV_PY, "nest"):
        found["nest"] = str(NEST_VENV_PY)
    elif importlib.util.find_spec("nest") is not None:
        found["nest"] = sys.executable
    elif failed.exists():
        missing["nest"] = failed.read_text().strip()
    else:
        missing["nest"] = f"no {NEST_VENV_PY.relative_to(HERE)} (make bench-setup)"
    return found, missing


def bench_n(n: int, args, pythons: dict[str, str]) -> dict:
    """Build and first-run each simulator in turn, then interleave the timed runs."""
    workers: dict[str, Worker] = {}
    rows: dict[str, dict] = {}
    try:
        for sim in run_names(args):
            if base_sim(sim) not in pythons:
                continue
            limit = args.max_n.get(sim)
            if limit is not None and n > limit:
                rows[sim] = {"error": f"skipped: N > {limit} (--max-n)"}
                print(f"  {sim}: {rows[sim]['error']}")
                continue
            print(f"  {sim}: ", end="", flush=True)
            w = Worker(sim, pythons[base_sim(sim)], n, args)
            try:
                hello = w.receive(FIRST_TIMEOUT_S)
                built = w.ask("build", FIRST_TIMEOUT_S)
                first = w.ask("run", FIRST_TIMEOUT_S)
            except WorkerError as e:
                w.kill()
                w.quit()
                print(f"unavailable ({e})")
                rows[sim] = {"error": str(e)}
                continue
            print(f"built in {built['build_s']:.2f} s, first run {first['run_s']:.2f} s")
            workers[sim] = w
            rows[sim] = {
                "versions": hello["versions"],
                "n_E": built["n_E"],
                "n_I": built["n_I"],
                "build_s": built["build_s"],
                "compile_s": built.get("compile_s"),
                "first": first,
                "runs": [],
            }
        for _ in range(args.repeats):
            for sim, w in list(workers.items()):
                try:
                    rows[sim]["runs"].append(w.ask("run", RUN_TIMEOUT_S))
                except WorkerError as e:
                    print(f"  {sim}: failed during the timed runs ({e})")
                    rows[sim]["error"] = str(e)
                    w.kill()
                    del workers[sim]
    finally:
        for w in workers.values():
            w.quit()
    results = {sim: summarize(row, args.t) for sim, row in rows.items()}
    flag_rates(results, args.model)
    return results


def flag_rates(results: dict, model: str) -> None:
    """Flag a rate outside the anchors' spread: the band from the lowest to the highest E
    rate of any anchor in any run, widened by max(1.5 Hz, 10%) for seed-to-seed noise.
    Without anchors (or for an anchor itself) the reference band of the
    benchmark model (RATE_OK) is used for COBA-LIF; COBA-HH has none."""
    anchor_rates = [
        pair[0]
        for sim, res in results.items()
        if sim != "neurodyn" and res.get("rates_all_runs_hz")
        for pair in res["rates_all_runs_hz"]
    ]
    band = None
    if anchor_rates:
        lo, hi = min(anchor_rates), max(anchor_rates)
        tol = max(1.5, 0.1 * (lo + hi) / 2)
        band = (lo - tol, hi + tol)
    ref = RATE_OK if model == "lif" else None
    for sim, res in results.items():
        if not res.get("rates_all_runs_hz"):
            continue
        use = band if (sim == "neurodyn" and band) else ref
        if use is None:
            res["rate_flag"] = False
            continue
        res["rate_band_hz"] = list(use)
        res["rate_flag"] = any(not (use[0] <= p[0] <= use[1]) for p in res["rates_all_runs_hz"])


def summarize(row: dict, t_ms: float) -> dict:
    if "error" in row and not row.get("runs"):
        return {"error": row["error"]}
    seconds = t_ms / 1000
    first, runs = row["first"], row["runs"]
    times = [r["run_s"] for r in runs]
    run_min = min(times) if times else None

    def rates(r):
        return r["spikes_E"] / row["n_E"] / seconds, r["spikes_I"] / row["n_I"] / seconds

    all_rates = [rates(r) for r in [first, *runs]]
    compile_s = row["compile_s"]
    if compile_s is None and run_min is not None:  # JIT / Cython: first run minus a run
        compile_s = max(first["run_s"] - run_min, 0.0)
    out = {
        "versions": row["versions"],
        "n_E": row["n_E"],
        "n_I": row["n_I"],
        "rate_E_hz": all_rates[0][0],
        "rate_I_hz": all_rates[0][1],
        "rates_all_runs_hz": [list(p) for p in all_rates],
        "rate_flag": False,  # set by flag_rates
        "build_s": row["build_s"],
        "compile_s": compile_s,
        "first_run_s": first["run_s"],
        "run_min_s": run_min,
        "run_median_s": statistics.median(times) if times else None,
        "run_all_s": times,
        "peak_rss_mb": max((r.get("peak_rss_mb") or 0) for r in [first, *runs]) or None,
    }
    programs = [r.get("programs") for r in [first, *runs]]
    if any(p is not None and p > 1 for p in programs):
        out["warning"] = f"recompiled between runs (compiled programs: {programs})"
    if "setup_s" in first:  # standalone: the binary's setup before the run loop
        out["binary_setup_s"] = first["setup_s"]
        out["build_s"] += first["setup_s"]
    if "error" in row:
        out["error"] = row["error"]
    return out


def label(sim: str, res: dict) -> str:
    v = res.get("versions", {})
    ver = v.get("neurodyn") or v.get("brainpy") or v.get("brian2") or v.get("nest")
    return sim if ver is None else f"{sim} {ver}"


def fmt(x, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def print_table(n: int, t_ms: float, repeats: int, results: dict) -> None:
    nd_run = results.get("neurodyn", {}).get("run_min_s")
    ok = {k: v for k, v in results.items() if "error" not in v or v.get("run_min_s")}
    n_e = next((v["n_E"] for v in ok.values()), int(0.8 * n))
    print(
        f"\nN = {n} ({n_e} E + {n - n_e} I), {t_ms:g} ms at dt = {DT_MS} ms; "
        f"run = min of {repeats} (interleaved)"
    )
    head = ("simulator", "E Hz", "I Hz", "build s", "compile s", "run s", "peak MB", "nd/anchor")
    print(f"  {head[0]:<26}" + "".join(f"{h:>10}" for h in head[1:]))
    flags = []
    for sim, res in results.items():
        if sim not in ok:
            print(f"  {sim:<26}unavailable ({res['error']})")
            continue
        ratio = None
        if nd_run is not None and res["run_min_s"]:
            ratio = nd_run / res["run_min_s"]
        flag = "!" if res["rate_flag"] else " "
        if res["rate_flag"]:
            flags.append(sim)
        print(
            f"  {label(sim, res):<26}"
            f"{fmt(res['rate_E_hz'], '.1f'):>9}{flag}{fmt(res['rate_I_hz'], '.1f'):>9}{flag}"
            f"{fmt(res['build_s'], '.2f'):>10}{fmt(res['compile_s'], '.2f'):>10}"
            f"{fmt(res['run_min_s'], '.3f'):>10}{fmt(res.get('peak_rss_mb'), '.0f'):>10}"
            + ("" if sim == "neurodyn" else f"{fmt(ratio, '.2f'):>10}")
        )
    for sim, res in ok.items():
        if res.get("warning"):
            print(f"  warning, {sim}: {res['warning']}")
    if flags:
        bands = {sim: results[sim].get("rate_band_hz") for sim in flags}
        text = ", ".join(f"{s} (band {b[0]:.1f}-{b[1]:.1f} Hz)" for s, b in bands.items() if b)
        print(f"  ! an E rate outside the anchors' spread in some run: {text}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, nargs="+", default=[4000, 16000], help="network sizes")
    ap.add_argument("--t", type=float, default=1000.0, help="biological time in ms")
    ap.add_argument("--repeats", type=int, default=3, help="timed runs after the first")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--skip", nargs="*", default=[], choices=SIMS, metavar="SIM", help="simulators to skip"
    )
    ap.add_argument(
        "--model",
        choices=MODELS,
        default="lif",
        help="COBA-LIF, COBA-HH, or COBA-LIF with STDP on the excitatory synapses",
    )
    ap.add_argument(
        "--conn",
        choices=("csr", "jit"),
        default="csr",
        help="jit: procedural connectivity (event.JitProb; neurodyn only)",
    )
    ap.add_argument(
        "--max-n",
        nargs="*",
        default=[],
        metavar="SIM=N",
        help="largest N to run a simulator at, e.g. nest=64000",
    )
    ap.add_argument(
        "--nest-threads",
        type=int,
        default=1,
        help="NEST local_num_threads (default 1, as Brian2 standalone; OpenMP threads that "
        "spin at barriers collapse on a loaded machine)",
    )
    ap.add_argument(
        "--brian2-threads",
        type=int,
        default=1,
        help="OpenMP threads of Brian2's C++ standalone device (default 1)",
    )
    ap.add_argument(
        "--pin-cpu",
        type=int,
        default=None,
        metavar="CPU",
        help="run every worker on this one core (all simulators single-core; on small "
        "machines JAX's and OpenMP's thread hand-offs cost more than they give)",
    )
    ap.add_argument("--out", type=pathlib.Path, help="JSON path (default results/coba-...)")
    ap.add_argument(
        "--record",
        nargs="+",
        default=["counts"],
        choices=RECORD_MODES,
        help="what the runs record, side by side: counts (spike counts only, every "
        "simulator), spikes (every spike as (time, index): neurodyn's SpikeMonitor, "
        "Brian2's SpikeMonitor), raster (neurodyn's dense [steps, n] Monitor)",
    )
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.max_n = {k: int(v) for k, v in (item.split("=", 1) for item in args.max_n)}
    if args.worker:
        worker_main(args.worker, args.n[0], args.t, args.seed, args)
        return

    pythons, missing = interpreters()
    for sim in args.skip:
        pythons.pop(sim, None)
        missing[sim] = "skipped (--skip)"
    for sim in SIMS:
        if sim not in SUPPORTED[args.model, args.conn] and sim not in args.skip:
            pythons.pop(sim, None)
            missing[sim] = f"no {sim} worker for {title(args)}"
    load = os.getloadavg()
    print(
        f"{title(args)}, {args.t:g} ms at dt = {DT_MS} ms; {platform.machine()} {cpu_model()}, "
        f"{os.cpu_count()} CPUs, load average {load[0]:.2f}"
    )
    for name, why in missing.items():
        print(f"{name}: unavailable ({why})")

    t_start = time.perf_counter()
    per_n = {}
    for n in args.n:
        print(f"\nN = {n}:")
        per_n[n] = bench_n(n, args, pythons)
    for n, results in per_n.items():
        print_table(n, args.t, args.repeats, results)
    total = time.perf_counter() - t_start
    print(f"\ntotal {total:.0f} s")

    versions: dict = {"python": platform.python_version()}  # and per simulator:
    for results in per_n.values():
        for sim, res in results.items():
            if "versions" in res:
                versions.setdefault(sim, res["versions"])
    out = {
        "benchmark": f"{title(args)} network (benchmarks/coba.py)",
        "model": args.model,
        "conn": args.conn,
        "date": datetime.date.today().isoformat(),
        "command": "python coba.py " + " ".join(sys.argv[1:]),
        "t_ms": args.t,
        "dt_ms": DT_MS,
        "repeats": args.repeats,
        "versions": versions,
        "platform": {
            "machine": platform.machine(),
            "cpu_model": cpu_model(),
            "system": platform.system(),
            "cpu_count": os.cpu_count(),
            "load_average_at_start": load,
        },
        "unavailable": missing,
        "rows": [
            {
                "N": n,
                "results": results,
                "neurodyn/anchor run": {
                    sim: results["neurodyn"]["run_min_s"] / res["run_min_s"]
                    for sim, res in results.items()
                    if sim != "neurodyn"
                    and res.get("run_min_s")
                    and results.get("neurodyn", {}).get("run_min_s")
                },
            }
            for n, results in per_n.items()
        ],
        "total_s": total,
    }
    path = args.out or HERE / "results" / f"coba-{datetime.date.today():%Y%m%d}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"results written to {path}")


def title(args) -> str:
    name = {"hh": "COBA-HH", "stdp": "COBA-LIF + STDP"}.get(args.model, "COBA-LIF")
    return name + (" (procedural connectivity)" if args.conn == "jit" else "")


if __name__ == "__main__":
    main()
