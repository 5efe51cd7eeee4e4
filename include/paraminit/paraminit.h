/* paraminit C API: the stable ABI for FFI users and scripts. C11, no CUDA headers needed.
 *
 * Every function validates all of its input before it writes memory and returns a status; on
 * failure pi_last_error() (thread-local) says what was wrong. Nothing prints or exits.
 * Random values are a pure function of (key.seed, key.stream, global element index); see
 * paraminit.hpp for each scheme's exact value set and Philox word use. */
#ifndef PARAMINIT_PARAMINIT_H
#define PARAMINIT_PARAMINIT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  PI_OK = 0,
  PI_ERR_INVALID_ARGUMENT,
  PI_ERR_UNSUPPORTED,
  PI_ERR_DEVICE,
  PI_ERR_OUT_OF_MEMORY,
  PI_ERR_NUMERICAL,
  PI_ERR_IO,
  PI_ERR_INTERNAL
} pi_status;

/* Every enum of this header has one enumerator *_INT32_ = INT32_MIN that is not a value: it makes
 * every int32 a value of the type in C++ too, so that a bad value from a C caller (or from another
 * language's FFI) is reported as PI_ERR_INVALID_ARGUMENT instead of being undefined behaviour. */
typedef enum { PI_F32 = 0, PI_F64, PI_F16, PI_BF16, PI_DTYPE_INT32_ = -0x7fffffff - 1 } pi_dtype;

typedef struct pi_context pi_context; /* opaque */

typedef struct {
  uint64_t seed, stream;
} pi_key;

typedef struct {
  void* data;
  pi_dtype dtype;
  int32_t rank;          /* 0..8 */
  int64_t shape[8];      /* this view's extents, row-major, contiguous */
  int32_t window_dim;    /* -1: the view is the whole parameter */
  int64_t window_start;  /* offset of the view along window_dim in the global tensor */
  int64_t global_extent; /* the global tensor's extent along window_dim */
} pi_tensor;

/* The message of the last failed call on this thread ("" if none). Never NULL. */
const char* pi_last_error(void);
/* "PI_OK", "PI_ERR_INVALID_ARGUMENT", ... ("PI_UNKNOWN_STATUS" for other values). Never NULL. */
const char* pi_status_string(pi_status s);
/* The library's version, "MAJOR.MINOR.PATCH" (static storage). Never NULL. */
const char* pi_version(void);

/* threads: 0 = all cores. */
pi_status pi_context_create_cpu(int32_t threads, pi_context** out);
/* cuda_stream: a cudaStream_t, or NULL for the legacy default stream. PI_ERR_UNSUPPORTED when
 * built without CUDA, PI_ERR_DEVICE when the device does not exist. */
pi_status pi_context_create_cuda(int32_t device, void* cuda_stream, pi_context** out);
void pi_context_destroy(pi_context* ctx); /* NULL is a no-op */
/* Later calls of a CUDA context run on cuda_stream (NULL: the legacy default stream); work already
 * queued on the previous stream is not waited for. A CPU context: PI_ERR_INVALID_ARGUMENT. */
pi_status pi_context_set_stream(pi_context* ctx, void* cuda_stream);

pi_status pi_constant(pi_context* ctx, const pi_tensor* t, double value);
/* Values in the open interval (low, high) in every dtype; U(-a, a) exactly symmetric. */
pi_status pi_uniform(pi_context* ctx, const pi_tensor* t, pi_key key, double low, double high);
pi_status pi_normal(pi_context* ctx, const pi_tensor* t, pi_key key, double mean, double std);
/* Bounds in absolute units (as torch.nn.init.trunc_normal_); values in [low, high]. */
pi_status pi_trunc_normal(pi_context* ctx, const pi_tensor* t, pi_key key, double mean, double std,
                          double low, double high);

/* Exactly nonzeros_per_unit non-zeros, normal(0, std), in every unit; units = dim 0 (rows). */
pi_status pi_sparse(pi_context* ctx, const pi_tensor* t, pi_key key, int64_t nonzeros_per_unit,
                    double std);
/* The values of the kept elements: normal(0, std), or uniform(-sqrt(3) std, sqrt(3) std). */
typedef enum { PI_SPARSE_NORMAL = 0, PI_SPARSE_UNIFORM, PI_SPARSE_VALUES_INT32_ = -0x7fffffff - 1 } pi_sparse_values;
/* pi_sparse with every option: units are the slices along unit_axis (negative: from the end). */
pi_status pi_sparse_ex(pi_context* ctx, const pi_tensor* t, pi_key key, int64_t nonzeros_per_unit, double std,
                       pi_sparse_values values, int32_t unit_axis);
/* torch.nn.init.sparse_: ceil(sparsity * rows) zeros in each column of a 2-D tensor. */
pi_status pi_sparse_fraction(pi_context* ctx, const pi_tensor* t, pi_key key, double sparsity,
                             double std);

