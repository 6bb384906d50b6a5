"""Channels, ions and the membrane vector field against independent references: rate
formulas typed from the papers (numpy), analytic gate relaxation and scipy integration,
the Hodgkin-Huxley resting potential, the Nernst equation and calcium steady states."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.integrate import solve_ivp

import neurodyn.units as u
from neurodyn.dyn._channel_library import (
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
from neurodyn.dyn._channels import (
    AlphaBetaGate,
    CalciumDecay,
    CustomChannel,
    InfTauGate,
    Ion,
    nernst,
)
from neurodyn.dyn._membrane import Membrane

G = u.mS / u.cm**2
PER_MS = u.ms**-1
R, F = 8.314462618, 96485.33212  # J/(mol K), C/mol
# voltages avoiding the removable singularities of the rate formulas (tested separately)
V = np.linspace(-99.37, 59.71, 97)


@pytest.fixture
def x64():
    with jax.enable_x64(True):
        yield


def _rates(gate, v):
    a, b = gate.rates(jnp.asarray(v))
    return np.asarray(a), np.asarray(b)


def _inf_tau(gate, v):
    v = jnp.asarray(v)
    return np.asarray(gate.steady_state(v)), np.asarray(gate.time_constant(v))


# -- rates against the published formulas ------------------------------------------------


def test_hodgkin_huxley_rates(x64):
    na, k = HHSodium(), HHPotassium()
    am, bm = _rates(na.gates["m"], V)
    ah, bh = _rates(na.gates["h"], V)
    an, bn = _rates(k.gates["n"], V)
    np.testing.assert_allclose(
        am, 0.1 * (V + 40) / (1 - np.exp(-(V + 40) / 10)), rtol=1e-10, atol=1e-13
    )
    np.testing.assert_allclose(bm, 4 * np.exp(-(V + 65) / 18), rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(ah, 0.07 * np.exp(-(V + 65) / 20), rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(bh, 1 / (1 + np.exp(-(V + 35) / 10)), rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(
        an, 0.01 * (V + 55) / (1 - np.exp(-(V + 55) / 10)), rtol=1e-10, atol=1e-13
    )
    np.testing.assert_allclose(bn, 0.125 * np.exp(-(V + 65) / 80), rtol=1e-10, atol=1e-13)
    assert (na.gates["m"].power, na.gates["h"].power, k.gates["n"].power) == (3, 1, 4)
    assert (na.ion, k.ion, na.E.to_value(u.mV), k.E.to_value(u.mV)) == ("Na", "K", 50, -77)


def test_traub_miles_rates_follow_V_T(x64):
    vt = -58.0
    na, k = TraubSodium(V_T=vt * u.mV), TraubPotassium(V_T=vt * u.mV)
    w = V - vt
    am, bm = _rates(na.gates["m"], V)
    ah, bh = _rates(na.gates["h"], V)
    an, bn = _rates(k.gates["n"], V)
    np.testing.assert_allclose(
        am, 0.32 * (13 - w) / (np.exp((13 - w) / 4) - 1), rtol=1e-10, atol=1e-13
    )
    np.testing.assert_allclose(
        bm, 0.28 * (w - 40) / (np.exp((w - 40) / 5) - 1), rtol=1e-10, atol=1e-13
    )
    np.testing.assert_allclose(ah, 0.128 * np.exp((17 - w) / 18), rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(bh, 4 / (1 + np.exp((40 - w) / 5)), rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(
        an, 0.032 * (15 - w) / (np.exp((15 - w) / 5) - 1), rtol=1e-10, atol=1e-13
    )
    np.testing.assert_allclose(bn, 0.5 * np.exp((10 - w) / 40), rtol=1e-10, atol=1e-13)


def test_wang_buzsaki_rates_and_instantaneous_m(x64):
    na, k = WangBuzsakiSodium(), WangBuzsakiPotassium()
    am = 0.1 * (V + 35) / (1 - np.exp(-0.1 * (V + 35)))
    bm = 4 * np.exp(-(V + 60) / 18)
    m = na.gates["m"]
    assert m.instantaneous and m.power == 3 and na.variables() == ("h",)
    np.testing.assert_allclose(
        np.asarray(m.steady_state(jnp.asarray(V))), am / (am + bm), rtol=1e-10, atol=1e-13
    )
    ah, bh = _rates(na.gates["h"], V)
    np.testing.assert_allclose(ah, 0.07 * np.exp(-(V + 58) / 20), rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(bh, 1 / (np.exp(-0.1 * (V + 28)) + 1), rtol=1e-10, atol=1e-13)
    an, bn = _rates(k.gates["n"], V)
    np.testing.assert_allclose(
        an, 0.01 * (V + 34) / (1 - np.exp(-0.1 * (V + 34))), rtol=1e-10, atol=1e-13
    )
    np.testing.assert_allclose(bn, 0.125 * np.exp(-(V + 44) / 80), rtol=1e-10, atol=1e-13)
    assert na.phi == 5 and k.phi == 5


def test_morris_lecar_gates(x64):
    ca, k = MorrisLecarCalcium(), MorrisLecarPotassium()
    assert ca.variables() == () and k.variables() == ("w",)
    m_inf = np.asarray(ca.gates["m"].steady_state(jnp.asarray(V)))
    np.testing.assert_allclose(m_inf, 0.5 * (1 + np.tanh((V + 1.2) / 18)), rtol=1e-10, atol=1e-13)
    w_inf, tau_w = _inf_tau(k.gates["w"], V)
    np.testing.assert_allclose(w_inf, 0.5 * (1 + np.tanh((V - 2) / 30)), rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(tau_w, 1 / np.cosh((V - 2) / 60), rtol=1e-10, atol=1e-13)
    assert k.phi == 0.04


def test_cortical_and_thalamic_gates(x64):
    # M current (Pospischil 2008, tau_max 608 ms)
    p_inf, tau_p = _inf_tau(MCurrent().gates["p"], V)
    np.testing.assert_allclose(p_inf, 1 / (1 + np.exp(-(V + 35) / 10)), rtol=1e-10, atol=1e-13)
    tau_ref = 608 / (3.3 * np.exp((V + 35) / 20) + np.exp(-(V + 35) / 20))
    np.testing.assert_allclose(tau_p, tau_ref, rtol=1e-10, atol=1e-13)
    # A current (Connor-Stevens, Dayan & Abbott eq. 6.4)
    ia = ATypePotassium()
    a_inf, tau_a = _inf_tau(ia.gates["a"], V)
    b_inf, tau_b = _inf_tau(ia.gates["b"], V)
    a_ref = (0.0761 * np.exp(0.0314 * (V + 94.22)) / (1 + np.exp(0.0346 * (V + 1.17)))) ** (1 / 3)
    np.testing.assert_allclose(a_inf, a_ref, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(
        tau_a, 0.3632 + 1.158 / (1 + np.exp(0.0497 * (V + 55.96))), rtol=1e-10, atol=1e-13
    )
    np.testing.assert_allclose(
        b_inf, (1 / (1 + np.exp(0.0688 * (V + 53.3)))) ** 4, rtol=1e-10, atol=1e-13
    )
    np.testing.assert_allclose(
        tau_b, 1.24 + 2.678 / (1 + np.exp(0.0624 * (V + 50))), rtol=1e-10, atol=1e-13
    )
    # T-type Ca (Huguenard & McCormick 1992), with a shift
    it = TTypeCalcium(V_shift=2 * u.mV)
    w = V + 2
    m_inf, tau_m = _inf_tau(it.gates["m"], V)
    h_inf, tau_h = _inf_tau(it.gates["h"], V)
    np.testing.assert_allclose(m_inf, 1 / (1 + np.exp(-(w + 57) / 6.2)), rtol=1e-10, atol=1e-13)
    tm = 0.612 + 1 / (np.exp(-(w + 132) / 16.7) + np.exp((w + 16.8) / 18.2))
    np.testing.assert_allclose(tau_m, tm, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(h_inf, 1 / (1 + np.exp((w + 81) / 4)), rtol=1e-10, atol=1e-13)
    th = [np.exp((x + 467) / 66.6) if x < -80 else np.exp(-(x + 22) / 10.5) + 28 for x in w]
    np.testing.assert_allclose(tau_h, th, rtol=1e-10, atol=1e-13)
    assert TTypeCalcium(instantaneous_m=True).variables() == ("h",)
    # HVA Ca (Reuveni 1993 / Pospischil 2008)
    hva = HVACalcium()
    aq, bq = _rates(hva.gates["q"], V)
    ar, br = _rates(hva.gates["r"], V)
    np.testing.assert_allclose(
        aq, 0.055 * (-27 - V) / (np.exp((-27 - V) / 3.8) - 1), rtol=1e-10, atol=1e-13
    )
    np.testing.assert_allclose(bq, 0.94 * np.exp((-75 - V) / 17), rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(ar, 0.000457 * np.exp((-13 - V) / 50), rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(br, 0.0065 / (np.exp((-15 - V) / 28) + 1), rtol=1e-10, atol=1e-13)
    # Ih (Huguenard & McCormick 1992)
    ih = HCurrent()
    h_inf, tau = _inf_tau(ih.gates["m"], V)
    np.testing.assert_allclose(h_inf, 1 / (1 + np.exp((V + 75) / 5.5)), rtol=1e-10, atol=1e-13)
    tau_ref = 1 / (np.exp(-14.59 - 0.086 * V) + np.exp(-1.87 + 0.0701 * V))
    np.testing.assert_allclose(tau, tau_ref, rtol=1e-10, atol=1e-13)
    assert ih.ion is None and ih.E.to_value(u.mV) == -43


def test_sk_gate_reads_calcium(x64):
    sk = SKPotassium()
    ca = np.geomspace(1e-5, 1.0, 40)  # mM
    m_inf, tau = _inf_tau(sk.gates["m"], ca)
    r = (ca / 0.025) ** 2
    np.testing.assert_allclose(m_inf, r / (1 + r), rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(tau, np.maximum(1 / (0.03 * (1 + r)), 0.1), rtol=1e-10, atol=1e-13)
    assert sk.reads_calcium and sk.gates["m"].variable == "Ca"
    # at [Ca]_i = C_half the gate is half open, whatever V
    ss = sk.steady_state(jnp.array([-80.0, 0.0]) * u.mV, Ca=0.025 * u.mM)
    np.testing.assert_allclose(np.asarray(ss["m"]), 0.5, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize(
    "gate, v0, limit",
    [
        (HHSodium().gates["m"], -40.0, 1.0),  # alpha_m
        (HHPotassium().gates["n"], -55.0, 0.1),  # alpha_n
        (TraubSodium().gates["m"], -63.0 + 13, 1.28),  # alpha_m at 13 mV above V_T
        (WangBuzsakiPotassium().gates["n"], -34.0, 0.1),
        (HVACalcium().gates["q"], -27.0, 0.209),
    ],
)
def test_rates_are_finite_and_continuous_at_removable_singularities(gate, v0, limit, x64):
    a, _ = _rates(gate, np.array([v0 - 1e-3, v0, v0 + 1e-3]))
    assert np.all(np.isfinite(a))
    np.testing.assert_allclose(a, limit, rtol=1e-3)
    grad = jax.grad(lambda v: gate.rates(v)[0])(v0)
    assert np.isfinite(float(grad))


# -- gate kinetics -----------------------------------------------------------------------


@pytest.mark.parametrize("clamp", [-80.0, -30.0, 10.0])
def test_gate_relaxes_exponentially_at_voltage_clamp(clamp, x64):
    """solve_ivp on the channel's derivative vs x_inf + (x0 - x_inf) exp(-t / tau), with
    x_inf and tau from HH's alpha/beta typed here."""
    k = HHPotassium()
    an = 0.01 * (clamp + 55) / (1 - np.exp(-(clamp + 55) / 10))
    bn = 0.125 * np.exp(-(clamp + 65) / 80)
    x_inf, tau = an / (an + bn), 1 / (an + bn)
    Vc = clamp * u.mV

    def rhs(t, x):
        return [float(k.derivatives(Vc, {"n": x[0]})["n"].to_value(PER_MS))]

    t = np.linspace(0, 20, 41)
    sol = solve_ivp(rhs, (0, 20), [0.9], t_eval=t, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(sol.y[0], x_inf + (0.9 - x_inf) * np.exp(-t / tau), atol=1e-7)


def test_inf_tau_gate_relaxation_with_rate_factor(x64):
    gate = InfTauGate(lambda v: 0.2 + 0 * v, lambda v: 4.0 + 0 * v)
    t = np.linspace(0, 10, 11)
    sol = solve_ivp(
        lambda t, x: [float(gate.derivative(0.0, x[0], 2.0))],
        (0, 10),
        [1.0],
        t_eval=t,
        rtol=1e-10,
        atol=1e-12,
    )
    np.testing.assert_allclose(sol.y[0], 0.2 + 0.8 * np.exp(-t * 2.0 / 4.0), atol=1e-7)


# -- the membrane ------------------------------------------------------------------------


def _hh_membrane(g_L=0.3):
    return Membrane([HHSodium(), HHPotassium(), Leak(g_max=g_L * G, E=-54.387 * u.mV)])


def test_hh_resting_potential_is_minus_65_mV(x64):
    rest = _hh_membrane(0.3).rest_potential().to_value(u.mV)
    assert abs(rest + 65.0) < 0.1
    # with a tenth of HH's leak (BrainPy's default g_L = 0.03) the rest is not -65 mV
    assert abs(_hh_membrane(0.03).rest_potential().to_value(u.mV) + 65.0) > 3.0


@pytest.mark.parametrize(
    "g_na, g_k, g_m, g_l, e_l, v_t, rest",
    [
        (56.0, 6.0, 0.075, 0.0205, -70.3, -56.2, -71.9),
        (58.0, 3.9, 0.0787, 0.038, -70.4, -57.9, -71.4),
    ],
)
def test_pospischil_cells_rest_where_published(g_na, g_k, g_m, g_l, e_l, v_t, rest, x64):
    """Pospischil et al. (2008) regular- and fast-spiking cells (Traub Na/K with V_T, M
    current, leak); resting potentials as listed for them in PySONIC (Lemaire et al.)."""
    mem = Membrane(
        [
            TraubSodium(g_na * G, V_T=v_t * u.mV),
            TraubPotassium(g_k * G, V_T=v_t * u.mV),
            MCurrent(g_m * G),
            Leak(g_l * G, E=e_l * u.mV),
        ]
    )
    v_rest = mem.rest_potential(-70 * u.mV)
    assert abs(v_rest.to_value(u.mV) - rest) < 0.05
    i = mem.current_density(v_rest, mem.steady_state(v_rest)).to_value(u.uA / u.cm**2)
    assert abs(float(i)) < 1e-9
    with pytest.raises(RuntimeError, match="no convergence from V0=-20.0 mV"):
        mem.rest_potential(-20 * u.mV, max_iter=1)


def _hh_reference(v, m, h, n, gL):
    """HH's equations written out (6.3 C): dV/dt (C = 1), dm, dh, dn."""
    am = 0.1 * (v + 40) / (1 - np.exp(-(v + 40) / 10))
    bm = 4 * np.exp(-(v + 65) / 18)
    ah, bh = 0.07 * np.exp(-(v + 65) / 20), 1 / (1 + np.exp(-(v + 35) / 10))
    an = 0.01 * (v + 55) / (1 - np.exp(-(v + 55) / 10))
    bn = 0.125 * np.exp(-(v + 65) / 80)
    i = 120 * m**3 * h * (v - 50) + 36 * n**4 * (v + 77) + gL * (v + 54.387)
    return -i, am * (1 - m) - bm * m, ah * (1 - h) - bh * h, an * (1 - n) - bn * n


def test_membrane_vector_field_matches_hodgkin_huxley(x64):
    rng = np.random.default_rng(1)
    v, m, h, n = V, *rng.uniform(0, 1, (3, V.size))
    mem = _hh_membrane()
    assert mem.variables() == {
        "INa.m": u.dimensionless,
        "INa.h": u.dimensionless,
        "IK.n": u.dimensionless,
    }
    y = {"INa.m": jnp.asarray(m), "INa.h": jnp.asarray(h), "IK.n": jnp.asarray(n)}
    dv, dm, dh, dn = _hh_reference(v, m, h, n, 0.3)
    d = mem.derivatives(v * u.mV, y)
    np.testing.assert_allclose(np.asarray(d["INa.m"].to_value(PER_MS)), dm, rtol=1e-10)
    np.testing.assert_allclose(np.asarray(d["INa.h"].to_value(PER_MS)), dh, rtol=1e-10)
    np.testing.assert_allclose(np.asarray(d["IK.n"].to_value(PER_MS)), dn, rtol=1e-10)
    dV = mem.voltage_derivative(v * u.mV, y).to_value(u.mV / u.ms)
    np.testing.assert_allclose(np.asarray(dV), dv, rtol=1e-10, atol=1e-10)
    i_ext = 10 * u.uA / u.cm**2
    dV10 = mem.voltage_derivative(v * u.mV, y, i_ext).to_value(u.mV / u.ms)
    np.testing.assert_allclose(np.asarray(dV10), dv + 10, rtol=1e-10, atol=1e-10)


def test_wang_buzsaki_and_morris_lecar_vector_fields(x64):
    rng = np.random.default_rng(2)
    h, n = rng.uniform(0, 1, (2, V.size))
    wb = Membrane([WangBuzsakiSodium(), WangBuzsakiPotassium(), Leak(g_max=0.1 * G, E=-65 * u.mV)])
    am = 0.1 * (V + 35) / (1 - np.exp(-0.1 * (V + 35)))
    m_inf = am / (am + 4 * np.exp(-(V + 60) / 18))
    i = 35 * m_inf**3 * h * (V - 55) + 9 * n**4 * (V + 90) + 0.1 * (V + 65)
    y = {"INa.h": jnp.asarray(h), "IK.n": jnp.asarray(n)}
    got = wb.current_density(V * u.mV, y).to_value(u.uA / u.cm**2)
    np.testing.assert_allclose(np.asarray(got), i, rtol=1e-10, atol=1e-10)
    ah, bh = 0.07 * np.exp(-(V + 58) / 20), 1 / (np.exp(-0.1 * (V + 28)) + 1)
    dh = wb.derivatives(V * u.mV, y)["INa.h"].to_value(PER_MS)
    np.testing.assert_allclose(np.asarray(dh), 5 * (ah * (1 - h) - bh * h), rtol=1e-10)

    ml = Membrane(
        [MorrisLecarCalcium(), MorrisLecarPotassium(), Leak(g_max=2 * G, E=-60 * u.mV)],
        C=20 * u.uF / u.cm**2,
    )
    w = jnp.asarray(n)
    m_inf = 0.5 * (1 + np.tanh((V + 1.2) / 18))
    i = 4.4 * m_inf * (V - 120) + 8 * n * (V + 84) + 2 * (V + 60)
    dV = ml.voltage_derivative(V * u.mV, {"IK.w": w}).to_value(u.mV / u.ms)
    np.testing.assert_allclose(np.asarray(dV), -i / 20, rtol=1e-10, atol=1e-10)
    w_inf, tau_w = 0.5 * (1 + np.tanh((V - 2) / 30)), 1 / np.cosh((V - 2) / 60)
    dw = ml.derivatives(V * u.mV, {"IK.w": w})["IK.w"].to_value(PER_MS)
    np.testing.assert_allclose(np.asarray(dw), 0.04 * (w_inf - n) / tau_w, rtol=1e-10)


def test_q10_scaling_against_hand_computation(x64):
    y = {"INa.m": 0.3, "INa.h": 0.4, "IK.n": 0.5}
    Vc = -50 * u.mV
    base = _hh_membrane().derivatives(Vc, y)
    for T, factor in [(6.3, 1.0), (16.3, 3.0), (20.0, 3.0 ** ((20.0 - 6.3) / 10))]:
        mem = Membrane(_hh_membrane().channels, temperature=T * u.celsius)
        d = mem.derivatives(Vc, y)
        for k in y:
            ratio = d[k].to_value(PER_MS) / base[k].to_value(PER_MS)
            np.testing.assert_allclose(float(ratio), factor, rtol=1e-10, atol=1e-13)
    # a temperature in kelvin works the same; phi multiplies the q10 factor
    na = HHSodium(phi=2.0)
    f = na.rate_factor((20.0 + 273.15) * u.kelvin)
    np.testing.assert_allclose(float(f), 2.0 * 3.0 ** ((20.0 - 6.3) / 10), rtol=1e-10, atol=1e-13)
    assert TraubSodium().rate_factor(36 * u.celsius) == 1.0  # q10 = 1: no dependence
    # currents do not depend on temperature
    i0 = _hh_membrane().current_density(Vc, y)
    i1 = Membrane(_hh_membrane().channels, temperature=30 * u.celsius).current_density(Vc, y)
    assert float(i0.to_value(u.uA / u.cm**2)) == float(i1.to_value(u.uA / u.cm**2))


def test_nernst_against_the_formula(x64):
    E = nernst(1, 140 * u.mM, 5 * u.mM, 37 * u.celsius).to_value(u.mV)
    expected = 1e3 * R * 310.15 / F * np.log(5 / 140)
    np.testing.assert_allclose(float(E), expected, rtol=1e-10, atol=1e-13)
    assert -90 < float(E) < -88
    # a Nernst K+ ion sets the K channel's reversal, at the membrane temperature
    K = Ion("K", z=1, C_in=140 * u.mM, C_out=5 * u.mM)
    mem = Membrane([HHSodium(), HHPotassium(), Leak()], ions=[K], temperature=37 * u.celsius)
    y = {"INa.m": 0.0, "INa.h": 0.0, "IK.n": 1.0}
    i_k = mem.channel_currents(-50 * u.mV, y)["IK"].to_value(u.uA / u.cm**2)
    np.testing.assert_allclose(float(i_k), 36 * (-50 - expected), rtol=1e-10, atol=1e-13)


def test_calcium_decay_steady_state_under_a_constant_current(x64):
    tau, depth, c_rest, g, E = 5.0, 0.1, 2.4e-4, 0.5, 120.0  # ms, um, mM, mS/cm2, mV
    ca_ch = CustomChannel("ICa", ion="Ca", g_max=g * G, gates={})
    ion = Ion(
        "Ca",
        E=E * u.mV,
        z=2,
        C_in=c_rest * u.mM,
        decay=CalciumDecay(tau=tau * u.ms, depth=depth * u.um),
    )
    mem = Membrane([ca_ch], ions=[ion])
    assert mem.variables() == {"Ca.c": u.mM}
    Vc = -20.0
    I = g * (Vc - E)  # uA/cm2 (inward, negative)
    # dc/dt = -I / (2 F d) - (c - c_rest) / tau;  I: uA/cm2 -> A/m2 x 1e-2; d: um -> m x 1e-6
    influx = -I * 1e-2 / (2 * F * depth * 1e-6)  # mol/m3/s = mM/s
    c_star = c_rest + influx * 1e-3 * tau
    sol = solve_ivp(
        lambda t, c: [
            float(mem.derivatives(Vc * u.mV, {"Ca.c": c[0] * u.mM})["Ca.c"].to_value(u.mM / u.ms))
        ],
        (0, 60),
        [c_rest],
        rtol=1e-10,
        atol=1e-14,
    )
    np.testing.assert_allclose(sol.y[0, -1], c_star, rtol=1e-5)
    np.testing.assert_allclose(
        float(ion.decay.steady_state(I * u.uA / u.cm**2, 2, c_rest * u.mM).to_value(u.mM)),
        c_star,
        rtol=1e-12,
    )
    # influx_only drops an outward (removing) current term
    out = CalciumDecay(influx_only=True).derivative(
        c_rest * u.mM, 5 * u.uA / u.cm**2, 2, c_rest * u.mM
    )
    assert float(out.to_value(u.mM / u.ms)) == 0.0


def test_nernst_calcium_follows_ca_and_drives_sk(x64):
    ion = Ion("Ca", z=2, C_in=1e-4 * u.mM, C_out=2 * u.mM, decay=CalciumDecay())
    mem = Membrane([HVACalcium(), SKPotassium(), Leak()], ions=[ion], temperature=36 * u.celsius)
    y = mem.steady_state(jnp.full((3,), -60.0) * u.mV)
    np.testing.assert_allclose(np.asarray(y["Ca.c"].to_value(u.mM)), 1e-4)
    y2 = dict(
        y, **{"Ca.c": jnp.full((3,), 2e-4) * u.mM, "ICaL.q": jnp.ones(3), "ICaL.r": jnp.ones(3)}
    )
    i1 = mem.channel_currents(0 * u.mV, dict(y, **{"ICaL.q": jnp.ones(3), "ICaL.r": jnp.ones(3)}))
    i2 = mem.channel_currents(0 * u.mV, y2)
    E1 = -i1["ICaL"].to_value(u.uA / u.cm**2) / 0.1  # I = g (0 - E)
    E2 = -i2["ICaL"].to_value(u.uA / u.cm**2) / 0.1
    np.testing.assert_allclose(np.asarray(E1 - E2), 1e3 * R * 309.15 / (2 * F) * np.log(2), 1e-9)
    # SK's gate relaxes toward m_inf([Ca]_i) at 3^((36 - 22)/10) times the 22 C rate
    ca = 0.025
    y3 = dict(y, **{"Ca.c": jnp.full((3,), ca) * u.mM, "ISK.m": jnp.zeros(3)})
    dm = mem.derivatives(-60 * u.mV, y3)["ISK.m"].to_value(PER_MS)
    np.testing.assert_allclose(
        np.asarray(dm), 3.0**1.4 * 0.5 / (1 / (0.03 * 2)), rtol=1e-10, atol=1e-13
    )


# -- shapes, jit, grad -------------------------------------------------------------------


def _full_membrane():
    ions = [Ion("Ca", z=2, C_in=2.4e-4 * u.mM, C_out=2 * u.mM, decay=CalciumDecay())]
    chans = [
        TraubSodium(),
        TraubPotassium(),
        Leak(g_max=0.05 * G, E=-70 * u.mV),
        MCurrent(),
        TTypeCalcium(),
        HVACalcium(),
        HCurrent(),
        SKPotassium(),
        ATypePotassium(),
    ]
    return Membrane(chans, ions=ions, temperature=36 * u.celsius)


def test_shapes_batch_axis_and_jit():
    """Shapes (3,), (2, 3), (4, 2, 3) give, element by element, the numbers of one flat
    eager evaluation; a batch axis by vmap too."""
    mem = _full_membrane()
    V24 = jnp.linspace(-90.0, 20.0, 24) * u.mV
    y24 = mem.steady_state(V24)
    assert set(y24) == set(mem.variables())
    # away from the steady state (where the derivatives are rounding noise)
    y24 = {k: v * 2.0 if k == "Ca.c" else 0.8 * v + 0.1 for k, v in y24.items()}
    d24 = mem.derivatives(V24, y24)  # eager
    i24 = mem.current_density(V24, y24)
    for k, val in d24.items():
        val.to(mem.variables()[k] / u.ms)  # units of variable / ms
        assert np.all(np.isfinite(np.asarray(val.mantissa)))

    @jax.jit
    def field(V, y):
        return mem.steady_state(V), mem.derivatives(V, y), mem.current_density(V, y)

    def close(a, b):
        a, b = np.asarray(a), np.asarray(b)
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4 * np.abs(b).max())

    for shape in [(3,), (2, 3), (4, 2, 3)]:
        n = int(np.prod(shape))
        ss, d, i = field(V24[:n].reshape(shape), {k: v[:n].reshape(shape) for k, v in y24.items()})
        assert all(jnp.shape(getattr(v, "mantissa", v)) == shape for v in ss.values())
        assert i.shape == shape and i.unit.dim is (u.uA / u.cm**2).dim
        close(i.mantissa.reshape(-1), i24.mantissa[:n])
        for k, val in d.items():
            assert val.shape == shape
            close(val.to(d24[k].unit).mantissa.reshape(-1), d24[k].mantissa[:n])
    batched = jax.vmap(mem.current_density)(
        V24.reshape(4, 6), {k: v.reshape(4, 6) for k, v in y24.items()}
    )
    close(batched.mantissa.reshape(-1), i24.mantissa)


