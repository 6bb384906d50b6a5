"""Fast-slow analysis: the Hindmarsh-Rose critical manifold against its analytic form."""

import jax.numpy as jnp
import matplotlib
import numpy as np
import pytest

from neurodyn.analysis import (
    FastSlowAnalysis,
    bifurcation_diagram,
    continue_equilibria,
    continue_fold,
    critical_manifold,
    fast_slow_diagram,
)

matplotlib.use("Agg")

A, B, C, D, I_EXT = 1.0, 3.0, 1.0, 5.0, 2.0
R, S, X_R = 0.005, 4.0, -1.6


def hr_fast(x, z):
    return jnp.stack([x[1] - A * x[0] ** 3 + B * x[0] ** 2 - z + I_EXT, C - D * x[0] ** 2 - x[1]])


def hr_slow(x, z):
    return R * (S * (x[0] - X_R) - z)


def z_of_x(x):  # the critical manifold: y = c - d x^2, z = c - d x^2 - a x^3 + b x^2 + I
    return C - D * x**2 - A * x**3 + B * x**2 + I_EXT


@pytest.fixture(scope="module")
def hr():
    x = -2.0
    return critical_manifold(
        hr_fast, [x, C - D * x**2], z_of_x(x), (-2.0, 4.0), slow=hr_slow, ds=0.05, direction=-1
    )


def test_hindmarsh_rose_critical_manifold(hr):
    assert isinstance(hr, FastSlowAnalysis)
    m = hr.manifold
    np.testing.assert_allclose(m.params, z_of_x(m.states[:, 0]), atol=1e-9)
    np.testing.assert_allclose(m.states[:, 1], C - D * m.states[:, 0] ** 2, atol=1e-9)
    # folds where dz/dx = x (2 (b - d) - 3 a x) = 0
    x_folds = np.array([2 * (B - D) / (3 * A), 0.0])
    assert [s.kind for s in hr.folds] == ["fold", "fold"]
    np.testing.assert_allclose([s.state[0] for s in hr.folds], x_folds, atol=1e-9)
    np.testing.assert_allclose([s.param for s in hr.folds], z_of_x(x_folds), atol=1e-9)
    assert hr.folds[0].param == pytest.approx(49 / 27) and hr.folds[1].param == pytest.approx(3)
    # lower branch stable, middle branch saddles
    lower = m.states[:, 0] < x_folds[0] - 1e-3
    middle = (m.states[:, 0] > x_folds[0] + 1e-3) & (m.states[:, 0] < -1e-3)
    assert np.all(m.stable[lower]) and not np.any(m.stable[middle])
    # Hopf of the fast subsystem on the upper branch: trace -3a x^2 + 2b x - 1 = 0, det > 0
    x_h = (2 * B - np.sqrt(4 * B**2 - 12 * A)) / (6 * A)
    assert [s.kind for s in hr.hopfs] == ["hopf"]
    assert hr.hopfs[0].state[0] == pytest.approx(x_h, abs=1e-9)
    assert hr.hopfs[0].param == pytest.approx(z_of_x(x_h), abs=1e-9)


def test_hindmarsh_rose_full_system_equilibrium(hr):
    # z-nullcline s (x - x_R) = z meets the manifold: a cubic in x (numpy roots)
    roots = np.roots([A, D - B, S, S * -X_R - C - I_EXT])
    x_eq = np.sort(roots[np.abs(roots.imag) < 1e-9].real)
    assert len(hr.equilibria) == len(x_eq) == 1
    e = hr.equilibria[0]
    assert e.state[0] == pytest.approx(x_eq[0], abs=1e-9)
    assert e.param == pytest.approx(S * (x_eq[0] - X_R), abs=1e-9)
    x = x_eq[0]
    J = np.array(
        [[-3 * A * x**2 + 2 * B * x, 1, -1], [-2 * D * x, -1, 0], [R * S, 0, -R]], dtype=float
    )
    ev = np.linalg.eigvals(J)
    np.testing.assert_allclose(np.sort_complex(e.data["eigenvalues"]), np.sort_complex(ev))
    assert e.data["stable"] == bool(np.all(ev.real < 0))
    # the slow drift changes sign there: dz/dt > 0 above the z-nullcline on the lower branch
    z, xs = hr.manifold.params, hr.manifold.states[:, 0]
    np.testing.assert_allclose(hr.slow_rate, R * (S * (xs - X_R) - z), atol=1e-12)


def test_fast_slow_and_bifurcation_plots(hr):
    # a short full-system trajectory (forward Euler in numpy) overlaid on the manifold
    y = np.array([-1.5, C - D * 2.25, 2.0])
    traj = []
    for _ in range(2000):
        x, w, z = y
        dy = np.array(
            [w - A * x**3 + B * x**2 - z + I_EXT, C - D * x**2 - w, R * (S * (x - X_R) - z)]
        )
        y = y + 0.01 * dy
        traj.append(y.copy())
    traj = np.array(traj)
    ax = fast_slow_diagram(hr, (traj[:, 2], traj[:, 0]))
    styles = {line.get_linestyle() for line in ax.get_lines()}
    assert {"-", "--"} <= styles
    assert any(len(line.get_xdata()) == len(traj) for line in ax.get_lines())
    labels = sorted(t.get_text() for t in ax.texts)
    assert labels == ["H", "LP", "LP"]
    with pytest.raises(ValueError, match="equal length"):
        fast_slow_diagram(hr, (traj[:, 2], traj[:-1, 0]))
    # the two-parameter form: a fold curve in (a, b) of the cusp normal form
    f = lambda x, p: p[0] + p[1] * x - x**3  # noqa: E731
    br = continue_equilibria(lambda x, a: f(x, jnp.stack([a, 1.0])), [-1.2], -0.3, (-1, 1))
    curve = continue_fold(f, br.folds[0], 1.0, ((-1, 1), (-0.5, 2)), ds=0.05, direction=-1)
    ax = bifurcation_diagram(curve)
    x, y = ax.get_lines()[0].get_data()
    np.testing.assert_allclose(x, curve.params[:, 0])
    assert [t.get_text() for t in ax.texts] == ["CP"]
