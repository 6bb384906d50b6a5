"""Fixed and slow points of high-dimensional systems (Sussillo & Barak 2013).

``F`` is a plain ``F(h, *args) -> dh/dt`` on arrays, or a :mod:`neurodyn.dyn` population
(every neuron: e.g. ``nd.dyn.ThresholdLinear(n, W=W)``, a recurrent rate network) or
:class:`~neurodyn.dyn.Network` of populations coupled continuously (inputs registered with
``add_input`` that read other populations' variables, gap junctions): see
:class:`~neurodyn.analysis.NetworkField` for the layout of ``h``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from ._phase import classify

__all__ = ["SlowPoint", "slow_points"]


@dataclass
class SlowPoint:
    """A point with small speed ``q = |F(h)|² / 2``, its Jacobian eigenvalues and class.

    For a ``dyn`` model ``h`` is the flat state in the declared units (``q`` in those units
    per ms², squared) and :attr:`values` gives it by variable, with units.
    """

    h: np.ndarray
    q: float
    eigenvalues: np.ndarray
    kind: str
    field: object = None

    @property
    def values(self) -> dict:
        """``{label: values}`` for a ``dyn`` model (``"r"``, or ``"path.r"`` in a network;
        Quantities in the declared units, one value per neuron); ``{index: value}``
        otherwise."""
        if self.field is None:
            return {i: float(v) for i, v in enumerate(self.h)}
        return self.field.values(self.h)

    @property
    def stable(self) -> bool:
        """Whether every eigenvalue of the Jacobian at the point has a negative real
        part (linearly stable)."""
        return bool(np.all(np.real(self.eigenvalues) < 0))


def slow_points(
    F: Callable,
    starts=None,
    args: Sequence = (),
    steps: int = 3000,
    learning_rate: float = 0.05,
    tol: float = 1e-8,
    merge: float = 1e-3,
    optimizer=None,
    *,
    param: str | None = None,
    param_unit=None,
) -> list[SlowPoint]:
    """Minimise ``q(h) = |F(h)|² / 2`` from every start in parallel (vmap, optax Adam by
    default), keep the minima with ``q < tol`` (fixed points; raise ``tol`` for slow
    points), de-duplicate within ``merge`` and classify each by its Jacobian.
    Returned sorted by ``q``.

    ``F`` may be a ``neurodyn.dyn`` population or Network instead of a function: the
    vector field of all its neurons (:class:`~neurodyn.analysis.NetworkField`). ``starts``
    is then ``None`` (the current state), a dict ``{variable: values}`` (Quantities or
    numbers in the declared units; a leading axis gives several starts; ``"path.var"``
    for a network) or plain numbers ``[k, size]``; ``param=`` names a parameter to set
    (``"path.name"`` in a network) whose value is ``args[0]``. Each point's ``values``
    gives the state by variable, with units.

    Example:
        >>> import jax.numpy as jnp
        >>> import neurodyn as nd
        >>> from neurodyn.analysis import slow_points
        >>> net = nd.dyn.ThresholdLinear(2, W=jnp.array([[0.0, -2.0], [-2.0, 0.0]]), I_ext=1.0)
        >>> pts = slow_points(net, {"r": jnp.array([[0.9, 0.1], [0.1, 0.9]])})
        >>> sorted(tuple(round(float(v), 3) for v in p.values["r"]) for p in pts)
        [(0.0, 1.0), (1.0, 0.0)]
    """
    from . import _models

    if isinstance(F, (_models.Model, _models.Network)):
        field = _models.NetworkField(F, param, unit=param_unit)
        args = tuple(args)
        if field.params:
            if len(args) > 1:
                raise TypeError(
                    f"slow_points: args= with a model holds one value, that of {param!r}; "
                    f"got {len(args)}."
                )
            args = (field.param_value(args[0] if args else None),)
        elif args:
            raise TypeError(
                f"slow_points: args= with the model {field.name} holds the value of the "
                "parameter named by param=; no param was named."
            )
        pts = slow_points(
            field,
            field.starts(starts),
            args,
            steps=steps,
            learning_rate=learning_rate,
            tol=tol,
            merge=merge,
            optimizer=optimizer,
        )
        for p in pts:
            p.field = field
        return pts
    if param is not None or param_unit is not None:
        raise TypeError(
            "slow_points: param= and param_unit= are for a neurodyn.dyn model or Network in "
            f"place of F; F is a {type(F).__name__}."
        )
    if starts is None:
        raise TypeError("slow_points(F, starts) needs starts: an array [k, d] of points.")
    try:
        import optax
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("slow_points needs optax: pip install 'neurodyn[train]'.") from err
    opt = optimizer or optax.adam(learning_rate)
    starts = jnp.atleast_2d(jnp.asarray(starts, jnp.result_type(float)))

    def q(h):
        v = F(h, *args)
        return 0.5 * jnp.sum(v * v)

    def run(h0):
        state = opt.init(h0)

        def step(carry, _):
            h, s = carry
            g = jax.grad(q)(h)
            upd, s = opt.update(g, s, h)
            return (optax.apply_updates(h, upd), s), None

        (h, _), _ = jax.lax.scan(step, (h0, state), None, length=steps)
        return h, q(h)

    hs, qs = jax.jit(jax.vmap(run))(starts)
    hs, qs = np.asarray(hs), np.asarray(qs)
    keep = np.isfinite(qs) & (qs < tol)
    order = np.argsort(qs[keep])
    found: list[SlowPoint] = []
    jac = jax.jit(jax.jacfwd(lambda h: F(h, *args)))
    for h, qv in zip(hs[keep][order], qs[keep][order]):
        if any(np.max(np.abs(h - p.h)) < merge for p in found):
            continue
        J = np.asarray(jac(jnp.asarray(h)))
        found.append(SlowPoint(h, float(qv), np.linalg.eigvals(J), classify(J)))
    return found
