"""Connectivity objects: CSR, fixed fan-out, dense, procedural (just-in-time).

Every connectivity is a pytree whose arrays are children (never static data),
so it can be closed over by, or passed into, any number of jitted functions.
``spikes @ conn`` propagates presynaptic spikes (bool: event-driven) to the
postsynaptic side; ``conn @ x`` gathers a postsynaptic vector onto each
presynaptic row. Weights may carry units: ``spikes @ CSR(w * u.nS, ...)`` is in nS.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from neurodyn.units import Quantity, dimensionless
from neurodyn.units._quantity import _make

from . import _ops
from ._jitconn import DIST_CODES, generate_rows, row_bound, skip_table

__all__ = ["Connectivity", "CSR", "FixedFanOut", "Dense", "JitProb"]


def _split_unit(x):
    if isinstance(x, Quantity):
        return x.mantissa, x.unit
    return x, dimensionless


_INDEX_LIMIT = 2**31 - 1  # indices, row pointers and sizes are int32 in every kernel


def _check_size(kind: str, n_pre: int, n_post: int, nnz: int | None = None) -> None:
    """Refuse sizes the int32 indices of the kernels cannot address (instead of
    truncating them in the native code)."""
    for what, n in (("n_pre", n_pre), ("n_post", n_post), ("synapses", nnz)):
        if n is not None and n > _INDEX_LIMIT:
            raise ValueError(
                f"{kind}: {what} = {n} exceeds the int32 index range of the event kernels "
                f"({_INDEX_LIMIT}). Split the population (or the projection) into parts of "
                "at most 2**31 - 1 neurons and synapses."
            )


def _is_concrete(x) -> bool:
    return not isinstance(x, jax.core.Tracer)


class Connectivity:
    """Interface: ``shape`` (n_pre, n_post), ``todense()``, ``spikes @ conn``,
    ``conn @ x``. Subclasses implement ``_scatter`` and ``_gather`` on 2-D
    mantissas."""

    __array_ufunc__ = None  # numpy defers `array @ conn` to __rmatmul__
    __array_priority__ = 1000
    shape: tuple[int, int]

    @property
    def n_pre(self) -> int:
        """Number of presynaptic neurons (rows, ``shape[0]``)."""
        return self.shape[0]

    @property
    def n_post(self) -> int:
        """Number of postsynaptic neurons (columns, ``shape[1]``)."""
        return self.shape[1]

    def _weights(self):
        raise NotImplementedError

    def _check_vector(self, v, n: int, side: str):
        m, unit = _split_unit(v)
        m = jnp.asarray(m)
        if m.ndim not in (1, 2) or m.shape[-1] != n:
            raise ValueError(
                f"{type(self).__name__} of shape {self.shape}: the {side} operand must have "
                f"{n} entries in its last axis, got shape {tuple(m.shape)}."
            )
        if not (m.dtype == jnp.bool_ or jnp.issubdtype(m.dtype, jnp.floating)):
            raise TypeError(
                f"Spikes must be bool (event-driven) or float (weighted); got dtype {m.dtype}. "
                "Convert integer spike counts with `.astype(float)`."
            )
        return m, unit

    def __rmatmul__(self, spikes):
        """``spikes @ conn``: presynaptic [.., n_pre] -> postsynaptic [.., n_post]."""
        s, su = self._check_vector(spikes, self.n_pre, "left (presynaptic)")
        w, wu = self._weight_parts()
        vec = s if s.dtype == jnp.bool_ else s.astype(self._dtype())
        out = self._scatter(vec.reshape(-1, self.n_pre))
        out = out.reshape(*s.shape[:-1], self.n_post)
        return _make(out, wu * su if su is not dimensionless else wu)

    def __matmul__(self, x):
        """``conn @ x``: postsynaptic [n_post] or [n_post, B] -> presynaptic [n_pre(, B)]."""
        m, xu = _split_unit(x)
        m = jnp.asarray(m)
        if m.ndim == 2:
            vec, back = m.T, True
        else:
            vec, back = m, False
        vec, _ = self._check_vector(vec, self.n_post, "right (postsynaptic)")
        vec = vec if vec.dtype == jnp.bool_ else vec.astype(self._dtype())
        out = self._gather(vec.reshape(-1, self.n_post))
        out = out.T if back else out.reshape(self.n_pre)
        _, wu = self._weight_parts()
        return _make(out, wu * xu if xu is not dimensionless else wu)

    def _weight_parts(self):
        return _split_unit(self._weights())

    def _dtype(self):
        w, _ = self._weight_parts()
        return jnp.result_type(w)

    def todense(self):
        """The dense [n_pre, n_post] weight matrix (a Quantity if the weights have units)."""
        eye = jnp.eye(self.n_pre, dtype=self._dtype())
        return eye @ self


# ---------------------------------------------------------------------------
@jax.tree_util.register_pytree_with_keys_class
class CSR(Connectivity):
    """Compressed sparse rows, one row per presynaptic neuron.

    Args:
        data: weights: a scalar (homogeneous) or one per synapse ``[nnz]``,
            optionally a Quantity.
        indices: postsynaptic index of each synapse, int32 ``[nnz]``.
        indptr: row pointers, int32 ``[n_pre + 1]``.
        shape: ``(n_pre, n_post)``.

    Example:
        >>> import jax.numpy as jnp
        >>> import neurodyn.units as u
        >>> from neurodyn.event import CSR
        >>> w = jnp.array([[0.0, 1.0, 0.0], [2.0, 0.0, 3.0]])
        >>> conn = CSR.from_dense(w * u.nS)
        >>> jnp.array([True, True]) @ conn
        Quantity([2., 1., 3.], "nS")
    """

    def __init__(self, data, indices, indptr, shape: tuple[int, int]):
        shape = (int(shape[0]), int(shape[1]))
        _check_size("CSR", *shape, int(np.shape(indices)[0]))
        m, _ = _split_unit(data)
        indices = jnp.asarray(indices, jnp.int32) if _is_concrete(indices) else indices
        indptr = jnp.asarray(indptr, jnp.int32) if _is_concrete(indptr) else indptr
        if _is_concrete(indptr) and _is_concrete(indices):
            _validate_csr(np.asarray(indices), np.asarray(indptr), shape)
        nnz = indices.shape[0]
        if jnp.ndim(m) not in (0,) and jnp.shape(m) != (nnz,):
            raise ValueError(
                f"CSR data must be a scalar (homogeneous weight) or have one value per synapse "
                f"({nnz}), got shape {jnp.shape(m)}."
            )
        if not isinstance(data, Quantity) and not hasattr(m, "dtype"):
            data = jnp.asarray(data, jnp.result_type(float))
        elif isinstance(data, Quantity) and not hasattr(data.mantissa, "dtype"):
            data = Quantity(jnp.asarray(data.mantissa, jnp.result_type(float)), data.unit)
        self.data = data
        self.indices = indices
        self.indptr = indptr
        self.shape = shape
        # the longest row, static: lets the pure-JAX scatter (off CPU) read only active rows
        self.max_row = (
            int(np.diff(np.asarray(indptr)).max()) if _is_concrete(indptr) and shape[0] else None
        )

    def tree_flatten_with_keys(self):
        """JAX pytree hook: the arrays are leaves (with their attribute keys); the
        shape and static metadata are auxiliary data."""
        k = jax.tree_util.GetAttrKey
        return (
            (k("data"), self.data),
            (k("indices"), self.indices),
            (k("indptr"), self.indptr),
        ), (self.shape, self.max_row)

    @classmethod
    def tree_unflatten(cls, aux, children):
        """JAX pytree hook: rebuild from ``tree_flatten_with_keys``'s output."""
        obj = object.__new__(cls)
        obj.data, obj.indices, obj.indptr = children
        obj.shape, obj.max_row = aux
        return obj

    @property
    def nnz(self) -> int:
        """Number of stored synapses (nonzeros)."""
        return int(self.indices.shape[0])

    @property
    def homogeneous(self) -> bool:
        """Whether all synapses share one scalar weight (``data`` is a scalar)."""
        return jnp.ndim(_split_unit(self.data)[0]) == 0

    def _weights(self):
        return self.data

    def _w(self):
        w, _ = _split_unit(self.data)
        return jnp.reshape(w, (1,)) if self.homogeneous else w

    def _scatter(self, vec):
        return _ops.csr_scatter(
            self._w(),
            self.indices,
            self.indptr,
            vec,
            homo=self.homogeneous,
            n_post=self.n_post,
            max_row=self.max_row,
        )

    def _gather(self, vec):
        return _ops.csr_gather(self._w(), self.indices, self.indptr, vec, homo=self.homogeneous)

    @classmethod
    def from_dense(cls, w, threshold: float = 0.0) -> CSR:
        """CSR of the entries of ``w`` whose magnitude exceeds ``threshold``."""
        m, unit = _split_unit(w)
        arr = np.asarray(m)
        if arr.ndim != 2:
            raise ValueError(f"from_dense expects a 2-D matrix, got shape {arr.shape}.")
        mask = np.abs(arr) > threshold
        rows, cols = np.nonzero(mask)
        indptr = np.concatenate([[0], np.cumsum(mask.sum(axis=1))]).astype(np.int32)
        data = jnp.asarray(arr[rows, cols])
        return cls(
            data if unit is dimensionless else Quantity(data, unit),
            cols.astype(np.int32),
            indptr,
            arr.shape,
        )

    @property
    def T(self) -> CSR:
        """The transposed matrix as a CSR (rows = postsynaptic neurons), computed once."""
        indices = np.asarray(self.indices)
        indptr = np.asarray(self.indptr)
        rows = np.repeat(np.arange(self.n_pre, dtype=np.int32), np.diff(indptr))
        order = np.lexsort((rows, indices))
        counts = np.bincount(indices, minlength=self.n_post)
        new_indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
        m, unit = _split_unit(self.data)
        data = m if self.homogeneous else jnp.asarray(np.asarray(m)[order])
        data = data if unit is dimensionless else Quantity(data, unit)
        return CSR(data, rows[order], new_indptr, (self.n_post, self.n_pre))

    def todense(self):
        """The dense [n_pre, n_post] weight matrix (a Quantity if the weights have units);
        repeated (row, column) pairs add up."""
        m, unit = _split_unit(self.data)
        w = jnp.broadcast_to(jnp.asarray(m), (self.nnz,)) if self.homogeneous else m
        dense = jnp.zeros(self.shape, w.dtype).at[self.row_ids(), self.indices].add(w)
        return dense if unit is dimensionless else Quantity(dense, unit)

    def with_data(self, data) -> CSR:
        """The same structure with new weights (e.g. after a plasticity update)."""
        return CSR.tree_unflatten((self.shape, self.max_row), (data, self.indices, self.indptr))

    def row_ids(self):
        """Presynaptic index of each synapse ``[nnz]``."""
        if _is_concrete(self.indptr):
            counts = np.diff(np.asarray(self.indptr))
            return jnp.asarray(np.repeat(np.arange(self.n_pre, dtype=np.int32), counts))
        return _ops._rows_of(self.indptr, self.nnz)

    def __repr__(self) -> str:
        kind = "homogeneous" if self.homogeneous else "per-synapse"
        return f"CSR(shape={self.shape}, nnz={self.nnz}, {kind} weights)"


