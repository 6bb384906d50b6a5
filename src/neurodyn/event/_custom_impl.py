"""The pure-JAX backends of the user event operators (:mod:`._custom`): the masked
O(nnz) references (the test oracles) and the event-driven ``lax`` loops over the synapses
of active rows (the fallback without numba), for stored and procedural (JitProb)
connectivity."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ._body import GROUPS
from ._jitconn import generate_rows
from ._prim_rules import _rows_of


def _split(args, st):
    """(events, indptr, cols, {group: {field: array}}, extra) from the flat operands."""
    events, indptr, cols, *rest = args
    it = iter(rest)
    groups = {g: {k: next(it) for k in st.layout[g]} for g in GROUPS}
    return events, indptr, cols, groups, list(it)


def _dtype(events, groups):
    floats = [x.dtype for g in groups.values() for x in g.values()]
    floats = [d for d in floats if jnp.issubdtype(d, jnp.floating)]
    if jnp.issubdtype(events.dtype, jnp.floating):
        floats.append(events.dtype)
    return jnp.result_type(*floats) if floats else jnp.result_type(float)


def _vals(st, pre, post, syn, p) -> list:
    """The body's values (one array per output) on broadcast field arrays."""
    vals = {"pre": pre, "post": post, "syn": syn, "p": p}
    return st.body.vectorised(vals, st.units, st.out_units)


def _every_synapse(st, g, indptr, cols):
    """(presynaptic row of each synapse, the body on every synapse ``[B, nnz]``)."""
    rows = _rows_of(indptr, cols.shape[0])
    vals = _vals(
        st,
        {k: v[:, rows] for k, v in g["pre"].items()},
        {k: v[:, cols] for k, v in g["post"].items()},
        {k: v[None, :] for k, v in g["syn"].items()},
        g["p"],
    )
    return rows, vals


def _scatter_ref(*args, st):
    events, indptr, cols, g, _ = _split(args, st)
    rows, (vals,) = _every_synapse(st, g, indptr, cols)
    dtype = _dtype(events, g)
    contrib = events.astype(dtype)[:, rows] * vals
    out = jnp.zeros((events.shape[0], st.n_post), dtype)
    return [out.at[:, cols].add(jnp.broadcast_to(contrib, (events.shape[0], cols.shape[0])))]


def _for_active(events, init, fn):
    """``acc = fn(acc, i)`` for each row ``i`` active in some batch row, in order: a
    scalar loop (XLA:CPU runs these well), the ``k``-th active row found by a binary
    search in the running count of active rows (no compaction pass)."""
    active = jnp.any(events != 0, axis=0)
    count = jnp.cumsum(active, dtype=jnp.int32)

    def body(k, acc):
        i = jnp.searchsorted(count, k + 1, side="left", method="scan").astype(jnp.int32)
        return fn(acc, i)

    return jax.lax.fori_loop(0, count[-1], body, init)


def _scatter_event(*args, st):
    """The event-driven loop: for each active row, for each of its synapses, the body
    on scalars added to its column (all batch rows at once)."""
    events, indptr, cols, g, _ = _split(args, st)
    nnz, b = cols.shape[0], events.shape[0]
    dtype = _dtype(events, g)
    out = jnp.zeros((b, st.n_post), dtype)
    if nnz == 0 or not st.max_row:
        return [out]
    ev = events.astype(dtype)
    plain = b == 1 and events.dtype == jnp.bool_  # active rows spike: no multiply

    def row(acc, i):
        pre = {k: v[:, i] for k, v in g["pre"].items()}

        def synapse(q, acc):
            c = cols[q]
            val = _synapse_value(st, g, pre, q, c)
            if plain:
                return acc.at[c].add(val.reshape(()).astype(dtype))
            return acc.at[:, c].add(ev[:, i] * val.astype(dtype))

        return jax.lax.fori_loop(indptr[i], indptr[i + 1], synapse, acc)

    if plain:
        return [_for_active(events, out[0], row)[None]]
    return [_for_active(events, out, row)]


