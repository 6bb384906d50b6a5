"""The runner: one compiled loop over time steps, monitors, progress, continuation."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import neurodyn.units as u
from neurodyn.state import Memory, State, for_loop, jit
from neurodyn.state._state import current_trace

from . import _clock

__all__ = ["run", "Monitor", "RunResult"]


@dataclass
class Monitor:
    """What to record: a State (or a function returning a value), optionally every
    ``every`` (a time) and only at ``index`` (e.g. ``slice(0, 100)``).

    A boolean (spike) State recorded with ``every`` longer than one step records the
    number of spikes in each interval, so no spike is lost.
    """

    target: Any  # a State, a view with .value, a "path.to.state" or a function
    every: Any = None
    index: Any = None


@dataclass(repr=False)
class RunResult:
    """Times and recorded values (Quantities keep their units), stacked over time.

    ``times[k]`` is the end of the step after which row ``k`` was recorded: a state
    recorded at ``times[k]`` is its value at that time (Brian2's StateMonitor value at
    the next time point). Spikes keep Brian2's convention: :meth:`spikes` stamps a spike
    with the *start* of the step in which the threshold was crossed.
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
            unit = f" {v.unit.name}" if isinstance(v, u.Quantity) else ""
            dtype = np.asarray(u.get_mantissa(v)).dtype
            parts.append(f"{k}: {tuple(np.shape(u.get_mantissa(v)))} {dtype}{unit}")
        return f"RunResult({span}; " + ", ".join(parts) + ")"

    def spike_trains(self, name: str) -> list:
        """One array of spike times (a time Quantity, start-of-step stamps as in
        :meth:`spikes`) per neuron of the unbatched spike monitor ``name``."""
        t, i = self.spikes(name)
        if np.ndim(i) != 1:
            raise ValueError(
                f"RunResult.spike_trains: {name!r} was recorded from a batched run; take one "
                "batch element first (res.spikes(name) gives (batch, neuron) pairs)."
            )
        n = np.shape(self.data[name])[-1]
        ms = np.asarray(t.to_value(u.ms))
        return [ms[i == k] * u.ms for k in range(n)]

    def to_numpy(self) -> dict:
        """``{name: numpy array}`` of the times (``"times"``, in ms) and every monitor, each
        in its own unit (``units()`` names them)."""
        out = {"times": np.asarray(self.times.to_value(u.ms))}
        for k, v in self.data.items():
            out[k] = np.asarray(u.get_mantissa(v))
        return out

    def units(self) -> dict:
        """``{name: unit name}`` for the arrays of :meth:`to_numpy` ("" for plain ones)."""
        out = {"times": "ms"}
        for k, v in self.data.items():
            out[k] = v.unit.name if isinstance(v, u.Quantity) else ""
        return out

    def save(self, path) -> None:
        """Write the times and monitors to a ``.npz`` file, units as metadata; read it
        back with :meth:`RunResult.load`. The file is written to a temporary name first,
        so a failed save leaves no half-written file."""
        import json
        import os
        import tempfile

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
        import json

        with np.load(path) as f:
            meta = json.loads(str(f["__meta__"]))
            arrays = {k: f[k] for k in f.files if k != "__meta__"}
        units = meta["units"]

        def q(name):
            return arrays[name] * u.unit(units[name]) if units[name] else arrays[name]

        times = q("times")
        data = {k: q(k) for k in arrays if k != "times"}
        mon_times = {k: times[step - 1 :: step] for k, step in meta["monitor_times_step"].items()}
        return cls(times=times, data=data, timing=meta["timing"], monitor_times=mon_times)

    def spikes(self, name: str):
        """``(t, i)``: the spike times and neuron indices of the boolean (spike) monitor
        ``name`` recorded every step, sorted by time, as Brian2's ``SpikeMonitor``: a
        spike is stamped with the start of the step in which the threshold was crossed
        (``times[k] - dt``). For a batched run ``i`` is ``(batch, neuron)`` pairs."""
        raster = np.asarray(self[name])
        t_rec = self.monitor_times.get(name, self.times)
        if raster.dtype != np.bool_ or len(t_rec) != len(self.times):
            raise ValueError(
                f"RunResult.spikes: {name!r} must be a spike (boolean) State recorded every "
                "step (Monitor without every=)."
            )
        ms = np.asarray(t_rec.to_value(u.ms))
        dt = ms[1] - ms[0] if len(ms) > 1 else float(self.timing.get("dt_ms", ms[0]))
        hits = np.argwhere(raster)
        t = (ms[hits[:, 0]] - dt) * u.ms
        i = hits[:, 1] if raster.ndim == 2 else hits[:, 1:]
        return t, i


