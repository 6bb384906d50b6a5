"""NIR (the Neuromorphic Intermediate Representation, https://neuroir.org): load a NIR
graph as a runnable neurodyn Module, and save neurodyn models as NIR graphs.

:func:`load` builds a :class:`NIRNetwork` whose ``update(x)`` advances the graph by one
step of ``dt`` with ``x`` at the Input node and returns the Output node's value, so
``nd.for_loop(model.update, xs)`` runs it over time, under ``nd.jit``, ``nd.vmap`` and
``nd.grad`` (parameters are ``nd.Param``; pass a surrogate ``spike_fn`` from
:mod:`neurodyn.dyn.surrogate` for gradients through spikes). NIR stores times in seconds;
they become Quantities (``tau`` 2.5e-3 s is ``2.5 ms``); the other values have no unit.

Discretisation
--------------
``x[k]`` is a node's input in step ``k`` (the sum of its incoming edges), held over the
step: a spike is the value 1 for one step, the convention of every platform of the NIR
paper. With ``h = dt / tau``:

``method="euler"`` — forward Euler, as Norse, snnTorch and the NIR paper's reference::

    LI, LIF          v[k+1] = v[k] + h (v_leak - v[k] + r x[k])
    CubaLI, CubaLIF  I[k+1] = I[k] + h_syn (w_in x[k] - I[k])
                     v[k+1] = v[k] + h_mem (v_leak - v[k] + r I[k])

``method="exact"`` — exponential integration of the linear dynamics, ``a = 1 - exp(-h)``::

    LI, LIF          v[k+1] = v[k] + a (v_leak + r x[k] - v[k])       (exact for the held input)
    CubaLI, CubaLIF  I[k+1] = I[k] + a_syn (w_in x[k] - I[k])         (exact)
                     v[k+1] = v[k] + a_mem (v_leak + r I[k] - v[k])
      (v sees the current of the start of the step: exponential Euler, as a neurodyn LIF
      driven by an Expon synapse)

For both methods ``I`` and ``IF`` add ``r x[k]`` once per step (``v[k+1] = v[k] + r x[k]``,
no ``dt``), as Norse, snnTorch, Sinabs and Spyx do and as graphs such as the NIR paper's
CNN are trained. A spiking node (IF, LIF, CubaLIF) outputs ``z[k] = v[k+1] > v_threshold``
(strictly, as NIR) and resets: ``reset="zero"`` sets ``v = v_reset`` (0 unless the node
gives one); ``reset="subtract"`` sets ``v = v - (v_threshold - v_reset)``. ``Threshold``
outputs ``x > threshold``; ``Delay`` ``x[k - delay/dt]``. Neurons start at ``v = v_leak``
(``0`` for I and IF) and ``I = 0``, or at the initial state a neurodyn export stores in
the node's metadata. Within a step nodes run in topological order; an edge that closes a
cycle carries its source's output of the previous step.

Export
------
:func:`save` writes a :class:`NIRNetwork` back (current parameter values; the arrays of
the file for unchanged ones; every node type round trips this way), or a neurodyn
:class:`~neurodyn.dyn.Network` of ``ArrayInput`` groups (Input nodes), populations and
Projections with a ``CUBA`` output and an ``Expon`` synapse or a ``Delta`` synapse (a
current for one step: the node's Delays are one step longer, as the current acts in the
step after the spike). A population's node follows from its model and its synapses:

========================  =====================  ================================
population                ``Expon`` synapse      ``Delta`` synapse
========================  =====================  ================================
``nd.dyn.LIF``            ``CubaLIF``            ``LIF``
``nd.dyn.IF`` (no leak)   refused (NIR has no    ``IF``, ``r = dt / C``
                          current-based IF)
``nd.dyn.LI`` (readout)   ``CubaLI``             ``LI``
========================  =====================  ================================

Dense, CSR or fan-out weights become ``Linear``; homogeneous or per-synapse delays
``Delay`` nodes. Other models (ExpIF, HH, ...) have no NIR node, nor have refractoriness,
noise, adaptation or an IF's ``I_ext`` (NIR's IF has no bias): save refuses them by name.
Values are in mV, MOhm, nA and s; ``v_leak = V_rest + R I_ext``; ``w_in = 1 / (1 -
exp(-dt / tau_syn))`` makes a spike of weight ``w`` add ``w`` to ``I`` as neurodyn's
synapse does; an IF's ``r = dt / C`` (mV per nA) is the voltage step of one step of
current, which NIR's platforms add once per step; so the graph is for the ``dt`` given.
The node's ``metadata["neurodyn"]`` keeps the model, ``V_rest``, ``I_ext``, ``C`` and the
initial ``v`` (and ``I``). An LI's output is its potential ``v`` (mV). A recurrent
projection (one that closes a cycle) needs a delay of at least ``dt``: NIR's recurrent
edge adds one step. ``load(path, dt, method="exact")`` of the file then reproduces the
network's spikes and potentials (populations with the default ``method="exp_euler"``;
with ``method="euler"`` everywhere the graph is marked for ``load(method="euler")``,
exact for Delta synapses: neurodyn's Expon synapse always decays exactly).

Example::

    from neurodyn.io import nir as ndnir
    model = ndnir.load("lif_norse.nir", dt=1e-4 * u.second)
    spikes = nd.for_loop(nd.jit(model.update), xs)     # xs: [steps, *input shape]
    ndnir.save("copy.nir", model)
    ndnir.save("net.nir", net, dt=0.1 * u.ms)          # a neurodyn Network
    again = ndnir.load("net.nir", dt=0.1 * u.ms, method="exact")
"""

