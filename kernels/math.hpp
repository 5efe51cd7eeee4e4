// The library's own transcendental functions, written from + - * / fma sqrt and exact bit
// manipulation only, so that the host (g++, -ffp-contract=off) and the device (nvcc, -fmad=false)
// compute the same bits. No libm call: libm and CUDA's math library differ in the last bit.
//
// Measured accuracy against double / long double references (tests/math_test.cpp states the
// asserted bounds): see the table in the comment of each function.
#pragma once

#include <cmath>

#include "bits.hpp"
#include "erfinv_coeffs.hpp"

namespace paraminit {
namespace kernels {

PI_HD float fma_(float a, float b, float c) {
#if defined(__CUDA_ARCH__)
  return __fmaf_rn(a, b, c);
#else
  return std::fma(a, b, c);
#endif
}
PI_HD double fma_(double a, double b, double c) {
#if defined(__CUDA_ARCH__)
  return __fma_rn(a, b, c);
#else
  return std::fma(a, b, c);
#endif
}
PI_HD float floor_(float x) {
#if defined(__CUDA_ARCH__)
  return floorf(x);
#else
  return std::floor(x);
#endif
}
PI_HD double floor_(double x) {
#if defined(__CUDA_ARCH__)
  return ::floor(x);
#else
  return std::floor(x);
#endif
}
PI_HD float sqrt_(float x) {
#if defined(__CUDA_ARCH__)
  return __fsqrt_rn(x);
#else
  return std::sqrt(x);
#endif
}
PI_HD double sqrt_(double x) {
#if defined(__CUDA_ARCH__)
  return __dsqrt_rn(x);
#else
  return std::sqrt(x);
#endif
}

// ---- natural logarithm -----------------------------------------------------------------------
// x = 2^e * (1 + f) with 1 + f in [sqrt(1/2), sqrt(2)), s = f / (2 + f), and
//   log(1 + f) = 2 atanh(s) = f - f^2/2 + s (f^2/2 + R),  R = sum_k 2 s^(2k) / (2k + 1)
// (the identity f - f^2/2 + s f^2/2 = 2s makes the big term f exact). |s| <= 0.1716, so the
// series truncated after s^10 (f32) / s^24 (f64) is below 1e-9 / 1e-18 relative.
// ln 2 is split into a head with trailing zero bits (e * hi exact) and a tail.
// Domain: finite x > 0 (subnormals included). Measured: <= 1 ulp (tests/math_test.cpp).

PI_HD float log_(float x) {
  const bool sub = x < 0x1p-126f;
  const float xs = sub ? x * 0x1p24f : x;
  std::uint32_t ix = f32_bits(xs) + (0x3f800000u - 0x3f3504f3u);
  const int e = static_cast<int>(ix >> 23) - 127 - (sub ? 24 : 0);
  ix = (ix & 0x007fffffu) + 0x3f3504f3u;
  const float f = f32_from_bits(ix) - 1.0f;
  const float s = f / (2.0f + f);
  const float z = s * s;
  float r = fma_(z, 2.0f / 11.0f, 2.0f / 9.0f);
  r = fma_(z, r, 2.0f / 7.0f);
  r = fma_(z, r, 2.0f / 5.0f);
  r = fma_(z, r, 2.0f / 3.0f);
  r = z * r;
  const float hfsq = 0.5f * f * f;
  const float fe = static_cast<float>(e);
  return fe * 0x1.62ep-1f - ((hfsq - (s * (hfsq + r) + fe * 0x1.0bfbe8p-15f)) - f);
}

PI_HD double log_(double x) {
  const bool sub = x < 0x1p-1022;
  const double xs = sub ? x * 0x1p54 : x;
  const std::uint64_t bits = f64_bits(xs);
  std::uint32_t hx = static_cast<std::uint32_t>(bits >> 32) + (0x3ff00000u - 0x3fe6a09eu);
  const int e = static_cast<int>(hx >> 20) - 1023 - (sub ? 54 : 0);
  hx = (hx & 0x000fffffu) + 0x3fe6a09eu;
  const double f = f64_from_bits((static_cast<std::uint64_t>(hx) << 32) | (bits & 0xffffffffu)) - 1.0;
  const double s = f / (2.0 + f);
  const double z = s * s;
  double r = 2.0 / 25.0;
  PI_UNROLL
  for (int k = 11; k >= 1; --k) r = fma_(z, r, 2.0 / (2 * k + 1));  // constant-folded once unrolled
  r = z * r;
  const double hfsq = 0.5 * f * f;
  const double fe = static_cast<double>(e);
  return fe * 0x1.62e42fefp-1 - ((hfsq - (s * (hfsq + r) + fe * 0x1.473de6af278edp-34)) - f);
}

// ---- sin(pi v), cos(pi v) --------------------------------------------------------------------
// v = n/2 + r with n = floor(2v + 1/2) and |r| <= 1/4 (exact: Sterbenz), then Taylor series of
// sin(pi r), cos(pi r) (|pi r| <= 0.7854; the first omitted terms are below 2e-9 (f32) and
// 1e-19 (f64) relative), and the quadrant n mod 4 picks and signs them. (r is exact for the
// inputs of normal(), multiples of 2^-23 resp. 2^-52 in (0, 2).)
// Domain: |v| <= 2^20. Measured: <= 1 ulp (tests/math_test.cpp).

namespace detail {
PI_HD unsigned quadrant_and_rest(float v, float* r) {
  const float n = floor_(2.0f * v + 0.5f);
  *r = v - n * 0.5f;
  return static_cast<unsigned>(static_cast<int>(n)) & 3u;
}
PI_HD unsigned quadrant_and_rest(double v, double* r) {
  const double n = floor_(2.0 * v + 0.5);
  *r = v - n * 0.5;
  return static_cast<unsigned>(static_cast<long long>(n)) & 3u;
}
template <class T>
PI_HD void place_quadrant(unsigned q, T sp, T cp, T* s, T* c) {
  T ss = (q & 1u) ? cp : sp;
  T cc = (q & 1u) ? sp : cp;
  *s = (q & 2u) ? -ss : ss;
  *c = ((q + 1u) & 2u) ? -cc : cc;
}
}  // namespace detail

PI_HD void sincospi_(float v, float* s, float* c) {
  float r;
  const unsigned q = detail::quadrant_and_rest(v, &r);
  const float z = r * r;
  float sp = fma_(z, 0x1.507834p-4f, -0x1.32d2ccp-1f);  // pi^9/9!, -pi^7/7!
  sp = fma_(z, sp, 0x1.466bc6p+1f);                     // pi^5/5!
  sp = fma_(z, sp, -0x1.4abbcep+2f);                    // -pi^3/3!
  // pi r with pi split as hi + lo, one rounding at the end: sin is within ~0.6 ulp.
  sp = fma_(r, 0x1.921fb6p+1f, r * fma_(z, sp, -0x1.777a5cp-24f));
  float cp = fma_(z, -0x1.a6d1f2p-6f, 0x1.e1f506p-3f);  // -pi^10/10!, pi^8/8!
  cp = fma_(z, cp, -0x1.55d3c8p+0f);                    // -pi^6/6!
  cp = fma_(z, cp, 0x1.03c1f0p+2f);                     // pi^4/4!
  cp = fma_(z, cp, -0x1.3bd3ccp+2f);                    // -pi^2/2!
  cp = fma_(z, cp, 1.0f);
  detail::place_quadrant(q, sp, cp, s, c);
}

// The f64 series' coefficients, (-1)^k pi^(2k+1)/(2k+1)! for k = 8..1 (sin) and (-1)^k pi^(2k)/(2k)!
// for k = 9..0 (cos), as functions (a local table folds to constants on host and device alike; the
// host's vectorized sincospi, host/cpu_simd.cpp, reads the same numbers).
PI_HD constexpr double sincospi_f64_sin(int k) {
  constexpr double kSin[8] = {0x1.aaec32af93359p-21, -0x1.6fadb9f155744p-16, 0x1.e8f434d018d63p-12,
                              -0x1.e3074fde8871fp-8, 0x1.50783487ee782p-4,  -0x1.32d2cce62bd86p-1,
                              0x1.466bc6775aae2p+1,  -0x1.4abbce625be53p+2};
  return kSin[k];
}
PI_HD constexpr double sincospi_f64_cos(int k) {
  constexpr double kCos[10] = {-0x1.2a0c591af8314p-23, 0x1.20c62c2f2d7f5p-18, -0x1.b6e24f44b128fp-14,
                               0x1.f9d38a3763cc3p-10,  -0x1.a6d1f2a204a8cp-6, 0x1.e1f506891babbp-3,
                               -0x1.55d3c7e3cbffap+0,  0x1.03c1f081b5ac4p+2,  -0x1.3bd3cc9be45dep+2,
                               1.0};
  return kCos[k];
}

PI_HD void sincospi_(double v, double* s, double* c) {
  double r;
  const unsigned q = detail::quadrant_and_rest(v, &r);
  const double z = r * r;
  double sp = sincospi_f64_sin(0);
  PI_UNROLL
  for (int k = 1; k < 8; ++k) sp = fma_(z, sp, sincospi_f64_sin(k));
  sp = fma_(r, 0x1.921fb54442d18p+1, r * fma_(z, sp, 0x1.1a62633145c07p-53));  // pi = hi + lo
  double cp = sincospi_f64_cos(0);
  PI_UNROLL
  for (int k = 1; k < 10; ++k) cp = fma_(z, cp, sincospi_f64_cos(k));
  detail::place_quadrant(q, sp, cp, s, c);
}

// ---- erfinv(y) / y as a function of w = -ln(1 - y^2) --------------------------------------------
// Piecewise polynomials fitted by tools/gen_erfinv_coeffs.py (kernels/erfinv_coeffs.hpp). The f32
// form evaluates every piece and selects (no divergent branch; vectorizes on the host), the f64
// form branches to its piece.

// Domain: w >= 0 (a slightly negative w from rounding near y = 0 is treated as 0).
PI_HD double erfinv_ratio(double w);
PI_HD float erfinv_ratio(float w) {
  using namespace erfinv_tab;
  w = w > 0.0f ? w : 0.0f;
  const float sw = sqrt_(w);
  float result = 0.0f;
  PI_UNROLL
  for (int k = 0; k < kF32Pieces; ++k) {
    const float t = (kF32Kind[k] ? sw : w) - kF32Center[k];
    float p = kF32Coef[k][0];
    PI_UNROLL
    for (int d = 1; d <= kF32MaxDegree; ++d) p = fma_(p, t, kF32Coef[k][d]);
    result = (k == 0 || w >= kF32Lo[k]) ? p : result;
  }
  return result;
}

// Only the first piece: the same value as erfinv_ratio(w) for w < kF32Lo[1] (|z| < 3.0), at a
// quarter of the cost. trunc_normal uses it when no element of the interval can leave that range.
PI_HD float erfinv_ratio_central(float w) {
  using namespace erfinv_tab;
  w = w > 0.0f ? w : 0.0f;
  const float t = w - kF32Center[0];
  float p = kF32Coef[0][0];
  PI_UNROLL
  for (int d = 1; d <= kF32MaxDegree; ++d) p = fma_(p, t, kF32Coef[0][d]);
  return p;
}
PI_HD double erfinv_ratio_central(double w) { return erfinv_ratio(w); }  // f64 branches anyway

PI_HD double erfinv_ratio(double w) {
  using namespace erfinv_tab;
  w = w > 0.0 ? w : 0.0;
  int k = 0;
  while (k + 1 < kF64Pieces && w >= kF64Lo[k + 1]) ++k;
  const double t = (kF64Kind[k] ? sqrt_(w) : w) - kF64Center[k];
  double p = kF64Coef[k][0];
  for (int d = 1; d <= kF64MaxDegree; ++d) p = fma_(p, t, kF64Coef[k][d]);
  return p;
}

// ---- the standard normal quantile of an upper-tail probability ----------------------------------
// Returns z >= 0 with Q(z) = 1 - Phi(z) = r, for r in (0, 1/2], where r is given in split form
// r = b * t (t in (0, 1]) together with w0 = -ln 4 - ln b. The split keeps full relative precision
// deep in the tails, where r itself underflows fp32 (r down to 1e-300 is supported): ln r enters
// only through w0, and r only through 1 - 2r and 1 - r, where an underflowed r is harmless.
//   Phi^{-1}(1 - r) = sqrt(2) erfinv(y),  y = 1 - 2r,
//   w = -ln((1 - y)(1 + y)) = -ln(4 r (1 - r)) = w0 - ln(t (1 - r))      (one logarithm).
// central = true evaluates only the first polynomial piece (erfinv_ratio_central): the caller
// guarantees w < kF32Lo[1].
template <class T>
PI_HD T upper_quantile(T w0, T b, T t, bool central = false) {
  const T r = b * t;
  const T w = w0 - log_(t * (T(1) - r));
  const T y = T(1) - T(2) * r;
  const T sqrt2 = static_cast<T>(1.4142135623730950488);
  return sqrt2 * (y * (central ? erfinv_ratio_central(w) : erfinv_ratio(w)));
}

}  // namespace kernels
}  // namespace paraminit
