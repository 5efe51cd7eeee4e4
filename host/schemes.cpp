// The scheme catalog: fan-based schemes (a bound or std from the global shape, then the uniform /
// normal / trunc_normal fill with the same key), structured fills (eye, dirac, gate biases) and
// biases from the training set's marginal statistics. Every check runs before any write.
#include <cmath>
#include <string>
#include <vector>

#include "fills.hpp"

namespace paraminit {
namespace detail {
namespace {

std::string shape_text(const TensorView& t) {
  std::int64_t shape[kMaxRank];
  global_shape(t, shape);
  std::string s = "(";
  for (int d = 0; d < t.rank; ++d) s += (d ? ", " : "") + std::to_string(shape[d]);
  return s + (t.rank == 1 ? ",)" : ")");
}

const char* mode_name(FanMode m) {
  switch (m) {
    case FanMode::fan_in: return "fan_in";
    case FanMode::fan_out: return "fan_out";
    case FanMode::fan_avg: return "fan_avg";
  }
  return "?";
}

void check_mode(FanMode m, const char* fn) {
  const int v = static_cast<int>(m);
  if (v < 0 || v > 2)
    fail(Status::invalid_argument, where(fn) + "mode = " + std::to_string(v) + " is not fan_in, fan_out or fan_avg");
}

// The fan a scheme divides by; zero is an error (the scale would be infinite).
double chosen_fan(const TensorView& t, const FanLayout& layout, FanMode mode, const char* fn) {
  check_mode(mode, fn);
  const Fans f = compute_fans_checked(t, layout, fn);
  const double n = f.of(mode);
  if (!(n > 0))
    fail(Status::invalid_argument, where(fn) + mode_name(mode) + " of shape " + shape_text(t) +
                                       " is 0: the scale 1/" + mode_name(mode) + " is undefined");
  return n;
}

// A zero-mean fill of variance v in one of the three distributions (jax variance_scaling's formulas).
void variance_fill(ContextImpl& ctx, const TensorView& t, const Geometry& geo, Key key, Distribution dist,
                   double v, const char* fn) {
  switch (dist) {
    case Distribution::uniform: {
      const double b = std::sqrt(3.0 * v);
      uniform_fill(ctx, t, geo, key, UniformOptions{-b, b}, fn);
      return;
    }
    case Distribution::normal:
      normal_fill(ctx, t, geo, key, NormalOptions{0.0, std::sqrt(v)}, fn);
      return;
    case Distribution::truncated_normal: {
      const double s = std::sqrt(v) / kTruncStdCorrection;
      trunc_normal_fill(ctx, t, geo, key, TruncNormalOptions{0.0, s, -2.0 * s, 2.0 * s}, fn);
      return;
    }
  }
  fail(Status::invalid_argument, where(fn) + "distribution = " + std::to_string(static_cast<int>(dist)) +
                                     " is not uniform, normal or truncated_normal");
}

void check_gain(double gain, const char* fn) {
  if (!std::isfinite(gain) || !(gain > 0))
    fail(Status::invalid_argument, where(fn) + "gain = " + fmt_double(gain) + " must be finite and > 0");
}

// U(-b, b) with b = sqrt(3) std, N(0, std^2), or the truncated normal of variance scale / fan.
void pytorch_or_truncated(ContextImpl& ctx, const TensorView& t, const Geometry& geo, Key key, bool uniform,
                          bool truncated, double std_, double scale, double fan, const char* fn) {
  if (uniform) {
    const double b = std::sqrt(3.0) * std_;  // torch.nn.init: bound = sqrt(3) * std
    uniform_fill(ctx, t, geo, key, UniformOptions{-b, b}, fn);
  } else if (truncated) {
    variance_fill(ctx, t, geo, key, Distribution::truncated_normal, scale / fan, fn);
  } else {
    normal_fill(ctx, t, geo, key, NormalOptions{0.0, std_}, fn);
  }
}

void lecun(Context& c, const TensorView& t, Key key, const LecunOptions& o, bool uniform, const char* fn) {
  auto& ctx = detail::impl(c);
  const Geometry geo = check_view(ctx, t, fn);
  const double n = chosen_fan(t, o.fans, FanMode::fan_in, fn);
  pytorch_or_truncated(ctx, t, geo, key, uniform, o.truncated, std::sqrt(1.0 / n), 1.0, n, fn);
}

void glorot(Context& c, const TensorView& t, Key key, const GlorotOptions& o, bool uniform, const char* fn) {
  auto& ctx = detail::impl(c);
  const Geometry geo = check_view(ctx, t, fn);
  check_gain(o.gain, fn);
  const double n = chosen_fan(t, o.fans, FanMode::fan_avg, fn);
  const Fans f = compute_fans_checked(t, o.fans, fn);
  // torch.nn.init.xavier_*: std = gain * sqrt(2 / (fan_in + fan_out))
  const double std_ = o.gain * std::sqrt(2.0 / (static_cast<double>(f.fan_in) + static_cast<double>(f.fan_out)));
  pytorch_or_truncated(ctx, t, geo, key, uniform, o.truncated, std_, o.gain * o.gain, n, fn);
}

void he(Context& c, const TensorView& t, Key key, const HeOptions& o, bool uniform, const char* fn) {
  auto& ctx = detail::impl(c);
  const Geometry geo = check_view(ctx, t, fn);
  const bool leaky = o.nonlinearity == Nonlinearity::leaky_relu;
  if (leaky) require_finite(fn, "negative_slope", o.negative_slope);
  // torch.nn.init.kaiming_*: gain = calculate_gain(nonlinearity, a); a only matters for leaky_relu.
  const std::optional<double> param = leaky ? std::optional<double>(o.negative_slope) : std::nullopt;
  const double gain = gain_value(o.nonlinearity, param, fn), g2 = gain_squared(o.nonlinearity, param, fn);
  const double n = chosen_fan(t, o.fans, o.mode, fn);
  pytorch_or_truncated(ctx, t, geo, key, uniform, o.truncated, gain / std::sqrt(n), g2, n, fn);
}

}  // namespace
}  // namespace detail

void variance_scaling(Context& c, const TensorView& t, Key key, const VarianceScalingOptions& o) {
  using namespace detail;
  const char* fn = "paraminit::variance_scaling";
  auto& ctx = detail::impl(c);
  const Geometry geo = check_view(ctx, t, fn);
  if (!std::isfinite(o.scale) || !(o.scale > 0))
    fail(Status::invalid_argument, where(fn) + "scale = " + fmt_double(o.scale) + " must be finite and > 0");
  const double n = chosen_fan(t, o.fans, o.mode, fn);
  variance_fill(ctx, t, geo, key, o.distribution, o.scale / n, fn);
}

void lecun_uniform(Context& c, const TensorView& t, Key key, const LecunOptions& o) {
  detail::lecun(c, t, key, o, true, "paraminit::lecun_uniform");
}
void lecun_normal(Context& c, const TensorView& t, Key key, const LecunOptions& o) {
  detail::lecun(c, t, key, o, false, "paraminit::lecun_normal");
}
void glorot_uniform(Context& c, const TensorView& t, Key key, const GlorotOptions& o) {
  detail::glorot(c, t, key, o, true, "paraminit::glorot_uniform");
}
void glorot_normal(Context& c, const TensorView& t, Key key, const GlorotOptions& o) {
  detail::glorot(c, t, key, o, false, "paraminit::glorot_normal");
}
void he_uniform(Context& c, const TensorView& t, Key key, const HeOptions& o) {
  detail::he(c, t, key, o, true, "paraminit::he_uniform");
}
void he_normal(Context& c, const TensorView& t, Key key, const HeOptions& o) {
  detail::he(c, t, key, o, false, "paraminit::he_normal");
}

void fan_in_uniform(Context& c, const TensorView& t, Key key, const FanInUniformOptions& o) {
  using namespace detail;
  const char* fn = "paraminit::fan_in_uniform";
  auto& ctx = detail::impl(c);
  const Geometry geo = check_view(ctx, t, fn);
  if (o.fan_in < 0)
    fail(Status::invalid_argument, where(fn) + "fan_in = " + std::to_string(o.fan_in) + " is negative");
  const double m = o.fan_in > 0 ? static_cast<double>(o.fan_in) : chosen_fan(t, o.fans, FanMode::fan_in, fn);
  const double b = 1.0 / std::sqrt(m);
  uniform_fill(ctx, t, geo, key, UniformOptions{-b, b}, fn);
}

void zeros(Context& c, const TensorView& t) {
  const char* fn = "paraminit::zeros";
  detail::constant_fill(detail::impl(c), t, detail::check_view(detail::impl(c), t, fn), 0.0, fn);
}
void ones(Context& c, const TensorView& t) {
  const char* fn = "paraminit::ones";
  detail::constant_fill(detail::impl(c), t, detail::check_view(detail::impl(c), t, fn), 1.0, fn);
}

namespace detail {
namespace {
void check_structured_value(const char* fn, const char* name, double v, DType t) {
  require_finite(fn, name, v);
  if (!std::isfinite(round_to_dtype(v, t)))
    fail(Status::invalid_argument, where(fn) + name + " = " + fmt_double(v) + " overflows " + to_string(t));
}
}  // namespace
}  // namespace detail

void eye(Context& c, const TensorView& t, double gain) {
  using namespace detail;
  const char* fn = "paraminit::eye";
  auto& ctx = detail::impl(c);
  const Geometry geo = check_view(ctx, t, fn);
  if (t.rank != 2)
    fail(Status::invalid_argument, where(fn) + "needs a 2-D tensor, got rank " + std::to_string(t.rank));
  check_structured_value(fn, "gain", gain, t.dtype);
  std::int64_t shape[kMaxRank];
  global_shape(t, shape);
  index_fill<kernels::EyeFn>(ctx, t, geo, [&](auto tag) {
    using T = decltype(tag);
    return kernels::EyeFn<T>{static_cast<std::uint64_t>(shape[1]), static_cast<T>(gain)};
  });
}

void dirac(Context& c, const TensorView& t, const DiracOptions& o) {
  using namespace detail;
  const char* fn = "paraminit::dirac";
  auto& ctx = detail::impl(c);
  const Geometry geo = check_view(ctx, t, fn);
  require_conv_weight(t, fn);
  std::int64_t shape[kMaxRank];
  global_shape(t, shape);
  if (o.groups < 1 || shape[0] % o.groups != 0)
    fail(Status::invalid_argument, where(fn) + "groups = " + std::to_string(o.groups) +
                                       " must be >= 1 and divide the output channels (" + std::to_string(shape[0]) + ")");
  check_structured_value(fn, "gain", o.gain, t.dtype);
  std::uint64_t spatial = 1, centre = 0;
  for (int d = 2; d < t.rank; ++d) {
    spatial *= static_cast<std::uint64_t>(shape[d]);
    centre = centre * static_cast<std::uint64_t>(shape[d]) + static_cast<std::uint64_t>(shape[d] / 2);
  }
  index_fill<kernels::DiracFn>(ctx, t, geo, [&](auto tag) {
    using T = decltype(tag);
    return kernels::DiracFn<T>{static_cast<std::uint64_t>(shape[1]), spatial, centre,
                               static_cast<std::uint64_t>(shape[0] / o.groups), static_cast<T>(o.gain)};
  });
}

void gate_bias(Context& c, const TensorView& t, const GateBiasOptions& o) {
  using namespace detail;
  const char* fn = "paraminit::gate_bias";
  auto& ctx = detail::impl(c);
  const Geometry geo = check_view(ctx, t, fn);
  struct LayoutInfo {
    const char* name;
    std::uint64_t blocks;
    std::uint32_t gate;  // the block that gets `value`
  };
  static const LayoutInfo kLayouts[] = {
      {"torch_lstm (i, f, g, o)", 4, 1}, {"torch_gru (r, z, n)", 3, 1},
      {"keras_lstm (i, f, c, o)", 4, 1}, {"keras_gru (z, r, h)", 3, 0},
      {"cudnn_lstm (i, f, c, o, i', f', c', o')", 8, 1}, {"cudnn_gru (r, z, n, r', z', n')", 6, 1},
  };
  const int li = static_cast<int>(o.layout);
  if (li < 0 || li > 5)
    fail(Status::invalid_argument, where(fn) + "layout = " + std::to_string(li) + " is not a paraminit::GateLayout");
  const LayoutInfo& L = kLayouts[li];
  if (t.rank < 1)
    fail(Status::invalid_argument, where(fn) + "needs a bias of rank >= 1 (gates along the last dimension), got rank 0");
  std::int64_t shape[kMaxRank];
  global_shape(t, shape);
  const auto last = static_cast<std::uint64_t>(shape[t.rank - 1]);
  if (last % L.blocks != 0)
    fail(Status::invalid_argument, where(fn) + "the last dimension (" + std::to_string(last) +
                                       ") is not a multiple of the " + std::to_string(L.blocks) + " gate blocks of " +
                                       L.name);
  check_structured_value(fn, "value", o.value, t.dtype);
  check_structured_value(fn, "others", o.others, t.dtype);
  index_fill<kernels::GateFn>(ctx, t, geo, [&](auto tag) {
    using T = decltype(tag);
    return kernels::GateFn<T>{last / L.blocks, L.blocks, 1u << L.gate, static_cast<T>(o.value), static_cast<T>(o.others)};
  });
}

void output_bias(Context& c, const TensorView& t, const double* stats, std::int64_t n, const OutputBiasOptions& o) {
  using namespace detail;
  const char* fn = "paraminit::output_bias";
  auto& ctx = detail::impl(c);
  const Geometry geo = check_view(ctx, t, fn);
  const int act = static_cast<int>(o.activation);
  if (act < 0 || act > 2)
    fail(Status::invalid_argument, where(fn) + "activation = " + std::to_string(act) +
                                       " is not softmax, sigmoid or identity");
  if (n < 0 || static_cast<std::uint64_t>(n) != geo.global_numel)
    fail(Status::invalid_argument, where(fn) + "n = " + std::to_string(n) + " statistics for a parameter of " +
                                       std::to_string(geo.global_numel) + " elements " + shape_text(t));
  if (n > 0 && stats == nullptr) fail(Status::invalid_argument, where(fn) + "stats is null");
  std::vector<double> b(static_cast<std::size_t>(n));
  double sum = 0;
  for (std::int64_t k = 0; k < n; ++k) {
    const double p = stats[k];
    const std::string at = "stats[" + std::to_string(k) + "] = " + fmt_double(p);
    if (o.activation == OutputActivation::identity) {
      if (!std::isfinite(p)) fail(Status::invalid_argument, where(fn) + at + " is not finite");
      b[k] = p;
      continue;
    }
    if (!(p > 0 && p < 1))
      fail(Status::invalid_argument, where(fn) + at + " is not a probability in (0, 1)");
    sum += p;
    b[k] = o.activation == OutputActivation::softmax ? std::log(p) : std::log(p) - std::log1p(-p);
  }
  if (o.activation == OutputActivation::softmax && n > 0) {
    if (!(std::fabs(sum - 1.0) <= 1e-3))
      fail(Status::invalid_argument, where(fn) + "softmax marginals sum to " + fmt_double(sum) +
                                         ", not 1 (normalize counts to probabilities first)");
    if (o.centered) {
      double mean = 0;
      for (double v : b) mean += v;
      mean /= static_cast<double>(n);
      for (double& v : b) v -= mean;
    }
  }
  host_values_fill(ctx, t, geo, b, fn);
}

void variance_parameter(Context& c, const TensorView& t, ScaleParameter kind, const double* variances, std::int64_t n) {
  using namespace detail;
  const char* fn = "paraminit::variance_parameter";
  auto& ctx = detail::impl(c);
  const Geometry geo = check_view(ctx, t, fn);
  const int k = static_cast<int>(kind);
  if (k < 0 || k > 4)
    fail(Status::invalid_argument, where(fn) + "kind = " + std::to_string(k) +
                                       " is not variance, precision, std, log_variance or log_std");
  if (variances != nullptr && (n < 0 || static_cast<std::uint64_t>(n) != geo.global_numel))
    fail(Status::invalid_argument, where(fn) + "n = " + std::to_string(n) + " variances for a parameter of " +
                                       std::to_string(geo.global_numel) + " elements " + shape_text(t));
  auto value = [&](double v) {
    switch (kind) {
      case ScaleParameter::variance: return v;
      case ScaleParameter::precision: return 1.0 / v;
      case ScaleParameter::std: return std::sqrt(v);
      case ScaleParameter::log_variance: return std::log(v);
      case ScaleParameter::log_std: return 0.5 * std::log(v);
    }
    return v;
  };
  if (variances == nullptr) {
    constant_fill(ctx, t, geo, value(1.0), fn);
    return;
  }
  std::vector<double> vals(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    const double v = variances[i];
    if (!std::isfinite(v) || !(v > 0))
      fail(Status::invalid_argument, where(fn) + "variances[" + std::to_string(i) + "] = " + fmt_double(v) +
                                         " must be finite and > 0");
    vals[i] = value(v);
  }
  host_values_fill(ctx, t, geo, vals, fn);
}

}  // namespace paraminit
