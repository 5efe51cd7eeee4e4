// The CPU fills' hand-vectorized blocks (x86-64 AVX2 + FMA + F16C, chosen at run time): the same
// IEEE operations in the same order as the element math of kernels/*.hpp, lane by lane, so the
// bits are those of the scalar functions (and of the GPU). tests/simd_test.cpp compares every
// block with the scalar kernels functions. Where the CPU lacks AVX2/FMA/F16C (or the compiler is
// not GCC/Clang on x86-64), available() is false and the callers run the portable loops.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "../kernels/dists.hpp"
#include "cpu_tier.hpp"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define PI_SIMD_X86 1
#endif

namespace paraminit {
namespace detail {
namespace simd {

// The AVX2 blocks may run: the fills' tier (cpu_tier.hpp) is avx2 or above.
bool available();

#if defined(PI_SIMD_X86)

// The elements of the 4 * kPhiloxBatch words `words` (kernels' element order, host/philox_batch.hpp),
// written to out: exactly Generator<Dist, T>::groups<kPhiloxBatch>(words, out). Only call when
// available().
void block(const kernels::UniformDist<float>& d, const std::uint32_t* words, float* out);
void block(const kernels::UniformDist<float>& d, const std::uint32_t* words, kernels::f16_t* out);
void block(const kernels::UniformDist<float>& d, const std::uint32_t* words, kernels::bf16_t* out);
void block(const kernels::UniformDist<double>& d, const std::uint32_t* words, double* out);
void block(const kernels::NormalDist<float>& d, const std::uint32_t* words, float* out);
void block(const kernels::NormalDist<float>& d, const std::uint32_t* words, kernels::f16_t* out);
void block(const kernels::NormalDist<float>& d, const std::uint32_t* words, kernels::bf16_t* out);
void block(const kernels::NormalDist<double>& d, const std::uint32_t* words, double* out);
// Central or not: the f64 quantile evaluates the same erfinv_ratio either way (kernels/math.hpp).
void block(const kernels::TruncNormalDist<double>& d, const std::uint32_t* words, double* out);

// AVX-512 blocks, run by the avx512 tier where they exist (HasBlock512), in place of the loop the
// compiler vectorizes from kernels/. Each returns false, having written nothing, for options whose
// shortcut would not give the kernel's bits; the caller then runs its loop.
// Uniform f32: 7 vector instructions per 16 elements where the v4 loop takes 10 -- (x >> 8) converted
// then 2m + 1 - 2^24 by one exact fma; half * 2^-24 folded into one multiply where that product is
// exact (the kernel's two roundings, of which the first is exact, and this one round the same real
// number; it declines otherwise); no clamp where the grid's two ends land inside [lo, hi] (the
// value is monotonic in the word). The AVX2 block takes the same shortcuts.
bool block512(const kernels::UniformDist<float>& d, const std::uint32_t* words, float* out);
// The batch of calls first .. first + kPhiloxBatch - 1 of (seed, stream) as uniform f32 elements,
// written as whole lines by non-temporal stores (out 64-byte aligned; the caller ends its run of these
// with stream_fence()). Spread over the computing, the stores drain while it goes on, where a burst of
// lines copied from an L1 buffer after it stalls the core (2 threads, 64 Mi elements, alternated: from
// the block 4.09 G/s against 3.53 through the buffer; fused with the rounds 4.69 against 4.36 from the
// block). At the avx512 tier each vector of words of the Philox rounds is made 16 elements and stored
// at once (no words through memory, no second loop); at avx2 the batch's words, then the block. False,
// having written nothing, at other tiers and, at avx512, where the counters' low word wraps inside the
// batch or block512 would decline.
bool uniform_stream(CpuTier tier, const kernels::UniformDist<float>& d, std::uint64_t seed, std::uint64_t stream, std::uint64_t first,
                    float* out);
// Normal f32 / bf16 / f16 (the AVX2 blocks above too, 8 lanes; cpu_simd_normal.inc holds both):
// Generator<NormalDist<float>>::groups with fewer instructions than the loop GCC vectorizes from it,
// each lane the same operations: no rescaling of a subnormal argument of the logarithm (u >= 2^-33),
// exact products folded into the fma that adds them, the quadrant's negations as sign flips, bf16
// packed by one blend, f16 rounded in registers, each step on several vectors at once (the chains
// are latency-bound), divisions and square roots in different loops. Never declines.
bool block512(const kernels::NormalDist<float>& d, const std::uint32_t* words, float* out);
bool block512(const kernels::NormalDist<float>& d, const std::uint32_t* words, kernels::bf16_t* out);
bool block512(const kernels::NormalDist<float>& d, const std::uint32_t* words, kernels::f16_t* out);

// dst[k] = store(f32 src[k]) for k < n: F16C's vcvtps2ph (round to nearest even) for finite input,
// the same bits as kernels::f32_to_f16_rne. Only call when available().
void f32_to_f16(const float* src, kernels::f16_t* dst, std::size_t n);
#else
inline void f32_to_f16(const float*, kernels::f16_t*, std::size_t) {}  // never called: available() is false
inline bool uniform_stream(CpuTier, const kernels::UniformDist<float>&, std::uint64_t, std::uint64_t, std::uint64_t, float*) { return false; }
#endif

// Whether block(Dist, words, Out*) exists.
template <class Dist, class Out, class = void>
struct HasBlock : std::false_type {};
template <class Dist, class Out>
struct HasBlock<Dist, Out,
                std::void_t<decltype(block(std::declval<const Dist&>(), static_cast<const std::uint32_t*>(nullptr),
                                           static_cast<Out*>(nullptr)))>> : std::true_type {};

// Whether block512(Dist, words, Out*) exists.
template <class Dist, class Out, class = void>
struct HasBlock512 : std::false_type {};
template <class Dist, class Out>
struct HasBlock512<Dist, Out,
                   std::void_t<decltype(block512(std::declval<const Dist&>(), static_cast<const std::uint32_t*>(nullptr),
                                                 static_cast<Out*>(nullptr)))>> : std::true_type {};

// Whether the avx512 tier runs block(Dist, ...) too, rather than the element loop as GCC vectorizes
// it for x86-64-v4: only f64 trunc_normal's (single thread, 16 Mi elements, 2026-12-02: 0.17 G/s
// by the AVX2 block, 0.035 by the v4 loop); for uniform f32 / f64 and normal f64 the v4 loop was
// faster (3.0 / 1.4 / 0.56 G/s against the block's 2.8 / 1.1 / 0.30).
template <class Dist>
constexpr bool kBlockAtAvx512 = std::is_base_of_v<kernels::TruncNormalDist<double>, Dist>;

}  // namespace simd

// dst[0, bytes) = the 8-byte pattern repeated (bytes a multiple of the element size, dst aligned to
// it; the pattern is the element repeated). memset where every byte of the pattern is the same.
// stream: the fill is larger than the caches (the caller's judgement, on the whole fill): past a
// head up to 32-byte alignment, non-temporal 32-byte stores (no read for ownership, as glibc's
// memset does for large sizes) where available(), then an sfence. The same bytes either way.
void fill_pattern(void* dst, std::size_t bytes, std::uint64_t pattern, bool stream = false);

// Fills of at least this many bytes in all stream (fill_pattern, and the random fills'
// stream_lines): half the 32 MiB L3 of the reference machine, about where glibc's memset switches
// to non-temporal stores.
constexpr std::size_t kStreamBytes = std::size_t{16} << 20;

// dst[0, 64 lines) = src[0, 64 lines) by non-temporal stores as wide as `tier` has (x86; elsewhere
// memcpy): no read for ownership of lines that are overwritten whole. dst is 64-byte aligned, src
// any. The caller ends its run of these with stream_fence(), before anything else sees dst.
void stream_lines(CpuTier tier, void* dst, const void* src, std::size_t lines);
void stream_fence();

}  // namespace detail
}  // namespace paraminit
