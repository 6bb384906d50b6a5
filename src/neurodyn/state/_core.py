"""The machinery every State-aware transform is built on.

A transform runs the user's function twice when it first sees a call
signature: once abstractly to *collect* the States it touches
(:func:`collect_states`), and once inside the real JAX transform where those
States' values are inputs and the written ones outputs (:func:`run_pure`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ._errors import StateError
from ._state import State, StateTrace

__all__ = ["collect_states", "run_pure", "read_values", "write_values"]


def collect_states(
    name: str,
    fn: Callable,
    abstract_eval: Callable[[Callable], Any],
    view: Callable | None = None,
    read_only: bool = False,
) -> tuple[list[State], list[State]]:
    """Find the States ``fn`` touches.

    Args:
        name: transform name for messages.
        fn: the user's function.
        abstract_eval: evaluates its argument (a wrapped ``fn``) abstractly with
            the right arguments, e.g. ``lambda g: jax.eval_shape(g, *args)``.
        view: see :class:`StateTrace`.
        read_only: writes raise.

    Returns:
        (touched States, written States). Every State's value
        is restored afterwards, also when ``fn`` raises.
    """
    trace = StateTrace(name, view=view, read_only=read_only)

    def probe(*args, **kwargs):
        with trace:
            try:
                fn(*args, **kwargs)  # outputs may be non-arrays (aux data): not returned
            finally:
                trace.restore()

    abstract_eval(probe)
    return list(trace.touched), list(trace.writes)


def run_pure(
    name: str,
    fn: Callable,
    states: Sequence[State],
    values: Sequence[Any],
    written: Sequence[State],
    args: tuple,
    kwargs: dict | None = None,
    read_only: bool = False,
) -> tuple[Any, list[Any]]:
    """Call ``fn(*args, **kwargs)`` with ``states`` holding ``values``.

    Meant to be called while a JAX transform traces: ``values`` are its
    tracers. Returns ``(output, values of written)`` and restores every
    State's previous value, also when ``fn`` raises.
    """
    saved = [s._value for s in states]
    trace = StateTrace(name, allowed=set(states), read_only=read_only)
    try:
        for s, v in zip(states, values):
            s._value = v
        with trace:
            out = fn(*args, **(kwargs or {}))
        if len(trace.writes) > len(written) or any(s not in written for s in trace.writes):
            missed = [s._describe() for s in trace.writes if s not in written]
            raise StateError(
                f"{name}: the function wrote {', '.join(missed)} when it was compiled but not when "
                "its States were collected. Writes must not depend on Python-side conditions "
                "that change between traces."
            )
        new_values = [s._value for s in written]
    finally:
        for s, v in zip(states, saved):
            s._value = v
    return out, new_values


def read_values(states: Sequence[State]) -> list[Any]:
    """Current values (registering the reads with an enclosing transform)."""
    return [s._read() for s in states]


def write_values(states: Sequence[State], values: Sequence[Any]) -> None:
    """Write results of a compiled function back (registering the writes)."""
    for s, v in zip(states, values):
        s._write(v)
