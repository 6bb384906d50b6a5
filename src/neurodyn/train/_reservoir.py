"""Reservoir computing models: echo-state network and next-generation reservoir (NVAR)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from neurodyn.state import Hidden, Module, for_loop, jit, scan

from ._offline import nvar_features, ridge

__all__ = ["ESN", "NVAR"]


class ESN(Module):
    """Echo-state network (Jaeger 2001): ``x <- (1 - leak) x + leak tanh(W x + W_in u + b)``
    with a sparse random ``W`` scaled to spectral radius ``rho``, and a ridge readout.

    ``fit(u, y)`` drives the reservoir with inputs ``u`` ``[time, n_in]`` (teacher
    forcing), discards ``washout`` steps and solves the readout; ``predict(u)`` maps new
    inputs; ``generate(n, u0)`` runs closed loop (the output fed back as the next input,
    for one-step-ahead predictors of a signal).
    """

    def __init__(
        self,
        n: int,
        n_in: int = 1,
        rho: float = 0.9,
        density: float = 0.1,
        input_scale: float = 1.0,
        bias_scale: float = 0.2,
        leak: float = 1.0,
        seed: int = 0,
    ):
        rng = np.random.default_rng(seed)
        W = rng.normal(size=(n, n)) * (rng.random((n, n)) < density)
        radius = np.max(np.abs(np.linalg.eigvals(W)))
        if radius == 0:
            raise ValueError("ESN: the random reservoir is empty; increase density.")
        f = jnp.result_type(float)
        self.W = jnp.asarray(W * rho / radius, f)
        self.W_in = jnp.asarray(input_scale * rng.uniform(-1, 1, size=(n_in, n)), f)
        self.b = jnp.asarray(bias_scale * rng.uniform(-1, 1, size=n), f)
        self.leak = leak
        self.x = Hidden(jnp.zeros(n, f))
        self.W_out = None
        self.b_out = None

    def step(self, u):
        """Advance the reservoir state ``x`` by one step with input ``u`` (``[n_in]`` or a
        scalar) and return the new state, shape ``[n]``."""
        u = jnp.atleast_1d(u)
        pre = self.x.value @ self.W.T + u @ self.W_in + self.b
        self.x.value = (1 - self.leak) * self.x.value + self.leak * jnp.tanh(pre)
        return self.x.value

    def run(self, u):
        """Reservoir states for the input sequence ``u`` ``[time, n_in]``."""
        return jit(lambda u: for_loop(self.step, u))(jnp.reshape(u, (u.shape[0], -1)))

    def fit(self, u, y, washout: int = 100, alpha: float = 1e-8):
        """Train the readout: drive the reservoir (from its current state) with ``u``
        ``[time, n_in]``, drop the first ``washout`` states and solve the ridge
        regression (penalty ``alpha``, unpenalised bias) onto ``y`` ``[time, n_out]``.

        Returns:
            The ESN itself (``W_out`` ``[n, n_out]`` and ``b_out`` ``[n_out]`` set).
        """
        X = self.run(u)
        Y = jnp.reshape(y, (y.shape[0], -1))
        if X.shape[0] != Y.shape[0]:
            raise ValueError(f"ESN.fit: {X.shape[0]} input steps but {Y.shape[0]} targets.")
        self.W_out, self.b_out = ridge(X[washout:], Y[washout:], alpha=alpha)
        return self

    def _readout(self, x):
        if self.W_out is None:
            raise RuntimeError("ESN: call fit(...) before predicting.")
        return x @ self.W_out + self.b_out

    def predict(self, u):
        """The readout for inputs ``u`` ``[time, n_in]``, continuing from the current
        reservoir state: ``[time, n_out]``.

        Raises:
            RuntimeError: before :meth:`fit`.
        """
        return self._readout(self.run(u))

    def generate(self, n_steps: int, u0):
        """Closed loop: feed each output back as the next input (``n_out == n_in``)."""

        def body(u, _):
            y = self._readout(self.step(u))
            return y, y

        return jit(lambda u0: scan(body, jnp.atleast_1d(u0), None, length=n_steps)[1])(u0)


class NVAR(Module):
    """Next-generation reservoir computing (Gauthier et al. 2021): a ridge readout on
    :func:`nvar_features` (constant, ``k`` delayed inputs spaced by ``skip``, quadratic
    monomials). ``fit(u, y)`` aligns ``y`` with the feature rows (the last sample of each
    delay window)."""

    def __init__(self, k: int = 2, skip: int = 1, quadratic: bool = True):
        self.k, self.skip, self.quadratic = k, skip, quadratic
        self.W = None

    def features(self, u):
        """The feature rows of ``u`` ``[time, dims]``: :func:`nvar_features` with this
        model's ``k``, ``skip`` and ``quadratic``, shape
        ``[time - (k - 1) skip, n_features]``."""
        return nvar_features(u, self.k, self.skip, self.quadratic)

    def fit(self, u, y, alpha: float = 1e-6):
        """Solve the ridge readout (penalty ``alpha``, no separate bias: the features
        include a constant) from the features of ``u`` ``[time, dims]`` onto ``y``
        ``[time, n_out]``, dropping the first ``(k - 1) skip`` targets to align them.

        Returns:
            The model itself (``W`` ``[n_features, n_out]`` set).
        """
        X = self.features(u)
        Y = jnp.reshape(y, (y.shape[0], -1))[(self.k - 1) * self.skip :]
        if X.shape[0] != Y.shape[0]:
            raise ValueError(f"NVAR.fit: {X.shape[0]} feature rows but {Y.shape[0]} targets.")
        self.W = ridge(X, Y, alpha=alpha, bias=False)
        return self

    def predict(self, u):
        """The readout for inputs ``u``: ``[time - (k - 1) skip, n_out]``, one row per
        full delay window.

        Raises:
            RuntimeError: before :meth:`fit`.
        """
        if self.W is None:
            raise RuntimeError("NVAR: call fit(...) before predicting.")
        return self.features(u) @ self.W
