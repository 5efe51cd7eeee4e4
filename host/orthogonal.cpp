// The orthogonal family on both backends: validation, the batch loop, the Gaussian draw (the
// library's normal fill, so CPU and GPU start from the same bits), the factorization (orthogonal.hpp),
// and the final gather into the output view. CPU primitives: LAPACK geqrf / orgqr and BLAS syrk /
// potrf / trsm (OpenBLAS where installed; LP64, so each dimension must fit in 32 bits).
#include "orthogonal.hpp"

#include <algorithm>
#include <climits>
#include <cstring>
#include <string>
#include <vector>

#include "fills.hpp"

#if defined(PARAMINIT_WITH_LAPACK)
extern "C" {
// LAPACK / BLAS, Fortran calling convention (LP64).
void sgeqrf_(const int* m, const int* n, float* a, const int* lda, float* tau, float* work, const int* lwork, int* info);
void dgeqrf_(const int* m, const int* n, double* a, const int* lda, double* tau, double* work, const int* lwork, int* info);
void sorgqr_(const int* m, const int* n, const int* k, float* a, const int* lda, const float* tau, float* work,
             const int* lwork, int* info);
void dorgqr_(const int* m, const int* n, const int* k, double* a, const int* lda, const double* tau, double* work,
             const int* lwork, int* info);
void spotrf_(const char* uplo, const int* n, float* a, const int* lda, int* info);
void dpotrf_(const char* uplo, const int* n, double* a, const int* lda, int* info);
void ssyrk_(const char* uplo, const char* trans, const int* n, const int* k, const float* alpha, const float* a,
            const int* lda, const float* beta, float* c, const int* ldc);
void dsyrk_(const char* uplo, const char* trans, const int* n, const int* k, const double* alpha, const double* a,
            const int* lda, const double* beta, double* c, const int* ldc);
void strsm_(const char* side, const char* uplo, const char* transa, const char* diag, const int* m, const int* n,
            const float* alpha, const float* a, const int* lda, float* b, const int* ldb);
void dtrsm_(const char* side, const char* uplo, const char* transa, const char* diag, const int* m, const int* n,
            const double* alpha, const double* a, const int* lda, double* b, const int* ldb);
void sgeqrt_(const int* m, const int* n, const int* nb, float* a, const int* lda, float* t, const int* ldt, float* work,
             int* info);
void dgeqrt_(const int* m, const int* n, const int* nb, double* a, const int* lda, double* t, const int* ldt, double* work,
             int* info);
void slarfb_(const char* side, const char* trans, const char* direct, const char* storev, const int* m, const int* n,
             const int* k, const float* v, const int* ldv, const float* t, const int* ldt, float* c, const int* ldc,
             float* work, const int* ldwork);
void dlarfb_(const char* side, const char* trans, const char* direct, const char* storev, const int* m, const int* n,
             const int* k, const double* v, const int* ldv, const double* t, const int* ldt, double* c, const int* ldc,
             double* work, const int* ldwork);
void strmm_(const char* side, const char* uplo, const char* transa, const char* diag, const int* m, const int* n,
            const float* alpha, const float* a, const int* lda, float* b, const int* ldb);
void dtrmm_(const char* side, const char* uplo, const char* transa, const char* diag, const int* m, const int* n,
            const double* alpha, const double* a, const int* lda, double* b, const int* ldb);
}
#endif

