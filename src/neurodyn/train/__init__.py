"""Training: backpropagation through time (any optax optimiser), closed-form and
streaming ridge readouts, and FORCE (recursive least squares) online learning.

Surrogate spike functions live one layer below, in :mod:`neurodyn.dyn.surrogate`
(every integrate-and-fire model takes one as ``spike_fn``).
"""

from . import surrogate
from ._bptt import BPTT
from ._checkpoint import checkpointed_for_loop
from ._offline import FORCE, RidgeAccumulator, elastic_net, lms_step, nvar_features, ridge
from ._reservoir import ESN, NVAR

__all__ = [
    "ESN",
    "NVAR",
    "surrogate",
    "BPTT",
    "checkpointed_for_loop",
    "elastic_net",
    "lms_step",
    "nvar_features",
    "ridge",
    "RidgeAccumulator",
    "FORCE",
]
