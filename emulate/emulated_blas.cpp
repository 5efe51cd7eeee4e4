// The emulated cuBLAS and cuSOLVER (cublas_v2.h, cusolverDn.h beside this file) over the host's
// Fortran BLAS/LAPACK (OpenBLAS, LP64). Each call checks its arguments as the NVIDIA API reference
// states (section named at each function), checks that every matrix operand lies inside one device
// allocation of the current device, then runs on the handle's stream (eagerly, or recorded while the
// stream is captured). Dimensions beyond 32 bits are not emulated (CUBLAS_STATUS_NOT_SUPPORTED):
// the host BLAS is LP64; the library's tests stay far below that.
#include <climits>
#include <cstring>
#include <limits>
#include <vector>

#include "cublas_v2.h"
#include "cusolverDn.h"

extern "C" {
void ssyrk_(const char*, const char*, const int*, const int*, const float*, const float*, const int*, const float*, float*, const int*);
void dsyrk_(const char*, const char*, const int*, const int*, const double*, const double*, const int*, const double*, double*,
            const int*);
void strsm_(const char*, const char*, const char*, const char*, const int*, const int*, const float*, const float*, const int*, float*,
            const int*);
void dtrsm_(const char*, const char*, const char*, const char*, const int*, const int*, const double*, const double*, const int*,
            double*, const int*);
void sgemm_(const char*, const char*, const int*, const int*, const int*, const float*, const float*, const int*, const float*,
            const int*, const float*, float*, const int*);
void spotrf_(const char*, const int*, float*, const int*, int*);
void dpotrf_(const char*, const int*, double*, const int*, int*);
void sgeqrf_(const int*, const int*, float*, const int*, float*, float*, const int*, int*);
void dgeqrf_(const int*, const int*, double*, const int*, double*, double*, const int*, int*);
void sorgqr_(const int*, const int*, const int*, float*, const int*, const float*, float*, const int*, int*);
void dorgqr_(const int*, const int*, const int*, double*, const int*, const double*, double*, const int*, int*);
}

struct cublasContext {
  cudaStream_t stream = nullptr;
  cublasMath_t math = CUBLAS_DEFAULT_MATH;
};
struct cusolverDnContext {
  cudaStream_t stream = nullptr;
};
struct cusolverDnParams {};

