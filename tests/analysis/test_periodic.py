"""Periodic-orbit continuation from Hopf points, against analytic orbits (Hopf normal
forms) and independent references for Hodgkin-Huxley (Hopf by root finding on the
equilibrium curve, the literature fold of limit cycles, scipy simulations)."""

import contextlib
from types import SimpleNamespace

import jax.numpy as jnp
import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.optimize import brentq

from neurodyn.analysis import continue_periodic_orbits, from_hopf

try:  # the dense linear algebra is much faster single-threaded on a busy machine
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover
    threadpool_limits = None


def _one_thread():
    return threadpool_limits(1) if threadpool_limits else contextlib.nullcontext()


OMEGA = 2.0


def supercritical(x, mu):
    """z' = (mu + i w) z - |z|^2 z."""
    r2 = x[0] ** 2 + x[1] ** 2
    return jnp.array([mu * x[0] - OMEGA * x[1] - r2 * x[0], OMEGA * x[0] + mu * x[1] - r2 * x[1]])


def subcritical(x, mu):
    """z' = (mu + i w) z + |z|^2 z - |z|^4 z: orbits mu = r^4 - r^2, fold at mu = -1/4."""
    r2 = x[0] ** 2 + x[1] ** 2
    a = mu + r2 - r2**2
    return jnp.array([a * x[0] - OMEGA * x[1], OMEGA * x[0] + a * x[1]])


def _split_multipliers(mus):
    """(trivial, other) multiplier of each 2-D orbit: the one closest to 1 is trivial."""
    i = np.argmin(np.abs(mus - 1.0), axis=1)
    rows = np.arange(len(mus))
    return mus[rows, i], mus[rows, 1 - i]


# ---- Hopf normal forms -----------------------------------------------------------------


def test_supercritical_normal_form_radius_period_and_multipliers():
    with _one_thread():
        br = continue_periodic_orbits(
            supercritical, [0.0, 0.0], 0.0, (-1.0, 1.0), ntst=20, ds=0.1, max_steps=60
        )
    assert br.params[-1] > 1.0 and len(br) > 5
    assert br.orbits.shape == (len(br), 20 * 4 + 1, 2) and br.times.shape == (len(br), 81)
    r = np.hypot(br.orbits[..., 0], br.orbits[..., 1])
    np.testing.assert_allclose(r, np.sqrt(br.params)[:, None] * np.ones_like(r), atol=1e-6)
    np.testing.assert_allclose(br.periods, 2 * np.pi / OMEGA, atol=1e-6)
    np.testing.assert_allclose(br.amplitudes, 2 * np.sqrt(br.params)[:, None] * [1, 1], atol=1e-6)
    triv, other = _split_multipliers(br.multipliers)
    np.testing.assert_allclose(triv, 1.0, atol=1e-6)
    np.testing.assert_allclose(other, np.exp(-2 * br.params * br.periods), rtol=1e-5, atol=1e-7)
    assert np.all(br.stable[br.params > 1e-3])
    assert br.special_points == [] and br.folds == []


def test_subcritical_normal_form_fold_of_limit_cycles():
    with _one_thread():
        br = continue_periodic_orbits(
            subcritical, [0.0, 0.0], 0.0, (-1.0, 0.5), ntst=20, ds=0.05, max_steps=80
        )
    assert br.params.min() < -0.2499 and br.params[-1] > 0.5
    (fold,) = br.folds
    assert fold.kind == "fold_lc" and fold.param == pytest.approx(-0.25, abs=1e-8)
    assert fold.period == pytest.approx(2 * np.pi / OMEGA, abs=1e-7)
    r2 = fold.state[:, 0] ** 2 + fold.state[:, 1] ** 2
    np.testing.assert_allclose(r2, 0.5, atol=1e-5)
    np.testing.assert_allclose(br.orbits[fold.index], fold.state)
    # along the branch: mu = r^4 - r^2, and the multiplier exp(2 T r^2 (1 - 2 r^2))
    r2 = br.orbits[..., 0] ** 2 + br.orbits[..., 1] ** 2
    np.testing.assert_allclose(br.params[:, None] * np.ones_like(r2), r2**2 - r2, atol=1e-8)
    r2 = r2.mean(axis=1)
    triv, other = _split_multipliers(br.multipliers)
    np.testing.assert_allclose(triv, 1.0, atol=1e-6)
    expected = np.exp(2 * br.periods * r2 * (1 - 2 * r2))
    np.testing.assert_allclose(other, expected, rtol=1e-5)
    # small orbits (born at the subcritical Hopf) unstable, large ones stable
    assert not np.any(br.stable[r2 < 0.49]) and np.all(br.stable[r2 > 0.51])
    assert fold.index == int(np.argmin(br.params))


