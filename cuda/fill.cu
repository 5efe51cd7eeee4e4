// The CUDA fill kernels: one generic grid-stride for-each over Philox calls (CUTLASS's
// "params struct + device functor + one launcher" shape). The element math is kernels/dists.hpp,
// the same functions the CPU backend runs, so GPU bits == CPU bits.
//
// Napkin math (H200, f32, 2^30 elements): 4 GiB written once; at ~4.3 TB/s of store bandwidth
// the limit is ~1 ms. Philox4x32-10 costs ~20 IMAD + ~60 other integer ops per call (4 elements),
// about 12 TIOP/s-equivalent at that rate, far below the SMs' integer throughput, so uniform is
// store-bound; normal (a log, a sqrt and a sincospi per pair) and trunc_normal stay near it.
#include <cuda_runtime.h>

#include <string>

#include "../host/internal.hpp"
#include "cuda_util.cuh"
#include "../host/cuda_launch.hpp"
#include "../kernels/sparse.hpp"

namespace paraminit {
namespace kernels {
namespace {

// Calls per 16-byte vector store, and the vector type.
template <class Out> struct Vec;
template <> struct Vec<float> { static constexpr int kCalls = 1; using type = float4; };
template <> struct Vec<double> { static constexpr int kCalls = 1; using type = double2; };
template <> struct Vec<f16_t> { static constexpr int kCalls = 2; using type = uint4; };
template <> struct Vec<bf16_t> { static constexpr int kCalls = 2; using type = uint4; };

template <class T, int N>
__device__ __forceinline__ void store_vec(float* p, const T (&v)[N]) {
  *reinterpret_cast<float4*>(p) = make_float4(v[0], v[1], v[2], v[3]);
}
template <class T, int N>
__device__ __forceinline__ void store_vec(double* p, const T (&v)[N]) {
  *reinterpret_cast<double2*>(p) = make_double2(v[0], v[1]);
}
template <class H, class T, int N>
__device__ __forceinline__ void store_vec_half(H* p, const T (&v)[N]) {
  unsigned packed[4];
PI_UNROLL
  for (int k = 0; k < 4; ++k) {
    H lo, hi;
    store(&lo, v[2 * k]);
    store(&hi, v[2 * k + 1]);
    packed[k] = static_cast<unsigned>(lo.bits) | (static_cast<unsigned>(hi.bits) << 16);
  }
  *reinterpret_cast<uint4*>(p) = make_uint4(packed[0], packed[1], packed[2], packed[3]);
}
template <class T, int N>
__device__ __forceinline__ void store_vec(f16_t* p, const T (&v)[N]) { store_vec_half(p, v); }
template <class T, int N>
__device__ __forceinline__ void store_vec(bf16_t* p, const T (&v)[N]) { store_vec_half(p, v); }

// Fast path: every group of G = kPerCall * kCalls elements starts on a call boundary and on a
// 16-byte boundary of `data` (checked by the launcher). Group j of run k covers local elements
// [k * run_len + r * G, + G) with r = j % groups_per_run; only a single run may end in a partial group.
template <class Gen, class Out, bool kSingleRun>
__global__ void __launch_bounds__(FillPolicy::kThreads)
    fill_aligned_kernel(::paraminit::detail::Geometry geo, Out* __restrict__ data, Gen gen,
                        std::uint64_t groups_per_run) {
  using T = typename Gen::value_type;
  constexpr int E = Gen::kPerCall;
  constexpr int C = Vec<Out>::kCalls;
  constexpr std::uint64_t G = static_cast<std::uint64_t>(E) * C;
  const std::uint64_t groups = geo.runs * groups_per_run;
  for (std::uint64_t j = blockIdx.x * static_cast<std::uint64_t>(blockDim.x) + threadIdx.x; j < groups;
       j += static_cast<std::uint64_t>(gridDim.x) * blockDim.x) {
    // One run (a whole tensor, or a row shard): no 64-bit division per group.
    const std::uint64_t k = kSingleRun ? 0 : j / groups_per_run, r = j - k * groups_per_run;
    const std::uint64_t local = k * geo.run_len + r * G;
    const std::uint64_t global = geo.global_base + k * geo.global_stride + r * G;
    T v[E * C];
PI_UNROLL
    for (int c = 0; c < C; ++c) gen(global / E + c, v + c * E);
    if (r * G + G <= geo.run_len) {
      store_vec(data + local, v);
    } else {
      // A constant trip count with a guard, not `e < rest`: v stays in registers (a loop over a
      // run-time bound indexes v dynamically, which puts it in local memory: ptxas_report).
      const std::uint64_t rest = geo.run_len - r * G;
PI_UNROLL
      for (int e = 0; e < E * C; ++e)
        if (static_cast<std::uint64_t>(e) < rest) store(data + local + e, v[e]);
    }
  }
}

// Generic path: any window, any alignment. Thread item (k, c): the c-th Philox call touching run k;
// it stores the elements of that call that fall inside the run.
template <class Gen, class Out>
__global__ void __launch_bounds__(FillPolicy::kThreads)
    fill_generic_kernel(::paraminit::detail::Geometry geo, Out* __restrict__ data, Gen gen,
                        std::uint64_t calls_per_run) {
  using T = typename Gen::value_type;
  constexpr int E = Gen::kPerCall;
  const std::uint64_t items = geo.runs * calls_per_run;
  for (std::uint64_t j = blockIdx.x * static_cast<std::uint64_t>(blockDim.x) + threadIdx.x; j < items;
       j += static_cast<std::uint64_t>(gridDim.x) * blockDim.x) {
    const std::uint64_t k = j / calls_per_run, c = j - k * calls_per_run;
    const std::uint64_t g0 = geo.global_base + k * geo.global_stride;  // run k's first global index
    const std::uint64_t call = g0 / E + c;
    const std::uint64_t first = call * E;
    if (first >= g0 + geo.run_len) continue;
    T v[E];
    gen(call, v);
PI_UNROLL
    for (int e = 0; e < E; ++e) {
      const std::uint64_t g = first + e;
      if (g >= g0 && g < g0 + geo.run_len) store(data + k * geo.run_len + (g - g0), v[e]);
    }
  }
}

// Constant fills: a plain grid-stride store loop (the compiler vectorizes nothing here; the
// stores coalesce across the warp, which is what the memory system needs).
template <class Out>
__global__ void __launch_bounds__(FillPolicy::kThreads) fill_value_kernel(Out* __restrict__ data, std::uint64_t n, Out value) {
  for (std::uint64_t i = blockIdx.x * static_cast<std::uint64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::uint64_t>(gridDim.x) * blockDim.x)
    data[i] = value;
}

// Structured fills: local element l -> its global index -> fn. Small tensors in practice (biases,
// identity-like weights); a plain grid-stride loop with coalesced scalar stores.
template <class Fn, class Out>
__global__ void __launch_bounds__(FillPolicy::kThreads)
    fill_index_kernel(::paraminit::detail::Geometry geo, Out* __restrict__ data, Fn fn) {
  for (std::uint64_t l = blockIdx.x * static_cast<std::uint64_t>(blockDim.x) + threadIdx.x; l < geo.numel;
       l += static_cast<std::uint64_t>(gridDim.x) * blockDim.x) {
    const std::uint64_t run = l / geo.run_len;
    store(data + l, fn(geo.global_base + run * geo.global_stride + (l - run * geo.run_len)));
  }
}

// Sparse scatter: one item per kept element (SparseScatter).
template <class Dense, class Out>
__global__ void __launch_bounds__(FillPolicy::kThreads)
    sparse_scatter_kernel(::paraminit::detail::Geometry geo, Out* __restrict__ data, SparseScatter<Dense> sc, std::uint64_t count) {
  for (std::uint64_t t = blockIdx.x * static_cast<std::uint64_t>(blockDim.x) + threadIdx.x; t < count;
       t += static_cast<std::uint64_t>(gridDim.x) * blockDim.x)
    sc(geo, t, data);
}

}  // namespace

template <class Dense, class Out>
void launch_sparse_scatter(int device, void* stream, const ::paraminit::detail::Geometry& geo, Out* data,
                           const SparseScatter<Dense>& sc, std::uint64_t count) {
  if (geo.numel == 0) return;
  const DeviceGuard guard(device);
  const auto s = static_cast<cudaStream_t>(stream);
  DeviceGuard::check(cudaMemsetAsync(data, 0, geo.numel * sizeof(Out), s), "cudaMemsetAsync");
  if (count == 0) return;
  launch("sparse_scatter_kernel", sparse_scatter_kernel<Dense, Out>, grid_for(device, count), FillPolicy::kThreads, s, geo, data,
         sc, count);
}

template <class Gen, class Out>
void launch_fill(int device, void* stream, const ::paraminit::detail::Geometry& geo, Out* data, const Gen& gen) {
  if (geo.numel == 0) return;
  const DeviceGuard guard(device);
  constexpr std::uint64_t E = Gen::kPerCall;
  constexpr std::uint64_t G = E * Vec<Out>::kCalls;
  const auto s = static_cast<cudaStream_t>(stream);
  const bool aligned = reinterpret_cast<std::uintptr_t>(data) % 16 == 0 && geo.global_base % G == 0 &&
                       (geo.runs == 1 || (geo.run_len % G == 0 && geo.global_stride % G == 0));
  if (aligned) {
    const std::uint64_t gpr = (geo.run_len + G - 1) / G;
    const unsigned grid = grid_for(device, geo.runs * gpr);
    if (geo.runs == 1)
      launch("fill_aligned_kernel", fill_aligned_kernel<Gen, Out, true>, grid, FillPolicy::kThreads, s, geo, data, gen, gpr);
    else
      launch("fill_aligned_kernel", fill_aligned_kernel<Gen, Out, false>, grid, FillPolicy::kThreads, s, geo, data, gen, gpr);
  } else {
    const std::uint64_t cpr = (geo.run_len + E - 1) / E + 1;  // a misaligned run touches one more call
    launch("fill_generic_kernel", fill_generic_kernel<Gen, Out>, grid_for(device, geo.runs * cpr), FillPolicy::kThreads, s, geo,
           data, gen, cpr);
  }
}

template <class Out>
void launch_fill_value(int device, void* stream, std::uint64_t n, Out* data, Out value) {
  if (n == 0) return;
  const DeviceGuard guard(device);
  launch("fill_value_kernel", fill_value_kernel<Out>, grid_for(device, n), FillPolicy::kThreads, static_cast<cudaStream_t>(stream),
         data, n, value);
}

template <class Fn, class Out>
void launch_fill_index(int device, void* stream, const ::paraminit::detail::Geometry& geo, Out* data, const Fn& fn) {
  if (geo.numel == 0) return;
  const DeviceGuard guard(device);
  launch("fill_index_kernel", fill_index_kernel<Fn, Out>, grid_for(device, geo.numel), FillPolicy::kThreads,
         static_cast<cudaStream_t>(stream), geo, data, fn);
}

void copy_from_host(int device, void* stream, void* dst, const void* src, std::size_t bytes, const char* fn) {
  if (bytes == 0) return;
  const DeviceGuard guard(device);
  const auto s = static_cast<cudaStream_t>(stream);
  refuse_capture(stream, fn, "copies host values to the device");
  DeviceGuard::check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, s), "cudaMemcpyAsync");
}

