"""The dendrite sections of the performance page (``docs/_performance.py``):
neurodyn.dendrite against NEURON (``dendrite-*.json``) and its Jaxley / braincell anchors
(``dendrite-anchors-*.json``)."""

from __future__ import annotations

import re
from pathlib import Path

from _perf_common import (
    Skip,
    _conditions,
    _date,
    _div,
    _fmt_s,
    _latest,
    _mib,
    _r,
    _table,
    _why,
)

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
