"""The event-driven reverse mode of user-defined scatter and gather operators.

Both kinds are sums over synapses ``k: i -> j`` of ``a[b, i] * c[b, j] * f(pre[i],
post[j], syn[k], p)`` against an output cotangent: for a scatter ``a`` is the events and
``c`` the cotangent of the output, for a gather ``a`` is the cotangent and ``c`` the
input. The cotangent of each operand is another user operator, whose body is derived
from ``f`` (its gradient in one field, by ``jax.grad``), and which runs on the same
backend (numba kernel, event-driven lax loop or reference):

- synapse fields: ``sum_b a[b,i] c[b,j] df/dsyn`` on the synapses of rows where ``a`` is
  nonzero (an ``update`` of a zero array: work O(synapses of active rows));
- postsynaptic fields: ``c[b,j] * sum_i a[b,i] df/dpost`` (a scatter of ``a``: O(synapses
  of active rows));
- parameters (and a JitProb's scalar synapse fields): ``sum_j c[b,j] * (the same scatter
  of df/dp)``;
- presynaptic fields: ``a[b,i] * sum_j c[b,j] df/dpre`` and float events: ``sum_j c[b,j]
  f``: gathers over every row (O(nnz)): the cotangent is nonzero on rows that did not
  spike.

The tangent (forward mode) is the op itself with the body's ``jvp`` (event-driven like
the forward pass; ``jax.jvp`` of the reference on the reference backend); it is a
primitive of its own, linear in the tangents, so that ``grad`` transposes it with the
rule here instead of transposing the tangent's own operations.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax._src import dispatch
from jax.extend.core import Primitive
from jax.interpreters import ad, batching, mlir

from ._body import GROUPS, Body

__all__ = ["user_tangent_p"]

# names of the extra fields the derived bodies read: the factors of the reverse mode and
# the prefix of the tangents of the forward mode (unlikely user names)
_A, _C, _T = "nd__a", "nd__c", "nd__t_"


def _custom():
    from . import _custom

    return _custom


# ------------------------------------------------------------------ the tangent primitive
user_tangent_p = Primitive("neurodyn_user_event_tangent")
user_tangent_p.multiple_results = True


def _tangent_fn(*args, st, diff):
    """The tangent of the op's outputs for the tangents ``args[n:]`` of the operands
    ``diff``: the op itself with the body's ``jvp`` in the differentiated fields (their
    tangents read as extra fields), plus the op with the body on the events' tangent; on
    the reference backend, ``jax.jvp`` of the reference (the oracle)."""
    c = _custom()
    n = len(args) - len(diff)
    primals, tangents = list(args[:n]), args[n:]
    if st.backend[-1] == "reference":
        ref = c._impl_of(st, reference=True)

        def f(*xs):
            full = list(primals)
            for i, x in zip(diff, xs):
                full[i] = x
            return ref(*full, st=st)

        _, t = jax.jvp(f, [primals[i] for i in diff], list(tangents))
        return list(t)
    events, indptr, cols, g, _ = c._split(primals, st)
    names = ["events", "indptr", "cols"] + [(grp, k) for grp in GROUPS for k in st.layout[grp]]
    kind = st.backend[0]
    (aval,) = c._abstract(*primals, st=st)
    out = jnp.zeros(aval.shape, aval.dtype)
    wrt = tuple(names[i] for i in diff if names[i] != "events")
    if wrt:
        fields = {grp: dict(g[grp]) for grp in GROUPS}
        for i, t in zip(diff, tangents):
            if names[i] != "events":
                grp, k = names[i]
                fields[grp][_T + k] = t
        body = _derived_body(st, ("jvp", wrt), ())
        out = out + _bind(st, kind, body, events, indptr, cols, fields).astype(aval.dtype)
    if 0 in diff:  # the op is linear in its events: the op on their tangent
        t_ev = tangents[diff.index(0)]
        body = _derived_body(st, None, ())
        out = out + _bind(st, kind, body, t_ev, indptr, cols, g).astype(aval.dtype)
    return [out]


def _tangent_abstract(*avals, st, diff):
    n = len(avals) - len(diff)
    return _custom()._abstract(*avals[:n], st=st)


user_tangent_p.def_impl(functools.partial(dispatch.apply_primitive, user_tangent_p))
user_tangent_p.def_abstract_eval(_tangent_abstract)
mlir.register_lowering(user_tangent_p, mlir.lower_fun(_tangent_fn, multiple_results=True))


def _tangent_batch(args, dims, *, st, diff):
    outs = jax.vmap(functools.partial(_tangent_fn, st=st, diff=diff), in_axes=list(dims))(*args)
    return list(outs), [0] * len(outs)


def _tangent_jvp(primals, tangents, *, st, diff):
    tangents = [ad.instantiate_zeros(t) for t in tangents]
    out, t = jax.jvp(functools.partial(_tangent_fn, st=st, diff=diff), primals, tangents)
    return list(out), list(t)


batching.primitive_batchers[user_tangent_p] = _tangent_batch
ad.primitive_jvps[user_tangent_p] = _tangent_jvp


def tangent(primals, tangents, st):
    """The jvp rule of a scatter or gather: the tangent through ``user_tangent_p``."""
    diff = tuple(
        i
        for i, (x, t) in enumerate(zip(primals, tangents))
        if jnp.issubdtype(jnp.result_type(x), jnp.floating) and type(t) is not ad.Zero
    )
    if not diff:
        return None
    return user_tangent_p.bind(*primals, *(tangents[i] for i in diff), st=st, diff=diff)


# ------------------------------------------------------------------ the derived operators
def _derived_body(st, wrt, factors: tuple) -> Body:
    """The body ``prod(factors) * df/d(wrt)`` (``wrt`` None: ``f`` itself) on mantissas,
    cached on the original body."""
    body = st.body
    key = (st._key(), wrt, factors)
    cache = body.__dict__.setdefault("_derived", {})
    hit = cache.get(key)
    if hit is not None:
        return hit
    scalar = body._scalar(st.units, st.out_units)
    order = [(g, k) for g in GROUPS for k in body.fields[g]]

    def fn(pre, post, syn, p):
        ns = dict(zip(GROUPS, (pre, post, syn, p)))
        flat = [getattr(ns[g], k) for g, k in order]
        if wrt is None:
            val = scalar(*flat)[0]
        elif wrt[0] == "jvp":  # the directional derivative along the fields' tangents
            idx = [order.index(x) for x in wrt[1]]

            def along(*xs):
                full = list(flat)
                for i, x in zip(idx, xs):
                    full[i] = x
                return scalar(*full)[0]

            tangents = [getattr(ns[g], _T + k) for g, k in wrt[1]]
            val = jax.jvp(along, [flat[i] for i in idx], tangents)[1]
        else:
            val = jax.grad(lambda *xs: scalar(*xs)[0], argnums=order.index(wrt))(*flat)
        for g, k in factors:
            val = val * getattr(ns[g], k)
        return val

    if wrt is None:
        label = "f"
    elif wrt[0] == "jvp":
        label = "jvp in " + ", ".join(f"{g}.{k}" for g, k in wrt[1])
    else:
        label = f"d/d{wrt[0]}.{wrt[1]}"
    fn.__name__ = f"{body.op}: {label}"
    derived = Body(fn, f"{body.op} ({label}, derived)")
    cache[key] = derived
    return derived


def _bind(st, kind, body, events, indptr, cols, fields: dict, extra=(), old_index=()):
    """One derived operator: ``fields[group][name]`` the operands (mantissas)."""
    c = _custom()
    layout = {
        g: tuple(k for k in body.fields[g] if not (st.conn is not None and g == "syn" and k == "w"))
        for g in GROUPS
    }
    units = {g: {k: None for k in body.fields[g]} for g in GROUPS}
    max_row = st.max_row
    if kind == "update":
        max_row = (st.max_row, 0)
    st2 = c._Static(
        body=body,
        units=units,
        out_units=(None,),
        layout=layout,
        n_pre=st.n_pre,
        n_post=st.n_post,
        max_row=max_row,
        backend=(kind, "pre", st.backend[-1]),
        old_index=old_index,
        conn=st.conn,
    )
    ops = [fields[g][k] for g in GROUPS for k in layout[g]]
    return c.user_event_p.bind(events, indptr, cols, *ops, *extra, st=st2)[0]


def _fit(x, like):
    """Sum a cotangent ``[B, n]`` to the shape of its operand (``[1, n]``: shared by the
    batch rows) and cast it to the operand's dtype."""
    if x.shape != like.shape:
        x = jnp.sum(x, axis=0, keepdims=True).reshape(like.shape)
    return x.astype(like.dtype)


