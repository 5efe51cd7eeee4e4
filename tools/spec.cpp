// The model spec: parsing, validation, option access and running a parameter's scheme (spec.hpp).
#include "spec.hpp"

#include <algorithm>
#include <climits>
#include <map>
#include <set>

namespace paraminit_program {
namespace {
namespace pi = paraminit;
using json = nlohmann::json;

const std::map<std::string, std::vector<std::string>> kSchemeFields = {
    {"constant", {"value"}}, {"zeros", {}}, {"ones", {}}, {"relu_bias", {"value"}},
    {"uniform", {"low", "high"}}, {"normal", {"mean", "std"}}, {"trunc_normal", {"mean", "std", "low", "high"}},
    {"lecun_uniform", {"layout"}}, {"lecun_normal", {"truncated", "layout"}},
    {"glorot_uniform", {"gain", "layout"}}, {"glorot_normal", {"gain", "truncated", "layout"}},
    {"xavier_uniform", {"gain", "layout"}}, {"xavier_normal", {"gain", "truncated", "layout"}},
    {"he_uniform", {"negative_slope", "a", "mode", "nonlinearity", "layout"}},
    {"he_normal", {"negative_slope", "a", "mode", "nonlinearity", "truncated", "layout"}},
    {"kaiming_uniform", {"negative_slope", "a", "mode", "nonlinearity", "layout"}},
    {"kaiming_normal", {"negative_slope", "a", "mode", "nonlinearity", "truncated", "layout"}},
    {"variance_scaling", {"scale", "mode", "distribution", "layout"}}, {"fan_in_uniform", {"fan_in", "layout"}},
    {"eye", {"gain"}}, {"dirac", {"groups", "gain"}}, {"sparse", {"k", "std", "values", "unit_axis"}},
    {"sparse_fraction", {"sparsity", "std"}}, {"orthogonal", {"gain", "batch_dims", "path"}},
    {"delta_orthogonal", {"gain", "allow_even", "path"}}, {"gate_bias", {"layout", "value", "others"}},
    {"output_bias", {"activation", "centered", "stats"}}, {"variance_parameter", {"kind", "variances"}},
};

// The schemes of kSchemeFields whose values depend only on the element's global index and shape.
const std::set<std::string> kElementwise = {
    "constant",     "zeros",          "ones",         "relu_bias",       "uniform",        "normal",
    "trunc_normal", "lecun_uniform",  "lecun_normal", "glorot_uniform",  "xavier_uniform", "glorot_normal",
    "xavier_normal", "he_uniform",    "he_normal",    "kaiming_uniform", "kaiming_normal", "variance_scaling",
    "fan_in_uniform"};

// A bound on the parameters of one spec (with repeat's copies): a model has thousands of tensors;
// a count of 10^12 must be an error, not hours of parsing until memory runs out.
constexpr std::size_t kMaxParams = 100000;

}  // namespace

bool scheme_is_elementwise(const std::string& scheme) { return kElementwise.count(scheme) != 0; }

std::string library_reason(const pi::Error& e) {
  const std::string w = e.what();
  const std::size_t colon = w.find(": ");
  return w.rfind("paraminit::", 0) == 0 && colon != std::string::npos ? w.substr(colon + 2) : w;
}

namespace {

pi::DType parse_dtype(const Spec& s, const std::string& p, const json& v) {
  if (!v.is_string()) spec_fail(s, p, "dtype", "expected one of \"f32\", \"f64\", \"f16\", \"bf16\"");
  try {
    return pi::from_name<pi::DType>(v.get<std::string>());
  } catch (const pi::Error& e) {
    spec_fail(s, p, "dtype", library_reason(e));
  }
}

void add_param(Spec& s, const std::string& name, const json& v, pi::DType default_dtype) {
  // spec_fail names the parameter only when its name is not empty; a tensor needs a name anyway
  if (name.empty()) throw SpecError(s.origin + ": parameters[\"\"]: a parameter needs a non-empty name");
  if (s.params.size() >= kMaxParams)
    throw SpecError(s.origin + ": parameters: more than " + std::to_string(kMaxParams) + " parameters");
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
    } else if (k == "shard_dim") {  // range-checked before narrowing: 2^32 must not become dimension 0
      if (!it->is_number_integer()) spec_fail(s, name, k, "expected an integer");
      if (it->is_number_unsigned() ? it->get<std::uint64_t>() > static_cast<std::uint64_t>(pi::kMaxRank)
                                   : it->get<std::int64_t>() < -1 || it->get<std::int64_t>() > pi::kMaxRank)
        spec_fail(s, name, k, it->dump() + " is not a dimension of the shape");
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

}  // namespace

[[noreturn]] void spec_fail(const Spec& s, const std::string& param, const std::string& field, const std::string& what) {
  // "origin: parameters["p"].field: what", "origin: parameters["p"]: what", "origin: field: what" (a
  // top-level field) or "origin: what"
  std::string at = s.origin + ": ";
  if (!param.empty()) at += "parameters[\"" + param + "\"]";
  if (!field.empty()) at += (param.empty() ? "" : ".") + field;
  throw SpecError(param.empty() && field.empty() ? at + what : at + ": " + what);
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
      const std::uint64_t count = r["count"].get<std::uint64_t>();
      if (count > kMaxParams || count * r["parameters"].size() > kMaxParams - s.params.size())
        throw SpecError(origin + ": repeat: count " + std::to_string(count) + " makes more than " + std::to_string(kMaxParams) +
                        " parameters");
      for (std::uint64_t i = 0; i < count; ++i) {
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

double Opt::num(const char* k, double dflt) const {
  if (!p.opt.contains(k)) return dflt;
  if (!p.opt[k].is_number()) spec_fail(spec, p.name, k, "expected a number");
  return p.opt[k].get<double>();
}

std::int64_t Opt::integer(const char* k, std::int64_t dflt) const {
  if (!p.opt.contains(k)) return dflt;
  if (!p.opt[k].is_number_integer()) spec_fail(spec, p.name, k, "expected an integer");
  if (p.opt[k].is_number_unsigned() && p.opt[k].get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX))
    spec_fail(spec, p.name, k, p.opt[k].dump() + " is out of range");  // would wrap to a negative number
  return p.opt[k].get<std::int64_t>();
}

int Opt::small_int(const char* k, int dflt) const {
  const std::int64_t v = integer(k, dflt);
  if (v < INT_MIN || v > INT_MAX) spec_fail(spec, p.name, k, std::to_string(v) + " is out of range");
  return static_cast<int>(v);
}

bool Opt::flag(const char* k, bool dflt) const {
  if (!p.opt.contains(k)) return dflt;
  if (!p.opt[k].is_boolean()) spec_fail(spec, p.name, k, "expected true or false");
  return p.opt[k].get<bool>();
}

std::string Opt::str(const char* k, const std::string& dflt) const {
  if (!p.opt.contains(k)) return dflt;
  if (!p.opt[k].is_string()) spec_fail(spec, p.name, k, "expected a string");
  return p.opt[k].get<std::string>();
}

std::vector<double> Opt::numbers(const char* k) const {
  std::vector<double> out;
  if (!p.opt.contains(k)) return out;
  if (!p.opt[k].is_array()) spec_fail(spec, p.name, k, "expected an array of numbers");
  for (const auto& e : p.opt[k]) {
    if (!e.is_number()) spec_fail(spec, p.name, k, "expected an array of numbers");
    out.push_back(e.get<double>());
  }
  return out;
}

pi::FanLayout Opt::layout() const {
  return choice<int>("layout", 0, {{"torch", 0}, {"jax", 1}}) == 1 ? pi::FanLayout::jax() : pi::FanLayout::torch();
}

pi::FanMode Opt::mode(pi::FanMode d) const {
  return named("mode", d);
}

double Opt::negative_slope() const {
  if (p.opt.contains("negative_slope") && p.opt.contains("a"))
    spec_fail(spec, p.name, "a", "give negative_slope or its PyTorch name a, not both");
  return p.opt.contains("a") ? num("a", 0.0) : num("negative_slope", 0.0);
}

pi::Nonlinearity Opt::nonlinearity(pi::Nonlinearity d) const { return named("nonlinearity", d); }

// The scheme's function with its options; each option is read (and checked) where it is used.
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
    h.negative_slope = o.negative_slope();
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
    vs.distribution = o.named("distribution", pi::Distribution::truncated_normal);
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
    sp.values = o.named("values", pi::SparseValues::normal);
    sp.unit_axis = o.small_int("unit_axis", 0);
    return pi::sparse(ctx, v, key, sp);
  }
  if (s == "sparse_fraction") return pi::sparse_fraction(ctx, v, key, o.num("sparsity", 0.9), o.num("std", 0.01));
  if (s == "orthogonal") {
    pi::OrthogonalOptions oo;
    oo.gain = o.num("gain", 1.0);
    oo.batch_dims = o.small_int("batch_dims", 0);
    oo.path = o.named("path", pi::OrthogonalPath::automatic);
    pi::orthogonal(ctx, v, key, oo);
    return;
  }
  if (s == "delta_orthogonal") {
    pi::delta_orthogonal(ctx, v, key, {o.num("gain", 1.0), o.flag("allow_even", false), o.named("path", pi::OrthogonalPath::automatic)});
    return;
  }
  if (s == "gate_bias")
    return pi::gate_bias(ctx, v, {o.named("layout", pi::GateLayout::torch_lstm), o.num("value", 1.0), o.num("others", 0.0)});
  if (s == "output_bias") {
    const auto stats = o.numbers("stats");
    return pi::output_bias(ctx, v, stats.data(), static_cast<std::int64_t>(stats.size()),
                           {o.named("activation", pi::OutputActivation::softmax), o.flag("centered", false)});
  }
  if (s == "variance_parameter") {
    const auto var = o.numbers("variances");
    return pi::variance_parameter(ctx, v,
                                  o.named("kind", pi::ScaleParameter::variance),
                                  var.empty() ? nullptr : var.data(), static_cast<std::int64_t>(var.size()));
  }
  spec_fail(spec, p.name, "scheme", "unknown scheme");
}


}  // namespace paraminit_program
