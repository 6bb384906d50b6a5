"""Networks: containers whose step runs Brian2's schedule, in fixed slots."""

from __future__ import annotations

from . import _shard
from ._base import Dynamics
from ._clock import run_clock

__all__ = ["Network"]


class Network(Dynamics):
    """A container of populations, projections and inputs.

    One step (:meth:`update`) runs Brian2's schedule, each kind of module in its own
    slot whatever the order in which they were assigned:

    1. inputs: modules that only produce values for this step (``OUProcess``, spike
       generators such as ``PoissonGroup``, rate models, nested networks with their own
       ``update``), in attribute order;
    2. state update and threshold of every population (``integrate_and_fire``): the
       spikes of this step;
    3. synaptic effects of the spikes that arrive in this step: every ``Projection`` and
       ``PoissonInput`` (``deliver``): synaptic variables jump, ``VoltageJump`` adds to
       V, STDP updates weights; then the postsynaptic pathways of the modules that have
       one (``deliver_post``: the ``on_post`` code of string ``Synapses``), so that, as
       in Brian2, every ``on_pre`` pathway runs before any ``on_post`` one;
    4. reset of the neurons that spiked (``reset``).

    A spike therefore acts on conductances in the step it is emitted (plus its delay)
    and on V from the next state update on, exactly as in Brian2. Override ``update``
    for another order.
    """

    def _slots(self):
        """``(inputs, populations, deliveries)``: modules at any depth (shared ones once);
        a nested Network that overrides ``update`` is run as a whole in the input slot."""
        inputs, populations, deliveries, nested = [], [], [], []
        for path, module in self.modules().items():
            if module is self or any(path.startswith(p + ".") for p in nested):
                continue
            if isinstance(module, Network):
                if type(module).update is not Network.update:
                    nested.append(path)
                    inputs.append(module)
                continue
            if hasattr(module, "deliver"):
                deliveries.append(module)
            elif hasattr(module, "integrate_and_fire"):
                populations.append(module)
            elif isinstance(module, Dynamics):
                inputs.append(module)
        return inputs, populations, deliveries

    def update(self):
        """One step of the whole network, in Brian2's order: inputs (other dynamics,
        nested networks with their own ``update``), then every population integrates
        and fires, projections deliver the spikes (every presynaptic pathway before any
        postsynaptic one), and the populations that spiked are reset."""
        inputs, populations, deliveries = self._slots()
        for module in inputs:
            module.update()
        for pop in populations:
            pop.integrate_and_fire()
        ctx = _shard.current()
        if ctx is not None:  # a run split over devices: the spikes travel here
            ctx.exchange_point()
        for module in deliveries:
            module.deliver()
        for module in deliveries:  # Brian2: every on_pre pathway before any on_post
            if hasattr(module, "deliver_post"):
                module.deliver_post()
        for pop in populations:
            pop.reset()

    def reset_state(self, batch_size: int | None = None, **kwargs) -> None:
        """Every State back to its initial value, and the clock back to t = 0."""
        super().reset_state(batch_size, **kwargs)
        run_clock(self).count = 0

    def checkpoint_meta(self) -> dict:
        # the runner's step count: a run continued from a checkpoint resumes at its time
        return {"run_steps": run_clock(self).count}

    def restore_checkpoint_meta(self, meta: dict) -> None:
        run_clock(self).count = int(meta.get("run_steps", 0))

    def before_run(self, dt) -> None:
        """Call ``before_run(dt)`` on every nested module that has one (e.g. delays,
        which size their buffers from the step ``dt``); run before a run starts."""
        for module in self.modules().values():
            if module is not self and hasattr(module, "before_run"):
                module.before_run(dt)
