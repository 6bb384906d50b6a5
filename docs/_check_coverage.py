"""Fail when a public name has no documentation.

Checks, from the sources (fast, no Sphinx build):

1. every public module of ``src/neurodyn`` (a file or package none of whose path parts
   starts with ``_``) is in :data:`_apipages.PUBLIC_MODULES` and listed on the API
   index page (``docs/api/index.md``), so it gets a page;
2. every name in a public module's ``__all__`` exists, and each class, function and
   module among them has a docstring of its own (values — units, tables — are
   described on their page from their type and value);
3. every name in ``neurodyn.__all__`` is documented in some public module;
4. public methods and properties of the public classes: those without a docstring are
   listed in ``docs/_undocumented_methods.txt``; a new one that is not listed there
   fails (the list may only shrink: ``--update-baseline`` rewrites it).

With ``--built DIR`` (after ``sphinx-build``), also:

5. every public module and every name in its ``__all__`` is an object in the built
   inventory ``DIR/objects.inv`` (so it has an entry on an API page).

Exit status 1 and one line per problem on failure.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import sys
import types
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
SRC = ROOT / "src" / "neurodyn"
BASELINE = DOCS / "_undocumented_methods.txt"

sys.path.insert(0, str(DOCS))
import _apipages  # noqa: E402


def public_modules_on_disk(src: Path = SRC) -> list[str]:
    """Dotted names of the public modules under ``src`` (no ``_``-prefixed part)."""
    out = []
    for p in sorted(src.rglob("*.py")):
        rel = p.relative_to(src.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if parts[-1] == "__main__" or any(x.startswith("_") for x in parts):
            continue
        out.append(".".join(parts))
    return out


def _own_doc(obj) -> str | None:
    if isinstance(obj, property):
        return obj.__doc__
    doc = getattr(obj, "__doc__", None)
    if inspect.isclass(obj):
        return obj.__dict__.get("__doc__")
    return doc


def _documentable(obj) -> bool:
    return isinstance(obj, types.ModuleType) or inspect.isclass(obj) or callable(obj)


def undocumented_methods(modules: list[str]) -> set[str]:
    """``module.Class.method`` for public methods/properties defined without docstring
    (a docstring inherited from a base class counts, as autodoc shows it)."""
    out = set()
    for mod in modules:
        m = importlib.import_module(mod)
        for name in getattr(m, "__all__", []):
            cls = getattr(m, name)
            if not inspect.isclass(cls):
                continue
            for key, value in vars(cls).items():
                if key.startswith("_"):
                    continue
                f = value.fget if isinstance(value, property) else value
                f = getattr(f, "__func__", f)
                if not (callable(f) or isinstance(value, property)):
                    continue
                if getattr(f, "__doc__", None):
                    continue
                inherited = any(
                    getattr(getattr(b, key, None), "__doc__", None) for b in cls.__mro__[1:]
                )
                if not inherited:
                    out.add(f"{mod}.{name}.{key}")
    return out


def check_sources(index_text: str | None = None, baseline: Path = BASELINE) -> list[str]:
    problems = []
    listed = set(_apipages.PUBLIC_MODULES)
    if index_text is None:
        index_text = (DOCS / "api" / "index.md").read_text()
    for mod in public_modules_on_disk():
        if mod == "neurodyn":
            continue
        if mod not in listed:
            problems.append(f"{mod}: public module missing from docs/_apipages.PUBLIC_MODULES")
    for mod in _apipages.PUBLIC_MODULES:
        if f"   {mod}\n" not in index_text:
            problems.append(f"{mod}: not listed in docs/api/index.md (no API page)")
        m = importlib.import_module(mod)
        if not (m.__doc__ or "").strip():
            problems.append(f"{mod}: module without a docstring")
        names = getattr(m, "__all__", None)
        if names is None:
            problems.append(f"{mod}: no __all__ (the API page lists __all__)")
            continue
        for name in names:
            if not hasattr(m, name):
                problems.append(f"{mod}.{name}: in __all__ but not defined")
                continue
            obj = getattr(m, name)
            if _documentable(obj) and not (_own_doc(obj) or "").strip():
                problems.append(f"{mod}.{name}: in __all__ without a docstring")
    for name, _role, target in _apipages.top_level_rows():
        if target is None:
            problems.append(f"neurodyn.{name}: not documented in any public module")
    known = set(baseline.read_text().split()) if baseline.exists() else set()
    for name in sorted(undocumented_methods(_apipages.PUBLIC_MODULES) - known):
        problems.append(f"{name}: public method without a docstring")
    return problems


def check_built(html: Path) -> list[str]:
    from sphinx.util.inventory import InventoryFile

    inv_path = html / "objects.inv"
    if not inv_path.exists():
        return [f"{inv_path}: no inventory (build the HTML docs first)"]
    with open(inv_path, "rb") as f:
        inv = InventoryFile.load(f, "", lambda base, uri: uri)
    data = inv.data if hasattr(inv, "data") else inv
    documented = set()
    for role, entries in data.items():
        if role.startswith("py:"):
            documented.update(entries)
    problems = []
    for mod in _apipages.PUBLIC_MODULES:
        if mod not in documented:
            problems.append(f"{mod}: no API page in the built docs")
        m = importlib.import_module(mod)
        for name in getattr(m, "__all__", []):
            if isinstance(getattr(m, name, None), types.ModuleType):
                continue
            if f"{mod}.{name}" not in documented:
                problems.append(f"{mod}.{name}: not in the built API reference")
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--built", type=Path, help="the built HTML folder (objects.inv)")
    ap.add_argument("--update-baseline", action="store_true")
    args = ap.parse_args(argv)
    if args.update_baseline:
        names = sorted(undocumented_methods(_apipages.PUBLIC_MODULES))
        BASELINE.write_text("\n".join(names) + "\n")
        print(f"{BASELINE.name}: {len(names)} methods without a docstring")
        return 0
    problems = check_sources()
    if args.built:
        problems += check_built(args.built)
    for p in problems:
        print(p)
    n_names = sum(
        len(getattr(importlib.import_module(m), "__all__", [])) for m in _apipages.PUBLIC_MODULES
    )
    known = len(BASELINE.read_text().split()) if BASELINE.exists() else 0
    print(
        f"coverage: {len(_apipages.PUBLIC_MODULES)} public modules, {n_names} names in __all__"
        f", {known} methods listed as undocumented; {len(problems)} problems"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
