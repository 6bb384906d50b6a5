"""Loader (and builder) of the native Hines tree solve of :mod:`neurodyn.dendrite`.

``_hines.cc`` holds two XLA FFI handlers, ``neurodyn_tree_solve`` (a tree solve) and
``neurodyn_cable_solve`` (a cable step: the axial currents and the solve), compiled into
a plain shared library ``_hines_native*.so`` next to this file (no ``PyInit``; loaded
with :mod:`ctypes` and registered with ``jax.ffi.register_ffi_target(..., "cpu")``).
Importing never raises: without the library (no compiler at install time), or with
``NEURODYN_DISABLE_NATIVE=1``, :func:`available` is False, :func:`reason` says why, and
the cell solves its tree with the pure-JAX solver (``dendrite._solver``) instead.

Build it in place (the same flags as the package's other native kernels)::

    python -m neurodyn.dendrite._hines

or as a setuptools extension (setup.py)::

    Extension("neurodyn.dendrite._hines_native",
              sources=["src/neurodyn/dendrite/_hines.cc"],
              depends=["src/neurodyn/event/_native/xla_ffi.h"],
              include_dirs=[jax.ffi.include_dir(), "src/neurodyn/event/_native"],
              extra_compile_args=["-O3", "-std=c++17"], language="c++", optional=True)
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

__all__ = ["TARGET", "CABLE_TARGET", "available", "reason", "build"]

TARGET = "neurodyn_tree_solve"
CABLE_TARGET = "neurodyn_cable_solve"
_SYMBOLS = {TARGET: "NeurodynTreeSolve", CABLE_TARGET: "NeurodynCableSolve"}
_ENV_DISABLE = "NEURODYN_DISABLE_NATIVE"
_HERE = Path(__file__).resolve().parent
_SOURCE = _HERE / "_hines.cc"
_FFI_HEADER_DIR = _HERE.parent / "event" / "_native"  # xla_ffi.h

_loaded = False
_reason = ""
_lib = None  # keeps the library (and so the handler) alive


def _disabled() -> bool:
    from neurodyn.event._native import disabled

    return disabled()


def _load() -> None:
    global _loaded, _reason, _lib
    if _loaded:
        return
    from neurodyn.event._native import load_handlers

    lib, _, _reason = load_handlers(
        _HERE, "_hines_native", _SYMBOLS, "build it with `python -m neurodyn.dendrite._hines`"
    )
    if lib is not None:
        _lib = lib
        _loaded = True


def available() -> bool:
    """Whether the native tree solve is loaded and registered (and not disabled)."""
    return _loaded and not _disabled()


def reason() -> str:
    """Why :func:`available` is False; empty when it is True."""
    if _loaded and _disabled():
        return f"disabled by {_ENV_DISABLE}={os.environ.get(_ENV_DISABLE)}"
    return _reason


def build(verbose: bool = True) -> Path:
    """Compile ``_hines.cc`` into ``_hines_native<ext suffix>`` next to this file (needs a
    C++17 compiler; the XLA FFI headers come with jax). New processes load it (one that
    has loaded an older build keeps that one)."""
    import jax

    suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
    out = _HERE / f"_hines_native{suffix}"
    cxx = os.environ.get("CXX", "c++")
    cmd = [
        cxx, "-O3", "-std=c++17", "-shared", "-fPIC",
        f"-I{jax.ffi.include_dir()}", f"-I{_FFI_HEADER_DIR}",
        str(_SOURCE), "-o", str(out),
    ]  # fmt: skip
    if verbose:
        print(" ".join(cmd))
    subprocess.run(cmd, check=True)
    if not _loaded:
        _load()
    return out


if __name__ == "__main__":
    print(f"built {build()}")
    sys.exit(0)
_load()
