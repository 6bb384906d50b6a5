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

import re
from collections.abc import Callable
from pathlib import Path

from _perf_common import (
    _CHOSEN,
    Skip,
    _conditions,
    _date,
    _div,
    _fmt_ms,
    _fmt_s,
    _latest,
    _load,
    _mib,
    _r,
    _table,
    _why,
)
from _perf_dendrite import dendrite_anchors_section, dendrite_section

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


if __name__ == "__main__":
    here = Path(__file__).resolve().parent
    print(generate(here.parent / "benchmarks" / "results", here / "_generated"))
