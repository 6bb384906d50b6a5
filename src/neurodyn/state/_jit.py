"""``jit``: compile a function that reads and writes States."""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ._core import collect_states, read_values, run_pure, write_values

__all__ = ["jit", "JittedFunction"]


class _HoistedJit:
    """``jax.jit(fn)`` whose large closed-over arrays are arguments of the compiled
    program instead of constants embedded in it.

    JAX embeds the arrays a jitted function closes over in the program; XLA then copies
    them, may constant-fold through them, and keeps them alive with the executable. For
    a network's connectivity (hundreds of MB at 1M neurons) that dominates compile time
    and memory. Here the function is traced once to a jaxpr, its constants of at least
    ``min_bytes`` become a leading argument, and the jaxpr is evaluated under
    ``jax.jit``; compiled programs are cached per argument signature.
    """

    def __init__(
        self, fn: Callable, donate_argnums: tuple = (), min_bytes: int = 1 << 16, **jit_kwargs
    ):
        self.fn = fn
        self.donate_argnums = tuple(donate_argnums)
        self.min_bytes = min_bytes
        self.jit_kwargs = jit_kwargs
        self._cache: dict[Any, tuple] = {}

    @staticmethod
    def _signature(leaves) -> tuple:
        return tuple(
            (jnp.shape(x), jnp.result_type(x), bool(getattr(x, "weak_type", False))) for x in leaves
        )

    def _entry(self, args: tuple, kwargs: dict):
        leaves, in_tree = jax.tree_util.tree_flatten((args, kwargs))
        key = (in_tree, self._signature(leaves))
        entry = self._cache.get(key)
        if entry is not None:
            return entry, leaves
        out_tree = []

        def flat_fn(*flat):
            a, k = jax.tree_util.tree_unflatten(in_tree, flat)
            out_leaves, tree = jax.tree_util.tree_flatten(self.fn(*a, **k))
            out_tree.append(tree)
            return out_leaves

        closed = jax.make_jaxpr(flat_fn)(*leaves)
        consts = list(closed.consts)
        big = [
            i
            for i, c in enumerate(consts)
            if hasattr(c, "dtype") and np.size(c) * np.dtype(c.dtype).itemsize >= self.min_bytes
        ]
        jaxpr = closed.jaxpr

        def run(big_values, *flat):
            values = list(consts)
            for i, v in zip(big, big_values):
                values[i] = v
            return jax.core.eval_jaxpr(jaxpr, values, *flat)

        # donated positional arguments -> the positions of their leaves (+1: big_values)
        starts = np.cumsum([0] + [len(jax.tree_util.tree_leaves(a)) for a in args])
        donate = tuple(1 + p for i in self.donate_argnums for p in range(starts[i], starts[i + 1]))
        compiled = jax.jit(run, donate_argnums=donate, **self.jit_kwargs)
        entry = (compiled, [consts[i] for i in big], out_tree[0])
        self._cache[key] = entry
        return entry, leaves

    def __call__(self, *args, **kwargs):
        (compiled, big_values, out_tree), leaves = self._entry(args, kwargs)
        return jax.tree_util.tree_unflatten(out_tree, compiled(big_values, *leaves))

    def lower(self, *args, **kwargs):
        """``jax.jit(...).lower`` of the program (for inspection)."""
        (compiled, big_values, _), leaves = self._entry(args, kwargs)
        return compiled.lower(big_values, *leaves)


def _as_tuple(x) -> tuple:
    if x is None:
        return ()
    if isinstance(x, int | str):
        return (x,)
    return tuple(x)


