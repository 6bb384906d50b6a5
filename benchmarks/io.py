"""Writing a long run to NWB (``neurodyn.io.nwb.write``) and to a SONATA spike file.

The case of issue 22: 1,000 LIF neurons simulated for 10 s at dt = 0.1 ms (100,000
steps), recording every spike (a ``SpikeMonitor``) and the membrane potential of every
neuron at every step (one sampled variable: a float32 [100000, 1000] trace, 400 MB).
The simulation runs once (not timed); then ``nwb.write`` is timed: the first write of
the process (it imports pynwb and hdmf) and ``--repeats`` more (minimum and median of
the wall time, and the CPU time of all threads: on a shared machine the wall time
depends on the other load, recorded as the load average),
with the experiment's metadata, so the file passes nwbinspector; the peak Python-heap
memory of one more write (``tracemalloc``: numpy buffers included; the run's arrays
exist before it) and the peak resident memory of the process are reported beside it;
``--check`` checks the file (``pynwb.validate``, the inspector, the series read back
equal).

    python benchmarks/io.py [--n 1000] [--t 10000] [--repeats 3] [--out results/io-DATE.json]

(default output: ``benchmarks/results/io-<date>.json``).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import platform
import resource
import statistics
import tempfile
import time
import tracemalloc

import numpy as np

import neurodyn as nd
import neurodyn.units as u
from neurodyn.dyn import SpikeMonitor
from neurodyn.io import nwb, sonata

META = {
    "experimenter": "Doe, Jane",
    "institution": "Example Institute",
    "subject": {"species": "Mus musculus", "sex": "U", "age": "P90D"},
    "session_start_time": datetime.datetime(2024, 5, 1, 12, tzinfo=datetime.UTC),
}


def simulate(n: int, t_ms: float):
    class Net(nd.Network):
        def __init__(self):
            rng = np.random.default_rng(0)
            self.E = nd.dyn.LIF(n, I_ext=rng.uniform(140, 260, n) * u.pA)

    net = Net()
    return nd.run(
        net,
        t_ms * u.ms,
        dt=0.1 * u.ms,
        monitors={"spike": SpikeMonitor(net.E.spike), "V": net.E.V},
    )


def pynwb_h5dataio(path, res) -> None:
    """The anchor: pynwb's own way to write the same compressed series, ``H5DataIO``
    over the array (h5py's gzip filter, one thread; the same chunks, level and shuffle)."""
    from hdmf.backends.hdf5.h5_utils import H5DataIO
    from pynwb import NWBHDF5IO, NWBFile, TimeSeries

    from neurodyn.io._chunks import chunk_shape

    v = np.asarray(u.get_mantissa(res["V"]))
    f = NWBFile(
        session_description="anchor",
        identifier="anchor",
        **{k: META[k] for k in ("session_start_time", "institution")},
    )
    data = H5DataIO(
        v,
        chunks=chunk_shape(v.shape, v.itemsize),
        compression="gzip",
        compression_opts=1,
        shuffle=True,
    )
    f.add_acquisition(
        TimeSeries(name="V", data=data, unit="volts", conversion=1e-3, rate=1e4, starting_time=0.0)
    )
    with NWBHDF5IO(path, "w") as io:
        io.write(f)


def _cpu_s() -> float:
    """CPU seconds of this process, all threads (user + system): the work of a write,
    whatever else the machine runs."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--t", type=float, default=10000.0, help="biological time in ms")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--check", action="store_true", help="validate and inspect the file")
    ap.add_argument("--dir", default=None, help="folder for the files (default: a temp dir)")
    ap.add_argument("--out", default=None)
    ap.add_argument("--no-anchor", action="store_true", help="skip pynwb's H5DataIO write")
    args = ap.parse_args()

    t0 = time.perf_counter()
    res = simulate(args.n, args.t)
    sim_s = time.perf_counter() - t0
    v = res["V"]
    n_spikes = len(res["spike"])
    series_mb = np.asarray(u.get_mantissa(v)).nbytes / 1e6
    print(
        f"simulated {args.n} neurons x {args.t / 1e3:g} s in {sim_s:.1f} s: {n_spikes} "
        f"spikes, V {series_mb:.0f} MB; peak RSS so far {_rss_mb():.0f} MB"
    )

    folder = tempfile.mkdtemp(prefix="nd-io-bench-", dir=args.dir)
    path = os.path.join(folder, "run.nwb")
    rss_before = _rss_mb()
    t0 = time.perf_counter()
    nwb.write(path, res, **META)  # the first write imports pynwb and hdmf
    cold_s = time.perf_counter() - t0
    rss_first = _rss_mb()
    print(f"nwb.write, first in the process (imports pynwb) {cold_s:.2f} s")
    times, cpus = [], []
    for _ in range(args.repeats):
        c0, t0 = _cpu_s(), time.perf_counter()
        nwb.write(path, res, **META)
        times.append(time.perf_counter() - t0)
        cpus.append(_cpu_s() - c0)
        print(f"nwb.write {times[-1]:.2f} s (CPU {cpus[-1]:.2f} s, all threads)")
    tracemalloc.start()  # (slows the write down: not timed)
    nwb.write(path, res, **META)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    heap_peak_mb = peak / 1e6
    size_mb = os.path.getsize(path) / 1e6
    t0 = time.perf_counter()
    sonata.write_spikes(os.path.join(folder, "spikes.h5"), res, monitors=["spike"])
    sonata_s = time.perf_counter() - t0
    rss_after = _rss_mb()
    anchor_s = anchor_cpu = None
    if not args.no_anchor:
        c0, t0 = _cpu_s(), time.perf_counter()
        pynwb_h5dataio(os.path.join(folder, "anchor.nwb"), res)
        anchor_s, anchor_cpu = time.perf_counter() - t0, _cpu_s() - c0
        print(
            f"anchor: pynwb H5DataIO(gzip 1, shuffle) of V alone, one run: {anchor_s:.2f} s "
            f"(CPU {anchor_cpu:.2f} s)"
        )
    row = {
        "case": f"nwb.write {args.n} neurons x {args.t / 1e3:g} s, dt 0.1 ms (spikes + V)",
        "n_neurons": args.n,
        "duration_s": args.t / 1e3,
        "steps": int(round(args.t / 0.1)),
        "spikes": n_spikes,
        "series_mb": round(series_mb, 1),
        "file_mb": round(size_mb, 1),
        "write_min_s": round(min(times), 3),
        "write_median_s": round(statistics.median(times), 3),
        "write_times_s": [round(x, 3) for x in times],
        "write_cpu_min_s": round(min(cpus), 3),
        "write_cpu_s": [round(x, 3) for x in cpus],
        "write_first_in_process_s": round(cold_s, 3),
        "write_heap_peak_mb": round(heap_peak_mb, 1),
        "heap_peak_over_series": round(heap_peak_mb / series_mb, 4),
        "rss_peak_before_write_mb": round(rss_before, 0),
        "rss_peak_after_first_write_mb": round(rss_first, 0),
        "rss_peak_after_writes_mb": round(rss_after, 0),
        "sonata_write_s": round(sonata_s, 3),
        "anchor_pynwb_h5dataio_gzip1_V_only_s": anchor_s and round(anchor_s, 3),
        "anchor_cpu_s": anchor_cpu and round(anchor_cpu, 3),
        "simulate_s": round(sim_s, 1),
    }
    print(
        f"nwb.write min {min(times):.2f} s, median {statistics.median(times):.2f} s; "
        f"file {size_mb:.0f} MB; heap peak of a write {heap_peak_mb:.1f} MB "
        f"({100 * heap_peak_mb / series_mb:.2f} % of the series); RSS peak "
        f"{rss_before:.0f} -> {rss_first:.0f} (first write) -> {rss_after:.0f} MB; sonata "
        f"{sonata_s:.2f} s"
    )
    if args.check:
        import nwbinspector
        import pynwb

        errors = pynwb.validate(path=path)
        findings = [
            (m.importance.name, m.check_function_name, m.message)
            for m in nwbinspector.inspect_nwbfile(
                nwbfile_path=path,
                importance_threshold=nwbinspector.Importance.BEST_PRACTICE_SUGGESTION,
            )
        ]
        back = nwb.read(path)["series"]["V"][1]
        same = bool(np.array_equal(back.to_value(u.mV), np.asarray(v.to_value(u.mV))))
        row.update(validate_errors=len(errors), inspector_findings=findings, read_back_equal=same)
        print(f"validate: {errors}; inspector: {findings}; V read back equal: {same}")
    for f in os.listdir(folder):
        os.remove(os.path.join(folder, f))
    os.rmdir(folder)

    out = args.out or str(
        pathlib.Path(__file__).parent / "results" / f"io-{datetime.date.today():%Y%m%d}.json"
    )
    doc = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "load_average_1_5_15_min": [round(x, 2) for x in os.getloadavg()],
        "rows": [row],
    }
    pathlib.Path(out).write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
