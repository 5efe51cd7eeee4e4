// The emulated CUDA device: the subset of the CUDA runtime API (and of the device language) that
// paraminit's CUDA drivers (cuda/) use, implemented on the host so that the same .cu sources,
// compiled as C++ by the host compiler, run here: every kernel body over every (block, thread) of
// the grid its launcher computed, device memory as host memory with pointer attributes, streams run
// eagerly, graph capture recorded and replayed. A TEST INSTRUMENT (PARAMINIT_CUDA=EMULATE): users
// never select it. Run under AddressSanitizer, an out-of-bounds store in a kernel, a workspace one
// element short or a misaligned vector store (UBSan) fails the test that did it.
//
// Fidelity, call by call, follows the CUDA Runtime API reference (CUDA 13): return codes for bad
// arguments (a grid of 0 blocks is cudaErrorInvalidConfiguration, a copy whose device range leaves
// its allocation is cudaErrorInvalidValue, synchronizing a capturing stream is
// cudaErrorStreamCaptureUnsupported, ...), per-thread current device and context, CUDA 12's
// cudaSetDevice initializing the device's primary context. Where the real device would fault (a
// kernel dereferencing memory it does not own), the emulation relies on AddressSanitizer.
//
// Only what paraminit uses is here; a call it starts using fails to compile until it is emulated.
#pragma once

#include <math.h>  // isfinite, fabs, INFINITY in the global namespace, as device code sees them

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <tuple>
#include <type_traits>
#include <utility>

// ---- the device language ------------------------------------------------------------------------
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline __attribute__((always_inline))
#define __launch_bounds__(...)
// Shared memory: one instance per host thread; a block's CUDA threads run on one host thread (as
// fibers where they meet a barrier), one block at a time, so a block sees its own array.
#define __shared__ static thread_local

// Trivially default-constructible, so that the built-ins below can be __thread variables.
struct dim3 {
  unsigned x, y, z;
  dim3() = default;
  constexpr dim3(unsigned vx, unsigned vy = 1, unsigned vz = 1) : x(vx), y(vy), z(vz) {}
};
struct uint3 {
  unsigned x, y, z;
};

// The built-in variables of the CUDA thread running on this host thread (set by the launch).
// __thread, not thread_local: an extern thread_local of class type is read through a TLS wrapper
// function, and GCC 12 with -fsanitize=undefined miscompiles the null check of its result (a
// branch on stale flags: "member access within null pointer" on blockIdx.x).
extern __thread uint3 threadIdx, blockIdx;
extern __thread dim3 blockDim, gridDim;

namespace paraminit_emu {
void syncthreads();  // __syncthreads(): a barrier of the block's threads (see emulated_runtime.cpp)
}  // namespace paraminit_emu

inline void __syncthreads() { ::paraminit_emu::syncthreads(); }

// Vector types with the device's alignment: a vector store to a misaligned address is undefined
// behaviour that UBSan reports, as the GPU raises a misaligned-address fault.
struct alignas(16) float4 {
  float x, y, z, w;
};
struct alignas(16) double2 {
  double x, y;
};
struct alignas(16) uint4 {
  unsigned x, y, z, w;
};
inline float4 make_float4(float x, float y, float z, float w) { return float4{x, y, z, w}; }
inline double2 make_double2(double x, double y) { return double2{x, y}; }
inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) { return uint4{x, y, z, w}; }

