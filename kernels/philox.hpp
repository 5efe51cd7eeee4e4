// Philox4x32-10 (Salmon, Moraes, Dror, Shaw: "Parallel random numbers: as easy as 1, 2, 3",
// SC'11), as a stateless function of (counter, key). This is the generator behind cuRAND's
// curandStatePhilox4_32_10_t; tests/philox_test.cpp checks it against the Random123 known answers
// and tests/curand_equiv_test.cpp against cuRAND's own device code compiled for the host.
//
// The paraminit stream layout (shared/DESIGN.md section 2): for Key{seed, stream}, the Philox call
// with index c (a 64-bit counter) uses
//   counter = (lo32(c), hi32(c), lo32(stream), hi32(stream)),  key = (lo32(seed), hi32(seed)).
// 32-bit element i takes word i % 4 of call i / 4, which is what cuRAND yields for
// curand_init(seed, stream, 4 * (i / 4), &s); curand4(&s).
#pragma once

#include "hd.hpp"

namespace paraminit {
namespace kernels {

struct Words4 {
  std::uint32_t x, y, z, w;
};

constexpr std::uint32_t kPhiloxM0 = 0xD2511F53u;  // round multipliers
constexpr std::uint32_t kPhiloxM1 = 0xCD9E8D57u;
constexpr std::uint32_t kPhiloxW0 = 0x9E3779B9u;  // Weyl key increments (golden ratio, sqrt(3)-1)
constexpr std::uint32_t kPhiloxW1 = 0xBB67AE85u;

PI_HD Words4 philox4x32_10(Words4 ctr, std::uint32_t k0, std::uint32_t k1) {
  PI_UNROLL
  for (int round = 0; round < 10; ++round) {
    std::uint32_t hi0, hi1;
    const std::uint32_t lo0 = mulhilo32(kPhiloxM0, ctr.x, &hi0);
    const std::uint32_t lo1 = mulhilo32(kPhiloxM1, ctr.z, &hi1);
    ctr = Words4{hi1 ^ ctr.y ^ k0, lo1, hi0 ^ ctr.w ^ k1, lo0};
    k0 += kPhiloxW0;
    k1 += kPhiloxW1;
  }
  return ctr;
}

// The Philox call with 64-bit index `call` of stream `stream` under `seed`.
PI_HD Words4 philox_call(std::uint64_t seed, std::uint64_t stream, std::uint64_t call) {
  const Words4 ctr{static_cast<std::uint32_t>(call), static_cast<std::uint32_t>(call >> 32),
                   static_cast<std::uint32_t>(stream), static_cast<std::uint32_t>(stream >> 32)};
  return philox4x32_10(ctr, static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32));
}

PI_HD std::uint32_t word(const Words4& w, unsigned i) {
  return i == 0 ? w.x : i == 1 ? w.y : i == 2 ? w.z : w.w;
}

}  // namespace kernels
}  // namespace paraminit