def _validate_csr(indices, indptr, shape):
    n_pre, n_post = shape
    if indptr.shape != (n_pre + 1,):
        raise ValueError(f"indptr must have n_pre + 1 = {n_pre + 1} entries, got {indptr.shape}.")
    if indptr[0] != 0 or np.any(np.diff(indptr) < 0) or indptr[-1] != indices.shape[0]:
        raise ValueError(
            f"indptr must start at 0, never decrease and end at nnz = {indices.shape[0]}; "
            f"got {indptr[:3]}...{indptr[-1:]}"
        )
    if indices.size and (indices.min() < 0 or indices.max() >= n_post):
        raise ValueError(
            f"CSR indices must lie in [0, n_post={n_post}); got values from {indices.min()} to "
            f"{indices.max()}."
        )


# ---------------------------------------------------------------------------
@jax.tree_util.register_pytree_with_keys_class
class FixedFanOut(Connectivity):
    """Each presynaptic neuron projects to exactly ``k`` postsynaptic targets.

    Args:
        indices: int32 ``[n_pre, k]`` postsynaptic targets.
        weights: scalar or ``[n_pre, k]`` (optionally a Quantity).
        n_post: number of postsynaptic neurons.
    """

    def __init__(self, indices, weights, n_post: int):
        indices = jnp.asarray(indices, jnp.int32) if _is_concrete(indices) else indices
        if indices.ndim != 2:
            raise ValueError(f"FixedFanOut indices must be [n_pre, k], got {indices.shape}.")
        _check_size("FixedFanOut", indices.shape[0], int(n_post), int(np.prod(indices.shape)))
        if _is_concrete(indices) and indices.size:
            host = np.asarray(indices)  # numpy: also inside a jit trace that closes over it
            lo, hi = int(host.min()), int(host.max())
            if lo < 0 or hi >= n_post:
                raise ValueError(
                    f"FixedFanOut indices must lie in [0, n_post={n_post}); got {lo}..{hi}."
                )
        m, unit = _split_unit(weights)
        if jnp.ndim(m) != 0 and jnp.shape(m) != indices.shape:
            raise ValueError(
                f"weights must be a scalar or have the shape of indices {indices.shape}, got "
                f"{jnp.shape(m)}."
            )
        if not hasattr(m, "dtype"):
            m = jnp.asarray(m, jnp.result_type(float))
            weights = m if unit is dimensionless else Quantity(m, unit)
        self.indices = indices
        self.weights = weights
        self.shape = (int(indices.shape[0]), int(n_post))

    def tree_flatten_with_keys(self):
        """JAX pytree hook: the arrays are leaves (with their attribute keys); the
        shape and static metadata are auxiliary data."""
        k = jax.tree_util.GetAttrKey
        return ((k("indices"), self.indices), (k("weights"), self.weights)), self.shape

    @classmethod
    def tree_unflatten(cls, shape, children):
        """JAX pytree hook: rebuild from ``tree_flatten_with_keys``'s output."""
        obj = object.__new__(cls)
        obj.indices, obj.weights = children
        obj.shape = shape
        return obj

    @property
    def data(self):
        """The weights: one for all, or one per synapse (``[n_pre, k]``)."""
        return self.weights

    def with_data(self, data) -> FixedFanOut:
        """The same structure with new weights."""
        return type(self).tree_unflatten(self.shape, (self.indices, data))

    @property
    def homogeneous(self) -> bool:
        """Whether all synapses share one scalar weight."""
        return jnp.ndim(_split_unit(self.weights)[0]) == 0

    def _weights(self):
        return self.weights

    def _w(self):
        w, _ = _split_unit(self.weights)
        return jnp.reshape(w, (1,)) if self.homogeneous else jnp.reshape(w, (-1,))

    def _scatter(self, vec):
        return _ops.fanout_scatter(
            self._w(), self.indices, vec, homo=self.homogeneous, n_post=self.n_post
        )

    def _gather(self, vec):
        return _ops.fanout_gather(self._w(), self.indices, vec, homo=self.homogeneous)

    def todense(self):
        """The dense [n_pre, n_post] weight matrix (a Quantity if the weights have units);
        repeated columns in a row add up."""
        m, unit = _split_unit(self.weights)
        n_pre, k = self.indices.shape
        w = jnp.broadcast_to(jnp.asarray(m), (n_pre, k))
        rows = jnp.broadcast_to(jnp.arange(n_pre)[:, None], (n_pre, k))
        dense = jnp.zeros(self.shape, w.dtype).at[rows, self.indices].add(w)
        return dense if unit is dimensionless else Quantity(dense, unit)

    def to_csr(self) -> CSR:
        """The same connections as a :class:`CSR` (``k`` entries per row, in order;
        weights, and their unit, kept)."""
        n_pre, k = self.indices.shape
        indptr = np.arange(n_pre + 1, dtype=np.int32) * k
        m, unit = _split_unit(self.weights)
        data = m if self.homogeneous else jnp.reshape(m, (-1,))
        data = data if unit is dimensionless else Quantity(data, unit)
        return CSR(data, np.asarray(self.indices).reshape(-1), indptr, self.shape)

    def __repr__(self) -> str:
        return f"FixedFanOut(shape={self.shape}, k={self.indices.shape[1]})"


