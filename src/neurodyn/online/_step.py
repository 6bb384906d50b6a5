"""One step of a module as a pure function of flat leaves.

The online rules see a module through its step ``h_t, o_t = f(theta, h_{t-1}, x_t)``:
``theta`` are the leaves of the trained :class:`~neurodyn.state.Param` States (Quantity
mantissas), ``h`` the leaves of every State that ``update`` writes (the hidden state),
``o`` the leaves of what ``update`` returns. States only read are constants of the step.
The step is written for one sample: with a batch, the rules ``jax.vmap`` it (the
module's code then sees per-sample shapes, which neurodyn models accept).
"""

from __future__ import annotations

import contextlib

import jax
import jax.numpy as jnp

from neurodyn.state import Param
from neurodyn.state._core import collect_states, run_pure
from neurodyn.units import Quantity

__all__ = ["OnlineError", "StepFunction"]


class OnlineError(ValueError):
    """An online learning rule cannot handle this module (or was used wrongly)."""


def _is_q(x) -> bool:
    return isinstance(x, Quantity)


def _inexact(x) -> bool:
    return jnp.issubdtype(jnp.result_type(x), jnp.inexact)


def _clock(dt):
    """``(i, t) -> context``: the clock scope the step runs in (none without ``dt``)."""
    if dt is None:
        return lambda i: contextlib.nullcontext()
    from neurodyn.dyn import clock  # the layer below; only for nd.dyn networks

    return lambda i: clock(dt, t=i * dt, i=i)