inline long long __double_as_longlong(double d) {
  long long v;
  std::memcpy(&v, &d, sizeof v);
  return v;
}
inline double __longlong_as_double(long long v) {
  double d;
  std::memcpy(&d, &v, sizeof d);
  return d;
}
// Atomics: blocks may run on several host threads, so these are real atomic read-modify-writes.
inline unsigned long long atomicAdd(unsigned long long* p, unsigned long long v) {
  return __atomic_fetch_add(p, v, __ATOMIC_RELAXED);
}
inline unsigned long long atomicMax(unsigned long long* p, unsigned long long v) {
  unsigned long long old = __atomic_load_n(p, __ATOMIC_RELAXED);
  while (old < v && !__atomic_compare_exchange_n(p, &old, v, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
  }
  return old;
}

// ---- runtime types ----------------------------------------------------------------------------------
enum cudaError_t {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInitializationError = 3,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorInvalidDevicePointer = 17,
  cudaErrorInvalidMemcpyDirection = 21,
  cudaErrorNoDevice = 100,
  cudaErrorInvalidDevice = 101,
  cudaErrorInvalidResourceHandle = 400,
  cudaErrorIllegalState = 401,
  cudaErrorNotSupported = 801,
  cudaErrorStreamCaptureUnsupported = 900,
  cudaErrorStreamCaptureInvalidated = 901,
  cudaErrorStreamCaptureUnmatched = 903,
  cudaErrorStreamCaptureImplicit = 906,
  cudaErrorLaunchFailure = 719,
};
using cudaError = cudaError_t;

enum cudaMemcpyKind {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
  cudaMemcpyDefault = 4,
};
enum cudaMemoryType {
  cudaMemoryTypeUnregistered = 0,
  cudaMemoryTypeHost = 1,
  cudaMemoryTypeDevice = 2,
  cudaMemoryTypeManaged = 3,
};
struct cudaPointerAttributes {
  cudaMemoryType type;
  int device;
  void* devicePointer;
  void* hostPointer;
};
enum cudaDeviceAttr { cudaDevAttrMultiProcessorCount = 16 };
enum cudaStreamCaptureStatus {
  cudaStreamCaptureStatusNone = 0,
  cudaStreamCaptureStatusActive = 1,
  cudaStreamCaptureStatusInvalidated = 2,
};
enum cudaStreamCaptureMode {
  cudaStreamCaptureModeGlobal = 0,
  cudaStreamCaptureModeThreadLocal = 1,
  cudaStreamCaptureModeRelaxed = 2,
};
enum cudaDataType_t { CUDA_R_32F = 0, CUDA_R_64F = 1, CUDA_R_16F = 2 };
using cudaDataType = cudaDataType_t;
enum cudaDriverEntryPointQueryResult { cudaDriverEntryPointSuccess = 0, cudaDriverEntryPointSymbolNotFound = 1 };
constexpr unsigned long long cudaEnableDefault = 0;
constexpr unsigned cudaHostAllocDefault = 0;
constexpr unsigned cudaEventDefault = 0;
constexpr unsigned cudaEventDisableTiming = 2;

struct CUstream_st;
struct CUevent_st;
struct CUgraph_st;
struct CUgraphExec_st;
using cudaStream_t = CUstream_st*;
using cudaEvent_t = CUevent_st*;
using cudaGraph_t = CUgraph_st*;
using cudaGraphExec_t = CUgraphExec_st*;

struct cudaLaunchAttribute;
struct cudaLaunchConfig_t {
  dim3 gridDim;
  dim3 blockDim;
  std::size_t dynamicSmemBytes;
  cudaStream_t stream;
  cudaLaunchAttribute* attrs;
  unsigned int numAttrs;
};

// ---- runtime functions (emulated_runtime.cpp) -------------------------------------------------------
cudaError_t cudaGetDeviceCount(int* count);
cudaError_t cudaGetDevice(int* device);
cudaError_t cudaSetDevice(int device);
cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device);
cudaError_t cudaDeviceSynchronize();
cudaError_t cudaGetLastError();
cudaError_t cudaPeekAtLastError();
const char* cudaGetErrorName(cudaError_t err);
const char* cudaGetErrorString(cudaError_t err);
cudaError_t cudaGetDriverEntryPointByVersion(const char* symbol, void** fn, unsigned int cuda_version,
                                             unsigned long long flags, cudaDriverEntryPointQueryResult* status);

