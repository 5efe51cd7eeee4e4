#include "philox_batch.hpp"

#include "../kernels/philox.hpp"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
// GCC 12's AVX-512 headers build their "undefined" vectors from themselves (__m512i __Y = __Y),
// which -W(maybe-)uninitialized reports at every inlined use; the warning is about the header's idiom.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>
#pragma GCC diagnostic pop
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

// 8 S calls whose counters' low and high words are the lanes of x[s] and y[s] (call 8 s + l in
// lane l of set s). The S sets are independent chains interleaved round by round: 3 sets measured
// ~7% faster per word than 2 (0.73 vs 0.79 ns, single thread), 4 spill registers.
template <int S>
__attribute__((target("avx2"), always_inline)) inline void philox_sets_avx2(std::uint64_t seed, std::uint64_t stream, __m256i (&x)[S],
                                                                            __m256i (&y)[S], std::uint32_t* out) {
  __m256i z[S], w[S];
  for (int s = 0; s < S; ++s) {
    z[s] = _mm256_set1_epi32(static_cast<int>(static_cast<std::uint32_t>(stream)));
    w[s] = _mm256_set1_epi32(static_cast<int>(static_cast<std::uint32_t>(stream >> 32)));
  }
  const __m256i m0 = _mm256_set1_epi32(static_cast<int>(kernels::kPhiloxM0));
  const __m256i m1 = _mm256_set1_epi32(static_cast<int>(kernels::kPhiloxM1));
  std::uint32_t k0 = static_cast<std::uint32_t>(seed), k1 = static_cast<std::uint32_t>(seed >> 32);
  for (int round = 0; round < 10; ++round) {
    const __m256i vk0 = _mm256_set1_epi32(static_cast<int>(k0)), vk1 = _mm256_set1_epi32(static_cast<int>(k1));
    for (int s = 0; s < S; ++s) {
      __m256i hi0, lo0, hi1, lo1;
      mulhilo8(x[s], m0, &hi0, &lo0);
      mulhilo8(z[s], m1, &hi1, &lo1);
      x[s] = _mm256_xor_si256(_mm256_xor_si256(hi1, y[s]), vk0);
      z[s] = _mm256_xor_si256(_mm256_xor_si256(hi0, w[s]), vk1);
      y[s] = lo1;
      w[s] = lo0;
    }
    k0 += kernels::kPhiloxW0;
    k1 += kernels::kPhiloxW1;
  }
  for (int s = 0; s < S; ++s) store_calls8(x[s], y[s], z[s], w[s], out + 32 * s);
}

// The batch as passes of at most 3 sets (registers: x, y, z, w of 3 sets and the products fill the
// 16 ymm registers), each pass writing its 8 S calls in order.
static_assert(kPhiloxBatch % 8 == 0, "the AVX2 batch is whole sets of 8 calls");
constexpr int kSets2 = kPhiloxBatch / 8;

template <int S>
__attribute__((target("avx2"), always_inline)) inline void philox_pass_avx2(std::uint64_t seed, std::uint64_t stream,
                                                                            const std::uint32_t* lo, const std::uint32_t* hi,
                                                                            std::uint32_t* out) {
  __m256i x[S], y[S];
  for (int s = 0; s < S; ++s) {
    x[s] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(lo) + s);
    y[s] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(hi) + s);
  }
  philox_sets_avx2<S>(seed, stream, x, y, out);
}

// Counters (lo[l], hi[l]) of the kPhiloxBatch calls -> out.
__attribute__((target("avx2"))) void philox_counters_avx2(std::uint64_t seed, std::uint64_t stream, const std::uint32_t* lo,
                                                          const std::uint32_t* hi, std::uint32_t* out) {
  int s = 0;
  for (; s + 3 <= kSets2; s += 3) philox_pass_avx2<3>(seed, stream, lo + 8 * s, hi + 8 * s, out + 32 * s);
  if constexpr (kSets2 % 3 == 2) philox_pass_avx2<2>(seed, stream, lo + 8 * s, hi + 8 * s, out + 32 * s);
  if constexpr (kSets2 % 3 == 1) philox_pass_avx2<1>(seed, stream, lo + 8 * s, hi + 8 * s, out + 32 * s);
}

