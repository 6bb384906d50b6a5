"""Neurons, synapses, projections, inputs, networks and the simulation runner.

Example:
    >>> import neurodyn as nd
    >>> import neurodyn.units as u
    >>> class Net(nd.Network):
    ...     def __init__(self):
    ...         self.pop = nd.dyn.LIF(10, tau=10 * u.ms, V_th=-50 * u.mV,
    ...                               I_ext=200 * u.pA, tau_ref=2 * u.ms)
    >>> res = nd.run(Net(), 100 * u.ms, dt=0.1 * u.ms, monitors={"spikes": "pop.spike"})
    >>> res["spikes"].shape
    (1000, 10)
"""

from __future__ import annotations

from . import surrogate
from ._base import Dynamics, SpikingNeuron, param
from ._channel_library import (
    ATypePotassium,
    HCurrent,
    HHPotassium,
    HHSodium,
    HVACalcium,
    Leak,
    MCurrent,
    MorrisLecarCalcium,
    MorrisLecarPotassium,
    SKPotassium,
    TraubPotassium,
    TraubSodium,
    TTypeCalcium,
    WangBuzsakiPotassium,
    WangBuzsakiSodium,
)
from ._channels import (
    AlphaBetaGate,
    CalciumDecay,
    Channel,
    CustomChannel,
    InfTauGate,
    Ion,
    nernst,
)
from ._clock import Clock, clock, current_clock, dt, t
from ._delay import Delay, SynapseDelays
from ._equations import EquationError, Equations
from ._groups import NeuronGroup, linked_var
from ._hh import HH, ConductanceNeuron, HHTraub, MorrisLecar, WangBuzsaki
from ._if import (
    GIF,
    LIF,
    AbstractIF,
    Adaptation,
    AdEx,
    AdQuaIF,
    ExpIF,
    Izhikevich,
    QuaIF,
    heaviside,
)
from ._init import Constant, Normal, Uniform, initialize
from ._inputs import (
    ArrayInput,
    OUProcess,
    PoissonGroup,
    SpikeTimeGroup,
    constant,
    ramp,
    section,
    sinusoid,
    wiener,
)
from ._integrators import IF, LI
from ._membrane import Membrane
from ._model import Model, derived
from ._network import Network
from ._params import Parameter
from ._plastic import STDP, STP, GapJunction, PoissonInput
from ._polynomial import FitzHughNagumo, HindmarshRose
from ._projection import Projection
from ._rates import JansenRit, QIFMeanField, RateModel, StuartLandau, ThresholdLinear, WilsonCowan
from ._results import RunResult, SpikeRecord
from ._rules import Plasticity
from ._runner import Monitor, SpikeMonitor, run
from ._strsynapses import Synapses
from ._sweep import sweep
from ._synapses import (
    AMPA,
    COBA,
    CUBA,
    NMDA,
    Alpha,
    Delta,
    DualExpon,
    Expon,
    GABAa,
    MgBlock,
    Output,
    Synapse,
    VoltageJump,
)

__all__ = [
    "Equations",
    "EquationError",
    "NeuronGroup",
    "linked_var",
    "Synapses",
    "ArrayInput",
    "ATypePotassium",
    "HCurrent",
    "HHPotassium",
    "HHSodium",
    "HVACalcium",
    "Leak",
    "MCurrent",
    "MorrisLecarCalcium",
    "MorrisLecarPotassium",
    "SKPotassium",
    "TraubPotassium",
    "TraubSodium",
    "TTypeCalcium",
    "WangBuzsakiPotassium",
    "WangBuzsakiSodium",
    "AlphaBetaGate",
    "CalciumDecay",
    "Channel",
    "CustomChannel",
    "InfTauGate",
    "Ion",
    "Membrane",
    "nernst",
    "ConductanceNeuron",
    "Delay",
    "SynapseDelays",
    "VoltageJump",
    "Model",
    "Parameter",
    "derived",
    "Delta",
    "AMPA",
    "GABAa",
    "Adaptation",
    "FitzHughNagumo",
    "HindmarshRose",
    "surrogate",
    "Dynamics",
    "SpikingNeuron",
    "param",
    "Clock",
    "clock",
    "current_clock",
    "dt",
    "t",
    "HH",
    "HHTraub",
    "MorrisLecar",
    "WangBuzsaki",
    "GIF",
    "LIF",
    "IF",
    "LI",
    "AbstractIF",
    "AdEx",
    "AdQuaIF",
    "ExpIF",
    "Izhikevich",
    "QuaIF",
    "heaviside",
    "Constant",
    "Normal",
    "Uniform",
    "initialize",
    "OUProcess",
    "PoissonGroup",
    "SpikeTimeGroup",
    "constant",
    "ramp",
    "section",
    "sinusoid",
    "wiener",
    "Network",
    "STDP",
    "STP",
    "GapJunction",
    "PoissonInput",
    "Projection",
    "JansenRit",
    "QIFMeanField",
    "RateModel",
    "StuartLandau",
    "ThresholdLinear",
    "WilsonCowan",
    "Monitor",
    "RunResult",
    "SpikeMonitor",
    "SpikeRecord",
    "sweep",
    "Plasticity",
    "run",
    "COBA",
    "CUBA",
    "NMDA",
    "Alpha",
    "DualExpon",
    "Expon",
    "MgBlock",
    "Output",
    "Synapse",
]
