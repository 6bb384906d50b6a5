"""Bad input is refused when a model is built, with a message that names the model, the
parameter, the value and the fix; suspicious but legal input is warned about. One test
per item of the list of failures found by trying the model layer as a new user."""

import warnings

import jax.numpy as jnp
import numpy as np
import pytest

import neurodyn as nd
import neurodyn.units as u
from neurodyn import event
from neurodyn.dyn import (
    COBA,
    LIF,
    Expon,
    Model,
    OUProcess,
    Parameter,
    PoissonInput,
    Projection,
    SpikeTimeGroup,
    VoltageJump,
)


# -- a custom model: every declared variable is integrated --------------------------------
class TwoVar(Model):
    tau = Parameter(u.ms, 10 * u.ms, "positive")
    tau_a = Parameter(u.ms, 50 * u.ms, "positive")
    variables = {"V": (u.mV, 1 * u.mV), "a": (u.mV, 2 * u.mV)}

    def vector_field(self, t, y, I):
        return {"V": -y["V"] / self.tau, "a": -y["a"] / self.tau_a}


class Forgetful(TwoVar):
    def vector_field(self, t, y, I):
        return {"V": -y["V"] / self.tau}  # forgets "a"


def test_every_declared_variable_is_integrated():
    class Net(nd.Network):
        def __init__(self):
            self.m = TwoVar(2)

    net = Net()
    nd.run(net, 10 * u.ms, dt=0.1 * u.ms)
    m = net.m
    # exact (exponential Euler on a linear field): 1 mV e^{-10/10}, 2 mV e^{-10/50}
    np.testing.assert_allclose(m.V.value.to_value(u.mV), np.exp(-1.0), rtol=1e-5)
    np.testing.assert_allclose(m.a.value.to_value(u.mV), 2 * np.exp(-0.2), rtol=1e-5)


def test_a_vector_field_that_forgets_a_variable_is_refused():
    m = Forgetful(2)
    with (
        nd.clock(dt=0.1 * u.ms),
        pytest.raises(
            TypeError, match=r"returned derivatives of \['V'\].*declares the variables \['V', 'a'\]"
        ),
    ):
        m.update()


