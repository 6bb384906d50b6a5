"""A NIR graph through neurodyn: import, run, export, and write the activity to NWB.

The Braille-reading recurrent network of the NIR paper (trained in snnTorch; the graph
is in tests/reference/nir) is loaded as a neurodyn Module, run for 256 steps of 0.1 ms
on a random spike input under ``nd.jit``, exported to NIR again (NIR reads it back with
its type checks, and it reproduces the same spikes), and its hidden and output spikes
and the output neurons' membrane potential are written, with the input as the
stimulus, to an NWB file (validated by pynwb) and a SONATA spike file. Needs
``pip install neurodyn[io]``. Prints one JSON line.

    python examples/nir_roundtrip.py [--graph PATH] [--out DIR] [--steps N] [--no-plot]

Writes the input, hidden and output spikes and the output neurons' v to
examples/figures/nir_roundtrip.png (not with ``--no-plot``).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import jax.numpy as jnp
import numpy as np

import neurodyn as nd
import neurodyn.units as u
from neurodyn.dyn import RunResult
from neurodyn.io import nir as ndnir
from neurodyn.io import nwb, sonata

GRAPH = Path(__file__).resolve().parents[1] / "tests/reference/nir/braille_noDelay_bias_zero.nir"
DT = 0.1 * u.ms


def run(model, xs):
    """Spikes of the hidden layer and of the output, and the output neurons' v."""
    out_node = model.nodes["lif2"]

    def step(x):
        out = model.step(x)
        return out["lif1.lif"], out["output"], out_node.v.value

    model.reset_state()
    hidden, output, v = nd.for_loop(nd.jit(step), jnp.asarray(xs))
    return np.asarray(hidden) > 0, np.asarray(output) > 0, np.asarray(v)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--graph", type=Path, default=GRAPH)
    parser.add_argument("--out", type=Path, default=None, help="folder for the files")
    parser.add_argument("--steps", type=int, default=256)
    parser.add_argument("--no-plot", action="store_true", help="write no figure")
    args = parser.parse_args()
    out_dir = args.out or Path(tempfile.mkdtemp(prefix="nir_roundtrip_"))
    out_dir.mkdir(parents=True, exist_ok=True)

    t0 = time.perf_counter()
    model = ndnir.load(args.graph, dt=DT, method="euler", reset="zero")
    xs = (np.random.default_rng(0).random((args.steps, 12)) < 0.3).astype(np.float32)
    hidden, output, v = run(model, xs)
    t_run = time.perf_counter() - t0

    exported = out_dir / "braille.nir"
    ndnir.save(exported, model)  # written atomically and read back by nir.read
    again = ndnir.load(exported, dt=DT, method="euler", reset="zero")
    hidden2, output2, _ = run(again, xs)
    same = bool(np.array_equal(hidden, hidden2) and np.array_equal(output, output2))

    # the activity as a RunResult: row k is the end of step k (spikes as Brian2 stamps them)
    times = (np.arange(1, args.steps + 1) * DT.to_value(u.ms)) * u.ms
    result = RunResult(
        times=times,
        data={"hidden": hidden, "output": output, "v_output": v},
        timing={"dt_ms": float(DT.to_value(u.ms))},
    )
    nwb_path = nwb.write(
        out_dir / "braille_activity.nwb",
        result,
        session_description="The NIR paper's Braille RNN, imported into neurodyn, on random input.",
        stimuli={"input": xs},  # row k: the input of step k (NWB's stimulus group)
    )
    sonata_path = sonata.write_spikes(out_dir / "braille_spikes.h5", result)
    back = nwb.read(nwb_path)
    if not args.no_plot:
        _figure(np.asarray(times.to_value(u.ms)), xs, hidden, output, v, same)

    print(
        json.dumps(
            {
                "graph": args.graph.name,
                "steps": args.steps,
                "hidden_spikes": int(hidden.sum()),
                "output_spikes": int(output.sum()),
                "reexport_same_spikes": same,
                "nwb_hidden_spikes": int(len(back["spikes"]["hidden"][0])),
                "nwb_stimulus_same": bool(np.array_equal(back["stimuli"]["input"][1], xs)),
                "files": [str(exported), str(nwb_path), str(sonata_path)],
                "run_s": round(t_run, 3),
                "total_s": round(time.perf_counter() - t0, 3),
            }
        )
    )


def _figure(t_ms, xs, hidden, output, v, same) -> None:
    try:
        import _plots
    except ImportError:  # run by runpy (the tests): the examples folder is not on sys.path
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import _plots

    made = _plots.figure(
        "nir_roundtrip", 4, 1, figsize=(8, 8), sharex=True, height_ratios=(1.2, 1.5, 1, 1.5)
    )
    if made is None:
        return
    fig, (ax_in, ax_h, ax_o, ax_v) = made
    layers = ((ax_in, xs, "input channel"), (ax_h, hidden, "hidden neuron"),
              (ax_o, output, "output neuron"))  # fmt: skip
    for ax, spikes, what in layers:
        step, i = np.nonzero(spikes)
        _plots.raster(ax, t_ms[step], i)
        ax.set_ylim(-0.5, spikes.shape[1] - 0.5)
        ax.set_ylabel(what)
    title = "NIR Braille RNN in neurodyn"
    ax_in.set_title(title + (": the re-exported graph gives the same spikes" if same else ""))
    k = int(np.argmin(output.sum(0)))  # the output neuron that fires least
    ax_v.plot(t_ms, v[:, k], color="k", lw=1)
    ax_v.set_ylabel(f"v of output {k} (NIR units)")
    ax_v.set_xlabel("time (ms)")
    _plots.save(fig, "nir_roundtrip")


if __name__ == "__main__":
    main()
