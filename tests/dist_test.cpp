// Distributions against exact CDFs computed in double: KS statistics under the alpha = 1e-4
// critical value (2.2252 / sqrt(n)), means and variances inside 5-sigma sampling bounds, bounds in
// every dtype after rounding, exact symmetry of U(-a, a), the normal tail mass, truncated normal in
// one tail, and fp16 / bf16 values equal to round-to-nearest-even of the fp32 value.
#include <gtest/gtest.h>

#include <cmath>

#include "../host/params.hpp"
#include "paraminit/paraminit.hpp"
#include "test_util.hpp"

namespace {
using namespace paraminit_test;
using paraminit::Context;
using paraminit::Key;

constexpr std::size_t kN = 1 << 20;  // 1,048,576 samples per case
constexpr double kAlpha = 1e-4;


// 5-sigma bounds for the sample mean and the sample variance, from the distribution's variance
// and fourth central moment: sd(mean) = sqrt(var / n), sd(var) = sqrt((m4 - var^2) / n).
void expect_moments(const std::vector<double>& x, double mean, double var, double m4, const char* what) {
  const Moments m = moments(x);
  const double n = static_cast<double>(x.size());
  EXPECT_LE(std::fabs(m.mean - mean), 5 * std::sqrt(var / n)) << what << ": mean " << m.mean << " vs " << mean;
  EXPECT_LE(std::fabs(m.var - var), 5 * std::sqrt((m4 - var * var) / n)) << what << ": var " << m.var << " vs " << var;
}

struct UniformCase {
  DType t;
  double low, high;
};

// load() is store()'s inverse: every finite f16 and bf16 bit pattern survives load then store, and
// load widens to the value IEEE 754 defines for those bits (sign, exponent, mantissa decoded here).
TEST(Load, InvertsStoreOnEveryHalfPattern) {
  namespace k = paraminit::kernels;
  for (std::uint32_t b = 0; b < 65536; ++b) {
    const int exp16 = static_cast<int>((b >> 10) & 31), expb = static_cast<int>((b >> 7) & 255);
    const double sign = (b & 0x8000) ? -1.0 : 1.0;
    if (exp16 != 31) {  // f16: not inf or NaN
      k::f16_t h{static_cast<std::uint16_t>(b)}, back{};
      const double want = sign * (exp16 == 0 ? std::ldexp(static_cast<double>(b & 1023), -24)
                                             : std::ldexp(static_cast<double>((b & 1023) | 1024), exp16 - 25));
      ASSERT_EQ(static_cast<double>(k::load(&h)), want) << "f16 bits " << b;
      k::store(&back, k::load(&h));
      ASSERT_EQ(back.bits, h.bits) << "f16 bits " << b;
    }
    if (expb != 255) {  // bf16: not inf or NaN
      k::bf16_t h{static_cast<std::uint16_t>(b)}, back{};
      const double want = sign * (expb == 0 ? std::ldexp(static_cast<double>(b & 127), -133)
                                            : std::ldexp(static_cast<double>((b & 127) | 128), expb - 134));
      ASSERT_EQ(static_cast<double>(k::load(&h)), want) << "bf16 bits " << b;
      k::store(&back, k::load(&h));
      ASSERT_EQ(back.bits, h.bits) << "bf16 bits " << b;
    }
  }
}

TEST(Uniform, KsMomentsAndOpenBounds) {
  for (const UniformCase c : {UniformCase{DType::f32, -1, 1}, UniformCase{DType::f32, 0.5, 3},
                              UniformCase{DType::f64, -2, 5}, UniformCase{DType::f64, 1e-3, 2e-3}}) {
    Buffer b(c.t, kN);
    paraminit::uniform(ctx(), b.view1d(), Key{11, 3}, {c.low, c.high});
    const auto x = b.values();
    for (double v : x) ASSERT_TRUE(v > c.low && v < c.high) << v;
    const double w = c.high - c.low;
    const double d = ks_statistic(x, [&](double v) { return (v - c.low) / w; });
    EXPECT_LT(d, ks_critical(kN, kAlpha)) << paraminit::to_string(c.t) << " [" << c.low << ", " << c.high << ")";
    expect_moments(x, (c.low + c.high) / 2, w * w / 12, w * w * w * w / 80, "uniform");
  }
}

// PyTorch promises [low, high); paraminit keeps every dtype's values strictly inside (low, high),
// also where a bound is not representable (0.04 is not a bf16 number) or rounding would reach it.
TEST(Uniform, BoundsHoldInEveryDtypeAfterRounding) {
  const std::pair<double, double> ranges[] = {{-0.04, 0.04}, {0, 1}, {-1, 1}, {1, 1.01}, {-3e-5, 7e-5}, {100, 101}};
  for (DType t : kAllDTypes)
    for (auto [lo, hi] : ranges) {
      Buffer b(t, 1 << 18);
      paraminit::uniform(ctx(), b.view1d(), Key{5, 9}, {lo, hi});
      double mn = INFINITY, mx = -INFINITY;
      for (double v : b.values()) mn = std::min(mn, v), mx = std::max(mx, v);
      EXPECT_GT(mn, lo) << paraminit::to_string(t) << " [" << lo << ", " << hi << ")";
      EXPECT_LT(mx, hi) << paraminit::to_string(t) << " [" << lo << ", " << hi << ")";
    }
}

// U(-a, a) is exactly symmetric: each of the 2^24 (f32 grid) values m is as likely as its mirror
// 2^24 - 1 - m, and the value of the mirror is exactly the negated value. Checked exhaustively for
// the parameters the library builds, before and after rounding to fp16 / bf16.
TEST(Uniform, ExactlySymmetricInDistribution) {
  namespace k = paraminit::kernels;
  for (DType t : {DType::f32, DType::f16, DType::bf16})
    for (double a : {0.04, 1.0, 0.0625, 3.3}) {
      const auto d = paraminit::detail::make_uniform<float>("test", {-a, a}, t);
      ASSERT_EQ(d.center, 0.0f);
      HalfRounder rne(t == DType::f32 ? DType::f16 : t);
      for (std::uint32_t m = 0; m < (1u << 24); m += (t == DType::f32 ? 1 : 7)) {
        const std::uint32_t mirror = (1u << 24) - 1 - m;
        float v[1], vm[1];
        const std::uint32_t w = m << 8, wm = mirror << 8;
        k::group(d, &w, v);
        k::group(d, &wm, vm);
        ASSERT_EQ(v[0], -vm[0]) << "m = " << m;
        if (t != DType::f32) ASSERT_EQ(rne(v[0]) ^ 0x8000u, rne(vm[0])) << "m = " << m;
      }
    }
}

TEST(Normal, KsMomentsAndTailMass) {
  for (DType t : {DType::f32, DType::f64}) {
    constexpr std::size_t n = 4 * kN;
    Buffer b(t, n);
    paraminit::normal(ctx(), b.view1d(), Key{2026, 1}, {0.0, 1.0});
    const auto x = b.values();
    const double d = ks_statistic(x, normal_cdf);
    EXPECT_LT(d, ks_critical(n, kAlpha)) << paraminit::to_string(t);
    expect_moments(x, 0, 1, 3, "normal");
    // Mass beyond 4 sigma: p = 2 Q(4) = 6.334e-5; binomial 5-sigma range around n p.
    std::size_t beyond = 0;
    for (double v : x) beyond += std::fabs(v) > 4;
    const double p = 2 * normal_ccdf(4), mu = n * p, sd = std::sqrt(n * p * (1 - p));
    EXPECT_NEAR(static_cast<double>(beyond), mu, 5 * sd) << paraminit::to_string(t);
  }
}

TEST(Normal, ScaledAndShifted) {
  Buffer b(DType::f32, kN);
  paraminit::normal(ctx(), b.view1d(), Key{1, 2}, {3.0, 0.02});
  const auto x = b.values();
  EXPECT_LT(ks_statistic(x, [](double v) { return normal_cdf((v - 3.0) / 0.02); }), ks_critical(kN, kAlpha));
  expect_moments(x, 3.0, 4e-4, 3 * 1.6e-7, "N(3, 0.02^2)");
}

// Truncated normal: exact CDF (F(x) - F(a)) / (F(b) - F(a)), computed in the tail where it is
// accurate; mean and variance from the closed forms; 5-sigma variance bound from the sample's
// fourth moment.
struct TruncCase {
  DType t;
  double mean, std, low, high;
};

TEST(TruncNormal, KsAndMomentsIncludingOneTail) {
  const TruncCase cases[] = {
      {DType::f32, 0, 1, -2, 2},   {DType::f64, 0, 1, -2, 2},     {DType::f32, 0, 1, 3, 4},
      {DType::f64, 0, 1, 3, 4},    {DType::f32, 0, 1, -4, -3},    {DType::f32, 0, 1, 20, 21},
      {DType::f64, 0, 1, 20, 21},  {DType::f32, 1, 0.02, 0.9, 1.5}, {DType::f32, 0, 1, -0.5, 8},
      {DType::f32, 0, 1, 8, 30},
  };
  for (const TruncCase& c : cases) {
    Buffer b(c.t, kN);
    paraminit::trunc_normal(ctx(), b.view1d(), Key{77, 5}, {c.mean, c.std, c.low, c.high});
    const auto x = b.values();
    for (double v : x) ASSERT_TRUE(v >= c.low && v <= c.high) << v;
    const double a = (c.low - c.mean) / c.std, bb = (c.high - c.mean) / c.std;
    const bool upper = a > 0;  // both bounds in the upper tail: use the complementary CDF
    const double za = upper ? normal_ccdf(a) - normal_ccdf(bb) : normal_cdf(bb) - normal_cdf(a);
    auto cdf = [&](double v) {
      const double z = (v - c.mean) / c.std;
      return upper ? (normal_ccdf(a) - normal_ccdf(z)) / za : (normal_cdf(z) - normal_cdf(a)) / za;
    };
    EXPECT_LT(ks_statistic(x, cdf), ks_critical(kN, kAlpha))
        << paraminit::to_string(c.t) << " [" << c.low << ", " << c.high << "]";
    // Closed-form moments of the truncated normal.
    const double pa = std::exp(-a * a / 2) / std::sqrt(2 * M_PI), pb = std::exp(-bb * bb / 2) / std::sqrt(2 * M_PI);
    const double r = (pa - pb) / za;
    const double mean = c.mean + c.std * r;
    const double var = c.std * c.std * (1 + (a * pa - bb * pb) / za - r * r);
    const Moments m = moments(x);
    expect_moments(x, mean, var, m.m4, "trunc_normal");
  }
}

TEST(TruncNormal, BoundsHoldInEveryDtypeAfterRounding) {
  for (DType t : kAllDTypes)
    for (auto [lo, hi] : {std::pair<double, double>{-0.04, 0.04}, {3, 4}, {-2, 2}, {0.0999, 0.1001}}) {
      Buffer b(t, 1 << 18);
      paraminit::trunc_normal(ctx(), b.view1d(), Key{8, 8}, {0.0, lo == 3 ? 1.0 : 0.02, lo, hi});
      for (double v : b.values()) ASSERT_TRUE(v >= lo && v <= hi) << paraminit::to_string(t) << " " << v;
    }
}

// fp16 / bf16 outputs are the fp32 values rounded to nearest even (checked against an independent
// table-search rounding); in bounded schemes, a value that would round outside the bounds is the
// nearest representable value inside them.
TEST(HalfTypes, RoundToNearestEvenOfTheF32Value) {
  const Key key{99, 42};
  constexpr std::size_t n = 1 << 18;
  for (DType t : {DType::f16, DType::bf16}) {
    HalfRounder rne(t);
    Buffer f(DType::f32, n), h(t, n);
    // unbounded: exactly RNE
    paraminit::normal(ctx(), f.view1d(), key, {0.5, 3.0});
    paraminit::normal(ctx(), h.view1d(), key, {0.5, 3.0});
    for (std::size_t i = 0; i < n; ++i)
      ASSERT_EQ(h.half_bits(i), rne(static_cast<float>(f.at(i)))) << paraminit::to_string(t) << " i = " << i;
    paraminit::constant(ctx(), h.view1d(), 0.1);
    ASSERT_EQ(h.half_bits(0), rne(0.1f));
    // bounded: RNE unless outside (low, high); then the nearest value inside
    for (auto [lo, hi] : {std::pair<double, double>{-0.04, 0.04}, {0.0, 1.0}}) {
      paraminit::uniform(ctx(), f.view1d(), key, {lo, hi});
      paraminit::uniform(ctx(), h.view1d(), key, {lo, hi});
      // The smallest and largest values of the dtype strictly inside (lo, hi), by scanning all.
      double first = INFINITY, last = -INFINITY;
      for (std::uint32_t bits = 0; bits < 0x10000u; ++bits) {
        const double v = decode_half(static_cast<std::uint16_t>(bits), t);
        if (v > lo && v < hi) first = std::min(first, v), last = std::max(last, v);
      }
      std::size_t clamped = 0;
      for (std::size_t i = 0; i < n; ++i) {
        const std::uint16_t r = rne(static_cast<float>(f.at(i)));
        const double rv = decode_half(r, t);
        if (rv > lo && rv < hi) {
          ASSERT_EQ(h.half_bits(i), r) << "i = " << i;
        } else {
          ++clamped;
          ASSERT_EQ(h.at(i), rv <= lo ? first : last) << "i = " << i << " rne = " << rv;
        }
      }
      if (t == DType::bf16 && lo == -0.04) EXPECT_GT(clamped, 0u) << "the clamping path was not exercised";
      RecordProperty(std::string("clamped_") + paraminit::to_string(t), std::to_string(clamped));
    }
  }
}

}  // namespace

