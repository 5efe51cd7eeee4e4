/// @file paraminit.hpp
/// @brief paraminit's C++ API: fill neural-network parameters on the CPU or on a CUDA GPU.
///
/// Every random value is a pure function of (Key::seed, Key::stream, global element index): the
/// CPU and every GPU give the same bits, and any window (shard) of a parameter gives the bits of
/// the same part of the whole. Every function validates all of its input before it writes a byte
/// and reports a bad input by throwing paraminit::Error; nothing in the library prints or exits.
///
/// Compiles as C++17 without CUDA headers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

namespace paraminit {

/// Error categories; the numeric values equal the C API's pi_status.
enum class Status : int {
  ok = 0,
  invalid_argument = 1,
  unsupported = 2,
  device = 3,
  out_of_memory = 4,
  numerical = 5,
  io = 6,
  internal = 7,
};
/// "ok", "invalid argument", ...
const char* to_string(Status s) noexcept;

/// The one exception type of the library: a category and a message that names the problem.
class Error : public std::runtime_error {
 public:
  Error(Status code, const std::string& message);
  Status code() const noexcept { return code_; }

 private:
  Status code_;
};

/// Element types; the numeric values equal the C API's pi_dtype.
enum class DType : int { f32 = 0, f64 = 1, f16 = 2, bf16 = 3 };
std::size_t dtype_size(DType t) noexcept;
const char* to_string(DType t) noexcept;

constexpr int kMaxRank = 8;

/// A non-owning, contiguous, row-major tensor, optionally a window (a slice along one dimension)
/// of a larger global parameter: then `shape` is the window's extents and the global parameter has
/// the same extents except `global_extent` along `window_dim`, where the window starts at
/// `window_start`. Fans, gains and random values are always those of the global parameter.
struct TensorView {
  void* data = nullptr;
  DType dtype = DType::f32;
  int rank = 0;  ///< 0..8; rank 0 is a scalar (one element)
  std::int64_t shape[kMaxRank] = {};
  int window_dim = -1;  ///< -1: the view is the whole parameter
  std::int64_t window_start = 0;
  std::int64_t global_extent = 0;

  /// A whole (unwindowed) parameter. Extents are validated when the view is used, not here.
  static TensorView of(void* data, DType dtype, std::initializer_list<std::int64_t> shape);
  /// This view, declared to be the slice [start, start + shape[dim]) along `dim` of a parameter
  /// whose extent along `dim` is `global_extent`.
  TensorView window(int dim, std::int64_t start, std::int64_t global_extent) const;
  /// Number of elements of this view (1 for rank 0). Does not validate.
  std::int64_t numel() const noexcept;
};

/// Identifies a random stream: `seed` is the Philox key, `stream` the Philox subsequence.
struct Key {
  std::uint64_t seed = 0;
  std::uint64_t stream = 0;
};

/// The stable 64-bit stream of a parameter name: FNV-1a (64-bit) of the UTF-8 bytes, then the
/// SplitMix64 finalizer. Fixed forever; equal to pi_stream_for_name.
std::uint64_t stream_for_name(std::string_view name) noexcept;
/// Key{seed, stream_for_name(name)}: a parameter's values depend on its name only, not on the
/// order in which a model is initialized, nor on which process initializes it.
inline Key key_for(std::uint64_t seed, std::string_view name) noexcept {
  return Key{seed, stream_for_name(name)};
}

namespace detail {
struct ContextImpl;
}

/// Where fills run: a CPU thread pool, or a CUDA device and stream.
///
/// A CUDA context runs every fill asynchronously on its stream: nothing synchronizes the device,
/// element-wise fills allocate nothing and may be captured in a CUDA graph. A context is not
/// thread-safe; use one per host thread.
class Context {
 public:
  /// CPU context with `threads` worker threads (0: std::thread::hardware_concurrency()).
  static Context cpu(int threads = 0);
  /// CUDA context on device `device`, running on `cuda_stream` (a cudaStream_t; nullptr = the
  /// legacy default stream). Throws Status::unsupported when paraminit was built without CUDA and
  /// Status::device when the device does not exist.
  static Context cuda(int device = 0, void* cuda_stream = nullptr);

  Context(Context&&) noexcept;
  Context& operator=(Context&&) noexcept;
  ~Context();

  bool is_cuda() const noexcept;
  int threads() const noexcept;   ///< CPU worker threads (0 for CUDA)
  int device() const noexcept;    ///< CUDA ordinal (-1 for CPU)
  void* stream() const noexcept;  ///< the cudaStream_t (nullptr for CPU)

  detail::ContextImpl& impl() noexcept { return *impl_; }

