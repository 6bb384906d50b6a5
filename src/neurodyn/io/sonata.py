"""SONATA spike files (the spike-train report of the SONATA data format, read by
libsonata, bmtk and NEST): ``/spikes/<population>/timestamps`` (float64, with a
``units`` attribute; neurodyn writes ms) and ``/spikes/<population>/node_ids``
(uint64), the population group carrying the ``sorting`` attribute (an HDF5 enum
``none`` / ``by_id`` / ``by_time``).

Example::

    from neurodyn.io import sonata
    sonata.write_spikes("spikes.h5", {"E": (np.array([1.5, 3.0]) * u.ms, [4, 2])})
    sonata.write_spikes("run.h5", res)           # every spike monitor of a RunResult
    times, node_ids = sonata.read_spikes("spikes.h5")["E"]
"""

from __future__ import annotations

import os
import warnings

import numpy as np

import neurodyn.units as u

from ._optional import FileFormatError, atomic_write, open_hdf5, reading, require
from ._runs import grid_spikes, spike_monitors

__all__ = ["write_spikes", "read_spikes", "SORTING"]

#: the values of the ``sorting`` enum (libsonata's numbering)
SORTING = {"none": 0, "by_id": 1, "by_time": 2}


def _as_spikes(name: str, pair) -> tuple[np.ndarray, np.ndarray]:
    """``(times in ms float64, node ids uint64)`` from ``(times, node_ids)``."""
    try:
        times, ids = pair
    except (TypeError, ValueError):
        raise TypeError(
            f"write_spikes: population {name!r} must be a pair (times, node_ids); got "
            f"{type(pair).__name__}."
        ) from None
    if not isinstance(times, u.Quantity) or times.unit.dim is not u.ms.dim:
        raise u.UnitMismatchError(
            f"write_spikes: the spike times of {name!r} must be a time Quantity (e.g. "
            f"t * u.ms, as RunResult.spikes gives); got {type(times).__name__}."
        )
    t = np.asarray(times.to_value(u.ms), np.float64).reshape(-1)
    i = np.asarray(ids)
    if i.ndim != 1 or i.shape[0] != t.shape[0]:
        raise ValueError(
            f"write_spikes: population {name!r} has {t.shape[0]} times but node ids of shape "
            f"{i.shape}; give one node id per spike (a batched RunResult: one element first)."
        )
    if i.size and (not np.issubdtype(i.dtype, np.integer) or i.min() < 0):
        raise ValueError(f"write_spikes: node ids of {name!r} must be integers >= 0.")
    if not np.all(np.isfinite(t)):
        raise ValueError(f"write_spikes: population {name!r} has non-finite spike times.")
    return t, i.astype(np.uint64)


def _from_run(result, monitors) -> dict:
    """``{population: (times in ms float64 on the dt grid, node ids uint64)}``."""
    if monitors is None:
        monitors = spike_monitors(result)
        if not monitors:
            raise ValueError(
                "write_spikes: the RunResult has no spike monitor (a boolean State recorded "
                "every step); record pop.spike, or name the monitors."
            )
    if isinstance(monitors, str):
        monitors = [monitors]
    names = monitors if isinstance(monitors, dict) else {m: m for m in monitors}
    out = {}
    for pop, mon in names.items():
        t_ms, i, *_ = grid_spikes(result, mon)
        out[pop] = (t_ms, i.astype(np.uint64))
    return out