from __future__ import annotations

import math
import os
import warnings

import neurodyn.units as u

from ._nir_graph import SUPPORTED, NIRNetwork
from ._nir_nodes import Options
from ._optional import FileFormatError, atomic_write, open_hdf5, reading, require

__all__ = ["load", "save", "to_nir", "read_graph", "NIRNetwork", "SUPPORTED"]

_METHODS = ("euler", "exact")
_RESETS = ("zero", "subtract")


def _check_dt(dt):
    if not isinstance(dt, u.Quantity) or dt.unit.dim is not u.second.dim:
        raise u.UnitMismatchError(
            f"dt must be a time such as 1e-4 * u.second (NIR graphs are usually trained with "
            f"0.1 ms); got {dt!r}."
        )
    val = float(dt.to_value(u.second))
    if not (math.isfinite(val) and val > 0):
        raise ValueError(f"dt must be a positive time; got {dt}.")
    return dt.to(u.ms)


def _s(x) -> str:
    return x.decode() if isinstance(x, bytes) else str(x)


def _graph_from_dict(d: dict, nir, name: str = "graph"):
    """A NIR node from the dictionary of a file, without NIR's type checks (at any
    depth), naming unsupported node types."""
    kind = _s(d.get("type", "?"))
    if kind == "NIRGraph":
        nodes = {_s(k): _graph_from_dict(v, nir, _s(k)) for k, v in d["nodes"].items()}
        edges = [(_s(a), _s(b)) for a, b in d["edges"]]
        meta = d.get("metadata", {})
        return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta, type_check=False)
    if kind not in SUPPORTED:
        raise NotImplementedError(
            f"NIR node {name!r} is a {kind}, which neurodyn does not support. Supported node "
            f"types: {', '.join(SUPPORTED)}."
        )
    return nir.dict2NIRNode(dict(d))


def read_graph(path):
    """``(graph, checked)``: the NIR graph in the file ``path``, read with NIR's type
    checks; a file that fails them (older NIR versions) is read without them, with a
    warning, and ``checked`` is False."""
    nir = require("nir", "neurodyn.io.nir")
    h5py = require("h5py", "neurodyn.io.nir")
    from nir.serialization import hdf2dict

    path = os.fspath(path)
    with reading(path, "NIR"), open_hdf5(path, "NIR", "neurodyn.io.nir") as f:
        if "node" not in f or not isinstance(f["node"], h5py.Group):
            raise FileFormatError(
                f"{path} is not a NIR file: it has no 'node' group (found {sorted(f)})."
            )
        raw = hdf2dict(f["node"])
        if not isinstance(raw, dict) or "type" not in raw:
            raise FileFormatError(f"{path} is not a NIR file: its 'node' group names no type.")
        unchecked = _graph_from_dict(raw, nir)  # names unsupported node types
    try:
        return nir.read(path), True
    except (ValueError, AssertionError, KeyError, TypeError, NotImplementedError) as err:
        warnings.warn(
            f"{path}: NIR's type checks fail ({type(err).__name__}: {err}); loading it without "
            "them (shapes come from the nodes' parameters). Saving the loaded model writes a "
            "graph that passes them.",
            stacklevel=3,
        )
        return unchecked, False


