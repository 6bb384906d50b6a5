"""COBA-HH (Brette et al. 2007, benchmark 3): Traub-Miles Hodgkin-Huxley neurons with
exponential conductance synapses, as in Brian2's COBAHH example.

    python examples/coba_hh.py [--n 4000] [--t 1000] [--no-plot]

Writes a raster with the E and I population rates to examples/figures/coba_hh.png
(not with ``--no-plot``).
"""

from __future__ import annotations

from _bench import parse, run_and_report

import neurodyn as nd
import neurodyn.units as u
from neurodyn import event
from neurodyn.dyn import COBA, Expon, HHTraub, Normal, Projection


class COBAHHNet(nd.Network):
    def __init__(self, n: int = 4000, seed: int = 0):
        n_e, n_i = int(0.8 * n), n - int(0.8 * n)
        init = Normal(-65 * u.mV, 5 * u.mV)  # E_L + (randn * 5 - 5) mV
        self.E = HHTraub(n_e, V_initializer=init, name="E")
        self.I = HHTraub(n_i, V_initializer=init, name="I")
        p = 80 / n
        exc = dict(synapse=Expon(5 * u.ms), output=COBA(E=0 * u.mV), weight=6 * u.nS)
        inh = dict(synapse=Expon(10 * u.ms), output=COBA(E=-80 * u.mV), weight=67 * u.nS)
        self.E2E = Projection(self.E, self.E, event.FixedProb(p, seed=seed + 1), **exc)
        self.E2I = Projection(self.E, self.I, event.FixedProb(p, seed=seed + 2), **exc)
        self.I2E = Projection(self.I, self.E, event.FixedProb(p, seed=seed + 3), **inh)
        self.I2I = Projection(self.I, self.I, event.FixedProb(p, seed=seed + 4), **inh)


def main() -> None:
    args = parse(__doc__.splitlines()[0])
    run_and_report("COBA-HH network", COBAHHNet, args, figure="coba_hh")


if __name__ == "__main__":
    main()
