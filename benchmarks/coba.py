"""COBA networks: neurodyn vs BrainPy, Brian2 and NEST, side by side in one run.

COBA-LIF (``--model lif``, shared/BENCHMARK_MODELS.md; Brette et al. 2007 benchmark 1 in
the form of BrainPy's COBA example), identical in every simulator: N_E = 0.8 N, N_I = 0.2 N
LIF neurons (tau_m 20 ms, V_rest = V_reset = -60 mV, V_th -50 mV, t_ref 5 ms, I_ext 20 mV,
V0 ~ N(-55, 2) mV), conductances in units of g_L with exponential decay (tau_e 5 ms,
tau_i 10 ms; jumps 0.6 and 6.7; E_e 0 mV, E_i -80 mV), each (pre, post) pair connected
with p = 80 / N, spikes act one step (0.1 ms) after they are emitted, dt = 0.1 ms,
exponential Euler. COBA-HH (``--model hh``): the same network of Traub-Miles HH neurons
(examples/coba_hh.py; Brian2's COBAHH example), V0 ~ N(-65, 5) mV, gates at steady state.
``--conn jit``: COBA-LIF with procedural connectivity (``event.JitProb``; neurodyn only).

Simulators (each runs in its own worker process, this same file with ``--worker``):

  neurodyn           ``COBANet`` of examples/coba.py (``COBAHHNet`` of examples/coba_hh.py)
                     run by ``nd.run`` with spike-count monitors; this interpreter.
  brainpy            ``bp.dyn.LifRef`` populations, ``FullProjAlignPostMg`` projections
                     (``EventCSRLinear`` on ``bp.conn.FixedProb``, ``Expon`` synapses,
                     ``COBA`` outputs), one ``bm.jit``-ed ``bm.for_loop`` over the steps
                     (COBA-LIF only); venv benchmarks/.envs/anchors.
  brian2 cython      Brian2 runtime mode, Cython target (fresh Cython cache per worker,
                     so the compile times are cold); venv benchmarks/.envs/brian2 (or the
                     old benchmarks/envs/brian2).
  brian2 standalone  Brian2 C++ standalone device (in a temporary directory).
  nest               ``iaf_cond_exp`` / ``hh_cond_exp_traub``, same parameters in NEST's
                     units; venv benchmarks/.envs/nest.

The venvs come from ``make bench-setup``; a simulator whose venv is missing (and that is
not importable here) is skipped with the reason.

Timing, per simulator and N:
  build    constructing the network (connectivity included). Brian2 cython: includes
           compiling the connect code; Brian2 standalone: the Python model description
           plus the binary's own setup (its wall time minus its reported run time).
  compile  first run minus the fastest later run (JIT/Cython compilation); Brian2
           standalone: code generation + C++ compilation (``device.build``).
  run      min over ``--repeats`` runs after the first (state reset in between, reset
           not timed); the repeats are interleaved across the simulators so that drift
           in machine load hits all alike. Brian2 standalone: the run time the binary
           reports (``device._last_run_time``). NEST continues the simulation instead.
Rates come from the first run's spike counts; an E rate outside the anchors' spread in
any run is flagged (``flag_rates``). Peak resident memory per worker is reported.

    cd benchmarks && python coba.py [--model lif|hh] [--conn csr|jit] [--n 4000 16000]
        [--t 1000] [--repeats 3] [--skip SIM ...] [--max-n nest=64000] [--out PATH]

Results are also written to results/coba-<YYYYMMDD>.json (or ``--out``).
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
ENVS = HERE / ".envs"
# each anchor's own venv (make bench-setup); benchmarks/envs/brian2 is the old location
BRIAN2_VENV_PYS = (ENVS / "brian2" / "bin" / "python", HERE / "envs" / "brian2" / "bin" / "python")
ANCHORS_VENV_PY = ENVS / "anchors" / "bin" / "python"  # brainpy, brainevent, numba
NEST_VENV_PY = ENVS / "nest" / "bin" / "python"
TAG = "@@coba "  # prefix of the protocol lines a worker writes to stdout
RATE_OK = (17.0, 25.0)  # Hz
DT_MS = 0.1
SIMS = ("neurodyn", "brainpy", "brian2 cython", "brian2 standalone", "nest")
MODELS = ("lif", "hh")
# which simulators have a worker for each model / connectivity (the others are skipped)
SUPPORTED = {
    ("lif", "csr"): SIMS,
    ("hh", "csr"): ("neurodyn", "brian2 cython", "brian2 standalone", "nest"),
    ("lif", "jit"): ("neurodyn",),
    ("hh", "jit"): ("neurodyn",),
}
FIRST_TIMEOUT_S = 1200  # import, build or first run (compilation) of one worker
RUN_TIMEOUT_S = 600  # one timed run


# --------------------------------------------------------------------------- workers
# Each worker class imports its simulator lazily, so that this file also runs under an
# interpreter that has only Brian2 (the brian2 venv has no jax / neurodyn).


def _peak_rss_mb() -> float:
    """Peak resident memory of this worker and of its finished children (MB)."""
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, kids) / 1024  # Linux: kB


def _neurodyn_jit_net(n: int, seed: int):
    """COBA-LIF of examples/coba.py with procedural connectivity (``event.JitProb``,
    regenerated from the seed at every step: O(1) memory for the synapses)."""
    import neurodyn as nd
    import neurodyn.units as u
    from neurodyn import event
    from neurodyn.dyn import COBA, LIF, Expon, Normal, Projection

    class COBAJitNet(nd.Network):
        def __init__(self):
            n_e = int(0.8 * n)
            self.N = LIF(
                n,
                name="N",
                tau=20 * u.ms,
                R=100 * u.Mohm,
                V_rest=-60 * u.mV,
                V_reset=-60 * u.mV,
                V_th=-50 * u.mV,
                tau_ref=5 * u.ms,
                I_ext=200 * u.pA,
                V_initializer=Normal(-55 * u.mV, 2 * u.mV),
            )
            self.E, self.I = self.N[:n_e], self.N[n_e:]
            p = 80 / n
            self.exc = Projection(
                self.E,
                self.N,
                event.JitProb(n_e, n, p, weight=6 * u.nS, seed=seed + 1),
                synapse=Expon(5 * u.ms),
                output=COBA(E=0 * u.mV),
            )
            self.inh = Projection(
                self.I,
                self.N,
                event.JitProb(n - n_e, n, p, weight=67 * u.nS, seed=seed + 2),
                synapse=Expon(10 * u.ms),
                output=COBA(E=-80 * u.mV),
            )

    return COBAJitNet()


class _NeurodynWorker:
    def __init__(self, n: int, t_ms: float, seed: int, model: str = "lif", conn: str = "csr"):
        self.model, self.conn = model, conn
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
        nd, u = self.nd, self.u
        if self.conn == "jit":
            if self.model != "lif":
                raise ValueError("procedural connectivity: COBA-LIF only")

            def make(n, seed):
                return _neurodyn_jit_net(n, seed)
        elif self.model == "hh":
            from coba_hh import COBAHHNet as make  # examples/coba_hh.py
        else:
            from coba import COBANet as make  # examples/coba.py
        nd.random.seed(self.seed)
        t0 = time.perf_counter()
        self.net = net = make(self.n, self.seed)
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
        return {
            "run_s": wall,
            "spikes_E": n_e,
            "spikes_I": n_i,
            "programs": programs,
            "peak_rss_mb": _peak_rss_mb(),
        }

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
        return {"run_s": wall, "spikes_E": n_e, "spikes_I": n_i, "peak_rss_mb": _peak_rss_mb()}

    def sizes(self) -> tuple[int, int]:
        return self.net.E.num, self.net.I.num


class _Brian2Worker:
    """Brian2, runtime mode with the Cython target, or the C++ standalone device."""

    def __init__(
        self, n: int, t_ms: float, seed: int, standalone: bool, model: str = "lif", threads=0
    ):
        import brian2 as b2

        self.model = model
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
            if threads > 1:
                b2.prefs.devices.cpp_standalone.openmp_threads = threads
        self.runs = 0

    def _hh_group(self):
        """COBA-HH as in Brian2's COBAHH example, but started as neurodyn's
        examples/coba_hh.py: V0 ~ N(-65, 5) mV, gates at their steady state, g = 0;
        a spike is an upward crossing of -20 mV."""
        b2 = self.b2
        area = 20000 * b2.umetre**2
        namespace = dict(
            Cm=1 * b2.ufarad * b2.cm**-2 * area,
            gl=5e-5 * b2.siemens * b2.cm**-2 * area,
            El=-60 * b2.mV,
            EK=-90 * b2.mV,
            ENa=50 * b2.mV,
            g_na=100 * b2.msiemens * b2.cm**-2 * area,
            g_kd=30 * b2.msiemens * b2.cm**-2 * area,
            VT=-63 * b2.mV,
            taue=5 * b2.ms,
            taui=10 * b2.ms,
            Ee=0 * b2.mV,
            Ei=-80 * b2.mV,
            v_th=-20 * b2.mV,
        )
        eqs = """
        dv/dt = (gl*(El-v) + ge*(Ee-v) + gi*(Ei-v) - g_na*(m*m*m)*h*(v-ENa)
                 - g_kd*(n*n*n*n)*(v-EK))/Cm : volt
        dm/dt = alpha_m*(1-m) - beta_m*m : 1
        dn/dt = alpha_n*(1-n) - beta_n*n : 1
        dh/dt = alpha_h*(1-h) - beta_h*h : 1
        dge/dt = -ge/taue : siemens
        dgi/dt = -gi/taui : siemens
        alpha_m = 0.32*(mV**-1)*4*mV/exprel((13*mV-v+VT)/(4*mV))/ms : Hz
        beta_m = 0.28*(mV**-1)*5*mV/exprel((v-VT-40*mV)/(5*mV))/ms : Hz
        alpha_h = 0.128*exp((17*mV-v+VT)/(18*mV))/ms : Hz
        beta_h = 4./(1+exp((40*mV-v+VT)/(5*mV)))/ms : Hz
        alpha_n = 0.032*(mV**-1)*5*mV/exprel((15*mV-v+VT)/(5*mV))/ms : Hz
        beta_n = .5*exp((10*mV-v+VT)/(40*mV))/ms : Hz
        """
        pop = b2.NeuronGroup(
            self.n,
            eqs,
            threshold="v > v_th",
            refractory="v > v_th",  # one spike per upward crossing
            method="exponential_euler",
            namespace=namespace,
        )
        pop.v = "-65*mV + 5*mV*randn()"
        pop.m = "alpha_m / (alpha_m + beta_m)"
        pop.h = "alpha_h / (alpha_h + beta_h)"
        pop.n = "alpha_n / (alpha_n + beta_n)"
        return pop, "ge += 6*nS", "gi += 67*nS"

    def build(self) -> dict:
        b2 = self.b2
        ms = b2.ms
        t0 = time.perf_counter()
        b2.defaultclock.dt = DT_MS * ms
        b2.seed(self.seed)
        if self.model == "hh":
            pop, on_e, on_i = self._hh_group()
        else:
            pop, on_e, on_i = self._lif_group()
        n_e = int(0.8 * self.n)
        exc, inh = pop[:n_e], pop[n_e:]
        self.n_e, self.n_i = n_e, self.n - n_e
        # Brian2 applies on_pre at the end of the step that emits the spike, so with no
        # explicit delay it acts on the next integration step: the one-step delay.
        syn_e = b2.Synapses(exc, pop, on_pre=on_e)
        syn_e.connect(p=80 / self.n)
        syn_i = b2.Synapses(inh, pop, on_pre=on_i)
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

    def _lif_group(self):
        b2 = self.b2
        ms, mV = b2.ms, b2.mV
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
        return pop, "ge += 0.6", "gi += 6.7"

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
        extra["peak_rss_mb"] = _peak_rss_mb()
        return {"run_s": run_s, "spikes_E": n_e, "spikes_I": n_i, **extra}

    def sizes(self) -> tuple[int, int]:
        return self.n_e, self.n_i

    def close(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


class _NestWorker:
    """NEST: ``iaf_cond_exp`` (COBA-LIF) or ``hh_cond_exp_traub`` (COBA-HH) with the same
    parameters in NEST's units (pF, nS, pA, mV, ms). NEST cannot rewind a network, so each
    run continues the simulation for another ``t_ms`` (spike counts per run); NEST
    integrates with its own adaptive solver (GSL RKF45), not exponential Euler."""

    def __init__(self, n: int, t_ms: float, seed: int, model: str = "lif", threads: int = 1):
        import nest

        self.nest, self.n, self.t_ms, self.seed, self.model = nest, n, t_ms, seed, model
        self.threads = threads
        nest.set_verbosity("M_ERROR")
        self.versions = {"nest": nest.__version__, "threads": threads}
        self.runs = 0

    def build(self) -> dict:
        nest = self.nest
        t0 = time.perf_counter()
        nest.ResetKernel()
        nest.SetKernelStatus(
            {"resolution": DT_MS, "local_num_threads": self.threads, "rng_seed": self.seed + 1}
        )
        if self.model == "hh":
            area_cm2 = 20000e-8  # 20000 um^2
            params = dict(
                C_m=1e-6 * area_cm2 * 1e12,  # 1 uF/cm^2 -> pF
                g_L=5e-5 * area_cm2 * 1e9,  # S/cm^2 -> nS
                g_Na=100e-3 * area_cm2 * 1e9,
                g_K=30e-3 * area_cm2 * 1e9,
                E_L=-60.0,
                E_Na=50.0,
                E_K=-90.0,
                V_T=-63.0,
                E_ex=0.0,
                E_in=-80.0,
                tau_syn_ex=5.0,
                tau_syn_in=10.0,
                I_e=0.0,
            )
            pop = nest.Create("hh_cond_exp_traub", self.n, params=params)
            pop.V_m = nest.random.normal(-65.0, 5.0)
            w_e, w_i = 6.0, 67.0  # nS
        else:
            params = dict(
                C_m=200.0,  # pF: tau_m = C_m / g_L = 20 ms
                g_L=10.0,  # nS
                E_L=-60.0,
                V_th=-50.0,
                V_reset=-60.0,
                t_ref=5.0,
                E_ex=0.0,
                E_in=-80.0,
                tau_syn_ex=5.0,
                tau_syn_in=10.0,
                I_e=200.0,  # pA: 20 mV * g_L
            )
            pop = nest.Create("iaf_cond_exp", self.n, params=params)
            pop.V_m = nest.random.normal(-55.0, 2.0)
            w_e, w_i = 0.6 * 10.0, 6.7 * 10.0  # units of g_L -> nS
        n_e = int(0.8 * self.n)
        self.n_e, self.n_i = n_e, self.n - n_e
        exc, inh = pop[:n_e], pop[n_e:]
        conn = {"rule": "pairwise_bernoulli", "p": 80 / self.n}
        # delay = one step; a negative weight addresses the inhibitory conductance
        nest.Connect(exc, pop, conn, {"weight": w_e, "delay": DT_MS})
        nest.Connect(inh, pop, conn, {"weight": -w_i, "delay": DT_MS})
        self.rec_e = nest.Create("spike_recorder")
        self.rec_i = nest.Create("spike_recorder")
        nest.Connect(exc, self.rec_e)
        nest.Connect(inh, self.rec_i)
        return {"build_s": time.perf_counter() - t0, "compile_s": 0.0}

    def run(self) -> dict:
        nest = self.nest
        self.rec_e.n_events = 0
        self.rec_i.n_events = 0
        t0 = time.perf_counter()
        nest.Simulate(self.t_ms)
        run_s = time.perf_counter() - t0
        self.runs += 1
        n_e, n_i = int(self.rec_e.n_events), int(self.rec_i.n_events)
        return {"run_s": run_s, "spikes_E": n_e, "spikes_I": n_i, "peak_rss_mb": _peak_rss_mb()}

    def sizes(self) -> tuple[int, int]:
        return self.n_e, self.n_i


def _version_of(module: str) -> str | None:
    try:
        return __import__(module).__version__
    except Exception:
        return None


def _send(msg: dict) -> None:
    sys.__stdout__.write(TAG + json.dumps(msg) + "\n")
    sys.__stdout__.flush()


def worker_main(sim: str, n: int, t_ms: float, seed: int, args) -> None:
    """Serve commands from stdin: ``build``, ``run``, ``quit``; answer on stdout."""
    if args.pin_cpu is not None:
        # this process (and the threads it starts: JAX's, OpenMP's) on one core
        os.sched_setaffinity(0, {args.pin_cpu})
    try:
        if sim == "neurodyn":
            w = _NeurodynWorker(n, t_ms, seed, args.model, args.conn)
        elif sim == "brainpy":
            w = _BrainPyWorker(n, t_ms, seed)
        elif sim.startswith("brian2"):
            standalone = sim.endswith("standalone")
            w = _Brian2Worker(
                n, t_ms, seed, standalone=standalone, model=args.model, threads=args.brian2_threads
            )
        elif sim == "nest":
            w = _NestWorker(n, t_ms, seed, args.model, args.nest_threads)
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

    def __init__(self, sim: str, python: str, n: int, args):
        self.sim = sim
        self.log = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(
            [python, str(pathlib.Path(__file__).resolve()), "--worker", sim]
            + ["--n", str(n), "--t", str(args.t), "--seed", str(args.seed)]
            + ["--model", args.model, "--conn", args.conn]
            + ["--nest-threads", str(args.nest_threads)]
            + ["--brian2-threads", str(args.brian2_threads)]
            + ([] if args.pin_cpu is None else ["--pin-cpu", str(args.pin_cpu)]),
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


def _venv_has(python: pathlib.Path, module: str) -> bool:
    if not python.exists():
        return False
    probe = f"import importlib.util, sys; sys.exit(importlib.util.find_spec({module!r}) is None)"
    return subprocess.run([str(python), "-c", probe], capture_output=True).returncode == 0


def interpreters() -> tuple[dict[str, str], dict[str, str]]:
    """The interpreter for each simulator, and the reason for each one unavailable.

    neurodyn runs under this interpreter; each anchor from its own venv under
    benchmarks/.envs/ (``make bench-setup``), else from this interpreter if it has it."""
    found, missing = {"neurodyn": sys.executable}, {}
    if _venv_has(ANCHORS_VENV_PY, "brainpy"):
        found["brainpy"] = str(ANCHORS_VENV_PY)
    elif importlib.util.find_spec("brainpy") is not None:
        found["brainpy"] = sys.executable
    else:
        missing["brainpy"] = f"no {ANCHORS_VENV_PY.relative_to(HERE)} and no brainpy here"
    b2_py = next((str(py) for py in BRIAN2_VENV_PYS if py.exists()), None)
    if b2_py is None and importlib.util.find_spec("brian2") is not None:
        b2_py = sys.executable
    if b2_py:
        found["brian2 cython"] = found["brian2 standalone"] = b2_py
    else:
        why = f"no {BRIAN2_VENV_PYS[0].relative_to(HERE)} and no brian2 here"
        missing["brian2 cython"] = missing["brian2 standalone"] = why
    failed = ENVS / "nest.failed"
    if _venv_has(NEST_VENV_PY, "nest"):
        found["nest"] = str(NEST_VENV_PY)
    elif importlib.util.find_spec("nest") is not None:
        found["nest"] = sys.executable
    elif failed.exists():
        missing["nest"] = failed.read_text().strip()
    else:
        missing["nest"] = f"no {NEST_VENV_PY.relative_to(HERE)} (make bench-setup)"
    return found, missing


def bench_n(n: int, args, pythons: dict[str, str]) -> dict:
    """Build and first-run each simulator in turn, then interleave the timed runs."""
    workers: dict[str, Worker] = {}
    rows: dict[str, dict] = {}
    try:
        for sim in SIMS:
            if sim not in pythons:
                continue
            limit = args.max_n.get(sim)
            if limit is not None and n > limit:
                rows[sim] = {"error": f"skipped: N > {limit} (--max-n)"}
                print(f"  {sim}: {rows[sim]['error']}")
                continue
            print(f"  {sim}: ", end="", flush=True)
            w = Worker(sim, pythons[sim], n, args)
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
    results = {sim: summarize(row, args.t) for sim, row in rows.items()}
    flag_rates(results, args.model)
    return results


def flag_rates(results: dict, model: str) -> None:
    """Flag a rate outside the anchors' spread: the band from the lowest to the highest E
    rate of any anchor in any run, widened by max(1.5 Hz, 10%) for seed-to-seed noise.
    Without anchors (or for an anchor itself) the reference band of
    shared/BENCHMARK_MODELS.md is used for COBA-LIF; COBA-HH has none."""
    anchor_rates = [
        pair[0]
        for sim, res in results.items()
        if sim != "neurodyn" and res.get("rates_all_runs_hz")
        for pair in res["rates_all_runs_hz"]
    ]
    band = None
    if anchor_rates:
        lo, hi = min(anchor_rates), max(anchor_rates)
        tol = max(1.5, 0.1 * (lo + hi) / 2)
        band = (lo - tol, hi + tol)
    ref = RATE_OK if model == "lif" else None
    for sim, res in results.items():
        if not res.get("rates_all_runs_hz"):
            continue
        use = band if (sim == "neurodyn" and band) else ref
        if use is None:
            res["rate_flag"] = False
            continue
        res["rate_band_hz"] = list(use)
        res["rate_flag"] = any(not (use[0] <= p[0] <= use[1]) for p in res["rates_all_runs_hz"])


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
        "rate_flag": False,  # set by flag_rates
        "build_s": row["build_s"],
        "compile_s": compile_s,
        "first_run_s": first["run_s"],
        "run_min_s": run_min,
        "run_median_s": statistics.median(times) if times else None,
        "run_all_s": times,
        "peak_rss_mb": max((r.get("peak_rss_mb") or 0) for r in [first, *runs]) or None,
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
    ver = v.get("neurodyn") or v.get("brainpy") or v.get("brian2") or v.get("nest")
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
    head = ("simulator", "E Hz", "I Hz", "build s", "compile s", "run s", "peak MB", "nd/anchor")
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
            f"{fmt(res['run_min_s'], '.3f'):>10}{fmt(res.get('peak_rss_mb'), '.0f'):>10}"
            + ("" if sim == "neurodyn" else f"{fmt(ratio, '.2f'):>10}")
        )
    for sim, res in ok.items():
        if res.get("warning"):
            print(f"  warning, {sim}: {res['warning']}")
    if flags:
        bands = {sim: results[sim].get("rate_band_hz") for sim in flags}
        text = ", ".join(f"{s} (band {b[0]:.1f}-{b[1]:.1f} Hz)" for s, b in bands.items() if b)
        print(f"  ! an E rate outside the anchors' spread in some run: {text}")


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
    ap.add_argument("--model", choices=MODELS, default="lif", help="COBA-LIF or COBA-HH")
    ap.add_argument(
        "--conn",
        choices=("csr", "jit"),
        default="csr",
        help="jit: procedural connectivity (event.JitProb; neurodyn only)",
    )
    ap.add_argument(
        "--max-n",
        nargs="*",
        default=[],
        metavar="SIM=N",
        help="largest N to run a simulator at, e.g. nest=64000",
    )
    ap.add_argument(
        "--nest-threads",
        type=int,
        default=1,
        help="NEST local_num_threads (default 1, as Brian2 standalone; OpenMP threads that "
        "spin at barriers collapse on a loaded machine)",
    )
    ap.add_argument(
        "--brian2-threads",
        type=int,
        default=1,
        help="OpenMP threads of Brian2's C++ standalone device (default 1)",
    )
    ap.add_argument(
        "--pin-cpu",
        type=int,
        default=None,
        metavar="CPU",
        help="run every worker on this one core (all simulators single-core; on small "
        "machines JAX's and OpenMP's thread hand-offs cost more than they give)",
    )
    ap.add_argument("--out", type=pathlib.Path, help="JSON path (default results/coba-...)")
    ap.add_argument("--worker", choices=SIMS, help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.max_n = {k: int(v) for k, v in (item.split("=", 1) for item in args.max_n)}
    if args.worker:
        worker_main(args.worker, args.n[0], args.t, args.seed, args)
        return

    pythons, missing = interpreters()
    for sim in args.skip:
        pythons.pop(sim, None)
        missing[sim] = "skipped (--skip)"
    for sim in SIMS:
        if sim not in SUPPORTED[args.model, args.conn] and sim not in args.skip:
            pythons.pop(sim, None)
            missing[sim] = f"no {sim} worker for {title(args)}"
    load = os.getloadavg()
    print(
        f"{title(args)}, {args.t:g} ms at dt = {DT_MS} ms; {platform.machine()} {cpu_model()}, "
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
        "benchmark": f"{title(args)} network (shared/BENCHMARK_MODELS.md)",
        "model": args.model,
        "conn": args.conn,
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
    path = args.out or HERE / "results" / f"coba-{datetime.date.today():%Y%m%d}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"results written to {path}")


def title(args) -> str:
    name = "COBA-HH" if args.model == "hh" else "COBA-LIF"
    return name + (" (procedural connectivity)" if args.conn == "jit" else "")


if __name__ == "__main__":
    main()
