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
  ``dh/dy`` constant (linear leaky dynamics, e.g. LIF with a detached reset).
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
            g = plan.groups[gi]
            es.append(
                {
                    "xbar": jnp.zeros((b, e.n_pre), dtype),
                    "P": jnp.zeros((b, g.size, g.k), dtype),
                    "Lam": jnp.zeros((), dtype),
                    "lam": jnp.asarray(
                        -1.0 if self.es_decay[(leaf, gi)] is None else self.es_decay[(leaf, gi)],
                        dtype,
                    ),
                }
            )
        return {"traces": traces, "es": es, "grad": _zeros_theta(theta)}

    # -- one step ----------------------------------------------------------------------
    def update(self, state, theta, h, c, x, i, target):
        f = self.forward_fn(theta, h, c, x, i)
        td0 = [theta[k] for k in self.td]
        hd0 = [h[k] for k in self.hd]
        _, vjp_fn, (h_new, out) = jax.vjp(f, td0, hd0, has_aux=True)
        value, cot = self.loss(out, target)
        g_td, g_hd = vjp_fn(([jnp.zeros_like(h_new[k]) for k in self.hd], cot))
        grad = list(state["grad"])
        for k, g in zip(self.td, g_td):
            grad[k] = grad[k] + g
        signal = dict(zip(self.hd, g_hd))  # learning signal per hidden leaf [B, ...]
        # contributions of the traces of h_{t-1}
        for tr, e in zip(self.full, state["traces"]):
            grad[tr.leaf] = grad[tr.leaf] + self._contract(tr, e, signal, theta)
        for (key, es), est in zip(self.es.items(), state["es"]):
            grad[key[0]] = grad[key[0]] + self._es_contract(es, est, signal, theta)
        # the Jacobian blocks, the direct increments and (ES) dh/dy, on the cut step
        jac, incr, dy, acts = self._local(theta, h, c, x, i)
        traces = [self._advance(tr, e, jac, incr) for tr, e in zip(self.full, state["traces"])]
        es_states = [
            self._es_advance(key, est, jac, dy, acts) for key, est in zip(self.es, state["es"])
        ]
        return {"traces": traces, "es": es_states, "grad": grad}, h_new, out, value

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

    def _es_contract(self, es, est, signal, theta):
        q = jnp.sum(self._signal(es.group, signal).reshape(est["P"].shape) * est["P"], -1)
        lam = jnp.where(est["Lam"] > 0, est["Lam"], 1.0)
        if es.contracted == 0:
            g = jnp.einsum("bi,bj->ij", est["xbar"], q)
        else:
            g = jnp.einsum("bi,bj->ji", est["xbar"], q)
        return g / lam

    def _local(self, theta, h, c, x, i):
        """Per sample: Jacobian blocks ``[B, *S, k, k]`` per group, direct increments of the
        indexed traces ``[B, *P, k]``, ``dh/dy`` of the ES weights and their inputs."""
        plan = self.plan
        cut = plan.cut
        record = {e.op.path: e.op.activity for e in self.es.values()}
        e_leaves = self.e_leaves
        es_ops = [e.op for e in self.es.values()]
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
        dy = []
        for n_op, e in enumerate(self.es.values()):
            grp = plan.groups[e.group]
            dy.append(
                jnp.stack(
                    [
                        g_d[n_op][:, slot_of[(e.group, a)]].reshape(-1, grp.size)
                        for a in range(grp.k)
                    ],
                    -1,
                )
            )
        acts = [a.reshape(a.shape[0], -1) for a in acts]
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

    def _es_advance(self, key, est, jac, dy, acts):
        n = list(self.es).index(key)
        es = self.es[key]
        grp = self.plan.groups[es.group]
        J = jac[es.group].reshape(-1, grp.size, grp.k, grp.k)
        d = dy[n]  # [B, N, k]
        x = acts[n]
        lam = est["lam"]
        if self.es_decay[key] is None:
            # at the first step: the postsynaptic decay of the variable the input enters
            # (the largest mean |dh/dy| among the variables with a positive diagonal: a leak)
            diag = jnp.diagonal(J, axis1=-2, axis2=-1)  # [B, N, k]
            leak = jnp.mean(diag, axis=(0, 1)) > 0
            score = jnp.where(leak, jnp.mean(jnp.abs(d), axis=(0, 1)), -1.0)
            a = jnp.argmax(score)
            auto = jnp.where(jnp.any(leak), jnp.mean(jnp.take(diag, a, axis=-1)), 0.0)
            lam = jnp.where(est["Lam"] == 0, auto, lam)
        return {
            "xbar": lam * est["xbar"] + x,
            "P": _block_apply(J, est["P"]) + d,
            "Lam": lam * est["Lam"] + 1.0,
            "lam": lam,
        }
