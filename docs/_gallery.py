"""The example gallery: sphinx-gallery over ``examples/``, executed at a fast size.

Every example under ``examples/`` gets a page and is executed by the build. The scripts
are long-running at their default sizes, so the docs build runs each one with the small
arguments in :data:`EXAMPLES` (``NEURODYN_DOCS_FULL=1`` runs all of them at their
defaults) and then asserts the number the example states (the check in
:data:`EXAMPLES`). An example given ``None`` as its arguments would be shown, not run,
and its page would say so; none is today.

The scripts are not edited for the gallery: a staged copy of each (in
``docs/_gallery_src/``, rebuilt on every build, not tracked) gets an RST title, a note
on how it was run and two hidden blocks. The first sets ``__file__`` to the real script
(the examples find their data and write their figures next to it) and records the
output; the last runs the check on the output. The figures an example saves are
picked up from ``examples/figures/`` (:func:`saved_figures_scraper`).
"""

from __future__ import annotations

import ast
import json
import math
import os
import re
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FULL = os.environ.get("NEURODYN_DOCS_FULL", "") not in ("", "0")


def _json(out: str) -> dict:
    """The last line of the output that is a JSON object."""
    for line in reversed(out.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)
    raise AssertionError("the example printed no JSON line")


def _between(x, lo, hi, what):
    assert lo < x < hi, f"{what} = {x}, expected in ({lo}, {hi})"


# name -> (title, fast arguments (None: shown, not executed), check(out) or None)
# A check states the number the example reaches and fails the build when it is not met.
def _check_dendrite_integration(d):
    soma, t_peak = d["soma_epsp_mV"], d["soma_time_to_peak_ms"]
    assert all(a > b for a, b in zip(soma, soma[1:])), f"soma EPSPs not decreasing: {soma}"
    assert all(a < b for a, b in zip(t_peak, t_peak[1:])), f"peaks not later: {t_peak}"
    assert d["ten_inputs_ratio_ampa"] < 0.9, d


def _check_phase_plane(d):
    assert [fp["kind"] for fp in d["fixed_points_I0"]] == ["stable focus"], d
    assert [fp["kind"] for fp in d["fixed_points_I"]] == ["unstable focus"], d
    _between(d["period_ms"], 30, 50, "limit-cycle period (ms)")


def _check_bifurcation(d):
    assert abs(d["hh_hopf_I"][0] - 9.78) < 0.05, f"HH Hopf point {d['hh_hopf_I']}"
    assert abs(d["hh_lpc_I"] - 6.26) < 0.13, f"HH fold of cycles {d['hh_lpc_I']}"


def _check_plasticity(out):
    m = re.search(r"excitatory weights after the runs: mean ([\d.]+) nS", out)
    assert m, "the example printed no mean weight"
    mean = float(m.group(1))
    # at ~25 Hz the triplet term potentiates: the mean weight rises from 6 nS (6.4 nS
    # after 200 ms at 1000 neurons) and stays below the bound of 12 nS
    _between(mean, 6.1, 8.0, "mean E weight (nS)")
    _between(_json(out)["rate_E_hz"], 10, 40, "E rate (Hz)")


def _check_wang(d):
    # the group with the stronger stimulus wins: ~20-40 Hz against ~2 Hz (Wang 2002, Fig. 3)
    assert not math.isnan(d["rate_A_hz"]), d
    assert d["winner"] == "A", d
    _between(d["rate_A_hz"], 15, 60, "winner's rate (Hz)")
    _between(d["rate_B_hz"], 0, 8, "loser's rate (Hz)")


def _check_analysis_spikes(d):
    # the network of ei_poisson.py at 500 neurons: slow population bursts (~7 Hz), so the
    # ISIs are more variable than Poisson's (CV 1)
    _between(d["rate_E_hz"], 15, 45, "E rate (Hz)")
    _between(d["cv"], 1.0, 2.5, "CV of ISIs")
    _between(d["sttc_5ms"], -1, 1, "STTC of two active neurons")
    _between(d["synchrony_chi"], 0, 1, "synchrony chi")


