// The emulated CUDA runtime (see cuda_runtime.h beside this file): devices and contexts, device
// memory with pointer attributes, streams run eagerly, graph capture, events, and the kernel
// launch with its block scheduler. Semantics follow the CUDA Runtime API reference (CUDA 13); the
// section each piece follows is named in its comment.
#include "cuda_runtime.h"

#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#define PI_EMU_ASAN 1
#endif

struct CUstream_st {
  int device = 0;
  bool capturing = false;
  bool invalidated = false;  // an illegal call during capture invalidates it (cudaStreamEndCapture fails)
  CUgraph_st* graph = nullptr;
};
struct CUevent_st {
  int device = 0;
};
struct CUgraph_st {
  std::vector<std::function<void()>> nodes;  // in stream order: a captured stream is a chain
};
struct CUgraphExec_st {
  std::vector<std::function<void()>> nodes;
};

__thread uint3 threadIdx, blockIdx;
__thread dim3 blockDim, gridDim;

namespace paraminit_emu {

namespace {

// ---- devices and contexts (Runtime API: Device Management; Driver API: Context Management) --------
// An H200: 132 SMs, so the grid-stride loops of the launchers (grid_for caps at 16 blocks per SM)
// take several strides on large tensors.
constexpr int kSmCount = 132;

int env_int(const char* name, long long fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? static_cast<int>(std::strtoll(v, nullptr, 10)) : static_cast<int>(fallback);
}
// PARAMINIT_EMULATED_DEVICES (default 2, so that device mismatches can be tested; 0: no device).
int device_count() {
  static const int n = env_int("PARAMINIT_EMULATED_DEVICES", 2);
  return n < 0 ? 0 : n;
}
// PARAMINIT_EMULATED_DEVICE_MIB: each device's memory (default 16 GiB).
std::size_t device_capacity() {
  static const std::size_t mib = static_cast<std::size_t>(env_int("PARAMINIT_EMULATED_DEVICE_MIB", 16 << 10));
  return mib << 20;
}

struct ContextObject {
  int device;
};
ContextObject g_contexts[64];
std::atomic<bool> g_primary_active[64];

thread_local int tl_selected = 0;   // cudaSetDevice's choice (device 0 until set)
thread_local int tl_context = -1;   // the device of the current context, -1: none
thread_local cudaError_t tl_last_error = cudaSuccess;

std::atomic<unsigned long long> g_launches{0}, g_alloc_count{0}, g_syncs{0};

cudaError_t record(cudaError_t e) {
  if (e != cudaSuccess) tl_last_error = e;
  return e;
}
// The runtime initializes the current device's primary context on first use (implicitly).
int context_device() {
  if (tl_context < 0) {
    tl_context = tl_selected;
    g_primary_active[tl_context] = true;
  }
  return tl_context;
}

// ---- memory (Runtime API: Memory Management; Unified Addressing) ---------------------------------
struct Allocation {
  std::size_t bytes;
  int device;             // -1: pinned host memory (cudaHostAlloc)
};
std::mutex g_mem_mutex;
std::map<std::uintptr_t, Allocation> g_allocations;  // by base address
std::size_t g_used[64];

// The allocation holding p, if any.
const Allocation* find(const void* p, std::uintptr_t* base) {
  const auto a = reinterpret_cast<std::uintptr_t>(p);
  auto it = g_allocations.upper_bound(a);
  if (it == g_allocations.begin()) return nullptr;
  --it;
  const std::uintptr_t end = it->first + (it->second.bytes == 0 ? 1 : it->second.bytes);
  if (a >= end) return nullptr;
  if (base != nullptr) *base = it->first;
  return &it->second;
}

// Where a copy operand lies.
enum class Where { host, device, bad };
Where classify(const void* p, std::size_t bytes, int device) {
  std::lock_guard<std::mutex> lock(g_mem_mutex);
  std::uintptr_t base = 0;
  const Allocation* a = find(p, &base);
  if (a == nullptr || a->device < 0) return Where::host;
  // Device memory: the whole range must lie in the allocation, on the current device.
  const auto off = reinterpret_cast<std::uintptr_t>(p) - base;
  if (a->device != device || off + bytes > a->bytes) return Where::bad;
  return Where::device;
}

// ---- streams, capture (Runtime API: Stream Management, Graph Management) -------------------------
std::mutex g_stream_mutex;
std::set<CUstream_st*> g_streams;
int g_global_captures = 0;  // streams capturing in cudaStreamCaptureModeGlobal

bool live(cudaStream_t s) {
  std::lock_guard<std::mutex> lock(g_stream_mutex);
  return s == nullptr || g_streams.count(s) != 0;
}

// ---- the block scheduler -----------------------------------------------------------------------------
// A block's CUDA threads run one after another on this host thread. Thread 0 runs as a fiber: if it
// finishes without reaching a barrier, the kernel has none (a barrier must be reached by every
// thread of the block), and the other threads run as plain calls. If it reaches __syncthreads(),
// every thread of the block runs as a fiber, round by round: a round resumes each fiber until its
// next barrier or its end, so no thread passes a barrier before all have reached it.
constexpr std::size_t kFiberStack = 256 << 10;  // generous: ASan's redzones enlarge frames

struct Fiber {
  ucontext_t ctx;
  void* stack = nullptr;  // mmap'd with a guard page below it
  int state = 0;          // 0 not started, 1 waiting at a barrier, 2 finished
#if defined(PI_EMU_ASAN)
  void* fake_stack = nullptr;
#endif
};

struct BlockRun {
  const std::function<void()>* body = nullptr;
  dim3 grid, block;
  uint3 block_idx;
  std::vector<Fiber>* fibers = nullptr;
  ucontext_t scheduler;
  unsigned running = 0;  // the fiber that runs now
  bool direct = false;   // threads running as plain calls: a barrier now is divergent
#if defined(PI_EMU_ASAN)
  const void* sched_bottom = nullptr;
  std::size_t sched_size = 0;
  void* sched_fake = nullptr;
#endif
};
thread_local BlockRun* tl_run = nullptr;
thread_local std::vector<Fiber> tl_fibers;

uint3 thread_index(unsigned linear, const dim3& block) {
  return uint3{linear % block.x, (linear / block.x) % block.y, linear / (block.x * block.y)};
}
void enter_thread(BlockRun& r, unsigned t) {
  threadIdx = thread_index(t, r.block);
  blockIdx = r.block_idx;
  blockDim = r.block;
  gridDim = r.grid;
}

void* map_stack() {
  const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  void* p = mmap(nullptr, kFiberStack + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) fault("mmap of a fiber stack failed");
  if (mprotect(p, page, PROT_NONE) != 0) fault("mprotect of a fiber stack's guard page failed");
  return static_cast<char*>(p) + page;
}

// Fiber switches with AddressSanitizer's annotations (sanitizer/common_interface_defs.h), so that
// it knows which stack is live.
void to_fiber(BlockRun& r, Fiber& f) {
#if defined(PI_EMU_ASAN)
  __sanitizer_start_switch_fiber(&r.sched_fake, f.stack, kFiberStack);
#endif
  if (swapcontext(&r.scheduler, &f.ctx) != 0) fault("swapcontext failed");
#if defined(PI_EMU_ASAN)
  __sanitizer_finish_switch_fiber(r.sched_fake, nullptr, nullptr);
#endif
}
void to_scheduler(BlockRun& r, Fiber& f) {
#if defined(PI_EMU_ASAN)
  __sanitizer_start_switch_fiber(&f.fake_stack, r.sched_bottom, r.sched_size);
#endif
  if (swapcontext(&f.ctx, &r.scheduler) != 0) fault("swapcontext failed");
#if defined(PI_EMU_ASAN)
  __sanitizer_finish_switch_fiber(f.fake_stack, &r.sched_bottom, &r.sched_size);
#endif
}

void fiber_main() {
  BlockRun& r = *tl_run;
  Fiber& f = (*r.fibers)[r.running];
#if defined(PI_EMU_ASAN)
  __sanitizer_finish_switch_fiber(nullptr, &r.sched_bottom, &r.sched_size);
#endif
  (*r.body)();
  f.state = 2;
#if defined(PI_EMU_ASAN)
  __sanitizer_start_switch_fiber(nullptr, r.sched_bottom, r.sched_size);  // this fiber's stack dies
#endif
  // Returning resumes uc_link: the scheduler.
}

void start_fiber(BlockRun& r, unsigned t) {
  Fiber& f = (*r.fibers)[t];
  if (f.stack == nullptr) f.stack = map_stack();
  if (getcontext(&f.ctx) != 0) fault("getcontext failed");
  f.ctx.uc_stack.ss_sp = f.stack;
  f.ctx.uc_stack.ss_size = kFiberStack;
  f.ctx.uc_link = &r.scheduler;
  makecontext(&f.ctx, fiber_main, 0);
  f.state = 0;
  r.running = t;
  enter_thread(r, t);
  to_fiber(r, f);
}
void resume_fiber(BlockRun& r, unsigned t) {
  r.running = t;
  enter_thread(r, t);
  to_fiber(r, (*r.fibers)[t]);
}

void run_block(BlockRun& r) {
  const unsigned n = r.block.x * r.block.y * r.block.z;
  if (r.fibers->size() < n) r.fibers->resize(n);
  start_fiber(r, 0);
  if ((*r.fibers)[0].state == 2) {  // no barrier in this kernel: the rest as plain calls
    r.direct = true;
    for (unsigned t = 1; t < n; ++t) {
      enter_thread(r, t);
      (*r.body)();
    }
    r.direct = false;
    return;
  }
  for (unsigned t = 1; t < n; ++t) start_fiber(r, t);
  for (;;) {  // every unfinished fiber waits at the barrier: release them, round by round
    bool waiting = false;
    for (unsigned t = 0; t < n; ++t) waiting = waiting || (*r.fibers)[t].state == 1;
    if (!waiting) return;
    for (unsigned t = 0; t < n; ++t)
      if ((*r.fibers)[t].state == 1) resume_fiber(r, t);
  }
}

}  // namespace

void fault(const char* what) {
  std::fprintf(stderr, "paraminit emulated device: %s (block (%u, %u, %u), thread (%u, %u, %u))\n", what, blockIdx.x, blockIdx.y,
               blockIdx.z, threadIdx.x, threadIdx.y, threadIdx.z);
  std::abort();
}

void syncthreads() {
  BlockRun* r = tl_run;
  if (r == nullptr) fault("__syncthreads() outside a kernel");
  if (r->direct)
    fault("__syncthreads() reached by a thread whose block's thread 0 finished without reaching it (a divergent barrier: "
          "a hang or undefined behaviour on the device)");
  Fiber& f = (*r->fibers)[r->running];
  f.state = 1;
  to_scheduler(*r, f);
}

cudaError_t submit(cudaStream_t s, std::function<void()> work) {
  if (!live(s)) return record(cudaErrorInvalidResourceHandle);
  const int dev = context_device();
  if (s != nullptr && s->device != dev) return record(cudaErrorInvalidResourceHandle);  // a stream of another device
  {
    std::lock_guard<std::mutex> lock(g_stream_mutex);
    if (s == nullptr && g_global_captures > 0) {
      // The legacy stream synchronizes with every blocking stream, a capturing one included: the
      // capture is invalidated (Graph Management: cudaStreamCaptureModeGlobal).
      for (CUstream_st* c : g_streams)
        if (c->capturing) c->invalidated = true;
      return record(cudaErrorStreamCaptureImplicit);
    }
    if (s != nullptr && s->capturing) {
      s->graph->nodes.push_back(std::move(work));
      return cudaSuccess;
    }
  }
  work();
  return cudaSuccess;
}

cudaError_t launch(const cudaLaunchConfig_t* cfg, std::function<void()> thread_body) {
  // Execution Control: cudaErrorInvalidConfiguration for a grid or block outside the device's limits
  // (grid x up to 2^31 - 1, y and z up to 65535; at most 1024 threads per block, z up to 64).
  const dim3 g = cfg->gridDim, b = cfg->blockDim;
  const unsigned long long threads = static_cast<unsigned long long>(b.x) * b.y * b.z;
  if (g.x == 0 || g.y == 0 || g.z == 0 || g.x > 0x7fffffffu || g.y > 65535 || g.z > 65535 || b.x == 0 || b.y == 0 ||
      b.z == 0 || b.x > 1024 || b.y > 1024 || b.z > 64 || threads > 1024 || cfg->dynamicSmemBytes > (48u << 10))
    return record(cudaErrorInvalidConfiguration);
  if (cfg->numAttrs != 0) return record(cudaErrorNotSupported);  // launch attributes are not emulated
  ++g_launches;
  auto body = std::make_shared<std::function<void()>>(std::move(thread_body));
  return submit(cfg->stream, [g, b, body] {
    BlockRun* outer = tl_run;  // nullptr: kernels do not launch kernels here
    BlockRun r;
    r.body = body.get();
    r.grid = g;
    r.block = b;
    r.fibers = &tl_fibers;
    tl_run = &r;
    for (unsigned z = 0; z < g.z; ++z)
      for (unsigned y = 0; y < g.y; ++y)
        for (unsigned x = 0; x < g.x; ++x) {
          r.block_idx = uint3{x, y, z};
          run_block(r);
        }
    tl_run = outer;
    threadIdx = blockIdx = uint3{};
  });
}

bool device_range(const void* p, std::size_t bytes) {
  if (p == nullptr) return false;
  return classify(p, bytes, context_device()) == Where::device;
}

Counters counters() {
  Counters c;
  c.launches = g_launches;
  c.allocations = g_alloc_count;
  c.synchronizations = g_syncs;
  return c;
}

int current_context_device() { return tl_context; }

}  // namespace paraminit_emu

