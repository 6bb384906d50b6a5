"""Connectivity builders: statistics against their definitions; plasticity against dense."""

import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

import neurodyn.units as u
from neurodyn import event


def _dense_mask(conn):
    return (
        np.asarray(
            conn.todense() if not hasattr(conn.todense(), "unit") else conn.todense().mantissa
        )
        != 0
    )


def test_fixed_prob_realised_probability_and_distinct_targets():
    n_pre, n_post, p = 300, 400, 0.05
    conn = event.FixedProb(p, seed=1).build(n_pre, n_post, weight=2.0)
    lo, hi = stats.binom.interval(0.999, n_pre * n_post, p)
    assert lo <= conn.nnz <= hi
    idx, ptr = np.asarray(conn.indices), np.asarray(conn.indptr)
    for i in range(n_pre):
        row = idx[ptr[i] : ptr[i + 1]]
        assert len(np.unique(row)) == len(row)  # no duplicate synapses
    # in-degrees are binomial too (columns uniform)
    indeg = np.bincount(idx, minlength=n_post)
    assert abs(indeg.mean() - n_pre * p) < 1.0
    same = event.FixedProb(p, seed=1).build(n_pre, n_post, weight=2.0)
    np.testing.assert_array_equal(np.asarray(same.indices), idx)


def test_fixed_prob_sparse_rows_are_bernoulli():
    # few columns, so that repeated draws (redrawn by the builder) are frequent
    n_pre, n_post, p = 40_000, 20, 0.09
    mask = _dense_mask(event.FixedProb(p, seed=5).build(n_pre, n_post, weight=1.0))
    # every column equally likely, and row counts Binomial(n_post, p)
    assert stats.chisquare(mask.sum(axis=0)).pvalue > 1e-4
    counts = np.bincount(mask.sum(axis=1), minlength=n_post + 1)
    expected = stats.binom.pmf(np.arange(n_post + 1), n_post, p) * n_pre
    keep = expected > 5
    obs = np.append(counts[keep], counts[~keep].sum())
    exp = np.append(expected[keep], expected[~keep].sum())
    assert stats.chisquare(obs, exp * obs.sum() / exp.sum()).pvalue > 1e-4
    # pairs are independent: co-occurrence of columns 0 and 1 is p^2
    both = np.mean(mask[:, 0] & mask[:, 1])
    assert abs(both - p * p) < 5 * np.sqrt(p * p / n_pre)


def test_no_self_connections_and_exact_degrees():
    n = 200
    conn = event.FixedProb(0.3, seed=2, allow_self=False).build(n, n)
    assert not np.diag(_dense_mask(conn)).any()
    pre = event.FixedPreNum(7, seed=3, allow_self=False).build(n, n, weight=1.0)
    mask = _dense_mask(pre)
    np.testing.assert_array_equal(mask.sum(axis=0), 7)
    assert not np.diag(mask).any()
    post = event.FixedPostNum(9, seed=4).build(n, 150, weight=0.5 * u.nS)
    mask = _dense_mask(post)
    np.testing.assert_array_equal(mask.sum(axis=1), 9)
    assert (jnp.ones(n, bool) @ post).unit is u.nS
    with pytest.raises(ValueError, match="exceeds"):
        event.FixedPostNum(200, seed=0).build(10, 100)


def test_one_to_one_all_to_all_gaussian():
    o = event.OneToOne().build(5, 5, weight=2.0)
    np.testing.assert_array_equal(np.asarray(o.todense()), 2 * np.eye(5))
    a = event.AllToAll(allow_self=False).build(3, 3, weight=1.0)
    np.testing.assert_array_equal(np.asarray(a.todense()), 1 - np.eye(3))
    g = event.GaussianProb(sigma=3.0, p_max=1.0, seed=0).build(200, 200)
    mask = _dense_mask(g)
    i, j = np.nonzero(mask)
    d = np.minimum(np.abs(i - j), 200 - np.abs(i - j))
    assert d.max() < 25 and not np.any(d == 0)
    # connection frequency at distance 3 is close to exp(-1/2)
    near = np.mean([mask[k, (k + 3) % 200] for k in range(200)])
    assert abs(near - np.exp(-0.5)) < 0.12


def test_fixed_prob_is_vectorised_at_scale():
    # 16M synapses; the build time is measured by benchmarks/event.py (`--build-n`)
    conn = event.FixedProb(80 / 200_000, seed=0).build(200_000, 200_000, weight=1.0)
    assert abs(conn.nnz / 200_000 - 80) < 1


def test_plasticity_updates_match_dense():
    rng = np.random.default_rng(0)
    conn = event.FixedProb(0.3, seed=0).build(20, 15, weight=lambda r, n: r.random(n))
    w = np.asarray(conn.todense())
    mask = w != 0
    pre_spk = rng.random(20) < 0.3
    post_spk = rng.random(15) < 0.3
    post_tr, pre_tr = rng.random(15).astype(np.float32), rng.random(20).astype(np.float32)
    c1 = event.update_on_pre(conn, jnp.asarray(pre_spk), -jnp.asarray(post_tr), w_min=0.0)
    touched = mask & pre_spk[:, None]
    ref = np.where(touched, np.clip(w - post_tr[None, :], 0.0, None), w)
    np.testing.assert_allclose(np.asarray(c1.todense()), ref, rtol=1e-6, atol=1e-7)
    # only the synapses of spiking neurons are clipped (as Brian2's on_pre/on_post code):
    # untouched weights above w_max stay as they are
    c2 = event.update_on_post(conn, jnp.asarray(post_spk), jnp.asarray(pre_tr), w_max=0.8)
    touched = mask & post_spk[None, :]
    assert (w[~touched & mask] > 0.8).any()
    ref = np.where(touched, np.minimum(w + pre_tr[:, None], 0.8), w)
    np.testing.assert_allclose(np.asarray(c2.todense()), ref, rtol=1e-6, atol=1e-7)
