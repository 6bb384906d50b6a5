"""Every example runs at a small size and prints its JSON line."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SLOW_NETWORK_EXAMPLES = ("cuba.py", "coba_hh.py", "ei_poisson.py")


def _last_json(name, *args):
    """Run examples/<name> with args; the JSON object on its last line of output."""
    cmd = [sys.executable, str(EXAMPLES / name), *args]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=300).stdout
    return json.loads(out.strip().splitlines()[-1])


# The default run keeps coba.py at n=400 (the demo) and lif_units_state.py; the other
# examples (a process and a JAX start-up each, several at full size) are `slow`
# (`make test-slow`); the library code they use has its own fast tests.
@pytest.mark.parametrize(
    "name",
    ["coba.py", *(pytest.param(n, marks=pytest.mark.slow) for n in SLOW_NETWORK_EXAMPLES)],
)
def test_network_examples_print_their_numbers(name):
    data = _last_json(
        name, "--n", "400", "--t", "100", *(["--no-plot"] if name == "coba.py" else [])
    )
    assert data["n"] == 400 and data["t_ms"] == 100
    for key in ("rate_E_hz", "rate_I_hz", "build_s", "run_s"):
        assert data[key] >= 0


@pytest.mark.slow
def test_coba_brette_variant_sustains_itself():
    # no external drive: activity lives on from the initial conductances
    data = _last_json("coba.py", "--n", "4000", "--t", "300", "--variant", "brette", "--no-plot")
    assert 10 < data["rate_E_hz"] < 30, data


@pytest.mark.slow
def test_coba_stdp_variant_runs_at_the_benchmark_rates():
    # STDP on every E synapse barely moves the rates within 300 ms (weights drift by ~1%)
    data = _last_json("coba.py", "--n", "2000", "--t", "300", "--variant", "stdp", "--no-plot")
    assert 10 < data["rate_E_hz"] < 40, data


def test_units_state_example_runs():
    out = subprocess.run(
        [sys.executable, str(EXAMPLES / "lif_units_state.py"), "--no-plot"],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    ).stdout
    assert "rheobase (analytic): 0.15 nA" in out


@pytest.mark.slow
@pytest.mark.parametrize(
    "name, key, target",
    [
        ("force_sines.py", "rms_error", 0.1),
        ("esn_mackey_glass.py", "nrmse", 0.1),
        ("snn_digits.py", "test_accuracy", 0.95),
        ("snn_regression.py", "nrmse", 0.2),
    ],
)
def test_training_examples_reach_their_targets(name, key, target):
    out = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    ).stdout
    data = json.loads(out.strip().splitlines()[-1])
    if key == "test_accuracy":
        assert data[key] >= target, data
    else:
        assert data[key] <= target, data


@pytest.mark.slow
def test_wang2002_decision_follows_the_coherence():
    out = subprocess.run(
        [sys.executable, str(EXAMPLES / "wang2002.py"), "--coherence", "51.2"],
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    ).stdout
    data = json.loads(out.strip().splitlines()[-1])
    assert data["winner"] == "A", data
    assert data["rate_A_hz"] > 15 and data["rate_B_hz"] < 8, data


@pytest.mark.slow
def test_wang2002_short_stimulus_decides_too():
    # the docs build's size: a 1 s stimulus from 100 ms, rates over its second half
    data = _last_json(
        "wang2002.py", "--coherence", "51.2", "--stim-on", "100", "--stim-off", "1100",
        "--t", "1100",
    )  # fmt: skip
    assert data["winner"] == "A", data
    assert data["rate_A_hz"] > 15 and data["rate_B_hz"] < 8, data


def test_wang2002_refuses_a_run_that_ends_before_the_stimulus():
    # --t 500 used to print NaN rates: the window (1500-2000 ms) was never simulated
    cmd = [sys.executable, str(EXAMPLES / "wang2002.py"), "--t", "500"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "must last 100 ms or more" in proc.stderr, proc.stderr
    assert "NaN" not in proc.stdout


def _run_json(name, *args, timeout=300):
    out = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        check=True,
        capture_output=True,
        text=True,
        timeout=timeout,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.slow
def test_analysis_spikes_example_prints_its_statistics():
    data = _run_json("analysis_spikes.py", "--n", "200", "--t", "500", "--no-plot")
    assert data["n"] == 200 and data["t_ms"] == 500
    assert data["rate_E_hz"] > 0 and data["rate_I_hz"] > 0
    assert 0 < data["cv"] < 5 and 0 < data["cv2"] < 2 and 0 < data["lv"] < 3
    assert data["fano_100ms"] > 0 and -1 <= data["sttc_5ms"] <= 1
    assert data["victor_purpura"] >= 0 and data["van_rossum"] >= 0
    assert 0 <= data["synchrony_chi"] <= 1 and data["psd_peak_hz"] >= 5


@pytest.mark.slow
def test_analysis_spikes_distances_use_active_neurons():
    # at 500 neurons the first two E neurons are nearly silent; the pair is the first two
    # active ones, so the STTC and the distances are defined
    data = _run_json("analysis_spikes.py", "--t", "1000", "--no-plot")
    assert -1 <= data["sttc_5ms"] <= 1, data
    assert data["victor_purpura"] > 2 and data["van_rossum"] > 1, data


@pytest.mark.slow
def test_analysis_phase_plane_example_finds_the_fixed_points():
    data = _run_json("analysis_phase_plane.py", "--t", "200", "--no-plot")
    (fp0,) = data["fixed_points_I0"]
    assert fp0["kind"] == "stable focus"
    # the fixed point solves V - V^3/3 - w = 0 and V + 0.7 - 0.8 w = 0
    assert abs(fp0["V"] - fp0["V"] ** 3 / 3 - fp0["w"]) < 1e-4
    assert abs(fp0["V"] + 0.7 - 0.8 * fp0["w"]) < 1e-4
    assert [fp["kind"] for fp in data["fixed_points_I"]] == ["unstable focus"]
    assert 30 < data["period_ms"] < 50


@pytest.mark.slow
@pytest.mark.skipif(
    not (EXAMPLES / "analysis_bifurcation.py").exists(), reason="bifurcation example not there"
)
def test_analysis_bifurcation_example_locates_the_hh_hopf_points():
    data = _run_json("analysis_bifurcation.py", timeout=600)
    assert data["hh_hopf_I"][0] == pytest.approx(9.78, abs=0.05)
    assert data["hh_lpc_I"] == pytest.approx(6.26, rel=0.02)
    assert len(data["ml_fold_I"]) == 2


@pytest.mark.slow
def test_custom_plasticity_changes_the_weights():
    cmd = [sys.executable, str(EXAMPLES / "custom_plasticity.py"), "--n", "1000", "--t", "200"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=300).stdout
    line = [ln for ln in out.splitlines() if "excitatory weights after the runs" in ln][0]
    mean = float(line.split("mean ")[1].split(" nS")[0])
    assert mean != 6.0 and 0.0 <= mean <= 12.0


# the dendrite gallery: each example runs its default size in a few seconds of compute
@pytest.mark.slow
def test_dendrite_examples_reach_their_numbers():
    bap = _last_json("dendrite_bap.py")
    passive = _last_json("dendrite_bap.py", "--passive")
    # the active dendrites carry the spike further than passive ones
    assert bap["soma_amplitude_mV"] > 90
    assert bap["half_amplitude_distance_um"] > 1.4 * passive["half_amplitude_distance_um"]
    fit = _last_json("dendrite_fit.py")
    assert max(fit["rel_error"].values()) < 0.05 and fit["loss_last"] < 0.01
    net = _last_json("dendrite_network.py", "--n", "100", "--t", "300")
    assert 1 < net["rate_cells_hz"] < 100 and net["cells_fired"] > 50
    assert net["rate_inh_hz"] > 1
    syn = _last_json("dendrite_integration.py")
    soma, t_peak = syn["soma_epsp_mV"], syn["soma_time_to_peak_ms"]
    assert all(a > b for a, b in zip(soma, soma[1:]))  # smaller and later with distance
    assert all(a < b for a, b in zip(t_peak, t_peak[1:]))
    assert syn["local_epsp_mV"][-1] > syn["soma_epsp_mV"][-1]
    assert syn["ten_inputs_ratio_ampa"] < 0.9 and syn["ten_inputs_ratio_nmda_part"] > 1.2