class JittedFunction:
    """A function compiled with :func:`jit`. Call it like the original.

    Compiled programs are cached per call signature (pytree structure of the
    arguments, including units, and the values of static arguments); shapes
    and dtypes are handled by ``jax.jit``'s own cache.
    """

    def __init__(
        self,
        fn: Callable,
        static_argnums: int | Sequence[int] = (),
        static_argnames: str | Sequence[str] = (),
        donate_argnums: int | Sequence[int] = (),
        donate_states: bool = False,
        hoist_constants: bool = False,
        **jit_kwargs,
    ):
        if not callable(fn):
            raise TypeError(f"jit expects a function, got {type(fn).__name__}.")
        self.fn = fn
        self.static_argnums = frozenset(_as_tuple(static_argnums))
        self.static_argnames = frozenset(_as_tuple(static_argnames))
        self.donate_argnums = _as_tuple(donate_argnums)
        overlap = self.static_argnums & set(self.donate_argnums)
        if overlap:
            raise ValueError(f"jit: arguments {sorted(overlap)} cannot be both static and donated.")
        self.donate_states = donate_states
        self.hoist_constants = hoist_constants
        self.jit_kwargs = jit_kwargs
        self._cache: dict[Any, tuple] = {}
        self._bound: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        functools.update_wrapper(self, fn)

    def __get__(self, instance, owner=None):
        """As a method decorator: the instance (a Module) is a static argument."""
        if instance is None:
            return self
        bound = self._bound.get(instance)
        if bound is None:
            bound = JittedFunction(
                functools.partial(self.fn, instance),
                static_argnums=tuple(i - 1 for i in self.static_argnums if i > 0),
                static_argnames=tuple(self.static_argnames),
                donate_argnums=tuple(i - 1 for i in self.donate_argnums if i > 0),
                donate_states=self.donate_states,
                hoist_constants=self.hoist_constants,
                **self.jit_kwargs,
            )
            self._bound[instance] = bound
        return bound

    def clear_cache(self) -> None:
        """Forget compiled programs (they are rebuilt on the next call)."""
        self._cache.clear()

    @property
    def cache_size(self) -> int:
        """Number of compiled call signatures."""
        return len(self._cache)

    def _split(self, args: tuple, kwargs: dict):
        static_pos = tuple((i, args[i]) for i in sorted(self.static_argnums) if i < len(args))
        static_kw = tuple(sorted((k, v) for k, v in kwargs.items() if k in self.static_argnames))
        dyn_args = tuple(a for i, a in enumerate(args) if i not in self.static_argnums)
        dyn_kwargs = {k: v for k, v in kwargs.items() if k not in self.static_argnames}
        return (static_pos, static_kw), dyn_args, dyn_kwargs

    def __call__(self, *args, **kwargs):
        static, dyn_args, dyn_kwargs = self._split(args, kwargs)
        treedef = jax.tree_util.tree_structure((dyn_args, dyn_kwargs))
        try:
            key = (treedef, static, len(args))
            entry = self._cache.get(key)
        except TypeError:
            raise TypeError(
                f"{getattr(self.fn, '__name__', 'function')}: static arguments must be hashable; "
                f"got {static}."
            ) from None
        if entry is None:
            entry = self._build(static, len(args), dyn_args, dyn_kwargs)
            self._cache[key] = entry
        written, read_only, compiled = entry
        out, new_values = compiled(
            read_values(written), read_values(read_only), *dyn_args, **dyn_kwargs
        )
        write_values(written, new_values)
        return out

    def lower(self, *args, **kwargs):
        """``jax.jit(...).lower`` of the compiled program for these arguments, with the
        States' current values (for inspection: ``.lower().compile().memory_analysis()``,
        ``.as_text()``)."""
        static, dyn_args, dyn_kwargs = self._split(args, kwargs)
        key = (jax.tree_util.tree_structure((dyn_args, dyn_kwargs)), static, len(args))
        entry = self._cache.get(key)
        if entry is None:
            entry = self._cache[key] = self._build(static, len(args), dyn_args, dyn_kwargs)
        written, read_only, compiled = entry
        return compiled.lower(read_values(written), read_values(read_only), *dyn_args, **dyn_kwargs)

    def _build(self, static, nargs: int, dyn_args: tuple, dyn_kwargs: dict):
        (static_pos, static_kw) = static
        static_pos_d = dict(static_pos)
        fn = self.fn

        def call(*dyn, **dkw):
            it = iter(dyn)
            full = [static_pos_d[i] if i in static_pos_d else next(it) for i in range(nargs)]
            return fn(*full, **dkw, **dict(static_kw))

        name = f"jit({getattr(fn, '__name__', 'function')})"
        touched, written = collect_states(
            name, call, lambda probe: jax.eval_shape(probe, *dyn_args, **dyn_kwargs)
        )
        read_only = [s for s in touched if s not in written]
        states = written + read_only
        n_written = len(written)

        def pure(written_values, read_values_, *dyn, **dkw):
            values = list(written_values) + list(read_values_)
            return run_pure(name, call, states, values, written, dyn, dkw)

        # donated positional arguments, renumbered after removing static ones
        dyn_index = [i for i in range(nargs) if i not in self.static_argnums]
        donate = tuple(2 + dyn_index.index(i) for i in self.donate_argnums if i in dyn_index)
        if self.donate_states and n_written:
            donate = (0, *donate)
        if self.hoist_constants:
            compiled = _HoistedJit(pure, donate_argnums=donate, **self.jit_kwargs)
        else:
            compiled = jax.jit(pure, donate_argnums=donate, **self.jit_kwargs)
        return written, read_only, compiled


def jit(
    fn: Callable | None = None,
    *,
    static_argnums: int | Sequence[int] = (),
    static_argnames: str | Sequence[str] = (),
    donate_argnums: int | Sequence[int] = (),
    donate_states: bool = False,
    hoist_constants: bool = False,
    **jit_kwargs,
):
    """Compile ``fn`` with :func:`jax.jit`, threading the States it uses.

    The States ``fn`` reads become inputs of the compiled program and those it
    writes become outputs, written back after each call; ``fn`` is traced once
    per call signature (and once more, abstractly, to collect its States).

    Args:
        fn: the function; may read and write any States.
        static_argnums / static_argnames: arguments that are Python values
            (hashable) rather than arrays; a new value recompiles.
        donate_argnums: array arguments whose buffers may be reused.
        donate_states: let the compiled program reuse the buffers of the
            States it writes (saves memory for large states).
        hoist_constants: pass the arrays of 64 kB or more that ``fn`` closes
            over (not States: e.g. the connectivity of a network) to the compiled
            program as arguments instead of embedding them in it as constants
            (costs one extra trace). For large arrays this cuts compile time and
            peak memory, as XLA copies and may constant-fold embedded arrays.
        **jit_kwargs: passed on to :func:`jax.jit`.

    Example:
        >>> import jax.numpy as jnp
        >>> import neurodyn as nd
        >>> w = nd.Param(jnp.ones(3))
        >>> total = nd.Memory(jnp.zeros(()))
        >>> @nd.jit
        ... def f(x):
        ...     y = w.value @ x
        ...     total.value = total.value + y
        ...     return y
        >>> f(jnp.arange(3.0))
        Array(3., dtype=float32)
        >>> total.value
        Array(3., dtype=float32)
    """
    if fn is None:
        return functools.partial(
            jit,
            static_argnums=static_argnums,
            static_argnames=static_argnames,
            donate_argnums=donate_argnums,
            donate_states=donate_states,
            hoist_constants=hoist_constants,
            **jit_kwargs,
        )
    return JittedFunction(
        fn,
        static_argnums,
        static_argnames,
        donate_argnums,
        donate_states,
        hoist_constants,
        **jit_kwargs,
    )
