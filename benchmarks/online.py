"""Online learning (``neurodyn.online``) against BPTT and braintrace: memory and time.

Model and task: those of ``shared/BENCHMARK_MODELS.md`` ("Online learning"), defined once
in ``_online_braintrace.py`` (which imports only jax and numpy for them): a recurrent
adaptive LIF network, 40 Poisson inputs -> N ALIF neurons -> 2 leaky readouts, on the
evidence-accumulation task (5 cues, a delay of T - 90 steps, recall in the last 15),
masked cross-entropy over the decision window (the last 15 steps), float32, batch
B = 16; W_in, W_rec, W_out trained. For the memory, inputs and targets are made inside
the compiled loop from ``jax.random.fold_in(key, t)``: no [T, ...] array exists.

1. Memory (bytes; XLA's ``memory_analysis`` of the compiled gradient function over T
   steps) at N = 256 for T = 100, 1000, 5000 (and ES-D-RTRL up to 100,000): ``temp``
   (XLA's temporary buffers: what the computation needs beyond its arguments and
   outputs) and ``total`` (arguments + outputs + temporaries): ES-D-RTRL, D-RTRL and
   e-prop (``stream_gradient``) vs BPTT (``nd.grad`` through an ``nd.for_loop``) and
   BPTT with O(sqrt T) checkpointing; the ratios BPTT / ES-D-RTRL. braintrace keeps its
   traces in States (arguments and outputs of its compiled function, not temporaries):
   ``es_d_rtrl_state`` is ours measured the same way (the traces given and returned).
2. Time per time step of the gradient over T = 100 steps at N = 64, 256, 1024 (inputs
   and targets given as arrays made beforehand, for every rule), interleaved rounds
   (min over rounds), side by side with braintrace's D-RTRL and ES-D-RTRL (pp_prop) on
   the same network in its own environment (``benchmarks/.envs/braintrace``,
   ``_online_braintrace.py``), when that environment exists. With the benchmark's loss
   (decision window: 85 of 100 steps have a loss of zero, whose reverse pass neurodyn
   skips) and with ``--every-step`` (the mask set to 1 at every step: the cost of a step
   that has a loss).

    python benchmarks/online.py [--quick] [--no-braintrace] [--every-step] [--out PATH]

Writes ``results/online-20261206c.json`` by default (with the machine's load average at
the start and the end: the timings are side by side, but a loaded machine blurs them).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import time

import jax
import jax.numpy as jnp
from _online_braintrace import (
    ALPHA,
    BATCH,
    KAPPA,
    N_OUT,
    RHO,
    cue_data,
    cue_labels,
    cue_step,
    init_weights,
    spike,
    step_loss,
)
from _timing import ROWS, write_json

import neurodyn as nd
from neurodyn.train import checkpointed_for_loop

loss = step_loss


class ALIFNet(nd.Module):
    """The benchmark network (``_online_braintrace.py``'s, written with neurodyn States)."""

    def __init__(self, n, batch=BATCH, seed=0):
        w_in, w_rec, w_out, beta = init_weights(n, seed)
        self.w_in, self.w_rec = nd.Param(jnp.asarray(w_in)), nd.Param(jnp.asarray(w_rec))
        self.w_out = nd.Param(jnp.asarray(w_out))
        self.beta = jnp.asarray(beta)
        z = jnp.zeros((batch, n), jnp.float32)
        self.v, self.a, self.z = nd.Hidden(z), nd.Hidden(z), nd.Hidden(z)
        self.y = nd.Hidden(jnp.zeros((batch, N_OUT), jnp.float32))

    def update(self, x):
        z = self.z.value
        v = ALPHA * (self.v.value - jax.lax.stop_gradient(z))
        v = v + x @ self.w_in.value + z @ self.w_rec.value
        a = RHO * self.a.value + z
        z_new = spike(v - 1.0 - self.beta * a)
        self.v.value, self.a.value, self.z.value = v, a, z_new
        self.y.value = KAPPA * self.y.value + z_new @ self.w_out.value
        return self.y.value


def source_for(steps):
    """``i -> (x_i, (labels, mask_i))``: the task streamed, step by step."""
    sides, labels = cue_labels()
    return lambda i: cue_step(i, steps, sides, labels)


def bptt_fn(net, steps, checkpointed=False, source_fn=None):
    """The compiled BPTT gradient (``nd.jit`` of ``nd.grad`` over an ``nd.for_loop``)."""
    params = net.states(nd.Param)
    src = source_for(steps) if source_fn is None else source_fn

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
    return nd.online.stream_gradient(
        net, loss, source_for(steps), steps, algorithm, compile_only=True
    )


def online_state_compiled(net, steps, algorithm):
    """``stream_gradient``'s computation with the rule's traces given and returned (as
    the hidden state is, and as braintrace keeps its traces: in States, arguments and
    outputs of its compiled function), the gradient accumulated inside from zero."""
    from neurodyn.online._api import make_rule

    source = source_for(steps)
    x0, _ = source(jnp.int32(0))
    plan = nd.online.prepare(net, x0[None], algorithm)
    rule = make_rule(plan, loss)
    step = plan.step

    def run(theta, h, c, traces):
        state = {**traces, "grad": [jnp.zeros_like(t) for t in theta]}
        state = rule.prime(state, theta, h, c, [x0], jnp.int32(0))

        def body(carry, _):
            st, hh, i, total = carry
            x, y = source(i)
            st, h_new, _, value = rule.update(st, theta, hh, c, [x], i, y)
            return (st, h_new, i + 1, total + value), None

        zero = jnp.zeros((), jnp.float32)
        (state, h, _, total), _ = jax.lax.scan(
            body, (state, h, jnp.int32(0), zero), None, length=int(steps)
        )
        rest = {k: v for k, v in state.items() if k != "grad"}
        return rule.gradient(state), h, total, rest

    theta, h = step.theta_leaves(), step.add_batch(step.hidden_leaves())
    traces = {k: v for k, v in rule.init(theta, h).items() if k != "grad"}
    return jax.jit(run).lower(theta, h, step.const_values(), traces).compile()


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
    names = [*algorithms, *(["es_d_rtrl_state"] if "es_d_rtrl" in algorithms else [])]
    for name in [*names, "bptt", "bptt_checkpointed"]:
        vals = []
        for t in lengths:
            net = ALIFNet(n)
            if name == "es_d_rtrl_state":
                c = online_state_compiled(net, t, "es_d_rtrl")
            elif name == "bptt":
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
        bp = rows["bptt"]
        for name, what in (("es_d_rtrl", "traces inside"), ("es_d_rtrl_state", "traces as state")):
            es = rows[name]
            print(
                f"  BPTT / {name}, temp:  "
                + "  ".join(
                    f"T={t}: {b['temp'] / e['temp']:.0f}x" for t, b, e in zip(lengths, bp, es)
                )
            )
            for t, b, e in zip(lengths, bp, es):
                ROWS.append(
                    {"case": "memory_ratio", "rule": name, "traces": what, "N": n, "B": BATCH,
                     "T": t, "temp": b["temp"] / e["temp"], "total": b["total"] / e["total"]}
                )  # fmt: skip
        es = rows["es_d_rtrl"]
        print(
            "  BPTT / es_d_rtrl, total: "
            + "  ".join(
                f"T={t}: {b['total'] / e['total']:.0f}x" for t, b, e in zip(lengths, bp, es)
            )
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


def array_source(steps, every_step=False):
    """The inputs and targets as arrays ``[T, ...]`` made beforehand (as braintrace's side
    gets them: ``_online_braintrace.cue_data``), read at step ``i``: the timings compare
    the rules, not the random number generation."""
    xs, (labels, mask) = cue_data(steps, every_step=every_step)
    return lambda i: (xs[i], (labels[i], mask[i]))


def _ours(name, n, steps, every_step=False):
    net = ALIFNet(n)
    src = array_source(steps, every_step)
    if name == "bptt":
        return bptt_fn(net, steps, source_fn=src)
    compiled = nd.online.stream_gradient(net, loss, src, steps, name, compile_only=True)
    args = _online_args(net)
    return lambda: compiled(*args)


BT_PYTHON = pathlib.Path(__file__).parent / ".envs" / "braintrace" / "bin" / "python"


def _braintrace(sizes, steps, rules, every_step=False):
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
            ] + (["--every-step"] if every_step else [])
            res = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
            if res.returncode:
                print(f"  braintrace {rule} N={n} failed: {res.stderr.strip().splitlines()[-1:]}")
                continue
            data = json.loads(res.stdout.strip().splitlines()[-1])
            out["version"] = data["braintrace"]
            for row in data["rows"]:
                out[(rule, n)] = row["ms_per_step"]
    return out


def bench_time(sizes, steps, algorithms, rounds, braintrace=True, every_step=False):
    """``rounds`` interleaved rounds (ours, then braintrace's, for every case); the min
    over rounds of the min of 2 calls within a round."""
    bt_rules = [r for r in ("d_rtrl", "es_d_rtrl") if r in algorithms]
    use_bt = braintrace and BT_PYTHON.exists() and bt_rules
    what = "loss at every step" if every_step else "loss in the decision window"
    print(
        f"\ntime per time step (ms; min over {rounds} interleaved rounds, T={steps}, "
        f"B={BATCH}, {what})"
    )
    fns = {
        (name, n): _ours(name, n, _steps_for(name, n, steps), every_step)
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
            bt = _braintrace(sizes, steps, bt_rules, every_step)
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
                row = {"case": "time", "rule": name, "N": n, "B": BATCH, "T": t,
                       "loss": what, "ms_per_step": ms}  # fmt: skip
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
                        {
                            "case": "time_ratio",
                            "rule": rule,
                            "N": n,
                            "loss": what,
                            "ours_over_braintrace": r,
                        }  # fmt: skip
                    )
            print(f"  {rule} / braintrace's: " + "  ".join(ratios))


def _online_args(net):
    """The arguments of ``stream_gradient``'s compiled function: the values of the
    trained Params, the hidden States (batched) and the constants."""
    from neurodyn.online._step import StepFunction

    x0, _ = source_for(1)(jnp.int32(0))
    st = StepFunction(net, x0)
    return (st.theta_leaves(), st.add_batch(st.hidden_leaves()), st.const_values())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="N = 64, 256 only; fewer rounds")
    ap.add_argument("--no-braintrace", action="store_true", help="skip braintrace's timings")
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--no-time", action="store_true")
    ap.add_argument("--sizes", help="comma-separated N for the timings (default 64,256,1024)")
    ap.add_argument("--rounds", type=int, help="interleaved timing rounds (default 3)")
    ap.add_argument(
        "--every-step", action="store_true",
        help="also time with the loss at every step (no zero-loss steps to skip)",
    )  # fmt: skip
    ap.add_argument(
        "--out", type=pathlib.Path,
        default=pathlib.Path(__file__).parent / "results" / "online-20261206c.json",
    )  # fmt: skip
    args = ap.parse_args()
    algorithms = ["es_d_rtrl", "d_rtrl", "eprop"]
    print(f"jax {jax.__version__}, {jax.devices()[0].platform}, float32")
    load_start = os.getloadavg()
    print(f"load average at the start: {load_start}")
    if not args.no_memory:
        bench_memory(
            256,
            [100, 1000, 5000],
            algorithms,
            long_lengths=(100, 10_000, 100_000),
            braintrace=not args.no_braintrace,
        )
    sizes = [64, 256] if args.quick else [64, 256, 1024]
    if args.sizes:
        sizes = [int(v) for v in args.sizes.split(",")]
    rounds = args.rounds or (2 if args.quick else 3)
    if not args.no_time:
        bench_time(sizes, 100, algorithms, rounds, not args.no_braintrace)
        if args.every_step:
            bench_time(sizes, 100, algorithms, rounds, not args.no_braintrace, every_step=True)
    load_end = os.getloadavg()
    print(f"load average at the end: {load_end}")
    ROWS.append({"case": "load", "loadavg_start": load_start, "loadavg_end": load_end})
    write_json(args.out, "online", {"jax": jax.__version__})


if __name__ == "__main__":
    main()
