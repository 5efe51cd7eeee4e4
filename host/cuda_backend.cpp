// The CUDA context and the pointer checks. Built with and without CUDA: without it, CUDA contexts
// are unsupported and every pointer is taken to be host memory.
#include <algorithm>
#include <functional>
#include <string>

#include "internal.hpp"

#if defined(PARAMINIT_WITH_CUDA)
#include <cuda_runtime.h>
#endif

namespace paraminit {

bool cuda_built() noexcept {
#if defined(PARAMINIT_WITH_CUDA)
  return true;
#else
  return false;
#endif
}

namespace detail {

#if defined(PARAMINIT_WITH_CUDA)

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
      (void)cudaGetLastError();  // clear the sticky-free error so later calls start clean
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
  const auto s = static_cast<cudaStream_t>(ctx.stream);
  auto check = [&](cudaError_t e, const char* call) {
    if (e != cudaSuccess) fail(Status::device, std::string(fn) + ": " + cuda_msg(call, e));
  };
  int prev = -1;
  check(cudaGetDevice(&prev), "cudaGetDevice");
  if (prev != ctx.device) check(cudaSetDevice(ctx.device), "cudaSetDevice");
  // On every exit (an I/O error from produce included) the copies in flight finish before their
  // pinned buffers are freed.
  struct Staging {
    void* p[2] = {nullptr, nullptr};
    cudaEvent_t done[2] = {nullptr, nullptr};
    cudaStream_t stream;
    int prev_device, device;
    ~Staging() {
      (void)cudaStreamSynchronize(stream);
      for (int i = 0; i < 2; ++i) {
        if (done[i] != nullptr) (void)cudaEventDestroy(done[i]);
        if (p[i] != nullptr) (void)cudaFreeHost(p[i]);
      }
      if (prev_device != device) (void)cudaSetDevice(prev_device);
    }
  } st;
  st.stream = s;
  st.prev_device = prev;
  st.device = ctx.device;
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

namespace {
void cuda_copy(const ContextImpl& ctx, void* dst, const void* src, std::uint64_t bytes, cudaMemcpyKind kind, const char* fn) {
  if (bytes == 0) return;
  int prev = -1;
  auto check = [&](cudaError_t e, const char* call) {
    if (e != cudaSuccess) {
      if (prev >= 0 && prev != ctx.device) (void)cudaSetDevice(prev);
      fail(Status::device, std::string(fn) + ": " + cuda_msg(call, e));
    }
  };
  check(cudaGetDevice(&prev), "cudaGetDevice");
  const bool switched = prev != ctx.device;
  if (switched) check(cudaSetDevice(ctx.device), "cudaSetDevice");
  const auto s = static_cast<cudaStream_t>(ctx.stream);
  check(cudaMemcpyAsync(dst, src, static_cast<std::size_t>(bytes), kind, s), "cudaMemcpyAsync");
  check(cudaStreamSynchronize(s), "cudaStreamSynchronize");
  if (switched) (void)cudaSetDevice(prev);
}
}  // namespace

void cuda_copy_to_host(const ContextImpl& ctx, void* dst, const void* src, std::uint64_t bytes, const char* fn) {
  cuda_copy(ctx, dst, src, bytes, cudaMemcpyDeviceToHost, fn);
}
void cuda_copy_to_device(const ContextImpl& ctx, void* dst, const void* src, std::uint64_t bytes, const char* fn) {
  cuda_copy(ctx, dst, src, bytes, cudaMemcpyHostToDevice, fn);
}

#else  // !PARAMINIT_WITH_CUDA

int cuda_devices() noexcept { return 0; }

void cuda_init_context(ContextImpl&, int, void*) {
  fail(Status::unsupported,
       "paraminit::Context::cuda: this build of paraminit has no CUDA backend (configure with "
       "PARAMINIT_CUDA=ON on a machine with the CUDA toolkit)");
}

void check_pointer_location(const ContextImpl&, const void*, const char*) {}

void cuda_copy_to_host(const ContextImpl&, void*, const void*, std::uint64_t, const char* fn) {
  fail(Status::unsupported, std::string(fn) + ": this build has no CUDA backend");
}
void cuda_copy_to_device(const ContextImpl&, void*, const void*, std::uint64_t, const char* fn) {
  fail(Status::unsupported, std::string(fn) + ": this build has no CUDA backend");
}

#endif

}  // namespace detail
}  // namespace paraminit
