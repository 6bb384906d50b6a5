"""Quantities under jit, vmap, scan and grad; the compiled program is the unitless one."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurodyn.units as u
from neurodyn.units import Quantity, UnitMismatchError


def lif_step_units(v, i_ext):
    tau, r, v_rest, v_th, v_reset, dt = (
        20 * u.ms,
        100 * u.Mohm,
        -65 * u.mV,
        -50 * u.mV,
        -70 * u.mV,
        0.1 * u.ms,
    )
    v = v + dt / tau * (v_rest - v + r * i_ext)
    spike = v >= v_th
    return u.math.where(spike, v_reset, v), spike


def lif_step_plain(v, i_ext):
    tau, r, v_rest, v_th, v_reset, dt = 20.0, 100.0, -65.0, -50.0, -70.0, 0.1
    v = v + dt / tau * (v_rest - v + r * i_ext)
    spike = v >= v_th
    return jnp.where(spike, v_reset, v), spike


def test_lif_jaxpr_equals_unitless_jaxpr():
    v = jnp.full(8, -60.0)
    i = jnp.full(8, 0.2)
    with_units = jax.make_jaxpr(lambda v, i: lif_step_units(v * u.mV, i * u.nA)[0].mantissa)(v, i)
    plain = jax.make_jaxpr(lambda v, i: lif_step_plain(v, i)[0])(v, i)
    assert str(with_units) == str(plain)
    out_u = lif_step_units(v * u.mV, i * u.nA)[0]
    np.testing.assert_allclose(out_u.to_value(u.mV), lif_step_plain(v, i)[0], rtol=1e-6)


def test_mixed_units_only_add_constant_scalings():
    def f_units(v, g):
        return (g * (v - 0 * u.volt)).to_value(u.pA)  # mV vs V, nS*mV -> pA

    def f_plain(v, g):
        return g * (v - 0.0 * 1000.0)

    v, g = jnp.ones(4), jnp.ones(4)
    eq_u = jax.make_jaxpr(lambda v, g: f_units(v * u.mV, g * u.nS))(v, g).eqns
    eq_p = jax.make_jaxpr(f_plain)(v, g).eqns
    prims_u = [e.primitive.name for e in eq_u if e.primitive.name != "mul"]
    prims_p = [e.primitive.name for e in eq_p if e.primitive.name != "mul"]
    assert prims_u == prims_p


def test_jit_vmap_scan_with_quantities():
    v0 = jnp.linspace(-70.0, -55.0, 5) * u.mV
    i = 0.2 * u.nA
    step = jax.jit(lif_step_units)
    v1, _ = step(v0, i)
    assert isinstance(v1, Quantity) and v1.unit is u.mV
    np.testing.assert_allclose(v1.mantissa, lif_step_plain(v0.mantissa, 0.2)[0], rtol=1e-6)

    batched = jax.vmap(lif_step_units, in_axes=(0, None))(v0, i)[0]
    np.testing.assert_allclose(batched.mantissa, v1.mantissa, rtol=1e-6)

    def body(v, _):
        v, spike = lif_step_units(v, i)
        return v, spike

    vT, spikes = jax.lax.scan(body, v0, None, length=100)
    ref = v0.mantissa
    for _ in range(100):
        ref = lif_step_plain(ref, 0.2)[0]
    np.testing.assert_allclose(vT.mantissa, ref, rtol=1e-5)
    assert spikes.shape == (100, 5)


def test_unit_errors_fire_at_trace_time():
    calls = []

    def bad(v):
        calls.append(1)
        return v + 1 * u.nA

    with pytest.raises(UnitMismatchError):
        jax.jit(bad)(1 * u.mV)
    assert len(calls) == 1


def test_jit_does_not_retrace_for_same_units_but_does_for_new_units():
    traces = []

    @jax.jit
    def f(v):
        traces.append(v.unit)
        return v * 2

    f(1 * u.mV)
    f(2 * u.mV)
    assert len(traces) == 1
    out = f(2 * u.volt)
    assert len(traces) == 2 and out.unit is u.volt


def test_grad_has_output_over_input_unit_and_matches_finite_differences():
    def current(v):
        return (10 * u.nS) * (v - (-70 * u.mV)) ** 2 / (1 * u.mV)

    g = u.grad(current)(-65 * u.mV)
    assert g.unit == u.nS
    # finite difference in SI units
    h = 1e-3
    fd = (current((-65 + h) * u.mV) - current((-65 - h) * u.mV)).to_value(u.amp) / (2 * h * 1e-3)
    assert float(g.to_value(u.siemens)) == pytest.approx(float(fd), rel=1e-3)
    assert float(g.to_value(u.nS)) == pytest.approx(100.0, rel=1e-6)


def test_grad_argnums_pytrees_aux_and_value():
    def energy(c, v, scale):
        e = 0.5 * c * v**2 * scale
        return e.sum(), "aux"

    c, v = 2 * u.pF, jnp.array([1.0, 2.0]) * u.mV
    (value, aux), grads = u.value_and_grad(energy, argnums=(0, 1, 2), has_aux=True)(c, v, 1.0)
    assert aux == "aux"
    assert value.unit == u.pF * u.mV**2
    gc, gv, gs = grads
    assert gc.unit.dim is u.volt.dim**2
    np.testing.assert_allclose(gc.to_value(u.mV**2), 0.5 * (1 + 4), rtol=1e-6)
    np.testing.assert_allclose(gv.to_value(u.fC), [2.0, 4.0], rtol=1e-6)
    assert gs.unit == value.unit
    # dict of quantities
    params = {"g": 10 * u.nS, "e": 0 * u.mV}
    gd = u.grad(lambda p, v: (p["g"] * (v - p["e"])).sum())(params, v)
    assert gd["g"].unit.dim is u.volt.dim and gd["e"].unit.dim is u.siemens.dim
    np.testing.assert_allclose(gd["g"].to_value(u.mV), 3.0, rtol=1e-6)
    np.testing.assert_allclose(gd["e"].to_value(u.nS), -20.0, rtol=1e-6)


def test_grad_of_plain_output_wrt_quantity():
    g = u.grad(lambda t: u.math.exp(-t / (10 * u.ms)))(5 * u.ms)
    assert g.unit == u.ms**-1
    assert float(g.to_value(u.ms**-1)) == pytest.approx(-0.1 * np.exp(-0.5), rel=1e-5)
