// Sparse initialization (Martens 2010): every unit (a slice along unit_axis, e.g. a row of a
// Linear (out, in) weight) keeps exactly k of its F fan-in positions; kept elements equal the dense
// fill's value at the same position, the others are exact zeros.
//
// The kept positions of unit u are pi_u({0, ..., k-1}) for a keyed random permutation pi_u of
// [0, F): element j of unit u is kept iff pi_u^{-1}(j) < k, so each element decides alone (the
// CUDA path), and the CPU path may instead scatter pi_u(0..k-1) (the same set).
// pi_u is a balanced Feistel network on 2h bits (2^2h >= F, 2^2h < 4F for F > 1) with 8 rounds,
// made a permutation of [0, F) by cycle walking (apply again while the result is >= F; expected
// fewer than 4 steps). Its round keys are the 4 words of the Philox call with counter
// 2^63 + u of the parameter's (seed, stream): the value stream uses counters below 2^62, so the
// two never share a call.
#pragma once

#include "dists.hpp"
#include "geometry.hpp"

namespace paraminit {
namespace kernels {

constexpr std::uint64_t kSparseKeyCounter = std::uint64_t{1} << 63;

// A 32-bit avalanche mixer (xor-shift-multiply, constants chosen for low bias). host/sparse.cpp
// has an AVX2 copy of the same operations.
constexpr std::uint32_t kMix32A = 0x7feb352du, kMix32B = 0x846ca68bu;
PI_HD std::uint32_t mix32(std::uint32_t x) {
  x ^= x >> 16;
  x *= kMix32A;
  x ^= x >> 15;
  x *= kMix32B;
  x ^= x >> 16;
  return x;
}

struct Feistel {
  std::uint32_t key[4];
  std::uint32_t half_bits, half_mask;
  std::uint64_t domain;  // F

