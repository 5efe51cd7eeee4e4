// The orthogonal family on CUDA: the same driver as the CPU (host/orthogonal.hpp) over cuBLAS
// (syrk, trsm, geam) and cuSOLVER (Xpotrf, Xgeqrf, orgqr) on the context's stream, with a
// workspace the context keeps (grow-only, stream-ordered cudaMallocAsync) and one fused gather
// kernel for sign, gain, transpose, dtype and window.
//
// Napkin math (H200, f32): CholeskyQR of 65536 x 4096 is syrk + trsm + syrk = 3 m n^2 = 3.3 TFLOP,
// ~0.1 s at ~40 TFLOP/s of FP32 SIMT math; Householder geqrf + orgqr is 4 m n^2 - 4/3 n^3 = 4.3 TFLOP
// at the lower efficiency of panel factorizations. 8192^2 Householder: 2.9 TFLOP.
//
// Synchronization: cuSOLVER's info, the Cholesky diagonal and the measured orthogonality come back
// to the host, so each matrix synchronizes the context's stream (documented in paraminit.hpp).
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cusolverDn.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <cmath>
#include <string>
#include <vector>

#include "../host/fills.hpp"
#include "../host/orthogonal.hpp"
#include "cuda_blas.cuh"
#include "cuda_util.cuh"

