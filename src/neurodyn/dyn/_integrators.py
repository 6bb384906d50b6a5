"""Integrators without a spike-generating leak structure: the perfect integrate-and-fire
neuron :class:`IF` (no leak) and the non-spiking leaky integrator :class:`LI` (a readout).

They are NIR's ``IF`` and ``LI`` nodes (https://neuroir.org), written on the model
protocol (:class:`~neurodyn.dyn.Model`): parameters, variables and a pure vector field.
NIR's definitions, and how the parameters map onto them::

    NIR IF       dv/dt = R I            ;  z = v > v_threshold ; v <- v_reset on z
    neurodyn IF  C dV/dt = I            ;  spike when V >= V_th ; V <- V_reset
                 (NIR's R is 1 / C)
    NIR LI       tau dv/dt = (v_leak - v) + R I
    neurodyn LI  tau dV/dt = (V_rest - V) + R I      (v_leak = V_rest + R I_ext)

An LI population driven through an exponential synapse (``Expon`` with a ``CUBA``
output) is NIR's ``CubaLI``. :func:`neurodyn.io.nir.save` exports them.
"""

from __future__ import annotations

import neurodyn.units as u

from ._if import AbstractIF
from ._model import Model, Parameter

__all__ = ["IF", "LI"]

# "positive" with a hint in the parameter's own unit (the generic hint is a time)
_CAPACITANCE = (lambda x: x > 0, "> 0 (a capacitance, e.g. C=200 * u.pF)")
_RESISTANCE = (lambda x: x > 0, "> 0 (a resistance, e.g. R=100 * u.Mohm)")


class IF(AbstractIF):
    """Integrate-and-fire without leak (the perfect integrator): ``C dV/dt = I``.

    ``V`` starts at ``V_rest`` (or ``V_initializer``); with no leak ``V_rest`` is only the
    initial potential (and the reference of an :class:`~neurodyn.dyn.Adaptation`
    current). A spike when ``V >= V_th``, then ``V <- V_reset``. A constant current ``I``
    ramps ``V`` linearly at ``I / C`` and the neuron fires every
    ``(V_th - V_reset) C / I``. This is NIR's ``IF`` (``dv/dt = R I``) with ``R = 1/C``.

    Example:
        >>> import neurodyn as nd
        >>> import neurodyn.units as u
        >>> class Net(nd.Network):
        ...     def __init__(self):
        ...         self.pop = nd.dyn.IF(1, C=200 * u.pF, V_rest=-65 * u.mV,
        ...                              V_reset=-65 * u.mV, V_th=-55 * u.mV, I_ext=100 * u.pA)
        >>> net = Net()
        >>> res = nd.run(net, 90 * u.ms, dt=0.1 * u.ms, monitors={"s": net.pop.spike})
        >>> int(res["s"].sum())            # one spike every 10 mV * 200 pF / 100 pA = 20 ms
        4
    """

    C = Parameter(u.pF, 200.0 * u.pF, _CAPACITANCE, doc="membrane capacitance")

    def vector_field(self, t, y, I):
        """``{"V": I / C}`` (mV/ms), ``I`` the total input current."""
        return {"V": I / self.C}


class LI(Model):
    """Leaky integrator, non-spiking: ``tau dV/dt = (V_rest - V) + R I``.

    A readout population: it receives Projections (a ``CUBA`` output delivers the
    current ``I``) and its potential ``V`` is the output; it emits no spikes, so it is
    no projection's source. With a constant ``I`` the potential relaxes exponentially
    to ``V_rest + R I`` with time constant ``tau``. This is NIR's ``LI``
    (``v_leak = V_rest + R I_ext``); driven through an ``Expon`` synapse, NIR's
    ``CubaLI``.

    Example:
        >>> import neurodyn as nd
        >>> import neurodyn.units as u
        >>> class Net(nd.Network):
        ...     def __init__(self):
        ...         self.out = nd.dyn.LI(2, tau=10 * u.ms, R=100 * u.Mohm, V_rest=-65 * u.mV,
        ...                              I_ext=100 * u.pA)
        >>> net = Net()
        >>> res = nd.run(net, 200 * u.ms, dt=0.1 * u.ms, monitors={"V": net.out.V})
        >>> round(float(res["V"][-1, 0].to_value(u.mV)), 3)   # V_rest + R I after 20 tau
        -55.0
    """

    tau = Parameter(u.ms, 20.0 * u.ms, "positive", doc="membrane time constant")
    R = Parameter(u.Mohm, 100.0 * u.Mohm, _RESISTANCE, doc="membrane resistance")
    V_rest = Parameter(u.mV, -65.0 * u.mV, "finite", doc="resting (leak) potential")
    variables = {"V": (u.mV, "V_rest")}

    def vector_field(self, t, y, I):
        """``{"V": (V_rest - V + R I) / tau}`` (mV/ms), ``I`` the total input current."""
        return {"V": (self.V_rest - y["V"] + self.R * I) / self.tau}
