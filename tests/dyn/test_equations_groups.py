"""NeuronGroup from strings: integration methods against closed forms, noise, the time,
parameters and their units, string values, subexpressions, resets, views, batching,
gradients, the analysis, and Brian2's PoissonInput form."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurodyn as nd
import neurodyn.units as u
from neurodyn.dyn import EquationError, NeuronGroup, PoissonInput


def _run(G, t_ms, monitors, dt=0.1):
    return nd.run(G, t_ms * u.ms, dt=dt * u.ms, monitors=monitors)


def test_exact_method_is_the_closed_form_of_a_linear_equation():
    with jax.enable_x64(True):
        G = NeuronGroup(
            3,
            "dv/dt = (I - v)/tau : volt\nI : volt",
            method="exact",
            namespace={"tau": 7 * u.ms},
            I=np.array([1.0, 5.0, -3.0]) * u.mV,
            v=2 * u.mV,
        )
        v = np.asarray(_run(G, 10, {"v": G.v})["v"].mantissa) * 1e3  # mV
    t = np.arange(1, 101) * 0.1
    I = np.array([1.0, 5.0, -3.0])
    expected = I + (2.0 - I) * np.exp(-t[:, None] / 7.0)
    np.testing.assert_allclose(v, expected, rtol=1e-12, atol=1e-13)


def test_exact_method_solves_coupled_linear_equations():
    """An alpha synapse, g' = (h - g)/tau, h' = -h/tau: g = (t/tau) e^{-t/tau} from h = 1."""
    with jax.enable_x64(True):
        G = NeuronGroup(
            1,
            "dg/dt = (h - g)/tau : 1\ndh/dt = -h/tau : 1",
            method="exact",
            namespace={"tau": 3 * u.ms},
            h=1.0,
        )
        res = _run(G, 15, {"g": G.g, "h": G.h})
    t = np.arange(1, 151) * 0.1
    np.testing.assert_allclose(res["g"][:, 0], t / 3 * np.exp(-t / 3), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(res["h"][:, 0], np.exp(-t / 3), rtol=1e-12)


def test_exact_method_on_badly_scaled_si_quantities_in_float32():
    """v' = (I - v + R g)/tau, g' = -g/tau_g: R/tau = 1e10 V/(A s) beside 1/tau = 100/s
    in one matrix; the float32 step still follows the closed form."""
    G = NeuronGroup(
        1,
        "dv/dt = (I - v + R*g)/tau : volt\ndg/dt = -g/tau_g : amp",
        method="exact",
        namespace=dict(I=15 * u.mV, R=100 * u.Mohm, tau=10 * u.ms, tau_g=5 * u.ms),
        g=100 * u.pA,
    )
    res = _run(G, 20, {"v": G.v})
    t = np.arange(1, 201) * 0.1
    drive = 100e6 * 100e-12 * 1e3 / 10.0  # R g0 / tau in mV/ms
    v = 15 * (1 - np.exp(-t / 10)) + drive * (np.exp(-t / 5) - np.exp(-t / 10)) / (0.1 - 0.2)
    np.testing.assert_allclose(res["v"][:, 0].to_value(u.mV), v, rtol=2e-5, atol=1e-5)


@pytest.mark.parametrize("method, tol", [("rk4", 1e-9), ("rk2", 5e-5), ("euler", 2e-2)])
def test_explicit_methods_converge_to_the_harmonic_oscillator(method, tol):
    with jax.enable_x64(True):
        G = NeuronGroup(
            1,
            "dx/dt = y/tau : 1\ndy/dt = -x/tau : 1",
            method=method,
            namespace={"tau": 1 * u.ms},
            x=1.0,
        )
        res = _run(G, 2 * np.pi, {"x": G.x}, dt=np.pi / 500)
    err = abs(float(res["x"][-1, 0]) - 1.0)
    assert err < tol
    assert method == "euler" or err > tol / 1e4  # a real method error, not zero


def test_exponential_euler_is_brian2s_scheme_for_conditionally_linear_equations():
    """v' = a(t) v + b with a = -g/C constant over a step: the step is
    v e^{a dt} + b/a (e^{a dt} - 1) with the old g (g decays exactly)."""
    with jax.enable_x64(True):
        G = NeuronGroup(
            1,
            "dv/dt = g*(E - v)/C : volt\ndg/dt = -g/tau : siemens",
            method="exponential_euler",
            namespace={"E": 10 * u.mV, "C": 100 * u.pF, "tau": 2 * u.ms},
            g=5 * u.nS,
        )
        res = _run(G, 1, {"v": G.v, "g": G.g})
        got = np.asarray(res["v"].mantissa)[:, 0]  # volt
    v, g, out = 0.0, 5e-9, []
    for _ in range(10):
        a = -g / 100e-12
        v = v * np.exp(a * 1e-4) + (-10e-3 * a) / a * (np.exp(a * 1e-4) - 1)
        g = g * np.exp(-1e-4 / 2e-3)
        out.append(v)
    np.testing.assert_allclose(got, out, rtol=1e-10)  # phi1's series: 5e-12


def test_the_default_method_and_the_refusals_follow_brian2():
    lin = NeuronGroup(1, "dv/dt = -v/(10*ms) : volt")
    nonlin = NeuronGroup(1, "dv/dt = -v**3/(10*ms*mV**2) : volt")
    mult = NeuronGroup(1, "dx/dt = -x/(10*ms) + x*xi/sqrt(second) : 1")
    add = NeuronGroup(1, "dx/dt = -x/(10*ms) + xi/sqrt(second) : 1")
    assert [g._spec.method for g in (lin, nonlin, mult, add)] == ["exact", "euler", "heun", "euler"]
    with pytest.raises(EquationError, match="'exact' needs linear.*not linear"):
        NeuronGroup(1, "dv/dt = -v**3/(10*ms*mV**2) : volt", method="exact")
    with pytest.raises(EquationError, match="depends on the time t"):
        NeuronGroup(1, "dv/dt = -v/(10*ms) + sin(t/ms)*mV/ms : volt", method="exact")
    with pytest.raises(EquationError, match="cannot integrate noise"):
        NeuronGroup(1, "dx/dt = xi/sqrt(second) : 1", method="rk4")
    with pytest.raises(EquationError, match="additive noise only.*heun"):
        NeuronGroup(1, "dx/dt = x*xi/sqrt(second) : 1", method="euler")
    with pytest.raises(ValueError, match="unknown method 'rk45'"):
        NeuronGroup(1, "dx/dt = -x/ms : 1", method="rk45")


def test_white_noise_gives_the_ou_variance_and_xi_names_are_shared():
    nd.random.seed(3)
    G = NeuronGroup(
        4000,
        """
        dv/dt = -v/tau + sigma*sqrt(2/tau)*xi : volt
        dx/dt = s*xi_1 : 1
        dy/dt = s*xi_1 : 1
        dz/dt = s*xi_2 : 1
        """,
        namespace={"tau": 5 * u.ms, "sigma": 2 * u.mV, "s": 1 / u.second**0.5},
    )
    assert G._spec.method == "euler"
    _run(G, 50, {})
    v = np.asarray(G.v.value.to_value(u.mV))
    assert abs(v.mean()) < 0.1 and abs(v.std() - 2.0) < 0.08  # stationary N(0, sigma^2)
    np.testing.assert_array_equal(np.asarray(G.x.value), np.asarray(G.y.value))  # one xi_1
    assert np.corrcoef(np.asarray(G.x.value), np.asarray(G.z.value))[0, 1] < 0.1
    assert abs(float(np.std(np.asarray(G.z.value))) - np.sqrt(0.05)) < 0.01  # Wiener: sqrt(t)


def test_heun_integrates_multiplicative_noise_in_stratonovich_sense():
    """dx = s x o dW (Stratonovich): x = exp(s W), so log x ~ N(0, s^2 t)."""
    nd.random.seed(4)
    G = NeuronGroup(2000, "dx/dt = s*x*xi : 1", namespace=dict(s=1 / u.second**0.5), x=1.0)
    assert G._spec.method == "heun"
    _run(G, 200, {})
    lx = np.log(np.asarray(G.x.value))
    assert abs(lx.mean()) < 0.03 and abs(lx.var() - 0.2) < 0.02


def test_t_is_the_start_of_the_step_and_constant_over_dt_subexpressions():
    with jax.enable_x64(True):
        G = NeuronGroup(
            1,
            "dx/dt = t/ms**2 : 1\ndy/dt = k/ms : 1\nk = t/ms : 1 (constant over dt)",
            method="euler",
        )
        _run(G, 3, {})
    n = 30  # euler: x = sum_k dt (k dt) / ms^2 = dt^2 n (n - 1) / 2
    assert float(G.x.value[0]) == pytest.approx(0.01 * n * (n - 1) / 2, rel=1e-12)
    assert float(G.y.value[0]) == pytest.approx(0.01 * n * (n - 1) / 2, rel=1e-12)


def test_parameters_are_per_neuron_checked_and_settable_with_strings():
    G = NeuronGroup(
        5,
        """
        dv/dt = (El - v)/tau : volt
        tau : second
        El : volt (shared)
        I = (El - v)/R : amp
        R : ohm (constant)
        """,
        R=100 * u.Mohm,
    )
    G.tau = np.arange(1, 6) * u.ms
    G.El = -60 * u.mV
    G.v = "El + i*mV"
    np.testing.assert_allclose(G.v.value.to_value(u.mV), [-60, -59, -58, -57, -56], rtol=1e-6)
    np.testing.assert_allclose(G.I.value.to_value(u.pA), [0, -10, -20, -30, -40], atol=1e-3)
    with pytest.raises(u.UnitMismatchError, match="tau must have the dimension of s"):
        G.tau = 5 * u.mV
    with pytest.raises(u.UnitMismatchError, match="needs a unit of s"):
        G.tau = 5
    with pytest.raises(ValueError, match="one value for the whole population"):
        G.El = np.zeros(5) * u.mV
    with pytest.raises(AttributeError, match="subexpression"):
        G.I = 1 * u.pA
    with pytest.raises(u.UnitMismatchError, match="v is in V but the expression is in s"):
        G.v = "tau"
    with pytest.raises(TypeError, match="unknown argument"):
        NeuronGroup(1, "dv/dt = -v/(10*ms) : volt", vv=1 * u.mV)


def test_reset_statements_write_variables_and_parameters():
    G = NeuronGroup(
        3,
        """
        dv/dt = (I - v)/(10*ms) : volt (unless refractory)
        I : volt
        count : integer
        """,
        threshold="v > 10*mV",
        reset="v = 0*mV; count += 1",
        refractory=1 * u.ms,
        I=np.array([12.0, 20.0, 40.0]) * u.mV,
    )
    res = _run(G, 100, {"s": G.spike})
    np.testing.assert_array_equal(np.asarray(G.count.value), np.asarray(res["s"]).sum(0))
    assert np.asarray(G.count.value).tolist()[0] < np.asarray(G.count.value).tolist()[2]
    with pytest.raises(EquationError, match="writes the subexpression"):
        NeuronGroup(
            1, "dv/dt = -v/(10*ms) : volt\nx = 2*v : volt", threshold="v > 1*mV", reset="x = 0*mV"
        )
    with pytest.raises(EquationError, match="not a condition"):
        NeuronGroup(1, "dv/dt = -v/(10*ms) : volt", threshold="v - 1*mV")
    with pytest.raises(u.UnitMismatchError, match="refractory `w` is in V"):
        NeuronGroup(1, "dv/dt = -v/(10*ms) : volt\nw : volt", threshold="v > 1*mV", refractory="w")


def test_poisson_neurons_from_a_threshold_with_rand():
    nd.random.seed(0)
    P = NeuronGroup(2000, "rates : Hz", threshold="rand() < rates*dt", rates=40 * u.Hz)
    res = _run(P, 100, {"s": P.spike})
    rate = np.asarray(res["s"]).mean() / 1e-4
    assert abs(rate - 40) < 2  # 8000 expected spikes: 3 standard deviations ~ 1.3 Hz


def test_views_batching_equal_single_runs():
    eqs = "dv/dt = (I - v)/(10*ms) : volt (unless refractory)\nI : volt"

    def build():
        G = NeuronGroup(
            6,
            eqs,
            threshold="v > 10*mV",
            reset="v = 0*mV",
            refractory=2 * u.ms,
            I=np.linspace(11, 30, 6) * u.mV,
        )
        return G

    rng = np.random.default_rng(0)
    v0 = rng.uniform(0, 10, (3, 6))
    G = build()
    G.init_state(batch_size=3)
    G.v = v0 * u.mV
    batched = _run(G, 30, {"s": G.spike, "e": G[:2].spike})
    assert np.asarray(batched["s"]).shape == (300, 3, 6)
    np.testing.assert_array_equal(batched["e"], np.asarray(batched["s"])[:, :, :2])
    for b in range(3):
        single = build()
        single.v = v0[b] * u.mV
        np.testing.assert_array_equal(
            _run(single, 30, {"s": single.spike})["s"], np.asarray(batched["s"])[:, b]
        )


def smooth(x):
    return jax.nn.sigmoid(x / 0.5)


smooth.differentiable = True


@pytest.mark.slow
def test_gradients_through_a_string_network_equal_finite_differences():
    with jax.enable_x64(True):
        net = nd.Network()
        net.tau = nd.Param(jnp.asarray(20.0) * u.ms)
        net.A = NeuronGroup(
            4,
            "dv/dt = (El - v + R*I)/tau : volt\nI : amp\ntau : second",
            threshold="v > -50*mV",
            reset="v = -65*mV",
            spike_fn=smooth,
            detach_reset=False,
            namespace=dict(El=-65 * u.mV, R=100 * u.Mohm),
            v=-65 * u.mV,
            I=jnp.array([300.0, 320, 340, 360]) * u.pA,
        )
        net.A.tau = net.tau
        net.B = NeuronGroup(
            3,
            "dv/dt = (El - v)/(10*ms) + g*(E - v)/C : volt\ndg/dt = -g/(5*ms) : siemens",
            threshold="v > -55*mV",
            reset="v = -65*mV",
            spike_fn=smooth,
            detach_reset=False,
            namespace=dict(El=-65 * u.mV, E=0 * u.mV, C=200 * u.pF),
            v=-65 * u.mV,
            method="exponential_euler",
        )
        net.S = nd.dyn.Synapses(
            net.A, net.B, nd.event.FixedProb(0.8, seed=1), on_pre="g_post += 2*nS"
        )

        def loss():
            net.reset_state()
            res = nd.run(net, 20 * u.ms, dt=0.1 * u.ms, monitors={"V": net.B.v})
            return jnp.mean(res["V"].to_value(u.mV))

        g = float(nd.grad(loss, net.states(nd.Param))()["tau"].to_value(u.kHz))
        h, t0 = 1e-4, net.tau.value
        net.tau.value = t0 + h * u.ms
        lp = float(loss())
        net.tau.value = t0 - h * u.ms
        lm = float(loss())
        net.tau.value = t0
    assert abs(g) > 1e-3
    assert g == pytest.approx((lp - lm) / (2 * h), rel=1e-6)


def test_the_analysis_takes_a_group_from_strings():
    G = NeuronGroup(
        1,
        "dv/dt = (v - v**3/3 - w + I)/tau : 1\ndw/dt = (v + a - b*w)/(12.5*tau) : 1\nI : 1",
        namespace=dict(a=0.7, b=0.8, tau=1 * u.ms),
    )
    [fp] = nd.analysis.fixed_points(G, np.array([[0.0, 0.0], [-1.2, -0.6]]))
    v = fp.values["v"]
    assert v - v**3 / 3 - (v + 0.7) / 0.8 == pytest.approx(0.0, abs=1e-5)  # the closed form
    assert fp.kind == "stable focus"


def test_poisson_input_in_brian2s_form():
    """``PoissonInput(G, "v", N, rate, weight)``: jumps of ``weight`` on ``v``; the mean
    of a leaky v driven by it is N rate weight tau (dropped while refractory)."""
    nd.random.seed(1)
    G = NeuronGroup(2000, "dv/dt = -v/(20*ms) : volt (unless refractory)", v=16 * u.mV)
    net = nd.Network()
    net.G = G
    net.P = PoissonInput(G, "v", 400, 20 * u.Hz, 0.1 * u.mV)
    nd.run(net, 40 * u.ms, dt=0.1 * u.ms)
    # stationary mean 16 mV, standard deviation sqrt(N rate tau / 2) weight = 0.89 mV
    assert float(np.mean(G.v.value.to_value(u.mV))) == pytest.approx(16.0, abs=0.1)
    with pytest.raises(u.UnitMismatchError, match="weight=0.1"):
        PoissonInput(G, "v", 400, 20 * u.Hz, 0.1 * u.nS)
    with pytest.raises(TypeError, match="no variable 'x'"):
        PoissonInput(G, "x", 400, 20 * u.Hz, 0.1 * u.mV)
    with pytest.raises(TypeError, match="NeuronGroup takes its inputs through its equations"):
        PoissonInput(G, 10, 20 * u.Hz, 1 * u.nS)
    # a refractory neuron does not take the jumps (Brian2's conditional write)
    H = NeuronGroup(
        2,
        "dv/dt = -v/(20*ms) : volt (unless refractory)",
        threshold="v > 100*mV",
        reset="v = 0*mV",
        refractory="i == 0",
    )
    H.not_refractory.value = jnp.array([False, True])
    net2 = nd.Network()
    net2.H, net2.P = H, PoissonInput(H, "v", 100, 200 * u.Hz, 0.5 * u.mV)
    nd.run(net2, 10 * u.ms, dt=0.1 * u.ms)
    v = np.asarray(H.v.value.to_value(u.mV))
    assert v[0] == 0.0 and v[1] > 1.0
