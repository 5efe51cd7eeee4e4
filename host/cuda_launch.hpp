// The CUDA launchers, declared without CUDA headers so that host/ can call them. Defined and
// explicitly instantiated in cuda/fill.cu (built only with PARAMINIT_CUDA).
#pragma once

#include <cstddef>

#include "../kernels/dists.hpp"
#include "../kernels/geometry.hpp"
#include "../kernels/sparse.hpp"
#include "../kernels/structured.hpp"

namespace paraminit {
namespace kernels {

// Fill the view described by `geo` at `data` on `stream` (a cudaStream_t) of `device`.
// Asynchronous; the caller's current device is restored. Throws paraminit::Error
// (Status::device) naming the failed CUDA call.
template <class Gen, class Out>
void launch_fill(int device, void* stream, const ::paraminit::detail::Geometry& geo, Out* data, const Gen& gen);

// Local element l of the view gets fn(global index of l) (structured fills: eye, dirac, gates).
template <class Fn, class Out>
void launch_fill_index(int device, void* stream, const ::paraminit::detail::Geometry& geo, Out* data, const Fn& fn);

// Copies `bytes` of host memory `src` to device memory `dst` with cudaMemcpyAsync on `stream`.
// A pageable source is consumed before the call returns (the driver stages it), so `src` may be
// freed afterwards. Throws Status::unsupported, before copying, while the stream is being captured
// into a CUDA graph (the graph would read `src` again at every replay).
void copy_from_host(int device, void* stream, void* dst, const void* src, std::size_t bytes, const char* fn);

// Sparse initialization with few kept elements: the view's numel elements zeroed
// (cudaMemsetAsync: zero is all-zero bits in every dtype), then sc(geo, t, data) for t in [0, count).
template <class Dense, class Out>
void launch_sparse_scatter(int device, void* stream, const ::paraminit::detail::Geometry& geo, Out* data,
                           const SparseScatter<Dense>& sc, std::uint64_t count);

// data[0, n) = value (constant fills: no random word, and a window is just its local elements).
template <class Out>
void launch_fill_value(int device, void* stream, std::uint64_t n, Out* data, Out value);

}  // namespace kernels
}  // namespace paraminit
