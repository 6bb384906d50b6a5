"""record_spikes (native kernel and pure-JAX reference) against numpy's argwhere."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from neurodyn import event
from neurodyn.event import _record


@pytest.mark.parametrize("shape", [(1,), (13,), (64,), (3, 21)])
@pytest.mark.parametrize("impl", ["primitive", "reference"])
def test_appends_indices_and_steps_in_order(shape, impl):
    rng = np.random.default_rng(1)
    flags = rng.random((6, *shape)) < 0.3
    flags[2] = False  # a step without spikes
    flags[4] = True  # a step where all spike
    cap = 200
    fn = (
        event.record_spikes
        if impl == "primitive"
        else lambda *a: _record._reference(*map(jnp.asarray, a))
    )

    def body(carry, xs):
        s, k = xs
        return tuple(fn(s, k + 100, *carry)), None

    z = jnp.zeros(cap, jnp.int32)
    idx, steps, n = jax.jit(
        lambda f: jax.lax.scan(body, (z, z, jnp.int32(0)), (f, jnp.arange(6)))[0]
    )(flags)
    hits = np.argwhere(flags.reshape(6, -1))
    assert int(n) == len(hits)
    np.testing.assert_array_equal(np.asarray(idx[: int(n)]), hits[:, 1])
    np.testing.assert_array_equal(np.asarray(steps[: int(n)]), hits[:, 0] + 100)


def test_overflow_is_counted_not_written():
    flags = jnp.ones(10, bool)
    buf = jnp.full(4, -1, jnp.int32)
    idx, steps, n = event.record_spikes(flags, 5, buf, buf, 2)
    assert int(n) == 12  # 2 before + 10 now; only 2 fit
    np.testing.assert_array_equal(np.asarray(idx), [-1, -1, 0, 1])
    np.testing.assert_array_equal(np.asarray(steps), [-1, -1, 5, 5])


def test_float_spikes_and_bad_buffers():
    idx, _, n = event.record_spikes(
        jnp.array([0.0, 0.5, 0.0, 1.0]), 0, jnp.zeros(4, jnp.int32), jnp.zeros(4, jnp.int32), 0
    )
    assert int(n) == 2 and np.asarray(idx[:2]).tolist() == [1, 3]
    with pytest.raises(ValueError, match="1-D buffers of one length"):
        event.record_spikes(
            jnp.zeros(3, bool), 0, jnp.zeros(4, jnp.int32), jnp.zeros(5, jnp.int32), 0
        )
