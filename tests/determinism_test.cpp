// The random-number contract: values are a pure function of (seed, stream, global index).
// Same bits for 1, 2 and 7 threads; windows along every dimension of 2-D, 3-D and 4-D tensors
// reproduce the whole; different streams and seeds are uncorrelated.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "paraminit/paraminit.hpp"
#include "test_util.hpp"

namespace {
using namespace paraminit_test;
using paraminit::Context;
using paraminit::Key;
using paraminit::TensorView;

using FillFn = std::function<void(Context&, const TensorView&, Key)>;
struct NamedFill {
  const char* name;
  FillFn fn;
};
const NamedFill kFills[] = {
    {"uniform", [](Context& c, const TensorView& t, Key k) { paraminit::uniform(c, t, k, {-0.3, 0.7}); }},
    {"normal", [](Context& c, const TensorView& t, Key k) { paraminit::normal(c, t, k, {0.1, 0.5}); }},
    {"trunc_normal", [](Context& c, const TensorView& t, Key k) { paraminit::trunc_normal(c, t, k, {0, 1, -1.5, 2.5}); }},
    {"constant", [](Context& c, const TensorView& t, Key) { paraminit::constant(c, t, -0.125); }},
};

TEST(Determinism, SameBitsForAnyThreadCount) {
  const std::size_t n = 3 * (1 << 16) + 12345;  // several chunks and a ragged end
  for (DType t : kAllDTypes)
    for (const auto& f : kFills) {
      std::vector<Buffer> outs;
      for (int threads : {1, 2, 7}) {
        Context c = Context::cpu(threads);
        outs.emplace_back(t, n);
        f.fn(c, outs.back().view1d(), Key{123, 456});
      }
      EXPECT_EQ(std::memcmp(outs[0].bytes(), outs[1].bytes(), outs[0].nbytes()), 0) << f.name << " " << paraminit::to_string(t);
      EXPECT_EQ(std::memcmp(outs[0].bytes(), outs[2].bytes(), outs[0].nbytes()), 0) << f.name << " " << paraminit::to_string(t);
    }
}

// Splits the global tensor into uneven windows along `dim`, fills each window by itself, copies
// it into place by index arithmetic, and compares with the whole.
void check_windows(const std::vector<std::int64_t>& shape, int dim, DType t, const NamedFill& f, Context& c) {
  std::size_t total = 1;
  for (auto e : shape) total *= static_cast<std::size_t>(e);
  Buffer whole(t, total);
  TensorView wv{};
  wv.data = whole.data();
  wv.dtype = t;
  wv.rank = static_cast<int>(shape.size());
  for (int d = 0; d < wv.rank; ++d) wv.shape[d] = shape[d];
  f.fn(c, wv, Key{9, 10});

  const std::int64_t g = shape[dim];
  std::size_t outer = 1, inner = 1;
  for (int d = 0; d < dim; ++d) outer *= static_cast<std::size_t>(shape[d]);
  for (std::size_t d = dim + 1; d < shape.size(); ++d) inner *= static_cast<std::size_t>(shape[d]);
  const std::size_t es = paraminit::dtype_size(t);
  Buffer assembled(t, total);
  // windows [0, 1), [1, g/2), [g/2, g): uneven, one of size 1
  const std::int64_t cuts[] = {0, 1, g / 2 > 1 ? g / 2 : 1, g};
  for (int w = 0; w < 3; ++w) {
    const std::int64_t start = cuts[w], ext = cuts[w + 1] - cuts[w];
    if (ext <= 0) continue;
    TensorView v = wv;
    Buffer part(t, outer * static_cast<std::size_t>(ext) * inner);
    v.data = part.data();
    v.shape[dim] = ext;
    v = v.window(dim, start, g);
    f.fn(c, v, Key{9, 10});
    for (std::size_t o = 0; o < outer; ++o)
      std::memcpy(reinterpret_cast<unsigned char*>(assembled.data()) + ((o * g + start) * inner) * es,
                  part.bytes() + (o * ext * inner) * es, static_cast<std::size_t>(ext) * inner * es);
  }
  EXPECT_EQ(std::memcmp(whole.bytes(), assembled.bytes(), whole.nbytes()), 0)
      << f.name << " " << paraminit::to_string(t) << " rank " << shape.size() << " dim " << dim;
}

TEST(Windows, EveryDimensionOf2d3d4dReproducesTheWhole) {
  Context c = Context::cpu(2);
  const std::vector<std::vector<std::int64_t>> shapes = {{37, 29}, {5, 7, 9}, {3, 5, 4, 7}, {2, 1, 3, 33}};
  for (const auto& shape : shapes)
    for (int dim = 0; dim < static_cast<int>(shape.size()); ++dim)
      for (DType t : kAllDTypes)
        for (const auto& f : kFills) check_windows(shape, dim, t, f, c);
}

// Large windows along dim 0 and 1 of a 2-D tensor (several chunks per thread).
TEST(Windows, LargeRowAndColumnShards) {
  Context c = Context::cpu(2);
  for (int dim : {0, 1}) check_windows({513, 771}, dim, DType::f32, kFills[1], c);
}

// Pearson correlation of paired samples; under independence sqrt(n) r ~ N(0, 1), so |r| < 5/sqrt(n).
double correlation(const std::vector<double>& x, const std::vector<double>& y) {
  const Moments mx = moments(x), my = moments(y);
  long double s = 0;
  for (std::size_t i = 0; i < x.size(); ++i) s += (x[i] - mx.mean) * (y[i] - my.mean);
  return static_cast<double>(s / x.size()) / std::sqrt(mx.var * my.var);
}

TEST(Independence, DifferentStreamsAndSeedsAreUncorrelated) {
  Context c = Context::cpu(2);
  constexpr std::size_t n = 1 << 20;
  const double bound = 5 / std::sqrt(static_cast<double>(n));
  const Key base{1, 0};
  const Key others[] = {{1, 1}, {2, 0}, {0, 0}, {1, std::uint64_t{1} << 32}, {std::uint64_t{1} << 32 | 1, 0}};
  for (const auto& f : {kFills[0], kFills[1], kFills[2]}) {
    Buffer a(DType::f32, n);
    f.fn(c, a.view1d(), base);
    const auto x = a.values();
    for (const Key k : others) {
      Buffer b(DType::f32, n);
      f.fn(c, b.view1d(), k);
      EXPECT_LT(std::fabs(correlation(x, b.values())), bound) << f.name << " seed " << k.seed << " stream " << k.stream;
    }
    // and neighbouring elements of one stream (lag 1 and lag 4: the same and the next Philox call)
    for (std::size_t lag : {1u, 2u, 4u}) {
      std::vector<double> u(x.begin(), x.end() - lag), v(x.begin() + lag, x.end());
      EXPECT_LT(std::fabs(correlation(u, v)), 5 / std::sqrt(static_cast<double>(u.size()))) << f.name << " lag " << lag;
    }
  }
}

}  // namespace
