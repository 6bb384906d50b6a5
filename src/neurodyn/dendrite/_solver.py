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

On the CPU, with the native kernel built (``dendrite._hines``), the solve is instead one call
of Hines' sequential elimination per step (``seq``: children before parents), O(n) work
in double precision and no per-round overhead; its derivatives come from
``jax.lax.custom_linear_solve`` (the matrix is symmetric: the adjoint solve is the same
call), and other platforms lower it to the rounds above.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from jax.extend.core import Primitive
from jax.interpreters import ad, batching, mlir

from . import _hines

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
        native: solve with the native Hines kernel on the CPU (one sequential
            elimination per step; ``dendrite._hines``): None (default) when it is built, True
            to require it, False for the pure-JAX rounds everywhere.
        layout: the caller's nodes in the internal order wanted (a permutation; the root
            is moved last), e.g. regions contiguous so that mechanisms read slices of V;
            the same order with and without the native kernel (the pure-JAX rounds
            permute into their own order and back). Default: with the native kernel the
            caller's order, root last; without it the rounds' order.

    Attributes:
        order: ``(N,)`` the caller's node at each internal position.
        position: ``(N,)`` the internal position of each caller node.
        parent: ``(N,)`` the parent of each internal node, in internal numbering.
        n_rounds: the number of rounds.
    """

    def __init__(self, parent, compress: bool = True, native: bool | None = None, layout=None):
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
            # (int32 indices: the same constants whether or not x64 is enabled)
            p, c, kids, up32 = (a.astype(np.int32) for a in (p, c, kids, up))
            self.rounds.append(_Round(m, p, c, kids, up32, up < big, bool(np.any(c < big))))
            start += m
        self.n_rounds = len(self.rounds)
        if native and not _hines.available():
            raise RuntimeError(
                f"TreeSolver(native=True): the native tree solve is unavailable: {_hines.reason()}."
            )
        self.native = _hines.available() if native is None else bool(native)
        self._r_perm = self._r_inv = None
        if self.native or layout is not None:
            # the internal order: the layout (the rounds permute in and out), the same
            # with and without the native kernel (saved V arrays read the same everywhere)
            internal = np.arange(N) if layout is None else np.asarray(layout, np.int64)
            if sorted(internal.tolist()) != list(range(N)):
                raise ValueError("TreeSolver: layout must be a permutation of the nodes.")
            internal = np.concatenate([internal[internal != 0], [0]])  # the root last
            r_order, r_position = self.order, self.position
            self.order = internal
            self.position = np.empty(N, np.int64)
            self.position[internal] = np.arange(N)
            if not np.array_equal(internal, r_order):
                self._r_perm = self.position[r_order].astype(np.int32)  # rounds k: internal
                self._r_inv = r_position[internal].astype(np.int32)  # internal i: rounds
            self.parent = np.full(N, -1, np.int64)
            self.parent[self.position[1:]] = self.position[parent[1:]]
        # Hines' elimination order for the native kernel: children before parents, by
        # height (the longest path down to a leaf: leaves first, the root last), so that
        # consecutive eliminations are independent and overlap in the CPU's pipeline
        # (a chain eliminated node after node waits for every division in turn)
        height = np.zeros(N, np.int64)
        for i in range(N - 1, 0, -1):  # natural order: children after parents
            height[parent[i]] = max(height[parent[i]], height[i] + 1)
        natural = np.lexsort((np.arange(N), height))  # stable by height; the root last
        self._seq = self.position[natural].astype(np.int32)
        par = self.parent.copy()
        par[-1] = N - 1  # (the root's parent is never read)
        self._par32 = par.astype(np.int32)
        kids: list[list[int]] = [[] for _ in range(N)]
        for i in range(N - 1):
            kids[par[i]].append(i)
        self._kids = np.full((N, max(len(k) for k in kids)), N, np.int32)  # N: none
        for i, k in enumerate(kids):
            self._kids[i, : len(k)] = k

    def solve(self, d, e, r):
        """``x`` with ``A x = r``; ``d``, ``e``, ``r`` of shape ``(..., N)`` in internal
        order (``e`` of the root is ignored); their leading (batch) axes broadcast."""
        if not self.native:
            return self._solve_rounds(d, e, r)
        d, e, r = (jnp.asarray(a) for a in (d, e, r))
        dtype = jnp.result_type(d, e, r)
        if not jnp.issubdtype(dtype, jnp.floating):
            dtype = jnp.result_type(float)
        N = self.n_nodes
        lead = jnp.broadcast_shapes(d.shape[:-1], e.shape[:-1], r.shape[:-1])
        d, e = (
            a.astype(dtype)
            if a.shape[:-1] in ((), lead)
            else jnp.broadcast_to(a, (*lead, N)).astype(dtype)
            for a in (d, e)
        )
        r = jnp.broadcast_to(r, (*lead, N)).astype(dtype)
        seq, par = jnp.asarray(self._seq), jnp.asarray(self._par32)

        def solve(_, b):
            return _tree_solve_p.bind(d, e, b, seq, par, solver=self)

        return jax.lax.custom_linear_solve(lambda x: self.matvec(d, e, x), r, solve, symmetric=True)

    def cable(self, dm, b, v, g, add=None):
        """The change of V in a cable step: ``x = (diag(dm) + K)^-1 (b - K v)`` with ``K``
        the tree's Laplacian of the axial conductances ``g`` (``g[i]`` between node ``i``
        and its parent; ``(K v)_i`` is the axial current out of node ``i``). ``dm``
        (membrane and capacitive conductances), ``b`` (currents into the nodes) and ``v``
        of shape ``(..., N)`` in internal order, their leading axes broadcasting; ``g``
        of shape ``(N,)``, a constant (the root's entry is ignored). With ``add`` (a
        number), ``v + add * x`` instead (the new V of a step, without a pass of its own).
        Natively one pass that assembles the axial terms in double precision and
        eliminates; differentiable (forward and reverse) in ``dm``, ``b`` and ``v``."""
        dm, b, v = (jnp.asarray(a) for a in (dm, b, v))
        dtype = jnp.result_type(dm, b, v)
        if not jnp.issubdtype(dtype, jnp.floating):
            dtype = jnp.result_type(float)
        N = self.n_nodes
        g = np.asarray(g, np.float64).copy()
        g[-1] = 0.0  # the root
        add = 0.0 if add is None else float(add)
        if not self.native:
            v = v.astype(dtype)
            x = self._cable_jax(dm.astype(dtype), b.astype(dtype), v, g)
            return v + add * x if add else x
        lead = jnp.broadcast_shapes(dm.shape[:-1], b.shape[:-1], v.shape[:-1])
        dm, v = (
            a.astype(dtype)
            if a.shape[:-1] in ((), lead)
            else jnp.broadcast_to(a, (*lead, N)).astype(dtype)
            for a in (dm, v)
        )
        b = jnp.broadcast_to(b, (*lead, N)).astype(dtype)
        g = jnp.asarray(g, dtype)
        seq, par = jnp.asarray(self._seq), jnp.asarray(self._par32)
        return _cable_p.bind(dm, b, v, g, seq, par, solver=self, add=add)

    def _cable_jax(self, dm, b, v, g):
        """:meth:`cable` in pure JAX: the axial currents by gathers, then the rounds."""
        g = jnp.asarray(g, dm.dtype)
        par = self._par32
        flow = g * (jnp.take(v, par, axis=-1) - v)  # from the parent into each node
        kids = lambda x: jnp.sum(  # noqa: E731
            jnp.take(x, self._kids, axis=-1, mode="fill", fill_value=0), axis=-1
        )
        diag = dm + g + kids(g)
        return self._solve_rounds(diag, -g, b + flow - kids(flow))

    def _solve_rounds(self, d, e, r):
        """The solve in O(log n) vectorised rounds (pure JAX)."""
        if self._r_perm is None:
            return self._rounds(d, e, r)
        d, e, r = (jnp.take(jnp.asarray(a), self._r_perm, axis=-1) for a in (d, e, r))
        return jnp.take(self._rounds(d, e, r), self._r_inv, axis=-1)

    def _rounds(self, d, e, r):
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
        p = self.parent[:-1].astype(np.int32)  # the root is last internally
        out = d * x
        out = out.at[..., :-1].add(e[..., :-1] * jnp.take(x, p, axis=-1))
        return out.at[..., p].add(e[..., :-1] * x[..., :-1])


# -- the native solve as a primitive: the kernel on the CPU, the rounds elsewhere --------

_tree_solve_p = Primitive("neurodyn_tree_solve")


def _abstract(d, e, r, seq, par, *, solver):
    return jax.core.ShapedArray(r.shape, r.dtype)


def _reference(d, e, r, seq, par, *, solver):
    return solver._solve_rounds(d, e, r)


def _batch(args, dims, *, solver):
    d, e, r, seq, par = args
    size = next(a.shape[k] for a, k in zip(args, dims) if k is not None)
    r = batching.bdim_at_front(r, dims[2], size)  # (size, *lead, N)
    out = []
    for a, k in ((d, dims[0]), (e, dims[1])):
        if k is not None:
            a = jnp.moveaxis(a, k, 0)
            if a.ndim != r.ndim:  # (size, N) against (size, *lead, N)
                a = a.reshape(size, *(1,) * (r.ndim - a.ndim), a.shape[-1])
        if a.ndim > 1 and a.shape != r.shape:
            a = jnp.broadcast_to(a, r.shape)  # (a row of N is shared by the kernel)
        out.append(a)
    return _tree_solve_p.bind(*out, r, seq, par, solver=solver), 0


_impls: dict = {}


def _impl(*args, solver):
    if solver not in _impls:
        _impls[solver] = jax.jit(lambda *a: _tree_solve_p.bind(*a, solver=solver))
    return _impls[solver](*args)


_tree_solve_p.def_impl(_impl)
_tree_solve_p.def_abstract_eval(_abstract)
batching.primitive_batchers[_tree_solve_p] = _batch
mlir.register_lowering(_tree_solve_p, mlir.lower_fun(_reference, multiple_results=False))
if _hines.available():
    _ffi_rule = jax.ffi.ffi_lowering(_hines.TARGET)

    def _native_rule(ctx, *args, solver):
        return _ffi_rule(ctx, *args)

    mlir.register_lowering(_tree_solve_p, _native_rule, platform="cpu")


# -- the cable step as a primitive: linear in (b, v) for fixed dm ------------------------

_cable_p = Primitive("neurodyn_cable_solve")


def _cable_abstract(dm, b, v, g, seq, par, *, solver, add):
    return jax.core.ShapedArray(b.shape, b.dtype)


def _cable_reference(dm, b, v, g, seq, par, *, solver, add):
    x = solver._cable_jax(dm, b, v, g)
    return v + add * x if add else x


def _zeros(x, aval):
    return jnp.zeros(aval.shape, aval.dtype) if type(x) is ad.Zero else x


def _cable_jvp(primals, tangents, *, solver, add):
    dm, b, v, g, seq, par = primals
    tdm, tb, tv = tangents[:3]
    x = _cable_p.bind(*primals, solver=solver, add=0.0)
    out = v + add * x if add else x
    if all(type(t) is ad.Zero for t in (tdm, tb, tv)):
        return out, ad.Zero.from_primal_value(out)
    # d[M^-1 (b - K v)] = M^-1 (db - dM x - K dv): the same step with (db - dm' x, dv)
    rhs = jnp.zeros_like(x) if type(tb) is ad.Zero else tb
    if type(tdm) is not ad.Zero:
        rhs = rhs - tdm * x
    tv = jnp.zeros_like(v) if type(tv) is ad.Zero else tv
    tx = _cable_p.bind(dm, rhs, tv, g, seq, par, solver=solver, add=0.0)
    return out, (jnp.broadcast_to(tv + add * tx, tx.shape) if add else tx)


def _cable_transpose(ct, dm, b, v, g, seq, par, *, solver, add):
    # the map (b, v) -> M^-1 (b - K v), M = diag(dm) + K symmetric: its transpose takes
    # ct to (lam, -K lam) with lam = M^-1 ct, and K lam = ct - dm lam
    if add or ad.is_undefined_primal(dm) or ad.is_undefined_primal(g):
        raise NotImplementedError("neurodyn_cable_solve is linear in b and v only")
    b_aval = b.aval if ad.is_undefined_primal(b) else jax.core.get_aval(b)
    v_aval = v.aval if ad.is_undefined_primal(v) else jax.core.get_aval(v)
    if type(ct) is ad.Zero:
        zb = ad.Zero(b_aval) if ad.is_undefined_primal(b) else None
        zv = ad.Zero(v_aval) if ad.is_undefined_primal(v) else None
        return [None, zb, zv, None, None, None]
    zero_v = jnp.zeros(ct.shape[-1:], ct.dtype)
    lam = _cable_p.bind(dm, ct, zero_v, g, seq, par, solver=solver, add=0.0)
    ct_b = ct_v = None
    if ad.is_undefined_primal(b):
        ct_b = _sum_to(lam, b_aval.shape)
    if ad.is_undefined_primal(v):
        ct_v = _sum_to(dm * lam - ct, v_aval.shape)
    return [None, ct_b, ct_v, None, None, None]


def _sum_to(x, shape):
    """``x`` summed over the leading axes that ``shape`` lacks (a broadcast's transpose)."""
    extra = x.ndim - len(shape)
    if extra:
        x = jnp.sum(x, axis=tuple(range(extra)))
    return x


def _cable_batch(args, dims, *, solver, add):
    dm, b, v, g, seq, par = args
    if any(k is not None for k in dims[3:]):
        raise NotImplementedError("neurodyn_cable_solve: the axial conductances are constant")
    size = next(a.shape[k] for a, k in zip(args, dims) if k is not None)
    b = batching.bdim_at_front(b, dims[1], size)  # (size, *lead, N)
    out = []
    for a, k in ((dm, dims[0]), (v, dims[2])):
        if k is not None:
            a = jnp.moveaxis(a, k, 0)
            if a.ndim != b.ndim:  # (size, N) against (size, *lead, N)
                a = a.reshape(size, *(1,) * (b.ndim - a.ndim), a.shape[-1])
        if a.ndim > 1 and a.shape != b.shape:
            a = jnp.broadcast_to(a, b.shape)  # (a row of N is shared by the kernel)
        out.append(a)
    return _cable_p.bind(out[0], b, out[1], g, seq, par, solver=solver, add=add), 0


def _cable_impl(*args, solver, add):
    key = ("cable", solver, add)
    if key not in _impls:
        _impls[key] = jax.jit(lambda *a: _cable_p.bind(*a, solver=solver, add=add))
    return _impls[key](*args)


_cable_p.def_impl(_cable_impl)
_cable_p.def_abstract_eval(_cable_abstract)
ad.primitive_jvps[_cable_p] = _cable_jvp
ad.primitive_transposes[_cable_p] = _cable_transpose
batching.primitive_batchers[_cable_p] = _cable_batch
mlir.register_lowering(_cable_p, mlir.lower_fun(_cable_reference, multiple_results=False))
if _hines.available():
    _cable_ffi_rule = jax.ffi.ffi_lowering(_hines.CABLE_TARGET)
    # the kernel reads a row of V before it writes that row of the result: the new V
    # may take V's buffer (no copy of V per step in a loop that carries it)
    _cable_ffi_inplace = jax.ffi.ffi_lowering(_hines.CABLE_TARGET, operand_output_aliases={2: 0})

    def _cable_native_rule(ctx, *args, solver, add):
        v, out = ctx.avals_in[2], ctx.avals_out[0]
        same = (v.shape, v.dtype) == (out.shape, out.dtype)
        rule = _cable_ffi_inplace if same else _cable_ffi_rule
        return rule(ctx, *args, add=np.float64(add))

    mlir.register_lowering(_cable_p, _cable_native_rule, platform="cpu")
