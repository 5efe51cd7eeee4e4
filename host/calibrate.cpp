// Data-driven scale (include/paraminit/calibrate.hpp) on the CPU: the validation, the CPU backend of
// the calibration driver (host/calibrate_driver.hpp: BLAS sgemm in f32 and row passes over the
// context's threads), the public entry points that send a CUDA context to cuda/calibrate.cu, and the
// random-walk gain.
//
// Column-major BLAS sees the row-major (batch, in) h, (out, in) W and (batch, out) z transposed:
// z^T (out x batch) = W (out x in) h^T = sgemm('T', 'N', out, batch, in, W^T as stored (ld in), h^T
// (ld in)); the gradient g_in (batch, in) = dz W, i.e. g_in^T (in x batch) = W^T (in x out) dz^T =
// sgemm('N', 'N', in, batch, out, W^T (ld in), dz^T (ld out)).
#include "paraminit/calibrate.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "../kernels/activation.hpp"
#include "../kernels/dists.hpp"
#include "calibrate_driver.hpp"
#include "calibrate_impl.hpp"
#include "internal.hpp"
#include "params.hpp"

#if defined(PARAMINIT_WITH_LAPACK)
extern "C" void sgemm_(const char* ta, const char* tb, const int* m, const int* n, const int* k, const float* alpha,
                       const float* a, const int* lda, const float* b, const int* ldb, const float* beta, float* c,
                       const int* ldc);
#endif

namespace paraminit {
namespace detail {
namespace {

static_assert(static_cast<int>(Nonlinearity::linear) == kernels::kLinear && static_cast<int>(Nonlinearity::relu) == kernels::kRelu &&
                  static_cast<int>(Nonlinearity::leaky_relu) == kernels::kLeakyRelu && static_cast<int>(Nonlinearity::tanh) == kernels::kTanh &&
                  static_cast<int>(Nonlinearity::sigmoid) == kernels::kSigmoid && static_cast<int>(Nonlinearity::gelu) == kernels::kGelu &&
                  static_cast<int>(Nonlinearity::silu) == kernels::kSilu,
              "kernels/activation.hpp's codes are paraminit::Nonlinearity's values");
float act(Nonlinearity a, float x, float slope) { return kernels::activation(static_cast<int>(a), x, slope); }
float act_grad(Nonlinearity a, float x, float slope) { return kernels::activation_grad(static_cast<int>(a), x, slope); }

// Partial sums of one block of rows.
struct Acc {
  double sum = 0, sq = 0, lo = INFINITY, hi = -INFINITY, logrms = 0;
  // One row: 8 independent lanes (a loop GCC vectorizes without reassociating anything); sums in
  // double so that tiny activations (1e-30 deep in a vanishing network) keep their squares.
  void row(const float* v, std::int64_t cols) {
    constexpr int W = 8;
    double ls[W] = {}, lq[W] = {};
    float lmin[W], lmax[W];
    for (int k = 0; k < W; ++k) lmin[k] = INFINITY, lmax[k] = -INFINITY;
    std::int64_t c = 0;
    for (; c + W <= cols; c += W)
      for (int k = 0; k < W; ++k) {
        const float x = v[c + k];
        const double xd = x;
        ls[k] += xd;
        lq[k] += xd * xd;
        lmin[k] = x < lmin[k] ? x : lmin[k];
        lmax[k] = x > lmax[k] ? x : lmax[k];
      }
    double rs = 0, rq = 0;
    for (int k = 0; k < W; ++k) {
      rs += ls[k], rq += lq[k];
      lo = std::min(lo, static_cast<double>(lmin[k]));
      hi = std::max(hi, static_cast<double>(lmax[k]));
    }
    for (; c < cols; ++c) {
      const double x = v[c];
      rs += x, rq += x * x;
      lo = std::min(lo, x), hi = std::max(hi, x);
    }
    sum += rs;
    sq += rq;
    logrms += 0.5 * std::log(rq / static_cast<double>(cols));
  }
  void merge(const Acc& o) {
    sum += o.sum, sq += o.sq, logrms += o.logrms;
    lo = std::min(lo, o.lo), hi = std::max(hi, o.hi);
  }
  Summary summary(std::int64_t rows, std::int64_t cols) const {
    Summary s;
    const double n = static_cast<double>(rows) * static_cast<double>(cols);
    s.mean = sum / n;
    s.std = std::sqrt(std::max(0.0, sq / n - s.mean * s.mean));
    s.min = lo;
    s.max = hi;
    s.log_rms = logrms / static_cast<double>(rows);
    return s;
  }
};

// fn(row) for every row of a (rows, cols) array over the context's threads, in blocks of rows;
// each block's accumulators are merged in block order (deterministic).
template <int K, class F>
std::array<Acc, K> for_rows(ThreadPool& pool, std::int64_t rows, F fn) {
  constexpr std::int64_t kBlock = 16;
  const std::int64_t blocks = (rows + kBlock - 1) / kBlock;
  std::vector<std::array<Acc, K>> part(static_cast<std::size_t>(blocks));
  pool.run(blocks, [&](std::int64_t b) {
    for (std::int64_t r = b * kBlock; r < std::min(rows, (b + 1) * kBlock); ++r) fn(r, part[static_cast<std::size_t>(b)]);
  });
  std::array<Acc, K> all{};
  for (const auto& p : part)
    for (int k = 0; k < K; ++k) all[static_cast<std::size_t>(k)].merge(p[static_cast<std::size_t>(k)]);
  return all;
}

// C (m x n, column-major, ld m) = op(A) B (k x n, ld k), f32, with A (op "N": m x k, "T": k x m)
// column-major with leading dimension lda. check_stack kept every dimension within int.
void sgemm(const char* op, std::int64_t m, std::int64_t n, std::int64_t k, const float* a, std::int64_t lda, const float* b, float* c) {
#if defined(PARAMINIT_WITH_LAPACK)
  const int mi = static_cast<int>(m), ni = static_cast<int>(n), ki = static_cast<int>(k), ldai = static_cast<int>(lda);
  const float one = 1, zero = 0;
  sgemm_(op, "N", &mi, &ni, &ki, &one, a, &ldai, b, &ki, &zero, c, &mi);
#else
  (void)op, (void)m, (void)n, (void)k, (void)a, (void)lda, (void)b, (void)c;  // unreachable: require_blas refused the call
#endif
}

// The CPU backend of host/calibrate_driver.hpp: host memory, BLAS sgemm, and row passes over the
// context's threads that keep each slot's statistics as a Summary at once (blocks of 16 rows,
// merged in block order).
class CpuCalibration {
 public:
  explicit CpuCalibration(ContextImpl& ctx) : pool_(*ctx.pool) {}

