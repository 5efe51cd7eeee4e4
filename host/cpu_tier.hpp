// Which instruction set the CPU backend's hot loops use. Every tier computes the same bits (integer
// Philox; correctly rounded + - * / sqrt, explicit fma, no contraction): the tiers differ in speed
// only, and the tests run each tier the CPU has against the scalar element math (tests/simd_test.cpp,
// tests/philox_test.cpp).
#pragma once

namespace paraminit {
namespace detail {

enum class CpuTier : int {
  portable = 0,  // any CPU: the loops as the compiler vectorizes them for the build's baseline
  avx2 = 1,      // AVX2, FMA, F16C (hand blocks in cpu_simd.cpp, Philox in 8-lane sets)
  avx512 = 2,    // AVX-512 F/BW/DQ/VL/CD as well (Philox in 16-lane sets, the loops vectorized 512 bits wide)
};

// The best tier this CPU (and the OS's saved register state) supports; checked once.
CpuTier cpu_best_tier();
// The tier the fills run at now: the best one, or the one a ScopedCpuTier chose.
CpuTier cpu_tier();

// Tests and benchmarks: run the fills at `tier` (lowered to what the CPU supports) while this object
// lives. Process-wide; not for use while other threads fill.
class ScopedCpuTier {
 public:
  explicit ScopedCpuTier(CpuTier tier);
  ~ScopedCpuTier();
  ScopedCpuTier(const ScopedCpuTier&) = delete;
  ScopedCpuTier& operator=(const ScopedCpuTier&) = delete;

 private:
  int previous_;
};

const char* tier_name(CpuTier tier);

}  // namespace detail
}  // namespace paraminit
