// Names of the public enums: to_string and from_name<E> (include/paraminit/paraminit.hpp), one table
// per enum. The tables list every enumerator in value order; the names are the C++ spellings.
#include <string>
#include <string_view>

#include "internal.hpp"

namespace paraminit {
namespace detail {
namespace {

template <class E>
struct Name {
  const char* name;
  E value;
};

// What each enum is called in messages, its names, and its aliases (accepted by from_name only).
template <class E>
struct Names;

template <>
struct Names<Status> {
  static constexpr const char* kind = "status";
  static constexpr Name<Status> names[] = {
      {"ok", Status::ok},         {"invalid_argument", Status::invalid_argument}, {"unsupported", Status::unsupported},
      {"device", Status::device}, {"out_of_memory", Status::out_of_memory},       {"numerical", Status::numerical},
      {"io", Status::io},         {"internal", Status::internal}};
  static constexpr Name<Status> aliases[] = {{nullptr, Status::ok}};
};

template <>
struct Names<DType> {
  static constexpr const char* kind = "dtype";
  static constexpr Name<DType> names[] = {{"f32", DType::f32}, {"f64", DType::f64}, {"f16", DType::f16}, {"bf16", DType::bf16}};
  static constexpr Name<DType> aliases[] = {{nullptr, DType::f32}};
};

template <>
struct Names<Nonlinearity> {
  static constexpr const char* kind = "nonlinearity";
  static constexpr Name<Nonlinearity> names[] = {
      {"linear", Nonlinearity::linear},
      {"conv1d", Nonlinearity::conv1d},
      {"conv2d", Nonlinearity::conv2d},
      {"conv3d", Nonlinearity::conv3d},
      {"conv_transpose1d", Nonlinearity::conv_transpose1d},
      {"conv_transpose2d", Nonlinearity::conv_transpose2d},
      {"conv_transpose3d", Nonlinearity::conv_transpose3d},
      {"sigmoid", Nonlinearity::sigmoid},
      {"tanh", Nonlinearity::tanh},
      {"relu", Nonlinearity::relu},
      {"leaky_relu", Nonlinearity::leaky_relu},
      {"selu", Nonlinearity::selu},
      {"elu", Nonlinearity::elu},
      {"celu", Nonlinearity::celu},
      {"gelu", Nonlinearity::gelu},
      {"gelu_tanh", Nonlinearity::gelu_tanh},
      {"silu", Nonlinearity::silu},
      {"mish", Nonlinearity::mish},
      {"softplus", Nonlinearity::softplus},
      {"softsign", Nonlinearity::softsign},
      {"hardtanh", Nonlinearity::hardtanh},
      {"relu6", Nonlinearity::relu6},
      {"hardswish", Nonlinearity::hardswish},
      {"hardsigmoid", Nonlinearity::hardsigmoid},
  };
  static constexpr Name<Nonlinearity> aliases[] = {
      {"identity", Nonlinearity::linear}, {"swish", Nonlinearity::silu}, {"gelu_erf", Nonlinearity::gelu}};
};

template <>
struct Names<FanMode> {
  static constexpr const char* kind = "fan mode";
  static constexpr Name<FanMode> names[] = {{"fan_in", FanMode::fan_in}, {"fan_out", FanMode::fan_out}, {"fan_avg", FanMode::fan_avg}};
  static constexpr Name<FanMode> aliases[] = {{nullptr, FanMode::fan_in}};
};

template <>
struct Names<Distribution> {
  static constexpr const char* kind = "distribution";
  static constexpr Name<Distribution> names[] = {
      {"uniform", Distribution::uniform}, {"normal", Distribution::normal}, {"truncated_normal", Distribution::truncated_normal}};
  static constexpr Name<Distribution> aliases[] = {{nullptr, Distribution::uniform}};
};

template <>
struct Names<SparseValues> {
  static constexpr const char* kind = "sparse values";
  static constexpr Name<SparseValues> names[] = {{"normal", SparseValues::normal}, {"uniform", SparseValues::uniform}};
  static constexpr Name<SparseValues> aliases[] = {{nullptr, SparseValues::normal}};
};

template <>
struct Names<GateLayout> {
  static constexpr const char* kind = "gate layout";
  static constexpr Name<GateLayout> names[] = {{"torch_lstm", GateLayout::torch_lstm}, {"torch_gru", GateLayout::torch_gru},
                                               {"keras_lstm", GateLayout::keras_lstm}, {"keras_gru", GateLayout::keras_gru},
                                               {"cudnn_lstm", GateLayout::cudnn_lstm}, {"cudnn_gru", GateLayout::cudnn_gru}};
  static constexpr Name<GateLayout> aliases[] = {{nullptr, GateLayout::torch_lstm}};
};

template <>
struct Names<OutputActivation> {
  static constexpr const char* kind = "output activation";
  static constexpr Name<OutputActivation> names[] = {
      {"softmax", OutputActivation::softmax}, {"sigmoid", OutputActivation::sigmoid}, {"identity", OutputActivation::identity}};
  static constexpr Name<OutputActivation> aliases[] = {{nullptr, OutputActivation::softmax}};
};

template <>
struct Names<ScaleParameter> {
  static constexpr const char* kind = "scale parameter";
  static constexpr Name<ScaleParameter> names[] = {{"variance", ScaleParameter::variance},
                                                   {"precision", ScaleParameter::precision},
                                                   {"std", ScaleParameter::std},
                                                   {"log_variance", ScaleParameter::log_variance},
                                                   {"log_std", ScaleParameter::log_std}};
  static constexpr Name<ScaleParameter> aliases[] = {{nullptr, ScaleParameter::variance}};
};

template <>
struct Names<OrthogonalPath> {
  static constexpr const char* kind = "orthogonal path";
  static constexpr Name<OrthogonalPath> names[] = {{"automatic", OrthogonalPath::automatic},
                                                   {"householder", OrthogonalPath::householder},
                                                   {"cholesky_qr", OrthogonalPath::cholesky_qr},
                                                   {"cholesky_qr2", OrthogonalPath::cholesky_qr2}};
  static constexpr Name<OrthogonalPath> aliases[] = {{nullptr, OrthogonalPath::automatic}};
};

template <class E>
const char* name_of(E e) noexcept {
  for (const auto& n : Names<E>::names)
    if (n.value == e) return n.name;
  return "unknown";
}

template <class E>
E parse(std::string_view name, const char* type) {
  for (const auto& n : Names<E>::names)
    if (name == n.name) return n.value;
  std::string aliases;
  for (const auto& n : Names<E>::aliases)
    if (n.name != nullptr) {
      if (name == n.name) return n.value;
      aliases += std::string(aliases.empty() ? "" : ", ") + n.name;
    }
  std::string valid;
  for (const auto& n : Names<E>::names) valid += std::string(valid.empty() ? "" : ", ") + n.name;
  fail(Status::invalid_argument, std::string("paraminit::from_name<paraminit::") + type + ">: unknown " + Names<E>::kind + " \"" +
                                     std::string(name) + "\" (valid: " + valid + (aliases.empty() ? "" : "; aliases: " + aliases) + ")");
}

}  // namespace
}  // namespace detail

#define PARAMINIT_NAMES(E)                                                           \
  const char* to_string(E e) noexcept { return detail::name_of(e); }               \
  template <>                                                                        \
  E from_name<E>(std::string_view name) {                                            \
    return detail::parse<E>(name, #E);                                               \
  }

PARAMINIT_NAMES(Status)
PARAMINIT_NAMES(DType)
PARAMINIT_NAMES(Nonlinearity)
PARAMINIT_NAMES(FanMode)
PARAMINIT_NAMES(Distribution)
PARAMINIT_NAMES(SparseValues)
PARAMINIT_NAMES(GateLayout)
PARAMINIT_NAMES(OutputActivation)
PARAMINIT_NAMES(ScaleParameter)
PARAMINIT_NAMES(OrthogonalPath)

#undef PARAMINIT_NAMES

}  // namespace paraminit
