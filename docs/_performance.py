"""Generate the performance page from ``benchmarks/results/*.json`` at build time.

Writes ``docs/_generated/performance_tables.md`` (included by ``performance.md``) and
``docs/_generated/coba_runtime.png``: one section per benchmark family, each from that
family's latest result file (named, with its date and the conditions the file records:
machine, cores, load), as narrow tables of the headline figures and of the ratio against
the anchor measured in the same run:

- COBA networks (every result file: neurodyn, Brian2, BrainPy, NEST), with a plot;
- dendrites (``dendrite-*.json``: neurodyn.dendrite against NEURON; gradient, accuracy)
  and their Jaxley / braincell anchors (``dendrite-anchors-*.json``);
- online learning (``online-*.json``: ES-D-RTRL / D-RTRL against braintrace);
- event operators (``event-*.json``: against brainevent) and user event operators
  (``custom-ops-*.json``);
- units, state and integrate (their own files, or the latest suite run's cases);
- NWB output (``io-*.json``), equation strings (``strings-*.json``), scale-out
  (``scaling-*.json``);
- the latest suite run (``YYYY-MM-DD-host.json``, written by ``benchmarks/run.py``).

A family without a file, or whose latest file has an unexpected structure, is skipped
with a one-line note: a new result file never breaks the documentation build.

Run alone: ``python docs/_performance.py`` (the same files).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path


class Skip(Exception):
    """A family has nothing to show (the message says why)."""


# -- formatting ----------------------------------------------------------------------------------


def _fmt_s(x: float | None) -> str:
    if x is None:
        return "—"
    if x < 1e-3:
        return f"{x * 1e6:.1f} µs"
    if x < 1:
        return f"{x * 1e3:.1f} ms"
    return f"{x:.2f} s"


def _fmt_ms(x: float | None) -> str:
    """A time given in milliseconds."""
    return "—" if x is None else _fmt_s(x * 1e-3)


def _r(x: float | None) -> str:
    """A ratio (or any dimensionless number)."""
    if x is None:
        return "—"
    if abs(x) >= 100:
        return f"{x:.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    if abs(x) >= 0.1:
        return f"{x:.2f}"
    return f"{x:.2g}"


def _mib(b: float | None) -> str:
    return "—" if b is None else f"{b / 2**20:.2f}"


def _div(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else a / b


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out + [""]


def _load_avg(v) -> str | None:
    if isinstance(v, list | tuple) and v and all(isinstance(x, int | float) for x in v):
        return " / ".join(f"{x:.2f}" for x in v)
    return None


def _conditions(d: dict, load_start=None, load_end=None) -> str:
    """The machine, cores, load and pinning a result file records, as one sentence."""
    p = d.get("platform") if isinstance(d.get("platform"), dict) else {}
    parts = []
    cpu = p.get("cpu_model") or d.get("cpu")
    if cpu or p.get("machine"):
        parts.append(" ".join(str(x) for x in (cpu, p.get("machine")) if x))
    cores = p.get("cpu_count") or d.get("cpus")
    if cores:
        parts.append(f"{cores} cores")
    if d.get("host"):
        parts.append(f"host `{d['host']}`")
    start = _load_avg(load_start) or _load_avg(
        p.get("load_average_at_start")
        or d.get("load_average")
        or d.get("load_avg_at_start")
        or d.get("load_average_1_5_15_min")
        or d.get("load_average_now")
    )
    end = _load_avg(load_end) or _load_avg(d.get("load_average_end") or d.get("load_avg_at_end"))
    if start:
        parts.append(f"load average (1 / 5 / 15 min) {start} at the start")
    if end:
        parts.append(f"{end} at the end")
    command = str(d.get("command", ""))
    if d.get("pinning"):
        parts.append(str(d["pinning"]))
    elif "--pin-cpu" in command or "taskset" in command:
        parts.append("pinned to one core")
    if "NEURODYN_NATIVE_THREADS" in d:
        threads = d["NEURODYN_NATIVE_THREADS"]
        parts.append(f"NEURODYN_NATIVE_THREADS {'unset' if threads is None else threads}")
    if not parts:
        return "The file records no machine or load."
    return "Conditions: " + ", ".join(parts) + "."


# -- result files --------------------------------------------------------------------------------


def _load(src: Path) -> tuple[list[tuple[str, dict]], list[str]]:
    """The result files that parse as a JSON object, and the names of those that do not."""
    out, bad = [], []
    for p in sorted(src.glob("*.json")):
        try:
            d = json.loads(p.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            bad.append(p.name)
            continue
        if isinstance(d, dict):
            out.append((p.name, d))
        else:
            bad.append(p.name)
    return out, bad


def _date(name: str, d: dict) -> str:
    v = d.get("date")
    if isinstance(v, str) and re.match(r"\d{4}-\d\d-\d\d", v):
        return v[:10]
    m = re.search(r"(\d{4})-?(\d\d)-?(\d\d)", name)
    return "-".join(m.groups()) if m else ""


_CHOSEN: list[str] = []  # the file the current section reads, for its skip note


def _latest(
    files: list[tuple[str, dict]],
    pattern: str,
    partial: Callable[[dict], bool] | None = None,
    load: Callable[[dict], tuple] | None = None,
) -> tuple[str, dict, list[str]]:
    """The latest file (by date, then name) whose name matches ``pattern``; files that
    ``partial`` flags (a quick run) only when there is no other. Also the lines that name
    it, its date and conditions (``load(d)``: the load average at the start and the end,
    where the file keeps them elsewhere) and the family's other files."""
    cands = sorted(
        ((n, d) for n, d in files if re.fullmatch(pattern, n)), key=lambda f: (_date(*f), f[0])
    )
    if not cands:
        raise Skip("no result file in `benchmarks/results/`")

    def is_partial(d):
        try:
            return bool(partial and partial(d))
        except Exception:
            return False  # a malformed file is not passed over: its family is skipped

    full = [c for c in cands if not is_partial(c[1])]
    name, d = (full or cands)[-1]
    _CHOSEN[:] = [name]  # named in the note if the section then fails
    conditions = _conditions(d, *load(d)) if load else _conditions(d)
    lines = [f"From `{name}` ({_date(name, d) or 'undated'}). {conditions}"]
    newer = [n for n, _ in cands[[n for n, _ in cands].index(name) + 1 :]]
    if newer:
        lines.append(f"Newer partial (quick) runs: {', '.join(f'`{n}`' for n in newer)}.")
    older = [n for n, _ in cands if n != name and n not in newer]
    if older:
        lines.append(f"Earlier files: {', '.join(f'`{n}`' for n in older)}.")
    return name, d, [" ".join(lines), ""]


