"""Neurodata Without Borders (NWB) files of a run, and ``neo`` objects.

:func:`write` stores a :class:`~neurodyn.dyn.RunResult`: every boolean spike monitor
recorded each step goes to the NWB ``Units`` table (one row per neuron, spike times in
seconds on the ``dt`` grid, ``resolution = dt``, a ``population`` and a ``node_id``
column); every other monitor becomes a ``TimeSeries`` in ``acquisition`` whose ``unit``
is the SI unit (``"volts"``, ``"amperes"``, ...) and ``conversion`` the factor from the
stored numbers (the monitor's own unit, e.g. mV: ``1e-3``) to it; ``comments`` keep the
neurodyn unit so :func:`read` gives the Quantities back. ``stimuli={name: ...}`` go to
``stimulus`` (``/stimulus/presentation``) as ``TimeSeries`` with the same unit
convention: an array or Quantity whose row ``k`` is the input during step ``k`` of the
run (as ``ArrayInput.feed`` takes it; stamped with the start of the step), a
``(times, values)`` pair, or a ready ``pynwb.TimeSeries``. ``model=net`` stores the
model's parameters in a table (``processing/misc/model_parameters``). The file passes
pynwb's validation; nwbinspector's best-practice checks also pass when the experiment's
metadata is given (``experimenter``, ``institution``, ``subject``: for a model, e.g. the
modelled species with ``sex="U"`` and an ``age``).

:func:`to_neo` is :meth:`RunResult.to_neo <neurodyn.dyn.RunResult.to_neo>`: a
``neo.Block`` (spike trains per neuron, grouped by population, and analog signals) for
Elephant and the other neo tools.

The datasets of a run (the spike times and every series) are written a chunk (1 MiB) at
a time straight from the run's arrays, gzip-compressed (level 1, shuffled) by a few
threads: a long run never sits in memory twice. 1,000 neurons x 10 s at 0.1 ms, every
spike and V at every step (a 400 MB float32 trace; 246 MB file), write in 1.1-2.2 s on
the 2-core development machine, the Python heap growing by 11 MB (``benchmarks/io.py``;
pynwb's ``H5DataIO`` with h5py's gzip filter takes 15 s for V alone).

Example::

    from neurodyn.io import nwb
    nwb.write("run.nwb", res, experimenter="Doe, Jane", institution="Lab",
              subject={"species": "Mus musculus", "sex": "U", "age": "P90D"})
    nwb.write("run.nwb", res, stimuli={"input": xs}, model=net)  # xs: ArrayInput's rows
    t, i = nwb.read("run.nwb")["spikes"]["spike"]
    t, x = nwb.read("run.nwb")["stimuli"]["input"]
    block = nwb.to_neo(res)                      # for Elephant
"""

from __future__ import annotations

import datetime
import os
import uuid

import numpy as np

import neurodyn.units as u

from ._chunks import allocate, fill
from ._optional import FileFormatError, atomic_write, open_hdf5, reading, require
from ._runs import dt_ms as _dt_ms
from ._runs import spike_monitors, spike_steps

__all__ = ["write", "read", "to_neo", "spike_monitors"]

# NWB names SI units in words; neurodyn's unit of each
_SI = {
    "volts": u.V,
    "amperes": u.A,
    "siemens": u.S,
    "seconds": u.second,
    "hertz": u.Hz,
    "ohms": u.ohm,
    "farads": u.F,
    "meters": u.metre,
    "molar": u.M,
}
_TAG = "neurodyn unit: "


def _si(unit):
    """``(NWB unit string, conversion, offset)`` for values in ``unit``."""
    if unit is None or unit.is_dimensionless:
        return "n.a.", float(unit.scale) if unit is not None else 1.0, 0.0
    for word, si in _SI.items():
        if unit.dim is si.dim:
            return word, float(unit.scale) / float(si.scale), float(unit.offset or 0.0)
    return str(unit.dim), float(unit.scale), float(unit.offset or 0.0)


def _view(data: np.ndarray):
    """The chunk source of an array: its region (a view; bool becomes uint8 per chunk)."""

    def source(sel):
        return data[sel]

    return source


