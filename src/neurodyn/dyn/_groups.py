"""``NeuronGroup``: a population defined by equation strings, as in Brian2, built on the
one model protocol (:class:`~neurodyn.dyn.Model`): it runs in ``nd.run``, has views
(``G[:4000]``), batches, and its parameters are declared (units checked when set).

The model is parsed and checked when the group is built (``_equations``, ``_dims``) and
compiled to JAX functions over plain SI arrays (``_codegen``); Brian2's schedule and
semantics are kept: refractoriness as a time, a time expression or a condition
(``not_refractory``), ``(unless refractory)`` variables held and protected from
synaptic writes, the reset applied to the neurons that spiked, the default method
``exact`` for linear equations (else ``euler``, or ``heun`` for multiplicative noise).
"""

from __future__ import annotations

import sys
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import neurodyn.units as u
from neurodyn.state import Hidden, State, random

from . import _clock
from ._base import SpikingNeuron, materialize
from ._init import initialize
from ._model import Model, heaviside
from ._params import Parameter
from ._strmodel import GroupSpec, apply_statements, check_statements

__all__ = ["NeuronGroup", "linked_var"]


class LinkedVar:
    """The target of a linked variable: ``name`` of ``group`` (a population or a view),
    optionally through ``index`` (one source neuron per neuron of the linking group)."""

    def __init__(self, group, name: str, index=None):
        if not isinstance(name, str):
            raise TypeError(f"linked_var: name must be a variable name (a str); got {name!r}.")
        self.group, self.name = group, name
        self.index = None if index is None else np.asarray(index, np.int32)


def linked_var(group, name: str, index=None) -> LinkedVar:
    r"""A link to variable ``name`` of ``group``, as Brian2's ``linked_var``: ``G.x =
    linked_var(H, "y")`` for ``x : volt (linked)`` in G's equations. G reads H's current
    value of y whenever it needs x (x is read-only). ``index`` gives, for each neuron of
    G, the neuron of H it reads (needed when the sizes differ).

    Example:
        >>> import neurodyn as nd
        >>> import neurodyn.units as u
        >>> H = nd.dyn.NeuronGroup(2, "y : volt")
        >>> H.y = [1.0, 2.0] * u.mV
        >>> G = nd.dyn.NeuronGroup(4, "dv/dt = (x - v) / (1*ms) : volt\nx : volt (linked)")
        >>> G.x = nd.dyn.linked_var(H, "y", index=[0, 0, 1, 1])
        >>> [round(float(x), 3) for x in G.si_values()["x"] * 1e3]
        [1.0, 1.0, 2.0, 2.0]
    """
    return LinkedVar(group, name, index)


class _SubexpressionView:
    """``G.I_syn`` for a subexpression: ``.value`` is computed from the current States
    (a Quantity in the declared unit), so it can be monitored."""

    def __init__(self, group, name):
        self.group, self.name = group, name

    @property
    def value(self):
        return self.group.subexpression(self.name)


