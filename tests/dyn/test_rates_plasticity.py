"""Rate models against fixed points / analytic limit cycles; STP, gap junctions, STDP,
Poisson input."""

import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import fsolve

import neurodyn as nd
import neurodyn.units as u
from neurodyn import event
from neurodyn.dyn import (
    LIF,
    STDP,
    STP,
    Expon,
    GapJunction,
    JansenRit,
    Monitor,
    PoissonInput,
    Projection,
    QIFMeanField,
    SpikeTimeGroup,
    StuartLandau,
    ThresholdLinear,
    WilsonCowan,
)


class Wrap(nd.Network):
    def __init__(self, **mods):
        for k, v in mods.items():
            setattr(self, k, v)


def test_wilson_cowan_reaches_the_fixed_point_found_by_fsolve():
    wc = WilsonCowan(1, P=0.5)
    nd.run(Wrap(m=wc), 200 * u.ms, dt=0.01 * u.ms)
    S = lambda x, a, th: 1 / (1 + np.exp(-a * (x - th))) - 1 / (1 + np.exp(a * th))  # noqa

    def rhs(z):
        e, i = z
        return [
            -e + (1 - e) * S(16 * e - 12 * i + 0.5, 1.3, 4.0),
            -i + (1 - i) * S(15 * e - 3 * i, 2.0, 3.7),
        ]

    e, i = float(wc.E.value[0]), float(wc.I.value[0])
    fixed = fsolve(rhs, [e, i])
    np.testing.assert_allclose([e, i], fixed, atol=1e-4)
    assert np.max(np.abs(rhs([e, i]))) < 1e-4


def test_stuart_landau_limit_cycle_radius_and_frequency():
    sl = StuartLandau(1, a=0.25, w=0.5, tau=1 * u.ms)
    res = nd.run(Wrap(m=sl), 400 * u.ms, dt=0.01 * u.ms, monitors={"x": sl.x, "y": sl.y})
    x, y = np.asarray(res["x"])[-5000:, 0], np.asarray(res["y"])[-5000:, 0]
    np.testing.assert_allclose(np.sqrt(x**2 + y**2), 0.5, rtol=1e-3)
    phase = np.unwrap(np.arctan2(y, x))
    omega = (phase[-1] - phase[0]) / (0.01 * (len(phase) - 1))
    assert omega == pytest.approx(0.5, rel=1e-3)  # rad/ms


def test_qif_mean_field_steady_state():
    m = QIFMeanField(1, tau=10 * u.ms, eta=-5.0, delta=1.0, J=15.0)
    nd.run(Wrap(m=m), 500 * u.ms, dt=0.01 * u.ms)
    tau = 10.0
    r, v = float(m.r.value.to_value(u.Hz / u.ms * u.ms)[0]) * 1e-3, float(m.v.value[0])

    def rhs(z):
        rr, vv = z  # rr in 1/ms
        return [
            1.0 / (np.pi * tau) + 2 * rr * vv,
            vv * vv - 5.0 + 15.0 * tau * rr - (np.pi * tau * rr) ** 2,
        ]

    fixed = fsolve(rhs, [r, v])
    np.testing.assert_allclose([r, v], fixed, rtol=1e-4, atol=1e-6)


def test_threshold_linear_analytic_steady_state():
    W = np.array([[0.0, -0.5], [0.2, 0.0]])
    m = ThresholdLinear(2, W=W, tau=5 * u.ms)
    inp = jnp.array([1.0, 0.5])

    class Net(nd.Network):
        def __init__(self):
            self.m = m

        def update(self):
            self.m.update(inp)

    nd.run(Net(), 200 * u.ms, dt=0.01 * u.ms)
    expected = np.linalg.solve(np.eye(2) - W, np.asarray(inp))  # both positive: linear regime
    np.testing.assert_allclose(m.r.value, expected, rtol=1e-4)


def test_jansen_rit_alpha_rhythm():
    jr = JansenRit(1, p=220.0)
    res = nd.run(Wrap(m=jr), 3000 * u.ms, dt=0.1 * u.ms, monitors={"a": jr.y1, "b": jr.y2})
    eeg = (np.asarray(res["a"]) - np.asarray(res["b"]))[10000:, 0]
    spectrum = np.abs(np.fft.rfft(eeg - eeg.mean()))
    freqs = np.fft.rfftfreq(len(eeg), d=1e-4)
    peak = freqs[np.argmax(spectrum)]
    assert 7.0 < peak < 13.0, peak


def _one_pre_post(spike_times, **proj_kw):
    src = SpikeTimeGroup(1, [0] * len(spike_times), spike_times * u.ms)
    post = LIF(1, V_th=100 * u.mV)
    proj = Projection(
        src,
        post,
        event.FixedProb(1.0).build(1, 1, 1.0 * u.nS),
        synapse=Expon(0.1 * u.ms),
        **proj_kw,
    )
    return Wrap(src=src, post=post, proj=proj), proj


