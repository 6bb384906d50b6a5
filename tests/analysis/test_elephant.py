"""Spike statistics against Elephant (a test-only dependency) on Poisson and gamma spike
trains, to 1e-6 relative, in float64.

Spike times are drawn with numpy and discretised to the raster step (1 ms) so that the
raster and the spike-time forms, and Elephant, all see the same spikes. Convention
differences are matched, not hidden: Elephant's van Rossum distance is sqrt(2) times
ours (it normalises one spike against none to 1), and Elephant's Fano factor takes one
spike train per bin (we pass it the bins of each neuron).
"""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.signal

import neurodyn.units as u
from neurodyn import analysis

elephant = pytest.importorskip("elephant")
neo = pytest.importorskip("neo")
pq = pytest.importorskip("quantities")

from elephant import kernels  # noqa: E402
from elephant import spike_train_correlation as esc  # noqa: E402
from elephant import spike_train_dissimilarity as esd  # noqa: E402
from elephant import statistics as es  # noqa: E402
from elephant.conversion import BinnedSpikeTrain  # noqa: E402

T_MS = 20_000  # 20 s at dt = 1 ms
RTOL = 1e-6


@pytest.fixture(autouse=True)
def x64():
    with jax.enable_x64(True), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # neo/quantities deprecation chatter
        yield


def _gamma_train(rng, rate_hz, shape):
    """Renewal process with gamma ISIs (shape 1: Poisson), integer ms in [0, T_MS)."""
    n = int(rate_hz * T_MS / 1e3 * 1.5) + 50
    isi = rng.gamma(shape, 1e3 / (rate_hz * shape), size=n)
    t = np.floor(np.cumsum(isi))
    return np.unique(t[t < T_MS])


def _trains(kind, n=4, seed=0):
    rng = np.random.default_rng(seed)
    shape = {"poisson": 1.0, "gamma": 4.0}[kind]
    return [_gamma_train(rng, r, shape) for r in np.linspace(8.0, 30.0, n)]


def _raster(trains):
    r = np.zeros((T_MS, len(trains)), bool)
    for j, t in enumerate(trains):
        r[t.astype(int), j] = True
    return jnp.asarray(r)


def _neo(t):
    return neo.SpikeTrain(t, units="ms", t_start=0.0, t_stop=float(T_MS))


# gamma trains exercise the same code as Poisson ones (recompiled for other counts): `slow`
KINDS = ["poisson", pytest.param("gamma", marks=pytest.mark.slow)]


@pytest.mark.parametrize("kind", KINDS)
def test_rates_isis_and_variability(kind):
    trains = _trains(kind)
    raster, st = _raster(trains), analysis.SpikeTrains(trains, t_stop=T_MS * u.ms)
    ours_r = analysis.firing_rate(raster, dt=1 * u.ms).to_value(u.Hz)
    ours_t = analysis.firing_rate(st).to_value(u.Hz)
    ref = [float(es.mean_firing_rate(_neo(t)).rescale(pq.Hz)) for t in trains]
    np.testing.assert_allclose(ours_r, ref, rtol=RTOL)
    np.testing.assert_allclose(ours_t, ref, rtol=RTOL)

    isis = np.asarray(analysis.isi(raster, dt=1 * u.ms).to_value(u.ms))
    stats_r = analysis.isi_statistics(raster, dt=1 * u.ms)
    for j, t in enumerate(trains):
        ref_isi = np.asarray(es.isi(_neo(t)).rescale(pq.ms))
        got = isis[j][np.isfinite(isis[j])]
        np.testing.assert_allclose(got, ref_isi, rtol=RTOL)
        for name, fn in (("cv", es.cv), ("cv2", es.cv2), ("lv", es.lv)):
            want = float(fn(ref_isi))
            np.testing.assert_allclose(float(stats_r[name][j]), want, rtol=RTOL, err_msg=name)
        np.testing.assert_allclose(float(analysis.cv_isi(st)[j]), es.cv(ref_isi), rtol=RTOL)
        np.testing.assert_allclose(float(analysis.cv2(st)[j]), es.cv2(ref_isi), rtol=RTOL)
        np.testing.assert_allclose(float(analysis.lv(st)[j]), es.lv(ref_isi), rtol=RTOL)
    # sanity of the generated processes: CV ~ 1 (Poisson) or 1/sqrt(4) (gamma, shape 4)
    expected = {"poisson": 1.0, "gamma": 0.5}[kind]
    assert np.allclose(analysis.cv_isi(st), expected, atol=0.12)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("bin_ms", [50, 200])
