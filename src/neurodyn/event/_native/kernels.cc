// Native CPU kernels for neurodyn's event-driven sparse operators.
//
// Every kernel is an XLA FFI handler (typed API, ``xla::ffi``) exported as a C
// symbol and registered with JAX by ``neurodyn/event/_native/__init__.py`` via
// ``jax.ffi.register_ffi_target(..., platform="cpu")``.
//
// Conventions shared by all kernels
//   * float32 and float64 are supported; the output dtype selects the
//     computation type and the weights must have that dtype.
//   * "spikes" are PRED (bool) or the output float dtype.  Float spikes are
//     event-driven too: zero entries are skipped, others multiply the weight.
//   * Dense operands (spikes / x / out) may carry any number of leading batch
//     dimensions; they are flattened to [B, n].
//   * Outputs are zero-initialised here.
//   * Bad shapes, dtypes or out-of-range indices return
//     ffi::Error::InvalidArgument; the kernels never read or write out of bounds.
//   * The kernels run on the thread XLA calls them on, except the scatter of
//     bool spikes through one homogeneous weight, which splits its rows with
//     one helper thread of XLA's intra-op pool when there are 40k synapses or
//     more to add (ScatterCounted).  Its result does not depend on the split.
//     NEURODYN_NATIVE_THREADS=1 in the environment turns the helper off.
//
// Only the XLA FFI headers and the C++ standard library are used.

#include <algorithm>
#include <memory>
#include <functional>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <vector>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "xla_ffi.h"

// ---------------------------------------------------------------------------
// Lenient scalar attributes.  JAX encodes a Python int as int64 and a Python
// float as float64, but callers may also pass numpy scalars (np.uint32 seed,
// np.int32 dist, np.float32 weight).  These wrappers accept any integer
// (resp. floating) scalar so that the Python side need not care.
// ---------------------------------------------------------------------------