# -- COBA ----------------------------------------------------------------------------------------


def coba_rows(files: list[tuple[str, dict]]) -> list[dict]:
    """One row per (file, N, simulator) of the COBA network benchmarks."""
    rows = []
    for name, d in files:
        if not str(d.get("benchmark", "")).startswith("COBA") or "rows" not in d:
            continue
        model = d.get("model", "lif")
        for r in d["rows"]:
            recorded = r.get("neurodyn/anchor run") or {}
            nd_run = r.get("results", {}).get("neurodyn", {}).get("run_min_s")
            for sim, v in r.get("results", {}).items():
                if "run_min_s" not in v:
                    continue
                ratio = recorded.get(sim)
                if ratio is None and sim != "neurodyn":
                    ratio = _div(nd_run, v["run_min_s"])
                rows.append(
                    {
                        "file": name,
                        "date": d.get("date", ""),
                        "model": {"hh": "COBA-HH", "stdp": "COBA-LIF + STDP"}.get(
                            model, "COBA-LIF"
                        ),
                        "N": r["N"],
                        "t_ms": d.get("t_ms", 1000.0),
                        "simulator": sim,
                        "run_min_s": v["run_min_s"],
                        "build_s": v.get("build_s"),
                        "compile_s": v.get("compile_s"),
                        "rate_E_hz": v.get("rate_E_hz"),
                        "ratio": ratio,
                    }
                )
    return rows


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # the latest file per (model, N, simulator), 1 s of network time only
    latest: dict[tuple, dict] = {}
    for r in rows:
        if r["t_ms"] != 1000.0:
            continue
        key = (r["model"], r["N"], r["simulator"])
        if key not in latest or r["date"] >= latest[key]["date"]:
            latest[key] = r
    sims = sorted({k[2] for k in latest}, key=lambda s: (s != "neurodyn", s))
    cases = sorted({(k[0], k[1]) for k in latest})
    fig, ax = plt.subplots(figsize=(9, 3.6))
    width = 0.8 / max(len(sims), 1)
    for j, sim in enumerate(sims):
        xs, ys = [], []
        for i, c in enumerate(cases):
            if (c[0], c[1], sim) in latest:
                xs.append(i + (j - (len(sims) - 1) / 2) * width)
                ys.append(latest[(c[0], c[1], sim)]["run_min_s"])
        ax.bar(xs, ys, width, label=sim)
    ax.set_xticks(range(len(cases)), [f"{m}\n{n // 1000}k" for m, n in cases])
    ax.set_yscale("log")
    ax.set_ylabel("run time of 1 s network time (s)")
    ax.set_title("COBA networks on CPU (latest result per case; conditions in the table)")
    if sims:
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def coba_section(files, out: Path) -> list[str]:
    rows = coba_rows(files)
    if not rows:
        raise Skip("no COBA result file")
    lines = [
        f"{len(rows)} measurements from every COBA result file, newest first; "
        "`neurodyn / this` is neurodyn's run time over the row's, in the same run "
        "(< 1: neurodyn faster).",
        "",
    ]
    try:
        plot(rows, out / "coba_runtime.png")
        lines += ["![COBA run times](coba_runtime.png)", ""]
    except Exception as e:  # no matplotlib, or an odd row: the tables still come
        lines += [f"*(No plot: {type(e).__name__}.)*", ""]
    data = dict(files)
    order = sorted({r["file"] for r in rows}, key=lambda n: (_date(n, data[n]), n), reverse=True)
    for name in order:
        d = data[name]
        these = [r for r in rows if r["file"] == name]
        models = ", ".join(sorted({r["model"] for r in these}))
        lines += [
            f"### {models}, {these[0]['t_ms']:g} ms: `{name}`",
            "",
            f"{_date(name, d)}, `{d.get('command', '')}`. {_conditions(d)}",
            "",
        ]
        body = [
            [
                f"{r['N']:,}",
                r["simulator"],
                _fmt_s(r["run_min_s"]),
                _r(r["ratio"]),
                _fmt_s(r["build_s"]),
                _fmt_s(r["compile_s"]),
                "—" if r["rate_E_hz"] is None else f"{r['rate_E_hz']:.1f}",
            ]
            for r in sorted(these, key=lambda r: (r["N"], r["simulator"] != "neurodyn"))
        ]
        header = ["N", "simulator", "run", "neurodyn / this", "build", "compile", "E Hz"]
        lines += _table(header, body)
    return lines


