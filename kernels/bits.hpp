// Bit-level helpers shared by host and device: float <-> bits, the integer -> float converters of
// the Philox words (each with its exact output set), and round-to-nearest-even to fp16 / bf16.
//
// Every converter below is exact integer arithmetic followed by at most one correctly rounded
// IEEE operation, so host and device produce the same bits.
#pragma once

#include <cstring>

#include "hd.hpp"

namespace paraminit {
namespace kernels {

PI_HD std::uint32_t f32_bits(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  std::uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
#endif
}
PI_HD float f32_from_bits(std::uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
#endif
}
PI_HD std::uint64_t f64_bits(double d) {
#if defined(__CUDA_ARCH__)
  return static_cast<std::uint64_t>(__double_as_longlong(d));
#else
  std::uint64_t u;
  std::memcpy(&u, &d, sizeof u);
  return u;
#endif
}
PI_HD double f64_from_bits(std::uint64_t u) {
#if defined(__CUDA_ARCH__)
  return __longlong_as_double(static_cast<long long>(u));
#else
  double d;
  std::memcpy(&d, &u, sizeof d);
  return d;
#endif
}

// ---- 32-bit word -> float ------------------------------------------------------------------

// Symmetric open interval: w = (2m + 1 - 2^24) * 2^-24 with m = x >> 8.
// Output set: the 2^24 odd multiples of 2^-24 in (-1, 1); exactly symmetric (w and -w are equally
// likely), |w| <= 1 - 2^-24. Exact: the odd integer has |.| < 2^24.
PI_HD float sym_f32(std::uint32_t x) {
  const std::int32_t odd = static_cast<std::int32_t>((x >> 8) << 1) + 1 - (1 << 24);
  return static_cast<float>(odd) * 0x1p-24f;
}

// Open unit interval: u = (2m + 1) * 2^-24, m = x >> 9 (23 bits); the 2^23 odd multiples of
// 2^-24 in [2^-24, 1 - 2^-24], symmetric about 1/2, and 1 - u is exact (it is also on the grid).
// Exact: 2m + 1 < 2^24.
PI_HD float open01_f32(std::uint32_t x) {
  return static_cast<float>(((x >> 9) << 1) + 1u) * 0x1p-24f;
}

// Half-open to the right-closed interval (0, 1], as cuRAND's curand_uniform: u = fl(x) * 2^-32 +
// 2^-33. Smallest value 2^-33 (so -2 ln u <= 45.75, normals reach 6.76 sigma), largest 1.
PI_HD float unit_f32(std::uint32_t x) {
  return static_cast<float>(x) * 0x1p-32f + 0x1p-33f;
}

// ---- two 32-bit words -> double --------------------------------------------------------------

PI_HD std::uint64_t join64(std::uint32_t hi, std::uint32_t lo) {
  return (static_cast<std::uint64_t>(hi) << 32) | lo;
}
// (2m + 1 - 2^53) * 2^-53, m = top 53 bits: the 2^53 odd multiples of 2^-53 in (-1, 1),
// symmetric; exact (|odd| < 2^53).
PI_HD double sym_f64(std::uint32_t hi, std::uint32_t lo) {
  const std::int64_t odd =
      static_cast<std::int64_t>((join64(hi, lo) >> 11) << 1) + 1 - (std::int64_t{1} << 53);
  return static_cast<double>(odd) * 0x1p-53;
}
// (2m + 1) * 2^-53 in [2^-53, 1 - 2^-53]; 1 - u is exact.
PI_HD double open01_f64(std::uint32_t hi, std::uint32_t lo) {
  return static_cast<double>(((join64(hi, lo) >> 12) << 1) + 1u) * 0x1p-53;
}
// fl(x) * 2^-64 + 2^-65 in (0, 1]; smallest 2^-65 (normals reach 9.49 sigma).
PI_HD double unit_f64(std::uint32_t hi, std::uint32_t lo) {
  return static_cast<double>(join64(hi, lo)) * 0x1p-64 + 0x1p-65;
}

// ---- fp32 -> fp16 / bf16, round to nearest even ----------------------------------------------

PI_HD std::uint16_t f32_to_bf16_rne(float f) {
  const std::uint32_t u = f32_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((u >> 16) | 0x0040u);  // quiet NaN
  return static_cast<std::uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}
// The same for an input known not to be NaN (the random fills, whose values are finite by the
// host's checks): no NaN select, so that the host vectorizer packs it in a few instructions.
PI_HD std::uint16_t f32_to_bf16_rne_not_nan(float f) {
  const std::uint32_t u = f32_bits(f);
  return static_cast<std::uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}
PI_HD float bf16_to_f32(std::uint16_t h) { return f32_from_bits(static_cast<std::uint32_t>(h) << 16); }

// Branch-free (selects only), so that the host compiler vectorizes it.
PI_HD std::uint16_t f32_to_f16_rne(float f) {
  const std::uint32_t u = f32_bits(f);
  const std::uint32_t sign = (u >> 16) & 0x8000u;
  const std::uint32_t a = u & 0x7fffffffu;
  // |f| >= 2^-14 (fp16 normal): rebias the exponent (127 -> 15) and round 23 -> 10 mantissa bits;
  // a carry out of the mantissa correctly bumps the exponent (up to infinity).
  const std::uint32_t m = a - 0x38000000u;
  const std::uint32_t normal = (m + 0x0fffu + ((m >> 13) & 1u)) >> 13;
  // |f| < 2^-14 (fp16 subnormal or zero): |f| + 1/2 has ulp 2^-24, so the fp32 addition itself
  // rounds |f| to the nearest multiple of 2^-24, ties to even, and the low bits are that multiple.
  const float af = f32_from_bits(a);
  const std::uint32_t sub = f32_bits(af + 0.5f) - 0x3f000000u;
  const std::uint32_t h = a > 0x7f800000u   ? 0x7e00u   // NaN (quiet)
                          : a >= 0x477ff000u ? 0x7c00u  // >= 65520 rounds to infinity
                          : a >= 0x38800000u ? normal
                                             : sub;
  return static_cast<std::uint16_t>(sign | h);
}
PI_HD float f16_to_f32(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t e = (h >> 10) & 0x1fu;
  const std::uint32_t m = h & 0x3ffu;
  if (e == 0x1fu) return f32_from_bits(sign | 0x7f800000u | (m << 13));
  if (e == 0) {  // zero or subnormal: m * 2^-24, exact in fp32
    const float v = static_cast<float>(m) * 0x1p-24f;
    return sign ? -v : v;
  }
  return f32_from_bits(sign | ((e + 112u) << 23) | (m << 13));
}

}  // namespace kernels
}  // namespace paraminit
