"""The compiled form of a NeuronGroup's strings: names and their kinds, the external
namespace, unit checks of threshold / reset / refractory, the choice and check of the
integration method, and the functions the group calls at run time (over SI arrays)."""

from __future__ import annotations

import ast
import math
from fractions import Fraction

import jax.numpy as jnp
import numpy as np

import neurodyn.units as u
from neurodyn.units import UnitMismatchError

from ._codegen import Compiler, Const
from ._dims import expr_dim
from ._equations import (
    CONSTANTS,
    DIFFERENTIAL,
    PARAMETER,
    EquationError,
    Equations,
    brian_unit,
    dim_name,
    parse_expression,
    parse_statements,
)
from ._odes import OdeSystem

__all__ = ["GroupSpec", "Namespace", "apply_statements", "si_scale", "check_statements"]

_NG_FLAGS = {
    DIFFERENTIAL: ("unless refractory",),
    PARAMETER: ("constant", "shared", "linked"),
    "subexpression": ("shared", "constant over dt"),
}


def si_scale(unit) -> float:
    return 1.0 if unit is None else float(unit.scale)


class Namespace:
    """External names: the Equations' constants, then ``namespace`` (or, when None, the
    caller's variables, as Brian2), then Brian2's units and constants."""

    def __init__(self, constants: dict, namespace: dict | None, caller, owner: str):
        self.constants = dict(constants)
        self.explicit = namespace
        self.owner = owner
        self.frame_vars = {}
        self.used: dict = {}
        if namespace is None and caller is not None:
            self.frame_vars = {**caller.f_globals, **caller.f_locals}
        elif namespace is not None and not isinstance(namespace, dict):
            raise TypeError(f"{owner}: namespace must be a dict, got {type(namespace).__name__}.")

    def freeze(self) -> None:
        """Keep only the values used so far (the caller's variables are let go)."""
        self.frame_vars = {}

    def with_frame(self, caller) -> Namespace:
        """The same namespace read from another caller (``G.v = "..."`` reads the names
        where it is written, as Brian2)."""
        return Namespace(self.constants, self.explicit, caller, self.owner)

    def value(self, name):
        """The value of ``name`` (a Quantity, a Unit or a number), or None."""
        if name in self.used:
            return self.used[name]
        v = self._value(name)
        if v is not None:
            self.used[name] = v
        return v

    def _value(self, name):
        for source, strict in ((self.constants, True), (self.explicit or {}, True)):
            if name in source:
                v = source[name]
                _check_const(v, name, self.owner, strict)
                return v
        if name in self.frame_vars:
            v = self.frame_vars[name]
            if _check_const(v, name, self.owner, strict=False):
                return v
        unit = brian_unit(name)
        if unit is not None:
            return unit
        if name in CONSTANTS:
            return CONSTANTS[name]
        return None

    def si(self, name):
        v = self.value(name)
        if v is None:
            return None
        if isinstance(v, u.Unit):
            return float(v.scale)
        if isinstance(v, u.Quantity):
            m = v.mantissa
            return float(np.asarray(m)) * float(v.unit.scale)
        if isinstance(v, (bool, np.bool_)):
            return bool(v)
        return float(v) if not isinstance(v, int) else v

    def dim(self, name):
        v = self.value(name)
        if v is None:
            return None
        if isinstance(v, u.Unit):
            return v.dim, "float"
        if isinstance(v, u.Quantity):
            return v.unit.dim, "float"
        if isinstance(v, (bool, np.bool_)):
            return u.DIMENSIONLESS, "boolean"
        return u.DIMENSIONLESS, "integer" if isinstance(v, int) else "float"


def _check_const(v, name, owner, strict) -> bool:
    ok = isinstance(v, (u.Unit, bool, int, float, np.number, np.bool_))
    if isinstance(v, u.Quantity):
        if np.ndim(v.mantissa) == 0:
            return True
        if strict:
            raise TypeError(
                f"{owner}: the namespace value of `{name}` is an array (shape "
                f"{np.shape(v.mantissa)}); namespace values are scalar constants. Declare a "
                f"parameter `{name} : <unit>` and set one value per neuron."
            )
        return False
    if not ok and strict:
        raise TypeError(
            f"{owner}: the namespace value of `{name}` is a {type(v).__name__}; give a number "
            "or a Quantity (e.g. 10 * u.ms)."
        )
    return ok