# -- parameters ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"tau": -20 * u.ms}, r"LIF: parameter tau must be > 0; got -20 ms"),
        ({"tau": 0 * u.ms}, r"LIF: parameter tau must be > 0; got 0 ms"),
        ({"tau": jnp.nan * u.ms}, r"LIF: parameter tau is NaN"),
        ({"R": -1 * u.Mohm}, r"LIF: parameter R must be > 0"),
        ({"tau_ref": -1 * u.ms}, r"LIF: parameter tau_ref must be >= 0"),
    ],
)
def test_invalid_parameters_are_refused_with_their_name_and_value(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LIF(10, **kwargs)


def test_threshold_below_reset_is_refused():
    with pytest.raises(ValueError, match=r"LIF: V_th \(-70 mV\) must be above V_reset \(-65 mV\)"):
        LIF(3, V_th=-70 * u.mV, V_reset=-65 * u.mV)
    # per neuron: the first offending neuron is named
    with pytest.raises(ValueError, match=r"V_th \(-66 mV\) must be above V_reset"):
        LIF(3, V_th=jnp.array([-50.0, -66.0, -50.0]) * u.mV, V_reset=-65 * u.mV)


def test_nan_initial_voltage_is_refused():
    v0 = jnp.array([-65.0, jnp.nan, -60.0]) * u.mV
    with pytest.raises(ValueError, match=r"LIF: the initial value of V is nan at index \(1,\)"):
        LIF(3, V_initializer=v0)


def test_per_neuron_parameter_of_the_wrong_shape_names_the_parameter():
    with pytest.raises(
        ValueError,
        match=r"LIF: parameter tau has shape \(5,\), which does not fit the population shape",
    ):
        LIF(10, tau=jnp.full(5, 20.0) * u.ms)
    LIF(10, tau=jnp.full(10, 20.0) * u.ms)  # one per neuron is fine


def test_wrong_units_and_unknown_arguments():
    with pytest.raises(
        u.UnitMismatchError, match=r"LIF: parameter tau must have the dimension of ms"
    ):
        LIF(3, tau=20 * u.mV)
    with pytest.raises(u.UnitMismatchError, match=r"Write e.g. `tau=20 \* u.ms`"):
        LIF(3, tau=20)
    with pytest.raises(TypeError, match=r"LIF: unknown argument\(s\) taum.*Parameters: .*tau"):
        LIF(3, taum=20 * u.ms)


def test_negative_synaptic_time_constant_is_refused():
    with pytest.raises(ValueError, match=r"Expon: parameter tau must be > 0; got -5 ms"):
        Expon(-5 * u.ms)


def test_ou_process_mean_and_sigma_must_share_a_dimension():
    with pytest.raises(
        u.UnitMismatchError,
        match=r"OUProcess: sigma must have the dimension of mean \(mV\); got pA",
    ):
        OUProcess(3, mean=1 * u.mV, sigma=10 * u.pA, tau=5 * u.ms)
    with pytest.raises(ValueError, match=r"OUProcess: parameter tau must be > 0"):
        OUProcess(3, mean=1 * u.pA, sigma=10 * u.pA, tau=0 * u.ms)


def test_forward_euler_with_dt_above_half_tau_is_warned_about():
    class Net(nd.Network):
        def __init__(self, method):
            self.pop = LIF(2, tau=1 * u.ms, method=method)

    with pytest.warns(UserWarning, match=r"explicit Euler with dt = 1 ms above half of tau = 1 ms"):
        nd.run(Net("euler"), 2 * u.ms, dt=1 * u.ms)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nd.run(Net("exp_euler"), 2 * u.ms, dt=1 * u.ms)  # exact for LIF: no warning


# -- voltage jumps: Brian2's on_pre="v += J" -----------------------------------------------
class JumpNet(nd.Network):
    def __init__(self, J=0.5 * u.mV):
        self.src = SpikeTimeGroup(1, [0, 0], [1.0, 1.4] * u.ms)
        self.post = LIF(1, tau=1e6 * u.ms, V_rest=0 * u.mV, V_reset=0 * u.mV, V_th=20 * u.mV)
        self.proj = Projection(
            self.src, self.post, event.FixedProb(1.0), weight=J, output=VoltageJump()
        )


@pytest.mark.parametrize("dt", [0.1, 0.05, 0.01])
def test_voltage_jump_is_independent_of_dt(dt):
    res = nd.run(JumpNet(), 3 * u.ms, dt=dt * u.ms, monitors={"V": "post.V"})
    v = np.asarray(res["V"].to_value(u.mV))[:, 0]
    # two spikes of 0.5 mV, almost no leak (tau = 1e6 ms): 1.0 mV whatever dt
    np.testing.assert_allclose(v[-1], 1.0, rtol=1e-5)
    # the jump lands in the step of the spike (Brian2's synapses slot)
    k = int(round(1.0 / dt))
    assert v[k - 1] == 0.0 and v[k] == pytest.approx(0.5, rel=1e-5)


def test_voltage_jump_acts_after_the_threshold_and_is_lost_to_the_reset():
    # a neuron driven to spike every step receives a jump in the step it spikes:
    # Brian2 applies the jump before the reset, so the reset wins
    class Net(nd.Network):
        def __init__(self):
            self.src = SpikeTimeGroup(1, [0], [0.5] * u.ms)
            self.post = LIF(
                1,
                V_rest=0 * u.mV,
                V_reset=0 * u.mV,
                V_th=1 * u.mV,
                tau=10 * u.ms,
                V_initializer=0.999 * u.mV,
            )
            self.proj = Projection(
                self.src, self.post, event.FixedProb(1.0), weight=5 * u.mV, output=VoltageJump()
            )

    res = nd.run(Net(), 1 * u.ms, dt=0.1 * u.ms, monitors={"V": "post.V", "s": "post.spike"})
    s = np.asarray(res["s"])[:, 0]
    v = np.asarray(res["V"].to_value(u.mV))[:, 0]
    # the jump at 0.5 ms crosses the threshold: the spike is in the next step (0.6 ms)
    assert np.flatnonzero(s).tolist() == [6]
    assert v[5] > 1.0 and v[6] == 0.0


def test_voltage_jump_is_dropped_while_refractory():
    # Brian2 (checked with 2.9): with `(unless refractory)`, on_pre jumps to v are ignored
    # while the neuron is refractory. A 5 mV jump at 1.0 ms makes the neuron spike at
    # 1.1 ms (refractory for 2 ms); a 0.5 mV jump at 2.0 ms is dropped, one at 4.0 ms counts.
    class Net(nd.Network):
        def __init__(self):
            self.big = SpikeTimeGroup(1, [0], [1.0] * u.ms)
            self.small = SpikeTimeGroup(1, [0, 0], [2.0, 4.0] * u.ms)
            self.post = LIF(
                1,
                tau=1e6 * u.ms,
                V_rest=0 * u.mV,
                V_reset=0 * u.mV,
                V_th=1 * u.mV,
                tau_ref=2 * u.ms,
            )
            jump = dict(output=VoltageJump())
            self.p1 = Projection(self.big, self.post, event.FixedProb(1.0), weight=5 * u.mV, **jump)
            self.p2 = Projection(
                self.small, self.post, event.FixedProb(1.0), weight=0.5 * u.mV, **jump
            )

    res = nd.run(Net(), 5 * u.ms, dt=0.1 * u.ms, monitors={"V": "post.V", "s": "post.spike"})
    v = np.asarray(res["V"].to_value(u.mV))[:, 0]
    assert np.flatnonzero(np.asarray(res["s"])[:, 0]).tolist() == [11]
    assert v[20] == 0.0  # dropped
    np.testing.assert_allclose(v[-1], 0.5, rtol=1e-5)


# -- delays --------------------------------------------------------------------------------
def _delay_net(delays, dt=0.1):
    conn = event.CSR.from_dense(jnp.ones((1, len(delays))) * u.mV)

    class Net(nd.Network):
        def __init__(self):
            self.src = SpikeTimeGroup(1, [0], [1.0] * u.ms)
            self.post = LIF(
                len(delays), tau=1e6 * u.ms, V_rest=0 * u.mV, V_reset=0 * u.mV, V_th=20 * u.mV
            )
            self.proj = Projection(self.src, self.post, conn, output=VoltageJump(), delay=delays)

    return Net()


def test_per_synapse_delays_on_the_grid_are_accepted_and_exact():
    delays = jnp.array([4.2, 4.3, 4.7, 4.8], jnp.float32) * u.ms
    net = _delay_net(delays)
    res = nd.run(net, 7 * u.ms, dt=0.1 * u.ms, monitors={"V": "post.V"})
    v = np.asarray(res["V"].to_value(u.mV))
    arrival = np.argmax(v > 0.5, axis=0)  # first step with the jump
    # a spike in the step starting at 1.0 ms with delay d acts in step 10 + d / dt
    np.testing.assert_array_equal(arrival, [52, 53, 57, 58])


@pytest.mark.parametrize(
    "delay, match",
    [
        (-1.0, r"a delay cannot be negative; got -1 ms"),
        (0.05, r"delay 0.05 ms \(synapse 0\) is shorter than one step \(dt = 0.1 ms\)"),
        (0.25, r"delay 0.25 ms \(synapse 0\) is 2.5 steps of dt = 0.1 ms, not a whole number"),
    ],
)
def test_bad_delays_get_their_own_message(delay, match):
    with pytest.raises(ValueError, match=match):
        nd.run(_delay_net(jnp.array([delay, 1.0]) * u.ms), 1 * u.ms, dt=0.1 * u.ms)


def test_homogeneous_delay_messages():
    src, post = SpikeTimeGroup(1, [0], [1.0] * u.ms), LIF(1)
    conn = event.FixedProb(1.0)
    with pytest.raises(ValueError, match=r"a delay cannot be negative; got -2 ms"):
        Projection(src, post, conn, weight=1 * u.nS, delay=-2 * u.ms)
    with pytest.raises(u.UnitMismatchError, match=r"delay must be a time"):
        Projection(src, post, conn, weight=1 * u.nS, delay=2 * u.mV)


# -- fixed slots: the order of attributes does not matter -----------------------------------
class PoissonDriven(nd.Network):
    def __init__(self, input_first):
        if input_first:
            self.inp = None  # placeholder: assigned below, before the population
        pop = LIF(50, V_th=-60 * u.mV, V_initializer=-65 * u.mV)
        drive = PoissonInput(pop, 100, 20 * u.Hz, 1 * u.nS, synapse=Expon(5 * u.ms), output=COBA())
        if input_first:
            self.inp, self.pop = drive, pop
        else:
            self.pop, self.inp = pop, drive


def test_poisson_input_acts_in_its_slot_whatever_the_attribute_order():
    out = []
    for first in (True, False):
        nd.random.seed(3)
        net = PoissonDriven(first)
        res = nd.run(net, 20 * u.ms, dt=0.1 * u.ms, monitors={"V": net.pop.V})
        out.append(np.asarray(res["V"].to_value(u.mV)))
    np.testing.assert_array_equal(out[0], out[1])
    assert np.ptp(out[0]) > 0.1  # it did drive the neurons


def test_non_finite_weights_are_refused():
    w = event.CSR(jnp.array([1.0, jnp.nan]) * u.nS, [0, 1], [0, 2], (1, 2))
    with pytest.raises(
        ValueError, match=r"the connectivity's weight 1 is nan; weights must be finite"
    ):
        Projection(SpikeTimeGroup(1, [0], [1.0] * u.ms), LIF(2), w)


def test_bad_time_steps_and_initialisers_are_refused():
    with pytest.raises(ValueError, match=r"dt must be a positive time step.*got 0. ms"):
        nd.run(JumpNet(), 1 * u.ms, dt=0 * u.ms)
    with pytest.raises(ValueError, match=r"Normal: parameter std must be >= 0; got -2 mV"):
        nd.dyn.Normal(-55 * u.mV, -2 * u.mV)
    with pytest.raises(ValueError, match=r"Uniform: low \(-50. mV\) must not exceed high"):
        nd.dyn.Uniform(-50 * u.mV, -60 * u.mV)
    with pytest.raises(u.UnitMismatchError, match=r"Uniform: low .* need the same dimension"):
        nd.dyn.Uniform(-50 * u.mV, 6 * u.pA)
