"""FORCE learning (Sussillo & Abbott 2009): a chaotic rate network (g = 1.5) learns to
produce a sum of four sinusoids through feedback from a linear readout trained online
by recursive least squares. Target: RMS error <= 0.1 after training.

    python examples/force_sines.py [--n 500] [--t 12000] [--no-plot]

Writes the target and the network's output to examples/figures/force_sines.png (not with
``--no-plot``).
"""

from __future__ import annotations

import argparse
import json
import time

import jax.numpy as jnp
import numpy as np

import neurodyn as nd
from neurodyn.train import FORCE


def target_fn(t):
    """A sum of sinusoids (periods 60-240 steps), amplitude ~1.5."""
    f0 = 2 * jnp.pi / 240.0
    return (
        jnp.sin(f0 * t)
        + 0.5 * jnp.sin(2 * f0 * t)
        + 0.33 * jnp.sin(3 * f0 * t)
        + 0.25 * jnp.sin(4 * f0 * t)
    ) / 1.5


class Reservoir(nd.Module):
    def __init__(self, n: int, g: float = 1.5, tau: float = 10.0, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.J = jnp.asarray(g * rng.normal(size=(n, n)) / np.sqrt(n), jnp.float32)
        self.w_fb = jnp.asarray(rng.uniform(-1, 1, size=(n, 1)), jnp.float32)
        self.x = nd.Hidden(jnp.asarray(0.5 * rng.normal(size=n), jnp.float32))
        self.readout = FORCE(n, 1, alpha=1.0)
        self.dt_over_tau = 1.0 / tau

    def step(self, target, learn):
        r = jnp.tanh(self.x.value)
        z = self.readout.step(r, target, learn)
        dx = -self.x.value + self.J @ r + self.w_fb @ z
        self.x.value = self.x.value + self.dt_over_tau * dx
        return z[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--t", type=int, default=12000, help="steps (training: first 2/3)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-plot", action="store_true", help="write no figure")
    args = ap.parse_args()
    net = Reservoir(args.n, seed=args.seed)
    t = jnp.arange(args.t, dtype=jnp.float32)
    target = target_fn(t)[:, None]
    learn = t < (2 * args.t) // 3
    t0 = time.perf_counter()
    z = np.asarray(nd.jit(lambda: nd.for_loop(net.step, target, learn))())
    run_s = time.perf_counter() - t0
    test = ~np.asarray(learn)
    err = float(np.sqrt(np.mean((z[test] - np.asarray(target)[test, 0]) ** 2)))
    print(f"FORCE, {args.n} rate units: test RMS error {err:.3f} (target <= 0.1)")
    if not args.no_plot:
        _figure(z, np.asarray(target)[:, 0], int(np.sum(np.asarray(learn))), err, args.n)
    print(
        json.dumps(
            {"rms_error": round(err, 4), "n": args.n, "steps": args.t, "run_s": round(run_s, 3)}
        )
    )


def _figure(z, target, n_learn, err, n) -> None:
    import _plots

    made = _plots.figure("force_sines", 2, 1, figsize=(9, 5.5))
    if made is None:
        return
    fig, (ax, ax_test) = made
    steps = np.arange(len(z))
    ax.plot(steps, target, color="k", lw=2.5, alpha=0.35, label="target")
    ax.plot(steps, z, color="tab:blue", lw=0.8, label="network output z")
    ax.axvspan(0, n_learn, color="gold", alpha=0.15, lw=0, label="RLS learning on")
    ax.set_title(f"FORCE learning, {n} rate units: test RMS error {err:.3f}")
    ax.legend(fontsize="small", loc="lower left", ncols=3)
    last = steps >= len(z) - 600  # the last 600 steps, without learning
    ax_test.plot(steps[last], target[last], color="k", lw=2.5, alpha=0.35, label="target")
    ax_test.plot(steps[last], z[last], color="tab:blue", lw=1, label="network output z")
    ax_test.set_title("the end of the test period (learning off)")
    for a in (ax, ax_test):
        a.set_xlabel("time (integration steps; tau = 10 steps)")
        a.set_ylabel("output (a.u.)")
    _plots.save(fig, "force_sines")


if __name__ == "__main__":
    main()
