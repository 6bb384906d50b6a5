"""Quantity arithmetic, conversion, display and refusals."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurodyn.units as u
from neurodyn.units import Quantity, UnitMismatchError


def test_mantissa_is_kept_in_the_units_own_scale():
    q = 3 * u.mV
    assert float(q.mantissa) == 3.0
    assert q.unit is u.mV
    assert q.dtype == jnp.float32
    assert (3 * u.nS).mantissa == 3.0 and isinstance((3 * u.nS).mantissa, float)
    assert (jnp.arange(3) * u.nS).mantissa.dtype == jnp.float32  # ints become floats
    # float32 keeps precision for tiny SI values because the mantissa is not SI
    tiny = jnp.float32(1.234567) * u.pA
    assert float(tiny.mantissa) == pytest.approx(1.234567, rel=1e-7)


def test_arithmetic_against_hand_computed_si_values():
    v = -65.0 * u.mV
    i = 10 * u.nS * (v - 0 * u.mV)
    assert i.unit == u.pA and i.unit.name == "pA"
    assert float(i.to_value(u.amp)) == pytest.approx(-650e-12)
    assert float((1 * u.mV + 1 * u.volt).to_value(u.mV)) == pytest.approx(1001.0)
    assert float((1 * u.volt - 1 * u.mV).to_value(u.volt)) == pytest.approx(0.999)
    tau = (200 * u.pF) / (10 * u.nS)
    assert tau.unit == u.ms and float(tau.mantissa) == pytest.approx(20.0)
    ratio = (3 * u.mV) / (1 * u.volt)  # dimensionless -> plain array
    assert not isinstance(ratio, Quantity)
    assert float(ratio) == pytest.approx(3e-3)
    assert float(((2 * u.um) ** 2).to_value(u.m**2)) == pytest.approx(4e-12)
    assert float((-(3 * u.mV)).mantissa) == -3.0
    assert float(abs(-3 * u.mV).mantissa) == 3.0
    assert float(((7 * u.mV) % (5 * u.mV)).mantissa) == 2.0
    assert float((7 * u.mV) // (2 * u.mV)) == 3.0


def test_numpy_and_jax_arrays_times_units():
    a = np.arange(3.0) * u.mV
    b = jnp.arange(3.0) * u.mV
    assert isinstance(a, Quantity) and isinstance(b, Quantity)
    np.testing.assert_allclose(np.asarray((a + b).mantissa), [0, 2, 4])
    c = u.mV * np.ones(2)
    assert c.unit is u.mV
    d = np.ones(2) / u.ms
    assert d.unit == u.kHz


def test_matmul_and_indexing():
    w = jnp.eye(2) * u.nS
    v = jnp.array([1.0, 2.0]) * u.mV
    out = w @ v
    assert out.unit == u.pA
    np.testing.assert_allclose(np.asarray(out.mantissa), [1.0, 2.0])
    assert float(v[1].mantissa) == 2.0 and v[1].unit is u.mV
    assert [float(x.mantissa) for x in v] == [1.0, 2.0]
    upd = v.at[0].set(1 * u.volt)
    assert float(upd.mantissa[0]) == pytest.approx(1000.0)
    with pytest.raises(UnitMismatchError):
        v.at[0].set(1 * u.nA)


def test_literal_zero_is_allowed_other_plain_numbers_are_not():
    v = 3 * u.mV
    assert (v + 0) is not None and float((v + 0).mantissa) == 3.0
    assert float((0 - v).mantissa) == -3.0
    assert bool(v > 0)
    assert float(sum([1 * u.mV, 2 * u.mV]).mantissa) == 3.0  # sum() starts from 0
    with pytest.raises(UnitMismatchError, match="unitless value 2"):
        v + 2
    with pytest.raises(UnitMismatchError, match="literal 0"):
        v > 1.0  # noqa: B015
    with pytest.raises(UnitMismatchError, match="shape"):
        v + jnp.zeros(10)  # an array of zeros is not a literal 0


def test_mismatch_names_units_and_operation():
    with pytest.raises(UnitMismatchError, match=r"Cannot add mV .* and nA"):
        1 * u.mV + 1 * u.nA
    with pytest.raises(UnitMismatchError, match=r"Cannot subtract"):
        1 * u.mV - 1 * u.nA
    with pytest.raises(UnitMismatchError, match=r"compare \(<\)"):
        1 * u.mV < 1 * u.ms  # noqa: B015
    with pytest.raises(UnitMismatchError, match=r"compare \(==\)"):
        1 * u.mV == 1 * u.ms  # noqa: B015
    with pytest.raises(UnitMismatchError, match="dimensions differ"):
        (1 * u.mV).to(u.nA)


def test_silent_unit_drops_are_refused():
    q = 3 * u.mV
    for convert in (float, int, complex, np.asarray, bool):
        with pytest.raises(TypeError, match="mV"):
            convert(q)
    with pytest.raises(TypeError):
        jnp.sin(q)


def test_comparisons_convert_units():
    assert bool(1 * u.volt > 999 * u.mV)
    assert bool(1 * u.volt == 1000 * u.mV)
    assert bool(1 * u.volt != 1 * u.mV)
    np.testing.assert_array_equal(
        np.asarray(jnp.array([1.0, 2.0]) * u.ms >= 1500 * u.us), [False, True]
    )


def test_powers_need_static_exponents():
    q = 4 * u.um**2
    assert (q**0.5).unit == u.um
    with pytest.raises(UnitMismatchError, match="fixed Python number"):
        q ** (1 * u.mV)
    with pytest.raises(UnitMismatchError, match="fixed Python number"):
        jax.jit(lambda p: q**p)(2.0)
    with pytest.raises(UnitMismatchError, match="dimensionless"):
        2 ** (1 * u.mV)


def test_display():
    assert str(3 * u.mV) == "3. mV"
    assert repr(3 * u.mV) == 'Quantity(3., "mV")'
    assert str(jnp.array([1.0, 2.0]) * u.nS) == "[1. 2.] nS"
    # compound results are shown in the best named unit
    assert str(10 * u.nS / (20000 * u.um**2)) == "0.05 mS/cm^2"
    assert str((1 * u.um**2) * (1 * u.mS / u.cm**2)) == "10. pS"
    assert str((2 * u.mV) / (1 * u.ms)) == "2. mV/ms"
    assert str((1 * u.volt) / (1 * u.ms)) == "1000. mV/ms"
    # an explicitly requested unit is kept
    assert str((10 * u.nS / (20000 * u.um**2)).to("nS/um^2")) == "0.0005 nS/um^2"
    assert f"{3.14159 * u.mV:.2f}" == "3.14 mV"


def test_quantity_constructor():
    q = Quantity([1, 2], "mV")
    assert q.unit is u.mV and q.dtype == jnp.float32
    assert Quantity(1 * u.volt, u.mV).unit is u.mV
    assert float(Quantity(1 * u.volt, u.mV).mantissa) == pytest.approx(1000.0)
    with pytest.raises(TypeError, match="Expected a unit"):
        Quantity(1.0, 3)


def test_temperatures():
    t = 37 * u.celsius
    assert float(t.to_value(u.kelvin)) == pytest.approx(310.15, rel=1e-6)
    assert float((98.6 * u.fahrenheit).to_value(u.celsius)) == pytest.approx(37.0, rel=1e-5)
    assert float((300 * u.kelvin).to_value(u.celsius)) == pytest.approx(26.85, rel=1e-5)
    dt = 37 * u.celsius - 6.3 * u.celsius  # a difference is in kelvin
    assert dt.unit is u.kelvin and float(dt.mantissa) == pytest.approx(30.7, rel=1e-5)
    q10 = 3.0 ** (dt / (10 * u.kelvin))
    assert float(q10) == pytest.approx(3.0**3.07, rel=1e-5)
    with pytest.raises(UnitMismatchError, match="kelvin"):
        t + 1 * u.kelvin
    with pytest.raises(UnitMismatchError, match="kelvin"):
        t * 2
    with pytest.raises(UnitMismatchError, match="kelvin"):
        u.celsius * u.second
    assert bool(t > 36 * u.celsius)
