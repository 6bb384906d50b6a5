"""Continuation: folds and Hopf points against analytic values."""

import jax.numpy as jnp
import numpy as np
import pytest

from neurodyn.analysis import continuation


def test_saddle_node_branch_turns_at_the_fold():
    br = continuation(
        lambda x, p: jnp.array([p + x[0] ** 2]), [-1.0], -1.0, (-2.0, 0.5), ds=0.05, max_steps=200
    )
    assert len(br.folds) == 1
    x_f, p_f = br.folds[0]
    assert p_f == pytest.approx(0.0, abs=1e-6) and x_f[0] == pytest.approx(0.0, abs=1e-3)
    # both halves of x = ±sqrt(-p) are traced; the lower one is stable
    np.testing.assert_allclose(br.x[:, 0] ** 2, -br.p, atol=1e-8)
    assert br.x[:, 0].min() < -0.9 and br.x[:, 0].max() > 0.9
    assert np.all(br.stable[br.x[:, 0] < -1e-3]) and not np.any(br.stable[br.x[:, 0] > 1e-3])


def test_fitzhugh_nagumo_hopf_points():
    a, b, tau = 0.7, 0.8, 12.5

    def f(x, current):
        v, w = x[0], x[1]
        return jnp.array([v - v**3 / 3 - w + current, (v + a - b * w) / tau])

    br = continuation(f, [-1.2, -0.6], 0.0, (0.0, 2.0), ds=0.02)
    # Hopf where the trace 1 - v^2 - b/tau vanishes: v = ±sqrt(1 - b/tau)
    v_h = np.sqrt(1 - b / tau) * np.array([-1.0, 1.0])
    i_h = (v_h + a) / b - v_h + v_h**3 / 3
    found = sorted(p for _, p in br.hopfs)
    np.testing.assert_allclose(found, np.sort(i_h), atol=1e-4)
    assert not br.folds  # a single monotone branch for these parameters
