"""Units overhead: plain jax vs neurodyn.units vs brainunit, in one run.

Cases: one eager binary op (a + b, arrays of 1000), and a 7-op LIF step
(eager and under jit). Targets: jit 1.00x plain jax; eager <= 3x plain jax.

Run with `make bench` (brainunit is installed in benchmarks/.envs/anchors); without
brainunit the anchor column is skipped.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from _timing import interleaved, out_arg, report, write_json

import neurodyn.units as u

try:
    import brainunit as bu
except ImportError:  # pragma: no cover - anchor not installed
    bu = None

N = 1000


def main() -> None:
    args = out_arg(__doc__.splitlines()[0])
    a = jnp.linspace(-70.0, -50.0, N)
    b = jnp.ones(N)
    plain = dict(v=a, i=b * 0.2, tau=20.0, r=100.0, v_rest=-65.0, v_th=-50.0, v_reset=-70.0, dt=0.1)
    nd = dict(
        v=a * u.mV,
        i=b * 0.2 * u.nA,
        tau=20.0 * u.ms,
        r=100.0 * u.Mohm,
        v_rest=-65.0 * u.mV,
        v_th=-50.0 * u.mV,
        v_reset=-70.0 * u.mV,
        dt=0.1 * u.ms,
    )

    def lif_plain(v, i, tau, r, v_rest, v_th, v_reset, dt):
        v = v + dt / tau * (v_rest - v + r * i)
        spike = v >= v_th
        return jnp.where(spike, v_reset, v), spike

    def lif_nd(v, i, tau, r, v_rest, v_th, v_reset, dt):
        v = v + dt / tau * (v_rest - v + r * i)
        spike = v >= v_th
        return u.math.where(spike, v_reset, v), spike

    qa, qb = a * u.mV, b * u.mV
    eager_add = {"plain jax": lambda: a + b, "neurodyn": lambda: qa + qb}
    eager_lif = {"plain jax": lambda: lif_plain(**plain), "neurodyn": lambda: lif_nd(**nd)}
    jit_plain, jit_nd = jax.jit(lif_plain), jax.jit(lif_nd)
    jitted = {
        "plain jax": lambda: jit_plain(**plain)[0].block_until_ready(),
        "neurodyn": lambda: jit_nd(**nd)[0].mantissa.block_until_ready(),
    }
    if bu is not None:
        ba, bb = a * bu.mV, b * bu.mV
        bnd = dict(
            v=a * bu.mV,
            i=b * 0.2 * bu.nA,
            tau=20.0 * bu.ms,
            r=100.0 * bu.Mohm,
            v_rest=-65.0 * bu.mV,
            v_th=-50.0 * bu.mV,
            v_reset=-70.0 * bu.mV,
            dt=0.1 * bu.ms,
        )

        def lif_bu(v, i, tau, r, v_rest, v_th, v_reset, dt):
            v = v + dt / tau * (v_rest - v + r * i)
            spike = v >= v_th
            return bu.math.where(spike, v_reset, v), spike

        jit_bu = jax.jit(lif_bu)
        eager_add["brainunit"] = lambda: ba + bb
        eager_lif["brainunit"] = lambda: lif_bu(**bnd)
        jitted["brainunit"] = lambda: jit_bu(**bnd)[0].mantissa.block_until_ready()

    print(
        f"jax {jax.__version__}, backend {jax.default_backend()}, N={N}"
        + ("" if bu is None else f", brainunit {bu.__version__}")
    )
    report("eager a + b", interleaved(eager_add, number=2000), "plain jax", N=N)
    report("eager 7-op LIF step", interleaved(eager_lif, number=300), "plain jax", N=N)
    report("jit 7-op LIF step", interleaved(jitted, number=2000), "plain jax", N=N)
    versions = {"jax": jax.__version__, "brainunit": None if bu is None else bu.__version__}
    write_json(args.out, "units overhead (N=1000)", versions)


if __name__ == "__main__":
    main()
