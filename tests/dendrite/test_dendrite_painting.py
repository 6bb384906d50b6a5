"""Parameters as functions of the path distance from the soma: the distances are NEURON's
(``h.distance`` from soma(0.5) of a ball-and-stick: 10 um + 500 um x), and a cable with a
reversal potential and a leak that change along it reaches the steady state of the
cable equation discretised by hand (a dense tridiagonal solve)."""

import math
from pathlib import Path

import jax
import numpy as np
import pytest

import neurodyn as nd
import neurodyn.units as u
from neurodyn import dendrite as D

S_CM2 = u.S / u.cm**2
REF = Path(__file__).resolve().parents[1] / "reference" / "neuron"


def test_path_distances_are_neurons():
    m = D.Morphology.ball_and_stick(20 * u.um, 500 * u.um, 2 * u.um)
    cell = D.Cell(m, ncomp=5)
    for x in (0.1, 0.3, 0.5, 0.7, 0.9):
        d = cell.path_distance(cell.location("dend[0]", x)).to_value(u.um)
        assert d == pytest.approx(10 + 500 * x, abs=1e-9)
    assert cell.path_distance(cell.location("soma", 0.5)).to_value(u.um) == pytest.approx(0)
    assert cell.path_distance(cell.location("soma", 0.1)).to_value(u.um) == pytest.approx(8)


def test_leak_painted_by_distance_reaches_the_cable_steady_state():
    L, diam, Ra, N = 1000.0, 2.0, 100.0, 20
    g_of = lambda d: 1e-4 * (1 + d / L)  # S/cm2  # noqa: E731
    e_of = lambda d: -65 + 10 * d / L  # mV  # noqa: E731
    with jax.enable_x64(True):
        cell = D.Cell(D.Morphology.cylinder(L * u.um, diam * u.um), ncomp=N, Ra=Ra * u.ohm * u.cm)
        cell.paint(
            "all",
            D.Leak(g=lambda d: g_of(d.to_value(u.um)) * S_CM2,
                   E=lambda d: e_of(d.to_value(u.um)) * u.mV),
        )  # fmt: skip
        nd.run(cell, 250 * u.ms, dt=1 * u.ms)  # backward Euler: the exact steady state
        v = np.asarray(cell.V.value.to_value(u.mV))
        dist = np.asarray(cell.path_distance().to_value(u.um))
    seg = cell._area > 0
    order = np.argsort(dist[seg])
    v_num = v[seg][order]
    # by hand: N equal segments, centres at (k + 1/2) L / N; membrane g A, axial
    # conductance pi d^2 / (4 Ra dx) between neighbouring centres (sealed ends)
    dx = L / N
    x = (np.arange(N) + 0.5) * dx
    area = math.pi * diam * dx * 1e-8  # cm2
    gm = g_of(x) * area  # S
    ga = math.pi * (diam * 1e-4) ** 2 / (4 * Ra * dx * 1e-4)  # S
    A = np.diag(gm + 2 * ga) - ga * (np.eye(N, k=1) + np.eye(N, k=-1))
    A[0, 0] -= ga
    A[-1, -1] -= ga
    v_ref = np.linalg.solve(A, gm * e_of(x))
    np.testing.assert_allclose(v_num, v_ref, atol=1e-6)
    assert v_ref.max() - v_ref.min() > 1  # the profile is not flat


def test_distance_functions_are_checked_when_painted():
    cell = D.Cell(D.Morphology.cylinder(100 * u.um, 2 * u.um), ncomp=3)
    with pytest.raises(u.UnitMismatchError, match=r"g\(distance\) must be in"):
        cell.paint("all", D.Leak(g=lambda d: d))
    with pytest.raises(ValueError, match="one value or one per compartment"):
        cell.paint("all", D.Leak(g=lambda d: np.ones(7) * 1e-4 * S_CM2))
    with pytest.raises(TypeError, match="paint the mechanism on a cell"):
        D.Leak(g=lambda d: 1e-4 * S_CM2).params()


def test_cm_and_ra_by_region_match_neuron():
    ref = np.load(REF / "ball_and_stick_regions.npz")
    UF = u.uF / u.cm**2
    with jax.enable_x64(True):
        m = D.Morphology.ball_and_stick(20 * u.um, 500 * u.um, 2 * u.um)
        cell = D.Cell(
            m,
            ncomp=5,
            cm={"all": 1 * UF, "dendrites": 2 * UF},
            Ra={"soma": 100 * u.ohm * u.cm, "dend[0]": 250 * u.ohm * u.cm},
            warn_d_lambda=False,
        )
        cell.paint("soma", D.HH())
        cell.paint("dendrites", D.Leak(g=1e-4 * S_CM2, E=-65 * u.mV))
        soma, dend = cell.location("soma", 0.5), cell.location("dend[0]", 0.9)
        cell.place(soma, D.IClamp(5 * u.ms, 30 * u.ms, 0.3 * u.nA))
        res = nd.run(cell, 40 * u.ms, dt=0.025 * u.ms,
                     monitors={"v_soma": cell.V_at(soma), "v_dend": cell.V_at(dend)})  # fmt: skip
        for k in ("v_soma", "v_dend"):
            np.testing.assert_allclose(res[k].to_value(u.mV), ref[k], atol=1e-9, rtol=0)
    assert list(cell.Ra) == [100.0, 250.0] and list(cell.cm) == [1.0, 2.0]
    with pytest.raises(KeyError, match=r"cm is given for 'tuft'.*Regions: \['soma'"):
        D.Cell(m, cm={"tuft": 1 * UF})
