"""Integrator throughput: an HH population (10k neurons), neurodyn vs BrainPy's odeint.

Same equations (Hodgkin-Huxley squid axon, I = 10 uA/cm^2), same dt = 0.01 ms,
float32, one jitted `lax.scan` of 1000 steps for each; methods RK4 and
exponential Euler. Reports steps/s and the ratio to BrainPy (>1: we are faster).
Run with `make bench`; BrainPy is optional (installed in benchmarks/.envs/anchors).
"""

from __future__ import annotations

import sys
import time

import jax
import jax.numpy as jnp
from _timing import out_arg, record, write_json

from neurodyn.integrate import get_method

try:
    import brainpy as bp
except ImportError:  # pragma: no cover - anchor not installed
    bp = None

N, STEPS, DT, I_EXT = 10_000, 1000, 0.01, 10.0
C, GNA, GK, GL, ENA, EK, EL = 1.0, 120.0, 36.0, 0.3, 50.0, -77.0, -54.387


def dm(m, t, V):
    a = 0.1 * (V + 40) / (1 - jnp.exp(-(V + 40) / 10))
    return a * (1 - m) - 4.0 * jnp.exp(-(V + 65) / 18) * m


def dh(h, t, V):
    return 0.07 * jnp.exp(-(V + 65) / 20) * (1 - h) - 1 / (1 + jnp.exp(-(V + 35) / 10)) * h


def dn(n, t, V):
    a = 0.01 * (V + 55) / (1 - jnp.exp(-(V + 55) / 10))
    return a * (1 - n) - 0.125 * jnp.exp(-(V + 65) / 80) * n


def dV(V, t, m, h, n, Iext):
    i_na = GNA * m**3 * h * (V - ENA)
    i_k = GK * n**4 * (V - EK)
    return (-i_na - i_k - GL * (V - EL) + Iext) / C


def field(t, y, iext):
    V, m, h, n = y
    return (dV(V, t, m, h, n, iext), dm(m, t, V), dh(h, t, V), dn(n, t, V))


def init():
    V = jnp.linspace(-70.0, -60.0, N)
    return (V, jnp.full(N, 0.05), jnp.full(N, 0.6), jnp.full(N, 0.32))


def make_neurodyn(method):
    m = get_method(method)

    @jax.jit
    def run(y):
        def body(y, i):
            return m.step(field, y, i * DT, DT, I_EXT), None

        return jax.lax.scan(body, y, jnp.arange(STEPS, dtype=jnp.float32))[0]

    return run


def make_brainpy(method):
    integral = bp.odeint(bp.JointEq(dV, dm, dh, dn), method=method)

    @jax.jit
    def run(y):
        def body(y, i):
            V, m, h, n = y
            return tuple(integral(V, m, h, n, i * DT, I_EXT, dt=DT)), None

        return jax.lax.scan(body, y, jnp.arange(STEPS, dtype=jnp.float32))[0]

    return run


def timeit(runs: dict, repeats=7):
    """Steps/s of each run (min time over interleaved repeats)."""
    y = init()
    for run in runs.values():
        jax.block_until_ready(run(y))  # compile
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeats):
        for name, run in runs.items():
            t0 = time.perf_counter()
            jax.block_until_ready(run(y))
            best[name] = min(best[name], time.perf_counter() - t0)
    return {name: STEPS / t for name, t in best.items()}


def main():
    args = out_arg(__doc__.splitlines()[0])
    print(
        f"HH population N={N}, {STEPS} steps of dt={DT} ms, jax {jax.__version__}"
        + ("" if bp is None else f", brainpy {bp.__version__}")
    )
    print(f"  {'method':<12}{'neurodyn steps/s':>18}{'brainpy steps/s':>18}{'ratio':>8}")
    for ours, theirs in [("rk4", "rk4"), ("exp_euler", "exp_auto")]:
        runs = {"nd": make_neurodyn(ours)}
        if bp is not None:
            runs["bp"] = make_brainpy(theirs)
        rates = timeit(runs)
        a, b = rates["nd"], rates.get("bp", float("nan"))
        print(f"  {ours:<12}{a:>18.0f}{b:>18.0f}{a / b:>7.2f}x")
        case = f"HH population {ours}, {STEPS} steps"
        record(case, "neurodyn", STEPS / a, baseline="brainpy", N=N)
        if bp is not None:
            record(case, "brainpy", STEPS / b, baseline="brainpy", N=N)
        if bp is not None:  # same trajectory check (both float32)
            ya, yb = runs["nd"](init()), runs["bp"](init())
            diff = float(jnp.max(jnp.abs(ya[0] - yb[0])))
            print(f"    max |V_neurodyn - V_brainpy| after {STEPS} steps: {diff:.2e} mV")
    sys.stdout.flush()
    versions = {"jax": jax.__version__, "brainpy": None if bp is None else bp.__version__}
    write_json(args.out, f"integrator throughput (HH, N={N})", versions)


if __name__ == "__main__":
    main()
