"""Saving and loading the States of a module: npz + JSON metadata, no pickle."""

from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from neurodyn.units import Quantity

from ._errors import CheckpointError
from ._module import Module

__all__ = ["save", "load"]

_FORMAT = "neurodyn-states"
_VERSION = 1


def _is_key(leaf) -> bool:
    return hasattr(leaf, "dtype") and jnp.issubdtype(leaf.dtype, jax.dtypes.prng_key)


def _describe_value(value) -> dict[str, Any]:
    leaves = jax.tree_util.tree_leaves(value)
    info: dict[str, Any] = {
        "treedef": str(jax.tree_util.tree_structure(value)),
        "leaves": [],
    }
    if isinstance(value, Quantity):
        info["unit"] = value.unit.name
        info["dim"] = str(value.unit.dim)
        info["scale"] = str(value.unit.scale)
    for leaf in leaves:
        if _is_key(leaf):
            info["leaves"].append(
                {"kind": "key", "impl": str(jax.random.key_impl(leaf)), "shape": list(leaf.shape)}
            )
        else:
            info["leaves"].append(
                {"kind": "array", "dtype": str(leaf.dtype), "shape": list(np.shape(leaf))}
            )
    return info


def _constants(module: Module) -> dict[str, tuple[dict, list[np.ndarray]]]:
    """``{"path.name": (description, leaves)}`` of every sub-module's constants; the
    description names each leaf (``.data``, ``.indices``, ...)."""
    out = {}
    for mpath, mod in module.modules().items():
        for name, value in mod.checkpoint_constants().items():
            key = f"{mpath}.{name}" if mpath else name
            try:
                value = jax.tree_util.tree_map(np.asarray, value)
                flat, _ = jax.tree_util.tree_flatten_with_path(
                    value, is_leaf=lambda x: isinstance(x, Quantity)
                )
            except (TypeError, ValueError):
                continue  # not array data
            leaves = [np.asarray(v.mantissa if isinstance(v, Quantity) else v) for _, v in flat]
            if any(a.dtype == object for a in leaves):
                continue
            info = _describe_value(value)
            info["names"] = [jax.tree_util.keystr(p) for p, _ in flat]
            info["units"] = [v.unit.name if isinstance(v, Quantity) else "" for _, v in flat]
            out[key] = (info, leaves)
    return out


def _show(a: np.ndarray, unit) -> str:
    text = np.array2string(a, precision=6) if a.size <= 4 else f"an array of shape {list(a.shape)}"
    return f"{text} {unit}" if unit else text


