"""Surrogate spike functions: a hard threshold forward, a smooth derivative backward.

Each is a ``jax.custom_jvp``: ``f(x) = (x >= 0)`` as a float, and
``df/dx = g(x)`` for a smooth bump ``g`` with a width/slope parameter. Pass one
as ``spike_fn=`` to any integrate-and-fire model (``x = V - V_th`` in mV), and
the spikes become float and differentiable (reset is then ``V (1 - s) + V_reset s``).

Example:
    >>> import jax
    >>> from neurodyn.dyn import surrogate
    >>> f = surrogate.Sigmoid(alpha=4.0)
    >>> float(f(0.3)), float(jax.grad(f)(0.0))
    (1.0, 1.0)
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

__all__ = [
    "Surrogate",
    "Sigmoid",
    "Arctan",
    "FastSigmoid",
    "PiecewiseLinear",
    "Gaussian",
    "MultiGaussian",
    "Exponential",
    "Erf",
    "Softsign",
    "StraightThrough",
]


class Surrogate:
    """Base: subclasses define ``grad(x)``, the surrogate derivative."""

    differentiable = True

    def __init__(self):
        for key, value in vars(self).items():
            if (
                not key.startswith("_")
                and isinstance(value, (int, float))
                and value <= 0
                and key != "h"
            ):
                raise ValueError(
                    f"{type(self).__name__}: {key} must be positive (it sets the width or slope "
                    f"of the surrogate derivative), got {value}."
                )

        @jax.custom_jvp
        def fn(x):
            return (x >= 0).astype(jnp.result_type(x, float))

        @fn.defjvp
        def fn_jvp(primals, tangents):
            (x,), (dx,) = primals, tangents
            return fn(x), self.grad(x) * dx

        self._fn = fn

    def __call__(self, x):
        return self._fn(jnp.asarray(x, jnp.result_type(float)))

    def grad(self, x):  # pragma: no cover - abstract
        """The surrogate derivative used in place of the step's at ``x`` (the distance
        to threshold), elementwise, shaped as ``x`` (override)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({params})"


class Sigmoid(Surrogate):
    """Derivative of ``sigmoid(alpha x)`` scaled to peak 1: ``4 s (1 - s)`` with
    ``s = sigmoid(alpha x)``."""

    def __init__(self, alpha: float = 4.0):
        self.alpha = alpha
        super().__init__()

    def grad(self, x):
        """``4 s (1 - s)`` with ``s = sigmoid(alpha x)``."""
        s = jax.nn.sigmoid(self.alpha * x)
        return 4.0 * s * (1 - s)


class Arctan(Surrogate):
    """Scaled derivative of ``arctan``: ``1 / (1 + (pi alpha x / 2)²)`` (peak 1)."""

    def __init__(self, alpha: float = 2.0):
        self.alpha = alpha
        super().__init__()

    def grad(self, x):
        """``1 / (1 + (pi alpha x / 2)²)``."""
        return 1.0 / (1.0 + (math.pi / 2 * self.alpha * x) ** 2)


class FastSigmoid(Surrogate):
    """SuperSpike (Zenke & Ganguli 2018): ``1 / (1 + beta |x|)²``."""

    def __init__(self, beta: float = 10.0):
        self.beta = beta
        super().__init__()

    def grad(self, x):
        """``1 / (1 + beta |x|)²``."""
        return 1.0 / (1.0 + self.beta * jnp.abs(x)) ** 2


class PiecewiseLinear(Surrogate):
    """Triangle: ``max(0, 1 - |x| / width)``."""

    def __init__(self, width: float = 1.0):
        self.width = width
        super().__init__()

    def grad(self, x):
        """``max(0, 1 - |x| / width)``."""
        return jnp.maximum(0.0, 1.0 - jnp.abs(x) / self.width)


class Gaussian(Surrogate):
    """``exp(-x² / (2 sigma²))`` (peak 1)."""

    def __init__(self, sigma: float = 0.5):
        self.sigma = sigma
        super().__init__()

    def grad(self, x):
        """``exp(-x² / (2 sigma²))``."""
        return jnp.exp(-(x**2) / (2 * self.sigma**2))


class MultiGaussian(Surrogate):
    """Yin et al. (2021): ``(1 + h) N(x; 0, s) - h N(x; s, 6s) - h N(x; -s, 6s)``
    (normal densities), with ``h = 0.15``, ``s = sigma``."""

    def __init__(self, sigma: float = 0.5, h: float = 0.15, scale: float = 6.0):
        self.sigma, self.h, self.scale = sigma, h, scale
        super().__init__()

    def grad(self, x):
        """``(1 + h) N(x; 0, sigma) - h N(x; sigma, k sigma) - h N(x; -sigma, k sigma)``,
        ``N`` the normal density and ``k = scale``."""

        def n(mu, sd):
            return jnp.exp(-((x - mu) ** 2) / (2 * sd**2)) / (math.sqrt(2 * math.pi) * sd)

        s, h, k = self.sigma, self.h, self.scale
        return (1 + h) * n(0.0, s) - h * n(s, k * s) - h * n(-s, k * s)


class Exponential(Surrogate):
    """``exp(-alpha |x|)`` (peak 1)."""

    def __init__(self, alpha: float = 2.0):
        self.alpha = alpha
        super().__init__()

    def grad(self, x):
        """``exp(-alpha |x|)``."""
        return jnp.exp(-self.alpha * jnp.abs(x))


class Erf(Surrogate):
    """Derivative of ``(1 + erf(alpha x)) / 2``: ``alpha / sqrt(pi) exp(-(alpha x)²)``."""

    def __init__(self, alpha: float = 1.0):
        self.alpha = alpha
        super().__init__()

    def grad(self, x):
        """``alpha / sqrt(pi) exp(-(alpha x)²)``."""
        return self.alpha / math.sqrt(math.pi) * jnp.exp(-((self.alpha * x) ** 2))


class Softsign(Surrogate):
    """Derivative of ``(1 + softsign(alpha x)) / 2``: ``alpha / (2 (1 + alpha |x|)²)``."""

    def __init__(self, alpha: float = 2.0):
        self.alpha = alpha
        super().__init__()

    def grad(self, x):
        """``alpha / (2 (1 + alpha |x|)²)``."""
        return self.alpha / (2 * (1 + self.alpha * jnp.abs(x)) ** 2)


class StraightThrough(Surrogate):
    """Straight-through estimator: gradient 1 for ``|x| <= width / 2``, else 0."""

    def __init__(self, width: float = 1.0):
        self.width = width
        super().__init__()

    def grad(self, x):
        """1 where ``|x| <= width / 2``, else 0 (in the float dtype of ``x``)."""
        return (jnp.abs(x) <= self.width / 2).astype(jnp.result_type(x, float))
