// CUDA helpers shared by the CUDA drivers (cuda/): the device guard, the one kernel launcher and its
// status check, the grid size of a grid-stride loop. Included only by cuda/ sources; compiled by
// nvcc against the CUDA toolkit, or by the host compiler against the emulated device (emulate/).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <string>
#include <utility>

#include "../host/internal.hpp"

namespace paraminit {
namespace kernels {

// Tuning policy: a plain struct (CUB's habit).
struct FillPolicy {
  static constexpr int kThreads = 256;
  static constexpr int kBlocksPerSm = 16;
};

// Makes `device` current for the launch and afterwards restores exactly the caller's current
// context (through the driver's cuCtxGetCurrent / cuCtxSetCurrent, looked up at run time so that
// nothing links libcuda). Restoring with cudaSetDevice instead would create a primary context on
// the caller's device (GPU 0 in one-process-per-GPU jobs that never chose one).
class DeviceGuard {
 public:
  // Nothing to do only when a context of `device` is already current. cudaGetDevice alone cannot
  // tell: with no context current it still answers the device last chosen by cudaSetDevice, so a
  // guard that restored "no context" would be skipped by the next one, whose work then initializes
  // and leaves current a context the caller never had (found by the emulated device's tests).
  explicit DeviceGuard(int device) {
    int current = -1;
    check(cudaGetDevice(&current), "cudaGetDevice");
    const DriverCtx& drv = driver_ctx();
    have_prev_ = drv.get != nullptr && drv.get(&prev_) == 0;
    if (current == device && (!have_prev_ || prev_ != nullptr)) return;
    switched_ = true;
    prev_device_ = current;
    check(cudaSetDevice(device), "cudaSetDevice");
  }
  ~DeviceGuard() {
    if (!switched_) return;
    if (have_prev_)
      (void)driver_ctx().set(prev_);
    else
      (void)cudaSetDevice(prev_device_);
  }
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

  static void check(cudaError_t err, const char* call) {
    if (err != cudaSuccess)
      ::paraminit::detail::fail(Status::device, std::string("paraminit: ") + call + ": " + cudaGetErrorName(err) +
                                       ": " + cudaGetErrorString(err));
  }

 private:
  using GetCurrent = int (*)(void**);  // CUresult cuCtxGetCurrent(CUcontext*)
  using SetCurrent = int (*)(void*);   // CUresult cuCtxSetCurrent(CUcontext)
  struct DriverCtx {
    GetCurrent get = nullptr;
    SetCurrent set = nullptr;
  };
  static const DriverCtx& driver_ctx() {
    static const DriverCtx fns = [] {
      DriverCtx f;
      void* g = nullptr;
      void* s = nullptr;
      if (cudaGetDriverEntryPointByVersion("cuCtxGetCurrent", &g, 12000, cudaEnableDefault, nullptr) == cudaSuccess &&
          cudaGetDriverEntryPointByVersion("cuCtxSetCurrent", &s, 12000, cudaEnableDefault, nullptr) == cudaSuccess &&
          g != nullptr && s != nullptr) {
        f.get = reinterpret_cast<GetCurrent>(g);
        f.set = reinterpret_cast<SetCurrent>(s);
      } else {
        (void)cudaGetLastError();
      }
      return f;
    }();
    return fns;
  }

  bool switched_ = false, have_prev_ = false;
  void* prev_ = nullptr;
  int prev_device_ = 0;
};

// Every kernel launch of the library goes through here (no <<< >>> anywhere else): the runtime's
// typed cudaLaunchKernelEx with the grid the launcher computed, so that the emulated device runs the
// same kernel body over every (block, thread) of the same grid. `name` is the kernel's name in
// errors. A grid of 0 blocks is a launch error (cudaErrorInvalidConfiguration), so launchers return
// early on zero items instead of launching.
template <class... Params, class... Args>
void launch(const char* name, void (*kernel)(Params...), unsigned grid, unsigned block, cudaStream_t stream,
            Args&&... args) {
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = dim3(grid, 1, 1);
  cfg.blockDim = dim3(block, 1, 1);
  cfg.dynamicSmemBytes = 0;
  cfg.stream = stream;
  const cudaError_t err = cudaLaunchKernelEx(&cfg, kernel, std::forward<Args>(args)...);
  if (err != cudaSuccess) {
    (void)cudaGetLastError();  // a launch error is not sticky: clear it so the next call starts clean
    ::paraminit::detail::fail(Status::device, std::string("paraminit: launching ") + name + ": " +
                                                  cudaGetErrorName(err) + ": " + cudaGetErrorString(err));
  }
}

// Work that synchronizes the stream or reads host memory cannot be recorded into a CUDA graph: it
// is refused (Status::unsupported) while the stream is capturing. `what` says why ("synchronizes
// its stream (...)").
inline void refuse_capture(void* stream, const char* fn, const char* what) {
  cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
  const cudaError_t ce = cudaStreamIsCapturing(static_cast<cudaStream_t>(stream), &capture);
  if (ce == cudaErrorStreamCaptureImplicit || (ce == cudaSuccess && capture != cudaStreamCaptureStatusNone)) {
    (void)cudaGetLastError();  // cudaErrorStreamCaptureImplicit: the legacy stream while another captures
    ::paraminit::detail::fail(Status::unsupported, std::string(fn) + ": " + what +
                                                       ", so it cannot be captured in a CUDA graph; call it before or after the capture");
  }
  DeviceGuard::check(ce, "cudaStreamIsCapturing");
}

inline unsigned grid_for(int device, std::uint64_t items) {
  int sms = 0;
  DeviceGuard::check(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device),
                     "cudaDeviceGetAttribute(MultiProcessorCount)");
  const std::uint64_t cap = static_cast<std::uint64_t>(sms) * FillPolicy::kBlocksPerSm;
  const std::uint64_t need = (items + FillPolicy::kThreads - 1) / FillPolicy::kThreads;
  return static_cast<unsigned>(need < cap ? need : cap);
}


}  // namespace kernels
}  // namespace paraminit
