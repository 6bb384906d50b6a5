"""Shared timing helper for the benchmarks: interleaved repeats, min and median."""

from __future__ import annotations

import statistics
import timeit
from collections.abc import Callable


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


def report(title: str, results: dict[str, tuple[float, float]], baseline: str) -> None:
    base = results[baseline][0]
    print(f"\n{title}")
    print(f"  {'case':<28}{'min (us)':>12}{'median (us)':>14}{'ratio':>9}")
    for name, (mn, med) in results.items():
        print(f"  {name:<28}{mn * 1e6:>12.2f}{med * 1e6:>14.2f}{mn / base:>8.2f}x")
