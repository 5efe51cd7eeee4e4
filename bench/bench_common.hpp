// Shared by the CPU and GPU benchmark tables: medians and the row format.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <utility>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "paraminit/paraminit.hpp"

namespace paraminit_bench {

// Median of `reps` timings (seconds) of fn, after one warm-up call.
inline double median_seconds(int reps, const std::function<void()>& fn) {
  fn();
  std::vector<double> t;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

struct Row {
  std::string device, what, dtype;
  double elems, bytes, seconds, limit_bytes_per_s;
};

inline void print_header(const char* title) {
  std::printf("\n%s\n", title);
  std::printf("| device | fill | dtype | elements | median ms | G elem/s | GB/s | of limit |\n");
  std::printf("|---|---|---|---:|---:|---:|---:|---:|\n");
}

inline void print_row(const Row& r) {
  const double gbs = r.bytes / r.seconds / 1e9;
  std::printf("| %s | %s | %s | %.0f | %.3f | %.3f | %.2f | %.0f%% |\n", r.device.c_str(), r.what.c_str(),
              r.dtype.c_str(), r.elems, r.seconds * 1e3, r.elems / r.seconds / 1e9, gbs,
              100.0 * (r.bytes / r.seconds) / r.limit_bytes_per_s);
  std::fflush(stdout);
}

// The fills measured in every table, with the parameters of a typical transformer weight.
struct Fill {
  const char* name;
  std::function<void(paraminit::Context&, const paraminit::TensorView&)> run;
};
inline const std::vector<Fill>& fills() {
  static const paraminit::Key key{2026, 11};
  static const std::vector<Fill> all = {
      {"constant", [](paraminit::Context& c, const paraminit::TensorView& v) { paraminit::constant(c, v, 0.1); }},
      {"uniform", [](paraminit::Context& c, const paraminit::TensorView& v) { paraminit::uniform(c, v, key, {-0.05, 0.05}); }},
      {"normal", [](paraminit::Context& c, const paraminit::TensorView& v) { paraminit::normal(c, v, key, {0.0, 0.02}); }},
      {"trunc_normal",
       [](paraminit::Context& c, const paraminit::TensorView& v) { paraminit::trunc_normal(c, v, key, {0.0, 0.02, -0.04, 0.04}); }},
  };
  return all;
}

// Sparse rows: a 4096 x 4096 f32 weight (issue 4's case) beside the dense normal of the same shape.
inline const std::vector<Fill>& sparse_fills() {
  static const paraminit::Key key{2026, 12};
  static const std::vector<Fill> all = {
      {"normal 4096x4096 (dense)", [](paraminit::Context& c, const paraminit::TensorView& v) { paraminit::normal(c, v, key, {0.0, 0.01}); }},
      {"sparse k=15 4096x4096", [](paraminit::Context& c, const paraminit::TensorView& v) {
         paraminit::SparseOptions o;
         o.nonzeros_per_unit = 15;
         paraminit::sparse(c, v, key, o);
       }},
      {"sparse_fraction 0.9 4096x4096",
       [](paraminit::Context& c, const paraminit::TensorView& v) { paraminit::sparse_fraction(c, v, key, 0.9, 0.01); }},
  };
  return all;
}

// Median timings of two functions measured alternately (a, b, a, b, ...), so that the machine's
// drift affects both alike: for "scheme vs the fill it uses" comparisons.
inline std::pair<double, double> median_pair_seconds(int reps, const std::function<void()>& a,
                                                     const std::function<void()>& b) {
  a();
  b();
  std::vector<double> ta, tb;
  for (int r = 0; r < reps; ++r)
    for (int which = 0; which < 2; ++which) {
      const auto t0 = std::chrono::steady_clock::now();
      (which == 0 ? a : b)();
      (which == 0 ? ta : tb).push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
  std::sort(ta.begin(), ta.end());
  std::sort(tb.begin(), tb.end());
  return {ta[ta.size() / 2], tb[tb.size() / 2]};
}

inline std::string ratio_text(double a, double b) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", a / b);
  return buf;
}

// Fan-based schemes beside the fill each one runs, on an (8192, rows / 8192) f32 weight, with the
// fill's parameters written out (the scheme must cost no more than its fill: issue 3, within 5%).
struct SchemePair {
  const char* scheme;
  const char* fill;
  std::function<void(paraminit::Context&, const paraminit::TensorView&)> run_scheme, run_fill;
};
inline std::vector<SchemePair> scheme_pairs(std::int64_t fan_in) {
  static const paraminit::Key key{2026, 13};
  const double m = static_cast<double>(fan_in);
  std::vector<SchemePair> v;
  v.push_back({"he_uniform", "uniform +-sqrt(6/fan_in)",
               [](paraminit::Context& c, const paraminit::TensorView& t) { paraminit::he_uniform(c, t, key); },
               [m](paraminit::Context& c, const paraminit::TensorView& t) {
                 const double b = std::sqrt(6.0 / m);
                 paraminit::uniform(c, t, key, {-b, b});
               }});
  v.push_back({"glorot_normal", "normal sqrt(2/(fan_in+fan_out))",
               [](paraminit::Context& c, const paraminit::TensorView& t) { paraminit::glorot_normal(c, t, key); },
               [](paraminit::Context& c, const paraminit::TensorView& t) {
                 const auto f = paraminit::compute_fans(t);
                 paraminit::normal(c, t, key, {0.0, std::sqrt(2.0 / static_cast<double>(f.fan_in + f.fan_out))});
               }});
  v.push_back({"variance_scaling (trunc)", "trunc_normal +-2s",
               [](paraminit::Context& c, const paraminit::TensorView& t) { paraminit::variance_scaling(c, t, key); },
               [m](paraminit::Context& c, const paraminit::TensorView& t) {
                 const double s = std::sqrt(1.0 / m) / paraminit::kTruncStdCorrection;
                 paraminit::trunc_normal(c, t, key, {0.0, s, -2 * s, 2 * s});
               }});
  return v;
}

// Orthogonal shapes of issue 5: CPU 2048^2 and 16384 x 1024 (automatic, and Householder forced for
// comparison); GPU 8192^2 and 65536 x 4096.
struct OrthoShape {
  std::int64_t rows, cols;
  paraminit::OrthogonalPath path;
  const char* label;
};
inline std::vector<OrthoShape> orthogonal_shapes(bool gpu) {
  using P = paraminit::OrthogonalPath;
  if (gpu)
    return {{8192, 8192, P::automatic, "8192x8192"}, {65536, 4096, P::automatic, "65536x4096"},
            {65536, 4096, P::householder, "65536x4096 (householder forced)"}};
  return {{2048, 2048, P::automatic, "2048x2048"}, {16384, 1024, P::automatic, "16384x1024"},
          {16384, 1024, P::householder, "16384x1024 (householder forced)"}, {16384, 1024, P::cholesky_qr2, "16384x1024 (cholesky_qr2 forced)"}};
}
inline const char* path_name(paraminit::OrthogonalPath p) {
  switch (p) {
    case paraminit::OrthogonalPath::automatic: return "automatic";
    case paraminit::OrthogonalPath::householder: return "householder";
    case paraminit::OrthogonalPath::cholesky_qr: return "cholesky_qr";
    case paraminit::OrthogonalPath::cholesky_qr2: return "cholesky_qr2";
  }
  return "?";
}
inline void print_ortho_row(const char* device, const OrthoShape& sh, const char* dtype, double s,
                            const paraminit::OrthogonalInfo& info) {
  char err[32] = "-";
  if (info.orthogonality_error >= 0) std::snprintf(err, sizeof err, "%.2e", info.orthogonality_error);
  std::printf("| %s | orthogonal | %s | %s | %.3f | %s | %d | %s |\n", device, dtype, sh.label, s, path_name(info.path),
              info.cholesky_passes, err);
  std::fflush(stdout);
}

void calibration_rows(paraminit::Context& ctx);  // bench_calibrate.cpp

inline const paraminit::DType kDTypes[] = {paraminit::DType::f32, paraminit::DType::f64, paraminit::DType::f16,
                                           paraminit::DType::bf16};

}  // namespace paraminit_bench
