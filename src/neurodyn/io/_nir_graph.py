"""A NIR graph as one neurodyn Module: nodes in topological order, recurrent edges
carrying the previous step's output."""

from __future__ import annotations

import warnings
from typing import Any

import jax.numpy as jnp

import neurodyn.units as u
from neurodyn.state import Hidden

from ._nir_nodes import NODE_TYPES, InputNode, Node, Options, OutputNode, _float

__all__ = ["NIRNetwork", "make_node", "SUPPORTED"]

SUPPORTED = sorted([*NODE_TYPES, "NIRGraph"])


def make_node(name: str, node, opts: Options) -> Node:
    """The neurodyn node of the NIR node ``node`` (a NIRGraph becomes a NIRNetwork)."""
    kind = type(node).__name__
    if kind == "NIRGraph":
        return NIRNetwork(node, opts, name=name)
    cls = NODE_TYPES.get(kind)
    if cls is None:
        raise NotImplementedError(
            f"NIR node {name!r} is a {kind}, which neurodyn does not support. Supported node "
            f"types: {', '.join(SUPPORTED)}."
        )
    return cls(name, node, opts)


def _order(names: list[str], edges: list[tuple[str, str]], roots: list[str]):
    """``(order, back)``: a topological order of the graph without its back edges, and
    the back edges (those that close a cycle, found by a depth-first search from the
    Input nodes, then from any node not reached; both in name order, so the result does
    not depend on the order in which a file lists the nodes, and edges in their order)."""
    succ: dict[str, list[str]] = {n: [] for n in names}
    for a, b in edges:
        succ[a].append(b)
    mark: dict[str, int] = {}
    post: list[str] = []
    back: set[tuple[str, str]] = set()
    for root in [*sorted(roots), *sorted(names)]:
        if root in mark:
            continue
        mark[root] = 1
        stack = [(root, iter(succ[root]))]
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                stack.pop()
                mark[node] = 2
                post.append(node)
            elif mark.get(nxt) == 1:
                back.add((node, nxt))
            elif nxt not in mark:
                mark[nxt] = 1
                stack.append((nxt, iter(succ[nxt])))
    return post[::-1], back


class _Probe:
    """One of the graph's States, to read the batch shape the States have now (kept out
    of the Module tree: not a State attribute, list or dict)."""

    __slots__ = ("state", "base")

    def __init__(self, state, n_batch: int):
        self.state, self.base = state, jnp.ndim(state.value) - n_batch

    def batch(self) -> tuple[int, ...]:
        shape = tuple(jnp.shape(self.state.value))
        return shape[: len(shape) - self.base]


