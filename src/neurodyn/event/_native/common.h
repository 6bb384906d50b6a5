// What every native event kernel shares: the kernel names (kernels.def), lenient scalar
// attributes, dtype / shape checks and error messages, the spike scan and the SSE2 index
// bound. Included by rows.cc, jitconn.cc, update.cc and record.cc (and by the sanitizer
// driver, sanitize_driver.cc).
//
// Conventions shared by all kernels
//   * float32 and float64 are supported; the output dtype selects the
//     computation type and the weights must have that dtype.
//   * "spikes" are PRED (bool) or the output float dtype.  Float spikes are
//     event-driven too: zero entries are skipped, others multiply the weight.
//   * Dense operands (spikes / x / out) may carry any number of leading batch
//     dimensions; they are flattened to [B, n].
//   * Outputs are zero-initialised by the kernels.
//   * Bad shapes, dtypes or out-of-range indices return
//     ffi::Error::InvalidArgument, whose message starts with the kernel's FFI
//     target name (ND_TARGET); the kernels never read or write out of bounds.
//   * The kernels run on the thread XLA calls them on, except the counting
//     scatter of bool spikes through one homogeneous weight (threads.h).
//
// Only the XLA FFI headers and the C++ standard library are used.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "xla_ffi.h"

// Whatever the headers declare in namespace neurodyn stays inside the library (as when the
// kernels were one translation unit): only the handler symbols are exported.
#if defined(__GNUC__)
#define ND_HIDDEN __attribute__((visibility("hidden")))
#else
#define ND_HIDDEN
#endif

// ---------------------------------------------------------------------------
// Kernel names: one table (kernels.def) for C++ and Python.
// ---------------------------------------------------------------------------

namespace neurodyn ND_HIDDEN {

enum class Op : int {
#define ND_KERNEL(op, target, symbol) op,
#include "kernels.def"
#undef ND_KERNEL
};

inline constexpr const char* kTargets[] = {
#define ND_KERNEL(op, target, symbol) target,
#include "kernels.def"
#undef ND_KERNEL
};

constexpr const char* Target(Op op) { return kTargets[static_cast<int>(op)]; }

}  // namespace neurodyn

// The FFI target name of kernel `op` (a key of kernels.def; any other is a compile error).
#define ND_TARGET(op) (::neurodyn::Target(::neurodyn::Op::op))

// Every exported handler, declared from the table: a definition with another signature
// does not compile, and a symbol of the table that no source defines fails the load test.
#define ND_KERNEL(op, target, symbol) extern "C" XLA_FFI_Error* symbol(XLA_FFI_CallFrame*);
#include "kernels.def"
#undef ND_KERNEL

// ---------------------------------------------------------------------------
// Lenient scalar attributes.  JAX encodes a Python int as int64 and a Python
// float as float64, but callers may also pass numpy scalars (np.uint32 seed,
// np.int32 dist, np.float32 weight).  These wrappers accept any integer
// (resp. floating) scalar so that the Python side need not care.
// ---------------------------------------------------------------------------

namespace neurodyn ND_HIDDEN {
struct IntAttr {
  std::int64_t value;
};
struct FloatAttr {
  double value;
};
}  // namespace neurodyn

