"""Brian2 2.9's reading of equation strings, and LIF spike steps from strings, used by
tests/dyn/test_equations_brian2.py.

Run with the Brian2 environment, from the repository root:
``benchmarks/.envs/brian2/bin/python tests/reference/generate_brian2_equations.py
[extras]`` (``extras``: only the last file below).
Writes ``tests/reference/brian2_equations.json`` (~60 kB):

- ``equations``: for each of the strings in ``EQUATIONS`` (COBA, CUBA, HH, AdEx,
  Izhikevich, STDP, STP, NMDA, noise, subexpressions, flags, ...): Brian2's names of each
  kind, and for each variable its kind, dimension (SI exponents m, kg, s, A, K, mol, cd),
  type (float / integer / boolean) and flags; the stochastic variables; and the
  external identifiers of the expressions.
- ``invalid``: strings Brian2 refuses when parsing, with the exception type.
- ``lif``: a LIF from strings, ``dv/dt = (I - v)/tau : volt (unless refractory)``, 20
  neurons with constant drive I from 20.5 to 45 mV, tau 10 ms, threshold v > 20 mV,
  reset v = 0 mV, method exact, dt 0.1 ms, 1 s, numpy target, float64, in three
  refractory forms: a time (2 ms), a per-neuron parameter (``refractory="ref"``, 1.0 to
  5.9 ms, not all multiples of dt) and a condition (``refractory="x > 0.5"`` with ``dx/dt =
  -x/(3*ms)``, x = 1 at the reset): the spike step indices and neuron indices.

It also writes ``tests/reference/brian2_equations_stdp.npz`` (~50 kB): Brian2's STDP
example (Song, Miller & Abbott 2000) as written in its documentation, with the
``PoissonGroup`` replaced by fixed Poisson spike trains (a SpikeGeneratorGroup) so that
the same trains can be given to neurodyn: 200 inputs at 15 Hz for 4 s onto one
conductance-based LIF (method euler), ``gmax = 0.05`` (five times the example's, for the
fifth of its inputs), initial weights uniform in [0, gmax]; the input spikes (step,
neuron), the initial and final weights, the postsynaptic spike steps.

And ``tests/reference/brian2_equations_extras.json`` (~1 kB): small cases of the
features added later, each a few numbers: ``order`` (every ``on_pre`` pathway runs
before any ``on_post``, see :func:`order_run`), ``run_regularly`` (:func:`regularly_run`),
``linked`` variables (:func:`linked_run`).
"""

from __future__ import annotations

import json
import os

import brian2 as b2
import numpy as np

N_LIF = 20
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "brian2_equations.json")
OUT_STDP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "brian2_equations_stdp.npz")

# Brian2's STDP example (docs: examples/synapses.STDP.py), as text
STDP = {
    "neurons": """
        dv/dt = (ge * (Ee-v) + El - v) / taum : volt
        dge/dt = -ge / taue : 1
    """,
    "synapses": """
        w : 1
        dApre/dt = -Apre / taupre : 1 (event-driven)
        dApost/dt = -Apost / taupost : 1 (event-driven)
    """,
    "on_pre": """
        ge += w
        Apre += dApre
        w = clip(w + Apost, 0, gmax)
    """,
    "on_post": """
        Apost += dApost
        w = clip(w + Apre, 0, gmax)
    """,
}
STDP_N, STDP_RATE_HZ, STDP_T_MS, STDP_SEED = 200, 15.0, 4000.0, 5


def stdp_namespace(ms, mV, gmax=0.05):
    taupre = taupost = 20 * ms
    d_apre = 0.01
    d_apost = -d_apre * taupre / taupost * 1.05
    return {
        "taum": 10 * ms,
        "taupre": taupre,
        "taupost": taupost,
        "Ee": 0 * mV,
        "vt": -54 * mV,
        "vr": -60 * mV,
        "El": -74 * mV,
        "taue": 5 * ms,
        "gmax": gmax,
        "dApre": d_apre * gmax,
        "dApost": d_apost * gmax,
    }


