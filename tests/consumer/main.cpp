// Uses the installed headers only: no kernels/, no nlohmann_json, no C++ standard set by this project.
#include <paraminit/calibrate.hpp>
#include <paraminit/paraminit.h>
#include <paraminit/paraminit.hpp>
#include <paraminit/safetensors.hpp>
#include <paraminit/version.hpp>

#include <cstring>
#include <optional>

static_assert(PARAMINIT_VERSION_MAJOR >= 0 && PARAMINIT_VERSION_MINOR >= 0 && PARAMINIT_VERSION_PATCH >= 0, "version macros");

int main() {
  float w[64];
  paraminit::Context ctx = paraminit::Context::cpu(1);
  paraminit::uniform(ctx, paraminit::TensorView::of(w, paraminit::DType::f32, {8, 8}), paraminit::key_for(1, "w"), {-1, 1});
  for (float v : w)
    if (!(v > -1 && v < 1)) return 1;
  if (std::strcmp(pi_version(), PARAMINIT_VERSION_STRING) != 0) return 2;  // headers and library agree
  if (paraminit::from_name<paraminit::Nonlinearity>("relu") != paraminit::Nonlinearity::relu) return 3;
  std::optional<double> none;  // C++17 in the consumer, from target_compile_features
  return paraminit::calculate_gain(paraminit::Nonlinearity::leaky_relu, none) > 1 ? 0 : 4;
}
