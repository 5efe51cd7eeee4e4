// Fans and gains: host computations in double.
//
// quadrature_gain integrates E[f(z)^2] = int f(z)^2 phi(z) dz over [-20, 20] (the mass beyond is
// below 1e-85 for every activation here, whose f(z)^2 grows at most like z^2) with a composite
// 20-point Gauss-Legendre rule on panels of width 1/4. Every kink of the activations (0, +-1, +-3, 6)
// is a panel boundary, so each panel integrates an analytic function and the rule's error is far
// below double rounding; the sum of 3200 positive terms loses at most ~1e-13 relative.
#include <cmath>
#include <string>

#include "internal.hpp"
#include "params.hpp"

namespace paraminit {

double Fans::of(FanMode mode) const noexcept {
  switch (mode) {
    case FanMode::fan_in: return static_cast<double>(fan_in);
    case FanMode::fan_out: return static_cast<double>(fan_out);
    case FanMode::fan_avg: return 0.5 * (static_cast<double>(fan_in) + static_cast<double>(fan_out));
  }
  return 0.0;
}

FanLayout FanLayout::jax(std::initializer_list<int> batch_axes) noexcept {
  FanLayout l;
  l.in_axis = -2;
  l.out_axis = -1;
  for (int a : batch_axes) {
    if (l.num_batch_axes < kMaxRank) l.batch_axes[l.num_batch_axes] = a;
    ++l.num_batch_axes;  // more than kMaxRank is reported by compute_fans
  }
  return l;
}

namespace detail {

Fans compute_fans_checked(const TensorView& t, const FanLayout& layout, const char* fn) {
  if (t.rank < 0 || t.rank > kMaxRank)
    fail(Status::invalid_argument, where(fn) + "rank " + std::to_string(t.rank) + " is outside 0..8");
  if (t.rank < 2)
    fail(Status::invalid_argument, where(fn) + "fan_in and fan_out cannot be computed for a tensor of rank " +
                                       std::to_string(t.rank) + " (fewer than 2 dimensions; a bias has no fan)");
  std::int64_t shape[kMaxRank];
  global_shape(t, shape);
  const int r = t.rank;
  auto axis = [&](int a, const char* what) {
    if (a < -r || a >= r)
      fail(Status::invalid_argument, where(fn) + what + " = " + std::to_string(a) + " is out of range for rank " +
                                         std::to_string(r));
    return a < 0 ? a + r : a;
  };
  const int in = axis(layout.in_axis, "in_axis"), out = axis(layout.out_axis, "out_axis");
  if (in == out)
    fail(Status::invalid_argument, where(fn) + "in_axis and out_axis are the same axis (" + std::to_string(in) + ")");
  if (layout.num_batch_axes < 0 || layout.num_batch_axes > r - 2)
    fail(Status::invalid_argument, where(fn) + "num_batch_axes = " + std::to_string(layout.num_batch_axes) +
                                       " must be in 0.." + std::to_string(r - 2) + " for rank " + std::to_string(r));
  bool used[kMaxRank] = {};
  used[in] = used[out] = true;
  for (int k = 0; k < layout.num_batch_axes; ++k) {
    const int b = axis(layout.batch_axes[k], "batch_axes[k]");
    if (used[b])
      fail(Status::invalid_argument, where(fn) + "batch axis " + std::to_string(b) +
                                         " is also in_axis, out_axis or another batch axis");
    used[b] = true;
  }
  for (int d = 0; d < r; ++d)
    if (shape[d] < 0)
      fail(Status::invalid_argument, where(fn) + "extent " + std::to_string(shape[d]) + " of dim " +
                                         std::to_string(d) + " is negative");
  auto mul = [&](std::int64_t a, std::int64_t b) {
    std::int64_t c = 0;
    if (__builtin_mul_overflow(a, b, &c)) fail(Status::invalid_argument, where(fn) + "the fans overflow 64 bits");
    return c;
  };
  Fans f;
  f.receptive_field = 1;
  for (int d = 0; d < r; ++d)
    if (!used[d]) f.receptive_field = mul(f.receptive_field, shape[d]);
  f.fan_in = mul(shape[in], f.receptive_field);
  f.fan_out = mul(shape[out], f.receptive_field);
  return f;
}

namespace {

constexpr double kSeluLambda = 1.0507009873554804934193349852946;
constexpr double kSeluAlpha = 1.6732632423543772848170429916717;

double softplus1(double x) { return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x)); }
double clamp(double x, double lo, double hi) { return x < lo ? lo : x > hi ? hi : x; }

// f(x) in double; `p` is the resolved parameter.
double activation(Nonlinearity nl, double x, double p) {
  switch (nl) {
    case Nonlinearity::linear: case Nonlinearity::conv1d: case Nonlinearity::conv2d: case Nonlinearity::conv3d:
    case Nonlinearity::conv_transpose1d: case Nonlinearity::conv_transpose2d: case Nonlinearity::conv_transpose3d:
      return x;
    case Nonlinearity::sigmoid: return 1.0 / (1.0 + std::exp(-x));
    case Nonlinearity::tanh: return std::tanh(x);
    case Nonlinearity::relu: return x > 0 ? x : 0.0;
    case Nonlinearity::leaky_relu: return x > 0 ? x : p * x;
    case Nonlinearity::selu: return kSeluLambda * (x > 0 ? x : kSeluAlpha * std::expm1(x));
    case Nonlinearity::elu: return x > 0 ? x : p * std::expm1(x);
    case Nonlinearity::celu: return x > 0 ? x : p * std::expm1(x / p);
    case Nonlinearity::gelu: return 0.5 * x * std::erfc(-x / std::sqrt(2.0));
    case Nonlinearity::gelu_tanh: {
      const double k = std::sqrt(2.0 / 3.14159265358979323846);
      return 0.5 * x * (1.0 + std::tanh(k * (x + 0.044715 * x * x * x)));
    }
    case Nonlinearity::silu: return x / (1.0 + std::exp(-x));
    case Nonlinearity::mish: return x * std::tanh(softplus1(x));
    case Nonlinearity::softplus: return softplus1(p * x) / p;
    case Nonlinearity::softsign: return x / (1.0 + std::fabs(x));
    case Nonlinearity::hardtanh: return clamp(x, -1.0, 1.0);
    case Nonlinearity::relu6: return clamp(x, 0.0, 6.0);
    case Nonlinearity::hardswish: return x * clamp(x + 3.0, 0.0, 6.0) / 6.0;
    case Nonlinearity::hardsigmoid: return clamp(x + 3.0, 0.0, 6.0) / 6.0;
  }
  return x;
}

bool known(Nonlinearity nl) {
  const int v = static_cast<int>(nl);
  return v >= 0 && v <= static_cast<int>(Nonlinearity::hardsigmoid);
}

// The parameter actually used: the default when none is given; errors for bad ones.
double resolve_param(Nonlinearity nl, std::optional<double> given_param, const char* fn) {
  if (!known(nl))
    fail(Status::invalid_argument, where(fn) + "nonlinearity = " + std::to_string(static_cast<int>(nl)) +
                                       " is not a paraminit::Nonlinearity");
  const bool given = given_param.has_value();
  const double param = given_param.value_or(0.0);
  const std::string name = to_string(nl);
  switch (nl) {
    case Nonlinearity::leaky_relu:
      if (!given) return 0.01;
      if (!std::isfinite(param))
        fail(Status::invalid_argument, where(fn) + "leaky_relu's negative_slope = " + fmt_double(param) + " is not finite");
      return param;
    case Nonlinearity::elu: case Nonlinearity::celu: case Nonlinearity::softplus: {
      if (!given) return 1.0;
      const char* what = nl == Nonlinearity::softplus ? "beta" : "alpha";
      if (!std::isfinite(param) || !(param > 0))
        fail(Status::invalid_argument, where(fn) + name + "'s " + what + " = " + fmt_double(param) + " must be finite and > 0");
      return param;
    }
    default:
      if (given)
        fail(Status::invalid_argument, where(fn) + name + " takes no parameter (got " + fmt_double(param) + ")");
      return 0.0;
  }
}

// 20-point Gauss-Legendre nodes and weights on [-1, 1] by Newton's method on P_20.
struct GaussLegendre20 {
  static constexpr int kN = 20;
  double x[kN], w[kN];
  GaussLegendre20() {
    for (int i = 0; i < kN; ++i) {
      double z = std::cos(3.14159265358979323846 * (i + 0.75) / (kN + 0.5)), dp = 0;
      for (int it = 0; it < 100; ++it) {
        double p0 = 1, p1 = z;  // P_0, P_1
        for (int k = 2; k <= kN; ++k) {
          const double p2 = ((2 * k - 1) * z * p1 - (k - 1) * p0) / k;
          p0 = p1;
          p1 = p2;
        }
        dp = kN * (z * p1 - p0) / (z * z - 1);  // P_20'(z)
        const double dz = p1 / dp;
        z -= dz;
        if (std::fabs(dz) < 1e-16) break;
      }
      x[i] = z;
      w[i] = 2 / ((1 - z * z) * dp * dp);
    }
  }
};

double second_moment(Nonlinearity nl, double p) {
  static const GaussLegendre20 gl;
  constexpr double kLimit = 20.0, kPanel = 0.25;
  const double inv_sqrt_2pi = 0.39894228040143267794;
  double sum = 0;
  const int panels = static_cast<int>(2 * kLimit / kPanel);
  for (int k = 0; k < panels; ++k) {
    const double a = -kLimit + k * kPanel, mid = a + 0.5 * kPanel, half = 0.5 * kPanel;
    double s = 0;
    for (int i = 0; i < GaussLegendre20::kN; ++i) {
      const double z = mid + half * gl.x[i];
      const double f = activation(nl, z, p);
      s += gl.w[i] * f * f * std::exp(-0.5 * z * z);
    }
    sum += half * s;
  }
  return sum * inv_sqrt_2pi;
}

}  // namespace

