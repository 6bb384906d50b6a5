"""Fixed points, stability and nullclines against analytic answers and scipy."""

import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import fsolve

from neurodyn import analysis


@pytest.mark.parametrize(
    "J, kind",
    [
        ([[-1.0, 0.0], [0.0, -2.0]], "stable node"),
        ([[1.0, 0.0], [0.0, 2.0]], "unstable node"),
        ([[-0.1, 1.0], [-1.0, -0.1]], "stable focus"),
        ([[0.1, 1.0], [-1.0, 0.1]], "unstable focus"),
        ([[1.0, 0.0], [0.0, -1.0]], "saddle"),
        ([[0.0, 1.0], [-1.0, 0.0]], "center"),
        ([[-3.0]], "stable"),
    ],
)
def test_linear_systems_are_classified(J, kind):
    A = jnp.asarray(J)
    fps = analysis.fixed_points(lambda x: A @ x, np.array([[0.3] * len(J), [-0.7] * len(J)]))
    assert len(fps) == 1
    np.testing.assert_allclose(fps[0].x, 0.0, atol=1e-8)
    assert fps[0].kind == kind


def fhn(x, I):
    v, w = x[0], x[1]
    return jnp.array([v - v**3 / 3 - w + I, (v + 0.7 - 0.8 * w) / 12.5])


def _fhn_np(z, current):
    v, w = z
    return [v - v**3 / 3 - w + current, (v + 0.7 - 0.8 * w) / 12.5]


def test_fitzhugh_nagumo_fixed_point_and_hopf_side():
    for current, stable in ((0.0, True), (0.5, False)):
        pp = analysis.PhasePlane(fhn, (-3, 3), (-2, 3), args=(current,))
        fps = pp.fixed_points()
        assert len(fps) == 1
        ref = fsolve(_fhn_np, [-0.5, 0.0], args=(current,), xtol=1e-12)
        np.testing.assert_allclose(fps[0].x, ref, atol=1e-5)
        assert fps[0].stable is stable


def test_nullclines_lie_on_the_curves_including_horizontal_and_vertical_ones():
    pp = analysis.PhasePlane(fhn, (-2.5, 2.5), (-1.5, 2.5), args=(0.5,))
    ncl = pp.nullclines(resolution=150)
    v, w = ncl[0][:, 0], ncl[0][:, 1]
    np.testing.assert_allclose(w, v - v**3 / 3 + 0.5, atol=1e-5)
    v, w = ncl[1][:, 0], ncl[1][:, 1]
    np.testing.assert_allclose(w, (v + 0.7) / 0.8, atol=1e-5)
    assert len(ncl[0]) > 50 and len(ncl[1]) > 50
    # harmonic oscillator: dx/dt = y vanishes on the horizontal line y = 0,
    # dy/dt = -x on the vertical line x = 0
    osc = analysis.nullclines(lambda p: jnp.array([p[1], -p[0]]), (-1, 1), (-1, 1), 51)
    np.testing.assert_allclose(osc[0][:, 1], 0.0, atol=1e-9)
    np.testing.assert_allclose(osc[1][:, 0], 0.0, atol=1e-9)
    assert np.ptp(osc[0][:, 0]) > 1.5 and np.ptp(osc[1][:, 1]) > 1.5


def test_bistable_system_and_trajectory():
    def f(x):
        return jnp.array([x[0] - x[0] ** 3, -x[1]])

    fps = analysis.fixed_points(f, np.random.default_rng(0).uniform(-2, 2, (50, 2)))
    kinds = {round(float(p.x[0])): p.kind for p in fps}
    assert kinds == {-1: "stable node", 0: "saddle", 1: "stable node"}
    pp = analysis.PhasePlane(f, (-2, 2), (-2, 2))
    _, ys = pp.trajectory([0.1, 1.0], duration=20.0)
    np.testing.assert_allclose(ys[-1], [1.0, 0.0], atol=1e-4)


def test_phase_plane_plot_runs():
    import matplotlib

    matplotlib.use("Agg")
    ax = analysis.PhasePlane(fhn, (-2.5, 2.5), (-1.5, 2.5), args=(0.5,)).plot(
        trajectories=[[-1.0, -0.5]], duration=20.0
    )
    assert ax.get_xlabel() == "x"
