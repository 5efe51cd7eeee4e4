// Data-driven scale (include/paraminit/calibrate.hpp): forward and backward of a dense-layer stack on
// a minibatch with BLAS sgemm in f32, LSUV, and the random-walk gain.
//
// Layouts (row-major, the storage of every view): h (batch, in), W (out, in), z (batch, out).
// Column-major BLAS sees them transposed: z^T (out x batch) = W (out x in) h^T = sgemm('T', 'N', out,
// batch, in, W^T as stored (ld in), h^T (ld in)); the gradient g_in (batch, in) = dz W, i.e.
// g_in^T (in x batch) = W^T (in x out) dz^T = sgemm('N', 'N', in, batch, out, W^T (ld in), dz^T (ld out)).
#include "paraminit/calibrate.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "../kernels/activation.hpp"
#include "../kernels/dists.hpp"
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

using Mat = std::vector<float>;

// z (batch x out) = h (batch x in) W^T (+ b).
void forward_gemm(const Mat& h, const float* w, const Mat* b, std::int64_t batch, std::int64_t in, std::int64_t out, Mat& z) {
  z.resize(static_cast<std::size_t>(batch * out));
#if defined(PARAMINIT_WITH_LAPACK)
  const int m = static_cast<int>(out), n = static_cast<int>(batch), k = static_cast<int>(in);
  const float one = 1, zero = 0;
  sgemm_("T", "N", &m, &n, &k, &one, w, &k, h.data(), &k, &zero, z.data(), &m);
#else
  (void)h, (void)w, (void)in;
#endif
  if (b != nullptr)
    for (std::int64_t r = 0; r < batch; ++r)
      for (std::int64_t c = 0; c < out; ++c) z[static_cast<std::size_t>(r * out + c)] += (*b)[static_cast<std::size_t>(c)];
}

// g_in (batch x in) = dz (batch x out) W (out x in).
void backward_gemm(const Mat& dz, const float* w, std::int64_t batch, std::int64_t in, std::int64_t out, Mat& g_in) {
  g_in.resize(static_cast<std::size_t>(batch * in));
#if defined(PARAMINIT_WITH_LAPACK)
  const int m = static_cast<int>(in), n = static_cast<int>(batch), k = static_cast<int>(out);
  const float one = 1, zero = 0;
  sgemm_("N", "N", &m, &n, &k, &one, w, &m, dz.data(), &k, &zero, g_in.data(), &m);
#else
  (void)dz, (void)w, (void)out;
#endif
}

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

// Calls f(act_fn, grad_fn) with the activation's functions as lambdas of a fixed activation, so that
// the element loops have no switch inside (they vectorize for relu and identity).
template <class F>
void with_activation(Nonlinearity a, float slope, F f) {
  switch (a) {
    case Nonlinearity::linear: return f([](float x) { return x; }, [](float) { return 1.0f; });
    case Nonlinearity::relu: return f([](float x) { return x > 0 ? x : 0.0f; }, [](float x) { return x > 0 ? 1.0f : 0.0f; });
    case Nonlinearity::leaky_relu:
      return f([slope](float x) { return x > 0 ? x : slope * x; }, [slope](float x) { return x > 0 ? 1.0f : slope; });
    default:
      return f([a, slope](float x) { return act(a, x, slope); }, [a, slope](float x) { return act_grad(a, x, slope); });
  }
}


// A host view's values as f32 (any dtype), and back (rounded like constant()).
Mat load(const TensorView& t, std::uint64_t n) {
  Mat m(static_cast<std::size_t>(n));
  for_dtype(t.dtype, [&](auto tag) {
    using Out = decltype(tag);
    const Out* p = static_cast<const Out*>(t.data);
    for (std::uint64_t i = 0; i < n; ++i) m[i] = static_cast<float>(kernels::load(p + i));
  });
  return m;
}
void store(const TensorView& t, const Mat& m) {
  for_dtype(t.dtype, [&](auto tag) {
    using Out = decltype(tag);
    using C = typename kernels::ComputeType<Out>::type;
    Out* p = static_cast<Out*>(t.data);
    for (std::size_t i = 0; i < m.size(); ++i) kernels::store(p + i, static_cast<C>(m[i]));
  });
}

