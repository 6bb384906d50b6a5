"""Online learning (``neurodyn.online``) against BPTT and braintrace: memory and time.

Model: a recurrent adaptive LIF network (Bellec et al. 2020), float32, batch B = 16:
32 Poisson inputs (probability 0.1 per step) -> N ALIF neurons (alpha = exp(-1/20),
rho = exp(-1/200), beta = 1.8, surrogate spikes, detached soft reset; W_in, W_rec trained)
-> 4 leaky readout units (kappa = exp(-1/20); W_out trained); squared error against
a fixed random target per step. Inputs and targets are made inside the compiled loop
from ``jax.random.fold_in(key, t)``: no [T, ...] array exists, for either rule.

1. Memory (bytes; XLA's ``memory_analysis`` of the compiled gradient function over T
   steps) at N = 256 for T = 100, 1000, 5000 (and ES-D-RTRL up to 100,000): ``temp``
   (XLA's temporary buffers: what the computation needs beyond its arguments and
   outputs) and ``total`` (arguments + outputs + temporaries): ES-D-RTRL, D-RTRL and
   e-prop (``stream_gradient``) vs BPTT (``nd.grad`` through an ``nd.for_loop``) and
   BPTT with O(sqrt T) checkpointing; the ratios BPTT / ES-D-RTRL.
2. Time per time step of the gradient over T steps at N = 64, 256, 1024 (inputs and
   targets given as arrays made beforehand, for every rule), interleaved rounds (min over
   rounds), side by side with braintrace's D-RTRL and ES-D-RTRL
   (pp_prop) on the same network in its own environment (``benchmarks/.envs/braintrace``,
   ``_online_braintrace.py``), when that environment exists.

    python benchmarks/online.py [--quick] [--no-braintrace] [--out results/online.json]
"""

from __future__ import annotations

import argparse
import json
import pathlib
import subprocess
import time

import jax
import jax.numpy as jnp
import numpy as np
from _timing import ROWS, write_json

import neurodyn as nd
from neurodyn.dyn import surrogate
from neurodyn.train import checkpointed_for_loop

N_IN, N_OUT, BATCH = 32, 4, 16


class ALIFNet(nd.Module):
    def __init__(self, n, batch=BATCH, seed=0):
        r = np.random.default_rng(seed)
        f32 = np.float32
        self.w_in = nd.Param(jnp.asarray(r.normal(size=(N_IN, n)) / np.sqrt(N_IN), f32))
        self.w_rec = nd.Param(jnp.asarray(r.normal(size=(n, n)) / np.sqrt(n) * 0.5, f32))
        self.w_out = nd.Param(jnp.asarray(r.normal(size=(n, N_OUT)) / np.sqrt(n), f32))
        self.alpha, self.rho, self.beta = np.exp(-1 / 20), np.exp(-1 / 200), 1.8
        self.kappa = np.exp(-1 / 20)
        self.spike_fn = surrogate.FastSigmoid(1.0)
        z = jnp.zeros((batch, n), f32)
        self.v, self.a, self.z = nd.Hidden(z), nd.Hidden(z), nd.Hidden(z)
        self.y = nd.Hidden(jnp.zeros((batch, N_OUT), f32))

    def update(self, x):
        z = self.z.value
        cur = x @ self.w_in.value + z @ self.w_rec.value
        v = self.alpha * self.v.value + (1 - self.alpha) * cur - jax.lax.stop_gradient(z) * 0.6
        a = self.rho * self.a.value + z
        z_new = self.spike_fn((v - (0.6 + self.beta * 0.07 * a)) / 0.6)
        self.v.value, self.a.value, self.z.value = v, a, z_new
        self.y.value = self.kappa * self.y.value + z_new @ self.w_out.value
        return self.y.value


