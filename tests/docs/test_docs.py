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
    assert "| COBA-LIF | 4,000 | 1000 | neurodyn | 100.0 ms | 1.00 s | 500.0 ms | 20.0 |" in page
    assert "| units: eager a + b | 1000 | plain jax | 10.0 µs | 1.25 |" in page
    assert (tmp_path / "out" / "coba_runtime.png").stat().st_size > 1000


# -- Sphinx itself fails on a broken reference, a failing cell, a failing doctest --------------

_MINI_CONF = """
exec(compile(open({conf!r}).read(), {conf!r}, "exec"))
extensions.remove("sphinx_gallery.gen_gallery")
exclude_patterns.append("api")
"""


def _mini_project(tmp_path: Path, pages: dict[str, str]) -> Path:
    src = tmp_path / "docs"
    src.mkdir(parents=True)
    for name in ("_apipages.py", "_gallery.py", "_performance.py"):
        shutil.copy(DOCS / name, src / name)
    shutil.copytree(DOCS / "_templates", src / "_templates")
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