def test_fano_factor(kind, bin_ms):
    trains = _trains(kind, seed=1)
    raster = _raster(trains)
    ours = analysis.fano_factor(raster, bin_ms)
    ours_t = analysis.fano_factor(analysis.SpikeTrains(trains, t_stop=T_MS), bin_ms * u.ms)
    for j, t in enumerate(trains):
        windows = [t[(t >= a) & (t < a + bin_ms)] for a in range(0, T_MS, bin_ms)]
        ref = es.fanofactor(windows)
        np.testing.assert_allclose(float(ours[j]), ref, rtol=RTOL)
        np.testing.assert_allclose(float(ours_t[j]), ref, rtol=RTOL)


def _correlated(seed=2):
    """Three trains sharing a common Poisson source (pairwise correlated counts)."""
    rng = np.random.default_rng(seed)
    common = _gamma_train(rng, 10.0, 1.0)
    trains = []
    for _ in range(3):
        own = _gamma_train(rng, 10.0, 1.0)
        keep = common[rng.random(common.size) < 0.6]
        trains.append(
            np.unique(
                np.concatenate([own, np.clip(keep + rng.integers(0, 3, keep.size), 0, T_MS - 1)])
            )
        )
    return trains


def test_count_correlation_and_cross_correlogram():
    trains = _correlated()
    raster = _raster(trains)
    binned = BinnedSpikeTrain([_neo(t) for t in trains], bin_size=10 * pq.ms)
    ref = esc.correlation_coefficient(binned)
    ours = np.asarray(analysis.spike_count_correlation(raster, 10))
    np.testing.assert_allclose(ours, ref, rtol=RTOL)
    assert ref[0, 1] > 0.1 and ref[0, 1] > 3 * abs(ref[0, 1] - ref[0, 2])  # common input

    b1 = [BinnedSpikeTrain(_neo(t), bin_size=1 * pq.ms) for t in trains[:2]]
    cch, lags = esc.cross_correlation_histogram(b1[0], b1[1], window=[-20, 20])
    ours = np.asarray(analysis.cross_correlogram(raster[:, 0], raster[:, 1], 20))
    np.testing.assert_array_equal(lags, np.arange(-20, 21))
    np.testing.assert_allclose(ours, np.asarray(cch).ravel(), rtol=RTOL)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("tau_ms", [2.0, 20.0, 500.0])
def test_van_rossum_distance(kind, tau_ms):
    trains = [t[t < 5000] for t in _trains(kind, seed=3)]
    ref = esd.van_rossum_distance([_neo(t) for t in trains], time_constant=tau_ms * pq.ms)
    raster = _raster(trains)[:5000]
    for i, j in ((0, 1), (1, 3), (2, 2)):
        want = ref[i, j] / np.sqrt(2.0)  # Elephant normalises one spike vs none to 1
        got_t = analysis.van_rossum_distance(trains[i] * u.ms, trains[j] * u.ms, tau_ms * u.ms)
        got_r = analysis.van_rossum_distance(raster[:, i], raster[:, j], tau_ms, dt=1 * u.ms)
        # a train against itself: sqrt of the round-off of a cancelling sum
        atol = 1e-6 if i == j else 1e-9
        np.testing.assert_allclose(float(got_t), want, rtol=RTOL, atol=atol)
        np.testing.assert_allclose(float(got_r), want, rtol=RTOL, atol=atol)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("q_hz", [0.0, 10.0, 200.0, 5000.0])
def test_victor_purpura_distance(kind, q_hz):
    trains = [t[t < 4000] for t in _trains(kind, seed=4)]
    ref = esd.victor_purpura_distance([_neo(t) for t in trains], cost_factor=q_hz * pq.Hz)
    st = analysis.SpikeTrains(trains, t_stop=4000)
    for i, j in ((0, 1), (1, 3), (3, 2), (2, 2)):
        got = analysis.victor_purpura_distance(st.times[i], st.times[j], q_hz * u.Hz)
        np.testing.assert_allclose(float(got), ref[i, j], rtol=RTOL, atol=1e-9)
    raster = _raster(trains)[:4000]
    got_r = analysis.victor_purpura_distance(raster[:, 0], raster[:, 1], q_hz * u.Hz, dt=1.0)
    np.testing.assert_allclose(float(got_r), ref[0, 1], rtol=RTOL, atol=1e-9)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("sigma_ms", [5.0, 20.0])
