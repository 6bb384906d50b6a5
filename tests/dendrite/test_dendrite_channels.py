"""``neurodyn.dyn``'s channels and ions painted on compartments: dyn's HH channels give
NEURON's ``hh`` trace, calcium accumulates to the balance of the shell equation solved by
hand (Nernst reversal, calcium-gated potassium), and missing ions are named."""

import math
from pathlib import Path

import jax
import numpy as np
import pytest
from scipy.optimize import brentq

import neurodyn as nd
import neurodyn.units as u
from neurodyn import dendrite as D

REF = Path(__file__).resolve().parents[1] / "reference" / "neuron"
S_CM2 = u.S / u.cm**2
MS_CM2 = u.mS / u.cm**2


def test_dyn_hh_channels_on_a_soma_match_neurons_hh():
    ref = np.load(REF / "ball_and_stick.npz")
    with jax.enable_x64(True):
        m = D.Morphology.ball_and_stick(20 * u.um, 500 * u.um, 2 * u.um)
        c = D.Cell(m, ncomp=5, Ra=100 * u.ohm * u.cm)
        hh = [nd.dyn.HHSodium(), nd.dyn.HHPotassium(), nd.dyn.Leak(E=-54.3 * u.mV)]
        c.paint("soma", D.Channels(hh))
        c.paint("dendrites", D.Leak(g=1e-4 * S_CM2, E=-65 * u.mV))
        soma = c.location("soma", 0.5)
        c.place(soma, D.IClamp(5 * u.ms, 30 * u.ms, 0.3 * u.nA))
        mons = {"v": c.V_at(soma), "ina": c.current_at(soma, c.mechanisms[0].mech, "INa")}
        res = nd.run(c, 20 * u.ms, dt=0.025 * u.ms, monitors=mons)  # the first spike
        v = np.asarray(res["v"].to_value(u.mV))
        ina = np.asarray(res["ina"].to_value(u.mA / u.cm**2))
    assert np.abs(v[3::4] - ref["v_soma"][:200]).max() < 1e-8 and v.max() > 0
    assert ina.min() < -0.1  # the sodium current of the spikes, inward


def test_calcium_accumulates_to_the_shell_balance():
    # a clamped compartment: [Ca]_i settles where the Ca influx through a Morris-Lecar
    # channel (Nernst reversal at [Ca]_i) balances the shell's decay; SK follows [Ca]_i
    g_ca, tau, depth, c_rest, c_out, z = 0.5, 20.0, 0.1, 5e-5, 2.0, 2
    with jax.enable_x64(True):
        cell = D.Cell(D.Morphology.cylinder(20 * u.um, 20 * u.um), ncomp=1)
        ca = nd.dyn.Ion("Ca", z=z, C_in=c_rest * u.mM, C_out=c_out * u.mM,
                        decay=nd.dyn.CalciumDecay(tau=tau * u.ms, depth=depth * u.um))  # fmt: skip
        cell.paint(
            "all",
            [nd.dyn.MorrisLecarCalcium(g_max=g_ca * MS_CM2), nd.dyn.SKPotassium(g_max=1 * MS_CM2),
             nd.dyn.Leak(g_max=0.1 * MS_CM2, E=-65 * u.mV)],
            ions=[ca],
        )  # fmt: skip
        loc = cell.location(0, 0.5)
        cell.place(loc, D.VClamp(dur1=900 * u.ms, amp1=-20 * u.mV, rs=1e-4 * u.Mohm))
        mech = cell.mechanisms[0].mech
        mons = {"v": cell.V_at(loc), "c": cell.state_at(loc, "Ca", "c"),
                "m": cell.state_at(loc, mech, "ISK__m")}  # fmt: skip
        assert cell.state_at(loc, "ISK", "m").painted is mons["m"].painted
        res = nd.run(cell, 800 * u.ms, dt=0.25 * u.ms, monitors=mons)  # SK: tau 55 ms
        v = float(res["v"][-1].to_value(u.mV))
        c_end, m_end = float(res["c"][-1]), float(res["m"][-1])
    F, R, T = 96485.33212, 8.314462618, 6.3 + 273.15
    m_inf = 0.5 * (1 + math.tanh((v + 1.2) / 18))

    def balance(c):  # dC/dt in mM/ms
        E = 1e3 * R * T / (z * F) * math.log(c_out / c)  # mV
        i = g_ca * m_inf * (v - E) * 1e-2  # mS/cm2 x mV = uA/cm2; x 1e-2: A/m2
        return -i / (z * F * depth * 1e-6) * 1e-3 - (c - c_rest) / tau

    c_star = brentq(balance, c_rest, 10.0)
    assert c_star > 10 * c_rest
    assert c_end == pytest.approx(c_star, rel=1e-6)
    r = (c_star / 0.025) ** 2
    assert m_end == pytest.approx(r / (1 + r), rel=1e-6)


def test_a_channel_whose_ion_is_missing_names_both():
    cell = D.Cell(D.Morphology.cylinder(20 * u.um, 20 * u.um), ncomp=1)
    with pytest.raises(ValueError, match=r"'ISK'.*'Ca'"):
        cell.paint("all", nd.dyn.SKPotassium())
    with pytest.raises(ValueError, match=r"Cell.paint\('all'\).*ion 'Na' is carried by no"):
        cell.paint("all", nd.dyn.HHPotassium(), ions=[nd.dyn.Ion("Na", E=50 * u.mV)])
    cell.paint("all", nd.dyn.HHSodium())
    with pytest.raises(ValueError, match="already painted"):
        cell.paint("all", nd.dyn.HHSodium())
    cell.paint("all", nd.dyn.HHPotassium())  # another channel: fine