def _synapse_value(st, g, pre, q, c):
    """The body at synapse ``q`` (column ``c``) of a row whose presynaptic fields are
    ``pre`` (the scalar loops' one evaluation)."""
    (val,) = _vals(
        st,
        pre,
        {k: v[:, c] for k, v in g["post"].items()},
        {k: v[q] for k, v in g["syn"].items()},
        g["p"],
    )
    return val


def _gather_event(*args, st):
    """The gather as a scalar loop over every row's synapses (a gather reads every row;
    the loop is ~10x faster than the vectorised reference on CPU)."""
    x, indptr, cols, g, _ = _split(args, st)
    b = x.shape[0]
    dtype = _dtype(x, g)
    out = jnp.zeros((b, st.n_pre), dtype)
    if cols.shape[0] == 0 or not st.n_pre:
        return [out]
    xf = x.astype(dtype)

    def row(i, out):
        pre = {k: v[:, i] for k, v in g["pre"].items()}

        def synapse(q, acc):
            c = cols[q]
            return acc + xf[:, c] * _synapse_value(st, g, pre, q, c).astype(dtype)

        acc = jax.lax.fori_loop(indptr[i], indptr[i + 1], synapse, jnp.zeros((b,), dtype))
        return out.at[:, i].set(acc)

    return [jax.lax.fori_loop(0, st.n_pre, row, out)]


def _gather_ref(*args, st):
    x, indptr, cols, g, _ = _split(args, st)
    rows, (vals,) = _every_synapse(st, g, indptr, cols)
    dtype = _dtype(x, g)
    contrib = jnp.broadcast_to(x.astype(dtype)[:, cols] * vals, (x.shape[0], cols.shape[0]))
    return [jax.vmap(lambda c: jax.ops.segment_sum(c, rows, st.n_pre))(contrib)]


def _update_ref(*args, st):
    """New values of the target fields: the body on the synapses of spiking rows (on
    pre) or columns (on post), the old values elsewhere."""
    events, indptr, cols, g, extra = _split(args, st)
    olds = [args[i] for i in st.old_index]
    nnz = cols.shape[0]
    rows = _rows_of(indptr, nnz)
    vals = _vals(
        st,
        {k: v[0, rows] for k, v in g["pre"].items()},
        {k: v[0, cols] for k, v in g["post"].items()},
        g["syn"],
        g["p"],
    )
    hit = (events[0] != 0)[rows if st.backend[1] == "pre" else cols]
    return [jnp.where(hit, v.astype(old.dtype), old) for v, old in zip(vals, olds)]


def _update_event(*args, st):
    """The event-driven loop of an update: for each active row (column), for each of
    its synapses, the body's values written in place."""
    events, indptr, cols, g, extra = _split(args, st)
    olds, csc = tuple(args[i] for i in st.old_index), extra[-3:]
    nnz = cols.shape[0]
    if nnz == 0 or not st.max_row:
        return list(olds)
    on_post = st.backend[1] == "post"
    # a target the body also reads is read from the loop's own array (each synapse is
    # visited once, so it still holds the old value there): reading the operand would
    # keep it alive beside the array updated in place, a copy of O(nnz) per call
    base = 3 + len(st.layout["pre"]) + len(st.layout["post"])
    own = {
        name: st.old_index.index(base + f)
        for f, name in enumerate(st.layout["syn"])
        if base + f in st.old_index
    }

    def row(acc, i):
        if on_post:  # the column's synapses through the CSC view
            colptr, perm, crow = csc
            lo, hi = colptr[i], colptr[i + 1]
        else:
            lo, hi = indptr[i], indptr[i + 1]

        def synapse(q, acc):
            if on_post:
                k, r, c = perm[q], crow[q], i
            else:
                k, r, c = q, i, cols[q]
            vals = _vals(
                st,
                {n: v[0, r] for n, v in g["pre"].items()},
                {n: v[0, c] for n, v in g["post"].items()},
                {n: (acc[own[n]] if n in own else v)[k] for n, v in g["syn"].items()},
                g["p"],
            )
            return tuple(a.at[k].set(v.astype(a.dtype)) for a, v in zip(acc, vals))

        return jax.lax.fori_loop(lo, hi, synapse, acc)

    return list(_for_active(events, olds, row))


