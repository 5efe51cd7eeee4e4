// Errors, dtypes, views and their validation, the name hash, contexts.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <thread>

#include "internal.hpp"
#include "../kernels/bits.hpp"
#include "../kernels/philox.hpp"

namespace paraminit {

Error::Error(Status code, const std::string& message) : std::runtime_error(message), code_(code) {}

std::size_t dtype_size(DType t) noexcept {
  switch (t) {
    case DType::f32: return 4;
    case DType::f64: return 8;
    case DType::f16: return 2;
    case DType::bf16: return 2;
  }
  return 0;
}

TensorView TensorView::of(void* data, DType dtype, std::initializer_list<std::int64_t> shape) {
  TensorView v;
  v.data = data;
  v.dtype = dtype;
  v.rank = static_cast<int>(shape.size());
  int d = 0;
  for (std::int64_t e : shape) {
    if (d < kMaxRank) v.shape[d] = e;
    ++d;
  }
  return v;
}

TensorView TensorView::of(void* data, DType dtype, const std::int64_t* shape, int rank) {
  TensorView v;
  v.data = data;
  v.dtype = dtype;
  // A null shape with extents to read: rank -1, which every function rejects ("outside 0..8").
  v.rank = shape == nullptr && rank > 0 ? -1 : rank;
  for (int d = 0; d < rank && d < kMaxRank && shape != nullptr; ++d) v.shape[d] = shape[d];
  return v;
}

TensorView TensorView::window(int dim, std::int64_t start, std::int64_t global) const {
  TensorView v = *this;
  v.window_dim = dim;
  v.window_start = start;
  v.global_extent = global;
  return v;
}

std::int64_t TensorView::numel() const noexcept {
  std::int64_t n = 1;
  for (int d = 0; d < rank && d < kMaxRank; ++d) n *= shape[d];
  return n;
}

std::uint64_t stream_for_name(std::string_view name) noexcept {
  std::uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a 64 offset basis
  for (unsigned char c : name) {
    h ^= c;
    h *= 0x100000001b3ull;  // FNV-1a 64 prime
  }
  // SplitMix64 finalizer: FNV-1a alone leaves similar names (layers.1 / layers.2) close.
  return detail::splitmix64_mix(h);
}

void philox_bits(Key key, std::uint64_t first, std::uint64_t count, std::uint32_t* out) {
  if (count == 0) return;
  if (out == nullptr) detail::fail(Status::invalid_argument, "paraminit::philox_bits: out is null");
  if (first + count < first)
    detail::fail(Status::invalid_argument,
                 "paraminit::philox_bits: first_index + count overflows 64 bits");
  for (std::uint64_t k = 0; k < count; ++k) {
    const std::uint64_t i = first + k;
    const auto w = kernels::philox_call(key.seed, key.stream, i / 4);
    out[k] = kernels::word(w, static_cast<unsigned>(i % 4));
  }
}

// ---- contexts ------------------------------------------------------------------------------------

Context::Context(std::unique_ptr<detail::ContextImpl> impl) : impl_(std::move(impl)) {}
Context::Context(Context&&) noexcept = default;
Context& Context::operator=(Context&&) noexcept = default;
Context::~Context() = default;

Context Context::cpu(int threads) {
  if (threads < 0)
    detail::fail(Status::invalid_argument,
                 "paraminit::Context::cpu: threads = " + std::to_string(threads) + " is negative");
  if (threads == 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  auto impl = std::make_unique<detail::ContextImpl>();
  impl->pool = std::make_unique<detail::ThreadPool>(threads);
  return Context(std::move(impl));
}

Context Context::cuda(int device, void* stream) {
  auto impl = std::make_unique<detail::ContextImpl>();
  detail::cuda_init_context(*impl, device, stream);
  return Context(std::move(impl));
}

bool Context::is_cuda() const noexcept { return impl_->cuda; }
int Context::threads() const noexcept { return impl_->pool ? impl_->pool->size() : 0; }
int Context::device() const noexcept { return impl_->cuda ? impl_->device : -1; }
void* Context::stream() const noexcept { return impl_->stream; }

void Context::set_stream(void* cuda_stream) {
  if (!impl_->cuda) detail::fail(Status::invalid_argument, "paraminit::Context::set_stream: a CPU context has no stream");
  impl_->stream = cuda_stream;
}

int cuda_device_count() noexcept { return detail::cuda_devices(); }

namespace detail {

void fail(Status code, const std::string& message) { throw Error(code, message); }

std::string fmt_double(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", x);
  // shortest form that round-trips
  for (int p = 1; p <= 17; ++p) {
    char b2[32];
    std::snprintf(b2, sizeof b2, "%.*g", p, x);
    if (std::strtod(b2, nullptr) == x) return b2;
  }
  return buf;
}

namespace {
bool mul_overflows(std::uint64_t a, std::uint64_t b, std::uint64_t* out) {
  return __builtin_mul_overflow(a, b, out);
}
}  // namespace

Geometry check_view(const ContextImpl& ctx, const TensorView& t, const char* fn) {
  const std::string f = std::string(fn) + ": ";
  const int dt = static_cast<int>(t.dtype);
  if (dt < 0 || dt > 3) fail(Status::invalid_argument, f + "dtype " + std::to_string(dt) + " is not one of f32, f64, f16, bf16");
  if (t.rank < 0 || t.rank > kMaxRank)
    fail(Status::invalid_argument, f + "rank " + std::to_string(t.rank) + " is outside 0..8");
  for (int d = 0; d < t.rank; ++d)
    if (t.shape[d] < 0)
      fail(Status::invalid_argument, f + "shape[" + std::to_string(d) + "] = " +
                                         std::to_string(t.shape[d]) + " is negative");
  const bool windowed = t.window_dim != -1;
  if (windowed) {
    const int wd = t.window_dim;
    if (wd < 0 || wd >= t.rank)
      fail(Status::invalid_argument, f + "window_dim " + std::to_string(wd) +
                                         " is neither -1 nor a dimension of a rank-" +
                                         std::to_string(t.rank) + " tensor");
    if (t.window_start < 0 || t.global_extent < 0 || t.shape[wd] > t.global_extent ||
        t.window_start > t.global_extent - t.shape[wd])
      fail(Status::invalid_argument,
           f + "window [" + std::to_string(t.window_start) + ", " +
               std::to_string(t.window_start) + " + " + std::to_string(t.shape[wd]) +
               ") along dim " + std::to_string(wd) + " is outside the global extent " +
               std::to_string(t.global_extent));
  }
  // Element counts of the view and of the global parameter, checked for overflow; bytes too.
  std::uint64_t local = 1, global = 1, inner = 1, outer = 1;
  for (int d = 0; d < t.rank; ++d) {
    const auto e = static_cast<std::uint64_t>(t.shape[d]);
    const auto g = (windowed && d == t.window_dim) ? static_cast<std::uint64_t>(t.global_extent) : e;
    if (mul_overflows(local, e, &local) || mul_overflows(global, g, &global))
      fail(Status::invalid_argument, f + "the element count overflows 64 bits");
  }
  std::uint64_t bytes;
  if (global > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) ||
      mul_overflows(global, dtype_size(t.dtype), &bytes) ||
      bytes > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
    fail(Status::invalid_argument, f + "the global parameter's byte size overflows int64");

  Geometry g;
  g.numel = local;
  g.global_numel = global;
  if (local == 0) return g;  // zero-size views are valid and do nothing; data may be null
  if (t.data == nullptr)
    fail(Status::invalid_argument, f + "data is null but the view has " + std::to_string(local) + " elements");
  if (reinterpret_cast<std::uintptr_t>(t.data) % dtype_size(t.dtype) != 0)
    fail(Status::invalid_argument, f + "data is not aligned to " +
                                       std::to_string(dtype_size(t.dtype)) + " bytes (the " +
                                       to_string(t.dtype) + " element size)");
  check_pointer_location(ctx, t.data, fn);

  if (!windowed) {
    g.run_len = local;
    g.runs = 1;
    g.global_stride = local;
    g.global_base = 0;
    return g;
  }
  const int wd = t.window_dim;
  for (int d = 0; d < wd; ++d) outer *= static_cast<std::uint64_t>(t.shape[d]);
  for (int d = wd + 1; d < t.rank; ++d) inner *= static_cast<std::uint64_t>(t.shape[d]);
  g.run_len = static_cast<std::uint64_t>(t.shape[wd]) * inner;
  g.runs = outer;
  g.global_stride = static_cast<std::uint64_t>(t.global_extent) * inner;
  g.global_base = static_cast<std::uint64_t>(t.window_start) * inner;
  if (g.run_len == g.global_stride) {  // the window is the whole extent: one run
    g.run_len = local;
    g.runs = 1;
    g.global_stride = local;
  }
  return g;
}

// ---- dtype value helpers -----------------------------------------------------------------------

namespace {
// Ordered integer key of a finite half (f16/bf16) bit pattern: -0 and +0 both map to 0.
int half_key(std::uint16_t b) { return (b & 0x8000u) ? -static_cast<int>(b & 0x7fffu) : static_cast<int>(b); }
std::uint16_t half_from_key(int k) {
  return k < 0 ? static_cast<std::uint16_t>(0x8000u | static_cast<unsigned>(-k)) : static_cast<std::uint16_t>(k);
}
std::uint16_t half_bits(double v, DType t) {
  const float f = static_cast<float>(v);
  return t == DType::f16 ? kernels::f32_to_f16_rne(f) : kernels::f32_to_bf16_rne(f);
}
double half_value(std::uint16_t b, DType t) {
  return t == DType::f16 ? kernels::f16_to_f32(b) : kernels::bf16_to_f32(b);
}
double half_step(double v, DType t, int dir) {
  return half_value(half_from_key(half_key(half_bits(v, t)) + dir), t);
}
}  // namespace

double dtype_max(DType t) {
  switch (t) {
    case DType::f32: return std::numeric_limits<float>::max();
    case DType::f64: return std::numeric_limits<double>::max();
    case DType::f16: return 65504.0;
    case DType::bf16: return kernels::bf16_to_f32(0x7f7fu);
  }
  return 0.0;
}

double round_to_dtype(double x, DType t) {
  switch (t) {
    case DType::f64: return x;
    case DType::f32: return static_cast<float>(x);
    case DType::f16:
    case DType::bf16: return half_value(half_bits(x, t), t);
  }
  return x;
}

double dtype_next_up(double v, DType t) {
  switch (t) {
    case DType::f64: return std::nextafter(v, HUGE_VAL);
    case DType::f32: return std::nextafter(static_cast<float>(v), HUGE_VALF);
    default: return half_step(v, t, +1);
  }
}
double dtype_next_down(double v, DType t) {
  switch (t) {
    case DType::f64: return std::nextafter(v, -HUGE_VAL);
    case DType::f32: return std::nextafter(static_cast<float>(v), -HUGE_VALF);
    default: return half_step(v, t, -1);
  }
}

double dtype_above(double x, DType t, bool strict) {
  double v = round_to_dtype(x, t);
  while (strict ? v <= x : v < x) v = dtype_next_up(v, t);
  for (double p = dtype_next_down(v, t); strict ? p > x : p >= x; p = dtype_next_down(v, t)) v = p;
  return v;
}
double dtype_below(double x, DType t, bool strict) {
  double v = round_to_dtype(x, t);
  while (strict ? v >= x : v > x) v = dtype_next_down(v, t);
  for (double n = dtype_next_up(v, t); strict ? n < x : n <= x; n = dtype_next_up(v, t)) v = n;
  return v;
}

}  // namespace detail
}  // namespace paraminit
