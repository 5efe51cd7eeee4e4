#include "philox_batch.hpp"

#include "../kernels/philox.hpp"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include "philox_x86.hpp"
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
using namespace philox_x86;

// (hi, lo) words of 8 lanes from their 64-bit products: even = lanes 0, 2, 4, 6, odd = 1, 3, 5, 7.
__attribute__((target("avx2"), always_inline)) inline void split8(__m256i even, __m256i odd, __m256i* hi, __m256i* lo) {
  *hi = _mm256_blend_epi32(_mm256_shuffle_epi32(even, 0xF5), odd, 0xAA);
  *lo = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
}

// (hi, lo) of the 8 lane-wise 32x32 -> 64-bit products a * m.
__attribute__((target("avx2"), always_inline)) inline void mulhilo8(__m256i a, __m256i m, __m256i* hi, __m256i* lo) {
  // Shuffles instead of shifts where either works (they issue on more ports; ~5% faster in a
  // single-thread microbenchmark of the batch, within the noise of the full table).
  split8(_mm256_mul_epu32(a, m), _mm256_mul_epu32(_mm256_shuffle_epi32(a, 0xF5), m), hi, lo);
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

// Rounds [R, kRounds) of S sets of 8 calls (call 8 s + l in lane l of set s), then their words to
// out in call order. The S sets are independent chains interleaved round by round: 3 sets measured
// ~7% faster per word than 2 (0.73 vs 0.79 ns, single thread), 4 spill registers.
template <int R, int S>
__attribute__((target("avx2"), always_inline)) inline void philox_rounds_avx2(const std::uint32_t* keys, __m256i (&x)[S], __m256i (&y)[S],
                                                                              __m256i (&z)[S], __m256i (&w)[S], std::uint32_t* out) {
  const __m256i m0 = _mm256_set1_epi32(static_cast<int>(kernels::kPhiloxM0));
  const __m256i m1 = _mm256_set1_epi32(static_cast<int>(kernels::kPhiloxM1));
#pragma GCC unroll 10
  for (int round = R; round < kRounds; ++round) {
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
  __m256i x[S], y[S], z[S], w[S];
  for (int s = 0; s < S; ++s) {
    x[s] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(lo) + s);
    y[s] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(hi) + s);
    z[s] = _mm256_set1_epi32(static_cast<int>(static_cast<std::uint32_t>(stream)));
    w[s] = _mm256_set1_epi32(static_cast<int>(static_cast<std::uint32_t>(stream >> 32)));
  }
  philox_rounds_avx2<0, S>(keys, x, y, z, w, out);
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

// Sets set0 .. set0 + S - 1 of a batch of consecutive calls: rounds 1 and 2 from `c`, the rest as
// any batch.
template <int S>
__attribute__((target("avx2"), always_inline)) inline void philox_consecutive_pass_avx2(const std::uint32_t* keys, const ConsecutiveStart& c,
                                                                                        int set0, std::uint32_t* out) {
  const __m256i base = _mm256_set1_epi64x(static_cast<long long>(c.base));
  const __m256i m1 = _mm256_set1_epi32(static_cast<int>(kernels::kPhiloxM1));
  __m256i x[S], y[S], z[S], w[S];
  for (int s = 0; s < S; ++s) {
    const auto* even = reinterpret_cast<const __m256i*>(kLaneProducts.even) + set0 + s;  // 4 lanes a vector
    const auto* odd = reinterpret_cast<const __m256i*>(kLaneProducts.odd) + set0 + s;
    __m256i hi0, lo0, hi1, lo1;
    split8(_mm256_add_epi64(base, _mm256_load_si256(even)), _mm256_add_epi64(base, _mm256_load_si256(odd)), &hi0, &lo0);
    mulhilo8(_mm256_xor_si256(hi0, _mm256_set1_epi32(static_cast<int>(c.kw1))), m1, &hi1, &lo1);
    x[s] = _mm256_xor_si256(hi1, _mm256_set1_epi32(static_cast<int>(c.ky2)));
    y[s] = lo1;
    z[s] = _mm256_xor_si256(lo0, _mm256_set1_epi32(static_cast<int>(c.kx2)));
    w[s] = _mm256_set1_epi32(static_cast<int>(c.w2));
  }
  philox_rounds_avx2<2, S>(keys, x, y, z, w, out);
}

__attribute__((target("avx2"))) void philox_consecutive_avx2(std::uint64_t seed, std::uint64_t stream, std::uint64_t first,
                                                             std::uint32_t* out) {
  std::uint32_t keys[2 * kRounds];
  round_keys(seed, keys);
  const ConsecutiveStart c = consecutive_start(keys, stream, first);
  int s = 0;
  for (; s + 3 <= kSets2; s += 3) philox_consecutive_pass_avx2<3>(keys, c, s, out + 32 * s);
  if constexpr (kSets2 % 3 == 2) philox_consecutive_pass_avx2<2>(keys, c, s, out + 32 * s);
  if constexpr (kSets2 % 3 == 1) philox_consecutive_pass_avx2<1>(keys, c, s, out + 32 * s);
}

inline void split_counters(const std::uint64_t* calls, std::uint32_t* lo, std::uint32_t* hi) {
  for (int l = 0; l < kPhiloxBatch; ++l) lo[l] = static_cast<std::uint32_t>(calls[l]), hi[l] = static_cast<std::uint32_t>(calls[l] >> 32);
}

// The batch entry point of a tier: its consecutive-calls function where the counters' low word does
// not wrap inside the batch, the scalar calls where it does (rare).
template <PhiloxBatchFn Consecutive>
void philox_batch_of(std::uint64_t seed, std::uint64_t stream, std::uint64_t first, std::uint32_t* out) {
  if (batch_wraps(first)) return philox_batch_scalar(seed, stream, first, out);
  Consecutive(seed, stream, first, out);
}

// The gather entry point of a tier, from its counters function: the counters of the calls as (lo, hi)
// word arrays, then the vector sets.
using CountersFn = void (*)(std::uint64_t seed, std::uint64_t stream, const std::uint32_t* lo, const std::uint32_t* hi,
                            std::uint32_t* out);

template <CountersFn Counters>
void philox_gather_of(std::uint64_t seed, std::uint64_t stream, const std::uint64_t* calls, std::uint32_t* out) {
  alignas(64) std::uint32_t lo[kPhiloxBatch], hi[kPhiloxBatch];
  split_counters(calls, lo, hi);
  Counters(seed, stream, lo, hi, out);
}

// ---- AVX-512F (philox_x86.hpp) ---------------------------------------------------------------
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
  WordsTo to{out};
  philox_rounds_avx512<0>(keys, x, y, z, w, to);
}

__attribute__((target("avx512f"))) void philox_consecutive_avx512(std::uint64_t seed, std::uint64_t stream, std::uint64_t first,
                                                                  std::uint32_t* out) {
  WordsTo to{out};
  philox_consecutive512(seed, stream, first, to);
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
  if (tier == CpuTier::avx512) return philox_batch_of<philox_consecutive_avx512>;
  if (tier == CpuTier::avx2) return philox_batch_of<philox_consecutive_avx2>;
#else
  (void)tier;
#endif
  return philox_batch_scalar;
}

}  // namespace detail
}  // namespace paraminit
