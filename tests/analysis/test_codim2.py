"""Two-parameter continuation of fold and Hopf curves against analytic curves."""

import jax.numpy as jnp
import numpy as np
import pytest

from neurodyn.analysis import Codim2Branch, continue_equilibria, continue_fold, continue_hopf


def _cusp(x, p):
    return p[0] + p[1] * x - x**3


def test_cusp_fold_curve_and_cusp_point():
    br = continue_equilibria(
        lambda x, a: _cusp(x, jnp.stack([a, 1.0])), [-1.2], -0.3, (-1.0, 1.0), ds=0.05
    )
    assert len(br.folds) == 2
    curve = continue_fold(_cusp, br.folds[0], 1.0, ((-1, 1), (-0.5, 2)), ds=0.05, direction=-1)
    assert isinstance(curve, Codim2Branch) and curve.kind == "fold"
    a, b = curve.params.T
    # fold curve 27 a^2 = 4 b^3 with x = ±sqrt(b / 3)
    np.testing.assert_allclose(27 * a**2, 4 * b**3, atol=1e-9)
    np.testing.assert_allclose(3 * curve.states[:, 0] ** 2, b, atol=1e-9)
    assert b.min() < 0.01 and b.max() > 1.8  # went through the cusp and up the other side
    assert a[0] > 0 and a[-1] == pytest.approx(-1.0)  # ... until a left its bounds
    assert [s.kind for s in curve.special_points] == ["cusp"]
    np.testing.assert_allclose(curve.special_points[0].param, [0.0, 0.0], atol=1e-8)
    assert curve.stop_reason == "left bounds"


def _bt(x, b):
    # Bogdanov-Takens normal form with s = +1: fold curve b1 = 0, Hopf curve b1 = -b2^2
    # (b2 > 0): the equilibrium x = -sqrt(-b1) has det J = 2 sqrt(-b1), tr J = b2 - sqrt(-b1)
    return jnp.stack([x[1], b[0] + b[1] * x[1] + x[0] ** 2 + x[0] * x[1]])


@pytest.fixture(scope="module")
def bt_branch():
    return continue_equilibria(
        lambda x, b1: _bt(x, jnp.stack([b1, 0.5])), [-1.0, 0.0], -1.0, (-1.0, 0.1), ds=0.05
    )


def test_bogdanov_takens_normal_form_hopf_curve(bt_branch):
    assert [s.kind for s in bt_branch.special_points] == ["hopf", "fold"]
    assert bt_branch.hopfs[0].param == pytest.approx(-0.25, abs=1e-10)
    h = continue_hopf(_bt, bt_branch.hopfs[0], 0.5, ((-1, 1), (-1, 1)), ds=0.05, direction=-1)
    b1, b2 = h.params.T
    np.testing.assert_allclose(b1, -(b2**2), atol=1e-10)
    np.testing.assert_allclose(h.omega**2, 2 * np.sqrt(np.maximum(-b1, 0)), atol=1e-8)
    assert [s.kind for s in h.special_points] == ["bogdanov_takens"]
    np.testing.assert_allclose(h.special_points[0].param, [0.0, 0.0], atol=1e-8)
    assert "Bogdanov-Takens" in h.stop_reason
    # the other way the curve runs to the bound b2 = 1 (b1 = -1)
    up = continue_hopf(_bt, bt_branch.hopfs[0], 0.5, ((-1, 1), (-1, 1)), ds=0.05)
    assert up.special_points == [] and up.params[-1] == pytest.approx([-1.0, 1.0], abs=1e-9)


def test_bogdanov_takens_normal_form_fold_curve(bt_branch):
    fold = continue_fold(_bt, bt_branch.folds[0], 0.5, ((-1, 1), (-1, 1)), ds=0.05, direction=-1)
    np.testing.assert_allclose(fold.params[:, 0], 0.0, atol=1e-10)
    assert fold.params[-1, 1] == pytest.approx(-1.0)
    assert [s.kind for s in fold.special_points] == ["bogdanov_takens"]
    assert fold.special_points[0].param[1] == pytest.approx(0.0, abs=1e-8)


