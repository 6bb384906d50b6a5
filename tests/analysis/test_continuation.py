"""One-parameter continuation of equilibria: folds, Hopf and branch points against analytic
values and independent scipy computations (published values where they exist)."""

import jax.numpy as jnp
import numpy as np
import pytest
from scipy import optimize

import neurodyn.units as u
from neurodyn.analysis import EquilibriumBranch, SpecialPoint, continue_equilibria


def test_saddle_node_branch_turns_at_the_fold():
    br = continue_equilibria(
        lambda x, p: jnp.array([p + x[0] ** 2]), [-1.0], -1.0, (-2.0, 0.5), ds=0.05
    )
    assert isinstance(br, EquilibriumBranch)
    assert [s.kind for s in br.special_points] == ["fold"]
    fold = br.folds[0]
    assert isinstance(fold, SpecialPoint)
    assert fold.param == pytest.approx(0.0, abs=1e-12) and fold.state[0] == pytest.approx(0.0)
    assert br.params[fold.index] == fold.param
    # normal form p + x^2: a = w·D2f(v, v)/2 = 1
    assert fold.data["a"] == pytest.approx(1.0, rel=1e-9) and fold.data["located"]
    # both halves of x = ±sqrt(-p) are traced; the lower one is stable
    np.testing.assert_allclose(br.states[:, 0] ** 2, -br.params, atol=1e-8)
    assert br.states[:, 0].min() < -0.9 and br.states[:, 0].max() > 0.7
    x = br.states[:, 0]
    assert np.all(br.stable[x < -1e-3]) and not np.any(br.stable[x > 1e-3])
    assert br.params[-1] == pytest.approx(-2.0) and br.stop_reason == "left p_range"


def _fhn(a, b, tau):
    def f(x, current):
        v, w = x[0], x[1]
        return jnp.array([v - v**3 / 3 - w + current, (v + a - b * w) / tau])

    return f


def test_fitzhugh_nagumo_hopf_points():
    a, b, tau = 0.7, 0.8, 12.5
    br = continue_equilibria(_fhn(a, b, tau), [-1.2, -0.6], 0.0, (0.0, 2.0), ds=0.02)
    # Hopf where the trace 1 - v^2 - b/tau vanishes: v = ±sqrt(1 - b/tau)
    v_h = np.sqrt(1 - b / tau) * np.array([-1.0, 1.0])
    i_h = (v_h + a) / b - v_h + v_h**3 / 3
    assert [s.kind for s in br.special_points] == ["hopf", "hopf"]
    np.testing.assert_allclose([s.param for s in br.hopfs], i_h, atol=1e-9)
    # frequency: sqrt(det J) at trace 0
    omega = np.sqrt((1 - b * (1 - v_h**2)) / tau)
    np.testing.assert_allclose([s.data["omega"] for s in br.hopfs], omega, rtol=1e-8)
    # stable below the first Hopf, unstable between, stable again above the second
    p = br.params
    assert np.all(br.stable[p < i_h[0] - 1e-6]) and not np.any(
        br.stable[(p > i_h[0] + 1e-6) & (p < i_h[1] - 1e-6)]
    )
    assert np.all(br.stable[p > i_h[1] + 1e-6])


def test_fitzhugh_nagumo_folds_and_hopfs_with_three_equilibria():
    # b > 1: the cubic v^3/3 + (1/b - 1) v + a/b - I = 0 has three roots for I between folds
    a, b, tau = 0.7, 2.0, 12.5
    br = continue_equilibria(_fhn(a, b, tau), [-2.0, (-2.0 + a) / b], -1.0, (-1.0, 2.0), ds=0.02)
    assert sorted(s.kind for s in br.special_points) == ["fold", "fold", "hopf", "hopf"]

    def n_real_roots(current):
        r = np.roots([1 / 3, 0.0, 1 / b - 1, a / b - current])
        return int(np.sum(np.abs(r.imag) < 1e-9))

    def i_of_v(v):
        return v**3 / 3 - v + (v + a) / b

    # independent: extrema of I(v) on the equilibrium curve (scipy), root count changes there
    for sp in br.folds:
        sgn = np.sign(sp.state[0])  # a maximum of I(v) for v < 0, a minimum for v > 0
        res = optimize.minimize_scalar(
            lambda v, sgn=sgn: sgn * i_of_v(v),
            bounds=sorted([0, 2 * sp.state[0]]),
            method="bounded",
            options={"xatol": 1e-12},
        )
        assert sp.param == pytest.approx(i_of_v(res.x), rel=1e-6)
        assert sp.state[0] == pytest.approx(res.x, abs=1e-5)
        assert {n_real_roots(sp.param - 1e-4), n_real_roots(sp.param + 1e-4)} == {1, 3}
        assert sp.data["located"] and np.linalg.norm(sp.data["v"]) == pytest.approx(1.0)
    # Hopf: independent eigenvalue computation along the analytic equilibrium curve
    for sp in br.hopfs:

        def max_re(v):
            J = np.array([[1 - v**2, -1.0], [1 / tau, -b / tau]])
            return np.linalg.eigvals(J).real.max()

        v_h = optimize.brentq(max_re, sp.state[0] - 0.1, sp.state[0] + 0.1, xtol=1e-14)
        assert sp.param == pytest.approx(i_of_v(v_h), rel=1e-8)


