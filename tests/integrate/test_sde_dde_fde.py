"""SDE strong/weak orders, DDE against the method of steps, fractional against Mittag-Leffler."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurodyn.units as u
from neurodyn.integrate import sdeint, solve, solve_dde, solve_fde

MU, SIGMA, X0, T = 1.5, 0.8, 1.0, 1.0
N_FINE, N_PATHS = 2**9, 400


def _fine_path(seed=0):
    key = jax.random.key(seed)
    k1, k2 = jax.random.split(key)
    h = T / N_FINE
    xi1 = jax.random.normal(k1, (N_PATHS, N_FINE))
    xi2 = jax.random.normal(k2, (N_PATHS, N_FINE))
    dW = jnp.sqrt(h) * xi1
    dZ = 0.5 * h**1.5 * (xi1 + xi2 / math.sqrt(3.0))
    return dW, dZ


def _coarsen(dW, dZ, factor):
    """Aggregate increments: Z over a merged step = sum Z_i + sum_i h*(W_i - W_start) terms."""
    h = T / N_FINE
    n = dW.shape[1] // factor
    w = dW.reshape(N_PATHS, n, factor)
    z = dZ.reshape(N_PATHS, n, factor)
    w_before = jnp.cumsum(w, axis=2) - w  # W at the start of each sub-step, from the block start
    return w.sum(axis=2), (z + h * w_before).sum(axis=2)


def _gbm_exact(dW):
    return X0 * jnp.exp((MU - 0.5 * SIGMA**2) * T + SIGMA * dW.sum(axis=1))


@pytest.mark.parametrize(
    "method, order, strat",
    [
        ("euler_maruyama", 0.5, False),
        ("milstein", 1.0, False),
        ("milstein_df", 1.0, False),
        ("srk", 1.5, False),
        ("heun_sde", 1.0, True),
        ("milstein_strat", 1.0, True),
    ],
)
def test_strong_order_on_geometric_brownian_motion(method, order, strat, x64):
    dW, dZ = _fine_path()
    exact = _gbm_exact(dW)
    drift_mu = MU - 0.5 * SIGMA**2 if strat else MU  # same solution in Stratonovich form

    def one_path(w, z, n):
        sol = solve(
            lambda t, x: drift_mu * x,
            jnp.array(X0),
            (0.0, T),
            dt=T / n,
            method=method,
            g=lambda t, x: SIGMA * x,
            dW=w,
            dZ=z,
            saveat=T,
        )
        return sol.ys[0]

    dts, errs = [], []
    for factor in (64, 32, 16, 8):
        n = N_FINE // factor
        w, z = _coarsen(dW, dZ, factor)
        xs = jax.vmap(lambda a, b, n=n: one_path(a, b, n))(w, z)
        errs.append(float(jnp.mean(jnp.abs(xs - exact))))
        dts.append(T / n)
    slope = np.polyfit(np.log(dts), np.log(errs), 1)[0]
    assert abs(slope - order) < 0.25, (method, slope, errs)


def test_coarsened_increments_are_consistent(x64):
    dW, dZ = _fine_path(1)
    w, z = _coarsen(dW, dZ, N_FINE)
    # over [0, T]: Var(W) = T, Var(Z) = T^3/3, Cov(W, Z) = T^2/2
    np.testing.assert_allclose(jnp.var(w), T, rtol=0.2)
    np.testing.assert_allclose(jnp.var(z), T**3 / 3, rtol=0.2)
    np.testing.assert_allclose(jnp.mean(w * z), T**2 / 2, rtol=0.2)


@pytest.mark.slow  # 200k paths per step size; the strong-order tests cover euler_maruyama
def test_weak_order_on_ornstein_uhlenbeck_moments(x64):
    theta, sigma, x0, t_end, n_paths = 1.0, 1.0, 1.0, 1.0, 200_000
    mean_exact = x0 * np.exp(-theta * t_end)
    var_exact = sigma**2 / (2 * theta) * (1 - np.exp(-2 * theta * t_end))
    dts, mean_errs, var_errs = [0.2, 0.1, 0.05], [], []
    for i, dt in enumerate(dts):
        keys = jax.random.split(jax.random.key(10 + i), n_paths)

        def one(k, dt=dt):
            return solve(
                lambda t, x: -theta * x,
                jnp.array(x0),
                (0.0, t_end),
                dt=dt,
                method="euler_maruyama",
                g=lambda t, x: sigma * jnp.ones_like(x),
                key=k,
                saveat=t_end,
            ).ys[0]

        xs = jax.vmap(one)(keys)
        mean_errs.append(abs(float(xs.mean()) - mean_exact))
        var_errs.append(abs(float(xs.var()) - var_exact))
    slope = np.polyfit(np.log(dts), np.log(mean_errs), 1)[0]
    assert abs(slope - 1.0) < 0.3, (slope, mean_errs)
    assert var_errs[-1] < var_errs[0]


def test_sde_with_units_and_general_noise():
    tau, sigma = 10 * u.ms, 2 * u.mV / u.ms**0.5
    f = lambda t, v: (-65 * u.mV - v) / tau  # noqa: E731
    g = lambda t, v: sigma * jnp.ones(3)  # noqa: E731
    sol = solve(
        f,
        jnp.full(3, -65.0) * u.mV,
        (0 * u.ms, 5 * u.ms),
        dt=0.1 * u.ms,
        method="milstein",
        g=g,
        key=jax.random.key(0),
    )
    assert sol.ys.unit is u.mV and sol.ys.shape == (51, 3)
    std = float(jnp.std(sol.ys[-1].to_value(u.mV) + 65))
    assert 0.5 < std < 10
    # general noise: 2 processes driving 3 variables
    mix = jnp.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    sol = solve(
        lambda t, y: -y,
        jnp.zeros(3),
        (0.0, 1.0),
        dt=0.01,
        g=lambda t, y: mix,
        method="euler_maruyama",
        noise="general",
        key=jax.random.key(1),
    )
    assert sol.ys.shape == (101, 3)
    with pytest.raises(ValueError, match="general"):
        solve(
            lambda t, y: -y,
            jnp.zeros(3),
            (0.0, 1.0),
            dt=0.01,
            g=lambda t, y: mix,
            method="milstein",
            noise="general",
        )
    step = sdeint(lambda t, y: -y, lambda t, y: 0.1 * jnp.ones_like(y), "srk")
    assert step(jnp.ones(2), 0.0, 0.01, key=jax.random.key(2)).shape == (2,)


def _dde_exact(t):
    """Method-of-steps solution of y' = -y(t-1), y = 1 for t <= 0."""
    k = np.arange(0, int(np.floor(t)) + 2)
    return float(
        np.sum(
            (-1.0) ** k * np.maximum(t - k + 1, 0) ** k / np.array([math.factorial(i) for i in k])
        )
    )