def _check_coba_strings(d):
    # the same network as coba.py, from strings: the same rates (coba.py ran just before
    # at the same size, unless a NEURODYN_DOCS_GALLERY selection left it out)
    ref = _STATE.get("outputs", {}).get("coba.py")
    if ref is not None and EXAMPLES["coba.py"][1] == EXAMPLES["coba_strings.py"][1]:
        r = _json(ref)
        for key in ("rate_E_hz", "rate_I_hz"):
            _between(d[key] - r[key], -0.5, 0.5, f"{key} minus coba.py's")
    _between(d["rate_E_hz"], 10, 25, "E rate (Hz)")


def _check_dendrite_network(d):
    _between(d["rate_cells_hz"], 1, 100, "cell rate (Hz)")
    assert d["cells_fired"] > d["n"] // 2, f"only {d['cells_fired']} of {d['n']} cells fired"
    _between(d["rate_inh_hz"], 1, 200, "interneuron rate (Hz)")


def _check_nir(d):
    assert d["reexport_same_spikes"] is True, d
    assert d["nwb_stimulus_same"] is True, d
    assert d["hidden_spikes"] > 0 and d["nwb_hidden_spikes"] == d["hidden_spikes"], d


def _check_stdp(d):
    # the weights start uniform on [0, gmax] (10% in each end bin, +-1% at 1000 inputs)
    # and split towards 0 and gmax (Song, Miller & Abbott 2000): after 20 s both end bins
    # have grown (seed 0: 18.6% and 13.9%; seeds 1-3: 15.5-17.4% and 11.7-12.6%)
    lo, hi = d["frac_below_0.1"], d["frac_above_0.9"]
    _between(lo, 0.13, 0.6, "fraction of weights below 0.1 gmax")
    _between(hi, 0.11, 0.6, "fraction of weights above 0.9 gmax")
    _between(lo + hi, 0.26, 1.0, "fraction of weights in the two end bins")
    _between(d["post_rate_hz"], 15, 50, "postsynaptic rate (Hz)")


