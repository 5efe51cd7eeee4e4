// The distributions as data (RAFT's shape): a small trivially-copyable parameter struct per
// distribution and one `block` overload that turns one Philox call into that call's elements.
// The CPU backend and the CUDA kernels call exactly these functions.
//
// Word use (shared/DESIGN.md section 2), for the call with index c of Key{seed, stream}:
//   32-bit compute types (f32, f16, bf16 outputs): 4 elements per call; element 4c + j uses word j.
//     uniform, trunc_normal: one word per element;
//     normal: Box-Muller on the pairs (4c, 4c+1) <- words (x, y) and (4c+2, 4c+3) <- (z, w); the
//       first word gives the radius, the second the angle; the even element takes r cos, the odd r sin.
//   64-bit compute type (f64 output): 2 elements per call; element 2c + j uses the 64-bit value
//     (hi, lo) = (x, y) for j = 0 and (z, w) for j = 1. normal: Box-Muller on the pair
//     (2c, 2c+1) with the radius from (x, y) and the angle from (z, w).
// Half outputs are the fp32 value rounded to nearest even (bits.hpp); bounded distributions clamp
// the compute value to bounds that are representable in the output dtype first, so the rounded
// value is the nearest representable value inside the bounds.
#pragma once

#include <type_traits>

#include "math.hpp"
#include "philox.hpp"

