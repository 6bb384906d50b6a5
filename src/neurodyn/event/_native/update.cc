// Plasticity on events: the weights of the synapses of spiking neurons move by a trace and
// are clipped; every other weight is left as it is.  O(spikes x fan-out), on the calling
// thread.  The output aliases the weights operand (operand_output_aliases), so inside a
// loop XLA updates the weights in place; when it could not alias, the weights are copied
// first.

#include <algorithm>
#include <cstdint>
#include <string>

#include "common.h"

namespace neurodyn {
namespace {

//   pre:  for i with spikes[i]:  for s in row i:     w[s] = clip(w[s] + trace[indices[s]])
//   post: for j with spikes[j]:  for q in column j:  w[perm[q]] = clip(w[perm[q]] + trace[rows[q]])
//
// (column j's synapses are perm[colptr[j] .. colptr[j+1]), their presynaptic
// neurons rows[...]: the CSC view of the CSR, built once on the Python side).

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
  return CsrUpdate(ND_TARGET(csr_update), weights, ptr, syn, other, spikes, trace, lo.value,
                   hi.value, out);
}

}  // namespace
}  // namespace neurodyn

XLA_FFI_DEFINE_HANDLER_SYMBOL(NeurodynCsrUpdate, neurodyn::CsrUpdateFfi,
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
