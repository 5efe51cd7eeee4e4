#include "philox_batch.hpp"

#include "../kernels/philox.hpp"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include "x86_intrinsics.hpp"
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

constexpr int kRounds = 10;  // Philox4x32-10

// The round keys (k0, k1) of the ten rounds, in order: the vector loops read them from this table
// (one broadcast each; unrolled, the AVX-512 loop folds them into its instructions).
inline void round_keys(std::uint64_t seed, std::uint32_t* keys) {
  std::uint32_t k0 = static_cast<std::uint32_t>(seed), k1 = static_cast<std::uint32_t>(seed >> 32);
  for (int round = 0; round < kRounds; ++round) {
    keys[2 * round] = k0;
    keys[2 * round + 1] = k1;
    k0 += kernels::kPhiloxW0;
    k1 += kernels::kPhiloxW1;
  }
}

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
__attribute__((target("avx2"), always_inline)) inline void philox_sets_avx2(const std::uint32_t* keys, std::uint64_t stream, __m256i (&x)[S],
                                                                            __m256i (&y)[S], std::uint32_t* out) {
  __m256i z[S], w[S];
  for (int s = 0; s < S; ++s) {
    z[s] = _mm256_set1_epi32(static_cast<int>(static_cast<std::uint32_t>(stream)));
    w[s] = _mm256_set1_epi32(static_cast<int>(static_cast<std::uint32_t>(stream >> 32)));
  }
  const __m256i m0 = _mm256_set1_epi32(static_cast<int>(kernels::kPhiloxM0));
  const __m256i m1 = _mm256_set1_epi32(static_cast<int>(kernels::kPhiloxM1));
#pragma GCC unroll 10
  for (int round = 0; round < kRounds; ++round) {
    const __m256i vk0 = _mm256_set1_epi32(static_cast<int>(keys[2 * round]));
    const __m256i vk1 = _mm256_set1_epi32(static_cast<int>(keys[2 * round + 1]));
    for (int s = 0; s < S; ++s) {
      __m256i hi0, lo0, hi1, lo1;
      mulhilo8(x[s], m0, &hi0, &lo0);
      mulhilo8(z[s], m1, &hi1, &lo1);
      x[s] = _mm256_xor_si256(_mm256_xor_si256(hi1, y[s]), vk0);
      z[s] = _mm256_xor_si256(_mm256_xor_si256(hi0, w[s]), vk1);
      y[s] = lo1;
      w[s] = lo0;
    }
  }
  for (int s = 0; s < S; ++s) store_calls8(x[s], y[s], z[s], w[s], out + 32 * s);
}

// The batch as passes of at most 3 sets (registers: x, y, z, w of 3 sets and the products fill the
// 16 ymm registers), each pass writing its 8 S calls in order.
static_assert(kPhiloxBatch % 8 == 0, "the AVX2 batch is whole sets of 8 calls");
constexpr int kSets2 = kPhiloxBatch / 8;

template <int S>
__attribute__((target("avx2"), always_inline)) inline void philox_pass_avx2(const std::uint32_t* keys, std::uint64_t stream,
                                                                            const std::uint32_t* lo, const std::uint32_t* hi,
                                                                            std::uint32_t* out) {
  __m256i x[S], y[S];
  for (int s = 0; s < S; ++s) {
    x[s] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(lo) + s);
    y[s] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(hi) + s);
  }
  philox_sets_avx2<S>(keys, stream, x, y, out);
}

