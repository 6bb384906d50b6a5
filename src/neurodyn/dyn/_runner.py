"""The runner: one compiled loop over time steps, monitors, progress, continuation."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import PartitionSpec as P

import neurodyn.units as u
from neurodyn.event import record_spikes
from neurodyn.state import Memory, State, checkpoint, for_loop, jit, random
from neurodyn.state._state import current_trace

from . import _clock, _lanes
from . import _shard as _sh
from ._results import RunResult, SpikeRecord

__all__ = ["run", "Monitor", "SpikeMonitor", "RunResult", "SpikeRecord"]

_GUESS_HZ = 50.0  # the firing rate a SpikeMonitor's first buffers are sized for
_MAX_BUFFER = 1 << 23  # spikes per monitor and compiled segment before the run is split


@dataclass
class Monitor:
    """What to record: a State (or a function returning a value), optionally every
    ``every`` (a time) and only at ``index`` (e.g. ``slice(0, 100)``).

    A boolean (spike) State recorded with ``every`` longer than one step records the
    number of spikes in each interval, so no spike is lost. Recorded every step, it is a
    dense ``[steps, n]`` raster: use :class:`SpikeMonitor` to keep only the spikes.
    """

    target: Any  # a State, a view with .value, a "path.to.state" or a function
    every: Any = None
    index: Any = None


@dataclass
class SpikeMonitor:
    """Record every spike of a boolean State (a population's ``spike``) as (time, index)
    pairs, as Brian2's ``SpikeMonitor``: memory grows with the number of spikes, not with
    neurons x steps (a dense raster of 64k neurons over 1 s at 0.1 ms is 640 MB; its
    1.3 M spikes take 10 MB here). ``res[name]`` is a :class:`SpikeRecord`;
    ``res.spikes(name)`` gives ``(t, i)``.

    The spikes go into buffers inside the compiled loop (a native CPU kernel appends the
    spiking indices in place). ``capacity`` is their length per compiled segment
    (default: room for every neuron firing at 50 Hz, at most 2^23; a longer run is split
    into segments). A segment with more spikes is run again from its start with larger
    buffers, so no spike is ever lost. A SpikeMonitor records one simulation: inside
    ``nd.grad``, ``nd.jit`` or ``nd.vmap`` use :class:`Monitor` instead.
    """

    target: Any  # a boolean State, a view with .value or a "path.to.state"
    capacity: int | None = None


def _resolve(net, name, target, states):
    if isinstance(target, str):
        states = states if states is not None else net.states()
        if target not in states:
            raise KeyError(
                f"Monitor {name!r}: the network has no State {target!r}. Available: "
                f"{', '.join(sorted(states))}."
            )
        return states[target], states
    return target, states


def _resolve_monitors(net, monitors) -> tuple[dict[str, Monitor], dict[str, SpikeMonitor]]:
    out, spikes = {}, {}
    states = None
    for name, spec in (monitors or {}).items():
        if isinstance(spec, SpikeMonitor):
            target, states = _resolve(net, name, spec.target, states)
            if not _has_value(target) or getattr(target.value, "dtype", None) != jnp.bool_:
                raise TypeError(
                    f"SpikeMonitor {name!r}: expected a boolean (spike) State such as "
                    f"pop.spike, got {type(target).__name__} with dtype "
                    f"{getattr(getattr(target, 'value', None), 'dtype', None)}. Record other "
                    "values with Monitor(...)."
                )
            cap = spec.capacity
            if cap is not None and (not isinstance(cap, (int, np.integer)) or cap < 1):
                raise ValueError(
                    f"SpikeMonitor {name!r}: capacity must be a positive int, got {cap!r}."
                )
            spikes[name] = SpikeMonitor(target, cap)
            continue
        mon = spec if isinstance(spec, Monitor) else Monitor(spec)
        target, states = _resolve(net, name, mon.target, states)
        mon = Monitor(target, mon.every, mon.index)
        if not (_has_value(mon.target) or callable(mon.target)):
            raise TypeError(
                f"Monitor {name!r}: expected a State, a path or a function, "
                f"got {type(mon.target).__name__}."
            )
        out[name] = mon
    return out, spikes


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


def _divisor_at_most(n: int, k: int) -> int:
    """The largest divisor of ``n`` that is <= ``k`` (at least 1)."""
    k = max(1, min(k, n))
    while n % k:
        k -= 1
    return k


class _Compiled:
    """The compiled segment runner of one (network, dt, monitors, layout) combination.

    A segment is ``idx``: ``[blocks, chunks]`` chunk numbers counted from the run's
    first step ``start`` (an argument: a continued run reuses the program); a chunk is
    ``inner`` steps,
    after which the monitors are recorded (spike counts summed); a block of chunks is
    rematerialised in the backward pass when ``remat`` (``checkpoint_every``).
    """

    def __init__(
        self,
        net,
        dt,
        monitors,
        inner,
        spike_sum,
        spike_mons,
        capacity,
        remat,
        plan=None,
        streams=False,
        lanes=None,
    ):
        self.net, self.dt, self.monitors, self.inner = net, dt, monitors, inner
        self.capacity = dict(capacity)
        self.plan = plan
        n_dev = 1 if plan is None else plan.n_dev  # a sharded run: one buffer per device
        summed = [k for k in spike_sum if k in monitors]
        self._acc = {k: Memory(jnp.zeros(jnp.shape(_read(monitors[k])), jnp.int32)) for k in summed}
        self._rec = {
            k: (
                Memory(jnp.zeros(n_dev * self.capacity[k], jnp.int32)),
                Memory(jnp.zeros(n_dev * self.capacity[k], jnp.int32)),
                Memory(jnp.zeros(() if plan is None else (n_dev,), jnp.int32)),
            )
            for k in spike_mons
        }
        self.spike_mons = spike_mons

        def one_step(k):
            # k: the absolute step index (an integer, from the chunk indices given to the
            # compiled loop: no drift in t, and no State for the clock)
            t = k * self.dt
            with _clock.clock(dt=self.dt, t=t, i=k):
                if streams:  # a mesh of one device: the random streams of a split run
                    with random.element_streams(lambda n: jnp.arange(n)):
                        self.net.update()
                else:
                    self.net.update()
            for name, (idx, steps, count) in self._rec.items():
                spk = self.spike_mons[name].target.value
                c = count.value
                idx.value, steps.value, c_new = record_spikes(
                    spk, k, idx.value, steps.value, c.reshape(())
                )
                count.value = c_new.reshape(c.shape)

        def chunk(i):
            # `inner` steps from step i (absolute), recording the monitors at the end
            # (spike counts summed in loop-carried accumulators, not stacked per step
            # and summed afterwards)
            if self.inner == 1:
                one_step(i)
                return {k: _read(m) for k, m in self.monitors.items()}
            for k in summed:
                self._acc[k].value = jnp.zeros_like(self._acc[k].value)

            def sub(j):
                one_step(i + j)
                for k in summed:
                    acc = self._acc[k]
                    acc.value = acc.value + _read(self.monitors[k]).astype(jnp.int32)

            for_loop(sub, jnp.arange(self.inner))
            out = {k: _read(m) for k, m in self.monitors.items() if k not in summed}
            out.update({k: self._acc[k].value for k in summed})
            return out

        def block(row):
            return for_loop(chunk, row)

        block_fn = checkpoint(block) if remat else block

        def segment(start, idx):
            # idx: [blocks, chunks] chunk numbers from `start`, the run's first step
            out = for_loop(block_fn, start + idx * self.inner)  # [blocks, chunks, ...]
            return jax.tree_util.tree_map(lambda x: x.reshape(-1, *x.shape[2:]), out)

        if plan is not None:  # split over the devices of a mesh
            self.run_chunks = self._sharded(segment, plan, summed)
            return
        if lanes is not None:  # the whole loop on one block of lanes after another
            segment = _lane_blocks(segment, *lanes)
        # the connectivity and other closed-over arrays become arguments of the compiled
        # program, not constants embedded in it (compile time and memory at scale)
        self.run_chunks = jit(segment, hoist_constants=True)

    def _sharded(self, segment, plan, summed):
        for k in summed:
            if id(self.monitors[k].target) in plan.sharded:
                plan.sharded.add(id(self._acc[k]))
        for rec in self._rec.values():
            plan.sharded.update(id(s) for s in rec)
        extra = [*self._acc.values(), *(s for rec in self._rec.values() for s in rec)]
        states = plan.states(self.net, extra)

        def spec(k, m):
            target = self._acc[k] if k in summed else m.target
            return P(None, *plan.spec(target))

        out_specs = {k: spec(k, m) for k, m in self.monitors.items()}
        return plan.compile(segment, states, out_specs)

    def start_segment(self):
        for _, _, count in self._rec.values():
            count.value = jnp.zeros_like(count.value)

    def _host(self, x):
        return np.asarray(x if self.plan is None else self.plan.to_host(x))

    def overflowing(self) -> dict[str, int]:
        counts = {k: int(self._host(rec[2].value).max()) for k, rec in self._rec.items()}
        return {k: n for k, n in counts.items() if n > self.capacity[k]}

    def take_spikes(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        out = {}
        for k, (idx, steps, count) in self._rec.items():
            if self.plan is None:
                n = int(count.value)
                out[k] = (np.asarray(steps.value)[:n].copy(), np.asarray(idx.value)[:n].copy())
                continue
            # one buffer per device, local indices: to global ones, in (step, index) order
            cap, counts = self.capacity[k], self._host(count.value)
            st, ix = self._host(steps.value), self._host(idx.value)
            n_loc = int(np.prod(np.shape(self.spike_mons[k].target.value))) // self.plan.n_dev
            parts_s = [st[d * cap : d * cap + counts[d]] for d in range(len(counts))]
            parts_i = [ix[d * cap : d * cap + counts[d]] + d * n_loc for d in range(len(counts))]
            s_all, i_all = np.concatenate(parts_s), np.concatenate(parts_i)
            order = np.lexsort((i_all, s_all))
            out[k] = (s_all[order], i_all[order])
        return out


def _lane_blocks(segment, states, size: int, full: int):
    """``segment`` run on the lanes ``[0, size)``, then ``[size, 2 size)``, ...: every
    State in ``states`` (leading axis: the ``full`` lanes) is cut to the block while the
    block's loop runs, and the monitors' rows are put back together lane by lane."""

    def cut(tree, lo):
        return jax.tree_util.tree_map(lambda x: jax.lax.dynamic_slice_in_dim(x, lo, size), tree)

    def paste(tree, part, lo):
        return jax.tree_util.tree_map(
            lambda x, y: jax.lax.dynamic_update_slice_in_dim(x, y, lo, 0), tree, part
        )

    def blocked(start, idx):
        def one(j):
            lo = j * size
            whole = [s.value for s in states]
            for s, w in zip(states, whole):
                s._write(cut(w, lo))  # (a block-shaped value: no shape check against the batch)
            with _lanes.block(lo, size, full):
                out = segment(start, idx)
            for s, w in zip(states, whole):
                s._write(paste(w, s.value, lo))
            return out

        out = for_loop(one, jnp.arange(full // size))  # [blocks, rows, size, ...]
        return jax.tree_util.tree_map(
            lambda x: jnp.moveaxis(x, 0, 1).reshape(x.shape[1], full, *x.shape[3:]), out
        )

    return blocked


def _lane_plan(net, mons, smons, spike_sum, requested, in_transform, mesh):
    """``(States, lanes per block, batch)`` for a run in lane blocks, or None."""
    if requested is False:
        return None
    lane_states = getattr(net, "_lane_states", None)
    states = lane_states() if callable(lane_states) else None
    why = None
    if not states:
        why = "the network's lanes are not independent (only a batched D.Cell's are)"
    elif in_transform or mesh is not None:
        why = "it runs inside nd.grad / nd.jit / nd.vmap or over a mesh"
    elif smons or spike_sum:
        why = "it records spikes (SpikeMonitor or summed spike counts)"
    else:
        full = int(np.shape(jax.tree_util.tree_leaves(states[0].value)[0])[0])
        for k, m in mons.items():
            shape = np.shape(_read(m)) if _has_value(m.target) else ()
            if not shape or shape[0] != full:
                why = f"monitor {k!r} does not record lane by lane (shape {shape})"
                break
    if why is not None:
        if requested is not None:
            raise ValueError(
                f"nd.run: lane_block={requested!r} asks for a run in lane blocks, but {why}. "
                "Leave lane_block out for this run."
            )
        return None
    per_lane = (
        sum(x.size * x.dtype.itemsize for s in states for x in jax.tree_util.tree_leaves(s.value))
        / full
    )
    size = _lanes.choose_block(full, per_lane, requested)
    return None if size == full else (tuple(states), size, full)


def run(
    net,
    duration,
    dt,
    monitors: dict | None = None,
    progress: bool = False,
    n_segments: int | None = None,
    checkpoint_every=None,
    mesh=None,
    lane_block: int | bool | None = None,
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
        monitors: ``{name: State | "path.to.state" | Monitor(...) | SpikeMonitor(...)}``.
        progress: show a progress bar (tqdm if installed, else printed lines).
        n_segments: split the run into this many compiled calls (default 1, or 20
            with ``progress``).
        checkpoint_every: under ``nd.grad``, keep the network's state only every this
            much simulated time and recompute the steps in between in the backward pass
            (gradient checkpointing): memory O(duration / checkpoint_every + the
            monitors) instead of O(duration), for about one more forward pass. It must
            divide ``duration`` and be a multiple of every monitor's period.
        mesh: a 1-D ``jax.sharding.Mesh`` (e.g. ``jax.make_mesh((4,), ("neurons",))``):
            split every population over its devices, each projection stored with its
            postsynaptic neurons, spikes exchanged once per minimum-delay interval
            (NEST's scheme); the spikes are the same for every device count. Works over
            several processes too (``python -m neurodyn.launch -n 2 script.py``).
            Monitors come back whole, as for one device.
        lane_block: a batch of independent lanes (a batched ``D.Cell``) runs its whole
            loop on blocks of this many lanes, one block after another, so that a
            block's state stays in the processor's cache; the results are the same,
            lane by lane. By default the block is sized to about 2 MiB of State (a
            batch that fits runs whole); ``False`` turns blocks off; a number must
            divide the batch. Not inside transforms, over a mesh, or with spike
            recording (the batch runs whole there).

    Inside ``nd.grad`` (or another transform) the run is differentiable: Params read by
    the network (``nd.Param`` model parameters, ``Projection(trainable=True)`` weights)
    get gradients. There a run starts at the network's current step count and does not
    advance it (reset the network first, as ``nd.train.BPTT`` does).

    Returns:
        :class:`RunResult` with ``times`` and ``result[name]`` arrays ``[time, ...]``
        (a :class:`SpikeRecord` for a :class:`SpikeMonitor`).
    """
    dt = _clock._check_dt(dt)
    dt_ms = float(dt.to_value(u.ms))
    total = _steps(duration, dt_ms, "duration")
    mons, smons = _resolve_monitors(net, monitors)
    in_transform = current_trace() is not None
    host_index = {}
    if mesh is not None:
        if in_transform or checkpoint_every is not None:
            raise ValueError(
                "nd.run(mesh=...) runs one simulation split over devices; it cannot run "
                "inside nd.grad, nd.jit or nd.vmap, nor with checkpoint_every. Leave mesh out "
                "for differentiable runs."
            )
        split = _sharded_monitors(mons, smons)  # (refuses what a split run cannot record)
        if _sh._check_mesh(mesh)[1] > 1:  # (one device: the ordinary program records them)
            mons, smons, host_index = split
    if smons and in_transform:
        raise ValueError(
            f"SpikeMonitor {sorted(smons)[0]!r} cannot record inside nd.grad, nd.jit or "
            "nd.vmap (its buffers are sized and read between compiled segments). Record "
            "the spikes with Monitor(pop.spike) (a [steps, n] array, differentiable) or "
            "Monitor(pop.spike, every=...) (spike counts) instead."
        )
    if in_transform:
        _warn_hard_spikes(net)
    periods = {
        k: (1 if m.every is None else _steps(m.every, dt_ms, f"Monitor {k!r} every"))
        for k, m in mons.items()
    }
    want = n_segments or (20 if progress else 1)
    flags = {k: int(np.prod(np.shape(m.target.value))) for k, m in smons.items()}
    per_step = {k: max(n * _GUESS_HZ * dt_ms * 1e-3, 1e-3) for k, n in flags.items()}
    if smons and any(m.capacity is None for m in smons.values()):
        # split a long run so that the guessed spikes of a segment fit one buffer
        want = max(want, math.ceil(total * max(per_step.values()) / _MAX_BUFFER))
    inner = (
        math.gcd(*periods.values(), total) if periods else total // _divisor_at_most(total, want)
    )
    block = 1  # chunks per rematerialised block
    if checkpoint_every is not None:
        ck = _steps(checkpoint_every, dt_ms, "checkpoint_every")
        if total % ck:
            raise ValueError(
                f"checkpoint_every = {checkpoint_every} does not divide the duration "
                f"{duration} ({ck} and {total} steps). Choose a divisor of the duration."
            )
        bad = [k for k, p in periods.items() if ck % p]
        if bad:
            raise ValueError(
                f"checkpoint_every = {checkpoint_every} ({ck} steps) is not a multiple of "
                f"the recording period of monitor {bad[0]!r} ({periods[bad[0]]} steps)."
            )
        inner = math.gcd(inner, ck)
        block = ck // inner
    n_blocks = total // (inner * block)
    segments = _divisor_at_most(n_blocks, want)
    spike_sum = {
        k
        for k, m in mons.items()
        if periods[k] > 1
        and _has_value(m.target)
        and getattr(m.target.value, "dtype", None) == jnp.bool_
    }
    steps_per_segment = total // segments
    capacity = {
        k: int(
            m.capacity
            or min(
                max(4096, 1 << math.ceil(math.log2(1.5 * per_step[k] * steps_per_segment + 1))),
                _MAX_BUFFER,
            )
        )
        for k, m in smons.items()
    }
    if hasattr(net, "before_run"):
        net.before_run(dt)

    plan = None
    if mesh is not None:
        plan = _shard_plan(net, mesh, dt)  # (checks the network for every device count)
        if plan.n_dev == 1:
            # one device: the ordinary program, drawing from the per-neuron random streams
            # of a split run (so its spikes equal those on 2, 4, ... devices) without the
            # shard_map machinery
            plan = None
    streams = mesh is not None and plan is None

    lanes = _lane_plan(net, mons, smons, spike_sum, lane_block, in_transform, mesh)

    def build(capacity):
        return _Compiled(
            net, dt, mons, inner, spike_sum, smons, capacity, block > 1, plan, streams, lanes
        )

    cache = net.__dict__.setdefault("_nd_compiled", {})
    state_ids = tuple(id(s) for s in net.states().values())  # new States -> recompile
    # a parameter assigned since (net.pop.tau = ...): the old program holds the old value
    versions = tuple(m.version for m in net.modules().values()) if hasattr(net, "modules") else ()
    key = (
        dt_ms,
        tuple((k, id(m.target), periods[k], str(m.index)) for k, m in mons.items()),
        tuple((k, id(m.target), m.capacity) for k, m in smons.items()),
        inner,
        block,
        state_ids,
        None if mesh is None else (id(plan), streams),
        None if lanes is None else lanes[1],
        versions,
    )
    if in_transform:
        # inside nd.grad / nd.jit / ...: a fresh program each time, so that the States the
        # transform differentiates are the program's inputs (a program built while the
        # transform was probing which States are read would hold them as constants)
        compiled = build(capacity)
    else:
        compiled = cache.get(key)
        if compiled is None or any(compiled.capacity[k] < c for k, c in capacity.items()):
            # (a program of the same monitors for older parameter values is dropped)
            stale = [k for k in cache if k[:-1] == key[:-1] and k != key]
            for k in stale:
                del cache[k]
            compiled = cache[key] = build(capacity)
    per = n_blocks // segments
    start_step = _clock.run_clock(net).count
    if plan is not None and start_step == 0:
        plan.reset_exchange()  # (a run from t = 0: nothing in flight)
    t_start = start_step * dt_ms
    bar = _progress_bar(total, dt, progress)
    outs, spikes = [], {k: [] for k in smons}
    t0 = time.perf_counter()
    first_call = None
    for s in range(segments):
        idx = jnp.arange(s * per * block, (s + 1) * per * block).reshape(per, block)
        saved = [(st, st.value) for st in net.states().values()] if smons else ()
        while True:
            compiled.start_segment()
            out = compiled.run_chunks(jnp.int32(start_step), idx)
            if not any(isinstance(x, jax.core.Tracer) for x in jax.tree_util.tree_leaves(out)):
                jax.block_until_ready(out)  # (inside nd.grad / nd.jit there is nothing to wait for)
            over = compiled.overflowing() if smons else {}
            if not over:
                break
            # more spikes than buffer: rerun this segment from its start, with room
            for st, value in saved:
                st.value = value
            grown = dict(compiled.capacity)
            grown.update({k: 1 << math.ceil(math.log2(1.25 * n)) for k, n in over.items()})
            compiled = build(grown)
            if not in_transform:
                cache[key] = compiled
        for k, rec in compiled.take_spikes().items():
            spikes[k].append(rec)
        if plan is not None:
            out = plan.to_host(out)
        if first_call is None:
            first_call = time.perf_counter() - t0
        outs.append(out)
        if bar is not None:
            bar(per * block * inner)
    elapsed = time.perf_counter() - t0
    if not in_transform:
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
        if k in host_index:  # (a sharded run records whole States)
            data[k] = data[k][..., host_index[k]]
    for k, m in smons.items():
        steps = np.concatenate([s for s, _ in spikes[k]])
        flat = np.concatenate([i for _, i in spikes[k]])
        shape = tuple(np.shape(m.target.value))
        if k in host_index:  # a view of a population in a sharded run
            sl = host_index[k]
            keep = (flat >= sl.start) & (flat < sl.stop)
            steps, flat, shape = steps[keep], flat[keep] - sl.start, (sl.stop - sl.start,)
        i = flat if len(shape) == 1 else np.stack(np.unravel_index(flat, shape), axis=1)
        data[k] = SpikeRecord(t=steps * dt_ms * u.ms, i=i, shape=shape)
    n_rows = total // inner
    times = (t_start + dt_ms * inner * (np.arange(n_rows) + 1)) * u.ms
    mon_times = {k: times[periods[k] // inner - 1 :: periods[k] // inner] for k in mons}
    timing = {
        "run_s": elapsed,
        "first_segment_s": first_call,
        "segments": segments,
        "dt_ms": dt_ms,
        "t_start_ms": t_start,
        "t_stop_ms": t_start + total * dt_ms,
        "lane_block": None if lanes is None else lanes[1],
    }
    return RunResult(times=times, data=data, timing=timing, monitor_times=mon_times)


def _shard_plan(net, mesh, dt):
    """The network's split over ``mesh`` (kept with the network while nothing changes)."""
    versions = tuple(m.version for m in net.modules().values())
    state_ids = tuple(id(s) for s in net.states().values())
    key = (id(mesh), tuple(d.id for d in mesh.devices.flat), float(dt.to_value(u.ms)))
    cache = net.__dict__.setdefault("_nd_shard_plans", {})
    entry = cache.get(key)
    if entry is None or entry[0] != (versions, state_ids):
        entry = cache[key] = ((versions, state_ids), _sh.ShardPlan(net, mesh, dt))
    return entry[1]


def _sharded_monitors(mons, smons):
    """Monitors of a sharded run record whole States (views and ``index`` are applied on
    the host): ``(monitors, spike monitors, {name: index})``."""
    from ._base import _StateView

    out, sout, index = {}, {}, {}
    for k, m in mons.items():
        target, idx = m.target, m.index
        if isinstance(target, _StateView):
            if idx is not None:
                raise ValueError(
                    f"Monitor {k!r}: in a sharded run give index= on the population, not on "
                    "a view of it."
                )
            target, idx = getattr(target.parent, target.attr), target.index
        if not isinstance(target, State):
            raise TypeError(
                f"Monitor {k!r}: a sharded run (mesh=...) records States only; got "
                f"{type(target).__name__}. Record the State and compute on the result."
            )
        out[k] = Monitor(target, m.every, None)
        if idx is not None:
            index[k] = idx
    for k, m in smons.items():
        target = m.target
        if isinstance(target, _StateView):
            target, index[k] = getattr(target.parent, target.attr), target.index
        sout[k] = SpikeMonitor(target, m.capacity)
    return out, sout, index


def _under_grad() -> bool:
    trace = current_trace()
    while trace is not None:
        if trace.name.startswith(("grad(", "value_and_grad(")):
            return True
        trace = trace.parent
    return False


def _warn_hard_spikes(net) -> None:
    """Under nd.grad, say which populations spike through a hard threshold: no gradient
    flows through their spikes (only through their voltages and the weights)."""
    if not _under_grad():
        return
    import warnings

    from ._model import Model

    modules = net.modules() if hasattr(net, "modules") else {}
    hard = [
        getattr(m, "name", path) or path
        for path, m in modules.items()
        if isinstance(m, Model)
        and m.spiking
        and not getattr(getattr(m, "spike_fn", None), "differentiable", False)
    ]
    if hard:
        warnings.warn(
            f"nd.run under nd.grad: {', '.join(sorted(set(hard)))} spike through a hard "
            "threshold (a non-differentiable spike function), so no gradient flows through "
            "their spikes: anything downstream of a spike gets a zero gradient. To train "
            "through spikes, give spike_fn=nd.dyn.surrogate.Sigmoid() (or another surrogate) "
            "to these populations.",
            stacklevel=3,
        )


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