// The counters of calls first, first + 1, ...: false where the low word wraps inside the batch (rare:
// the caller then runs the scalar calls).
inline bool consecutive_counters(std::uint64_t first, std::uint32_t* lo, std::uint32_t* hi) {
  const auto lo0 = static_cast<std::uint32_t>(first);
  if (lo0 > 0xffffffffu - (kPhiloxBatch - 1)) return false;
  for (int l = 0; l < kPhiloxBatch; ++l) lo[l] = lo0 + static_cast<std::uint32_t>(l), hi[l] = static_cast<std::uint32_t>(first >> 32);
  return true;
}

inline void split_counters(const std::uint64_t* calls, std::uint32_t* lo, std::uint32_t* hi) {
  for (int l = 0; l < kPhiloxBatch; ++l) lo[l] = static_cast<std::uint32_t>(calls[l]), hi[l] = static_cast<std::uint32_t>(calls[l] >> 32);
}

// The batch and gather entry points of a tier, from its counters function: the counters of the calls
// as (lo, hi) word arrays, then the vector sets.
using CountersFn = void (*)(std::uint64_t seed, std::uint64_t stream, const std::uint32_t* lo, const std::uint32_t* hi,
                            std::uint32_t* out);

template <CountersFn Counters>
void philox_batch_of(std::uint64_t seed, std::uint64_t stream, std::uint64_t first, std::uint32_t* out) {
  alignas(64) std::uint32_t lo[kPhiloxBatch], hi[kPhiloxBatch];
  if (!consecutive_counters(first, lo, hi)) return philox_batch_scalar(seed, stream, first, out);
  Counters(seed, stream, lo, hi, out);
}

template <CountersFn Counters>
void philox_gather_of(std::uint64_t seed, std::uint64_t stream, const std::uint64_t* calls, std::uint32_t* out) {
  alignas(64) std::uint32_t lo[kPhiloxBatch], hi[kPhiloxBatch];
  split_counters(calls, lo, hi);
  Counters(seed, stream, lo, hi, out);
}

// ---- AVX-512F: 16 calls per set --------------------------------------------------------------
#define PI_AVX512 __attribute__((target("avx512f"), always_inline)) inline

// (hi, lo) of the 16 lane-wise 32x32 -> 64-bit products a * m (m: the multiplier in every lane).
PI_AVX512 void mulhilo16(__m512i a, __m512i m, __m512i* hi, __m512i* lo) {
  const __m512i even = _mm512_mul_epu32(a, m);                         // lanes 0, 2, ..., 14
  const __m512i odd = _mm512_mul_epu32(_mm512_srli_epi64(a, 32), m);  // lanes 1, 3, ..., 15
  // Even lanes take even's high word (its dword 2i + 1, moved down by the DDBB shuffle), odd lanes odd's.
  *hi = _mm512_mask_shuffle_epi32(odd, 0x5555, even, _MM_PERM_DDBB);
  *lo = _mm512_mullo_epi32(a, m);  // the low words: measured faster here than a second masked shuffle
}

// 4 x 16 transpose: lanes of (x, y, z, w) -> 16 calls of 4 words, stored at out[0, 64).
PI_AVX512 void store_calls16(__m512i x, __m512i y, __m512i z, __m512i w, std::uint32_t* out) {
  const __m512i t0 = _mm512_unpacklo_epi32(x, y), t1 = _mm512_unpackhi_epi32(x, y);
  const __m512i t2 = _mm512_unpacklo_epi32(z, w), t3 = _mm512_unpackhi_epi32(z, w);
  // 128-bit blocks (one call each): u0 = calls 0 4 8 12, u1 = 1 5 9 13, u2 = 2 6 10 14, u3 = 3 7 11 15.
  const __m512i u0 = _mm512_unpacklo_epi64(t0, t2), u1 = _mm512_unpackhi_epi64(t0, t2);
  const __m512i u2 = _mm512_unpacklo_epi64(t1, t3), u3 = _mm512_unpackhi_epi64(t1, t3);
  const __m512i v0 = _mm512_shuffle_i64x2(u0, u1, 0x88);  // calls 0 8 1 9
  const __m512i v1 = _mm512_shuffle_i64x2(u0, u1, 0xDD);  // 4 12 5 13
  const __m512i v2 = _mm512_shuffle_i64x2(u2, u3, 0x88);  // 2 10 3 11
  const __m512i v3 = _mm512_shuffle_i64x2(u2, u3, 0xDD);  // 6 14 7 15
  auto* o = reinterpret_cast<__m512i*>(out);
  _mm512_storeu_si512(o + 0, _mm512_shuffle_i64x2(v0, v2, 0x88));  // 0 1 2 3
  _mm512_storeu_si512(o + 1, _mm512_shuffle_i64x2(v1, v3, 0x88));  // 4 5 6 7
  _mm512_storeu_si512(o + 2, _mm512_shuffle_i64x2(v0, v2, 0xDD));  // 8 9 10 11
  _mm512_storeu_si512(o + 3, _mm512_shuffle_i64x2(v1, v3, 0xDD));  // 12 13 14 15
}