@pytest.mark.parametrize("c", [-1.0, 0.5])
def test_stuart_landau_hopf_is_exactly_at_zero(c):
    # z' = (mu + i omega) z + c |z|^2 z: supercritical for c < 0, subcritical for c > 0
    omega = 1.3

    def f(x, mu):
        r2 = x[0] ** 2 + x[1] ** 2
        return jnp.array(
            [mu * x[0] - omega * x[1] + c * r2 * x[0], omega * x[0] + mu * x[1] + c * r2 * x[1]]
        )

    br = continue_equilibria(f, [0.1, -0.1], -1.0, (-1.0, 1.0), ds=0.05)
    assert [s.kind for s in br.special_points] == ["hopf"]
    h = br.hopfs[0]
    assert abs(h.param) < 1e-8 and h.data["omega"] == pytest.approx(omega, rel=1e-10)
    # l1 = Re c1 / omega with x = z q + conj(z q), |q| = 1, so that c1 = 2 c
    assert h.data["l1"] == pytest.approx(2 * c / omega, rel=1e-8)
    np.testing.assert_allclose(br.states, 0.0, atol=1e-10)
    assert np.all(br.stable[br.params < -1e-9]) and not np.any(br.stable[br.params > 1e-9])


def test_pitchfork_is_a_branch_point():
    br = continue_equilibria(lambda x, p: p * x - x**3, [0.0], -1.0, (-1.0, 1.0), ds=0.05)
    assert [s.kind for s in br.special_points] == ["branch_point"]
    assert abs(br.special_points[0].param) < 1e-8


# Morris-Lecar (Rinzel & Ermentrout 1989), V in mV, t in ms, I in µA/cm²
_ML = dict(C=20.0, gca=4.4, gk=8.0, gl=2.0, vca=120.0, vk=-84.0, vl=-60.0, v1=-1.2, v2=18.0)
_ML_HOPF = dict(v3=2.0, v4=30.0, phi=0.04)  # Hopf regime
_ML_SNIC = dict(v3=12.0, v4=17.4, phi=1 / 15, gca=4.0)  # saddle-node on invariant circle


def _ml_params(extra):
    return {**_ML, **extra}


def _ml_field(p):
    def f(x, current):
        v, w = x[0], x[1]
        minf = 0.5 * (1 + jnp.tanh((v - p["v1"]) / p["v2"]))
        winf = 0.5 * (1 + jnp.tanh((v - p["v3"]) / p["v4"]))
        rate = p["phi"] * jnp.cosh((v - p["v3"]) / (2 * p["v4"]))
        i_ion = p["gca"] * minf * (v - p["vca"]) + p["gk"] * w * (v - p["vk"])
        return jnp.array([(current - i_ion - p["gl"] * (v - p["vl"])) / p["C"], rate * (winf - w)])

    return f


