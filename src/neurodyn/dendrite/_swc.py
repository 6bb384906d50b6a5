"""SWC files: a strict reader, and the sections NEURON's Import3d makes of them.

:func:`read_swc` parses and checks a file (every refusal names the line). :func:`import3d`
splits the points into unbranched sections exactly as NEURON's ``Import3d_SWC_read`` and
``Import3d_GUI.instantiate`` do (``share/nrn/lib/hoc/import3d/read_swc.hoc`` and
``import3d_gui.hoc`` of NEURON 9), so that a cell built here has NEURON's sections, 3-D
points and connections:

- a section is a run of points of one type without branches; a change of type ends a
  section, as a branch point does;
- a child section starts with a copy of its parent point; a dendrite on the soma gets the
  diameter of its own first point there;
- a single-point soma is a sphere, represented as a 3-point cylinder along x with
  length and diameter equal to the sphere's diameter; its children connect to its middle
  (``parentx = 0.5``) by a "wire" (their copied parent point is left out of the geometry);
- NeuroMorpho's 3-point soma (three points of equal diameter, the middle one the root,
  total length the diameter) is the same sphere;
- children of the first point of a multi-point root soma connect at ``x = 0``, dendrites
  that leave the interior of a multi-point soma at ``x = 0.5``;
- sections of one point, and 2-point sections of zero length, are removed (their
  children are reattached to the parent).

Coordinates and diameters are rounded to float32 (NEURON stores 3-D points as float).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

import numpy as np

__all__ = ["SWCError", "SWCData", "read_swc", "import3d", "Import3dSection"]


class SWCError(ValueError):
    """A malformed SWC file; the message names the file, the line and the fix."""


@dataclass
class SWCData:
    """The points of an SWC file, sorted by id. ``lines`` are the file's line numbers."""

    ids: np.ndarray  # int64
    types: np.ndarray  # int64
    xyz: np.ndarray  # (n, 3) float64, um
    radius: np.ndarray  # float64, um
    parents: np.ndarray  # int64 (-1 for the root)
    lines: np.ndarray  # int64, 1-based line numbers
    source: str = "<swc>"


def _fail(source, line, msg, fix=""):
    where = f"{source}, line {line}" if line is not None else source
    raise SWCError(f"{where}: {msg}{(' ' + fix) if fix else ''}")


def read_swc(path_or_text, *, source: str | None = None) -> SWCData:
    """Read an SWC file (a path, or the text itself when it contains a newline).

    Each data line is ``id type x y z radius parent`` (extra columns are ignored, as
    NEURON does); ``#`` starts a comment. Refused, with the line number: lines that are
    not 7 numbers, non-integer ids, types or parents, duplicate ids, a parent id that
    is not in the file, a parent id not smaller than the point's id (NEURON's rule,
    which also excludes cycles), a radius that is not > 0, more than one root.
    """
    if isinstance(path_or_text, os.PathLike) or (
        isinstance(path_or_text, str) and "\n" not in path_or_text
    ):
        path = os.fspath(path_or_text)
        if not os.path.exists(path):
            raise FileNotFoundError(f"read_swc: no file {path!r}.")
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        source = source or path
    else:
        text = str(path_or_text)
        source = source or "<swc text>"
    rows = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        fields = line.replace(",", " ").split()
        if len(fields) < 7:
            _fail(
                source,
                lineno,
                f"expected 7 columns 'id type x y z radius parent', got {len(fields)}: "
                f"{raw.strip()!r}.",
            )
        try:
            vals = [float(v) for v in fields[:7]]
        except ValueError:
            _fail(source, lineno, f"could not read the numbers of {raw.strip()!r}.")
        for col, name in ((0, "id"), (1, "type"), (6, "parent")):
            if not math.isfinite(vals[col]) or vals[col] != int(vals[col]):
                _fail(source, lineno, f"the {name} must be an integer, got {fields[col]!r}.")
        if not all(math.isfinite(v) for v in vals[2:6]):
            _fail(source, lineno, f"coordinates and radius must be finite: {raw.strip()!r}.")
        if vals[5] <= 0:
            _fail(
                source,
                lineno,
                f"point {int(vals[0])} has radius {fields[5]}; a radius must be > 0 um.",
                "Fix the reconstruction (e.g. give the point its neighbours' radius).",
            )
        if vals[1] < 0:
            _fail(source, lineno, f"point {int(vals[0])} has the negative type {int(vals[1])}.")
        rows.append((lineno, vals))
    if not rows:
        raise SWCError(f"{source}: no data lines (expected 'id type x y z radius parent').")
    lines = np.array([r[0] for r in rows], dtype=np.int64)
    data = np.array([r[1] for r in rows], dtype=np.float64)
    ids = data[:, 0].astype(np.int64)
    parents = data[:, 6].astype(np.int64)
    seen: dict[int, int] = {}
    for k, i in enumerate(ids):
        if int(i) in seen:
            _fail(
                source,
                int(lines[k]),
                f"duplicate id {int(i)} (first on line {seen[int(i)]}).",
                "Give every point its own id.",
            )
        seen[int(i)] = int(lines[k])
    for k, (i, p) in enumerate(zip(ids, parents)):
        if p < 0:
            continue
        if int(p) not in seen:
            _fail(
                source,
                int(lines[k]),
                f"point {int(i)} has parent {int(p)}, which is not in the file.",
            )
        if p >= i:
            _fail(
                source,
                int(lines[k]),
                f"point {int(i)} has parent {int(p)}; a parent's id must be smaller than "
                "its child's (NEURON's rule; it also rules out cycles).",
                "Renumber the points so that parents come first (e.g. with NeuroM's or "
                "MorphIO's sorting).",
            )
    roots = [int(lines[k]) for k in np.flatnonzero(parents < 0)]
    if len(roots) != 1:
        _fail(
            source,
            None,
            f"expected one tree (one point with parent -1), got {len(roots)} roots on "
            f"lines {roots[:10]}.",
            "Connect the trees or split the file.",
        )
    _check_acyclic(ids, parents, lines, source)
    order = np.argsort(ids, kind="stable")
    return SWCData(
        ids=ids[order],
        types=data[order, 1].astype(np.int64),
        xyz=data[order, 2:5].copy(),
        radius=data[order, 5].copy(),
        parents=parents[order],
        lines=lines[order],
        source=source,
    )


