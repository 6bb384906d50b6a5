"""The Cell's interface: what is refused (and the message says what was expected, what
was got and how to fix it), locations, monitors, resets, and a cell inside a Network."""

import numpy as np
import pytest

import neurodyn as nd
import neurodyn.units as u
from neurodyn import dendrite as D

S_CM2 = u.S / u.cm**2


def _cell(**kwargs):
    return D.Cell(D.Morphology.ball_and_stick(20 * u.um, 200 * u.um, 2 * u.um), ncomp=3, **kwargs)


def test_paint_refusals_name_the_choices():
    cell = _cell()
    with pytest.raises(KeyError, match=r"no region or branch 'tuft'. Regions: \['soma', 'basal'"):
        cell.paint("tuft", D.HH())
    with pytest.raises(ValueError, match=r"region 'apical' has no branches .* \['soma', 'basal'"):
        cell.paint("apical", D.HH())
    with pytest.raises(TypeError, match="Point processes .* go with cell.place"):
        cell.paint("soma", D.IClamp(1 * u.ms, 1 * u.ms, 1 * u.nA))
    cell.paint("soma", D.HH())
    with pytest.raises(ValueError, match="HH is already painted on 3 compartments of 'all'"):
        cell.paint("all", D.HH())
    cell.paint(["dend[0]"], D.Leak())  # a list of branches
    with pytest.raises(TypeError, match="Density mechanisms go with cell.paint"):
        cell.place(cell.location("soma", 0.5), D.Leak())


def test_parameters_are_checked_with_their_units():
    with pytest.raises(
        u.UnitMismatchError, match=r"g_Na must be in S/cm\^2 .* got mV. Write e.g. g_Na=0.12 \* u.S"
    ):
        D.HH(g_Na=1 * u.mV)
    with pytest.raises(ValueError, match="g must be >= 0"):
        D.Leak(g=-1 * S_CM2)
    D.HH(g_K=36 * u.mS / u.cm**2)  # any density unit
    with pytest.raises(
        u.UnitMismatchError, match=r"amplitude must be in nA .* amplitude=0.5 \* u.nA"
    ):
        D.IClamp(1 * u.ms, 1 * u.ms, 1 * u.mV)
    with pytest.raises(ValueError, match="method must be one of"):
        _cell(method="rk4")
    with pytest.raises(ValueError, match=r"ncomp must be an int >= 1 or one per branch \(2 values"):
        D.Cell(D.Morphology.ball_and_stick(20 * u.um, 200 * u.um, 2 * u.um), ncomp=[1, 2, 3])
    with pytest.raises(u.UnitMismatchError, match="temperature must be a temperature"):
        _cell(temperature=6.3 * u.mV)
    with pytest.raises(TypeError, match="morphology must be a Morphology"):
        D.Cell("cell.swc")
    assert D.HH.q10(16.3) == pytest.approx(3.0) and D.HH.q10(6.3) == 1.0
    assert _cell(temperature=310.15 * u.kelvin).temperature_c == pytest.approx(37.0)


def test_locations_and_monitor_views():
    cell = _cell()
    soma = cell.location("soma", 0.5)
    assert repr(soma) == "Location(soma[0](0.5))"
    assert cell.V_at(soma) is cell.V_at(cell.location("soma[0]", 0.5))  # one view per node
    with pytest.raises(ValueError, match=r"x must be in \[0, 1\]; got 1.5"):
        cell.location("soma", 1.5)
    with pytest.raises(TypeError, match="give a branch and x, or swc_point="):
        cell.location("soma", 0.5, swc_point=3)
    with pytest.raises(KeyError, match="not read from an SWC file"):
        cell.location(swc_point=3)
    with pytest.raises(TypeError, match=r"expected a Location \(cell.location"):
        cell.V_at(0)
    with pytest.raises(IndexError, match=r"no branch 5; there are 2"):
        cell.location(5, 0.5)


def test_reset_and_a_cell_inside_a_network():
    cell = _cell(V_initializer=-70 * u.mV)
    cell.paint("all", D.Leak(g=1e-3 * S_CM2, E=-60 * u.mV))
    mid = cell.location("dend[0]", 0.5)

    class Net(nd.Network):
        def __init__(self):
            self.cell = cell

    net = Net()
    first = nd.run(net, 5 * u.ms, dt=0.1 * u.ms, monitors={"v": cell.V_at(mid)})
    v = np.asarray(first["v"].to_value(u.mV))
    assert v[0] > -70 and np.all(np.diff(v) > 0) and v[-1] < -60  # relaxing to E
    net.reset_state()
    assert float(cell.V.value.to_value(u.mV).max()) == -70.0
    again = nd.run(net, 5 * u.ms, dt=0.1 * u.ms, monitors={"v": cell.V_at(mid)})
    np.testing.assert_array_equal(np.asarray(again["v"].to_value(u.mV)), v)
    assert "2 branches, 6 compartments, 1 painted" in repr(cell)
