"""Training: backpropagation through time (any optax optimiser), closed-form and
streaming ridge readouts, and FORCE (recursive least squares) online learning.

Surrogate spike functions live one layer below, in :mod:`neurodyn.dyn.surrogate`
(every integrate-and-fire model takes one as ``spike_fn``).
"""

from . import surrogate
from ._bptt import BPTT
from ._offline import FORCE, RidgeAccumulator, ridge

__all__ = ["surrogate", "BPTT", "ridge", "RidgeAccumulator", "FORCE"]