def test_omega_and_special_point_like_input():
    hopf = SimpleNamespace(state=np.zeros(2), param=0.0, data={"omega": OMEGA})
    with _one_thread():
        br = from_hopf(supercritical, hopf, (-1.0, 0.3), ntst=8, ds=0.1, max_steps=20)
    np.testing.assert_allclose(br.periods, np.pi, atol=1e-6)
    with pytest.raises(TypeError, match="state and .param"):
        from_hopf(supercritical, (np.zeros(2), 0.0), (-1.0, 0.3))


def test_neimark_sacker_of_a_product_of_two_oscillators():
    """Orbit z = sqrt(mu) e^(2it), w = 0 of z' = (mu + 2i) z - |z|^2 z,
    w' = (mu - 1/2 + 1.3i) w - |w|^2 w: the w-multipliers exp((mu - 1/2) pi ± 1.3 pi i)
    leave the unit circle at mu = 1/2 with angle 0.7 pi."""

    def f(x, mu):
        r2, s2, nu = x[0] ** 2 + x[1] ** 2, x[2] ** 2 + x[3] ** 2, mu - 0.5
        return jnp.array(
            [
                mu * x[0] - 2 * x[1] - r2 * x[0],
                2 * x[0] + mu * x[1] - r2 * x[1],
                nu * x[2] - 1.3 * x[3] - s2 * x[2],
                1.3 * x[2] + nu * x[3] - s2 * x[3],
            ]
        )

    with _one_thread():
        br = continue_periodic_orbits(f, np.zeros(4), 0.0, (-1.0, 0.8), ntst=8, ds=0.1)
    (ns,) = br.special_points
    assert ns.kind == "neimark_sacker" and ns.param == pytest.approx(0.5, abs=1e-6)
    assert ns.data["theta"] == pytest.approx(0.7 * np.pi, abs=1e-6) and br.folds == []
    pair = br.multipliers[np.abs(br.multipliers.imag) > 1e-6].reshape(len(br), 2)
    np.testing.assert_allclose(
        np.abs(pair), np.exp((br.params[:, None] - 0.5) * np.pi) * [1, 1], rtol=1e-6
    )
    np.testing.assert_array_equal(br.stable[1:], br.params[1:] < 0.5)


def test_period_doubling_detection_on_given_multipliers():
    """The detector alone (no analytic flow has a simple period doubling): a real multiplier
    -exp(p - 1) crosses -1 at p = 1, located by interpolating log|mu|."""
    from neurodyn.analysis._periodic import _Continuer

    p = np.linspace(0.0, 2.0, 8)
    mus = np.stack([np.ones_like(p), -np.exp(p - 1.0), 0.1 * np.ones_like(p)], 1).astype(complex)
    nontriv = [m[1:] for m in mus]
    orbits = np.zeros((len(p), 3, 3))
    (pd,) = _Continuer._pd_ns(p, np.ones_like(p), orbits, mus, nontriv)
    assert pd.kind == "period_doubling" and pd.param == pytest.approx(1.0, abs=1e-12)
    assert pd.index == 4  # first point beyond the crossing
    # a positive multiplier crossing +1 is not a period doubling
    assert _Continuer._pd_ns(p, np.ones_like(p), orbits, -mus, [-m for m in nontriv]) == []


# ---- bad input -------------------------------------------------------------------------


