// The statistics of one row of a (rows, cols) array as the calibration's device row kernels
// accumulate them (cuda/calibrate.cu: each thread adds its share of the row, then a fixed tree over
// the block merges them), merged on the host in row order (host/calibrate.cpp, summarize_rows).
// Sums in double, so that tiny activations (1e-30 deep in a vanishing network) keep their squares;
// min / max ignore NaN (a comparison with NaN is false: the old value stays), as the CPU's do.
#pragma once

#include <math.h>

#include "hd.hpp"

namespace paraminit {
namespace kernels {

// The partial statistics of one row (or of a thread's share of it). Trivial, so that a kernel may
// keep an array of them in shared memory.
struct RowStats {
  double sum, sq;  // of the values and of their squares
  float lo, hi;
};

PI_HD RowStats row_stats_empty() { return RowStats{0.0, 0.0, INFINITY, -INFINITY}; }

PI_HD void row_stats_add(RowStats& s, float x) {
  const double d = x;
  s.sum += d;
  s.sq += d * d;
  s.lo = x < s.lo ? x : s.lo;
  s.hi = x > s.hi ? x : s.hi;
}

// a then b (the order is the caller's: a fixed tree is deterministic).
PI_HD RowStats row_stats_merge(const RowStats& a, const RowStats& b) {
  return RowStats{a.sum + b.sum, a.sq + b.sq, b.lo < a.lo ? b.lo : a.lo, b.hi > a.hi ? b.hi : a.hi};
}

}  // namespace kernels
}  // namespace paraminit
