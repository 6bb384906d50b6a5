"""The documentation cannot rot: the checks that `make docs` runs, on the sources (fast),
and proof that each check fails on its own kind of fault (the Sphinx builds of a small
temporary project are `slow`). The full site is built by `make docs` only (minutes)."""

from __future__ import annotations

import importlib
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
sys.path.insert(0, str(DOCS))

import _check_coverage  # noqa: E402
import _check_links  # noqa: E402
import _gallery  # noqa: E402
import _performance  # noqa: E402

# -- the checks pass on the tree as it is ------------------------------------------------------


def test_every_public_name_is_documented():
    assert _check_coverage.check_sources() == []


def test_internal_links_of_the_sources_resolve():
    assert _check_links.check_sources() == []


def test_every_example_is_in_the_gallery_table_with_a_title():
    scripts = {p.name for p in (ROOT / "examples").glob("*.py") if not p.name.startswith("_")}
    assert scripts == set(_gallery.EXAMPLES), scripts ^ set(_gallery.EXAMPLES)
    executed = _gallery.executed()
    assert len(executed) >= 10 and all(_gallery.EXAMPLES[n][2] for n in executed)


def test_every_tutorial_is_an_executed_notebook_in_the_toctree():
    index = (DOCS / "tutorials" / "index.md").read_text()
    pages = sorted((DOCS / "tutorials").glob("*.md"))
    assert len(pages) >= 13
    for page in pages:
        if page.name == "index.md":
            continue
        text = page.read_text()
        assert text.startswith("---\nfile_format: mystnb"), page.name
        assert "```{code-cell}" in text and "assert " in text, page.name
        assert f"\n{page.stem}\n" in index, page.name


# -- each check fails on its own fault ------------------------------------------------------------


def test_coverage_check_fails_on_an_undocumented_name(monkeypatch):
    event = importlib.import_module("neurodyn.event")

    def brand_new_operator(x):
        return x

    monkeypatch.setattr(event, "brand_new_operator", brand_new_operator, raising=False)
    monkeypatch.setattr(event, "__all__", [*event.__all__, "brand_new_operator"])
    problems = _check_coverage.check_sources()
    assert problems == ["neurodyn.event.brand_new_operator: in __all__ without a docstring"]


def test_coverage_check_fails_on_a_new_undocumented_method(monkeypatch):
    from neurodyn.dyn import Projection

    monkeypatch.setattr(Projection, "brand_new_method", lambda self: None, raising=False)
    problems = _check_coverage.check_sources()
    name = "neurodyn.dyn.Projection.brand_new_method"
    assert problems == [f"{name}: public method without a docstring"]


def test_coverage_check_fails_on_a_module_without_a_page(tmp_path):
    index = (DOCS / "api" / "index.md").read_text().replace("   neurodyn.online\n", "")
    problems = _check_coverage.check_sources(index_text=index)
    assert problems == ["neurodyn.online: not listed in docs/api/index.md (no API page)"]
    (tmp_path / "neurodyn" / "newpkg").mkdir(parents=True)
    for f in ("__init__.py", "newpkg/__init__.py", "newpkg/_private.py", "newpkg/public.py"):
        (tmp_path / "neurodyn" / f).write_text("")
    found = _check_coverage.public_modules_on_disk(tmp_path / "neurodyn")
    assert found == ["neurodyn", "neurodyn.newpkg", "neurodyn.newpkg.public"]