class _SpikeTimes:
    """The ``spike_times`` column of the Units table, a chunk at a time: every spike
    monitor's spikes by neuron, then time, in seconds on the dt grid. Holds the step
    number of each spike (int64) and computes the seconds of a chunk when asked."""

    def __init__(self, result, monitors, dt: float):
        self.dt, self.steps, self.counts, self.sizes = dt, [], [], []
        for m in monitors:
            steps, idx, _, _, n = spike_steps(result, m, dt)
            order = np.lexsort((steps, idx))  # by neuron, then time
            self.steps.append(steps[order])
            self.counts.append(np.bincount(idx, minlength=n))
            self.sizes.append(n)
        self.starts = np.cumsum([0] + [len(s) for s in self.steps])
        self.total = int(self.starts[-1])
        self.counts = np.concatenate(self.counts) if self.counts else np.zeros(0, int)

    def __call__(self, sel):
        (sl,) = sel
        parts = []
        for s, a0 in zip(self.steps, self.starts[:-1]):
            a, b = max(sl.start - a0, 0), min(sl.stop - a0, len(s))
            if a < b:
                parts.append(s[a:b] * self.dt / 1e3)  # (the ms of the grid, in s)
        return parts[0] if len(parts) == 1 else np.concatenate(parts)


def write(
    path,
    result,
    monitors=None,
    populations: dict | None = None,
    session_description: str = "Simulation of a neuron model with neurodyn.",
    experiment_description: str | None = None,
    identifier: str | None = None,
    session_start_time: datetime.datetime | None = None,
    experimenter=None,
    institution: str | None = None,
    lab: str | None = None,
    subject=None,
    stimuli: dict | None = None,
    model=None,
    keywords=("simulation", "neurodyn", "computational model"),
    gzip_level: int | None = 1,
    threads: int | None = None,
):
    """Write the RunResult ``result`` to the NWB file ``path`` (atomically).

    Args:
        monitors: the monitors to write (default all).
        populations: ``{spike monitor: population name}`` for the ``population`` column
            (default the monitor's name).
        session_start_time: a timezone-aware datetime (default now, UTC).
        experimenter, institution, lab, subject: the experiment's metadata; ``subject``
            is a ``pynwb.file.Subject`` or a dict of its fields (``subject_id`` defaults
            to ``"model"``).
        stimuli: ``{name: stimulus}`` written to the file's ``stimulus`` group, each a
            ``TimeSeries`` (SI ``unit`` and ``conversion`` as for the monitors). A
            stimulus is an array or Quantity ``[steps, *shape]`` whose row ``k`` is the
            input during step ``k`` of the run (what ``ArrayInput.feed`` takes; stamped
            with the start of the step: the run's start + k dt); a pair ``(times,
            values)`` with ``times`` a 1-D time Quantity (increasing, one per row of
            ``values``; written as a rate when evenly spaced, to 1e-3 of a step); or a
            ``pynwb.TimeSeries`` (added as it is; its name must be the key).
        model: the simulated model (a neurodyn Module, e.g. the Network of the run):
            its parameters (every module's declared parameters and options, as
            ``nd.save`` stores them; connectivity left out) go to the table
            ``processing/misc/model_parameters``, one row per parameter (``parameter``:
            ``"E.tau"``, ``model``: the module's class, ``value``: the values, flat,
            ``shape``, ``unit``: the neurodyn unit); :func:`read` returns them.
        gzip_level: the gzip level (with HDF5's shuffle filter) of the datasets written
            from the run: 1 (default) is the fastest, 9 the smallest; None writes them
            uncompressed (nwbinspector then flags those over 50 MB).
        threads: the threads that compress chunks (default: the CPUs, at most 4).

    The spike times and every series are written in chunks of 1 MiB straight from the
    run's arrays (a float32 trace stays float32; no second copy of a long run is made).

    Returns:
        ``path``.
    """
    require("pynwb", "neurodyn.io.nwb.write")
    h5py = require("h5py", "neurodyn.io.nwb.write")
    from hdmf.common import VectorData, VectorIndex
    from pynwb import NWBHDF5IO, NWBFile, TimeSeries
    from pynwb.file import Subject
    from pynwb.misc import Units

    names = list(result.data) if monitors is None else list(monitors)
    unknown = [m for m in names if m not in result.data]
    if unknown:
        raise KeyError(f"nwb.write: no monitor {unknown}; recorded: {sorted(result.data)}.")
    if gzip_level is not None and (isinstance(gzip_level, bool) or gzip_level not in range(10)):
        raise ValueError(f"nwb.write: gzip_level must be 0..9 or None; got {gzip_level!r}.")
    for m in names:
        if "/" in m or ":" in m:
            raise ValueError(f"nwb.write: NWB names cannot hold '/' or ':'; rename monitor {m!r}.")
    spiking = [m for m in spike_monitors(result) if m in names]
    populations = dict(populations or {})
    dt = _dt_ms(result)
    if session_start_time is None:
        session_start_time = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    if session_start_time.tzinfo is None:
        raise ValueError("nwb.write: session_start_time must be timezone-aware (tzinfo=...).")
    if isinstance(subject, dict):
        default = {"subject_id": "model", "description": "The simulated model (no animal)."}
        subject = Subject(**{**default, **subject})
    if isinstance(experimenter, str):
        experimenter = [experimenter]
    nwbfile = NWBFile(
        session_description=session_description,
        identifier=identifier or str(uuid.uuid4()),
        session_start_time=session_start_time,
        experiment_description=experiment_description or session_description,
        experimenter=experimenter,
        institution=institution,
        lab=lab,
        subject=subject,
        keywords=list(keywords) if keywords else None,
        source_script="neurodyn.io.nwb.write",
        source_script_file_name="neurodyn/io/nwb.py",
    )
    fills = {}  # HDF5 path of a dataset -> the source of its chunks
    if spiking:
        spikes = _SpikeTimes(result, spiking, dt)
        spike_times = VectorData(
            name="spike_times",
            description="Spike times (s).",
            data=allocate((spikes.total,), np.float64, gzip_level),
        )
        fills["units/spike_times"] = spikes
        pops = [str(populations.get(m, m)) for m, n in zip(spiking, spikes.sizes) for _ in range(n)]
        units = Units(
            name="units",
            description="Spikes of the simulated neurons; a spike is stamped with the start "
            "of the step in which the threshold was crossed.",
            resolution=dt / 1e3,
            id=np.arange(len(pops)),
            columns=[
                spike_times,
                VectorIndex(
                    name="spike_times_index", data=np.cumsum(spikes.counts), target=spike_times
                ),
                VectorData(
                    name="population",
                    description="The population (monitor) of the neuron.",
                    data=pops,
                ),
                VectorData(
                    name="node_id",
                    description="The index of the neuron in its population.",
                    data=np.concatenate([np.arange(n) for n in spikes.sizes]),
                ),
            ],
        )
        nwbfile.units = units
    for m in names:
        if m in spiking:
            continue
        value = result.data[m]
        unit = value.unit if isinstance(value, u.Quantity) else None
        data = np.asarray(u.get_mantissa(value))  # (a view of the run's array on the CPU)
        dtype = np.uint8 if data.dtype == np.bool_ else data.dtype
        word, conversion, offset = _si(unit)
        steps = np.array(result.monitor_times.get(m, result.times).to_value(u.ms), float)
        np.rint(np.divide(steps, dt, out=steps), out=steps)  # (in place: one array of T)
        if len(steps) >= 2 and np.all(np.diff(steps) == steps[1] - steps[0]):
            timing = {
                "starting_time": steps[0] * dt / 1e3,
                "rate": 1e3 / ((steps[1] - steps[0]) * dt),
            }
        else:
            timing = {"timestamps": steps * dt / 1e3}
        del steps
        nwbfile.add_acquisition(
            TimeSeries(
                name=m,
                description=f"The monitor {m!r} of a neurodyn run, sampled at the end of steps.",
                data=allocate(data.shape, dtype, gzip_level),
                unit=word,
                conversion=conversion,
                offset=offset,
                comments=_TAG + (unit.name if unit is not None else "1"),
                **timing,
            )
        )
        fills[f"acquisition/{m}/data"] = _view(data)
    if model is not None:
        _add_parameters(nwbfile, model)
    start_s = _run_start_ms(result, dt) / 1e3
    for name, stim in dict(stimuli or {}).items():
        if isinstance(stim, TimeSeries):
            if stim.name != name:
                raise ValueError(
                    f"nwb.write: stimuli[{name!r}] is a TimeSeries named {stim.name!r}; give it "
                    "under its own name (NWB stores it by name)."
                )
            nwbfile.add_stimulus(stim)
            continue
        ts_kwargs, data = _stimulus(name, stim, start_s, dt)
        nwbfile.add_stimulus(
            TimeSeries(name=name, data=allocate(data.shape, data.dtype, gzip_level), **ts_kwargs)
        )
        fills[f"stimulus/presentation/{name}/data"] = _view(data)

    def write_file(tmp):
        with NWBHDF5IO(tmp, "w") as io:
            io.write(nwbfile)
        with h5py.File(tmp, "r+") as f:
            for where, source in fills.items():
                if f[where].chunks is not None:
                    fill(f[where], source, threads)

    return atomic_write(path, write_file, suffix=".nwb")


