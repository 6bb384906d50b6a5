"""Evaluate a step's jaxpr with its weight operations cut, recorded or perturbed.

- *cut*: the activity operand of the operation is seen through ``stop_gradient``, so
  derivatives stop at the synaptic coupling (D-RTRL's per-neuron view of a step);
- *record*: the activity operand and the output are returned (e-prop's readout input,
  ES-D-RTRL's presynaptic activity);
- *perturb*: a value is added to the output (zero in value; its tangent or cotangent is
  the derivative with respect to the operation's output);
- *replace*: the operation is not computed, its output is the value given (its primal
  value known from another evaluation of the same step: a constant for derivatives).

Operations inside nested calls (``jit``) are reached by inlining them; a marked
operation inside a loop or a custom-derivative function is refused.
"""

from __future__ import annotations

import jax
from jax.extend import core as jcore

from ._step import OnlineError

__all__ = ["evaluate"]

_INLINE = {"jit", "pjit", "closed_call", "core_call"}


def _bind(eqn, invals):
    params = eqn.primitive.get_bind_params(eqn.params)
    if isinstance(params, tuple):  # older JAX: (subfuns, params)
        subfuns, params = params
    else:
        subfuns = ()
    with eqn.ctx.manager:
        out = eqn.primitive.bind(*subfuns, *invals, **params)
    return list(out) if eqn.primitive.multiple_results else [out]


def evaluate(closed, args, cut=None, record=None, perturb=None, replace=None):
    """``(outputs, recorded)``: the jaxpr's outputs, and ``{path: (operands, output)}``
    for the recorded operations (operands before any cut). ``cut`` and ``record`` map an
    operation's path to the index of its activity operand; ``perturb`` maps a path to the
    value added to its output; ``replace`` maps a path to the output used instead of
    computing the operation."""
    cut, record, perturb = cut or {}, record or {}, perturb or {}
    replace = replace or {}
    marked = set(cut) | set(record) | set(perturb) | set(replace)
    recorded: dict = {}
    opts = (cut, record, perturb, replace, marked, recorded)
    outs = _eval(closed.jaxpr, closed.consts, args, (), opts)
    return outs, recorded


def _eval(jaxpr, consts, args, prefix, opts):
    cut, record, perturb, replace, marked, recorded = opts
    env: dict = {}

    def read(v):
        return v.val if isinstance(v, jcore.Literal) else env[v]

    for v, c in zip(jaxpr.constvars, consts):
        env[v] = c
    if len(args) != len(jaxpr.invars):
        raise OnlineError(  # pragma: no cover - internal invariant
            f"online: the step's jaxpr takes {len(jaxpr.invars)} inputs, got {len(args)}."
        )
    for v, a in zip(jaxpr.invars, args):
        env[v] = a
    for k, eqn in enumerate(jaxpr.eqns):
        path = (*prefix, k)
        invals = [read(v) for v in eqn.invars]
        if path in marked:
            if path in record:
                operands = list(invals)
            if path in cut:
                i = cut[path]
                invals[i] = jax.lax.stop_gradient(invals[i])
            if path in replace:
                outs = [jax.lax.stop_gradient(replace[path])]
            else:
                outs = _bind(eqn, invals)
            if path in perturb:
                outs[0] = outs[0] + perturb[path]
            if path in record:
                recorded[path] = (operands, outs[0])
        elif any(len(p) > len(path) and p[: len(path)] == path for p in marked):
            name = eqn.primitive.name
            if name not in _INLINE:
                raise OnlineError(
                    f"online: a weight operation lies inside `{name}` in the step; the online "
                    "rules can follow weights through plain function calls only, not through "
                    "loops, conditionals or custom-derivative functions. Move the weight "
                    "operation out of it, or use algorithm='rtrl'."
                )
            sub = eqn.params["jaxpr"]
            sub_consts = sub.consts if isinstance(sub, jcore.ClosedJaxpr) else ()
            sub_jaxpr = sub.jaxpr if isinstance(sub, jcore.ClosedJaxpr) else sub
            outs = _eval(sub_jaxpr, sub_consts, invals, path, opts)
        else:
            outs = _bind(eqn, invals)
        for v, o in zip(eqn.outvars, outs):
            env[v] = o
    return [read(v) for v in jaxpr.outvars]
