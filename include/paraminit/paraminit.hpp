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
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace paraminit {

// ---- names of enumerators ----------------------------------------------------------------------------
// Every public enum E (Status, DType, Nonlinearity, FanMode, Distribution, SparseValues, GateLayout,
// OutputActivation, ScaleParameter, OrthogonalPath) has the same pair:
//   const char* to_string(E) noexcept;  the enumerator's name as spelled in C++ ("invalid_argument",
//                                       "bf16", "fan_avg", "cholesky_qr2", ...); "unknown" for a value
//                                       that is no enumerator
//   E from_name<E>(std::string_view);   the inverse, exact and case-sensitive (plus the aliases the
//                                       enum documents); an unknown name throws Error
//                                       (Status::invalid_argument) whose message lists the valid names
// so from_name<E>(to_string(e)) == e for every enumerator e.

/// The enumerator of E named `name`. Declared for the enums above only (explicit specializations).
template <class E>
E from_name(std::string_view name);

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
/// "ok", "invalid_argument", "unsupported", "device", "out_of_memory", "numerical", "io", "internal".
const char* to_string(Status s) noexcept;
template <>
Status from_name<Status>(std::string_view name);

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
/// "f32", "f64", "f16", "bf16".
const char* to_string(DType t) noexcept;
template <>
DType from_name<DType>(std::string_view name);

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
  /// The same for a shape known at run time: `rank` extents read from `shape` (at most kMaxRank of
  /// them are copied). Validated when the view is used, like the form above: rank outside 0..8, or a
  /// null `shape` with rank > 0, gives a view every function rejects (Status::invalid_argument).
  static TensorView of(void* data, DType dtype, const std::int64_t* shape, int rank);
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
struct ContextAccess;  // the library's own access to a context's state
}

/// Where fills run: a CPU thread pool, or a CUDA device and stream.
///
/// A CUDA context runs every fill asynchronously on its stream: nothing synchronizes the device,
/// element-wise fills allocate nothing and may be captured in a CUDA graph.
///
/// Threads. A CPU context may be used by several host threads at once (C++ and C API alike): its
/// pool runs one job at a time, so concurrent calls queue for the pool's threads, and each call
/// gives exactly the bits it gives alone. Sharing adds no parallelism: a
/// call's validation and single-threaded parts (e.g. the LAPACK factorization of orthogonal) run
/// in the caller's thread, its element loops wait their turn; for parallel fills use one context
/// per thread. Different contexts are independent: creating, using and destroying them on
/// different threads at the same time is safe. Moving, assigning or destroying a context while
/// another thread uses it is not. A CUDA context is not thread-safe (its solver handles and
/// workspace are made and grown on first use without a lock): use one per host thread, or
/// serialize the calls. The C API's pi_last_error is per thread.
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
  /// Later calls of a CUDA context run on `cuda_stream` (nullptr = the legacy default stream). Work
  /// already queued on the previous stream is not waited for: order the two streams yourself if a
  /// later call touches the same memory. (The context's workspaces are safe to share: the calls that
  /// use them synchronize their stream before returning.) Errors: a CPU context (Status::invalid_argument).
  void set_stream(void* cuda_stream);

 private:
  friend struct detail::ContextAccess;
  explicit Context(std::unique_ptr<detail::ContextImpl> impl);
  std::unique_ptr<detail::ContextImpl> impl_;
};

/// Whether this build of paraminit has the CUDA backend, and how many devices it sees (0 without).
bool cuda_built() noexcept;
int cuda_device_count() noexcept;
/// Whether this build has LAPACK (the CPU orthogonal family; without it CPU calls report Status::unsupported).
bool lapack_built() noexcept;

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
/// N(mean, std^2) by Box-Muller: elements (2j, 2j+1) share one radius sqrt(-2 ln u) and angle pi v,
/// the even element r cos, the odd r sin. Words of Philox call c: f32/f16/bf16, the pair (4c, 4c+1)
/// takes u from word x and v from y, the pair (4c+2, 4c+3) u from z and v from w; f64, the pair
/// (2c, 2c+1) takes u from the 64 bits (x, y) and v from (z, w). |z| <= 6.77 in f32/f16/bf16 and
/// <= 9.50 in f64.
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
/// "normal", "uniform".
const char* to_string(SparseValues v) noexcept;
template <>
SparseValues from_name<SparseValues>(std::string_view name);