class NeuronGroup(Model):
    """A group of ``N`` neurons defined by equations, as Brian2's ``NeuronGroup``.

    Args:
        N: the number of neurons.
        model: the equations (a string or :class:`~neurodyn.dyn.Equations`).
        threshold: the spike condition (``"v > theta"``); none: a group without spikes.
        reset: statements run on the neurons that spiked (``"v = Vr; w += b"``).
        refractory: a time (``2 * u.ms``, or one per neuron), a string giving a time
            (``"tau_ref"``, a parameter) or a condition (``"v > -50*mV"``: refractory
            while it holds). Variables marked ``(unless refractory)`` are held, and
            synaptic writes to them are dropped, while refractory.
        method: ``"exact"`` (linear equations), ``"exponential_euler"``, ``"euler"``,
            ``"heun"`` (Brian2's stochastic Heun), ``"milstein"`` (Brian2's derivative-free
            Milstein, diagonal noise), ``"rk2"``, ``"rk4"``; default: ``exact``
            when the equations are linear, else ``euler`` (``heun`` for multiplicative
            noise), as Brian2.
        namespace: values of the external names (a dict); default: the caller's
            variables, as Brian2.
        spike_fn: a surrogate spike function (``nd.dyn.surrogate``) for gradients; the
            threshold must then be one comparison (``"v > theta"``).
        **initial: initial values of variables and values of parameters (``v=...``).

    State variables are States (``G.v``); parameters are set with units checked
    (``G.tau = 10 * u.ms``, or one value per neuron); subexpressions are read with
    ``G.I_syn.value``. Values may also be given as strings (``G.v = "-60*mV +
    5*mV*rand()"``).

    Example:
        >>> import neurodyn as nd
        >>> import neurodyn.units as u
        >>> G = nd.dyn.NeuronGroup(3, "dv/dt = (I - v) / tau : volt (unless refractory)",
        ...                        threshold="v > 20*mV", reset="v = 0*mV", refractory=2 * u.ms,
        ...                        namespace=dict(I=25 * u.mV, tau=10 * u.ms))
        >>> res = nd.run(G, 50 * u.ms, dt=0.1 * u.ms, monitors={"s": G.spike})
        >>> [int(k) for k in res["s"][:, 0].nonzero()[0]]  # v reaches 20 mV after 10 ln 5 ms
        [160, 340]
    """

    input_unit = None
    _spec: GroupSpec

    def __new__(cls, *args, **kwargs):
        if cls is not NeuronGroup:
            return object.__new__(cls)
        spec = GroupSpec.build(*args, caller=sys._getframe(1), **kwargs)
        attrs: dict[str, Any] = {"_spec": spec, "variables": spec.variables_decl()}
        for name in spec.float_params:
            e = spec.eqs[name]
            attrs[name] = Parameter(
                e.unit,
                0.0 * e.unit if e.unit is not u.dimensionless else 0.0,
                per_neuron="shared" not in e.flags,
                doc=str(e),
            )
        attrs["refractory_vars"] = spec.unless_refractory
        attrs["__doc__"] = f"NeuronGroup with equations:\n{spec.eqs}"
        sub = type("NeuronGroup", (NeuronGroup,), attrs)
        return object.__new__(sub)

    def __init__(
        self,
        N,
        model=None,
        threshold=None,
        reset=None,
        refractory=False,
        method=None,
        namespace=None,
        name=None,
        spike_fn=heaviside,
        detach_reset=True,
        **initial,
    ):
        spec = self._spec
        SpikingNeuron.__init__(self, N, name or "NeuronGroup")
        object.__setattr__(self, "_views", {})
        object.__setattr__(self, "_links", {})
        object.__setattr__(self, "_regular", [])
        self._initializers = {}
        self._state_values = {}
        unknown = [k for k in initial if k.removesuffix("_initializer") not in spec.eqs]
        if unknown:
            raise TypeError(
                f"{self.name}: unknown argument(s) {', '.join(unknown)}. The variables and "
                f"parameters are {', '.join(spec.eqs.names)} (give initial values as "
                "`v=...`); constants go in namespace=."
            )
        for pname in spec.float_params:
            setattr(self, pname, self._parameters[pname].default)
        for pname in spec.state_params:
            e = spec.eqs[pname]
            self._state_values[pname] = _zero(e)
        self.method = spec.method_object()
        self.spiking = spec.threshold is not None
        self.I_ext, self.tau_ref, self.noise, self.adaptation = None, None, None, None
        self.spike_fn = spike_fn
        self.detach_reset = bool(detach_reset)
        if spike_fn is not heaviside and spec.threshold_distance is None:
            raise ValueError(
                f"{self.name}: a surrogate spike_fn needs a threshold that is one comparison "
                f"such as 'v > theta'; got {spec.threshold_text!r}."
            )
        self.init_state()
        caller = sys._getframe(1)
        for key, value in initial.items():
            self._assign(key.removesuffix("_initializer"), value, caller)

    # -- attributes ---------------------------------------------------------------------
    def __setattr__(self, name, value):
        self._assign(name, value, sys._getframe(1))

    def _assign(self, name, value, caller):
        spec = getattr(type(self), "_spec", None)
        if spec is None or isinstance(value, State) or name.startswith("_"):
            return super().__setattr__(name, value)
        if name in spec.linked:
            return self._link(name, value)
        if name in spec.eqs.subexpr_names:
            raise AttributeError(
                f"{self.name}: {name} is a subexpression ({spec.eqs[name]}); it is computed "
                "from the other variables and cannot be set."
            )
        if name in spec.eqs.diff_eq_names or name in spec.state_params:
            if isinstance(value, str):
                value = spec.evaluate(self, name, value, f"{self.name}.{name} = {value!r}", caller)
            self._set_state(name, value)
            return None
        if name in spec.float_params and isinstance(value, str):
            value = spec.evaluate(self, name, value, f"{self.name}.{name} = {value!r}", caller)
        return super().__setattr__(name, value)

    def __getattr__(self, name):
        spec = getattr(type(self), "_spec", None)
        if spec is not None and name in spec.eqs.subexpr_names:
            views = self.__dict__.setdefault("_views", {})
            if name not in views:
                views[name] = _SubexpressionView(self, name)
            return views[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def _link(self, name, value):
        from ._synside import Side

        e = self._spec.eqs[name]
        where = f"{self.name}.{name}"
        if not isinstance(value, LinkedVar):
            raise TypeError(
                f"{where} is a linked variable; set it with {where} = nd.dyn.linked_var(group, "
                f"'variable'), not {type(value).__name__}."
            )
        side = Side(value.group, "source", where)
        found = side.lookup(value.name)
        if found is None:
            raise TypeError(f"{where}: the group {side.root.name} has no variable {value.name!r}.")
        if found[0] is not e.dim:
            raise u.UnitMismatchError(
                f"{where} is in {e.unit.name}, but {side.root.name}.{value.name} has another "
                "dimension; link a variable of the same dimension."
            )
        n = self.num
        if value.index is None and side.n != n:
            raise ValueError(
                f"{where}: {side.root.name}.{value.name} has {side.n} neurons and "
                f"{self.name} {n}; give index= (one source neuron per neuron)."
            )
        if value.index is not None and (
            value.index.shape != (n,) or value.index.min() < 0 or value.index.max() >= side.n
        ):
            raise ValueError(
                f"{where}: index must give one neuron of {side.root.name} (0..{side.n - 1}) "
                f"per neuron of {self.name} ({n}); got shape {value.index.shape}."
            )
        self._links[name] = (side, value.name, value.index)

    def _linked_si(self, name):
        link = self._links.get(name)
        if link is None:
            raise RuntimeError(
                f"{self.name}.{name} is a linked variable that was not linked; set "
                f"{self.name}.{name} = nd.dyn.linked_var(group, 'variable') before running."
            )
        side, var, index = link
        v = side.read_si(var)
        return v if index is None else jnp.take(v, jnp.asarray(index), axis=-1)

    def run_regularly(self, code: str, dt=None, when: str = "start") -> None:
        """Run statements (``"v = v_rest"``, ``"I = rand() * nA"``) on every neuron every
        ``dt`` (a multiple of the simulation's dt; default every step), as Brian2's
        ``run_regularly``: in the ``start`` slot, before the state update, at t = 0,
        dt, 2 dt, ... Names and units are checked now.

        Example:
            >>> import neurodyn as nd
            >>> import neurodyn.units as u
            >>> G = nd.dyn.NeuronGroup(1, "dv/dt = -v / (10*ms) : volt")
            >>> G.run_regularly("v += 1*mV", dt=1 * u.ms)
            >>> res = nd.run(G, 2 * u.ms, dt=0.1 * u.ms, monitors={"v": G.v})
            >>> round(float(res["v"][-1, 0].to_value(u.mV)), 4)  # (e^-0.1 + 1) e^-0.1
            1.7236
        """
        from ._equations import parse_statements

        spec = self._spec
        where = f"{self.name}: run_regularly"
        if when != "start":
            raise ValueError(
                f"{where}: when must be 'start' (before the state update); got {when!r}."
            )
        every = None
        if dt is not None:
            if not isinstance(dt, u.Quantity) or dt.unit.dim is not u.second.dim:
                raise u.UnitMismatchError(
                    f"{where}: dt must be a time (e.g. 1 * u.ms); got {dt!r}."
                )
            every = float(dt.to_value(u.second))
            if not every > 0:
                raise ValueError(f"{where}: dt must be positive; got {dt}.")
        ns = spec.ns
        spec.ns = ns.with_frame(sys._getframe(1))  # external names where it is written
        try:
            stmts = parse_statements(code, where)
            check_statements(stmts, spec._lookup, spec._writable, where, spec._lit)
            from ._codegen import Compiler

            compiler = Compiler(spec._resolve)
            compiled = [(st.var, st.op, compiler.function(st.expr)) for st in stmts]
        finally:
            spec.ns = ns
        targets = tuple(dict.fromkeys(st.var for st in stmts))
        for k in targets:
            if k in spec.float_params:
                self.writable(k, where)  # a parameter written by code becomes a State
        self._regular.append((compiled, targets, every, where))

    def _run_regularly(self, t_q, dt_q):
        spec = self._spec
        dt, t = float(dt_q.to_value(u.second)), t_q.to_value(u.second)
        for compiled, targets, every, where in self._regular:
            env = self.si_values()
            env.update(spec.specials(self, env, t, dt))
            shape = env["__shape__"]
            new = apply_statements(compiled, dict(env), shape, spec.cast)
            do = None
            if every is not None:
                k = int(round(every / dt))
                if k < 1 or abs(every - k * dt) > 1e-9 * every:
                    raise ValueError(
                        f"{where}: dt = {every * 1e3:g} ms is not a multiple of the "
                        f"simulation's dt ({dt * 1e3:g} ms); give a multiple."
                    )
                do = (env["t_in_timesteps"] % k) == 0
            for name in targets:
                value = new[name] if do is None else jnp.where(do, new[name], env[name])
                getattr(self, name).value = spec.from_si(name, value, shape)

    def _set_state(self, name, value):
        e = self._spec.eqs[name]
        state = self.__dict__.get(name)
        shape = jnp.shape(u.get_mantissa(state.value)) if state is not None else self.varshape
        new = _checked(value, e, shape, f"{self.name}.{name}")
        if name in self._spec.state_params:
            self._state_values[name] = value
        else:
            self._initializers[name] = value
        if state is not None:
            state.value = new

    # -- States -------------------------------------------------------------------------
    def initial_values(self, shape) -> dict:
        spec = self._spec
        y = {}
        for k in spec.eqs.diff_eq_names:
            e = spec.eqs[k]
            init = self._initializers.get(k)
            y[k] = _zero(e, shape) if init is None else _checked(init, e, shape, f"{self.name}.{k}")
        return y

    def init_state(self, batch_size=None, **kwargs):
        spec = self._spec
        shape = self.varshape if batch_size is None else (batch_size, *self.varshape)
        for k, v in self.initial_values(shape).items():
            object.__setattr__(self, k, Hidden(v))
        for k in spec.state_params:
            e = spec.eqs[k]
            v = _checked(self._state_values.get(k, _zero(e)), e, shape, f"{self.name}.{k}")
            object.__setattr__(self, k, Hidden(v))
        if self.spiking:
            self.spike = Hidden(jnp.zeros(shape, self._spike_dtype()))
            self.t_last_spike = Hidden(jnp.full(shape, -1e7) * u.ms)
            if spec.refractory is not None and spec.refractory[0] == "condition":
                self.not_refractory = Hidden(jnp.ones(shape, bool))

    @property
    def var_names(self):
        """Names of the integrated variables: those of the differential equations."""
        return self._spec.eqs.diff_eq_names

    def writable(self, name: str, who: str) -> State:
        """The State of variable ``name``, made a State if it is a parameter (a summed
        variable or a synaptic write targets it); ``who`` names the writer in errors."""
        spec = self._spec
        if name in spec.eqs.diff_eq_names or name in spec.state_params:
            return getattr(self, name)
        if name in spec.float_params:
            current = self.__dict__.get(name)
            if isinstance(current, State):
                raise TypeError(
                    f"{who}: {self.name}.{name} is an nd.Param (trained); it cannot also be "
                    "written by synapses."
                )
            spec.promote(name)
            type(self)._parameters.pop(name, None)
            try:
                delattr(type(self), name)
            except AttributeError:  # pragma: no cover
                pass
            self._state_values[name] = current
            self.__dict__.pop(name, None)
            shape = self.spike.value.shape if self.spiking else self.varshape
            e = spec.eqs[name]
            object.__setattr__(self, name, Hidden(_checked(current, e, shape, name)))
            return getattr(self, name)
        raise TypeError(
            f"{who}: {self.name} has no variable {name!r} to write; its variables are "
            f"{', '.join(spec.eqs.diff_eq_names + spec.eqs.parameter_names)}."
        )

    def add_input(self, key, fn):
        raise TypeError(
            f"{self.name}: a NeuronGroup takes its inputs through its equations. Use "
            "nd.dyn.Synapses(pre, G, conn, on_pre='g_post += w') (or a Projection with "
            "output=VoltageJump('v')) instead of a current output."
        )

    # -- SI views of the current state ---------------------------------------------------
    def si_values(self) -> dict:
        """Every variable and parameter of the group as SI arrays (the compiled functions'
        inputs)."""
        spec = self._spec
        env = {}
        for k in (*spec.eqs.diff_eq_names, *spec.state_params):
            env[k] = spec.to_si(k, getattr(self, k).value)
        for k in spec.float_params:
            env[k] = spec.to_si(k, getattr(self, k))
        for k in spec.linked:
            env[k] = self._linked_si(k)
        if self.spiking:
            env["__lastspike_ms"] = self.t_last_spike.value.mantissa
            env["lastspike"] = env["__lastspike_ms"] * 1e-3
            if spec.refractory is not None and spec.refractory[0] == "condition":
                env["not_refractory"] = self.not_refractory.value
        return env

    def subexpression(self, name: str):
        """The current value of a subexpression, in its declared unit."""
        spec = self._spec
        env = self.si_values()
        env.update(spec.specials(self, env, _clock_t_or_zero(), _clock_dt_or_none()))
        return spec.from_si(name, spec.compiled(name)(env), env["__shape__"])

    # -- the model protocol ---------------------------------------------------------------
    def vector_field(self, t, y, I=None):
        """The derivatives of the differential equations at time ``t`` for the variables
        ``y`` (``{name: Quantity}``), the group's parameters and subexpressions
        evaluated in SI; ``I`` is ignored (inputs enter through the equations).

        Returns:
            ``{name: dy/dt}`` for each variable in ``y``, in its unit per time.
        """
        spec = self._spec
        env = self.si_values()
        t_s = t.to_value(u.second) if isinstance(t, u.Quantity) else t
        env.update({k: spec.to_si(k, v) for k, v in y.items()})
        shape = jnp.broadcast_shapes(*(jnp.shape(env[k]) for k in y))
        env.update(spec.specials(self, env, t_s, None, shape=shape))
        env.pop("not_refractory", None)
        d = spec.field(env, t_s, {k: env[k] for k in y}, None)
        return {k: spec.deriv_from_si(k, d[k]) for k in y}

    def full_vector_field(self, t, y, I_ext=None):
        return self.vector_field(t, y)

    def threshold(self, y):
        """The ``threshold`` condition evaluated on the variables ``y`` (a boolean array),
        or ``None`` for a group without one."""
        spec = self._spec
        if spec.threshold is None:
            return None
        env = self.si_values()
        env.update({k: spec.to_si(k, v) for k, v in y.items()})
        env.update(spec.specials(self, env, _clock_t_or_zero(), None))
        return spec.threshold(env)

    def on_spike(self, y, spiked):
        """``y`` unchanged: the group's ``reset`` statements are run on its States by
        :meth:`reset`, after the step."""
        return y

    def refractory_mask(self):
        """Brian2's ``not not_refractory``: neurons whose ``(unless refractory)`` variables
        are held and protected from synaptic writes (it includes the neurons that
        spiked in this step, after the threshold)."""
        spec = self._spec
        if spec.refractory is None or not self.spiking:
            return None
        if spec.refractory[0] == "condition":
            return ~self.not_refractory.value
        t_q, dt_q = _clock.t(), _clock.dt()
        env = self.si_values()
        env.update(spec.specials(self, env, t_q.to_value(u.second), float(dt_q.to_value(u.second))))
        return ~spec.not_refractory(env, t_q, dt_q)

    # -- one step -------------------------------------------------------------------------
    def integrate_and_fire(self, I_ext=None):
        spec = self._spec
        dt_q, t_q = _clock.dt(), _clock.t()
        if self._regular:  # Brian2's "start" slot: before the state update
            self._run_regularly(t_q, dt_q)
        dt = float(dt_q.to_value(u.second))
        t = t_q.to_value(u.second)
        env = self.si_values()
        env.update(spec.specials(self, env, t, dt))
        shape = env["__shape__"]
        nr = None
        if self.spiking and spec.refractory is not None:
            nr = spec.not_refractory(env, t_q, dt_q)
            env["not_refractory"] = nr
        y = {k: env[k] for k in spec.eqs.diff_eq_names}
        xi = {k: random.normal(size=shape) / np.sqrt(dt) for k in spec.noise_names}

        def wrap(step, y):  # the heavy part computed once, whatever consumes it
            return materialize(step, t_q, y)

        y_new = spec.system.step(env, y, t, dt, nr, xi, wrap) if y else {}
        for k, v in y_new.items():
            getattr(self, k).value = spec.from_si(k, v, shape)
        if not self.spiking:
            return None
        env.update(y_new)
        spike = self._spikes(env)
        if nr is not None:
            hard = spike if spike.dtype == jnp.bool_ else spike > 0
            spike = spike & nr if spike.dtype == jnp.bool_ else spike * nr
            if spec.refractory[0] == "condition":
                self.not_refractory.value = nr & ~hard
        return self._store_spikes(spike, t_q)

    def _spikes(self, env):
        spec = self._spec
        if self.spike_fn is heaviside or spec.threshold_distance is None:
            out = spec.threshold(env)
            return jnp.broadcast_to(jnp.asarray(out, bool), env["__shape__"])
        dist = jnp.broadcast_to(spec.threshold_distance(env), env["__shape__"])
        return self.spike_fn(dist)

    def reset(self) -> None:
        spec = self._spec
        if not self.spiking or not spec.reset:
            return
        t_q = _clock.t()
        env = self.si_values()
        env.update(
            spec.specials(self, env, t_q.to_value(u.second), float(_clock.dt().to_value(u.second)))
        )
        shape = env["__shape__"]
        new = apply_statements(spec.reset, dict(env), shape, spec.cast)
        spike = self.spike.value
        for k in spec.reset_targets:
            old = env[k]
            if spike.dtype == jnp.bool_:
                value = jnp.where(spike, new[k], old)
            else:
                s = jax.lax.stop_gradient(spike) if self.detach_reset else spike
                value = old * (1.0 - s) + new[k] * s
            getattr(self, k).value = spec.from_si(k, value, shape)

    def __repr__(self) -> str:
        return f"NeuronGroup({self.num}, {', '.join(self._spec.eqs.names)})"


def _clock_t_or_zero():
    try:
        return _clock.t().to_value(u.second)
    except Exception:  # outside a run: t = 0
        return 0.0


def _clock_dt_or_none():
    try:
        return float(_clock.dt().to_value(u.second))
    except Exception:
        return None


def _zero(e, shape=()):
    if e.var_type == "boolean":
        return jnp.zeros(shape, bool)
    if e.var_type == "integer":
        return jnp.zeros(shape, jnp.int32)
    z = jnp.zeros(shape)
    return z if e.unit is u.dimensionless else u.Quantity(z, e.unit)


def _checked(value, e, shape, where):
    """``value`` as the variable's unit and dtype, broadcast to ``shape``."""
    if e.var_type in ("boolean", "integer"):
        if isinstance(value, u.Quantity):
            raise u.UnitMismatchError(f"{where} is {e.var_type}; got a quantity {value}.")
        dtype = bool if e.var_type == "boolean" else jnp.int32
        arr = jnp.asarray(value)
        return jnp.broadcast_to(arr.astype(dtype), shape)
    unit = None if e.unit is u.dimensionless else e.unit
    if unit is None and isinstance(value, u.Quantity):
        if value.unit.dim is not u.DIMENSIONLESS:
            raise u.UnitMismatchError(
                f"{where} is dimensionless; got a quantity in {value.unit.name}."
            )
        value = value.to_value(u.dimensionless)
    if unit is not None and not isinstance(value, u.Quantity) and not callable(value):
        if np.all(np.asarray(value) == 0):
            value = u.Quantity(jnp.asarray(value, float), unit)
        else:
            raise u.UnitMismatchError(
                f"{where} is in {unit.name}; got the plain number(s) {value!r}. Write e.g. "
                f"`{value} * u.{unit.name}`."
            )
    if isinstance(value, u.Quantity) and jnp.ndim(value.mantissa):
        vshape = jnp.shape(value.mantissa)
        try:
            jnp.broadcast_shapes(vshape, shape)
        except ValueError:
            raise ValueError(
                f"{where}: got shape {vshape}, which does not fit the group's shape {shape}."
            ) from None
    out = initialize(value, shape, unit, where)
    if unit is None:
        out = jnp.asarray(out, jnp.result_type(float))
    return out
