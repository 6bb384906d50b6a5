"""Chunked HDF5 datasets filled from arrays a chunk at a time.

:func:`allocate` gives hdmf an empty chunked (and gzip-compressed) dataset to create
(``H5DataIO(shape=..., dtype=...)``, pynwb writes the file's structure);
:func:`fill` then writes its chunks from a ``source(selection)`` that returns the
values of one chunk's region (a view of the run's array, or a chunk's worth of spike
times computed on the fly). At most a few chunks (1 MiB each) exist at a time, so a
long run is never copied whole. The chunks are compressed by a few threads (zlib
releases the GIL) and written in order with HDF5's direct chunk write, as HDF5's own
``shuffle`` + ``deflate`` filters would store them: the file reads back through the
ordinary filter pipeline (h5py, pynwb, MATLAB, HDFView). Deflate levels 1-3 use ISA-L
(the ``isal`` package of the io extra, when installed: the same deflate streams at about
6x zlib's speed, 300 vs 47 MB/s per core on a float32 voltage trace, the same ratio);
other levels, or without it, zlib.
"""

from __future__ import annotations

import math
import os
import zlib
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

__all__ = ["CHUNK_BYTES", "chunk_shape", "allocate", "fill", "default_threads"]

#: the target size of one chunk
CHUNK_BYTES = 1 << 20


def _deflate(level: int):
    """A ``compress(buffer) -> bytes`` writing zlib streams at ``level``."""
    if 1 <= level <= 3:
        try:
            from isal import isal_zlib
        except ImportError:
            pass
        else:
            return lambda buf: isal_zlib.compress(buf, level)
    return lambda buf: zlib.compress(buf, level)


def default_threads() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def chunk_shape(shape: tuple, itemsize: int, target: int = CHUNK_BYTES) -> tuple:
    """About ``target`` bytes per chunk: time (the first axis) runs longest, at most
    128 columns of the second axis, every further axis whole (so one neuron's trace is
    read from few chunks)."""
    shape = tuple(int(s) for s in shape)
    if len(shape) == 1:
        return (max(1, min(shape[0], target // itemsize)),)
    cols = max(1, min(shape[1], 128))
    rest = math.prod(shape[2:])
    rows = max(1, min(shape[0], target // (itemsize * cols * max(rest, 1))))
    return (rows, cols, *shape[2:])


def allocate(shape, dtype, gzip: int | None):
    """An hdmf ``H5DataIO`` that makes pynwb create an empty chunked dataset of ``shape``
    and ``dtype`` (gzip level ``gzip`` with the shuffle filter, or uncompressed), to be
    filled by :func:`fill`; a plain empty array when ``shape`` holds no value."""
    from hdmf.backends.hdf5.h5_utils import H5DataIO

    shape, dtype = tuple(int(s) for s in shape), np.dtype(dtype)
    if math.prod(shape) == 0:
        return np.zeros(shape, dtype)
    opts = {}
    if gzip is not None:
        opts = {"compression": "gzip", "compression_opts": int(gzip), "shuffle": True}
    return H5DataIO(shape=shape, dtype=dtype, chunks=chunk_shape(shape, dtype.itemsize), **opts)


def _offsets(shape, chunks):
    grid = [range(0, s, c) for s, c in zip(shape, chunks)]
    idx = np.stack(np.meshgrid(*[np.asarray(g) for g in grid], indexing="ij"), -1)
    return [tuple(int(x) for x in row) for row in idx.reshape(-1, len(shape))]


def fill(dset, source: Callable, threads: int | None = None) -> None:
    """Write every chunk of the empty chunked h5py dataset ``dset`` from
    ``source(selection)`` (a tuple of slices; it returns that region's values, any
    dtype that casts to the dataset's)."""
    shape, chunks, dtype = dset.shape, dset.chunks, dset.dtype
    if chunks is None:
        raise ValueError(f"{dset.name}: not a chunked dataset.")
    filters = dset.id.get_create_plist()
    names = {filters.get_filter(k)[0] for k in range(filters.get_nfilters())}
    import h5py

    known = {h5py.h5z.FILTER_DEFLATE, h5py.h5z.FILTER_SHUFFLE}
    if names - known:
        raise ValueError(f"{dset.name}: filters {names - known} are not written here.")
    level = int(dset.compression_opts) if h5py.h5z.FILTER_DEFLATE in names else None
    compress = _deflate(level) if level is not None else None
    shuffle = h5py.h5z.FILTER_SHUFFLE in names
    item = dtype.itemsize

    def chunk(offset):
        sel = tuple(slice(o, min(o + c, s)) for o, c, s in zip(offset, chunks, shape))
        block = np.asarray(source(sel))
        want = tuple(x.stop - x.start for x in sel)
        if block.shape != want:
            raise ValueError(f"{dset.name}: source gave {block.shape} for {want}.")
        if block.shape != chunks or block.dtype != dtype:
            full = np.zeros(chunks, dtype)  # (an edge chunk: HDF5 stores whole chunks)
            full[tuple(slice(0, n) for n in block.shape)] = block
            block = full
        if shuffle and item > 1:  # HDF5's shuffle: byte k of every value, for each k
            out = np.empty((item, *chunks), np.uint8)
            if block.strides[-1] == item:  # (straight from a strided view: one copy)
                bytes_ = block.view(np.uint8).reshape(*chunks, item)
            else:
                bytes_ = np.ascontiguousarray(block).view(np.uint8).reshape(*chunks, item)
            out[...] = np.moveaxis(bytes_, -1, 0)
            block = out
        else:
            block = np.ascontiguousarray(block)
        return compress(block) if compress is not None else block

    offsets = _offsets(shape, chunks)
    threads = default_threads() if threads is None else max(1, int(threads))
    if threads == 1:
        for off in offsets:
            dset.id.write_direct_chunk(off, chunk(off))
        return
    with ThreadPoolExecutor(threads) as pool:
        pending: deque = deque()
        for off in offsets:
            pending.append((off, pool.submit(chunk, off)))
            if len(pending) >= threads:  # a few chunks in flight, never the whole array
                o, fut = pending.popleft()
                dset.id.write_direct_chunk(o, fut.result())
        while pending:
            o, fut = pending.popleft()
            dset.id.write_direct_chunk(o, fut.result())
