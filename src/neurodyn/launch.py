"""Run one script as several cooperating JAX processes: ``python -m neurodyn.launch``.

On one machine::

    python -m neurodyn.launch -n 2 examples/coba.py --devices 2

starts 2 processes of ``examples/coba.py`` wired together by
``jax.distributed.initialize`` (coordinator on 127.0.0.1, gloo collectives between CPU
processes). Inside the script nothing changes: ``jax.devices()`` lists the devices of
every process and ``nd.run(net, ..., mesh=jax.make_mesh((jax.device_count(),),
("neurons",)))`` splits the network over all of them; monitors come back whole in every
process.

On a cluster, start one process per task with the scheduler and let JAX find its peers::

    srun -N 4 --ntasks-per-node=8 python -m neurodyn.launch examples/coba.py --devices 32
    mpirun -n 8 python -m neurodyn.launch examples/coba.py --devices 8

Without ``-n``, the launcher calls ``jax.distributed.initialize()`` with JAX's cluster
detection (SLURM, Open MPI, ...) when it finds such an environment, and then runs the
script; outside any cluster it just runs the script in one process.

If a process fails or is killed, the launcher stops the others and exits with an error
naming the process, instead of leaving them waiting in a collective.
"""

from __future__ import annotations

import argparse
import os
import runpy
import socket
import subprocess
import sys
import threading
import time

__all__ = ["initialize", "main"]

_ENV = ("NEURODYN_COORDINATOR", "NEURODYN_NUM_PROCESSES", "NEURODYN_PROCESS_ID")
_CLUSTER_HINTS = ("SLURM_JOB_ID", "OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "MPI_LOCALNRANKS")


def initialize() -> tuple[int, int]:
    """Wire this process to its peers, once, before any JAX computation: from the
    launcher's environment (``-n``), else JAX's cluster detection when a scheduler's
    environment is present, else nothing (one process). Returns
    ``(process_id, num_processes)``."""
    import jax

    if os.environ.get("NEURODYN_COORDINATOR"):
        n = int(os.environ["NEURODYN_NUM_PROCESSES"])
        i = int(os.environ["NEURODYN_PROCESS_ID"])
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        jax.distributed.initialize(
            coordinator_address=os.environ["NEURODYN_COORDINATOR"],
            num_processes=n,
            process_id=i,
            initialization_timeout=120,
            heartbeat_timeout_seconds=30,
        )
        if jax.process_count() != n:
            raise RuntimeError(
                f"neurodyn.launch: started {n} processes but JAX sees {jax.process_count()}; "
                "another job may be using the coordinator port (pass --port)."
            )
        return i, n
    if any(k in os.environ for k in _CLUSTER_HINTS):
        jax.distributed.initialize()  # JAX's cluster detection (SLURM, Open MPI, ...)
        return jax.process_index(), jax.process_count()
    return 0, 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pipe(stream, prefix: str, out) -> None:
    for line in iter(stream.readline, ""):
        out.write(prefix + line)
        out.flush()


def _spawn(n: int, port: int, script: str, args: list[str], timeout: float | None) -> int:
    procs = []
    threads = []
    for i in range(n):
        env = dict(os.environ)
        env.update(
            NEURODYN_COORDINATOR=f"127.0.0.1:{port}",
            NEURODYN_NUM_PROCESSES=str(n),
            NEURODYN_PROCESS_ID=str(i),
        )
        cmd = [sys.executable, "-m", "neurodyn.launch", script, *args]
        if i == 0:  # process 0 speaks for the run: its output passes unchanged
            procs.append(subprocess.Popen(cmd, env=env))
            continue
        p = subprocess.Popen(
            cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        t = threading.Thread(target=_pipe, args=(p.stdout, f"[process {i}] ", sys.stdout))
        t.daemon = True
        t.start()
        procs.append(p)
        threads.append(t)
    start = time.monotonic()
    failed = None
    while True:
        codes = [p.poll() for p in procs]
        bad = [(i, c) for i, c in enumerate(codes) if c not in (None, 0)]
        if bad:
            failed = bad[0]
            break
        if all(c == 0 for c in codes):
            break
        if timeout is not None and time.monotonic() - start > timeout:
            failed = (-1, -1)
            break
        time.sleep(0.05)
    if failed is not None:
        for p in procs:
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        i, code = failed
        if i < 0:
            print(
                f"neurodyn.launch: timed out after {timeout:g} s; stopped all {n} processes.",
                file=sys.stderr,
            )
            return 124
        print(
            f"neurodyn.launch: process {i} of {n} exited with code {code}; stopped the others.",
            file=sys.stderr,
        )
        return code if code > 0 else 1
    for t in threads:
        t.join(5)
    return 0


def main(argv: list[str] | None = None) -> int:
    """The command line ``python -m neurodyn.launch [-n N] script [args...]``; returns the
    exit status (the first non-zero status of a process, which stops the others)."""
    ap = argparse.ArgumentParser(
        prog="python -m neurodyn.launch",
        description="Run a script as N cooperating JAX processes (see the module docstring).",
    )
    ap.add_argument("-n", "--nproc", type=int, default=None, help="local processes to start")
    ap.add_argument("--port", type=int, default=None, help="coordinator port (default: free)")
    ap.add_argument("--timeout", type=float, default=None, help="stop all after this many s")
    ap.add_argument("script")
    ap.add_argument("args", nargs=argparse.REMAINDER)
    ns = ap.parse_args(argv)
    if not os.path.exists(ns.script):
        ap.error(f"no script {ns.script!r}")
    if ns.nproc is not None:
        if ns.nproc < 1:
            ap.error(f"-n must be at least 1, got {ns.nproc}")
        if os.environ.get("NEURODYN_COORDINATOR"):
            ap.error("-n given inside a launched process; start the launcher once")
        return _spawn(ns.nproc, ns.port or _free_port(), ns.script, ns.args, ns.timeout)
    _, n = initialize()
    sys.argv = [ns.script, *ns.args]
    sys.path.insert(0, os.path.dirname(os.path.abspath(ns.script)))
    try:
        runpy.run_path(ns.script, run_name="__main__")
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        if code and n > 1:
            _exit_now(code)  # (JAX's shutdown would wait for the peers this one abandons)
        raise
    except BaseException:
        if n > 1:
            import traceback

            traceback.print_exc()
            _exit_now(1)
        raise
    return 0


def _exit_now(code: int) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
