// The scale from data on CUDA (include/paraminit/calibrate.hpp): the dense-layer stack forwarded
// and back-propagated with cuBLAS sgemm (64-bit API, f32 math, no TF32: the handle's default math
// mode) on the context's stream, and one row kernel per layer that adds the bias, applies the
// activation and reduces each row's statistics in the same pass. The per-row statistics of every
// layer come back to the host in one copy and are merged in row order (host/calibrate.cpp,
// summarize_rows), so the result does not depend on the number of blocks. LSUV rescales the f32
// weights on the device; other dtypes through an f32 copy, stored back rounded as on the CPU.
// Device memory comes from a grow-only workspace the context keeps (shared/DESIGN.md section 6):
// repeated calls (an LSUV loop, a sweep over depths) allocate nothing after the first.
//
// Layouts as host/calibrate.cpp: h (batch, in), W (out, in), z (batch, out), row-major; cuBLAS is
// column-major, so z^T = W h^T is gemm(T, N, out, batch, in, W (ld in), h (ld in)) and
// g_in^T = W^T dz^T is gemm(N, N, in, batch, out, W (ld in), dz (ld out)).
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "../host/calibrate_impl.hpp"
#include "../host/params.hpp"
#include "../kernels/activation.hpp"
#include "cuda_blas.cuh"
#include "cuda_util.cuh"
#include "../kernels/dists.hpp"

namespace paraminit {
namespace detail {
namespace {

using kernels::DeviceGuard;
using kernels::FillPolicy;

constexpr int kRowThreads = 256;  // one block per row of the batch

// Sub-buffers of the context's grow-only calibration workspace (shared/DESIGN.md section 6):
// reserve() every size first (256-byte aligned offsets), then bind() once and take pointers.
class Workspace {
 public:
  std::size_t reserve(std::uint64_t bytes) {
    const std::size_t off = total_;
    total_ += static_cast<std::size_t>((bytes + 255) / 256 * 256);
    return off;
  }
  void bind(ContextImpl& ctx) {
    base_ = static_cast<unsigned char*>(context_calibration_workspace(ctx, total_ > 0 ? total_ : 256, "the calibration workspace"));
  }
  template <class T>
  T* at(std::size_t off) const {
    return reinterpret_cast<T*>(base_ + off);
  }

