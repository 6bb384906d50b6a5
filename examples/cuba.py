"""Vogels & Abbott (2005) CUBA network: LIF neurons with current-based exponential
synapses (Brette et al. 2007, benchmark 2 of the LIF family).

    python examples/cuba.py [--n 4000] [--t 1000] [--no-plot]

Writes a raster with the E and I population rates to examples/figures/cuba.png
(not with ``--no-plot``).
"""

from __future__ import annotations

from _bench import parse, run_and_report

import neurodyn as nd
import neurodyn.units as u
from neurodyn import event
from neurodyn.dyn import CUBA, LIF, Expon, Projection, Uniform


class CUBANet(nd.Network):
    def __init__(self, n: int = 4000, seed: int = 0):
        n_e, n_i = int(0.8 * n), n - int(0.8 * n)
        neuron = dict(
            tau=20 * u.ms,
            R=100 * u.Mohm,
            V_rest=-49 * u.mV,
            V_reset=-60 * u.mV,
            V_th=-50 * u.mV,
            tau_ref=5 * u.ms,
            V_initializer=Uniform(-60 * u.mV, -50 * u.mV),
        )
        self.E = LIF(n_e, name="E", **neuron)
        self.I = LIF(n_i, name="I", **neuron)
        p = 80 / n
        # jumps of 1.62 mV and -9 mV through R = 100 MOhm
        exc = dict(synapse=Expon(5 * u.ms), output=CUBA(), weight=16.2 * u.pA)
        inh = dict(synapse=Expon(10 * u.ms), output=CUBA(), weight=-90 * u.pA)
        self.E2E = Projection(self.E, self.E, event.FixedProb(p, seed=seed + 1), **exc)
        self.E2I = Projection(self.E, self.I, event.FixedProb(p, seed=seed + 2), **exc)
        self.I2E = Projection(self.I, self.E, event.FixedProb(p, seed=seed + 3), **inh)
        self.I2I = Projection(self.I, self.I, event.FixedProb(p, seed=seed + 4), **inh)


def main() -> None:
    args = parse(__doc__.splitlines()[0])
    run_and_report("CUBA network", CUBANet, args, figure="cuba")


if __name__ == "__main__":
    main()
