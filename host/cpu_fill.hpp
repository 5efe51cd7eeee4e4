// The CPU backend's element loop: the same Generator (kernels/dists.hpp) that the CUDA kernels
// run, driven over a view's global index spans by the context's thread pool.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "../kernels/dists.hpp"
#include "../kernels/geometry.hpp"
#include "cpu_simd.hpp"
#include "philox_batch.hpp"
#include "thread_pool.hpp"

// Hot loops are compiled once per tier of cpu_tier.hpp (AVX-512, AVX2, the build's baseline)
// and picked by cpu_tier() at each fill: the body is one always-inline template, instantiated
// inside a function per target so the compiler vectorizes it for that instruction set. Every tier
// computes the same bits: integer Philox, correctly rounded + - * / sqrt, explicit fma, no
// contraction (the library's flags). Explicit functions rather than target_clones: their ifunc
// resolvers run before ThreadSanitizer's runtime is up, and tests must be able to run each tier.
// The targets add features to the build's own (an "arch=" target would replace them, and GCC then
// refuses to inline the body into it when the build uses -march=native); they name exactly what
// cpu_best_tier() checks, so no instruction of another extension (BMI2, MOVBE, ...) is emitted.
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define PI_TIERS 1
#define PI_TARGET_V4 __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512dq,avx512vl,avx512cd")))
#define PI_TARGET_V3 __attribute__((target("avx2,fma,f16c")))
#endif
#define PI_ALWAYS_INLINE __attribute__((always_inline)) inline
#define PI_INLINE_LAMBDA __attribute__((always_inline))  // after a lambda's parameter list

