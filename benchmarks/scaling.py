"""Scale-out benchmark (issue #21): what splitting a network over devices costs here.

Three measurements, one JSON file (``results/scaling-<date>.json``):

1. **Overhead of the sharded runner on one device.** COBA-LIF (4k, and 64k with
   ``--big``), 1 s at dt 0.1 ms, zero delay: ``nd.run(net, ...)`` against
   ``nd.run(net, ..., mesh=<1 device>)`` in the same process, interleaved, min of the
   repeats. Target: <= 1.05.
2. **Exchange once per min-delay interval vs every step, 2 processes.** The COBA network
   with 1.5 ms delays (15 steps at 0.1 ms) over 2 processes started by
   ``python -m neurodyn.launch -n 2``, with the spikes exchanged once per 15-step
   interval (the scheme) and, for comparison, in every step. Target: block/per-step
   <= 0.6.
3. **Latency of one spike exchange between 2 processes** (gloo on this machine): an
   ``all_gather`` of 1 kB .. 1 MB, 200 in a compiled loop, per collective. Feeds the
   scaling model in ``SCALING.md``.

    python benchmarks/scaling.py [--big] [--out results/scaling-DATE.json]

Timings depend on the machine's load: run it on a quiet machine, and compare only
figures from the same run.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent


def _child_exchange(t_ms: float, per_step: bool, repeats: int) -> None:
    """In each launched process: the COBA network with 1.5 ms delays over all devices."""
    import jax

    import neurodyn as nd
    import neurodyn.units as u
    from neurodyn.dyn import _shard

    sys.path.insert(0, str(ROOT / "tests" / "dyn"))
    from _shard_script import Net

    if per_step:
        _shard.MAX_BLOCK_STEPS = 1  # exchange in every step (for comparison only)
    nd.random.seed(7)
    net = Net(delay=1.5 * u.ms)
    mesh = jax.make_mesh((jax.device_count(),), ("neurons",))
    mons = {"E": nd.dyn.Monitor(net.E.spike, every=t_ms * u.ms)}
    res = nd.run(net, t_ms * u.ms, dt=0.1 * u.ms, monitors=mons, mesh=mesh)
    times = []
    for _ in range(repeats):
        net.reset_state()
        t0 = time.perf_counter()
        res = nd.run(net, t_ms * u.ms, dt=0.1 * u.ms, monitors=mons, mesh=mesh)
        times.append(time.perf_counter() - t0)
    if jax.process_index() == 0:
        spikes = int(res["E"].sum())
        block = int(net.__dict__["_nd_shard_plans"].popitem()[1][1].L)
        print("RESULT " + json.dumps({"min_s": min(times), "spikes_E": spikes, "block": block}))


def _child_latency(sizes: list[int], loops: int) -> None:
    import jax
    import jax.numpy as jnp
    from jax.sharding import PartitionSpec as P

    mesh = jax.make_mesh((jax.device_count(),), ("d",))
    out = {}
    for size in sizes:

        def body(x):
            def step(_, x):
                g = jax.lax.all_gather(x, "d")
                return x ^ g[0]  # depends on the gathered data: not optimised away

            return jax.lax.fori_loop(0, loops, step, x)

        f = jax.jit(jax.shard_map(body, mesh=mesh, in_specs=P("d"), out_specs=P("d")))
        x = jax.make_array_from_callback(
            (jax.device_count() * size,),
            jax.sharding.NamedSharding(mesh, P("d")),
            lambda i, size=size: jnp.zeros(size, jnp.uint8),
        )
        f(x).block_until_ready()
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            f(x).block_until_ready()
            best = min(best, time.perf_counter() - t0)
        out[str(size)] = best / loops * 1e6
    if jax.process_index() == 0:
        print("RESULT " + json.dumps({"us_per_all_gather": out}))


def _launch(args: list[str], timeout: float = 600) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    cmd = [sys.executable, "-m", "neurodyn.launch", "-n", "2", __file__, *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode or not lines:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT ") :])


def _overhead(ns: list[int], t_ms: float, repeats: int) -> list[dict]:
    import jax

    import neurodyn as nd
    import neurodyn.units as u

    sys.path.insert(0, str(ROOT / "tests" / "dyn"))
    from _shard_script import Net
    from _timing import interleaved

    rows = []
    mesh = jax.make_mesh((1,), ("neurons",), devices=jax.devices()[:1])
    for n in ns:
        nets = {}
        for name, m in (("no mesh", None), ("mesh of 1 device", mesh)):
            nd.random.seed(7)
            net = Net(n=n)
            mons = {"E": nd.dyn.Monitor(net.E.spike, every=t_ms * u.ms)}

            def go(net=net, m=m, mons=mons):
                net.reset_state()
                return nd.run(net, t_ms * u.ms, dt=0.1 * u.ms, monitors=mons, mesh=m)

            nets[name] = go
        res = interleaved(nets, number=1, repeats=repeats)
        base, sharded = res["no mesh"][0], res["mesh of 1 device"][0]
        rows.append(
            {
                "case": f"COBA-LIF {n // 1000}k, {t_ms:g} ms",
                "no_mesh_min_s": base,
                "mesh1_min_s": sharded,
                "ratio": sharded / base,
            }
        )
        print(
            f"  {rows[-1]['case']}: no mesh {base:.3f} s, 1-device mesh {sharded:.3f} s "
            f"(x{sharded / base:.3f})",
            flush=True,
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--big", action="store_true", help="also COBA-LIF 64k for the overhead")
    ap.add_argument("--t", type=float, default=1000.0, help="simulated ms")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", default=None)
    ap.add_argument("--child", choices=("block", "step", "latency"), default=None)
    ns = ap.parse_args()
    if ns.child in ("block", "step"):
        return _child_exchange(ns.t, ns.child == "step", ns.repeats)
    if ns.child == "latency":
        return _child_latency([1 << 10, 1 << 13, 1 << 16, 1 << 20], 200)

    sys.path.insert(0, str(HERE))
    from _timing import cpu_model

    report = {
        "date": datetime.date.today().isoformat(),
        "cpu": cpu_model(),
        "load_avg_at_start": os.getloadavg(),
    }
    print("1. sharded runner on one device vs no mesh (one process)")
    report["overhead"] = _overhead([4000, 64000] if ns.big else [4000], ns.t, ns.repeats)
    print("2. two processes: exchange once per 1.5 ms (15 steps) vs every step")
    block = _launch(["--child", "block", "--t", str(ns.t), "--repeats", "3"])
    step = _launch(["--child", "step", "--t", str(ns.t), "--repeats", "3"])
    if block["spikes_E"] != step["spikes_E"]:
        raise RuntimeError(f"the two exchange schedules gave different spikes: {block} {step}")
    report["exchange"] = {
        "block": block,
        "every_step": step,
        "ratio_block_over_step": block["min_s"] / step["min_s"],
    }
    print(
        f"  block of {block['block']} steps {block['min_s']:.3f} s, every step "
        f"{step['min_s']:.3f} s (x{block['min_s'] / step['min_s']:.3f}); E spikes "
        f"{block['spikes_E']} in both"
    )
    print("3. one all_gather between 2 processes (gloo)")
    lat = _launch(["--child", "latency"])
    report["latency"] = lat
    for size, us in lat["us_per_all_gather"].items():
        print(f"  {int(size):>8} bytes per process: {us:8.1f} us")
    report["load_avg_at_end"] = os.getloadavg()
    out = ns.out or str(HERE / "results" / f"scaling-{datetime.date.today():%Y%m%d}.json")
    pathlib.Path(out).write_text(json.dumps(report, indent=2) + "\n")
    print(f"written {out}")


if __name__ == "__main__":
    main()
