"""Compiling parsed expressions to JAX functions, by walking the ast (never ``eval``).

Values are plain arrays in SI units (volt, siemens, second), as Brian2 computes; the
dimensions were checked when the expressions were parsed (``_dims``). Subtrees that read
only constants are folded when compiled. This module also holds the analysis of a
right-hand side (which symbols it depends on, its degree in them) used to choose and
check an integration method, and the steppers Brian2 uses for ``exact`` (linear)
equations and for white noise ``xi``.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from neurodyn.state import random

__all__ = ["Compiler", "Const", "deps", "degree", "exact_step", "phi1_exact"]


class Const:
    """A folded constant (an SI float, an int or a bool)."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def __repr__(self) -> str:
        return f"Const({self.value!r})"


def _exprel(x, xp):
    if xp is np:
        return 1.0 if x == 0 else math.expm1(x) / x
    safe = xp.where(x == 0, 1.0, x)
    return xp.where(x == 0, 1.0, xp.expm1(safe) / safe)


def _int(x, xp):
    if xp is np:
        return int(x)
    x = jnp.asarray(x)
    return x.astype(jnp.int32) if x.dtype == jnp.bool_ else jnp.trunc(x)


def _timestep(t, dt, xp):
    return xp.trunc((t + 1e-3 * dt) / dt)


def _fn(name):
    """``f(xp, *args)`` for a function name (xp: numpy for constants, jnp at run time)."""
    if name == "exprel":
        return lambda xp, x: _exprel(x, xp)
    if name == "int":
        return lambda xp, x: _int(x, xp)
    if name == "timestep":
        return lambda xp, t, dt: _timestep(t, dt, xp)
    if name == "clip":
        return lambda xp, x, lo, hi: xp.minimum(xp.maximum(x, lo), hi)
    table = {"abs": "abs", "arcsin": "arcsin", "arccos": "arccos", "arctan": "arctan"}
    attr = table.get(name, name)
    return lambda xp, *a: getattr(xp, attr)(*a)


_BIN = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.Mod: lambda a, b: a % b,
    ast.FloorDiv: lambda a, b: a // b,
}
_CMP = {
    ast.Lt: lambda a, b: a < b,
    ast.LtE: lambda a, b: a <= b,
    ast.Gt: lambda a, b: a > b,
    ast.GtE: lambda a, b: a >= b,
    ast.Eq: lambda a, b: a == b,
    ast.NotEq: lambda a, b: a != b,
}


def _pow(a, b):
    if isinstance(b, int) and not isinstance(b, bool) and not isinstance(a, (int, float)):
        return (
            jax.lax.integer_pow(jnp.asarray(a), b)
            if b >= 0
            else 1.0 / jax.lax.integer_pow(jnp.asarray(a), -b)
        )
    if isinstance(b, float) and b.is_integer() and not isinstance(a, (int, float)):
        return _pow(a, int(b))
    return a**b


def _and(a, b):
    if isinstance(a, (bool, np.bool_)) and isinstance(b, (bool, np.bool_)):
        return bool(a and b)
    return jnp.logical_and(a, b)


def _or(a, b):
    if isinstance(a, (bool, np.bool_)) and isinstance(b, (bool, np.bool_)):
        return bool(a or b)
    return jnp.logical_or(a, b)


