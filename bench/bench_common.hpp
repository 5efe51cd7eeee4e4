// Shared by the CPU and GPU benchmark tables: medians and the row format.
#pragma once

#include <algorithm>
#include <chrono>
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

inline const paraminit::DType kDTypes[] = {paraminit::DType::f32, paraminit::DType::f64, paraminit::DType::f16,
                                           paraminit::DType::bf16};

}  // namespace paraminit_bench
