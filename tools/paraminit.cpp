// The paraminit program:
//   paraminit init [--spec FILE] [--out FILE] [--device auto|cpu|cuda] [--seed N] [--from FILE]
//                  [--world-size W --rank R] [--compare-fills] [--quiet]
//   paraminit bench [...]   (the throughput table, bench/bench_fill.cpp)
// `init` initializes every parameter of a model spec (JSON; tools/default_spec.json is built in)
// straight into a safetensors file (CPU: in place in the mapped file), printing one row per
// parameter with its measured mean and std against the scheme's expected std.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "paraminit/calibrate.hpp"
#include "paraminit/paraminit.hpp"
#include "paraminit/safetensors.hpp"

#if defined(PARAMINIT_WITH_CUDA)
#include <cuda_runtime.h>
#endif

namespace paraminit_bench {
int bench_main(int argc, char** argv);
}

namespace {
namespace pi = paraminit;
using json = nlohmann::json;

extern const char* const kDefaultSpec;  // default_spec.inc

// ---- the spec ------------------------------------------------------------------------------------

struct SpecError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Param {
  std::string name;
  std::vector<std::int64_t> shape;
  pi::DType dtype = pi::DType::f32;
  std::string scheme;
  json opt;            // the parameter's whole object
  int shard_dim = -1;  // -1: every rank writes it whole
};

struct Spec {
  std::string origin;
  std::uint64_t seed = 0;
  std::vector<Param> params;  // sorted by name
};

// Fields each scheme accepts beyond shape, dtype, scheme and shard_dim.
const std::map<std::string, std::vector<std::string>> kSchemeFields = {
    {"constant", {"value"}}, {"zeros", {}}, {"ones", {}}, {"relu_bias", {"value"}},
    {"uniform", {"low", "high"}}, {"normal", {"mean", "std"}}, {"trunc_normal", {"mean", "std", "low", "high"}},
    {"lecun_uniform", {"layout"}}, {"lecun_normal", {"truncated", "layout"}},
    {"glorot_uniform", {"gain", "layout"}}, {"glorot_normal", {"gain", "truncated", "layout"}},
    {"xavier_uniform", {"gain", "layout"}}, {"xavier_normal", {"gain", "truncated", "layout"}},
    {"he_uniform", {"a", "mode", "nonlinearity", "layout"}}, {"he_normal", {"a", "mode", "nonlinearity", "truncated", "layout"}},
    {"kaiming_uniform", {"a", "mode", "nonlinearity", "layout"}}, {"kaiming_normal", {"a", "mode", "nonlinearity", "truncated", "layout"}},
    {"variance_scaling", {"scale", "mode", "distribution", "layout"}}, {"fan_in_uniform", {"fan_in", "layout"}},
    {"eye", {"gain"}}, {"dirac", {"groups", "gain"}}, {"sparse", {"k", "std", "values", "unit_axis"}},
    {"sparse_fraction", {"sparsity", "std"}}, {"orthogonal", {"gain", "batch_dims", "path"}},
    {"delta_orthogonal", {"gain", "allow_even"}}, {"gate_bias", {"layout", "value", "others"}},
    {"output_bias", {"activation", "centered", "stats"}}, {"variance_parameter", {"kind", "variances"}},
};

[[noreturn]] void spec_fail(const Spec& s, const std::string& param, const std::string& field, const std::string& what) {
  std::string at = s.origin + ": ";
  if (!param.empty()) at += "parameters[\"" + param + "\"]";
  if (!field.empty()) at += "." + field;
  throw SpecError(at + ": " + what);
}

pi::DType parse_dtype(const Spec& s, const std::string& p, const json& v) {
  if (!v.is_string()) spec_fail(s, p, "dtype", "expected one of \"f32\", \"f64\", \"f16\", \"bf16\"");
  const std::string d = v.get<std::string>();
  for (pi::DType t : {pi::DType::f32, pi::DType::f64, pi::DType::f16, pi::DType::bf16})
    if (d == pi::to_string(t)) return t;
  spec_fail(s, p, "dtype", "unknown dtype \"" + d + "\" (f32, f64, f16 or bf16)");
}

void add_param(Spec& s, const std::string& name, const json& v, pi::DType default_dtype) {
  if (!v.is_object()) spec_fail(s, name, "", "expected an object");
  Param p;
  p.name = name;
  p.opt = v;
  p.dtype = default_dtype;
  for (auto it = v.begin(); it != v.end(); ++it) {
    const std::string& k = it.key();
    if (k == "shape") {
      if (!it->is_array() || it->size() > static_cast<std::size_t>(pi::kMaxRank)) spec_fail(s, name, k, "expected an array of at most 8 extents");
      for (const auto& e : *it) {
        if (!e.is_number_integer() || e.get<std::int64_t>() < 0) spec_fail(s, name, k, "expected non-negative integers");
        p.shape.push_back(e.get<std::int64_t>());
      }
    } else if (k == "dtype") {
      p.dtype = parse_dtype(s, name, *it);
    } else if (k == "scheme") {
      if (!it->is_string()) spec_fail(s, name, k, "expected a string");
      p.scheme = it->get<std::string>();
    } else if (k == "shard_dim") {
      if (!it->is_number_integer()) spec_fail(s, name, k, "expected an integer");
      p.shard_dim = it->get<int>();
    }
  }
  if (!v.contains("shape")) spec_fail(s, name, "shape", "missing");
  if (p.scheme.empty()) spec_fail(s, name, "scheme", "missing");
  const auto fields = kSchemeFields.find(p.scheme);
  if (fields == kSchemeFields.end()) {
    std::string known;
    for (const auto& [k, f] : kSchemeFields) known += (known.empty() ? "" : ", ") + k;
    spec_fail(s, name, "scheme", "unknown scheme \"" + p.scheme + "\" (known: " + known + ")");
  }
  for (auto it = v.begin(); it != v.end(); ++it) {
    const std::string& k = it.key();
    if (k == "shape" || k == "dtype" || k == "scheme" || k == "shard_dim" || k == "comment") continue;
    if (std::find(fields->second.begin(), fields->second.end(), k) == fields->second.end())
      spec_fail(s, name, k, "not a field of scheme " + p.scheme);
  }
  if (p.shard_dim < -1 || p.shard_dim >= static_cast<int>(p.shape.size()))
    spec_fail(s, name, "shard_dim", std::to_string(p.shard_dim) + " is not a dimension of the shape");
  s.params.push_back(std::move(p));
}

Spec parse_spec(const std::string& text, const std::string& origin) {
  Spec s;
  s.origin = origin;
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    throw SpecError(origin + ": not valid JSON: " + e.what());
  }
  if (!j.is_object()) spec_fail(s, "", "", "expected a JSON object");
  for (auto it = j.begin(); it != j.end(); ++it)
    if (it.key() != "seed" && it.key() != "dtype" && it.key() != "parameters" && it.key() != "repeat" && it.key() != "comment")
      throw SpecError(origin + ": unknown top-level field \"" + it.key() + "\" (seed, dtype, parameters, repeat, comment)");
  if (j.contains("seed")) {
    if (!j["seed"].is_number_unsigned()) throw SpecError(origin + ": seed: expected a non-negative integer");
    s.seed = j["seed"].get<std::uint64_t>();
  }
  const pi::DType dt = j.contains("dtype") ? parse_dtype(s, "", j["dtype"]) : pi::DType::f32;
  if (j.contains("parameters")) {
    if (!j["parameters"].is_object()) throw SpecError(origin + ": parameters: expected an object of name: {shape, scheme, ...}");
    for (auto it = j["parameters"].begin(); it != j["parameters"].end(); ++it) add_param(s, it.key(), it.value(), dt);
  }
  if (j.contains("repeat")) {  // [{"count": n, "name": "prefix.{i}", "parameters": {...}}]
    if (!j["repeat"].is_array()) throw SpecError(origin + ": repeat: expected an array");
    for (const auto& r : j["repeat"]) {
      if (!r.is_object() || !r.contains("count") || !r["count"].is_number_unsigned() || !r.contains("name") ||
          !r["name"].is_string() || !r.contains("parameters") || !r["parameters"].is_object())
        throw SpecError(origin + ": repeat: each entry needs count, name (with {i}) and parameters");
      const std::string pattern = r["name"].get<std::string>();
      const auto brace = pattern.find("{i}");
      if (brace == std::string::npos) throw SpecError(origin + ": repeat: name \"" + pattern + "\" has no {i}");
      for (std::uint64_t i = 0; i < r["count"].get<std::uint64_t>(); ++i) {
        std::string prefix = pattern;
        prefix.replace(brace, 3, std::to_string(i));
        for (auto it = r["parameters"].begin(); it != r["parameters"].end(); ++it) add_param(s, prefix + "." + it.key(), it.value(), dt);
      }
    }
  }
  std::sort(s.params.begin(), s.params.end(), [](const Param& a, const Param& b) { return a.name < b.name; });
  for (std::size_t i = 1; i < s.params.size(); ++i)
    if (s.params[i].name == s.params[i - 1].name) spec_fail(s, s.params[i].name, "", "defined twice");
  return s;
}

