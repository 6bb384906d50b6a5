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
    st = analysis.isi_statistics(jnp.asarray(r), dt=1 * u.ms, ddof=1)
    st0 = analysis.isi_statistics(jnp.asarray(r), dt=1 * u.ms)  # default ddof=0
    for j in range(r.shape[1]):
        isi = _isis(r[:, j])
        assert int(st["n_isi"][j]) == len(isi)
        np.testing.assert_allclose(st["mean"][j], isi.mean(), rtol=1e-4)
        np.testing.assert_allclose(st["cv"][j], isi.std(ddof=1) / isi.mean(), rtol=1e-3)
        np.testing.assert_allclose(st0["cv"][j], isi.std() / isi.mean(), rtol=1e-3)
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
    # a single ISI: population std 0 (as scipy.stats.variation), sample std undefined
    assert float(st["cv"][1]) == 0.0 and np.isnan(float(st["mean"][2]))
    st1 = analysis.isi_statistics(jnp.asarray(r), dt=0.5 * u.ms, ddof=1)
    assert np.isnan(float(st1["cv"][1])) and np.isnan(float(st1["cv"][2]))
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
    d = analysis.van_rossum_distance(a, np.zeros(20000, bool), 10 * u.ms, dt=0.01 * u.ms)
    assert float(d) == pytest.approx(np.sqrt(0.5), rel=1e-5)
    d = analysis.van_rossum_distance([1.0 * u.ms], [jnp.nan], tau=10 * u.ms)
    assert float(d) == pytest.approx(np.sqrt(0.5), rel=1e-6)
    # two spikes 5 ms apart, tau 10 ms: D^2 = 1/2 (1 + 1 - 2 exp(-1/2))
    d = analysis.van_rossum_distance(np.array([3.0]), np.array([8.0]), 10.0)
    assert float(d) == pytest.approx(np.sqrt(1 - np.exp(-0.5)), rel=1e-6)


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


def test_spike_times_and_raster_forms_agree():
    rng = np.random.default_rng(3)
    r = rng.random((3000, 4)) < 0.03
    st = analysis.spike_trains(jnp.asarray(r), dt=0.5 * u.ms)
    trains = [np.nonzero(r[:, j])[0] * 0.5 for j in range(4)]  # ms
    np.testing.assert_allclose(st.times[1][: len(trains[1])], trains[1])
    assert st.t_stop == 1500.0 and np.all(np.isnan(np.asarray(st.times[0][len(trains[0]) :])))
    lst = analysis.SpikeTrains([t * u.ms for t in trains], t_stop=1.5 * u.second)
    np.testing.assert_allclose(analysis.to_raster(lst, 0.5 * u.ms), r.astype(float))
    for fn in (analysis.cv_isi, analysis.cv2, analysis.lv):
        np.testing.assert_allclose(fn(lst), fn(jnp.asarray(r), 0.5 * u.ms), rtol=1e-5)
    np.testing.assert_allclose(analysis.firing_rate(lst).to_value(u.Hz), r.sum(0) / 1.5, rtol=1e-6)
    np.testing.assert_allclose(
        analysis.fano_factor(lst, 50 * u.ms), analysis.fano_factor(jnp.asarray(r), 100), rtol=1e-5
    )
    np.testing.assert_allclose(
        analysis.fano_factor(jnp.asarray(r), 50 * u.ms, dt=0.5 * u.ms),
        analysis.fano_factor(jnp.asarray(r), 100),
    )


def test_victor_purpura_hand_computed():
    vp = analysis.victor_purpura_distance
    assert float(vp([1.0, 10.0], [2.0], q=0.5)) == pytest.approx(1.5)  # shift + delete
    assert float(vp([1.0], [9.0], q=0.5)) == pytest.approx(2.0)  # delete + insert beats 4
    assert float(vp([1.0, 2.0, 3.0], [jnp.nan], q=1.0)) == pytest.approx(3.0)
    assert float(vp([5.0, 20.0], [6.0, 21.0], q=0.1 / u.ms)) == pytest.approx(0.2)
    assert float(vp([5.0, 20.0], [6.0, 21.0], q=100 * u.Hz)) == pytest.approx(0.2)
    assert float(vp([1.0, 2.0], [5.0, 6.0, 7.0], q=0.0)) == pytest.approx(1.0)  # counts only


