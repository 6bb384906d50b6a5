"""Parameter sweeps over a built network: one compiled, vectorised call for all values."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import jax
import jax.numpy as jnp
import numpy as np

import neurodyn.units as u
from neurodyn.state import RandomKey, State, vmap

from ._params import Parameter

__all__ = ["sweep"]


def _resolve(net, path: str):
    """``(owner, attribute, kind)`` for ``"pop.I_ext"``: kind "state" or "parameter"."""
    parts = path.split(".")
    owner = net
    for k, part in enumerate(parts[:-1]):
        if not hasattr(owner, part):
            where = ".".join(parts[:k]) or type(net).__name__
            raise KeyError(f"sweep: {where} has no attribute {part!r} (in {path!r}).")
        owner = getattr(owner, part)
    name = parts[-1]
    if isinstance(owner.__dict__.get(name), State):
        # a parameter given as nd.Param (LIF(tau=nd.Param(...))) or a State attribute
        return owner, name, "state"
    if isinstance(getattr(type(owner), name, None), Parameter):
        return owner, name, "parameter"
    current = owner.__dict__.get(name)
    if isinstance(current, (u.Quantity, jax.Array, np.ndarray, float)):
        return owner, name, "value"  # an option such as a model's I_ext
    choices = sorted(
        k for k in dir(type(owner)) if isinstance(getattr(type(owner), k, None), Parameter)
    )
    raise KeyError(
        f"sweep: {path!r} is neither a declared parameter nor a State of "
        f"{type(owner).__name__}. Its parameters: {', '.join(choices) or 'none'}. (Array "
        "shapes - population sizes, connectivity, delays - cannot be swept: build one network "
        "per value in a Python loop.)"
    )


def _check_value(path: str, current, values) -> None:
    """A swept option (not a declared parameter): the same dimension, a fitting shape."""
    if isinstance(current, u.Quantity):
        if not isinstance(values, u.Quantity) or values.unit.dim is not current.unit.dim:
            raise u.UnitMismatchError(
                f"sweep: {path!r} is in {current.unit.name}; got values "
                f"{getattr(values, 'unit', 'without a unit')}. Give e.g. "
                f"values * u.{current.unit.name}."
            )
    cur = np.shape(u.get_mantissa(current))
    lane = np.shape(u.get_mantissa(values))[1:]
    try:
        fits = np.broadcast_shapes(lane, cur) == cur or not cur
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(
            f"sweep: {path!r} has shape {cur}; the values give each lane shape {lane}. Give "
            f"one value per lane (shape [lanes]) or one per neuron (shape [lanes, *{cur}])."
        )


def _lanes(path: str, values) -> int:
    shape = np.shape(u.get_mantissa(values))
    if not shape:
        raise ValueError(
            f"sweep: the values of {path!r} must have a leading axis (one entry per lane); "
            f"got a scalar {values!r}."
        )
    return shape[0]


def sweep(net, values: Mapping[str, object], fn: Callable, *, axis_name: str | None = None):
    """Run ``fn()`` once per value of the network's parameters, vectorised: one compiled
    call for all lanes (``nd.vmap`` underneath).

    ``values`` maps parameter paths to arrays with one entry per lane along the first
    axis: a declared parameter of a population or input (``"pop.I_ext"``, ``"ext.rate"``),
    or a State (``"g_homo"``, ``"proj.weights"``, a parameter given as ``nd.Param``). All
    must have the same number of lanes (for a grid, pass the flattened mesh). Each lane
    starts from the network's current state; the network is left as it was (its
    parameters and States restored). ``fn`` runs the network (``nd.run``) and returns
    arrays, a dict of them or a :class:`RunResult`; the result has a leading lane axis.

    Example (an f-I curve of one LIF neuron, 64 currents in one call):
        >>> import jax.numpy as jnp
        >>> import neurodyn as nd
        >>> import neurodyn.units as u
        >>> class Cell(nd.Network):
        ...     def __init__(self):
        ...         self.pop = nd.dyn.LIF(1, tau_ref=2 * u.ms)
        >>> net = Cell()
        >>> def count():
        ...     mon = nd.dyn.Monitor(net.pop.spike, every=100 * u.ms)
        ...     return nd.run(net, 100 * u.ms, dt=0.1 * u.ms, monitors={"n": mon})["n"][0, 0]
        >>> counts = nd.dyn.sweep(net, {"pop.I_ext": jnp.linspace(0, 600, 64) * u.pA}, count)
        >>> counts.shape, int(counts[0]), int(counts[-1]) > 10
        ((64,), 0, True)

    A value whose per-lane shape does not fit the parameter (a population size, a
    connectivity) is refused naming the parameter; such sweeps need one network per value.
    Networks with delays must have run once (or ``net.before_run(dt)``) before a sweep.
    """
    if not values:
        raise ValueError("sweep: give at least one parameter to sweep, e.g. {'pop.I_ext': I}.")
    targets = [(path, *_resolve(net, path)) for path in values]
    lanes = {path: _lanes(path, v) for path, v in values.items()}
    if len(set(lanes.values())) != 1:
        raise ValueError(
            f"sweep: every parameter needs the same number of lanes; got {lanes}. For a grid, "
            "pass the flattened mesh (jnp.meshgrid(...) then .ravel())."
        )
    size = next(iter(lanes.values()))
    params = [(p, o, n) for p, o, n, kind in targets if kind != "state"]
    swept_states = {o.__dict__[n]: values[p] for p, o, n, kind in targets if kind == "state"}
    for path, owner, name, kind in targets:
        if kind == "value":
            _check_value(path, owner.__dict__[name], values[path])
        if kind == "state":
            current = np.shape(u.get_mantissa(owner.__dict__[name].value))
            lane = np.shape(u.get_mantissa(values[path]))[1:]
            if lane != current:
                raise ValueError(
                    f"sweep: {path!r} has shape {current}; the values give each lane shape "
                    f"{lane}. A sweep lane cannot change array shapes (connectivity, "
                    "population sizes): give one value per lane of shape "
                    f"{current}, or build one network per value in a Python loop."
                )

    states = list(net.states().values())
    saved = {s: s.value for s in states}
    saved_params = [(o, n, o.__dict__[n]) for _, o, n in params]
    lane_values = [values[p] for p, _, _ in params]

    def stacked(s):
        if s in swept_states:
            v = swept_states[s]
            unit = u.get_unit(s.value)
            return v.to(unit) if isinstance(v, u.Quantity) else v
        if isinstance(s, RandomKey):  # one independent stream per lane
            return jax.random.split(s.value, size)
        return jax.tree_util.tree_map(lambda x: jnp.broadcast_to(x, (size, *jnp.shape(x))), s.value)

    def lane(*vals):
        for (_, owner, name), v in zip(params, vals):
            current = owner.__dict__[name]
            if isinstance(current, u.Quantity) and not isinstance(
                getattr(type(owner), name, None), Parameter
            ):
                v = v.to(current.unit)
            setattr(owner, name, v)  # a declared parameter checks it (unit, shape, rule)
        return fn()

    try:
        for s in states:  # (a lane axis in front: written past the fixed-shape check)
            s._write(stacked(s))
        return vmap(lane, state_axes={s: 0 for s in states}, axis_size=size, axis_name=axis_name)(
            *lane_values
        )
    finally:
        for owner, name, raw in saved_params:
            owner.__dict__[name] = raw
        for s, v in saved.items():
            s._write(v)
