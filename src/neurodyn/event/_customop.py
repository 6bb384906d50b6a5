"""``CustomOp``: the escape hatch for users with a kernel of their own.

Only ``reference`` (a pure-JAX function of arrays) is required; it defines the op's
shapes, dtypes and meaning. The op becomes one JAX primitive, so it composes with
``jit``, ``vmap``, ``grad`` and ``jvp``; each rule not given is derived from the
reference:

============  ================================================  ==========================
rule          given as                                          derived when missing
============  ================================================  ==========================
cpu, gpu      a registered ``jax.ffi`` target name (``str``),   the reference, lowered by
              or a Python function of the same arguments        XLA
              written with JAX operations (``jax.ffi.ffi_call``,
              Pallas, plain ``jnp``), lowered in its place
jvp           ``jvp(primals, tangents, **params) -> (out,       linear arguments: the op
              tangent_out)`` (tangents are arrays, zeros for    itself on the tangents;
              an argument without one)                          others: ``jax.jvp`` of the
                                                                reference
transpose     ``transpose(cotangents, *args, **params)`` ->     ``jax.vjp`` of the
              cotangents of the ``linear`` arguments (args at   reference in the linear
              linear positions are None)                        arguments
batch         ``batch(args, dims, **params) -> (outs,           no kernel given:
              out_dims)`` (JAX's batching-rule convention)      ``jax.vmap`` of the
                                                                reference; a kernel: the
                                                                lanes one after another
                                                                (``lax.map``), kernel kept
============  ================================================  ==========================

``linear=(i, ...)``: the argument positions in which the op is (jointly) linear, the
others held fixed (``W @ x``: ``linear=(1,)``); a ``transpose`` needs it. An FFI target
receives the operands in order and writes results shaped as the reference's; keyword
parameters of a call (static, hashable: ints, floats, strings, tuples) are passed to
every rule as keywords and to an FFI target as attributes (ints and floats only).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax._src import dispatch
from jax.extend.core import Primitive
from jax.interpreters import ad, batching, mlir

__all__ = ["CustomOp"]

_PLATFORMS = {"cpu": ("cpu",), "gpu": ("cuda", "rocm")}


def _callable_or_none(name: str, fn, what: str):
    if fn is not None and not callable(fn):
        raise TypeError(
            f"CustomOp: {name}= must be {what}, got {type(fn).__name__}. Leave it out to derive "
            "it from the reference."
        )


class CustomOp:
    """A user-supplied operator as one JAX primitive (see the module docstring).

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from neurodyn import event
        >>> def ref(w, x):
        ...     return w @ x
        >>> matvec = event.CustomOp(ref, linear=(1,), name="matvec")
        >>> w, x = jnp.arange(6.0).reshape(2, 3), jnp.ones(3)
        >>> matvec(w, x).tolist()
        [3.0, 12.0]
        >>> jax.grad(lambda x: matvec(w, x).sum())(x).tolist()
        [3.0, 5.0, 7.0]
    """

    def __init__(
        self,
        reference: Callable,
        *,
        cpu: str | Callable | None = None,
        gpu: str | Callable | None = None,
        jvp: Callable | None = None,
        transpose: Callable | None = None,
        batch: Callable | None = None,
        linear: tuple = (),
        name: str | None = None,
    ):
        if not callable(reference):
            raise TypeError(
                "CustomOp: reference= must be a pure-JAX function of the op's arrays (it "
                f"defines shapes, dtypes and the derived rules); got {type(reference).__name__}."
            )
        for key, kernel in (("cpu", cpu), ("gpu", gpu)):
            if kernel is not None and not (isinstance(kernel, str) or callable(kernel)):
                raise TypeError(
                    f"CustomOp: {key}= must be a registered jax.ffi target name (str) or a "
                    f"function of the op's arrays written with JAX operations; got "
                    f"{type(kernel).__name__}."
                )
            if isinstance(kernel, str) and not kernel:
                raise ValueError(f"CustomOp: {key}= is an empty target name.")
        _callable_or_none("jvp", jvp, "jvp(primals, tangents, **params) -> (out, tangent)")
        _callable_or_none("transpose", transpose, "transpose(cotangents, *args, **params)")
        _callable_or_none("batch", batch, "batch(args, dims, **params) -> (outs, out_dims)")
        try:
            linear = tuple(int(i) for i in linear)
        except (TypeError, ValueError):
            raise TypeError(
                f"CustomOp: linear= must be a tuple of argument positions, got {linear!r}."
            ) from None
        if any(i < 0 for i in linear) or len(set(linear)) != len(linear):
            raise ValueError(
                f"CustomOp: linear= must list distinct non-negative positions, got {linear}."
            )
        if transpose is not None and not linear:
            raise ValueError(
                "CustomOp: transpose= is the transpose of a linear op; say in which arguments "
                "it is linear with linear=(i, ...) (W @ x: linear=(1,))."
            )
        self.reference, self.cpu, self.gpu = reference, cpu, gpu
        self.jvp_rule, self.transpose_rule, self.batch_rule = jvp, transpose, batch
        self.linear = linear
        self.name = name or getattr(reference, "__name__", "custom_op")
        self.prim = Primitive(f"neurodyn_custom_{self.name}")
        self.prim.multiple_results = True
        self._single = {}  # params -> whether the reference returns one array
        self._register()

    def __repr__(self) -> str:
        kernels = [k for k in ("cpu", "gpu") if getattr(self, k) is not None]
        return f"CustomOp({self.name!r}, kernels={kernels}, linear={self.linear})"

    # ------------------------------------------------------------------ rules
    def _ref_flat(self, *args, **params):
        out = self.reference(*args, **params)
        return list(out) if isinstance(out, (tuple, list)) else [out]

    def _register(self) -> None:
        prim = self.prim
        prim.def_impl(functools.partial(dispatch.apply_primitive, prim))

        def abstract(*avals, **params):
            shapes = jax.eval_shape(
                functools.partial(self._ref_flat, **params),
                *(jax.ShapeDtypeStruct(a.shape, a.dtype) for a in avals),
            )
            return [jax.core.ShapedArray(s.shape, s.dtype) for s in shapes]

        prim.def_abstract_eval(abstract)
        mlir.register_lowering(prim, mlir.lower_fun(self._ref_flat, multiple_results=True))
        for key in ("cpu", "gpu"):
            kernel = getattr(self, key)
            if kernel is None:
                continue
            if isinstance(kernel, str):
                rule = jax.ffi.ffi_lowering(kernel)

                def lowering(ctx, *args, _rule=rule, **params):
                    return _rule(ctx, *args, **params)

            else:

                def flat(*args, _k=kernel, **params):
                    out = _k(*args, **params)
                    return list(out) if isinstance(out, (tuple, list)) else [out]

                lowering = mlir.lower_fun(flat, multiple_results=True)
            for platform in _PLATFORMS[key]:
                mlir.register_lowering(prim, lowering, platform=platform)
        ad.primitive_jvps[prim] = self._jvp
        if self.linear:
            ad.primitive_transposes[prim] = self._transpose
        batching.primitive_batchers[prim] = self._batch

    def _jvp(self, primals, tangents, **params):
        tangents = [
            jnp.zeros_like(x) if type(t) is ad.Zero else t for x, t in zip(primals, tangents)
        ]
        if self.jvp_rule is not None:
            out, t_out = self.jvp_rule(tuple(primals), tuple(tangents), **params)
            out = list(out) if isinstance(out, (tuple, list)) else [out]
            t_out = list(t_out) if isinstance(t_out, (tuple, list)) else [t_out]
            return out, t_out
        out = self.prim.bind(*primals, **params)
        t_out = [jnp.zeros(o.shape, o.dtype) for o in out]
        nonlin = [
            i
            for i in range(len(primals))
            if i not in self.linear and jnp.issubdtype(jnp.result_type(primals[i]), jnp.inexact)
        ]
        if self.linear:
            # linear in these (others fixed): the op itself on the tangents
            args = list(primals)
            for i in self.linear:
                args[i] = tangents[i]
            t_out = [a + b for a, b in zip(t_out, self.prim.bind(*args, **params))]
        if nonlin:

            def f(*xs):
                args = list(primals)
                for i, x in zip(nonlin, xs):
                    args[i] = x
                return self._ref_flat(*args, **params)

            _, t = jax.jvp(f, [primals[i] for i in nonlin], [tangents[i] for i in nonlin])
            t_out = [a + b for a, b in zip(t_out, t)]
        return out, t_out

    def _transpose(self, cts, *args, **params):
        fixed = [i for i, a in enumerate(args) if i not in self.linear]
        for i in fixed:
            if ad.is_undefined_primal(args[i]):
                raise TypeError(
                    f"CustomOp {self.name!r}: the transpose needs argument {i} fixed, but it is "
                    f"being differentiated as linear; declare linear={self.linear + (i,)} if "
                    "the op is jointly linear in it."
                )
        cts = [
            jnp.zeros(a.shape, a.dtype) if type(c) is ad.Zero else c
            for c, a in zip(cts, self.prim.abstract_eval(*map(_aval, args), **params)[0])
        ]
        if self.transpose_rule is not None:
            given = [None if i in self.linear else a for i, a in enumerate(args)]
            res = self.transpose_rule(tuple(cts), *given, **params)
            res = list(res) if isinstance(res, (tuple, list)) else [res]
            if len(res) != len(self.linear):
                raise ValueError(
                    f"CustomOp {self.name!r}: transpose= returned {len(res)} cotangents for "
                    f"{len(self.linear)} linear arguments {self.linear}."
                )
        else:

            def f(*xs):
                full = list(args)
                for i, x in zip(self.linear, xs):
                    full[i] = x
                return self._ref_flat(*full, **params)

            lin = [jnp.zeros(args[i].aval.shape, args[i].aval.dtype) for i in self.linear]
            _, vjp = jax.vjp(f, *lin)
            res = vjp(cts)
        out = [None] * len(args)
        for i, r in zip(self.linear, res):
            out[i] = None if r is None or not ad.is_undefined_primal(args[i]) else r
        return out

    def _batch(self, args, dims, **params):
        if self.batch_rule is not None:
            outs, out_dims = self.batch_rule(tuple(args), tuple(dims), **params)
            if not isinstance(outs, (tuple, list)):  # one result: one array, one axis
                outs, out_dims = [outs], [out_dims]
            return list(outs), list(out_dims)
        moved = [x if d is None else jnp.moveaxis(x, d, 0) for x, d in zip(args, dims)]
        mapped = [d is not None for d in dims]
        if self.cpu is None and self.gpu is None:
            in_axes = [0 if m else None for m in mapped]
            outs = jax.vmap(functools.partial(self._ref_flat, **params), in_axes=in_axes)(*moved)
            return list(outs), [0] * len(outs)

        def one(xs):
            it = iter(xs)
            return self.prim.bind(*(next(it) if m else a for a, m in zip(moved, mapped)), **params)

        outs = jax.lax.map(one, [a for a, m in zip(moved, mapped) if m])
        return list(outs), [0] * len(outs)

    # ------------------------------------------------------------------ call
    def __call__(self, *args, **params):
        arrays = []
        for i, a in enumerate(args):
            try:
                arrays.append(jnp.asarray(a))
            except TypeError:
                raise TypeError(
                    f"CustomOp {self.name!r}: argument {i} must be an array, got "
                    f"{type(a).__name__}; static values go in keywords."
                ) from None
        bad = [i for i in self.linear if i >= len(arrays)]
        if bad:
            raise ValueError(
                f"CustomOp {self.name!r}: linear={self.linear} names argument {bad[0]}, but the "
                f"call gives {len(arrays)} arguments."
            )
        for k, v in params.items():
            try:
                hash(v)
            except TypeError:
                raise TypeError(
                    f"CustomOp {self.name!r}: keyword {k}= is a static parameter and must be "
                    f"hashable (int, float, str, tuple); got {type(v).__name__}. Arrays go in "
                    "the positional arguments."
                ) from None
        key = tuple(sorted(params.items())), tuple((a.shape, a.dtype) for a in arrays)
        single = self._single.get(key)
        if single is None:
            shapes = jax.eval_shape(functools.partial(self.reference, **params), *arrays)
            single = not isinstance(shapes, (tuple, list))
            self._single[key] = single
        outs = self.prim.bind(*arrays, **params)
        return outs[0] if single else tuple(outs)


def _aval(x):
    return x.aval if ad.is_undefined_primal(x) else jax.typeof(x)