namespace paraminit {

std::uint64_t batch_stream(std::uint64_t stream, std::uint64_t k) noexcept {
  return detail::splitmix64_mix(stream + (k + 1) * 0x9E3779B97F4A7C15ull);  // SplitMix64 step and finalizer
}

bool lapack_built() noexcept {
#if defined(PARAMINIT_WITH_LAPACK)
  return true;
#else
  return false;
#endif
}

namespace detail {
#if defined(PARAMINIT_WITH_LAPACK)
namespace {

// Overloads so that the ops are written once for float and double.
void geqrf(const int* m, const int* n, float* a, const int* lda, float* tau, float* w, const int* lw, int* info) { sgeqrf_(m, n, a, lda, tau, w, lw, info); }
void geqrf(const int* m, const int* n, double* a, const int* lda, double* tau, double* w, const int* lw, int* info) { dgeqrf_(m, n, a, lda, tau, w, lw, info); }
void orgqr(const int* m, const int* n, const int* k, float* a, const int* lda, const float* tau, float* w, const int* lw, int* info) { sorgqr_(m, n, k, a, lda, tau, w, lw, info); }
void orgqr(const int* m, const int* n, const int* k, double* a, const int* lda, const double* tau, double* w, const int* lw, int* info) { dorgqr_(m, n, k, a, lda, tau, w, lw, info); }
void potrf(const int* n, float* a, const int* lda, int* info) { spotrf_("U", n, a, lda, info); }
void potrf(const int* n, double* a, const int* lda, int* info) { dpotrf_("U", n, a, lda, info); }
void syrk(const char* trans, const int* n, const int* k, const float* a, const int* lda, float* c, const int* ldc) {
  const float one = 1, zero = 0;
  ssyrk_("U", trans, n, k, &one, a, lda, &zero, c, ldc);
}
void syrk(const char* trans, const int* n, const int* k, const double* a, const int* lda, double* c, const int* ldc) {
  const double one = 1, zero = 0;
  dsyrk_("U", trans, n, k, &one, a, lda, &zero, c, ldc);
}
void trsm(const char* side, const char* trans, const int* m, const int* n, const float* a, const int* lda, float* b, const int* ldb) {
  const float one = 1;
  strsm_(side, "U", trans, "N", m, n, &one, a, lda, b, ldb);
}
void trsm(const char* side, const char* trans, const int* m, const int* n, const double* a, const int* lda, double* b, const int* ldb) {
  const double one = 1;
  dtrsm_(side, "U", trans, "N", m, n, &one, a, lda, b, ldb);
}

void geqrt(const int* m, const int* n, const int* nb, float* a, const int* lda, float* t, const int* ldt, float* w, int* info) { sgeqrt_(m, n, nb, a, lda, t, ldt, w, info); }
void geqrt(const int* m, const int* n, const int* nb, double* a, const int* lda, double* t, const int* ldt, double* w, int* info) { dgeqrt_(m, n, nb, a, lda, t, ldt, w, info); }
// H C with H = I - V T V^T (forward, columnwise): the block reflector of one geqrt panel, from the left.
void larfb(const int* m, const int* n, const int* k, const float* v, const int* ldv, const float* t, const int* ldt, float* c, const int* ldc, float* w, const int* ldw) {
  slarfb_("L", "N", "F", "C", m, n, k, v, ldv, t, ldt, c, ldc, w, ldw);
}
void larfb(const int* m, const int* n, const int* k, const double* v, const int* ldv, const double* t, const int* ldt, double* c, const int* ldc, double* w, const int* ldw) {
  dlarfb_("L", "N", "F", "C", m, n, k, v, ldv, t, ldt, c, ldc, w, ldw);
}
void trmm(const char* side, const char* uplo, const char* trans, const char* diag, const int* m, const int* n, float alpha, const float* a, const int* lda, float* b, const int* ldb) {
  strmm_(side, uplo, trans, diag, m, n, &alpha, a, lda, b, ldb);
}
void trmm(const char* side, const char* uplo, const char* trans, const char* diag, const int* m, const int* n, double alpha, const double* a, const int* lda, double* b, const int* ldb) {
  dtrmm_(side, uplo, trans, diag, m, n, &alpha, a, lda, b, ldb);
}

int to_int(std::int64_t v) { return static_cast<int>(v); }  // callers checked <= INT_MAX

// Householder QR of n >= kBlockedMin columns runs in panels of kPanel columns through geqrt, whose
// recursive panel (geqrt3) is level 3, and form_q below (LAPACK's geqrf + orgqr use ilaenv's 32 columns
// and level-2 panels). Measured on a 2-core Zen 5, OpenBLAS 0.3.21 pthreads, f32 square, 2026-12-02
// (bench/RESULTS.md): 2048^2 QR + Q 0.91x geqrf + orgqr's time, panels of 96 to 256 within noise of
// each other, 64 slower; n = 128..256 0.47-0.64x; n = 96 1.04x and n = 64 1.7x, where LAPACK's
// unblocked geqr2 / org2r win, hence kBlockedMin.
constexpr int kPanel = 128;
constexpr std::int64_t kBlockedMin = 128;

template <class T>
class CpuQrOps final : public QrOps<T> {
 public:
  explicit CpuQrOps(std::int64_t blocked_min) : blocked_min_(blocked_min) {}