def stdp_run():
    b2.start_scope()
    b2.prefs.codegen.target = "numpy"
    b2.defaultclock.dt = 0.1 * b2.ms
    rng = np.random.default_rng(STDP_SEED)
    n_steps = int(round(STDP_T_MS / 0.1))
    steps, idx = np.nonzero(rng.random((n_steps - 1, STDP_N)) < STDP_RATE_HZ * 1e-4)
    w0 = rng.uniform(0.0, 0.05, STDP_N)
    ns = stdp_namespace(b2.ms, b2.mV)
    inp = b2.SpikeGeneratorGroup(STDP_N, idx, steps * 0.1 * b2.ms)
    neurons = b2.NeuronGroup(
        1, STDP["neurons"], threshold="v>vt", reset="v = vr", method="euler", namespace=ns
    )
    neurons.v = ns["vr"]
    S = b2.Synapses(
        inp,
        neurons,
        STDP["synapses"],
        on_pre=STDP["on_pre"],
        on_post=STDP["on_post"],
        namespace=ns,
    )
    S.connect()
    S.w = w0
    mon = b2.SpikeMonitor(neurons)
    b2.run(STDP_T_MS * b2.ms)
    post_steps = np.round(np.asarray(mon.t / b2.ms) / 0.1).astype(np.int32)
    np.savez_compressed(
        OUT_STDP,
        in_step=steps.astype(np.int32),
        in_index=idx.astype(np.int16),
        w0=w0,
        w=np.asarray(S.w),
        post_step=post_steps,
        n=STDP_N,
        t_ms=STDP_T_MS,
        brian2=b2.__version__,
    )
    return len(steps), len(post_steps)


OUT_EXTRAS = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "brian2_equations_extras.json"
)


def order_run():
    """Brian2 runs every ``on_pre`` pathway of the network before any ``on_post`` one
    (slot "synapses", order -1 / +1), whatever the order in which the Synapses were
    made. ``x`` of one neuron is doubled by the ``on_post`` of a first Synapses (its
    postsynaptic side a spike generator Q, at 2 and 3.5 ms) and incremented by the
    ``on_pre`` of a second (a spike generator P at 1, 2 and 3 ms): at 2 ms both act, and
    Brian2 gives (x + 1) * 2. Returns x after each ms of 5."""
    b2.start_scope()
    b2.prefs.codegen.target = "numpy"
    b2.defaultclock.dt = 0.1 * b2.ms
    P = b2.SpikeGeneratorGroup(1, [0, 0, 0], [1.0, 2.0, 3.0] * b2.ms)
    Q = b2.SpikeGeneratorGroup(1, [0, 0], [2.0, 3.5] * b2.ms)
    N = b2.NeuronGroup(1, "x : 1", threshold="False")
    N.x = 1
    first = b2.Synapses(N, Q, on_post="x_pre *= 2")
    first.connect()
    second = b2.Synapses(P, N, on_pre="x_post += 1")
    second.connect()
    net = b2.Network(P, Q, N, first, second)
    xs = []
    for _ in range(5):
        net.run(1 * b2.ms)
        xs.append(float(N.x[0]))
    return {"P_ms": [1.0, 2.0, 3.0], "Q_ms": [2.0, 3.5], "x0": 1.0, "x_each_ms": xs}


def regularly_run():
    """``run_regularly`` every 2 ms (slot "start": before the state update) on a
    decaying v: ``v += k*mV``, k = 1, 2, 3; v after each ms of 10."""
    b2.start_scope()
    b2.prefs.codegen.target = "numpy"
    b2.defaultclock.dt = 0.1 * b2.ms
    G = b2.NeuronGroup(3, "dv/dt = -v / tau : volt\nk : 1", method="exact",
                       namespace={"tau": 10 * b2.ms})  # fmt: skip
    G.k = [1.0, 2.0, 3.0]
    G.run_regularly("v += k*mV", dt=2 * b2.ms)
    net = b2.Network(G)
    vs = []
    for _ in range(10):
        net.run(1 * b2.ms)
        vs.append(np.asarray(G.v / b2.mV).tolist())
    return {"tau_ms": 10.0, "k": [1.0, 2.0, 3.0], "every_ms": 2.0, "v_mV_each_ms": vs}


