"""``vmap``: vectorise a stateful function, choosing which States are batched."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp

from ._core import collect_states, read_values, run_pure
from ._errors import StateError
from ._state import Hidden, RandomKey, State

__all__ = ["vmap"]

_DEFAULT_AXES: dict[Any, int | None] = {Hidden: 0}


def _axis_of(state: State, state_axes: Mapping) -> int | None:
    if state in state_axes:
        return state_axes[state]
    for cls in type(state).__mro__:
        if cls in state_axes:
            return state_axes[cls]
    return None


def _take_lane(value, axis: int):
    return jax.tree_util.tree_map(lambda x: jnp.take(x, 0, axis=axis), value)


def vmap(
    fn: Callable,
    in_axes: Any = 0,
    out_axes: Any = 0,
    state_axes: Mapping | None = None,
    axis_size: int | None = None,
    axis_name: str | None = None,
) -> Callable:
    """Vectorise ``fn`` over a batch axis, like :func:`jax.vmap`, with States.

    ``state_axes`` says which States are batched: a mapping from State
    classes (matched along the class hierarchy) or individual States to the
    batch axis of their stored value, or ``None`` for States shared by all
    lanes. The default batches :class:`Hidden` States on axis 0 and shares
    everything else. Shared States may be read in every lane; writing one
    with per-lane values raises. Unbatched :class:`RandomKey` States are split
    into one key per lane and advanced once, so lanes draw independent and
    reproducible numbers.

    Example:
        >>> import jax.numpy as jnp
        >>> import neurodyn as nd
        >>> v = nd.Hidden(jnp.zeros((4, 2)))      # 4 lanes of 2 neurons
        >>> gain = nd.Param(jnp.array([1.0, 2.0]))  # shared
        >>> def step(x):
        ...     v.value = v.value + gain.value * x
        ...     return v.value.sum()
        >>> nd.vmap(step)(jnp.arange(4.0))
        Array([0., 3., 6., 9.], dtype=float32)
    """
    axes_spec = dict(_DEFAULT_AXES if state_axes is None else state_axes)
    name = f"vmap({getattr(fn, '__name__', 'function')})"

    @functools.wraps(fn)
    def wrapper(*args):
        def view(state, value):
            axis = _axis_of(state, axes_spec)
            return value if axis is None else _take_lane(value, axis)

        touched, written = collect_states(
            name,
            fn,
            lambda probe: jax.eval_shape(
                jax.vmap(probe, in_axes=in_axes, axis_size=axis_size, axis_name=axis_name), *args
            ),
            view=view,
        )
        axes = [_axis_of(s, axes_spec) for s in touched]
        keys = [s for s, a in zip(touched, axes) if isinstance(s, RandomKey) and a is None]
        values = read_values(touched)
        size = axis_size
        if size is None:
            size = _infer_size(args, in_axes, axes, values)
        in_state_axes = []
        next_keys: dict[State, Any] = {}
        for i, (s, a) in enumerate(zip(touched, axes)):
            if s in keys:  # one key per lane; the State advances once
                next_keys[s], sub = jax.random.split(values[i])
                values[i] = jax.random.split(sub, size)
                in_state_axes.append(0)
            else:
                in_state_axes.append(a)
        out_state_axes = []
        for s in written:
            if s in keys:
                out_state_axes.append(0)
            else:
                out_state_axes.append(axes[touched.index(s)])

        def pure(state_values, *dyn):
            return run_pure(name, fn, touched, state_values, written, dyn)

        try:
            out, new_values = jax.vmap(
                pure,
                in_axes=(in_state_axes, *_broadcast_in_axes(in_axes, len(args))),
                out_axes=(out_axes, out_state_axes),
                axis_size=size,
                axis_name=axis_name,
            )(values, *args)
        except ValueError as err:
            if "out_axes" in str(err) or "mapped output" in str(err):
                shared = [s._describe() for s, a in zip(written, out_state_axes) if a is None]
                raise StateError(
                    f"{name}: a State shared by all lanes was written with per-lane values "
                    f"(shared and written: {', '.join(shared) or 'none'}). Batch it with "
                    "state_axes={TheStateClass: 0} (and give it a batch axis, e.g. "
                    "init_state(batch_size=...)), or reduce over lanes before writing."
                ) from err
            raise
        for s, v in zip(written, new_values):
            if s in next_keys:
                s._write(next_keys[s])
            else:
                s._write(v)
        for s, k in next_keys.items():
            if s not in written:
                s._write(k)
        return out

    return wrapper


def _broadcast_in_axes(in_axes, nargs: int) -> tuple:
    if isinstance(in_axes, (list, tuple)):
        if len(in_axes) != nargs:
            raise ValueError(
                f"vmap: in_axes has {len(in_axes)} entries but the function got {nargs} arguments."
            )
        return tuple(in_axes)
    return (in_axes,) * nargs


def _infer_size(args, in_axes, axes, values) -> int:
    per_arg = _broadcast_in_axes(in_axes, len(args))
    for arg, ax in zip(args, per_arg):
        if ax is None:
            continue
        for leaf, leaf_ax in _leaves_with_axes(arg, ax):
            if leaf_ax is not None:
                return jnp.shape(leaf)[leaf_ax]
    for a, v in zip(axes, values):
        if a is not None:
            return jnp.shape(jax.tree_util.tree_leaves(v)[0])[a]
    raise StateError(
        "vmap: cannot tell the batch size: no argument is mapped and no State is batched. "
        "Pass axis_size=..."
    )


def _leaves_with_axes(arg, ax):
    if isinstance(ax, int):
        return [(leaf, ax) for leaf in jax.tree_util.tree_leaves(arg)]
    # a pytree prefix of axes
    axes_leaves = jax.tree_util.tree_leaves(ax, is_leaf=lambda x: x is None)
    arg_parts = jax.tree_util.tree_structure(ax, is_leaf=lambda x: x is None).flatten_up_to(arg)
    out = []
    for part, a in zip(arg_parts, axes_leaves):
        out.extend((leaf, a) for leaf in jax.tree_util.tree_leaves(part))
    return out
