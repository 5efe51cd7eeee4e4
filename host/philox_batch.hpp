// The CPU backend's batched Philox: kPhiloxBatch (24) consecutive calls of one (seed, stream) at
// once, written in element order (out[4 l + j] = word j of call first + l). On x86-64 with AVX2 it
// runs them as three 8-lane vector sets (the rounds of one call are a serial chain of multiplies,
// so single calls are latency-bound at ~15 ns; interleaved sets are throughput-bound). Elsewhere it runs
// kernels::philox_call per call. Both are the same integer function (tests/philox_test.cpp checks
// them against each other and against the known answers).
#pragma once

#include <cstdint>

namespace paraminit {
namespace detail {

constexpr int kPhiloxBatch = 24;
using PhiloxBatchFn = void (*)(std::uint64_t seed, std::uint64_t stream, std::uint64_t first, std::uint32_t* out);

// The same for kPhiloxBatch calls at arbitrary indices: out[4 l + j] = word j of call calls[l] (the sparse
// fill computes only the calls that hold kept elements).
using PhiloxGatherFn = void (*)(std::uint64_t seed, std::uint64_t stream, const std::uint64_t* calls, std::uint32_t* out);
PhiloxGatherFn philox_gather();
void philox_gather_scalar(std::uint64_t seed, std::uint64_t stream, const std::uint64_t* calls, std::uint32_t* out);

// The best implementation for this CPU (chosen once).
PhiloxBatchFn philox_batch();
// The portable one (for tests).
void philox_batch_scalar(std::uint64_t seed, std::uint64_t stream, std::uint64_t first, std::uint32_t* out);

}  // namespace detail
}  // namespace paraminit
