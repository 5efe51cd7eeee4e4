// The orthogonal family on the CPU: the orthogonality bound for every shape, path and dtype; the
// semantics against an independent long-double Gram-Schmidt of the same Gaussian draw; Haar
// distribution (det +-1 binomial, rotation angle KS); entry moments; windows == whole; batched
// matrices; delta-orthogonal structure; orthogonalize on known matrices; path choice and the
// fallbacks; bad input.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "paraminit/paraminit.hpp"
#include "test_util.hpp"
#include "../host/orthogonal.hpp"

namespace {
using namespace paraminit_test;
namespace pi = paraminit;
using pi::Context;
using pi::Key;
using pi::OrthogonalPath;
using pi::TensorView;


// Every test needs LAPACK; a build without it reports Status::unsupported.
#define REQUIRE_LAPACK() \
  do {                   \
    if (!pi::lapack_built()) GTEST_SKIP() << "built without LAPACK"; \
  } while (0)


// max |Q Q^T - I| (rows <= cols) or |Q^T Q - I| (rows > cols) of a row-major (rows, cols) matrix, in
// long double, after dividing by gain.
double orthogonality_error(const std::vector<double>& q, std::size_t rows, std::size_t cols, double gain) {
  const bool by_rows = rows <= cols;
  const std::size_t n = by_rows ? rows : cols, len = by_rows ? cols : rows;
  auto at = [&](std::size_t vec, std::size_t k) { return by_rows ? q[vec * cols + k] : q[k * cols + vec]; };
  double worst = 0;
  for (std::size_t a = 0; a < n; ++a)
    for (std::size_t b = a; b < n; ++b) {
      long double s = 0;
      for (std::size_t k = 0; k < len; ++k) s += static_cast<long double>(at(a, k)) * at(b, k);
      worst = std::max(worst, std::fabs(static_cast<double>(s / (static_cast<long double>(gain) * gain)) - (a == b ? 1.0 : 0.0)));
    }
  return worst;
}

// The bound the library states (paraminit.hpp) for f32 / f64 work, plus, for half outputs, the
// rounding of each entry: |e_ki| <= u |q_ki| gives |(Q + E)^T (Q + E) - Q^T Q|_ij <= 2u + u^2.
double bound_for(DType t, std::size_t n) {
  const double s = std::sqrt(static_cast<double>(n));
  switch (t) {
    case DType::f64: return 1e-13 * s;
    case DType::f32: return 1e-5 * s;
    case DType::f16: return 1e-5 * s + 2.01 * std::ldexp(1.0, -11);
    case DType::bf16: return 1e-5 * s + 2.01 * std::ldexp(1.0, -8);
  }
  return 0;
}

TEST(Orthogonal, BoundForEveryShapePathAndDtype) {
  REQUIRE_LAPACK();
  const std::vector<std::vector<std::int64_t>> shapes = {
      {64, 64}, {200, 200}, {1024, 64}, {64, 1024}, {64, 32, 3, 3}, {4096, 16}, {16, 4096}, {390, 100}, {100, 390}, {1, 50}, {50, 1}};
  for (auto path : {OrthogonalPath::automatic, OrthogonalPath::householder, OrthogonalPath::cholesky_qr, OrthogonalPath::cholesky_qr2})
    for (const auto& shape : shapes)
      for (DType t : kAllDTypes) {
        const std::size_t rows = static_cast<std::size_t>(shape[0]), cols = numel(shape) / rows;
        Buffer b(t, numel(shape));
        const double gain = 1.7;
        const pi::OrthogonalInfo info = pi::orthogonal(ctx(), view(b, shape), Key{7, 8}, {gain, path});
        const double err = orthogonality_error(b.values(), rows, cols, gain);
        EXPECT_LE(err, bound_for(t, std::min(rows, cols)))
            << "shape " << rows << "x" << cols << " " << pi::to_string(t) << " path " << static_cast<int>(path)
            << " ran " << static_cast<int>(info.path) << " passes " << info.cholesky_passes;
      }
}

// An independent reference: the same Gaussian draw (normal(), std 1) orthonormalized by twice-iterated
// modified Gram-Schmidt in long double, which gives the QR with a positive diagonal of R.
std::vector<long double> gram_schmidt_reference(const std::vector<double>& a, std::size_t rows, std::size_t cols) {
  const bool tall = rows >= cols;  // factor A (tall) or A^T
  const std::size_t m = tall ? rows : cols, n = tall ? cols : rows;
  std::vector<long double> v(m * n);  // column j of M at v[j * m + i]
  for (std::size_t i = 0; i < m; ++i)
    for (std::size_t j = 0; j < n; ++j) v[j * m + i] = tall ? a[i * cols + j] : a[j * cols + i];
  for (std::size_t j = 0; j < n; ++j)
    for (int pass = 0; pass < 2; ++pass) {
      for (std::size_t p = 0; p < j; ++p) {
        long double d = 0;
        for (std::size_t i = 0; i < m; ++i) d += v[p * m + i] * v[j * m + i];
        for (std::size_t i = 0; i < m; ++i) v[j * m + i] -= d * v[p * m + i];
      }
      long double nrm = 0;
      for (std::size_t i = 0; i < m; ++i) nrm += v[j * m + i] * v[j * m + i];
      nrm = std::sqrt(nrm);
      for (std::size_t i = 0; i < m; ++i) v[j * m + i] /= nrm;
    }
  std::vector<long double> q(rows * cols);  // back to the (rows, cols) result
  for (std::size_t i = 0; i < m; ++i)
    for (std::size_t j = 0; j < n; ++j) (tall ? q[i * cols + j] : q[j * cols + i]) = v[j * m + i];
  return q;
}

TEST(Orthogonal, EqualsGramSchmidtOfTheSameGaussianDraw) {
  REQUIRE_LAPACK();
  const Key key{2026, 5};
  // 260x130 and 130x260: the blocked Householder path (n >= 128), two panels.
  for (auto shape : {std::vector<std::int64_t>{40, 7}, {7, 40}, {30, 30}, {48, 12}, {12, 48}, {260, 130}, {130, 260}})
    for (auto path : {OrthogonalPath::householder, OrthogonalPath::cholesky_qr, OrthogonalPath::automatic})
      for (DType t : {DType::f32, DType::f64}) {
        const std::size_t rows = static_cast<std::size_t>(shape[0]), cols = static_cast<std::size_t>(shape[1]);
        Buffer g(t, rows * cols), q(t, rows * cols);
        pi::normal(ctx(), view(g, shape), key, {0.0, 1.0});
        pi::orthogonal(ctx(), view(q, shape), key, {1.0, path});
        const auto ref = gram_schmidt_reference(g.values(), rows, cols);
        // QR's backward error amplified by the conditioning of the square Gaussian (~n): generous but
        // far below any sign or transpose mistake (entries are ~1/sqrt(n)).
        const double tol = t == DType::f32 ? 2e-4 : 1e-11;
        for (std::size_t i = 0; i < rows * cols; ++i)
          ASSERT_NEAR(q.at(i), static_cast<double>(ref[i]), tol)
              << rows << "x" << cols << " " << pi::to_string(t) << " path " << static_cast<int>(path) << " element " << i;
      }
}

// The blocked Householder path (geqrt in panels of 128 columns and its own Q, for n >= 128) against
// LAPACK's geqrf + orgqr on the same matrix: the same reflectors (the same signs of diag(R)) applied in
// another order, so Q agrees to rounding amplified by the conditioning (~n for a square Gaussian).
// Measured max differences: f32 3.4e-6 (300x300; 2e-6 at 2048^2), f64 3e-15. Tolerances: f32 2e-5,
// f64 1e-12, against entries of ~1/sqrt(n) >= 0.03 here, so a wrong sign, panel or column order cannot
// pass. Shapes: one whole panel, a ragged last panel, tall and wide (stored transposed and plain), and
// m = n + 1.
template <class T>
void expect_blocked_equals_lapack(std::int64_t rows, std::int64_t cols) {
  namespace d = pi::detail;
  const std::size_t len = static_cast<std::size_t>(rows * cols);
  std::vector<T> a(len);
  const DType dt = std::is_same_v<T, float> ? DType::f32 : DType::f64;
  pi::normal(ctx(), TensorView::of(a.data(), dt, {rows, cols}), Key{2026, 12});
  std::vector<T> wb(a), wl(a);
  pi::OrthogonalInfo ib, il;
  const d::QResult<T> rb = d::factor<T>(d::cpu_qr_ops<T>(), wb.data(), rows, cols, OrthogonalPath::householder, ib);
  const d::QResult<T> rl = d::factor<T>(d::cpu_qr_ops_unblocked<T>(), wl.data(), rows, cols, OrthogonalPath::householder, il);
  ASSERT_EQ(rb.form, rl.form);
  const std::size_t n = static_cast<std::size_t>(std::min(rows, cols));
  for (std::size_t j = 0; j < n; ++j) ASSERT_EQ(rb.sign[j], rl.sign[j]) << rows << "x" << cols << " sign " << j;
  EXPECT_NEAR(rb.rdiag_ratio, rl.rdiag_ratio, 1e-4 * rl.rdiag_ratio);
  const double tol = std::is_same_v<T, float> ? 2e-5 : 1e-12;
  std::vector<double> q(len);
  double worst = 0;
  for (std::size_t i = 0; i < len; ++i) {
    const double b = d::q_value(rb, i, rows, cols, 1, 0), l = d::q_value(rl, i, rows, cols, 1, 0);
    worst = std::max(worst, std::fabs(b - l));
    q[i] = b;
  }
  EXPECT_LE(worst, tol) << rows << "x" << cols << " " << pi::to_string(dt);
  EXPECT_LE(orthogonality_error(q, static_cast<std::size_t>(rows), static_cast<std::size_t>(cols), 1.0), bound_for(dt, n))
      << rows << "x" << cols << " " << pi::to_string(dt);
}

TEST(Orthogonal, BlockedHouseholderEqualsLapackGeqrfOrgqr) {
  REQUIRE_LAPACK();
  for (auto shape : {std::vector<std::int64_t>{128, 128}, {300, 300}, {301, 300}, {700, 260}, {260, 700}}) {
    expect_blocked_equals_lapack<float>(shape[0], shape[1]);
    expect_blocked_equals_lapack<double>(shape[0], shape[1]);
  }
}

TEST(Orthogonal, HaarDeterminantsAndAngles) {
  REQUIRE_LAPACK();
  // 2x2: det = +1 and -1 equally often (binomial, 5 sigma), the angle atan2(q10, q00) uniform on
  // (-pi, pi] (KS at p = 1e-4). 3x3: R = det(Q) Q is Haar on SO(3), whose rotation angle phi has the
  // CDF (phi - sin phi) / pi on [0, pi].
  const int N = 4000;
  int pos2 = 0, pos3 = 0;
  std::vector<double> ang2, ang3;
  for (int k = 0; k < N; ++k) {
    Buffer b2(DType::f64, 4), b3(DType::f64, 9);
    pi::orthogonal(ctx(), view(b2, {2, 2}), Key{99, static_cast<std::uint64_t>(k)});
    pi::orthogonal(ctx(), view(b3, {3, 3}), Key{98, static_cast<std::uint64_t>(k)});
    const auto q = b2.values(), r = b3.values();
    const double det2 = q[0] * q[3] - q[1] * q[2];
    pos2 += det2 > 0;
    ang2.push_back(std::atan2(q[2], q[0]));
    const double det3 = r[0] * (r[4] * r[8] - r[5] * r[7]) - r[1] * (r[3] * r[8] - r[5] * r[6]) + r[2] * (r[3] * r[7] - r[4] * r[6]);
    pos3 += det3 > 0;
    const double s = det3 > 0 ? 1 : -1;
    const double c = std::clamp((s * (r[0] + r[4] + r[8]) - 1) / 2, -1.0, 1.0);
    ang3.push_back(std::acos(c));
    ASSERT_NEAR(std::fabs(det2), 1.0, 1e-12);
    ASSERT_NEAR(std::fabs(det3), 1.0, 1e-12);
  }
  const double five_sigma = 5 * std::sqrt(N * 0.25);
  EXPECT_NEAR(pos2, N / 2.0, five_sigma);
  EXPECT_NEAR(pos3, N / 2.0, five_sigma);
  const double crit = ks_critical(N, 1e-4);
  EXPECT_LT(ks_statistic(ang2, [](double x) { return (x + M_PI) / (2 * M_PI); }), crit);
  EXPECT_LT(ks_statistic(ang3, [](double x) { return (x - std::sin(x)) / M_PI; }), crit);
}

TEST(Orthogonal, EntriesOfALargeOutputHaveVariance1OverN) {
  REQUIRE_LAPACK();
  // Haar entries: E q = 0, E q^2 = 1/n, E q^4 = 3 / (n (n + 2)); the sample over all n^2 entries.
  const std::size_t n = 384;
  Buffer b(DType::f64, n * n);
  pi::orthogonal(ctx(), view(b, {static_cast<std::int64_t>(n), static_cast<std::int64_t>(n)}), Key{1, 1});
  const Moments m = moments(b.values());
  const double N = static_cast<double>(n * n), var = 1.0 / n;
  EXPECT_NEAR(m.mean, 0.0, 5 * std::sqrt(var / N));
  EXPECT_NEAR(m.var, var, 5 * std::sqrt(2 * var * var / N));
  const double m4 = 3.0 / (static_cast<double>(n) * (n + 2));
  EXPECT_NEAR(m.m4, m4, 5 * std::sqrt((105.0 / (n * n * n * n) - m4 * m4) / N));
}

TEST(Orthogonal, SameKeySameBitsAndWindowsEqualTheWhole) {
  REQUIRE_LAPACK();
  for (DType t : kAllDTypes) {
    const std::vector<std::int64_t> shape = {96, 20};
    Buffer a(t, 96 * 20), b(t, 96 * 20);
    pi::orthogonal(ctx(), view(a, shape), Key{3, 4}, {0.5});
    pi::orthogonal(ctx(), view(b, shape), Key{3, 4}, {0.5});
    ASSERT_EQ(std::memcmp(a.bytes(), b.bytes(), a.nbytes()), 0);
    const std::size_t es = pi::dtype_size(t);
    Buffer rows(t, 30 * 20), cols(t, 96 * 7);
    pi::orthogonal(ctx(), view(rows, {30, 20}).window(0, 50, 96), Key{3, 4}, {0.5});
    EXPECT_EQ(std::memcmp(rows.bytes(), a.bytes() + 50 * 20 * es, rows.nbytes()), 0);
    pi::orthogonal(ctx(), view(cols, {96, 7}).window(1, 13, 20), Key{3, 4}, {0.5});
    for (std::size_t r = 0; r < 96; ++r)
      ASSERT_EQ(std::memcmp(cols.bytes() + r * 7 * es, a.bytes() + (r * 20 + 13) * es, 7 * es), 0) << "row " << r;
  }
}

TEST(Orthogonal, BatchedMatricesAreIndependentAndUseTheirOwnStreams) {
  REQUIRE_LAPACK();
  const std::int64_t heads = 8, d = 16;
  Buffer b(DType::f64, static_cast<std::size_t>(heads * d * d));
  pi::OrthogonalOptions o;
  o.batch_dims = 1;
  pi::orthogonal(ctx(), view(b, {heads, d, d}), Key{5, 6}, o);
  const auto v = b.values();
  for (std::int64_t h = 0; h < heads; ++h) {
    Buffer one(DType::f64, static_cast<std::size_t>(d * d));
    pi::orthogonal(ctx(), view(one, {d, d}), Key{5, pi::batch_stream(6, static_cast<std::uint64_t>(h))});
    ASSERT_EQ(std::memcmp(one.bytes(), b.bytes() + h * d * d * 8, one.nbytes()), 0) << "head " << h;
  }
  // Entry correlation between heads: |r| < 5 / sqrt(d^2) (5 sigma of a null correlation).
  for (std::int64_t h = 1; h < heads; ++h) {
    double sxy = 0, sxx = 0, syy = 0;
    for (std::int64_t i = 0; i < d * d; ++i) {
      const double x = v[static_cast<std::size_t>(i)], y = v[static_cast<std::size_t>(h * d * d + i)];
      sxy += x * y, sxx += x * x, syy += y * y;
    }
    EXPECT_LT(std::fabs(sxy / std::sqrt(sxx * syy)), 5.0 / d) << "head " << h;
  }
  // A window along the batch dim computes only its matrices and equals the whole.
  Buffer w(DType::f64, static_cast<std::size_t>(3 * d * d));
  pi::orthogonal(ctx(), view(w, {3, d, d}).window(0, 4, heads), Key{5, 6}, o);
  EXPECT_EQ(std::memcmp(w.bytes(), b.bytes() + 4 * d * d * 8, w.nbytes()), 0);
}

TEST(Orthogonal, PathChoiceAndMeasuredError) {
  REQUIRE_LAPACK();
  Buffer b(DType::f32, 1024 * 64);
  auto info = pi::orthogonal(ctx(), view(b, {1024, 64}), Key{1, 2});
  EXPECT_EQ(info.path, OrthogonalPath::cholesky_qr);  // rows / cols = 16 >= 4
  EXPECT_EQ(info.cholesky_passes, 1);
  EXPECT_GE(info.orthogonality_error, 0.0);
  EXPECT_LE(info.orthogonality_error, 1e-5 * 8 / 4);
  info = pi::orthogonal(ctx(), view(b, {256, 256}), Key{1, 2});
  EXPECT_EQ(info.path, OrthogonalPath::householder);
  info = pi::orthogonal(ctx(), view(b, {1024, 64}), Key{1, 2}, {1.0, OrthogonalPath::cholesky_qr2});
  EXPECT_EQ(info.cholesky_passes, 2);
  // Forced CholeskyQR on a square Gaussian (condition ~n): the measurement rejects one pass.
  info = pi::orthogonal(ctx(), view(b, {256, 256}), Key{1, 2}, {1.0, OrthogonalPath::cholesky_qr});
  EXPECT_NE(info.cholesky_passes, 1) << "one CholeskyQR pass accepted for a square matrix, error " << info.orthogonality_error;
  EXPECT_LE(orthogonality_error(b.values(), 256, 256, 1.0), 1e-5 * 16);
}

TEST(DeltaOrthogonal, CentreTapIsTheOrthogonalMatrixElseZero) {
  REQUIRE_LAPACK();
  for (DType t : kAllDTypes) {
    const std::vector<std::int64_t> shape = {32, 16, 3, 5};
    Buffer b(t, numel(shape)), centre(t, 32 * 16);
    pi::delta_orthogonal(ctx(), view(b, shape), Key{4, 4}, {2.0});
    pi::orthogonal(ctx(), view(centre, {32, 16}), Key{4, 4}, {2.0});
    const auto v = b.values(), c = centre.values();
    for (std::size_t o = 0; o < 32; ++o)
      for (std::size_t i = 0; i < 16; ++i)
        for (std::size_t tap = 0; tap < 15; ++tap) {
          const double x = v[(o * 16 + i) * 15 + tap];
          ASSERT_EQ(x, tap == 1 * 5 + 2 ? c[o * 16 + i] : 0.0) << o << " " << i << " " << tap;
        }
    EXPECT_LE(orthogonality_error(c, 32, 16, 2.0), bound_for(t, 16));
  }
}

TEST(Orthogonalize, KnownMatrices) {
  REQUIRE_LAPACK();
  // Columns (3, 4) and (1, 2) -> Gram-Schmidt: (0.6, 0.8) and (-0.8, 0.6).
  Buffer b(DType::f64, 4);
  double w[] = {3, 1, 4, 2};
  std::memcpy(b.data(), w, sizeof w);
  pi::orthogonalize(ctx(), view(b, {2, 2}));
  const std::vector<double> want = {0.6, -0.8, 0.8, 0.6};
  for (std::size_t i = 0; i < 4; ++i) EXPECT_NEAR(b.at(i), want[i], 1e-15);
  // Wide: rows (3, 4, 0) and (1, 2, 2) -> (0.6, 0.8, 0) and (1, 2, 2) - 2.2 (0.6, 0.8, 0) normalized.
  Buffer c(DType::f64, 6);
  double x[] = {3, 4, 0, 1, 2, 2};
  std::memcpy(c.data(), x, sizeof x);
  pi::orthogonalize(ctx(), view(c, {2, 3}), 3.0);
  const double r2[] = {1 - 1.32, 2 - 1.76, 2}, n2 = std::sqrt(r2[0] * r2[0] + r2[1] * r2[1] + r2[2] * r2[2]);
  const std::vector<double> want2 = {1.8, 2.4, 0, 3 * r2[0] / n2, 3 * r2[1] / n2, 3 * r2[2] / n2};
  for (std::size_t i = 0; i < 6; ++i) EXPECT_NEAR(c.at(i), want2[i], 1e-14);
  // An orthogonal matrix is its own orthogonal factor; a tall one through CholeskyQR as well.
  for (auto shape : {std::vector<std::int64_t>{50, 50}, {400, 20}}) {
    Buffer q(DType::f64, numel(shape)), q2(DType::f64, numel(shape));
    pi::orthogonal(ctx(), view(q, shape), Key{8, 9});
    std::memcpy(q2.data(), q.data(), q.nbytes());
    const auto info = pi::orthogonalize(ctx(), view(q2, shape));
    for (std::size_t i = 0; i < q.n; ++i) ASSERT_NEAR(q2.at(i), q.at(i), 1e-13) << static_cast<int>(info.path);
  }
}


TEST(OrthogonalErrors, ClearMessagesAndNothingWritten) {
  REQUIRE_LAPACK();
  using S = pi::Status;
  const Key k{1, 1};
  expect_error(S::invalid_argument, {"orthogonal", "rank >= 2", "rank 1"}, DType::f32, {8}, [&](const TensorView& v) { pi::orthogonal(ctx(), v, k); });
  pi::OrthogonalOptions batched;
  batched.batch_dims = 1;
  expect_error(S::invalid_argument, {"rank >= 3"}, DType::f32, {4, 4}, [&](const TensorView& v) { pi::orthogonal(ctx(), v, k, batched); });
  expect_error(S::invalid_argument, {"gain = nan"}, DType::f32, {4, 4}, [&](const TensorView& v) {
    pi::orthogonal(ctx(), v, k, {std::numeric_limits<double>::quiet_NaN()});
  });
  expect_error(S::invalid_argument, {"gain = 1e+06", "f16"}, DType::f16, {4, 4}, [&](const TensorView& v) { pi::orthogonal(ctx(), v, k, {1e6}); });
  expect_error(S::invalid_argument, {"path = 7"}, DType::f32, {4, 4}, [&](const TensorView& v) {
    pi::orthogonal(ctx(), v, k, {1.0, static_cast<OrthogonalPath>(7)});
  });
  expect_error(S::invalid_argument, {"in = 8 > out = 4"}, DType::f32, {4, 8, 3}, [&](const TensorView& v) { pi::delta_orthogonal(ctx(), v, k); });
  expect_error(S::invalid_argument, {"kernel size 4", "even", "allow_even"}, DType::f32, {8, 4, 3, 4},
               [&](const TensorView& v) { pi::delta_orthogonal(ctx(), v, k); });
  expect_error(S::invalid_argument, {"rank 2"}, DType::f32, {8, 4}, [&](const TensorView& v) { pi::delta_orthogonal(ctx(), v, k); });
  expect_error(S::invalid_argument, {"whole weight"}, DType::f32, {4, 4}, [&](const TensorView& v) {
    pi::orthogonalize(ctx(), v.window(0, 0, 8));
  });
  expect_error(S::invalid_argument, {"element 1", "nan"}, DType::f64, {2, 2}, [&](const TensorView& v) { pi::orthogonalize(ctx(), v); },
               {1.0, std::numeric_limits<double>::quiet_NaN(), 0.0, 1.0});
  expect_error(S::numerical, {"rank deficient"}, DType::f64, {3, 2}, [&](const TensorView& v) { pi::orthogonalize(ctx(), v); },
               {1, 2, 2, 4, 3, 6});
  expect_error(S::numerical, {"rank deficient"}, DType::f64, {8, 2}, [&](const TensorView& v) {
    pi::orthogonalize(ctx(), v, 1.0, OrthogonalPath::cholesky_qr);  // Cholesky fails, Householder finds R_22 = 0
  }, {1, 2, 2, 4, 3, 6, 4, 8, 5, 10, 6, 12, 7, 14, 8, 16});
  // Zero-size tensors do nothing; even kernels accepted when asked.
  Buffer z(DType::f32, 1);
  pi::orthogonal(ctx(), view(z, {0, 5}), k);
  Buffer e(DType::f32, 8 * 4 * 2 * 2);
  pi::delta_orthogonal(ctx(), view(e, {8, 4, 2, 2}), k, {1.0, true});
  EXPECT_NE(e.at((0 * 4 + 0) * 4 + 3), 0.0);  // the tap at (2/2, 2/2) = (1, 1)
}

// A scripted QrOps backend for run_job: matrix k of the batch (counted by draw calls) takes the
// path its script says, with the Gram deviations it says, so that the batch's report can be checked
// for every order of the same matrices. No LAPACK needed.
struct Script {
  bool cholesky_fails = false;  // the first Cholesky pass fails: Householder fallback
  double first = 0, second = 0; // gram_deviation after pass 1 and pass 2
};
struct ScriptedOps : pi::detail::QrOps<float> {
  const std::vector<Script>* script = nullptr;
  std::size_t k = 0;
  int passes = 0;
  bool cholesky_pass(float*, std::int64_t, std::int64_t, bool, double* ratio) override {
    *ratio = 0.5;
    if ((*script)[k].cholesky_fails) return false;
    ++passes;
    return true;
  }
  double gram_deviation(const float*, std::int64_t, std::int64_t, bool) override {
    return passes == 1 ? (*script)[k].first : (*script)[k].second;
  }
  pi::detail::QResult<float> householder(float* a, std::int64_t, std::int64_t, bool) override {
    pi::detail::QResult<float> r;
    r.q = a;
    return r;
  }
};
struct ScriptedBackend {
  ScriptedOps qr;
  std::vector<float> buf;
  std::int64_t draws = 0;
  float* work(std::size_t n) {
    buf.assign(n, 0.0f);
    return buf.data();
  }
  void draw(float*, std::int64_t, std::int64_t, Key) {
    qr.k = static_cast<std::size_t>(draws++);
    qr.passes = 0;
  }
  void load(float*) {}
  pi::detail::QrOps<float>& ops() { return qr; }
  void store(const pi::detail::QResult<float>&, std::uint64_t) {}
};

TEST(Orthogonal, BatchReportIsTheWorstPathAndLargestErrorInAnyOrder) {
  // (64, 8) under `automatic` is CholeskyQR (m >= 4n), accepted when the measured deviation is
  // <= 1e-5 sqrt(8) / 4 = 7.1e-6.
  const Script fallback{true, 0, 0};           // Householder (unmeasured, -1)
  const Script one_pass{false, 4e-6, 0};       // cholesky_qr, error 4e-6 (the largest measured)
  const Script two_passes{false, 1e-3, 2e-6};  // cholesky_qr2, error 2e-6
  auto report = [](std::vector<Script> s) {
    ScriptedBackend be;
    be.qr.script = &s;
    pi::detail::OrthoJob job;
    job.batched = true;
    job.count = static_cast<std::int64_t>(s.size());
    job.rows = 64;
    job.cols = 8;
    job.batch_ext = job.count;
    job.batch_hi = job.count;
    job.fn = "test";
    const pi::OrthogonalInfo info = pi::detail::run_job<float>(be, job);
    EXPECT_EQ(be.draws, job.count);
    return info;
  };
  // Every order of {fallback, one_pass, two_passes}: a Householder fallback anywhere is reported,
  // with the largest error measured on any matrix.
  std::vector<int> order = {0, 1, 2};
  const Script all[] = {fallback, one_pass, two_passes};
  do {
    const pi::OrthogonalInfo info = report({all[order[0]], all[order[1]], all[order[2]]});
    const std::string at = "order " + std::to_string(order[0]) + std::to_string(order[1]) + std::to_string(order[2]);
    EXPECT_EQ(info.path, OrthogonalPath::householder) << at;
    EXPECT_EQ(info.orthogonality_error, 4e-6) << at;
    EXPECT_EQ(info.cholesky_passes, 2) << at;
  } while (std::next_permutation(order.begin(), order.end()));
  // Without a fallback: a second pass beats one pass, and the error is still the largest measured.
  for (bool swap : {false, true}) {
    const pi::OrthogonalInfo info = swap ? report({one_pass, two_passes}) : report({two_passes, one_pass});
    EXPECT_EQ(info.path, OrthogonalPath::cholesky_qr2) << swap;
    EXPECT_EQ(info.orthogonality_error, 4e-6) << swap;
    EXPECT_EQ(info.cholesky_passes, 2) << swap;
  }
  // Only fallbacks: Householder, nothing measured.
  const pi::OrthogonalInfo hh = report({fallback, fallback});
  EXPECT_EQ(hh.path, OrthogonalPath::householder);
  EXPECT_EQ(hh.orthogonality_error, -1);
  EXPECT_EQ(hh.cholesky_passes, 0);
}

}  // namespace
