// paraminit_core_limits: the measurements behind "how fast can uniform f32 be on this CPU" (issue
// 14), in one run: the core's clock, how many AVX-512 vector instructions it issues per cycle (the
// classes the Philox round uses, alone and mixed), the library's Philox batch and uniform block per
// word, and memset of zeros and of a non-zero byte with the same threads. perf's counters are not
// available in this project's KVM guests, so the clock and the issue rate are measured directly.
//
// The bound it prints: uniform f32 needs one Philox4x32-10 word per element (cuRAND's stream, bit
// for bit), and per element, in the library's batch of consecutive calls,
//   1.6875 round instructions (per round, per 16 calls in 16 lanes: 4 vpmuludq for the 32 products'
//          high halves, 2 for the low halves or their gathering, 2 shifts of the odd lanes to where
//          vpmuludq reads, 2 to gather the high halves into place, 2 three-way xors = 12, over 64
//          words, rounds 3 to 10; rounds 1 and 2 take 5 and 7, half of each being the same in every
//          lane and done once in scalar, host/philox_x86.hpp: 108 in all),
//   0.0625 to put the 4 words of each call in element order (at least one two-source permute per
//          16-word output vector),
//   0.3125 for the element (shift, convert, one exact fma to 2m + 1 - 2^24, multiply, add: 5 per 16),
// = 2.0625 vector instructions. At 4 a cycle (Zen 5 has four vector ALU pipes; no mix measured here
// issues more) and the measured clock that is at most threads x clock x 4 / 2.0625 elements a
// second: a share of memset above that cannot be reached with this instruction mix.
//
//   paraminit_core_limits [--threads T]   (default: every hardware thread)
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "../host/cpu_simd.hpp"
#include "../host/cpu_tier.hpp"
#include "../host/params.hpp"
#include "../host/philox_batch.hpp"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include "../host/x86_intrinsics.hpp"
#define CL_X86 1
#endif

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

template <class F>
double median_seconds(int reps, F f) {
  std::vector<double> t;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = Clock::now();
    f();
    t.push_back(seconds_since(t0));
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

// One add per cycle on a dependent chain: the core's clock (GHz).
double clock_ghz() {
#if defined(CL_X86)
  const long n = 400000000;
  return 4.0 * static_cast<double>(n) / median_seconds(5, [&] {
           long x = 0;
           for (long i = 0; i < n; ++i) asm volatile("add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0" : "+r"(x));
         }) / 1e9;
#else
  return 0;
#endif
}

#if defined(CL_X86)
// 12 independent chains of one instruction (or of two alternating), iters times: instructions per ns.
#define CL_T __attribute__((target("avx512f,avx512bw"), noinline))
#define CL_CHAINS(A, B)                                                                        \
  __m512i a[12];                                                                               \
  const __m512i m = _mm512_set1_epi32(static_cast<int>(0xD2511F53u)), k = _mm512_set1_epi32(77); \
  for (int i = 0; i < 12; ++i) a[i] = _mm512_set1_epi32(i + 1);                                \
  for (long it = 0; it < iters; ++it) {                                                        \
    for (int i = 0; i < 12; i += 2) {                                                          \
      a[i] = A(a[i]);                                                                          \
      a[i + 1] = B(a[i + 1]);                                                                  \
    }                                                                                          \
    asm volatile("" ::"v"(a[0]));                                                              \
  }                                                                                            \
  __m512i s = a[0];                                                                            \
  for (int i = 1; i < 12; ++i) s = _mm512_xor_si512(s, a[i]);                                  \
  return static_cast<std::uint64_t>(_mm512_reduce_add_epi64(s));
#define CL_MUL(v) _mm512_mul_epu32(v, m)
#define CL_MULLO(v) _mm512_mullo_epi32(v, m)
#define CL_SRL(v) _mm512_srli_epi64(v, 7)
#define CL_SHUF(v) _mm512_mask_shuffle_epi32(v, 0x5555, m, _MM_PERM_DDBB)
#define CL_TERN(v) _mm512_ternarylogic_epi32(v, m, k, 0x96)
#define CL_PERM(v) _mm512_permutex2var_epi32(v, m, k)
CL_T std::uint64_t run_mul(long iters) { CL_CHAINS(CL_MUL, CL_MUL) }
CL_T std::uint64_t run_mullo(long iters) { CL_CHAINS(CL_MULLO, CL_MULLO) }
CL_T std::uint64_t run_srl(long iters) { CL_CHAINS(CL_SRL, CL_SRL) }
CL_T std::uint64_t run_shuf(long iters) { CL_CHAINS(CL_SHUF, CL_SHUF) }
CL_T std::uint64_t run_tern(long iters) { CL_CHAINS(CL_TERN, CL_TERN) }
CL_T std::uint64_t run_perm(long iters) { CL_CHAINS(CL_PERM, CL_PERM) }
CL_T std::uint64_t run_mul_srl(long iters) { CL_CHAINS(CL_MUL, CL_SRL) }
CL_T std::uint64_t run_mul_tern(long iters) { CL_CHAINS(CL_MUL, CL_TERN) }
CL_T std::uint64_t run_srl_tern(long iters) { CL_CHAINS(CL_SRL, CL_TERN) }
CL_T std::uint64_t run_shuf_tern(long iters) { CL_CHAINS(CL_SHUF, CL_TERN) }
CL_T std::uint64_t run_mul_mullo(long iters) { CL_CHAINS(CL_MUL, CL_MULLO) }

// The same for the divider's instructions (normal f32: one vdivps and one vsqrtps per 16 pairs), on
// normal floats near 1.5: 12 chains of `op`.
#define CL_FLOAT_CHAINS(op)                                                       \
  __m512 a[12];                                                                   \
  const __m512 b = _mm512_set1_ps(1.0000001f);                                    \
  for (int i = 0; i < 12; ++i) a[i] = _mm512_set1_ps(1.5f + 0.01f * static_cast<float>(i)); \
  for (long it = 0; it < iters; ++it) {                                           \
    for (int i = 0; i < 12; ++i) a[i] = op;                                       \
    asm volatile("" ::"v"(a[0]));                                                 \
  }                                                                               \
  __m512 s = a[0];                                                                \
  for (int i = 1; i < 12; ++i) s = _mm512_add_ps(s, a[i]);                        \
  return static_cast<std::uint64_t>(_mm512_reduce_add_ps(s));
CL_T std::uint64_t run_div(long iters) { CL_FLOAT_CHAINS(_mm512_div_ps(a[i], b)) }
CL_T std::uint64_t run_sqrt(long iters) { CL_FLOAT_CHAINS(_mm512_sqrt_ps(a[i])) }

// Instructions per cycle of run(iters) at `ghz`.
double per_cycle(std::uint64_t (*run)(long), double ghz, long iters = 20000000) {
  volatile std::uint64_t sink = 0;
  const double s = median_seconds(5, [&] { sink = sink + run(iters); });
  return 12.0 * static_cast<double>(iters) / s / 1e9 / ghz;
}
#endif

}  // namespace

