"""The two sides of a ``Synapses`` (a population or a view of one) and its
connectivity as a CSR structure."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

import neurodyn.units as u
from neurodyn.event import CSR, Connectivity, Dense, FixedFanOut
from neurodyn.state import State

from . import _clock
from ._base import PopulationView

__all__ = ["Side", "as_csr"]


class Side:
    """One side of the synapses: a population or a view of one (``G[:4000]``)."""

    def __init__(self, obj, role: str, owner: str):
        if isinstance(obj, PopulationView):
            root, sl = obj.parent, obj.index
        else:
            root, sl = obj, slice(0, getattr(obj, "num", 0))
        if not hasattr(root, "num"):
            raise TypeError(f"{owner}: {role} must be a population or a view; got {obj!r}.")
        self.root, self.slice, self.role = root, sl, role
        self.n = sl.stop - sl.start
        self.full = sl.start == 0 and sl.stop == root.num
        self.spec = getattr(root, "_spec", None)  # a NeuronGroup

    def _cut(self, v):
        return v if self.full else v[..., self.slice]

    def spikes(self):
        return self._cut(self.root.spike.value)

    def lookup(self, name):
        """``(Dimension, var_type)`` of a variable of this side, or None."""
        if self.spec is not None:
            e = self.spec.eqs.get(name)
            if e is not None:
                return e.dim, e.var_type
            if name == "lastspike":
                return u.second.dim, "float"
            if name == "not_refractory" and self.spec.refractory is not None:
                return u.DIMENSIONLESS, "boolean"
            return None
        s = getattr(self.root, name, None)
        if isinstance(s, State) and name != "spike":
            v = s.value
            if v.dtype == jnp.bool_:
                return u.DIMENSIONLESS, "boolean"
            return u.get_unit(v).dim, "float"
        return None

    def read_si(self, name):
        root = self.root
        if self.spec is not None:
            spec = self.spec
            if name in spec.eqs.subexpr_names:
                env = root.si_values()
                env.update(spec.specials(root, env, _clock.t().to_value(u.second), None))
                v = jnp.broadcast_to(spec.compiled(name)(env), env["__shape__"])
            else:
                v = root.si_values()[name]
            return self._cut(jnp.asarray(v))
        v = getattr(root, name).value
        m = u.get_mantissa(v)
        s = float(v.unit.scale) if isinstance(v, u.Quantity) else 1.0
        return self._cut(m if s == 1.0 else m * s)

    def state(self, name, who) -> State:
        if self.spec is not None:
            return self.root.writable(name, who)
        s = getattr(self.root, name, None)
        if not isinstance(s, State):
            raise TypeError(f"{who}: {self.root.name} has no variable {name!r} to write.")
        return s

    def write_si(self, name, value, who):
        state = self.state(name, who)
        old = state.value
        if self.spec is not None:
            shape = jnp.shape(u.get_mantissa(old))
            if not self.full:
                value = self.spec.to_si(name, old).at[..., self.slice].set(value)
            state.value = self.spec.from_si(name, value, shape)
            return
        if isinstance(old, u.Quantity):
            s = float(old.unit.scale)
            m = value if s == 1.0 else value / s
            if not self.full:
                m = old.mantissa.at[..., self.slice].set(m)
            state.value = u.Quantity(m.astype(old.mantissa.dtype), old.unit)
        else:
            state.value = value if self.full else old.at[..., self.slice].set(value)

    def refractory(self):
        """``(mask, variables)``: where writes to the ``(unless refractory)`` variables
        are dropped, or ``(None, ())``."""
        f = getattr(self.root, "refractory_mask", None)
        mask = f() if f is not None else None
        if mask is None:
            return None, ()
        return self._cut(mask), tuple(getattr(self.root, "refractory_vars", ()))


def as_csr(conn, n_pre, n_post, owner) -> CSR:
    if hasattr(conn, "build") and not isinstance(conn, Connectivity):
        conn = conn.build(n_pre, n_post, weight=1.0)
    if isinstance(conn, FixedFanOut):
        k = conn.indices.shape[1]
        indptr = np.arange(conn.indices.shape[0] + 1, dtype=np.int32) * k
        conn = CSR(1.0, np.asarray(conn.indices).reshape(-1), indptr, conn.shape)
    elif isinstance(conn, Dense):
        n_a, n_b = conn.shape
        indptr = np.arange(n_a + 1, dtype=np.int32) * n_b
        conn = CSR(1.0, np.tile(np.arange(n_b, dtype=np.int32), n_a), indptr, conn.shape)
    if not isinstance(conn, CSR):
        raise TypeError(
            f"{owner}: conn must be a connectivity builder (event.FixedProb(0.1), ...) or a "
            f"CSR, FixedFanOut or Dense; got {type(conn).__name__}."
        )
    if conn.shape != (n_pre, n_post):
        raise ValueError(
            f"{owner}: the connectivity has shape {conn.shape} but the groups have {n_pre} "
            f"(pre) and {n_post} (post) neurons."
        )
    return CSR(1.0, conn.indices, conn.indptr, conn.shape)
