"""Offline (closed-form) and online (FORCE) training of linear readouts."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from neurodyn.state import Memory, Module

__all__ = ["ridge", "RidgeAccumulator", "FORCE", "elastic_net", "lms_step", "nvar_features"]


def ridge(X, Y, alpha: float = 1e-6, bias: bool = True):
    """Ridge regression ``W = (XᵀX + alpha I)⁻¹ XᵀY`` (closed form).

    ``X`` is ``[samples, features]`` (e.g. reservoir states stacked over time),
    ``Y`` is ``[samples, outputs]``. With ``bias`` a constant feature is appended
    (not penalised) and ``(W, b)`` is returned. Solved as the least-squares problem
    ``[X; sqrt(alpha) I] W = [Y; 0]`` (better conditioned than the normal equations,
    which :class:`RidgeAccumulator` uses); for large, closed-loop-sensitive readouts
    prefer float64 (``jax.config.update("jax_enable_x64", True)``).
    """
    X = jnp.reshape(X, (-1, X.shape[-1]))
    Y = jnp.reshape(Y, (X.shape[0], -1))
    if bias:
        X = jnp.concatenate([X, jnp.ones((X.shape[0], 1), X.dtype)], axis=1)
    n = X.shape[1]
    reg = jnp.sqrt(alpha) * jnp.eye(n, dtype=X.dtype)
    if bias:
        reg = reg.at[-1, -1].set(0.0)
    A = jnp.concatenate([X, reg], axis=0)
    B = jnp.concatenate([Y, jnp.zeros((n, Y.shape[1]), Y.dtype)], axis=0)
    W = jnp.linalg.lstsq(A, B)[0]
    return (W[:-1], W[-1]) if bias else W


class RidgeAccumulator:
    """Streaming ridge regression: accumulate ``XᵀX`` and ``XᵀY`` batch by batch (so the
    whole state history never needs to be in memory), then :meth:`RidgeAccumulator.solve`."""

    def __init__(self, n_features: int, n_outputs: int, bias: bool = True, dtype=None):
        dtype = dtype or jnp.result_type(float)
        n = n_features + (1 if bias else 0)
        self.bias = bias
        self.xtx = jnp.zeros((n, n), dtype)
        self.xty = jnp.zeros((n, n_outputs), dtype)
        self.count = 0

    def _aug(self, X):
        X = jnp.reshape(X, (-1, X.shape[-1]))
        return jnp.concatenate([X, jnp.ones((X.shape[0], 1), X.dtype)], axis=1) if self.bias else X

    def update(self, X, Y) -> None:
        """Add a batch: ``X`` ``[..., n_features]`` (leading axes flattened into rows)
        and ``Y`` with as many rows (``n_outputs`` columns)."""
        Xa = self._aug(X)
        Y = jnp.reshape(Y, (Xa.shape[0], -1))
        self.xtx = self.xtx + Xa.T @ Xa
        self.xty = self.xty + Xa.T @ Y
        self.count += Xa.shape[0]

    def solve(self, alpha: float = 1e-6):
        """Solve ``(XᵀX + alpha I) W = XᵀY`` from what was accumulated (the bias is not
        penalised).

        Returns:
            ``(W, b)`` (``[n_features, n_outputs]`` and ``[n_outputs]``) with ``bias``;
            else ``W``.
        """
        n = self.xtx.shape[0]
        reg = alpha * jnp.eye(n, dtype=self.xtx.dtype)
        if self.bias:
            reg = reg.at[-1, -1].set(0.0)
        W = jnp.linalg.solve(self.xtx + reg, self.xty)
        return (W[:-1], W[-1]) if self.bias else W


class FORCE(Module):
    """FORCE learning (Sussillo & Abbott 2009) of a linear readout ``z = w · r`` by
    recursive least squares, online::

        e = z - target ;  P <- P - (P r)(P r)ᵀ / (1 + rᵀ P r) ;  w <- w - e (P r)

    Call :meth:`step` with the current rates ``r`` and target each time step (inside a
    ``for_loop`` of the network's run); ``w`` and ``P`` are States.
    """

    def __init__(self, n_inputs: int, n_outputs: int = 1, alpha: float = 1.0):
        self.w = Memory(jnp.zeros((n_inputs, n_outputs)))
        self.P = Memory(jnp.eye(n_inputs) / alpha)

    def readout(self, r):
        """The output ``z = r @ w`` (``[n_outputs]``) for rates ``r``, without learning."""
        return r @ self.w.value

    def step(self, r, target, learn=True):
        """Update on one sample (``learn`` may be a traced bool); returns the output
        before the update."""
        z = r @ self.w.value
        P = self.P.value
        Pr = P @ r
        k = Pr / (1.0 + r @ Pr)
        e = z - target
        new_P = P - jnp.outer(k, Pr)
        new_w = self.w.value - jnp.outer(k, e)
        self.P.value = jnp.where(learn, new_P, P)
        self.w.value = jnp.where(learn, new_w, self.w.value)
        return z


def elastic_net(
    X, Y, alpha: float = 1e-3, l1_ratio: float = 1.0, n_iter: int = 2000, bias: bool = True
):
    """Lasso (``l1_ratio=1``) or elastic-net regression by proximal gradient (ISTA)::

        min_W  ||X W + b - Y||² / (2 n) + alpha (l1_ratio |W|_1 + (1 - l1_ratio) ||W||² / 2)

    Returns ``(W, b)`` (or ``W`` without bias).
    """
    X = jnp.reshape(X, (-1, X.shape[-1]))
    Y = jnp.reshape(Y, (X.shape[0], -1))
    n = X.shape[0]
    x_mean = X.mean(axis=0) if bias else 0.0
    y_mean = Y.mean(axis=0) if bias else 0.0
    Xc, Yc = X - x_mean, Y - y_mean
    lipschitz = jnp.linalg.norm(Xc, ord=2) ** 2 / n + alpha * (1 - l1_ratio)
    step = 1.0 / lipschitz
    l1 = alpha * l1_ratio

    def body(W, _):
        g = Xc.T @ (Xc @ W - Yc) / n + alpha * (1 - l1_ratio) * W
        Z = W - step * g
        return jnp.sign(Z) * jnp.maximum(jnp.abs(Z) - step * l1, 0.0), None

    W = jax.lax.scan(body, jnp.zeros((X.shape[1], Y.shape[1]), X.dtype), None, length=n_iter)[0]
    if not bias:
        return W
    return W, y_mean - x_mean @ W


def lms_step(w, x, target, lr: float):
    """One least-mean-squares update: ``w <- w - lr (x·w - target) x``; returns (w, output)."""
    z = x @ w
    return w - lr * jnp.outer(x, z - target), z


def nvar_features(u, k: int = 2, skip: int = 1, quadratic: bool = True):
    """Next-generation reservoir features (Gauthier et al. 2021): a constant, ``k``
    time-delayed copies of the input ``u`` (``[time, dims]``, spaced ``skip`` steps)
    and, with ``quadratic``, all their unique pairwise products. Rows start at the
    first time with a full history."""
    u = jnp.reshape(u, (u.shape[0], -1))
    T = u.shape[0]
    start = (k - 1) * skip
    lin = jnp.concatenate([u[start - j * skip : T - j * skip] for j in range(k)], axis=1)
    feats = [jnp.ones((lin.shape[0], 1), lin.dtype), lin]
    if quadratic:
        i, j = jnp.triu_indices(lin.shape[1])
        feats.append(lin[:, i] * lin[:, j])
    return jnp.concatenate(feats, axis=1)
