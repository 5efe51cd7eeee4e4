// Our Philox stream == cuRAND's: curand_init(seed, subsequence = stream, offset = 4 * (i / 4))
// followed by curand4 yields, in word i % 4, exactly element i's word. cuRAND's device header is
// compiled for the host here (QUALIFIERS predefined), so this runs without a GPU.
#include <cuda_runtime.h>
#define QUALIFIERS static __forceinline__ __host__ __device__
#include <curand_kernel.h>
#include <gtest/gtest.h>

#include <random>

#include "../kernels/philox.hpp"
#include "paraminit/paraminit.hpp"

namespace {

TEST(CurandEquivalence, MillionRandomTriples) {
  std::mt19937_64 rng(20261129);
  constexpr int kTriples = 1000000;
  int mismatches = 0;
  for (int n = 0; n < kTriples; ++n) {
    const std::uint64_t seed = rng(), stream = (n % 4 == 0) ? rng() % 16 : rng();
    // Mix small and full-range indices so both counter words are exercised.
    const std::uint64_t index = (n % 3 == 0) ? rng() % 4096 : rng() >> (n % 7);
    curandStatePhilox4_32_10_t st;
    curand_init(seed, stream, 4 * (index / 4), &st);
    const uint4 v = curand4(&st);
    const std::uint32_t want[4] = {v.x, v.y, v.z, v.w};
    const auto w = paraminit::kernels::philox_call(seed, stream, index / 4);
    const std::uint32_t got = paraminit::kernels::word(w, static_cast<unsigned>(index % 4));
    if (got != want[index % 4] && ++mismatches <= 5)
      ADD_FAILURE() << "seed " << seed << " stream " << stream << " index " << index;
  }
  EXPECT_EQ(mismatches, 0);
}

// philox_bits (the public C++/C entry) against curand4 consumed sequentially from offset 0.
TEST(CurandEquivalence, PhiloxBitsIsCurandsSequence) {
  const paraminit::Key key{42, 7};
  curandStatePhilox4_32_10_t st;
  curand_init(key.seed, key.stream, 0, &st);
  std::vector<std::uint32_t> ours(4096);
  paraminit::philox_bits(key, 0, ours.size(), ours.data());
  for (std::size_t i = 0; i < ours.size(); ++i) ASSERT_EQ(ours[i], curand(&st)) << "index " << i;
}

}  // namespace
