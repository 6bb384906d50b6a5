"""Export of neurodyn networks to NIR: LIF, IF and LI populations, Projections
``Linear`` nodes (with ``Delay`` nodes), ``ArrayInput`` groups ``Input`` nodes. See
:func:`neurodyn.io.nir.save`.

A population's NIR node depends on its model and on the synapse of the Projections that
drive it (all of one kind):

==========================  ========================  ==========================
population                  ``Expon`` synapse         ``Delta`` synapse
==========================  ========================  ==========================
:class:`~neurodyn.dyn.LIF`  ``CubaLIF``               ``LIF``
:class:`~neurodyn.dyn.IF`   (refused: NIR has no      ``IF`` (``r = dt / C``)
                            current-based IF)
:class:`~neurodyn.dyn.LI`   ``CubaLI``                ``LI``
==========================  ========================  ==========================
"""

from __future__ import annotations

import warnings

import numpy as np

import neurodyn.units as u
from neurodyn.dyn import (
    CUBA,
    IF,
    LI,
    LIF,
    ArrayInput,
    Delta,
    Expon,
    Network,
    Projection,
    SynapseDelays,
)
from neurodyn.dyn._base import Dynamics, PopulationView
from neurodyn.dyn._delay import delay_steps

from ._nir_graph import _order

__all__ = ["network_to_nir", "UNITS"]

#: the units of the numbers in an exported graph (NIR has none but seconds)
UNITS = {"time": "s", "v": "mV", "r": "Mohm", "current": "nA"}

#: the population models that have a NIR node
MODELS = (LIF, IF, LI)

_WHAT = (
    "NIR export supports LIF, IF and LI populations (nd.dyn.LIF, nd.dyn.IF, nd.dyn.LI), "
    "ArrayInput inputs and Projections with a CUBA output and an Expon synapse (NIR's "
    "CubaLIF, CubaLI) or a Delta synapse (NIR's LIF, IF, LI)"
)


def _per_neuron(q, unit, n: int) -> np.ndarray:
    if callable(q) and not isinstance(q, u.Quantity):
        raise ValueError(
            "nir.save: a parameter is a function of time; NIR holds constant parameters."
        )
    arr = np.asarray(q.to_value(unit) if isinstance(q, u.Quantity) else q, float)
    return np.broadcast_to(arr, (n,)).astype(np.float32)


def _check_population(path: str, pop) -> None:
    if type(pop) not in MODELS:
        raise TypeError(
            f"nir.save: {path} is a {type(pop).__name__}; {_WHAT}. A model NIR cannot express "
            "has no NIR node."
        )
    if len(pop.varshape) != 1:
        raise ValueError(f"nir.save: {path} has shape {pop.varshape}; export 1-D populations.")
    kind = type(pop).__name__
    for opt, what in (("tau_ref", "refractoriness"), ("noise", "noise")):
        if getattr(pop, opt) is not None:
            raise ValueError(
                f"nir.save: {path} has {opt}= ({what}), which NIR's {kind} does not have. Build "
                f"the population without {opt} to export it."
            )
    if type(pop) is IF:
        i_ext = _per_neuron(pop.I_ext, u.pA, pop.num)
        if np.any(i_ext != 0):
            raise ValueError(
                f"nir.save: {path} is an IF with I_ext = {float(i_ext[np.argmax(i_ext != 0)]):g} "
                "pA; NIR's IF (dv/dt = R I) has no bias current. Drive the population through "
                "an ArrayInput, or use a LIF (its I_ext becomes v_leak)."
            )
    if pop.adaptation is not None:
        raise ValueError(f"nir.save: {path} has an adaptation current, which NIR cannot express.")
    if np.shape(u.get_mantissa(pop.V.value)) != pop.varshape:
        raise ValueError(
            f"nir.save: {path} is batched ({np.shape(u.get_mantissa(pop.V.value))}); export a "
            "network whose States are unbatched (net.init_state())."
        )


