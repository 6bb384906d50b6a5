"""braincell on the dendrite benchmark cell (see benchmarks/dendrite.py), one JSON line out.

Runs inside benchmarks/.envs/braincell (``python3 -m venv benchmarks/.envs/braincell &&
benchmarks/.envs/braincell/bin/pip install braincell``), pinned to CPU 0:

    benchmarks/.envs/braincell/bin/python benchmarks/_dendrite_braincell.py [--batch 100]

The cell: ``Morphology.from_swc(n120.swc, mode="neuron")``, ``CVPerBranch(4)``, Ra 100
ohm cm, cm 1 uF/cm2, 6.3 degC (CableProperty; the HH channels' temp = temp_ref = 6.3
degC, so q10 factor 1 as in NEURON), resting potential (V init) -65 mV, dt 0.025 ms,
braincell's default solver ("staggered"), 50 ms. HH = Na_HH1952 + K_HH1952 (V_sh -45
mV: hh's rates) + IL (gl 3e-4, -54.3 mV) with SodiumFixed (50 mV) / PotassiumFixed
(-77 mV); pas = IL (1e-4, -65 mV). Models as in _dendrite_jaxley.py: ``hh_soma``
(gNa 0.6, gK 0.18 in the soma, 2 nA at soma(0.5)), ``hh_all`` (0.12/0.036 everywhere,
0.1 nA at the CV nearest SWC point 410). Timed: SWC read, build (paint, place,
init_state), first jitted run (compile), steady run (min of --repeats), and a batch of
--batch cells (``pop_size``, identical clamps).
"""

# ruff: noqa: B023  (each case's closures are called within the iteration that makes them)

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
SWC = HERE.parent / "tests" / "reference" / "neuron" / "n120.swc"
T_MS, DT_MS = 50.0, 0.025


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--models", default="hh_soma,hh_all")
    args = ap.parse_args()
    try:
        os.sched_setaffinity(0, {0})
    except OSError:
        pass
    t0 = time.perf_counter()
    import brainstate
    import brainunit as u
    import jax
    import numpy as np
    from braincell import CableProperty, Cell, CurrentClamp, CVPerBranch, Morphology
    from braincell.filter.locset import at
    from braincell.filter.region import AllRegion, branch_in
    from braincell.mech import Channel, Ion, StateProbe

    out: dict = {"import_s": time.perf_counter() - t0, "jax_version": jax.__version__, "cases": {}}
    from importlib.metadata import version

    out["braincell_version"] = version("braincell")
    S = u.siemens / u.cm**2
    T = u.celsius2kelvin(6.3)
    swc_pts = np.loadtxt(SWC)
    tip = swc_pts[swc_pts[:, 0] == 410][0, 2:5]

    def spikes(v) -> int:
        v = np.asarray(v)
        return int(np.sum((v[:-1] < -20.0) & (v[1:] >= -20.0)))

    def hh(region, gna, gk):
        return [
            (region, Ion("SodiumFixed", E=50.0 * u.mV)),
            (region, Ion("PotassiumFixed", E=-77.0 * u.mV)),
            (region, Channel("Na_HH1952", g_max=gna * S, temp=T, temp_ref=T, V_sh=-45.0 * u.mV)),
            (region, Channel("K_HH1952", g_max=gk * S, temp=T, temp_ref=T, V_sh=-45.0 * u.mV)),
            (region, Channel("IL", g_max=3e-4 * S, E=-54.3 * u.mV)),
        ]

    for model in args.models.split(","):
        res: dict = {}

        def build(pop=()):
            t0 = time.perf_counter()
            m = Morphology.from_swc(SWC, mode="neuron")
            t_read = time.perf_counter() - t0
            cell = Cell(m, pop_size=pop, cv_policy=CVPerBranch(cv_per_branch=4))
            cell.paint(
                AllRegion(),
                CableProperty(
                    resting_potential=-65.0 * u.mV,
                    membrane_capacitance=1.0 * u.uF / u.cm**2,
                    axial_resistivity=100.0 * u.ohm * u.cm,
                    temperature=T,
                ),
            )
            soma = branch_in("type", "soma")
            if model == "hh_all":
                rules = hh(AllRegion(), 0.12, 0.036)
                best, site = np.inf, None
                for b in m.branches:
                    p = np.asarray(b.points.to_decimal(u.um))
                    d = np.linalg.norm(p[-1] - tip)
                    if d < best:
                        best, site = d, (b.name, 1.0 - 0.5 / 4)
                amp = 0.1
            else:
                rules = hh(soma, 0.6, 0.18)
                dend = branch_in("type", ["basal_dendrite", "apical_dendrite"])
                rules.append((dend, Channel("IL", g_max=1e-4 * S, E=-65.0 * u.mV)))
                site, amp, best = ("soma", 0.5), 2.0, 0.0
            for region, mech in rules:
                cell.paint(region, mech)
            cell.place(
                at(*site),
                CurrentClamp(delay=5.0 * u.ms, durations=30.0 * u.ms, amplitudes=amp * u.nA),
            )
            cell.place(at("soma", 0.5), StateProbe(field="v", name="V_soma"))
            cell.init_state()
            return cell, t_read, time.perf_counter() - t0, site, float(best)

        _, res["swc_read_first_s"], res["swc_to_runnable_first_s"], _, _ = build()
        cell, res["swc_read_s"], res["swc_to_runnable_s"], site, dist = build()
        res["stim_site"], res["stim_tip_dist_um"] = list(site), dist
        res["n_cvs"] = len(cell.cvs)

        def make_run(c):
            @brainstate.transform.jit
            def f():
                c.reset_state()
                return c.run(dt=DT_MS * u.ms, duration=T_MS * u.ms).traces["V_soma"]

            return f

        f = make_run(cell)
        t0 = time.perf_counter()
        v = jax.block_until_ready(f())
        res["first_run_s"] = time.perf_counter() - t0
        ts = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            jax.block_until_ready(f())
            ts.append(time.perf_counter() - t0)
        res["run_min_s"] = min(ts)
        res["compile_s"] = res["first_run_s"] - res["run_min_s"]
        vv = np.asarray(u.get_mantissa(u.Quantity(v).to(u.mV))).ravel()
        res["n_samples"] = int(vv.size)
        res["soma_spikes"] = spikes(vv)
        res["soma_v_max_mV"] = float(np.nanmax(vv))
        print(
            f"# {model}: run {res['run_min_s'] * 1e3:.1f} ms, compile {res['compile_s']:.2f} s, "
            f"spikes {res['soma_spikes']}",
            file=sys.stderr,
            flush=True,
        )
        if args.batch > 1:
            try:
                bcell, _, res["batch_build_s"], _, _ = build((args.batch,))
                fb = make_run(bcell)
                t0 = time.perf_counter()
                vb = jax.block_until_ready(fb())
                res["batch_first_run_s"] = time.perf_counter() - t0
                t0 = time.perf_counter()
                jax.block_until_ready(fb())
                res["batch_run_min_s"] = time.perf_counter() - t0
                res["batch"] = args.batch
                res["batch_shape"] = list(np.shape(vb))
                print(
                    f"# {model}: batch {args.batch} {res['batch_run_min_s']:.2f} s",
                    file=sys.stderr,
                    flush=True,
                )
            except Exception as e:
                res["batch_error"] = repr(e)[:300]
        out["cases"][model] = res
    print(json.dumps(out))


if __name__ == "__main__":
    main()
