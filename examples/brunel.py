"""Brunel (2000) sparse E/I network of LIF neurons with voltage-jump synapses
(``v += J`` on each spike, as Brian2's ``on_pre``), a 1.5 ms delay and Poisson drive.

    python examples/brunel.py [--g 5] [--ratio 2] [--n 5000] [--t 1200] [--seed 0] [--no-plot]

Brunel, J. Comput. Neurosci. 8:183 (2000): N_E = 4000, N_I = 1000 (n * 0.8 / 0.2),
connection probability 0.1, J = 0.1 mV, inhibitory jumps -g J, tau 20 ms, threshold
20 mV, reset 10 mV, refractory 2 ms; each neuron receives C_E = 400 Poisson inputs at
``ratio`` times nu_thr = theta / (J C_E tau). g = 3, ratio = 2 is synchronous regular
firing (SR, ~190 Hz); g = 5, ratio = 2 fires at ~60 Hz. The same model in Brian2 is
tests/reference/generate_brian2_brunel.py. Writes a raster with the E and I population
rates to examples/figures/brunel.png (not with ``--no-plot``).
"""

from __future__ import annotations

from _bench import parse, run_and_report

import neurodyn as nd
import neurodyn.units as u
from neurodyn import event
from neurodyn.dyn import LIF, PoissonInput, Projection, Uniform, VoltageJump


class BrunelNet(nd.Network):
    def __init__(self, n: int = 5000, seed: int = 0, g: float = 5.0, ratio: float = 2.0):
        n_e = int(0.8 * n)
        J, theta, tau, C_E = 0.1 * u.mV, 20 * u.mV, 20 * u.ms, 400
        self.N = LIF(
            n,
            tau=tau,
            V_rest=0 * u.mV,
            V_reset=10 * u.mV,
            V_th=theta,
            tau_ref=2 * u.ms,
            V_initializer=Uniform(0 * u.mV, theta),
        )
        self.E, self.I = self.N[:n_e], self.N[n_e:]
        jump = dict(output=VoltageJump(), delay=1.5 * u.ms)
        self.exc = Projection(self.E, self.N, event.FixedProb(0.1, seed=seed + 1), weight=J, **jump)
        self.inh = Projection(
            self.I, self.N, event.FixedProb(0.1, seed=seed + 2), weight=-g * J, **jump
        )
        nu_thr = theta / (J * C_E * tau)
        self.ext = PoissonInput(self.N, C_E, ratio * nu_thr, J, output=VoltageJump())


def main() -> None:
    def extra(ap):
        ap.add_argument("--g", type=float, default=5.0)
        ap.add_argument("--ratio", type=float, default=2.0)

    args = parse(__doc__.splitlines()[0], n=5000, t=1200.0, extra=extra)
    run_and_report(
        f"Brunel network (g = {args.g:g}, nu_ext/nu_thr = {args.ratio:g})",
        lambda n, seed: BrunelNet(n, seed, g=args.g, ratio=args.ratio),
        args,
        figure="brunel",
    )


if __name__ == "__main__":
    main()
