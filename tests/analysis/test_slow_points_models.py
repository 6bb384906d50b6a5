"""slow_points on neurodyn.dyn populations and networks, against fixed points computed
independently: enumerated analytically for a threshold-linear network, found by
scipy.optimize.root on the equations typed here for the others."""

import itertools

import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import root

import neurodyn as nd
import neurodyn.units as u
from neurodyn import analysis, event


def _relu_fixed_points(W, I):
    """All fixed points of r = [W r + I]_+ by enumerating the active sets."""
    n = len(I)
    out = []
    for k in range(n + 1):
        for S in itertools.combinations(range(n), k):
            S = list(S)
            r = np.zeros(n)
            if S:
                r[S] = np.linalg.solve(np.eye(k) - W[np.ix_(S, S)], I[S])
            h = W @ r + I
            off = [i for i in range(n) if i not in S]
            if np.all(r[S] > 0) and np.all(h[off] < 0):
                out.append(r)
    return out


def test_threshold_linear_network_finds_every_enumerated_fixed_point():
    W = -1.5 * (np.ones((3, 3)) - np.eye(3))  # mutual inhibition, winner-take-all
    I = np.array([1.0, 1.0, 1.0])
    net = nd.dyn.ThresholdLinear(3, W=jnp.asarray(W), I_ext=jnp.asarray(I), tau=10 * u.ms)
    starts = np.random.default_rng(0).uniform(0, 1.2, size=(48, 3))
    pts = analysis.slow_points(net, {"r": starts}, tol=1e-12)
    ref = _relu_fixed_points(W, I)
    assert len(ref) == 7  # 3 winners, 3 pairs (0.4, 0.4), all three at 0.25
    got = sorted(tuple(np.round(p.values["r"], 4)) for p in pts)
    assert got == sorted(tuple(np.round(r, 4)) for r in ref)
    for p in pts:
        r = p.values["r"]
        active = (W @ r + I) > 0
        J = (-np.eye(3) + np.diag(active) @ W) / 10.0  # per ms
        np.testing.assert_allclose(
            np.sort_complex(p.eigenvalues), np.sort_complex(np.linalg.eigvals(J)), atol=1e-5
        )
        assert p.stable == (int(active.sum()) == 1)


def _qif_typed(x, eta, delta=1.0, J=15.0, tau=10.0):
    """Montbrio-Pazo-Roxin mean field; r in Hz, v dimensionless, derivatives per ms."""
    r, v = x
    R = r * tau * 1e-3  # tau r, dimensionless
    return [
        (delta / (np.pi * tau) * 1e3 + 2 * r * v) / tau,  # Hz per ms
        (v * v + eta + J * R - (np.pi * R) ** 2) / tau,
    ]


def test_qif_mean_field_in_units_with_a_varied_parameter():
    eta = -5.0  # bistable: a low- and a high-activity state and a saddle
    ref = []
    for guess in ([10.0, -2.0], [50.0, -0.3], [100.0, -0.15]):
        sol = root(_qif_typed, guess, args=(eta,), tol=1e-12)
        if sol.success and not any(np.allclose(sol.x, r, rtol=1e-6) for r in ref):
            ref.append(sol.x)
    assert len(ref) == 3  # r = 8.1, 47.3 and 103 Hz
    model = nd.dyn.QIFMeanField(1, eta=-4.0)  # the analysed value comes from args
    starts = {
        "r": np.array([0.005, 0.01, 0.04, 0.05, 0.09, 0.11]) * u.kHz,
        "v": np.array([-1.5, -2.5, -0.4, -0.3, -0.2, -0.1]),
    }
    # Adam on |F|^2 converges slowly where r (~100 Hz) and v (~0.1) have unlike scales:
    # small steps, and merge= in the mixed units of x
    pts = analysis.slow_points(
        model,
        starts,
        args=(eta,),
        param="eta",
        steps=10000,
        learning_rate=0.005,
        tol=1e-8,
        merge=0.5,
    )
    assert float(model.eta[0] if jnp.ndim(model.eta) else model.eta) == -4.0  # untouched
    got = sorted((float(p.values["r"].to_value(u.Hz)[0]), float(p.values["v"][0])) for p in pts)
    want = sorted((float(r), float(v)) for r, v in ref)
    assert len(got) == 3
    np.testing.assert_allclose(got, want, rtol=2e-3, atol=1e-3)
    for p in pts:  # eigenvalues of the typed Jacobian (central differences)
        x = np.array([float(p.values["r"].to_value(u.Hz)[0]), float(p.values["v"][0])])
        cols = []
        for e in np.diag([1e-4, 1e-6]):
            df = np.subtract(_qif_typed(x + e, eta), _qif_typed(x - e, eta))
            cols.append(df / (2 * e.max()))
        ev = np.linalg.eigvals(np.column_stack(cols))
        np.testing.assert_allclose(np.sort_complex(p.eigenvalues), np.sort_complex(ev), rtol=5e-3)
    assert [p.kind for p in sorted(pts, key=lambda p: p.h[0])][1] == "saddle"