using namespace paraminit_emu;

// ---- error handling -------------------------------------------------------------------------------------
cudaError_t cudaGetLastError() {
  const cudaError_t e = tl_last_error;
  tl_last_error = cudaSuccess;
  return e;
}
cudaError_t cudaPeekAtLastError() { return tl_last_error; }

const char* cudaGetErrorName(cudaError_t err) {
  switch (err) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInitializationError: return "cudaErrorInitializationError";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidDevicePointer: return "cudaErrorInvalidDevicePointer";
    case cudaErrorInvalidMemcpyDirection: return "cudaErrorInvalidMemcpyDirection";
    case cudaErrorNoDevice: return "cudaErrorNoDevice";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorInvalidResourceHandle: return "cudaErrorInvalidResourceHandle";
    case cudaErrorIllegalState: return "cudaErrorIllegalState";
    case cudaErrorNotSupported: return "cudaErrorNotSupported";
    case cudaErrorStreamCaptureUnsupported: return "cudaErrorStreamCaptureUnsupported";
    case cudaErrorStreamCaptureInvalidated: return "cudaErrorStreamCaptureInvalidated";
    case cudaErrorStreamCaptureUnmatched: return "cudaErrorStreamCaptureUnmatched";
    case cudaErrorStreamCaptureImplicit: return "cudaErrorStreamCaptureImplicit";
    case cudaErrorLaunchFailure: return "cudaErrorLaunchFailure";
  }
  return "cudaErrorUnknown";
}
const char* cudaGetErrorString(cudaError_t err) {
  switch (err) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorInvalidResourceHandle: return "invalid resource handle";
    case cudaErrorStreamCaptureUnsupported: return "operation not permitted when stream is capturing";
    case cudaErrorStreamCaptureInvalidated: return "operation failed due to a previous error during capture";
    case cudaErrorStreamCaptureImplicit: return "operation would make the legacy stream depend on a capturing blocking stream";
    default: return cudaGetErrorName(err);
  }
}