# -- dendrites -----------------------------------------------------------------------------------

_DENDRITE = r"dendrite-\d{4}-?\d\d-?\d\d.*\.json"


def _precision(x64) -> str:
    return "f64" if x64 else "f32"


def _rates(table) -> str:
    return "table" if table else "exact"


def dendrite_section(files, out: Path) -> list[str]:
    def quick(d):  # dendrite.py --quick: no rate-table cases
        return not any(c["table"] for c in d["cases"])

    name, d, lines = _latest(files, _DENDRITE, partial=quick)
    cases = d["cases"]
    if not cases:
        raise Skip(f"`{name}` has no cases")
    nrn_version = next((c["neuron"].get("version") for c in cases if c.get("neuron")), None)
    lines += [
        f"Cell `{d.get('swc', '?')}`, {d.get('t_ms', '?')} ms at dt {d.get('dt_ms', '?')} ms, "
        f"one core each; {nrn_version or 'NEURON'}. Rates `exact` or from NEURON's rate "
        "`table`; neurodyn in float32 (`f32`) or float64 (`f64`); NEURON in double.",
        "",
        "**One cell**: ns per compartment-step (run time of the whole run / compartments / "
        "steps); the soma trace's RMS distance to NEURON's.",
        "",
    ]
    lines += _one_cell_table(cases)
    lines += _dendrite_newer(files, name, d)

    lines += [
        "**Batches**: ns per cell-compartment-step (neurodyn: one Cell with a batch axis; "
        "NEURON: that many cells in one process).",
        "",
    ]
    body = []
    for c in cases:
        nd, nrn = c["neurodyn"], c.get("neuron") or {}
        if "batch_ns_per_cell_comp_step" not in nd:
            continue
        body.append(
            [
                c["model"],
                _rates(c["table"]),
                _precision(c["neurodyn_x64"]),
                str(nd.get("batch", "?")),
                f"{nd['batch_ns_per_cell_comp_step']:.2f}",
                _r(nrn.get("batch_ns_per_cell_comp_step")),
                _r(c.get("batch_neurodyn_over_neuron")),
            ]
        )
    header = ["model", "rates", "precision", "cells", "neurodyn ns", "NEURON ns"]
    lines += _table([*header, "neurodyn / NEURON"], body) if body else ["(No batch.)", ""]

    big = [c for c in cases if "big_batch_ns_per_cell_comp_step" in c["neurodyn"]]
    if big:
        lines += [
            "**Big batch** (neurodyn only), ns per cell-compartment-step: `nd.run` in lane "
            "blocks (its default) and whole (`lane_block=False`, when measured), beside the "
            "batch figure above.",
            "",
        ]
        body = []
        for c in big:
            nd = c["neurodyn"]
            whole = nd.get("big_batch_whole_ns_per_cell_comp_step")
            body.append(
                [
                    c["model"],
                    f"{_rates(c['table'])}, {_precision(c['neurodyn_x64'])}",
                    str(nd.get("big_batch", "?")),
                    f"{nd['big_batch_ns_per_cell_comp_step']:.2f}",
                    str(nd.get("big_batch_lane_block") or "—"),
                    "—" if whole is None else f"{whole:.2f}",
                    _r(nd.get("batch_ns_per_cell_comp_step")),
                ]
            )
        header = ["model", "case", "cells", "lane blocks ns", "lane block", "whole ns"]
        lines += _table([*header, "batch ns"], body)

    lines += [
        "**Build and compile** (s): SWC file to a runnable cell (neurodyn: the first build "
        "in the process and a later one), neurodyn's compile (first run minus the fastest).",
        "",
    ]
    body = [
        [
            c["model"],
            _rates(c["table"]),
            _precision(c["neurodyn_x64"]),
            _fmt_s(c["neurodyn"].get("swc_to_runnable_first_s")),
            _fmt_s(c["neurodyn"].get("swc_to_runnable_s")),
            _fmt_s((c.get("neuron") or {}).get("swc_to_runnable_s")),
            _fmt_s(c["neurodyn"].get("compile_s")),
        ]
        for c in cases
    ]
    header = ["model", "rates", "precision", "SWC→cell, first", "SWC→cell", "NEURON SWC→cell"]
    lines += _table([*header, "compile"], body)
    lines += _dendrite_extras(files, name, d)
    return lines