class Compiler:
    """Compiles expressions against a resolver.

    ``resolve(name)`` returns ``Const(value)`` (an SI number), ``("var", key)`` (read
    ``env[key]`` at run time) or ``("sub", Expression)`` (a subexpression, inlined:
    Brian2 computes it from the current values wherever it is used). A compiled
    expression is a ``Const`` or a function ``f(env)``; ``env`` is a dict of arrays, with
    ``"__shape__"`` for the random functions.

    ``randoms``: a list to which each ``rand()`` / ``randn()`` call appends ``(key,
    kind)``; the call then reads ``env[key]`` (numbers drawn by the caller, one
    independent draw per call, as Brian2's), for code that runs where no random numbers
    can be drawn (the bodies of event operators)."""

    def __init__(self, resolve: Callable, randoms: list | None = None):
        self.resolve = resolve
        self.randoms = randoms
        self._subs: dict[str, object] = {}

    def compile(self, expr):
        return self._node(expr.tree)

    def function(self, expr) -> Callable:
        """``f(env)`` (constants become functions too)."""
        c = self.compile(expr)
        if isinstance(c, Const):
            value = c.value
            return lambda env: value
        return c

    def _node(self, node):
        if isinstance(node, ast.Constant):
            return Const(node.value)
        if isinstance(node, ast.Name):
            if node.id in ("True", "False"):
                return Const(node.id == "True")
            r = self.resolve(node.id)
            if isinstance(r, Const):
                return r
            kind, key = r
            if kind == "sub":
                if node.id not in self._subs:
                    self._subs[node.id] = None  # cycles were refused when parsed
                    self._subs[node.id] = self._node(key.tree)
                return self._subs[node.id]
            return lambda env, key=key: env[key]
        if isinstance(node, ast.UnaryOp):
            a = self._node(node.operand)
            if isinstance(node.op, ast.Not):
                if isinstance(a, Const):
                    return Const(not a.value)
                return lambda env: jnp.logical_not(a(env))
            if isinstance(node.op, ast.UAdd):
                return a
            if isinstance(a, Const):
                return Const(-a.value)
            return lambda env: -a(env)
        if isinstance(node, ast.BinOp):
            a, b = self._node(node.left), self._node(node.right)
            op = _pow if isinstance(node.op, ast.Pow) else _BIN[type(node.op)]
            if isinstance(node.op, ast.Mod):
                op = _mod
            return self._combine(op, a, b)
        if isinstance(node, ast.BoolOp):
            parts = [self._node(v) for v in node.values]
            op = _and if isinstance(node.op, ast.And) else _or
            out = parts[0]
            for p in parts[1:]:
                out = self._combine(op, out, p)
            return out
        if isinstance(node, ast.Compare):
            parts = [self._node(node.left)] + [self._node(c) for c in node.comparators]
            out = None
            for op, a, b in zip(node.ops, parts, parts[1:]):
                c = self._combine(_CMP[type(op)], a, b)
                out = c if out is None else self._combine(_and, out, c)
            return out
        if isinstance(node, ast.Call):
            return self._call(node)
        raise TypeError(f"cannot compile {ast.unparse(node)}")  # pragma: no cover

    @staticmethod
    def _combine(op, a, b):
        if isinstance(a, Const) and isinstance(b, Const):
            with np.errstate(all="ignore"):
                return Const(op(a.value, b.value))
        if isinstance(a, Const):
            av = a.value
            return lambda env: op(av, b(env))
        if isinstance(b, Const):
            bv = b.value
            return lambda env: op(a(env), bv)
        return lambda env: op(a(env), b(env))

    def _call(self, node):
        name = node.func.id
        args = [self._node(a) for a in node.args]
        if self.randoms is not None and name in ("rand", "randn"):
            key = f"{name}__{len(self.randoms)}"
            self.randoms.append((key, name))
            return lambda env: env[key]
        if name == "rand":
            return lambda env: random.uniform(size=env["__shape__"])
        if name == "randn":
            return lambda env: random.normal(size=env["__shape__"])
        if name == "poisson":
            lam = args[0]
            if isinstance(lam, Const):
                v = lam.value
                return lambda env: random.poisson(v, size=env["__shape__"]).astype(jnp.int32)
            return lambda env: random.poisson(jnp.broadcast_to(lam(env), env["__shape__"])).astype(
                jnp.int32
            )
        f = _fn(name)
        if all(isinstance(a, Const) for a in args):
            with np.errstate(all="ignore"):
                v = f(np, *[a.value for a in args])
            return Const(v.item() if isinstance(v, np.generic) else v)
        fs = [(lambda env, v=a.value: v) if isinstance(a, Const) else a for a in args]
        return lambda env: f(jnp, *[g(env) for g in fs])


def _mod(a, b):
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a % b
    return jnp.mod(a, b)


