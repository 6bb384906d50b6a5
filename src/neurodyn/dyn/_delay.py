"""Transmission delays: a homogeneous ring buffer, and per-synapse delays through the
event operators (one connectivity per distinct delay: O(spikes x fan-out) per step)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

import neurodyn.units as u
from neurodyn.state import Memory, Module

from ._base import reset_in_place

__all__ = ["Delay", "SynapseDelays", "delay_steps"]

# a delay may miss the dt grid by this fraction of a step (float32 rounding of e.g.
# 4.3 ms / 0.1 ms is 2e-6 steps); further off it is refused
_GRID_TOL = 1e-3


def _delay_quantity(delay, owner: str):
    if not isinstance(delay, u.Quantity) or delay.unit.dim is not u.ms.dim:
        got = f"a quantity in {delay.unit.name}" if isinstance(delay, u.Quantity) else repr(delay)
        raise u.UnitMismatchError(f"{owner}: delay must be a time, e.g. 1.5 * u.ms; got {got}.")
    delay = delay.to(u.ms)
    arr = np.asarray(delay.mantissa, float)
    if np.any(np.isnan(arr)):
        raise ValueError(f"{owner}: delay is NaN. Give a time >= 0.")
    if np.any(arr < 0):
        i = int(np.argmax(arr < 0))
        where = "" if arr.ndim == 0 else f" (synapse {i})"
        raise ValueError(
            f"{owner}: a delay cannot be negative; got {arr.flat[i]:g} ms{where}. Spikes "
            "cannot arrive before they are emitted: give delays >= 0."
        )
    return delay


def delay_steps(delay, dt, owner: str) -> np.ndarray:
    """Delays (a time Quantity, any shape) as whole numbers of steps of ``dt``, rounded
    to the nearest step; raises for delays off the dt grid or shorter than one step."""
    ms = np.asarray(u.Quantity(delay).to(u.ms).mantissa, float)
    dt_ms = float(dt.to_value(u.ms))
    steps = ms / dt_ms
    n = np.round(steps).astype(np.int64)
    sub = (ms > 0) & (steps < 1 - _GRID_TOL)
    if np.any(sub):
        i = int(np.argmax(sub))
        where = "" if ms.ndim == 0 else f" (synapse {i})"
        raise ValueError(
            f"{owner}: delay {ms.flat[i]:g} ms{where} is shorter than one step (dt = {dt_ms:g} "
            "ms). Delays are whole numbers of steps: use 0 ms or at least dt, or a smaller dt."
        )
    off = np.abs(n - steps) > _GRID_TOL
    if np.any(off):
        i = int(np.argmax(off))
        where = "" if ms.ndim == 0 else f" (synapse {i})"
        raise ValueError(
            f"{owner}: delay {ms.flat[i]:g} ms{where} is {steps.flat[i]:.4g} steps of dt = "
            f"{dt_ms:g} ms, not a whole number of steps. Choose delays on the dt grid "
            "(multiples of dt) or a dt that divides them."
        )
    return n


def _trace_now():
    from neurodyn.state._state import current_trace

    return current_trace()


def _outside_transforms(owner: str, built_in) -> None:
    """Delay buffers are sized for a dt when a run first uses it; that makes new States,
    which cannot happen inside nd.grad / nd.jit for a network built outside them (a
    network built inside the transformed function, ``built_in`` its trace, may)."""
    trace = _trace_now()
    while trace is not None and trace is not built_in:
        trace = trace.parent
    if _trace_now() is not None and trace is None:
        raise RuntimeError(
            f"{owner}: the delay buffer is sized for dt on the first run, which cannot "
            "happen inside a transformed function (nd.grad, nd.jit, ...). Run the network "
            "once outside it first, or call net.before_run(dt)."
        )


class Delay(Module):
    """A homogeneous delay line: ``delay(x)`` stores this step's ``x`` and returns the
    value stored ``delay / dt`` steps ago (zeros before that). A ring buffer of
    ``delay / dt`` slots, sized when a run fixes dt (``before_run``), with the same
    ``init_state(batch_size)`` / ``reset_state`` as every stateful piece.

    Example:
        >>> import jax.numpy as jnp
        >>> import neurodyn as nd
        >>> import neurodyn.units as u
        >>> d = nd.dyn.Delay(0.2 * u.ms)
        >>> d.bind((2,), jnp.float32)
        >>> d.before_run(0.1 * u.ms)
        >>> [d(jnp.array([k, k], jnp.float32))[0].item() for k in (1.0, 2.0, 3.0)]
        [0.0, 0.0, 1.0]
    """

    checkpoint_attrs = ("delay",)

    def __init__(self, delay, name: str = "Delay"):
        self.name = name
        self.delay = _delay_quantity(delay, name)
        if jnp.ndim(self.delay.mantissa) != 0:
            raise ValueError(
                f"{name}: a Delay holds one delay; got shape {jnp.shape(self.delay.mantissa)} "
                "(per-synapse delays: SynapseDelays)."
            )
        self.steps: int | None = None
        self._batch = None
        self._built_in = _trace_now()

    def bind(self, shape, dtype) -> None:
        """The shape (without batch axis) and dtype of what is delayed."""
        self._shape, self._dtype = tuple(shape), dtype

    def before_run(self, dt) -> None:
        """Set the delay in steps of ``dt`` (a time Quantity); a new number of steps
        makes a new buffer (so it must happen outside a transform)."""
        n = int(delay_steps(self.delay, dt, self.name))
        if n != self.steps:
            _outside_transforms(self.name, self._built_in)
            self.steps = n
            self.init_state(self._batch)

    def init_state(self, batch_size: int | None = None, **kwargs) -> None:
        self._batch = batch_size
        if not self.steps:
            return
        b = () if batch_size is None else (batch_size,)
        self.buffer = Memory(jnp.zeros((self.steps, *b, *self._shape), self._dtype))
        self.cursor = Memory(jnp.zeros((), jnp.int32))

    def reset_state(self, batch_size: int | None = None, **kwargs) -> None:
        reset_in_place(self, batch_size if batch_size is not None else self._batch)

    def __call__(self, x):
        if self.steps is None:
            raise RuntimeError(f"{self.name}: call before_run(dt) first (nd.run does it).")
        if not self.steps:
            return x
        i = self.cursor.value
        out = self.buffer.value[i]
        self.buffer.value = self.buffer.value.at[i].set(x.astype(self._dtype))
        self.cursor.value = (i + 1) % self.steps
        return out


class SynapseDelays(Module):
    """One delay per synapse of a CSR. When a run fixes dt, the synapses are grouped by
    their delay in steps into one CSR per distinct delay; each step the presynaptic
    spikes of ``d`` steps ago go through the CSR of delay ``d`` (event-driven, so the
    cost is O(spikes x fan-out), not O(synapses)). A ring buffer keeps the last
    ``max delay`` steps of presynaptic spikes."""

    def __init__(self, delays, conn, name: str = "SynapseDelays"):
        from neurodyn.event import CSR

        self.name = name
        self._built_in = _trace_now()
        self.delay = _delay_quantity(delays, name)
        if not isinstance(conn, CSR) or jnp.shape(self.delay.mantissa) != (conn.nnz,):
            raise ValueError(
                f"{name}: per-synapse delays need a CSR connectivity and one delay per synapse "
                f"({getattr(conn, 'nnz', '?')}); got delays of shape "
                f"{jnp.shape(self.delay.mantissa)} for {type(conn).__name__}."
            )
        self.conn = conn
        self.steps: np.ndarray | None = None
        self._batch = None
        self.groups: list = []

    def bind(self, shape, dtype) -> None:
        """The shape (without batch axis) and dtype of what is delayed."""
        self._shape, self._dtype = tuple(shape), dtype

    def _split(self, n: np.ndarray) -> list:
        """``[(d, CSR of the synapses with delay d steps, their positions in the CSR)]``."""
        from neurodyn.event import CSR

        conn = self.conn
        indptr = np.asarray(conn.indptr)
        indices = np.asarray(conn.indices)
        rows = np.repeat(np.arange(conn.n_pre), np.diff(indptr))
        m, unit = (
            (conn.data.mantissa, conn.data.unit)
            if isinstance(conn.data, u.Quantity)
            else (
                conn.data,
                None,
            )
        )
        homo = conn.homogeneous
        groups = []
        for d in np.unique(n):
            sel = n == d
            ptr = np.concatenate([[0], np.cumsum(np.bincount(rows[sel], minlength=conn.n_pre))])
            data = m if homo else jnp.asarray(m)[np.flatnonzero(sel)]
            data = data * unit if unit is not None else data
            groups.append((int(d), CSR(data, indices[sel], ptr, conn.shape), np.flatnonzero(sel)))
        return groups

    def before_run(self, dt) -> None:
        """Convert the per-synapse delays to steps of ``dt`` (a time Quantity) and group
        the synapses by delay; a change makes a new buffer (so it must happen outside a
        transform)."""
        n = delay_steps(self.delay, dt, self.name)
        if self.steps is None or not np.array_equal(n, self.steps):
            _outside_transforms(self.name, self._built_in)
            self.steps = n
            self.groups = self._split(n)
            self.init_state(self._batch)

    def init_state(self, batch_size: int | None = None, **kwargs) -> None:
        self._batch = batch_size
        if self.steps is None:
            return
        b = () if batch_size is None else (batch_size,)
        length = int(self.steps.max()) + 1 if self.steps.size else 1
        self.buffer = Memory(jnp.zeros((length, *b, *self._shape), self._dtype))
        self.cursor = Memory(jnp.zeros((), jnp.int32))

    def reset_state(self, batch_size: int | None = None, **kwargs) -> None:
        reset_in_place(self, batch_size if batch_size is not None else self._batch)

    def propagate(self, spikes, data=None):
        """Store this step's presynaptic ``spikes``; return the summed input that arrives
        now at each postsynaptic neuron. ``data``: the current weights (one per synapse
        of the CSR, or one for all) when they are trainable."""
        if self.steps is None:
            raise RuntimeError(f"{self.name}: call before_run(dt) first (nd.run does it).")
        length = self.buffer.value.shape[0]
        i = self.cursor.value
        buf = self.buffer.value.at[i].set(spikes.astype(self._dtype))
        self.buffer.value = buf
        self.cursor.value = (i + 1) % length
        total = None
        homogeneous = data is not None and jnp.ndim(u.get_mantissa(data)) == 0
        for d, csr, members in self.groups:
            if data is not None:
                csr = csr.with_data(data if homogeneous else data[members])
            x = buf[(i - d) % length] @ csr
            total = x if total is None else total + x
        return total
