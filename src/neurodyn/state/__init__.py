"""State-based transformations for stateful brain models.

A :class:`State` is a mutable box (membrane potential, weights, a delay
buffer, a random key) with a fixed structure. The transforms here —
:func:`jit`, :func:`grad`, :func:`vmap`, :func:`scan`, :func:`for_loop`,
:func:`while_loop`, :func:`cond`, :func:`switch`, :func:`checkpoint`,
:func:`jacrev`, :func:`jacfwd` — find the States a function reads and
writes while tracing it, pass them through the pure JAX function and write
the results back, so stateful model code compiles as written. :func:`split`
and :func:`merge` give the pure functional view for any JAX library.

Example:
    >>> import jax.numpy as jnp
    >>> import neurodyn as nd
    >>> class Counter(nd.Module):
    ...     def __init__(self):
    ...         self.n = nd.Memory(jnp.zeros((), jnp.int32))
    ...     def __call__(self, k):
    ...         self.n.value = self.n.value + k
    ...         return self.n.value
    >>> c = Counter()
    >>> nd.for_loop(nd.jit(c), jnp.arange(4))
    Array([0, 1, 3, 6], dtype=int32)
"""

from __future__ import annotations

from . import random
from ._autodiff import grad, jacfwd, jacrev, value_and_grad
from ._control import checkpoint, cond, for_loop, scan, switch, while_loop
from ._errors import CheckpointError, StateError, StateLeakError, StateMismatchError
from ._io import load, save
from ._jit import JittedFunction, jit
from ._module import GraphDef, Module, merge, split, update
from ._state import Hidden, Memory, Param, RandomKey, State, StateTrace
from ._vmap import vmap

__all__ = [
    "State",
    "Param",
    "Hidden",
    "Memory",
    "RandomKey",
    "StateTrace",
    "Module",
    "GraphDef",
    "split",
    "merge",
    "update",
    "jit",
    "JittedFunction",
    "grad",
    "value_and_grad",
    "jacrev",
    "jacfwd",
    "vmap",
    "scan",
    "for_loop",
    "while_loop",
    "cond",
    "switch",
    "checkpoint",
    "save",
    "load",
    "random",
    "StateError",
    "StateLeakError",
    "StateMismatchError",
    "CheckpointError",
]