namespace paraminit {
namespace detail {
namespace {

using kernels::DeviceGuard;
using kernels::FillPolicy;

void check_cusolver(cusolverStatus_t s, const char* call) {
  if (s != CUSOLVER_STATUS_SUCCESS)
    fail(s == CUSOLVER_STATUS_ALLOC_FAILED ? Status::out_of_memory : Status::device,
         std::string("paraminit: ") + call + ": cuSOLVER status " + std::to_string(static_cast<int>(s)));
}
void check_cuda(cudaError_t e, const char* call) { DeviceGuard::check(e, call); }

// A grow-only device allocation, stream-ordered (no device-wide synchronization when it grows).
struct DeviceArena {
  void* p = nullptr;
  std::size_t bytes = 0;
  void* get(std::size_t need, cudaStream_t s, const char* what) {
    if (need <= bytes) return p;
    if (p != nullptr) check_cuda(cudaFreeAsync(p, s), "cudaFreeAsync");
    p = nullptr;
    bytes = 0;
    const cudaError_t e = cudaMallocAsync(&p, need, s);
    if (e != cudaSuccess) {
      (void)cudaGetLastError();
      fail(Status::out_of_memory, std::string("paraminit: cudaMallocAsync of ") + std::to_string(need) + " bytes for " + what +
                                      " failed: " + cudaGetErrorString(e));
    }
    bytes = need;
    return p;
  }
};

// Everything the orthogonal family keeps in a CUDA context.
struct LinalgState {
  int device = 0;
  cublasHandle_t blas = nullptr;
  cusolverDnHandle_t solver = nullptr;
  cusolverDnParams_t params = nullptr;
  DeviceArena work, scratch, gram, hh, info, reduce, diag, solver_ws;
  DeviceArena calibration;  // cuda/calibrate.cu's activations and statistics
  std::vector<unsigned char> host_ws;
  void* stream = nullptr;  // the context's stream, for the destructor's synchronization
  // Never throws (a destructor): the last kernels may still read the workspace, so the stream is
  // synchronized before anything is freed; errors are ignored.
  // The DeviceGuard restores the caller's own context (cudaSetDevice(prev) would create a primary
  // context on a device the caller never used); if even switching fails, nothing can be freed safely.
  ~LinalgState() {
    try {
      const DeviceGuard guard(device);
      (void)cudaStreamSynchronize(static_cast<cudaStream_t>(stream));
      if (params != nullptr) (void)cusolverDnDestroyParams(params);
      if (solver != nullptr) (void)cusolverDnDestroy(solver);
      if (blas != nullptr) (void)cublasDestroy(blas);
      for (DeviceArena* a : {&work, &scratch, &gram, &hh, &info, &reduce, &diag, &solver_ws, &calibration})
        if (a->p != nullptr) (void)cudaFree(a->p);
    } catch (...) {
    }
    (void)cudaGetLastError();
  }
};

LinalgState& linalg(ContextImpl& ctx) {
  if (!ctx.linalg) {
    auto st = std::make_shared<LinalgState>();
    st->device = ctx.device;
    check_cublas(cublasCreate(&st->blas), "cublasCreate");
    check_cusolver(cusolverDnCreate(&st->solver), "cusolverDnCreate");
    check_cusolver(cusolverDnCreateParams(&st->params), "cusolverDnCreateParams");
    ctx.linalg = st;
  }
  auto& st = *static_cast<LinalgState*>(ctx.linalg.get());
  st.stream = ctx.stream;
  const auto s = static_cast<cudaStream_t>(ctx.stream);
  check_cublas(cublasSetStream(st.blas, s), "cublasSetStream");
  check_cusolver(cusolverDnSetStream(st.solver, s), "cusolverDnSetStream");
  return st;
}

template <class T> constexpr cudaDataType kType = CUDA_R_32F;
template <> constexpr cudaDataType kType<double> = CUDA_R_64F;

cublasStatus_t syrk64(cublasHandle_t h, cublasOperation_t tr, std::int64_t n, std::int64_t k, const float* a, std::int64_t lda, float* c, std::int64_t ldc) {
  const float one = 1, zero = 0;
  return cublasSsyrk_v2_64(h, CUBLAS_FILL_MODE_UPPER, tr, n, k, &one, a, lda, &zero, c, ldc);
}
cublasStatus_t syrk64(cublasHandle_t h, cublasOperation_t tr, std::int64_t n, std::int64_t k, const double* a, std::int64_t lda, double* c, std::int64_t ldc) {
  const double one = 1, zero = 0;
  return cublasDsyrk_v2_64(h, CUBLAS_FILL_MODE_UPPER, tr, n, k, &one, a, lda, &zero, c, ldc);
}
cublasStatus_t trsm64(cublasHandle_t h, cublasSideMode_t side, cublasOperation_t tr, std::int64_t m, std::int64_t n, const float* a, std::int64_t lda, float* b, std::int64_t ldb) {
  const float one = 1;
  return cublasStrsm_v2_64(h, side, CUBLAS_FILL_MODE_UPPER, tr, CUBLAS_DIAG_NON_UNIT, m, n, &one, a, lda, b, ldb);
}
cublasStatus_t trsm64(cublasHandle_t h, cublasSideMode_t side, cublasOperation_t tr, std::int64_t m, std::int64_t n, const double* a, std::int64_t lda, double* b, std::int64_t ldb) {
  const double one = 1;
  return cublasDtrsm_v2_64(h, side, CUBLAS_FILL_MODE_UPPER, tr, CUBLAS_DIAG_NON_UNIT, m, n, &one, a, lda, b, ldb);
}
cublasStatus_t transpose64(cublasHandle_t h, std::int64_t m, std::int64_t n, const float* a, std::int64_t lda, float* c, std::int64_t ldc) {
  const float one = 1, zero = 0;  // C (m x n) = A^T, A is n x m
  return cublasSgeam_64(h, CUBLAS_OP_T, CUBLAS_OP_N, m, n, &one, a, lda, &zero, c, ldc, c, ldc);
}
cublasStatus_t transpose64(cublasHandle_t h, std::int64_t m, std::int64_t n, const double* a, std::int64_t lda, double* c, std::int64_t ldc) {
  const double one = 1, zero = 0;
  return cublasDgeam_64(h, CUBLAS_OP_T, CUBLAS_OP_N, m, n, &one, a, lda, &zero, c, ldc, c, ldc);
}
cusolverStatus_t orgqr_size(cusolverDnHandle_t h, int m, int n, const float* a, const float* tau, int* lw) { return cusolverDnSorgqr_bufferSize(h, m, n, n, a, m, tau, lw); }
cusolverStatus_t orgqr_size(cusolverDnHandle_t h, int m, int n, const double* a, const double* tau, int* lw) { return cusolverDnDorgqr_bufferSize(h, m, n, n, a, m, tau, lw); }
cusolverStatus_t orgqr(cusolverDnHandle_t h, int m, int n, float* a, const float* tau, float* w, int lw, int* info) { return cusolverDnSorgqr(h, m, n, n, a, m, tau, w, lw, info); }
cusolverStatus_t orgqr(cusolverDnHandle_t h, int m, int n, double* a, const double* tau, double* w, int lw, int* info) { return cusolverDnDorgqr(h, m, n, n, a, m, tau, w, lw, info); }

// diag[j] = g[j + j * ld] (and, for Householder, sign[j] = -1 or +1 by its sign).
template <class T>
__global__ void diag_kernel(const T* g, std::int64_t n, std::int64_t ld, T* diag, T* sign) {
  for (std::int64_t j = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; j < n;
       j += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const T d = g[j + j * ld];
    diag[j] = d;
    if (sign != nullptr) sign[j] = d < T(0) ? T(-1) : T(1);
  }
}

// *out = max over the upper triangle of |G - I| (non-negative floats order like their bits).
template <class T>
__global__ void gram_deviation_kernel(const T* g, std::int64_t n, unsigned long long* out) {
  double worst = 0;
  const std::int64_t total = n * n;
  for (std::int64_t e = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; e < total;
       e += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t i = e % n, j = e / n;
    if (i > j) continue;
    const double d = fabs(static_cast<double>(g[e]) - (i == j ? 1.0 : 0.0));
    if (!(d <= worst)) worst = d;  // NaN counts as the worst (then it is never accepted)
  }
  atomicMax(out, static_cast<unsigned long long>(__double_as_longlong(worst)));
}

template <class T>
class CudaQrOps final : public QrOps<T> {
 public:
  CudaQrOps(LinalgState& st, cudaStream_t s, int device) : st_(st), s_(s), device_(device) {}

