"""A multi-compartment neuron: a morphology, discretised as NEURON does, with mechanisms
painted on regions, point processes placed at locations, and NEURON's fixed-step
numerics (backward Euler or Crank-Nicolson for V, then the gates at the new V)."""

from __future__ import annotations

import copy
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

import neurodyn.units as u
from neurodyn.dyn import Channel, Dynamics, _clock, _lanes
from neurodyn.dyn._init import initialize
from neurodyn.state import Hidden, Param

from ._channels import Channels
from ._geometry import d_lambda_ncomp, discretize
from ._mechanisms import IClamp, Mechanism, _check
from ._morphology import Morphology
from ._painted import _MechView, _NodeView, _Painted
from ._points import (
    PointSynapse,
    SpikeSource,
    SynapseSite,
    VClamp,
    VClampHandle,
    _at,
)
from ._solver import TreeSolver

__all__ = ["Cell", "Location", "DLambdaWarning"]

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


class Cell(Dynamics):
    """A multi-compartment neuron on a :class:`~neurodyn.dendrite.Morphology`.

    Every branch is split into ``ncomp`` compartments (NEURON's ``nseg``; areas and axial
    resistances from the 3-D points as NEURON computes them, see ``dendrite._geometry``). Each
    step (``update``, called by ``nd.run``) follows NEURON's fixed step
    (``secondorder = 0`` or ``2``): the membrane currents and their conductances at the
    present V and gates, and point-process currents at the middle of the step, give a
    linear tree system for the change of V, solved exactly in O(n) (``dendrite._solver``);
    then the gates advance over the step at the new V. On the CPU, with the native
    kernel built (``python -m neurodyn.dendrite._hines``), the axial currents, the solve
    and the new V are one call of Hines' elimination per step (blocks of cells at once
    for a population); elsewhere the pure-JAX solver's O(log n) rounds.

    Args:
        morphology: a :class:`Morphology`.
        ncomp: compartments per branch: an int, one int per branch, or ``"d_lambda"``
            (NEURON's d_lambda rule with ``d_lambda`` and ``d_lambda_freq``).
        cm: specific membrane capacitance (default 1 µF/cm²), or a dict by region
            (``{"soma": 1 * u.uF / u.cm**2, "dendrites": 2 * u.uF / u.cm**2}``: regions,
            section names or lists of branch indices, applied in order; branches not
            named get 1 µF/cm²).
        Ra: axial resistivity (default 35.4 ohm cm, NEURON's), or a dict by region as
            ``cm`` (a branch's axial resistances use its own, as NEURON's sections).
        temperature: for the mechanisms' Q10 (a Celsius temperature or a plain number in
            degrees C; default 6.3, NEURON's ``celsius``).
        V_initializer: the initial V of every compartment (NEURON's ``v_init``); gates
            start at their steady state there.
        method: ``"backward_euler"`` (NEURON's default) or ``"crank_nicolson"``
            (``secondorder = 2``).
        d_lambda, d_lambda_freq: the d_lambda rule's fraction (0.1) and frequency (100 Hz).
        compress: the pure-JAX solver's (no native kernel, or not on the CPU) order: the
            tree in O(log n) rounds (True) or Hines' level order (False: the same
            solution, one round per tree level, slow to compile for big cells).
        warn_d_lambda: warn (:class:`DLambdaWarning`) when compartments are longer than
            the d_lambda rule allows (``d_lambda`` of the AC length constant at
            ``d_lambda_freq``), with the advice to use ``ncomp="d_lambda"``.
        n_cells: make this a population of ``n_cells`` copies of the cell (V of shape
            ``(n_cells, compartments)``, computed as one batch): synapse sites and spike
            sources then have one target / source per cell, for projections. Per-cell
            parameter values have shape ``(n_cells, 1)``. None (default): one cell.

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
        n_cells: int | None = None,
        warn_d_lambda: bool = True,
        name: str | None = None,
    ):
        if not isinstance(morphology, Morphology):
            raise TypeError(
                "Cell: morphology must be a Morphology (Morphology.from_swc(path), "
                f"Morphology.ball_and_stick(...)); got {type(morphology).__name__}."
            )
        self.name = name or "Cell"
        if n_cells is not None and (
            not isinstance(n_cells, (int, np.integer)) or isinstance(n_cells, bool) or n_cells < 1
        ):
            raise ValueError(f"Cell: n_cells must be an int >= 1 or None; got {n_cells!r}.")
        self.n_cells = None if n_cells is None else int(n_cells)
        self.morphology = morphology
        self.cm, self._cm_b = self._by_region(cm, u.uF / u.cm**2, "cm", 1.0)
        self.Ra, self._Ra_b = self._by_region(Ra, u.ohm * u.cm, "Ra", 35.4)
        self.temperature_c = _celsius(temperature)
        if method not in _METHODS:
            raise ValueError(f"Cell: method must be one of {_METHODS}; got {method!r}.")
        self.method = method
        freq = float(
            _check(d_lambda_freq, u.Hz, "d_lambda_freq", "Cell", "positive").to_value(u.Hz)
        )
        if isinstance(ncomp, str):
            if ncomp != "d_lambda":
                raise ValueError(
                    f"Cell: ncomp must be an int, a list or 'd_lambda'; got {ncomp!r}."
                )
            ncomp = d_lambda_ncomp(morphology, self._Ra_b, self._cm_b, float(d_lambda), freq)
        geo = discretize(morphology, ncomp, self._Ra_b)
        if warn_d_lambda:
            _warn_long_compartments(
                morphology, geo.ncomp, self._Ra_b, self._cm_b, float(d_lambda), freq
            )
        self.geometry = geo
        # the native solve lets the cell choose its node order: compartments by SWC type
        # (soma, axon, basal, apical, custom), then branch and position, the zero-area
        # nodes last, so that regions are runs of V that mechanisms read as slices
        types = np.array([b.type for b in morphology.branches])[geo.branch]
        layout = np.lexsort((geo.seg, geo.branch, types, geo.area <= 0))
        solver = TreeSolver(geo.parent, compress=compress, layout=layout)
        self._solver = solver
        pos = solver.position
        self._area = geo.area[solver.order]  # um^2, internal order
        self._cm_node = self._cm_b[geo.branch[solver.order]]  # uF/cm^2
        g = geo.g_axial[solver.order]  # uS to the parent
        g[-1] = 0.0  # the root
        self._g = g
        self._membrane = self._area > 0
        self.varshape = (geo.n_nodes,) if n_cells is None else (self.n_cells, geo.n_nodes)
        self._pos = pos
        self._V_init = _check_v(V_initializer)
        self._distance = _path_distance(morphology, geo)[solver.order]  # um, internal
        self.mechanisms: list[_Painted] = []
        self.clamps: list[tuple[int, IClamp]] = []
        self.sites: list[SynapseSite] = []
        self.vclamps: list[tuple[int, VClamp]] = []
        self._detectors: list[tuple[int, float]] = []
        self._sources: list[SpikeSource] = []
        self._views: dict[int, _NodeView] = {}
        self._batch = None
        self.init_state()

    def _by_region(self, value, unit, name, default):
        """``(value, per-branch array)`` from one Quantity or a dict ``{region: value}``
        (regions, section names or lists of branch indices, applied in order; branches
        not named keep NEURON's default)."""
        B = self.morphology.n_branches
        if not isinstance(value, dict):
            v = float(_check(value, unit, name, "Cell", "positive").to_value(unit))
            return v, np.full(B, v)
        out = np.full(B, float(default))
        regions = self.morphology.regions()
        for region, val in value.items():
            v = float(_check(val, unit, f"{name}[{region!r}]", "Cell", "positive").to_value(unit))
            if isinstance(region, str) and region in regions and regions[region]:
                branches = regions[region]
            elif isinstance(region, (list, tuple)):
                branches = [self.morphology.branch_of(b) for b in region]
            else:
                try:
                    branches = [self.morphology.branch_of(region)]
                except (KeyError, TypeError, IndexError):
                    nonempty = [r for r, b in regions.items() if b]
                    raise KeyError(
                        f"Cell: {name} is given for {region!r}, which is no region or branch "
                        f"of this morphology. Regions: {nonempty}; or a section name such as "
                        f"{self.morphology.names()[:3]}, or a list of branch indices."
                    ) from None
            out[branches] = v
        return (out if np.ptp(out) else float(out[0])), out

    # -- structure --------------------------------------------------------------------

    @property
    def n_compartments(self) -> int:
        """Compartments with membrane (all nodes but the zero-area ends)."""
        return int(self._membrane.sum())

    def regions(self) -> dict[str, list[int]]:
        """Branch indices by region, as :meth:`Morphology.regions
        <neurodyn.dendrite.Morphology.regions>`."""
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

    def paint(self, region, mechanism: Mechanism, ions=None) -> None:
        """Insert ``mechanism`` in every compartment of ``region`` ("soma", "axon",
        "basal", "apical", "dendrites", "all", a custom<k> region, a section name such as
        "dend[3]", or a list of branch indices). A mechanism of the same kind may not be
        painted twice on a compartment.

        ``neurodyn.dyn`` channels are painted as they are (``cell.paint("soma",
        nd.dyn.HVACalcium())``, with ``ions=[nd.dyn.Ion("Ca", ...)]`` for the ions they
        need) or grouped in a :class:`Channels`; channels that share an ion with
        concentration dynamics go in one call."""
        if isinstance(mechanism, (Channel, list, tuple)) or ions is not None:
            try:
                mechanism = Channels(mechanism, ions or ())
            except (TypeError, ValueError) as err:
                raise type(err)(f"Cell.paint({region!r}): {err}") from None
        if isinstance(mechanism, Channels):
            mechanism = copy.copy(mechanism)
            mechanism._mems = {}
            mechanism.bind_temperature(self.temperature_c)
        if not isinstance(mechanism, Mechanism):
            raise TypeError(
                f"Cell.paint: expected a mechanism such as D.HH() or D.Leak(); got "
                f"{type(mechanism).__name__}. Point processes (D.IClamp) go with cell.place."
            )
        nodes, where = self._region_nodes(region)
        mechanism = mechanism.at_distance(self._distance[nodes])
        for other in self.mechanisms:
            if isinstance(mechanism, Channels) and isinstance(other.mech, Channels):
                same = set(other.mech.current_names) & set(mechanism.current_names)
                if not same:
                    continue
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

    def place(self, loc: Location, process):
        """Place a point process at a location: a current clamp (:class:`IClamp`;
        returns None), a voltage clamp (:class:`VClamp`; returns a handle whose ``.i``
        monitors its current) or a synapse (:class:`ExpSyn`, :class:`Exp2Syn`,
        :class:`AMPA`, :class:`NMDA`; returns its :class:`SynapseSite`, the
        postsynaptic side of ``nd.dyn.Projection``)."""
        node = self._check_loc(loc, "place")
        if isinstance(process, IClamp):
            self.clamps.append((node, process))
            self._clamp_onehot = _onehot([n for n, _ in self.clamps], self.geometry.n_nodes)
            return None
        if isinstance(process, PointSynapse):
            site = SynapseSite(self, loc, process, len(self.sites))
            self.sites.append(site)
            self._site_onehot = _onehot([s.node for s in self.sites], self.geometry.n_nodes)
            return site
        if isinstance(process, VClamp):
            self.vclamps.append((node, process))
            self._vclamp_onehot = _onehot([n for n, _ in self.vclamps], self.geometry.n_nodes)
            self._init_vclamps(self._batch)
            return VClampHandle(self, process, len(self.vclamps) - 1, loc)
        raise TypeError(
            f"Cell.place: expected a point process (D.IClamp, D.VClamp, D.ExpSyn, D.Exp2Syn, "
            f"D.AMPA, D.NMDA); got {type(process).__name__}. Density mechanisms go with "
            "cell.paint."
        )

    def compartments(self, region) -> np.ndarray:
        """The indices (on the last axis of ``cell.V``) of a region's compartments
        (a region name, a section name or a list of branch indices, as for paint)."""
        return self._region_nodes(region)[0]

    def path_distance(self, loc: Location | None = None):
        """The path distance from the soma (the middle of the root branch when it is a
        soma, else its x = 0) of a location's compartment centre, or of every
        compartment (``loc=None``; in the cell's internal order, as ``cell.V``)."""
        if loc is None:
            return u.Quantity(self._distance.copy(), u.um)
        return u.Quantity(float(self._distance[self._check_loc(loc, "path_distance")]), u.um)

    def V_at(self, loc: Location) -> _NodeView:
        """V at a location, for monitors: ``monitors={"v": cell.V_at(soma)}``."""
        node = self._check_loc(loc, "V_at")
        if node not in self._views:
            self._views[node] = _NodeView(self, node)
        return self._views[node]

    def _painted_at(self, loc, mechanism, what):
        node = self._check_loc(loc, what)
        here = [p for p in self.mechanisms if node in p.nodes]
        names = [p.mech.name for p in here]
        for p in here:
            if (
                p.mech is mechanism
                or p.mech.name == mechanism
                or (isinstance(mechanism, type) and isinstance(p.mech, mechanism))
                or (isinstance(p.mech, Channels) and mechanism in _channel_names(p.mech))
            ):
                return p, int(np.flatnonzero(p.nodes == node)[0])
        raise KeyError(
            f"Cell.{what}: no mechanism {getattr(mechanism, 'name', mechanism)!r} at {loc}; "
            f"painted there: {names or 'nothing'}. Give one of these (its name, class or the "
            "object painted)."
        )

    def state_at(self, loc: Location, mechanism, name: str) -> _MechView:
        """A state variable (a gate such as hh's ``"m"``) of a painted mechanism at a
        location, for monitors: ``monitors={"m": cell.state_at(soma, "hh", "m")}``; for
        ``neurodyn.dyn`` channels, ``cell.state_at(soma, "ISK", "m")`` (a channel's name)
        or ``cell.state_at(soma, "Ca", "c")`` (an ion's concentration, mM)."""
        painted, j = self._painted_at(loc, mechanism, "state_at")
        if name not in painted.mech.states and f"{mechanism}__{name}" in painted.mech.states:
            name = f"{mechanism}__{name}"  # a dyn channel's gate or an ion's concentration
        if name not in painted.mech.states:
            raise KeyError(
                f"Cell.state_at: {painted.mech.name} has no state {name!r}; its states: "
                f"{list(painted.mech.states)}."
            )
        return _MechView(self, painted, j, name, None)

    def current_at(self, loc: Location, mechanism, ion: str | None = None) -> _MechView:
        """The current density (mA/cm², outward positive, as NEURON's ``ina``) of a
        painted mechanism at a location, for monitors; ``ion`` picks one of its currents
        (hh: ``"na"``, ``"k"``, ``"leak"``), None gives their sum. Computed from V and
        the states after each step (NEURON records the value computed at the start of
        the step: one step earlier)."""
        painted, j = self._painted_at(loc, mechanism, "current_at")
        if ion is not None:
            have = list(painted.mech.current_names)
            if ion not in have:
                raise KeyError(
                    f"Cell.current_at: {painted.mech.name} has no current {ion!r}; its "
                    f"currents: {have}."
                )
        return _MechView(self, painted, j, None, ion)

    def detect_spikes(self, loc: Location, threshold=-20.0 * u.mV) -> SpikeSource:
        """Detect upward crossings of ``threshold`` by V at ``loc``: ``cell.spike`` (bool,
        one per detector, last axis) is True in the steps where V crosses (at the end of
        the step, as NEURON's NetCon sees it), and ``cell.spike_time`` holds the time of
        the last crossing, linearly interpolated within the step.

        Returns a :class:`SpikeSource` (``int(source)`` is the detector's index): the
        presynaptic side of ``nd.dyn.Projection``, one source per cell."""
        node = self._check_loc(loc, "detect_spikes")
        thr = float(_check(threshold, u.mV, "threshold", "Cell.detect_spikes").to_value(u.mV))
        self._detectors.append((node, thr))
        self._init_detectors(self._batch)
        source = SpikeSource(self, len(self._detectors) - 1, loc)
        self._sources.append(source)
        return source

    # -- States -----------------------------------------------------------------------

    def init_state(self, batch_size: int | None = None, **kwargs):
        self._batch = batch_size
        shape = self.varshape if batch_size is None else (batch_size, *self.varshape)
        self.V = Hidden(initialize(self._V_init, shape, u.mV, f"{self.name}.V"))
        v = self.V.value.to_value(u.mV)
        for painted in getattr(self, "mechanisms", []):
            painted.init(v, self.temperature_c)
        self._init_detectors(batch_size)
        self._init_vclamps(batch_size)

    def _init_vclamps(self, batch_size):
        if not getattr(self, "vclamps", None):
            return
        lead = self.varshape[:-1] if batch_size is None else (batch_size, *self.varshape[:-1])
        self.vclamp_i = Hidden(jnp.zeros((*lead, len(self.vclamps))) * u.nA)

    def _init_detectors(self, batch_size):
        if not getattr(self, "_detectors", None):
            return
        lead = self.varshape[:-1] if batch_size is None else (batch_size, *self.varshape[:-1])
        shape = (*lead, len(self._detectors))
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
        if self.vclamps:
            self.vclamp_i.value = jnp.zeros_like(self.vclamp_i.value.mantissa) * u.nA

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
        states = [{k: getattr(p, k).value for k in p.mech.states} for p in self.mechanisms]
        # per-cell values (arrays with the batch axis) as the lane block being run sees them
        params = [
            {k: _lanes.take(val, v.ndim) for k, val in p.mech.params().items()}
            for p in self.mechanisms
        ]
        # point processes: a current and a conductance at a few nodes, (..., k) each, put
        # on the nodes in the step below
        points = {}
        if self.clamps:
            t_mid = t + 0.5 * dt
            points["clamp"] = jnp.stack(
                [
                    jnp.broadcast_to(_lanes.take(c.current(t_mid), len(batch)), batch)
                    for _, c in self.clamps
                ],
                -1,
            )
        if self.sites:
            points["site_i"], points["site_g"] = self._site_currents(v)
        if self.vclamps:
            on, vc, gs = self._vclamp_command(t + 0.5 * dt, batch)
            vnodes = v[..., [n for n, _ in self.vclamps]]
            points["vclamp_i"], points["vclamp_g"] = on * gs * (vc - vnodes), on * gs
        v_new, new_states = self._step(v, states, params, points, dt=dt)
        for painted, new in zip(self.mechanisms, new_states):
            for k, val in new.items():
                getattr(painted, k).value = val
        self.V.value = u.Quantity(v_new, u.mV)
        if self.vclamps:
            vnew_nodes = v_new[..., [n for n, _ in self.vclamps]]
            self.vclamp_i.value = u.Quantity(on * gs * (vc - vnew_nodes), u.nA)
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

    def _step(self, v, states, params, points, *, dt):
        """The new V and gates from V, the mechanisms' states and parameters and the
        point processes' currents (plain arrays; a pure function)."""
        i_ion = g_ion = 0.0  # nA, uS per node
        for painted, s, p in zip(self.mechanisms, states, params):
            i, gi = painted.mech.current(painted.take(v), s, p)
            scale = self._const(painted.area * 1e-2)  # (mA/cm2, S/cm2) x um2 -> (nA, uS)
            # back onto every node (0 off the region) by slices or a gather, not a
            # scatter (XLA's scatters are slow)
            i, gi = jnp.broadcast_arrays(i * scale, gi * scale)
            i_ion, g_ion = i_ion + painted.put(i), g_ion + painted.put(gi)
        rhs = -i_ion
        if "clamp" in points:
            rhs = rhs + points["clamp"] @ self._const(self._clamp_onehot)
        if "site_i" in points:
            onehot = self._const(self._site_onehot)
            rhs = rhs + points["site_i"] @ onehot
            g_ion = g_ion - points["site_g"] @ onehot  # dI_in/dV < 0: a conductance
        if "vclamp_i" in points:
            onehot = self._const(self._vclamp_onehot)
            rhs = rhs + points["vclamp_i"] @ onehot
            g_ion = g_ion + points["vclamp_g"] @ onehot
        cj = (2.0 if self.method == "crank_nicolson" else 1.0) / dt
        cap = self._const(self._cm_node * self._area * 1e-5 * cj)  # uF/cm2 um2 / ms -> uS
        # (cap + g_ion + K) dv = rhs - K v, K the axial conductances' Laplacian; the new V
        # is v + dv (Crank-Nicolson: v + 2 dv) (batch axes broadcast)
        add = 2.0 if self.method == "crank_nicolson" else 1.0
        v_new = self._solver.cable(cap + g_ion, rhs, v, self._g, add=add)
        new_states = []
        for painted, s, p in zip(self.mechanisms, states, params):
            if painted.mech.states:
                s = painted.mech.advance(painted.take(v_new), s, p, dt, self.temperature_c)
            new_states.append(s)
        return v_new, new_states

    def _site_currents(self, v):
        """The synapses' currents into the cell and their conductances (NEURON's
        difference quotient), ``(..., sites)`` each."""
        pop = self.n_cells is not None
        cur, cond = [], []
        for site in self.sites:
            vl = _at(v, site.node, pop)
            out = site.current_in(vl)
            if out is None:
                i, di = jnp.zeros_like(vl), jnp.zeros_like(vl)
            else:
                i, di = out
                i, di = jnp.broadcast_arrays(i, di)
                i, di = jnp.broadcast_to(i, vl.shape), jnp.broadcast_to(di, vl.shape)
            if not pop:
                i, di = i[..., 0], di[..., 0]
            cur.append(i)
            cond.append(di)
        return jnp.stack(cur, -1), jnp.stack(cond, -1)

    def _vclamp_command(self, t_mid, batch):
        ons, vcs, gss = [], [], []
        for _, clamp in self.vclamps:
            on, vc = clamp.command(t_mid)
            ons.append(jnp.broadcast_to(_lanes.take(on, len(batch)), batch))
            vcs.append(jnp.broadcast_to(_lanes.take(vc, len(batch)), batch))
            gss.append(jnp.broadcast_to(_lanes.take(clamp.conductance(), len(batch)), batch))
        on = jnp.stack(ons, -1).astype(jnp.result_type(float))
        return on, jnp.stack(vcs, -1), jnp.stack(gss, -1)

    def _lane_states(self):
        """The per-cell States when the cells are independent lanes (a batch, or a
        population without synapses), for ``nd.run``'s lane blocks; None otherwise."""
        if (self._batch is None and self.n_cells is None) or self.sites:
            return None
        states = [s for s in self.states().values() if not isinstance(s, Param)]
        full = self._batch if self._batch is not None else self.n_cells
        for s in states:
            leaves = jax.tree_util.tree_leaves(s.value)
            if not leaves or not np.shape(leaves[0]) or np.shape(leaves[0])[0] != full:
                return None
        return states

    def reset(self) -> None:
        """Nothing to reset after a spike (the slot of a Network's schedule)."""

    def update(self):
        """One step: :meth:`integrate_and_fire`."""
        return self.integrate_and_fire()

    def __repr__(self) -> str:
        return (
            f"Cell({self.morphology.n_branches} branches, {self.n_compartments} compartments, "
            f"{len(self.mechanisms)} painted mechanisms, "
            f"{len(self.clamps) + len(self.vclamps) + len(self.sites)} point processes"
            f"{'' if self.n_cells is None else f', {self.n_cells} cells'})"
        )


class DLambdaWarning(UserWarning):
    """Compartments longer than the d_lambda rule allows."""


def _warn_long_compartments(morph, ncomp, Ra, cm, d_lambda, freq) -> None:
    need = np.asarray(d_lambda_ncomp(morph, Ra, cm, d_lambda, freq))
    short = np.flatnonzero(np.asarray(ncomp) < need)
    if not short.size:
        return
    worst = int(short[np.argmax(need[short] / np.asarray(ncomp)[short])])
    b = morph.branches[worst]
    warnings.warn(
        f"Cell: {short.size} of {morph.n_branches} branches have compartments longer than "
        f"the d_lambda rule allows ({d_lambda:g} of the length constant at {freq:g} Hz); "
        f"e.g. {b.name} (L = {b.length:.4g} um) has {int(ncomp[worst])} compartments and "
        f"needs {int(need[worst])}. Use ncomp='d_lambda' (NEURON's rule), more compartments, "
        "or warn_d_lambda=False if the coarse grid is intended.",
        DLambdaWarning,
        stacklevel=3,
    )


def _path_distance(morph: Morphology, geo) -> np.ndarray:
    """Path distance (um) of every node (natural order) from the origin: the middle of
    the root branch if it is a soma, else the root's x = 0."""
    root = morph.branches[0]
    x0 = 0.5 if root.type == 1 else 0.0

    def along(b, x):
        return (abs(x - x0) * morph.branches[0].length) if b == 0 else start[b] + x * lengths[b]

    lengths = [b.length for b in morph.branches]
    start = np.zeros(morph.n_branches)
    for b in morph.branches[1:]:
        start[b.index] = along(b.parent, b.parent_x)
    out = np.zeros(geo.n_nodes)
    for i in range(geo.n_nodes):
        b, sg = int(geo.branch[i]), int(geo.seg[i])
        if i == 0:
            x = 0.0
        elif sg < 0:
            x = 1.0
        else:
            x = (sg + 0.5) / int(geo.ncomp[b])
        out[i] = along(b, x)
    return out


def _channel_names(mech) -> set:
    return set(mech.current_names) | {ion.name for ion in mech.ions}


def _onehot(nodes, n_nodes) -> np.ndarray:
    out = np.zeros((len(nodes), n_nodes))
    out[np.arange(len(nodes)), nodes] = 1.0
    return out


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
