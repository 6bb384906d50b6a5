"""The simulation clock: ``t`` and ``dt`` come from a visible scope, never from globals."""

from __future__ import annotations

import contextlib
import threading
from typing import Any

from neurodyn.units import Quantity, UnitMismatchError
from neurodyn.units import second as _second

__all__ = ["clock", "dt", "t", "current_clock", "Clock", "run_clock"]


class Clock:
    """The time step ``dt`` and the current time ``t`` (both time Quantities,
    ``t`` possibly traced)."""

    __slots__ = ("dt", "t", "i")

    def __init__(self, dt: Quantity, t: Any = None, i: Any = None):
        self.dt, self.t, self.i = dt, t, i

    def __repr__(self) -> str:
        return f"Clock(dt={self.dt}, t={self.t})"


class _Local(threading.local):
    def __init__(self):
        self.stack: list[Clock] = []


_LOCAL = _Local()


def _check_dt(dt) -> Quantity:
    if not isinstance(dt, Quantity) or dt.unit.dim is not _second.dim:
        got = f"a quantity in {dt.unit.name}" if isinstance(dt, Quantity) else repr(dt)
        raise UnitMismatchError(f"dt must be a time, e.g. 0.1 * u.ms; got {got}.")
    try:
        value = float(dt.mantissa)
    except (TypeError, ValueError):  # traced (or an array): nothing to check here
        return dt
    if not value > 0:
        raise ValueError(f"dt must be a positive time step, e.g. 0.1 * u.ms; got {dt}.")
    return dt


@contextlib.contextmanager
def clock(dt: Quantity, t: Any = None, i: Any = None):
    """Open a clock scope: inside it, models read :func:`dt` and :func:`t`.

    The runner opens one around every step; open one yourself to call a
    model's ``update`` by hand.

    Example:
        >>> import neurodyn as nd
        >>> import neurodyn.units as u
        >>> with nd.clock(dt=0.1 * u.ms):
        ...     print(nd.dyn.dt())
        0.1 ms
    """
    _LOCAL.stack.append(Clock(_check_dt(dt), t if t is not None else 0.0 * dt.unit, i))
    try:
        yield _LOCAL.stack[-1]
    finally:
        _LOCAL.stack.pop()


def current_clock() -> Clock:
    """The innermost open :class:`Clock` (the one :func:`clock` or ``nd.run`` opened).

    Raises:
        RuntimeError: outside a clock scope.
    """
    if not _LOCAL.stack:
        raise RuntimeError(
            "No clock: models read dt and t from a clock scope. Run them with nd.run(...), "
            "or open one yourself: `with nd.clock(dt=0.1 * u.ms): model.update(...)`."
        )
    return _LOCAL.stack[-1]


def dt() -> Quantity:
    """The time step of the innermost clock scope."""
    return current_clock().dt


def t() -> Quantity:
    """The current time of the innermost clock scope."""
    return current_clock().t


class _RunClock:
    """The number of steps ``nd.run`` has advanced one network (a Python int, known
    while tracing). It is kept beside the network, not as one of its States, so that the
    network's States (and checkpoints of them) are the model's alone."""

    __slots__ = ("count",)

    def __init__(self):
        self.count = 0


def run_clock(net) -> _RunClock:
    """The runner's step count of ``net`` (0 until the first run);
    ``Network.reset_state`` puts it back to 0."""
    rc = net.__dict__.get("_nd_run_clock")
    if rc is None:
        rc = net.__dict__["_nd_run_clock"] = _RunClock()
    return rc
