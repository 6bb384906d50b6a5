"""One XLA compilation cache for a whole test run.

The suite's time is mostly XLA compiles, and many tests compile the same programs (the
same small networks, the same kernels at the same shapes). The run (and its pytest-xdist
workers) shares one JAX persistent compilation cache in a fresh temporary folder, removed
at the end: nothing is reused from an earlier run, so every test still compiles what it
runs once per run. ``NEURODYN_TEST_JAX_CACHE=0`` turns it off.
"""

from __future__ import annotations

import os
import shutil
import tempfile

_ENV = "NEURODYN_TEST_JAX_CACHE"


def pytest_configure(config):
    if os.environ.get(_ENV) == "0":
        return
    if os.environ.get("PYTEST_XDIST_WORKER") is None and not os.environ.get(_ENV):
        # the controller (or a run without xdist): a fresh folder, inherited by the workers
        path = tempfile.mkdtemp(prefix="neurodyn-jax-cache-")
        os.environ[_ENV] = path
        config._neurodyn_jax_cache = path
    import jax

    jax.config.update("jax_compilation_cache_dir", os.environ[_ENV])
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def pytest_unconfigure(config):
    path = getattr(config, "_neurodyn_jax_cache", None)
    if path is not None:
        shutil.rmtree(path, ignore_errors=True)
        os.environ.pop(_ENV, None)
