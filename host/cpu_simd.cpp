// AVX2 blocks of the CPU fills (see cpu_simd.hpp). Each function is the lane-wise transcription of
// the kernels/ element function named beside it: the same + - * / sqrt fma floor and exact integer
// steps, in the same order, on the same constants. Compiled with the library's -ffp-contract=off,
// so a multiply and an add stay two roundings (GCC's intrinsics are plain vector expressions).
#include "cpu_simd.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>

#include "philox_batch.hpp"

#if defined(PI_SIMD_X86)
#include <cpuid.h>
#include "philox_x86.hpp"
#include "x86_intrinsics.hpp"
#define PI_AVX2 __attribute__((target("avx2,fma,f16c"), always_inline)) inline
#define PI_AVX2_FN __attribute__((target("avx2,fma,f16c")))
#endif

namespace paraminit {
namespace detail {

namespace {
// The portable loop: head up to 8-byte alignment, 8-byte words, tail.
void fill_pattern_words(unsigned char* p, std::size_t bytes, const unsigned char* b, std::uint64_t pattern) {
  // Whole elements, and the pattern is the element repeated, so any element-aligned start takes
  // the pattern's first bytes.
  const std::size_t head = std::min(bytes, (8 - reinterpret_cast<std::uintptr_t>(p) % 8) % 8);
  std::memcpy(p, b, head);
  p += head;
  bytes -= head;
  auto* q = reinterpret_cast<std::uint64_t*>(p);
  std::fill(q, q + bytes / 8, pattern);
  std::memcpy(p + (bytes & ~std::size_t{7}), b, bytes % 8);
}

#if defined(PI_SIMD_X86)
// The streaming loop: the head up to 32-byte alignment (a multiple of the element size, since p is
// element-aligned and 32 is a multiple of it) by the portable loop, 128-byte steps of four
// non-temporal 32-byte stores, then whole 32-byte stores, the tail by the portable loop; each
// piece starts element-aligned, so each takes the pattern from its first byte. The sfence orders
// the weakly-ordered stores before whatever the thread does next (the pool's hand-off).
PI_AVX2_FN void fill_pattern_stream(unsigned char* p, std::size_t bytes, const unsigned char* b, std::uint64_t pattern) {
  const std::size_t head = std::min(bytes, (32 - reinterpret_cast<std::uintptr_t>(p) % 32) % 32);
  fill_pattern_words(p, head, b, pattern);
  p += head;
  bytes -= head;
  const __m256i v = _mm256_set1_epi64x(static_cast<long long>(pattern));
  auto* q = reinterpret_cast<__m256i*>(p);
  std::size_t k = 0;
  const std::size_t n32 = bytes / 32;
  for (; k + 4 <= n32; k += 4) {
    _mm256_stream_si256(q + k, v);
    _mm256_stream_si256(q + k + 1, v);
    _mm256_stream_si256(q + k + 2, v);
    _mm256_stream_si256(q + k + 3, v);
  }
  for (; k < n32; ++k) _mm256_stream_si256(q + k, v);
  _mm_sfence();
  fill_pattern_words(p + n32 * 32, bytes % 32, b, pattern);
}
#endif
}  // namespace

#if defined(PI_SIMD_X86)
namespace {
__attribute__((target("avx512f"))) void stream_lines_avx512(unsigned char* dst, const unsigned char* src, std::size_t lines) {
  for (std::size_t k = 0; k < lines; ++k)
    _mm512_stream_si512(reinterpret_cast<__m512i*>(dst + 64 * k), _mm512_loadu_si512(src + 64 * k));
}
PI_AVX2_FN void stream_lines_avx2(unsigned char* dst, const unsigned char* src, std::size_t lines) {
  for (std::size_t k = 0; k < 2 * lines; ++k)
    _mm256_stream_si256(reinterpret_cast<__m256i*>(dst) + k, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src) + k));
}
void stream_lines_sse2(unsigned char* dst, const unsigned char* src, std::size_t lines) {
  for (std::size_t k = 0; k < 4 * lines; ++k)
    _mm_stream_si128(reinterpret_cast<__m128i*>(dst) + k, _mm_loadu_si128(reinterpret_cast<const __m128i*>(src) + k));
}
}  // namespace
#endif

void stream_lines(CpuTier tier, void* dst, const void* src, std::size_t lines) {
  auto* d = static_cast<unsigned char*>(dst);
  const auto* s = static_cast<const unsigned char*>(src);
#if defined(PI_SIMD_X86)
  if (tier == CpuTier::avx512) return stream_lines_avx512(d, s, lines);
  if (tier == CpuTier::avx2) return stream_lines_avx2(d, s, lines);
  return stream_lines_sse2(d, s, lines);
#else
  (void)tier;
  std::memcpy(d, s, lines * 64);
#endif
}

void stream_fence() {
#if defined(PI_SIMD_X86)
  _mm_sfence();
#endif
}

void fill_pattern(void* dst, std::size_t bytes, std::uint64_t pattern, bool stream) {
  unsigned char b[8];
  std::memcpy(b, &pattern, 8);
  if (std::all_of(b, b + 8, [&](unsigned char c) { return c == b[0]; })) {
    std::memset(dst, b[0], bytes);  // glibc streams large sizes itself
    return;
  }
  auto* p = static_cast<unsigned char*>(dst);
#if defined(PI_SIMD_X86)
  if (stream && simd::available()) {
    fill_pattern_stream(p, bytes, b, pattern);
    return;
  }
#else
  (void)stream;
#endif
  fill_pattern_words(p, bytes, b, pattern);
}

namespace {
std::atomic<int> g_tier_override{-1};  // -1: none
}  // namespace

