"""Analysis of neurodyn.dyn models through model_field: checked against the equations
typed independently here (Morris-Lecar, Hodgkin-Huxley)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import brentq

import neurodyn as nd
import neurodyn.units as u
from neurodyn import analysis

AREA_CM2 = 20000e-8  # the default membrane area, 20000 µm², in cm²


def ml_typed(x, i_density, g_l=2.0, phi=0.04):
    """Morris-Lecar (Rinzel-Ermentrout values of the library's defaults); V in mV, t in
    ms, I in µA/cm², C = 20 µF/cm²."""
    v, w = x[0], x[1]
    minf = 0.5 * (1 + jnp.tanh((v + 1.2) / 18.0))
    winf = 0.5 * (1 + jnp.tanh((v - 2.0) / 30.0))
    rate = phi * jnp.cosh((v - 2.0) / 60.0)
    i_ion = 4.4 * minf * (v - 120.0) + 8.0 * w * (v + 84.0) + g_l * (v + 60.0)
    return jnp.stack([(i_density - i_ion) / 20.0, rate * (winf - w)])


def hh_typed(x, i_density):
    """Hodgkin-Huxley (g_L = 0.3 mS/cm²); V in mV, t in ms, I in µA/cm²."""
    v, m, h, n = x[0], x[1], x[2], x[3]
    am = 0.1 * (v + 40) / (1 - jnp.exp(-(v + 40) / 10))
    bm = 4 * jnp.exp(-(v + 65) / 18)
    ah = 0.07 * jnp.exp(-(v + 65) / 20)
    bh = 1 / (1 + jnp.exp(-(v + 35) / 10))
    an = 0.01 * (v + 55) / (1 - jnp.exp(-(v + 55) / 10))
    bn = 0.125 * jnp.exp(-(v + 65) / 80)
    i_ion = 120 * m**3 * h * (v - 50) + 36 * n**4 * (v + 77) + 0.3 * (v + 54.387)
    return jnp.stack(
        [i_density - i_ion, am * (1 - m) - bm * m, ah * (1 - h) - bh * h, an * (1 - n) - bn * n]
    )


def test_model_field_is_the_typed_vector_field_and_leaves_the_model_alone():
    ml = nd.dyn.MorrisLecar(1)
    f = analysis.model_field(ml, ("I_ext", "g_L"))
    assert f.var_names == ("V", "w") and f.param_units[0] == u.pA
    rng = np.random.default_rng(0)
    for v, w, i_pa, g_l in zip(
        rng.uniform(-70, 30, 5),
        rng.uniform(0, 1, 5),
        rng.uniform(-100, 30000, 5),
        (1, 2, 3, 0.5, 4),
    ):
        got = np.asarray(f(jnp.array([v, w]), jnp.array([i_pa, g_l])))
        want = np.asarray(ml_typed(jnp.array([v, w]), i_pa * 1e-6 / AREA_CM2, g_l=g_l))
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-7)
    assert float(ml.g_L.to_value(u.mS / u.cm**2)) == 2.0  # not mutated
    assert float(ml.I_ext.to_value(u.pA)) == 0.0
    # traceable: the Jacobian in x and in p
    jx = jax.jit(jax.jacfwd(f))(f.state(), jnp.array([0.0, 2.0]))
    jp = jax.jacfwd(f, argnums=1)(f.state(), jnp.array([0.0, 2.0]))
    assert jx.shape == (2, 2) and jp.shape == (2, 2)
    assert float(jp[0, 0]) == pytest.approx(1.0 / (20.0 * AREA_CM2 * 1e6), rel=1e-5)


def test_fixed_point_of_morris_lecar_matches_brentq_on_the_typed_equations():
    i_density = 30.0  # µA/cm²
    fps = analysis.fixed_points(
        nd.dyn.MorrisLecar(1), None, param="I_ext", args=(i_density * AREA_CM2 * u.uA,)
    )
    assert len(fps) == 1

    def current_balance(v):  # at an equilibrium w = w_inf(V)
        winf = 0.5 * (1 + np.tanh((v - 2.0) / 30.0))
        return float(ml_typed(jnp.array([v, winf]), i_density)[0])

    v_ref = brentq(current_balance, -80.0, 40.0, xtol=1e-12)
    fp = fps[0]
    assert fp.var_names == ("V", "w")
    assert float(fp.values["V"].to_value(u.mV)) == pytest.approx(v_ref, abs=1e-3)
    assert fp.x[1] == pytest.approx(0.5 * (1 + np.tanh((v_ref - 2.0) / 30.0)), abs=1e-5)


def test_hh_hopf_point_via_the_model_matches_the_typed_equations():
    branch = analysis.continue_equilibria(
        nd.dyn.HH(1), param="I_ext", param_unit=u.nA, p_range=(0, 3) * u.nA, ds=0.05, ds_max=0.2
    )
    typed = analysis.continue_equilibria(
        hh_typed, [-65.0, 0.05, 0.6, 0.32], 0.0, (0.0, 15.0), ds=0.5, ds_max=2.0
    )
    assert len(branch.hopfs) == 1 and len(typed.hopfs) == 1
    hopf = branch.hopfs[0]
    assert isinstance(hopf.param, u.Quantity) and hopf.param.unit == u.nA
    i_density = float(hopf.param.to_value(u.uA)) / AREA_CM2  # µA/cm²
    assert i_density == pytest.approx(typed.hopfs[0].param, abs=2e-3)
    assert i_density == pytest.approx(9.78, abs=0.01)  # Hodgkin-Huxley's value
    assert hopf.data["omega"] == pytest.approx(typed.hopfs[0].data["omega"], rel=1e-4)
    np.testing.assert_allclose(hopf.state, typed.hopfs[0].state, rtol=1e-4, atol=1e-6)
    assert branch.var_names == ("V", "m", "h", "n") and branch.param_name == "I_ext"
    assert isinstance(branch.params, u.Quantity)


def test_wrong_parameter_name_or_unit_is_refused():
    hh = nd.dyn.HH(1)
    with pytest.raises(ValueError, match=r"HH has no parameter 'g_X' to vary.*g_L.*I_ext"):
        analysis.model_field(hh, "g_X")
    with pytest.raises(u.UnitMismatchError, match=r"p_range \(HH.I_ext\) must have the dimension"):
        analysis.continue_equilibria(hh, param="I_ext", p_range=(0, 3) * u.mV)
    with pytest.raises(u.UnitMismatchError, match="unit for HH.g_L must have the dimension"):
        analysis.model_field(hh, "g_L", unit=u.nA)
    with pytest.raises(TypeError, match="needs param='I_ext'"):
        analysis.continue_equilibria(hh, p_range=(0, 3) * u.nA)
    with pytest.raises(TypeError, match="param= and param_unit= are for a neurodyn.dyn model"):
        analysis.continue_equilibria(lambda x, p: -x, [0.0], 0.0, (0, 1), param="I_ext")
    with pytest.raises(ValueError, match="a phase plane needs a model with two variables"):
        analysis.PhasePlane(hh, (-80, 40), (0, 1))


def test_phase_plane_of_a_model_in_units():
    ml = nd.dyn.MorrisLecar(1)
    pp = analysis.PhasePlane(ml, (-80 * u.mV, 40 * u.mV), (0.0, 1.0))
    assert pp.labels == ("V (mV)", "w")
    [fp] = pp.fixed_points()
    assert fp.kind == "stable focus"
    ref = analysis.fixed_points(lambda x: ml_typed(x, 0.0), [[-60.0, 0.0]])[0]
    np.testing.assert_allclose(fp.x, ref.x, atol=1e-4)
    nc = pp.nullclines(resolution=60)
    assert len(nc[0]) > 0 and len(nc[1]) > 0


def test_messages_name_the_model_what_was_given_and_the_choices():
    ml = nd.dyn.MorrisLecar(1)
    with pytest.raises(
        TypeError,
        match=r"with the model MorrisLecar needs param=.*got no param\. "
        r"MorrisLecar.s parameters: area, V_th, C, .*g_L.*I_ext",
    ):
        analysis.continue_equilibria(ml, p_range=(0, 1) * u.nA)
    with pytest.raises(TypeError, match=r"needs param=\(p1, p2\).*got param='I_ext'"):
        analysis.continue_fold(ml, None, None, None, param="I_ext")
    with pytest.raises(
        ValueError,
        match=r"MorrisLecar has no parameter 'gL' to vary\. Its "
        r"parameters are area, V_th, C, .*g_L",
    ):
        analysis.fixed_points(ml, None, param="gL")
    with pytest.raises(
        ValueError,
        match=r"x0 names \['v'\], which are not variables of "
        r"MorrisLecar \(V, w\)",
    ):
        analysis.fixed_points(ml, {"v": -60 * u.mV})

    class Net(nd.Network):
        def __init__(self):
            self.pop = nd.dyn.MorrisLecar(1)

    with pytest.raises(
        TypeError,
        match=r"fixed_points analyses one neuron.*Network Net.*"
        r"slow_points\(network",
    ):
        analysis.fixed_points(Net(), None)