namespace {
// The one-piece quantile that trunc_normal uses when every element has |z| < 3 gives exactly the
// values of the general four-piece evaluation: checked on every one of the 2^23 f32 inputs.
TEST(TruncNormal, CentralFastPathEqualsGeneralPath) {
  namespace k = paraminit::kernels;
  for (auto o : {paraminit::TruncNormalOptions{0, 1, -2, 2}, paraminit::TruncNormalOptions{0, 0.02, -0.04, 0.05},
                 paraminit::TruncNormalOptions{1, 2, 0, 6}}) {
    const auto d = paraminit::detail::make_trunc_normal<float>("test", o, DType::f32);
    ASSERT_TRUE(d.central);
    const k::TruncNormalCentralDist<float> dc{d};
    for (std::uint32_t m = 0; m < (1u << 23); ++m) {  // every open01_f32 input
      const std::uint32_t w = m << 9;
      float a, b;
      k::group(d, &w, &a);
      k::group(dc, &w, &b);
      ASSERT_EQ(a, b) << "m = " << m;
    }
  }
  EXPECT_FALSE((paraminit::detail::make_trunc_normal<float>("test", {0, 1, -2, 3.5}, DType::f32).central));
  EXPECT_FALSE((paraminit::detail::make_trunc_normal<float>("test", {0, 1, 3, 4}, DType::f32).central));
}
}  // namespace

