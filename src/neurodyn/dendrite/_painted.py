"""A mechanism painted on a set of a cell's compartments (its state variables as States,
read and written by slices of V), and the views that monitors read at one compartment."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

import neurodyn.units as u
from neurodyn.dyn import _lanes
from neurodyn.state import Hidden, Module

from ._mechanisms import Mechanism


class _NodeView:
    """``cell.V`` at one compartment, for monitors (``.value`` is read at every step)."""

    def __init__(self, cell, node: int):
        self.cell, self.node = cell, node

    @property
    def value(self):
        return self.cell.V.value[..., self.node]


class _MechView:
    """A painted mechanism's state variable or current density at one compartment, for
    monitors (computed from V and the states after each step)."""

    def __init__(self, cell, painted, j: int, var: str | None, ion: str | None):
        self.cell, self.painted, self.j, self.var, self.ion = cell, painted, j, var, ion

    @property
    def value(self):
        p, j = self.painted, self.j
        if self.var is not None:
            return getattr(p, self.var).value[..., j]
        v_all = self.cell.V.value.to_value(u.mV)
        v = v_all[..., p.nodes[j]]
        k = len(p.nodes)
        params = {}
        for name, val in p.mech.params().items():
            val = jnp.asarray(_lanes.take(val, v_all.ndim))
            params[name] = val[..., j] if val.ndim and val.shape[-1] == k and k > 1 else val
            if val.ndim and val.shape[-1] == 1 and k >= 1:
                params[name] = val[..., 0]
        states = {name: getattr(p, name).value[..., j] for name in p.mech.states}
        out = p.mech.currents(v, states, params)
        if self.ion is None:
            total = sum(out.values())
            return u.Quantity(total, u.mA / u.cm**2)
        return u.Quantity(out[self.ion], u.mA / u.cm**2)


class _Painted(Module):
    """A mechanism on a set of compartments, with its state variables as States."""

    def __init__(self, mech: Mechanism, nodes, area, where: str, n_nodes: int):
        self.mech = mech
        self.nodes = np.asarray(nodes, np.int64)
        self.area = np.asarray(area, np.float64)
        self.where = where
        self.n_nodes = n_nodes
        # for every node of the cell, its position in `nodes` (len(nodes) if absent)
        self.gather = np.full(n_nodes, len(self.nodes), np.int64)
        self.gather[self.nodes] = np.arange(len(self.nodes))
        # the nodes as runs of consecutive indices (a region usually is one or a few):
        # slices and pads instead of gathers (XLA's gathers are slow on the CPU)
        cuts = np.flatnonzero(np.diff(self.nodes) != 1) + 1
        starts = np.concatenate([[0], cuts]).astype(int)
        stops = np.concatenate([cuts, [len(self.nodes)]]).astype(int)
        self.runs = [
            (int(self.nodes[a]), int(self.nodes[b - 1]) + 1) for a, b in zip(starts, stops)
        ]
        if not len(self.nodes) or len(self.runs) > 8 or np.any(np.diff(self.nodes) <= 0):
            self.runs = None

    def take(self, x):
        """``x[..., nodes]``."""
        if self.runs is None:
            return x[..., self.nodes]
        parts = [x[..., a:b] for a, b in self.runs]
        return parts[0] if len(parts) == 1 else jnp.concatenate(parts, axis=-1)

    def put(self, y):
        """``y`` (``(..., len(nodes))``) on every node of the cell, 0 off the nodes."""
        if self.runs is None:
            return jnp.take(y, self.gather, axis=-1, mode="fill", fill_value=0)
        # a sum of pads: XLA fuses them into their consumers (a concatenation it keeps)
        out, done = 0.0, 0
        for a, b in self.runs:
            width = [(0, 0)] * (y.ndim - 1) + [(a, self.n_nodes - b)]
            out = out + jnp.pad(y[..., done : done + b - a], width)
            done += b - a
        return out

    def _steady(self, v, temperature_c) -> dict:
        """The states at rest at ``v``; computed once on a scalar when every node starts
        at the same V (eager ops on one shape: fast to build many cells)."""
        vi = v[..., self.nodes]
        m = None if isinstance(vi, jax.core.Tracer) else np.asarray(vi)
        if m is not None and m.size and np.all(m == m.flat[0]):
            vi0 = jnp.asarray(m.flat[0], dtype=vi.dtype)
            out = self.mech.steady_state(vi0, self.mech.params(), temperature_c)
        else:
            out = self.mech.steady_state(vi, self.mech.params(), temperature_c)
        return {
            k: jnp.broadcast_to(val, vi.shape) + jnp.zeros(vi.shape, vi.dtype)
            for k, val in out.items()
        }

    def init(self, v, temperature_c):
        for k, val in self._steady(v, temperature_c).items():
            setattr(self, k, Hidden(val))

    def reset(self, v, temperature_c):
        for k, val in self._steady(v, temperature_c).items():
            getattr(self, k).value = val
