"""e-prop with random and adaptive feedback (Bellec et al. 2020, "random e-prop" and
Methods, "adaptive e-prop").

Random feedback is a fixed matrix B_0: a normal draw scaled by the root mean square of
the readout weights W_0 at the rule's first step, kept across sequences and weight
updates. Adaptive feedback starts as that draw (same seed), receives the same updates as
the readout weights W_out and a decay lambda per update on both, so that B - W_out
shrinks by (1 - lambda) per weight update. The references here are computed
independently of the rule: B_0 from the draw and W_0, B from the recursion over the
learner's own successive readout weights, gradients from symmetric and random e-prop.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import neurodyn as nd
from neurodyn.online import EProp, OnlineError


def _data(rng, T=10, batch=4):
    xs = jnp.asarray(rng.normal(size=(T, batch, 3)))
    ys = jnp.asarray(0.3 * rng.normal(size=(T, batch, 2)))
    return xs, ys


def _random_draw(seed, w):
    """``feedback="random"`` as documented: a normal matrix (key ``seed``, the readout
    operation's index 0) scaled by the root mean square of the readout weights ``w``
    (those of the first step: ``W_0``)."""
    key = jax.random.fold_in(jax.random.key(seed), 0)
    return jax.random.normal(key, w.shape, w.dtype) * jnp.sqrt(jnp.mean(w**2))


def _feedback_from(fn):
    """A stand-in for ``EPropRule._feedback`` whose random feedback is ``fn(rule, n_op,
    w)`` at every step (``w``: the readout weights of the step), written here."""

    def feedback(self, n_op, w, fb_state=None):
        b = fn(self, n_op, w)
        return b, (w, b)

    return feedback


def _per_step_draw(rule, n_op, w):
    """The random feedback as it was before it was fixed: the draw of key ``seed``
    (folded with ``n_op``) scaled by the root mean square of the *current* ``w``."""
    key = jax.random.fold_in(jax.random.key(rule.seed), n_op)
    return jax.random.normal(key, w.shape, w.dtype) * jnp.sqrt(jnp.mean(w**2))


@pytest.mark.parametrize(
    "x64",
    [True, pytest.param(False, marks=pytest.mark.slow)],  # (float32: 7 s, make test-slow)
    ids=["float64", "float32"],
)
def test_random_feedback_of_one_call_is_the_draw_scaled_by_the_weights(nets, monkeypatch, x64):
    # one sequence_gradient call (k = 0): W = W_0 at every step, so the fixed B_0 gives
    # what the draw scaled by the current readout weights gave, bit for bit
    with jax.enable_x64(x64):
        m = nets.ALIF(rec=True, kappa=0.8, batch=4)
        xs, ys = _data(nets.rng)
        assert m.w_out.value.dtype == xs.dtype == (jnp.float64 if x64 else jnp.float32)
        got = nets.online(m, xs, ys, "eprop", feedback="random", seed=3)
        with monkeypatch.context() as mp:
            mp.setattr(nd.online._eprop.EPropRule, "_feedback", _feedback_from(_per_step_draw))
            ref = nets.online(m, xs, ys, "eprop", feedback="random", seed=3)
        for k in ref:
            assert jnp.array_equal(got[k], ref[k]), k
        sym = nets.online(m, xs, ys, "eprop")
        assert nets.rel_err(got["w_in"], sym["w_in"]) > 1e-3  # the comparison can fail
        # the learner's first sequence draws the same B_0 (to rounding: the mean of
        # W_0 ** 2 is summed in another order here than in the compiled step)
        learner = EProp(m, nets.mse, optax.sgd(0.1), feedback="random", seed=3)
        w0 = m.w_out.value
        learner.sequence(xs, ys)
        (b,) = learner.feedback_matrices()
        eps = float(jnp.finfo(b.dtype).eps)
        np.testing.assert_allclose(b, _random_draw(3, w0), rtol=4 * eps, atol=0)


def test_random_feedback_stays_fixed_while_the_readout_learns(nets, monkeypatch):
    seed, lr = 5, 0.01
    m = nets.ALIF(rec=True, kappa=0.8, batch=4)
    w0 = np.asarray(m.w_out.value)
    b0 = np.asarray(_random_draw(seed, m.w_out.value))  # B_0, from W_0
    learner = EProp(m, nets.mse, optax.sgd(lr), feedback="random", seed=seed)
    bs = []
    for _ in range(6):
        xs, ys = _data(nets.rng)
        learner.sequence(xs, ys)  # one weight update at its end
        bs.append(np.asarray(learner.feedback_matrices()[0]))
        learner.reset()  # an extra reset keeps the feedback too
    np.testing.assert_allclose(bs[0], b0, rtol=1e-14, atol=0)  # (rounding: see above)
    for b in bs[1:]:
        assert np.array_equal(b, bs[0])  # kept as it is, bit for bit
    assert learner.updates == 6
    w = m.w_out.value
    rms0, rms = np.sqrt(np.mean(w0**2)), float(jnp.sqrt(jnp.mean(w**2)))
    assert abs(rms / rms0 - 1) > 1e-2  # the readout's scale moved; B_0's did not
    # the next update's gradient is e-prop's with B = B_0, not with the draw rescaled to W
    xs, ys = _data(nets.rng)
    with monkeypatch.context() as mp:
        fixed = _feedback_from(lambda rule, n_op, w: jnp.asarray(b0))
        mp.setattr(nd.online._eprop.EPropRule, "_feedback", fixed)
        ref = nets.online(m, xs, ys, "eprop", feedback="random", seed=seed)
        mp.setattr(nd.online._eprop.EPropRule, "_feedback", _feedback_from(_per_step_draw))
        drifting = nets.online(m, xs, ys, "eprop", feedback="random", seed=seed)
    w_in = m.w_in.value
    learner.sequence(xs, ys)
    g = (w_in - m.w_in.value) / lr
    assert nets.rel_err(g, ref["w_in"]) < 1e-8
    assert nets.rel_err(drifting["w_in"], ref["w_in"]) > 1e-3  # the comparison can fail
    # a new learner draws again, at the readout weights of its own first step
    w1 = m.w_out.value
    fresh = EProp(m, nets.mse, optax.sgd(lr), feedback="random", seed=seed)
    fresh.sequence(xs, ys)
    np.testing.assert_allclose(fresh.feedback_matrices()[0], _random_draw(seed, w1), rtol=1e-14)
    assert np.abs(_random_draw(seed, w1) - b0).max() > 1e-3


def test_adaptive_feedback_without_updates_is_random_feedback(nets):
    # one sequence_gradient call applies no weight update (k = 0): B = B_0, the random draw
    m = nets.ALIF(rec=True, kappa=0.8, batch=4)
    xs, ys = _data(nets.rng)
    rnd = nets.online(m, xs, ys, "eprop", feedback="random", seed=3)
    ada = nets.online(m, xs, ys, "eprop", feedback="adaptive", seed=3, feedback_decay=0.2)
    for k in rnd:
        assert jnp.array_equal(ada[k], rnd[k]), k
    # the comparison can fail: another draw gives other gradients
    other = nets.online(m, xs, ys, "eprop", feedback="adaptive", seed=4)
    assert nets.rel_err(other["w_in"], rnd["w_in"]) > 1e-3
    # the learner's first sequence (no update before it) uses the same draw
    learner = EProp(m, nets.mse, optax.sgd(0.1), feedback="adaptive", seed=3)
    w0 = m.w_out.value
    learner.sequence(xs, ys)
    (b,) = learner.feedback_matrices()
    np.testing.assert_allclose(b, _random_draw(3, w0), rtol=1e-14, atol=0)


def _bellec_recursion(ws, b0, lam, decayed):
    """B_{k+1} from the readout weights W_k, W_{k+1} applied by the learner: Bellec's
    ``B <- B + u - lambda B`` with ``u = W_{k+1} - W_k + lambda W_k`` the optimiser's step
    when it decays W_out by lambda itself (``decayed``), else ``B <- B + dW - lambda (B - W)``."""
    bs = [np.asarray(b0)]
    for w, w_next in zip(ws[:-1], ws[1:]):
        b = bs[-1]
        if decayed:
            u = (w_next - w) + lam * w
            bs.append(b + u - lam * b)
        else:
            bs.append(b + (w_next - w) - lam * (b - w))
    return bs


@pytest.mark.parametrize("decayed", [False, True], ids=["adam", "sgd_with_weight_decay"])
def test_adaptive_feedback_follows_the_readout_updates(nets, decayed):
    lam = 0.1
    m = nets.ALIF(rec=True, kappa=0.8, batch=4)
    if decayed:  # W <- W - lr g - lam W: Bellec's setting, the same decay on W_out and B
        opt = optax.chain(optax.sgd(0.05), optax.add_decayed_weights(-lam))
    else:
        opt = optax.adam(1e-2)
    learner = EProp(m, nets.mse, opt, feedback="adaptive", seed=1, feedback_decay=lam)
    ws, bs = [], []
    for _ in range(6):
        xs, ys = _data(nets.rng)
        ws.append(np.asarray(m.w_out.value))
        learner.sequence(xs, ys)  # resets before and after, one update at its end
        bs.append(np.asarray(learner.feedback_matrices()[0]))
        learner.reset()  # an extra reset keeps the feedback too
    assert learner.updates == 6
    assert not np.allclose(ws[-1], ws[0])  # the readout did learn
    ref = _bellec_recursion(ws, bs[0], lam, decayed)
    for k in range(6):
        np.testing.assert_allclose(bs[k], ref[k], rtol=0, atol=1e-12 * np.abs(ref[k]).max())
    assert np.abs(bs[-1] - bs[0]).max() > 1e-3  # B moved


def test_adaptive_feedback_counts_updates_within_a_sequence(nets):
    # step() with update_every=2: the weights (and B) change inside the sequence
    lam = 0.25
    m = nets.ALIF(rec=True, kappa=0.8, batch=4)
    learner = EProp(m, nets.mse, optax.adam(2e-2), feedback="adaptive", feedback_decay=lam,
                    update_every=2)  # fmt: skip
    xs, ys = _data(nets.rng, T=9)
    ws, bs = [], []
    for t in range(9):
        ws.append(np.asarray(m.w_out.value))  # the readout weights step t uses
        learner.step(xs[t], ys[t])
        bs.append(np.asarray(learner.feedback_matrices()[0]))
    assert learner.updates == 4
    # B is the recursion's at the update count k of the step: steps 2k and 2k+1
    w_k = [ws[2 * k] for k in range(5)]
    ref = _bellec_recursion(w_k, bs[0], lam, decayed=False)
    for t in range(9):
        k = t // 2
        assert np.array_equal(ws[t], w_k[k])
        np.testing.assert_allclose(bs[t], ref[k], rtol=0, atol=1e-12 * np.abs(ref[k]).max())


@pytest.mark.slow  # (about 5-10 s: 41 sequences)
def test_adaptive_feedback_converges_to_the_readout_and_to_symmetric_eprop(nets):
    lam, n = 0.5, 40
    m = nets.ALIF(rec=True, kappa=0.8, batch=4)
    lr = 0.002  # (0.02 and 0.005 diverge on this random-target task)
    learner = EProp(m, nets.mse, optax.sgd(lr), feedback="adaptive", seed=2,
                    feedback_decay=lam)  # fmt: skip
    gap = []
    for _ in range(n):
        xs, ys = _data(nets.rng)
        w = np.asarray(m.w_out.value)
        learner.sequence(xs, ys)
        gap.append(np.linalg.norm(np.asarray(learner.feedback_matrices()[0]) - w))
    # |B_k - W_k| = (1 - lam)^k |B_0 - W_0|
    ratio = np.asarray(gap) / gap[0]
    np.testing.assert_allclose(ratio[:30], (1 - lam) ** np.arange(30), rtol=1e-6)
    assert gap[-1] / np.linalg.norm(m.w_out.value) < 1e-10
    # the learning signal is then symmetric e-prop's: the next update is its gradient
    xs, ys = _data(nets.rng)
    sym = nets.online(m, xs, ys, "eprop")
    rnd = nets.online(m, xs, ys, "eprop", feedback="random", seed=2)
    w_in = m.w_in.value
    learner.sequence(xs, ys)
    g = (w_in - m.w_in.value) / lr
    assert nets.rel_err(g, sym["w_in"]) < 1e-8
    assert nets.rel_err(rnd["w_in"], sym["w_in"]) > 1e-3  # random feedback is not


@pytest.mark.parametrize(
    "options, match",
    [
        ({"feedback": "adaptiv"}, "feedback must be 'symmetric', 'random' or 'adaptive', got "
                                  "'adaptiv'"),
        ({"feedback": None}, "feedback must be .* got None"),
        ({"feedback": "adaptive", "feedback_decay": -0.1}, r"must be a number in \[0, 1\).*-0.1"),
        ({"feedback": "adaptive", "feedback_decay": 1.0}, r"in \[0, 1\).*got 1.0"),
        ({"feedback": "adaptive", "feedback_decay": float("nan")}, r"in \[0, 1\).*got nan"),
        ({"feedback": "adaptive", "feedback_decay": "0.1x"}, r"in \[0, 1\).*got '0.1x'"),
        ({"feedback": "adaptive", "feedback_decay": True}, r"in \[0, 1\).*got True"),
        ({"feedback": "random", "feedback_decay": 0.1}, "decay of adaptive feedback; with "
                                                        "feedback='random' it would do nothing"),
        ({"feedback_decay": 0.1}, "with feedback='symmetric'"),
    ],
)  # fmt: skip
def test_bad_feedback_options_are_refused_at_construction(nets, options, match):
    m = nets.ALIF(rec=True, kappa=0.8, batch=4)
    with pytest.raises(OnlineError, match=match):
        EProp(m, nets.mse, optax.sgd(0.1), **options)  # nothing run: the constructor refuses
    xs, ys = _data(nets.rng, T=3)
    with pytest.raises(OnlineError, match=match):
        nd.online.sequence_gradient(m, nets.mse, xs, ys, "eprop", **options)


def test_feedback_matrices_needs_random_or_adaptive_feedback_and_a_step(nets):
    m = nets.ALIF(rec=True, kappa=0.8, batch=4)
    for options in ({}, {"feedback": "symmetric"}):
        with pytest.raises(OnlineError, match="only random and adaptive.*'symmetric'"):
            EProp(m, nets.mse, optax.sgd(0.1), **options).feedback_matrices()
    for feedback in ("random", "adaptive"):
        learner = EProp(m, nets.mse, optax.sgd(0.1), feedback=feedback)
        learner.reset()  # before any step: nothing to keep
        with pytest.raises(OnlineError, match="no step taken yet"):
            learner.feedback_matrices()
    for cls, decay in ((nd.online.DRTRL, 0.1),):  # other rules do not take the option
        with pytest.raises(OnlineError, match="unknown option.*feedback_decay"):
            cls(m, nets.mse, optax.sgd(0.1), feedback_decay=decay).step(
                jnp.zeros((4, 3)), jnp.zeros((4, 2))
            )