  bool cholesky_pass(T* a, std::int64_t m64, std::int64_t n64, bool transposed, double* rdiag_ratio) override {
    const int m = to_int(m64), n = to_int(n64);
    gram(a, m, n, transposed);  // G (n x n, upper) = M^T M
    int info = 0;
    potrf(&n, g_.data(), &n, &info);  // G = R^T R
    if (info != 0) return false;
    double rmin = INFINITY, rmax = 0;
    for (std::int64_t j = 0; j < n64; ++j) {
      const double r = static_cast<double>(g_[static_cast<std::size_t>(j + j * n64)]);
      rmin = std::min(rmin, r);
      rmax = std::max(rmax, r);
    }
    *rdiag_ratio = rmax > 0 ? rmin / rmax : 0;
    if (transposed) {
      trsm("L", "T", &n, &m, g_.data(), &n, a, &n);  // M^T := R^-T M^T (n x m, ld n)
    } else {
      trsm("R", "N", &m, &n, g_.data(), &n, a, &m);  // M := M R^-1 (m x n, ld m)
    }
    return true;
  }

  double gram_deviation(const T* a, std::int64_t m64, std::int64_t n64, bool transposed) override {
    const int m = to_int(m64), n = to_int(n64);
    gram(a, m, n, transposed);
    double dev = 0;
    for (std::int64_t j = 0; j < n; ++j)
      for (std::int64_t i = 0; i <= j; ++i) {
        const double d = std::fabs(static_cast<double>(g_[static_cast<std::size_t>(i + j * n)]) - (i == j ? 1.0 : 0.0));
        if (!(d <= dev)) dev = d;  // NaN counts as the worst (then it is never accepted)
      }
    return dev;
  }

  QResult<T> householder(T* a, std::int64_t m64, std::int64_t n64, bool transposed) override {
    const int m = to_int(m64), n = to_int(n64);
    T* q = a;
    if (transposed) {  // M^T (n x m, ld n) -> M (m x n, ld m), blocked for the caches
      // 8 columns of M per tile: their lines in M lie m elements apart, which for a power-of-two m
      // maps them all to one L1 set; 64 of them (the tile this had) evicted each other before the
      // next row reused them (2048^2 f32: 31 ms, now 4 ms).
      t_.resize(static_cast<std::size_t>(m64 * n64));
      constexpr std::int64_t BI = 64, BJ = 8;
      for (std::int64_t j0 = 0; j0 < n64; j0 += BJ)
        for (std::int64_t i0 = 0; i0 < m64; i0 += BI)
          for (std::int64_t i = i0; i < std::min(m64, i0 + BI); ++i)
            for (std::int64_t j = j0; j < std::min(n64, j0 + BJ); ++j)
              t_[static_cast<std::size_t>(i + j * m64)] = a[j + i * n64];
      q = t_.data();
    }
    const bool blocked = n64 >= blocked_min_;
    const int nb = std::min(n, kPanel);
    int info = 0, lw = 1;
    if (blocked) {
      tau_.resize(static_cast<std::size_t>(nb) * static_cast<std::size_t>(n));  // T of each panel, (nb, n)
      work_.resize(static_cast<std::size_t>(nb) * static_cast<std::size_t>(n + nb));  // geqrt / larfb, then (nb, nb)
      geqrt(&m, &n, &nb, q, &m, tau_.data(), &nb, work_.data(), &info);
      if (info != 0) fail(Status::numerical, "paraminit: LAPACK geqrt failed (info " + std::to_string(info) + ")");
    } else {
      tau_.resize(static_cast<std::size_t>(n));
      int query = -1;
      T lw_geqrf = 0, lw_orgqr = 0;  // workspace queries
      geqrf(&m, &n, q, &m, tau_.data(), &lw_geqrf, &query, &info);
      orgqr(&m, &n, &n, q, &m, tau_.data(), &lw_orgqr, &query, &info);
      lw = std::max({1, static_cast<int>(lw_geqrf), static_cast<int>(lw_orgqr)});
      work_.resize(static_cast<std::size_t>(lw));
      geqrf(&m, &n, q, &m, tau_.data(), work_.data(), &lw, &info);
      if (info != 0) fail(Status::numerical, "paraminit: LAPACK geqrf failed (info " + std::to_string(info) + ")");
    }
    sign_.resize(static_cast<std::size_t>(n));
    double rmin = INFINITY, rmax = 0;
    for (std::int64_t j = 0; j < n; ++j) {
      const T r = q[j + j * m64];
      sign_[static_cast<std::size_t>(j)] = r < 0 ? T(-1) : T(1);
      rmin = std::min(rmin, std::fabs(static_cast<double>(r)));
      rmax = std::max(rmax, std::fabs(static_cast<double>(r)));
    }
    if (blocked) {
      form_q(q, m, n, nb);
    } else {
      orgqr(&m, &n, &n, q, &m, tau_.data(), work_.data(), &lw, &info);
      if (info != 0) fail(Status::numerical, "paraminit: LAPACK orgqr failed (info " + std::to_string(info) + ")");
    }
    QResult<T> r;
    r.q = q;
    r.sign = sign_.data();
    r.form = transposed ? QForm::colmajor_col_signs : QForm::direct_row_signs;
    r.rdiag_ratio = rmax > 0 ? rmin / rmax : 0;
    return r;
  }

