// The orthogonal family's shared driver: the choice between CholeskyQR and Householder QR, the
// measured loss of orthogonality, the fallbacks, and the final gather (sign, gain, transpose,
// dtype, window). The primitives (QrOps) are LAPACK/BLAS on the CPU and cuSOLVER/cuBLAS on CUDA.
//
// Storage: the work buffer holds the (rows, cols) matrix A row-major. The tall matrix factored is
// M = A (m = rows, n = cols) when rows >= cols, else M = A^T (m = cols, n = rows), as PyTorch does.
// Row-major A is column-major A^T, so:
//   rows <  cols: the buffer is M column-major (m x n, ld m)                 ("plain")
//   rows >= cols: the buffer is M^T column-major (n x m, ld n)               ("transposed")
// CholeskyQR works in place on either storage (syrk / trsm with the right transposes), and its
// result, read back as row-major (rows, cols), is already the answer. Householder needs M
// column-major: in place when plain, through a transposed copy otherwise.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "../kernels/hd.hpp"
#include "internal.hpp"

namespace paraminit {
namespace detail {

// Where the factored Q is, in terms of the (rows, cols) result Q_A (= Q or Q^T as above):
enum class QForm {
  direct,            // Q_A(i, j) = q[i * cols + j]
  direct_row_signs,  // Q_A(i, j) = q[i * cols + j] * sign[i]        (Householder, rows < cols)
  colmajor_col_signs // Q_A(i, j) = q[i + j * rows] * sign[j]        (Householder, rows >= cols)
};

template <class T>
struct QResult {
  const T* q = nullptr;
  const T* sign = nullptr;  // in the same memory space as q
  QForm form = QForm::direct;
  double rdiag_ratio = 1;        // Householder: min |R_jj| / max |R_jj| of the matrix it factored
  double cholesky_ratio = -1;    // the same for the first CholeskyQR pass's R (that of A), -1: none
};

template <class T>
struct QrOps {
  virtual ~QrOps() = default;
  // One CholeskyQR pass in place: G = M^T M, R = chol(G), M := M R^-1. False (M unchanged) if the
  // Cholesky factorization fails. *rdiag_ratio = min R_jj / max R_jj.
  virtual bool cholesky_pass(T* a, std::int64_t m, std::int64_t n, bool transposed, double* rdiag_ratio) = 0;
  // max |M^T M - I| over the upper triangle.
  virtual double gram_deviation(const T* a, std::int64_t m, std::int64_t n, bool transposed) = 0;
  // Householder QR of M; Q with signs of diag(R) (see QForm).
  virtual QResult<T> householder(T* a, std::int64_t m, std::int64_t n, bool transposed) = 0;
};

// The documented guarantee, max |Q^T Q - I| <= bound, and the stricter bound one measured
// CholeskyQR pass must meet to be kept (a margin for the measurement's own rounding).
template <class T>
double orthogonality_bound(std::int64_t n) {
  const double per = std::is_same_v<T, float> ? 1e-5 : 1e-13;
  return per * std::sqrt(static_cast<double>(n < 1 ? 1 : n));
}

template <class T>
QResult<T> factor(QrOps<T>& ops, T* a, std::int64_t rows, std::int64_t cols, OrthogonalPath path,
                  OrthogonalInfo& info) {
  const bool transposed = rows >= cols;
  const std::int64_t m = transposed ? rows : cols, n = transposed ? cols : rows;
  if (path == OrthogonalPath::automatic)
    path = m >= 4 * n ? OrthogonalPath::cholesky_qr : OrthogonalPath::householder;
  info = OrthogonalInfo{};
  double first = -1;  // the first Cholesky pass's diag(R) ratio: A's, even after a fallback
  auto householder = [&] {
    info.path = OrthogonalPath::householder;
    QResult<T> r = ops.householder(a, m, n, transposed);
    r.cholesky_ratio = first;
    return r;
  };
  if (path == OrthogonalPath::householder) return householder();
  QResult<T> direct;
  direct.q = a;
  double later = 1;
  if (!ops.cholesky_pass(a, m, n, transposed, &first)) return householder();  // a is still the input
  direct.cholesky_ratio = first;
  info.path = path;
  info.cholesky_passes = 1;
  if (path == OrthogonalPath::cholesky_qr2) {
    // A = Q1 R1 and Q1 = Q R2 give A = Q (R2 R1) with a positive diagonal: falling back on Q1 is the same Q.
    if (!ops.cholesky_pass(a, m, n, transposed, &later)) return householder();
    info.cholesky_passes = 2;
    return direct;
  }
  const double accept = orthogonality_bound<T>(n) / 4;
  info.orthogonality_error = ops.gram_deviation(a, m, n, transposed);
  if (info.orthogonality_error <= accept) return direct;
  if (!ops.cholesky_pass(a, m, n, transposed, &later)) return householder();
  info.cholesky_passes = 2;
  info.path = OrthogonalPath::cholesky_qr2;
  info.orthogonality_error = ops.gram_deviation(a, m, n, transposed);
  if (info.orthogonality_error <= accept) return direct;
  info.orthogonality_error = -1;  // Householder's result is not measured
  return householder();
}

// One call's work: `count` matrices of (rows, cols), matrix k covering global elements
// [k * span, (k + 1) * span) of the output, where each matrix element is repeated over `spatial`
// taps of which only `centre` holds it (delta-orthogonal; 1 and 0 otherwise).
struct OrthoJob {
  bool load = false;  // orthogonalize: the matrix is the tensor's own values, not a Gaussian draw
  Key key;
  bool batched = false;  // matrix k draws with batch_stream(key.stream, k)
  std::int64_t count = 1, rows = 0, cols = 0, spatial = 1, centre = 0;
  double gain = 1;
  OrthogonalPath path = OrthogonalPath::automatic;
  bool rank_check = false;  // orthogonalize: refuse a numerically rank-deficient matrix
  // Which matrices the view touches (a window along a batch dim keeps some): k is needed iff
  // (k / batch_inner) % batch_ext lies in [batch_lo, batch_hi).
  std::int64_t batch_inner = 1, batch_ext = 1, batch_lo = 0, batch_hi = 1;
  const char* fn = "";
  std::int64_t span() const { return rows * cols * spatial; }
};

// Global element g of the parameter -> local element of the view, if the view holds it.
struct WindowMap {
  std::uint64_t ext = 1, start = 0, len = 1, inner = 1;
  PI_HD bool local_of(std::uint64_t g, std::uint64_t& l) const {
    const std::uint64_t r = g % inner, q = g / inner, e = q % ext, o = q / ext;
    if (e < start || e >= start + len) return false;
    l = (o * len + (e - start)) * inner + r;
    return true;
  }
};

// The value of the (rows, cols) result at matrix-local element q (before the gain), or nothing for a
// non-centre tap.
template <class T>
PI_HD T q_value(const QResult<T>& r, std::uint64_t q, std::uint64_t rows, std::uint64_t cols,
                       std::uint64_t spatial, std::uint64_t centre) {
  const std::uint64_t tap = q % spatial, pair = q / spatial;
  if (tap != centre) return T(0);
  const std::uint64_t i = pair / cols, j = pair % cols;
  switch (r.form) {
    case QForm::direct: return r.q[i * cols + j];
    case QForm::direct_row_signs: return r.q[i * cols + j] * r.sign[i];
    case QForm::colmajor_col_signs: return r.q[i + j * rows] * r.sign[j];
  }
  return T(0);
}

// The order of OrthogonalInfo::path in a batch's report (include/paraminit/paraminit.hpp): a
// Householder matrix (a fallback, or asked for) over cholesky_qr2 (one pass was not enough, or asked
// for) over cholesky_qr.
inline int path_severity(OrthogonalPath p) {
  return p == OrthogonalPath::householder ? 2 : p == OrthogonalPath::cholesky_qr2 ? 1 : 0;
}

// The loop over matrices, for a backend providing work(), draw(), load(), ops() and store().
template <class T, class Backend>
OrthogonalInfo run_job(Backend& be, const OrthoJob& job) {
  OrthogonalInfo worst;
  bool any = false;
  const std::int64_t rows = job.rows, cols = job.cols;
  if (rows == 0 || cols == 0) return worst;
  for (std::int64_t k = 0; k < job.count; ++k) {
    const std::int64_t coord = (k / job.batch_inner) % job.batch_ext;
    if (coord < job.batch_lo || coord >= job.batch_hi) continue;
    T* w = be.work(static_cast<std::size_t>(rows * cols));
    if (job.load) {
      be.load(w);
    } else {
      const Key key = job.batched ? Key{job.key.seed, batch_stream(job.key.stream, static_cast<std::uint64_t>(k))} : job.key;
      be.draw(w, rows, cols, key);
    }
    OrthogonalInfo info;
    const QResult<T> r = factor<T>(be.ops(), w, rows, cols, job.path, info);
    if (job.rank_check) {
      // Exactly rank-deficient input leaves min |R_jj| at rounding level: ~ max(m, n) eps |A| from
      // Householder, ~ sqrt(eps) |A| from Cholesky of the Gram matrix (which squares the conditioning).
      const double eps = static_cast<double>(std::numeric_limits<T>::epsilon());
      const double size = static_cast<double>(rows > cols ? rows : cols);
      const bool hh_low = info.path == OrthogonalPath::householder && !(r.rdiag_ratio > 2 * size * eps);
      const bool chol_low = r.cholesky_ratio >= 0 && !(r.cholesky_ratio > 2 * size * std::sqrt(eps));
      if (hh_low || chol_low)
        fail(Status::numerical, std::string(job.fn) + ": the weight is numerically rank deficient (min |R_jj| / max |R_jj| = " +
                                    fmt_double(chol_low ? r.cholesky_ratio : r.rdiag_ratio) + "), so its orthogonal factor is not determined by it");
    }
    be.store(r, static_cast<std::uint64_t>(k) * static_cast<std::uint64_t>(job.span()));
    // Field by field, so that the report does not depend on the order of the matrices (a later
    // CholeskyQR matrix used to hide an earlier Householder fallback).
    if (!any) {
      worst = info;
    } else {
      if (path_severity(info.path) > path_severity(worst.path)) worst.path = info.path;
      if (info.cholesky_passes > worst.cholesky_passes) worst.cholesky_passes = info.cholesky_passes;
      if (info.orthogonality_error > worst.orthogonality_error) worst.orthogonality_error = info.orthogonality_error;  // -1 (unmeasured) loses
    }
    any = true;
  }
  return worst;
}

#if defined(PARAMINIT_WITH_CUDA)
// cuda/orthogonal.cu: the same job with cuSOLVER / cuBLAS on the context's stream.
OrthogonalInfo cuda_orthogonal(ContextImpl& ctx, const TensorView& t, const Geometry& geo, const OrthoJob& job,
                               const WindowMap& map);
#endif

// LAPACK-backed ops (host/orthogonal.cpp).
template <class T>
QrOps<T>& cpu_qr_ops();
// The same, with Householder always through LAPACK's geqrf + orgqr (cpu_qr_ops uses them only below
// 128 columns, geqrt and its own Q above): the reference the tests compare the blocked path with.
template <class T>
QrOps<T>& cpu_qr_ops_unblocked();

}  // namespace detail
}  // namespace paraminit
