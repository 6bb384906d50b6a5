"""Weight updates on events (the building block of STDP on event connectivity).

Only the synapses of the neurons that spiked are touched: the work is O(spikes x fan-out),
not O(nnz). On CPU the native kernel updates the weight array in place when XLA can alias
it (a loop-carried weight, as in a simulation loop); elsewhere the pure-JAX reference runs.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from neurodyn.units import Quantity
from neurodyn.units._quantity import _make

from . import _ops
from ._connectivity import CSR, _is_concrete

__all__ = ["update_on_pre", "update_on_post", "CSCView", "csc_view"]


class CSCView(NamedTuple):
    """The columns of a CSR: column ``j``'s synapses are ``perm[colptr[j]:colptr[j+1]]``
    (positions in the CSR's ``indices``/``data``), their presynaptic neurons ``rows[...]``."""

    colptr: jax.Array
    perm: jax.Array
    rows: jax.Array


def csc_view(conn: CSR) -> CSCView:
    """The column view of ``conn``, computed with numpy when its structure is concrete
    (build it once and pass it to :func:`update_on_post` in a loop), else with jnp."""
    if not isinstance(conn, CSR):
        raise TypeError(f"csc_view expects a CSR, got {type(conn).__name__}.")
    if _is_concrete(conn.indices) and _is_concrete(conn.indptr):
        indices = np.asarray(conn.indices)
        rows = np.repeat(np.arange(conn.n_pre, dtype=np.int32), np.diff(np.asarray(conn.indptr)))
        perm = np.argsort(indices, kind="stable").astype(np.int32)
        counts = np.bincount(indices, minlength=conn.n_post)
        colptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
        return CSCView(jnp.asarray(colptr), jnp.asarray(perm), jnp.asarray(rows[perm]))
    rows = conn.row_ids()
    perm = jnp.argsort(conn.indices, stable=True).astype(jnp.int32)
    counts = jnp.bincount(conn.indices, length=conn.n_post)
    colptr = jnp.concatenate([jnp.zeros(1, jnp.int32), jnp.cumsum(counts).astype(jnp.int32)])
    return CSCView(colptr, perm, rows[perm])


def _bound(x, name: str, unit) -> float:
    """A clip bound as a float in the weights' unit (plain numbers are taken as such)."""
    if x is None:
        return -math.inf if name == "w_min" else math.inf
    if isinstance(x, Quantity):
        if unit is None or x.unit.dim is not unit.dim:
            raise ValueError(f"{name} = {x} does not have the weights' unit ({unit}).")
        x = x.to_value(unit)
    return float(x)


def _plain(x):
    return None if x is None else jnp.asarray(x.mantissa if isinstance(x, Quantity) else x)


def _parts(conn: CSR, trace, spikes, n_spk: int, n_trace: int, name: str):
    if not isinstance(conn, CSR):
        raise TypeError(f"{name} expects a CSR connectivity, got {type(conn).__name__}.")
    if conn.homogeneous:
        raise ValueError(f"{name} needs per-synapse weights; the CSR has one shared weight.")
    w, unit = (
        (conn.data.mantissa, conn.data.unit)
        if isinstance(conn.data, Quantity)
        else (conn.data, None)
    )
    if isinstance(trace, Quantity):
        if unit is None or trace.unit.dim is not unit.dim:
            raise ValueError(f"{name}: the trace's unit {trace.unit} does not match the weights.")
        trace = trace.to_value(unit)
    trace = jnp.broadcast_to(jnp.asarray(trace, w.dtype), (n_trace,))
    spikes = jnp.asarray(spikes)
    if spikes.shape != (n_spk,):
        raise ValueError(
            f"{name}: spikes must have shape ({n_spk},) for this {conn.shape} CSR, "
            f"got {spikes.shape}."
        )
    return w, unit, trace, spikes if spikes.dtype == jnp.bool_ else spikes != 0


def _apply(conn, w, unit, segments, spikes, trace, w_min, w_max, after) -> CSR:
    """The update through ``segments`` = (ptr, syn, other) of one side; a new CSR."""
    new = _ops.csr_update(
        w,
        *segments,
        spikes,
        trace,
        lo=_bound(w_min, "w_min", unit),
        hi=_bound(w_max, "w_max", unit),
        after=_plain(after),
    )
    return conn.with_data(new if unit is None else _make(new, unit))


def update_on_pre(conn: CSR, pre_spikes, post_trace, w_min=None, w_max=None, after=None) -> CSR:
    """``w_ij = clip(w_ij + post_trace_j, w_min, w_max)`` for every synapse whose
    presynaptic neuron i spiked (e.g. LTD: ``post_trace = -A_minus * x_post``); the other
    weights are unchanged. ``after``: see below. Returns a new CSR.

    ``after`` (both functions): an array the update must wait for, typically the result
    of propagating spikes through these same weights in the same step. It is not read;
    it lets XLA update the weights in place instead of copying them (O(nnz) per step)."""
    w, unit, tr, spk = _parts(
        conn, post_trace, pre_spikes, conn.n_pre, conn.n_post, "update_on_pre"
    )
    empty = jnp.zeros(0, jnp.int32)
    return _apply(conn, w, unit, (conn.indptr, empty, conn.indices), spk, tr, w_min, w_max, after)


def update_on_post(
    conn: CSR,
    post_spikes,
    pre_trace,
    w_min=None,
    w_max=None,
    csc: CSCView | None = None,
    after=None,
) -> CSR:
    """``w_ij = clip(w_ij + pre_trace_i, w_min, w_max)`` for every synapse whose
    postsynaptic neuron j spiked (e.g. LTP: ``pre_trace = A_plus * x_pre``); the other
    weights are unchanged. ``csc``: the column view from :func:`csc_view`, computed here
    when not given (pass it when calling in a loop). ``after``: as in
    :func:`update_on_pre`. Returns a new CSR."""
    w, unit, tr, spk = _parts(
        conn, pre_trace, post_spikes, conn.n_post, conn.n_pre, "update_on_post"
    )
    if csc is None:
        csc = csc_view(conn)
    elif csc.colptr.shape != (conn.n_post + 1,) or csc.perm.shape != (conn.nnz,):
        raise ValueError(
            f"update_on_post: the column view has colptr {csc.colptr.shape} and perm "
            f"{csc.perm.shape}; this CSR needs ({conn.n_post + 1},) and ({conn.nnz},). "
            "Build it with csc_view(conn) for this connectivity."
        )
    return _apply(conn, w, unit, (csc.colptr, csc.perm, csc.rows), spk, tr, w_min, w_max, after)