  // Grow-only and kept per calling thread across calls: repeated calls (LSUV loops, depth sweeps) do
  // not pay the page faults of fresh allocations, and two threads calibrating at once do not share it.
  void* workspace(std::size_t bytes) {
    thread_local std::vector<std::max_align_t> mem;
    const std::size_t n = (bytes + sizeof(std::max_align_t) - 1) / sizeof(std::max_align_t);
    if (mem.size() < n) mem = std::vector<std::max_align_t>(n);
    return mem.data();
  }
  std::uint64_t stats_bytes(std::size_t, std::int64_t) const { return 0; }  // the Summaries live here
  void bind_stats(void*, std::size_t slots, std::int64_t) { sums_.assign(slots, Summary{}); }

  void to_f32(const TensorView& v, float* dst) {
    const auto n = static_cast<std::uint64_t>(v.numel());
    for_dtype(v.dtype, [&](auto tag) {
      using In = decltype(tag);
      const In* p = static_cast<const In*>(v.data);
      for (std::uint64_t i = 0; i < n; ++i) dst[i] = static_cast<float>(kernels::load(p + i));
    });
  }
  void from_f32(const float* src, const TensorView& v) {
    const auto n = static_cast<std::uint64_t>(v.numel());
    for_dtype(v.dtype, [&](auto tag) {
      using Out = decltype(tag);
      using C = typename kernels::ComputeType<Out>::type;
      Out* p = static_cast<Out*>(v.data);
      for (std::uint64_t i = 0; i < n; ++i) kernels::store(p + i, static_cast<C>(src[i]));
    });
  }

  // z (batch x out) = h (batch x in) W^T: z^T = W h^T.
  void forward_gemm(const float* h, const float* w, float* z, std::int64_t batch, std::int64_t in, std::int64_t out) {
    sgemm("T", out, batch, in, w, in, h, z);
  }
  // g_in (batch x in) = dz (batch x out) W (out x in): g_in^T = W^T dz^T.
  void backward_gemm(const float* dz, const float* w, float* g_in, std::int64_t batch, std::int64_t in, std::int64_t out) {
    sgemm("N", in, batch, out, w, in, dz, g_in);
  }