double gain_squared(Nonlinearity nl, std::optional<double> param, const char* fn) {
  const double p = resolve_param(nl, param, fn);
  switch (nl) {
    case Nonlinearity::linear: case Nonlinearity::conv1d: case Nonlinearity::conv2d: case Nonlinearity::conv3d:
    case Nonlinearity::conv_transpose1d: case Nonlinearity::conv_transpose2d: case Nonlinearity::conv_transpose3d:
    case Nonlinearity::sigmoid:
      return 1.0;
    case Nonlinearity::tanh: return 25.0 / 9.0;
    case Nonlinearity::relu: return 2.0;
    case Nonlinearity::leaky_relu: return 2.0 / (1.0 + p * p);
    case Nonlinearity::selu: return 9.0 / 16.0;
    default: return 1.0 / second_moment(nl, p);
  }
}

double gain_value(Nonlinearity nl, std::optional<double> param, const char* fn) {
  const double p = resolve_param(nl, param, fn);
  switch (nl) {  // PyTorch's formulas, evaluated as it does
    case Nonlinearity::tanh: return 5.0 / 3;
    case Nonlinearity::relu: return std::sqrt(2.0);
    case Nonlinearity::leaky_relu: return std::sqrt(2.0 / (1 + p * p));
    case Nonlinearity::selu: return 3.0 / 4;
    default: return std::sqrt(gain_squared(nl, param, fn));
  }
}

}  // namespace detail

double calculate_gain(Nonlinearity nl, std::optional<double> param) {
  return detail::gain_value(nl, param, "paraminit::calculate_gain");
}

double quadrature_gain(Nonlinearity nl, std::optional<double> param) {
  const char* fn = "paraminit::quadrature_gain";
  const double p = detail::resolve_param(nl, param, fn);
  return 1.0 / std::sqrt(detail::second_moment(nl, p));
}

Fans compute_fans(const TensorView& t, const FanLayout& layout) {
  return detail::compute_fans_checked(t, layout, "paraminit::compute_fans");
}

}  // namespace paraminit
