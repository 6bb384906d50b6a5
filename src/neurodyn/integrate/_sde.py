"""One-step SDE methods for ``dy = f(t, y) dt + g(t, y) dW``.

Noise types:
- ``"diagonal"``: ``g`` has the structure of ``y``; one Wiener process per
  element (``dW`` like ``y``); the diffusion of element i depends on y_i only
  for the Milstein-type schemes.
- ``"scalar"``: ``g`` has the structure of ``y``; one Wiener process shared by
  all elements (``dW`` a scalar).
- ``"general"``: each leaf of ``g`` has shape ``y_leaf.shape + (m,)``; ``dW``
  has shape ``(m,)``. Euler-Maruyama and Heun only.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from neurodyn.units import Quantity, get_unit
from neurodyn.units import math as umath

from ._tree import check_derivative, tree_map

__all__ = ["SDEMethod", "SDE_METHODS", "brownian_increments"]

NOISE_TYPES = ("diagonal", "scalar", "general")


def _noise(g, dW, noise: str):
    """Tree of g·dW."""
    if noise == "general":
        return tree_map(lambda gl: umath.tensordot(gl, dW, axes=1), g)
    if noise == "scalar":
        return tree_map(lambda gl: gl * dW, g)
    return tree_map(lambda gl, dw: gl * dw, g, dW)


def _add(*trees):
    return tree_map(lambda *xs: sum(xs[1:], xs[0]), *trees)


def _scale(tree, c):
    return tree_map(lambda x: x * c, tree)


def _as_tangent(g, y):
    """g's numbers labelled with y's units (a tangent must have y's structure)."""
    return tree_map(
        lambda gl, yl: Quantity(gl.mantissa, yl.unit) if isinstance(yl, Quantity) else gl, g, y
    )


def _relabel_ggp(out, gl, yl):
    """The jvp's numbers are g·∂g/∂y in unit g.unit²/y.unit."""
    if not isinstance(yl, Quantity):
        return out
    return Quantity(out.mantissa, gl.unit * gl.unit / yl.unit)


def _sqrt(dt):
    return dt**0.5 if isinstance(dt, Quantity) else jnp.sqrt(dt)


class SDEMethod:
    """``step(f, g, y, t, dt, dW, *args, noise=..., dZ=None) -> y_next``."""

    name: str
    strong_order: float
    calculus: str  # "ito" or "stratonovich"
    noise_types: tuple[str, ...] = NOISE_TYPES
    needs_dZ = False
    kind = "sde"

    def check(self, noise: str):
        """Raise ``ValueError`` unless ``noise`` is a known noise type that this method
        supports (``noise_types``)."""
        if noise not in NOISE_TYPES:
            raise ValueError(f"noise must be one of {NOISE_TYPES}, got {noise!r}.")
        if noise not in self.noise_types:
            raise ValueError(
                f"{self.name} supports {', '.join(self.noise_types)} noise, not {noise!r}; "
                "use 'euler' (Itô) or 'heun' (Stratonovich) for general noise."
            )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, strong order {self.strong_order})"


class EulerMaruyama(SDEMethod):
    name, strong_order, calculus = "euler_maruyama", 0.5, "ito"

    def step(self, f, g, y, t, dt, dW, *args, noise="diagonal", dZ=None):
        drift = f(t, y, *args)
        check_derivative(y, drift, dt)
        return _add(y, _scale(drift, dt), _noise(g(t, y, *args), dW, noise))


class Heun(SDEMethod):
    """Stochastic Heun (predictor-corrector); converges to the Stratonovich solution."""

    name, strong_order, calculus = "heun_sde", 1.0, "stratonovich"

    def step(self, f, g, y, t, dt, dW, *args, noise="diagonal", dZ=None):
        f0, g0 = f(t, y, *args), g(t, y, *args)
        check_derivative(y, f0, dt)
        pred = _add(y, _scale(f0, dt), _noise(g0, dW, noise))
        f1, g1 = f(t + dt, pred, *args), g(t + dt, pred, *args)
        drift = _scale(_add(f0, f1), 0.5 * dt)
        diff = _noise(_scale(_add(g0, g1), 0.5), dW, noise)
        return _add(y, drift, diff)


class Milstein(SDEMethod):
    """Milstein scheme using ``g·∂g/∂y`` from a Jacobian-vector product."""

    noise_types = ("diagonal", "scalar")
    strong_order = 1.0

    def __init__(self, calculus: str):
        self.calculus = calculus
        self.name = "milstein" if calculus == "ito" else "milstein_strat"

    def step(self, f, g, y, t, dt, dW, *args, noise="diagonal", dZ=None):
        drift = f(t, y, *args)
        check_derivative(y, drift, dt)
        g_val = g(t, y, *args)
        g0, ggp = jax.jvp(lambda yy: g(t, yy, *args), (y,), (_as_tangent(g_val, y),))
        ggp = tree_map(_relabel_ggp, ggp, g_val, y)
        # for diagonal noise ggp_i = g_i ∂g_i/∂y_i; for scalar noise it is L¹g exactly
        if noise == "scalar":
            w2 = dW * dW
        else:
            w2 = tree_map(lambda d: d * d, dW)
        if self.calculus == "ito":
            corr = tree_map(lambda w: w - dt, w2) if noise != "scalar" else w2 - dt
        else:
            corr = w2
        if noise == "scalar":
            term = tree_map(lambda gg: 0.5 * gg * corr, ggp)
        else:
            term = tree_map(lambda gg, c: 0.5 * gg * c, ggp, corr)
        return _add(y, _scale(drift, dt), _noise(g0, dW, noise), term)