def test_instantaneous_rate_kernels_have_unit_area():
    r = jnp.zeros((400, 1), bool).at[200, 0].set(True)
    for kernel in ("gaussian", "exponential", "alpha"):
        rate = analysis.instantaneous_rate(r, 10 * u.ms, 0.5 * u.ms, kernel=kernel)
        area = float(rate.to_value(u.Hz).sum()) * 0.5e-3  # one spike -> area 1
        assert area == pytest.approx(1.0, abs=2e-2), kernel
    rate = analysis.instantaneous_rate(r, 10 * u.ms, 0.5 * u.ms, kernel="exponential")
    v = np.asarray(rate.to_value(u.Hz))[:, 0]
    assert v[199] == 0 and v[200] == pytest.approx(100.0)  # causal, 1/tau at the spike


def test_power_spectrum_peak_and_units():
    t = np.arange(8192) * 1e-3
    x = (np.sin(2 * np.pi * 12.5 * t) + 0.1 * np.sin(2 * np.pi * 80 * t)) * u.mV
    f, p = analysis.power_spectrum(x, 1 * u.ms, nperseg=1024)
    fv, pv = np.asarray(f.to_value(u.Hz)), np.asarray(p.to_value(u.mV**2 / u.Hz))
    assert fv[np.argmax(pv)] == pytest.approx(12.5, abs=1.0)
    # Parseval: the density integrates to the variance (0.5 + 0.005 mV^2)
    assert float(pv.sum() * (fv[1] - fv[0])) == pytest.approx(0.505, rel=0.02)


def test_jit_and_vmap_spike_statistics():
    rng = np.random.default_rng(4)
    rs = jnp.asarray(rng.random((3, 1000, 2)) < 0.05)
    fano = jax.jit(jax.vmap(lambda r: analysis.fano_factor(r, 20)))(rs)
    rate = jax.jit(jax.vmap(lambda r: analysis.firing_rate(r, 1 * u.ms).to_value(u.Hz)))(rs)
    cvs = jax.jit(jax.vmap(lambda r: analysis.cv_isi(r, 1.0)))(rs)
    for i in range(3):
        r = np.asarray(rs[i])
        counts = r.reshape(50, 20, 2).sum(1)
        np.testing.assert_allclose(fano[i], counts.var(0) / counts.mean(0), rtol=1e-5)
        np.testing.assert_allclose(rate[i], r.sum(0), rtol=1e-6)  # 1 s
        isi0 = np.diff(np.nonzero(r[:, 0])[0])
        np.testing.assert_allclose(cvs[i, 0], isi0.std() / isi0.mean(), rtol=1e-5)
    # spike times: a batch of padded trains through jit + vmap (pairwise distances)
    st = analysis.spike_trains(rs[0], dt=1 * u.ms, max_spikes=120)
    vp = jax.jit(
        jax.vmap(
            jax.vmap(lambda a, b: analysis.victor_purpura_distance(a, b, 0.1), (None, 0)),
            (0, None),
        )
    )(st.times, st.times)
    assert vp.shape == (2, 2) and float(vp[0, 0]) == 0.0
    ref = analysis.victor_purpura_distance(st.times[0], st.times[1], 0.1)
    assert float(vp[0, 1]) == pytest.approx(float(ref)) and float(vp[0, 1]) > 0
    cv_t = jax.jit(analysis.cv_isi)(st)
    np.testing.assert_allclose(cv_t, cvs[0], rtol=1e-5)
    vr = jax.jit(lambda a, b: analysis.van_rossum_distance(a, b, 5 * u.ms, dt=1 * u.ms))
    assert float(vr(rs[0][:, 0], rs[0][:, 0])) == 0.0


def test_errors_say_what_was_expected():
    with pytest.raises(ValueError, match=r"raster \[time, neurons\]"):
        analysis.cv_isi(jnp.zeros(10, bool), 1.0)
    with pytest.raises(TypeError, match="dt must be a time"):
        analysis.cv_isi(jnp.zeros((10, 2), bool), 1 * u.mV)
    with pytest.raises(ValueError, match="needs dt"):
        analysis.firing_rate(jnp.zeros((10, 2), bool))
    with pytest.raises(ValueError, match="pass t_stop"):
        analysis.firing_rate([[1.0, 2.0]])
    with pytest.raises(ValueError, match="equal length"):
        analysis.cross_correlogram(jnp.zeros(10), jnp.zeros(11), 2)
    with pytest.raises(ValueError, match="multiple of dt"):
        analysis.fano_factor(jnp.zeros((100, 2), bool), 1.5 * u.ms, dt=1 * u.ms)
    with pytest.raises(ValueError, match="pass max_spikes"):
        jax.jit(lambda r: analysis.isi(r, 1.0).mantissa)(jnp.zeros((10, 2), bool))
    with pytest.raises(ValueError, match="kernel must be"):
        analysis.instantaneous_rate(jnp.zeros((100, 2), bool), 5.0, 1.0, kernel="box")
