"""examples/nir_roundtrip.py runs and its files are valid; neurodyn.io needs its
optional packages only when a function uses them, and says how to install them."""

import json
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "nir_roundtrip.py"
OPTIONAL = ("nir", "h5py", "pynwb", "nwbinspector", "neo", "quantities", "isal")


def test_nir_roundtrip_example(tmp_path, monkeypatch, capsys):
    pynwb = pytest.importorskip("pynwb")
    nir = pytest.importorskip("nir")
    # in this process (JAX is already imported): about 4 s here, 6.5 s as a subprocess
    monkeypatch.setattr(sys, "argv", [str(EXAMPLE), "--out", str(tmp_path), "--steps", "200"])
    runpy.run_path(str(EXAMPLE), run_name="__main__")
    data = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert data["steps"] == 200 and data["reexport_same_spikes"] is True
    assert data["hidden_spikes"] > 0 and data["nwb_hidden_spikes"] == data["hidden_spikes"]
    assert data["nwb_stimulus_same"] is True
    nir_file, nwb_file, sonata_file = map(Path, data["files"])
    assert nir.read(nir_file).nodes["lif1.lif"].tau_mem.shape == (38,)
    assert pynwb.validate(path=str(nwb_file)) == []
    assert sonata_file.exists()


def _python(code: str) -> str:
    return subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=120
    ).stdout.strip()


def test_io_loads_its_packages_lazily_and_says_how_to_install_them():
    blocked = "; ".join(f"sys.modules[{m!r}] = None" for m in OPTIONAL)
    out = _python(
        "import sys, neurodyn, neurodyn.dyn, neurodyn.io.nir, neurodyn.io.sonata, neurodyn.io.nwb\n"
        f"print(sorted(m for m in {OPTIONAL!r} if m in sys.modules))\n"
        f"{blocked}\n"  # now as if they were not installed
        "calls = [lambda: neurodyn.io.nir.load('g.nir'),\n"
        "         lambda: neurodyn.io.sonata.read_spikes('s.h5'),\n"
        "         lambda: neurodyn.io.nwb.read('r.nwb')]\n"
        "for call in calls:\n"
        "    try:\n"
        "        call()\n"
        "    except ImportError as err:\n"
        "        print(err)\n"
    )
    lines = out.splitlines()
    assert lines[0] == "[]" and len(lines) == 4
    for line, pkg in zip(lines[1:], ("'nir'", "'h5py'", "'pynwb'")):
        assert pkg in line and line.endswith("pip install neurodyn[io]")