def load(
    path_or_graph,
    dt=1e-4 * u.second,
    method: str = "euler",
    reset: str = "zero",
    spike_fn=None,
    detach_reset: bool = True,
) -> NIRNetwork:
    """A runnable :class:`NIRNetwork` from a NIR file or a ``nir.NIRGraph``.

    Args:
        path_or_graph: a ``.nir`` file or a ``nir.NIRGraph`` (or a single NIR node).
        dt: the time step (a time Quantity; NIR graphs are mostly trained with 0.1 ms).
        method: ``"euler"`` (forward Euler, as Norse and snnTorch) or ``"exact"``
            (exponential integration); see the module docstring.
        reset: ``"zero"`` (``v = v_reset``) or ``"subtract"`` (``v -= v_threshold -
            v_reset``).
        spike_fn: a surrogate from :mod:`neurodyn.dyn.surrogate` for gradients through
            spikes (the spikes themselves stay ``v > v_threshold``); None: no gradient.
        detach_reset: stop the gradient through the reset (the usual choice).

    Raises:
        NotImplementedError: a node type neurodyn does not support (named, with the list).
        ValueError: a Delay that is not a multiple of ``dt``; inconsistent shapes or edges.
    """
    nir = require("nir", "neurodyn.io.nir.load")
    dt = _check_dt(dt)
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}; got {method!r}.")
    if reset not in _RESETS:
        raise ValueError(f"reset must be one of {_RESETS}; got {reset!r}.")
    if spike_fn is not None and not callable(spike_fn):
        raise TypeError(
            "spike_fn must be a surrogate such as nd.dyn.surrogate.Sigmoid() or None; got "
            f"{type(spike_fn).__name__}."
        )
    if isinstance(path_or_graph, str | os.PathLike):
        graph, _ = read_graph(path_or_graph)
    elif isinstance(path_or_graph, nir.NIRGraph):
        graph = path_or_graph
    elif isinstance(path_or_graph, nir.NIRNode):
        graph = nir.NIRGraph.from_list(path_or_graph)
    else:
        raise TypeError(
            f"load expects a path to a .nir file or a nir.NIRGraph; got "
            f"{type(path_or_graph).__name__}."
        )
    _warn_discretisation(graph, dt, method, reset)
    opts = Options(dt=dt, method=method, reset=reset, spike_fn=spike_fn, detach_reset=detach_reset)
    return NIRNetwork(graph, opts)


def _warn_discretisation(graph, dt, method, reset) -> None:
    meta = (graph.metadata or {}).get("neurodyn") if isinstance(graph.metadata, dict) else None
    if not isinstance(meta, dict):
        return
    diffs = []
    if "dt" in meta and not math.isclose(float(meta["dt"]), float(dt.to_value(u.second))):
        diffs.append(f"dt = {float(meta['dt']) * 1e3:g} ms (loading with {dt})")
    for key, value in (("method", method), ("reset", reset)):
        if key in meta and _s(meta[key]) != value:
            diffs.append(f"{key}={_s(meta[key])!r} (loading with {value!r})")
    if diffs:
        warnings.warn(
            "This graph was exported by neurodyn for " + ", ".join(diffs) + "; load it with "
            "those values to reproduce the exported model's spikes.",
            stacklevel=3,
        )


def to_nir(model, dt=None, outputs=None):
    """The ``nir.NIRGraph`` of ``model``: a :class:`NIRNetwork` (its current parameters),
    or a neurodyn Network (needs ``dt``; ``outputs``: the populations whose spikes are
    Output nodes, default those that project to no other population)."""
    nir = require("nir", "neurodyn.io.nir.to_nir")
    if isinstance(model, NIRNetwork):
        if dt is not None and not math.isclose(
            float(_check_dt(dt).to_value(u.ms)), float(model.dt.to_value(u.ms))
        ):
            raise ValueError(
                f"to_nir: the model was loaded for dt = {model.dt}; got dt = {dt}. Leave dt out."
            )
        graph = model.to_nir(nir)
        meta = dict(graph.metadata or {})
        meta["neurodyn"] = {
            **(meta.get("neurodyn") if isinstance(meta.get("neurodyn"), dict) else {}),
            "dt": float(model.dt.to_value(u.second)),
            "method": model.method,
            "reset": model.reset,
        }
        graph.metadata = meta
        return graph
    from neurodyn.dyn import Network

    from ._nir_export import network_to_nir

    if not isinstance(model, Network):
        raise TypeError(
            f"to_nir expects a NIRNetwork (from load) or a neurodyn Network; got "
            f"{type(model).__name__}."
        )
    if dt is None:
        raise TypeError(
            "to_nir: a Network needs dt= (NIR spikes are per-step values, so the synaptic "
            "scaling w_in depends on the step): e.g. dt=0.1 * u.ms."
        )
    return network_to_nir(model, _check_dt(dt), outputs, nir)


def save(path, model, dt=None, outputs=None):
    """Write ``model`` (see :func:`to_nir`) to the NIR file ``path``, atomically: the file
    is written under a temporary name, read back with NIR's type checks
    (``nir.read``), then moved onto ``path``; an error leaves no file behind. Returns
    ``path``."""
    nir = require("nir", "neurodyn.io.nir.save")
    graph = to_nir(model, dt=dt, outputs=outputs)

    def write(tmp):
        nir.write(tmp, graph)
        try:
            nir.read(tmp)
        except Exception as err:
            raise ValueError(
                f"nir.save: the exported graph fails NIR's type checks ({err}); nothing was "
                "written."
            ) from err

    return atomic_write(path, write, suffix=".nir")
