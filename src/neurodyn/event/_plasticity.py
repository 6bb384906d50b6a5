"""Weight updates on events (the building block of STDP on event connectivity)."""

from __future__ import annotations

import jax.numpy as jnp

from neurodyn.units import Quantity
from neurodyn.units._quantity import _make

from ._connectivity import CSR

__all__ = ["update_on_pre", "update_on_post"]


def _clip(w, w_min, w_max):
    if w_min is not None or w_max is not None:
        w = jnp.clip(w, w_min, w_max)
    return w


def _parts(conn: CSR, trace, name):
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
    return w, unit, trace


def update_on_pre(conn: CSR, pre_spikes, post_trace, w_min=None, w_max=None) -> CSR:
    """``w_ij += post_trace_j`` for every synapse whose presynaptic neuron i spiked
    (e.g. LTD: ``post_trace = -A_minus * x_post``). Returns a new CSR."""
    w, unit, tr = _parts(conn, post_trace, "update_on_pre")
    rows = conn.row_ids()
    dw = jnp.where(jnp.asarray(pre_spikes, bool)[rows], jnp.asarray(tr)[conn.indices], 0)
    new = _clip(w + dw.astype(w.dtype), w_min, w_max)
    return conn.with_data(new if unit is None else _make(new, unit))


def update_on_post(conn: CSR, post_spikes, pre_trace, w_min=None, w_max=None) -> CSR:
    """``w_ij += pre_trace_i`` for every synapse whose postsynaptic neuron j spiked
    (e.g. LTP: ``pre_trace = A_plus * x_pre``). Returns a new CSR."""
    w, unit, tr = _parts(conn, pre_trace, "update_on_post")
    rows = conn.row_ids()
    dw = jnp.where(jnp.asarray(post_spikes, bool)[conn.indices], jnp.asarray(tr)[rows], 0)
    new = _clip(w + dw.astype(w.dtype), w_min, w_max)
    return conn.with_data(new if unit is None else _make(new, unit))
