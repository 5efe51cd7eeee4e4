// The scheme catalog: fans for every layout, each fan-based scheme's bound / std against values
// written here from the published formulas (PyTorch's torch.nn.init, JAX's variance_scaling), the
// sample std of a large fill within a 5-sigma bound, PyTorch agreement on named cases, eye / dirac
// structure, gate-bias layouts, marginal-statistics biases, windows == whole for every scheme, and
// bad input (clear errors, nothing written).
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "paraminit/paraminit.hpp"
#include "test_util.hpp"

namespace {
using namespace paraminit_test;
namespace pi = paraminit;
using pi::Context;
using pi::FanLayout;
using pi::FanMode;
using pi::Key;
using pi::Nonlinearity;
using pi::Status;
using pi::TensorView;

const Key kKey{2026, 11};


// ---- fans ------------------------------------------------------------------------------------------

struct FanCase {
  const char* what;
  std::vector<std::int64_t> shape;
  FanLayout layout;
  std::int64_t fan_in, fan_out;
};

TEST(Fans, TableOfShapesAndLayouts) {
  const FanCase cases[] = {
      {"Linear (out 100, in 300)", {100, 300}, FanLayout::torch(), 300, 100},
      {"Conv1d (64, 32, 5)", {64, 32, 5}, FanLayout::torch(), 32 * 5, 64 * 5},
      {"Conv2d (64, 32, 3, 3)", {64, 32, 3, 3}, FanLayout::torch(), 32 * 9, 64 * 9},
      {"Conv3d (16, 8, 3, 3, 3)", {16, 8, 3, 3, 3}, FanLayout::torch(), 8 * 27, 16 * 27},
      {"dense (in 300, out 100)", {300, 100}, FanLayout::jax(), 300, 100},
      {"HWIO (3, 3, 32, 64)", {3, 3, 32, 64}, FanLayout::jax(), 32 * 9, 64 * 9},
      {"DHWIO (3, 3, 3, 8, 16)", {3, 3, 3, 8, 16}, FanLayout::jax(), 8 * 27, 16 * 27},
      {"heads (12, 64, 32) batch 0", {12, 64, 32}, FanLayout::jax({0}), 64, 32},
      {"heads (12, 64, 32) batch -3", {12, 64, 32}, FanLayout::jax({-3}), 64, 32},
      {"(in, out) by explicit axes", {7, 5}, FanLayout{0, 1, 0, {}}, 7, 5},
  };
  for (const auto& c : cases) {
    TensorView v = TensorView::of(nullptr, pi::DType::f32, {});
    v.rank = static_cast<int>(c.shape.size());
    for (int d = 0; d < v.rank; ++d) v.shape[d] = c.shape[d];
    const pi::Fans f = pi::compute_fans(v, c.layout);
    EXPECT_EQ(f.fan_in, c.fan_in) << c.what;
    EXPECT_EQ(f.fan_out, c.fan_out) << c.what;
    EXPECT_EQ(f.of(FanMode::fan_avg), 0.5 * static_cast<double>(c.fan_in + c.fan_out)) << c.what;
  }
}

TEST(Fans, ComeFromTheGlobalShapeOfAWindow) {
  TensorView v = TensorView::of(nullptr, pi::DType::f32, {64, 8, 3, 3}).window(1, 8, 32);
  const pi::Fans f = pi::compute_fans(v);
  EXPECT_EQ(f.fan_in, 32 * 9);
  EXPECT_EQ(f.fan_out, 64 * 9);
  EXPECT_EQ(f.receptive_field, 9);
}

// ---- gains: PyTorch's table ----------------------------------------------------------------------------

TEST(Gains, PyTorchCalculateGainTable) {
  // torch.nn.init.calculate_gain, written out.
  for (auto nl : {Nonlinearity::linear, Nonlinearity::conv1d, Nonlinearity::conv2d, Nonlinearity::conv3d,
                  Nonlinearity::conv_transpose1d, Nonlinearity::conv_transpose2d, Nonlinearity::conv_transpose3d,
                  Nonlinearity::sigmoid})
    EXPECT_EQ(pi::calculate_gain(nl), 1.0) << pi::to_string(nl);
  EXPECT_EQ(pi::calculate_gain(Nonlinearity::tanh), 5.0 / 3);
  EXPECT_EQ(pi::calculate_gain(Nonlinearity::relu), 1.4142135623730951);
  EXPECT_EQ(pi::calculate_gain(Nonlinearity::leaky_relu), 1.4141428569978354);       // slope 0.01
  EXPECT_EQ(pi::calculate_gain(Nonlinearity::leaky_relu, 0.2), 1.3867504905630728);  // sqrt(2 / 1.04)
  EXPECT_EQ(pi::calculate_gain(Nonlinearity::leaky_relu, 0.0), 1.4142135623730951);
  EXPECT_EQ(pi::calculate_gain(Nonlinearity::selu), 0.75);
  EXPECT_EQ(pi::calculate_gain(pi::from_name<pi::Nonlinearity>("identity")), 1.0);
  EXPECT_EQ(pi::from_name<pi::Nonlinearity>("swish"), Nonlinearity::silu);
  EXPECT_EQ(pi::from_name<pi::Nonlinearity>("conv_transpose2d"), Nonlinearity::conv_transpose2d);
}

// ---- fan-based schemes: bound / std against the published formulas ---------------------------------------

enum class Kind { uniform, normal, trunc };
struct SchemeCase {
  std::string what;
  std::vector<std::int64_t> shape;
  std::function<void(Context&, const TensorView&, Key)> run;
  Kind kind;
  double param;  // uniform: the bound b; normal: the std; trunc: s of N(0, s^2) cut at +-2 s
};

double expected_std(const SchemeCase& c) {
  switch (c.kind) {
    case Kind::uniform: return c.param / std::sqrt(3.0);
    case Kind::normal: return c.param;
    case Kind::trunc: return c.param * 0.87962566103423978;  // std of N(0, 1) on [-2, 2]
  }
  return 0;
}

// The fill the scheme must equal, with the expected parameters.
void reference_fill(const SchemeCase& c, const TensorView& v) {
  switch (c.kind) {
    case Kind::uniform: pi::uniform(ctx(), v, kKey, {-c.param, c.param}); return;
    case Kind::normal: pi::normal(ctx(), v, kKey, {0.0, c.param}); return;
    case Kind::trunc: pi::trunc_normal(ctx(), v, kKey, {0.0, c.param, -2 * c.param, 2 * c.param}); return;
  }
}

std::vector<SchemeCase> scheme_cases() {
  using std::sqrt;
  std::vector<SchemeCase> v;
  const std::vector<std::int64_t> lin = {512, 768}, conv = {256, 128, 3, 3}, hwio = {3, 3, 128, 256},
                                  conv1 = {128, 64, 7}, conv3 = {32, 16, 3, 3, 3}, dense = {768, 512};
  // fan_in / fan_out of each, by hand.
  const double lin_in = 768, lin_out = 512, conv_in = 128 * 9, conv_out = 256 * 9, c1_in = 64 * 7, c1_out = 128 * 7,
               c3_in = 16 * 27, c3_out = 32 * 27;
  auto jax = FanLayout::jax();
  // LeCun 1998 / JAX: U(+-sqrt(3 / fan_in)), N(0, 1 / fan_in), truncated with s = sqrt(1 / fan_in) / .8796...
  v.push_back({"lecun_uniform linear", lin, [](Context& c, const TensorView& t, Key k) { pi::lecun_uniform(c, t, k); },
               Kind::uniform, sqrt(3 / lin_in)});
  v.push_back({"lecun_normal conv2d", conv, [](Context& c, const TensorView& t, Key k) { pi::lecun_normal(c, t, k); },
               Kind::normal, sqrt(1 / conv_in)});
  v.push_back({"lecun_normal truncated HWIO", hwio,
               [jax](Context& c, const TensorView& t, Key k) { pi::lecun_normal(c, t, k, {true, jax}); }, Kind::trunc,
               sqrt(1 / conv_in) / 0.87962566103423978});
  // Glorot & Bengio 2010: U(+-sqrt(6 / (fan_in + fan_out))) and N(0, 2 / (fan_in + fan_out)), times gain.
  v.push_back({"glorot_uniform linear", lin, [](Context& c, const TensorView& t, Key k) { pi::glorot_uniform(c, t, k); },
               Kind::uniform, sqrt(6 / (lin_in + lin_out))});
  v.push_back({"xavier_uniform gain 5/3 conv1d", conv1,
               [](Context& c, const TensorView& t, Key k) { pi::xavier_uniform(c, t, k, {5.0 / 3}); }, Kind::uniform,
               5.0 / 3 * sqrt(6 / (c1_in + c1_out))});
  v.push_back({"glorot_normal conv3d", conv3, [](Context& c, const TensorView& t, Key k) { pi::glorot_normal(c, t, k); },
               Kind::normal, sqrt(2 / (c3_in + c3_out))});
  v.push_back({"glorot_normal truncated (in, out)", dense,
               [jax](Context& c, const TensorView& t, Key k) { pi::glorot_normal(c, t, k, {1.0, true, jax}); }, Kind::trunc,
               sqrt(1 / ((lin_in + lin_out) / 2)) / 0.87962566103423978});
  // He et al. 2015: U(+-gain sqrt(3 / fan)), N(0, gain^2 / fan).
  v.push_back({"he_uniform default (leaky_relu a = 0)", conv,
               [](Context& c, const TensorView& t, Key k) { pi::he_uniform(c, t, k); }, Kind::uniform, sqrt(6 / conv_in)});
  v.push_back({"he_normal fan_out relu conv2d", conv,
               [](Context& c, const TensorView& t, Key k) {
                 pi::HeOptions o;
                 o.mode = FanMode::fan_out;
                 o.nonlinearity = Nonlinearity::relu;
                 pi::he_normal(c, t, k, o);
               },
               Kind::normal, sqrt(2 / conv_out)});
  v.push_back({"he_normal leaky a = 0.2 HWIO", hwio,
               [jax](Context& c, const TensorView& t, Key k) {
                 pi::HeOptions o;
                 o.negative_slope = 0.2;
                 o.fans = jax;
                 pi::he_normal(c, t, k, o);
               },
               Kind::normal, sqrt(2 / 1.04) / sqrt(conv_in)});
  v.push_back({"he_uniform tanh fan_avg", lin,
               [](Context& c, const TensorView& t, Key k) {
                 pi::HeOptions o;
                 o.mode = FanMode::fan_avg;
                 o.nonlinearity = Nonlinearity::tanh;
                 pi::he_uniform(c, t, k, o);
               },
               Kind::uniform, 5.0 / 3 * sqrt(3 / ((lin_in + lin_out) / 2))});
  v.push_back({"he_normal truncated (JAX he_normal)", dense,
               [jax](Context& c, const TensorView& t, Key k) {
                 pi::HeOptions o;
                 o.truncated = true;
                 o.fans = jax;
                 pi::he_normal(c, t, k, o);
               },
               Kind::trunc, sqrt(2 / lin_in) / 0.87962566103423978});
  // JAX variance_scaling(scale, mode, distribution).
  v.push_back({"variance_scaling 2 fan_in truncated", conv,
               [](Context& c, const TensorView& t, Key k) { pi::variance_scaling(c, t, k, {2.0}); }, Kind::trunc,
               sqrt(2 / conv_in) / 0.87962566103423978});
  v.push_back({"variance_scaling 1/3 fan_out uniform", lin,
               [](Context& c, const TensorView& t, Key k) {
                 pi::variance_scaling(c, t, k, {1.0 / 3, FanMode::fan_out, pi::Distribution::uniform});
               },
               Kind::uniform, sqrt(3 * (1.0 / 3) / lin_out)});
  v.push_back({"variance_scaling 0.5 fan_avg normal HWIO", hwio,
               [jax](Context& c, const TensorView& t, Key k) {
                 pi::variance_scaling(c, t, k, {0.5, FanMode::fan_avg, pi::Distribution::normal, jax});
               },
               Kind::normal, sqrt(0.5 / ((conv_in + conv_out) / 2))});
  // The textbook U(-1/sqrt(m), 1/sqrt(m)).
  v.push_back({"fan_in_uniform linear", lin, [](Context& c, const TensorView& t, Key k) { pi::fan_in_uniform(c, t, k); },
               Kind::uniform, 1 / sqrt(lin_in)});
  v.push_back({"fan_in_uniform bias with the weight's fan_in", {512},
               [](Context& c, const TensorView& t, Key k) { pi::fan_in_uniform(c, t, k, {768}); }, Kind::uniform,
               1 / sqrt(768.0)});
  return v;
}

TEST(Schemes, BoundOrStdEqualsThePublishedFormula) {
  for (const auto& c : scheme_cases()) {
    SCOPED_TRACE(c.what);
    const std::size_t n = numel(c.shape);
    Buffer got(DType::f32, n), ref(DType::f32, n);
    c.run(ctx(), view(got, c.shape), kKey);
    reference_fill(c, view(ref, c.shape));
    // The scheme is the fill it uses, with the expected parameters: the same bits.
    ASSERT_EQ(std::memcmp(got.bytes(), ref.bytes(), got.nbytes()), 0);
    // The sample variance within 5 sigma of the expected variance; sigma^2 of the sample variance is
    // (mu4 - sigma^4) / n (estimated with the sample's fourth moment).
    const Moments m = moments(got.values());
    const double s = expected_std(c), var = s * s;
    const double sd_var = std::sqrt((m.m4 - m.var * m.var) / static_cast<double>(n));
    EXPECT_NEAR(m.var, var, 5 * sd_var) << "sample std " << std::sqrt(m.var) << " expected " << s;
    EXPECT_NEAR(m.mean, 0.0, 5 * s / std::sqrt(static_cast<double>(n)));
    double max_abs = 0;
    for (double x : got.values()) max_abs = std::max(max_abs, std::fabs(x));
    if (c.kind == Kind::uniform) EXPECT_LT(max_abs, c.param);
    if (c.kind == Kind::trunc) EXPECT_LE(max_abs, 2 * c.param * (1 + 1e-7));
  }
}

TEST(Schemes, AllFourDTypesGiveTheFillsValues) {
  const std::vector<std::int64_t> shape = {64, 32, 3, 3};
  for (const auto& c : scheme_cases()) {
    if (c.shape.size() != 4 || c.shape[0] != 256) continue;  // the conv cases
    for (DType t : kAllDTypes) {
      SCOPED_TRACE(c.what + " " + pi::to_string(t));
      SchemeCase small = c;
      small.shape = shape;
      Buffer got(t, numel(shape)), ref(t, numel(shape));
      c.run(ctx(), view(got, shape), kKey);
      // The same scheme on this smaller shape: fan_in and fan_out both shrink by 4 (128 -> 32 and
      // 256 -> 64 channels), so every bound and std doubles.
      small.param = c.param * 2.0;
      reference_fill(small, view(ref, shape));
      if (t == DType::f64) {
        for (std::size_t i = 0; i < got.n; ++i) ASSERT_NEAR(got.at(i), ref.at(i), 1e-15 * std::fabs(ref.at(i)) + 1e-300);
      } else {
        EXPECT_EQ(std::memcmp(got.bytes(), ref.bytes(), got.nbytes()), 0);
      }
    }
  }
}

TEST(Schemes, PyTorchNamedCases) {
  // nn.Linear(300, 100).weight after reset_parameters: kaiming_uniform_(a = sqrt 5): bound 1/sqrt(300).
  {
    Buffer b(DType::f32, 100 * 300), ref(DType::f32, 100 * 300);
    pi::HeOptions o;
    o.negative_slope = std::sqrt(5.0);
    pi::kaiming_uniform(ctx(), view(b, {100, 300}), kKey, o);
    pi::uniform(ctx(), view(ref, {100, 300}), kKey, {-0.05773502691896257, 0.05773502691896257});
    EXPECT_EQ(std::memcmp(b.bytes(), ref.bytes(), b.nbytes()), 0);
    Buffer t(DType::f32, 100 * 300);
    pi::fan_in_uniform(ctx(), view(t, {100, 300}), kKey);  // the same distribution, the textbook name
    EXPECT_EQ(std::memcmp(b.bytes(), t.bytes(), b.nbytes()), 0);
  }
  // xavier_normal_(gain = 2) on Conv2d(32, 64, 3).weight (64, 32, 3, 3): std 2 sqrt(2 / 864).
  {
    Buffer b(DType::f32, 64 * 32 * 9), ref(DType::f32, 64 * 32 * 9);
    pi::xavier_normal(ctx(), view(b, {64, 32, 3, 3}), kKey, {2.0});
    pi::normal(ctx(), view(ref, {64, 32, 3, 3}), kKey, {0.0, 0.09622504486493763});
    EXPECT_EQ(std::memcmp(b.bytes(), ref.bytes(), b.nbytes()), 0);
  }
  // kaiming_normal_(mode = 'fan_out', nonlinearity = 'relu') on the same: std sqrt 2 / sqrt 576.
  {
    Buffer b(DType::f32, 64 * 32 * 9), ref(DType::f32, 64 * 32 * 9);
    pi::HeOptions o;
    o.mode = FanMode::fan_out;
    o.nonlinearity = Nonlinearity::relu;
    pi::kaiming_normal(ctx(), view(b, {64, 32, 3, 3}), kKey, o);
    pi::normal(ctx(), view(ref, {64, 32, 3, 3}), kKey, {0.0, 0.05892556509887897});
    EXPECT_EQ(std::memcmp(b.bytes(), ref.bytes(), b.nbytes()), 0);
  }
}

TEST(Schemes, GainsBeyondPyTorchUseTheQuadratureGain) {
  // he_normal with gelu: gain 1.5335304411955352 (30-digit integral, tools/gain_references.py).
  Buffer b(DType::f64, 64 * 128), ref(DType::f64, 64 * 128);
  pi::HeOptions o;
  o.nonlinearity = Nonlinearity::gelu;
  pi::he_normal(ctx(), view(b, {64, 128}), kKey, o);
  pi::normal(ctx(), view(ref, {64, 128}), kKey, {0.0, 1.5335304411955352 / std::sqrt(128.0)});
  for (std::size_t i = 0; i < b.n; ++i) ASSERT_NEAR(b.at(i), ref.at(i), 1e-13 * std::fabs(ref.at(i)));
}

// ---- structured fills ----------------------------------------------------------------------------------

TEST(Structured, EyeIsTheScaledIdentity) {
  for (DType t : kAllDTypes)
    for (auto shape : {std::vector<std::int64_t>{3, 5}, {5, 3}, {4, 4}, {1, 7}}) {
      Buffer b(t, numel(shape));
      b.poison(0x5A);
      pi::eye(ctx(), view(b, shape), 2.5);
      for (std::int64_t i = 0; i < shape[0]; ++i)
        for (std::int64_t j = 0; j < shape[1]; ++j)
          ASSERT_EQ(b.at(static_cast<std::size_t>(i * shape[1] + j)), i == j ? 2.5 : 0.0);
    }
  Buffer b(DType::f32, 6);
  pi::eye(ctx(), view(b, {2, 3}));
  EXPECT_EQ(b.values(), (std::vector<double>{1, 0, 0, 0, 1, 0}));
}

// torch.nn.init.dirac_, written as PyTorch's loops: for g < groups, d < min(out/groups, in):
// w[g * out/groups + d, d, k0/2, k1/2, ...] = 1.
std::vector<double> dirac_reference(const std::vector<std::int64_t>& s, std::int64_t groups, double gain) {
  std::vector<double> w(numel(s), 0.0);
  const std::int64_t opg = s[0] / groups, min_dim = std::min(opg, s[1]);
  std::int64_t spatial = 1, centre = 0;
  for (std::size_t d = 2; d < s.size(); ++d) {
    spatial *= s[d];
    centre = centre * s[d] + s[d] / 2;
  }
  for (std::int64_t g = 0; g < groups; ++g)
    for (std::int64_t d = 0; d < min_dim; ++d) w[static_cast<std::size_t>(((g * opg + d) * s[1] + d) * spatial + centre)] = gain;
  return w;
}

TEST(Structured, DiracMatchesPyTorchsLoops) {
  struct C {
    std::vector<std::int64_t> shape;
    std::int64_t groups;
  };
  for (const C& c : {C{{6, 4, 3, 3}, 2}, C{{4, 6, 5}, 1}, C{{2, 2, 3, 4, 5}, 1}, C{{8, 2, 3}, 4}, C{{3, 5, 2, 2}, 1},
                     C{{6, 6, 1, 1}, 3}})
    for (DType t : kAllDTypes) {
      Buffer b(t, numel(c.shape));
      b.poison(0x5A);
      pi::dirac(ctx(), view(b, c.shape), {c.groups, 1.5});
      ASSERT_EQ(b.values(), dirac_reference(c.shape, c.groups, 1.5)) << c.shape.size() << "-D groups " << c.groups;
    }
}

TEST(Structured, GateBiasLayouts) {
  using L = pi::GateLayout;
  const std::int64_t H = 3;
  struct C {
    L layout;
    int blocks;
    int gate;  // the forget / update block, by each framework's documentation
  };
  for (const C& c : {C{L::torch_lstm, 4, 1}, C{L::torch_gru, 3, 1}, C{L::keras_lstm, 4, 1}, C{L::keras_gru, 3, 0},
                     C{L::cudnn_lstm, 8, 1}, C{L::cudnn_gru, 6, 1}}) {
    const std::int64_t len = c.blocks * H;
    for (DType t : kAllDTypes) {
      Buffer b(t, static_cast<std::size_t>(2 * len));  // (2 layers, blocks * H)
      pi::gate_bias(ctx(), view(b, {2, len}), {c.layout, 1.0, -0.5});
      for (std::int64_t i = 0; i < 2 * len; ++i)
        ASSERT_EQ(b.at(static_cast<std::size_t>(i)), (i % len) / H == c.gate ? 1.0 : -0.5)
            << "layout " << static_cast<int>(c.layout) << " element " << i;
    }
  }
}

TEST(Biases, OutputBiasFromMarginals) {
  const double p[] = {0.5, 0.25, 0.25};
  Buffer b(DType::f64, 3);
  pi::output_bias(ctx(), view(b, {3}), p, 3);
  EXPECT_EQ(b.values(), (std::vector<double>{-0.6931471805599453, -1.3862943611198906, -1.3862943611198906}));
  pi::output_bias(ctx(), view(b, {3}), p, 3, {pi::OutputActivation::softmax, true});
  EXPECT_NEAR(b.at(0), 0.4620981203732969, 1e-15);
  EXPECT_NEAR(b.at(1), -0.2310490601866484, 1e-15);
  EXPECT_NEAR(b.at(2), -0.2310490601866484, 1e-15);
  const double q[] = {0.5, 0.9, 0.1};
  pi::output_bias(ctx(), view(b, {3}), q, 3, {pi::OutputActivation::sigmoid});
  EXPECT_EQ(b.at(0), 0.0);
  EXPECT_NEAR(b.at(1), 2.1972245773362196, 1e-15);  // log 9
  EXPECT_NEAR(b.at(2), -2.1972245773362196, 1e-15);
  const double mean[] = {1.5, -2.0, 0.0};
  pi::output_bias(ctx(), view(b, {3}), mean, 3, {pi::OutputActivation::identity});
  EXPECT_EQ(b.values(), (std::vector<double>{1.5, -2.0, 0.0}));
  // f32: the double value rounded once.
  Buffer f(DType::f32, 3);
  pi::output_bias(ctx(), view(f, {3}), q, 3, {pi::OutputActivation::sigmoid});
  EXPECT_EQ(f.at(1), static_cast<double>(static_cast<float>(2.1972245773362196)));
}

TEST(Biases, VarianceAndPrecisionParameters) {
  const double v[] = {4.0, 0.25};
  struct C {
    pi::ScaleParameter kind;
    std::vector<double> from_v, from_one;
  };
  for (const C& c : {C{pi::ScaleParameter::variance, {4, 0.25}, {1, 1}}, C{pi::ScaleParameter::precision, {0.25, 4}, {1, 1}},
                     C{pi::ScaleParameter::std, {2, 0.5}, {1, 1}},
                     C{pi::ScaleParameter::log_variance, {1.3862943611198906, -1.3862943611198906}, {0, 0}},
                     C{pi::ScaleParameter::log_std, {0.6931471805599453, -0.6931471805599453}, {0, 0}}}) {
    Buffer b(DType::f64, 2);
    pi::variance_parameter(ctx(), view(b, {2}), c.kind, v, 2);
    EXPECT_EQ(b.values(), c.from_v) << static_cast<int>(c.kind);
    pi::variance_parameter(ctx(), view(b, {2}), c.kind);
    EXPECT_EQ(b.values(), c.from_one) << static_cast<int>(c.kind);
  }
  Buffer r(DType::bf16, 5);
  pi::relu_bias(ctx(), view(r, {5}));
  for (double x : r.values()) EXPECT_EQ(x, 0.10009765625);  // 0.1 in bf16, nearest even
}

// ---- windows: the union of windows equals the whole, bit for bit, for every scheme ------------------------

using Runner = std::function<void(const TensorView&)>;

// Splits dim `dim` of `shape` into three uneven windows, runs each into its own buffer, and
// compares with the same slice of the whole.
void expect_windows_equal_whole(const std::string& what, DType t, const std::vector<std::int64_t>& shape, int dim,
                                const Runner& run) {
  SCOPED_TRACE(what + " " + pi::to_string(t) + " dim " + std::to_string(dim));
  const std::size_t esize = pi::dtype_size(t);
  Buffer whole(t, numel(shape));
  run(view(whole, shape));
  const std::int64_t ext = shape[static_cast<std::size_t>(dim)];
  const std::int64_t cut1 = ext / 3, cut2 = std::min(ext, cut1 + 1 + ext / 4);  // uneven; may be empty
  const std::int64_t cuts[] = {0, cut1, cut2, ext};
  std::size_t outer = 1, inner = 1;
  for (int d = 0; d < dim; ++d) outer *= static_cast<std::size_t>(shape[static_cast<std::size_t>(d)]);
  for (std::size_t d = static_cast<std::size_t>(dim) + 1; d < shape.size(); ++d) inner *= static_cast<std::size_t>(shape[d]);
  for (int w = 0; w < 3; ++w) {
    const std::int64_t start = cuts[w], len = cuts[w + 1] - cuts[w];
    std::vector<std::int64_t> s = shape;
    s[static_cast<std::size_t>(dim)] = len;
    Buffer part(t, numel(s));
    run(view(part, s).window(dim, start, ext));
    for (std::size_t o = 0; o < outer; ++o) {
      const auto row = static_cast<std::size_t>(len) * inner * esize;
      const unsigned char* a = part.bytes() + o * row;
      const unsigned char* b = whole.bytes() + (o * static_cast<std::size_t>(ext) + static_cast<std::size_t>(start)) * inner * esize;
      ASSERT_EQ(std::memcmp(a, b, row), 0) << "window " << w << " outer " << o;
    }
  }
}

TEST(Windows, EverySchemeUnionOfWindowsEqualsTheWhole) {
  const double marg[] = {0.1, 0.2, 0.3, 0.15, 0.05, 0.2};
  const double vars[] = {1.0, 2.0, 0.5, 4.0, 0.25, 3.0};
  struct W {
    std::string what;
    std::vector<std::int64_t> shape;
    Runner run;
  };
  const std::vector<W> cases = {
      {"he_uniform", {24, 10, 3}, [](const TensorView& v) { pi::he_uniform(ctx(), v, kKey); }},
      {"he_normal truncated", {24, 10, 3},
       [](const TensorView& v) {
         pi::HeOptions o;
         o.truncated = true;
         pi::he_normal(ctx(), v, kKey, o);
       }},
      {"glorot_uniform", {24, 10, 3}, [](const TensorView& v) { pi::glorot_uniform(ctx(), v, kKey); }},
      {"glorot_normal", {24, 10, 3}, [](const TensorView& v) { pi::glorot_normal(ctx(), v, kKey); }},
      {"lecun_uniform", {24, 10, 3}, [](const TensorView& v) { pi::lecun_uniform(ctx(), v, kKey); }},
      {"lecun_normal", {24, 10, 3}, [](const TensorView& v) { pi::lecun_normal(ctx(), v, kKey); }},
      {"variance_scaling", {24, 10, 3}, [](const TensorView& v) { pi::variance_scaling(ctx(), v, kKey); }},
      {"fan_in_uniform", {24, 10, 3}, [](const TensorView& v) { pi::fan_in_uniform(ctx(), v, kKey); }},
      {"zeros", {24, 10, 3}, [](const TensorView& v) { pi::zeros(ctx(), v); }},
      {"ones", {24, 10, 3}, [](const TensorView& v) { pi::ones(ctx(), v); }},
      {"eye", {9, 12}, [](const TensorView& v) { pi::eye(ctx(), v, 0.5); }},
      {"dirac", {12, 9, 3, 3}, [](const TensorView& v) { pi::dirac(ctx(), v, {3, 1.0}); }},
      {"gate_bias", {6, 12}, [](const TensorView& v) { pi::gate_bias(ctx(), v); }},
      {"output_bias", {6}, [&](const TensorView& v) { pi::output_bias(ctx(), v, marg, 6, {pi::OutputActivation::softmax, true}); }},
      {"variance_parameter", {2, 3}, [&](const TensorView& v) { pi::variance_parameter(ctx(), v, pi::ScaleParameter::log_std, vars, 6); }},
  };
  for (const auto& c : cases)
    for (DType t : kAllDTypes)
      for (int dim = 0; dim < static_cast<int>(c.shape.size()); ++dim) expect_windows_equal_whole(c.what, t, c.shape, dim, c.run);
}

// ---- bad input ------------------------------------------------------------------------------------------

// f32 buffers (test_util.hpp's expect_error for other dtypes).
void expect_error(Status code, const std::vector<std::string>& words, const std::vector<std::int64_t>& shape,
                  const std::function<void(const TensorView&)>& fn) {
  paraminit_test::expect_error(code, words, DType::f32, shape, fn);
}

TEST(SchemeErrors, ClearMessagesAndNothingWritten) {
  const Status bad = Status::invalid_argument;
  expect_error(bad, {"unknown nonlinearity \"gelu2\"", "valid: linear", "aliases: identity"}, {4, 4}, [](const TensorView&) {
    pi::from_name<pi::Nonlinearity>("gelu2");
  });
  expect_error(bad, {"he_uniform", "rank 1", "fewer than 2 dimensions"}, {16},
               [](const TensorView& v) { pi::he_uniform(ctx(), v, kKey); });
  expect_error(bad, {"glorot_normal", "rank 0"}, {}, [](const TensorView& v) { pi::glorot_normal(ctx(), v, kKey); });
  expect_error(bad, {"fan_in of shape (5, 0)", "is 0"}, {5, 0}, [](const TensorView& v) { pi::lecun_uniform(ctx(), v, kKey); });
  expect_error(bad, {"fan_out of shape (0, 5)"}, {0, 5}, [](const TensorView& v) {
    pi::HeOptions o;
    o.mode = FanMode::fan_out;
    pi::he_normal(ctx(), v, kKey, o);
  });
  expect_error(bad, {"scale = -1", "> 0"}, {4, 4}, [](const TensorView& v) { pi::variance_scaling(ctx(), v, kKey, {-1.0}); });
  expect_error(bad, {"scale = 0"}, {4, 4}, [](const TensorView& v) { pi::variance_scaling(ctx(), v, kKey, {0.0}); });
  expect_error(bad, {"gain = -2"}, {4, 4}, [](const TensorView& v) { pi::glorot_uniform(ctx(), v, kKey, {-2.0}); });
  expect_error(bad, {"negative_slope = nan"}, {4, 4}, [](const TensorView& v) {
    pi::HeOptions o;
    o.negative_slope = std::numeric_limits<double>::quiet_NaN();
    pi::he_uniform(ctx(), v, kKey, o);
  });
  expect_error(bad, {"mode = 3"}, {4, 4}, [](const TensorView& v) {
    pi::HeOptions o;
    o.mode = static_cast<FanMode>(3);
    pi::he_uniform(ctx(), v, kKey, o);
  });
  expect_error(bad, {"distribution = 9"}, {4, 4}, [](const TensorView& v) {
    pi::variance_scaling(ctx(), v, kKey, {1.0, FanMode::fan_in, static_cast<pi::Distribution>(9)});
  });
  expect_error(bad, {"in_axis = 2", "out of range"}, {4, 4}, [](const TensorView& v) {
    pi::lecun_uniform(ctx(), v, kKey, {false, FanLayout{2, 0, 0, {}}});
  });
  expect_error(bad, {"same axis"}, {4, 4}, [](const TensorView& v) { pi::lecun_uniform(ctx(), v, kKey, {false, FanLayout{1, -1, 0, {}}}); });
  expect_error(bad, {"batch axis 1"}, {3, 4, 4}, [](const TensorView& v) {
    pi::lecun_uniform(ctx(), v, kKey, {false, FanLayout::jax({-2})});
  });
  expect_error(bad, {"relu takes no parameter"}, {4, 4}, [](const TensorView&) { pi::calculate_gain(Nonlinearity::relu, 0.1); });
  expect_error(bad, {"elu's alpha = -1"}, {4, 4}, [](const TensorView&) { pi::quadrature_gain(Nonlinearity::elu, -1.0); });
  expect_error(bad, {"eye", "2-D", "rank 3"}, {2, 2, 2}, [](const TensorView& v) { pi::eye(ctx(), v); });
  expect_error(bad, {"dirac", "rank 2"}, {4, 4}, [](const TensorView& v) { pi::dirac(ctx(), v); });
  expect_error(bad, {"groups = 3", "divide the output channels (4)"}, {4, 4, 3}, [](const TensorView& v) { pi::dirac(ctx(), v, {3}); });
  expect_error(bad, {"gate_bias", "(10) is not a multiple of the 4"}, {10}, [](const TensorView& v) { pi::gate_bias(ctx(), v); });
  expect_error(bad, {"value = inf"}, {8}, [](const TensorView& v) {
    pi::gate_bias(ctx(), v, {pi::GateLayout::torch_lstm, std::numeric_limits<double>::infinity()});
  });
  const double p_bad[] = {0.5, 1.0, 0.2}, p_sum[] = {0.5, 0.3, 0.3}, p_ok[] = {0.2, 0.3, 0.5};
  expect_error(bad, {"stats[1] = 1", "(0, 1)"}, {3}, [&](const TensorView& v) { pi::output_bias(ctx(), v, p_bad, 3); });
  expect_error(bad, {"sum to 1.1"}, {3}, [&](const TensorView& v) { pi::output_bias(ctx(), v, p_sum, 3); });
  expect_error(bad, {"n = 2 statistics for a parameter of 3 elements"}, {3}, [&](const TensorView& v) { pi::output_bias(ctx(), v, p_ok, 2); });
  expect_error(bad, {"stats is null"}, {3}, [&](const TensorView& v) { pi::output_bias(ctx(), v, nullptr, 3); });
  const double v_bad[] = {1.0, 0.0};
  expect_error(bad, {"variances[1] = 0", "> 0"}, {2}, [&](const TensorView& v) {
    pi::variance_parameter(ctx(), v, pi::ScaleParameter::precision, v_bad, 2);
  });
  expect_error(bad, {"n = 3 variances"}, {2}, [&](const TensorView& v) {
    pi::variance_parameter(ctx(), v, pi::ScaleParameter::precision, v_bad, 3);
  });
  const double big[] = {1e300};
  expect_error(bad, {"element 0 would be 1e+300", "f32"}, {1}, [&](const TensorView& v) {
    pi::output_bias(ctx(), v, big, 1, {pi::OutputActivation::identity});
  });
}

TEST(SchemeErrors, ZeroSizeTensorsWithANonZeroFanDoNothing) {
  Buffer b(DType::f32, 1);
  b.poison(0xA5);
  pi::he_uniform(ctx(), view(b, {0, 5}), kKey);  // fan_in 5: valid, nothing to write
  pi::eye(ctx(), view(b, {0, 3}));
  pi::dirac(ctx(), view(b, {0, 3, 3}));
  pi::gate_bias(ctx(), view(b, {0}));
  pi::output_bias(ctx(), view(b, {0}), nullptr, 0);
  EXPECT_TRUE(b.all_bytes_are(0xA5));
}

}  // namespace