def _parameter_rows(model) -> list[tuple[str, str, np.ndarray, tuple, str]]:
    """``(path.name, class, flat float64 values, shape, unit)`` of every numeric constant
    of every module of ``model``."""
    modules = getattr(model, "modules", None)
    if not callable(modules):
        raise TypeError(
            f"nwb.write: model must be a neurodyn Module (the Network of the run); got "
            f"{type(model).__name__}."
        )
    rows = []
    for path, module in modules().items():
        for name, value in module.checkpoint_constants().items():
            unit = value.unit if isinstance(value, u.Quantity) else None
            try:
                arr = np.asarray(u.get_mantissa(value), dtype=np.float64)
            except (TypeError, ValueError):
                continue  # connectivity and other structures: not a parameter value
            key = f"{path}.{name}" if path else name
            rows.append((key, type(module).__name__, arr.reshape(-1), arr.shape, unit))
    return rows


def _add_parameters(nwbfile, model) -> None:
    from hdmf.common import DynamicTable, VectorData, VectorIndex

    rows = _parameter_rows(model)
    if not rows:
        return
    values = VectorData(
        name="value",
        description="The parameter's values, flattened (C order; see shape).",
        data=np.concatenate([r[2] for r in rows]),
    )
    table = DynamicTable(
        name="model_parameters",
        description="The parameters of the simulated neurodyn model, one row per parameter.",
        id=np.arange(len(rows)),
        columns=[
            VectorData(
                name="parameter",
                description="module path and parameter name",
                data=[r[0] for r in rows],
            ),
            VectorData(name="model", description="the module's class", data=[r[1] for r in rows]),
            values,
            VectorIndex(
                name="value_index",
                data=np.cumsum([r[2].size for r in rows]),
                target=values,
            ),
            VectorData(
                name="shape",
                description="the shape of the values, e.g. '(6,)'; '()' for one value",
                data=[str(tuple(r[3])) for r in rows],
            ),
            VectorData(
                name="unit",
                description="the neurodyn unit of the values ('1': no unit)",
                data=[r[4].name if r[4] is not None else "1" for r in rows],
            ),
        ],
    )
    # (in "misc": nwbinspector asks for the schema's module names)
    module = nwbfile.processing.get("misc") or nwbfile.create_processing_module(
        name="misc", description="Miscellaneous data: the simulated model (neurodyn)."
    )
    module.add(table)


