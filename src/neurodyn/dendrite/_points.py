"""Point processes placed at locations of a cell: synapses that receive spikes through
``nd.dyn.Projection`` (NEURON's ``ExpSyn`` and ``Exp2Syn``, AMPA, NMDA with the Mg²⁺
block), NEURON's voltage clamp ``SEClamp``, and the spike sources (threshold detectors)
that make a cell the presynaptic side of a projection.

A placed synapse is a *site*: ``site = cell.place(loc, D.ExpSyn(tau=2 * u.ms))`` is the
postsynaptic side of any number of projections (``nd.dyn.Projection(pre, site, conn,
weight=...)``), one target per cell of the population. The projection keeps the
conductance (its ``synapse``, by default the site's kinetics) and turns it into a current
(its ``output``, by default the site's reversal and, for NMDA, Mg²⁺ block); the cell adds
that current, and its derivative in V (NEURON's numerical ``di/dv``), to its implicit
voltage step. Timing is NEURON's: a spike emitted in a step (at its end, by a cell's
threshold detector) and delayed by ``delay`` changes the conductance at the end of the
step ``delay`` later and acts on V from the next step on, as a NetCon with that delay;
an event of a spike generator (``nd.dyn.SpikeTimeGroup``) at time ``t`` acts as a NEURON
event at ``t + dt``.
"""

from __future__ import annotations

import math

import jax.numpy as jnp

import neurodyn.units as u
from neurodyn.dyn import COBA, Expon, MgBlock, _clock
from neurodyn.dyn._params import Parameter
from neurodyn.dyn._synapses import Synapse
from neurodyn.state import Module

from ._mechanisms import _check, _value

__all__ = [
    "PointSynapse",
    "ExpSyn",
    "Exp2Syn",
    "AMPA",
    "NMDA",
    "Exp2",
    "VClamp",
    "SynapseSite",
    "SpikeSource",
]

_DI = 0.001  # mV: NEURON's step for the numerical di/dv of point processes


class Exp2(Synapse):
    """The conductance of NEURON's ``Exp2Syn`` as a projection's synapse:
    ``g = B - A`` with ``A' = -A / tau1``, ``B' = -B / tau2`` (exact decay) and both
    jumping by ``w * factor`` on an input of weight ``w``, where ``factor`` normalises the
    peak of one input to ``w`` (``Exp2Syn``'s ``INITIAL`` block, including its
    ``tau1 = 0.9999 tau2`` when ``tau1 / tau2 > 0.9999``).

    Unlike :class:`neurodyn.dyn.DualExpon` (which also decays the input of the step in
    which it arrives), an input adds ``w * factor`` to both ``A`` and ``B`` after their
    decay, so ``g`` rises from 0 one step later, as in NEURON."""

    tau1 = Parameter(u.ms, check="positive", per_neuron=False, doc="rise time constant")
    tau2 = Parameter(u.ms, check="positive", per_neuron=False, doc="decay time constant")

    def __init__(self, tau1=0.1 * u.ms, tau2=10.0 * u.ms):
        self.name = "Exp2"
        self.tau1, self.tau2 = tau1, tau2
        t1, t2 = float(self.tau1.to_value(u.ms)), float(self.tau2.to_value(u.ms))
        if t1 / t2 > 0.9999:
            t1 = 0.9999 * t2
        if t1 / t2 < 1e-9:
            t1 = t2 * 1e-9
        self._t1, self._t2 = t1, t2
        tp = (t1 * t2) / (t2 - t1) * math.log(t2 / t1)
        self.factor = 1.0 / (-math.exp(-tp / t1) + math.exp(-tp / t2))

    def initial(self, shape, unit):
        """Zero ``A``, ``B`` and ``g = B - A`` of ``shape`` in ``unit``."""
        z = jnp.zeros(shape) * unit
        return {"A": z, "B": z, "g": z}

    def update(self, x):
        """Decay ``A`` (``tau1``) and ``B`` (``tau2``) exactly over ``dt``, add
        ``factor * x`` to both and return ``g = B - A``."""
        dt = float(_clock.dt().to_value(u.ms))
        a = self.A.value * math.exp(-dt / self._t1) + x * self.factor
        b = self.B.value * math.exp(-dt / self._t2) + x * self.factor
        self.A.value, self.B.value = a, b
        self.g.value = b - a
        return self.g.value


