"""User-defined event operators (event.scatter_op / update_op) against the built-in
kernels, in one run (the cases interleaved).

Problem (as benchmarks/event.py): N x N with each pair connected with p = 0.02, one
weight per synapse; bool spikes with 1% or 5% of the entries true; every case under
``jax.jit`` inside a 20-step ``lax.fori_loop`` (so the per-call overhead is the in-loop
one), compile excluded.

  built-in CSR     s @ conn (native C++ kernel on CPU)
  user scatter     @scatter_op body ``syn.w`` (the numba kernel behind the C++ trampoline
                   when numba is installed; NEURODYN_DISABLE_NUMBA=1: the lax loop)
  built-in update  event.update_on_pre(conn, s, -A * trace, w_min=0, w_max=1)
  user update      @update_op(on="pre") body ``clip(syn.w - A * post.trace, 0, 1)``

  user scatter, lax / user update, lax   the same ops on the event-driven lax loop (the
                   fallback without numba), side by side
  brainevent jax_raw   brainevent's update_csr_on_binary_pre with its generic pure-JAX kernel
                   on the same problem, run in benchmarks/.envs/brainevent (a subprocess,
                   right after the neurodyn cases; skipped without that environment)
  ... gather       conn @ x (a dense float x, every row) with a user gather_op body
                   ``syn.w`` (numba kernel, lax loop) against the built-in gather
  ..., JitProb     a user scatter on JitProb(p = 0.02) (numba kernel, lax loop) against the
                   built-in JitProb scatter
  backward, ...    jax.grad of sum(r * user scatter) in the weights and the trace (5%
                   spikes): the event-driven backward pass (numba kernels, lax loop)
                   against the masked O(nnz) reference backward

  user STDP, 4 ops / 1 op   the presynaptic pathway of text STDP with per-synapse
                   event-driven traces (``apre``, ``apost`` decayed from ``lastupdate``,
                   ``w`` clipped, ``lastupdate = t``): four single-field update_ops against
                   one update_op of the four fields (what equation strings compile to)

Also the per-call overhead of a user op inside a compiled loop (100 neurons, no spikes).
The built-in homogeneous-weight scatter may use a helper thread; these cases have one
weight per synapse. ``NEURODYN_NATIVE_THREADS=1`` keeps the built-ins on one core.

    cd benchmarks && python custom_ops.py [--n 10000] [--out PATH]
"""

from __future__ import annotations

import argparse
import datetime
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
from _timing import interleaved, record, report, write_json

import neurodyn
import neurodyn.event as ev

STEPS = 20


@ev.scatter_op
def user_matvec(pre, post, syn, p):
    return syn.w


@ev.update_op(on="pre")
def user_depress(pre, post, syn, p):
    return jnp.clip(syn.w - p.A * post.trace, 0.0, 1.0)


STDP_FIELDS = ("w", "apre", "apost", "lastupdate")


def _stdp(syn, p) -> dict:
    decay = jnp.exp(-(p.t - syn.lastupdate) / p.tau)
    apost = syn.apost * decay
    return {
        "w": jnp.clip(syn.w - p.A * apost, 0.0, 1.0),
        "apre": syn.apre * decay + 1.0,
        "apost": apost,
        "lastupdate": p.t + 0.0 * syn.lastupdate,
    }


@ev.update_op(on="pre", target=STDP_FIELDS)
def stdp_fused(pre, post, syn, p):
    return _stdp(syn, p)


def _one_field(name):
    def body(pre, post, syn, p):
        return _stdp(syn, p)[name]

    body.__name__ = f"stdp_{name}"
    return ev.update_op(on="pre", target=name)(body)


STDP_SINGLE = {k: _one_field(k) for k in STDP_FIELDS}


