// Just-in-time (procedural) connectivity: row i of a JitProb matrix is never stored, its
// columns are drawn by geometric skipping from the counter hash (jithash.h), one skip per
// synapse, exactly as neurodyn/event/_jitconn.py draws them.  Must stay bit-identical to
// that pure-JAX implementation: all integer arithmetic is uint32 modulo 2^32 and weights
// are computed in double, then cast to the output dtype.
//
// The scatter of bool spikes through one weight counts the synapses of the spiking rows
// (threads.h: CountSplit), with a helper thread from 40k adds.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "common.h"
#include "jithash.h"
#include "threads.h"

namespace neurodyn {
namespace {

using jithash::FromRowKey;
using jithash::Hash3;
using jithash::RowKey;

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
// (Not under ThreadSanitizer: the clone's resolver runs before its runtime starts.)
#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__) && \
    !defined(__SANITIZE_THREAD__)
__attribute__((target_clones("avx2", "default")))
#endif
__attribute__((noinline)) void HashGuessChunk(u32 row_key, u32 k0, float inv_log2_1mp,
                                              std::int32_t table_len, u32* __restrict h,
                                              std::int32_t* __restrict g) {
  const float hi = static_cast<float>(table_len);
  for (int t = 0; t < kJitChunk; ++t) {
    const u32 x = FromRowKey(row_key, k0 + static_cast<u32>(t), 0u);
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
    const u32 row_key = RowKey(seed, ui);
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
  return JitCommon<true>(ND_TARGET(jitconn_scatter), spikes, table, seed.value, dist.value,
                         w0.value, w1.value, n_post.value, out, &pool);
}

ffi::Error JitconnGather(ffi::AnyBuffer x, ffi::AnyBuffer table, IntAttr seed, IntAttr dist,
                         FloatAttr w0, FloatAttr w1, IntAttr n_post,
                         ffi::Result<ffi::AnyBuffer> out) {
  return JitCommon<false>(ND_TARGET(jitconn_gather), x, table, seed.value, dist.value, w0.value,
                          w1.value, n_post.value, out);
}

}  // namespace
}  // namespace neurodyn

XLA_FFI_DEFINE_HANDLER_SYMBOL(NeurodynJitconnScatter, neurodyn::JitconnScatter,
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

XLA_FFI_DEFINE_HANDLER_SYMBOL(NeurodynJitconnGather, neurodyn::JitconnGather,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::AnyBuffer>()  // x
                                  .Arg<ffi::AnyBuffer>()  // table (uint32)
                                  .Attr<neurodyn::IntAttr>("seed")
                                  .Attr<neurodyn::IntAttr>("dist")
                                  .Attr<neurodyn::FloatAttr>("w0")
                                  .Attr<neurodyn::FloatAttr>("w1")
                                  .Attr<neurodyn::IntAttr>("n_post")
                                  .Ret<ffi::AnyBuffer>());