class PointSynapse:
    """What a synapse placed on a cell is: the default ``synapse`` (conductance
    kinetics) and ``output`` (current) of the projections onto its site."""

    def synapse(self) -> Synapse:  # pragma: no cover - interface
        """A new synapse model (the conductance kinetics) for a projection onto the site
        (override)."""
        raise NotImplementedError

    def output(self):  # pragma: no cover - interface
        """A new output (turning the conductance into a current) for a projection onto
        the site (override)."""
        raise NotImplementedError


class ExpSyn(PointSynapse):
    """NEURON's ``ExpSyn``: ``g' = -g / tau``, ``g += w`` per input, ``i = g (V - e)``.

    Args:
        tau: decay time constant (NEURON's default 0.1 ms).
        e: reversal potential (default 0 mV).
    """

    def __init__(self, tau=0.1 * u.ms, e=0.0 * u.mV):
        self.tau = _check(tau, u.ms, "tau", "ExpSyn", "positive")
        self.e = _check(e, u.mV, "e", "ExpSyn")

    def synapse(self):
        """An :class:`~neurodyn.dyn.Expon` with this ``tau``."""
        return Expon(tau=self.tau)

    def output(self):
        """A :class:`~neurodyn.dyn.COBA` output with reversal potential ``e``."""
        return COBA(E=self.e)

    def __repr__(self) -> str:
        return f"ExpSyn(tau={self.tau}, e={self.e})"


class Exp2Syn(PointSynapse):
    """NEURON's ``Exp2Syn``: a rise ``tau1`` and a decay ``tau2``, normalised so that one
    input of weight ``w`` peaks at ``w`` (see :class:`Exp2`); ``i = g (V - e)``.

    Args:
        tau1: rise time constant (NEURON's default 0.1 ms).
        tau2: decay time constant (default 10 ms).
        e: reversal potential (default 0 mV).
    """

    def __init__(self, tau1=0.1 * u.ms, tau2=10.0 * u.ms, e=0.0 * u.mV):
        owner = type(self).__name__
        self.tau1 = _check(tau1, u.ms, "tau1", owner, "positive")
        self.tau2 = _check(tau2, u.ms, "tau2", owner, "positive")
        self.e = _check(e, u.mV, "e", owner)

    def synapse(self):
        """An :class:`Exp2` with these ``tau1`` and ``tau2``."""
        return Exp2(self.tau1, self.tau2)

    def output(self):
        """A :class:`~neurodyn.dyn.COBA` output with reversal potential ``e``."""
        return COBA(E=self.e)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(tau1={self.tau1}, tau2={self.tau2}, e={self.e})"


class AMPA(Exp2Syn):
    """An AMPA receptor synapse: :class:`Exp2Syn` with a 0.2 ms rise, 2 ms decay and a
    reversal of 0 mV (override any of them)."""

    def __init__(self, tau1=0.2 * u.ms, tau2=2.0 * u.ms, e=0.0 * u.mV):
        super().__init__(tau1, tau2, e)


class NMDA(Exp2Syn):
    """An NMDA receptor synapse: the :class:`Exp2Syn` conductance (2 ms rise, 100 ms
    decay) with the Mg²⁺ block of Jahr & Stevens (1990):
    ``i = g (V - e) / (1 + [Mg] / 3.57 mM * exp(-0.062 V / mV))``
    (:class:`neurodyn.dyn.MgBlock`).

    Args:
        tau1, tau2, e: as :class:`Exp2Syn` (defaults 2 ms, 100 ms, 0 mV).
        mg: the extracellular Mg²⁺ concentration (default 1 mM).
    """

    def __init__(self, tau1=2.0 * u.ms, tau2=100.0 * u.ms, e=0.0 * u.mV, mg=1.0 * u.mM):
        super().__init__(tau1, tau2, e)
        self.mg = _check(mg, u.mM, "mg", "NMDA", "nonnegative")

    def output(self):
        """A :class:`~neurodyn.dyn.MgBlock` output with reversal potential ``e`` and this
        ``mg``."""
        return MgBlock(E=self.e, mg=self.mg)

    def __repr__(self) -> str:
        return f"NMDA(tau1={self.tau1}, tau2={self.tau2}, e={self.e}, mg={self.mg})"