// A weight's values as f32: the storage itself for f32 views (no copy), else a converted copy.
struct F32View {
  Mat owned;
  const float* p = nullptr;
  F32View(const TensorView& t, std::uint64_t n) {
    if (t.dtype == DType::f32) {
      p = static_cast<const float*>(t.data);
    } else {
      owned = load(t, n);
      p = owned.data();
    }
  }
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
  if (ctx.cuda) return cuda_layer_statistics(c, layers, x, opt, ck);
#endif
  require_blas(fn);
  const std::size_t L = layers.size();
  ThreadPool& pool = *ctx.pool;
  // Grow-only buffers kept per thread across calls: repeated calls (LSUV loops, depth sweeps) do not
  // pay the page faults of fresh allocations.
  // (Plain references below: the worker threads' lambdas must see this thread's buffers, not their own.)
  thread_local std::vector<Mat> z_tls;
  thread_local Mat h_tls, next_tls, g_tls, g_in_tls;
  if (z_tls.size() < L) z_tls.resize(L);
  std::vector<Mat>& z = z_tls;
  Mat &h = h_tls, &next = next_tls, &g = g_tls, &g_in = g_in_tls;
  std::vector<F32View> w;
  w.reserve(L);
  std::vector<LayerStatistics> out(L);
  h = load(x, static_cast<std::uint64_t>(ck.batch * ck.width0));
  for (std::size_t l = 0; l < L; ++l) {
    w.emplace_back(layers[l].weight, static_cast<std::uint64_t>(ck.in[l] * ck.out[l]));
    Mat b;
    if (layers[l].bias.data != nullptr) b = load(layers[l].bias, static_cast<std::uint64_t>(ck.out[l]));
    forward_gemm(h, w[l].p, layers[l].bias.data != nullptr ? &b : nullptr, ck.batch, ck.in[l], ck.out[l], z[l]);
    // h = f(z) and the statistics of both, in one pass over the rows.
    const float slope = static_cast<float>(layers[l].negative_slope);
    const std::int64_t cols = ck.out[l];
    next.resize(z[l].size());
    std::array<Acc, 2> acc;
    with_activation(layers[l].activation, slope, [&](auto f, auto) {
      acc = for_rows<2>(pool, ck.batch, [&](std::int64_t r, std::array<Acc, 2>& s2) {
        const float* zr = z[l].data() + r * cols;
        float* hr = next.data() + r * cols;
        for (std::int64_t j = 0; j < cols; ++j) hr[j] = f(zr[j]);
        s2[0].row(zr, cols);
        s2[1].row(hr, cols);
      });
    });
    out[l].pre_activation = acc[0].summary(ck.batch, cols);
    out[l].activation = acc[1].summary(ck.batch, cols);
    if (opt.check_finite) require_finite_summary(out[l].pre_activation, fn, l, "pre-activation");
    h.swap(next);
  }
  // Back-propagate a N(0, 1) gradient of the last layer's output.
  g.resize(static_cast<std::size_t>(ck.batch * ck.out[L - 1]));
  const TensorView gv = TensorView::of(g.data(), DType::f32, {ck.batch, ck.out[L - 1]});
  normal(c, gv, opt.gradient_key, {0.0, 1.0});
  // g := g * f'(z) of the top layer; then per layer: g_in = g W, and in one pass over g_in its
  // statistics and the multiplication by f'(z) of the layer below.
  auto times_grad = [&](std::size_t l, std::int64_t r, std::int64_t cols, auto df) {
    float* gr = g.data() + r * cols;
    const float* zr = z[l].data() + r * cols;
    for (std::int64_t j = 0; j < cols; ++j) gr[j] *= df(zr[j]);
  };
  with_activation(layers[L - 1].activation, static_cast<float>(layers[L - 1].negative_slope), [&](auto, auto df) {
    (void)for_rows<1>(pool, ck.batch, [&](std::int64_t r, std::array<Acc, 1>&) { times_grad(L - 1, r, ck.out[L - 1], df); });
  });
  for (std::size_t l = L; l-- > 0;) {
    backward_gemm(g, w[l].p, ck.batch, ck.in[l], ck.out[l], g_in);
    const std::int64_t cols = ck.in[l];
    std::array<Acc, 1> acc;
    if (l > 0) {
      g.swap(g_in);  // g is now this layer's input gradient = the gradient of layer l-1's output
      with_activation(layers[l - 1].activation, static_cast<float>(layers[l - 1].negative_slope), [&](auto, auto df) {
        acc = for_rows<1>(pool, ck.batch, [&](std::int64_t r, std::array<Acc, 1>& a1) {
          a1[0].row(g.data() + r * cols, cols);
          times_grad(l - 1, r, cols, df);
        });
      });
    } else {
      acc = for_rows<1>(pool, ck.batch, [&](std::int64_t r, std::array<Acc, 1>& a1) { a1[0].row(g_in.data() + r * cols, cols); });
    }
    out[l].gradient = acc[0].summary(ck.batch, cols);
    if (opt.check_finite) require_finite_summary(out[l].gradient, fn, l, "gradient");
  }
  return out;
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
  if (ctx.cuda) return cuda_calibrate_lsuv(c, layers, x, opt, ck);
#endif
  require_blas(fn);
  std::vector<LsuvLayerReport> rep(layers.size());
  Mat h = load(x, static_cast<std::uint64_t>(ck.batch * ck.width0)), z, next;
  for (std::size_t l = 0; l < layers.size(); ++l) {
    const DenseLayer& Ly = layers[l];
    if (opt.orthogonalize_first) orthogonal(c, Ly.weight, Key{opt.key.seed, batch_stream(opt.key.stream, l)});
    // f32 weights are scaled in place (exact in their own dtype); others in an f32 copy, stored back
    // rounded and measured again as stored.
    const bool in_place = Ly.weight.dtype == DType::f32;
    const std::uint64_t wn = static_cast<std::uint64_t>(ck.in[l] * ck.out[l]);
    Mat copy, b;
    if (!in_place) copy = load(Ly.weight, wn);
    float* w = in_place ? static_cast<float*>(Ly.weight.data) : copy.data();
    if (Ly.bias.data != nullptr) b = load(Ly.bias, static_cast<std::uint64_t>(ck.out[l]));
    const Mat* bp = Ly.bias.data != nullptr ? &b : nullptr;
    const std::int64_t cols = ck.out[l];
    // One pass per measurement: the std of z, and next = f(z) (kept if this measurement is the last).
    auto measure = [&] {
      forward_gemm(h, w, bp, ck.batch, ck.in[l], cols, z);
      next.resize(z.size());
      std::array<Acc, 1> acc;
      with_activation(Ly.activation, static_cast<float>(Ly.negative_slope), [&](auto f, auto) {
        acc = for_rows<1>(*ctx.pool, ck.batch, [&](std::int64_t r, std::array<Acc, 1>& a1) {
          const float* zr = z.data() + r * cols;
          float* nr = next.data() + r * cols;
          for (std::int64_t j = 0; j < cols; ++j) nr[j] = f(zr[j]);
          a1[0].row(zr, cols);
        });
      });
      const double s = acc[0].summary(ck.batch, cols).std;
      require_rescalable(s, fn, l);
      return s;
    };
    double s = measure();
    rep[l].std_before = s;
    int it = 0;
    while (std::fabs(s - opt.target_std) >= opt.tolerance && it < opt.max_iterations) {
      const float f = static_cast<float>(opt.target_std / s);
      ctx.pool->run(static_cast<std::int64_t>((wn + 65535) / 65536), [&](std::int64_t blk) {
        for (std::uint64_t i = static_cast<std::uint64_t>(blk) * 65536; i < std::min(wn, static_cast<std::uint64_t>(blk + 1) * 65536); ++i) w[i] *= f;
      });
      s = measure();
      ++it;
    }
    if (!in_place && it > 0) {
      store(Ly.weight, copy);
      copy = load(Ly.weight, wn);  // as stored (rounded to its dtype)
      w = copy.data();
      s = measure();
    }
    rep[l].std_after = s;
    rep[l].iterations = it;
    rep[l].converged = std::fabs(s - opt.target_std) < opt.tolerance;
    h.swap(next);
  }
  return rep;
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
