"""The O(n) tree solve against dense solves (numpy) of the same matrix: random trees, a
long cable (O(log n) rounds) and the CA1 cell, batched, and its gradient; with the native
Hines kernel (when built) and the pure-JAX rounds. The cable step (axial currents and
solve in one native call) against its dense form, batched and vmapped, and its
derivatives (forward and reverse) against the pure-JAX path's."""

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from neurodyn import dendrite as D
from neurodyn.dendrite import _hines

NATIVE = [
    False,
    pytest.param(True, marks=pytest.mark.skipif(not _hines.available(), reason="no native kernel")),
]

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


@pytest.mark.parametrize("native", NATIVE)
@pytest.mark.parametrize("compress", [True, False])
def test_tree_solves_equal_dense_solves(compress, native):
    rng = np.random.default_rng(1)
    with jax.enable_x64(True):
        trees = [_random_tree(rng, n) for n in (3, 60)]
        if compress:  # (Hines' order on the big cell takes 85 rounds: slow to compile)
            trees.append(D.discretize(N120, 1, 100.0).parent)
        for parent in trees:
            s = D.TreeSolver(parent, compress=compress, native=native)
            d, e, r = _system(s, rng)
            x = np.asarray(jax.jit(s.solve)(jnp.asarray(d), jnp.asarray(e), jnp.asarray(r)))
            ref = np.linalg.solve(_dense(s, d, e), r)
            np.testing.assert_allclose(x, ref, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("native", NATIVE)
def test_a_cable_takes_logarithmic_rounds_and_batches(native):
    rng = np.random.default_rng(2)
    parent = np.arange(-1, 127)  # a chain of 128 nodes
    fast = D.TreeSolver(parent, native=native)
    hines = D.TreeSolver(parent, compress=False, native=native)
    assert hines.n_rounds == 127 and fast.n_rounds == 7
    with jax.enable_x64(True):
        d, e, r = _system(fast, rng, batch=(3,))
        x = np.asarray(jax.jit(fast.solve)(jnp.asarray(d), jnp.asarray(e), jnp.asarray(r)))
        for k in range(3):
            ref = np.linalg.solve(_dense(fast, d[k], e[k]), r[k])
            np.testing.assert_allclose(x[k], ref, rtol=1e-10)


@pytest.mark.parametrize("native", NATIVE)
def test_the_gradient_of_the_solve_is_the_dense_one(native):
    rng = np.random.default_rng(3)
    s = D.TreeSolver(_random_tree(rng, 40), native=native)
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


def _laplacian(solver, g):
    K = np.zeros((solver.n_nodes, solver.n_nodes))
    for i, p in enumerate(solver.parent[:-1]):
        K[i, i] += g[i]
        K[p, p] += g[i]
        K[i, p] -= g[i]
        K[p, i] -= g[i]
    return K


@pytest.mark.parametrize("native", NATIVE)
def test_the_cable_step_equals_its_dense_form_batched_and_vmapped(native):
    rng = np.random.default_rng(4)
    layout = rng.permutation(50)
    s = D.TreeSolver(_random_tree(rng, 50), native=native, layout=layout)
    N = s.n_nodes
    g = rng.uniform(0.5, 2.0, N)
    g[-1] = 0.0  # the root
    K = _laplacian(s, g)
    for dtype, tol, batch in ((np.float64, 1e-11, (13,)), (np.float32, 1e-5, ())):
        # (13 cells: blocks of lanes and a rest)
        with jax.enable_x64(dtype == np.float64):
            dm = rng.uniform(0.1, 1.0, (*batch, N))
            b, v = rng.normal(size=(*batch, N)), rng.normal(size=N)
            step = jax.jit(lambda d, b, v: s.cable(d, b, v, g))
            x = np.asarray(step(dm.astype(dtype), b.astype(dtype), v))
            for k in np.ndindex(batch):
                ref = np.linalg.solve(np.diag(dm[k]) + K, b[k] - K @ v)
                np.testing.assert_allclose(x[k], ref, rtol=tol, atol=tol)
            # the new V of a step (v + add * x) in the same call
            new_v = jax.jit(lambda d, b, v: s.cable(d, b, v, g, add=2.0))
            np.testing.assert_allclose(
                new_v(dm.astype(dtype), b.astype(dtype), v), v + 2.0 * x, rtol=tol, atol=tol
            )
            if batch:  # vmap over dm and b (v shared) equals the batch
                xs = jax.jit(jax.vmap(step, in_axes=(0, 0, None)))(dm, b, v)
                np.testing.assert_allclose(xs, x, rtol=tol, atol=tol)


def test_the_cable_steps_derivatives_equal_the_pure_jax_ones():
    if not _hines.available():
        pytest.skip("no native kernel")
    rng = np.random.default_rng(5)
    parent = _random_tree(rng, 30)
    fast, ref = D.TreeSolver(parent, native=True), D.TreeSolver(parent, native=False)
    g = rng.uniform(0.5, 2.0, 30)
    w = rng.normal(size=(2, 30))
    with jax.enable_x64(True):

        def loss(solver, dm, b, v):
            x = solver.cable(dm, b, v, g[np.argsort(solver.position)], add=0.5)
            x = jnp.take(x, solver.position, axis=-1)  # back to the caller's order
            return jnp.sum(w * jnp.sin(x))

        def internal(solver, a):
            return jnp.take(jnp.asarray(a), solver.order, axis=-1)

        dm = rng.uniform(0.1, 1.0, (2, 30))
        b, v = rng.normal(size=(2, 30)), rng.normal(size=30)
        grads = []
        for s in (fast, ref):
            args = [internal(s, a) for a in (dm, b, v)]
            f = lambda *a, s=s: loss(s, *a)  # noqa: E731
            gr = jax.jit(jax.grad(f, argnums=(0, 1, 2)))(*args)
            grads.append([np.asarray(jnp.take(x, s.position, axis=-1)) for x in gr])
            tangent = [internal(s, np.ones_like(a)) for a in (dm, b, v)]
            grads[-1].append(float(jax.jit(lambda a, t, f=f: jax.jvp(f, a, t)[1])(args, tangent)))
        for a, r in zip(*grads):
            np.testing.assert_allclose(a, r, rtol=1e-9, atol=1e-12)


def test_with_the_native_solve_regions_are_runs_of_the_cells_nodes():
    """The cell orders its nodes by SWC type (zero-area nodes last) when the native solve
    frees the order: standard regions are one run, read as a slice of V (no gather)."""
    if not _hines.available():
        pytest.skip("no native kernel")
    import neurodyn.units as u

    runs = []
    for regions in (("soma", "dendrites"), ("apical", "all")):
        cell = D.Cell(N120, ncomp=4, warn_d_lambda=False)
        cell.paint(regions[0], D.HH())
        cell.paint(regions[1], D.Leak(g=1e-4 * u.S / u.cm**2, E=-65 * u.mV))
        runs += [p.runs for p in cell.mechanisms]
    assert all(r is not None and len(r) == 1 for r in runs), runs
    assert runs[-1] == [(0, cell.n_compartments)]  # "all": every compartment


def test_a_cells_node_order_and_v_are_the_same_without_the_native_kernel(monkeypatch):
    """Raw V arrays (saved states, ``cell.V``) are in the cell's layout order whether or
    not the native kernel is used: the pure-JAX rounds permute into their own order and
    back. Compared with the native run's V (a separate solver) after 10 ms of a dendritic
    current."""
    if not _hines.available():
        pytest.skip("no native kernel")
    import neurodyn as nd
    import neurodyn.units as u

    def run():
        with jax.enable_x64(True):
            m = D.Morphology.ball_and_stick(20 * u.um, 300 * u.um, 2 * u.um)
            cell = D.Cell(m, ncomp=7, Ra=100 * u.ohm * u.cm)
            cell.paint("soma", D.HH())
            cell.paint("dendrites", D.Leak(g=1e-4 * u.S / u.cm**2, E=-65 * u.mV))
            loc = cell.location("dendrites", 0.9)
            cell.place(loc, D.IClamp(1 * u.ms, 8 * u.ms, 0.4 * u.nA))
            nd.run(cell, 10 * u.ms, dt=0.025 * u.ms)
            return cell, np.asarray(cell.V.value.to_value(u.mV))

    native, v_native = run()
    monkeypatch.setenv("NEURODYN_DISABLE_NATIVE", "1")
    plain, v_plain = run()
    assert native._solver.native and not plain._solver.native
    np.testing.assert_array_equal(plain._solver.order, native._solver.order)
    assert np.ptp(v_native) > 5  # V differs along the cell, so that a mix-up shows
    np.testing.assert_allclose(v_plain, v_native, atol=1e-8)