def _at(v, node: int, population: bool):
    """V (plain) at a node: ``(..., n_cells)`` for a population, ``(..., 1)`` for one
    cell (the shape of a site or a source)."""
    return v[..., node] if population else v[..., node : node + 1]


class SynapseSite(Module):
    """A synapse placed on a cell (``cell.place(loc, D.ExpSyn(...))``): the postsynaptic
    side of projections, one target per cell (``num``). Projections onto it take the
    placed synapse's kinetics and output unless given their own ``synapse=`` and
    ``output=`` (any of ``neurodyn.dyn``'s: ``Expon``, ``AMPA``, ``COBA``, ...).

    Monitors: ``site.i`` is the synaptic current (nA, outward positive as NEURON's ``i``)
    and ``site.g`` the summed conductance (nS, reversal-weighted outputs excluded: the
    sum of the projections' ``g``) after each step."""

    def __init__(self, cell, loc, kind: PointSynapse, index: int):
        self.location = loc
        self.kind = kind
        self.node = loc.node
        self.index = index
        n = cell.n_cells
        self._population = n is not None
        self.varshape = (n if n is not None else 1,)
        self.name = f"{cell.name}.{type(kind).__name__}@{loc.name}({loc.x:g})"
        self._inputs: dict = {}
        self._cell_v = _VRef(cell)
        self.i = _SiteCurrent(self)
        self.g = _SiteConductance(self)

    @property
    def num(self) -> int:
        """Number of targets: one per cell (1 for a single cell)."""
        return self.varshape[0]

    def default_synapse(self):
        """The placed synapse's kinetics (``kind.synapse()``), for a projection without
        its own ``synapse=``."""
        return self.kind.synapse()

    def default_output(self):
        """The placed synapse's output (``kind.output()``), for a projection without its
        own ``output=``."""
        return self.kind.output()

    def add_input(self, key: str, fn) -> None:
        """Register ``fn(V) -> current`` (a projection's output; called every step)."""
        if key in self._inputs:
            raise ValueError(f"{self.name} already has an input named {key!r}.")
        self._inputs[key] = fn

    def current_in(self, v):
        """``(I, dI/dV)``: the current into the cell (nA, plain) at V ``v`` (mV, plain,
        the site's shape) and its derivative (uS) by NEURON's difference quotient."""
        if not self._inputs:
            return None

        def total(vv):
            V = u.Quantity(vv, u.mV)
            out = None
            for fn in self._inputs.values():
                c = fn(V)
                out = c if out is None else out + c
            return out.to_value(u.nA)

        i0 = total(v)
        i1 = total(v + _DI)
        return i0, (i1 - i0) / _DI

    def __repr__(self) -> str:
        return f"SynapseSite({self.name}, {len(self._inputs)} projections)"


class _VRef:
    """The cell's V, read lazily (not a Module: the site does not own the cell)."""

    def __init__(self, cell):
        self.cell = cell

    def at(self, node, population):
        return _at(self.cell.V.value.to_value(u.mV), node, population)


class _SiteCurrent:
    def __init__(self, site):
        self.site = site

    @property
    def value(self):
        s = self.site
        v = s._cell_v.at(s.node, s._population)
        out = s.current_in(v)
        i = jnp.zeros_like(v) if out is None else -out[0]
        return u.Quantity(i if s._population else i[..., 0], u.nA)


class _SiteConductance:
    def __init__(self, site):
        self.site = site

    @property
    def value(self):
        s = self.site
        total = None
        for fn in s._inputs.values():
            proj = getattr(fn, "__self__", None)
            syn = getattr(proj, "synapse", None)
            if syn is None or not hasattr(syn, "g"):
                continue
            g = syn.g.value.to(u.nS)
            total = g if total is None else total + g
        if total is None:
            v = s._cell_v.at(s.node, s._population)
            total = u.Quantity(jnp.zeros_like(v), u.nS)
        return total if s._population else total[..., 0]