def test_network_of_rate_populations_coupled_by_registered_inputs():
    W_EE = np.array([[0.6, 0.2], [0.2, 0.6]])
    w_EI, w_IE, I_E, I_I = 1.0, 0.5, np.array([1.0, 0.5]), 0.1

    class EI(nd.Network):
        def __init__(self):
            self.E = nd.dyn.ThresholdLinear(
                2, W=jnp.asarray(W_EE), I_ext=jnp.asarray(I_E), tau=10 * u.ms
            )
            self.I = nd.dyn.ThresholdLinear(1, I_ext=I_I, tau=5 * u.ms)
            self.E.add_input("I->E", lambda r: -w_EI * self.I.r.value)
            self.I.add_input("E->I", lambda r: w_IE * jnp.sum(self.E.r.value, keepdims=True))

    def typed(x):
        rE, rI = x[:2], x[2]
        hE = W_EE @ rE - w_EI * rI + I_E
        hI = w_IE * rE.sum() + I_I
        return np.concatenate([(-rE + np.maximum(hE, 0)) / 10.0, [(-rI + max(hI, 0)) / 5.0]])

    ref = root(typed, [0.5, 0.5, 0.5], tol=1e-12).x
    net = EI()
    before = np.asarray(net.E.r.value)
    pts = analysis.slow_points(
        net, {"E.r": np.array([[0.1, 0.1], [1.0, 2.0]]), "I.r": 0.2}, tol=1e-12
    )
    assert len(pts) == 1
    p = pts[0]
    assert set(p.values) == {"E.r", "I.r"} and p.values["E.r"].shape == (2,)
    np.testing.assert_allclose(np.concatenate([p.values["E.r"], p.values["I.r"]]), ref, atol=1e-4)
    J = np.array(
        [
            [(typed(ref + 1e-6 * e)[i] - typed(ref - 1e-6 * e)[i]) / 2e-6 for e in np.eye(3)]
            for i in range(3)
        ]
    )
    np.testing.assert_allclose(
        np.sort_complex(p.eigenvalues), np.sort_complex(np.linalg.eigvals(J)), atol=1e-4
    )
    np.testing.assert_array_equal(np.asarray(net.E.r.value), before)  # States restored


def test_gap_junction_coupled_lif_population_in_millivolts():
    G = 5.0  # nS between the two neurons
    pop = nd.dyn.LIF(2, I_ext=np.array([50.0, 100.0]) * u.pA)
    nd.dyn.GapJunction(pop, event.CSR.from_dense(np.array([[0.0, G], [G, 0.0]]) * u.nS))
    # tau dV_i/dt = V_rest - V_i + R (I_i + G (V_j - V_i)); R G = 0.5: a linear system
    RG, RI = 100.0 * G * 1e-3, 100.0 * np.array([50.0, 100.0]) * 1e-3  # mV
    A = np.array([[1 + RG, -RG], [-RG, 1 + RG]])
    v_ref = np.linalg.solve(A, -65.0 + RI)
    pts = analysis.slow_points(pop, {"V": np.array([-70.0, -60.0]) * u.mV}, tol=1e-10)
    assert len(pts) == 1
    V = pts[0].values["V"]
    assert V.unit == u.mV
    np.testing.assert_allclose(V.to_value(u.mV), v_ref, atol=2e-3)
    np.testing.assert_allclose(
        np.sort(pts[0].eigenvalues.real), np.sort(-np.linalg.eigvals(A) / 20.0), rtol=1e-4
    )
    assert pts[0].kind == "stable node"


def test_slow_point_errors_name_the_model_and_the_choices():
    net = nd.dyn.ThresholdLinear(2)
    with pytest.raises(ValueError, match=r"starts names \['x'\].*ThresholdLinear.*variables are r"):
        analysis.slow_points(net, {"x": [0.0, 0.0]})
    with pytest.raises(ValueError, match=r"ThresholdLinear has no parameter 'g' to vary.*tau"):
        analysis.slow_points(net, None, param="g")
    with pytest.raises(TypeError, match="no param was named"):
        analysis.slow_points(net, None, args=(1.0,))
    with pytest.raises(ValueError, match=r"starts has shape \(3,\).*2 state entries"):
        analysis.slow_points(net, [0.0, 0.0, 0.0])
    with pytest.raises(u.UnitMismatchError, match=r"starts\['V'\].*dimension of mV"):
        analysis.slow_points(nd.dyn.LIF(1), {"V": 1.0 * u.nA})

    class Spiking(nd.Network):
        def __init__(self):
            self.a = nd.dyn.LIF(2)
            self.p = nd.dyn.Projection(self.a, self.a, event.CSR.from_dense(np.ones((2, 2)) * u.nS))

    with pytest.raises(TypeError, match="act\\(s\\) through spikes"):
        analysis.slow_points(Spiking())

    class Two(nd.Network):
        def __init__(self):
            self.E = nd.dyn.ThresholdLinear(1)
            self.I = nd.dyn.ThresholdLinear(1)

    with pytest.raises(ValueError, match=r"param='tau'.*one of E, I \(e.g. 'E.I_ext'\)"):
        analysis.slow_points(Two(), param="tau")
