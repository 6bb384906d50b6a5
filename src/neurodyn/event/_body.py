"""The scalar synapse body of a user-defined event operator: its fields, its check, its
units, and its vectorised form.

A body is ``body(pre, post, syn, p)``: four namespaces of scalars (``pre.v`` is one
presynaptic value, ``syn.w`` one synapse's value, ``p.g`` one parameter) returning a
scalar, or, for an update of several synapse fields (``targets``), a dict ``{target:
value}`` or a tuple of values in target order. It is traced once to a jaxpr at
definition, to find the fields it reads and to refuse what a per-synapse body may not do
(indexing, loops, random numbers, ...).
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

import neurodyn.units as u

GROUPS = ("pre", "post", "syn", "p")

#: primitives a body may use: element-wise arithmetic, comparisons, selections, the usual
#: transcendental functions (no indexing, no loops, no random numbers, no reductions)
ALLOWED = frozenset(
    """
    add sub mul div neg max min pow integer_pow square sqrt rsqrt cbrt abs sign exp exp2 log
    log1p expm1 tanh logistic sin cos tan asin acos atan atan2 sinh cosh asinh acosh atanh erf
    erfc erf_inv lgamma digamma floor ceil round nextafter rem clamp select_n lt le gt ge eq ne
    and or not xor convert_element_type stop_gradient is_finite copy copy_p add_any
    """.split()
)
_CALLS = ("pjit", "jit", "closed_call", "core_call", "custom_jvp_call", "custom_vjp_call", "remat")


class _Recorder:
    """A namespace that records which fields the body reads (each read gives 1.0, in the
    field's unit when ``units`` gives it)."""

    def __init__(self, group: str, units: dict | None = None, op: str = ""):
        object.__setattr__(self, "_group", group)
        object.__setattr__(self, "_units", units)
        object.__setattr__(self, "_op", op)
        object.__setattr__(self, "names", [])

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        if self._units is not None and name not in self._units:
            label = "params" if self._group == "p" else self._group
            raise KeyError(
                f"{self._op}: the body reads {self._group}.{name}, but the call gives "
                f"{label}={{{', '.join(sorted(self._units))}}}. Pass {label}={{'{name}': ...}}."
            )
        if name not in self.names:
            self.names.append(name)
        unit = (self._units or {}).get(name)
        return jnp.float32(1.0) if unit is None else u.Quantity(jnp.float32(1.0), unit)


class Fields:
    """Attribute access to one scalar per field (``pre.v``), with the field list in
    the error when the body reads a field the call did not give."""

    def __init__(self, group: str, values: dict, op: str):
        self._group, self._values, self._op = group, values, op

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._values[name]
        except KeyError:
            raise KeyError(
                f"{self._op}: the body reads {self._group}.{name}, but the call gives "
                f"{self._group}={{{', '.join(sorted(self._values))}}}. Pass "
                f"{self._group}={{'{name}': ...}}."
            ) from None


def _subjaxprs(eqn):
    for key in ("jaxpr", "call_jaxpr", "fun_jaxpr"):
        sub = eqn.params.get(key)
        if sub is not None:
            yield getattr(sub, "jaxpr", sub)


def check_jaxpr(jaxpr, op: str) -> None:
    """Raise ``TypeError`` naming the first primitive a body may not use."""
    for eqn in jaxpr.eqns:
        name = eqn.primitive.name
        if name in _CALLS:
            for sub in _subjaxprs(eqn):
                check_jaxpr(sub, op)
            continue
        if name not in ALLOWED:
            raise TypeError(
                f"{op}: the body uses `{name}`, which a per-synapse body may not: it sees one "
                "scalar of each field (no indexing, no loops, no reductions, no random "
                f"numbers). Supported: {', '.join(sorted(ALLOWED))}; jnp.where for branches."
            )


class Body:
    """A checked body: ``fields[group]`` lists the fields it reads, in first-read order.
    ``targets``: None for a body of one value, else the names of its several values."""

    def __init__(self, fn: Callable, op: str, targets: tuple | None = None):
        self.fn, self.op, self.targets = fn, op, targets
        self.n_out = 1 if targets is None else len(targets)
        self.fields = None  # {group: field names}, once known
        try:
            self._record([_Recorder(g) for g in GROUPS])
        except u.UnitMismatchError:
            # the body mixes fields with unit-carrying constants (0 * u.nS): its fields
            # and its check wait for the first call, which gives the units
            return
        self._check([jnp.float32] * sum(len(v) for v in self.fields.values()), None)

    def outputs(self, out) -> list:
        """The body's value(s) as a list in target order (one for a one-value body)."""
        if self.targets is None:
            if isinstance(out, (dict, tuple, list)):
                raise TypeError(
                    f"{self.op}: the body must return one scalar; it returns a "
                    f"{type(out).__name__}. Several fields: update_op(target=('w', 'x'))."
                )
            return [out]
        if isinstance(out, dict):
            missing = [k for k in self.targets if k not in out]
            extra = [k for k in out if k not in self.targets]
            if missing or extra:
                raise TypeError(
                    f"{self.op}: the body returns values for {sorted(out)}, but the targets are "
                    f"{list(self.targets)}; return one value per target (dict keys = targets)."
                )
            return [out[k] for k in self.targets]
        if isinstance(out, (tuple, list)) and len(out) == self.n_out:
            return list(out)
        got = f"{len(out)} values" if isinstance(out, (tuple, list)) else type(out).__name__
        raise TypeError(
            f"{self.op}: the body must return a dict {{target: value}} or a tuple of "
            f"{self.n_out} values (targets {list(self.targets)}); it returns {got}."
        )

    def _record(self, namespaces) -> None:
        try:
            out = self.fn(*namespaces)
        except (jax.errors.ConcretizationTypeError, u.UnitMismatchError, KeyError):
            raise
        except (TypeError, AttributeError, IndexError) as err:
            raise TypeError(
                f"{self.op}: the body could not be run on scalars ({type(err).__name__}: "
                f"{err}). A body takes (pre, post, syn, p), reads scalar fields such as "
                "syn.w and returns a scalar; it may not index or loop."
            ) from None
        self.outputs(out)
        self.fields = {g: tuple(r.names) for g, r in zip(GROUPS, namespaces)}

    def _check(self, dtypes, units) -> None:
        try:
            if units is None:
                closed = jax.make_jaxpr(self._flat)(*(d(1.0) for d in dtypes))
            else:
                closed = self.scalar_jaxpr(units, self.out_units(units), dtypes)
        except jax.errors.TracerBoolConversionError:
            raise TypeError(
                f"{self.op}: the body branches in Python on a value (`if`, `and`, `or`, ...); "
                "write the branch with jnp.where(condition, a, b)."
            ) from None
        check_jaxpr(closed.jaxpr, self.op)
        outs = closed.out_avals
        if len(outs) != self.n_out or any(o.shape != () for o in outs):
            want = "one scalar" if self.targets is None else f"{self.n_out} scalars"
            raise TypeError(f"{self.op}: the body must return {want}; it returns {outs}.")

    def ensure(self, units: dict) -> None:
        """Find the fields and check the body now that the call gives the fields' units
        (``units[group][name]``), if the definition could not (see ``__init__``)."""
        if self.fields is not None:
            return
        self._record([_Recorder(g, units[g], self.op) for g in GROUPS])
        self._check([jnp.float32] * sum(len(v) for v in self.fields.values()), units)

    def _flat(self, *scalars):
        it = iter(scalars)
        groups = [Fields(g, {k: next(it) for k in self.fields[g]}, self.op) for g in GROUPS]
        return [u.get_mantissa(x) for x in self.outputs(self.fn(*groups))]

    def _groups(self, units: dict, flat):
        it = iter(flat)
        groups = []
        for g in GROUPS:
            vals = {}
            for k in self.fields[g]:
                x, unit = next(it), units[g][k]
                vals[k] = x if unit is None else u.Quantity(x, unit)
            groups.append(Fields(g, vals, self.op))
        return groups

    def out_units(self, units: dict) -> tuple:
        """The units of the body's values (one per target) for fields of these units
        (``units[group][name]``, None for plain numbers); a unit error in the body is
        raised here, naming the op."""
        n = sum(len(v) for v in self.fields.values())
        try:
            outs = self.outputs(self.fn(*self._groups(units, [jnp.float32(1.0)] * n)))
        except u.UnitMismatchError as err:
            raise u.UnitMismatchError(f"{self.op}: the body's units do not agree: {err}") from None
        return tuple(x.unit if isinstance(x, u.Quantity) else None for x in outs)

    def _scalar(self, units: dict, out_units: tuple):
        def scalar(*flat):
            outs = self.outputs(self.fn(*self._groups(units, flat)))
            return [
                u.get_mantissa(x) if unit is None else x.to(unit).mantissa
                for x, unit in zip(outs, out_units)
            ]

        return scalar

    def scalar_jaxpr(self, units: dict, out_units: tuple, dtypes):
        """The jaxpr of the body on scalar mantissas of these dtypes (unit conversions
        included; one output per target), for code generation."""
        args = [jnp.zeros((), d) for d in dtypes]
        return jax.make_jaxpr(self._scalar(units, out_units))(*args)

    def vectorised(self, values: dict, units: dict, out_units: tuple) -> list:
        """The body's mantissas (in ``out_units``, one array per target) over broadcast
        arrays: ``values[group][name]`` are mantissas in the units ``units[group][name]``;
        the body computes with Quantities, so unit conversions inside it are done."""

        scalar = self._scalar(units, out_units)
        flat = [values[g][k] for g in GROUPS for k in self.fields[g]]
        if not flat:
            return [jnp.asarray(x) for x in scalar()]
        shape = np.broadcast_shapes(*(jnp.shape(x) for x in flat))
        flat = [jnp.broadcast_to(x, shape).reshape(-1) for x in flat]
        return [x.reshape(shape) for x in jax.vmap(scalar)(*flat)]
