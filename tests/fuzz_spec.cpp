// libFuzzer target for the model spec (tools/spec.cpp): any bytes are a spec's JSON text. parse_spec
// must either accept them or throw SpecError; then every parameter's scheme runs through apply() on
// a CPU context (1 thread) when it has at most kApplyElems elements, else only its options are read
// through Opt, the way apply() reads them. The only errors allowed are SpecError and paraminit::Error;
// any other exception, a crash or a sanitizer report is a finding. Each SpecError must also keep
// spec.hpp's promise: its text starts with the origin and then names `parameters["..."]` or a
// top-level field (seed, dtype, parameters, repeat) or says the text is not a JSON object.
// Built without LAPACK (tests/CMakeLists.txt), so orthogonal and delta_orthogonal report
// Status::unsupported after their options are read: their LAPACK calls are not fuzzed here.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "paraminit/paraminit.hpp"
#include "spec.hpp"

namespace {
namespace pi = paraminit;
using paraminit_program::Opt;
using paraminit_program::Param;
using paraminit_program::Spec;
using paraminit_program::SpecError;

const char kOrigin[] = "fuzz.json";
constexpr std::uint64_t kApplyElems = 4096;

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }

// The forms spec_fail and parse_spec's own throws take: "origin: " then one of these.
void check_message(const char* what) {
  const std::string m = what;
  const std::string o = std::string(kOrigin) + ": ";
  if (!starts_with(m, o)) __builtin_trap();
  const std::string rest = m.substr(o.size());
  for (const char* p : {"parameters[\"", "seed: ", "dtype: ", "parameters: ", "repeat: ", "unknown top-level field \"",
                        "not valid JSON: ", "expected a JSON object"})
    if (starts_with(rest, p)) return;
  __builtin_trap();  // a SpecError that names neither a parameter nor a top-level field
}

// Every option reader apply() would call for p's scheme, without filling anything.
void read_options(const Spec& spec, const Param& p) {
  const Opt o{spec, p};
  for (const char* k : {"value", "low", "high", "mean", "std", "gain", "a", "scale", "sparsity", "others"}) o.num(k, 0.0);
  for (const char* k : {"fan_in", "groups", "k", "unit_axis", "batch_dims"}) o.integer(k, 0);
  for (const char* k : {"truncated", "allow_even", "centered"}) o.flag(k, false);
  for (const char* k : {"distribution", "values", "path", "activation", "kind"}) o.str(k, "");
  o.numbers("stats");
  o.numbers("variances");
  if (p.scheme != "gate_bias") o.layout();
  o.mode(pi::FanMode::fan_in);
  o.nonlinearity(pi::Nonlinearity::leaky_relu);
}

std::uint64_t numel(const Param& p) {
  for (auto e : p.shape)
    if (e == 0) return 0;
  std::uint64_t n = 1;
  for (auto e : p.shape) {
    if (static_cast<std::uint64_t>(e) > kApplyElems / n) return kApplyElems + 1;  // without overflowing
    n *= static_cast<std::uint64_t>(e);
  }
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static pi::Context ctx = pi::Context::cpu(1);
  const std::string text(reinterpret_cast<const char*>(data), size);
  Spec spec;
  try {
    spec = paraminit_program::parse_spec(text, kOrigin);
  } catch (const SpecError& e) {
    check_message(e.what());
    return 0;
  }
  std::vector<unsigned char> buf;
  for (const Param& p : spec.params) {
    try {
      const std::uint64_t n = numel(p);
      if (n <= kApplyElems) {
        buf.assign(static_cast<std::size_t>(n) * pi::dtype_size(p.dtype) + 64, 0);
        pi::TensorView v = pi::TensorView::of(buf.data(), p.dtype, {});
        v.rank = static_cast<int>(p.shape.size());
        for (int d = 0; d < v.rank; ++d) v.shape[d] = p.shape[static_cast<std::size_t>(d)];
        paraminit_program::apply(ctx, v, pi::key_for(spec.seed, p.name), spec, p);
      } else {
        read_options(spec, p);
      }
    } catch (const SpecError& e) {
      check_message(e.what());
    } catch (const pi::Error&) {
      // the library's own validation of a shape or value: allowed
    }
  }
  return 0;
}