// ---- options of a parameter ------------------------------------------------------------------------

struct Opt {
  const Spec& spec;
  const Param& p;
  double num(const char* k, double dflt) const {
    if (!p.opt.contains(k)) return dflt;
    if (!p.opt[k].is_number()) spec_fail(spec, p.name, k, "expected a number");
    return p.opt[k].get<double>();
  }
  std::int64_t integer(const char* k, std::int64_t dflt) const {
    if (!p.opt.contains(k)) return dflt;
    if (!p.opt[k].is_number_integer()) spec_fail(spec, p.name, k, "expected an integer");
    return p.opt[k].get<std::int64_t>();
  }
  bool flag(const char* k, bool dflt) const {
    if (!p.opt.contains(k)) return dflt;
    if (!p.opt[k].is_boolean()) spec_fail(spec, p.name, k, "expected true or false");
    return p.opt[k].get<bool>();
  }
  std::string str(const char* k, const std::string& dflt) const {
    if (!p.opt.contains(k)) return dflt;
    if (!p.opt[k].is_string()) spec_fail(spec, p.name, k, "expected a string");
    return p.opt[k].get<std::string>();
  }
  template <class E>
  E choice(const char* k, E dflt, const std::vector<std::pair<const char*, E>>& names) const {
    if (!p.opt.contains(k)) return dflt;
    const std::string v = str(k, "");
    std::string known;
    for (const auto& [n, e] : names) {
      if (v == n) return e;
      known += (known.empty() ? "" : ", ") + std::string(n);
    }
    spec_fail(spec, p.name, k, "unknown value \"" + v + "\" (" + known + ")");
  }
  std::vector<double> numbers(const char* k) const {
    std::vector<double> out;
    if (!p.opt.contains(k)) return out;
    if (!p.opt[k].is_array()) spec_fail(spec, p.name, k, "expected an array of numbers");
    for (const auto& e : p.opt[k]) {
      if (!e.is_number()) spec_fail(spec, p.name, k, "expected an array of numbers");
      out.push_back(e.get<double>());
    }
    return out;
  }
  pi::FanLayout layout() const {
    return choice<int>("layout", 0, {{"torch", 0}, {"jax", 1}}) == 1 ? pi::FanLayout::jax() : pi::FanLayout::torch();
  }
  pi::FanMode mode(pi::FanMode d) const {
    return choice("mode", d, {{"fan_in", pi::FanMode::fan_in}, {"fan_out", pi::FanMode::fan_out}, {"fan_avg", pi::FanMode::fan_avg}});
  }
  pi::Nonlinearity nonlinearity(pi::Nonlinearity d) const {
    if (!p.opt.contains("nonlinearity")) return d;
    try {
      return pi::nonlinearity_from_name(str("nonlinearity", ""));
    } catch (const pi::Error& e) {
      spec_fail(spec, p.name, "nonlinearity", e.what());
    }
  }
};

