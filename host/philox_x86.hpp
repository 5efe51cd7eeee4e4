// The x86-64 vector Philox4x32-10 of the CPU backend (GCC/Clang on x86-64 only; include inside such
// a guard): the pieces that philox_batch.cpp runs as the batch and cpu_simd.cpp fuses with the
// uniform f32 block (its results go to a callable instead of memory). Every function is inlined into
// its caller, whose target attribute must include the function's.
#pragma once

#include <cstdint>

#include "../kernels/philox.hpp"
#include "philox_batch.hpp"
#include "x86_intrinsics.hpp"

#define PI_AVX512 __attribute__((target("avx512f"), always_inline)) inline

namespace paraminit {
namespace detail {
namespace philox_x86 {

inline constexpr int kRounds = 10;  // Philox4x32-10

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
inline constexpr LaneProducts kLaneProducts = lane_products();

// ---- AVX-512F: 16 calls per set --------------------------------------------------------------

// (hi, lo) of the 16 lane-wise 32x32 -> 64-bit products a * m (m: the multiplier in every lane).
PI_AVX512 void mulhilo16(__m512i a, __m512i m, __m512i* hi, __m512i* lo) {
  const __m512i even = _mm512_mul_epu32(a, m);                         // lanes 0, 2, ..., 14
  const __m512i odd = _mm512_mul_epu32(_mm512_srli_epi64(a, 32), m);  // lanes 1, 3, ..., 15
  // Even lanes take even's high word (its dword 2i + 1, moved down by the DDBB shuffle), odd lanes odd's.
  *hi = _mm512_mask_shuffle_epi32(odd, 0x5555, even, _MM_PERM_DDBB);
  *lo = _mm512_mullo_epi32(a, m);  // the low words: measured faster here than a second masked shuffle
}

// 4 x 16 transpose: lanes of (x, y, z, w) -> 16 calls of 4 words, to(e + 16 k, v) with v the words
// of calls 4 k .. 4 k + 3 in order (k = 0 .. 3). Two levels of two-source permutes (8 instructions;
// the unpack / 128-bit shuffle network took 16).
template <class To>
PI_AVX512 void calls16(__m512i x, __m512i y, __m512i z, __m512i w, To& to, int e) {
  // Pairs: xy_lo = x0 y0 x1 y1 ... x7 y7, xy_hi = x8 y8 ... x15 y15 (zw alike).
  const __m512i pair_lo = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
  const __m512i pair_hi = _mm512_set_epi32(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8);
  const __m512i xy_lo = _mm512_permutex2var_epi32(x, pair_lo, y), xy_hi = _mm512_permutex2var_epi32(x, pair_hi, y);
  const __m512i zw_lo = _mm512_permutex2var_epi32(z, pair_lo, w), zw_hi = _mm512_permutex2var_epi32(z, pair_hi, w);
  // Calls: (x y) pairs of one source with the (z w) pairs of the other, 64 bits at a time.
  const __m512i call_lo = _mm512_set_epi64(11, 3, 10, 2, 9, 1, 8, 0);
  const __m512i call_hi = _mm512_set_epi64(15, 7, 14, 6, 13, 5, 12, 4);
  to(e + 0, _mm512_permutex2var_epi64(xy_lo, call_lo, zw_lo));  // calls 0 1 2 3
  to(e + 16, _mm512_permutex2var_epi64(xy_lo, call_hi, zw_lo));  // 4 5 6 7
  to(e + 32, _mm512_permutex2var_epi64(xy_hi, call_lo, zw_hi));  // 8 9 10 11
  to(e + 48, _mm512_permutex2var_epi64(xy_hi, call_hi, zw_hi));  // 12 13 14 15
}

// The AVX-512 batch's usual destination: the words, stored in call order.
struct WordsTo {
  std::uint32_t* out;
  PI_AVX512 void operator()(int e, __m512i v) const { _mm512_storeu_si512(out + e, v); }
};

// Rounds [R, kRounds) of all kPhiloxBatch calls as kSets512 interleaved sets of 16 (the xor of three
// is one ternary-logic instruction), then their words to `to` in call order: to(e, v) with v the
// words [e, e + 16) of the batch, e = 0, 16, ..., 4 kPhiloxBatch - 16. The rounds are unrolled
// with the round keys read from a table: in a round loop GCC kept x, y, z, w of the six sets in memory
// across iterations (30 spill moves per round); unrolled, the renaming of y = lo1, w = lo0 costs
// nothing, the keys fold into the ternary-logic instructions as broadcast memory operands, and the
// batch measured 0.187-0.189 ns per word against 0.207-0.213 (one thread, interleaved in one process).
static_assert(kPhiloxBatch % 16 == 0, "the AVX-512 batch is whole sets of 16 calls");
inline constexpr int kSets512 = kPhiloxBatch / 16;

template <int R, class To>
PI_AVX512 void philox_rounds_avx512(const std::uint32_t* keys, __m512i (&x)[kSets512], __m512i (&y)[kSets512], __m512i (&z)[kSets512],
                                    __m512i (&w)[kSets512], To& to) {
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
  for (int s = 0; s < kSets512; ++s) calls16(x[s], y[s], z[s], w[s], to, 64 * s);
}

// A batch of consecutive calls (ConsecutiveStart): rounds 1 and 2 from the uniform halves, the rest
// as any batch. first's low word + kPhiloxBatch - 1 must not wrap (the caller checks batch_wraps).
template <class To>
PI_AVX512 void philox_consecutive512(std::uint64_t seed, std::uint64_t stream, std::uint64_t first, To& to) {
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
  philox_rounds_avx512<2>(keys, x, y, z, w, to);
}

}  // namespace philox_x86
}  // namespace detail
}  // namespace paraminit
