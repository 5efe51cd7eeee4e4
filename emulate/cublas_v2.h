// The emulated cuBLAS (see cuda_runtime.h beside this file): the calls paraminit's CUDA drivers
// make, over the host's BLAS (emulated_blas.cpp), with the cuBLAS API reference's semantics:
// column-major operands, leading dimensions, CUBLAS_OP_*, fill modes, the 64-bit (_64) entry points,
// host pointer mode for alpha and beta, work ordered on the handle's stream. Bad arguments return
// CUBLAS_STATUS_INVALID_VALUE as the real library does; an operand range outside its device
// allocation (which the real library would read or write out of bounds) is refused the same way.
#pragma once

#include <cstdint>

#include "cuda_runtime.h"

enum cublasStatus_t {
  CUBLAS_STATUS_SUCCESS = 0,
  CUBLAS_STATUS_NOT_INITIALIZED = 1,
  CUBLAS_STATUS_ALLOC_FAILED = 3,
  CUBLAS_STATUS_INVALID_VALUE = 7,
  CUBLAS_STATUS_ARCH_MISMATCH = 8,
  CUBLAS_STATUS_MAPPING_ERROR = 11,
  CUBLAS_STATUS_EXECUTION_FAILED = 13,
  CUBLAS_STATUS_INTERNAL_ERROR = 14,
  CUBLAS_STATUS_NOT_SUPPORTED = 15,
};
enum cublasOperation_t { CUBLAS_OP_N = 0, CUBLAS_OP_T = 1, CUBLAS_OP_C = 2 };
enum cublasFillMode_t { CUBLAS_FILL_MODE_LOWER = 0, CUBLAS_FILL_MODE_UPPER = 1, CUBLAS_FILL_MODE_FULL = 2 };
enum cublasSideMode_t { CUBLAS_SIDE_LEFT = 0, CUBLAS_SIDE_RIGHT = 1 };
enum cublasDiagType_t { CUBLAS_DIAG_NON_UNIT = 0, CUBLAS_DIAG_UNIT = 1 };
enum cublasMath_t {
  CUBLAS_DEFAULT_MATH = 0,
  CUBLAS_TENSOR_OP_MATH = 1,
  CUBLAS_PEDANTIC_MATH = 2,
  CUBLAS_TF32_TENSOR_OP_MATH = 3,
};

struct cublasContext;
using cublasHandle_t = cublasContext*;

cublasStatus_t cublasCreate(cublasHandle_t* handle);
cublasStatus_t cublasDestroy(cublasHandle_t handle);
cublasStatus_t cublasSetStream(cublasHandle_t handle, cudaStream_t stream);
cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode);
const char* cublasGetStatusString(cublasStatus_t status);

cublasStatus_t cublasSsyrk_v2_64(cublasHandle_t h, cublasFillMode_t uplo, cublasOperation_t trans, std::int64_t n, std::int64_t k,
                                 const float* alpha, const float* a, std::int64_t lda, const float* beta, float* c, std::int64_t ldc);
cublasStatus_t cublasDsyrk_v2_64(cublasHandle_t h, cublasFillMode_t uplo, cublasOperation_t trans, std::int64_t n, std::int64_t k,
                                 const double* alpha, const double* a, std::int64_t lda, const double* beta, double* c, std::int64_t ldc);
cublasStatus_t cublasStrsm_v2_64(cublasHandle_t h, cublasSideMode_t side, cublasFillMode_t uplo, cublasOperation_t trans,
                                 cublasDiagType_t diag, std::int64_t m, std::int64_t n, const float* alpha, const float* a,
                                 std::int64_t lda, float* b, std::int64_t ldb);
cublasStatus_t cublasDtrsm_v2_64(cublasHandle_t h, cublasSideMode_t side, cublasFillMode_t uplo, cublasOperation_t trans,
                                 cublasDiagType_t diag, std::int64_t m, std::int64_t n, const double* alpha, const double* a,
                                 std::int64_t lda, double* b, std::int64_t ldb);
cublasStatus_t cublasSgeam_64(cublasHandle_t h, cublasOperation_t transa, cublasOperation_t transb, std::int64_t m, std::int64_t n,
                              const float* alpha, const float* a, std::int64_t lda, const float* beta, const float* b, std::int64_t ldb,
                              float* c, std::int64_t ldc);
cublasStatus_t cublasDgeam_64(cublasHandle_t h, cublasOperation_t transa, cublasOperation_t transb, std::int64_t m, std::int64_t n,
                              const double* alpha, const double* a, std::int64_t lda, const double* beta, const double* b,
                              std::int64_t ldb, double* c, std::int64_t ldc);
cublasStatus_t cublasSgemm_64(cublasHandle_t h, cublasOperation_t transa, cublasOperation_t transb, std::int64_t m, std::int64_t n,
                              std::int64_t k, const float* alpha, const float* a, std::int64_t lda, const float* b, std::int64_t ldb,
                              const float* beta, float* c, std::int64_t ldc);
