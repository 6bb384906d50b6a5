"""Short-term plasticity, gap junctions, spike-timing-dependent plasticity and
Poisson input that is never materialised as a population."""

from __future__ import annotations

import jax.numpy as jnp

import neurodyn.units as u
from neurodyn.event import CSR, Connectivity, csc_view, update_on_post, update_on_pre
from neurodyn.state import Hidden, Module, Param, random

from . import _clock
from ._base import Dynamics, param
from ._synapses import Expon, Output

__all__ = ["STP", "GapJunction", "STDP", "PoissonInput"]


class STP(Module):
    """Tsodyks-Markram short-term plasticity of the presynaptic release (per
    presynaptic neuron; Tsodyks, Pawelzik & Markram 1998)::

        du/dt = -u / tau_f ;  dx/dt = (1 - x) / tau_d
        on a spike: u <- u + U (1 - u) ; release = u x ; x <- x - u x

    ``Projection(..., stp=STP(...))`` scales each spike by its release ``u x``
    (facilitation with large ``tau_f``, depression with large ``tau_d``).
    """

    def __init__(self, U=0.15, tau_f=1500.0 * u.ms, tau_d=200.0 * u.ms):
        self.U = float(U)
        self.tau_f = param(tau_f, u.ms, "tau_f", "STP")
        self.tau_d = param(tau_d, u.ms, "tau_d", "STP")

    def init(self, shape):
        self.u = Hidden(jnp.zeros(shape))
        self.x = Hidden(jnp.ones(shape))

    def reset(self):
        self.u.value = jnp.zeros(self.u.value.shape)
        self.x.value = jnp.ones(self.x.value.shape)

    def update(self, spikes):
        dt = _clock.dt()
        ef, ed = u.math.exp(-dt / self.tau_f), u.math.exp(-dt / self.tau_d)
        uu = self.u.value * ef
        xx = 1.0 + (self.x.value - 1.0) * ed
        s = spikes.astype(uu.dtype)
        uu = uu + s * self.U * (1.0 - uu)
        release = s * uu * xx
        self.u.value, self.x.value = uu, xx - release
        return release


class GapJunction(Dynamics):
    """Electrical coupling ``I_i = sum_j g_ij (V_j - V_i)`` within a population,
    registered as an input of ``pop`` (symmetric connectivity is the user's choice).

    Args:
        pop: a neuron population.
        conn: connectivity of shape (n, n) with conductances (nS), or a builder.
        weight: conductance for builders.
    """

    def __init__(self, pop, conn, weight=None):
        if hasattr(conn, "build") and not isinstance(conn, Connectivity):
            conn = conn.build(pop.num, pop.num, weight=weight)
        if conn.shape != (pop.num, pop.num):
            raise ValueError(
                f"GapJunction: conn has shape {conn.shape}, the population has {pop.num} neurons."
            )
        self.pop, self.conn = pop, conn
        self.varshape = ()
        ones = jnp.ones(pop.num)
        self._row_sum = conn @ ones  # sum_j g_ij (a Quantity in the weights' unit)
        pop.add_input(f"gap#{id(self):x}", self._current)

    def _current(self, V):
        return self.conn @ V - self._row_sum * V

    def update(self):
        return None


