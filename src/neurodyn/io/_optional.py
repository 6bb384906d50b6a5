"""Optional dependencies of :mod:`neurodyn.io`, imported when first used."""

from __future__ import annotations

import contextlib
import importlib
import os
import tempfile
from collections.abc import Callable

__all__ = ["require", "atomic_write", "open_hdf5", "reading", "FileFormatError"]

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


class FileFormatError(ValueError):
    """A file that is not of the expected format, or a damaged one."""


def open_hdf5(path, fmt: str, what: str):
    """``h5py.File(path, "r")``, or a :class:`FileFormatError` that says the file is not a
    ``fmt`` file (not HDF5 at all, or a damaged / truncated one); a missing file stays a
    FileNotFoundError."""
    h5py = require("h5py", what)
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{what}: no file {path!r}.")
    try:
        is_hdf5 = h5py.is_hdf5(path)
    except OSError:
        is_hdf5 = False
    if not is_hdf5:
        with open(path, "rb") as f:
            head = f.read(8)
        raise FileFormatError(
            f"{path} is not a {fmt} file: it is not an HDF5 file at all (it starts with "
            f"{head!r}); nothing was read."
        )
    try:
        return h5py.File(path, "r")
    except OSError as err:
        raise FileFormatError(
            f"{path} is not a readable {fmt} file: the HDF5 file is damaged or truncated "
            f"({err}); nothing was read."
        ) from err


@contextlib.contextmanager
def reading(path, fmt: str):
    """Turn the errors of reading a damaged ``fmt`` file (h5py's OSError, KeyError,
    RuntimeError, ...) into one :class:`FileFormatError` that names the file and format;
    the caller returns nothing."""
    try:
        yield
    except (FileFormatError, FileNotFoundError, ImportError, NotImplementedError):
        raise
    except (OSError, KeyError, RuntimeError, ValueError, TypeError, AttributeError) as err:
        raise FileFormatError(
            f"{os.fspath(path)} is not a readable {fmt} file: reading it failed "
            f"({type(err).__name__}: {err}); nothing was read."
        ) from err