def stdp_cases(conn, s) -> dict:
    """The presynaptic pathway of text STDP, 20 steps: 4 single-field ops or 1 fused op."""
    nnz = conn.indices.shape[0]
    init = {k: jnp.zeros(nnz, jnp.float32) for k in STDP_FIELDS}
    init["w"] = conn.data

    def params(i):
        return {"t": i * 1e-4, "tau": 0.02, "A": 0.001}

    def single(i, f):
        return {k: op(s[i], conn, syn=f, params=params(i)) for k, op in STDP_SINGLE.items()}

    def fused(i, f):
        return stdp_fused(s[i], conn, syn=f, params=params(i))

    def loop(step):
        return jax.jit(lambda: jax.lax.fori_loop(0, STEPS, step, init))

    return {"user STDP, 4 ops": loop(single), "user STDP, 1 op": loop(fused)}


def cases(n, conn, trace, s) -> dict:
    """The four jitted 20-step loops for one spike pattern ``s`` [STEPS, n]."""

    def loop(step):
        return jax.jit(lambda: jax.lax.fori_loop(0, STEPS, step, jnp.zeros(n)))

    def loop_w(step):
        return jax.jit(lambda: jax.lax.fori_loop(0, STEPS, step, conn.data))

    def builtin_mv(i, acc):
        return acc + s[i] @ conn

    def user_mv(i, acc):
        return acc + user_matvec(s[i], conn, syn={"w": conn.data})

    def builtin_up(i, w):
        return ev.update_on_pre(conn.with_data(w), s[i], -0.01 * trace, w_min=0.0, w_max=1.0).data

    def user_up(i, w):
        return user_depress(s[i], conn, post={"trace": trace}, syn={"w": w}, params={"A": 0.01})

    def lax_mv(i, acc):
        return acc + user_matvec(s[i], conn, syn={"w": conn.data}, backend="lax")

    def lax_up(i, w):
        return user_depress(
            s[i], conn, post={"trace": trace}, syn={"w": w}, params={"A": 0.01}, backend="lax"
        )

    return {
        "built-in CSR": loop(builtin_mv),
        "user scatter": loop(user_mv),
        "user scatter, lax": loop(lax_mv),
        "built-in update": loop_w(builtin_up),
        "user update": loop_w(user_up),
        "user update, lax": loop_w(lax_up),
    }


@ev.scatter_op
def user_drive(pre, post, syn, p):
    return syn.w * (1.0 + post.trace)


def backward_cases(n, conn, trace, s) -> dict:
    """Reverse mode through a user scatter, 20 steps: the gradient of ``sum(r * out)`` in
    the synapse weights and the postsynaptic trace, with the event-driven backward pass
    (the numba kernels, the lax loop) against the masked O(nnz) reference backward."""
    r = jnp.asarray(np.random.default_rng(1).standard_normal(n), jnp.float32)

    def grad_step(backend):
        def loss(w, tr, si):
            out = user_drive(si, conn, post={"trace": tr}, syn={"w": w}, backend=backend)
            return jnp.sum(r * out)

        def step(i, acc):
            gw, gt = jax.grad(loss, argnums=(0, 1))(conn.data, trace, s[i])
            return acc[0] + gw, acc[1] + gt

        init = (jnp.zeros_like(conn.data), jnp.zeros_like(trace))
        return jax.jit(lambda: jax.lax.fori_loop(0, STEPS, step, init))

    return {
        "backward, reference": grad_step("reference"),
        "backward, event (numba)": grad_step("event"),
        "backward, lax": grad_step("lax"),
    }


@ev.gather_op
def user_pull(pre, post, syn, p):
    return syn.w


def gather_cases(n, conn) -> dict:
    """``conn @ x`` (every row) with a user gather_op body ``syn.w`` (numba kernel, lax
    loop) against the built-in gather, 20 steps of a dense float vector."""
    x = jnp.asarray(np.random.default_rng(2).random((STEPS, n)), jnp.float32)

    def loop(step):
        return jax.jit(lambda: jax.lax.fori_loop(0, STEPS, step, jnp.zeros(n)))

    return {
        "built-in gather": loop(lambda i, a: a + conn @ x[i]),
        "user gather": loop(lambda i, a: a + user_pull(x[i], conn, syn={"w": conn.data})),
        "user gather, lax": loop(
            lambda i, a: a + user_pull(x[i], conn, syn={"w": conn.data}, backend="lax")
        ),
    }


