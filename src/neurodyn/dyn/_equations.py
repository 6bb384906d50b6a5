"""Brian2's equation strings: parsing, names, flags and dimensions.

Three kinds of line, Python comments, multi-line expressions (a line without ``:``
continues on the next)::

    dv/dt = (I - v) / tau : volt (unless refractory)    # differential equation
    I = g * (E - v) : amp                               # subexpression
    g : siemens (constant)                              # parameter

Expressions are read with Python's :mod:`ast` and only a whitelist of nodes is
accepted (arithmetic, comparisons, ``and``/``or``/``not``, calls of Brian2's functions,
names, numbers): user text is never evaluated. Units of declarations are read with
neurodyn's unit parser (``volt``, ``mV``, ``nS/cm**2``, Brian2's ``msiemens``, ``cm2``).
"""

from __future__ import annotations

import ast
import keyword
import re
from collections.abc import Mapping
from fractions import Fraction

import neurodyn.units as u
from neurodyn.units import Dimension, UnitMismatchError

from ._equnits import EquationError, brian_unit, dim_name, parse_unit

__all__ = [
    "Equations",
    "SingleEquation",
    "Expression",
    "Statement",
    "EquationError",
    "parse_expression",
    "parse_statements",
    "parse_unit",
    "brian_unit",
    "dim_name",
    "DIFFERENTIAL",
    "SUBEXPRESSION",
    "PARAMETER",
    "FUNCTIONS",
    "CONSTANTS",
]

DIFFERENTIAL = "differential equation"
SUBEXPRESSION = "subexpression"
PARAMETER = "parameter"

#: the flags each kind of line may carry (NeuronGroup and Synapses narrow them)
FLAGS = {
    DIFFERENTIAL: ("unless refractory", "event-driven", "clock-driven"),
    SUBEXPRESSION: ("shared", "constant over dt", "summed"),
    PARAMETER: ("constant", "shared", "linked"),
}
#: names with a meaning of their own in equations (Brian2's list)
RESERVED = ("t", "dt", "t_in_timesteps", "xi", "i", "j", "N")
REFRACTORY_NAMES = ("not_refractory", "refractory", "refractory_until", "lastspike")

#: Brian2's functions: name -> number of arguments (None: any)
FUNCTIONS = {
    **dict.fromkeys(
        "exp log log10 expm1 log1p exprel sin cos tan sinh cosh tanh arcsin arccos arctan "
        "sqrt abs sign ceil floor int poisson".split(),
        1,
    ),
    "clip": 3,
    "rand": 0,
    "randn": 0,
    "timestep": 2,
}
STOCHASTIC_FUNCTIONS = ("rand", "randn", "poisson")
CONSTANTS = {"pi": 3.141592653589793, "e": 2.718281828459045, "inf": float("inf")}

# ------------------------------------------------------------------ expressions
_BINOPS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.Mod, ast.FloorDiv)
_UNARY = (ast.USub, ast.UAdd, ast.Not)
_CMP = (ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Eq, ast.NotEq)
_OP_TEXT = {
    ast.BitXor: "`^` (exclusive or); write powers with `**`",
    ast.BitAnd: "`&`; write `and`",
    ast.BitOr: "`|`; write `or`",
    ast.Invert: "`~`; write `not`",
    ast.MatMult: "`@`",
    ast.LShift: "`<<`",
    ast.RShift: "`>>`",
}


def _caret(text: str, col: int | None) -> str:
    if col is None:
        return f"\n    {text}"
    return f"\n    {text}\n    {' ' * max(col, 0)}^"


def _refuse(node, text: str, where: str, what: str) -> None:
    col = getattr(node, "col_offset", None)
    raise EquationError(f"{where}: {what}.{_caret(text, col)}")


