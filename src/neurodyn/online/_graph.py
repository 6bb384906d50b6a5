"""The structure of one step, read from its jaxpr.

For every value of the step and every input leaf (a parameter, a hidden State, the
external input) the analysis records *how* the value depends on the leaf, as a set of
path kinds:

- ``"D"`` (direct): only through element-wise operations, shape changes that keep the
  element order, and a parameter's own weight operation; ``Dep.map`` says which axis of
  the leaf each axis of the value comes from (``None``: broadcast);
- ``"W"`` (through a weight): the path passes through the *activity* operand of a
  weight operation (``x @ W``, an event propagation ``spikes @ conn``): the synaptic
  coupling between neurons that D-RTRL leaves out of its traces;
- ``"O"`` (other): through anything else that changes which element feeds which
  (a reduction, a slice, a gather, a loop): ``Dep.why`` names the operation.

Only floating-point values carry dependencies (booleans, integers and
``stop_gradient`` have no derivative). Weight operations are recorded with their
location (:class:`WeightOp`) so the rules can cut, record or perturb them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import jax.numpy as jnp
from jax.extend import core as jcore

__all__ = ["Dep", "WeightOp", "analyze", "EVENT_PRIMITIVES"]

D, O, W = "D", "O", "W"

#: event primitives: name -> (weight operand indices, activity operand index)
EVENT_PRIMITIVES = {
    "neurodyn_csr_scatter": ((0,), 3),
    "neurodyn_csr_gather": ((0,), 3),
    "neurodyn_fanout_scatter": ((0,), 2),
    "neurodyn_fanout_gather": ((0,), 2),
    "neurodyn_jitconn_scatter": ((), 0),
    "neurodyn_jitconn_gather": ((), 0),
}

_ELEMENTWISE = {
    "abs", "acos", "acosh", "add", "and", "asin", "asinh", "atan", "atan2", "atanh", "cbrt",
    "ceil", "clamp", "convert_element_type", "copy", "copy_p", "cos", "cosh", "div", "eq",
    "erf", "erf_inv", "erfc", "exp", "exp2", "expm1", "floor", "ge", "gt", "igamma",
    "integer_pow", "is_finite", "le", "lgamma", "digamma", "log", "log1p", "logistic", "lt",
    "max", "min", "mul", "ne", "neg", "nextafter", "not", "or", "pow", "reduce_precision",
    "rem", "round", "rsqrt", "select_n", "sign", "sin", "sinh", "sqrt", "square", "sub",
    "tan", "tanh", "xor", "real", "imag", "conj", "optimization_barrier",
}  # fmt: skip
_MOVES = {"convert_element_type", "copy", "copy_p", "reduce_precision", "optimization_barrier"}
_CALLS = {"jit", "pjit", "closed_call", "core_call", "remat", "checkpoint", "custom_lin"}
_CUSTOM = {"custom_jvp_call", "custom_vjp_call", "custom_vjp_call_jaxpr"}


@dataclass(frozen=True)
class Dep:
    """How a value depends on one input leaf: path kinds, the index map of the direct
    paths (one entry per axis of the value: the leaf's axis, or None) and, for ``"O"``,
    the operation that made it so."""

    kinds: frozenset
    map: tuple | None = None
    why: str | None = None
    pure: bool = True  # the direct paths only move elements (no arithmetic)


@dataclass
class WeightOp:
    """A weight operation of the step: where it is, which operand is the weight and which
    the activity, and which leaves each depends on."""

    path: tuple
    eqn: object
    weight: tuple  # operand indices of the weight(s)
    activity: int | None
    weight_sources: dict  # source -> Dep (in the weight operand)
    activity_sources: dict
    in_control: str | None = None  # "cond"/"while"/... when nested in control flow
    out_shape: tuple = ()
    activity_shape: tuple = ()


@dataclass
class Analysis:
    out: list  # deps of each output of the jaxpr
    ops: list = field(default_factory=list)


def _merge(a: Dep | None, b: Dep) -> Dep:
    if a is None:
        return b
    kinds = set(a.kinds) | set(b.kinds)
    why = a.why or b.why
    m = None
    if D in a.kinds and D in b.kinds:
        if a.map == b.map:
            m = a.map
        else:
            kinds.discard(D)
            kinds.add(O)
            why = why or "two paths with different index maps"
    elif D in a.kinds:
        m = a.map
    elif D in b.kinds:
        m = b.map
    return Dep(frozenset(kinds), m if D in kinds else None, why, a.pure and b.pure)


def _union(*deps: dict) -> dict:
    out: dict = {}
    for d in deps:
        for src, dep in d.items():
            out[src] = _merge(out.get(src), dep)
    return out


def _lossy(deps: dict, why: str) -> dict:
    out = {}
    for src, dep in deps.items():
        kinds = set(dep.kinds)
        if D in kinds:
            kinds.discard(D)
            kinds.add(O)
            out[src] = Dep(frozenset(kinds), None, dep.why or why)
        else:
            out[src] = dep
    return out


def _crossed(deps: dict) -> dict:
    return {src: Dep(frozenset({W})) for src in deps}


def _remap(deps: dict, fn, pure: bool = True) -> dict:
    """Apply ``fn(map) -> map`` to the direct paths (``pure=False``: with arithmetic)."""
    out = {}
    for src, dep in deps.items():
        if D in dep.kinds:
            out[src] = Dep(dep.kinds, fn(dep.map), dep.why, dep.pure and pure)
        else:
            out[src] = dep
    return out


def _shape(v) -> tuple:
    return tuple(getattr(v.aval, "shape", ()))


def _is_float(v) -> bool:
    dtype = getattr(v.aval, "dtype", None)
    return dtype is not None and jnp.issubdtype(dtype, jnp.inexact)


def _elementwise_map(in_shape, out_shape):
    if tuple(in_shape) == tuple(out_shape):
        return lambda m: m
    if len(in_shape) == 0:
        return lambda m: (None,) * len(out_shape)
    if len(in_shape) == len(out_shape) and all(
        a == b or a == 1 for a, b in zip(in_shape, out_shape)
    ):
        return lambda m: tuple(
            None if (a == 1 and b != 1) else e for e, a, b in zip(m, in_shape, out_shape)
        )
    return None


def _reshape_map(in_shape, out_shape):
    """The map of a reshape that only inserts or removes axes of length 1 (else None)."""
    ins = [(k, s) for k, s in enumerate(in_shape) if s != 1]
    outs = [(k, s) for k, s in enumerate(out_shape) if s != 1]
    if [s for _, s in ins] != [s for _, s in outs]:
        return None
    where = {ko: ki for (ki, _), (ko, _) in zip(ins, outs)}

    def fn(m):
        return tuple(m[where[k]] if k in where else None for k in range(len(out_shape)))

    return fn


def _dot_map(w_is_lhs: bool, w_ndim: int, other_ndim: int, dims):
    (lc, rc), (lb, rb) = dims
    wc, wb = (lc, lb) if w_is_lhs else (rc, rb)
    oc, ob = (rc, rb) if w_is_lhs else (lc, lb)
    w_free = [d for d in range(w_ndim) if d not in wc and d not in wb]
    o_free = [d for d in range(other_ndim) if d not in oc and d not in ob]

    def fn(m):
        batch = [m[d] for d in wb]
        mine = [m[d] for d in w_free]
        other = [None] * len(o_free)
        return tuple(batch + (mine + other if w_is_lhs else other + mine))

    return fn


def _sub_jaxpr(eqn):
    """The jaxpr a call-like equation evaluates (same inputs and outputs), or None."""
    for key in ("jaxpr", "call_jaxpr", "fun_jaxpr"):
        j = eqn.params.get(key)
        if j is not None and (hasattr(j, "eqns") or hasattr(j, "jaxpr")):
            return j
    return None


def _unwrap(j):
    if isinstance(j, jcore.ClosedJaxpr):
        return j.jaxpr
    return j


def analyze(closed, in_deps: list[dict]) -> Analysis:
    """Dependencies of every output of ``closed`` given those of its inputs."""
    ops: list = []
    known = _consts_of(closed)
    out = _walk(_unwrap(closed), in_deps, (), None, ops, known)
    return Analysis(out, ops)


def _consts_of(closed) -> dict:
    """Concrete values of a closed jaxpr's constants (connectivity index arrays)."""
    if isinstance(closed, jcore.ClosedJaxpr):
        return {v: c for v, c in zip(closed.jaxpr.constvars, closed.consts)}
    return {}


def _walk(jaxpr, in_deps, prefix, control, ops, known=None) -> list[dict]:
    known = dict(known or {})
    env: dict = {}
    for v in jaxpr.constvars:
        env[v] = {}
    for v, d in zip(jaxpr.invars, in_deps):
        env[v] = d

    def read(v):
        if isinstance(v, jcore.Literal):
            return {}
        return env.get(v, {})

    for k, eqn in enumerate(jaxpr.eqns):
        path = (*prefix, k)
        name = eqn.primitive.name
        ins = [read(v) for v in eqn.invars]
        outs = _rule(eqn, name, ins, path, control, ops, known)
        for v, d in zip(eqn.outvars, outs):
            env[v] = d if _is_float(v) else {}
    return [read(v) for v in jaxpr.outvars]


def _rule(eqn, name, ins, path, control, ops, known) -> list[dict]:
    n_out = len(eqn.outvars)
    out_shapes = [_shape(v) for v in eqn.outvars]
    if name == "stop_gradient":
        return [{} for _ in range(n_out)]
    if not any(ins):
        # nothing to track; still record nested weight operations of calls
        if name in _CALLS | _CUSTOM or name in ("cond", "while", "scan"):
            _nested(eqn, name, ins, path, control, ops, known)
        return [{} for _ in range(n_out)]
    if name in _ELEMENTWISE:
        parts = []
        for v, d in zip(eqn.invars, ins):
            fn = _elementwise_map(_shape(v), out_shapes[0])
            parts.append(_remap(d, fn, name in _MOVES) if fn is not None else _lossy(d, name))
        return [_union(*parts)] * n_out
    if name == "broadcast_in_dim":
        (v,), d = eqn.invars, ins[0]
        in_shape, out_shape = _shape(v), out_shapes[0]
        bd = tuple(eqn.params["broadcast_dimensions"])

        def fn(m):
            res = [None] * len(out_shape)
            for i, o in enumerate(bd):
                if in_shape[i] == out_shape[o]:
                    res[o] = m[i]
            return tuple(res)

        return [_remap(d, fn)]
    if name == "reshape":
        fn = _reshape_map(_shape(eqn.invars[0]), out_shapes[0])
        return [_remap(ins[0], fn) if fn is not None else _lossy(ins[0], name)]
    if name == "squeeze":
        dims = {d % len(_shape(eqn.invars[0])) for d in eqn.params["dimensions"]}
        keep = [i for i in range(len(_shape(eqn.invars[0]))) if i not in dims]
        return [_remap(ins[0], lambda m: tuple(m[i] for i in keep))]
    if name == "expand_dims":
        fn = _reshape_map(_shape(eqn.invars[0]), out_shapes[0])
        return [_remap(ins[0], fn) if fn is not None else _lossy(ins[0], name)]
    if name == "transpose":
        perm = tuple(eqn.params["permutation"])
        return [_remap(ins[0], lambda m: tuple(m[p] for p in perm))]
    if name == "dot_general":
        return [_dot(eqn, ins, path, control, ops)]
    if name in EVENT_PRIMITIVES:
        return [_event(eqn, name, ins, path, control, ops, known)]
    if name in _CUSTOM:
        _nested(eqn, name, [{} for _ in ins], path, control, ops, known)
        return _custom(eqn, name, ins)
    if name in _CALLS or name == "cond":
        res = _nested(eqn, name, ins, path, control, ops, known)
        if res is not None:
            return res
    if name in ("while", "scan"):
        _nested(eqn, name, ins, path, control, ops, known)
    merged = _lossy(_union(*ins), name)
    return [merged] * n_out


def _nested(eqn, name, ins, path, control, ops, known):
    if name == "cond":
        branches = eqn.params["branches"]
        results = [
            _walk(_unwrap(b), ins[1:], (*path, i), control or "cond", ops)
            for i, b in enumerate(branches)
        ]
        return [_union(*(r[k] for r in results)) for k in range(len(eqn.outvars))]
    if name in ("while", "scan"):
        for key in ("cond_jaxpr", "body_jaxpr", "jaxpr"):
            j = eqn.params.get(key)
            if j is not None:
                sub = _unwrap(j)
                _walk(sub, [{}] * len(sub.invars), (*path, key), name, ops)
        return None
    sub = _sub_jaxpr(eqn)
    if sub is None:
        return None
    sub = _unwrap(sub)
    if len(sub.invars) != len(eqn.invars):
        return None
    inner_control = control if name in _CALLS else (control or name)
    inner = _consts_of(_sub_jaxpr(eqn))
    for outer, v in zip(eqn.invars, sub.invars):
        if not isinstance(outer, jcore.Literal) and outer in known:
            inner[v] = known[outer]
    return _walk(sub, ins, path, inner_control, ops, inner)


def _has_activity(d: dict) -> bool:
    return any(src[0] in ("h", "x") for src in d)


def _has_param(d: dict) -> bool:
    return any(src[0] == "p" for src in d)


def _dot(eqn, ins, path, control, ops) -> dict:
    dl, dr = ins
    act_l, act_r = _has_activity(dl), _has_activity(dr)
    dims = eqn.params["dimension_numbers"]
    if act_l and act_r:
        return _lossy(_union(dl, dr), "dot_general between two activity-dependent values")
    if not act_l and not act_r and _has_param(dl) and _has_param(dr):
        return _lossy(_union(dl, dr), "dot_general between two parameters")
    # the weight: the operand without activity (a parameter or a constant)
    w_is_lhs = not act_l if (act_l or act_r) else _has_param(dl)
    w_idx, a_idx = (0, 1) if w_is_lhs else (1, 0)
    wv, av = eqn.invars[w_idx], eqn.invars[a_idx]
    dw, da = ins[w_idx], ins[a_idx]
    fn = _dot_map(w_is_lhs, len(_shape(wv)), len(_shape(av)), dims)
    ops.append(
        WeightOp(
            path,
            eqn,
            (w_idx,),
            a_idx,
            dict(dw),
            dict(da),
            control,
            _shape(eqn.outvars[0]),
            _shape(av),
        )
    )
    return _union(_remap(dw, fn, False), _crossed(da))


def _event(eqn, name, ins, path, control, ops, known) -> dict:
    w_idx, a_idx = EVENT_PRIMITIVES[name]
    dw = _union(*(ins[i] for i in w_idx)) if w_idx else {}
    da = ins[a_idx]
    if _has_activity(dw):
        return _lossy(_union(dw, da), f"{name} with activity-dependent weights")
    ops.append(
        WeightOp(
            path,
            eqn,
            tuple(w_idx),
            a_idx,
            dict(dw),
            dict(da),
            control,
            _shape(eqn.outvars[0]),
            _shape(eqn.invars[a_idx]),
        )
    )
    index = _event_index(eqn, name, known)
    if index is not None:
        # weight s feeds postsynaptic neuron index[s] (the last output axis); the other
        # output axes come from the spikes' batch axis
        n_out = len(_shape(eqn.outvars[0]))
        w_shape = _shape(eqn.invars[0])

        def fn(m):
            if tuple(m) != tuple(range(len(w_shape))):
                return (None,) * n_out  # the weight operand is not the parameter as stored
            return (*(None,) * (n_out - 1), ("gather", index))

        weights = _remap(dw, fn, False)
        weights = {
            src: (dep if D not in dep.kinds or dep.map[-1] is not None
                  else _lossy({src: dep}, f"{name} (sparse connectivity)")[src])
            for src, dep in weights.items()
        }  # fmt: skip
    else:
        weights = _lossy(dw, f"{name} (sparse connectivity)")
    return _union(weights, _crossed(da))


def _event_index(eqn, name, known):
    """The postsynaptic index of each stored weight of a CSR or fan-out scatter (None when
    it is not known when tracing, or the weights are homogeneous)."""
    import numpy as np

    if name not in ("neurodyn_csr_scatter", "neurodyn_fanout_scatter"):
        return None
    if eqn.params.get("homo", False):
        return None
    idx_var = eqn.invars[1]
    if isinstance(idx_var, jcore.Literal):
        value = idx_var.val
    else:
        value = known.get(idx_var)
    if value is None:
        return None
    index = np.asarray(value)
    if index.shape != _shape(eqn.invars[0]):
        return None
    return _Index(index)


class _Index:
    """A concrete index array inside a map (compared by identity, hashed by id)."""

    def __init__(self, array):
        self.array = array
        self.shape = array.shape

    def __repr__(self):
        return f"index{self.shape}"


def _custom(eqn, name, ins) -> list[dict]:
    """A custom-derivative function: its primal hides the derivative (a surrogate spike is
    a step function), so the structure is read from the jaxpr of its VJP: output ``j``
    depends on input ``k`` element-wise when the cotangent of ``k`` depends on that of
    ``j`` through an identity map."""
    import jax

    from ._interp import _bind

    fl_in = [k for k, v in enumerate(eqn.invars) if _is_float(v)]
    fl_out = [j for j, v in enumerate(eqn.outvars) if _is_float(v)]
    avals = [jax.ShapeDtypeStruct(_shape(v), v.aval.dtype) for v in eqn.invars]
    cot_avals = [jax.ShapeDtypeStruct(_shape(eqn.outvars[j]), eqn.outvars[j].aval.dtype)
                 for j in fl_out]  # fmt: skip

    def bwd(args, cots):
        def f(*fargs):
            full = list(args)
            for k, a in zip(fl_in, fargs):
                full[k] = a
            out = _bind(eqn, full)
            return [out[j] for j in fl_out]

        _, vjp = jax.vjp(f, *[args[k] for k in fl_in])
        return vjp(cots)

    try:
        closed = jax.make_jaxpr(bwd)(avals, cot_avals)
    except Exception:  # no derivative rule we can trace: nothing is known
        merged = _lossy(_union(*ins), name)
        return [merged if _is_float(v) else {} for v in eqn.outvars]
    in_deps = [{} for _ in avals]
    in_deps += [
        {("co", j): Dep(frozenset({D}), tuple(range(len(_shape(eqn.outvars[j])))))} for j in fl_out
    ]
    res = _walk(_unwrap(closed), in_deps, ("custom",), name, [])
    outs: list = [{} for _ in eqn.outvars]
    for n_k, k in enumerate(fl_in):
        back = res[n_k]
        in_shape = _shape(eqn.invars[k])
        for j in fl_out:
            dep = back.get(("co", j))
            if dep is None:
                continue
            out_shape = _shape(eqn.outvars[j])
            if (
                dep.kinds == {D}
                and in_shape == out_shape
                and dep.map == tuple(range(len(out_shape)))
            ):
                part = _remap(ins[k], lambda m: m, False)
            else:
                part = _lossy(ins[k], f"{name} (not element-wise)")
            outs[j] = _union(outs[j], part)
    return outs
