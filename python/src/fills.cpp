// The element-wise fills (uniform, normal, truncated normal, sparse), the constants and the
// structural fills (eye, dirac), and the biases and extra parameters.
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <optional>
#include <string>
#include <vector>

#include "common.hpp"

namespace paraminit_py {

using namespace nb::literals;

namespace {

std::optional<std::vector<double>> as_doubles(nb::handle v, const char* what) {
  if (v.is_none()) return std::nullopt;
  std::vector<double> out;
  if (!nb::try_cast(v, out))
    throw nb::type_error(("paraminit: " + std::string(what) + " must be a sequence of numbers").c_str());
  return out;
}

}  // namespace

void bind_fills(nb::module_& m) {
  m.def("uniform_",
        [](nb::handle t, double a, double b, PI_RANDOM_PARAMS) {
          const pi::Key k = key_of(seed, name, stream);
          return run(t, window, context, [&](pi::Context& c, const pi::TensorView& v) { pi::uniform(c, v, k, {a, b}); });
        },
        "t"_a.none(), "a"_a = 0.0, "b"_a = 1.0, PI_RANDOM_KW,
        "U(a, b), torch.nn.init.uniform_'s arguments.\n\n"
        "Values lie in the open interval (a, b) in every dtype. f32: center + half * w with\n"
        "center = (a + b) / 2, half = (b - a) / 2 rounded to f32, w = (2m + 1 - 2^24) 2^-24, m = word >> 8\n"
        "(2^24 equally likely points; U(-c, c) exactly symmetric). f64: 53 bits of two words. f16/bf16:\n"
        "the f32 value rounded to nearest even, kept inside the bounds. Element i takes word i % 4 of\n"
        "Philox4x32-10 call i / 4 (f64: words 2(i%2), 2(i%2)+1 of call i / 2)." PI_KEY_DOC);

  m.def("normal_",
        [](nb::handle t, double mean, double std, PI_RANDOM_PARAMS) {
          const pi::Key k = key_of(seed, name, stream);
          return run(t, window, context, [&](pi::Context& c, const pi::TensorView& v) { pi::normal(c, v, k, {mean, std}); });
        },
        "t"_a.none(), "mean"_a = 0.0, "std"_a = 1.0, PI_RANDOM_KW,
        "N(mean, std^2) by Box-Muller, torch.nn.init.normal_'s arguments.\n\n"
        "Elements (2j, 2j+1) share the radius r = sqrt(-2 ln u) and angle pi v: mean + std r cos(pi v)\n"
        "and mean + std r sin(pi v), u and v from the words of one Philox call (f64: 64 bits each).\n"
        "|z| <= 6.77 in f32/f16/bf16 and <= 9.50 in f64." PI_KEY_DOC);

  m.def("trunc_normal_",
        [](nb::handle t, double mean, double std, double a, double b, PI_RANDOM_PARAMS) {
          const pi::Key k = key_of(seed, name, stream);
          return run(t, window, context,
                     [&](pi::Context& c, const pi::TensorView& v) { pi::trunc_normal(c, v, k, {mean, std, a, b}); });
        },
        "t"_a.none(), "mean"_a = 0.0, "std"_a = 1.0, "a"_a = -2.0, "b"_a = 2.0, PI_RANDOM_KW,
        "N(mean, std^2) conditioned on [a, b] (absolute bounds, as torch.nn.init.trunc_normal_).\n\n"
        "Inverse CDF, one word per element, no rejection: x = mean + std Phi^-1(Phi(alpha) + u (Phi(beta)\n"
        "- Phi(alpha))), alpha = (a - mean) / std, beta = (b - mean) / std; accurate in far tails.\n"
        "Values lie in [a, b] in every dtype." PI_KEY_DOC);

  m.def("sparse_",
        [](nb::handle t, double sparsity, double std, PI_RANDOM_PARAMS) {
          const pi::Key k = key_of(seed, name, stream);
          return run(t, window, context,
                     [&](pi::Context& c, const pi::TensorView& v) { pi::sparse_fraction(c, v, k, sparsity, std); });
        },
        "t"_a.none(), "sparsity"_a, "std"_a = 0.01, PI_RANDOM_KW,
        "torch.nn.init.sparse_ for a 2-D tensor: in each column, ceil(sparsity * rows) zeros, the other\n"
        "entries N(0, std^2) -- sparse_k_ with unit_axis = 1 and k = rows - ceil(sparsity * rows)." PI_KEY_DOC);

  m.def("sparse_k_",
        [](nb::handle t, std::int64_t k, double std, const std::string& values, int unit_axis, PI_RANDOM_PARAMS) {
          pi::SparseOptions o;
          o.nonzeros_per_unit = k;
          o.std = std;
          o.values = pi::from_name<pi::SparseValues>(values);
          o.unit_axis = unit_axis;
          const pi::Key key = key_of(seed, name, stream);
          return run(t, window, context, [&](pi::Context& c, const pi::TensorView& v) { pi::sparse(c, v, key, o); });
        },
        "t"_a.none(), "k"_a = 15, "std"_a = 0.01, nb::kw_only(), "values"_a = "normal", "unit_axis"_a = 0, "seed"_a = nb::none(),
        "name"_a = nb::none(), "stream"_a = nb::none(), "window"_a = nb::none(), "context"_a = nb::none(),
        "Sparse initialization (Martens 2010): every unit (slice along unit_axis, the rows of a (out, in, ...)\n"
        "weight) has exactly k non-zeros among its fan-in positions, chosen by a keyed Feistel permutation\n"
        "per unit; a kept element equals the dense normal_(0, std) value (values=\"normal\") or\n"
        "uniform_(-sqrt(3) std, sqrt(3) std) value (values=\"uniform\") at that position, the rest are 0." PI_KEY_DOC);

  m.def("constant_",
        [](nb::handle t, double val, nb::handle window, nb::handle context) {
          return run(t, window, context, [&](pi::Context& c, const pi::TensorView& v) { pi::constant(c, v, val); });
        },
        "t"_a.none(), "val"_a, PI_PLAIN_KW,
        "Every element = val (f16/bf16: the f32 value rounded to nearest even)." PI_PLAIN_DOC);
  m.def("zeros_",
        [](nb::handle t, nb::handle window, nb::handle context) {
          return run(t, window, context, [&](pi::Context& c, const pi::TensorView& v) { pi::zeros(c, v); });
        },
        "t"_a.none(), PI_PLAIN_KW, "Every element = 0." PI_PLAIN_DOC);
  m.def("ones_",
        [](nb::handle t, nb::handle window, nb::handle context) {
          return run(t, window, context, [&](pi::Context& c, const pi::TensorView& v) { pi::ones(c, v); });
        },
        "t"_a.none(), PI_PLAIN_KW, "Every element = 1." PI_PLAIN_DOC);
  m.def("eye_",
        [](nb::handle t, double gain, nb::handle window, nb::handle context) {
          return run(t, window, context, [&](pi::Context& c, const pi::TensorView& v) { pi::eye(c, v, gain); });
        },
        "t"_a.none(), "gain"_a = 1.0, PI_PLAIN_KW,
        "A 2-D identity times gain: element (i, j) = gain if i == j else 0 (torch.nn.init.eye_ for\n"
        "gain 1; rectangular shapes keep min(rows, cols) ones)." PI_PLAIN_DOC);
  m.def("dirac_",
        [](nb::handle t, std::int64_t groups, double gain, nb::handle window, nb::handle context) {
          return run(t, window, context,
                     [&](pi::Context& c, const pi::TensorView& v) { pi::dirac(c, v, {groups, gain}); });
        },
        "t"_a.none(), "groups"_a = 1, nb::kw_only(), "gain"_a = 1.0, "window"_a = nb::none(), "context"_a = nb::none(),
        "torch.nn.init.dirac_ (times gain) for a (out, in, k...) convolution weight of rank 3..5: in each\n"
        "group, output channel g * out/groups + d has gain at input channel d, centre tap (k_s // 2 along\n"
        "every spatial dim), for d < min(out/groups, in); every other element 0." PI_PLAIN_DOC);

  m.def("relu_bias_",
        [](nb::handle t, double value, nb::handle window, nb::handle context) {
          return run(t, window, context, [&](pi::Context& c, const pi::TensorView& v) { pi::relu_bias(c, v, value); });
        },
        "t"_a.none(), "value"_a = pi::kReluBias, PI_PLAIN_KW,
        "The ReLU bias of Goodfellow et al. 8.4: every element = value (0.1), so units start active." PI_PLAIN_DOC);
  m.def("gate_bias_",
        [](nb::handle t, const std::string& layout, double value, double others, nb::handle window, nb::handle context) {
          const pi::GateBiasOptions o{pi::from_name<pi::GateLayout>(layout), value, others};
          return run(t, window, context, [&](pi::Context& c, const pi::TensorView& v) { pi::gate_bias(c, v, o); });
        },
        "t"_a.none(), "layout"_a = "torch_lstm", "value"_a = 1.0, "others"_a = 0.0, PI_PLAIN_KW,
        "The forget-gate bias (Gers et al. 2000, Jozefowicz et al. 2015) in a gate-stacked bias whose last\n"
        "dimension is blocks x hidden: the forget block (LSTM) or update block z (GRU) = value, every other\n"
        "block = others. layout: torch_lstm (i, f, g, o), torch_gru (r, z, n), keras_lstm (i, f, c, o),\n"
        "keras_gru (z, r, h), cudnn_lstm (i, f, c, o, i', f', c', o'), cudnn_gru (r, z, n, r', z', n');\n"
        "in cuDNN's layouts only the first forget/update block gets value." PI_PLAIN_DOC);
  m.def("output_bias_",
        [](nb::handle t, nb::handle stats, const std::string& activation, bool centered, nb::handle window,
           nb::handle context) {
          const std::optional<std::vector<double>> s = as_doubles(stats, "stats");
          if (!s) throw nb::type_error("paraminit: output_bias_ needs stats (one value per element)");
          const pi::OutputBiasOptions o{pi::from_name<pi::OutputActivation>(activation), centered};
          return run(t, window, context, [&](pi::Context& c, const pi::TensorView& v) {
            pi::output_bias(c, v, s->data(), static_cast<std::int64_t>(s->size()), o);
          });
        },
        "t"_a.none(), "stats"_a, "activation"_a = "softmax", "centered"_a = false, PI_PLAIN_KW,
        "Output biases from the training set's marginals (Goodfellow et al. 8.4), so the untrained net\n"
        "predicts them: softmax: b_k = log p_k (centered: log p_k - mean_j log p_j), p summing to 1;\n"
        "sigmoid: b_k = log(p_k / (1 - p_k)); identity: b_k = stats[k]. stats: one value per element of\n"
        "the whole parameter (a window writes its part). Computed in double, rounded like constant_." PI_PLAIN_DOC);
  m.def("variance_parameter_",
        [](nb::handle t, const std::string& kind, nb::handle variances, nb::handle window, nb::handle context) {
          const std::optional<std::vector<double>> var = as_doubles(variances, "variances");
          const pi::ScaleParameter k = pi::from_name<pi::ScaleParameter>(kind);
          return run(t, window, context, [&](pi::Context& c, const pi::TensorView& v) {
            pi::variance_parameter(c, v, k, var ? var->data() : nullptr, var ? static_cast<std::int64_t>(var->size()) : 0);
          });
        },
        "t"_a.none(), "kind"_a = "variance", "variances"_a = nb::none(), PI_PLAIN_KW,
        "Variance-like extra parameters (Goodfellow et al. 8.4): each element from a variance v (1, or\n"
        "variances[k], one per element of the whole parameter) stored as kind: variance v, precision\n"
        "1/v, std sqrt(v), log_variance log v, log_std log(v)/2." PI_PLAIN_DOC);
}

}  // namespace paraminit_py
