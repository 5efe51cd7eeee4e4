// The CPU fills' vectorized paths (host/cpu_simd.cpp, the AVX2 blocks and F16C rounding; the loops
// of each tier of host/cpu_tier.hpp: portable, AVX2, AVX-512) give the bits of the scalar element
// math: every fill and dtype through the public API at every tier this CPU has (1 and 2 threads,
// lengths around the vector and batch widths, windows at odd offsets) against a reference computed
// element by element from kernels::Generator::operator() (philox_call + group) and kernels::store.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <vector>

#include "host/cpu_simd.hpp"
#include "host/philox_batch.hpp"
#include "host/params.hpp"
#include "kernels/dists.hpp"
#include "paraminit/paraminit.hpp"
#include "test_util.hpp"

namespace {
using namespace paraminit_test;
using paraminit::Context;
using paraminit::Key;
using paraminit::TensorView;
using paraminit::detail::CpuTier;
namespace k = paraminit::kernels;

// The tiers this CPU can run, lowest first (the portable loops always).
std::vector<CpuTier> tiers() {
  std::vector<CpuTier> out;
  for (CpuTier t : {CpuTier::portable, CpuTier::avx2, CpuTier::avx512})
    if (static_cast<int>(t) <= static_cast<int>(paraminit::detail::cpu_best_tier())) out.push_back(t);
  return out;
}

// Reference: global elements [0, n) of Generator<Dist, T> stored as Out, one call at a time.
template <class Out, class Gen>
std::vector<Out> reference(const Gen& gen, std::uint64_t n) {
  using T = typename Gen::value_type;
  std::vector<Out> out(n);
  T v[Gen::kPerCall];
  for (std::uint64_t g = 0; g < n; ++g) {
    if (g % Gen::kPerCall == 0) gen(g / Gen::kPerCall, v);
    k::store(&out[g], v[g % Gen::kPerCall]);
  }
  return out;
}

struct Case {
  const char* name;
  paraminit::UniformOptions u;
  paraminit::NormalOptions nrm;
  paraminit::TruncNormalOptions tn;
  int kind;  // 0 uniform, 1 normal, 2 trunc_normal
};
const Case kCases[] = {
    {"uniform(-0.3, 0.7)", {-0.3, 0.7}, {}, {}, 0},
    {"uniform(0, 1)", {0.0, 1.0}, {}, {}, 0},                 // f32: 0.5 + 0.5 (1 - 2^-24) rounds to 1, clamped
    {"uniform(0, 1e-6)", {0.0, 1e-6}, {}, {}, 0},            // f16 subnormals, rounding ties
    {"uniform(-65504, 65504)", {-65504.0, 65504.0}, {}, {}, 0},  // f16's range: clamped inside
    {"uniform(0.0395, 0.04)", {0.0395, 0.04}, {}, {}, 0},     // bounds that are not bf16/f16 numbers
    {"uniform(0, 1e-38)", {0.0, 1e-38}, {}, {}, 0},           // f32 half * 2^-24 inexact: no shortcut
    {"uniform(-1.4e-45, 1)", {-1.4e-45, 1.0}, {}, {}, 0},     // f32 lo = -0 (the upper end clamps)
    {"normal(0.1, 0.5)", {}, {0.1, 0.5}, {}, 1},
    {"normal(0, 1e-5)", {}, {0.0, 1e-5}, {}, 1},              // f16 subnormals
    {"trunc_normal(0, 0.02, +-2s)", {}, {}, {0.0, 0.02, -0.04, 0.04}, 2},  // central
    {"trunc_normal(0, 1, -1.5, 2.5)", {}, {}, {0.0, 1.0, -1.5, 2.5}, 2},
    {"trunc_normal(0, 1, 3, 9)", {}, {}, {0.0, 1.0, 3.0, 9.0}, 2},        // upper tail
    {"trunc_normal(0, 1, -30, -8)", {}, {}, {0.0, 1.0, -30.0, -8.0}, 2},  // far lower tail
    {"trunc_normal(5, 2, -100, 100)", {}, {}, {5.0, 2.0, -100.0, 100.0}, 2},  // every piece
};

void run_case(Context& c, const TensorView& v, Key key, const Case& cs) {
  if (cs.kind == 0) paraminit::uniform(c, v, key, cs.u);
  if (cs.kind == 1) paraminit::normal(c, v, key, cs.nrm);
  if (cs.kind == 2) paraminit::trunc_normal(c, v, key, cs.tn);
}

// The reference of a case for dtype Out (compute type T).
template <class Out>
std::vector<Out> case_reference(const Case& cs, DType t, Key key, std::uint64_t n) {
  using T = typename k::ComputeType<Out>::type;
  namespace d = paraminit::detail;
  const char* fn = "simd_test";
  if (cs.kind == 0) return reference<Out>(k::Generator<k::UniformDist<T>, T>{d::make_uniform<T>(fn, cs.u, t), key.seed, key.stream}, n);
  if (cs.kind == 1) return reference<Out>(k::Generator<k::NormalDist<T>, T>{d::make_normal<T>(fn, cs.nrm, t), key.seed, key.stream}, n);
  const k::TruncNormalDist<T> tn = d::make_trunc_normal<T>(fn, cs.tn, t);
  if (tn.central) return reference<Out>(k::Generator<k::TruncNormalCentralDist<T>, T>{{tn}, key.seed, key.stream}, n);
  return reference<Out>(k::Generator<k::TruncNormalDist<T>, T>{tn, key.seed, key.stream}, n);
}

template <class Out>
void check_dtype(DType t) {
  // Lengths around the vector widths (8, 16), the tail batch (4 calls), the batch (384 f32 / 192
  // f64 elements) and the chunks.
  const std::uint64_t lengths[] = {1, 7, 8, 9, 15, 16, 17, 47, 48, 49, 95, 96, 97, 191, 192, 193, 383, 384, 385, 399, 1000,
                                   3 * (1 << 16) + 12345};
  for (const CpuTier tier : tiers())
    for (const Case& cs : kCases)
      for (int threads : {1, 2}) {
        const paraminit::detail::ScopedCpuTier at(tier);
        try {
          case_reference<Out>(cs, t, Key{}, 1);
        } catch (const paraminit::Error&) {
          continue;  // options this dtype rejects
        }
        Context c = Context::cpu(threads);
        for (std::uint64_t n : lengths) {
          const Key key{0x1234567890abcdefull + n, 77 + n};
          const auto want = case_reference<Out>(cs, t, key, n);
          std::vector<Out> got(n);
          run_case(c, TensorView::of(got.data(), t, {static_cast<std::int64_t>(n)}), key, cs);
          ASSERT_EQ(std::memcmp(got.data(), want.data(), n * sizeof(Out)), 0)
              << cs.name << " " << paraminit::to_string(t) << " n=" << n << " threads=" << threads << " tier "
              << paraminit::detail::tier_name(tier);
        }
        // Windows at odd offsets: columns [s, s + w) of a 37 x 1031 parameter.
        const std::int64_t rows = 37, cols = 1031;
        const Key key{2026, 12};
        const auto whole = case_reference<Out>(cs, t, key, static_cast<std::uint64_t>(rows * cols));
        for (std::int64_t s : {1, 3, 97, 500}) {
          const std::int64_t w = std::min<std::int64_t>(cols - s, 101 + s);
          std::vector<Out> got(static_cast<std::size_t>(rows * w));
          run_case(c, TensorView::of(got.data(), t, {rows, w}).window(1, s, cols), key, cs);
          for (std::int64_t r = 0; r < rows; ++r)
            ASSERT_EQ(std::memcmp(&got[r * w], &whole[r * cols + s], w * sizeof(Out)), 0)
                << cs.name << " " << paraminit::to_string(t) << " window " << s << " row " << r << " tier "
                << paraminit::detail::tier_name(tier);
        }
      }
}

TEST(Simd, FillsEqualScalarElementMathF32) { check_dtype<float>(DType::f32); }
TEST(Simd, FillsEqualScalarElementMathF64) { check_dtype<double>(DType::f64); }
TEST(Simd, FillsEqualScalarElementMathF16) { check_dtype<k::f16_t>(DType::f16); }
TEST(Simd, FillsEqualScalarElementMathBF16) { check_dtype<k::bf16_t>(DType::bf16); }

// Across a low-word wrap of the call counter (the Philox batch's scalar fallback) and far out.
TEST(Simd, FillsEqualScalarAtLargeIndices) {
  Context c = Context::cpu(2);
  for (const CpuTier tier : tiers())
    for (std::int64_t start : {(std::int64_t{1} << 34) - 200, (std::int64_t{1} << 33) + 5}) {
      const std::int64_t cols = start + 700;
      for (const Case& cs : kCases) {
        const paraminit::detail::ScopedCpuTier at(tier);
        std::vector<double> got(700);
        run_case(c, TensorView::of(got.data(), DType::f64, {1, 700}).window(1, start, cols), Key{5, 6}, cs);
        // Reference for just these elements, call by call.
        const auto t = DType::f64;
        const char* fn = "simd_test";
        namespace d = paraminit::detail;
        std::vector<double> want(700);
        auto fill_ref = [&](const auto& gen) {
          double v[2];
          for (std::int64_t e = 0; e < 700; ++e) {
            const std::uint64_t g = static_cast<std::uint64_t>(start + e);
            gen(g / 2, v);
            want[static_cast<std::size_t>(e)] = v[g % 2];
          }
        };
        if (cs.kind == 0) fill_ref(k::Generator<k::UniformDist<double>, double>{d::make_uniform<double>(fn, cs.u, t), 5, 6});
        if (cs.kind == 1) fill_ref(k::Generator<k::NormalDist<double>, double>{d::make_normal<double>(fn, cs.nrm, t), 5, 6});
        if (cs.kind == 2) fill_ref(k::Generator<k::TruncNormalDist<double>, double>{d::make_trunc_normal<double>(fn, cs.tn, t), 5, 6});
        ASSERT_EQ(std::memcmp(got.data(), want.data(), 700 * sizeof(double)), 0)
            << cs.name << " start " << start << " tier " << paraminit::detail::tier_name(tier);
      }
    }
}

// The uniform f32 blocks take their shortcuts only where they give the kernel's bits. block512
// (avx512) declines, writing nothing, where half * 2^-24 is not exact; the AVX2 block falls back to
// the kernel's two multiplies there. Where they run (lo = -0 included) each element is
// kernels::group's, the grid's end words too, which random words almost never reach. (The fills
// through the API with these options, at every tier, are in kCases.)
TEST(Simd, UniformF32BlocksTakeShortcutsOnlyWhereTheyHold) {
#if defined(PI_SIMD_X86)
  if (!paraminit::detail::simd::available()) GTEST_SKIP() << "no AVX2/FMA/F16C on this CPU";
  namespace d = paraminit::detail;
  constexpr int kWords = 4 * paraminit::detail::kPhiloxBatch;
  std::vector<std::uint32_t> words(kWords);
  std::mt19937 rng(7);
  for (auto& w : words) w = static_cast<std::uint32_t>(rng());
  words[0] = 0, words[1] = 0xffffffffu, words[2] = 0x80000000u, words[3] = 0x7fffff00u;  // the grid's ends and middle
  words[8] = 0xffffffffu, words[9] = 0;  // the ends in the second 8-lane vector too
  struct Want {
    paraminit::UniformOptions u;
    bool shortcut;  // half * 2^-24 exact
  };
  const Want cases[] = {{{-0.3, 0.7}, true},  {{0.0, 1.0}, true},    {{0.0, 1e-6}, true},
                        {{-3e38, 3e38}, true}, {{0.0, 1e-38}, false}, {{-1.4e-45, 1.0}, true}};
  for (const Want& c : cases) {
    const auto dist = d::make_uniform<float>("simd_test", c.u, DType::f32);
    std::vector<float> want(kWords);
    for (int i = 0; i < kWords; ++i) k::group(dist, &words[static_cast<std::size_t>(i)], &want[static_cast<std::size_t>(i)]);
    std::vector<float> got(kWords, -7.0f);
    d::simd::block(dist, words.data(), got.data());
    ASSERT_EQ(std::memcmp(got.data(), want.data(), kWords * sizeof(float)), 0) << "AVX2 block " << c.u.low << " " << c.u.high;
    if (paraminit::detail::cpu_best_tier() == CpuTier::avx512) {
      std::fill(got.begin(), got.end(), -7.0f);
      ASSERT_EQ(d::simd::block512(dist, words.data(), got.data()), c.shortcut) << c.u.low << " " << c.u.high;
      if (c.shortcut)
        ASSERT_EQ(std::memcmp(got.data(), want.data(), kWords * sizeof(float)), 0) << "block512 " << c.u.low << " " << c.u.high;
      else
        ASSERT_TRUE(std::all_of(got.begin(), got.end(), [](float v) { return v == -7.0f; })) << "block512 declined but wrote";
    }
  }
#else
  GTEST_SKIP() << "not x86-64";
#endif
}

// The streamed uniform f32 path, simd::uniform_stream (avx512: the Philox rounds' words made elements
// and stored at once; avx2: the batch's words, then the block), against kernels::group on the words
// of the scalar Philox, on batches that hold the grid's end words (w >> 8 = 0 and 2^24 - 1: about one
// batch in 44000, found by search), where only the clamp keeps (0, 1)'s top element below 1. It
// declines, writing nothing, at the portable tier and, at avx512, where block512 would (half * 2^-24
// inexact) and where the counters' low word wraps inside the batch.
TEST(Simd, UniformStreamEqualsKernelAtTheGridEnds) {
#if defined(PI_SIMD_X86)
  if (!paraminit::detail::simd::available()) GTEST_SKIP() << "no AVX2/FMA/F16C on this CPU";
  namespace d = paraminit::detail;
  constexpr int kB = d::kPhiloxBatch, kWords = 4 * kB;
  // Counter and stream high words not 0: rounds 1 and 2's lane-invariant halves take them in.
  const std::uint64_t seed = 0x1234abcd5678ull, stream = (std::uint64_t{5} << 32) | 77, base = std::uint64_t{3} << 32;
  // The first batches (aligned to kB calls) holding a word below 2^8 and one at 2^32 - 2^8 or above.
  std::vector<std::uint64_t> firsts;
  {
    const auto batch = d::philox_batch(CpuTier::avx2);
    std::vector<std::uint32_t> w(kWords);
    bool low = false, high = false;
    for (std::uint64_t first = base; !(low && high); first += kB) {
      ASSERT_LT(first, base + (std::uint64_t{1} << 28)) << "no batch with the grid's ends";
      batch(seed, stream, first, w.data());
      const bool has_low = std::any_of(w.begin(), w.end(), [](std::uint32_t v) { return v < 0x100u; });
      const bool has_high = std::any_of(w.begin(), w.end(), [](std::uint32_t v) { return v >= 0xffffff00u; });
      if ((has_low && !low) || (has_high && !high)) firsts.push_back(first);
      low |= has_low, high |= has_high;
    }
  }
  const paraminit::UniformOptions opts[] = {{-0.3, 0.7}, {0.0, 1.0}, {-1.4e-45, 1.0}, {0.0, 1e-38}};
  alignas(64) std::uint32_t words[kWords];
  alignas(64) float got[kWords];
  std::vector<float> want(kWords);
  for (const auto& o : opts) {
    const auto dist = d::make_uniform<float>("simd_test", o, DType::f32);
    const bool exact = o.high != 1e-38;
    for (const std::uint64_t first : firsts) {
      d::philox_batch_scalar(seed, stream, first, words);
      for (int i = 0; i < kWords; ++i) k::group(dist, &words[i], &want[static_cast<std::size_t>(i)]);
      for (const CpuTier tier : tiers()) {
        const char* name = d::tier_name(tier);
        const bool runs = tier == CpuTier::avx2 || (tier == CpuTier::avx512 && exact);
        std::fill(got, got + kWords, -7.0f);
        if (d::simd::uniform_stream(tier, dist, seed, stream, first, got)) {
          d::stream_fence();
          ASSERT_TRUE(runs) << name << " " << o.low << " " << o.high;
          ASSERT_EQ(std::memcmp(got, want.data(), sizeof got), 0)
              << "uniform_stream " << name << " " << o.low << " " << o.high << " first " << first;
        } else {
          ASSERT_FALSE(runs) << name << " " << o.low << " " << o.high;
          ASSERT_TRUE(std::all_of(got, got + kWords, [](float v) { return v == -7.0f; })) << name << ": declined but wrote";
        }
      }
    }
    // The last batch whose low word does not wrap (2^32 - kB .. 2^32 - 1) runs; one call later,
    // declined (the low word would wrap inside the batch), writing nothing.
    if (exact && d::cpu_best_tier() == CpuTier::avx512) {
      const std::uint64_t last = base + 0xffffffffull - (kB - 1);
      d::philox_batch_scalar(seed, stream, last, words);
      for (int i = 0; i < kWords; ++i) k::group(dist, &words[i], &want[static_cast<std::size_t>(i)]);
      ASSERT_TRUE(d::simd::uniform_stream(CpuTier::avx512, dist, seed, stream, last, got));
      d::stream_fence();
      ASSERT_EQ(std::memcmp(got, want.data(), sizeof got), 0) << "the last batch before the wrap";
      std::fill(got, got + kWords, -7.0f);
      ASSERT_FALSE(d::simd::uniform_stream(CpuTier::avx512, dist, seed, stream, last + 1, got));
      ASSERT_TRUE(std::all_of(got, got + kWords, [](float v) { return v == -7.0f; }));
    }
  }
#else
  GTEST_SKIP() << "not x86-64";
#endif
}

// The normal f32 blocks (AVX2 and AVX-512) against kernels::group pair by pair, on every angle the kernel can
// draw (2 open01_f32 depends on the word's top 24 bits: all 2^24 of them, each quadrant's edges
// included) with radius words spread over the 32 bits (an odd multiplier permutes them) and their
// edges (0: the smallest u; 0xffffff80 and up: fl(x) = 2^32, u = 1, radius 0). f32, bf16 and f16,
// the last with a std whose values are f16 subnormals.
template <class Out>
void check_normal_blocks(const paraminit::NormalOptions& o, DType t) {
  namespace d = paraminit::detail;
  constexpr int kWords = 4 * d::kPhiloxBatch, kPairs = kWords / 2;
  const auto dist = d::make_normal<float>("simd_test", o, t);
  const std::uint32_t edges[] = {0, 1, 0x7fffffffu, 0x80000000u, 0xffffff7fu, 0xffffff80u, 0xfffffffeu, 0xffffffffu};
  std::vector<std::uint32_t> words(kWords);
  std::vector<Out> got(2 * kPairs), want(2 * kPairs);
  for (std::uint32_t first = 0; first < (1u << 24); first += kPairs) {
    for (int q = 0; q < kPairs; ++q) {
      const std::uint32_t a = (first + static_cast<std::uint32_t>(q)) & 0xffffffu;  // the angle's 24 bits
      words[2 * q] = a < 8 ? edges[a] : a * 0x9E3779B1u;
      words[2 * q + 1] = (a << 8) | (a * 37u & 0xffu);
      float z[2];
      k::group(dist, &words[2 * q], z);
      k::store(&want[2 * q], z[0]);
      k::store(&want[2 * q + 1], z[1]);
    }
    std::fill(got.begin(), got.end(), Out{});
    d::simd::block(dist, words.data(), got.data());
    ASSERT_EQ(std::memcmp(got.data(), want.data(), got.size() * sizeof(Out)), 0)
        << "AVX2 " << paraminit::to_string(t) << " normal(" << o.mean << ", " << o.std << "), angles from " << first;
    if (d::cpu_best_tier() != CpuTier::avx512) continue;
    std::fill(got.begin(), got.end(), Out{});
    ASSERT_TRUE(d::simd::block512(dist, words.data(), got.data()));
    ASSERT_EQ(std::memcmp(got.data(), want.data(), got.size() * sizeof(Out)), 0)
        << "AVX-512 " << paraminit::to_string(t) << " normal(" << o.mean << ", " << o.std << "), angles from " << first;
  }
}

TEST(Simd, NormalBlocksEqualKernelOnEveryAngle) {
#if defined(PI_SIMD_X86)
  if (!paraminit::detail::simd::available()) GTEST_SKIP() << "no AVX2/FMA/F16C on this CPU";
  check_normal_blocks<float>({0.1, 0.5}, DType::f32);
  check_normal_blocks<k::bf16_t>({0.1, 0.5}, DType::bf16);
  check_normal_blocks<k::f16_t>({0.1, 0.5}, DType::f16);
  check_normal_blocks<k::f16_t>({0.0, 1e-5}, DType::f16);
#else
  GTEST_SKIP() << "not x86-64";
#endif
}

// Random fills large enough to stream (kStreamBytes, kStreams: from a 64-byte boundary whole batches
// by non-temporal stores straight from simd::uniform_stream; elsewhere through an L1 buffer, then
// non-temporal stores of whole 64-byte lines, the bytes before the first line and after the last by
// ordinary stores) at every tier, 1 and 2 threads, starting 0-15 elements past a 64-byte boundary
// (every head length; 0: uniform_stream's stores; 4, 8, 12: the whole calls up to the line one at a
// time, then those), and as a window of rows: the scalar reference's
// bits, and nothing outside the view written. Uniform in its three forms: the block without clamp,
// with clamp (0, 1), declined by block512 (half 2^-24 inexact).
template <class Out>
void check_streamed(DType t) {
  const std::uint64_t n = paraminit::detail::kStreamBytes / sizeof(Out) + 389;  // not a whole batch
  const Case* cases[] = {&kCases[0], &kCases[1], &kCases[5], &kCases[7], &kCases[10]};  // uniform x3, normal, trunc_normal
  for (const Case* cs : cases) {
    try {
      case_reference<Out>(*cs, t, Key{}, 1);
    } catch (const paraminit::Error&) {
      continue;
    }
    // One reference serves both views: an element's bits depend only on its global index.
    const Key key{0xfeedbeefull, 31};
    // The window: rows [3, 3 + rows) of a (rows + 5) x cols parameter, one row more than n holds,
    // so that its local size is past kStreamBytes too (and it starts inside a call: 3 cols % 4 != 0).
    const std::int64_t cols = 4099, rows = static_cast<std::int64_t>(n) / cols + 1;
    const auto want = case_reference<Out>(*cs, t, key, static_cast<std::uint64_t>((rows + 5) * cols));
    const std::uint64_t room = std::max<std::uint64_t>(n, static_cast<std::uint64_t>(rows * cols));
    std::vector<Out> buf(room + 64 + 32);
    Out* base = buf.data() + (64 - reinterpret_cast<std::uintptr_t>(buf.data()) % 64) % 64 / sizeof(Out);
    for (const CpuTier tier : tiers())
      for (int threads : {1, 2}) {
        if (tier == CpuTier::portable && cs->kind != 0) continue;  // the slow loops: uniform covers its streaming
        const paraminit::detail::ScopedCpuTier at(tier);
        Context c = Context::cpu(threads);
        for (std::uint64_t off = 0; off < 16; ++off) {
          std::memset(static_cast<void*>(buf.data()), 0xAB, buf.size() * sizeof(Out));
          run_case(c, TensorView::of(base + off, t, {static_cast<std::int64_t>(n)}), key, *cs);
          ASSERT_EQ(std::memcmp(base + off, want.data(), n * sizeof(Out)), 0)
              << cs->name << " " << paraminit::to_string(t) << " offset " << off << " threads " << threads << " tier "
              << paraminit::detail::tier_name(tier);
          const auto* bytes = reinterpret_cast<const unsigned char*>(buf.data());
          const std::size_t first = static_cast<std::size_t>(reinterpret_cast<const unsigned char*>(base + off) - bytes);
          for (std::size_t i = 0; i < first; ++i) ASSERT_EQ(bytes[i], 0xAB) << "before the view, offset " << off;
          for (std::size_t i = first + n * sizeof(Out); i < buf.size() * sizeof(Out); ++i)
            ASSERT_EQ(bytes[i], 0xAB) << "after the view, offset " << off;
        }
        // The window, one element past a line: its bits, and nothing written outside it.
        std::memset(static_cast<void*>(buf.data()), 0xAB, buf.size() * sizeof(Out));
        run_case(c, TensorView::of(base + 1, t, {rows, cols}).window(0, 3, rows + 5), key, *cs);
        const std::size_t wn = static_cast<std::size_t>(rows * cols);
        ASSERT_EQ(std::memcmp(base + 1, &want[static_cast<std::size_t>(3 * cols)], wn * sizeof(Out)), 0)
            << cs->name << " " << paraminit::to_string(t) << " window, threads " << threads << " tier " << paraminit::detail::tier_name(tier);
        const auto* bytes = reinterpret_cast<const unsigned char*>(buf.data());
        const std::size_t first = static_cast<std::size_t>(reinterpret_cast<const unsigned char*>(base + 1) - bytes);
        for (std::size_t i = 0; i < first; ++i) ASSERT_EQ(bytes[i], 0xAB) << "before the window";
        for (std::size_t i = first + wn * sizeof(Out); i < buf.size() * sizeof(Out); ++i) ASSERT_EQ(bytes[i], 0xAB) << "after the window";
      }
  }
}
// A streamed uniform f32 fill whose Philox counters' low word wraps inside it (global elements near
// 2^34: the batch there runs the scalar calls, the streamed paths decline it, and the batches after
// it go on streaming): at every tier, 1 and 2 threads, at a line, one element past and 4 past (whole
// calls to the line), exact and inexact scales: the per-call Generator's bits, nothing outside the view.
TEST(Simd, StreamedFillAcrossTheCounterWrap) {
  const std::int64_t n = static_cast<std::int64_t>(paraminit::detail::kStreamBytes / sizeof(float)) + 389;
  std::vector<float> buf(static_cast<std::size_t>(n) + 64);
  float* base = buf.data() + (64 - reinterpret_cast<std::uintptr_t>(buf.data()) % 64) % 64 / sizeof(float);
  const Key key{5, 6};
  for (const paraminit::UniformOptions o : {paraminit::UniformOptions{-0.3, 0.7}, paraminit::UniformOptions{0.0, 1e-38}}) {
    const k::Generator<k::UniformDist<float>, float> gen{paraminit::detail::make_uniform<float>("simd_test", o, DType::f32), key.seed,
                                                         key.stream};
    // Starts: inside a call (call 2^32 at element 2000001 of the fill), and at a call's start such
    // that the 2^16-element task holding the wrap starts 95 + 96 * 100 calls before it: its batch
    // that wraps starts at low word 2^32 - 95, the first that must be declined.
    for (const std::int64_t start : {(std::int64_t{1} << 34) - 2000001, (std::int64_t{1} << 34) - 4 * (95 + 96 * 100) - 65536 * 20}) {
      std::vector<float> want(static_cast<std::size_t>(n));
      float v[4];
      for (std::int64_t e = 0; e < n; ++e) {
        const auto g = static_cast<std::uint64_t>(start + e);
        if (e == 0 || g % 4 == 0) gen(g / 4, v);
        want[static_cast<std::size_t>(e)] = v[g % 4];
      }
      for (const CpuTier tier : tiers())
        for (int threads : {1, 2})
          for (int off : {0, 1, 4}) {
            const paraminit::detail::ScopedCpuTier at(tier);
            Context c = Context::cpu(threads);
            std::memset(static_cast<void*>(buf.data()), 0xAB, buf.size() * sizeof(float));
            paraminit::uniform(c, TensorView::of(base + off, DType::f32, {1, n}).window(1, start, start + n + 3), key, o);
            ASSERT_EQ(std::memcmp(base + off, want.data(), static_cast<std::size_t>(n) * sizeof(float)), 0)
                << o.high << " start " << start << " tier " << paraminit::detail::tier_name(tier) << " threads " << threads << " offset " << off;
            const auto* bytes = reinterpret_cast<const unsigned char*>(buf.data());
            const auto first = static_cast<std::size_t>(reinterpret_cast<const unsigned char*>(base + off) - bytes);
            for (std::size_t i = 0; i < first; ++i) ASSERT_EQ(bytes[i], 0xAB) << "before the view";
            for (std::size_t i = first + static_cast<std::size_t>(n) * sizeof(float); i < buf.size() * sizeof(float); ++i)
              ASSERT_EQ(bytes[i], 0xAB) << "after the view";
          }
    }
  }
}

// Uniform f32 streams (cpu_fill.hpp's kStreams); normal and trunc_normal of the same size do not,
// and are checked beside it.
TEST(Simd, StreamedFillsEqualScalarElementMath) { check_streamed<float>(DType::f32); }

// Sparse fills at every tier (the gathered Philox batch and the value loop of each): in every row
// exactly k non-zeros, each equal to the scalar reference of the dense normal() value at its
// position. Fan-in 1031: k = 3, 15 take the scatter of kept elements (32 k <= fan-in), k = 100 the
// bitmap sweep, k = 900 the dense fill with the dropped elements zeroed (2 k >= fan-in).
TEST(Simd, SparseKeptValuesEqualScalarElementMathAtEveryTier) {
  const std::int64_t rows = 67, cols = 1031;
  const Key key{99, 3};
  namespace d = paraminit::detail;
  const auto dense = reference<float>(
      k::Generator<k::NormalDist<float>, float>{d::make_normal<float>("simd_test", {0.0, 0.01}, DType::f32), key.seed, key.stream},
      static_cast<std::uint64_t>(rows * cols));
  Context c = Context::cpu(2);
  for (const CpuTier tier : tiers())
    for (std::int64_t nz : {3, 15, 100, 900}) {
      const paraminit::detail::ScopedCpuTier at(tier);
      std::vector<float> got(static_cast<std::size_t>(rows * cols), -1.0f);
      paraminit::SparseOptions o;
      o.nonzeros_per_unit = nz;
      paraminit::sparse(c, TensorView::of(got.data(), DType::f32, {rows, cols}), key, o);
      for (std::int64_t r = 0; r < rows; ++r) {
        std::int64_t kept = 0;
        for (std::int64_t j = 0; j < cols; ++j) {
          const std::size_t e = static_cast<std::size_t>(r * cols + j);
          if (got[e] == 0.0f && k::f32_bits(got[e]) == 0) continue;
          ++kept;
          ASSERT_EQ(k::f32_bits(got[e]), k::f32_bits(dense[e])) << "k " << nz << " row " << r << " col " << j << " tier " << d::tier_name(tier);
        }
        ASSERT_EQ(kept, nz) << "row " << r << " tier " << d::tier_name(tier);
      }
    }
}

// The bytes of one element of dtype t holding `value`, by the scalar kernels::store (f16/bf16 from the
// fp32 value, as constant() documents).
void stored_bytes(DType t, double value, std::uint8_t* want) {
  if (t == DType::f32) k::store(reinterpret_cast<float*>(want), static_cast<float>(value));
  if (t == DType::f64) k::store(reinterpret_cast<double*>(want), value);
  if (t == DType::f16) k::store(reinterpret_cast<k::f16_t*>(want), static_cast<float>(value));
  if (t == DType::bf16) k::store(reinterpret_cast<k::bf16_t*>(want), static_cast<float>(value));
}

// Constant fills of every dtype at odd offsets and lengths, against kernels::store of the value.
TEST(Simd, ConstantEqualsStore) {
  Context c = Context::cpu(2);
  for (double value : {0.0, -0.125, 1.0 / 3.0, 6e-8, 65504.0}) {
    std::vector<std::uint8_t> buf(8 * 5000 + 64, 0xAB);
    for (std::size_t off : {0, 2, 6, 8}) {
      for (std::int64_t n : {1, 3, 4, 5, 1001, 5000}) {
        for (DType t : kAllDTypes) {
          const std::size_t es = paraminit::dtype_size(t);
          if (off % es) continue;
          std::fill(buf.begin(), buf.end(), 0xAB);
          paraminit::constant(c, TensorView::of(buf.data() + off, t, {n}), value);
          std::uint8_t want[8];
          stored_bytes(t, value, want);
          for (std::int64_t e = 0; e < n; ++e)
            ASSERT_EQ(std::memcmp(buf.data() + off + e * es, want, es), 0) << paraminit::to_string(t) << " " << value << " n=" << n;
          EXPECT_EQ(buf[off + n * es], 0xAB);
          if (off) EXPECT_EQ(buf[off - 1], 0xAB);
        }
      }
    }
  }
}

// The streaming constant fill (fill_pattern with stream = true: a head to 32-byte alignment,
// non-temporal 32-byte stores, a tail) against a byte-wise reference, at every element-aligned
// offset within 32 bytes and lengths around the 32- and 128-byte steps; nothing outside is touched.
TEST(Simd, StreamingPatternEqualsScalar) {
  const std::uint64_t patterns[] = {0x3e0000003e000000ull /* f32 0.125 */, 0x3fd5555555555555ull /* f64 1/3 */,
                                    0x3c003c003c003c00ull /* f16 1 */, 0xbe00be00be00be00ull /* bf16 -0.125 */,
                                    0x0102030405060708ull /* 8-byte element */};
  const std::size_t es_of[] = {4, 8, 2, 2, 8};
  std::vector<std::uint8_t> buf(4096 + 128);
  for (int pi = 0; pi < 5; ++pi) {
    const std::uint64_t pat = patterns[pi];
    const std::size_t es = es_of[pi];
    std::uint8_t b[8];
    std::memcpy(b, &pat, 8);
    for (bool stream : {false, true})
      for (std::size_t off = 0; off < 64; off += es)
        for (std::size_t bytes = 0; bytes <= 4096; bytes += (bytes < 300 ? es : 7 * es)) {
          // the buffer's own alignment varies; align the base to 64 so that off is the phase
          std::uint8_t* base = buf.data() + (64 - reinterpret_cast<std::uintptr_t>(buf.data()) % 64) % 64;
          std::fill(buf.begin(), buf.end(), 0xAB);
          paraminit::detail::fill_pattern(base + off, bytes, pat, stream);
          for (std::size_t i = 0; i < bytes; ++i)
            ASSERT_EQ(base[off + i], b[i % 8]) << "pattern " << pi << " off " << off << " bytes " << bytes << " stream " << stream;
          for (std::uint8_t* q = buf.data(); q < base + off; ++q) ASSERT_EQ(*q, 0xAB) << "before, off " << off;
          for (std::uint8_t* q = base + off + bytes; q < buf.data() + buf.size(); ++q) ASSERT_EQ(*q, 0xAB) << "after, off " << off;
        }
  }
}

// A constant fill large enough to stream (kStreamBytes) through the public API, at an odd
// element offset, 1 and 2 threads, every dtype: each element is kernels::store of the value.
TEST(Simd, LargeConstantEqualsStore) {
  const double value = -1.0 / 3.0;
  for (int threads : {1, 2}) {
    Context c = Context::cpu(threads);
    for (DType t : kAllDTypes) {
      const std::size_t es = paraminit::dtype_size(t);
      const std::int64_t n = static_cast<std::int64_t>(paraminit::detail::kStreamBytes / es) + 12345;
      std::vector<std::uint8_t> buf(static_cast<std::size_t>(n) * es + 64, 0xAB);
      const std::size_t off = es == 8 ? 8 : 3 * es;  // not 32-byte aligned
      paraminit::constant(c, TensorView::of(buf.data() + off, t, {n}), value);
      std::uint8_t want[8];
      stored_bytes(t, value, want);
      for (std::int64_t e = 0; e < n; ++e)
        ASSERT_EQ(std::memcmp(buf.data() + off + e * es, want, es), 0) << paraminit::to_string(t) << " e=" << e << " threads=" << threads;
      for (std::size_t i = 0; i < off; ++i) ASSERT_EQ(buf[i], 0xAB);
      for (std::size_t i = off + n * es; i < buf.size(); ++i) ASSERT_EQ(buf[i], 0xAB);
    }
  }
}

// F16C's conversion against the library's scalar RNE on every sign/exponent/top-mantissa pattern
// with the low 13 bits set to the rounding boundaries (ties, just below, just above), and random
// floats: subnormals, ties to even, overflow to infinity, zeros.
TEST(Simd, F16cEqualsScalarRoundToNearestEven) {
  if (!paraminit::detail::simd::available()) GTEST_SKIP() << "no AVX2/FMA/F16C on this CPU";
  std::vector<float> src;
  const std::uint32_t lows[] = {0, 1, 0x0fff, 0x1000, 0x1001, 0x1fff, 0x0800, 0x17ff};
  for (std::uint32_t top = 0; top < (1u << 19); ++top)
    for (std::uint32_t lo : lows) {
      const std::uint32_t u = (top << 13) | lo;
      if ((u & 0x7fffffffu) > 0x7f800000u) continue;  // NaN: never a fill's value
      src.push_back(k::f32_from_bits(u));
    }
  std::mt19937 rng(7);
  for (int i = 0; i < (1 << 20); ++i) {
    const std::uint32_t u = rng();
    if ((u & 0x7fffffffu) <= 0x7f800000u) src.push_back(k::f32_from_bits(u));
  }
  std::vector<k::f16_t> got(src.size());
  paraminit::detail::simd::f32_to_f16(src.data(), got.data(), src.size());
  for (std::size_t i = 0; i < src.size(); ++i)
    ASSERT_EQ(got[i].bits, k::f32_to_f16_rne(src[i])) << "bits " << std::hex << k::f32_bits(src[i]);
}

}  // namespace