// ---- devices ---------------------------------------------------------------------------------------------
cudaError_t cudaGetDeviceCount(int* count) {
  if (count == nullptr) return record(cudaErrorInvalidValue);
  *count = device_count();
  return *count == 0 ? record(cudaErrorNoDevice) : cudaSuccess;
}
cudaError_t cudaGetDevice(int* device) {
  if (device == nullptr) return record(cudaErrorInvalidValue);
  if (device_count() == 0) return record(cudaErrorNoDevice);
  *device = tl_context >= 0 ? tl_context : tl_selected;
  return cudaSuccess;
}
// CUDA 12 and later: cudaSetDevice initializes the device's primary context and makes it current.
cudaError_t cudaSetDevice(int device) {
  if (device < 0 || device >= device_count()) return record(cudaErrorInvalidDevice);
  tl_selected = device;
  tl_context = device;
  g_primary_active[device] = true;
  return cudaSuccess;
}
cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device) {
  if (value == nullptr || device < 0 || device >= device_count()) return record(cudaErrorInvalidDevice);
  if (attr != cudaDevAttrMultiProcessorCount) return record(cudaErrorInvalidValue);  // not emulated
  *value = kSmCount;
  return cudaSuccess;
}
cudaError_t cudaDeviceSynchronize() {
  (void)context_device();
  ++g_syncs;
  std::lock_guard<std::mutex> lock(g_stream_mutex);
  for (CUstream_st* s : g_streams)
    if (s->capturing) {
      s->invalidated = true;
      return record(cudaErrorStreamCaptureUnsupported);
    }
  return cudaSuccess;
}

