"""Spike statistics of a simulated E/I network (the Brunel-style network of
ei_poisson.py, smaller): rates, ISI variability (CV, CV2, LV), Fano factor, count
correlations, synchrony, spike-train distances, and the power spectrum of the
population rate; draws raster, population rate, membrane traces, ISI histogram and
spectrum into examples/figures/analysis_spikes.png. Prints one JSON line at the end.

    python examples/analysis_spikes.py [--n 500] [--t 2000] [--seed 0] [--no-plot]
"""

from __future__ import annotations

import argparse
import json
import os
import time

import jax.numpy as jnp
import numpy as np
from ei_poisson import EINet

import neurodyn as nd
import neurodyn.units as u
from neurodyn import analysis
from neurodyn.dyn import Monitor

DT = 0.1 * u.ms


def statistics(spikes, n_e: int) -> dict:
    """All the numbers, from the boolean raster ``[time, neurons]``."""
    e = spikes[:, :n_e]
    rates = np.asarray(analysis.firing_rate(spikes, DT).to_value(u.Hz))
    isi = analysis.isi_statistics(e, DT)
    active = np.asarray(isi["n_isi"]) >= 5
    fano = np.asarray(analysis.fano_factor(e, 100 * u.ms, dt=DT))
    corr = np.asarray(analysis.spike_count_correlation(e[:, :100], 20 * u.ms, dt=DT))
    off = corr[~np.eye(100, dtype=bool)]
    smooth = analysis.instantaneous_rate(e[:, :100], 5 * u.ms, DT).to_value(u.Hz)
    # two neurons' spike times: the first two active E neurons (the first two may be
    # silent, which leaves the distances and the STTC undefined)
    pair = np.flatnonzero(active)[:2] if active.sum() >= 2 else np.arange(2)
    trains = analysis.spike_trains(e[:, pair], DT)
    a, b = trains.times
    return {
        "rate_E_hz": float(rates[:n_e].mean()),
        "rate_I_hz": float(rates[n_e:].mean()),
        "cv": float(np.nanmean(np.asarray(isi["cv"])[active])),
        "cv2": float(np.nanmean(np.asarray(isi["cv2"])[active])),
        "lv": float(np.nanmean(np.asarray(isi["lv"])[active])),
        "fano_100ms": float(np.nanmean(fano)),
        "count_corr": float(np.nanmean(off)),
        "synchrony_chi": float(analysis.synchrony(smooth)),
        "victor_purpura": float(analysis.victor_purpura_distance(a, b, 0.1 / u.ms)),
        "van_rossum": float(analysis.van_rossum_distance(a, b, 10 * u.ms)),
        "sttc_5ms": float(analysis.spike_time_tiling_coefficient(a, b, 5 * u.ms, 0, trains.t_stop)),
    }