struct SparseOptions {
  std::int64_t nonzeros_per_unit = 15;        ///< k: exactly this many non-zeros in every unit
  double std = 0.01;                          ///< of the kept values (> 0)
  SparseValues values = SparseValues::normal;  ///< normal(0, std) or uniform(-sqrt(3) std, sqrt(3) std)
  int unit_axis = 0;                           ///< units are the slices along this axis (negative: from the end)
};
/// Sparse initialization (Martens 2010): every unit (the slices along unit_axis: the rows of a Linear
/// (out, in) or conv (out, in, k...) weight) has exactly k non-zero entries among its fan-in
/// positions (all the unit's other elements), chosen by a keyed random permutation per unit
/// (a Feistel network keyed by Philox call 2^63 + unit of the same key, outside the value stream's
/// counters); a kept element equals the dense normal() / uniform() value at that position
/// for the same key, the rest are exact zeros. Windows get exactly the whole's entries.
/// Errors: rank < 2, unit_axis out of range, k < 0 or k > fan-in, std not finite or <= 0.
void sparse(Context& ctx, const TensorView& t, Key key, SparseOptions opt = {});

/// PyTorch's torch.nn.init.sparse_ form for a 2-D tensor: in each column, ceil(sparsity * rows)
/// zeros, the other entries normal(0, std) (the key is honoured, unlike PyTorch's generator
/// argument). The same as sparse() with unit_axis = 1 and k = rows - ceil(sparsity * rows).
/// Errors: rank != 2, sparsity outside [0, 1], std not finite or <= 0.
void sparse_fraction(Context& ctx, const TensorView& t, Key key, double sparsity, double std = 0.01);

// ---- fans and gains (host computations) ----------------------------------------------------------

/// Which fan a scheme divides by.
enum class FanMode : int { fan_in = 0, fan_out = 1, fan_avg = 2 };
/// "fan_in", "fan_out", "fan_avg".
const char* to_string(FanMode m) noexcept;
template <>
FanMode from_name<FanMode>(std::string_view name);

/// Which axes of a weight hold its inputs and outputs. The receptive field is the product of the
/// extents of every other axis except the batch axes (JAX's _compute_fans); fan_in = extent(in_axis)
/// x receptive field, fan_out = extent(out_axis) x receptive field. Negative axes count from the end.
/// The default is PyTorch's convention: (out, in, k...) weights, in_axis = 1, out_axis = 0.
struct FanLayout {
  int in_axis = 1;
  int out_axis = 0;
  int num_batch_axes = 0;
  int batch_axes[kMaxRank] = {};  ///< the first num_batch_axes entries are used

  /// PyTorch: Linear (out, in), Conv (out, in, k...). The default.
  static FanLayout torch() noexcept { return FanLayout{}; }
  /// JAX / TensorFlow: in_axis = -2, out_axis = -1, for (in, out) dense kernels and HWIO / DHWIO
  /// convolution kernels, with optional batch axes (e.g. {0} for a stack of per-head matrices).
  static FanLayout jax(std::initializer_list<int> batch_axes = {}) noexcept;
};

struct Fans {
  std::int64_t fan_in = 0;
  std::int64_t fan_out = 0;
  std::int64_t receptive_field = 0;
  /// fan_in, fan_out or (fan_in + fan_out) / 2.
  double of(FanMode mode) const noexcept;
};

/// The fans of a weight, always from the global shape of a window. Errors: rank < 2 (PyTorch's rule;
/// a bias has no fan), an axis out of range, in_axis == out_axis, a batch axis equal to either or
/// repeated, more than rank - 2 batch axes.
Fans compute_fans(const TensorView& t, const FanLayout& layout = {});