 private:
  // Q = H_1 ... H_n (m x n, ld m) in place from geqrt's reflectors (V below the diagonal of a) and its
  // T blocks (tau_, (nb, n)), last panel first. The columns already formed right of a panel get its
  // block reflector by larfb (their rows k..k+ib-1 are still zero, as orgqr has them); the panel's own
  // columns are H [I; 0] = [I; 0] - V (T V1^T), V1 its unit lower triangle: two trmm. All of it is
  // level 3, where orgqr forms each panel with the level-2 org2r and recomputes T with larft.
  void form_q(T* a, int m, int n, int nb) {
    const std::size_t lda = static_cast<std::size_t>(m);
    T* x = work_.data() + static_cast<std::size_t>(nb) * static_cast<std::size_t>(n);  // (ib, ib), ld ib
    for (int k = (n - 1) / nb * nb; k >= 0; k -= nb) {
      const int ib = std::min(nb, n - k);
      T* v = a + static_cast<std::size_t>(k) + static_cast<std::size_t>(k) * lda;  // (m - k, ib)
      const T* tk = tau_.data() + static_cast<std::size_t>(k) * static_cast<std::size_t>(nb);  // (ib, ib) upper, ld nb
      if (k + ib < n) {
        const int mk = m - k, nk = n - k - ib;
        larfb(&mk, &nk, &ib, v, &m, tk, &nb, v + static_cast<std::size_t>(ib) * lda, &m, work_.data(), &nk);
      }
      for (int j = 0; j < ib; ++j)  // geqrt leaves the part of T below the diagonal undefined
        for (int i = 0; i < ib; ++i) x[i + j * ib] = i <= j ? tk[i + static_cast<std::size_t>(j) * nb] : T(0);
      trmm("R", "L", "T", "U", &ib, &ib, T(1), v, &m, x, &ib);  // X = T V1^T (upper)
      const int below = m - k - ib;
      if (below > 0) trmm("R", "U", "N", "N", &below, &ib, T(-1), x, &ib, v + ib, &m);  // V2 := -V2 X
      trmm("L", "L", "N", "U", &ib, &ib, T(-1), v, &m, x, &ib);  // X := -V1 X
      for (int j = 0; j < ib; ++j) {  // the panel's rows 0..k+ib-1: zero above, I - V1 X
        T* col = a + static_cast<std::size_t>(k + j) * lda;
        std::fill(col, col + k, T(0));
        for (int i = 0; i < ib; ++i) col[k + i] = x[i + j * ib] + (i == j ? T(1) : T(0));
      }
    }
  }

  void gram(const T* a, int m, int n, bool transposed) {
    g_.assign(static_cast<std::size_t>(n) * static_cast<std::size_t>(n), T(0));
    if (transposed)
      syrk("N", &n, &m, a, &n, g_.data(), &n);  // (M^T)(M^T)^T
    else
      syrk("T", &n, &m, a, &m, g_.data(), &n);  // M^T M
  }