def figure(res, spikes, n_e, stats, freqs, power, path: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("  (matplotlib not installed: no figure)")
        return
    fig = plt.figure(figsize=(10, 10), layout="constrained")
    grid = fig.add_gridspec(4, 2, height_ratios=[2.2, 1, 1.2, 1.6])
    ax_r = fig.add_subplot(grid[0, :])
    ax_p = fig.add_subplot(grid[1, :], sharex=ax_r)
    ax_v = fig.add_subplot(grid[2, :], sharex=ax_r)
    ax_i, ax_s = fig.add_subplot(grid[3, 0]), fig.add_subplot(grid[3, 1])
    times = res.times
    analysis.raster(times, spikes[:, ::5], ax=ax_r, marker="|", ms=2, color="k")
    ax_r.set_ylabel("neuron (every 5th)")
    ax_r.set_title(
        f"E/I network: E {stats['rate_E_hz']:.1f} Hz, I {stats['rate_I_hz']:.1f} Hz, "
        f"mean CV {stats['cv']:.2f}, Fano {stats['fano_100ms']:.2f}, "
        f"chi {stats['synchrony_chi']:.2f}"
    )
    ax_r.tick_params(labelbottom=False)
    ax_r.set_xlabel("")
    analysis.population_rate_plot(spikes, DT, width=2 * u.ms, ax=ax_p)
    ax_p.set_xlabel("")
    ax_p.tick_params(labelbottom=False)
    analysis.traces(times, res["V"][:, :2], ax=ax_v, lw=0.7, labels=["neuron 0", "neuron 1"])
    ax_v.set_xlim(float(times[0].to_value(u.ms)), float(times[-1].to_value(u.ms)))
    analysis.isi_histogram(spikes[:, :n_e], DT, bins=60, ax=ax_i, log=True)
    ax_i.set_title("ISIs of the E neurons, " + ax_i.get_title(), fontsize=9)
    f, p = np.asarray(freqs.to_value(u.Hz)), np.asarray(power.to_value(u.Hz**2 / u.Hz))
    keep = (f > 0) & (f <= 300)
    ax_s.semilogy(f[keep], p[keep], color="k", lw=1)
    ax_s.set_xlabel("frequency (Hz)")
    ax_s.set_ylabel("PSD of population rate (Hz²/Hz)")
    ax_s.set_title("Welch spectrum (Hann, 4096 samples, 50 % overlap)", fontsize=9)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"  figure written to {path}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--t", type=float, default=2000.0, help="biological time in ms")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-plot", action="store_true")
    args = ap.parse_args()
    nd.random.seed(args.seed)
    net = EINet(args.n, args.seed)
    mons = {"spike": Monitor(net.N.spike), "V": Monitor(net.N.V, index=slice(0, 3))}
    t0 = time.perf_counter()
    res = nd.run(net, args.t * u.ms, dt=DT, monitors=mons)
    sim_s = time.perf_counter() - t0
    spikes = jnp.asarray(res["spike"])
    t0 = time.perf_counter()
    stats = statistics(spikes, net.E.num)
    rate = analysis.population_rate(spikes, DT)
    freqs, power = analysis.power_spectrum(rate, DT, nperseg=min(4096, spikes.shape[0]))
    f, p = np.asarray(freqs.to_value(u.Hz)), np.asarray(power.mantissa)
    band = (f >= 5) & (f <= 300)
    stats["psd_peak_hz"] = float(f[band][np.argmax(p[band])])
    stats_s = time.perf_counter() - t0

    print(f"E/I network, {args.n} neurons, {args.t:g} ms (simulated in {sim_s:.1f} s)")
    print(f"  rates: E {stats['rate_E_hz']:.2f} Hz, I {stats['rate_I_hz']:.2f} Hz")
    print(
        f"  ISI variability (E): CV {stats['cv']:.3f}, CV2 {stats['cv2']:.3f}, LV {stats['lv']:.3f}"
    )
    print(f"  Fano factor (100 ms bins) {stats['fano_100ms']:.3f}")
    print(f"  mean count correlation (20 ms bins, 100 E) {stats['count_corr']:.4f}")
    print(f"  synchrony chi (5 ms smoothed rates) {stats['synchrony_chi']:.3f}")
    print(
        f"  neurons 0 vs 1: Victor-Purpura (q = 0.1/ms) {stats['victor_purpura']:.2f}, "
        f"van Rossum (10 ms) {stats['van_rossum']:.3f}, STTC (5 ms) {stats['sttc_5ms']:.3f}"
    )
    print(f"  population-rate spectrum peak {stats['psd_peak_hz']:.1f} Hz")
    print(f"  statistics computed in {stats_s:.2f} s")
    if not args.no_plot:
        path = os.path.join(os.path.dirname(__file__), "figures", "analysis_spikes.png")
        figure(res, spikes, net.E.num, stats, freqs, power, path)
    out = {k: round(v, 4) for k, v in stats.items()}
    out.update(n=args.n, t_ms=args.t, sim_s=round(sim_s, 3), stats_s=round(stats_s, 3))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
