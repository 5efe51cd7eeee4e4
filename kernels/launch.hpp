// The CUDA launchers, declared without CUDA headers so that host/ can call them. Defined and
// explicitly instantiated in kernels/fill.cu (built only with PARAMINIT_CUDA).
#pragma once

#include "dists.hpp"
#include "geometry.hpp"

namespace paraminit {
namespace kernels {

// Fill the view described by `geo` at `data` on `stream` (a cudaStream_t) of `device`.
// Asynchronous; the caller's current device is restored. Throws paraminit::Error
// (Status::device) naming the failed CUDA call.
template <class Gen, class Out>
void launch_fill(int device, void* stream, const ::paraminit::detail::Geometry& geo, Out* data, const Gen& gen);

// data[0, n) = value (constant fills: no random word, and a window is just its local elements).
template <class Out>
void launch_fill_value(int device, void* stream, std::uint64_t n, Out* data, Out value);

}  // namespace kernels
}  // namespace paraminit
