"""Backpropagation through time with any optax optimiser."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import jax
import jax.numpy as jnp

from neurodyn.state import Memory, Module, Param, jit, value_and_grad
from neurodyn.units import Quantity

__all__ = ["BPTT"]


def _mantissa(tree):
    """``tree`` with every Quantity replaced by its mantissa."""
    return jax.tree_util.tree_map(
        lambda x: x.mantissa if isinstance(x, Quantity) else x,
        tree,
        is_leaf=lambda x: isinstance(x, Quantity),
    )


def _optax():
    try:
        import optax
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("neurodyn.train needs optax: pip install 'neurodyn[train]'.") from err
    return optax


class BPTT:
    """Train the :class:`~neurodyn.state.Param` States of ``model`` by gradient descent
    through time.

    ``loss_fn(model, inputs, targets) -> scalar`` runs the model (typically with
    :func:`neurodyn.state.for_loop` over time) and scores it; the trainer resets
    the model's dynamical state before each batch (``reset_state``), differentiates
    with :func:`neurodyn.state.grad`, optionally clips the global gradient norm, and
    applies ``optimizer`` (any ``optax.GradientTransformation``, schedules included).
    The whole step is one compiled function; the optimiser state lives in a State.

    Example:
        >>> import jax.numpy as jnp
        >>> import optax
        >>> import neurodyn as nd
        >>> class Linear(nd.Module):
        ...     def __init__(self):
        ...         self.w = nd.Param(jnp.zeros(2))
        >>> m = Linear()
        >>> x = jnp.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
        >>> y = x @ jnp.array([2.0, -1.0])
        >>> trainer = nd.train.BPTT(m, lambda m, x, y: jnp.mean((x @ m.w.value - y) ** 2),
        ...                         optax.adam(0.1))
        >>> for _ in range(300):
        ...     loss = trainer.step(x, y)
        >>> [round(float(v), 2) for v in m.w.value]
        [2.0, -1.0]
    """

    def __init__(
        self,
        model: Module,
        loss_fn: Callable,
        optimizer: Any,
        params: dict | None = None,
        clip_norm: float | None = None,
        reset: bool = True,
    ):
        optax = _optax()
        self.model, self.loss_fn, self.optimizer = model, loss_fn, optimizer
        self.params = params if params is not None else model.states(Param)
        if not self.params:
            raise ValueError("BPTT: the model has no Param States to train.")
        self.clip = None if clip_norm is None else optax.clip_by_global_norm(clip_norm)
        values = {k: _mantissa(p.value) for k, p in self.params.items()}
        self.opt_state = Memory(optimizer.init(values), name="optimizer state")
        self.reset = reset
        self.history: list[float] = []
        self._step = jit(self._train_step)

    def _train_step(self, inputs, targets):
        optax = _optax()
        if self.reset and hasattr(self.model, "reset_state"):
            self.model.reset_state()

        def loss():
            return self.loss_fn(self.model, inputs, targets)

        loss_value, grads = value_and_grad(loss, self.params)()
        finite = {
            k: jnp.all(
                jnp.asarray([jnp.all(jnp.isfinite(leaf)) for leaf in jax.tree_util.tree_leaves(g)])
            )
            for k, g in grads.items()
        }
        # optax works on plain arrays: a Quantity parameter is updated through its mantissa
        # (the gradient's mantissa is the derivative with respect to it)
        grads = {k: _mantissa(g) for k, g in grads.items()}
        if self.clip is not None:
            grads, _ = self.clip.update(grads, self.clip.init(grads))
        values = {k: _mantissa(p.value) for k, p in self.params.items()}
        updates, new_opt = self.optimizer.update(grads, self.opt_state.value, values)
        new_values = optax.apply_updates(values, updates)
        for k, p in self.params.items():
            unit = getattr(p.value, "unit", None)
            p.value = new_values[k] if unit is None else Quantity(new_values[k], unit)
        self.opt_state.value = new_opt
        return loss_value, finite

    def step(self, inputs, targets) -> jax.Array:
        """One update on a batch; returns the loss before the update."""
        loss, finite = self._step(inputs, targets)
        bad = [k for k, ok in finite.items() if not bool(ok)]
        if bad or not bool(jnp.isfinite(loss)):
            raise FloatingPointError(
                f"BPTT step {len(self.history)}: non-finite "
                + (f"gradients for {', '.join(bad)}" if bad else f"loss {float(loss)}")
                + ". The parameters were updated with them; lower the learning rate, clip "
                "gradients (clip_norm=...) or check the model for overflow."
            )
        self.history.append(float(loss))
        return loss

    def fit(self, batches: Iterable, epochs: int = 1, progress: bool = False) -> list[float]:
        """Run ``epochs`` passes over ``batches`` (an iterable of (inputs, targets),
        re-iterated each epoch); returns the mean loss per epoch."""
        batches = list(batches)
        means = []
        bar = None
        if progress:
            try:
                from tqdm.auto import tqdm

                bar = tqdm(total=epochs * len(batches), unit="batch")
            except ImportError:
                bar = None
        for _ in range(epochs):
            losses = []
            for x, y in batches:
                losses.append(float(self.step(x, y)))
                if bar is not None:
                    bar.update(1)
            means.append(float(jnp.mean(jnp.asarray(losses))))
        if bar is not None:
            bar.close()
        return means