def _read_parameters(nwbfile) -> dict:
    import ast

    module = nwbfile.processing.get("misc") if nwbfile.processing else None
    if module is None or "model_parameters" not in module.data_interfaces:
        return {}
    table = module["model_parameters"]
    out = {}
    for k in range(len(table)):
        values = np.asarray(table["value"][k], float)
        shape = ast.literal_eval(str(table["shape"][k]))
        values = values.reshape(shape)
        unit = str(table["unit"][k])
        out[str(table["parameter"][k])] = (
            values if unit == "1" else u.Quantity(values, u.unit(unit))
        )
    return out


def _run_start_ms(result, dt: float) -> float:
    """The start of the run in ms: ``timing["t_start_ms"]``, else one step before the
    first recorded time (``times[k]`` is the end of step ``k``)."""
    timing = result.timing if isinstance(result.timing, dict) else {}
    if "t_start_ms" in timing:
        return float(timing["t_start_ms"])
    if len(result.times) == 0:
        return 0.0
    return float(np.asarray(result.times[0].to_value(u.ms))) - dt


def _timing(times_s: np.ndarray) -> dict:
    """``starting_time`` and ``rate`` for times (seconds) on an even grid (within 1e-3 of
    a step: float32 times of a grid count as the grid), else ``timestamps``."""
    n = len(times_s)
    if n >= 2:
        step = (times_s[-1] - times_s[0]) / (n - 1)
        grid = times_s[0] + np.arange(n) * step
        if step > 0 and np.all(np.abs(times_s - grid) <= 1e-3 * step):
            return {"starting_time": float(times_s[0]), "rate": 1.0 / float(step)}
    return {"timestamps": times_s}