  std::int64_t blocked_min_;
  std::vector<T> g_, t_, tau_, work_, sign_;
};

}  // namespace

template <class T>
QrOps<T>& cpu_qr_ops() {
  thread_local CpuQrOps<T> ops(kBlockedMin);  // scratch reused across calls on this thread
  return ops;
}
template <class T>
QrOps<T>& cpu_qr_ops_unblocked() {
  thread_local CpuQrOps<T> ops(std::numeric_limits<std::int64_t>::max());
  return ops;
}
#else
template <class T>
QrOps<T>& cpu_qr_ops() {
  fail(Status::unsupported, "paraminit: this build has no LAPACK, so the orthogonal family runs only on CUDA contexts "
                            "(install libopenblas-dev and rebuild)");
}
template <class T>
QrOps<T>& cpu_qr_ops_unblocked() {
  return cpu_qr_ops<T>();
}
#endif
template QrOps<float>& cpu_qr_ops<float>();
template QrOps<double>& cpu_qr_ops<double>();
template QrOps<float>& cpu_qr_ops_unblocked<float>();
template QrOps<double>& cpu_qr_ops_unblocked<double>();

}  // namespace detail
}  // namespace paraminit

namespace paraminit {
namespace detail {
namespace {

// The CPU side of run_job: host work buffers, the library's normal fill, LAPACK, a gather loop.
template <class T>
class CpuBackend {
 public:
  CpuBackend(ContextImpl& ctx, const TensorView& t, const OrthoJob& job, const WindowMap& map)
      : ctx_(ctx), t_(t), job_(job), map_(map) {}

  T* work(std::size_t n) {
    work_.resize(n);
    return work_.data();
  }
  void draw(T* w, std::int64_t rows, std::int64_t cols, Key key) {
    const TensorView v = TensorView::of(w, std::is_same_v<T, float> ? DType::f32 : DType::f64, {rows, cols});
    normal_fill(ctx_, v, check_view(ctx_, v, job_.fn), key, NormalOptions{0.0, 1.0}, job_.fn);
  }
  void load(T* w) {  // orthogonalize: the weight's values (already checked finite)
    for_dtype(t_.dtype, [&](auto tag) {
      using Out = decltype(tag);
      const Out* src = static_cast<const Out*>(t_.data);
      const std::size_t n = static_cast<std::size_t>(job_.rows * job_.cols);
      for (std::size_t i = 0; i < n; ++i) w[i] = static_cast<T>(kernels::load(src + i));
    });
  }
  QrOps<T>& ops() { return cpu_qr_ops<T>(); }
  void store(const QResult<T>& r, std::uint64_t g0) {
    const T gain = static_cast<T>(job_.gain);
    const auto rows = static_cast<std::uint64_t>(job_.rows), cols = static_cast<std::uint64_t>(job_.cols);
    const auto spatial = static_cast<std::uint64_t>(job_.spatial), centre = static_cast<std::uint64_t>(job_.centre);
    const auto span = static_cast<std::uint64_t>(job_.span());
    for_dtype(t_.dtype, [&](auto tag) {
      using Out = decltype(tag);
      store_as<Out>(r, g0, rows, cols, spatial, centre, span, gain);
    });
  }

 private:
  template <class Out>
  void store_as(const QResult<T>& r, std::uint64_t g0, std::uint64_t rows, std::uint64_t cols, std::uint64_t spatial,
                std::uint64_t centre, std::uint64_t span, T gain) {
    {
      using C = typename kernels::ComputeType<Out>::type;  // orthogonalize works in f64 for every dtype
      Out* out = static_cast<Out*>(t_.data);
      const bool whole = map_.ext == map_.len;
      if (whole && r.form == QForm::colmajor_col_signs && spatial == 1) {
        // Householder's column-major Q back to row-major, one band of 64 rows per task, in tiles of 16
        // columns: the tile's columns of q lie `rows` elements apart, one L1 set for a power-of-two
        // count, so 64 of them (the tile this had) evicted each other (2048^2 f32: 9 ms -> 4 ms on one thread).
        constexpr std::uint64_t kBand = 64, kTileCols = 16;
        ctx_.pool->run(static_cast<std::int64_t>((rows + kBand - 1) / kBand), [&](std::int64_t band) {
          const std::uint64_t i0 = static_cast<std::uint64_t>(band) * kBand, i1 = std::min(rows, i0 + kBand);
          for (std::uint64_t j0 = 0; j0 < cols; j0 += kTileCols)
            for (std::uint64_t i = i0; i < i1; ++i)
              for (std::uint64_t j = j0; j < std::min(cols, j0 + kTileCols); ++j)
                kernels::store(out + g0 + i * cols + j, static_cast<C>(r.q[i + j * rows] * r.sign[j] * gain));
        });
        return;
      }
      const auto tasks = static_cast<std::int64_t>((span + kChunk - 1) / kChunk);
      ctx_.pool->run(tasks, [&](std::int64_t task) {
        const std::uint64_t lo = static_cast<std::uint64_t>(task) * kChunk, hi = std::min(span, lo + kChunk);
        if (whole && r.form == QForm::direct && spatial == 1) {  // the common case: a scaled copy
          for (std::uint64_t q = lo; q < hi; ++q) kernels::store(out + g0 + q, static_cast<C>(r.q[q] * gain));
          return;
        }
        for (std::uint64_t q = lo; q < hi; ++q) {
          std::uint64_t l = 0;
          if (map_.local_of(g0 + q, l)) kernels::store(out + l, static_cast<C>(q_value(r, q, rows, cols, spatial, centre) * gain));
        }
      });
    }
  }

