"""``Synapses``: synapses defined by strings, as Brian2's (``model``, ``on_pre``,
``on_post``), on neurodyn's event operators."""

from __future__ import annotations

import sys

import jax.numpy as jnp
import numpy as np

import neurodyn.units as u
from neurodyn.event import csc_view
from neurodyn.state import Hidden, State, random

from . import _clock
from ._base import Dynamics
from ._codegen import Compiler, Const, degree, deps, phi1_exact
from ._delay import Delay, SynapseDelays
from ._dims import expr_dim, literal_value
from ._equations import (
    DIFFERENTIAL,
    PARAMETER,
    SUBEXPRESSION,
    EquationError,
    Equations,
    dim_name,
    parse_expression,
    parse_statements,
)
from ._odes import OdeSystem
from ._pathways import DenseEnv, Pathway, env_group, run_batched
from ._strmodel import Namespace, check_statements
from ._synside import Side as _Side
from ._synside import as_csr as _as_csr

__all__ = ["Synapses"]

_SYN_FLAGS = {
    DIFFERENTIAL: ("event-driven", "clock-driven"),
    SUBEXPRESSION: ("summed", "shared", "constant over dt"),
    PARAMETER: ("constant", "shared"),
}
_SPECIAL = ("t", "dt", "i", "j", "N", "N_incoming", "N_outgoing", "lastupdate")


