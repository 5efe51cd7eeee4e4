// Sparse initialization: exactly k non-zeros per unit, kept values equal to the dense fill,
// uniform position choice (chi-square, p > 1e-4, single positions and pairs), independence between
// units and keys, PyTorch's fraction form, windows, the CPU scatter == the per-element mask of the
// CUDA path, and bad input.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>
#include <set>

#include "../kernels/sparse.hpp"
#include "paraminit/paraminit.hpp"
#include "test_util.hpp"

namespace {
using namespace paraminit_test;
using paraminit::Context;
using paraminit::Key;
using paraminit::SparseOptions;
using paraminit::SparseValues;
using paraminit::TensorView;
namespace k = paraminit::kernels;


// Chi-square critical value for p = 1e-4 (Wilson-Hilferty: z_{1-1e-4} = 3.7190).
double chi2_critical(double dof) {
  const double z = 3.7190164854556804, a = 2.0 / (9.0 * dof);
  return dof * std::pow(1 - a + z * std::sqrt(a), 3);
}


// Unit / position of flat index i for a shape and unit axis (written out here independently).
void unit_position(const std::vector<std::int64_t>& shape, int axis, std::size_t i, std::size_t* u, std::size_t* j) {
  std::size_t inner = 1;
  for (std::size_t d = axis + 1; d < shape.size(); ++d) inner *= static_cast<std::size_t>(shape[d]);
  const auto units = static_cast<std::size_t>(shape[axis]);
  *u = (i / inner) % units;
  *j = (i / (inner * units)) * inner + i % inner;
}

TEST(Sparse, ExactlyKPerUnitAndKeptValuesAreTheDenseValues) {
  struct Case {
    std::vector<std::int64_t> shape;
    int axis;
  };
  for (const Case& c : {Case{{64, 100}, 0}, Case{{16, 3, 5, 5}, 0}, Case{{100, 64}, 1}, Case{{6, 7, 11}, -1}})
    for (DType t : kAllDTypes)
      for (SparseValues vals : {SparseValues::normal, SparseValues::uniform}) {
        std::size_t n = 1;
        for (auto e : c.shape) n *= static_cast<std::size_t>(e);
        const int axis = c.axis < 0 ? c.axis + static_cast<int>(c.shape.size()) : c.axis;
        const auto units = static_cast<std::size_t>(c.shape[axis]), fan = n / units;
        for (std::size_t kk : {std::size_t{0}, std::size_t{1}, std::size_t{15}, fan - 1, fan}) {
          Buffer s(t, n), d(t, n);
          SparseOptions o;
          o.nonzeros_per_unit = static_cast<std::int64_t>(kk);
          o.std = 0.05;
          o.values = vals;
          o.unit_axis = c.axis;
          paraminit::sparse(ctx(), view(s, c.shape), Key{3, 4}, o);
          if (vals == SparseValues::normal)
            paraminit::normal(ctx(), view(d, c.shape), Key{3, 4}, {0.0, 0.05});
          else
            paraminit::uniform(ctx(), view(d, c.shape), Key{3, 4}, {-std::sqrt(3.0) * 0.05, std::sqrt(3.0) * 0.05});
          std::vector<std::size_t> count(units, 0);
          for (std::size_t i = 0; i < n; ++i) {
            std::size_t u, j;
            unit_position(c.shape, axis, i, &u, &j);
            const double v = s.at(i);
            if (v != 0) {
              ++count[u];
              ASSERT_EQ(v, d.at(i)) << "kept value differs from the dense fill at " << i;
            }
          }
          for (std::size_t u = 0; u < units; ++u)
            ASSERT_EQ(count[u], kk) << paraminit::to_string(t) << " unit " << u << " k " << kk << " fan " << fan;
        }
      }
}

// The CPU scatter (pi_u(0..k-1)) and the per-element mask that the CUDA kernels evaluate
// (pi_u^{-1}(j) < k, via kernels::SparseGenerator run here on the host) give the same bits.
// All three CPU strategies (k <= F/32: scatter the kept; k >= F/2: scatter the zeros; between:
// bitmap sweep) are exercised by k = 2, 9 and 100 (F = 105, 1400 or 840 for axes 0, 1, 3).
TEST(Sparse, CpuScatterEqualsPerElementMask) {
  const std::vector<std::int64_t> shape = {40, 3, 7, 5};
  for (int axis : {0, 1, 3})
  for (std::uint64_t kk : {2u, 9u, 100u}) {
    std::size_t n = 40 * 3 * 7 * 5;
    Buffer s(DType::f32, n);
    SparseOptions o;
    o.nonzeros_per_unit = static_cast<std::int64_t>(kk);
    o.std = 1;
    o.unit_axis = axis;
    paraminit::sparse(ctx(), view(s, shape), Key{77, 88}, o);
    std::size_t inner = 1;
    for (std::size_t d = axis + 1; d < shape.size(); ++d) inner *= static_cast<std::size_t>(shape[d]);
    const auto units = static_cast<std::uint64_t>(shape[axis]);
    k::SparseLayout lay{inner, units, n / units, kk, 1};
    while ((std::uint64_t{1} << (2 * lay.half_bits)) < lay.fan) ++lay.half_bits;
    const k::Generator<k::NormalDist<float>, float> dense{{0.0f, 1.0f}, 77, 88};
    const k::SparseGenerator<k::Generator<k::NormalDist<float>, float>> gen{dense, lay};
    for (std::size_t c = 0; c < n / 4; ++c) {
      float v[4];
      gen(c, v);
      for (int e = 0; e < 4; ++e) ASSERT_EQ(static_cast<double>(v[e]), s.at(4 * c + e)) << "axis " << axis << " i " << 4 * c + e;
    }
  }
}

// The per-element mask also runs on the elements past the end that the kernels compute for a last,
// partial Philox call (and, for f16/bf16 vector stores, one more call): positions >= F there must
// not send the inverse permutation into an endless cycle walk. Shapes whose numel is not a multiple
// of 4 or 8, with positions at and beyond the next power of 4; the real elements still equal the CPU.
TEST(Sparse, PerElementMaskIgnoresElementsPastTheEnd) {
  struct Case {
    std::vector<std::int64_t> shape;
    int axis;
    std::uint64_t k;
  };
  for (const Case& c : {Case{{6, 7, 3, 3}, 0, 2}, Case{{2, 15}, 0, 2}, Case{{3, 4}, 0, 1}, Case{{4, 3}, 1, 1}, Case{{5, 7}, 1, 3}}) {
    const std::size_t n = numel(c.shape);
    Buffer s(DType::f32, n);
    SparseOptions o;
    o.nonzeros_per_unit = static_cast<std::int64_t>(c.k);
    o.std = 1;
    o.unit_axis = c.axis;
    paraminit::sparse(ctx(), view(s, c.shape), Key{5, 6}, o);
    std::uint64_t inner = 1;
    for (std::size_t d = static_cast<std::size_t>(c.axis) + 1; d < c.shape.size(); ++d) inner *= static_cast<std::uint64_t>(c.shape[d]);
    const auto units = static_cast<std::uint64_t>(c.shape[static_cast<std::size_t>(c.axis)]);
    k::SparseLayout lay{inner, units, n / units, c.k, 1};
    while ((std::uint64_t{1} << (2 * lay.half_bits)) < lay.fan) ++lay.half_bits;
    const k::Generator<k::NormalDist<float>, float> dense{{0.0f, 1.0f}, 5, 6};
    const k::SparseGenerator<k::Generator<k::NormalDist<float>, float>> gen{dense, lay};
    for (std::size_t call = 0; call < (n + 3) / 4 + 1; ++call) {  // one call wholly past the end
      float v[4];
      gen(call, v);
      for (std::size_t e = 0; e < 4; ++e)
        if (4 * call + e < n) ASSERT_EQ(static_cast<double>(v[e]), s.at(4 * call + e)) << "element " << 4 * call + e;
    }
  }
}

// Kept positions of unit u under key (seed, stream): pi_u(0..k-1).
std::vector<std::uint64_t> kept(const k::SparseLayout& lay, Key key, std::uint64_t u) {
  const k::Feistel p = lay.permutation(key.seed, key.stream, u);
  std::vector<std::uint64_t> out;
  for (std::uint64_t i = 0; i < lay.k; ++i) out.push_back(p.forward(i));
  return out;
}
k::SparseLayout layout(std::uint64_t fan, std::uint64_t kk) {
  k::SparseLayout lay{fan, 1u << 30, fan, kk, 1};
  while ((std::uint64_t{1} << (2 * lay.half_bits)) < fan) ++lay.half_bits;
  return lay;
}

TEST(Sparse, PositionsAndPairsAreUniformSmallFan) {
  const k::SparseLayout lay = layout(10, 3);
  constexpr std::uint64_t kUnits = 200000;
  std::vector<double> single(10, 0), pair(100, 0);
  for (std::uint64_t u = 0; u < kUnits; ++u) {
    const auto p = kept(lay, Key{1, 2}, u);
    ASSERT_EQ(std::set<std::uint64_t>(p.begin(), p.end()).size(), 3u);
    for (auto a : p) {
      single[a] += 1;
      for (auto b : p)
        if (a < b) pair[a * 10 + b] += 1;
    }
  }
  double x1 = 0, x2 = 0;
  const double e1 = kUnits * 3.0 / 10, e2 = kUnits * 3.0 / 45;  // C(3,2) / C(10,2)
  for (int a = 0; a < 10; ++a) {
    x1 += (single[a] - e1) * (single[a] - e1) / e1;
    for (int b = a + 1; b < 10; ++b) x2 += (pair[a * 10 + b] - e2) * (pair[a * 10 + b] - e2) / e2;
  }
  EXPECT_LT(x1, chi2_critical(9)) << "single positions";
  EXPECT_LT(x2, chi2_critical(44)) << "pairs";
}

TEST(Sparse, PositionsAndSampledPairsAreUniformLargeFan) {
  const std::uint64_t fan = 1000, kk = 15, units = 100000;
  const k::SparseLayout lay = layout(fan, kk);
  std::vector<double> single(fan, 0);
  std::mt19937_64 rng(9);
  std::map<std::pair<std::uint64_t, std::uint64_t>, double> pairs;
  while (pairs.size() < 300) {
    const std::uint64_t a = rng() % fan, b = rng() % fan;
    if (a < b) pairs[{a, b}] = 0;
  }
  for (std::uint64_t u = 0; u < units; ++u) {
    const auto p = kept(lay, Key{5, 6}, u);
    std::set<std::uint64_t> s(p.begin(), p.end());
    for (auto a : p) single[a] += 1;
    for (auto& [ab, cnt] : pairs)
      if (s.count(ab.first) && s.count(ab.second)) cnt += 1;
  }
  double x1 = 0, x2 = 0;
  const double e1 = static_cast<double>(units * kk) / fan;
  const double e2 = static_cast<double>(units) * kk * (kk - 1) / (fan * (fan - 1.0));
  for (double c : single) x1 += (c - e1) * (c - e1) / e1;
  for (auto& [ab, cnt] : pairs) x2 += (cnt - e2) * (cnt - e2) / e2;  // each ~ binomial, nearly Poisson
  EXPECT_LT(x1, chi2_critical(static_cast<double>(fan - 1))) << "single positions";
  EXPECT_LT(x2, chi2_critical(300)) << "sampled pairs";
}

// Independence: the overlap of two k-subsets of [0, F) chosen independently is hypergeometric with
// mean k^2 / F and variance k^2 (F - k)^2 / (F^2 (F - 1)); the mean over many unit pairs (u, u+1)
// and over keys (seed, seed + 1) must be within 5 standard errors of it.
TEST(Sparse, UnitsAndKeysChooseIndependently) {
  const std::uint64_t fan = 64, kk = 8, n = 50000;
  const k::SparseLayout lay = layout(fan, kk);
  const double mean = double(kk) * kk / fan;
  const double var = double(kk) * kk * (fan - kk) * (fan - kk) / (double(fan) * fan * (fan - 1));
  double sum_units = 0, sum_keys = 0;
  for (std::uint64_t u = 0; u < n; ++u) {
    const auto a = kept(lay, Key{1, 1}, u), b = kept(lay, Key{1, 1}, u + 1), c = kept(lay, Key{2, 1}, u);
    const std::set<std::uint64_t> sa(a.begin(), a.end());
    for (auto x : b) sum_units += sa.count(x);
    for (auto x : c) sum_keys += sa.count(x);
  }
  const double se = std::sqrt(var / n);
  EXPECT_NEAR(sum_units / n, mean, 5 * se);
  EXPECT_NEAR(sum_keys / n, mean, 5 * se);
}

// torch.nn.init.sparse_: num_zeros = ceil(sparsity * rows) in every column.
TEST(Sparse, FractionFormMatchesPyTorchZeroCount) {
  for (double sparsity : {0.0, 0.1, 0.3, 0.9, 1.0})
    for (auto [rows, cols] : {std::pair<int, int>{50, 40}, {7, 300}, {1, 5}}) {
      Buffer b(DType::f32, static_cast<std::size_t>(rows * cols));
      paraminit::sparse_fraction(ctx(), view(b, {rows, cols}), Key{8, 9}, sparsity, 0.01);
      const auto zeros = static_cast<std::size_t>(std::ceil(sparsity * rows));
      for (int c = 0; c < cols; ++c) {
        std::size_t z = 0;
        for (int r = 0; r < rows; ++r) z += b.at(static_cast<std::size_t>(r * cols + c)) == 0.0;
        ASSERT_EQ(z, zeros) << "sparsity " << sparsity << " rows " << rows << " column " << c;
      }
    }
}

TEST(Sparse, WindowsAlongUnitsAndFanInReproduceTheWhole) {
  for (std::int64_t kk : {1, 7, 45}) {  // the three CPU strategies
  const std::vector<std::int64_t> shape = {37, 50};
  Buffer whole(DType::f32, 37 * 50);
  SparseOptions o;
  o.nonzeros_per_unit = kk;
  paraminit::sparse(ctx(), view(whole, shape), Key{4, 2}, o);
  // rows [5, 20): along the units
  Buffer rows(DType::f32, 15 * 50);
  paraminit::sparse(ctx(), view(rows, {15, 50}).window(0, 5, 37), Key{4, 2}, o);
  for (std::size_t i = 0; i < 15 * 50; ++i) ASSERT_EQ(rows.at(i), whole.at(5 * 50 + i)) << i;
  // columns [13, 31): along the fan-in
  Buffer cols(DType::f32, 37 * 18);
  paraminit::sparse(ctx(), view(cols, {37, 18}).window(1, 13, 50), Key{4, 2}, o);
  for (std::size_t r = 0; r < 37; ++r)
    for (std::size_t c = 0; c < 18; ++c) ASSERT_EQ(cols.at(r * 18 + c), whole.at(r * 50 + 13 + c)) << r << " " << c;
  }
}

// The GPU's few-kept strategy (kernels::SparseScatter: zero the view, one item per kept element),
// run here on the host item by item, equals the CPU result for whole tensors and for windows along
// the units and along the fan-in, in f32 and f64. The window's geometry is derived here from the
// shapes (runs of the window's inner block), independently of the library's check_view.
TEST(Sparse, GpuScatterStrategyEqualsCpu) {
  const std::vector<std::int64_t> shape = {37, 6, 50};  // units along axis 0 or 2
  for (DType t : {DType::f32, DType::f64})
    for (int axis : {0, 2})
      for (int wdim : {-1, 0, 1, 2}) {
        const std::int64_t units = shape[static_cast<std::size_t>(axis)], fan = 37 * 6 * 50 / units;
        const std::int64_t kk = fan / 32;  // the largest k of the scatter strategy
        std::vector<std::int64_t> local = shape;
        std::int64_t start = 0;
        if (wdim >= 0) start = shape[static_cast<std::size_t>(wdim)] / 3, local[static_cast<std::size_t>(wdim)] -= 2 * start;
        const std::size_t n = numel(local);
        Buffer want(t, n), got(t, n);
        TensorView v = view(want, local);
        if (wdim >= 0) v = v.window(wdim, start, shape[static_cast<std::size_t>(wdim)]);
        SparseOptions o;
        o.nonzeros_per_unit = kk;
        o.unit_axis = axis;
        o.std = 1.0;
        paraminit::sparse(ctx(), v, Key{12, 34}, o);
        // Geometry of the view: runs = product of the extents before wdim, each run the window's
        // contiguous block of the dimensions from wdim on.
        paraminit::detail::Geometry geo;
        std::int64_t outer = 1, inner = 1;
        const int d0 = wdim < 0 ? 0 : wdim;
        for (int d = 0; d < d0; ++d) outer *= shape[static_cast<std::size_t>(d)];
        for (int d = d0 + 1; d < 3; ++d) inner *= shape[static_cast<std::size_t>(d)];
        geo.runs = static_cast<std::uint64_t>(outer);
        geo.run_len = static_cast<std::uint64_t>(local[static_cast<std::size_t>(d0)] * inner);
        geo.global_stride = static_cast<std::uint64_t>(shape[static_cast<std::size_t>(d0)] * inner);
        geo.global_base = static_cast<std::uint64_t>(start * inner);
        geo.numel = n;
        geo.global_numel = 37 * 6 * 50;
        std::uint64_t lay_inner = 1;
        for (int d = axis + 1; d < 3; ++d) lay_inner *= static_cast<std::uint64_t>(shape[static_cast<std::size_t>(d)]);
        k::SparseLayout lay{lay_inner, static_cast<std::uint64_t>(units), static_cast<std::uint64_t>(fan), static_cast<std::uint64_t>(kk), 1};
        while ((std::uint64_t{1} << (2 * lay.half_bits)) < lay.fan) ++lay.half_bits;
        const std::uint64_t u0 = wdim == axis ? static_cast<std::uint64_t>(start) : 0;
        const std::uint64_t u1 = wdim == axis ? u0 + static_cast<std::uint64_t>(local[static_cast<std::size_t>(axis)]) : lay.units;
        auto run = [&](auto dense, auto* data) {
          const k::SparseScatter<decltype(dense)> sc{dense, lay, u0};
          for (std::uint64_t item = 0; item < (u1 - u0) * lay.k; ++item) sc(geo, item, data);
        };
        if (t == DType::f32)
          run(k::Generator<k::NormalDist<float>, float>{{0.0f, 1.0f}, 12, 34}, static_cast<float*>(got.data()));
        else
          run(k::Generator<k::NormalDist<double>, double>{{0.0, 1.0}, 12, 34}, static_cast<double*>(got.data()));
        std::size_t nonzero = 0;
        for (std::size_t i = 0; i < n; ++i) {
          ASSERT_EQ(got.at(i), want.at(i)) << paraminit::to_string(t) << " axis " << axis << " window " << wdim << " i " << i;
          nonzero += want.at(i) != 0;
        }
        EXPECT_GT(nonzero, 0u);  // the comparison is not between two zero tensors
      }
}

TEST(Sparse, BadInputIsRejectedBeforeAnyWrite) {
  Buffer b(DType::f32, 64);
  b.poison(0x5A);
  auto expect = [&](const std::function<void()>& fn, const char* word) {
    try {
      fn();
      ADD_FAILURE() << "no error for " << word;
    } catch (const paraminit::Error& e) {
      EXPECT_EQ(e.code(), paraminit::Status::invalid_argument) << e.what();
      EXPECT_NE(std::string(e.what()).find(word), std::string::npos) << e.what();
    }
    EXPECT_TRUE(b.all_bytes_are(0x5A));
  };
  SparseOptions o;
  o.nonzeros_per_unit = -1;
  expect([&] { paraminit::sparse(ctx(), view(b, {8, 8}), Key{}, o); }, "nonzeros_per_unit = -1");
  o.nonzeros_per_unit = 9;
  expect([&] { paraminit::sparse(ctx(), view(b, {8, 8}), Key{}, o); }, "fan-in = 8");
  o.nonzeros_per_unit = 2;
  expect([&] { paraminit::sparse(ctx(), view(b, {64}), Key{}, o); }, "rank 1 < 2");
  o.unit_axis = 2;
  expect([&] { paraminit::sparse(ctx(), view(b, {8, 8}), Key{}, o); }, "unit_axis 2");
  o.unit_axis = 0;
  o.std = 0;
  expect([&] { paraminit::sparse(ctx(), view(b, {8, 8}), Key{}, o); }, "std = 0");
  expect([&] { paraminit::sparse_fraction(ctx(), view(b, {8, 8}), Key{}, 1.5, 0.01); }, "sparsity = 1.5");
  expect([&] { paraminit::sparse_fraction(ctx(), view(b, {8, 8}), Key{}, -0.1, 0.01); }, "outside [0, 1]");
  expect([&] { paraminit::sparse_fraction(ctx(), view(b, {4, 4, 4}), Key{}, 0.5, 0.01); }, "rank 3 is not 2");
}

}  // namespace