def source(i):
    key = jax.random.fold_in(jax.random.key(0), i)
    x = (jax.random.uniform(key, (BATCH, N_IN)) < 0.1).astype(jnp.float32)
    y = jnp.sin(0.05 * i.astype(jnp.float32) + jnp.arange(N_OUT, dtype=jnp.float32))
    return x, jnp.broadcast_to(y, (BATCH, N_OUT))


def loss(o, y):
    return jnp.mean((o - y) ** 2)


def bptt_fn(net, steps, checkpointed=False, source_fn=None):
    """The compiled BPTT gradient (``nd.jit`` of ``nd.grad`` over an ``nd.for_loop``)."""
    params = net.states(nd.Param)
    src = source if source_fn is None else source_fn

    def total():
        def step(i):
            x, y = src(i)
            return loss(net.update(x), y)

        idx = jnp.arange(steps)
        losses = checkpointed_for_loop(step, idx) if checkpointed else nd.for_loop(step, idx)
        return jnp.sum(losses)

    return nd.jit(nd.grad(total, params))


def bptt_compiled(net, steps, checkpointed=False):
    return bptt_fn(net, steps, checkpointed).lower().compile()


def online_compiled(net, steps, algorithm):
    return nd.online.stream_gradient(net, loss, source, steps, algorithm, compile_only=True)


def mem_bytes(compiled) -> dict:
    m = compiled.memory_analysis()
    total = (
        m.argument_size_in_bytes
        + m.output_size_in_bytes
        + m.temp_size_in_bytes
        - m.alias_size_in_bytes
    )
    return {"total": int(total), "temp": int(m.temp_size_in_bytes)}


def _mib(b):
    return f"{b / 2**20:9.2f}"


def bench_memory(n, lengths, algorithms, long_lengths=(), braintrace=True):
    print(f"\nmemory (MiB, XLA memory_analysis), N={n}, B={BATCH}: temp / total")
    print(f"  {'rule':<22}" + "".join(f"{'T=' + str(t):>20}" for t in lengths))
    rows = {}
    for name in [*algorithms, "bptt", "bptt_checkpointed"]:
        vals = []
        for t in lengths:
            net = ALIFNet(n)
            if name == "bptt":
                c = bptt_compiled(net, t)
            elif name == "bptt_checkpointed":
                c = bptt_compiled(net, t, checkpointed=True)
            else:
                c = online_compiled(net, t, name)
            mb = mem_bytes(c)
            vals.append(mb)
            ROWS.append({"case": "memory", "rule": name, "N": n, "B": BATCH, "T": t, **mb})
        rows[name] = vals
        print(
            f"  {name:<22}"
            + "".join(f"{_mib(v['temp']) + ' /' + _mib(v['total']):>20}" for v in vals)
        )
    if "es_d_rtrl" in rows:
        es, bp = rows["es_d_rtrl"], rows["bptt"]
        print(
            "  BPTT / ES-D-RTRL, temp:  "
            + "  ".join(f"T={t}: {b['temp'] / e['temp']:.0f}x" for t, b, e in zip(lengths, bp, es))
        )
        print(
            "  BPTT / ES-D-RTRL, total: "
            + "  ".join(
                f"T={t}: {b['total'] / e['total']:.0f}x" for t, b, e in zip(lengths, bp, es)
            )
        )
        for t, b, e in zip(lengths, bp, es):
            ROWS.append(
                {
                    "case": "memory_ratio",
                    "N": n,
                    "B": BATCH,
                    "T": t,
                    "temp": b["temp"] / e["temp"],
                    "total": b["total"] / e["total"],
                }
            )
    if braintrace and BT_PYTHON.exists():
        cmd = [str(BT_PYTHON), str(pathlib.Path(__file__).parent / "_online_braintrace.py"),
               "--sizes", "64", "--steps", "10", "--repeats", "1", "--rules", "es_d_rtrl",
               "--memory", ",".join(map(str, lengths))]  # fmt: skip
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
        if res.returncode == 0:
            data = json.loads(res.stdout.strip().splitlines()[-1])
            bt = [r for r in data["rows"] if r["case"] == "memory"]
            for r in bt:
                ROWS.append({**r, "rule": "braintrace_es_d_rtrl", "braintrace": data["braintrace"]})
            print(
                f"  {'braintrace_es_d_rtrl':<22}"
                + "".join(f"{_mib(r['temp']) + ' /' + _mib(r['total']):>20}" for r in bt)
                + "  (total: the [T, ...] inputs are arguments)"
            )
            if "es_d_rtrl" in rows:
                print("  braintrace's ES-D-RTRL temp / ours: " + "  ".join(
                    f"T={r['T']}: {r['temp'] / e['temp']:.2f}x"
                    for r, e in zip(bt, rows["es_d_rtrl"])))  # fmt: skip
    if long_lengths:
        temps = []
        for t in long_lengths:
            mb = mem_bytes(online_compiled(ALIFNet(n), t, "es_d_rtrl"))
            temps.append(mb["temp"])
            ROWS.append({"case": "memory", "rule": "es_d_rtrl", "N": n, "B": BATCH, "T": t, **mb})
        spread = (max(temps) - min(temps)) / min(temps)
        print(
            f"  es_d_rtrl temp for T = {', '.join(map(str, long_lengths))}: "
            f"{', '.join(f'{v / 2**10:.1f} KiB' for v in temps)} (spread {spread:.2%})"
        )
        ROWS.append(
            {
                "case": "memory_flat",
                "rule": "es_d_rtrl",
                "N": n,
                "T": list(long_lengths),
                "spread": spread,
            }
        )
    return rows


