"""Morphologies: the SWC reader against NEURON's Import3d (sections, parents, connection
points, 3-D points of small files with single-point, 3-point and multi-point somata and
of the CA1 cell n120), malformed files refused with their line, and the builders."""

import json
from pathlib import Path

import numpy as np
import pytest

import neurodyn.units as u
from neurodyn import dendrite as D

REF = Path(__file__).resolve().parents[1] / "reference" / "neuron"
N120 = REF / "n120.swc"


def _compare_with_neuron(morph, sections):
    """Every section: name, parent, parent x, 3-D points and diameters as NEURON has them
    (NEURON lists sections by type, so they are matched by name)."""
    ref = {s["name"]: s for s in sections}
    assert sorted(ref) == sorted(morph.names())
    names = morph.names()
    for b in morph.branches:
        r = ref[b.name]
        pts = np.array(r["points"])
        assert (names[b.parent] if b.parent >= 0 else None) == r["parent"], b
        if r["parent_x"] is not None:
            assert b.parent_x == r["parent_x"], b
        np.testing.assert_array_equal(pts[:, :3], b.xyz.astype(np.float32), err_msg=b.name)
        np.testing.assert_array_equal(pts[:, 3], b.diam.astype(np.float32), err_msg=b.name)


@pytest.mark.parametrize(
    "case",
    ["single_point_soma", "three_point_soma", "multipoint_soma", "type_change_and_zero_length"],
)
def test_small_swc_files_give_neurons_sections(case, tmp_path):
    data = json.loads((REF / "import3d_cases.json").read_text())[case]
    path = tmp_path / f"{case}.swc"
    path.write_text(data["swc"])
    _compare_with_neuron(D.Morphology.from_swc(path), data["sections"])


def test_single_point_soma_is_a_sphere_with_children_at_its_middle(tmp_path):
    data = json.loads((REF / "import3d_cases.json").read_text())["single_point_soma"]
    path = tmp_path / "s.swc"
    path.write_text(data["swc"])
    m = D.Morphology.from_swc(path)
    soma = m.branches[0]
    assert soma.name == "soma[0]" and soma.length == pytest.approx(20.0)  # L = diam
    np.testing.assert_allclose(soma.diam, 20.0)
    assert all(b.parent_x == 0.5 for b in m.branches if b.parent == 0)
    # children leave from their own first point (a "wire" to the centre)
    assert m.branches[1].xyz[0, 0] == pytest.approx(12.0)


def test_n120_has_neurons_156_sections():
    m = D.Morphology.from_swc(N120)
    geo = np.load(REF / "n120_geometry.npz")
    assert sorted(m.names()) == sorted(geo["names"].tolist())
    regions = m.regions()
    assert (len(regions["soma"]), len(regions["basal"]), len(regions["apical"])) == (2, 101, 53)
    assert regions["dendrites"] == sorted(regions["basal"] + regions["apical"])
    assert len(regions["all"]) == m.n_branches == 156
    assert m.branch_of("soma") == 0 and m.branch_of("dend[3]") == m.names().index("dend[3]")
    # SWC point 1683 lies inside dend[53] (NEURON puts it at x = 0.44226...)
    b, x = m.swc_point(1683)
    assert m.branches[b].name == "dend[53]" and x == pytest.approx(0.44226186287715397, abs=1e-12)


GOOD = "1 1 0 0 0 5 -1\n2 3 0 10 0 1 1\n3 3 0 20 0 1 2\n"


