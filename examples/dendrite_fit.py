"""Fit the channel densities of a cell to a target voltage trace by gradient descent.

A ball-and-stick cell (NEURON's ``hh`` in the soma, a leak in the dendrite) makes the
target: the soma's voltage under a hyperpolarising then a depolarising current step,
with the textbook densities (g_Na 0.12,
g_K 0.036, dendritic g_pas 1e-4 S/cm2). A second cell starts from wrong densities
(0.1, 0.045, 1.5e-4) and Adam (optax) on their logarithms follows the gradient of the
mean squared difference of the two soma traces, taken through the whole simulation
(``nd.grad``: reverse mode through the cable solver and the gates).

    python examples/dendrite_fit.py [--steps 200] [--lr 0.02] [--no-plot]

Prints one JSON line: the recovered densities, their relative errors, the first and last
loss (mV^2), and the time per gradient step. Writes the loss and the densities over the
steps, and the target, first and fitted traces, to examples/figures/dendrite_fit.png (not
with ``--no-plot``).
"""

from __future__ import annotations

import argparse
import json
import time

import jax.numpy as jnp
import numpy as np
import optax

import neurodyn as nd
import neurodyn.units as u
from neurodyn import dendrite as D

S_CM2 = u.S / u.cm**2
TRUE = {"g_Na": 0.12, "g_K": 0.036, "g_pas": 1e-4}
START = {"g_Na": 0.1, "g_K": 0.045, "g_pas": 1.5e-4}


def make_cell(g_na, g_k, g_pas):
    morph = D.Morphology.ball_and_stick(20 * u.um, 300 * u.um, 2 * u.um)
    cell = D.Cell(morph, ncomp=3, Ra=100 * u.ohm * u.cm, warn_d_lambda=False)
    cell.paint("soma", D.HH(g_Na=g_na, g_K=g_k))
    cell.paint("dendrites", D.Leak(g=g_pas, E=-65 * u.mV))
    soma = cell.location("soma", 0.5)
    # a hyperpolarising step (the passive response), then a depolarising one (spikes)
    cell.place(soma, D.IClamp(1 * u.ms, 9 * u.ms, -0.2 * u.nA))
    cell.place(soma, D.IClamp(12 * u.ms, 12 * u.ms, 0.25 * u.nA))
    return cell, soma


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=200, help="gradient steps")
    ap.add_argument("--lr", type=float, default=0.02, help="Adam's learning rate (log space)")
    ap.add_argument("--t", type=float, default=25.0, help="trace duration (ms)")
    ap.add_argument("--no-plot", action="store_true", help="write no figure")
    args = ap.parse_args()
    dt = 0.025 * u.ms

    target_cell, soma = make_cell(*(TRUE[k] * S_CM2 for k in TRUE))
    target = nd.run(target_cell, args.t * u.ms, dt=dt, monitors={"v": target_cell.V_at(soma)})
    target = target["v"].to_value(u.mV)

    params = {k: nd.Param(jnp.asarray(START[k]) * S_CM2) for k in START}
    cell, soma = make_cell(params["g_Na"], params["g_K"], params["g_pas"])

    def loss():
        cell.reset_state()
        res = nd.run(cell, args.t * u.ms, dt=dt, monitors={"v": cell.V_at(soma)})
        return jnp.mean((res["v"].to_value(u.mV) - target) ** 2)

    @nd.jit
    def trace():  # the soma's voltage (mV) at the current densities, for the figure
        cell.reset_state()
        return nd.run(cell, args.t * u.ms, dt=dt, monitors={"v": cell.V_at(soma)})["v"]

    first_trace = None if args.no_plot else trace().to_value(u.mV)
    value_and_grad = nd.jit(nd.value_and_grad(loss, params))  # compiled once
    opt = optax.adam(args.lr)
    theta = {k: jnp.log(jnp.asarray(START[k])) for k in START}
    state = opt.init(theta)
    losses, t_steps, history = [], [], []
    for _ in range(args.steps):
        t0 = time.perf_counter()
        value, grads = value_and_grad()
        # d loss / d log g = g * d loss / d g
        g_theta = {k: params[k].value.to_value(S_CM2) * grads[k].to_value(S_CM2**-1) for k in theta}
        updates, state = opt.update(g_theta, state)
        theta = optax.apply_updates(theta, updates)
        for k in theta:
            params[k].value = jnp.exp(theta[k]) * S_CM2
        losses.append(float(value))
        history.append([float(np.exp(theta[k])) for k in TRUE])
        t_steps.append(time.perf_counter() - t0)
    final = float(value_and_grad()[0])
    fitted = {k: float(params[k].value.to_value(S_CM2)) for k in params}
    out = {
        "fitted": {k: float(f"{v:.4g}") for k, v in fitted.items()},
        "rel_error": {k: round(abs(fitted[k] / TRUE[k] - 1), 4) for k in TRUE},
        "loss_first": round(losses[0], 4),
        "loss_last": round(final, 6),
        "s_per_step": round(float(np.median(t_steps)), 4),
    }
    if not args.no_plot:
        t_ms = np.arange(1, len(target) + 1) * float(dt.to_value(u.ms))
        _figure(losses, np.asarray(history), target, first_trace, trace().to_value(u.mV), t_ms)
    print(json.dumps(out))


def _figure(losses, history, target, first, fitted, t) -> None:
    import _plots

    made = _plots.figure("dendrite_fit", 1, 3, figsize=(13, 3.8))
    if made is None:
        return
    fig, (ax_l, ax_p, ax_v) = made
    steps = np.arange(1, len(losses) + 1)
    ax_l.semilogy(steps, losses, color="k")
    ax_l.set_xlabel("gradient step")
    ax_l.set_ylabel("loss, mean squared error (mV$^2$)")
    ax_l.set_title("loss")
    for j, k in enumerate(TRUE):
        ax_p.plot(steps, history[:, j] / TRUE[k], label=k)
    ax_p.axhline(1, color="grey", ls=":", lw=1)
    ax_p.set_xlabel("gradient step")
    ax_p.set_ylabel("density / true density")
    ax_p.set_title("channel densities")
    ax_p.legend(fontsize="small")
    ax_v.plot(t, target, color="k", lw=3, alpha=0.4, label="target")
    ax_v.plot(t, first, color="tab:red", lw=1, label="start")
    ax_v.plot(t, fitted, "--", color="tab:blue", lw=1, label="fitted")
    ax_v.set_xlabel("time (ms)")
    ax_v.set_ylabel("soma potential (mV)")
    ax_v.set_title("soma voltage traces")
    ax_v.legend(fontsize="small")
    _plots.save(fig, "dendrite_fit")


if __name__ == "__main__":
    main()
