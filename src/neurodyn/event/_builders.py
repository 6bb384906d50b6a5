"""Vectorised connectivity builders (NumPy at build time, no Python loop per neuron)."""

from __future__ import annotations

from typing import Any

import numpy as np

from neurodyn.units import Quantity

from ._connectivity import CSR, Dense, FixedFanOut, JitProb

__all__ = ["FixedProb", "FixedPreNum", "FixedPostNum", "AllToAll", "OneToOne", "GaussianProb"]


def _static(value, name: str, builder: str):
    """``value`` as a Python number; a traced value (a lane of nd.vmap / nd.dyn.sweep, or
    under nd.grad) is refused: it decides how many synapses there are, an array shape."""
    import jax

    if isinstance(value, jax.core.Tracer):
        raise TypeError(
            f"{builder}: {name} decides how many synapses there are (an array shape), so it "
            "must be a concrete number, not a traced value (a lane of nd.vmap or "
            "nd.dyn.sweep, or a value under nd.grad). Loop over it in Python, building one "
            "network per value; sweep weights, rates and model parameters instead."
        )
    return value


def _weights_for(weight: Any, n: int, rng: np.random.Generator):
    """A scalar weight, an array of n, or a callable ``weight(rng, n)``."""
    if callable(weight):
        return weight(rng, n)
    return weight


def _distinct_fixed_k(rng, n_rows: int, k: int, n_cols: int, exclude: np.ndarray | None):
    """``[n_rows, k]`` distinct column indices per row (sorted), excluding ``exclude[r]``.
    Vectorised: draw, sort each row, redraw duplicates until none remain."""
    cols = rng.integers(0, n_cols, size=(n_rows, k), dtype=np.int64)
    for _ in range(200):
        cols.sort(axis=1)
        bad = np.zeros(cols.shape, dtype=bool)
        bad[:, 1:] = cols[:, 1:] == cols[:, :-1]
        if exclude is not None:
            bad |= cols == exclude[:, None]
        n_bad = int(bad.sum())
        if n_bad == 0:
            return cols
        cols[bad] = rng.integers(0, n_cols, size=n_bad, dtype=np.int64)
    raise RuntimeError("could not draw distinct connections (is k close to n?)")