class StepFunction:
    """``module.update(x)`` as ``f(theta, h, c, x, i) -> (h_new, out)`` on lists of leaves.

    Args:
        module: the module (any :class:`~neurodyn.state.Module` whose ``update(x)``
            writes its hidden States and returns the step's output).
        x0: one step's input, as given to ``update`` (with the batch axis when batched).
        params: ``{name: Param}`` to train (default: every Param of the module).
        dt: when given, every step runs in a clock scope ``nd.dyn.clock(dt, t=i dt, i=i)``
            (what ``nd.dyn`` populations need).
        batched: whether the written States and the input carry a leading batch axis
            (default: guessed: the input has two or more axes and every written State
            has the input's leading size as its own).
        method: the method of ``module`` to call (default ``update``).
    """

    def __init__(
        self,
        module,
        x0,
        params: dict | None = None,
        dt=None,
        batched: bool | None = None,
        method: str = "update",
    ):
        self.module = module
        self.clock = _clock(dt)
        fn = getattr(module, method, None)
        if not callable(fn):
            raise OnlineError(
                f"online: {type(module).__name__} has no method {method}(x); the online rules "
                "call module.update(x) once per time step."
            )
        self.fn = fn
        all_params = params if params is not None else module.states(Param)
        if not isinstance(all_params, dict) or not all_params:
            raise OnlineError(
                f"online: {type(module).__name__} has no Param States to train; give params="
                "{name: nd.Param} or create the weights as nd.Param."
            )

        def call(x, i):
            with self.clock(i):
                return self.fn(x)

        self._call = call
        x_struct = jax.tree_util.tree_map(
            lambda a: jax.ShapeDtypeStruct(jnp.shape(a), jnp.result_type(a)), x0
        )
        touched, written = collect_states(
            "online step", call, lambda probe: jax.eval_shape(probe, x_struct, jnp.int32(0))
        )
        written_params = [s for s in written if isinstance(s, Param)]
        if written_params:
            raise OnlineError(
                f"online: {type(module).__name__}.update writes "
                f"{', '.join(s._describe() for s in written_params)}; the trained Params must "
                "stay fixed within a step (leave plasticity out of the trained module)."
            )
        if not written:
            raise OnlineError(
                f"online: {type(module).__name__}.update writes no State, so there is no hidden "
                "state to carry eligibility traces; an update that writes none is a plain "
                "function (use nd.grad)."
            )
        unread = [name for name, p in all_params.items() if p not in touched]
        if unread:
            raise OnlineError(
                f"online: {type(module).__name__}.update never reads the Param(s) "
                f"{', '.join(unread)}, so their gradient would be identically zero. Pass "
                "params={...} with the trained ones only."
            )
        self.param_names = list(all_params)
        self.param_states = [all_params[k] for k in self.param_names]
        self.hidden_states = list(written)
        self.const_states = [s for s in touched if s not in written and s not in self.param_states]
        self.states = self.param_states + self.hidden_states + self.const_states
        # leaves and tree structures
        self.param_trees, self.param_leaf_slices = [], []
        n = 0
        for p in self.param_states:
            leaves, tree = jax.tree_util.tree_flatten(p.value)
            self.param_trees.append(tree)
            self.param_leaf_slices.append(slice(n, n + len(leaves)))
            n += len(leaves)
        self.n_theta = n
        self.hidden_trees, self.hidden_leaf_slices = [], []
        n = 0
        for s in self.hidden_states:
            leaves, tree = jax.tree_util.tree_flatten(s.value)
            self.hidden_trees.append(tree)
            self.hidden_leaf_slices.append(slice(n, n + len(leaves)))
            n += len(leaves)
        self.n_h = n
        self.const_trees = [jax.tree_util.tree_structure(s.value) for s in self.const_states]
        h_leaves = self.hidden_leaves()
        x_leaves = jax.tree_util.tree_leaves(x0)
        self.x_tree = jax.tree_util.tree_structure(x0)
        if batched is None:
            batched = _guess_batched(x_leaves, h_leaves)
        self.batched = bool(batched)
        if self.batched:
            sizes = {jnp.shape(a)[0] for a in h_leaves + x_leaves if jnp.ndim(a) > 0}
            if len(sizes) != 1 or any(jnp.ndim(a) == 0 for a in h_leaves + x_leaves):
                raise OnlineError(
                    f"online: batched=True needs every written State and every input to have "
                    f"the batch as leading axis; got leading sizes {sorted(sizes)}. Build the "
                    "module with init_state(batch_size) and give inputs [T, batch, ...]."
                )
            self.batch_size = sizes.pop()
        else:
            self.batch_size = 1
        self.diff = [_inexact(a) for a in h_leaves]
        self.theta_diff = [_inexact(a) for a in self.theta_leaves()]
        # the output structure (per sample)
        sample = self.per_sample(h_leaves)
        xs = self.per_sample(x_leaves)
        out_struct = jax.eval_shape(
            lambda th, h, c, x: self.pure(th, h, c, x, jnp.int32(0)),
            self.theta_leaves(),
            sample,
            self.const_values(),
            xs,
        )
        self.out_avals = out_struct[1]
        self._jaxpr = None

    # -- values ------------------------------------------------------------------------
    def theta_leaves(self) -> list:
        return [leaf for p in self.param_states for leaf in jax.tree_util.tree_leaves(p.value)]

    def hidden_leaves(self) -> list:
        return [leaf for s in self.hidden_states for leaf in jax.tree_util.tree_leaves(s.value)]

    def const_values(self) -> list:
        return [s.value for s in self.const_states]

    def per_sample(self, leaves):
        """Leaves of sample 0 (for tracing): the batch axis removed when batched."""
        if not self.batched:
            return list(leaves)
        return [a[0] for a in leaves]

    def add_batch(self, leaves):
        """Unbatched leaves given a batch axis of 1 (the rules always work batched)."""
        return [a if self.batched else jnp.asarray(a)[None] for a in leaves]

    def remove_batch(self, leaves):
        return [a if self.batched else a[0] for a in leaves]

    def write_hidden(self, leaves) -> None:
        """Write hidden leaves (native layout) back into the module's States."""
        for s, tree, sl in zip(self.hidden_states, self.hidden_trees, self.hidden_leaf_slices):
            s.value = jax.tree_util.tree_unflatten(tree, list(leaves[sl]))

    def unflatten_params(self, leaves) -> dict:
        return {
            name: jax.tree_util.tree_unflatten(tree, list(leaves[sl]))
            for name, tree, sl in zip(self.param_names, self.param_trees, self.param_leaf_slices)
        }

    # -- the pure step -----------------------------------------------------------------
    def pure(self, theta, h, c, x, i):
        """One step for one sample: ``(h_new leaves, out leaves)``."""
        values = [
            jax.tree_util.tree_unflatten(tree, list(theta[sl]))
            for tree, sl in zip(self.param_trees, self.param_leaf_slices)
        ]
        values += [
            jax.tree_util.tree_unflatten(tree, list(h[sl]))
            for tree, sl in zip(self.hidden_trees, self.hidden_leaf_slices)
        ]
        values += list(c)
        x_tree = jax.tree_util.tree_unflatten(self.x_tree, list(x))
        out, new_values = run_pure(
            "online step", self._call, self.states, values, self.hidden_states, (x_tree, i)
        )
        h_new = [leaf for v in new_values for leaf in jax.tree_util.tree_leaves(v)]
        self.out_tree = jax.tree_util.tree_structure(out, is_leaf=_is_q)
        self.out_units = [
            o.unit if isinstance(o, Quantity) else None
            for o in jax.tree_util.tree_leaves(out, is_leaf=_is_q)
        ]
        return h_new, jax.tree_util.tree_leaves(out)

    def output(self, out_leaves):
        """The step's output rebuilt from leaves (units restored)."""
        leaves = [
            leaf if unit is None else Quantity(leaf, unit)
            for leaf, unit in zip(out_leaves, self.out_units)
        ]
        return jax.tree_util.tree_unflatten(self.out_tree, leaves)

    def jaxpr(self, x_sample):
        """The closed jaxpr of :meth:`pure` for one sample (invars: theta, h, c, x, i)."""
        if self._jaxpr is None:
            c = self.const_values()
            self._c_count = len(jax.tree_util.tree_leaves(c))
            self._jaxpr = jax.make_jaxpr(self.pure)(
                self.theta_leaves(),
                self.per_sample(self.hidden_leaves()),
                c,
                list(x_sample),
                jnp.int32(0),
            )
        return self._jaxpr


def _guess_batched(x_leaves, h_leaves) -> bool:
    if not x_leaves or jnp.ndim(x_leaves[0]) < 2:
        return False
    b = jnp.shape(x_leaves[0])[0]
    return all(jnp.ndim(a) >= 1 and jnp.shape(a)[0] == b for a in h_leaves)
