"""Spike statistics against direct spike-time computations (numpy, independent code) and
known values for Poisson and regular trains."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurodyn.units as u
from neurodyn import analysis


def _raster(rng, T=20000, N=6, rate_per_step=0.02):
    return rng.random((T, N)) < rate_per_step


def _isis(col):
    t = np.nonzero(col)[0].astype(float)  # dt = 1 ms
    return np.diff(t)


def test_isi_statistics_match_spike_time_formulas():
    rng = np.random.default_rng(0)
    r = _raster(rng)
    st = analysis.isi_statistics(jnp.asarray(r), dt=1 * u.ms)
    for j in range(r.shape[1]):
        isi = _isis(r[:, j])
        assert int(st["n_isi"][j]) == len(isi)
        np.testing.assert_allclose(st["mean"][j], isi.mean(), rtol=1e-4)
        np.testing.assert_allclose(st["cv"][j], isi.std(ddof=1) / isi.mean(), rtol=1e-3)
        a, b = isi[:-1], isi[1:]
        np.testing.assert_allclose(st["cv2"][j], np.mean(2 * np.abs(b - a) / (a + b)), rtol=1e-3)
        np.testing.assert_allclose(st["lv"][j], 3 * np.mean(((a - b) / (a + b)) ** 2), rtol=1e-3)
    # a Poisson process has CV ~ 1, LV ~ 1, Fano ~ 1
    assert np.allclose(st["cv"], 1.0, atol=0.08)
    assert np.allclose(st["lv"], 1.0, atol=0.1)
    assert np.allclose(analysis.fano_factor(jnp.asarray(r), 100), 1.0, atol=0.25)


def test_regular_train_and_silent_neurons():
    r = np.zeros((1000, 3), bool)
    r[::50, 0] = True
    r[[10, 500], 1] = True
    st = analysis.isi_statistics(jnp.asarray(r), dt=0.5 * u.ms)
    assert float(st["cv"][0]) == pytest.approx(0.0, abs=1e-6)
    assert float(st["mean"][0]) == pytest.approx(25.0)  # 50 steps of 0.5 ms
    assert np.isnan(float(st["cv"][1])) and np.isnan(float(st["mean"][2]))
    rates = analysis.firing_rate(jnp.asarray(r), dt=0.5 * u.ms)
    np.testing.assert_allclose(rates.to_value(u.Hz), [40.0, 4.0, 0.0])


def test_correlations_correlogram_synchrony_distance():
    rng = np.random.default_rng(1)
    common = rng.random(5000) < 0.05
    r = np.stack(
        [
            common | (rng.random(5000) < 0.01),
            common | (rng.random(5000) < 0.01),
            rng.random(5000) < 0.05,
        ],
        axis=1,
    )
    c = np.asarray(analysis.spike_count_correlation(jnp.asarray(r), 10))
    counts = r[:5000].reshape(500, 10, 3).sum(1)
    np.testing.assert_allclose(c, np.corrcoef(counts.T), rtol=1e-4, atol=1e-5)
    assert c[0, 1] > 0.7 and abs(c[0, 2]) < 0.15
    cc = np.asarray(analysis.cross_correlogram(jnp.asarray(r[:, 0]), jnp.asarray(r[:, 1]), 5))
    ref = [
        np.sum(r[:, 0][: 5000 - k] & r[:, 1][k:])
        if k >= 0
        else np.sum(r[:, 0][-k:] & r[:, 1][: 5000 + k])
        for k in range(-5, 6)
    ]
    np.testing.assert_allclose(cc, ref)
    x = np.sin(np.linspace(0, 20, 1000))[:, None] * np.ones((1, 4))
    assert float(analysis.synchrony(jnp.asarray(x))) == pytest.approx(1.0, rel=1e-5)
    noise = rng.normal(size=(1000, 50))
    assert float(analysis.synchrony(jnp.asarray(noise))) < 0.25
    # van Rossum: one spike vs none -> sqrt(1/2) (integral of exp(-2t/tau)/tau)
    a = np.zeros(20000, bool)
    a[100] = True
    d = analysis.van_rossum_distance(jnp.asarray(a), jnp.zeros(20000, bool), 0.01 * u.ms, 10 * u.ms)
    assert float(d) == pytest.approx(np.sqrt(0.5), rel=1e-2)


def test_jit_and_vmap():
    rng = np.random.default_rng(2)
    rs = jnp.asarray(rng.random((4, 2000, 3)) < 0.03)
    f = jax.jit(jax.vmap(lambda r: analysis.isi_statistics(r, 1.0)["cv"]))
    out = f(rs)
    for i in range(4):
        np.testing.assert_allclose(out[i], analysis.cv(rs[i], 1.0), rtol=1e-6)
    pr = analysis.population_rate(rs[0], dt=1 * u.ms, width=5 * u.ms)
    assert pr.unit is u.Hz and pr.shape == (2000,)
    assert float(pr.mean().mantissa) == pytest.approx(30.0, rel=0.15)
