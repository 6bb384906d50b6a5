// The trampoline of user-defined event operators: one XLA FFI handler that hands the
// data pointers and element counts of its operands and results to a compiled kernel
// (a numba cfunc generated from the user's body, see neurodyn/event/_numba.py) whose
// address is an attribute of the call. No Python runs in the call path.
//
// The kernel's signature is void(void** pointers, int64_t* sizes): pointers and sizes
// of the operands in order, then of the results. Results are aliased to operands where
// the lowering says so (in-place updates: ``alias`` names the operand, copied over here
// if XLA gave a distinct result buffer); the kernel zeroes its accumulating outputs.

#include <cstdint>
#include <cstring>
#include <vector>

#include "xla_ffi.h"

namespace {

using Kernel = void (*)(void**, std::int64_t*);

ffi::Error UserKernel(ffi::RemainingArgs args, ffi::RemainingRets rets, std::int64_t fn,
                      std::int64_t alias) {
  if (fn == 0) {
    return ffi::Error::InvalidArgument("neurodyn_user_kernel: no kernel address");
  }
  const size_t n_args = args.size(), n_rets = rets.size();
  // small operand lists: stack storage (the call is per simulation step)
  void* ptr_small[32];
  std::int64_t size_small[32];
  std::vector<void*> ptr_big;
  std::vector<std::int64_t> size_big;
  void** ptrs = ptr_small;
  std::int64_t* sizes = size_small;
  if (n_args + n_rets > 32) {
    ptr_big.resize(n_args + n_rets);
    size_big.resize(n_args + n_rets);
    ptrs = ptr_big.data();
    sizes = size_big.data();
  }
  for (size_t i = 0; i < n_args; ++i) {
    auto buf = args.get<ffi::AnyBuffer>(i);
    if (!buf.has_value()) return buf.error();
    ptrs[i] = buf->untyped_data();
    sizes[i] = static_cast<std::int64_t>(buf->element_count());
  }
  for (size_t i = 0; i < n_rets; ++i) {
    auto buf = rets.get<ffi::AnyBuffer>(i);
    if (!buf.has_value()) return buf.error();
    ptrs[n_args + i] = (*buf)->untyped_data();
    sizes[n_args + i] = static_cast<std::int64_t>((*buf)->element_count());
  }
  // an in-place update whose result XLA did not alias to its operand: copy it over first
  if (alias >= 0 && static_cast<size_t>(alias) < n_args && n_rets > 0 &&
      ptrs[n_args] != ptrs[alias]) {
    auto buf = args.get<ffi::AnyBuffer>(alias);
    std::memcpy(ptrs[n_args], ptrs[alias], buf->size_bytes());
  }
  reinterpret_cast<Kernel>(static_cast<std::intptr_t>(fn))(ptrs, sizes);
  return ffi::Error::Success();
}

}  // namespace

XLA_FFI_DEFINE_HANDLER_SYMBOL(NeurodynUserKernel, UserKernel,
                              ffi::Ffi::Bind()
                                  .RemainingArgs()
                                  .RemainingRets()
                                  .Attr<std::int64_t>("fn")
                                  .Attr<std::int64_t>("alias"));