// Runs the parameter's scheme on view v. Throws SpecError for option problems, pi::Error for the rest.
void apply(pi::Context& ctx, const pi::TensorView& v, pi::Key key, const Spec& spec, const Param& p) {
  const Opt o{spec, p};
  const std::string& s = p.scheme;
  if (s == "constant") return pi::constant(ctx, v, o.num("value", 0.0));
  if (s == "zeros") return pi::zeros(ctx, v);
  if (s == "ones") return pi::ones(ctx, v);
  if (s == "relu_bias") return pi::relu_bias(ctx, v, o.num("value", pi::kReluBias));
  if (s == "uniform") return pi::uniform(ctx, v, key, {o.num("low", 0.0), o.num("high", 1.0)});
  if (s == "normal") return pi::normal(ctx, v, key, {o.num("mean", 0.0), o.num("std", 1.0)});
  if (s == "trunc_normal") {
    const double std_ = o.num("std", 1.0), mean = o.num("mean", 0.0);
    return pi::trunc_normal(ctx, v, key, {mean, std_, o.num("low", mean - 2 * std_), o.num("high", mean + 2 * std_)});
  }
  if (s == "lecun_uniform") return pi::lecun_uniform(ctx, v, key, {false, o.layout()});
  if (s == "lecun_normal") return pi::lecun_normal(ctx, v, key, {o.flag("truncated", false), o.layout()});
  if (s == "glorot_uniform" || s == "xavier_uniform") return pi::glorot_uniform(ctx, v, key, {o.num("gain", 1.0), false, o.layout()});
  if (s == "glorot_normal" || s == "xavier_normal")
    return pi::glorot_normal(ctx, v, key, {o.num("gain", 1.0), o.flag("truncated", false), o.layout()});
  if (s == "he_uniform" || s == "kaiming_uniform" || s == "he_normal" || s == "kaiming_normal") {
    pi::HeOptions h;
    h.a = o.num("a", 0.0);
    h.mode = o.mode(pi::FanMode::fan_in);
    h.nonlinearity = o.nonlinearity(pi::Nonlinearity::leaky_relu);
    h.truncated = o.flag("truncated", false);
    h.fans = o.layout();
    return s.find("uniform") != std::string::npos ? pi::he_uniform(ctx, v, key, h) : pi::he_normal(ctx, v, key, h);
  }
  if (s == "variance_scaling") {
    pi::VarianceScalingOptions vs;
    vs.scale = o.num("scale", 1.0);
    vs.mode = o.mode(pi::FanMode::fan_in);
    vs.distribution = o.choice("distribution", pi::Distribution::truncated_normal,
                               {{"uniform", pi::Distribution::uniform}, {"normal", pi::Distribution::normal},
                                {"truncated_normal", pi::Distribution::truncated_normal}});
    vs.fans = o.layout();
    return pi::variance_scaling(ctx, v, key, vs);
  }
  if (s == "fan_in_uniform") return pi::fan_in_uniform(ctx, v, key, {o.integer("fan_in", 0), o.layout()});
  if (s == "eye") return pi::eye(ctx, v, o.num("gain", 1.0));
  if (s == "dirac") return pi::dirac(ctx, v, {o.integer("groups", 1), o.num("gain", 1.0)});
  if (s == "sparse") {
    pi::SparseOptions sp;
    sp.nonzeros_per_unit = o.integer("k", 15);
    sp.std = o.num("std", 0.01);
    sp.values = o.choice("values", pi::SparseValues::normal, {{"normal", pi::SparseValues::normal}, {"uniform", pi::SparseValues::uniform}});
    sp.unit_axis = static_cast<int>(o.integer("unit_axis", 0));
    return pi::sparse(ctx, v, key, sp);
  }
  if (s == "sparse_fraction") return pi::sparse_fraction(ctx, v, key, o.num("sparsity", 0.9), o.num("std", 0.01));
  if (s == "orthogonal") {
    pi::OrthogonalOptions oo;
    oo.gain = o.num("gain", 1.0);
    oo.batch_dims = static_cast<int>(o.integer("batch_dims", 0));
    oo.path = o.choice("path", pi::OrthogonalPath::automatic,
                       {{"automatic", pi::OrthogonalPath::automatic}, {"householder", pi::OrthogonalPath::householder},
                        {"cholesky_qr", pi::OrthogonalPath::cholesky_qr}, {"cholesky_qr2", pi::OrthogonalPath::cholesky_qr2}});
    pi::orthogonal(ctx, v, key, oo);
    return;
  }
  if (s == "delta_orthogonal") {
    pi::delta_orthogonal(ctx, v, key, {o.num("gain", 1.0), o.flag("allow_even", false)});
    return;
  }
  if (s == "gate_bias")
    return pi::gate_bias(ctx, v, {o.choice("layout", pi::GateLayout::torch_lstm,
                                           {{"torch_lstm", pi::GateLayout::torch_lstm}, {"torch_gru", pi::GateLayout::torch_gru},
                                            {"keras_lstm", pi::GateLayout::keras_lstm}, {"keras_gru", pi::GateLayout::keras_gru},
                                            {"cudnn_lstm", pi::GateLayout::cudnn_lstm}, {"cudnn_gru", pi::GateLayout::cudnn_gru}}),
                                  o.num("value", 1.0), o.num("others", 0.0)});
  if (s == "output_bias") {
    const auto stats = o.numbers("stats");
    return pi::output_bias(ctx, v, stats.data(), static_cast<std::int64_t>(stats.size()),
                           {o.choice("activation", pi::OutputActivation::softmax,
                                     {{"softmax", pi::OutputActivation::softmax}, {"sigmoid", pi::OutputActivation::sigmoid},
                                      {"identity", pi::OutputActivation::identity}}),
                            o.flag("centered", false)});
  }
  if (s == "variance_parameter") {
    const auto var = o.numbers("variances");
    return pi::variance_parameter(ctx, v,
                                  o.choice("kind", pi::ScaleParameter::variance,
                                           {{"variance", pi::ScaleParameter::variance}, {"precision", pi::ScaleParameter::precision},
                                            {"std", pi::ScaleParameter::std}, {"log_variance", pi::ScaleParameter::log_variance},
                                            {"log_std", pi::ScaleParameter::log_std}}),
                                  var.empty() ? nullptr : var.data(), static_cast<std::int64_t>(var.size()));
  }
  spec_fail(spec, p.name, "scheme", "unknown scheme");
}

// ---- what each scheme's values should look like ----------------------------------------------------

struct Expect {
  bool known = false;   // false: no check (a structured scheme on a shard)
  bool exact = false;   // deterministic values: the std is exact, up to dtype rounding
  double mean = 0, std = 0;
};