  bool cholesky_pass(T* a, std::int64_t m, std::int64_t n, bool transposed, double* ratio) override {
    T* g = gram(a, m, n, transposed);
    if (!potrf(g, n)) return false;
    *ratio = diag_ratio(g, n, nullptr);
    if (transposed)
      check_cublas(trsm64(st_.blas, CUBLAS_SIDE_LEFT, CUBLAS_OP_T, n, m, g, n, a, n), "cublas<t>trsm_v2_64");
    else
      check_cublas(trsm64(st_.blas, CUBLAS_SIDE_RIGHT, CUBLAS_OP_N, m, n, g, n, a, m), "cublas<t>trsm_v2_64");
    return true;
  }

  double gram_deviation(const T* a, std::int64_t m, std::int64_t n, bool transposed) override {
    T* g = gram(a, m, n, transposed);
    auto* out = static_cast<unsigned long long*>(st_.reduce.get(64, s_, "a reduction"));
    check_cuda(cudaMemsetAsync(out, 0, sizeof(unsigned long long), s_), "cudaMemsetAsync");
    kernels::launch("gram_deviation_kernel", gram_deviation_kernel<T>, kernels::grid_for(device_, static_cast<std::uint64_t>(n * n)),
                    FillPolicy::kThreads, s_, g, n, out);
    unsigned long long bits = 0;
    check_cuda(cudaMemcpyAsync(&bits, out, sizeof bits, cudaMemcpyDeviceToHost, s_), "cudaMemcpyAsync");
    check_cuda(cudaStreamSynchronize(s_), "cudaStreamSynchronize");
    double d;
    std::memcpy(&d, &bits, sizeof d);
    return d;
  }

