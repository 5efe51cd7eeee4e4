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

// ---- Consecutive calls: the uniform halves of the first two rounds ---------------------------
// In a batch of consecutive calls only the counter's low word x differs from lane to lane (its high
// word y and the stream's words z, w are the same in every lane while x does not wrap). So half of
// each of the first two rounds is the same in every lane and is computed once, in scalar: round 1's
// z * M1 (hence x and y after it) and round 2's x * M0 (hence w after it, and the term that z takes
// from it). Round 1's per-lane products (x0 + l) * M0 are exact 64-bit sums x0 * M0 + l * M0
// (x0 + l < 2^32: no carry out) of one scalar product and a table. Left per vector of lanes: two
// adds, the split into words and a xor (round 1); one mulhilo and two xors (round 2). Of the
// batch's 20 mulhilos per lane 18 are left; with AVX-512, 12 of the 128 instructions per 16 calls
// go.
struct ConsecutiveStart {
  std::uint64_t base;  // x0 * M0: round 1's product in lane 0
  std::uint32_t kw1;   // w0 ^ (round 1's k1): z after round 1 = hi(product) ^ kw1
  std::uint32_t ky2;   // y after round 1 (uniform) ^ (round 2's k0): x after round 2 = hi(z * M1) ^ ky2
  std::uint32_t kx2;   // hi(x * M0) ^ (round 2's k1), x after round 1 being uniform: z after round 2 = w ^ kx2
  std::uint32_t w2;    // lo(x * M0): w after round 2, uniform
};

inline ConsecutiveStart consecutive_start(const std::uint32_t* keys, std::uint64_t stream, std::uint64_t first) {
  const auto x0 = static_cast<std::uint32_t>(first), y0 = static_cast<std::uint32_t>(first >> 32);
  const auto z0 = static_cast<std::uint32_t>(stream), w0 = static_cast<std::uint32_t>(stream >> 32);
  std::uint32_t hz = 0, hx = 0;
  const std::uint32_t y1 = kernels::mulhilo32(kernels::kPhiloxM1, z0, &hz);
  const std::uint32_t x1 = hz ^ y0 ^ keys[0];
  const std::uint32_t w2 = kernels::mulhilo32(kernels::kPhiloxM0, x1, &hx);
  return {std::uint64_t{x0} * kernels::kPhiloxM0, w0 ^ keys[1], y1 ^ keys[2], hx ^ keys[3], w2};
}

// l * M0 for the lanes l of a batch, even lanes and odd lanes apart (as the vector products lie).
struct alignas(64) LaneProducts {
  std::uint64_t even[kPhiloxBatch / 2];  // (2 j) * M0
  std::uint64_t odd[kPhiloxBatch / 2];   // (2 j + 1) * M0
};
constexpr LaneProducts lane_products() {
  LaneProducts t{};
  for (int j = 0; j < kPhiloxBatch / 2; ++j) {
    t.even[j] = std::uint64_t{2} * static_cast<std::uint64_t>(j) * kernels::kPhiloxM0;
    t.odd[j] = (std::uint64_t{2} * static_cast<std::uint64_t>(j) + 1) * kernels::kPhiloxM0;
  }
  return t;
}
constexpr LaneProducts kLaneProducts = lane_products();

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
  if (static_cast<std::uint32_t>(first) > 0xffffffffu - (kPhiloxBatch - 1)) return philox_batch_scalar(seed, stream, first, out);
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

// Rounds [R, kRounds) of all kPhiloxBatch calls as kSets512 interleaved sets of 16 (the xor of three
// is one ternary-logic instruction), then their words to out in call order. The rounds are unrolled
// with the round keys read from a table: in a round loop GCC kept x, y, z, w of the six sets in memory
// across iterations (30 spill moves per round); unrolled, the renaming of y = lo1, w = lo0 costs
// nothing, the keys fold into the ternary-logic instructions as broadcast memory operands, and the
// batch measured 0.187-0.189 ns per word against 0.207-0.213 (one thread, interleaved in one process).
static_assert(kPhiloxBatch % 16 == 0, "the AVX-512 batch is whole sets of 16 calls");
constexpr int kSets512 = kPhiloxBatch / 16;

template <int R>
PI_AVX512 void philox_rounds_avx512(const std::uint32_t* keys, __m512i (&x)[kSets512], __m512i (&y)[kSets512], __m512i (&z)[kSets512],
                                    __m512i (&w)[kSets512], std::uint32_t* out) {
  const __m512i m0 = _mm512_set1_epi32(static_cast<int>(kernels::kPhiloxM0));
  const __m512i m1 = _mm512_set1_epi32(static_cast<int>(kernels::kPhiloxM1));
#pragma GCC unroll 10
  for (int round = R; round < kRounds; ++round) {
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
  philox_rounds_avx512<0>(keys, x, y, z, w, out);
}

// A batch of consecutive calls (ConsecutiveStart): rounds 1 and 2 from the uniform halves, the rest
// as any batch.
__attribute__((target("avx512f"))) void philox_consecutive_avx512(std::uint64_t seed, std::uint64_t stream, std::uint64_t first,
                                                                  std::uint32_t* out) {
  std::uint32_t keys[2 * kRounds];
  round_keys(seed, keys);
  const ConsecutiveStart c = consecutive_start(keys, stream, first);
  const __m512i base = _mm512_set1_epi64(static_cast<long long>(c.base));
  const __m512i m1 = _mm512_set1_epi32(static_cast<int>(kernels::kPhiloxM1));
  __m512i x[kSets512], y[kSets512], z[kSets512], w[kSets512];
  for (int s = 0; s < kSets512; ++s) {
    const __m512i even = _mm512_add_epi64(base, _mm512_load_si512(kLaneProducts.even + 8 * s));  // lanes 0, 2, ..., 14
    const __m512i odd = _mm512_add_epi64(base, _mm512_load_si512(kLaneProducts.odd + 8 * s));    // lanes 1, 3, ..., 15
    // hi as in mulhilo16; lo: odd lanes take odd's dword 2i (its low word), moved up by CCAA.
    const __m512i hi0 = _mm512_mask_shuffle_epi32(odd, 0x5555, even, _MM_PERM_DDBB);
    const __m512i lo0 = _mm512_mask_shuffle_epi32(even, 0xAAAA, odd, _MM_PERM_CCAA);
    __m512i hi1, lo1;
    mulhilo16(_mm512_xor_si512(hi0, _mm512_set1_epi32(static_cast<int>(c.kw1))), m1, &hi1, &lo1);
    x[s] = _mm512_xor_si512(hi1, _mm512_set1_epi32(static_cast<int>(c.ky2)));
    y[s] = lo1;
    z[s] = _mm512_xor_si512(lo0, _mm512_set1_epi32(static_cast<int>(c.kx2)));
    w[s] = _mm512_set1_epi32(static_cast<int>(c.w2));
  }
  philox_rounds_avx512<2>(keys, x, y, z, w, out);
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