/// The activations paraminit knows (PyTorch's names). Used by the gains, the He schemes and the
/// calibration (DenseLayer::activation in calibrate.hpp).
enum class Nonlinearity : int {
  linear = 0, conv1d, conv2d, conv3d, conv_transpose1d, conv_transpose2d, conv_transpose3d,
  sigmoid, tanh, relu, leaky_relu, selu,  // the end of PyTorch's calculate_gain table
  elu, celu, gelu, gelu_tanh, silu, mish, softplus, softsign, hardtanh, relu6, hardswish, hardsigmoid,
};
/// "linear", "conv2d", "leaky_relu", "gelu_tanh", ...: the enumerator's name.
const char* to_string(Nonlinearity nl) noexcept;
/// Every to_string name, plus the aliases "identity" (linear), "swish" (silu), "gelu_erf" (gelu).
template <>
Nonlinearity from_name<Nonlinearity>(std::string_view name);

/// The gain of torch.nn.init.calculate_gain where PyTorch defines one: linear and conv* 1,
/// sigmoid 1, tanh 5/3, relu sqrt(2), leaky_relu sqrt(2 / (1 + slope^2)), selu 3/4. For the other
/// activations (where PyTorch raises) it is quadrature_gain. `param` is PyTorch's name: one argument
/// that means leaky_relu's negative_slope, elu/celu's alpha (> 0) or softplus's beta (> 0).
/// Errors: a parameter for an activation that has none (PyTorch ignores it silently; here it is
/// taken to be a mistake), or a non-finite or out-of-range parameter. No parameter (std::nullopt) means
/// the activation's default: leaky_relu negative_slope 0.01 (PyTorch's calculate_gain), elu/celu alpha 1,
/// softplus beta 1.
double calculate_gain(Nonlinearity nl, std::optional<double> param = std::nullopt);

/// 1 / sqrt(E[f(z)^2]) for z ~ N(0, 1): the gain that keeps the second moment of a layer's output
/// at that of its input. Computed by composite 20-point Gauss-Legendre quadrature on [-20, 20]
/// (panels of 1/4 that split at every kink), accurate to ~1e-13. Values (default parameters):
///   linear 1, relu 1.41421 (sqrt 2), leaky_relu(0.01) 1.41414, selu 1.00000 (PyTorch: 3/4),
///   tanh 1.59254 (PyTorch: 5/3), sigmoid 1.84623 (PyTorch: 1), elu 1.24520, celu 1.24520,
///   gelu 1.53353, gelu_tanh 1.53358, silu 1.67653, mish 1.48685, softplus 1.04187,
///   softsign 2.33753, hardtanh 1.39204, relu6 1.41421, hardswish 1.73666, hardsigmoid 1.89784.
/// (Each is tested against an independent 30-digit evaluation of the integral.)
/// `param` and its errors: as calculate_gain.
double quadrature_gain(Nonlinearity nl, std::optional<double> param = std::nullopt);

// ---- the scheme catalog ----------------------------------------------------------------------------
// Fan-based schemes compute a bound or a std from the global shape (FanLayout) and then run the
// uniform / normal / trunc_normal fill with the same key: they give exactly the bits of that fill,
// at its speed. A zero-size view is valid and writes nothing, but the fan a scheme divides by must
// not be zero (a (5, 0) weight has fan_in 0: an error for fan_in modes).

/// The three distributions of variance_scaling.
enum class Distribution : int { uniform = 0, normal = 1, truncated_normal = 2 };
/// "uniform", "normal", "truncated_normal".
const char* to_string(Distribution d) noexcept;
template <>
Distribution from_name<Distribution>(std::string_view name);

/// JAX's truncated-normal correction: the std of N(0, 1) truncated to [-2, 2].
constexpr double kTruncStdCorrection = 0.87962566103423978;

struct VarianceScalingOptions {
  double scale = 1.0;                                          ///< > 0
  FanMode mode = FanMode::fan_in;
  Distribution distribution = Distribution::truncated_normal;  ///< JAX's default
  FanLayout fans = {};                                         ///< PyTorch's layout by default
};
/// jax.nn.initializers.variance_scaling: with n the chosen fan and v = scale / n,
/// uniform: U(-sqrt(3 v), sqrt(3 v)); normal: N(0, v); truncated_normal: N(0, s^2) truncated to
/// [-2 s, 2 s] with s = sqrt(v) / 0.87962566103423978, whose std is sqrt(v).
/// Errors: scale not finite or <= 0, the fan errors of compute_fans, a zero fan.
void variance_scaling(Context& ctx, const TensorView& t, Key key, const VarianceScalingOptions& opt = {});