namespace {
// Every one of the 2^23 f32 inputs of the usual transformer call trunc_normal(std 0.02, [-2, 2])
// (an effectively untruncated normal): |z| stays below the 5.4 sigma that a 2^-24 tail allows.
TEST(TruncNormal, ExtremeInputsStayInTheNormalRange) {
  namespace k = paraminit::kernels;
  const auto d = paraminit::detail::make_trunc_normal<float>("test", {0, 0.02, -2, 2}, DType::f32);
  float lo = 0, hi = 0;
  for (std::uint32_t m = 0; m < (1u << 23); ++m) {
    const std::uint32_t w = m << 9;
    float v;
    k::group(d, &w, &v);
    lo = std::min(lo, v), hi = std::max(hi, v);
  }
  // Q(z) = 2^-24 at z = 5.33; allow the 2^-24 grid's half step: 5.45 sigma.
  EXPECT_GT(lo, -0.02 * 5.45);
  EXPECT_LT(hi, 0.02 * 5.45);
  EXPECT_LT(-lo - hi, 1e-6) << "asymmetric extremes: " << lo << " " << hi;
}

// Intervals far narrower than std (std 1e6 on [-1, 1], std 1 on [-1e-6, 1e-6]): the centre form
// keeps full resolution, so nearly all samples are distinct and the KS test against the exact
// truncated CDF passes (the distribution is almost uniform there).
TEST(TruncNormal, NarrowCentralIntervalsKeepResolution) {
  for (auto o : {paraminit::TruncNormalOptions{0, 1e6, -1, 1}, paraminit::TruncNormalOptions{0, 1, -1e-6, 1e-6},
                 paraminit::TruncNormalOptions{5, 1e30, 4, 6}}) {
    constexpr std::size_t n = 1 << 16;
    Buffer b(DType::f32, n);
    paraminit::trunc_normal(ctx(), b.view1d(), Key{4, 4}, o);
    auto x = b.values();
    const double a = (o.low - o.mean) / o.std, bb = (o.high - o.mean) / o.std;
    const double za = normal_cdf(bb) - normal_cdf(a);
    EXPECT_LT(ks_statistic(x, [&](double v) { return (normal_cdf((v - o.mean) / o.std) - normal_cdf(a)) / za; }),
              ks_critical(n, kAlpha))
        << "std " << o.std << " [" << o.low << ", " << o.high << "]";
    std::sort(x.begin(), x.end());
    const auto distinct = static_cast<std::size_t>(std::unique(x.begin(), x.end()) - x.begin());
    EXPECT_GT(distinct, n * 9 / 10) << "std " << o.std;
  }
}
}  // namespace

