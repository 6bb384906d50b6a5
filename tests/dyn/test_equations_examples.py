"""The examples written with equation strings run at a small size and print their JSON
line (a process each: ``slow``)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _last_json(name, *args):
    cmd = [sys.executable, str(EXAMPLES / name), *args]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=300).stdout
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.slow
def test_coba_from_strings_runs_at_the_benchmark_rates():
    data = _last_json("coba_strings.py", "--n", "4000", "--t", "200")
    assert 10 < data["rate_E_hz"] < 40 and 10 < data["rate_I_hz"] < 40, data


@pytest.mark.slow
def test_stdp_from_strings_pushes_weights_to_the_bounds():
    data = _last_json("stdp_strings.py", "--n", "1000", "--t", "5000")
    assert 10 < data["post_rate_hz"] < 60, data
    # from uniform weights (a tenth in each end bin) STDP moves mass to both bounds
    assert data["frac_below_0.1"] > 0.11 and data["frac_above_0.9"] > 0.1, data


@pytest.mark.slow
@pytest.mark.parametrize("name", ["hh_strings.py", "adex_strings.py"])
def test_single_neuron_examples_from_strings_equal_their_built_in_twins(name):
    # f-I curves of n neurons from strings and from the built-in class: the example asserts
    # that the spike counts agree to one spike and prints both mean rates
    data = _last_json(name, "--n", "10", "--t", "300")
    assert data["max_count_diff"] <= 1, data
    assert data["rate_strings_hz"] > 10, data
    assert abs(data["rate_strings_hz"] - data["rate_builtin_hz"]) <= 1000 / 300, data