def _fhn(x, p, a=0.7, tau=12.5):
    current, b = p[0], p[1]
    v, w = x[0], x[1]
    return jnp.stack([v - v**3 / 3 - w + current, (v + a - b * w) / tau])


def _fhn_current(v, b, a=0.7):
    return v**3 / 3 - v + (v + a) / b


def test_fitzhugh_nagumo_hopf_curve_in_current_and_b():
    a, tau = 0.7, 12.5
    br = continue_equilibria(
        lambda x, i: _fhn(x, jnp.stack([i, 0.8])), [-1.2, -0.6], 0.0, (0.0, 2.0), ds=0.02
    )
    h = continue_hopf(_fhn, br.hopfs[0], 0.8, ((-2, 3), (0.3, 4.0)), ds=0.05, direction=1)
    current, b = h.params.T
    v = h.states[:, 0]
    # trace 0: v^2 = 1 - b/tau on the equilibrium curve; det = (1 - b^2/tau)/tau = omega^2
    np.testing.assert_allclose(v**2, 1 - b / tau, atol=1e-9)
    np.testing.assert_allclose(current, _fhn_current(v, b, a), atol=1e-9)
    np.testing.assert_allclose(h.omega**2, (1 - b**2 / tau) / tau, atol=1e-10)
    # ends at the Bogdanov-Takens point where det = 0: b = sqrt(tau)
    assert [s.kind for s in h.special_points] == ["bogdanov_takens"]
    assert h.special_points[0].param[1] == pytest.approx(np.sqrt(tau), rel=1e-7)


def test_fitzhugh_nagumo_fold_curve_cusp_and_bt():
    tau = 12.5
    br = continue_equilibria(
        lambda x, i: _fhn(x, jnp.stack([i, 2.0])),
        [-2.0, -0.65],
        -1.0,
        (-1.0, 2.0),
        ds=0.02,
    )
    lower = min(br.folds, key=lambda s: s.state[0])
    fold = continue_fold(_fhn, lower, 2.0, ((-2, 3), (0.5, 4.0)), ds=0.05, direction=-1)
    current, b = fold.params.T
    v = fold.states[:, 0]
    np.testing.assert_allclose(v**2, 1 - 1 / b, atol=1e-9)  # det J = 0
    np.testing.assert_allclose(current, _fhn_current(v, b), atol=1e-9)
    kinds = [s.kind for s in fold.special_points]
    assert kinds == ["cusp", "bogdanov_takens"]
    cusp, bt = fold.special_points
    np.testing.assert_allclose(cusp.param, [0.7, 1.0], atol=1e-7)  # b = 1, v = 0, I = a/b
    assert bt.param[1] == pytest.approx(np.sqrt(tau), rel=1e-7)
    assert bt.state[0] > 0


def test_errors(bt_branch):
    with pytest.raises(ValueError, match="needs a 'hopf' point; got a 'fold'"):
        continue_hopf(_bt, bt_branch.folds[0], 0.5, ((-1, 1), (-1, 1)))
    with pytest.raises(TypeError, match="SpecialPoint"):
        continue_fold(_bt, (0.0, 0.5), 0.5, ((-1, 1), (-1, 1)))
    with pytest.raises(ValueError, match="outside bounds"):
        continue_fold(_bt, bt_branch.folds[0], 0.5, ((-1, 1), (0.6, 1)))
    with pytest.raises(ValueError, match=r"bounds must be \(\(p1_low"):
        continue_fold(_bt, bt_branch.folds[0], 0.5, (-1, 1))
    cusp_branch = continue_equilibria(
        lambda x, a: _cusp(x, jnp.stack([a, 1.0])), [-1.2], -0.3, (-1.0, 1.0), ds=0.05
    )
    with pytest.raises(ValueError, match="no fold of f"):  # b < 0: x' = a + b x - x^3 is monotone
        continue_fold(_cusp, cusp_branch.folds[0], -0.5, ((-1, 1), (-1, 1)))
