"""Plots draw what they are given: lines, markers, labels and data checked on the Axes."""

import jax.numpy as jnp
import numpy as np
import pytest

import neurodyn.units as u
from neurodyn import analysis

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402
from matplotlib.quiver import Quiver  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_traces_units_labels_offset():
    t = np.arange(50.0) * 0.1 * u.ms
    v = np.stack([np.zeros(50), np.ones(50)], axis=1) * u.mV
    ax = analysis.traces(t, v, labels=["a", "b"], offset=10 * u.mV)
    assert len(ax.lines) == 2
    assert ax.get_ylabel() == "mV" and ax.get_xlabel() == "time (ms)"
    assert [x.get_text() for x in ax.get_legend().get_texts()] == ["a", "b"]
    np.testing.assert_allclose(ax.lines[1].get_ydata(), 11.0)  # 1 mV + one 10 mV offset
    np.testing.assert_allclose(ax.lines[0].get_xdata(), np.arange(50) * 0.1)
    # a list of Quantities in different units is put in the first one's unit
    ax = analysis.traces(t, [np.ones(50) * u.mV, np.ones(50) * u.volt])
    np.testing.assert_allclose(ax.lines[1].get_ydata(), 1000.0)
    with pytest.raises(ValueError, match="times has 49 samples"):
        analysis.traces(t[:49], v)
    with pytest.raises(ValueError, match="labels"):
        analysis.traces(t, v, labels=["only one"])


def test_population_rate_plot_draws_the_rate():
    rng = np.random.default_rng(0)
    r = rng.random((400, 50)) < 0.02
    fig, ax0 = plt.subplots()
    ax = analysis.population_rate_plot(r, 0.5 * u.ms, ax=ax0, t_start=100 * u.ms)
    assert ax is ax0 and len(ax.lines) == 1 and ax.get_ylabel() == "rate (Hz)"
    line = ax.lines[0]
    np.testing.assert_allclose(line.get_ydata(), r.mean(1) / 0.5e-3, rtol=1e-5)
    np.testing.assert_allclose(line.get_xdata(), 100 + 0.5 * np.arange(400))
    smooth = analysis.population_rate_plot(r, 0.5 * u.ms, width=5 * u.ms).lines[0].get_ydata()
    assert smooth.std() < line.get_ydata().std() / 3  # smoothing removes the noise
    assert smooth[100:300].mean() == pytest.approx(r.mean() / 0.5e-3, rel=0.1)


def test_isi_histogram_counts_every_interval():
    rng = np.random.default_rng(1)
    trains = [np.cumsum(rng.exponential(10.0, 300)), np.cumsum(rng.exponential(30.0, 100))]
    isis = np.concatenate([np.diff(t) for t in trains])
    ax = analysis.isi_histogram(trains, bins=30)
    heights = [p.get_height() for p in ax.patches]
    assert len(heights) == 30 and sum(heights) == isis.size == 398
    assert ax.get_xlabel() == "ISI (ms)"
    assert f"pooled CV = {isis.std() / isis.mean():.2f}" in ax.get_title()
    ax = analysis.isi_histogram(trains, bins=20, log=True)
    assert ax.get_xscale() == "log" and sum(p.get_height() for p in ax.patches) == 398
    r = jnp.zeros((100, 1), bool).at[::10, 0].set(True)  # raster: 9 ISIs of 10 ms
    ax = analysis.isi_histogram(r, dt=1 * u.ms, bins=[5, 15])
    assert [p.get_height() for p in ax.patches] == [9]


def _markers(ax):
    """(marker, face colour, x, y) of the single-point marker lines (fixed points)."""
    out = []
    for ln in ax.lines:
        if ln.get_marker() in ("o", "X", "s") and len(ln.get_xdata()) == 1 and ln.get_ms() == 9:
            out.append(
                (ln.get_marker(), matplotlib.colors.to_hex(ln.get_mfc()), *ln.get_xydata()[0])
            )
    return out


def test_phase_portrait_damped_oscillator():
    def f(x):
        return jnp.array([x[1], -x[0] - 0.5 * x[1]])

    ax = analysis.phase_portrait(f, (-2, 2), (-2, 2), trajectories=[[1.5, 0.0]], duration=40)
    assert any(isinstance(c, LineCollection) for c in ax.collections)  # streamlines
    labels = ax.get_legend_handles_labels()[1]
    assert labels == ["dx/dt = 0", "dy/dt = 0", "stable", "trajectory"]
    ((marker, face, x, y),) = _markers(ax)
    assert (marker, face) == ("o", "#000000") and abs(x) < 1e-6 and abs(y) < 1e-6
    # x-nullcline: y = 0; y-nullcline: y = -2 x
    null_x = ax.lines[0].get_xydata()
    null_y = ax.lines[1].get_xydata()
    assert len(null_x) > 20 and np.allclose(null_x[:, 1], 0.0, atol=1e-5)
    np.testing.assert_allclose(null_y[:, 1], -2 * null_y[:, 0], atol=1e-5)
    traj = [ln for ln in ax.lines if ln.get_label() == "trajectory"][0].get_xydata()
    np.testing.assert_allclose(traj[0], [1.5, 0.0])
    assert np.hypot(*traj[-1]) < 0.05  # spirals into the stable focus


def test_phase_portrait_saddle_and_unstable_with_plane_and_arrows():
    def f(x, a):  # fixed points (-sqrt a, 0): saddle, (sqrt a, 0): unstable node
        return jnp.array([x[0] ** 2 - a, x[1]])  # J = [[2x, 0], [0, 1]]

    pp = analysis.PhasePlane(f, (-2, 2), (-1, 1), args=(1.0,), labels=("v", "w"))
    ax = analysis.phase_portrait(pp, streamlines=False, annotate=True)
    assert any(isinstance(c, Quiver) for c in ax.collections)
    got = sorted(_markers(ax), key=lambda m: m[2])
    assert [(m[0], m[1]) for m in got] == [("X", "#ffffff"), ("o", "#ffffff")]
    np.testing.assert_allclose([m[2] for m in got], [-1.0, 1.0], atol=1e-6)
    assert ax.get_xlabel() == "v" and ax.get_ylabel() == "w"
    assert {t.get_text() for t in ax.texts} == {"saddle", "unstable node"}
    assert ax.get_xlim() == (-2, 2)
    with pytest.raises(ValueError, match="x_range and y_range"):
        analysis.phase_portrait(lambda x: x)


def test_find_fixed_points_public_name():
    def f(x, a):
        return jnp.array([a - x[0] ** 2, -x[1]])

    fps = analysis.find_fixed_points(f, jnp.array([[-2.0, 1.0], [2.0, 1.0]]), args=(4.0,))
    np.testing.assert_allclose([p.x[0] for p in fps], [-2.0, 2.0], atol=1e-5)
    assert [p.kind for p in fps] == ["saddle", "stable node"]