EXAMPLES: dict[str, tuple[str, list[str] | None, object]] = {
    "lif_units_state.py": (
        "LIF population with units and State transforms",
        [],
        lambda out: _assert_in("rheobase (analytic): 0.15 nA", out),
    ),
    "custom_model.py": (
        "A new neuron model in a user script",
        ["--n", "100", "--t", "200"],
        lambda out: _between(_json(out)["rate_hz"], 30, 55, "rate (Hz)"),
    ),
    "coba.py": (
        "COBA network (Brette et al. 2007)",
        ["--n", "1000", "--t", "200"],
        lambda out: _between(_json(out)["rate_E_hz"], 5, 40, "E rate (Hz)"),
    ),
    "cuba.py": (
        "CUBA network (Vogels & Abbott 2005)",
        ["--n", "1000", "--t", "200"],
        lambda out: _between(_json(out)["rate_E_hz"], 1, 30, "E rate (Hz)"),
    ),
    "brunel.py": (
        "Brunel (2000) sparse E/I network",
        ["--n", "1000", "--t", "200"],
        lambda out: _between(_json(out)["rate_E_hz"], 10, 200, "E rate (Hz)"),
    ),
    "dendrite_ball_and_stick.py": (
        "Ball-and-stick neuron under a current step",
        ["--plot"],
        lambda out: (
            _between(len(_json(out)["spikes_ms"]), 1, 6, "spikes"),
            _between(_json(out)["soma_peak_mV"], 20, 60, "soma peak (mV)"),
        ),
    ),
    "dendrite_integration.py": (
        "Dendritic integration of synaptic input",
        [],
        lambda out: _check_dendrite_integration(_json(out)),
    ),
    "dendrite_bap.py": (
        "Backpropagating action potential in a CA1 cell",
        [],
        lambda out: _between(_json(out)["soma_amplitude_mV"], 90, 130, "soma amplitude (mV)"),
    ),
    "esn_mackey_glass.py": (
        "Echo-state network on Mackey-Glass",
        ["--n", "200"],
        lambda out: _between(_json(out)["nrmse"], 0, 0.1, "closed-loop NRMSE"),
    ),
    "force_sines.py": (
        "FORCE learning of a sum of sines",
        ["--n", "200", "--t", "4000"],
        lambda out: _between(_json(out)["rms_error"], 0, 0.1, "RMS error"),
    ),
    "hh_strings.py": (
        "Hodgkin-Huxley neurons written as equation strings",
        ["--n", "20", "--t", "200"],
        lambda out: _between(_json(out)["max_count_diff"], -1, 2, "spike-count difference"),
    ),
    "adex_strings.py": (
        "AdEx neurons written as equation strings",
        ["--n", "20", "--t", "200"],
        lambda out: _between(_json(out)["max_count_diff"], -1, 2, "spike-count difference"),
    ),
    "analysis_phase_plane.py": (
        "Phase plane of the FitzHugh-Nagumo neuron",
        ["--t", "200"],
        lambda out: _check_phase_plane(_json(out)),
    ),
    "analysis_bifurcation.py": (
        "Bifurcations of Hodgkin-Huxley and Morris-Lecar",
        [],
        lambda out: _check_bifurcation(_json(out)),
    ),
    "snn_digits.py": (
        "Spiking network trained on digits (BPTT)",
        ["--epochs", "2", "--hidden", "64"],
        lambda out: _between(_json(out)["test_accuracy"], 0.5, 1.01, "test accuracy"),
    ),
    "online_ei_coba.py": (
        "E/I conductance network trained online",
        [],
        lambda out: _between(_json(out)["accuracy_after"], 0.9, 1.01, "accuracy after"),
    ),
    # the long ones, at a fast size (each ~5-15 s on one core); the checks state what the
    # size reaches, next to the expectation it is checked against
    "analysis_spikes.py": (
        "Spike statistics of an E/I network",
        ["--t", "1000"],
        lambda out: _check_analysis_spikes(_json(out)),
    ),
    "coba_hh.py": (
        "COBA-HH network (Brette et al. 2007)",
        ["--n", "1000", "--t", "200"],
        lambda out: _between(_json(out)["rate_E_hz"], 20, 80, "E rate (Hz)"),
    ),
    "coba_strings.py": (
        "COBA network written as equation strings",
        ["--n", "1000", "--t", "200"],
        lambda out: _check_coba_strings(_json(out)),
    ),
    "custom_plasticity.py": (
        "Triplet STDP written as event operators",
        ["--n", "1000", "--t", "200"],
        lambda out: _check_plasticity(out),
    ),
    "dendrite_fit.py": (
        "Fitting channel densities by gradient descent",
        [],
        lambda out: (
            _between(max(_json(out)["rel_error"].values()), 0, 0.05, "largest rel. error"),
            _between(_json(out)["loss_last"], 0, 0.01, "last loss (mV^2)"),
        ),
    ),
    "dendrite_network.py": (
        "A network of multi-compartment cells",
        [],
        lambda out: _check_dendrite_network(_json(out)),
    ),
    "ei_poisson.py": (
        "E/I network driven by Poisson input",
        ["--t", "500"],
        lambda out: (
            _between(_json(out)["cv_E"], 0.8, 1.5, "CV of E ISIs"),
            _between(_json(out)["rate_E_hz"], 10, 30, "E rate (Hz)"),
        ),
    ),
    "nir_roundtrip.py": (
        "A NIR graph: import, run, export, NWB",
        [],
        lambda out: _check_nir(_json(out)),
    ),
    "online_dms.py": (
        "Delayed match-to-sample learned online",
        ["--iterations", "100", "--min-accuracy", "0.7"],
        lambda out: _between(_json(out)["results"][0]["test_accuracy"], 0.7, 1.01, "accuracy"),
    ),
    "online_evidence_accumulation.py": (
        "Evidence accumulation learned online",
        ["--rules", "es_d_rtrl", "--iterations", "200"],
        lambda out: _between(
            _json(out)["results"][0]["test_accuracy"], 0.8, 1.01, "ES-D-RTRL accuracy"
        ),
    ),
    "snn_regression.py": (
        "Spiking network trained to produce a trajectory",
        [],
        lambda out: _between(_json(out)["nrmse"], 0, 0.2, "NRMSE"),
    ),
    "stdp_strings.py": (
        "STDP written as equation strings (Song et al. 2000)",
        ["--backend", "event"],
        lambda out: _check_stdp(_json(out)),
    ),
    "wang2002.py": (
        "Decision making (Wang 2002)",
        ["--coherence", "51.2", "--stim-on", "100", "--stim-off", "1100", "--t", "1100"],
        lambda out: _check_wang(_json(out)),
    ),
}


