"""Shared timing helper for the benchmarks: interleaved repeats, min and median.

``report`` also records each table it prints; ``write_json`` writes the recorded rows
(for ``run.py``, which passes ``--out PATH`` to every case script)."""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import platform
import statistics
import timeit
from collections.abc import Callable

ROWS: list[dict] = []


def interleaved(cases: dict[str, Callable[[], object]], number: int, repeats: int = 7):
    """Time each case ``repeats`` times, interleaving the cases so that drift
    in machine load affects all of them alike. Returns name -> (min, median) in
    seconds per call."""
    for fn in cases.values():
        fn()  # warm up (compile, caches)
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(repeats):
        for name, fn in cases.items():
            samples[name].append(timeit.timeit(fn, number=number) / number)
    return {name: (min(s), statistics.median(s)) for name, s in samples.items()}


def record(case: str, simulator: str, min_s: float, median_s: float | None = None, **extra):
    """Keep one result row (seconds) for ``write_json``."""
    ROWS.append(
        {"case": case, "simulator": simulator, "run_min_s": min_s, "run_median_s": median_s} | extra
    )


def report(title: str, results: dict[str, tuple[float, float]], baseline: str, **extra) -> None:
    base = results[baseline][0]
    print(f"\n{title}")
    print(f"  {'case':<28}{'min (us)':>12}{'median (us)':>14}{'ratio':>9}")
    for name, (mn, med) in results.items():
        print(f"  {name:<28}{mn * 1e6:>12.2f}{med * 1e6:>14.2f}{mn / base:>8.2f}x")
        record(title, name, mn, med, baseline=baseline, **extra)


def out_arg(description: str) -> argparse.Namespace:
    """The common command line of the microbenchmarks: ``--out PATH``."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--out", type=pathlib.Path, help="write the results as JSON here")
    return ap.parse_args()


def write_json(path: pathlib.Path | None, benchmark: str, versions: dict) -> None:
    if path is None:
        return
    out = {
        "benchmark": benchmark,
        "date": datetime.date.today().isoformat(),
        "versions": {"python": platform.python_version(), **versions},
        "platform": {"machine": platform.machine(), "cpu_count": os.cpu_count()},
        "rows": ROWS,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"results written to {path}")
