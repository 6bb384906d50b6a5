"""Discretisation: segment areas and axial resistances of the CA1 cell against NEURON's
``area()`` and ``ri()``, the d_lambda rule against NEURON's ``lambda_f``, and cylinders
and cones against their formulas."""

import math
from pathlib import Path

import numpy as np
import pytest

import neurodyn.units as u
from neurodyn import dendrite as D

REF = Path(__file__).resolve().parents[1] / "reference" / "neuron"


def test_n120_segment_areas_and_resistances_equal_neurons():
    ref = np.load(REF / "n120_geometry.npz")
    m = D.Morphology.from_swc(REF / "n120.swc")
    geo = D.discretize(m, 4, Ra=100.0)
    names = m.names()
    for k, name in enumerate(ref["names"].tolist()):
        b = names.index(name)
        f = geo.first[b]
        np.testing.assert_allclose(geo.area[f : f + 4], ref["area"][k], rtol=1e-13, err_msg=name)
        # ri: between each segment and its parent node, and the end node (MOhm)
        np.testing.assert_allclose(1 / geo.g_axial[f : f + 5], ref["ri"][k], rtol=1e-13)
    # the zero-area nodes: the root node and every branch's end
    assert geo.area[0] == 0 and np.all(geo.area[geo.first + geo.ncomp] == 0)


def test_d_lambda_rule_equals_neurons():
    ref = np.load(REF / "n120_geometry.npz")
    m = D.Morphology.from_swc(REF / "n120.swc")
    ours = dict(zip(m.names(), D.d_lambda_ncomp(m, Ra=100.0, cm=1.0, d_lambda=0.1, freq=100.0)))
    assert {n: ours[n] for n in ref["names"].tolist()} == dict(
        zip(ref["names"].tolist(), ref["nseg_dlambda"].tolist())
    )
    cell = D.Cell(m, ncomp="d_lambda", Ra=100 * u.ohm * u.cm)
    assert cell.geometry.ncomp.sum() == ref["nseg_dlambda"].sum()


def test_a_cylinder_has_the_textbook_areas_and_resistances():
    L, d, n, Ra = 300.0, 2.0, 7, 150.0
    geo = D.discretize(D.Morphology.cylinder(L * u.um, d * u.um), n, Ra)
    np.testing.assert_allclose(geo.area[1 : n + 1], math.pi * d * L / n, rtol=1e-12)
    r_half = 4 * Ra * (L / n / 2) * 1e-4 / (math.pi * (d * 1e-4) ** 2) / 1e6  # MOhm
    expected = [1 / r_half] + [1 / (2 * r_half)] * (n - 1) + [1 / r_half]
    np.testing.assert_allclose(geo.g_axial[1:], expected, rtol=1e-12)


def test_a_cone_integrates_to_its_lateral_area_and_resistance():
    r1, r2, L, Ra = 3.0, 1.0, 80.0, 100.0
    swc = f"1 3 0 0 0 {r1} -1\n2 3 {L} 0 0 {r2} 1\n"
    geo = D.discretize(D.Morphology.from_swc(swc), 9, Ra)
    area = math.pi * (r1 + r2) * math.sqrt(L**2 + (r1 - r2) ** 2)
    assert geo.area.sum() == pytest.approx(area, rel=1e-12)
    resistance = 4 * Ra * L * 1e-4 / (math.pi * (2 * r1 * 1e-4) * (2 * r2 * 1e-4)) / 1e6
    assert np.sum(1 / geo.g_axial[1:]) == pytest.approx(resistance, rel=1e-12)


def test_locations_are_neurons_segments_and_end_nodes():
    cell = D.Cell(D.Morphology.ball_and_stick(20 * u.um, 200 * u.um, 2 * u.um), ncomp=4)
    geo, pos = cell.geometry, cell._pos
    soma = cell.location("soma", 0.5)
    assert soma.node == pos[geo.first[0] + 2]  # node_index(4, 0.5) = 2, as NEURON
    assert cell.location("soma", 0.0).node == pos[0]  # the root node
    assert cell.location("dend[0]", 1.0).node == pos[geo.first[1] + 4]  # the end node
    assert cell.location(1, 0.0).node == pos[geo.first[0] + 4]  # the soma's end: soma(1)
    assert cell.location(1, 0.99).node == pos[geo.first[1] + 3]
    assert cell.n_compartments == 8
