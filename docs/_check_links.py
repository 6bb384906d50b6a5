"""Offline check of internal links: no network (Sphinx's ``linkcheck`` would reach it).

Two modes:

``--sources`` (fast, no build): every relative link ``[text](target)`` in the MyST
pages of ``docs/`` and in ``README.md`` points to a file that exists, or to a page the
build generates (``gallery/<example>.rst`` for a script in ``examples/``,
``api/generated/<module.name>.rst`` for a documented name).

``--html DIR`` (after the build): every ``href``/``src`` in the built pages that is
not external resolves to a file, and every ``#fragment`` to an ``id`` (or ``name``) in
the target page. Cross-references between objects are checked by the nitpicky build
(``-n -W``) itself.

Exit status 1 and one line per broken link.
"""

from __future__ import annotations

import argparse
import re
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
EXTERNAL = ("http:", "https:", "mailto:", "javascript:", "data:", "ftp:")
_MD_LINK = re.compile(r"(?<!!)\[[^\]\n]*\]\(([^)\s]+)\)|!\[[^\]\n]*\]\(([^)\s]+)\)")
_FENCE = re.compile(r"^(```|~~~)")


def _strip_code(text: str) -> str:
    """The text outside fenced code blocks and inline code."""
    out, fence = [], None
    for line in text.splitlines():
        m = _FENCE.match(line.strip())
        if m:
            if fence is None:
                fence = m.group(1)
                out.append("")
                continue
            if line.strip().startswith(fence) and line.strip().strip("`~") == "":
                fence = None
                out.append("")
                continue
        out.append("" if fence else re.sub(r"`[^`]*`", "", line))
    return "\n".join(out)


def _generated_target_exists(path: Path) -> bool:
    rel = path.relative_to(DOCS) if path.is_relative_to(DOCS) else None
    if rel is None:
        return False
    parts = rel.parts
    if len(parts) == 2 and parts[0] == "gallery" and rel.suffix == ".rst":
        return rel.stem == "index" or (ROOT / "examples" / f"{rel.stem}.py").exists()
    if len(parts) == 3 and parts[:2] == ("api", "generated") and rel.suffix == ".rst":
        return _documented(rel.stem)
    if rel == Path("api/neurodyn.rst"):
        return True
    return False


def _documented(dotted: str) -> bool:
    import importlib

    sys.path.insert(0, str(DOCS))
    import _apipages

    if dotted in _apipages.PUBLIC_MODULES:
        return True
    mod, _, name = dotted.rpartition(".")
    if mod in _apipages.PUBLIC_MODULES:
        return name in getattr(importlib.import_module(mod), "__all__", [])
    return False


def check_sources(files: list[Path] | None = None) -> list[str]:
    if files is None:
        files = [
            p
            for p in sorted(DOCS.rglob("*.md"))
            if not any(x.startswith(("_", ".")) for x in p.relative_to(DOCS).parts)
            and "gallery" not in p.relative_to(DOCS).parts[:1]
        ]
        files.append(ROOT / "README.md")
    problems = []
    for f in files:
        text = _strip_code(f.read_text())
        for m in _MD_LINK.finditer(text):
            target = m.group(1) or m.group(2)
            if target.startswith(EXTERNAL) or target.startswith("#"):
                continue
            path_part = unquote(urlsplit(target).path)
            if not path_part:
                continue
            dest = (f.parent / path_part).resolve()
            if dest.exists() or _generated_target_exists(dest):
                continue
            problems.append(f"{f.relative_to(ROOT)}: broken link {target}")
    return problems


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("id", "name"):
            if a.get(key):
                self.ids.add(a[key])
        if tag in ("a", "link") and a.get("href"):
            self.links.append(a["href"])
        if tag in ("img", "script") and a.get("src"):
            self.links.append(a["src"])


def check_html(html: Path) -> tuple[list[str], int]:
    html = html.resolve()
    pages: dict[Path, _Collect] = {}
    for p in html.rglob("*.html"):
        if p.relative_to(html).parts[0] == "_static":
            continue  # theme assets (Jinja macros copied as they are), not built pages
        c = _Collect()
        c.feed(p.read_text(errors="replace"))
        pages[p.resolve()] = c
    problems, n = [], 0
    for page, c in sorted(pages.items()):
        for link in c.links:
            if link.startswith(EXTERNAL) or link.startswith("//"):
                continue
            n += 1
            parts = urlsplit(link)
            target = page if not parts.path else (page.parent / unquote(parts.path)).resolve()
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                problems.append(f"{page.relative_to(html)}: broken link {link}")
                continue
            frag = unquote(parts.fragment)
            if frag and target.suffix == ".html":
                ids = pages[target].ids if target in pages else set()
                if frag not in ids:
                    problems.append(f"{page.relative_to(html)}: missing anchor {link}")
    return problems, n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--sources", action="store_true")
    g.add_argument("--html", type=Path)
    args = ap.parse_args(argv)
    if args.sources:
        problems = check_sources()
        summary = "links in the sources"
    else:
        problems, n = check_html(args.html)
        summary = f"{n} internal links in the built pages"
    for p in problems:
        print(p)
    print(f"link check: {summary}; {len(problems)} broken")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
