"""Discretisation: the nodes of a cell, their membrane areas and axial conductances,
computed from the 3-D points exactly as NEURON does (``nrn_area_ri`` and
``diam_from_list`` in ``src/nrnoc/treeset.cpp``, NEURON 9).

A branch of ``ncomp`` compartments (NEURON's ``nseg``) has ``ncomp`` nodes at the centres
of equal segments and one node of zero area at its end ``x = 1``; the root branch also has
a zero-area node at ``x = 0``. A child branch's ``x = 0`` is the node of its parent at
``parent_x`` (the parent's end node at 1, its root node at 0, else the centre of the
segment holding ``parent_x``), reached through the child's first half segment. Each
segment's area and its two half-segment resistances integrate the frustums between the
3-D points that fall inside it: area ``pi/2 (d1 + d2) sqrt(dx^2 + (d2-d1)^2/4)``,
resistance ``4 Ra dx / (pi d1 d2)``; the axial resistance between neighbouring nodes is
the right half of one segment plus the left half of the next.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._morphology import Morphology

__all__ = ["Geometry", "discretize", "d_lambda_ncomp", "node_index"]


def node_index(ncomp: int, x: float) -> int:
    """The segment holding ``x`` (NEURON's ``node_index``: ``int(ncomp * x)``, the last
    segment for x = 1)."""
    i = int(ncomp * x)
    return ncomp - 1 if i == ncomp else i


def _segments(arc, diam, nseg: int, Ra: float):
    """``(area um^2, left half resistance MOhm, right half resistance MOhm)`` of each of
    ``nseg`` equal segments: NEURON's ``diam_from_list`` (trapezoidal integration over
    the 3-D points, the same floating-point steps)."""
    npt = len(arc)
    ds = float(arc[-1]) / nseg
    d = np.abs(np.asarray(diam, np.float64))
    area = np.zeros(nseg)
    rleft = np.zeros(nseg)
    rright = np.zeros(nseg)
    j, x1, y1 = 0, float(arc[0]), float(d[0])
    for inode in range(nseg):
        si = inode * ds
        a = 0.0
        for ihalf in range(2):
            ri = 0.0
            sip = si + ds / 2.0
            while True:
                jp = j + 1
                xj, xjp = float(arc[j]), float(arc[jp])
                if xjp > sip or jp == npt - 1:
                    frac = 1.0 if abs(xjp - xj) < 1e-10 else (sip - xj) / (xjp - xj)
                    x2, y2, jnext = sip, (1.0 - frac) * d[j] + frac * d[jp], j
                else:
                    x2, y2, jnext = xjp, d[jp], jp
                delta = x2 - x1
                if delta < 1e-15:
                    delta = 1e-15
                temp = y2 * y1 / delta
                if temp == 0:
                    temp = 1e-15
                ri += 1.0 / temp
                temp = 0.5 * (y2 - y1)
                a += (y2 + y1) * math.sqrt(delta * delta + temp * temp)
                x1, y1 = x2, y2
                if j == jnext:
                    break
                j = jnext
            if ihalf == 0:
                rleft[inode] = ri * Ra / math.pi * (4.0 * 0.01)
            else:
                rright[inode] = ri * Ra / math.pi * (4.0 * 0.01)
            si = sip
        area[inode] = a * 0.5 * math.pi
    return area, rleft, rright


def _per_branch(x, n: int) -> np.ndarray:
    return np.broadcast_to(np.asarray(x, np.float64), (n,))


def d_lambda_ncomp(morph: Morphology, Ra, cm, d_lambda=0.1, freq=100.0):
    """Compartments per branch by NEURON's d_lambda rule (``fixnseg.hoc``): the odd
    number of segments no longer than ``d_lambda`` times the AC length constant at
    ``freq`` (Hz); ``Ra`` in ohm cm, ``cm`` in uF/cm^2 (one value, or one per branch)."""
    out = []
    Ra, cm = _per_branch(Ra, morph.n_branches), _per_branch(cm, morph.n_branches)
    for b in morph.branches:
        lam = float(np.sum(np.diff(b.arc) / np.sqrt(b.diam[:-1] + b.diam[1:])))
        k = b.index
        lam *= math.sqrt(2) * 1e-5 * math.sqrt(4 * math.pi * freq * Ra[k] * cm[k])
        lam_f = b.length / lam
        out.append(int((b.length / (d_lambda * lam_f) + 0.9) / 2) * 2 + 1)
    return out


@dataclass
class Geometry:
    """The discretised cell, nodes in NEURON's natural order: the root node (0), then for
    each branch its ``ncomp`` segment nodes and its end node.

    Attributes:
        parent: ``(N,)`` parent node (-1 for the root node).
        area: ``(N,)`` membrane area in µm² (0 for the end nodes and the root node).
        g_axial: ``(N,)`` conductance in µS between a node and its parent (0 for the root).
        branch: ``(N,)`` the branch of each node.
        seg: ``(N,)`` segment index in its branch (-1 for end nodes and the root node).
        first: ``(B,)`` index of each branch's first segment node.
        ncomp: ``(B,)`` compartments per branch.
        attach: ``(B,)`` the node each branch's ``x = 0`` is (its parent's node).
    """

    parent: np.ndarray
    area: np.ndarray
    g_axial: np.ndarray
    branch: np.ndarray
    seg: np.ndarray
    first: np.ndarray
    ncomp: np.ndarray
    attach: np.ndarray

    @property
    def n_nodes(self) -> int:
        """Number of nodes (compartments, the zero-area branch ends included)."""
        return len(self.parent)

    def node(self, branch: int, x: float) -> int:
        """The node of NEURON's ``sec(x)`` for a membrane location: the segment holding
        ``x`` (x = 0 and 1 give the first and last segment)."""
        return int(self.first[branch] + node_index(int(self.ncomp[branch]), x))

    def node_exact(self, branch: int, x: float) -> int:
        """NEURON's ``node_exact``: the parent connection node at x = 0, the end node at
        x = 1, else the segment holding x."""
        if x <= 0.0:
            return 0 if branch == 0 else int(self.attach[branch])
        if x >= 1.0:
            return int(self.first[branch] + self.ncomp[branch])
        return self.node(branch, x)


def discretize(morph: Morphology, ncomp, Ra) -> Geometry:
    """Nodes, areas and axial conductances of ``morph`` with ``ncomp`` compartments per
    branch (an int or one per branch) and axial resistivity ``Ra`` (ohm cm; one value or
    one per branch: a branch's half segments use its own, as NEURON's ``ri``)."""
    B = morph.n_branches
    if isinstance(ncomp, (int, np.integer)) and not isinstance(ncomp, bool):
        ncomp = [int(ncomp)] * B
    ncomp = np.asarray(ncomp, dtype=np.int64)
    if ncomp.shape != (B,) or np.any(ncomp < 1):
        raise ValueError(
            f"ncomp must be an int >= 1 or one per branch ({B} values >= 1); got {ncomp}."
        )
    Ra_b = _per_branch(Ra, B)
    first = 1 + np.concatenate([[0], np.cumsum(ncomp + 1)[:-1]])
    N = 1 + int(np.sum(ncomp + 1))
    parent = np.full(N, -1, np.int64)
    area = np.zeros(N)
    g = np.zeros(N)
    branch = np.zeros(N, np.int64)
    seg = np.full(N, -1, np.int64)
    attach = np.zeros(B, np.int64)
    geo = Geometry(parent, area, g, branch, seg, first, ncomp, attach)
    for b in morph.branches:
        n = int(ncomp[b.index])
        a, rl, rr = _segments(b.arc, b.diam, n, float(Ra_b[b.index]))
        f = int(first[b.index])
        attach[b.index] = 0 if b.parent < 0 else geo.node_exact(b.parent, b.parent_x)
        nodes = np.arange(f, f + n + 1)
        branch[nodes] = b.index
        seg[f : f + n] = np.arange(n)
        parent[f] = attach[b.index]
        parent[f + 1 : f + n + 1] = nodes[:-1]
        area[f : f + n] = a
        r = np.concatenate([[rl[0]], rr[:-1] + rl[1:], [rr[-1]]])  # MOhm
        g[f : f + n + 1] = 1.0 / r  # uS
    return geo
