// The emulated cuSOLVER dense API (see cuda_runtime.h beside this file): the calls paraminit's CUDA
// drivers make, over the host's LAPACK (emulated_blas.cpp), with the cuSOLVER API reference's
// semantics: buffer-size queries (bytes for the 64-bit generic API, elements for the legacy
// <t>orgqr), the workspace the caller passes really used as LAPACK's work array (so a buffer
// shorter than claimed is an out-of-bounds write under AddressSanitizer), a workspace smaller than
// the query's answer refused with devInfo = -i (the i-th parameter, not counting the handle), and
// devInfo written to device memory on the handle's stream.
#pragma once

#include <cstddef>
#include <cstdint>

#include "cublas_v2.h"
#include "cuda_runtime.h"

enum cusolverStatus_t {
  CUSOLVER_STATUS_SUCCESS = 0,
  CUSOLVER_STATUS_NOT_INITIALIZED = 1,
  CUSOLVER_STATUS_ALLOC_FAILED = 2,
  CUSOLVER_STATUS_INVALID_VALUE = 3,
  CUSOLVER_STATUS_ARCH_MISMATCH = 4,
  CUSOLVER_STATUS_EXECUTION_FAILED = 6,
  CUSOLVER_STATUS_INTERNAL_ERROR = 7,
  CUSOLVER_STATUS_NOT_SUPPORTED = 15,
};

struct cusolverDnContext;
using cusolverDnHandle_t = cusolverDnContext*;
struct cusolverDnParams;
using cusolverDnParams_t = cusolverDnParams*;

cusolverStatus_t cusolverDnCreate(cusolverDnHandle_t* handle);
cusolverStatus_t cusolverDnDestroy(cusolverDnHandle_t handle);
cusolverStatus_t cusolverDnSetStream(cusolverDnHandle_t handle, cudaStream_t stream);
cusolverStatus_t cusolverDnCreateParams(cusolverDnParams_t* params);
cusolverStatus_t cusolverDnDestroyParams(cusolverDnParams_t params);

cusolverStatus_t cusolverDnXpotrf_bufferSize(cusolverDnHandle_t h, cusolverDnParams_t params, cublasFillMode_t uplo, std::int64_t n,
                                             cudaDataType dataTypeA, const void* a, std::int64_t lda, cudaDataType computeType,
                                             std::size_t* workspaceInBytesOnDevice, std::size_t* workspaceInBytesOnHost);
cusolverStatus_t cusolverDnXpotrf(cusolverDnHandle_t h, cusolverDnParams_t params, cublasFillMode_t uplo, std::int64_t n,
                                  cudaDataType dataTypeA, void* a, std::int64_t lda, cudaDataType computeType, void* bufferOnDevice,
                                  std::size_t workspaceInBytesOnDevice, void* bufferOnHost, std::size_t workspaceInBytesOnHost,
                                  int* info);
cusolverStatus_t cusolverDnXgeqrf_bufferSize(cusolverDnHandle_t h, cusolverDnParams_t params, std::int64_t m, std::int64_t n,
                                             cudaDataType dataTypeA, const void* a, std::int64_t lda, cudaDataType dataTypeTau,
                                             const void* tau, cudaDataType computeType, std::size_t* workspaceInBytesOnDevice,
                                             std::size_t* workspaceInBytesOnHost);
cusolverStatus_t cusolverDnXgeqrf(cusolverDnHandle_t h, cusolverDnParams_t params, std::int64_t m, std::int64_t n, cudaDataType dataTypeA,
                                  void* a, std::int64_t lda, cudaDataType dataTypeTau, void* tau, cudaDataType computeType,
                                  void* bufferOnDevice, std::size_t workspaceInBytesOnDevice, void* bufferOnHost,
                                  std::size_t workspaceInBytesOnHost, int* info);
cusolverStatus_t cusolverDnSorgqr_bufferSize(cusolverDnHandle_t h, int m, int n, int k, const float* a, int lda, const float* tau,
                                             int* lwork);
cusolverStatus_t cusolverDnDorgqr_bufferSize(cusolverDnHandle_t h, int m, int n, int k, const double* a, int lda, const double* tau,
                                             int* lwork);
cusolverStatus_t cusolverDnSorgqr(cusolverDnHandle_t h, int m, int n, int k, float* a, int lda, const float* tau, float* work, int lwork,
                                  int* info);
cusolverStatus_t cusolverDnDorgqr(cusolverDnHandle_t h, int m, int n, int k, double* a, int lda, const double* tau, double* work,
                                  int lwork, int* info);
