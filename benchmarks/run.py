"""The benchmark suite runner: every case script, one table, one plot.

    python benchmarks/run.py --quick   # make bench: <= 10 min on a 2-core CPU
    python benchmarks/run.py --full    # make bench-full: every case of issue #7
    python benchmarks/run.py --gpu     # neurodyn-only cases on this machine's JAX backend
    python benchmarks/run.py --gpu --smoke   # the same at tiny sizes (CPU smoke test)

Cases (each a script of this folder that also runs on its own and writes its own JSON):

  units      units.py       plain jax vs neurodyn.units vs brainunit (eager and jit)
  state      state.py       per-call overhead and trace time vs pure jax.jit / brainstate
  event      event.py       y = s @ W sweep: dense, neurodyn CSR / JIT conn, brainevent
  integrate  integrate.py   HH population integrator throughput vs BrainPy (full only)
  coba-lif   coba.py        COBA-LIF vs BrainPy, Brian2 cython / C++ standalone, NEST
  coba-hh    coba.py        COBA-HH vs Brian2 cython / C++ standalone, NEST
  coba-stdp  coba.py        COBA-LIF + STDP on the E synapses vs Brian2 cython / C++ standalone
  coba-1m    coba.py        COBA-LIF with procedural connectivity at 1M neurons, 100 ms,
                            run time and peak memory (neurodyn only; full and gpu only)

neurodyn runs under this interpreter (the project's .venv); the COBA anchors each run in
their own venv under benchmarks/.envs/ (``make bench-setup``) through coba.py's worker
protocol; the in-process microbenchmarks (units, state, event, integrate) need neurodyn and
the anchor in one process and run in benchmarks/.envs/anchors (neurodyn installed there
editable), or here when that venv is missing (then their anchor columns are empty). An
anchor that is not installed is skipped with the reason, never a crash.

The COBA cases run every simulator on one core (``--pin-cpu 0``): Brian2 standalone and NEST
run one thread by default, and on a small machine JAX's thread hand-offs cost more than the
second core gives (neurodyn COBA-LIF 64k: 2.3 s pinned vs 3.0-3.4 s on both of 2 cores).

Output: results/<date>-<host>.json (all rows, plus each case's own JSON), results/
<date>-<host>.md (the table of ratios, neurodyn time / anchor time) and results/
<date>-<host>.png (run time vs N per simulator, log-log). The first-run (compile) vs
second-run case is the "compile s" and "first s" columns of the COBA rows.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import platform
import re
import socket
import subprocess
import sys
import time

from _timing import cpu_model

HERE = pathlib.Path(__file__).resolve().parent
ANCHORS_PY = HERE / ".envs" / "anchors" / "bin" / "python"
ANCHOR_SIMS = ("brainpy", "brian2 cython", "brian2 standalone", "nest")

# name -> (script, arguments per mode, in-process microbenchmark?); None: not in that mode
CASES: dict[str, tuple[str, dict[str, list[str] | None], bool]] = {
    "units": ("units.py", {"quick": [], "full": [], "gpu": [], "smoke": []}, True),
    "state": ("state.py", {"quick": [], "full": [], "gpu": [], "smoke": None}, True),
    "event": (
        "event.py",
        {
            "quick": ["--sizes", "1000", "10000", "--rates", "0.01", "0.05", "--calls", "20"],
            "full": [],
            "gpu": ["--sizes", "1000", "10000", "40000"],
            "smoke": ["--sizes", "1000", "--rates", "0.05", "--calls", "5"],
        },
        True,
    ),
    "integrate": ("integrate.py", {"quick": None, "full": [], "gpu": [], "smoke": None}, True),
    "coba-lif": (
        "coba.py",
        {
            "quick": ["--n", "4000", "--repeats", "2", "--pin-cpu", "0"],
            # NEST: ~2 min per 1 s run at 64k here, so not at 256k
            "full": ["--n", "4000", "16000", "64000", "256000", "--max-n", "nest=64000"]
            + ["--pin-cpu", "0"],
            "gpu": ["--n", "4000", "16000", "64000", "256000", "--repeats", "2"]
            + ["--skip", *ANCHOR_SIMS],
            "smoke": ["--n", "2000", "--t", "100", "--repeats", "1", "--skip", *ANCHOR_SIMS],
        },
        False,
    ),
    "coba-hh": (
        "coba.py",
        {
            "quick": ["--model", "hh", "--n", "4000", "--repeats", "2", "--pin-cpu", "0"],
            "full": ["--model", "hh", "--n", "4000", "16000", "--pin-cpu", "0"],
            "gpu": ["--model", "hh", "--n", "4000", "16000", "--repeats", "2"]
            + ["--skip", *ANCHOR_SIMS],
            "smoke": ["--model", "hh", "--n", "2000", "--t", "100", "--repeats", "1"]
            + ["--skip", *ANCHOR_SIMS],
        },
        False,
    ),
    "coba-stdp": (
        "coba.py",
        {
            "quick": ["--model", "stdp", "--n", "4000", "--repeats", "2", "--pin-cpu", "0"],
            "full": ["--model", "stdp", "--n", "4000", "16000", "--pin-cpu", "0"],
            "gpu": ["--model", "stdp", "--n", "4000", "16000", "--repeats", "2"]
            + ["--skip", *ANCHOR_SIMS],
            "smoke": ["--model", "stdp", "--n", "2000", "--t", "100", "--repeats", "1"]
            + ["--skip", *ANCHOR_SIMS],
        },
        False,
    ),
    "coba-1m": (
        "coba.py",
        {
            "quick": None,
            "full": ["--conn", "jit", "--n", "1000000", "--t", "100", "--repeats", "2"],
            "gpu": ["--conn", "jit", "--n", "1000000", "--t", "100", "--repeats", "2"],
            "smoke": ["--conn", "jit", "--n", "100000", "--t", "20", "--repeats", "1"],
        },
        False,
    ),
}
CASE_TIMEOUT_S = {"quick": 900, "full": 6 * 3600, "gpu": 1800, "smoke": 900}

COLUMNS = (
    "case",
    "N",
    "simulator",
    "build s",
    "compile s",
    "first s",
    "run min",
    "run median",
    "rate Hz",
    "peak MB",
    "nd/anchor",
    "flag",
)


# ------------------------------------------------------------------------- running


def host() -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", socket.gethostname().split(".")[0]) or "host"


def run_case(name: str, mode: str, raw_dir: pathlib.Path) -> dict:
    """Run one case script in its interpreter; its JSON (or the error) back."""
    script, modes, in_process = CASES[name]
    python = sys.executable
    if in_process and mode in ("quick", "full") and ANCHORS_PY.exists():
        python = str(ANCHORS_PY)
    out = raw_dir / f"{name}.json"
    out.unlink(missing_ok=True)
    cmd = [python, script, *modes[mode], "--out", str(out)]
    print(f"\n=== {name}: {' '.join(cmd[1:])}  [{python}]", flush=True)
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=HERE, timeout=CASE_TIMEOUT_S[mode])
        rc = proc.returncode
    except subprocess.TimeoutExpired:
        rc = "timeout"
    wall = time.perf_counter() - t0
    if out.exists():
        data = json.loads(out.read_text())
        data["wall_s"] = wall
        data["interpreter"] = python
        return data
    return {"error": f"{script} exited with {rc} after {wall:.0f} s, no results", "wall_s": wall}


# ------------------------------------------------------------------------ flattening


def coba_rows(name: str, data: dict) -> list[dict]:
    """One table row per simulator and N from coba.py's JSON."""
    rows = []
    for per_n in data.get("rows", []):
        nd = per_n["results"].get("neurodyn", {})
        for sim, res in per_n["results"].items():
            row = {"case": name, "N": per_n["N"], "simulator": sim}
            if "run_min_s" not in res or res.get("run_min_s") is None:
                row["note"] = res.get("error", "no timed run")
                rows.append(row)
                continue
            ver = res.get("versions", {})
            row |= {
                "version": ver.get(sim.split()[0]),
                "build_s": res.get("build_s"),
                "compile_s": res.get("compile_s"),
                "first_s": res.get("first_run_s"),
                "run_min_s": res["run_min_s"],
                "run_median_s": res.get("run_median_s"),
                "rate_hz": res.get("rate_E_hz"),
                "rate_I_hz": res.get("rate_I_hz"),
                "peak_rss_mb": res.get("peak_rss_mb"),
                "flag": "rate" if res.get("rate_flag") else "",
            }
            if sim != "neurodyn" and nd.get("run_min_s"):
                row["ratio"] = nd["run_min_s"] / res["run_min_s"]
            if res.get("warning"):
                row["note"] = res["warning"]
            rows.append(row)
    for sim, why in data.get("unavailable", {}).items():
        if "--skip" not in why and "procedural" not in why:
            rows.append({"case": name, "N": None, "simulator": sim, "note": f"skipped: {why}"})
    return rows