class STDP(Module):
    """Pair-based additive STDP on a projection's per-synapse CSR weights, applied on
    events (only the rows/columns of neurons that spiked are touched)::

        pre spike  at t: w_ij -= A_minus * y_j   (y: postsynaptic trace, tau_post)
        post spike at t: w_ij += A_plus  * x_i   (x: presynaptic trace, tau_pre)

    Traces jump by 1 per spike and decay with tau_pre / tau_post. Weights are kept in a
    :class:`~neurodyn.state.Param`; each updated weight is clipped to ``[w_min, w_max]``
    (weights of neurons that did not spike are left as they are). Within a step the
    presynaptic spikes are processed before the postsynaptic ones, as Brian2's
    ``on_pre``/``on_post`` pathways: a pre and a post spike in the same step count as
    pre-before-post. The weights equal Brian2's event-driven ``Synapses`` STDP on the same
    spike trains to 1e-10 (tests/dyn/test_stdp_brian2.py). The update is O(spikes x
    fan-out) per step and in place. Use as ``Projection(..., stdp=STDP(...))``.
    """

    def __init__(
        self,
        tau_pre=20.0 * u.ms,
        tau_post=20.0 * u.ms,
        A_plus=0.01 * u.nS,
        A_minus=0.0105 * u.nS,
        w_min=0.0 * u.nS,
        w_max=None,
    ):
        self.tau_pre = param(tau_pre, u.ms, "tau_pre", "STDP")
        self.tau_post = param(tau_post, u.ms, "tau_post", "STDP")
        self.A_plus, self.A_minus = A_plus, A_minus
        self.w_min, self.w_max = w_min, w_max

    def init(self, conn: CSR, n_pre_shape, n_post_shape):
        if not isinstance(conn, CSR) or conn.homogeneous:
            raise TypeError(
                "STDP needs a CSR with per-synapse weights (e.g. FixedProb(...)."
                "build(..., weight=lambda rng, n: w0 * np.ones(n)))."
            )
        self.weights = Param(conn.data)
        self._csc = csc_view(conn)  # column view for the post-spike updates, built once
        self.x_pre = Hidden(jnp.zeros(n_pre_shape))
        self.y_post = Hidden(jnp.zeros(n_post_shape))

    def conn_with_weights(self, conn: CSR) -> CSR:
        return conn.with_data(self.weights.value)

    def update(self, conn: CSR, pre_spikes, post_spikes, after=None):
        dt = _clock.dt()
        # Brian2's order within a step: the presynaptic spikes are processed first, with
        # the postsynaptic trace before this step's postsynaptic spikes are added; then the
        # postsynaptic spikes, with the presynaptic trace that includes this step's spikes
        # (a pre and a post spike in the same step count as pre-before-post).
        x = self.x_pre.value * u.math.exp(-dt / self.tau_pre) + pre_spikes
        y_before = self.y_post.value * u.math.exp(-dt / self.tau_post)
        y = y_before + post_spikes
        c = conn.with_data(self.weights.value)
        unit = self.weights.value.unit
        lo = None if self.w_min is None else self.w_min.to_value(unit)
        hi = None if self.w_max is None else self.w_max.to_value(unit)
        c = update_on_pre(c, pre_spikes, -self.A_minus * y_before, w_min=lo, w_max=hi, after=after)
        c = update_on_post(c, post_spikes, self.A_plus * x, w_min=lo, w_max=hi, csc=self._csc)
        self.weights.value = c.data
        self.x_pre.value, self.y_post.value = x, y


class PoissonInput(Dynamics):
    """``num_inputs`` independent Poisson sources at ``rate`` driving every neuron of
    ``post`` through a synapse, without materialising the sources: the number of
    input spikes per neuron and step is drawn from Poisson(num_inputs rate dt).

    Args:
        post: the target population.
        num_inputs: sources per target neuron.
        rate: rate of each source.
        weight: jump per input spike (nS for COBA, pA for CUBA).
        synapse, output: as in :class:`Projection`.
    """

    def __init__(
        self,
        post,
        num_inputs: int,
        rate,
        weight,
        synapse=None,
        output: Output | None = None,
        name: str | None = None,
    ):
        from ._synapses import COBA

        self.post = post
        self.num_inputs = int(num_inputs)
        self.rate = param(rate, u.Hz, "rate", "PoissonInput")
        self.weight = weight
        self.synapse = synapse if synapse is not None else Expon()
        self.output = output if output is not None else COBA()
        self.varshape = ()
        self.synapse.init(post.varshape, u.get_unit(weight))
        post.add_input(
            name or f"poisson#{id(self):x}", lambda V: self.output.current(self.synapse.g.value, V)
        )

    def update(self):
        lam = float(self.num_inputs * self.rate * _clock.dt())  # static: a Python float
        counts = random.poisson_small(lam, size=self.post.varshape)
        return self.synapse.update(counts * self.weight)