CpuTier cpu_best_tier() {
#if defined(PI_SIMD_X86)
  static const CpuTier best = [] {
    unsigned a = 0, b = 0, c = 0, d = 0;  // F16C: CPUID.1:ECX bit 29 (Clang's builtin does not name it)
    const bool f16c = __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29)) != 0;
    // GCC's and Clang's checks include the OS's XSAVE support of the ymm / zmm state.
    if (!(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && f16c)) return CpuTier::portable;
    const bool v4 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                    __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
                    __builtin_cpu_supports("avx512cd");
    return v4 ? CpuTier::avx512 : CpuTier::avx2;
  }();
  return best;
#else
  return CpuTier::portable;
#endif
}

CpuTier cpu_tier() {
  const int forced = g_tier_override.load(std::memory_order_relaxed);
  const CpuTier best = cpu_best_tier();
  return forced < 0 || forced > static_cast<int>(best) ? best : static_cast<CpuTier>(forced);
}

ScopedCpuTier::ScopedCpuTier(CpuTier tier) : previous_(g_tier_override.exchange(static_cast<int>(tier))) {}
ScopedCpuTier::~ScopedCpuTier() { g_tier_override.store(previous_); }

const char* tier_name(CpuTier tier) {
  switch (tier) {
    case CpuTier::avx512: return "avx512";
    case CpuTier::avx2: return "avx2";
    default: return "portable";
  }
}

namespace simd {

#if defined(PI_SIMD_X86)
bool available() { return cpu_tier() != CpuTier::portable; }

namespace {

constexpr int kWords = 4 * kPhiloxBatch;

// ---- f32 lanes -------------------------------------------------------------------------------

PI_AVX2 __m256i load8(const std::uint32_t* w) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w)); }

// kernels::sym_f32 of 8 words.
PI_AVX2 __m256 sym_f32(__m256i x) {
  const __m256i odd = _mm256_sub_epi32(_mm256_add_epi32(_mm256_slli_epi32(_mm256_srli_epi32(x, 8), 1), _mm256_set1_epi32(1)),
                                       _mm256_set1_epi32(1 << 24));
  return _mm256_mul_ps(_mm256_cvtepi32_ps(odd), _mm256_set1_ps(0x1p-24f));
}
// kernels::clamp_(v, lo, hi) for v not NaN: !(v >= lo) ? lo : v is lo > v ? lo : v (MAXPS(lo, v)),
// v > hi ? hi : v is hi < v ? hi : v (MINPS(hi, v)); signed zeros included.
PI_AVX2 __m256 clamp8(__m256 v, __m256 lo, __m256 hi) { return _mm256_min_ps(hi, _mm256_max_ps(lo, v)); }
PI_AVX2 __m256d clamp4(__m256d v, __m256d lo, __m256d hi) { return _mm256_min_pd(hi, _mm256_max_pd(lo, v)); }

// The shortcuts of uniform f32 that keep its bits (block512's too): half * 2^-24 exact, so that
// center + (half 2^-24) odd is the kernel's center + half (odd 2^-24) (both round the same real
// product once, the kernel's first rounding being exact); and the grid's two ends inside [lo, hi],
// so that no element is clamped (the value is monotonic in the word: each rounding is).
struct UniformShortcuts {
  float scale;
  bool exact, inside;
  explicit UniformShortcuts(const kernels::UniformDist<float>& d) : scale(d.half * 0x1p-24f) {
    const float odd_max = 0x1p24f - 1.0f;
    exact = scale * 0x1p24f == d.half;
    // Monotonic (so the ends bound every element) for half >= 0, which make_uniform always gives.
    inside = d.half >= 0 && d.center + scale * -odd_max >= d.lo && d.center + scale * odd_max <= d.hi;
  }
};

// group(UniformDist<float>) of words [8 k, 8 k + 8). Where half * 2^-24 is exact: (x >> 8)
// converted, 2m + 1 - 2^24 by one exact fma (an odd integer below 2^24), one multiply; no clamp
// where the grid's ends land inside [lo, hi] (UniformShortcuts).
struct UniformF32 {
  __m256 center, half, lo, hi, scale;
  bool exact, inside;
  PI_AVX2 explicit UniformF32(const kernels::UniformDist<float>& d)
      : center(_mm256_set1_ps(d.center)), half(_mm256_set1_ps(d.half)), lo(_mm256_set1_ps(d.lo)), hi(_mm256_set1_ps(d.hi)) {
    const UniformShortcuts c(d);
    scale = _mm256_set1_ps(c.scale);
    exact = c.exact;
    inside = c.exact && c.inside;
  }
  PI_AVX2 __m256 operator()(const std::uint32_t* w) const {
    if (!exact) return clamp8(_mm256_add_ps(center, _mm256_mul_ps(half, sym_f32(load8(w)))), lo, hi);
    const __m256 m = _mm256_cvtepi32_ps(_mm256_srli_epi32(load8(w), 8));
    const __m256 v = _mm256_add_ps(center, _mm256_mul_ps(scale, _mm256_fmadd_ps(m, _mm256_set1_ps(2.0f), _mm256_set1_ps(1.0f - 0x1p24f))));
    return inside ? v : clamp8(v, lo, hi);
  }
};

// kernels::f32_to_bf16_rne_not_nan of 8 values, in the low halves of the lanes.
PI_AVX2 __m256i bf16_8(__m256 v) {
  const __m256i u = _mm256_castps_si256(v);
  const __m256i odd = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
  return _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(u, _mm256_set1_epi32(0x7fff)), odd), 16);
}
// 16 of them packed in order.
PI_AVX2 __m256i bf16_16(__m256 a, __m256 b) {
  return _mm256_permute4x64_epi64(_mm256_packus_epi32(bf16_8(a), bf16_8(b)), 0xD8);
}
PI_AVX2 __m128i f16_8(__m256 v) { return _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }

// ---- f64 lanes -------------------------------------------------------------------------------