struct LecunOptions {
  bool truncated = false;  ///< lecun_normal: JAX's / Keras's truncated normal (see variance_scaling)
  FanLayout fans = {};
};
/// U(-sqrt(3 / fan_in), sqrt(3 / fan_in)) (LeCun 1998; JAX's lecun_uniform).
void lecun_uniform(Context& ctx, const TensorView& t, Key key, const LecunOptions& opt = {});
/// N(0, 1 / fan_in); with truncated = true, JAX's and Keras's lecun_normal.
void lecun_normal(Context& ctx, const TensorView& t, Key key, const LecunOptions& opt = {});

struct GlorotOptions {
  double gain = 1.0;       ///< > 0, as torch.nn.init.xavier_*'s gain
  bool truncated = false;  ///< glorot_normal: JAX's / Keras's truncated normal (then gain^2 is the scale)
  FanLayout fans = {};
};
/// Glorot & Bengio 2010's normalized init, torch.nn.init.xavier_uniform_:
/// U(-a, a), a = gain sqrt(6 / (fan_in + fan_out)).
void glorot_uniform(Context& ctx, const TensorView& t, Key key, const GlorotOptions& opt = {});
/// torch.nn.init.xavier_normal_: N(0, gain^2 2 / (fan_in + fan_out)).
void glorot_normal(Context& ctx, const TensorView& t, Key key, const GlorotOptions& opt = {});
inline void xavier_uniform(Context& ctx, const TensorView& t, Key key, const GlorotOptions& opt = {}) {
  glorot_uniform(ctx, t, key, opt);
}
inline void xavier_normal(Context& ctx, const TensorView& t, Key key, const GlorotOptions& opt = {}) {
  glorot_normal(ctx, t, key, opt);
}

struct HeOptions {
  double negative_slope = 0.0;  ///< leaky_relu's negative slope, PyTorch's kaiming `a` (used only with leaky_relu)
  FanMode mode = FanMode::fan_in;
  Nonlinearity nonlinearity = Nonlinearity::leaky_relu;  ///< PyTorch's default: gain sqrt(2 / (1 + negative_slope^2))
  bool truncated = false;  ///< he_normal: JAX's / Keras's truncated normal (then gain^2 is the scale)
  FanLayout fans = {};
};
/// He et al. 2015, torch.nn.init.kaiming_uniform_: U(-b, b), b = gain sqrt(3 / fan), with
/// gain = calculate_gain(nonlinearity, negative_slope) (quadrature_gain for activations beyond PyTorch's
/// table). With negative_slope = sqrt(5) (PyTorch's a = sqrt(5)) and the defaults it is PyTorch's Linear/Conv default weight init: the distribution
/// of fan_in_uniform (the same bits in f32/f16/bf16; in f64 the bound differs in its last bit, as
/// sqrt(3) sqrt(1/3) != 1 in double).
void he_uniform(Context& ctx, const TensorView& t, Key key, const HeOptions& opt = {});
/// torch.nn.init.kaiming_normal_: N(0, gain^2 / fan).
void he_normal(Context& ctx, const TensorView& t, Key key, const HeOptions& opt = {});
inline void kaiming_uniform(Context& ctx, const TensorView& t, Key key, const HeOptions& opt = {}) {
  he_uniform(ctx, t, key, opt);
}
inline void kaiming_normal(Context& ctx, const TensorView& t, Key key, const HeOptions& opt = {}) {
  he_normal(ctx, t, key, opt);
}

struct FanInUniformOptions {
  std::int64_t fan_in = 0;  ///< > 0: use this fan_in (e.g. a bias with its weight's fan_in); 0: from the shape
  FanLayout fans = {};
};
/// The textbook heuristic U(-1/sqrt(m), 1/sqrt(m)), m = fan_in (Goodfellow et al. 8.4). It is PyTorch's
/// default init of Linear and Conv weights (kaiming_uniform_ with a = sqrt 5) and, given the weight's
/// fan_in, of their biases. With fan_in given the tensor may have any rank.
void fan_in_uniform(Context& ctx, const TensorView& t, Key key, const FanInUniformOptions& opt = {});

