// A driver for `make native-sanitize`: runs every family of native event kernels (rows.cc:
// CSR and fixed fan-out; jitconn.cc; update.cc; record.cc) through their exported XLA FFI
// handlers, as XLA calls them, built with -fsanitize=thread or -fsanitize=address,undefined.
//
// No XLA here: each call gets a hand-built XLA_FFI_CallFrame and a minimal XLA_FFI_Api
// whose thread pool has two real worker threads, so the counting scatters (threads.h:
// CountSplit) run with a helper thread; two caller threads run the whole suite at once, as
// XLA may call one kernel from several threads (the thread-local scratch must hold). Every
// output is compared with a plain loop here; the exit status is 1 on a wrong value or an
// unexpected error, and the sanitizer's (66 for ThreadSanitizer) on a report.

#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common.h"
#include "jithash.h"

namespace {

using i64 = std::int64_t;

// ---------------------------------------------------------------------------
// The pieces of the XLA FFI API that the kernels use: errors and a thread pool.
// ---------------------------------------------------------------------------

struct DriverError {
  std::string message;
};

XLA_FFI_Error* ErrorCreate(XLA_FFI_Error_Create_Args* args) {
  return reinterpret_cast<XLA_FFI_Error*>(new DriverError{args->message});
}

void ErrorGetMessage(XLA_FFI_Error_GetMessage_Args* args) {
  args->message = reinterpret_cast<DriverError*>(args->error)->message.c_str();
}

void ErrorDestroy(XLA_FFI_Error_Destroy_Args* args) {
  delete reinterpret_cast<DriverError*>(args->error);
}

// A FIFO of tasks run by `n` threads; every task queued runs before the pool is destroyed
// (a task frees its own closure).
class Pool {
 public:
  explicit Pool(int n) {
    for (int t = 0; t < n; ++t) workers_.emplace_back([this] { Loop(); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& w : workers_) w.join();
  }
  void Schedule(XLA_FFI_Task* task, void* data) {
    scheduled.fetch_add(1);
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push_back({task, data});
    }
    cv_.notify_one();
  }
  i64 size() const { return static_cast<i64>(workers_.size()); }
  std::atomic<i64> scheduled{0};  // tasks handed to the pool: helper threads asked for