namespace xla::ffi {

template <>
struct AttrDecoding<neurodyn::IntAttr> {
  using Type = neurodyn::IntAttr;
  static bool Isa(XLA_FFI_AttrType type, void* attr) {
    return Decode(type, attr).has_value();
  }
  static std::optional<Type> Decode(XLA_FFI_AttrType type, void* attr) {
    if (type != XLA_FFI_AttrType_SCALAR) return std::nullopt;
    auto* s = reinterpret_cast<XLA_FFI_Scalar*>(attr);
    switch (s->dtype) {
      case XLA_FFI_DataType_PRED:
        return Type{*static_cast<bool*>(s->value) ? 1 : 0};
      case XLA_FFI_DataType_S8:
        return Type{*static_cast<std::int8_t*>(s->value)};
      case XLA_FFI_DataType_S16:
        return Type{*static_cast<std::int16_t*>(s->value)};
      case XLA_FFI_DataType_S32:
        return Type{*static_cast<std::int32_t*>(s->value)};
      case XLA_FFI_DataType_S64:
        return Type{*static_cast<std::int64_t*>(s->value)};
      case XLA_FFI_DataType_U8:
        return Type{*static_cast<std::uint8_t*>(s->value)};
      case XLA_FFI_DataType_U16:
        return Type{*static_cast<std::uint16_t*>(s->value)};
      case XLA_FFI_DataType_U32:
        return Type{*static_cast<std::uint32_t*>(s->value)};
      case XLA_FFI_DataType_U64:
        return Type{static_cast<std::int64_t>(*static_cast<std::uint64_t*>(s->value))};
      default:
        return std::nullopt;
    }
  }
  static std::optional<Type> Decode(XLA_FFI_AttrType type, void* attr,
                                    DiagnosticEngine& diagnostic) {
    auto v = Decode(type, attr);
    if (!v) return diagnostic.Emit("expected an integer scalar attribute");
    return v;
  }
};

template <>
struct AttrDecoding<neurodyn::FloatAttr> {
  using Type = neurodyn::FloatAttr;
  static bool Isa(XLA_FFI_AttrType type, void* attr) {
    return Decode(type, attr).has_value();
  }
  static std::optional<Type> Decode(XLA_FFI_AttrType type, void* attr) {
    if (type != XLA_FFI_AttrType_SCALAR) return std::nullopt;
    auto* s = reinterpret_cast<XLA_FFI_Scalar*>(attr);
    switch (s->dtype) {
      case XLA_FFI_DataType_F32:
        return Type{static_cast<double>(*static_cast<float*>(s->value))};
      case XLA_FFI_DataType_F64:
        return Type{*static_cast<double*>(s->value)};
      default: {
        auto i = AttrDecoding<neurodyn::IntAttr>::Decode(type, attr);
        if (i) return Type{static_cast<double>(i->value)};
        return std::nullopt;
      }
    }
  }
  static std::optional<Type> Decode(XLA_FFI_AttrType type, void* attr,
                                    DiagnosticEngine& diagnostic) {
    auto v = Decode(type, attr);
    if (!v) return diagnostic.Emit("expected a floating-point scalar attribute");
    return v;
  }
};

}  // namespace xla::ffi

