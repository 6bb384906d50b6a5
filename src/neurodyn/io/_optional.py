"""Optional dependencies of :mod:`neurodyn.io`, imported when first used."""

from __future__ import annotations

import importlib
import os
import tempfile
from collections.abc import Callable

__all__ = ["require", "atomic_write"]

# the pip name of each optional module, when it differs
_PIP = {"elephant": "elephant"}


def require(module: str, what: str):
    """Import ``module`` or raise an ImportError that names the fix
    (``pip install neurodyn[io]``)."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(
            f"{what} needs the optional package {_PIP.get(module, module)!r}, which is not "
            f"installed ({err}). Install the I/O extras: pip install neurodyn[io]"
        ) from err


def atomic_write(path, write: Callable[[str], None], suffix: str = "") -> str:
    """Call ``write(tmp)`` on a temporary file next to ``path``, then move it onto
    ``path`` (``os.replace``): an error in ``write`` leaves no half-written file, and an
    existing file at ``path`` is untouched. Returns ``path``."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(suffix=suffix or ".tmp", prefix=".neurodyn-", dir=folder)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path