double phi(double x) { return std::exp(-0.5 * x * x) / std::sqrt(2 * M_PI); }
double Phi(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

// The distribution of the whole parameter, from the scheme's published formula.
Expect expected(const Spec& spec, const Param& p, const pi::TensorView& global, bool sharded) {
  const Opt o{spec, p};
  const std::string& s = p.scheme;
  Expect e;
  e.known = true;
  auto fans = [&](const pi::FanLayout& l) { return pi::compute_fans(global, l); };
  auto by_var = [&](double var) { e.std = std::sqrt(var); };
  double numel = 1;
  for (auto x : p.shape) numel *= static_cast<double>(x);
  if (s == "constant" || s == "zeros" || s == "ones" || s == "relu_bias") {
    e.exact = true;
    e.mean = s == "constant" ? o.num("value", 0.0) : s == "ones" ? 1.0 : s == "relu_bias" ? o.num("value", pi::kReluBias) : 0.0;
  } else if (s == "uniform") {
    const double lo = o.num("low", 0.0), hi = o.num("high", 1.0);
    e.mean = (lo + hi) / 2;
    e.std = (hi - lo) / std::sqrt(12.0);
  } else if (s == "normal") {
    e.mean = o.num("mean", 0.0);
    e.std = o.num("std", 1.0);
  } else if (s == "trunc_normal") {
    const double m = o.num("mean", 0.0), sd = o.num("std", 1.0);
    const double a = (o.num("low", m - 2 * sd) - m) / sd, b = (o.num("high", m + 2 * sd) - m) / sd;
    const double z = Phi(b) - Phi(a), d = (phi(a) - phi(b)) / z;
    e.mean = m + sd * d;
    by_var(sd * sd * (1 + (a * phi(a) - b * phi(b)) / z - d * d));
  } else if (s == "lecun_uniform" || s == "lecun_normal") {
    by_var(1.0 / static_cast<double>(fans(o.layout()).fan_in));
  } else if (s.find("glorot") == 0 || s.find("xavier") == 0) {
    const auto f = fans(o.layout());
    const double g = o.num("gain", 1.0);
    by_var(g * g * 2.0 / static_cast<double>(f.fan_in + f.fan_out));
  } else if (s.find("he_") == 0 || s.find("kaiming") == 0) {
    const auto nl = o.nonlinearity(pi::Nonlinearity::leaky_relu);
    const double g = nl == pi::Nonlinearity::leaky_relu ? std::sqrt(2.0 / (1 + o.num("a", 0.0) * o.num("a", 0.0))) : pi::calculate_gain(nl);
    by_var(g * g / fans(o.layout()).of(o.mode(pi::FanMode::fan_in)));
  } else if (s == "variance_scaling") {
    by_var(o.num("scale", 1.0) / fans(o.layout()).of(o.mode(pi::FanMode::fan_in)));
  } else if (s == "fan_in_uniform") {
    const std::int64_t m = o.integer("fan_in", 0);
    by_var(1.0 / (3.0 * static_cast<double>(m > 0 ? m : fans(o.layout()).fan_in)));
  } else if (s == "sparse") {  // k of fan_in entries non-zero, N(0, std^2) (uniform: the same variance)
    const double sd = o.num("std", 0.01);
    by_var(sd * sd * static_cast<double>(o.integer("k", 15)) * static_cast<double>(p.shape[0]) / numel);
  } else if (s == "sparse_fraction") {
    const double sd = o.num("std", 0.01), rows = static_cast<double>(p.shape[0]);
    by_var(sd * sd * (rows - std::ceil(o.num("sparsity", 0.9) * rows)) / rows);
  } else if (s == "orthogonal") {  // orthonormal rows or columns: mean square gain^2 / max(rows, cols)
    const int bd = static_cast<int>(o.integer("batch_dims", 0));
    double rows = static_cast<double>(p.shape[static_cast<std::size_t>(bd)]), cols = 1;
    for (std::size_t d = static_cast<std::size_t>(bd) + 1; d < p.shape.size(); ++d) cols *= static_cast<double>(p.shape[d]);
    const double g = o.num("gain", 1.0);
    by_var(g * g / std::max(rows, cols));
  } else if (s == "delta_orthogonal") {  // in orthonormal columns of length out in one tap of `spatial`
    const double g = o.num("gain", 1.0);
    by_var(g * g * static_cast<double>(p.shape[1]) / numel);
  } else if (sharded) {
    e.known = false;  // structured values: a shard's statistics are not the whole's
  } else if (s == "eye" || s == "dirac" || s == "gate_bias") {
    e.exact = true;
    double frac = 0, hi = o.num("gain", 1.0), lo = 0;
    if (s == "eye") frac = static_cast<double>(std::min(p.shape[0], p.shape[1])) / numel;
    if (s == "dirac") {
      const std::int64_t g = o.integer("groups", 1);
      frac = static_cast<double>(g * std::min(p.shape[0] / g, p.shape[1])) / numel;
    }
    if (s == "gate_bias") {
      const std::string l = o.str("layout", "torch_lstm");
      const double blocks = l.find("cudnn") == 0 ? (l == "cudnn_lstm" ? 8 : 6) : (l.find("lstm") != std::string::npos ? 4 : 3);
      frac = 1.0 / blocks;
      hi = o.num("value", 1.0);
      lo = o.num("others", 0.0);
    }
    e.mean = lo + frac * (hi - lo);
    e.std = std::fabs(hi - lo) * std::sqrt(frac * (1 - frac));
  } else if (s == "output_bias" || s == "variance_parameter") {
    e.known = false;  // the values are the spec's own statistics, transformed: nothing to sample
  } else {
    e.known = false;
  }
  return e;
}

struct Stats {
  double mean = 0, std = 0, m4 = 0;
  std::uint64_t n = 0;
};

// Two passes (mean, then central moments) in double, split over the hardware threads.
template <class F>
Stats stats_of(std::uint64_t n, F value) {
  Stats s;
  s.n = n;
  if (n == 0) return s;
  const unsigned T = n < (1u << 16) ? 1u : std::max(1u, std::thread::hardware_concurrency());
  std::vector<double> a(T), b(T), c(T);
  auto run = [&](auto body) {
    std::vector<std::thread> pool;
    for (unsigned t = 1; t < T; ++t) pool.emplace_back(body, t);
    body(0u);
    for (auto& th : pool) th.join();
  };
  auto range = [&](unsigned t, std::uint64_t& lo, std::uint64_t& hi) { lo = n * t / T, hi = n * (t + 1) / T; };
  run([&](unsigned t) {
    std::uint64_t lo, hi;
    range(t, lo, hi);
    double acc = 0;
    for (std::uint64_t i = lo; i < hi; ++i) acc += value(i);
    a[t] = acc;
  });
  double sum = 0;
  for (double x : a) sum += x;
  s.mean = sum / static_cast<double>(n);
  run([&](unsigned t) {
    std::uint64_t lo, hi;
    range(t, lo, hi);
    double s2 = 0, s4 = 0;
    for (std::uint64_t i = lo; i < hi; ++i) {
      const double d = value(i) - s.mean, d2 = d * d;
      s2 += d2;
      s4 += d2 * d2;
    }
    b[t] = s2, c[t] = s4;
  });
  double s2 = 0, s4 = 0;
  for (unsigned t = 0; t < T; ++t) s2 += b[t], s4 += c[t];
  s.std = std::sqrt(s2 / static_cast<double>(n));
  s.m4 = s4 / static_cast<double>(n);
  return s;
}

Stats host_stats(const void* data, pi::DType t, std::uint64_t n) {
  switch (t) {
    case pi::DType::f32: return stats_of(n, [&](std::uint64_t i) { return static_cast<double>(static_cast<const float*>(data)[i]); });
    case pi::DType::f64: return stats_of(n, [&](std::uint64_t i) { return static_cast<const double*>(data)[i]; });
    default: {
      const auto* h = static_cast<const std::uint16_t*>(data);
      const bool bf = t == pi::DType::bf16;
      return stats_of(n, [&](std::uint64_t i) {
        std::uint32_t bits;
        if (bf) {
          bits = static_cast<std::uint32_t>(h[i]) << 16;
        } else {  // f16 -> f32 by hand (normals and subnormals; no inf/nan in a fill)
          const std::uint32_t sgn = (h[i] & 0x8000u) << 16, e = (h[i] >> 10) & 0x1f, m = h[i] & 0x3ff;
          if (e == 0) {
            const float v = std::ldexp(static_cast<float>(m), -24);
            return static_cast<double>(sgn ? -v : v);
          }
          bits = sgn | ((e + 112) << 23) | (m << 13);
        }
        float f;
        std::memcpy(&f, &bits, 4);
        return static_cast<double>(f);
      });
    }
  }
}

// |measured - expected| within 5 sigma of the sample std (sigma^2 ~ (mu4 - s^4) / (4 s^2 N)) plus the
// dtype's relative rounding; exact schemes within the rounding alone.
bool within(const Expect& e, const Stats& s, pi::DType t, double* bound) {
  const double rel = t == pi::DType::bf16 ? 1.0 / 128 : t == pi::DType::f16 ? 1.0 / 1024 : t == pi::DType::f32 ? 1e-6 : 1e-12;
  double b = rel * (e.std + std::fabs(e.mean)) + 1e-300;
  if (!e.exact && s.n > 0 && s.std > 0)
    b += 5 * std::sqrt(std::max(0.0, s.m4 - s.std * s.std * s.std * s.std) / static_cast<double>(s.n)) / (2 * s.std);
  *bound = b;
  return std::fabs(s.std - e.std) <= b;
}

// ---- paraminit init ----------------------------------------------------------------------------------

const char* const kInitUsage =
    "usage: paraminit init [--spec FILE] [--out FILE] [--device auto|cpu|cuda] [--seed N]\n"
    "                      [--from FILE] [--world-size W --rank R] [--compare-fills] [--quiet]\n"
    "\n"
    "Initializes every parameter of a model spec into a safetensors file and prints one row per\n"
    "parameter: name, shape, dtype, scheme, measured mean and std, the scheme's expected std, whether\n"
    "the measured std is within its sampling bound (5 sigma), and the time.\n"
    "  --spec FILE       JSON spec (default: the built-in GPT-2-small + conv net + LSTM, tools/default_spec.json)\n"
    "  --out FILE        output (default paraminit_model.safetensors)\n"
    "  --device D        auto (CUDA if a GPU is visible), cpu or cuda\n"
    "  --seed N          overrides the spec's seed; parameter `name` uses key_for(seed, name)\n"
    "  --from FILE       copy parameters found there by name with the same shape (dtype converted)\n"
    "  --world-size W --rank R   write only rank R's shard of each parameter with a shard_dim\n"
    "  --compare-fills   also time the fills alone into reused memory, and print total / fills\n"
    "  --quiet           no rows, only the summary\n"
    "Exit status: 0 ok, 1 error, 2 usage, 3 a measured std outside its bound.\n";

struct InitArgs {
  std::string spec, out = "paraminit_model.safetensors", device = "auto", from;
  bool seed_given = false, compare = false, quiet = false;
  std::uint64_t seed = 0;
  int world = 1, rank = 0;
};

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot read " + path);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string shape_text(const std::vector<std::int64_t>& s) {
  std::string t = "(";
  for (std::size_t d = 0; d < s.size(); ++d) t += (d ? ", " : "") + std::to_string(s[d]);
  return t + (s.size() == 1 ? ",)" : ")");
}

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// Device memory for one parameter (CUDA contexts), freed at scope exit.
struct DeviceMem {
  void* p = nullptr;
  explicit DeviceMem(std::size_t bytes) {
#if defined(PARAMINIT_WITH_CUDA)
    if (bytes > 0 && cudaMalloc(&p, bytes) != cudaSuccess) throw std::runtime_error("cudaMalloc of " + std::to_string(bytes) + " bytes failed");
#else
    (void)bytes;
#endif
  }
  ~DeviceMem() {
#if defined(PARAMINIT_WITH_CUDA)
    if (p != nullptr) cudaFree(p);
#endif
  }
};