def test_instantaneous_rate_gaussian(kind, sigma_ms):
    trains = _trains(kind, n=3, seed=5)
    raster = _raster(trains)
    ref = es.instantaneous_rate(
        [_neo(t) for t in trains],
        sampling_period=1 * pq.ms,
        kernel=kernels.GaussianKernel(sigma=sigma_ms * pq.ms),
        cutoff=5.0,
    )
    ref = np.asarray(ref.rescale(pq.Hz))
    ours = np.asarray(analysis.instantaneous_rate(raster, sigma_ms * u.ms, 1 * u.ms).to_value(u.Hz))
    ours_t = analysis.instantaneous_rate(
        analysis.SpikeTrains(trains, t_stop=T_MS), sigma_ms * u.ms, 1 * u.ms
    )
    assert ours.shape == ref.shape == (T_MS, 3)
    atol = 1e-9 * ref.max()  # FFT round-off in the kernel tails
    np.testing.assert_allclose(ours, ref, rtol=RTOL, atol=atol)
    np.testing.assert_allclose(ours_t.to_value(u.Hz), ref, rtol=RTOL, atol=atol)
    # the smoothed rate keeps the spike count: mean rate equals the firing rate
    np.testing.assert_allclose(
        ours.mean(0), analysis.firing_rate(raster, 1 * u.ms).to_value(u.Hz), rtol=1e-2
    )


@pytest.mark.parametrize(
    "kernel, ekernel", [("exponential", "ExponentialKernel"), ("alpha", "AlphaKernel")]
)
def test_instantaneous_rate_causal_kernels(kernel, ekernel):
    trains = _trains("gamma", n=2, seed=6)
    ref = es.instantaneous_rate(
        [_neo(t) for t in trains],
        sampling_period=1 * pq.ms,
        kernel=getattr(kernels, ekernel)(sigma=10 * pq.ms),
        cutoff=5.0,
        center_kernel=False,
    )
    ref = np.asarray(ref.rescale(pq.Hz))
    ours = analysis.instantaneous_rate(_raster(trains), 10 * u.ms, 1 * u.ms, kernel=kernel)
    np.testing.assert_allclose(ours.to_value(u.Hz), ref, rtol=RTOL, atol=1e-9 * ref.max())


@pytest.mark.parametrize("kind", ["poisson", "gamma"])  # gamma: correlated trains here
@pytest.mark.parametrize("window_ms", [2.5, 10.5])
def test_spike_time_tiling_coefficient(kind, window_ms):
    trains = _correlated(seed=7) if kind == "gamma" else _trains(kind, seed=7)
    for i, j in ((0, 1), (1, 2), (0, 0)):
        ref = esc.spike_time_tiling_coefficient(
            _neo(trains[i]), _neo(trains[j]), dt=window_ms * pq.ms
        )
        got = analysis.spike_time_tiling_coefficient(
            trains[i], trains[j], window_ms * u.ms, t_start=0.0, t_stop=T_MS * u.ms
        )
        np.testing.assert_allclose(float(got), ref, rtol=RTOL)


@pytest.mark.parametrize("nperseg, noverlap", [(256, None), (1000, 250), (333, 0)])
def test_power_spectrum_and_coherence_match_scipy(nperseg, noverlap):
    rng = np.random.default_rng(8)
    trains = _trains("poisson", n=2, seed=9)
    rate = np.asarray(
        analysis.instantaneous_rate(_raster(trains), 5 * u.ms, 1 * u.ms).to_value(u.Hz)
    )
    lfp = np.sin(2 * np.pi * 40 * np.arange(T_MS) * 1e-3)[:, None] + rng.normal(size=(T_MS, 2))
    for x in (rate, lfp):
        f, p = analysis.power_spectrum(x * u.mV, 1 * u.ms, nperseg, noverlap)
        fr, pr = scipy.signal.welch(x, fs=1000.0, nperseg=nperseg, noverlap=noverlap, axis=0)
        np.testing.assert_allclose(f.to_value(u.Hz), fr, rtol=RTOL)
        np.testing.assert_allclose(p.to_value(u.mV**2 / u.Hz), pr, rtol=RTOL, atol=1e-12 * pr.max())
        f, c = analysis.coherence(x[:, 0], x[:, 1], 1 * u.ms, nperseg, noverlap)
        fr, cr = scipy.signal.coherence(
            x[:, 0], x[:, 1], fs=1000.0, nperseg=nperseg, noverlap=noverlap
        )
        np.testing.assert_allclose(c, cr, rtol=1e-6, atol=1e-9)
    f, p = analysis.power_spectrum(lfp[:, 0], 1 * u.ms, 1000)
    assert float(f.to_value(u.Hz)[np.argmax(p)]) == pytest.approx(40.0)