cudaError_t cudaMalloc(void** p, std::size_t bytes);
template <class T>
cudaError_t cudaMalloc(T** p, std::size_t bytes) {
  return cudaMalloc(reinterpret_cast<void**>(p), bytes);
}
cudaError_t cudaFree(void* p);
cudaError_t cudaMallocAsync(void** p, std::size_t bytes, cudaStream_t s);
cudaError_t cudaFreeAsync(void* p, cudaStream_t s);
cudaError_t cudaHostAlloc(void** p, std::size_t bytes, unsigned int flags);
cudaError_t cudaFreeHost(void* p);
cudaError_t cudaPointerGetAttributes(cudaPointerAttributes* attr, const void* p);
cudaError_t cudaMemcpy(void* dst, const void* src, std::size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void* dst, const void* src, std::size_t bytes, cudaMemcpyKind kind, cudaStream_t s = nullptr);
cudaError_t cudaMemset(void* p, int value, std::size_t bytes);
cudaError_t cudaMemsetAsync(void* p, int value, std::size_t bytes, cudaStream_t s = nullptr);

cudaError_t cudaStreamCreate(cudaStream_t* s);
cudaError_t cudaStreamDestroy(cudaStream_t s);
cudaError_t cudaStreamSynchronize(cudaStream_t s);
cudaError_t cudaStreamBeginCapture(cudaStream_t s, cudaStreamCaptureMode mode);
cudaError_t cudaStreamEndCapture(cudaStream_t s, cudaGraph_t* graph);
cudaError_t cudaStreamIsCapturing(cudaStream_t s, cudaStreamCaptureStatus* status);
cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t graph, unsigned long long flags = 0);
cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t s);
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec);
cudaError_t cudaGraphDestroy(cudaGraph_t graph);

cudaError_t cudaEventCreate(cudaEvent_t* e);
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* e, unsigned int flags);
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s = nullptr);
cudaError_t cudaEventSynchronize(cudaEvent_t e);
cudaError_t cudaEventDestroy(cudaEvent_t e);

namespace paraminit_emu {
// A kernel launch: validates the configuration and the stream like the real launch, then runs
// thread_body once per CUDA thread of every block of the grid, with threadIdx/blockIdx/... set and
// __syncthreads() honoured (or records the launch into the graph its stream is capturing).
cudaError_t launch(const cudaLaunchConfig_t* cfg, std::function<void()> thread_body);
// Work submitted to a stream: run now (streams run eagerly), or recorded when the stream is being
// captured into a graph. Validates the stream handle and its device.
cudaError_t submit(cudaStream_t s, std::function<void()> work);
// Whether [p, p + bytes) lies inside one live device allocation of the current device (the BLAS
// emulation's operand checks).
bool device_range(const void* p, std::size_t bytes);
// The emulation reports a misuse that the real device would turn into a fault or a hang (a divergent
// __syncthreads, a barrier outside a kernel): it prints what and where, then aborts, as a GPU fault
// ends the process's context.
[[noreturn]] void fault(const char* what);

// For tests of the library's CUDA behaviour (only the emulation can answer these):
struct Counters {
  unsigned long long launches = 0;         // kernels run (or recorded)
  unsigned long long allocations = 0;      // cudaMalloc / cudaMallocAsync / cudaHostAlloc that succeeded
  unsigned long long synchronizations = 0; // cudaStreamSynchronize / cudaDeviceSynchronize / cudaEventSynchronize
};
Counters counters();  // process-wide totals
// The device whose context is current on this host thread, -1 when none (a thread that never used
// CUDA, or one whose caller's "no context" was restored).
int current_context_device();
}  // namespace paraminit_emu

// The typed launch of cuda_runtime.h (cudaLaunchKernelEx's C++ form): the arguments are converted
// to the kernel's parameter types once, as the real launch copies them into the parameter buffer,
// and every CUDA thread calls the kernel with its own copy of them.
template <class... ExpTypes, class... ActTypes>
cudaError_t cudaLaunchKernelEx(const cudaLaunchConfig_t* config, void (*kernel)(ExpTypes...), ActTypes&&... args) {
  if (config == nullptr || kernel == nullptr) return cudaErrorInvalidValue;
  using Params = std::tuple<std::decay_t<ExpTypes>...>;
  auto params = std::make_shared<const Params>(static_cast<ExpTypes>(std::forward<ActTypes>(args))...);
  return paraminit_emu::launch(config, [params, kernel] {
    Params mine = *params;
    std::apply(kernel, std::move(mine));
  });
}