namespace {
// The documented reach of normal(): |z| <= 6.77 (f32 path) and <= 9.50 (f64 path), from the
// smallest radius input (word 0 gives u = 2^-33, words 0,0 give 2^-65) at every angle input.
TEST(Normal, DocumentedReachHolds) {
  namespace k = paraminit::kernels;
  const k::NormalDist<float> d{0.0f, 1.0f};
  float worst = 0;
  for (std::uint32_t m = 0; m < (1u << 23); ++m) {
    const std::uint32_t w[2] = {0u, m << 9};
    float z[2];
    k::group(d, w, z);
    worst = std::max({worst, std::fabs(z[0]), std::fabs(z[1])});
  }
  EXPECT_LE(worst, 6.77f);
  EXPECT_GT(worst, 6.76f);  // and it is reached: sqrt(66 ln 2) = 6.764
  const k::NormalDist<double> dd{0.0, 1.0};
  double worst64 = 0;
  for (std::uint32_t m = 0; m < (1u << 16); ++m) {
    const std::uint32_t w[4] = {0u, 0u, m << 16, 0u};
    double z[2];
    k::group(dd, w, z);
    worst64 = std::max({worst64, std::fabs(z[0]), std::fabs(z[1])});
  }
  EXPECT_LE(worst64, 9.50);
  EXPECT_GT(worst64, 9.49);  // sqrt(130 ln 2) = 9.493
}
}  // namespace

