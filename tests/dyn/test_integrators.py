"""The perfect integrate-and-fire neuron ``IF`` (``C dV/dt = I``) and the non-spiking
leaky integrator ``LI`` (``tau dV/dt = V_rest - V + R I``) against their analytic
solutions: a linear ramp and regular spikes every ``(V_th - V_reset) C / I``; an
exponential relaxation to ``V_rest + R I``; the response of an LI readout to one input
spike. Bad parameters are refused with the model, the parameter and the value."""

import jax.numpy as jnp
import numpy as np
import pytest

import neurodyn as nd
import neurodyn.units as u
from neurodyn import event
from neurodyn.dyn import CUBA, IF, LI, ArrayInput, Delta, Projection

DT = 0.1 * u.ms


def _run(pop, steps, **mon):
    class Net(nd.Network):
        def __init__(self):
            self.pop = pop

    net = Net()
    return nd.run(net, steps * DT, dt=DT, monitors={k: getattr(net.pop, v) for k, v in mon.items()})


def test_if_ramps_linearly_and_fires_every_delta_v_c_over_i():
    C = np.array([150.0, 200.0, 250.0]) * u.pF
    I = np.array([70.0, 90.0, 120.0]) * u.pA  # no threshold crossing on a step boundary
    V0, V_reset, V_th = -70.0, -68.0, -55.0
    pop = IF(3, C=C, V_rest=V0 * u.mV, V_reset=V_reset * u.mV, V_th=V_th * u.mV, I_ext=I)
    steps = 3000
    res = _run(pop, steps, s="spike", V="V")
    V = np.asarray(res["V"].to_value(u.mV))
    spikes = np.asarray(res["s"])
    slope = (I / C).to_value(u.mV / u.ms)  # dV/dt in mV/ms
    t_end = (np.arange(steps) + 1) * 0.1  # ms: step k ends at (k + 1) dt
    # before the first spike: V = V0 + I t / C (float32 rounding accumulates over the
    # steps: measured 3e-4 mV after 320 steps); the increments are I dt / C
    t1 = (V_th - V0) / slope
    for j in range(3):
        before = t_end < t1[j] - 0.1
        np.testing.assert_allclose(V[before, j], V0 + slope[j] * t_end[before], atol=1e-3)
        np.testing.assert_allclose(np.diff(V[before, j]), slope[j] * 0.1, rtol=1e-3)
    # spikes at the first step end after t1, then every (V_th - V_reset) C / I; the
    # reset discards the overshoot, so each interval is a whole number of steps
    period = (V_th - V_reset) / slope
    for j in range(3):
        got = t_end[spikes[:, j]]
        assert len(got) >= 8
        first = np.ceil(t1[j] / 0.1 - 1e-6) * 0.1
        isi = np.ceil(period[j] / 0.1 - 1e-6) * 0.1
        np.testing.assert_allclose(got, first + isi * np.arange(len(got)), atol=1e-6)
        # and within one step of the continuous-time spike times
        assert np.all(np.abs(np.diff(got) - period[j]) < 0.1 + 1e-6)
        assert t1[j] <= got[0] < t1[j] + 0.1 + 1e-6
    # after a spike V restarts from V_reset
    k = np.argmax(spikes[:, 0])
    np.testing.assert_allclose(V[k, 0], V_reset, atol=1e-5)
    np.testing.assert_allclose(V[k + 1, 0], V_reset + slope[0] * 0.1, atol=1e-4)


@pytest.mark.parametrize("method", ["exp_euler", "rk4"])
def test_li_relaxes_exponentially_to_v_rest_plus_r_i(method):
    tau = np.array([5.0, 10.0, 20.0]) * u.ms
    R, V_rest, I = 80 * u.Mohm, -65 * u.mV, np.array([100.0, -50.0, 250.0]) * u.pA
    V0 = np.array([-60.0, -70.0, -80.0]) * u.mV
    pop = LI(3, tau=tau, R=R, V_rest=V_rest, I_ext=I, V_initializer=V0, method=method)
    steps = 1000
    res = _run(pop, steps, V="V")
    t = (np.arange(steps) + 1) * 0.1
    v_inf = (V_rest + R * I).to_value(u.mV)
    ref = v_inf + (V0.to_value(u.mV) - v_inf) * np.exp(-t[:, None] / tau.to_value(u.ms))
    # exact for a constant input (exp_euler), fourth order (rk4): float32 rounding only;
    # near V_inf an increment below half a unit in the last place (3.8e-6 mV at 70 mV) is
    # lost, so V stops within ulp / (2 (1 - exp(-dt/tau))) of V_inf (7.6e-4 mV for 20 ms)
    V = np.asarray(res["V"].to_value(u.mV))
    np.testing.assert_allclose(V[:100], ref[:100], atol=5e-5)
    np.testing.assert_allclose(V, ref, atol=1e-3)
    assert not hasattr(pop, "spike")  # a readout: no spikes


