"""Short-term plasticity, gap junctions, spike-timing-dependent plasticity and
Poisson input that is never materialised as a population."""

from __future__ import annotations

import jax
import jax.numpy as jnp

import neurodyn.units as u
from neurodyn.event import CSR, Connectivity, csc_view, update_on_post, update_on_pre
from neurodyn.state import Hidden, Module, Param, random

from . import _clock, _shard
from ._base import Dynamics, reset_in_place
from ._params import Parameter, concrete
from ._synapses import COBA, Expon, Output, VoltageJump

__all__ = ["STP", "GapJunction", "STDP", "PoissonInput"]


class STP(Module):
    """Tsodyks-Markram short-term plasticity of the presynaptic release (per
    presynaptic neuron; Tsodyks, Pawelzik & Markram 1998)::

        du/dt = -u / tau_f ;  dx/dt = (1 - x) / tau_d
        on a spike: u <- u + U (1 - u) ; release = u x ; x <- x - u x

    ``Projection(..., stp=STP(...))`` scales each spike by its release ``u x``
    (facilitation with large ``tau_f``, depression with large ``tau_d``).
    """

    U = Parameter(None, check="probability", doc="utilisation increment")
    tau_f = Parameter(u.ms, check="positive", doc="facilitation time constant")
    tau_d = Parameter(u.ms, check="positive", doc="depression time constant")

    def __init__(self, U=0.15, tau_f=1500.0 * u.ms, tau_d=200.0 * u.ms):
        self.name = "STP"
        self.U, self.tau_f, self.tau_d = U, tau_f, tau_d

    def bind(self, shape) -> None:
        """Attach to the presynaptic population's ``shape`` (a projection does this)."""
        self._shape = tuple(shape)
        self.init_state()

    init = bind

    def init_state(self, batch_size=None, **kwargs):
        if not hasattr(self, "_shape"):
            return
        shape = self._shape if batch_size is None else (batch_size, *self._shape)
        self.u = Hidden(jnp.zeros(shape))
        self.x = Hidden(jnp.ones(shape))

    def reset_state(self, batch_size=None, **kwargs):
        reset_in_place(self, batch_size)

    def update(self, spikes):
        """One step: decay ``u`` and ``x`` over ``dt``, then apply the spikes (boolean or
        0/1, presynaptic shape). Returns the release ``u x`` of the neurons that
        spiked (0 elsewhere), the factor the projection scales each spike by."""
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

    checkpoint_attrs = ("conn",)

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
        # conn @ x takes [n] or [n, B]: a batched V [B, n] goes through transposed
        coupled = self.conn @ V if V.ndim == 1 else (self.conn @ V.T).T
        return coupled - self._row_sum * V

    def update(self):
        """Nothing to do: the coupling current is an input of the population, computed
        while it integrates ``V``. Returns ``None``.
        """
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

    tau_pre = Parameter(u.ms, check="positive", per_neuron=False)
    tau_post = Parameter(u.ms, check="positive", per_neuron=False)
    checkpoint_attrs = ("A_plus", "A_minus", "w_min", "w_max")

    def __init__(
        self,
        tau_pre=20.0 * u.ms,
        tau_post=20.0 * u.ms,
        A_plus=0.01 * u.nS,
        A_minus=0.0105 * u.nS,
        w_min=0.0 * u.nS,
        w_max=None,
    ):
        self.name = "STDP"
        self.tau_pre, self.tau_post = tau_pre, tau_post
        self.A_plus, self.A_minus = A_plus, A_minus
        self.w_min, self.w_max = w_min, w_max
        if w_min is not None and w_max is not None:
            if u.get_unit(w_min).dim is not u.get_unit(w_max).dim:
                raise u.UnitMismatchError(
                    f"STDP: w_min ({w_min}) and w_max ({w_max}) need the same dimension."
                )
            if not float(w_min.to_value(u.get_unit(w_max))) <= float(
                w_max.to_value(u.get_unit(w_max))
            ):
                raise ValueError(f"STDP: w_min ({w_min}) must not exceed w_max ({w_max}).")

    def bind(self, conn: CSR, n_pre_shape, n_post_shape) -> None:
        """Attach to a projection's connectivity (per-synapse weights) and populations."""
        if not isinstance(conn, CSR) or conn.homogeneous:
            raise TypeError(
                "STDP needs a CSR with per-synapse weights (e.g. FixedProb(...)."
                "build(..., weight=lambda rng, n: w0 * np.ones(n)))."
            )
        self._conn0 = conn
        self._csc = csc_view(conn)  # column view for the post-spike updates, built once
        self._pre_shape, self._post_shape = tuple(n_pre_shape), tuple(n_post_shape)
        self.init_state()

    init = bind

    def init_state(self, batch_size=None, **kwargs):
        """Weights (one set per batch element when batched) and traces."""
        if not hasattr(self, "_conn0"):
            return
        b = () if batch_size is None else (batch_size,)
        w = self._conn0.data
        if b:
            w = (
                u.Quantity(jnp.broadcast_to(w.mantissa, (*b, *jnp.shape(w.mantissa))), w.unit)
                if isinstance(w, u.Quantity)
                else jnp.broadcast_to(w, (*b, *jnp.shape(w)))
            )
        self.weights = Param(w)
        self.x_pre = Hidden(jnp.zeros((*b, *self._pre_shape)))
        self.y_post = Hidden(jnp.zeros((*b, *self._post_shape)))

    def reset_state(self, batch_size=None, **kwargs):
        reset_in_place(self, batch_size)

    @property
    def batched(self) -> bool:
        """Whether there is one set of weights per batch element (2-D weights)."""
        return jnp.ndim(u.get_mantissa(self.weights.value)) == 2

    def conn_with_weights(self, conn: CSR) -> CSR:
        """``conn`` with the current (learned) weights as its data.

        Raises:
            TypeError: when the weights are batched (use :meth:`propagate`).
        """
        if self.batched:
            raise TypeError("STDP: batched weights; use propagate(conn, spikes).")
        return conn.with_data(self.weights.value)

    def _parts(self, conn: CSR):
        """``(connectivity, column view, weights State)``: this device's part in a run
        split over devices, else the projection's own."""
        ctx = _shard.current()
        if ctx is None:
            return conn, self._csc, self.weights
        c, csc, w = ctx.stdp_parts(self)
        unit = u.get_unit(self.weights.value)
        return (
            c.with_data(
                u.Quantity(w.value, unit) if isinstance(self.weights.value, u.Quantity) else w.value
            ),
            csc,
            _Units(w, self.weights),
        )

    def propagate(self, conn: CSR, spikes):
        """``spikes @ conn`` with the current (per batch element) weights."""
        conn, _, weights = self._parts(conn)
        w = weights.value
        if not self.batched:
            return spikes @ conn.with_data(w)
        return jax.vmap(lambda w, s: s @ conn.with_data(w))(w, spikes)

    def update(self, conn: CSR, pre_spikes, post_spikes, after=None):
        """One step: decay the traces, apply the depression ``-A_minus * y`` on the rows
        of ``pre_spikes`` and the potentiation ``A_plus * x`` on the columns of
        ``post_spikes`` (clipped to ``[w_min, w_max]``), then add the spikes to the
        traces. ``after`` is an array the in-place weight update must wait for (the
        projection passes the input it has just computed with the old weights)."""
        dt = _clock.dt()
        # Brian2's order within a step: the presynaptic spikes are processed first, with
        # the postsynaptic trace before this step's postsynaptic spikes are added; then the
        # postsynaptic spikes, with the presynaptic trace that includes this step's spikes
        # (a pre and a post spike in the same step count as pre-before-post).
        x = self.x_pre.value * u.math.exp(-dt / self.tau_pre) + pre_spikes
        y_before = self.y_post.value * u.math.exp(-dt / self.tau_post)
        y = y_before + post_spikes
        conn, csc, weights = self._parts(conn)
        unit = u.get_unit(self.weights.value)
        lo = None if self.w_min is None else self.w_min.to_value(unit)
        hi = None if self.w_max is None else self.w_max.to_value(unit)
        A_minus, A_plus = self.A_minus, self.A_plus

        def one(w, pre, post, y_before, x, after):
            c = conn.with_data(w)
            c = update_on_pre(c, pre, -A_minus * y_before, w_min=lo, w_max=hi, after=after)
            c = update_on_post(c, post, A_plus * x, w_min=lo, w_max=hi, csc=csc)
            return c.data

        if self.batched:
            weights.value = jax.vmap(one)(
                weights.value, pre_spikes, post_spikes, y_before, x, after
            )
        else:
            weights.value = one(weights.value, pre_spikes, post_spikes, y_before, x, after)
        self.x_pre.value, self.y_post.value = x, y