// The driver's cuCtxGetCurrent / cuCtxSetCurrent, handed out by cudaGetDriverEntryPointByVersion
// (CUresult 0 is CUDA_SUCCESS). A context is its device's primary context.
namespace {
int emu_ctx_get_current(void** ctx) {
  *ctx = tl_context >= 0 ? &g_contexts[tl_context] : nullptr;
  return 0;
}
int emu_ctx_set_current(void* ctx) {
  tl_context = ctx == nullptr ? -1 : static_cast<ContextObject*>(ctx)->device;
  return 0;
}
}  // namespace
cudaError_t cudaGetDriverEntryPointByVersion(const char* symbol, void** fn, unsigned int, unsigned long long,
                                             cudaDriverEntryPointQueryResult* status) {
  if (symbol == nullptr || fn == nullptr) return record(cudaErrorInvalidValue);
  for (int d = 0; d < 64; ++d) g_contexts[d].device = d;
  const std::string s = symbol;
  *fn = s == "cuCtxGetCurrent"   ? reinterpret_cast<void*>(&emu_ctx_get_current)
        : s == "cuCtxSetCurrent" ? reinterpret_cast<void*>(&emu_ctx_set_current)
                                 : nullptr;
  if (status != nullptr) *status = *fn != nullptr ? cudaDriverEntryPointSuccess : cudaDriverEntryPointSymbolNotFound;
  return *fn != nullptr ? cudaSuccess : record(cudaErrorNotSupported);
}

