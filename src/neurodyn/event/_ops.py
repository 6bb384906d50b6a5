"""The event/sparse primitives, one family per file, and their call helpers.

Each operator is one JAX primitive working on a leading batch axis
(``[B, n]``). Lowering uses the native CPU kernel (XLA FFI) when it is
available and the pure-JAX reference (``_ref_*``) otherwise; the reference is
also the test oracle. All primitives are linear in the spikes/vector operand
and (except procedural connectivity, whose weights are not stored) linear in
the weights, which is what the JVP and transpose rules use.

The primitives live in ``_prim_csr`` (CSR scatter/gather), ``_prim_fanout`` (fixed
fan-out), ``_prim_jitconn`` (procedural) and ``_prim_update`` (plasticity on events); what
they share (registration, the event-driven reference loop, the JVP / transpose / batching
rule factories) in ``_prim_rules``. This module keeps the names the rest of the package
uses.
"""

from __future__ import annotations

import jax.numpy as jnp
from jax.interpreters import mlir

# the references (the tests' oracles) are used through this module, hence the re-exports
from ._prim_csr import _ref_csr_gather, _ref_csr_scatter, csr_gather_p, csr_scatter_p  # noqa: F401
from ._prim_fanout import (  # noqa: F401
    _ref_fanout_gather,
    _ref_fanout_scatter,
    fanout_gather_p,
    fanout_scatter_p,
)
from ._prim_jitconn import _ref_jitconn, jitconn_gather_p, jitconn_scatter_p  # noqa: F401
from ._prim_rules import _per_matrix, _rows_of, native_available  # noqa: F401
from ._prim_update import _ref_csr_update, csr_update_p  # noqa: F401

__all__ = [
    "csr_scatter",
    "csr_gather",
    "fanout_scatter",
    "fanout_gather",
    "jitconn_scatter",
    "jitconn_gather",
    "csr_update",
    "native_available",
]


def _register_gpu_kernels():
    """The Pallas (Triton) kernels as the CUDA lowerings of the CSR and fan-out scatter and
    gather, opt-in with ``NEURODYN_GPU_KERNELS=1`` until they have been run on a GPU (see
    ``_gpu``). Called after the primitives are defined."""
    from . import _gpu

    if not _gpu.enabled():
        return

    @_per_matrix
    def csr_scatter(weights, indices, indptr, spikes, *, homo, n_post, max_row=None):
        return _gpu.csr_scatter_pallas(weights, indices, indptr, spikes, homo=homo, n_post=n_post)

    @_per_matrix
    def csr_gather(weights, indices, indptr, x, *, homo):
        return _gpu.csr_gather_pallas(weights, indices, indptr, x, homo=homo)

    @_per_matrix
    def fanout_scatter(weights, indices, spikes, *, homo, n_post):
        return _gpu.fanout_scatter_pallas(weights, indices, spikes, homo=homo, n_post=n_post)

    @_per_matrix
    def fanout_gather(weights, indices, x, *, homo):
        return _gpu.fanout_gather_pallas(weights, indices, x, homo=homo)

    for prim, fn in (
        (csr_scatter_p, csr_scatter),
        (csr_gather_p, csr_gather),
        (fanout_scatter_p, fanout_scatter),
        (fanout_gather_p, fanout_gather),
    ):
        mlir.register_lowering(prim, mlir.lower_fun(fn, multiple_results=False), platform="cuda")


# ---------------------------------------------------------------------------
# thin call helpers (operands already validated and 2-D)
def csr_scatter(weights, indices, indptr, spikes, *, homo: bool, n_post: int, max_row=None):
    return csr_scatter_p.bind(
        weights, indices, indptr, spikes, homo=homo, n_post=n_post, max_row=max_row
    )


def csr_gather(weights, indices, indptr, x, *, homo: bool):
    return csr_gather_p.bind(weights, indices, indptr, x, homo=homo)


def fanout_scatter(weights, indices, spikes, *, homo: bool, n_post: int):
    return fanout_scatter_p.bind(weights, indices, spikes, homo=homo, n_post=n_post)


def fanout_gather(weights, indices, x, *, homo: bool):
    return fanout_gather_p.bind(weights, indices, x, homo=homo)


def jitconn_scatter(spikes, table, **params):
    return jitconn_scatter_p.bind(spikes, table, **params)


def jitconn_gather(x, table, **params):
    return jitconn_gather_p.bind(x, table, **params)


def csr_update(weights, ptr, syn, other, spikes, trace, *, lo: float, hi: float, after=None):
    """``after``: any array the update must wait for (not read). Passing the result of
    the step's propagation through these weights lets XLA update them in place: without
    it, XLA cannot order the in-place write after that read and copies the weights."""
    after = jnp.zeros(0, jnp.int8) if after is None else after
    return csr_update_p.bind(weights, ptr, syn, other, spikes, trace, after, lo=lo, hi=hi)


_register_gpu_kernels()
