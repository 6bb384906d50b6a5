// Sparse spike recording: append the indices of the true entries of a boolean
// array, and the step, to preallocated buffers, in place.
//
// This is the recorder behind ``nd.dyn.SpikeMonitor``: called once per simulated
// step inside the compiled loop, it must cost little next to the step itself
// (a 64k-neuron LIF step is ~150 us here; XLA's own cumsum + scatter compaction
// of 64k flags costs ~480 us).  The scan reads the flags eight bytes at a time
// and skips all-zero words, so a step with few spikes costs ~N/8 word loads.
//
// Operands: spikes PRED [any shape, flattened]; step S32 []; idx S32 [C];
// steps S32 [C]; count S32 [].  Results: idx, steps, count (aliased to the
// operands by the lowering, so the buffers are updated in place; if XLA ever
// hands over distinct buffers the used part is copied first).  ``count`` is the
// number of spikes seen, which may exceed C: entries past C are not written
// (the caller detects count > C and re-runs with a larger buffer).  The count
// saturates at INT32_MAX.

#include <cstdint>
#include <cstring>
#include <limits>

#include "common.h"

namespace {

using S32 = ffi::Buffer<ffi::S32>;
constexpr const char* kName = ND_TARGET(record_spikes);

ffi::Error RecordSpikes(ffi::AnyBuffer spikes, S32 step, S32 idx_in, S32 steps_in, S32 count_in,
                        ffi::Result<S32> idx_out, ffi::Result<S32> steps_out,
                        ffi::Result<S32> count_out) {
  if (spikes.element_type() != ffi::DataType::PRED) {
    return ffi::Error::InvalidArgument(
        neurodyn::Err(kName, "spikes must be boolean (PRED); convert with spikes != 0"));
  }
  const std::int64_t n = static_cast<std::int64_t>(spikes.element_count());
  const std::int64_t cap = static_cast<std::int64_t>(idx_in.element_count());
  if (static_cast<std::int64_t>(steps_in.element_count()) != cap) {
    return ffi::Error::InvalidArgument(
        neurodyn::Err(kName, "the index and step buffers must have the same length"));
  }
  if (n > std::numeric_limits<std::int32_t>::max()) {
    return ffi::Error::InvalidArgument(
        neurodyn::Err(kName, "more than 2^31 - 1 flags in one step"));
  }
  std::int32_t* idx = idx_out->typed_data();
  std::int32_t* st = steps_out->typed_data();
  std::int64_t count = count_in.typed_data()[0];
  if (count < 0) count = 0;
  if (idx != idx_in.typed_data() || st != steps_in.typed_data()) {  // not aliased: copy
    const std::int64_t used = count < cap ? count : cap;
    std::memcpy(idx, idx_in.typed_data(), sizeof(std::int32_t) * used);
    std::memcpy(st, steps_in.typed_data(), sizeof(std::int32_t) * used);
  }
  const std::int32_t k = step.typed_data()[0];
  const auto* flags = static_cast<const std::uint8_t*>(spikes.untyped_data());
  auto emit = [&](std::int64_t j) {
    if (count < cap) {
      idx[count] = static_cast<std::int32_t>(j);
      st[count] = k;
    }
    ++count;
  };
  std::int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    std::uint64_t word;
    std::memcpy(&word, flags + j, 8);
    if (word == 0) continue;
    for (int b = 0; b < 8; ++b) {
      if (flags[j + b]) emit(j + b);
    }
  }
  for (; j < n; ++j) {
    if (flags[j]) emit(j);
  }
  const std::int64_t top = std::numeric_limits<std::int32_t>::max();
  count_out->typed_data()[0] = static_cast<std::int32_t>(count < top ? count : top);
  return ffi::Error::Success();
}

}  // namespace

XLA_FFI_DEFINE_HANDLER_SYMBOL(NeurodynRecordSpikes, RecordSpikes,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::AnyBuffer>()  // spikes (bool, any shape)
                                  .Arg<S32>()             // step []
                                  .Arg<S32>()             // idx [C]
                                  .Arg<S32>()             // steps [C]
                                  .Arg<S32>()             // count []
                                  .Ret<S32>()             // idx (aliased)
                                  .Ret<S32>()             // steps (aliased)
                                  .Ret<S32>());           // count (aliased)