// ---- memory ------------------------------------------------------------------------------------------------
namespace {
cudaError_t allocate(void** p, std::size_t bytes, int device) {
  if (p == nullptr) return record(cudaErrorInvalidValue);
  *p = nullptr;
  if (bytes == 0) return cudaSuccess;
  std::lock_guard<std::mutex> lock(g_mem_mutex);
  std::size_t& used = g_used[device < 0 ? 63 : device];
  if (device >= 0 && bytes > device_capacity() - used) return record(cudaErrorMemoryAllocation);
  void* q = nullptr;
  if (posix_memalign(&q, 256, bytes) != 0 || q == nullptr) return record(cudaErrorMemoryAllocation);
  // Fresh device memory holds garbage on the GPU: all-ones bytes (NaN in every float type), so that
  // a kernel reading what nobody wrote gets values a test notices.
  std::memset(q, 0xFF, bytes);
  g_allocations[reinterpret_cast<std::uintptr_t>(q)] = Allocation{bytes, device};
  used += bytes;
  ++g_alloc_count;
  *p = q;
  return cudaSuccess;
}
}  // namespace

cudaError_t cudaMalloc(void** p, std::size_t bytes) { return allocate(p, bytes, context_device()); }
cudaError_t cudaMallocAsync(void** p, std::size_t bytes, cudaStream_t s) {
  if (!live(s)) return record(cudaErrorInvalidResourceHandle);
  if (s != nullptr && s->capturing) return record(cudaErrorStreamCaptureUnsupported);  // memory nodes: not emulated
  return allocate(p, bytes, context_device());
}
cudaError_t cudaHostAlloc(void** p, std::size_t bytes, unsigned int) {
  (void)context_device();
  return allocate(p, bytes, -1);
}

namespace {
// Frees an allocation of the given kind by its base address (cudaErrorInvalidValue otherwise).
cudaError_t release(void* p, bool host) {
  if (p == nullptr) return cudaSuccess;
  std::lock_guard<std::mutex> lock(g_mem_mutex);
  auto it = g_allocations.find(reinterpret_cast<std::uintptr_t>(p));
  if (it == g_allocations.end() || (it->second.device < 0) != host) return record(cudaErrorInvalidValue);
  g_used[it->second.device < 0 ? 63 : it->second.device] -= it->second.bytes;
  g_allocations.erase(it);
  std::free(p);  // AddressSanitizer's quarantine then reports a later use of it
  return cudaSuccess;
}
}  // namespace
cudaError_t cudaFree(void* p) { return release(p, false); }
cudaError_t cudaFreeAsync(void* p, cudaStream_t s) {
  if (!live(s)) return record(cudaErrorInvalidResourceHandle);
  return release(p, false);
}
cudaError_t cudaFreeHost(void* p) { return release(p, true); }