def _one_cell_table(cases: list[dict]) -> list[str]:
    body = []
    for c in cases:
        nd, nrn = c["neurodyn"], c.get("neuron") or {}
        body.append(
            [
                c["model"],
                _rates(c["table"]),
                _precision(c["neurodyn_x64"]),
                f"{nd['ns_per_comp_step']:.2f}",
                _r(nrn.get("ns_per_comp_step")),
                _r(c.get("neurodyn_over_neuron")),
                "—" if c.get("soma_rms_mV") is None else f"{c['soma_rms_mV']:.1e}",
            ]
        )
    header = ["model", "rates", "precision", "neurodyn ns", "NEURON ns", "neurodyn / NEURON"]
    return _table([*header, "soma RMS (mV)"], body)


def _dendrite_newer(files, name: str, d: dict) -> list[str]:
    """The one-cell table of each newer partial (quick) run."""
    lines = []
    key = (_date(name, d), name)
    for n, f in sorted(files, key=lambda x: (_date(*x), x[0])):
        if not re.fullmatch(_DENDRITE, n) or (_date(n, f), n) <= key:
            continue
        lines += [f"**One cell, newer quick run** `{n}` ({_date(n, f)}). {_conditions(f)}", ""]
        try:
            lines += _one_cell_table(f["cases"])
        except Exception as e:
            lines += [f"*Skipped: unexpected structure ({_why(e)}).*", ""]
    return lines


def _dendrite_extras(files, name: str, d: dict) -> list[str]:
    """The gradient and accuracy tables, from the latest dendrite file that has them."""
    lines = []
    for key, render in (("gradient", _gradient_table), ("accuracy", _accuracy_table)):
        src = [
            (n, f)
            for n, f in files
            if re.fullmatch(_DENDRITE, n) and isinstance(f.get(key), list | dict) and f[key]
        ]
        if not src:
            lines += [f"*No {key} measurement in the dendrite files.*", ""]
            continue
        n, f = max(src, key=lambda x: (_date(*x), x[0]))
        where = "the same file." if n == name else f"`{n}` ({_date(n, f)}). {_conditions(f)}"
        try:
            lines += render(f[key], where)
        except Exception as e:
            lines += [f"*Skipped the {key} table of `{n}`: {type(e).__name__} {e}.*", ""]
    return lines


def _gradient_table(rows: list[dict], where: str) -> list[str]:
    lines = [
        f"**Gradient** of a soma-trace loss with respect to 3 channel densities through the "
        f"50 ms run (`nd.grad` under `nd.jit`), against the forward run. From {where}",
        "",
    ]
    body = [
        [
            _precision(g["x64"]),
            "none" if g.get("checkpoint_every_ms") is None else f"{g['checkpoint_every_ms']} ms",
            _fmt_s(g["forward_min_s"]),
            _fmt_s(g["gradient_min_s"]),
            _r(g["gradient_min_s"] / g["forward_min_s"]),
            _mib(g.get("gradient_temp_bytes")),
        ]
        for g in rows
    ]
    header = ["precision", "checkpoints", "forward", "gradient", "gradient / forward"]
    return lines + _table([*header, "temp MiB"], body)


def _accuracy_table(acc: dict, where: str) -> list[str]:
    lines = [
        f"**Accuracy** against {acc.get('reference', 'a converged run')} (soma trace every "
        f"0.1 ms, spike times). From {where}",
        "",
    ]
    names = {"be": "backward Euler", "cn": "Crank-Nicolson"}
    body = []
    for k, v in acc.items():
        if not isinstance(v, dict):
            continue
        m = re.fullmatch(r"(neuron|neurodyn_f32|neurodyn_f64)_(be|cn)_([\d.]+)", k)
        who, method, dt = (
            (m.group(1).replace("_", " ").replace("neuron", "NEURON"), names[m.group(2)], m[3])
            if m
            else (k, "", "")
        )
        body.append(
            [
                who,
                method,
                dt,
                _r(v.get("soma_rms_mV")),
                _r(v.get("soma_max_mV")),
                str(v.get("n_spikes", "—")),
                _r(v.get("spike_time_max_ms")),
            ]
        )
    if not body:
        raise Skip("no accuracy rows")
    header = ["simulator", "method", "dt (ms)", "soma RMS (mV)", "soma max (mV)", "spikes"]
    return lines + _table([*header, "spike time max (ms)"], body)