namespace paraminit {
namespace detail {

// Runs of at least this many whole calls (short of a batch) at a span's end go through one batch.
constexpr unsigned kTailBatchCalls = 4;

#if defined(PI_TIERS)
template <class F>
PI_TARGET_V4 void run_v4(const F& f) {
  f();
}
template <class F>
PI_TARGET_V3 void run_v3(const F& f) {
  f();
}
#endif

// f() compiled for `tier`: f is a lambda marked PI_INLINE_LAMBDA, so its body (and the inline
// functions it calls) is inlined into, and vectorized for, the function of that tier.
template <class F>
void run_at_tier(CpuTier tier, const F& f) {
#if defined(PI_TIERS)
  if (tier == CpuTier::avx512) return run_v4(f);
  if (tier == CpuTier::avx2) return run_v3(f);
#else
  (void)tier;
#endif
  f();
}

// The batch's elements by simd::block512 (avx512 tier) or simd::block where one exists for (Dist,
// Out), the tier runs it (simd::kBlockAtAvx512) and it takes these options; false otherwise.
template <class Gen, class Out>
PI_ALWAYS_INLINE bool vector_block(CpuTier tier, const Gen& gen, const std::uint32_t* words, Out* dst) {
#if defined(PI_SIMD_X86)  // elsewhere no blocks are declared (and the tier is always portable)
  if constexpr (simd::HasBlock512<typename Gen::dist_type, Out>::value) {
    if (tier == CpuTier::avx512 && simd::block512(gen.dist, words, dst)) return true;
  }
  if constexpr (simd::HasBlock<typename Gen::dist_type, Out>::value) {
    if (tier == CpuTier::avx2 || (tier == CpuTier::avx512 && simd::kBlockAtAvx512<typename Gen::dist_type>)) {
      simd::block(gen.dist, words, dst);
      return true;
    }
  }
#else
  (void)tier, (void)gen, (void)words, (void)dst;
#endif
  return false;
}

// The elements of the kPhiloxBatch calls whose words are `words`, into dst[0, kPhiloxBatch * E).
template <class Gen, class Out>
PI_ALWAYS_INLINE void batch_elements(CpuTier tier, const Gen& gen, const std::uint32_t* words, Out* dst) {
  using T = typename Gen::value_type;
  constexpr unsigned B = kPhiloxBatch, E = Gen::kPerCall;
  if (vector_block(tier, gen, words, dst)) {
  } else if constexpr (!std::is_same_v<Out, kernels::f16_t>) {  // f32, f64, bf16: rounded in the loop
    gen.template groups<B>(words, dst);
  } else {  // f16, whose rounding is longer: fp32 first, then a second loop (in L1): F16C's
            // conversion where present, else the vectorized scalar rounding
    alignas(64) T vb[B * E];
    gen.template groups<B>(words, vb);
    if (tier != CpuTier::portable) {
      simd::f32_to_f16(vb, dst, B * E);
    } else {
      for (unsigned k = 0; k < B * E; ++k) kernels::store(dst + k, vb[k]);
    }
  }
}

// The fills that stream (fill_span) once larger than the caches: uniform f32 only, the one cheap
// enough to be held back by the reads for ownership of ordinary stores. 2 threads, 64 Mi elements,
// streamed / not, interleaved (2026-12-02): uniform f32 1.36, bf16 1.09, f16 0.96, f64 0.88; normal
// 0.93-0.98; trunc_normal 0.95-1.06 (a burst of non-temporal lines stalls a core that still has
// computing to do, where ordinary stores drain in the background; measured through the L1 buffer,
// before uniform f32 went straight from its block).
template <class Gen, class Out>
constexpr bool kStreams = std::is_same_v<typename Gen::dist_type, kernels::UniformDist<float>> && std::is_same_v<Out, float>;

// Global elements [g, g + n) into dst[0, n), at `tier`. Whole batches of calls where they fit; the
// partial calls at either end one call at a time, and a last run of whole calls short of a batch
// through a batch computed into a buffer (the scalar call costs ~15 ns; a batch ~0.3 ns a word).
// stream: the whole fill is larger than the caches (kStreamBytes, kStreams); whole batches then go by
// non-temporal stores of whole 64-byte lines: straight from the Philox rounds or the block where they
// start at a line (simd::uniform_stream; where the bytes up to the first line are whole calls, those
// calls are written one at a time first), else through an L1 buffer (stream_lines), the bytes before
// dst's first line boundary and after its last by ordinary stores. The same bytes either way.
template <class Gen, class Out>
void fill_span(CpuTier tier, const Gen& gen_ref, Out* dst, std::uint64_t g, std::uint64_t n, bool stream) {
  run_at_tier(tier, [&]() PI_INLINE_LAMBDA {
    const Gen gen = gen_ref;  // a local copy: the vectorizer need not guard against dst aliasing it
    const PhiloxBatchFn philox = philox_batch(tier);
    using T = typename Gen::value_type;
    constexpr unsigned E = Gen::kPerCall;
    constexpr unsigned B = kPhiloxBatch;  // calls per batch
    const std::uint64_t end = g + n;
    T v[E];
    if (g % E != 0) {  // head: the rest of a call that starts before g
      gen(g / E, v);
      for (unsigned j = static_cast<unsigned>(g % E); j < E && g < end; ++j, ++g) kernels::store(dst++, v[j]);
    }
    alignas(64) std::uint32_t words[4 * B];
    if (stream && end - g >= B * E) {
      constexpr std::size_t kBatchBytes = std::size_t{B} * E * sizeof(Out);
      alignas(64) unsigned char stage[64 + kBatchBytes];
      std::size_t carry = 0;  // stage[0, carry): bytes for dst not written yet (less than a line)
      auto* out = reinterpret_cast<unsigned char*>(dst);
      std::size_t head = (64 - reinterpret_cast<std::uintptr_t>(out) % 64) % 64;  // up to the first line
      if constexpr (kStreams<Gen, Out>) {
        if (head % (E * sizeof(Out)) == 0 && head > 0) {  // whole calls up to the line (malloc's 16-byte
          // alignment): those calls one at a time, and from there every batch is whole lines
          for (; head > 0; head -= E * sizeof(Out), g += E) {
            gen(g / E, v);
            for (unsigned j = 0; j < E; ++j) kernels::store(dst++, v[j]);
          }
          out = reinterpret_cast<unsigned char*>(dst);
        }
      }
      while (end - g >= B * E) {
        if constexpr (kStreams<Gen, Out>) {  // dst at a line boundary: whole lines straight from the block
          if (head == 0 && carry == 0 && simd::uniform_stream(tier, gen.dist, gen.seed, gen.stream, g / E, reinterpret_cast<float*>(out))) {
            out += kBatchBytes;
            g += B * E;
            continue;
          }
        }
        philox(gen.seed, gen.stream, g / E, words);
        batch_elements(tier, gen, words, reinterpret_cast<Out*>(stage + carry));  // carry: whole elements
        const std::size_t have = carry + kBatchBytes;
        std::size_t off = std::min(head, have);
        std::memcpy(out, stage, off);
        head -= off;
        const std::size_t lines = (have - off) / 64;
        stream_lines(tier, out + off, stage + off, lines);
        off += 64 * lines;
        out += off;
        carry = have - off;
        std::memmove(stage, stage + off, carry);
        g += B * E;
      }
      std::memcpy(out, stage, carry);
      dst = reinterpret_cast<Out*>(out + carry);
      stream_fence();
    }
    while (end - g >= B * E) {
      philox(gen.seed, gen.stream, g / E, words);
      batch_elements(tier, gen, words, dst);
      dst += B * E;
      g += B * E;
    }
    if ((end - g) / E >= kTailBatchCalls) {  // whole calls short of a batch: one batch, partly kept
      alignas(64) Out buf[B * E];
      philox(gen.seed, gen.stream, g / E, words);
      batch_elements(tier, gen, words, buf);
      const std::uint64_t whole = (end - g) / E * E;
      std::memcpy(dst, buf, static_cast<std::size_t>(whole) * sizeof(Out));
      dst += whole;
      g += whole;
    }
    while (g < end) {  // tail
      gen(g / E, v);
      for (unsigned j = 0; j < E && g < end; ++j, ++g) kernels::store(dst++, v[j]);
    }
  });
}

// Fill the whole view. Tasks are chunks of local elements; the chunking never changes a value.
template <class Gen, class Out>
void cpu_fill(ThreadPool& pool, const Geometry& geo, Out* data, const Gen& gen) {
  constexpr std::uint64_t kChunk = std::uint64_t{1} << 16;  // 256 KiB of f32: L2-sized
  const CpuTier tier = cpu_tier();
  const bool stream = kStreams<Gen, Out> && geo.numel * sizeof(Out) >= kStreamBytes;
  const std::uint64_t tasks = (geo.numel + kChunk - 1) / kChunk;
  const std::int64_t ntasks = static_cast<std::int64_t>(tasks);
  pool.run(ntasks, [&](std::int64_t task) {
    const std::uint64_t lb = static_cast<std::uint64_t>(task) * kChunk;
    const std::uint64_t le = std::min(geo.numel, lb + kChunk);
    for (std::uint64_t l = lb; l < le;) {  // split [lb, le) at run boundaries
      const std::uint64_t run = l / geo.run_len, off = l % geo.run_len;
      const std::uint64_t n = std::min(le - l, geo.run_len - off);
      fill_span(tier, gen, data + l, geo.global_base + run * geo.global_stride + off, n, stream);
      l += n;
    }
  });
}

// Structured fills: local element l = fn(its global index), over the pool, chunk by chunk.
template <class Fn, class Out>
void cpu_fill_index(ThreadPool& pool, const Geometry& geo, Out* data, const Fn& fn) {
  constexpr std::uint64_t kChunk = std::uint64_t{1} << 16;
  const auto tasks = static_cast<std::int64_t>((geo.numel + kChunk - 1) / kChunk);
  pool.run(tasks, [&](std::int64_t task) {
    const std::uint64_t lb = static_cast<std::uint64_t>(task) * kChunk, le = std::min(geo.numel, lb + kChunk);
    for (std::uint64_t l = lb; l < le; ++l) {
      const std::uint64_t run = l / geo.run_len;
      kernels::store(data + l, fn(geo.global_base + run * geo.global_stride + (l - run * geo.run_len)));
    }
  });
}

// data[0, n) = value, over the pool (constant fills): 4 MiB chunks of the element's bytes repeated
// (memset where they are all equal), written as wide as memset writes them whatever the dtype.
template <class Out>
void cpu_fill_value(ThreadPool& pool, std::uint64_t n, Out* data, Out value) {
  static_assert(8 % sizeof(Out) == 0, "the element tiles 8 bytes");
  std::uint64_t pattern = 0;
  for (unsigned k = 0; k < 8 / sizeof(Out); ++k) std::memcpy(reinterpret_cast<char*>(&pattern) + k * sizeof(Out), &value, sizeof(Out));
  constexpr std::uint64_t kChunk = (std::uint64_t{4} << 20) / sizeof(Out);
  const auto tasks = static_cast<std::int64_t>((n + kChunk - 1) / kChunk);
  const bool stream = n * sizeof(Out) >= kStreamBytes;  // larger than the caches: non-temporal stores
  pool.run(tasks, [&](std::int64_t task) {
    const std::uint64_t lb = static_cast<std::uint64_t>(task) * kChunk, le = std::min(n, lb + kChunk);
    fill_pattern(data + lb, static_cast<std::size_t>((le - lb) * sizeof(Out)), pattern, stream);
  });
}

}  // namespace detail
}  // namespace paraminit