def _check_node(node, text: str, where: str) -> None:
    """Raise EquationError at the first node outside the whitelist."""
    if isinstance(node, ast.BinOp):
        if not isinstance(node.op, _BINOPS):
            what = _OP_TEXT.get(type(node.op), type(node.op).__name__)
            _refuse(node, text, where, f"the operator {what} is not allowed in expressions")
        _check_node(node.left, text, where)
        _check_node(node.right, text, where)
    elif isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, _UNARY):
            what = _OP_TEXT.get(type(node.op), type(node.op).__name__)
            _refuse(node, text, where, f"the operator {what} is not allowed in expressions")
        _check_node(node.operand, text, where)
    elif isinstance(node, ast.BoolOp):
        for v in node.values:
            _check_node(v, text, where)
    elif isinstance(node, ast.Compare):
        for op in node.ops:
            if not isinstance(op, _CMP):
                _refuse(node, text, where, f"the comparison {type(op).__name__} is not allowed")
        _check_node(node.left, text, where)
        for c in node.comparators:
            _check_node(c, text, where)
    elif isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name):
            _refuse(node, text, where, "only functions called by name (`exp(x)`) are allowed")
        name = node.func.id
        if name not in FUNCTIONS:
            _refuse(
                node,
                text,
                where,
                f"unknown function `{name}`; the functions are {', '.join(sorted(FUNCTIONS))}",
            )
        if node.keywords:
            _refuse(node, text, where, f"`{name}` takes no keyword arguments")
        n = FUNCTIONS[name]
        if any(isinstance(a, ast.Starred) for a in node.args):
            _refuse(node, text, where, f"`{name}(*...)` is not allowed")
        if n is not None and len(node.args) != n:
            _refuse(node, text, where, f"`{name}` takes {n} argument(s), got {len(node.args)}")
        for a in node.args:
            _check_node(a, text, where)
    elif isinstance(node, ast.Name):
        if not isinstance(node.ctx, ast.Load):  # pragma: no cover - eval mode only loads
            _refuse(node, text, where, "assignment inside an expression is not allowed")
    elif isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or type(node.value) in (int, float):
            return
        _refuse(node, text, where, f"the literal {node.value!r} is not a number")
    else:
        kind = {
            ast.IfExp: "`a if c else b` (use a boolean factor, e.g. `x*(v > 0*mV)`)",
            ast.Attribute: "attribute access (`a.b`)",
            ast.Subscript: "indexing (`a[i]`)",
            ast.Lambda: "lambda",
        }.get(type(node), type(node).__name__)
        _refuse(node, text, where, f"{kind} is not allowed in expressions")


class Expression:
    """A parsed, whitelisted expression: ``code`` (the text), ``tree`` (its ast body) and
    ``identifiers`` (the names it reads, in order, functions excluded)."""

    def __init__(self, code: str, tree: ast.AST):
        self.code = code
        self.tree = tree
        names, calls = [], []
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                calls.append(node.func.id)
            elif isinstance(node, ast.Name) and node.id not in names:
                names.append(node.id)
        self.functions = tuple(dict.fromkeys(calls))
        self.identifiers = tuple(n for n in names if n not in self.functions)

    def __str__(self) -> str:
        return self.code

    def __repr__(self) -> str:
        return f"Expression({self.code!r})"


def parse_expression(text: str, where: str = "expression") -> Expression:
    """A whitelisted :class:`Expression`; ``EquationError`` (with a caret under the
    column) for a syntax error or a construct that is not allowed."""
    code = " ".join(text.split())
    if not code:
        raise EquationError(f"{where}: the expression is empty.")
    try:
        tree = ast.parse(code, mode="eval").body
    except SyntaxError as err:
        col = (err.offset or 1) - 1
        msg = err.msg
        if "^" in code[col : col + 1] or "^" in code:
            msg += " (powers are written `x**2`)"
        raise EquationError(f"{where}: syntax error: {msg}.{_caret(code, col)}") from None
    _check_node(tree, code, where)
    return Expression(code, tree)


