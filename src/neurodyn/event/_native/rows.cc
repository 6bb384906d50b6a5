// Row-driven stored connectivity: CSR and fixed fan-out, one implementation.
//
// A fixed fan-out matrix (indices [n_pre, k]) is a CSR whose row pointer is implicit,
// indptr[i] = i * k: both are a `Rows` (CsrRows, FanoutRows) that gives the span
// [begin(i), end(i)) of row i in `indices` (and in the weights), and every loop below,
// like the entry point RowsKernel that checks the operands, is written once for both.
//
//   scatter  out[b, indices[s]] += w_s * spikes[b, i]   for s in row i, spikes[b, i] != 0
//   gather   out[b, i] = sum_{s in row i} w_s * x[b, indices[s]]
//
// The scatter of bool spikes through one homogeneous weight counts the synapses of the
// spiking rows (threads.h: RowCounter, CountSplit), with a helper thread from 40k adds.

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "common.h"
#include "threads.h"

namespace neurodyn {
namespace {


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
// The entry point of the four handlers: CSR (indptr given) or fixed fan-out (indptr
// nullptr, indices [n_pre, k]), scatter or gather.
// ---------------------------------------------------------------------------

template <bool kScatter>
ffi::Error RowsKernel(const char* kernel, const ffi::AnyBuffer& weights,
                      const ffi::AnyBuffer& indices, const ffi::AnyBuffer* indptr,
                      const ffi::AnyBuffer& dense, bool homo, ffi::Result<ffi::AnyBuffer>& out,
                      ffi::ThreadPool* pool) {
  ND_RETURN_IF_ERROR(CheckFloatOut(kernel, *out));
  const ffi::DataType dt = out->element_type();
  ND_RETURN_IF_ERROR(CheckIndexDType(kernel, "indices", indices));
  if (indptr != nullptr) ND_RETURN_IF_ERROR(CheckIndexDType(kernel, "indptr", *indptr));
  ND_RETURN_IF_ERROR(CheckEventDType(kernel, kScatter ? "spikes" : "x", dense, dt));
  // the layout: n_pre rows of nnz synapses in all
  i64 n_pre, nnz, k = 0;
  if (indptr != nullptr) {
    if (indices.dimensions().size() != 1 || indptr->dimensions().size() != 1) {
      return ffi::Error::InvalidArgument(Err(kernel, "indices and indptr must be 1-D, got " +
                                                         ShapeStr(indices) + " and " +
                                                         ShapeStr(*indptr)));
    }
    nnz = static_cast<i64>(indices.element_count());
    n_pre = static_cast<i64>(indptr->element_count()) - 1;
    if (n_pre < 0) {
      return ffi::Error::InvalidArgument(Err(kernel, "indptr must have length n_pre + 1 >= 1"));
    }
  } else {
    auto idims = indices.dimensions();
    if (idims.size() != 2) {
      return ffi::Error::InvalidArgument(
          Err(kernel, "indices must be 2-D [n_pre, k], got " + ShapeStr(indices)));
    }
    n_pre = idims[0];
    k = idims[1];
    nnz = n_pre * k;
  }
  Dense2D din, dout;
  if (!AsDense2D(dense, &din) || !AsDense2D(*out, &dout)) {
    return ffi::Error::InvalidArgument(Err(kernel, "dense operand and output must have rank >= 1"));
  }
  i64 ws = 0, wp = 1;
  ND_RETURN_IF_ERROR(CheckWeights(kernel, weights, dt, homo, nnz, din.batch, &ws, &wp));
  const i64 n_in = kScatter ? n_pre : din.n;  // spikes: [B, n_pre]; x: [B, n_post]
  const i64 n_post = kScatter ? dout.n : din.n;
  const i64 n_out = kScatter ? n_post : n_pre;
  if (din.n != n_in || dout.n != n_out || din.batch != dout.batch) {
    return ffi::Error::InvalidArgument(
        Err(kernel, std::string("shape mismatch: ") + (kScatter ? "spikes " : "x ") +
                        ShapeStr(dense) + ", out " + ShapeStr(*out) +
                        (indptr != nullptr ? ", n_pre = " + std::to_string(n_pre)
                                           : ", indices " + ShapeStr(indices)) +
                        (kScatter ? " (expected spikes [..., n_pre], out [..., n_post])"
                                  : " (expected x [..., n_post], out [..., n_pre])")));
  }
  const auto* idx = indices.typed_data<std::int32_t>();
  const bool is_bool = dense.element_type() == ffi::DataType::PRED;
  auto run = [&](const auto& rows) -> ffi::Error {
    if (dt == ffi::DataType::F32) {
      if constexpr (kScatter)
        return ScatterImpl<float>(kernel, rows, weights.typed_data<float>(), ws, wp, homo, idx,
                                  dense.untyped_data(), is_bool, din.batch, n_pre,
                                  out->template typed_data<float>(), n_post, pool);
      else
        return GatherImpl<float>(kernel, rows, weights.typed_data<float>(), ws, wp, homo, idx,
                                 dense.untyped_data(), is_bool, din.batch, n_pre,
                                 out->template typed_data<float>(), n_post);
    }
    if constexpr (kScatter)
      return ScatterImpl<double>(kernel, rows, weights.typed_data<double>(), ws, wp, homo, idx,
                                 dense.untyped_data(), is_bool, din.batch, n_pre,
                                 out->template typed_data<double>(), n_post, pool);
    else
      return GatherImpl<double>(kernel, rows, weights.typed_data<double>(), ws, wp, homo, idx,
                                dense.untyped_data(), is_bool, din.batch, n_pre,
                                out->template typed_data<double>(), n_post);
  };
  if (indptr == nullptr) return run(FanoutRows{k});
  const auto* ip = indptr->typed_data<std::int32_t>();
  // the gather visits every row: validate indptr once; the scatter checks the rows it visits
  if constexpr (!kScatter) ND_RETURN_IF_ERROR(CheckIndptr(kernel, ip, n_pre, nnz));
  return run(CsrRows{ip, nnz});
}

ffi::Error CsrScatter(ffi::AnyBuffer weights, ffi::AnyBuffer indices, ffi::AnyBuffer indptr,
                      ffi::AnyBuffer spikes, bool homo, ffi::Result<ffi::AnyBuffer> out,
                      ffi::ThreadPool pool) {
  return RowsKernel<true>(ND_TARGET(csr_scatter), weights, indices, &indptr, spikes, homo, out,
                          &pool);
}

ffi::Error CsrGather(ffi::AnyBuffer weights, ffi::AnyBuffer indices, ffi::AnyBuffer indptr,
                     ffi::AnyBuffer x, bool homo, ffi::Result<ffi::AnyBuffer> out) {
  return RowsKernel<false>(ND_TARGET(csr_gather), weights, indices, &indptr, x, homo, out,
                           nullptr);
}

ffi::Error FanoutScatter(ffi::AnyBuffer weights, ffi::AnyBuffer indices, ffi::AnyBuffer spikes,
                         bool homo, ffi::Result<ffi::AnyBuffer> out, ffi::ThreadPool pool) {
  return RowsKernel<true>(ND_TARGET(fanout_scatter), weights, indices, nullptr, spikes, homo, out,
                          &pool);
}

ffi::Error FanoutGather(ffi::AnyBuffer weights, ffi::AnyBuffer indices, ffi::AnyBuffer x,
                        bool homo, ffi::Result<ffi::AnyBuffer> out) {
  return RowsKernel<false>(ND_TARGET(fanout_gather), weights, indices, nullptr, x, homo, out,
                           nullptr);
}

}  // namespace
}  // namespace neurodyn

