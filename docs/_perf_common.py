"""The shared part of the performance page's generator (``docs/_performance.py``): number
formatting, narrow markdown tables, the conditions a result file records, and finding a
family's latest result file."""

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


def _why(e: Exception) -> str:
    return f"{type(e).__name__}: {e}".replace("\n", " ")[:120]
