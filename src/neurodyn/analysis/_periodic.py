"""Continuation of periodic orbits born at a Hopf point, with periods, Floquet multipliers
and detection of folds of limit cycles, period doublings and Neimark-Sacker points.

Method
------
A periodic orbit of ``x' = f(x, p)`` with period ``T`` is written on the unit interval,
``u'(t) = T f(u(t), p)``, ``u(0) = u(1)``, and discretised by **orthogonal collocation**:
``[0, 1]`` is cut into ``ntst`` intervals; on each one ``u`` is a polynomial of degree
``ncol`` given by its values at ``ncol + 1`` equally spaced nodes (the last node is shared
with the next interval, the very last one is the first by periodicity), and the ODE is
imposed at the ``ncol`` Gauss-Legendre points of the interval. Gauss points give
super-convergence at the mesh points (error ``O(h^(2 ncol))``), which is why AUTO and
MatCont use the scheme; it is exact enough that the period of a smooth orbit is obtained
to ~1e-10 with a few hundred unknowns, it is robust for stiff neuron models (no
shooting, no sensitivity to unstable directions), and the same linear system gives the
Floquet multipliers for free (below). The unknowns are the ``ntst * ncol`` node values,
the period ``T`` and the parameter ``p``; the equations are the collocation equations, the
**integral phase condition** ``∫ <u, v'> dt = 0`` against the previous orbit ``v`` (it
selects the time shift closest to ``v``), and the **pseudo-arclength** equation in
``(u, T, p)`` (``u`` measured with the discrete L2 norm), so the branch turns at folds.

Newton uses the dense Jacobian of the whole residual from ``jax.jacfwd``, and the bordered
linear solves run in the same jitted XLA call (compiled once per continuation; a few hundred
to ~1000 unknowns for ``d <= 4``), all in float64. After each step the mesh is moved so that
``|u^(ncol)|^(1/(ncol+1))`` (the local error indicator of collocation) is equidistributed and
the orbit is re-interpolated: spikes get short intervals, the slow recovery long ones. With
``ntst = 40, ncol = 4`` this gives the Hodgkin-Huxley fold of cycles to ~1e-8 and the
trivial multiplier to ~1e-7.

Start: at the Hopf point ``(x_h, p_h)`` with critical eigenpair ``(iω, q)`` the trivial
family ``u ≡ x_h`` meets the periodic branch, whose tangent is
``Re q cos 2πt - Im q sin 2πt`` (with ``T = 2π/ω``, ``p`` fixed). The first orbit is
``x_h + amplitude (Re q cos 2πt - Im q sin 2πt)`` corrected along that tangent.

Floquet multipliers: the linearisation of the collocation equations with respect to the
node values is the collocation discretisation of the variational equation
``v' = T Df(u) v``. Eliminating the interior nodes of each interval gives a ``d x d``
transfer matrix from its first to its last node; their product is the monodromy matrix,
whose eigenvalues are the multipliers (the trivial one ≈ 1 to collocation accuracy). This
reuses the Jacobian that Newton needs anyway and has the accuracy of the orbit itself,
where integrating the variational equation with a fixed-step scheme would need very many
steps through the spikes of stiff neuron models.

Special points: a fold of limit cycles (``"fold_lc"``) is where the ``p`` component of
the branch tangent changes sign; it is refined by an Illinois (regula falsi) iteration on
that component along the branch and inserted into the branch. Period doubling (a real
multiplier crosses -1) and Neimark-Sacker (a complex pair crosses the unit circle) are
detected from the multipliers and located by linear interpolation of ``log |μ|``.

Limitations: the mesh is fixed in size (``ntst``); the multipliers come from a plain
product of transfer matrices, so they lose accuracy when that product has an extreme
dynamic range (e.g. canard orbits of FitzHugh-Nagumo); period doublings and
Neimark-Sacker points are located by interpolation only (no branch switching).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import neurodyn.units as u

from . import _models

__all__ = [
    "PeriodicBranch",
    "PeriodicSpecialPoint",
    "continue_periodic_orbits",
    "from_hopf",
]


@dataclass
class PeriodicSpecialPoint:
    """A special point on a branch of periodic orbits.

    Attributes
    ----------
    kind : str
        ``"fold_lc"`` (limit point of cycles), ``"period_doubling"`` or ``"neimark_sacker"``.
    param, period : float
        Parameter value and period there.
    index : int
        Row of the branch arrays (``params``, ``orbits``, ...) at (fold: exactly at) or just
        after the point.
    state : ndarray
        The orbit there, ``[m, d]`` (for ``"fold_lc"`` the refined orbit).
    data : dict
        ``"multipliers"`` and, for ``"neimark_sacker"``, ``"theta"`` (the angle of the pair).
    """

    kind: str
    param: float
    period: float
    index: int
    state: np.ndarray = field(repr=False)
    data: dict = field(default_factory=dict, repr=False)


@dataclass
class PeriodicBranch:
    """A branch of periodic orbits.

    Attributes
    ----------
    params, periods : ndarray ``[n]``
    orbits : ndarray ``[n, m, d]``
        States at the mesh times ``times * period`` (``m = ntst * ncol + 1``; the last
        sample closes the orbit).
    times : ndarray ``[n, m]``
        Mesh of each orbit on ``[0, 1]`` (fraction of the period; adapted per orbit).
    amplitudes : ndarray ``[n, d]``
        ``max - min`` of each variable over the orbit.
    multipliers : ndarray ``[n, d]`` complex
        Floquet multipliers, largest modulus first (the trivial one ≈ 1 is included).
    stable : ndarray ``[n]`` bool
        All multipliers but the one closest to 1 are inside the unit circle.
    special_points : list of :class:`PeriodicSpecialPoint`
    """

    params: np.ndarray
    periods: np.ndarray
    orbits: np.ndarray
    times: np.ndarray
    amplitudes: np.ndarray
    multipliers: np.ndarray
    stable: np.ndarray
    special_points: list = field(default_factory=list)
    param_name: str = "p"
    var_names: tuple = ()
    var_units: tuple = ()

    @property
    def folds(self) -> list:
        """The folds of limit cycles (``kind == "fold_lc"``)."""
        return [s for s in self.special_points if s.kind == "fold_lc"]

    def __len__(self) -> int:
        return len(self.params)

    def __repr__(self) -> str:
        if not len(self):
            return "PeriodicBranch(0 orbits)"
        kinds = ", ".join(
            f"{s.kind} at p={float(u.get_mantissa(s.param)):.6g}" for s in self.special_points
        )
        ps, ts = np.asarray(u.get_mantissa(self.params)), np.asarray(u.get_mantissa(self.periods))
        return (
            f"PeriodicBranch({len(self)} orbits, p in [{ps.min():.6g}, "
            f"{ps.max():.6g}], period in [{ts.min():.6g}, "
            f"{ts.max():.6g}], {int(self.stable.sum())} stable" + (f"; {kinds})" if kinds else ")")
        )


def from_hopf(f: Callable, point: Any, p_range: tuple[float, float], **kwargs) -> PeriodicBranch:
    """Continue periodic orbits from a Hopf special point of an equilibrium branch.

    ``point`` is anything with ``.state`` (``[d]``), ``.param`` and optionally
    ``.data["omega"]``; the remaining arguments are those of
    :func:`continue_periodic_orbits` (including ``param=`` with a ``dyn`` model).
    """
    if not (hasattr(point, "state") and hasattr(point, "param")):
        raise TypeError(
            f"from_hopf expected an object with .state and .param (a Hopf special point); "
            f"got {type(point).__name__}. Pass x_hopf and p_hopf to "
            "continue_periodic_orbits instead."
        )
    data = getattr(point, "data", None) or {}
    omega = kwargs.pop("omega", None)
    if omega is None and isinstance(data, dict):
        omega = data.get("omega")
    return continue_periodic_orbits(f, point.state, point.param, p_range, omega=omega, **kwargs)


def continue_periodic_orbits(
    f: Callable,
    x_hopf,
    p_hopf: float,
    p_range: tuple[float, float],
    *,
    param: str | None = None,
    param_unit=None,
    omega: float | None = None,
    amplitude: float = 1e-3,
    ntst: int = 40,
    ncol: int = 4,
    ds: float = 0.05,
    ds_min: float | None = None,
    ds_max: float | None = None,
    max_steps: int = 200,
    max_period: float = math.inf,
    newton_iter: int = 10,
    tol: float = 1e-9,
    equilibrium_tol: float = 1e-6,
    adapt_mesh: bool = True,
    args: tuple = (),
) -> PeriodicBranch:
    """Follow the periodic orbits born at the Hopf point ``(x_hopf, p_hopf)`` of ``f``.

    Parameters
    ----------
    f : callable
        ``f(x, p, *args) -> dx/dt`` with ``x`` of shape ``(d,)``, ``d >= 2``, scalar ``p``;
        written with ``jax.numpy``.
    x_hopf, p_hopf
        The Hopf point: an equilibrium whose Jacobian has a pair ``±iω``.
    p_range : (float, float)
        The continuation stops when ``p`` leaves this interval.
    omega : float, optional
        Hopf frequency; by default the imaginary part of the critical eigenvalue.
    amplitude : float
        Size of the first orbit (multiplies the unit critical eigenvector).
    ntst, ncol : int
        Mesh intervals and collocation points per interval (``ntst >= 2``, ``ncol >= 2``).
    ds, ds_min, ds_max : float
        Initial, smallest (default ``ds / 1000``) and largest (default ``10 ds``)
        pseudo-arclength steps in ``(u, T, p)`` (``u`` in the L2 norm over one period).
    max_steps : int
        Number of continuation steps.
    max_period : float
        Stop when the period exceeds this (orbits approaching a homoclinic).
    newton_iter, tol
        Newton iterations per step and tolerance on the update (relative to ``1 + |y|``).
    equilibrium_tol : float
        Largest accepted ``max |f(x_hopf, p_hopf)| / (1 + max |x_hopf|)``.
    adapt_mesh : bool
        After each step, move the mesh to equidistribute the collocation error indicator
        ``|u^(ncol)|^(1/(ncol+1))`` (needed for spiking orbits with fast upstrokes).
    args : tuple
        Extra arguments of ``f``.
    param, param_unit
        With a :mod:`neurodyn.dyn` model in place of ``f`` (see
        :func:`~neurodyn.analysis.model_field`): the parameter and its unit; ``p_hopf``
        and ``p_range`` may be Quantities, and then ``params`` (and the special points'
        ``param``) come back as Quantities and ``periods`` in ms. Times are in ms.

    Returns
    -------
    PeriodicBranch

    Examples
    --------
    Hopf normal form ``z' = (p + i) z - |z|^2 z``: orbits of radius ``sqrt(p)``, period 2π.

    >>> import jax.numpy as jnp
    >>> def f(x, p):
    ...     r2 = x[0] ** 2 + x[1] ** 2
    ...     return jnp.array([p * x[0] - x[1] - r2 * x[0], x[0] + p * x[1] - r2 * x[1]])
    >>> br = continue_periodic_orbits(f, [0.0, 0.0], 0.0, (-1.0, 0.25), ntst=8, ds=0.2)
    >>> round(float(br.periods[-1]), 6), bool(br.stable[-1])
    (6.283185, True)
    """
    model = _models.as_field(f, param, param_unit, "continue_periodic_orbits")
    if model is not None:
        _models.require_param(model, "continue_periodic_orbits")
        quantity = _models.has_quantity(p_hopf, p_range)
        branch = continue_periodic_orbits(
            model,
            model.state(x_hopf),
            model.param_value(p_hopf, "p_hopf"),
            model.param_range(p_range),
            omega=omega,
            amplitude=amplitude,
            ntst=ntst,
            ncol=ncol,
            ds=ds,
            ds_min=ds_min,
            ds_max=ds_max,
            max_steps=max_steps,
            max_period=max_period,
            newton_iter=newton_iter,
            tol=tol,
            equilibrium_tol=equilibrium_tol,
            adapt_mesh=adapt_mesh,
            args=args,
        )
        branch.param_name = model.params[0]
        branch.var_names, branch.var_units = model.var_names, model.var_units
        if quantity:
            branch.params = model.quantity(branch.params)
            branch.periods = u.Quantity(np.asarray(branch.periods), u.ms)
            branch.special_points = [
                replace(sp, param=model.quantity(sp.param), period=sp.period * u.ms)
                for sp in branch.special_points
            ]
        return branch
    if int(ntst) < 2 or int(ncol) < 2:
        raise ValueError(
            f"continue_periodic_orbits expected ntst >= 2 and ncol >= 2; got ntst={ntst}, "
            f"ncol={ncol}. Typical values are ntst=40, ncol=4."
        )
    if not (len(p_range) == 2 and p_range[0] < p_range[1]):
        raise ValueError(f"p_range must be (low, high) with low < high; got {p_range!r}.")
    if not p_range[0] <= float(p_hopf) <= p_range[1]:
        raise ValueError(
            f"p_hopf={float(p_hopf)} is outside p_range={tuple(p_range)}; widen p_range so "
            "that it contains the Hopf point."
        )
    with jax.enable_x64(True):
        return _Continuer(f, args, int(ntst), int(ncol), float(tol), int(newton_iter)).run(
            x_hopf,
            float(p_hopf),
            tuple(map(float, p_range)),
            omega,
            float(amplitude),
            float(ds),
            float(ds_min) if ds_min is not None else ds / 1000.0,
            float(ds_max) if ds_max is not None else 10.0 * ds,
            int(max_steps),
            float(max_period),
            float(equilibrium_tol),
            bool(adapt_mesh),
        )


def _lagrange_matrices(ncol: int):
    """Values and derivatives of the Lagrange basis on ``ncol + 1`` equally spaced nodes of
    ``[0, 1]`` at the ``ncol`` Gauss-Legendre points, and the Gauss weights."""
    z, w = np.polynomial.legendre.leggauss(ncol)
    z, w = (z + 1.0) / 2.0, w / 2.0
    nodes = np.linspace(0.0, 1.0, ncol + 1)
    vals = np.empty((ncol, ncol + 1))
    ders = np.empty((ncol, ncol + 1))
    for i in range(ncol + 1):
        others = np.delete(nodes, i)
        poly = np.poly1d(others, r=True) / np.prod(nodes[i] - others)
        vals[:, i] = poly(z)
        ders[:, i] = poly.deriv()(z)
    return vals, ders, w


class _Continuer:
    def __init__(self, f, args, ntst, ncol, tol, newton_iter):
        self.f, self.args = f, tuple(args)
        self.ntst, self.ncol, self.tol, self.newton_iter = ntst, ncol, tol, newton_iter
        self.N = ntst * ncol
        vals, ders, w = _lagrange_matrices(ncol)
        self.vals, self.ders, self.gw = jnp.asarray(vals), jnp.asarray(ders), jnp.asarray(w)
        nodes = np.linspace(0.0, 1.0, ncol + 1)
        self.basis = []  # Lagrange polynomials on the local nodes
        for i in range(ncol + 1):
            others = np.delete(nodes, i)
            self.basis.append(np.poly1d(others, r=True) / np.prod(nodes[i] - others))
        # ncol-th derivative (in the local variable) of each basis polynomial: a constant
        self.top = np.array([b.deriv(ncol)(0.0) if ncol > 0 else 0.0 for b in self.basis])
        self.h = np.full(ntst, 1.0 / ntst)  # current mesh (interval widths, sum 1)
        idx = np.arange(ntst)[:, None] * ncol + np.arange(ncol + 1)[None, :]
        self.idx = idx % self.N  # [ntst, ncol+1] node indices of each interval

    # ---- residual -------------------------------------------------------------------
    def _setup(self, d):
        self.d = d
        ntst, m = self.ntst, self.ncol
        N, vals, ders, gw, idx = self.N, self.vals, self.ders, self.gw, jnp.asarray(self.idx)
        f, args = self.f, self.args
        md = m * d

        def at_gauss(U, h):
            blk = U[idx]  # [ntst, ncol+1, d]
            ug = jnp.einsum("ki,jid->jkd", vals, blk)
            dug = jnp.einsum("ki,jid->jkd", ders, blk) / h[:, None, None]
            return ug, dug

        def local(z, tp, hj):
            """Collocation residual of one interval, ``z``: its ``ncol+1`` node values."""
            ug, dug = vals @ z, ders @ z / hj
            fu = jax.vmap(lambda u: jnp.atleast_1d(f(u, tp[1], *args)))(ug)
            return (dug - tp[0] * fu).reshape(-1)

        def phase(U, ref_du, h):
            ug = at_gauss(U, h)[0]
            return jnp.sum(h[:, None] * gw[None, :] * jnp.sum(ug * ref_du, -1))

        local_jac = jax.vmap(jax.jacfwd(local, argnums=(0, 1)), in_axes=(0, None, 0))
        rows = np.arange(ntst)[:, None] * d + np.arange(d)  # mesh point j -> reduced rows
        rows1 = np.roll(rows, -1, axis=0)  # mesh point j + 1
        n_red = ntst * d + 2

        def bordered(y, ref_du, h, border, c):
            """Solve ``[J; border] x = [-g, 0; -c, 1]`` (``J``: Jacobian of collocation and
            phase equations): the Newton step of the system closed by ``border . y = c`` and
            the tangent normalised by ``border . t = 1``; also the Floquet transfer matrices.

            The interior nodes of each interval are condensed out (QR of their columns), so
            the dense solve has ``ntst d + 2`` unknowns instead of ``ntst ncol d + 2``."""
            U = y[: N * d].reshape(N, d)
            tp = y[N * d :]
            Z = U[idx]  # [ntst, m+1, d]
            r = jax.vmap(local, in_axes=(0, None, 0))(Z, tp, h)  # [ntst, m d]
            Jz, Jtp = local_jac(Z, tp, h)  # [ntst, m d, m+1, d], [ntst, m d, 2]
            Jz = Jz.reshape(ntst, md, (m + 1) * d)
            A0, AI, A1 = Jz[:, :, :d], Jz[:, :, d:md], Jz[:, :, md:]
            ph, gph = jax.value_and_grad(phase)(U, ref_du, h)  # gph: [N, d]
            g = jnp.concatenate([r.reshape(-1), ph[None]])
            # right-hand sides: column 0 Newton, column 1 tangent
            R = jnp.stack([-r, jnp.zeros_like(r)], -1)  # [ntst, m d, 2]
            r_ph = jnp.array([-ph, 0.0])
            r_b = jnp.array([-c, 1.0])
            # condense: Q^T AI = [Rt; 0]
            Q, Rt = jnp.linalg.qr(AI, mode="complete")  # Q [ntst, md, md], Rt [ntst, md, (m-1)d]
            Q1t, Q2t = jnp.swapaxes(Q[:, :, : md - d], 1, 2), jnp.swapaxes(Q[:, :, md - d :], 1, 2)
            Rt = Rt[:, : md - d]
            rhs_top = jnp.concatenate([Q1t @ A0, Q1t @ A1, Q1t @ Jtp, Q1t @ R], -1)
            E = jax.scipy.linalg.solve_triangular(Rt, rhs_top, lower=False)
            E0, E1, Etp, S = E[..., :d], E[..., d : 2 * d], E[..., 2 * d : 2 * d + 2], E[..., -2:]
            # interior_j = S_j - E0_j v_j - E1_j v_{j+1} - Etp_j dtp
            B0, B1, Btp, Sb = Q2t @ A0, Q2t @ A1, Q2t @ Jtp, Q2t @ R
            M = jnp.zeros((n_red, n_red))
            M = M.at[rows[:, :, None], rows[:, None, :]].add(B0)
            M = M.at[rows[:, :, None], rows1[:, None, :]].add(B1)
            M = M.at[rows.reshape(-1), -2:].add(Btp.reshape(-1, 2))
            rhs = jnp.concatenate([Sb.reshape(-1, 2), jnp.zeros((2, 2))])

            def dense_row(coef_nodes, coef_tp, rr):
                """A row over all nodes (+T, p) with the interiors substituted."""
                cn = coef_nodes.reshape(N, d)[idx]  # [ntst, m+1, d]
                cmesh = cn[:, 0]  # each mesh point once (the last node is the next first)
                ci = cn[:, 1:m].reshape(ntst, md - d)
                row = jnp.zeros(n_red)
                row = row.at[rows].add(cmesh - jnp.einsum("ja,jab->jb", ci, E0))
                row = row.at[rows1].add(-jnp.einsum("ja,jab->jb", ci, E1))
                row = row.at[-2:].add(coef_tp - jnp.einsum("ja,jab->b", ci, Etp))
                return row, rr - jnp.einsum("ja,jak->k", ci, S)

            row_ph, rhs_ph = dense_row(gph.reshape(-1), jnp.zeros(2), r_ph)
            row_b, rhs_b = dense_row(border[: N * d], border[N * d :], r_b)
            M = M.at[-2].set(row_ph).at[-1].set(row_b)
            rhs = rhs.at[-2].set(rhs_ph).at[-1].set(rhs_b)
            xr = jnp.linalg.solve(M, rhs)  # [n_red, 2]
            v = xr[: ntst * d].reshape(ntst, d, 2)
            dtp = xr[-2:]
            interior = (
                S
                - jnp.einsum("jab,jbk->jak", E0, v)
                - jnp.einsum("jab,jbk->jak", E1, jnp.roll(v, -1, axis=0))
                - jnp.einsum("jab,bk->jak", Etp, dtp)
            ).reshape(ntst, m - 1, d, 2)
            x = jnp.concatenate([v[:, None], interior], 1).reshape(N * d, 2)
            x = jnp.concatenate([x, dtp])
            transfer = -jnp.linalg.solve(B1, B0)  # v_{j+1} = X_j v_j at fixed (T, p)
            return x, jnp.max(jnp.abs(g)), transfer

        # one compiled function does the Jacobian, the linear algebra (in XLA: no contention
        # between BLAS threads on busy machines) and the Floquet transfer matrices
        self._bordered = jax.jit(bordered)
        self._dU_gauss = jax.jit(lambda U, h: at_gauss(U, h)[1])
        n = N * d + 2
        self.wt = np.ones(n)
        self.wt[: N * d] = 1.0 / N  # discrete L2 norm of the orbit part

    def _split(self, y):
        N, d = self.N, self.d
        return y[: N * d].reshape(N, d), y[N * d], y[N * d + 1]

    def _ref(self, y):
        return self._dU_gauss(jnp.asarray(self._split(y)[0]), jnp.asarray(self.h))

    def _newton(self, y_pred, t, y_prev, step, ref):
        y = np.array(y_pred)
        wt_t, h = self.wt * t, jnp.asarray(self.h)
        self.iters = 0
        for _ in range(self.newton_iter):
            self.iters += 1
            c = wt_t @ (y - y_prev) - step
            x, gmax, _ = self._bordered(jnp.asarray(y), ref, h, jnp.asarray(wt_t), np.float64(c))
            dy = np.asarray(x)[:, 0]
            if not np.all(np.isfinite(dy)):
                return y, False
            y = y + dy
            if np.max(np.abs(dy)) < self.tol * (1.0 + np.max(np.abs(y))):
                return y, bool(float(gmax) < 1e-6 * (1.0 + np.max(np.abs(y))))
        return y, False

    def _tangent(self, y, t_prev, ref):
        """Tangent at ``y`` oriented like ``t_prev``, and the Floquet transfer matrices."""
        wt_t = jnp.asarray(self.wt * t_prev)
        x, _, X = self._bordered(jnp.asarray(y), ref, jnp.asarray(self.h), wt_t, np.float64(0))
        t = np.asarray(x)[:, 1]
        return t / np.sqrt(np.sum(self.wt * t * t)), X

    def _multipliers(self, X):
        """Floquet multipliers: eigenvalues of the product of the transfer matrices."""
        M = np.eye(self.d)
        for Xj in np.asarray(X):
            M = Xj @ M
        mu = np.linalg.eigvals(M)
        return mu[np.argsort(-np.abs(mu), kind="stable")]

    # ---- mesh -----------------------------------------------------------------------
    def _times(self, h=None):
        h = self.h if h is None else h
        left = np.concatenate([[0.0], np.cumsum(h)[:-1]])
        t = (left[:, None] + h[:, None] * np.arange(self.ncol)[None, :] / self.ncol).reshape(-1)
        return np.concatenate([t, [1.0]])

    def _interp(self, U, tq):
        """Evaluate the piecewise polynomial with node values ``U`` ``[N, d]`` (current
        mesh) at times ``tq`` in ``[0, 1]``."""
        edges = np.concatenate([[0.0], np.cumsum(self.h)])
        j = np.clip(np.searchsorted(edges, tq, side="right") - 1, 0, self.ntst - 1)
        z = (tq - edges[j]) / self.h[j]
        B = np.stack([b(z) for b in self.basis], axis=1)  # [q, ncol+1]
        return np.einsum("qi,qid->qd", B, U[self.idx[j]])

    def _adapt(self, y, t):
        """Move the mesh so that ``|u^(ncol)|^(1/(ncol+1))`` is equidistributed (the error
        indicator of collocation), and interpolate ``y`` and ``t`` onto it."""
        N, d, ncol = self.N, self.d, self.ncol
        U = self._split(y)[0]
        scale = np.ptp(U, axis=0)
        scale = np.where(scale > 0, scale, 1.0)
        blk = U[self.idx] / scale  # [ntst, ncol+1, d]
        D = np.einsum("i,jid->jd", self.top, blk) / self.h[:, None] ** ncol
        D = np.linalg.norm(D, axis=1)
        D = 0.5 * (D + np.roll(D, -1))  # smooth across neighbours (periodic)
        rho = D ** (1.0 / (ncol + 1))
        rho = rho + 0.05 * np.sum(rho * self.h) + 1e-300  # keep a little uniform density
        cum = np.concatenate([[0.0], np.cumsum(rho * self.h)])
        edges = np.concatenate([[0.0], np.cumsum(self.h)])
        new_edges = np.interp(np.linspace(0.0, cum[-1], self.ntst + 1), cum, edges)
        new_edges[0], new_edges[-1] = 0.0, 1.0
        h_new = np.diff(new_edges)
        tq = self._times(h_new)[:-1]
        Ut = self._split(t)[0]
        y2 = np.concatenate([self._interp(U, tq).reshape(-1), y[N * d :]])
        t2 = np.concatenate([self._interp(Ut, tq).reshape(-1), t[N * d :]])
        self.h = h_new
        return y2, t2 / np.sqrt(np.sum(self.wt * t2 * t2))

    def _hopf_start(self, x, p, omega, eq_tol):
        f, args = self.f, self.args
        x = np.atleast_1d(np.asarray(x, dtype=np.float64))
        if x.ndim != 1 or x.shape[0] < 2:
            raise ValueError(
                f"x_hopf must be a state vector of shape (d,) with d >= 2 (a Hopf bifurcation "
                f"needs two dimensions); got shape {x.shape}."
            )

        @jax.jit
        def F(z):
            return jnp.atleast_1d(f(z, p, *args))

        fx = np.asarray(F(jnp.asarray(x)))
        if fx.shape != x.shape:
            raise ValueError(
                f"f(x, p) must return an array of the same shape as x, {x.shape}; got {fx.shape}."
            )
        res = float(np.max(np.abs(fx)))
        if not np.isfinite(res) or res > eq_tol * (1.0 + np.max(np.abs(x))):
            raise ValueError(
                f"(x_hopf, p_hopf) is not an equilibrium: expected f(x_hopf, p_hopf) ≈ 0, got "
                f"max|f| = {res:.3g} (> equilibrium_tol = {eq_tol:g}). Pass a Hopf point found "
                "by equilibrium continuation (or refine x at p_hopf by Newton's method)."
            )
        jacx = jax.jit(jax.jacfwd(F))
        for _ in range(5):  # polish the equilibrium at fixed p
            Jx = np.asarray(jacx(jnp.asarray(x)))
            x = x - np.linalg.solve(Jx, np.asarray(F(jnp.asarray(x))))
        Jx = np.asarray(jacx(jnp.asarray(x)))
        ev, vec = np.linalg.eig(Jx)
        scale = max(1.0, float(np.max(np.abs(ev))))
        cplx = np.flatnonzero(np.imag(ev) > 1e-8 * scale)
        if cplx.size == 0:
            raise ValueError(
                "(x_hopf, p_hopf) is not a Hopf point: expected a complex-conjugate pair of "
                f"Jacobian eigenvalues ±iω, got eigenvalues {np.round(ev, 6).tolist()}. Pass a "
                "point where a complex pair crosses the imaginary axis (e.g. a 'hopf' special "
                "point of an equilibrium branch)."
            )
        if omega is None:
            k = cplx[np.argmin(np.abs(np.real(ev[cplx])))]
        else:
            k = cplx[np.argmin(np.abs(ev[cplx] - 1j * abs(float(omega))))]
        lam = ev[k]
        if abs(lam.real) > 0.1 * abs(lam.imag):
            raise ValueError(
                "(x_hopf, p_hopf) is not a Hopf point: expected the critical eigenvalue pair on "
                f"the imaginary axis, got {lam:.4g} (|Re| > 0.1 |Im|). Refine the Hopf point "
                "(e.g. by equilibrium continuation) before continuing periodic orbits."
            )
        om = abs(float(omega)) if omega is not None else float(lam.imag)
        q = vec[:, k]
        q = q / np.linalg.norm(q)
        # rotate q so that Re q and Im q are orthogonal (a canonical phase)
        a, b = q.real, q.imag
        phi = 0.5 * np.arctan2(-2 * a @ b, a @ a - b @ b)
        q = q * np.exp(1j * phi)
        return x, om, q

    def run(
        self,
        x0,
        p0,
        p_range,
        omega,
        amplitude,
        ds,
        ds_min,
        ds_max,
        max_steps,
        max_period,
        eq_tol,
        adapt,
    ):
        x, om, q = self._hopf_start(x0, p0, omega, eq_tol)
        d = x.shape[0]
        self._setup(d)
        N = self.N
        s = np.arange(N) / N  # node times (uniform mesh)
        phi = np.outer(np.cos(2 * np.pi * s), q.real) - np.outer(np.sin(2 * np.pi * s), q.imag)
        y0 = np.concatenate([np.tile(x, N), [2 * np.pi / om, p0]])
        t0 = np.concatenate([phi.reshape(-1), [0.0, 0.0]])
        nrm = np.sqrt(np.sum(self.wt * t0 * t0))
        t0 /= nrm
        y, ok = self._newton(y0 + amplitude * nrm * t0, t0, y0, amplitude * nrm, self._ref(y0 + t0))
        if not ok:
            raise RuntimeError(
                "The first periodic orbit near the Hopf point did not converge; expected a "
                "non-degenerate Hopf point. Try a smaller `amplitude`, a larger `ntst`, or "
                "refine the Hopf point."
            )
        t, J = self._tangent(y, t0, self._ref(y))
        recs = [self._record(y, t, J, amplitude * nrm, adapt=False)]
        step = ds
        stop = None
        while len(recs) <= max_steps:
            y_prev, t_prev = recs[-1]["y"], recs[-1]["t"]
            self.h = recs[-1]["h"]
            y_new, ok = self._newton(
                y_prev + step * t_prev, t_prev, y_prev, step, self._ref(y_prev)
            )
            if ok:
                t_new, J_new = self._tangent(y_new, t_prev, self._ref(y_new))
                # no jump to another branch: small turn of the tangent, corrector near predictor
                dist = np.sqrt(np.sum(self.wt * (y_new - y_prev - step * t_prev) ** 2))
                ok = float(np.sum(self.wt * t_new * t_prev)) > 0.9 and dist < 0.5 * step
            if not ok:
                step *= 0.5
                if step < ds_min:
                    stop = "step"
                    break
                continue
            iters = self.iters
            recs.append(self._record(y_new, t_new, J_new, step, adapt))
            if iters <= 3:
                step = min(step * 1.3, ds_max)
            elif iters >= 6:
                step = max(step * 0.7, ds_min)
            _, T, p = self._split(y_new)
            if not p_range[0] <= p <= p_range[1] or T > max_period:
                break
        if stop == "step":
            warnings.warn(
                f"periodic-orbit continuation stopped after {len(recs)} points at "
                f"p = {self._split(recs[-1]['y'])[2]:.6g}: the step fell below "
                f"ds_min = {ds_min:g}",
                RuntimeWarning,
                stacklevel=3,
            )
        return self._assemble(recs)

    def _record(self, y, t, J, step, adapt):
        """Outputs at a converged point (on its mesh), then the point and tangent moved to
        the adapted mesh for the next step."""
        U = self._split(y)[0]
        rec = {
            "orbit": np.concatenate([U, U[:1]]),
            "times": self._times(),
            "T": float(y[-2]),
            "p": float(y[-1]),
            "mu": self._multipliers(J),
            "step": step,
            "tp": float(t[-1]),
        }
        if adapt:
            y, t = self._adapt(y, t)
        rec.update(y=y, t=t, h=self.h.copy())
        return rec

    def _refine_fold(self, ra, rb, it: int = 30):
        """Illinois iteration on the p component of the tangent along the branch from
        record ``ra`` (step 0) to ``rb`` where the component has the other sign."""
        ya, ta = ra["y"], ra["t"]
        self.h = ra["h"]
        ref = self._ref(ya)
        s0, g0, s1, g1 = 0.0, ta[-1], rb["step"], rb["tp"]
        best = None
        side = 0
        for _ in range(it):
            sm = s1 - g1 * (s1 - s0) / (g1 - g0)
            ym, ok = self._newton(ya + sm * ta, ta, ya, sm, ref)
            if not ok:
                break
            tm, Jm = self._tangent(ym, ta, self._ref(ym))
            gm = tm[-1]
            best = (ym, tm, Jm, sm)
            if abs(gm) < 1e-10 or abs(s1 - s0) < 1e-12 * (1 + abs(rb["step"])):
                break
            if gm * g1 < 0:
                s0, g0 = s1, g1
                side = 0
            else:
                side += 1
                if side > 1:
                    g0 *= 0.5
            s1, g1 = sm, gm
        if best is None:
            return None
        return self._record(best[0], best[1], best[2], best[3], adapt=False)

    def _assemble(self, recs):
        out, fold_at = [recs[0]], []
        for k in range(1, len(recs)):
            if recs[k - 1]["tp"] * recs[k]["tp"] < 0:
                r = self._refine_fold(recs[k - 1], recs[k])
                if r is not None:
                    out.append(r)
                    fold_at.append(len(out) - 1)
            out.append(recs[k])
        orbits = np.array([r["orbit"] for r in out])
        periods = np.array([r["T"] for r in out])
        params = np.array([r["p"] for r in out])
        mus = np.array([r["mu"] for r in out])
        triv = np.argmin(np.abs(mus - 1.0), axis=1)
        nontriv = [np.delete(m, i) for m, i in zip(mus, triv)]
        stable = np.array([bool(np.all(np.abs(m) < 1.0)) for m in nontriv])
        specials = [
            PeriodicSpecialPoint(
                "fold_lc",
                float(params[i]),
                float(periods[i]),
                int(i),
                orbits[i],
                {"multipliers": mus[i]},
            )
            for i in fold_at
        ]
        specials += self._pd_ns(params, periods, orbits, mus, nontriv)
        specials.sort(key=lambda s: s.index)
        return PeriodicBranch(
            params=params,
            periods=periods,
            orbits=orbits,
            times=np.array([r["times"] for r in out]),
            amplitudes=orbits.max(axis=1) - orbits.min(axis=1),
            multipliers=mus,
            stable=stable,
            special_points=specials,
        )

    @staticmethod
    def _pd_ns(params, periods, orbits, mus, nontriv):
        """Period doubling (a real multiplier crosses -1) and Neimark-Sacker (a complex pair
        with angle > 0.05 rad crosses the unit circle) between consecutive points, located
        by linear interpolation of ``log |μ|``."""
        out = []

        def crossing(m, kind):
            real = np.abs(m.imag) <= 1e-8 * (1.0 + np.abs(m))
            if kind == "period_doubling":
                m = m[real & (m.real < 0)]
            else:
                m = m[~real & (np.abs(np.angle(m)) > 0.05)]
            if m.size == 0:
                return None, None
            c = m[np.argmin(np.abs(np.abs(m) - 1.0))]
            return float(np.log(np.abs(c))), c

        for k in range(1, len(params)):
            for kind in ("period_doubling", "neimark_sacker"):
                ga, _ = crossing(nontriv[k - 1], kind)
                gb, cb = crossing(nontriv[k], kind)
                if ga is None or gb is None or ga * gb >= 0 or max(abs(ga), abs(gb)) > 0.7:
                    continue
                w = ga / (ga - gb)
                data = {"multipliers": mus[k]}
                if kind == "neimark_sacker":
                    data["theta"] = float(np.abs(np.angle(cb)))
                out.append(
                    PeriodicSpecialPoint(
                        kind,
                        float(params[k - 1] + w * (params[k] - params[k - 1])),
                        float(periods[k - 1] + w * (periods[k] - periods[k - 1])),
                        k,
                        orbits[k],
                        data,
                    )
                )
        return out