def linked_run():
    """``x : volt (linked)`` of 4 neurons linked to y of a group of 2 (index 0, 0, 1, 1);
    ``dv/dt = (x - v)/tau`` (exact); y is set to (10, 20) mV, then after 5 ms to (30, 5)
    mV: the link follows. v after each ms of 10."""
    b2.start_scope()
    b2.prefs.codegen.target = "numpy"
    b2.defaultclock.dt = 0.1 * b2.ms
    H = b2.NeuronGroup(2, "dy/dt = 0*volt/second : volt")
    H.y = [10.0, 20.0] * b2.mV
    G = b2.NeuronGroup(4, "dv/dt = (x - v) / tau : volt\nx : volt (linked)", method="exact",
                       namespace={"tau": 10 * b2.ms})  # fmt: skip
    G.x = b2.linked_var(H, "y", index=[0, 0, 1, 1])
    net = b2.Network(H, G)
    vs = []
    for k in range(10):
        if k == 5:
            H.y = [30.0, 5.0] * b2.mV
        net.run(1 * b2.ms)
        vs.append(np.asarray(G.v / b2.mV).tolist())
    return {
        "tau_ms": 10.0,
        "index": [0, 0, 1, 1],
        "y_mV": [[10.0, 20.0], [30.0, 5.0]],
        "v_mV_each_ms": vs,
    }


def extras_run():
    out = {"brian2": b2.__version__, "order": order_run()}
    out["run_regularly"] = regularly_run()
    out["linked"] = linked_run()
    with open(OUT_EXTRAS, "w") as f:
        json.dump(out, f, indent=1)
    print(f"wrote {OUT_EXTRAS}: {', '.join(k for k in out if k != 'brian2')}")


