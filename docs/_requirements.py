"""Print the requirements of one extra of pyproject.toml, one per line, with the
package's own extras (``neurodyn[io,plot]``) expanded, so that ``make docs`` installs
them with pip without reinstalling (and rebuilding) neurodyn itself.

    python docs/_requirements.py docs
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path


def requirements(extra: str, pyproject: Path) -> list[str]:
    project = tomllib.loads(pyproject.read_text())["project"]
    extras = project["optional-dependencies"]
    out: list[str] = []
    todo, seen = [extra], set()
    while todo:
        name = todo.pop(0)
        if name in seen:
            continue
        seen.add(name)
        for req in extras[name]:
            m = re.fullmatch(rf"{project['name']}\[([\w,\s-]+)\]", req.strip())
            if m:
                todo += [x.strip() for x in m.group(1).split(",")]
            elif req not in out:
                out.append(req)
    return out


if __name__ == "__main__":
    root = Path(__file__).resolve().parents[1]
    print("\n".join(requirements(sys.argv[1], root / "pyproject.toml")))
