"""Lane blocks: a batched run of independent lanes, one block of lanes at a time.

A batch of independent simulations (``init_state(batch_size)``: every lane its own
cell, nothing shared between them) can run its whole time loop on a block of lanes,
then on the next block, instead of advancing every lane one step at a time. The result
is the same, lane by lane; what changes is the memory traffic: a block's state stays in
the processor's cache for the whole loop, while a batch larger than the cache streams
from main memory at every step (measured on 1000 reconstructed cells, ``hh``
everywhere: ``benchmarks/dendrite.py``).

The runner opens a :func:`block` scope while it traces one block's loop; a model that
holds per-lane values outside its States (a clamp amplitude per cell, a channel density
per cell) reads them through :func:`take`, which returns the block's slice of a
per-lane array and leaves every other array as it is. A model offers lane blocks by
defining ``_lane_states()`` (its per-lane States, each with the batch as the leading
axis; ``None`` when its lanes are not independent); the runner asks for nothing else.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["block", "take", "active", "choose_block"]

#: the working set (bytes of per-lane States) a block is sized to: the block's States
#: then fit a 2 MiB L2 cache (measured: 1000 cells of 868 compartments, benchmarks/dendrite.py)
BLOCK_BYTES = 2 << 20
#: fewer lanes than this per block would cost vector width, not save traffic
MIN_LANES = 16


class _Local(threading.local):
    def __init__(self):
        self.stack: list[tuple[Any, int, int]] = []


_LOCAL = _Local()


@contextlib.contextmanager
def block(start, size: int, full: int):
    """Inside: models see the lanes ``start : start + size`` of a batch of ``full``."""
    _LOCAL.stack.append((start, int(size), int(full)))
    try:
        yield
    finally:
        _LOCAL.stack.pop()


def active() -> tuple[Any, int, int] | None:
    """``(start, size, full)`` of the lane block being traced, or None."""
    return _LOCAL.stack[-1] if _LOCAL.stack else None


def take(x, ndim: int):
    """``x`` as the current lane block sees it.

    ``x`` broadcasts against a batched array of ``ndim`` dimensions whose first axis is
    the batch; when a lane block is open and ``x`` has that axis at full length (its
    axis ``x.ndim - ndim``), the block's slice of it comes back. Anything else (no
    block open, a scalar, a per-node array, a size-1 batch axis) comes back unchanged.
    """
    if not _LOCAL.stack:
        return x
    start, size, full = _LOCAL.stack[-1]
    shape = np.shape(x)
    axis = len(shape) - ndim
    if axis < 0 or shape[axis] != full:
        return x
    return jax.tree_util.tree_map(
        lambda leaf: jax.lax.dynamic_slice_in_dim(jnp.asarray(leaf), start, size, axis), x
    )


def choose_block(batch: int, bytes_per_lane: float, requested: int | None) -> int:
    """Lanes per block for a batch of ``batch`` lanes (``batch``: no blocks).

    ``requested`` (``nd.run(lane_block=...)``) must divide the batch; by default the
    largest divisor of the batch whose block holds at most :data:`BLOCK_BYTES` of
    States, and no blocks when that would leave fewer than :data:`MIN_LANES` lanes per
    block or the whole batch already fits.
    """
    if requested is not None:
        if (
            isinstance(requested, bool)
            or not isinstance(requested, (int, np.integer))
            or not 1 <= requested <= batch
            or batch % requested
        ):
            divisors = [d for d in range(1, batch + 1) if batch % d == 0]
            shown = ", ".join(map(str, divisors[:12])) + (", ..." if len(divisors) > 12 else "")
            raise ValueError(
                f"nd.run: lane_block must be a divisor of the batch size {batch} (the lanes "
                f"run per block), got {requested!r}. Divisors: {shown}; lane_block={batch} "
                "runs the whole batch at once."
            )
        return int(requested)
    if batch * bytes_per_lane <= BLOCK_BYTES:
        return batch
    best = batch
    for d in range(MIN_LANES, batch):
        if batch % d == 0 and d * bytes_per_lane <= BLOCK_BYTES:
            best = d
    return best