def dendrite_anchors_section(files, out: Path) -> list[str]:
    name, d, lines = _latest(files, r"dendrite-anchors-.*\.json")
    summary = d["summary"]
    grads = summary.get("gradient_neurodyn") or {}
    lines += [
        f"The same cell (`{d.get('swc', '?')}`, {d.get('t_ms', '?')} ms at dt "
        f"{d.get('dt_ms', '?')} ms) in Jaxley and braincell, beside neurodyn and NEURON "
        f"measured in the same sitting ({d.get('order', 'order not recorded')}). "
        "`× neurodyn` is the row's run time over neurodyn float32's.",
        "",
    ]
    shown = 0
    for model, sims in summary.items():
        if not isinstance(sims, dict) or "neurodyn_f32" not in sims:
            continue
        base = sims["neurodyn_f32"].get("run_min_s")
        batch = next(
            (
                v["cases"][model]["batch"]
                for v in d.values()
                if isinstance(v, dict)
                and isinstance(v.get("cases"), dict)
                and isinstance(v["cases"].get(model), dict)
                and "batch" in v["cases"][model]
            ),
            None,
        )
        body = []
        for sim, v in sims.items():
            grad = v.get("gradient_min_s")
            if grad is None and sim.startswith("neurodyn_") and model == "hh_soma":
                grad = (grads.get(sim.split("_")[-1]) or {}).get("gradient_min_s")
            body.append(
                [
                    sim.replace("_", " "),
                    _fmt_s(v.get("run_min_s")),
                    _r(_div(v.get("run_min_s"), base)),
                    _fmt_s(v.get("batch_run_min_s")),
                    _fmt_s(v.get("swc_to_runnable_s")),
                    _fmt_s(v.get("compile_s")),
                    _fmt_s(grad),
                ]
            )
        cells = f"batch of {batch}" if batch else "batch"
        lines += [f"**{model}**", ""]
        header = ["simulator", "run", "× neurodyn", cells, "SWC→cell", "compile", "gradient"]
        lines += _table(header, body)
        shown += 1
    if not shown:
        raise Skip(f"`{name}` has no per-model summary")
    notes = d.get("model_notes")
    if isinstance(notes, list) and notes:
        lines += ["Where the models differ (the file's `model_notes`):", ""]
        lines += [f"- {n}" for n in notes if isinstance(n, str)] + [""]
    return lines


# -- online learning -----------------------------------------------------------------------------

_RULES = {
    "es_d_rtrl": "ES-D-RTRL",
    "d_rtrl": "D-RTRL",
    "eprop": "e-prop",
    "bptt": "BPTT",
    "bptt_checkpointed": "BPTT, checkpointed",
    "es_d_rtrl_state": "ES-D-RTRL, traces as state",
    "braintrace_es_d_rtrl": "braintrace ES-D-RTRL",
    "braintrace_d_rtrl": "braintrace D-RTRL",
}


def online_section(files, out: Path) -> list[str]:
    def load(d):
        r = next((r for r in d["rows"] if r.get("case") == "load"), {})
        return r.get("loadavg_start"), r.get("loadavg_end")

    name, d, lines = _latest(files, r"online-\d{8}.*\.json", load=load)
    rows = d["rows"]
    bt_version = next((r["braintrace"] for r in rows if r.get("braintrace")), None)
    lines += [
        "A recurrent adaptive LIF network (40 inputs, 2 readouts, batch 16) on the "
        "evidence-accumulation task (`benchmarks/online.py`); time per time step of the "
        f"gradient, side by side with braintrace {bt_version or ''} in the same run.",
        "",
    ]
    times = {(r["loss"], r["rule"], r["N"]): r for r in rows if r.get("case") == "time"}
    ratios = {
        (r["loss"], r["rule"], r["N"]): r["ours_over_braintrace"]
        for r in rows
        if r.get("case") == "time_ratio"
    }
    if not times:
        raise Skip(f"`{name}` has no time rows")
    for loss in dict.fromkeys(k[0] for k in times):
        body = []
        for n in sorted({k[2] for k in times if k[0] == loss}):
            for rule in dict.fromkeys(k[1] for k in times if k[0] == loss):
                if rule.startswith("braintrace_") or (loss, rule, n) not in times:
                    continue
                ours = times[(loss, rule, n)]
                bt = times.get((loss, f"braintrace_{rule}", n), {}).get("ms_per_step")
                ratio = ratios.get((loss, rule, n), _div(ours["ms_per_step"], bt))
                body.append(
                    [
                        str(n),
                        _RULES.get(rule, rule),
                        str(ours.get("T", "?")),
                        _fmt_ms(ours["ms_per_step"]),
                        _fmt_ms(bt),
                        _r(ratio),
                    ]
                )
        lines += [f"**Time per step**, {loss}", ""]
        header = ["N", "algorithm", "T", "neurodyn", "braintrace", "neurodyn / braintrace"]
        lines += _table(header, body)
    lines += _online_memory(rows)
    return lines