class NIRNetwork(Node):
    """A NIR graph loaded as a neurodyn Module (made by :func:`neurodyn.io.nir.load`).

    ``update(x)`` advances every node by one step of ``dt`` with ``x`` at the Input node
    (a dict ``{input name: x}`` when the graph has several) and returns the Output node's
    value (a dict when several), so ``nd.for_loop(model.update, xs)`` runs it over time.
    ``step(x)`` returns every node's output (nested nodes as ``"graph.node"``).

    Nodes run in topological order within a step; an edge that closes a cycle (found by a
    depth-first search from the inputs) carries its source's output of the previous step
    (in the first step: its output for a zero input, e.g. an Affine's bias; no spikes).
    Edges into one node are summed.

    Attributes:
        nodes: ``{name: node module}`` (parameters are ``nd.Param``: ``model.states(nd.Param)``).
        edges: the graph's edges; ``recurrent``: those that carry the previous step.
        order: the order in which the nodes run.
        dt: the time step; method, reset: the discretisation (as in :func:`neurodyn.io.nir.load`).
    """

    nir_type = "NIRGraph"

    def __init__(self, graph, opts: Options, name: str = "graph"):
        super().__init__(name, graph, opts)
        self.dt, self.method, self.reset = opts.dt, opts.method, opts.reset
        nodes = dict(graph.nodes)
        edges = [(str(a), str(b)) for a, b in graph.edges]
        where = f"NIR graph {name!r}"
        for a, b in edges:
            for end in (a, b):
                if end not in nodes:
                    raise ValueError(
                        f"{where}: the edge ({a!r}, {b!r}) names the node {end!r}, which does "
                        f"not exist. The nodes are: {', '.join(sorted(nodes))}."
                    )
        self.nodes: dict[str, Node] = {k: make_node(k, n, opts) for k, n in nodes.items()}
        self.edges = edges
        self.inputs = [k for k, n in self.nodes.items() if isinstance(n, InputNode)]
        self.outputs = [k for k, n in self.nodes.items() if isinstance(n, OutputNode)]
        if not self.inputs or not self.outputs:
            which = "an Input" if not self.inputs else "an Output"
            raise ValueError(
                f"{where} has no {which} node; neurodyn runs graphs from Input to Output nodes. "
                "Add the node (nir.Input / nir.Output) and an edge to it."
            )
        self.order, back = _order(list(self.nodes), edges, self.inputs)
        self.recurrent = [e for e in edges if e in back]
        self._preds: dict[str, list[tuple[str, bool]]] = {k: [] for k in self.nodes}
        for a, b in edges:
            self._preds[b].append((a, (a, b) in back))
        self._infer_shapes(where)
        self.prev_sources = sorted({a for a, _ in self.recurrent})
        self.init_state()

    # -- shapes ------------------------------------------------------------------------
    def _infer_shapes(self, where: str) -> None:
        for name, node in self.nodes.items():
            if isinstance(node, InputNode):
                self._fix_input_shape(name, node)
        shapes: dict[str, tuple] = {}
        for name in self.order:
            node = self.nodes[name]
            fwd = [p for p, is_back in self._preds[name] if not is_back]
            if isinstance(node, InputNode):
                if fwd:
                    raise ValueError(f"{where}: the Input node {name!r} has incoming edges.")
                in_shape = node.declared
            elif fwd:
                got = {p: shapes[p] for p in fwd}
                if len(set(got.values())) > 1:
                    raise ValueError(
                        f"{where}: the edges into node {name!r} carry different shapes ("
                        + ", ".join(f"{p}: {s}" for p, s in got.items())
                        + "); edges into one node are summed, so their shapes must be equal."
                    )
                in_shape = next(iter(got.values()))
            else:
                in_shape = node.param_in_shape()
                if in_shape is None:
                    raise ValueError(
                        f"{where}: node {name!r} gets no input within a step and its input "
                        "shape is not fixed by its parameters. Connect it from the Input."
                    )
            node.bind(in_shape)
            shapes[name] = node.out_shape
        for a, b in self.recurrent:
            if shapes[a] != self.nodes[b].in_shape:
                raise ValueError(
                    f"{where}: the recurrent edge ({a!r}, {b!r}) carries shape {shapes[a]} "
                    f"but node {b!r} takes {self.nodes[b].in_shape}."
                )
        self._shapes = shapes

    def _fix_input_shape(self, name: str, node: InputNode) -> None:
        """Old files may declare a wrong Input shape (NIR's type checks then fail): the
        parameters of the nodes it feeds decide, with a warning."""
        want = {self.nodes[b].param_in_shape() for a, b in self.edges if a == name}
        want.discard(None)
        if len(want) == 1 and node.declared != next(iter(want)):
            new = next(iter(want))
            if node.declared is not None:
                warnings.warn(
                    f"NIR Input node {name!r} declares shape {node.declared}, but the nodes it "
                    f"feeds take {new}; using {new}.",
                    stacklevel=2,
                )
            node.declared = new
        if node.declared is None:
            raise ValueError(f"NIR Input node {name!r} has no shape; give it input_type.")

    def param_in_shape(self):
        if len(self.inputs) != 1 or len(self.outputs) != 1:
            raise ValueError(
                f"NIR subgraph {self.name!r} has {len(self.inputs)} Input and "
                f"{len(self.outputs)} Output nodes; neurodyn connects a subgraph through one "
                "Input and one Output node."
            )
        return self.nodes[self.inputs[0]].declared

    def bind(self, in_shape) -> None:
        """As a node of an outer graph: check that the edges into it carry its Input's
        shape ``in_shape`` and set ``in_shape`` / ``out_shape``."""
        want = self.param_in_shape()
        if tuple(in_shape) != want:
            raise ValueError(
                f"NIR subgraph {self.name!r}: its Input takes shape {want}, but the edges into "
                f"it carry {tuple(in_shape)}."
            )
        self.in_shape = tuple(in_shape)
        self.out_shape = self._shapes[self.outputs[0]]

    def rest_output(self):
        """The output before the first step, as a node of an outer graph: zeros of
        ``out_shape``."""
        return jnp.zeros(self.out_shape, _float())

    # -- state -------------------------------------------------------------------------
    def init_state(self, batch_size: int | None = None, **kwargs) -> None:
        """Initial States for inputs with ``batch_size`` leading rows (None: unbatched)."""
        self.batch = () if batch_size is None else (int(batch_size),)
        for node in self.nodes.values():
            node.init_state(batch_size)
        self.prev = {
            k: Hidden(jnp.broadcast_to(self._rest(k), (*self.batch, *self._shapes[k])))
            for k in self.prev_sources
        }
        hidden = list(self.states(Hidden).values())
        self._probe = _Probe(hidden[0], len(self.batch)) if hidden else None

    def _rest(self, name: str):
        """What a recurrent edge from ``name`` carries into the first step: the node's
        output for a zero input (an Affine's bias), or its resting output (no spikes; an
        LI's initial v) for nodes with a state."""
        node = self.nodes[name]
        rest = getattr(node, "rest_output", None)
        if rest is not None:
            return rest()
        return node.update(jnp.zeros(node.in_shape, _float()))

    def reset_state(self, batch_size: int | None = None, **kwargs) -> None:
        """Every State back to its initial value, in place (compiled functions that use
        them stay valid); a new ``batch_size`` makes new States."""
        if batch_size is not None and (int(batch_size),) != self.batch:
            self.init_state(batch_size)
            return
        for node in self.nodes.values():
            node.reset_state()
        for k, state in self.prev.items():
            state.value = jnp.broadcast_to(self._rest(k), jnp.shape(state.value))

    def _state_batch(self):
        """The batch shape of the States as they are now (inside ``nd.vmap`` a lane sees
        them unbatched); the input's batch shape when the graph has no States."""
        return None if self._probe is None else self._probe.batch()

    # -- one step ----------------------------------------------------------------------
    def _inputs(self, x) -> dict:
        if isinstance(x, dict):
            missing = sorted(set(self.inputs) - set(x))
            extra = sorted(set(x) - set(self.inputs))
            if missing or extra:
                raise ValueError(
                    f"NIR graph {self.name!r}: inputs are {self.inputs}; got {sorted(x)}."
                )
            return dict(x)
        if len(self.inputs) != 1:
            raise ValueError(
                f"NIR graph {self.name!r} has the Input nodes {self.inputs}; pass a dict "
                "{name: x} with one array for each."
            )
        return {self.inputs[0]: x}

    def _evaluate(self, inputs: dict) -> dict:
        values: dict[str, Any] = {}
        for name in self.order:
            node = self.nodes[name]
            if isinstance(node, InputNode):
                x = jnp.asarray(u.get_mantissa(inputs[name]))
                x = x.astype(_float()) if not jnp.issubdtype(x.dtype, jnp.floating) else x
                b = tuple(x.shape[: x.ndim - len(node.in_shape)])
                want = self._state_batch()
                if want is not None and b != want:
                    raise ValueError(
                        f"NIR graph {self.name!r}: input {name!r} has shape {tuple(x.shape)}; "
                        f"expected {(*want, *node.in_shape)}. For a batch of inputs call "
                        "model.init_state(batch_size) first, or use nd.vmap over a batched model."
                    )
                values[name] = node.update(x)
                continue
            parts = [
                self.prev[p].value if is_back else values[p] for p, is_back in self._preds[name]
            ]
            total = parts[0]
            for p in parts[1:]:
                total = total + p
            if isinstance(node, NIRNetwork):
                inner = node._evaluate({node.inputs[0]: total})
                values[name] = inner[node.outputs[0]]
                values.update({f"{name}.{k}": v for k, v in inner.items()})
            else:
                values[name] = node.update(total)
        for k in self.prev_sources:
            self.prev[k].value = values[k]
        return values

    def update(self, x):
        """One step with input ``x`` (an array, or ``{input name: array}`` for several
        Input nodes); returns the Output node's value, or ``{output name: value}`` for
        several (calling the graph calls this)."""
        values = self._evaluate(self._inputs(x))
        if len(self.outputs) == 1:
            return values[self.outputs[0]]
        return {k: values[k] for k in self.outputs}

    def step(self, x) -> dict:
        """One step; every node's output ``{name: value}`` (nested: ``"graph.node"``)."""
        return self._evaluate(self._inputs(x))

    __call__ = update

    # -- export ------------------------------------------------------------------------
    def to_nir(self, nir):
        """This graph as a ``nir.NIRGraph`` (``nir`` is the imported ``nir`` package):
        every node exported, with the same edges and metadata."""
        nodes = {k: n.to_nir(nir) for k, n in self.nodes.items()}
        return nir.NIRGraph(
            nodes=nodes, edges=list(self.edges), metadata=dict(self.metadata), type_check=False
        )

    def __repr__(self) -> str:
        kinds = ", ".join(f"{k}: {n.nir_type}" for k, n in self.nodes.items())
        return (
            f"NIRNetwork({self.name!r}, dt={self.dt}, method={self.method!r}, "
            f"reset={self.reset!r}; {kinds})"
        )