// Four elements' (hi, lo) words: hi = words[2 e], lo = words[2 e + 1] (kernels::join64(hi, lo)).
struct HiLo {
  __m128i hi, lo;
};
PI_AVX2 HiLo hilo4(const std::uint32_t* w) {
  const __m256i v = _mm256_permutevar8x32_epi32(load8(w), _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7));
  return {_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1)};
}
PI_AVX2 __m256d i32_pd(__m128i x) { return _mm256_cvtepi32_pd(x); }
// An unsigned 32-bit word as a double (exact): (x - 2^31) + 2^31.
PI_AVX2 __m256d u32_pd(__m128i x) {
  return _mm256_add_pd(i32_pd(_mm_xor_si128(x, _mm_set1_epi32(INT32_MIN))), _mm256_set1_pd(0x1p31));
}
// kernels::sym_f64: odd = (hi - 2^31) 2^22 + (2 (lo >> 11) + 1), both parts and the sum exact.
PI_AVX2 __m256d sym_f64(HiLo w) {
  const __m256d a = _mm256_mul_pd(i32_pd(_mm_xor_si128(w.hi, _mm_set1_epi32(INT32_MIN))), _mm256_set1_pd(0x1p22));
  const __m256d b = i32_pd(_mm_add_epi32(_mm_slli_epi32(_mm_srli_epi32(w.lo, 11), 1), _mm_set1_epi32(1)));
  return _mm256_mul_pd(_mm256_add_pd(a, b), _mm256_set1_pd(0x1p-53));
}
// kernels::open01_f64: hi 2^21 + (2 (lo >> 12) + 1), exact (< 2^53).
PI_AVX2 __m256d open01_f64(HiLo w) {
  const __m256d a = _mm256_mul_pd(u32_pd(w.hi), _mm256_set1_pd(0x1p21));
  const __m256d b = i32_pd(_mm_add_epi32(_mm_slli_epi32(_mm_srli_epi32(w.lo, 12), 1), _mm_set1_epi32(1)));
  return _mm256_mul_pd(_mm256_add_pd(a, b), _mm256_set1_pd(0x1p-53));
}
// kernels::unit_f64: fl(hi 2^32 + lo) is one correctly rounded addition of two exact terms, which
// is the round-to-nearest-even conversion of the 64-bit integer.
PI_AVX2 __m256d unit_f64(HiLo w) {
  const __m256d j = _mm256_add_pd(_mm256_mul_pd(u32_pd(w.hi), _mm256_set1_pd(0x1p32)), u32_pd(w.lo));
  return _mm256_add_pd(_mm256_mul_pd(j, _mm256_set1_pd(0x1p-64)), _mm256_set1_pd(0x1p-65));
}

PI_AVX2 __m256d fma4(__m256d a, __m256d b, __m256d c) { return _mm256_fmadd_pd(a, b, c); }
PI_AVX2 __m256d set4(double v) { return _mm256_set1_pd(v); }
PI_AVX2 __m256d sel4(__m256d mask, __m256d yes, __m256d no) { return _mm256_blendv_pd(no, yes, mask); }

// kernels::log_(double), lane-wise, of V vectors (x[0, V)): each step on all V before the next, as
// in the normal f32 block (cpu_simd_normal.inc): the chain of one vector, a division and ~25
// dependent steps, is latency-bound.
template <int V>
PI_AVX2 void log4(const __m256d* x, __m256d* out) {
  __m256d fe[V], f[V], s[V], z[V], r[V], hfsq[V];
  for (int v = 0; v < V; ++v) {
    const __m256d sub = _mm256_cmp_pd(x[v], set4(0x1p-1022), _CMP_LT_OQ);
    const __m256d xs = sel4(sub, _mm256_mul_pd(x[v], set4(0x1p54)), x[v]);
    // hx + (0x3ff00000 - 0x3fe6a09e) on the high word: a 64-bit add of that << 32 (the low word is
    // untouched; a carry out of bit 63 is the 32-bit wrap).
    const __m256i bits = _mm256_add_epi64(_mm256_castpd_si256(xs), _mm256_set1_epi64x(std::int64_t{0x3ff00000 - 0x3fe6a09e} << 32));
    // e = (hx >> 20) - 1023 - (sub ? 54 : 0), as a double: (bits >> 52) < 2^12 through the 2^52 trick.
    const __m256d eb = _mm256_sub_pd(_mm256_castsi256_pd(_mm256_or_si256(_mm256_srli_epi64(bits, 52), _mm256_castpd_si256(set4(0x1p52)))),
                                     set4(0x1p52));
    fe[v] = _mm256_sub_pd(_mm256_sub_pd(eb, set4(1023.0)), _mm256_and_pd(sub, set4(54.0)));
    const __m256i m = _mm256_add_epi64(_mm256_and_si256(bits, _mm256_set1_epi64x(0x000fffffffffffffLL)),
                                       _mm256_set1_epi64x(std::int64_t{0x3fe6a09e} << 32));
    f[v] = _mm256_sub_pd(_mm256_castsi256_pd(m), set4(1.0));
  }
  for (int v = 0; v < V; ++v) s[v] = _mm256_div_pd(f[v], _mm256_add_pd(set4(2.0), f[v]));
  for (int v = 0; v < V; ++v) hfsq[v] = _mm256_mul_pd(_mm256_mul_pd(set4(0.5), f[v]), f[v]);
  for (int v = 0; v < V; ++v) z[v] = _mm256_mul_pd(s[v], s[v]), r[v] = set4(2.0 / 25.0);
  for (int k = 11; k >= 1; --k)
    for (int v = 0; v < V; ++v) r[v] = fma4(z[v], r[v], set4(2.0 / (2 * k + 1)));
  for (int v = 0; v < V; ++v) {
    r[v] = _mm256_mul_pd(z[v], r[v]);
    const __m256d inner = _mm256_add_pd(_mm256_mul_pd(s[v], _mm256_add_pd(hfsq[v], r[v])), _mm256_mul_pd(fe[v], set4(0x1.473de6af278edp-34)));
    out[v] = _mm256_sub_pd(_mm256_mul_pd(fe[v], set4(0x1.62e42fefp-1)), _mm256_sub_pd(_mm256_sub_pd(hfsq[v], inner), f[v]));
  }
}
// kernels::sincospi_(double), lane-wise (v in the domain |v| <= 2^20).
PI_AVX2 void sincospi4(__m256d v, __m256d* s, __m256d* c) {
  const __m256d n = _mm256_floor_pd(_mm256_add_pd(_mm256_mul_pd(set4(2.0), v), set4(0.5)));
  const __m256d r = _mm256_sub_pd(v, _mm256_mul_pd(n, set4(0.5)));
  const __m256i q = _mm256_cvtepi32_epi64(_mm256_cvtpd_epi32(n));  // n is an integer: exact
  const __m256d z = _mm256_mul_pd(r, r);
  __m256d sp = set4(kernels::sincospi_f64_sin(0));
  for (int k = 1; k < 8; ++k) sp = fma4(z, sp, set4(kernels::sincospi_f64_sin(k)));
  sp = fma4(r, set4(0x1.921fb54442d18p+1), _mm256_mul_pd(r, fma4(z, sp, set4(0x1.1a62633145c07p-53))));
  __m256d cp = set4(kernels::sincospi_f64_cos(0));
  for (int k = 1; k < 10; ++k) cp = fma4(z, cp, set4(kernels::sincospi_f64_cos(k)));
  // place_quadrant: swap where q & 1, negate s where q & 2 and c where (q + 1) & 2.
  const __m256i one = _mm256_set1_epi64x(1), two = _mm256_set1_epi64x(2);
  const __m256d swap = _mm256_castsi256_pd(_mm256_cmpeq_epi64(_mm256_and_si256(q, one), one));
  const __m256d ss = sel4(swap, cp, sp), cc = sel4(swap, sp, cp);
  const __m256i neg_s = _mm256_slli_epi64(_mm256_and_si256(q, two), 62);
  const __m256i neg_c = _mm256_slli_epi64(_mm256_and_si256(_mm256_add_epi64(q, one), two), 62);
  *s = _mm256_xor_pd(ss, _mm256_castsi256_pd(neg_s));
  *c = _mm256_xor_pd(cc, _mm256_castsi256_pd(neg_c));
}