  void forward_rows(const DenseLayer& L, float* z, const float* bias, float* h, std::int64_t batch, std::int64_t cols, std::size_t zs,
                    std::size_t hs) {
    const float slope = static_cast<float>(L.negative_slope);
    with_activation_code(L.activation, [&](auto a) {
      constexpr int A = decltype(a)::value;
      auto f = [slope](float v) { return kernels::activation(A, v, slope); };
      if (hs == kNoSlot)
        forward_pass<1>(f, z, bias, h, batch, cols, {zs});
      else
        forward_pass<2>(f, z, bias, h, batch, cols, {zs, hs});
    });
  }

  void grad_rows(const DenseLayer* below, float* g, const float* z, std::int64_t batch, std::int64_t cols, std::size_t gs) {
    const float slope = below != nullptr ? static_cast<float>(below->negative_slope) : 0.0f;
    with_activation_code(below != nullptr ? below->activation : Nonlinearity::linear, [&](auto a) {
      constexpr int A = decltype(a)::value;
      auto df = [slope](float v) { return kernels::activation_grad(A, v, slope); };
      const std::array<Acc, 1> acc = for_rows<1>(pool_, batch, [&](std::int64_t r, std::array<Acc, 1>& a1) {
        float* gr = g + r * cols;
        if (gs != kNoSlot) a1[0].row(gr, cols);
        if (z == nullptr) return;
        const float* zr = z + r * cols;
        for (std::int64_t j = 0; j < cols; ++j) gr[j] *= df(zr[j]);
      });
      if (gs != kNoSlot) sums_[gs] = acc[0].summary(batch, cols);
    });
  }

  void scale(float* w, std::uint64_t n, float f) {
    constexpr std::uint64_t kChunk = 65536;
    pool_.run(static_cast<std::int64_t>((n + kChunk - 1) / kChunk), [&](std::int64_t blk) {
      const std::uint64_t lo = static_cast<std::uint64_t>(blk) * kChunk, hi = std::min(n, lo + kChunk);
      for (std::uint64_t i = lo; i < hi; ++i) w[i] *= f;
    });
  }

  std::vector<Summary> summaries(std::size_t first, std::size_t count) const {
    return std::vector<Summary>(sums_.begin() + static_cast<std::ptrdiff_t>(first), sums_.begin() + static_cast<std::ptrdiff_t>(first + count));
  }

 private:
  // z += bias, h = f(z), and the statistics of z (and of h when K = 2) into the slots, in one pass
  // over the rows.
  template <int K, class F>
  void forward_pass(F f, float* z, const float* bias, float* h, std::int64_t batch, std::int64_t cols, std::array<std::size_t, K> slot) {
    const std::array<Acc, K> acc = for_rows<K>(pool_, batch, [&](std::int64_t r, std::array<Acc, K>& a) {
      float* zr = z + r * cols;
      float* hr = h + r * cols;
      if (bias != nullptr)
        for (std::int64_t j = 0; j < cols; ++j) zr[j] = zr[j] + bias[j];
      for (std::int64_t j = 0; j < cols; ++j) hr[j] = f(zr[j]);
      a[0].row(zr, cols);
      if constexpr (K == 2) a[1].row(hr, cols);
    });
    for (int k = 0; k < K; ++k) sums_[slot[static_cast<std::size_t>(k)]] = acc[static_cast<std::size_t>(k)].summary(batch, cols);
  }

