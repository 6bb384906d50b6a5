"""A plasticity rule of your own: triplet STDP (Pfister & Gerstner 2006, all-to-all
"minimal" model, visual-cortex parameters scaled to nS) on every excitatory synapse of
the 4000-neuron COBA network, written as two event operators — event-driven, in place,
compiled by numba into the same loop as the built-in kernels.

    python examples/custom_plasticity.py [--n 4000] [--t 1000]
"""

from __future__ import annotations

import jax.numpy as jnp
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


if __name__ == "__main__":
    main()
