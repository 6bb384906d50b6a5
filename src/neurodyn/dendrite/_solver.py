"""An exact O(n) solver for the tree-structured linear system of a cable step.

The matrix is symmetric with the sparsity of the tree: ``d`` on the diagonal and, for
every node ``i`` but the root, ``e[i]`` between ``i`` and its parent. Gaussian elimination
in any order that only removes nodes with at most one remaining child creates no fill
outside a tree (eliminating a node of one child joins that child to its parent), so the
solve stays O(n). Hines' order removes leaves first, level by level from the deepest;
here each *round* removes an independent set of nodes (no two adjacent): all current
leaves ("rake") and, with ``compress=True``, every other node of the unbranched chains
("compress"), which halves every chain in each round. A cable of ``n`` compartments then
takes O(log n) rounds instead of n levels, and a dendritic tree a few tens of rounds.

Every round is a few vectorised operations (gathers and element-wise arithmetic on the
whole set; no scatters): the nodes are numbered in elimination order, so the eliminated
set of a round is a contiguous block followed by the survivors. Back substitution runs the
rounds in reverse. The solve is pure ``jax.numpy`` on the last axis: it works under jit,
vmap (any leading batch axes) and grad.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np

__all__ = ["TreeSolver"]


@dataclass
class _Round:
    m: int  # eliminated nodes (the first m of the current block)
    p: np.ndarray  # (m,) parent of each eliminated node, index among the survivors
    c: np.ndarray  # (m,) its child among the survivors, or an out-of-range index
    kids: np.ndarray  # (n_s, W) eliminated children of each survivor (out of range: none)
    up: np.ndarray  # (n_s,) eliminated parent of each survivor (out of range: none)
    has_up: np.ndarray  # (n_s,) bool
    any_c: bool


def _take(x, idx):
    """``x[..., idx]`` with 0 for out-of-range indices."""
    return jnp.take(x, idx, axis=-1, mode="fill", fill_value=0)


class TreeSolver:
    """Solve ``A x = r`` for the tree matrix ``A`` (diagonal ``d``, off-diagonal ``e[i]``
    between node ``i`` and ``parent[i]``), nodes in the solver's internal order.

    Args:
        parent: ``(N,)`` parent of every node in the caller's order; node 0 is the root
            (``parent[0] == -1``) and parents come before their children.
        compress: also eliminate chain nodes in each round (O(log n) rounds for a chain);
            False gives Hines' level-by-level order.

    Attributes:
        order: ``(N,)`` the caller's node at each internal position.
        position: ``(N,)`` the internal position of each caller node.
        parent: ``(N,)`` the parent of each internal node, in internal numbering.
        n_rounds: the number of rounds.
    """

    def __init__(self, parent, compress: bool = True):
        parent = np.asarray(parent, np.int64)
        N = len(parent)
        if (
            N == 0
            or parent[0] != -1
            or np.any(parent[1:] < 0)
            or np.any(parent[1:] >= np.arange(1, N))
        ):
            raise ValueError("TreeSolver: parent[0] must be -1 and parent[i] < i for i > 0.")
        par = parent.copy()
        children: list[set] = [set() for _ in range(N)]
        for i in range(1, N):
            children[par[i]].add(i)
        alive = np.ones(N, bool)
        alive[0] = False  # the root is solved last
        rounds_nodes = []  # per round: list of (k, p, c)
        while alive.any():
            live = np.flatnonzero(alive)
            chosen: list[int] = [int(k) for k in live if not children[k]]
            taken = set(chosen)
            if compress:
                blocked: set[int] = set()
                for k in live:
                    k = int(k)
                    if len(children[k]) != 1 or k in taken or k in blocked:
                        continue
                    (c,) = children[k]
                    p = int(par[k])
                    if c in taken or p in taken:
                        continue
                    chosen.append(k)
                    taken.add(k)
                    blocked.update((c, p))
            rnd = []
            for k in sorted(chosen):
                p = int(par[k])
                c = next(iter(children[k])) if children[k] else -1
                rnd.append((k, p, c))
            for k, p, c in rnd:
                children[p].discard(k)
                if c >= 0:
                    par[c] = p
                    children[p].add(c)
                alive[k] = False
            rounds_nodes.append(rnd)
        order = [k for rnd in rounds_nodes for k, _, _ in rnd] + [0]
        self.order = np.asarray(order, np.int64)
        self.position = np.empty(N, np.int64)
        self.position[self.order] = np.arange(N)
        self.parent = np.full(N, -1, np.int64)
        self.parent[self.position[1:]] = self.position[parent[1:]]
        self.n_nodes = N
        self.rounds: list[_Round] = []
        start = 0
        for rnd in rounds_nodes:
            m = len(rnd)
            n_s = N - start - m
            base = start + m  # first survivor (internal position)
            big = max(m, n_s) + 1  # out of range for both
            p = np.array([self.position[p] - base for _, p, _ in rnd], np.int64)
            c = np.array([self.position[c] - base if c >= 0 else big for _, _, c in rnd], np.int64)
            kids_lists: list[list[int]] = [[] for _ in range(n_s)]
            up = np.full(n_s, big, np.int64)
            for i, (_, _, cc) in enumerate(rnd):
                kids_lists[p[i]].append(i)
                if cc >= 0:
                    up[c[i]] = i
            W = max((len(k) for k in kids_lists), default=0)
            kids = np.full((n_s, W), big, np.int64)
            for s, ks in enumerate(kids_lists):
                kids[s, : len(ks)] = ks
            self.rounds.append(_Round(m, p, c, kids, up, up < big, bool(np.any(c < big))))
            start += m
        self.n_rounds = len(self.rounds)

    def solve(self, d, e, r):
        """``x`` with ``A x = r``; ``d``, ``e``, ``r`` of shape ``(..., N)`` in internal
        order (``e`` of the root is ignored); their leading (batch) axes broadcast."""
        saved = []
        for rnd in self.rounds:
            m = rnd.m
            dE, eE, rE = d[..., :m], e[..., :m], r[..., :m]
            d, e, r = d[..., m:], e[..., m:], r[..., m:]
            inv = 1.0 / dE
            ue, ur = eE * inv, rE * inv  # e/d and r/d of the eliminated nodes
            if rnd.kids.shape[1]:
                d = d - jnp.sum(_take(eE * ue, rnd.kids), axis=-1)
                r = r - jnp.sum(_take(eE * ur, rnd.kids), axis=-1)
            ec = None
            if rnd.any_c:
                ec = _take(e, rnd.c)  # the edge of each eliminated node's child, before
                inv_up = _take(inv, rnd.up)
                d = d - e * e * inv_up
                r = r - e * _take(ur, rnd.up)
                e = jnp.where(rnd.has_up, -e * _take(ue, rnd.up), e)
            saved.append((eE, ur, ec, inv))
        x = r / d
        for rnd, (eE, ur, ec, inv) in zip(reversed(self.rounds), reversed(saved)):
            xE = ur - eE * inv * jnp.take(x, rnd.p, axis=-1)
            if ec is not None:
                xE = xE - ec * inv * _take(x, rnd.c)
            lead = jnp.broadcast_shapes(xE.shape[:-1], x.shape[:-1])
            xE = jnp.broadcast_to(xE, lead + xE.shape[-1:])
            x = jnp.concatenate([xE, jnp.broadcast_to(x, lead + x.shape[-1:])], axis=-1)
        return x

    def matvec(self, d, e, x):
        """``A x`` (internal order), for checks."""
        p = self.parent[:-1]  # the root is last internally
        out = d * x
        out = out.at[..., :-1].add(e[..., :-1] * jnp.take(x, p, axis=-1))
        return out.at[..., p].add(e[..., :-1] * x[..., :-1])