def _resolve_monitors(net, monitors) -> dict[str, Monitor]:
    out = {}
    states = None
    for name, spec in (monitors or {}).items():
        mon = spec if isinstance(spec, Monitor) else Monitor(spec)
        if isinstance(mon.target, str):
            states = states if states is not None else net.states()
            key = mon.target
            if key not in states:
                raise KeyError(
                    f"Monitor {name!r}: the network has no State {key!r}. Available: "
                    f"{', '.join(sorted(states))}."
                )
            mon = Monitor(states[key], mon.every, mon.index)
        if not (_has_value(mon.target) or callable(mon.target)):
            raise TypeError(
                f"Monitor {name!r}: expected a State, a path or a function, "
                f"got {type(mon.target).__name__}."
            )
        out[name] = mon
    return out


def _steps(x, dt_ms: float, what: str) -> int:
    if not isinstance(x, u.Quantity) or x.unit.dim is not u.second.dim:
        raise u.UnitMismatchError(f"{what} must be a time (e.g. 100 * u.ms), got {x!r}.")
    steps = float(x.to_value(u.ms)) / dt_ms
    n = int(round(steps))
    if abs(n - steps) > 1e-6 * max(1.0, steps) or n <= 0:
        raise ValueError(
            f"{what} = {x} is not a positive whole number of steps of dt = {dt_ms} ms "
            f"({steps:.6g} steps). Choose a multiple of dt."
        )
    return n


def _has_value(x) -> bool:
    return isinstance(x, State) or (hasattr(type(x), "value") and not callable(x))


def _read(mon: Monitor):
    v = mon.target.value if _has_value(mon.target) else mon.target()
    if mon.index is not None:
        v = v[..., mon.index]
    return v


class _Compiled:
    """The compiled chunk runner of one (network, dt, monitors) combination."""

    def __init__(self, net, dt, monitors: dict[str, Monitor], inner: int, spike_sum: dict):
        self.net, self.dt, self.monitors, self.inner, self.spike_sum = (
            net,
            dt,
            monitors,
            inner,
            spike_sum,
        )

        def one_step(k):
            # k: the absolute step index (an integer, from the chunk indices given to the
            # compiled loop: no drift in t, and no State for the clock)
            t = k * self.dt
            with _clock.clock(dt=self.dt, t=t, i=k):
                self.net.update()

        # spike counts are summed in loop-carried accumulators (not stacked per step
        # and summed afterwards: that would hold [inner, n] booleans per chunk)
        summed = [k for k in self.spike_sum if k in self.monitors]
        self._acc = {
            k: Memory(jnp.zeros(jnp.shape(_read(self.monitors[k])), jnp.int32)) for k in summed
        }

        def chunk(i):
            # `inner` steps, recording the monitors at the end (spike counts summed)
            if self.inner == 1:
                one_step(i)
                return {k: _read(m) for k, m in self.monitors.items()}

            for k in summed:
                self._acc[k].value = jnp.zeros_like(self._acc[k].value)

            def sub(j):
                one_step(i * self.inner + j)
                for k in summed:
                    acc = self._acc[k]
                    acc.value = acc.value + _read(self.monitors[k]).astype(jnp.int32)

            for_loop(sub, jnp.arange(self.inner))
            out = {k: _read(m) for k, m in self.monitors.items() if k not in summed}
            out.update({k: self._acc[k].value for k in summed})
            return out

        # the connectivity and other closed-over arrays become arguments of the compiled
        # program, not constants embedded in it (compile time and memory at scale)
        self.run_chunks = jit(lambda idx: for_loop(chunk, idx), hoist_constants=True)


