// The C API: a thin edge over the C++ API that turns exceptions into status codes and keeps the
// message in a thread-local buffer.
#include <cmath>
#include <cstring>
#include <new>
#include <optional>
#include <string>

#include "internal.hpp"
#include "paraminit/paraminit.h"
#include "paraminit/version.hpp"

struct pi_context {
  paraminit::Context ctx;
};

namespace {

thread_local std::string g_last_error;

pi_status set_error(pi_status s, const char* msg) {
  g_last_error = msg;
  return s;
}

// Runs f; maps paraminit::Error to its status, std::bad_alloc to PI_ERR_OUT_OF_MEMORY and
// anything else to PI_ERR_INTERNAL. Clears the message on success.
template <class F>
pi_status guarded(F&& f) noexcept {
  try {
    f();
    g_last_error.clear();
    return PI_OK;
  } catch (const paraminit::Error& e) {
    return set_error(static_cast<pi_status>(e.code()), e.what());
  } catch (const std::bad_alloc&) {
    return set_error(PI_ERR_OUT_OF_MEMORY, "paraminit: out of host memory");
  } catch (const std::exception& e) {
    return set_error(PI_ERR_INTERNAL, e.what());
  } catch (...) {
    return set_error(PI_ERR_INTERNAL, "paraminit: unknown internal error");
  }
}

paraminit::TensorView convert(const pi_tensor& t) {
  paraminit::TensorView v;
  v.data = t.data;
  v.dtype = static_cast<paraminit::DType>(t.dtype);
  v.rank = t.rank;
  for (int d = 0; d < paraminit::kMaxRank; ++d) v.shape[d] = t.shape[d];
  v.window_dim = t.window_dim;
  v.window_start = t.window_start;
  v.global_extent = t.global_extent;
  return v;
}

// Checks the C-only parts (null pointers) and converts the view.
paraminit::TensorView to_view(const char* fn, pi_context* ctx, const pi_tensor* t) {
  using paraminit::detail::fail;
  using paraminit::Status;
  if (ctx == nullptr) fail(Status::invalid_argument, std::string(fn) + ": ctx is NULL");
  if (t == nullptr) fail(Status::invalid_argument, std::string(fn) + ": tensor is NULL");
  return convert(*t);
}

paraminit::Key to_key(pi_key k) { return paraminit::Key{k.seed, k.stream}; }

paraminit::FanLayout to_layout(const pi_fan_layout* l) {
  paraminit::FanLayout f;
  if (l == nullptr) return f;
  f.in_axis = l->in_axis;
  f.out_axis = l->out_axis;
  f.num_batch_axes = l->num_batch_axes;
  for (int k = 0; k < paraminit::kMaxRank; ++k) f.batch_axes[k] = l->batch_axes[k];
  return f;
}

pi_fan_layout from_layout(const paraminit::FanLayout& f) {
  pi_fan_layout l;
  std::memset(&l, 0, sizeof l);
  l.in_axis = f.in_axis;
  l.out_axis = f.out_axis;
  l.num_batch_axes = f.num_batch_axes;
  return l;
}

paraminit::Nonlinearity to_nonlinearity(const char* fn, const char* name) {
  if (name == nullptr)
    paraminit::detail::fail(paraminit::Status::invalid_argument, std::string(fn) + ": nonlinearity is NULL");
  return paraminit::from_name<paraminit::Nonlinearity>(name);
}

void require_out(const char* fn, const void* p, const char* what) {
  if (p == nullptr)
    paraminit::detail::fail(paraminit::Status::invalid_argument, std::string(fn) + ": " + what + " is NULL");
}

// A C enum value as the C++ enum of the same numbering; a value that is no enumerator is an error
// (C lets any int through).
static_assert(static_cast<int>(paraminit::SparseValues::uniform) == PI_SPARSE_UNIFORM &&
                  static_cast<int>(paraminit::OrthogonalPath::cholesky_qr2) == PI_ORTHO_CHOLESKY_QR2 &&
                  static_cast<int>(paraminit::OrthogonalPath::householder) == PI_ORTHO_HOUSEHOLDER,
              "the C enums number their values as the C++ ones");

template <class E, class C>
E to_enum(const char* fn, const char* what, C value) {
  const E e = static_cast<E>(static_cast<int>(value));
  if (std::string(paraminit::to_string(e)) == "unknown")
    paraminit::detail::fail(paraminit::Status::invalid_argument,
                            std::string(fn) + ": " + what + " = " + std::to_string(static_cast<int>(value)) + " is not a valid value");
  return e;
}

void put_info(pi_orthogonal_info* out, const paraminit::OrthogonalInfo& info) {
  if (out == nullptr) return;
  out->path = static_cast<pi_orthogonal_path>(info.path);
  out->cholesky_passes = info.cholesky_passes;
  out->orthogonality_error = info.orthogonality_error;
}

// The C API's "no parameter": NAN (C has no optional).
std::optional<double> c_param(double p) { return std::isnan(p) ? std::nullopt : std::optional<double>(p); }

paraminit::HeOptions he_options(const char* fn, double negative_slope, pi_fan_mode mode, const char* nonlinearity,
                                int32_t truncated, const pi_fan_layout* layout) {
  paraminit::HeOptions o;
  o.negative_slope = negative_slope;
  o.mode = static_cast<paraminit::FanMode>(mode);
  o.nonlinearity = nonlinearity == nullptr ? paraminit::Nonlinearity::leaky_relu : to_nonlinearity(fn, nonlinearity);
  o.truncated = truncated != 0;
  o.fans = to_layout(layout);
  return o;
}

}  // namespace

