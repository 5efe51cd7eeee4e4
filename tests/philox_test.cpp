#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "../kernels/philox.hpp"
#include "kat_vectors.hpp"
#include "paraminit/paraminit.hpp"

namespace {
using paraminit::kernels::philox4x32_10;
using paraminit::kernels::Words4;

TEST(Philox, Random123KnownAnswers) {
  for (const auto& kat : paraminit_test::kPhiloxKats) {
    const Words4 out = philox4x32_10(Words4{kat.ctr[0], kat.ctr[1], kat.ctr[2], kat.ctr[3]}, kat.key[0], kat.key[1]);
    EXPECT_EQ(out.x, kat.out[0]);
    EXPECT_EQ(out.y, kat.out[1]);
    EXPECT_EQ(out.z, kat.out[2]);
    EXPECT_EQ(out.w, kat.out[3]);
  }
}

// The stream layout of DESIGN section 2: counter = (lo(i/4), hi(i/4), lo(stream), hi(stream)),
// key = (lo(seed), hi(seed)); built here from the raw rounds, not from philox_call.
TEST(Philox, PhiloxBitsFollowTheCounterLayout) {
  const paraminit::Key key{0x0123456789abcdefull, 0xfedcba9876543210ull};
  const std::uint64_t first = (std::uint64_t{5} << 32) + 4 * 1000 + 3;  // high counter word used
  std::vector<std::uint32_t> bits(21);
  paraminit::philox_bits(key, first, bits.size(), bits.data());
  for (std::size_t k = 0; k < bits.size(); ++k) {
    const std::uint64_t i = first + k, c = i / 4;
    const Words4 w = philox4x32_10(Words4{static_cast<std::uint32_t>(c), static_cast<std::uint32_t>(c >> 32),
                                          0x76543210u, 0xfedcba98u},
                                   0x89abcdefu, 0x01234567u);
    const std::uint32_t words[4] = {w.x, w.y, w.z, w.w};
    EXPECT_EQ(bits[k], words[i % 4]) << "index " << i;
  }
}

TEST(Philox, PhiloxBitsRejectsNullAndOverflow) {
  EXPECT_THROW(paraminit::philox_bits({}, 0, 1, nullptr), paraminit::Error);
  std::uint32_t w = 0;
  EXPECT_THROW(paraminit::philox_bits({}, ~std::uint64_t{0}, 2, &w), paraminit::Error);
  EXPECT_NO_THROW(paraminit::philox_bits({}, 0, 0, nullptr));  // nothing to write
}

// Known answers of the name hash (FNV-1a 64, then SplitMix64's finalizer), computed by an
// independent Python implementation of the two published algorithms and frozen here: a change of
// any value would change every model's initialization.
TEST(StreamForName, FrozenValues) {
  EXPECT_EQ(paraminit::stream_for_name(""), 0xf52a15e9a9b5e89bull);
  EXPECT_EQ(paraminit::stream_for_name("a"), 0x02c0bdbf481420f8ull);
  EXPECT_EQ(paraminit::stream_for_name("decoder.layers.3.mlp.weight"), 0x353726c8f5f377b5ull);
  EXPECT_EQ(paraminit::stream_for_name("decoder.layers.4.mlp.weight"), 0x16cac7d5bb65c1e2ull);
  const paraminit::Key k = paraminit::key_for(7, "a");
  EXPECT_EQ(k.seed, 7u);
  EXPECT_EQ(k.stream, 0x02c0bdbf481420f8ull);
}

}  // namespace

#include "../host/philox_batch.hpp"

namespace {
constexpr int kBatch = paraminit::detail::kPhiloxBatch;

// The words of the calls calls[0..kBatch) by the scalar Philox4x32-10 (checked against Random123's
// known answers above), in the batch functions' element order.
void scalar_words(std::uint64_t seed, std::uint64_t stream, const std::uint64_t* calls, std::uint32_t* want) {
  for (int l = 0; l < kBatch; ++l) {
    const Words4 w = philox4x32_10(Words4{static_cast<std::uint32_t>(calls[l]), static_cast<std::uint32_t>(calls[l] >> 32),
                                          static_cast<std::uint32_t>(stream), static_cast<std::uint32_t>(stream >> 32)},
                                   static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32));
    want[4 * l] = w.x, want[4 * l + 1] = w.y, want[4 * l + 2] = w.z, want[4 * l + 3] = w.w;
  }
}

// xorshift64 for the random (seed, stream, counter) triples.
struct XorShift {
  std::uint64_t state;
  std::uint64_t operator()() {
    state ^= state << 13, state ^= state >> 7, state ^= state << 17;
    return state;
  }
};

using paraminit::detail::CpuTier;

// Each vector tier of the CPU backend's Philox that this CPU has (AVX2, AVX-512): skipped, and
// said so, where it lacks one.
class PhiloxTier : public ::testing::TestWithParam<CpuTier> {
 protected:
  void SetUp() override {
    if (static_cast<int>(GetParam()) > static_cast<int>(paraminit::detail::cpu_best_tier()))
      GTEST_SKIP() << "this CPU has no " << paraminit::detail::tier_name(GetParam());
  }
};
INSTANTIATE_TEST_SUITE_P(Tiers, PhiloxTier, ::testing::Values(CpuTier::avx2, CpuTier::avx512),
                         [](const ::testing::TestParamInfo<CpuTier>& i) { return paraminit::detail::tier_name(i.param); });

// The CPU backend's batched Philox at each tier == the scalar function, including batches where the
// low counter word wraps.
TEST_P(PhiloxTier, BatchedEqualsScalar) {
  const auto batch = paraminit::detail::philox_batch(GetParam());
  ASSERT_NE(batch, &paraminit::detail::philox_batch_scalar);  // the vector path is the one under test
  XorShift next{88172645463325252ull};
  for (int n = 0; n < 20000; ++n) {
    const std::uint64_t seed = next(), stream = next();
    std::uint64_t first = next() >> (n % 40);
    if (n % 5 == 0)  // the low word at or near the wrap: every offset from 0 to the batch size (the
                     // last start that may take the vector path is 2^32 - kBatch)
      first = (next() << 32) | (0xffffffffu - static_cast<std::uint64_t>((n / 5) % (kBatch + 2)));
    std::uint64_t calls[kBatch];
    for (int l = 0; l < kBatch; ++l) calls[l] = first + static_cast<std::uint64_t>(l);
    std::uint32_t got[4 * kBatch], want[4 * kBatch];
    batch(seed, stream, first, got);
    scalar_words(seed, stream, calls, want);
    ASSERT_EQ(std::memcmp(got, want, sizeof got), 0) << "seed " << seed << " stream " << stream << " first " << first;
  }
}

// The gathered batch (kPhiloxBatch calls at arbitrary 64-bit indices, used by the sparse fill) ==
// the scalar function at each index.
TEST_P(PhiloxTier, GatheredEqualsScalar) {
  const auto gather = paraminit::detail::philox_gather(GetParam());
  ASSERT_NE(gather, &paraminit::detail::philox_gather_scalar);
  XorShift next{0x9E3779B97F4A7C15ull};
  for (int n = 0; n < 20000; ++n) {
    const std::uint64_t seed = next(), stream = next();
    std::uint64_t calls[kBatch];
    for (auto& c : calls) c = next() >> (n % 64);
    std::uint32_t got[4 * kBatch], want[4 * kBatch];
    gather(seed, stream, calls, got);
    scalar_words(seed, stream, calls, want);
    ASSERT_EQ(std::memcmp(got, want, sizeof got), 0) << "seed " << seed << " stream " << stream;
  }
}
}  // namespace