namespace paraminit {
namespace kernels {

// Written so that a NaN (which no input the host accepts produces) would become lo, not escape.
template <class T>
PI_HD T clamp_(T v, T lo, T hi) {
  v = !(v >= lo) ? lo : v;
  return v > hi ? hi : v;
}

// Each distribution maps a group of kWords consecutive words of the stream to kElems consecutive
// elements; word k of the stream is word k % 4 of Philox call k / 4. A call holds 4 / kWords groups.

// ---- uniform: center + half * w, w on the symmetric grid of bits.hpp, clamped to [lo, hi] -------
// lo / hi are the smallest / largest values of the output dtype strictly inside (low, high).
template <class T>
struct UniformDist {
  static constexpr int kWords = sizeof(T) / 4, kElems = 1;
  T center, half, lo, hi;
};

PI_HD void group(const UniformDist<float>& d, const std::uint32_t* w, float* out) {
  out[0] = clamp_(d.center + d.half * sym_f32(w[0]), d.lo, d.hi);
}
PI_HD void group(const UniformDist<double>& d, const std::uint32_t* w, double* out) {
  out[0] = clamp_(d.center + d.half * sym_f64(w[0], w[1]), d.lo, d.hi);
}

// ---- normal: Box-Muller, mean + std * z ---------------------------------------------------------
// radius sqrt(-2 ln u), u = unit_*(.) in (0, 1]; angle pi * v, v = 2 * open01_*(.) in (0, 2).
// |z| <= 6.77 (f32) and <= 9.50 (f64): the host checks that mean +- std * that bound fits the dtype.
template <class T>
struct NormalDist {
  static constexpr int kWords = 2 * sizeof(T) / 4, kElems = 2;
  T mean, std;
};

template <class T>
PI_HD T box_muller_radius(T u) {
  return sqrt_(T(-2) * log_(u));
}
template <class T>
PI_HD void box_muller_rotate(T r, T v, T* z0, T* z1) {
  T s, c;
  sincospi_(v, &s, &c);
  *z0 = r * c;
  *z1 = r * s;
}
template <class T>
PI_HD void box_muller(T u, T v, T* z0, T* z1) {
  box_muller_rotate(box_muller_radius(u), v, z0, z1);
}

PI_HD void group(const NormalDist<float>& d, const std::uint32_t* w, float* out) {
  float z0, z1;
  box_muller(unit_f32(w[0]), 2.0f * open01_f32(w[1]), &z0, &z1);
  out[0] = d.mean + d.std * z0;
  out[1] = d.mean + d.std * z1;
}
PI_HD void group(const NormalDist<double>& d, const std::uint32_t* w, double* out) {
  double z0, z1;
  box_muller(unit_f64(w[0], w[1]), 2.0 * open01_f64(w[2], w[3]), &z0, &z1);
  out[0] = d.mean + d.std * z0;
  out[1] = d.mean + d.std * z1;
}

// ---- truncated normal: inverse CDF, no rejection ------------------------------------------------
// With a = (low - mean)/std, b = (high - mean)/std and u in (0, 1) (open01_*), the sample is
// Phi^{-1}(p), p = Phi(a) + u (Phi(b) - Phi(a)), z = sqrt(2) y E(w) with y = 2p - 1 and
// w = -ln((1 - y)(1 + y)) (math.hpp). Three forms of the same linear map u -> p keep the precision:
//   central, |y| <= 1/2:  y = y_a + u (y_b - y_a) with y_a = erf(a / sqrt 2) (relative precision
//                         near the mean, also for intervals far narrower than std), w = -ln(1 - y^2);
//   lower tail (u < u0):  p     = b_lo (alpha_lo + u beta_lo),       z = -quantile(p);
//   upper tail (u >= u0): 1 - p = b_hi (alpha_hi + (1 - u) beta_hi), z = +quantile(1 - p);
// in the tails r = min(p, 1 - p) = b t with t = alpha + u beta in (0, 1], and w0 = -ln 4 - ln b
// carries the scale even where b underflows fp32: w = w0 - ln(t (1 - r)), y = 1 - 2r.
// All parameters are computed on the host in double (host/params.hpp). 1 - u is exact.
template <class T>
struct TruncBranch {
  T alpha, beta, w0, b;
};
template <class T>
struct TruncNormalDist {
  static constexpr int kWords = sizeof(T) / 4, kElems = 1;
  T mean, std, u0;
  T y_a, y_span;  // central form: y = y_a + u y_span
  TruncBranch<T> lower, upper;
  T lo, hi;       // [low, high] rounded inward to the output dtype
  bool central;   // every element's w < kF32Lo[1] (|z| < 3): one polynomial piece suffices
};
// The same distribution when `central` holds: a separate type, so that the one-piece quantile is
// chosen at compile time (a run-time flag would stop the host vectorizer). Same values.
template <class T>
struct TruncNormalCentralDist : TruncNormalDist<T> {};

// trunc_normal_value in three parts (prep, w, finish), so that the host can run them as separate
// vectorized loops over a Philox batch: each loop's dependent chain is a fraction of the whole
// (~150 cycles), so the out-of-order core overlaps more elements (measured 4.5 -> 2.8 ns per
// element, central case). The device composes them directly: the same operations, the same bits
// (tests/dist_test.cpp checks the batched loop against the per-call function).
template <class T>
struct TruncPrep {
  T x;     // the argument of the logarithm
  T base;  // w = base - ln x
  T y;     // z = sqrt(2) y E(w)
};
template <class T>
PI_HD TruncPrep<T> trunc_normal_prep(const TruncNormalDist<T>& d, T u) {
  // tails
  const bool low_side = u < d.u0;
  const T alpha = low_side ? d.lower.alpha : d.upper.alpha;
  const T beta = low_side ? d.lower.beta : d.upper.beta;
  const T b = low_side ? d.lower.b : d.upper.b;
  const T t = alpha + (low_side ? u : T(1) - u) * beta;
  const T r = b * t;
  const T y_tail = T(1) - T(2) * r;
  // centre
  const T yc = d.y_a + u * d.y_span;
  const bool centre = yc <= T(0.5) && yc >= T(-0.5);
  TruncPrep<T> p;
  p.x = centre ? (T(1) - yc) * (T(1) + yc) : t * (T(1) - r);
  p.base = centre ? T(0) : (low_side ? d.lower.w0 : d.upper.w0);
  p.y = centre ? yc : (low_side ? -y_tail : y_tail);
  return p;
}
template <class T>
PI_HD T trunc_normal_w(T x, T base) {
  return base - log_(x);
}
template <bool kCentral, class T>
PI_HD T trunc_normal_finish(const TruncNormalDist<T>& d, T w, T y) {
  const T e = kCentral ? erfinv_ratio_central(w) : erfinv_ratio(w);
  const T z = static_cast<T>(1.4142135623730950488) * (y * e);
  return clamp_(d.mean + d.std * z, d.lo, d.hi);
}
template <bool kCentral, class T>
PI_HD T trunc_normal_value(const TruncNormalDist<T>& d, T u) {
  const TruncPrep<T> p = trunc_normal_prep(d, u);
  return trunc_normal_finish<kCentral>(d, trunc_normal_w(p.x, p.base), p.y);
}

PI_HD void group(const TruncNormalDist<float>& d, const std::uint32_t* w, float* out) {
  out[0] = trunc_normal_value<false>(d, open01_f32(w[0]));
}
PI_HD void group(const TruncNormalDist<double>& d, const std::uint32_t* w, double* out) {
  out[0] = trunc_normal_value<false>(d, open01_f64(w[0], w[1]));
}
PI_HD void group(const TruncNormalCentralDist<float>& d, const std::uint32_t* w, float* out) {
  out[0] = trunc_normal_value<true>(d, open01_f32(w[0]));
}
PI_HD void group(const TruncNormalCentralDist<double>& d, const std::uint32_t* w, double* out) {
  out[0] = trunc_normal_value<true>(d, open01_f64(w[0], w[1]));
}

// ---- output dtypes ------------------------------------------------------------------------------
struct f16_t {
  std::uint16_t bits;
};
struct bf16_t {
  std::uint16_t bits;
};
template <class Out>
struct ComputeType {
  using type = float;
};
template <>
struct ComputeType<double> {
  using type = double;
};

PI_HD void store(float* p, float v) { *p = v; }
PI_HD void store(double* p, double v) { *p = v; }
PI_HD void store(f16_t* p, float v) { p->bits = f32_to_f16_rne(v); }
PI_HD void store(bf16_t* p, float v) { p->bits = f32_to_bf16_rne(v); }
// The inverse of store(): a stored element as its compute type (f16 and bf16 widen to fp32 exactly).
PI_HD float load(const float* p) { return *p; }
PI_HD double load(const double* p) { return *p; }
PI_HD float load(const f16_t* p) { return f16_to_f32(p->bits); }
PI_HD float load(const bf16_t* p) { return bf16_to_f32(p->bits); }
// For the values of a distribution, never NaN: the same bits as store() without the NaN case.
template <class Out, class T>
PI_HD void store_value(Out* p, T v) { store(p, v); }
PI_HD void store_value(bf16_t* p, float v) { p->bits = f32_to_bf16_rne_not_nan(v); }

// ---- a distribution bound to a stream --------------------------------------------------------------
template <class Dist, class T>
struct Generator {
  using value_type = T;
  using dist_type = Dist;
  static constexpr int kGroups = 4 / Dist::kWords;             // groups per Philox call
  static constexpr int kPerCall = kGroups * Dist::kElems;      // elements per Philox call
  Dist dist;
  std::uint64_t seed, stream;

