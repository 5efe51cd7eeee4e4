// Scheme options -> the kernels' parameter structs, with every check of the options. Computed once
// per call in double on the host; the structs are what the CPU loop and the CUDA kernels read.
// Internal (tests include it to check the parameters and the kernels' value sets exhaustively).
#pragma once

#include <algorithm>
#include <cmath>
#include <string>

#include "../kernels/dists.hpp"
#include "internal.hpp"

namespace paraminit {
namespace detail {

// Calls f with a value of the storage type of dtype t (float, double, f16_t, bf16_t).
template <class F>
void for_dtype(DType t, F&& f) {
  switch (t) {
    case DType::f32: f(float{}); return;
    case DType::f64: f(double{}); return;
    case DType::f16: f(kernels::f16_t{}); return;
    case DType::bf16: f(kernels::bf16_t{}); return;
  }
}

inline std::string where(const char* fn) { return std::string(fn) + ": "; }

inline void require_finite(const char* fn, const char* name, double v) {
  if (!std::isfinite(v))
    fail(Status::invalid_argument, where(fn) + name + " = " + fmt_double(v) + " is not finite");
}

inline void require_in_range(const char* fn, const char* name, double v, DType t) {
  if (std::fabs(v) > dtype_max(t))
    fail(Status::invalid_argument, where(fn) + name + " = " + fmt_double(v) +
                                       " is outside the range of " + to_string(t) + " (+-" +
                                       fmt_double(dtype_max(t)) + ")");
}

// The largest |z| that normal() produces (bits.hpp: unit_f32 >= 2^-33 and unit_f64 >= 2^-65 give
// sqrt(66 ln 2) = 6.764 and sqrt(130 ln 2) = 9.493), rounded up.
inline double normal_z_max(DType t) { return t == DType::f64 ? 9.50 : 6.77; }

template <class T>
kernels::UniformDist<T> make_uniform(const char* fn, const UniformOptions& o, DType t) {
  require_finite(fn, "low", o.low);
  require_finite(fn, "high", o.high);
  if (!(o.low < o.high))
    fail(Status::invalid_argument, where(fn) + "low = " + fmt_double(o.low) +
                                       " must be less than high = " + fmt_double(o.high));
  require_in_range(fn, "low", o.low, t);
  require_in_range(fn, "high", o.high, t);
  const double lo = dtype_above(o.low, t, true), hi = dtype_below(o.high, t, true);
  if (!(lo <= hi))
    fail(Status::invalid_argument, where(fn) + "no " + to_string(t) +
                                       " value lies strictly between low = " + fmt_double(o.low) +
                                       " and high = " + fmt_double(o.high));
  kernels::UniformDist<T> d{};
  d.center = static_cast<T>(0.5 * o.low + 0.5 * o.high);  // halves first: no overflow
  d.half = static_cast<T>(0.5 * o.high - 0.5 * o.low);
  d.lo = static_cast<T>(lo);
  d.hi = static_cast<T>(hi);
  return d;
}

template <class T>
kernels::NormalDist<T> make_normal(const char* fn, const NormalOptions& o, DType t) {
  require_finite(fn, "mean", o.mean);
  require_finite(fn, "std", o.std);
  if (o.std < 0) fail(Status::invalid_argument, where(fn) + "std = " + fmt_double(o.std) + " is negative");
  const double reach = std::fabs(o.mean) + normal_z_max(t) * o.std;
  if (!(reach <= dtype_max(t)))
    fail(Status::invalid_argument, where(fn) + "mean = " + fmt_double(o.mean) + ", std = " +
                                       fmt_double(o.std) + ": values reach |mean| + " +
                                       fmt_double(normal_z_max(t)) + " std = " + fmt_double(reach) +
                                       ", beyond the range of " + to_string(t));
  return kernels::NormalDist<T>{static_cast<T>(o.mean), static_cast<T>(o.std)};
}

// Standard normal CDF and its complement in double (host only).
inline double std_normal_cdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }
inline double std_normal_ccdf(double x) { return 0.5 * std::erfc(x / std::sqrt(2.0)); }

// Truncation bounds more than this many std into one tail are refused: below Q(36) = 1.9e-285 the
// smallest tail probability an element can draw (Q(36) 2^-53 in f64) would leave the range
// w <= 700 on which the quantile's polynomials are fitted.
constexpr double kTruncTailLimit = 36.0;

template <class T>
kernels::TruncNormalDist<T> make_trunc_normal(const char* fn, const TruncNormalOptions& o, DType t) {
  require_finite(fn, "mean", o.mean);
  require_finite(fn, "std", o.std);
  require_finite(fn, "low", o.low);
  require_finite(fn, "high", o.high);
  if (!(o.std > 0)) fail(Status::invalid_argument, where(fn) + "std = " + fmt_double(o.std) + " must be positive");
  if (!(o.low < o.high))
    fail(Status::invalid_argument, where(fn) + "low = " + fmt_double(o.low) +
                                       " must be less than high = " + fmt_double(o.high));
  require_in_range(fn, "mean", o.mean, t);
  require_in_range(fn, "low", o.low, t);
  require_in_range(fn, "high", o.high, t);
  // std enters the kernel in the compute type (fp32 for f32/f16/bf16).
  require_in_range(fn, "std", o.std, t == DType::f64 ? DType::f64 : DType::f32);
  const double a = (o.low - o.mean) / o.std, b = (o.high - o.mean) / o.std;
  if (a > kTruncTailLimit || b < -kTruncTailLimit)
    fail(Status::unsupported, where(fn) + "[low, high] = [" + fmt_double(o.low) + ", " +
                                  fmt_double(o.high) + "] lies more than 36 std from mean = " +
                                  fmt_double(o.mean) + " (its probability is below 1e-284)");
  const double lo = dtype_above(o.low, t, false), hi = dtype_below(o.high, t, false);
  if (!(lo <= hi))
    fail(Status::invalid_argument, where(fn) + "no " + to_string(t) + " value lies in [" +
                                       fmt_double(o.low) + ", " + fmt_double(o.high) + "]");
  const double pa = std_normal_cdf(a), pb = std_normal_cdf(b);
  const double qa = std_normal_ccdf(a), qb = std_normal_ccdf(b);
  // u0: where p = Phi(a) + u (Phi(b) - Phi(a)) crosses 1/2 (kernels/dists.hpp).
  const double u0 = pb <= 0.5 ? 1.0 : pa >= 0.5 ? 0.0 : (0.5 - pa) / (pb - pa);
  auto branch = [](double base, double alpha_num, double beta_num) {
    kernels::TruncBranch<T> br{};
    br.alpha = static_cast<T>(alpha_num / base);
    br.beta = static_cast<T>(beta_num / base);
    br.w0 = static_cast<T>(-std::log(4.0) - std::log(base));
    br.b = static_cast<T>(base);
    return br;
  };
  kernels::TruncNormalDist<T> d{};
  d.mean = static_cast<T>(o.mean);
  d.std = static_cast<T>(o.std);
  d.u0 = static_cast<T>(u0);
  const double ya = std::erf(a / std::sqrt(2.0)), yb = std::erf(b / std::sqrt(2.0));
  d.y_a = static_cast<T>(ya);
  d.y_span = static_cast<T>(yb - ya);
  d.lower = branch(std::min(pb, 0.5), pa, pb - pa);  // p     = b (alpha + u beta)
  d.upper = branch(std::min(qa, 0.5), qb, qa - qb);  // 1 - p = b (alpha + (1 - u) beta)
  d.lo = static_cast<T>(lo);
  d.hi = static_cast<T>(hi);
  // The smallest tail probability any element can see is min(Phi(a), Q(b)); its w is the largest.
  // With a margin for the rounding of r in T, one polynomial piece covers every element.
  const double r_min = std::min(pa, qb);
  const double w_max = -std::log(4.0 * r_min * (1.0 - r_min));
  d.central = r_min > 0 && w_max < static_cast<double>(kernels::erfinv_tab::kF32Lo[1]) - 0.05;
  return d;
}

}  // namespace detail
}  // namespace paraminit
