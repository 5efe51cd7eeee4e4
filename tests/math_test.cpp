// The library's own transcendental functions against long-double libm references: the measured
// maximum error in ulps of the result's precision, over dense grids and the edges. Each test
// states its bound; the measured values are printed (RecordProperty) and quoted in kernels/math.hpp.
#include <gtest/gtest.h>

#include <cfloat>
#include <cstdio>
#include <cmath>
#include <cstdint>
#include <random>

#include "../kernels/math.hpp"
#include "test_util.hpp"

namespace {
namespace k = paraminit::kernels;

// Prints a measured figure (and records it in the XML report).
void report(const char* what, double value) {
  std::printf("[ measured ] %s = %.3f ulp\n", what, value);
  ::testing::Test::RecordProperty(what, std::to_string(value));
}

// |got - ref| in units of the last place of T at ref.
template <class T>
double ulp_error(T got, long double ref) {
  int e;
  std::frexp(static_cast<double>(ref), &e);
  const int digits = std::numeric_limits<T>::digits;
  const int min_e = std::numeric_limits<T>::min_exponent;
  const long double ulp = std::ldexp(1.0L, std::max(e, min_e) - digits);
  return static_cast<double>(std::fabs(static_cast<long double>(got) - ref) / ulp);
}

TEST(Math, LogF32) {
  double worst = 0;
  float at = 0;
  auto check = [&](float x) {
    const double err = ulp_error(k::log_(x), std::log(static_cast<long double>(x)));
    if (err > worst) worst = err, at = x;
  };
  // every 61st float from the smallest subnormal to FLT_MAX (35 million), plus edges
  for (std::uint32_t b = 1; b < 0x7f800000u; b += 61) check(k::f32_from_bits(b));
  for (float x : {FLT_TRUE_MIN, FLT_MIN, 0x1p-33f, 0.5f, 1.0f, std::nextafter(1.0f, 0.0f),
                  std::nextafter(1.0f, 2.0f), 0.70710677f, 1.4142135f, FLT_MAX})
    check(x);
  report(::testing::UnitTest::GetInstance()->current_test_info()->name(), worst);
  EXPECT_LE(worst, 1.0) << "at x = " << at;
}

TEST(Math, LogF64) {
  double worst = 0, at = 0;
  auto check = [&](double x) {
    const double err = ulp_error(k::log_(x), std::log(static_cast<long double>(x)));
    if (err > worst) worst = err, at = x;
  };
  std::mt19937_64 rng(1);
  for (int i = 0; i < 4000000; ++i) {
    const std::uint64_t b = rng() % 0x7ff0000000000000ull;  // any positive finite double
    check(k::f64_from_bits(b == 0 ? 1 : b));
  }
  for (int i = 0; i < 1000000; ++i) check(1.0 + std::ldexp(static_cast<double>(rng() >> 11), -53) - 0.5);  // [0.5, 1.5)
  for (double x : {DBL_TRUE_MIN, DBL_MIN, 0x1p-65, 0.5, 1.0, std::nextafter(1.0, 0.0),
                   std::nextafter(1.0, 2.0), DBL_MAX})
    check(x);
  report(::testing::UnitTest::GetInstance()->current_test_info()->name(), worst);
  EXPECT_LE(worst, 1.0) << "at x = " << at;
}

// sin(pi v), cos(pi v) references: v = n/2 + r exactly, then long-double sin/cos of pi r.
template <class T>
void ref_sincospi(T v, long double* s, long double* c) {
  const long double pi = 3.141592653589793238462643383279502884L;
  const T n = std::floor(T(2) * v + T(0.5));
  const long double r = static_cast<long double>(v) - static_cast<long double>(n) / 2;
  const long double sr = std::sin(pi * r), cr = std::cos(pi * r);
  switch (static_cast<int>(static_cast<long long>(n) & 3)) {
    case 0: *s = sr, *c = cr; break;
    case 1: *s = cr, *c = -sr; break;
    case 2: *s = -sr, *c = -cr; break;
    default: *s = -cr, *c = sr; break;
  }
}

TEST(Math, SinCosPiF32ExhaustiveOnTheBoxMullerGrid) {
  // normal() calls sincospi on v = 2 open01 = (2m + 1) 2^-23, m < 2^23: all of them are checked.
  double worst = 0;
  for (std::uint32_t m = 0; m < (1u << 23); ++m) {
    const float v = static_cast<float>(2 * m + 1) * 0x1p-23f;
    float s, c;
    k::sincospi_(v, &s, &c);
    long double rs, rc;
    ref_sincospi(v, &rs, &rc);
    worst = std::max({worst, ulp_error(s, rs), ulp_error(c, rc)});
  }
  report(::testing::UnitTest::GetInstance()->current_test_info()->name(), worst);
  EXPECT_LE(worst, 1.5);
}

TEST(Math, SinCosPiF64) {
  std::mt19937_64 rng(2);
  double worst = 0;
  for (int i = 0; i < 4000000; ++i) {
    const double v = std::ldexp(static_cast<double>((rng() >> 12) * 2 + 1), -52);  // the f64 grid in (0, 2)
    double s, c;
    k::sincospi_(v, &s, &c);
    long double rs, rc;
    ref_sincospi(v, &rs, &rc);
    worst = std::max({worst, ulp_error(s, rs), ulp_error(c, rc)});
  }
  for (double v : {-3.75, -1.0, -0.25, 0.0, 0.25, 0.5, 1e-300, 1048576.5}) {
    double s, c;
    k::sincospi_(v, &s, &c);
    long double rs, rc;
    ref_sincospi(v, &rs, &rc);
    worst = std::max({worst, ulp_error(s, rs), ulp_error(c, rc)});
  }
  report(::testing::UnitTest::GetInstance()->current_test_info()->name(), worst);
  EXPECT_LE(worst, 1.5);
}

// Reference quantile: z with Q(z) = r by Newton's method in long double. For r > 0.1 it solves
// erf(z / sqrt 2) / 2 = 1/2 - r (erfl and 1/2 - r keep full relative precision as z -> 0);
// deeper in the tail it solves ln Q(z) = ln r (Q itself may be far below 1e-300).
long double ref_upper_quantile(long double r, long double ln_r) {
  const long double sqrt2 = 1.41421356237309504880L, sqrt2pi = 2.50662827463100050242L;
  long double z = ln_r > -0.7L ? 0.0L : std::sqrt(-2 * ln_r - std::log(-2 * ln_r) - 1.8378770664L);
  for (int it = 0; it < 100; ++it) {
    const long double pdf = std::exp(-z * z / 2) / sqrt2pi;
    long double step;
    if (r > 0.1L) {
      step = -(0.5L * std::erf(z / sqrt2) - (0.5L - r)) / pdf;
    } else {
      const long double q = 0.5L * std::erfc(z / sqrt2);
      step = (std::log(q) - ln_r) * q / pdf;
    }
    z += step;
    if (std::fabs(step) <= 1e-22L * std::fabs(z) || step == 0) break;
  }
  return z;
}

template <class T>
double quantile_worst(bool deep, int n, std::uint64_t seed, double* worst_at) {
  std::mt19937_64 rng(seed);
  double worst = 0;
  for (int i = 0; i < n; ++i) {
    // r = b * t with w0 = -ln 4 - ln b given in T. Shallow: b = 1 and t spread log-uniformly over
    // [1e-37, 0.5] (a quarter of them dense near r = 1/2, z near 0); deep: ln b in [-690, -87],
    // where b underflows fp32 (b = 0 is passed, as the library does).
    const double frac = std::ldexp(static_cast<double>(rng() >> 11), -53);
    T w0, b, t;
    if (!deep) {
      b = 1, w0 = static_cast<T>(-std::log(4.0));
      t = static_cast<T>(std::exp(-0.6931471805599453 - frac * 84.5));
      if (i % 4 == 0) t = static_cast<T>(0.5 - 0.25 * frac);
    } else {
      b = 0, w0 = static_cast<T>(-std::log(4.0) + 87.0 + frac * 603.0), t = static_cast<T>(0.5 + 0.5 * frac);
    }
    const T got = k::upper_quantile(w0, b, t);
    // The reference takes r as the function sees it: r = t where b = 1 (there y = 1 - 2r is computed
    // from t), and ln r = -ln 4 - w0 + ln t deep in the tail (where only w0 carries the scale).
    const long double ln_r = deep ? -std::log(4.0L) - static_cast<long double>(w0) + std::log(static_cast<long double>(t))
                                  : std::log(static_cast<long double>(t));
    const long double r = deep ? 0.0L : static_cast<long double>(t);
    const double err = ulp_error(got, ref_upper_quantile(r, ln_r));
    if (err > worst) worst = err, *worst_at = static_cast<double>(ln_r);
  }
  return worst;
}

TEST(Math, NormalQuantileF32) {
  double at = 0;
  const double shallow = quantile_worst<float>(false, 300000, 3, &at);
  EXPECT_LE(shallow, 4.0) << "ln r = " << at;
  const double deep = quantile_worst<float>(true, 200000, 4, &at);
  EXPECT_LE(deep, 4.0) << "ln r = " << at;
  report("shallow tail (ln r > -85)", shallow);
  report("deep tail (ln r in [-690, -87])", deep);
}

TEST(Math, NormalQuantileF64) {
  double at = 0;
  const double shallow = quantile_worst<double>(false, 300000, 5, &at);
  EXPECT_LE(shallow, 4.0) << "ln r = " << at;
  const double deep = quantile_worst<double>(true, 100000, 6, &at);
  EXPECT_LE(deep, 4.0) << "ln r = " << at;
  report("shallow tail (ln r > -85)", shallow);
  report("deep tail (ln r in [-690, -87])", deep);
}

}  // namespace