  QResult<T> householder(T* a, std::int64_t m, std::int64_t n, bool transposed) override {
    if (m > INT_MAX || n > INT_MAX)
      fail(Status::unsupported, "paraminit: a dimension of " + std::to_string(std::max(m, n)) +
                                    " is beyond cuSOLVER's orgqr (32-bit); use a CholeskyQR path");
    T* q = a;
    if (transposed) {  // M^T (n x m) -> M (m x n) in the scratch arena
      q = static_cast<T*>(st_.scratch.get(static_cast<std::size_t>(m * n) * sizeof(T), s_, "the transposed matrix"));
      check_cublas(transpose64(st_.blas, m, n, a, n, q, m), "cublas<t>geam_64 (transpose)");
    }
    // hh arena: tau (n), sign (n), info.
    const std::size_t nb = static_cast<std::size_t>(n) * sizeof(T);
    char* sm = static_cast<char*>(st_.hh.get(2 * nb + 64, s_, "tau and signs"));
    T* tau = reinterpret_cast<T*>(sm);
    T* sign = reinterpret_cast<T*>(sm + nb);
    int* info = reinterpret_cast<int*>(sm + 2 * nb);
    std::size_t dev_bytes = 0, host_bytes = 0;
    check_cusolver(cusolverDnXgeqrf_bufferSize(st_.solver, st_.params, m, n, kType<T>, q, m, kType<T>, tau, kType<T>,
                                               &dev_bytes, &host_bytes),
                   "cusolverDnXgeqrf_bufferSize");
    int lw_orgqr = 0;
    check_cusolver(orgqr_size(st_.solver, static_cast<int>(m), static_cast<int>(n), q, tau, &lw_orgqr), "cusolverDn<t>orgqr_bufferSize");
    const std::size_t need = std::max(dev_bytes, static_cast<std::size_t>(lw_orgqr) * sizeof(T));
    void* ws = st_.solver_ws.get(std::max<std::size_t>(need, 1), s_, "cuSOLVER's workspace");
    st_.host_ws.resize(std::max<std::size_t>(host_bytes, 1));
    check_cusolver(cusolverDnXgeqrf(st_.solver, st_.params, m, n, kType<T>, q, m, kType<T>, tau, kType<T>, ws, dev_bytes,
                                    st_.host_ws.data(), host_bytes, info),
                   "cusolverDnXgeqrf");
    check_info(info, "cusolverDnXgeqrf");
    const double ratio = diag_ratio(q, n, sign, m);
    check_cusolver(orgqr(st_.solver, static_cast<int>(m), static_cast<int>(n), q, tau, static_cast<T*>(ws), lw_orgqr, info),
                   "cusolverDn<t>orgqr");
    check_info(info, "cusolverDn<t>orgqr");
    QResult<T> r;
    r.q = q;
    r.sign = sign;
    r.form = transposed ? QForm::colmajor_col_signs : QForm::direct_row_signs;
    r.rdiag_ratio = ratio;
    return r;
  }

 private:
  T* gram(const T* a, std::int64_t m, std::int64_t n, bool transposed) {
    T* g = static_cast<T*>(st_.gram.get(static_cast<std::size_t>(n * n) * sizeof(T), s_, "the Gram matrix"));
    if (transposed)
      check_cublas(syrk64(st_.blas, CUBLAS_OP_N, n, m, a, n, g, n), "cublas<t>syrk_v2_64");
    else
      check_cublas(syrk64(st_.blas, CUBLAS_OP_T, n, m, a, m, g, n), "cublas<t>syrk_v2_64");
    return g;
  }

  bool potrf(T* g, std::int64_t n) {
    int* info = static_cast<int*>(st_.info.get(64, s_, "cuSOLVER's info"));
    std::size_t dev_bytes = 0, host_bytes = 0;
    check_cusolver(cusolverDnXpotrf_bufferSize(st_.solver, st_.params, CUBLAS_FILL_MODE_UPPER, n, kType<T>, g, n, kType<T>,
                                               &dev_bytes, &host_bytes),
                   "cusolverDnXpotrf_bufferSize");
    void* ws = st_.solver_ws.get(std::max<std::size_t>(dev_bytes, 1), s_, "cuSOLVER's workspace");
    st_.host_ws.resize(std::max<std::size_t>(host_bytes, 1));
    check_cusolver(cusolverDnXpotrf(st_.solver, st_.params, CUBLAS_FILL_MODE_UPPER, n, kType<T>, g, n, kType<T>, ws, dev_bytes,
                                    st_.host_ws.data(), host_bytes, info),
                   "cusolverDnXpotrf");
    int h = 0;
    check_cuda(cudaMemcpyAsync(&h, info, sizeof h, cudaMemcpyDeviceToHost, s_), "cudaMemcpyAsync");
    check_cuda(cudaStreamSynchronize(s_), "cudaStreamSynchronize");
    if (h < 0) fail(Status::internal, "paraminit: cusolverDnXpotrf: parameter " + std::to_string(-h) + " is wrong");
    return h == 0;  // h > 0: the leading minor of order h is not positive definite
  }

