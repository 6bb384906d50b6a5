"""What the writers read from a :class:`~neurodyn.dyn.RunResult`: dt, the spike
monitors, and spike times on the dt grid in float64."""

from __future__ import annotations

import numpy as np

import neurodyn.units as u

__all__ = ["dt_ms", "spike_monitors", "grid_spikes"]


def dt_ms(result) -> float:
    """The run's step in ms (``timing["dt_ms"]``, else the spacing of ``times``)."""
    dt = result.timing.get("dt_ms") if isinstance(result.timing, dict) else None
    if dt:
        return float(dt)
    ms = np.asarray(result.times.to_value(u.ms), float)
    if len(ms) < 2:
        raise ValueError("The RunResult has one row and no dt in timing; cannot tell dt.")
    return float(ms[1] - ms[0])


def _is_record(v) -> bool:
    from neurodyn.dyn import SpikeRecord

    return isinstance(v, SpikeRecord)


def spike_monitors(result) -> list[str]:
    """The monitors of ``result`` that hold spikes: ``SpikeMonitor`` records, and boolean
    rasters recorded every step."""
    out = []
    for k, v in result.data.items():
        if _is_record(v):
            out.append(k)
            continue
        t = result.monitor_times.get(k, result.times)
        if np.asarray(u.get_mantissa(v)).dtype == np.bool_ and len(t) == len(result.times):
            out.append(k)
    return out


def grid_spikes(result, name: str, dt: float | None = None):
    """``(t_ms, i, t_start, t_stop, n)`` of the spike monitor ``name``: the spikes of
    ``result.spikes(name)`` with their times (start of the step, as Brian2) recomputed in
    float64 on the dt grid, the run's start and end (ms) and the number of neurons."""
    dt = dt_ms(result) if dt is None else dt
    rec = result[name]
    if _is_record(rec):
        if len(rec.shape) != 1:
            raise ValueError(
                f"Spike monitor {name!r} recorded a batched run (shape {rec.shape}); write one "
                "batch element."
            )
        timing = result.timing if isinstance(result.timing, dict) else {}
        if "t_stop_ms" not in timing:
            raise ValueError(f"{name!r}: the RunResult does not say when the run started.")
        steps = np.round(np.asarray(rec.t.to_value(u.ms), float) / dt)
        return (
            steps * dt,
            np.asarray(rec.i),
            timing["t_start_ms"],
            timing["t_stop_ms"],
            rec.shape[0],
        )
    raster = np.asarray(rec)
    if raster.ndim != 2:
        raise ValueError(
            f"Spike monitor {name!r} has shape {raster.shape}: a batched run; write one batch "
            "element (a RunResult whose monitors are [time, neuron])."
        )
    t, i = result.spikes(name)
    steps = np.round(np.asarray(t.to_value(u.ms), float) / dt)
    end0 = int(round(float(result.times[0].to_value(u.ms)) / dt))  # end of the first step
    t0, t1 = (end0 - 1) * dt, (end0 - 1 + len(raster)) * dt
    return steps * dt, np.asarray(i), t0, t1, raster.shape[1]
