"""Interchange formats: the top layer of neurodyn (it may use every other layer).

- :mod:`neurodyn.io.nir` — NIR graphs (https://neuroir.org): ``load`` a graph as a
  runnable Module, ``save`` neurodyn models (LIF, IF and LI populations);
- :mod:`neurodyn.io.sonata` — SONATA spike files (``write_spikes`` / ``read_spikes``);
- :mod:`neurodyn.io.nwb` — Neurodata Without Borders files of a run, with its stimuli
  (``write`` / ``read``), and ``neo`` objects (``to_neo``).

The formats need optional packages (nir, h5py, pynwb, nwbinspector, neo), imported when
a function first uses them: ``pip install neurodyn[io]``. Submodules load on first use.
"""

from __future__ import annotations

import importlib

__all__ = ["nir", "sonata", "nwb"]


def __getattr__(name: str):
    if name in __all__:
        return importlib.import_module(f"neurodyn.io.{name}")
    raise AttributeError(f"module 'neurodyn.io' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