def _check_projection(path: str, proj) -> None:
    if type(proj.output) is not CUBA:
        raise ValueError(
            f"nir.save: projection {path} has a {type(proj.output).__name__} output; NIR's "
            "CubaLIF is current-based: use output=CUBA() (weights in pA)."
        )
    if type(proj.synapse) not in (Expon, Delta):
        raise ValueError(
            f"nir.save: projection {path} has a {type(proj.synapse).__name__} synapse; NIR's "
            "CubaLIF has an exponential synaptic current (synapse=Expon(tau)) and its LIF a "
            "current for one step (synapse=Delta())."
        )
    if proj.stp is not None or proj.stdp is not None:
        raise ValueError(f"nir.save: projection {path} has plasticity (STP/STDP), not in NIR.")


def _weights_by_delay(path: str, proj, dt) -> list[tuple[int, np.ndarray]]:
    """``[(delay in steps, dense (n_pre, n_post) weights in nA)]``."""
    conn = proj._conn()
    if isinstance(proj.delays, SynapseDelays):
        steps = delay_steps(proj.delays.delay, dt, f"projection {path}")
        data = u.get_mantissa(conn.data)
        unit = conn.data.unit if isinstance(conn.data, u.Quantity) else u.pA
        w = np.broadcast_to(np.asarray(data, float), (conn.nnz,)) * float(
            u.Quantity(1.0, unit).to_value(u.nA)
        )
        indptr, cols = np.asarray(conn.indptr), np.asarray(conn.indices)
        rows = np.repeat(np.arange(conn.n_pre), np.diff(indptr))
        out = []
        for d in np.unique(steps):
            sel = steps == d
            dense = np.zeros(conn.shape)
            np.add.at(dense, (rows[sel], cols[sel]), w[sel])
            out.append((int(d), dense))
        return out
    d = 0 if proj.delays is None else int(delay_steps(proj.delays.delay, dt, f"projection {path}"))
    dense = conn.todense()
    return [(d, np.asarray(u.Quantity(dense).to_value(u.nA), float))]


