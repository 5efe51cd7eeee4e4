// The calibration's one driver (include/paraminit/calibrate.hpp), as the orthogonal family's run_job
// (host/orthogonal.hpp): layer_statistics' forward and backward passes and LSUV's measure-and-rescale
// loop are written here once, over a backend that provides the primitives: BLAS sgemm and the CPU's
// threads (host/calibrate.cpp, CpuCalibration), cuBLAS sgemm and row kernels on the context's stream
// (cuda/calibrate.cu, CudaCalibration). Validation (check_stack and LSUV's options) happens before
// either runs, in host/calibrate.cpp.
//
// Layouts (row-major, the storage of every view): h (batch, in), W (out, in), z (batch, out), and
// every buffer below likewise. Both backends multiply in f32: z = h W^T forward, g_in = g W backward.
//
// The backend (a template parameter, no virtual calls):
//   void* workspace(std::size_t bytes)             at least `bytes`, 256-byte aligned offsets inside
//                                                  it are the driver's (grow-only, the backend's memory)
//   std::uint64_t stats_bytes(std::size_t slots, std::int64_t rows)
//                                                  workspace room for `slots` statistics slots of
//                                                  `rows` rows (0 where the backend keeps them itself)
//   void bind_stats(void* p, std::size_t slots, std::int64_t rows)
//   void to_f32(const TensorView& v, float* dst)    dst[i] = v[i] as f32 (kernels::load)
//   void from_f32(const float* src, const TensorView& v)    v[i] = src[i] rounded (kernels::store)
//   void forward_gemm(h, w, z, batch, in, out)      z (batch, out) = h (batch, in) W^T
//   void backward_gemm(dz, w, g_in, batch, in, out) g_in (batch, in) = dz (batch, out) W
//   void forward_rows(layer, z, bias, h, batch, cols, zs, hs)
//                                                  z += bias (if not null), h = f(z); the statistics of
//                                                  z into slot zs and of h into slot hs (or kNoSlot)
//   void grad_rows(below, g, z, batch, cols, gs)   the statistics of g into slot gs (or kNoSlot), then
//                                                  g *= f'(z) of the layer `below` (if not null)
//   void scale(float* w, std::uint64_t n, float f) w[i] *= f
//   std::vector<Summary> summaries(first, count)   the Summaries of slots [first, first + count) (CUDA:
//                                                  copies them back and synchronizes the stream)
// Each backend reduces its slots in its own fixed order (deterministic for a given backend, not the
// same bits on both: the GEMMs differ anyway).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../kernels/activation.hpp"
#include "calibrate_impl.hpp"

