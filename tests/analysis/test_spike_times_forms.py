"""Spike times given bare: a 1-D time Quantity is ONE train (never a raster), a list of
them several trains. Every public spike statistic is checked on the same times against
values computed by hand here and, where Elephant is installed, against Elephant."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurodyn.units as u
from neurodyn import analysis

T = np.array([1.0, 5.0, 9.0, 10.0, 18.0])  # ms; ISIs 4, 4, 1, 8
T_Q = T * u.ms
T2 = np.array([2.0, 6.0, 7.0, 15.0])
T_STOP = 20 * u.ms


def test_one_train_rates_and_isis_by_hand():
    assert analysis.firing_rate(T_Q, t_stop=T_STOP).to_value(u.Hz) == pytest.approx(250.0)
    assert analysis.firing_rate(T_Q.to(u.second), t_stop=T_STOP).shape == ()
    np.testing.assert_allclose(analysis.isi(T_Q).to_value(u.ms), [4.0, 4.0, 1.0, 8.0])
    d = np.diff(T)
    a, b = d[:-1], d[1:]
    st = analysis.isi_statistics(T_Q)
    assert {k: np.shape(v) for k, v in st.items()} == dict.fromkeys(st, ())
    assert float(st["n_isi"]) == 4 and float(st["mean"]) == pytest.approx(4.25)
    assert float(analysis.cv(T_Q)) == pytest.approx(d.std() / d.mean(), rel=1e-6)
    assert float(analysis.cv_isi(T_Q, ddof=1)) == pytest.approx(d.std(ddof=1) / d.mean(), rel=1e-6)
    assert float(analysis.cv2(T_Q)) == pytest.approx(np.mean(2 * np.abs(b - a) / (a + b)), rel=1e-6)
    assert float(analysis.lv(T_Q)) == pytest.approx(3 * np.mean(((a - b) / (a + b)) ** 2), rel=1e-6)
    # a flat list of times (numbers in ms, or scalar Quantities) is one train too
    assert float(analysis.cv(list(T))) == pytest.approx(d.std() / d.mean(), rel=1e-6)
    assert float(analysis.cv([t * u.ms for t in T])) == pytest.approx(d.std() / d.mean(), rel=1e-6)
    assert analysis.SpikeTrains(list(T)).n_neurons == 1


def test_one_train_binning_by_hand():
    counts = np.array([1, 1, 2, 0, 1], float)  # bins of 4 ms: [0,4) [4,8) [8,12) [12,16) [16,20)
    np.testing.assert_allclose(analysis.bin_counts(T_Q, 4 * u.ms, t_stop=T_STOP), counts)
    np.testing.assert_allclose(analysis.to_raster(T_Q, 4 * u.ms, T_STOP), counts)
    f = analysis.fano_factor(T_Q, 4 * u.ms, t_stop=T_STOP)
    assert np.shape(f) == () and float(f) == pytest.approx(counts.var() / counts.mean())
    raster = np.zeros(20)
    raster[T.astype(int)] = 1.0
    rate = analysis.instantaneous_rate(T_Q, 1 * u.ms, 1 * u.ms, kernel="exponential", t_stop=T_STOP)
    assert rate.shape == (20,)
    k = np.arange(20)[:, None] - T[None, :]  # causal exp(-t/tau)/tau, tau = 1 ms, to 5 tau
    want = np.where((k >= 0) & (k <= 5), np.exp(-np.abs(k)), 0.0).sum(1) * 1e3  # Hz
    np.testing.assert_allclose(rate.to_value(u.Hz), want, rtol=1e-5, atol=1e-3)
    pop = analysis.population_rate(T_Q, 1 * u.ms, t_stop=T_STOP)
    np.testing.assert_allclose(pop.to_value(u.Hz), raster * 1e3)


def test_several_trains_as_a_list_of_quantities():
    trains = [T_Q, T2 * u.ms]
    np.testing.assert_allclose(
        analysis.firing_rate(trains, t_stop=T_STOP).to_value(u.Hz), [250.0, 200.0]
    )
    isis = np.asarray(analysis.isi(trains).to_value(u.ms))
    np.testing.assert_allclose(isis[1][:3], [4.0, 1.0, 8.0])
    assert np.isnan(isis[1][3])
    np.testing.assert_allclose(
        analysis.bin_counts(trains, 4 * u.ms, t_stop=T_STOP),
        [[1, 1], [1, 2], [2, 0], [0, 1], [1, 0]],
    )
    c = np.asarray(analysis.spike_count_correlation(trains, 4 * u.ms, t_stop=T_STOP))
    want = np.corrcoef([[1, 1, 2, 0, 1], [1, 2, 0, 1, 0]])
    np.testing.assert_allclose(c, want, rtol=1e-5)
    # a 2-D time Quantity is a padded [neurons, spikes] array, not a raster
    padded = np.array([[1.0, 5.0, 9.0], [2.0, 6.0, np.nan]]) * u.ms
    np.testing.assert_allclose(analysis.cv(padded), [0.0, 0.0], atol=1e-7)


def test_pairs_of_single_trains_by_hand():
    b = T2 * u.ms
    cc = analysis.cross_correlogram(T_Q, b, 3, bin_size=1 * u.ms)
    lags = (T2[None, :] - T[:, None]).ravel()  # b after a, in whole ms
    want = [np.sum(lags == k) for k in range(-3, 4)]
    np.testing.assert_allclose(cc, want)
    # van Rossum: D^2 = 1/2 sum_ij s_i s_j exp(-|t_i - t_j| / tau); times read as times
    # also when dt is given
    t = np.concatenate([T, T2])
    s = np.concatenate([np.ones(5), -np.ones(4)])
    d2 = 0.5 * np.sum(s[:, None] * s[None, :] * np.exp(-np.abs(t[:, None] - t[None, :]) / 5.0))
    for dt in (None, 1 * u.ms):
        got = analysis.van_rossum_distance(T_Q, b, 5 * u.ms, dt=dt)
        assert float(got) == pytest.approx(np.sqrt(d2), rel=1e-5)
    # Victor-Purpura with q = 0: the difference of the counts
    assert float(analysis.victor_purpura_distance(T_Q, b, 0.0, dt=1 * u.ms)) == 1.0
    # one spike each, 0.5 ms apart, q = 1/ms: shifting costs 0.5
    vp = analysis.victor_purpura_distance(np.array([3.0]) * u.ms, [3.5 * u.ms], 1 / u.ms)
    assert float(vp) == pytest.approx(0.5)
    sttc = analysis.spike_time_tiling_coefficient(T_Q, T_Q, 1 * u.ms, t_stop=T_STOP)
    assert float(sttc) == pytest.approx(1.0)


def test_one_train_under_jit():
    rate = jax.jit(lambda m: analysis.firing_rate(m * u.ms, t_stop=T_STOP).to_value(u.Hz))
    assert float(rate(jnp.asarray(T))) == pytest.approx(250.0)
    cv = jax.jit(lambda m: analysis.cv(m * u.ms))
    d = np.diff(T)
    assert float(cv(jnp.asarray(T))) == pytest.approx(d.std() / d.mean(), rel=1e-6)


def test_messages_for_spike_times_in_the_wrong_place():
    with pytest.raises(ValueError, match="one spike train.*list of them, \\[a, b, ...\\]"):
        analysis.spike_count_correlation(T_Q, 4 * u.ms, t_stop=T_STOP)
    with pytest.raises(TypeError, match="synchrony takes signals.*not spike times"):
        analysis.synchrony(T_Q)
    with pytest.raises(TypeError, match="already spike times.*SpikeTrains\\(times, t_stop"):
        analysis.spike_trains(T_Q, 1 * u.ms)
    with pytest.raises(TypeError, match="pass bin_size="):
        analysis.cross_correlogram(T_Q, T_Q, 3)
    with pytest.raises(TypeError, match="max_lag is a number of bins"):
        analysis.cross_correlogram(T_Q, T_Q, 3 * u.ms, bin_size=1 * u.ms)
    with pytest.raises(ValueError, match="expected one spike train; got a list of 2"):
        analysis.van_rossum_distance([T_Q, T_Q], T_Q, 5 * u.ms)
    with pytest.raises(
        u.UnitMismatchError, match="spike times must be times.*got a Quantity in mV"
    ):
        analysis.cv([T * u.mV, T * u.mV])
    with pytest.raises(ValueError, match="pass t_stop"):
        analysis.firing_rate(T_Q)
    with pytest.raises(ValueError, match="give them as a time Quantity"):
        analysis.cv(jnp.asarray(T), dt=1 * u.ms)  # a plain 1-D float array: a raster


# -- the same times through Elephant --------------------------------------------------------


@pytest.fixture
def elephant_modules():
    elephant = pytest.importorskip("elephant")
    neo = pytest.importorskip("neo")
    pq = pytest.importorskip("quantities")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # neo/quantities deprecation chatter
        yield elephant, neo, pq


def _poisson(rng, rate_hz, t_stop_ms):
    t = np.cumsum(rng.exponential(1e3 / rate_hz, size=int(rate_hz * t_stop_ms / 1e3 * 2) + 20))
    return np.unique(np.round(t[t < t_stop_ms]))  # whole ms: rasters and times agree


def test_single_trains_match_elephant(elephant_modules):
    elephant, neo, pq = elephant_modules
    from elephant import spike_train_correlation as esc
    from elephant import spike_train_dissimilarity as esd
    from elephant import statistics as es
    from elephant.conversion import BinnedSpikeTrain

    rng = np.random.default_rng(0)
    t_stop = 2000.0
    a, b = _poisson(rng, 20.0, t_stop), _poisson(rng, 30.0, t_stop)
    na, nb = (neo.SpikeTrain(x, units="ms", t_stop=t_stop) for x in (a, b))
    qa, qb = a * u.ms, b * u.ms
    rtol = 2e-5  # float32
    assert float(analysis.firing_rate(qa, t_stop=t_stop * u.ms).to_value(u.Hz)) == pytest.approx(
        float(es.mean_firing_rate(na).rescale(pq.Hz)), rel=rtol
    )
    isi_ref = np.asarray(es.isi(na).rescale(pq.ms))
    np.testing.assert_allclose(analysis.isi(qa).to_value(u.ms), isi_ref, rtol=rtol)
    for fn, ref in ((analysis.cv, es.cv), (analysis.cv2, es.cv2), (analysis.lv, es.lv)):
        assert float(fn(qa)) == pytest.approx(float(ref(isi_ref)), rel=rtol)
    windows = [a[(a >= w) & (a < w + 100)] for w in range(0, int(t_stop), 100)]
    fano = analysis.fano_factor(qa, 100 * u.ms, t_stop=t_stop * u.ms)
    assert float(fano) == pytest.approx(es.fanofactor(windows), rel=rtol)
    binned = BinnedSpikeTrain([na, nb], bin_size=10 * pq.ms)
    corr = analysis.spike_count_correlation([qa, qb], 10 * u.ms, t_stop=t_stop * u.ms)
    np.testing.assert_allclose(corr, esc.correlation_coefficient(binned), rtol=rtol)
    cch, _ = esc.cross_correlation_histogram(
        BinnedSpikeTrain(na, bin_size=1 * pq.ms),
        BinnedSpikeTrain(nb, bin_size=1 * pq.ms),
        window=[-10, 10],
    )
    np.testing.assert_allclose(
        analysis.cross_correlogram(qa, qb, 10, bin_size=1 * u.ms), np.asarray(cch).ravel()
    )
    vr = esd.van_rossum_distance([na, nb], time_constant=10 * pq.ms)[0, 1] / np.sqrt(2.0)
    assert float(analysis.van_rossum_distance(qa, qb, 10 * u.ms, dt=1 * u.ms)) == pytest.approx(
        vr, rel=rtol
    )
    vp = esd.victor_purpura_distance([na, nb], cost_factor=100 * pq.Hz)[0, 1]
    assert float(analysis.victor_purpura_distance(qa, qb, 100 * u.Hz, dt=1 * u.ms)) == (
        pytest.approx(vp, rel=rtol)
    )
    sttc = esc.spike_time_tiling_coefficient(na, nb, dt=5 * pq.ms)
    got = analysis.spike_time_tiling_coefficient(qa, qb, 5 * u.ms, t_stop=t_stop * u.ms)
    assert float(got) == pytest.approx(sttc, rel=rtol)
    from elephant import kernels

    ref = es.instantaneous_rate(
        na, sampling_period=1 * pq.ms, kernel=kernels.GaussianKernel(sigma=10 * pq.ms), cutoff=5.0
    )
    ours = analysis.instantaneous_rate(qa, 10 * u.ms, 1 * u.ms, t_stop=t_stop * u.ms)
    ref = np.asarray(ref.rescale(pq.Hz))[:, 0]
    np.testing.assert_allclose(ours.to_value(u.Hz), ref, rtol=rtol, atol=1e-5 * ref.max())
