"""Generate the performance page from ``benchmarks/results/*.json`` at build time.

Writes ``docs/_generated/performance_tables.md`` (included by ``performance.md``) and
``docs/_generated/coba_runtime.png``: the COBA network cases of every result file
(neurodyn and each anchor simulator, run time of 1 s of network time) and the latest
suite run (``YYYY-MM-DD-host.json``, written by ``benchmarks/run.py``).

Run alone: ``python docs/_performance.py`` (the same files).
"""

from __future__ import annotations

import json
import re
from pathlib import Path


def _fmt_s(x: float | None) -> str:
    if x is None:
        return "—"
    if x < 1e-3:
        return f"{x * 1e6:.1f} µs"
    if x < 1:
        return f"{x * 1e3:.1f} ms"
    return f"{x:.2f} s"


def _load(src: Path) -> list[tuple[str, dict]]:
    out = []
    for p in sorted(src.glob("*.json")):
        try:
            out.append((p.name, json.loads(p.read_text())))
        except json.JSONDecodeError:
            continue
    return out


def coba_rows(files: list[tuple[str, dict]]) -> list[dict]:
    """One row per (file, N, simulator) of the COBA network benchmarks."""
    rows = []
    for name, d in files:
        if not str(d.get("benchmark", "")).startswith("COBA") or "rows" not in d:
            continue
        model = d.get("model", "lif")
        for r in d["rows"]:
            for sim, v in r.get("results", {}).items():
                if "run_min_s" not in v:
                    continue
                rows.append(
                    {
                        "file": name,
                        "date": d.get("date", ""),
                        "model": "COBA-HH" if model == "hh" else "COBA-LIF",
                        "N": r["N"],
                        "t_ms": d.get("t_ms", 1000.0),
                        "simulator": sim,
                        "run_min_s": v["run_min_s"],
                        "build_s": v.get("build_s"),
                        "compile_s": v.get("compile_s"),
                        "rate_E_hz": v.get("rate_E_hz"),
                    }
                )
    return rows


def _suite(files):
    suites = [(n, d) for n, d in files if re.match(r"\d{4}-\d\d-\d\d-.*\.json$", n) and "rows" in d]
    return suites[-1] if suites else (None, None)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out + [""]


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


def generate(src: Path, out: Path) -> Path:
    out.mkdir(exist_ok=True)
    files = _load(src)
    rows = coba_rows(files)
    lines = [
        f"Generated from {len(files)} files in `benchmarks/results/` "
        f"({len(rows)} COBA measurements).",
        "",
        "## COBA networks",
        "",
        "![COBA run times](coba_runtime.png)",
        "",
    ]
    body = []
    for r in sorted(rows, key=lambda r: (r["model"], r["N"], r["date"], r["simulator"])):
        rate = "—" if r["rate_E_hz"] is None else f"{r['rate_E_hz']:.1f}"
        body.append(
            [
                r["model"],
                f"{r['N']:,}",
                f"{r['t_ms']:g}",
                r["simulator"],
                _fmt_s(r["run_min_s"]),
                _fmt_s(r["build_s"]),
                _fmt_s(r["compile_s"]),
                rate,
                r["date"],
                f"`{r['file']}`",
            ]
        )
    header = ["model", "N", "ms", "simulator", "run", "build", "compile", "E Hz", "date", "file"]
    # (the file column names the JSON in benchmarks/results/ each row comes from)
    lines += _table(header, body)
    name, suite = _suite(files)
    if suite is not None:
        platform = suite.get("platform", {})
        lines += [
            f"## Latest suite run: `{name}`",
            "",
            f"`{suite.get('command', '')}` on {platform.get('cpu_model', '?')} "
            f"({platform.get('cpu_count', '?')} cores), {suite.get('date', '')}; the ratio is "
            "neurodyn's time over the row's.",
            "",
        ]
        body = [
            [
                r["case"],
                str(r.get("N", "")),
                r["simulator"],
                _fmt_s(r.get("run_min_s")),
                "—" if r.get("ratio") is None else f"{r['ratio']:.2f}",
            ]
            for r in suite["rows"]
        ]
        lines += _table(["case", "N", "simulator", "run (min)", "ratio"], body)
    text = "\n".join(lines) + "\n"
    target = out / "performance_tables.md"
    if not target.exists() or target.read_text() != text:
        target.write_text(text)
    plot(rows, out / "coba_runtime.png")
    return target


if __name__ == "__main__":
    here = Path(__file__).resolve().parent
    print(generate(here.parent / "benchmarks" / "results", here / "_generated"))
