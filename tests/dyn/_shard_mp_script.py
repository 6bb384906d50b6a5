"""The COBA network (procedural connectivity) with Poisson input and 1.5 ms delays over
every device of every process (``python -m neurodyn.launch -n 2 this.py T``) or of this
one process; process 0 prints one JSON line with the spike train's digest."""

from __future__ import annotations

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import jax
from _shard_script import Net, digest

import neurodyn as nd
import neurodyn.units as u
from neurodyn.dyn import SpikeMonitor


def main():
    t_ms = float(sys.argv[1])
    nd.random.seed(7)
    net = Net(delay=1.5 * u.ms, poisson=True, conn="jit")
    mesh = jax.make_mesh((jax.device_count(),), ("neurons",))
    t0 = time.perf_counter()
    res = nd.run(
        net, t_ms * u.ms, dt=0.1 * u.ms, monitors={"s": SpikeMonitor(net.N.spike)}, mesh=mesh
    )
    t, i = res.spikes("s")
    if jax.process_index() == 0:
        out = {
            "spikes": len(t),
            "digest": digest(t, i),
            "processes": jax.process_count(),
            "devices": jax.device_count(),
            "seconds": time.perf_counter() - t0,
            # procedural connectivity: the blocks this process generated (its devices' only)
            "blocks_generated": sum(
                lc.blocks_generated
                for (_, plan) in net.__dict__["_nd_shard_plans"].values()
                for lc in plan.conns.values()
                if lc.procedural is not None
            ),
        }
        print("RESULT " + json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
