"""What an online rule keeps for a module: neuron groups, traces, their memory.

From the step's jaxpr (:mod:`._graph`) the plan finds

- the *neuron groups*: hidden leaves of one shape that feed each other element by
  element (a neuron with ``k`` variables is one element of ``k`` leaves); D-RTRL keeps
  the ``k x k`` Jacobian block of each neuron and drops the couplings through weights;
- for every trained parameter leaf, the groups it reaches *directly* (not through the
  activity operand of another weight) and how: ``indexed`` when each of its elements
  reaches one neuron (a weight ``W[i, j]`` reaches neuron ``j``; a per-neuron time
  constant): a trace shaped like the parameter (times ``k``); ``broadcast`` otherwise
  (a shared scalar): a trace per parameter element and neuron;
- ``readout`` parameters, which reach no hidden State: their gradient is exact;
- for ES-D-RTRL, the weights used by one dense product ``x @ W`` (presynaptic x).

Anything the rules cannot treat raises :class:`OnlineError` naming the State, the
parameter and the operation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np

from ._graph import D, Dep, O, W, analyze
from ._step import OnlineError, StepFunction

__all__ = ["Plan", "Group", "Trace", "EsWeight"]

#: largest trace (elements per sample) a ``broadcast`` parameter may need
BROADCAST_LIMIT = 1 << 24


@dataclass
class Group:
    leaves: list  # hidden leaf indices (floating point)
    shape: tuple  # the neuron shape (per sample)

    @property
    def k(self) -> int:
        return len(self.leaves)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))


@dataclass
class Trace:
    """The D-RTRL trace of parameter leaf ``leaf`` for neuron group ``group``."""

    leaf: int
    group: int
    mode: str  # "indexed" | "broadcast"
    map: tuple | None = None  # indexed: neuron axis -> parameter axis (None: length 1)


@dataclass
class EsWeight:
    """A weight treated by ES-D-RTRL: ``y = x @ W`` with ``W`` 2-D."""

    leaf: int
    group: int
    op: object  # the WeightOp
    contracted: int  # the axis of W summed with x
    n_pre: int


@dataclass
class Plan:
    step: StepFunction
    algorithm: str
    jaxpr: object = None
    n_c: int = 0
    n_x: int = 0
    groups: list = field(default_factory=list)
    traces: list = field(default_factory=list)
    readout: list = field(default_factory=list)  # theta leaves with exact gradient
    es: list = field(default_factory=list)
    cut: dict = field(default_factory=dict)  # op path -> activity operand index
    ops: list = field(default_factory=list)
    out_deps: list = field(default_factory=list)
    hidden_names: list = field(default_factory=list)
    theta_names: list = field(default_factory=list)

    # -- memory ------------------------------------------------------------------------
    def trace_elements(self) -> dict:
        """``{parameter leaf name: elements per sample}`` of the traces the rule keeps."""
        th = self.step.theta_leaves()
        out: dict = {}
        if self.algorithm == "rtrl":
            n_theta = sum(int(np.size(th[k])) for k in range(len(th)) if self.step.theta_diff[k])
            n_h = sum(int(np.prod(self.h_shape(k))) for k in self.diff_hidden())
            return {"sensitivity matrix": n_theta * n_h}
        es_leaves = {e.leaf: e for e in self.es}
        shared = self.es_shared() if self.es else {}
        counted = set()
        for tr in self.traces:
            g = self.groups[tr.group]
            name = self.theta_names[tr.leaf]
            if tr.leaf in es_leaves and es_leaves[tr.leaf].group == tr.group:
                e = es_leaves[tr.leaf]
                key = (shared.get(tr.leaf), tr.group)
                # xbar, and once per shared postsynaptic trace P (k variables) and the
                # pending dl/dy of the last step
                n = e.n_pre + (0 if key[0] is not None and key in counted else g.size * (g.k + 1))
                counted.add(key)
            elif tr.mode == "indexed":
                n = int(np.size(th[tr.leaf])) * g.k
            else:
                n = int(np.size(th[tr.leaf])) * g.size * g.k
            if self.algorithm == "eprop":
                n += n // g.k  # the filtered readout-input trace
            out[name] = out.get(name, 0) + n
        return out

    def trace_bytes(self, batch_size: int | None = None) -> int:
        """Memory of the traces in bytes: :meth:`trace_elements` summed, times the batch
        size (the step's unless ``batch_size`` is given) and the float item size."""
        b = self.step.batch_size if batch_size is None else batch_size
        item = jnp.dtype(jnp.result_type(float)).itemsize
        return int(sum(self.trace_elements().values()) * b * item)

    def report(self) -> str:
        """A human-readable summary: the neuron groups, each trace's size per sample, the
        readout parameters (exact gradients) and the total trace memory."""
        b = self.step.batch_size
        lines = [
            f"online {self.algorithm}: {len(self.groups)} neuron group(s) "
            + ", ".join(f"{g.size} neurons x {g.k} variables" for g in self.groups)
        ]
        for name, n in self.trace_elements().items():
            lines.append(f"  trace {name}: {n} values per sample")
        if self.readout:
            names = ", ".join(self.theta_names[k] for k in self.readout)
            lines.append(f"  exact (readout) gradients: {names}")
        lines.append(f"  total: {_fmt_bytes(self.trace_bytes())} for batch {b}")
        return "\n".join(lines)

    def es_shared(self) -> dict:
        """``{leaf: key}`` for the ES weights: equal keys when the weights' products are
        summed with nothing else in between (``x @ W_in + z @ W_rec``), so that their
        outputs have the same ``dh/dy`` and one postsynaptic trace serves both."""
        return _es_shared(self)

    # -- helpers -----------------------------------------------------------------------
    def diff_hidden(self) -> list:
        """Indices of the hidden leaves that are floating point (differentiable)."""
        return [k for k, d in enumerate(self.step.diff) if d]

    def h_shape(self, k) -> tuple:
        """Shape of hidden leaf ``k`` for one sample (the batch axis dropped when the
        step is batched)."""
        leaves = self.step.hidden_leaves()
        s = tuple(jnp.shape(leaves[k]))
        return s[1:] if self.step.batched else s


def _fmt_bytes(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"  # pragma: no cover


def _leaf_names(step: StepFunction):
    paths = {id(s): p for p, s in step.module.states().items()}
    h_names = []
    for s, sl in zip(step.hidden_states, step.hidden_leaf_slices):
        base = paths.get(id(s), s._describe())
        n = sl.stop - sl.start
        h_names += [base if n == 1 else f"{base}[{i}]" for i in range(n)]
    t_names = []
    for name, sl in zip(step.param_names, step.param_leaf_slices):
        n = sl.stop - sl.start
        t_names += [name if n == 1 else f"{name}[{i}]" for i in range(n)]
    return h_names, t_names


def build_plan(step: StepFunction, x_sample: list, algorithm: str) -> Plan:
    """Analyse the step of ``step`` for ``algorithm`` (``rtrl`` needs no structure)."""
    closed = step.jaxpr(x_sample)
    plan = Plan(step, algorithm, closed)
    plan.hidden_names, plan.theta_names = _leaf_names(step)
    n_th, n_h = step.n_theta, step.n_h
    n_c = len(jax.tree_util.tree_leaves(step.const_values()))
    n_x = len(x_sample)
    plan.n_c, plan.n_x = n_c, n_x
    in_deps: list = []
    th = step.theta_leaves()
    for k in range(n_th):
        in_deps.append({("p", k): Dep(frozenset({D}), tuple(range(jnp.ndim(th[k]))))})
    for k, shape in enumerate(plan.h_shape(j) for j in range(n_h)):
        in_deps.append({("h", k): Dep(frozenset({D}), tuple(range(len(shape))))})
    in_deps += [{} for _ in range(n_c)]
    for a in x_sample:
        in_deps.append({("x", 0): Dep(frozenset({D}), (None,) * jnp.ndim(a))})
    in_deps.append({})  # the step index
    res = analyze(closed, in_deps)
    plan.ops = res.ops
    plan.out_deps = res.out
    if algorithm == "rtrl":
        return plan
    _groups(plan, res.out[:n_h])
    _param_traces(plan, res.out[:n_h])
    for op in res.ops:
        if op.activity is not None and any(s[0] in ("h", "p") for s in op.activity_sources):
            plan.cut[op.path] = op.activity
    if algorithm == "es_d_rtrl":
        plan.es = _es_weights(plan)
    return plan


def _groups(plan: Plan, h_out: list) -> None:
    diff = plan.diff_hidden()
    parent = {k: k for k in diff}

    def find(k):
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for a in diff:
        shape_a = plan.h_shape(a)
        for src, dep in h_out[a].items():
            if src[0] != "h" or not plan.step.diff[src[1]]:
                continue
            b = src[1]
            bad = O in dep.kinds or (
                D in dep.kinds
                and (plan.h_shape(b) != shape_a or dep.map != tuple(range(len(shape_a))))
            )
            if bad:
                why = dep.why or "an operation that is not element-wise"
                raise OnlineError(
                    f"online {plan.algorithm}: the hidden State {plan.hidden_names[a]} depends on "
                    f"{plan.hidden_names[b]} through `{why}`, not element by element and not "
                    "through a weight. D-RTRL keeps a Jacobian block per neuron, so each neuron's "
                    "variables must interact element-wise (neuron j with neuron j); keep each "
                    "variable in its own State of the population's shape, or use "
                    "algorithm='rtrl'."
                )
            if D in dep.kinds:
                parent[find(a)] = find(b)
    comps: dict = {}
    for k in diff:
        comps.setdefault(find(k), []).append(k)
    plan.groups = [Group(sorted(v), plan.h_shape(v[0])) for v in comps.values()]
    plan.groups.sort(key=lambda g: g.leaves[0])


def _indexed(m: tuple | None, shape: tuple) -> bool:
    if m is None or len(m) != len(shape):
        return False
    used = [a for a in m if isinstance(a, int)]
    if len(set(used)) != len(used):
        return False
    return all(a is not None or s == 1 for a, s in zip(m, shape))


def _param_traces(plan: Plan, h_out: list) -> None:
    step = plan.step
    th = step.theta_leaves()
    group_of = {leaf: gi for gi, g in enumerate(plan.groups) for leaf in g.leaves}
    for k in range(step.n_theta):
        if not step.theta_diff[k]:
            continue
        per_group: dict = {}
        crossed = False
        for a in plan.diff_hidden():
            dep = h_out[a].get(("p", k))
            if dep is None:
                continue
            if W in dep.kinds:
                crossed = True
            if D in dep.kinds or O in dep.kinds:
                g = group_of[a]
                prev = per_group.get(g)
                per_group[g] = dep if prev is None else _merge_group(prev, dep)
        if not per_group:
            if crossed:
                raise OnlineError(
                    f"online {plan.algorithm}: the parameter {plan.theta_names[k]} reaches the "
                    "hidden States only through another weight within one step (e.g. "
                    "x @ W1 @ W2 with no State between), so no neuron receives it directly and "
                    "D-RTRL has no trace for it. Put a neuron (a State) between the two "
                    "weights, merge them into one, or use algorithm='rtrl'."
                )
            plan.readout.append(k)
            continue
        for g, dep in sorted(per_group.items()):
            grp = plan.groups[g]
            if D in dep.kinds and O not in dep.kinds and _indexed(dep.map, grp.shape):
                plan.traces.append(Trace(k, g, "indexed", dep.map))
                continue
            n = int(np.size(th[k])) * grp.size * grp.k
            if n > BROADCAST_LIMIT:
                why = dep.why or "a map that sends one element to several neurons"
                raise OnlineError(
                    f"online {plan.algorithm}: the parameter {plan.theta_names[k]} (shape "
                    f"{tuple(jnp.shape(th[k]))}) reaches the neurons of "
                    f"{plan.hidden_names[grp.leaves[0]]} through `{why}`, so its elements do not "
                    f"each feed one neuron; its trace would need {n} values per sample. Use it "
                    "as x @ W (W[i, j] feeding neuron j) or per neuron, or use algorithm='rtrl'."
                )
            plan.traces.append(Trace(k, g, "broadcast", None))


def _merge_group(a: Dep, b: Dep) -> Dep:
    from ._graph import _merge

    return _merge(a, b)


def _es_weights(plan: Plan) -> list:
    """The weights used by one dense product ``x @ W`` (``EsWeight``), whose ES-D-RTRL
    trace factorises."""
    found = []
    th = plan.step.theta_leaves()
    uses: dict = {}
    for op in plan.ops:
        for src in op.weight_sources:
            if src[0] == "p":
                uses.setdefault(src[1], []).append(op)
    for tr in plan.traces:
        k = tr.leaf
        ops = uses.get(k, [])
        if tr.mode != "indexed" or jnp.ndim(th[k]) != 2 or len(ops) != 1:
            continue
        op = ops[0]
        dep = op.weight_sources[("p", k)]
        if op.eqn.primitive.name != "dot_general" or op.in_control or not dep.pure:
            continue
        if D not in dep.kinds or dep.map is None or sorted(dep.map) != [0, 1]:
            continue
        (lc, rc), (lb, rb) = op.eqn.params["dimension_numbers"]
        wc = lc if op.weight[0] == 0 else rc
        if lb or rb or len(wc) != 1:
            continue
        contracted = dep.map[wc[0]]
        n_pre = int(jnp.shape(th[k])[contracted])
        if math.prod(op.activity_shape) != n_pre:
            continue
        free = 1 - contracted
        if [a for a in tr.map if a is not None] != [free]:
            continue
        found.append(EsWeight(k, tr.group, op, contracted, n_pre))
    return found


def _scope(closed, prefix):
    jaxpr = closed.jaxpr
    for k in prefix:
        sub = jaxpr.eqns[k].params["jaxpr"]
        jaxpr = sub.jaxpr if hasattr(sub, "jaxpr") else sub
    return jaxpr


def _es_shared(plan: Plan) -> dict:
    from jax.extend import core as jcore

    out = {}
    for e in plan.es:
        prefix, k = e.op.path[:-1], e.op.path[-1]
        jaxpr = _scope(plan.jaxpr, prefix)
        uses: dict = {}
        for eqn in jaxpr.eqns:
            for v in eqn.invars:
                if not isinstance(v, jcore.Literal):
                    uses.setdefault(v, []).append(eqn)
        outvars = set(v for v in jaxpr.outvars if not isinstance(v, jcore.Literal))
        var = jaxpr.eqns[k].outvars[0]
        while var not in outvars and len(uses.get(var, [])) == 1:
            nxt = uses[var][0]
            if nxt.primitive.name != "add" or nxt.outvars[0].aval.shape != var.aval.shape:
                break
            if any(getattr(v, "aval", None) is None or v.aval.shape != var.aval.shape
                   for v in nxt.invars):  # fmt: skip
                break
            var = nxt.outvars[0]
        out[e.leaf] = (prefix, id(var)) if var is not jaxpr.eqns[k].outvars[0] else None
    return out