def test_link_check_fails_on_broken_links(tmp_path):
    page = DOCS / "tutorials" / "_tmp_broken_links_test.md"
    page.write_text(
        "[ok](units.md) [gone](nowhere.md) [api](../api/generated/neurodyn.dyn.LIF.rst)"
        " [bad api](../api/generated/neurodyn.dyn.NoSuchThing.rst)\n"
        "```python\n[in code](ignored.md)\n```\n"
    )
    try:
        problems = _check_links.check_sources([page])
    finally:
        page.unlink()
    assert len(problems) == 2 and "nowhere.md" in problems[0] and "NoSuchThing" in problems[1]
    html = tmp_path / "html"
    (html / "sub").mkdir(parents=True)
    (html / "index.html").write_text(
        '<a href="sub/page.html#here">ok</a><a href="sub/page.html#gone">x</a>'
        '<a href="missing.html">x</a><a href="https://example.org/x">ext</a><img src="a.png">'
    )
    (html / "sub" / "page.html").write_text('<h1 id="here">t</h1><a href="../index.html">up</a>')
    (html / "a.png").write_bytes(b"")
    problems, n = _check_links.check_html(html)
    assert n == 5 and len(problems) == 2, problems
    assert "missing anchor sub/page.html#gone" in problems[0]
    assert "broken link missing.html" in problems[1]


def test_gallery_check_fails_when_an_example_misses_its_number():
    ok = json.dumps({"test_accuracy": 0.9, "hidden": 64})
    bad = json.dumps({"test_accuracy": 0.3, "hidden": 64})
    check = _gallery.EXAMPLES["snn_digits.py"][2]
    check("training...\n" + ok)
    with pytest.raises(AssertionError, match="test accuracy"):
        check("training...\n" + bad)
    with pytest.raises(AssertionError, match="no JSON line"):
        check("crashed before printing")


def test_performance_page_is_generated_from_the_results(tmp_path):
    src = tmp_path / "results"
    src.mkdir()
    run = {
        "neurodyn": {"run_min_s": 0.1, "build_s": 1.0, "compile_s": 0.5, "rate_E_hz": 20.0},
        "brian2 standalone": {"run_min_s": 0.4, "rate_E_hz": 22.0},
    }
    (src / "coba-x.json").write_text(
        json.dumps(
            {
                "benchmark": "COBA-LIF network",
                "date": "2026-01-01",
                "t_ms": 1000.0,
                "rows": [{"N": 4000, "results": run}],
            }
        )
    )
    (src / "2026-01-02-vm.json").write_text(
        json.dumps(
            {
                "date": "2026-01-02",
                "command": "run.py --quick",
                "platform": {"cpu_count": 2},
                "rows": [
                    {
                        "case": "units: eager a + b",
                        "N": 1000,
                        "simulator": "plain jax",
                        "run_min_s": 1e-5,
                        "ratio": 1.25,
                    }
                ],
            }
        )
    )
    page = _performance.generate(src, tmp_path / "out").read_text()
    assert "### COBA-LIF, 1000 ms: `coba-x.json`" in page
    assert "| 4,000 | neurodyn | 100.0 ms | — | 1.00 s | 500.0 ms | 20.0 |" in page
    assert "| 4,000 | brian2 standalone | 400.0 ms | 0.25 | — | — | 22.0 |" in page
    assert "| units: eager a + b | 1000 | plain jax | 10.0 µs | 1.25 |" in page
    assert (tmp_path / "out" / "coba_runtime.png").stat().st_size > 1000


RESULTS = ROOT / "benchmarks" / "results"


def _section(page: str, title: str) -> str:
    """The text of the page's section ``## title`` (up to the next ``## ``)."""
    start = page.index(f"\n## {title}\n")
    end = page.find("\n## ", start + 1)
    return page[start : None if end < 0 else end]


def _source(section: str) -> dict:
    """The result file a section names first (``From `name```)."""
    name = re.search(r"From `([^`]+\.json)`", section).group(1)
    return json.loads((RESULTS / name).read_text())