namespace {

using std::int64_t;

bool fits(int64_t v) { return v >= 0 && v <= INT_MAX; }
// Elements a column-major (rows x cols, ld) operand spans.
std::size_t span(int64_t rows, int64_t cols, int64_t ld) {
  return rows == 0 || cols == 0 ? 0 : static_cast<std::size_t>(ld * (cols - 1) + rows);
}
template <class T>
bool operand(const T* p, int64_t rows, int64_t cols, int64_t ld) {
  const std::size_t n = span(rows, cols, ld);
  return n == 0 || paraminit_emu::device_range(p, n * sizeof(T));
}
const char* op_char(cublasOperation_t t) { return t == CUBLAS_OP_N ? "N" : "T"; }
bool valid_op(cublasOperation_t t) { return t == CUBLAS_OP_N || t == CUBLAS_OP_T || t == CUBLAS_OP_C; }
bool valid_fill(cublasFillMode_t f) { return f == CUBLAS_FILL_MODE_LOWER || f == CUBLAS_FILL_MODE_UPPER; }
const char* fill_char(cublasFillMode_t f) { return f == CUBLAS_FILL_MODE_UPPER ? "U" : "L"; }

cublasStatus_t run(cublasHandle_t h, std::function<void()> work) {
  return paraminit_emu::submit(h->stream, std::move(work)) == cudaSuccess ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_EXECUTION_FAILED;
}

void syrk(const char* u, const char* t, const int* n, const int* k, const float* al, const float* a, const int* lda, const float* be,
          float* c, const int* ldc) {
  ssyrk_(u, t, n, k, al, a, lda, be, c, ldc);
}
void syrk(const char* u, const char* t, const int* n, const int* k, const double* al, const double* a, const int* lda,
          const double* be, double* c, const int* ldc) {
  dsyrk_(u, t, n, k, al, a, lda, be, c, ldc);
}
void trsm(const char* s, const char* u, const char* t, const char* d, const int* m, const int* n, const float* al, const float* a,
          const int* lda, float* b, const int* ldb) {
  strsm_(s, u, t, d, m, n, al, a, lda, b, ldb);
}
void trsm(const char* s, const char* u, const char* t, const char* d, const int* m, const int* n, const double* al, const double* a,
          const int* lda, double* b, const int* ldb) {
  dtrsm_(s, u, t, d, m, n, al, a, lda, b, ldb);
}

// cuBLAS Level-3 <t>syrk: C = alpha op(A) op(A)^T + beta C, op(A) n x k; A is n x k (lda >= max(1, n))
// for OP_N, k x n (lda >= max(1, k)) otherwise; ldc >= max(1, n); only the uplo triangle of C is written.
template <class T>
cublasStatus_t syrk64(cublasHandle_t h, cublasFillMode_t uplo, cublasOperation_t trans, int64_t n, int64_t k, const T* alpha,
                      const T* a, int64_t lda, const T* beta, T* c, int64_t ldc) {
  if (h == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  const int64_t arows = trans == CUBLAS_OP_N ? n : k, acols = trans == CUBLAS_OP_N ? k : n;
  if (!valid_fill(uplo) || !valid_op(trans) || n < 0 || k < 0 || lda < std::max<int64_t>(1, arows) || ldc < std::max<int64_t>(1, n) ||
      alpha == nullptr || beta == nullptr)
    return CUBLAS_STATUS_INVALID_VALUE;
  if (!fits(n) || !fits(k) || !fits(lda) || !fits(ldc)) return CUBLAS_STATUS_NOT_SUPPORTED;
  if (!operand(a, arows, acols, lda) || !operand(c, n, n, ldc)) return CUBLAS_STATUS_INVALID_VALUE;
  if (n == 0) return CUBLAS_STATUS_SUCCESS;
  const T al = *alpha, be = *beta;  // host pointer mode: read at the call
  return run(h, [=] {
    const int ni = static_cast<int>(n), ki = static_cast<int>(k), la = static_cast<int>(lda), lc = static_cast<int>(ldc);
    syrk(fill_char(uplo), op_char(trans), &ni, &ki, &al, a, &la, &be, c, &lc);
  });
}

// cuBLAS Level-3 <t>trsm: solves op(A) X = alpha B (SIDE_LEFT, A m x m) or X op(A) = alpha B
// (SIDE_RIGHT, A n x n), X overwriting B (m x n, ldb >= max(1, m)); lda >= max(1, order of A).
template <class T>
cublasStatus_t trsm64(cublasHandle_t h, cublasSideMode_t side, cublasFillMode_t uplo, cublasOperation_t trans, cublasDiagType_t diag,
                      int64_t m, int64_t n, const T* alpha, const T* a, int64_t lda, T* b, int64_t ldb) {
  if (h == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  const int64_t order = side == CUBLAS_SIDE_LEFT ? m : n;
  if ((side != CUBLAS_SIDE_LEFT && side != CUBLAS_SIDE_RIGHT) || !valid_fill(uplo) || !valid_op(trans) ||
      (diag != CUBLAS_DIAG_UNIT && diag != CUBLAS_DIAG_NON_UNIT) || m < 0 || n < 0 || lda < std::max<int64_t>(1, order) ||
      ldb < std::max<int64_t>(1, m) || alpha == nullptr)
    return CUBLAS_STATUS_INVALID_VALUE;
  if (!fits(m) || !fits(n) || !fits(lda) || !fits(ldb)) return CUBLAS_STATUS_NOT_SUPPORTED;
  if (!operand(a, order, order, lda) || !operand(b, m, n, ldb)) return CUBLAS_STATUS_INVALID_VALUE;
  if (m == 0 || n == 0) return CUBLAS_STATUS_SUCCESS;
  const T al = *alpha;
  return run(h, [=] {
    const int mi = static_cast<int>(m), ni = static_cast<int>(n), la = static_cast<int>(lda), lb = static_cast<int>(ldb);
    trsm(side == CUBLAS_SIDE_LEFT ? "L" : "R", fill_char(uplo), op_char(trans), diag == CUBLAS_DIAG_UNIT ? "U" : "N", &mi, &ni, &al, a,
         &la, b, &lb);
  });
}

// cuBLAS BLAS-like extension <t>geam: C = alpha op(A) + beta op(B), all m x n after op; A is m x n
// (lda >= max(1, m)) for OP_N, n x m (lda >= max(1, n)) otherwise, likewise B; ldc >= max(1, m).
// In place only as C = alpha C + beta op(B) (C == A: lda == ldc, transa == N) or C = alpha op(A) +
// beta C (C == B: ldb == ldc, transb == N), else CUBLAS_STATUS_INVALID_VALUE. When beta == 0, B need
// not be a valid input (it is not read); likewise A when alpha == 0.
template <class T>
cublasStatus_t geam64(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int64_t m, int64_t n, const T* alpha, const T* a,
                      int64_t lda, const T* beta, const T* b, int64_t ldb, T* c, int64_t ldc) {
  if (h == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (!valid_op(ta) || !valid_op(tb) || m < 0 || n < 0 || alpha == nullptr || beta == nullptr || ldc < std::max<int64_t>(1, m))
    return CUBLAS_STATUS_INVALID_VALUE;
  const T al = *alpha, be = *beta;
  const int64_t ar = ta == CUBLAS_OP_N ? m : n, ac = ta == CUBLAS_OP_N ? n : m;
  const int64_t br = tb == CUBLAS_OP_N ? m : n, bc = tb == CUBLAS_OP_N ? n : m;
  if ((al != T(0) && lda < std::max<int64_t>(1, ar)) || (be != T(0) && ldb < std::max<int64_t>(1, br)))
    return CUBLAS_STATUS_INVALID_VALUE;
  if ((c == a && al != T(0) && (lda != ldc || ta != CUBLAS_OP_N)) || (c == b && be != T(0) && (ldb != ldc || tb != CUBLAS_OP_N)))
    return CUBLAS_STATUS_INVALID_VALUE;
  if ((al != T(0) && !operand(a, ar, ac, lda)) || (be != T(0) && !operand(b, br, bc, ldb)) || !operand(c, m, n, ldc))
    return CUBLAS_STATUS_INVALID_VALUE;
  return run(h, [=] {
    for (int64_t j = 0; j < n; ++j)
      for (int64_t i = 0; i < m; ++i) {
        T v = T(0);
        if (al != T(0)) v = al * (ta == CUBLAS_OP_N ? a[i + j * lda] : a[j + i * lda]);
        if (be != T(0)) v = v + be * (tb == CUBLAS_OP_N ? b[i + j * ldb] : b[j + i * ldb]);
        c[i + j * ldc] = v;
      }
  });
}

}  // namespace

const char* cublasGetStatusString(cublasStatus_t s) {
  switch (s) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    default: return "CUBLAS_STATUS_INTERNAL_ERROR";
  }
}
cublasStatus_t cublasCreate(cublasHandle_t* h) {
  if (h == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
  *h = new cublasContext;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasDestroy(cublasHandle_t h) {
  if (h == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  delete h;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetStream(cublasHandle_t h, cudaStream_t s) {
  if (h == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  h->stream = s;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetMathMode(cublasHandle_t h, cublasMath_t mode) {
  if (h == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  h->math = mode;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSsyrk_v2_64(cublasHandle_t h, cublasFillMode_t uplo, cublasOperation_t trans, int64_t n, int64_t k,
                                 const float* alpha, const float* a, int64_t lda, const float* beta, float* c, int64_t ldc) {
  return syrk64(h, uplo, trans, n, k, alpha, a, lda, beta, c, ldc);
}
cublasStatus_t cublasDsyrk_v2_64(cublasHandle_t h, cublasFillMode_t uplo, cublasOperation_t trans, int64_t n, int64_t k,
                                 const double* alpha, const double* a, int64_t lda, const double* beta, double* c, int64_t ldc) {
  return syrk64(h, uplo, trans, n, k, alpha, a, lda, beta, c, ldc);
}
cublasStatus_t cublasStrsm_v2_64(cublasHandle_t h, cublasSideMode_t side, cublasFillMode_t uplo, cublasOperation_t trans,
                                 cublasDiagType_t diag, int64_t m, int64_t n, const float* alpha, const float* a, int64_t lda, float* b,
                                 int64_t ldb) {
  return trsm64(h, side, uplo, trans, diag, m, n, alpha, a, lda, b, ldb);
}
cublasStatus_t cublasDtrsm_v2_64(cublasHandle_t h, cublasSideMode_t side, cublasFillMode_t uplo, cublasOperation_t trans,
                                 cublasDiagType_t diag, int64_t m, int64_t n, const double* alpha, const double* a, int64_t lda,
                                 double* b, int64_t ldb) {
  return trsm64(h, side, uplo, trans, diag, m, n, alpha, a, lda, b, ldb);
}
cublasStatus_t cublasSgeam_64(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int64_t m, int64_t n, const float* alpha,
                              const float* a, int64_t lda, const float* beta, const float* b, int64_t ldb, float* c, int64_t ldc) {
  return geam64(h, ta, tb, m, n, alpha, a, lda, beta, b, ldb, c, ldc);
}
cublasStatus_t cublasDgeam_64(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int64_t m, int64_t n, const double* alpha,
                              const double* a, int64_t lda, const double* beta, const double* b, int64_t ldb, double* c, int64_t ldc) {
  return geam64(h, ta, tb, m, n, alpha, a, lda, beta, b, ldb, c, ldc);
}

// cuBLAS Level-3 <t>gemm: C = alpha op(A) op(B) + beta C with op(A) m x k, op(B) k x n, C m x n;
// lda >= max(1, m) for OP_N else max(1, k); ldb >= max(1, k) for OP_N else max(1, n); ldc >= max(1, m).
// CUBLAS_TF32_TENSOR_OP_MATH would round the inputs to TF32 on the GPU: emulated by rounding the
// operands' copies to 10 mantissa bits, so a caller that forgot the default math mode is caught.
cublasStatus_t cublasSgemm_64(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int64_t m, int64_t n, int64_t k,
                              const float* alpha, const float* a, int64_t lda, const float* b, int64_t ldb, const float* beta, float* c,
                              int64_t ldc) {
  if (h == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  const int64_t ar = ta == CUBLAS_OP_N ? m : k, ac = ta == CUBLAS_OP_N ? k : m;
  const int64_t br = tb == CUBLAS_OP_N ? k : n, bc = tb == CUBLAS_OP_N ? n : k;
  if (!valid_op(ta) || !valid_op(tb) || m < 0 || n < 0 || k < 0 || lda < std::max<int64_t>(1, ar) || ldb < std::max<int64_t>(1, br) ||
      ldc < std::max<int64_t>(1, m) || alpha == nullptr || beta == nullptr)
    return CUBLAS_STATUS_INVALID_VALUE;
  if (!fits(m) || !fits(n) || !fits(k) || !fits(lda) || !fits(ldb) || !fits(ldc)) return CUBLAS_STATUS_NOT_SUPPORTED;
  if (!operand(a, ar, ac, lda) || !operand(b, br, bc, ldb) || !operand(c, m, n, ldc)) return CUBLAS_STATUS_INVALID_VALUE;
  if (m == 0 || n == 0) return CUBLAS_STATUS_SUCCESS;
  const float al = *alpha, be = *beta;
  const bool tf32 = h->math == CUBLAS_TF32_TENSOR_OP_MATH;
  return run(h, [=] {
    const int mi = static_cast<int>(m), ni = static_cast<int>(n), ki = static_cast<int>(k);
    const int la = static_cast<int>(lda), lb = static_cast<int>(ldb), lc = static_cast<int>(ldc);
    if (!tf32) {
      sgemm_(op_char(ta), op_char(tb), &mi, &ni, &ki, &al, a, &la, b, &lb, &be, c, &lc);
      return;
    }
    auto round_tf32 = [](const float* p, std::size_t count) {
      std::vector<float> v(p, p + count);
      for (float& x : v) {
        std::uint32_t u;
        std::memcpy(&u, &x, 4);
        u = (u + 0x1000u) & ~0x1FFFu;
        std::memcpy(&x, &u, 4);
      }
      return v;
    };
    const std::vector<float> a32 = round_tf32(a, span(ar, ac, lda)), b32 = round_tf32(b, span(br, bc, ldb));
    sgemm_(op_char(ta), op_char(tb), &mi, &ni, &ki, &al, a32.data(), &la, b32.data(), &lb, &be, c, &lc);
  });
}

// ---- cuSOLVER ------------------------------------------------------------------------------------------------
namespace {

cusolverStatus_t solve(cusolverDnHandle_t h, std::function<void()> work) {
  return paraminit_emu::submit(h->stream, std::move(work)) == cudaSuccess ? CUSOLVER_STATUS_SUCCESS
                                                                         : CUSOLVER_STATUS_EXECUTION_FAILED;
}
bool real_type(cudaDataType t) { return t == CUDA_R_32F || t == CUDA_R_64F; }
std::size_t type_size(cudaDataType t) { return t == CUDA_R_64F ? 8 : 4; }
// devInfo must be device memory (the real call writes it from the device).
bool info_ok(const int* info) { return paraminit_emu::device_range(info, sizeof(int)); }

// The emulated workspace of potrf: n elements (the real one is an implementation detail; any
// nonzero size makes the caller's sizing and passing of the workspace observable).
std::size_t potrf_bytes(int64_t n, cudaDataType t) { return static_cast<std::size_t>(std::max<int64_t>(n, 1)) * type_size(t); }
// geqrf's: LAPACK's own optimal work size (lwork = -1 query), in bytes.
template <class T>
std::size_t geqrf_bytes(int64_t m, int64_t n) {
  const int mi = static_cast<int>(m), ni = static_cast<int>(n), lda = std::max(1, mi), q = -1;
  T work = 0;
  int info = 0;
  if constexpr (std::is_same_v<T, float>) sgeqrf_(&mi, &ni, nullptr, &lda, nullptr, &work, &q, &info);
  else dgeqrf_(&mi, &ni, nullptr, &lda, nullptr, &work, &q, &info);
  return static_cast<std::size_t>(std::max<T>(work, T(1))) * sizeof(T);
}
template <class T>
int orgqr_elems(int m, int n, int k) {
  const int lda = std::max(1, m), q = -1;
  T work = 0;
  int info = 0;
  if constexpr (std::is_same_v<T, float>) sorgqr_(&m, &n, &k, nullptr, &lda, nullptr, &work, &q, &info);
  else dorgqr_(&m, &n, &k, nullptr, &lda, nullptr, &work, &q, &info);
  return std::max(1, static_cast<int>(work));
}

}  // namespace

cusolverStatus_t cusolverDnCreate(cusolverDnHandle_t* h) {
  if (h == nullptr) return CUSOLVER_STATUS_INVALID_VALUE;
  *h = new cusolverDnContext;
  return CUSOLVER_STATUS_SUCCESS;
}
cusolverStatus_t cusolverDnDestroy(cusolverDnHandle_t h) {
  if (h == nullptr) return CUSOLVER_STATUS_NOT_INITIALIZED;
  delete h;
  return CUSOLVER_STATUS_SUCCESS;
}
cusolverStatus_t cusolverDnSetStream(cusolverDnHandle_t h, cudaStream_t s) {
  if (h == nullptr) return CUSOLVER_STATUS_NOT_INITIALIZED;
  h->stream = s;
  return CUSOLVER_STATUS_SUCCESS;
}
cusolverStatus_t cusolverDnCreateParams(cusolverDnParams_t* p) {
  if (p == nullptr) return CUSOLVER_STATUS_INVALID_VALUE;
  *p = new cusolverDnParams;
  return CUSOLVER_STATUS_SUCCESS;
}
cusolverStatus_t cusolverDnDestroyParams(cusolverDnParams_t p) {
  delete p;
  return CUSOLVER_STATUS_SUCCESS;
}

// cuSOLVER dense, 64-bit API, cusolverDnXpotrf: Cholesky of the n x n (lda >= max(1, n)) matrix's
// uplo triangle in place; info = 0, or i > 0 when the leading minor of order i is not positive
// definite. CUSOLVER_STATUS_INVALID_VALUE for n < 0 or lda < max(1, n).
cusolverStatus_t cusolverDnXpotrf_bufferSize(cusolverDnHandle_t h, cusolverDnParams_t params, cublasFillMode_t uplo, int64_t n,
                                             cudaDataType ta, const void*, int64_t lda, cudaDataType tc, std::size_t* dev_bytes,
                                             std::size_t* host_bytes) {
  if (h == nullptr) return CUSOLVER_STATUS_NOT_INITIALIZED;
  if (params == nullptr || !valid_fill(uplo) || n < 0 || lda < std::max<int64_t>(1, n) || !real_type(ta) || ta != tc ||
      dev_bytes == nullptr || host_bytes == nullptr)
    return CUSOLVER_STATUS_INVALID_VALUE;
  *dev_bytes = potrf_bytes(n, ta);
  *host_bytes = 0;
  return CUSOLVER_STATUS_SUCCESS;
}
cusolverStatus_t cusolverDnXpotrf(cusolverDnHandle_t h, cusolverDnParams_t params, cublasFillMode_t uplo, int64_t n, cudaDataType ta,
                                  void* a, int64_t lda, cudaDataType tc, void* ws, std::size_t ws_bytes, void*, std::size_t, int* info) {
  if (h == nullptr) return CUSOLVER_STATUS_NOT_INITIALIZED;
  if (params == nullptr || !valid_fill(uplo) || n < 0 || lda < std::max<int64_t>(1, n) || !real_type(ta) || ta != tc)
    return CUSOLVER_STATUS_INVALID_VALUE;
  if (!fits(n) || !fits(lda)) return CUSOLVER_STATUS_NOT_SUPPORTED;
  const std::size_t es = type_size(ta);
  if (!info_ok(info) || (n > 0 && !paraminit_emu::device_range(a, span(n, n, lda) * es)) ||
      (ws_bytes > 0 && !paraminit_emu::device_range(ws, ws_bytes)))
    return CUSOLVER_STATUS_INVALID_VALUE;
  const bool short_ws = ws_bytes < potrf_bytes(n, ta);
  return solve(h, [=] {
    if (short_ws) {
      *info = -10;  // the 10th parameter (workspaceInBytesOnDevice) is wrong
      return;
    }
    std::memset(ws, 0xA5, ws_bytes);  // the workspace is really used: all of it must be writable
    const int ni = static_cast<int>(n), la = static_cast<int>(lda);
    int r = 0;
    if (ta == CUDA_R_32F) spotrf_(fill_char(uplo), &ni, static_cast<float*>(a), &la, &r);
    else dpotrf_(fill_char(uplo), &ni, static_cast<double*>(a), &la, &r);
    *info = r;
  });
}

// cusolverDnXgeqrf: QR of the m x n (lda >= max(1, m)) matrix: R in the upper triangle, Householder
// vectors below it, tau (min(m, n) scalars). The device workspace is LAPACK's work array.
cusolverStatus_t cusolverDnXgeqrf_bufferSize(cusolverDnHandle_t h, cusolverDnParams_t params, int64_t m, int64_t n, cudaDataType ta,
                                             const void*, int64_t lda, cudaDataType ttau, const void*, cudaDataType tc,
                                             std::size_t* dev_bytes, std::size_t* host_bytes) {
  if (h == nullptr) return CUSOLVER_STATUS_NOT_INITIALIZED;
  if (params == nullptr || m < 0 || n < 0 || lda < std::max<int64_t>(1, m) || !real_type(ta) || ta != ttau || ta != tc ||
      dev_bytes == nullptr || host_bytes == nullptr)
    return CUSOLVER_STATUS_INVALID_VALUE;
  if (!fits(m) || !fits(n)) return CUSOLVER_STATUS_NOT_SUPPORTED;
  *dev_bytes = ta == CUDA_R_32F ? geqrf_bytes<float>(m, n) : geqrf_bytes<double>(m, n);
  *host_bytes = 0;
  return CUSOLVER_STATUS_SUCCESS;
}
cusolverStatus_t cusolverDnXgeqrf(cusolverDnHandle_t h, cusolverDnParams_t params, int64_t m, int64_t n, cudaDataType ta, void* a,
                                  int64_t lda, cudaDataType ttau, void* tau, cudaDataType tc, void* ws, std::size_t ws_bytes, void*,
                                  std::size_t, int* info) {
  if (h == nullptr) return CUSOLVER_STATUS_NOT_INITIALIZED;
  if (params == nullptr || m < 0 || n < 0 || lda < std::max<int64_t>(1, m) || !real_type(ta) || ta != ttau || ta != tc)
    return CUSOLVER_STATUS_INVALID_VALUE;
  if (!fits(m) || !fits(n) || !fits(lda)) return CUSOLVER_STATUS_NOT_SUPPORTED;
  const std::size_t es = type_size(ta);
  const int64_t k = std::min(m, n);
  if (!info_ok(info) || (m > 0 && n > 0 && !paraminit_emu::device_range(a, span(m, n, lda) * es)) ||
      (k > 0 && !paraminit_emu::device_range(tau, static_cast<std::size_t>(k) * es)) ||
      (ws_bytes > 0 && !paraminit_emu::device_range(ws, ws_bytes)))
    return CUSOLVER_STATUS_INVALID_VALUE;
  const std::size_t need = ta == CUDA_R_32F ? geqrf_bytes<float>(m, n) : geqrf_bytes<double>(m, n);
  return solve(h, [=] {
    if (ws_bytes < need) {
      *info = -11;  // the 11th parameter (workspaceInBytesOnDevice) is wrong
      return;
    }
    const int mi = static_cast<int>(m), ni = static_cast<int>(n), la = static_cast<int>(lda);
    const int lw = static_cast<int>(std::min<std::size_t>(ws_bytes / es, INT_MAX));
    int r = 0;
    if (ta == CUDA_R_32F) sgeqrf_(&mi, &ni, static_cast<float*>(a), &la, static_cast<float*>(tau), static_cast<float*>(ws), &lw, &r);
    else dgeqrf_(&mi, &ni, static_cast<double*>(a), &la, static_cast<double*>(tau), static_cast<double*>(ws), &lw, &r);
    *info = r;
  });
}

// Legacy API <t>orgqr: forms the m x n (m >= n >= k >= 0, lda >= max(1, m)) Q from geqrf's output;
// the buffer size is in elements; lwork below it gives devInfo = -8 (the 8th parameter, lwork).
namespace {
template <class T>
cusolverStatus_t orgqr_size(cusolverDnHandle_t h, int m, int n, int k, const T*, int lda, const T*, int* lwork) {
  if (h == nullptr) return CUSOLVER_STATUS_NOT_INITIALIZED;
  if (m < 0 || n < 0 || n > m || k < 0 || k > n || lda < std::max(1, m) || lwork == nullptr) return CUSOLVER_STATUS_INVALID_VALUE;
  *lwork = orgqr_elems<T>(m, n, k);
  return CUSOLVER_STATUS_SUCCESS;
}
template <class T>
cusolverStatus_t orgqr(cusolverDnHandle_t h, int m, int n, int k, T* a, int lda, const T* tau, T* work, int lwork, int* info) {
  if (h == nullptr) return CUSOLVER_STATUS_NOT_INITIALIZED;
  if (m < 0 || n < 0 || n > m || k < 0 || k > n || lda < std::max(1, m)) return CUSOLVER_STATUS_INVALID_VALUE;
  if (!info_ok(info) || (n > 0 && !paraminit_emu::device_range(a, span(m, n, lda) * sizeof(T))) ||
      (k > 0 && !paraminit_emu::device_range(tau, static_cast<std::size_t>(k) * sizeof(T))) ||
      (lwork > 0 && !paraminit_emu::device_range(work, static_cast<std::size_t>(lwork) * sizeof(T))))
    return CUSOLVER_STATUS_INVALID_VALUE;
  const int need = orgqr_elems<T>(m, n, k);
  return solve(h, [=] {
    if (lwork < need) {
      *info = -8;
      return;
    }
    int r = 0;
    if constexpr (std::is_same_v<T, float>) sorgqr_(&m, &n, &k, a, &lda, tau, work, &lwork, &r);
    else dorgqr_(&m, &n, &k, a, &lda, tau, work, &lwork, &r);
    *info = r;
  });
}
}  // namespace

cusolverStatus_t cusolverDnSorgqr_bufferSize(cusolverDnHandle_t h, int m, int n, int k, const float* a, int lda, const float* tau,
                                             int* lwork) {
  return orgqr_size(h, m, n, k, a, lda, tau, lwork);
}
cusolverStatus_t cusolverDnDorgqr_bufferSize(cusolverDnHandle_t h, int m, int n, int k, const double* a, int lda, const double* tau,
                                             int* lwork) {
  return orgqr_size(h, m, n, k, a, lda, tau, lwork);
}
cusolverStatus_t cusolverDnSorgqr(cusolverDnHandle_t h, int m, int n, int k, float* a, int lda, const float* tau, float* work, int lwork,
                                  int* info) {
  return orgqr(h, m, n, k, a, lda, tau, work, lwork, info);
}
cusolverStatus_t cusolverDnDorgqr(cusolverDnHandle_t h, int m, int n, int k, double* a, int lda, const double* tau, double* work,
                                  int lwork, int* info) {
  return orgqr(h, m, n, k, a, lda, tau, work, lwork, info);
}
