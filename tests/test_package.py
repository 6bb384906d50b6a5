"""Package-level promises: light import, layer independence, re-exports."""

import subprocess
import sys


def _run(code: str) -> str:
    return subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout.strip()


def test_import_neurodyn_is_light():
    out = _run(
        "import sys, neurodyn; "
        "print(sorted(m for m in sys.modules if m.startswith(('jax', 'neurodyn.'))))"
    )
    assert out == "[]"


def test_units_alone_does_not_pull_higher_layers():
    out = _run(
        "import sys, neurodyn.units; "
        "print(sorted(m.split('.')[1] for m in sys.modules if m.startswith('neurodyn.')))"
    )
    assert set(eval(out)) == {"units"}


def test_state_names_are_reexported_lazily():
    out = _run("import neurodyn as nd; print(nd.jit is nd.state.jit, nd.Param.__module__)")
    assert out == "True neurodyn.state._state"