def test_stp_depression_matches_the_tsodyks_markram_recursion():
    times = np.array([1.0, 21.0, 41.0, 61.0])
    net, proj = _one_pre_post(times, stp=STP(U=0.5, tau_f=1e-3 * u.ms, tau_d=100 * u.ms))
    res = nd.run(net, 80 * u.ms, dt=0.1 * u.ms, monitors={"g": proj.synapse.g})
    g = np.asarray(res["g"].to_value(u.nS))[:, 0]
    peaks = [g[int(round(t / 0.1))] for t in times]  # the step of the spike (Brian2's order)
    # recursion: release_n = U x_n ; x_{n+1} = 1 - (1 - x_n + U x_n) e^{-dt/tau_d}
    x, expected = 1.0, []
    for _ in times:
        expected.append(0.5 * x)
        x = 1 - (1 - (x - 0.5 * x)) * np.exp(-20.0 / 100.0)
    np.testing.assert_allclose(peaks, expected, rtol=2e-3)


def test_gap_junction_current_equals_dense_formula():
    pop = LIF(3, V_initializer=jnp.array([-70.0, -60.0, -50.0]) * u.mV, V_th=100 * u.mV)
    G = np.array([[0, 1, 0], [1, 0, 2], [0, 2, 0]], float)
    GapJunction(pop, event.CSR.from_dense(G * u.nS))
    V = pop.V.value
    current = pop.input_current(V, 0 * u.pA)
    v = np.array([-70.0, -60.0, -50.0])
    expected = G @ v - G.sum(1) * v  # nS * mV = pA
    np.testing.assert_allclose(current.to_value(u.pA), expected, rtol=1e-6)


def test_stdp_potentiates_pre_before_post_and_depresses_post_before_pre():
    def pair(dt_ms):
        pre = SpikeTimeGroup(1, [0], [10.0] * u.ms)
        post = SpikeTimeGroup(1, [0], [10.0 + dt_ms] * u.ms)
        conn = event.FixedProb(1.0).build(1, 1, weight=lambda rng, n: np.full(n, 1.0) * u.nS)
        target = LIF(1, V_th=100 * u.mV)
        proj = Projection(pre, target, conn, stdp=STDP(A_plus=0.1 * u.nS, A_minus=0.1 * u.nS))

        class Net(nd.Network):
            def __init__(self):
                self.pre, self.post, self.target, self.proj = pre, post, target, proj

            def update(self):
                self.proj.stdp.update(self.proj.conn, self.pre.spike.value, self.post.spike.value)
                self.pre.update()
                self.post.update()

        nd.run(Net(), 40 * u.ms, dt=0.1 * u.ms)
        return float(proj.stdp.weights.value.to_value(u.nS)[0])

    w_ltp, w_ltd = pair(+5.0), pair(-5.0)
    assert w_ltp == pytest.approx(1.0 + 0.1 * np.exp(-5.0 / 20.0), rel=2e-2)
    assert w_ltd == pytest.approx(1.0 - 0.1 * np.exp(-5.0 / 20.0), rel=2e-2)


def test_poisson_input_mean_conductance():
    post = LIF(500, V_th=100 * u.mV)
    pin = PoissonInput(
        post, num_inputs=100, rate=10 * u.Hz, weight=1 * u.nS, synapse=Expon(5 * u.ms)
    )
    nd.random.seed(1)
    res = nd.run(
        Wrap(post=post, pin=pin),
        200 * u.ms,
        dt=0.1 * u.ms,
        monitors={"g": Monitor(pin.synapse.g, every=1 * u.ms)},
    )
    g = np.asarray(res["g"].to_value(u.nS))[50:]
    # stationary mean of shot noise: N * rate * w * tau = 100 * 10 Hz * 1 nS * 5 ms = 5 nS
    assert g.mean() == pytest.approx(5.0, rel=0.05)


def test_fitzhugh_nagumo_oscillates_and_hindmarsh_rose_bursts():
    from scipy.integrate import solve_ivp

    from neurodyn.dyn import FitzHughNagumo, HindmarshRose

    fhn = FitzHughNagumo(1, I_ext=0.5, V_th=1.0)
    res = nd.run(Wrap(m=fhn), 200 * u.ms, dt=0.01 * u.ms, monitors={"V": fhn.V, "s": fhn.spike})

    def rhs(t, z):
        v, w = z
        return [v - v**3 / 3 - w + 0.5, (v + 0.7 - 0.8 * w) / 12.5]

    ref = solve_ivp(
        rhs, (0, 200), [-1.2, -0.6], t_eval=np.arange(1, 20001) * 0.01, rtol=1e-10, atol=1e-10
    )
    np.testing.assert_allclose(np.asarray(res["V"])[:, 0], ref.y[0], atol=1e-3)
    assert int(np.asarray(res["s"]).sum()) >= 4  # relaxation oscillations
    hr = HindmarshRose(1, I_ext=3.0, V_th=1.0)
    res = nd.run(Wrap(m=hr), 2000 * u.ms, dt=0.02 * u.ms, monitors={"s": hr.spike})
    times = np.nonzero(np.asarray(res["s"])[:, 0])[0] * 0.02
    isi = np.diff(times)
    assert len(times) > 10 and isi.max() > 2.5 * np.median(isi)  # bursts separated by pauses
