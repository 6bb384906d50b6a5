"""Run in a subprocess by test_shard.py with 4 virtual CPU devices (its XLA_FLAGS): the
same networks on no mesh and on meshes of 1, 2 and 4 devices; prints one JSON line of
spike-train digests and the number of collectives in the compiled program."""

from __future__ import annotations

import hashlib
import json
import sys

import jax
import numpy as np

import neurodyn as nd
import neurodyn.units as u
from neurodyn import event
from neurodyn.dyn import (
    COBA,
    LIF,
    STDP,
    STP,
    Expon,
    Monitor,
    Normal,
    PoissonGroup,
    PoissonInput,
    Projection,
    SpikeMonitor,
)


class Net(nd.Network):
    """Brette et al.'s COBA network (the benchmark model), with options."""

    def __init__(
        self,
        n=4000,
        conn="csr",
        delay=None,
        poisson=False,
        noise=False,
        stp=False,
        stdp=False,
        syn_delays=False,
    ):
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
            I_ext=(100 if poisson else 200) * u.pA,
            V_initializer=Normal(-55 * u.mV, 2 * u.mV),
            noise=(1.0 * u.mV / u.ms**0.5) if noise else None,
        )
        self.E, self.I = self.N[:n_e], self.N[n_e:]
        p = 80 / n

        def c(seed, n_pre, w):
            rule = event.FixedProb(p, seed=seed)
            if conn == "jit":
                return {"conn": rule.jit(n_pre, n, weight=w)}
            return {"conn": rule, "weight": w}

        exc = c(1, n_e, 6 * u.nS)
        if stdp:  # per-synapse weights, all 6 nS at first, changed by pair STDP
            per = lambda rng, k: np.full(k, 6.0, np.float32) * u.nS  # noqa: E731
            exc = {"conn": event.FixedProb(p, seed=1).build(n_e, n, weight=per)}
        exc_delay = delay
        if syn_delays:  # one delay per synapse, 1.0 to 3.0 ms on the 0.1 ms grid
            exc = {"conn": event.FixedProb(p, seed=1).build(n_e, n, weight=6 * u.nS)}
            steps = np.random.default_rng(3).integers(10, 31, exc["conn"].nnz)
            exc_delay = steps * 0.1 * u.ms
        self.exc = Projection(
            self.E,
            self.N,
            **exc,
            synapse=Expon(5 * u.ms),
            output=COBA(E=0 * u.mV),
            delay=exc_delay,
            stp=STP(U=0.2, tau_d=200 * u.ms, tau_f=600 * u.ms) if stp else None,
            stdp=STDP(w_max=12 * u.nS) if stdp else None,
        )
        self.inh = Projection(
            self.I,
            self.N,
            **c(2, n - n_e, 67 * u.nS),
            synapse=Expon(10 * u.ms),
            output=COBA(E=-80 * u.mV),
            delay=delay,
        )
        if poisson:
            self.ext = PoissonInput(self.N, "V", 100, 5 * u.Hz, 0.5 * u.mV)


class Mixed(nd.Network):
    """Separate E and I populations with per-neuron parameters, a PoissonGroup source, a
    0.5 ms delay, and a NeuronGroup from equation strings driven through a view."""

    def __init__(self):
        n = 800
        rng = np.random.default_rng(0)
        self.N = LIF(
            n,
            name="N",
            tau=rng.uniform(10, 30, n) * u.ms,
            V_th=rng.uniform(-52, -48, n) * u.mV,
            R=100 * u.Mohm,
            V_rest=-60 * u.mV,
            V_reset=-60 * u.mV,
            tau_ref=rng.uniform(1, 3, n) * u.ms,
            I_ext=rng.uniform(150, 250, n) * u.pA,
            V_initializer=Normal(-55 * u.mV, 2 * u.mV),
        )
        self.I = LIF(200, name="I", R=100 * u.Mohm, V_rest=-60 * u.mV, V_reset=-60 * u.mV)
        self.P = PoissonGroup(400, 20 * u.Hz)
        self.G = nd.dyn.NeuronGroup(
            400,
            "dv/dt = (-v + I)/tau : volt (unless refractory)\nI : volt\ntau : second",
            threshold="v > 20*mV",
            reset="v = 10*mV",
            refractory=2 * u.ms,
            method="exact",
        )
        self.G.I = np.linspace(15, 30, 400) * u.mV
        self.G.tau = 20 * u.ms

        def proj(pre, post, p, seed, w, tau, e, **kw):
            rule = event.FixedProb(p, seed=seed)
            syn, out = Expon(tau * u.ms), COBA(E=e * u.mV)
            return Projection(pre, post, rule, weight=w * u.nS, synapse=syn, output=out, **kw)

        self.ee = proj(self.N, self.N, 0.05, 1, 2, 5, 0)
        self.ei = proj(self.N, self.I, 0.1, 2, 3, 5, 0, delay=0.5 * u.ms)
        self.ie = proj(self.I, self.N, 0.1, 3, 10, 10, -80)
        self.pe = proj(self.P, self.N, 0.05, 4, 2, 5, 0)
        self.ng = Projection(
            self.N[:400],
            self.G,
            event.FixedProb(0.05, seed=5),
            weight=0.5 * u.mV,
            output=nd.dyn.VoltageJump(target="v"),
            delay=1 * u.ms,
        )