class Statement:
    """One line of a reset or of ``on_pre`` code: ``var op= expr`` (op is ``=``, ``+=``,
    ``-=``, ``*=`` or ``/=``)."""

    def __init__(self, var: str, op: str, expr: Expression, code: str):
        self.var, self.op, self.expr, self.code = var, op, expr, code

    def __repr__(self) -> str:
        return f"Statement({self.code!r})"


_AUG = {ast.Add: "+=", ast.Sub: "-=", ast.Mult: "*=", ast.Div: "/="}


def parse_statements(text: str, where: str = "code") -> list[Statement]:
    """Statements separated by newlines or ``;`` (comments allowed)."""
    out = []
    if not isinstance(text, str):
        raise TypeError(f"{where}: expected a string of statements such as 'v = -60*mV'.")
    for raw in text.splitlines():
        line = raw.split("#", 1)[0]
        for part in line.split(";"):
            code = part.strip()
            if not code:
                continue
            try:
                mod = ast.parse(code, mode="exec")
            except SyntaxError as err:
                col = (err.offset or 1) - 1
                raise EquationError(
                    f"{where}: syntax error in `{code}`: {err.msg}. A statement is "
                    f"`var = expr` or `var += expr`.{_caret(code, col)}"
                ) from None
            if len(mod.body) != 1:  # pragma: no cover - one line, one statement
                raise EquationError(f"{where}: `{code}` is not a single statement.")
            node = mod.body[0]
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target, op, value = node.targets[0], "=", node.value
            elif isinstance(node, ast.AugAssign) and type(node.op) in _AUG:
                target, op, value = node.target, _AUG[type(node.op)], node.value
            else:
                raise EquationError(
                    f"{where}: `{code}` is not a statement of the form `var = expr`, "
                    "`var += expr`, `var -= expr`, `var *= expr` or `var /= expr`."
                )
            if not isinstance(target, ast.Name):
                raise EquationError(f"{where}: `{code}`: the target must be a variable name.")
            start = value.col_offset
            expr_code = code[start:]
            expr = parse_expression(expr_code, f"{where} (`{code}`)")
            out.append(Statement(target.id, op, expr, code))
    return out


# ------------------------------------------------------------------ equations
class SingleEquation:
    """One line: ``kind`` (differential equation, subexpression or parameter),
    ``varname``, ``unit`` (a neurodyn Unit), ``dim``, ``var_type``, ``expr`` (an
    :class:`Expression` or None), ``flags`` and ``line`` (its first line number)."""

    def __init__(
        self, kind, varname, unit, var_type="float", expr=None, flags=(), line=0, unit_text=None
    ):
        self.kind, self.varname, self.unit = kind, varname, unit
        self.var_type, self.expr, self.flags, self.line = var_type, expr, tuple(flags), line
        self.unit_text = unit_text or (var_type if var_type != "float" else unit.name)

    @property
    def dim(self) -> Dimension:
        return self.unit.dim

    @property
    def type(self) -> str:  # Brian2's name
        return self.kind

    def __str__(self) -> str:
        lhs = f"d{self.varname}/dt" if self.kind == DIFFERENTIAL else self.varname
        rhs = f" = {self.expr.code}" if self.expr is not None else ""
        unit = self.unit_text
        flags = f" ({', '.join(self.flags)})" if self.flags else ""
        return f"{lhs}{rhs} : {unit}{flags}"

    def __repr__(self) -> str:
        return f"<{self.kind} {self}>"


_DIFF_RE = re.compile(r"^\s*d\s*([A-Za-z_]\w*)\s*/\s*dt\s*=(.*)$", re.S)
_SUB_RE = re.compile(r"^\s*([A-Za-z_]\w*)\s*=(?!=)(.*)$", re.S)
_PAR_RE = re.compile(r"^\s*([A-Za-z_]\w*)\s*$")
_UNIT_FLAGS_RE = re.compile(r"^([^()]*?)\s*(?:\((.*)\))?\s*$", re.S)