// Unified Addressing: device memory reports its device; cudaHostAlloc'd memory is host memory;
// anything else is unregistered host memory (cudaSuccess since CUDA 11).
cudaError_t cudaPointerGetAttributes(cudaPointerAttributes* attr, const void* p) {
  if (attr == nullptr) return record(cudaErrorInvalidValue);
  (void)context_device();
  std::lock_guard<std::mutex> lock(g_mem_mutex);
  std::uintptr_t base = 0;
  const Allocation* a = find(p, &base);
  *attr = cudaPointerAttributes{cudaMemoryTypeUnregistered, -1, nullptr, nullptr};
  if (a == nullptr) return cudaSuccess;
  if (a->device < 0) {
    *attr = cudaPointerAttributes{cudaMemoryTypeHost, tl_context, const_cast<void*>(p), const_cast<void*>(p)};
  } else {
    *attr = cudaPointerAttributes{cudaMemoryTypeDevice, a->device, const_cast<void*>(p), nullptr};
  }
  return cudaSuccess;
}

namespace {
// Memory Management, cudaMemcpy: the direction must match where the operands are (with unified
// addressing, cudaMemcpyDefault infers it); a device operand must lie whole inside one allocation of
// the current device.
cudaError_t check_copy(void* dst, const void* src, std::size_t bytes, cudaMemcpyKind kind) {
  const int dev = context_device();
  const Where d = classify(dst, bytes, dev), s = classify(src, bytes, dev);
  if (d == Where::bad || s == Where::bad) return cudaErrorInvalidValue;
  switch (kind) {
    case cudaMemcpyHostToHost: return d == Where::host && s == Where::host ? cudaSuccess : cudaErrorInvalidValue;
    case cudaMemcpyHostToDevice: return d == Where::device && s == Where::host ? cudaSuccess : cudaErrorInvalidValue;
    case cudaMemcpyDeviceToHost: return d == Where::host && s == Where::device ? cudaSuccess : cudaErrorInvalidValue;
    case cudaMemcpyDeviceToDevice: return d == Where::device && s == Where::device ? cudaSuccess : cudaErrorInvalidValue;
    case cudaMemcpyDefault: return cudaSuccess;
  }
  return cudaErrorInvalidMemcpyDirection;
}
}  // namespace

cudaError_t cudaMemcpyAsync(void* dst, const void* src, std::size_t bytes, cudaMemcpyKind kind, cudaStream_t s) {
  if (bytes == 0) return cudaSuccess;
  if (dst == nullptr || src == nullptr) return record(cudaErrorInvalidValue);
  const cudaError_t e = check_copy(dst, src, bytes, kind);
  if (e != cudaSuccess) return record(e);
  return submit(s, [dst, src, bytes] { std::memcpy(dst, src, bytes); });
}
cudaError_t cudaMemcpy(void* dst, const void* src, std::size_t bytes, cudaMemcpyKind kind) {
  const cudaError_t e = cudaMemcpyAsync(dst, src, bytes, kind, nullptr);
  if (e != cudaSuccess) return e;
  return cudaStreamSynchronize(nullptr);
}
cudaError_t cudaMemsetAsync(void* p, int value, std::size_t bytes, cudaStream_t s) {
  if (bytes == 0) return cudaSuccess;
  if (classify(p, bytes, context_device()) != Where::device) return record(cudaErrorInvalidValue);
  return submit(s, [p, value, bytes] { std::memset(p, value, bytes); });
}
cudaError_t cudaMemset(void* p, int value, std::size_t bytes) {
  const cudaError_t e = cudaMemsetAsync(p, value, bytes, nullptr);
  if (e != cudaSuccess) return e;
  return cudaStreamSynchronize(nullptr);
}