def mixed(devices, t_ms):
    nd.random.seed(3)
    net = Mixed()
    mesh = (
        None
        if devices is None
        else jax.make_mesh((devices,), ("neurons",), devices=jax.devices()[:devices])
    )
    mons = {"n": SpikeMonitor(net.N.spike), "g": SpikeMonitor(net.G.spike)}
    res = nd.run(net, t_ms * u.ms, dt=0.1 * u.ms, monitors=mons, mesh=mesh)
    return {k: digest(*res.spikes(k)) for k in mons} | {"spikes": len(res.spikes("n")[0])}


def digest(t, i) -> str:
    h = hashlib.sha256()
    h.update(np.asarray(t.to_value(u.ms)).round(6).tobytes())
    h.update(np.asarray(i, np.int64).tobytes())
    return h.hexdigest()[:16]


def one(kwargs, devices, t_ms):
    nd.random.seed(7)
    net = Net(**kwargs)
    mesh = (
        None
        if devices is None
        else jax.make_mesh((devices,), ("neurons",), devices=jax.devices()[:devices])
    )
    mons = {
        "s": SpikeMonitor(net.N.spike),
        "v": Monitor(net.N.V, every=100 * u.ms, index=slice(0, 8)),
    }
    res = nd.run(net, t_ms * u.ms, dt=0.1 * u.ms, monitors=mons, mesh=mesh)
    t, i = res.spikes("s")
    out = {
        "spikes": len(t),
        "digest": digest(t, i),
        "v": np.asarray(res["v"].mantissa)[-1].tolist(),
    }
    if net.exc.stdp is not None:  # the learned weights too
        w = np.asarray(u.get_mantissa(net.exc.stdp.weights.value))
        out["weights"] = [hashlib.sha256(w.tobytes()).hexdigest()[:16], float(w.mean())]
    if devices is not None:
        # the collectives of the compiled program (one spike exchange per min-delay block)
        (compiled,) = net.__dict__["_nd_compiled"].values()
        lowered = compiled.run_chunks.lower(np.int32(0), np.zeros((1, 1), np.int32))
        text = lowered.compile().as_text()
        ops = ("all-gather", "all-reduce", "all-to-all", "collective-permute", "reduce-scatter")
        out["collectives"] = {op: text.count(f" {op}(") for op in ops}
        out["block_steps"] = getattr(compiled.plan, "L", None)  # (one device: no plan)
    return out


def main():
    t_ms = float(sys.argv[1])
    wanted = sys.argv[2].split(",") if len(sys.argv) > 2 else None
    # (network options, simulated time, also run without a mesh): the networks over
    # the full time; two more schedules (STP with 1.5 ms delays, per-synapse delays) over
    # 40% of it
    cases = {
        "csr": ({}, t_ms, True),
        "jit": ({"conn": "jit"}, t_ms, True),
        "poisson_noise": ({"poisson": True, "noise": True}, t_ms, False),
        "stdp": ({"stdp": True, "delay": 1 * u.ms}, t_ms, True),
        "delay_stp": ({"delay": 1.5 * u.ms, "stp": True}, t_ms * 0.4, True),
        "synapse_delays": ({"syn_delays": True, "delay": 1 * u.ms}, t_ms * 0.4, True),
    }
    report = {}
    for name, (kw, t, unsplit) in cases.items():
        if wanted is not None and name not in wanted:
            continue
        counts = (
            *((None,) if unsplit else ()),
            *(d for d in (1, 2, 4, 8) if d <= jax.device_count()),
        )
        report[name] = {str(d): one(kw, d, round(t, 1)) for d in counts}
    if wanted is None or "mixed" in wanted:
        counts = (1, *(d for d in (2, 4, 8) if d <= jax.device_count()))
        report["mixed"] = {str(d): mixed(d, round(t_ms * 0.2, 1)) for d in counts}
    print("RESULT " + json.dumps(report))


if __name__ == "__main__":
    main()
