"""COBA-LIF network: neurodyn vs BrainPy and Brian2, side by side in one run.

The model (shared/BENCHMARK_MODELS.md; Brette et al. 2007 benchmark 1 in the form of
BrainPy's COBA example), identical in every simulator: N_E = 0.8 N, N_I = 0.2 N LIF
neurons (tau_m 20 ms, V_rest = V_reset = -60 mV, V_th -50 mV, t_ref 5 ms, I_ext 20 mV,
V0 ~ N(-55, 2) mV), conductances in units of g_L with exponential decay (tau_e 5 ms,
tau_i 10 ms; jumps 0.6 and 6.7; E_e 0 mV, E_i -80 mV), each (pre, post) pair connected
with p = 80 / N, spikes act one step (0.1 ms) after they are emitted, dt = 0.1 ms,
exponential Euler.

Simulators (each runs in its own worker process, this same file with ``--worker``):

  neurodyn           ``COBANet`` of examples/coba.py run by ``nd.run`` with spike-count
                     monitors.
  brainpy            ``bp.dyn.LifRef`` populations, ``FullProjAlignPostMg`` projections
                     (``EventCSRLinear`` on ``bp.conn.FixedProb``, ``Expon`` synapses,
                     ``COBA`` outputs), one ``bm.jit``-ed ``bm.for_loop`` over the steps.
  brian2 cython      Brian2 runtime mode, Cython target (fresh Cython cache per worker,
                     so the compile times are cold).
  brian2 standalone  Brian2 C++ standalone device (in a temporary directory).

Brian2 needs numpy < 2.4, so it runs from its own venv, benchmarks/envs/brian2
(``python3 -m venv benchmarks/envs/brian2 && benchmarks/envs/brian2/bin/pip install
brian2 "numpy<2.4" cython``); without it (and without brian2 importable here) its rows
are skipped, and so are BrainPy's when brainpy is not installed.

Timing, per simulator and N:
  build    constructing the network (connectivity included). Brian2 cython: includes
           compiling the connect code; Brian2 standalone: the Python model description
           plus the binary's own setup (its wall time minus its reported run time).
  compile  first run minus the fastest later run (JIT/Cython compilation); Brian2
           standalone: code generation + C++ compilation (``device.build``).
  run      min over ``--repeats`` runs after the first (state reset in between, reset
           not timed); the repeats are interleaved across the simulators so that drift
           in machine load hits all alike. Brian2 standalone: the run time the binary
           reports (``device._last_run_time``).
Rates come from the first run's spike counts; a rate outside 17-25 Hz in any run is
flagged.

    cd benchmarks && python coba.py [--n 4000 16000] [--t 1000] [--repeats 3]

Results are also written to results/coba-<YYYYMMDD>.json.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import pathlib
import platform
import queue
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = pathlib.Path(__file__).resolve().parent
EXAMPLES = HERE.parent / "examples"
BRIAN2_VENV_PY = HERE / "envs" / "brian2" / "bin" / "python"
TAG = "@@coba "  # prefix of the protocol lines a worker writes to stdout
RATE_OK = (17.0, 25.0)  # Hz
DT_MS = 0.1
SIMS = ("neurodyn", "brainpy", "brian2 cython", "brian2 standalone")
FIRST_TIMEOUT_S = 1200  # import, build or first run (compilation) of one worker
RUN_TIMEOUT_S = 600  # one timed run


# --------------------------------------------------------------------------- workers
# Each worker class imports its simulator lazily, so that this file also runs under an
# interpreter that has only Brian2 (the brian2 venv has no jax / neurodyn).


class _NeurodynWorker:
    def __init__(self, n: int, t_ms: float, seed: int):
        sys.path.insert(0, str(EXAMPLES))
        import jax
        import numpy as np

        import neurodyn as nd
        import neurodyn.units as u
        from neurodyn.event import _native

        self.nd, self.u, self.np = nd, u, np
        self.n, self.t_ms, self.seed = n, t_ms, seed
        self.versions = {
            "neurodyn": nd.__version__,
            "jax": jax.__version__,
            "numpy": np.__version__,
            "neurodyn_native_kernels": bool(_native.available()),
            "jax_backend": jax.default_backend(),
        }
        self.net = None
        self.runs = 0

    def build(self) -> dict:
        from coba import COBANet  # examples/coba.py

        nd, u = self.nd, self.u
        nd.random.seed(self.seed)
        t0 = time.perf_counter()
        self.net = net = COBANet(self.n, self.seed)
        build_s = time.perf_counter() - t0
        # one monitors dict for all runs: the compiled program is cached per monitor
        # target, and ``net.E.spike`` may be a fresh view object at every access
        T = self.t_ms * u.ms
        self.monitors = {
            "E": nd.dyn.Monitor(net.E.spike, every=T),
            "I": nd.dyn.Monitor(net.I.spike, every=T),
        }
        return {"build_s": build_s}

    def run(self) -> dict:
        nd, u, net = self.nd, self.u, self.net
        if self.runs:
            net.reset_state()
        self.runs += 1
        t0 = time.perf_counter()
        res = nd.run(net, self.t_ms * u.ms, dt=DT_MS * u.ms, monitors=self.monitors)
        wall = time.perf_counter() - t0
        n_e = int(self.np.asarray(res["E"]).sum())
        n_i = int(self.np.asarray(res["I"]).sum())
        # compiled programs cached on the network: more than one means a recompile
        programs = len(getattr(net, "_nd_compiled", {})) or None
        return {"run_s": wall, "spikes_E": n_e, "spikes_I": n_i, "programs": programs}

    def sizes(self) -> tuple[int, int]:
        return self.net.E.num, self.net.I.num


class _BrainPyWorker:
    def __init__(self, n: int, t_ms: float, seed: int):
        import brainpy as bp
        import brainpy.math as bm
        import jax
        import numpy as np

        self.bp, self.bm, self.np = bp, bm, np
        self.n, self.t_ms, self.seed = n, t_ms, seed
        bm.set_dt(DT_MS)
        self.versions = {
            "brainpy": bp.__version__,
            "jax": jax.__version__,
            "numpy": np.__version__,
            "jax_backend": jax.default_backend(),
        }
        try:
            import brainevent

            self.versions["brainevent"] = brainevent.__version__
        except ImportError:
            pass
        self.net = None
        self.go = None
        self.runs = 0

    def _network_class(self):
        bp = self.bp

        class COBA(bp.DynSysGroup):
            """LIF E/I populations, align-post COBA projections on event-driven CSR."""

            def __init__(self, n: int, seed: int):
                super().__init__()
                n_e = int(0.8 * n)
                n_i = n - n_e
                p = 80 / n
                neuron = dict(
                    V_rest=-60.0,
                    V_reset=-60.0,
                    V_th=-50.0,
                    tau=20.0,
                    tau_ref=5.0,
                    R=1.0,  # currents in mV (units of g_L)
                    V_initializer=bp.init.Normal(-55.0, 2.0),
                )
                self.E = bp.dyn.LifRef(n_e, **neuron)
                self.I = bp.dyn.LifRef(n_i, **neuron)

                def project(pre, post, weight, tau, e_rev, conn_seed):
                    conn = bp.conn.FixedProb(p, pre=pre.num, post=post.num, seed=conn_seed)
                    return bp.dyn.FullProjAlignPostMg(
                        pre=pre,
                        delay=DT_MS,  # one step, as in the other simulators
                        comm=bp.dnn.EventCSRLinear(conn, weight),
                        syn=bp.dyn.Expon.desc(post.num, tau=tau),
                        out=bp.dyn.COBA.desc(E=e_rev),
                        post=post,
                    )

                self.E2E = project(self.E, self.E, 0.6, 5.0, 0.0, seed + 1)
                self.E2I = project(self.E, self.I, 0.6, 5.0, 0.0, seed + 2)
                self.I2E = project(self.I, self.E, 6.7, 10.0, -80.0, seed + 3)
                self.I2I = project(self.I, self.I, 6.7, 10.0, -80.0, seed + 4)

            def update(self):
                for proj in (self.E2E, self.E2I, self.I2E, self.I2I):
                    proj()
                self.E(20.0)  # I_ext = 20 mV
                self.I(20.0)
                return self.E.spike.value.sum(), self.I.spike.value.sum()

        return COBA

    def build(self) -> dict:
        bm = self.bm
        cls = self._network_class()
        bm.random.seed(self.seed)
        t0 = time.perf_counter()
        self.net = net = cls(self.n, self.seed)
        build_s = time.perf_counter() - t0

        @bm.jit
        def go(indices):
            return bm.for_loop(net.step_run, indices)

        self.go = go
        return {"build_s": build_s}

    def run(self) -> dict:
        np = self.np
        if self.runs:
            self.bp.reset_state(self.net)
        self.runs += 1
        indices = np.arange(int(round(self.t_ms / DT_MS)))
        t0 = time.perf_counter()
        counts_e, counts_i = self.go(indices)
        counts_e = getattr(counts_e, "value", counts_e).block_until_ready()
        wall = time.perf_counter() - t0
        n_e, n_i = int(np.asarray(counts_e).sum()), int(np.asarray(counts_i).sum())
        return {"run_s": wall, "spikes_E": n_e, "spikes_I": n_i}

    def sizes(self) -> tuple[int, int]:
        return self.net.E.num, self.net.I.num


class _Brian2Worker:
    """Brian2, runtime mode with the Cython target, or the C++ standalone device."""

    def __init__(self, n: int, t_ms: float, seed: int, standalone: bool):
        import brian2 as b2
        import numpy as np

        self.b2, self.np = b2, np
        self.n, self.t_ms, self.seed, self.standalone = n, t_ms, seed, standalone
        self.versions = {
            "brian2": b2.__version__,
            "numpy": np.__version__,
            "cython": _version_of("Cython"),
            "python_brian2": platform.python_version(),
        }
        self.tmp = tempfile.mkdtemp(prefix="coba-brian2-")
        b2.prefs.codegen.target = "cython"
        # a fresh cache: compile times are cold ones, as for the JAX-based simulators
        b2.prefs.codegen.runtime.cython.cache_dir = os.path.join(self.tmp, "cython")
        if standalone:
            b2.set_device("cpp_standalone", directory=self.tmp, build_on_run=False)
        self.runs = 0

    def build(self) -> dict:
        b2 = self.b2
        ms, mV = b2.ms, b2.mV
        t0 = time.perf_counter()
        b2.defaultclock.dt = DT_MS * ms
        b2.seed(self.seed)
        eqs = """
        dv/dt = (v_rest - v + ge*(E_e - v) + gi*(E_i - v) + I_ext)/tau_m : volt (unless refractory)
        dge/dt = -ge/tau_e : 1
        dgi/dt = -gi/tau_i : 1
        """
        namespace = dict(
            v_rest=-60 * mV,
            v_th=-50 * mV,
            v_reset=-60 * mV,
            E_e=0 * mV,
            E_i=-80 * mV,
            I_ext=20 * mV,
            tau_m=20 * ms,
            tau_e=5 * ms,
            tau_i=10 * ms,
        )
        pop = b2.NeuronGroup(
            self.n,
            eqs,
            threshold="v >= v_th",
            reset="v = v_reset",
            refractory=5 * ms,
            method="exponential_euler",
            namespace=namespace,
        )
        pop.v = "-55*mV + 2*mV*randn()"
        n_e = int(0.8 * self.n)
        exc, inh = pop[:n_e], pop[n_e:]
        self.n_e, self.n_i = n_e, self.n - n_e
        # Brian2 applies on_pre at the end of the step that emits the spike, so with no
        # explicit delay it acts on the next integration step: the one-step delay.
        syn_e = b2.Synapses(exc, pop, on_pre="ge += 0.6")
        syn_e.connect(p=80 / self.n)
        syn_i = b2.Synapses(inh, pop, on_pre="gi += 6.7")
        syn_i.connect(p=80 / self.n)
        self.mon_e = b2.SpikeMonitor(exc, record=False)
        self.mon_i = b2.SpikeMonitor(inh, record=False)
        self.net = b2.Network(pop, syn_e, syn_i, self.mon_e, self.mon_i)
        if not self.standalone:
            self.net.store()
            return {"build_s": time.perf_counter() - t0}
        self.net.run(self.t_ms * ms)  # only records the run in the standalone project
        build_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        b2.device.build(directory=self.tmp, compile=True, run=False)
        return {"build_s": build_s, "compile_s": time.perf_counter() - t0}

    def run(self) -> dict:
        b2 = self.b2
        if self.standalone:
            t0 = time.perf_counter()
            b2.device.run(directory=self.tmp, with_output=False)
            wall = time.perf_counter() - t0
            run_s = float(b2.device._last_run_time)
            extra = {"setup_s": wall - run_s, "wall_s": wall}
        else:
            if self.runs:
                self.net.restore()
            t0 = time.perf_counter()
            self.net.run(self.t_ms * b2.ms)
            run_s = time.perf_counter() - t0
            extra = {}
        self.runs += 1
        n_e, n_i = int(self.mon_e.num_spikes), int(self.mon_i.num_spikes)
        return {"run_s": run_s, "spikes_E": n_e, "spikes_I": n_i, **extra}

    def sizes(self) -> tuple[int, int]:
        return self.n_e, self.n_i

    def close(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


def _version_of(module: str) -> str | None:
    try:
        return __import__(module).__version__
    except Exception:
        return None


def _send(msg: dict) -> None:
    sys.__stdout__.write(TAG + json.dumps(msg) + "\n")
    sys.__stdout__.flush()


def worker_main(sim: str, n: int, t_ms: float, seed: int) -> None:
    """Serve commands from stdin: ``build``, ``run``, ``quit``; answer on stdout."""
    try:
        if sim == "neurodyn":
            w = _NeurodynWorker(n, t_ms, seed)
        elif sim == "brainpy":
            w = _BrainPyWorker(n, t_ms, seed)
        elif sim.startswith("brian2"):
            w = _Brian2Worker(n, t_ms, seed, standalone=sim.endswith("standalone"))
        else:
            raise ValueError(f"unknown simulator {sim!r}")
    except Exception as e:
        _send({"error": f"{type(e).__name__}: {e}"})
        return
    _send({"ready": True, "versions": w.versions, "machine": platform.machine()})
    for line in sys.stdin:
        cmd = line.strip()
        try:
            if cmd == "build":
                out = w.build()
                out["n_E"], out["n_I"] = w.sizes()
                _send(out)
            elif cmd == "run":
                _send(w.run())
            elif cmd == "quit":
                break
        except Exception as e:
            _send({"error": f"{type(e).__name__}: {e}"})
            break
    if hasattr(w, "close"):
        w.close()


# ----------------------------------------------------------------------- coordinator


class WorkerError(RuntimeError):
    pass


class Worker:
    """One simulator at one N in a subprocess, driven line by line."""

    def __init__(self, sim: str, python: str, n: int, t_ms: float, seed: int):
        self.sim = sim
        self.log = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(
            [python, str(pathlib.Path(__file__).resolve()), "--worker", sim]
            + ["--n", str(n), "--t", str(t_ms), "--seed", str(seed)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            bufsize=1,
            cwd=HERE,
        )
        self.lines: queue.Queue = queue.Queue()
        self.other: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            if line.startswith(TAG):
                self.lines.put(json.loads(line[len(TAG) :]))
            else:
                self.other.append(line.rstrip())
        self.lines.put(None)  # EOF

    def receive(self, timeout: float) -> dict:
        try:
            msg = self.lines.get(timeout=timeout)
        except queue.Empty:
            self.kill()
            raise WorkerError(f"no answer within {timeout:.0f} s") from None
        if msg is None:
            raise WorkerError(f"worker exited ({self.proc.wait()}): {self._tail()}")
        if "error" in msg:
            self.kill()
            raise WorkerError(msg["error"])
        return msg

    def ask(self, cmd: str, timeout: float) -> dict:
        try:
            self.proc.stdin.write(cmd + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise WorkerError(f"worker gone: {self._tail()}") from None
        return self.receive(timeout)

    def _tail(self) -> str:
        self.log.seek(0)
        lines = [ln for ln in self.log.read().splitlines() if ln.strip()]
        return " | ".join(lines[-3:]) or "no message"

    def quit(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
                self.proc.wait(timeout=60)
            except Exception:
                self.kill()
        self.log.close()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def interpreters() -> tuple[dict[str, str], dict[str, str]]:
    """The interpreter for each simulator, and the reason for each one unavailable."""
    found, missing = {"neurodyn": sys.executable}, {}
    if importlib.util.find_spec("brainpy") is not None:
        found["brainpy"] = sys.executable
    else:
        missing["brainpy"] = "brainpy not installed in this interpreter"
    if BRIAN2_VENV_PY.exists():
        b2_py = str(BRIAN2_VENV_PY)
    elif importlib.util.find_spec("brian2") is not None:
        b2_py = sys.executable
    else:
        b2_py = None
        missing["brian2"] = f"no venv {BRIAN2_VENV_PY.relative_to(HERE)} and no brian2 here"
    if b2_py:
        found["brian2 cython"] = found["brian2 standalone"] = b2_py
    return found, missing


def bench_n(n: int, args, pythons: dict[str, str]) -> dict:
    """Build and first-run each simulator in turn, then interleave the timed runs."""
    workers: dict[str, Worker] = {}
    rows: dict[str, dict] = {}
    try:
        for sim in SIMS:
            if sim not in pythons:
                continue
            print(f"  {sim}: ", end="", flush=True)
            w = Worker(sim, pythons[sim], n, args.t, args.seed)
            try:
                hello = w.receive(FIRST_TIMEOUT_S)
                built = w.ask("build", FIRST_TIMEOUT_S)
                first = w.ask("run", FIRST_TIMEOUT_S)
            except WorkerError as e:
                w.kill()
                w.quit()
                print(f"unavailable ({e})")
                rows[sim] = {"error": str(e)}
                continue
            print(f"built in {built['build_s']:.2f} s, first run {first['run_s']:.2f} s")
            workers[sim] = w
            rows[sim] = {
                "versions": hello["versions"],
                "n_E": built["n_E"],
                "n_I": built["n_I"],
                "build_s": built["build_s"],
                "compile_s": built.get("compile_s"),
                "first": first,
                "runs": [],
            }
        for _ in range(args.repeats):
            for sim, w in list(workers.items()):
                try:
                    rows[sim]["runs"].append(w.ask("run", RUN_TIMEOUT_S))
                except WorkerError as e:
                    print(f"  {sim}: failed during the timed runs ({e})")
                    rows[sim]["error"] = str(e)
                    w.kill()
                    del workers[sim]
    finally:
        for w in workers.values():
            w.quit()
    return {sim: summarize(row, args.t) for sim, row in rows.items()}


def summarize(row: dict, t_ms: float) -> dict:
    if "error" in row and not row.get("runs"):
        return {"error": row["error"]}
    seconds = t_ms / 1000
    first, runs = row["first"], row["runs"]
    times = [r["run_s"] for r in runs]
    run_min = min(times) if times else None

    def rates(r):
        return r["spikes_E"] / row["n_E"] / seconds, r["spikes_I"] / row["n_I"] / seconds

    all_rates = [rates(r) for r in [first, *runs]]
    flagged = any(not (RATE_OK[0] <= x <= RATE_OK[1]) for pair in all_rates for x in pair)
    compile_s = row["compile_s"]
    if compile_s is None and run_min is not None:  # JIT / Cython: first run minus a run
        compile_s = max(first["run_s"] - run_min, 0.0)
    out = {
        "versions": row["versions"],
        "n_E": row["n_E"],
        "n_I": row["n_I"],
        "rate_E_hz": all_rates[0][0],
        "rate_I_hz": all_rates[0][1],
        "rates_all_runs_hz": [list(p) for p in all_rates],
        "rate_flag": flagged,
        "build_s": row["build_s"],
        "compile_s": compile_s,
        "first_run_s": first["run_s"],
        "run_min_s": run_min,
        "run_median_s": statistics.median(times) if times else None,
        "run_all_s": times,
    }
    programs = [r.get("programs") for r in [first, *runs]]
    if any(p is not None and p > 1 for p in programs):
        out["warning"] = f"recompiled between runs (compiled programs: {programs})"
    if "setup_s" in first:  # standalone: the binary's setup before the run loop
        out["binary_setup_s"] = first["setup_s"]
        out["build_s"] += first["setup_s"]
    if "error" in row:
        out["error"] = row["error"]
    return out


def label(sim: str, res: dict) -> str:
    v = res.get("versions", {})
    ver = v.get("neurodyn") or v.get("brainpy") or v.get("brian2")
    return sim if ver is None else f"{sim} {ver}"


def fmt(x, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def print_table(n: int, t_ms: float, repeats: int, results: dict) -> None:
    nd_run = results.get("neurodyn", {}).get("run_min_s")
    ok = {k: v for k, v in results.items() if "error" not in v or v.get("run_min_s")}
    n_e = next((v["n_E"] for v in ok.values()), int(0.8 * n))
    print(
        f"\nN = {n} ({n_e} E + {n - n_e} I), {t_ms:g} ms at dt = {DT_MS} ms; "
        f"run = min of {repeats} (interleaved)"
    )
    head = ("simulator", "E Hz", "I Hz", "build s", "compile s", "run s", "nd/anchor")
    print(f"  {head[0]:<26}" + "".join(f"{h:>10}" for h in head[1:]))
    flags = []
    for sim, res in results.items():
        if sim not in ok:
            print(f"  {sim:<26}unavailable ({res['error']})")
            continue
        ratio = None
        if nd_run is not None and res["run_min_s"]:
            ratio = nd_run / res["run_min_s"]
        flag = "!" if res["rate_flag"] else " "
        if res["rate_flag"]:
            flags.append(sim)
        print(
            f"  {label(sim, res):<26}"
            f"{fmt(res['rate_E_hz'], '.1f'):>9}{flag}{fmt(res['rate_I_hz'], '.1f'):>9}{flag}"
            f"{fmt(res['build_s'], '.2f'):>10}{fmt(res['compile_s'], '.2f'):>10}"
            f"{fmt(res['run_min_s'], '.3f'):>10}"
            + ("" if sim == "neurodyn" else f"{fmt(ratio, '.2f'):>10}")
        )
    for sim, res in ok.items():
        if res.get("warning"):
            print(f"  warning, {sim}: {res['warning']}")
    if flags:
        print(
            f"  ! a rate outside {RATE_OK[0]:g}-{RATE_OK[1]:g} Hz in some run: {', '.join(flags)}"
        )


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, nargs="+", default=[4000, 16000], help="network sizes")
    ap.add_argument("--t", type=float, default=1000.0, help="biological time in ms")
    ap.add_argument("--repeats", type=int, default=3, help="timed runs after the first")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--skip", nargs="*", default=[], choices=SIMS, metavar="SIM", help="simulators to skip"
    )
    ap.add_argument("--worker", choices=SIMS, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker_main(args.worker, args.n[0], args.t, args.seed)
        return

    pythons, missing = interpreters()
    for sim in args.skip:
        pythons.pop(sim, None)
    load = os.getloadavg()
    print(
        f"COBA-LIF, {args.t:g} ms at dt = {DT_MS} ms; {platform.machine()} {cpu_model()}, "
        f"{os.cpu_count()} CPUs, load average {load[0]:.2f}"
    )
    for name, why in missing.items():
        print(f"{name}: unavailable ({why})")

    t_start = time.perf_counter()
    per_n = {}
    for n in args.n:
        print(f"\nN = {n}:")
        per_n[n] = bench_n(n, args, pythons)
    for n, results in per_n.items():
        print_table(n, args.t, args.repeats, results)
    total = time.perf_counter() - t_start
    print(f"\ntotal {total:.0f} s")

    versions: dict = {"python": platform.python_version()}  # and per simulator:
    for results in per_n.values():
        for sim, res in results.items():
            if "versions" in res:
                versions.setdefault(sim, res["versions"])
    out = {
        "benchmark": "COBA-LIF network (shared/BENCHMARK_MODELS.md)",
        "date": datetime.date.today().isoformat(),
        "command": "python coba.py " + " ".join(sys.argv[1:]),
        "t_ms": args.t,
        "dt_ms": DT_MS,
        "repeats": args.repeats,
        "versions": versions,
        "platform": {
            "machine": platform.machine(),
            "cpu_model": cpu_model(),
            "system": platform.system(),
            "cpu_count": os.cpu_count(),
            "load_average_at_start": load,
        },
        "unavailable": missing,
        "rows": [
            {
                "N": n,
                "results": results,
                "neurodyn/anchor run": {
                    sim: results["neurodyn"]["run_min_s"] / res["run_min_s"]
                    for sim, res in results.items()
                    if sim != "neurodyn"
                    and res.get("run_min_s")
                    and results.get("neurodyn", {}).get("run_min_s")
                },
            }
            for n, results in per_n.items()
        ],
        "total_s": total,
    }
    path = HERE / "results" / f"coba-{datetime.date.today():%Y%m%d}.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"results written to {path.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