  void check_info(const int* info, const char* call) {
    int h = 0;
    check_cuda(cudaMemcpyAsync(&h, info, sizeof h, cudaMemcpyDeviceToHost, s_), "cudaMemcpyAsync");
    check_cuda(cudaStreamSynchronize(s_), "cudaStreamSynchronize");
    if (h != 0) fail(Status::numerical, std::string("paraminit: ") + call + " returned info = " + std::to_string(h));
  }

  // min |d_j| / max |d_j| of the diagonal of the n x n (ld) upper factor at g; signs if asked.
  double diag_ratio(const T* g, std::int64_t n, T* sign, std::int64_t ld = -1) {
    if (ld < 0) ld = n;
    T* diag = static_cast<T*>(st_.diag.get(static_cast<std::size_t>(n) * sizeof(T), s_, "a diagonal"));
    kernels::launch("diag_kernel", diag_kernel<T>, kernels::grid_for(device_, static_cast<std::uint64_t>(n)), FillPolicy::kThreads, s_,
                    g, n, ld, diag, sign);
    std::vector<T> h(static_cast<std::size_t>(n));
    check_cuda(cudaMemcpyAsync(h.data(), diag, h.size() * sizeof(T), cudaMemcpyDeviceToHost, s_), "cudaMemcpyAsync");
    check_cuda(cudaStreamSynchronize(s_), "cudaStreamSynchronize");
    double lo = INFINITY, hi = 0;
    for (T v : h) {
      lo = std::min(lo, std::fabs(static_cast<double>(v)));
      hi = std::max(hi, std::fabs(static_cast<double>(v)));
    }
    return hi > 0 ? lo / hi : 0;
  }

  LinalgState& st_;
  cudaStream_t s_;
  int device_;
};


// Element k of the (rows, cols) work matrix from the tensor (orthogonalize), counting non-finite ones.
template <class Out>
__global__ void load_kernel(const Out* src, std::uint64_t n, double* dst, unsigned long long* bad) {
  unsigned long long local = 0;
  for (std::uint64_t i = blockIdx.x * static_cast<std::uint64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::uint64_t>(gridDim.x) * blockDim.x) {
    const double v = kernels::load(src + i);
    local += isfinite(v) ? 0ull : 1ull;
    dst[i] = v;
  }
  if (local != 0) atomicAdd(bad, local);
}

// The fused last step: for each element of matrix k's global range that the view holds, the value
// of Q (sign and transpose by r.form), times gain, rounded to Out.
template <class T, class Out>
__global__ void __launch_bounds__(FillPolicy::kThreads)
    store_kernel(QResult<T> r, std::uint64_t g0, std::uint64_t span, std::uint64_t rows, std::uint64_t cols,
                 std::uint64_t spatial, std::uint64_t centre, T gain, WindowMap map, Out* out) {
  using C = typename kernels::ComputeType<Out>::type;
  for (std::uint64_t q = blockIdx.x * static_cast<std::uint64_t>(blockDim.x) + threadIdx.x; q < span;
       q += static_cast<std::uint64_t>(gridDim.x) * blockDim.x) {
    std::uint64_t l = 0;
    if (map.local_of(g0 + q, l)) kernels::store(out + l, static_cast<C>(q_value(r, q, rows, cols, spatial, centre) * gain));
  }
}

template <class T>
class CudaBackend {
 public:
  CudaBackend(ContextImpl& ctx, const TensorView& t, const OrthoJob& job, const WindowMap& map)
      : ctx_(ctx), t_(t), job_(job), map_(map), st_(linalg(ctx)), s_(static_cast<cudaStream_t>(ctx.stream)),
        ops_(st_, s_, ctx.device) {}