void to_host(void* dst, const void* src, std::size_t bytes) {
#if defined(PARAMINIT_WITH_CUDA)
  if (bytes > 0 && cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost) != cudaSuccess) throw std::runtime_error("cudaMemcpy failed");
#else
  (void)dst, (void)src, (void)bytes;
#endif
}

// The value after option argv[i] (i advances past it); an option without one is an error naming it.
std::string option_value(int argc, char** argv, int& i) {
  if (i + 1 >= argc) throw std::invalid_argument(std::string(argv[i]) + " needs a value");
  return argv[++i];
}

int cmd_init(int argc, char** argv) {
  InitArgs a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    auto next = [&] { return option_value(argc, argv, i); };
    if (k == "--help" || k == "-h") {
      std::fputs(kInitUsage, stdout);
      return 0;
    } else if (k == "--spec") a.spec = next();
    else if (k == "--out") a.out = next();
    else if (k == "--device") a.device = next();
    else if (k == "--from") a.from = next();
    else if (k == "--seed") a.seed = std::stoull(next()), a.seed_given = true;
    else if (k == "--world-size") a.world = std::stoi(next());
    else if (k == "--rank") a.rank = std::stoi(next());
    else if (k == "--compare-fills") a.compare = true;
    else if (k == "--quiet") a.quiet = true;
    else throw std::invalid_argument("unknown option " + k);
  }
  if (a.world < 1 || a.rank < 0 || a.rank >= a.world) throw std::invalid_argument("--rank must be in [0, --world-size)");
  if (a.device != "auto" && a.device != "cpu" && a.device != "cuda") throw std::invalid_argument("--device must be auto, cpu or cuda");

  Spec spec = a.spec.empty() ? parse_spec(kDefaultSpec, "default spec") : parse_spec(read_file(a.spec), a.spec);
  if (a.seed_given) spec.seed = a.seed;
  const bool cuda = a.device == "cuda" || (a.device == "auto" && pi::cuda_device_count() > 0);
  pi::Context ctx = cuda ? pi::Context::cuda(0) : pi::Context::cpu();
  std::unique_ptr<pi::SafetensorsReader> from;
  if (!a.from.empty()) from = std::make_unique<pi::SafetensorsReader>(pi::SafetensorsReader::open(a.from));

  // The plan: each parameter's local (shard) shape, and its options checked before anything is written.
  struct Plan {
    const Param* p;
    std::vector<std::int64_t> local;
    std::int64_t start = 0;
    bool sharded = false;
    Expect expect;
  };
  std::vector<Plan> plan;
  std::vector<pi::SafetensorsWriter::Decl> decls;
  std::map<std::string, std::string> meta = {{"paraminit.seed", std::to_string(spec.seed)}, {"paraminit.spec", spec.origin}};
  if (a.world > 1) meta["paraminit.world_size"] = std::to_string(a.world), meta["paraminit.rank"] = std::to_string(a.rank);
  for (const Param& p : spec.params) {
    Plan pl{&p, p.shape, 0, false, {}};
    if (a.world > 1 && p.shard_dim >= 0) {
      const std::int64_t e = p.shape[static_cast<std::size_t>(p.shard_dim)];
      pl.start = e * a.rank / a.world;
      pl.local[static_cast<std::size_t>(p.shard_dim)] = e * (a.rank + 1) / a.world - pl.start;
      pl.sharded = true;
      meta["paraminit.shard:" + p.name] = "dim=" + std::to_string(p.shard_dim) + " start=" + std::to_string(pl.start) +
                                          " global=" + std::to_string(e);
    }
    pi::TensorView g = pi::TensorView::of(nullptr, p.dtype, {});
    g.rank = static_cast<int>(p.shape.size());
    for (int d = 0; d < g.rank; ++d) g.shape[d] = p.shape[static_cast<std::size_t>(d)];
    try {
      pl.expect = expected(spec, p, g, pl.sharded);
    } catch (const pi::Error& e) {  // e.g. a fan-based scheme on a rank-1 shape
      spec_fail(spec, p.name, "", e.what());
    }
    decls.push_back({p.name, p.dtype, pl.local});
    plan.push_back(std::move(pl));
  }

  const double t_start = now();
  std::vector<std::string> taken, mismatched, failed;
  double fill_seconds = 0;
  std::uint64_t elems = 0, bytes_total = 0;
  const bool progress = !a.quiet && isatty(2);
  try {
    pi::SafetensorsWriter w(a.out, decls, meta);
    if (!a.quiet) {
      std::printf("| name | shape | dtype | scheme | mean | std | expected std | ok | ms |\n");
      std::printf("|---|---|---|---|---:|---:|---:|---|---:|\n");
    }
    for (std::size_t i = 0; i < plan.size(); ++i) {
      const Plan& pl = plan[i];
      const Param& p = *pl.p;
      if (progress) std::fprintf(stderr, "\r[%zu/%zu] %-60.60s", i + 1, plan.size(), p.name.c_str());
      std::uint64_t n = 1;
      for (auto e : pl.local) n *= static_cast<std::uint64_t>(e);
      const std::size_t bytes = static_cast<std::size_t>(n * pi::dtype_size(p.dtype));
      void* host = w.map(p.name);
      DeviceMem dev(cuda ? bytes : 0);
      pi::TensorView v = pi::TensorView::of(cuda ? dev.p : host, p.dtype, {});
      v.rank = static_cast<int>(pl.local.size());
      for (int d = 0; d < v.rank; ++d) v.shape[d] = pl.local[static_cast<std::size_t>(d)];
      if (pl.sharded) v = v.window(p.shard_dim, pl.start, p.shape[static_cast<std::size_t>(p.shard_dim)]);
      const double t0 = now();
      bool copied = false;
      if (from != nullptr) {
        if (const pi::SafetensorsTensor* t = from->find(p.name)) {
          if (t->shape == p.shape && t->readable) {
            from->read(ctx, p.name, v);
            taken.push_back(p.name);
            copied = true;
          } else {
            mismatched.push_back(p.name + " (file " + t->dtype_name + " " + shape_text(t->shape) + ", spec " + shape_text(p.shape) + ")");
          }
        }
      }
      if (!copied) apply(ctx, v, pi::key_for(spec.seed, p.name), spec, p);
      if (cuda) to_host(host, dev.p, bytes);
      const double dt = now() - t0;
      fill_seconds += dt;
      elems += n;
      bytes_total += bytes;
      const Stats s = host != nullptr ? host_stats(host, p.dtype, n) : Stats{};
      double bound = 0;
      const bool check = pl.expect.known && !copied && n > 1;
      const bool ok = !check || within(pl.expect, s, p.dtype, &bound);
      if (!ok) failed.push_back(p.name);
      if (!a.quiet) {
        char exp[32] = "-";
        if (pl.expect.known && !copied) std::snprintf(exp, sizeof exp, "%.6g", pl.expect.std);
        std::printf("| %s | %s | %s | %s | %.6g | %.6g | %s | %s | %.1f |\n", p.name.c_str(), shape_text(pl.local).c_str(),
                    pi::to_string(p.dtype), copied ? "(from file)" : p.scheme.c_str(), s.mean, s.std, exp,
                    !check ? "-" : ok ? "yes" : "NO", dt * 1e3);
      }
    }
    if (progress) std::fprintf(stderr, "\r%80s\r", "");
    w.close();
  } catch (...) {
    if (progress) std::fprintf(stderr, "\n");
    throw;  // the writer removes its temporary file: no half-written model file, the old one kept
  }
  const double total = now() - t_start;
  std::printf("\n%zu parameters, %llu elements, %.1f MB to %s on %s%s: %.3f s (fills %.3f s), %.3f G elem/s\n", plan.size(),
              static_cast<unsigned long long>(elems), static_cast<double>(bytes_total) / 1e6, a.out.c_str(),
              cuda ? "cuda" : "cpu", a.world > 1 ? (" (rank " + std::to_string(a.rank) + " of " + std::to_string(a.world) + ")").c_str() : "",
              total, fill_seconds, static_cast<double>(elems) / total / 1e9);
  if (from != nullptr) {
    std::printf("from %s: taken %zu, initialized %zu, mismatched %zu\n", a.from.c_str(), taken.size(), plan.size() - taken.size(),
                mismatched.size());
    for (const auto& m : mismatched) std::printf("  mismatched: %s\n", m.c_str());
    std::size_t unused = 0;
    for (const auto& t : from->tensors())
      if (std::none_of(spec.params.begin(), spec.params.end(), [&](const Param& p) { return p.name == t.name; })) ++unused;
    std::printf("  %zu tensor(s) of the file are not in the spec\n", unused);
  }
  if (a.compare) {  // the fills alone, into one reused buffer that is already faulted in (CPU)
    std::vector<unsigned char> scratch;
    double fills = 0;
    for (const Plan& pl : plan) {
      const Param& p = *pl.p;
      std::uint64_t n = 1;
      for (auto e : pl.local) n *= static_cast<std::uint64_t>(e);
      const std::size_t bytes = static_cast<std::size_t>(n * pi::dtype_size(p.dtype));
      if (scratch.size() < bytes + 64) scratch.assign(bytes + 64, 0);
      DeviceMem dev(cuda ? bytes : 0);
      pi::TensorView v = pi::TensorView::of(cuda ? dev.p : scratch.data(), p.dtype, {});
      v.rank = static_cast<int>(pl.local.size());
      for (int d = 0; d < v.rank; ++d) v.shape[d] = pl.local[static_cast<std::size_t>(d)];
      if (pl.sharded) v = v.window(p.shard_dim, pl.start, p.shape[static_cast<std::size_t>(p.shard_dim)]);
      const double t0 = now();
      apply(ctx, v, pi::key_for(spec.seed, p.name), spec, p);
#if defined(PARAMINIT_WITH_CUDA)
      if (cuda) cudaDeviceSynchronize();
#endif
      fills += now() - t0;
    }
    std::printf("fills alone: %.3f s; init total / fills alone = %.2f\n", fills, total / fills);
  }
  if (!failed.empty()) {
    std::printf("measured std outside its bound: ");
    for (const auto& f : failed) std::printf("%s ", f.c_str());
    std::printf("\n");
    return 3;
  }
  return 0;
}

