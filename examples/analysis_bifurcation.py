"""Bifurcations of equilibria with neurodyn.analysis.

(a) Hodgkin-Huxley (1952 parameters, V_rest = -65 mV): the resting state loses stability
in a (subcritical) Hopf bifurcation at I ≈ 9.78 µA/cm² and regains it near 154.5 µA/cm².
The unstable periodic orbits born at the Hopf point (continued by collocation, stability
from their Floquet multipliers) turn at the fold of limit cycles, I ≈ 6.26 µA/cm², into
the stable spiking branch: between the two the neuron is bistable.
(b) Morris-Lecar with the Rinzel-Ermentrout "type I" parameters: an S-shaped branch with
two folds (the lower one, I ≈ 39.96, is the saddle-node on invariant circle) and a Hopf
point on the upper branch.
(c) The same model in the (I, φ) plane: the fold lines and the Hopf curve, which ends on
the upper fold line at a Bogdanov-Takens point.

Writes examples/figures/analysis_bifurcation.png and prints one JSON line.

    python examples/analysis_bifurcation.py
"""

from __future__ import annotations

import json
import os
import time

import jax.numpy as jnp
import numpy as np

from neurodyn import analysis


def hh(x, current):
    """Hodgkin-Huxley: V (mV), gates m, h, n; t in ms; I in µA/cm² (C = 1 µF/cm²)."""
    v, m, h, n = x[0], x[1], x[2], x[3]
    am = 0.1 * (v + 40) / (1 - jnp.exp(-(v + 40) / 10))
    bm = 4 * jnp.exp(-(v + 65) / 18)
    ah = 0.07 * jnp.exp(-(v + 65) / 20)
    bh = 1 / (1 + jnp.exp(-(v + 35) / 10))
    an = 0.01 * (v + 55) / (1 - jnp.exp(-(v + 55) / 10))
    bn = 0.125 * jnp.exp(-(v + 65) / 80)
    i_ion = 120 * m**3 * h * (v - 50) + 36 * n**4 * (v + 77) + 0.3 * (v + 54.387)
    return jnp.stack(
        [current - i_ion, am * (1 - m) - bm * m, ah * (1 - h) - bh * h, an * (1 - n) - bn * n]
    )


ML = dict(C=20.0, gca=4.0, gk=8.0, gl=2.0, vca=120.0, vk=-84.0, vl=-60.0, v1=-1.2, v2=18.0)
ML.update(v3=12.0, v4=17.4)
PHI = 1 / 15


def morris_lecar(x, p):
    """Morris-Lecar with parameters p = [I (µA/cm²), φ (1/ms)]; V in mV, t in ms."""
    current, phi = p[0], p[1]
    v, w = x[0], x[1]
    minf = 0.5 * (1 + jnp.tanh((v - ML["v1"]) / ML["v2"]))
    winf = 0.5 * (1 + jnp.tanh((v - ML["v3"]) / ML["v4"]))
    rate = phi * jnp.cosh((v - ML["v3"]) / (2 * ML["v4"]))
    i_ion = (
        ML["gca"] * minf * (v - ML["vca"])
        + ML["gk"] * w * (v - ML["vk"])
        + ML["gl"] * (v - ML["vl"])
    )
    return jnp.stack([(current - i_ion) / ML["C"], rate * (winf - w)])


