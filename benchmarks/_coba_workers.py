"""The simulator workers of coba.py: one class per simulator (neurodyn, BrainPy, Brian2
cython / C++ standalone, NEST) and ``worker_main``, the line protocol a worker process
serves. Each class imports its simulator lazily, so this file also runs under an
interpreter that has only that simulator (the brian2 venv has no jax / neurodyn)."""

from __future__ import annotations

import json
import os
import pathlib
import platform
import shutil
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
EXAMPLES = HERE.parent / "examples"
TAG = "@@coba "  # prefix of the protocol lines a worker writes to stdout
DT_MS = 0.1


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
    def __init__(self, n: int, t_ms: float, seed: int, model="lif", conn="csr", record="counts"):
        self.model, self.conn, self.record = model, conn, record
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
        elif self.model == "stdp":
            from coba import COBANet

            def make(n, seed):
                return COBANet(n, seed, variant="stdp")  # examples/coba.py --variant stdp
        else:
            from coba import COBANet as make  # examples/coba.py
        nd.random.seed(self.seed)
        t0 = time.perf_counter()
        self.net = net = make(self.n, self.seed)
        build_s = time.perf_counter() - t0
        # one monitors dict for all runs: the compiled program is cached per monitor
        # target, and ``net.E.spike`` may be a fresh view object at every access
        T = self.t_ms * u.ms
        # (COBA-LIF: one population N with E and I views; COBA-HH: populations E and I)
        pops = {"all": net.N} if hasattr(net, "N") else {"E": net.E, "I": net.I}
        if self.record == "spikes":  # every spike as (time, index)
            self.monitors = {k: nd.dyn.SpikeMonitor(p.spike) for k, p in pops.items()}
        elif self.record == "raster":  # a dense [steps, n] boolean array
            self.monitors = {k: nd.dyn.Monitor(p.spike) for k, p in pops.items()}
        else:
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
        if self.record == "counts":
            n_e = int(self.np.asarray(res["E"]).sum())
            n_i = int(self.np.asarray(res["I"]).sum())
        elif "all" in res.keys():
            _, i = res.spikes("all")
            n_e = int((i < net.E.num).sum())
            n_i = len(i) - n_e
        else:
            n_e, n_i = len(res.spikes("E")[1]), len(res.spikes("I")[1])
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
        self,
        n: int,
        t_ms: float,
        seed: int,
        standalone: bool,
        model: str = "lif",
        threads=0,
        record="counts",
    ):
        import brian2 as b2

        self.model, self.record = model, record
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
        if self.model == "stdp":
            # examples/coba.py --variant stdp in units of g_L = 10 nS: w0 = 6 nS, A+ = 0.01 nS,
            # A- = 0.0105 nS, w in [0, 12 nS]; Brian2's standard event-driven pair STDP
            syn_e = b2.Synapses(
                exc,
                pop,
                model="""w : 1
                dapre/dt = -apre/tau_stdp : 1 (event-driven)
                dapost/dt = -apost/tau_stdp : 1 (event-driven)""",
                on_pre="""ge += w
                apre += 1
                w = clip(w - 0.00105*apost, 0, 1.2)""",
                on_post="""apost += 1
                w = clip(w + 0.001*apre, 0, 1.2)""",
                namespace={"tau_stdp": 20 * ms},
            )
            syn_e.connect(p=80 / self.n)
            syn_e.w = 0.6
        else:
            syn_e = b2.Synapses(exc, pop, on_pre=on_e)
            syn_e.connect(p=80 / self.n)
        syn_i = b2.Synapses(inh, pop, on_pre=on_i)
        syn_i.connect(p=80 / self.n)
        # record=True keeps every spike's (t, i), as neurodyn's SpikeMonitor (--record spikes)
        keep = self.record == "spikes"
        self.mon_e = b2.SpikeMonitor(exc, record=keep)
        self.mon_i = b2.SpikeMonitor(inh, record=keep)
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
        record = sim.rsplit(" ", 1)[-1] if sim.endswith((" spikes", " raster")) else "counts"
        sim = sim.rsplit(" ", 1)[0] if record != "counts" else sim
        if sim == "neurodyn":
            w = _NeurodynWorker(n, t_ms, seed, args.model, args.conn, record)
        elif sim == "brainpy":
            w = _BrainPyWorker(n, t_ms, seed)
        elif sim.startswith("brian2"):
            standalone = sim.endswith("standalone")
            w = _Brian2Worker(
                n,
                t_ms,
                seed,
                standalone=standalone,
                model=args.model,
                threads=args.brian2_threads,
                record=record,
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