// kernels::erfinv_ratio(double) of 4 V values (w[0, V)). Where all lanes share a piece of the
// rational approximation: its polynomial with broadcast coefficients, the V vectors' Horner chains
// interleaved (each chain is a series of dependent fmas: latency-bound, so more chains in flight
// keep the FMA pipes busier; trunc_normal f64 runs V = 4: 0.29 G/s against 0.25-0.28 with V = 2 on a
// Zen 4). Else each half separately, and for V = 1 (rare) the scalar function per lane. The same
// operations per lane on every path: the same bits.
template <int V>
PI_AVX2 void erfinv_ratio4(const __m256d* w_in, __m256d* e) {
  using namespace kernels::erfinv_tab;
  __m256d w[V], p[V];  // p: the piece index of each lane
  for (int v = 0; v < V; ++v) w[v] = _mm256_max_pd(w_in[v], _mm256_setzero_pd()), p[v] = _mm256_setzero_pd();  // w > 0 ? w : 0
  for (int k = 1; k < kF64Pieces; ++k)
    for (int v = 0; v < V; ++v) p[v] = _mm256_add_pd(p[v], _mm256_and_pd(_mm256_cmp_pd(w[v], set4(kF64Lo[k]), _CMP_GE_OQ), set4(1.0)));
  const __m256d first = _mm256_permute4x64_pd(p[0], 0);
  __m256d eq = _mm256_cmp_pd(p[0], first, _CMP_EQ_OQ);
  for (int v = 1; v < V; ++v) eq = _mm256_and_pd(eq, _mm256_cmp_pd(p[v], first, _CMP_EQ_OQ));
  if (_mm256_movemask_pd(eq) != 0xf) {
    if constexpr (V > 1) {
      erfinv_ratio4<V / 2>(w_in, e);
      erfinv_ratio4<V - V / 2>(w_in + V / 2, e + V / 2);
    } else {
      alignas(32) double wl[4];
      _mm256_store_pd(wl, w[0]);
      for (double& x : wl) x = kernels::erfinv_ratio(x);
      e[0] = _mm256_load_pd(wl);
    }
    return;
  }
  const int k = static_cast<int>(_mm256_cvtsd_f64(p[0]));
  const __m256d c = set4(kF64Center[k]);
  __m256d t[V];
  for (int v = 0; v < V; ++v) t[v] = _mm256_sub_pd(kF64Kind[k] ? _mm256_sqrt_pd(w[v]) : w[v], c), e[v] = set4(kF64Coef[k][0]);
  for (int d = 1; d <= kF64MaxDegree; ++d) {
    const __m256d cd = set4(kF64Coef[k][d]);
    for (int v = 0; v < V; ++v) e[v] = fma4(e[v], t[v], cd);
  }
}

}  // namespace

// ---- blocks ------------------------------------------------------------------------------------