// ---- streams and graphs ----------------------------------------------------------------------------------
cudaError_t cudaStreamCreate(cudaStream_t* s) {
  if (s == nullptr) return record(cudaErrorInvalidValue);
  auto* st = new CUstream_st;
  st->device = context_device();
  std::lock_guard<std::mutex> lock(g_stream_mutex);
  g_streams.insert(st);
  *s = st;
  return cudaSuccess;
}
cudaError_t cudaStreamDestroy(cudaStream_t s) {
  std::lock_guard<std::mutex> lock(g_stream_mutex);
  if (s == nullptr || g_streams.erase(s) == 0) return record(cudaErrorInvalidResourceHandle);
  if (s->capturing) {
    --g_global_captures;
    delete s->graph;
  }
  delete s;
  return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t s) {
  if (!live(s)) return record(cudaErrorInvalidResourceHandle);
  (void)context_device();
  ++g_syncs;
  std::lock_guard<std::mutex> lock(g_stream_mutex);
  if (s == nullptr && g_global_captures > 0) return record(cudaErrorStreamCaptureImplicit);
  if (s != nullptr && s->capturing) {
    s->invalidated = true;  // Stream Management: synchronizing a capturing stream is not permitted
    return record(cudaErrorStreamCaptureUnsupported);
  }
  return cudaSuccess;  // eager streams have no work outstanding
}
cudaError_t cudaStreamBeginCapture(cudaStream_t s, cudaStreamCaptureMode mode) {
  if (s == nullptr) return record(cudaErrorStreamCaptureUnsupported);  // the legacy stream cannot capture
  if (!live(s)) return record(cudaErrorInvalidResourceHandle);
  std::lock_guard<std::mutex> lock(g_stream_mutex);
  if (s->capturing) return record(cudaErrorIllegalState);
  s->capturing = true;
  s->invalidated = false;
  s->graph = new CUgraph_st;
  if (mode == cudaStreamCaptureModeGlobal) ++g_global_captures;
  return cudaSuccess;
}
cudaError_t cudaStreamEndCapture(cudaStream_t s, cudaGraph_t* graph) {
  if (s == nullptr || graph == nullptr) return record(cudaErrorInvalidValue);
  if (!live(s)) return record(cudaErrorInvalidResourceHandle);
  std::lock_guard<std::mutex> lock(g_stream_mutex);
  if (!s->capturing) return record(cudaErrorStreamCaptureUnmatched);
  s->capturing = false;
  --g_global_captures;
  if (s->invalidated) {
    delete s->graph;
    s->graph = nullptr;
    *graph = nullptr;
    return record(cudaErrorStreamCaptureInvalidated);
  }
  *graph = s->graph;
  s->graph = nullptr;
  return cudaSuccess;
}
cudaError_t cudaStreamIsCapturing(cudaStream_t s, cudaStreamCaptureStatus* status) {
  if (status == nullptr) return record(cudaErrorInvalidValue);
  if (!live(s)) return record(cudaErrorInvalidResourceHandle);
  std::lock_guard<std::mutex> lock(g_stream_mutex);
  if (s == nullptr) {
    *status = cudaStreamCaptureStatusNone;
    return g_global_captures > 0 ? record(cudaErrorStreamCaptureImplicit) : cudaSuccess;
  }
  *status = !s->capturing ? cudaStreamCaptureStatusNone
            : s->invalidated ? cudaStreamCaptureStatusInvalidated
                             : cudaStreamCaptureStatusActive;
  return cudaSuccess;
}
cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t graph, unsigned long long) {
  if (exec == nullptr || graph == nullptr) return record(cudaErrorInvalidValue);
  *exec = new CUgraphExec_st{graph->nodes};
  return cudaSuccess;
}
cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t s) {
  if (exec == nullptr) return record(cudaErrorInvalidValue);
  return submit(s, [exec] {
    for (const auto& node : exec->nodes) node();
  });
}
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec) {
  delete exec;
  return cudaSuccess;
}
cudaError_t cudaGraphDestroy(cudaGraph_t graph) {
  delete graph;
  return cudaSuccess;
}

// ---- events ------------------------------------------------------------------------------------------------
cudaError_t cudaEventCreate(cudaEvent_t* e) { return cudaEventCreateWithFlags(e, cudaEventDefault); }
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* e, unsigned int) {
  if (e == nullptr) return record(cudaErrorInvalidValue);
  *e = new CUevent_st{context_device()};
  return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s) {
  if (e == nullptr) return record(cudaErrorInvalidResourceHandle);
  return submit(s, [] {});
}
cudaError_t cudaEventSynchronize(cudaEvent_t e) {
  if (e == nullptr) return record(cudaErrorInvalidResourceHandle);
  ++g_syncs;
  return cudaSuccess;
}
cudaError_t cudaEventDestroy(cudaEvent_t e) {
  delete e;
  return cudaSuccess;
}
