"""Neurodata Without Borders (NWB) files of a run, and ``neo`` objects.

:func:`write` stores a :class:`~neurodyn.dyn.RunResult`: every boolean spike monitor
recorded each step goes to the NWB ``Units`` table (one row per neuron, spike times in
seconds on the ``dt`` grid, ``resolution = dt``, a ``population`` and a ``node_id``
column); every other monitor becomes a ``TimeSeries`` in ``acquisition`` whose ``unit``
is the SI unit (``"volts"``, ``"amperes"``, ...) and ``conversion`` the factor from the
stored numbers (the monitor's own unit, e.g. mV: ``1e-3``) to it; ``comments`` keep the
neurodyn unit so :func:`read` gives the Quantities back. The file passes pynwb's
validation; nwbinspector's best-practice checks also pass when the experiment's
metadata is given (``experimenter``, ``institution``, ``subject``: for a model, e.g. the
modelled species with ``sex="U"`` and an ``age``).

:func:`to_neo` builds a ``neo.Block`` (spike trains per neuron, grouped by population,
and analog signals) for Elephant and the other neo tools.

Example::

    from neurodyn.io import nwb
    nwb.write("run.nwb", res, experimenter="Doe, Jane", institution="Lab",
              subject={"species": "Mus musculus", "sex": "U", "age": "P90D"})
    t, i = nwb.read("run.nwb")["spikes"]["spike"]
    block = nwb.to_neo(res)                      # for Elephant
"""

from __future__ import annotations

import datetime
import os
import uuid

import numpy as np

import neurodyn.units as u

from ._optional import atomic_write, require
from ._runs import dt_ms as _dt_ms
from ._runs import grid_spikes as _grid
from ._runs import spike_monitors

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
    keywords=("simulation", "neurodyn", "computational model"),
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

    Returns:
        ``path``.
    """
    require("pynwb", "neurodyn.io.nwb.write")
    from hdmf.common import VectorData, VectorIndex
    from pynwb import NWBHDF5IO, NWBFile, TimeSeries
    from pynwb.file import Subject
    from pynwb.misc import Units

    names = list(result.data) if monitors is None else list(monitors)
    unknown = [m for m in names if m not in result.data]
    if unknown:
        raise KeyError(f"nwb.write: no monitor {unknown}; recorded: {sorted(result.data)}.")
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
    if spiking:
        # the whole table as arrays (adding units one by one makes hdmf convert every
        # spike time on its own when writing: 30 s for 1.7 M spikes)
        times, counts, pops, ids = [], [], [], []
        for m in spiking:
            t_ms, idx, _, _, n = _grid(result, m, dt)
            order = np.lexsort((t_ms, idx))  # by neuron, then time
            times.append(t_ms[order] / 1e3)
            counts.append(np.bincount(idx, minlength=n))
            pops += [str(populations.get(m, m))] * n
            ids.append(np.arange(n))
        spike_times = VectorData(
            name="spike_times", description="Spike times (s).", data=np.concatenate(times)
        )
        units = Units(
            name="units",
            description="Spikes of the simulated neurons; a spike is stamped with the start "
            "of the step in which the threshold was crossed.",
            resolution=dt / 1e3,
            id=np.arange(len(pops)),
            columns=[
                spike_times,
                VectorIndex(
                    name="spike_times_index",
                    data=np.cumsum(np.concatenate(counts)),
                    target=spike_times,
                ),
                VectorData(
                    name="population",
                    description="The population (monitor) of the neuron.",
                    data=pops,
                ),
                VectorData(
                    name="node_id",
                    description="The index of the neuron in its population.",
                    data=np.concatenate(ids),
                ),
            ],
        )
        nwbfile.units = units
    for m in names:
        if m in spiking:
            continue
        value = result.data[m]
        unit = value.unit if isinstance(value, u.Quantity) else None
        data = np.asarray(u.get_mantissa(value))
        if data.dtype == np.bool_:
            data = data.astype(np.uint8)
        word, conversion, offset = _si(unit)
        t = np.asarray(result.monitor_times.get(m, result.times).to_value(u.ms), float)
        steps = np.round(t / dt)
        timing = {"timestamps": steps * dt / 1e3}
        if len(t) >= 2 and np.all(np.diff(steps) == steps[1] - steps[0]):
            timing = {
                "starting_time": steps[0] * dt / 1e3,
                "rate": 1e3 / ((steps[1] - steps[0]) * dt),
            }
        nwbfile.add_acquisition(
            TimeSeries(
                name=m,
                description=f"The monitor {m!r} of a neurodyn run, sampled at the end of steps.",
                data=data,
                unit=word,
                conversion=conversion,
                offset=offset,
                comments=_TAG + (unit.name if unit is not None else "1"),
                **timing,
            )
        )

    def write_file(tmp):
        with NWBHDF5IO(tmp, "w") as io:
            io.write(nwbfile)

    return atomic_write(path, write_file, suffix=".nwb")


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
    "resolution": dt}`` from an NWB file: spike times in ms sorted by time (as
    ``RunResult.spikes``), series values as Quantities in their neurodyn unit (or the
    file's SI unit), times in ms."""
    require("pynwb", "neurodyn.io.nwb.read")
    from pynwb import NWBHDF5IO, TimeSeries

    out = {"spikes": {}, "series": {}, "resolution": None}
    with NWBHDF5IO(os.fspath(path), "r") as io:
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
        for name, obj in nwbfile.acquisition.items():
            if not isinstance(obj, TimeSeries):
                continue
            data = np.asarray(obj.data[()])
            unit, conversion, offset = _unit_of(obj)
            if obj.timestamps is not None:
                t = np.asarray(obj.timestamps[()], float) * 1e3
            else:
                t = (obj.starting_time + np.arange(data.shape[0]) / obj.rate) * 1e3
            values = data * conversion + offset if (conversion != 1.0 or offset) else data
            values = u.Quantity(values, unit) if unit is not None else values
            out["series"][name] = (u.Quantity(t, u.ms), values)
    return out