def test_dde_against_method_of_steps(x64):
    # constant history: the solution is piecewise polynomial of degree <= 3 on [0, 3], which
    # RK4 with cubic Hermite interpolation of the delayed values reproduces to rounding
    sol = solve_dde(lambda t, y, yd: -yd, 1.0, (0.0, 3.0), 0.1, delays=1.0, method="rk4")
    ref = np.array([_dde_exact(t) for t in np.asarray(sol.ts)])
    np.testing.assert_allclose(sol.ys, ref, atol=1e-12)

    # history cos(t): method of steps by hand on [0, 2]
    s1 = math.sin(1.0)

    def exact(t):
        if t <= 1:
            return 1 - math.sin(t - 1) - s1
        return (1 - s1) - (1 - s1) * (t - 1) - math.cos(t - 2) + math.cos(1.0)

    errs, dts = [], [0.1, 0.05, 0.025]
    for dt in dts:
        sol = solve_dde(lambda t, y, yd: -yd, lambda t: jnp.cos(t), (0.0, 2.0), dt, delays=1.0)
        ref = np.array([exact(t) for t in np.asarray(sol.ts)])
        errs.append(np.max(np.abs(np.asarray(sol.ys) - ref)))
    assert errs[-1] < 1e-7
    assert np.polyfit(np.log(dts), np.log(errs), 1)[0] > 3.5, errs
    # two delays and a history function: y' = -y(t-1) + 0.5 y(t-0.5) vs a fine Euler reference
    sol = solve_dde(
        lambda t, y, d: -d[0] + 0.5 * d[1],
        lambda t: jnp.cos(t),
        (0.0, 2.0),
        0.01,
        delays=(1.0, 0.5),
    )
    fine_dt = 1e-4
    n = int(2.0 / fine_dt)
    hist = [np.cos(-1.0 + i * fine_dt) for i in range(int(1 / fine_dt) + 1)]
    y = list(hist)
    lag1, lag2 = int(1 / fine_dt), int(0.5 / fine_dt)
    for _ in range(n):
        y.append(y[-1] + fine_dt * (-y[-1 - lag1] + 0.5 * y[-1 - lag2]))
    assert abs(float(sol.ys[-1]) - y[-1]) < 2e-3
    with pytest.raises(ValueError, match="shorter than dt"):
        solve_dde(lambda t, y, yd: -yd, 1.0, (0.0, 1.0), 0.1, delays=0.05)


def _mittag_leffler(alpha, z, terms=120):
    return sum(z**k / math.gamma(alpha * k + 1) for k in range(terms))


@pytest.mark.parametrize("method", ["l1", "gl"])
@pytest.mark.parametrize("alpha", [0.5, pytest.param(0.8, marks=pytest.mark.slow)])
def test_fractional_relaxation_against_mittag_leffler(method, alpha, x64):
    errs, dts = [], (0.02, 0.01, 0.005)
    for dt in dts:
        sol = solve_fde(lambda t, y: -y, jnp.array(1.0), (0.0, 1.0), dt, alpha=alpha, method=method)
        ts = np.asarray(sol.ts)
        late = ts >= 0.25  # explicit schemes are first order away from the t^alpha singularity
        ref = np.array([_mittag_leffler(alpha, -(t**alpha)) for t in ts[late]])
        errs.append(np.max(np.abs(np.asarray(sol.ys)[late] - ref)))
    assert abs(np.polyfit(np.log(dts), np.log(errs), 1)[0] - 1.0) < 0.2, errs
    assert errs[-1] < 1e-3
    n = 200
    full = solve_fde(lambda t, y: -y, jnp.array(1.0), (0.0, 1.0), 1 / n, alpha, method)
    same = solve_fde(lambda t, y: -y, jnp.array(1.0), (0.0, 1.0), 1 / n, alpha, method, memory=n)
    np.testing.assert_allclose(full.ys, same.ys, rtol=1e-12)
    short = solve_fde(
        lambda t, y: -y, jnp.array(1.0), (0.0, 1.0), 1 / n, alpha, method, memory=n // 2
    )
    assert abs(float(short.ys[-1]) - _mittag_leffler(alpha, -1.0)) < 0.1