// ---- paraminit load ----------------------------------------------------------------------------------

const char* const kLoadUsage =
    "usage: paraminit load FILE [--device auto|cpu|cuda] [--reps R]\n"
    "\n"
    "Reads every tensor of a safetensors file into memory (host, or the GPU through pinned staging)\n"
    "with SafetensorsReader::read, and prints its speed beside a plain read() of the same bytes in the\n"
    "same run (the disk / page-cache limit). Medians of R runs (default 3).\n";

int cmd_load(int argc, char** argv) {
  std::string file, device = "auto";
  int reps = 3;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    if (k == "--help" || k == "-h") {
      std::fputs(kLoadUsage, stdout);
      return 0;
    } else if (k == "--device") device = option_value(argc, argv, i);
    else if (k == "--reps") reps = std::stoi(option_value(argc, argv, i));
    else if (file.empty() && k[0] != '-') file = k;
    else throw std::invalid_argument("unknown option " + k);
  }
  if (file.empty()) throw std::invalid_argument("load needs a FILE");
  const bool cuda = device == "cuda" || (device == "auto" && pi::cuda_device_count() > 0);
  pi::Context ctx = cuda ? pi::Context::cuda(0) : pi::Context::cpu();
  const auto r = pi::SafetensorsReader::open(file);
  std::uint64_t total = 0, biggest = 0;
  for (const auto& t : r.tensors()) total += t.end - t.begin, biggest = std::max(biggest, t.end - t.begin);
  std::vector<unsigned char> host(cuda ? 0 : static_cast<std::size_t>(biggest) + 64);
  DeviceMem dev(cuda ? static_cast<std::size_t>(biggest) + 64 : 0);
  auto median = [&](auto fn) {
    std::vector<double> ts;
    for (int k = 0; k < reps; ++k) {
      const double t0 = now();
      fn();
      ts.push_back(now() - t0);
    }
    std::sort(ts.begin(), ts.end());
    return ts[ts.size() / 2];
  };
  const double t_ours = median([&] {
    for (const auto& t : r.tensors()) {
      if (!t.readable) continue;
      pi::TensorView v = pi::TensorView::of(cuda ? dev.p : host.data(), t.dtype, {});
      v.rank = static_cast<int>(t.shape.size());
      for (int d = 0; d < v.rank; ++d) v.shape[d] = t.shape[static_cast<std::size_t>(d)];
      r.read(ctx, t.name, v);
    }
  });
  // The limit: plain pread() of the same file in 8 MiB blocks into one host buffer (cache-sized;
  // for CUDA runs this is the disk / page-cache side alone).
  std::vector<unsigned char> raw(std::size_t{8} << 20);
  const double t_raw = median([&] {
    const int fd = ::open(file.c_str(), O_RDONLY);
    if (fd < 0) throw std::runtime_error("cannot open " + file);
    off_t off = 0;
    for (ssize_t got; (got = ::pread(fd, raw.data(), raw.size(), off)) > 0;) off += got;
    ::close(fd);
  });
  std::printf("| load | bytes | median s | GB/s |\n|---|---:|---:|---:|\n");
  std::printf("| SafetensorsReader::read, every tensor (%s) | %llu | %.3f | %.2f |\n", cuda ? "to the GPU" : "to host memory",
              static_cast<unsigned long long>(total), t_ours, static_cast<double>(total) / t_ours / 1e9);
  std::printf("| plain pread() of the file, 8 MiB blocks (the limit) | %llu | %.3f | %.2f |\n",
              static_cast<unsigned long long>(total), t_raw, static_cast<double>(total) / t_raw / 1e9);
  return 0;
}

