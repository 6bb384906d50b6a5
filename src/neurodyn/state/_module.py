"""Module: an attribute-based object graph of States and sub-modules."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

from ._errors import StateError
from ._state import State, current_trace

__all__ = ["Module", "GraphDef", "split", "merge", "update", "iter_states"]

Filter = type | tuple | Callable[[str, State], bool] | None


def _matches(flt: Filter, path: str, state: State) -> bool:
    if flt is None:
        return True
    if isinstance(flt, type) or (isinstance(flt, tuple) and all(isinstance(t, type) for t in flt)):
        return isinstance(state, flt)
    if callable(flt):
        return bool(flt(path, state))
    raise TypeError(
        f"A State filter is a State class (nd.Param), a tuple of classes or a function "
        f"(path, state) -> bool; got {flt!r}."
    )


def _children(obj) -> Iterator[tuple[str, Any]]:
    if isinstance(obj, Module):
        yield from vars(obj).items()
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield str(k), v
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            yield str(i), v


def iter_states(root) -> Iterator[tuple[str, State]]:
    """(path, State) for every State reachable from ``root`` through Module
    attributes, lists, tuples and dicts. Each State and each Module is visited
    once (shared objects and cycles are handled), in attribute order."""
    seen: set[int] = set()

    def walk(obj, prefix: str):
        for key, value in _children(obj):
            path = f"{prefix}.{key}" if prefix else key
            if isinstance(value, State):
                if id(value) not in seen:
                    seen.add(id(value))
                    yield path, value
            elif isinstance(value, (Module, dict, list, tuple)):
                if id(value) in seen:
                    continue
                seen.add(id(value))
                yield from walk(value, path)

    seen.add(id(root))
    yield from walk(root, "")


class Module:
    """Base class of everything that holds States.

    A Module is an ordinary Python object: assign States, sub-modules, and
    lists/dicts of them as attributes. ``states()`` finds them by path;
    :func:`split` and :func:`merge` convert to and from a pure pytree so that
    any JAX library can work on the model.

    Dynamical modules override :meth:`init_state` (create the States that
    depend on a batch size) and :meth:`reset_state` (put them back to their
    initial values); the base versions call the children's.

    Example:
        >>> import jax.numpy as jnp
        >>> import neurodyn as nd
        >>> class Layer(nd.Module):
        ...     def __init__(self):
        ...         self.w = nd.Param(jnp.ones((2, 2)))
        ...         self.h = nd.Hidden(jnp.zeros(2))
        >>> class Net(nd.Module):
        ...     def __init__(self):
        ...         self.layers = [Layer(), Layer()]
        >>> sorted(Net().states(nd.Param))
        ['layers.0.w', 'layers.1.w']
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, State) and value.name is None:
            value.name = name
        object.__setattr__(self, name, value)
        if not (name.startswith("_") or isinstance(value, State)) and current_trace() is None:
            # a parameter or structure changed: programs compiled with the old value
            # (which hold it as a constant) are stale; see ``version``. (A State is an
            # input of those programs, not a constant: assigning one changes nothing.)
            self.__dict__["_nd_version"] = self.__dict__.get("_nd_version", 0) + 1

    @property
    def version(self) -> int:
        """How many times a public attribute other than a State was assigned to this
        module outside a transform; compiled-program caches key on it (with the
        sub-modules')."""
        return self.__dict__.get("_nd_version", 0)

    def states(self, filter: Filter = None) -> dict[str, State]:
        """``{path: State}`` for the States matching ``filter`` (a State class,
        a tuple of classes, or ``f(path, state) -> bool``)."""
        return {p: s for p, s in iter_states(self) if _matches(filter, p, s)}

    def modules(self) -> dict[str, Module]:
        """``{path: Module}`` for every sub-module (the root is ``""``)."""
        out = {"": self}
        seen = {id(self)}

        def walk(obj, prefix):
            for key, value in _children(obj):
                path = f"{prefix}.{key}" if prefix else key
                if isinstance(value, (Module, dict, list, tuple)) and id(value) not in seen:
                    seen.add(id(value))
                    if isinstance(value, Module):
                        out[path] = value
                    walk(value, path)

        walk(self, "")
        return out

    #: names of attributes that define the model without being States (connectivity,
    #: delays); ``checkpoint_constants`` includes them
    checkpoint_attrs: tuple[str, ...] = ()

    def checkpoint_meta(self) -> dict[str, Any]:
        """JSON-able bookkeeping of the root module that :func:`~neurodyn.state.save`
        stores beside the States and :func:`~neurodyn.state.load` hands back to
        :meth:`restore_checkpoint_meta` (e.g. a network's step count). Empty by default."""
        return {}

    def restore_checkpoint_meta(self, meta: dict[str, Any]) -> None:
        """Take back what :meth:`checkpoint_meta` gave when the file was saved."""

    def checkpoint_constants(self) -> dict[str, Any]:
        """``{name: value}`` of what defines this module without being a State: the
        values of class-level descriptors marked ``checkpointed = True`` (declared model
        parameters) and the attributes named in ``checkpoint_attrs``.
        :func:`~neurodyn.state.save` stores them; :func:`~neurodyn.state.load` refuses a
        module whose constants differ."""
        out: dict[str, Any] = {}
        own = vars(self)
        for klass in reversed(type(self).__mro__):
            for name, attr in vars(klass).items():
                if getattr(attr, "checkpointed", False) and name in own:
                    out[name] = own[name]
        for name in self.checkpoint_attrs:
            if getattr(self, name, None) is not None:
                out[name] = getattr(self, name)
        return {
            k: v
            for k, v in out.items()
            if not isinstance(v, State) and (not callable(v) or hasattr(v, "tree_flatten"))
        }

    def init_state(self, batch_size: int | None = None, **kwargs) -> None:
        """Create batch-size dependent States (default: call the children's)."""
        for path, module in self.modules().items():
            if path and type(module).init_state is not Module.init_state:
                module.init_state(batch_size, **kwargs)

    def reset_state(self, batch_size: int | None = None, **kwargs) -> None:
        """Reset dynamical States to initial values (default: call the children's)."""
        for path, module in self.modules().items():
            if path and type(module).reset_state is not Module.reset_state:
                module.reset_state(batch_size, **kwargs)

    def __repr__(self) -> str:
        n = len(self.states())
        return f"{type(self).__name__}({n} states)"


