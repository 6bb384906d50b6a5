"""Single-neuron traces against Brian2 2.9 (exponential Euler, dt = 0.01 ms), generated
by tests/reference/generate_brian2.py into tests/reference/brian2_traces.npz."""

from pathlib import Path

import jax.numpy as jnp
import numpy as np

import neurodyn as nd
import neurodyn.units as u
from neurodyn.dyn import HH, LIF

REF = np.load(Path(__file__).resolve().parents[1] / "reference" / "brian2_traces.npz")


class StepDriven(nd.Network):
    """A population driven by a current step from 10 to 90 ms."""

    def __init__(self, pop, amps):
        self.pop = pop
        self.amps = amps

    def update(self):
        t = nd.dyn.t()
        on = (t >= 10 * u.ms) & (t < 90 * u.ms)
        self.pop.update(I_ext=u.math.where(on, self.amps, 0 * u.pA))


def _run(pop, amps):
    res = nd.run(StepDriven(pop, amps), 100 * u.ms, dt=0.01 * u.ms, monitors={"V": pop.V})
    return np.asarray(res["V"].to_value(u.mV))


def test_lif_matches_brian2():
    amps = jnp.asarray(REF["lif_amps"]) * u.pA
    lif = LIF(
        3,
        tau=20 * u.ms,
        R=100 * u.Mohm,
        V_rest=-65 * u.mV,
        V_reset=-70 * u.mV,
        V_th=-50 * u.mV,
        tau_ref=2 * u.ms,
    )
    ours = _run(lif, amps)  # V after each step: Brian2's value at the next time point
    ref = REF["lif_v"].T  # [time, neuron], recorded at the start of each step
    rms = np.sqrt(np.mean((ours[:-1] - ref[1:]) ** 2, axis=0))
    assert np.all(rms < 0.1), rms


def test_hh_matches_brian2():
    hh = HH(1, area=20000 * u.um**2)
    amp = (10 * u.uA / u.cm**2 * 20000 * u.um**2).to(u.pA)
    ours = _run(hh, amp * jnp.ones(1))
    ref = REF["hh_v"].T
    rms = float(np.sqrt(np.mean((ours[:-1] - ref[1:]) ** 2)))
    assert rms < 0.1, rms