def _transpose(cts, *args, st, diff):
    c_ = _custom()
    n = len(args) - len(diff)
    primals = args[:n]
    if any(ad.is_undefined_primal(x) for x in primals):
        raise NotImplementedError(
            f"{st.body.op}: reverse mode through a user operator needs its operands known "
            "(linearize, then transpose)."
        )
    (ct,) = cts
    if type(ct) is ad.Zero:
        return [None] * n + [None] * len(diff)
    events, indptr, cols, g, _ = c_._split(primals, st)
    kind = st.backend[0]
    fields = {grp: dict(g[grp]) for grp in GROUPS}
    if kind == "scatter":
        a, cc = events, ct
    else:
        a, cc = ct, events
    dtype = ct.dtype
    a_f = a.astype(dtype)
    cc_f = cc.astype(dtype)
    names = ["events", "indptr", "cols"] + [(grp, k) for grp in GROUPS for k in st.layout[grp]]

    def scatter_of(wrt):
        body = _derived_body(st, wrt, ())
        return _bind(st, "scatter", body, a, indptr, cols, fields)

    def gather_of(wrt):
        body = _derived_body(st, wrt, ())
        return _bind(st, "gather", body, cc_f, indptr, cols, fields)

    out = []
    for i in diff:
        name, x = names[i], primals[i]
        if name == "events":
            # scatter: d/ds = sum_j c f (every row); gather: d/dx = sum_i a f (a scatter)
            r = gather_of(None) if kind == "scatter" else scatter_of(None)
        elif name[0] == "pre":
            r = _fit(a_f * gather_of(name), x)
        elif name[0] == "post":
            r = _fit(cc_f * scatter_of(name), x)
        elif name[0] == "p" or st.conn is not None:  # parameters, a JitProb's scalar fields
            r = jnp.sum(cc_f * scatter_of(name)).reshape(x.shape)
        else:  # a stored synapse field: the synapses of rows where a is nonzero
            body = _derived_body(st, name, (("pre", _A), ("post", _C)))
            zeros = jnp.zeros(x.shape, dtype)
            n_fields = 3 + sum(len(v) for v in body.fields.values())
            r = zeros
            for b in range(a.shape[0]):
                lane = {
                    grp: {k: v[min(b, v.shape[0] - 1)][None] for k, v in fields[grp].items()}
                    for grp in ("pre", "post")
                }
                lane["syn"], lane["p"] = fields["syn"], fields["p"]
                lane["pre"][_A] = a_f[b][None]
                lane["post"][_C] = cc_f[b][None]
                r = r + _bind(
                    st,
                    "update",
                    body,
                    a_f[b][None],
                    indptr,
                    cols,
                    lane,
                    extra=(zeros,),
                    old_index=(n_fields,),
                )
        out.append(r.astype(x.dtype).reshape(x.shape))
    return [None] * n + out


ad.primitive_transposes[user_tangent_p] = _transpose