def save(path: str | os.PathLike, module: Module) -> None:
    """Write all States of ``module`` to ``path`` (an ``.npz`` file), with the module's
    constants (declared parameters, connectivity: see ``Module.checkpoint_constants``).

    Arrays go into the npz, structure/units/dtypes/State types into a JSON
    entry; nothing is pickled. The file is written to a temporary name in the
    same directory and renamed into place, so ``path`` is never half-written.
    """
    if not isinstance(module, Module):
        raise TypeError(f"save expects a Module, got {type(module).__name__}.")
    path = os.fspath(path)
    meta: dict[str, Any] = {"format": _FORMAT, "version": _VERSION, "states": {}}
    arrays: dict[str, np.ndarray] = {}
    for spath, st in module.states().items():
        value = st._value
        info = _describe_value(value)
        info["type"] = type(st).__name__
        meta["states"][spath] = info
        for i, leaf in enumerate(jax.tree_util.tree_leaves(value)):
            data = np.asarray(jax.random.key_data(leaf) if _is_key(leaf) else leaf)
            if data.dtype.kind == "V":  # bfloat16, float8...: stored as raw unsigned ints
                data = data.view(f"u{data.dtype.itemsize}")
            arrays[f"{spath}#{i}"] = data
    # the global random stream (nd.random.DEFAULT: Poisson inputs, noise, initialisers
    # draw from it), so that a loaded network continues with the same numbers
    from . import random as _random

    rng = _random.DEFAULT._value
    meta["rng"] = str(jax.random.key_impl(rng))
    meta["module"] = module.checkpoint_meta()
    arrays["__rng__"] = np.asarray(jax.random.key_data(rng))
    meta["constants"] = {}
    for key, (info, leaves) in _constants(module).items():
        meta["constants"][key] = info
        for i, leaf in enumerate(leaves):
            arrays[f"__const__{key}#{i}"] = leaf
    arrays["__meta__"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _read(path: str) -> tuple[dict, dict[str, np.ndarray]]:
    try:
        with open(path, "rb") as f:
            raw = f.read()
        with np.load(io.BytesIO(raw), allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except FileNotFoundError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as err:
        raise CheckpointError(f"{path} is not a readable neurodyn checkpoint: {err}") from err
    if "__meta__" not in arrays:
        raise CheckpointError(f"{path} has no neurodyn metadata; was it written by nd.save?")
    try:
        meta = json.loads(arrays.pop("__meta__").tobytes().decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{path}: corrupt metadata ({err}).") from err
    if meta.get("format") != _FORMAT:
        raise CheckpointError(f"{path} is not a neurodyn checkpoint (format {meta.get('format')}).")
    if meta.get("version", 0) > _VERSION:
        raise CheckpointError(
            f"{path} was written by a newer neurodyn (format version {meta['version']}); "
            "upgrade neurodyn to read it."
        )
    return meta, arrays


def _check_constants(path: str, meta: dict, arrays: dict, module: Module) -> None:
    saved = meta.get("constants")
    if saved is None:  # written before constants were saved
        return
    mine = _constants(module)
    problems = []
    for key in sorted(set(saved) | set(mine)):
        if key not in mine:
            problems.append(f"{key} is in the file but not in the model")
            continue
        if key not in saved:
            problems.append(f"{key} is in the model but not in the file")
            continue
        info, leaves = mine[key]
        names = info["names"]
        theirs = [arrays.get(f"__const__{key}#{i}") for i in range(len(saved[key]["leaves"]))]
        if info["treedef"] != saved[key]["treedef"] or len(theirs) != len(leaves):
            problems.append(f"{key}: {saved[key]['treedef']} in the file, {info['treedef']} here")
            continue
        units_f = saved[key].get("units", [""] * len(leaves))
        for name, t, m, unit_f, unit_m in zip(names, theirs, leaves, units_f, info["units"]):
            if t is None or t.shape != m.shape or not np.array_equal(t, m) or unit_f != unit_m:
                where = f"{key}{name}" if len(leaves) > 1 else key
                if t is not None and t.shape == m.shape and t.size > 4:
                    k = int(np.argmax(np.ravel(t != m))) if unit_f == unit_m else 0
                    a, b = np.ravel(t)[k], np.ravel(m)[k]
                    problems.append(f"{where}: element {k} is {a} in the file, {b} here")
                else:
                    shown = "missing" if t is None else _show(t, unit_f)
                    problems.append(f"{where}: {shown} in the file, {_show(m, unit_m)} here")
                break
    if problems:
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise CheckpointError(
            f"{path} was saved from a different model: {'; '.join(problems[:5])}{more}. "
            "Build the model with the same parameters and connectivity, or load the States "
            "anyway with nd.load(path, module, strict=False)."
        )


def load(path: str | os.PathLike, module: Module, strict: bool = True, rng: bool = True) -> None:
    """Load States saved by :func:`save` into ``module``, and (``rng=True``) the global
    random stream ``nd.random.DEFAULT`` as it was when the file was saved, so a run
    continued from the file draws the numbers the uninterrupted run would have.

    Everything is checked before anything is written: a checkpoint with
    missing or extra States, or a different structure, shape, dtype, unit or
    State type is refused with :class:`CheckpointError` and the module is left
    untouched. With ``strict`` (the default) the module's constants (declared
    parameters, connectivity) must also equal those saved; ``strict=False`` loads the
    States into a model that differs in them.
    """
    if not isinstance(module, Module):
        raise TypeError(f"load expects a Module, got {type(module).__name__}.")
    path = os.fspath(path)
    meta, arrays = _read(path)
    if strict:
        _check_constants(path, meta, arrays, module)
    arrays = {k: v for k, v in arrays.items() if not k.startswith("__const__")}
    rng_data = arrays.pop("__rng__", None)
    saved = meta["states"]
    states = module.states()
    missing = [p for p in states if p not in saved]
    extra = [p for p in saved if p not in states]
    if missing or extra:
        raise CheckpointError(
            f"{path} does not match the module: States missing from the file {missing}, "
            f"States in the file but not in the module {extra}."
        )
    new_values = []
    for spath, st in states.items():
        info = saved[spath]
        mine = _describe_value(st._value)
        problems = []
        if info.get("type") != type(st).__name__:
            problems.append(f"State type {info.get('type')} in the file, {type(st).__name__} here")
        if info.get("unit") != mine.get("unit"):
            problems.append(f"unit {info.get('unit')} in the file, {mine.get('unit')} here")
        if info["treedef"] != mine["treedef"]:
            problems.append(f"structure {info['treedef']} in the file, {mine['treedef']} here")
        elif info["leaves"] != mine["leaves"]:
            problems.append(f"leaves {info['leaves']} in the file, {mine['leaves']} here")
        if problems:
            raise CheckpointError(f"{path}: State {spath!r} does not match: {'; '.join(problems)}.")
        leaves = []
        for i, leaf_info in enumerate(info["leaves"]):
            key = f"{spath}#{i}"
            if key not in arrays:
                raise CheckpointError(f"{path}: array for {spath!r} (leaf {i}) is missing.")
            data = arrays[key]
            if leaf_info["kind"] == "key":
                impl = leaf_info["impl"]
                leaves.append(jax.random.wrap_key_data(jnp.asarray(data), impl=impl))
            else:
                target = jnp.dtype(leaf_info["dtype"])
                if target.kind == "V" and data.dtype == np.dtype(f"u{target.itemsize}"):
                    data = data.view(target)
                if list(data.shape) != leaf_info["shape"] or str(data.dtype) != leaf_info["dtype"]:
                    raise CheckpointError(
                        f"{path}: array for {spath!r} has shape {data.shape} and dtype "
                        f"{data.dtype}, but the metadata says {leaf_info}."
                    )
                leaves.append(jnp.asarray(data))
        new_values.append(jax.tree_util.tree_unflatten(st._treedef, leaves))
    for st, value in zip(states.values(), new_values):
        st._value = value
    module.restore_checkpoint_meta(meta.get("module", {}))
    if rng and rng_data is not None:
        from . import random as _random

        impl = meta.get("rng")
        _random.DEFAULT._value = jax.random.wrap_key_data(jnp.asarray(rng_data), impl=impl)