// Counters (lo[l], hi[l]) of the kPhiloxBatch calls -> out.
__attribute__((target("avx2"))) void philox_counters_avx2(std::uint64_t seed, std::uint64_t stream, const std::uint32_t* lo,
                                                          const std::uint32_t* hi, std::uint32_t* out) {
  std::uint32_t keys[2 * kRounds];
  round_keys(seed, keys);
  int s = 0;
  for (; s + 3 <= kSets2; s += 3) philox_pass_avx2<3>(keys, stream, lo + 8 * s, hi + 8 * s, out + 32 * s);
  if constexpr (kSets2 % 3 == 2) philox_pass_avx2<2>(keys, stream, lo + 8 * s, hi + 8 * s, out + 32 * s);
  if constexpr (kSets2 % 3 == 1) philox_pass_avx2<1>(keys, stream, lo + 8 * s, hi + 8 * s, out + 32 * s);
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

// 4 x 16 transpose: lanes of (x, y, z, w) -> 16 calls of 4 words, stored at out[0, 64). Two levels
// of two-source permutes (8 instructions; the unpack / 128-bit shuffle network took 16).
PI_AVX512 void store_calls16(__m512i x, __m512i y, __m512i z, __m512i w, std::uint32_t* out) {
  // Pairs: xy_lo = x0 y0 x1 y1 ... x7 y7, xy_hi = x8 y8 ... x15 y15 (zw alike).
  const __m512i pair_lo = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
  const __m512i pair_hi = _mm512_set_epi32(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8);
  const __m512i xy_lo = _mm512_permutex2var_epi32(x, pair_lo, y), xy_hi = _mm512_permutex2var_epi32(x, pair_hi, y);
  const __m512i zw_lo = _mm512_permutex2var_epi32(z, pair_lo, w), zw_hi = _mm512_permutex2var_epi32(z, pair_hi, w);
  // Calls: (x y) pairs of one source with the (z w) pairs of the other, 64 bits at a time.
  const __m512i call_lo = _mm512_set_epi64(11, 3, 10, 2, 9, 1, 8, 0);
  const __m512i call_hi = _mm512_set_epi64(15, 7, 14, 6, 13, 5, 12, 4);
  auto* o = reinterpret_cast<__m512i*>(out);
  _mm512_storeu_si512(o + 0, _mm512_permutex2var_epi64(xy_lo, call_lo, zw_lo));  // calls 0 1 2 3
  _mm512_storeu_si512(o + 1, _mm512_permutex2var_epi64(xy_lo, call_hi, zw_lo));  // 4 5 6 7
  _mm512_storeu_si512(o + 2, _mm512_permutex2var_epi64(xy_hi, call_lo, zw_hi));  // 8 9 10 11
  _mm512_storeu_si512(o + 3, _mm512_permutex2var_epi64(xy_hi, call_hi, zw_hi));  // 12 13 14 15
}

// All kPhiloxBatch calls as kSets512 interleaved sets of 16 (the xor of three is one ternary-logic
// instruction). The ten rounds are unrolled with the round keys read from a table: in a round loop
// GCC kept x, y, z, w of the six sets in memory across iterations (30 spill moves per round); unrolled,
// the renaming of y = lo1, w = lo0 costs nothing, the keys fold into the ternary-logic instructions as
// broadcast memory operands, and the batch measured 0.187-0.189 ns per word against 0.207-0.213
// (one thread, interleaved in one process).
static_assert(kPhiloxBatch % 16 == 0, "the AVX-512 batch is whole sets of 16 calls");
constexpr int kSets512 = kPhiloxBatch / 16;

__attribute__((target("avx512f"))) void philox_counters_avx512(std::uint64_t seed, std::uint64_t stream, const std::uint32_t* lo,
                                                               const std::uint32_t* hi, std::uint32_t* out) {
  std::uint32_t keys[2 * kRounds];
  round_keys(seed, keys);
  __m512i x[kSets512], y[kSets512], z[kSets512], w[kSets512];
  for (int s = 0; s < kSets512; ++s) {
    x[s] = _mm512_loadu_si512(lo + 16 * s);
    y[s] = _mm512_loadu_si512(hi + 16 * s);
    z[s] = _mm512_set1_epi32(static_cast<int>(static_cast<std::uint32_t>(stream)));
    w[s] = _mm512_set1_epi32(static_cast<int>(static_cast<std::uint32_t>(stream >> 32)));
  }
  const __m512i m0 = _mm512_set1_epi32(static_cast<int>(kernels::kPhiloxM0));
  const __m512i m1 = _mm512_set1_epi32(static_cast<int>(kernels::kPhiloxM1));
#pragma GCC unroll 10
  for (int round = 0; round < kRounds; ++round) {
    const __m512i vk0 = _mm512_set1_epi32(static_cast<int>(keys[2 * round]));
    const __m512i vk1 = _mm512_set1_epi32(static_cast<int>(keys[2 * round + 1]));
#pragma GCC unroll 6
    for (int s = 0; s < kSets512; ++s) {
      __m512i hi0, lo0, hi1, lo1;
      mulhilo16(x[s], m0, &hi0, &lo0);
      mulhilo16(z[s], m1, &hi1, &lo1);
      x[s] = _mm512_ternarylogic_epi32(hi1, y[s], vk0, 0x96);  // hi1 ^ y ^ k0
      z[s] = _mm512_ternarylogic_epi32(hi0, w[s], vk1, 0x96);  // hi0 ^ w ^ k1
      y[s] = lo1;
      w[s] = lo0;
    }
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