def network_to_nir(net, dt, outputs, nir):
    """The NIR graph of the neurodyn network ``net`` for the step ``dt``."""
    dt_s = float(dt.to_value(u.second))
    mods = net.modules()
    projections = {p: m for p, m in mods.items() if isinstance(m, Projection)}
    inside = tuple(p + "." for p in projections)
    pops, inputs = {}, {}
    for path, m in mods.items():
        if not path or path.startswith(inside) or isinstance(m, Projection | PopulationView):
            continue
        if isinstance(m, ArrayInput):
            inputs[path] = m
        elif isinstance(m, LIF) or hasattr(m, "integrate_and_fire"):
            _check_population(path, m)
            pops[path] = m
        elif isinstance(m, Dynamics) and not isinstance(m, Network):
            raise TypeError(f"nir.save: {path} is a {type(m).__name__}; {_WHAT}.")
    if not pops:
        raise ValueError(f"nir.save: the network has no LIF, IF or LI population; {_WHAT}.")
    if not inputs:
        raise ValueError(
            "nir.save: the network has no ArrayInput; a NIR graph is driven through its Input "
            "nodes: feed the network from nd.dyn.ArrayInput groups."
        )
    name_of = {id(m): p for p, m in [*pops.items(), *inputs.items()]}

    def source(pre, path):
        base = pre.parent if isinstance(pre, PopulationView) else pre
        if id(base) not in name_of:
            raise ValueError(
                f"nir.save: projection {path} comes from {getattr(pre, 'name', pre)!r}, which is "
                f"not an exported population or ArrayInput of the network."
            )
        rows = pre.index if isinstance(pre, PopulationView) else slice(None)
        return name_of[id(base)], base.num, rows

    # chains: one per (projection, delay group): (pre node, delay steps, weights, post node)
    chains, taus, g0 = [], {p: [] for p in pops}, {p: 0.0 for p in pops}
    for path, proj in projections.items():
        _check_projection(path, proj)
        pre_name, n_pre, rows = source(proj.pre, path)
        post_name = name_of.get(id(proj.post))
        if post_name not in pops:
            raise ValueError(f"nir.save: projection {path} targets a population not exported.")
        groups = _weights_by_delay(path, proj, dt)
        for k, (d, w) in enumerate(groups):
            full = np.zeros((n_pre, w.shape[1]))
            full[rows] = w
            lin = path if len(groups) == 1 else f"{path}.{k}"
            # a Delta synapse's current acts in the step after the spike; NIR's LIF adds
            # its input in the same step: one more step of delay
            lag = int(type(proj.synapse) is Delta)
            chains.append({"pre": pre_name, "post": post_name, "d": d + lag, "w": full, "lin": lin})
        if type(proj.synapse) is Delta:
            taus[post_name].append((path, None))
            continue
        taus[post_name].append((path, _per_neuron(proj.synapse.tau, u.second, pops[post_name].num)))
        g0[post_name] = g0[post_name] + _per_neuron(proj.synapse.g.value, u.nA, proj.post.num)

    sources = {c["pre"] for c in chains}
    if outputs is None:
        outputs = [p for p in pops if not any(c["pre"] == p and c["post"] != p for c in chains)]
        outputs = outputs or list(pops)
    bad = [o for o in outputs if o not in pops]
    if bad:
        raise ValueError(
            f"nir.save: outputs {bad} are not exported populations; they are {list(pops)}."
        )

    def build(delays):
        nodes, edges = {}, []
        for name, inp in inputs.items():
            nodes[name] = nir.Input(input_type=np.array([inp.num]))
        for c, d in zip(chains, delays):
            pre = c["pre"]
            if d > 0:
                dname = c["lin"] + ".delay"
                nodes[dname] = nir.Delay(delay=np.full(c["w"].shape[0], d * dt_s, np.float32))
                edges.append((pre, dname))
                pre = dname
            nodes[c["lin"]] = nir.Linear(weight=c["w"].T.astype(np.float32))
            edges += [(pre, c["lin"]), (c["lin"], c["post"])]
        for o in outputs:
            out = "output" if len(outputs) == 1 else f"output.{o}"
            nodes[out] = nir.Output(output_type=np.array([pops[o].num]))
            edges.append((o, out))
        return nodes, edges

    def recurrent_chains(nodes, edges):
        _, back = _order([*nodes, *pops], edges, list(inputs))
        hit = set()
        for a, b in back:
            for i, c in enumerate(chains):
                if b == c["lin"] or a == c["lin"] or b == c["lin"] + ".delay":
                    hit.add(i)
        return hit

    delays = [c["d"] for c in chains]
    nodes, edges = build(delays)
    loop = recurrent_chains(nodes, edges)
    for i in loop:
        c = chains[i]
        if c["d"] < 1:
            raise ValueError(
                f"nir.save: projection {c['lin']} ({c['pre']} -> {c['post']}) closes a cycle "
                "with no delay. In NIR a recurrent edge carries the previous step's output, one "
                "step later than neurodyn delivers a spike; give the projection a delay of at "
                "least dt (it is exported as delay - dt plus the step of the recurrent edge)."
            )
        delays[i] = c["d"] - 1
    nodes, edges = build(delays)
    if recurrent_chains(nodes, edges) != loop:  # pragma: no cover - internal consistency
        raise RuntimeError("nir.save: the recurrent edges changed when the delays were set.")

    methods = set()
    for path, pop in pops.items():
        if not taus[path]:
            raise ValueError(
                f"nir.save: population {path} receives no projection; every population of a "
                "NIR graph is driven from the Input nodes through Projections."
            )
        kinds = {("Delta" if t is None else "Expon"): p for p, t in taus[path]}
        if len(kinds) > 1:
            raise ValueError(
                f"nir.save: population {path} receives an Expon synapse ({kinds['Expon']}) and "
                f"a Delta synapse ({kinds['Delta']}); a NIR neuron has one kind of input "
                "(CubaLIF, CubaLI: an exponential current; LIF, IF, LI: the current of one step)."
            )
        if type(pop) is not IF:  # the IF's dV/dt is constant over a step: every method is exact
            methods.add(getattr(pop.method, "name", "?"))
        nodes[path] = _neuron_node(path, pop, taus[path], g0[path], dt_s, nir)
    unused = sorted(set(inputs) - sources)
    if unused:
        raise ValueError(f"nir.save: the ArrayInput(s) {unused} project nowhere.")
    odd = sorted(methods - {"exp_euler", "euler"})
    if odd:
        warnings.warn(
            f"nir.save: populations integrated with {odd}; the graph holds the continuous-time "
            "model, which load(method='exact') integrates like method='exp_euler'.",
            stacklevel=3,
        )
    method = "euler" if methods == {"euler"} else "exact"
    meta = {"neurodyn": {"dt": dt_s, "method": method, "reset": "zero", **UNITS}}
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta, type_check=False)