  static constexpr int kRounds = 8;
  PI_HD std::uint32_t round_key(int r) const { return key[r & 3] + static_cast<std::uint32_t>(r) * 0x9E3779B9u; }
  PI_HD std::uint64_t forward_once(std::uint64_t x) const {
    std::uint32_t l = static_cast<std::uint32_t>(x >> half_bits), r = static_cast<std::uint32_t>(x) & half_mask;
    for (int k = 0; k < kRounds; ++k) {
      const std::uint32_t nl = r;
      r = l ^ (mix32(r ^ round_key(k)) & half_mask);
      l = nl;
    }
    return (static_cast<std::uint64_t>(l) << half_bits) | r;
  }
  PI_HD std::uint64_t inverse_once(std::uint64_t y) const {
    std::uint32_t l = static_cast<std::uint32_t>(y >> half_bits), r = static_cast<std::uint32_t>(y) & half_mask;
    for (int k = kRounds - 1; k >= 0; --k) {
      const std::uint32_t pr = l;
      l = r ^ (mix32(l ^ round_key(k)) & half_mask);
      r = pr;
    }
    return (static_cast<std::uint64_t>(l) << half_bits) | r;
  }
  PI_HD std::uint64_t forward(std::uint64_t x) const {
    do x = forward_once(x);
    while (x >= domain);
    return x;
  }
  // forward() of 8 inputs at once: the rounds run in lock-step over the lanes (8 independent
  // chains of multiplies, which the host vectorizes), then a lane outside [0, F) walks its cycle
  // alone. Equal to 8 forward() calls, bit for bit.
  PI_HD void forward8(const std::uint64_t* x, std::uint64_t* y) const {
    std::uint32_t l[8], r[8];
    for (int e = 0; e < 8; ++e) {
      l[e] = static_cast<std::uint32_t>(x[e] >> half_bits);
      r[e] = static_cast<std::uint32_t>(x[e]) & half_mask;
    }
    for (int k = 0; k < kRounds; ++k) {
      const std::uint32_t rk = round_key(k);
      for (int e = 0; e < 8; ++e) {
        const std::uint32_t nl = r[e];
        r[e] = l[e] ^ (mix32(r[e] ^ rk) & half_mask);
        l[e] = nl;
      }
    }
    for (int e = 0; e < 8; ++e) {
      std::uint64_t v = (static_cast<std::uint64_t>(l[e]) << half_bits) | r[e];
      while (v >= domain) v = forward_once(v);
      y[e] = v;
    }
  }
  PI_HD std::uint64_t inverse(std::uint64_t y) const {
    do y = inverse_once(y);
    while (y >= domain);
    return y;
  }
};

// Where units and positions lie in the global parameter: global index g has
// unit u = (g / inner) % units and position j = (g / (inner * units)) * inner + g % inner.
struct SparseLayout {
  std::uint64_t inner, units, fan, k;
  std::uint32_t half_bits;
  PI_HD std::uint64_t global_of(std::uint64_t u, std::uint64_t j) const {
    return ((j / inner) * units + u) * inner + j % inner;
  }
  // The same, without the divisions where inner == 1 (units along the last axis: torch's sparse_
  // form, or a Linear weight's rows seen as columns): the CPU's scatter and bitmap loops.
  PI_HD std::uint64_t global_at(std::uint64_t u, std::uint64_t j) const {
    return inner == 1 ? j * units + u : global_of(u, j);
  }
  PI_HD Feistel permutation(std::uint64_t seed, std::uint64_t stream, std::uint64_t u) const {
    const Words4 w = philox_call(seed, stream, kSparseKeyCounter + u);
    Feistel f{{w.x, w.y, w.z, w.w}, half_bits, (1u << half_bits) - 1u, fan};
    return f;
  }
};

// The local index of global element g in a view of geometry geo, or false if the view does not
// hold it.
PI_HD bool local_index(const ::paraminit::detail::Geometry& geo, std::uint64_t g, std::uint64_t* local) {
  if (g < geo.global_base) return false;
  const std::uint64_t d = g - geo.global_base, run = d / geo.global_stride, off = d % geo.global_stride;
  if (run >= geo.runs || off >= geo.run_len) return false;
  *local = run * geo.run_len + off;
  return true;
}

// Few kept elements (k <= F / 32) on the GPU: the view is zeroed, then item t writes kept element
// i = t % k of unit u = unit_begin + t / k: position pi_u(i), valued as the dense fill values it --
// the CPU's scatter strategy, one thread per kept element, units * k items instead of F per unit.
template <class Dense>
struct SparseScatter {
  Dense dense;
  SparseLayout layout;
  std::uint64_t unit_begin;
  template <class Out>
  PI_HD void operator()(const ::paraminit::detail::Geometry& geo, std::uint64_t t, Out* data) const {
    const std::uint64_t u = unit_begin + t / layout.k, i = t % layout.k;
    const std::uint64_t g = layout.global_at(u, layout.permutation(dense.seed, dense.stream, u).forward(i));
    std::uint64_t local;
    if (!local_index(geo, g, &local)) return;
    typename Dense::value_type v[Dense::kPerCall];
    dense(g / Dense::kPerCall, v);
    // Select with constant indices: v[g % kPerCall] would put v in the device's local memory.
    const int want = static_cast<int>(g % Dense::kPerCall);
    typename Dense::value_type x = v[0];
    PI_UNROLL
    for (int e = 1; e < Dense::kPerCall; ++e)
      if (e == want) x = v[e];
    store(data + local, x);
  }
};

// The dense generator with the mask applied: used by the CUDA kernels (each element decides).
template <class Dense>
struct SparseGenerator {
  using value_type = typename Dense::value_type;
  static constexpr int kPerCall = Dense::kPerCall;
  Dense dense;
  SparseLayout layout;
  PI_HD void operator()(std::uint64_t call, value_type* out) const {
    dense(call, out);
    if (layout.k == 0) {
      for (int e = 0; e < kPerCall; ++e) out[e] = value_type(0);
      return;
    }
    // g = (o * units + u) * inner + r: two 64-bit divisions for the call's first element, then the
    // digits carried per element. The unit's permutation (a Philox call for its keys) is derived
    // again only where the unit changes.
    const std::uint64_t g0 = call * kPerCall;
    std::uint64_t q = g0 / layout.inner, r = g0 - q * layout.inner;
    std::uint64_t o = q / layout.units, u = q - o * layout.units;
    Feistel perm = layout.permutation(dense.seed, dense.stream, u);
    for (int e = 0; e < kPerCall; ++e) {
      if (e > 0 && ++r == layout.inner) {
        r = 0;
        if (++u == layout.units) u = 0, ++o;
        perm = layout.permutation(dense.seed, dense.stream, u);
      }
      // Elements past the parameter's end (the padding of a last, partial call, which the kernels
      // compute but never store) can have positions >= F, where the inverse's cycle walk need not
      // end: they are not kept.
      const std::uint64_t j = o * layout.inner + r;
      const bool kept = j < layout.fan && perm.inverse(j) < layout.k;
      out[e] = kept ? out[e] : value_type(0);
    }
  }
};

}  // namespace kernels
}  // namespace paraminit
