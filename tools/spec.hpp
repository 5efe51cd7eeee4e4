// The model spec of the paraminit program: parsing and validation of the JSON text, typed access to
// a parameter's scheme options, and running a parameter's scheme on a view. Nothing here prints or
// exits: every problem is a SpecError whose text names the spec, the parameter and the field
// (`spec.json: parameters["w"].std: expected a number`), so that another front end (the Python
// package's `rules`) can reuse the unit and report the errors its own way.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "paraminit/paraminit.hpp"

namespace paraminit_program {

struct SpecError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Param {
  std::string name;
  std::vector<std::int64_t> shape;
  paraminit::DType dtype = paraminit::DType::f32;
  std::string scheme;
  nlohmann::json opt;  // the parameter's whole object
  int shard_dim = -1;  // -1: every rank writes it whole
};

struct Spec {
  std::string origin;  // the file name (or "default spec") every error starts with
  std::uint64_t seed = 0;
  std::vector<Param> params;  // sorted by name
};

/// Parses and validates a spec: top-level fields, every parameter's shape, dtype, scheme, shard_dim
/// and that each other field belongs to its scheme. The values of the scheme fields are checked
/// where they are read (Opt), before anything is written.
Spec parse_spec(const std::string& text, const std::string& origin);

/// The reason of a library error without the "paraminit::function: " it starts with (the spec's
/// message names the parameter and field instead).
std::string library_reason(const paraminit::Error& e);

/// Throws SpecError "origin: parameters["param"].field: what"; without param "origin: field: what" (a
/// top-level field), without either "origin: what".
[[noreturn]] void spec_fail(const Spec& s, const std::string& param, const std::string& field, const std::string& what);

/// Typed access to a parameter's scheme options: the default when absent, a SpecError naming the
/// field when present with the wrong type or an unknown name.
struct Opt {
  const Spec& spec;
  const Param& p;
  double num(const char* k, double dflt) const;
  std::int64_t integer(const char* k, std::int64_t dflt) const;
  int small_int(const char* k, int dflt) const;  // integer() that also fits an int (an axis, a count of dims)
  bool flag(const char* k, bool dflt) const;
  std::string str(const char* k, const std::string& dflt) const;
  std::vector<double> numbers(const char* k) const;
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
  /// A public enum by its library name (paraminit::from_name<E>); the library's message, which lists
  /// the valid names, becomes the SpecError.
  template <class E>
  E named(const char* k, E dflt) const {
    if (!p.opt.contains(k)) return dflt;
    try {
      return paraminit::from_name<E>(str(k, ""));
    } catch (const paraminit::Error& e) {
      spec_fail(spec, p.name, k, library_reason(e));
    }
  }
  paraminit::FanLayout layout() const;
  paraminit::FanMode mode(paraminit::FanMode d) const;
  paraminit::Nonlinearity nonlinearity(paraminit::Nonlinearity d) const;
  /// He's leaky_relu slope: "negative_slope", or "a" (PyTorch's kaiming name); 0 when absent.
  double negative_slope() const;
};

/// Whether `scheme` is element-wise: each value depends only on its global index and the global
/// shape, so a window of rows fills with the whole's bits at the whole's cost per element (init's
/// slabs). The structured schemes (orthogonal, sparse, eye, ...) are not.
bool scheme_is_elementwise(const std::string& scheme);

/// Runs the parameter's scheme on view v. Throws SpecError for option problems, paraminit::Error
/// for the rest (the library's own validation of shapes and values).
void apply(paraminit::Context& ctx, const paraminit::TensorView& v, paraminit::Key key, const Spec& spec, const Param& p);

}  // namespace paraminit_program