EQUATIONS = {
    "lif": """
        dv/dt = (v0 - v) / tau : volt (unless refractory)
        v0 : volt
        tau : second (constant)
    """,
    "coba_brian2_example": """
        dv/dt = (ge+gi-(v-El))/taum : volt (unless refractory)
        dge/dt = -ge/taue : volt
        dgi/dt = -gi/taui : volt
    """,
    "coba_brette": """
        dv/dt = (-60*mV - v + ge*(0*mV - v) + gi*(-80*mV - v) + 20*mV)/(20*ms)
                : volt (unless refractory)
        dge/dt = -ge/(5*ms) : 1
        dgi/dt = -gi/(10*ms) : 1
    """,
    "coba_siemens": """
        dv/dt = (gl*(El - v) + ge*(Ee - v) + gi*(Ei - v) + I_ext)/Cm : volt (unless refractory)
        dge/dt = -ge/taue : siemens
        dgi/dt = -gi/taui : siemens
        I_ext : amp
    """,
    "cuba_vogels_abbott": """
        dv/dt  = (ge+gi-(v-(-49*mV)))/(20*ms) : volt (unless refractory)
        dge/dt = -ge/(5*ms) : volt
        dgi/dt = -gi/(10*ms) : volt
    """,
    "hh_traub": """
        dv/dt = (gl*(El-v) - g_na*(m*m*m)*h*(v-ENa) - g_kd*(n*n*n*n)*(v-EK) + I)/Cm : volt
        dm/dt = 0.32*(mV**-1)*4*mV/exprel((13.*mV-v+VT)/(4*mV))/ms*(1-m)
                -0.28*(mV**-1)*5*mV/exprel((v-VT-40.*mV)/(5*mV))/ms*m : 1
        dn/dt = 0.032*(mV**-1)*5*mV/exprel((15.*mV-v+VT)/(5*mV))/ms*(1.-n)
                -.5*exp((10.*mV-v+VT)/(40.*mV))/ms*n : 1
        dh/dt = 0.128*exp((17.*mV-v+VT)/(18.*mV))/ms*(1.-h)
                -4./(1+exp((40.*mV-v+VT)/(5.*mV)))/ms*h : 1
        I : amp
    """,
    "hh_density": """
        dv/dt = (gl * (El - v) - gNa * m**3 * h * (v - ENa) - gK * n**4 * (v - EK) + I) / Cm
                : volt
        dm/dt = alpham * (1 - m) - betam * m : 1
        dn/dt = alphan * (1 - n) - betan * n : 1
        dh/dt = alphah * (1 - h) - betah * h : 1
        alpham = 0.1/mV * 10*mV / exprel(-(v + 40*mV) / (10*mV)) / ms : hertz
        betam = 4 * exp(-(v + 65*mV) / (18*mV)) / ms : hertz
        alphah = 0.07 * exp(-(v + 65*mV) / (20*mV)) / ms : hertz
        betah = 1 / (exp(-(v + 35*mV) / (10*mV)) + 1) / ms : hertz
        alphan = 0.01/mV * 10*mV / exprel(-(v + 55*mV) / (10*mV)) / ms : hertz
        betan = 0.125 * exp(-(v + 65*mV) / (80*mV)) / ms : hertz
        I : amp/meter**2
        gNa : siemens/meter**2 (constant)
        gK : siemens/meter**2 (constant)
        gl : siemens/meter**2 (constant)
        Cm : farad/meter**2 (shared)
    """,
    "adex": """
        dvm/dt = (gL*(EL - vm) + gL*DeltaT*exp((vm - VT)/DeltaT) + I - w)/C : volt
        dw/dt = (a*(vm - EL) - w)/tau_w : amp
        I : amp
    """,
    "izhikevich": """
        dv/dt = (0.04/mV*v**2 + 5*v + 140*mV - u + I)/ms : volt
        du/dt = a*(b*v - u)/ms : volt
        a : 1
        b : 1
        I : volt
    """,
    "stdp_synapse": """
        w : 1
        dapre/dt = -apre/taupre : 1 (event-driven)
        dapost/dt = -apost/taupost : 1 (event-driven)
    """,
    "stp_synapse": """
        du_s/dt = (U - u_s)/tau_f : 1 (event-driven)
        dx_s/dt = (1 - x_s)/tau_d : 1 (event-driven)
        w : volt (constant)
        U : 1 (shared)
    """,
    "nmda_summed": """
        ds_nmda/dt = -s_nmda/tau_d + alpha*x*(1 - s_nmda) : 1 (clock-driven)
        dx/dt = -x/tau_r : 1 (clock-driven)
        I_nmda_post = w*s_nmda*(E - v_post)/(1 + exp(-0.062*v_post/mV)/3.57) : amp (summed)
        w : siemens
    """,
    "summed_current": """
        dg/dt = -g/tau : siemens (clock-driven)
        I_syn_post = g*(E_syn - v_post) : amp (summed)
    """,
    "ou_noise": """
        dv/dt = -v/tau + sigma*sqrt(2/tau)*xi : volt
    """,
    "two_noises": """
        dx/dt = -x/tau + s*xi_1*tau**-0.5 : 1
        dy/dt = -y/tau + s*xi_2*tau**-0.5 + x/tau : 1
    """,
    "brunel": """
        dv/dt = (-v + mu + sigma*sqrt(tau)*xi)/tau : volt (unless refractory)
        mu : volt
        sigma : volt
    """,
    "multiplicative_noise": """
        dx/dt = -x/tau + 0.3*x*xi/sqrt(second) : 1
    """,
    "alpha_synapse": """
        dg/dt = (-g + h)/tau : siemens
        dh/dt = -h/tau : siemens
    """,
    "subexpression_chain": """
        dv/dt = (gl*(El - v) + I_syn)/C : volt (unless refractory)
        I_syn = I_e + I_i : amp
        I_e = ge*(Ee - v) : amp
        I_i = gi*(Ei - v) : amp
        dge/dt = -ge/taue : siemens
        dgi/dt = -gi/taui : siemens
    """,
    "flags_and_types": """
        dx/dt = -x/tau : 1
        tau : second (constant)
        El : volt (shared)
        flag : boolean
        count : integer
        k : 1 (constant, shared)
    """,
    "wilson_cowan": """
        dE/dt = (-E + 1/(1 + exp(-(wEE*E - wEI*I + P - theta)/a)))/tau_E : 1
        dI/dt = (-I + 1/(1 + exp(-(wIE*E - wII*I + Q - theta)/a)))/tau_I : 1
        P : 1
        Q : 1
    """,
    "multiline_comments": """
        # a comment line
        dv/dt = (El - v   # leak
                 + R*I    # drive
                )/tau : volt   # after the unit
        I : amp  # the input
    """,
    "fitzhugh_nagumo": """
        dv/dt = (v - v**3/3 - w + I)/tau_v : 1
        dw/dt = (v + a - b*w)/tau_w : 1
        I : 1
    """,
    "adaptive_threshold": """
        dv/dt = (El - v)/tau : volt (unless refractory)
        dvt/dt = (vt0 - vt)/tau_t : volt
        vt0 : volt
    """,
    "constant_over_dt": """
        dv/dt = (El - v + R*I_ext)/tau : volt
        I_ext = I0*sin(2*pi*freq*t) : amp (constant over dt)
    """,
    "time_dependent": """
        dv/dt = (v_in*sin(2*pi*freq*t) - v)/tau : volt
    """,
    "per_neuron_tau": """
        dge/dt = -ge/tau_e : siemens
        tau_e : second
        dv/dt = (El - v)/tau_m + ge*(Ee - v)/Cm : volt
        tau_m : second
    """,
    "qif": """
        dv/dt = (v**2/(10*mV) + I)/tau : volt
        I : volt
    """,
    "morris_lecar": """
        dv/dt = (I - gL*(v - VL) - gCa*m_inf*(v - VCa) - gK*w*(v - VK))/C : volt
        dw/dt = phi*(w_inf - w)/tau_w : 1
        m_inf = 0.5*(1 + tanh((v - V1)/V2)) : 1
        w_inf = 0.5*(1 + tanh((v - V3)/V4)) : 1
        tau_w = 1/cosh((v - V3)/(2*V4)) : 1
        I : amp
    """,
    "calcium_sk": """
        dCa/dt = -Ca/tau_Ca - alpha_Ca*I_Ca : mol/meter**3
        I_Ca = g_Ca*(v - E_Ca) : amp
        g_SK = g_SK_max*Ca**4/(Ca**4 + K_d**4) : siemens
        v : volt
    """,
    "clipped_functions": """
        dx/dt = (clip(y, 0, 1) - x)/tau + abs(z)/tau + floor(k)*Hz : 1
        y = sqrt(x**2 + 1) - 1 : 1
        z = sign(x - 0.5)*log(1 + x**2) : 1
        k : 1
    """,
    "conductance_density_units": """
        dv/dt = (gl*(El - v) - gNa*(v - ENa))/Cm : volt
        gl : siemens/meter**2
        gNa : siemens/meter**2
        Cm : farad/meter**2
        area : meter**2
        El : volt
    """,
    "exponential_synapse_current": """
        dI_s/dt = -I_s/tau_s : amp
        dv/dt = (El - v + R*I_s)/tau_m : volt (unless refractory)
        R : ohm
    """,
    "boolean_subexpression": """
        dv/dt = (El - v)/tau + int(active)*I/C : volt
        active = t > t_on : boolean
        I : amp
    """,
}

