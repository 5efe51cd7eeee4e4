// Internal host-side declarations shared by the host/ translation units.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "paraminit/paraminit.hpp"
#include "../kernels/geometry.hpp"
#include "thread_pool.hpp"

namespace paraminit {
namespace detail {

struct ContextImpl {
  bool cuda = false;
  int device = -1;
  void* stream = nullptr;              // cudaStream_t
  std::unique_ptr<ThreadPool> pool;    // CPU contexts
  std::shared_ptr<void> linalg;        // CUDA: cuSOLVER / cuBLAS handles and the grow-only workspace
                                       // of the orthogonal family (cuda/orthogonal.cu), made on first use
};

// The library's access to a context's state (Context befriends ContextAccess; users have neither).
struct ContextAccess {
  static ContextImpl& impl(Context& c) noexcept { return *c.impl_; }
  static const ContextImpl& impl(const Context& c) noexcept { return *c.impl_; }
};
inline ContextImpl& impl(Context& c) noexcept { return ContextAccess::impl(c); }
inline const ContextImpl& impl(const Context& c) noexcept { return ContextAccess::impl(c); }

[[noreturn]] void fail(Status code, const std::string& message);

// The SplitMix64 finalizer (Steele et al.): the stream hashes of stream_for_name and batch_stream.
inline std::uint64_t splitmix64_mix(std::uint64_t h) {
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  h ^= h >> 31;
  return h;
}

// (out, in, k...) convolution weights of rank 3 to 5 (dirac, delta_orthogonal).
inline void require_conv_weight(const TensorView& t, const char* fn) {
  if (t.rank < 3 || t.rank > 5)
    fail(Status::invalid_argument, std::string(fn) + ": needs a 3-D, 4-D or 5-D (out, in, k...) convolution weight, got rank " +
                                       std::to_string(t.rank));
}


// Validates everything about the view that does not depend on the scheme (rank, extents, window,
// overflow, data pointer, alignment, dtype, device of the pointer) and returns its geometry.
// `fn` names the public function in messages ("paraminit::uniform").
Geometry check_view(const ContextImpl& ctx, const TensorView& t, const char* fn);

// The view's shape with the window's global extent: the shape fans and structure come from.
inline void global_shape(const TensorView& t, std::int64_t (&shape)[kMaxRank]) {
  for (int d = 0; d < kMaxRank; ++d) shape[d] = d < t.rank ? t.shape[d] : 0;
  if (t.window_dim >= 0 && t.window_dim < t.rank) shape[t.window_dim] = t.global_extent;
}

// Values representable in a dtype, as doubles.
double dtype_max(DType t);                      // largest finite value
double round_to_dtype(double x, DType t);      // f16/bf16: through fp32, then nearest even
double dtype_next_up(double v, DType t);       // v must be representable
double dtype_next_down(double v, DType t);
double dtype_above(double x, DType t, bool strict);  // smallest value > x (>= x if !strict)
double dtype_below(double x, DType t, bool strict);  // largest value < x (<= x if !strict)

std::string fmt_double(double x);

// Fans and gains (host/gains.cpp), reporting errors under the caller's name.
Fans compute_fans_checked(const TensorView& t, const FanLayout& layout, const char* fn);
double gain_value(Nonlinearity nl, std::optional<double> param, const char* fn);    // calculate_gain
double gain_squared(Nonlinearity nl, std::optional<double> param, const char* fn);  // its square, exact for the table  // shortest round-trip text

// CUDA side (cuda/context.cpp when built with CUDA, host/no_cuda.cpp otherwise).
int cuda_devices() noexcept;
// Throws unless `ptr` may be written by `ctx` (device memory of its device for CUDA contexts,
// host memory for CPU contexts).
void check_pointer_location(const ContextImpl& ctx, const void* ptr, const char* fn);
void cuda_init_context(ContextImpl& ctx, int device, void* stream);
#if defined(PARAMINIT_WITH_CUDA)
// Copies `bytes` to device memory at dst on the context's stream, produced chunk by chunk into
// pinned staging memory by produce(staging, offset, n); synchronizes the stream before returning.
void cuda_stream_to_device(const ContextImpl& ctx, void* dst, std::uint64_t bytes,
                           const std::function<void(void*, std::uint64_t, std::uint64_t)>& produce, const char* fn);
#endif

}  // namespace detail
}  // namespace paraminit
