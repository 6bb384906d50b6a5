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

The models are the library's ``nd.dyn.HH`` and ``nd.dyn.MorrisLecar`` (the vector field
the simulator integrates), analysed through ``analysis.model_field`` with the parameter
named (``param="I_ext"``). Their membrane area is 1e5 µm² = 1e-3 cm², so that a current of
1 nA is a density of 1 µA/cm². Morris-Lecar's φ cannot be varied through the model (its
potassium channel is built with a concrete φ), but with t' = φ t the model depends on C and
φ only through C·φ: the (I, φ) plane is computed as the (I, C) plane, φ = φ₀ C₀ / C.

Writes examples/figures/analysis_bifurcation.png and prints one JSON line.

    python examples/analysis_bifurcation.py
"""

from __future__ import annotations

import json
import os
import time

import numpy as np

import neurodyn as nd
import neurodyn.units as u
from neurodyn import analysis

AREA = 1e5 * u.um**2  # 1e-3 cm²: 1 nA <-> 1 µA/cm²
PHI, C0 = 1 / 15, 20.0  # φ of (b) and the capacitance (µF/cm²)


def models():
    hh = nd.dyn.HH(1, area=AREA)  # Hodgkin-Huxley 1952: g_L = 0.3 mS/cm²
    ml = nd.dyn.MorrisLecar(  # Rinzel-Ermentrout "type I" parameters
        1,
        area=AREA,
        g_Ca=4.0 * u.mS / u.cm**2,
        V3=12.0,
        V4=17.4,
        phi=PHI,
        C=C0 * u.uF / u.cm**2,
    )
    return hh, ml


def value(q, unit=u.nA):
    return float(q.to_value(unit))


def main() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    hh, ml = models()
    I = dict(param="I_ext", param_unit=u.nA)
    t0 = time.perf_counter()
    hh_branch = analysis.continue_equilibria(
        hh, p0=0 * u.nA, p_range=(0, 200) * u.nA, ds=0.5, ds_max=5.0, **I
    )
    hh_orbits = analysis.from_hopf(
        hh, hh_branch.hopfs[0], (5, 20) * u.nA, ntst=40, ncol=4, ds=0.5, max_steps=80, **I
    )
    ml_branch = analysis.continue_equilibria(
        ml, {"V": -60 * u.mV, "w": 0.0}, -20 * u.nA, (-20, 150) * u.nA, ds=0.5, ds_max=5.0, **I
    )
    # (I, C) plane; C = C0 PHI / φ for φ in (0.005, 0.6)
    box = ((-20, 150) * u.nA, (C0 * PHI / 0.6, C0 * PHI / 0.005) * u.uF / u.cm**2)
    kw = dict(ds=0.5, ds_max=5.0, param=("I_ext", "C"), param_unit=(u.nA, None))
    c0 = C0 * u.uF / u.cm**2
    hopf_curves = [
        analysis.continue_hopf(ml, ml_branch.hopfs[0], c0, box, direction=d, **kw) for d in (+1, -1)
    ]
    fold_curves = [
        analysis.continue_fold(ml, fold, c0, box, direction=d, **kw)
        for fold in ml_branch.folds
        for d in (+1, -1)
    ]
    elapsed = time.perf_counter() - t0

    def to_phi(curve):  # (I, C) -> (I, φ)
        p = np.array(curve.params, float)
        return np.stack([p[:, 0], C0 * PHI / p[:, 1]], axis=1)

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.4))
    ax = analysis.bifurcation_diagram(hh_branch, ax=axes[0])
    v_max = hh_orbits.orbits[:, :, 0].max(axis=1)
    orbit_I = np.asarray(hh_orbits.params.to_value(u.nA))
    for stable, style in ((True, "-"), (False, "--")):
        # max V of the periodic orbits, split where the stability changes
        seg = np.where(hh_orbits.stable == stable, v_max, np.nan)
        ax.plot(orbit_I, seg, style, color="tab:green", lw=1.2)
    for sp in sorted(hh_orbits.folds, key=lambda sp: value(sp.param))[:1]:  # the lowest
        ax.plot(value(sp.param), v_max[sp.index], "o", mfc="w", mec="tab:green")
        ax.annotate(
            "LPC",
            (value(sp.param), v_max[sp.index]),
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
    for curves, color, name in (
        (fold_curves, "tab:blue", "fold"),
        (hopf_curves, "tab:orange", "Hopf"),
    ):
        for k, c in enumerate(curves):
            xy = to_phi(c)
            ax.plot(xy[:, 0], xy[:, 1], color=color, label=name if k == 0 else None)
            for sp in c.special_points:
                phi = C0 * PHI / sp.param[1]
                ax.plot(sp.param[0], phi, "ks", ms=4)
                ax.annotate(sp.label, (sp.param[0], phi), xytext=(4, 4), textcoords="offset points")
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
    bts = [s for s in bts if s.kind == "bogdanov_takens"]
    # the BT point with the largest φ (smallest C), as (I, φ)
    bt = min(bts, key=lambda s: s.param[1]) if bts else None
    bt_phi = (bt.param[0], C0 * PHI / bt.param[1]) if bt is not None else None
    hh_hopf = [round(value(s.param), 4) for s in hh_branch.hopfs]
    ml_folds = sorted(round(value(s.param), 4) for s in ml_branch.folds)
    ml_hopf = [round(value(s.param), 4) for s in ml_branch.hopfs]
    print(f"HH Hopf points at I = {hh_hopf} µA/cm² (reference 9.78 and ~154.5)")
    h0 = hh_branch.hopfs[0].data
    kind = "subcritical" if h0["l1"] > 0 else "supercritical"
    print(f"HH first Hopf: omega = {h0['omega']:.4f} rad/ms, l1 = {h0['l1']:.3g} ({kind})")
    hh_lpc = sorted(round(value(sp.param), 4) for sp in hh_orbits.folds)
    print(f"HH folds of limit cycles at I = {hh_lpc} µA/cm² (the lowest: reference ~6.26)")
    print(f"Morris-Lecar folds at I = {ml_folds}, Hopf at I = {ml_hopf} µA/cm²")
    if bt is not None:
        print(f"Bogdanov-Takens point at (I, φ) = ({bt_phi[0]:.4f}, {bt_phi[1]:.4f})")
    print(f"figure: {path}")
    print(
        json.dumps(
            {
                "hh_hopf_I": hh_hopf,
                "hh_hopf_l1": [float(f"{s.data['l1']:.4g}") for s in hh_branch.hopfs],
                "hh_lpc_I": hh_lpc[0] if hh_lpc else None,
                "ml_fold_I": ml_folds,
                "ml_hopf_I": ml_hopf,
                "ml_bt": [round(float(v), 4) for v in bt_phi] if bt is not None else None,
                "total_s": round(elapsed, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
