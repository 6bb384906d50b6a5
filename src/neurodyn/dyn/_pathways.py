"""The code of a synaptic pathway (``on_pre`` / ``on_post``), compiled onto the
event operators.

Statements run in order, as Brian2's: the values of the synaptic variables are carried
symbolically from statement to statement (a function of the values at the start of the
pathway, with the event-driven variables first advanced exactly from their last update
to ``t``), and written once, by one :func:`neurodyn.event.update_op` of several targets
(all the synaptic variables the pathway changes, in one pass over the synapses of the
neurons that spiked). A write to a postsynaptic variable (``g_post +=
w``) is one :func:`neurodyn.event.scatter_op` on presynaptic events (a
:func:`~neurodyn.event.gather_op` for ``x_pre += ...`` on postsynaptic events); the other
combinations go through a masked computation over all synapses (``dense``), which is
also the reference backend of the tests.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from neurodyn.event import gather_op, scatter_op, update_op

__all__ = ["Pathway", "env_group", "Lazy"]


def env_group(key: str) -> tuple[str, str]:
    """``(group, field)`` of an environment key: ``x_pre`` -> ("pre", "x"), ``x_post``
    -> ("post", "x"), ``t`` / ``dt`` -> ("p", ...), the indices ``i`` / ``j`` and counts
    on their side, anything else a synaptic variable."""
    if key in ("t", "dt"):
        return "p", key
    if key in ("i", "N_outgoing"):
        return "pre", key
    if key in ("j", "N_incoming"):
        return "post", key
    if key.endswith("_pre"):
        return "pre", key[:-4]
    if key.endswith("_post"):
        return "post", key[:-5]
    return "syn", key


class Lazy:
    """An environment whose entries ``funcs[key](base)`` are computed when first read,
    over a base environment (the current values of pending synaptic variables)."""

    def __init__(self, base, funcs: dict):
        self.base, self.funcs, self.cache = base, funcs, {}

    def __getitem__(self, key):
        if key in self.funcs:
            if key not in self.cache:
                self.cache[key] = self.funcs[key](self.base)
            return self.cache[key]
        return self.base[key]


class _BodyEnv:
    """The environment inside an event-operator body: one scalar of each field."""

    def __init__(self, pre, post, syn, p):
        self.groups = {"pre": pre, "post": post, "syn": syn, "p": p}

    def __getitem__(self, key):
        group, field = env_group(key)
        return getattr(self.groups[group], field)


class DenseEnv:
    """The environment over all synapses: pre/post fields gathered through the synapse
    indices (computed when first read)."""

    def __init__(self, syn, pre, post, params, pre_idx, post_idx):
        self.src = {"syn": syn, "pre": pre, "post": post, "p": params}
        self.idx = {"pre": pre_idx, "post": post_idx}
        self.cache = {}

    def __getitem__(self, key):
        if key not in self.cache:
            group, field = env_group(key)
            v = self.src[group][field]
            if group in ("pre", "post"):
                v = jnp.take(v, self.idx[group], axis=-1)
            self.cache[key] = v
        return self.cache[key]


def _with_current(fn, pending: dict):
    if not pending:
        return fn
    return lambda env: fn(Lazy(env, pending))


def _combine(op, old, rhs):
    def new(env):
        a, b = old(env), rhs(env)
        if op == "=":
            return b
        if op == "+=":
            return a + b
        if op == "-=":
            return a - b
        if op == "*=":
            return a * b
        return a / b

    return new


def _body(fn, name):
    def body(pre, post, syn, p):
        return fn(_BodyEnv(pre, post, syn, p))

    body.__name__ = name
    return body


class Pathway:
    """The compiled code of one pathway: ``side`` is ``"pre"`` (presynaptic spikes) or
    ``"post"``; ``stmts`` are ``[(target kind, base name, op, rhs function, keys read)]``
    with target kind ``"syn"``, ``"pre"`` or ``"post"``; ``decays`` gives the exact
    advance of each event-driven variable to ``t`` (with the keys it reads)."""

    def __init__(self, owner, side, stmts, decays: dict, backend: str, csc=None):
        self.owner, self.side, self.backend = owner, side, backend
        self.csc = csc  # the column view of the structure, for updates on post
        self.steps = []
        pending: dict = {}
        reads: dict = {}
        for k, (fn, keys) in decays.items():
            pending[k], reads[k] = fn, set(keys)
        for kind, base, op, rhs, keys in stmts:
            if kind == "syn":
                rd = set(keys)
                for k in keys:
                    rd |= reads.get(k, set())
                old = pending.get(base, _read(base))
                pending[base] = _combine(op, old, _with_current(rhs, dict(pending)))
                reads[base] = rd | reads.get(base, {base})
                continue
            key = f"{base}_{kind}"
            if any(key in r for r in reads.values()):
                self._flush(pending, reads)  # earlier values must not see this write
            fn = _with_current(rhs, dict(pending))
            self.steps.append(("write", kind, base, op, fn, self._op("write", kind, op, fn, base)))
        if decays:
            pending["lastupdate"] = lambda env: env["t"] + 0 * env["lastupdate"]
            reads["lastupdate"] = {"t", "lastupdate"}
        self._flush(pending, reads)

    def _flush(self, pending, reads):
        if not pending:
            return
        op = None
        if self.backend != "dense":
            fns = dict(pending)

            def values(env):
                return {k: fn(env) for k, fn in fns.items()}

            name = f"{self.owner}.on_{self.side}"
            op = update_op(on=self.side, target=tuple(fns))(_body(values, name))
        self.steps.append(("flush", dict(pending), op))
        pending.clear()
        reads.clear()

    def _op(self, what, kind, op, fn, base):
        if self.backend == "dense":
            return None
        name = f"{self.owner}.on_{self.side}.{base}"
        if op in ("+=", "-=") and kind == "post" and self.side == "pre":
            return scatter_op(_body(fn, name))
        if op in ("+=", "-=") and kind == "pre" and self.side == "post":
            return gather_op(_body(fn, name))
        return None  # the masked computation over all synapses

    @property
    def targets(self) -> dict[str, set[str]]:
        out = {"pre": set(), "post": set()}
        for step in self.steps:
            if step[0] == "write":
                out[step[1]].add(step[2])
        return out

    def run(
        self, events, conn, syn, pre, post, params, pre_idx, post_idx, masks, per_synapse=False
    ):
        """One pathway on one simulation's ``events``: returns the new ``(syn, pre,
        post)`` dicts of SI arrays. ``masks[kind]``: where writes to a ``(unless
        refractory)`` variable are dropped (refractory neurons), or None.
        ``per_synapse``: ``events`` flags synapses, not neurons (per-synapse delays: the
        spikes that arrive now at each synapse); then every step is the masked
        computation over all synapses."""
        syn, pre, post = dict(syn), dict(pre), dict(post)
        groups = {"pre": pre, "post": post}
        hit_idx = pre_idx if self.side == "pre" else post_idx
        hit = events if per_synapse else jnp.take(events, hit_idx)
        after = None
        for step in self.steps:
            if step[0] == "flush":
                _, pending, op = step
                if op is None or per_synapse:  # the masked computation over all synapses
                    env = DenseEnv(syn, pre, post, params, pre_idx, post_idx)
                    new = {}
                    for k, fn in pending.items():
                        old = syn[k]
                        vals = jnp.broadcast_to(fn(env), jnp.shape(old))
                        new[k] = jnp.where(hit, vals.astype(old.dtype), old)
                else:  # one pass over the synapses of the spiking neurons
                    fields = _fields(op, syn, pre, post, params, tuple(pending))
                    # after the ops that read the old values: then in place, no copy
                    new = op(events, conn, **fields, csc=self.csc, after=after)
                after = None
                syn.update(new)
                continue
            _, kind, base, op, fn, event_op = step
            target = groups[kind]
            old = target[base]
            n = old.shape[-1]
            if event_op is not None and not per_synapse:
                x = event_op(events, conn, **_fields(event_op, syn, pre, post, params))
                x = jnp.asarray(x, old.dtype)
                after = x if after is None else after + x[..., :1]
                new = old + x if op == "+=" else old - x
            else:
                env = DenseEnv(syn, pre, post, params, pre_idx, post_idx)
                vals = jnp.broadcast_to(fn(env), jnp.shape(hit_idx)).astype(old.dtype)
                idx = pre_idx if kind == "pre" else post_idx
                where = jnp.where(hit, idx, n)
                if op in ("+=", "-="):
                    delta = jnp.zeros_like(old).at[where].add(vals, mode="drop")
                    new = old + delta if op == "+=" else old - delta
                elif op == "=":
                    new = old.at[where].set(vals, mode="drop")
                elif op == "*=":
                    new = old.at[where].multiply(vals, mode="drop")
                else:
                    new = old.at[where].divide(vals, mode="drop")
            mask = masks.get(kind)
            if mask is not None and base in masks.get(kind + "_vars", ()):
                new = jnp.where(mask, old, new)
            target[base] = new
        return syn, pre, post


def _read(name):
    return lambda env: env[name]


def _fields(op, syn, pre, post, params, targets=()):
    f = op.body.fields
    out = {
        "pre": {k: pre[k] for k in f["pre"]},
        "post": {k: post[k] for k in f["post"]},
        "syn": {k: syn[k] for k in f["syn"]},
        "params": {k: params[k] for k in f["p"]},
    }
    for k in targets:
        out["syn"][k] = syn[k]
    return out


def run_batched(
    path, events, conn, syn, pre, post, params, pre_idx, post_idx, masks, per_synapse=False
):
    """:meth:`Pathway.run` over a leading batch axis (one lane at a time per op)."""

    def one(ev, s, a, b, m):
        m = {**masks, **m}
        return path.run(ev, conn, s, a, b, params, pre_idx, post_idx, m, per_synapse)

    m = {k: v for k, v in masks.items() if not k.endswith("_vars") and v is not None}
    return jax.vmap(one)(events, syn, pre, post, m)
