"""Build the optional native CPU kernels of ``neurodyn.event``.

All metadata lives in pyproject.toml; this file only declares the C++ extensions
``neurodyn.event._native._kernels`` and ``neurodyn.dendrite._hines_native``: plain shared
libraries of XLA FFI handlers (no ``PyInit``), loaded with ctypes by
``neurodyn.event._native`` and ``neurodyn.dendrite._hines``.

The extension is optional: without a C++ compiler, or without jax (whose
``jax.ffi.include_dir()`` provides the FFI headers) at build time, the package
still installs and falls back to pure JAX.
"""

from __future__ import annotations

import os
import sys
from concurrent.futures import ThreadPoolExecutor

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


def _ffi_include_dir() -> str | None:
    try:
        import jax
    except Exception as exc:  # any failure means "no headers"
        print(
            f"neurodyn: jax unavailable at build time ({exc}); native kernels skipped",
            file=sys.stderr,
        )
        return None
    try:
        return jax.ffi.include_dir()
    except AttributeError:  # jax < 0.4.38 kept the FFI helpers in jax.extend
        from jax.extend import ffi as _ffi

        return _ffi.include_dir()


class _BuildSharedLib(build_ext):
    """build_ext for a ctypes-loaded library: export no ``PyInit`` symbol; the sources
    compile in parallel, one per core (the kernels are half of a fresh install's time)."""

    def get_export_symbols(self, ext):
        return ext.export_symbols or []

    def build_extensions(self):
        serial = self.compiler.compile

        def compile_parallel(sources, *args, **kwargs):
            with ThreadPoolExecutor(max(1, len(os.sched_getaffinity(0)))) as pool:
                parts = pool.map(lambda src: serial([src], *args, **kwargs), sources)
                return [obj for objs in parts for obj in objs]

        self.compiler.compile = compile_parallel
        super().build_extensions()


# The kernels by family (common.h and the tables kernels.def / jithash.def are shared):
_NATIVE = "src/neurodyn/event/_native"
_SOURCES = ["rows.cc", "jitconn.cc", "update.cc", "record.cc", "user.cc"]
_HEADERS = ["xla_ffi.h", "common.h", "threads.h", "jithash.h", "kernels.def", "jithash.def"]

_include = _ffi_include_dir()
ext_modules = []
if _include is not None:
    ext_modules.append(
        Extension(
            "neurodyn.event._native._kernels",
            sources=[f"{_NATIVE}/{name}" for name in _SOURCES],
            depends=[f"{_NATIVE}/{name}" for name in _HEADERS],
            include_dirs=[_include],
            # No FMA contraction: jitconn weights must match the pure-JAX generator bit for bit.
            extra_compile_args=["-O3", "-std=c++17", "-ffp-contract=off"],
            language="c++",
            optional=True,
        )
    )
    # the Hines tree solve of neurodyn.dendrite (src/neurodyn/dendrite/_hines.py loads it)
    ext_modules.append(
        Extension(
            "neurodyn.dendrite._hines_native",
            sources=["src/neurodyn/dendrite/_hines.cc"],
            depends=["src/neurodyn/event/_native/xla_ffi.h"],
            include_dirs=[_include, "src/neurodyn/event/_native"],
            extra_compile_args=["-O3", "-std=c++17"],
            language="c++",
            optional=True,
        )
    )

setup(
    ext_modules=ext_modules,
    cmdclass={"build_ext": _BuildSharedLib},
    # the tables are read at import too (kernel names, hash constants), with or without
    # the compiled library
    package_data={"neurodyn.event._native": ["*.def"]},
)