def test_gradients_in_V_and_in_g_max(x64):
    mem = _full_membrane()

    def i_ss(v):
        Vq = v * u.mV
        return mem.current_density(Vq, mem.steady_state(Vq)).to_value(u.uA / u.cm**2)

    v0, h = -63.0, 1e-5
    fd = (i_ss(v0 + h) - i_ss(v0 - h)) / (2 * h)
    np.testing.assert_allclose(float(jax.grad(i_ss)(v0)), float(fd), rtol=1e-6)

    def leak_current(g):  # a membrane built inside a traced function
        m = Membrane([Leak(g_max=g * G, E=-70 * u.mV)])
        return m.current_density(-50 * u.mV, {}).to_value(u.uA / u.cm**2)

    assert float(jax.jit(jax.grad(leak_current))(0.3)) == pytest.approx(20.0)


# -- validation --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, err, match",
    [
        (lambda: HHSodium(g_max=-1 * G), ValueError, r"HHSodium 'INa': g_max must be >= 0"),
        (lambda: HHSodium(g_max=120 * u.mV), u.UnitMismatchError, "parameter g_max must have"),
        (lambda: Leak(g_max=0.3), u.UnitMismatchError, "parameter g_max needs a unit"),
        (lambda: HHPotassium(E=-77), u.UnitMismatchError, "'IK': parameter E needs a unit"),
        (lambda: HHSodium(q10=0.0), ValueError, "'INa': q10 must be > 0"),
        (lambda: TraubSodium(q10=3.0), ValueError, "'INa': q10=3.0 needs T_ref"),
        (lambda: HHSodium(T_ref=6.3 * u.mV), u.UnitMismatchError, "parameter T_ref"),
        (lambda: TraubSodium(V_T=-63), u.UnitMismatchError, "parameter V_T needs a unit"),
        (lambda: HHSodium(name="a.b"), ValueError, "name must be a non-empty string"),
        (lambda: MCurrent(tau_max=0 * u.ms), ValueError, "'IM': tau_max must be > 0"),
        (lambda: SKPotassium(n=0), ValueError, r"n \(binding sites\) must be a positive"),
        (lambda: CustomChannel("X", ion=None, g_max=1 * G, gates={}), ValueError, "give the reve"),
        (
            lambda: Membrane([CustomChannel("X", ion="Na", g_max=1 * G, gates={})]),
            ValueError,
            r"channel 'X' has no reversal potential; give it E= or add ions=\[Ion\('Na'",
        ),
        (
            lambda: CustomChannel("X", ion=None, g_max=1 * G, E=0 * u.mV, gates={"m": 1}),
            TypeError,
            "'X': gate 'm' must be a gate object",
        ),
        (lambda: AlphaBetaGate(1.0, jnp.exp), TypeError, "alpha and beta must be functions"),
        (lambda: InfTauGate(jnp.exp, jnp.exp, power=-1), ValueError, "power must be > 0"),
        (lambda: InfTauGate(jnp.exp, jnp.exp, variable="K"), ValueError, "variable must be"),
        (lambda: InfTauGate(jnp.exp), TypeError, "tau may be None only"),
        (lambda: CalciumDecay(tau=0 * u.ms), ValueError, "CalciumDecay: tau must be > 0"),
        (lambda: CalciumDecay(depth=-1 * u.um), ValueError, "CalciumDecay: depth must be > 0"),
        (lambda: CalciumDecay(tau=5), u.UnitMismatchError, "parameter tau needs a unit of ms"),
        (
            lambda: Ion("Ca", z=2, C_in=0 * u.mM, C_out=2 * u.mM),
            ValueError,
            "Ion 'Ca': C_in must be > 0",
        ),
        (lambda: Ion("K", z=1, C_in=140 * u.mM, C_out=-5 * u.mM), ValueError, "C_out must be"),
        (lambda: Ion("K", z=1, C_in=140 * u.mV, C_out=5 * u.mM), u.UnitMismatchError, "C_in"),
        (lambda: Ion("K", z=0, C_in=140 * u.mM, C_out=5 * u.mM), ValueError, "non-zero integer"),
        (lambda: Ion("K"), ValueError, "'K': needs a fixed reversal E=... or z, C_in and C_out"),
        (
            lambda: Ion("K", E=-90 * u.mV, z=1, C_in=140 * u.mM, C_out=5 * u.mM),
            ValueError,
            "either a fixed E or the Nernst",
        ),
        (
            lambda: Ion("Ca", E=120 * u.mV, decay=CalciumDecay()),
            ValueError,
            "decay=\\) need the valence z and the resting concentration C_in",
        ),
    ],
)
def test_construction_errors(make, err, match):
    with pytest.raises(err, match=match):
        make()


