"""A network split over devices (nd.run(mesh=...)) gives the same spikes on 1, 2 and 4
devices, with one spike exchange per minimum-delay interval (issue #21).

The networks run in a subprocess with 4 virtual CPU devices (XLA's device count is fixed
when JAX starts)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

import neurodyn as nd
import neurodyn.units as u
from neurodyn import event
from neurodyn.dyn import LIF, Monitor, Projection

HERE = os.path.dirname(__file__)


def _run_script(cases: str) -> dict:
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4")
    proc = subprocess.run(
        [sys.executable, os.path.join(HERE, "_shard_script.py"), "1000", cases],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT ") :])


# the networks (in make test) and three more schedules (in make test-slow)
CASES = ["csr", "jit", "poisson_noise", "stdp"]
MORE = ["delay_stp", "synapse_delays"]


@pytest.fixture(scope="module")
def report():
    return _run_script(",".join(CASES))


@pytest.fixture(scope="module")
def more():
    return _run_script(",".join([*MORE, "mixed"]))


def _same_on_1_2_4(runs, case):
    one = runs["1"]
    assert one["spikes"] > 10_000  # 1 s of a 4k network firing at ~20 Hz
    for d in ("2", "4"):
        assert runs[d]["spikes"] == one["spikes"], (case, d)
        assert runs[d]["digest"] == one["digest"], (case, d)
        assert runs[d]["v"] == one["v"], (case, d)
        assert runs[d].get("weights") == one.get("weights"), (case, d)


@pytest.mark.parametrize("case", CASES)
def test_same_spikes_on_1_2_4_devices(report, case):
    _same_on_1_2_4(report[case], case)


@pytest.mark.slow
@pytest.mark.parametrize("case", MORE)
def test_more_schedules_same_on_1_2_4_devices(more, case):
    _same_on_1_2_4(more[case], case)
    assert more[case]["4"]["digest"] == more[case]["None"]["digest"]
    for d in ("2", "4"):
        assert sum(more[case][d]["collectives"].values()) == 1
    # 1.5 ms at 0.1 ms: 15 steps between exchanges; per-synapse delays >= 1 ms: 10
    assert more[case]["2"]["block_steps"] == {"delay_stp": 15, "synapse_delays": 10}[case]


@pytest.mark.parametrize("case", ["csr", "jit", "stdp"])
def test_deterministic_networks_equal_the_unsharded_run(report, case):
    # without random draws in the loop, the split changes nothing at all
    assert report[case]["4"]["digest"] == report[case]["None"]["digest"]
    assert report[case]["4"]["v"] == report[case]["None"]["v"]
    assert report[case]["4"].get("weights") == report[case]["None"].get("weights")
    if case == "stdp":  # and STDP did change the weights
        assert report[case]["4"]["weights"][1] != 6.0


@pytest.mark.parametrize("case", CASES)
def test_one_collective_per_min_delay_block(report, case):
    for d in ("2", "4"):
        ops = report[case][d]["collectives"]
        assert ops["all-gather"] == 1, (case, d, ops)
        assert sum(ops.values()) == 1, (case, d, ops)
    assert sum(report[case]["1"]["collectives"].values()) == 0  # one device: none
    # zero delay: every step; 1 ms delays at 0.1 ms: every 10 steps
    assert report["csr"]["2"]["block_steps"] == 1
    assert report["stdp"]["2"]["block_steps"] == 10


@pytest.mark.slow
def test_mixed_network_same_on_1_2_4_devices(more):
    # separate populations with per-neuron tau, V_th, tau_ref and I_ext, a PoissonGroup
    # source, delays and a NeuronGroup from strings fed through a view
    runs = more["mixed"]
    assert runs["1"]["spikes"] > 100
    for d in ("2", "4"):
        assert runs[d] == runs["1"], d


def _mesh(n=1):
    return jax.make_mesh((n,), ("neurons",), devices=jax.devices()[:n])


def test_bad_input_is_refused_with_the_fix():
    class Odd(nd.Network):
        def __init__(self):
            self.a = LIF(3, name="a")

    with pytest.raises(TypeError, match="jax.sharding.Mesh"):
        nd.run(Odd(), 1 * u.ms, dt=0.1 * u.ms, mesh="neurons")
    mesh2 = jax.sharding.Mesh(np.array(jax.devices()[:1]).reshape(1, 1), ("a", "b"))
    with pytest.raises(ValueError, match="one mesh axis"):
        nd.run(Odd(), 1 * u.ms, dt=0.1 * u.ms, mesh=mesh2)

    class StpWithSynapseDelays(nd.Network):
        def __init__(self):
            self.a = LIF(4, name="a")
            conn = event.FixedProb(0.5, seed=1).build(4, 4, weight=1 * u.nS)
            delays = (np.arange(conn.nnz) % 3 + 1) * 0.1 * u.ms
            self.p = Projection(self.a, self.a, conn, delay=delays, stp=nd.dyn.STP())

    with pytest.raises(TypeError, match="STP with per-synapse delays"):
        nd.run(StpWithSynapseDelays(), 1 * u.ms, dt=0.1 * u.ms, mesh=_mesh())

    class WithFunctionMonitor(nd.Network):
        def __init__(self):
            self.a = LIF(4, name="a")

    net = WithFunctionMonitor()
    with pytest.raises(TypeError, match="records States only"):
        nd.run(net, 1 * u.ms, dt=0.1 * u.ms, mesh=_mesh(), monitors={"m": lambda: net.a.V.value})
    with pytest.raises(ValueError, match="cannot run inside"):
        nd.jit(lambda: nd.run(net, 1 * u.ms, dt=0.1 * u.ms, mesh=_mesh()))()


def test_uneven_split_names_the_population():
    # checked in the subprocess-free way: a mesh of 1 device divides everything, so build
    # the plan by hand for a pretend count of 3 devices
    from neurodyn.dyn._shard import ShardPlan

    class Net(nd.Network):
        def __init__(self):
            self.pop = LIF(10, name="pop")

    mesh = _mesh()
    plan_mesh = jax.sharding.Mesh(np.array(jax.devices()[:1] * 3), ("neurons",))
    with pytest.raises(ValueError, match=r"pop has 10 neurons, which 3 devices"):
        ShardPlan(Net(), plan_mesh, 0.1 * u.ms)
    assert mesh.size == 1


def test_monitors_come_back_whole_on_one_device():
    class Net(nd.Network):
        def __init__(self):
            self.pop = LIF(8, name="pop", I_ext=300 * u.pA, R=100 * u.Mohm)

    a, b = Net(), Net()
    mons = lambda n: {"v": Monitor(n.pop.V, every=1 * u.ms), "s": Monitor(n.pop[:4].spike)}  # noqa: E731
    r1 = nd.run(a, 20 * u.ms, dt=0.1 * u.ms, monitors=mons(a))
    r2 = nd.run(b, 20 * u.ms, dt=0.1 * u.ms, monitors=mons(b), mesh=_mesh())
    np.testing.assert_array_equal(np.asarray(r1["v"].mantissa), np.asarray(r2["v"].mantissa))
    np.testing.assert_array_equal(np.asarray(r1["s"]), np.asarray(r2["s"]))
    assert np.asarray(r2["s"]).shape == (200, 4)
    # a continued run goes on from where it stopped
    r3 = nd.run(b, 10 * u.ms, dt=0.1 * u.ms, monitors=mons(b), mesh=_mesh())
    r4 = nd.run(a, 10 * u.ms, dt=0.1 * u.ms, monitors=mons(a))
    np.testing.assert_array_equal(np.asarray(r3["v"].mantissa), np.asarray(r4["v"].mantissa))


def _result(proc):
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT ") :])


def test_two_processes_through_the_launcher_equal_one_process():
    script = os.path.join(HERE, "_shard_mp_script.py")
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    one = _result(
        subprocess.run(
            [sys.executable, script, "1000"], capture_output=True, text=True, env=env, timeout=300
        )
    )
    t0 = time.perf_counter()
    two = _result(
        subprocess.run(
            [sys.executable, "-m", "neurodyn.launch", "-n", "2", "--timeout", "240"]
            + [script, "1000"],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
    )
    elapsed = time.perf_counter() - t0
    assert (one["processes"], one["devices"]) == (1, 1)
    assert (two["processes"], two["devices"]) == (2, 2)
    assert one["spikes"] > 10_000
    assert two["spikes"] == one["spikes"] and two["digest"] == one["digest"]
    # each of the 2 processes generated the procedural connectivity of its own device only
    # (E and I projections: one block each), never the whole matrix; on one device it stays
    # procedural
    assert two["blocks_generated"] == 2 and one["blocks_generated"] == 0
    assert elapsed < 60, elapsed


@pytest.mark.slow
def test_a_failed_process_stops_the_others(tmp_path):
    script = tmp_path / "fail.py"
    script.write_text(
        "import os, sys, time\n"
        "if os.environ['NEURODYN_PROCESS_ID'] == '1':\n"
        "    sys.exit(3)\n"
        "time.sleep(120)\n"
    )
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "neurodyn.launch", "-n", "2", str(script)],
        capture_output=True,
        text=True,
        timeout=200,
    )
    assert proc.returncode == 3
    assert "process 1 of 2 exited with code 3" in proc.stderr
    assert time.perf_counter() - t0 < 60
