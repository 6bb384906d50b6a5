"""CPU kernels for user-defined event operators, generated from the body's jaxpr.

The body (a scalar jaxpr) becomes a numba ``@njit`` function; a kernel template (the
CSR loop of a scatter, gather or update) calls it for the synapses of active rows or
columns; the template is compiled as a numba ``cfunc`` whose address the one C++ FFI
trampoline (``_native/user.cc``) calls: no Python in the call path. The generated
source is written to a cache folder (``$NEURODYN_CACHE`` or ``~/.cache/neurodyn``)
named by its hash, so numba's own cache reuses the machine code across processes.

numba is optional (``pip install neurodyn[numba]``): without it, or for a body with a
primitive that has no numba form here, the operator runs its ``lax`` loop instead —
the same results, slower.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import pathlib
import sys

import jax
import numpy as np

from ._ops import native_available

__all__ = ["usable", "kernel_address"]

_DISABLE = "NEURODYN_DISABLE_NUMBA"
_KERNELS: dict = {}  # key -> (module, address); modules keep the cfuncs alive


def usable() -> bool:
    """Whether the numba kernels can be used (numba importable, native trampoline
    loaded, not disabled by ``NEURODYN_DISABLE_NUMBA=1``)."""
    if os.environ.get(_DISABLE, "").strip() not in ("", "0"):
        return False
    if not native_available():
        return False
    return importlib.util.find_spec("numba") is not None


class Unsupported(Exception):
    """A primitive without a numba form here: the caller falls back to the lax loop."""


_BINARY = {
    "add": "({} + {})",
    "sub": "({} - {})",
    "mul": "({} * {})",
    "div": "({} / {})",
    "pow": "({} ** {})",
    "max": "max({}, {})",
    "min": "min({}, {})",
    "atan2": "math.atan2({}, {})",
    "rem": "math.fmod({}, {})",
    "nextafter": "np.nextafter({}, {})",
    "lt": "({} < {})",
    "le": "({} <= {})",
    "gt": "({} > {})",
    "ge": "({} >= {})",
    "eq": "({} == {})",
    "ne": "({} != {})",
    "and": "({} & {})",
    "or": "({} | {})",
    "xor": "({} ^ {})",
    "add_any": "({} + {})",
    "shift_right_logical": "({} >> {})",
    "shift_left": "({} << {})",
}
_UNARY = {
    "neg": "(-{})",
    "abs": "abs({})",
    "sign": "np.sign({})",
    "sqrt": "math.sqrt({})",
    "rsqrt": "(1.0 / math.sqrt({}))",
    "cbrt": "np.cbrt({})",
    "square": "({0} * {0})",
    "exp": "math.exp({})",
    "exp2": "(2.0 ** {})",
    "log": "math.log({})",
    "log1p": "math.log1p({})",
    "expm1": "math.expm1({})",
    "tanh": "math.tanh({})",
    "logistic": "(1.0 / (1.0 + math.exp(-{})))",
    "sin": "math.sin({})",
    "cos": "math.cos({})",
    "tan": "math.tan({})",
    "asin": "math.asin({})",
    "acos": "math.acos({})",
    "atan": "math.atan({})",
    "sinh": "math.sinh({})",
    "cosh": "math.cosh({})",
    "asinh": "math.asinh({})",
    "acosh": "math.acosh({})",
    "atanh": "math.atanh({})",
    "erf": "math.erf({})",
    "erfc": "math.erfc({})",
    "lgamma": "math.lgamma({})",
    "floor": "np.floor({})",
    "ceil": "np.ceil({})",
    "is_finite": "np.isfinite({})",
    "stop_gradient": "{}",
    "copy": "{}",
    "copy_p": "{}",
}


def _np_type(dtype) -> str:
    return f"np.{np.dtype(dtype).name}"


class _Emitter:
    def __init__(self):
        self.lines: list[str] = []
        self.names: dict = {}
        self.count = 0
        # expression -> the variable that holds it: a body traced from text recomputes
        # shared terms (a trace's decay read by two statements); each is emitted once
        self.memo: dict = {}

    def fresh(self) -> str:
        self.count += 1
        return f"t{self.count}"

    def read(self, var) -> str:
        if isinstance(var, jax.extend.core.Literal):
            val = np.asarray(var.val)
            return f"{_np_type(val.dtype)}({val.item()!r})"
        return self.names[var]

    def emit(self, jaxpr, inputs: list[str]) -> list[str]:
        for var, name in zip(jaxpr.invars, inputs):
            self.names[var] = name
        for eqn in jaxpr.eqns:
            prim, ins = eqn.primitive.name, [self.read(v) for v in eqn.invars]
            if prim in ("pjit", "jit", "closed_call", "core_call", "custom_jvp_call", "remat"):
                sub = eqn.params.get("jaxpr") or eqn.params.get("call_jaxpr")
                closed = getattr(sub, "jaxpr", sub)
                consts = getattr(sub, "consts", ())
                if consts:
                    raise Unsupported(f"{prim} with constants")
                outs = _Emitter.__new__(_Emitter)
                outs.lines, outs.names, outs.count = self.lines, dict(self.names), self.count
                outs.memo = self.memo
                results = outs.emit(closed, ins)
                self.count = outs.count
                for var, r in zip(eqn.outvars, results):
                    self.names[var] = r
                continue
            if prim in _BINARY:
                expr = _BINARY[prim].format(*ins)
            elif prim in _UNARY:
                expr = _UNARY[prim].format(ins[0])
            elif prim == "integer_pow":
                expr = f"({ins[0]} ** {int(eqn.params['y'])})"
            elif prim == "not":
                expr = f"(not {ins[0]})" if eqn.invars[0].aval.dtype == np.bool_ else f"(~{ins[0]})"
            elif prim == "select_n":
                if len(ins) != 3:
                    raise Unsupported("select_n with more than two cases")
                expr = f"({ins[2]} if {ins[0]} else {ins[1]})"
            elif prim == "clamp":
                expr = f"min(max({ins[1]}, {ins[0]}), {ins[2]})"
            elif prim == "round":
                method = int(getattr(eqn.params.get("rounding_method"), "value", 0))
                expr = (
                    f"np.round({ins[0]})"
                    if method == 1
                    else f"(np.sign({ins[0]}) * np.floor(abs({ins[0]}) + 0.5))"
                )
            elif prim == "convert_element_type":
                dtype = np.dtype(eqn.params["new_dtype"])
                expr = f"({ins[0]} != 0)" if dtype == np.bool_ else f"{_np_type(dtype)}({ins[0]})"
            else:
                raise Unsupported(prim)
            dtype = np.dtype(eqn.outvars[0].aval.dtype)
            if np.issubdtype(dtype, np.integer) and prim != "convert_element_type":
                # numba widens small integers: wrap back (the hash's uint32 arithmetic)
                expr = f"{_np_type(dtype)}({expr})"
            if expr in self.memo:
                self.names[eqn.outvars[0]] = self.memo[expr]
                continue
            out = self.fresh()
            self.lines.append(f"    {out} = {expr}")
            self.names[eqn.outvars[0]] = out
            self.memo[expr] = out
        return [self.read(v) for v in jaxpr.outvars]


def _body_source(closed, n_inputs: int, out_dtypes: list, name: str = "body") -> str:
    """The body as a numba function of scalars; several outputs (an update of several
    fields) are returned as a tuple."""
    if closed.consts:
        raise Unsupported("a body with array constants")
    em = _Emitter()
    args = [f"x{i}" for i in range(n_inputs)]
    results = em.emit(closed.jaxpr, args)
    outs = [f"{_np_type(d)}({r})" for r, d in zip(results, out_dtypes)]
    ret = outs[0] if len(outs) == 1 else f"({', '.join(outs)})"
    lines = [f"def {name}({', '.join(args)}):", *em.lines, f"    return {ret}"]
    return "\n".join(lines)


def _jit_functions(conn) -> str:
    """numba functions of a JitProb's generation, emitted from the jaxprs of
    ``_jitconn``'s own hash and weight code (no constant is repeated here): ``skip_hash(
    seed, i, k)`` (the hash compared with the skip table) and ``weight(seed, i, k)`` (the
    seed an argument: one kernel for every seed)."""
    import jax.numpy as jnp

    from ._jitconn import _unit_uniform, hash3

    _, _, dist, w0, w1, wdt = conn
    dtype = jnp.dtype(wdt)

    def weight(seed, i, k):  # the weight of ``generate_rows`` for one synapse
        if dist == 0:
            return jnp.asarray(w0, dtype)
        if dist == 1:
            u = _unit_uniform(hash3(seed, i, k, 1), jnp.float32)
            return (w0 + (w1 - w0) * u).astype(dtype)
        u1 = _unit_uniform(hash3(seed, i, k, 1), jnp.float32)
        u2 = _unit_uniform(hash3(seed, i, k, 2), jnp.float32)
        z = jnp.sqrt(-2.0 * jnp.log(u1)) * jnp.cos(2.0 * jnp.pi * u2)
        return (w0 + w1 * z).astype(dtype)

    ij = (jnp.uint32(0), jnp.uint32(0), jnp.uint32(0))
    out = []
    for name, fn, d in (
        ("skip_hash", lambda seed, i, k: hash3(seed, i, k, 0), np.uint32),
        ("weight", weight, dtype),
    ):
        closed = jax.make_jaxpr(fn)(*ij)
        out.append("@njit(cache=True, inline='always')\n" + _body_source(closed, 3, [d], name))
    return "\n\n\n".join(out) + "\n\n\n"


_HEADER = """import math
import numpy as np
from numba import carray, cfunc, njit, types