def _online_memory(rows: list[dict]) -> list[str]:
    mem: dict[tuple, dict] = {}
    for r in rows:
        if r.get("case") == "memory":
            mem[(r["N"], r["rule"], r["T"])] = r
    if not mem:
        return ["*No memory rows.*", ""]
    lines = []
    for n in sorted({k[0] for k in mem}):
        rules = list(dict.fromkeys(k[1] for k in mem if k[0] == n))
        ts = sorted({k[2] for k in mem if k[0] == n})
        ts = [t for t in ts if sum((n, rule, t) in mem for rule in rules) > 1][:5]
        for what, key in (
            ("temporaries (XLA's temporary buffers)", "temp"),
            ("total (arguments + outputs + temporaries)", "total"),
        ):
            lines += [f"**Memory**, N = {n}: {what}, MiB", ""]
            body = [
                [_RULES.get(rule, rule)] + [_mib(mem.get((n, rule, t), {}).get(key)) for t in ts]
                for rule in rules
            ]
            lines += _table(["algorithm"] + [f"T = {t:,}" for t in ts], body)
    ratio_rows = [r for r in rows if r.get("case") == "memory_ratio"]
    if ratio_rows:
        lines += ["**BPTT over ES-D-RTRL**, memory", ""]
        body = [
            [str(r.get("traces", "")), f"{r['T']:,}", _r(r.get("temp")), _r(r.get("total"))]
            for r in ratio_rows
        ]
        lines += _table(["ES-D-RTRL", "T", "temporaries", "total"], body)
    for r in rows:
        if r.get("case") == "memory_flat":
            t = ", ".join(f"{x:,}" for x in r.get("T", []))
            lines += [
                f"{_RULES.get(r['rule'], r['rule'])} memory at T = {t}: relative spread "
                f"{r.get('spread')} (flat in T).",
                "",
            ]
    return lines


# -- event operators -----------------------------------------------------------------------------


def event_section(files, out: Path) -> list[str]:
    name, d, lines = _latest(files, r"event-\d{8}[a-z]?\.json")
    versions = d.get("versions") or {}
    lines += [
        f"y = s @ W with bool spikes s, each pair connected with p = {d.get('p', '?')} "
        f"(`benchmarks/event.py`, brainevent {versions.get('brainevent', '?')}); "
        "per call, warm caches (min of the samples); `cold`: the connectivity read from "
        "DRAM. Ratio: neurodyn over brainevent (< 1: neurodyn faster).",
        "",
    ]
    csr, jit = [], []
    for r in d["rows"]:
        warm, cold = r["min_ms"], r.get("cold_min_ms") or {}
        head = [f"{r['N']:,}", f"{r['rate']:.0%}"]
        csr.append(
            head
            + [
                _fmt_ms(warm.get("neurodyn CSR")),
                _fmt_ms(warm.get("brainevent CSR")),
                _r(_div(warm.get("neurodyn CSR"), warm.get("brainevent CSR"))),
                _r(_div(cold.get("neurodyn CSR"), cold.get("brainevent CSR"))),
                _fmt_ms(warm.get("dense jnp")),
            ]
        )
        jit.append(
            head
            + [
                _fmt_ms(warm.get("neurodyn JIT conn")),
                _fmt_ms(warm.get("brainevent JIT conn")),
                _r(_div(warm.get("neurodyn JIT conn"), warm.get("brainevent JIT conn"))),
                _r(_div(cold.get("neurodyn JIT conn"), cold.get("brainevent JIT conn"))),
            ]
        )
    if not csr:
        raise Skip(f"`{name}` has no rows")
    lines += ["**Stored (CSR) connectivity**", ""]
    lines += _table(
        ["N", "spikes", "neurodyn", "brainevent", "ratio", "ratio, cold", "dense jnp"], csr
    )
    lines += ["**Procedural (JIT) connectivity**", ""]
    lines += _table(["N", "spikes", "neurodyn", "brainevent", "ratio", "ratio, cold"], jit)
    checks = [v for c in d.get("checks") or [] for k, v in c.items() if isinstance(v, bool)]
    if checks:
        lines += [f"Correctness checks in the file: {sum(checks)} of {len(checks)} pass.", ""]
    return lines


def custom_ops_section(files, out: Path) -> list[str]:
    name, d, lines = _latest(files, r"custom-ops-\d{8}.*\.json")
    rows = [r for r in d["rows"] if "run_min_s" in r]
    if not rows:
        raise Skip(f"`{name}` has no rows")
    lines += [
        "User event operators (`event.scatter_op` / `update_op` / `gather_op`) against the "
        "built-in kernels and brainevent's generic rule, in one run "
        "(`benchmarks/custom_ops.py`; 20 steps in a compiled loop, time per step). "
        "Ratios: the row's time over its case's baseline and over brainevent's "
        "(< 1: the row faster).",
        "",
    ]
    by_case: dict[str, dict[str, float]] = {}
    for r in rows:
        by_case.setdefault(r["case"], {})[r["simulator"]] = r["run_min_s"]
    body = []
    for r in rows:
        case = by_case[r["case"]]
        be = next((v for k, v in case.items() if k.startswith("brainevent")), None)
        base = r.get("baseline")
        body.append(
            [
                r["case"],
                r["simulator"],
                _fmt_s(r["run_min_s"]),
                base or "—",
                _r(_div(r["run_min_s"], case.get(base))) if base else "—",
                _r(_div(r["run_min_s"], be)),
            ]
        )
    header = ["case", "operator", "per step", "baseline", "/ baseline", "/ brainevent"]
    return lines + _table(header, body)