# ------------------------------------------------------------------ procedural connectivity
# A JitProb stores no synapses: operands 1 and 2 are its skip table and [n_pre, n_post,
# bound, seed]; each row's columns and weights are regenerated from the seed
# (``_jitconn``), the same on every backend. ``syn.w`` is the generated weight; other
# synapse fields are scalars (one value for every synapse).
def _gen_w(st) -> bool:
    return st.conn is not None and "w" in st.body.fields["syn"]


def _out_dtype(events, groups, st):
    d = _dtype(events, groups)
    if _gen_w(st):
        d = jnp.result_type(d, jnp.dtype(st.conn[5]))
    return d


def _jit_rows(st, table, rows):
    """Columns ``[R, bound]`` (``n_post``: none) and weights of the rows ``rows``."""
    _, seed, dist, w0, w1, wdt = st.conn
    return generate_rows(rows, seed, table, st.n_post, st.max_row, dist, w0, w1, jnp.dtype(wdt))


def _jit_vals(st, g, rows, cols, w):
    """The body on the synapses of the rows ``rows`` ``[B, R, bound]`` (zero where none)."""
    c = jnp.minimum(cols, st.n_post - 1)
    syn = {k: v[0] for k, v in g["syn"].items()}
    if _gen_w(st):
        syn["w"] = w[None]
    (vals,) = _vals(
        st,
        {k: v[:, rows][:, :, None] for k, v in g["pre"].items()},
        {k: v[:, c] for k, v in g["post"].items()},
        syn,
        g["p"],
    )
    return jnp.where((cols < st.n_post)[None], vals, 0)


def _jit_scatter_ref(*args, st):
    events, table, _, g, _ = _split(args, st)
    dtype = _out_dtype(events, g, st)
    rows = jnp.arange(st.n_pre, dtype=jnp.int32)
    cols, w = _jit_rows(st, table, rows)
    contrib = events.astype(dtype)[:, :, None] * _jit_vals(st, g, rows, cols, w)
    out = jnp.zeros((events.shape[0], st.n_post), dtype)
    b = events.shape[0]
    return [out.at[:, cols.reshape(-1)].add(contrib.reshape(b, -1).astype(dtype), mode="drop")]


def _jit_scatter_event(*args, st):
    events, table, _, g, _ = _split(args, st)
    dtype = _out_dtype(events, g, st)
    b = events.shape[0]
    out = jnp.zeros((b, st.n_post), dtype)
    if not st.max_row or not st.n_pre:
        return [out]
    ev = events.astype(dtype)

    def row(acc, i):  # one active row, generated as a vector of its bound
        rows = i[None]
        cols, w = _jit_rows(st, table, rows)
        contrib = ev[:, rows][:, :, None] * _jit_vals(st, g, rows, cols, w)
        return acc.at[:, cols[0]].add(contrib[:, 0].astype(dtype), mode="drop")

    return [_for_active(events, out, row)]


def _jit_gather_ref(*args, st):
    x, table, _, g, _ = _split(args, st)
    dtype = _out_dtype(x, g, st)
    rows = jnp.arange(st.n_pre, dtype=jnp.int32)
    cols, w = _jit_rows(st, table, rows)
    xv = jnp.concatenate([x.astype(dtype), jnp.zeros((x.shape[0], 1), dtype)], axis=1)
    return [jnp.sum(xv[:, cols] * _jit_vals(st, g, rows, cols, w), axis=-1).astype(dtype)]


_IMPLS = {
    ("scatter", "event"): _scatter_event,
    ("scatter", "reference"): _scatter_ref,
    ("gather", "event"): _gather_event,  # a gather reads every row: not event-driven
    ("gather", "reference"): _gather_ref,
    ("update", "event"): _update_event,
    ("update", "reference"): _update_ref,
}
_JIT_IMPLS = {
    ("scatter", "event"): _jit_scatter_event,
    ("scatter", "reference"): _jit_scatter_ref,
    ("gather", "event"): _jit_gather_ref,
    ("gather", "reference"): _jit_gather_ref,
}
