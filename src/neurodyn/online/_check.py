"""Compare an online rule's gradient with backpropagation through time."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from neurodyn.state import Param, for_loop, grad
from neurodyn.units import Quantity

from ._step import OnlineError, _clock

__all__ = ["check_against_bptt", "bptt_gradient"]


def _m(x):
    return x.mantissa if isinstance(x, Quantity) else x


def _flat(g) -> jax.Array:
    is_q = lambda x: isinstance(x, Quantity)  # noqa: E731
    leaves = jax.tree_util.tree_leaves(jax.tree_util.tree_map(_m, g, is_leaf=is_q))
    return jnp.concatenate([jnp.ravel(a) for a in leaves]) if leaves else jnp.zeros(0)


def bptt_gradient(module, loss_fn, inputs, targets, params=None, dt=None) -> dict:
    """``{name: gradient}`` of ``sum_t loss_fn(output_t, target_t)`` by backpropagation
    through time (:func:`neurodyn.state.grad` of a :func:`neurodyn.state.for_loop`), from
    the module's current state, which is left unchanged."""
    params = params if params is not None else module.states(Param)
    clock = _clock(dt)
    hidden = [s for s in module.states().values() if not isinstance(s, Param)]
    saved = [s.value for s in hidden]
    n = jax.tree_util.tree_leaves(inputs)[0].shape[0]
    tgt = targets if targets is not None else [None] * n

    def total():
        def step(i, x, y):
            with clock(i):
                out = module.update(x)
            value = loss_fn(out, y)
            return _m(value) if isinstance(value, Quantity) else value

        if targets is None:
            losses = for_loop(lambda i, x: step(i, x, None), jnp.arange(n), inputs)
        else:
            losses = for_loop(step, jnp.arange(n), inputs, tgt)
        return jnp.sum(losses)

    try:
        return grad(total, params)()
    finally:
        for s, v in zip(hidden, saved):
            s.value = v


def check_against_bptt(
    module,
    loss_fn,
    inputs,
    targets=None,
    algorithm: str = "d_rtrl",
    *,
    params: dict | None = None,
    dt=None,
    batched: bool | None = None,
    min_cosine: float | None = None,
    **options,
) -> dict:
    """Per-parameter agreement of an online rule with BPTT on one window.

    Both gradients start from the module's current state (left unchanged). Returns
    ``{name: {"cosine", "relative_error", "online_norm", "bptt_norm"}}`` (relative error
    ``|g_online - g_bptt| / |g_bptt|``, Euclidean norms).

    Raises:
        FloatingPointError: a gradient has NaN or infinite entries.
        OnlineError: a gradient is identically zero (nothing to compare: the parameter
            does not act in this window, or spikes never came near threshold), or a
            cosine is below ``min_cosine``.
    """
    from ._api import sequence_gradient

    params_ = params if params is not None else module.states(Param)
    ref = bptt_gradient(module, loss_fn, inputs, targets, params_, dt)
    for name in params_:
        _check_finite_nonzero(name, _flat(ref[name]), "BPTT", algorithm)
    hidden = [s for s in module.states().values() if not isinstance(s, Param)]
    saved = [s.value for s in hidden]
    try:
        got = sequence_gradient(
            module, loss_fn, inputs, targets, algorithm, params=params_, dt=dt,
            batched=batched, **options,
        )  # fmt: skip
    finally:
        for s, v in zip(hidden, saved):
            s.value = v
    report = {}
    for name in params_:
        a, b = _flat(got[name]), _flat(ref[name])
        _check_finite_nonzero(name, a, "online", algorithm)
        na, nb = float(jnp.linalg.norm(a)), float(jnp.linalg.norm(b))
        cos = float(jnp.dot(a, b)) / (na * nb)
        rel = float(jnp.linalg.norm(a - b)) / nb
        report[name] = {"cosine": cos, "relative_error": rel, "online_norm": na, "bptt_norm": nb}
        if min_cosine is not None and not (cos >= min_cosine and math.isfinite(cos)):
            raise OnlineError(
                f"check_against_bptt: {algorithm} gradient of {name} has cosine {cos:.4f} with "
                f"BPTT, below min_cosine={min_cosine}; relative error {rel:.3g}."
            )
    return report


def _check_finite_nonzero(name, v, label, algorithm) -> None:
    if not bool(jnp.all(jnp.isfinite(v))):
        raise FloatingPointError(
            f"check_against_bptt: the {label} gradient of {name} has non-finite entries "
            f"({int(jnp.sum(~jnp.isfinite(v)))} of {v.size}); check the network for overflow "
            "(large weights, a surrogate derivative that explodes, a loss undefined there)."
        )
    if float(jnp.linalg.norm(v)) == 0.0:
        raise OnlineError(
            f"check_against_bptt: the {label} gradient of {name} is identically zero on this "
            f"window, so there is nothing to compare ({algorithm}). Use a window in which the "
            "parameter acts on the loss (inputs that drive the neurons near threshold, a "
            "longer window), or leave the parameter out (params=...)."
        )