def _steps_for(rule, n, steps):
    """Fewer steps where one step takes long (D-RTRL at N = 1024)."""
    return max(10, steps // 10) if rule in ("d_rtrl", "eprop", "bt_d_rtrl") and n >= 1024 else steps


def array_source(steps):
    """The inputs and targets as arrays ``[T, ...]`` made beforehand (as braintrace's side
    gets them: ``_online_braintrace.data``), read at step ``i``: the timings compare the
    rules, not the random number generation."""
    key = jax.random.key(0)
    xs = (jax.random.uniform(key, (steps, BATCH, N_IN)) < 0.1).astype(jnp.float32)
    t = jnp.arange(steps, dtype=jnp.float32)[:, None]
    ys = jnp.sin(0.05 * t + jnp.arange(N_OUT, dtype=jnp.float32))
    ys = jnp.broadcast_to(ys[:, None], (steps, BATCH, N_OUT))
    return lambda i: (xs[i], ys[i])


def _ours(name, n, steps):
    net = ALIFNet(n)
    src = array_source(steps)
    if name == "bptt":
        return bptt_fn(net, steps, source_fn=src)
    compiled = nd.online.stream_gradient(net, loss, src, steps, name, compile_only=True)
    args = _online_args(net)
    return lambda: compiled(*args)


BT_PYTHON = pathlib.Path(__file__).parent / ".envs" / "braintrace" / "bin" / "python"


def _braintrace(sizes, steps, rules):
    """One round of braintrace timings (a subprocess in its own environment):
    ``{(rule, N): ms per step}``."""
    out = {}
    for n in sizes:
        for rule in rules:
            t = _steps_for("bt_" + rule, n, steps)
            cmd = [
                str(BT_PYTHON),
                str(pathlib.Path(__file__).parent / "_online_braintrace.py"),
                "--sizes",
                str(n),
                "--steps",
                str(t),
                "--repeats",
                "2",
                "--rules",
                rule,
            ]
            res = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
            if res.returncode:
                print(f"  braintrace {rule} N={n} failed: {res.stderr.strip().splitlines()[-1:]}")
                continue
            data = json.loads(res.stdout.strip().splitlines()[-1])
            out["version"] = data["braintrace"]
            for row in data["rows"]:
                out[(rule, n)] = row["ms_per_step"]
    return out


def bench_time(sizes, steps, algorithms, rounds, braintrace=True):
    """``rounds`` interleaved rounds (ours, then braintrace's, for every case); the min
    over rounds of the min of 2 calls within a round."""
    bt_rules = [r for r in ("d_rtrl", "es_d_rtrl") if r in algorithms]
    use_bt = braintrace and BT_PYTHON.exists() and bt_rules
    print(f"\ntime per time step (ms; min over {rounds} interleaved rounds, T={steps}, B={BATCH})")
    fns = {
        (name, n): _ours(name, n, _steps_for(name, n, steps))
        for name in [*algorithms, "bptt"]
        for n in sizes
    }
    for fn in fns.values():
        jax.block_until_ready(fn())
    best: dict = {}
    version = None
    for _ in range(rounds):
        for (name, n), fn in fns.items():
            for _ in range(2):
                t0 = time.perf_counter()
                jax.block_until_ready(fn())
                ms = (time.perf_counter() - t0) / _steps_for(name, n, steps) * 1e3
                best[name, n] = min(best.get((name, n), float("inf")), ms)
        if use_bt:
            bt = _braintrace(sizes, steps, bt_rules)
            version = bt.pop("version", version)
            for (rule, n), ms in bt.items():
                key = ("braintrace_" + rule, n)
                best[key] = min(best.get(key, float("inf")), ms)
    names = [*algorithms, "bptt"] + (["braintrace_" + r for r in bt_rules] if use_bt else [])
    print(f"  {'rule':<22}" + "".join(f"{'N=' + str(n):>12}" for n in sizes))
    for name in names:
        cells = []
        for n in sizes:
            ms = best.get((name, n))
            cells.append("-" if ms is None else f"{ms:.3f}")
            if ms is not None:
                t = _steps_for(
                    name if not name.startswith("braintrace") else "bt_" + name[11:], n, steps
                )
                row = {"case": "time", "rule": name, "N": n, "B": BATCH, "T": t, "ms_per_step": ms}
                if name.startswith("braintrace"):
                    row["braintrace"] = version
                ROWS.append(row)
        print(f"  {name:<22}" + "".join(f"{c:>12}" for c in cells))
    if use_bt:
        for rule in bt_rules:
            ratios = []
            for n in sizes:
                if (rule, n) in best and ("braintrace_" + rule, n) in best:
                    r = best[rule, n] / best["braintrace_" + rule, n]
                    ratios.append(f"N={n}: {r:.2f}x")
                    ROWS.append(
                        {"case": "time_ratio", "rule": rule, "N": n, "ours_over_braintrace": r}
                    )
            print(f"  {rule} / braintrace's: " + "  ".join(ratios))


def _online_args(net):
    """The arguments of ``stream_gradient``'s compiled function: the values of the
    trained Params, the hidden States (batched) and the constants."""
    from neurodyn.online._step import StepFunction

    x0, _ = source(jnp.int32(0))
    st = StepFunction(net, x0)
    return (st.theta_leaves(), st.add_batch(st.hidden_leaves()), st.const_values())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="N = 64, 256 only; fewer rounds")
    ap.add_argument("--no-braintrace", action="store_true", help="skip braintrace's timings")
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--out", type=pathlib.Path)
    args = ap.parse_args()
    algorithms = ["es_d_rtrl", "d_rtrl", "eprop"]
    print(f"jax {jax.__version__}, {jax.devices()[0].platform}, float32")
    if not args.no_memory:
        bench_memory(
            256,
            [100, 1000, 5000],
            algorithms,
            long_lengths=(100, 10_000, 100_000),
            braintrace=not args.no_braintrace,
        )
    sizes = [64, 256] if args.quick else [64, 256, 1024]
    bench_time(sizes, 100, algorithms, 2 if args.quick else 3, not args.no_braintrace)
    write_json(args.out, "online", {"jax": jax.__version__})


if __name__ == "__main__":
    main()