  // The kPerCall elements of one call (the CUDA kernels' unit of work).
  PI_HD void operator()(std::uint64_t call, T* out) const {
    const Words4 w = philox_call(seed, stream, call);
    const std::uint32_t words[4] = {w.x, w.y, w.z, w.w};
    for (int q = 0; q < kGroups; ++q) group(dist, words + q * Dist::kWords, out + q * Dist::kElems);
  }
  // The L * kPerCall elements of L consecutive calls whose 4 L words are given in element order,
  // stored (rounded to Out) at out: the CPU loop's unit of work, a plain loop over groups that the
  // host compiler vectorizes.
  template <int L, class Out>
  PI_HD void groups(const std::uint32_t* words, Out* out) const {
    if constexpr (std::is_same_v<Dist, TruncNormalDist<float>> || std::is_same_v<Dist, TruncNormalCentralDist<float>>) {
      // trunc_normal f32: three loops (see trunc_normal_prep), the parts passed through L1.
      constexpr bool kCentral = std::is_same_v<Dist, TruncNormalCentralDist<float>>;
      constexpr int N = kGroups * L;
      float x[N], base[N], y[N];
      for (int q = 0; q < N; ++q) {
        const TruncPrep<float> p = trunc_normal_prep<float>(dist, open01_f32(words[q]));
        x[q] = p.x, base[q] = p.base, y[q] = p.y;
      }
      for (int q = 0; q < N; ++q) x[q] = trunc_normal_w(x[q], base[q]);
      for (int q = 0; q < N; ++q) store_value(out + q, trunc_normal_finish<kCentral, float>(dist, x[q], y[q]));
      return;
    }
    if constexpr (std::is_same_v<Dist, NormalDist<float>>) {
      // normal f32: the radii (a logarithm each) in one loop, the rotations (sincospi) in another;
      // the same operations as group() (box_muller = rotate(radius)), in two shorter chains.
      constexpr int N = kGroups * L;
      float r[N], v[N];
      for (int q = 0; q < N; ++q) {
        r[q] = box_muller_radius(unit_f32(words[2 * q]));
        v[q] = 2.0f * open01_f32(words[2 * q + 1]);
      }
      for (int q = 0; q < N; ++q) {
        float z0, z1;
        box_muller_rotate(r[q], v[q], &z0, &z1);
        store_value(out + 2 * q, dist.mean + dist.std * z0);
        store_value(out + 2 * q + 1, dist.mean + dist.std * z1);
      }
      return;
    }
    for (int q = 0; q < kGroups * L; ++q) {
      T v[Dist::kElems];
      group(dist, words + q * Dist::kWords, v);
      for (int e = 0; e < Dist::kElems; ++e) store_value(out + q * Dist::kElems + e, v[e]);
    }
  }
};

}  // namespace kernels
}  // namespace paraminit