#include "../host/philox_batch.hpp"

namespace {
namespace kk = paraminit::kernels;

// The CPU's batched loop (Generator::groups over a Philox batch, split into several loops for
// normal and trunc_normal f32) against the per-call function the CUDA kernels run
// (Generator::operator(), group by group), bit for bit, for every distribution and output dtype,
// and for trunc_normal in the centre, in one tail and in a far tail.
template <class Gen, class Out>
void expect_batched_equals_per_call(const Gen& gen, const char* what) {
  constexpr int B = paraminit::detail::kPhiloxBatch, E = Gen::kPerCall;
  for (std::uint64_t first : {std::uint64_t{0}, std::uint64_t{977}, std::uint64_t{1} << 40}) {
    std::uint32_t words[4 * B];
    for (int l = 0; l < B; ++l) {
      const kk::Words4 w = kk::philox_call(gen.seed, gen.stream, first + l);
      words[4 * l] = w.x, words[4 * l + 1] = w.y, words[4 * l + 2] = w.z, words[4 * l + 3] = w.w;
    }
    Out batched[B * E];
    gen.template groups<B>(words, batched);
    for (int l = 0; l < B; ++l) {
      typename Gen::value_type v[E];
      gen(first + l, v);
      for (int e = 0; e < E; ++e) {
        Out one;
        kk::store(&one, v[e]);
        ASSERT_EQ(std::memcmp(&one, &batched[l * E + e], sizeof(Out)), 0) << what << " call " << first + l << " element " << e;
      }
    }
  }
}

template <class Dist>
void all_outputs(const Dist& d, const char* what) {
  const kk::Generator<Dist, float> g{d, 0x1234, 0x5678};
  expect_batched_equals_per_call<decltype(g), float>(g, what);
  expect_batched_equals_per_call<decltype(g), kk::f16_t>(g, what);
  expect_batched_equals_per_call<decltype(g), kk::bf16_t>(g, what);
}

TEST(Distributions, HostBatchedLoopEqualsThePerCallFunctionOfTheKernels) {
  using namespace paraminit;
  all_outputs(detail::make_uniform<float>("t", {-0.3, 0.7}, DType::f32), "uniform");
  all_outputs(detail::make_normal<float>("t", {0.1, 0.5}, DType::f32), "normal");
  for (TruncNormalOptions o : {TruncNormalOptions{0, 1, -2, 2}, TruncNormalOptions{0, 1, 3, 4}, TruncNormalOptions{0, 1, 20, 21},
                               TruncNormalOptions{1, 2, -9, 0.5}}) {
    const auto d = detail::make_trunc_normal<float>("t", o, DType::f32);
    all_outputs(d, "trunc_normal");
    if (d.central) all_outputs(kk::TruncNormalCentralDist<float>{d}, "trunc_normal (central)");
  }
  const kk::Generator<kk::NormalDist<double>, double> g64{detail::make_normal<double>("t", {0.1, 0.5}, DType::f64), 3, 4};
  expect_batched_equals_per_call<decltype(g64), double>(g64, "normal f64");
  const kk::Generator<kk::TruncNormalDist<double>, double> t64{
      detail::make_trunc_normal<double>("t", {0, 1, 3, 4}, DType::f64), 3, 4};
  expect_batched_equals_per_call<decltype(t64), double>(t64, "trunc_normal f64");
}
}  // namespace
