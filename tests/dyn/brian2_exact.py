"""Shared by the exact Brian2 comparisons: read a reference network written by
tests/reference/generate_brian2_*_exact.py and compare a neurodyn spike raster with it."""

from pathlib import Path

import numpy as np

REFERENCE = Path(__file__).resolve().parents[1] / "reference"


def load_exact(name: str):
    """``(ref, n, n_e, adj_e, adj_i)``: the npz and its E and I adjacency matrices."""
    ref = np.load(REFERENCE / name)
    n, n_e = int(ref["n"]), int(ref["n_e"])
    adj_e = np.unpackbits(ref["adj_e"], axis=1, count=n).astype(bool)
    adj_i = np.unpackbits(ref["adj_i"], axis=1, count=n).astype(bool)
    return ref, n, n_e, adj_e, adj_i


def assert_same_spike_train(raster, ref, at_least: int) -> None:
    """Every spike of ``raster`` ([step, neuron] booleans) at the step and neuron of
    Brian2's, and no other."""
    steps, index = np.nonzero(np.asarray(raster))
    ours = sorted(zip(steps.tolist(), index.tolist()))
    theirs = sorted(zip(ref["spike_step"].tolist(), ref["spike_index"].tolist()))
    assert len(theirs) > at_least
    assert len(ours) == len(theirs)
    assert ours == theirs
