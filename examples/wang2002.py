"""Wang (2002) decision-making network: 1600 excitatory and 400 inhibitory LIF neurons
with AMPA, NMDA (Mg2+ block) and GABA_A synapses; two selective excitatory groups
(15% each) receive Poisson stimuli whose rates differ by the motion coherence, and
recurrent NMDA excitation makes one of them win (attractor dynamics).

Connectivity is all-to-all with weights that are constant within blocks of neurons
(w+ inside a selective group, w- between groups), so each synaptic input is a
group sum times a block weight: O(N) per step instead of O(N^2).

    python examples/wang2002.py [--coherence 25.6] [--t 2500] [--seed 0]
    python examples/wang2002.py --coherence 51.2 --stim-on 100 --stim-off 1100 --t 1100

The stimulus is on from 1000 to 2000 ms (``--stim-on``, ``--stim-off``); the rates
printed are those of the second half of the stimulus (1500-2000 ms), so ``--t`` must
reach the end of the stimulus. The second command is the docs build's short run.
Writes a raster of the two selective groups and the group rates to
examples/figures/wang2002.png (not with ``--no-plot``).
"""

from __future__ import annotations

import argparse
import json
import time

import jax.numpy as jnp
import numpy as np

import neurodyn as nd
import neurodyn.units as u
from neurodyn.dyn import LIF, Monitor, SpikeMonitor
from neurodyn.state import Hidden, random

N_E, N_I, F = 1600, 400, 0.15
N_SEL = int(F * N_E)  # 240 per selective group
W_PLUS = 1.7
W_MINUS = 1 - F * (W_PLUS - 1) / (1 - F)


class Wang2002(nd.Network):
    def __init__(self, coherence: float = 25.6, stim_on=1000.0, stim_off=2000.0):
        common = dict(V_rest=-70 * u.mV, V_reset=-55 * u.mV, V_th=-50 * u.mV)
        self.E = LIF(
            N_E,
            name="E",
            tau=20 * u.ms,
            R=40 * u.Mohm,
            tau_ref=2 * u.ms,
            V_initializer=-70 * u.mV,
            **common,
        )  # C 0.5 nF, g_L 25 nS
        self.I = LIF(
            N_I,
            name="I",
            tau=10 * u.ms,
            R=50 * u.Mohm,
            tau_ref=1 * u.ms,
            V_initializer=-70 * u.mV,
            **common,
        )  # C 0.2 nF, g_L 20 nS
        # presynaptic gating variables (per excitatory / inhibitory neuron)
        self.s_ampa = Hidden(jnp.zeros(N_E))
        self.s_nmda = Hidden(jnp.zeros(N_E))
        self.x_nmda = Hidden(jnp.zeros(N_E))
        self.s_gaba = Hidden(jnp.zeros(N_I))
        # external AMPA input (800 Poisson sources at 3 Hz), per neuron
        self.s_ext_E = Hidden(jnp.zeros(N_E))
        self.s_ext_I = Hidden(jnp.zeros(N_I))
        self.coherence = coherence
        self.stim_on, self.stim_off = stim_on, stim_off
        # conductances (nS) onto E and onto I
        self.g = {
            "E": dict(ext=2.1, ampa=0.05, nmda=0.165, gaba=1.3),
            "I": dict(ext=1.62, ampa=0.04, nmda=0.13, gaba=1.0),
        }
        groups = np.zeros(N_E, int)  # 0: selective A, 1: selective B, 2: non-selective
        groups[N_SEL : 2 * N_SEL] = 1
        groups[2 * N_SEL :] = 2
        self.groups = jnp.asarray(groups)
        # block weights w[pre_group, post_group] for E -> E
        w = np.ones((3, 3))
        w[0, 0] = w[1, 1] = W_PLUS
        w[0, 1] = w[1, 0] = W_MINUS
        w[2, 0] = w[2, 1] = W_MINUS
        self.w_block = jnp.asarray(w)
        self.E.add_input("syn", lambda V: self._current(V, "E"))
        self.I.add_input("syn", lambda V: self._current(V, "I"))

    def _group_sums(self, s):
        return jnp.stack([s[:N_SEL].sum(), s[N_SEL : 2 * N_SEL].sum(), s[2 * N_SEL :].sum()])

    def _current(self, V, target):
        g = self.g[target]
        v = V.to_value(u.mV)
        if target == "E":
            # recurrent E input weighted by blocks: w[pre_group, post_group] sums
            per_group_ampa = self._group_sums(self.s_ampa.value) @ self.w_block
            per_group_nmda = self._group_sums(self.s_nmda.value) @ self.w_block
            ampa = per_group_ampa[self.groups]
            nmda = per_group_nmda[self.groups]
            ext = self.s_ext_E.value
        else:
            ampa = self.s_ampa.value.sum() * jnp.ones(N_I)
            nmda = self.s_nmda.value.sum() * jnp.ones(N_I)
            ext = self.s_ext_I.value
        gaba = self.s_gaba.value.sum()
        mg = 1.0 / (1.0 + jnp.exp(-0.062 * v) / 3.57)
        i = (
            g["ext"] * ext * (0.0 - v)
            + g["ampa"] * ampa * (0.0 - v)
            + g["nmda"] * nmda * mg * (0.0 - v)
            + g["gaba"] * gaba * (-70.0 - v)
        )
        return i * u.pA  # nS * mV

    def update(self):
        dt = float(nd.dyn.dt().to_value(u.ms))
        t = nd.dyn.t().to_value(u.ms)
        spk_E, spk_I = self.E.spike.value, self.I.spike.value
        # synaptic gating (exact exponential decays; NMDA as in Wang 2002)
        self.s_ampa.value = self.s_ampa.value * np.exp(-dt / 2.0) + spk_E
        self.x_nmda.value = self.x_nmda.value * np.exp(-dt / 2.0) + spk_E
        s = self.s_nmda.value
        self.s_nmda.value = s + dt * (-s / 100.0 + 0.5 * self.x_nmda.value * (1 - s))
        self.s_gaba.value = self.s_gaba.value * np.exp(-dt / 5.0) + spk_I
        # external Poisson input: 800 sources at 3 Hz, plus the stimulus on A and B
        lam = 800 * 3.0 * dt * 1e-3
        stim = (t >= self.stim_on) & (t < self.stim_off)
        mu = 40.0 * dt * 1e-3
        rate_a = mu * (1 + self.coherence / 100.0)
        rate_b = mu * (1 - self.coherence / 100.0)
        # small per-step means: inverse-CDF Poisson draws (exact up to the tail < 1e-12)
        counts_E = random.poisson_small(lam, size=N_E) + jnp.where(
            stim,
            jnp.concatenate(
                [
                    random.poisson_small(rate_a, size=N_SEL),
                    random.poisson_small(rate_b, size=N_SEL),
                    jnp.zeros(N_E - 2 * N_SEL, jnp.int32),
                ]
            ),
            0,
        )
        counts_I = random.poisson_small(lam, size=N_I)
        self.s_ext_E.value = self.s_ext_E.value * np.exp(-dt / 2.0) + counts_E
        self.s_ext_I.value = self.s_ext_I.value * np.exp(-dt / 2.0) + counts_I
        self.E.update()
        self.I.update()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--coherence", type=float, default=25.6)
    ap.add_argument("--t", type=float, default=2500.0, help="biological time in ms")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--stim-on", type=float, default=1000.0, help="stimulus onset (ms)")
    ap.add_argument("--stim-off", type=float, default=2000.0, help="stimulus offset (ms)")
    ap.add_argument("--no-plot", action="store_true", help="write no figure")
    args = ap.parse_args()
    if not (0 <= args.stim_on and args.stim_on + 100 <= args.stim_off <= args.t):
        ap.error(
            f"the stimulus ({args.stim_on:g}-{args.stim_off:g} ms) must last 100 ms or more "
            f"and end within --t {args.t:g} ms: the rates are measured in its second half"
        )
    nd.random.seed(args.seed)
    net = Wang2002(args.coherence, stim_on=args.stim_on, stim_off=args.stim_off)
    T = args.t * u.ms
    t0 = time.perf_counter()
    mons = {"E": Monitor(net.E.spike, every=50 * u.ms)}
    if not args.no_plot:
        mons["spike_E"] = SpikeMonitor(net.E.spike)  # every spike, for the raster only
    res = nd.run(net, T, dt=0.1 * u.ms, monitors=mons)
    run_s = time.perf_counter() - t0
    counts = np.asarray(res["E"])  # [bins of 50 ms, neurons]
    rate = lambda sl: counts[:, sl].mean(axis=1) / 0.05  # noqa: E731
    a, b = rate(slice(0, N_SEL)), rate(slice(N_SEL, 2 * N_SEL))
    nonsel = rate(slice(2 * N_SEL, N_E))
    # the second half of the stimulus (1500-2000 ms by default), in 50 ms bins
    late = slice(int((args.stim_on + args.stim_off) / 2 / 50), int(args.stim_off / 50))
    ra, rb = float(a[late].mean()), float(b[late].mean())
    winner = "A" if ra > rb else "B"
    print(
        f"Wang (2002), coherence {args.coherence}%: group A {ra:.1f} Hz, group B {rb:.1f} Hz, "
        f"non-selective {float(nonsel[late].mean()):.1f} Hz -> decision {winner}"
    )
    if not args.no_plot:
        _figure(res, args, a, b, nonsel)
    print(
        json.dumps(
            {
                "rate_A_hz": round(ra, 2),
                "rate_B_hz": round(rb, 2),
                "winner": winner,
                "coherence": args.coherence,
                "t_ms": args.t,
                "run_s": round(run_s, 2),
            }
        )
    )