def _neurodyn_partner(sim: str, names: list[str]) -> str | None:
    """The neurodyn row an anchor row of a microbenchmark is compared with."""
    nds = [s for s in names if s.startswith("neurodyn")]
    if "JIT" in sim:
        nds = [s for s in nds if "JIT" in s] or nds
    elif "CSR" in sim or "dense" in sim:
        nds = [s for s in nds if "CSR" in s] or nds
    return nds[0] if nds else None


def micro_rows(name: str, data: dict) -> list[dict]:
    """Rows of units / state / integrate (recorded by _timing) or event.py's JSON."""
    groups: dict[tuple, dict[str, dict]] = {}
    if name == "event":
        for r in data.get("rows", []):
            key = (f"event matvec {r['rate']:.0%}", r["N"])
            for sim, ms in r["min_ms"].items():
                if ms is not None:
                    groups.setdefault(key, {})[sim] = {
                        "run_min_s": ms / 1e3,
                        "run_median_s": r["median_ms"][sim] / 1e3,
                    }
        for r in data.get("build", []):  # connectivity build time (s per build)
            groups.setdefault((f"event build {r['case']}", r["N"]), {})[r["simulator"]] = r
    else:
        for r in data.get("rows", []):
            key = (f"{name}: {r['case']}", r.get("N"))
            groups.setdefault(key, {})[r["simulator"]] = r
    rows = []
    for (case, n), sims in groups.items():
        names = list(sims)
        for sim, r in sims.items():
            row = {
                "case": case,
                "N": n,
                "simulator": sim,
                "run_min_s": r["run_min_s"],
                "run_median_s": r.get("run_median_s"),
            }
            partner = _neurodyn_partner(sim, names)
            if not sim.startswith("neurodyn") and partner:
                row["ratio"] = sims[partner]["run_min_s"] / r["run_min_s"]
            rows.append(row)
    return rows