# -- units, state, integrate (microbenchmarks) ---------------------------------------------------


def _suite_files(files):
    return [(n, d) for n, d in files if re.match(r"\d{4}-\d\d-\d\d-.*\.json$", n) and "rows" in d]


def micro_section(key: str, description: str) -> Callable:
    """A microbenchmark family: its own file (``benchmark`` starts with ``key``) or the
    latest suite run's case ``key``; one row per (case, simulator)."""

    def section(files, out: Path) -> list[str]:
        cands = [
            (n, d, f"`{n}`")
            for n, d in files
            if str(d.get("benchmark", "")).startswith(key) and "rows" in d
        ]
        for n, d in _suite_files(files):
            case = (d.get("cases") or {}).get(key)
            if isinstance(case, dict) and "rows" in case:
                cands.append((n, case, f"`{n}`, its `{key}` case"))
        if not cands:
            raise Skip(f"no `{key}` result (neither its own file nor a suite case)")
        n, d, label = max(cands, key=lambda c: (_date(c[0], c[1]), c[0]))
        lines = [f"From {label} ({_date(n, d)}). {_conditions(d)}", "", description, ""]
        body = []
        nd = {}
        for r in d["rows"]:
            if str(r.get("simulator", "")).startswith("neurodyn"):
                nd.setdefault(r["case"], r.get("run_min_s"))
        for r in d["rows"]:
            body.append(
                [
                    r["case"],
                    r["simulator"],
                    _fmt_s(r.get("run_min_s")),
                    _fmt_s(r.get("run_median_s")),
                    _r(_div(nd.get(r["case"]), r.get("run_min_s"))),
                ]
            )
        if not body:
            raise Skip(f"`{n}` has no `{key}` rows")
        return lines + _table(["case", "simulator", "min", "median", "neurodyn / this"], body)

    return section


# -- io, strings, scaling ------------------------------------------------------------------------


def io_section(files, out: Path) -> list[str]:
    name, d, lines = _latest(files, r"io-\d{8}.*\.json")
    lines += [
        "`nwb.write` of a long run (`benchmarks/io.py`), against pynwb writing the membrane "
        "potential alone through `H5DataIO` with gzip 1 (the anchor).",
        "",
    ]
    body, mem = [], []
    for r in d["rows"]:
        anchor = r.get("anchor_pynwb_h5dataio_gzip1_V_only_s")
        body.append(
            [
                r["case"],
                _fmt_s(r["write_min_s"]),
                _fmt_s(r.get("write_median_s")),
                _fmt_s(r.get("write_cpu_min_s")),
                _fmt_s(anchor),
                _r(_div(r["write_min_s"], anchor)),
                "—" if r.get("file_mb") is None else f"{r['file_mb']:.0f}",
            ]
        )
        rss = (r.get("rss_peak_before_write_mb"), r.get("rss_peak_after_writes_mb"))
        mem.append(
            [
                "—" if r.get("series_mb") is None else f"{r['series_mb']:.0f}",
                "—" if r.get("write_heap_peak_mb") is None else f"{r['write_heap_peak_mb']:.1f}",
                _r(r.get("heap_peak_over_series")),
                " → ".join("—" if x is None else f"{x:.0f}" for x in rss),
                _fmt_s(r.get("write_first_in_process_s")),
                _fmt_s(r.get("sonata_write_s")),
            ]
        )
    if not body:
        raise Skip(f"`{name}` has no rows")
    header = ["case", "write", "median", "CPU", "pynwb + gzip", "neurodyn / pynwb"]
    lines += _table([*header, "file MB"], body)
    lines += ["**Memory** (MB) and the other writes", ""]
    header = ["series MB", "heap peak MB", "heap / series", "RSS peak MB", "first write"]
    lines += _table([*header, "SONATA spikes"], mem)
    for r in d["rows"]:
        if "read_back_equal" in r or "validate_errors" in r:
            lines += [
                f"Checks: `pynwb.validate` errors {r.get('validate_errors', '?')}, "
                f"nwbinspector findings {len(r.get('inspector_findings') or [])}, read back "
                f"equal: {r.get('read_back_equal', '?')}.",
                "",
            ]
    return lines