def _figure(res, args, a, b, nonsel) -> None:
    import _plots

    made = _plots.figure("wang2002", 2, 1, figsize=(8, 5.5), sharex=True, height_ratios=(3, 2))
    if made is None:
        return
    fig, (ax, ax_rate) = made
    t, i = res.spikes("spike_E")
    t = np.asarray(t.to_value(u.ms))
    sel = i < 2 * N_SEL
    is_a = i[sel] < N_SEL
    _plots.raster(ax, t[sel][is_a], i[sel][is_a], color="tab:blue")
    _plots.raster(ax, t[sel][~is_a], i[sel][~is_a], color="tab:red")
    ax.set_ylim(0, 2 * N_SEL)
    ax.set_ylabel(f"neuron (A: 0-{N_SEL - 1}, B: {N_SEL}-{2 * N_SEL - 1})")
    ax.set_title(f"Wang (2002), coherence {args.coherence:g}%: selective groups A and B")
    mid = (np.arange(len(a)) + 0.5) * 50.0
    for r, label, c in ((a, "A", "tab:blue"), (b, "B", "tab:red"), (nonsel, "non-sel.", "grey")):
        ax_rate.plot(mid, r, color=c, label=label)
    for x in (ax, ax_rate):
        x.axvspan(args.stim_on, args.stim_off, color="gold", alpha=0.15, lw=0)
    ax_rate.set_xlabel("time (ms)")
    ax_rate.set_ylabel("rate (Hz, 50 ms bins)")
    ax_rate.set_xlim(0, args.t)
    ax_rate.legend(loc="upper left", fontsize="small", title="stimulus shaded")
    _plots.save(fig, "wang2002")


if __name__ == "__main__":
    main()
