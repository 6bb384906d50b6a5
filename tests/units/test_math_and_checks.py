"""u.math rule table and check_units."""

import jax.numpy as jnp
import numpy as np
import pytest

import neurodyn.units as u
from neurodyn.units import Quantity, UnitMismatchError

X = jnp.array([1.0, -2.0, 3.0, 4.0])


@pytest.mark.parametrize("name", sorted(n for n, (r, _) in u.math.RULES.items() if r == "keep"))
def test_keep_rule(name):
    fn = getattr(u.math, name, None)
    if fn is None:
        pytest.skip(f"jax.numpy has no {name}")
    args = {
        "reshape": (X, (2, 2)),
        "broadcast_to": (X, (2, 4)),
        "swapaxes": (X[None], 0, 1),
        "moveaxis": (X[None], 0, 1),
        "expand_dims": (X, 0),
        "roll": (X, 1),
        "tile": (X, 2),
        "repeat": (X, 2),
        "take": (X, jnp.array([0, 2])),
        "rot90": (jnp.eye(2),),
        "fliplr": (jnp.eye(2),),
        "flipud": (jnp.eye(2),),
        "diagonal": (jnp.eye(2),),
        "trace": (jnp.eye(2),),
        "tril": (jnp.eye(2),),
        "triu": (jnp.eye(2),),
        "take_along_axis": (X, jnp.array([1, 0]), 0),
        "percentile": (X, 50),
        "nanpercentile": (X, 50),
        "quantile": (X, 0.5),
        "nanquantile": (X, 0.5),
        "cumulative_sum": (X,),
        "real": (X,),
        "imag": (X,),
    }.get(name, (X,))
    expected = getattr(jnp, name)(*args)
    out = fn(args[0] * u.mV, *args[1:])
    assert isinstance(out, Quantity) and out.unit is u.mV
    np.testing.assert_allclose(out.mantissa, expected)
    np.testing.assert_allclose(fn(*args), expected)  # plain arrays pass through


def test_same_and_compare_rules_convert_to_the_first_unit():
    a, b = X * u.mV, X * u.volt
    np.testing.assert_allclose(u.math.maximum(a, b).mantissa, jnp.maximum(X, 1000 * X))
    np.testing.assert_allclose(u.math.where(X > 0, a, b).mantissa, jnp.where(X > 0, X, 1000 * X))
    np.testing.assert_allclose(u.math.where(X > 0, a, 0).mantissa, jnp.where(X > 0, X, 0))
    np.testing.assert_allclose(
        u.math.clip(a, -1 * u.mV, 0.002 * u.volt).mantissa, jnp.clip(X, -1, 2)
    )
    np.testing.assert_allclose(u.math.concatenate([a, b]).mantissa, jnp.concatenate([X, 1000 * X]))
    assert bool(u.math.allclose(1 * u.volt, 1000 * u.mV))
    assert bool(u.math.isclose(1 * u.volt, 1001 * u.mV, atol=2 * u.mV))
    assert not bool(u.math.isclose(1 * u.volt, 1001 * u.mV, atol=0.5 * u.mV, rtol=0))
    np.testing.assert_allclose(u.math.arctan2(1 * u.mV, 1 * u.mV), np.pi / 4, rtol=1e-6)
    with pytest.raises(UnitMismatchError, match="maximum"):
        u.math.maximum(a, X * u.nA)
    with pytest.raises(UnitMismatchError):
        u.math.where(X > 0, a, 1.0)


def test_multiply_power_dimensionless_drop_rules():
    w = jnp.ones((3, 4)) * u.nS
    v = X * u.mV
    out = u.math.dot(w, v)
    assert out.unit == u.pA
    np.testing.assert_allclose(out.mantissa, jnp.ones((3, 4)) @ X)
    assert u.math.sqrt(4 * u.um**2).unit == u.um
    assert float(u.math.sqrt(4 * u.um**2).mantissa) == 2.0
    assert u.math.var(v).unit == u.mV**2
    np.testing.assert_allclose(u.math.var(v).mantissa, jnp.var(X))
    assert u.math.square(v).unit == u.mV**2
    assert u.math.reciprocal(2 * u.ms).unit == u.kHz
    np.testing.assert_allclose(u.math.exp(v / (1 * u.volt)), jnp.exp(X / 1000), rtol=1e-6)
    np.testing.assert_allclose(u.math.argmax(v), jnp.argmax(X))
    np.testing.assert_allclose(u.math.sign(v), jnp.sign(X))
    assert u.math.prod(jnp.array([1.0, 2.0, 3.0]) * u.um).unit == u.um**3
    e = u.math.einsum("ij,j->i", w, v)
    assert e.unit == u.pA
    assert u.math.power(2 * u.um, 3).unit == u.um**3


def test_dimensionless_rule_error_says_how_to_fix():
    with pytest.raises(UnitMismatchError, match=r"exp needs a dimensionless argument.*u\.mV"):
        u.math.exp(3 * u.mV)
    with pytest.raises(UnitMismatchError, match="log"):
        u.math.log(3 * u.mM)


def test_constructors():
    z = u.math.zeros(3, u.mV)
    assert z.unit is u.mV and z.shape == (3,)
    t = u.math.arange(0 * u.ms, 1 * u.ms, 0.25 * u.ms)
    np.testing.assert_allclose(t.mantissa, [0, 0.25, 0.5, 0.75])
    ls = u.math.linspace(0 * u.mV, 1 * u.volt, 3)
    np.testing.assert_allclose(ls.mantissa, [0, 500, 1000])
    f = u.math.full((2,), 3 * u.nS)
    assert f.unit is u.nS
    a = u.math.asarray([1 * u.mV, 1 * u.volt])
    np.testing.assert_allclose(a.mantissa, [1, 1000])
    assert u.math.asarray([1, 2], u.ms).unit is u.ms
    yi = u.math.interp(1.5 * u.ms, jnp.array([1.0, 2.0]) * u.ms, jnp.array([0.0, 10.0]) * u.mV)
    assert yi.unit is u.mV and float(yi.mantissa) == pytest.approx(5.0)
    gr = u.math.gradient(jnp.array([0.0, 1.0, 4.0]) * u.mV, 1 * u.ms)
    assert gr.unit == u.mV / u.ms
    np.testing.assert_allclose(gr.mantissa, jnp.gradient(jnp.array([0.0, 1.0, 4.0])))


def test_check_units_accepts_any_unit_of_the_dimension():
    @u.check_units(v=u.volt, g="S", result=u.amp)
    def current(v, g, scale=1.0):
        return g * v * scale

    assert current(-65 * u.mV, 10 * u.nS).unit == u.pA
    assert current(v=-0.065 * u.volt, g=1 * u.uS).unit.dim is u.amp.dim
    with pytest.raises(UnitMismatchError, match=r"current: argument 'v' should be .*of V .*nA"):
        current(1 * u.nA, 10 * u.nS)
    with pytest.raises(UnitMismatchError, match=r"unitless float.*u\.V\b"):
        current(1.0, 10 * u.nS)

    @u.check_units(x=None, result=u.mV)
    def wrong_result(x):
        return x * u.ms

    with pytest.raises(UnitMismatchError, match="the result should be"):
        wrong_result(2.0)
    with pytest.raises(UnitMismatchError, match="plain number"):
        wrong_result(2 * u.mV)
    with pytest.raises(TypeError, match="no parameter named w"):
        u.check_units(w=u.volt)(lambda v: v)