def test_performance_page_has_every_family_with_numbers_from_its_file(tmp_path):
    page = _performance.generate(RESULTS, tmp_path).read_text()
    titles = [t for t, _ in _performance.FAMILIES]
    assert len(titles) >= 13
    for title in titles:
        sec = _section(page, title)
        if title == "Integrate" and "*Skipped: no `integrate` result" in sec:
            continue  # no integrate file yet (make bench-full writes one)
        assert "Skipped" not in sec, sec[:400]
        assert "|---|" in sec, title
        for line in sec.splitlines():  # narrow tables
            if line.startswith("|---"):
                assert line.count("---|") <= 7, (title, line)
    r = _performance._r

    # dendrites: ns per compartment-step from the run time, the ratio to NEURON's
    sec = _section(page, "Dendrites: neurodyn.dendrite and NEURON")
    d = _source(sec)
    c = d["cases"][0]
    steps = round(d["t_ms"] / d["dt_ms"])
    ns = c["neurodyn"]["run_min_s"] * 1e9 / (c["neurodyn"]["n_compartments"] * steps)
    ratio = c["neurodyn"]["run_min_s"] / c["neuron"]["run_min_s"]
    rates, prec = ("table" if c["table"] else "exact"), ("f64" if c["neurodyn_x64"] else "f32")
    assert f"| {c['model']} | {rates} | {prec} | {ns:.2f} | " in sec
    assert f"| {ns:.2f} | {r(c['neuron']['ns_per_comp_step'])} | {r(ratio)} |" in sec
    big = [c for c in d["cases"] if "big_batch_ns_per_cell_comp_step" in c["neurodyn"]]
    for c in big:
        nd = c["neurodyn"]
        per = nd["big_batch_run_min_s"] * 1e9 / (nd["n_compartments"] * steps * nd["big_batch"])
        assert f"| {nd['big_batch']} | {per:.2f} |" in sec
    assert "**Gradient**" in sec and "**Accuracy**" in sec

    # Jaxley and braincell: run time over neurodyn float32's, same sitting
    sec = _section(page, "Dendrites: Jaxley and braincell")
    s = _source(sec)["summary"]["hh_soma"]
    x = s["jaxley_f64"]["run_min_s"] / s["neurodyn_f32"]["run_min_s"]
    assert f"| jaxley f64 | {_performance._fmt_s(s['jaxley_f64']['run_min_s'])} | {r(x)} |" in sec

    # online: neurodyn over braintrace, ES-D-RTRL, N = 256, per step
    sec = _section(page, "Online learning: neurodyn.online and braintrace")
    rows = _source(sec)["rows"]

    def per_step(rule):
        return next(
            x["ms_per_step"]
            for x in rows
            if x["case"] == "time" and x["rule"] == rule and x["N"] == 256
        )

    x = per_step("es_d_rtrl") / per_step("braintrace_es_d_rtrl")
    assert "| 256 | ES-D-RTRL | 100 | " in sec and f" | {r(x)} |" in sec

    # event operators: neurodyn CSR over brainevent CSR
    sec = _section(page, "Event operators: neurodyn.event and brainevent")
    row = _source(sec)["rows"][-1]
    x = row["min_ms"]["neurodyn CSR"] / row["min_ms"]["brainevent CSR"]
    assert f"| {row['N']:,} | {row['rate']:.0%} | " in sec and f" | {r(x)} |" in sec

    # user event operators: against brainevent's generic rule
    sec = _section(page, "User event operators")
    rows = _source(sec)["rows"]
    be = next(x for x in rows if x["simulator"].startswith("brainevent"))
    user = next(x for x in rows if x["case"] == be["case"] and x["simulator"] == "user update")
    assert f"| user update | {_performance._fmt_s(user['run_min_s'])} | " in sec
    assert f" | {r(user['run_min_s'] / be['run_min_s'])} |" in sec

    # the others: one figure each
    sec = _section(page, "NWB output")
    row = _source(sec)["rows"][0]
    assert f" | {r(row['write_min_s'] / row['anchor_pynwb_h5dataio_gzip1_V_only_s'])} | " in sec
    sec = _section(page, "Equation strings")
    d = _source(sec)
    assert f" | {r(d['strings']['min_s'] / d['built-in']['min_s'])} |" in sec
    sec = _section(page, "Scale-out")
    assert f"(block / step: {r(_source(sec)['exchange']['ratio_block_over_step'])})" in sec
    sec = _section(page, "COBA networks")
    d = json.loads((RESULTS / "coba-20261126.json").read_text())
    res = d["rows"][0]["results"]
    x = res["neurodyn"]["run_min_s"] / res["brian2 standalone"]["run_min_s"]
    b2 = _performance._fmt_s(res["brian2 standalone"]["run_min_s"])
    assert f"| 4,000 | brian2 standalone | {b2} | {r(x)} |" in sec
    assert (tmp_path / "coba_runtime.png").stat().st_size > 1000