class Synapses(Dynamics):
    """Synapses defined by strings, as Brian2's ``Synapses``.

    Args:
        pre, post: populations or views (``G[:4000]``); ``x_pre`` / ``x_post`` in the code
            read their variables (an unsuffixed name that is not a synaptic variable is the
            postsynaptic one, as in Brian2).
        conn: a connectivity builder (``event.FixedProb(0.1, seed=1)``) or a CSR (its
            structure is used; set per-synapse values as variables).
        model: the synaptic equations: parameters (``w : siemens``), ``(event-driven)``
            and ``(clock-driven)`` differential equations, subexpressions, and
            ``(summed)`` variables (``I_syn_post = g*(E - v_post) : amp (summed)``, set
            every step from the sum over the synapses of each postsynaptic neuron).
        on_pre, on_post: statements run for the synapses of the neurons that spiked
            (``"ge_post += w"``; ``"apre += Apre; w = clip(w + apost, 0, wmax)"``);
            ``rand()`` and ``randn()`` give one independent draw per call and synapse
            (drawn for every synapse each step the pathway runs: O(synapses)).
        delay: transmission delay of ``on_pre``: one time, or one per synapse (event-driven
            for pathways that only add to postsynaptic variables, else the pathway runs
            as a masked computation over all synapses each step).
        method: integration method of the clock-driven equations.
        namespace: values of external names (default: the caller's variables).
        backend: ``"event"`` (event-driven operators) or ``"dense"`` (the masked
            computation over all synapses; a reference).
        **initial: initial values of the synaptic variables (``w=0.5 * u.nS``).

    Per-synapse variables are States in CSR order (``S.w``; ``S.i``, ``S.j`` are the
    indices); set them with units checked (``S.w = ...`` or a string such as
    ``"rand() * wmax"``).

    A pathway that only adds constant-per-synapse values to postsynaptic variables
    (``ge += w_e``, ``g_post += w`` with ``w`` never written) is ``spikes @ conn`` on the
    native kernels (also with per-synapse delays: one CSR per delay). Other pathways run on
    :func:`~neurodyn.event.update_op` / :func:`~neurodyn.event.scatter_op`: one update of
    all the synaptic variables the pathway changes, in place, plus one scatter per
    postsynaptic write (or, with ``backend="dense"``, a masked computation over all
    synapses, faster for small networks). Within a step, the ``on_pre`` and ``on_post``
    pathways of one Synapses run one after the other, and in a Network every ``on_pre``
    pathway runs before any ``on_post`` one (Brian2's order).

    Example:
        >>> import neurodyn as nd
        >>> import neurodyn.units as u
        >>> from neurodyn import event
        >>> net = nd.Network()
        >>> net.src = nd.dyn.SpikeTimeGroup(2, [0, 1], [1.0, 2.0] * u.ms)
        >>> net.G = nd.dyn.NeuronGroup(1, "dv/dt = -v/(10*ms) : volt")
        >>> net.S = nd.dyn.Synapses(net.src, net.G, event.AllToAll(), "w : volt",
        ...                         on_pre="v_post += w", w=[1.0, 2.0] * u.mV)
        >>> res = nd.run(net, 3 * u.ms, dt=0.1 * u.ms, monitors={"v": net.G.v})
        >>> round(float(res["v"][-1, 0].to_value(u.mV)), 4)  # (e^{-0.1} + 2) e^{-0.09}
        2.6548
    """

    def __init__(
        self,
        pre,
        post,
        conn=None,
        model="",
        on_pre=None,
        on_post=None,
        delay=None,
        method=None,
        namespace=None,
        name=None,
        backend="event",
        **initial,
    ):
        self.name = owner = name or "Synapses"
        if backend not in ("event", "dense"):
            raise ValueError(f"{owner}: backend must be 'event' or 'dense', got {backend!r}.")
        self.source, self.target = _Side(pre, "pre", owner), _Side(post, "post", owner)
        if not hasattr(self.source.root, "spike"):
            raise TypeError(f"{owner}: pre must have spikes (a spiking population); got {pre!r}.")
        if conn is None:
            raise TypeError(
                f"{owner}: give the connectivity, e.g. Synapses(E, G, event.FixedProb(0.1))."
            )
        self.conn = _as_csr(conn, self.source.n, self.target.n, owner)
        indptr = np.asarray(self.conn.indptr)
        self.i = np.repeat(np.arange(self.source.n, dtype=np.int32), np.diff(indptr))
        self.j = np.asarray(self.conn.indices)
        self.N = int(self.j.shape[0])
        self._pre_idx, self._post_idx = jnp.asarray(self.i), jnp.asarray(self.j)
        self.varshape = (self.N,)
        eqs = Equations(model) if isinstance(model, str) else model
        if not isinstance(eqs, Equations):
            raise TypeError(f"{owner}: model must be a string or Equations; got {model!r}.")
        eqs.check_flags(
            _SYN_FLAGS,
            "Synapses",
            incompatible=[
                ("event-driven", "clock-driven"),
                ("summed", "shared", "constant over dt"),
            ],
        )
        for k in eqs.names:
            if k in ("i", "j", "delay", "lastupdate", "N_incoming", "N_outgoing", "conn"):
                raise EquationError(f"{owner}: `{k}` is a reserved name in Synapses; rename it.")
        self.eqs = eqs
        caller = sys._getframe(1)
        self.ns = Namespace(eqs.constants, namespace, caller, owner)
        self.summed = [k for k in eqs.subexpr_names if "summed" in eqs[k].flags]
        self.event_driven = [k for k in eqs.diff_eq_names if "event-driven" in eqs[k].flags]
        self.clock_driven = [k for k in eqs.diff_eq_names if k not in self.event_driven]
        self.params = list(eqs.parameter_names)
        self.shared = [k for k in eqs.names if "shared" in eqs[k].flags]
        self._summed_targets = {}
        for k in self.summed:
            self._summed_target(k)
        eqs.check_units(resolve=self._external_dim)
        self._compiler = Compiler(self._resolve)
        self._decays = {k: self._decay(k) for k in self.event_driven}
        self.paths = {}
        # rand() / randn() in a pathway: drawn for every synapse before the pathway runs
        # and read as synaptic fields (one independent draw per call in the code)
        self._randoms: dict[str, list] = {}
        written: set[str] = set()
        for side, code in (("pre", on_pre), ("post", on_post)):
            if code is None:
                continue
            stmts = parse_statements(code, f"{owner}: on_{side}")
            check_statements(stmts, self._lookup, self._writable, f"{owner}: on_{side}", self._lit)
            compiled = []
            randoms = self._randoms[side] = []
            compiler = Compiler(self._resolve, randoms)
            for st in stmts:
                kind, base = self._target(st.var)
                if kind == "syn":
                    written.add(base)
                else:
                    (self.source if kind == "pre" else self.target).state(base, owner)
                n_before = len(randoms)
                fn = compiler.function(st.expr)
                keys = self._keys(st.expr, randoms=True) | {k for k, _ in randoms[n_before:]}
                compiled.append((kind, base, st.op, fn, keys))
            decays = {k: self._decays[k] for k in self.event_driven}
            csc = csc_view(self.conn) if side == "post" and backend == "event" else None
            path = Pathway(owner, side, compiled, decays, backend, csc)
            self.paths[side] = (path, compiled)
        self._written = written | set(self.event_driven) | set(self.clock_driven)
        self.system = None
        if self.clock_driven:
            self.system = OdeSystem(
                eqs, self.clock_driven, self._compiler, self._subtree, self._lit, method, owner
            )
            self.updater = _ClockDriven(self)
        if self.summed:
            self.summed_updater = _Summed(self)
        self._fast = self._fast_path() if backend == "event" else None
        self.ns.freeze()
        self._initial = {}
        self.init_state()
        self.delays = None
        if delay is not None:
            delay = delay if isinstance(delay, u.Quantity) else u.Quantity(delay)
            if jnp.ndim(delay.mantissa) > 0:
                if "pre" not in self.paths:
                    raise TypeError(f"{owner}: a delay applies to on_pre; give on_pre code.")
                if self._fast is not None:  # spikes @ conn per delay: event-driven
                    data = self._fast_data(self._fast[0][2], static=True)
                    csr = self.conn.with_data(data)
                else:  # the synapses whose spike arrives now, then the pathway over them
                    csr = self.conn
                self.delays = SynapseDelays(delay, csr, name=owner)
            else:
                self.delays = Delay(delay, name=owner)
            self.delays.bind((self.source.n,), self.source.root.spike.value.dtype)
        self.delay = None if self.delays is None else self.delays.delay
        for k, v in initial.items():
            if k not in eqs:
                raise TypeError(
                    f"{owner}: unknown argument {k}; the synaptic variables are "
                    f"{', '.join(eqs.names) or 'none'}."
                )
            self._assign(k, v, caller)

    # -- names --------------------------------------------------------------------------
    def _summed_target(self, k):
        for suffix, side in (("_post", self.target), ("_pre", self.source)):
            if k.endswith(suffix):
                base = k[: -len(suffix)]
                found = side.lookup(base)
                if found is None or side.spec is None:
                    break
                if base not in side.spec.eqs.parameter_names:
                    raise EquationError(
                        f"{self.name}: the summed variable {k} targets {base}, which must be a "
                        f"parameter of {side.root.name} (declare `{base} : <unit>` there)."
                    )
                if found[0] is not self.eqs[k].dim:
                    raise u.UnitMismatchError(
                        f"{self.name}: `{self.eqs[k]}` is in {dim_name(self.eqs[k].dim)} but "
                        f"{side.root.name}.{base} is in {dim_name(found[0])}."
                    )
                side.state(base, self.name)  # a parameter becomes a State
                self._summed_targets[k] = (side, base)
                return
        raise EquationError(
            f"{self.name}: the summed variable {k} must name a parameter of the pre- or "
            "postsynaptic NeuronGroup with a suffix, e.g. `I_syn_post = g*(E - v_post) : amp "
            "(summed)`."
        )

    def _side_var(self, name):
        """``(kind, base)`` of a pre/post variable name, or None."""
        for suffix, kind, side in (("_pre", "pre", self.source), ("_post", "post", self.target)):
            if name.endswith(suffix) and side.lookup(name[: -len(suffix)]) is not None:
                return kind, name[: -len(suffix)]
        if name not in self.eqs and self.target.lookup(name) is not None:
            return "post", name
        return None

    def _lookup(self, name):
        if name in self.eqs:
            e = self.eqs[name]
            return e.dim, e.var_type
        if name in ("t", "dt", "lastupdate"):
            return u.second.dim, "float"
        if name in ("i", "j", "N", "N_incoming", "N_outgoing"):
            return u.DIMENSIONLESS, "integer"
        sv = self._side_var(name)
        if sv is not None:
            return (self.source if sv[0] == "pre" else self.target).lookup(sv[1])
        if name == "xi" or name.startswith("xi_"):
            from fractions import Fraction

            return u.second.dim ** Fraction(-1, 2), "float"
        found = self.ns.dim(name)
        if found is None:
            raise EquationError(
                f"{self.name}: the name `{name}` is not defined: not a synaptic variable, not a "
                "variable of the pre- or postsynaptic group (x_pre, x_post), not in the "
                "namespace and not a unit. Give its value in namespace=."
            )
        return found

    def _external_dim(self, name):
        try:
            return self._lookup(name)
        except EquationError:
            return None

    def _lit(self, name):
        if name in self.eqs or self._side_var(name) is not None:
            return None
        v = self.ns.si(name)
        return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None

    def _resolve(self, name):
        eqs = self.eqs
        if name in eqs:
            e = eqs[name]
            if e.kind == SUBEXPRESSION:
                return ("sub", e.expr)
            return ("var", name)
        if name == "N":
            return Const(self.N)
        if name in _SPECIAL or name == "xi" or name.startswith("xi_"):
            return ("var", name)
        sv = self._side_var(name)
        if sv is not None:
            return ("var", f"{sv[1]}_{sv[0]}")
        v = self.ns.si(name)
        if v is None:  # pragma: no cover - refused by the unit check
            raise EquationError(f"{self.name}: undefined name `{name}`.")
        return Const(v)

    def _subtree(self, name):
        e = self.eqs.get(name)
        return e.expr.tree if e is not None and e.kind == SUBEXPRESSION else None

    def _keys(self, expr, randoms=False):
        """The environment keys an expression reads (through subexpressions); with
        ``randoms``, rand() and randn() are allowed (pathway code: drawn by the caller)."""
        out = set()
        for n in deps(expr.tree, self._subtree):
            if n.endswith("()"):
                if randoms and n in ("rand()", "randn()"):
                    continue
                if n in ("rand()", "randn()", "poisson()"):
                    raise EquationError(
                        f"{self.name}: `{expr.code}`: random numbers here are not supported "
                        "(rand() and randn() are, in on_pre / on_post code)."
                    )
                continue
            r = self._resolve(n)
            if isinstance(r, tuple) and r[0] == "var":
                out.add(r[1])
        return out

    def _keys_any(self, expr):
        """Like :meth:`_keys`, random functions allowed (initial values)."""
        out = set()
        for n in deps(expr.tree, self._subtree):
            if not n.endswith("()"):
                r = self._resolve(n)
                if isinstance(r, tuple) and r[0] == "var":
                    out.add(r[1])
        return out

    def _writable(self, var, st):
        kind, base = self._target(var)
        if kind == "syn":
            e = self.eqs[base]
            return e.dim, e.var_type
        return (self.source if kind == "pre" else self.target).lookup(base)

    def _target(self, var):
        if var in self.eqs:
            e = self.eqs[var]
            if e.kind == SUBEXPRESSION:
                raise EquationError(
                    f"{self.name}: the code writes {var}, a subexpression; write a variable."
                )
            return "syn", var
        sv = self._side_var(var)
        if sv is None:
            raise EquationError(
                f"{self.name}: the code writes {var}, which is neither a synaptic variable nor "
                "a variable of the pre- or postsynaptic group (write x_post or x_pre)."
            )
        return sv

    # -- event-driven variables -----------------------------------------------------------
    def _decay(self, k):
        """``(fn, keys)``: ``k`` advanced exactly from ``lastupdate`` to ``t``."""
        e = self.eqs[k]
        reads = deps(e.expr.tree, self._subtree)
        others = {
            n
            for n in reads
            if n != k and (n in self.eqs.diff_eq_names or self._side_var(n) or n in ("t", "xi"))
        }
        if others or degree(e.expr.tree, {k}, self._subtree, lambda x: literal_value(x)) > 1:
            raise EquationError(
                f"{self.name}: `{e}`: an event-driven variable is advanced exactly between "
                "events, so its equation must be linear in it and read only constants and "
                f"parameters{f' (it reads {sorted(others)})' if others else ''}. Mark it "
                "(clock-driven) instead."
            )
        f = self._compiler.function(e.expr)
        zero = Compiler(lambda n: Const(0.0) if n == k else self._resolve(n)).compile(e.expr)
        homogeneous = isinstance(zero, Const) and zero.value == 0

        def advance(env):
            x = env[k]
            delta = env["t"] - env["lastupdate"]
            if homogeneous:
                a = f(_Set(env, k, 1.0))
                return x * jnp.exp(a * delta)
            b = f(_Set(env, k, 0.0))
            a = f(_Set(env, k, 1.0)) - b
            z = a * delta
            return x * jnp.exp(z) + b * delta * phi1_exact(z)

        keys = {k, "t", "lastupdate"} | self._keys(e.expr)
        return advance, keys

    # -- the fast path --------------------------------------------------------------------
    def _fast_path(self):
        """``[(base, sign, expr)]`` when on_pre only adds constant-per-synapse values to
        postsynaptic variables (``g_post += w`` with ``w`` never written): then it is
        ``spikes @ conn`` on the native kernels. None otherwise."""
        if "pre" not in self.paths or self.event_driven:
            return None
        out = []
        if self._randoms.get("pre"):
            return None
        for kind, base, op, fn, keys in self.paths["pre"][1]:
            if kind != "post" or op not in ("+=", "-="):
                return None
            if any(env_group(k)[0] != "syn" or k in self._written or k in _SPECIAL for k in keys):
                return None
            out.append((base, 1.0 if op == "+=" else -1.0, fn))
        return out

    def _fast_data(self, fn, static=False):
        syn = {k: self._si(k) for k in self.params}
        value = fn(DenseEnv(syn, {}, {}, {}, None, None))
        if isinstance(value, (int, float)) or jnp.ndim(value) == 0:
            return jnp.asarray(value, jnp.result_type(float))
        return jnp.broadcast_to(value, (self.N,)) if static else value

    # -- States ---------------------------------------------------------------------------
    def _si(self, k):
        v = getattr(self, k).value
        if isinstance(v, u.Quantity):
            s = float(v.unit.scale)
            return v.mantissa if s == 1.0 else v.mantissa * s
        return v

    def init_state(self, batch_size=None, **kwargs):
        b = () if batch_size is None else (batch_size,)
        names = list(self.params) + list(self.eqs.diff_eq_names)
        for k in names:
            shape = b if k in self.shared else (*b, self.N)
            value = self._initial.get(k)
            object.__setattr__(self, k, Hidden(self._value(k, value, shape)))
        if self.event_driven:
            self.lastupdate = Hidden(jnp.zeros((*b, self.N)) * u.second)

    def reset_state(self, batch_size=None, **kwargs):
        from ._base import reset_in_place

        reset_in_place(self, batch_size)

    def _value(self, k, value, shape, caller=None):
        e = self.eqs[k]
        where = f"{self.name}.{k}"
        if value is None:
            z = jnp.zeros(shape)
            if e.var_type == "boolean":
                return z.astype(bool)
            if e.var_type == "integer":
                return z.astype(jnp.int32)
            return z if e.unit is u.dimensionless else z * e.unit
        if isinstance(value, str):
            value = self._evaluate(k, value, caller)
        if e.var_type != "float":
            return jnp.broadcast_to(jnp.asarray(value), shape).astype(
                bool if e.var_type == "boolean" else jnp.int32
            )
        if isinstance(value, u.Quantity):
            if value.unit.dim is not e.dim:
                raise u.UnitMismatchError(
                    f"{where} is in {dim_name(e.dim)}; got a quantity in {value.unit.name}."
                )
            m = jnp.asarray(value.to_value(e.unit), jnp.result_type(float))
        else:
            if e.dim is not u.DIMENSIONLESS and not np.all(np.asarray(value) == 0):
                raise u.UnitMismatchError(
                    f"{where} is in {e.unit.name}; got the plain number(s) {value!r}. Write "
                    f"e.g. `{k}=... * u.{e.unit.name}`."
                )
            m = jnp.asarray(value, jnp.result_type(float))
        if m.ndim and m.shape[-1:] != shape[-1:]:
            raise ValueError(
                f"{where}: got shape {m.shape}; give one value or one per synapse ({self.N}, in "
                "CSR order: S.i, S.j)."
            )
        m = jnp.broadcast_to(m, shape)
        return m if e.unit is u.dimensionless else u.Quantity(m, e.unit)

    def _evaluate(self, k, text, caller=None):
        ns = self.ns
        if caller is not None:
            self.ns = ns.with_frame(caller)
        try:
            return self._evaluate_here(k, text)
        finally:
            self.ns = ns

    def _evaluate_here(self, k, text):
        where = f"{self.name}.{k} = {text!r}"
        expr = parse_expression(text, where)
        d, _ = expr_dim(expr, self._lookup, where, self._lit)
        if self.eqs[k].var_type == "float" and d is not self.eqs[k].dim:
            raise u.UnitMismatchError(
                f"{where}: {k} is in {dim_name(self.eqs[k].dim)}, the expression in {dim_name(d)}."
            )
        env = self._dense_env(self._keys_any(expr))
        env.cache["__shape__"] = (self.N,)
        value = Compiler(self._resolve).function(expr)(env)
        s = float(self.eqs[k].unit.scale) if self.eqs[k].var_type == "float" else 1.0
        value = jnp.broadcast_to(value, (self.N,))
        return (value / s) * self.eqs[k].unit if self.eqs[k].dim is not u.DIMENSIONLESS else value

    def __setattr__(self, name, value):
        self._assign(name, value, sys._getframe(1))

    def _assign(self, name, value, caller):
        if name == "delay" and "delay" in self.__dict__:
            raise TypeError(
                f"{self.name}: the delay is fixed when the Synapses is built (the delay line "
                "is sized for it); give delay=... to Synapses(...)."
            )
        eqs = self.__dict__.get("eqs")
        if eqs is not None and name in eqs and not isinstance(value, State):
            if name in self.summed or eqs[name].kind == SUBEXPRESSION:
                raise AttributeError(f"{self.name}: {name} is a subexpression; it cannot be set.")
            state = self.__dict__.get(name)
            shape = jnp.shape(u.get_mantissa(state.value))
            new = self._value(name, value, shape, caller)
            self._initial[name] = new if isinstance(value, str) else value
            state.value = new
            return
        super().__setattr__(name, value)

    # -- one step -------------------------------------------------------------------------
    def _params(self):
        try:
            return {
                "t": _clock.t().to_value(u.second),
                "dt": float(_clock.dt().to_value(u.second)),
            }
        except RuntimeError:  # outside a run (initial values): t = 0
            return {"t": 0.0, "dt": 0.0}

    def _side_values(self, side, names):
        out = {}
        for n in names:
            if n == "i":
                out[n] = jnp.arange(self.source.n, dtype=jnp.float32)
            elif n == "j":
                out[n] = jnp.arange(self.target.n, dtype=jnp.float32)
            elif n == "N_outgoing":
                out[n] = jnp.asarray(np.bincount(self.i, minlength=self.source.n), jnp.float32)
            elif n == "N_incoming":
                out[n] = jnp.asarray(np.bincount(self.j, minlength=self.target.n), jnp.float32)
            else:
                out[n] = side.read_si(n)
        return out

    def _dense_env(self, keys=None):
        syn = {k: self._si(k) for k in (*self.params, *self.eqs.diff_eq_names)}
        if self.event_driven:
            syn["lastupdate"] = self._si("lastupdate")
        pre_names, post_names = self._needed(keys)
        pre = self._side_values(self.source, pre_names)
        post = self._side_values(self.target, post_names)
        return DenseEnv(syn, pre, post, self._params(), self._pre_idx, self._post_idx)

    def _needed(self, keys=None):
        if keys is None:
            keys = set()
            for e in self.eqs.values():
                if e.expr is not None:
                    keys |= self._keys(e.expr)
        pre = {env_group(k)[1] for k in keys if env_group(k)[0] == "pre"}
        post = {env_group(k)[1] for k in keys if env_group(k)[0] == "post"}
        return sorted(pre), sorted(post)

    def update(self):
        """Both pathways of this step: ``on_pre``, then ``on_post`` (a Network runs every
        ``on_pre`` of its synapses before any ``on_post``, as Brian2)."""
        self.deliver()
        self.deliver_post()

    def deliver(self):
        """The ``on_pre`` pathway for the presynaptic spikes that arrive now (Brian2's
        ``synapses`` slot, order -1)."""
        if "pre" in self.paths:
            spikes = self.source.spikes()
            if isinstance(self.delays, SynapseDelays) and self._fast is not None:
                self._fast_delayed(spikes)
            elif isinstance(self.delays, SynapseDelays):
                self._pathway("pre", self._arriving(spikes), per_synapse=True)
            else:
                if self.delays is not None:
                    spikes = self.delays(spikes)
                if self._fast is not None:
                    self._fast_run(spikes)
                else:
                    self._pathway("pre", spikes)

    def deliver_post(self):
        """The ``on_post`` pathway for this step's postsynaptic spikes (Brian2's
        ``synapses`` slot, order +1: after every ``on_pre`` of the network)."""
        if "post" in self.paths:
            self._pathway("post", self.target.spikes())

    def _write_post(self, base, delta):
        side = self.target
        old = side.read_si(base)
        new = old + delta.astype(old.dtype)
        mask, variables = side.refractory()
        if mask is not None and base in variables:
            new = jnp.where(mask, old, new)
        side.write_si(base, new, self.name)

    def _fast_run(self, spikes):
        for base, sign, fn in self._fast:
            data = self._fast_data(fn)
            x = spikes @ self.conn.with_data(data if sign > 0 else -data)
            self._write_post(base, jnp.asarray(x))

    def _fast_delayed(self, spikes):
        (base, sign, fn), *rest = self._fast
        data = self._fast_data(fn)
        x = self.delays.propagate(spikes, None if jnp.ndim(data) == 0 else data)
        self._write_post(base, sign * jnp.asarray(u.get_mantissa(x)))
        if rest:
            raise TypeError(f"{self.name}: per-synapse delays take one on_pre statement.")

    def _arriving(self, spikes):
        """Store this step's presynaptic spikes in the delay line; the synapses (CSR
        order) whose spike arrives now (O(synapses) per step)."""
        d = self.delays
        if d.steps is None:
            raise RuntimeError(f"{self.name}: call before_run(dt) first (nd.run does it).")
        length = d.buffer.value.shape[0]
        i = d.cursor.value
        buf = d.buffer.value.at[i].set(spikes.astype(d._dtype))
        d.buffer.value, d.cursor.value = buf, (i + 1) % length
        hit = jnp.zeros((*jnp.shape(spikes)[:-1], self.N), bool)
        for steps, _, members in d.groups:
            rows = jnp.asarray(self.i[members])
            past = jnp.take(buf[(i - steps) % length], rows, axis=-1)
            hit = hit.at[..., jnp.asarray(members)].set(past != 0)
        return hit

    def _pathway(self, side, events, per_synapse=False):
        path, compiled = self.paths[side]
        keys = set()
        for _, _, _, _, k in compiled:
            keys |= k
        for _fn, k in (self._decays[v] for v in self.event_driven):
            keys |= k
        pre_names, post_names = self._needed(keys)
        targets = path.targets
        pre_names = sorted(set(pre_names) | targets["pre"])
        post_names = sorted(set(post_names) | targets["post"])
        syn = {k: self._si(k) for k in (*self.params, *self.eqs.diff_eq_names)}
        if self.event_driven:
            syn["lastupdate"] = self._si("lastupdate")
        shape = (*jnp.shape(events)[:-1], self.N)
        for key, kind in self._randoms.get(side, ()):
            syn[key] = (random.uniform if kind == "rand" else random.normal)(size=shape)
        pre = self._side_values(self.source, pre_names)
        post = self._side_values(self.target, post_names)
        mpre, vpre = self.source.refractory()
        mpost, vpost = self.target.refractory()
        masks = {"pre": mpre, "post": mpost, "pre_vars": vpre, "post_vars": vpost}
        params = self._params()
        args = (self.conn, syn, pre, post, params, self._pre_idx, self._post_idx, masks)
        if events.ndim == 2:
            syn_new, pre_new, post_new = run_batched(path, events, *args, per_synapse)
        else:
            syn_new, pre_new, post_new = path.run(events, *args, per_synapse)
        for k in syn:
            if syn_new[k] is not syn[k]:
                state = getattr(self, k)
                unit = u.second if k == "lastupdate" else self.eqs[k].unit
                s = float(unit.scale) if unit is not None else 1.0
                m = syn_new[k] if s == 1.0 else syn_new[k] / s
                old = state.value
                state.value = u.Quantity(m, old.unit) if isinstance(old, u.Quantity) else m
        for base in targets["pre"]:
            self.source.write_si(base, pre_new[base], self.name)
        for base in targets["post"]:
            self.target.write_si(base, post_new[base], self.name)

    def __repr__(self) -> str:
        return f"Synapses({self.source.root.name} -> {self.target.root.name}, {self.N} synapses)"


