"""Slow-point finder on a tanh network with known fixed points (checked with fsolve)."""

import jax.numpy as jnp
import numpy as np
from scipy.optimize import fsolve

from neurodyn import analysis


def test_finds_all_nine_fixed_points_of_a_decoupled_tanh_network():
    W = jnp.diag(jnp.array([2.0, 2.0]))

    def F(h):
        return -h + W @ jnp.tanh(h)

    starts = np.random.default_rng(0).uniform(-3, 3, size=(64, 2))
    pts = analysis.slow_points(F, starts, steps=3000, learning_rate=0.05, tol=1e-9)
    h_star = fsolve(lambda x: -x + 2 * np.tanh(x), 2.0)[0]  # ~1.915
    expected = {(a, b) for a in (-h_star, 0.0, h_star) for b in (-h_star, 0.0, h_star)}

    def key(v, digits):
        return tuple(round(float(x), digits) + 0.0 for x in v)

    assert {key(p.h, 3) for p in pts} == {key(e, 3) for e in expected}
    kinds = {key(p.h, 1): p.kind for p in pts}
    hs = round(float(h_star), 1)
    assert kinds[(0.0, 0.0)] == "unstable node"
    assert kinds[(hs, hs)] == "stable node"
    assert kinds[(0.0, hs)] == "saddle"
