// The C API: a thin edge over the C++ API that turns exceptions into status codes and keeps the
// message in a thread-local buffer.
#include <cstring>
#include <new>
#include <string>

#include "internal.hpp"
#include "paraminit/paraminit.h"

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

// Checks the C-only parts (null pointers) and converts the view.
paraminit::TensorView to_view(const char* fn, pi_context* ctx, const pi_tensor* t) {
  using paraminit::detail::fail;
  using paraminit::Status;
  if (ctx == nullptr) fail(Status::invalid_argument, std::string(fn) + ": ctx is NULL");
  if (t == nullptr) fail(Status::invalid_argument, std::string(fn) + ": tensor is NULL");
  paraminit::TensorView v;
  v.data = t->data;
  v.dtype = static_cast<paraminit::DType>(t->dtype);
  v.rank = t->rank;
  for (int d = 0; d < paraminit::kMaxRank; ++d) v.shape[d] = t->shape[d];
  v.window_dim = t->window_dim;
  v.window_start = t->window_start;
  v.global_extent = t->global_extent;
  return v;
}

paraminit::Key to_key(pi_key k) { return paraminit::Key{k.seed, k.stream}; }

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
  return guarded([&] {
    const auto v = to_view("pi_sparse", ctx, t);
    paraminit::SparseOptions o;
    o.nonzeros_per_unit = nonzeros_per_unit;
    o.std = std;
    paraminit::sparse(ctx->ctx, v, to_key(key), o);
  });
}

pi_status pi_sparse_fraction(pi_context* ctx, const pi_tensor* t, pi_key key, double sparsity, double std) {
  return guarded([&] {
    const auto v = to_view("pi_sparse_fraction", ctx, t);
    paraminit::sparse_fraction(ctx->ctx, v, to_key(key), sparsity, std);
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