def strings_section(files, out: Path) -> list[str]:
    name, d, lines = _latest(files, r"strings-.*\.json")
    net = f"COBA-LIF{' + STDP' if d.get('stdp') else ''} {d['n']:,}, {d['t_ms']:g} ms"
    lines += [
        "The network written as equation strings (`NeuronGroup` + `Synapses`) against the "
        "same network from the built-in classes (`benchmarks/strings.py`).",
        "",
    ]
    base = d["built-in"]["min_s"]
    body = [
        [
            net,
            impl,
            _fmt_s(d[impl]["min_s"]),
            _fmt_s(d[impl].get("median_s")),
            _r(d[impl].get("rate_E_hz")),
            _r(_div(d[impl]["min_s"], base)),
        ]
        for impl in ("built-in", "strings")
    ]
    return lines + _table(["network", "written with", "run", "median", "E Hz", "/ built-in"], body)


def scaling_section(files, out: Path) -> list[str]:
    name, d, lines = _latest(files, r"scaling-.*\.json")
    lines += ["Splitting a network over devices (`benchmarks/scaling.py`).", ""]
    body = [
        [r["case"], _fmt_s(r["no_mesh_min_s"]), _fmt_s(r["mesh1_min_s"]), _r(r.get("ratio"))]
        for r in d["overhead"]
    ]
    lines += ["**The sharded runner on one device**", ""]
    lines += _table(["case", "no mesh", "1-device mesh", "ratio"], body)
    ex = d.get("exchange") or {}
    body = [
        [k.replace("_", " "), str(v.get("block", "?")), _fmt_s(v.get("min_s")), str(v["spikes_E"])]
        for k, v in ex.items()
        if isinstance(v, dict)
    ]
    if body:
        lines += [
            "**Spike exchange over 2 processes**, once per min-delay block against every "
            f"step (block / step: {_r(ex.get('ratio_block_over_step'))})",
            "",
        ]
        lines += _table(["exchange", "steps per block", "run", "E spikes"], body)
    lat = (d.get("latency") or {}).get("us_per_all_gather") or {}
    if lat:
        lines += ["**Latency** of one `all_gather` between 2 processes", ""]
        body = [[f"{int(k):,}", f"{v:.0f}"] for k, v in lat.items()]
        lines += _table(["bytes", "µs"], body)
    return lines


# -- suite ---------------------------------------------------------------------------------------


def suite_section(files, out: Path) -> list[str]:
    suites = _suite_files(files)
    if not suites:
        raise Skip("no suite run (`benchmarks/run.py`)")
    name, suite = max(suites, key=lambda f: (_date(*f), f[0]))
    lines = [
        f"`{name}`: `{suite.get('command', '')}`, {suite.get('date', '')}. "
        f"{_conditions(suite)} The ratio is neurodyn's time over the row's.",
        "",
    ]
    body = [
        [
            r["case"],
            "—" if r.get("N") is None else str(r["N"]),
            r["simulator"],
            _fmt_s(r.get("run_min_s")),
            _r(r.get("ratio")),
        ]
        for r in suite["rows"]
    ]
    return lines + _table(["case", "N", "simulator", "run (min)", "ratio"], body)


FAMILIES: list[tuple[str, Callable[[list[tuple[str, dict]], Path], list[str]]]] = [
    ("COBA networks", coba_section),
    ("Dendrites: neurodyn.dendrite and NEURON", dendrite_section),
    ("Dendrites: Jaxley and braincell", dendrite_anchors_section),
    ("Online learning: neurodyn.online and braintrace", online_section),
    ("Event operators: neurodyn.event and brainevent", event_section),
    ("User event operators", custom_ops_section),
    (
        "Units",
        micro_section(
            "units", "Arithmetic with units: neurodyn, brainunit and plain JAX (no units)."
        ),
    ),
    (
        "State",
        micro_section("state", "Compiled functions over States: `nd.jit`, brainstate, jax.jit."),
    ),
    ("Integrate", micro_section("integrate", "ODE integrators.")),
    ("NWB output", io_section),
    ("Equation strings", strings_section),
    ("Scale-out", scaling_section),
    ("Latest suite run", suite_section),
]


def generate(src: Path, out: Path) -> Path:
    out.mkdir(exist_ok=True)
    files, bad = _load(src)
    lines = [f"Generated from {len(files)} files in `benchmarks/results/`.", ""]
    if bad:
        lines += [f"Not readable as a JSON object: {', '.join(f'`{n}`' for n in bad)}.", ""]
    for title, section in FAMILIES:
        lines += [f"## {title}", ""]
        _CHOSEN.clear()
        try:
            lines += section(files, out)
        except Skip as e:
            lines += [f"*Skipped: {e}.*", ""]
        except Exception as e:  # an unexpected structure: never break the build
            what = f"`{_CHOSEN[0]}`" if _CHOSEN else "the result file"
            lines += [f"*Skipped: {what} has an unexpected structure ({_why(e)}).*", ""]
    text = "\n".join(lines) + "\n"
    target = out / "performance_tables.md"
    if not target.exists() or target.read_text() != text:
        target.write_text(text)
    return target


def _why(e: Exception) -> str:
    return f"{type(e).__name__}: {e}".replace("\n", " ")[:120]


if __name__ == "__main__":
    here = Path(__file__).resolve().parent
    print(generate(here.parent / "benchmarks" / "results", here / "_generated"))