# ------------------------------------------------------------------ analysis
def deps(tree, subexpr: Callable) -> set[str]:
    """The names ``tree`` reads, through subexpressions (``subexpr(name)`` gives the tree
    of a subexpression or None)."""
    out: set[str] = set()
    seen: set[str] = set()

    def walk(node):
        funcs = {id(n.func) for n in ast.walk(node) if isinstance(n, ast.Call)}
        for n in ast.walk(node):
            if isinstance(n, ast.Name) and id(n) not in funcs:
                sub = subexpr(n.id)
                if sub is not None:
                    if n.id not in seen:
                        seen.add(n.id)
                        walk(sub)
                else:
                    out.add(n.id)
            elif isinstance(n, ast.Call):
                out.add(n.func.id + "()")

    walk(tree)
    return out


def degree(tree, symbols: set[str], subexpr: Callable, exponent: Callable = None) -> int:
    """The polynomial degree of ``tree`` in ``symbols`` (0, 1, or 2 for anything higher
    or not polynomial), through subexpressions."""

    def d(node):
        if isinstance(node, ast.Constant):
            return 0
        if isinstance(node, ast.Name):
            if node.id in symbols:
                return 1
            sub = subexpr(node.id)
            return d(sub) if sub is not None else 0
        if isinstance(node, ast.UnaryOp):
            k = d(node.operand)
            return k if not isinstance(node.op, ast.Not) else (0 if k == 0 else 2)
        if isinstance(node, ast.BinOp):
            a, b = d(node.left), d(node.right)
            if isinstance(node.op, (ast.Add, ast.Sub)):
                return max(a, b)
            if isinstance(node.op, ast.Mult):
                return min(a + b, 2)
            if isinstance(node.op, ast.Div):
                return a if b == 0 else 2
            if isinstance(node.op, ast.Pow):
                if a == 0 and b == 0:
                    return 0
                if b > 0:
                    return 2
                p = exponent(node.right) if exponent is not None else None
                if p is not None and p == int(p) and p >= 0:
                    return min(a * int(p), 2)
                return 2
            return 0 if a == b == 0 else 2
        if isinstance(node, (ast.BoolOp, ast.Compare, ast.Call)):
            kids = (
                node.values
                if isinstance(node, ast.BoolOp)
                else [node.left, *node.comparators]
                if isinstance(node, ast.Compare)
                else node.args
            )
            return 0 if all(d(k) == 0 for k in kids) else 2
        return 2  # pragma: no cover

    return d(tree)


def multiplicative(tree, noise: set[str], states: set[str], subexpr: Callable) -> bool:
    """Whether a noise term of ``tree`` is multiplied by (or divided by) a state
    variable (multiplicative noise)."""

    def names(node):
        return deps(node, subexpr)

    for n in ast.walk(_inline(tree, subexpr)):
        if isinstance(n, ast.BinOp) and isinstance(n.op, (ast.Mult, ast.Div)):
            left, right = names(n.left), names(n.right)
            if (left & noise and right & states) or (right & noise and left & states):
                return True
    return False


def _inline(tree, subexpr):
    class Sub(ast.NodeTransformer):
        def visit_Name(self, node):
            sub = subexpr(node.id)
            return self.visit(sub) if sub is not None else node

    import copy

    return Sub().visit(copy.deepcopy(tree))


# ------------------------------------------------------------------ steppers
def phi1_exact(z):
    """``(exp(z) - 1) / z`` to full precision (1 at z = 0)."""
    safe = jnp.where(z == 0, 1.0, z)
    return jnp.where(z == 0, 1.0, jnp.expm1(safe) / safe)


