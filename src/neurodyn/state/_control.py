"""Loops, branches and rematerialisation over functions that use States."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from ._core import collect_states, read_values, run_pure, write_values

__all__ = ["scan", "for_loop", "while_loop", "cond", "switch", "checkpoint"]


def _slice_struct(xs):
    """Abstract value of one slice of ``xs`` along the leading axis."""
    return jax.tree_util.tree_map(
        lambda x: jax.ShapeDtypeStruct(jnp.shape(x)[1:], jnp.result_type(x)), xs
    )


def _fname(fn) -> str:
    return getattr(fn, "__name__", "function")


def scan(
    fn: Callable,
    init: Any,
    xs: Any = None,
    length: int | None = None,
    reverse: bool = False,
    unroll: int | bool = 1,
) -> tuple[Any, Any]:
    """:func:`jax.lax.scan` for a function that may read and write States.

    ``fn(carry, x) -> (carry, y)``. States written by ``fn`` are carried
    through the loop and hold their final values afterwards; States only read
    are constants of the loop.

    Example:
        >>> import jax.numpy as jnp
        >>> import neurodyn as nd
        >>> acc = nd.Memory(jnp.zeros(()))
        >>> def body(c, x):
        ...     acc.value = acc.value + x
        ...     return c + 1, acc.value
        >>> nd.scan(body, 0, jnp.arange(4.0))
        (Array(4, dtype=int32, weak_type=True), Array([0., 1., 3., 6.], dtype=float32))
    """
    name = f"scan({_fname(fn)})"
    x_struct = _slice_struct(xs) if xs is not None else None
    touched, written = collect_states(name, fn, lambda probe: jax.eval_shape(probe, init, x_struct))
    read_only = [s for s in touched if s not in written]
    states = written + read_only
    const_values = read_values(read_only)

    def body(carry, x):
        state_values, c = carry
        (c, y), new_values = run_pure(
            name, fn, states, list(state_values) + const_values, written, (c, x)
        )
        return (new_values, c), y

    (final_values, carry), ys = jax.lax.scan(
        body, (read_values(written), init), xs, length=length, reverse=reverse, unroll=unroll
    )
    write_values(written, final_values)
    return carry, ys


def for_loop(
    fn: Callable,
    *xs: Any,
    length: int | None = None,
    reverse: bool = False,
    unroll: int | bool = 1,
) -> Any:
    """Call ``fn`` on each slice of ``xs`` along the leading axis and stack the outputs.

    ``fn(*x_slices) -> y``; States written by ``fn`` carry over from one
    iteration to the next (a compiled ``for`` loop over time steps).

    Example:
        >>> import jax.numpy as jnp
        >>> import neurodyn as nd
        >>> v = nd.Hidden(jnp.zeros(()))
        >>> def step(i):
        ...     v.value = 0.5 * v.value + i
        ...     return v.value
        >>> nd.for_loop(step, jnp.arange(3.0))
        Array([0. , 1. , 2.5], dtype=float32)
    """
    if not xs and length is None:
        raise TypeError("for_loop needs arrays to loop over, or length=... for fn().")

    def body(carry, x):
        return carry, fn(*x)

    body.__name__ = _fname(fn)
    _, ys = scan(body, None, xs, length=length, reverse=reverse, unroll=unroll)
    return ys


def while_loop(cond_fn: Callable, body_fn: Callable, init: Any) -> Any:
    """:func:`jax.lax.while_loop` where ``body_fn`` may write States and
    ``cond_fn`` may read them (a write in ``cond_fn`` raises).

    Example:
        >>> import jax.numpy as jnp
        >>> import neurodyn as nd
        >>> total = nd.Memory(jnp.zeros(()))
        >>> def body(i):
        ...     total.value = total.value + i
        ...     return i + 1
        >>> nd.while_loop(lambda i: total.value < 10, body, 0)
        Array(5, dtype=int32, weak_type=True)
    """
    cname, bname = f"while_loop cond({_fname(cond_fn)})", f"while_loop body({_fname(body_fn)})"
    c_touched, _ = collect_states(cname, cond_fn, lambda p: jax.eval_shape(p, init), read_only=True)
    b_touched, written = collect_states(bname, body_fn, lambda p: jax.eval_shape(p, init))
    touched = list(dict.fromkeys(b_touched + c_touched))
    read_only = [s for s in touched if s not in written]
    states = written + read_only
    const_values = read_values(read_only)

    def cond(carry):
        values, c = carry
        out, _ = run_pure(
            cname, cond_fn, states, list(values) + const_values, [], (c,), read_only=True
        )
        return out

    def body(carry):
        values, c = carry
        c, new_values = run_pure(bname, body_fn, states, list(values) + const_values, written, (c,))
        return new_values, c

    final_values, out = jax.lax.while_loop(cond, body, (read_values(written), init))
    write_values(written, final_values)
    return out


def switch(index: Any, branches: Sequence[Callable], *operands: Any) -> Any:
    """:func:`jax.lax.switch` over branches that may read and write States.

    A State written in any branch is an output of every branch (unchanged
    in the others).
    """
    branches = list(branches)
    if not branches:
        raise ValueError("switch needs at least one branch.")
    names = [f"branch {i} ({_fname(b)})" for i, b in enumerate(branches)]
    touched: list = []
    written: list = []
    for name, branch in zip(names, branches):
        t, w = collect_states(name, branch, lambda p: jax.eval_shape(p, *operands))
        touched += t
        written += w
    touched = list(dict.fromkeys(touched))
    written = list(dict.fromkeys(written))
    read_only = [s for s in touched if s not in written]
    states = written + read_only
    const_values = read_values(read_only)

    def make(name, branch):
        def run(values, *ops):
            out, new_values = run_pure(
                name, branch, states, list(values) + const_values, written, ops
            )
            return out, new_values

        return run

    out, new_values = jax.lax.switch(
        index, [make(n, b) for n, b in zip(names, branches)], read_values(written), *operands
    )
    write_values(written, new_values)
    return out


def cond(pred: Any, true_fn: Callable, false_fn: Callable, *operands: Any) -> Any:
    """:func:`jax.lax.cond` over branches that may read and write States.

    Example:
        >>> import jax.numpy as jnp
        >>> import neurodyn as nd
        >>> n = nd.Memory(jnp.zeros((), jnp.int32))
        >>> def inc():
        ...     n.value = n.value + 1
        >>> nd.cond(jnp.array(True), inc, lambda: None); n.value
        Array(1, dtype=int32)
    """
    index = jnp.asarray(pred).astype(jnp.int32)
    return switch(index, [false_fn, true_fn], *operands)


def checkpoint(fn: Callable, **checkpoint_kwargs) -> Callable:
    """:func:`jax.checkpoint` (rematerialisation) for a function that uses States:
    its intermediate values are recomputed in the backward pass instead of stored."""
    name = f"checkpoint({_fname(fn)})"

    @functools.wraps(fn)
    def wrapper(*args):
        touched, written = collect_states(name, fn, lambda p: jax.eval_shape(p, *args))

        def pure(values, *dyn):
            return run_pure(name, fn, touched, values, written, dyn)

        out, new_values = jax.checkpoint(pure, **checkpoint_kwargs)(read_values(touched), *args)
        write_values(written, new_values)
        return out

    return wrapper