class _Units:
    """A device's plain weights State read and written with the weights' unit (a run
    split over devices keeps STDP's weights in the devices' layout)."""

    def __init__(self, state, like):
        self.state, self.unit = state, u.get_unit(like.value)
        self.quantity = isinstance(like.value, u.Quantity)

    @property
    def value(self):
        return u.Quantity(self.state.value, self.unit) if self.quantity else self.state.value

    @value.setter
    def value(self, v):
        self.state.value = u.get_mantissa(v) if self.quantity else v


class PoissonInput(Dynamics):
    """``num_inputs`` independent Poisson sources at ``rate`` driving every neuron of
    ``post`` through a synapse, without materialising the sources: the number of
    input spikes per neuron and step is drawn from Binomial(num_inputs, rate dt), as
    Brian2's ``PoissonInput``. Applied in the synaptic slot of the step (after the
    threshold test, before the reset), like a projection.

    Args:
        post: the target population.
        num_inputs: sources per target neuron.
        rate: rate of each source.
        weight: jump per input spike (nS for COBA, pA for CUBA, mV for
            :class:`VoltageJump`).
        synapse, output: as in :class:`Projection`.

    Brian2's form ``PoissonInput(G, "v", N, rate, weight)`` (or with ``N=``, ``rate=``,
    ``weight=`` keywords) names the target variable: each input spike adds ``weight`` to
    it, as ``output=VoltageJump("v")`` (dropped for refractory neurons when the variable
    is ``(unless refractory)``).

    Example (Brunel's external drive, ``v += J`` per input spike):
        >>> import neurodyn.units as u
        >>> from neurodyn.dyn import LIF, PoissonInput, VoltageJump
        >>> pop = LIF(10, V_rest=0 * u.mV, V_reset=10 * u.mV, V_th=20 * u.mV)
        >>> drive = PoissonInput(pop, 400, 50 * u.Hz, 0.1 * u.mV, output=VoltageJump())
    """

    rate = Parameter(u.Hz, check="nonnegative", per_neuron=False)
    checkpoint_attrs = ("num_inputs", "weight")

    def __init__(
        self,
        post,
        num_inputs,
        rate=None,
        weight=None,
        synapse=None,
        output: Output | None = None,
        name: str | None = None,
        N=None,
    ):
        self.name = name or "PoissonInput"
        if isinstance(num_inputs, str):  # Brian2's PoissonInput(G, "v", N, rate, weight)
            target = num_inputs
            if N is None:
                num_inputs, rate, weight, synapse = rate, weight, synapse, None
            else:
                num_inputs = N
            if synapse is not None or (output is not None and not isinstance(output, VoltageJump)):
                raise TypeError(
                    f"{self.name}: PoissonInput(G, {target!r}, N, rate, weight) adds the weight to "
                    f"{target}; it takes no synapse or output."
                )
            if isinstance(weight, str):
                raise TypeError(
                    f"{self.name}: weight must be a quantity (e.g. 0.1 * u.mV); string weights "
                    "are not supported."
                )
            if hasattr(post, "writable"):  # a NeuronGroup: a parameter becomes a State
                post.writable(target, self.name)
            output = VoltageJump(target)
        elif N is not None:
            raise TypeError(f"{self.name}: N= goes with Brian2's form PoissonInput(G, 'v', N=...).")
        if rate is None or weight is None:
            raise TypeError(f"{self.name}: give num_inputs, rate and weight.")
        if not hasattr(post, "add_input"):
            raise TypeError(f"{self.name}: post must be a neuron population, got {post!r}.")
        if int(num_inputs) != num_inputs or num_inputs < 1:
            raise ValueError(
                f"{self.name}: num_inputs must be a positive whole number; got {num_inputs!r}."
            )
        self.post = post
        self.num_inputs = int(num_inputs)
        self.rate = rate
        self.weight = weight
        self.output = output if output is not None else COBA()
        self.varshape = ()
        w_unit = u.get_unit(weight)
        self.jump = isinstance(self.output, VoltageJump)
        if self.jump:
            self.output.check(post, w_unit, synapse, self.name)
            self.synapse = None
        else:
            if w_unit.dim is not self.output.unit.dim:
                raise u.UnitMismatchError(
                    f"{self.name}: {type(self.output).__name__} needs a weight in "
                    f"{self.output.unit.name}; got {w_unit.name}."
                )
            self.synapse = synapse if synapse is not None else Expon()
            self.synapse.bind(post.varshape, w_unit)
            post.add_input(
                name or f"poisson#{id(self):x}",
                lambda V: self.output.current(self.synapse.g.value, V),
            )

    def deliver(self):
        """One step: draw the number of the ``num_inputs`` sources that spike
        (binomial, probability ``rate * dt`` each) for every target neuron, weight it,
        and feed it to the synapse (returning ``g``) or apply it as a jump of the
        target variable (``update`` is the same method).

        Raises:
            ValueError: when ``rate * dt > 1``.
        """
        rate_dt = self.rate * _clock.dt()
        p = concrete(rate_dt)
        if p is not None and p > 1:
            raise ValueError(
                f"{self.name}: rate x dt = {float(p):g} > 1: each source would spike more "
                "than once per step. Use a smaller dt."
            )
        first = getattr(self.post, "var_names", ("V",))[0]  # the post's States give the shape
        shape = jnp.shape(u.get_mantissa(getattr(self.post, first).value))
        if p is not None:  # a fixed rate: a static table, inverted with one uniform draw
            counts = random.binomial_small(self.num_inputs, float(p), size=shape)
        else:  # a traced rate (a sweep lane, an nd.Param): JAX's sampler
            if isinstance(rate_dt, u.Quantity):
                rate_dt = rate_dt.to_value(u.one)
            prob = jnp.clip(rate_dt, 0.0, 1.0)
            counts = random.binomial(self.num_inputs, prob, size=shape)
        x = counts * self.weight
        if self.jump:
            return self.output.apply(self.post, x)
        return self.synapse.update(x)

    update = deliver
