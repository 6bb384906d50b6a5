// The multi-threaded code of the native kernels, in one place: the counting scatter of
// bool spikes through one homogeneous weight (rows.cc: CSR and fixed fan-out; jitconn.cc:
// procedural connectivity) splits its rows between the calling thread and one helper
// thread of XLA's intra-op pool when there are kParallelMinAdds synapses or more to add
// (CountSplit). Its result does not depend on the split. NEURODYN_NATIVE_THREADS=1 in the
// environment turns the helper off.
//
// Everything here that two threads touch: the chunk counter and the helper's state
// (SharedChunks, atomics), and the helper's counts (RowCounter slot 1, owned by the
// calling thread, written by the helper only between its start and its `done` store).
// `make native-sanitize` builds the kernels with ThreadSanitizer and runs a driver through
// this code with a real second thread (sanitize_driver.cc).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <memory>
#include <thread>
#include <vector>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "common.h"

namespace neurodyn ND_HIDDEN {

// Per-thread scratch of the calling thread: the spiking rows of one spike
// vector; uint16 counts for this thread and for a helper (all zero between
// calls: the final pass and the error path clear them); uint32 spill-over
// counts for each, used only when a count could overflow (zeroed on first use
// in a call).
inline thread_local std::vector<i64> tl_active;
inline thread_local std::vector<std::uint16_t> tl_counts[2];
inline thread_local std::vector<std::uint32_t> tl_spill[2];
inline constexpr i64 kMaxCount = 65535;

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

// o[j] = w * (the total count of j over the counters); the counts are cleared.
template <typename T>
inline void FinishCounts(T* __restrict o, i64 n, T w, RowCounter& a, RowCounter* b) {
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
inline constexpr i64 kParallelMinAdds = 40000;
inline constexpr i64 kChunks = 16;

// NEURODYN_NATIVE_THREADS=1 (read once) keeps every kernel on its calling
// thread: for timing one core, or when the caller runs many computations in
// parallel itself.
inline bool HelperAllowed() {
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


}  // namespace neurodyn
