"""The forward-mode rules, one step at a time: exact RTRL, D-RTRL and ES-D-RTRL.

Every rule sees the step ``h_t, o_t = f(theta, h_{t-1}, x_t)`` and accumulates the
gradient of ``sum_t loss(o_t, y_t)`` as

    grad += dl_t/do_t . (do_t/dh_{t-1} M_{t-1} + do_t/dtheta)

where ``M`` is the sensitivity dh/dtheta. The *learning signal* ``dl_t/do_t do_t/dh_{t-1}``
and the *immediate* term are exact (one VJP of the step); the rules differ in ``M``:

- RTRL: ``M_t = df/dh M_{t-1} + df/dtheta``, in full (reference; small networks);
- D-RTRL: per parameter and neuron group, only the paths by which the parameter reaches
  a neuron directly, and the neuron's own ``k x k`` Jacobian block (the couplings
  through weights are dropped): exact for feed-forward layers of any neuron model;
- ES-D-RTRL: a D-RTRL trace of a weight ``y = x @ W`` factorised into a presynaptic
  trace ``xbar_t = lam xbar_{t-1} + x_t`` and a postsynaptic one
  ``P_t = J_t P_{t-1} + dh_t/dy_t``: ``e_t ~ xbar_t (x) P_t / Lam_t`` with
  ``Lam_t = lam Lam_{t-1} + 1``. Exact when every neuron's Jacobian is ``lam I`` and
  ``dh/dy`` constant (linear leaky dynamics, e.g. LIF with a detached reset). ``P`` is
  advanced by one forward-mode product of the step (no Jacobian is formed), weights whose
  products are summed (``x @ W_in + z @ W_rec``) share one ``P``; the trace term and the
  immediate term of a step are regrouped (exactly) into one outer product of the batch's
  rows per step (:meth:`DRTRLRule.update`), added tile by tile
  (:func:`accumulate_outer`): the memory is O(N_pre + N_post) per layer besides the
  gradient itself, for any sequence length.

D-RTRL and ES-D-RTRL skip the reverse pass and the gradient's increment on steps whose
loss has a zero gradient (outside a decision window): exact, and most of the work of a
step when the loss is taken on a few steps only.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from ._interp import evaluate
from ._layout import batch_sum, to_param_layout
from ._plan import Plan

__all__ = ["Rule", "RTRLRule", "DRTRLRule"]


class Rule:
    """Shared machinery: the batched step, the loss and its cotangent."""

    def __init__(self, plan: Plan, loss_fn):
        self.plan, self.step, self.loss_fn = plan, plan.step, loss_fn
        self.hd = plan.diff_hidden()
        self.td = [k for k, d in enumerate(self.step.theta_diff) if d]
        self.out_float = [
            k for k, a in enumerate(self.step.out_avals) if jnp.issubdtype(a.dtype, jnp.inexact)
        ]
        self.loss_unit = None

    # -- the step ----------------------------------------------------------------------
    def merge(self, full, idx, part):
        full = list(full)
        for k, v in zip(idx, part):
            full[k] = v
        return full

    def forward_fn(self, theta, h, c, x, i):
        """``(td, hd) -> ((h_new[hd], out[float]), (h_new, out))`` batched over samples."""

        def f(td, hd):
            th = self.merge(theta, self.td, td)
            hh = self.merge(h, self.hd, hd)
            h_new, out = jax.vmap(self.step.pure, in_axes=(None, 0, None, 0, None))(th, hh, c, x, i)
            return ([h_new[k] for k in self.hd], [out[k] for k in self.out_float]), (h_new, out)

        return f

    def loss(self, out, target):
        """``(loss, d loss / d out[float])`` for the batched output leaves ``out``."""
        step = self.step

        def lf(fvals):
            leaves = self.merge(out, self.out_float, fvals)
            value = self.loss_fn(step.output(step.remove_batch(leaves)), target)
            unit = getattr(value, "unit", None)
            if unit is not None:
                self.loss_unit = unit
                value = value.mantissa
            if jnp.ndim(value) != 0:
                raise TypeError(
                    f"online: loss_fn(output, target) must return a scalar for one time step; "
                    f"got shape {jnp.shape(value)}. Reduce it (e.g. jnp.mean(...))."
                )
            return value

        return jax.value_and_grad(lf)([out[k] for k in self.out_float])

    def cut_args(self, theta, h, c, x, i):
        return [*theta, *h, *jax.tree_util.tree_leaves(c), *x, i]

    def n_split(self):
        st = self.step
        return st.n_theta, st.n_h

    def unpack_cut(self, outs):
        return outs[: self.step.n_h], outs[self.step.n_h :]

    # -- interface ---------------------------------------------------------------------
    def init(self, theta, h):  # pragma: no cover - abstract
        raise NotImplementedError

    def update(self, state, theta, h, c, x, i, target):  # pragma: no cover - abstract
        raise NotImplementedError

    def gradient(self, state) -> list:
        """Gradient per theta leaf (zeros for non-differentiable leaves)."""
        return state["grad"]

    def prime(self, state, theta, h, c, x, i):
        """``state`` prepared with the first step's input ``x`` before the loop (what a
        rule reads from the first step); by default unchanged."""
        del theta, h, c, x, i
        return state

    def clear_gradient(self, state):
        """``state`` with the accumulated gradient set to zero (traces kept)."""
        return {**state, "grad": [jnp.zeros_like(g) for g in state["grad"]]}

    def persistent(self, state) -> dict:
        """The part of ``state`` that outlives a sequence (a learner carries it into the
        fresh state of the next one); by default nothing."""
        del state
        return {}

    def after_update(self, state):
        """``state`` after the learner applied a weight update; by default unchanged."""
        return state


def _block_apply(J, e):
    """``J[..., a, b] e[..., b]`` summed over b: the k x k block of each neuron applied to
    its trace (element-wise products; an einsum would become millions of tiny matmuls)."""
    k = e.shape[-1]
    if k == 1:
        return J[..., 0] * e
    cols = [e[..., b] for b in range(k)]
    return jnp.stack([sum(J[..., a, b] * cols[b] for b in range(k)) for a in range(k)], -1)


def _zeros_theta(theta):
    return [jnp.zeros_like(t) for t in theta]


#: skip the reverse pass on steps whose loss has a zero cotangent (False: always run it;
#: the same gradient, for measuring what a step with a loss costs)
SKIP_ZERO_LOSS = True

#: the rows of a weight-sized gradient increment computed at a time, at least: the
#: increment of a larger weight is added block by block into the accumulator (in place),
#: each block as large as the operands (``max(TILE_ROWS, M)`` rows of ``m``), so that no
#: temporary of the weight's size exists
TILE_ROWS = 16


def accumulate_outer(g, pairs, tile=None):
    """``g + sum(left.T @ right for left, right in pairs)`` (``left [M, n]``,
    ``right [M, m]``, ``g [n, m]``): one product over the stacked rows, computed in
    blocks of ``max(TILE_ROWS, M)`` rows of ``g`` (or ``tile`` elements, when given)
    added in place in a loop, so that the temporaries are no larger than the operands
    (O(n + m) memory besides ``g``)."""
    n, m = g.shape
    left = pairs[0][0] if len(pairs) == 1 else jnp.concatenate([lt for lt, _ in pairs], 0)
    right = pairs[0][1] if len(pairs) == 1 else jnp.concatenate([rt for _, rt in pairs], 0)
    dims = (((0,), (0,)), ((), ()))
    rows = max(TILE_ROWS, left.shape[0])
    budget = max(rows * m if tile is None else tile, 1)
    r = max(1, budget // m)
    while n % r:
        r -= 1
    if n * m <= budget or n // r > 512:  # small, or an awkward size (a large prime)
        return g + jax.lax.dot_general(left, right, dims).astype(g.dtype)

    def body(j, acc):
        s = j * r
        lt = jax.lax.dynamic_slice_in_dim(left, s, r, axis=1)
        blk = jax.lax.dot_general(lt, right, dims).astype(acc.dtype)
        cur = jax.lax.dynamic_slice_in_dim(acc, s, r, axis=0)
        return jax.lax.dynamic_update_slice_in_dim(acc, cur + blk, s, 0)

    return jax.lax.fori_loop(0, n // r, body, g)


class RTRLRule(Rule):
    """Exact real-time recurrent learning (the full sensitivity matrix, forward mode)."""

    def init(self, theta, h):
        n = sum(int(math.prod(jnp.shape(theta[k]))) for k in self.td)
        self.n_params = n
        m = [jnp.zeros((*jnp.shape(h[k]), n), jnp.result_type(h[k])) for k in self.hd]
        return {"M": m, "grad": _zeros_theta(theta)}

    def update(self, state, theta, h, c, x, i, target):
        f = self.forward_fn(theta, h, c, x, i)
        td0 = [theta[k] for k in self.td]
        (_, outs), (h_new, out) = f(td0, [h[k] for k in self.hd])
        value, cot = self.loss(out, target)
        shapes = [jnp.shape(theta[k]) for k in self.td]
        sizes = [int(math.prod(s)) for s in shapes]
        eye = jnp.eye(self.n_params, dtype=jnp.result_type(*td0))
        basis, start = [], 0
        for s, n in zip(shapes, sizes):
            basis.append(eye[:, start : start + n].reshape(self.n_params, *s))
            start += n
        pure = self.step.pure

        def sample(hs, xs, ms, cots):
            def g(td, hd):
                th = self.merge(theta, self.td, td)
                hh = self.merge(hs, self.hd, hd)
                h_n, o = pure(th, hh, c, xs, i)
                return [h_n[k] for k in self.hd], [o[k] for k in self.out_float]

            def column(tp, mcol):
                return jax.jvp(g, (td0, [hs[k] for k in self.hd]), (tp, mcol))[1]

            dh, do = jax.vmap(column, in_axes=(0, -1))(basis, ms)
            gcol = sum(
                jnp.tensordot(d, co, axes=co.ndim) if co.ndim else d * co for d, co in zip(do, cots)
            )
            return [jnp.moveaxis(a, 0, -1) for a in dh], gcol

        m_new, gcols = jax.vmap(sample)(h, x, state["M"], cot)
        gflat = batch_sum(gcols)
        grad = list(state["grad"])
        start = 0
        for k, s, n in zip(self.td, shapes, sizes):
            grad[k] = grad[k] + gflat[start : start + n].reshape(s)
            start += n
        return {"M": m_new, "grad": grad}, h_new, out, value


class DRTRLRule(Rule):
    """D-RTRL (``es=False``) and ES-D-RTRL (``es=True``, with ``decay`` the presynaptic
    trace's decay per step: a float, ``{param name: float}``, or None to take it from the
    postsynaptic Jacobian at the first step)."""

    def __init__(self, plan: Plan, loss_fn, es: bool = False, decay=None):
        super().__init__(plan, loss_fn)
        self.es = {(e.leaf, e.group): e for e in plan.es} if es else {}
        self.decay = decay
        self.full = [tr for tr in plan.traces if (tr.leaf, tr.group) not in self.es]
        self.indexed = [tr for tr in self.full if tr.mode == "indexed"]
        self.broadcast = [tr for tr in self.full if tr.mode == "broadcast"]
        # cotangent slots: one per (group, variable)
        self.slots = [(g, a) for g, grp in enumerate(plan.groups) for a in range(grp.k)]
        self.e_leaves = sorted({tr.leaf for tr in self.indexed})
        # ES weights whose outputs are summed (x @ W_in + z @ W_rec) have the same dh/dy
        # and share one postsynaptic trace
        keys = list(self.es)
        share = plan.es_shared() if es else {}
        self.post_sets = []  # the representative key of each postsynaptic trace
        self.post_of = {}
        for key in keys:
            same = [
                r
                for r in self.post_sets
                if share.get(r[0]) is not None
                and share[r[0]] == share.get(key[0])
                and r[1] == key[1]
            ]
            rep = same[0] if same else None
            if rep is None:
                self.post_sets.append(key)
                rep = key
            self.post_of[key] = self.post_sets.index(rep)
        th_names = plan.theta_names
        self.es_decay = {}
        for key, e in self.es.items():
            lam = decay.get(th_names[e.leaf]) if isinstance(decay, dict) else decay
            self.es_decay[key] = lam

    # -- state -------------------------------------------------------------------------
    def init(self, theta, h):
        plan = self.plan
        b = jnp.shape(h[self.hd[0]])[0] if self.hd else 1
        dtype = jnp.result_type(*(h[k] for k in self.hd)) if self.hd else jnp.float32
        traces = []
        for tr in self.full:
            g = plan.groups[tr.group]
            s = jnp.shape(theta[tr.leaf])
            shape = (b, *s, g.k) if tr.mode == "indexed" else (b, *s, *g.shape, g.k)
            traces.append(jnp.zeros(shape, dtype))
        es = []
        for (leaf, gi), e in self.es.items():
            lam = self.es_decay[(leaf, gi)]
            es.append(
                {
                    "xbar": jnp.zeros((b, e.n_pre), dtype),
                    "Lam": jnp.zeros((), dtype),
                    "lam": jnp.asarray(-1.0 if lam is None else lam, dtype),
                }
            )
        post, pending = [], []
        for rep in self.post_sets:
            g = plan.groups[self.es[rep].group]
            post.append([jnp.zeros((b, *g.shape), dtype) for _ in range(g.k)])
            pending.append(jnp.zeros((b, math.prod(self.es[rep].op.out_shape)), dtype))
        es = {"pre": es, "post": post, "gy": pending}
        return {
            "traces": traces,
            "es": es,
            "grad": _zeros_theta(theta),
            "live": jnp.zeros((), bool),
        }

    def gradient(self, state) -> list:
        """The accumulated gradient, with the immediate term of the last step that the
        ES weights keep pending (``xbar_t (x) dl_t/dy_t``, see :meth:`update`)."""
        grad = list(state["grad"])
        for key, st in zip(self.es, state["es"]["pre"]):
            gy = state["es"]["gy"][self.post_of[key]]
            pairs = [(st["xbar"], gy)]
            if self.es[key].contracted:
                pairs = [(r, lt) for lt, r in pairs]
            grad[key[0]] = accumulate_outer(grad[key[0]], pairs)
        return grad

    def clear_gradient(self, state):
        """``state`` with the accumulated gradient (pending terms included) set to zero."""
        es = {**state["es"], "gy": [jnp.zeros_like(g) for g in state["es"]["gy"]]}
        return {
            **state,
            "es": es,
            "grad": [jnp.zeros_like(g) for g in state["grad"]],
            "live": jnp.zeros((), bool),
        }

    # -- one step ----------------------------------------------------------------------
    def update(self, state, theta, h, c, x, i, target):
        """One step. The gradient's increment is ``dl_t/dh_{t-1} M_{t-1}`` plus the
        immediate ``dl_t/dtheta``; for an ES weight ``y = x @ W`` (trace
        ``xbar_{t-1} (x) P_{t-1} / Lam_{t-1}``) that is
        ``xbar_{t-1} (x) q_t / Lam_{t-1} + x_t (x) gy_t`` (``q_t`` the learning signal on
        ``P``, ``gy_t = dl_t/dy_t``). With ``x_t = xbar_t - lam xbar_{t-1}`` the sum over
        steps is regrouped, exactly, into one outer product per step:
        ``xbar_{t-1} (x) (q_t / Lam_{t-1} - lam gy_t + gy_{t-1})``, the last step's
        ``xbar (x) gy`` kept pending (:meth:`gradient` adds it). The reverse pass and
        the gradient's increment are skipped on steps whose loss has a zero cotangent
        (e.g. outside a decision window) and leave nothing pending."""
        es_keys = list(self.es)
        es_ops = [self.es[key].op for key in es_keys]
        es_leaves = {key[0] for key in es_keys}
        td_v = [k for k in self.td if k not in es_leaves]
        f = self._forward_es(theta, h, c, x, i, es_ops, td_v)
        tdv0 = [theta[k] for k in td_v]
        hd0 = [h[k] for k in self.hd]
        d0 = [jnp.zeros((jnp.shape(hd0[0])[0], *op.out_shape), jnp.result_type(*hd0))
              for op in es_ops]  # fmt: skip
        _, vjp_fn, (h_new, out, (acts, ys)) = jax.vjp(f, tdv0, hd0, d0, has_aux=True)
        value, cot = self.loss(out, target)
        acts = [a.reshape(a.shape[0], -1) for a in acts]
        nonzero = jnp.zeros((), bool)
        for c_ in cot:
            nonzero = nonzero | jnp.any(c_ != 0)
        live = nonzero | state["live"]

        def backward(args):
            grad, pending = args
            g_td, g_hd, g_d = vjp_fn(([jnp.zeros_like(h_new[k]) for k in self.hd], cot))
            grad = list(grad)
            for k, g in zip(td_v, g_td):
                grad[k] = grad[k] + g
            signal = dict(zip(self.hd, g_hd))  # learning signal per hidden leaf [B, ...]
            # contributions of the traces of h_{t-1}
            for tr, e in zip(self.full, state["traces"]):
                grad[tr.leaf] = grad[tr.leaf] + self._contract(tr, e, signal, theta)
            qs = []
            for rep, P in zip(self.post_sets, state["es"]["post"]):
                grp = self.plan.groups[self.es[rep].group]
                q = sum(signal[leaf] * p for leaf, p in zip(grp.leaves, P))
                qs.append(q.reshape(q.shape[0], -1))
            gys = [gy.reshape(gy.shape[0], -1) for gy in g_d]
            for n, (key, est) in enumerate(zip(es_keys, state["es"]["pre"])):
                p = self.post_of[key]
                lam = jnp.where(est["Lam"] > 0, est["Lam"], 1.0)
                right = qs[p] / lam - est["lam"] * gys[n] + pending[p]
                pairs = [(est["xbar"], right)]
                if self.es[key].contracted:
                    pairs = [(r, lt) for lt, r in pairs]
                # added tile by tile: no weight-sized temporary
                grad[key[0]] = accumulate_outer(grad[key[0]], pairs)
            new_pending = [gys[es_keys.index(rep)] for rep in self.post_sets]
            return grad, new_pending

        def skip(args):
            grad, pending = args
            return list(grad), [jnp.zeros_like(p) for p in pending]

        args = (list(state["grad"]), list(state["es"]["gy"]))
        if SKIP_ZERO_LOSS:
            grad, pending = jax.lax.cond(live, backward, skip, args)
        else:
            grad, pending = backward(args)
        traces = state["traces"]
        if self.full:
            jac, incr, _, _ = self._local(theta, h, c, x, i)
            traces = [self._advance(tr, e, jac, incr) for tr, e in zip(self.full, traces)]
        es_states = self._es_advance_all(es_keys, state["es"], theta, h, c, x, i, acts, ys)
        es_states["gy"] = pending
        new = {"traces": traces, "es": es_states, "grad": grad, "live": nonzero}
        return new, h_new, out, value

    def _forward_es(self, theta, h, c, x, i, es_ops, td_v):
        """``(td_v, hd, deltas) -> ((h_new[hd], out[float]), (h_new, out, activities))``:
        the step batched over samples, with ``deltas`` added to the ES operations' outputs
        (their cotangent is ``dl/dy``) and their presynaptic activity recorded."""
        if not es_ops:
            f0 = self.forward_fn(theta, h, c, x, i)

            def f(tdv, hdv, deltas):
                outs, (h_new, out) = f0(tdv, hdv)
                return outs, (h_new, out, ([], []))

            return f
        plan = self.plan
        record = {op.path: op.activity for op in es_ops}
        n_h = self.step.n_h

        def f(tdv, hdv, deltas):
            th = self.merge(theta, td_v, tdv)
            hh = self.merge(h, self.hd, hdv)

            def one(hs, xs, ds):
                pert = {op.path: d for op, d in zip(es_ops, ds)}
                outs, rec = evaluate(
                    plan.jaxpr, self.cut_args(th, hs, c, xs, i), record=record, perturb=pert
                )
                acts = [rec[op.path][0][op.activity] for op in es_ops]
                ys = [rec[op.path][1] - d for op, d in zip(es_ops, ds)]
                return outs[:n_h], outs[n_h:], (acts, ys)

            h_new, out, acts = jax.vmap(one)(hh, x, deltas)
            return ([h_new[k] for k in self.hd], [out[k] for k in self.out_float]), (
                h_new,
                out,
                acts,
            )

        return f

    def _es_advance_all(self, es_keys, states, theta, h, c, x, i, acts, ys, first=False):
        """Advance every ES weight's traces: ``P_t = J_t P_{t-1} + dh_t/dy_t`` as one
        forward-mode product of the cut step (no Jacobian is formed) and
        ``xbar_t = lam xbar_{t-1} + x_t``."""
        if not es_keys:
            return {"pre": [], "post": [], "gy": []}
        plan = self.plan
        es_ops = [self.es[key].op for key in es_keys]
        hd = self.hd
        pos = {leaf: n for n, leaf in enumerate(hd)}
        hd0 = [h[k] for k in hd]
        dtype = jnp.result_type(*hd0)
        b = jnp.shape(hd0[0])[0]
        d0 = [jnp.zeros((b, *op.out_shape), dtype) for op in es_ops]

        def cut_step(hdv, deltas):
            # the ES products' outputs are those of the forward pass (not recomputed)
            def sample(hdv_s, hs, xs, ds, ys_s):
                hh = self.merge(hs, hd, hdv_s)
                pert = {op.path: d for op, d in zip(es_ops, ds)}
                rep = {op.path: y for op, y in zip(es_ops, ys_s)}
                outs, _ = evaluate(
                    plan.jaxpr,
                    self.cut_args(theta, hh, c, xs, i),
                    cut=plan.cut,
                    perturb=pert,
                    replace=rep,
                )
                return [outs[k] for k in hd]

            return jax.vmap(sample)(hdv, h, x, deltas, ys)

        new_post = []
        for rep, P in zip(self.post_sets, states["post"]):
            grp = plan.groups[self.es[rep].group]
            n = es_keys.index(rep)
            th_ = [jnp.zeros_like(v) for v in hd0]
            for leaf, p in zip(grp.leaves, P):
                th_[pos[leaf]] = p
            td_ = [jnp.ones_like(d) if m == n else jnp.zeros_like(d) for m, d in enumerate(d0)]
            res = jax.jvp(cut_step, (hd0, d0), (th_, td_))[1]
            new_post.append([res[pos[leaf]] for leaf in grp.leaves])
        pre = []
        for n, (key, st) in enumerate(zip(es_keys, states["pre"])):
            lam = st["lam"]
            if self.es_decay[key] is not None or "primed" in states:
                pass  # given, or set by prime() before the loop
            elif first:
                lam = self._auto_decay(key, new_post[self.post_of[key]], cut_step, hd0, d0)
            else:
                P = new_post[self.post_of[key]]
                lam = jax.lax.cond(
                    st["Lam"] == 0,
                    lambda P=P, key=key: self._auto_decay(key, P, cut_step, hd0, d0),
                    lambda lam=lam: lam,
                )
            pre.append(
                {"xbar": lam * st["xbar"] + acts[n], "Lam": lam * st["Lam"] + 1.0, "lam": lam}
            )
        out = {"pre": pre, "post": new_post}
        if "primed" in states:
            out["primed"] = states["primed"]
        return out

    def prime(self, state, theta, h, c, x, i):
        """``state`` (fresh, before the first step ``x``) with the presynaptic decays that
        are taken from the first step (``decay=None``) set, so that the loop's steps need
        no branch on the first step. Leaves ``state`` as it is when every decay is given."""
        if not any(self.es_decay[key] is None for key in self.es):
            return state
        es_keys = list(self.es)
        es_ops = [self.es[key].op for key in es_keys]
        es_leaves = {key[0] for key in es_keys}
        td_v = [k for k in self.td if k not in es_leaves]
        f = self._forward_es(theta, h, c, x, i, es_ops, td_v)
        hd0 = [h[k] for k in self.hd]
        d0 = [jnp.zeros((jnp.shape(hd0[0])[0], *op.out_shape), jnp.result_type(*hd0))
              for op in es_ops]  # fmt: skip
        _, (_, _, (acts, ys)) = f([theta[k] for k in td_v], hd0, d0)
        acts = [a.reshape(a.shape[0], -1) for a in acts]
        first = self._es_advance_all(es_keys, state["es"], theta, h, c, x, i, acts, ys, first=True)
        pre = [{**st, "lam": new["lam"]} for st, new in zip(state["es"]["pre"], first["pre"])]
        es = {**state["es"], "pre": pre, "primed": jnp.zeros((), bool)}
        return {**state, "es": es}

    def _auto_decay(self, key, d, cut_step, hd0, d0):
        """At the first step: the postsynaptic decay of the variable the input enters (the
        largest mean ``|dh/dy|`` among the variables with a positive mean diagonal
        Jacobian entry: a leak); ``d`` is ``dh/dy`` per variable ``[B, ...]``."""
        grp = self.plan.groups[self.es[key].group]
        pos = {leaf: n for n, leaf in enumerate(self.hd)}
        diag = []
        for leaf in grp.leaves:
            t = [jnp.ones_like(v) if k == leaf else jnp.zeros_like(v)
                 for k, v in zip(self.hd, hd0)]  # fmt: skip
            col = jax.jvp(cut_step, (hd0, d0), (t, [jnp.zeros_like(v) for v in d0]))[1]
            diag.append(jnp.mean(col[pos[leaf]]))
        diag = jnp.stack(diag)  # [k]
        leak = diag > 0
        score = jnp.where(leak, jnp.stack([jnp.mean(jnp.abs(p)) for p in d]), -1.0)
        a = jnp.argmax(score)
        return jnp.where(jnp.any(leak), diag[a], 0.0).astype(d[0].dtype)

    def _signal(self, g, signal):
        grp = self.plan.groups[g]
        return jnp.stack([signal[leaf] for leaf in grp.leaves], axis=-1)  # [B, *S, k]

    def _contract(self, tr, e, signal, theta):
        grp = self.plan.groups[tr.group]
        sig = self._signal(tr.group, signal)
        if tr.mode == "indexed":
            s = to_param_layout(sig, 1, grp.shape, jnp.shape(theta[tr.leaf]), tr.map)
            return batch_sum(sum(s[..., a] * e[..., a] for a in range(grp.k)))
        nd = len(grp.shape) + 1
        return jnp.tensordot(sig, e, axes=([0, *range(1, nd + 1)], [0, *range(-nd, 0)]))

    def _local(self, theta, h, c, x, i):
        """Per sample: Jacobian blocks ``[B, *S, k, k]`` per group and the direct increments
        of the D-RTRL traces ``[B, *P, k]`` (``dy`` and ``acts``: empty, kept for e-prop's
        signature)."""
        plan = self.plan
        cut = plan.cut
        record = {}
        e_leaves = self.e_leaves
        es_ops = []
        n_th = self.step.n_theta
        hd = self.hd

        def sample(hs, xs):
            def fc(te, hdv, deltas):
                th = self.merge(theta, e_leaves, te)
                hh = self.merge(hs, hd, hdv)
                args = self.cut_args(th, hh, c, xs, i)
                pert = {op.path: dv for op, dv in zip(es_ops, deltas)}
                outs, rec = evaluate(plan.jaxpr, args, cut=cut, record=record, perturb=pert)
                acts = [rec[op.path][0][op.activity] for op in es_ops]
                return [outs[k] for k in hd], acts

            te0 = [theta[k] for k in e_leaves]
            hdv0 = [hs[k] for k in hd]
            d0 = [jnp.zeros(op.out_shape, jnp.result_type(*hdv0)) for op in es_ops]
            _, vjp_c, acts = jax.vjp(fc, te0, hdv0, d0, has_aux=True)
            cots = []
            for g, a in self.slots:
                leaf = plan.groups[g].leaves[a]
                cots.append([jnp.ones_like(v) if k == leaf else jnp.zeros_like(v)
                             for k, v in zip(hd, hdv0)])  # fmt: skip
            stacked = [jnp.stack([c_[j] for c_ in cots]) for j in range(len(hd))]
            g_te, g_hd, g_d = jax.vmap(vjp_c)(stacked)
            bc = [self._broadcast_incr(tr, theta, hs, c, xs, i) for tr in self.broadcast]
            return g_te, g_hd, g_d, acts, bc

        del n_th
        g_te, g_hd, g_d, acts, bc = jax.vmap(sample)(h, x)
        # g_*: [B, K, ...]; K indexes self.slots
        jac = []
        slot_of = {s: n for n, s in enumerate(self.slots)}
        pos = {leaf: n for n, leaf in enumerate(hd)}
        for g, grp in enumerate(plan.groups):
            rows = []
            for a in range(grp.k):
                n = slot_of[(g, a)]
                rows.append(jnp.stack([g_hd[pos[leaf]][:, n] for leaf in grp.leaves], -1))
            jac.append(jnp.stack(rows, axis=-2))  # [B, *S, k(out), k(in)]
        incr = {}
        for tr in self.indexed:
            j = e_leaves.index(tr.leaf)
            grp = plan.groups[tr.group]
            incr[(tr.leaf, tr.group)] = jnp.stack(
                [g_te[j][:, slot_of[(tr.group, a)]] for a in range(grp.k)], -1
            )
        for tr, e in zip(self.broadcast, bc):
            incr[(tr.leaf, tr.group)] = e
        # the per-neuron factors are formed once (not recomputed inside the trace-sized
        # loops that XLA would otherwise fuse them into)
        jac = jax.lax.optimization_barrier(jac)
        dy = []
        return jac, incr, dy, acts

    def _broadcast_incr(self, tr, theta, hs, c, xs, i):
        """``d h_group / d theta_leaf`` on the cut step, by forward mode over the leaf."""
        plan = self.plan
        grp = plan.groups[tr.group]
        p0 = theta[tr.leaf]
        shape = jnp.shape(p0)
        n = int(math.prod(shape))

        def fc(p):
            th = self.merge(theta, [tr.leaf], [p])
            outs, _ = evaluate(plan.jaxpr, self.cut_args(th, hs, c, xs, i), cut=plan.cut)
            return [outs[k] for k in grp.leaves]

        basis = jnp.eye(n, dtype=jnp.result_type(p0)).reshape(n, *shape)
        cols = jax.vmap(lambda t: jax.jvp(fc, (p0,), (t,))[1])(basis)
        e = jnp.stack(cols, -1)  # [n, *S, k]
        return e.reshape(*shape, *grp.shape, grp.k)

    def _advance(self, tr, e, jac, incr):
        grp = self.plan.groups[tr.group]
        J = jac[tr.group]
        if tr.mode == "indexed":
            p_shape = e.shape[1:-1]
            Jp = to_param_layout(J, 1, grp.shape, p_shape, tr.map)
            return _block_apply(Jp, e) + incr[(tr.leaf, tr.group)]
        n_p = e.ndim - 2 - len(grp.shape)
        Jb = J.reshape(J.shape[0], *(1,) * n_p, *J.shape[1:])
        return _block_apply(Jb, e) + incr[(tr.leaf, tr.group)]