namespace neurodyn ND_HIDDEN {

using i64 = std::int64_t;
using u32 = std::uint32_t;

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

inline std::string DTypeName(ffi::DataType t) {
  switch (t) {
    case ffi::DataType::PRED:
      return "bool";
    case ffi::DataType::S32:
      return "int32";
    case ffi::DataType::S64:
      return "int64";
    case ffi::DataType::U32:
      return "uint32";
    case ffi::DataType::F16:
      return "float16";
    case ffi::DataType::BF16:
      return "bfloat16";
    case ffi::DataType::F32:
      return "float32";
    case ffi::DataType::F64:
      return "float64";
    default:
      return "dtype#" + std::to_string(static_cast<int>(t));
  }
}

inline std::string Err(const char* kernel, const std::string& msg) {
  return std::string(kernel) + ": " + msg;
}

// Shape of a dense operand flattened to [batch, n] (last dimension is n).
struct Dense2D {
  i64 batch = 1;
  i64 n = 0;
};

inline bool AsDense2D(const ffi::AnyBuffer& buf, Dense2D* out) {
  auto dims = buf.dimensions();
  if (dims.size() < 1) return false;
  out->n = dims[dims.size() - 1];
  out->batch = 1;
  for (size_t d = 0; d + 1 < dims.size(); ++d) out->batch *= dims[d];
  return true;
}

inline std::string ShapeStr(const ffi::AnyBuffer& buf) {
  auto dims = buf.dimensions();
  std::string s = "[";
  for (size_t d = 0; d < dims.size(); ++d) {
    if (d) s += ", ";
    s += std::to_string(dims[d]);
  }
  return s + "]";
}

// Reads element j of a PRED or T buffer as T (bool -> 0/1).
template <typename T>
struct DenseReader {
  const void* data;
  bool is_bool;
  inline T operator()(i64 j) const {
    if (is_bool) return static_cast<const bool*>(data)[j] ? T(1) : T(0);
    return static_cast<const T*>(data)[j];
  }
};

// Validates that `buf` is PRED or has float dtype `want`.
inline ffi::Error CheckEventDType(const char* kernel, const char* name, const ffi::AnyBuffer& buf,
                                  ffi::DataType want) {
  auto t = buf.element_type();
  if (t != ffi::DataType::PRED && t != want) {
    return ffi::Error::InvalidArgument(Err(kernel, std::string(name) + " must be bool or " +
                                                       DTypeName(want) + ", got " +
                                                       DTypeName(t)));
  }
  return ffi::Error::Success();
}

inline ffi::Error CheckFloatOut(const char* kernel, const ffi::AnyBuffer& out) {
  auto t = out.element_type();
  if (t != ffi::DataType::F32 && t != ffi::DataType::F64) {
    return ffi::Error::InvalidArgument(
        Err(kernel, "output dtype must be float32 or float64, got " + DTypeName(t)));
  }
  return ffi::Error::Success();
}

// Checks the weights buffer: same dtype as out; 1 element when homogeneous,
// `nnz` elements otherwise; or [V, 1] / [V, nnz]: V matrices sharing the
// structure (vmap over the weights), batch row b of the dense operand using
// matrix b / (batch / V).  Sets the stride between matrices (0: one matrix)
// and the number of batch rows per matrix.
inline ffi::Error CheckWeights(const char* kernel, const ffi::AnyBuffer& w, ffi::DataType want,
                               bool homo, i64 nnz, i64 batch, i64* stride, i64* per) {
  if (w.element_type() != want) {
    return ffi::Error::InvalidArgument(Err(kernel, "weights dtype " + DTypeName(w.element_type()) +
                                                       " does not match output dtype " +
                                                       DTypeName(want)));
  }
  const auto dims = w.dimensions();
  i64 n_mat = 1;
  i64 nw = static_cast<i64>(w.element_count());
  if (dims.size() == 2) {
    n_mat = dims[0];
    nw = dims[1];
    if (n_mat < 1 || batch % n_mat != 0) {
      return ffi::Error::InvalidArgument(
          Err(kernel, "weights " + ShapeStr(w) + " hold " + std::to_string(n_mat) +
                          " matrices; the dense operand's batch (" + std::to_string(batch) +
                          ") must be a positive multiple of that"));
    }
  } else if (dims.size() > 2) {
    return ffi::Error::InvalidArgument(
        Err(kernel, "weights must be [nnz], [1] or [V, nnz], [V, 1], got " + ShapeStr(w)));
  }
  if (homo) {
    if (nw < 1) {
      return ffi::Error::InvalidArgument(
          Err(kernel, "homo=True requires at least one weight, got shape " + ShapeStr(w)));
    }
  } else if (nw != nnz) {
    return ffi::Error::InvalidArgument(
        Err(kernel, "homo=False requires one weight per synapse (" + std::to_string(nnz) +
                        "), got shape " + ShapeStr(w)));
  }
  *stride = n_mat == 1 ? 0 : nw;
  *per = n_mat == 1 ? (batch > 0 ? batch : 1) : batch / n_mat;
  return ffi::Error::Success();
}

inline ffi::Error CheckIndexDType(const char* kernel, const char* name,
                                  const ffi::AnyBuffer& buf) {
  if (buf.element_type() != ffi::DataType::S32) {
    return ffi::Error::InvalidArgument(
        Err(kernel, std::string(name) + " must be int32, got " + DTypeName(buf.element_type())));
  }
  return ffi::Error::Success();
}

inline ffi::Error IndexError(const char* kernel, i64 row, i64 pos, i64 idx, i64 bound) {
  return ffi::Error::InvalidArgument(
      Err(kernel, "index out of range: indices[" + std::to_string(pos) + "] = " +
                      std::to_string(idx) + " (row " + std::to_string(row) +
                      ") is not in [0, " + std::to_string(bound) + ")"));
}

// Validates a CSR indptr: length n_pre+1, indptr[0] >= 0, non-decreasing,
// indptr[n_pre] <= nnz.  O(n_pre).
inline ffi::Error CheckIndptr(const char* kernel, const std::int32_t* indptr, i64 n_pre,
                              i64 nnz) {
  i64 prev = indptr[0];
  if (prev < 0) {
    return ffi::Error::InvalidArgument(
        Err(kernel, "indptr[0] = " + std::to_string(prev) + " is negative"));
  }
  for (i64 i = 1; i <= n_pre; ++i) {
    const i64 cur = indptr[i];
    if (cur < prev) {
      return ffi::Error::InvalidArgument(
          Err(kernel, "indptr is not non-decreasing at position " + std::to_string(i) + " (" +
                          std::to_string(prev) + " > " + std::to_string(cur) + ")"));
    }
    prev = cur;
  }
  if (prev > nnz) {
    return ffi::Error::InvalidArgument(Err(kernel, "indptr[-1] = " + std::to_string(prev) +
                                                       " exceeds nnz = " + std::to_string(nnz)));
  }
  return ffi::Error::Success();
}

#define ND_RETURN_IF_ERROR(expr)             \
  do {                                       \
    ffi::Error _nd_err = (expr);             \
    if (_nd_err.failure()) return _nd_err;   \
  } while (0)

// Calls f(i) for each i < n with s[i] true, in increasing order; stops and
// returns false as soon as f does.  SSE2 tests 16 spikes at a time and the set
// ones are visited by their bit positions: at 5% active the byte-by-byte scan
// mispredicted a branch for most spikes.
template <typename F>
inline bool ForEachSpike(const bool* s, i64 n, F&& f) {
  i64 i = 0;
#if defined(__SSE2__)
  const __m128i zero = _mm_setzero_si128();
  for (; i + 16 <= n; i += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i));
    unsigned m = ~static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, zero))) & 0xFFFFu;
    while (m) {
      if (!f(i + __builtin_ctz(m))) return false;
      m &= m - 1;
    }
  }