class DerivativeFreeMilstein(SDEMethod):
    """Milstein without derivatives (Kloeden & Platen 11.1.5), Itô."""

    name, strong_order, calculus = "milstein_df", 1.0, "ito"
    noise_types = ("diagonal", "scalar")

    def step(self, f, g, y, t, dt, dW, *args, noise="diagonal", dZ=None):
        f0, g0 = f(t, y, *args), g(t, y, *args)
        check_derivative(y, f0, dt)
        sq = _sqrt(dt)
        support = _add(y, _scale(f0, dt), _scale(g0, sq))
        g1 = g(t, support, *args)
        if noise == "scalar":
            w2 = dW * dW - dt
            term = tree_map(lambda a, b: (a - b) * w2 / (2 * sq), g1, g0)
        else:
            term = tree_map(lambda a, b, w: (a - b) * (w * w - dt) / (2 * sq), g1, g0, dW)
        return _add(y, _scale(f0, dt), _noise(g0, dW, noise), term)


class SRK15(SDEMethod):
    """Platen's explicit strong order 1.5 scheme (Kloeden & Platen 11.2.1), Itô.

    For scalar or diagonal noise with time-independent (autonomous)
    coefficients; needs the double integral ``dZ = ∫∫ dW ds`` drawn jointly
    with ``dW`` (see :func:`brownian_increments`).
    """

    name, strong_order, calculus = "srk", 1.5, "ito"
    noise_types = ("diagonal", "scalar")
    needs_dZ = True

    def step(self, f, g, y, t, dt, dW, *args, noise="diagonal", dZ=None):
        if dZ is None:
            raise ValueError("srk needs dZ (the double integral ∫∫dW ds) drawn with dW.")
        a0, b0 = f(t, y, *args), g(t, y, *args)
        check_derivative(y, a0, dt)
        sq = _sqrt(dt)
        yp = _add(y, _scale(a0, dt), _scale(b0, sq))
        ym = _add(y, _scale(a0, dt), _scale(b0, -sq))
        bp, bm = g(t, yp, *args), g(t, ym, *args)
        ap, am = f(t, yp, *args), f(t, ym, *args)
        phip = _add(yp, _scale(bp, sq))
        phim = _add(yp, _scale(bp, -sq))
        bpp, bpm = g(t, phip, *args), g(t, phim, *args)

        def leaf(yl, a0l, b0l, apl, aml, bpl, bml, bppl, bpml, w, z):
            out = yl + b0l * w + (apl - aml) * z / (2 * sq)
            out = out + (apl + 2 * a0l + aml) * dt / 4
            out = out + (bpl - bml) * (w * w - dt) / (4 * sq)
            out = out + (bpl - 2 * b0l + bml) * (w * dt - z) / (2 * dt)
            out = out + (bppl - bpml - bpl + bml) * (w * w / 3 - dt) * w / (4 * dt)
            return out

        if noise == "scalar":
            return tree_map(lambda *xs: leaf(*xs, dW, dZ), y, a0, b0, ap, am, bp, bm, bpp, bpm)
        return tree_map(leaf, y, a0, b0, ap, am, bp, bm, bpp, bpm, dW, dZ)


SDE_METHODS: dict[str, SDEMethod] = {
    m.name: m
    for m in [
        EulerMaruyama(),
        Heun(),
        Milstein("ito"),
        Milstein("stratonovich"),
        DerivativeFreeMilstein(),
        SRK15(),
    ]
}
SDE_METHODS["euler_sde"] = SDE_METHODS["euler_maruyama"]
SDE_METHODS["em"] = SDE_METHODS["euler_maruyama"]


def brownian_increments(
    key, dt, shape_tree: Any, noise: str = "diagonal", m: int | None = None, with_dZ: bool = False
):
    """Draw ``dW`` (and ``dZ``) for one step.

    ``shape_tree`` is ``y`` (its leaves' shapes are used for diagonal noise).
    ``dt`` may be a Quantity of time; increments then have unit sqrt(time).
    """
    sq = _sqrt(dt)
    m_sq = sq.mantissa if isinstance(sq, Quantity) else sq
    unit = get_unit(sq) if isinstance(sq, Quantity) else None
    dtm = dt.mantissa if isinstance(dt, Quantity) else dt

    def draw(key, shape):
        k1, k2 = jax.random.split(key)
        xi1 = jax.random.normal(k1, shape)
        w = m_sq * xi1
        if not with_dZ:
            return w, None
        xi2 = jax.random.normal(k2, shape)
        z = 0.5 * dtm * m_sq * (xi1 + xi2 / math.sqrt(3.0))
        return w, z

    def wrap(x, u):
        return x if u is None or x is None else Quantity(x, u)

    if noise == "scalar":
        w, z = draw(key, ())
        zu = None if unit is None else get_unit(dt) * unit
        return wrap(w, unit), wrap(z, zu)
    if noise == "general":
        if m is None:
            raise ValueError("general noise needs m, the number of Wiener processes.")
        w, z = draw(key, (m,))
        return wrap(w, unit), None
    leaves, tree = jax.tree_util.tree_flatten(shape_tree, is_leaf=lambda x: isinstance(x, Quantity))
    keys = jax.random.split(key, len(leaves))
    ws, zs = [], []
    for k, leaf in zip(keys, leaves):
        w, z = draw(k, jnp.shape(leaf))
        ws.append(wrap(w, unit))
        zs.append(wrap(z, None if unit is None else get_unit(dt) * unit))
    dW = jax.tree_util.tree_unflatten(tree, ws)
    dZ = jax.tree_util.tree_unflatten(tree, zs) if with_dZ else None
    return dW, dZ


def sde_step_fn(method: SDEMethod, f: Callable, g: Callable, noise: str):
    method.check(noise)

    def step(y, t, dt, dW, *args, dZ=None):
        return method.step(f, g, y, t, dt, dW, *args, noise=noise, dZ=dZ)

    return step