def test_not_an_equilibrium_is_rejected():
    with pytest.raises(ValueError, match="not an equilibrium.*max\\|f\\|"):
        continue_periodic_orbits(supercritical, [0.5, 0.0], 0.0, (-1.0, 1.0))


def test_no_complex_pair_is_rejected():
    def node(x, p):  # stable node: real eigenvalues -1, -2
        return jnp.array([p - x[0], -2.0 * x[1]])

    with pytest.raises(ValueError, match="complex-conjugate pair"):
        continue_periodic_orbits(node, [0.3, 0.0], 0.3, (0.0, 1.0))


def test_focus_far_from_the_imaginary_axis_is_rejected():
    with pytest.raises(ValueError, match="not a Hopf point.*imaginary axis"):
        continue_periodic_orbits(supercritical, [0.0, 0.0], -1.0, (-2.0, 1.0))


@pytest.mark.parametrize(
    "x, p_range, kw, match",
    [
        ([0.0], (-1.0, 1.0), {}, "d >= 2"),
        ([0.0, 0.0], (0.5, 1.0), {}, "outside p_range"),
        ([0.0, 0.0], (-1.0, 1.0), {"ntst": 1}, "ntst >= 2"),
        ([0.0, 0.0], (-1.0, 1.0), {"ncol": 1}, "ncol >= 2"),
    ],
)
def test_bad_arguments(x, p_range, kw, match):
    with pytest.raises(ValueError, match=match):
        continue_periodic_orbits(supercritical, x, 0.0, p_range, **kw)


# ---- Hodgkin-Huxley ----------------------------------------------------------------------

C, G_NA, G_K, G_L, E_NA, E_K, E_L = 1.0, 120.0, 36.0, 0.3, 50.0, -77.0, -54.387


def _rates(v, xp):
    an = 0.01 * (v + 55) / (1 - xp.exp(-(v + 55) / 10))
    bn = 0.125 * xp.exp(-(v + 65) / 80)
    am = 0.1 * (v + 40) / (1 - xp.exp(-(v + 40) / 10))
    bm = 4 * xp.exp(-(v + 65) / 18)
    ah = 0.07 * xp.exp(-(v + 65) / 20)
    bh = 1 / (1 + xp.exp(-(v + 35) / 10))
    return an, bn, am, bm, ah, bh


def hh(x, current, xp=jnp):
    v, m, h, n = x[0], x[1], x[2], x[3]
    an, bn, am, bm, ah, bh = _rates(v, xp)
    i_ion = G_NA * m**3 * h * (v - E_NA) + G_K * n**4 * (v - E_K) + G_L * (v - E_L)
    return xp.array(
        [(current - i_ion) / C, am * (1 - m) - bm * m, ah * (1 - h) - bh * h, an * (1 - n) - bn * n]
    )


def _hh_equilibrium(v):
    an, bn, am, bm, ah, bh = _rates(v, np)
    x = np.array([v, am / (am + bm), ah / (ah + bh), an / (an + bn)])
    current = G_NA * x[1] ** 3 * x[2] * (v - E_NA) + G_K * x[3] ** 4 * (v - E_K) + G_L * (v - E_L)
    return x, current


def _max_real_eig(v):
    """Largest real part of the equilibrium's eigenvalues (finite-difference Jacobian)."""
    x, current = _hh_equilibrium(v)
    J = np.empty((4, 4))
    for k in range(4):
        dx = np.zeros(4)
        dx[k] = 1e-6 * max(1.0, abs(x[k]))
        J[:, k] = (hh(x + dx, current, np) - hh(x - dx, current, np)) / (2 * dx[k])
    return np.linalg.eigvals(J).real.max()


@pytest.fixture(scope="module")
def hh_branch():
    v_hopf = brentq(_max_real_eig, -63.3, -56.1, xtol=1e-13)
    x_hopf, i_hopf = _hh_equilibrium(v_hopf)
    with _one_thread():
        br = continue_periodic_orbits(
            hh, x_hopf, i_hopf, (5.0, 10.6), ntst=40, ncol=4, ds=0.5, max_steps=150
        )
    return i_hopf, br


