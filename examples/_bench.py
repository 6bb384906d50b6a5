"""Shared command line and timing for the network examples: build, a first run
(compile + run), then a second run of the same length reusing the compiled program
(pure run time); prints E/I rates and one JSON line."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time


def _devices_flag() -> None:
    """``--devices N``: N CPU devices in all (per process: N / processes), set before
    JAX starts its backend (importing neurodyn.dyn does)."""
    argv = sys.argv[1:]
    for k, a in enumerate(argv):
        n = a.split("=", 1)[1] if a.startswith("--devices=") else None
        if a == "--devices" and k + 1 < len(argv):
            n = argv[k + 1]
        if n is not None and n.isdigit() and int(n) > 0:
            procs = int(os.environ.get("NEURODYN_NUM_PROCESSES", "1"))
            flag = f"--xla_force_host_platform_device_count={max(1, int(n) // procs)}"
            os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {flag}".strip()


_devices_flag()

import numpy as np  # noqa: E402

import neurodyn as nd  # noqa: E402
import neurodyn.units as u  # noqa: E402
from neurodyn.dyn import Monitor, SpikeMonitor  # noqa: E402


def parse(description: str, n: int = 4000, t: float = 1000.0, extra=None):
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--n", type=int, default=n)
    ap.add_argument("--t", type=float, default=t, help="biological time in ms")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--devices",
        type=int,
        default=None,
        help="split the network over this many devices (virtual CPU devices here, GPUs "
        "where there are; with python -m neurodyn.launch -n P: over all P processes)",
    )
    ap.add_argument("--no-plot", action="store_true", help="write no figure")
    if extra is not None:
        extra(ap)
    args = ap.parse_args()
    if args.devices is not None and args.devices < 1:
        ap.error(f"--devices must be at least 1, got {args.devices}")
    return args


def _mesh(devices):
    if devices is None:
        return None
    import jax

    if jax.device_count() < devices:
        raise SystemExit(
            f"--devices {devices}: only {jax.device_count()} devices here "
            f"({jax.process_count()} processes); start more processes or ask for fewer."
        )
    return jax.make_mesh((devices,), ("neurons",), devices=jax.devices()[:devices])


def run_and_report(title: str, make_net, args, dt=0.1 * u.ms, monitors=None, figure=None):
    """Build ``make_net(n, seed)`` (a network with ``E`` and ``I`` populations or
    views), time it and print its rates; returns (net, result of the first run). With
    ``figure`` (a name) and without ``--no-plot``, the first run is made again with every
    spike of E and I recorded, and a raster with the population rates is written to
    examples/figures/<figure>.png (before the JSON line)."""
    mesh = _mesh(getattr(args, "devices", None))
    nd.random.seed(args.seed)
    t0 = time.perf_counter()
    net = make_net(args.n, args.seed)
    build_s = time.perf_counter() - t0
    T = args.t * u.ms
    mons = {"E": Monitor(net.E.spike, every=T), "I": Monitor(net.I.spike, every=T)}
    mons.update(monitors or {})
    t0 = time.perf_counter()
    res = nd.run(net, T, dt=dt, monitors=mons, mesh=mesh)
    first_s = time.perf_counter() - t0
    net.reset_state()
    t0 = time.perf_counter()
    nd.run(net, T, dt=dt, monitors=mons, mesh=mesh)
    run_s = time.perf_counter() - t0
    seconds = args.t / 1000
    rate_e = float(np.asarray(res["E"]).sum() / net.E.num / seconds)
    rate_i = float(np.asarray(res["I"]).sum() / net.I.num / seconds)
    compile_s = max(first_s - run_s, 0.0)
    print(f"{title}: {args.n} neurons, {args.t:g} ms at dt = {dt}")
    print(f"  excitatory rate {rate_e:.1f} Hz, inhibitory rate {rate_i:.1f} Hz")
    print(f"  build {build_s:.2f} s, compile {compile_s:.2f} s, run {run_s:.3f} s")
    if figure is not None and not getattr(args, "no_plot", False):
        # the first run again (the same seed, a new build) with every spike recorded, for
        # the figure: the timed runs above are the same as with --no-plot
        nd.random.seed(args.seed)
        again = make_net(args.n, args.seed)
        mons = {"E": SpikeMonitor(again.E.spike), "I": SpikeMonitor(again.I.spike)}
        _raster_figure(
            nd.run(again, T, dt=dt, monitors=mons, mesh=mesh), again, title, args.t, figure
        )
    print(
        json.dumps(
            {
                "rate_E_hz": round(rate_e, 3),
                "rate_I_hz": round(rate_i, 3),
                "n": args.n,
                "t_ms": args.t,
                "build_s": round(build_s, 3),
                "compile_s": round(compile_s, 3),
                "run_s": round(run_s, 4),
                **({} if mesh is None else {"devices": int(mesh.size), "processes": _processes()}),
            }
        )
    )
    return net, res


def _raster_figure(res, net, title: str, t_ms: float, name: str) -> None:
    import _plots

    t_e, i_e = res.spikes("E")
    t_i, i_i = res.spikes("I")
    _plots.network(
        name, f"{title}: {net.E.num + net.I.num} neurons", t_ms,
        (t_e.to_value(u.ms), i_e, net.E.num), (t_i.to_value(u.ms), i_i, net.I.num),
    )  # fmt: skip


def _processes() -> int:
    import jax

    return jax.process_count()
