"""Multi-compartment neurons on real morphologies, with NEURON's numerics.

:class:`Morphology` reads SWC files (sections as NEURON's Import3d makes them) or builds
shapes; :class:`Cell` discretises it (NEURON's ``nseg`` segments, areas and axial
resistances from the 3-D points), takes mechanisms painted on regions (:class:`HH`,
NEURON's ``hh``; :class:`Leak`, its ``pas``) and point processes placed at locations
(:class:`IClamp`), and steps as NEURON's fixed-step method does (backward Euler or
Crank-Nicolson for V with an exact O(n) tree solve, then the gates at the new V).

Mechanism parameters may be functions of the path distance from the soma; ``neurodyn.dyn``
channels and ions (calcium dynamics included) paint as they are (:class:`Channels`).
Point processes: :class:`IClamp`, :class:`VClamp` (NEURON's ``SEClamp``) and synapses
(:class:`ExpSyn`, :class:`Exp2Syn`, :class:`AMPA`, :class:`NMDA` with the Mg block), whose
sites are the postsynaptic side of ``nd.dyn.Projection``; ``cell.detect_spikes`` makes
the cell a presynaptic source, so cells (``n_cells=`` copies as one population, or
several morphologies) and point neurons run in one network with delays.

Example:
    >>> import neurodyn as nd
    >>> import neurodyn.units as u
    >>> from neurodyn import dendrite as D
    >>> cell = D.Cell(D.Morphology.cylinder(500 * u.um, 2 * u.um), ncomp=51,
    ...               Ra=100 * u.ohm * u.cm)
    >>> cell.paint("all", D.Leak(g=1e-4 * u.S / u.cm**2, E=-65 * u.mV))
    >>> end = cell.location(0, 0.0)
    >>> cell.place(end, D.IClamp(0 * u.ms, 100 * u.ms, 0.1 * u.nA))
    >>> res = nd.run(cell, 100 * u.ms, dt=0.025 * u.ms, monitors={"v": cell.V_at(end)})
    >>> round(float(res["v"][-1].to_value(u.mV)), 1)  # -65 mV + R_inf coth(L/lambda) 0.1 nA
    -28.0
"""

from __future__ import annotations

from ._cell import Cell, DLambdaWarning, Location
from ._channels import Channels
from ._geometry import Geometry, d_lambda_ncomp, discretize
from ._mechanisms import HH, IClamp, Leak, Mechanism
from ._morphology import REGIONS, Branch, Morphology
from ._points import (
    AMPA,
    NMDA,
    Exp2,
    Exp2Syn,
    ExpSyn,
    PointSynapse,
    SpikeSource,
    SynapseSite,
    VClamp,
)
from ._solver import TreeSolver
from ._swc import SWCError, read_swc

__all__ = [
    "Morphology",
    "Branch",
    "REGIONS",
    "SWCError",
    "read_swc",
    "Cell",
    "Location",
    "DLambdaWarning",
    "HH",
    "Leak",
    "IClamp",
    "VClamp",
    "ExpSyn",
    "Exp2Syn",
    "AMPA",
    "NMDA",
    "Exp2",
    "PointSynapse",
    "SynapseSite",
    "SpikeSource",
    "Mechanism",
    "Channels",
    "Geometry",
    "discretize",
    "d_lambda_ncomp",
    "TreeSolver",
]
