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
