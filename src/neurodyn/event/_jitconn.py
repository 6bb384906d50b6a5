"""Counter-based generation of procedural (just-in-time) connectivity.

Row ``i`` of a ``JitProb`` matrix is never stored: its columns are found by
geometric skipping, each skip drawn by comparing a 32-bit counter hash with a
table of the geometric CDF, so that the native kernels and this pure-JAX
implementation produce bit-identical structures on every backend.
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np

from ._native import HASH

__all__ = ["skip_table", "hash3", "row_bound", "generate_rows", "DIST_CODES"]

DIST_CODES = {"homo": 0, "uniform": 1, "normal": 2}
# The hash's constants: one definition for this module and the native kernels
# (_native/jithash.def, read by both).
_M1, _M2, _M3, _M4 = (HASH[k] for k in ("SEED_MUL", "ROW_MUL", "COL_MUL", "STREAM_MUL"))
_F1, _F2 = HASH["FMIX_MUL1"], HASH["FMIX_MUL2"]
_S1, _S2, _S3 = HASH["FMIX_SHIFT1"], HASH["FMIX_SHIFT2"], HASH["FMIX_SHIFT3"]


def skip_table(p: float, n_post: int) -> np.ndarray:
    """uint32 thresholds of the geometric CDF: skip = #(table <= h) for a hash h."""
    if p >= 1.0:
        return np.zeros(0, dtype=np.uint32)  # no skips: every column connects
    m = min(n_post, math.ceil(-40.0 / math.log1p(-p))) + 1
    cdf = 1.0 - (1.0 - p) ** (np.arange(m, dtype=np.float64) + 1.0)
    return np.floor(cdf * 2.0**32).clip(max=2.0**32 - 1).astype(np.uint32)


def _fmix(x):
    """MurmurHash3's 32-bit finaliser (uint32 ``x``)."""
    x = x ^ (x >> _S1)
    x = x * jnp.uint32(_F1)
    x = x ^ (x >> _S2)
    x = x * jnp.uint32(_F2)
    return x ^ (x >> _S3)


def hash3(seed, i, k, stream: int):
    """The 32-bit counter hash (uint32 arithmetic, wraps modulo 2^32)."""
    u32 = jnp.uint32
    x = jnp.asarray(seed, u32) * u32(_M1)
    x = x ^ (jnp.asarray(i).astype(u32) * u32(_M2))
    x = _fmix(x)
    x = x ^ (jnp.asarray(k).astype(u32) * u32(_M3) + u32(stream) * u32(_M4))
    return _fmix(x)


def _unit_uniform(h, dtype):
    return ((h >> 8).astype(dtype) + 0.5) * (2.0**-24)


def row_bound(p: float, n_post: int) -> int:
    """A static bound on connections per row (12 standard deviations above the mean)."""
    mean = n_post * p
    return int(min(n_post, math.ceil(mean + 12.0 * math.sqrt(mean * (1 - p) + 1.0) + 16)))


def generate_rows(rows, seed, table, n_post: int, bound: int, dist: int, w0, w1, dtype):
    """Columns ``[len(rows), bound]`` (``n_post`` marks "no connection") and weights."""
    ks = jnp.arange(bound, dtype=jnp.uint32)
    h = hash3(seed, rows[:, None], ks[None, :], 0)
    if table.shape[0] == 0:
        skips = jnp.zeros(h.shape, jnp.int32)
    else:
        skips = jnp.searchsorted(jnp.asarray(table), h, side="right").astype(jnp.int32)
    cols = jnp.cumsum(skips + 1, axis=1) - 1
    valid = cols < n_post
    cols = jnp.where(valid, cols, n_post)
    if dist == 0:
        w = jnp.full(cols.shape, w0, dtype)
    elif dist == 1:
        u = _unit_uniform(hash3(seed, rows[:, None], ks[None, :], 1), jnp.float32)
        w = (w0 + (w1 - w0) * u).astype(dtype)
    else:
        u1 = _unit_uniform(hash3(seed, rows[:, None], ks[None, :], 1), jnp.float32)
        u2 = _unit_uniform(hash3(seed, rows[:, None], ks[None, :], 2), jnp.float32)
        z = jnp.sqrt(-2.0 * jnp.log(u1)) * jnp.cos(2.0 * jnp.pi * u2)
        w = (w0 + w1 * z).astype(dtype)
    return cols, jnp.where(valid, w, 0).astype(dtype)