// NT: non-temporal stores (out 32-byte aligned).
template <bool NT>
PI_AVX2 void uniform_block(const kernels::UniformDist<float>& d, const std::uint32_t* words, float* out) {
  const UniformF32 f(d);
  for (int k = 0; k < kWords; k += 8) {
    if constexpr (NT) {
      _mm256_stream_ps(out + k, f(words + k));
    } else {
      _mm256_storeu_ps(out + k, f(words + k));
    }
  }
}
PI_AVX2_FN void block(const kernels::UniformDist<float>& d, const std::uint32_t* words, float* out) { uniform_block<false>(d, words, out); }
// Uniform f32 of 16 words where UniformShortcuts' exact holds: center + s (2m + 1 - 2^24), m = w >> 8,
// clamped (Clamp) where the grid's ends are not inside [lo, hi].
struct Uniform16 {
  __m512 two, bias, center, s, lo, hi;
  PI_AVX512 Uniform16(const kernels::UniformDist<float>& d, const UniformShortcuts& c)
      : two(_mm512_set1_ps(2.0f)), bias(_mm512_set1_ps(1.0f - 0x1p24f)), center(_mm512_set1_ps(d.center)), s(_mm512_set1_ps(c.scale)),
        lo(_mm512_set1_ps(d.lo)), hi(_mm512_set1_ps(d.hi)) {}
  template <bool Clamp>
  PI_AVX512 __m512 of(__m512i w) const {
    const __m512 m = _mm512_cvtepi32_ps(_mm512_srli_epi32(w, 8));  // < 2^24: exact
    const __m512 odd = _mm512_fmadd_ps(m, two, bias);              // 2m + 1 - 2^24: exact
    const __m512 v = _mm512_add_ps(center, _mm512_mul_ps(s, odd));
    if constexpr (Clamp) {
      return _mm512_min_ps(hi, _mm512_max_ps(lo, v));  // clamp8's MINPS(hi, MAXPS(lo, v)): kernels::clamp_ for v not NaN
    } else {
      return v;
    }
  }
};

template <bool Clamp>
PI_AVX512 void uniform_block512(const Uniform16& u, const std::uint32_t* words, float* out) {
#pragma GCC unroll 4
  for (int k = 0; k < kWords; k += 16) _mm512_storeu_ps(out + k, u.of<Clamp>(_mm512_loadu_si512(words + k)));
}

__attribute__((target("avx512f"))) bool block512(const kernels::UniformDist<float>& d, const std::uint32_t* words, float* out) {
  const UniformShortcuts c(d);
  if (!c.exact) return false;  // half 2^-24 inexact: the loop's two multiplies
  const Uniform16 u(d, c);
  if (c.inside) {
    uniform_block512<false>(u, words, out);
  } else {
    uniform_block512<true>(u, words, out);
  }
  return true;
}

// The fused batch's destination: each vector of 16 words of the Philox rounds becomes 16 elements,
// stored by a non-temporal store.
template <bool Clamp>
struct UniformStreamTo {
  const Uniform16& u;
  float* out;
  PI_AVX512 void operator()(int e, __m512i w) const { _mm512_stream_ps(out + e, u.of<Clamp>(w)); }
};

__attribute__((target("avx512f"))) static void uniform_stream512(const kernels::UniformDist<float>& d, const UniformShortcuts& c,
                                                                 std::uint64_t seed, std::uint64_t stream, std::uint64_t first, float* out) {
  const Uniform16 u(d, c);
  if (c.inside) {
    UniformStreamTo<false> to{u, out};
    philox_x86::philox_consecutive512(seed, stream, first, to);
  } else {
    UniformStreamTo<true> to{u, out};
    philox_x86::philox_consecutive512(seed, stream, first, to);
  }
}

// The avx2 tier's: the batch's words, then the block with non-temporal stores.
PI_AVX2_FN static void uniform_stream256(const kernels::UniformDist<float>& d, std::uint64_t seed, std::uint64_t stream,
                                         std::uint64_t first, float* out) {
  alignas(64) std::uint32_t words[kWords];
  philox_batch(CpuTier::avx2)(seed, stream, first, words);
  uniform_block<true>(d, words, out);
}

bool uniform_stream(CpuTier tier, const kernels::UniformDist<float>& d, std::uint64_t seed, std::uint64_t stream, std::uint64_t first,
                    float* out) {
  if (tier == CpuTier::avx2) {
    uniform_stream256(d, seed, stream, first, out);
    return true;
  }
  if (tier != CpuTier::avx512 || batch_wraps(first)) return false;
  const UniformShortcuts c(d);
  if (!c.exact) return false;
  uniform_stream512(d, c, seed, stream, first, out);
  return true;
}

// ---- normal f32: one block, two widths (cpu_simd_normal.inc) -------------------------------------

#define PI_V4 __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512dq,avx512vl"), always_inline)) inline
#define PI_V4_FN __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512dq,avx512vl")))