def _stimulus(name, stim, start_s: float, dt: float):
    """``(TimeSeries keyword arguments, data)`` of the stimulus ``stim`` (see
    :func:`write`)."""
    if "/" in name or ":" in name:
        raise ValueError(f"nwb.write: NWB names cannot hold '/' or ':'; rename stimulus {name!r}.")
    times = None
    if isinstance(stim, tuple):
        if len(stim) != 2:
            raise ValueError(
                f"nwb.write: stimuli[{name!r}] is a tuple of {len(stim)}; give (times, values) "
                "or the values alone (one row per step of the run)."
            )
        times, stim = stim
    unit = stim.unit if isinstance(stim, u.Quantity) else None
    try:
        data = np.asarray(u.get_mantissa(stim))
    except Exception as err:
        raise TypeError(
            f"nwb.write: stimuli[{name!r}] must be an array, a Quantity, (times, values) or a "
            f"pynwb.TimeSeries; got {type(stim).__name__}."
        ) from err
    if data.dtype == np.bool_:
        data = data.astype(np.uint8)
    if data.ndim == 0 or data.shape[0] == 0 or not np.issubdtype(data.dtype, np.number):
        raise ValueError(
            f"nwb.write: stimuli[{name!r}] must hold numbers with time on the first axis; got "
            f"shape {data.shape} and dtype {data.dtype}."
        )
    if times is None:
        times_s = start_s + np.arange(data.shape[0]) * (dt / 1e3)
        timing = {"starting_time": float(start_s), "rate": 1e3 / dt}
        when = "row k is the input during the step that starts at starting_time + k / rate"
    else:
        if not isinstance(times, u.Quantity) or times.unit.dim is not u.second.dim:
            raise u.UnitMismatchError(
                f"nwb.write: the times of stimuli[{name!r}] must be a time Quantity (e.g. "
                f"np.arange(n) * 0.1 * u.ms); got {type(times).__name__} "
                f"{getattr(times, 'unit', '')}."
            )
        times_s = np.asarray(times.to_value(u.second), float).reshape(-1)
        if times_s.shape[0] != data.shape[0]:
            raise ValueError(
                f"nwb.write: stimuli[{name!r}] has {times_s.shape[0]} times for "
                f"{data.shape[0]} rows of values; give one time per row."
            )
        if not np.all(np.isfinite(times_s)) or np.any(np.diff(times_s) <= 0):
            raise ValueError(
                f"nwb.write: the times of stimuli[{name!r}] must be finite and increasing."
            )
        timing = _timing(times_s)
        when = "row k is the value from its time on"
    word, conversion, offset = _si(unit)
    kwargs = {
        "description": f"The stimulus {name!r} of a neurodyn run ({when}).",
        "unit": word,
        "conversion": conversion,
        "offset": offset,
        "comments": _TAG + (unit.name if unit is not None else "1"),
        **timing,
    }
    return kwargs, data


