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

typedef enum { PI_F32 = 0, PI_F64, PI_F16, PI_BF16 } pi_dtype;

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

/* threads: 0 = all cores. */
pi_status pi_context_create_cpu(int32_t threads, pi_context** out);
/* cuda_stream: a cudaStream_t, or NULL for the legacy default stream. PI_ERR_UNSUPPORTED when
 * built without CUDA, PI_ERR_DEVICE when the device does not exist. */
pi_status pi_context_create_cuda(int32_t device, void* cuda_stream, pi_context** out);
void pi_context_destroy(pi_context* ctx); /* NULL is a no-op */

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
/* torch.nn.init.sparse_: ceil(sparsity * rows) zeros in each column of a 2-D tensor. */
pi_status pi_sparse_fraction(pi_context* ctx, const pi_tensor* t, pi_key key, double sparsity,
                             double std);

/* The stable name hash of DESIGN section 2: FNV-1a 64 of the bytes, then the SplitMix64 finalizer. */
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
