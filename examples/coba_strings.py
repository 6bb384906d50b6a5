"""The COBA-LIF benchmark network (Brette et al. 2007) written as Brian2 strings:
``nd.dyn.NeuronGroup`` and ``nd.dyn.Synapses``, the same network as ``examples/coba.py``
(4000 neurons, 80% excitatory, ~80 random inputs per neuron, 6 nS / 67 nS conductance
jumps decaying with 5 / 10 ms, refractory 5 ms, 200 pA drive), 1 s at dt = 0.1 ms.

Prints the firing rates and a JSON line with the key numbers (``benchmarks/strings.py``
times it against the built-in classes).

    python examples/coba_strings.py [--n 4000] [--t 1000] [--seed 0] [--no-plot]

Writes a raster with the E and I population rates to examples/figures/coba_strings.png
(not with ``--no-plot``).
"""

from __future__ import annotations

from _bench import parse, run_and_report

import neurodyn as nd
import neurodyn.units as u
from neurodyn import event
from neurodyn.dyn import NeuronGroup, Normal, Synapses

EQUATIONS = """
dv/dt = (V_rest - v + R*(I_ext + ge*(E_e - v) + gi*(E_i - v))) / tau : volt (unless refractory)
dge/dt = -ge / tau_e : siemens
dgi/dt = -gi / tau_i : siemens
"""


class StringCOBA(nd.Network):
    """One NeuronGroup of ``n`` neurons; ``E`` and ``I`` are views of it (Brian2's
    subgroups), each the source of one ``Synapses``."""

    def __init__(self, n: int = 4000, seed: int = 0):
        ns = dict(
            V_rest=-60 * u.mV,
            R=100 * u.Mohm,  # 1 / g_L with g_L = 10 nS
            I_ext=200 * u.pA,
            E_e=0 * u.mV,
            E_i=-80 * u.mV,
            tau=20 * u.ms,
            tau_e=5 * u.ms,
            tau_i=10 * u.ms,
            V_th=-50 * u.mV,
            V_reset=-60 * u.mV,
            w_e=6 * u.nS,
            w_i=67 * u.nS,
        )
        n_e = int(0.8 * n)
        self.N = NeuronGroup(
            n,
            EQUATIONS,
            threshold="v >= V_th",
            reset="v = V_reset",
            refractory=5 * u.ms,
            method="exponential_euler",
            namespace=ns,
            name="N",
        )
        self.N.v = Normal(-55 * u.mV, 2 * u.mV)
        self.E, self.I = self.N[:n_e], self.N[n_e:]
        p = 80 / n  # ~64 E + 16 I inputs per neuron at every n
        self.exc = Synapses(
            self.E, self.N, event.FixedProb(p, seed=seed + 1), on_pre="ge += w_e", namespace=ns
        )
        self.inh = Synapses(
            self.I, self.N, event.FixedProb(p, seed=seed + 2), on_pre="gi += w_i", namespace=ns
        )


def main() -> None:
    args = parse(__doc__.splitlines()[0])
    run_and_report("COBA network from strings", StringCOBA, args, figure="coba_strings")


if __name__ == "__main__":
    main()
