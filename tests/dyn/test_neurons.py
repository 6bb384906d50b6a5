"""Neuron models against analytic results and independent integrations (scipy)."""

import jax.numpy as jnp
import numpy as np
import pytest
from scipy.integrate import solve_ivp

import neurodyn as nd
import neurodyn.units as u
from neurodyn.dyn import HH, LIF, AdEx, Izhikevich, MorrisLecar, WangBuzsaki


class Single(nd.Network):
    def __init__(self, neuron):
        self.pop = neuron


def test_lif_f_i_curve_matches_the_analytic_formula():
    tau, R, t_ref, theta = 20.0, 100.0, 2.0, 15.0  # ms, MOhm, ms, mV above rest
    currents = np.linspace(100.0, 600.0, 11)  # pA; rheobase = 150 pA
    lif = LIF(
        len(currents),
        tau=tau * u.ms,
        R=R * u.Mohm,
        V_rest=-65 * u.mV,
        V_reset=-65 * u.mV,
        V_th=(-65 + theta) * u.mV,
        tau_ref=t_ref * u.ms,
        I_ext=jnp.asarray(currents) * u.pA,
    )
    res = nd.run(Single(lif), 2000 * u.ms, dt=0.01 * u.ms, monitors={"s": lif.spike})
    rates = np.asarray(res["s"]).sum(axis=0) / 2.0
    drive = R * currents * 1e-3  # mV
    expected = np.where(
        drive > theta,
        1000.0 / (t_ref + tau * np.log(drive / np.maximum(drive - theta, 1e-12))),
        0.0,
    )
    np.testing.assert_allclose(rates, expected, atol=1.0, rtol=0.01)


def _hh_rhs(t, y, i_density):
    v, m, h, n = y

    def exprel(x):
        return x / np.expm1(x) if abs(x) > 1e-9 else 1.0 - x / 2

    am, bm = exprel(-(v + 40) / 10), 4 * np.exp(-(v + 65) / 18)
    ah, bh = 0.07 * np.exp(-(v + 65) / 20), 1 / (1 + np.exp(-(v + 35) / 10))
    an, bn = 0.1 * exprel(-(v + 55) / 10), 0.125 * np.exp(-(v + 65) / 80)
    i_ion = 120 * m**3 * h * (v - 50) + 36 * n**4 * (v + 77) + 0.3 * (v + 54.387)
    return [
        (i_density - i_ion) / 1.0,
        am * (1 - m) - bm * m,
        ah * (1 - h) - bh * h,
        an * (1 - n) - bn * n,
    ]


def _upcrossings(ts, v):
    return ts[1:][(v[1:] > 0) & (v[:-1] <= 0)]


def test_hh_converges_to_the_scipy_solution_at_first_order():
    """Exponential Euler is first order: halving dt halves the distance to a tight
    LSODA solution of the same equations; spike times agree to a fraction of a ms."""
    i_density = 10.0  # uA/cm^2
    rms, spikes = {}, {}
    for dt in (0.01, 0.005):
        hh = HH(1, I_ext=(i_density * u.uA / u.cm**2 * 20000 * u.um**2).to(u.pA))
        y0 = [-65.0, float(hh.m.value[0]), float(hh.h.value[0]), float(hh.n.value[0])]
        res = nd.run(Single(hh), 50 * u.ms, dt=dt * u.ms, monitors={"V": hh.V})
        v = np.asarray(res["V"].to_value(u.mV))[:, 0]
        ts = np.asarray(res.times.to_value(u.ms))
        ref = solve_ivp(
            _hh_rhs,
            (0, 50),
            y0,
            t_eval=ts,
            args=(i_density,),
            rtol=1e-10,
            atol=1e-10,
            method="LSODA",
        ).y[0]
        rms[dt] = np.sqrt(np.mean((v - ref) ** 2))
        spikes[dt] = (_upcrossings(ts, v), _upcrossings(ts, ref))
    assert 1.6 < rms[0.01] / rms[0.005] < 2.4, rms
    nd_t, ref_t = spikes[0.005]
    assert len(nd_t) == len(ref_t) == 4
    np.testing.assert_allclose(nd_t, ref_t, atol=0.15)


def test_adex_adapts_and_izhikevich_regular_spiking():
    adex = AdEx(1, I_ext=300 * u.pA, a=4 * u.nS, b=80 * u.pA, tau_w=100 * u.ms)
    res = nd.run(Single(adex), 500 * u.ms, dt=0.05 * u.ms, monitors={"s": adex.spike})
    times = np.nonzero(np.asarray(res["s"])[:, 0])[0]
    isi = np.diff(times)
    assert len(isi) >= 3 and isi[-1] > isi[0]  # spike-frequency adaptation
    izh = Izhikevich(1, I_ext=10 * u.nA)  # RS neuron, I = 10 (R = 1 MOhm)
    res = nd.run(Single(izh), 500 * u.ms, dt=0.1 * u.ms, monitors={"s": izh.spike})
    n = int(np.asarray(res["s"]).sum())
    assert 5 <= n <= 20, n  # regular spiking at ~10-30 Hz


