"""Loader for the native CPU kernels of :mod:`neurodyn.event`.

The kernels live in ``_kernels*.so``, a plain shared library of XLA FFI
handlers compiled from ``kernels.cc``, ``record.cc`` and ``user.cc`` when the package is
installed (see ``setup.py``).  On import this module loads it with :mod:`ctypes` and registers
each handler once with ``jax.ffi.register_ffi_target(..., platform="cpu")``.
Importing never raises: if the library is missing (no compiler at install
time), fails to load or to register, :func:`available` is ``False`` and
:func:`reason` says why, and callers fall back to pure JAX.

Setting ``NEURODYN_DISABLE_NATIVE=1`` (before import: nothing is loaded; or
later: :func:`available` turns ``False``) forces the fallback.

Example:
    >>> from neurodyn.event import _native
    >>> _native.available() or bool(_native.reason())
    True
    >>> _native.TARGETS["csr_scatter"]
    'neurodyn_csr_scatter'
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

__all__ = ["TARGETS", "available", "reason", "library_path", "load_handlers", "disabled"]

#: FFI target names, keyed by operator.  Constant, whether or not they are registered.
TARGETS: dict[str, str] = {
    "csr_scatter": "neurodyn_csr_scatter",
    "csr_gather": "neurodyn_csr_gather",
    "fanout_scatter": "neurodyn_fanout_scatter",
    "fanout_gather": "neurodyn_fanout_gather",
    "jitconn_scatter": "neurodyn_jitconn_scatter",
    "jitconn_gather": "neurodyn_jitconn_gather",
    "csr_update": "neurodyn_csr_update",
    "record_spikes": "neurodyn_record_spikes",
    "user_kernel": "neurodyn_user_kernel",
}

# Exported C symbol of the handler behind each target.
_SYMBOLS: dict[str, str] = {
    "neurodyn_csr_scatter": "NeurodynCsrScatter",
    "neurodyn_csr_gather": "NeurodynCsrGather",
    "neurodyn_fanout_scatter": "NeurodynFanoutScatter",
    "neurodyn_fanout_gather": "NeurodynFanoutGather",
    "neurodyn_jitconn_scatter": "NeurodynJitconnScatter",
    "neurodyn_jitconn_gather": "NeurodynJitconnGather",
    "neurodyn_csr_update": "NeurodynCsrUpdate",
    "neurodyn_record_spikes": "NeurodynRecordSpikes",
    "neurodyn_user_kernel": "NeurodynUserKernel",
}

_ENV_DISABLE = "NEURODYN_DISABLE_NATIVE"
_HERE = Path(__file__).resolve().parent

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
        _SYMBOLS,
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
