"""Online learners: D-RTRL, ES-D-RTRL and e-prop with any optax optimiser."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import jax
import jax.numpy as jnp

from ._api import _first_step, make_rule, prepare
from ._check import check_against_bptt
from ._step import OnlineError

__all__ = ["OnlineLearner", "DRTRL", "ESDRTRL", "EProp"]

log = logging.getLogger("neurodyn.online")


def _optax():
    try:
        import optax
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("neurodyn.online learners need optax: pip install optax.") from err
    return optax


class OnlineLearner:
    """Train a module's Params online: one forward pass, traces instead of a history.

    ``step(x_t, y_t)`` advances the module by one time step (its hidden States are
    updated as in a plain run), updates the traces and accumulates the gradient of
    ``loss_fn(output_t, y_t)``; the weights are updated every ``update_every`` steps
    (None: at :meth:`end_sequence`, which :meth:`fit` calls after each sequence).
    The optimiser state, traces and accumulated gradient live in the learner. Before
    the first step the learner logs (logger ``neurodyn.online``; printed with
    ``verbose=True``) the memory its traces need: :meth:`memory` gives it without
    running.

    Args:
        net: any :class:`~neurodyn.state.Module` whose ``update(x)`` writes its hidden
            States and returns the step's output (``nd.dyn`` networks with ``dt=``).
        loss_fn: ``loss_fn(output_t, target_t) -> scalar``.
        optimizer: an ``optax.GradientTransformation``.
        params: ``{name: Param}`` to train (default: every Param of ``net``).
        update_every: apply the accumulated gradient every this many steps.
        dt: run each step in ``nd.dyn.clock(dt, t=i dt, i=i)``.
        batched: whether States and inputs have a leading batch axis (default: guessed).
        clip_norm: clip the global norm of each update's gradient.
        verbose: print the memory report before the first step.
        **options: rule options (``decay`` for ES-D-RTRL; ``feedback``,
            ``feedback_decay``, ``kappa``, ``readout``, ``seed`` for e-prop).
    """

    algorithm = "d_rtrl"

    def __init__(
        self,
        net,
        loss_fn,
        optimizer,
        params: dict | None = None,
        *,
        update_every: int | None = None,
        dt=None,
        batched: bool | None = None,
        clip_norm: float | None = None,
        verbose: bool = False,
        **options,
    ):
        optax = _optax()
        if update_every is not None and (int(update_every) != update_every or update_every < 1):
            raise OnlineError(
                f"{type(self).__name__}: update_every must be a positive number of steps or "
                f"None (update at the end of each sequence); got {update_every!r}."
            )
        self.net, self.loss_fn, self.optimizer = net, loss_fn, optimizer
        self.params = params
        self.update_every = update_every
        self.dt, self.batched, self.verbose = dt, batched, verbose
        self.options = options
        self.clip = None if clip_norm is None else optax.clip_by_global_norm(clip_norm)
        self._plan = None
        self._state = None
        self._kept: dict = {}  # what the rule keeps across sequences (e-prop's feedback)
        self.history: list[float] = []
        self.updates = 0  # weight updates applied
        self.steps = 0  # time steps taken by step()

    # -- planning ----------------------------------------------------------------------
    def plan(self, inputs):
        """Analyse the network for one step's input (what ``net.update`` takes). Returns
        the :class:`~neurodyn.online.Plan` (``.report()``, ``.trace_bytes()``)."""
        if self._plan is None:
            seq = jax.tree_util.tree_map(lambda a: jnp.asarray(a)[None], inputs)
            self._plan = prepare(self.net, seq, self.algorithm, self.params, self.dt, self.batched)
            self._rule = make_rule(self._plan, self.loss_fn, **self.options)
            theta = self._plan.step.theta_leaves()
            self._opt_state = self.optimizer.init([theta[k] for k in self._rule.td])
            self._state = None
            self._compiled = {}
            report = self._plan.report()
            log.info(report)
            if self.verbose:
                print(report)
        return self._plan

    def memory(self, inputs, detail: bool = False):
        """Bytes of the traces the learner keeps, for one step's input ``inputs``
        (nothing is run). With ``detail=True``: ``{"traces", "gradient" (the accumulated
        gradient, shaped like the trained parameters), "hidden" (the network's hidden
        state), "optimizer" (the optax state), "total"}`` in bytes, all independent of the
        sequence length."""
        plan = self.plan(inputs)
        traces = plan.trace_bytes()
        if not detail:
            return traces
        step = plan.step
        theta = step.theta_leaves()

        def nbytes(tree):
            return int(sum(jnp.size(a) * jnp.dtype(jnp.result_type(a)).itemsize
                           for a in jax.tree_util.tree_leaves(tree)))  # fmt: skip

        out = {
            "traces": traces,
            "gradient": nbytes([theta[k] for k in self._rule.td]),
            "hidden": nbytes(step.add_batch(step.hidden_leaves())),
            "optimizer": nbytes(self._opt_state),
        }
        out["total"] = sum(out.values())
        return out

    # -- the compiled step -------------------------------------------------------------
    def _fresh_state(self):
        step = self._plan.step
        state = self._rule.init(step.theta_leaves(), step.add_batch(step.hidden_leaves()))
        return {**state, **self._kept}

    def _apply(self, theta, grads, opt_state):
        optax = _optax()
        td = self._rule.td
        g = [grads[k] for k in td]
        finite = jnp.all(jnp.asarray([jnp.all(jnp.isfinite(a)) for a in g]))
        if self.clip is not None:
            g, _ = self.clip.update(g, self.clip.init(g))
        vals = [theta[k] for k in td]
        upd, opt_state = self.optimizer.update(g, opt_state, vals)
        vals = optax.apply_updates(vals, upd)
        theta = list(theta)
        for k, v in zip(td, vals):
            theta[k] = v
        return theta, opt_state, finite

    def _one(self, carry, x, y):
        """One time step inside the compiled functions."""
        theta, h, c, state, opt_state, i, count, ok = carry
        state, h, _, value = self._rule.update(state, theta, h, c, x, i, y)
        count = count + 1
        if self.update_every is not None:
            due = count >= self.update_every

            def do(args):
                theta, state, opt_state = args
                theta, opt_state, finite = self._apply(theta, self._rule.gradient(state), opt_state)
                state = self._rule.after_update(self._rule.clear_gradient(state))
                return theta, state, opt_state, finite

            def skip(args):
                theta, state, opt_state = args
                return theta, state, opt_state, jnp.asarray(True)

            theta, state, opt_state, finite = jax.lax.cond(due, do, skip, (theta, state, opt_state))
            ok = ok & finite
            count = jnp.where(due, 0, count)
        return (theta, h, c, state, opt_state, i + 1, count, ok), value

    def _compile(self, kind):
        if kind in self._compiled:
            return self._compiled[kind]
        if kind == "step":

            def fn(carry, x, y):
                return self._one(carry, x, y)

        elif kind == "sequence":

            def fn(carry, xs, ys):
                def body(c, inp):
                    return self._one(c, inp[0], inp[1])

                # a fresh state: what the rule reads from the first step, before the loop
                theta, h, c, state = carry[:4]
                state = self._rule.prime(state, theta, h, c, [a[0] for a in xs], carry[5])
                carry = (*carry[:3], state, *carry[4:])
                carry, losses = jax.lax.scan(body, carry, (xs, ys))
                return carry, losses

        else:  # "flush": apply what was accumulated

            def fn(theta, state, opt_state):
                theta, opt_state, finite = self._apply(theta, self._rule.gradient(state), opt_state)
                state = self._rule.after_update(self._rule.clear_gradient(state))
                return theta, state, opt_state, finite

        self._compiled[kind] = jax.jit(fn)
        return self._compiled[kind]

    def _carry(self):
        step = self._plan.step
        if self._state is None:
            self._state = self._fresh_state()
            self._i = jnp.int32(0)
            self._count = jnp.int32(0)
        return (
            step.theta_leaves(),
            step.add_batch(step.hidden_leaves()),
            step.const_values(),
            self._state,
            self._opt_state,
            self._i,
            self._count,
            jnp.asarray(True),
        )

    def _store(self, carry):
        theta, h, _, state, opt_state, i, count, ok = carry
        step = self._plan.step
        self._write_theta(theta)
        step.write_hidden(step.remove_batch(h))
        self._state, self._opt_state, self._i, self._count = state, opt_state, i, count
        if not bool(ok):
            raise FloatingPointError(
                f"{type(self).__name__}: non-finite gradients at update {self.updates}; the "
                "parameters were updated with them. Lower the learning rate, clip gradients "
                "(clip_norm=...) or check the network for overflow."
            )

    def _write_theta(self, theta):
        step = self._plan.step
        for p, tree, sl in zip(step.param_states, step.param_trees, step.param_leaf_slices):
            p.value = jax.tree_util.tree_unflatten(tree, list(theta[sl]))

    # -- public API ------------------------------------------------------------------------
    def step(self, inputs, targets) -> jax.Array:
        """One time step: ``inputs`` is what ``net.update`` takes (one step), ``targets``
        what ``loss_fn`` compares the output with. Returns the step's loss."""
        self.plan(inputs)
        xs = jax.tree_util.tree_leaves(inputs)
        if not self._plan.step.batched:
            xs = [jnp.asarray(a)[None] for a in xs]
        carry, value = self._compile("step")(self._carry(), list(xs), targets)
        self._store(carry)
        self.steps += 1
        if self.update_every is not None and self.steps % self.update_every == 0:
            self.updates += 1
        return value

    def end_sequence(self) -> None:
        """Apply the gradient accumulated since the last update; the traces and the
        network's state are reset for the next sequence (:meth:`reset`)."""
        if self._plan is None or self._state is None:
            return
        step = self._plan.step
        theta, state, opt_state, finite = self._compile("flush")(
            step.theta_leaves(), self._state, self._opt_state
        )
        self._write_theta(theta)
        self._state, self._opt_state = state, opt_state
        self.updates += 1
        self.reset()
        if not bool(finite):
            raise FloatingPointError(
                f"{type(self).__name__}: non-finite gradients at update {self.updates}; lower "
                "the learning rate or clip gradients (clip_norm=...)."
            )

    def reset(self) -> None:
        """Reset the traces, the accumulated gradient and the network's state
        (``net.reset_state()`` when it has one). What the rule keeps across sequences
        (e-prop's random and adaptive feedback) is kept."""
        if hasattr(self.net, "reset_state"):
            self.net.reset_state()
        if self._state is not None:
            self._kept = self._rule.persistent(self._state)
        self._state = None

    def sequence(self, inputs, targets) -> jax.Array:
        """Stream one sequence ``[T, ...]`` from a reset state in one compiled loop
        (updates every ``update_every`` steps), then apply what remains. Returns the
        losses per step ``[T]``."""
        x0, _ = _first_step(inputs)
        self.plan(x0)
        self.reset()
        xs = jax.tree_util.tree_leaves(inputs)
        if not self._plan.step.batched:
            xs = [jnp.asarray(a)[:, None] for a in xs]
        carry, losses = self._compile("sequence")(self._carry(), list(xs), targets)
        self._store(carry)
        if self.update_every is not None:
            self.updates += int(losses.shape[0]) // self.update_every
        self.end_sequence()
        return losses

    def fit(self, batches: Iterable, epochs: int = 1) -> list[float]:
        """``epochs`` passes over ``batches`` (pairs ``(inputs [T, ...], targets [T, ...])``);
        returns the mean loss per time step of each epoch."""
        batches = list(batches)
        if not batches:
            raise OnlineError(f"{type(self).__name__}.fit: no batches given.")
        means = []
        for _ in range(epochs):
            losses = [float(jnp.mean(self.sequence(x, y))) for x, y in batches]
            means.append(sum(losses) / len(losses))
            self.history.append(means[-1])
        return means

    def check_against_bptt(self, inputs, targets, **kwargs) -> dict[str, Any]:
        """:func:`check_against_bptt` with this learner's network, loss and rule."""
        opts = {**self.options, **kwargs}
        return check_against_bptt(
            self.net,
            self.loss_fn,
            inputs,
            targets,
            algorithm=self.algorithm,
            params=self.params,
            dt=self.dt,
            batched=self.batched,
            **opts,
        )