namespace {
namespace normal_v3 {  // AVX2 + FMA + F16C: 8 lanes
#define PI_BLOCK PI_AVX2
using F = __m256;
using I = __m256i;
constexpr int kLanes = 8, kV1 = 2, kV2 = 2;  // vectors per step of the two loops (16 ymm registers)
PI_BLOCK F setf(float v) { return _mm256_set1_ps(v); }
PI_BLOCK I seti(std::uint32_t v) { return _mm256_set1_epi32(static_cast<int>(v)); }
PI_BLOCK F add(F a, F b) { return _mm256_add_ps(a, b); }
PI_BLOCK F sub(F a, F b) { return _mm256_sub_ps(a, b); }
PI_BLOCK F mul(F a, F b) { return _mm256_mul_ps(a, b); }
PI_BLOCK F div(F a, F b) { return _mm256_div_ps(a, b); }
PI_BLOCK F fmadd(F a, F b, F c) { return _mm256_fmadd_ps(a, b, c); }
PI_BLOCK F fnmadd(F a, F b, F c) { return _mm256_fnmadd_ps(a, b, c); }
PI_BLOCK F sqrt_(F a) { return _mm256_sqrt_ps(a); }
PI_BLOCK F floor_(F a) { return _mm256_floor_ps(a); }
PI_BLOCK I addi(I a, I b) { return _mm256_add_epi32(a, b); }
PI_BLOCK I subi(I a, I b) { return _mm256_sub_epi32(a, b); }
PI_BLOCK I andi(I a, I b) { return _mm256_and_si256(a, b); }
PI_BLOCK I ori(I a, I b) { return _mm256_or_si256(a, b); }
template <int n>
PI_BLOCK I srli(I a) { return _mm256_srli_epi32(a, n); }
template <int n>
PI_BLOCK I slli(I a) { return _mm256_slli_epi32(a, n); }
PI_BLOCK F cvt_i32(I a) { return _mm256_cvtepi32_ps(a); }
PI_BLOCK I cvtt(F a) { return _mm256_cvttps_epi32(a); }
PI_BLOCK I asi(F a) { return _mm256_castps_si256(a); }
PI_BLOCK F asf(I a) { return _mm256_castsi256_ps(a); }
PI_BLOCK F loadf(const float* p) { return _mm256_load_ps(p); }
PI_BLOCK void storef(float* p, F v) { _mm256_store_ps(p, v); }
PI_BLOCK void storei(void* p, I v) { _mm256_storeu_si256(static_cast<__m256i*>(p), v); }
// A word as a float rounded to nearest even (AVX2 has no vcvtudq2ps): its 16-bit halves are exact
// floats, and hi 2^16 + lo is the fma's one rounding of the word.
PI_BLOCK F cvt_u32(I x) { return fmadd(cvt_i32(srli<16>(x)), setf(65536.0f), cvt_i32(andi(x, seti(0xffffu)))); }
PI_BLOCK void swap_odd(I q, F sp, F cp, F* ss, F* cc) {
  const F odd = asf(_mm256_cmpeq_epi32(andi(q, seti(1)), seti(1)));
  *ss = _mm256_blendv_ps(sp, cp, odd);
  *cc = _mm256_blendv_ps(cp, sp, odd);
}
PI_BLOCK F flip_sign(F x, I bits) { return _mm256_xor_ps(x, asf(andi(bits, seti(0x80000000u)))); }
// Words w[0], w[2], ..., w[14] (even) or w[1], ..., w[15] (odd) of 16.
PI_BLOCK I even_words(const std::uint32_t* w) {
  const F a = _mm256_loadu_ps(reinterpret_cast<const float*>(w)), b = _mm256_loadu_ps(reinterpret_cast<const float*>(w + 8));
  return _mm256_permute4x64_epi64(asi(_mm256_shuffle_ps(a, b, 0x88)), 0xD8);
}
PI_BLOCK I odd_words(const std::uint32_t* w) {
  const F a = _mm256_loadu_ps(reinterpret_cast<const float*>(w)), b = _mm256_loadu_ps(reinterpret_cast<const float*>(w + 8));
  return _mm256_permute4x64_epi64(asi(_mm256_shuffle_ps(a, b, 0xDD)), 0xD8);
}
// The 16-bit halves: lo's low and hi's high half of each 32-bit lane.
PI_BLOCK I merge_halves(I lo, I hi) { return _mm256_blend_epi16(lo, hi, 0xAA); }
// Pairs (a[q], b[q]) in order: out[2q] = a[q], out[2q + 1] = b[q].
PI_BLOCK void store_pairs(F a, F b, float* out) {
  const F lo = _mm256_unpacklo_ps(a, b), hi = _mm256_unpackhi_ps(a, b);  // pairs 0 1 4 5 | 2 3 6 7
  _mm256_storeu_ps(out, _mm256_permute2f128_ps(lo, hi, 0x20));
  _mm256_storeu_ps(out + 8, _mm256_permute2f128_ps(lo, hi, 0x31));
}
PI_BLOCK void store_pairs(F a, F b, kernels::f16_t* out) {  // F16C rounding: see f32_to_f16
  const __m128i ha = f16_8(a), hb = f16_8(b);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out), _mm_unpacklo_epi16(ha, hb));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 8), _mm_unpackhi_epi16(ha, hb));
}
#include "cpu_simd_normal.inc"
#undef PI_BLOCK
}  // namespace normal_v3

