"""The list of public modules and the hand-made page for the top-level package.

``neurodyn`` itself only re-exports names defined in its submodules, so its page links
each name to the submodule page that documents it (documenting it twice would register
two descriptions of one object).
"""

from __future__ import annotations

import importlib
import inspect
import types
from pathlib import Path

#: every public module; each gets an API page listing exactly its ``__all__``
PUBLIC_MODULES = [
    "neurodyn.units",
    "neurodyn.units.math",
    "neurodyn.state",
    "neurodyn.state.random",
    "neurodyn.integrate",
    "neurodyn.event",
    "neurodyn.dyn",
    "neurodyn.dyn.surrogate",
    "neurodyn.train",
    "neurodyn.train.surrogate",
    "neurodyn.analysis",
    "neurodyn.dendrite",
    "neurodyn.online",
    "neurodyn.io",
    "neurodyn.io.nir",
    "neurodyn.io.nwb",
    "neurodyn.io.sonata",
    "neurodyn.launch",
]


def canonical_names() -> dict[int, str]:
    """id(object) -> the first public dotted name under which it is documented."""
    names: dict[int, str] = {}
    for mod in PUBLIC_MODULES:
        m = importlib.import_module(mod)
        for n in getattr(m, "__all__", []):
            names.setdefault(id(getattr(m, n)), f"{mod}.{n}")
    return names


def _role(obj) -> str:
    if isinstance(obj, types.ModuleType):
        return "mod"
    if inspect.isclass(obj):
        return "exc" if issubclass(obj, BaseException) else "class"
    return "func" if callable(obj) else "data"


def top_level_rows() -> list[tuple[str, str, str]]:
    """(name, role, documented-as) for every name in ``neurodyn.__all__``."""
    import neurodyn

    canon = canonical_names()
    rows = []
    for n in neurodyn.__all__:
        if n == "__version__":
            continue
        obj = getattr(neurodyn, n)
        target = obj.__name__ if isinstance(obj, types.ModuleType) else canon.get(id(obj))
        rows.append((n, _role(obj), target))
    return rows


def write_top_level(path: Path) -> None:
    lines = [
        "neurodyn",
        "========",
        "",
        ".. automodule:: neurodyn",
        "   :no-members:",
        "",
        ".. data:: neurodyn.__version__",
        "",
        "   The package version (a string).",
        "",
        "Names available as ``neurodyn.<name>``, each documented where it is defined:",
        "",
        ".. list-table::",
        "   :header-rows: 1",
        "",
        "   * - name",
        "     - documented as",
    ]
    for name, role, target in top_level_rows():
        if target is None:
            raise RuntimeError(f"neurodyn.{name} is not in any public module's __all__")
        lines += [f"   * - ``nd.{name}``", f"     - :{role}:`{target}`"]
    text = "\n".join(lines) + "\n"
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
