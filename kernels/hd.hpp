// One macro layer so that the element math compiles unchanged for the host (g++) and for the
// device (nvcc). Everything in kernels/*.hpp is a pure function of its arguments.
#pragma once

#if defined(__CUDACC__)
#define PI_HD __host__ __device__ __forceinline__
#define PI_DEVICE_CODE 1
#else
#define PI_HD inline __attribute__((always_inline))
#endif

// Fully unrolled constant-trip loops (the vectorizer needs straight-line bodies on the host).
#if defined(__CUDA_ARCH__)
#define PI_UNROLL _Pragma("unroll")
#elif defined(__CUDACC__)
#define PI_UNROLL  // nvcc's host pass of a .cu file: the element math is not run there
#elif defined(__GNUC__) && !defined(__clang__)
#define PI_UNROLL _Pragma("GCC unroll 32")
#else
#define PI_UNROLL
#endif

// Constant tables that host and device code both index: a __device__ array in the device pass, a
// plain constexpr array in the host pass (nvcc does not let device code read host constexpr arrays).
#if defined(__CUDA_ARCH__)
#define PI_TABLE __device__
#else
#define PI_TABLE
#endif

#include <cstdint>

namespace paraminit {
namespace kernels {

// 32x32 -> 64-bit product split into (hi, lo). A plain 64-bit product on both sides: nvcc lowers
// it to mul.lo/mul.hi, so host and device agree on every bit.
PI_HD std::uint32_t mulhilo32(std::uint32_t a, std::uint32_t b, std::uint32_t* hi) {
  const std::uint64_t p = static_cast<std::uint64_t>(a) * static_cast<std::uint64_t>(b);
  *hi = static_cast<std::uint32_t>(p >> 32);
  return static_cast<std::uint32_t>(p);
}

}  // namespace kernels
}  // namespace paraminit
