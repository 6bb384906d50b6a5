"""A plasticity rule of your own: triplet STDP (Pfister & Gerstner 2006, all-to-all
"minimal" model, visual-cortex parameters scaled to nS) on every excitatory synapse of
the 4000-neuron COBA network, written as two event operators — event-driven, in place,
compiled by numba into the same loop as the built-in kernels.

    python examples/custom_plasticity.py [--n 4000] [--t 1000] [--no-plot]

Writes the distribution of the excitatory weights before and after the runs to
examples/figures/custom_plasticity.png (not with ``--no-plot``).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from _bench import parse, run_and_report
from coba import COBANet

import neurodyn as nd
import neurodyn.units as u
from neurodyn import event


@event.update_op(on="pre")  # a presynaptic spike: depression by the pair term
def depress(pre, post, syn, p):
    return u.math.maximum(syn.w - post.o1 * (p.A2m + p.A3m * pre.r2), p.w_min)


@event.update_op(on="post")  # a postsynaptic spike: pair + triplet potentiation
def potentiate(pre, post, syn, p):
    return u.math.minimum(syn.w + pre.r1 * (p.A2p + p.A3p * post.o2), p.w_max)


def triplet_stdp() -> nd.dyn.Plasticity:
    traces = {
        "r1": (16.8 * u.ms, "pre"),
        "r2": (101 * u.ms, "pre"),
        "o1": (33.7 * u.ms, "post"),
        "o2": (125 * u.ms, "post"),
    }
    nS = u.nS
    params = {
        "A2p": 0.05 * nS,
        "A3p": 0.62 * nS,
        "A2m": 0.07 * nS,
        "A3m": 0.023 * nS,
        "w_min": 0 * nS,
        "w_max": 12 * nS,
    }
    return nd.dyn.Plasticity(depress, potentiate, traces=traces, params=params)


# (the two rules above and this function: the whole user code, 20 lines)


def main() -> None:
    args = parse(__doc__.splitlines()[0])
    net, _ = run_and_report(
        "COBA network with triplet STDP",
        lambda n, seed: COBANet(n, seed, variant="stdp", rule=triplet_stdp()),
        args,
    )
    w = net.exc.stdp.weights.value.to_value(u.nS)
    print(
        f"  excitatory weights after the runs: mean {float(jnp.mean(w)):.3f} nS "
        f"(from 6 nS), {float(jnp.mean(w >= 11.99)):.1%} at the upper bound"
    )
    if not args.no_plot:
        _figure(np.asarray(w), args)


def _figure(w, args) -> None:
    import _plots

    made = _plots.figure("custom_plasticity", figsize=(7, 4))
    if made is None:
        return
    fig, ax = made
    bins = np.linspace(0, 12, 61)
    ax.bar(6.0, len(w), width=bins[1] - bins[0], color="grey", alpha=0.5,
           label="before: all at 6 nS")  # fmt: skip
    ax.hist(w, bins=bins, color="tab:blue", alpha=0.8, label=f"after: mean {w.mean():.2f} nS")
    ax.set_yscale("log")
    ax.set_xlabel("excitatory weight (nS; bounds 0 and 12 nS)")
    ax.set_ylabel("synapses")
    ax.set_title(f"Triplet STDP in the COBA network ({args.n} neurons): weights after the runs")
    ax.legend(fontsize="small")
    _plots.save(fig, "custom_plasticity")


if __name__ == "__main__":
    main()