def _check_acyclic(ids, parents, lines, source):
    """Every point must reach the root (with parent < id this always holds; kept for
    files read with other rules)."""
    index = {int(i): k for k, i in enumerate(ids)}
    state = np.zeros(len(ids), np.int8)  # 0 new, 1 on the current path, 2 reaches root
    for start in range(len(ids)):
        path = []
        k = start
        while k >= 0 and state[k] == 0:
            state[k] = 1
            path.append(k)
            p = int(parents[k])
            k = index[p] if p >= 0 else -1
        if k >= 0 and state[k] == 1:
            _fail(source, int(lines[k]), f"point {int(ids[k])} is on a cycle of parents.")
        for q in path:
            state[q] = 2


# -- NEURON's Import3d ------------------------------------------------------------------


@dataclass
class Import3dSection:
    """One section as Import3d makes it: ``ix`` are indices into the sorted points (the
    copied parent point first for non-root sections), ``first`` is 1 when the first point
    is a wire (left out of the geometry)."""

    start: int  # index of the section's first own point (Import3d's sec.id)
    ix: list
    type: int
    parent: int = -1  # index into the list of sections
    parentx: float = 1.0
    first: int = 0
    first_diam_from_second: bool = False
    removed: bool = False
    extra: dict = field(default_factory=dict)


