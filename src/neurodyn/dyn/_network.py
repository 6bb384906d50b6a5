"""Networks: containers whose default update runs projections, then populations."""

from __future__ import annotations

from ._base import Dynamics
from ._projection import Projection

__all__ = ["Network"]


class Network(Dynamics):
    """A container of populations, projections and inputs.

    The default :meth:`update` first updates every :class:`Projection` (they read
    the spikes of the previous step, so transmission takes one step) and then
    every other dynamical module, in attribute order. Override ``update`` for
    another order.
    """

    def _children(self):
        """Projections and other dynamical modules, found at any depth (shared ones
        once); a nested Network is updated as a whole."""
        projections, others, nested = [], [], []
        for path, module in self.modules().items():
            if module is self or any(path.startswith(p + ".") for p in nested):
                continue
            if isinstance(module, Projection):
                projections.append(module)
            elif isinstance(module, Network):
                nested.append(path)
                others.append(module)
            elif isinstance(module, Dynamics):
                others.append(module)
        return projections, others

    def update(self):
        projections, others = self._children()
        for proj in projections:
            proj.update()
        for module in others:
            module.update()

    def before_run(self, dt) -> None:
        for module in self.modules().values():
            if module is not self and hasattr(module, "before_run"):
                module.before_run(dt)