class _Set:
    """``env`` with one entry replaced."""

    def __init__(self, env, key, value):
        self.env, self.key, self.value = env, key, value

    def __getitem__(self, k):
        return self.value if k == self.key else self.env[k]


class _ClockDriven(Dynamics):
    """The clock-driven synaptic equations, integrated with the neurons (Brian2's
    ``groups`` slot)."""

    def __init__(self, syn):
        object.__setattr__(self, "_syn", syn)

    def integrate_and_fire(self, I_ext=None):
        s = self._syn
        sys_ = s.system
        env = s._dense_env()
        p = env.src["p"]
        t, dt = p["t"], p["dt"]
        keys = set()
        for k in s.clock_driven:
            keys |= s._keys(s.eqs[k].expr)
        full = {k: env[k] for k in keys if k not in sys_.noise_names and k != "t"}
        y = {k: full.pop(k) for k in s.clock_driven}
        shape = jnp.shape(next(iter(y.values())))
        from neurodyn.state import random

        xi = {k: random.normal(size=shape) / np.sqrt(dt) for k in sys_.noise_names}
        new = sys_.step(full, y, t, dt, None, xi)
        for k, v in new.items():
            e = s.eqs[k]
            sc = float(e.unit.scale)
            m = v if sc == 1.0 else v / sc
            getattr(s, k).value = m if e.unit is u.dimensionless else u.Quantity(m, e.unit)

    def reset(self):
        return None


class _Summed(Dynamics):
    """The summed variables, set before the neurons' state update (Brian2's order)."""

    def __init__(self, syn):
        object.__setattr__(self, "_syn", syn)
        self.varshape = ()

    def update(self):
        s = self._syn
        for k in s.summed:
            side, base = s._summed_targets[k]
            keys = s._keys(s.eqs[k].expr)
            env = s._dense_env(keys)
            vals = s._compiler.function(s.eqs[k].expr)(env)
            idx = s._post_idx if side is s.target else s._pre_idx
            shape = (*jnp.shape(side.read_si(base))[:-1], s.N)
            vals = jnp.broadcast_to(vals, shape)
            total = jnp.zeros((*shape[:-1], side.n), vals.dtype).at[..., idx].add(vals)
            side.write_si(base, total, s.name)
