"""What the writers read from a :class:`~neurodyn.dyn.RunResult`: dt, the spike
monitors, and spike steps / times on the dt grid. The one implementation lives with
RunResult (``neurodyn.dyn._results``, which ``RunResult.to_neo`` uses too)."""

from __future__ import annotations

from neurodyn.dyn._results import _dt_ms, _spike_monitor_names, _spike_steps

__all__ = ["dt_ms", "spike_monitors", "spike_steps", "grid_spikes"]


def dt_ms(result) -> float:
    """The run's step in ms (``timing["dt_ms"]``, else the spacing of ``times``)."""
    return _dt_ms(result)


def spike_monitors(result) -> list[str]:
    """The monitors of ``result`` that hold spikes: ``SpikeMonitor`` records, and boolean
    rasters recorded every step."""
    return _spike_monitor_names(result)


def spike_steps(result, name: str, dt: float | None = None):
    """``(steps, i, start, stop, n)``: the step (int64) of each spike of the monitor
    ``name`` (sorted by time), its neuron, the run's first and one-past-last step and the
    number of neurons."""
    return _spike_steps(result, name, dt_ms(result) if dt is None else dt)


def grid_spikes(result, name: str, dt: float | None = None):
    """``(t_ms, i, t_start, t_stop, n)`` of the spike monitor ``name``: spike times (the
    start of the step, as Brian2) in float64 on the dt grid, the run's start and end
    (ms) and the number of neurons."""
    dt = dt_ms(result) if dt is None else dt
    steps, i, start, stop, n = _spike_steps(result, name, dt)
    return steps * dt, i, start * dt, stop * dt, n