def _pq_units(unit, pq):
    if unit is None or unit.is_dimensionless:
        return pq.dimensionless, 1.0
    try:
        return pq.Quantity(1.0, unit.name).units, 1.0
    except Exception:
        word, conversion, _ = _si(unit)
        si = _SI.get(word)
        return (pq.Quantity(1.0, si.name).units, conversion) if si else (pq.dimensionless, 1.0)


def to_neo(result, monitors=None, populations: dict | None = None, name: str = "neurodyn run"):
    """A ``neo.Block`` of ``result``: one Segment; every spike monitor gives one
    ``SpikeTrain`` per neuron (times in ms on the dt grid, ``t_start`` / ``t_stop`` the
    run's start and end, annotated with ``population`` and ``node_id``) and a ``Group``
    per population; every other monitor an ``AnalogSignal`` in its unit."""
    neo = require("neo", "neurodyn.io.nwb.to_neo")
    pq = require("quantities", "neurodyn.io.nwb.to_neo")
    names = list(result.data) if monitors is None else list(monitors)
    populations = dict(populations or {})
    dt = _dt_ms(result)
    block = neo.Block(name=name)
    seg = neo.Segment(name="run")
    block.segments.append(seg)
    spiking = set(spike_monitors(result))
    for m in names:
        value = result.data[m]
        if m in spiking:
            t_ms, idx, t0, t1, n = _grid(result, m, dt)
            pop = str(populations.get(m, m))
            group = neo.Group(name=pop)
            for k in range(n):
                st = neo.SpikeTrain(
                    np.sort(t_ms[idx == k]) * pq.ms,
                    t_start=t0 * pq.ms,
                    t_stop=t1 * pq.ms,
                    name=f"{pop}[{k}]",
                    population=pop,
                    node_id=k,
                )
                seg.spiketrains.append(st)
                group.add(st)
            block.groups.append(group)
            continue
        unit = value.unit if isinstance(value, u.Quantity) else None
        data = np.asarray(u.get_mantissa(value), float)
        units, factor = _pq_units(unit, pq)
        t = np.asarray(result.monitor_times.get(m, result.times).to_value(u.ms), float)
        steps = np.round(t / dt)
        period = (steps[1] - steps[0]) * dt if len(steps) > 1 else dt
        sig = neo.AnalogSignal(
            data.reshape(data.shape[0], -1) * factor,
            units=units,
            sampling_period=period * pq.ms,
            t_start=steps[0] * dt * pq.ms,
            name=m,
        )
        seg.analogsignals.append(sig)
    return block