/* ---- the scheme catalog (exact semantics: the C++ functions of the same names, paraminit.hpp) ---- */

typedef enum { PI_FAN_IN = 0, PI_FAN_OUT, PI_FAN_AVG, PI_FAN_MODE_INT32_ = -0x7fffffff - 1 } pi_fan_mode;
typedef enum { PI_DIST_UNIFORM = 0, PI_DIST_NORMAL, PI_DIST_TRUNCATED_NORMAL, PI_DISTRIBUTION_INT32_ = -0x7fffffff - 1 } pi_distribution;

/* Which axes hold a weight's inputs and outputs (negative: from the end); the receptive field is the
 * product of the other axes except the first num_batch_axes entries of batch_axes. Every function
 * taking a `const pi_fan_layout*` reads NULL as PyTorch's layout (in_axis 1, out_axis 0). */
typedef struct {
  int32_t in_axis, out_axis;
  int32_t num_batch_axes;
  int32_t batch_axes[8];
} pi_fan_layout;
pi_fan_layout pi_fan_layout_torch(void); /* (out, in, k...): in_axis 1, out_axis 0 */
pi_fan_layout pi_fan_layout_jax(void);   /* (in, out), HWIO: in_axis -2, out_axis -1 */
/* Fans from the global shape of t. Any of the outputs may be NULL. */
pi_status pi_compute_fans(const pi_tensor* t, const pi_fan_layout* layout, int64_t* fan_in, int64_t* fan_out,
                          int64_t* receptive_field);

/* Gains by activation name ("linear", "relu", "leaky_relu", "tanh", "gelu", "silu", ...). param: the
 * slope / alpha / beta, or NAN (math.h) for the default. pi_calculate_gain: PyTorch's table where it
 * has the activation, else the quadrature gain 1/sqrt(E[f(z)^2]). */
pi_status pi_calculate_gain(const char* nonlinearity, double param, double* gain);
pi_status pi_quadrature_gain(const char* nonlinearity, double param, double* gain);

pi_status pi_variance_scaling(pi_context* ctx, const pi_tensor* t, pi_key key, double scale, pi_fan_mode mode,
                              pi_distribution distribution, const pi_fan_layout* layout);
pi_status pi_lecun_uniform(pi_context* ctx, const pi_tensor* t, pi_key key, const pi_fan_layout* layout);
pi_status pi_lecun_normal(pi_context* ctx, const pi_tensor* t, pi_key key, int32_t truncated,
                          const pi_fan_layout* layout);
pi_status pi_glorot_uniform(pi_context* ctx, const pi_tensor* t, pi_key key, double gain,
                            const pi_fan_layout* layout);
pi_status pi_glorot_normal(pi_context* ctx, const pi_tensor* t, pi_key key, double gain, int32_t truncated,
                           const pi_fan_layout* layout);
/* nonlinearity NULL: "leaky_relu" (PyTorch's kaiming default, gain sqrt(2 / (1 + a^2))). */
pi_status pi_he_uniform(pi_context* ctx, const pi_tensor* t, pi_key key, double a, pi_fan_mode mode,
                        const char* nonlinearity, const pi_fan_layout* layout);
pi_status pi_he_normal(pi_context* ctx, const pi_tensor* t, pi_key key, double a, pi_fan_mode mode,
                       const char* nonlinearity, int32_t truncated, const pi_fan_layout* layout);
/* U(-1/sqrt(m), 1/sqrt(m)); fan_in > 0 overrides m (a bias given its weight's fan_in). */
pi_status pi_fan_in_uniform(pi_context* ctx, const pi_tensor* t, pi_key key, int64_t fan_in,
                            const pi_fan_layout* layout);
pi_status pi_eye(pi_context* ctx, const pi_tensor* t, double gain);
pi_status pi_dirac(pi_context* ctx, const pi_tensor* t, int64_t groups, double gain);

typedef enum {
  PI_GATES_TORCH_LSTM = 0, /* i, f, g, o */
  PI_GATES_TORCH_GRU,      /* r, z, n */
  PI_GATES_KERAS_LSTM,     /* i, f, c, o */
  PI_GATES_KERAS_GRU,      /* z, r, h */
  PI_GATES_CUDNN_LSTM,     /* i, f, c, o, i', f', c', o' */
  PI_GATES_CUDNN_GRU,      /* r, z, n, r', z', n' */
  PI_GATE_LAYOUT_INT32_ = -0x7fffffff - 1 /* not a value: see pi_dtype */
} pi_gate_layout;
/* value in the forget (LSTM) / update (GRU) block, others elsewhere; gates along the last dimension. */
pi_status pi_gate_bias(pi_context* ctx, const pi_tensor* t, pi_gate_layout layout, double value, double others);