 private:
  explicit Context(std::unique_ptr<detail::ContextImpl> impl);
  std::unique_ptr<detail::ContextImpl> impl_;
};

/// Whether this build of paraminit has the CUDA backend, and how many devices it sees (0 without).
bool cuda_built() noexcept;
int cuda_device_count() noexcept;

// ---- fills ---------------------------------------------------------------------------------------
// Common rules: the view is validated first (null data with non-zero size, rank, extents, window,
// dtype, a pointer that does not belong to the context's device), then the parameters (finite, in
// range, representable in the dtype); only then is memory written. Zero-size views do nothing.

/// Every element = value (rounded to the dtype; f16/bf16 from the fp32 value, round to nearest even).
/// Errors: value not finite or out of the dtype's range.
void constant(Context& ctx, const TensorView& t, double value);

struct UniformOptions {
  double low = 0.0;
  double high = 1.0;
};
/// U(low, high). Element values lie in the open interval (low, high) in every dtype, so also in
/// PyTorch's [low, high). The f32 value is center + half * w with center = (low + high)/2,
/// half = (high - low)/2 rounded to fp32 and w = (2m + 1 - 2^24) 2^-24, m = word >> 8: 2^24
/// equally likely points, and U(-a, a) is exactly symmetric (w and -w equally likely). f64 uses 53
/// bits of two words; f16/bf16 round the f32 value to nearest even, then keep it inside the bounds.
/// Word use: element i takes word i % 4 of Philox call i / 4 (f64: words 2(i%2), 2(i%2)+1 of call i/2).
/// Errors: low >= high, a bound not finite or beyond the dtype's range, no dtype value strictly
/// between low and high.
void uniform(Context& ctx, const TensorView& t, Key key, UniformOptions opt = {});

struct NormalOptions {
  double mean = 0.0;
  double std = 1.0;
};
/// N(mean, std^2) by Box-Muller: elements (2j, 2j+1) share one radius and angle (see
/// kernels/dists.hpp for the words). |z| <= 6.77 in f32/f16/bf16 and <= 9.50 in f64.
/// Errors: std < 0, non-finite parameters, mean +- 6.77 std (9.50 for f64) beyond the dtype's range.
void normal(Context& ctx, const TensorView& t, Key key, NormalOptions opt = {});

struct TruncNormalOptions {
  double mean = 0.0;
  double std = 1.0;
  double low = -2.0;   ///< absolute units, as torch.nn.init.trunc_normal_
  double high = 2.0;
};
/// N(mean, std^2) conditioned on [low, high], by the inverse CDF (one word per element, no
/// rejection), accurate in far tails too (e.g. [3 std, 4 std] or [20 std, 21 std]). Values lie in
/// [low, high] in every dtype (rounded inward when a bound is not representable).
/// Errors: std <= 0, low >= high, non-finite parameters, a bound beyond the dtype's range, an
/// interval more than 36 std into one tail (probability below 1e-284), no dtype value in [low, high].
void trunc_normal(Context& ctx, const TensorView& t, Key key, TruncNormalOptions opt = {});

/// The values of the kept elements of sparse().
enum class SparseValues : int { normal = 0, uniform = 1 };

struct SparseOptions {
  std::int64_t nonzeros_per_unit = 15;        ///< k: exactly this many non-zeros in every unit
  double std = 0.01;                          ///< of the kept values (> 0)
  SparseValues values = SparseValues::normal;  ///< normal(0, std) or uniform(-sqrt(3) std, sqrt(3) std)
  int unit_axis = 0;                           ///< units are the slices along this axis (negative: from the end)
};
/// Sparse initialization (Martens 2010): every unit (the slices along unit_axis: the rows of a Linear
/// (out, in) or conv (out, in, k...) weight) has exactly k non-zero entries among its fan-in
/// positions (all the unit's other elements), chosen by a keyed random permutation per unit
/// (kernels/sparse.hpp); a kept element equals the dense normal() / uniform() value at that position
/// for the same key, the rest are exact zeros. Windows get exactly the whole's entries.
/// Errors: rank < 2, unit_axis out of range, k < 0 or k > fan-in, std not finite or <= 0.
void sparse(Context& ctx, const TensorView& t, Key key, SparseOptions opt = {});

/// PyTorch's torch.nn.init.sparse_ form for a 2-D tensor: in each column, ceil(sparsity * rows)
/// zeros, the other entries normal(0, std) (the key is honoured, unlike PyTorch's generator
/// argument). The same as sparse() with unit_axis = 1 and k = rows - ceil(sparsity * rows).
/// Errors: rank != 2, sparsity outside [0, 1], std not finite or <= 0.
void sparse_fraction(Context& ctx, const TensorView& t, Key key, double sparsity, double std = 0.01);

/// The raw 32-bit words of a stream on the host: out[k] = word (first + k) % 4 of Philox call
/// (first + k) / 4. For reproducing paraminit's values elsewhere.
void philox_bits(Key key, std::uint64_t first_index, std::uint64_t count, std::uint32_t* out);

}  // namespace paraminit
