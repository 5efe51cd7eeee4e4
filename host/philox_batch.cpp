#include "philox_batch.hpp"

#include "../kernels/philox.hpp"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define PI_HAVE_AVX2_PATH 1
#endif

namespace paraminit {
namespace detail {

void philox_batch_scalar(std::uint64_t seed, std::uint64_t stream, std::uint64_t first, std::uint32_t* out) {
  for (int l = 0; l < kPhiloxBatch; ++l) {
    const kernels::Words4 w = kernels::philox_call(seed, stream, first + static_cast<std::uint64_t>(l));
    out[4 * l + 0] = w.x;
    out[4 * l + 1] = w.y;
    out[4 * l + 2] = w.z;
    out[4 * l + 3] = w.w;
  }
}

#if defined(PI_HAVE_AVX2_PATH)
namespace {

// (hi, lo) of the 8 lane-wise 32x32 -> 64-bit products a * m.
__attribute__((target("avx2"), always_inline)) inline void mulhilo8(__m256i a, __m256i m, __m256i* hi, __m256i* lo) {
  // Shuffles instead of shifts where either works (they issue on more ports; ~5% faster in a
  // single-thread microbenchmark of the batch, within the noise of the full table).
  const __m256i even = _mm256_mul_epu32(a, m);                             // lanes 0, 2, 4, 6
  const __m256i odd = _mm256_mul_epu32(_mm256_shuffle_epi32(a, 0xF5), m);  // lanes 1, 3, 5, 7
  *hi = _mm256_blend_epi32(_mm256_shuffle_epi32(even, 0xF5), odd, 0xAA);
  *lo = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
}

// 4 x 8 transpose: lanes of (x, y, z, w) -> 8 calls of 4 words, stored at out[0, 32).
__attribute__((target("avx2"), always_inline)) inline void store_calls8(__m256i x, __m256i y, __m256i z, __m256i w,
                                                                        std::uint32_t* out) {
  const __m256i t0 = _mm256_unpacklo_epi32(x, y), t1 = _mm256_unpackhi_epi32(x, y);
  const __m256i t2 = _mm256_unpacklo_epi32(z, w), t3 = _mm256_unpackhi_epi32(z, w);
  const __m256i u0 = _mm256_unpacklo_epi64(t0, t2), u1 = _mm256_unpackhi_epi64(t0, t2);  // calls 0,4 | 1,5
  const __m256i u2 = _mm256_unpacklo_epi64(t1, t3), u3 = _mm256_unpackhi_epi64(t1, t3);  // calls 2,6 | 3,7
  auto* o = reinterpret_cast<__m256i*>(out);
  _mm256_storeu_si256(o + 0, _mm256_permute2x128_si256(u0, u1, 0x20));
  _mm256_storeu_si256(o + 1, _mm256_permute2x128_si256(u2, u3, 0x20));
  _mm256_storeu_si256(o + 2, _mm256_permute2x128_si256(u0, u1, 0x31));
  _mm256_storeu_si256(o + 3, _mm256_permute2x128_si256(u2, u3, 0x31));
}

// 16 calls whose counters' low and high words are the lanes of (xa, xb) and (ya, yb).
__attribute__((target("avx2"), always_inline)) inline void philox16_avx2(std::uint64_t seed, std::uint64_t stream, __m256i xa,
                                                                         __m256i xb, __m256i ya, __m256i yb,
                                                                         std::uint32_t* out) {
  __m256i za = _mm256_set1_epi32(static_cast<int>(static_cast<std::uint32_t>(stream))), zb = za;
  __m256i wa = _mm256_set1_epi32(static_cast<int>(static_cast<std::uint32_t>(stream >> 32))), wb = wa;
  const __m256i m0 = _mm256_set1_epi32(static_cast<int>(kernels::kPhiloxM0));
  const __m256i m1 = _mm256_set1_epi32(static_cast<int>(kernels::kPhiloxM1));
  std::uint32_t k0 = static_cast<std::uint32_t>(seed), k1 = static_cast<std::uint32_t>(seed >> 32);
  for (int round = 0; round < 10; ++round) {
    const __m256i vk0 = _mm256_set1_epi32(static_cast<int>(k0)), vk1 = _mm256_set1_epi32(static_cast<int>(k1));
    __m256i hi0a, lo0a, hi1a, lo1a, hi0b, lo0b, hi1b, lo1b;
    mulhilo8(xa, m0, &hi0a, &lo0a);
    mulhilo8(za, m1, &hi1a, &lo1a);
    mulhilo8(xb, m0, &hi0b, &lo0b);
    mulhilo8(zb, m1, &hi1b, &lo1b);
    xa = _mm256_xor_si256(_mm256_xor_si256(hi1a, ya), vk0);
    za = _mm256_xor_si256(_mm256_xor_si256(hi0a, wa), vk1);
    ya = lo1a;
    wa = lo0a;
    xb = _mm256_xor_si256(_mm256_xor_si256(hi1b, yb), vk0);
    zb = _mm256_xor_si256(_mm256_xor_si256(hi0b, wb), vk1);
    yb = lo1b;
    wb = lo0b;
    k0 += kernels::kPhiloxW0;
    k1 += kernels::kPhiloxW1;
  }
  store_calls8(xa, ya, za, wa, out);
  store_calls8(xb, yb, zb, wb, out + 32);
}

__attribute__((target("avx2"))) void philox_batch_avx2(std::uint64_t seed, std::uint64_t stream, std::uint64_t first,
                                                       std::uint32_t* out) {
  const auto lo = static_cast<std::uint32_t>(first);
  if (lo > 0xffffffffu - (kPhiloxBatch - 1)) {  // the low counter word wraps inside the batch: rare
    philox_batch_scalar(seed, stream, first, out);
    return;
  }
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i xa = _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(lo)), lane);
  const __m256i xb = _mm256_add_epi32(xa, _mm256_set1_epi32(8));
  const __m256i y = _mm256_set1_epi32(static_cast<int>(static_cast<std::uint32_t>(first >> 32)));
  philox16_avx2(seed, stream, xa, xb, y, y, out);
}

__attribute__((target("avx2"))) void philox_gather_avx2(std::uint64_t seed, std::uint64_t stream, const std::uint64_t* calls,
                                                        std::uint32_t* out) {
  alignas(32) std::uint32_t lo[kPhiloxBatch], hi[kPhiloxBatch];
  for (int l = 0; l < kPhiloxBatch; ++l) lo[l] = static_cast<std::uint32_t>(calls[l]), hi[l] = static_cast<std::uint32_t>(calls[l] >> 32);
  const auto* vl = reinterpret_cast<const __m256i*>(lo);
  const auto* vh = reinterpret_cast<const __m256i*>(hi);
  philox16_avx2(seed, stream, _mm256_load_si256(vl), _mm256_load_si256(vl + 1), _mm256_load_si256(vh), _mm256_load_si256(vh + 1),
                out);
}

}  // namespace
#endif

void philox_gather_scalar(std::uint64_t seed, std::uint64_t stream, const std::uint64_t* calls, std::uint32_t* out) {
  for (int l = 0; l < kPhiloxBatch; ++l) {
    const kernels::Words4 w = kernels::philox_call(seed, stream, calls[l]);
    out[4 * l + 0] = w.x;
    out[4 * l + 1] = w.y;
    out[4 * l + 2] = w.z;
    out[4 * l + 3] = w.w;
  }
}

PhiloxGatherFn philox_gather() {
#if defined(PI_HAVE_AVX2_PATH)
  static const PhiloxGatherFn fn = __builtin_cpu_supports("avx2") ? philox_gather_avx2 : philox_gather_scalar;
  return fn;
#else
  return philox_gather_scalar;
#endif
}

PhiloxBatchFn philox_batch() {
#if defined(PI_HAVE_AVX2_PATH)
  static const PhiloxBatchFn fn = __builtin_cpu_supports("avx2") ? philox_batch_avx2 : philox_batch_scalar;
  return fn;
#else
  return philox_batch_scalar;
#endif
}

}  // namespace detail
}  // namespace paraminit
