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
        """Number of recorded neurons (the last axis of ``shape``)."""
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

    Attributes:
        times: the time of every row of a monitor recorded every step (a time Quantity,
            ``[steps]``).
        data: ``{monitor name: recorded values}``; also ``res[name]``.
        timing: wall-clock seconds of the run (``"compile_s"``, ``"run_s"``, ...).
        monitor_times: ``{monitor name: times}`` for the monitors recorded less often
            than every step (``Monitor(..., every=...)``): the time of each of their rows.
            A monitor absent from it uses :attr:`times`.
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
        """The monitor names (``res[name]`` gives each one's values)."""
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

    def to_neo(self, monitors=None, populations: dict | None = None, name: str = "neurodyn run"):
        """A ``neo.Block`` of the run, for Elephant and the other neo tools (needs the
        optional ``neo`` package: ``pip install neurodyn[io]``).

        One Segment: every spike monitor (a :class:`SpikeMonitor`, or a boolean State
        recorded every step) gives one ``SpikeTrain`` per neuron, its times in ms on the dt
        grid (start-of-step stamps, as :meth:`spikes`; computed from the step numbers in
        float64), ``t_start`` / ``t_stop`` the start and end of the run, annotated with
        ``population`` and ``node_id``, and a ``Group`` per population; every other
        monitor an ``AnalogSignal`` in its unit (values of a unit ``quantities`` cannot
        name are given dimensionless, the unit in the ``neurodyn_unit`` annotation).

        Args:
            monitors: the monitors to convert (default all).
            populations: ``{spike monitor: population name}`` (default the monitor's
                name).
            name: the Block's name.

        Example:
            >>> import neurodyn as nd
            >>> import neurodyn.units as u
            >>> lif = nd.dyn.LIF(2, I_ext=[300, 400] * u.pA)
            >>> res = nd.run(lif, 50 * u.ms, dt=0.1 * u.ms, monitors={"spike": lif.spike})
            >>> block = res.to_neo()
            >>> [len(st) for st in block.segments[0].spiketrains]
            [3, 5]
        """
        try:
            import neo
            import quantities as pq
        except ImportError as err:
            raise ImportError(
                f"RunResult.to_neo needs the optional packages 'neo' and 'quantities' ({err}). "
                "Install the I/O extras: pip install neurodyn[io]"
            ) from err
        names = list(self.data) if monitors is None else list(monitors)
        unknown = [m for m in names if m not in self.data]
        if unknown:
            raise KeyError(
                f"RunResult.to_neo: no monitor {unknown}; recorded: {sorted(self.data)}."
            )
        populations = dict(populations or {})
        dt = _dt_ms(self)
        block = neo.Block(name=name)
        seg = neo.Segment(name="run")
        block.segments.append(seg)
        spiking = set(_spike_monitor_names(self))
        for m in names:
            if m in spiking:
                steps, idx, s0, s1, n = _spike_steps(self, m, dt)
                order = np.lexsort((steps, idx))  # by neuron, then time
                steps, idx = steps[order], idx[order]
                bounds = np.searchsorted(idx, np.arange(n + 1))
                pop = str(populations.get(m, m))
                group = neo.Group(name=pop)
                for k in range(n):
                    st = neo.SpikeTrain(
                        steps[bounds[k] : bounds[k + 1]] * dt * pq.ms,
                        t_start=s0 * dt * pq.ms,
                        t_stop=s1 * dt * pq.ms,
                        name=f"{pop}[{k}]",
                        population=pop,
                        node_id=k,
                    )
                    seg.spiketrains.append(st)
                    group.add(st)
                block.groups.append(group)
                continue
            value = self.data[m]
            unit = value.unit if isinstance(value, u.Quantity) else None
            data = np.asarray(u.get_mantissa(value))
            if data.dtype == np.bool_:
                data = data.astype(np.uint8)
            note = {}
            if unit is None or unit.is_dimensionless:
                units = pq.dimensionless
            else:
                try:
                    units = pq.Quantity(1.0, unit.name).units
                except Exception:
                    units, note = pq.dimensionless, {"neurodyn_unit": unit.name}
            t = np.asarray(self.monitor_times.get(m, self.times).to_value(u.ms), float)
            steps = np.round(t / dt)
            period = (steps[1] - steps[0]) * dt if len(steps) > 1 else dt
            sig = neo.AnalogSignal(
                data.reshape(data.shape[0], -1),
                units=units,
                sampling_period=period * pq.ms,
                t_start=(steps[0] if len(steps) else 0.0) * dt * pq.ms,
                name=m,
                **note,
            )
            seg.analogsignals.append(sig)
        return block

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


