"""The model protocol: a model written in a user script (examples/custom_model.py)
against spike times solved independently (closed form and scipy's brentq)."""

import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import brentq

import neurodyn as nd
import neurodyn.units as u

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))


class One(nd.Network):
    def __init__(self, pop):
        self.pop = pop


def test_adaptive_threshold_lif_spikes_where_the_equations_say():
    from custom_model import ThetaLIF

    dt = 0.01
    pop = ThetaLIF(1, I_ext=300 * u.pA)
    res = nd.run(One(pop), 40 * u.ms, dt=dt * u.ms, monitors={"s": pop.spike})
    t, _ = res.spikes("s")
    t = np.asarray(t.to_value(u.ms))
    # V(t) = -35 - 30 exp(-t / 20) mV reaches -50 mV at 20 ln 2 ms
    t1 = 20 * np.log(2)
    # after the reset to -65 mV at the end of the spike's step, the threshold is
    # -50 + 2 exp(-s / 100) mV
    start = t[0] + dt
    s2 = brentq(lambda s: -35 - 30 * np.exp(-s / 20) - (-50 + 2 * np.exp(-s / 100)), 1, 40)
    assert t[0] <= t1 < t[0] + dt
    assert t[1] == pytest.approx(start + s2, abs=dt)
    # the threshold variable after two spikes: 2 e^{-(T - t2')/100} + 2 e^{-(T - t1')/100}
    T = 40.0
    th = sum(2 * np.exp(-(T - (tk + dt)) / 100) for tk in t)
    assert float(pop.th.value.to_value(u.mV)[0]) == pytest.approx(th, rel=1e-3)


def test_declared_parameters_are_introspectable_and_validated():
    from custom_model import ThetaLIF

    assert list(ThetaLIF._parameters) == ["tau", "tau_th", "R", "V_rest", "V_th", "d_th"]
    with pytest.raises(ValueError, match=r"ThetaLIF: parameter d_th must be >= 0; got -1 mV"):
        ThetaLIF(2, d_th=-1 * u.mV)
    pop = ThetaLIF(3, tau_th=np.array([50.0, 100.0, 200.0]) * u.ms)
    assert pop.tau_th.shape == (3,)