# ---------------------------------------------------------------------------
@jax.tree_util.register_pytree_with_keys_class
class Dense(Connectivity):
    """A dense ``[n_pre, n_post]`` weight matrix (all-to-all, small populations)."""

    def __init__(self, weights):
        m, _ = _split_unit(weights)
        if jnp.ndim(m) != 2:
            raise ValueError(f"Dense weights must be 2-D, got shape {jnp.shape(m)}.")
        self.weights = weights
        self.shape = tuple(int(s) for s in jnp.shape(m))

    def tree_flatten_with_keys(self):
        """JAX pytree hook: the arrays are leaves (with their attribute keys); the
        shape and static metadata are auxiliary data."""
        return ((jax.tree_util.GetAttrKey("weights"), self.weights),), self.shape

    @classmethod
    def tree_unflatten(cls, shape, children):
        """JAX pytree hook: rebuild from ``tree_flatten_with_keys``'s output."""
        obj = object.__new__(cls)
        (obj.weights,) = children
        obj.shape = shape
        return obj

    def _weights(self):
        return self.weights

    @property
    def data(self):
        """The weight matrix (the name CSR uses for its weights)."""
        return self.weights

    def with_data(self, data) -> Dense:
        """The same shape with new weights (e.g. trained ones)."""
        return Dense.tree_unflatten(self.shape, (data,))

    def _scatter(self, vec):
        w, _ = _split_unit(self.weights)
        return vec.astype(w.dtype) @ w

    def _gather(self, vec):
        w, _ = _split_unit(self.weights)
        return vec.astype(w.dtype) @ w.T

    def todense(self):
        return self.weights