def _neuron_node(path, pop, taus, g0, dt_s, nir):
    """The NIR node of the population ``pop`` (see the table of the module docstring);
    ``taus``: ``[(projection path, tau_syn in s or None for a Delta synapse)]``."""
    n = pop.num
    model = type(pop).__name__
    expon = taus[0][1] is not None
    meta = {"model": model, "v_initial": _per_neuron(pop.V.value, u.mV, n)}
    if model == "IF":
        if expon:
            raise ValueError(
                f"nir.save: IF population {path} is driven through an Expon synapse "
                f"({taus[0][0]}); NIR has no current-based IF (its CubaLIF leaks). Use "
                "synapse=Delta() (NIR's IF) or a LIF population (NIR's CubaLIF)."
            )
        # NIR platforms add r x once per step (v[k+1] = v[k] + r x[k]); neurodyn adds
        # dt I / C for the current I held over the step: r = dt / C (mV per nA)
        c_pf = _per_neuron(pop.C, u.pF, n).astype(float)
        r = (dt_s * 1e3 / c_pf * 1e3).astype(np.float32)  # ms / pF = mV / pA
        meta.update({"V_rest": _per_neuron(pop.V_rest, u.mV, n), "C": c_pf.astype(np.float32)})
        return nir.IF(
            r=r,
            v_threshold=_per_neuron(pop.V_th, u.mV, n),
            v_reset=_per_neuron(pop.V_reset, u.mV, n),
            metadata={"neurodyn": meta},
        )
    r = _per_neuron(pop.R, u.Mohm, n)
    v_rest = _per_neuron(pop.V_rest, u.mV, n)
    i_ext = _per_neuron(pop.I_ext, u.nA, n)
    v_leak = (v_rest.astype(float) + r.astype(float) * i_ext).astype(np.float32)
    meta.update({"V_rest": v_rest, "I_ext": i_ext})
    spiking = model == "LIF"
    fire = (
        {
            "v_threshold": _per_neuron(pop.V_th, u.mV, n),
            "v_reset": _per_neuron(pop.V_reset, u.mV, n),
        }
        if spiking
        else {}
    )
    tau = _per_neuron(pop.tau, u.second, n)
    if not expon:
        cls = nir.LIF if spiking else nir.LI
        return cls(tau=tau, r=r, v_leak=v_leak, **fire, metadata={"neurodyn": meta})
    tau_s = taus[0][1]
    for proj_path, t in taus[1:]:
        if not np.allclose(t, tau_s, rtol=1e-6):
            raise ValueError(
                f"nir.save: population {path} receives Expon synapses with different time "
                f"constants ({taus[0][0]}: {tau_s[0] * 1e3:g} ms, {proj_path}: "
                f"{t[0] * 1e3:g} ms); NIR's Cuba{model} has one synaptic current per neuron."
            )
    # a spike of weight w adds w to I, as neurodyn's Expon synapse does (for this dt)
    w_in = 1.0 / -np.expm1(-dt_s / tau_s.astype(float))
    cls = nir.CubaLIF if spiking else nir.CubaLI
    meta["i_initial"] = np.asarray(g0, np.float32)
    return cls(
        tau_syn=tau_s,
        tau_mem=tau,
        r=r,
        v_leak=v_leak,
        **fire,
        w_in=w_in.astype(np.float32),
        metadata={"neurodyn": meta},
    )
