"""A new model in a few lines: a LIF neuron with an adaptive threshold, written on the
model protocol (declared parameters and variables, a pure vector field). The population
class adds the States, refractoriness, noise, batching and the integration method.

    python examples/custom_model.py [--n 100] [--t 500]
"""

from __future__ import annotations

import argparse
import json

import numpy as np

import neurodyn as nd
import neurodyn.units as u
from neurodyn.dyn import Model, Parameter


class ThetaLIF(Model):
    """LIF whose threshold rises by ``d_th`` at each spike and relaxes with ``tau_th``."""

    tau = Parameter(u.ms, 20 * u.ms, "positive")
    tau_th = Parameter(u.ms, 100 * u.ms, "positive")
    R = Parameter(u.Mohm, 100 * u.Mohm, "positive")
    V_rest = Parameter(u.mV, -65 * u.mV)
    V_th = Parameter(u.mV, -50 * u.mV)
    d_th = Parameter(u.mV, 2 * u.mV, "nonnegative")
    variables = {"V": (u.mV, "V_rest"), "th": (u.mV, 0 * u.mV)}

    def vector_field(self, t, y, I):
        return {"V": (self.V_rest - y["V"] + self.R * I) / self.tau, "th": -y["th"] / self.tau_th}

    def threshold(self, y):
        return y["V"] - (self.V_th + y["th"])

    def on_spike(self, y, spiked):
        return {
            "V": u.math.where(spiked, self.V_rest, y["V"]),
            "th": y["th"] + u.math.where(spiked, self.d_th, 0 * u.mV),
        }


class Net(nd.Network):
    def __init__(self, n):
        self.pop = ThetaLIF(n, I_ext=np.linspace(200, 400, n) * u.pA, tau_ref=2 * u.ms)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--t", type=float, default=500.0)
    args = ap.parse_args()
    net = Net(args.n)
    res = nd.run(net, args.t * u.ms, dt=0.1 * u.ms, monitors={"s": net.pop.spike})
    t, i = res.spikes("s")
    first = np.diff(np.sort(t.to_value(u.ms)[i == args.n - 1]))
    out = {
        "rate_hz": round(float(len(t) / args.n / (args.t / 1000)), 3),
        "first_isi_ms": round(float(first[0]), 3),
        "last_isi_ms": round(float(first[-1]), 3),
        "threshold_mV": round(float(net.pop.th.value.mantissa.max()), 3),
    }
    print(
        f"ThetaLIF: ISIs of the most driven neuron lengthen {out['first_isi_ms']} -> "
        f"{out['last_isi_ms']} ms (spike-frequency adaptation)"
    )
    print(json.dumps(out))


if __name__ == "__main__":
    main()