// All kPhiloxBatch calls as kSets512 interleaved sets of 16 (32 zmm registers hold them without
// spilling; the xor of three is one ternary-logic instruction).
static_assert(kPhiloxBatch % 16 == 0, "the AVX-512 batch is whole sets of 16 calls");
constexpr int kSets512 = kPhiloxBatch / 16;

__attribute__((target("avx512f"))) void philox_counters_avx512(std::uint64_t seed, std::uint64_t stream, const std::uint32_t* lo,
                                                               const std::uint32_t* hi, std::uint32_t* out) {
  __m512i x[kSets512], y[kSets512], z[kSets512], w[kSets512];
  for (int s = 0; s < kSets512; ++s) {
    x[s] = _mm512_loadu_si512(lo + 16 * s);
    y[s] = _mm512_loadu_si512(hi + 16 * s);
    z[s] = _mm512_set1_epi32(static_cast<int>(static_cast<std::uint32_t>(stream)));
    w[s] = _mm512_set1_epi32(static_cast<int>(static_cast<std::uint32_t>(stream >> 32)));
  }
  const __m512i m0 = _mm512_set1_epi32(static_cast<int>(kernels::kPhiloxM0));
  const __m512i m1 = _mm512_set1_epi32(static_cast<int>(kernels::kPhiloxM1));
  std::uint32_t k0 = static_cast<std::uint32_t>(seed), k1 = static_cast<std::uint32_t>(seed >> 32);
  for (int round = 0; round < 10; ++round) {
    const __m512i vk0 = _mm512_set1_epi32(static_cast<int>(k0)), vk1 = _mm512_set1_epi32(static_cast<int>(k1));
    for (int s = 0; s < kSets512; ++s) {
      __m512i hi0, lo0, hi1, lo1;
      mulhilo16(x[s], m0, &hi0, &lo0);
      mulhilo16(z[s], m1, &hi1, &lo1);
      x[s] = _mm512_ternarylogic_epi32(hi1, y[s], vk0, 0x96);  // hi1 ^ y ^ k0
      z[s] = _mm512_ternarylogic_epi32(hi0, w[s], vk1, 0x96);  // hi0 ^ w ^ k1
      y[s] = lo1;
      w[s] = lo0;
    }
    k0 += kernels::kPhiloxW0;
    k1 += kernels::kPhiloxW1;
  }
  for (int s = 0; s < kSets512; ++s) store_calls16(x[s], y[s], z[s], w[s], out + 64 * s);
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

PhiloxGatherFn philox_gather(CpuTier tier) {
#if defined(PI_HAVE_AVX2_PATH)
  if (tier == CpuTier::avx512) return philox_gather_of<philox_counters_avx512>;
  if (tier == CpuTier::avx2) return philox_gather_of<philox_counters_avx2>;
#else
  (void)tier;
#endif
  return philox_gather_scalar;
}

PhiloxBatchFn philox_batch(CpuTier tier) {
#if defined(PI_HAVE_AVX2_PATH)
  if (tier == CpuTier::avx512) return philox_batch_of<philox_counters_avx512>;
  if (tier == CpuTier::avx2) return philox_batch_of<philox_counters_avx2>;
#else
  (void)tier;
#endif
  return philox_batch_scalar;
}

}  // namespace detail
}  // namespace paraminit
