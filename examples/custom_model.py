"""A new model in a few lines: a LIF neuron with an adaptive threshold, written on the
model protocol (declared parameters and variables, a pure vector field). The population
class adds the States, refractoriness, noise, batching and the integration method.

    python examples/custom_model.py [--n 100] [--t 500] [--no-plot]

Writes the voltage and threshold of the most driven neuron and a raster to
examples/figures/custom_model.png (not with ``--no-plot``).
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
    ap.add_argument("--no-plot", action="store_true", help="write no figure")
    args = ap.parse_args()
    net = Net(args.n)
    mons = {"s": net.pop.spike}
    if not args.no_plot:  # the voltage and threshold, for the figure
        mons.update(V=net.pop.V, th=net.pop.th)
    res = nd.run(net, args.t * u.ms, dt=0.1 * u.ms, monitors=mons)
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
    if not args.no_plot:
        _figure(res, net, args)
    print(json.dumps(out))


def _figure(res, net, args) -> None:
    import _plots

    made = _plots.figure("custom_model", 2, 1, figsize=(8, 6), sharex=True)
    if made is None:
        return
    fig, (ax_v, ax) = made
    k = args.n - 1  # the most driven neuron
    t_ms = np.asarray(res.times.to_value(u.ms))
    v = np.asarray(res["V"].to_value(u.mV))[:, k]
    th = float(net.pop.V_th.to_value(u.mV)) + np.asarray(res["th"].to_value(u.mV))[:, k]
    ax_v.plot(t_ms, v, color="k", lw=0.8, label="V")
    ax_v.plot(t_ms, th, color="tab:red", lw=1.5, label="threshold V_th + th")
    ax_v.set_ylabel("membrane potential (mV)")
    ax_v.set_title(f"ThetaLIF (adaptive threshold): neuron {k}, the most driven (400 pA)")
    ax_v.legend(fontsize="small", loc="upper left")
    t, i = res.spikes("s")
    _plots.raster(ax, t.to_value(u.ms), i)
    ax.set_ylim(-1, args.n)
    ax.set_ylabel("neuron (input 200 -> 400 pA)")
    ax.set_xlabel("time (ms)")
    ax.set_title(f"{args.n} neurons: spike-frequency adaptation")
    _plots.save(fig, "custom_model")


if __name__ == "__main__":
    main()
