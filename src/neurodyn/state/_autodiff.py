"""``grad``, ``value_and_grad``, ``jacrev``, ``jacfwd`` with respect to States."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import jax

from neurodyn.units import Quantity, fix_gradient_units

from ._core import collect_states, read_values, run_pure, write_values
from ._errors import StateError
from ._state import State

__all__ = ["grad", "value_and_grad", "jacrev", "jacfwd"]


def _is_state(x) -> bool:
    return isinstance(x, State)


def _flatten_states(states, name: str):
    leaves, tree = jax.tree_util.tree_flatten(states, is_leaf=_is_state)
    bad = [x for x in leaves if not isinstance(x, State)]
    if bad:
        raise TypeError(
            f"{name}: `states` must be a State or a pytree (dict, list, ...) of States, e.g. "
            f"module.states(nd.Param); found a {type(bad[0]).__name__}."
        )
    return leaves, tree


def _differentiate(
    kind: str,
    fn: Callable,
    states: Any,
    argnums: int | Sequence[int] | None,
    has_aux: bool,
    return_value: bool,
    jax_kwargs: dict,
) -> Callable:
    if states is None and argnums is None:
        argnums = 0
    single_arg = isinstance(argnums, int)
    arg_idx = () if argnums is None else ((argnums,) if single_arg else tuple(argnums))
    name = f"{kind}({getattr(fn, '__name__', 'function')})"

    @functools.wraps(fn)
    def wrapper(*args):
        grad_states, tree = _flatten_states(states, name) if states is not None else ([], None)
        touched, written = collect_states(name, fn, lambda probe: jax.eval_shape(probe, *args))
        unread = [s for s in grad_states if s not in touched]
        if unread:
            raise StateError(
                f"{name}: the function never reads {', '.join(s._describe() for s in unread)}, "
                "so its gradient would be identically zero. Check that the function uses the "
                "States you differentiate with respect to (or that they are the same objects)."
            )
        others = [s for s in touched if s not in grad_states]
        all_states = grad_states + others
        units: list = []

        def pure(grad_values, other_values, *dyn):
            out, new_values = run_pure(
                name, fn, all_states, list(grad_values) + list(other_values), written, dyn
            )
            if has_aux:
                if not (isinstance(out, tuple) and len(out) == 2):
                    raise TypeError(
                        f"{name}(has_aux=True): the function must return (output, aux), got "
                        f"{type(out).__name__}."
                    )
                out, aux = out
            else:
                aux = None
            if isinstance(out, Quantity):
                units.append(out.unit)
                out = out.mantissa
            else:
                units.append(None)
            return out, (aux, new_values)

        jax_argnums = (
            (0, *(2 + i for i in arg_idx)) if grad_states else tuple(2 + i for i in arg_idx)
        )
        if kind in ("grad", "value_and_grad"):
            transform = jax.value_and_grad(pure, argnums=jax_argnums, has_aux=True, **jax_kwargs)
            (value, (aux, new_values)), grads = transform(
                read_values(grad_states), read_values(others), *args
            )
        else:
            jac = jax.jacrev if kind == "jacrev" else jax.jacfwd
            transform = jac(pure, argnums=jax_argnums, has_aux=True, **jax_kwargs)
            grads, (aux, new_values) = transform(
                read_values(grad_states), read_values(others), *args
            )
            value = None
        write_values(written, new_values)
        out_unit = units[-1]
        grads = fix_gradient_units(grads, out_unit)
        if grad_states:
            state_grads = jax.tree_util.tree_unflatten(tree, list(grads[0]))
            arg_grads = grads[1:]
        else:
            state_grads, arg_grads = None, grads
        if arg_idx and single_arg:
            arg_grads = arg_grads[0]
        if states is None:
            result = arg_grads
        elif arg_idx:
            result = (state_grads, arg_grads)
        else:
            result = state_grads
        if return_value:
            if out_unit is not None and value is not None:
                from neurodyn.units._quantity import _make

                value = _make(value, out_unit)
            value = (value, aux) if has_aux else value
            return value, result
        return (result, aux) if has_aux else result

    return wrapper


def grad(
    fn: Callable,
    states: Any = None,
    argnums: int | Sequence[int] | None = None,
    has_aux: bool = False,
    **jax_kwargs,
) -> Callable:
    """Gradient of a scalar function with respect to States and/or arguments.

    ``nd.grad(fn, states)(*args)`` returns gradients shaped like ``states``
    (a State, or a dict/list/pytree of States such as ``module.states(nd.Param)``).
    With ``argnums`` too it returns ``(state_grads, arg_grads)``; with no
    ``states`` it differentiates argument 0, like :func:`jax.grad`. Every other
    State the function uses is handled as in :func:`jit` (written ones are
    updated). Gradients carry units: d(out)/d(x) has unit ``out.unit / x.unit``.

    Raises:
        StateError: if the function never reads one of ``states``.

    Example:
        >>> import jax.numpy as jnp
        >>> import neurodyn as nd
        >>> w = nd.Param(jnp.array([1.0, 2.0]))
        >>> loss = lambda x: jnp.sum((w.value * x) ** 2)
        >>> nd.grad(loss, {"w": w})(jnp.array([1.0, 1.0]))
        {'w': Array([2., 4.], dtype=float32)}
    """
    return _differentiate("grad", fn, states, argnums, has_aux, False, jax_kwargs)


def value_and_grad(
    fn: Callable,
    states: Any = None,
    argnums: int | Sequence[int] | None = None,
    has_aux: bool = False,
    **jax_kwargs,
) -> Callable:
    """Like :func:`grad`, returning ``(value, grads)`` (``((value, aux), grads)``
    with ``has_aux``)."""
    return _differentiate("value_and_grad", fn, states, argnums, has_aux, True, jax_kwargs)


def jacrev(
    fn: Callable,
    states: Any = None,
    argnums: int | Sequence[int] | None = None,
    has_aux: bool = False,
    **jax_kwargs,
) -> Callable:
    """Jacobian by reverse mode, with respect to States and/or arguments (see :func:`grad`)."""
    return _differentiate("jacrev", fn, states, argnums, has_aux, False, jax_kwargs)


def jacfwd(
    fn: Callable,
    states: Any = None,
    argnums: int | Sequence[int] | None = None,
    has_aux: bool = False,
    **jax_kwargs,
) -> Callable:
    """Jacobian by forward mode, with respect to States and/or arguments (see :func:`grad`)."""
    return _differentiate("jacfwd", fn, states, argnums, has_aux, False, jax_kwargs)
