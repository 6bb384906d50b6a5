"""Integrating a system of differential equations given as strings: the choice and
check of the method (Brian2's rules), and one step over SI arrays."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from ._codegen import (
    Compiler,
    Const,
    coupling_blocks,
    degree,
    deps,
    exact_step,
    multiplicative,
)
from ._dims import literal_value
from ._equations import EquationError

__all__ = ["OdeSystem", "METHODS"]

METHODS = {
    "exact": "exact",
    "linear": "exact",
    "exponential_euler": "exp_euler",
    "exp_euler": "exp_euler",
    "euler": "euler",
    "heun": "heun",
    "milstein": "milstein",
    "rk2": "rk2",
    "midpoint": "rk2",
    "rk4": "rk4",
}


class OdeSystem:
    """The differential equations ``names`` of ``eqs``, compiled; ``method`` as given
    (a name, a list of names to try, or None: Brian2's ``('exact', 'euler', 'heun')``).

    Attributes: ``method`` (the chosen key), ``noise_names`` (the xi used), ``blocks``
    (coupled groups for ``exact``), ``rhs`` (compiled right-hand sides)."""

    def __init__(self, eqs, names, compiler, subtree, lit, method, owner, unless=()):
        self.names, self.unless = tuple(names), tuple(unless)
        self.rhs = {k: compiler.function(eqs[k].expr) for k in self.names}
        nameset = set(self.names)
        trees = {k: eqs[k].expr.tree for k in self.names}
        reads = {k: deps(tr, subtree) for k, tr in trees.items()}
        noise = sorted({n for r in reads.values() for n in r if n == "xi" or n.startswith("xi_")})
        self.noise_names = tuple(noise)

        def exponent(node):
            return literal_value(node, lit)

        why_not_linear = None
        for k, tr in trees.items():
            if degree(tr, nameset, subtree, exponent) > 1:
                why_not_linear = f"d{k}/dt = {eqs[k].expr.code} is not linear in the variables"
            elif "t" in reads[k] or "t_in_timesteps" in reads[k]:
                why_not_linear = f"d{k}/dt depends on the time t"
            elif reads[k] & set(noise):
                why_not_linear = "the equations are stochastic (xi)"
            if why_not_linear:
                break
        self.why_not_linear = why_not_linear
        # Brian2's milstein needs diagonal noise: one xi per equation, each in one equation
        self.noise_of = {k: sorted(r & set(noise)) for k, r in reads.items()}
        used = [n for k in self.names for n in self.noise_of[k]]
        diagonal = all(len(v) <= 1 for v in self.noise_of.values()) and len(used) == len(set(used))
        mult = False
        for k, tr in trees.items():
            if noise and degree(tr, set(noise), subtree, exponent) > 1:
                raise EquationError(
                    f"{owner}: d{k}/dt = {eqs[k].expr.code}: the noise xi must enter linearly "
                    "(a term `sigma * xi`)."
                )
            if noise and multiplicative(tr, set(noise), nameset, subtree):
                mult = True
        explicit = method is not None
        if method is None:
            candidates = ["exact", "euler", "heun"]
        else:
            candidates = [method] if isinstance(method, str) else list(method)
        errors = []
        for m in candidates:
            key = METHODS.get(m)
            if key is None:
                raise ValueError(
                    f"{owner}: unknown method {m!r}; use 'exact', 'exponential_euler', 'euler', "
                    "'heun', 'milstein', 'rk2' or 'rk4'."
                )
            reason = None
            if key == "exact" and why_not_linear:
                reason = (
                    "method 'exact' needs linear equations with coefficients constant over a "
                    f"step, and {why_not_linear}. Use method='exponential_euler' (equations "
                    "linear in their own variable), 'euler' or 'rk4'"
                )
            elif noise and key not in ("euler", "heun", "milstein"):
                reason = (
                    f"method {m!r} cannot integrate noise (xi); use method='euler' (additive "
                    "noise), 'heun' or 'milstein'"
                )
            elif noise and key == "milstein" and not diagonal:
                reason = (
                    "method 'milstein' needs diagonal noise (each equation with at most one "
                    "xi, each xi in one equation: write xi_1, xi_2, ...); use method='heun'"
                )
            elif noise and key == "euler" and mult:
                reason = (
                    "method 'euler' integrates additive noise only, and a noise term here is "
                    "multiplied by a variable; use method='heun'"
                )
            if reason is None:
                self.method = key
                break
            errors.append(reason)
        else:
            if explicit:
                raise EquationError(f"{owner}: {'; '.join(errors)}.")
            raise EquationError(f"{owner}: no method fits these equations: {'; '.join(errors)}.")
        self.blocks = coupling_blocks(self.names, {k: reads[k] & nameset for k in self.names})
        # variables whose equation is x' = A x + B with A and B constants (folded when
        # compiled): their exponential-Euler / exact step is x e^{A dt} + B dt phi1(A dt)
        self.constant = {}
        if self.method in ("exact", "exp_euler"):
            for k in self.names:
                if self.method == "exact" and any(len(b) > 1 and k in b for b in self.blocks):
                    continue
                if reads[k] & (nameset - {k}):
                    continue
                ab = []
                for x in (0.0, 1.0):
                    c = Compiler(
                        lambda n, k=k, x=x: Const(x) if n == k else compiler.resolve(n)
                    ).compile(eqs[k].expr)
                    ab.append(c.value if isinstance(c, Const) else None)
                if None not in ab:
                    b, a = float(ab[0]), float(ab[1]) - float(ab[0])
                    self.constant[k] = (a, b)

    def field(self, env, t, y, nr=None, xi=None):
        """``{name: dy/dt}`` (SI) at ``y``; variables in ``unless`` are held where ``nr``
        (not refractory) is False, as Brian2's ``int(not_refractory) * (...)``."""
        e = dict(env)
        e.update(y)
        e["t"] = t
        for k in self.noise_names:
            e[k] = 0.0 if xi is None else xi[k]
        out = {}
        for k, f in self.rhs.items():
            d = f(e)
            x = y[k]
            d = jnp.broadcast_to(jnp.asarray(d, jnp.result_type(x)), jnp.shape(x))
            if nr is not None and k in self.unless:
                d = jnp.where(nr, d, 0.0)
            out[k] = d
        return out

    def step(self, env, y, t, dt, nr=None, xi=None, wrap=None):
        """One step of ``dt`` (SI seconds) from ``y``; ``xi``: this step's noise values
        (standard normal / sqrt(dt)) by name; ``nr``: not refractory (``(unless
        refractory)`` variables are held where False); ``wrap(step, y)`` computes the
        costly part (default: calls it)."""
        wrap = wrap or (lambda step, y: step(y))
        m = self.method
        # a variable alone in its update (Euler, exponential Euler, exact for variables
        # that are not coupled): holding it afterwards is Brian2's zero derivative
        after = m in ("euler", "exp_euler") or (
            m == "exact" and all(len(b) == 1 for b in self.blocks)
        )
        inner_nr = None if after else nr
        out = {}
        if m in ("exact", "exp_euler"):
            out = self._constant_step(y, dt)
        rest = {k: v for k, v in y.items() if k not in out}
        if rest:
            out.update(
                wrap(lambda r: self._step(env, {**y, **r}, tuple(r), t, dt, inner_nr, xi), rest)
            )
        if nr is not None:
            for k in self.unless:
                if k in y and (after or k in self.constant):
                    out[k] = jnp.where(nr, out[k], y[k])
        return out

    def _step(self, env, y, names, t, dt, nr, xi):
        def f(t, y):
            return self.field(env, t, y, nr)

        m = self.method
        if m in ("exact", "exp_euler"):
            return self._exponential(f, y, names, t, dt)
        if m in ("euler", "heun") and xi:
            d = self.field(env, t, y, nr, xi)
            if m == "euler":
                return {k: y[k] + dt * d[k] for k in y}
            d0 = f(t, y)
            g_dw = {k: dt * (d[k] - d0[k]) for k in y}  # g(x) dW
            support = {k: y[k] + g_dw[k] for k in y}
            ds = self.field(env, t + dt, support, nr, xi)
            ds0 = self.field(env, t + dt, support, nr)
            return {k: y[k] + dt * d0[k] + 0.5 * (g_dw[k] + dt * (ds[k] - ds0[k])) for k in y}
        if m == "milstein" and xi:
            return self._milstein(env, y, t, dt, nr, xi)
        if m in ("euler", "heun", "milstein"):  # Brian2's heun has an Euler drift
            d = f(t, y)
            return {k: y[k] + dt * d[k] for k in y}
        from neurodyn.integrate import get_method

        return get_method(m).step(f, y, t, dt)

    def _milstein(self, env, y, t, dt, nr, xi):
        """Brian2's derivative-free Milstein step (diagonal noise)::

            x_s = x + dt f(x) + sqrt(dt) g(x)
            x' = x + dt f(x) + g(x) dW + (g(x_s) - g(x)) dW^2 / (2 sqrt(dt))

        with ``dW = xi dt`` of the variable's noise; ``g`` is the coefficient of xi (the
        field is linear in it: the field at xi = 1 minus the field at xi = 0). Like
        Brian2's, it converges (strong order 1) to the Stratonovich solution."""
        ones = {n: 1.0 for n in self.noise_names}
        sq = math.sqrt(dt)

        def f_g(y):
            f0 = self.field(env, t, y, nr)
            f1 = self.field(env, t, y, nr, ones)
            return f0, {k: f1[k] - f0[k] for k in y}

        f0, g = f_g(y)
        support = {k: y[k] + dt * f0[k] + sq * g[k] for k in y}
        _, g_s = f_g(support)
        out = {}
        for k in y:
            if not self.noise_of.get(k):
                out[k] = y[k] + dt * f0[k]
                continue
            dw = xi[self.noise_of[k][0]] * dt
            out[k] = y[k] + dt * f0[k] + g[k] * dw + (g_s[k] - g[k]) * dw * dw / (2 * sq)
        return out

    def _constant_step(self, y, dt):
        """Constant-coefficient variables: ``x e^{A dt} + B dt phi1(A dt)``, the factors
        computed once (exact, and what exponential Euler gives)."""
        out = {}
        for k, (a, b) in self.constant.items():
            z = a * dt
            e = math.exp(z)
            gain = dt * (math.expm1(z) / z if z != 0 else 1.0)
            x = y[k]
            out[k] = x * e if b == 0 else x * e + b * gain
        return out

    def _exponential(self, f, y, names, t, dt):
        """``exact`` and ``exponential_euler`` for the variables ``names`` (the others of
        ``y`` at their values at the start of the step)."""
        out = {}
        if self.method == "exact":
            blocks = [b for b in self.blocks if b[0] in names]
            new = exact_step(f, y, t, dt, blocks)
            return {k: new[k] for k in names}
        from neurodyn.integrate import phi1

        for k in names:

            def fk(x, k=k):
                return f(t, {**y, k: x})[k]

            x = y[k]
            f0, a = jax.jvp(fk, (x,), (jnp.ones_like(x),))
            # Brian2's -B/A + (B/A + x) e^{A dt}, with the built-in models' phi1 (a cubic
            # series below |A dt| = 0.01: 5e-12 relative, and 2.5x faster than expm1)
            out[k] = x + dt * phi1(a * dt) * f0
        return out