def test_membrane_errors():
    na, k, leak = HHSodium(), HHPotassium(), Leak()
    with pytest.raises(ValueError, match=r"duplicate channel names \['IK'\]"):
        Membrane([na, k, HHPotassium()])
    with pytest.raises(ValueError, match=r"ion 'Cl' is carried by no channel"):
        Membrane([na, k, leak], ions=[Ion("Cl", E=-70 * u.mV)])
    with pytest.raises(ValueError, match=r"duplicate ion names \['K'\]"):
        Membrane([na, k], ions=[Ion("K", E=-77 * u.mV), Ion("K", E=-80 * u.mV)])
    with pytest.raises(ValueError, match=r"channel 'ISK' reads \[Ca\]_i, but the membrane has"):
        Membrane([SKPotassium(), leak])
    with pytest.raises(ValueError, match=r"channel 'ISK' reads \[Ca\]_i"):
        Membrane([SKPotassium(), HVACalcium()], ions=[Ion("Ca", E=120 * u.mV)])
    with pytest.raises(ValueError, match=r"channel 'IK' sets E=-80\. mV but the membrane has"):
        Membrane([HHPotassium(E=-80 * u.mV)], ions=[Ion("K", E=-77 * u.mV)])
    with pytest.raises(ValueError, match=r"ion 'K' uses the Nernst potential and needs a temp"):
        Membrane([k], ions=[Ion("K", z=1, C_in=140 * u.mM, C_out=5 * u.mM)])
    with pytest.raises(u.UnitMismatchError, match="Membrane: parameter temperature"):
        Membrane([k], temperature=36 * u.mV)
    with pytest.raises(ValueError, match="Membrane: C must be > 0"):
        Membrane([k], C=0 * u.uF / u.cm**2)
    with pytest.raises(TypeError, match="non-empty list of Channel"):
        Membrane([])
    mem = Membrane([na, k, leak])
    with pytest.raises(KeyError, match=r"lacks \['IK.n'\]"):
        mem.derivatives(-65 * u.mV, {"INa.m": 0.1, "INa.h": 0.5})
    with pytest.raises(u.UnitMismatchError, match="V must be a voltage"):
        mem.steady_state(-65.0)
    with pytest.raises(ValueError, match=r"'ISK' reads \[Ca\]_i: pass Ca="):
        SKPotassium().steady_state(-65 * u.mV)