def flatten(cases: dict[str, dict]) -> list[dict]:
    rows = []
    for name, data in cases.items():
        if "error" in data:
            rows.append({"case": name, "N": None, "simulator": "-", "note": data["error"]})
        elif name.startswith("coba"):
            rows += coba_rows(name, data)
        else:
            rows += micro_rows(name, data)
    return rows


# --------------------------------------------------------------------------- output


def fmt_time(s: float | None) -> str:
    if s is None:
        return "-"
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.2f} ms"
    return f"{s * 1e6:.1f} us"


def fmt(x, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def cells(row: dict) -> list[str]:
    if "run_min_s" not in row:
        return [row["case"], fmt(row["N"], "d"), row["simulator"], *["-"] * 8, row.get("note", "")]
    rate = row.get("rate_hz")
    return [
        row["case"],
        fmt(row["N"], "d"),
        row["simulator"] + (f" {row['version']}" if row.get("version") else ""),
        fmt(row.get("build_s"), ".2f"),
        fmt(row.get("compile_s"), ".2f"),
        fmt(row.get("first_s"), ".2f"),
        fmt_time(row["run_min_s"]),
        fmt_time(row.get("run_median_s")),
        "-" if rate is None else f"{rate:.1f}",
        fmt(row.get("peak_rss_mb"), ".0f"),
        fmt(row.get("ratio"), ".2f"),
        " ".join(x for x in (row.get("flag", ""), row.get("note", "")) if x),
    ]


def summary(rows: list[dict]) -> list[str]:
    """The short table (README): rows with a time and, for the microbenchmarks, a ratio."""
    out = [
        "| case | N | simulator | run (min) | neurodyn run | E rate Hz | nd/anchor | flag |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r.get("run_min_s") is None:
            continue
        coba = r["case"].startswith("coba")
        if not coba and "ratio" not in r:
            continue
        c = cells(r)
        nd = r["run_min_s"] if r["simulator"].startswith("neurodyn") else None
        if "ratio" in r:
            nd = r["run_min_s"] * r["ratio"]
        nd_s = fmt_time(nd)
        out.append(f"| {c[0]} | {c[1]} | {c[2]} | {c[6]} | {nd_s} | {c[8]} | {c[10]} | {c[11]} |")
    return out


def markdown(rows: list[dict], meta: dict) -> str:
    lines = [
        f"# neurodyn benchmarks, {meta['date']}, {meta['host']} ({meta['mode']})",
        "",
        f"Machine: {meta['platform']['machine']} {meta['platform']['cpu_model']}, "
        f"{meta['platform']['cpu_count']} CPUs, JAX backend {meta['jax_backend']}, "
        f"load average at start {meta['platform']['load_average_at_start'][0]:.2f}. "
        f"Command: `{meta['command']}`.",
        "",
        "nd/anchor = neurodyn run time / anchor run time (min over interleaved repeats; "
        "< 1: neurodyn faster). Build and compile (first run minus a later run; Brian2 "
        "standalone: code generation + C++ build) are separate from run time. Rate: mean "
        "E rate of the first run; flag `rate`: outside the anchors' spread (widened by "
        "max(1.5 Hz, 10%)).",
        "",
        "## Summary",
        "",
        *summary(rows),
        "",
        "## All rows",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "|".join("---" for _ in COLUMNS) + "|",
    ]
    lines += ["| " + " | ".join(cells(r)) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def print_table(rows: list[dict]) -> None:
    table = [list(COLUMNS)] + [cells(r) for r in rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(COLUMNS) - 1)]
    for r in table:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[-1])


def plot(rows: list[dict], path: pathlib.Path, title: str) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no plot")
        return False
    panels = [
        ("COBA-LIF, 1 s", lambda r: r["case"] == "coba-lif"),
        ("COBA-HH, 1 s", lambda r: r["case"] == "coba-hh"),
        ("COBA-LIF + STDP, 1 s", lambda r: r["case"] == "coba-stdp"),
        ("event matvec, 5% active", lambda r: r["case"] == "event matvec 5%"),
    ]
    panels = [(t, f) for t, f in panels if any(f(r) and r.get("run_min_s") for r in rows)]
    if not panels:
        return False
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4), squeeze=False)
    colors: dict[str, str] = {}
    for ax, (ptitle, keep) in zip(axes[0], panels, strict=True):
        series: dict[str, list[tuple[int, float]]] = {}
        for r in rows:
            if keep(r) and r.get("run_min_s") and r.get("N"):
                series.setdefault(r["simulator"], []).append((r["N"], r["run_min_s"]))
        for sim, pts in sorted(series.items()):
            pts.sort()
            style = "-o" if sim.startswith("neurodyn") else "--s"
            color = colors.setdefault(sim, f"C{len(colors) % 10}")  # one colour per simulator
            xs, ys = [p[0] for p in pts], [p[1] for p in pts]
            ax.loglog(xs, ys, style, label=sim, ms=4, color=color)
        ax.set_title(ptitle)
        ax.set_xlabel("N (neurons)")
        ax.set_ylabel("run time (s)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def jax_backend() -> str:
    try:
        import jax

        return jax.default_backend()
    except Exception as e:  # pragma: no cover - the runner works without jax
        return f"unknown ({type(e).__name__})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_const", dest="mode", const="quick")
    mode.add_argument("--full", action="store_const", dest="mode", const="full")
    mode.add_argument("--gpu", action="store_const", dest="mode", const="gpu")
    ap.add_argument(
        "--smoke", action="store_true", help="with --gpu: tiny sizes (a CPU smoke test)"
    )
    ap.add_argument("--cases", nargs="+", choices=list(CASES), help="only these cases")
    ap.add_argument("--results", type=pathlib.Path, default=HERE / "results")
    ap.add_argument(
        "--from-json",
        type=pathlib.Path,
        help="rebuild the table and plot from an aggregated JSON (no run)",
    )
    args = ap.parse_args()
    args.mode = args.mode or "quick"
    if args.smoke:
        args.mode = "smoke"

    if args.from_json:
        agg = json.loads(args.from_json.read_text())
        stem = args.from_json.with_suffix("")
    else:
        today = datetime.date.today().isoformat()
        suffix = {"gpu": "-gpu", "smoke": "-smoke"}.get(args.mode, "")
        stem = args.results / f"{today}-{host()}{suffix}"
        raw_dir = args.results / "raw" / stem.name
        raw_dir.mkdir(parents=True, exist_ok=True)
        load = os.getloadavg()
        meta = {
            "date": today,
            "host": host(),
            "mode": args.mode,
            "command": " ".join(["python benchmarks/run.py", *sys.argv[1:]]),
            "python": platform.python_version(),
            "jax_backend": jax_backend(),
            "platform": {
                "machine": platform.machine(),
                "cpu_model": cpu_model(),
                "system": platform.system(),
                "cpu_count": os.cpu_count(),
                "load_average_at_start": load,
            },
        }
        print(
            f"neurodyn benchmarks ({args.mode}): {meta['platform']['cpu_model']}, "
            f"{os.cpu_count()} CPUs, JAX backend {meta['jax_backend']}, load {load[0]:.2f}"
        )
        t0 = time.perf_counter()
        cases = {}
        for name, (_, modes, _) in CASES.items():
            if modes[args.mode] is None or (args.cases and name not in args.cases):
                continue
            cases[name] = run_case(name, args.mode, raw_dir)
        meta["total_s"] = time.perf_counter() - t0
        agg = {**meta, "cases": cases, "rows": flatten(cases)}
        stem.parent.mkdir(parents=True, exist_ok=True)
        stem.with_suffix(".json").write_text(json.dumps(agg, indent=2) + "\n")

    rows = agg["rows"]
    md = markdown(rows, agg)
    stem.with_suffix(".md").write_text(md)
    print()
    print_table(rows)
    png = stem.with_suffix(".png")
    title = f"neurodyn benchmarks {agg['date']} {agg['host']} ({agg['platform']['cpu_model']})"
    made = plot(rows, png, title)
    print(f"\ntotal {agg.get('total_s', 0):.0f} s")
    written = (None if args.from_json else stem.with_suffix(".json"), stem.with_suffix(".md"))
    for path in (*written, png if made else None):
        if path is not None:
            print(f"wrote {path}")


if __name__ == "__main__":
    main()
