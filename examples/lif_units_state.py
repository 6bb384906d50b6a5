"""neurodyn flagship demo (for now: units + State transforms).

A population of leaky integrate-and-fire neurons written with physical units,
kept in States, and simulated with one compiled loop. Run with `make demo`.
"""

import time

import jax.numpy as jnp

import neurodyn.units as u

N = 1000
tau, v_rest, v_th, v_reset = 20 * u.ms, -65 * u.mV, -50 * u.mV, -70 * u.mV
r_m, dt, steps = 100 * u.Mohm, 0.1 * u.ms, 5000


def main() -> None:
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
    print(f"rheobase (analytic): {((v_th - v_rest) / r_m).to(u.nA)}")
    print(f"membrane time constant from C and g: {(200 * u.pF / (10 * u.nS))}")
    print("a unit mistake is caught at trace time: ", end="")
    try:
        v_rest + 1 * u.nA
    except u.UnitMismatchError as err:
        print(err)


if __name__ == "__main__":
    main()
