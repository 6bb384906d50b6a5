"""Pseudo-arclength continuation of equilibria in one parameter, with fold (limit point),
Hopf and branch-point detection.

The vector field is ``f(x, p) -> dx/dt`` with ``x`` of shape ``(d,)`` and a scalar ``p``,
written with ``jax.numpy`` on plain arrays (strip units first: ``u.get_mantissa``). The
branch ``y = (x, p)`` is followed with a tangent predictor and a Newton corrector on
``[f(y) = 0, t·(y - y_pred) = 0]``, so it turns around folds. Along it three test functions
are watched:

* fold: the ``p`` component of the tangent (sign change at a limit point);
* Hopf: the sign of ``prod_{i<j} (λ_i + λ_j)`` (the bialternate product), which vanishes
  when a complex pair crosses the imaginary axis (a real pair with ``λ_1 = -λ_2`` is a
  neutral saddle and is discarded);
* branch point: the sign of ``det [[∂f/∂y], [t]]``.

Folds are located by Newton on ``[f = 0, J v = 0, v·v = 1]`` and Hopf points by Newton on
``[f = 0, (J² + κ I) v = 0, v·v = 1, c·v = 0]`` (``κ = ω²``); branch points by bisection.
Everything runs in float64 (``jax.enable_x64``); Jacobians come from ``jax.jacfwd`` and are
compiled once per call.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import jax
import jax.numpy as jnp
import numpy as np

import neurodyn.units as u

from . import _models

__all__ = ["SpecialPoint", "EquilibriumBranch", "continue_equilibria"]

_ABBREV = {
    "fold": "LP",
    "hopf": "H",
    "branch_point": "BP",
    "cusp": "CP",
    "bogdanov_takens": "BT",
    "zero_hopf": "ZH",
    "equilibrium": "EP",
}


@dataclass(frozen=True)
class SpecialPoint:
    """A bifurcation point found on a branch.

    ``kind`` is ``"fold"``, ``"hopf"``, ``"branch_point"`` (one parameter) or ``"cusp"``,
    ``"bogdanov_takens"``, ``"zero_hopf"`` (two parameters); ``param`` the parameter value
    (a float, or ``[p1, p2]``), ``state`` the equilibrium, ``index`` its row in the branch
    arrays, ``data`` extras: ``omega`` (Hopf frequency, rad per time unit), ``l1`` (first
    Lyapunov coefficient, Kuznetsov's normalisation ``|q| = 1``: < 0 supercritical, > 0
    subcritical Hopf), ``v`` (null or
    critical vector), ``a`` (fold normal-form coefficient ``w·D²f(v, v)/2`` with ``w·v = 1``),
    ``located`` (False when Newton on the augmented system failed and only bisection was
    used).
    """

    kind: str
    param: float | np.ndarray
    state: np.ndarray
    index: int
    data: dict = field(default_factory=dict, compare=False)

    @property
    def label(self) -> str:
        """Short label: LP, H, BP, CP, BT, ZH."""
        return _ABBREV.get(self.kind, self.kind)


@dataclass
class EquilibriumBranch:
    """A branch of equilibria of ``f(x, p)``.

    ``params`` ``[n]``, ``states`` ``[n, d]``, ``stable`` ``[n]`` (all eigenvalues with
    negative real part), ``eigenvalues`` ``[n, d]`` (complex), ``special_points`` (each also
    a row of the arrays, at ``point.index``), ``stop_reason`` (why the continuation ended).
    For a ``dyn`` model: ``param_name``, ``var_names`` and ``var_units`` (the columns of
    ``states``, in their declared units), and ``params`` (and each point's ``param``) are
    Quantities when the parameter was given as a Quantity.
    """

    params: np.ndarray
    states: np.ndarray
    stable: np.ndarray
    eigenvalues: np.ndarray
    special_points: list[SpecialPoint] = field(default_factory=list)
    stop_reason: str = ""
    param_name: str = "p"
    var_names: tuple = ()
    var_units: tuple = ()

    @property
    def folds(self) -> list[SpecialPoint]:
        """The special points of kind ``"fold"``."""
        return [s for s in self.special_points if s.kind == "fold"]

    @property
    def hopfs(self) -> list[SpecialPoint]:
        """The special points of kind ``"hopf"``."""
        return [s for s in self.special_points if s.kind == "hopf"]

    def __len__(self) -> int:
        return len(self.params)


# --------------------------------------------------------------------------------------
# shared machinery (also used by _codim2 and _fastslow)


def _check_range(p_range, name: str = "p_range") -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in p_range)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be a pair (low, high) of numbers; got {p_range!r}.") from err
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"{name} must be finite with low < high; got ({lo}, {hi}).")
    return lo, hi


def _check_step(ds, ds_max, max_steps, tol):
    if not (ds > 0 and math.isfinite(ds)):
        raise ValueError(f"ds must be a positive step length; got {ds}.")
    ds_max = 10.0 * ds if ds_max is None else float(ds_max)
    if ds_max < ds:
        raise ValueError(f"ds_max ({ds_max}) must be >= ds ({ds}).")
    if int(max_steps) < 1:
        raise ValueError(f"max_steps must be >= 1; got {max_steps}.")
    if not tol > 0:
        raise ValueError(f"tol must be positive; got {tol}.")
    return float(ds), ds_max, int(max_steps)


def _wrap_field(f: Callable, x0, p0: np.ndarray, args: tuple, n_par: int):
    """Check ``f`` at the start point and return ``(x0, F)`` with ``F(x, pvec) -> (d,)``."""
    if isinstance(x0, u.Quantity):
        raise TypeError(
            "x0 is a Quantity; continuation works on plain arrays: pass "
            "u.get_mantissa(x0) (and make f return plain arrays in the same units)."
        )
    try:
        x0 = np.asarray(x0, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"x0 must be a 1-D array of floats; got {x0!r}.") from err
    x0 = np.atleast_1d(x0)
    if x0.ndim != 1:
        raise ValueError(f"x0 must be 1-D (the state vector); got shape {x0.shape}.")
    d = x0.shape[0]

    if n_par == 1:

        def F(x, pv):
            return jnp.reshape(f(x, pv[0], *args), (d,))

        p_call = jnp.asarray(p0[0])
    else:

        def F(x, pv):
            return jnp.reshape(f(x, pv, *args), (d,))

        p_call = jnp.asarray(p0)
    try:
        out = f(jnp.asarray(x0), p_call, *args)
    except Exception as err:
        raise TypeError(
            f"calling f(x0, p0) failed ({type(err).__name__}: {err}); f must accept a state "
            f"of shape ({d},) and "
            + ("a scalar parameter" if n_par == 1 else f"a parameter array of shape ({n_par},)")
            + " and return dx/dt of the state's shape."
        ) from err
    if isinstance(out, u.Quantity):
        raise TypeError(
            "f returned a Quantity; continuation needs plain arrays: return "
            "u.get_mantissa(...) of dx/dt in fixed units."
        )
    out = np.atleast_1d(np.asarray(out, dtype=np.float64))
    if out.shape != x0.shape:
        raise ValueError(
            f"f(x0, p0) returned shape {out.shape} but x0 has shape {x0.shape}; f must "
            "return dx/dt with one entry per state variable."
        )
    if not np.all(np.isfinite(out)):
        raise ValueError(f"f(x0, p0) is not finite ({out}); choose x0/p0 inside the domain of f.")
    return x0, F


class _Systems:
    """Jitted equilibrium / fold / Hopf systems of ``F(x, pvec)`` and their Jacobians.

    Unknowns: equilibrium ``z = [x, p]``; fold ``z = [x, p, v]``; Hopf ``z = [x, p, v, κ]``
    with an extra vector ``c`` (the phase condition ``c·v = 0``).
    """

    def __init__(self, F, d: int, k: int):
        self.d, self.k = d, k

        def eq(z):
            return F(z[:d], z[d : d + k])

        def jv(x, pv, v):
            return jax.jvp(lambda xx: F(xx, pv), (x,), (v,))[1]

        def fold(z):
            x, pv, v = z[:d], z[d : d + k], z[d + k : 2 * d + k]
            return jnp.concatenate([F(x, pv), jv(x, pv, v), jnp.atleast_1d(v @ v - 1.0)])

        def hopf(z, c):
            x, pv, v, kap = z[:d], z[d : d + k], z[d + k : 2 * d + k], z[2 * d + k]
            jjv = jv(x, pv, jv(x, pv, v)) + kap * v
            return jnp.concatenate([F(x, pv), jjv, jnp.stack([v @ v - 1.0, c @ v])])

        def bvv(x, pv, v):  # D²F(x)[v, v]
            return jax.jvp(lambda xx: jv(xx, pv, v), (x,), (v,))[1]

        def b2(x, pv, a, b):  # D²F(x)[a, b]
            return jax.jvp(lambda xx: jv(xx, pv, a), (x,), (b,))[1]

        def c3(x, pv, a, b, c):  # D³F(x)[a, b, c]
            return jax.jvp(lambda xx: b2(xx, pv, a, b), (x,), (c,))[1]

        self._eq, self._jeq = jax.jit(eq), jax.jit(jax.jacfwd(eq))
        self._fold, self._jfold = jax.jit(fold), jax.jit(jax.jacfwd(fold))
        self._hopf, self._jhopf = jax.jit(hopf), jax.jit(jax.jacfwd(hopf))
        self._jv, self._bvv = jax.jit(jv), jax.jit(bvv)
        self._b2, self._c3 = jax.jit(b2), jax.jit(c3)

    @staticmethod
    def _np(fn, *a):
        return np.asarray(fn(*(jnp.asarray(v) for v in a)))

    def eq(self, z):
        return self._np(self._eq, z)

    def jeq(self, z):
        return self._np(self._jeq, z)

    def jx(self, y):
        return self.jeq(y[: self.d + self.k])[:, : self.d]

    def fold(self, z):
        return self._np(self._fold, z)

    def jfold(self, z):
        return self._np(self._jfold, z)

    def hopf(self, z, c):
        return self._np(self._hopf, z, c)

    def jhopf(self, z, c):
        return self._np(self._jhopf, z, c)

    def jv(self, x, pv, v):
        return self._np(self._jv, x, pv, v)

    def bvv(self, x, pv, v):
        return self._np(self._bvv, x, pv, v)

    def B(self, x, pv, a, b):
        """``D²F[a, b]`` for complex ``a``, ``b`` (bilinear expansion of real parts)."""
        out = 0j
        for fa, ra in ((1, a.real), (1j, a.imag)):
            for fb, rb in ((1, b.real), (1j, b.imag)):
                out = out + fa * fb * self._np(self._b2, x, pv, ra, rb)
        return out

    def C(self, x, pv, a, b, c):
        """``D³F[a, b, c]`` for complex vectors."""
        out = 0j
        for fa, ra in ((1, a.real), (1j, a.imag)):
            for fb, rb in ((1, b.real), (1j, b.imag)):
                for fc, rc in ((1, c.real), (1j, c.imag)):
                    out = out + fa * fb * fc * self._np(self._c3, x, pv, ra, rb, rc)
        return out


def _solve(A, b):
    try:
        out = np.linalg.solve(A, b)
    except np.linalg.LinAlgError:
        out = np.linalg.lstsq(A, b, rcond=None)[0]
    return out


def _newton(G, JG, z, tol: float, maxiter: int = 30):
    """Newton on a square system; returns ``(z, converged)``."""
    z = np.array(z, dtype=np.float64)
    for _ in range(maxiter):
        r = G(z)
        if not np.all(np.isfinite(r)):
            return z, False
        dz = _solve(JG(z), -r)
        z = z + dz
        if not np.all(np.isfinite(z)):
            return z, False
        if np.max(np.abs(dz)) <= tol * (1.0 + np.max(np.abs(z))):
            return z, True
    return z, False


class _Tracker:
    """Pseudo-arclength stepping along the curve ``G(y) = 0`` (``m`` equations, ``m + 1``
    unknowns) with parameter bounds on ``y[pidx]``."""

    def __init__(self, G, JG, tol, pidx, lo, hi, ds, ds_max, maxiter=8):
        self.G, self.JG, self.tol, self.maxiter = G, JG, tol, maxiter
        self.pidx, self.lo, self.hi = np.asarray(pidx), np.asarray(lo), np.asarray(hi)
        self.ds, self.ds_max, self.ds_min = ds, ds_max, ds * 1e-6

    def correct(self, y, row, rhs):
        y = np.array(y, dtype=np.float64)
        for it in range(self.maxiter):
            r = np.append(self.G(y), row @ y - rhs)
            if not np.all(np.isfinite(r)):
                return None, it
            dy = _solve(np.vstack([self.JG(y), row]), -r)
            y = y + dy
            if not np.all(np.isfinite(y)):
                return None, it
            if np.max(np.abs(dy)) <= self.tol * (1.0 + np.max(np.abs(y))):
                return y, it + 1
        return None, self.maxiter

    def tangent(self, y, t_prev=None):
        J = self.JG(y)
        if t_prev is None:
            t = np.linalg.svd(J)[2][-1]
        else:
            e = np.zeros(J.shape[1])
            e[-1] = 1.0
            t = _solve(np.vstack([J, t_prev]), e)
            if not np.all(np.isfinite(t)) or np.linalg.norm(t) == 0:
                t = np.linalg.svd(J)[2][-1]
                t = t if t @ t_prev >= 0 else -t
        return t / np.linalg.norm(t)

    def step(self, y, t, h):
        """One accepted step ``(y_new, t_new, h_used, h_next, hit_bound)`` or ``None``."""
        while h >= self.ds_min:
            y_pred = y + h * t
            y_new, its = self.correct(y_pred, t, t @ y_pred)
            if y_new is not None and np.linalg.norm(y_new - y_pred) < 0.5 * h + 1e-12:
                t_new = self.tangent(y_new, t)
                if t_new @ t > 0.9 or h <= 4 * self.ds_min:
                    pv = y_new[self.pidx]
                    out = np.nonzero((pv < self.lo) | (pv > self.hi))[0]
                    hit = out.size > 0
                    if hit:
                        j = out[0]
                        bound = self.lo[j] if pv[j] < self.lo[j] else self.hi[j]
                        row = np.zeros_like(y_new)
                        row[self.pidx[j]] = 1.0
                        y_b, _ = self.correct(y_new, row, bound)
                        if y_b is not None and np.linalg.norm(y_b - y) < 2 * h:
                            y_new, t_new = y_b, self.tangent(y_b, t)
                    factor = 1.3 if its <= 3 else (1.0 if its <= 5 else 0.7)
                    return y_new, t_new, h, min(h * factor, self.ds_max), hit
            h *= 0.5
        return None

    def bisect(self, y_a, t_a, y_b, test, n: int = 60):
        """Bisection along the step ``y_a -> y_b`` on the sign of ``test(y, t)``."""
        s_b = t_a @ (y_b - y_a)
        sa = np.sign(test(y_a, t_a))
        lo, hi, y_m = 0.0, s_b, y_a
        for _ in range(n):
            s = 0.5 * (lo + hi)
            y_pred = y_a + (s / s_b) * (y_b - y_a)
            y_c, _ = self.correct(y_pred, t_a, t_a @ y_a + s)
            if y_c is None:
                break
            y_m = y_c
            if np.sign(test(y_c, self.tangent(y_c, t_a))) == sa:
                lo = s
            else:
                hi = s
            if abs(hi - lo) <= 1e-13 * (1.0 + np.max(np.abs(y_a))):
                break
        return y_m


def _hopf_sign(ev: np.ndarray, tol: float = 1e-10) -> float:
    """Sign of the bialternate product ``prod_{i<j}(λ_i + λ_j)`` from the eigenvalues."""
    scale = tol * (1.0 + np.max(np.abs(ev))) if ev.size else tol
    cplx = ev[np.imag(ev) > scale]
    real = np.real(ev[np.abs(np.imag(ev)) <= scale])
    s = float(np.prod(np.sign(np.real(cplx)))) if cplx.size else 1.0
    if real.size > 1:
        sums = real[:, None] + real[None, :]
        s *= float(np.prod(np.sign(sums[np.triu_indices(real.size, 1)])))
    return s


def _critical_pair(ev: np.ndarray, scale: float = 1e-10):
    """Index of the eigenvalue with positive imaginary part closest to the imaginary axis."""
    idx = np.nonzero(np.imag(ev) > scale * (1.0 + np.max(np.abs(ev))))[0]
    if idx.size == 0:
        return None
    return idx[np.argmin(np.abs(np.real(ev[idx])))]


def _hopf_start(sys: _Systems, y, ev_index=None):
    """Initial guess ``(z, c)`` for the Hopf system from the eigenvectors at ``y``."""
    d, k = sys.d, sys.k
    J = sys.jx(y)
    ev, vecs = np.linalg.eig(J)
    i = _critical_pair(ev) if ev_index is None else ev_index
    if i is None:
        return None
    q = vecs[:, i]
    v = np.real(q) if np.linalg.norm(np.real(q)) >= np.linalg.norm(np.imag(q)) else np.imag(q)
    v = v / np.linalg.norm(v)
    Jv = J @ v
    c = Jv - (v @ Jv) * v
    c = c / np.linalg.norm(c)
    z = np.concatenate([y[: d + k], v, [np.imag(ev[i]) ** 2]])
    return z, c


def _fold_start(sys: _Systems, y):
    d, k = sys.d, sys.k
    v = np.linalg.svd(sys.jx(y))[2][-1]
    return np.concatenate([y[: d + k], v])


def _fold_coefficient(sys: _Systems, x, pv, v) -> float:
    """``a = w·D²f(v, v)/2`` with ``J^T w = 0``, ``w·v = 1`` (``nan`` if ``w ⊥ v``)."""
    U, _, _ = np.linalg.svd(sys.jx(np.concatenate([x, pv])))
    w = U[:, -1]
    wv = w @ v
    if abs(wv) < 1e-12:
        return float("nan")
    return float(0.5 * (w / wv) @ sys.bvv(x, pv, v))


def _lyapunov(sys: _Systems, x, pv, omega: float) -> float:
    """First Lyapunov coefficient at a Hopf point (Kuznetsov's formula with ``<q, q> = 1``,
    ``<p, q> = 1``): negative for a supercritical, positive for a subcritical Hopf."""
    A = sys.jx(np.concatenate([x, pv]))
    n = A.shape[0]
    ev, vr = np.linalg.eig(A)
    q = vr[:, np.argmin(np.abs(ev - 1j * omega))]
    q = q / np.linalg.norm(q)
    evl, vl = np.linalg.eig(A.T)
    p = vl[:, np.argmin(np.abs(evl + 1j * omega))]
    p = p / np.conj(np.vdot(p, q))
    h11 = _solve(A.astype(complex), sys.B(x, pv, q, q.conj()))
    h20 = _solve(2j * omega * np.eye(n) - A, sys.B(x, pv, q, q))
    g21 = (
        np.vdot(p, sys.C(x, pv, q, q, q.conj()))
        - 2 * np.vdot(p, sys.B(x, pv, q, h11))
        + np.vdot(p, sys.B(x, pv, q.conj(), h20))
    )
    return float(np.real(g21) / (2 * omega))


def _in_step(y_loc, y_a, t_a, y_b) -> bool:
    s_b = t_a @ (y_b - y_a)
    s = t_a @ (y_loc - y_a)
    span = np.linalg.norm(y_b - y_a)
    return -0.05 * abs(s_b) - 1e-10 <= s * np.sign(s_b) <= 1.05 * abs(s_b) + 1e-10 and (
        np.linalg.norm(y_loc - y_a) <= 1.5 * span + 1e-10
    )


# --------------------------------------------------------------------------------------


def continue_equilibria(
    f: Callable,
    x0=None,
    p0: float | None = None,
    p_range: tuple[float, float] | None = None,
    *,
    param: str | None = None,
    param_unit=None,
    ds: float = 0.01,
    ds_max: float | None = None,
    max_steps: int = 2000,
    tol: float = 1e-10,
    direction: int = +1,
    args: tuple = (),
) -> EquilibriumBranch:
    """Follow the equilibria of ``dx/dt = f(x, p, *args)`` in the scalar parameter ``p``.

    Parameters
    ----------
    f : callable
        ``f(x, p, *args) -> dx/dt`` in ``jax.numpy``; ``x`` has shape ``(d,)``, ``p`` is a
        scalar; plain arrays (no Quantity).
    x0, p0 : array, float
        A point near an equilibrium at ``p0`` (refined by Newton first).
    p_range : (low, high)
        The continuation stops when ``p`` leaves it (the last point lies on the bound).
    ds, ds_max : float
        Initial and largest arclength step in ``(x, p)`` space (``ds_max`` defaults to
        ``10 ds``); mind the scales of ``x`` and ``p``.
    max_steps : int
        Largest number of continuation steps.
    tol : float
        Newton tolerance (relative step size).
    direction : +1 or -1
        Whether ``p`` starts increasing or decreasing.
    args : tuple
        Extra arguments passed to ``f``.
    param, param_unit
        With a :mod:`neurodyn.dyn` model in place of ``f`` (see
        :func:`~neurodyn.analysis.model_field`): the parameter to vary (``"I_ext"`` or a
        declared parameter) and the unit ``p`` is measured in (default its declared unit;
        ``ds`` mixes it with the variables' units). ``x0`` defaults to the model's current
        state (a dict of Quantities is accepted), ``p0`` to its current value; ``p0`` and
        ``p_range`` may be Quantities (the wrong dimension is refused).

    Returns
    -------
    EquilibriumBranch
        With ``special_points`` of kind ``"fold"``, ``"hopf"`` (``data["omega"]``) and
        ``"branch_point"``.

    Example
    -------
    >>> import jax.numpy as jnp
    >>> from neurodyn.analysis import continue_equilibria
    >>> br = continue_equilibria(lambda x, p: p + x**2, [-1.0], -1.0, (-2.0, 0.5), ds=0.05)
    >>> [(s.kind, round(s.param, 9) + 0.0) for s in br.special_points]  # saddle-node at 0
    [('fold', 0.0)]

    With a model (the Hopf point of the Hodgkin-Huxley neuron, area 20000 µm²):

    >>> import neurodyn as nd
    >>> import neurodyn.units as u
    >>> br = continue_equilibria(nd.dyn.HH(1), param="I_ext", param_unit=u.nA,
    ...                          p_range=(0, 3) * u.nA, ds=0.05, ds_max=0.2)
    >>> br.hopfs[0].param                                     # doctest: +SKIP
    Quantity(1.9554..., "nA")
    """
    model = _models.as_field(f, param, param_unit, "continue_equilibria")
    if model is not None:
        _models.require_param(model, "continue_equilibria")
        quantity = _models.has_quantity(p0, p_range)
        branch = continue_equilibria(
            model,
            model.state(x0),
            model.param_value(p0),
            model.param_range(p_range),
            ds=ds,
            ds_max=ds_max,
            max_steps=max_steps,
            tol=tol,
            direction=direction,
            args=args,
        )
        return label_branch(branch, model, quantity)
    if x0 is None or p0 is None or p_range is None:
        raise TypeError("continue_equilibria(f, x0, p0, p_range) needs x0, p0 and p_range.")
    lo, hi = _check_range(p_range)
    ds, ds_max, max_steps = _check_step(ds, ds_max, max_steps, tol)
    if direction not in (1, -1):
        raise ValueError(f"direction must be +1 or -1; got {direction!r}.")
    try:
        p0 = float(p0)
    except (TypeError, ValueError) as err:
        raise TypeError(f"p0 must be a number; got {p0!r}.") from err
    if not lo <= p0 <= hi:
        raise ValueError(
            f"p0 = {p0} is outside p_range = ({lo}, {hi}); start inside the range or widen it."
        )
    with jax.enable_x64(True):
        x0, F = _wrap_field(f, x0, np.array([p0]), tuple(args), 1)
        return _continue(F, x0, p0, lo, hi, ds, ds_max, max_steps, tol, direction)


def _refine_start(sys: _Systems, x0, pv, tol, what="f(x, p0)"):
    d, k = sys.d, sys.k
    y = np.concatenate([x0, pv])
    G = lambda x: sys.eq(np.concatenate([x, pv]))  # noqa: E731
    JG = lambda x: sys.jx(np.concatenate([x, pv]))  # noqa: E731
    x, ok = _newton(G, JG, x0, tol, maxiter=50)
    res = np.max(np.abs(G(x))) if np.all(np.isfinite(x)) else float("nan")
    if not ok or not np.isfinite(res) or res > 1e-6 * (1.0 + np.max(np.abs(G(x0)))):
        raise ValueError(
            f"no equilibrium found near x0 = {x0} at p = {pv.tolist()}: Newton on {what} = 0 "
            f"did not converge (|f| = {res:.3g}). Start closer to an equilibrium, e.g. from "
            "analysis.fixed_points or a long simulation."
        )
    y[:d] = x
    return y[: d + k]


def _continue(F, x0, p0, lo, hi, ds, ds_max, max_steps, tol, direction):
    d = x0.shape[0]
    sys = _Systems(F, d, 1)
    y = _refine_start(sys, x0, np.array([p0]), tol)
    tr = _Tracker(sys.eq, sys.jeq, tol, [d], [lo], [hi], ds, ds_max)
    t = tr.tangent(y)
    if abs(t[d]) > 1e-12 and np.sign(t[d]) != direction:
        t = -t
    elif abs(t[d]) <= 1e-12:  # started on a fold: go along +x_0 for direction +1
        t = t if t[np.argmax(np.abs(t[:d]))] * direction >= 0 else -t

    def tests(yy, tt, ev):
        bp = np.linalg.slogdet(np.vstack([sys.jeq(yy), tt]))[0]
        return np.array([tt[d], _hopf_sign(ev), bp])

    def eig(yy):
        return np.linalg.eigvals(sys.jx(yy))

    ev = eig(y)
    ys, evs, specials = [y], [ev], []
    test_prev, t_prev = tests(y, t, ev), t
    y_start, h, reason = y, ds, "max_steps reached"
    for n_step in range(max_steps):
        res = tr.step(ys[-1], t_prev, h)
        if res is None:
            reason = "step size underflow (Newton failed)"
            break
        y_new, t_new, _, h, hit = res
        ev_new = eig(y_new)
        test_new = tests(y_new, t_new, ev_new)
        found = _locate_1p(sys, tr, ys[-1], t_prev, y_new, test_prev, test_new, tol)
        for y_s, kind, data in sorted(found, key=lambda a: t_prev @ (a[0] - ys[-1])):
            ys.append(y_s)
            evs.append(eig(y_s))
            specials.append(SpecialPoint(kind, float(y_s[d]), y_s[:d].copy(), len(ys) - 1, data))
        ys.append(y_new)
        evs.append(ev_new)
        test_prev, t_prev = test_new, t_new
        if hit:
            reason = "left p_range"
            break
        if n_step > 3 and np.linalg.norm(y_new - y_start) < 0.5 * h and t_new @ t > 0.5:
            reason = "closed loop"
            break
    Y, EV = np.array(ys), np.array(evs)
    stable = np.all(np.real(EV) < 0, axis=1)
    return EquilibriumBranch(Y[:, d], Y[:, :d], stable, EV, specials, reason)


def _locate_1p(sys, tr, y_a, t_a, y_b, test_a, test_b, tol):
    """Special points between two consecutive branch points."""
    d = sys.d
    out = []
    fold_change = test_a[0] * test_b[0] < 0
    bp_change = test_a[2] * test_b[2] < 0
    if bp_change:
        y_s = tr.bisect(
            y_a, t_a, y_b, lambda yy, tt: np.linalg.slogdet(np.vstack([sys.jeq(yy), tt]))[0]
        )
        out.append((y_s, "branch_point", {}))
    elif fold_change:
        w = test_a[0] / (test_a[0] - test_b[0])
        z0 = _fold_start(sys, y_a + w * (y_b - y_a))
        z, ok = _newton(sys.fold, sys.jfold, z0, tol)
        located = ok and _in_step(z[: d + 1], y_a, t_a, y_b)
        if located:
            y_s, v = z[: d + 1], z[d + 1 :]
        else:
            y_s = tr.bisect(y_a, t_a, y_b, lambda yy, tt: tt[d])
            v = np.linalg.svd(sys.jx(y_s))[2][-1]
        a = _fold_coefficient(sys, y_s[:d], y_s[d:], v)
        out.append((y_s, "fold", {"v": v, "a": a, "located": bool(located)}))
    if test_a[1] * test_b[1] < 0:
        ev_a = np.linalg.eigvals(sys.jx(y_a))
        ev_b = np.linalg.eigvals(sys.jx(y_b))
        ia, ib = _critical_pair(ev_a), _critical_pair(ev_b)
        cands = [(abs(np.real(ev_a[ia])), y_a)] if ia is not None else []
        cands += [(abs(np.real(ev_b[ib])), y_b)] if ib is not None else []
        if cands:  # otherwise two real eigenvalues λ1 = -λ2: a neutral saddle
            y0 = min(cands, key=lambda c: c[0])[1]
            z0, c = _hopf_start(sys, y0)
            z, ok = _newton(lambda zz: sys.hopf(zz, c), lambda zz: sys.jhopf(zz, c), z0, tol)
            located = ok and z[-1] > 0 and _in_step(z[: d + 1], y_a, t_a, y_b)
            if located:
                y_s, omega, v = z[: d + 1], float(np.sqrt(z[-1])), z[d + 1 : 2 * d + 1]
            else:
                y_s = tr.bisect(
                    y_a, t_a, y_b, lambda yy, tt: _hopf_sign(np.linalg.eigvals(sys.jx(yy)))
                )
                ev = np.linalg.eigvals(sys.jx(y_s))
                i = _critical_pair(ev)
                omega, v = (float(np.imag(ev[i])) if i is not None else float("nan")), None
            if omega > 0:
                l1 = _lyapunov(sys, y_s[:d], y_s[d:], omega)
                data = {"omega": omega, "l1": l1, "v": v, "located": bool(located)}
                out.append((y_s, "hopf", data))
    return out


def label_branch(branch, model, quantity: bool):
    """``branch`` with the names and units of ``model`` (a ModelField); its parameter
    values as Quantities when ``quantity``."""
    branch.param_name = model.params[0] if model.scalar else model.params
    branch.var_names, branch.var_units = model.var_names, model.var_units
    if quantity and model.scalar:
        branch.params = model.quantity(branch.params)
        branch.special_points = [
            replace(sp, param=model.quantity(sp.param)) for sp in branch.special_points
        ]
    return branch