// ---- paraminit depth ---------------------------------------------------------------------------------

const char* const kDepthUsage =
    "usage: paraminit depth [--layers-linear L] [--layers L] [--width N] [--batch B] [--seed S] [--svg FILE]\n"
    "\n"
    "The depth experiment (Goodfellow et al. 8.4): networks of L dense layers of width N (defaults: 1000\n"
    "linear layers; 200 tanh and 200 relu layers; N = 256) on a N(0, 1) minibatch of B = 128, initialized\n"
    "with each scheme; prints the activation and back-propagated gradient std at depths 1, 10, 100 and L,\n"
    "and writes an SVG of the activation std against depth (log scale), one line per scheme\n"
    "(default paraminit_depth.svg).\n";

struct DepthScheme {
  const char* name;
  const char* color;
};
const DepthScheme kDepthSchemes[] = {
    {"U(-1/sqrt m, 1/sqrt m)", "#1f77b4"}, {"Glorot", "#ff7f0e"}, {"He", "#2ca02c"}, {"orthogonal, gain 1", "#d62728"},
    {"orthogonal, activation gain", "#9467bd"}, {"sparse k=15", "#8c564b"}, {"LSUV", "#e377c2"}, {"random-walk gain", "#7f7f7f"},
};

int cmd_depth(int argc, char** argv) {
  std::int64_t layers_linear = 1000, layers = 200, width = 256, batch = 128;
  std::uint64_t seed = 1;
  std::string svg = "paraminit_depth.svg";
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    auto next = [&] { return option_value(argc, argv, i); };
    if (k == "--help" || k == "-h") {
      std::fputs(kDepthUsage, stdout);
      return 0;
    } else if (k == "--layers-linear") layers_linear = std::stoll(next());
    else if (k == "--layers") layers = std::stoll(next());
    else if (k == "--width") width = std::stoll(next());
    else if (k == "--batch") batch = std::stoll(next());
    else if (k == "--seed") seed = std::stoull(next());
    else if (k == "--svg") svg = next();
    else throw std::invalid_argument("unknown option " + k);
  }
  if (layers_linear < 1 || layers < 1 || width < 2 || batch < 1) throw std::invalid_argument("sizes must be positive (width >= 2)");
  pi::Context ctx = pi::Context::cpu();
  struct Group {
    const char* name;
    pi::Activation act;
    pi::Nonlinearity nl;
    std::int64_t L;
  };
  const Group groups[] = {{"linear", pi::Activation::identity, pi::Nonlinearity::linear, layers_linear},
                          {"tanh", pi::Activation::tanh, pi::Nonlinearity::tanh, layers},
                          {"relu", pi::Activation::relu, pi::Nonlinearity::relu, layers}};
  struct Curve {
    std::vector<double> act, grad;
  };
  std::vector<std::vector<Curve>> curves(3);
  const double t0 = now();
  std::vector<float> x(static_cast<std::size_t>(batch * width));
  pi::normal(ctx, pi::TensorView::of(x.data(), pi::DType::f32, {batch, width}), pi::Key{seed, pi::stream_for_name("depth.input")}, {0.0, 1.0});
  const pi::TensorView xv = pi::TensorView::of(x.data(), pi::DType::f32, {batch, width});
  for (int gi = 0; gi < 3; ++gi) {
    const Group& G = groups[gi];
    const double gain = pi::calculate_gain(G.nl);
    const double g_rw = pi::random_walk_gain(G.act, width);
    std::printf("\n%s network: %lld layers of width %lld, batch %lld (activation gain %.4g, random-walk gain %.4g)\n", G.name,
                static_cast<long long>(G.L), static_cast<long long>(width), static_cast<long long>(batch), gain, g_rw);
    std::printf("| scheme | act std d=1 | d=10 | d=100 | d=%lld | grad std d=1 | d=10 | d=100 | d=%lld |\n", static_cast<long long>(G.L),
                static_cast<long long>(G.L));
    std::printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    std::vector<std::vector<float>> w(static_cast<std::size_t>(G.L), std::vector<float>(static_cast<std::size_t>(width * width)));
    std::vector<pi::DenseLayer> net(static_cast<std::size_t>(G.L));
    for (std::size_t l = 0; l < net.size(); ++l) {
      net[l].weight = pi::TensorView::of(w[l].data(), pi::DType::f32, {width, width});
      net[l].activation = G.act;
    }
    for (int si = 0; si < 8; ++si) {
      for (std::size_t l = 0; l < net.size(); ++l) {
        const pi::Key k{seed, pi::batch_stream(pi::stream_for_name(std::string("depth.") + G.name), l)};
        const pi::TensorView& v = net[l].weight;
        switch (si) {
          case 0: pi::fan_in_uniform(ctx, v, k); break;
          case 1: pi::glorot_normal(ctx, v, k); break;
          case 2: {
            pi::HeOptions o;
            o.nonlinearity = pi::Nonlinearity::relu;
            pi::he_normal(ctx, v, k, o);
            break;
          }
          case 3: pi::orthogonal(ctx, v, k); break;
          case 4: pi::orthogonal(ctx, v, k, {gain}); break;
          case 5: {
            pi::SparseOptions o;
            o.nonzeros_per_unit = std::min<std::int64_t>(15, width);
            o.std = gain / std::sqrt(static_cast<double>(o.nonzeros_per_unit));
            pi::sparse(ctx, v, k, o);
            break;
          }
          case 6: break;  // LSUV: orthogonal pre-initialization inside calibrate_lsuv
          case 7: pi::normal(ctx, v, k, {0.0, g_rw / std::sqrt(static_cast<double>(width))}); break;
        }
      }
      if (si == 6) {
        pi::LsuvOptions o;
        o.orthogonalize_first = true;
        o.key = pi::Key{seed, pi::stream_for_name(std::string("depth.lsuv.") + G.name)};
        pi::calibrate_lsuv(ctx, net, xv, o);
      }
      pi::StatisticsOptions so;
      so.check_finite = false;
      so.gradient_key = pi::Key{seed, pi::stream_for_name("depth.gradient")};
      const auto st = pi::layer_statistics(ctx, net, xv, so);
      Curve c;
      for (const auto& s : st) c.act.push_back(s.activation.std), c.grad.push_back(s.gradient.std);
      auto at = [&](const std::vector<double>& v, std::int64_t d) { return v[static_cast<std::size_t>(std::min(d, G.L) - 1)]; };
      std::printf("| %s | %.3g | %.3g | %.3g | %.3g | %.3g | %.3g | %.3g | %.3g |\n", kDepthSchemes[si].name, at(c.act, 1), at(c.act, 10),
                  at(c.act, 100), at(c.act, G.L), at(c.grad, 1), at(c.grad, 10), at(c.grad, 100), at(c.grad, G.L));
      std::fflush(stdout);
      curves[static_cast<std::size_t>(gi)].push_back(std::move(c));
    }
  }
  // The picture: one panel per network, log10 of the activation std against depth.
  std::ofstream f(svg);
  if (!f) throw std::runtime_error("cannot write " + svg);
  const double pw = 400, ph = 330, left = 60, top = 40, lo = -12, hi = 12;
  f << "<svg xmlns='http://www.w3.org/2000/svg' width='" << 3 * pw + 40 << "' height='" << ph + 150
    << "' font-family='sans-serif' font-size='12'>\n<rect width='100%' height='100%' fill='white'/>\n";
  f << "<text x='20' y='22' font-size='15'>paraminit depth: activation std against depth (log scale; width " << width << ", batch " << batch
    << "; values beyond 1e-12 .. 1e12 clipped)</text>\n";
  for (int gi = 0; gi < 3; ++gi) {
    const double x0 = 20 + gi * pw + left, w = pw - left - 20, y0 = top + 20, h = ph - 60;
    const auto L = static_cast<double>(groups[gi].L);
    f << "<text x='" << x0 << "' y='" << y0 - 6 << "' font-size='13'>" << groups[gi].name << " (" << groups[gi].L << " layers)</text>\n";
    f << "<rect x='" << x0 << "' y='" << y0 << "' width='" << w << "' height='" << h << "' fill='none' stroke='black'/>\n";
    for (int e = static_cast<int>(lo); e <= static_cast<int>(hi); e += 4) {
      const double y = y0 + h * (hi - e) / (hi - lo);
      f << "<line x1='" << x0 << "' x2='" << x0 + w << "' y1='" << y << "' y2='" << y << "' stroke='#ddd'/>"
        << "<text x='" << x0 - 8 << "' y='" << y + 4 << "' text-anchor='end'>1e" << e << "</text>\n";
    }
    for (int q = 0; q <= 4; ++q) {
      const double d = 1 + (L - 1) * q / 4.0, xx = x0 + w * (d - 1) / std::max(1.0, L - 1);
      f << "<text x='" << xx << "' y='" << y0 + h + 16 << "' text-anchor='middle'>" << static_cast<long long>(std::lround(d)) << "</text>\n";
    }
    f << "<text x='" << x0 + w / 2 << "' y='" << y0 + h + 32 << "' text-anchor='middle'>depth</text>\n";
    for (std::size_t si = 0; si < curves[static_cast<std::size_t>(gi)].size(); ++si) {
      f << "<polyline fill='none' stroke-width='1.6' stroke='" << kDepthSchemes[si].color << "' points='";
      const auto& a = curves[static_cast<std::size_t>(gi)][si].act;
      for (std::size_t d = 0; d < a.size(); ++d) {
        double e = a[d] > 0 && std::isfinite(a[d]) ? std::log10(a[d]) : (a[d] > 0 ? hi : lo);
        e = std::min(hi, std::max(lo, e));
        f << x0 + w * static_cast<double>(d) / std::max(1.0, L - 1) << "," << y0 + h * (hi - e) / (hi - lo) << " ";
      }
      f << "'/>\n";
    }
  }
  for (int si = 0; si < 8; ++si) {
    const double lx = 80 + (si % 4) * 300, ly = ph + 70 + (si / 4) * 22;
    f << "<line x1='" << lx << "' x2='" << lx + 30 << "' y1='" << ly << "' y2='" << ly << "' stroke-width='3' stroke='"
      << kDepthSchemes[si].color << "'/><text x='" << lx + 38 << "' y='" << ly + 4 << "'>" << kDepthSchemes[si].name << "</text>\n";
  }
  f << "</svg>\n";
  std::printf("\nwrote %s; %.1f s\n", svg.c_str(), now() - t0);
  return 0;
}

const char* const kUsage =
    "usage: paraminit <command> [options]\n"
    "commands:\n"
    "  init    initialize a model spec into a safetensors file (paraminit init --help)\n"
    "  depth   the depth experiment: activation and gradient std through deep networks (paraminit depth --help)\n"
    "  load    read every tensor of a safetensors file, against a plain read of it (paraminit load --help)\n"
    "  bench   the throughput table of every fill and dtype against the memset limit (paraminit bench --help)\n";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const std::string cmd = argv[1];
  try {
    if (cmd == "init") return cmd_init(argc - 1, argv + 1);
    if (cmd == "load") return cmd_load(argc - 1, argv + 1);
    if (cmd == "depth") return cmd_depth(argc - 1, argv + 1);
    if (cmd == "bench") return paraminit_bench::bench_main(argc - 1, argv + 1);
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "paraminit %s: %s\n%s", cmd.c_str(), e.what(), kInitUsage);
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "paraminit %s: %s\n", cmd.c_str(), e.what());
    return 1;
  }
  std::fprintf(stderr, "paraminit: unknown command \"%s\"\n%s", cmd.c_str(), kUsage);
  return 2;
}

namespace {
#include "default_spec.inc"
}  // namespace
