"""A multi-compartment neuron: a morphology, discretised as NEURON does, with mechanisms
painted on regions, point processes placed at locations, and NEURON's fixed-step
numerics (backward Euler or Crank-Nicolson for V, then the gates at the new V)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

import neurodyn.units as u
from neurodyn.dyn import Dynamics, _clock
from neurodyn.dyn._init import initialize
from neurodyn.state import Hidden, Module

from ._geometry import d_lambda_ncomp, discretize
from ._mechanisms import IClamp, Mechanism, _check
from ._morphology import Morphology
from ._solver import TreeSolver

__all__ = ["Cell", "Location"]

_METHODS = ("backward_euler", "crank_nicolson")


@dataclass(frozen=True)
class Location:
    """A place on a cell: ``branch`` and ``x`` (0..1 along it) and the compartment that
    holds it (``node``, the cell's internal index)."""

    branch: int
    x: float
    node: int
    name: str

    def __repr__(self) -> str:
        return f"Location({self.name}({self.x:g}))"


class _NodeView:
    """``cell.V`` at one compartment, for monitors (``.value`` is read at every step)."""

    def __init__(self, cell, node: int):
        self.cell, self.node = cell, node

    @property
    def value(self):
        return self.cell.V.value[..., self.node]


class _Painted(Module):
    """A mechanism on a set of compartments, with its state variables as States."""

    def __init__(self, mech: Mechanism, nodes, area, where: str, n_nodes: int):
        self.mech = mech
        self.nodes = np.asarray(nodes, np.int64)
        self.area = np.asarray(area, np.float64)
        self.where = where
        # for every node of the cell, its position in `nodes` (len(nodes) if absent)
        self.gather = np.full(n_nodes, len(self.nodes), np.int64)
        self.gather[self.nodes] = np.arange(len(self.nodes))

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


class Cell(Dynamics):
    """A multi-compartment neuron on a :class:`~neurodyn.dendrite.Morphology`.

    Every branch is split into ``ncomp`` compartments (NEURON's ``nseg``; areas and axial
    resistances from the 3-D points as NEURON computes them, see :mod:`._geometry`). Each
    step (``update``, called by ``nd.run``) follows NEURON's fixed step
    (``secondorder = 0`` or ``2``): the membrane currents and their conductances at the
    present V and gates, and point-process currents at the middle of the step, give a
    linear tree system for the change of V, solved exactly in O(n) (:mod:`._solver`);
    then the gates advance over the step at the new V.

    Args:
        morphology: a :class:`Morphology`.
        ncomp: compartments per branch: an int, one int per branch, or ``"d_lambda"``
            (NEURON's d_lambda rule with ``d_lambda`` and ``d_lambda_freq``).
        cm: specific membrane capacitance (default 1 µF/cm²).
        Ra: axial resistivity (default 35.4 ohm cm, NEURON's).
        temperature: for the mechanisms' Q10 (a Celsius temperature or a plain number in
            degrees C; default 6.3, NEURON's ``celsius``).
        V_initializer: the initial V of every compartment (NEURON's ``v_init``); gates
            start at their steady state there.
        method: ``"backward_euler"`` (NEURON's default) or ``"crank_nicolson"``
            (``secondorder = 2``).
        d_lambda, d_lambda_freq: the d_lambda rule's fraction (0.1) and frequency (100 Hz).
        compress: solve the tree in O(log n) rounds (True) or Hines' level order (False:
            the same solution, one round per tree level, slow to compile for big cells).

    Example:
        >>> import neurodyn as nd
        >>> import neurodyn.units as u
        >>> from neurodyn import dendrite as D
        >>> m = D.Morphology.ball_and_stick(20 * u.um, 200 * u.um, 2 * u.um)
        >>> cell = D.Cell(m, ncomp=5, Ra=100 * u.ohm * u.cm)
        >>> cell.paint("soma", D.HH())
        >>> cell.paint("dendrites", D.Leak(g=1e-4 * u.S / u.cm**2, E=-65 * u.mV))
        >>> soma = cell.location("soma", 0.5)
        >>> cell.place(soma, D.IClamp(1 * u.ms, 5 * u.ms, 0.5 * u.nA))
        >>> res = nd.run(cell, 10 * u.ms, dt=0.025 * u.ms, monitors={"v": cell.V_at(soma)})
        >>> bool(res["v"].to_value(u.mV).max() > 0)   # it fired
        True
    """

    def __init__(
        self,
        morphology: Morphology,
        ncomp=1,
        *,
        cm=1.0 * u.uF / u.cm**2,
        Ra=35.4 * u.ohm * u.cm,
        temperature=6.3,
        V_initializer=-65.0 * u.mV,
        method: str = "backward_euler",
        d_lambda: float = 0.1,
        d_lambda_freq=100.0 * u.Hz,
        compress: bool = True,
        name: str | None = None,
    ):
        if not isinstance(morphology, Morphology):
            raise TypeError(
                "Cell: morphology must be a Morphology (Morphology.from_swc(path), "
                f"Morphology.ball_and_stick(...)); got {type(morphology).__name__}."
            )
        self.name = name or "Cell"
        self.morphology = morphology
        self.cm = float(
            _check(cm, u.uF / u.cm**2, "cm", "Cell", "positive").to_value(u.uF / u.cm**2)
        )
        self.Ra = float(_check(Ra, u.ohm * u.cm, "Ra", "Cell", "positive").to_value(u.ohm * u.cm))
        self.temperature_c = _celsius(temperature)
        if method not in _METHODS:
            raise ValueError(f"Cell: method must be one of {_METHODS}; got {method!r}.")
        self.method = method
        if isinstance(ncomp, str):
            if ncomp != "d_lambda":
                raise ValueError(
                    f"Cell: ncomp must be an int, a list or 'd_lambda'; got {ncomp!r}."
                )
            freq = float(
                _check(d_lambda_freq, u.Hz, "d_lambda_freq", "Cell", "positive").to_value(u.Hz)
            )
            ncomp = d_lambda_ncomp(morphology, self.Ra, self.cm, float(d_lambda), freq)
        geo = discretize(morphology, ncomp, self.Ra)
        self.geometry = geo
        solver = TreeSolver(geo.parent, compress=compress)
        self._solver = solver
        pos = solver.position
        self._area = geo.area[solver.order]  # um^2, internal order
        g = geo.g_axial[solver.order]  # uS to the parent
        g[-1] = 0.0  # the root
        self._g = g
        par = solver.parent.copy()
        par[-1] = len(par) - 1  # the root points at itself (g = 0)
        self._par = par
        kids: list[list[int]] = [[] for _ in range(len(par))]
        for i in range(len(par) - 1):
            kids[par[i]].append(i)
        width = max(len(k) for k in kids)
        self._kids = np.full((len(par), width), len(par), np.int64)
        for i, k in enumerate(kids):
            self._kids[i, : len(k)] = k
        self._d_axial = g + np.array([g[k].sum() for k in kids])
        self._membrane = self._area > 0
        self.varshape = (geo.n_nodes,)
        self._pos = pos
        self._V_init = _check_v(V_initializer)
        self.mechanisms: list[_Painted] = []
        self.clamps: list[tuple[int, IClamp]] = []
        self._detectors: list[tuple[int, float]] = []
        self._views: dict[int, _NodeView] = {}
        self._batch = None
        self.init_state()

    # -- structure --------------------------------------------------------------------

    @property
    def n_compartments(self) -> int:
        """Compartments with membrane (all nodes but the zero-area ends)."""
        return int(self._membrane.sum())

    def regions(self) -> dict[str, list[int]]:
        return self.morphology.regions()

    def _region_nodes(self, region) -> tuple[np.ndarray, str]:
        regions = self.morphology.regions()
        if isinstance(region, str) and region in regions:
            branches = regions[region]
            if not branches:
                nonempty = [r for r, v in regions.items() if v]
                raise ValueError(
                    f"Cell.paint: region {region!r} has no branches in this morphology; "
                    f"regions with branches: {nonempty}."
                )
            where = region
        elif isinstance(region, str):
            try:
                branches = [self.morphology.branch_of(region)]
            except KeyError:
                nonempty = [r for r, v in regions.items() if v]
                raise KeyError(
                    f"Cell.paint: no region or branch {region!r}. Regions: {nonempty}; or a "
                    f"section name such as {self.morphology.names()[:3]}, or a list of branch "
                    "indices."
                ) from None
            where = region
        elif isinstance(region, Sequence) and not isinstance(region, str):
            branches = [self.morphology.branch_of(b) for b in region]
            where = f"branches {list(branches)[:5]}{'...' if len(branches) > 5 else ''}"
        else:
            raise TypeError(
                f"Cell.paint: region must be a region name, a section name or a list of "
                f"branch indices; got {region!r}."
            )
        geo = self.geometry
        nat = np.concatenate(
            [np.arange(geo.first[b], geo.first[b] + geo.ncomp[b]) for b in sorted(set(branches))]
        )
        return np.sort(self._pos[nat]), where

    def paint(self, region, mechanism: Mechanism) -> None:
        """Insert ``mechanism`` in every compartment of ``region`` ("soma", "axon",
        "basal", "apical", "dendrites", "all", a custom<k> region, a section name such as
        "dend[3]", or a list of branch indices). A mechanism of the same kind may not be
        painted twice on a compartment."""
        if not isinstance(mechanism, Mechanism):
            raise TypeError(
                f"Cell.paint: expected a mechanism such as D.HH() or D.Leak(); got "
                f"{type(mechanism).__name__}. Point processes (D.IClamp) go with cell.place."
            )
        nodes, where = self._region_nodes(region)
        for other in self.mechanisms:
            if type(other.mech) is type(mechanism):
                both = np.intersect1d(other.nodes, nodes)
                if both.size:
                    raise ValueError(
                        f"Cell.paint: {type(mechanism).__name__} is already painted on "
                        f"{both.size} compartments of {where!r} (painted on {other.where!r}); "
                        "paint each compartment once, e.g. on smaller regions."
                    )
        painted = _Painted(mechanism, nodes, self._area[nodes], where, self.geometry.n_nodes)
        painted.init(self.V.value.to_value(u.mV), self.temperature_c)
        self.mechanisms.append(painted)

    def location(self, branch=None, x: float = 0.5, *, swc_point: int | None = None) -> Location:
        """A location: ``location("soma", 0.5)`` is NEURON's ``soma(0.5)`` (a region name
        means its first section), ``location("dend[3]", 0.2)``, ``location(7, 1.0)`` (by
        branch index), or ``location(swc_point=1683)``, the compartment holding that point
        of the SWC file. As in NEURON, x = 0 and x = 1 are the zero-area nodes at the
        branch's ends (x = 0 is the node where it attaches to its parent); other x are the
        compartment (segment) that holds x."""
        if swc_point is not None:
            if branch is not None:
                raise TypeError("Cell.location: give a branch and x, or swc_point=, not both.")
            b, x = self.morphology.swc_point(swc_point)
        else:
            if branch is None:
                raise TypeError("Cell.location: give a branch (name or index) and x.")
            b = self.morphology.branch_of(branch)
            x = float(x)
            if not 0.0 <= x <= 1.0:
                raise ValueError(f"Cell.location: x must be in [0, 1]; got {x}.")
            node = self.geometry.node_exact(b, x)
        if swc_point is not None:
            node = self.geometry.node(b, x)
        return Location(b, float(x), int(self._pos[node]), self.morphology.branches[b].name)

    def _check_loc(self, loc, what):
        if not isinstance(loc, Location):
            raise TypeError(f"Cell.{what}: expected a Location (cell.location(...)); got {loc!r}.")
        if loc.node >= self.geometry.n_nodes:
            raise ValueError(f"Cell.{what}: {loc} is not a location of this cell.")
        return loc.node

    def place(self, loc: Location, process: IClamp) -> None:
        """Place a point process (an :class:`IClamp`) at a location."""
        node = self._check_loc(loc, "place")
        if not isinstance(process, IClamp):
            raise TypeError(
                f"Cell.place: expected a point process such as D.IClamp(...); got "
                f"{type(process).__name__}. Density mechanisms go with cell.paint."
            )
        self.clamps.append((node, process))
        self._clamp_onehot = np.zeros((len(self.clamps), self.geometry.n_nodes))
        self._clamp_onehot[np.arange(len(self.clamps)), [n for n, _ in self.clamps]] = 1.0

    def V_at(self, loc: Location) -> _NodeView:
        """V at a location, for monitors: ``monitors={"v": cell.V_at(soma)}``."""
        node = self._check_loc(loc, "V_at")
        if node not in self._views:
            self._views[node] = _NodeView(self, node)
        return self._views[node]

    def detect_spikes(self, loc: Location, threshold=-20.0 * u.mV) -> int:
        """Detect upward crossings of ``threshold`` by V at ``loc``: ``cell.spike`` (bool,
        one per detector) is True in the steps where V crosses, and ``cell.spike_time``
        holds the time of the last crossing, linearly interpolated within the step.
        Returns the detector's index."""
        node = self._check_loc(loc, "detect_spikes")
        thr = float(_check(threshold, u.mV, "threshold", "Cell.detect_spikes").to_value(u.mV))
        self._detectors.append((node, thr))
        self._init_detectors(self._batch)
        return len(self._detectors) - 1

    # -- States -----------------------------------------------------------------------

    def init_state(self, batch_size: int | None = None, **kwargs):
        self._batch = batch_size
        shape = self.varshape if batch_size is None else (batch_size, *self.varshape)
        self.V = Hidden(initialize(self._V_init, shape, u.mV, f"{self.name}.V"))
        v = self.V.value.to_value(u.mV)
        for painted in getattr(self, "mechanisms", []):
            painted.init(v, self.temperature_c)
        self._init_detectors(batch_size)

    def _init_detectors(self, batch_size):
        if not getattr(self, "_detectors", None):
            return
        shape = (
            (len(self._detectors),) if batch_size is None else (batch_size, len(self._detectors))
        )
        self.spike = Hidden(jnp.zeros(shape, bool))
        self.spike_time = Hidden(jnp.full(shape, -1e7) * u.ms)

    def reset_state(self, batch_size: int | None = None, **kwargs):
        """Initial values again (in the existing States when the batch size is kept, so
        compiled runs stay valid), and the run clock back to t = 0 (as
        ``Network.reset_state``)."""
        _clock.run_clock(self).count = 0
        if batch_size is not None and batch_size != self._batch:
            self.init_state(batch_size)
            return
        shape = self.V.value.shape
        self.V.value = initialize(self._V_init, shape, u.mV, f"{self.name}.V")
        v = self.V.value.to_value(u.mV)
        for painted in self.mechanisms:
            painted.reset(v, self.temperature_c)
        if self._detectors:
            self.spike.value = jnp.zeros_like(self.spike.value)
            self.spike_time.value = jnp.full(self.spike.value.shape, -1e7) * u.ms

    # -- one step ---------------------------------------------------------------------

    def _const(self, x):
        return jnp.asarray(x, dtype=jnp.result_type(float))

    def integrate_and_fire(self):
        """One step of NEURON's fixed-step method; returns the detectors' spikes (or
        None)."""
        dt = float(_clock.dt().to_value(u.ms))
        t = _clock.t().to_value(u.ms)
        v = self.V.value.to_value(u.mV)
        batch = v.shape[:-1]
        i_ion = g_ion = 0.0  # nA, uS per node
        states, params = [], []
        for painted in self.mechanisms:
            p = painted.mech.params()
            s = {k: getattr(painted, k).value for k in painted.mech.states}
            vi = v[..., painted.nodes]
            i, gi = painted.mech.current(vi, s, p)
            scale = self._const(painted.area * 1e-2)  # (mA/cm2, S/cm2) x um2 -> (nA, uS)
            # back onto every node by a gather (0 off the region): XLA's scatters are slow
            ig = jnp.stack(jnp.broadcast_arrays(i * scale, gi * scale))
            ig = jnp.take(ig, painted.gather, axis=-1, mode="fill", fill_value=0)
            i_ion, g_ion = i_ion + ig[0], g_ion + ig[1]
            states.append(s)
            params.append(p)
        rhs = -i_ion
        if self.clamps:
            t_mid = t + 0.5 * dt
            amps = jnp.stack(
                [jnp.broadcast_to(c.current(t_mid), batch) for _, c in self.clamps], -1
            )
            rhs = rhs + amps @ self._const(self._clamp_onehot)
        g = self._const(self._g)
        flow = g * (v[..., self._par] - v)  # from the parent into each node
        inflow = flow - jnp.sum(
            jnp.take(flow, self._kids, axis=-1, mode="fill", fill_value=0), axis=-1
        )
        rhs = rhs + inflow
        cj = (2.0 if self.method == "crank_nicolson" else 1.0) / dt
        cap = self._const(self.cm * self._area * 1e-5 * cj)  # uF/cm2 x um2 / ms -> uS
        diag = cap + g_ion + self._const(self._d_axial)
        dv = self._solver.solve(diag, -g, rhs)  # (batch axes broadcast)
        v_new = v + (2.0 * dv if self.method == "crank_nicolson" else dv)
        for painted, s, p in zip(self.mechanisms, states, params):
            if painted.mech.states:
                new = painted.mech.advance(v_new[..., painted.nodes], s, p, dt, self.temperature_c)
                for k, val in new.items():
                    getattr(painted, k).value = val
        self.V.value = u.Quantity(v_new, u.mV)
        if not self._detectors:
            return None
        nodes = np.array([n for n, _ in self._detectors])
        thr = self._const([th for _, th in self._detectors])
        v0, v1 = v[..., nodes], v_new[..., nodes]
        spike = (v0 < thr) & (v1 >= thr)
        frac = (thr - v0) / jnp.where(spike, v1 - v0, 1.0)
        t_cross = t + dt * frac
        self.spike.value = spike
        self.spike_time.value = u.Quantity(
            jnp.where(spike, t_cross, self.spike_time.value.to_value(u.ms)), u.ms
        )
        return spike

    def reset(self) -> None:
        """Nothing to reset after a spike (the slot of a Network's schedule)."""

    def update(self):
        return self.integrate_and_fire()

    def __repr__(self) -> str:
        return (
            f"Cell({self.morphology.n_branches} branches, {self.n_compartments} compartments, "
            f"{len(self.mechanisms)} painted mechanisms, {len(self.clamps)} point processes)"
        )


def _celsius(temperature) -> float:
    if isinstance(temperature, u.Quantity):
        if temperature.unit.dim is not u.kelvin.dim:
            raise u.UnitMismatchError(
                f"Cell: temperature must be a temperature such as 6.3 * u.celsius; got "
                f"{temperature.unit.name}."
            )
        if temperature.unit == u.celsius:
            return float(temperature.mantissa)
        return float(temperature.to(u.kelvin).to_value(u.kelvin)) - 273.15
    if isinstance(temperature, (int, float, np.integer, np.floating)) and not isinstance(
        temperature, bool
    ):
        return float(temperature)
    raise TypeError(
        f"Cell: temperature must be 6.3 * u.celsius or a number of degrees C; got {temperature!r}."
    )


def _check_v(v):
    if isinstance(v, u.Quantity):
        _check(v, u.mV, "V_initializer", "Cell")
    return v