/// constant(0) and constant(1).
void zeros(Context& ctx, const TensorView& t);
void ones(Context& ctx, const TensorView& t);

/// A 2-D identity scaled by gain: element (i, j) = gain if i == j, else 0 (torch.nn.init.eye_ for
/// gain 1; rectangular shapes keep min(rows, cols) ones). Errors: rank != 2, gain not finite.
void eye(Context& ctx, const TensorView& t, double gain = 1.0);

struct DiracOptions {
  std::int64_t groups = 1;  ///< >= 1, divides dim 0
  double gain = 1.0;
};
/// torch.nn.init.dirac_ (times gain) for a (out, in, k...) convolution weight of rank 3 to 5: in each
/// of the groups, output channel g * out/groups + d has gain at input channel d, centre tap
/// (k_s / 2 along every spatial dim), for d < min(out/groups, in); every other element is 0. The
/// convolution then passes its input through. Errors: rank outside 3..5, groups < 1 or not dividing dim 0.
void dirac(Context& ctx, const TensorView& t, const DiracOptions& opt = {});

// ---- biases and extra parameters -------------------------------------------------------------------

/// The ReLU bias of Goodfellow et al. 8.4: a small positive constant (0.1) so that units start active.
constexpr double kReluBias = 0.1;
inline void relu_bias(Context& ctx, const TensorView& t, double value = kReluBias) { constant(ctx, t, value); }

/// How a recurrent layer stacks its gates in a bias vector (blocks of `hidden` elements).
enum class GateLayout : int {
  torch_lstm = 0,  ///< i, f, g, o              (torch.nn.LSTM bias_ih / bias_hh)
  torch_gru = 1,   ///< r, z, n                 (torch.nn.GRU)
  keras_lstm = 2,  ///< i, f, c, o              (keras.layers.LSTM)
  keras_gru = 3,   ///< z, r, h                 (keras.layers.GRU)
  cudnn_lstm = 4,  ///< i, f, c, o, i', f', c', o' (cuDNN: input-side biases, then recurrent-side)
  cudnn_gru = 5,   ///< r, z, n, r', z', n'     (cuDNN)
};
/// "torch_lstm", "torch_gru", "keras_lstm", "keras_gru", "cudnn_lstm", "cudnn_gru".
const char* to_string(GateLayout l) noexcept;
template <>
GateLayout from_name<GateLayout>(std::string_view name);

struct GateBiasOptions {
  GateLayout layout = GateLayout::torch_lstm;
  double value = 1.0;   ///< for the forget gate (LSTM) or the update gate z (GRU: keeps the state)
  double others = 0.0;  ///< for every other gate
};
/// The forget-gate bias of Gers et al. 2000 / Jozefowicz et al. 2015 in a gate-stacked bias: the
/// last dimension is (number of blocks) x hidden; leading dimensions are independent stacks (layers,
/// directions). Only the first forget / update block gets `value`, so in cuDNN's layout (and with
/// PyTorch's two bias vectors b_ih + b_hh, if you fill b_hh with others) the sum the cell adds is
/// `value`. Keras's GRU with reset_after (its default) keeps a (2, 3 units) bias whose row 1 is the
/// recurrent bias: fill row 0 only (a window of dim 0), or every row gets `value`.
/// Errors: rank < 1, last dimension not a multiple of the number of blocks (0 is an empty bias),
/// a value not finite or beyond the dtype's range.
void gate_bias(Context& ctx, const TensorView& t, const GateBiasOptions& opt = {});

/// The output layer's activation, inverted by output_bias.
enum class OutputActivation : int { softmax = 0, sigmoid = 1, identity = 2 };
/// "softmax", "sigmoid", "identity".
const char* to_string(OutputActivation a) noexcept;
template <>
OutputActivation from_name<OutputActivation>(std::string_view name);

