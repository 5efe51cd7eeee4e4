// The scale from data on CUDA (include/paraminit/calibrate.hpp): the CUDA backend of the calibration
// driver (host/calibrate_driver.hpp, which holds the passes and LSUV's loop for both backends).
// The primitives: cuBLAS sgemm (64-bit API, f32 math, no TF32: the handle's default math mode) on
// the context's stream, and one row kernel per pass that adds the bias, applies the activation and
// reduces each row's statistics (kernels/row_stats.hpp) in the same pass. The per-row statistics
// come back to the host in one copy per summaries() call and are merged in row order
// (host/calibrate.cpp, summarize_rows), so the result does not depend on the number of blocks.
// Device memory comes from a grow-only workspace the context keeps (shared/DESIGN.md section 6):
// repeated calls (an LSUV loop, a sweep over depths) allocate nothing after the first.
//
// cuBLAS is column-major: with the driver's row-major h (batch, in), W (out, in), z (batch, out),
// z^T = W h^T is gemm(T, N, out, batch, in, W (ld in), h (ld in)) and g_in^T = W^T dz^T is
// gemm(N, N, in, batch, out, W (ld in), dz (ld out)).
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "../host/calibrate_driver.hpp"
#include "../host/calibrate_impl.hpp"
#include "../host/params.hpp"
#include "../kernels/activation.hpp"
#include "../kernels/dists.hpp"
#include "../kernels/row_stats.hpp"
#include "cuda_blas.cuh"
#include "cuda_util.cuh"