def _bernoulli_rows(rng, n_rows: int, n_cols: int, p: float, allow_self: bool):
    """(counts per row, column indices) of an n_rows x n_cols Bernoulli(p) matrix, columns
    sorted within each row, built in row blocks. Sparse p: the number of connections of
    each row is drawn from Binomial(n_cols, p), then that many distinct columns uniformly
    (draw, sort each row, redraw repeated entries: exact, as every column set is equally
    likely), written into one preallocated int32 array; dense p: a mask."""
    if p == 0.0 or n_rows == 0:
        return np.zeros(n_rows, np.int64), np.zeros(0, np.int32)
    if p > 0.1:
        counts_out, cols_out = [], []
        block = max(1, 2_000_000 // max(n_cols, 1))
        for start in range(0, n_rows, block):
            mask = rng.random((min(block, n_rows - start), n_cols)) < p
            if not allow_self:
                r = np.arange(start, start + mask.shape[0])
                keep = r < n_cols
                mask[np.nonzero(keep)[0], r[keep]] = False
            counts_out.append(mask.sum(axis=1))
            cols_out.append(np.nonzero(mask)[1].astype(np.int32))
        return np.concatenate(counts_out), np.concatenate(cols_out)
    counts = rng.binomial(n_cols, p, size=n_rows).astype(np.int64)
    k = int(counts.max())
    if k == 0:
        return np.zeros(n_rows, np.int64), np.zeros(0, np.int32)
    dtype = np.int32 if n_cols < 2**31 - 1 - k else np.int64
    out = np.empty(int(counts.sum()), dtype)
    pad = n_cols + np.arange(k, dtype=dtype)  # distinct, and sorted after every column
    block = max(1, 4_000_000 // k)
    pos = 0
    for start in range(0, n_rows, block):
        c = counts[start : start + block]
        valid = np.arange(k)[None, :] < c[:, None]
        cols = np.where(valid, rng.integers(0, n_cols, size=(len(c), k), dtype=dtype), pad)
        for _ in range(200):
            cols.sort(axis=1)
            dup = np.zeros(cols.shape, dtype=bool)
            np.equal(cols[:, 1:], cols[:, :-1], out=dup[:, 1:])  # padding never repeats
            n_dup = int(np.count_nonzero(dup))
            if n_dup == 0:
                break
            cols[dup] = rng.integers(0, n_cols, size=n_dup, dtype=dtype)
        else:  # pragma: no cover - needs p * n_cols close to n_cols
            raise RuntimeError("could not draw distinct connections")
        chunk = cols[cols < n_cols]  # row by row, the first c[r] entries of each row
        out[pos : pos + len(chunk)] = chunk
        pos += len(chunk)
    if not allow_self:
        rows = np.repeat(np.arange(n_rows, dtype=dtype), counts)
        self_edge = rows == out
        if self_edge.any():
            counts = counts - np.bincount(rows[self_edge], minlength=n_rows)
            out = out[~self_edge]
    return counts, out


def _csr_from(rows, cols, n_pre, n_post, weight):
    counts = np.bincount(rows, minlength=n_pre)
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    return CSR(weight, cols.astype(np.int32), indptr, (n_pre, n_post))


def _weight_array(weight, n, rng):
    w = _weights_for(weight, n, rng)
    if isinstance(w, Quantity):
        return w
    arr = np.asarray(w)
    if arr.ndim == 0:
        return w
    if arr.shape != (n,):
        raise ValueError(f"weight must be a scalar or have {n} values, got shape {arr.shape}.")
    return arr.astype(np.float32) if arr.dtype == np.float64 else arr


class FixedProb:
    """Each (pre, post) pair is connected independently with probability ``p``.

    ``build(n_pre, n_post, weight=...)`` returns a :class:`CSR`. ``weight`` is a
    scalar (homogeneous, may be a Quantity), or a callable ``weight(rng, nnz)``
    returning per-synapse values. ``allow_self=False`` excludes i -> i (for a
    population connected to itself).

    Example:
        >>> from neurodyn.event import FixedProb
        >>> conn = FixedProb(0.1, seed=0).build(1000, 1000, weight=0.5)
        >>> 0.09 < conn.nnz / 1e6 < 0.11
        True
    """

    def __init__(self, p: float, seed: int = 0, allow_self: bool = True):
        p, seed = _static(p, "p", "FixedProb"), _static(seed, "seed", "FixedProb")
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"FixedProb: p must be in [0, 1], got {p}.")
        self.p, self.seed, self.allow_self = float(p), int(seed), allow_self

    def build(self, n_pre: int, n_post: int, weight: Any = 1.0) -> CSR:
        """Draw the connections (reproducibly, from ``seed``).

        Args:
            n_pre: number of presynaptic neurons.
            n_post: number of postsynaptic neurons.
            weight: a scalar (one weight for all synapses; may be a Quantity), an array of
                one value per synapse, or a callable ``weight(rng, nnz)`` returning them.

        Returns:
            A :class:`CSR` of shape ``(n_pre, n_post)``.
        """
        rng = np.random.default_rng(self.seed)
        if not self.allow_self and n_pre != n_post:
            raise ValueError("allow_self=False needs n_pre == n_post (one population).")
        counts, cols = _bernoulli_rows(rng, n_pre, n_post, self.p, self.allow_self)
        indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
        return CSR(_weight_array(weight, len(cols), rng), cols, indptr, (n_pre, n_post))

    def jit(self, n_pre: int, n_post: int, weight: Any = 1.0) -> JitProb:
        """The same connection rule as procedural (never stored) connectivity."""
        return JitProb(n_pre, n_post, self.p, weight=weight, seed=self.seed)


class FixedPreNum:
    """Each postsynaptic neuron receives exactly ``k`` distinct presynaptic inputs."""

    def __init__(self, k: int, seed: int = 0, allow_self: bool = True):
        k, seed = _static(k, "k", type(self).__name__), _static(seed, "seed", type(self).__name__)
        self.k, self.seed, self.allow_self = int(k), int(seed), allow_self

    def build(self, n_pre: int, n_post: int, weight: Any = 1.0) -> CSR:
        """Draw ``k`` distinct presynaptic neurons for every postsynaptic one
        (reproducibly, from ``seed``).

        Args:
            n_pre: number of presynaptic neurons.
            n_post: number of postsynaptic neurons.
            weight: a scalar (one weight for all synapses; may be a Quantity), an array of
                one value per synapse, or a callable ``weight(rng, nnz)`` returning them.

        Returns:
            A :class:`CSR` of shape ``(n_pre, n_post)`` with ``k * n_post`` synapses.
        """
        if self.k > n_pre - (0 if self.allow_self else 1):
            raise ValueError(f"FixedPreNum: k={self.k} exceeds the {n_pre} presynaptic neurons.")
        rng = np.random.default_rng(self.seed)
        exclude = None if self.allow_self else np.arange(n_post)
        pre = _distinct_fixed_k(rng, n_post, self.k, n_pre, exclude).reshape(-1)
        post = np.repeat(np.arange(n_post, dtype=np.int64), self.k)
        order = np.argsort(pre, kind="stable")
        pre, post = pre[order], post[order]
        return _csr_from(pre, post, n_pre, n_post, _weight_array(weight, len(pre), rng))


class FixedPostNum:
    """Each presynaptic neuron projects to exactly ``k`` distinct targets
    (returns a :class:`FixedFanOut` table)."""

    def __init__(self, k: int, seed: int = 0, allow_self: bool = True):
        k, seed = _static(k, "k", type(self).__name__), _static(seed, "seed", type(self).__name__)
        self.k, self.seed, self.allow_self = int(k), int(seed), allow_self

    def build(self, n_pre: int, n_post: int, weight: Any = 1.0) -> FixedFanOut:
        """Draw ``k`` distinct targets for every presynaptic neuron (reproducibly, from
        ``seed``).

        Args:
            n_pre: number of presynaptic neurons.
            n_post: number of postsynaptic neurons.
            weight: a scalar (one weight for all synapses; may be a Quantity), an array of
                one value per synapse, or a callable ``weight(rng, nnz)`` returning them.

        Returns:
            A :class:`FixedFanOut` with ``indices`` of shape ``(n_pre, k)`` (per-synapse
            weights reshaped to ``(n_pre, k)``).
        """
        if self.k > n_post - (0 if self.allow_self else 1):
            raise ValueError(f"FixedPostNum: k={self.k} exceeds the {n_post} targets.")
        rng = np.random.default_rng(self.seed)
        exclude = None if self.allow_self else np.arange(n_pre)
        cols = _distinct_fixed_k(rng, n_pre, self.k, n_post, exclude)
        w = _weight_array(weight, n_pre * self.k, rng)
        if not isinstance(w, Quantity) and np.ndim(w) == 1:
            w = np.asarray(w).reshape(n_pre, self.k)
        elif isinstance(w, Quantity) and np.ndim(w.mantissa) == 1:
            w = w.reshape(n_pre, self.k)
        return FixedFanOut(cols.reshape(n_pre, self.k).astype(np.int32), w, n_post)


class AllToAll:
    """Every pre connects to every post (a :class:`Dense` matrix)."""

    def __init__(self, allow_self: bool = True):
        self.allow_self = allow_self

    def build(self, n_pre: int, n_post: int, weight: Any = 1.0) -> Dense:
        """The full ``(n_pre, n_post)`` weight matrix: ``weight`` (a scalar, possibly a
        Quantity, or anything broadcastable to that shape) everywhere, with a zero
        diagonal when ``allow_self`` is false.

        Returns:
            A :class:`Dense`.
        """
        import jax.numpy as jnp

        m = weight.mantissa if isinstance(weight, Quantity) else weight
        w = jnp.broadcast_to(jnp.asarray(m, jnp.result_type(float)), (n_pre, n_post))
        if not self.allow_self:
            w = w * (1 - jnp.eye(n_pre, n_post, dtype=w.dtype))
        return Dense(Quantity(w, weight.unit) if isinstance(weight, Quantity) else w)


class OneToOne:
    """Neuron i connects to neuron i."""

    def build(self, n_pre: int, n_post: int, weight: Any = 1.0) -> CSR:
        """The ``n`` synapses ``i -> i``.

        Args:
            n_pre: number of presynaptic neurons.
            n_post: number of postsynaptic neurons (must equal ``n_pre``).
            weight: a scalar (may be a Quantity), ``n`` values, or a callable
                ``weight(rng, n)``.

        Returns:
            A :class:`CSR` of shape ``(n, n)``.
        """
        if n_pre != n_post:
            raise ValueError(f"OneToOne needs equal sizes, got {n_pre} and {n_post}.")
        idx = np.arange(n_pre, dtype=np.int32)
        return _csr_from(idx, idx, n_pre, n_post, _weight_array(weight, n_pre, None))


class GaussianProb:
    """Distance-dependent connectivity: ``p(d) = p_max * exp(-d² / (2 sigma²))``.

    Neurons have positions (``pre_pos``/``post_pos`` arrays ``[n, dims]``; by
    default a 1-D ring of unit spacing, distances periodic when ``periodic``).
    Built in row blocks, so memory stays bounded.
    """

    def __init__(
        self,
        sigma: float,
        p_max: float = 1.0,
        seed: int = 0,
        pre_pos=None,
        post_pos=None,
        periodic: bool = True,
        allow_self: bool = False,
    ):
        sigma, p_max = (
            _static(sigma, "sigma", "GaussianProb"),
            _static(p_max, "p_max", "GaussianProb"),
        )
        self.sigma, self.p_max, self.seed = float(sigma), float(p_max), int(seed)
        self.pre_pos, self.post_pos = pre_pos, post_pos
        self.periodic, self.allow_self = periodic, allow_self

    def build(self, n_pre: int, n_post: int, weight: Any = 1.0) -> CSR:
        """Draw each pair independently with probability ``p(d)`` of their distance
        (reproducibly, from ``seed``); without ``pre_pos`` the presynaptic neurons sit on
        a ring of unit spacing, and without ``post_pos`` the postsynaptic ones are spread
        evenly over it.

        Args:
            n_pre: number of presynaptic neurons.
            n_post: number of postsynaptic neurons.
            weight: a scalar (one weight for all synapses; may be a Quantity), an array of
                one value per synapse, or a callable ``weight(rng, nnz)`` returning them.

        Returns:
            A :class:`CSR` of shape ``(n_pre, n_post)``.
        """
        rng = np.random.default_rng(self.seed)
        ring = self.pre_pos is None
        pre = np.arange(n_pre, dtype=float)[:, None] if ring else np.asarray(self.pre_pos, float)
        post = (
            np.arange(n_post, dtype=float)[:, None] * (n_pre / n_post)
            if self.post_pos is None
            else np.asarray(self.post_pos, float)
        )
        rows_all, cols_all = [], []
        for start in range(0, n_pre, 1024):
            d = pre[start : start + 1024, None, :] - post[None, :, :]
            if self.periodic and ring:
                d = np.minimum(np.abs(d), n_pre - np.abs(d))
            dist2 = (d**2).sum(-1)
            prob = self.p_max * np.exp(-dist2 / (2 * self.sigma**2))
            if not self.allow_self and n_pre == n_post:
                idx = np.arange(start, min(start + 1024, n_pre))
                prob[idx - start, idx] = 0.0
            r, c = np.nonzero(rng.random(prob.shape) < prob)
            rows_all.append(r + start)
            cols_all.append(c)
        rows, cols = np.concatenate(rows_all), np.concatenate(cols_all)
        return _csr_from(rows, cols, n_pre, n_post, _weight_array(weight, len(cols), rng))
