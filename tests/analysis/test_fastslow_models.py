"""critical_manifold and fast_slow_diagram on neurodyn.dyn models (Hindmarsh-Rose,
Morris-Lecar, AdEx), against the equations typed here and numpy/scipy roots."""

import matplotlib
import numpy as np
import pytest
from scipy.optimize import brentq

import neurodyn as nd
import neurodyn.units as u
from neurodyn import analysis

matplotlib.use("Agg")

A, B, C, D, I_EXT, R, S, X_R = 1.0, 3.0, 1.0, 5.0, 2.0, 0.005, 4.0, -1.6


def test_hindmarsh_rose_model_fast_v_y_slow_z():
    hr = nd.dyn.HindmarshRose(1, r=R, I_ext=I_EXT)
    x = -2.0
    z0 = C - D * x**2 - A * x**3 + B * x**2 + I_EXT  # on the manifold at V = -2
    fs = analysis.critical_manifold(
        hr, {"V": x, "y": C - D * x**2}, z0, (-2.0, 4.0), slow="z", ds=0.05, direction=-1
    )
    m = fs.manifold
    assert (m.param_name, m.var_names, fs.slow_name) == ("z", ("V", "y"), "z")
    V = m.states[:, 0]
    np.testing.assert_allclose(m.params, C - D * V**2 - A * V**3 + B * V**2 + I_EXT, atol=1e-9)
    np.testing.assert_allclose(m.states[:, 1], C - D * V**2, atol=1e-9)
    x_folds = np.array([2 * (B - D) / (3 * A), 0.0])  # dz/dV = V (2 (b - d) - 3 a V) = 0
    np.testing.assert_allclose([s.state[0] for s in fs.folds], x_folds, atol=1e-9)
    np.testing.assert_allclose([s.param for s in fs.folds], [49 / 27, 3.0], atol=1e-9)
    x_h = (2 * B - np.sqrt(4 * B**2 - 12 * A)) / (6 * A)  # trace of the fast Jacobian = 0
    assert [s.state[0] for s in fs.hopfs] == pytest.approx([x_h], abs=1e-9)
    roots = np.roots([A, D - B, S, S * -X_R - C - I_EXT])  # z-nullcline meets the manifold
    x_eq = roots[np.abs(roots.imag) < 1e-9].real
    assert len(fs.equilibria) == 1
    assert fs.equilibria[0].state[0] == pytest.approx(x_eq[0], abs=1e-9)
    np.testing.assert_allclose(fs.slow_rate, R * (S * (V - X_R) - m.params), atol=1e-12)


def _ml_w_nullcline(v, i_density=0.0):
    """The V-nullcline of Morris-Lecar solved for w (V in mV, I in uA/cm^2)."""
    minf = 0.5 * (1 + np.tanh((v + 1.2) / 18.0))
    return (i_density - 4.4 * minf * (v - 120.0) - 2.0 * (v + 60.0)) / (8.0 * (v + 84.0))


def test_morris_lecar_fast_v_slow_w_in_millivolts():
    ml = nd.dyn.MorrisLecar(1)
    # from the rest branch at w = 0.1 down through the equilibrium and both folds
    fs = analysis.critical_manifold(
        ml, {"V": -60 * u.mV}, 0.1, (-0.2, 0.6), slow="w", ds=0.5, ds_max=2.0, direction=-1
    )
    m = fs.manifold
    assert m.var_names == ("V",) and m.var_units == (u.mV,) and fs.slow_unit is None
    np.testing.assert_allclose(m.params, _ml_w_nullcline(m.states[:, 0]), atol=1e-7)
    h = 1e-4  # folds: extrema of the typed w(V), by brentq on its derivative

    def dw(v):
        return (_ml_w_nullcline(v + h) - _ml_w_nullcline(v - h)) / (2 * h)

    v_folds = [brentq(dw, -60.0, -20.0, xtol=1e-12), brentq(dw, 0.0, 30.0, xtol=1e-12)]
    got = sorted(s.state[0] for s in fs.folds)
    np.testing.assert_allclose(got, v_folds, atol=1e-4)
    np.testing.assert_allclose(
        sorted(s.param for s in fs.folds), sorted(_ml_w_nullcline(np.array(v_folds))), atol=1e-8
    )

    def balance(v):  # the full equilibrium: w = w_inf(V) on the V-nullcline
        return _ml_w_nullcline(v) - 0.5 * (1 + np.tanh((v - 2.0) / 30.0))

    v_eq = brentq(balance, -80.0, -20.0, xtol=1e-12)
    [eq] = fs.equilibria
    assert eq.state[0] == pytest.approx(v_eq, abs=1e-6) and eq.data["stable"]


@pytest.fixture(scope="module")
def adex_fs():
    adex = nd.dyn.AdEx(1)  # a = 1 nS, tau_w = 30 ms, R = 100 MOhm, tau = 10 ms
    return analysis.critical_manifold(
        adex, {"V": -70 * u.mV}, 40 * u.pA, (-0.1, 0.05) * u.nA, slow="w", ds=0.5, direction=-1
    )