namespace normal_v4 {  // AVX-512: 16 lanes
#define PI_BLOCK PI_V4
using F = __m512;
using I = __m512i;
constexpr int kLanes = 16, kV1 = 4, kV2 = 2;
PI_BLOCK F setf(float v) { return _mm512_set1_ps(v); }
PI_BLOCK I seti(std::uint32_t v) { return _mm512_set1_epi32(static_cast<int>(v)); }
PI_BLOCK F add(F a, F b) { return _mm512_add_ps(a, b); }
PI_BLOCK F sub(F a, F b) { return _mm512_sub_ps(a, b); }
PI_BLOCK F mul(F a, F b) { return _mm512_mul_ps(a, b); }
PI_BLOCK F div(F a, F b) { return _mm512_div_ps(a, b); }
PI_BLOCK F fmadd(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }
PI_BLOCK F fnmadd(F a, F b, F c) { return _mm512_fnmadd_ps(a, b, c); }
PI_BLOCK F sqrt_(F a) { return _mm512_sqrt_ps(a); }
PI_BLOCK F floor_(F a) { return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC); }
PI_BLOCK I addi(I a, I b) { return _mm512_add_epi32(a, b); }
PI_BLOCK I subi(I a, I b) { return _mm512_sub_epi32(a, b); }
PI_BLOCK I andi(I a, I b) { return _mm512_and_si512(a, b); }
PI_BLOCK I ori(I a, I b) { return _mm512_or_si512(a, b); }
template <int n>
PI_BLOCK I srli(I a) { return _mm512_srli_epi32(a, n); }
template <int n>
PI_BLOCK I slli(I a) { return _mm512_slli_epi32(a, n); }
PI_BLOCK F cvt_i32(I a) { return _mm512_cvtepi32_ps(a); }
PI_BLOCK I cvtt(F a) { return _mm512_cvttps_epi32(a); }
PI_BLOCK I asi(F a) { return _mm512_castps_si512(a); }
PI_BLOCK F asf(I a) { return _mm512_castsi512_ps(a); }
PI_BLOCK F loadf(const float* p) { return _mm512_load_ps(p); }
PI_BLOCK void storef(float* p, F v) { _mm512_store_ps(p, v); }
PI_BLOCK void storei(void* p, I v) { _mm512_storeu_si512(p, v); }
PI_BLOCK F cvt_u32(I x) { return _mm512_cvtepu32_ps(x); }  // rounded to nearest even
PI_BLOCK void swap_odd(I q, F sp, F cp, F* ss, F* cc) {
  const __mmask16 odd = _mm512_test_epi32_mask(q, seti(1));
  *ss = _mm512_mask_blend_ps(odd, sp, cp);
  *cc = _mm512_mask_blend_ps(odd, cp, sp);
}
// x ^ (bits & sign) in one ternary-logic instruction: table 0xF0 ^ (0xCC & 0xAA) = 0x78.
PI_BLOCK F flip_sign(F x, I bits) { return asf(_mm512_ternarylogic_epi32(asi(x), bits, seti(0x80000000u), 0x78)); }
PI_BLOCK I even_words(const std::uint32_t* w) {
  const I idx = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  return _mm512_permutex2var_epi32(_mm512_loadu_si512(w), idx, _mm512_loadu_si512(w + 16));
}
PI_BLOCK I odd_words(const std::uint32_t* w) {
  const I idx = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  return _mm512_permutex2var_epi32(_mm512_loadu_si512(w), idx, _mm512_loadu_si512(w + 16));
}
PI_BLOCK I merge_halves(I lo, I hi) { return _mm512_mask_blend_epi16(0xAAAAAAAAu, lo, hi); }
PI_BLOCK void store_pairs(F a, F b, float* out) {
  const I lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const I hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  _mm512_storeu_ps(out, _mm512_permutex2var_ps(a, lo, b));
  _mm512_storeu_ps(out + 16, _mm512_permutex2var_ps(a, hi, b));
}
PI_BLOCK void store_pairs(F a, F b, kernels::f16_t* out) {  // F16C rounding: see f32_to_f16
  const __m256i ha = _mm512_cvtps_ph(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m256i hb = _mm512_cvtps_ph(b, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  alignas(64) static constexpr std::uint16_t kOrder[32] = {0, 16, 1, 17, 2,  18, 3,  19, 4,  20, 5,  21, 6,  22, 7,  23,
                                                           8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31};
  storei(out, _mm512_permutexvar_epi16(_mm512_load_si512(kOrder), _mm512_inserti64x4(_mm512_castsi256_si512(ha), hb, 1)));
}
#include "cpu_simd_normal.inc"
#undef PI_BLOCK
}  // namespace normal_v4
}  // namespace

PI_AVX2_FN void block(const kernels::NormalDist<float>& d, const std::uint32_t* words, float* out) { normal_v3::normal_block(d, words, out); }
PI_AVX2_FN void block(const kernels::NormalDist<float>& d, const std::uint32_t* words, kernels::bf16_t* out) {
  normal_v3::normal_block(d, words, out);
}
PI_AVX2_FN void block(const kernels::NormalDist<float>& d, const std::uint32_t* words, kernels::f16_t* out) {
  normal_v3::normal_block(d, words, out);
}
PI_V4_FN bool block512(const kernels::NormalDist<float>& d, const std::uint32_t* words, float* out) {
  normal_v4::normal_block(d, words, out);
  return true;
}
PI_V4_FN bool block512(const kernels::NormalDist<float>& d, const std::uint32_t* words, kernels::bf16_t* out) {
  normal_v4::normal_block(d, words, out);
  return true;
}
PI_V4_FN bool block512(const kernels::NormalDist<float>& d, const std::uint32_t* words, kernels::f16_t* out) {
  normal_v4::normal_block(d, words, out);
  return true;
}

PI_AVX2_FN void block(const kernels::UniformDist<float>& d, const std::uint32_t* words, kernels::f16_t* out) {
  const UniformF32 f(d);
  for (int k = 0; k < kWords; k += 8) _mm_storeu_si128(reinterpret_cast<__m128i*>(out + k), f16_8(f(words + k)));
}
PI_AVX2_FN void block(const kernels::UniformDist<float>& d, const std::uint32_t* words, kernels::bf16_t* out) {
  const UniformF32 f(d);
  static_assert(kWords % 16 == 0, "whole pairs of vectors");
  for (int k = 0; k < kWords; k += 16)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + k), bf16_16(f(words + k), f(words + k + 8)));
}

PI_AVX2_FN void block(const kernels::UniformDist<double>& d, const std::uint32_t* words, double* out) {
  const __m256d center = set4(d.center), half = set4(d.half), lo = set4(d.lo), hi = set4(d.hi);
  for (int k = 0; k < kWords; k += 8)  // 4 elements of 2 words
    _mm256_storeu_pd(out + k / 2, clamp4(_mm256_add_pd(center, _mm256_mul_pd(half, sym_f64(hilo4(words + k)))), lo, hi));
}

