"""Online gradient learning with eligibility traces.

The rules run a sequence forward once and carry, instead of the history BPTT stores,
a trace of how the hidden state depends on the parameters:

- ``"rtrl"``: real-time recurrent learning, exact (memory #hidden x #params);
- ``"d_rtrl"``: diagonal RTRL: each neuron's own Jacobian block and, per parameter, the
  paths by which it reaches a neuron directly (a weight ``W[i, j]`` reaches neuron j):
  traces shaped like the parameters; exact for feed-forward layers;
- ``"es_d_rtrl"``: D-RTRL with the trace of each weight ``x @ W`` factorised into a
  presynaptic and a postsynaptic trace (memory O(N_pre + N_post) per layer);
- ``"eprop"``: e-prop (Bellec et al. 2020): eligibility traces, symmetric or random
  feedback of the readout error, filtered by the readout's time constant.

The structure (which parameter reaches which neuron, which variables form a neuron) is
read from the module's own step function by JAX (its jaxpr), for any
:class:`~neurodyn.state.Module` whose ``update(x)`` writes its hidden States and returns
the step's output: hand-written cells as well as ``nd.dyn`` networks (dense weights,
and CSR weights with traces for the existing synapses only). What a rule cannot treat is
refused with :class:`OnlineError` (a weight that reaches the neurons only through another
weight, neurons coupled other than element-wise or through a weight, a weight applied to
the hidden state inside a loop), never approximated silently.

Entry points: :func:`sequence_gradient` (a sequence given as arrays),
:func:`stream_gradient` (inputs made inside the compiled loop: memory independent of
the length), the learners :class:`DRTRL`, :class:`ESDRTRL`, :class:`EProp` (optax;
``step`` per time step, ``fit`` over sequences; they report the memory of their traces
first) and :func:`check_against_bptt`.

Example:
    >>> import jax.numpy as jnp
    >>> import neurodyn as nd
    >>> class Leaky(nd.Module):
    ...     def __init__(self):
    ...         self.w = nd.Param(jnp.array([[0.5, -0.3], [0.2, 0.4]]))
    ...         self.h = nd.Hidden(jnp.zeros(2))
    ...     def update(self, x):
    ...         self.h.value = 0.9 * self.h.value + jnp.tanh(x @ self.w.value)
    ...         return self.h.value
    >>> xs = jnp.ones((5, 2)); ys = jnp.zeros((5, 2))
    >>> loss = lambda o, y: jnp.sum((o - y) ** 2)
    >>> g = nd.online.sequence_gradient(Leaky(), loss, xs, ys, algorithm="d_rtrl")
    >>> g["w"].shape
    (2, 2)
"""

from __future__ import annotations

from ._api import ALGORITHMS, prepare, sequence_gradient, stream_gradient
from ._check import bptt_gradient, check_against_bptt
from ._learners import DRTRL, ESDRTRL, EProp, OnlineLearner
from ._plan import Plan
from ._step import OnlineError

__all__ = [
    "sequence_gradient",
    "stream_gradient",
    "check_against_bptt",
    "bptt_gradient",
    "DRTRL",
    "ESDRTRL",
    "EProp",
    "OnlineLearner",
    "Plan",
    "prepare",
    "ALGORITHMS",
    "OnlineError",
]