extern "C" {

const char* pi_last_error(void) { return g_last_error.c_str(); }

const char* pi_status_string(pi_status s) {
  switch (s) {
    case PI_OK: return "PI_OK";
    case PI_ERR_INVALID_ARGUMENT: return "PI_ERR_INVALID_ARGUMENT";
    case PI_ERR_UNSUPPORTED: return "PI_ERR_UNSUPPORTED";
    case PI_ERR_DEVICE: return "PI_ERR_DEVICE";
    case PI_ERR_OUT_OF_MEMORY: return "PI_ERR_OUT_OF_MEMORY";
    case PI_ERR_NUMERICAL: return "PI_ERR_NUMERICAL";
    case PI_ERR_IO: return "PI_ERR_IO";
    case PI_ERR_INTERNAL: return "PI_ERR_INTERNAL";
  }
  return "PI_UNKNOWN_STATUS";
}

pi_status pi_context_create_cpu(int32_t threads, pi_context** out) {
  return guarded([&] {
    if (out == nullptr)
      paraminit::detail::fail(paraminit::Status::invalid_argument, "pi_context_create_cpu: out is NULL");
    *out = nullptr;
    *out = new pi_context{paraminit::Context::cpu(threads)};
  });
}

pi_status pi_context_create_cuda(int32_t device, void* cuda_stream, pi_context** out) {
  return guarded([&] {
    if (out == nullptr)
      paraminit::detail::fail(paraminit::Status::invalid_argument, "pi_context_create_cuda: out is NULL");
    *out = nullptr;
    *out = new pi_context{paraminit::Context::cuda(device, cuda_stream)};
  });
}

void pi_context_destroy(pi_context* ctx) { delete ctx; }

const char* pi_version(void) { return PARAMINIT_VERSION_STRING; }

pi_status pi_context_set_stream(pi_context* ctx, void* cuda_stream) {
  return guarded([&] {
    if (ctx == nullptr) paraminit::detail::fail(paraminit::Status::invalid_argument, "pi_context_set_stream: ctx is NULL");
    if (!ctx->ctx.is_cuda())
      paraminit::detail::fail(paraminit::Status::invalid_argument, "pi_context_set_stream: a CPU context has no stream");
    ctx->ctx.set_stream(cuda_stream);
  });
}

pi_status pi_constant(pi_context* ctx, const pi_tensor* t, double value) {
  return guarded([&] {
    const auto v = to_view("pi_constant", ctx, t);
    paraminit::constant(ctx->ctx, v, value);
  });
}

pi_status pi_uniform(pi_context* ctx, const pi_tensor* t, pi_key key, double low, double high) {
  return guarded([&] {
    const auto v = to_view("pi_uniform", ctx, t);
    paraminit::uniform(ctx->ctx, v, to_key(key), {low, high});
  });
}

pi_status pi_normal(pi_context* ctx, const pi_tensor* t, pi_key key, double mean, double std) {
  return guarded([&] {
    const auto v = to_view("pi_normal", ctx, t);
    paraminit::normal(ctx->ctx, v, to_key(key), {mean, std});
  });
}

pi_status pi_trunc_normal(pi_context* ctx, const pi_tensor* t, pi_key key, double mean, double std,
                          double low, double high) {
  return guarded([&] {
    const auto v = to_view("pi_trunc_normal", ctx, t);
    paraminit::trunc_normal(ctx->ctx, v, to_key(key), {mean, std, low, high});
  });
}

pi_status pi_sparse(pi_context* ctx, const pi_tensor* t, pi_key key, int64_t nonzeros_per_unit, double std) {
  return pi_sparse_ex(ctx, t, key, nonzeros_per_unit, std, PI_SPARSE_NORMAL, 0);
}

pi_status pi_sparse_ex(pi_context* ctx, const pi_tensor* t, pi_key key, int64_t nonzeros_per_unit, double std,
                       pi_sparse_values values, int32_t unit_axis) {
  return guarded([&] {
    const auto v = to_view("pi_sparse", ctx, t);
    paraminit::SparseOptions o;
    o.nonzeros_per_unit = nonzeros_per_unit;
    o.std = std;
    o.values = to_enum<paraminit::SparseValues>("pi_sparse", "values", values);
    o.unit_axis = unit_axis;
    paraminit::sparse(ctx->ctx, v, to_key(key), o);
  });
}

pi_status pi_sparse_fraction(pi_context* ctx, const pi_tensor* t, pi_key key, double sparsity, double std) {
  return guarded([&] {
    const auto v = to_view("pi_sparse_fraction", ctx, t);
    paraminit::sparse_fraction(ctx->ctx, v, to_key(key), sparsity, std);
  });
}

pi_fan_layout pi_fan_layout_torch(void) { return from_layout(paraminit::FanLayout::torch()); }
pi_fan_layout pi_fan_layout_jax(void) { return from_layout(paraminit::FanLayout::jax()); }

pi_status pi_compute_fans(const pi_tensor* t, const pi_fan_layout* layout, int64_t* fan_in, int64_t* fan_out,
                          int64_t* receptive_field) {
  return guarded([&] {
    require_out("pi_compute_fans", t, "tensor");
    const paraminit::Fans f = paraminit::compute_fans(convert(*t), to_layout(layout));
    if (fan_in) *fan_in = f.fan_in;
    if (fan_out) *fan_out = f.fan_out;
    if (receptive_field) *receptive_field = f.receptive_field;
  });
}

pi_status pi_calculate_gain(const char* nonlinearity, double param, double* gain) {
  return guarded([&] {
    require_out("pi_calculate_gain", gain, "gain");
    *gain = paraminit::calculate_gain(to_nonlinearity("pi_calculate_gain", nonlinearity), c_param(param));
  });
}

pi_status pi_quadrature_gain(const char* nonlinearity, double param, double* gain) {
  return guarded([&] {
    require_out("pi_quadrature_gain", gain, "gain");
    *gain = paraminit::quadrature_gain(to_nonlinearity("pi_quadrature_gain", nonlinearity), c_param(param));
  });
}

pi_status pi_variance_scaling(pi_context* ctx, const pi_tensor* t, pi_key key, double scale, pi_fan_mode mode,
                              pi_distribution distribution, const pi_fan_layout* layout) {
  return guarded([&] {
    const auto v = to_view("pi_variance_scaling", ctx, t);
    paraminit::VarianceScalingOptions o;
    o.scale = scale;
    o.mode = static_cast<paraminit::FanMode>(mode);
    o.distribution = static_cast<paraminit::Distribution>(distribution);
    o.fans = to_layout(layout);
    paraminit::variance_scaling(ctx->ctx, v, to_key(key), o);
  });
}

pi_status pi_lecun_uniform(pi_context* ctx, const pi_tensor* t, pi_key key, const pi_fan_layout* layout) {
  return guarded([&] {
    const auto v = to_view("pi_lecun_uniform", ctx, t);
    paraminit::lecun_uniform(ctx->ctx, v, to_key(key), {false, to_layout(layout)});
  });
}

pi_status pi_lecun_normal(pi_context* ctx, const pi_tensor* t, pi_key key, int32_t truncated,
                          const pi_fan_layout* layout) {
  return guarded([&] {
    const auto v = to_view("pi_lecun_normal", ctx, t);
    paraminit::lecun_normal(ctx->ctx, v, to_key(key), {truncated != 0, to_layout(layout)});
  });
}

pi_status pi_glorot_uniform(pi_context* ctx, const pi_tensor* t, pi_key key, double gain,
                            const pi_fan_layout* layout) {
  return guarded([&] {
    const auto v = to_view("pi_glorot_uniform", ctx, t);
    paraminit::glorot_uniform(ctx->ctx, v, to_key(key), {gain, false, to_layout(layout)});
  });
}

pi_status pi_glorot_normal(pi_context* ctx, const pi_tensor* t, pi_key key, double gain, int32_t truncated,
                           const pi_fan_layout* layout) {
  return guarded([&] {
    const auto v = to_view("pi_glorot_normal", ctx, t);
    paraminit::glorot_normal(ctx->ctx, v, to_key(key), {gain, truncated != 0, to_layout(layout)});
  });
}


pi_status pi_he_uniform(pi_context* ctx, const pi_tensor* t, pi_key key, double a, pi_fan_mode mode,
                        const char* nonlinearity, const pi_fan_layout* layout) {
  return guarded([&] {
    const auto v = to_view("pi_he_uniform", ctx, t);
    paraminit::he_uniform(ctx->ctx, v, to_key(key), he_options("pi_he_uniform", a, mode, nonlinearity, 0, layout));
  });
}

pi_status pi_he_normal(pi_context* ctx, const pi_tensor* t, pi_key key, double a, pi_fan_mode mode,
                       const char* nonlinearity, int32_t truncated, const pi_fan_layout* layout) {
  return guarded([&] {
    const auto v = to_view("pi_he_normal", ctx, t);
    paraminit::he_normal(ctx->ctx, v, to_key(key),
                         he_options("pi_he_normal", a, mode, nonlinearity, truncated, layout));
  });
}

pi_status pi_fan_in_uniform(pi_context* ctx, const pi_tensor* t, pi_key key, int64_t fan_in,
                            const pi_fan_layout* layout) {
  return guarded([&] {
    const auto v = to_view("pi_fan_in_uniform", ctx, t);
    paraminit::fan_in_uniform(ctx->ctx, v, to_key(key), {fan_in, to_layout(layout)});
  });
}

pi_status pi_eye(pi_context* ctx, const pi_tensor* t, double gain) {
  return guarded([&] {
    const auto v = to_view("pi_eye", ctx, t);
    paraminit::eye(ctx->ctx, v, gain);
  });
}

pi_status pi_dirac(pi_context* ctx, const pi_tensor* t, int64_t groups, double gain) {
  return guarded([&] {
    const auto v = to_view("pi_dirac", ctx, t);
    paraminit::dirac(ctx->ctx, v, {groups, gain});
  });
}

pi_status pi_gate_bias(pi_context* ctx, const pi_tensor* t, pi_gate_layout layout, double value, double others) {
  return guarded([&] {
    const auto v = to_view("pi_gate_bias", ctx, t);
    paraminit::gate_bias(ctx->ctx, v, {static_cast<paraminit::GateLayout>(layout), value, others});
  });
}

pi_status pi_output_bias(pi_context* ctx, const pi_tensor* t, const double* stats, int64_t n,
                         pi_output_activation activation, int32_t centered) {
  return guarded([&] {
    const auto v = to_view("pi_output_bias", ctx, t);
    paraminit::output_bias(ctx->ctx, v, stats, n, {static_cast<paraminit::OutputActivation>(activation), centered != 0});
  });
}

pi_status pi_variance_parameter(pi_context* ctx, const pi_tensor* t, pi_scale_parameter kind,
                                const double* variances, int64_t n) {
  return guarded([&] {
    const auto v = to_view("pi_variance_parameter", ctx, t);
    paraminit::variance_parameter(ctx->ctx, v, static_cast<paraminit::ScaleParameter>(kind), variances, n);
  });
}

pi_status pi_orthogonal(pi_context* ctx, const pi_tensor* t, pi_key key, double gain) {
  return pi_orthogonal_ex(ctx, t, key, gain, PI_ORTHO_AUTOMATIC, 0);
}

pi_status pi_orthogonal_ex(pi_context* ctx, const pi_tensor* t, pi_key key, double gain, pi_orthogonal_path path,
                           int32_t batch_dims) {
  return pi_orthogonal_with_info(ctx, t, key, gain, path, batch_dims, nullptr);
}

pi_status pi_orthogonal_with_info(pi_context* ctx, const pi_tensor* t, pi_key key, double gain, pi_orthogonal_path path,
                                  int32_t batch_dims, pi_orthogonal_info* info) {
  return guarded([&] {
    const auto v = to_view("pi_orthogonal", ctx, t);
    paraminit::OrthogonalOptions o;
    o.gain = gain;
    o.path = to_enum<paraminit::OrthogonalPath>("pi_orthogonal", "path", path);
    o.batch_dims = batch_dims;
    put_info(info, paraminit::orthogonal(ctx->ctx, v, to_key(key), o));
  });
}

uint64_t pi_batch_stream(uint64_t stream, uint64_t k) { return paraminit::batch_stream(stream, k); }

pi_status pi_delta_orthogonal(pi_context* ctx, const pi_tensor* t, pi_key key, double gain, int32_t allow_even) {
  return pi_delta_orthogonal_with_info(ctx, t, key, gain, allow_even, PI_ORTHO_AUTOMATIC, nullptr);
}

pi_status pi_delta_orthogonal_with_info(pi_context* ctx, const pi_tensor* t, pi_key key, double gain, int32_t allow_even,
                                        pi_orthogonal_path path, pi_orthogonal_info* info) {
  return guarded([&] {
    const auto v = to_view("pi_delta_orthogonal", ctx, t);
    paraminit::DeltaOrthogonalOptions o;
    o.gain = gain;
    o.allow_even = allow_even != 0;
    o.path = to_enum<paraminit::OrthogonalPath>("pi_delta_orthogonal", "path", path);
    put_info(info, paraminit::delta_orthogonal(ctx->ctx, v, to_key(key), o));
  });
}

pi_status pi_orthogonalize(pi_context* ctx, const pi_tensor* t, double gain) {
  return pi_orthogonalize_with_info(ctx, t, gain, PI_ORTHO_AUTOMATIC, nullptr);
}

pi_status pi_orthogonalize_with_info(pi_context* ctx, const pi_tensor* t, double gain, pi_orthogonal_path path,
                                     pi_orthogonal_info* info) {
  return guarded([&] {
    const auto v = to_view("pi_orthogonalize", ctx, t);
    put_info(info, paraminit::orthogonalize(ctx->ctx, v, gain, to_enum<paraminit::OrthogonalPath>("pi_orthogonalize", "path", path)));
  });
}

uint64_t pi_stream_for_name(const char* name) {
  return paraminit::stream_for_name(name == nullptr ? std::string_view() : std::string_view(name));
}

pi_status pi_philox_bits(pi_key key, uint64_t first_index, uint64_t count, uint32_t* out) {
  return guarded([&] { paraminit::philox_bits(to_key(key), first_index, count, out); });
}

pi_tensor pi_tensor_make(void* data, pi_dtype dtype, int32_t rank, const int64_t* shape) {
  pi_tensor t;
  std::memset(&t, 0, sizeof t);
  t.data = data;
  t.dtype = dtype;
  t.rank = rank;
  t.window_dim = -1;
  if (shape == nullptr && rank > 0) {
    t.rank = -1;  // rejected by every fill: "rank -1 is outside 0..8"
    return t;
  }
  for (int32_t d = 0; d < rank && d < 8; ++d) t.shape[d] = shape[d];
  return t;
}

}  // extern "C"
