"""Bad input to cells names what exists and how to fix it: unknown regions and locations,
compartments too long for the d_lambda rule (a warning with the advice), monitors of
mechanisms that are not there; and a step far above the cable's time constants stays
stable (every part of the step is implicit or exact: there is no explicit bound)."""

import warnings

import numpy as np
import pytest

import neurodyn as nd
import neurodyn.units as u
from neurodyn import dendrite as D

S_CM2 = u.S / u.cm**2


def _cell(**kwargs):
    m = D.Morphology.ball_and_stick(20 * u.um, 500 * u.um, 2 * u.um)
    return D.Cell(m, ncomp=kwargs.pop("ncomp", 5), Ra=100 * u.ohm * u.cm, **kwargs)


def test_unknown_regions_and_locations_list_what_exists():
    cell = _cell(warn_d_lambda=False)
    with pytest.raises(KeyError, match=r"Regions: \['soma', 'basal', 'dendrites', 'all'\]"):
        cell.paint("apic", D.Leak())
    with pytest.raises(ValueError, match=r"region 'apical' has no branches.*'soma', 'basal'"):
        cell.paint("apical", D.Leak())
    with pytest.raises(KeyError, match=r"Regions here: \['soma', 'basal', 'dendrites', 'all'\]"):
        cell.location("tuft", 0.5)
    with pytest.raises(IndexError, match=r"there are 2 \(0..1\)"):
        cell.location(5, 0.5)
    with pytest.raises(ValueError, match=r"x must be in \[0, 1\]"):
        cell.location("soma", 1.5)


def test_long_compartments_warn_with_the_d_lambda_advice():
    with pytest.warns(D.DLambdaWarning, match=r"dend\[0\].*5 compartments and needs 13.*d_lambda"):
        _cell()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _cell(ncomp="d_lambda")  # the rule itself: no warning
        _cell(warn_d_lambda=False)


def test_a_large_step_stays_stable():
    # dt = 5 ms, far above the axial time constants of 20 um compartments: backward
    # Euler for V and exact or exponential updates for everything else stay bounded and
    # reach the passive steady state
    cell = _cell(ncomp=10, warn_d_lambda=False)
    cell.paint("all", D.Leak(g=1e-4 * S_CM2, E=-65 * u.mV))
    soma = cell.location("soma", 0.5)
    cell.place(soma, D.IClamp(0 * u.ms, 1000 * u.ms, 0.05 * u.nA))
    res = nd.run(cell, 400 * u.ms, dt=5 * u.ms, monitors={"v": cell.V_at(soma)})
    v = np.asarray(res["v"].to_value(u.mV))
    assert np.all(np.isfinite(v)) and np.all(np.diff(v) >= -1e-4)  # monotone rise
    assert -65 < v[-1] < -40
