"""Surrogate spike functions by name: ``f(x, width_or_slope) -> Heaviside(x)`` whose
derivative is a smooth bump. They are the classes of :mod:`neurodyn.dyn.surrogate`
(one layer below, so neuron models can use them); this module gives them functional
names, and ``all()`` lists them.

Example:
    >>> import jax
    >>> from neurodyn.train import surrogate
    >>> float(surrogate.sigmoid(0.2)), float(jax.grad(surrogate.super_spike)(0.0))
    (1.0, 1.0)
    >>> sorted(surrogate.all())[:3]
    ['arctan', 'erf', 'exponential']
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from neurodyn.dyn import surrogate as _s

__all__ = [
    "sigmoid",
    "arctan",
    "super_spike",
    "piecewise_linear",
    "gaussian",
    "multi_gaussian",
    "exponential",
    "erf",
    "softsign",
    "straight_through",
    "all",
    "get",
]


@functools.cache
def _instance(cls, param: float):
    return cls(param)


def _make(cls, default: float, doc: str) -> Callable:
    def fn(x, width_or_slope: float = default):
        return _instance(cls, float(width_or_slope))(x)

    fn.__doc__ = (
        f"{doc} (default parameter {default}); see :class:`neurodyn.dyn.surrogate.{cls.__name__}`."
    )
    return fn


sigmoid = _make(_s.Sigmoid, 4.0, "Sigmoid surrogate, slope alpha")
arctan = _make(_s.Arctan, 2.0, "Arctan surrogate, slope alpha")
super_spike = _make(_s.FastSigmoid, 10.0, "SuperSpike / fast sigmoid surrogate, slope beta")
piecewise_linear = _make(_s.PiecewiseLinear, 1.0, "Triangle surrogate, half width")
gaussian = _make(_s.Gaussian, 0.5, "Gaussian surrogate, standard deviation")
multi_gaussian = _make(_s.MultiGaussian, 0.5, "Multi-Gaussian surrogate, standard deviation")
exponential = _make(_s.Exponential, 2.0, "Exponential surrogate, decay alpha")
erf = _make(_s.Erf, 1.0, "Erf surrogate, slope alpha")
softsign = _make(_s.Softsign, 2.0, "Softsign surrogate, slope alpha")
straight_through = _make(_s.StraightThrough, 1.0, "Straight-through estimator, window width")

_ALL = {
    "sigmoid": sigmoid,
    "arctan": arctan,
    "super_spike": super_spike,
    "piecewise_linear": piecewise_linear,
    "gaussian": gaussian,
    "multi_gaussian": multi_gaussian,
    "exponential": exponential,
    "erf": erf,
    "softsign": softsign,
    "straight_through": straight_through,
}


def all() -> dict[str, Callable]:
    """``{name: function}`` of every surrogate."""
    return dict(_ALL)


def get(name: str) -> Callable:
    """The surrogate called ``name``."""
    try:
        return _ALL[name]
    except KeyError:
        raise ValueError(f"Unknown surrogate {name!r}; available: {', '.join(_ALL)}.") from None