namespace {
// fp32 -> fp16 / bf16 round to nearest even: every 97th fp32 bit pattern (44 million), plus all patterns near the fp16 subnormal, normal and overflow boundaries,
// against the independent table-search rounding of test_util.hpp.
TEST(Bits, HalfRoundingMatchesTableSearch) {
  using paraminit_test::HalfRounder;
  for (auto t : {paraminit::DType::f16, paraminit::DType::bf16}) {
    const HalfRounder rne(t);
    auto conv = [&](float f) {
      return t == paraminit::DType::f16 ? k::f32_to_f16_rne(f) : k::f32_to_bf16_rne(f);
    };
    std::uint64_t bad = 0;
    auto check = [&](std::uint32_t b) {
      const float f = k::f32_from_bits(b);
      if (std::isnan(f)) {
        const std::uint16_t h = conv(f);
        if (!std::isnan(paraminit_test::decode_half(h, t))) ++bad;
        return;
      }
      if (conv(f) != rne(f) && ++bad <= 5) ADD_FAILURE() << "bits " << std::hex << b;
    };
    for (std::uint64_t b = 0; b <= 0xffffffffu; b += 97) check(static_cast<std::uint32_t>(b));
    for (std::uint32_t center : {0x33000000u, 0x38800000u, 0x477fe000u, 0x477ff000u, 0x7f7fffffu, 0x00000000u})
      for (std::uint32_t d = 0; d < 70000; ++d) {
        check(center + d), check(center - d);
        check((center + d) | 0x80000000u);
      }
    EXPECT_EQ(bad, 0u) << paraminit::to_string(t);
  }
}
}  // namespace
