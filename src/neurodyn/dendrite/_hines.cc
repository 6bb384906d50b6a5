// Hines' O(n) solve of the tree-structured linear system of a cable step, as an XLA FFI
// handler for the CPU (``neurodyn.dendrite._hines`` registers it with JAX).
//
// The matrix is symmetric with the sparsity of the tree: ``d[i]`` on the diagonal and
// ``e[i]`` between node ``i`` and its parent ``par[i]``. ``seq`` lists every node once,
// children before their parents, the root last; Gaussian elimination in that order
// creates no fill (NEURON's triangularisation), and back substitution runs it in reverse.
// The arithmetic is in double precision whatever the operands' type (float32 or float64;
// the result has the operands' type).
//
// neurodyn_tree_solve: operands d, e, r of one float type, each [B, N] or [N] (an operand
// of N elements is shared by every row: the constant axial conductances need no copy per
// cell); seq, par S32 [N] (the root's parent is ignored). Result: x [B, N], A x = r.
// neurodyn_cable_solve: operands dm, b, v, g, seq, par; x = (diag(dm) + K)^-1 (b - K v)
// with K the Laplacian of the axial conductances g ([N], shared): a cable step; with the
// attribute add != 0 the result is v + add * x instead (the new V of the step, without a
// pass of its own).
//
// Build: see ``neurodyn/dendrite/_hines.py`` (``python -m neurodyn.dendrite._hines``).

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "xla_ffi.h"

#ifndef NEURODYN_CABLE_LANES
#define NEURODYN_CABLE_LANES 8
#endif
#ifndef NEURODYN_CABLE_SCRATCH
#define NEURODYN_CABLE_SCRATCH double
#endif

