// Expected and measured statistics of a parameter (check.hpp).
#include "check.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace paraminit_program {
namespace {
namespace pi = paraminit;

double phi(double x) { return std::exp(-0.5 * x * x) / std::sqrt(2 * M_PI); }
double Phi(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

// f() compiled for the widest vector instructions this CPU has (x86-64 with GCC/Clang): f is a
// lambda marked always_inline, so it is inlined into, and vectorized for, the function that runs.
// The statistics pass reads every byte init writes; with the baseline's two doubles per instruction
// it took 0.065-0.082 s of the default model's 0.35-0.45 s init.
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
template <class F>
__attribute__((target("avx2,fma,avx512f,avx512dq,avx512bw,avx512vl"))) void run_avx512(const F& f) {
  f();
}
template <class F>
__attribute__((target("avx2,fma"))) void run_avx2(const F& f) {
  f();
}
template <class F>
void run_widest(const F& f) {
  static const int level = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw") &&
                                   __builtin_cpu_supports("avx512vl")
                               ? 2
                               : __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? 1 : 0;
  if (level == 2) return run_avx512(f);
  if (level == 1) return run_avx2(f);
  f();
}
#define CHECK_INLINE __attribute__((always_inline))
#else
template <class F>
void run_widest(const F& f) {
  f();
}
#define CHECK_INLINE
#endif

// One pass in double, split over the hardware threads: adds to S[0..3] the sums of d, d^2, d^3, d^4
// for d = value(i) - K, i < n (one thread below 2^20 values: init adds its 512 KiB slabs one by
// one, and a thread started per slab costs more than it saves). Each thread decodes blocks of values into a buffer and keeps kLanes
// independent partial sums, which the compiler vectorizes (no reassociation is needed, so none is
// allowed).
template <class F>
void add_sums(std::uint64_t n, double K, F value, double* S) {
  if (n == 0) return;
  // kSets independent sets of kLanes sums, as vectors: one 8-double vector per sum and set (one
  // AVX-512 register, two AVX2 ones) and two sets to cover the adds' latency. Left to the
  // vectorizer, per-lane arrays were shuffled across lanes: 1.0 G values/s, 3.5 with these.
  constexpr int kLanes = 8, kSets = 2, kBlock = 512;
  typedef double Lanes __attribute__((vector_size(kLanes * sizeof(double))));
  const unsigned T = n < (1u << 20) ? 1u : std::max(1u, std::thread::hardware_concurrency());
  std::vector<double> sums(4 * static_cast<std::size_t>(T));
  auto sum_part = [&](unsigned t) CHECK_INLINE {
    const std::uint64_t lo = n * t / T, hi = n * (t + 1) / T;
    Lanes p1[kSets] = {}, p2[kSets] = {}, p3[kSets] = {}, p4[kSets] = {};
    alignas(64) double buf[kBlock];
    for (std::uint64_t i0 = lo; i0 < hi; i0 += kBlock) {
      const int m = static_cast<int>(std::min<std::uint64_t>(kBlock, hi - i0));
      for (int j = 0; j < m; ++j) buf[j] = value(i0 + static_cast<std::uint64_t>(j)) - K;
      for (int j = m; j < kBlock; ++j) buf[j] = 0;  // zeros add nothing to any sum
      for (int j = 0; j < kBlock; j += kSets * kLanes)
        for (int u = 0; u < kSets; ++u) {
          Lanes d;
          std::memcpy(&d, buf + j + u * kLanes, sizeof d);
          const Lanes d2 = d * d;
          p1[u] += d, p2[u] += d2, p3[u] += d2 * d, p4[u] += d2 * d2;
        }
    }
    double* out = &sums[4 * static_cast<std::size_t>(t)];
    for (int u = 0; u < kSets; ++u)
      for (int l = 0; l < kLanes; ++l) out[0] += p1[u][l], out[1] += p2[u][l], out[2] += p3[u][l], out[3] += p4[u][l];
  };
  auto body = [&](unsigned t) { run_widest([&]() CHECK_INLINE { sum_part(t); }); };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < T; ++t) pool.emplace_back(body, t);
  body(0u);
  for (auto& th : pool) th.join();
  for (unsigned t = 0; t < T; ++t)
    for (int k = 0; k < 4; ++k) S[k] += sums[4 * static_cast<std::size_t>(t) + static_cast<std::size_t>(k)];
}

// f16 -> f32 by hand (normals and subnormals; no inf/nan in a fill); bf16 is the top half of an f32.
CHECK_INLINE inline double half_value(std::uint16_t h, bool bf) {
  std::uint32_t bits;
  if (bf) {
    bits = static_cast<std::uint32_t>(h) << 16;
  } else {
    const std::uint32_t sgn = (h & 0x8000u) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ffu;
    if (e == 0) {
      const float v = std::ldexp(static_cast<float>(m), -24);
      return static_cast<double>(sgn ? -v : v);
    }
    bits = sgn | ((e + 112) << 23) | (m << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return static_cast<double>(f);
}

}  // namespace

// The distribution of the whole parameter, from the scheme's published formula.
Expect expected(const Spec& spec, const Param& p, const pi::TensorView& global, bool sharded) {
  const Opt o{spec, p};
  const std::string& s = p.scheme;
  Expect e;
  e.known = true;
  auto fans = [&](const pi::FanLayout& l) { return pi::compute_fans(global, l); };
  auto by_var = [&](double var) { e.std = std::sqrt(var); };
  double numel = 1;
  for (auto x : p.shape) numel *= static_cast<double>(x);
  if (s == "constant" || s == "zeros" || s == "ones" || s == "relu_bias") {
    e.exact = true;
    e.mean = s == "constant" ? o.num("value", 0.0) : s == "ones" ? 1.0 : s == "relu_bias" ? o.num("value", pi::kReluBias) : 0.0;
  } else if (s == "uniform") {
    const double lo = o.num("low", 0.0), hi = o.num("high", 1.0);
    e.mean = (lo + hi) / 2;
    e.std = (hi - lo) / std::sqrt(12.0);
  } else if (s == "normal") {
    e.mean = o.num("mean", 0.0);
    e.std = o.num("std", 1.0);
  } else if (s == "trunc_normal") {
    const double m = o.num("mean", 0.0), sd = o.num("std", 1.0);
    const double a = (o.num("low", m - 2 * sd) - m) / sd, b = (o.num("high", m + 2 * sd) - m) / sd;
    const double z = Phi(b) - Phi(a), d = (phi(a) - phi(b)) / z;
    e.mean = m + sd * d;
    by_var(sd * sd * (1 + (a * phi(a) - b * phi(b)) / z - d * d));
  } else if (s == "lecun_uniform" || s == "lecun_normal") {
    by_var(1.0 / static_cast<double>(fans(o.layout()).fan_in));
  } else if (s.find("glorot") == 0 || s.find("xavier") == 0) {
    const auto f = fans(o.layout());
    const double g = o.num("gain", 1.0);
    by_var(g * g * 2.0 / static_cast<double>(f.fan_in + f.fan_out));
  } else if (s.find("he_") == 0 || s.find("kaiming") == 0) {
    const auto nl = o.nonlinearity(pi::Nonlinearity::leaky_relu);
    const double g = nl == pi::Nonlinearity::leaky_relu ? std::sqrt(2.0 / (1 + o.negative_slope() * o.negative_slope())) : pi::calculate_gain(nl);
    by_var(g * g / fans(o.layout()).of(o.mode(pi::FanMode::fan_in)));
  } else if (s == "variance_scaling") {
    by_var(o.num("scale", 1.0) / fans(o.layout()).of(o.mode(pi::FanMode::fan_in)));
  } else if (s == "fan_in_uniform") {
    const std::int64_t m = o.integer("fan_in", 0);
    by_var(1.0 / (3.0 * static_cast<double>(m > 0 ? m : fans(o.layout()).fan_in)));
  } else if (s == "sparse") {
    // Exactly k non-zeros of variance std^2 (normal, or uniform of the same variance) in each unit,
    // the slices along unit_axis, zeros elsewhere: k x units non-zeros among numel elements.
    const double sd = o.num("std", 0.01);
    const auto rank = static_cast<std::int64_t>(p.shape.size());
    if (rank < 2) spec_fail(spec, p.name, "shape", "sparse needs a shape of rank >= 2 (units and their fan-in)");
    const std::int64_t axis = o.integer("unit_axis", 0), a = axis < 0 ? axis + rank : axis;
    if (a < 0 || a >= rank) spec_fail(spec, p.name, "unit_axis", std::to_string(axis) + " is not an axis of the shape");
    const auto units = static_cast<double>(p.shape[static_cast<std::size_t>(a)]);
    by_var(sd * sd * static_cast<double>(o.integer("k", 15)) * units / numel);
  } else if (s == "sparse_fraction") {
    const double sd = o.num("std", 0.01), rows = static_cast<double>(p.shape[0]);
    by_var(sd * sd * (rows - std::ceil(o.num("sparsity", 0.9) * rows)) / rows);
  } else if (s == "orthogonal") {  // orthonormal rows or columns: mean square gain^2 / max(rows, cols)
    const int bd = o.small_int("batch_dims", 0);
    double rows = static_cast<double>(p.shape[static_cast<std::size_t>(bd)]), cols = 1;
    for (std::size_t d = static_cast<std::size_t>(bd) + 1; d < p.shape.size(); ++d) cols *= static_cast<double>(p.shape[d]);
    const double g = o.num("gain", 1.0);
    by_var(g * g / std::max(rows, cols));
  } else if (s == "delta_orthogonal") {  // in orthonormal columns of length out in one tap of `spatial`
    const double g = o.num("gain", 1.0);
    by_var(g * g * static_cast<double>(p.shape[1]) / numel);
  } else if (sharded) {
    e.known = false;  // structured values: a shard's statistics are not the whole's
  } else if (s == "eye" || s == "dirac" || s == "gate_bias") {
    e.exact = true;
    double frac = 0, hi = o.num("gain", 1.0), lo = 0;
    if (s == "eye") frac = static_cast<double>(std::min(p.shape[0], p.shape[1])) / numel;
    if (s == "dirac") {
      const std::int64_t g = o.integer("groups", 1);
      frac = static_cast<double>(g * std::min(p.shape[0] / g, p.shape[1])) / numel;
    }
    if (s == "gate_bias") {
      const std::string l = o.str("layout", "torch_lstm");
      const double blocks = l.find("cudnn") == 0 ? (l == "cudnn_lstm" ? 8 : 6) : (l.find("lstm") != std::string::npos ? 4 : 3);
      frac = 1.0 / blocks;
      hi = o.num("value", 1.0);
      lo = o.num("others", 0.0);
    }
    e.mean = lo + frac * (hi - lo);
    e.std = std::fabs(hi - lo) * std::sqrt(frac * (1 - frac));
  } else if (s == "output_bias" || s == "variance_parameter") {
    e.known = false;  // the values are the spec's own statistics, transformed: nothing to sample
  } else {
    e.known = false;
  }
  return e;
}

void StatsSums::add(const void* data, pi::DType t, std::uint64_t n) {
  if (n == 0) return;
  const auto* f32 = static_cast<const float*>(data);
  const auto* f64 = static_cast<const double*>(data);
  const auto* h = static_cast<const std::uint16_t*>(data);
  const bool bf = t == pi::DType::bf16;
  if (!have_k_) {
    k_ = t == pi::DType::f32 ? static_cast<double>(f32[0]) : t == pi::DType::f64 ? f64[0] : half_value(h[0], bf);
    have_k_ = true;
  }
  n_ += n;
  switch (t) {
    case pi::DType::f32: return add_sums(n, k_, [&](std::uint64_t i) CHECK_INLINE { return static_cast<double>(f32[i]); }, s_);
    case pi::DType::f64: return add_sums(n, k_, [&](std::uint64_t i) CHECK_INLINE { return f64[i]; }, s_);
    default: return add_sums(n, k_, [&](std::uint64_t i) CHECK_INLINE { return half_value(h[i], bf); }, s_);
  }
}

Stats StatsSums::result() const {
  Stats s;
  s.n = n_;
  if (n_ == 0) return s;
  const double N = static_cast<double>(n_), mu = s_[0] / N, r2 = s_[1] / N, r3 = s_[2] / N, r4 = s_[3] / N;
  s.mean = k_ + mu;
  s.std = std::sqrt(std::max(0.0, r2 - mu * mu));
  s.m4 = std::max(0.0, r4 - 4 * mu * r3 + 6 * mu * mu * r2 - 3 * mu * mu * mu * mu);
  return s;
}

Stats host_stats(const void* data, pi::DType t, std::uint64_t n) {
  StatsSums sums;
  sums.add(data, t, n);
  return sums.result();
}

// |measured - expected| within 5 sigma of the sample std (sigma^2 ~ (mu4 - s^4) / (4 s^2 N)) plus the
// dtype's relative rounding; exact schemes within the rounding alone.
bool within(const Expect& e, const Stats& s, pi::DType t, double* bound) {
  const double rel = t == pi::DType::bf16 ? 1.0 / 128 : t == pi::DType::f16 ? 1.0 / 1024 : t == pi::DType::f32 ? 1e-6 : 1e-12;
  double b = rel * (e.std + std::fabs(e.mean)) + 1e-300;
  if (!e.exact && s.n > 0 && s.std > 0)
    b += 5 * std::sqrt(std::max(0.0, s.m4 - s.std * s.std * s.std * s.std) / static_cast<double>(s.n)) / (2 * s.std);
  *bound = b;
  return std::fabs(s.std - e.std) <= b;
}

}  // namespace paraminit_program