#endif
  for (; i < n; ++i)
    if (s[i] && !f(i)) return false;
  return true;
}

// Index checks that ride in the scatter and gather loops.  Unsigned x >= n
// holds exactly when (x ^ 2^31) > ((n - 1) ^ 2^31) as signed integers (a
// negative index reads as >= 2^31 unsigned), so SSE2 checks 8 indices with
// two compares and one branch that is never taken.  Checking each index with
// its own compare cost 15% of the scatter; a separate pass over the row
// before it cost as much (it takes the cache misses that the scatter would
// have overlapped).
struct IndexBound {
  u32 n;
#if defined(__SSE2__)
  __m128i sign, limit;
  explicit IndexBound(u32 n_) : n(n_) {
    sign = _mm_set1_epi32(static_cast<int>(0x80000000u));
    limit = _mm_set1_epi32(static_cast<int>((n_ - 1u) ^ 0x80000000u));
  }
  // Whether any of idx[0:8) lies outside [0, n); n > 0.
  inline bool AnyOutside8(const std::int32_t* idx) const {
    const __m128i a = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(idx)), sign);
    const __m128i b =
        _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(idx + 4)), sign);
    return _mm_movemask_epi8(_mm_or_si128(_mm_cmpgt_epi32(a, limit), _mm_cmpgt_epi32(b, limit))) !=
           0;
  }
#else
  explicit IndexBound(u32 n_) : n(n_) {}
  inline bool AnyOutside8(const std::int32_t* idx) const {
    u32 m = 0;
    for (int t = 0; t < 8; ++t) m |= static_cast<u32>(static_cast<u32>(idx[t]) >= n);
    return m != 0;
  }
#endif
  inline bool Outside(std::int32_t j) const { return static_cast<u32>(j) >= n; }
};

}  // namespace neurodyn
