// The CPU backend's batched Philox: kPhiloxBatch (96) consecutive calls of one (seed, stream) at
// once, written in element order (out[4 l + j] = word j of call first + l). The rounds of one call
// are a serial chain of multiplies, so single calls are latency-bound at ~15 ns; interleaved vector
// sets are throughput-bound: with AVX2 passes of three 8-lane sets, with AVX-512 six 16-lane sets at
// once (philox_x86.hpp). In a batch of consecutive calls half of rounds 1 and 2 is the same in every
// lane and is computed once in scalar (philox_x86.hpp, ConsecutiveStart). Elsewhere it runs
// kernels::philox_call per call. All are the same integer function (tests/philox_test.cpp checks
// each tier against the known answers' scalar function).
#pragma once

#include <cstdint>

#include "cpu_tier.hpp"

namespace paraminit {
namespace detail {

constexpr int kPhiloxBatch = 96;
// Whether the counters' low word wraps inside the batch of calls first .. first + kPhiloxBatch - 1
// (then the high word is not the same in every call, and the vector paths, which assume it is, decline).
constexpr bool batch_wraps(std::uint64_t first) { return static_cast<std::uint32_t>(first) > 0xffffffffu - (kPhiloxBatch - 1); }
using PhiloxBatchFn = void (*)(std::uint64_t seed, std::uint64_t stream, std::uint64_t first, std::uint32_t* out);

// The same for kPhiloxBatch calls at arbitrary indices: out[4 l + j] = word j of call calls[l] (the sparse
// fill computes only the calls that hold kept elements).
using PhiloxGatherFn = void (*)(std::uint64_t seed, std::uint64_t stream, const std::uint64_t* calls, std::uint32_t* out);
PhiloxGatherFn philox_gather(CpuTier tier = cpu_tier());
void philox_gather_scalar(std::uint64_t seed, std::uint64_t stream, const std::uint64_t* calls, std::uint32_t* out);

// The implementation of a tier (by default the one the fills run at now).
PhiloxBatchFn philox_batch(CpuTier tier = cpu_tier());
// The portable one (for tests).
void philox_batch_scalar(std::uint64_t seed, std::uint64_t stream, std::uint64_t first, std::uint32_t* out);

}  // namespace detail
}  // namespace paraminit