def _ml_reference(p):
    """Independent numpy/scipy check: along the equilibrium curve parametrised by V,
    I(V) and the analytic Jacobian; folds at det J = 0, Hopf at tr J = 0 with det J > 0."""
    th = np.tanh

    def parts(v):
        minf = 0.5 * (1 + th((v - p["v1"]) / p["v2"]))
        dminf = 0.5 / p["v2"] * (1 - th((v - p["v1"]) / p["v2"]) ** 2)
        winf = 0.5 * (1 + th((v - p["v3"]) / p["v4"]))
        dwinf = 0.5 / p["v4"] * (1 - th((v - p["v3"]) / p["v4"]) ** 2)
        rate = p["phi"] * np.cosh((v - p["v3"]) / (2 * p["v4"]))
        current = (
            p["gca"] * minf * (v - p["vca"])
            + p["gk"] * winf * (v - p["vk"])
            + p["gl"] * (v - p["vl"])
        )
        a11 = -(p["gca"] * (dminf * (v - p["vca"]) + minf) + p["gk"] * winf + p["gl"]) / p["C"]
        a12 = -p["gk"] * (v - p["vk"]) / p["C"]
        J = np.array([[a11, a12], [rate * dwinf, -rate]])
        return current, J

    vs = np.linspace(-70, 40, 2201)
    tr = np.array([np.trace(parts(v)[1]) for v in vs])
    det = np.array([np.linalg.det(parts(v)[1]) for v in vs])
    folds, hopfs = [], []
    for k in np.nonzero(det[:-1] * det[1:] < 0)[0]:
        v = optimize.brentq(lambda x: np.linalg.det(parts(x)[1]), vs[k], vs[k + 1], xtol=1e-13)
        folds.append(parts(v)[0])
    for k in np.nonzero(tr[:-1] * tr[1:] < 0)[0]:
        v = optimize.brentq(lambda x: np.trace(parts(x)[1]), vs[k], vs[k + 1], xtol=1e-13)
        if np.linalg.det(parts(v)[1]) > 0:
            hopfs.append(parts(v)[0])
    return sorted(folds), sorted(hopfs)


@pytest.mark.parametrize("regime", ["hopf", "snic"])
def test_morris_lecar_against_trace_determinant_conditions(regime):
    p = _ml_params(_ML_HOPF if regime == "hopf" else _ML_SNIC)
    br = continue_equilibria(_ml_field(p), [-60.0, 0.0], 0.0, (-20.0, 300.0), ds=0.5, ds_max=5)
    folds_ref, hopfs_ref = _ml_reference(p)
    np.testing.assert_allclose(sorted(s.param for s in br.folds), folds_ref, rtol=1e-3)
    np.testing.assert_allclose(sorted(s.param for s in br.hopfs), hopfs_ref, rtol=1e-3)
    if regime == "hopf":  # Rinzel & Ermentrout: subcritical Hopf near I = 94 (no folds)
        assert folds_ref == [] and len(hopfs_ref) == 2
        assert br.hopfs[0].param == pytest.approx(93.86, rel=0.01)
    else:  # saddle-node (SNIC) near I = 40 and a lower fold near I = -10
        assert len(folds_ref) == 2 and len(hopfs_ref) >= 1
        assert max(s.param for s in br.folds) == pytest.approx(39.96, rel=0.01)


def _hh_rates(v, xp):
    am = 0.1 * (v + 40) / (1 - xp.exp(-(v + 40) / 10))
    bm = 4 * xp.exp(-(v + 65) / 18)
    ah = 0.07 * xp.exp(-(v + 65) / 20)
    bh = 1 / (1 + xp.exp(-(v + 35) / 10))
    an = 0.01 * (v + 55) / (1 - xp.exp(-(v + 55) / 10))
    bn = 0.125 * xp.exp(-(v + 65) / 80)
    return am, bm, ah, bh, an, bn


def _hh_field(x, current, xp=jnp):
    """Hodgkin-Huxley 1952 (V_rest = -65 mV convention), C = 1 µF/cm²."""
    v, m, h, n = x[0], x[1], x[2], x[3]
    am, bm, ah, bh, an, bn = _hh_rates(v, xp)
    dv = current - 120 * m**3 * h * (v - 50) - 36 * n**4 * (v + 77) - 0.3 * (v + 54.387)
    return xp.stack([dv, am * (1 - m) - bm * m, ah * (1 - h) - bh * h, an * (1 - n) - bn * n])


