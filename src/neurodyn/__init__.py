"""neurodyn: brain dynamics programming on JAX.

Submodules load on first use, so ``import neurodyn`` is cheap:

- :mod:`neurodyn.units` — physical units and unit-aware math.
- :mod:`neurodyn.state` — States, Modules and State-aware transformations.

The common names of :mod:`neurodyn.state` are re-exported here
(``nd.State``, ``nd.jit``, ``nd.grad``, ...).
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_SUBMODULES = {
    "units",
    "state",
    "integrate",
    "event",
    "dyn",
    "train",
    "analysis",
    "io",
    "dendrite",
    "online",
}
_FROM_STATE = {
    "State",
    "Param",
    "Hidden",
    "Memory",
    "RandomKey",
    "Module",
    "jit",
    "grad",
    "value_and_grad",
    "vmap",
    "scan",
    "for_loop",
    "while_loop",
    "cond",
    "switch",
    "checkpoint",
    "jacrev",
    "jacfwd",
    "split",
    "merge",
    "update",
    "GraphDef",
    "StateError",
    "StateLeakError",
    "StateMismatchError",
    "CheckpointError",
    "save",
    "load",
    "random",
}


_FROM_DYN = {"Network", "run", "clock", "Projection"}


def __getattr__(name: str):
    if name in _FROM_DYN:
        return getattr(importlib.import_module("neurodyn.dyn"), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"neurodyn.{name}")
    if name in _FROM_STATE:
        state = importlib.import_module("neurodyn.state")
        return getattr(state, name)
    raise AttributeError(f"module 'neurodyn' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | _SUBMODULES | _FROM_STATE | _FROM_DYN)


__all__ = ["__version__", *sorted(_SUBMODULES), *sorted(_FROM_STATE), *sorted(_FROM_DYN)]