def apply_statements(stmts, env: dict, shape, cast) -> dict:
    """Run compiled statements ``[(var, op, f)]`` in order on ``env`` (SI arrays); returns
    ``env`` with the targets replaced (broadcast to ``shape``)."""
    for var, op, f in stmts:
        value = f(env)
        old = env[var]
        if op == "=":
            new = value
        elif op == "+=":
            new = old + value
        elif op == "-=":
            new = old - value
        elif op == "*=":
            new = old * value
        else:
            new = old / value
        env[var] = cast(var, jnp.broadcast_to(new, shape))
    return env


def check_statements(stmts, lookup, writable, where: str, lookup_value=None):
    """Units of ``var op= expr`` statements; ``writable(var)`` returns the target's
    ``(Dimension, var_type)`` or raises naming what the target may be."""
    for st in stmts:
        tdim, ttype = writable(st.var, st)
        d, t = expr_dim(st.expr, lookup, f"{where} `{st.code}`", lookup_value)
        if st.op in ("*=", "/="):
            if d is not u.DIMENSIONLESS:
                raise UnitMismatchError(
                    f"{where} `{st.code}`: `{st.op}` scales {st.var} by a dimensionless factor; "
                    f"`{st.expr.code}` is in {dim_name(d)}."
                )
        elif d is not tdim:
            raise UnitMismatchError(
                f"{where} `{st.code}`: {st.var} is in {dim_name(tdim)} but `{st.expr.code}` is "
                f"in {dim_name(d)}. Both sides of `{st.op}` need the same dimension."
            )