def _dt_ms(res: RunResult) -> float:
    """The run's step in ms (``timing["dt_ms"]``, else the spacing of ``times``)."""
    dt = res.timing.get("dt_ms") if isinstance(res.timing, dict) else None
    if dt:
        return float(dt)
    ms = np.asarray(res.times.to_value(u.ms), float)
    if len(ms) < 2:
        raise ValueError("The RunResult has one row and no dt in timing; cannot tell dt.")
    return float(ms[1] - ms[0])


def _spike_monitor_names(res: RunResult) -> list[str]:
    """The monitors of ``res`` that hold spikes: ``SpikeMonitor`` records, and boolean
    rasters recorded every step."""
    out = []
    for k, v in res.data.items():
        if isinstance(v, SpikeRecord):
            out.append(k)
            continue
        t = res.monitor_times.get(k, res.times)
        if np.asarray(u.get_mantissa(v)).dtype == np.bool_ and len(t) == len(res.times):
            out.append(k)
    return out


def _spike_steps(res: RunResult, name: str, dt: float):
    """``(steps, i, start, stop, n)`` of the unbatched spike monitor ``name``: the step
    number (int64, counted from the clock's zero) in which each spike happened, sorted by
    time, the neuron indices, the first and one-past-last step of the run, and the
    number of neurons. A spike at step ``s`` is stamped ``s * dt`` (the start of the
    step, as :meth:`RunResult.spikes`); rasters give the steps from their rows, exactly."""
    rec = res[name]
    if isinstance(rec, SpikeRecord):
        if len(rec.shape) != 1:
            raise ValueError(
                f"Spike monitor {name!r} recorded a batched run (shape {rec.shape}); take one "
                "batch element."
            )
        timing = res.timing if isinstance(res.timing, dict) else {}
        if "t_stop_ms" not in timing:
            raise ValueError(f"{name!r}: the RunResult does not say when the run started.")
        steps = np.round(np.asarray(rec.t.to_value(u.ms), float) / dt).astype(np.int64)
        start = int(round(timing["t_start_ms"] / dt))
        stop = int(round(timing["t_stop_ms"] / dt))
        return steps, np.asarray(rec.i), start, stop, rec.shape[0]
    raster = np.asarray(u.get_mantissa(rec))
    if raster.ndim != 2:
        raise ValueError(
            f"Spike monitor {name!r} has shape {raster.shape}: a batched run; take one batch "
            "element (a RunResult whose monitors are [time, neuron])."
        )
    if raster.dtype != np.bool_:
        raise ValueError(f"{name!r} is not a spike monitor (dtype {raster.dtype}).")
    timing = res.timing if isinstance(res.timing, dict) else {}
    if (
        "t_start_ms" in timing
        and "t_stop_ms" in timing
        and (round((timing["t_stop_ms"] - timing["t_start_ms"]) / dt) == len(raster))
    ):
        start = int(round(timing["t_start_ms"] / dt))  # (exact for long runs)
    else:
        start = int(round(float(res.times[0].to_value(u.ms)) / dt)) - 1  # row 0's step
    rows, i = np.nonzero(raster)
    return rows.astype(np.int64) + start, i, start, start + len(raster), raster.shape[1]


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
