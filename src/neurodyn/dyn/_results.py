"""What a run returns: recorded arrays with their units, sparse spike records, files."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from typing import Any

import jax
import numpy as np

import neurodyn.units as u

__all__ = ["RunResult", "SpikeRecord"]


@dataclass(frozen=True, repr=False)
class SpikeRecord:
    """The spikes of one :class:`SpikeMonitor`, as Brian2's ``SpikeMonitor``: ``t`` (a
    time Quantity, the *start* of the step in which each spike happened, sorted) and
    ``i`` (the neuron index; for a batched run ``(batch, neuron)`` pairs, ``[k, 2]``).

    ``shape`` is the recorded State's shape (``(n,)``, or ``(batch, n)``).
    """

    t: Any
    i: np.ndarray
    shape: tuple

    @property
    def n_neurons(self) -> int:
        return int(self.shape[-1])

    def __len__(self) -> int:
        return len(self.i)

    @property
    def count(self) -> np.ndarray:
        """Spikes per neuron (``[n]``, or ``[batch, n]`` for a batched run)."""
        flat = self.i if self.i.ndim == 1 else np.ravel_multi_index(self.i.T, self.shape)
        return np.bincount(flat, minlength=int(np.prod(self.shape))).reshape(self.shape)

    def __repr__(self) -> str:
        return f"SpikeRecord({len(self)} spikes of {self.shape} neurons)"

    def spike_trains(self) -> list:
        """One array of spike times (a time Quantity) per neuron (unbatched runs)."""
        if self.i.ndim != 1:
            raise ValueError(
                "spike_trains: these spikes come from a batched run; take one batch element "
                "first (record.i holds (batch, neuron) pairs)."
            )
        ms = np.asarray(self.t.to_value(u.ms))
        order = np.argsort(self.i, kind="stable")
        bounds = np.searchsorted(self.i[order], np.arange(self.n_neurons + 1))
        return [ms[order[a:b]] * u.ms for a, b in zip(bounds[:-1], bounds[1:])]


@dataclass(repr=False)
class RunResult:
    """Times and recorded values (Quantities keep their units), stacked over time.

    ``times[k]`` is the end of the step after which row ``k`` was recorded: a state
    recorded at ``times[k]`` is its value at that time (Brian2's StateMonitor value at
    the next time point). Spikes keep Brian2's convention: :meth:`spikes` stamps a spike
    with the *start* of the step in which the threshold was crossed. A
    :class:`SpikeMonitor` gives a :class:`SpikeRecord` (``res[name].t``, ``.i``).
    """

    times: Any
    data: dict = field(default_factory=dict)
    timing: dict = field(default_factory=dict)
    monitor_times: dict = field(default_factory=dict)

    def __getitem__(self, name: str):
        try:
            return self.data[name]
        except KeyError:
            raise KeyError(f"No monitor named {name!r}; recorded: {sorted(self.data)}.") from None

    def keys(self):
        return self.data.keys()

    def __repr__(self) -> str:
        n = len(self.times)
        if n:
            t0, t1 = float(self.times[0].to_value(u.ms)), float(self.times[-1].to_value(u.ms))
            span = f"{n} rows, t = {t0:g}..{t1:g} ms"
        else:
            span = "0 rows"
        parts = []
        for k, v in self.data.items():
            if isinstance(v, SpikeRecord):
                parts.append(f"{k}: {len(v)} spikes of {v.shape}")
                continue
            unit = f" {v.unit.name}" if isinstance(v, u.Quantity) else ""
            dtype = np.asarray(u.get_mantissa(v)).dtype
            parts.append(f"{k}: {tuple(np.shape(u.get_mantissa(v)))} {dtype}{unit}")
        return f"RunResult({span}; " + ", ".join(parts) + ")"

    @property
    def dt(self):
        """The run's time step (a Quantity)."""
        return float(self.timing["dt_ms"]) * u.ms

    def spikes(self, name: str):
        """``(t, i)``: the spike times and neuron indices of the spike monitor ``name``
        (a :class:`SpikeMonitor`, or a boolean State recorded every step), sorted by
        time, as Brian2's ``SpikeMonitor``: a spike is stamped with the start of the step
        in which the threshold was crossed (``times[k] - dt``). For a batched run ``i``
        is ``(batch, neuron)`` pairs."""
        rec = self[name]
        if isinstance(rec, SpikeRecord):
            return rec.t, rec.i
        raster = np.asarray(rec)
        t_rec = self.monitor_times.get(name, self.times)
        if raster.dtype != np.bool_ or len(t_rec) != len(self.times):
            raise ValueError(
                f"RunResult.spikes: {name!r} must be a SpikeMonitor or a spike (boolean) "
                "State recorded every step (Monitor without every=)."
            )
        ms = np.asarray(t_rec.to_value(u.ms))
        dt = ms[1] - ms[0] if len(ms) > 1 else float(self.timing.get("dt_ms", ms[0]))
        hits = np.argwhere(raster)
        t = (ms[hits[:, 0]] - dt) * u.ms
        i = hits[:, 1] if raster.ndim == 2 else hits[:, 1:]
        return t, i

    def spike_trains(self, name: str) -> list:
        """One array of spike times (a time Quantity, start-of-step stamps as in
        :meth:`spikes`) per neuron of the unbatched spike monitor ``name``."""
        rec = self[name]
        if isinstance(rec, SpikeRecord):
            return rec.spike_trains()
        t, i = self.spikes(name)
        if np.ndim(i) != 1:
            raise ValueError(
                f"RunResult.spike_trains: {name!r} was recorded from a batched run; take one "
                "batch element first (res.spikes(name) gives (batch, neuron) pairs)."
            )
        n = np.shape(rec)[-1]
        ms = np.asarray(t.to_value(u.ms))
        return [ms[i == k] * u.ms for k in range(n)]

    def to_numpy(self) -> dict:
        """``{name: numpy array}`` of the times (``"times"``, in ms) and every monitor, each
        in its own unit (``units()`` names them); a spike record gives ``name.t`` (ms)
        and ``name.i``."""
        out = {"times": np.asarray(self.times.to_value(u.ms))}
        for k, v in self.data.items():
            if isinstance(v, SpikeRecord):
                out[f"{k}.t"] = np.asarray(v.t.to_value(u.ms))
                out[f"{k}.i"] = np.asarray(v.i)
            else:
                out[k] = np.asarray(u.get_mantissa(v))
        return out

    def units(self) -> dict:
        """``{name: unit name}`` for the arrays of :meth:`to_numpy` ("" for plain ones)."""
        out = {"times": "ms"}
        for k, v in self.data.items():
            if isinstance(v, SpikeRecord):
                out[f"{k}.t"], out[f"{k}.i"] = "ms", ""
            else:
                out[k] = v.unit.name if isinstance(v, u.Quantity) else ""
        return out

    def save(self, path) -> None:
        """Write the times and monitors to a ``.npz`` file, units as metadata; read it
        back with :meth:`RunResult.load`. The file is written to a temporary name first,
        so a failed save leaves no half-written file."""
        path = os.fspath(path)
        arrays = self.to_numpy()
        clash = [k for k in arrays if k.startswith("__")]
        if clash:
            raise ValueError(f"RunResult.save: monitor names may not start with '__': {clash}.")
        meta = {
            "units": self.units(),
            "monitor_times_step": {
                k: int(round(len(self.times) / max(len(t), 1)))
                for k, t in self.monitor_times.items()
            },
            "spike_records": {
                k: list(v.shape) for k, v in self.data.items() if isinstance(v, SpikeRecord)
            },
            "timing": {k: v for k, v in self.timing.items() if isinstance(v, (int, float))},
        }
        folder = os.path.dirname(os.path.abspath(path))
        fd, tmp = tempfile.mkstemp(suffix=".npz", dir=folder)
        os.close(fd)
        try:
            np.savez_compressed(tmp, __meta__=np.asarray(json.dumps(meta)), **arrays)
            os.replace(tmp, path if path.endswith(".npz") else path + ".npz")
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)

    @classmethod
    def load(cls, path) -> RunResult:
        """A :class:`RunResult` from a file written by :meth:`save` (units restored)."""
        with np.load(path) as f:
            meta = json.loads(str(f["__meta__"]))
            arrays = {k: f[k] for k in f.files if k != "__meta__"}
        units = meta["units"]

        def q(name):
            return arrays[name] * u.unit(units[name]) if units[name] else arrays[name]

        times = q("times")
        records = meta.get("spike_records", {})
        data = {}
        for k in arrays:
            if k == "times":
                continue
            base = k.rsplit(".", 1)[0]
            if base in records:
                if k.endswith(".t"):
                    data[base] = SpikeRecord(
                        t=q(k), i=arrays[base + ".i"], shape=tuple(records[base])
                    )
            else:
                data[k] = q(k)
        mon_times = {k: times[step - 1 :: step] for k, step in meta["monitor_times_step"].items()}
        return cls(times=times, data=data, timing=meta["timing"], monitor_times=mon_times)

    def plot(self, names=None, max_neurons: int = 200, axes=None):
        """A quick look (matplotlib): one panel per monitor (``names``, default all): a
        raster for spikes, traces (up to 10 columns) for values. Returns the axes."""
        try:
            import matplotlib.pyplot as plt
        except ImportError:
            raise ImportError(
                "RunResult.plot needs matplotlib: pip install 'neurodyn[plot]'."
            ) from None
        names = list(self.data) if names is None else list(names)
        if not names:
            raise ValueError("RunResult.plot: nothing was recorded.")
        if axes is None:
            _, axes = plt.subplots(len(names), 1, sharex=True, figsize=(7, 1.8 * len(names)))
        axes = np.atleast_1d(axes)
        for ax, name in zip(axes, names):
            value = self[name]
            is_raster = (
                not isinstance(value, (SpikeRecord, u.Quantity)) and np.asarray(value).dtype == bool
            )
            if isinstance(value, SpikeRecord) or is_raster:
                t, i = self.spikes(name)
                i = np.asarray(i)
                keep = (i if i.ndim == 1 else i[:, -1]) < max_neurons
                ms = np.asarray(t.to_value(u.ms))[keep]
                ax.plot(ms, (i if i.ndim == 1 else i[:, -1])[keep], "|", ms=2, color="k")
                ax.set_ylabel(f"{name}\nneuron")
            else:
                t_rec = self.monitor_times.get(name, self.times)
                vals = np.asarray(u.get_mantissa(value))
                vals = vals.reshape(len(vals), -1)[:, :10]
                ax.plot(np.asarray(t_rec.to_value(u.ms)), vals, lw=0.8)
                unit = f" ({value.unit.name})" if isinstance(value, u.Quantity) else ""
                ax.set_ylabel(f"{name}{unit}")
        axes[-1].set_xlabel("time (ms)")
        return axes


class _Static:
    """Host-side parts of a RunResult carried through JAX transforms (compared by
    identity: times are numpy arrays)."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


def _flatten(res: RunResult):
    keys = [k for k, v in res.data.items() if not isinstance(v, SpikeRecord)]
    records = {k: v for k, v in res.data.items() if isinstance(v, SpikeRecord)}
    static = _Static((keys, records, res.times, res.timing, res.monitor_times))
    return [res.data[k] for k in keys], static


def _unflatten(static: _Static, children) -> RunResult:
    keys, records, times, timing, monitor_times = static.value
    data = dict(zip(keys, children))
    data.update(records)
    return RunResult(times=times, data=data, timing=timing, monitor_times=monitor_times)


# a RunResult can leave nd.vmap / nd.jit / nd.dyn.sweep: its recorded arrays are the leaves
jax.tree_util.register_pytree_node(RunResult, _flatten, _unflatten)