INVALID = {
    "syntax": "dv/dt = (1 - v/tau : 1",
    "unknown_flag": "dv/dt = -v/tau : volt (unless refactory)",
    "reserved_t": "t : second",
    "reserved_xi": "dxi/dt = -xi/tau : 1",
    "keyword": "lambda : 1",
    "duplicate": "x : 1\nx : volt",
    "bad_unit": "v : volts",
    "bool_unit": "b : bool",
    "underscore": "_x : 1",
    "flag_on_subexpression": "I = g*v : amp (unless refractory)",
}


def describe(eqs):
    out = {}
    for name, eq in eqs.items():
        out[name] = {
            "kind": eq.type,
            "dim": [float(x) for x in eq.dim._dims],
            "var_type": eq.var_type,
            "flags": list(eq.flags),
        }
    functions = set(b2.core.functions.DEFAULT_FUNCTIONS)
    return {
        "variables": out,
        "diff_eq_names": sorted(eqs.diff_eq_names),
        "subexpr_names": sorted(eqs.subexpr_names),
        "parameter_names": sorted(eqs.parameter_names),
        "stochastic_variables": sorted(eqs.stochastic_variables),
        "identifiers": sorted(set(eqs.identifiers) - functions),
    }


def lif_spikes(form):
    b2.start_scope()
    b2.prefs.codegen.target = "numpy"
    b2.defaultclock.dt = 0.1 * b2.ms
    n = N_LIF
    eqs = """
        dv/dt = (I - v)/tau : volt (unless refractory)
        I : volt
        ref : second
        dx/dt = -x/(3*ms) : 1
    """
    refractory = {"time": 2 * b2.ms, "name": "ref", "condition": "x > 0.5"}[form]
    G = b2.NeuronGroup(
        n,
        eqs,
        threshold="v > 20*mV",
        reset="v = 0*mV; x = 1",
        refractory=refractory,
        method="exact",
        namespace={"tau": 10 * b2.ms},
    )
    G.I = np.linspace(20.5, 45.0, n) * b2.mV
    G.ref = np.round(np.linspace(1.0, 5.9, n), 2) * b2.ms
    mon = b2.SpikeMonitor(G)
    b2.run(1 * b2.second)
    steps = np.round(np.asarray(mon.t / b2.ms) / 0.1).astype(int)
    return {"step": steps.tolist(), "index": np.asarray(mon.i).astype(int).tolist()}