def test_hodgkin_huxley_hopf_near_9_78():
    br = continue_equilibria(_hh_field, [-65.0, 0.05, 0.6, 0.32], 0.0, (0.0, 20.0), ds=0.5)
    assert [s.kind for s in br.special_points] == ["hopf"]
    h = br.hopfs[0]
    assert h.param == pytest.approx(9.78, rel=0.02)

    # independent: equilibrium parametrised by V (gates at steady state), eigenvalues of a
    # finite-difference Jacobian in numpy, brentq on the largest real part
    def equilibrium(v):
        am, bm, ah, bh, an, bn = _hh_rates(v, np)
        x = np.array([v, am / (am + bm), ah / (ah + bh), an / (an + bn)])
        current = -_hh_field(x, 0.0, np)[0]
        return x, current

    def max_re(v):
        x, current = equilibrium(v)
        eps = 1e-6 * np.maximum(1.0, np.abs(x))
        J = np.column_stack(
            [
                (_hh_field(x + e, current, np) - _hh_field(x - e, current, np)) / (2 * e[i])
                for i, e in enumerate(np.diag(eps))
            ]
        )
        return np.linalg.eigvals(J).real.max()

    v_h = optimize.brentq(max_re, -64.0, -58.0, xtol=1e-12)
    i_ref = equilibrium(v_h)[1]
    assert h.param == pytest.approx(i_ref, rel=1e-4)
    assert h.state[0] == pytest.approx(v_h, abs=1e-3)
    assert 0.4 < h.data["omega"] < 0.8  # ~ 2π · 90 Hz in rad/ms
    assert h.data["l1"] > 0  # the HH Hopf point is subcritical (Hodgkin-Huxley bistability)
    assert np.all(br.stable[br.params < h.param - 1e-6])


# ----------------------------------------------------------------------------- errors


def _sn(x, p):
    return p + x**2


def test_error_x0_shape_mismatch():
    with pytest.raises(ValueError, match=r"returned shape \(2,\) but x0 has shape \(3,\)"):
        continue_equilibria(lambda x, p: x[:2] * p, [1.0, 2.0, 3.0], 0.0, (-1, 1))


def test_error_p0_outside_range():
    with pytest.raises(ValueError, match=r"p0 = 3.0 is outside p_range = \(-1.0, 1.0\)"):
        continue_equilibria(_sn, [-1.0], 3.0, (-1, 1))


def test_error_bad_range_and_step():
    with pytest.raises(ValueError, match="low < high"):
        continue_equilibria(_sn, [-1.0], 0.0, (1, -1))
    with pytest.raises(ValueError, match="ds must be a positive"):
        continue_equilibria(_sn, [-1.0], 0.0, (-1, 1), ds=-0.1)
    with pytest.raises(ValueError, match="direction must be"):
        continue_equilibria(_sn, [-1.0], 0.0, (-1, 1), direction=2)


def test_error_nan_at_start():
    with pytest.raises(ValueError, match="not finite"):
        continue_equilibria(lambda x, p: jnp.log(x) + p, [-1.0], 0.0, (-1, 1))


def test_error_newton_fails_at_start():
    # p + x^2 has no equilibrium for p > 0
    with pytest.raises(ValueError, match="no equilibrium found near x0"):
        continue_equilibria(_sn, [-1.0], 0.5, (-1, 1))


def test_error_quantity_and_bad_signature():
    with pytest.raises(TypeError, match="get_mantissa"):
        continue_equilibria(_sn, u.Quantity([-1.0], u.mV), -1.0, (-2, 1))
    with pytest.raises(TypeError, match="calling f\\(x0, p0\\) failed"):
        continue_equilibria(lambda x: x, [-1.0], -1.0, (-2, 1))


def test_isola_closes_and_args_are_passed():
    # x' = r^2 - x^2 - p^2: a circle of equilibria of radius r (passed through args)
    br = continue_equilibria(
        lambda x, p, r: r**2 - x**2 - p**2, [1.0], 0.0, (-2, 2), ds=0.1, args=(1.5,)
    )
    assert br.stop_reason == "closed loop"
    np.testing.assert_allclose(br.states[:, 0] ** 2 + br.params**2, 1.5**2, atol=1e-9)
    assert sorted(s.param for s in br.folds) == pytest.approx([-1.5, 1.5], abs=1e-10)
    assert np.all(br.stable[br.states[:, 0] > 1e-6]) and not np.any(
        br.stable[br.states[:, 0] < -1e-6]
    )
