"""neurodyn flagship demo (for now: units + State transforms).

A population of leaky integrate-and-fire neurons written with physical units,
kept in States, and simulated with one compiled loop. Run with `make demo`.
Writes the f-I curve and a raster to examples/figures/lif_units_state.png (not with
``--no-plot``).
"""

import argparse
import time

import jax.numpy as jnp

import neurodyn.units as u

N = 1000
tau, v_rest, v_th, v_reset = 20 * u.ms, -65 * u.mV, -50 * u.mV, -70 * u.mV
r_m, dt, steps = 100 * u.Mohm, 0.1 * u.ms, 5000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-plot", action="store_true", help="write no figure")
    args = ap.parse_args()
    try:
        import neurodyn as nd
    except ImportError:  # pragma: no cover
        raise

    class LIF(nd.Module):
        def __init__(self, n):
            self.v = nd.Hidden(jnp.full(n, -65.0) * u.mV)
            self.i_ext = nd.Param(jnp.linspace(0.1, 0.3, n) * u.nA)
            self.spikes = nd.Memory(jnp.zeros(n))

        def step(self, _):
            v = self.v.value
            v = v + dt / tau * (v_rest - v + r_m * self.i_ext.value)
            spike = v >= v_th
            self.v.value = u.math.where(spike, v_reset, v)
            self.spikes.value = self.spikes.value + spike
            return spike

    net = LIF(N)
    run = nd.jit(lambda: nd.for_loop(net.step, jnp.arange(steps)))
    t0 = time.perf_counter()
    spikes = run()
    spikes.block_until_ready()
    t1 = time.perf_counter()
    seconds = (steps * dt).to_value(u.second)
    rates = net.spikes.value / seconds
    print(
        f"{N} LIF neurons, {steps} steps of {dt} ({steps * dt}), compiled + run in {t1 - t0:.2f} s"
    )
    print(f"input current {net.i_ext.value[0]} .. {net.i_ext.value[-1]}")
    print(f"firing rate: min {rates.min():.1f} Hz, max {rates.max():.1f} Hz")
    rheobase = ((v_th - v_rest) / r_m).to(u.nA)
    if not args.no_plot:
        _figure(net.i_ext.value.to_value(u.nA), rates, spikes, rheobase.to_value(u.nA))
    print(f"rheobase (analytic): {rheobase}")
    print(f"membrane time constant from C and g: {(200 * u.pF / (10 * u.nS))}")
    print("a unit mistake is caught at trace time: ", end="")
    try:
        v_rest + 1 * u.nA
    except u.UnitMismatchError as err:
        print(err)


def _figure(i_ext_nA, rates, spikes, rheobase_nA) -> None:
    import _plots
    import numpy as np

    made = _plots.figure("lif_units_state", 1, 2, figsize=(11, 4))
    if made is None:
        return
    fig, (ax_f, ax) = made
    ax_f.plot(np.asarray(i_ext_nA), np.asarray(rates), color="k")
    ax_f.axvline(rheobase_nA, color="tab:red", ls="--", lw=1, label="rheobase (analytic)")
    ax_f.set_xlabel("input current (nA)")
    ax_f.set_ylabel("firing rate (Hz)")
    ax_f.set_title(f"{N} LIF neurons: f-I curve")
    ax_f.legend(fontsize="small")
    step, i = np.nonzero(np.asarray(spikes)[:, ::20])  # every 20th neuron
    t_ms = (step + 1) * dt.to_value(u.ms)
    first = t_ms <= 100.0
    _plots.raster(ax, t_ms[first], i[first] * 20)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("neuron (every 20th; current rises with the index)")
    ax.set_title("spikes in the first 100 ms")
    _plots.save(fig, "lif_units_state")


if __name__ == "__main__":
    main()
