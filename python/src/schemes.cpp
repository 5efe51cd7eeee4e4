// The fan-based schemes (LeCun, Glorot/Xavier, He/Kaiming, variance scaling, fan_in_uniform), the
// orthogonal family, and the host helpers calculate_gain / quadrature_gain / compute_fans.
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>

#include <optional>
#include <string>
#include <tuple>

#include "common.hpp"

namespace paraminit_py {

using namespace nb::literals;

#define PI_FAN_DOC                                                                                     \
  "\nlayout: \"torch\" ((out, in, k...): fan_in = in * prod(k), fan_out = out * prod(k)), \"jax\"\n"  \
  "((..., in, out)), or (in_axis, out_axis[, batch_axes]). The scheme runs the uniform / normal /\n"  \
  "truncated normal fill with the same key: its bits at its speed."

namespace {

pi::TensorView shape_view(nb::handle shape_or_tensor) {
  nb::handle src = shape_or_tensor;
  nb::object shape;
  if (nb::hasattr(src, "shape")) {
    shape = src.attr("shape");
    src = shape;
  }
  PyObject* seq = PySequence_Fast(src.ptr(), "");
  if (seq == nullptr) {
    PyErr_Clear();
    throw nb::type_error("paraminit: compute_fans expects a shape (a sequence of ints) or a tensor");
  }
  nb::object owned = nb::steal(seq);
  const Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
  pi::TensorView v;
  v.rank = static_cast<int>(n > pi::kMaxRank + 1 ? pi::kMaxRank + 1 : n);  // the library reports rank > 8
  for (Py_ssize_t d = 0; d < n && d < pi::kMaxRank; ++d) v.shape[d] = to_i64(PySequence_Fast_GET_ITEM(seq, d), "extent");
  return v;
}

pi::Nonlinearity nonlinearity_of(const std::string& s) { return pi::from_name<pi::Nonlinearity>(s); }

}  // namespace

void bind_schemes(nb::module_& m) {
  m.def("lecun_uniform_",
        [](nb::handle t, nb::handle layout, PI_RANDOM_PARAMS) {
          const pi::LecunOptions o{false, layout_of(layout)};
          const pi::Key k = key_of(seed, name, stream);
          return run(t, window, context, [&](pi::Context& c, const pi::TensorView& v) { pi::lecun_uniform(c, v, k, o); });
        },
        "t"_a.none(), nb::kw_only(), "layout"_a = "torch", PI_RANDOM_KW_NAMES,
        "LeCun 1998 (JAX's lecun_uniform): U(-sqrt(3 / fan_in), sqrt(3 / fan_in))." PI_FAN_DOC PI_KEY_DOC);
  m.def("lecun_normal_",
        [](nb::handle t, bool truncated, nb::handle layout, PI_RANDOM_PARAMS) {
          const pi::LecunOptions o{truncated, layout_of(layout)};
          const pi::Key k = key_of(seed, name, stream);
          return run(t, window, context, [&](pi::Context& c, const pi::TensorView& v) { pi::lecun_normal(c, v, k, o); });
        },
        "t"_a.none(), nb::kw_only(), "truncated"_a = false, "layout"_a = "torch", PI_RANDOM_KW_NAMES,
        "N(0, 1 / fan_in); truncated=True: JAX's / Keras's lecun_normal, N(0, s^2) on [-2 s, 2 s] with\n"
        "s = sqrt(1 / fan_in) / 0.87962566103423978 (std sqrt(1 / fan_in))." PI_FAN_DOC PI_KEY_DOC);

  m.def("xavier_uniform_",
        [](nb::handle t, double gain, nb::handle layout, PI_RANDOM_PARAMS) {
          const pi::GlorotOptions o{gain, false, layout_of(layout)};
          const pi::Key k = key_of(seed, name, stream);
          return run(t, window, context, [&](pi::Context& c, const pi::TensorView& v) { pi::glorot_uniform(c, v, k, o); });
        },
        "t"_a.none(), "gain"_a = 1.0, nb::kw_only(), "layout"_a = "torch", PI_RANDOM_KW_NAMES,
        "Glorot & Bengio 2010, torch.nn.init.xavier_uniform_: U(-a, a), a = gain sqrt(6 / (fan_in + fan_out))."
        PI_FAN_DOC PI_KEY_DOC);
  m.def("xavier_normal_",
        [](nb::handle t, double gain, bool truncated, nb::handle layout, PI_RANDOM_PARAMS) {
          const pi::GlorotOptions o{gain, truncated, layout_of(layout)};
          const pi::Key k = key_of(seed, name, stream);
          return run(t, window, context, [&](pi::Context& c, const pi::TensorView& v) { pi::glorot_normal(c, v, k, o); });
        },
        "t"_a.none(), "gain"_a = 1.0, nb::kw_only(), "truncated"_a = false, "layout"_a = "torch", PI_RANDOM_KW_NAMES,
        "torch.nn.init.xavier_normal_: N(0, gain^2 2 / (fan_in + fan_out)); truncated=True: JAX's\n"
        "glorot_normal (the truncated normal of variance_scaling_ with scale gain^2, mode fan_avg)."
        PI_FAN_DOC PI_KEY_DOC);

  m.def("kaiming_uniform_",
        [](nb::handle t, double a, const std::string& mode, const std::string& nonlinearity, nb::handle layout,
           PI_RANDOM_PARAMS) {
          pi::HeOptions o;
          o.negative_slope = a;
          o.mode = pi::from_name<pi::FanMode>(mode);
          o.nonlinearity = nonlinearity_of(nonlinearity);
          o.fans = layout_of(layout);
          const pi::Key k = key_of(seed, name, stream);
          return run(t, window, context, [&](pi::Context& c, const pi::TensorView& v) { pi::he_uniform(c, v, k, o); });
        },
        "t"_a.none(), "a"_a = 0.0, "mode"_a = "fan_in", "nonlinearity"_a = "leaky_relu", nb::kw_only(), "layout"_a = "torch",
        PI_RANDOM_KW_NAMES,
        "He et al. 2015, torch.nn.init.kaiming_uniform_: U(-b, b), b = gain sqrt(3 / fan), fan = fan_in or\n"
        "fan_out (mode), gain = calculate_gain(nonlinearity, a) (leaky_relu: sqrt(2 / (1 + a^2))). With\n"
        "a = sqrt(5) it is PyTorch's default Linear/Conv weight init, U(-1/sqrt(fan_in), 1/sqrt(fan_in))."
        PI_FAN_DOC PI_KEY_DOC);
  m.def("kaiming_normal_",
        [](nb::handle t, double a, const std::string& mode, const std::string& nonlinearity, bool truncated,
           nb::handle layout, PI_RANDOM_PARAMS) {
          pi::HeOptions o;
          o.negative_slope = a;
          o.mode = pi::from_name<pi::FanMode>(mode);
          o.nonlinearity = nonlinearity_of(nonlinearity);
          o.truncated = truncated;
          o.fans = layout_of(layout);
          const pi::Key k = key_of(seed, name, stream);
          return run(t, window, context, [&](pi::Context& c, const pi::TensorView& v) { pi::he_normal(c, v, k, o); });
        },
        "t"_a.none(), "a"_a = 0.0, "mode"_a = "fan_in", "nonlinearity"_a = "leaky_relu", nb::kw_only(), "truncated"_a = false,
        "layout"_a = "torch", PI_RANDOM_KW_NAMES,
        "torch.nn.init.kaiming_normal_: N(0, gain^2 / fan), gain = calculate_gain(nonlinearity, a);\n"
        "truncated=True: JAX's he_normal (variance_scaling_'s truncated normal, scale gain^2)."
        PI_FAN_DOC PI_KEY_DOC);

  m.def("variance_scaling_",
        [](nb::handle t, double scale, const std::string& mode, const std::string& distribution, nb::handle layout,
           PI_RANDOM_PARAMS) {
          pi::VarianceScalingOptions o;
          o.scale = scale;
          o.mode = pi::from_name<pi::FanMode>(mode);
          o.distribution = pi::from_name<pi::Distribution>(distribution);
          o.fans = layout_of(layout);
          const pi::Key k = key_of(seed, name, stream);
          return run(t, window, context, [&](pi::Context& c, const pi::TensorView& v) { pi::variance_scaling(c, v, k, o); });
        },
        "t"_a.none(), "scale"_a = 1.0, "mode"_a = "fan_in", "distribution"_a = "truncated_normal", nb::kw_only(),
        "layout"_a = "torch", PI_RANDOM_KW_NAMES,
        "jax.nn.initializers.variance_scaling: v = scale / n, n = fan_in, fan_out or (fan_in + fan_out) / 2\n"
        "(mode fan_in, fan_out, fan_avg); uniform: U(-sqrt(3 v), sqrt(3 v)); normal: N(0, v);\n"
        "truncated_normal: N(0, s^2) on [-2 s, 2 s], s = sqrt(v) / 0.87962566103423978 (std sqrt(v))."
        PI_FAN_DOC PI_KEY_DOC);

  m.def("fan_in_uniform_",
        [](nb::handle t, nb::handle fan_in, nb::handle layout, PI_RANDOM_PARAMS) {
          pi::FanInUniformOptions o;
          if (!fan_in.is_none()) {
            o.fan_in = to_i64(fan_in, "fan_in");
            if (o.fan_in <= 0)
              throw nb::value_error(("paraminit: fan_in = " + std::to_string(o.fan_in) +
                                     " must be > 0 (None: the fan_in of the tensor's shape)").c_str());
          }
          o.fans = layout_of(layout);
          const pi::Key k = key_of(seed, name, stream);
          return run(t, window, context, [&](pi::Context& c, const pi::TensorView& v) { pi::fan_in_uniform(c, v, k, o); });
        },
        "t"_a.none(), "fan_in"_a = nb::none(), nb::kw_only(), "layout"_a = "torch", PI_RANDOM_KW_NAMES,
        "U(-1/sqrt(m), 1/sqrt(m)), m = fan_in (Goodfellow et al. 8.4): PyTorch's default init of Linear and\n"
        "Conv weights and, given the weight's fan_in, of their biases (then t may have any rank)."
        PI_FAN_DOC PI_KEY_DOC);

  m.def("orthogonal_",
        [](nb::handle t, double gain, const std::string& path, int batch_dims, PI_RANDOM_PARAMS) {
          pi::OrthogonalOptions o;
          o.gain = gain;
          o.path = pi::from_name<pi::OrthogonalPath>(path);
          o.batch_dims = batch_dims;
          const pi::Key k = key_of(seed, name, stream);
          return run(t, window, context, [&](pi::Context& c, const pi::TensorView& v) { pi::orthogonal(c, v, k, o); });
        },
        "t"_a.none(), "gain"_a = 1.0, nb::kw_only(), "path"_a = "automatic", "batch_dims"_a = 0, PI_RANDOM_KW_NAMES,
        "Saxe et al. 2013, torch.nn.init.orthogonal_ semantics: rows = dim 0, cols = the product of the\n"
        "others; G ~ N(0, 1) (rows x cols) drawn with normal_ in f32 (f64 for f64 tensors); Q R = G (or G^T\n"
        "when rows < cols); Q's columns times sign(diag(R)) (Haar); the result gain * Q (transposed back).\n"
        "batch_dims leading dims index independent matrices (stream batch_stream(stream, k)). path:\n"
        "automatic, householder, cholesky_qr, cholesky_qr2. A window computes the whole Q and keeps its\n"
        "part (the cost of the whole factorization on every shard). CPU and GPU agree to a tolerance,\n"
        "not bitwise; a CUDA call synchronizes its stream." PI_KEY_DOC);
  m.def("delta_orthogonal_",
        [](nb::handle t, double gain, bool allow_even, const std::string& path, PI_RANDOM_PARAMS) {
          const pi::DeltaOrthogonalOptions o{gain, allow_even, pi::from_name<pi::OrthogonalPath>(path)};
          const pi::Key k = key_of(seed, name, stream);
          return run(t, window, context,
                     [&](pi::Context& c, const pi::TensorView& v) { pi::delta_orthogonal(c, v, k, o); });
        },
        "t"_a.none(), "gain"_a = 1.0, nb::kw_only(), "allow_even"_a = false, "path"_a = "automatic", PI_RANDOM_KW_NAMES,
        "Delta-orthogonal (Xiao et al. 2018) for a (out, in, k...) convolution weight, in <= out: every tap 0\n"
        "except the centre one (k_s // 2), which is gain * orthogonal_ of the (out, in) matrix. Even kernel\n"
        "sizes need allow_even=True." PI_KEY_DOC);
  m.def("orthogonalize_",
        [](nb::handle t, double gain, const std::string& path, nb::handle context) {
          const pi::OrthogonalPath p = pi::from_name<pi::OrthogonalPath>(path);
          return run(t, nb::none(), context, [&](pi::Context& c, const pi::TensorView& v) { pi::orthogonalize(c, v, gain, p); });
        },
        "t"_a.none(), "gain"_a = 1.0, nb::kw_only(), "path"_a = "automatic", "context"_a = nb::none(),
        "Replaces the weight W (rows = dim 0, cols = the rest) by gain * Q of W = Q R with diag(R) > 0\n"
        "(Gram-Schmidt of W's columns, or rows when rows < cols), in f64. ValueError for a numerically\n"
        "rank-deficient W. Fills t in place and returns it.");

  m.def("calculate_gain",
        [](const std::string& nonlinearity, std::optional<double> param) {
          return pi::calculate_gain(nonlinearity_of(nonlinearity), param);
        },
        "nonlinearity"_a, "param"_a = nb::none(),
        "torch.nn.init.calculate_gain where PyTorch defines it (linear/conv* 1, sigmoid 1, tanh 5/3, relu\n"
        "sqrt(2), leaky_relu sqrt(2 / (1 + slope^2)) with slope 0.01 by default, selu 3/4); for the other\n"
        "activations (elu, gelu, silu, mish, ...) quadrature_gain. param: leaky_relu's negative slope,\n"
        "elu/celu's alpha, softplus's beta; ValueError for an activation that has none.");
  m.def("quadrature_gain",
        [](const std::string& nonlinearity, std::optional<double> param) {
          return pi::quadrature_gain(nonlinearity_of(nonlinearity), param);
        },
        "nonlinearity"_a, "param"_a = nb::none(),
        "1 / sqrt(E[f(z)^2]) for z ~ N(0, 1), by Gauss-Legendre quadrature (accurate to ~1e-13).");
  m.def("compute_fans",
        [](nb::handle shape_or_tensor, nb::handle layout) {
          const pi::Fans f = pi::compute_fans(shape_view(shape_or_tensor), layout_of(layout));
          return std::make_tuple(f.fan_in, f.fan_out);
        },
        "shape_or_tensor"_a, "layout"_a = "torch",
        "(fan_in, fan_out) of a weight shape: fan_in = extent(in_axis) * receptive field, fan_out =\n"
        "extent(out_axis) * receptive field, the receptive field being the product of the other\n"
        "(non-batch) extents. layout \"torch\": (out, in, k...); \"jax\": (..., in, out); or\n"
        "(in_axis, out_axis[, batch_axes]). ValueError for rank < 2.");
}

}  // namespace paraminit_py