class SpikeSource(Module):
    """A threshold detector of a cell (``cell.detect_spikes(loc)``) as a population of
    spike sources, one per cell: the presynaptic side of projections
    (``nd.dyn.Projection(source, target, ...)``) and a monitor target (``source.spike``).
    ``int(source)`` is the detector's index in ``cell.spike``."""

    def __init__(self, cell, index: int, loc):
        self.index = index
        self.location = loc
        n = cell.n_cells
        self.varshape = (n if n is not None else 1,)
        self.name = f"{cell.name}.spikes@{loc.name}({loc.x:g})"
        self.spike = _DetectorView(cell, index, n is not None)

    @property
    def num(self) -> int:
        """Number of spike sources: one per cell (1 for a single cell)."""
        return self.varshape[0]

    def __index__(self) -> int:
        return self.index

    def __int__(self) -> int:
        return self.index

    def __repr__(self) -> str:
        return f"SpikeSource({self.name}, detector {self.index})"


class _DetectorView:
    def __init__(self, cell, index, population):
        self.cell, self.k, self.population = cell, index, population

    @property
    def value(self):
        s = self.cell.spike.value
        return s[..., self.k] if self.population else s[..., self.k : self.k + 1]


class VClamp:
    """A voltage clamp as NEURON's ``SEClamp``: a series resistance ``rs`` to a command
    ``vc`` of up to three levels, ``amp1`` while ``t < dur1``, ``amp2`` while
    ``t < dur1 + dur2``, ``amp3`` while ``t < dur1 + dur2 + dur3``, off after that; the
    electrode current ``i = (vc - V) / rs`` (into the cell) is implicit in V, with ``t``
    the middle of the step as NEURON evaluates it.

    ``cell.place(loc, D.VClamp(...))`` returns a handle whose ``.i`` (nA) monitors the
    clamp current after each step, ``(vc - V_new) / rs`` as NEURON's ``SEClamp.i``.

    Args:
        dur1, amp1, dur2, amp2, dur3, amp3: durations (>= 0) and command potentials
            (defaults 0 ms and 0 mV, NEURON's).
        rs: series resistance (> 0; NEURON's default 1 MOhm).
    """

    def __init__(
        self,
        dur1=0.0 * u.ms,
        amp1=0.0 * u.mV,
        dur2=0.0 * u.ms,
        amp2=0.0 * u.mV,
        dur3=0.0 * u.ms,
        amp3=0.0 * u.mV,
        rs=1.0 * u.Mohm,
    ):
        for k in ("dur1", "dur2", "dur3"):
            setattr(self, k, _check(locals()[k], u.ms, k, "VClamp", "nonnegative"))
        for k in ("amp1", "amp2", "amp3"):
            setattr(self, k, _check(locals()[k], u.mV, k, "VClamp"))
        self.rs = _check(rs, u.Mohm, "rs", "VClamp", "positive")

    def command(self, t_mid_ms):
        """``(on, vc)`` at the middle-of-step time (plain ms -> plain, mV)."""
        d1, d2, d3 = (_value(getattr(self, k), u.ms) for k in ("dur1", "dur2", "dur3"))
        a1, a2, a3 = (_value(getattr(self, k), u.mV) for k in ("amp1", "amp2", "amp3"))
        tc2, tc3 = d1 + d2, d1 + d2 + d3
        vc = jnp.where(
            t_mid_ms < d1, a1, jnp.where(t_mid_ms < tc2, a2, jnp.where(t_mid_ms < tc3, a3, 0.0))
        )
        return t_mid_ms < tc3, vc

    def conductance(self):
        """``1 / rs`` in uS (plain)."""
        return 1.0 / _value(self.rs, u.Mohm)

    def __repr__(self) -> str:
        levels = ", ".join(
            f"dur{k}={getattr(self, f'dur{k}')}, amp{k}={getattr(self, f'amp{k}')}"
            for k in (1, 2, 3)
        )
        return f"VClamp({levels}, rs={self.rs})"


class VClampHandle:
    """A placed :class:`VClamp`: ``.i`` monitors its current (nA) after each step."""

    def __init__(self, cell, clamp: VClamp, index: int, loc):
        self.clamp, self.index, self.location = clamp, index, loc
        self.i = _VClampCurrent(cell, index)

    def __repr__(self) -> str:
        return f"VClampHandle({self.clamp!r} at {self.location})"


class _VClampCurrent:
    def __init__(self, cell, k):
        self.cell, self.k = cell, k

    @property
    def value(self):
        return self.cell.vclamp_i.value[..., self.k]
