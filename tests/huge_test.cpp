// Parameters past 2^31 elements and 2^32 bytes on the CPU (CTest label `huge`): every global index,
// byte offset and window base must be 64-bit. One 4 GiB buffer is reused by the tests in turn (peak
// memory ~4.3 GiB). References are independent of the fill under test: values at sampled indices
// from paraminit::philox_bits and the documented uniform formula (paraminit.hpp) computed here, from
// one-element window fills, and, for sparse, the exact count of non-zeros per unit.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "paraminit/paraminit.h"
#include "paraminit/paraminit.hpp"
#include "test_util.hpp"

namespace {
using namespace paraminit_test;
using paraminit::Context;
using paraminit::Key;
using paraminit::TensorView;

constexpr std::uint64_t k2p31 = std::uint64_t{1} << 31;
constexpr std::uint64_t kN = k2p31 + (std::uint64_t{1} << 20);  // bf16 elements: 4 GiB + 2 MiB
constexpr std::int64_t kN64 = static_cast<std::int64_t>(kN);

// The shared buffer: 2^32 + 2^21 bytes, 8-byte aligned, allocated (not touched) once.
unsigned char* big() {
  static std::unique_ptr<std::uint64_t[]> p(new std::uint64_t[kN / 4]);
  return reinterpret_cast<unsigned char*>(p.get());
}
std::uint16_t* big16() { return reinterpret_cast<std::uint16_t*>(big()); }
float* big32() { return reinterpret_cast<float*>(big()); }

Context& ctx2() {  // 2 pool threads: the machine's cores
  static Context c = Context::cpu(2);
  return c;
}

struct Timer {
  const char* what;
  std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
  ~Timer() {
    std::printf("  %s: %.2f s\n", what, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
};

// 64-bit FNV-style hash of n bytes (n a multiple of 8): two fills are compared by hash when only one
// 4 GiB buffer fits; a collision between two different fills has probability ~2^-64.
std::uint64_t hash_bytes(const unsigned char* p, std::uint64_t n) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (std::uint64_t i = 0; i < n; i += 8) {
    std::uint64_t w;
    std::memcpy(&w, p + i, 8);
    h = (h ^ w) * 0x100000001b3ull;
  }
  return h;
}

// Sampled indices of [0, n): the ends, both sides of 2^31 and of 2^30 (byte 2^32 in f32), the start
// of the tail window, and `count` pseudo-random ones (SplitMix64).
std::vector<std::uint64_t> samples(std::uint64_t n, std::uint64_t tail, int count) {
  std::vector<std::uint64_t> s = {0, 1, 2, 3, 4, n - 1, n - 2, n - 3, n - 4, n - 5, n - tail, n - tail - 1};
  for (std::uint64_t c : {k2p31, k2p31 / 2})
    for (std::uint64_t d = 0; d < 6; ++d)
      if (c + d < n) s.push_back(c + d), s.push_back(c - 1 - d);
  std::uint64_t x = 0x9e3779b97f4a7c15ull;
  for (int i = 0; i < count; ++i) {
    x += 0x9e3779b97f4a7c15ull;
    std::uint64_t z = x;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    s.push_back((z ^ (z >> 31)) % n);
  }
  return s;
}

// ---- the documented uniform formula, from the raw words -----------------------------------------
// w = (2m + 1 - 2^24) 2^-24, m = word >> 8; f32 value center + half * w (center, half rounded to
// fp32), kept inside the open interval (low, high); bf16: the f32 value rounded to nearest even, then
// kept inside (low, high) (a value rounded onto a bound moves to the next bf16 value inward).
// low / high are chosen representable in both dtypes, so "inside" is a plain comparison.
float uniform_f32_ref(Key key, std::uint64_t i, double low, double high) {
  std::uint32_t word;
  paraminit::philox_bits(key, i, 1, &word);
  const std::int64_t m = word >> 8;
  const float w = static_cast<float>(2 * m + 1 - (std::int64_t{1} << 24)) * 0x1p-24f;
  const float center = static_cast<float>(0.5 * low + 0.5 * high), half = static_cast<float>(0.5 * high - 0.5 * low);
  float f = center + half * w;  // -ffp-contract=off: a rounded product, then a rounded sum, as documented
  if (f <= static_cast<float>(low)) f = std::nextafter(static_cast<float>(low), INFINITY);
  if (f >= static_cast<float>(high)) f = std::nextafter(static_cast<float>(high), -INFINITY);
  return f;
}
std::uint16_t uniform_bf16_ref(Key key, std::uint64_t i, double low, double high) {
  static const HalfRounder rne(DType::bf16);
  std::uint16_t b = rne(uniform_f32_ref(key, i, low, high));
  const double v = decode_half(b, DType::bf16);
  // One step toward zero is the bit pattern minus one for either sign (sign-magnitude).
  if (v >= high && v > 0) b = static_cast<std::uint16_t>(b - 1);
  if (v <= low && v < 0) b = static_cast<std::uint16_t>(b - 1);
  return b;
}

// One element of a parameter with `global` elements, filled alone: a one-element window.
template <class T, class Fill>
T one_element(DType t, std::uint64_t i, std::uint64_t global, Fill fill) {
  T x{};
  fill(TensorView::of(&x, t, {1}).window(0, static_cast<std::int64_t>(i), static_cast<std::int64_t>(global)));
  return x;
}

// The whole window [start, start + len) of a 1-D parameter, filled alone, equals the whole's slice.
template <class T, class Fill>
void expect_window_1d(const T* whole, DType t, std::uint64_t start, std::uint64_t len, std::uint64_t global, Fill fill) {
  std::vector<T> w(len);
  fill(TensorView::of(w.data(), t, {static_cast<std::int64_t>(len)})
           .window(0, static_cast<std::int64_t>(start), static_cast<std::int64_t>(global)));
  EXPECT_EQ(std::memcmp(w.data(), whole + start, len * sizeof(T)), 0) << "window [" << start << ", +" << len << ")";
}

constexpr double kLow = -0.75, kHigh = 1.25;  // centre 0.25: the f32 sum rounds; both bounds are reached by rounding
constexpr std::uint64_t kTail = (std::uint64_t{1} << 20) + 7;

// bf16 uniform over 2^31 + 2^20 elements: 1-D (C++ and C API) and 2-D windows at the end.
TEST(Huge, Bf16UniformPast2To31Elements) {
  const Key ka{2024, 7}, kb{2025, 8};
  auto fill_a = [&](const TensorView& v) { paraminit::uniform(ctx2(), v, ka, {kLow, kHigh}); };
  std::uint64_t hash_a = 0;
  {
    Timer t{"bf16 uniform, 2^31 + 2^20 elements (4 GiB)"};
    fill_a(TensorView::of(big(), DType::bf16, {kN64}));
  }
  {
    Timer t{"hash of 4 GiB"};
    hash_a = hash_bytes(big(), kN * 2);
  }
  const std::uint16_t* x = big16();
  int bad_formula = 0, bad_single = 0, clamped = 0;
  for (std::uint64_t i : samples(kN, kTail, 4000)) {
    const std::uint16_t ref = uniform_bf16_ref(ka, i, kLow, kHigh);
    const double v = decode_half(x[i], DType::bf16);
    clamped += v == 1.25 - 0x1p-7 || v == -0.75 + 0x1p-8;
    if (x[i] != ref && bad_formula++ < 5) ADD_FAILURE() << "element " << i << ": " << x[i] << ", formula " << ref;
    if (x[i] != one_element<std::uint16_t>(DType::bf16, i, kN, fill_a) && bad_single++ < 5) ADD_FAILURE() << "element " << i << " alone differs";
  }
  EXPECT_EQ(bad_formula, 0);
  EXPECT_EQ(bad_single, 0);
  std::printf("  %d sampled values at a bound's neighbour\n", clamped);
  expect_window_1d(x, DType::bf16, kN - kTail, kTail, kN, fill_a);      // the end
  expect_window_1d(x, DType::bf16, k2p31 - 4099, 8199, kN, fill_a);     // across 2^31
  expect_window_1d(x, DType::bf16, kN - 1, 1, kN, fill_a);              // the last element
  std::vector<std::uint16_t> tail_cpp(x + (kN - kTail), x + kN);

  // 2-D: (2^11 + 1, 2^20), the same element count, another key. Windows at the end of dim 0 (the last
  // 3 rows) and of dim 1 (the last 1007 columns of every row: runs based up to 2^31 + 2^20 - 1007).
  constexpr std::int64_t R = (1 << 11) + 1, C = 1 << 20;
  static_assert(static_cast<std::uint64_t>(R * C) == kN, "");
  auto fill_b = [&](const TensorView& v) { paraminit::uniform(ctx2(), v, kb, {kLow, kHigh}); };
  {
    Timer t{"bf16 uniform, 2-D (2049, 2^20)"};
    fill_b(TensorView::of(big(), DType::bf16, {R, C}));
  }
  {
    std::vector<std::uint16_t> rows(3 * C);
    fill_b(TensorView::of(rows.data(), DType::bf16, {3, C}).window(0, R - 3, R));
    EXPECT_EQ(std::memcmp(rows.data(), x + (R - 3) * C, rows.size() * 2), 0) << "the last 3 rows";
  }
  {
    constexpr std::int64_t W = 1007;
    std::vector<std::uint16_t> cols(static_cast<std::size_t>(R * W));
    fill_b(TensorView::of(cols.data(), DType::bf16, {R, W}).window(1, C - W, C));
    int bad_rows = 0;
    for (std::int64_t r = 0; r < R; ++r)
      bad_rows += std::memcmp(cols.data() + r * W, x + r * C + (C - W), W * 2) != 0;
    EXPECT_EQ(bad_rows, 0) << "rows whose last 1007 columns differ from the whole";
  }
  int bad2 = 0;
  for (std::uint64_t i : samples(kN, kTail, 1000))
    if (x[i] != uniform_bf16_ref(kb, i, kLow, kHigh) && bad2++ < 5) ADD_FAILURE() << "2-D element " << i;
  EXPECT_EQ(bad2, 0);

  // The C API over the same 4 GiB (overwriting the 2-D fill): the C++ 1-D fill's bits, by hash.
  pi_context* pc = nullptr;
  ASSERT_EQ(pi_context_create_cpu(2, &pc), PI_OK) << pi_last_error();
  {
    Timer t{"pi_uniform, bf16, 2^31 + 2^20 elements"};
    const pi_tensor pt = pi_tensor_make(big(), PI_BF16, 1, &kN64);
    ASSERT_EQ(pi_uniform(pc, &pt, pi_key{ka.seed, ka.stream}, kLow, kHigh), PI_OK) << pi_last_error();
  }
  EXPECT_EQ(hash_bytes(big(), kN * 2), hash_a) << "pi_uniform's 4 GiB differ from paraminit::uniform's";
  {
    std::vector<std::uint16_t> tail(kTail);
    const std::int64_t len = static_cast<std::int64_t>(kTail);
    pi_tensor pt = pi_tensor_make(tail.data(), PI_BF16, 1, &len);
    pt.window_dim = 0;
    pt.window_start = static_cast<std::int64_t>(kN - kTail);
    pt.global_extent = kN64;
    ASSERT_EQ(pi_uniform(pc, &pt, pi_key{ka.seed, ka.stream}, kLow, kHigh), PI_OK) << pi_last_error();
    EXPECT_EQ(tail, tail_cpp) << "pi_uniform's tail window";
  }
  pi_context_destroy(pc);
}

// An f32 parameter of 2^30 + 3 elements: 2^32 + 12 bytes, the last elements past byte 2^32.
TEST(Huge, F32UniformPast2To32Bytes) {
  constexpr std::uint64_t n = (std::uint64_t{1} << 30) + 3;
  const Key k{31, 32};
  auto fill = [&](const TensorView& v) { paraminit::uniform(ctx2(), v, k, {kLow, kHigh}); };
  {
    Timer t{"f32 uniform, 2^30 + 3 elements (4 GiB + 12 bytes)"};
    fill(TensorView::of(big(), DType::f32, {static_cast<std::int64_t>(n)}));
  }
  const float* x = big32();
  int bad = 0;
  for (std::uint64_t i : samples(n, kTail, 4000)) {
    const float ref = uniform_f32_ref(k, i, kLow, kHigh), alone = one_element<float>(DType::f32, i, n, fill);
    if ((std::memcmp(&x[i], &ref, 4) != 0 || std::memcmp(&x[i], &alone, 4) != 0) && bad++ < 5)
      ADD_FAILURE() << "element " << i << ": " << x[i] << ", formula " << ref << ", alone " << alone;
  }
  EXPECT_EQ(bad, 0);
  expect_window_1d(x, DType::f32, n - kTail, kTail, n, fill);
  expect_window_1d(x, DType::f32, (std::uint64_t{1} << 30) - 1000, 1003, n, fill);  // up to the end, across byte 2^32
}

// sparse over (2^20 + 1, 2048) bf16 = 2^31 + 2048 elements; unit 2^20 (the last) starts at 2^31.
TEST(Huge, SparsePast2To31Elements) {
  constexpr std::int64_t R = (1 << 20) + 1, C = 2048;
  const Key k{99, 100};
  const std::uint16_t* x = big16();
  // k * 32 <= fan: zeros then kept values scattered; k * 32 > fan and 2k < fan: the bitmap sweep
  // (whole parameters only; its bitmap is numel / 8 = 256 MiB here).
  for (std::int64_t nz : {15, 100}) {
    const paraminit::SparseOptions opt{nz, 0.02};
    auto fill = [&](const TensorView& v) { paraminit::sparse(ctx2(), v, k, opt); };
    {
      const std::string what = "sparse k = " + std::to_string(nz) + ", bf16 (2^20 + 1, 2048)";
      Timer t{what.c_str()};
      fill(TensorView::of(big(), DType::bf16, {R, C}));
    }
    std::vector<std::uint64_t> units = {0, 1, (1 << 19), (1 << 20) - 2, (1 << 20) - 1, 1 << 20};
    for (std::uint64_t u : samples(R, 1, 120)) units.push_back(u);
    int bad_count = 0, bad_value = 0, bad_row = 0;
    std::vector<std::uint16_t> row(C);
    for (std::uint64_t u : units) {
      const std::uint16_t* r = x + u * C;
      int nonzero = 0;
      for (std::int64_t j = 0; j < C; ++j) {
        if ((r[j] & 0x7fff) == 0) continue;
        ++nonzero;
        // A kept element is the dense normal(0, std) value at its global index (one-element window).
        const std::uint64_t g = u * C + static_cast<std::uint64_t>(j);
        const auto dense = one_element<std::uint16_t>(DType::bf16, g, static_cast<std::uint64_t>(R * C), [&](const TensorView& v) {
          paraminit::normal(ctx2(), v, k, {0.0, opt.std});
        });
        if (dense != r[j] && bad_value++ < 5) ADD_FAILURE() << "unit " << u << " column " << j << ": not the dense value";
      }
      if (nonzero != nz && bad_count++ < 5) ADD_FAILURE() << "unit " << u << " has " << nonzero << " non-zeros";
      fill(TensorView::of(row.data(), DType::bf16, {1, C}).window(0, static_cast<std::int64_t>(u), R));
      if (std::memcmp(row.data(), r, C * 2) != 0 && bad_row++ < 5) ADD_FAILURE() << "unit " << u << " alone differs";
    }
    EXPECT_EQ(bad_count, 0) << "k = " << nz;
    EXPECT_EQ(bad_value, 0) << "k = " << nz;
    EXPECT_EQ(bad_row, 0) << "k = " << nz;
  }
}

// he_uniform (kaiming_uniform_) over the same (2^20 + 1, 2048): fan_in 2048, gain sqrt(2) (leaky_relu
// with a = 0), so U(-b, b) with b = sqrt(2) sqrt(3 / 2048) = sqrt(6 / 2048), by the uniform formula.
TEST(Huge, HeUniformPast2To31Elements) {
  constexpr std::int64_t R = (1 << 20) + 1, C = 2048;
  const Key k{5, 55};
  auto fill = [&](const TensorView& v) { paraminit::he_uniform(ctx2(), v, k); };
  {
    Timer t{"he_uniform, bf16 (2^20 + 1, 2048)"};
    fill(TensorView::of(big(), DType::bf16, {R, C}));
  }
  const double b = std::sqrt(6.0 / 2048);
  const std::uint16_t* x = big16();
  int bad = 0;
  for (std::uint64_t i : samples(static_cast<std::uint64_t>(R * C), kTail, 4000))
    if (x[i] != uniform_bf16_ref(k, i, -b, b) && bad++ < 5) ADD_FAILURE() << "element " << i;
  EXPECT_EQ(bad, 0);
  std::vector<std::uint16_t> rows(3 * C);
  fill(TensorView::of(rows.data(), DType::bf16, {3, C}).window(0, R - 3, R));  // fans from the global shape
  EXPECT_EQ(std::memcmp(rows.data(), x + (R - 3) * C, rows.size() * 2), 0) << "the last 3 rows";
}

}  // namespace