namespace paraminit {
namespace detail {

// A statistics slot that is not wanted.
constexpr std::size_t kNoSlot = std::numeric_limits<std::size_t>::max();

// f(std::integral_constant<int, a>) for the activation code a: a compile-time constant, so that the
// row loops of both backends have no switch inside. Only the activations of calibration_supports:
// check_stack refused the others.
template <class F>
void with_activation_code(Nonlinearity a, F&& f) {
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

// Sub-buffers of one workspace: reserve() every size first (256-byte aligned offsets), then bind()
// the backend's memory once and take pointers.
class CalibrationWorkspace {
 public:
  std::size_t reserve(std::uint64_t bytes) {
    const std::size_t off = total_;
    total_ += static_cast<std::size_t>((bytes + 255) / 256 * 256);
    return off;
  }
  std::size_t total() const { return total_ > 0 ? total_ : 256; }
  void bind(void* base) { base_ = static_cast<unsigned char*>(base); }
  template <class T>
  T* at(std::size_t off) const {
    return reinterpret_cast<T*>(base_ + off);
  }

 private:
  std::size_t total_ = 0;
  unsigned char* base_ = nullptr;
};

// The room an f32 copy of v needs: none for f32 views (used as they are) and for absent biases.
inline std::uint64_t f32_copy_bytes(const TensorView& v) {
  return v.data == nullptr || v.dtype == DType::f32 ? 0 : static_cast<std::uint64_t>(v.numel()) * sizeof(float);
}

// v's values as f32: the view itself for f32 (writable: LSUV scales it in place), else converted
// into `copy` (f32_copy_bytes(v) of room).
template <class Backend>
float* f32_of(Backend& be, const TensorView& v, float* copy) {
  if (v.dtype == DType::f32) return static_cast<float*>(v.data);
  be.to_f32(v, copy);
  return copy;
}

inline std::uint64_t max_width(const StackShape& sh) {
  std::int64_t w = sh.width0;
  for (std::int64_t o : sh.out) w = std::max(w, o);
  return static_cast<std::uint64_t>(w);
}

// layer_statistics on a checked stack.
template <class Backend>
std::vector<LayerStatistics> statistics_driver(Backend& be, Context& c, const std::vector<DenseLayer>& layers, const TensorView& x,
                                               const StatisticsOptions& opt, const StackShape& sh, const char* fn) {
  const std::size_t L = layers.size();
  const auto batch = static_cast<std::uint64_t>(sh.batch);
  const std::uint64_t wmax = max_width(sh);
  // The workspace: f32 copies of non-f32 views, every layer's pre-activations (kept for the
  // backward pass), two activation buffers (the gradient's, backward), and the statistics slots:
  // [pre-activation | activation | gradient] x L.
  CalibrationWorkspace ws;
  const std::size_t x_off = ws.reserve(f32_copy_bytes(x));
  std::vector<std::size_t> w_off(L), b_off(L), z_off(L);
  for (std::size_t l = 0; l < L; ++l) {
    w_off[l] = ws.reserve(f32_copy_bytes(layers[l].weight));
    b_off[l] = ws.reserve(f32_copy_bytes(layers[l].bias));
    z_off[l] = ws.reserve(batch * static_cast<std::uint64_t>(sh.out[l]) * sizeof(float));
  }
  const std::size_t h0_off = ws.reserve(batch * wmax * sizeof(float)), h1_off = ws.reserve(batch * wmax * sizeof(float));
  const std::size_t stats_off = ws.reserve(be.stats_bytes(3 * L, sh.batch));
  ws.bind(be.workspace(ws.total()));
  be.bind_stats(ws.at<void>(stats_off), 3 * L, sh.batch);
  const float* h = f32_of(be, x, ws.at<float>(x_off));
  std::vector<const float*> w(L), b(L, nullptr);
  std::vector<float*> z(L);
  for (std::size_t l = 0; l < L; ++l) {
    w[l] = f32_of(be, layers[l].weight, ws.at<float>(w_off[l]));
    if (layers[l].bias.data != nullptr) b[l] = f32_of(be, layers[l].bias, ws.at<float>(b_off[l]));
    z[l] = ws.at<float>(z_off[l]);
  }
  float* const h0 = ws.at<float>(h0_off);
  float* const h1 = ws.at<float>(h1_off);

  float* next = h0;
  for (std::size_t l = 0; l < L; ++l) {
    be.forward_gemm(h, w[l], z[l], sh.batch, sh.in[l], sh.out[l]);
    be.forward_rows(layers[l], z[l], b[l], next, sh.batch, sh.out[l], l, L + l);
    h = next;
    next = next == h0 ? h1 : h0;
  }
  // A N(0, 1) gradient of the last layer's output, the library's own draw (the same bits on every
  // backend), then g := g f'(z) of the top layer; per layer g_in = g W, its statistics and f'(z) of
  // the layer below.
  float* g = h0;
  float* g_in = h1;
  normal(c, TensorView::of(g, DType::f32, {sh.batch, sh.out[L - 1]}), opt.gradient_key, {0.0, 1.0});
  be.grad_rows(&layers[L - 1], g, z[L - 1], sh.batch, sh.out[L - 1], kNoSlot);
  for (std::size_t l = L; l-- > 0;) {
    be.backward_gemm(g, w[l], g_in, sh.batch, sh.in[l], sh.out[l]);
    be.grad_rows(l > 0 ? &layers[l - 1] : nullptr, g_in, l > 0 ? z[l - 1] : nullptr, sh.batch, sh.in[l], 2 * L + l);
    std::swap(g, g_in);
  }
  // The checks in the order of the passes (forward, then backward): the first layer that overflowed
  // is the one named.
  const std::vector<Summary> all = be.summaries(0, 3 * L);
  std::vector<LayerStatistics> out(L);
  for (std::size_t l = 0; l < L; ++l) {
    out[l].pre_activation = all[l];
    out[l].activation = all[L + l];
    if (opt.check_finite) require_finite_summary(out[l].pre_activation, fn, l, "pre-activation");
  }
  for (std::size_t l = L; l-- > 0;) {
    out[l].gradient = all[2 * L + l];
    if (opt.check_finite) require_finite_summary(out[l].gradient, fn, l, "gradient");
  }
  return out;
}

// calibrate_lsuv on a checked stack with checked options.
template <class Backend>
std::vector<LsuvLayerReport> lsuv_driver(Backend& be, Context& c, const std::vector<DenseLayer>& layers, const TensorView& x,
                                         const LsuvOptions& opt, const StackShape& sh, const char* fn) {
  const auto batch = static_cast<std::uint64_t>(sh.batch);
  const std::uint64_t wmax = max_width(sh);
  // The workspace: two activation buffers, one of pre-activations, one statistics slot, and room
  // for the largest layer's f32 copies of a non-f32 weight and bias.
  std::uint64_t wcopy = 0, bcopy = 0;
  for (const DenseLayer& Ly : layers) wcopy = std::max(wcopy, f32_copy_bytes(Ly.weight)), bcopy = std::max(bcopy, f32_copy_bytes(Ly.bias));
  CalibrationWorkspace ws;
  const std::size_t h0_off = ws.reserve(batch * wmax * sizeof(float)), h1_off = ws.reserve(batch * wmax * sizeof(float));
  const std::size_t z_off = ws.reserve(batch * wmax * sizeof(float)), stats_off = ws.reserve(be.stats_bytes(1, sh.batch));
  const std::size_t w_off = ws.reserve(wcopy), b_off = ws.reserve(bcopy);
  ws.bind(be.workspace(ws.total()));
  be.bind_stats(ws.at<void>(stats_off), 1, sh.batch);
  float* h = ws.at<float>(h0_off);
  float* next = ws.at<float>(h1_off);
  float* const zbuf = ws.at<float>(z_off);
  be.to_f32(x, h);  // a copy also for f32: h is overwritten layer by layer
  std::vector<LsuvLayerReport> rep(layers.size());
  for (std::size_t l = 0; l < layers.size(); ++l) {
    const DenseLayer& Ly = layers[l];
    if (opt.orthogonalize_first) orthogonal(c, Ly.weight, Key{opt.key.seed, batch_stream(opt.key.stream, l)});
    // f32 weights are scaled in place (exact in their own dtype); others in an f32 copy, stored back
    // rounded and measured again as stored.
    const bool in_place = Ly.weight.dtype == DType::f32;
    const auto wn = static_cast<std::uint64_t>(sh.in[l]) * static_cast<std::uint64_t>(sh.out[l]);
    float* w = f32_of(be, Ly.weight, ws.at<float>(w_off));
    const float* bias = Ly.bias.data != nullptr ? f32_of(be, Ly.bias, ws.at<float>(b_off)) : nullptr;
    const std::int64_t cols = sh.out[l];
    // One pass per measurement: the std of z, and next = f(z) (kept if this measurement is the last).
    auto measure = [&] {
      be.forward_gemm(h, w, zbuf, sh.batch, sh.in[l], cols);
      be.forward_rows(Ly, zbuf, bias, next, sh.batch, cols, 0, kNoSlot);
      const double s = be.summaries(0, 1)[0].std;
      require_rescalable(s, fn, l);
      return s;
    };
    double s = measure();
    rep[l].std_before = s;
    int it = 0;
    while (std::fabs(s - opt.target_std) >= opt.tolerance && it < opt.max_iterations) {
      be.scale(w, wn, static_cast<float>(opt.target_std / s));
      s = measure();
      ++it;
    }
    if (!in_place && it > 0) {
      be.from_f32(w, Ly.weight);
      be.to_f32(Ly.weight, w);  // as stored (rounded to its dtype)
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
