"""The nodes of a loaded NIR graph: one neurodyn Module per NIR primitive.

Every node maps an input of a known shape (without batch axes) to an output; batch axes
lead (``(*batch, *shape)``) and are set by ``init_state(batch_size)``. Parameters are
:class:`~neurodyn.state.Param` States (time constants as Quantities in ms), so
``nd.grad`` differentiates them; neuron variables are :class:`~neurodyn.state.Hidden`.
The discretisation is described in :mod:`neurodyn.io.nir`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np

import neurodyn.units as u
from neurodyn.dyn._base import reset_in_place
from neurodyn.state import Hidden, Module, Param

__all__ = ["Options", "Node", "NODE_TYPES", "spike"]

# a delay may miss the dt grid by this fraction of a step (float32 rounding of the
# stored seconds); further off it is refused
_GRID_TOL = 1e-3


@dataclass
class Options:
    """How a graph is discretised: the step ``dt`` (a Quantity), ``method`` ("euler" or
    "exact"), ``reset`` ("zero" or "subtract"), the surrogate ``spike_fn`` (None: a hard
    threshold) and ``detach_reset``."""

    dt: Any
    method: str = "euler"
    reset: str = "zero"
    spike_fn: Any = None
    detach_reset: bool = True

    @property
    def dt_s(self) -> float:
        return float(self.dt.to_value(u.second))


def _float():
    return jnp.result_type(float)


def spike(x, spike_fn=None):
    """``x > 0`` as a float (NIR's strict threshold); with a surrogate ``spike_fn`` the
    value is the same and the gradient is the surrogate's."""
    hard = (x > 0).astype(x.dtype)
    if spike_fn is None:
        return hard
    soft = spike_fn(x)
    return hard + (soft - jax.lax.stop_gradient(soft))


def _shape(x) -> tuple[int, ...]:
    return tuple(int(s) for s in np.asarray(x).reshape(-1))


def _ints(value, n: int, what: str, owner: str) -> tuple[int, ...]:
    arr = np.asarray(value).reshape(-1)
    if arr.size == 1:
        arr = np.repeat(arr, n)
    if arr.size != n:
        raise ValueError(f"{owner}: {what} needs {n} values (one per spatial axis); got {value!r}.")
    return tuple(int(v) for v in arr)


def _batch_of(x, shape, owner: str) -> tuple[int, ...]:
    xs = tuple(jnp.shape(x))
    n = len(shape)
    if xs[len(xs) - n :] != tuple(shape) or len(xs) < n:
        raise ValueError(f"{owner}: expected an input of shape (*batch, {shape}); got {xs}.")
    return xs[: len(xs) - n]


class Node(Module):
    """One NIR primitive. Subclasses set ``in_shape`` / ``out_shape`` in :meth:`bind` and
    implement :meth:`update` and :meth:`to_nir`."""

    nir_type: ClassVar[str] = ""

    def __init__(self, name: str, node, opts: Options):
        self.name = name
        self.metadata = dict(getattr(node, "metadata", None) or {})
        self.opts = opts
        self._original: dict[str, np.ndarray] = {}
        self._loaded: dict[str, np.ndarray] = {}
        self.in_shape: tuple[int, ...] | None = None
        self.out_shape: tuple[int, ...] | None = None
        self.batch: tuple[int, ...] = ()

    @property
    def owner(self) -> str:
        return f"NIR {self.nir_type} node {self.name!r}"

    # -- parameters ----------------------------------------------------------------------
    def _param(self, key: str, value, time: bool = False) -> None:
        """A Param from the NIR array ``value`` (seconds -> ms for times)."""
        if value is None:
            raise ValueError(f"{self.owner}: parameter {key} is missing.")
        arr = np.asarray(value)
        if not np.issubdtype(arr.dtype, np.number):
            raise ValueError(f"{self.owner}: parameter {key} must be numbers; got {arr.dtype}.")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{self.owner}: parameter {key} has non-finite values.")
        self._original[key] = arr
        m = jnp.asarray(arr, _float())
        if time:
            if np.any(arr <= 0):
                raise ValueError(
                    f"{self.owner}: time constant {key} must be > 0 s; got {arr.min():g} s."
                )
            value = u.Quantity(m, u.second).to(u.ms)
        else:
            value = m
        self._loaded[key] = np.asarray(u.get_mantissa(value))
        setattr(self, key, Param(value))

    def exported(self, key: str) -> np.ndarray:
        """The parameter as NIR stores it (seconds for times): the array read from the
        graph when the Param is unchanged, the converted current value otherwise."""
        value = getattr(self, key).value
        cur = np.asarray(u.get_mantissa(value))
        orig = self._original[key]
        if cur.shape == self._loaded[key].shape and np.array_equal(cur, self._loaded[key]):
            return orig
        if isinstance(value, u.Quantity):
            cur = np.asarray(value.to_value(u.second))
        dtype = orig.dtype if np.issubdtype(orig.dtype, np.floating) else np.float32
        return np.asarray(cur, dtype)

    def param_in_shape(self) -> tuple[int, ...] | None:
        """The input shape the parameters fix (None: any, e.g. Flatten, convolutions)."""
        return None

    def bind(self, in_shape: tuple[int, ...]) -> None:
        self.in_shape = tuple(in_shape)
        self.out_shape = self._out_shape(self.in_shape)

    def _check_in(self, in_shape) -> None:
        want = self.param_in_shape()
        if want is not None and tuple(in_shape) != want:
            raise ValueError(
                f"{self.owner}: its parameters take inputs of shape {want}, but the edges "
                f"into it carry shape {tuple(in_shape)}. Check the graph's edges and shapes."
            )

    def _out_shape(self, in_shape):
        self._check_in(in_shape)
        return tuple(in_shape)

    def init_state(self, batch_size: int | None = None, **kwargs) -> None:
        self.batch = () if batch_size is None else (int(batch_size),)

    def reset_state(self, batch_size: int | None = None, **kwargs) -> None:
        """Initial values again, written into the existing States (compiled functions that
        use them stay valid); a new batch size makes new States."""
        reset_in_place(self, self.batch[0] if batch_size is None and self.batch else batch_size)

    def update(self, x):  # pragma: no cover - interface
        raise NotImplementedError

    def to_nir(self, nir):  # pragma: no cover - interface
        raise NotImplementedError

    def _md(self) -> dict:
        return {"metadata": dict(self.metadata)}


class InputNode(Node):
    nir_type = "Input"

    def __init__(self, name, node, opts):
        super().__init__(name, node, opts)
        shape = node.input_type.get("input") if isinstance(node.input_type, dict) else None
        self.declared = None if shape is None else _shape(shape)

    def param_in_shape(self):
        return self.declared

    def _out_shape(self, in_shape):
        return tuple(in_shape)

    def update(self, x):
        _batch_of(x, self.in_shape, self.owner)
        return x

    def to_nir(self, nir):
        return nir.Input(input_type=np.array(self.in_shape), **self._md())


class OutputNode(Node):
    nir_type = "Output"

    def update(self, x):
        return x

    def to_nir(self, nir):
        return nir.Output(output_type=np.array(self.out_shape), **self._md())


class Affine(Node):
    """``y = W x + b`` (NIR ``Affine``; ``Linear`` without ``b``)."""

    nir_type = "Affine"

    def __init__(self, name, node, opts):
        super().__init__(name, node, opts)
        w = np.asarray(node.weight)
        if w.ndim != 2:
            raise ValueError(
                f"{self.owner}: neurodyn supports 2-D weights (out, in); got shape {w.shape}."
            )
        self._param("weight", w)
        if self.nir_type == "Affine":
            b = np.asarray(node.bias)
            if b.shape not in ((), (w.shape[0],)):
                raise ValueError(
                    f"{self.owner}: bias has shape {b.shape}; expected ({w.shape[0]},) for a "
                    f"weight of shape {w.shape}."
                )
            self._param("bias", b)

    def param_in_shape(self):
        return (int(self._original["weight"].shape[1]),)

    def _out_shape(self, in_shape):
        self._check_in(in_shape)
        return (int(self._original["weight"].shape[0]),)

    def update(self, x):
        y = x @ self.weight.value.T
        return y + self.bias.value if self.nir_type == "Affine" else y

    def to_nir(self, nir):
        if self.nir_type == "Affine":
            return nir.Affine(
                weight=self.exported("weight"), bias=self.exported("bias"), **self._md()
            )
        return nir.Linear(weight=self.exported("weight"), **self._md())


class Linear(Affine):
    nir_type = "Linear"


class Scale(Node):
    """``y = s x`` elementwise."""

    nir_type = "Scale"

    def __init__(self, name, node, opts):
        super().__init__(name, node, opts)
        self._param("scale", node.scale)

    def param_in_shape(self):
        return tuple(self._original["scale"].shape) or None

    def update(self, x):
        return x * self.scale.value

    def to_nir(self, nir):
        return nir.Scale(scale=self.exported("scale"), **self._md())


class Threshold(Node):
    """``y = (x > threshold)`` as a float (surrogate gradient with ``spike_fn``)."""

    nir_type = "Threshold"

    def __init__(self, name, node, opts):
        super().__init__(name, node, opts)
        self._param("threshold", node.threshold)

    def param_in_shape(self):
        return tuple(self._original["threshold"].shape) or None

    def update(self, x):
        return spike(x - self.threshold.value, self.opts.spike_fn)

    def to_nir(self, nir):
        return nir.Threshold(threshold=self.exported("threshold"), **self._md())


class Flatten(Node):
    """Merge the axes ``start_dim..end_dim`` (inclusive; of the shape without batch)."""

    nir_type = "Flatten"

    def __init__(self, name, node, opts):
        super().__init__(name, node, opts)
        self.start_dim, self.end_dim = int(node.start_dim), int(node.end_dim)

    def _out_shape(self, in_shape):
        n = len(in_shape)
        s = self.start_dim + n if self.start_dim < 0 else self.start_dim
        e = self.end_dim + n if self.end_dim < 0 else self.end_dim
        if not 0 <= s <= e < n:
            raise ValueError(
                f"{self.owner}: start_dim {self.start_dim} and end_dim {self.end_dim} do not "
                f"select axes of its input shape {tuple(in_shape)} (NIR shapes have no batch "
                "axis)."
            )
        return (*in_shape[:s], int(np.prod(in_shape[s : e + 1])), *in_shape[e + 1 :])

    def update(self, x):
        b = _batch_of(x, self.in_shape, self.owner)
        return jnp.reshape(x, (*b, *self.out_shape))

    def to_nir(self, nir):
        return nir.Flatten(
            input_type={"input": np.array(self.in_shape)},
            start_dim=self.start_dim,
            end_dim=self.end_dim,
            **self._md(),
        )


class Delay(Node):
    """``y[k] = x[k - n]`` with ``n = delay / dt`` steps (per element): a shift register
    of the last ``max n`` inputs."""

    nir_type = "Delay"

    def __init__(self, name, node, opts):
        super().__init__(name, node, opts)
        d = np.asarray(node.delay, float)
        self._original["delay"] = np.asarray(node.delay)
        if np.any(~np.isfinite(d)) or np.any(d < 0):
            raise ValueError(f"{self.owner}: delays must be finite and >= 0 s; got {d}.")
        dt = opts.dt_s
        steps = d / dt
        n = np.round(steps).astype(np.int64)
        off = np.abs(n - steps) > _GRID_TOL
        if np.any(off):
            i = int(np.argmax(off.reshape(-1)))
            raise ValueError(
                f"{self.owner}: delay {d.reshape(-1)[i] * 1e3:g} ms is "
                f"{steps.reshape(-1)[i]:.4g} steps of dt = {dt * 1e3:g} ms, not a multiple of "
                "dt. Load the graph with a dt that divides every delay."
            )
        self.steps = n
        self.delay = u.Quantity(jnp.asarray(d * 1e3, _float()), u.ms)

    def param_in_shape(self):
        return tuple(self.steps.shape) or None

    def rest_output(self):
        return jnp.zeros(self.in_shape, _float())

    @property
    def length(self) -> int:
        return int(self.steps.max()) if self.steps.size else 0

    def init_state(self, batch_size=None, **kwargs):
        super().init_state(batch_size)
        if self.length and self.in_shape is not None:
            shape = (*self.batch, self.length, *self.in_shape)
            self.buffer = Hidden(jnp.zeros(shape, _float()))

    def update(self, x):
        if not self.length:
            return x
        b = _batch_of(x, self.in_shape, self.owner)
        nb = len(b)
        buf = self.buffer.value
        steps = jnp.broadcast_to(jnp.asarray(self.steps), self.in_shape)
        idx = jnp.maximum(steps - 1, 0)
        idx = jnp.broadcast_to(
            idx.reshape((1,) * nb + (1, *self.in_shape)), (*b, 1, *self.in_shape)
        )
        old = jnp.squeeze(jnp.take_along_axis(buf, idx, axis=nb), nb)
        out = jnp.where(steps == 0, x, old)
        keep = jax.lax.slice_in_dim(buf, 0, self.length - 1, axis=nb)
        self.buffer.value = jnp.concatenate([jnp.expand_dims(x.astype(buf.dtype), nb), keep], nb)
        return out

    def to_nir(self, nir):
        return nir.Delay(delay=self._original["delay"], **self._md())


class _Conv(Node):
    """Cross-correlation as PyTorch's ``ConvNd`` (NIR's convention): weight
    ``(C_out, C_in / groups, *kernel)``, input ``(C_in, *spatial)``."""

    ndim: ClassVar[int] = 2

    def __init__(self, name, node, opts):
        super().__init__(name, node, opts)
        w = np.asarray(node.weight)
        if w.ndim != self.ndim + 2:
            raise ValueError(
                f"{self.owner}: weight must have {self.ndim + 2} axes (C_out, C_in, kernel); "
                f"got shape {w.shape}."
            )
        self._param("weight", w)
        bias = np.asarray(node.bias if node.bias is not None else 0.0)
        self._param("bias", np.broadcast_to(bias, (w.shape[0],)) if bias.ndim == 0 else bias)
        self._raw = {k: getattr(node, k) for k in ("stride", "padding", "dilation", "groups")}
        self._raw["input_shape"] = node.input_shape
        self.stride = _ints(node.stride, self.ndim, "stride", self.owner)
        self.dilation = _ints(node.dilation, self.ndim, "dilation", self.owner)
        self.groups = int(np.asarray(node.groups))
        pad = node.padding
        if isinstance(pad, bytes):
            pad = pad.decode()
        if isinstance(pad, str):
            if pad not in ("same", "valid"):
                raise ValueError(
                    f"{self.owner}: padding {pad!r}; expected 'same', 'valid' or ints."
                )
            self.padding = pad.upper()
        else:
            self.padding = [(p, p) for p in _ints(pad, self.ndim, "padding", self.owner)]
        if node.input_shape is not None:
            spatial = _ints(node.input_shape, self.ndim, "input_shape", self.owner)
            self.declared = (int(w.shape[1]) * self.groups, *spatial)
        else:
            self.declared = None

    def param_in_shape(self):
        return self.declared

    def _out_shape(self, in_shape):
        w = self._original["weight"]
        if len(in_shape) != self.ndim + 1 or in_shape[0] != w.shape[1] * self.groups:
            raise ValueError(
                f"{self.owner}: expects inputs of shape ({w.shape[1] * self.groups}, "
                f"{', '.join(['N'] * self.ndim)}) (channels first, no batch axis); the edges "
                f"into it carry shape {tuple(in_shape)}."
            )
        x = jax.ShapeDtypeStruct((1, *in_shape), _float())
        return tuple(jax.eval_shape(self._apply, x, self.weight.value, self.bias.value).shape[1:])

    def _apply(self, x, w, b):
        dims = ("NCH", "OIH", "NCH") if self.ndim == 1 else ("NCHW", "OIHW", "NCHW")
        y = jax.lax.conv_general_dilated(
            x,
            w.astype(x.dtype),
            window_strides=self.stride,
            padding=self.padding,
            rhs_dilation=self.dilation,
            dimension_numbers=dims,
            feature_group_count=self.groups,
        )
        return y + b.reshape((1, -1) + (1,) * self.ndim)

    def update(self, x):
        b = _batch_of(x, self.in_shape, self.owner)
        y = self._apply(x.reshape((-1, *self.in_shape)), self.weight.value, self.bias.value)
        return y.reshape((*b, *self.out_shape))

    def to_nir(self, nir):
        cls = nir.Conv1d if self.ndim == 1 else nir.Conv2d
        spatial = self.in_shape[1:] if self.ndim == 2 else self.in_shape[1]
        raw = self._raw
        return cls(
            input_shape=spatial,
            weight=self.exported("weight"),
            stride=raw["stride"],
            padding=raw["padding"],
            dilation=raw["dilation"],
            groups=raw["groups"],
            bias=self.exported("bias"),
            **self._md(),
        )


class Conv1d(_Conv):
    nir_type = "Conv1d"
    ndim = 1


class Conv2d(_Conv):
    nir_type = "Conv2d"
    ndim = 2


class SumPool2d(Node):
    """Sum over ``kernel_size`` windows (``AvgPool2d``: divided by the window size, with
    the zero padding counted, as PyTorch's default)."""

    nir_type = "SumPool2d"

    def __init__(self, name, node, opts):
        super().__init__(name, node, opts)
        self._raw = {k: getattr(node, k) for k in ("kernel_size", "stride", "padding")}
        self.kernel = _ints(node.kernel_size, 2, "kernel_size", self.owner)
        stride = node.stride if node.stride is not None else node.kernel_size
        self.stride = _ints(stride, 2, "stride", self.owner)
        self.pad = _ints(node.padding if node.padding is not None else 0, 2, "padding", self.owner)

    def _out_shape(self, in_shape):
        if len(in_shape) != 3:
            raise ValueError(
                f"{self.owner}: expects inputs of shape (C, H, W) (no batch axis); the edges "
                f"into it carry shape {tuple(in_shape)}."
            )
        x = jax.ShapeDtypeStruct((1, *in_shape), _float())
        return tuple(jax.eval_shape(self._apply, x).shape[1:])

    def _apply(self, x):
        pad = ((0, 0), (0, 0), (self.pad[0],) * 2, (self.pad[1],) * 2)
        y = jax.lax.reduce_window(
            x, jnp.zeros((), x.dtype), jax.lax.add, (1, 1, *self.kernel), (1, 1, *self.stride), pad
        )
        return y / math.prod(self.kernel) if self.nir_type == "AvgPool2d" else y

    def update(self, x):
        b = _batch_of(x, self.in_shape, self.owner)
        return self._apply(x.reshape((-1, *self.in_shape))).reshape((*b, *self.out_shape))

    def to_nir(self, nir):
        cls = nir.AvgPool2d if self.nir_type == "AvgPool2d" else nir.SumPool2d
        md = self._md() if self.nir_type == "SumPool2d" else {}
        return cls(**self._raw, **md)


class AvgPool2d(SumPool2d):
    nir_type = "AvgPool2d"


class Neuron(Node):
    """The neuron primitives, one step of ``dt`` (see :mod:`neurodyn.io.nir`)."""

    params: ClassVar[tuple[str, ...]] = ()
    times: ClassVar[tuple[str, ...]] = ()
    spiking: ClassVar[bool] = False
    synaptic: ClassVar[bool] = False
    leaky: ClassVar[bool] = False

    def __init__(self, name, node, opts):
        super().__init__(name, node, opts)
        shapes = {}
        for key in self.params:
            value = getattr(node, key, None)
            if key == "v_reset" and value is None:
                value = np.zeros_like(np.asarray(node.v_threshold))
            if key == "w_in" and value is not None and np.ndim(value) == 0:
                value = np.full(np.shape(node.r), value, np.asarray(node.r).dtype)
            self._param(key, value, time=key in self.times)
            shapes[key] = self._original[key].shape
        if len(set(shapes.values())) > 1:
            raise ValueError(
                f"{self.owner}: all parameters must have one shape; got "
                + ", ".join(f"{k} {s}" for k, s in shapes.items())
                + "."
            )
        self.shape = next(iter(shapes.values()))
        extra = self.metadata.get("neurodyn", {})
        extra = extra if isinstance(extra, dict) else {}
        rest = self._original["v_leak"] if self.leaky else np.zeros(self.shape)
        self.v0 = np.broadcast_to(np.asarray(extra.get("v_initial", rest), float), self.shape)
        self.i0 = np.broadcast_to(np.asarray(extra.get("i_initial", 0.0), float), self.shape)

    def param_in_shape(self):
        return tuple(self.shape)

    def rest_output(self):
        """The output before the first step: no spikes, or the initial v."""
        if self.spiking:
            return jnp.zeros(self.shape, _float())
        return jnp.asarray(self.v0, _float())

    def init_state(self, batch_size=None, **kwargs):
        super().init_state(batch_size)
        shape = (*self.batch, *self.shape)
        self.v = Hidden(jnp.broadcast_to(jnp.asarray(self.v0, _float()), shape))
        if self.synaptic:
            self.i = Hidden(jnp.broadcast_to(jnp.asarray(self.i0, _float()), shape))

    def update(self, x):
        opts = self.opts
        euler = opts.method == "euler"
        v = self.v.value
        if self.synaptic:
            cur = self.i.value
            hs = opts.dt / self.tau_syn.value
            a_s = hs if euler else -jnp.expm1(-hs)
            self.i.value = cur + a_s * (self.w_in.value * x - cur)
            drive = cur  # the membrane sees the current at the start of the step
        else:
            drive = x
        if self.leaky:
            h = opts.dt / (self.tau_mem.value if self.synaptic else self.tau.value)
            if euler:
                v_new = v + h * ((self.v_leak.value - v) + self.r.value * drive)
            else:
                v_new = v + -jnp.expm1(-h) * ((self.v_leak.value + self.r.value * drive) - v)
        else:
            v_new = v + self.r.value * drive
        if not self.spiking:
            self.v.value = v_new
            return v_new
        th = self.v_threshold.value
        z = spike(v_new - th, opts.spike_fn)
        s = jax.lax.stop_gradient(z) if opts.detach_reset else z
        if opts.reset == "zero":
            v_new = v_new * (1.0 - s) + self.v_reset.value * s
        else:
            v_new = v_new - s * (th - self.v_reset.value)
        self.v.value = v_new
        return z

    def to_nir(self, nir):
        cls = getattr(nir, self.nir_type)
        return cls(**{k: self.exported(k) for k in self.params}, **self._md())


class I(Neuron):  # noqa: E742
    nir_type = "I"
    params = ("r",)


class IF(Neuron):
    nir_type = "IF"
    params = ("r", "v_threshold", "v_reset")
    spiking = True


class LI(Neuron):
    nir_type = "LI"
    params = ("tau", "r", "v_leak")
    times = ("tau",)
    leaky = True


class LIF(Neuron):
    nir_type = "LIF"
    params = ("tau", "r", "v_leak", "v_threshold", "v_reset")
    times = ("tau",)
    leaky = True
    spiking = True


class CubaLI(Neuron):
    nir_type = "CubaLI"
    params = ("tau_syn", "tau_mem", "r", "v_leak", "w_in")
    times = ("tau_syn", "tau_mem")
    leaky = True
    synaptic = True


class CubaLIF(Neuron):
    nir_type = "CubaLIF"
    params = ("tau_syn", "tau_mem", "r", "v_leak", "v_threshold", "v_reset", "w_in")
    times = ("tau_syn", "tau_mem")
    leaky = True
    synaptic = True
    spiking = True


NODE_TYPES: dict[str, type[Node]] = {
    cls.nir_type: cls
    for cls in (
        InputNode,
        OutputNode,
        Affine,
        Linear,
        Scale,
        Threshold,
        Flatten,
        Delay,
        Conv1d,
        Conv2d,
        SumPool2d,
        AvgPool2d,
        I,
        IF,
        LI,
        LIF,
        CubaLI,
        CubaLIF,
    )
}
