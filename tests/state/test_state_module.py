"""State boxes, Module graphs, split/merge/update."""

import jax.numpy as jnp
import numpy as np
import pytest

import neurodyn as nd
import neurodyn.units as u
from neurodyn.state import StateError, StateMismatchError


class Cell(nd.Module):
    def __init__(self, n=3):
        self.v = nd.Hidden(jnp.full(n, -65.0) * u.mV)
        self.w = nd.Param(jnp.ones((n, n)))
        self.trace = nd.Memory(jnp.zeros(n))


class Net(nd.Module):
    def __init__(self):
        self.a = Cell()
        self.b = self.a  # shared sub-module
        self.layers = [Cell(2), {"x": Cell(1)}]
        self.tau = 10 * u.ms  # plain attribute
        self.me = self  # cycle


def test_state_value_roundtrip_and_fixed_structure():
    s = nd.State(jnp.zeros(3), name="x")
    s.value = jnp.ones(3)
    np.testing.assert_array_equal(s.value, np.ones(3))
    s.value = 2.0 * jnp.ones(3)
    with pytest.raises(StateMismatchError, match=r"State 'x' has shape \(3,\).*\(4,\)"):
        s.value = jnp.ones(4)
    with pytest.raises(StateMismatchError, match="dtype float32.*int32"):
        s.value = jnp.ones(3, jnp.int32)
    np.testing.assert_array_equal(s.value, 2 * np.ones(3))  # unchanged after refusals


def test_state_unit_is_fixed():
    net = Cell()
    with pytest.raises(StateMismatchError, match=r"'v' holds a quantity in mV .* in V"):
        net.v.value = jnp.zeros(3) * u.volt
    with pytest.raises(StateMismatchError, match="no unit"):
        net.v.value = jnp.zeros(3)
    net.v.value = jnp.zeros(3) * u.mV
    assert net.v.value.unit is u.mV


def test_states_paths_filters_shared_and_cycles():
    net = Net()
    states = net.states()
    assert list(states) == [
        "a.v",
        "a.w",
        "a.trace",
        "layers.0.v",
        "layers.0.w",
        "layers.0.trace",
        "layers.1.x.v",
        "layers.1.x.w",
        "layers.1.x.trace",
    ]
    assert list(net.states(nd.Param)) == ["a.w", "layers.0.w", "layers.1.x.w"]
    assert list(net.states((nd.Hidden, nd.Memory))) == [
        "a.v",
        "a.trace",
        "layers.0.v",
        "layers.0.trace",
        "layers.1.x.v",
        "layers.1.x.trace",
    ]
    assert list(net.states(lambda p, s: p.startswith("layers.1"))) == [
        "layers.1.x.v",
        "layers.1.x.w",
        "layers.1.x.trace",
    ]
    assert set(net.modules()) == {"", "a", "layers.0", "layers.1.x"}


def test_split_merge_reconstructs_exactly():
    net = Net()
    net.a.w.value = jnp.arange(9.0).reshape(3, 3)
    graphdef, params, rest = nd.split(net, nd.Param)
    assert set(params) == {"a.w", "layers.0.w", "layers.1.x.w"}
    assert set(rest) == {
        "a.v",
        "a.trace",
        "layers.0.v",
        "layers.0.trace",
        "layers.1.x.v",
        "layers.1.x.trace",
    }
    net2 = nd.merge(graphdef, params, rest)
    assert type(net2) is Net and net2 is not net
    assert net2.b is net2.a and net2.me is net2  # sharing and cycles preserved
    assert net2.tau.unit is u.ms
    for (p1, s1), (p2, s2) in zip(net.states().items(), net2.states().items()):
        assert p1 == p2 and type(s1) is type(s2) and s1 is not s2
        np.testing.assert_array_equal(u.get_mantissa(s1.value), u.get_mantissa(s2.value))
    assert net2.a.v.value.unit is u.mV
    # the original is untouched by changes to the copy
    net2.a.w.value = jnp.zeros((3, 3))
    assert float(net.a.w.value[2, 2]) == 8.0


def test_split_values_work_with_plain_jax():
    import jax

    net = Cell()
    graphdef, params, rest = nd.split(net, nd.Param)

    def loss(params, rest, x):
        m = nd.merge(graphdef, params, rest)
        return jnp.sum(m.w.value @ x)

    g = jax.grad(loss)(params, rest, jnp.arange(3.0))
    np.testing.assert_allclose(g["w"], np.tile(np.arange(3.0), (3, 1)))


def test_update_checks_everything_before_writing():
    net = Cell()
    before = net.w.value
    with pytest.raises(StateMismatchError):
        nd.update(net, {"w": jnp.zeros((3, 3)), "trace": jnp.zeros(5)})
    np.testing.assert_array_equal(net.w.value, before)
    with pytest.raises(StateError, match="no State at 'nope'"):
        nd.update(net, {"nope": jnp.zeros(1)})
    nd.update(net, {"w": jnp.zeros((3, 3))})
    np.testing.assert_array_equal(net.w.value, np.zeros((3, 3)))
    with pytest.raises(StateError, match="missing"):
        nd.merge(nd.split(net)[0], {})


def test_init_and_reset_state_reach_children():
    calls = []

    class Leaf(nd.Module):
        def __init__(self):
            self.v = nd.Hidden(jnp.zeros(2))

        def init_state(self, batch_size=None, **kw):
            shape = (2,) if batch_size is None else (batch_size, 2)
            self.v = nd.Hidden(jnp.zeros(shape))
            calls.append(("init", batch_size))

        def reset_state(self, batch_size=None, **kw):
            self.v.value = jnp.zeros_like(self.v.value)
            calls.append(("reset", batch_size))

    class Root(nd.Module):
        def __init__(self):
            self.leaves = [Leaf(), Leaf()]

    r = Root()
    r.init_state(batch_size=4)
    assert r.leaves[0].v.value.shape == (4, 2)
    r.leaves[1].v.value = jnp.ones((4, 2))
    r.reset_state()
    np.testing.assert_array_equal(r.leaves[1].v.value, np.zeros((4, 2)))
    assert calls == [("init", 4), ("init", 4), ("reset", None), ("reset", None)]
