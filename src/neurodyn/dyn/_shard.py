"""One network over the devices of a ``jax.sharding.Mesh``: ``nd.run(..., mesh=mesh)``.

The scheme is NEST's (Morrison et al. 2005; Jordan et al. 2018), on JAX's own runtime
(``shard_map``; gloo between CPU processes, NCCL between GPUs):

- every population is split over the mesh axis into equal blocks of neurons; each
  device integrates its own block;
- each projection is stored on the postsynaptic side: a device holds, for every
  presynaptic neuron, the synapses onto its own block of postsynaptic neurons (the
  rows of the CSR restricted to its columns, in the same order, so every sum adds the
  same terms in the same order whatever the device count);
- spikes travel between devices once per minimum-delay interval of ``L`` steps: each
  device writes its neurons' spikes of the interval into a local outbox, and after the
  threshold test of the interval's last step one ``all_gather`` of the bit-packed
  outboxes of every population fills a replicated spike history of ``max delay + L``
  steps, from which each projection reads the spikes that arrive now. A spike emitted
  in step ``k`` with delay ``d >= L`` steps is needed in step ``k + d``, after the
  exchange of its interval. With zero delays (``L = 1``) the exchange happens in every
  step, between the threshold and the synaptic effects (Brian2's order kept);
- random numbers come from per-neuron streams (the key of each draw folded with the
  global neuron index), so 1, 2 or 8 devices draw the same numbers.

Every device builds the whole network (same seed, same network), then keeps its part:
simple and exact, though the build itself is not distributed.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

import neurodyn.units as u
from neurodyn.event import CSR, Connectivity, Dense, FixedFanOut, JitProb
from neurodyn.state import Memory, State, random
from neurodyn.state._core import run_pure

from . import _clock

__all__ = ["ShardPlan", "current", "local"]

_ACTIVE: list = []

#: An upper bound on the steps between spike exchanges (None: the minimum delay). For
#: benchmarks that compare with an exchange in every step (1); any value gives the same
#: spikes.
MAX_BLOCK_STEPS: int | None = None


def current():
    """The shard context of the step being traced, or None outside a sharded run."""
    return _ACTIVE[-1] if _ACTIVE else None


def local(owner, value):
    """``value`` (a per-neuron array of ``owner``, or a scalar) for this device's block
    of neurons inside a sharded run; unchanged elsewhere."""
    ctx = current()
    return value if ctx is None else ctx.local(owner, value)


def _supported() -> str:
    return (
        "neuron populations (LIF, AdEx, HH, NeuronGroup... and views of them), "
        "PoissonGroup, Projection (CSR, FixedProb, FixedFanOut, Dense or JitProb "
        "connectivity; homogeneous or per-synapse delays; STP; STDP; any synapse and "
        "output) and PoissonInput"
    )


def _check_mesh(mesh):
    if not isinstance(mesh, jax.sharding.Mesh):
        raise TypeError(
            f"nd.run(mesh=...): expected a jax.sharding.Mesh, e.g. "
            f"jax.make_mesh(({jax.device_count()},), ('neurons',)); got {type(mesh).__name__}."
        )
    if len(mesh.axis_names) != 1:
        raise ValueError(
            f"nd.run(mesh=...): the network is split over one mesh axis (its neurons); got "
            f"a mesh with axes {mesh.axis_names} of shape {dict(mesh.shape)}. Use a 1-D mesh "
            f"such as jax.make_mesh(({mesh.size},), ('neurons',))."
        )
    return mesh.axis_names[0], int(mesh.size)


def _split_csr(conn: CSR, n_dev: int):
    """Per device: the synapses onto its block of columns, rows and order kept; arrays
    stacked ``[n_dev, ...]`` and padded to the longest (padding is never visited: it
    lies beyond ``indptr[-1]``)."""
    n_pre, n_post = conn.shape
    nl = n_post // n_dev
    indices = np.asarray(conn.indices)
    indptr = np.asarray(conn.indptr)
    rows = np.repeat(np.arange(n_pre, dtype=np.int32), np.diff(indptr))
    m, unit = _split(conn.data)
    homo = np.ndim(m) == 0
    data = None if homo else np.asarray(m)
    shard = indices // nl
    parts, kept = [], []
    for s in range(n_dev):
        keep = shard == s
        ind = indices[keep] - s * nl
        ptr = np.concatenate([[0], np.cumsum(np.bincount(rows[keep], minlength=n_pre))])
        parts.append((ind.astype(np.int32), ptr.astype(np.int32), None if homo else data[keep]))
        kept.append(np.flatnonzero(keep))
    width = max(1, max(len(p[0]) for p in parts))
    ind = np.zeros((n_dev, width), np.int32)
    ptr = np.stack([p[1] for p in parts])
    dat = None if homo else np.zeros((n_dev, width), data.dtype)
    for s, (i, _, d) in enumerate(parts):
        ind[s, : len(i)] = i
        if dat is not None:
            dat[s, : len(i)] = d
    max_row = int(np.diff(ptr, axis=1).max()) if n_pre else 0
    meta = (homo, m if homo else None, unit, max_row, kept, width)
    return {"indices": ind, "indptr": ptr, "data": dat}, meta


def _csc_parts(arrays, kept, n_post_local: int):
    """Per device, the column view (``event.csc_view``) of its part, padded as the CSR."""
    n_dev, width = arrays["indices"].shape
    colptr = np.zeros((n_dev, n_post_local + 1), np.int32)
    perm = np.zeros((n_dev, width), np.int32)
    rows = np.zeros((n_dev, width), np.int32)
    for s in range(n_dev):
        n = len(kept[s])
        ind = arrays["indices"][s, :n]
        r = np.repeat(
            np.arange(arrays["indptr"].shape[1] - 1, dtype=np.int32), np.diff(arrays["indptr"][s])
        )
        order = np.argsort(ind, kind="stable").astype(np.int32)
        colptr[s] = np.concatenate([[0], np.cumsum(np.bincount(ind, minlength=n_post_local))])
        perm[s, :n] = order
        rows[s, :n] = r[order]
    return {"colptr": colptr, "perm": perm, "rows": rows}


def _as_csr(conn: Connectivity) -> CSR:
    if isinstance(conn, CSR):
        return conn
    if isinstance(conn, JitProb):
        return conn.to_csr()  # the same matrix, generated from the same seed
    if isinstance(conn, FixedFanOut):
        idx = np.asarray(conn.indices)
        m, unit = _split(conn.weights)
        n_pre, k = idx.shape
        data = jnp.asarray(m) if np.ndim(m) == 0 else jnp.asarray(np.asarray(m).reshape(-1))
        data = data if unit is None else u.Quantity(data, unit)
        ptr = np.arange(0, n_pre * k + 1, k, dtype=np.int32)
        return CSR(data, idx.reshape(-1), ptr, conn.shape)
    raise TypeError(f"unsupported connectivity {type(conn).__name__}")


def _split(x):
    return (x.mantissa, x.unit) if isinstance(x, u.Quantity) else (x, None)


class _LocalConn:
    """How one projection's connectivity is split: host arrays ``[n_dev, ...]`` and the
    rule that rebuilds the device's own connectivity from its slices."""

    def __init__(self, conn: Connectivity, n_dev: int):
        self.shape = conn.shape
        self.nl = conn.shape[1] // n_dev
        self.n_dev = n_dev
        self.procedural = None
        if isinstance(conn, JitProb):
            self._procedural(conn)
            return
        if isinstance(conn, Dense):
            m, unit = _split(conn.weights)
            self.kind, self.unit = "dense", unit
            self.arrays = {"w": np.asarray(m)}
            self.specs = None  # filled by the plan: P(None, axis)
            return
        arrays, meta = _split_csr(_as_csr(conn), n_dev)
        homo, w, unit, max_row, self.kept, self.width = meta
        self.kind, self.unit, self.homo, self.w, self.max_row = "csr", unit, homo, w, max_row
        self.arrays = {k: v for k, v in arrays.items() if v is not None}
        self.csc = None

    def _procedural(self, conn: JitProb) -> None:
        """Procedural connectivity: each device's part is generated from the seed when it
        is placed (only the parts of this process's devices), never the whole matrix."""
        self.kind, self.unit, self.procedural = "csr", conn.unit, conn
        self.homo = conn.dist == "homo"
        self.w = np.asarray(conn.w0, np.dtype(conn._dtype())) if self.homo else None
        self.max_row = conn.bound  # a bound on any row, so on any row's part
        mean = conn.n_pre * self.nl * conn.p
        self.width = int(np.ceil(mean + 12.0 * np.sqrt(mean * (1 - conn.p) + 1.0) + 16))
        self.kept, self.csc, self.arrays = None, None, None
        self._parts: dict[int, dict] = {}  # generated blocks, until they are placed
        self.blocks_generated = 0

    def _generate(self, s: int) -> dict:
        """Device ``s``'s synapses of a procedural matrix, rows in order (as ``to_csr``)."""
        from neurodyn.event._jitconn import DIST_CODES, generate_rows

        if s in self._parts:
            return self._parts[s]
        c, lo, nl = self.procedural, s * self.nl, self.nl
        gen = jax.jit(
            lambda rows: generate_rows(
                rows,
                c.seed,
                c.table,
                c.n_post,
                c.bound,
                DIST_CODES[c.dist],
                c.w0,
                c.w1,
                c._dtype(),
            )
        )
        chunk = max(1, (1 << 22) // max(c.bound, 1))
        counts = np.zeros(c.n_pre, np.int64)
        ind, dat = [], []
        for r0 in range(0, c.n_pre, chunk):
            rows = np.minimum(np.arange(r0, r0 + chunk), c.n_pre - 1).astype(np.int32)
            cols, w = (np.asarray(a) for a in gen(jnp.asarray(rows)))
            n = min(chunk, c.n_pre - r0)
            cols, w = cols[:n], w[:n]
            keep = (cols >= lo) & (cols < lo + nl)
            counts[r0 : r0 + n] = keep.sum(axis=1)
            ind.append(cols[keep] - lo)
            dat.append(w[keep])
        nnz = int(counts.sum())
        if nnz > self.width:
            raise RuntimeError(
                f"nd.run(mesh=...): device {s} got {nnz} synapses of a {c!r}, more than the "
                f"{self.width} planned (12 standard deviations above the mean). Report this."
            )
        part = {
            "indices": np.zeros(self.width, np.int32),
            "indptr": np.concatenate([[0], np.cumsum(counts)]).astype(np.int32),
        }
        part["indices"][:nnz] = np.concatenate(ind)
        if not self.homo:
            part["data"] = np.zeros(self.width, np.dtype(c._dtype()))
            part["data"][:nnz] = np.concatenate(dat)
        self._parts[s] = part
        self.blocks_generated += 1
        return part

    def release(self) -> None:
        """Forget the generated host blocks once the devices hold them."""
        if self.procedural is not None:
            self._parts.clear()

    def global_arrays(self) -> dict:
        """``{name: (global shape, dtype, device s -> its block)}`` of the arrays each
        device receives (stacked ``[n_dev, ...]``; a dense matrix split by columns)."""
        if self.kind == "dense":
            w = self.arrays["w"]
            return {"w": (w.shape, w.dtype, None)}
        if self.procedural is not None:
            c = self.procedural
            shapes = {
                "indices": ((self.n_dev, self.width), np.int32),
                "indptr": ((self.n_dev, c.n_pre + 1), np.int32),
            }
            if not self.homo:
                shapes["data"] = ((self.n_dev, self.width), np.dtype(c._dtype()))
            return {
                k: (shape, dt, lambda s, k=k: self._generate(s)[k][None])
                for k, (shape, dt) in shapes.items()
            }
        return {k: (a.shape, a.dtype, lambda s, a=a: a[s : s + 1]) for k, a in self.arrays.items()}

    def add_column_view(self) -> None:
        """Also ship each device's column view (for postsynaptic plasticity updates)."""
        self.csc = _csc_parts(self.arrays, self.kept, self.nl)
        self.arrays.update({f"csc_{k}": v for k, v in self.csc.items()})

    def to_local(self, w_global):
        """Per-synapse values in the global CSR order -> ``[n_dev * width]`` in the
        devices' order (padding zero)."""
        w = np.asarray(w_global)
        out = np.zeros((len(self.kept), self.width), w.dtype)
        for s, k in enumerate(self.kept):
            out[s, : len(k)] = w[k]
        return out.reshape(-1)

    def to_global(self, w_local, nnz: int):
        w = np.asarray(w_local).reshape(len(self.kept), self.width)
        out = np.zeros(nnz, w.dtype)
        for s, k in enumerate(self.kept):
            out[k] = w[s, : len(k)]
        return out

    def build(self, parts: dict) -> Connectivity:
        if self.kind == "dense":
            w = parts["w"]
            return Dense(w if self.unit is None else u.Quantity(w, self.unit))
        data = jnp.asarray(self.w) if self.homo else parts["data"][0]
        data = data if self.unit is None else u.Quantity(data, self.unit)
        return CSR.tree_unflatten(
            ((self.shape[0], self.nl), self.max_row),
            (data, parts["indices"][0], parts["indptr"][0]),
        )

    def build_csc(self, parts: dict):
        from neurodyn.event import CSCView

        return CSCView(*(parts[f"csc_{k}"][0] for k in ("colptr", "perm", "rows")))


class ShardPlan:
    """How a network is split over a mesh (built once per network, mesh and dt)."""

    def __init__(self, net, mesh, dt):
        from ._delay import Delay, SynapseDelays
        from ._inputs import PoissonGroup
        from ._network import Network
        from ._plastic import PoissonInput
        from ._projection import Projection

        self.axis, self.n_dev = _check_mesh(mesh)
        # the same devices with automatic axis types: the States written back after a run
        # stay usable by ordinary (unsharded) code
        self.mesh = jax.sharding.Mesh(
            mesh.devices, mesh.axis_names, axis_types=(jax.sharding.AxisType.Auto,)
        )
        if not isinstance(net, Network) or type(net).update is not Network.update:
            raise TypeError(
                f"nd.run(mesh=...): {type(net).__name__} is not a Network with the standard "
                "step order (its own update()); a sharded run needs the Network's slots to "
                "place the spike exchange. Build it as an nd.Network without overriding update."
            )
        inputs, populations, deliveries = net._slots()
        sources = [m for m in inputs if isinstance(m, PoissonGroup)]
        others = [m for m in inputs if not isinstance(m, PoissonGroup)]
        if others:
            bad = others[0]
            raise TypeError(
                f"nd.run(mesh=...): {getattr(bad, 'name', type(bad).__name__)} "
                f"({type(bad).__name__}) cannot be split over devices yet. Supported: "
                f"{_supported()}."
            )
        self.pops = populations + sources
        for pop in self.pops:
            name = getattr(pop, "name", type(pop).__name__)
            if len(pop.varshape) != 1:
                raise ValueError(
                    f"nd.run(mesh=...): population {name} has shape {pop.varshape}; a sharded "
                    "run splits 1-D populations. Flatten it."
                )
            if pop.num % self.n_dev:
                raise ValueError(
                    f"nd.run(mesh=...): population {name} has {pop.num} neurons, which "
                    f"{self.n_dev} devices cannot split evenly. Use a population size divisible "
                    f"by {self.n_dev} or a mesh whose size divides {pop.num}."
                )
            spike = getattr(pop, "spike", None)
            if spike is not None and jnp.ndim(spike.value) != 1:
                raise ValueError(
                    f"nd.run(mesh=...): population {name} is batched (spike shape "
                    f"{jnp.shape(spike.value)}); a sharded run takes one network. Split "
                    "batches over another mesh with nd.vmap, or run them one by one."
                )
        pop_ids = {id(p) for p in self.pops}
        self.sharded: set[int] = set()  # ids of States split over the neuron axis
        for pop in self.pops:
            self.sharded.update(id(s) for s in pop.states().values())
        self.conns: dict[str, _LocalConn] = {}
        self.stdp: dict[int, tuple] = {}  # id(STDP) -> (projection, weights State, unit)
        self.pre: dict[int, tuple[Any, slice]] = {}
        # id(projection) -> [(delay in steps, key of its connectivity in self.conns)]
        self.paths: dict[int, list[tuple[int, str]]] = {}
        for d in deliveries:
            if isinstance(d, PoissonInput):
                if d.synapse is not None:
                    self.sharded.update(id(s) for s in d.synapse.states().values())
                continue
            if not isinstance(d, Projection):
                raise TypeError(
                    f"nd.run(mesh=...): {getattr(d, 'name', type(d).__name__)} "
                    f"({type(d).__name__}) cannot be split over devices yet. Supported: "
                    f"{_supported()}."
                )
            per_synapse = isinstance(d.delays, SynapseDelays)
            if d.weights is not None or (per_synapse and d.stp is not None):
                what = (
                    "trainable weights" if d.weights is not None else "STP with per-synapse delays"
                )
                raise TypeError(
                    f"nd.run(mesh=...): {d.name} has {what}, which a sharded run does not "
                    f"support yet. Supported: {_supported()}. Run it without mesh=."
                )
            pre, sl = d.pre, slice(0, d.pre.num)
            if hasattr(pre, "parent"):  # a view pop[a:b]
                pre, sl = pre.parent, pre.index
            if id(pre) not in pop_ids or id(d.post) not in pop_ids:
                raise TypeError(
                    f"nd.run(mesh=...): {d.name} connects modules outside the network's "
                    "populations; add both ends to the network."
                )
            self.pre[id(d)] = (pre, sl)
            key = str(id(d))
            if per_synapse:  # one connectivity per distinct delay, each split by columns
                self.paths[id(d)] = []
                for g, (steps, csr, _) in enumerate(d.delays.groups):
                    self.conns[f"{key}:{g}"] = _LocalConn(csr, self.n_dev)
                    self.paths[id(d)].append((int(steps), f"{key}:{g}"))
            else:
                steps = int(d.delays.steps) if isinstance(d.delays, Delay) else 0
                self.conns[key] = _LocalConn(d.conn, self.n_dev)
                self.paths[id(d)] = [(steps, key)]
            if d.stdp is not None:
                # per-synapse weights in the devices' layout while the run lasts; the
                # postsynaptic trace is split with its neurons, the presynaptic one is
                # computed from the exchanged spikes on every device
                lc = self.conns[key]
                lc.add_column_view()
                w0 = d.stdp.weights.value
                self.stdp[id(d.stdp)] = (
                    d,
                    Memory(jnp.asarray(lc.to_local(u.get_mantissa(w0)))),
                    u.get_unit(w0),
                )
                self.sharded.add(id(d.stdp.y_post))
                self.sharded.add(id(self.stdp[id(d.stdp)][1]))
            syn = d.synapse
            if syn is not None and not getattr(syn, "pre_aligned", False):
                self.sharded.update(id(s) for s in syn.states().values())
        # the spike exchange: populations whose spikes some projection reads
        self.exchanged = []
        for pre, _ in self.pre.values():
            if all(pre is not p for p in self.exchanged):
                self.exchanged.append(pre)
        delays = [steps for path in self.paths.values() for steps, _ in path]
        self.min_delay = min(delays) if delays else 0
        self.L = max(self.min_delay, 1)
        if MAX_BLOCK_STEPS is not None:
            self.L = max(1, min(self.L, int(MAX_BLOCK_STEPS)))
        self.H = (max(delays) if delays else 0) + self.L
        self.width = sum(p.num // self.n_dev for p in self.exchanged)
        self.outbox = Memory(jnp.zeros((self.L, self.width * self.n_dev), bool), name="outbox")
        self.history = {
            id(p): Memory(jnp.zeros((self.H, p.num), bool), name=f"history[{p.name}]")
            for p in self.exchanged
        }
        self.sharded.add(id(self.outbox))
        self.n_local = {id(p): p.num // self.n_dev for p in self.pops}
        self.dt_ms = float(dt.to_value(u.ms))

    # -- specs and placement ------------------------------------------------------
    def spec(self, state: State) -> P:
        if id(state) not in self.sharded:
            return P()
        nd_ = jnp.ndim(u.get_mantissa(state.value))
        return P(*([None] * (nd_ - 1)), self.axis)

    def sharding(self, spec: P) -> NamedSharding:
        return NamedSharding(self.mesh, spec)

    def put(self, value, spec: P):
        sharding = self.sharding(spec)

        def one(x):
            if isinstance(x, jax.Array) and x.sharding == sharding:
                return x
            if jax.process_count() > 1:
                if isinstance(x, jax.Array) and not x.is_fully_addressable:
                    return jax.device_put(x, sharding)
                if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
                    data = np.asarray(jax.random.key_data(x))
                    impl = jax.random.key_impl(x)
                    arr = jax.make_array_from_callback(
                        data.shape, NamedSharding(self.mesh, P()), lambda i: data[i]
                    )
                    return jax.random.wrap_key_data(arr, impl=impl)
                host = np.asarray(x)
                return jax.make_array_from_callback(host.shape, sharding, lambda i: host[i])
            return jax.device_put(x, sharding)

        return jax.tree_util.tree_map(one, value)

    def to_host(self, tree):
        """Monitor values as host-addressable arrays (gathered from every process)."""
        if jax.process_count() == 1:
            return jax.tree_util.tree_map(lambda x: jax.device_put(x, jax.devices()[0]), tree)
        from jax.experimental import multihost_utils

        def one(x):
            if isinstance(x, jax.Array) and not x.is_fully_addressable:
                return jnp.asarray(multihost_utils.process_allgather(x, tiled=True))
            return x

        return jax.tree_util.tree_map(one, tree)

    def conn_inputs(self):
        """The connectivity as global arrays split over the mesh: each process builds (or
        generates, for procedural connectivity) only the blocks of its own devices."""
        placed, specs = {}, {}
        for key, lc in self.conns.items():
            placed[key], specs[key] = {}, {}
            for name, (shape, _, block) in lc.global_arrays().items():
                if block is None:  # a dense matrix: columns split
                    spec = P(None, self.axis)
                    host = lc.arrays[name]
                    placed[key][name] = self.put(jnp.asarray(host), spec)
                else:
                    spec = P(self.axis)
                    n_rows = shape[0] // self.n_dev

                    def cb(index, block=block, n_rows=n_rows):
                        first = index[0].start or 0
                        return np.concatenate(
                            [block(s) for s in range(first // n_rows, first // n_rows + 1)]
                        )

                    placed[key][name] = jax.make_array_from_callback(
                        tuple(shape), self.sharding(spec), cb
                    )
                specs[key][name] = spec
            lc.release()
        return placed, specs

    def _weights_to_devices(self) -> None:
        for proj, shadow, _ in self.stdp.values():
            w = u.get_mantissa(proj.stdp.weights.value)
            shadow.value = jnp.asarray(self.conns[str(id(proj))].to_local(np.asarray(w)))

    def _weights_from_devices(self) -> None:
        for proj, shadow, unit in self.stdp.values():
            lc = self.conns[str(id(proj))]
            local = np.asarray(self.to_host(shadow.value))
            w = lc.to_global(local, proj.conn.nnz)
            quantity = isinstance(proj.stdp.weights.value, u.Quantity)
            proj.stdp.weights.value = u.Quantity(w, unit) if quantity else w

    def reset_exchange(self) -> None:
        """No spikes in flight (a run from step 0)."""
        self.outbox.value = jnp.zeros_like(self.outbox.value)
        for h in self.history.values():
            h.value = jnp.zeros_like(h.value)

    def states(self, net, extra=()) -> list[State]:
        out, seen = [], set()
        shadows = [w for _, w, _ in self.stdp.values()]
        for s in [
            *net.states().values(),
            random.DEFAULT,
            self.outbox,
            *self.history.values(),
            *shadows,
        ]:
            if id(s) not in seen:
                seen.add(id(s))
                out.append(s)
        for s in extra:
            if id(s) not in seen:
                seen.add(id(s))
                out.append(s)
        return out

    def compile(self, fn, states: list[State], out_specs):
        """A callable ``(start, idx) -> fn's output`` that runs ``fn`` on every device
        (its States split as :meth:`spec` says) and writes the States back."""
        specs = [self.spec(s) for s in states]
        conn_values, conn_specs = self.conn_inputs()
        axis = self.axis

        def pure(values, conns, start, idx):
            index = jax.lax.axis_index(axis)
            ctx = _Context(self, conns, index)
            _ACTIVE.append(ctx)
            try:
                with random.element_streams(lambda n: index * n + jnp.arange(n)):
                    return run_pure("nd.run(mesh=...)", fn, states, values, states, (start, idx))
            finally:
                _ACTIVE.pop()

        program = jax.jit(
            jax.shard_map(
                pure,
                mesh=self.mesh,
                in_specs=(specs, conn_specs, P(), P()),
                out_specs=(out_specs, specs),
                # (the native kernels' outputs carry no varying-axis types; the specs
                # above are the contract, checked by the 1-vs-N-device tests)
                check_vma=False,
            )
        )

        def call(start, idx):
            self._weights_to_devices()
            values = [self.put(s.value, sp) for s, sp in zip(states, specs)]
            out, new = program(values, conn_values, start, idx)
            for s, v in zip(states, new):
                s.value = v
            self._weights_from_devices()
            return out

        def lower(start, idx):
            values = [self.put(s.value, sp) for s, sp in zip(states, specs)]
            return program.lower(values, conn_values, start, idx)

        call.lower = lower
        return call


class _Context:
    """What the step code asks while a sharded run is traced (one per device program)."""

    def __init__(self, plan: ShardPlan, conns: dict, index):
        self.plan, self.index = plan, index
        self.conns = {k: plan.conns[k].build(v) for k, v in conns.items()}
        self._raw = conns

    def local(self, owner, value):
        n_loc = self.plan.n_local.get(id(owner))
        if n_loc is None:
            return value
        m, unit = _split(value)
        if jnp.ndim(m) == 0 or jnp.shape(m)[-1] != owner.num:
            return value
        part = jax.lax.dynamic_slice_in_dim(jnp.asarray(m), self.index * n_loc, n_loc, axis=-1)
        return part if unit is None else u.Quantity(part, unit)

    def conn(self, proj):
        return self.conns[str(id(proj))]

    def stdp_parts(self, stdp):
        """``(local CSR, its column view, this device's weights State)`` of an STDP."""
        proj, shadow, _ = self.plan.stdp[id(stdp)]
        key = str(id(proj))
        return self.conns[key], self.plan.conns[key].build_csc(self._raw[key]), shadow

    def arriving(self, proj):
        """The presynaptic spikes (all neurons of ``proj.pre``) that arrive now."""
        pre, sl = self.plan.pre[id(proj)]
        k = _clock.current_clock().i
        ((steps, _),) = self.plan.paths[id(proj)]
        row = (k - steps) % self.plan.H
        return self.plan.history[id(pre)].value[row][sl]

    def delayed_input(self, proj):
        """``Σ_d spikes(t − d) @ conn_d`` over the per-synapse delay groups of ``proj``,
        in the order of the unsplit run (so the sums are the same)."""
        pre, sl = self.plan.pre[id(proj)]
        k = _clock.current_clock().i
        hist = self.plan.history[id(pre)].value
        total = None
        for steps, key in self.plan.paths[id(proj)]:
            x = hist[(k - steps) % self.plan.H][sl] @ self.conns[key]
            total = x if total is None else total + x
        return total

    def exchange_point(self) -> None:
        """After the threshold test: this step's spikes into the outbox; at the end of a
        min-delay interval, one all_gather of the outbox into every history."""
        plan = self.plan
        if not plan.exchanged:
            return
        k = _clock.current_clock().i
        L, H, D = plan.L, plan.H, plan.n_dev
        local = jnp.concatenate([p.spike.value.astype(bool) for p in plan.exchanged])
        box = plan.outbox.value
        box = jax.lax.dynamic_update_slice_in_dim(box, local[None], k % L, axis=0)
        plan.outbox.value = box
        hists = [plan.history[id(p)].value for p in plan.exchanged]
        axis, width = plan.axis, plan.width

        def exchange(box, hists):
            packed = jnp.packbits(box.reshape(-1))
            every = jax.lax.all_gather(packed, axis)  # [D, bytes]: the one collective
            bits = jnp.unpackbits(every, axis=1, count=L * width).reshape(D, L, width)
            rows = (k - (L - 1) + jnp.arange(L)) % H
            out, off = [], 0
            for p, h in zip(plan.exchanged, hists):
                nl = p.num // D
                block = jnp.transpose(bits[:, :, off : off + nl], (1, 0, 2)).reshape(L, p.num)
                out.append(h.at[rows].set(block.astype(bool)))
                off += nl
            return out

        if L == 1:
            new = exchange(box, hists)
        else:
            new = jax.lax.cond(k % L == L - 1, exchange, lambda b, h: list(h), box, hists)
        for p, h in zip(plan.exchanged, new):
            plan.history[id(p)].value = h
