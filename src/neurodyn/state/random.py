"""Random numbers from a key held in a State, reproducible under transforms.

The module-level functions draw from :data:`DEFAULT` (a :class:`~neurodyn.state.RandomKey`
State) unless a ``key`` is passed; each draw splits the key and writes it
back, so under :func:`neurodyn.state.jit` and the loops the key is threaded
like any other State, and under :func:`neurodyn.state.vmap` each lane gets
its own key.

Example:
    >>> import neurodyn as nd
    >>> nd.random.seed(0)
    >>> a = nd.random.normal(size=3)
    >>> nd.random.seed(0)
    >>> bool((nd.random.normal(size=3) == a).all())
    True
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from neurodyn.units import Quantity
from neurodyn.units._quantity import _make

from ._state import RandomKey

__all__ = [
    "DEFAULT",
    "seed",
    "split_key",
    "uniform",
    "normal",
    "bernoulli",
    "poisson",
    "binomial_small",
    "randint",
    "exponential",
    "gamma",
    "choice",
    "permutation",
    "truncated_normal",
    "rand",
    "randn",
    "binomial",
    "element_streams",
]

#: The default key State used when no ``key`` is given.
DEFAULT = RandomKey(jax.random.key(0), name="random.DEFAULT")


def seed(seed: int) -> None:
    """Reset the default key to ``jax.random.key(seed)``."""
    DEFAULT.value = jax.random.key(seed)


def split_key(key: Any = None):
    """A fresh subkey. With ``key=None`` the default key State is advanced."""
    if key is not None:
        return key
    k, sub = jax.random.split(DEFAULT.value)
    DEFAULT.value = k
    return sub


_STREAMS: list[Callable[[int], Any]] = []


@contextlib.contextmanager
def element_streams(index_of: Callable[[int], Any]):
    """Inside this scope every draw of shape ``(..., n)`` takes the values of its last
    axis's element ``j`` from a stream of its own, keyed by ``index_of(n)[j]`` (folded
    into the draw's key): the values of an element do not depend on how many other
    elements are drawn with it. A network split over devices draws this way with the
    global neuron index, so that 1, 2 or 8 devices give the same numbers."""
    _STREAMS.append(index_of)
    try:
        yield
    finally:
        _STREAMS.pop()


def _draw(sample: Callable, key, shape: tuple[int, ...]):
    """``sample(key, shape)``, or per element of the last axis inside
    :func:`element_streams`."""
    if not _STREAMS or not shape:
        return sample(key, shape)
    index = _STREAMS[-1](shape[-1])
    keys = jax.vmap(jax.random.fold_in, (None, 0))(key, index)
    values = jax.vmap(lambda k: sample(k, shape[:-1]))(keys)
    return jnp.moveaxis(values, 0, -1)


def _shape(size) -> tuple[int, ...]:
    if size is None:
        return ()
    if isinstance(size, int):
        return (size,)
    return tuple(size)


def _unit_pair(a, b, what: str):
    """Mantissas of a and b in a's unit, and that unit (or None)."""
    if isinstance(a, Quantity) or isinstance(b, Quantity):
        ref = a if isinstance(a, Quantity) else b
        from neurodyn.units._quantity import _align

        ma = a.mantissa if a is ref else _align(what, ref, a)
        mb = b.mantissa if b is ref else _align(what, ref, b)
        return ma, mb, ref.unit
    return a, b, None


def _finish(values, unit):
    return values if unit is None else _make(values, unit)


def uniform(low=0.0, high=1.0, size: int | Sequence[int] | None = None, key=None, dtype=None):
    """Uniform samples in ``[low, high)``; quantities give a result in ``low``'s unit."""
    lo, hi, unit = _unit_pair(low, high, "draw uniform samples between")
    shape = _shape(size) if size is not None else jnp.broadcast_shapes(jnp.shape(lo), jnp.shape(hi))
    dtype = dtype or jnp.result_type(float)
    u = _draw(lambda k, sh: jax.random.uniform(k, sh, dtype), split_key(key), shape)
    return _finish(lo + (hi - lo) * u, unit)


def normal(loc=0.0, scale=1.0, size: int | Sequence[int] | None = None, key=None, dtype=None):
    """Normal samples with mean ``loc`` and standard deviation ``scale``."""
    mu, sd, unit = _unit_pair(loc, scale, "draw normal samples with")
    shape = _shape(size) if size is not None else jnp.broadcast_shapes(jnp.shape(mu), jnp.shape(sd))
    dtype = dtype or jnp.result_type(float)
    z = _draw(lambda k, sh: jax.random.normal(k, sh, dtype), split_key(key), shape)
    return _finish(mu + sd * z, unit)


def truncated_normal(lower, upper, size=None, loc=0.0, scale=1.0, key=None, dtype=None):
    """Normal samples truncated to ``[lower, upper]`` standard deviations around ``loc``."""
    dtype = dtype or jnp.result_type(float)
    z = _draw(
        lambda k, sh: jax.random.truncated_normal(k, lower, upper, sh, dtype),
        split_key(key),
        _shape(size),
    )
    mu, sd, unit = _unit_pair(loc, scale, "draw truncated normal samples with")
    return _finish(mu + sd * z, unit)


def bernoulli(p=0.5, size=None, key=None):
    """Boolean samples, True with probability ``p``."""
    shape = _shape(size) if size is not None else jnp.shape(p)
    if _STREAMS and jnp.ndim(p):  # per-element probabilities: one uniform per element
        u = _draw(lambda k, sh: jax.random.uniform(k, sh), split_key(key), shape)
        return u < jnp.broadcast_to(p, shape)
    return _draw(lambda k, sh: jax.random.bernoulli(k, p, sh), split_key(key), shape)


