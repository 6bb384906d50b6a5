"""ODE methods: convergence orders, exactness, adaptive tolerances, units, gradients."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.integrate import solve_ivp

import neurodyn.units as u
from neurodyn.integrate import get_method, methods, odeint, solve
from neurodyn.integrate._ode import ExponentialEuler
from neurodyn.integrate._registry import _METHODS

ODE_NAMES = sorted(n for n, m in _METHODS.items() if getattr(m, "kind", "") == "ode")


def field(t, y):
    # rotation (a, b), a time-dependent scalar c' = cos(t) c, and a nonlinear d' = -d^2
    return {"a": -y["b"], "b": y["a"], "c": jnp.cos(t) * y["c"], "d": -(y["d"] ** 2)}


def exact(t):
    return {"a": np.cos(t), "b": np.sin(t), "c": np.exp(np.sin(t)), "d": 1 / (1 + t)}


def y0():
    return {"a": jnp.array(1.0), "b": jnp.array(0.0), "c": jnp.array(1.0), "d": jnp.array(1.0)}


def _error(name, dt, T=4.0):
    sol = solve(field, y0(), (0.0, T), dt=dt, method=name, saveat=T, adaptive=False)
    ref = exact(T)
    return max(abs(float(sol.ys[k][0]) - ref[k]) for k in ref)


@pytest.mark.parametrize("name", ODE_NAMES)
def test_convergence_order(name, x64):
    method = get_method(name)
    order = method.order
    dts = [0.2, 0.1, 0.05, 0.025] if order >= 4 else [0.05, 0.025, 0.0125, 0.00625]
    errs = [_error(name, dt) for dt in dts]
    slope = np.polyfit(np.log(dts), np.log(errs), 1)[0]
    assert abs(slope - order) < 0.2, (name, order, slope, errs)


def test_exponential_euler_is_exact_for_linear_odes(x64):
    a, b = -3.0, 2.0
    sol = solve(lambda t, y: a * y + b, jnp.array(1.0), (0.0, 1.0), dt=0.5, method="exp_euler")
    exact_ = -b / a + (1 + b / a) * np.exp(a * np.asarray(sol.ts))
    np.testing.assert_allclose(sol.ys, exact_, rtol=1e-12)
    # with units: membrane relaxation, exact at any dt
    tau, e_l = 20 * u.ms, -65 * u.mV
    sol = solve(
        lambda t, v: (e_l - v) / tau,
        -50.0 * u.mV,
        (0 * u.ms, 40 * u.ms),
        dt=10 * u.ms,
        method="exp_euler",
    )
    v_exact = -65 + 15 * np.exp(-np.asarray(sol.ts.to_value(u.ms)) / 20)
    np.testing.assert_allclose(sol.ys.to_value(u.mV), v_exact, rtol=1e-12)
    assert sol.ts.unit is u.ms


def test_exponential_euler_with_given_linear_coefficient(x64):
    m = ExponentialEuler(linear=lambda t, y: -3.0 * jnp.ones_like(y))
    y1 = m.step(lambda t, y: -3.0 * y + 2.0, jnp.array(1.0), 0.0, 0.5)
    assert float(y1) == pytest.approx(2 / 3 + (1 / 3) * np.exp(-1.5), rel=1e-12)


def test_exp_euler_is_stable_for_stiff_gating():
    # tau = 0.01 ms with dt = 0.1 ms: Euler explodes, exp_euler relaxes to the steady state
    f = lambda t, m: (0.3 - m) / 0.01  # noqa: E731
    e = solve(f, jnp.array(0.0), (0.0, 1.0), dt=0.1, method="exp_euler")
    np.testing.assert_allclose(e.ys[-1], 0.3, rtol=1e-5)
    bad = solve(f, jnp.array(0.0), (0.0, 1.0), dt=0.1, method="euler")
    assert not np.isfinite(float(bad.ys[-1])) or abs(float(bad.ys[-1])) > 1e3


def van_der_pol(t, y, mu=1.0):
    x, v = y
    return jnp.stack([v, mu * (1 - x**2) * v - x])


def lorenz(t, y):
    x, yy, z = y
    return jnp.stack([10 * (yy - x), x * (28 - z) - yy, x * yy - 8 / 3 * z])


@pytest.mark.parametrize("name", ["dopri5", "bs3", "rkf45", "cash_karp"])
@pytest.mark.parametrize("problem", ["vdp", pytest.param("lorenz", marks=pytest.mark.slow)])
def test_adaptive_reaches_tolerance_against_scipy(name, problem, x64):
    f, yinit, T = (
        (van_der_pol, [2.0, 0.0], 5.0) if problem == "vdp" else (lorenz, [1.0, 1.0, 1.0], 1.0)
    )
    ts = np.linspace(0, T, 6)
    ref = solve_ivp(
        lambda t, y: np.asarray(f(t, jnp.asarray(y))),
        (0, T),
        yinit,
        method="DOP853",
        rtol=1e-12,
        atol=1e-12,
        t_eval=ts,
    )
    sol = solve(
        f, jnp.asarray(yinit), (0.0, T), dt=1e-3, method=name, saveat=ts, rtol=1e-8, atol=1e-10
    )
    err = np.max(np.abs(np.asarray(sol.ys) - ref.y.T))
    scale = np.max(np.abs(ref.y))
    assert err / scale < (1e-5 if problem == "vdp" else 1e-4), (name, err)
    assert int(sol.stats["n_saved"]) == len(ts)
    loose = solve(
        f, jnp.asarray(yinit), (0.0, T), dt=1e-3, method=name, saveat=ts, rtol=1e-4, atol=1e-6
    )
    assert int(loose.stats["n_steps"]) < int(sol.stats["n_steps"])  # tolerance drives step size


def test_gradients_through_solve_match_finite_differences(x64):
    def final(k, y0, method, **kw):
        sol = solve(
            lambda t, y, k: -k * y + jnp.sin(t),
            y0,
            (0.0, 2.0),
            dt=0.05,
            method=method,
            args=(k,),
            saveat=2.0,
            **kw,
        )
        return sol.ys[0]

    for method, kw in [("rk4", {}), ("exp_euler", {}), ("dopri5", {"max_steps": 200})]:
        gk, gy = jax.grad(final, argnums=(0, 1))(0.7, 1.3, method, **kw)
        eps = 1e-6
        fk = (final(0.7 + eps, 1.3, method, **kw) - final(0.7 - eps, 1.3, method, **kw)) / (2 * eps)
        fy = (final(0.7, 1.3 + eps, method, **kw) - final(0.7, 1.3 - eps, method, **kw)) / (2 * eps)
        assert float(gk) == pytest.approx(float(fk), rel=1e-5), method
        assert float(gy) == pytest.approx(float(fy), rel=1e-5), method


def test_units_are_checked_naming_the_variable():
    y = {"v": -65.0 * u.mV, "m": jnp.array(0.1)}

    def wrong(t, y):
        return {"v": y["v"] * 0, "m": -y["m"] / (1 * u.ms)}  # dv/dt in mV, not mV/ms

    with pytest.raises(u.UnitMismatchError, match=r"dy/dt for y\['v'\] has unit mV .* mV/ms"):
        solve(wrong, y, (0 * u.ms, 1 * u.ms), dt=0.1 * u.ms)

    def right(t, y):
        return {"v": (-65 * u.mV - y["v"]) / (10 * u.ms), "m": (0.5 - y["m"]) / (1 * u.ms)}

    sol = solve(right, y, (0 * u.ms, 1 * u.ms), dt=0.1 * u.ms, method="rk4")
    assert sol.ys["v"].unit is u.mV and sol.ts.unit is u.ms
    with pytest.raises(u.UnitMismatchError, match="plain number"):
        solve(right, y, (1, 2 * u.ms), dt=0.1 * u.ms)


def test_saveat_lands_exactly_and_stepper_api(x64):
    sol = solve(
        lambda t, y: -y,
        jnp.array(1.0),
        (0.0, 1.0),
        dt=0.3,
        method="rk4",
        saveat=[0.0, 0.25, 0.5, 1.0],
    )
    np.testing.assert_allclose(sol.ts, [0, 0.25, 0.5, 1.0])
    np.testing.assert_allclose(sol.ys, np.exp(-np.asarray(sol.ts)), rtol=1e-3)
    step = odeint(lambda t, y: -y, "rk4")
    y = jnp.array(1.0)
    for i in range(10):
        y = step(y, 0.1 * i, 0.1)
    assert float(y) == pytest.approx(np.exp(-1.0), rel=1e-6)


def test_method_listing_and_bad_names():
    names = methods()
    for n in [
        "euler",
        "midpoint",
        "heun2",
        "heun3",
        "ralston2",
        "ralston3",
        "ralston4",
        "rk2",
        "rk3",
        "rk4",
        "ssprk3",
        "rk4_38",
        "exp_euler",
        "exp_auto",
        "dopri5",
        "bs3",
        "rkf45",
        "cash_karp",
        "euler_maruyama",
        "milstein",
        "milstein_strat",
        "milstein_df",
        "heun_sde",
        "srk",
        "l1",
        "gl",
    ]:
        assert n in names, n
    with pytest.raises(ValueError, match="Unknown integration method 'rk5'.*rk4"):
        solve(lambda t, y: y, jnp.array(1.0), (0.0, 1.0), dt=0.1, method="rk5")
    with pytest.raises(TypeError, match="diffusion"):
        solve(lambda t, y: y, jnp.array(1.0), (0.0, 1.0), dt=0.1, method="milstein")
    with pytest.raises(ValueError, match="forward"):
        solve(lambda t, y: y, jnp.array(1.0), (1.0, 0.0), dt=0.1)
