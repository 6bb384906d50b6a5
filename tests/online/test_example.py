"""The evidence-accumulation example runs end to end at a tiny size (slow: a process and
several compilations)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "online_evidence_accumulation.py"


@pytest.mark.slow
def test_evidence_accumulation_example_runs():
    cmd = [sys.executable, str(EXAMPLE), "--iterations", "2", "--hidden", "16", "--batch", "8",
           "--rules", "bptt,es_d_rtrl,eprop_random"]  # fmt: skip
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=600).stdout
    data = json.loads(out.strip().splitlines()[-1])
    assert [r["rule"] for r in data["results"]] == ["bptt", "es_d_rtrl", "eprop_random"]
    for r in data["results"]:
        assert 0.0 <= r["test_accuracy"] <= 1.0
    assert data["results"][1]["trace_bytes"] > 0


def _run(name, *args):
    cmd = [sys.executable, str(EXAMPLE.parent / name), *args]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=900).stdout
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.slow  # (a process, compilations and 150 training sequences: ~20-40 s)
def test_delayed_match_to_sample_example_reaches_its_figure():
    # the example asserts its own figure (D-RTRL >= 0.75 at the fast default size)
    data = _run("online_dms.py")
    (res,) = data["results"]
    assert res["rule"] == "d_rtrl" and res["T"] == 100
    assert res["test_accuracy"] >= 0.75
    assert res["trace_bytes"] > 0


@pytest.mark.slow  # (a process, compilations and 40 training sequences: ~15-30 s)
def test_ei_coba_example_learns_with_sparse_projections():
    data = _run("online_ei_coba.py")
    assert data["synapses"] > 0 and data["trace_bytes"] > 0
    assert data["accuracy_after"] >= 0.9 > data["accuracy_before"] + 0.2
