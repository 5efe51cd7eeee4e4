// Structured (non-random) fills: each element's value is a function of its global index alone,
// so windows and both backends agree trivially. Used by eye, dirac and gate_bias through one
// for-each (launch_fill_index on CUDA, cpu_fill_index on the CPU).
#pragma once

#include <cstdint>

#include "hd.hpp"

namespace paraminit {
namespace kernels {

// (rows, cols): gain where row == col.
template <class T>
struct EyeFn {
  using value_type = T;
  std::uint64_t cols;
  T gain;
  PI_HD T operator()(std::uint64_t g) const { return g / cols == g % cols ? gain : T(0); }
};

// (out, in, spatial...) with `spatial` taps per (out, in) pair: gain where the tap is the centre
// one and in == out % out_per_group (which implies in < min(out_per_group, in_channels)).
template <class T>
struct DiracFn {
  using value_type = T;
  std::uint64_t in_channels, spatial, centre, out_per_group;
  T gain;
  PI_HD T operator()(std::uint64_t g) const {
    const std::uint64_t tap = g % spatial, pair = g / spatial;
    const std::uint64_t in = pair % in_channels, out = pair / in_channels;
    return tap == centre && in == out % out_per_group ? gain : T(0);
  }
};

// A bias of (..., blocks * hidden): `value` in the blocks whose bit is set in `mask`, else `others`.
template <class T>
struct GateFn {
  using value_type = T;
  std::uint64_t hidden, blocks;
  std::uint32_t mask;
  T value, others;
  PI_HD T operator()(std::uint64_t g) const {
    const std::uint64_t block = (g / hidden) % blocks;
    return (mask >> block) & 1u ? value : others;
  }
};

}  // namespace kernels
}  // namespace paraminit