def import3d(swc: SWCData):
    """The sections NEURON's Import3d makes of ``swc``.

    Returns ``(sections, point_section, soma3geom, (xyz, diam))``: the kept
    :class:`Import3dSection` objects in NEURON's order, for every point the index of the
    section that owns it (None for the dropped points of a 3-point soma and of removed
    sections), whether the 3-point-soma rule applied, and the points' coordinates and
    diameters rounded to float32 as NEURON stores them.
    """
    n = len(swc.ids)
    types = swc.types
    xyz32 = swc.xyz.astype(np.float32).astype(np.float64)
    d = (2.0 * swc.radius).astype(np.float32).astype(np.float64)
    id2ix = {int(i): k for k, i in enumerate(swc.ids)}
    pid = swc.parents.copy()

    def pix(i):
        p = int(pid[i])
        return -1 if p < 0 else id2ix[p]

    # mark_branch
    nchild = np.zeros(n)
    connect2prox = np.zeros(n, bool)
    for i in range(n):
        p = pix(i)
        if p < 0:
            continue
        nchild[p] += 1
        if p != i - 1:
            nchild[p] += 0.01
            if p > 1:
                if types[p] != 1 and types[pix(p)] == 1:
                    connect2prox[i] = True
                    nchild[p] = 1
            elif p == 0 and types[p] != 1:
                connect2prox[i] = True
                nchild[p] = 1
        if types[p] != types[i]:
            nchild[p] += 0.01
    # sectionify
    nchild_soma = np.zeros(n)
    nsoma = int(types[0] == 1)
    for i in range(1, n):
        if types[i] == 1:
            nsoma += 1
            p = pix(i)
            if p >= 0 and types[p] == 1:
                nchild_soma[p] += 1
    soma3geom = False
    if nsoma == 3 and n >= 3 and pix(1) == 0 and pix(2) == 0:
        if nchild[1] == 0 and nchild[2] == 0 and d[1] == d[0] and d[2] == d[0]:
            length = sum(float(np.sqrt(np.sum((swc.xyz[k] - swc.xyz[0]) ** 2))) for k in (1, 2))
            if abs(length / d[0] - 1) < 0.01:
                soma3geom = True
                pid[2] = swc.ids[1]
    for i in range(n - 1):
        if types[i] == 1 and types[i + 1] == 1 and pix(i + 1) == i:
            if not (i != 0 and nchild_soma[i] > 1):
                nchild[i] = 1
    sec2point = np.flatnonzero(nchild != 1)
    point2sec = np.zeros(n, np.int64)
    si = 0
    for i in range(1, n):
        if i > sec2point[si]:
            si += 1
        point2sec[i] = si
    # mksections
    sections: list[Import3dSection] = []

    def mksection(isec, first, i):
        if isec == 0:
            if soma3geom:
                i = 1
            sec = Import3dSection(start=first, ix=list(range(first, i)), type=int(types[first]))
        else:
            psec_i = int(point2sec[pix(first)])
            psec = sections[psec_i]
            sec = Import3dSection(
                start=first, ix=[pix(first), *range(first, i)], type=int(types[first])
            )
            sec.parent = psec_i
            den_con_soma = psec.type == 1 and types[first] != 1
            con_soma = psec.type == 1
            npsec = len(psec.ix)
            handled = False
            if psec_i == 0:
                handled = True
                if den_con_soma and npsec == 1:
                    sec.parentx = 0.5
                    if i - first > 1:
                        sec.first = 1
                elif pix(first) == psec.start:
                    sec.parentx = 0.0
                    if types[first] != 1 and nchild_soma[pix(first)] > 1:
                        sec.first = 1
                else:
                    handled = False
            if not handled and con_soma:
                offset = -1 if psec.start == 0 else -2
                if pix(first) < psec.start + npsec + offset:
                    sec.parentx = 0.5
                    if den_con_soma and i - first > 1:
                        sec.first = 1
                elif i - first > 1 and nchild_soma[pix(first)] > 1:
                    if types[first] != 1:
                        sec.first = 1
            if psec.type == 1 and sec.type != 1:
                sec.first_diam_from_second = True
            if connect2prox[first]:
                sec.parentx = 0.0
        sections.append(sec)

    isec, first = 0, 0
    for i in range(n):
        if point2sec[i] > isec:
            mksection(isec, first, i)
            isec += 1
            first = i
    mksection(isec, first, n)
    # chk_valid: one-point sections and zero-length two-point sections are removed
    for k in range(len(sections) - 1, 0, -1):
        sec = sections[k]
        npts = len(sec.ix) - sec.first
        drop = npts <= 1
        if not drop and npts <= 2:
            a, b = sec.ix[sec.first], sec.ix[sec.first + 1]
            drop = bool(np.all(xyz32[a] == xyz32[b]))
        if drop:
            sec.removed = True
            for child in sections[k + 1 :]:
                if child.parent == k and not child.removed:
                    child.parent, child.parentx = sec.parent, sec.parentx
    kept = [k for k, s in enumerate(sections) if not s.removed]
    renumber = {k: j for j, k in enumerate(kept)}
    out = []
    for k in kept:
        s = sections[k]
        s.parent = renumber[s.parent] if s.parent >= 0 else -1
        out.append(s)
    owner: list = [None] * n
    for j, s in enumerate(out):
        for q in s.ix[1:] if s.parent >= 0 else s.ix:
            owner[q] = j
    return out, owner, soma3geom, (xyz32, d)