class _Slot:
    """Placeholder for a State inside a GraphDef template."""

    __slots__ = ("path", "cls", "name")

    def __init__(self, path: str, cls: type, name: str | None):
        self.path, self.cls, self.name = path, cls, name

    def __deepcopy__(self, memo):  # pragma: no cover - replaced through memo
        return self


class GraphDef:
    """The static part of a module: its object graph with States left out.

    Produced by :func:`split`; :func:`merge` rebuilds a module from it and a
    dict of values. Hashable (by identity), so it can be a static argument of
    ``jax.jit``.
    """

    __slots__ = ("template", "slots", "paths")

    def __init__(self, template, slots: dict[str, _Slot]):
        self.template = template
        self.slots = slots
        self.paths = tuple(slots)

    def __repr__(self) -> str:
        return f"GraphDef({type(self.template).__name__}, {len(self.paths)} states)"


def split(module: Module, *filters: Filter):
    """Split a module into its static structure and its values.

    Returns ``(graphdef, values)`` where ``values`` is a plain dict
    ``{path: value}`` (a pytree of arrays/Quantities any JAX code can use).
    With filters, returns ``(graphdef, values_1, ..., values_n, rest)``: each
    State goes to the first filter it matches.

    Example:
        >>> import jax.numpy as jnp
        >>> import neurodyn as nd
        >>> class M(nd.Module):
        ...     def __init__(self):
        ...         self.w = nd.Param(jnp.ones(2))
        ...         self.v = nd.Hidden(jnp.zeros(2))
        >>> graphdef, params, rest = nd.split(M(), nd.Param)
        >>> sorted(params), sorted(rest)
        (['w'], ['v'])
        >>> m2 = nd.merge(graphdef, params, rest)
        >>> m2.w.value
        Array([1., 1.], dtype=float32)
    """
    states = module.states()
    memo: dict[int, Any] = {}
    slots: dict[str, _Slot] = {}
    for path, st in states.items():
        slot = _Slot(path, type(st), st.name)
        slots[path] = slot
        memo[id(st)] = slot
    template = copy.deepcopy(module, memo)
    groups: list[dict[str, Any]] = [{} for _ in range(len(filters) + 1)]
    for path, st in states.items():
        for i, flt in enumerate(filters):
            if _matches(flt, path, st):
                groups[i][path] = st._value
                break
        else:
            groups[-1][path] = st._value
    if not filters:
        return GraphDef(template, slots), groups[0]
    return (GraphDef(template, slots), *groups)


def merge(graphdef: GraphDef, *values: dict[str, Any]) -> Module:
    """Build a new module from :func:`split`'s output (the inverse of split)."""
    if not isinstance(graphdef, GraphDef):
        raise TypeError(f"merge expects a GraphDef from nd.split, got {type(graphdef).__name__}.")
    combined: dict[str, Any] = {}
    for group in values:
        dup = set(combined) & set(group)
        if dup:
            raise StateError(f"merge: the paths {sorted(dup)} are given more than once.")
        combined.update(group)
    missing = [p for p in graphdef.paths if p not in combined]
    extra = [p for p in combined if p not in graphdef.slots]
    if missing or extra:
        raise StateError(
            f"merge: the values do not match the module: missing {missing}, unexpected {extra}."
        )
    memo: dict[int, Any] = {}
    for path, slot in graphdef.slots.items():
        memo[id(slot)] = slot.cls(combined[path], name=slot.name)
    return copy.deepcopy(graphdef.template, memo)


def update(module: Module, *values: dict[str, Any]) -> None:
    """Write ``{path: value}`` dicts into the module's States (all checked first,
    so a bad value leaves the module untouched)."""
    states = module.states()
    checked = []
    for group in values:
        for path, value in group.items():
            if path not in states:
                raise StateError(f"update: the module has no State at {path!r}.")
            checked.append((states[path], states[path]._validate(value)))
    for st, value in checked:
        st.value = value