struct OutputBiasOptions {
  OutputActivation activation = OutputActivation::softmax;
  bool centered = false;  ///< softmax: subtract the mean of log p (same softmax, zero-mean bias)
};
/// Output biases from the training set's marginal statistics (Goodfellow et al. 8.4), so that the
/// untrained network predicts the marginals: softmax: b_k = log p_k (softmax(b) = p, logsumexp(b) = 0;
/// centered: log p_k - mean_j log p_j), p_k in (0, 1), summing to 1 within 1e-3; sigmoid:
/// b_k = logit(p_k) = log(p_k / (1 - p_k)), p_k in (0, 1) independently (multi-label); identity:
/// b_k = stats[k] (the target means). `stats` holds one value per element of the global parameter
/// (n = its element count; a window writes its own part). Values are computed in double, then
/// rounded like constant(). On CUDA the values are copied from host memory with cudaMemcpyAsync on
/// the context's stream, so this call is not allowed while the stream is being captured into a graph.
/// Errors: stats null, n != the global element count, p outside (0, 1), a sum not 1, non-finite
/// stats, a bias beyond the dtype's range.
void output_bias(Context& ctx, const TensorView& t, const double* stats, std::int64_t n,
                 const OutputBiasOptions& opt = {});

/// How a variance-like extra parameter is stored.
enum class ScaleParameter : int { variance = 0, precision = 1, std = 2, log_variance = 3, log_std = 4 };
/// "variance", "precision", "std", "log_variance", "log_std".
const char* to_string(ScaleParameter k) noexcept;
template <>
ScaleParameter from_name<ScaleParameter>(std::string_view name);

/// Variance or precision parameters (Goodfellow et al. 8.4): each element set from a variance v --
/// v, 1/v, sqrt(v), log v or log(v)/2 -- with v = 1 when `variances` is null (n is then ignored)
/// and v = variances[k] (the marginal variance of the k-th target) otherwise, one per element of the
/// global parameter. Like output_bias, copied from the host on CUDA.
/// Errors: n != the global element count, a variance not finite or <= 0, a value beyond the dtype's range.
void variance_parameter(Context& ctx, const TensorView& t, ScaleParameter kind,
                        const double* variances = nullptr, std::int64_t n = 0);

// ---- the orthogonal family -------------------------------------------------------------------------
// Saxe et al. 2013: an orthogonal weight scaled by a gain keeps the norm of activations and gradients
// through very deep networks. A weight of rank >= 2 is a matrix of rows = dim 0 and cols = the product
// of the other dims (PyTorch's flattening); with batch_dims = b, dims [0, b) index independent matrices
// and the matrix dims start at b.
//
// Unlike the element-wise fills, these need the whole matrix: a window of an orthogonal parameter
// computes the whole Q (of each matrix the window touches) and keeps its part, so windows still equal
// the whole, bit for bit, at the cost of the whole factorization on every shard.
// Values: a Gaussian matrix is drawn with normal() (mean 0, std 1) in the work precision (f32 for
// f32/f16/bf16 outputs, f64 for f64) with the call's key (batched: with the stream of matrix k,
// batch_stream(key.stream, k)), so the CPU and the GPU start from the same bits; its QR's Q, with each
// column multiplied by the sign of R's diagonal (so Q is Haar distributed), transposed when rows < cols
// (orthonormal rows), times gain, rounded to the output dtype. The QR itself is rounded differently by
// LAPACK and cuSOLVER: CPU and GPU results agree to a tolerance, not bitwise.
// Guarantee (tested): max |Q^T Q - I| <= 1e-5 sqrt(n) in f32 work,
// 1e-13 sqrt(n) in f64, for n = min(rows, cols).

/// How Q is computed.
enum class OrthogonalPath : int {
  automatic = 0,    ///< cholesky_qr where rows/cols >= 4 (or cols/rows >= 4), else householder
  householder = 1,  ///< LAPACK / cuSOLVER geqrf + orgqr, sign of diag(R) applied
  cholesky_qr = 2,  ///< CholeskyQR, then the measured loss of orthogonality decides: done, a second pass, or householder
  cholesky_qr2 = 3, ///< two CholeskyQR passes, unmeasured (falls back to householder only if Cholesky fails)
};
/// "automatic", "householder", "cholesky_qr", "cholesky_qr2".
const char* to_string(OrthogonalPath p) noexcept;
template <>
OrthogonalPath from_name<OrthogonalPath>(std::string_view name);