def test_adex_slow_adaptation_current_in_picoamperes(adex_fs):
    fs = adex_fs
    m = fs.manifold
    assert isinstance(m.params, u.Quantity) and m.params.unit == u.pA
    w = m.params.to_value(u.pA)
    V = m.states[:, 0]

    def w_nullcline(v):  # w (pA) where dV/dt = 0: (V_rest - V + dT exp((V - V_T)/dT)) / R
        return (-65.0 - v + 3.48 * np.exp((v + 59.9) / 3.48)) * 10.0

    # Quantities hold float32: compare them to ~1e-7 relative
    np.testing.assert_allclose(w, w_nullcline(V), rtol=1e-6, atol=1e-5)
    [fold] = fs.folds  # where the exponential's slope is 1: V = V_T
    assert fold.state[0] == pytest.approx(-59.9, abs=1e-6)
    assert fold.param.to_value(u.pA) == pytest.approx(w_nullcline(-59.9), abs=1e-6)
    slow = (1.0 * (V + 65.0) - w) / 30.0  # a (V - V_rest) - w, in pA / ms
    np.testing.assert_allclose(fs.slow_rate.to_value(u.pA / u.ms), slow, rtol=1e-6, atol=1e-6)
    v_eq = sorted(
        brentq(lambda v: w_nullcline(v) - (v + 65.0), lo, hi, xtol=1e-12)
        for lo, hi in ((-70.0, -59.9), (-59.9, -40.0))
    )
    got = sorted((e.state[0], e.param.to_value(u.pA), e.data["stable"]) for e in fs.equilibria)
    np.testing.assert_allclose([g[0] for g in got], v_eq, atol=1e-6)
    np.testing.assert_allclose([g[1] for g in got], np.add(v_eq, 65.0), rtol=1e-6)
    assert [g[2] for g in got] == [True, False]  # the rest state and a saddle


def test_fast_slow_diagram_of_a_model_with_a_monitored_trajectory():
    adex = nd.dyn.AdEx(1)
    traj = {  # a made-up trace in other units, [time, neurons]
        "w": np.linspace(0.0, 0.04, 50)[:, None] * u.nA,
        "V": np.linspace(-0.07, -0.06, 50)[:, None] * u.volt,
    }
    ax = analysis.fast_slow_diagram(
        adex,
        traj,
        var="V",
        x0={"V": -70 * u.mV},
        z0=40 * u.pA,
        slow="w",
        z_range=(-100, 50) * u.pA,
        ds=0.5,
        direction=-1,
    )
    assert ax.get_xlabel() == "w (pA)" and ax.get_ylabel() == "V (mV)"
    line = [ln for ln in ax.get_lines() if ln.get_label() == "trajectory"][0]
    np.testing.assert_allclose(line.get_xdata(), np.linspace(0.0, 40.0, 50), rtol=1e-6)
    np.testing.assert_allclose(line.get_ydata(), np.linspace(-70.0, -60.0, 50), rtol=1e-6)
    assert sorted(t.get_text() for t in ax.texts) == ["LP"]


def test_fast_slow_errors_name_the_model_and_the_choices(adex_fs):
    hr = nd.dyn.HindmarshRose(1)
    with pytest.raises(
        TypeError, match=r"HindmarshRose\) needs slow='name'.*V, y, z; got slow=None"
    ):
        analysis.critical_manifold(hr, z_range=(0, 1))
    with pytest.raises(ValueError, match=r"slow='q' is not a variable of HindmarshRose.*V, y, z"):
        analysis.critical_manifold(hr, z_range=(0, 1), slow="q")
    with pytest.raises(ValueError, match=r"fast=\('V', 'x'\) names 'x'.*V, y, z"):
        analysis.critical_manifold(hr, z_range=(0, 1), slow="z", fast=("V", "x"))
    with pytest.raises(TypeError, match=r"needs z_range=\(low, high\) of the slow variable 'z'"):
        analysis.critical_manifold(hr, slow="z")
    with pytest.raises(u.UnitMismatchError, match=r"z_range \(AdEx.w\) must have the dimension"):
        analysis.critical_manifold(nd.dyn.AdEx(1), z_range=(0, 1) * u.mV, slow="w")
    with pytest.raises(TypeError, match="slow= as a variable name and fast= are for a"):
        analysis.critical_manifold(lambda x, z: -x, [0.0], 0.0, (0, 1), slow="z")
    with pytest.raises(ValueError, match="var='n' is not one of the model's fast variables.*V"):
        analysis.fast_slow_diagram(adex_fs, var="n")
    with pytest.raises(ValueError, match=r"the trajectory has no w.*'w' \(slow\) and 'V'"):
        analysis.fast_slow_diagram(adex_fs, {"V": np.zeros(3) * u.mV, "z": np.zeros(3)})
