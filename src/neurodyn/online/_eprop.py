"""e-prop (Bellec et al. 2020) on the D-RTRL machinery.

The network is split by the readout: *readout parameters* reach only terminal neuron
groups (the readout's own States, which feed no other group) or no State at all; the
*readout operations* are the weight operations ``z @ W_out`` they enter, ``z`` being
the activity of one hidden group. For a hidden parameter ``theta`` (trace ``e``, the
D-RTRL trace of its own neurons):

- the eligibility of the readout input: ``zeta_t = dz_t/dh_{t-1} e_{t-1} + dz_t/dtheta``
  (neuron by neuron; Bellec's ``e_ji = dz_j/dh_j eps_ji``), filtered by the readout's
  time constant: ``zbar_t = kappa zbar_{t-1} + zeta_t``;
- the learning signal ``L_t = B^T dl_t/du_t``, ``u_t`` the readout operation's output,
  ``B`` the readout weights (``feedback="symmetric"``), a fixed random matrix ``B_0``
  (``"random"``: normal, drawn from ``seed``, scaled by the root mean square of the
  readout weights ``W_0`` at the rule's first step, and kept, like adaptive feedback,
  across sequences and weight updates: its scale does not follow the readout's
  training) or a matrix that starts as that draw ``B_0`` and follows the readout
  weights (``"adaptive"``, below);
- ``grad theta += L_t . zbar_t``.

Adaptive feedback (Bellec et al. 2020, Methods, "adaptive e-prop"): ``B`` receives the
same updates as the readout weights ``W_out`` it stands for, and a weight decay ``lambda``
(``feedback_decay``) is applied to both, so that the mismatch ``B - W_out`` shrinks by
``d = 1 - lambda`` per weight update. The rule keeps the random draw ``B_0`` and the
readout weights ``W_0`` of the first step it takes, counts the weight updates ``k``
applied since (the learners count them; one call of :func:`sequence_gradient` applies
none) and uses the closed form::

    B_k = W_k + d**k (B_0 - W_0)        (W_k: the readout weights of the current step)

This is exactly ``B <- B + dW - lambda (B - W_out)`` at every update, ``dW`` the change
of the readout weights as applied, whatever the optimiser. When the optimiser itself
decays the readout weights by ``lambda`` per update (``W <- W + u - lambda W``, e.g.
``optax.chain(optax.adam(lr), optax.add_decayed_weights(-lambda))``, masked to the
readout with ``optax.masked`` if wanted), it is Bellec's ``B <- B + u - lambda B``: the
same update ``u`` and the same decay on both (as in their code). Without such a decay of
``W_out`` (nothing is assumed of the optimiser), ``B`` still converges to ``W_out``; it
is then not decayed towards zero. With ``k = 0`` (a single :func:`sequence_gradient`
call, or a learner's steps before its first weight update) adaptive feedback *is* random
feedback drawn from the same ``seed``. ``W`` is the weight operand of the readout
operation as the step computes it (the parameter itself for ``z @ W_out``). Random
feedback is the same machinery with ``B = B_0`` at every step: the rule keeps ``B_0``
(and ``W_0``) from its first step, and a learner carries them into every later sequence
(a new learner draws again).

Readout parameters get their exact gradient (their own D-RTRL traces: the readout's
trace is not filtered again). With symmetric feedback e-prop equals BPTT for a network
without recurrent weights whose loss reaches the hidden neurons through a linear
leaky readout (decay ``kappa``) or an instantaneous one (``kappa = 0``).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from ._graph import D, O
from ._interp import _bind, evaluate
from ._layout import batch_sum, to_param_layout
from ._plan import Plan
from ._rules import DRTRLRule
from ._step import OnlineError

__all__ = ["EPropRule", "FEEDBACK", "FEEDBACK_DECAY"]

#: the feedback of the readout error to the hidden neurons
FEEDBACK = ("symmetric", "random", "adaptive")
#: the default ``feedback_decay`` of adaptive feedback (the fraction of ``B - W_out``
#: removed per weight update): the ``readout_decay`` of Bellec et al.'s code for adaptive
#: e-prop (IGITUGraz/eligibility_propagation, Figure_2_TIMIT, applied to ``W_out`` and
#: ``B`` after every update); the mismatch falls to 5 % in 300 updates
FEEDBACK_DECAY = 1e-2


def _check_feedback(feedback, feedback_decay):
    """The decay ``lambda`` of ``feedback`` (None unless adaptive); bad values refused."""
    if not isinstance(feedback, str) or feedback not in FEEDBACK:
        raise OnlineError(
            "e-prop: feedback must be 'symmetric', 'random' or 'adaptive', got "
            f"{feedback!r}. Give one of them (feedback='adaptive', feedback_decay=... for "
            "Bellec's adaptive e-prop)."
        )
    if feedback != "adaptive":
        if feedback_decay is not None:
            raise OnlineError(
                f"e-prop: feedback_decay={feedback_decay!r} is the decay of adaptive "
                f"feedback; with feedback={feedback!r} it would do nothing. Give "
                "feedback='adaptive' or leave feedback_decay out."
            )
        return None
    if feedback_decay is None:
        return FEEDBACK_DECAY
    try:
        lam = float(feedback_decay)
    except (TypeError, ValueError):
        lam = None
    if isinstance(feedback_decay, bool) or lam is None or not 0.0 <= lam < 1.0:
        raise OnlineError(
            "e-prop: feedback_decay must be a number in [0, 1) (the fraction of B - W_out "
            f"removed per weight update), got {feedback_decay!r}. Give e.g. "
            f"feedback_decay={FEEDBACK_DECAY} (0: B follows W_out's updates, no decay)."
        )
    return lam


class EPropRule(DRTRLRule):
    def __init__(self, plan: Plan, loss_fn, feedback="symmetric", kappa=None, readout=None,
                 seed: int = 0, feedback_decay=None):  # fmt: skip
        self.feedback_decay = _check_feedback(feedback, feedback_decay)
        super().__init__(plan, loss_fn)
        self.feedback, self.kappa_opt, self.seed = feedback, kappa, int(seed)
        n_h = plan.step.n_h
        h_out = plan.out_deps[:n_h]
        group_of = {leaf: g for g, grp in enumerate(plan.groups) for leaf in grp.leaves}
        # the readout's own States: groups that feed no other group but are fed by one
        # (none when some parameters reach no State: then the readout has no State)
        feeds, fed = set(), set()
        for a in plan.diff_hidden():
            for src in h_out[a]:
                if src[0] == "h" and src[1] in group_of and group_of[src[1]] != group_of[a]:
                    feeds.add(group_of[src[1]])
                    fed.add(group_of[a])
        stateless = any(
            not any(("p", k) in h_out[a] for a in plan.diff_hidden())
            for k in range(plan.step.n_theta)
            if plan.step.theta_diff[k]
        )
        self.terminal = (
            set()
            if stateless
            else {g for g in range(len(plan.groups)) if g not in feeds and g in fed}
        )
        self.readout_leaves = self._readout_leaves(readout, h_out, group_of)
        self.ops = self._readout_ops(group_of)
        self._check_output(group_of)
        self.r_traces = [n for n, tr in enumerate(self.full) if tr.leaf in self.readout_leaves]
        self.h_traces = [n for n, tr in enumerate(self.full) if tr.leaf not in self.readout_leaves]
        self.pairs = [
            (n, r)
            for n in self.h_traces
            for r, (_, g) in enumerate(self.ops)
            if g == self.full[n].group
        ]
        # kappa of each readout operation: given, or the decay of the terminal group its
        # weights reach (0 for a readout without State)
        self.kappa_group = []
        for op, _ in self.ops:
            groups = {
                tr.group
                for tr in self.full
                if ("p", tr.leaf) in op.weight_sources and tr.group in self.terminal
            }
            if kappa is not None or not groups:
                self.kappa_group.append(None)
                continue
            if len(groups) > 1 or plan.groups[next(iter(groups))].k != 1:
                raise OnlineError(
                    "e-prop: the readout's State has several variables (or the readout weights "
                    "reach several groups), so its time constant is not one number; give "
                    "kappa=... (the readout's decay per step)."
                )
            self.kappa_group.append(next(iter(groups)))

    # -- the structure -------------------------------------------------------------------
    def _readout_leaves(self, readout, h_out, group_of) -> set:
        plan, step = self.plan, self.plan.step
        if readout is not None:
            names = [readout] if isinstance(readout, str) else list(readout)
            bad = [n for n in names if n not in step.param_names]
            if bad:
                raise OnlineError(
                    f"e-prop: readout={bad} are not trained parameters; they are "
                    f"{', '.join(step.param_names)}."
                )
            out = set()
            for n in names:
                sl = step.param_leaf_slices[step.param_names.index(n)]
                out |= set(range(sl.start, sl.stop))
            return out
        out = set()
        for k in range(step.n_theta):
            reached = {group_of[a] for a in plan.diff_hidden() if ("p", k) in h_out[a]}
            if reached <= self.terminal:
                out.add(k)
        return out

    def _readout_ops(self, group_of) -> list:
        plan = self.plan
        ops = []
        hidden_groups = set(range(len(plan.groups))) - self.terminal
        for op in plan.ops:
            params = {s[1] for s in op.weight_sources if s[0] == "p"}
            if not params or not params <= self.readout_leaves:
                continue
            groups = {
                group_of[s[1]]
                for s, dep in op.activity_sources.items()
                if s[0] == "h" and s[1] in group_of and group_of[s[1]] in hidden_groups
                and (D in dep.kinds or O in dep.kinds)
            }  # fmt: skip
            if not groups:
                continue
            (g,) = groups if len(groups) == 1 else (None,)
            grp = plan.groups[g] if g is not None else None
            deps = [
                dep
                for s, dep in op.activity_sources.items()
                if s[0] == "h" and s[1] in group_of and group_of[s[1]] == g
            ]
            ok = (
                g is not None
                and op.in_control is None
                and op.eqn.primitive.name == "dot_general"
                and math.prod(op.activity_shape) == grp.size
                and all(O not in d.kinds for d in deps)
                and all(
                    [a for a in d.map if a is not None] == list(range(len(grp.shape)))
                    for d in deps
                    if D in d.kinds
                )
            )
            if not ok:
                raise OnlineError(
                    "e-prop: a readout weight multiplies activity that is not one hidden "
                    "population element by element (or is not a dense product z @ W_out); "
                    "e-prop needs readout = (hidden activity z) @ W_out. Check readout=..."
                )
            ops.append((op, g))
        if not ops:
            raise OnlineError(
                "e-prop: found no readout (a weight multiplying the hidden activity whose "
                "result reaches the output and no other hidden population). Give the "
                "readout's parameter names with readout=..."
            )
        return ops

    def _check_output(self, group_of) -> None:
        plan = self.plan
        for deps in plan.out_deps[plan.step.n_h :]:
            for src, dep in deps.items():
                if src[0] != "h" or src[1] not in group_of:
                    continue
                if group_of[src[1]] not in self.terminal and (D in dep.kinds or O in dep.kinds):
                    raise OnlineError(
                        f"e-prop: the output depends on the hidden State "
                        f"{plan.hidden_names[src[1]]} directly, not through a readout weight; "
                        "e-prop's learning signal comes through the readout only. Return the "
                        "readout (z @ W_out), or use algorithm='d_rtrl'."
                    )

    # -- state -------------------------------------------------------------------------
    def init(self, theta, h):
        state = super().init(theta, h)
        zeta = []
        for n, _ in self.pairs:
            e = state["traces"][n]
            zeta.append(jnp.zeros(e.shape[:-1], e.dtype))
        dtype = state["traces"][0].dtype if state["traces"] else jnp.float32
        kappa = [
            jnp.asarray(
                self.kappa_opt if self.kappa_opt is not None else (0.0 if g is None else -1.0),
                dtype,
            )
            for g in self.kappa_group
        ]
        state = {**state, "zeta": zeta, "kappa": kappa, "t": jnp.zeros((), jnp.int32)}
        if self.feedback != "symmetric":
            # B_0, W_0 are set at the first step (``ready``); ``b``: the B used last;
            # ``k``: the weight updates applied since (used by adaptive feedback)
            ws = []
            for op, _ in self.ops:
                aval = op.eqn.invars[op.weight[0]].aval
                ws.append(jnp.zeros(aval.shape, aval.dtype))
            state["feedback"] = {
                "k": jnp.zeros((), jnp.int32),
                "ready": jnp.zeros((), bool),
                "w0": ws,
                "b0": ws,
                "b": ws,
            }
        return state

    def persistent(self, state) -> dict:
        """What outlives a sequence: the random or adaptive feedback (``B_0``, ``W_0``,
        the count of weight updates ``k`` and the last ``B``)."""
        return {"feedback": state["feedback"]} if self.feedback != "symmetric" else {}

    def after_update(self, state):
        """``state`` after a weight update was applied: random and adaptive feedback
        count it (only adaptive feedback's ``B`` depends on the count)."""
        if self.feedback == "symmetric":
            return state
        fb = state["feedback"]
        return {**state, "feedback": {**fb, "k": fb["k"] + 1}}

    def _feedback(self, n_op, w, fb_state=None):
        """The feedback matrix of readout operation ``n_op`` whose weight operand is ``w``
        at this step; with random or adaptive feedback also ``(W_0, B_0)`` as they are
        after it (drawn at the rule's first step, kept after)."""
        if self.feedback == "symmetric":
            return w, None
        ready = fb_state["ready"]
        w0 = jnp.where(ready, fb_state["w0"][n_op], w)
        b0 = jnp.where(ready, fb_state["b0"][n_op], self._random(n_op, w))
        if self.feedback == "random":  # fixed: B = B_0
            return b0, (w0, b0)
        d = jnp.asarray(1.0 - self.feedback_decay, jnp.result_type(w))
        dk = d ** fb_state["k"].astype(d.dtype)  # exactly 1 at k = 0: then B = B_0
        return dk * b0 + (w - dk * w0), (w0, b0)

    def _random(self, n_op, w):
        """The random draw ``B_0``: normal (key ``seed`` folded with ``n_op``), scaled by
        the root mean square of ``w`` (:meth:`_feedback` calls it with the readout
        weights ``W_0`` of the first step and keeps the result)."""
        op, _ = self.ops[n_op]
        key = jax.random.fold_in(jax.random.key(self.seed), n_op)
        scale = jnp.sqrt(jnp.mean(jax.lax.stop_gradient(w) ** 2))
        scale = jnp.where(scale > 0, scale, 1.0 / math.sqrt(max(1, math.prod(op.activity_shape))))
        return jax.random.normal(key, jnp.shape(w), jnp.result_type(w)) * scale

    # -- one step ----------------------------------------------------------------------
    def update(self, state, theta, h, c, x, i, target):
        plan, step = self.plan, self.plan.step
        n_h = step.n_h
        hd, td = self.hd, self.td
        paths = {op.path: op.activity for op, _ in self.ops}

        def f(tdv, hdv, deltas):
            th = self.merge(theta, td, tdv)

            def sample(hs, hdv_s, xs, ds):
                hh = self.merge(hs, hd, hdv_s)
                pert = {op.path: d for (op, _), d in zip(self.ops, ds)}
                outs, rec = evaluate(
                    plan.jaxpr, self.cut_args(th, hh, c, xs, i), record=paths, perturb=pert
                )
                h_new, o = outs[:n_h], outs[n_h:]
                aux = (h_new, o, [rec[op.path][0] for op, _ in self.ops])
                return ([h_new[k] for k in hd], [o[k] for k in self.out_float]), aux

            return jax.vmap(sample)(h, hdv, x, deltas)

        b = jnp.shape(h[hd[0]])[0]
        d0 = [jnp.zeros((b, *op.out_shape), jnp.result_type(h[hd[0]])) for op, _ in self.ops]
        _, vjp_fn, (h_new, out, recs) = jax.vjp(
            f, [theta[k] for k in td], [h[k] for k in hd], d0, has_aux=True
        )
        value, cot = self.loss(out, target)
        g_td, g_hd, g_d = vjp_fn(([jnp.zeros_like(h_new[k]) for k in hd], cot))
        grad = list(state["grad"])
        for k, g in zip(td, g_td):
            if k in self.readout_leaves:
                grad[k] = grad[k] + g
        signal = dict(zip(hd, g_hd))
        for n in self.r_traces:
            tr = self.full[n]
            grad[tr.leaf] = grad[tr.leaf] + self._contract(tr, state["traces"][n], signal, theta)
        # learning signals: B^T dl/du, per sample, on the hidden group's neurons
        signals, adapt = [], []
        for n_op, ((op, g), ops_rec, u) in enumerate(zip(self.ops, recs, g_d)):
            a_idx, w_idx = op.activity, op.weight[0]
            z, w = ops_rec[a_idx], ops_rec[w_idx]
            fb, start = self._feedback(n_op, w[0], state.get("feedback"))
            adapt.append((fb, start))

            def lsig(z_s, u_s, op=op, a_idx=a_idx, w_idx=w_idx, fb=fb):
                def fz(zz):
                    operands = [None, None]
                    operands[a_idx], operands[w_idx] = zz, fb
                    return _bind(op.eqn, operands)[0]

                return jax.vjp(fz, z_s)[1](u_s)[0]

            sig = jax.vmap(lsig)(z, u)
            signals.append(sig.reshape(b, *plan.groups[g].shape))
        jac, incr, z_jac, z_incr = self._local_eprop(theta, h, c, x, i)
        kappa = list(state["kappa"])
        for r, g in enumerate(self.kappa_group):
            if g is not None and self.kappa_opt is None:
                auto = jnp.mean(jac[g])
                kappa[r] = jnp.where(state["t"] == 0, auto, kappa[r])
        zeta = []
        for (n, r), zb in zip(self.pairs, state["zeta"]):
            tr, e = self.full[n], state["traces"][n]
            grp = plan.groups[tr.group]
            dz = z_jac[r]  # [B, *S, k]
            if tr.mode == "indexed":
                dzp = to_param_layout(dz, 1, grp.shape, jnp.shape(theta[tr.leaf]), tr.map)
                z_new = sum(dzp[..., a] * e[..., a] for a in range(grp.k)) + z_incr[(n, r)]
                zb = kappa[r] * zb + z_new
                lp = to_param_layout(signals[r], 1, grp.shape, jnp.shape(theta[tr.leaf]), tr.map)
                grad[tr.leaf] = grad[tr.leaf] + batch_sum(lp * zb)
            else:
                n_p = jnp.ndim(theta[tr.leaf])
                dzb = dz.reshape(dz.shape[0], *(1,) * n_p, *dz.shape[1:])
                z_new = sum(dzb[..., a] * e[..., a] for a in range(grp.k)) + z_incr[(n, r)]
                zb = kappa[r] * zb + z_new
                ls = signals[r].reshape(b, *(1,) * n_p, *grp.shape)
                axes = tuple(range(1 + n_p, 1 + n_p + len(grp.shape)))
                grad[tr.leaf] = grad[tr.leaf] + batch_sum(jnp.sum(ls * zb, axis=axes))
            zeta.append(zb)
        traces = [self._advance(tr, e, jac, incr) for tr, e in zip(self.full, state["traces"])]
        new_state = {
            **state,
            "traces": traces,
            "zeta": zeta,
            "kappa": kappa,
            "grad": grad,
            "t": state["t"] + 1,
        }
        if self.feedback != "symmetric":
            new_state["feedback"] = {
                **state["feedback"],
                "ready": jnp.ones((), bool),
                "w0": [w0 for _, (w0, _) in adapt],
                "b0": [b0 for _, (_, b0) in adapt],
                "b": [fb for fb, _ in adapt],
            }
        return new_state, h_new, out, value

    def _local_eprop(self, theta, h, c, x, i):
        """As :meth:`DRTRLRule._local`, plus the derivatives of each readout operation's
        activity ``z``: ``dz/dh`` per neuron ``[B, *S, k]`` and ``dz/dtheta`` per trace."""
        plan = self.plan
        hd = self.hd
        e_leaves = self.e_leaves
        record = {op.path: op.activity for op, _ in self.ops}
        n_slots = len(self.slots)

        def sample(hs, xs):
            def fc(te, hdv):
                th = self.merge(theta, e_leaves, te)
                hh = self.merge(hs, hd, hdv)
                outs, rec = evaluate(
                    plan.jaxpr, self.cut_args(th, hh, c, xs, i), cut=plan.cut, record=record
                )
                zs = [rec[op.path][0][op.activity] for op, _ in self.ops]
                return [outs[k] for k in hd], zs

            te0 = [theta[k] for k in e_leaves]
            hdv0 = [hs[k] for k in hd]
            (h1, z1), vjp_c = jax.vjp(fc, te0, hdv0)
            cots = []
            for g, a in self.slots:
                leaf = plan.groups[g].leaves[a]
                cots.append(
                    (
                        [
                            jnp.ones_like(v) if k == leaf else jnp.zeros_like(v)
                            for k, v in zip(hd, h1)
                        ],  # fmt: skip
                        [jnp.zeros_like(z) for z in z1],
                    )
                )
            for r in range(len(self.ops)):
                cots.append(
                    (
                        [jnp.zeros_like(v) for v in h1],
                        [
                            jnp.ones_like(z) if q == r else jnp.zeros_like(z)
                            for q, z in enumerate(z1)
                        ],  # fmt: skip
                    )
                )
            stacked = jax.tree_util.tree_map(lambda *a: jnp.stack(a), *cots)
            g_te, g_hd = jax.vmap(vjp_c)(stacked)
            bc = [self._broadcast_incr_z(tr, theta, hs, c, xs, i) for tr in self.broadcast]
            return g_te, g_hd, bc

        g_te, g_hd, bc = jax.vmap(sample)(h, x)
        slot_of = {s: n for n, s in enumerate(self.slots)}
        pos = {leaf: n for n, leaf in enumerate(hd)}
        jac = []
        for g, grp in enumerate(plan.groups):
            rows = [
                jnp.stack([g_hd[pos[leaf]][:, slot_of[(g, a)]] for leaf in grp.leaves], -1)
                for a in range(grp.k)
            ]
            jac.append(jnp.stack(rows, axis=-2))
        incr = {}
        for tr in self.indexed:
            j = e_leaves.index(tr.leaf)
            incr[(tr.leaf, tr.group)] = jnp.stack(
                [g_te[j][:, slot_of[(tr.group, a)]] for a in range(plan.groups[tr.group].k)], -1
            )
        for tr, (e, _) in zip(self.broadcast, bc):
            incr[(tr.leaf, tr.group)] = e
        z_jac = []
        for r, (_, g) in enumerate(self.ops):
            grp = plan.groups[g]
            z_jac.append(jnp.stack([g_hd[pos[leaf]][:, n_slots + r] for leaf in grp.leaves], -1))
        z_incr = {}
        bc_of = {id(tr): ez for tr, (_, ez) in zip(self.broadcast, bc)}
        for n, r in self.pairs:
            tr = self.full[n]
            if tr.mode == "indexed":
                z_incr[(n, r)] = g_te[e_leaves.index(tr.leaf)][:, n_slots + r]
            else:
                z_incr[(n, r)] = bc_of[id(tr)][r]
        return jac, incr, z_jac, z_incr

    def _broadcast_incr_z(self, tr, theta, hs, c, xs, i):
        plan = self.plan
        grp = plan.groups[tr.group]
        p0 = theta[tr.leaf]
        shape = jnp.shape(p0)
        n = int(math.prod(shape))
        record = {op.path: op.activity for op, _ in self.ops}

        def fc(p):
            th = self.merge(theta, [tr.leaf], [p])
            outs, rec = evaluate(
                plan.jaxpr, self.cut_args(th, hs, c, xs, i), cut=plan.cut, record=record
            )
            zs = [rec[op.path][0][op.activity] for op, _ in self.ops]
            return [outs[k] for k in grp.leaves], zs

        basis = jnp.eye(n, dtype=jnp.result_type(p0)).reshape(n, *shape)
        cols, zcols = jax.vmap(lambda t: jax.jvp(fc, (p0,), (t,))[1])(basis)
        e = jnp.stack(cols, -1).reshape(*shape, *grp.shape, grp.k)
        ez = []
        for (_, g), zc in zip(self.ops, zcols):
            gs = plan.groups[g].shape
            ez.append(zc.reshape(*shape, *gs))
        return e, ez