def test_parameter_units_are_checked():
    with pytest.raises(u.UnitMismatchError, match="LIF: parameter tau must have the dimension"):
        LIF(3, tau=20 * u.mV)
    with pytest.raises(u.UnitMismatchError, match=r"V_th needs a unit of mV.*V_th=-50 \* u.mV"):
        LIF(3, V_th=-50)
    with pytest.raises(ValueError, match="does not fit the population shape"):
        LIF(3, V_th=jnp.zeros(4) * u.mV)


def test_clock_is_required_and_refractory_holds_v():
    lif = LIF(1, tau_ref=5 * u.ms, I_ext=1000 * u.pA)
    with pytest.raises(RuntimeError, match="No clock"):
        lif.update()
    res = nd.run(Single(lif), 20 * u.ms, dt=0.1 * u.ms, monitors={"V": lif.V, "s": lif.spike})
    v = np.asarray(res["V"].to_value(u.mV))[:, 0]
    first = int(np.nonzero(np.asarray(res["s"])[:, 0])[0][0])
    np.testing.assert_allclose(v[first : first + 50], -65.0)  # held at reset for 5 ms
    assert v[first + 51] > -65.0


def test_adaptation_composes_with_lif():
    from neurodyn.dyn import Adaptation

    plain = LIF(1, I_ext=400 * u.pA, tau_ref=2 * u.ms)
    alif = LIF(
        1,
        I_ext=400 * u.pA,
        tau_ref=2 * u.ms,
        adaptation=Adaptation(a=0 * u.nS, b=50 * u.pA, tau_w=100 * u.ms),
    )
    counts = []
    for neuron in (plain, alif):
        res = nd.run(Single(neuron), 500 * u.ms, dt=0.1 * u.ms, monitors={"s": neuron.spike})
        counts.append(int(np.asarray(res["s"]).sum()))
    assert counts[1] < 0.7 * counts[0]
    assert float(alif.w.value.to_value(u.pA)[0]) > 0


def test_method_argument_is_checked():
    import neurodyn.dyn as dyn

    with pytest.raises(ValueError, match="not a fixed-step ODE method"):
        dyn.LIF(2, method="dopri5")
    with pytest.raises(ValueError, match="Unknown integration method 'nope'"):
        dyn.HH(2, method="nope")
    with pytest.raises(TypeError, match="method must be a method name"):
        dyn.ExpIF(2, method=4)


def _wb_ml_rest():
    """Resting potentials of Wang-Buzsaki and Morris-Lecar from their equations typed
    here (brentq on the steady-state current), independent of neurodyn's channels."""
    from scipy.optimize import brentq

    def exprel(x):
        return x / np.expm1(x) if abs(x) > 1e-9 else 1.0 - x / 2

    def wb(v):
        am, bm = exprel(-0.1 * (v + 35)), 4 * np.exp(-(v + 60) / 18)
        ah, bh = 0.07 * np.exp(-(v + 58) / 20), 1 / (np.exp(-0.1 * (v + 28)) + 1)
        an, bn = 0.1 * exprel(-0.1 * (v + 34)), 0.125 * np.exp(-(v + 44) / 80)
        m, h, n = am / (am + bm), ah / (ah + bh), an / (an + bn)
        return 35 * m**3 * h * (v - 55) + 9 * n**4 * (v + 90) + 0.1 * (v + 65)

    def ml(v):
        m = 0.5 * (1 + np.tanh((v + 1.2) / 18))
        w = 0.5 * (1 + np.tanh((v - 2) / 30))
        return 4.4 * m * (v - 120) + 8 * w * (v + 84) + 2 * (v + 60)

    return {"wb": brentq(wb, -70, -61), "ml": brentq(ml, -70, -55)}


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda: HH(1), -65.0),  # Hodgkin & Huxley (1952): rest at -65 mV
        (lambda: WangBuzsaki(1), "wb"),
        (lambda: MorrisLecar(1), "ml"),
    ],
)
def test_presets_rest_where_their_published_parameters_imply(make, expected):
    rest = _wb_ml_rest().get(expected, expected)
    pop = make()
    assert float(pop.membrane.rest_potential().to_value(u.mV)) == pytest.approx(rest, abs=0.05)
    # and a population started there stays there
    pop.V.value = jnp.full(1, rest) * u.mV
    for key, value in pop.steady_state(pop.V.value).items():
        getattr(pop, key).value = value
    res = nd.run(Single(pop), 200 * u.ms, dt=0.01 * u.ms, monitors={"V": pop.V})
    np.testing.assert_allclose(np.asarray(res["V"].to_value(u.mV))[-1], rest, atol=0.05)


def test_hh_with_brainpy_leak_would_not_rest_at_minus_65():
    # BrainPy's HH default g_L = 0.03 mS/cm^2 with E_L chosen for 0.3 rests at -70.7 mV
    rest = HH(1, g_L=0.03 * u.mS / u.cm**2).membrane.rest_potential()
    assert float(rest.to_value(u.mV)) == pytest.approx(-70.68, abs=0.05)