class DRTRL(OnlineLearner):
    """D-RTRL: traces shaped like the parameters (per neuron variable); exact for
    feed-forward layers, the couplings through recurrent weights left out."""

    algorithm = "d_rtrl"


class ESDRTRL(OnlineLearner):
    """ES-D-RTRL: the trace of each dense weight factorised into a presynaptic and a
    postsynaptic trace (memory O(N_pre + N_post) per layer); ``decay=`` sets the
    presynaptic decay (default: the postsynaptic leak at the first step)."""

    algorithm = "es_d_rtrl"


class EProp(OnlineLearner):
    """e-prop (Bellec et al. 2020). Options:

    - ``feedback=``: how the readout error reaches the hidden neurons (the learning
      signal ``B^T dl/du``): ``"symmetric"`` (``B`` = the readout weights ``W_out``),
      ``"random"`` (a fixed normal matrix ``B_0`` drawn from ``seed=``, scaled to the root
      mean square of the readout weights ``W_0`` at the learner's first step; it keeps
      that scale while ``W_out`` trains) or ``"adaptive"`` (Bellec's adaptive e-prop:
      ``B`` starts as that random draw ``B_0``, receives the same updates as ``W_out``
      and a decay ``feedback_decay=`` lambda, default 1e-2, of the mismatch per weight
      update:
      ``B_k = W_k + (1 - lambda)**k (B_0 - W_0)`` after ``k`` updates, ``W_0`` the readout
      weights at the learner's first step; this is Bellec's ``dB = dW`` with the decay on
      both when the optimiser decays ``W_out`` by lambda per update, e.g.
      ``optax.chain(optax.adam(lr), optax.add_decayed_weights(-lambda))``; without it
      ``B`` still converges to ``W_out``, not decayed towards zero). The random and
      adaptive feedback survive :meth:`~OnlineLearner.reset`,
      :meth:`~OnlineLearner.end_sequence` and :meth:`~OnlineLearner.fit` (a new learner
      draws again); :meth:`feedback_matrices` gives them.
    - ``kappa=``: the readout's decay per step (default: read from the readout's State).
    - ``readout=``: the readout's parameter names (default: found from the structure).
    """

    algorithm = "eprop"

    def __init__(self, net, loss_fn, optimizer, params: dict | None = None, **kwargs):
        from ._eprop import _check_feedback

        # refused here, not at the first step
        _check_feedback(kwargs.get("feedback", "symmetric"), kwargs.get("feedback_decay"))
        super().__init__(net, loss_fn, optimizer, params, **kwargs)

    def feedback_matrices(self) -> list:
        """The feedback matrices ``B`` (one per readout operation ``z @ W_out``) that the
        last time step used: random feedback's fixed draw ``B_0``, or adaptive feedback's
        ``W_k + (1 - lambda)**k (B_0 - W_0)`` with the readout weights ``W_k`` of that step
        and the ``k`` weight updates applied before it (the update at the end of the
        sequence comes after)."""
        if self.options.get("feedback", "symmetric") == "symmetric":
            raise OnlineError(
                "EProp.feedback_matrices: only random and adaptive feedback keep their "
                "matrices; this learner has feedback='symmetric' (B is the readout weights "
                "themselves). Create it with feedback='random' or 'adaptive'."
            )
        fb = (self._state or self._kept).get("feedback")
        if fb is None or not bool(fb["ready"]):
            raise OnlineError(
                "EProp.feedback_matrices: no step taken yet; the feedback is drawn at the "
                "first step. Call step(), sequence() or fit() first."
            )
        return list(fb["b"])