def test_performance_page_skips_a_malformed_family_with_a_note(tmp_path):
    src = tmp_path / "results"
    shutil.copytree(RESULTS, src)
    bad_online = {"date": "2099-12-31", "rows": [{"case": "time", "rule": "es_d_rtrl"}]}
    (src / "online-20991231.json").write_text(json.dumps(bad_online))
    (src / "dendrite-2099-12-31.json").write_text(json.dumps({"cases": "not a list"}))
    (src / "event-20991231.json").write_text("{not json")
    page = _performance.generate(src, tmp_path / "out").read_text()
    for title, name in (
        ("Online learning: neurodyn.online and braintrace", "online-20991231.json"),
        ("Dendrites: neurodyn.dendrite and NEURON", "dendrite-2099-12-31.json"),
    ):
        sec = _section(page, title)
        notes = [line for line in sec.splitlines() if line.startswith("*Skipped: ")]
        assert notes == [line for line in sec.strip().splitlines()[1:] if line.strip()], sec
        assert len(notes) == 1 and f"`{name}` has an unexpected structure" in notes[0]
    assert "Not readable as a JSON object: `event-20991231.json`." in page
    for title in (
        "COBA networks",
        "Event operators: neurodyn.event and brainevent",
        "User event operators",
        "Dendrites: Jaxley and braincell",
    ):
        assert "|---|" in _section(page, title), title
    # no result file at all: every family is a note, nothing raises
    (tmp_path / "empty").mkdir()
    page = _performance.generate(tmp_path / "empty", tmp_path / "out2").read_text()
    assert page.count("*Skipped: ") == len(_performance.FAMILIES) and "|---|" not in page


def test_performance_page_shows_the_big_batch_in_lane_blocks_and_whole(tmp_path):
    src = tmp_path / "results"
    src.mkdir()
    d = json.loads((RESULTS / "dendrite-2026-12-06d.json").read_text())
    nd = d["cases"][0]["neurodyn"]
    nd.update(big_batch_lane_block=256, big_batch_whole=1000)
    nd.update(big_batch_whole_ns_per_cell_comp_step=4.567)
    (src / "dendrite-2099-01-01.json").write_text(json.dumps(d))
    page = _performance.generate(src, tmp_path / "out").read_text()
    sec = _section(page, "Dendrites: neurodyn.dendrite and NEURON")
    per = f"{nd['big_batch_ns_per_cell_comp_step']:.2f}"
    assert f"| hh_soma | exact, f32 | 1000 | {per} | 256 | 4.57 | " in sec
    row = next(line for line in sec.splitlines() if line.startswith("| hh_all | exact, f32 |"))
    assert row.split(" | ")[4:6] == ["—", "—"], row  # absent: dashes
    assert "*No gradient measurement in the dendrite files.*" in sec  # absent: a note


# -- Sphinx itself fails on a broken reference, a failing cell, a failing doctest --------------

_MINI_CONF = """
exec(compile(open({conf!r}).read(), {conf!r}, "exec"))
extensions.remove("sphinx_gallery.gen_gallery")
exclude_patterns.append("api")
"""