  ThreadPool& pool_;
  std::vector<Summary> sums_;
};

void require_blas(const char* fn) {
#if !defined(PARAMINIT_WITH_LAPACK)
  fail(Status::unsupported, where(fn) + "this build has no BLAS (install libopenblas-dev and rebuild)");
#else
  (void)fn;
#endif
}

}  // namespace


// A Nonlinearity the dense-layer stack does not implement: Status::unsupported naming it and where.
void require_calibration_activation(Nonlinearity a, const char* fn, const std::string& at) {
  const int v = static_cast<int>(a);
  if (v < 0 || v > static_cast<int>(Nonlinearity::hardsigmoid))
    fail(Status::invalid_argument, where(fn) + at + "activation = " + std::to_string(v) + " is not a paraminit::Nonlinearity");
  if (!calibration_supports(a))
    fail(Status::unsupported, where(fn) + at + "activation " + to_string(a) +
                                  " is not implemented by the calibration (supported: linear, relu, leaky_relu, tanh, sigmoid, gelu, silu)");
}

StackShape check_stack(const ContextImpl& ctx, const std::vector<DenseLayer>& layers, const TensorView& x, const char* fn) {
  if (layers.empty()) fail(Status::invalid_argument, where(fn) + "no layers");
  const Geometry gx = check_view(ctx, x, fn);
  if (x.rank != 2 || x.window_dim >= 0)
    fail(Status::invalid_argument, where(fn) + "the minibatch must be a whole (batch, features) tensor");
  if (gx.numel == 0) fail(Status::invalid_argument, where(fn) + "the minibatch is empty");
  StackShape c;
  c.batch = x.shape[0];
  c.width0 = x.shape[1];
  std::int64_t prev = c.width0;
  for (std::size_t l = 0; l < layers.size(); ++l) {
    const std::string at = "layer " + std::to_string(l) + ": ";
    const DenseLayer& L = layers[l];
    (void)check_view(ctx, L.weight, fn);
    if (L.weight.rank != 2 || L.weight.window_dim >= 0)
      fail(Status::invalid_argument, where(fn) + at + "the weight must be a whole (out, in) tensor, got rank " + std::to_string(L.weight.rank));
    if (L.weight.shape[1] != prev)
      fail(Status::invalid_argument, where(fn) + at + "the weight has in = " + std::to_string(L.weight.shape[1]) +
                                         " but its input has " + std::to_string(prev) + " features");
    if (L.weight.shape[0] == 0) fail(Status::invalid_argument, where(fn) + at + "the weight has out = 0");
    if (L.bias.data != nullptr) {
      (void)check_view(ctx, L.bias, fn);
      if (L.bias.rank != 1 || L.bias.shape[0] != L.weight.shape[0])
        fail(Status::invalid_argument, where(fn) + at + "the bias must be (" + std::to_string(L.weight.shape[0]) + ",)");
    }
    require_calibration_activation(L.activation, fn, at);
    if (L.weight.shape[0] > INT32_MAX || L.weight.shape[1] > INT32_MAX || c.batch > INT32_MAX)
      fail(Status::unsupported, where(fn) + at + "a dimension beyond BLAS's 32-bit integers");
    c.in.push_back(L.weight.shape[1]);
    c.out.push_back(L.weight.shape[0]);
    prev = L.weight.shape[0];
  }
  return c;
}

void require_finite_summary(const Summary& s, const char* fn, std::size_t l, const char* what) {
  if (!std::isfinite(s.mean) || !std::isfinite(s.std))
    fail(Status::numerical, where(fn) + "layer " + std::to_string(l) + ": the " + what + " statistics are not finite (mean " +
                                fmt_double(s.mean) + ", std " + fmt_double(s.std) + "): the layer overflowed");
}

void require_rescalable(double s, const char* fn, std::size_t l) {
  if (!std::isfinite(s) || !(s > 0))
    fail(Status::numerical, where(fn) + "layer " + std::to_string(l) + ": the pre-activation std is " + fmt_double(s) +
                                (s == 0 ? " (the layer collapsed to a constant)" : "") + ", so it cannot be rescaled");
}

Summary summarize_rows(const std::vector<RowStats>& rows, std::int64_t cols) {
  Acc all;
  for (const RowStats& r : rows) {
    Acc a;
    a.sum = r.sum, a.sq = r.sq, a.lo = r.lo, a.hi = r.hi;
    a.logrms = 0.5 * std::log(r.sq / static_cast<double>(cols));
    all.merge(a);
  }
  return all.summary(static_cast<std::int64_t>(rows.size()), cols);
}

}  // namespace detail

std::vector<LayerStatistics> layer_statistics(Context& c, const std::vector<DenseLayer>& layers, const TensorView& x,
                                              const StatisticsOptions& opt) {
  using namespace detail;
  const char* fn = "paraminit::layer_statistics";
  auto& ctx = detail::impl(c);
  const StackShape ck = check_stack(ctx, layers, x, fn);
#if defined(PARAMINIT_WITH_CUDA)
  if (ctx.cuda) return cuda_layer_statistics(c, layers, x, opt, ck, fn);
#endif
  require_blas(fn);
  CpuCalibration be(ctx);
  return statistics_driver(be, c, layers, x, opt, ck, fn);
}

std::vector<LsuvLayerReport> calibrate_lsuv(Context& c, const std::vector<DenseLayer>& layers, const TensorView& x,
                                            const LsuvOptions& opt) {
  using namespace detail;
  const char* fn = "paraminit::calibrate_lsuv";
  auto& ctx = detail::impl(c);
  const StackShape ck = check_stack(ctx, layers, x, fn);
  if (!std::isfinite(opt.target_std) || !(opt.target_std > 0))
    fail(Status::invalid_argument, where(fn) + "target_std = " + fmt_double(opt.target_std) + " must be finite and > 0");
  if (!std::isfinite(opt.tolerance) || !(opt.tolerance > 0))
    fail(Status::invalid_argument, where(fn) + "tolerance = " + fmt_double(opt.tolerance) + " must be finite and > 0");
  if (opt.max_iterations < 0) fail(Status::invalid_argument, where(fn) + "max_iterations is negative");
#if defined(PARAMINIT_WITH_CUDA)
  if (ctx.cuda) return cuda_calibrate_lsuv(c, layers, x, opt, ck, fn);
#endif
  require_blas(fn);
  CpuCalibration be(ctx);
  return lsuv_driver(be, c, layers, x, opt, ck, fn);
}

// ---- the random-walk gain ---------------------------------------------------------------------------

namespace detail {
namespace {

double digamma(double x) {
  double r = 0;
  while (x < 6) r -= 1 / x, x += 1;
  const double f = 1 / (x * x);
  return r + std::log(x) - 0.5 / x - f * (1.0 / 12 - f * (1.0 / 120 - f * (1.0 / 252 - f * (1.0 / 240 - f / 132))));
}

// E_k[psi(k/2)], k ~ Binomial(N, 1/2) conditioned on k >= 1.
double binomial_digamma(std::int64_t n) {
  double acc = 0, mass = 0;
  const double ln_half_n = static_cast<double>(n) * std::log(0.5);
  for (std::int64_t k = 1; k <= n; ++k) {
    const double lp = std::lgamma(static_cast<double>(n) + 1) - std::lgamma(static_cast<double>(k) + 1) -
                      std::lgamma(static_cast<double>(n - k) + 1) + ln_half_n;
    if (lp < -60) continue;
    const double p = std::exp(lp);
    acc += p * digamma(0.5 * static_cast<double>(k));
    mass += p;
  }
  return acc / mass;
}

}  // namespace
}  // namespace detail

bool calibration_supports(Nonlinearity nl) noexcept {
  switch (nl) {
    case Nonlinearity::linear: case Nonlinearity::relu: case Nonlinearity::leaky_relu: case Nonlinearity::tanh:
    case Nonlinearity::sigmoid: case Nonlinearity::gelu: case Nonlinearity::silu:
      return true;
    default:
      return false;
  }
}

double random_walk_gain(Nonlinearity a, std::int64_t width, double slope) {
  using namespace detail;
  const char* fn = "paraminit::random_walk_gain";
  if (width < 2) fail(Status::invalid_argument, where(fn) + "width = " + std::to_string(width) + " must be >= 2");
  require_finite(fn, "negative_slope", slope);
  require_calibration_activation(a, fn, "");
  const double N = static_cast<double>(width);
  const double chi = digamma(N / 2) + std::log(2 / N);  // E ln(chi2_N / N)
  if (a == Nonlinearity::linear) return std::sqrt(N / (2 * std::exp(digamma(N / 2))));
  if (a == Nonlinearity::relu) return std::sqrt(N / (2 * std::exp(binomial_digamma(width))));
  // Monte Carlo with fixed draws (deterministic): M samples of N pre-activations and N sphere weights.
  const std::int64_t M = std::max<std::int64_t>(64, std::min<std::int64_t>(4096, (std::int64_t{1} << 20) / width));
  // The draws are the library's own f64 normal() with Key{kRandomWalkSeed, 0 | 1 | 2} (include/
  // paraminit/calibrate.hpp), not std::normal_distribution, whose algorithm each standard library
  // chooses: the gain is then the same value everywhere. One worker: ~2 M values, a few ms.
  constexpr std::uint64_t kRandomWalkSeed = 0x5eed5eed;
  std::vector<double> xi(static_cast<std::size_t>(M * width)), eta(xi.size()), fq(1 << 14);
  {
    Context one = Context::cpu(1);
    std::uint64_t stream = 0;
    for (std::vector<double>* v : {&xi, &eta, &fq})
      normal(one, TensorView::of(v->data(), DType::f64, {static_cast<std::int64_t>(v->size())}), Key{kRandomWalkSeed, stream++}, {0.0, 1.0});
  }
  const float fs = static_cast<float>(slope);
  // Mean-field fixed point of q = g^2 E[f(sqrt(q) z)^2] (from q = 1; 0 when it collapses).
  // Piecewise-linear activations have scale-free derivatives: no fixed point needed.
  const bool scale_free = a == Nonlinearity::leaky_relu;
  auto fixed_q = [&](double g) {
    double q = 1;
    if (scale_free) return q;
    for (int it = 0; it < 100; ++it) {
      double m = 0;
      for (double z : fq) {
        const double f = act(a, static_cast<float>(std::sqrt(q) * z), fs);
        m += f * f;
      }
      const double nq = g * g * m / static_cast<double>(fq.size());
      if (std::fabs(nq - q) <= 1e-12 * std::max(1.0, q)) return nq;
      q = nq;
    }
    return q;
  };
  auto mean_log_z = [&](double g) {
    const double sq = std::sqrt(std::max(fixed_q(g), 1e-12));  // a collapsing q: the derivatives at 0
    double acc = 0;
    for (std::int64_t s = 0; s < M; ++s) {
      double num = 0, den = 0;
      for (std::int64_t i = 0; i < width; ++i) {
        const std::size_t k = static_cast<std::size_t>(s * width + i);
        const double d = act_grad(a, static_cast<float>(sq * xi[k]), fs), e2 = eta[k] * eta[k];
        num += d * d * e2;
        den += e2;
      }
      acc += std::log(num / den);
    }
    return std::log(g * g) + acc / static_cast<double>(M) + chi;
  };
  const std::string what = std::string("activation ") + to_string(a) + ", width " + std::to_string(width) +
                           (scale_free ? ", negative_slope " + fmt_double(slope) : std::string());
  auto checked = [&](double g) {
    const double e = mean_log_z(g);
    if (!std::isfinite(e))
      fail(Status::numerical, where(fn) + "E[ln Z] is " + fmt_double(e) + " at gain " + fmt_double(g) + " (" + what + ")" +
                                  (e < 0 ? ": some draws have no unit with a non-zero derivative" : ""));
    return e;
  };
  // Scale-free: E[ln Z] = ln g^2 + E[ln Z](1) exactly (same draws, same D), so the root is closed-form.
  // (Slopes far from 1 put it far from 1: slope 5 gives 0.28, outside any fixed bracket.)
  if (scale_free) return std::exp(-0.5 * checked(1.0));
  // A root is proved by a sign change: from g = 1, double (or halve) until E[ln Z] changes sign, over
  // gains in [2^-kMaxDoublings, 2^kMaxDoublings]; then bisect, keeping E(lo) < 0 <= E(hi). E[ln Z] is
  // continuous in g (through q) but not shown to be monotone, so a failed search is an error, not an
  // edge of the interval (sigmoid, with f' <= 1/4, has its root near 10).
  constexpr int kMaxDoublings = 30;
  double lo = 1, hi = 1;
  if (checked(1.0) < 0) {
    for (int k = 0;; ++k) {
      if (k == kMaxDoublings)
        fail(Status::numerical, where(fn) + "E[ln Z] < 0 for every gain in [1, 2^" + std::to_string(kMaxDoublings) + "] (" + what +
                                    "): no gain makes ln |delta| an unbiased random walk");
      lo = hi;
      hi = 2 * lo;
      if (checked(hi) >= 0) break;
    }
  } else {
    for (int k = 0;; ++k) {
      if (k == kMaxDoublings)
        fail(Status::numerical, where(fn) + "E[ln Z] >= 0 for every gain in [2^-" + std::to_string(kMaxDoublings) + ", 1] (" + what +
                                    "): no gain makes ln |delta| an unbiased random walk");
      hi = lo;
      lo = 0.5 * hi;
      if (checked(lo) < 0) break;
    }
  }
  // hi = 2 lo: 48 halvings leave a relative width of 2^-48 (~4e-15).
  for (int it = 0; it < 48; ++it) {
    const double mid = 0.5 * (lo + hi);
    (checked(mid) < 0 ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

}  // namespace paraminit