class GroupSpec:
    """Everything a NeuronGroup derives from its strings (built once, before the group)."""

    @classmethod
    def build(
        cls,
        N=None,
        model=None,
        threshold=None,
        reset=None,
        refractory=False,
        method=None,
        namespace=None,
        name=None,
        caller=None,
        **_,
    ):
        self = cls()
        owner = name or "NeuronGroup"
        self.owner = owner
        if model is None:
            raise TypeError(f"{owner}: give the model equations, e.g. 'dv/dt = -v/tau : volt'.")
        if isinstance(model, str):
            model = Equations(model)
        if not isinstance(model, Equations):
            raise TypeError(f"{owner}: model must be a string or Equations, got {model!r}.")
        model.check_flags(_NG_FLAGS, "NeuronGroup")
        from ._groups import NeuronGroup

        taken = set(dir(NeuronGroup)) | {
            "spike", "t_last_spike", "not_refractory", "varshape", "spiking", "size",
            "method", "noise", "tau_ref", "adaptation", "I_ext", "spike_fn", "detach_reset",
            "name",
        }  # fmt: skip
        for k in model.names:
            if k in taken:
                raise EquationError(
                    f"{owner}: `{model[k]}`: the name {k} is taken by an attribute of "
                    "NeuronGroup; rename the variable."
                )
        self.eqs = model
        self.N = int(N)
        self.ns = Namespace(model.constants, namespace, caller, owner)
        eqs = model
        # linked variables read another group's variable (G.x = linked_var(H, "y"))
        self.linked = [k for k in eqs.parameter_names if "linked" in eqs[k].flags]
        params = [k for k in eqs.parameter_names if k not in self.linked]
        self.float_params = [k for k in params if eqs[k].var_type == "float"]
        self.state_params = [k for k in params if eqs[k].var_type != "float"]
        self.unless_refractory = tuple(
            k for k in eqs.diff_eq_names if "unless refractory" in eqs[k].flags
        )
        self.constant_over_dt = tuple(
            k for k in eqs.subexpr_order() if "constant over dt" in eqs[k].flags
        )
        eqs.check_units(resolve=self._dim_of)
        # threshold, reset, refractoriness
        self.threshold_text = threshold
        self.threshold = self.threshold_distance = None
        if threshold is not None:
            texpr = parse_expression(threshold, f"{owner}: threshold")
            d, t = expr_dim(texpr, self._lookup, f"{owner}: threshold `{threshold}`", self._lit)
            if t != "boolean":
                raise EquationError(
                    f"{owner}: the threshold `{threshold}` is not a condition (it is in "
                    f"{dim_name(d)}); write a comparison such as 'v > v_th'."
                )
        self.refractory = None
        if refractory is not False and refractory is not None:
            if threshold is None:
                raise TypeError(f"{owner}: refractory needs a threshold (spikes).")
            self.refractory = self._refractory(refractory)
        self.reset_stmts = []
        if reset is not None:
            if threshold is None:
                raise TypeError(f"{owner}: a reset needs a threshold.")
            self.reset_stmts = parse_statements(reset, f"{owner}: reset")
            check_statements(
                self.reset_stmts, self._lookup, self._writable, f"{owner}: reset", self._lit
            )
            for st in self.reset_stmts:
                if st.var in self.float_params:
                    self.promote(st.var)
        self.reset_targets = tuple(dict.fromkeys(st.var for st in self.reset_stmts))
        self._compiler = Compiler(self._resolve)
        self._compiled = {}
        if threshold is not None:
            self.threshold = self._compiler.function(texpr)
            self.threshold_distance = self._distance(texpr)
        self.reset = [(st.var, st.op, self._compiler.function(st.expr)) for st in self.reset_stmts]
        self.system = OdeSystem(
            eqs,
            eqs.diff_eq_names,
            self._compiler,
            self._subtree,
            self._lit,
            method,
            owner,
            unless=self.unless_refractory,
        )
        self.method, self.noise_names = self.system.method, self.system.noise_names
        self.ns.freeze()
        return self

    # -- names --------------------------------------------------------------------------
    def promote(self, name):
        if name in self.float_params:
            self.float_params.remove(name)
            self.state_params.append(name)

    def variables_decl(self):
        return {k: (self.eqs[k].unit, 0.0 * self.eqs[k].unit) for k in self.eqs.diff_eq_names}

    def _dim_of(self, name):
        if name in ("not_refractory",):
            return (u.DIMENSIONLESS, "boolean")
        return self.ns.dim(name)

    def _lookup(self, name):
        if name in self.eqs:
            e = self.eqs[name]
            return (e.dim, e.var_type)
        if name in ("t", "dt", "lastspike"):
            return (u.second.dim, "float")
        if name in ("i", "N", "t_in_timesteps"):
            return (u.DIMENSIONLESS, "integer")
        if name == "not_refractory":
            return (u.DIMENSIONLESS, "boolean")
        if name == "xi" or name.startswith("xi_"):
            return (u.second.dim ** Fraction(-1, 2), "float")
        found = self.ns.dim(name)
        if found is None:
            raise EquationError(
                f"{self.owner}: the name `{name}` is not defined: not a variable of the model, "
                "not in the namespace and not a unit. Give its value in namespace= (or declare "
                f"it as a parameter `{name} : <unit>`)."
            )
        return found

    def _lit(self, name):
        if name in self.eqs:
            return None
        v = self.ns.si(name)
        return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None

    def _writable(self, var, st):
        if var in self.eqs.subexpr_names:
            raise EquationError(
                f"{self.owner}: `{st.code}` writes the subexpression {var}, which is computed "
                "from the other variables; write a variable or a parameter."
            )
        if var not in self.eqs:
            raise EquationError(
                f"{self.owner}: `{st.code}` writes {var}, which is not a variable of the model "
                f"({', '.join(self.eqs.names)})."
            )
        if var in self.linked:
            raise EquationError(
                f"{self.owner}: `{st.code}` writes {var}, a linked variable (read-only: it "
                "reads another group's variable); write the variable it is linked to."
            )
        e = self.eqs[var]
        return (e.dim, e.var_type)

    def _resolve(self, name):
        eqs = self.eqs
        if name in eqs:
            if name in eqs.subexpr_names and name not in self.constant_over_dt:
                return ("sub", eqs[name].expr)
            return ("var", name)
        if name == "N":
            return Const(self.N)
        if name in ("t", "dt", "i", "t_in_timesteps", "not_refractory", "lastspike"):
            return ("var", name)
        if name == "xi" or name.startswith("xi_"):
            return ("var", name)
        v = self.ns.si(name)
        if v is None:  # pragma: no cover - refused by the unit check
            raise EquationError(f"{self.owner}: undefined name `{name}`.")
        return Const(v)

    def _subtree(self, name):
        if name in self.eqs.subexpr_names and name not in self.constant_over_dt:
            return self.eqs[name].expr.tree
        return None

    def compiled(self, name):
        if name not in self._compiled:
            self._compiled[name] = self._compiler.function(self.eqs[name].expr)
        return self._compiled[name]

    # -- refractoriness -----------------------------------------------------------------
    def _refractory(self, ref):
        owner = self.owner
        if isinstance(ref, u.Quantity):
            if ref.unit.dim is not u.second.dim:
                raise UnitMismatchError(
                    f"{owner}: refractory must be a time (e.g. 2 * u.ms) or a string; got {ref}."
                )
            m = np.asarray(ref.to_value(u.second), float)
            if m.ndim and m.shape != (self.N,):
                raise ValueError(
                    f"{owner}: refractory has shape {m.shape}; give one time or one per neuron "
                    f"({self.N})."
                )
            if np.any(m < 0):
                raise ValueError(f"{owner}: refractory must be >= 0; got {ref}.")
            return ("time", jnp.asarray(m) if m.ndim else float(m))
        if isinstance(ref, str):
            expr = parse_expression(ref, f"{owner}: refractory")
            d, t = expr_dim(expr, self._lookup, f"{owner}: refractory `{ref}`", self._lit)
            if d is u.second.dim:
                return ("time_expr", expr)
            if t == "boolean":
                return ("condition", expr)
            raise UnitMismatchError(
                f"{owner}: refractory `{ref}` is in {dim_name(d)}; it must give a time "
                "(e.g. 'tau_ref') or be a condition (e.g. 'v > -50*mV')."
            )
        raise TypeError(
            f"{owner}: refractory must be a time (2 * u.ms), a string or False; got {ref!r}."
        )

    def not_refractory(self, env, t_q, dt_q):
        kind, val = self.refractory
        if kind == "condition":
            f = self._compiled.setdefault("__refractory__", self._compiler.function(val))
            cond = jnp.broadcast_to(f(env), env["__shape__"])
            return env["not_refractory"] | ~cond
        dt_s = float(dt_q.to_value(u.second))
        lastspike_ms = env["__lastspike_ms"]
        if kind == "time" and isinstance(val, float):  # steps since >= R steps, one compare
            steps = math.trunc(val / dt_s + 1e-3)
            return t_q.to_value(u.ms) - lastspike_ms >= (steps - 0.5) * dt_s * 1e3
        if kind == "time_expr":
            f = self._compiled.setdefault("__refractory__", self._compiler.function(val))
            ref_s = f(env)
        else:
            ref_s = val
        steps_ref = jnp.trunc(jnp.asarray(ref_s) / dt_s + 1e-3)
        since = jnp.floor((t_q.to_value(u.ms) - lastspike_ms) / (dt_s * 1e3) + 0.5)
        return since >= steps_ref

    # -- threshold ----------------------------------------------------------------------
    def _distance(self, texpr):
        node = texpr.tree
        if not (isinstance(node, ast.Compare) and len(node.ops) == 1):
            return None
        op = node.ops[0]
        if isinstance(op, (ast.Gt, ast.GtE)):
            a, b = node.left, node.comparators[0]
        elif isinstance(op, (ast.Lt, ast.LtE)):
            a, b = node.comparators[0], node.left
        else:
            return None
        diff = ast.BinOp(a, ast.Sub(), b)
        from ._equations import Expression

        ex = Expression(ast.unparse(diff), diff)
        d, _ = expr_dim(ex, self._lookup, "threshold", self._lit)
        f = self._compiler.function(ex)
        scale = 1e3 if d is u.volt.dim else 1.0
        return lambda env: f(env) * scale

    # -- conversions --------------------------------------------------------------------
    def to_si(self, name, value):
        e = self.eqs[name]
        if e.var_type != "float":
            return value
        m = value.mantissa if isinstance(value, u.Quantity) else value
        s = si_scale(value.unit) if isinstance(value, u.Quantity) else 1.0
        return m if s == 1.0 else m * s

    def from_si(self, name, value, shape):
        e = self.eqs[name]
        value = jnp.broadcast_to(value, shape)
        if e.var_type != "float":
            return self.cast(name, value)
        s = si_scale(e.unit)
        m = value if s == 1.0 else value / s
        return m if e.unit is u.dimensionless else u.Quantity(m, e.unit)

    def deriv_from_si(self, name, d):
        e = self.eqs[name]
        s = si_scale(e.unit)
        return u.Quantity(d if s == 1.0 else d / s, e.unit / u.second)

    def cast(self, name, value):
        e = self.eqs.get(name)
        if e is None or e.var_type == "float":
            return value
        if e.var_type == "boolean":
            return jnp.asarray(value).astype(bool)
        v = jnp.asarray(value)
        return (v if v.dtype == jnp.bool_ else jnp.trunc(v)).astype(jnp.int32)

    def specials(self, group, env, t, dt, shape=None):
        if shape is None:
            if group.spiking:
                shape = jnp.shape(group.spike.value)
            elif self.eqs.diff_eq_names:
                shape = jnp.shape(env[self.eqs.diff_eq_names[0]])
            else:
                shape = group.varshape
        out = {"t": t, "i": jnp.arange(self.N, dtype=jnp.int32), "__shape__": shape}
        if dt is not None:
            out["dt"] = dt
            out["t_in_timesteps"] = jnp.round(jnp.asarray(t) / dt).astype(jnp.int32)
        for k in self.noise_names:
            out[k] = 0.0
        if self.constant_over_dt:
            full = {**env, **out}
            for k in self.constant_over_dt:
                full[k] = out[k] = jnp.broadcast_to(self.compiled(k)(full), shape)
        return out

    def evaluate(self, group, target, text, where, caller=None):
        """``G.x = "expr"``: the expression over the group, in x's unit (external names
        read from ``caller``, the frame of the assignment)."""
        ns = self.ns
        if caller is not None:
            self.ns = ns.with_frame(caller)
        try:
            return self._evaluate(group, target, text, where)
        finally:
            self.ns = ns

    def _evaluate(self, group, target, text, where):
        expr = parse_expression(text, where)
        e = self.eqs[target]
        d, t = expr_dim(expr, self._lookup, where, self._lit)
        if e.var_type == "float" and d is not e.dim:
            raise UnitMismatchError(
                f"{where}: {target} is in {dim_name(e.dim)} but the expression is in {dim_name(d)}."
            )
        env = group.si_values()
        env.update(self.specials(group, env, 0.0, None, shape=group.varshape))
        value = Compiler(self._resolve).function(expr)(env)
        return self.from_si(target, value, group.varshape)

    # -- integration --------------------------------------------------------------------
    def method_object(self):
        from neurodyn.integrate import get_method

        if self.method in ("exp_euler", "rk2", "rk4", "euler"):
            return get_method(self.method)

        class _Named:
            order = 1

            def __init__(self, name):
                self.name = name

            def __repr__(self):
                return f"method {self.name!r}"

        return _Named(self.method)

    def field(self, env, t, y, nr, xi=None):
        return self.system.field(env, t, y, nr, xi)

    def step(self, env, y, t, dt, nr, xi):
        return self.system.step(env, y, t, dt, nr, xi)
