"""Analysis of :mod:`neurodyn.dyn` models: a population and the names of the parameters
to vary become the plain ``f(x, p) -> dx/dt`` of the analysis functions.

:func:`model_field` returns a :class:`ModelField`, a callable ``f(x, p)`` on plain
arrays that evaluates the population's :meth:`~neurodyn.dyn.Model.full_vector_field`
(the vector field the simulator integrates: external input ``I_ext``, registered
synaptic inputs, adaptation current) for one neuron:

* ``x`` is the flat vector of the model's variables in the order of ``model.var_names``,
  each in its declared unit (``field.var_units``), as plain numbers (mantissas);
* ``p`` is the parameter's value in ``field.param_units`` (the parameter's declared unit
  unless ``unit=`` says otherwise; ``model.input_unit`` for ``"I_ext"``), a float, or an
  array of the values when several parameters are named;
* ``f(x, p)`` is ``dx/dt`` per ms, a plain array of the shape of ``x``.

The population is analysed through its neuron 0: element 0 of its States and of its
per-neuron parameters. The user's model is never modified: parameters are substituted in a
shallow copy (whose ``setup()`` is run again, so that derived attributes such as the
membrane of a conductance model follow). Everything is traceable (``jax.jit``,
``jax.jacfwd``).

The analysis entry points (:func:`~neurodyn.analysis.fixed_points`,
:class:`~neurodyn.analysis.PhasePlane`, :func:`~neurodyn.analysis.continue_equilibria`,
...) accept a model in place of ``f`` with ``param=`` (and ``param_unit=``) and do this
conversion themselves.

:class:`NetworkField` is the vector field of *every* neuron of a population, or of all
populations of a :class:`~neurodyn.dyn.Network` (used by
:func:`~neurodyn.analysis.slow_points`): ``x`` is the concatenation, population by
population and variable by variable, of the flattened variables of all neurons.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import jax.numpy as jnp
import numpy as np

import neurodyn.units as u
from neurodyn.dyn import Model, Network
from neurodyn.state import StateError
from neurodyn.state._core import run_pure

__all__ = ["ModelField", "NetworkField", "model_field"]

_MS = u.ms


def _unit_name(unit) -> str:
    return "1" if unit is None else unit.name


def _is_dimensionless(unit) -> bool:
    return unit is None or unit.dim is u.dimensionless.dim


def _first(value):
    """Element 0 of a (possibly per-neuron or batched) value; scalars unchanged."""
    if isinstance(value, u.Quantity):
        m = value.mantissa
        return u.Quantity(jnp.reshape(m, (-1,))[0], value.unit) if jnp.ndim(m) else value
    return jnp.reshape(value, (-1,))[0] if jnp.ndim(value) else value


def has_quantity(*values) -> bool:
    """Whether any of ``values`` (or their elements, one level of tuples/lists deep, two
    for bounds) is a Quantity."""
    for v in values:
        if isinstance(v, u.Quantity):
            return True
        if isinstance(v, (tuple, list)) and any(has_quantity(w) for w in v):
            return True
    return False


class ModelField:
    """``f(x, p) -> dx/dt`` (plain arrays, per ms) of one neuron of a ``dyn`` model; made
    by :func:`model_field` (see there and the module docstring for the conventions).

    Attributes:
        model: the population (never modified).
        params: the names of the varied parameters (a tuple; empty for none).
        param_units: their units (``None`` for dimensionless ones).
        var_names: the variables, in the order of ``x``.
        var_units: their units (``None`` for dimensionless ones).
        scalar: whether ``p`` is one number (one parameter named as a string).
    """

    def __init__(self, model: Model, param=None, unit=None, t=None):
        if not isinstance(model, Model):
            raise TypeError(
                f"model_field expected a neurodyn.dyn.Model population (e.g. "
                f"nd.dyn.HH(1)); got {type(model).__name__}."
            )
        self.model = model
        owner = model.name
        if param is None:
            names: tuple[str, ...] = ()
        elif isinstance(param, str):
            names = (param,)
        else:
            names = tuple(param)
        self.scalar = isinstance(param, str)
        allowed = (*model._parameters, "I_ext")
        for name in names:
            if not isinstance(name, str) or name not in allowed:
                raise ValueError(
                    f"{owner} has no parameter {name!r} to vary. Its parameters are "
                    f"{', '.join(allowed)} (I_ext: the external input, in "
                    f"{_unit_name(self._declared_unit('I_ext'))})."
                )
        if len(set(names)) != len(names):
            raise ValueError(f"param names a parameter twice: {names}.")
        units = unit if isinstance(unit, (tuple, list)) else (unit,) * len(names)
        if len(units) != len(names):
            raise ValueError(f"unit= has {len(units)} entries for {len(names)} parameters.")
        self.params = names
        self.param_units = tuple(
            self._working_unit(n, w) for n, w in zip(names, units, strict=True)
        )
        for name in names:
            value = model.I_ext if name == "I_ext" else getattr(model, name)
            if callable(value) and not isinstance(value, u.Quantity):
                raise TypeError(
                    f"{owner}.{name} is a function, not a number; analysis varies numeric "
                    "parameters only."
                )
        self.var_names = tuple(model.var_names)
        self.var_units = tuple(self._var_unit(k) for k in self.var_names)
        self.t = 0.0 * _MS if t is None else t
        if not isinstance(self.t, u.Quantity) or self.t.unit.dim is not _MS.dim:
            raise u.UnitMismatchError(f"t must be a time (e.g. 0 * u.ms); got {t!r}.")

    # -- units ---------------------------------------------------------------------------
    def _declared_unit(self, name):
        model = self.model
        if name == "I_ext":
            unit = model.input_unit
            return None if unit is None else u.as_unit(unit)
        return model._parameters[name].unit

    def _working_unit(self, name, unit):
        declared = self._declared_unit(name)
        if unit is None:
            return declared
        unit = u.as_unit(unit)
        if _is_dimensionless(declared) != _is_dimensionless(unit) or (
            declared is not None and unit.dim is not declared.dim
        ):
            raise u.UnitMismatchError(
                f"unit for {self.model.name}.{name} must have the dimension of "
                f"{_unit_name(declared)}; got {unit.name}."
            )
        return unit

    def _var_unit(self, var):
        if var == "w" and var not in self.model.variables:  # the adaptation current
            return u.pA
        unit = self.model.variables[var][0]
        if unit is None:
            return None
        unit = u.as_unit(unit)
        return None if unit.dim is u.dimensionless.dim and unit.name == "1" else unit

    def _to_number(self, value, unit, what: str) -> float:
        if isinstance(value, u.Quantity):
            if _is_dimensionless(unit):
                if value.unit.dim is not u.dimensionless.dim:
                    raise u.UnitMismatchError(
                        f"{what} is dimensionless; got a quantity in {value.unit.name}."
                    )
                return value.to_value(u.dimensionless)
            if value.unit.dim is not unit.dim:
                raise u.UnitMismatchError(
                    f"{what} must have the dimension of {unit.name} ({unit.dim}); got "
                    f"{value.unit.name} ({value.unit.dim})."
                )
            return value.to_value(unit)
        return value

    # -- the vector field ----------------------------------------------------------------
    def with_params(self, p) -> Model:
        """A shallow copy of the model with the parameters set to ``p`` (numbers in
        ``param_units``; traced values allowed)."""
        m = copy.copy(self.model)
        if not self.params:
            return m
        values = (p,) if self.scalar else tuple(p[i] for i in range(len(self.params)))
        rebuild = False
        for name, unit, value in zip(self.params, self.param_units, values, strict=True):
            declared = self._declared_unit(name)
            if declared is None:
                q = (
                    value
                    if unit is None
                    else value * u.Quantity(1.0, unit).to_value(u.dimensionless)
                )
            else:
                q = u.Quantity(value, unit).to(declared)
            # written past the descriptors: their validation refuses some traced values
            m.__dict__[name] = q
            rebuild |= name != "I_ext"
        if rebuild and type(m).setup is not Model.setup:
            try:
                m.setup()
            except (TypeError, ValueError) as err:
                if not any(_traced(v) for v in values):
                    raise
                raise TypeError(
                    f"{self.model.name}: the parameter(s) {', '.join(self.params)} cannot be "
                    f"varied by the analysis: the model's setup() needs concrete numbers "
                    f"({err}). Build one model per value instead."
                ) from err
        return m

    def state_dict(self, x) -> dict:
        """``x`` (plain, declared units) as the dict of variables the model takes."""
        x = jnp.asarray(x)
        return {
            k: (x[i] if unit is None else u.Quantity(x[i], unit))
            for i, (k, unit) in enumerate(zip(self.var_names, self.var_units, strict=True))
        }

    def __call__(self, x, p=None):
        m = self.with_params(p)
        dy = m.full_vector_field(self.t, self.state_dict(x))
        out = []
        for k, unit in zip(self.var_names, self.var_units, strict=True):
            d = dy[k]
            rate = (u.dimensionless if unit is None else unit) / _MS
            if isinstance(d, u.Quantity):
                d = d.to_value(rate)
            out.append(jnp.reshape(jnp.asarray(d), (-1,))[0])
        return jnp.stack(out)

    # -- conversions of user input -------------------------------------------------------
    def state(self, x0=None) -> np.ndarray:
        """The state vector (plain, declared units) from ``x0``: ``None`` (the model's
        current State values, neuron 0), a dict ``{variable: value}`` (Quantities or
        numbers in the declared units; missing variables from the current States) or a
        plain sequence in ``var_names`` order."""
        if x0 is not None and not isinstance(x0, dict):
            if isinstance(x0, u.Quantity):
                raise TypeError(
                    f"x0 is one Quantity; give a dict {{variable: value}} over "
                    f"{', '.join(self.var_names)} or plain numbers in "
                    f"({', '.join(map(_unit_name, self.var_units))})."
                )
            x = np.atleast_1d(np.asarray(x0, dtype=float))
            if x.shape != (len(self.var_names),):
                raise ValueError(
                    f"x0 has shape {x.shape}; the model has {len(self.var_names)} variables "
                    f"({', '.join(self.var_names)})."
                )
            return x
        given = dict(x0 or {})
        unknown = sorted(set(given) - set(self.var_names))
        if unknown:
            raise ValueError(
                f"x0 names {unknown}, which are not variables of {self.model.name} "
                f"({', '.join(self.var_names)})."
            )
        out = []
        for k, unit in zip(self.var_names, self.var_units, strict=True):
            if k in given:
                v = given[k]
            else:
                state = getattr(self.model, k, None)
                if state is None or not hasattr(state, "value"):
                    raise ValueError(f"{self.model.name} has no State {k}; give x0[{k!r}].")
                v = _first(state.value)
            if unit is None:
                v = u.get_mantissa(v) if isinstance(v, u.Quantity) else v
            else:
                v = self._to_number(v, unit, f"x0[{k!r}]")
            out.append(float(np.asarray(v)))
        return np.asarray(out)

    def param_value(self, value=None, what: str = "p0"):
        """``value`` (Quantities converted, numbers taken as in ``param_units``) as a
        float, or an array for several parameters; ``None``: the model's current values
        (neuron 0)."""
        if not self.params:
            raise TypeError(f"{what}: no parameter was named (param=...).")
        if value is None:
            value = [
                _first(self.model.I_ext if n == "I_ext" else getattr(self.model, n))
                for n in self.params
            ]
        elif self.scalar:
            value = [value]
        elif isinstance(value, u.Quantity) and np.ndim(value.mantissa):
            value = list(value)
        if len(value) != len(self.params):
            raise ValueError(f"{what} needs {len(self.params)} values ({self.params}).")
        out = []
        for name, unit, v in zip(self.params, self.param_units, value, strict=True):
            label = f"{what} ({self.model.name}.{name})"
            out.append(float(np.asarray(self._to_number(v, unit, label))))
        return out[0] if self.scalar else np.asarray(out)

    def param_range(self, p_range, what: str = "p_range", index: int = 0):
        """A ``(low, high)`` range of parameter ``index`` (a pair of numbers or
        Quantities, or a Quantity array of two) in ``param_units[index]``."""
        if p_range is None:
            raise TypeError(f"{what} is required: (low, high) of {self.params[index]}.")
        if isinstance(p_range, u.Quantity):
            p_range = list(p_range)
        try:
            lo, hi = p_range
        except (TypeError, ValueError) as err:
            raise ValueError(f"{what} must be a pair (low, high); got {p_range!r}.") from err
        unit = self.param_units[index]
        label = f"{what} ({self.model.name}.{self.params[index]})"
        return tuple(float(np.asarray(self._to_number(v, unit, label))) for v in (lo, hi))

    def quantity(self, value, index: int = 0):
        """``value`` (numbers in ``param_units[index]``) as a Quantity (a float array
        for a dimensionless parameter)."""
        unit = self.param_units[index]
        value = np.asarray(value, dtype=float)
        return value if unit is None else u.Quantity(value, unit)

    def labels(self) -> tuple[str, ...]:
        """Axis labels of the variables, e.g. ``("V (mV)", "w")``."""
        return tuple(
            k if unit is None else f"{k} ({unit.name})"
            for k, unit in zip(self.var_names, self.var_units, strict=True)
        )

    def __repr__(self) -> str:
        ps = ", ".join(
            f"{n} [{_unit_name(w)}]" for n, w in zip(self.params, self.param_units, strict=True)
        )
        xs = ", ".join(
            f"{n} [{_unit_name(w)}]" for n, w in zip(self.var_names, self.var_units, strict=True)
        )
        return f"ModelField({self.model.name}: x = ({xs}); p = ({ps}); dx/dt per ms)"


def _traced(value) -> bool:
    import jax

    return isinstance(value, jax.core.Tracer)


def model_field(
    model: Model, param: str | Sequence[str] | None = None, *, unit: Any = None, t=None
) -> ModelField:
    """The vector field of one neuron of ``model`` as a plain ``f(x, p) -> dx/dt``.

    Args:
        model: a :class:`neurodyn.dyn.Model` population (``nd.dyn.HH(1)``, ...); neuron 0
            is analysed (element 0 of its States and per-neuron parameters).
        param: the parameter to vary: the name of a declared parameter
            (``model._parameters``) or ``"I_ext"`` (then ``p`` is a float); a sequence of
            names (then ``p`` is an array of their values); ``None`` for ``f(x)``.
        unit: the unit ``p`` is expressed in (default: the parameter's declared unit;
            ``model.input_unit`` for ``I_ext``), e.g. ``u.nA`` so that a continuation's
            arclength sees currents of order 1; a tuple for several parameters.
        t: the time the field is evaluated at (default 0 ms; models are autonomous).

    Returns:
        A :class:`ModelField` ``f``: ``f(x, p)`` with ``x`` the variables
        ``f.var_names`` in ``f.var_units`` and ``dx/dt`` per ms; ``f.state()`` the current
        state vector, ``f.param_value()`` the current parameter value.

    Example:
        >>> import neurodyn as nd
        >>> import neurodyn.units as u
        >>> from neurodyn import analysis
        >>> f = analysis.model_field(nd.dyn.MorrisLecar(1), "I_ext", unit=u.nA)
        >>> f
        ModelField(MorrisLecar: x = (V [mV], w [1]); p = (I_ext [nA]); dx/dt per ms)
        >>> f(f.state(), 0.0).shape
        (2,)
    """
    return ModelField(model, param, unit=unit, t=t)


def as_field(f, param, param_unit, where: str) -> ModelField | None:
    """The :class:`ModelField` of ``f`` when it is a model (``param`` may be None), else
    None (and ``param``/``param_unit`` must not be given)."""
    if isinstance(f, Model):
        return ModelField(f, param, unit=param_unit)
    if isinstance(f, Network):
        raise TypeError(
            f"{where} analyses one neuron of a neurodyn.dyn population (a Model); got the "
            f"Network {type(f).__name__}. Pass one of its populations, or use "
            "slow_points(network, ...) for the fixed points of the whole network."
        )
    if param is not None or param_unit is not None:
        raise TypeError(
            f"{where}: param= and param_unit= are for a neurodyn.dyn model in place of f; "
            f"f is a {type(f).__name__}."
        )
    return None


def require_param(field: ModelField, where: str, n: int = 1) -> None:
    if len(field.params) != n or (n == 1 and not field.scalar):
        need = "param='I_ext' (or another parameter name)" if n == 1 else "param=(p1, p2)"
        given = (
            "no param"
            if not field.params
            else f"param={field.params[0]!r}"
            if field.scalar
            else f"param={field.params}"
        )
        raise TypeError(
            f"{where} with the model {field.model.name} needs {need}: the parameter(s) to "
            f"vary; got {given}. {field.model.name}'s parameters: "
            f"{', '.join((*field.model._parameters, 'I_ext'))}."
        )


# -- every neuron of a population, or a network of populations -----------------------------


def _populations(target) -> list[tuple[str, Model]]:
    """``[(path, population)]``: the Model itself, or the Model populations of a Network
    (at any depth, in attribute order)."""
    if isinstance(target, Model):
        return [("", target)]
    pops = [(p, m) for p, m in target.modules().items() if p and isinstance(m, Model)]
    if not pops:
        raise ValueError(
            f"{type(target).__name__} has no neurodyn.dyn.Model population; the analysis "
            "needs populations with variables (e.g. nd.dyn.ThresholdLinear, WilsonCowan)."
        )
    pulsed = [
        getattr(m, "name", p) or p
        for p, m in target.modules().items()
        if p and hasattr(m, "deliver")
    ]
    if pulsed:
        raise TypeError(
            f"{type(target).__name__}: {', '.join(pulsed)} act(s) through spikes (a jump per "
            "spike, no vector field), so the network has no smooth vector field whose slow "
            "points could be found. Couple the populations continuously (pop.add_input(name, "
            "fn) reading other populations' variables, GapJunction), or analyse one "
            "population alone (its synaptic inputs are then held at their current values)."
        )
    return pops


class NetworkField:
    """``f(x, p) -> dx/dt`` (plain arrays, per ms) of all neurons of a population or of
    all the populations of a network; see :func:`~neurodyn.analysis.slow_points`.

    ``x`` concatenates, for each population (``paths``, in attribute order) and each of
    its variables (``var_names``), the values of all its neurons, flattened, in the
    variable's declared unit. The inputs each population registered (``add_input``:
    GapJunction, functions reading other populations' States) are evaluated with the
    States holding ``x``; other States (inputs such as OUProcess) keep their current
    values. Populations must not be batched.

    Attributes:
        labels: one label per block of ``x``: the variable (``"r"``) for a population,
            ``"path.variable"`` (``"E.r"``) for a network.
        units: the blocks' units (``None`` for dimensionless ones).
        shapes: the blocks' shapes (the populations' ``varshape``).
        size: the length of ``x``.
        params: the varied parameter (a 1-tuple) or ``()``.
    """

    def __init__(self, target, param=None, unit=None, t=None):
        if not isinstance(target, (Model, Network)):
            raise TypeError(
                f"expected a neurodyn.dyn.Model population or a Network; got "
                f"{type(target).__name__}."
            )
        self.target = target
        self.name = getattr(target, "name", None) or type(target).__name__
        self.pops = _populations(target)
        network = isinstance(target, Network)
        self.blocks = []  # (population index, variable, unit, shape, State)
        labels, units, shapes = [], [], []
        for i, (path, pop) in enumerate(self.pops):
            var_units = ModelField(pop).var_units
            for var, unit in zip(pop.var_names, var_units, strict=True):
                state = getattr(pop, var)
                if tuple(state.shape) != tuple(pop.varshape):
                    raise ValueError(
                        f"{pop.name}.{var} has shape {tuple(state.shape)}, the population "
                        f"{tuple(pop.varshape)}: the analysis takes unbatched States; call "
                        "reset_state() (without batch_size) first."
                    )
                self.blocks.append((i, var, unit, tuple(pop.varshape), state))
                labels.append(f"{path}.{var}" if network else var)
                units.append(unit)
                shapes.append(tuple(pop.varshape))
        self.labels, self.units, self.shapes = tuple(labels), tuple(units), tuple(shapes)
        self.sizes = tuple(int(np.prod(sh)) for sh in shapes)
        self.size = int(sum(self.sizes))
        self.t = 0.0 * _MS if t is None else t
        self._varied = None  # (population index, ModelField) of the varied parameter
        if param is not None:
            self._varied = self._param_field(param, unit)
        self.params = () if self._varied is None else self._varied[1].params

    def _param_field(self, param, unit):
        if not isinstance(param, str):
            raise TypeError(
                f"param= names one parameter (a string) for {self.name}; got {param!r}."
            )
        if isinstance(self.target, Model):
            return 0, ModelField(self.target, param, unit=unit, t=self.t)
        path, _, name = param.rpartition(".")
        paths = [p for p, _ in self.pops]
        if path not in paths:
            raise ValueError(
                f"{self.name}: param={param!r} must be 'population.parameter' with the "
                f"population one of {', '.join(paths)} (e.g. '{paths[0]}.I_ext')."
            )
        i = paths.index(path)
        return i, ModelField(self.pops[i][1], name, unit=unit, t=self.t)

    # -- conversions -----------------------------------------------------------------------
    def param_value(self, value=None, what: str = "args[0]"):
        """The varied parameter's ``value`` as numbers, converted as by the population's
        own field (Quantities converted to its unit); ``None``: the population's current
        value. ``what`` names the argument in error messages.

        Raises:
            TypeError: when no parameter was named (``param=...``).
        """
        if self._varied is None:
            raise TypeError(f"{what}: no parameter was named (param=...).")
        return self._varied[1].param_value(value, what)

    def _block_numbers(self, value, k: int, what: str):
        """``value`` (Quantity or numbers in the block's unit) as numbers."""
        _, var, unit, shape, _ = self.blocks[k]
        label = f"{what}[{self.labels[k]!r}] ({self.name})"
        if isinstance(value, u.Quantity):
            if unit is None:
                if value.unit.dim is not u.dimensionless.dim:
                    raise u.UnitMismatchError(
                        f"{label} is dimensionless; got a quantity in {value.unit.name}."
                    )
                return np.asarray(value.to_value(u.dimensionless), float)
            if value.unit.dim is not unit.dim:
                raise u.UnitMismatchError(
                    f"{label} must have the dimension of {unit.name}; got {value.unit.name}."
                )
            return np.asarray(value.to_value(unit), float)
        return np.asarray(value, float)

    def starts(self, starts=None) -> np.ndarray:
        """Starting points ``[k, size]`` from ``None`` (the current state), a dict
        ``{label: values}`` (Quantities or numbers in the declared unit, of the
        population's shape, with an optional leading axis of starts, or one value for
        all neurons; for a one-neuron population a 1-D array is one value per start;
        missing labels: the current state) or plain numbers ``[k, size]``."""
        current = [
            np.asarray(self._block_numbers(st.value, k, "state"), float)
            for k, (_, _, _, _, st) in enumerate(self.blocks)
        ]
        if starts is None:
            return np.concatenate([c.ravel() for c in current])[None, :]
        if not isinstance(starts, dict):
            if isinstance(starts, u.Quantity):
                raise TypeError(
                    f"starts is one Quantity; give a dict {{label: values}} over "
                    f"{', '.join(self.labels)} or plain numbers [k, {self.size}] in "
                    f"({', '.join(map(_unit_name, self.units))})."
                )
            x = np.atleast_2d(np.asarray(starts, float))
            if x.ndim != 2 or x.shape[1] != self.size:
                blocks = ", ".join(f"{lb} {sh}" for lb, sh in zip(self.labels, self.shapes))
                raise ValueError(
                    f"starts has shape {np.shape(starts)}; {self.name} has {self.size} state "
                    f"entries ({blocks}): give [k, {self.size}] numbers or a dict "
                    "{label: values}."
                )
            return x
        unknown = [k for k in starts if k not in self.labels]
        if unknown:
            raise ValueError(
                f"starts names {unknown}, which are not variables of {self.name}; its "
                f"variables are {', '.join(self.labels)}."
            )
        rows, n = [], 1
        for k, label in enumerate(self.labels):
            shape = self.shapes[k]
            if label in starts:
                v = self._block_numbers(starts[label], k, "starts")
                if v.shape in ((), shape):
                    v = np.broadcast_to(v, shape)[None]
                elif v.ndim == 1 and shape == (1,):  # one neuron: one value per start
                    v = v[:, None]
                elif v.shape[1:] != shape:
                    raise ValueError(
                        f"starts[{label!r}] has shape {v.shape}; {self.name} needs {shape} "
                        f"or (k, *{shape}) for k starts, or one value."
                    )
            else:
                v = current[k][None]
            rows.append(v.reshape(v.shape[0], -1))
            n = max(n, v.shape[0])
        if any(r.shape[0] not in (1, n) for r in rows):
            raise ValueError(
                f"starts: the numbers of starts differ between variables "
                f"({', '.join(f'{lb}: {r.shape[0]}' for lb, r in zip(self.labels, rows))})."
            )
        return np.concatenate([np.broadcast_to(r, (n, r.shape[1])) for r in rows], axis=1)

    def values(self, x) -> dict:
        """``{label: values}`` of one state vector (Quantities in the declared units,
        float arrays for dimensionless variables), each of the population's shape."""
        out, off = {}, 0
        for label, unit, shape, size in zip(self.labels, self.units, self.shapes, self.sizes):
            v = np.asarray(x[off : off + size], float).reshape(shape)
            out[label] = v if unit is None else u.Quantity(v, unit)
            off += size
        return out

    # -- the vector field --------------------------------------------------------------------
    def __call__(self, x, p=None):
        x = jnp.asarray(x)
        pops = [pop for _, pop in self.pops]
        if self._varied is not None:
            i, field = self._varied
            pops[i] = field.with_params(p)
        ys = [dict() for _ in pops]
        substituted, off = {}, 0
        for (i, var, unit, shape, state), size in zip(self.blocks, self.sizes, strict=True):
            v = jnp.reshape(x[off : off + size], shape)
            v = v if unit is None else u.Quantity(v, unit)
            ys[i][var] = v
            substituted[state] = v
            off += size

        def evaluate():
            out = []
            for pop, y in zip(pops, ys, strict=True):
                dy = pop.full_vector_field(self.t, y)
                for var in pop.var_names:
                    d = dy[var]
                    if isinstance(d, u.Quantity):
                        unit = y[var].unit if isinstance(y[var], u.Quantity) else u.dimensionless
                        d = d.to_value(unit / _MS)
                    out.append(jnp.reshape(jnp.broadcast_to(d, pop.varshape), (-1,)))
            return jnp.concatenate(out)

        states = list(self.target.states().values())
        for st in substituted:
            if st not in states:
                states.append(st)
        values = [substituted.get(st, st.value) for st in states]
        try:
            out, _ = run_pure(self.name, evaluate, states, values, [], (), read_only=True)
        except StateError as err:
            raise StateError(
                f"{self.name}: evaluating the vector field read or wrote a State outside the "
                f"analysed {type(self.target).__name__} ({err}). Analyse the network that "
                "holds every population the inputs read."
            ) from err
        return out

    def __repr__(self) -> str:
        xs = ", ".join(
            f"{lb} {sh} [{_unit_name(w)}]"
            for lb, sh, w in zip(self.labels, self.shapes, self.units, strict=True)
        )
        return f"NetworkField({self.name}: x = ({xs}); dx/dt per ms)"
