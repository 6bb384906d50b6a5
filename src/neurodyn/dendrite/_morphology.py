"""Morphologies: unbranched branches (NEURON's sections) of 3-D points with diameters.

A :class:`Morphology` is read from an SWC file (sections as NEURON's Import3d makes them,
see :mod:`._swc`) or built: :meth:`Morphology.cylinder`, :meth:`Morphology.ball_and_stick`,
:meth:`Morphology.binary_tree` and the general :meth:`Morphology.from_branches`. Lengths
and diameters are in µm.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

import neurodyn.units as u

from ._swc import SWCError, import3d, read_swc

__all__ = ["Branch", "Morphology", "REGIONS", "type_name"]

#: SWC type -> (region, NEURON's section name)
_TYPES = {1: ("soma", "soma"), 2: ("axon", "axon"), 3: ("basal", "dend"), 4: ("apical", "apic")}
_TYPE_OF_REGION = {"soma": 1, "axon": 2, "basal": 3, "apical": 4, "dend": 3, "apic": 4}
REGIONS = ("soma", "axon", "basal", "apical", "dendrites", "all")


def type_name(swc_type: int) -> tuple[str, str]:
    """``(region, section base name)`` of an SWC type: 1 soma, 2 axon, 3 basal ("dend"),
    4 apical ("apic"); other types are ``custom<k>`` regions named ``dend_<k>`` as in
    NEURON."""
    return _TYPES.get(int(swc_type), (f"custom{int(swc_type)}", f"dend_{int(swc_type)}"))


def _arc(xyz: np.ndarray, float32: bool) -> np.ndarray:
    """Cumulative path length along the points, as NEURON computes it (differences of
    float32 coordinates when the points are float32, as NEURON stores them)."""
    if float32:
        diff = np.diff(xyz.astype(np.float32), axis=0).astype(np.float64)
    else:
        diff = np.diff(xyz, axis=0)
    return np.concatenate([[0.0], np.cumsum(np.sqrt(np.sum(diff * diff, axis=1)))])


@dataclass(frozen=True, eq=False)
class Branch:
    """An unbranched piece of a neuron (a NEURON section).

    Attributes:
        index: its position in the morphology (parents come first).
        name: NEURON's section name (``"soma[0]"``, ``"dend[12]"``, ``"apic[3]"``).
        type: SWC type (1 soma, 2 axon, 3 basal, 4 apical, other custom).
        xyz: ``(n, 3)`` 3-D points (µm), n >= 2.
        diam: ``(n,)`` diameters (µm).
        arc: ``(n,)`` path length from the first point (µm).
        parent: index of the parent branch (-1 for the root).
        parent_x: where it attaches on its parent, in [0, 1].
        swc_ids: SWC id of each point (-1 for copied and synthetic points).
    """

    index: int
    name: str
    type: int
    xyz: np.ndarray
    diam: np.ndarray
    arc: np.ndarray
    parent: int
    parent_x: float
    swc_ids: np.ndarray

    @property
    def length(self) -> float:
        """Path length in µm."""
        return float(self.arc[-1])

    @property
    def region(self) -> str:
        """The region of the branch's SWC type: ``soma``, ``axon``, ``basal``, ``apical``
        or ``custom<k>``."""
        return type_name(self.type)[0]

    def __repr__(self) -> str:
        return (
            f"Branch({self.name}, type={self.type}, {len(self.diam)} points, "
            f"L={self.length:.4g} um, parent={self.parent}({self.parent_x:g}))"
        )


def _um(value, name: str, owner: str, positive: bool = True) -> float:
    if not isinstance(value, u.Quantity) or value.unit.dim is not u.um.dim:
        got = value.unit.name if isinstance(value, u.Quantity) else repr(value)
        raise u.UnitMismatchError(f"{owner}: {name} must be a length such as 20 * u.um; got {got}.")
    v = float(value.to_value(u.um))
    if positive and not v > 0:
        raise ValueError(f"{owner}: {name} must be > 0 um; got {v:g} um.")
    return v


def _swc_type(kind, owner: str) -> int:
    if isinstance(kind, (int, np.integer)) and not isinstance(kind, bool) and kind >= 0:
        return int(kind)
    if isinstance(kind, str) and kind in _TYPE_OF_REGION:
        return _TYPE_OF_REGION[kind]
    raise ValueError(
        f"{owner}: type {kind!r} is not an SWC type; give 'soma', 'axon', 'basal', 'apical' "
        "or an SWC type number (>= 0)."
    )


class Morphology:
    """A neuron's shape: a tree of :class:`Branch` objects, parents before children.

    Example:
        >>> import neurodyn.units as u
        >>> m = Morphology.ball_and_stick(soma_diam=20 * u.um, dend_length=200 * u.um,
        ...                               dend_diam=2 * u.um)
        >>> [b.name for b in m.branches], m.regions()["dendrites"]
        (['soma[0]', 'dend[0]'], [1])
    """

    def __init__(self, branches: Sequence[Branch], source: str = "", swc_points=None):
        self.branches = list(branches)
        self.source = source
        # SWC id -> (branch, x) of the point in NEURON's geometry
        self._swc_points = dict(swc_points or {})
        if not self.branches:
            raise ValueError("Morphology: no branches.")
        for k, b in enumerate(self.branches):
            if b.index != k or not (-1 <= b.parent < k) or (b.parent == -1) != (k == 0):
                raise ValueError(
                    f"Morphology: branch {k} ({b.name}) has parent {b.parent}; branches must be "
                    "ordered parents first, with only branch 0 as the root."
                )

    # -- reading ----------------------------------------------------------------------

    @classmethod
    def from_swc(cls, path) -> Morphology:
        """Read an SWC file; the branches are the sections NEURON's Import3d makes (see
        ``neurodyn.dendrite._swc``: single-point and 3-point somata become spheres,
        children of a single-point soma attach at its middle). Malformed files are refused
        with the line number (:class:`~neurodyn.dendrite.SWCError`)."""
        swc = read_swc(path)
        sections, owner, _, (xyz32, d32) = import3d(swc)
        counters: dict[str, int] = {}
        branches = []
        swc_points = {}
        for k, sec in enumerate(sections):
            ix = list(sec.ix)
            dd = d32[ix].copy()
            if sec.first_diam_from_second and len(dd) > 1:
                dd[0] = dd[1]
            ix, dd = ix[sec.first :], dd[sec.first :]
            pts = xyz32[ix]
            ids = swc.ids[ix].copy()
            if sec.parent >= 0 and sec.first == 0:
                ids[0] = -1  # the copy of the parent point
            if len(ix) == 1:  # a sphere: 3-point cylinder along x, length = diameter
                c, dia = pts[0], dd[0]
                pts = np.array([c - [dia / 2, 0, 0], c, c + [dia / 2, 0, 0]])
                pts = pts.astype(np.float32).astype(np.float64)
                dd = np.full(3, dia)
                ids = np.array([-1, ids[0], -1])
            base = type_name(sec.type)[1]
            name = f"{base}[{counters.get(base, 0)}]"
            counters[base] = counters.get(base, 0) + 1
            arc = _arc(pts, float32=True)
            branches.append(
                Branch(k, name, sec.type, pts, dd, arc, sec.parent, float(sec.parentx), ids)
            )
            for j, q in enumerate(ids):
                if q >= 0:
                    L = arc[-1]
                    swc_points[int(q)] = (k, float(arc[j] / L) if L > 0 else 0.5)
        # points dropped by Import3d (3-point soma, removed sections): their nearest kept
        # ancestor
        index = {int(i): k for k, i in enumerate(swc.ids)}
        for k, i in enumerate(swc.ids):
            if int(i) in swc_points:
                continue
            q = k
            while owner[q] is None or int(swc.ids[q]) not in swc_points:
                p = int(swc.parents[q])
                if p < 0:
                    break
                q = index[p]
            if int(swc.ids[q]) in swc_points:
                swc_points[int(i)] = swc_points[int(swc.ids[q])]
        return cls(branches, source=swc.source, swc_points=swc_points)

    # -- builders ---------------------------------------------------------------------

    @classmethod
    def from_branches(cls, specs: Sequence[dict]) -> Morphology:
        """A morphology of cylinders: ``specs`` is a list of dicts with ``length``,
        ``diam`` (lengths), ``type`` ('soma', 'axon', 'basal', 'apical' or an SWC number),
        ``parent`` (index of an earlier spec; omitted or -1 for the first) and
        ``parent_x`` (default 1). Each branch is drawn along x from its parent point."""
        if not isinstance(specs, (list, tuple)) or not specs:
            raise TypeError("Morphology.from_branches: give a non-empty list of dicts.")
        branches = []
        counters: dict[str, int] = {}
        for k, spec in enumerate(specs):
            owner = f"Morphology.from_branches: branch {k}"
            if not isinstance(spec, dict):
                raise TypeError(f"{owner} must be a dict, got {spec!r}.")
            extra = set(spec) - {"length", "diam", "type", "parent", "parent_x"}
            if extra:
                raise TypeError(
                    f"{owner}: unknown keys {sorted(extra)}; expected length, diam, type, "
                    "parent, parent_x."
                )
            L = _um(spec.get("length"), "length", owner)
            dia = _um(spec.get("diam"), "diam", owner)
            t = _swc_type(spec.get("type", "basal"), owner)
            parent = spec.get("parent", -1 if k == 0 else None)
            if k == 0 and parent not in (None, -1):
                raise ValueError(f"{owner}: the first branch is the root (parent -1).")
            if k > 0 and not (isinstance(parent, (int, np.integer)) and 0 <= parent < k):
                raise ValueError(
                    f"{owner}: parent must be the index of an earlier branch (0..{k - 1}); "
                    f"got {parent!r}."
                )
            px = float(spec.get("parent_x", 1.0))
            if not 0.0 <= px <= 1.0:
                raise ValueError(f"{owner}: parent_x must be in [0, 1]; got {px}.")
            if k == 0:
                start = np.zeros(3)
            else:
                pb = branches[parent]
                start = np.array(
                    [np.interp(px * pb.length, pb.arc, pb.xyz[:, i]) for i in range(3)]
                )
            pts = np.array([start, start + [L, 0.0, 0.0]])
            base = type_name(t)[1]
            name = f"{base}[{counters.get(base, 0)}]"
            counters[base] = counters.get(base, 0) + 1
            branches.append(
                Branch(
                    k,
                    name,
                    t,
                    pts,
                    np.array([dia, dia]),
                    np.array([0.0, L]),
                    -1 if k == 0 else int(parent),
                    px if k else 1.0,
                    np.array([-1, -1]),
                )
            )
        return cls(branches, source="from_branches")

    @classmethod
    def cylinder(cls, length, diam, type="basal") -> Morphology:
        """One unbranched cylinder (a passive cable, a soma...)."""
        return cls.from_branches([{"length": length, "diam": diam, "type": type}])

    @classmethod
    def ball_and_stick(
        cls, soma_diam, dend_length, dend_diam, soma_length=None, dend_type="basal"
    ) -> Morphology:
        """A soma cylinder (length = diameter by default: the area of a sphere) with one
        dendrite attached at its end (NEURON's ``dend.connect(soma(1))``)."""
        soma_length = soma_diam if soma_length is None else soma_length
        return cls.from_branches(
            [
                {"length": soma_length, "diam": soma_diam, "type": "soma"},
                {"length": dend_length, "diam": dend_diam, "type": dend_type, "parent": 0},
            ]
        )

    @classmethod
    def binary_tree(
        cls, levels: int, length, diam, soma_diam=None, diam_ratio=2 ** (-2 / 3), type="basal"
    ) -> Morphology:
        """A symmetric binary tree of ``levels`` generations of branches of ``length``;
        each generation's diameter is the parent's times ``diam_ratio`` (default
        ``2**(-2/3)``: Rall's 3/2 power rule). With ``soma_diam`` the tree hangs on a soma
        cylinder of that length and diameter."""
        if not isinstance(levels, (int, np.integer)) or levels < 1:
            raise ValueError(f"Morphology.binary_tree: levels must be an int >= 1; got {levels!r}.")
        specs: list[dict] = []
        d0 = _um(diam, "diam", "Morphology.binary_tree")
        if soma_diam is not None:
            specs.append({"length": soma_diam, "diam": soma_diam, "type": "soma"})
        frontier = [None if soma_diam is None else 0]
        for level in range(levels):
            new = []
            for parent in frontier:
                for _ in range(1 if parent is None else (1 if level == 0 else 2)):
                    spec = {"length": length, "diam": d0 * diam_ratio**level * u.um, "type": type}
                    if parent is not None:
                        spec["parent"] = parent
                    specs.append(spec)
                    new.append(len(specs) - 1)
            frontier = new
        return cls.from_branches(specs)

    # -- queries ----------------------------------------------------------------------

    @property
    def n_branches(self) -> int:
        """Number of branches (sections)."""
        return len(self.branches)

    def names(self) -> list[str]:
        """The branches' (sections') names, in branch order."""
        return [b.name for b in self.branches]

    def regions(self) -> dict[str, list[int]]:
        """Branch indices by region: soma, axon, basal, apical, dendrites (basal and
        apical), all, and custom<k> for other SWC types (empty regions included for the
        standard names)."""
        out: dict[str, list[int]] = {r: [] for r in REGIONS}
        for b in self.branches:
            out.setdefault(b.region, []).append(b.index)
            if b.type in (3, 4):
                out["dendrites"].append(b.index)
            out["all"].append(b.index)
        return out

    def branch_of(self, name) -> int:
        """The index of a branch given by index, section name (``"dend[3]"``) or region
        (its first branch: ``"soma"`` is NEURON's ``soma[0]``)."""
        if isinstance(name, (int, np.integer)) and not isinstance(name, bool):
            if 0 <= name < self.n_branches:
                return int(name)
            raise IndexError(
                f"Morphology: no branch {name}; there are {self.n_branches} "
                f"(0..{self.n_branches - 1})."
            )
        if isinstance(name, str):
            for b in self.branches:
                if b.name == name:
                    return b.index
            regions = self.regions()
            if name in regions and regions[name]:
                return regions[name][0]
            nonempty = [r for r, v in regions.items() if v]
            raise KeyError(
                f"Morphology: no branch or region {name!r}. Regions here: {nonempty}; "
                f"section names such as {self.names()[:4]} (branch.name)."
            )
        raise TypeError(f"Morphology: a branch is an index or a name; got {name!r}.")

    def swc_point(self, point_id: int) -> tuple[int, float]:
        """``(branch, x)`` of an SWC point in the geometry NEURON builds from the file."""
        if not self._swc_points:
            raise KeyError("Morphology: this morphology was not read from an SWC file.")
        if int(point_id) not in self._swc_points:
            ids = sorted(self._swc_points)
            raise KeyError(
                f"Morphology: no SWC point {point_id}; the file's ids run from {ids[0]} to "
                f"{ids[-1]}."
            )
        return self._swc_points[int(point_id)]

    def __repr__(self) -> str:
        counts = {r: len(v) for r, v in self.regions().items() if v and r != "all"}
        return f"Morphology({self.n_branches} branches {counts}, source={self.source!r})"


__all__ += ["SWCError"]