namespace paraminit {
namespace detail {
namespace {

using kernels::DeviceGuard;
using kernels::FillPolicy;

constexpr int kRowThreads = 256;  // one block per row of the batch

// ---- kernels --------------------------------------------------------------------------------------

template <class In>
__global__ void to_f32_kernel(const In* src, float* dst, std::uint64_t n) {
  const std::uint64_t stride = static_cast<std::uint64_t>(gridDim.x) * blockDim.x;
  for (std::uint64_t i = static_cast<std::uint64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    dst[i] = static_cast<float>(kernels::load(src + i));
}

template <class Out>
__global__ void from_f32_kernel(const float* src, Out* dst, std::uint64_t n) {
  using C = typename kernels::ComputeType<Out>::type;
  const std::uint64_t stride = static_cast<std::uint64_t>(gridDim.x) * blockDim.x;
  for (std::uint64_t i = static_cast<std::uint64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    kernels::store(dst + i, static_cast<C>(src[i]));
}

__global__ void scale_kernel(float* w, std::uint64_t n, float f) {
  const std::uint64_t stride = static_cast<std::uint64_t>(gridDim.x) * blockDim.x;
  for (std::uint64_t i = static_cast<std::uint64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) w[i] *= f;
}

// The block's RowStats combined (a fixed tree over the threads: deterministic), written by thread 0
// to *out.
__device__ void reduce_row(RowStats a, RowStats* out) {
  __shared__ RowStats s[kRowThreads];
  const unsigned t = threadIdx.x;
  s[t] = a;
  __syncthreads();
  for (unsigned half = kRowThreads / 2; half > 0; half /= 2) {
    if (t < half) s[t] = kernels::row_stats_merge(s[t], s[t + half]);
    __syncthreads();
  }
  if (t == 0) *out = s[0];
  __syncthreads();  // the shared array is reused by a second reduction in the same kernel
}

// Row r of z (batch, cols): z += bias, h = f(z), and the statistics of both rows (hs may be null).
template <int A>
__global__ void __launch_bounds__(kRowThreads) forward_rows_kernel(float* z, const float* bias, float* h, std::int64_t cols,
                                                                   float slope, RowStats* zs, RowStats* hs) {
  const std::int64_t r = blockIdx.x;
  float* zr = z + r * cols;
  float* hr = h + r * cols;
  RowStats a = kernels::row_stats_empty(), b = kernels::row_stats_empty();
  for (std::int64_t j = threadIdx.x; j < cols; j += kRowThreads) {
    float v = zr[j];
    if (bias != nullptr) {
      v = v + bias[j];
      zr[j] = v;
    }
    const float f = kernels::activation(A, v, slope);
    hr[j] = f;
    kernels::row_stats_add(a, v);
    kernels::row_stats_add(b, f);
  }
  reduce_row(a, zs + r);
  if (hs != nullptr) reduce_row(b, hs + r);
}

// Row r of g (batch, cols): its statistics (gs, if not null), then g *= f'(z) (if z is not null).
template <int A>
__global__ void __launch_bounds__(kRowThreads) grad_rows_kernel(float* g, const float* z, std::int64_t cols, float slope,
                                                                RowStats* gs) {
  const std::int64_t r = blockIdx.x;
  float* gr = g + r * cols;
  const float* zr = z != nullptr ? z + r * cols : nullptr;
  RowStats a = kernels::row_stats_empty();
  for (std::int64_t j = threadIdx.x; j < cols; j += kRowThreads) {
    const float v = gr[j];
    kernels::row_stats_add(a, v);
    if (zr != nullptr) gr[j] = v * kernels::activation_grad(A, zr[j], slope);
  }
  if (gs != nullptr) reduce_row(a, gs + r);
}

// ---- the backend ------------------------------------------------------------------------------------

// The CUDA side of host/calibrate_driver.hpp: the context's workspace, handle and stream. A
// statistics slot is `rows` RowStats in the workspace, one per row of the pass that wrote it.
class CudaCalibration {
 public:
  CudaCalibration(ContextImpl& c, const char* fn, const char* why)
      : ctx_(c), s_(static_cast<cudaStream_t>(c.stream)), guard_(c.device) {
    kernels::refuse_capture(c.stream, fn, why);
    blas_ = context_blas(c);
    // f32 math: the default mode (not CUBLAS_TF32_TENSOR_OP_MATH), set here in case a caller changed
    // the shared handle's mode.
    check_cublas(cublasSetMathMode(blas_, CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
  }

  void* workspace(std::size_t bytes) { return context_calibration_workspace(ctx_, bytes, "the calibration workspace"); }
  std::uint64_t stats_bytes(std::size_t slots, std::int64_t rows) const {
    return static_cast<std::uint64_t>(slots) * static_cast<std::uint64_t>(rows) * sizeof(RowStats);
  }
  void bind_stats(void* p, std::size_t slots, std::int64_t rows) {
    stats_ = static_cast<RowStats*>(p);
    rows_ = static_cast<std::uint64_t>(rows);
    cols_.assign(slots, 0);
  }

  void to_f32(const TensorView& v, float* dst) {
    const auto n = static_cast<std::uint64_t>(v.numel());
    if (n == 0) return;
    for_dtype(v.dtype, [&](auto tag) {
      using In = decltype(tag);
      kernels::launch("to_f32_kernel", to_f32_kernel<In>, grid(n), FillPolicy::kThreads, s_, static_cast<const In*>(v.data), dst, n);
    });
  }
  void from_f32(const float* src, const TensorView& v) {
    const auto n = static_cast<std::uint64_t>(v.numel());
    if (n == 0) return;
    for_dtype(v.dtype, [&](auto tag) {
      using Out = decltype(tag);
      kernels::launch("from_f32_kernel", from_f32_kernel<Out>, grid(n), FillPolicy::kThreads, s_, src, static_cast<Out*>(v.data), n);
    });
  }

  void forward_gemm(const float* h, const float* w, float* z, std::int64_t batch, std::int64_t in, std::int64_t out) {
    const float one = 1, zero = 0;
    check_cublas(cublasSgemm_64(blas_, CUBLAS_OP_T, CUBLAS_OP_N, out, batch, in, &one, w, in, h, in, &zero, z, out),
                 "cublasSgemm_64 (forward)");
  }
  void backward_gemm(const float* dz, const float* w, float* g_in, std::int64_t batch, std::int64_t in, std::int64_t out) {
    const float one = 1, zero = 0;
    check_cublas(cublasSgemm_64(blas_, CUBLAS_OP_N, CUBLAS_OP_N, in, batch, out, &one, w, in, dz, out, &zero, g_in, in),
                 "cublasSgemm_64 (backward)");
  }

  void forward_rows(const DenseLayer& L, float* z, const float* bias, float* h, std::int64_t batch, std::int64_t cols, std::size_t zs,
                    std::size_t hs) {
    RowStats* const zp = slot(zs, cols);
    RowStats* const hp = slot(hs, cols);
    with_activation_code(L.activation, [&](auto a) {
      kernels::launch("forward_rows_kernel", forward_rows_kernel<decltype(a)::value>, static_cast<unsigned>(batch), kRowThreads, s_, z,
                      bias, h, cols, static_cast<float>(L.negative_slope), zp, hp);
    });
  }
  void grad_rows(const DenseLayer* below, float* g, const float* z, std::int64_t batch, std::int64_t cols, std::size_t gs) {
    RowStats* const gp = slot(gs, cols);
    with_activation_code(below != nullptr ? below->activation : Nonlinearity::linear, [&](auto a) {
      kernels::launch("grad_rows_kernel", grad_rows_kernel<decltype(a)::value>, static_cast<unsigned>(batch), kRowThreads, s_, g,
                      below != nullptr ? z : nullptr, cols, below != nullptr ? static_cast<float>(below->negative_slope) : 0.0f, gp);
    });
  }

  void scale(float* w, std::uint64_t n, float f) {
    if (n == 0) return;
    kernels::launch("scale_kernel", scale_kernel, grid(n), FillPolicy::kThreads, s_, w, n, f);
  }

  // The slots' row statistics back to the host in one copy (synchronizing the stream), each merged
  // in row order.
  std::vector<Summary> summaries(std::size_t first, std::size_t count) {
    std::vector<RowStats> rows(count * rows_);
    DeviceGuard::check(cudaMemcpyAsync(rows.data(), stats_ + first * rows_, rows.size() * sizeof(RowStats), cudaMemcpyDeviceToHost, s_),
                       "cudaMemcpyAsync");
    DeviceGuard::check(cudaStreamSynchronize(s_), "cudaStreamSynchronize");
    std::vector<Summary> out(count);
    for (std::size_t k = 0; k < count; ++k) {
      const RowStats* p = rows.data() + k * rows_;
      out[k] = summarize_rows(std::vector<RowStats>(p, p + rows_), cols_[first + k]);
    }
    return out;
  }

 private:
  unsigned grid(std::uint64_t n) const { return kernels::grid_for(ctx_.device, n); }
  // Slot k's device rows (null for kNoSlot), remembering the width of the rows it summarizes.
  RowStats* slot(std::size_t k, std::int64_t cols) {
    if (k == kNoSlot) return nullptr;
    cols_[k] = cols;
    return stats_ + k * rows_;
  }

  ContextImpl& ctx_;
  cudaStream_t s_;
  DeviceGuard guard_;
  cublasHandle_t blas_ = nullptr;
  RowStats* stats_ = nullptr;
  std::uint64_t rows_ = 0;
  std::vector<std::int64_t> cols_;
};

}  // namespace

std::vector<LayerStatistics> cuda_layer_statistics(Context& c, const std::vector<DenseLayer>& layers, const TensorView& x,
                                                   const StatisticsOptions& opt, const StackShape& sh, const char* fn) {
  CudaCalibration be(detail::impl(c), fn, "synchronizes its stream (the statistics come back to the host)");
  return statistics_driver(be, c, layers, x, opt, sh, fn);
}

std::vector<LsuvLayerReport> cuda_calibrate_lsuv(Context& c, const std::vector<DenseLayer>& layers, const TensorView& x,
                                                 const LsuvOptions& opt, const StackShape& sh, const char* fn) {
  CudaCalibration be(detail::impl(c), fn, "synchronizes its stream (each measured std comes back to the host)");
  return lsuv_driver(be, c, layers, x, opt, sh, fn);
}

}  // namespace detail
}  // namespace paraminit