def test_li_readout_of_one_spike_is_a_jump_then_an_exponential_decay():
    """One input spike of weight w through a Delta synapse is the current w for the next
    step: V jumps by (1 - exp(-dt/tau)) R w, then decays back to V_rest with tau."""

    class Net(nd.Network):
        def __init__(self):
            self.inp = ArrayInput(1, steps=200)
            self.out = LI(2, tau=np.array([4.0, 8.0]) * u.ms, R=50 * u.Mohm, V_rest=-70 * u.mV)
            w = event.Dense(np.array([[400.0, -200.0]]) * u.pA)
            self.p = Projection(self.inp, self.out, w, synapse=Delta(), output=CUBA())

    net = Net()
    xs = np.zeros((200, 1), np.float32)
    xs[10] = 1.0
    net.inp.feed(jnp.asarray(xs))
    res = nd.run(net, 200 * DT, dt=DT, monitors={"V": net.out.V})
    V = np.asarray(res["V"].to_value(u.mV))
    tau = np.array([4.0, 8.0])
    jump = -np.expm1(-0.1 / tau) * 50 * np.array([0.4, -0.2])  # MOhm x nA = mV
    np.testing.assert_allclose(V[:11], -70.0, atol=1e-5)  # the current acts from step 11
    k = np.arange(200 - 11)
    ref = -70.0 + jump * np.exp(-0.1 * k[:, None] / tau)
    np.testing.assert_allclose(V[11], ref[0], atol=1e-5)
    # float32 rounding of V (ulp 7.6e-6 mV) accumulates over the decay: measured 2.8e-5
    np.testing.assert_allclose(V[11:], ref, atol=1e-4)
    assert abs(jump[0]) > 0.1 and abs(V[60, 0] - V[11, 0]) > 0.05  # a visible decay


def test_the_new_models_are_exported_and_follow_the_model_protocol():
    assert nd.dyn.IF is IF and nd.dyn.LI is LI
    assert {"IF", "LI"} <= set(nd.dyn.__all__)
    assert set(IF._parameters) == {"V_rest", "V_reset", "V_th", "C"}
    assert set(LI._parameters) == {"tau", "R", "V_rest"}
    # pure vector fields: dV/dt = I / C and (V_rest - V + R I) / tau
    f = IF(1, C=100 * u.pF).vector_field(0 * u.ms, {"V": -60 * u.mV}, 50 * u.pA)
    assert float(f["V"].to_value(u.mV / u.ms)) == pytest.approx(0.5)
    li = LI(1, tau=10 * u.ms, R=100 * u.Mohm, V_rest=-65 * u.mV)
    g = li.vector_field(0 * u.ms, {"V": -60 * u.mV}, 100 * u.pA)
    assert float(g["V"].to_value(u.mV / u.ms)) == pytest.approx((-65 + 60 + 10) / 10)


def test_an_li_differentiates_through_a_run():
    """d V(T) / d I_ext of an LI is R (1 - exp(-T / tau)) (a grad through nd.run)."""
    li = LI(1, tau=10 * u.ms, R=100 * u.Mohm, V_rest=-65 * u.mV)

    class Net(nd.Network):
        def __init__(self):
            self.pop = li

    net = Net()

    def final_v(i_pa):
        li.I_ext = i_pa * u.pA
        res = nd.run(net, 50 * DT, dt=DT, monitors={"V": li.V})
        return res["V"][-1, 0].to_value(u.mV)

    slope = nd.grad(final_v)(jnp.asarray(30.0))
    assert float(slope) == pytest.approx(0.1 * (1 - np.exp(-5.0 / 10.0)), rel=1e-4)


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: IF(2, C=-3 * u.pF), ValueError, r"IF: parameter C must be > 0 .*got -3 pF"),
        (lambda: IF(2, C=[1, 0] * u.pF), ValueError, r"IF: parameter C .* got 0 pF at index"),
        (lambda: IF(2, C=5 * u.ms), u.UnitMismatchError, r"IF: parameter C must have .* pF"),
        (
            lambda: IF(2, V_th=-70 * u.mV),
            ValueError,
            r"IF: V_th \(-70 mV\) must be above V_reset \(-65 mV\)",
        ),
        (lambda: LI(2, tau=0 * u.ms), ValueError, r"LI: parameter tau must be > 0; got 0 ms"),
        (lambda: LI(2, R=-1 * u.Mohm), ValueError, r"LI: parameter R must be > 0 .*got -1 Mohm"),
        (lambda: LI(2, V_rest=np.nan * u.mV), ValueError, r"LI: parameter V_rest is NaN"),
        (lambda: LI(2, tau_ref=1 * u.ms), TypeError, r"LI: tau_ref needs a spiking model"),
        (lambda: LI(2, V_th=-50 * u.mV), TypeError, r"LI: unknown argument\(s\) V_th"),
    ],
)
def test_bad_parameters_are_refused_with_model_parameter_and_value(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_an_li_is_no_projection_source():
    class Net(nd.Network):
        def __init__(self):
            self.a = LI(2)
            self.b = IF(2)
            w = event.Dense(np.ones((2, 2)) * u.pA)
            self.p = Projection(self.a, self.b, w, synapse=Delta(), output=CUBA())

    with pytest.raises(TypeError, match="pre must be a population with spikes, got LI"):
        Net()