int main(int argc, char** argv) {
  unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--threads" && i + 1 < argc) {
      threads = static_cast<unsigned>(std::max(1, std::atoi(argv[++i])));
    } else {
      std::fprintf(stderr, "usage: paraminit_core_limits [--threads T]\n");
      return 2;
    }
  }
  namespace d = paraminit::detail;
#if !defined(CL_X86)
  std::printf("not x86-64 with GCC/Clang: nothing to measure\n");
  return 0;
#else
  if (d::cpu_best_tier() != d::CpuTier::avx512) {
    std::printf("no AVX-512 on this CPU (tier %s): the bound below is for the avx512 tier; nothing to measure\n",
                d::tier_name(d::cpu_best_tier()));
    return 0;
  }
  const double ghz = clock_ghz();
  std::printf("clock: %.2f GHz (a dependent chain of adds, one per cycle)\n\n", ghz);

  std::printf("AVX-512 instructions per cycle, 12 independent chains (one thread):\n");
  struct Row {
    const char* name;
    std::uint64_t (*run)(long);
  };
  const Row rows[] = {{"vpmuludq", run_mul},          {"vpmulld", run_mullo},         {"vpsrlq", run_srl},
                      {"vpshufd {k}", run_shuf},      {"vpternlogd", run_tern},       {"vpermt2d", run_perm},
                      {"vpmuludq + vpsrlq", run_mul_srl}, {"vpmuludq + vpternlogd", run_mul_tern},
                      {"vpsrlq + vpternlogd", run_srl_tern}, {"vpshufd {k} + vpternlogd", run_shuf_tern},
                      {"vpmuludq + vpmulld", run_mul_mullo}};
  double peak = 0;
  for (const Row& r : rows) {
    const double ipc = per_cycle(r.run, ghz);
    peak = std::max(peak, ipc);
    std::printf("  %-26s %.2f\n", r.name, ipc);
  }
  std::printf("cycles per 512-bit instruction on the divider: vdivps %.1f, vsqrtps %.1f\n",
              1.0 / per_cycle(run_div, ghz, 2000000), 1.0 / per_cycle(run_sqrt, ghz, 2000000));

  // The library's Philox batch (avx512 tier) per 32-bit word, one thread; then one per thread at once.
  const auto philox = d::philox_batch(d::CpuTier::avx512);
  auto philox_ns = [&](unsigned t) {
    std::vector<double> ns(t);
    auto body = [&](unsigned id) {
      alignas(64) std::uint32_t out[4 * d::kPhiloxBatch];
      const long calls = 400000;
      ns[id] = median_seconds(5, [&] {
                 std::uint64_t c = 0;
                 for (long i = 0; i < calls; ++i, c += d::kPhiloxBatch) philox(1, 2, c, out);
                 asm volatile("" ::"r"(out) : "memory");
               }) / (static_cast<double>(calls) * 4 * d::kPhiloxBatch) * 1e9;
    };
    std::vector<std::thread> pool;
    for (unsigned i = 1; i < t; ++i) pool.emplace_back(body, i);
    body(0);
    for (auto& th : pool) th.join();
    return *std::max_element(ns.begin(), ns.end());
  };
  const double p1 = philox_ns(1), pt = philox_ns(threads);
  std::printf("\nPhilox4x32-10 batch (avx512): %.3f ns per word on one thread, %.3f each with %u threads at once\n", p1, pt,
              threads);

  // The uniform f32 block (U(-0.05, 0.05): no clamp), in L1.
  double block_ns = 0;
  {
    alignas(64) std::uint32_t words[4 * d::kPhiloxBatch];
    alignas(64) float out[4 * d::kPhiloxBatch];
    philox(3, 4, 0, words);
    const auto dist = d::make_uniform<float>("core_limits", {-0.05, 0.05}, paraminit::DType::f32);
    const long reps = 2000000;
    const double s = median_seconds(5, [&] {
      for (long i = 0; i < reps; ++i) {
        d::simd::block512(dist, words, out);
        asm volatile("" ::"r"(out) : "memory");
      }
    });
    block_ns = s / (static_cast<double>(reps) * 4 * d::kPhiloxBatch) * 1e9;
    std::printf("uniform f32 element block (avx512): %.4f ns per element\n", block_ns);
  }

  // memset of 256 MiB with `threads` threads, zeros and 0x5a alternately.
  const std::size_t bytes = std::size_t{256} << 20;
  std::vector<unsigned char> buf(bytes, 1);
  auto par_memset = [&](int value) {
    std::vector<std::thread> pool;
    for (unsigned i = 1; i < threads; ++i)
      pool.emplace_back([&, i] { std::memset(buf.data() + bytes * i / threads, value, bytes * (i + 1) / threads - bytes * i / threads); });
    std::memset(buf.data(), value, bytes / threads);
    for (auto& th : pool) th.join();
  };
  std::vector<double> t0s, t5a;
  for (int r = 0; r < 7; ++r) {
    auto t = Clock::now();
    par_memset(0);
    t0s.push_back(seconds_since(t));
    t = Clock::now();
    par_memset(0x5a);
    t5a.push_back(seconds_since(t));
  }
  std::sort(t0s.begin(), t0s.end());
  std::sort(t5a.begin(), t5a.end());
  const double gbs0 = static_cast<double>(bytes) / t0s[3] / 1e9, gbs5a = static_cast<double>(bytes) / t5a[3] / 1e9;
  std::printf("\nmemset of 256 MiB with %u threads (median of 7, alternating): zeros %.1f GB/s, 0x5a %.1f GB/s (%.1f G f32/s)\n",
              threads, gbs0, gbs5a, gbs5a / 4);

  // The issue rate of the bound: 4 a cycle (Zen 5's four vector ALU pipes) unless a mix above did
  // better; a bound must not assume less than the core can do.
  const double rate = std::max(peak, 4.0);
  const double ops_min = 108.0 / 64 + 0.0625 + 0.3125;
  const double bound = threads * ghz * rate / ops_min;  // G elements/s
  std::printf("\nuniform f32, at least %.4g vector instructions per element; at %.2f a cycle (best measured %.2f) and %.2f GHz on %u cores:\n",
              ops_min, rate, peak, ghz, threads);
  std::printf("  at most %.2f G elem/s = %.0f%% of this run's memset of 0x5a (%.2f G f32/s);\n", bound, 100 * bound / (gbs5a / 4),
              gbs5a / 4);
  std::printf("  70%% of memset is out of reach whenever memset writes more than %.1f GB/s.\n", bound / 0.7 * 4);
  // Where no mix issues near 4 a cycle (Zen 4 runs a 512-bit instruction on two 256-bit pipes: about
  // 2 a cycle), the bound at the best rate measured is the tighter, if not proven, one.
  const double measured_bound = threads * ghz * peak / ops_min;
  std::printf("  at the best rate measured (%.2f a cycle): at most %.2f G elem/s = %.0f%% of memset; 70%% out of reach above %.1f GB/s.\n",
              peak, measured_bound, 100 * measured_bound / (gbs5a / 4), measured_bound / 0.7 * 4);
  std::printf("the library: Philox %.3f + element %.4f = %.3f ns per element and core, %.2f G elem/s on %u cores (computing alone)\n",
              pt, block_ns, pt + block_ns, threads / (pt + block_ns), threads);
  return 0;
#endif
}