def _assert_in(text, out):
    assert text in out, f"expected {text!r} in the output"


def executed() -> list[str]:
    """The examples the build runs (all with NEURODYN_DOCS_FULL=1)."""
    if os.environ.get("NEURODYN_DOCS_GALLERY"):
        pat = re.compile(os.environ["NEURODYN_DOCS_GALLERY"])
        return [n for n in EXAMPLES if pat.search(n)]
    return [n for n, (_, args, _) in EXAMPLES.items() if FULL or args is not None]


# -- staging ---------------------------------------------------------------------------------

_HEAD = """# sphinx_gallery_start_ignore
import sys as _sys
__file__ = {file!r}
__doc__ = {doc!r}
_sys.path.insert(0, {dir!r})
_sys.path.insert(0, {docs!r})
import _gallery as _g
_g.start_recording()
# sphinx_gallery_end_ignore
"""
_TAIL = """
# sphinx_gallery_start_ignore
_g.finish({name!r})
# sphinx_gallery_end_ignore
"""


def _rst_lists(doc: str) -> str:
    """A ``- item`` list right under a paragraph line needs a blank line before it in
    reStructuredText (the examples' docstrings are written as plain text)."""
    out: list[str] = []
    for line in doc.splitlines():
        prev = out[-1] if out else ""
        if line.startswith("- ") and prev.strip() and not prev.startswith(("- ", " ")):
            out.append("")
        out.append(line)
    return "\n".join(out)


def _stage(src: Path, dst: Path, docs: Path, run: bool) -> None:
    text = src.read_text()
    title, args, chk = EXAMPLES.get(src.name, (src.stem.replace("_", " "), None, None))
    tree = ast.parse(text)
    doc = ast.get_docstring(tree, clean=True) or ""
    first = tree.body[0]
    body_start = first.end_lineno if isinstance(first, ast.Expr) else 0
    # the __future__ import must stay first: the hidden block goes after it
    futures = [n for n in tree.body if isinstance(n, ast.ImportFrom) and n.module == "__future__"]
    cut = max([body_start] + [n.end_lineno for n in futures])
    lines = text.splitlines()
    if run:
        how = f"``python examples/{src.name} {' '.join(args or [])}``".replace(" ``", "``")
        note = f"Run by the docs build as {how}; the build asserts the number it reaches."
        if chk is None:
            note = f"Run by the docs build as {how}."
    else:
        note = (
            "Shown, not run by the docs build (it takes longer than the build allows);"
            f" run it with ``python examples/{src.name}``."
        )
    doc = _rst_lists(doc)
    header = f'"""\n{title}\n{"=" * len(title)}\n\n{doc}\n\n.. note::\n   {note}\n"""\n'
    out = [header, *lines[body_start:cut]]
    if run:
        head = _HEAD.format(
            file=str(src),
            doc=ast.get_docstring(tree, clean=False) or "",
            dir=str(src.parent),
            docs=str(docs),
        )
        out.append(head.rstrip("\n"))
    out += lines[cut:]
    if run:
        out.append(_TAIL.format(name=src.name))
    new = "\n".join(out) + "\n"
    if not dst.exists() or dst.read_text() != new:
        dst.write_text(new)


def stage(docs: Path, root: Path) -> Path:
    """Copy the examples into docs/_gallery_src with titles and the hidden blocks."""
    src_dir, dst_dir = root / "examples", docs / "_gallery_src"
    dst_dir.mkdir(exist_ok=True)
    (dst_dir / "GALLERY_HEADER.rst").write_text(
        "Example gallery\n===============\n\n"
        "The scripts in ``examples/``. Each states a number it reaches (a rate, an "
        "accuracy, an error, a bifurcation point); the examples marked as run are "
        "executed by every docs build at the size given on their page, and the build "
        "fails if the number is not reached.\n"
    )
    run = set(executed())
    wanted = set()
    for src in sorted(src_dir.glob("*.py")):
        if src.name.startswith("_"):
            continue
        wanted.add(src.name)
        _stage(src, dst_dir / src.name, docs, src.name in run)
    for old in dst_dir.glob("*.py"):
        if old.name not in wanted:
            old.unlink()
    return dst_dir