  static constexpr std::uint64_t kChunk = std::uint64_t{1} << 16;

  ContextImpl& ctx_;
  const TensorView& t_;
  const OrthoJob& job_;
  const WindowMap& map_;
  std::vector<T> work_;
};

WindowMap window_map(const TensorView& t, const Geometry& geo) {
  WindowMap m;
  if (t.window_dim < 0) {
    m.ext = m.len = geo.global_numel;
    return m;
  }
  std::uint64_t inner = 1;
  for (int d = t.window_dim + 1; d < t.rank; ++d) inner *= static_cast<std::uint64_t>(t.shape[d]);
  m.inner = inner;
  m.ext = static_cast<std::uint64_t>(t.global_extent);
  m.start = static_cast<std::uint64_t>(t.window_start);
  m.len = static_cast<std::uint64_t>(t.shape[t.window_dim]);
  return m;
}

void check_path(OrthogonalPath p, const char* fn) {
  const int v = static_cast<int>(p);
  if (v < 0 || v > 3)
    fail(Status::invalid_argument, where(fn) + "path = " + std::to_string(v) + " is not a paraminit::OrthogonalPath");
}

void check_gain_for(double gain, DType t, const char* fn) {
  require_finite(fn, "gain", gain);
  require_in_range(fn, "gain", gain, t);  // |Q_ij| <= 1
}

OrthogonalInfo run(ContextImpl& ctx, const TensorView& t, const Geometry& geo, const OrthoJob& job) {
  if (geo.numel == 0 || job.rows == 0 || job.cols == 0) return OrthogonalInfo{};
  const WindowMap map = window_map(t, geo);
  const std::int64_t m = std::max(job.rows, job.cols), n = std::min(job.rows, job.cols);
#if defined(PARAMINIT_WITH_CUDA)
  if (ctx.cuda) return cuda_orthogonal(ctx, t, geo, job, map);
#endif
  if (m > INT_MAX || n > INT_MAX)
    fail(Status::unsupported, where(job.fn) + "a (" + std::to_string(job.rows) + ", " + std::to_string(job.cols) +
                                  ") matrix has a dimension beyond the CPU LAPACK's 32-bit integers");
  OrthogonalInfo info;
  if (t.dtype == DType::f64 || job.load) {
    CpuBackend<double> be(ctx, t, job, map);
    info = run_job<double>(be, job);
  } else {
    CpuBackend<float> be(ctx, t, job, map);
    info = run_job<float>(be, job);
  }
  return info;
}

}  // namespace
}  // namespace detail

OrthogonalInfo orthogonal(Context& c, const TensorView& t, Key key, const OrthogonalOptions& o) {
  using namespace detail;
  const char* fn = "paraminit::orthogonal";
  auto& ctx = detail::impl(c);
  const Geometry geo = check_view(ctx, t, fn);
  if (o.batch_dims < 0 || o.batch_dims > kMaxRank)
    fail(Status::invalid_argument, where(fn) + "batch_dims = " + std::to_string(o.batch_dims) + " is out of range");
  if (t.rank < o.batch_dims + 2)
    fail(Status::invalid_argument, where(fn) + "needs a tensor of rank >= " + std::to_string(o.batch_dims + 2) +
                                       " (batch_dims = " + std::to_string(o.batch_dims) + ", then rows and columns), got rank " +
                                       std::to_string(t.rank));
  check_gain_for(o.gain, t.dtype, fn);
  check_path(o.path, fn);
  std::int64_t shape[kMaxRank];
  global_shape(t, shape);
  OrthoJob job;
  job.key = key;
  job.fn = fn;
  job.gain = o.gain;
  job.path = o.path;
  job.batched = o.batch_dims > 0;
  job.count = 1;
  for (int d = 0; d < o.batch_dims; ++d) job.count *= shape[d];
  job.rows = shape[o.batch_dims];
  job.cols = 1;
  for (int d = o.batch_dims + 1; d < t.rank; ++d) job.cols *= shape[d];
  if (t.window_dim >= 0 && t.window_dim < o.batch_dims) {  // only the matrices inside the window
    job.batch_ext = shape[t.window_dim];
    for (int d = t.window_dim + 1; d < o.batch_dims; ++d) job.batch_inner *= shape[d];
    job.batch_lo = t.window_start;
    job.batch_hi = t.window_start + t.shape[t.window_dim];
  }
  return run(ctx, t, geo, job);
}

OrthogonalInfo delta_orthogonal(Context& c, const TensorView& t, Key key, const DeltaOrthogonalOptions& o) {
  using namespace detail;
  const char* fn = "paraminit::delta_orthogonal";
  auto& ctx = detail::impl(c);
  const Geometry geo = check_view(ctx, t, fn);
  require_conv_weight(t, fn);
  std::int64_t shape[kMaxRank];
  global_shape(t, shape);
  if (shape[1] > shape[0])
    fail(Status::invalid_argument, where(fn) + "in = " + std::to_string(shape[1]) + " > out = " + std::to_string(shape[0]) +
                                       ": the centre tap (out, in) cannot have orthonormal columns");
  check_gain_for(o.gain, t.dtype, fn);
  check_path(o.path, fn);
  OrthoJob job;
  job.key = key;
  job.fn = fn;
  job.gain = o.gain;
  job.path = o.path;
  job.rows = shape[0];
  job.cols = shape[1];
  for (int d = 2; d < t.rank; ++d) {
    if (shape[d] % 2 == 0 && !o.allow_even)
      fail(Status::invalid_argument, where(fn) + "kernel size " + std::to_string(shape[d]) + " (dim " + std::to_string(d) +
                                         ") is even, so there is no centre tap (set allow_even to put it at k / 2, as JAX)");
    job.spatial *= shape[d];
    job.centre = job.centre * shape[d] + shape[d] / 2;
  }
  if (job.spatial == 0) return OrthogonalInfo{};
  return run(ctx, t, geo, job);
}

OrthogonalInfo orthogonalize(Context& c, const TensorView& t, double gain, OrthogonalPath path) {
  using namespace detail;
  const char* fn = "paraminit::orthogonalize";
  auto& ctx = detail::impl(c);
  const Geometry geo = check_view(ctx, t, fn);
  if (t.window_dim >= 0)
    fail(Status::invalid_argument, where(fn) + "needs the whole weight, not a window (its Q depends on every entry)");
  if (t.rank < 2)
    fail(Status::invalid_argument, where(fn) + "needs a tensor of rank >= 2, got rank " + std::to_string(t.rank));
  check_gain_for(gain, t.dtype, fn);
  check_path(path, fn);
  // An arbitrary weight may be ill-conditioned: Householder unless a Cholesky path is asked for.
  if (path == OrthogonalPath::automatic) path = OrthogonalPath::householder;
  OrthoJob job;
  job.load = true;
  job.fn = fn;
  job.gain = gain;
  job.path = path;
  job.rank_check = true;
  job.rows = t.shape[0];
  job.cols = geo.global_numel == 0 ? 0 : static_cast<std::int64_t>(geo.global_numel) / t.shape[0];
  if (!ctx.cuda) {  // non-finite entries: an error before anything is written (CUDA: checked on the device)
    for_dtype(t.dtype, [&](auto tag) {
      using Out = decltype(tag);
      const Out* p = static_cast<const Out*>(t.data);
      for (std::uint64_t i = 0; i < geo.numel; ++i) {
        const double v = kernels::load(p + i);
        if (!std::isfinite(v))
          fail(Status::invalid_argument, where(fn) + "element " + std::to_string(i) + " of the weight is " + fmt_double(v));
      }
    });
  }
  return run(ctx, t, geo, job);
}

}  // namespace paraminit