def write_spikes(path, spikes, monitors=None, sorting: str = "by_time"):
    """Write spikes to the SONATA spike file ``path`` (atomically: no half-written file
    on error).

    Args:
        path: the ``.h5`` file.
        spikes: ``{population: (times, node_ids)}`` with times a time Quantity, or a
            :class:`~neurodyn.dyn.RunResult`.
        monitors: for a RunResult, the spike monitors to write: a list of names (each a
            population) or ``{population: monitor name}``; default every boolean monitor.
        sorting: ``"by_time"`` (default; ties by node id), ``"by_id"`` (then by time) or
            ``"none"`` (as given).

    Returns:
        ``path``.
    """
    h5py = require("h5py", "neurodyn.io.sonata.write_spikes")
    if sorting not in SORTING:
        raise ValueError(f"write_spikes: sorting must be one of {list(SORTING)}; got {sorting!r}.")
    if hasattr(spikes, "spikes") and hasattr(spikes, "data"):
        given = _from_run(spikes, monitors)
    elif monitors is not None:
        raise TypeError("write_spikes: monitors= is for a RunResult; a dict is written as given.")
    elif isinstance(spikes, dict) and spikes:
        given = {name: _as_spikes(name, pair) for name, pair in spikes.items()}
    else:
        raise TypeError(
            "write_spikes expects {population: (times, node_ids)} or a RunResult; got "
            f"{type(spikes).__name__}."
        )
    pops = {}
    for name, (t, i) in given.items():
        if not isinstance(name, str) or not name or "/" in name:
            raise ValueError(
                f"write_spikes: population names are non-empty, without '/'; got {name!r}."
            )
        if sorting == "by_time":
            order = np.lexsort((i, t))
        elif sorting == "by_id":
            order = np.lexsort((t, i))
        else:
            order = np.arange(t.size)
        pops[name] = (t[order], i[order])
    enum = h5py.enum_dtype(SORTING, basetype="u1")

    def write(tmp):
        with h5py.File(tmp, "w") as f:
            f.attrs["magic"] = np.uint32(0x0A7A)
            f.attrs["version"] = np.array([0, 1], np.uint32)
            root = f.create_group("spikes")
            for name, (t, i) in pops.items():
                g = root.create_group(name)
                g.attrs.create("sorting", SORTING[sorting], dtype=enum)
                ts = g.create_dataset("timestamps", data=t, dtype=np.float64)
                ts.attrs["units"] = "ms"
                g.create_dataset("node_ids", data=i, dtype=np.uint64)

    return atomic_write(path, write, suffix=".h5")


def _sorting_name(value) -> str:
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, str):
        return value
    names = {v: k for k, v in SORTING.items()}
    return names.get(int(value), "none")


def read_spikes(path, with_sorting: bool = False) -> dict:
    """``{population: (times, node_ids)}`` from the SONATA spike file ``path``: times a
    Quantity in the file's unit (the ``units`` attribute; ms when it is missing, with a
    warning), node ids int64. ``with_sorting=True`` adds the ``sorting`` of each
    population: ``{population: (times, node_ids, sorting)}``."""
    h5py = require("h5py", "neurodyn.io.sonata.read_spikes")
    path = os.fspath(path)
    out = {}
    with reading(path, "SONATA spike"), open_hdf5(path, "SONATA spike", "read_spikes") as f:
        if "spikes" not in f or not isinstance(f["spikes"], h5py.Group):
            raise FileFormatError(
                f"{path} is not a SONATA spike file: it has no /spikes group (found {sorted(f)})."
            )
        for name, g in f["spikes"].items():
            if not isinstance(g, h5py.Group) or "timestamps" not in g or "node_ids" not in g:
                raise FileFormatError(
                    f"{path} is not a SONATA spike file: /spikes/{name} must be a group with "
                    "timestamps and node_ids."
                )
            ts = g["timestamps"]
            unit = ts.attrs.get("units")
            if unit is None:
                warnings.warn(
                    f"{path}: /spikes/{name}/timestamps has no units attribute; reading ms.",
                    stacklevel=2,
                )
                unit = "ms"
            unit = unit.decode() if isinstance(unit, bytes) else str(unit)
            times = u.Quantity(np.asarray(ts[()], np.float64), u.unit(unit))
            ids = np.asarray(g["node_ids"][()]).astype(np.int64)
            if ids.shape != times.shape:
                raise FileFormatError(
                    f"{path} is not a readable SONATA spike file: /spikes/{name} has "
                    f"{times.shape} timestamps but {ids.shape} node_ids."
                )
            sorting = _sorting_name(g.attrs.get("sorting", "none"))
            out[name] = (times, ids, sorting) if with_sorting else (times, ids)
    return out
