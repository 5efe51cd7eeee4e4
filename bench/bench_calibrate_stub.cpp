// Builds without BLAS have no calibration rows.
#include "bench_common.hpp"

namespace paraminit_bench {
void calibration_rows(paraminit::Context&) {}
}  // namespace paraminit_bench