def main() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t0 = time.perf_counter()
    hh_branch = analysis.continue_equilibria(
        hh, [-65.0, 0.05, 0.6, 0.32], 0.0, (0.0, 200.0), ds=0.5, ds_max=5.0
    )
    hh_orbits = analysis.from_hopf(
        hh, hh_branch.hopfs[0], (5.0, 20.0), ntst=40, ncol=4, ds=0.5, max_steps=80
    )
    ml_branch = analysis.continue_equilibria(
        lambda x, i: morris_lecar(x, jnp.stack([i, PHI])),
        [-60.0, 0.0],
        -20.0,
        (-20.0, 150.0),
        ds=0.5,
        ds_max=5.0,
    )
    box = ((-20.0, 150.0), (0.005, 0.6))
    kw = dict(ds=0.5, ds_max=5.0)
    hopf_curves = [
        analysis.continue_hopf(morris_lecar, ml_branch.hopfs[0], PHI, box, direction=d, **kw)
        for d in (+1, -1)
    ]
    fold_curves = [
        analysis.continue_fold(morris_lecar, fold, PHI, box, direction=d, **kw)
        for fold in ml_branch.folds
        for d in (+1, -1)
    ]
    elapsed = time.perf_counter() - t0

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.4))
    ax = analysis.bifurcation_diagram(hh_branch, ax=axes[0])
    v_max = hh_orbits.orbits[:, :, 0].max(axis=1)
    for stable, style in ((True, "-"), (False, "--")):
        # max V of the periodic orbits, split where the stability changes
        seg = np.where(hh_orbits.stable == stable, v_max, np.nan)
        ax.plot(hh_orbits.params, seg, style, color="tab:green", lw=1.2)
    for sp in sorted(hh_orbits.folds, key=lambda sp: sp.param)[:1]:  # the lowest
        ax.plot(sp.param, v_max[sp.index], "o", mfc="w", mec="tab:green")
        ax.annotate(
            "LPC",
            (sp.param, v_max[sp.index]),
            xytext=(4, -12),
            textcoords="offset points",
            fontsize=8,
            color="tab:green",
        )
    ax.plot([], [], "-", color="tab:green", label="max V of cycles")
    ax.set(xlabel="I (µA/cm²)", ylabel="V (mV)", title="(a) Hodgkin-Huxley")
    ax.set_xlim(0, 25)
    ax = analysis.bifurcation_diagram(ml_branch, ax=axes[1])
    ax.set(xlabel="I (µA/cm²)", ylabel="V (mV)", title="(b) Morris-Lecar (type I)")
    ax = axes[2]
    for k, c in enumerate(fold_curves):
        analysis.bifurcation_diagram(c, ax=ax, color="tab:blue", label="fold" if k == 0 else None)
    for k, c in enumerate(hopf_curves):
        analysis.bifurcation_diagram(c, ax=ax, color="tab:orange", label="Hopf" if k == 0 else None)
    ax.axhline(PHI, color="0.6", lw=0.8, ls=":", label="φ of (b)")
    ax.set(xlabel="I (µA/cm²)", ylabel="φ (1/ms)", title="(c) Morris-Lecar, (I, φ) plane")
    ax.legend(loc="upper right", fontsize=8)
    for a in axes[:2]:
        a.plot([], [], "k-", label="stable")
        a.plot([], [], "k--", label="unstable")
        a.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    path = os.path.join(os.path.dirname(__file__), "figures", "analysis_bifurcation.png")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fig.savefig(path, dpi=120)

    bts = [s for c in hopf_curves + fold_curves for s in c.special_points]
    bt = min(bts, key=lambda s: -s.param[1]) if bts else None
    hh_hopf = [round(s.param, 4) for s in hh_branch.hopfs]
    ml_folds = sorted(round(s.param, 4) for s in ml_branch.folds)
    ml_hopf = [round(s.param, 4) for s in ml_branch.hopfs]
    print(f"HH Hopf points at I = {hh_hopf} µA/cm² (reference 9.78 and ~154.5)")
    h0 = hh_branch.hopfs[0].data
    kind = "subcritical" if h0["l1"] > 0 else "supercritical"
    print(f"HH first Hopf: omega = {h0['omega']:.4f} rad/ms, l1 = {h0['l1']:.3g} ({kind})")
    hh_lpc = sorted(round(float(sp.param), 4) for sp in hh_orbits.folds)
    print(f"HH folds of limit cycles at I = {hh_lpc} µA/cm² (the lowest: reference ~6.26)")
    print(f"Morris-Lecar folds at I = {ml_folds}, Hopf at I = {ml_hopf} µA/cm²")
    if bt is not None:
        print(f"Bogdanov-Takens point at (I, φ) = ({bt.param[0]:.4f}, {bt.param[1]:.4f})")
    print(f"figure: {path}")
    print(
        json.dumps(
            {
                "hh_hopf_I": hh_hopf,
                "hh_hopf_l1": [float(f"{s.data['l1']:.4g}") for s in hh_branch.hopfs],
                "hh_lpc_I": hh_lpc[0] if hh_lpc else None,
                "ml_fold_I": ml_folds,
                "ml_hopf_I": ml_hopf,
                "ml_bt": [round(float(v), 4) for v in bt.param] if bt is not None else None,
                "total_s": round(elapsed, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
