"""Loader for the native CPU kernels of :mod:`neurodyn.event`, and their tables.

The kernels live in ``_kernels*.so``, a plain shared library of XLA FFI
handlers compiled when the package is installed (see ``setup.py``), one source per kernel
family: ``rows.cc`` (CSR and fixed fan-out, one implementation), ``jitconn.cc``
(procedural connectivity), ``update.cc`` (plasticity), ``record.cc`` and ``user.cc``,
sharing ``common.h`` (checks, names) and ``threads.h`` (the multi-threaded counting).
On import this module loads it with :mod:`ctypes` and registers
each handler once with ``jax.ffi.register_ffi_target(..., platform="cpu")``.
A missing library never makes importing fail: if it is missing (no compiler at
install time), fails to load or to register, :func:`available` is ``False`` and
:func:`reason` says why, and callers fall back to pure JAX.

Two tables are shared by C++ and Python, read here at import whether or not the library
exists: ``kernels.def`` (:data:`TARGETS`, :data:`SYMBOLS`: each kernel's FFI target name,
also its primitive's name and the prefix of its error messages, and its C symbol) and
``jithash.def`` (:data:`HASH`: the constants of the counter hash of procedural
connectivity, used by ``_jitconn.py``). Both are X-macro files that the C++ sources
include, so a compiler needs no generation step, and this module parses with one
regular expression per line.

Setting ``NEURODYN_DISABLE_NATIVE=1`` (before import: nothing is loaded; or
later: :func:`available` turns ``False``) forces the fallback.

Example:
    >>> from neurodyn.event import _native
    >>> _native.available() or bool(_native.reason())
    True
    >>> _native.TARGETS["csr_scatter"]
    'neurodyn_csr_scatter'
    >>> hex(_native.HASH["SEED_MUL"])
    '0x9e3779b1'
"""

from __future__ import annotations

import ctypes
import os
import re
from pathlib import Path

__all__ = [
    "TARGETS",
    "SYMBOLS",
    "HASH",
    "available",
    "reason",
    "library_path",
    "load_handlers",
    "disabled",
]

_HERE = Path(__file__).resolve().parent

_KERNEL_LINE = re.compile(r'ND_KERNEL\(\s*(\w+)\s*,\s*"(\w+)"\s*,\s*(\w+)\s*\)')
_HASH_LINE = re.compile(r"ND_HASH_CONST\(\s*(\w+)\s*,\s*(0[xX][0-9a-fA-F]+|[0-9]+)\s*\)")


def _read_table(name: str, pattern: re.Pattern[str], macro: str) -> list[tuple[str, ...]]:
    """The entries of the X-macro table ``name`` (one ``macro(...)`` per line, ``//``
    comments), in order. Raises if the file is missing or a line is not understood: the
    package cannot name its kernels without it."""
    path = _HERE / name
    try:
        text = path.read_text()
    except OSError as exc:
        raise ImportError(
            f"neurodyn.event._native: cannot read the table {path} ({exc}); the package "
            "install is incomplete: reinstall neurodyn"
        ) from None
    rows = []
    for n, line in enumerate(text.splitlines(), 1):
        code = line.split("//", 1)[0].strip()
        if not code:
            continue
        m = pattern.fullmatch(code)
        if m is None:
            raise ImportError(
                f"{path}:{n}: expected `{macro}(...)` as documented at the top of the file, "
                f"got {code!r}"
            )
        rows.append(m.groups())
    return rows


_KERNELS = _read_table("kernels.def", _KERNEL_LINE, "ND_KERNEL")

#: FFI target names, keyed by operator (kernels.def). Constant, whether or not they are
#: registered; each is also the name of the operator's JAX primitive.
TARGETS: dict[str, str] = {op: target for op, target, _ in _KERNELS}

#: Exported C symbol of the handler behind each target (kernels.def).
SYMBOLS: dict[str, str] = {target: symbol for _, target, symbol in _KERNELS}

#: Constants of the counter hash of procedural connectivity (jithash.def), as ints.
HASH: dict[str, int] = {
    name: int(value, 0) for name, value in _read_table("jithash.def", _HASH_LINE, "ND_HASH_CONST")
}

_ENV_DISABLE = "NEURODYN_DISABLE_NATIVE"
_loaded = False
_reason = ""
_library_path: str | None = None
_lib = None  # keeps the ctypes handle (and so the code) alive


def disabled() -> bool:
    """Whether ``NEURODYN_DISABLE_NATIVE`` turns every native kernel off."""
    return os.environ.get(_ENV_DISABLE, "").strip().lower() not in ("", "0", "false", "no")


_disabled = disabled


def load_handlers(directory: Path, stem: str, symbols: dict[str, str], missing: str):
    """Load the shared library ``<stem>*.so`` (``.pyd``, ``.dylib``) in ``directory`` and
    register each XLA FFI handler (``{target: exported symbol}``) for the CPU. Never
    raises. Returns ``(library or None, its path or None, reason)``; ``missing`` says how
    to get a library that is not there. Used by every package with native kernels."""
    if disabled():
        return None, None, f"disabled by {_ENV_DISABLE}={os.environ.get(_ENV_DISABLE)}"
    # `pip install .` and editable installs (setuptools copies built extensions into the
    # source tree) both leave the library next to its loader
    path = next(
        (p for pat in ("*.so", "*.pyd", "*.dylib") for p in sorted(directory.glob(stem + pat))),
        None,
    )
    if path is None:
        return None, None, f"no compiled {stem} library in {directory} ({missing})"
    try:
        import jax

        lib = ctypes.cdll.LoadLibrary(str(path))
        capsules = {name: jax.ffi.pycapsule(getattr(lib, sym)) for name, sym in symbols.items()}
        for name, capsule in capsules.items():
            jax.ffi.register_ffi_target(name, capsule, platform="cpu")
    except Exception as exc:  # never raise on import: report instead
        return None, None, f"failed to load {path.name}: {type(exc).__name__}: {exc}"
    return lib, path, ""


def _load() -> None:
    global _loaded, _reason, _library_path, _lib
    lib, path, _reason = load_handlers(
        _HERE,
        "_kernels",
        SYMBOLS,
        "the C++ extension was not built at install time; reinstall with a C++17 compiler "
        "available",
    )
    if lib is None:
        return
    _lib = lib
    _library_path = str(path)
    _loaded = True


def available() -> bool:
    """Whether the native kernels are loaded and registered (and not disabled)."""
    return _loaded and not _disabled()


def reason() -> str:
    """Why :func:`available` is ``False``; empty when it is ``True``."""
    if _loaded and _disabled():
        return f"disabled by {_ENV_DISABLE}={os.environ.get(_ENV_DISABLE)}"
    return _reason


def library_path() -> str | None:
    """Path of the loaded shared library, or ``None``."""
    return _library_path


_load()
