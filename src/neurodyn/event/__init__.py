"""Event-driven sparse operators and connectivity.

Connectivity objects (:class:`CSR`, :class:`FixedFanOut`, :class:`Dense`,
:class:`JitProb`) are pytrees with ``.shape`` ``(n_pre, n_post)`` and
``.todense()``. ``spikes @ conn`` sends presynaptic spikes to the
postsynaptic side (event-driven when ``spikes`` is bool: work proportional to
spikes x fan-out), ``conn @ x`` gathers a postsynaptic vector. Both work under
``jit``, ``grad`` (with respect to weights and float inputs) and ``vmap``
(folded into one batched kernel). Native CPU kernels (XLA FFI, compiled at
install) are used when present, a pure-JAX implementation otherwise. The native
scatter of bool spikes through one homogeneous weight counts the synapses
(the result is ``w`` times an exact count) and, from 40k synapses, shares the
rows with one thread of XLA's pool (the same result bit for bit);
``NEURODYN_NATIVE_THREADS=1`` keeps it on the calling thread.

Builders: :class:`FixedProb`, :class:`FixedPreNum`, :class:`FixedPostNum`,
:class:`AllToAll`, :class:`OneToOne`, :class:`GaussianProb`.

Example:
    >>> import jax.numpy as jnp
    >>> import neurodyn.units as u
    >>> from neurodyn import event
    >>> conn = event.FixedProb(0.1, seed=0).build(100, 50, weight=0.5 * u.nS)
    >>> g = jnp.zeros(100, bool).at[:10].set(True) @ conn
    >>> g.unit, g.shape
    (Unit("nS"), (50,))
"""

from __future__ import annotations

from ._builders import AllToAll, FixedPostNum, FixedPreNum, FixedProb, GaussianProb, OneToOne
from ._connectivity import CSR, Connectivity, Dense, FixedFanOut, JitProb
from ._custom import EventOp, gather_op, scatter_op, update_op
from ._customop import CustomOp
from ._ops import native_available
from ._plasticity import CSCView, csc_view, update_on_post, update_on_pre
from ._record import record_spikes

__all__ = [
    "Connectivity",
    "CSR",
    "FixedFanOut",
    "Dense",
    "JitProb",
    "FixedProb",
    "FixedPreNum",
    "FixedPostNum",
    "AllToAll",
    "OneToOne",
    "GaussianProb",
    "update_on_pre",
    "update_on_post",
    "csc_view",
    "CSCView",
    "native_available",
    "record_spikes",
    "scatter_op",
    "gather_op",
    "update_op",
    "EventOp",
    "CustomOp",
]