def _unit_of(ts):
    comments = str(getattr(ts, "comments", "") or "")
    if comments.startswith(_TAG):
        name = comments[len(_TAG) :].strip()
        return None if name in ("1", "") else u.unit(name), 1.0, 0.0
    word = str(ts.unit)
    base = _SI.get(word)
    if base is None:
        try:
            base = u.unit(word)
        except Exception:
            base = None
    return base, float(ts.conversion), float(getattr(ts, "offset", 0.0) or 0.0)


def read(path) -> dict:
    """``{"spikes": {population: (t, node_ids)}, "series": {name: (t, values)},
    "stimuli": {name: (t, values)}, "parameters": {"E.tau": value}, "resolution": dt}``
    from an NWB file: spike times in ms sorted by time (as ``RunResult.spikes``), series
    (``acquisition``) and stimuli (``stimulus``) as Quantities in their neurodyn unit (or
    the file's SI unit), times in ms; the model's parameters (written with ``model=``)
    as Quantities of their shape."""
    require("pynwb", "neurodyn.io.nwb.read")
    path = os.fspath(path)
    with reading(path, "NWB"):
        with open_hdf5(path, "NWB", "neurodyn.io.nwb.read") as f:
            if "nwb_version" not in f.attrs:
                raise FileFormatError(
                    f"{path} is not an NWB file: its root has no nwb_version attribute (found "
                    f"{sorted(f)}); nothing was read."
                )
        return _read(path)


def _read(path) -> dict:
    from pynwb import NWBHDF5IO, TimeSeries

    out = {"spikes": {}, "series": {}, "stimuli": {}, "parameters": {}, "resolution": None}
    with NWBHDF5IO(path, "r") as io:
        nwbfile = io.read()
        units = nwbfile.units
        if units is not None and len(units) > 0:
            cols = set(units.colnames)
            res = getattr(units, "resolution", None)
            if res is not None and np.isfinite(res) and res > 0:
                out["resolution"] = (float(res) * u.second).to(u.ms)
            groups: dict[str, tuple[list, list]] = {}
            for row in range(len(units)):
                times = np.asarray(units.get_unit_spike_times(row), float) * 1e3
                pop = str(units["population"][row]) if "population" in cols else "units"
                nid = int(units["node_id"][row]) if "node_id" in cols else row
                ts, ids = groups.setdefault(pop, ([], []))
                ts.append(times)
                ids.append(np.full(times.shape, nid, np.int64))
            for pop, (ts, ids) in groups.items():
                t, i = np.concatenate(ts), np.concatenate(ids)
                order = np.lexsort((i, t))
                out["spikes"][pop] = (u.Quantity(t[order], u.ms), i[order])
        for group, key in ((nwbfile.acquisition, "series"), (nwbfile.stimulus, "stimuli")):
            for name, obj in group.items():
                if isinstance(obj, TimeSeries):
                    out[key][name] = _series(obj)
        out["parameters"] = _read_parameters(nwbfile)
    return out


def _series(obj):
    """``(t in ms, values with their unit)`` of a TimeSeries."""
    data = np.asarray(obj.data[()])
    unit, conversion, offset = _unit_of(obj)
    if obj.timestamps is not None:
        t = np.asarray(obj.timestamps[()], float) * 1e3
    else:
        t = (obj.starting_time + np.arange(data.shape[0]) / obj.rate) * 1e3
    values = data * conversion + offset if (conversion != 1.0 or offset) else data
    values = u.Quantity(values, unit) if unit is not None else values
    return u.Quantity(t, u.ms), values


def to_neo(result, monitors=None, populations: dict | None = None, name: str = "neurodyn run"):
    """``result.to_neo(...)``: see :meth:`neurodyn.dyn.RunResult.to_neo` (a ``neo.Block``
    with one SpikeTrain per neuron, grouped by population, and the sampled monitors as
    AnalogSignals)."""
    return result.to_neo(monitors=monitors, populations=populations, name=name)