struct OrthogonalOptions {
  double gain = 1.0;  ///< finite; Q is multiplied by it
  OrthogonalPath path = OrthogonalPath::automatic;
  int batch_dims = 0;  ///< leading dims that index independent matrices (e.g. 1 for (heads, d, d))
};

/// What a call did. For a batch, each field is the worst over its matrices, whatever their order:
/// the path by householder (a fallback, or asked for) > cholesky_qr2 > cholesky_qr, the most Cholesky
/// passes, and the largest measured error (so a batch with one Householder fallback reports
/// householder, with the error measured on its CholeskyQR matrices; -1 when none was measured).
struct OrthogonalInfo {
  OrthogonalPath path = OrthogonalPath::householder;  ///< householder, cholesky_qr or cholesky_qr2 as run
  int cholesky_passes = 0;
  double orthogonality_error = -1;  ///< measured max |Q^T Q - I| before the gain (-1: not measured)
};

/// The stream of matrix k of a batch: the SplitMix64 finalizer of stream + (k + 1) 0x9E3779B97F4A7C15.
std::uint64_t batch_stream(std::uint64_t stream, std::uint64_t k) noexcept;

/// Orthogonal initialization (torch.nn.init.orthogonal_ semantics, on the library's own Gaussian bits).
/// CPU: LAPACK (OpenBLAS) sgeqrf/sorgqr or the BLAS CholeskyQR; CUDA: cuSOLVER / cuBLAS on the
/// context's stream with a workspace the context keeps (grow-only); cuSOLVER's info and the
/// CholeskyQR decision are read back, so a CUDA call synchronizes the context's stream (unlike
/// the element-wise fills, which never do).
/// Errors: rank < batch_dims + 2, batch_dims < 0, gain not finite or beyond the dtype's range,
/// Status::numerical when a factorization fails (never for Gaussian input in practice).
OrthogonalInfo orthogonal(Context& ctx, const TensorView& t, Key key, const OrthogonalOptions& opt = {});

struct DeltaOrthogonalOptions {
  double gain = 1.0;
  bool allow_even = false;  ///< even kernel sizes: false = error; true = the tap at k / 2, as JAX and dirac
  OrthogonalPath path = OrthogonalPath::automatic;
};
/// Delta-orthogonal for a (out, in, k...) convolution weight of rank 3 to 5 with in <= out (Xiao et al.
/// 2018, JAX's delta_orthogonal in PyTorch's layout): every tap is 0 except the centre one
/// (k_s / 2 along each spatial dim), which is orthogonal() of the (out, in) matrix (orthonormal
/// columns, so the convolution is an isometry at initialization), times gain.
/// Errors: rank outside 3..5, in > out, an even kernel size unless allow_even, gain not finite.
OrthogonalInfo delta_orthogonal(Context& ctx, const TensorView& t, Key key, const DeltaOrthogonalOptions& opt = {});

/// Replaces an existing weight W (rows = dim 0, cols = the rest) by gain times the orthogonal factor
/// of its QR with a positive diagonal of R -- what Gram-Schmidt orthogonalization of W's columns
/// (rows >= cols) or rows (rows < cols) gives -- keeping the orientation. Works in f64 for every dtype;
/// `automatic` means Householder here (an arbitrary weight may be ill-conditioned).
/// Errors: a window (the whole weight is needed), rank < 2, non-finite entries, a numerically rank
/// deficient W (Status::numerical when min |R_jj| / max |R_jj| < 2 max(rows, cols) 2^-52, or
/// 2 max(rows, cols) 2^-26 on a forced Cholesky path: its Q is not determined by W), gain not finite.
OrthogonalInfo orthogonalize(Context& ctx, const TensorView& t, double gain = 1.0,
                             OrthogonalPath path = OrthogonalPath::automatic);

/// The raw 32-bit words of a stream on the host: out[k] = word (first + k) % 4 of Philox call
/// (first + k) / 4. For reproducing paraminit's values elsewhere.
void philox_bits(Key key, std::uint64_t first_index, std::uint64_t count, std::uint32_t* out);

}  // namespace paraminit