def jitprob_cases(n, s) -> dict:
    """A user scatter on procedural connectivity (JitProb, p = 0.02, one weight): the
    numba kernel and the lax loop against the built-in ``s @ conn``, 20 steps."""
    conn = ev.JitProb(n, n, 0.02, weight=0.5, seed=0)

    def loop(step):
        return jax.jit(lambda: jax.lax.fori_loop(0, STEPS, step, jnp.zeros(n)))

    return {
        "built-in JitProb": loop(lambda i, a: a + s[i] @ conn),
        "user scatter, JitProb": loop(lambda i, a: a + user_matvec(s[i], conn)),
        "user scatter, JitProb, lax": loop(lambda i, a: a + user_matvec(s[i], conn, backend="lax")),
    }


def brainevent_update(conn, trace, s, expect) -> dict | None:
    """brainevent's update_csr_on_binary_pre (generic pure-JAX kernel, and numba when
    installed there) on the same problem, in benchmarks/.envs/brainevent (a subprocess):
    {case: (min, median) per step}, or None without that environment."""
    import json
    import subprocess
    import tempfile

    py = pathlib.Path(__file__).parent / ".envs" / "brainevent" / "bin" / "python"
    if not py.exists():
        print("\n(brainevent comparison skipped: no benchmarks/.envs/brainevent)")
        return None
    with tempfile.TemporaryDirectory() as tmp:
        prob, check = pathlib.Path(tmp) / "problem.npz", pathlib.Path(tmp) / "w.npy"
        np.savez(
            prob,
            indptr=np.asarray(conn.indptr),
            indices=np.asarray(conn.indices),
            data=np.asarray(conn.data),
            trace=np.asarray(trace),
            spikes=np.asarray(s),
        )
        np.save(check, np.asarray(expect))
        script = pathlib.Path(__file__).parent / "_custom_ops_brainevent.py"
        done = subprocess.run(
            [str(py), str(script), str(prob), "--check", str(check)],
            capture_output=True,
            text=True,
            check=False,
        )
    if done.returncode != 0:
        print(f"\n(brainevent comparison failed: {done.stderr.strip().splitlines()[-1:]})")
        return None
    res = json.loads(done.stdout.strip().splitlines()[-1])
    versions = res.pop("versions")
    print(f"\nbrainevent {versions['brainevent']} (jax {versions['jax']}) in a subprocess")
    return {k: tuple(v) for k, v in res.items()}