def run(
    net,
    duration,
    dt,
    monitors: dict | None = None,
    progress: bool = False,
    n_segments: int | None = None,
) -> RunResult:
    """Simulate ``net`` for ``duration`` with time step ``dt``.

    The whole loop is one compiled ``for_loop`` (no Python per step). A second call
    with the same network, dt and monitors continues from where the first stopped,
    reusing the compiled program. With ``progress=True`` the run is split into
    segments (the same compiled program each) and a tqdm bar advances between them.

    Args:
        net: a Module with ``update()`` (a :class:`~neurodyn.dyn.Network`).
        duration: simulated time (a multiple of ``dt``).
        dt: the time step.
        monitors: ``{name: State | "path.to.state" | Monitor(...)}``.
        progress: show a progress bar (tqdm if installed, else printed lines).
        n_segments: split the run into this many compiled calls (default 1, or 20
            with ``progress``).

    Inside ``nd.grad`` (or another transform) the run is differentiable: Params read by
    the network (``nd.Param`` model parameters, ``Projection(trainable=True)`` weights)
    get gradients. There a run starts at the network's current step count and does not
    advance it (reset the network first, as ``nd.train.BPTT`` does).

    Returns:
        :class:`RunResult` with ``times`` and ``result[name]`` arrays ``[time, ...]``.
    """
    dt = _clock._check_dt(dt)
    dt_ms = float(dt.to_value(u.ms))
    total = _steps(duration, dt_ms, "duration")
    mons = _resolve_monitors(net, monitors)
    periods = {
        k: (1 if m.every is None else _steps(m.every, dt_ms, f"Monitor {k!r} every"))
        for k, m in mons.items()
    }
    inner = math.gcd(*periods.values()) if periods else total
    inner = math.gcd(inner, total)
    spike_sum = {
        k
        for k, m in mons.items()
        if periods[k] > 1
        and _has_value(m.target)
        and getattr(m.target.value, "dtype", None) == jnp.bool_
    }
    if hasattr(net, "before_run"):
        net.before_run(dt)
    cache = net.__dict__.setdefault("_nd_compiled", {})
    state_ids = tuple(id(s) for s in net.states().values())  # new States -> recompile
    key = (
        float(dt.to_value(u.ms)),
        tuple((k, id(m.target), periods[k], str(m.index)) for k, m in mons.items()),
        inner,
        state_ids,
    )
    if current_trace() is not None:
        # inside nd.grad / nd.jit / ...: a fresh program each time, so that the States the
        # transform differentiates are the program's inputs (a program built while the
        # transform was probing which States are read would hold them as constants)
        compiled = _Compiled(net, dt, mons, inner, spike_sum)
    else:
        compiled = cache.get(key)
        if compiled is None:
            compiled = cache[key] = _Compiled(net, dt, mons, inner, spike_sum)
    n_chunks = total // inner
    segments = n_segments or (20 if progress else 1)
    segments = max(1, min(segments, n_chunks))
    while n_chunks % segments:
        segments -= 1
    per = n_chunks // segments
    start_step = _clock.run_clock(net).count
    t_start = start_step * dt_ms
    bar = _progress_bar(total, dt, progress)
    outs = []
    t0 = time.perf_counter()
    first_call = None
    start_chunk = start_step // inner
    for s in range(segments):
        idx = jnp.arange(start_chunk + s * per, start_chunk + (s + 1) * per)
        out = compiled.run_chunks(idx)
        if not any(isinstance(x, jax.core.Tracer) for x in jax.tree_util.tree_leaves(out)):
            jax.block_until_ready(out)  # (inside nd.grad / nd.jit there is nothing to wait for)
        if first_call is None:
            first_call = time.perf_counter() - t0
        outs.append(out)
        if bar is not None:
            bar(per * inner)
    elapsed = time.perf_counter() - t0
    if current_trace() is None:
        # (inside a transform the function is traced more than once — e.g. nd.grad probes
        # which States it reads — so a run there starts at the current count and leaves it)
        _clock.run_clock(net).count = start_step + total
    if bar is not None:
        bar(0, close=True)
    data = {}
    for k in mons:
        parts = [o[k] for o in outs]
        merged = (
            u.math.concatenate(parts)
            if isinstance(parts[0], u.Quantity)
            else jnp.concatenate(parts)
        )
        step = periods[k] // inner
        if k in spike_sum:  # spike counts per recording interval
            merged = merged.astype(jnp.int32)
            data[k] = merged.reshape(-1, step, *merged.shape[1:]).sum(axis=1)
        else:
            data[k] = merged[step - 1 :: step] if step > 1 else merged
    times = (t_start + dt_ms * inner * (np.arange(n_chunks) + 1)) * u.ms
    mon_times = {k: times[periods[k] // inner - 1 :: periods[k] // inner] for k in mons}
    timing = {
        "run_s": elapsed,
        "first_segment_s": first_call,
        "segments": segments,
        "dt_ms": dt_ms,
    }
    return RunResult(times=times, data=data, timing=timing, monitor_times=mon_times)


def _progress_bar(total: int, dt, enabled: bool):
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        state = {"done": 0}

        def printer(n, close=False):
            state["done"] += n
            if close or n:
                print(f"  {state['done']}/{total} steps ({100 * state['done'] / total:.0f}%)")

        return printer
    bar = tqdm(total=total, unit="step", desc=f"nd.run dt={dt}")

    def update(n, close=False):
        if close:
            bar.close()
        else:
            bar.update(n)

    return update
