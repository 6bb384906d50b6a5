"""Every example runs at a small size and prints its JSON line."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.parametrize("name", ["coba.py", "cuba.py", "coba_hh.py", "ei_poisson.py"])
def test_network_examples_print_their_numbers(name):
    args = [sys.executable, str(EXAMPLES / name), "--n", "400", "--t", "100"]
    if name == "coba.py":
        args.append("--no-plot")
    out = subprocess.run(args, check=True, capture_output=True, text=True, timeout=300).stdout
    data = json.loads(out.strip().splitlines()[-1])
    assert data["n"] == 400 and data["t_ms"] == 100
    for key in ("rate_E_hz", "rate_I_hz", "build_s", "run_s"):
        assert data[key] >= 0


def test_units_state_example_runs():
    out = subprocess.run(
        [sys.executable, str(EXAMPLES / "lif_units_state.py")],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    ).stdout
    assert "rheobase (analytic): 0.15 nA" in out


@pytest.mark.parametrize(
    "name, key, target",
    [
        ("force_sines.py", "rms_error", 0.1),
        ("esn_mackey_glass.py", "nrmse", 0.1),
        ("snn_digits.py", "test_accuracy", 0.9),
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