def check_name(name: str, where: str) -> None:
    """Refuse a variable name that Brian2 reserves or that shadows a unit or function."""
    if keyword.iskeyword(name):
        raise EquationError(f"{where}: `{name}` is a Python keyword; rename the variable.")
    if name.startswith("_"):
        raise EquationError(
            f"{where}: `{name}` starts with an underscore, which is kept for internal names; "
            "rename the variable."
        )
    if name in RESERVED or name.startswith("xi_") or name == "xi":
        raise EquationError(
            f"{where}: `{name}` is a reserved name (t, dt, t_in_timesteps, xi, xi_*, i, j, N "
            "have their own meaning in equations); rename the variable."
        )
    if name in REFRACTORY_NAMES:
        raise EquationError(
            f"{where}: `{name}` is used by the refractory mechanism; rename the variable."
        )
    if name in FUNCTIONS or name in CONSTANTS:
        raise EquationError(f"{where}: `{name}` is the name of a function or constant; rename it.")
    if brian_unit(name) is not None:
        raise EquationError(f"{where}: `{name}` is the name of a unit; rename the variable.")


class Equations(Mapping):
    """Equations in Brian2's syntax (see the module docstring); ``**constants`` give
    values to external names (``tau=10 * u.ms``) or rename them (``v="V"``).

    Example:
        >>> import neurodyn as nd
        >>> import neurodyn.units as u
        >>> eqs = nd.dyn.Equations('''
        ...     dv/dt = (v0 - v) / tau : volt (unless refractory)  # membrane
        ...     v0 : volt
        ... ''', tau=10 * u.ms)
        >>> eqs.diff_eq_names, eqs.parameter_names, eqs["v"].flags
        (('v',), ('v0',), ('unless refractory',))
        >>> nd.dyn.Equations("dv/dt = -v / tau : volt", tau=10 * u.mV)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        neurodyn.units._errors.UnitMismatchError: dv/dt = -v / tau : volt (line 1): ...
    """

    def __init__(self, text="", **constants):
        self._eqs: dict[str, SingleEquation] = {}
        self.constants: dict = {}
        if isinstance(text, Equations):
            self._eqs = dict(text._eqs)
            self.constants = dict(text.constants)
        elif isinstance(text, str):
            for eq in _parse_lines(text):
                if eq.varname in self._eqs:
                    raise EquationError(
                        f"line {eq.line}: {eq.varname} is defined twice (lines "
                        f"{self._eqs[eq.varname].line} and {eq.line}); keep one definition."
                    )
                self._eqs[eq.varname] = eq
        elif isinstance(text, (list, tuple)):
            for eq in text:
                self._eqs[eq.varname] = eq
        else:
            raise TypeError(f"Equations expects a string, got {type(text).__name__}.")
        renames = {k: v for k, v in constants.items() if isinstance(v, str)}
        if renames:
            self._rename(renames)
        for k, v in constants.items():
            if isinstance(v, str):
                continue
            if k in self._eqs:
                raise EquationError(
                    f"Equations: {k} is a variable of the equations; it cannot also be given "
                    "a value (set its initial value on the group instead)."
                )
            self.constants[k] = v
        self.subexpr_order()  # refuses cycles
        self.check_units(partial=True)

    # -- mapping ------------------------------------------------------------------------
    def __getitem__(self, key) -> SingleEquation:
        return self._eqs[key]

    def __iter__(self):
        return iter(self._eqs)

    def __len__(self) -> int:
        return len(self._eqs)

    def _names(self, kind) -> tuple[str, ...]:
        return tuple(k for k, e in self._eqs.items() if e.kind == kind)

    @property
    def names(self) -> tuple[str, ...]:
        """Every defined name (differential equations, subexpressions and parameters),
        in the order of definition."""
        return tuple(self._eqs)

    @property
    def diff_eq_names(self) -> tuple[str, ...]:
        """Names of the variables defined by differential equations (``dx/dt = ...``)."""
        return self._names(DIFFERENTIAL)

    @property
    def subexpr_names(self) -> tuple[str, ...]:
        """Names of the subexpressions (``x = ...``)."""
        return self._names(SUBEXPRESSION)

    @property
    def parameter_names(self) -> tuple[str, ...]:
        """Names of the parameters (lines ``x : unit``)."""
        return self._names(PARAMETER)

    @property
    def dimensions(self) -> dict[str, Dimension]:
        """``{name: physical dimension}`` of every defined name."""
        return {k: e.dim for k, e in self._eqs.items()}

    @property
    def units(self) -> dict[str, u.Unit]:
        """``{name: unit}`` of every defined name, as declared."""
        return {k: e.unit for k, e in self._eqs.items()}

    @property
    def identifiers(self) -> tuple[str, ...]:
        """External names the expressions read (not defined by these equations)."""
        out = []
        for e in self._eqs.values():
            if e.expr is not None:
                out += [n for n in e.expr.identifiers if n not in self._eqs and n not in out]
        return tuple(out)

    @property
    def stochastic_variables(self) -> tuple[str, ...]:
        """The white-noise symbols the expressions use (``xi`` and ``xi_<suffix>``)."""
        return tuple(n for n in self.identifiers if n == "xi" or n.startswith("xi_"))

    @property
    def is_stochastic(self) -> bool:
        """Whether any expression uses a white-noise symbol (``xi``, ``xi_*``)."""
        return bool(self.stochastic_variables)

    def __add__(self, other) -> Equations:
        other = other if isinstance(other, Equations) else Equations(other)
        both = sorted(set(self._eqs) & set(other._eqs))
        if both:
            raise EquationError(f"Equations + Equations: {', '.join(both)} defined in both.")
        out = Equations(list(self._eqs.values()) + list(other._eqs.values()))
        out.constants = {**self.constants, **other.constants}
        out.check_units(partial=True)
        return out

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self._eqs.values())

    def __repr__(self) -> str:
        return f"Equations({len(self)} equations: {', '.join(self._eqs)})"

    # -- checks -------------------------------------------------------------------------
    def _rename(self, renames: dict[str, str]) -> None:
        new = {}
        for e in self._eqs.values():
            expr = e.expr
            if expr is not None:
                tree = _RenameNames(renames).visit(ast.parse(expr.code, mode="eval")).body
                expr = Expression(ast.unparse(tree), tree)
            name = renames.get(e.varname, e.varname)
            new[name] = SingleEquation(
                e.kind, name, e.unit, e.var_type, expr, e.flags, e.line, e.unit_text
            )
        self._eqs = new

    def check_flags(self, allowed: dict, owner: str, incompatible=()) -> None:
        """Refuse a flag not in ``allowed[kind]`` for ``owner`` (``"NeuronGroup"``...)."""
        for e in self._eqs.values():
            ok = allowed.get(e.kind, ())
            for f in e.flags:
                if f not in ok:
                    listing = ", ".join(f"({x})" for x in ok) or "none"
                    raise EquationError(
                        f"{owner}: `{e}` (line {e.line}): the flag ({f}) is not allowed on a "
                        f"{e.kind} in a {owner}; allowed: {listing}."
                    )
            for combo in incompatible:
                hit = [f for f in combo if f in e.flags]
                if len(hit) > 1:
                    raise EquationError(
                        f"{owner}: `{e}`: the flags ({hit[0]}) and ({hit[1]}) cannot be combined."
                    )

    def dependencies(self, name: str) -> tuple[str, ...]:
        """The subexpressions ``name``'s expression reads, directly or not."""
        out: list[str] = []

        def walk(n):
            e = self._eqs.get(n)
            if e is None or e.expr is None:
                return
            for k in e.expr.identifiers:
                if k in self._eqs and self._eqs[k].kind == SUBEXPRESSION and k not in out:
                    out.append(k)
                    walk(k)

        walk(name)
        return tuple(out)

    def subexpr_order(self) -> tuple[str, ...]:
        """Subexpressions, each after those it reads; ``EquationError`` naming a cycle."""
        order: list[str] = []
        state: dict[str, int] = {}

        def visit(n, path):
            if state.get(n) == 2:
                return
            if state.get(n) == 1:
                cycle = path[path.index(n) :] + [n]
                raise EquationError(
                    "The subexpressions refer to each other in a cycle: "
                    f"{' -> '.join(cycle)}. A subexpression must be computable from the "
                    "other variables; make one of them a differential equation or a parameter."
                )
            state[n] = 1
            for k in self._eqs[n].expr.identifiers:
                if k in self._eqs and self._eqs[k].kind == SUBEXPRESSION:
                    visit(k, [*path, n])
            state[n] = 2
            order.append(n)

        for n in self.subexpr_names:
            visit(n, [])
        return tuple(order)

    def check_units(self, resolve=None, partial: bool = False) -> None:
        """Check every expression's dimension against its declaration. ``resolve(name)``
        gives ``(Dimension, var_type)`` of an external name, or None if unknown; with
        ``partial`` an equation that reads an unknown name is skipped (it is checked by
        the group), otherwise the name is refused as undefined."""
        from ._dims import expr_dim

        env = {k: (e.dim, e.var_type) for k, e in self._eqs.items()}

        def lookup(name):
            if name in env:
                return env[name]
            if name in self.constants:
                return _const_dim(self.constants[name], name)
            if name in ("t", "dt", "lastspike", "lastupdate"):
                return (u.second.dim, "float")
            if name == "xi" or name.startswith("xi_"):
                return (u.second.dim ** Fraction(-1, 2), "float")
            if name in ("i", "j", "N", "N_incoming", "N_outgoing", "t_in_timesteps"):
                return (u.DIMENSIONLESS, "integer")
            if name == "not_refractory":
                return (u.DIMENSIONLESS, "boolean")
            if name in CONSTANTS or name in ("True", "False"):
                return (u.DIMENSIONLESS, "boolean" if name in ("True", "False") else "float")
            if resolve is not None:
                found = resolve(name)
                if found is not None:
                    return found
            unit = brian_unit(name)
            if unit is not None:
                return (unit.dim, "float")
            return None

        for e in self._eqs.values():
            if e.expr is None:
                continue
            missing = [n for n in e.expr.identifiers if lookup(n) is None]
            if missing:
                if partial:
                    continue
                raise EquationError(
                    f"`{e}` (line {e.line}): the name `{missing[0]}` is not defined. Define it "
                    "in the equations (e.g. as a parameter `"
                    f"{missing[0]} : <unit>`), or give its value in namespace= (or as a "
                    "keyword of Equations)."
                )
            where = f"{e} (line {e.line})"
            dim, vtype = expr_dim(e.expr, lookup, where)
            want = e.dim / u.second.dim if e.kind == DIFFERENTIAL else e.dim
            if dim is not want:
                lhs = f"d{e.varname}/dt" if e.kind == DIFFERENTIAL else e.varname
                raise UnitMismatchError(
                    f"{where}: the right-hand side `{e.expr.code}` is in {dim_name(dim)} but "
                    f"{lhs} must be in {dim_name(want)} (declared `: {e.unit_text}`"
                    f"{' per second' if e.kind == DIFFERENTIAL else ''}). Fix the expression "
                    "or the declared unit."
                )