#define PI_INSTANTIATE_INDEX(FN)                                                                      \
  template void launch_fill_index<FN<float>, float>(int, void*, const ::paraminit::detail::Geometry&, float*,   \
                                                    const FN<float>&);                                \
  template void launch_fill_index<FN<float>, f16_t>(int, void*, const ::paraminit::detail::Geometry&, f16_t*,   \
                                                    const FN<float>&);                                \
  template void launch_fill_index<FN<float>, bf16_t>(int, void*, const ::paraminit::detail::Geometry&, bf16_t*, \
                                                     const FN<float>&);                               \
  template void launch_fill_index<FN<double>, double>(int, void*, const ::paraminit::detail::Geometry&, double*, \
                                                      const FN<double>&);
PI_INSTANTIATE_INDEX(EyeFn)
PI_INSTANTIATE_INDEX(DiracFn)
PI_INSTANTIATE_INDEX(GateFn)

#define PI_INSTANTIATE(GEN, OUT) \
  template void launch_fill<GEN, OUT>(int, void*, const ::paraminit::detail::Geometry&, OUT*, const GEN&);
#define PI_INSTANTIATE_DIST(DIST)                                  \
  PI_INSTANTIATE(Generator<DIST<float> PI_COMMA float>, float)     \
  PI_INSTANTIATE(Generator<DIST<float> PI_COMMA float>, f16_t)     \
  PI_INSTANTIATE(Generator<DIST<float> PI_COMMA float>, bf16_t)    \
  PI_INSTANTIATE(Generator<DIST<double> PI_COMMA double>, double)
