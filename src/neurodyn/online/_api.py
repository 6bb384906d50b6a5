"""``sequence_gradient``: one forward pass over a sequence with an online rule."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from neurodyn.units import fix_gradient_units

from ._plan import Plan, build_plan
from ._rules import DRTRLRule, RTRLRule
from ._step import OnlineError, StepFunction

__all__ = ["sequence_gradient", "stream_gradient", "ALGORITHMS", "make_rule", "prepare"]

ALGORITHMS = ("rtrl", "d_rtrl", "es_d_rtrl", "eprop")


def _first_step(inputs):
    leaves = jax.tree_util.tree_leaves(inputs)
    if not leaves:
        raise OnlineError("online: inputs is empty; give an array [T, ...] (time first).")
    lengths = {jnp.shape(a)[0] if jnp.ndim(a) else None for a in leaves}
    if None in lengths or len(lengths) != 1:
        raise OnlineError(
            "online: inputs must have time as their leading axis, the same length for every "
            f"array ([T, ...] or [T, batch, ...]); got shapes "
            f"{[tuple(jnp.shape(a)) for a in leaves]}."
        )
    return jax.tree_util.tree_map(lambda a: jnp.asarray(a)[0], inputs), lengths.pop()


def prepare(module, inputs, algorithm, params=None, dt=None, batched=None) -> Plan:
    """The plan of ``algorithm`` for ``module`` fed with ``inputs`` ``[T, ...]``."""
    if algorithm not in ALGORITHMS:
        raise OnlineError(
            f"online: unknown algorithm {algorithm!r}; choose one of {', '.join(ALGORITHMS)}."
        )
    x0, _ = _first_step(inputs)
    step = StepFunction(module, x0, params=params, dt=dt, batched=batched)
    x_leaves = step.add_batch(jax.tree_util.tree_leaves(x0))
    return build_plan(step, [a[0] for a in x_leaves], algorithm)


_OPTIONS = {
    "rtrl": set(),
    "d_rtrl": set(),
    "es_d_rtrl": {"decay"},
    "eprop": {"feedback", "feedback_decay", "kappa", "readout", "seed"},
}


def make_rule(plan: Plan, loss_fn, **options):
    """The rule object of ``plan.algorithm`` (options checked)."""
    alg = plan.algorithm
    unknown = sorted(set(options) - _OPTIONS[alg])
    if unknown:
        allowed = ", ".join(sorted(_OPTIONS[alg])) or "none"
        raise OnlineError(
            f"online {alg}: unknown option(s) {', '.join(unknown)}; its options are: {allowed}."
        )
    if alg == "rtrl":
        return RTRLRule(plan, loss_fn)
    if alg == "d_rtrl":
        return DRTRLRule(plan, loss_fn)
    if alg == "es_d_rtrl":
        return DRTRLRule(plan, loss_fn, es=True, decay=options.get("decay"))
    from ._eprop import EPropRule

    return EPropRule(
        plan,
        loss_fn,
        feedback=options.get("feedback", "symmetric"),
        kappa=options.get("kappa"),
        readout=options.get("readout"),
        seed=options.get("seed", 0),
        feedback_decay=options.get("feedback_decay"),
    )


def sequence_gradient(
    module,
    loss_fn,
    inputs,
    targets=None,
    algorithm: str = "d_rtrl",
    *,
    params: dict | None = None,
    dt=None,
    batched: bool | None = None,
    return_loss: bool = False,
    **options,
):
    """The gradient of ``sum_t loss_fn(output_t, target_t)`` by an online rule.

    The sequence runs forward once from the module's current hidden state (its States
    hold the final state afterwards, as after a plain run); nothing is stored per time
    step. ``module.update(x_t)`` is one step: it reads the module's
    :class:`~neurodyn.state.Param` States, writes its hidden States and returns the
    step's output.

    Args:
        module: any :class:`~neurodyn.state.Module` (``nd.dyn`` networks included).
        loss_fn: ``loss_fn(output_t, target_t) -> scalar`` for one time step.
        inputs: ``[T, ...]`` (``[T, batch, ...]`` for a batched module), or a pytree of them.
        targets: ``[T, ...]`` (or a pytree, or None).
        algorithm: ``"rtrl"`` (exact; memory ``#hidden x #params``), ``"d_rtrl"``
            (diagonal: traces shaped like the parameters), ``"es_d_rtrl"`` (traces of
            weights factorised into pre- and postsynaptic ones) or ``"eprop"``.
        params: ``{name: Param}`` to differentiate (default: all of the module's).
        dt: run each step in ``nd.dyn.clock(dt, t=i dt, i=i)`` (for ``nd.dyn`` models).
        batched: whether States and inputs have a leading batch axis (default: guessed).
        return_loss: also return the summed loss.
        **options: ``decay=`` for ES-D-RTRL; ``feedback=``, ``feedback_decay=``,
            ``kappa=``, ``readout=``, ``seed=`` for e-prop (see
            :class:`~neurodyn.online.EProp`). One call applies no weight update, so
            ``feedback="adaptive"`` here equals ``"random"`` with the same ``seed``.

    Returns:
        ``{name: gradient}`` keyed like ``params`` (by default ``module.states(nd.Param)``),
        with units as :func:`neurodyn.state.grad` gives them; ``(loss, grads)`` with
        ``return_loss=True``.

    Raises:
        OnlineError: the rule cannot treat the module (the message names the State,
            parameter and operation, and what to change).
    """
    plan = prepare(module, inputs, algorithm, params=params, dt=dt, batched=batched)
    rule = make_rule(plan, loss_fn, **options)
    step = plan.step

    @jax.jit
    def run(theta, h, c, inputs, targets):
        # the module's States are read again inside: write the traced values in
        return _pure_run(rule, plan, theta, h, c, inputs, targets)

    state, h, losses = run(
        step.theta_leaves(),
        step.add_batch(step.hidden_leaves()),
        step.const_values(),
        inputs,
        targets,
    )
    step.write_hidden(step.remove_batch(h))
    grads = step.unflatten_params(rule.gradient(state))
    grads = fix_gradient_units(grads, rule.loss_unit)
    if return_loss:
        return jnp.sum(losses), grads
    return grads


def _pure_run(rule, plan, theta, h, c, inputs, targets):
    step = plan.step
    xs = jax.tree_util.tree_leaves(inputs)
    if not step.batched:
        xs = [jnp.asarray(a)[:, None] for a in xs]
    state = rule.init(theta, h)
    state = rule.prime(state, theta, h, c, [a[0] for a in xs], jnp.int32(0))

    def body(carry, inp):
        st, hh, i = carry
        x, y = inp
        st, h_new, _, value = rule.update(st, theta, hh, c, list(x), i, y)
        return (st, h_new, i + 1), value

    (state, h, _), losses = jax.lax.scan(body, (state, h, jnp.int32(0)), (xs, targets))
    return state, h, losses


def stream_gradient(
    module,
    loss_fn,
    source,
    steps: int,
    algorithm: str = "d_rtrl",
    *,
    params: dict | None = None,
    dt=None,
    batched: bool | None = None,
    return_loss: bool = False,
    compile_only: bool = False,
    **options,
):
    """:func:`sequence_gradient` with the inputs made inside the compiled loop:
    ``source(i) -> (x_i, target_i)`` is traced once and called at every step ``i``
    (e.g. a generator keyed by ``jax.random.fold_in(key, i)``), so no ``[T, ...]`` array
    exists and memory does not grow with ``steps``.

    With ``compile_only=True`` returns the compiled function (``.memory_analysis()``
    gives the bytes it needs) instead of running it."""
    x0, y0 = source(jnp.int32(0))
    seq = jax.tree_util.tree_map(lambda a: jnp.asarray(a)[None], x0)
    plan = prepare(module, seq, algorithm, params=params, dt=dt, batched=batched)
    rule = make_rule(plan, loss_fn, **options)
    step = plan.step
    del y0

    def run(theta, h, c):
        state = rule.init(theta, h)
        x0 = jax.tree_util.tree_leaves(source(jnp.int32(0))[0])
        if not step.batched:
            x0 = [jnp.asarray(a)[None] for a in x0]
        state = rule.prime(state, theta, h, c, x0, jnp.int32(0))

        def body(carry, _):
            st, hh, i, total = carry
            x, y = source(i)
            xs = jax.tree_util.tree_leaves(x)
            if not step.batched:
                xs = [jnp.asarray(a)[None] for a in xs]
            st, h_new, _, value = rule.update(st, theta, hh, c, list(xs), i, y)
            return (st, h_new, i + 1, total + value), None

        # the loss is summed in the carry: nothing of length ``steps`` exists
        zero = jnp.zeros((), jnp.result_type(float))
        (state, h, _, total), _ = jax.lax.scan(
            body, (state, h, jnp.int32(0), zero), None, length=int(steps)
        )
        return rule.gradient(state), h, total

    args = (step.theta_leaves(), step.add_batch(step.hidden_leaves()), step.const_values())
    compiled = jax.jit(run).lower(*args).compile()
    if compile_only:
        return compiled
    grads, h, loss = compiled(*args)
    step.write_hidden(step.remove_batch(h))
    grads = fix_gradient_units(step.unflatten_params(grads), rule.loss_unit)
    return (loss, grads) if return_loss else grads