# -- run time: record the output, check it, collect the saved figures -----------------------


class _Tee:
    def __init__(self, stream):
        self.stream, self.parts = stream, []

    def write(self, s):
        self.parts.append(s)
        return self.stream.write(s)

    def flush(self):
        self.stream.flush()

    def __getattr__(self, name):
        return getattr(self.stream, name)


_STATE: dict = {}


def start_recording() -> None:
    _STATE["tee"] = sys.stdout = _Tee(sys.stdout)


def finish(name: str) -> None:
    tee = _STATE.pop("tee")
    sys.stdout = tee.stream
    out = "".join(tee.parts)
    _STATE.setdefault("outputs", {})[name] = out
    chk = EXAMPLES.get(name, (None, None, None))[2]
    if chk is not None:
        try:
            chk(out)
        except AssertionError as e:
            raise AssertionError(f"examples/{name} did not reach its number: {e}") from None
        print(f"[docs check passed: examples/{name}]")


def reset_hook(gallery_conf, fname, when="before"):
    """Before each example: note the time (for the figure scraper), Agg backend, and
    JAX's default float32 (an example that turns on 64-bit mode, as esn_mackey_glass.py
    does, would leak it into the next ones: they all run in this process)."""
    _STATE["t0"] = time.time()
    import jax

    jax.config.update("jax_enable_x64", False)
    import matplotlib

    matplotlib.use("Agg")


def saved_figures_scraper(block, block_vars, gallery_conf):
    """The PNG files the example wrote to examples/figures/ while it ran. Runs before
    the matplotlib scraper: while figures are still open, that one shows them (and the
    saved copies are not shown twice)."""
    import matplotlib.pyplot as plt
    from sphinx_gallery.scrapers import figure_rst

    figdir = ROOT / "examples" / "figures"
    # a file is seen as (path, modification time): an example that writes it again later
    # (a rerun, or another example's file of the same name) shows it again
    written = {(p, p.stat().st_mtime_ns) for p in figdir.glob("*.png")}
    seen = _STATE.setdefault("seen", set())
    if plt.get_fignums():
        seen.update(written)
        return ""

    t0 = _STATE.get("t0", time.time())
    new = sorted(w for w in written if w[1] >= t0 * 1e9 and w not in seen)
    seen.update(new)
    new = [p for p, _ in new]
    paths = []
    for p, target in zip(new, block_vars["image_path_iterator"]):
        shutil.copyfile(p, target)
        paths.append(target)
    return figure_rst(paths, gallery_conf["src_dir"])


def argv(gallery_conf, script_vars):
    """The fast-size arguments of one example (none with NEURODYN_DOCS_FULL=1)."""
    name = Path(script_vars["src_file"]).name
    args = EXAMPLES.get(name, ("", None, None))[1]
    return [] if FULL or args is None else list(args)


def conf(docs: Path, root: Path) -> dict:
    src = stage(docs, root)
    run = executed()
    pattern = "|".join(re.escape(n) for n in run) or "^$"
    return {
        "examples_dirs": [str(src)],
        "gallery_dirs": ["gallery"],
        "filename_pattern": rf"/({pattern})$",
        "ignore_pattern": r"/_",
        "reset_argv": "_gallery.argv",
        "reset_modules": ("_gallery.reset_hook", "matplotlib"),
        "image_scrapers": ("_gallery.saved_figures_scraper", "matplotlib"),
        "abort_on_example_error": False,
        "only_warn_on_example_error": False,
        "remove_config_comments": True,
        "download_all_examples": False,
        "show_signature": False,
        "plot_gallery": "True",
        "within_subsection_order": "sphinx_gallery.sorting.FileNameSortKey",
        "min_reported_time": 1,
        "write_computation_times": True,
    }