class _RenameNames(ast.NodeTransformer):
    def __init__(self, renames):
        self.renames = renames

    def visit_Name(self, node):
        if node.id in self.renames:
            return ast.copy_location(ast.Name(self.renames[node.id], node.ctx), node)
        return node


def _const_dim(value, name) -> tuple[Dimension, str]:
    if isinstance(value, u.Quantity):
        return value.unit.dim, "float"
    if isinstance(value, u.Unit):
        return value.dim, "float"
    if isinstance(value, bool):
        return u.DIMENSIONLESS, "boolean"
    try:
        float(value)
    except (TypeError, ValueError):
        raise EquationError(
            f"The value given for `{name}` is a {type(value).__name__}; give a number or a "
            "Quantity (e.g. 10 * u.ms)."
        ) from None
    return u.DIMENSIONLESS, "float"


def _parse_lines(text: str) -> list[SingleEquation]:
    out = []
    buf: list[str] = []
    start = None
    for lineno, raw in enumerate(text.splitlines(), 1):
        code = raw.split("#", 1)[0]
        if not code.strip():
            continue
        if start is None:
            start = lineno
        if ":" not in code:
            buf.append(code.strip())
            continue
        head, tail = code.split(":", 1)
        buf.append(head.strip())
        out.append(_parse_one(" ".join(b for b in buf if b), tail, start))
        buf, start = [], None
    if buf:
        raw = " ".join(buf)
        raise EquationError(
            f"line {start}: `{raw}` has no `: unit`. Every line declares its unit: "
            "`dx/dt = expr : unit`, `x = expr : unit` or `x : unit` (use `: 1` for "
            "dimensionless)."
        )
    return out