def poisson(lam=1.0, size=None, key=None):
    """Poisson counts with rate ``lam``."""
    shape = _shape(size) if size is not None else jnp.shape(lam)
    if jnp.ndim(lam) == 0:
        return _draw(lambda k, sh: jax.random.poisson(k, lam, sh), split_key(key), shape)
    return jax.random.poisson(split_key(key), lam, shape)


def _by_inversion(pmf: list[float], size, key):
    """Counts drawn by inverting the CDF of ``pmf`` (P(0), P(1), ...) with one uniform."""
    thresholds, cdf = [], 0.0
    for p in pmf[:-1]:
        cdf += p
        thresholds.append(cdf)
    r = _draw(lambda k, sh: jax.random.uniform(k, sh), split_key(key), _shape(size))
    return jnp.sum(r[..., None] > jnp.asarray(thresholds, r.dtype), axis=-1)


def _pmf_until_tail(first: float, ratio, limit: int) -> list[float]:
    """P(0), P(1), ... with P(k+1) = P(k) ratio(k), until the tail is below 1e-12."""
    pmf, cdf, k = [first], first, 0
    while 1.0 - cdf > 1e-12 and k < limit:
        pmf.append(pmf[-1] * ratio(k))
        cdf += pmf[-1]
        k += 1
    return pmf


def poisson_small(lam: float, size=None, key=None, max_count: int | None = None):
    """Poisson counts for a small, fixed (Python float) mean ``lam`` by inverting the
    CDF with one uniform draw: exact up to ``max_count`` (default: where the tail
    probability falls below 1e-12). Much faster than :func:`poisson` on CPU for the
    per-step spike counts of Poisson inputs (``lam = rate * dt``, well below 1)."""
    import math

    lam = float(lam)
    if lam < 0:
        raise ValueError(f"poisson_small: lam must be >= 0, got {lam}.")
    if max_count is None:
        pmf = _pmf_until_tail(math.exp(-lam), lambda k: lam / (k + 1), 200)
    else:
        pmf = [math.exp(-lam)]
        for k in range(max_count):
            pmf.append(pmf[-1] * lam / (k + 1))
    return _by_inversion(pmf, size, key)


def binomial_small(n: int, p: float, size=None, key=None):
    """Binomial(n, p) counts for a fixed (Python) ``n`` and ``p`` by inverting the CDF with
    one uniform draw, exact up to where the tail probability falls below 1e-12: the
    per-step input counts of ``n`` Poisson sources (``p = rate * dt``), as Brian2's
    ``PoissonInput`` draws them."""
    n, p = int(n), float(p)
    if n < 0 or not 0.0 <= p <= 1.0:
        raise ValueError(f"binomial_small: need n >= 0 and 0 <= p <= 1, got n={n}, p={p}.")
    if p == 1.0:
        return jnp.full(_shape(size), n, jnp.int32)
    q = p / (1.0 - p)
    pmf = _pmf_until_tail((1.0 - p) ** n, lambda k: (n - k) / (k + 1) * q, n)
    return _by_inversion(pmf, size, key)


def binomial(n, p, size=None, key=None):
    """Binomial(n, p) counts (int32); ``p`` may be traced (JAX's sampler)."""
    shape = _shape(size) if size is not None else jnp.broadcast_shapes(jnp.shape(n), jnp.shape(p))
    if jnp.ndim(p) or jnp.ndim(n):
        raise ValueError("binomial: n and p must be scalars here; draw per element with size=.")
    return _draw(
        lambda k, sh: jax.random.binomial(k, n, p, shape=sh), split_key(key), shape
    ).astype(jnp.int32)


def randint(low, high=None, size=None, key=None, dtype=jnp.int32):
    """Integers in ``[low, high)`` (or ``[0, low)`` when ``high`` is None)."""
    if high is None:
        low, high = 0, low
    return _draw(
        lambda k, sh: jax.random.randint(k, sh, low, high, dtype), split_key(key), _shape(size)
    )


def exponential(scale=1.0, size=None, key=None, dtype=None):
    """Exponential samples with mean ``scale`` (a quantity gives a result in its unit)."""
    dtype = dtype or jnp.result_type(float)
    m, _, unit = _unit_pair(scale, scale, "draw exponential samples with")
    shape = _shape(size) if size is not None else jnp.shape(m)
    e = _draw(lambda k, sh: jax.random.exponential(k, sh, dtype), split_key(key), shape)
    return _finish(m * e, unit)


def gamma(a, size=None, key=None, dtype=None):
    """Gamma samples with shape ``a`` and unit scale."""
    dtype = dtype or jnp.result_type(float)
    shape = _shape(size) if size is not None else jnp.shape(a)
    return jax.random.gamma(split_key(key), a, shape, dtype)


def choice(a, size=None, replace: bool = True, p=None, key=None):
    """Random elements of ``a`` (an int n means ``arange(n)``)."""
    return jax.random.choice(split_key(key), a, _shape(size), replace=replace, p=p)


def permutation(x, key=None):
    """A random permutation of ``x`` (an int n means ``arange(n)``)."""
    return jax.random.permutation(split_key(key), x)


def rand(*shape: int, key=None):
    """Uniform samples in ``[0, 1)`` of the given shape."""
    return uniform(size=shape, key=key)


def randn(*shape: int, key=None):
    """Standard normal samples of the given shape."""
    return normal(size=shape, key=key)
