// Internal declarations shared by the CPU calibration (host/calibrate.cpp), its CUDA path
// (cuda/calibrate.cu) and their one driver (host/calibrate_driver.hpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "../kernels/row_stats.hpp"
#include "internal.hpp"
#include "paraminit/calibrate.hpp"

namespace paraminit {
namespace detail {

// The checked shapes of a layer stack on a minibatch (batch, width0).
struct StackShape {
  std::int64_t batch = 0, width0 = 0;
  std::vector<std::int64_t> in, out;
};
// A Nonlinearity outside calibration_supports: Status::unsupported naming it and `at` (e.g. "layer 2: ").
void require_calibration_activation(Nonlinearity a, const char* fn, const std::string& at);
// Validates the stack (every view on ctx's side: host or device memory). Errors name the layer.
StackShape check_stack(const ContextImpl& ctx, const std::vector<DenseLayer>& layers, const TensorView& x, const char* fn);

// The partial statistics of one row of a (rows, cols) array (kernels/row_stats.hpp).
using kernels::RowStats;
// The Summary of a (rows.size(), cols) array from its rows' statistics, merged in row order.
Summary summarize_rows(const std::vector<RowStats>& rows, std::int64_t cols);

// Throws Status::numerical naming layer l when s is not finite.
void require_finite_summary(const Summary& s, const char* fn, std::size_t l, const char* what);
// Throws Status::numerical naming layer l when LSUV cannot rescale it (std 0 or not finite).
void require_rescalable(double std, const char* fn, std::size_t l);

#if defined(PARAMINIT_WITH_CUDA)
// The CUDA paths (cuda/calibrate.cu): the driver over cuBLAS sgemm and row-statistics kernels on
// the context's stream, f32 math. They synchronize the stream (the statistics come back to the host).
std::vector<LayerStatistics> cuda_layer_statistics(Context& c, const std::vector<DenseLayer>& layers, const TensorView& x,
                                                   const StatisticsOptions& opt, const StackShape& sh, const char* fn);
std::vector<LsuvLayerReport> cuda_calibrate_lsuv(Context& c, const std::vector<DenseLayer>& layers, const TensorView& x,
                                                 const LsuvOptions& opt, const StackShape& sh, const char* fn);
#endif

}  // namespace detail
}  // namespace paraminit
