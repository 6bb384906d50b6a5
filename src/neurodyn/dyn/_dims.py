"""Dimensions of expressions (Brian2's rules), found by walking the ast: each error
names the expression, the term and both units."""

from __future__ import annotations

import ast
from fractions import Fraction

import neurodyn.units as u
from neurodyn.units import UnitMismatchError

from ._equations import EquationError, dim_name

__all__ = ["expr_dim", "literal_value"]

D0 = u.DIMENSIONLESS
_SAME_DIM = ("abs", "ceil", "floor")
_DIMLESS = (
    "exp log log10 expm1 log1p exprel sin cos tan sinh cosh tanh arcsin arccos arctan".split()
)


def _text(node) -> str:
    return ast.unparse(node)


def literal_value(node, lookup_value=None):
    """The value of a constant exponent (a number, ``-2``, ``1/2``, or a constant name
    through ``lookup_value``), or None."""
    if isinstance(node, ast.Constant) and not isinstance(node.value, bool):
        return Fraction(node.value).limit_denominator(1000)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        v = literal_value(node.operand, lookup_value)
        return None if v is None else (-v if isinstance(node.op, ast.USub) else v)
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Div, ast.Mult, ast.Add, ast.Sub)):
        a, b = literal_value(node.left, lookup_value), literal_value(node.right, lookup_value)
        if a is None or b is None:
            return None
        if isinstance(node.op, ast.Div):
            return a / b if b else None
        return (
            a * b
            if isinstance(node.op, ast.Mult)
            else (a + b if isinstance(node.op, ast.Add) else a - b)
        )
    if isinstance(node, ast.Name) and lookup_value is not None:
        v = lookup_value(node.id)
        if v is not None:
            return Fraction(v).limit_denominator(1000)
    return None


def expr_dim(expr, lookup, where: str, lookup_value=None):
    """``(Dimension, var_type)`` of ``expr`` (an Expression); ``lookup(name)`` gives
    ``(Dimension, var_type)`` of a name. Raises UnitMismatchError / EquationError."""

    def fail(msg):
        raise UnitMismatchError(f"{where}: {msg}")

    def walk(node):
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool):
                return D0, "boolean"
            return D0, "integer" if isinstance(node.value, int) else "float"
        if isinstance(node, ast.Name):
            found = lookup(node.id)
            if found is None:
                raise EquationError(f"{where}: the name `{node.id}` is not defined.")
            return found
        if isinstance(node, ast.UnaryOp):
            d, t = walk(node.operand)
            if isinstance(node.op, ast.Not):
                if t != "boolean":
                    raise EquationError(
                        f"{where}: `not` needs a boolean; `{_text(node.operand)}` is not one."
                    )
                return D0, "boolean"
            return d, "float" if t == "boolean" else t
        if isinstance(node, ast.BoolOp):
            for v in node.values:
                d, t = walk(v)
                if t != "boolean":
                    word = "and" if isinstance(node.op, ast.And) else "or"
                    raise EquationError(
                        f"{where}: `{word}` joins booleans (comparisons); `{_text(v)}` is not one."
                    )
            return D0, "boolean"
        if isinstance(node, ast.Compare):
            parts = [node.left, *node.comparators]
            dims = [walk(p)[0] for p in parts]
            for a, b, da, db in zip(parts, parts[1:], dims, dims[1:]):
                if da is not db:
                    fail(
                        f"the comparison `{_text(node)}` compares `{_text(a)}` (in "
                        f"{dim_name(da)}) with `{_text(b)}` (in {dim_name(db)}). Compare "
                        f"quantities of one dimension (e.g. `v > 0*mV`, not `v > 0`)."
                    )
            return D0, "boolean"
        if isinstance(node, ast.BinOp):
            (dl, tl), (dr, tr) = walk(node.left), walk(node.right)
            t = "integer" if tl == tr == "integer" else "float"
            op = node.op
            if isinstance(op, (ast.Add, ast.Sub, ast.Mod)):
                if dl is not dr:
                    sym = {ast.Add: "+", ast.Sub: "-", ast.Mod: "%"}[type(op)]
                    fail(
                        f"the terms of `{_text(node)}` have different units: "
                        f"`{_text(node.left)}` is in {dim_name(dl)} and `{_text(node.right)}` "
                        f"is in {dim_name(dr)}. Only quantities of one dimension can be "
                        f"combined with `{sym}`."
                    )
                return dl, t
            if isinstance(op, ast.Mult):
                return dl * dr, t
            if isinstance(op, ast.Div):
                return dl / dr, "float"
            if isinstance(op, ast.FloorDiv):
                if dl is not D0 or dr is not D0:
                    fail(f"`{_text(node)}`: floor division `//` needs dimensionless values.")
                return D0, t
            # power
            if dr is not D0:
                fail(
                    f"the exponent of `{_text(node)}` is in {dim_name(dr)}; an exponent must "
                    "be dimensionless."
                )
            if dl is D0:
                return D0, "float" if t == "float" else tl
            p = literal_value(node.right, lookup_value)
            if p is None:
                fail(
                    f"`{_text(node)}`: a quantity with units ({dim_name(dl)}) can only be "
                    "raised to a constant number."
                )
            return dl**p, "float"
        if isinstance(node, ast.Call):
            name = node.func.id
            args = [walk(a) for a in node.args]
            if name in _DIMLESS:
                d, _ = args[0]
                if d is not D0:
                    fail(
                        f"`{name}` takes a dimensionless argument; `{_text(node.args[0])}` is in "
                        f"{dim_name(d)}. Divide it by a quantity of that unit."
                    )
                return D0, "float"
            if name == "sqrt":
                return args[0][0] ** Fraction(1, 2), "float"
            if name in _SAME_DIM:
                return args[0][0], "float"
            if name == "sign":
                return D0, "integer"
            if name == "int":
                d, t = args[0]
                if d is not D0:
                    fail(
                        f"`int` takes a dimensionless value; `{_text(node.args[0])}` is in "
                        f"{dim_name(d)}."
                    )
                return D0, "integer"
            if name == "clip":
                d0 = args[0][0]
                for a, (d, _) in zip(node.args[1:], args[1:]):
                    if d is not d0:
                        fail(
                            f"`{_text(node)}`: the bounds of clip must have the unit of "
                            f"`{_text(node.args[0])}` ({dim_name(d0)}); `{_text(a)}` is in "
                            f"{dim_name(d)}."
                        )
                return d0, "float"
            if name == "timestep":
                for a, (d, _) in zip(node.args, args):
                    if d is not u.second.dim:
                        fail(f"`timestep` takes two times; `{_text(a)}` is in {dim_name(d)}.")
                return D0, "integer"
            if name in ("rand", "randn"):
                return D0, "float"
            if name == "poisson":
                if args[0][0] is not D0:
                    fail("`poisson` takes a dimensionless rate (the expected count).")
                return D0, "integer"
            raise EquationError(f"{where}: unknown function `{name}`.")  # pragma: no cover
        raise EquationError(f"{where}: cannot handle `{_text(node)}`.")  # pragma: no cover

    return walk(expr.tree)