def _mini_project(tmp_path: Path, pages: dict[str, str]) -> Path:
    src = tmp_path / "docs"
    src.mkdir(parents=True)
    for name in ("_apipages.py", "_gallery.py", "_performance.py", "_perf_common.py",
                 "_perf_dendrite.py"):  # fmt: skip
        shutil.copy(DOCS / name, src / name)
    shutil.copytree(DOCS / "_templates", src / "_templates")
    shutil.copytree(DOCS / "_static", src / "_static")
    (src / "api").mkdir()
    (src / "conf.py").write_text(_MINI_CONF.format(conf=str(DOCS / "conf.py")))
    toc = "\n".join(pages)
    (src / "index.md").write_text(f"# Test\n\n```{{toctree}}\n{toc}\n```\n")
    for name, text in pages.items():
        (src / f"{name}.md").write_text(textwrap.dedent(text))
    return src


def _sphinx(src: Path, builder: str) -> subprocess.CompletedProcess:
    cmd = [
        sys.executable,
        "-m",
        "sphinx",
        "-W",
        "--keep-going",
        "-n",
        "-b",
        builder,
        "-d",
        str(src / "_build" / "doctrees"),
        str(src),
        str(src / "_build" / builder),
    ]
    env = dict(os.environ, NEURODYN_DOCS_GALLERY="^$")
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env, cwd=src)


NOTEBOOK = """\
---
file_format: mystnb
kernelspec:
  name: python3
  display_name: Python 3
---

# A notebook

```{code-cell} ipython3
x = 1 + 1
assert x == %s
```
"""


@pytest.mark.slow
def test_sphinx_build_fails_on_each_kind_of_fault(tmp_path):
    pytest.importorskip("sphinx")
    pytest.importorskip("myst_nb")
    doctest = "```{doctest}\n>>> 1 + 1\n%s\n```\n"
    target = "```{py:function} neurodyn.example(x)\nAn example.\n```\n\n"
    good = {
        "page": "# Page\n\n" + target + "See {py:func}`neurodyn.example`.\n\n" + doctest % "2",
        "nb": NOTEBOOK % "2",
    }
    src = _mini_project(tmp_path / "good", good)
    r = _sphinx(src, "html")
    assert r.returncode == 0, r.stderr[-3000:]
    html = src / "_build" / "html"
    assert _check_links.check_html(html)[0] == []
    assert _sphinx(src, "doctest").returncode == 0

    # a broken cross-reference to a neurodyn name: the nitpicky build fails
    broken = "# Page\n\n{py:func}`neurodyn.dyn.nope`\n"
    src = _mini_project(tmp_path / "ref", {**good, "page": broken})
    r = _sphinx(src, "html")
    assert r.returncode != 0 and "reference target not found: neurodyn.dyn.nope" in r.stderr

    # a tutorial cell that fails: the build fails
    src = _mini_project(tmp_path / "nb", {**good, "nb": NOTEBOOK % "3"})
    r = _sphinx(src, "html")
    out = r.stdout + r.stderr
    assert r.returncode != 0 and re.search(r"ExecutionError|AssertionError", out), out[-3000:]

    # a failing doctest: the doctest builder fails
    src = _mini_project(tmp_path / "doctest", {**good, "page": "# P\n\n" + doctest % "3"})
    assert _sphinx(src, "html").returncode == 0
    r = _sphinx(src, "doctest")
    assert r.returncode != 0 and "1 failure" in r.stdout + r.stderr

    # a broken internal link in the HTML (raw HTML passes Sphinx): the link check fails
    raw = '# P\n\n<a href="gone.html#x">gone</a>\n'
    src = _mini_project(tmp_path / "link", {**good, "page": raw})
    assert _sphinx(src, "html").returncode == 0
    problems, _ = _check_links.check_html(src / "_build" / "html")
    assert [p for p in problems if re.search(r"page\.html: broken link gone\.html#x", p)]
