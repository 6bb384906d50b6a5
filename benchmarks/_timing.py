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


def interleaved(
    cases: dict[str, Callable[[], object]],
    number: int | dict[str, int],
    repeats: int = 7,
    prime: bool = False,
    settle: float = 0.0,
):
    """Time each case ``repeats`` times, interleaving the cases so that drift
    in machine load affects all of them alike. Returns name -> (min, median) in
    seconds per call. ``number`` is the calls per sample (one value, or one per
    case). ``prime=True`` makes one untimed call before each sample, so that
    every timed call finds its data where the previous call of the same case
    left it (caches warm), whatever the other cases did in between. ``settle`` seconds of
    sleep before each sample let the machine go idle after the previous case (a
    multithreaded case leaves its worker threads spinning for a while)."""
    import time

    numbers = number if isinstance(number, dict) else dict.fromkeys(cases, number)
    for fn in cases.values():
        fn()  # warm up (compile, caches)
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(repeats):
        for name, fn in cases.items():
            if settle:
                time.sleep(settle)
            if prime:
                fn()
            samples[name].append(timeit.timeit(fn, number=numbers[name]) / numbers[name])
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


_EVICT = None


def cold(cases: dict[str, Callable[[], object]], repeats: int = 7, evict_mb: int = 96):
    """Cold-cache time per call: before each timed call, ``evict_mb`` MB (more than
    the last-level cache) are written, so the call's data comes from DRAM. Cases
    interleaved; returns name -> (min, median) in seconds per call."""
    import time

    import numpy as np

    global _EVICT
    if _EVICT is None or _EVICT.nbytes != evict_mb << 20:
        _EVICT = np.zeros(evict_mb << 20, np.uint8)
    for fn in cases.values():
        fn()
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for r in range(repeats):
        for name, fn in cases.items():
            _EVICT[::64] = r  # one write per cache line
            t0 = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - t0)
    return {name: (min(s), statistics.median(s)) for name, s in samples.items()}


def cpu_model() -> str:
    """The CPU model name (platform.processor() is empty on many Linux systems)."""
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
