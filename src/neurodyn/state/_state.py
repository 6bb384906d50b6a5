"""State: a mutable box with a fixed structure, discovered by the transforms."""

from __future__ import annotations

import os
import sys
import threading
from typing import Any

import jax
import jax.extend.core as jex_core
import jax.numpy as jnp
import numpy as np

from ._errors import StateLeakError, StateMismatchError

__all__ = ["State", "Param", "Hidden", "Memory", "RandomKey", "StateTrace", "current_trace"]

_PKG_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_Tracer = jax.core.Tracer


def _user_location() -> str:
    """file:line of the first caller outside neurodyn."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_PKG_DIR):
        frame = frame.f_back
    if frame is None:  # pragma: no cover
        return "<unknown>"
    return f"{frame.f_code.co_filename}:{frame.f_lineno}"


def _trace_state():
    return jex_core.get_opaque_trace_state(convention="nnx")


# ---------------------------------------------------------------------------
# The stack of StateTraces: one per transform currently tracing a function.
class _Local(threading.local):
    def __init__(self):
        self.stack: list[StateTrace] = []


_LOCAL = _Local()


def current_trace() -> StateTrace | None:
    """The innermost active :class:`StateTrace`, or None outside transforms."""
    stack = _LOCAL.stack
    return stack[-1] if stack else None


class StateTrace:
    """Records the States a function touches while a transform traces it.

    The transforms use it as a context manager around the user's function.
    ``touched`` (read or written) and ``writes`` are ordered dicts used as
    ordered sets. A first touch is passed on to the enclosing trace first, so
    an outer transform sees every State an inner one uses.

    Args:
        name: the transform's name, for error messages.
        allowed: when given (second, compiling trace), only these States may be
            touched: the compiled function takes exactly them as inputs.
        view: ``view(state, value) -> value`` applied to a State's value at its
            first touch (vmap presents one lane of a batched State).
        read_only: writes raise (the condition of a while_loop).
    """

    __slots__ = (
        "name",
        "touched",
        "writes",
        "created",
        "jax_trace",
        "allowed",
        "view",
        "read_only",
        "originals",
        "parent",
    )

    def __init__(self, name: str, allowed=None, view=None, read_only: bool = False):
        self.name = name
        self.touched: dict[State, None] = {}
        self.writes: dict[State, None] = {}
        self.created: set[State] = set()
        self.jax_trace = None
        self.allowed = allowed
        self.view = view
        self.read_only = read_only
        self.originals: dict[State, Any] = {}
        self.parent: StateTrace | None = None

    def __enter__(self) -> StateTrace:
        self.jax_trace = _trace_state()
        stack = _LOCAL.stack
        self.parent = stack[-1] if stack else None
        stack.append(self)
        return self

    def __exit__(self, *exc) -> None:
        popped = _LOCAL.stack.pop()
        if popped is not self:  # pragma: no cover - internal invariant
            raise RuntimeError("StateTrace stack corrupted")
        for st in self.created:
            if _holds_tracer(st._value):
                st._leaked = self.name

    def restore(self) -> None:
        """Put back the values the touched States had before this trace."""
        for st, value in self.originals.items():
            st._value = value

    def touch(self, state: State) -> None:
        """Record that ``state`` is read or written: on its first touch, pass it to the
        enclosing trace, save its value (for :meth:`restore`) and apply ``view``.

        Raises:
            StateLeakError: for a State not in ``allowed``.
        """
        if state in self.touched or state in self.created:
            return
        if self.parent is not None:
            self.parent.touch(state)
        if self.allowed is not None and state not in self.allowed:
            raise StateLeakError(
                f"{state._describe()} was used by a function under {self.name} when it was "
                "compiled but not when its States were collected. The States a transformed "
                "function uses must not depend on Python-side conditions that change between "
                "traces."
            )
        self.originals[state] = state._value
        if self.view is not None:
            state._value = self.view(state, state._value)
        self.touched[state] = None

    def on_write(self, state: State, value) -> None:
        """Record a write of ``value`` to ``state`` (called by the State's setter).

        Raises:
            StateLeakError: in a read-only trace, or for a value traced by a plain JAX
                transform nested inside this one.
        """
        if self.read_only:
            raise StateLeakError(
                f"{state._describe()} is written inside {self.name}, where States may only be "
                "read (e.g. the condition of a while_loop). Move the update into the body."
            )
        if _holds_tracer(value) and _trace_state() != self.jax_trace:
            raise StateLeakError(
                f"{state._describe()} is written with a value traced by a plain JAX transform "
                f"(jax.jit, jax.vmap, jax.lax.scan, ...) nested inside {self.name}; the value "
                "would escape that transform. Use the neurodyn transforms (nd.jit, nd.vmap, "
                "nd.scan, nd.for_loop, nd.cond) for functions that write States, or return the "
                "value from the inner function and write it outside."
            )
        self.touch(state)
        if state not in self.created:
            self.writes[state] = None


def _holds_tracer(value) -> bool:
    return any(isinstance(leaf, _Tracer) for leaf in jax.tree_util.tree_leaves(value))


def _leaf_spec(leaf):
    return (tuple(np.shape(leaf)), jnp.result_type(leaf))


def _as_leaf(leaf):
    if isinstance(leaf, (jax.Array, np.ndarray)) or hasattr(leaf, "dtype"):
        return leaf if isinstance(leaf, jax.Array) else jnp.asarray(leaf)
    if isinstance(leaf, (bool, int, float, complex)):
        return jnp.asarray(leaf)
    raise TypeError(
        f"A State holds arrays (or Quantities, or pytrees of them); got a leaf of type "
        f"{type(leaf).__name__}: {leaf!r}."
    )


class State:
    """A mutable box holding a pytree of arrays or Quantities.

    Its structure, shapes, dtypes and units are fixed when it is created: a
    write that would change them raises :class:`StateMismatchError` naming
    the State. Read and write the content through ``.value``. The transforms
    (:func:`neurodyn.state.jit`, ``grad``, ``vmap``, ``for_loop``, ...) find the
    States a function reads and writes while tracing it and thread them through
    the compiled function, so stateful code compiles as it is written.

    Subclasses :class:`Param`, :class:`Hidden`, :class:`Memory` and
    :class:`RandomKey` are labels used to select States, not mechanisms.

    Args:
        value: the initial content.
        name: optional name used in error messages (modules give paths).

    Example:
        >>> import jax.numpy as jnp
        >>> import neurodyn as nd
        >>> count = nd.State(jnp.zeros(3))
        >>> @nd.jit
        ... def tick():
        ...     count.value = count.value + 1
        >>> tick(); tick()
        >>> count.value
        Array([2., 2., 2.], dtype=float32)
    """

    __slots__ = ("_value", "_treedef", "_specs", "name", "created_at", "_leaked", "__weakref__")

    def __init__(self, value: Any, name: str | None = None):
        leaves, treedef = jax.tree_util.tree_flatten(value)
        leaves = [_as_leaf(x) for x in leaves]
        self._value = jax.tree_util.tree_unflatten(treedef, leaves)
        self._treedef = treedef
        self._specs = tuple(_leaf_spec(x) for x in leaves)
        self.name = name
        self.created_at = _user_location()
        self._leaked = None
        trace = current_trace()
        if trace is not None:
            trace.created.add(self)

    # -- identity: States are compared by identity (they are boxes) ---------------
    __hash__ = object.__hash__

    def __eq__(self, other):
        return self is other

    def _describe(self) -> str:
        label = f"'{self.name}'" if self.name else f"created at {self.created_at}"
        return f"{type(self).__name__} {label}"

    def __repr__(self) -> str:
        shapes = ", ".join(f"{d}{list(s)}" for s, d in self._specs)
        name = f"{self.name!r}, " if self.name else ""
        return f"{type(self).__name__}({name}{shapes})"

    # -- the value --------------------------------------------------------------------
    def _check_leak(self):
        if self._leaked is not None:
            raise StateLeakError(
                f"{self._describe()} was created inside a function transformed by "
                f"{self._leaked} and still holds a value traced there, which is meaningless "
                "outside it. Create States outside transformed functions (in __init__ or "
                "init_state), or return the value from the function instead of storing it."
            )

    @property
    def value(self) -> Any:
        """The content. Reading or writing it inside a transform registers the State."""
        if self._leaked is not None:
            self._check_leak()
        stack = _LOCAL.stack
        if stack:
            stack[-1].touch(self)
        return self._value

    @value.setter
    def value(self, new) -> None:
        if self._leaked is not None:
            self._check_leak()
        new = self._validate(new)
        stack = _LOCAL.stack
        if stack:
            stack[-1].on_write(self, new)
        elif _holds_tracer(new):
            raise StateLeakError(
                f"{self._describe()} is written with a traced value outside any neurodyn "
                "transform: the write happens inside a plain JAX transform (jax.jit, "
                "jax.vmap, jax.lax.scan, ...), so the value would escape it. Use nd.jit, "
                "nd.vmap, nd.scan or nd.for_loop for functions that write States."
            )
        self._value = new

    def _validate(self, new):
        """``new`` checked against the current value (structure, shapes, dtypes).

        Comparing with the current value rather than the creation spec keeps
        the check right inside :func:`vmap`, where a batched State presents
        one lane."""
        leaves, treedef = jax.tree_util.tree_flatten(new)
        if treedef != self._treedef:
            raise StateMismatchError(self._structure_message(new, treedef))
        current = jax.tree_util.tree_leaves(self._value)
        checked = [self._check_leaf(x, ref, i) for i, (x, ref) in enumerate(zip(leaves, current))]
        return jax.tree_util.tree_unflatten(treedef, checked)

    def _check_leaf(self, leaf, ref, index):
        shape, dtype = tuple(np.shape(ref)), ref.dtype
        if not hasattr(leaf, "dtype"):
            if isinstance(leaf, (bool, int, float, complex)):
                leaf = jnp.asarray(leaf, dtype=dtype)
            else:
                raise TypeError(
                    f"{self._describe()} holds arrays; got a value of type {type(leaf).__name__}."
                )
        got_shape = tuple(np.shape(leaf))
        if got_shape != shape:
            where = "" if len(self._specs) == 1 else f" (leaf {index})"
            raise StateMismatchError(
                f"{self._describe()}{where} has shape {shape} but was assigned a value of shape "
                f"{got_shape}. A State's shape is fixed when it is created; create a new State "
                "(or call init_state(batch_size=...)) to change it."
            )
        if leaf.dtype != dtype:
            if getattr(leaf, "weak_type", False) and jnp.can_cast(leaf.dtype, dtype, "same_kind"):
                leaf = leaf.astype(dtype)
            else:
                raise StateMismatchError(
                    f"{self._describe()} has dtype {dtype} but was assigned a value of dtype "
                    f"{leaf.dtype}. Cast it first, e.g. `value.astype({str(dtype)!r})`."
                )
        return leaf

    def _structure_message(self, new, treedef) -> str:
        from neurodyn.units import Quantity

        old = self._value
        if isinstance(old, Quantity) and isinstance(new, Quantity):
            return (
                f"{self._describe()} holds a quantity in {old.unit.name} but was assigned one in "
                f"{new.unit.name}. Convert it first: `value.to(u.{old.unit.name})`."
            )
        if isinstance(old, Quantity) != isinstance(new, Quantity):
            has = f"a quantity in {old.unit.name}" if isinstance(old, Quantity) else "no unit"
            got = f"a quantity in {new.unit.name}" if isinstance(new, Quantity) else "no unit"
            return f"{self._describe()} holds values with {has} but was assigned values with {got}."
        return (
            f"{self._describe()} has structure {self._treedef} but was assigned a value with "
            f"structure {treedef}."
        )

    # -- internal fast paths used by the transforms -------------------------------------
    def _read(self):
        """Read for a transform: registers with the enclosing trace, no checks."""
        stack = _LOCAL.stack
        if stack:
            stack[-1].touch(self)
        return self._value

    def _write(self, new) -> None:
        """Write a value produced by a compiled function (already validated at trace time)."""
        stack = _LOCAL.stack
        if stack:
            stack[-1].on_write(self, new)
        self._value = new

    # -- shape info without reading (no registration) ------------------------------------
    @property
    def shape(self):
        """Shape of a single-array State (no read is registered)."""
        leaves = jax.tree_util.tree_leaves(self._value)
        return np.shape(leaves[0]) if len(leaves) == 1 else [np.shape(x) for x in leaves]


class Param(State):
    """A trainable parameter (e.g. weights, time constants being fitted)."""

    __slots__ = ()


class Hidden(State):
    """A dynamical variable of a model (membrane potential, conductance, ...);
    batched by default under :func:`neurodyn.state.vmap`."""

    __slots__ = ()


class Memory(State):
    """Long-lived, non-trainable state: traces, delay buffers, spike counters."""

    __slots__ = ()


class RandomKey(State):
    """A JAX PRNG key; split per lane under :func:`neurodyn.state.vmap`."""

    __slots__ = ()
