"""Memory/recompute trade-off for BPTT over long runs."""

from __future__ import annotations

import math
from collections.abc import Callable

import jax

from neurodyn.state import checkpoint, for_loop

__all__ = ["checkpointed_for_loop"]


def checkpointed_for_loop(fn: Callable, *xs, segments: int | None = None):
    """Like :func:`neurodyn.state.for_loop`, with the loop split into ``segments``
    rematerialised blocks (default ``sqrt(T)``): reverse mode then stores only the
    States at block boundaries plus one block's intermediates, O(sqrt(T)) memory
    instead of O(T), for about one extra forward pass."""
    T = jax.tree_util.tree_leaves(xs)[0].shape[0]
    segments = segments or max(1, int(math.isqrt(T)))
    while T % segments:
        segments -= 1
    blocks = jax.tree_util.tree_map(lambda x: x.reshape(segments, T // segments, *x.shape[1:]), xs)

    @checkpoint
    def block(*block_xs):
        return for_loop(fn, *block_xs)

    out = for_loop(block, *blocks)
    return jax.tree_util.tree_map(lambda y: y.reshape(T, *y.shape[2:]), out)