def _parse_one(lhs: str, tail: str, line: int) -> SingleEquation:
    m = _UNIT_FLAGS_RE.match(tail.strip())
    if m is None:
        raise EquationError(
            f"line {line}: could not read the unit and flags `{tail.strip()}`; write "
            "`: unit (flag1, flag2)`."
        )
    unit_text, flag_text = m.group(1), m.group(2)
    flags = []
    if flag_text is not None:
        flags = [" ".join(f.split()) for f in flag_text.split(",")]
        if any(not f for f in flags):
            raise EquationError(f"line {line}: an empty flag in `({flag_text})`.")
    forms = ((DIFFERENTIAL, _DIFF_RE), (SUBEXPRESSION, _SUB_RE), (PARAMETER, _PAR_RE))
    found = [(k, r.match(lhs)) for k, r in forms]
    found = [(k, m) for k, m in found if m is not None]
    if not found:
        raise EquationError(
            f"line {line}: `{lhs} : {tail.strip()}` is not an equation. The forms are "
            "`dx/dt = expr : unit (flags)`, `x = expr : unit (flags)` and `x : unit (flags)`."
        )
    kind, mm = found[0]
    name = mm.group(1)
    lhs_text = f"d{name}/dt" if kind == DIFFERENTIAL else name
    where = f"line {line} ({lhs_text})"
    check_name(name, where)
    unit, var_type = parse_unit(unit_text, where)
    if kind == DIFFERENTIAL and var_type != "float":
        raise EquationError(
            f"{where}: a differential equation defines a float variable, not `{var_type}`."
        )
    expr = parse_expression(mm.group(2), where) if kind != PARAMETER else None
    for f in flags:
        if f not in FLAGS[kind]:
            every = sorted({x for v in FLAGS.values() for x in v})
            hint = "" if f in every else f" (known flags: {', '.join(every)})"
            raise EquationError(
                f"{where}: the flag ({f}) is not allowed on a {kind}; allowed: "
                f"{', '.join(f'({x})' for x in FLAGS[kind])}{hint}."
            )
    if expr is not None:
        bad = [n for n in expr.functions if n in STOCHASTIC_FUNCTIONS]
        if bad:
            raise EquationError(
                f"{where}: `{bad[0]}()` draws random numbers, which equations cannot do (the "
                "integrator would draw them at every stage). Use `xi` (white noise, in "
                "s**-0.5) for noise; rand()/randn() are for resets, thresholds and on_pre."
            )
    return SingleEquation(
        kind, name, unit, var_type, expr, flags, line, " ".join(unit_text.split())
    )
