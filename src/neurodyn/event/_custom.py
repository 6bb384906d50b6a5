"""User-defined event-driven operators: ``scatter_op``, ``gather_op``, ``update_op``.

The user writes one scalar body ``body(pre, post, syn, p)``; the framework owns the
iteration over the synapses of spiking rows (or columns), indexing, bounds, batching,
units and autodiff, for CSR, FixedFanOut, Dense and procedural ``JitProb`` connectivity:

- forward on CPU: the body compiled by numba into the loop of the op, called by one
  C++ FFI trampoline with no Python in the path (``_numba.py``, ``_native/user.cc``;
  about the speed of the built-in kernels on stored synapses); without numba, and on
  other platforms, an event-driven ``lax`` loop: a scalar loop over the synapses of the
  active rows (work O(synapses of active rows); 1.7-2.9x the built-in kernels at N = 10k,
  5% spikes; a gather: every row, ~4x); the masked O(nnz) reference
  (``backend="reference"``) is the test oracle;
- ``JitProb``: rows regenerated from the seed in every backend (the numba kernel emits
  ``_jitconn``'s own hash from its jaxpr); ``syn.w`` is the generated weight, other
  synapse fields are scalars; an ``update_op`` is refused (nothing is stored);
- ``vmap`` over the events (and pre/post fields) folds into the op's own batch axis:
  one loop for all lanes, never ``vmap`` of the loop (which would run every row);
  a vmapped synapse field or parameter runs the lanes one after another;
- ``jvp`` through the reference (forward mode, O(nnz)); reverse mode of a scatter or
  gather is event-driven (``_custom_grad.py``): each operand's cotangent is another user
  op whose body is derived from ``jax.grad`` of the body, run on the same backend
  (synapse, postsynaptic and parameter cotangents: O(synapses of active rows);
  presynaptic fields and float events: a gather, O(nnz)); an update's gradient goes
  through the reference.

- ``backend="pallas"`` (opt-in, scatter and gather on stored synapses): the Pallas GPU
  kernel of ``_gpu.py`` with the body on each vector of synapses; checked in Pallas'
  interpret mode on CPU only, not yet run on a GPU.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax._src import dispatch
from jax.extend.core import Primitive
from jax.interpreters import ad, batching, mlir

import neurodyn.units as u

from ._body import GROUPS, Body
from ._connectivity import CSR, Dense, FixedFanOut, JitProb
from ._custom_impl import _IMPLS, _JIT_IMPLS, _dtype, _out_dtype, _split, _vals
from ._jitconn import DIST_CODES
from ._prim_rules import native_available

__all__ = ["scatter_op", "gather_op", "update_op", "EventOp"]


#: "event": the numba kernel on CPU when numba is installed, else the lax loop; "numba" the
#: same (named for tests); "lax" the event-driven lax loop; "reference" the masked oracle;
#: "pallas" (opt-in, scatter/gather on stored synapses) the Pallas GPU kernel (in Pallas'
#: interpret mode on CPU, for tests)
_BACKENDS = ("event", "numba", "lax", "reference", "pallas")


class _Static:
    """Static parameters of one call, hashable (the body by identity, units by name), so
    that compiled programs are reused across calls."""

    __slots__ = (
        "body",
        "units",
        "out_units",
        "layout",
        "n_pre",
        "n_post",
        "max_row",
        "backend",
        "old_index",
        "conn",
    )

    def __init__(self, **kw):
        self.conn = None  # stored synapses; procedural: ("jit", seed, dist, w0, w1, dtype)
        for k, v in kw.items():
            setattr(self, k, v)

    def _key(self):
        units = tuple((g, tuple((k, str(v)) for k, v in self.units[g].items())) for g in GROUPS)
        return (
            id(self.body),
            units,
            tuple(str(x) for x in self.out_units),
            tuple(self.layout[g] for g in GROUPS),
            self.n_pre,
            self.n_post,
            self.max_row,
            self.backend,
            self.old_index,
            self.conn,
        )

    def __hash__(self):
        return hash(self._key())

    def __eq__(self, other):
        return (
            isinstance(other, _Static) and self.body is other.body and self._key() == other._key()
        )


# ------------------------------------------------------------------ the computations
def _pallas(*args, st, interpret):
    from ._gpu import user_pallas

    events, indptr, cols, g, _ = _split(args, st)
    fields = [g[grp][k].reshape(1) if grp == "p" else g[grp][k] for grp in GROUPS for k in g[grp]]

    def values(f):
        (val,) = _vals(st, f["pre"], f["post"], f["syn"], f["p"])
        return val

    out = user_pallas(
        st.backend[0],
        events,
        indptr,
        cols,
        fields,
        layout=st.layout,
        values=values,
        n_pre=st.n_pre,
        n_post=st.n_post,
        dtype=_dtype(events, g),
        interpret=interpret,
    )
    return [out]


def _impl_of(st, reference: bool = False, interpret: bool = False):
    kind, mode = st.backend[0], st.backend[-1]
    if mode == "pallas" and not reference and kind != "update" and st.conn is None:
        return functools.partial(_pallas, interpret=interpret)
    table = _IMPLS if st.conn is None else _JIT_IMPLS
    return table[kind, "reference" if reference or mode == "reference" else "event"]


# ------------------------------------------------------------------ the primitive
# one primitive for the three kinds; its results are a list (one per target of an
# update of several fields, else one)
user_event_p = Primitive("neurodyn_user_event")
user_event_p.multiple_results = True


def _abstract(*args, st):
    events, _, cols, g, extra = _split(args, st)
    kind = st.backend[0]
    if kind == "update":
        return [jax.core.ShapedArray(args[i].shape, args[i].dtype) for i in st.old_index]
    dtype = _out_dtype(events, g, st)
    n_out = st.n_post if kind == "scatter" else st.n_pre
    return [jax.core.ShapedArray((events.shape[0], n_out), dtype)]


user_event_p.def_impl(functools.partial(dispatch.apply_primitive, user_event_p))
user_event_p.def_abstract_eval(_abstract)


def _generic_lowering(ctx, *args, st):
    # a Pallas kernel runs in interpret mode where the program is lowered for the CPU
    interpret = "cpu" in ctx.module_context.platforms
    impl = _impl_of(st, interpret=interpret)
    return mlir.lower_fun(lambda *a: impl(*a, st=st), multiple_results=True)(ctx, *args)


mlir.register_lowering(user_event_p, _generic_lowering)


def _cpu_lowering(ctx, *args, st):
    """On CPU, the numba kernel of the body behind the C++ trampoline when numba is
    installed (backend "event" or "numba"), else the lax loop."""
    from . import _numba

    if st.backend[-1] in ("event", "numba") and _numba.usable():
        dtypes = [a.dtype for a in ctx.avals_in]
        address = _numba.kernel_address(st, dtypes, [a.dtype for a in ctx.avals_out])
        if address is not None:
            # an update writes its results in place of its old-value operands; where XLA
            # gives a distinct buffer, the trampoline copies the first one over and the
            # kernel the others
            aliases = st.old_index
            rule = jax.ffi.ffi_lowering(
                "neurodyn_user_kernel",
                operand_output_aliases={a: k for k, a in enumerate(aliases)} or None,
            )
            alias = aliases[0] if aliases else -1
            return rule(ctx, *args, fn=np.int64(address), alias=np.int64(alias))
    return _generic_lowering(ctx, *args, st=st)


if native_available():
    mlir.register_lowering(user_event_p, _cpu_lowering, platform="cpu")


def _jvp(primals, tangents, *, st):
    out = user_event_p.bind(*primals, st=st)
    if st.backend[0] != "update":
        # a primitive linear in the tangents, whose transpose is event-driven
        from ._custom_grad import tangent

        t_out = tangent(primals, tangents, st)
        return out, (list(t_out) if t_out is not None else [jnp.zeros_like(x) for x in out])
    ref = _impl_of(st, reference=True)
    diff = [
        i
        for i, (x, t) in enumerate(zip(primals, tangents))
        if jnp.issubdtype(jnp.result_type(x), jnp.floating) and type(t) is not ad.Zero
    ]
    if not diff:
        return out, [jnp.zeros_like(x) for x in out]

    def f(*xs):
        full = list(primals)
        for i, x in zip(diff, xs):
            full[i] = x
        return ref(*full, st=st)

    _, t_out = jax.jvp(f, [primals[i] for i in diff], [tangents[i] for i in diff])
    return out, list(t_out)


ad.primitive_jvps[user_event_p] = _jvp

# operands that carry the op's own batch axis (axis 0): the events and the pre/post fields
_FOLDABLE = ("events", "pre", "post")


def _batch(args, dims, *, st):
    names = ["events", "indptr", "cols"]
    for g in GROUPS:
        names += [g] * len(st.layout[g])
    names += ["extra"] * (len(args) - len(names))
    mapped = [d is not None for d in dims]
    size = next(a.shape[d] for a, d, m in zip(args, dims, mapped) if m)
    moved = [jnp.moveaxis(a, d, 0) if m else a for a, d, m in zip(args, dims, mapped)]
    foldable = st.backend[0] != "update" and all(
        not m or n in _FOLDABLE for n, m in zip(names, mapped)
    )
    if foldable:
        # one call for all lanes: [V, B, n] -> [V*B, n] on the op's own batch axis
        inner = max(
            (a.shape[1] if m else a.shape[0])
            for a, n, m in zip(moved, names, mapped)
            if n in _FOLDABLE
        )
        new = []
        for a, n, m in zip(moved, names, mapped):
            if n not in _FOLDABLE:
                new.append(a)
                continue
            a = a if m else a[None]
            a = jnp.broadcast_to(a, (size, inner, a.shape[-1]))
            new.append(a.reshape(size * inner, a.shape[-1]))
        outs = user_event_p.bind(*new, st=st)
        return [o.reshape(size, inner, o.shape[-1]) for o in outs], [0] * len(outs)

    # a synapse field, a parameter or the structure differs per lane: lane by lane
    def one(xs):
        it = iter(xs)
        full = [next(it) if m else a for a, m in zip(moved, mapped)]
        return user_event_p.bind(*full, st=st)

    outs = jax.lax.map(one, [a for a, m in zip(moved, mapped) if m])
    return list(outs), [0] * len(outs)


batching.primitive_batchers[user_event_p] = _batch


# ------------------------------------------------------------------ the user-facing op
def _structure(conn, op: str):
    """(indptr, cols, n_pre, n_post, longest row, reshape of per-synapse fields)."""
    if isinstance(conn, CSR):
        max_row = conn.max_row
        if max_row is None:
            max_row = int(np.diff(np.asarray(conn.indptr)).max()) if conn.shape[0] else 0
        return conn.indptr, conn.indices, *conn.shape, max_row, lambda x: x
    if isinstance(conn, FixedFanOut):
        n_pre, k = conn.indices.shape
        indptr = jnp.arange(n_pre + 1, dtype=jnp.int32) * k
        return indptr, conn.indices.reshape(-1), *conn.shape, k, lambda x: jnp.reshape(x, (-1,))
    if isinstance(conn, Dense):
        n_pre, n_post = conn.shape
        indptr = jnp.arange(n_pre + 1, dtype=jnp.int32) * n_post
        cols = jnp.tile(jnp.arange(n_post, dtype=jnp.int32), n_pre)
        return indptr, cols, n_pre, n_post, n_post, lambda x: jnp.reshape(x, (-1,))
    raise TypeError(
        f"{op}: connectivity {type(conn).__name__} is not supported by user-defined operators "
        "yet; use CSR, FixedFanOut, Dense or JitProb (CSR.from_dense, or build with FixedProb)."
    )


def _mantissa(x, what: str, op: str):
    unit = x.unit if isinstance(x, u.Quantity) else None
    m = jnp.asarray(u.get_mantissa(x))
    if not (jnp.issubdtype(m.dtype, jnp.floating) or jnp.issubdtype(m.dtype, jnp.integer)):
        if m.dtype != jnp.bool_:
            raise TypeError(f"{op}: {what} must be numbers, got dtype {m.dtype}.")
    if not jnp.issubdtype(m.dtype, jnp.floating):
        m = m.astype(jnp.result_type(float))
    return m, unit


class EventOp:
    """A user-defined event-driven operator (made by :func:`scatter_op`, :func:`gather_op`
    or :func:`update_op`): ``op(events, conn, pre={}, post={}, syn={}, params={})``."""

    def __init__(self, fn: Callable, kind: str, on: str = "pre", target="w", backend="event"):
        if backend not in _BACKENDS:
            raise ValueError(f"backend must be one of {_BACKENDS}, got {backend!r}.")
        self.name = getattr(fn, "__name__", "op")
        label = {"scatter": "scatter_op", "gather": "gather_op", "update": "update_op"}[kind]
        self.op = f"{label} {self.name!r}"
        self.kind, self.on, self.target, self.backend = kind, on, target, backend
        # several targets: the body returns one value per target, the op a dict of arrays
        self.targets = None if isinstance(target, str) else tuple(target)
        self.body = Body(fn, self.op, self.targets)
        self.__doc__, self.__wrapped__ = fn.__doc__, fn

    def __repr__(self) -> str:
        fields = self.body.fields or {}
        f = ", ".join(f"{g}: {list(v)}" for g, v in fields.items() if v)
        return f"EventOp({self.op}, reads {f or 'nothing'})"

    def __call__(
        self,
        events,
        conn,
        pre=None,
        post=None,
        syn=None,
        params=None,
        backend=None,
        csc=None,
        after=None,
    ):
        """Apply the operator. ``csc``: for ``update_op(on="post")``, the column view of
        ``conn`` (``event.csc_view(conn)``), built once outside a loop. ``after`` (an
        update): an array the update must wait for, typically the result of an op that
        read the same synapse fields in this step; it is not read, and lets XLA update
        the fields in place instead of copying them (O(nnz) per step)."""
        op, kind = self.op, self.kind
        if after is not None and kind != "update":
            raise TypeError(
                f"{op}: after= orders an update after the ops that read its fields; "
                f"a {kind} does not take it."
            )
        given = {"pre": pre or {}, "post": post or {}, "syn": syn or {}, "p": params or {}}
        given_units = {
            g: {k: getattr(v, "unit", None) for k, v in given[g].items()} for g in GROUPS
        }
        jit = isinstance(conn, JitProb)
        if jit:
            if kind == "update":
                raise TypeError(
                    f"{op}: a JitProb stores no synapses (each row is regenerated from its "
                    "seed), so there is nothing to update in place. Materialise it once with "
                    "conn.to_csr() and update the CSR's weights."
                )
            if "w" in given["syn"]:
                raise ValueError(
                    f"{op}: syn.w of a JitProb is its generated weight; do not pass syn['w'] "
                    "(to use weights of your own, build a CSR: conn.to_csr())."
                )
            given_units["syn"]["w"] = None if conn.unit is u.dimensionless else conn.unit
            # sizes and seed as an operand: a new size or seed reuses the compiled kernel
            seed = int(np.array(conn.seed, np.uint32).view(np.int32))
            indptr = conn.table
            cols = jnp.array([conn.n_pre, conn.n_post, conn.bound, seed], jnp.int32)
            n_pre, n_post = conn.shape
            max_row, per_syn = conn.bound, None
        else:
            indptr, cols, n_pre, n_post, max_row, per_syn = _structure(conn, op)
        self.body.ensure(given_units)
        for g in GROUPS:
            missing = [
                k for k in self.body.fields[g] if k not in given[g] and not (jit and g == "syn")
            ]
            if missing:
                label = "params" if g == "p" else g
                raise KeyError(
                    f"{op}: the body reads {g}.{missing[0]}, but the call gives "
                    f"{label}={{{', '.join(sorted(given[g]))}}}. "
                    f"Pass {label}={{'{missing[0]}': ...}}."
                )
        ev_unit = events.unit if isinstance(events, u.Quantity) else None
        ev = jnp.asarray(u.get_mantissa(events))
        if ev.dtype != jnp.bool_ and not jnp.issubdtype(ev.dtype, jnp.floating):
            ev = ev.astype(jnp.result_type(float))
        if ev.ndim not in (1, 2):
            raise ValueError(f"{op}: events must be [n] or [batch, n]; got shape {ev.shape}.")
        n_ev = n_post if kind == "gather" or (kind == "update" and self.on == "post") else n_pre
        side = "postsynaptic" if n_ev == n_post and n_ev != n_pre else "presynaptic"
        if ev.shape[-1] != n_ev:
            raise ValueError(
                f"{op}: {ev.shape[-1]} events for a {side} side of {n_ev} neurons "
                f"(connectivity {n_pre} -> {n_post})."
            )
        batched = ev.ndim == 2
        if kind == "update" and batched:
            raise ValueError(
                f"{op}: an update takes the spikes of one simulation ([n]); got {ev.shape}. "
                "Per-lane synapse values: vmap the op."
            )
        ev2 = ev if batched else ev[None]
        nnz = 1 if jit else int(cols.shape[0])
        units, operands, layout = {}, [], {}
        for g in GROUPS:
            units[g], layout[g] = {}, tuple(self.body.fields[g])
            if jit and g == "syn":
                layout[g] = tuple(k for k in layout[g] if k != "w")
                if "w" in self.body.fields[g]:
                    units[g]["w"] = given_units["syn"]["w"]
            size = {"pre": n_pre, "post": n_post}.get(g)
            for k in layout[g]:
                label = "params" if g == "p" else g
                m, unit = _mantissa(given[g][k], f"{label}[{k!r}]", op)
                units[g][k] = unit
                if g == "syn" and jit:
                    if m.ndim:
                        raise ValueError(
                            f"{op}: a JitProb stores no synapses, so syn[{k!r}] must be a "
                            f"scalar (the same value at every synapse); got shape {m.shape}. "
                            "Per-synapse values need stored synapses: conn.to_csr()."
                        )
                    m = m.reshape(1)
                elif g == "syn":
                    m = per_syn(m) if m.ndim else jnp.broadcast_to(m, (nnz,))
                    if m.shape != (nnz,):
                        raise ValueError(
                            f"{op}: syn[{k!r}] needs one value per synapse ({nnz}); got shape "
                            f"{jnp.shape(u.get_mantissa(given[g][k]))}."
                        )
                elif g == "p":
                    if m.ndim:
                        raise ValueError(
                            f"{op}: params[{k!r}] must be a scalar; got shape {m.shape}. "
                            "Per-neuron values go in pre= or post=, per-synapse ones in syn=."
                        )
                else:
                    if m.ndim == 0:
                        m = jnp.broadcast_to(m, (size,))
                    if m.shape[-1] != size or m.ndim > 2:
                        raise ValueError(
                            f"{op}: {g}[{k!r}] needs one value per {g}synaptic neuron "
                            f"({size}), or [batch, {size}]; got shape {m.shape}."
                        )
                    m = m if m.ndim == 2 else m[None]
                operands.append(m)
        out_units = self.body.out_units(units)
        extra, old_index = [], ()
        if kind == "update":
            targets = self.targets or (self.target,)
            if len(set(targets)) != len(targets):
                raise ValueError(f"{op}: a target appears twice in {list(targets)}.")
            fields = list(layout["syn"])
            base = 3 + len(layout["pre"]) + len(layout["post"])
            n_fields = 3 + sum(len(layout[g]) for g in GROUPS)
            new_units = []
            for target, out_unit in zip(targets, out_units):
                if target not in given["syn"]:
                    raise KeyError(
                        f"{op}: updates syn[{target!r}], which the call does not give "
                        f"(syn={{{', '.join(sorted(given['syn']))}}}). Pass "
                        f"syn={{{target!r}: ...}}."
                    )
                old, target_unit = _mantissa(given["syn"][target], "the target", op)
                old = per_syn(old) if old.ndim else jnp.broadcast_to(old, (nnz,))
                if old.shape != (nnz,):
                    raise ValueError(
                        f"{op}: syn[{target!r}] needs one value per synapse ({nnz}); got "
                        f"shape {old.shape}."
                    )
                if (out_unit is None) != (target_unit is None) or (
                    out_unit is not None and out_unit.dim is not target_unit.dim
                ):
                    what = (
                        "the body returns"
                        if self.targets is None
                        else (f"the body's value for {target!r} is in")
                    )
                    raise u.UnitMismatchError(
                        f"{op}: {what} {getattr(out_unit, 'name', 'a plain number')} "
                        f"but syn[{target!r}] is in "
                        f"{getattr(target_unit, 'name', 'plain numbers')}."
                    )
                new_units.append(target_unit)
                # the target as an operand once: a body that reads syn.<target> reads the
                # same buffer the update writes in place (two operands would force a copy)
                if target in fields and units["syn"][target] == target_unit:
                    old_index += (base + fields.index(target),)
                else:
                    old_index += (n_fields + len(extra),)
                    extra.append(old)
            out_units = tuple(new_units)
            if after is not None:
                extra.append(jnp.asarray(u.get_mantissa(after)))
            if self.on == "post":
                from ._plasticity import csc_view

                if csc is None:
                    csc = csc_view(CSR(1.0, cols, indptr, (n_pre, n_post)))
                extra += [csc.colptr, csc.perm, csc.rows]
                if isinstance(csc.colptr, jax.core.Tracer):
                    longest = n_pre  # (the longest column is not known: the bound)
                else:
                    counts = np.diff(np.asarray(csc.colptr))
                    longest = int(counts.max()) if counts.size else 0
                max_row = (max_row, longest)
            else:
                max_row = (max_row, 0)
        mode = backend or self.backend
        if mode not in _BACKENDS:
            raise ValueError(f"{op}: backend must be one of {_BACKENDS}, got {mode!r}.")
        if mode == "pallas" and (kind == "update" or jit):
            raise ValueError(
                f"{op}: the Pallas kernel serves scatter_op and gather_op on stored synapses "
                f"(CSR, FixedFanOut, Dense); this is {'a JitProb' if jit else 'an update'}. "
                "Use backend='event' (numba or the lax loop)."
            )
        st = _Static(
            body=self.body,
            units=units,
            out_units=out_units,
            layout=layout,
            n_pre=n_pre,
            n_post=n_post,
            max_row=max_row,
            backend=(kind, self.on, mode),
            old_index=old_index,
            conn=(
                ("jit", conn.seed, DIST_CODES[conn.dist], conn.w0, conn.w1, conn._dtype().name)
                if jit
                else None
            ),
        )
        outs = user_event_p.bind(
            ev2, jnp.asarray(indptr), jnp.asarray(cols), *operands, *extra, st=st
        )
        if kind == "update":
            news = [x if unit is None else u.Quantity(x, unit) for x, unit in zip(outs, out_units)]
            return news[0] if self.targets is None else dict(zip(self.targets, news))
        (out,) = outs
        if not batched:
            out = out[0]
        (unit,) = out_units
        if ev_unit is not None:
            unit = ev_unit if unit is None else ev_unit * unit
        return out if unit is None else u.Quantity(out, unit)


def scatter_op(fn: Callable | None = None, *, backend: str = "event") -> Any:
    """Define ``out[j] = sum over spiking i, synapses k: i -> j of s[i] * body(pre[i],
    post[j], syn[k], p)`` (``spikes @ conn`` with a body of your own).

    Example:
        >>> import jax.numpy as jnp
        >>> from neurodyn import event
        >>> @event.scatter_op
        ... def drive(pre, post, syn, p):
        ...     return syn.w * p.g * (1.0 + post.trace)
        >>> conn = event.CSR.from_dense(jnp.array([[0.0, 2.0], [1.0, 3.0]]))
        >>> out = drive(jnp.array([True, False]), conn, post={"trace": jnp.array([0.0, 1.0])},
        ...             syn={"w": conn.data}, params={"g": 0.5})
        >>> out.tolist()
        [0.0, 2.0]
    """
    if fn is None:
        return lambda f: EventOp(f, "scatter", backend=backend)
    return EventOp(fn, "scatter", backend=backend)


def gather_op(fn: Callable | None = None, *, backend: str = "event") -> Any:
    """Define ``out[i] = sum over synapses k: i -> j of x[j] * body(pre[i], post[j],
    syn[k], p)`` (``conn @ x`` with a body of your own); ``x`` is the first argument."""
    if fn is None:
        return lambda f: EventOp(f, "gather", backend=backend)
    return EventOp(fn, "gather", backend=backend)


def update_op(on: str = "pre", target="w", *, backend: str = "event") -> Callable:
    """Define a per-synapse update for the synapses of spiking rows (``on="pre"``) or
    columns (``on="post"``): the op returns the new ``syn[target]`` array, the body's
    value there and the old value elsewhere (plasticity rules).

    Several fields in one pass: ``target=("w", "apost")``; the body returns a dict
    ``{"w": ..., "apost": ...}`` (or a tuple in target order) and the op a dict of the new
    arrays. Every body value is computed from the old values (a simultaneous update),
    and each array is written in place.

    Example (additive STDP depression on presynaptic spikes):
        >>> import jax.numpy as jnp
        >>> from neurodyn import event
        >>> @event.update_op(on="pre")
        ... def depress(pre, post, syn, p):
        ...     return jnp.maximum(syn.w - p.A * post.trace, 0.0)
        >>> conn = event.CSR.from_dense(jnp.array([[0.5, 0.5], [0.5, 0.0]]))
        >>> w = depress(jnp.array([True, False]), conn, post={"trace": jnp.array([1.0, 0.2])},
        ...             syn={"w": conn.data}, params={"A": 0.1})
        >>> [round(x, 3) for x in w.tolist()]
        [0.4, 0.48, 0.5]

    Two fields at once (a per-synapse trace that jumps, a weight that reads it):
        >>> @event.update_op(on="pre", target=("w", "x"))
        ... def potentiate(pre, post, syn, p):
        ...     x = syn.x + 1.0
        ...     return {"w": syn.w + p.A * x, "x": x}
        >>> new = potentiate(jnp.array([True, False]), conn, syn={"w": conn.data,
        ...                  "x": jnp.zeros(3)}, params={"A": 0.1})
        >>> [round(v, 3) for v in new["w"].tolist()], new["x"].tolist()
        ([0.6, 0.6, 0.5], [1.0, 1.0, 0.0])
    """
    if on not in ("pre", "post"):
        raise ValueError(f"update_op: on must be 'pre' or 'post', got {on!r}.")

    def wrap(fn):
        return EventOp(fn, "update", on=on, target=target, backend=backend)

    return wrap