SIG = types.void(types.CPointer(types.voidptr), types.CPointer(types.int64))

"""


def _arrays(dtypes: list, first: int) -> list[str]:
    return [
        f"    a{first + i} = carray(ptrs[{first + i}], (sizes[{first + i}],), dtype={_np_type(d)})"
        for i, d in enumerate(dtypes)
    ]


def _kernel_source(
    kind: str, on: str, layout: dict, dtypes: list, out_dtypes: list, aliases=()
) -> str:
    """The loop of one operator; operand order as in ``_custom_impl._split``; the results
    follow the operands (``out`` the first, ``out<t>`` each of an update's)."""
    n_pre_f, n_post_f, n_syn_f, n_p_f = (len(layout[g]) for g in ("pre", "post", "syn", "p"))
    starts = np.cumsum([3, n_pre_f, n_post_f, n_syn_f, n_p_f])
    pre_i, post_i, syn_i, p_i = (list(range(a, b)) for a, b in zip(starts[:-1], starts[1:]))
    n_ops = len(dtypes)
    out = n_ops  # the result's position
    lines = ["@cfunc(SIG, cache=True)", "def kernel(ptrs, sizes):"]
    lines += _arrays(dtypes, 0)
    for t, d in enumerate(out_dtypes):
        lines.append(
            f"    out{t} = carray(ptrs[{out + t}], (sizes[{out + t}],), dtype={_np_type(d)})"
        )
    lines.append("    out = out0")
    # an update of several fields: results past the first that XLA did not alias to their
    # old-value operand start as a copy of it (the trampoline copies the first)
    for t, a in enumerate(aliases[1:], start=1):
        lines += [
            f"    if out{t}.ctypes.data != a{a}.ctypes.data:",
            f"        for q in range(sizes[{a}]):",
            f"            out{t}[q] = a{a}[q]",
        ]
    lines += ["    n_pre = sizes[1] - 1", "    nnz = sizes[2]"]
    lines += [f"    p{k} = a{i}[0]" for k, i in enumerate(p_i)]

    def pre_at(b, i):
        return [f"a{k}[({b} if sizes[{k}] > n_pre else 0) * n_pre + {i}]" for k in pre_i]

    def post_at(b, j):
        return [f"a{k}[({b} if sizes[{k}] > n_post else 0) * n_post + {j}]" for k in post_i]

    def call(b, i, j, syn):
        args = pre_at(b, i) + post_at(b, j) + [f"a{k}[{syn}]" for k in syn_i]
        args += [f"p{k}" for k in range(len(p_i))]
        return f"body({', '.join(args)})"

    def store(indent, i, j, syn):
        """Write the body's value(s) for synapse ``syn`` into the update's results."""
        if len(out_dtypes) == 1:
            return [f"{indent}out[{syn}] = {call('0', i, j, syn)}"]
        lines = [f"{indent}r = {call('0', i, j, syn)}"]
        return lines + [f"{indent}out{t}[{syn}] = r[{t}]" for t in range(len(out_dtypes))]

    spike = "" if np.dtype(dtypes[0]) == np.bool_ else "s * "
    if kind == "scatter":
        lines += [
            "    if n_pre <= 0:",
            f"        for q in range(sizes[{out}]):",
            "            out[q] = 0",
            "        return",
            "    B = sizes[0] // n_pre",
            f"    n_post = np.uint64(sizes[{out}] // B)",
            f"    for q in range(sizes[{out}]):",
            "        out[q] = 0",
        ]
        # unsigned indices: numba skips the negative-index fix-up on every access
        row = [
            "    for k in range(np.uint64(a1[i]), np.uint64(a1[i + 1])):",
            "        j = np.uint64(a2[k])",
            "        if j >= n_post:",
            "            continue",
            f"        out[ob + j] += {spike}{call('b', 'i', 'j', 'k')}",
        ]
        if spike:  # float events: the value multiplies
            lines += [
                "    for b in range(B):",
                "        ob = np.uint64(b) * n_post",
                "        for i in range(n_pre):",
                "            s = a0[b * n_pre + i]",
                "            if s == 0:",
                "                continue",
                *("        " + ln for ln in row),
            ]
        else:  # bool events: eight flags per word, all-zero words skipped
            lines += [
                "    words = carray(ptrs[0], (sizes[0] // 8,), dtype=np.uint64)",
                "    for b in range(B):",
                "        ob = np.uint64(b) * n_post",
                "        i = 0",
                "        while i < n_pre:",
                "            q = b * n_pre + i",
                "            if q % 8 == 0 and i + 8 <= n_pre and words[q // 8] == 0:",
                "                i += 8",
                "                continue",
                "            if a0[q]:",
                *("            " + ln for ln in row),
                "            i += 1",
            ]
    elif kind == "gather":
        lines += [
            f"    B = sizes[{out}] // n_pre if n_pre > 0 else 0",
            "    n_post = sizes[0] // B if B > 0 else 0",
            "    for b in range(B):",
            "        for i in range(n_pre):",
            "            acc = 0.0",
            "            for k in range(a1[i], a1[i + 1]):",
            "                j = a2[k]",
            "                if j < 0 or j >= n_post:",
            "                    continue",
            f"                acc += a0[b * n_post + j] * {call('b', 'i', 'j', 'k')}",
            "            out[b * n_pre + i] = acc",
        ]
    else:  # update: out is aliased to the old values (copied by the trampoline)
        if on == "pre":
            n, inner = (
                "n_pre",
                [
                    "for k in range(a1[i], a1[i + 1]):",
                    *store("    ", "i", "a2[k]", "k"),
                ],
            )
            lines.append("    n_post = 0")
        else:  # on post, through the CSC view: extra = ..., colptr, perm, crow
            c0 = n_ops - 3
            n, inner = (
                "n_post",
                [
                    f"for q in range(a{c0}[i], a{c0}[i + 1]):",
                    f"    k = a{c0 + 1}[q]",
                    f"    r_i = a{c0 + 2}[q]",
                    *store("    ", "r_i", "i", "k"),
                ],
            )
            lines.append(f"    n_post = sizes[{c0}] - 1")
        if spike:  # float events: every neuron's flag is read
            lines += [f"    for i in range({n}):", "        if a0[i] == 0:", "            continue"]
            lines += ["        " + ln for ln in inner]
        else:  # bool events: eight flags per word, all-zero words skipped
            lines += [
                "    words = carray(ptrs[0], (sizes[0] // 8,), dtype=np.uint64)",
                "    i = 0",
                f"    while i < {n}:",
                f"        if i % 8 == 0 and i + 8 <= {n} and words[i // 8] == 0:",
                "            i += 8",
                "            continue",
                "        if a0[i]:",
                *("            " + ln for ln in inner),
                "        i += 1",
            ]
    return "\n".join(lines)


def _jit_kernel_source(kind: str, st, dtypes: list, out_dtypes: list) -> str:
    """The loop of a scatter or gather over a JitProb: operands ``events, table, [n_pre,
    n_post, bound, seed], fields...``; each active row (every row, for a gather) regenerated:
    column skips by binary search of the hash in the skip table, as ``generate_rows``."""
    layout, fields = st.layout, st.body.fields
    n_f = [len(layout[g]) for g in ("pre", "post", "syn", "p")]
    starts = np.cumsum([3, *n_f])
    pre_i, post_i, syn_i, p_i = (list(range(a, b)) for a, b in zip(starts[:-1], starts[1:]))
    out = len(dtypes)
    lines = ["@cfunc(SIG, cache=True)", "def kernel(ptrs, sizes):"]
    lines += _arrays(dtypes, 0)
    lines.append(f"    out = carray(ptrs[{out}], (sizes[{out}],), dtype={_np_type(out_dtypes[0])})")
    lines += [
        "    n_pre = a2[0]",
        "    n_post = a2[1]",
        "    bound = a2[2]",
        "    seed = np.uint32(a2[3])",
        "    n_table = sizes[1]",
        # a first guess of each skip from the hash's top 12 bits (the skip of the bucket's
        # first hash, from one merge of the bucket starts with the table), corrected
        # against the table: the table decides, exactly
        "    first = np.empty(4097, np.int64)",
        "    s = 0",
        "    for t in range(4097):",
        "        edge = np.uint64(t) << np.uint64(20)",
        "        while s < n_table and np.uint64(a1[s]) < edge:",
        "            s += 1",
        "        first[t] = s",
        f"    for q in range(sizes[{out}]):",
        "        out[q] = 0",
        "    if n_pre <= 0 or n_post <= 0:",
        "        return",
    ]
    lines += [f"    p{k} = a{i}[0]" for k, i in enumerate(p_i)]
    lines += [f"    y{k} = a{i}[0]" for k, i in enumerate(syn_i)]
    syn_named = dict(zip(layout["syn"], (f"y{k}" for k in range(len(syn_i)))))
    syn_args = [("wk" if k == "w" and k not in syn_named else syn_named[k]) for k in fields["syn"]]
    args = [f"a{k}[(b if sizes[{k}] > n_pre else 0) * n_pre + i]" for k in pre_i]
    args += [f"a{k}[(b if sizes[{k}] > n_post else 0) * n_post + j]" for k in post_i]
    args += syn_args + [f"p{k}" for k in range(len(p_i))]
    call = f"body({', '.join(args)})"
    gen = [
        "ui = np.uint32(i)",
        "j = -1",
        "for k in range(bound):",
        "    h = skip_hash(seed, ui, np.uint32(k))",
        # entries below the bucket's start are <= h; walk the bucket's entries
        "    lo = first[h >> np.uint32(20)]",
        "    while lo < n_table and a1[lo] <= h:",
        "        lo += 1",
        "    j += lo + 1",
        "    if j >= n_post:",
        "        break",
        "    wk = weight(seed, ui, np.uint32(k))" if "wk" in syn_args else "    pass",
    ]
    if kind == "scatter":
        spike = "" if np.dtype(dtypes[0]) == np.bool_ else "s * "
        lines += [
            "    B = sizes[0] // n_pre",
            "    for b in range(B):",
            "        for i in range(n_pre):",
            "            s = a0[b * n_pre + i]",
            "            if s == 0:",
            "                continue",
            *("            " + ln for ln in gen),
            f"                out[b * n_post + j] += {spike}{call}",
        ]
    else:
        lines += [
            "    B = sizes[0] // n_post",
            "    for b in range(B):",
            "        for i in range(n_pre):",
            "            acc = 0.0",
            *("            " + ln for ln in gen),
            f"                acc += a0[b * n_post + j] * {call}",
            "            out[b * n_pre + i] = acc",
        ]
    return "\n".join(lines)


def kernel_address(st, in_dtypes: list, out_dtypes: list) -> int | None:
    """The address of the compiled kernel for this operator and these dtypes (of the
    operands, of the results), or None when numba cannot express the body (the caller
    then uses the lax loop)."""
    key = (
        st,
        tuple(np.dtype(d).name for d in in_dtypes),
        tuple(np.dtype(d).name for d in out_dtypes),
    )
    hit = _KERNELS.get(key)
    if hit is not None:
        return hit[1]
    kind, on = st.backend[0], st.backend[1]
    it = iter(np.dtype(d) for d in in_dtypes[3:])
    field_dtypes = [
        np.dtype(st.conn[5]) if st.conn is not None and g == "syn" and k == "w" else next(it)
        for g in st.layout
        for k in st.body.fields[g]
    ]
    try:
        closed = st.body.scalar_jaxpr(st.units, st.out_units, field_dtypes)
        body_dtypes = [a.dtype for a in closed.out_avals]
        source = _HEADER + "@njit(cache=True, inline='always')\n"
        source += _body_source(closed, len(field_dtypes), body_dtypes) + "\n\n\n"
        if st.conn is not None:
            source += _jit_functions(st.conn)
            source += _jit_kernel_source(kind, st, list(in_dtypes), list(out_dtypes)) + "\n"
        else:
            source += (
                _kernel_source(kind, on, st.layout, list(in_dtypes), list(out_dtypes), st.old_index)
                + "\n"
            )
    except Unsupported:
        _KERNELS[key] = (None, None)
        return None
    module = _load(source)
    address = int(module.kernel.address)
    _KERNELS[key] = (module, address)
    return address


def _cache_dir() -> pathlib.Path:
    root = os.environ.get("NEURODYN_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "neurodyn"
    )
    path = pathlib.Path(root) / "kernels"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _load(source: str):
    digest = hashlib.sha256(source.encode()).hexdigest()[:20]
    path = _cache_dir() / f"k_{digest}.py"
    if not path.exists():
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(source)
        os.replace(tmp, path)  # atomic: concurrent processes write the same text
    spec = importlib.util.spec_from_file_location(f"neurodyn_kernel_{digest}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # (numba's cache finds the module by its name)
    spec.loader.exec_module(module)
    return module