#define PI_COMMA ,
PI_INSTANTIATE_DIST(UniformDist)
PI_INSTANTIATE_DIST(NormalDist)
PI_INSTANTIATE_DIST(TruncNormalDist)
PI_INSTANTIATE_DIST(TruncNormalCentralDist)
#define PI_INSTANTIATE_SPARSE(DIST)                                                  \
  PI_INSTANTIATE(SparseGenerator<Generator<DIST<float> PI_COMMA float>>, float)     \
  PI_INSTANTIATE(SparseGenerator<Generator<DIST<float> PI_COMMA float>>, f16_t)     \
  PI_INSTANTIATE(SparseGenerator<Generator<DIST<float> PI_COMMA float>>, bf16_t)    \
  PI_INSTANTIATE(SparseGenerator<Generator<DIST<double> PI_COMMA double>>, double)
PI_INSTANTIATE_SPARSE(NormalDist)
PI_INSTANTIATE_SPARSE(UniformDist)
#define PI_INSTANTIATE_SCATTER1(DENSE, OUT) \
  template void launch_sparse_scatter<DENSE, OUT>(int, void*, const ::paraminit::detail::Geometry&, OUT*, \
                                                  const SparseScatter<DENSE>&, std::uint64_t);
#define PI_INSTANTIATE_SCATTER(DIST)                                       \
  PI_INSTANTIATE_SCATTER1(Generator<DIST<float> PI_COMMA float>, float)   \
  PI_INSTANTIATE_SCATTER1(Generator<DIST<float> PI_COMMA float>, f16_t)   \
  PI_INSTANTIATE_SCATTER1(Generator<DIST<float> PI_COMMA float>, bf16_t)  \
  PI_INSTANTIATE_SCATTER1(Generator<DIST<double> PI_COMMA double>, double)
PI_INSTANTIATE_SCATTER(NormalDist)
PI_INSTANTIATE_SCATTER(UniformDist)
template void launch_fill_value<float>(int, void*, std::uint64_t, float*, float);
template void launch_fill_value<double>(int, void*, std::uint64_t, double*, double);
template void launch_fill_value<f16_t>(int, void*, std::uint64_t, f16_t*, f16_t);
template void launch_fill_value<bf16_t>(int, void*, std::uint64_t, bf16_t*, bf16_t);

}  // namespace kernels
}  // namespace paraminit