  T* work(std::size_t n) { return static_cast<T*>(st_.work.get(n * sizeof(T), s_, "the work matrix")); }
  void draw(T* w, std::int64_t rows, std::int64_t cols, Key key) {
    const TensorView v = TensorView::of(w, std::is_same_v<T, float> ? DType::f32 : DType::f64, {rows, cols});
    Geometry geo;
    geo.numel = geo.run_len = geo.global_numel = static_cast<std::uint64_t>(rows * cols);
    geo.runs = 1;
    geo.global_stride = geo.run_len;
    normal_fill(ctx_, v, geo, key, NormalOptions{0.0, 1.0}, job_.fn);
  }
  void load(T* w) {
    if constexpr (std::is_same_v<T, double>) {
      const auto n = static_cast<std::uint64_t>(job_.rows * job_.cols);
      auto* bad = static_cast<unsigned long long*>(st_.reduce.get(64, s_, "a reduction"));
      check_cuda(cudaMemsetAsync(bad, 0, sizeof(unsigned long long), s_), "cudaMemsetAsync");
      for_dtype(t_.dtype, [&](auto tag) {
        using Out = decltype(tag);
        kernels::launch("load_kernel", load_kernel<Out>, kernels::grid_for(ctx_.device, n), FillPolicy::kThreads, s_,
                        static_cast<const Out*>(t_.data), n, w, bad);
      });
      unsigned long long h = 0;
      check_cuda(cudaMemcpyAsync(&h, bad, sizeof h, cudaMemcpyDeviceToHost, s_), "cudaMemcpyAsync");
      check_cuda(cudaStreamSynchronize(s_), "cudaStreamSynchronize");
      if (h != 0)
        fail(Status::invalid_argument, std::string(job_.fn) + ": " + std::to_string(h) + " element(s) of the weight are not finite");
    } else {
      (void)w;
      fail(Status::internal, "paraminit: orthogonalize works in f64");
    }
  }
  QrOps<T>& ops() { return ops_; }
  void store(const QResult<T>& r, std::uint64_t g0) {
    const auto span = static_cast<std::uint64_t>(job_.span());
    for_dtype(t_.dtype, [&](auto tag) {
      using Out = decltype(tag);
      kernels::launch("store_kernel", store_kernel<T, Out>, kernels::grid_for(ctx_.device, span), FillPolicy::kThreads, s_, r, g0,
                      span, static_cast<std::uint64_t>(job_.rows), static_cast<std::uint64_t>(job_.cols),
                      static_cast<std::uint64_t>(job_.spatial), static_cast<std::uint64_t>(job_.centre), static_cast<T>(job_.gain), map_,
                      static_cast<Out*>(t_.data));
    });
  }

 private:
  ContextImpl& ctx_;
  const TensorView& t_;
  const OrthoJob& job_;
  const WindowMap& map_;
  LinalgState& st_;
  cudaStream_t s_;
  CudaQrOps<T> ops_;
};

}  // namespace

cublasHandle_t context_blas(ContextImpl& ctx) { return linalg(ctx).blas; }

void* context_calibration_workspace(ContextImpl& ctx, std::size_t bytes, const char* what) {
  LinalgState& st = linalg(ctx);
  return st.calibration.get(bytes, static_cast<cudaStream_t>(ctx.stream), what);
}

OrthogonalInfo cuda_orthogonal(ContextImpl& ctx, const TensorView& t, const Geometry&, const OrthoJob& job,
                               const WindowMap& map) {
  const DeviceGuard guard(ctx.device);
  // cuSOLVER's info and the measured error come back to the host: not capturable in a graph.
  kernels::refuse_capture(ctx.stream, job.fn, "synchronizes its stream (cuSOLVER's info comes back to the host)");
  if (t.dtype == DType::f64 || job.load) {
    CudaBackend<double> be(ctx, t, job, map);
    return run_job<double>(be, job);
  }
  CudaBackend<float> be(ctx, t, job, map);
  return run_job<float>(be, job);
}

}  // namespace detail
}  // namespace paraminit