typedef enum { PI_OUTPUT_SOFTMAX = 0, PI_OUTPUT_SIGMOID, PI_OUTPUT_IDENTITY, PI_OUTPUT_ACTIVATION_INT32_ = -0x7fffffff - 1 } pi_output_activation;
/* softmax: log p (centered != 0: minus its mean); sigmoid: logit(p); identity: the means.
 * n = the global element count of t. */
pi_status pi_output_bias(pi_context* ctx, const pi_tensor* t, const double* stats, int64_t n,
                         pi_output_activation activation, int32_t centered);

typedef enum {
  PI_SCALE_VARIANCE = 0,
  PI_SCALE_PRECISION,
  PI_SCALE_STD,
  PI_SCALE_LOG_VARIANCE,
  PI_SCALE_LOG_STD,
  PI_SCALE_PARAMETER_INT32_ = -0x7fffffff - 1 /* not a value: see pi_dtype */
} pi_scale_parameter;
/* From variances[k] (n = the global element count), or from variance 1 when variances is NULL. */
pi_status pi_variance_parameter(pi_context* ctx, const pi_tensor* t, pi_scale_parameter kind,
                                const double* variances, int64_t n);

/* ---- the orthogonal family (semantics: paraminit.hpp) ---- */
typedef enum {
  PI_ORTHO_AUTOMATIC = 0, /* CholeskyQR where rows/cols >= 4 (or the inverse), else Householder */
  PI_ORTHO_HOUSEHOLDER,
  PI_ORTHO_CHOLESKY_QR,   /* one pass, measured; a second pass or Householder when the bound is missed */
  PI_ORTHO_CHOLESKY_QR2,
  PI_ORTHOGONAL_PATH_INT32_ = -0x7fffffff - 1 /* not a value: see pi_dtype */
} pi_orthogonal_path;
/* What an orthogonal call did (for a batch: the worst over its matrices). */
typedef struct {
  pi_orthogonal_path path;     /* as run: PI_ORTHO_HOUSEHOLDER, _CHOLESKY_QR or _CHOLESKY_QR2 */
  int32_t cholesky_passes;
  double orthogonality_error;  /* measured max |Q^T Q - I| before the gain; -1: not measured */
} pi_orthogonal_info;

/* Rows = dim 0, cols = the rest; Haar distributed (sign of diag R), transposed when rows < cols. */
pi_status pi_orthogonal(pi_context* ctx, const pi_tensor* t, pi_key key, double gain);
/* batch_dims leading dims index independent matrices (stream of matrix k: pi_batch_stream). */
pi_status pi_orthogonal_ex(pi_context* ctx, const pi_tensor* t, pi_key key, double gain, pi_orthogonal_path path,
                           int32_t batch_dims);
/* pi_orthogonal_ex that also reports what it did; info may be NULL (written only on PI_OK). */
pi_status pi_orthogonal_with_info(pi_context* ctx, const pi_tensor* t, pi_key key, double gain, pi_orthogonal_path path,
                                  int32_t batch_dims, pi_orthogonal_info* info);
uint64_t pi_batch_stream(uint64_t stream, uint64_t k);
/* (out, in, k...) with in <= out: the centre tap orthogonal, the rest 0. allow_even != 0 accepts even kernels. */
pi_status pi_delta_orthogonal(pi_context* ctx, const pi_tensor* t, pi_key key, double gain, int32_t allow_even);
pi_status pi_delta_orthogonal_with_info(pi_context* ctx, const pi_tensor* t, pi_key key, double gain, int32_t allow_even,
                                        pi_orthogonal_path path, pi_orthogonal_info* info);
/* In place: the orthogonal factor (positive diag R) of the tensor's own values, times gain. */
pi_status pi_orthogonalize(pi_context* ctx, const pi_tensor* t, double gain);
/* PI_ORTHO_AUTOMATIC means Householder here (an arbitrary weight may be ill-conditioned). */
pi_status pi_orthogonalize_with_info(pi_context* ctx, const pi_tensor* t, double gain, pi_orthogonal_path path,
                                     pi_orthogonal_info* info);

/* The stable name hash, fixed forever and equal to paraminit::stream_for_name: FNV-1a 64 of the
 * bytes, then the SplitMix64 finalizer. */
uint64_t pi_stream_for_name(const char* name);
/* Host: out[k] = word (first_index + k) % 4 of Philox4x32-10 call (first_index + k) / 4 of key. */
pi_status pi_philox_bits(pi_key key, uint64_t first_index, uint64_t count, uint32_t* out);

/* Convenience: a whole-parameter view (window_dim = -1). rank > 8 or a NULL shape with rank > 0
 * give a view that every fill rejects with PI_ERR_INVALID_ARGUMENT. */
pi_tensor pi_tensor_make(void* data, pi_dtype dtype, int32_t rank, const int64_t* shape);

#ifdef __cplusplus
}
#endif

#endif /* PARAMINIT_PARAMINIT_H */