 private:
  struct Item {
    XLA_FFI_Task* task;
    void* data;
  };
  void Loop() {
    for (;;) {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and nothing left
      Item item = queue_.front();
      queue_.pop_front();
      lock.unlock();
      item.task(item.data);
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;
  bool stop_ = false;
  std::vector<std::thread> workers_;
};

XLA_FFI_Error* PoolSchedule(XLA_FFI_ThreadPool_Schedule_Args* args) {
  reinterpret_cast<Pool*>(args->ctx)->Schedule(args->task, args->data);
  return nullptr;
}

XLA_FFI_Error* PoolNumThreads(XLA_FFI_ThreadPool_NumThreads_Args* args) {
  *args->num_threads = reinterpret_cast<Pool*>(args->ctx)->size();
  return nullptr;
}

XLA_FFI_Api MakeApi() {
  XLA_FFI_Api api{};
  api.struct_size = XLA_FFI_Api_STRUCT_SIZE;
  api.api_version.struct_size = XLA_FFI_Api_Version_STRUCT_SIZE;
  api.api_version.major_version = XLA_FFI_API_MAJOR;
  api.api_version.minor_version = XLA_FFI_API_MINOR;
  api.XLA_FFI_Error_Create = ErrorCreate;
  api.XLA_FFI_Error_GetMessage = ErrorGetMessage;
  api.XLA_FFI_Error_Destroy = ErrorDestroy;
  api.XLA_FFI_ThreadPool_Schedule = PoolSchedule;
  api.XLA_FFI_ThreadPool_NumThreads = PoolNumThreads;
  return api;
}

const XLA_FFI_Api kApi = MakeApi();

// ---------------------------------------------------------------------------
// Call frames.
// ---------------------------------------------------------------------------

struct Array {
  XLA_FFI_DataType dtype;
  void* data;
  std::vector<i64> dims;
};

template <typename T>
Array Arr(XLA_FFI_DataType dtype, std::vector<T>& v, std::vector<i64> dims) {
  return Array{dtype, v.data(), std::move(dims)};
}

// bool vectors are stored as uint8 here (std::vector<bool> packs bits)
using Bools = std::vector<std::uint8_t>;

struct Scalar {
  XLA_FFI_DataType dtype;
  union {
    bool b;
    std::int64_t i;
    double d;
  } v;
};
Scalar Bool(bool b) {
  Scalar s{XLA_FFI_DataType_PRED, {}};
  s.v.b = b;
  return s;
}
Scalar Int(std::int64_t i) {
  Scalar s{XLA_FFI_DataType_S64, {}};
  s.v.i = i;
  return s;
}
Scalar Float(double d) {
  Scalar s{XLA_FFI_DataType_F64, {}};
  s.v.d = d;
  return s;
}

// Calls `handler` with the operands, results and attributes (sorted by name, as XLA passes
// them); returns the error message, empty on success.
std::string Call(XLA_FFI_Handler* handler, std::vector<Array> args, std::vector<Array> rets,
                 std::map<std::string, Scalar> attrs, Pool* pool) {
  std::vector<XLA_FFI_Buffer> bufs;
  bufs.reserve(args.size() + rets.size());
  auto add = [&](Array& a) {
    XLA_FFI_Buffer b{};
    b.struct_size = XLA_FFI_Buffer_STRUCT_SIZE;
    b.dtype = a.dtype;
    b.data = a.data;
    b.rank = static_cast<i64>(a.dims.size());
    b.dims = a.dims.data();
    bufs.push_back(b);
  };
  for (auto& a : args) add(a);
  for (auto& r : rets) add(r);
  std::vector<XLA_FFI_ArgType> arg_types(args.size(), XLA_FFI_ArgType_BUFFER);
  std::vector<XLA_FFI_RetType> ret_types(rets.size(), XLA_FFI_RetType_BUFFER);
  std::vector<void*> arg_ptrs, ret_ptrs;
  for (size_t k = 0; k < args.size(); ++k) arg_ptrs.push_back(&bufs[k]);
  for (size_t k = 0; k < rets.size(); ++k) ret_ptrs.push_back(&bufs[args.size() + k]);
  std::vector<XLA_FFI_ByteSpan> names;
  std::vector<XLA_FFI_Scalar> scalars;
  names.reserve(attrs.size());
  scalars.reserve(attrs.size());
  for (auto& [name, s] : attrs) {
    names.push_back(XLA_FFI_ByteSpan{name.data(), name.size()});
    scalars.push_back(XLA_FFI_Scalar{s.dtype, &s.v});
  }
  std::vector<XLA_FFI_ByteSpan*> name_ptrs;
  std::vector<void*> attr_ptrs;
  std::vector<XLA_FFI_AttrType> attr_types(attrs.size(), XLA_FFI_AttrType_SCALAR);
  for (size_t k = 0; k < attrs.size(); ++k) {
    name_ptrs.push_back(&names[k]);
    attr_ptrs.push_back(&scalars[k]);
  }
  XLA_FFI_CallFrame frame{};
  frame.struct_size = XLA_FFI_CallFrame_STRUCT_SIZE;
  frame.api = &kApi;
  frame.ctx = reinterpret_cast<XLA_FFI_ExecutionContext*>(pool);
  frame.stage = XLA_FFI_ExecutionStage_EXECUTE;
  frame.args = {XLA_FFI_Args_STRUCT_SIZE, nullptr, static_cast<i64>(args.size()),
                arg_types.data(), arg_ptrs.data()};
  frame.rets = {XLA_FFI_Rets_STRUCT_SIZE, nullptr, static_cast<i64>(rets.size()),
                ret_types.data(), ret_ptrs.data()};
  frame.attrs = {XLA_FFI_Attrs_STRUCT_SIZE, nullptr, static_cast<i64>(attrs.size()),
                 attr_types.data(), name_ptrs.data(), attr_ptrs.data()};
  XLA_FFI_Error* err = handler(&frame);
  if (err == nullptr) return "";
  std::string msg = reinterpret_cast<DriverError*>(err)->message;
  delete reinterpret_cast<DriverError*>(err);
  return msg.empty() ? "(empty error message)" : msg;
}

// ---------------------------------------------------------------------------
// The checks.
// ---------------------------------------------------------------------------

struct Failures {
  std::mutex mu;
  int count = 0;
  void Add(const std::string& what) {
    std::lock_guard<std::mutex> lock(mu);
    ++count;
    std::fprintf(stderr, "native-sanitize: FAIL %s\n", what.c_str());
  }
};

Failures failures;

bool Near(double a, double b) { return std::fabs(a - b) <= 1e-4 * (1.0 + std::fabs(b)); }

template <typename T>
void Expect(const char* what, const std::vector<T>& got, const std::vector<double>& want) {
  for (size_t j = 0; j < want.size(); ++j) {
    if (!Near(static_cast<double>(got[j]), want[j])) {
      failures.Add(std::string(what) + ": out[" + std::to_string(j) + "] = " +
                   std::to_string(static_cast<double>(got[j])) + ", expected " +
                   std::to_string(want[j]));
      return;
    }
  }
}

void ExpectOk(const char* what, const std::string& err) {
  if (!err.empty()) failures.Add(std::string(what) + ": unexpected error: " + err);
}

// A random CSR of n_pre rows of about `k` columns in [0, n_post) (k = 0: none; `hot`:
// every column is 0, so that a uint16 count overflows and spills).
struct Csr {
  std::vector<std::int32_t> indptr, indices;
  std::vector<float> w;
};

Csr RandomCsr(std::mt19937& rng, i64 n_pre, i64 n_post, i64 k, bool hot = false) {
  Csr c;
  c.indptr.push_back(0);
  std::uniform_int_distribution<i64> len(k / 2, k + k / 2), col(0, n_post - 1);
  std::uniform_real_distribution<float> wd(-1.0f, 1.0f);
  for (i64 i = 0; i < n_pre; ++i) {
    const i64 l = len(rng);
    for (i64 s = 0; s < l; ++s) {
      c.indices.push_back(hot ? 0 : static_cast<std::int32_t>(col(rng)));
      c.w.push_back(wd(rng));
    }
    c.indptr.push_back(static_cast<std::int32_t>(c.indices.size()));
  }
  return c;
}

Bools RandomSpikes(std::mt19937& rng, i64 n, double rate) {
  std::bernoulli_distribution on(rate);
  Bools s(n);
  for (auto& x : s) x = on(rng) ? 1 : 0;
  return s;
}

// rows.cc: CSR and fixed fan-out, scatter (threaded counting, its spill-over and its error
// path; float spikes) and gather.
void RunRows(std::mt19937& rng, Pool* pool) {
  const i64 n_pre = 3000, n_post = 1200;
  for (int hot = 0; hot < 2; ++hot) {
    Csr c = RandomCsr(rng, n_pre, n_post, hot ? 120 : 60, hot);
    Bools s = RandomSpikes(rng, n_pre, 0.4);  // ~1200 rows x 60: 72k adds, > kParallelMinAdds
    std::vector<float> w1{0.5f}, out(n_post);
    std::vector<double> want(n_post, 0.0);
    for (i64 i = 0; i < n_pre; ++i)
      if (s[i])
        for (i64 q = c.indptr[i]; q < c.indptr[i + 1]; ++q) want[c.indices[q]] += 0.5;
    const i64 nnz = static_cast<i64>(c.indices.size());
    ExpectOk("csr_scatter",
             Call(NeurodynCsrScatter,
                  {Arr(XLA_FFI_DataType_F32, w1, {1}), Arr(XLA_FFI_DataType_S32, c.indices, {nnz}),
                   Arr(XLA_FFI_DataType_S32, c.indptr, {n_pre + 1}),
                   Arr(XLA_FFI_DataType_PRED, s, {n_pre})},
                  {Arr(XLA_FFI_DataType_F32, out, {n_post})}, {{"homo", Bool(true)}}, pool));
    Expect(hot ? "csr_scatter (spill)" : "csr_scatter", out, want);
  }
  // fixed fan-out: [n_pre, k], the same counting path
  {
    const i64 k = 50;
    std::vector<std::int32_t> idx(n_pre * k);
    std::uniform_int_distribution<std::int32_t> col(0, n_post - 1);
    for (auto& j : idx) j = col(rng);
    Bools s = RandomSpikes(rng, n_pre, 0.5);
    std::vector<float> w1{2.0f}, out(n_post);
    std::vector<double> want(n_post, 0.0);
    for (i64 i = 0; i < n_pre; ++i)
      if (s[i])
        for (i64 q = 0; q < k; ++q) want[idx[i * k + q]] += 2.0;
    ExpectOk("fanout_scatter",
             Call(NeurodynFanoutScatter,
                  {Arr(XLA_FFI_DataType_F32, w1, {1}), Arr(XLA_FFI_DataType_S32, idx, {n_pre, k}),
                   Arr(XLA_FFI_DataType_PRED, s, {n_pre})},
                  {Arr(XLA_FFI_DataType_F32, out, {n_post})}, {{"homo", Bool(true)}}, pool));
    Expect("fanout_scatter", out, want);
    // gather, per-synapse weights, float x, batch 2
    std::vector<float> w(n_pre * k), x(2 * n_post), g(2 * n_pre);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    for (auto& v : w) v = u(rng);
    for (auto& v : x) v = u(rng);
    std::vector<double> gw(2 * n_pre, 0.0);
    for (i64 b = 0; b < 2; ++b)
      for (i64 i = 0; i < n_pre; ++i)
        for (i64 q = 0; q < k; ++q)
          gw[b * n_pre + i] += w[i * k + q] * x[b * n_post + idx[i * k + q]];
    ExpectOk("fanout_gather",
             Call(NeurodynFanoutGather,
                  {Arr(XLA_FFI_DataType_F32, w, {n_pre * k}),
                   Arr(XLA_FFI_DataType_S32, idx, {n_pre, k}),
                   Arr(XLA_FFI_DataType_F32, x, {2, n_post})},
                  {Arr(XLA_FFI_DataType_F32, g, {2, n_pre})}, {{"homo", Bool(false)}}, pool));
    Expect("fanout_gather", g, gw);
  }
  // CSR: float spikes with per-synapse weights (no counting), and the gather
  {
    Csr c = RandomCsr(rng, n_pre, n_post, 40);
    const i64 nnz = static_cast<i64>(c.indices.size());
    std::vector<float> sf(n_pre), out(n_post), x(n_post), g(n_pre);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    for (i64 i = 0; i < n_pre; ++i) sf[i] = (i % 3 == 0) ? u(rng) : 0.0f;
    for (auto& v : x) v = u(rng);
    std::vector<double> want(n_post, 0.0), gw(n_pre, 0.0);
    for (i64 i = 0; i < n_pre; ++i)
      for (i64 q = c.indptr[i]; q < c.indptr[i + 1]; ++q) {
        want[c.indices[q]] += static_cast<double>(c.w[q]) * sf[i];
        gw[i] += static_cast<double>(c.w[q]) * x[c.indices[q]];
      }
    ExpectOk("csr_scatter (float spikes)",
             Call(NeurodynCsrScatter,
                  {Arr(XLA_FFI_DataType_F32, c.w, {nnz}),
                   Arr(XLA_FFI_DataType_S32, c.indices, {nnz}),
                   Arr(XLA_FFI_DataType_S32, c.indptr, {n_pre + 1}),
                   Arr(XLA_FFI_DataType_F32, sf, {n_pre})},
                  {Arr(XLA_FFI_DataType_F32, out, {n_post})}, {{"homo", Bool(false)}}, pool));
    Expect("csr_scatter (float spikes)", out, want);
    ExpectOk("csr_gather",
             Call(NeurodynCsrGather,
                  {Arr(XLA_FFI_DataType_F32, c.w, {nnz}),
                   Arr(XLA_FFI_DataType_S32, c.indices, {nnz}),
                   Arr(XLA_FFI_DataType_S32, c.indptr, {n_pre + 1}),
                   Arr(XLA_FFI_DataType_F32, x, {n_post})},
                  {Arr(XLA_FFI_DataType_F32, g, {n_pre})}, {{"homo", Bool(false)}}, pool));
    Expect("csr_gather", g, gw);
  }
  // an index out of range in the threaded counting: an error that names the kernel
  {
    Csr c = RandomCsr(rng, n_pre, n_post, 60);
    c.indices[c.indices.size() - 3] = static_cast<std::int32_t>(n_post + 7);
    Bools s(n_pre, 1);
    const i64 nnz = static_cast<i64>(c.indices.size());
    std::vector<float> w1{1.0f}, out(n_post);
    const std::string err =
        Call(NeurodynCsrScatter,
             {Arr(XLA_FFI_DataType_F32, w1, {1}), Arr(XLA_FFI_DataType_S32, c.indices, {nnz}),
              Arr(XLA_FFI_DataType_S32, c.indptr, {n_pre + 1}),
              Arr(XLA_FFI_DataType_PRED, s, {n_pre})},
             {Arr(XLA_FFI_DataType_F32, out, {n_post})}, {{"homo", Bool(true)}}, pool);
    if (err.rfind(std::string(ND_TARGET(csr_scatter)) + ": index out of range", 0) != 0)
      failures.Add("csr_scatter with a bad index: expected an index error, got '" + err + "'");
  }
}

// jitconn.cc: the threaded counting scatter (dist 0) and the gather (dist 1), against a
// plain loop over the hash (jithash.h) with a linear count of the skip table.
void RunJitconn(std::mt19937& rng, Pool* pool) {
  const i64 n_pre = 2000, n_post = 2000;
  const double p = 0.05;
  const std::uint32_t seed = 1234;
  const i64 m = std::min<i64>(n_post, static_cast<i64>(std::ceil(-40.0 / std::log1p(-p)))) + 1;
  std::vector<std::uint32_t> table(m);
  for (i64 t = 0; t < m; ++t) {
    const double cdf = 1.0 - std::pow(1.0 - p, static_cast<double>(t) + 1.0);
    table[t] = static_cast<std::uint32_t>(std::min(std::floor(cdf * 4294967296.0), 4294967295.0));
  }
  // columns of row i: the reference structure
  auto columns = [&](i64 i) {
    std::vector<i64> cols;
    i64 col = -1;
    for (std::uint32_t k = 0;; ++k) {
      const std::uint32_t h = neurodyn::jithash::Hash3(seed, static_cast<std::uint32_t>(i), k, 0);
      i64 skip = 0;
      for (const std::uint32_t t : table) skip += t <= h;
      col += 1 + skip;
      if (col >= n_post) return cols;
      cols.push_back(col);
    }
  };
  Bools s = RandomSpikes(rng, n_pre, 0.5);  // ~1000 rows x 100: 100k adds
  std::vector<float> out(n_post);
  std::vector<double> want(n_post, 0.0);
  for (i64 i = 0; i < n_pre; ++i)
    if (s[i])
      for (const i64 j : columns(i)) want[j] += 0.25;
  const std::map<std::string, Scalar> attrs0{{"dist", Int(0)},   {"n_post", Int(n_post)},
                                             {"seed", Int(seed)}, {"w0", Float(0.25)},
                                             {"w1", Float(0.0)}};
  ExpectOk("jitconn_scatter",
           Call(NeurodynJitconnScatter,
                {Arr(XLA_FFI_DataType_PRED, s, {n_pre}), Arr(XLA_FFI_DataType_U32, table, {m})},
                {Arr(XLA_FFI_DataType_F32, out, {n_post})}, attrs0, pool));
  Expect("jitconn_scatter", out, want);
  // gather with uniform weights: only the structure is checked (x = 1, w in [1, 1])
  std::vector<float> x(n_post, 1.0f), g(n_pre);
  std::vector<double> gw(n_pre);
  for (i64 i = 0; i < n_pre; ++i) gw[i] = static_cast<double>(columns(i).size());
  const std::map<std::string, Scalar> attrs1{{"dist", Int(1)},   {"n_post", Int(n_post)},
                                             {"seed", Int(seed)}, {"w0", Float(1.0)},
                                             {"w1", Float(1.0)}};
  ExpectOk("jitconn_gather",
           Call(NeurodynJitconnGather,
                {Arr(XLA_FFI_DataType_F32, x, {n_post}), Arr(XLA_FFI_DataType_U32, table, {m})},
                {Arr(XLA_FFI_DataType_F32, g, {n_pre})}, attrs1, pool));
  Expect("jitconn_gather", g, gw);
}

// update.cc (pre-synaptic form, syn = identity) and record.cc.
void RunUpdateAndRecord(std::mt19937& rng, Pool* pool) {
  const i64 n_pre = 500, n_post = 400;
  Csr c = RandomCsr(rng, n_pre, n_post, 30);
  const i64 nnz = static_cast<i64>(c.indices.size());
  Bools s = RandomSpikes(rng, n_pre, 0.2);
  std::vector<float> trace(n_post), out(nnz);
  std::uniform_real_distribution<float> u(-0.5f, 0.5f);
  for (auto& t : trace) t = u(rng);
  std::vector<double> want(c.w.begin(), c.w.end());
  for (i64 i = 0; i < n_pre; ++i)
    if (s[i])
      for (i64 q = c.indptr[i]; q < c.indptr[i + 1]; ++q)
        want[q] = std::min(std::max(static_cast<double>(c.w[q] + trace[c.indices[q]]), -0.8), 0.8);
  std::vector<std::int32_t> none;
  std::vector<float> after(1);
  ExpectOk("csr_update",
           Call(NeurodynCsrUpdate,
                {Arr(XLA_FFI_DataType_F32, c.w, {nnz}),
                 Arr(XLA_FFI_DataType_S32, c.indptr, {n_pre + 1}),
                 Arr(XLA_FFI_DataType_S32, none, {0}), Arr(XLA_FFI_DataType_S32, c.indices, {nnz}),
                 Arr(XLA_FFI_DataType_PRED, s, {n_pre}), Arr(XLA_FFI_DataType_F32, trace, {n_post}),
                 Arr(XLA_FFI_DataType_F32, after, {1})},
                {Arr(XLA_FFI_DataType_F32, out, {nnz})}, {{"hi", Float(0.8)}, {"lo", Float(-0.8)}},
                pool));
  Expect("csr_update", out, want);

  // record: the indices of the true flags, appended after `count`
  const i64 cap = 64;
  Bools flags = RandomSpikes(rng, 1000, 0.03);
  std::vector<std::int32_t> step{7}, idx(cap, -1), steps(cap, -1), count{3};
  std::vector<std::int32_t> idx_out(cap), steps_out(cap), count_out(1);
  ExpectOk("record_spikes",
           Call(NeurodynRecordSpikes,
                {Arr(XLA_FFI_DataType_PRED, flags, {1000}), Arr(XLA_FFI_DataType_S32, step, {}),
                 Arr(XLA_FFI_DataType_S32, idx, {cap}), Arr(XLA_FFI_DataType_S32, steps, {cap}),
                 Arr(XLA_FFI_DataType_S32, count, {})},
                {Arr(XLA_FFI_DataType_S32, idx_out, {cap}),
                 Arr(XLA_FFI_DataType_S32, steps_out, {cap}),
                 Arr(XLA_FFI_DataType_S32, count_out, {})},
                {}, pool));
  i64 n_on = 0, at = 3;
  for (i64 j = 0; j < 1000; ++j) {
    if (!flags[j]) continue;
    ++n_on;
    if (at < cap && (idx_out[at] != j || steps_out[at] != 7))
      failures.Add("record_spikes: entry " + std::to_string(at) + " is not flag " +
                   std::to_string(j));
    ++at;
  }
  if (count_out[0] != 3 + n_on) failures.Add("record_spikes: wrong count");
}

}  // namespace

int main() {
  // two worker threads: the counting scatters take one helper
  Pool pool(2);
  auto suite = [&pool](unsigned seed) {
    std::mt19937 rng(seed);
    for (int rep = 0; rep < 2; ++rep) {
      RunRows(rng, &pool);
      RunJitconn(rng, &pool);
      RunUpdateAndRecord(rng, &pool);
    }
  };
  // two callers at once, as XLA may run two computations (or two kernels) concurrently
  std::thread other(suite, 1u);
  suite(2u);
  other.join();
  const i64 helpers = pool.scheduled.load();
  if (helpers == 0)
    failures.Add("no kernel asked for a helper thread: the threaded path did not run");
  if (failures.count > 0) {
    std::fprintf(stderr, "native-sanitize: %d check(s) failed\n", failures.count);
    return 1;
  }
  std::printf("native-sanitize: every kernel family ran, results checked (%lld helper tasks)\n",
              static_cast<long long>(helpers));
  return 0;
}