namespace neurodyn {
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

namespace {

using i64 = std::int64_t;
using u32 = std::uint32_t;

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

std::string DTypeName(ffi::DataType t) {
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

std::string Err(const char* kernel, const std::string& msg) {
  return std::string(kernel) + ": " + msg;
}

// Shape of a dense operand flattened to [batch, n] (last dimension is n).
struct Dense2D {
  i64 batch = 1;
  i64 n = 0;
};

bool AsDense2D(const ffi::AnyBuffer& buf, Dense2D* out) {
  auto dims = buf.dimensions();
  if (dims.size() < 1) return false;
  out->n = dims[dims.size() - 1];
  out->batch = 1;
  for (size_t d = 0; d + 1 < dims.size(); ++d) out->batch *= dims[d];
  return true;
}

std::string ShapeStr(const ffi::AnyBuffer& buf) {
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
ffi::Error CheckEventDType(const char* kernel, const char* name, const ffi::AnyBuffer& buf,
                           ffi::DataType want) {
  auto t = buf.element_type();
  if (t != ffi::DataType::PRED && t != want) {
    return ffi::Error::InvalidArgument(Err(kernel, std::string(name) + " must be bool or " +
                                                       DTypeName(want) + ", got " +
                                                       DTypeName(t)));
  }
  return ffi::Error::Success();
}

ffi::Error CheckFloatOut(const char* kernel, const ffi::AnyBuffer& out) {
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
ffi::Error CheckWeights(const char* kernel, const ffi::AnyBuffer& w, ffi::DataType want, bool homo,
                        i64 nnz, i64 batch, i64* stride, i64* per) {
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

ffi::Error CheckIndexDType(const char* kernel, const char* name, const ffi::AnyBuffer& buf) {
  if (buf.element_type() != ffi::DataType::S32) {
    return ffi::Error::InvalidArgument(
        Err(kernel, std::string(name) + " must be int32, got " + DTypeName(buf.element_type())));
  }
  return ffi::Error::Success();
}

ffi::Error IndexError(const char* kernel, i64 row, i64 pos, i64 idx, i64 bound) {
  return ffi::Error::InvalidArgument(
      Err(kernel, "index out of range: indices[" + std::to_string(pos) + "] = " +
                      std::to_string(idx) + " (row " + std::to_string(row) +
                      ") is not in [0, " + std::to_string(bound) + ")"));
}

// Validates a CSR indptr: length n_pre+1, indptr[0] >= 0, non-decreasing,
// indptr[n_pre] <= nnz.  O(n_pre).
ffi::Error CheckIndptr(const char* kernel, const std::int32_t* indptr, i64 n_pre, i64 nnz) {
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

// ---------------------------------------------------------------------------
// Stored connectivity: CSR and fixed fan-out share one implementation, with a
// row (pre neuron) i spanning synapses [row_begin(i), row_end(i)).
// ---------------------------------------------------------------------------

struct CsrRows {
  const std::int32_t* indptr;
  i64 nnz;
  // A row's span is checked when the row is visited, so the scatter stays
  // O(spikes x fan-out) instead of validating all of indptr on every call.
  inline bool valid(i64 i) const {
    const i64 b = indptr[i], e = indptr[i + 1];
    return 0 <= b && b <= e && e <= nnz;
  }
  ffi::Error error(const char* kernel, i64 i) const {
    const i64 b = indptr[i], e = indptr[i + 1];
    std::string what = b < 0 ? "indptr[" + std::to_string(i) + "] = " + std::to_string(b) +
                                   " is negative"
                       : e < b ? "indptr is not non-decreasing at position " +
                                     std::to_string(i + 1)
                               : "indptr[" + std::to_string(i + 1) + "] = " +
                                     std::to_string(e) + " exceeds nnz = " + std::to_string(nnz);
    return ffi::Error::InvalidArgument(Err(kernel, what));
  }
  inline i64 begin(i64 i) const { return indptr[i]; }
  inline i64 end(i64 i) const { return indptr[i + 1]; }
};

struct FanoutRows {
  i64 k;
  inline bool valid(i64) const { return true; }
  ffi::Error error(const char*, i64) const { return ffi::Error::Success(); }
  inline i64 begin(i64 i) const { return i * k; }
  inline i64 end(i64 i) const { return (i + 1) * k; }
};

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

// One spiking row: o[idx[k]] += v (homogeneous), or w[k] (* v for float
// spikes), k < len, 8 synapses at a time after one check of their indices.
// Returns the position of the first index outside [0, n), or -1; on a bad
// index the partial output is discarded with the error.  A small leaf
// function so the loop runs in registers.  With O = uint16 and v = 1 it
// counts (see ScatterCounted).
template <typename O, bool kHomo, bool kBool, typename T>
__attribute__((noinline)) i64 ScatterRow(O* __restrict o, const std::int32_t* __restrict idx,
                                         const T* __restrict w, i64 len, O v,
                                         const IndexBound& bound) {
  i64 k = 0;
  if (bound.n > 0) {
    for (; k + 8 <= len; k += 8) {
      if (__builtin_expect(bound.AnyOutside8(idx + k), 0)) break;
      for (int t = 0; t < 8; ++t) {
        if constexpr (kHomo) {
          o[idx[k + t]] += v;
        } else if constexpr (kBool) {
          o[idx[k + t]] += w[k + t];
        } else {
          o[idx[k + t]] += w[k + t] * v;
        }
      }
    }
  }
  for (; k < len; ++k) {
    const std::int32_t j = idx[k];
    if (__builtin_expect(bound.Outside(j), 0)) return k;
    if constexpr (kHomo) {
      o[j] += v;
    } else if constexpr (kBool) {
      o[j] += w[k];
    } else {
      o[j] += w[k] * v;
    }
  }
  return -1;
}

// Per-thread scratch of the calling thread: the spiking rows of one spike
// vector; uint16 counts for this thread and for a helper (all zero between
// calls: the final pass and the error path clear them); uint32 spill-over
// counts for each, used only when a count could overflow (zeroed on first use
// in a call).
thread_local std::vector<i64> tl_active;
thread_local std::vector<std::uint16_t> tl_counts[2];
thread_local std::vector<std::uint32_t> tl_spill[2];
constexpr i64 kMaxCount = 65535;

// Bool spikes, one homogeneous weight, at least as many synapses to add as
// posts: out[j] = w * (number of spiking rows that hold j).  The synapses are
// counted in uint16, half the bytes of a float output (the counts of 16k
// posts stay in L1): 10-15% faster per synapse at N=10k than adding floats.
// Before a count could overflow, the counts are spilled into uint32 ones.  The
// output is w * (the exact total count), rounded once: the same whichever
// rows each thread counted, and more accurate than a float sum of copies of w.
struct RowCounter {
  i64 n_post;
  std::uint16_t* c;
  std::vector<std::uint32_t>* spill_store;
  std::uint32_t* spill = nullptr;
  i64 pending = 0;  // the most any count has grown since the last spill
  i64 bad_row = -1, bad_pos = -1;

  RowCounter(i64 n_post_, int slot) : n_post(n_post_), spill_store(&tl_spill[slot]) {
    std::vector<std::uint16_t>& counts = tl_counts[slot];
    if (static_cast<i64>(counts.size()) < n_post) counts.resize(n_post, 0);
    c = counts.data();
  }

  std::uint32_t* Spill() {
    if (spill == nullptr) {
      if (static_cast<i64>(spill_store->size()) < n_post) spill_store->resize(n_post);
      spill = spill_store->data();
      std::fill(spill, spill + n_post, 0u);
    }
    for (i64 j = 0; j < n_post; ++j) {
      spill[j] += c[j];
      c[j] = 0;
    }
    pending = 0;
    return spill;
  }

  // Makes room for a row that adds up to `most` to one count.
  inline void Reserve(i64 most) {
    if (pending + most > kMaxCount) Spill();
    pending += most;
  }

  void Clear() { std::fill(c, c + n_post, std::uint16_t(0)); }
};

// Counts the CSR / fan-out rows active[lo:hi]; false on a bad index (recorded).
template <typename Rows>
bool CountRows(RowCounter& r, const Rows& rows, const std::int32_t* indices, const i64* active,
               const IndexBound& bound, i64 lo, i64 hi) {
  for (i64 a = lo; a < hi; ++a) {
    const i64 i = active[a];
    const i64 beg = rows.begin(i), len = rows.end(i) - beg;
    i64 bad;
    if (len > kMaxCount) {  // a row longer than a count can hold: straight into uint32
      bad = ScatterRow<std::uint32_t, true, true, float>(r.Spill(), indices + beg, nullptr, len,
                                                         1u, bound);
    } else {
      r.Reserve(len);  // (a row may repeat a column)
      bad = ScatterRow<std::uint16_t, true, true, float>(r.c, indices + beg, nullptr, len,
                                                         std::uint16_t(1), bound);
    }
    if (__builtin_expect(bad >= 0, 0)) {
      r.bad_row = i;
      r.bad_pos = beg + bad;
      return false;
    }
  }
  return true;
}

// o[j] = w * (the total count of j over the counters); the counts are cleared.
template <typename T>
void FinishCounts(T* __restrict o, i64 n, T w, RowCounter& a, RowCounter* b) {
  std::uint16_t* __restrict ca = a.c;
  if (b == nullptr && a.spill == nullptr) {
    for (i64 j = 0; j < n; ++j) {
      o[j] = w * static_cast<T>(ca[j]);
      ca[j] = 0;
    }
    return;
  }
  if (b != nullptr && a.spill == nullptr && b->spill == nullptr) {
    std::uint16_t* __restrict cb = b->c;
    for (i64 j = 0; j < n; ++j) {
      o[j] = w * static_cast<T>(static_cast<std::uint32_t>(ca[j]) + cb[j]);
      ca[j] = 0;
      cb[j] = 0;
    }
    return;
  }
  for (i64 j = 0; j < n; ++j) {
    std::uint32_t total = ca[j] + (a.spill ? a.spill[j] : 0u);
    ca[j] = 0;
    if (b != nullptr) {
      total += b->c[j] + (b->spill ? b->spill[j] : 0u);
      b->c[j] = 0;
    }
    o[j] = w * static_cast<T>(total);
  }
}

// Counting split between this thread and one helper from XLA's intra-op pool.
// Both claim chunks of rows from one counter, so this thread never waits for
// a helper that has not started: if none is free, it counts every chunk
// itself and marks the task void (when it runs later, it sees that and
// returns without touching anything else).  The result does not depend on the
// split (see RowCounter).
struct SharedChunks {
  std::atomic<i64> next{0};
  std::atomic<int> state{0};  // 0 not started, 1 running, 2 done, 3 void
  std::function<void()> helper_body;
};

// A helper pays from about this many synapses (waking a pool thread costs
// about as much as 20k synapse adds here).
constexpr i64 kParallelMinAdds = 40000;
constexpr i64 kChunks = 16;

// NEURODYN_NATIVE_THREADS=1 (read once) keeps every kernel on its calling
// thread: for timing one core, or when the caller runs many computations in
// parallel itself.
bool HelperAllowed() {
  static const bool allowed = [] {
    const char* v = std::getenv("NEURODYN_NATIVE_THREADS");
    return v == nullptr || std::atoi(v) != 1;
  }();
  return allowed;
}

// out = w * (counts of the n_items rows), counted by run(counter, lo, hi)
// (false on an error, recorded in the counter), with a helper thread when the
// work (work(a) for item a, `total` in all) is at least kParallelMinAdds.
// `report(counter)` makes the error of a failed counter.
template <typename T, typename Work, typename Run, typename Report>
ffi::Error CountSplit(i64 n_items, i64 total, Work&& work, Run&& run, Report&& report, T w,
                      T* __restrict o, i64 n_post, ffi::ThreadPool* pool) {
  RowCounter mine(n_post, 0);
  if (pool == nullptr || total < kParallelMinAdds || n_items < 2 || !HelperAllowed() ||
      pool->num_threads() < 2) {
    if (!run(mine, 0, n_items)) {
      mine.Clear();
      return report(mine);
    }
    FinishCounts(o, n_post, w, mine, nullptr);
    return ffi::Error::Success();
  }
  // chunk k: items [bounds[k], bounds[k+1]), about total / kChunks work each
  i64 bounds[kChunks + 1];
  {
    i64 acc = 0, k = 1;
    bounds[0] = 0;
    for (i64 a = 0; a < n_items && k < kChunks; ++a) {
      acc += work(a);
      while (k < kChunks && acc * kChunks >= k * total) bounds[k++] = a + 1;
    }
    for (; k <= kChunks; ++k) bounds[k] = n_items;
  }
  RowCounter theirs(n_post, 1);  // the helper's counts (in this thread's storage)
  auto shared = std::make_shared<SharedChunks>();
  bool theirs_ok = true;
  shared->helper_body = [&]() {
    for (i64 k; (k = shared->next.fetch_add(1)) < kChunks;) {
      if (!run(theirs, bounds[k], bounds[k + 1])) {
        shared->next.store(kChunks);
        theirs_ok = false;
        break;
      }
    }
  };
  pool->Schedule([shared]() {
    int expected = 0;
    if (!shared->state.compare_exchange_strong(expected, 1, std::memory_order_acq_rel)) return;
    shared->helper_body();
    shared->state.store(2, std::memory_order_release);
  });
  bool ok = true;
  for (i64 k; (k = shared->next.fetch_add(1)) < kChunks;) {
    if (!run(mine, bounds[k], bounds[k + 1])) {
      shared->next.store(kChunks);
      ok = false;
      break;
    }
  }
  int expected = 0;
  if (!shared->state.compare_exchange_strong(expected, 3, std::memory_order_acq_rel)) {
    // the helper is inside a chunk: spin briefly, then yield (it may share our core)
    for (int spins = 0; shared->state.load(std::memory_order_acquire) != 2; ++spins) {
      if (spins < 2000) {
#if defined(__SSE2__)
        _mm_pause();
#endif
      } else {
        std::this_thread::yield();
      }
    }
  }
  if (!ok || !theirs_ok) {
    mine.Clear();
    theirs.Clear();
    return report(ok ? theirs : mine);
  }
  FinishCounts(o, n_post, w, mine, &theirs);
  return ffi::Error::Success();
}

template <typename T, typename Rows>
ffi::Error ScatterCounted(const char* kernel, const Rows& rows, T w, const std::int32_t* indices,
                          const std::vector<i64>& active, i64 adds, T* __restrict o, i64 n_post,
                          ffi::ThreadPool* pool) {
  const IndexBound bound(static_cast<u32>(n_post));
  const i64* act = active.data();
  return CountSplit<T>(
      static_cast<i64>(active.size()), adds,
      [&](i64 a) { return rows.end(act[a]) - rows.begin(act[a]); },
      [&](RowCounter& r, i64 lo, i64 hi) {
        return CountRows(r, rows, indices, act, bound, lo, hi);
      },
      [&](const RowCounter& r) {
        return IndexError(kernel, r.bad_row, r.bad_pos, indices[r.bad_pos], n_post);
      },
      w, o, n_post, pool);
}

// out[b, indices[s]] += w_s * spikes[b, i]  for s in row i, spikes[b, i] != 0.
// The row loop is specialised on homogeneous weights and bool spikes.  Bool
// spikes with a homogeneous weight first list the spiking rows, to choose
// between counting (ScatterCounted) and adding in float.
template <typename T, bool kHomo, bool kBool, typename Rows>
ffi::Error ScatterRows(const char* kernel, const Rows& rows, const T* w_all, i64 w_stride,
                       i64 w_per, const std::int32_t* indices, const void* spikes, i64 batch,
                       i64 n_pre, T* out, i64 n_post, ffi::ThreadPool* pool) {
  const IndexBound bound(static_cast<u32>(n_post));
  for (i64 b = 0; b < batch; ++b) {
    const T* w = w_all + (b / w_per) * w_stride;
    const T w_homo = kHomo ? w[0] : T(0);
    T* __restrict o = out + b * n_post;
    const bool* sb = kBool ? static_cast<const bool*>(spikes) + b * n_pre : nullptr;
    const T* sf = kBool ? nullptr : static_cast<const T*>(spikes) + b * n_pre;
    constexpr bool kList = kHomo && kBool;
    std::vector<i64>& active = tl_active;
    if constexpr (kList) {
      active.clear();  // (the counting pass writes every output: no zeroing first)
    } else {
      std::fill(o, o + n_post, T(0));
    }
    i64 adds = 0;
    ffi::Error err = ffi::Error::Success();
    // one spiking row i: list it (kList) or scatter it; false on an error
    auto visit = [&](i64 i) -> bool {
      if (!rows.valid(i)) {
        err = rows.error(kernel, i);
        return false;
      }
      const i64 beg = rows.begin(i), len = rows.end(i) - beg;
      if constexpr (kList) {
        active.push_back(i);
        adds += len;
        return true;
      }
      const T v = kBool ? T(1) : (kHomo ? w_homo * sf[i] : sf[i]);
      const i64 bad =
          ScatterRow<T, kHomo, kBool, T>(o, indices + beg, kHomo ? nullptr : w + beg, len, v, bound);
      if (__builtin_expect(bad >= 0, 0)) {
        err = IndexError(kernel, i, beg + bad, indices[beg + bad], n_post);
        return false;
      }
      return true;
    };
    if constexpr (kBool) {
      if (!ForEachSpike(sb, n_pre, visit)) return err;
    } else {
      for (i64 i = 0; i < n_pre; ++i)
        if (sf[i] != T(0) && !visit(i)) return err;
    }
    if constexpr (kList) {
      if (adds >= n_post) {
        const ffi::Error e =
            ScatterCounted<T>(kernel, rows, w_homo, indices, active, adds, o, n_post, pool);
        if (e.failure()) return e;
        continue;
      }
      std::fill(o, o + n_post, T(0));
      for (const i64 i : active) {
        const i64 beg = rows.begin(i), len = rows.end(i) - beg;
        const i64 bad = ScatterRow<T, true, true, T>(o, indices + beg, nullptr, len, w_homo, bound);
        if (__builtin_expect(bad >= 0, 0))
          return IndexError(kernel, i, beg + bad, indices[beg + bad], n_post);
      }
    }
  }
  return ffi::Error::Success();
}

template <typename T, typename Rows>
ffi::Error ScatterImpl(const char* kernel, const Rows& rows, const T* w, i64 ws, i64 wp, bool homo,
                       const std::int32_t* indices, const void* spikes, bool spikes_bool,
                       i64 batch, i64 n_pre, T* out, i64 n_post,
                       ffi::ThreadPool* pool = nullptr) {
  if (homo && spikes_bool)
    return ScatterRows<T, true, true>(kernel, rows, w, ws, wp, indices, spikes, batch, n_pre, out,
                                      n_post, pool);
  if (homo)
    return ScatterRows<T, true, false>(kernel, rows, w, ws, wp, indices, spikes, batch, n_pre, out,
                                       n_post, pool);
  if (spikes_bool)
    return ScatterRows<T, false, true>(kernel, rows, w, ws, wp, indices, spikes, batch, n_pre, out,
                                       n_post, pool);
  return ScatterRows<T, false, false>(kernel, rows, w, ws, wp, indices, spikes, batch, n_pre, out,
                                      n_post, pool);
}

// One row of the gather: sum over k < len of w[k] (or 1 when homogeneous) *
// x[idx[k]] (x bool or T), in order, 8 at a time after one check of their
// indices (IndexBound).  A small leaf function so the loop runs in registers.
// On an index outside [0, n), *bad receives its position and the sum is
// meaningless (the caller returns the error).
template <typename T, bool kHomo, bool kBool>
inline T GatherTerm(const void* x, const T* __restrict w, std::int32_t j, i64 k) {
  if constexpr (kBool) {
    const bool on = static_cast<const bool*>(x)[j];
    if constexpr (kHomo) {
      return on ? T(1) : T(0);
    } else {
      return on ? w[k] : T(0);
    }
  } else {
    const T xj = static_cast<const T*>(x)[j];
    if constexpr (kHomo) {
      return xj;
    } else {
      return w[k] * xj;
    }
  }
}

template <typename T, bool kHomo, bool kBool>
__attribute__((noinline)) T GatherRow(const void* x, const std::int32_t* __restrict idx,
                                      const T* __restrict w, i64 len, const IndexBound& bound,
                                      i64* bad) {
  T acc = T(0);
  i64 k = 0;
  if (bound.n > 0) {
    for (; k + 8 <= len; k += 8) {
      if (__builtin_expect(bound.AnyOutside8(idx + k), 0)) break;
      for (int t = 0; t < 8; ++t) acc += GatherTerm<T, kHomo, kBool>(x, w, idx[k + t], k + t);
    }
  }
  for (; k < len; ++k) {
    const std::int32_t j = idx[k];
    if (__builtin_expect(bound.Outside(j), 0)) {
      *bad = k;
      return acc;
    }
    acc += GatherTerm<T, kHomo, kBool>(x, w, j, k);
  }
  return acc;
}

template <typename T, bool kHomo, bool kBool, typename Rows>
ffi::Error GatherRows(const char* kernel, const Rows& rows, const T* w_all, i64 w_stride, i64 w_per,
                      const std::int32_t* indices, const void* x, i64 batch, i64 n_pre, T* out,
                      i64 n_post) {
  const IndexBound bound(static_cast<u32>(n_post));
  for (i64 b = 0; b < batch; ++b) {
    const T* w = w_all + (b / w_per) * w_stride;
    const void* xb = kBool ? static_cast<const void*>(static_cast<const bool*>(x) + b * n_post)
                           : static_cast<const void*>(static_cast<const T*>(x) + b * n_post);
    T* o = out + b * n_pre;
    for (i64 i = 0; i < n_pre; ++i) {
      if (!rows.valid(i)) return rows.error(kernel, i);
      const i64 beg = rows.begin(i), len = rows.end(i) - beg;
      i64 bad = -1;
      const T acc = GatherRow<T, kHomo, kBool>(xb, indices + beg, kHomo ? nullptr : w + beg, len,
                                               bound, &bad);
      if (__builtin_expect(bad >= 0, 0))
        return IndexError(kernel, i, beg + bad, indices[beg + bad], n_post);
      o[i] = kHomo ? acc * w[0] : acc;
    }
  }
  return ffi::Error::Success();
}

// out[b, i] = sum_{s in row i} w_s * x[b, indices[s]].
template <typename T, typename Rows>
ffi::Error GatherImpl(const char* kernel, const Rows& rows, const T* w, i64 ws, i64 wp, bool homo,
                      const std::int32_t* indices, const void* x, bool x_bool, i64 batch,
                      i64 n_pre, T* out, i64 n_post) {
  if (homo && x_bool)
    return GatherRows<T, true, true>(kernel, rows, w, ws, wp, indices, x, batch, n_pre, out,
                                     n_post);
  if (homo)
    return GatherRows<T, true, false>(kernel, rows, w, ws, wp, indices, x, batch, n_pre, out,
                                      n_post);
  if (x_bool)
    return GatherRows<T, false, true>(kernel, rows, w, ws, wp, indices, x, batch, n_pre, out,
                                      n_post);
  return GatherRows<T, false, false>(kernel, rows, w, ws, wp, indices, x, batch, n_pre, out,
                                     n_post);
}

// ---------------------------------------------------------------------------
// CSR
// ---------------------------------------------------------------------------

template <bool kScatter>
ffi::Error CsrCommon(const char* kernel, ffi::AnyBuffer weights, ffi::AnyBuffer indices,
                     ffi::AnyBuffer indptr, ffi::AnyBuffer dense, bool homo,
                     ffi::Result<ffi::AnyBuffer> out, ffi::ThreadPool* pool = nullptr) {
  ND_RETURN_IF_ERROR(CheckFloatOut(kernel, *out));
  const ffi::DataType dt = out->element_type();
  ND_RETURN_IF_ERROR(CheckIndexDType(kernel, "indices", indices));
  ND_RETURN_IF_ERROR(CheckIndexDType(kernel, "indptr", indptr));
  ND_RETURN_IF_ERROR(CheckEventDType(kernel, kScatter ? "spikes" : "x", dense, dt));
  if (indices.dimensions().size() != 1 || indptr.dimensions().size() != 1) {
    return ffi::Error::InvalidArgument(Err(kernel, "indices and indptr must be 1-D, got " +
                                                       ShapeStr(indices) + " and " +
                                                       ShapeStr(indptr)));
  }
  const i64 nnz = static_cast<i64>(indices.element_count());
  const i64 n_pre = static_cast<i64>(indptr.element_count()) - 1;
  if (n_pre < 0) {
    return ffi::Error::InvalidArgument(Err(kernel, "indptr must have length n_pre + 1 >= 1"));
  }
  Dense2D din, dout;
  if (!AsDense2D(dense, &din) || !AsDense2D(*out, &dout)) {
    return ffi::Error::InvalidArgument(Err(kernel, "dense operand and output must have rank >= 1"));
  }
  i64 ws = 0, wp = 1;
  ND_RETURN_IF_ERROR(CheckWeights(kernel, weights, dt, homo, nnz, din.batch, &ws, &wp));
  const i64 n_in = kScatter ? n_pre : din.n;    // spikes: [B, n_pre]; x: [B, n_post]
  const i64 n_post = kScatter ? dout.n : din.n;
  const i64 n_out = kScatter ? n_post : n_pre;
  if (din.n != n_in || dout.n != n_out || din.batch != dout.batch) {
    return ffi::Error::InvalidArgument(
        Err(kernel, std::string("shape mismatch: ") + (kScatter ? "spikes " : "x ") +
                        ShapeStr(dense) + ", out " + ShapeStr(*out) + ", n_pre = " +
                        std::to_string(n_pre) +
                        (kScatter ? " (expected spikes [..., n_pre], out [..., n_post])"
                                  : " (expected x [..., n_post], out [..., n_pre])")));
  }
  const auto* ip = indptr.typed_data<std::int32_t>();
  // the gather visits every row: validate indptr once; the scatter checks the rows it visits
  if (!kScatter) ND_RETURN_IF_ERROR(CheckIndptr(kernel, ip, n_pre, nnz));
  const auto* idx = indices.typed_data<std::int32_t>();
  const bool is_bool = dense.element_type() == ffi::DataType::PRED;
  CsrRows rows{ip, nnz};
  if (dt == ffi::DataType::F32) {
    if (kScatter)
      return ScatterImpl<float>(kernel, rows, weights.typed_data<float>(), ws, wp, homo, idx,
                                dense.untyped_data(), is_bool, din.batch, n_pre,
                                out->typed_data<float>(), n_post, pool);
    return GatherImpl<float>(kernel, rows, weights.typed_data<float>(), ws, wp, homo, idx,
                             dense.untyped_data(), is_bool, din.batch, n_pre,
                             out->typed_data<float>(), n_post);
  }
  if (kScatter)
    return ScatterImpl<double>(kernel, rows, weights.typed_data<double>(), ws, wp, homo, idx,
                               dense.untyped_data(), is_bool, din.batch, n_pre,
                               out->typed_data<double>(), n_post, pool);
  return GatherImpl<double>(kernel, rows, weights.typed_data<double>(), ws, wp, homo, idx,
                            dense.untyped_data(), is_bool, din.batch, n_pre,
                            out->typed_data<double>(), n_post);
}

ffi::Error CsrScatter(ffi::AnyBuffer weights, ffi::AnyBuffer indices, ffi::AnyBuffer indptr,
                      ffi::AnyBuffer spikes, bool homo, ffi::Result<ffi::AnyBuffer> out,
                      ffi::ThreadPool pool) {
  return CsrCommon<true>("neurodyn_csr_scatter", weights, indices, indptr, spikes, homo, out,
                         &pool);
}

ffi::Error CsrGather(ffi::AnyBuffer weights, ffi::AnyBuffer indices, ffi::AnyBuffer indptr,
                     ffi::AnyBuffer x, bool homo, ffi::Result<ffi::AnyBuffer> out) {
  return CsrCommon<false>("neurodyn_csr_gather", weights, indices, indptr, x, homo, out);
}

// ---------------------------------------------------------------------------
// Fixed fan-out: indices [n_pre, k]
// ---------------------------------------------------------------------------

template <bool kScatter>
ffi::Error FanoutCommon(const char* kernel, ffi::AnyBuffer weights, ffi::AnyBuffer indices,
                        ffi::AnyBuffer dense, bool homo, ffi::Result<ffi::AnyBuffer> out,
                        ffi::ThreadPool* pool = nullptr) {
  ND_RETURN_IF_ERROR(CheckFloatOut(kernel, *out));
  const ffi::DataType dt = out->element_type();
  ND_RETURN_IF_ERROR(CheckIndexDType(kernel, "indices", indices));
  ND_RETURN_IF_ERROR(CheckEventDType(kernel, kScatter ? "spikes" : "x", dense, dt));
  auto idims = indices.dimensions();
  if (idims.size() != 2) {
    return ffi::Error::InvalidArgument(
        Err(kernel, "indices must be 2-D [n_pre, k], got " + ShapeStr(indices)));
  }
  const i64 n_pre = idims[0];
  const i64 k = idims[1];
  Dense2D din, dout;
  if (!AsDense2D(dense, &din) || !AsDense2D(*out, &dout)) {
    return ffi::Error::InvalidArgument(Err(kernel, "dense operand and output must have rank >= 1"));
  }
  i64 ws = 0, wp = 1;
  ND_RETURN_IF_ERROR(CheckWeights(kernel, weights, dt, homo, n_pre * k, din.batch, &ws, &wp));
  const i64 n_in = kScatter ? n_pre : din.n;
  const i64 n_post = kScatter ? dout.n : din.n;
  const i64 n_out = kScatter ? n_post : n_pre;
  if (din.n != n_in || dout.n != n_out || din.batch != dout.batch) {
    return ffi::Error::InvalidArgument(
        Err(kernel, std::string("shape mismatch: ") + (kScatter ? "spikes " : "x ") +
                        ShapeStr(dense) + ", out " + ShapeStr(*out) + ", indices " +
                        ShapeStr(indices) +
                        (kScatter ? " (expected spikes [..., n_pre], out [..., n_post])"
                                  : " (expected x [..., n_post], out [..., n_pre])")));
  }
  const auto* idx = indices.typed_data<std::int32_t>();
  const bool is_bool = dense.element_type() == ffi::DataType::PRED;
  FanoutRows rows{k};
  if (dt == ffi::DataType::F32) {
    if (kScatter)
      return ScatterImpl<float>(kernel, rows, weights.typed_data<float>(), ws, wp, homo, idx,
                                dense.untyped_data(), is_bool, din.batch, n_pre,
                                out->typed_data<float>(), n_post, pool);
    return GatherImpl<float>(kernel, rows, weights.typed_data<float>(), ws, wp, homo, idx,
                             dense.untyped_data(), is_bool, din.batch, n_pre,
                             out->typed_data<float>(), n_post);
  }
  if (kScatter)
    return ScatterImpl<double>(kernel, rows, weights.typed_data<double>(), ws, wp, homo, idx,
                               dense.untyped_data(), is_bool, din.batch, n_pre,
                               out->typed_data<double>(), n_post, pool);
  return GatherImpl<double>(kernel, rows, weights.typed_data<double>(), ws, wp, homo, idx,
                            dense.untyped_data(), is_bool, din.batch, n_pre,
                            out->typed_data<double>(), n_post);
}

ffi::Error FanoutScatter(ffi::AnyBuffer weights, ffi::AnyBuffer indices, ffi::AnyBuffer spikes,
                         bool homo, ffi::Result<ffi::AnyBuffer> out, ffi::ThreadPool pool) {
  return FanoutCommon<true>("neurodyn_fanout_scatter", weights, indices, spikes, homo, out,
                            &pool);
}

ffi::Error FanoutGather(ffi::AnyBuffer weights, ffi::AnyBuffer indices, ffi::AnyBuffer x,
                        bool homo, ffi::Result<ffi::AnyBuffer> out) {
  return FanoutCommon<false>("neurodyn_fanout_gather", weights, indices, x, homo, out);
}

// ---------------------------------------------------------------------------
// Just-in-time (procedural) connectivity.  Must stay bit-identical to the
// pure-JAX implementation: all integer arithmetic is uint32 modulo 2^32 and
// weights are computed in double, then cast to the output dtype.
// ---------------------------------------------------------------------------

inline u32 Fmix(u32 x) {
  x ^= x >> 16;
  x *= 0x85EBCA6Bu;
  x ^= x >> 13;
  x *= 0xC2B2AE35u;
  x ^= x >> 16;
  return x;
}

inline u32 Hash3(u32 seed, u32 i, u32 k, u32 stream) {
  u32 x = seed * 0x9E3779B1u;
  x ^= i * 0x85EBCA77u;
  x = Fmix(x);
  x ^= k * 0xC2B2AE3Du + stream * 0x27D4EB2Fu;
  x = Fmix(x);
  return x;
}

constexpr double kTwoPi = 6.283185307179586;  // 2 * pi, exactly as float64

// Open-interval uniform in (0, 1) from the top 24 bits of h.
inline double Unit(u32 h) { return (static_cast<double>(h >> 8) + 0.5) * (1.0 / 16777216.0); }

constexpr int kJitChunk = 64;

// log2(x) for normal x > 0 to about 2e-6 absolute: the exponent plus
// 2/ln2 * atanh-series in t = (m - 1) / (m + 1), m in [1, 2) the mantissa,
// t in [0, 1/3).  Only a first guess: JitRow::Correct makes the skip exact,
// but the closer the guess, the rarer the correction loops.
inline float ApproxLog2(float x) {
  std::int32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  const float e = static_cast<float>(((bits >> 23) & 255) - 127);
  const std::int32_t mbits = (bits & 0x7FFFFF) | 0x3F800000;
  float m;
  std::memcpy(&m, &mbits, sizeof m);
  const float t = (m - 1.0f) / (m + 1.0f);
  const float t2 = t * t;
  const float series = 1.0f + t2 * (1.0f / 3 + t2 * (1.0f / 5 + t2 * (1.0f / 7 + t2 * (1.0f / 9))));
  return e + 2.8853900817779268f * t * series;  // 2 / ln 2
}

// h[t] = Hash3(seed, i, k0 + t, 0) (row_key = the row's first Fmix) and a
// first guess g[t] of the skip = #(table <= h[t]) from inverting the
// geometric CDF in float.  Branch-free, so it vectorises; built for AVX2 and
// for the baseline, the loader picks the one the CPU runs.  The guess only
// needs to be close: the caller corrects it exactly against the table, so
// the columns are the same on every backend and with either clone.
#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
__attribute__((target_clones("avx2", "default")))
#endif
__attribute__((noinline)) void HashGuessChunk(u32 row_key, u32 k0, float inv_log2_1mp,
                                              std::int32_t table_len, u32* __restrict h,
                                              std::int32_t* __restrict g) {
  const float hi = static_cast<float>(table_len);
  for (int t = 0; t < kJitChunk; ++t) {
    const u32 x = Fmix(row_key ^ ((k0 + static_cast<u32>(t)) * 0xC2B2AE3Du));
    h[t] = x;
    // 1 - x / 2^32 from the top 24 bits (signed conversion vectorises), > 0
    const float tail = static_cast<float>(static_cast<std::int32_t>(~x >> 8)) * 0x1p-24f + 0x1p-25f;
    float guess = ApproxLog2(tail) * inv_log2_1mp;
    guess = guess > 0.0f ? guess : 0.0f;
    guess = guess < hi ? guess : hi;
    g[t] = static_cast<std::int32_t>(guess);
  }
}

struct JitRow {
  u32 seed;
  const u32* table;
  i64 table_len;
  i64 n_post;
  int dist;
  double w0, w1;

  // 1 / log2(1 - p), from the first table entry (table[0] = floor(p * 2^32)).
  float inv_log2_1mp = 0.0f;

  inline double Weight(u32 i, u32 k) const {
    switch (dist) {
      case 0:
        return w0;
      case 1:
        return w0 + (w1 - w0) * Unit(Hash3(seed, i, k, 1u));
      default: {
        const double u1 = Unit(Hash3(seed, i, k, 1u));
        const double u2 = Unit(Hash3(seed, i, k, 2u));
        const double z = std::sqrt(-2.0 * std::log(u1)) * std::cos(kTwoPi * u2);
        return w0 + w1 * z;
      }
    }
  }

  // Exact skip (searchsorted side='right') from a first guess s in
  // [0, table_len]: the guess is checked against its two table neighbours
  // and walked to the right entry when it is off (rarely).
  inline i64 Correct(i64 s, u32 h) const {
    // both tests load independently of each other; a miss is rare
    const bool high = (s > 0) & (table[s > 0 ? s - 1 : 0] > h);
    const bool low = (s < table_len) & (table[s < table_len ? s : table_len - 1] <= h);
    if (__builtin_expect(high | low, 0)) {
      while (s > 0 && table[s - 1] > h) --s;
      while (s < table_len && table[s] <= h) ++s;
    }
    return s;
  }

  // Calls f(column, weight) for every synapse of pre neuron i.  The hashes
  // and first guesses of the skips are computed kJitChunk at a time by a
  // vectorised function; the exact correction and the running column are
  // scalar.
  template <typename T, typename F>
  inline void ForEach(i64 i, F&& f) const {
    const u32 ui = static_cast<u32>(i);
    const u32 row_key = Fmix(seed * 0x9E3779B1u ^ (ui * 0x85EBCA77u));
    alignas(32) u32 h[kJitChunk];
    alignas(32) std::int32_t g[kJitChunk];
    i64 column = -1;
    for (u32 k0 = 0;; k0 += kJitChunk) {
      HashGuessChunk(row_key, k0, inv_log2_1mp, static_cast<std::int32_t>(table_len), h, g);
      for (int t = 0; t < kJitChunk; ++t) {
        column += 1 + (table_len == 0 ? 0 : Correct(g[t], h[t]));
        if (column >= n_post) return;
        if (dist == 0) {
          f(column, static_cast<T>(w0));
        } else {
          f(column, static_cast<T>(Weight(ui, k0 + static_cast<u32>(t))));
        }
      }
    }
  }
};

template <bool kScatter>
ffi::Error JitCommon(const char* kernel, ffi::AnyBuffer dense, ffi::AnyBuffer table,
                     std::int64_t seed, std::int64_t dist, double w0, double w1,
                     std::int64_t n_post_attr, ffi::Result<ffi::AnyBuffer> out,
                     ffi::ThreadPool* pool = nullptr) {
  ND_RETURN_IF_ERROR(CheckFloatOut(kernel, *out));
  const ffi::DataType dt = out->element_type();
  ND_RETURN_IF_ERROR(CheckEventDType(kernel, kScatter ? "spikes" : "x", dense, dt));
  if (table.element_type() != ffi::DataType::U32 || table.dimensions().size() != 1) {
    return ffi::Error::InvalidArgument(Err(kernel, "table must be a 1-D uint32 array, got " +
                                                       DTypeName(table.element_type()) + " " +
                                                       ShapeStr(table)));
  }
  if (dist < 0 || dist > 2) {
    return ffi::Error::InvalidArgument(Err(
        kernel, "dist must be 0 (homogeneous), 1 (uniform) or 2 (normal), got " +
                    std::to_string(dist)));
  }
  Dense2D din, dout;
  if (!AsDense2D(dense, &din) || !AsDense2D(*out, &dout)) {
    return ffi::Error::InvalidArgument(Err(kernel, "dense operand and output must have rank >= 1"));
  }
  const i64 n_post = kScatter ? dout.n : din.n;
  const i64 n_pre = kScatter ? din.n : dout.n;
  if (n_post != n_post_attr || din.batch != dout.batch) {
    return ffi::Error::InvalidArgument(Err(
        kernel, std::string("shape mismatch: ") + (kScatter ? "spikes " : "x ") +
                    ShapeStr(dense) + ", out " + ShapeStr(*out) + ", n_post attribute = " +
                    std::to_string(n_post_attr) +
                    (kScatter ? " (expected spikes [..., n_pre], out [..., n_post])"
                              : " (expected x [..., n_post], out [..., n_pre])")));
  }
  if (n_pre > static_cast<i64>(UINT32_MAX) + 1) {
    return ffi::Error::InvalidArgument(Err(kernel, "n_pre exceeds 2^32"));
  }
  JitRow row{static_cast<u32>(static_cast<std::uint64_t>(seed)),  // seed mod 2^32
             table.typed_data<u32>(),
             static_cast<i64>(table.element_count()),
             n_post,
             static_cast<int>(dist),
             w0,
             w1};
  double p_row = 1.0;  // the connection probability (table[0] = floor(p * 2^32); none: 1)
  if (row.table_len > 0) p_row = static_cast<double>(row.table[0]) * 0x1p-32;
  if (row.table_len > 0 && row.table[0] > 0) {
    const double p_est = p_row;
    if (p_est < 1.0) row.inv_log2_1mp = static_cast<float>(1.0 / std::log2(1.0 - p_est));
  }
  const i64 batch = din.batch;
  const bool is_bool = dense.element_type() == ffi::DataType::PRED;

  auto run = [&](auto tag) -> ffi::Error {
    using T = decltype(tag);
    T* o = out->typed_data<T>();
    DenseReader<T> rd{dense.untyped_data(), is_bool};
    if (kScatter) {
      for (i64 b = 0; b < batch; ++b) {
        T* ob = o + b * n_post;
        const bool* sb =
            is_bool ? static_cast<const bool*>(dense.untyped_data()) + b * n_pre : nullptr;
        if (sb != nullptr && dist == 0) {
          // one weight: count the synapses of the spiking rows when there are at least
          // as many as posts (expected), with a helper thread from 40k (CountSplit)
          std::vector<i64>& active = tl_active;
          active.clear();
          ForEachSpike(sb, n_pre, [&](i64 i) {
            active.push_back(i);
            return true;
          });
          const i64 n_active = static_cast<i64>(active.size());
          const i64 per_row = std::max<i64>(1, std::llround(p_row * static_cast<double>(n_post)));
          if (n_active * per_row >= n_post) {
            const i64* act = active.data();
            const ffi::Error e = CountSplit<T>(
                n_active, n_active * per_row, [&](i64) { return per_row; },
                [&](RowCounter& r, i64 lo, i64 hi) {
                  for (i64 a = lo; a < hi; ++a) {
                    r.Reserve(1);  // the columns of a row are distinct
                    std::uint16_t* __restrict c = r.c;
                    row.template ForEach<T>(act[a], [&](i64 j, T) { ++c[j]; });
                  }
                  return true;
                },
                [&](const RowCounter&) {
                  return ffi::Error::Internal(Err(kernel, "unexpected counting error"));
                },
                static_cast<T>(w0), ob, n_post, pool);
            if (e.failure()) return e;
            continue;  // (the counting pass writes every output of the row)
          }
        }
        std::fill(ob, ob + n_post, T(0));
        if (sb != nullptr) {
          ForEachSpike(sb, n_pre, [&](i64 i) {
            row.template ForEach<T>(i, [&](i64 j, T w) { ob[j] += w; });
            return true;
          });
          continue;
        }
        for (i64 i = 0; i < n_pre; ++i) {
          const T s = rd(b * n_pre + i);
          if (s == T(0)) continue;
          row.template ForEach<T>(i, [&](i64 j, T w) { ob[j] += w * s; });
        }
      }
    } else {
      for (i64 b = 0; b < batch; ++b) {
        const i64 xoff = b * n_post;
        T* ob = o + b * n_pre;
        for (i64 i = 0; i < n_pre; ++i) {
          T acc = T(0);
          row.template ForEach<T>(i, [&](i64 j, T w) { acc += w * rd(xoff + j); });
          ob[i] = acc;
        }
      }
    }
    return ffi::Error::Success();
  };
  if (dt == ffi::DataType::F32) return run(float{});
  return run(double{});
}

using neurodyn::FloatAttr;
using neurodyn::IntAttr;

ffi::Error JitconnScatter(ffi::AnyBuffer spikes, ffi::AnyBuffer table, IntAttr seed, IntAttr dist,
                          FloatAttr w0, FloatAttr w1, IntAttr n_post,
                          ffi::Result<ffi::AnyBuffer> out, ffi::ThreadPool pool) {
  return JitCommon<true>("neurodyn_jitconn_scatter", spikes, table, seed.value, dist.value,
                         w0.value, w1.value, n_post.value, out, &pool);
}

ffi::Error JitconnGather(ffi::AnyBuffer x, ffi::AnyBuffer table, IntAttr seed, IntAttr dist,
                         FloatAttr w0, FloatAttr w1, IntAttr n_post,
                         ffi::Result<ffi::AnyBuffer> out) {
  return JitCommon<false>("neurodyn_jitconn_gather", x, table, seed.value, dist.value, w0.value,
                          w1.value, n_post.value, out);
}

// ---------------------------------------------------------------------------
// Plasticity on events: weights of the synapses of spiking neurons move by a
// trace and are clipped; every other weight is left as it is.  O(spikes x
// fan-out).  The output aliases the weights operand (operand_output_aliases),
// so inside a loop XLA updates the weights in place; when it could not alias,
// the weights are copied first.
//
//   pre:  for i with spikes[i]:  for s in row i:     w[s] = clip(w[s] + trace[indices[s]])
//   post: for j with spikes[j]:  for q in column j:  w[perm[q]] = clip(w[perm[q]] + trace[rows[q]])
//
// (column j's synapses are perm[colptr[j] .. colptr[j+1]), their presynaptic
// neurons rows[...]: the CSC view of the CSR, built once on the Python side).
// ---------------------------------------------------------------------------

template <typename T>
inline T Clip(T x, T lo, T hi) {
  return std::min(std::max(x, lo), hi);  // == jnp.clip(x, lo, hi) for non-NaN x
}

template <typename T>
ffi::Error UpdateImpl(const char* kernel, const ffi::AnyBuffer& w, const std::int32_t* ptr,
                      i64 n_seg, const std::int32_t* syn, const std::int32_t* other,
                      i64 n_other, const bool* spikes, const T* trace, double lo, double hi,
                      T* out) {
  const i64 nnz = static_cast<i64>(w.element_count());
  const T* win = w.typed_data<T>();
  if (out != win) std::copy(win, win + nnz, out);
  const T tlo = static_cast<T>(lo), thi = static_cast<T>(hi);
  ffi::Error err = ffi::Error::Success();
  ForEachSpike(spikes, n_seg, [&](i64 a) {
    const i64 b = ptr[a], e = ptr[a + 1];
    if (b < 0 || e < b || e > nnz) {
      err = ffi::Error::InvalidArgument(
          Err(kernel, "segment " + std::to_string(a) + " spans [" + std::to_string(b) + ", " +
                          std::to_string(e) + "), not inside [0, " + std::to_string(nnz) + ")"));
      return false;
    }
    for (i64 q = b; q < e; ++q) {
      const i64 s = syn ? static_cast<i64>(syn[q]) : q;
      const auto o = static_cast<std::uint32_t>(other[q]);
      if (static_cast<std::uint64_t>(s) >= static_cast<std::uint64_t>(nnz) ||
          o >= static_cast<std::uint64_t>(n_other)) {
        err = ffi::Error::InvalidArgument(
            Err(kernel, "index out of range at position " + std::to_string(q) + ": synapse " +
                            std::to_string(s) + " (nnz " + std::to_string(nnz) + "), neuron " +
                            std::to_string(other[q]) + " (n " + std::to_string(n_other) + ")"));
        return false;
      }
      out[s] = Clip<T>(out[s] + trace[o], tlo, thi);
    }
    return true;
  });
  if (err.failure()) return err;
  return ffi::Error::Success();
}

// weights [nnz], ptr [n_seg + 1], syn [nnz] (or [0]: identity), other [nnz],
// spikes bool [n_seg], trace [n_other] -> weights [nnz]
ffi::Error CsrUpdate(const char* kernel, ffi::AnyBuffer weights, ffi::AnyBuffer ptr,
                     ffi::AnyBuffer syn, ffi::AnyBuffer other, ffi::AnyBuffer spikes,
                     ffi::AnyBuffer trace, double lo, double hi,
                     ffi::Result<ffi::AnyBuffer> out) {
  ND_RETURN_IF_ERROR(CheckFloatOut(kernel, *out));
  const ffi::DataType dt = out->element_type();
  ND_RETURN_IF_ERROR(CheckIndexDType(kernel, "ptr", ptr));
  ND_RETURN_IF_ERROR(CheckIndexDType(kernel, "syn", syn));
  ND_RETURN_IF_ERROR(CheckIndexDType(kernel, "other", other));
  const i64 nnz = static_cast<i64>(weights.element_count());
  const i64 n_seg = static_cast<i64>(ptr.element_count()) - 1;
  const i64 n_syn = static_cast<i64>(syn.element_count());
  if (weights.element_type() != dt || trace.element_type() != dt ||
      out->element_count() != static_cast<std::size_t>(nnz)) {
    return ffi::Error::InvalidArgument(
        Err(kernel, "weights " + DTypeName(weights.element_type()) + ShapeStr(weights) +
                        ", trace " + DTypeName(trace.element_type()) + ShapeStr(trace) +
                        " and out " + DTypeName(dt) + ShapeStr(*out) +
                        " must share one float dtype, out the weights' shape"));
  }
  if (spikes.element_type() != ffi::DataType::PRED ||
      static_cast<i64>(spikes.element_count()) != n_seg || n_seg < 0 ||
      static_cast<i64>(other.element_count()) != nnz || (n_syn != 0 && n_syn != nnz)) {
    return ffi::Error::InvalidArgument(
        Err(kernel, "expected bool spikes [n] with ptr [n + 1], other [nnz] and syn [nnz] or "
                    "[0]; got spikes " + DTypeName(spikes.element_type()) + ShapeStr(spikes) +
                        ", ptr " + ShapeStr(ptr) + ", syn " + ShapeStr(syn) + ", other " +
                        ShapeStr(other) + ", weights " + ShapeStr(weights)));
  }
  const i64 n_other = static_cast<i64>(trace.element_count());
  const auto* sp = static_cast<const bool*>(spikes.untyped_data());
  const auto* pp = ptr.typed_data<std::int32_t>();
  const std::int32_t* sy = n_syn ? syn.typed_data<std::int32_t>() : nullptr;
  const auto* ot = other.typed_data<std::int32_t>();
  if (dt == ffi::DataType::F32) {
    return UpdateImpl<float>(kernel, weights, pp, n_seg, sy, ot, n_other, sp,
                             trace.typed_data<float>(), lo, hi, out->typed_data<float>());
  }
  return UpdateImpl<double>(kernel, weights, pp, n_seg, sy, ot, n_other, sp,
                            trace.typed_data<double>(), lo, hi, out->typed_data<double>());
}

ffi::Error CsrUpdateFfi(ffi::AnyBuffer weights, ffi::AnyBuffer ptr, ffi::AnyBuffer syn,
                        ffi::AnyBuffer other, ffi::AnyBuffer spikes, ffi::AnyBuffer trace,
                        ffi::AnyBuffer /*after*/, neurodyn::FloatAttr lo, neurodyn::FloatAttr hi,
                        ffi::Result<ffi::AnyBuffer> out) {
  return CsrUpdate("neurodyn_csr_update", weights, ptr, syn, other, spikes, trace, lo.value,
                   hi.value, out);
}

}  // namespace

// ---------------------------------------------------------------------------
// Exported handler symbols (C linkage), loaded with ctypes.
// ---------------------------------------------------------------------------

XLA_FFI_DEFINE_HANDLER_SYMBOL(NeurodynCsrScatter, CsrScatter,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::AnyBuffer>()  // weights
                                  .Arg<ffi::AnyBuffer>()  // indices
                                  .Arg<ffi::AnyBuffer>()  // indptr
                                  .Arg<ffi::AnyBuffer>()  // spikes
                                  .Attr<bool>("homo")
                                  .Ret<ffi::AnyBuffer>()
                                  .Ctx<ffi::ThreadPool>());

XLA_FFI_DEFINE_HANDLER_SYMBOL(NeurodynCsrGather, CsrGather,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::AnyBuffer>()  // weights
                                  .Arg<ffi::AnyBuffer>()  // indices
                                  .Arg<ffi::AnyBuffer>()  // indptr
                                  .Arg<ffi::AnyBuffer>()  // x
                                  .Attr<bool>("homo")
                                  .Ret<ffi::AnyBuffer>());

XLA_FFI_DEFINE_HANDLER_SYMBOL(NeurodynFanoutScatter, FanoutScatter,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::AnyBuffer>()  // weights
                                  .Arg<ffi::AnyBuffer>()  // indices [n_pre, k]
                                  .Arg<ffi::AnyBuffer>()  // spikes
                                  .Attr<bool>("homo")
                                  .Ret<ffi::AnyBuffer>()
                                  .Ctx<ffi::ThreadPool>());

XLA_FFI_DEFINE_HANDLER_SYMBOL(NeurodynFanoutGather, FanoutGather,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::AnyBuffer>()  // weights
                                  .Arg<ffi::AnyBuffer>()  // indices [n_pre, k]
                                  .Arg<ffi::AnyBuffer>()  // x
                                  .Attr<bool>("homo")
                                  .Ret<ffi::AnyBuffer>());

XLA_FFI_DEFINE_HANDLER_SYMBOL(NeurodynJitconnScatter, JitconnScatter,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::AnyBuffer>()  // spikes
                                  .Arg<ffi::AnyBuffer>()  // table (uint32)
                                  .Attr<neurodyn::IntAttr>("seed")
                                  .Attr<neurodyn::IntAttr>("dist")
                                  .Attr<neurodyn::FloatAttr>("w0")
                                  .Attr<neurodyn::FloatAttr>("w1")
                                  .Attr<neurodyn::IntAttr>("n_post")
                                  .Ret<ffi::AnyBuffer>()
                                  .Ctx<ffi::ThreadPool>());

XLA_FFI_DEFINE_HANDLER_SYMBOL(NeurodynJitconnGather, JitconnGather,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::AnyBuffer>()  // x
                                  .Arg<ffi::AnyBuffer>()  // table (uint32)
                                  .Attr<neurodyn::IntAttr>("seed")
                                  .Attr<neurodyn::IntAttr>("dist")
                                  .Attr<neurodyn::FloatAttr>("w0")
                                  .Attr<neurodyn::FloatAttr>("w1")
                                  .Attr<neurodyn::IntAttr>("n_post")
                                  .Ret<ffi::AnyBuffer>());

XLA_FFI_DEFINE_HANDLER_SYMBOL(NeurodynCsrUpdate, CsrUpdateFfi,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::AnyBuffer>()  // weights [nnz]
                                  .Arg<ffi::AnyBuffer>()  // ptr [n + 1]
                                  .Arg<ffi::AnyBuffer>()  // syn [nnz] or [0]
                                  .Arg<ffi::AnyBuffer>()  // other [nnz]
                                  .Arg<ffi::AnyBuffer>()  // spikes bool [n]
                                  .Arg<ffi::AnyBuffer>()  // trace [n_other]
                                  .Arg<ffi::AnyBuffer>()  // after: not read (orders the call)
                                  .Attr<neurodyn::FloatAttr>("lo")
                                  .Attr<neurodyn::FloatAttr>("hi")
                                  .Ret<ffi::AnyBuffer>());