def exact_step(field, y: dict, t, dt: float, blocks: list[tuple[str, ...]]) -> dict:
    """One exact step of linear equations with coefficients constant over the step
    (Brian2's ``exact``): a variable alone ``x <- x e^{a dt} + b dt phi1(a dt)``, coupled
    variables through the matrix exponential of ``[[A dt, b dt], [0, 0]]`` per neuron.
    ``a``, ``A`` and ``b`` are read off the field by forward differentiation (exact for a
    linear field)."""
    out = dict(y)
    for block in blocks:
        if len(block) == 1:
            (k,) = block

            def fk(x, k=k):
                return field(t, {**y, k: x})[k]

            x = y[k]
            f0, a = jax.jvp(fk, (x,), (jnp.ones_like(x),))
            z = a * dt
            out[k] = x * jnp.exp(z) + (f0 - a * x) * dt * phi1_exact(z)
            continue
        xs = [y[k] for k in block]

        def fb(*vals, block=block):
            d = field(t, {**y, **dict(zip(block, vals))})
            return tuple(d[k] for k in block)

        f0 = fb(*xs)
        shape = jnp.broadcast_shapes(*(jnp.shape(x) for x in xs + list(f0)))
        cols = []
        for j in range(len(block)):
            tangent = tuple(
                (jnp.ones_like(x) if i == j else jnp.zeros_like(x)) for i, x in enumerate(xs)
            )
            _, col = jax.jvp(fb, tuple(xs), tangent)
            cols.append([jnp.broadcast_to(c, shape) for c in col])
        n = len(block)
        A = jnp.stack([jnp.stack([cols[j][i] for j in range(n)], -1) for i in range(n)], -2)
        X = jnp.stack([jnp.broadcast_to(x, shape) for x in xs], -1)
        F = jnp.stack([jnp.broadcast_to(f, shape) for f in f0], -1)
        b = F - jnp.einsum("...ij,...j->...i", A, X)
        M = jnp.zeros((*shape, n + 1, n + 1), A.dtype)
        M = M.at[..., :n, :n].set(A * dt).at[..., :n, n].set(b * dt)
        E = expm(M)
        new = jnp.einsum("...ij,...j->...i", E[..., :n, :n], X) + E[..., :n, n]
        for i, k in enumerate(block):
            out[k] = new[..., i]
    return out


def expm(M):
    """The matrix exponential of ``M`` (``[..., n, n]``): scaling by a power of two to
    an infinity norm below 1/4, a Taylor series of order 12 (truncation ~1e-17), and
    squarings. Unlike a Pade approximant chosen from powers of ``M``, nothing overflows
    for the badly scaled matrices of SI quantities (``R / tau = 1e10`` next to
    ``1 / tau = 100``) in float32."""
    n = M.shape[-1]
    M, scale = _balance(M)
    norm = jnp.max(jnp.sum(jnp.abs(M), axis=-1), axis=-1)
    s = jnp.ceil(jnp.log2(jnp.maximum(jnp.max(norm), 1e-30) / 0.25))
    s = jnp.clip(s, 0, 126).astype(jnp.int32)
    A = M * jnp.exp2(-s.astype(M.dtype))
    eye = jnp.broadcast_to(jnp.eye(n, dtype=M.dtype), M.shape)
    E = eye
    for k in range(12, 0, -1):
        E = eye + jnp.matmul(A, E) / k
    E = jax.lax.fori_loop(0, s, lambda i, E: jnp.matmul(E, E), E)
    return E * scale[..., None, :] / scale[..., :, None]


def _balance(M, rounds: int = 12):
    """``(B, s)`` with ``B = S M S^-1``, ``S = diag(s)``, the off-diagonal row and column
    norms of ``B`` made alike (Osborne's balancing, with the largest diagonal entry as the
    floor of a norm so that the zero rows of triangular systems stay finite)."""
    n = M.shape[-1]
    off = 1.0 - jnp.eye(n, dtype=M.dtype)
    floor = jnp.max(jnp.abs(jnp.diagonal(M, axis1=-2, axis2=-1)), axis=-1) + 1e-30

    def one_round(_, carry):
        B, s = carry
        for i in range(n):
            a = jnp.abs(B) * off
            r, c = jnp.sum(a[..., i, :], -1), jnp.sum(a[..., :, i], -1)
            g = jnp.sqrt((c + floor) / (r + floor))
            B = B.at[..., i, :].multiply(g[..., None]).at[..., :, i].divide(g[..., None])
            s = s.at[..., i].multiply(g)
        return B, s

    return jax.lax.fori_loop(0, rounds, one_round, (M, jnp.ones(M.shape[:-1], M.dtype)))


def coupling_blocks(names: tuple[str, ...], reads: dict[str, set[str]]) -> list[tuple[str, ...]]:
    """Groups of variables whose equations read each other (connected components of
    the graph 'the equation of a reads b'), in declaration order."""
    parent = {k: k for k in names}

    def find(k):
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for a in names:
        for b in reads[a]:
            if b in parent and b != a:
                parent[find(a)] = find(b)
    groups: dict[str, list[str]] = {}
    for k in names:
        groups.setdefault(find(k), []).append(k)
    return [tuple(g) for g in groups.values()]
