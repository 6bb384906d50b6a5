"""The O(n) tree solve against dense solves (numpy) of the same matrix: random trees, a
long cable (O(log n) rounds) and the CA1 cell, batched, and its gradient."""

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from neurodyn import dendrite as D

N120 = D.Morphology.from_swc(Path(__file__).resolve().parents[1] / "reference/neuron/n120.swc")


def _system(solver, rng, batch=()):
    N = solver.n_nodes
    g = rng.uniform(0.5, 2.0, (*batch, N))
    d = rng.uniform(0.1, 1.0, (*batch, N)) + g
    par = solver.parent[:-1]
    for i, p in enumerate(par):
        d[..., p] += g[..., i]
    r = rng.normal(size=(*batch, N))
    return d, -g, r


def _dense(solver, d, e):
    A = np.diag(d)
    for i, p in enumerate(solver.parent[:-1]):
        A[i, p] = A[p, i] = e[i]
    return A


def _random_tree(rng, n):
    return np.concatenate([[-1], [rng.integers(0, i) for i in range(1, n)]])


@pytest.mark.parametrize("compress", [True, False])
def test_tree_solves_equal_dense_solves(compress):
    rng = np.random.default_rng(1)
    with jax.enable_x64(True):
        trees = [_random_tree(rng, n) for n in (3, 60)]
        if compress:  # (Hines' order on the big cell takes 85 rounds: slow to compile)
            trees.append(D.discretize(N120, 1, 100.0).parent)
        for parent in trees:
            s = D.TreeSolver(parent, compress=compress)
            d, e, r = _system(s, rng)
            x = np.asarray(jax.jit(s.solve)(jnp.asarray(d), jnp.asarray(e), jnp.asarray(r)))
            ref = np.linalg.solve(_dense(s, d, e), r)
            np.testing.assert_allclose(x, ref, rtol=1e-10, atol=1e-12)


def test_a_cable_takes_logarithmic_rounds_and_batches():
    rng = np.random.default_rng(2)
    parent = np.arange(-1, 127)  # a chain of 128 nodes
    fast, hines = D.TreeSolver(parent), D.TreeSolver(parent, compress=False)
    assert hines.n_rounds == 127 and fast.n_rounds == 7
    with jax.enable_x64(True):
        d, e, r = _system(fast, rng, batch=(3,))
        x = np.asarray(jax.jit(fast.solve)(jnp.asarray(d), jnp.asarray(e), jnp.asarray(r)))
        for k in range(3):
            ref = np.linalg.solve(_dense(fast, d[k], e[k]), r[k])
            np.testing.assert_allclose(x[k], ref, rtol=1e-10)


def test_the_gradient_of_the_solve_is_the_dense_one():
    rng = np.random.default_rng(3)
    s = D.TreeSolver(_random_tree(rng, 40))
    with jax.enable_x64(True):
        d, e, r = _system(s, rng)
        w = rng.normal(size=s.n_nodes)

        def loss(d, r):
            return jnp.dot(w, s.solve(d, jnp.asarray(e), r))

        gd, gr = jax.jit(jax.grad(loss, argnums=(0, 1)))(jnp.asarray(d), jnp.asarray(r))
        A = _dense(s, d, e)
        lam = np.linalg.solve(A.T, w)  # adjoint: dL/dr = A^-T w, dL/dd_i = -lam_i x_i
        x = np.linalg.solve(A, r)
        np.testing.assert_allclose(np.asarray(gr), lam, rtol=1e-9)
        np.testing.assert_allclose(np.asarray(gd), -lam * x, rtol=1e-8, atol=1e-12)


def test_bad_trees_are_refused():
    with pytest.raises(ValueError, match="parent\\[0\\] must be -1"):
        D.TreeSolver([0, 0])
    with pytest.raises(ValueError, match="parent\\[i\\] < i"):
        D.TreeSolver([-1, 2, 0])