def main() -> None:
    equations = {name: describe(b2.Equations(text)) for name, text in EQUATIONS.items()}
    invalid = {}
    for name, text in INVALID.items():
        try:
            b2.Equations(text)
            group = b2.NeuronGroup(1, text)  # flags are checked by the group
            invalid[name] = None
            del group
        except Exception as err:
            invalid[name] = type(err).__name__
    lif = {form: lif_spikes(form) for form in ("time", "name", "condition")}
    out = {
        "brian2": b2.__version__,
        "equations": equations,
        "texts": EQUATIONS,
        "invalid": {"texts": INVALID, "raises": invalid},
        "lif": {
            "n": N_LIF,
            "I_mV": np.linspace(20.5, 45.0, N_LIF).tolist(),
            "ref_ms": np.round(np.linspace(1.0, 5.9, N_LIF), 2).tolist(),
            "tau_ms": 10.0,
            "dt_ms": 0.1,
            "t_ms": 1000.0,
            "spikes": lif,
        },
    }
    out["stdp"] = STDP
    n_in, n_post = stdp_run()
    with open(OUT, "w") as f:
        json.dump(out, f, separators=(",", ":"))
    print(
        f"wrote {OUT}: {len(equations)} equation strings, "
        + ", ".join(f"{k} {len(v['step'])} spikes" for k, v in lif.items())
    )
    print(f"wrote {OUT_STDP}: {n_in} input spikes, {n_post} postsynaptic spikes")
    extras_run()


if __name__ == "__main__":
    import sys

    # ``extras``: only brian2_equations_extras.json (order of pathways, ...)
    extras_run() if sys.argv[1:] == ["extras"] else main()