@pytest.mark.parametrize(
    "text, match",
    [
        (GOOD + "4 3 0 30 0 1 4\n", r"line 4: point 4 has parent 4; a parent's id must be smaller"),
        (GOOD + "3 3 0 30 0 1 2\n", r"line 4: duplicate id 3 \(first on line 3\)"),
        (GOOD + "4 3 0 30 0 1 9\n", r"line 4: point 4 has parent 9, which is not in the file"),
        (GOOD + "4 3 0 30 0 0 3\n", r"line 4: point 4 has radius 0; a radius must be > 0"),
        (GOOD + "4 3 0 30 0 1\n", r"line 4: expected 7 columns"),
        (GOOD + "4.5 3 0 30 0 1 3\n", r"line 4: the id must be an integer"),
        (GOOD + "4 3 0 x 0 1 3\n", r"line 4: could not read the numbers"),
        (GOOD + "4 3 0 30 0 1 -1\n", r"expected one tree .* 2 roots on lines \[1, 4\]"),
        # a cycle 5 -> 6 -> 5 is refused where the rule parent < id first fails
        (GOOD + "5 3 0 30 0 1 6\n6 3 0 40 0 1 5\n", r"line 4: point 5 has parent 6"),
        ("# only a comment\n", r"no data lines"),
    ],
)
def test_malformed_swc_files_are_refused_with_the_line(text, match):
    with pytest.raises(D.SWCError, match=match):
        D.read_swc(text)


def test_comments_blank_lines_extra_columns_and_unsorted_ids_are_read(tmp_path):
    text = "# header\n\n3 3 0 20 0 1 2 extra\n1 1 0 0 0 5 -1 # soma\n2 3 0 10 0 1 1\n"
    swc = D.read_swc(text)
    assert swc.ids.tolist() == [1, 2, 3] and swc.lines.tolist() == [4, 5, 3]
    with pytest.raises(FileNotFoundError, match="no file"):
        D.read_swc(str(tmp_path / "missing.swc"))


def test_builders_and_their_errors():
    m = D.Morphology.ball_and_stick(20 * u.um, 300 * u.um, 2 * u.um)
    assert m.names() == ["soma[0]", "dend[0]"] and m.branches[1].parent_x == 1.0
    assert m.branches[0].length == 20.0 and m.branches[1].length == 300.0
    cyl = D.Morphology.cylinder(100 * u.um, 1 * u.um, type="axon")
    assert cyl.names() == ["axon[0]"] and cyl.regions()["axon"] == [0]
    tree = D.Morphology.binary_tree(3, 50 * u.um, 4 * u.um, soma_diam=15 * u.um)
    assert tree.n_branches == 1 + 1 + 2 + 4
    diams = [b.diam[0] for b in tree.branches[1:]]
    assert diams[1] ** 1.5 * 2 == pytest.approx(diams[0] ** 1.5)  # Rall's 3/2 rule
    custom = D.Morphology.from_branches(
        [
            {"length": 10 * u.um, "diam": 10 * u.um, "type": "soma"},
            {"length": 20 * u.um, "diam": 1 * u.um, "type": 7, "parent": 0, "parent_x": 0.5},
        ]
    )
    assert custom.names() == ["soma[0]", "dend_7[0]"] and custom.regions()["custom7"] == [1]
    with pytest.raises(u.UnitMismatchError, match="length must be a length"):
        D.Morphology.cylinder(100, 1 * u.um)
    with pytest.raises(ValueError, match="diam must be > 0"):
        D.Morphology.cylinder(100 * u.um, 0 * u.um)
    with pytest.raises(ValueError, match=r"parent must be the index of an earlier branch \(0..0\)"):
        D.Morphology.from_branches(
            [{"length": 1 * u.um, "diam": 1 * u.um}, {"length": 1 * u.um, "diam": 1 * u.um}]
        )
    with pytest.raises(ValueError, match="type 'dendrite' is not an SWC type"):
        D.Morphology.cylinder(1 * u.um, 1 * u.um, type="dendrite")
    with pytest.raises(KeyError, match=r"no branch or region 'tuft'. Regions here: \['basal'"):
        cyl_b = D.Morphology.cylinder(1 * u.um, 1 * u.um)
        cyl_b.branch_of("tuft")
    with pytest.raises(KeyError, match="not read from an SWC file"):
        m.swc_point(3)