namespace {

using S32 = ffi::Buffer<ffi::S32>;

template <typename T>
void SolveRows(const T* d, std::int64_t sd, const T* e, std::int64_t se, const T* r,
               std::int64_t sr, T* x, std::int64_t B, std::int64_t N, const std::int32_t* seq,
               const std::int32_t* par) {
  thread_local std::vector<double> scratch;
  if (static_cast<std::int64_t>(scratch.size()) < 3 * N) scratch.resize(3 * N);
  double* D = scratch.data();  // the eliminated diagonal, then its inverse
  double* R = D + N;           // the eliminated right-hand side
  double* X = R + N;           // the solution
  for (std::int64_t b = 0; b < B; ++b) {
    const T* db = d + b * sd;
    const T* eb = e + b * se;
    const T* rb = r + b * sr;
    T* xb = x + b * N;
    for (std::int64_t i = 0; i < N; ++i) {
      D[i] = static_cast<double>(db[i]);
      R[i] = static_cast<double>(rb[i]);
    }
    for (std::int64_t k = 0; k + 1 < N; ++k) {
      const std::int32_t i = seq[k];
      const std::int32_t p = par[i];
      const double ei = static_cast<double>(eb[i]);
      const double inv = 1.0 / D[i];
      const double f = ei * inv;
      D[i] = inv;
      D[p] -= f * ei;
      R[p] -= f * R[i];
    }
    const std::int32_t root = seq[N - 1];
    X[root] = R[root] / D[root];
    for (std::int64_t k = N - 2; k >= 0; --k) {
      const std::int32_t i = seq[k];
      X[i] = (R[i] - static_cast<double>(eb[i]) * X[par[i]]) * D[i];
    }
    for (std::int64_t i = 0; i < N; ++i) xb[i] = static_cast<T>(X[i]);
  }
}


// The cable step: x = (diag(dm) + K)^-1 (b - K v), K the tree's Laplacian of the axial
// conductances g (g[i] between node i and its parent): NEURON's fixed step for the change
// of V, with the axial currents and their conductances assembled here in double
// precision, in the same pass as the elimination (a node's row is complete when it is
// eliminated: its children come before it in seq).
template <typename T>
void CableRows(const T* dm, std::int64_t sd, const T* g, const T* b, std::int64_t sb, const T* v,
               std::int64_t sv, T* x, std::int64_t B, std::int64_t N, const std::int32_t* seq,
               const std::int32_t* par, double add) {
  thread_local std::vector<double> scratch;
  if (static_cast<std::int64_t>(scratch.size()) < 3 * N) scratch.resize(3 * N);
  double* D = scratch.data();
  double* R = D + N;
  double* X = R + N;
  for (std::int64_t row = 0; row < B; ++row) {
    const T* dmb = dm + row * sd;
    const T* bb = b + row * sb;
    const T* vb = v + row * sv;
    T* xb = x + row * N;
    for (std::int64_t i = 0; i < N; ++i) {
      D[i] = static_cast<double>(dmb[i]);
      R[i] = static_cast<double>(bb[i]);
    }
    for (std::int64_t k = 0; k + 1 < N; ++k) {
      const std::int32_t i = seq[k];
      const std::int32_t p = par[i];
      const double gi = static_cast<double>(g[i]);
      const double flow = gi * (static_cast<double>(vb[p]) - static_cast<double>(vb[i]));
      const double di = D[i] + gi;
      const double ri = R[i] + flow;
      const double inv = 1.0 / di;
      const double f = gi * inv;
      D[i] = inv;
      R[i] = ri;
      D[p] += gi - f * gi;
      R[p] += f * ri - flow;
    }
    const std::int32_t root = seq[N - 1];
    X[root] = R[root] / D[root];
    for (std::int64_t k = N - 2; k >= 0; --k) {
      const std::int32_t i = seq[k];
      X[i] = (R[i] + static_cast<double>(g[i]) * X[par[i]]) * D[i];
    }
    if (add != 0.0) {
      for (std::int64_t i = 0; i < N; ++i) {
        xb[i] = static_cast<T>(static_cast<double>(vb[i]) + add * X[i]);
      }
    } else {
      for (std::int64_t i = 0; i < N; ++i) xb[i] = static_cast<T>(X[i]);
    }
  }
}

// The same for L rows (cells) at once, stored node-major (per node: L values of the
// diagonal, L of the right-hand side, L of V, then of the solution, in one or two cache
// lines), so that each step of the elimination is one vector operation over L
// independent cells (no wait on a division: L of them are in flight). Rows past B repeat
// the last row and are not written back.
template <int L, typename T, typename S>
#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
void CableBlock(const T* dm, std::int64_t sd, const T* g, const T* b, std::int64_t sb,
                const T* v, std::int64_t sv, T* x, std::int64_t row0, std::int64_t B,
                std::int64_t N, const std::int32_t* seq, const std::int32_t* par, double add,
                S* scratch) {
  constexpr int W = 3 * L;  // per node: D[L], R[L], V[L]
  const T* rows_dm[L];
  const T* rows_b[L];
  const T* rows_v[L];
  for (int l = 0; l < L; ++l) {
    const std::int64_t row = std::min<std::int64_t>(row0 + l, B - 1);
    rows_dm[l] = dm + row * sd;
    rows_b[l] = b + row * sb;
    rows_v[l] = v + row * sv;
  }
  for (std::int64_t i = 0; i < N; ++i) {
    S* n = scratch + i * W;
    for (int l = 0; l < L; ++l) {
      n[l] = static_cast<S>(rows_dm[l][i]);
      n[L + l] = static_cast<S>(rows_b[l][i]);
      n[2 * L + l] = static_cast<S>(rows_v[l][i]);
    }
  }
  for (std::int64_t k = 0; k + 1 < N; ++k) {
    const std::int64_t i = seq[k];
    const std::int64_t p = par[i];
    const S gi = static_cast<S>(g[i]);
    S* ni = scratch + i * W;
    S* np = scratch + p * W;
    // (through local copies: the compiler cannot know that i and p differ)
    S fl[L], inv[L], ri[L];
    for (int l = 0; l < L; ++l) {
      fl[l] = gi * (np[2 * L + l] - ni[2 * L + l]);
      inv[l] = S(1) / (ni[l] + gi);
      ri[l] = ni[L + l] + fl[l];
    }
    for (int l = 0; l < L; ++l) {
      ni[l] = inv[l];
      ni[L + l] = ri[l];
    }
    for (int l = 0; l < L; ++l) {
      const S f = gi * inv[l];
      np[l] += gi - f * gi;
      np[L + l] += f * ri[l] - fl[l];
    }
  }
  // back substitution, the solution in place of V (no longer needed)
  const std::int64_t root = seq[N - 1];
  S* nr = scratch + root * W;
  for (int l = 0; l < L; ++l) nr[2 * L + l] = nr[L + l] / nr[l];
  for (std::int64_t k = N - 2; k >= 0; --k) {
    const std::int64_t i = seq[k];
    const S gi = static_cast<S>(g[i]);
    S* ni = scratch + i * W;
    const S* np = scratch + static_cast<std::int64_t>(par[i]) * W;
    S xi[L];
    for (int l = 0; l < L; ++l) xi[l] = (ni[L + l] + gi * np[2 * L + l]) * ni[l];
    for (int l = 0; l < L; ++l) ni[2 * L + l] = xi[l];
  }
  T* out[L];
  for (int l = 0; l < L; ++l) out[l] = x + std::min<std::int64_t>(row0 + l, B - 1) * N;
  const int n_out = static_cast<int>(std::min<std::int64_t>(L, B - row0));
  if (add != 0.0) {
    for (std::int64_t i = 0; i < N; ++i) {
      for (int l = 0; l < n_out; ++l) {
        const double vi = static_cast<double>(rows_v[l][i]);
        out[l][i] = static_cast<T>(vi + add * static_cast<double>(scratch[i * W + 2 * L + l]));
      }
    }
  } else if (n_out == L) {
    for (std::int64_t i = 0; i < N; ++i) {
      for (int l = 0; l < L; ++l) out[l][i] = static_cast<T>(scratch[i * W + 2 * L + l]);
    }
  } else {
    for (std::int64_t i = 0; i < N; ++i) {
      for (int l = 0; l < n_out; ++l) out[l][i] = static_cast<T>(scratch[i * W + 2 * L + l]);
    }
  }
}

template <typename T>
void CableRowsBatched(const T* dm, std::int64_t sd, const T* g, const T* b, std::int64_t sb,
                      const T* v, std::int64_t sv, T* x, std::int64_t B, std::int64_t N,
                      const std::int32_t* seq, const std::int32_t* par, double add) {
  constexpr int L = NEURODYN_CABLE_LANES;
  if (B < 4) {
    CableRows<T>(dm, sd, g, b, sb, v, sv, x, B, N, seq, par, add);
    return;
  }
  using S = NEURODYN_CABLE_SCRATCH;
  thread_local std::vector<S> scratch;
  if (static_cast<std::int64_t>(scratch.size()) < 3 * N * L) scratch.resize(3 * N * L);
  for (std::int64_t row0 = 0; row0 < B; row0 += L) {
    CableBlock<L, T, S>(dm, sd, g, b, sb, v, sv, x, row0, B, N, seq, par, add, scratch.data());
  }
}

bool Strides(const ffi::AnyBuffer* const* ops, int n_ops, std::int64_t N, std::int64_t nx,
             std::int64_t* stride, std::string* err) {
  for (int k = 0; k < n_ops; ++k) {
    const std::int64_t n = static_cast<std::int64_t>(ops[k]->element_count());
    if (n == N) {
      stride[k] = 0;
    } else if (n == nx) {
      stride[k] = N;
    } else {
      *err = "operand " + std::to_string(k) + " has " + std::to_string(n) +
             " elements; expected N = " + std::to_string(N) + " or B * N = " + std::to_string(nx);
      return false;
    }
  }
  return true;
}

bool CheckTree(const std::int32_t* sq, const std::int32_t* pr, std::int64_t N) {
  for (std::int64_t k = 0; k < N; ++k) {
    if (sq[k] < 0 || sq[k] >= N || (k + 1 < N && (pr[sq[k]] < 0 || pr[sq[k]] >= N))) return false;
  }
  return true;
}

ffi::Error CableSolve(ffi::AnyBuffer dm, ffi::AnyBuffer b, ffi::AnyBuffer v, ffi::AnyBuffer g,
                      S32 seq, S32 par, double add, ffi::Result<ffi::AnyBuffer> x) {
  const std::int64_t N = static_cast<std::int64_t>(seq.element_count());
  if (N < 1 || static_cast<std::int64_t>(par.element_count()) != N ||
      static_cast<std::int64_t>(g.element_count()) != N) {
    return ffi::Error::InvalidArgument("neurodyn_cable_solve: seq, par and g must have N entries");
  }
  const auto type = x->element_type();
  if (type != ffi::DataType::F32 && type != ffi::DataType::F64) {
    return ffi::Error::InvalidArgument("neurodyn_cable_solve: float32 or float64 only");
  }
  if (dm.element_type() != type || g.element_type() != type || b.element_type() != type ||
      v.element_type() != type) {
    return ffi::Error::InvalidArgument("neurodyn_cable_solve: operands of one float type");
  }
  const std::int64_t nx = static_cast<std::int64_t>(x->element_count());
  if (nx % N) return ffi::Error::InvalidArgument("neurodyn_cable_solve: x is not [B, N]");
  std::int64_t stride[3];
  const ffi::AnyBuffer* ops[3] = {&dm, &b, &v};
  std::string err;
  if (!Strides(ops, 3, N, nx, stride, &err)) {
    return ffi::Error::InvalidArgument("neurodyn_cable_solve: " + err);
  }
  const std::int32_t* sq = seq.typed_data();
  const std::int32_t* pr = par.typed_data();
  if (!CheckTree(sq, pr, N)) {
    return ffi::Error::InvalidArgument("neurodyn_cable_solve: node index out of range");
  }
  const std::int64_t B = nx / N;
  if (type == ffi::DataType::F32) {
    CableRowsBatched<float>(static_cast<const float*>(dm.untyped_data()), stride[0],
                     static_cast<const float*>(g.untyped_data()),
                     static_cast<const float*>(b.untyped_data()), stride[1],
                     static_cast<const float*>(v.untyped_data()), stride[2],
                     static_cast<float*>(x->untyped_data()), B, N, sq, pr, add);
  } else {
    CableRowsBatched<double>(static_cast<const double*>(dm.untyped_data()), stride[0],
                      static_cast<const double*>(g.untyped_data()),
                      static_cast<const double*>(b.untyped_data()), stride[1],
                      static_cast<const double*>(v.untyped_data()), stride[2],
                      static_cast<double*>(x->untyped_data()), B, N, sq, pr, add);
  }
  return ffi::Error::Success();
}

ffi::Error TreeSolve(ffi::AnyBuffer d, ffi::AnyBuffer e, ffi::AnyBuffer r, S32 seq, S32 par,
                     ffi::Result<ffi::AnyBuffer> x) {
  const std::int64_t N = static_cast<std::int64_t>(seq.element_count());
  if (N < 1 || static_cast<std::int64_t>(par.element_count()) != N) {
    return ffi::Error::InvalidArgument("neurodyn_tree_solve: seq and par must have N >= 1 entries");
  }
  const auto type = x->element_type();
  if (type != ffi::DataType::F32 && type != ffi::DataType::F64) {
    return ffi::Error::InvalidArgument("neurodyn_tree_solve: float32 or float64 only");
  }
  if (d.element_type() != type || e.element_type() != type || r.element_type() != type) {
    return ffi::Error::InvalidArgument("neurodyn_tree_solve: d, e, r and x must share a type");
  }
  const std::int64_t nx = static_cast<std::int64_t>(x->element_count());
  if (nx % N) return ffi::Error::InvalidArgument("neurodyn_tree_solve: x is not [B, N]");
  const std::int64_t B = nx / N;
  std::int64_t stride[3];
  const ffi::AnyBuffer* ops[3] = {&d, &e, &r};
  std::string err;
  if (!Strides(ops, 3, N, nx, stride, &err)) {
    return ffi::Error::InvalidArgument("neurodyn_tree_solve: " + err);
  }
  const std::int32_t* sq = seq.typed_data();
  const std::int32_t* pr = par.typed_data();
  if (!CheckTree(sq, pr, N)) {
    return ffi::Error::InvalidArgument("neurodyn_tree_solve: node index out of range");
  }
  if (type == ffi::DataType::F32) {
    SolveRows<float>(static_cast<const float*>(d.untyped_data()), stride[0],
                     static_cast<const float*>(e.untyped_data()), stride[1],
                     static_cast<const float*>(r.untyped_data()), stride[2],
                     static_cast<float*>(x->untyped_data()), B, N, sq, pr);
  } else {
    SolveRows<double>(static_cast<const double*>(d.untyped_data()), stride[0],
                      static_cast<const double*>(e.untyped_data()), stride[1],
                      static_cast<const double*>(r.untyped_data()), stride[2],
                      static_cast<double*>(x->untyped_data()), B, N, sq, pr);
  }
  return ffi::Error::Success();
}

}  // namespace

XLA_FFI_DEFINE_HANDLER_SYMBOL(NeurodynTreeSolve, TreeSolve,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::AnyBuffer>()  // d [B, N] or [N]
                                  .Arg<ffi::AnyBuffer>()  // e [B, N] or [N]
                                  .Arg<ffi::AnyBuffer>()  // r [B, N] or [N]
                                  .Arg<S32>()             // seq [N]
                                  .Arg<S32>()             // par [N]
                                  .Ret<ffi::AnyBuffer>());  // x [B, N]

XLA_FFI_DEFINE_HANDLER_SYMBOL(NeurodynCableSolve, CableSolve,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::AnyBuffer>()  // dm [B, N] or [N]
                                  .Arg<ffi::AnyBuffer>()  // b [B, N] or [N]
                                  .Arg<ffi::AnyBuffer>()  // v [B, N] or [N]
                                  .Arg<ffi::AnyBuffer>()  // g [N]
                                  .Arg<S32>()             // seq [N]
                                  .Arg<S32>()             // par [N]
                                  .Attr<double>("add")    // 0: x; else v + add * x
                                  .Ret<ffi::AnyBuffer>());  // x [B, N]