PI_AVX2_FN void block(const kernels::NormalDist<double>& d, const std::uint32_t* words, double* out) {
  const __m256d mean = set4(d.mean), sd = set4(d.std);
  const __m256i gather = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  constexpr int V = 2;  // vectors of 4 pairs per step: the logarithms' chains side by side (log4<V>)
  static_assert(kWords % (16 * V) == 0, "whole steps");
  for (int k0 = 0; k0 < kWords; k0 += 16 * V) {
    __m256d u[V], ln[V], v[V];
    for (int j = 0; j < V; ++j) {  // 4 pairs: pair q has u from words (4q, 4q+1), v from (4q+2, 4q+3)
      const int k = k0 + 16 * j;
      const __m256i a = _mm256_permutevar8x32_epi32(load8(words + k), gather);  // uhi uhi ulo ulo | vhi vhi vlo vlo
      const __m256i b = _mm256_permutevar8x32_epi32(load8(words + k + 8), gather);
      const __m256i hi = _mm256_unpacklo_epi64(a, b), lo = _mm256_unpackhi_epi64(a, b);  // u | v
      u[j] = unit_f64(HiLo{_mm256_castsi256_si128(hi), _mm256_castsi256_si128(lo)});
      v[j] = _mm256_mul_pd(set4(2.0), open01_f64(HiLo{_mm256_extracti128_si256(hi, 1), _mm256_extracti128_si256(lo, 1)}));
    }
    log4<V>(u, ln);
    for (int j = 0; j < V; ++j) {
      // box_muller: r = sqrt(-2 ln u), (z0, z1) = (r cos(pi v'), r sin(pi v')), v' = 2 open01.
      const __m256d r = _mm256_sqrt_pd(_mm256_mul_pd(set4(-2.0), ln[j]));
      __m256d s, c;
      sincospi4(v[j], &s, &c);
      const __m256d o0 = _mm256_add_pd(mean, _mm256_mul_pd(sd, _mm256_mul_pd(r, c)));
      const __m256d o1 = _mm256_add_pd(mean, _mm256_mul_pd(sd, _mm256_mul_pd(r, s)));
      const __m256d p01 = _mm256_unpacklo_pd(o0, o1), p23 = _mm256_unpackhi_pd(o0, o1);  // pairs 0, 2 | 1, 3
      const int k = k0 + 16 * j;
      _mm256_storeu_pd(out + k / 2, _mm256_permute2f128_pd(p01, p23, 0x20));
      _mm256_storeu_pd(out + k / 2 + 4, _mm256_permute2f128_pd(p01, p23, 0x31));
    }
  }
}

// In two loops over the batch, as the f32 host loop (kernels::Generator::groups): the logarithms'
// arguments, then the quantiles two vectors at a time; shorter dependent chains that the core
// overlaps (measured 9.9 -> see bench/RESULTS.md).
PI_AVX2_FN void block(const kernels::TruncNormalDist<double>& d, const std::uint32_t* words, double* out) {
  constexpr int N = kWords / 2;  // elements
  alignas(32) double wv[N], yv[N];
  const __m256d one = set4(1.0), two = set4(2.0);
  constexpr int V = 4;  // vectors per step of the first loop (log4<V>)
  static_assert(N % (4 * V) == 0, "whole steps");
  for (int k0 = 0; k0 < N; k0 += 4 * V) {
    __m256d x[V], base[V], ln[V];
    for (int v = 0; v < V; ++v) {
      const int k = k0 + 4 * v;
      const __m256d u = open01_f64(hilo4(words + 2 * k));
      // kernels::trunc_normal_prep
      const __m256d low_side = _mm256_cmp_pd(u, set4(d.u0), _CMP_LT_OQ);
      const __m256d alpha = sel4(low_side, set4(d.lower.alpha), set4(d.upper.alpha));
      const __m256d beta = sel4(low_side, set4(d.lower.beta), set4(d.upper.beta));
      const __m256d b = sel4(low_side, set4(d.lower.b), set4(d.upper.b));
      const __m256d t = _mm256_add_pd(alpha, _mm256_mul_pd(sel4(low_side, u, _mm256_sub_pd(one, u)), beta));
      const __m256d r = _mm256_mul_pd(b, t);
      const __m256d y_tail = _mm256_sub_pd(one, _mm256_mul_pd(two, r));
      const __m256d yc = _mm256_add_pd(set4(d.y_a), _mm256_mul_pd(u, set4(d.y_span)));
      const __m256d centre = _mm256_and_pd(_mm256_cmp_pd(yc, set4(0.5), _CMP_LE_OQ), _mm256_cmp_pd(yc, set4(-0.5), _CMP_GE_OQ));
      x[v] = sel4(centre, _mm256_mul_pd(_mm256_sub_pd(one, yc), _mm256_add_pd(one, yc)), _mm256_mul_pd(t, _mm256_sub_pd(one, r)));
      base[v] = sel4(centre, _mm256_setzero_pd(), sel4(low_side, set4(d.lower.w0), set4(d.upper.w0)));
      _mm256_store_pd(yv + k, sel4(centre, yc, sel4(low_side, _mm256_xor_pd(y_tail, set4(-0.0)), y_tail)));
    }
    log4<V>(x, ln);
    for (int v = 0; v < V; ++v) _mm256_store_pd(wv + k0 + 4 * v, _mm256_sub_pd(base[v], ln[v]));  // kernels::trunc_normal_w
  }
  static_assert(N % 16 == 0, "fours of vectors");
  for (int k = 0; k < N; k += 16) {  // kernels::trunc_normal_finish
    __m256d e[4];
    const __m256d w[4] = {_mm256_load_pd(wv + k), _mm256_load_pd(wv + k + 4), _mm256_load_pd(wv + k + 8), _mm256_load_pd(wv + k + 12)};
    erfinv_ratio4<4>(w, e);
    for (int h = 0; h < 4; ++h) {
      const __m256d z = _mm256_mul_pd(set4(1.4142135623730950488), _mm256_mul_pd(_mm256_load_pd(yv + k + 4 * h), e[h]));
      _mm256_storeu_pd(out + k + 4 * h, clamp4(_mm256_add_pd(set4(d.mean), _mm256_mul_pd(set4(d.std), z)), set4(d.lo), set4(d.hi)));
    }
  }
}

PI_AVX2_FN void f32_to_f16(const float* src, kernels::f16_t* dst, std::size_t n) {
  std::size_t k = 0;
  for (; k + 8 <= n; k += 8) _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + k), f16_8(_mm256_loadu_ps(src + k)));
  for (; k < n; ++k) kernels::store(dst + k, src[k]);
}

#else  // no x86-64 vector path (no blocks are declared)
bool available() { return false; }
#endif

}  // namespace simd
}  // namespace detail
}  // namespace paraminit