XLA_FFI_DEFINE_HANDLER_SYMBOL(NeurodynCsrScatter, neurodyn::CsrScatter,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::AnyBuffer>()  // weights
                                  .Arg<ffi::AnyBuffer>()  // indices
                                  .Arg<ffi::AnyBuffer>()  // indptr
                                  .Arg<ffi::AnyBuffer>()  // spikes
                                  .Attr<bool>("homo")
                                  .Ret<ffi::AnyBuffer>()
                                  .Ctx<ffi::ThreadPool>());

XLA_FFI_DEFINE_HANDLER_SYMBOL(NeurodynCsrGather, neurodyn::CsrGather,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::AnyBuffer>()  // weights
                                  .Arg<ffi::AnyBuffer>()  // indices
                                  .Arg<ffi::AnyBuffer>()  // indptr
                                  .Arg<ffi::AnyBuffer>()  // x
                                  .Attr<bool>("homo")
                                  .Ret<ffi::AnyBuffer>());

XLA_FFI_DEFINE_HANDLER_SYMBOL(NeurodynFanoutScatter, neurodyn::FanoutScatter,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::AnyBuffer>()  // weights
                                  .Arg<ffi::AnyBuffer>()  // indices [n_pre, k]
                                  .Arg<ffi::AnyBuffer>()  // spikes
                                  .Attr<bool>("homo")
                                  .Ret<ffi::AnyBuffer>()
                                  .Ctx<ffi::ThreadPool>());

XLA_FFI_DEFINE_HANDLER_SYMBOL(NeurodynFanoutGather, neurodyn::FanoutGather,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::AnyBuffer>()  // weights
                                  .Arg<ffi::AnyBuffer>()  // indices [n_pre, k]
                                  .Arg<ffi::AnyBuffer>()  // x
                                  .Attr<bool>("homo")
                                  .Ret<ffi::AnyBuffer>());