# ---------------------------------------------------------------------------
@jax.tree_util.register_pytree_with_keys_class
class JitProb(Connectivity):
    """Procedural connectivity: each (pre, post) pair connected with probability
    ``p``, regenerated on the fly from ``seed`` (O(1) memory, identical on every
    backend).

    Args:
        n_pre, n_post: population sizes.
        p: connection probability in [0, 1].
        weight: a scalar (homogeneous, optionally a Quantity), or
            ``("uniform", low, high)`` / ``("normal", mean, std)``.
        seed: an integer (static: it defines the matrix).

    Example:
        >>> import jax.numpy as jnp
        >>> from neurodyn.event import JitProb
        >>> conn = JitProb(100, 200, 0.1, weight=0.5, seed=3)
        >>> (jnp.ones(100, bool) @ conn).shape
        (200,)
    """

    def __init__(self, n_pre: int, n_post: int, p: float, weight: Any = 1.0, seed: int = 0):
        if not 0.0 <= float(p) <= 1.0:
            raise ValueError(f"JitProb: p must be in [0, 1], got {p}.")
        if isinstance(weight, tuple):
            kind, a, b = weight
            if kind not in ("uniform", "normal"):
                raise ValueError(f"weight distribution must be 'uniform' or 'normal', got {kind}.")
        else:
            kind, a, b = "homo", weight, 0.0
        am, unit = _split_unit(a)
        bm, bunit = _split_unit(b)
        if kind != "homo" and bunit is not dimensionless and bunit.dim is not unit.dim:
            raise ValueError(f"JitProb weight parameters must share a unit: {unit}, {bunit}.")
        if bunit is not dimensionless and unit is not dimensionless:
            bm = Quantity(bm, bunit).to_value(unit)
        self.shape = (int(n_pre), int(n_post))
        _check_size("JitProb", *self.shape)
        self.p = float(p)
        self.seed = int(seed) & 0xFFFFFFFF
        self.dist = kind
        self.w0, self.w1 = float(am), float(bm)
        self.unit = unit
        self.table = jnp.asarray(skip_table(self.p, self.n_post))
        self.bound = row_bound(self.p, self.n_post)

    def tree_flatten_with_keys(self):
        """JAX pytree hook: the arrays are leaves (with their attribute keys); the
        shape and static metadata are auxiliary data."""
        aux = (self.shape, self.p, self.seed, self.dist, self.w0, self.w1, self.unit, self.bound)
        return ((jax.tree_util.GetAttrKey("table"), self.table),), aux

    @classmethod
    def tree_unflatten(cls, aux, children):
        """JAX pytree hook: rebuild from ``tree_flatten_with_keys``'s output."""
        obj = object.__new__(cls)
        (obj.shape, obj.p, obj.seed, obj.dist, obj.w0, obj.w1, obj.unit, obj.bound) = aux
        (obj.table,) = children
        return obj

    def _weight_parts(self):
        return None, self.unit

    def _dtype(self):
        return jnp.result_type(float)

    def _params(self):
        return dict(
            seed=self.seed,
            dist=DIST_CODES[self.dist],
            w0=self.w0,
            w1=self.w1,
            n_pre=self.n_pre,
            n_post=self.n_post,
            bound=self.bound,
            dtype=jnp.dtype(self._dtype()),
        )

    def _scatter(self, vec):
        return _ops.jitconn_scatter(vec, self.table, **self._params())

    def _gather(self, vec):
        return _ops.jitconn_gather(vec, self.table, **self._params())

    def to_csr(self) -> CSR:
        """Materialise the matrix (for tests and inspection)."""
        rows = jnp.arange(self.n_pre, dtype=jnp.int32)
        cols, w = generate_rows(
            rows,
            self.seed,
            self.table,
            self.n_post,
            self.bound,
            DIST_CODES[self.dist],
            self.w0,
            self.w1,
            self._dtype(),
        )
        cols, w = np.asarray(cols), np.asarray(w)
        valid = cols < self.n_post
        indptr = np.concatenate([[0], np.cumsum(valid.sum(axis=1))]).astype(np.int32)
        data = jnp.asarray(w[valid])
        data = data if self.unit is dimensionless else Quantity(data, self.unit)
        return CSR(data, cols[valid].astype(np.int32), indptr, self.shape)

    def __repr__(self) -> str:
        return f"JitProb(shape={self.shape}, p={self.p}, {self.dist} weights, seed={self.seed})"