def _simulate(current, x0, t_end):
    return solve_ivp(
        lambda t, x: hh(x, current, np), (0, t_end), x0, method="DOP853", rtol=1e-10, atol=1e-10
    )


def test_hh_hopf_point_reference():
    v_hopf = brentq(_max_real_eig, -63.3, -56.1, xtol=1e-13)
    assert _hh_equilibrium(v_hopf)[1] == pytest.approx(9.78, abs=0.01)


def test_hh_fold_of_limit_cycles_and_stability(hh_branch):
    i_hopf, br = hh_branch
    assert br.params[0] == pytest.approx(i_hopf, abs=1e-6)
    assert br.periods[0] == pytest.approx(10.72, abs=0.02)  # 2 pi / omega at the Hopf point
    assert br.params[-1] > 10.6
    lpc = min(br.folds, key=lambda s: s.param)
    assert lpc.param == pytest.approx(6.26, rel=0.02)
    assert "fold_lc at p=6.26" in repr(br)
    i = lpc.index
    # the trivial multiplier is found everywhere, including large spiking orbits (except
    # exactly at folds, where the double multiplier 1 splits like sqrt(discretisation error))
    at_fold = np.isin(np.arange(len(br)), [s.index for s in br.folds])
    dist = np.abs(br.multipliers - 1.0)
    assert np.max(np.min(dist[~at_fold], axis=1)) < 1e-5
    # at each fold a second multiplier reaches +1
    assert np.all(np.sort(dist[at_fold], axis=1)[:, 1] < 1e-3)
    # unstable orbits from the subcritical Hopf up to the fold, stable spiking beyond it
    assert not np.any(br.stable[: i - 1]) and np.all(br.stable[i + 1 :])
    assert np.all(np.diff(br.params[i:]) > 0)
    assert np.all(br.amplitudes[i + 1 :, 0] > 100.0)  # full spikes, in mV


def test_hh_stable_period_matches_simulation(hh_branch):
    _, br = hh_branch
    i = min(br.folds, key=lambda s: s.param).index
    p, T = br.params[i:], br.periods[i:]
    k = np.argsort(np.abs(p - 10.0))[:4]
    period = np.polyval(np.polyfit(p[k], T[k], 3), 10.0)
    sol = _simulate(10.0, br.orbits[i + k[0], 0], 120.0)
    v, t = sol.y[0], sol.t
    up = np.flatnonzero((v[:-1] < 0) & (v[1:] >= 0))
    t_up = t[up] - v[up] * (t[up + 1] - t[up]) / (v[up + 1] - v[up])
    isi = np.diff(t_up)[-4:]
    assert len(isi) == 4 and np.ptp(isi) < 1e-3 * isi.mean()
    assert period == pytest.approx(isi.mean(), rel=1e-3)


def test_hh_no_spiking_below_the_fold(hh_branch):
    """Independent bracket of the fold: started on the fold's orbit, HH keeps spiking
    slightly above it and falls to rest slightly below it."""
    _, br = hh_branch
    lpc = min(br.folds, key=lambda s: s.param)
    x0 = lpc.state[np.argmax(lpc.state[:, 0])]
    for current, spiking in ((lpc.param * 1.03, True), (lpc.param * 0.95, False)):
        sol = _simulate(current, x0, 400.0)
        late = sol.y[0, sol.t > 350.0]
        assert (np.ptp(late) > 50.0) == spiking, current


@pytest.mark.slow  # a second continuation at twice the mesh
def test_hh_fold_is_converged_in_the_mesh(hh_branch):
    """A finer mesh (ntst=80) moves the fold of limit cycles and its period by < 1e-6."""
    i_hopf, br = hh_branch
    x_hopf, _ = _hh_equilibrium(brentq(_max_real_eig, -63.3, -56.1, xtol=1e-13))
    with _one_thread():
        fine = continue_periodic_orbits(hh, x_hopf, i_hopf, (5.0, 10.0), ntst=80, ds=0.5)
    a, b = (min(x.folds, key=lambda s: s.param) for x in (br, fine))
    assert b.param == pytest.approx(a.param, rel=1e-6)
    assert b.period == pytest.approx(a.period, rel=1e-6)
