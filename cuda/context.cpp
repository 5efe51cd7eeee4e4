// The CUDA context: device discovery, the pointer checks, and the pinned staging of host data to the
// device (safetensors reads). Compiled only in CUDA builds (real, or against the emulated device);
// host/no_cuda.cpp is its stand-in without CUDA.
#include <cuda_runtime.h>

#include <algorithm>
#include <functional>
#include <optional>
#include <string>

#include "../host/internal.hpp"
#include "cuda_util.cuh"

namespace paraminit {

bool cuda_built() noexcept { return true; }

namespace detail {
namespace {
std::string cuda_msg(const char* call, cudaError_t err) {
  return std::string(call) + ": " + cudaGetErrorName(err) + ": " + cudaGetErrorString(err);
}
}  // namespace

int cuda_devices() noexcept {
  // Cached: the first call initializes the CUDA runtime; without a driver it fails fast.
  static const int count = [] {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
      (void)cudaGetLastError();  // clear the error so that later calls start clean
      return 0;
    }
    return n;
  }();
  return count;
}

void cuda_init_context(ContextImpl& ctx, int device, void* stream) {
  const int n = cuda_devices();
  if (device < 0 || device >= n)
    fail(Status::device, "paraminit::Context::cuda: device " + std::to_string(device) +
                             " does not exist (" + std::to_string(n) + " CUDA device(s) visible)");
  ctx.cuda = true;
  ctx.device = device;
  ctx.stream = stream;
}

void check_pointer_location(const ContextImpl& ctx, const void* ptr, const char* fn) {
  if (cuda_devices() == 0) {
    if (ctx.cuda) fail(Status::device, std::string(fn) + ": no CUDA device");
    return;  // no device: every pointer is host memory
  }
  // A runtime call may initialize the current device's primary context: for a CUDA context, make
  // its own device current for the query (and restore the caller's context afterwards).
  std::optional<kernels::DeviceGuard> guard;
  if (ctx.cuda) guard.emplace(ctx.device);
  cudaPointerAttributes attr{};
  const cudaError_t err = cudaPointerGetAttributes(&attr, ptr);
  if (err != cudaSuccess) {
    (void)cudaGetLastError();
    // A CPU context must keep working whatever state the GPU is in (an unrelated sticky error, an
    // exclusive-process device held elsewhere): memory that cannot be queried is not ours to
    // reject. A CUDA context cannot proceed without knowing.
    if (!ctx.cuda) return;
    fail(Status::device, std::string(fn) + ": " + cuda_msg("cudaPointerGetAttributes", err));
  }
  const bool managed = attr.type == cudaMemoryTypeManaged;
  if (ctx.cuda) {
    if (attr.type == cudaMemoryTypeDevice && attr.device != ctx.device)
      fail(Status::invalid_argument, std::string(fn) + ": data is memory of CUDA device " +
                                         std::to_string(attr.device) + " but the context is on device " +
                                         std::to_string(ctx.device));
    if (attr.type != cudaMemoryTypeDevice && !managed)
      fail(Status::invalid_argument,
           std::string(fn) + ": data is host memory but the context is a CUDA context "
                             "(use a CPU context, or cudaMalloc'd / managed memory)");
  } else if (attr.type == cudaMemoryTypeDevice) {
    fail(Status::invalid_argument, std::string(fn) + ": data is memory of CUDA device " +
                                       std::to_string(attr.device) +
                                       " but the context is a CPU context");
  }
}

// Double-buffered pinned staging: chunk k is produced into buffer k % 2 while the copy of chunk
// k - 1 runs; an event per buffer says when it may be reused.
void cuda_stream_to_device(const ContextImpl& ctx, void* dst, std::uint64_t bytes,
                           const std::function<void(void*, std::uint64_t, std::uint64_t)>& produce, const char* fn) {
  constexpr std::uint64_t kChunk = std::uint64_t{64} << 20;
  if (bytes == 0) return;
  const auto s = static_cast<cudaStream_t>(ctx.stream);
  auto check = [&](cudaError_t e, const char* call) {
    if (e != cudaSuccess) {
      (void)cudaGetLastError();
      fail(Status::device, std::string(fn) + ": " + cuda_msg(call, e));
    }
  };
  // The guard restores the caller's own context afterwards (never cudaSetDevice(prev), which would
  // create a primary context on a device the caller never used). Declared first: destroyed last.
  const kernels::DeviceGuard guard(ctx.device);
  // On every exit (an I/O error from produce included) the copies in flight finish before their
  // pinned buffers are freed.
  struct Staging {
    void* p[2] = {nullptr, nullptr};
    cudaEvent_t done[2] = {nullptr, nullptr};
    cudaStream_t stream = nullptr;
    ~Staging() {
      (void)cudaStreamSynchronize(stream);
      for (int i = 0; i < 2; ++i) {
        if (done[i] != nullptr) (void)cudaEventDestroy(done[i]);
        if (p[i] != nullptr) (void)cudaFreeHost(p[i]);
      }
      (void)cudaGetLastError();
    }
  } st;
  st.stream = s;
  const std::uint64_t chunk = std::min(kChunk, bytes);
  for (int i = 0; i < 2; ++i) {
    check(cudaHostAlloc(&st.p[i], static_cast<std::size_t>(chunk), cudaHostAllocDefault), "cudaHostAlloc");
    check(cudaEventCreateWithFlags(&st.done[i], cudaEventDisableTiming), "cudaEventCreate");
  }
  for (std::uint64_t off = 0, k = 0; off < bytes; off += chunk, ++k) {
    const int b = static_cast<int>(k % 2);
    const std::uint64_t n = std::min(chunk, bytes - off);
    check(cudaEventSynchronize(st.done[b]), "cudaEventSynchronize");  // the copy that last used buffer b
    produce(st.p[b], off, n);
    check(cudaMemcpyAsync(static_cast<char*>(dst) + off, st.p[b], static_cast<std::size_t>(n), cudaMemcpyHostToDevice, s),
          "cudaMemcpyAsync");
    check(cudaEventRecord(st.done[b], s), "cudaEventRecord");
  }
  check(cudaStreamSynchronize(s), "cudaStreamSynchronize");
}

}  // namespace detail
}  // namespace paraminit