 private:
  std::size_t total_ = 0;
  unsigned char* base_ = nullptr;
};

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

// One row's partial statistics as host/calibrate.cpp's Acc keeps them (sums in double; min / max
// ignore NaN the same way).
struct RowAcc {
  double sum = 0, sq = 0;
  float lo = INFINITY, hi = -INFINITY;
  __device__ void add(float x) {
    const double d = x;
    sum += d;
    sq += d * d;
    lo = x < lo ? x : lo;
    hi = x > hi ? x : hi;
  }
};

// The block's RowAcc values combined (a fixed tree over the threads: deterministic), written by
// thread 0 to *out.
__device__ void reduce_row(RowAcc a, RowStats* out) {
  __shared__ double s_sum[kRowThreads], s_sq[kRowThreads];
  __shared__ float s_lo[kRowThreads], s_hi[kRowThreads];
  const unsigned t = threadIdx.x;
  s_sum[t] = a.sum, s_sq[t] = a.sq, s_lo[t] = a.lo, s_hi[t] = a.hi;
  __syncthreads();
  for (unsigned half = kRowThreads / 2; half > 0; half /= 2) {
    if (t < half) {
      s_sum[t] += s_sum[t + half];
      s_sq[t] += s_sq[t + half];
      s_lo[t] = s_lo[t + half] < s_lo[t] ? s_lo[t + half] : s_lo[t];
      s_hi[t] = s_hi[t + half] > s_hi[t] ? s_hi[t + half] : s_hi[t];
    }
    __syncthreads();
  }
  if (t == 0) *out = RowStats{s_sum[0], s_sq[0], s_lo[0], s_hi[0]};
  __syncthreads();  // the shared arrays are reused by a second reduction in the same kernel
}

// Row r of z (batch, cols): z += bias, h = f(z), and the statistics of both rows (hs may be null).
template <int A>
__global__ void __launch_bounds__(kRowThreads) forward_rows_kernel(float* z, const float* bias, float* h, std::int64_t cols,
                                                                   float slope, RowStats* zs, RowStats* hs) {
  const std::int64_t r = blockIdx.x;
  float* zr = z + r * cols;
  float* hr = h + r * cols;
  RowAcc a, b;
  for (std::int64_t j = threadIdx.x; j < cols; j += kRowThreads) {
    float v = zr[j];
    if (bias != nullptr) {
      v = v + bias[j];
      zr[j] = v;
    }
    const float f = kernels::activation(A, v, slope);
    hr[j] = f;
    a.add(v);
    b.add(f);
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
  RowAcc a;
  for (std::int64_t j = threadIdx.x; j < cols; j += kRowThreads) {
    const float v = gr[j];
    a.add(v);
    if (zr != nullptr) gr[j] = v * kernels::activation_grad(A, zr[j], slope);
  }
  if (gs != nullptr) reduce_row(a, gs + r);
}

// f(std::integral_constant<int, a>) for the activation code a (a template argument: the row loops
// have no switch inside). Only the activations of calibration_supports: check_stack refused the others.
template <class F>
void with_activation_code(Nonlinearity a, F f) {
  switch (a) {
    case Nonlinearity::linear: return f(std::integral_constant<int, kernels::kLinear>{});
    case Nonlinearity::relu: return f(std::integral_constant<int, kernels::kRelu>{});
    case Nonlinearity::leaky_relu: return f(std::integral_constant<int, kernels::kLeakyRelu>{});
    case Nonlinearity::tanh: return f(std::integral_constant<int, kernels::kTanh>{});
    case Nonlinearity::sigmoid: return f(std::integral_constant<int, kernels::kSigmoid>{});
    case Nonlinearity::gelu: return f(std::integral_constant<int, kernels::kGelu>{});
    case Nonlinearity::silu: return f(std::integral_constant<int, kernels::kSilu>{});
    default: fail(Status::internal, "with_activation_code: activation " + std::string(to_string(a)) + " is not implemented");
  }
}

// ---- the host side ----------------------------------------------------------------------------------

// What both functions share: the guard, the handle, the stream.
struct Run {
  ContextImpl& ctx;
  const char* fn;
  cudaStream_t s;
  cublasHandle_t blas;
  DeviceGuard guard;
  Run(ContextImpl& c, const char* name, const char* why)
      : ctx(c), fn(name), s(static_cast<cudaStream_t>(c.stream)), blas(nullptr), guard(c.device) {
    kernels::refuse_capture(c.stream, name, why);
    blas = context_blas(c);
    // f32 math: the default mode (not CUBLAS_TF32_TENSOR_OP_MATH), set here in case a caller changed
    // the shared handle's mode.
    check_cublas(cublasSetMathMode(blas, CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
  }
  unsigned grid(std::uint64_t n) const { return kernels::grid_for(ctx.device, n); }

  // The view's values as f32 on the device: the view itself for f32 (writable: LSUV scales it in
  // place), else converted into `copy` (its workspace space, reserved with copy_bytes()).
  static std::uint64_t copy_bytes(const TensorView& v) {
    return v.data == nullptr || v.dtype == DType::f32 ? 0 : static_cast<std::uint64_t>(v.numel()) * sizeof(float);
  }
  float* f32_of(const TensorView& v, float* copy) {
    if (v.dtype == DType::f32) return static_cast<float*>(v.data);
    convert_to_f32(v, copy);
    return copy;
  }
  void convert_to_f32(const TensorView& v, float* dst) {
    const auto n = static_cast<std::uint64_t>(v.numel());
    if (n == 0) return;
    for_dtype(v.dtype, [&](auto tag) {
      using In = decltype(tag);
      kernels::launch("to_f32_kernel", to_f32_kernel<In>, grid(n), FillPolicy::kThreads, s, static_cast<const In*>(v.data), dst, n);
    });
  }
  void store_from_f32(const float* src, const TensorView& v) {
    const auto n = static_cast<std::uint64_t>(v.numel());
    if (n == 0) return;
    for_dtype(v.dtype, [&](auto tag) {
      using Out = decltype(tag);
      kernels::launch("from_f32_kernel", from_f32_kernel<Out>, grid(n), FillPolicy::kThreads, s, src, static_cast<Out*>(v.data), n);
    });
  }
  // z (batch, out) = h (batch, in) W^T.
  void forward_gemm(const float* h, const float* w, float* z, std::int64_t batch, std::int64_t in, std::int64_t out) {
    const float one = 1, zero = 0;
    check_cublas(cublasSgemm_64(blas, CUBLAS_OP_T, CUBLAS_OP_N, out, batch, in, &one, w, in, h, in, &zero, z, out),
                 "cublasSgemm_64 (forward)");
  }
  // g_in (batch, in) = dz (batch, out) W.
  void backward_gemm(const float* dz, const float* w, float* g_in, std::int64_t batch, std::int64_t in, std::int64_t out) {
    const float one = 1, zero = 0;
    check_cublas(cublasSgemm_64(blas, CUBLAS_OP_N, CUBLAS_OP_N, in, batch, out, &one, w, in, dz, out, &zero, g_in, in),
                 "cublasSgemm_64 (backward)");
  }
  void forward_rows(const DenseLayer& L, float* z, const float* bias, float* h, std::int64_t batch, std::int64_t cols, RowStats* zs,
                    RowStats* hs) {
    with_activation_code(L.activation, [&](auto a) {
      kernels::launch("forward_rows_kernel", forward_rows_kernel<decltype(a)::value>, static_cast<unsigned>(batch), kRowThreads, s, z,
                      bias, h, cols, static_cast<float>(L.negative_slope), zs, hs);
    });
  }
  void grad_rows(const DenseLayer* below, float* g, const float* z, std::int64_t batch, std::int64_t cols, RowStats* gs) {
    with_activation_code(below != nullptr ? below->activation : Nonlinearity::linear, [&](auto a) {
      kernels::launch("grad_rows_kernel", grad_rows_kernel<decltype(a)::value>, static_cast<unsigned>(batch), kRowThreads, s, g,
                      below != nullptr ? z : nullptr, cols, below != nullptr ? static_cast<float>(below->negative_slope) : 0.0f, gs);
    });
  }
  std::vector<RowStats> to_host(const RowStats* d, std::uint64_t count) {
    std::vector<RowStats> h(count);
    DeviceGuard::check(cudaMemcpyAsync(h.data(), d, count * sizeof(RowStats), cudaMemcpyDeviceToHost, s), "cudaMemcpyAsync");
    DeviceGuard::check(cudaStreamSynchronize(s), "cudaStreamSynchronize");
    return h;
  }
};

std::uint64_t max_width(const StackShape& sh) {
  std::int64_t w = sh.width0;
  for (std::int64_t o : sh.out) w = std::max(w, o);
  return static_cast<std::uint64_t>(w);
}

}  // namespace

std::vector<LayerStatistics> cuda_layer_statistics(Context& c, const std::vector<DenseLayer>& layers, const TensorView& x,
                                                   const StatisticsOptions& opt, const StackShape& sh) {
  Run run(detail::impl(c), "paraminit::layer_statistics", "synchronizes its stream (the statistics come back to the host)");
  const std::size_t L = layers.size();
  const auto batch = static_cast<std::uint64_t>(sh.batch);
  const std::uint64_t wmax = max_width(sh);
  // The workspace: f32 copies of non-f32 views, every layer's pre-activations (kept for the
  // backward pass), two activation buffers, and the row statistics of every layer:
  // [pre-activation | activation | gradient] x L x batch.
  Workspace ws;
  const std::size_t x_off = ws.reserve(Run::copy_bytes(x));
  std::vector<std::size_t> w_off(L), b_off(L), z_off(L);
  for (std::size_t l = 0; l < L; ++l) {
    w_off[l] = ws.reserve(Run::copy_bytes(layers[l].weight));
    b_off[l] = ws.reserve(Run::copy_bytes(layers[l].bias));
    z_off[l] = ws.reserve(batch * static_cast<std::uint64_t>(sh.out[l]) * sizeof(float));
  }
  const std::size_t h0_off = ws.reserve(batch * wmax * sizeof(float)), h1_off = ws.reserve(batch * wmax * sizeof(float));
  const std::size_t stats_off = ws.reserve(3 * L * batch * sizeof(RowStats));
  ws.bind(run.ctx);
  const float* x32 = run.f32_of(x, ws.at<float>(x_off));
  std::vector<const float*> w(L), b(L, nullptr);
  std::vector<float*> z(L);
  for (std::size_t l = 0; l < L; ++l) {
    w[l] = run.f32_of(layers[l].weight, ws.at<float>(w_off[l]));
    if (layers[l].bias.data != nullptr) b[l] = run.f32_of(layers[l].bias, ws.at<float>(b_off[l]));
    z[l] = ws.at<float>(z_off[l]);
  }
  float* const h0 = ws.at<float>(h0_off);
  float* const h1 = ws.at<float>(h1_off);
  RowStats* zs = ws.at<RowStats>(stats_off);
  RowStats* hs = zs + L * batch;
  RowStats* gs = hs + L * batch;

  const float* h = x32;
  float* next = h0;
  for (std::size_t l = 0; l < L; ++l) {
    run.forward_gemm(h, w[l], z[l], sh.batch, sh.in[l], sh.out[l]);
    run.forward_rows(layers[l], z[l], b[l], next, sh.batch, sh.out[l], zs + l * batch, hs + l * batch);
    h = next;
    next = next == h0 ? h1 : h0;
  }
  // A N(0, 1) gradient of the last layer's output, the library's own draw (the CPU's bits), then
  // g := g f'(z) of the top layer; per layer g_in = g W, its statistics and f'(z) of the layer below.
  float* g = h0;
  float* g_in = h1;
  normal(c, TensorView::of(g, DType::f32, {sh.batch, sh.out[L - 1]}), opt.gradient_key, {0.0, 1.0});
  run.grad_rows(&layers[L - 1], g, z[L - 1], sh.batch, sh.out[L - 1], nullptr);
  for (std::size_t l = L; l-- > 0;) {
    run.backward_gemm(g, w[l], g_in, sh.batch, sh.in[l], sh.out[l]);
    run.grad_rows(l > 0 ? &layers[l - 1] : nullptr, g_in, l > 0 ? z[l - 1] : nullptr, sh.batch, sh.in[l], gs + l * batch);
    std::swap(g, g_in);
  }
  const std::vector<RowStats> all = run.to_host(zs, 3 * L * batch);
  std::vector<LayerStatistics> out(L);
  auto rows = [&](std::size_t part, std::size_t l) {
    const auto* p = all.data() + (part * L + l) * batch;
    return std::vector<RowStats>(p, p + batch);
  };
  for (std::size_t l = 0; l < L; ++l) {  // the CPU's order of checks: forward, then backward
    out[l].pre_activation = summarize_rows(rows(0, l), sh.out[l]);
    out[l].activation = summarize_rows(rows(1, l), sh.out[l]);
    if (opt.check_finite) require_finite_summary(out[l].pre_activation, run.fn, l, "pre-activation");
  }
  for (std::size_t l = L; l-- > 0;) {
    out[l].gradient = summarize_rows(rows(2, l), sh.in[l]);
    if (opt.check_finite) require_finite_summary(out[l].gradient, run.fn, l, "gradient");
  }
  return out;
}

std::vector<LsuvLayerReport> cuda_calibrate_lsuv(Context& c, const std::vector<DenseLayer>& layers, const TensorView& x,
                                                 const LsuvOptions& opt, const StackShape& sh) {
  Run run(detail::impl(c), "paraminit::calibrate_lsuv", "synchronizes its stream (each measured std comes back to the host)");
  const auto batch = static_cast<std::uint64_t>(sh.batch);
  const std::uint64_t wmax = max_width(sh);
  // The workspace: two activation buffers, one of pre-activations, one layer's row statistics, and
  // room for the largest layer's f32 copies of a non-f32 weight and bias.
  std::uint64_t wcopy = 0, bcopy = 0;
  for (const DenseLayer& Ly : layers)
    wcopy = std::max(wcopy, Run::copy_bytes(Ly.weight)), bcopy = std::max(bcopy, Run::copy_bytes(Ly.bias));
  Workspace ws;
  const std::size_t h0_off = ws.reserve(batch * wmax * sizeof(float)), h1_off = ws.reserve(batch * wmax * sizeof(float));
  const std::size_t z_off = ws.reserve(batch * wmax * sizeof(float)), zs_off = ws.reserve(batch * sizeof(RowStats));
  const std::size_t w_off = ws.reserve(wcopy), b_off = ws.reserve(bcopy);
  ws.bind(run.ctx);
  float* h = ws.at<float>(h0_off);
  float* next = ws.at<float>(h1_off);
  float* const zbuf = ws.at<float>(z_off);
  RowStats* const zstats = ws.at<RowStats>(zs_off);
  run.convert_to_f32(x, h);  // a copy also for f32: h is overwritten layer by layer
  std::vector<LsuvLayerReport> rep(layers.size());
  for (std::size_t l = 0; l < layers.size(); ++l) {
    const DenseLayer& Ly = layers[l];
    if (opt.orthogonalize_first) orthogonal(c, Ly.weight, Key{opt.key.seed, batch_stream(opt.key.stream, l)});
    // f32 weights are scaled in place; others in an f32 copy, stored back rounded and measured again.
    const bool in_place = Ly.weight.dtype == DType::f32;
    const auto wn = static_cast<std::uint64_t>(sh.in[l] * sh.out[l]);
    float* w = run.f32_of(Ly.weight, ws.at<float>(w_off));
    const float* bias = Ly.bias.data != nullptr ? run.f32_of(Ly.bias, ws.at<float>(b_off)) : nullptr;
    const std::int64_t cols = sh.out[l];
    auto measure = [&] {
      run.forward_gemm(h, w, zbuf, sh.batch, sh.in[l], cols);
      run.forward_rows(Ly, zbuf, bias, next, sh.batch, cols, zstats, nullptr);
      const double s = summarize_rows(run.to_host(zstats, batch), cols).std;
      require_rescalable(s, run.fn, l);
      return s;
    };
    double s = measure();
    rep[l].std_before = s;
    int it = 0;
    while (std::fabs(s - opt.target_std) >= opt.tolerance && it < opt.max_iterations) {
      kernels::launch("scale_kernel", scale_kernel, run.grid(wn), FillPolicy::kThreads, run.s, w, wn, static_cast<float>(opt.target_std / s));
      s = measure();
      ++it;
    }
    if (!in_place && it > 0) {
      run.store_from_f32(w, Ly.weight);
      run.convert_to_f32(Ly.weight, w);  // as stored (rounded to its dtype)
      s = measure();
    }
    rep[l].std_after = s;
    rep[l].iterations = it;
    rep[l].converged = std::fabs(s - opt.target_std) < opt.tolerance;
    std::swap(h, next);
  }
  return rep;
}

}  // namespace detail
}  // namespace paraminit
