// What each scheme's values should look like, and what they measure: the expected mean and std of a
// parameter from its scheme's published formula, the measured moments of the values written, and
// the 5-sigma test of one against the other that `paraminit init` prints per row.
#pragma once

#include <cstdint>

#include "paraminit/paraminit.hpp"
#include "spec.hpp"

namespace paraminit_program {

struct Expect {
  bool known = false;   // false: no check (a structured scheme on a shard)
  bool exact = false;   // deterministic values: the std is exact, up to dtype rounding
  double mean = 0, std = 0;
};

/// The distribution of the whole parameter p (global: a view of its whole shape, no data); sharded:
/// only a window of it is written. Throws SpecError or paraminit::Error (e.g. fans of a rank-1 shape).
Expect expected(const Spec& spec, const Param& p, const paraminit::TensorView& global, bool sharded);

struct Stats {
  double mean = 0, std = 0, m4 = 0;  // m4: the fourth central moment, for the std's sampling error
  std::uint64_t n = 0;
};

/// The moments of values added part by part (the parts of one parameter, in any order), in double:
/// sums of d, d^2, d^3, d^4 for d = x - K, K the first value added (so a constant parameter sums
/// exact zeros and a mean far from zero does not cancel).
class StatsSums {
 public:
  void add(const void* data, paraminit::DType t, std::uint64_t n);  ///< n host values of dtype t
  Stats result() const;

 private:
  bool have_k_ = false;
  double k_ = 0, s_[4] = {};
  std::uint64_t n_ = 0;
};

/// The moments of n host values of dtype t, in double.
Stats host_stats(const void* data, paraminit::DType t, std::uint64_t n);

/// Whether the measured std is within its bound of the expected one; *bound receives the bound.
bool within(const Expect& e, const Stats& s, paraminit::DType t, double* bound);

}  // namespace paraminit_program