def overhead(steps: int = 2000) -> None:
    """The cost of one user-op call inside a compiled loop: 100 neurons, no spikes, a
    2000-step fori_loop with the op minus the same loop without it."""
    conn = ev.FixedProb(0.1, seed=0).build(100, 100, weight=lambda r, k: np.ones(k, np.float32))
    s = jnp.zeros(100, bool)

    def with_op(i, acc):
        return acc + user_matvec(s, conn, syn={"w": conn.data})

    def without(i, acc):
        return acc + 1.0

    fns = {
        k: jax.jit(lambda f=f: jax.lax.fori_loop(0, steps, f, jnp.zeros(100)))
        for k, f in (("loop with the op", with_op), ("empty loop", without))
    }
    for f in fns.values():
        jax.block_until_ready(f())
    res = interleaved({k: (lambda f=f: jax.block_until_ready(f())) for k, f in fns.items()}, 3, 9)
    per_call = (res["loop with the op"][0] - res["empty loop"][0]) / steps
    print(f"\nper-call overhead of a user op in a compiled loop: {per_call * 1e6:.3f} us")
    record("per-call overhead", "user scatter", per_call)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, nargs="+", default=[10000])
    ap.add_argument("--out", type=pathlib.Path)
    args = ap.parse_args()
    out = args.out or pathlib.Path(__file__).parent / "results" / (
        f"custom-ops-{datetime.date.today():%Y%m%d}.json"
    )
    for n in args.n:
        rng = np.random.default_rng(0)
        conn = ev.FixedProb(0.02, seed=0).build(
            n, n, weight=lambda r, k: r.uniform(0.2, 0.8, k).astype(np.float32)
        )
        trace = jnp.asarray(rng.random(n), jnp.float32)
        for rate in (0.01, 0.05):
            s = jnp.asarray(rng.random((STEPS, n)) < rate)

            fns = cases(n, conn, trace, s)
            fns.update(stdp_cases(conn, s))
            fns.update(jitprob_cases(n, s))
            if rate == 0.05:
                fns.update(backward_cases(n, conn, trace, s))
                fns.update(gather_cases(n, conn))
            a, b = fns["user STDP, 4 ops"](), fns["user STDP, 1 op"]()
            for k in STDP_FIELDS:
                np.testing.assert_allclose(np.asarray(a[k]), np.asarray(b[k]), rtol=1e-6)
            np.testing.assert_allclose(
                np.asarray(fns["user scatter"]()), np.asarray(fns["built-in CSR"]()), rtol=1e-4
            )
            np.testing.assert_allclose(
                np.asarray(fns["user update"]()), np.asarray(fns["built-in update"]()), rtol=1e-5
            )
            for f in fns.values():
                jax.block_until_ready(f())
            res = interleaved(
                {k: (lambda f=f: jax.block_until_ready(f())) for k, f in fns.items()},
                number=5,
                repeats=9,
            )
            per_step = {k: (a / STEPS, b / STEPS) for k, (a, b) in res.items()}
            report(
                f"N = {n}, {rate:.0%} spikes, per step",
                {k: per_step[k] for k in ("built-in CSR", "user scatter", "user scatter, lax")},
                "built-in CSR",
                n=n,
                rate=rate,
            )
            report(
                f"N = {n}, {rate:.0%} spikes, procedural (JitProb) connectivity per step",
                {k: per_step[k] for k in fns if "JitProb" in k},
                "built-in JitProb",
                n=n,
                rate=rate,
            )
            plast = {k: per_step[k] for k in ("built-in update", "user update", "user update, lax")}
            if rate == 0.05:
                expect = fns["user update"]()
                plast.update(brainevent_update(conn, trace, s, expect) or {})
            report(
                f"N = {n}, {rate:.0%} spikes, plasticity per step",
                plast,
                "built-in update",
                n=n,
                rate=rate,
            )
            for k in plast:
                if k.startswith("brainevent"):
                    ratio = plast[k][0] / plast["user update"][0]
                    print(f"  user update is {ratio:.1f}x faster than {k}")
            if rate == 0.05:
                report(
                    f"N = {n}, gather (conn @ x, every row) per step",
                    {k: per_step[k] for k in fns if "gather" in k},
                    "built-in gather",
                    n=n,
                )
                report(
                    f"N = {n}, {rate:.0%} spikes, gradient of a user scatter per step "
                    "(weights and postsynaptic trace)",
                    {k: per_step[k] for k in fns if k.startswith("backward")},
                    "backward, reference",
                    n=n,
                    rate=rate,
                )
            report(
                f"N = {n}, {rate:.0%} spikes, text-STDP presynaptic pathway per step",
                {k: per_step[k] for k in ("user STDP, 4 ops", "user STDP, 1 op")},
                "user STDP, 4 ops",
                n=n,
                rate=rate,
            )
    overhead()
    write_json(out, "custom_ops", {"neurodyn": neurodyn.__version__, "jax": jax.__version__})


if __name__ == "__main__":
    main()
