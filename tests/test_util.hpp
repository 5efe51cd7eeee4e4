// Test helpers: typed buffers, decoding to double, an independent round-to-nearest-even reference
// for fp16 / bf16, the Kolmogorov-Smirnov statistic, and the exact CDFs in double.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "paraminit/paraminit.hpp"

namespace paraminit_test {

using paraminit::DType;

// Decodes fp16 / bf16 bit patterns with ldexp (not the library's converters).
inline double decode_half(std::uint16_t b, DType t) {
  const int sign = (b & 0x8000) ? -1 : 1;
  if (t == DType::bf16) {
    const int e = (b >> 7) & 0xff, m = b & 0x7f;
    if (e == 0xff) return m ? NAN : sign * INFINITY;
    return sign * (e == 0 ? std::ldexp(m, -133) : std::ldexp(128 + m, e - 134));
  }
  const int e = (b >> 10) & 0x1f, m = b & 0x3ff;
  if (e == 0x1f) return m ? NAN : sign * INFINITY;
  return sign * (e == 0 ? std::ldexp(m, -24) : std::ldexp(1024 + m, e - 25));
}

// Round-to-nearest-even of a float to fp16 / bf16 by search over the sorted table of all finite
// values: the nearest value, ties to the even significand; beyond the largest finite value by at
// least half an ulp: infinity. Independent of the library's bit tricks.
class HalfRounder {
 public:
  explicit HalfRounder(DType t) : t_(t) {
    for (std::uint32_t b = 0; b < 0x8000u; ++b) {
      const double v = decode_half(static_cast<std::uint16_t>(b), t);
      if (std::isfinite(v)) pos_.emplace_back(v, static_cast<std::uint16_t>(b));
    }
    std::sort(pos_.begin(), pos_.end());
    max_ = pos_.back().first;
    const double ulp_max = max_ - pos_[pos_.size() - 2].first;
    overflow_ = max_ + ulp_max / 2;
  }
  std::uint16_t operator()(float f) const {
    const double x = std::fabs(static_cast<double>(f));
    const std::uint16_t sign = std::signbit(f) ? 0x8000 : 0;
    if (std::isnan(f)) return 0x7fff;
    if (x >= overflow_) return sign | (t_ == DType::f16 ? 0x7c00 : 0x7f80);
    auto it = std::lower_bound(pos_.begin(), pos_.end(), std::make_pair(x, std::uint16_t{0}));
    if (it == pos_.end()) return sign | pos_.back().second;
    if (it->first == x || it == pos_.begin()) return sign | it->second;
    auto lo = std::prev(it);
    const double dl = x - lo->first, dh = it->first - x;
    if (dl < dh) return sign | lo->second;
    if (dh < dl) return sign | it->second;
    return sign | ((lo->second & 1) ? it->second : lo->second);  // tie: even significand
  }

 private:
  DType t_;
  std::vector<std::pair<double, std::uint16_t>> pos_;
  double max_ = 0, overflow_ = 0;
};

// A host buffer of n elements of dtype t, viewable as a TensorView and readable as doubles.
struct Buffer {
  DType dtype;
  std::vector<std::uint64_t> storage;  // 8-byte aligned
  std::size_t n;
  Buffer(DType t, std::size_t count) : dtype(t), storage((count * 8 + 7) / 8 + 1, 0), n(count) {}
  void* data() { return storage.data(); }
  const unsigned char* bytes() const { return reinterpret_cast<const unsigned char*>(storage.data()); }
  std::size_t nbytes() const { return n * paraminit::dtype_size(dtype); }
  double at(std::size_t i) const {
    switch (dtype) {
      case DType::f32: { float f; std::memcpy(&f, bytes() + 4 * i, 4); return f; }
      case DType::f64: { double d; std::memcpy(&d, bytes() + 8 * i, 8); return d; }
      default: { std::uint16_t h; std::memcpy(&h, bytes() + 2 * i, 2); return decode_half(h, dtype); }
    }
  }
  std::uint16_t half_bits(std::size_t i) const {
    std::uint16_t h;
    std::memcpy(&h, bytes() + 2 * i, 2);
    return h;
  }
  std::vector<double> values() const {
    std::vector<double> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = at(i);
    return v;
  }
  void poison(unsigned char byte) { std::memset(storage.data(), byte, storage.size() * 8); }
  bool all_bytes_are(unsigned char byte) const {
    for (std::size_t i = 0; i < storage.size() * 8; ++i)
      if (bytes()[i] != byte) return false;
    return true;
  }
  paraminit::TensorView view1d() { return paraminit::TensorView::of(data(), dtype, {static_cast<std::int64_t>(n)}); }
};

// The tests' shared CPU context (2 threads: the machine's cores; thread-count independence has its
// own test).
inline paraminit::Context& ctx() {
  static paraminit::Context c = paraminit::Context::cpu(2);
  return c;
}

// Expects fn(view) on a poisoned buffer of dtype t (its first doubles set to init) to throw
// paraminit::Error with `code` and a message containing every word, and to leave the buffer
// unwritten (DESIGN section 5: errors before any write).
inline void expect_error(paraminit::Status code, const std::vector<std::string>& words, DType t,
                         const std::vector<std::int64_t>& shape, const std::function<void(const paraminit::TensorView&)>& fn,
                         const std::vector<double>& init = {});

// A view of shape `shape` over the buffer (a whole parameter), and the element count of a shape.
inline paraminit::TensorView view(Buffer& b, const std::vector<std::int64_t>& shape) {
  paraminit::TensorView v = paraminit::TensorView::of(b.data(), b.dtype, {});
  v.rank = static_cast<int>(shape.size());
  for (int d = 0; d < v.rank; ++d) v.shape[d] = shape[static_cast<std::size_t>(d)];
  return v;
}
inline std::size_t numel(const std::vector<std::int64_t>& s) {
  std::size_t n = 1;
  for (auto e : s) n *= static_cast<std::size_t>(e);
  return n;
}

inline void expect_error(paraminit::Status code, const std::vector<std::string>& words, DType t,
                         const std::vector<std::int64_t>& shape, const std::function<void(const paraminit::TensorView&)>& fn,
                         const std::vector<double>& init) {
  Buffer b(t, std::max<std::size_t>(numel(shape), 1));
  b.poison(0xA5);
  for (std::size_t i = 0; i < init.size(); ++i) reinterpret_cast<double*>(b.data())[i] = init[i];
  const std::vector<std::uint64_t> before = b.storage;
  try {
    fn(view(b, shape));
    ADD_FAILURE() << "no error";
  } catch (const paraminit::Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    for (const auto& w : words) EXPECT_NE(std::string(e.what()).find(w), std::string::npos) << "'" << w << "' not in: " << e.what();
  }
  EXPECT_TRUE(before == b.storage) << "the buffer was written";
}

inline const DType kAllDTypes[] = {DType::f32, DType::f64, DType::f16, DType::bf16};

// Kolmogorov-Smirnov statistic of the sample against a continuous CDF (sorts the sample).
inline double ks_statistic(std::vector<double> x, const std::function<double(double)>& cdf) {
  std::sort(x.begin(), x.end());
  const double n = static_cast<double>(x.size());
  double d = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double f = cdf(x[i]);
    d = std::max({d, f - static_cast<double>(i) / n, static_cast<double>(i + 1) / n - f});
  }
  return d;
}
// Asymptotic critical value: P(sqrt(n) D > c) ~ 2 exp(-2 c^2) = alpha.
inline double ks_critical(std::size_t n, double alpha) {
  return std::sqrt(-0.5 * std::log(alpha / 2)) / std::sqrt(static_cast<double>(n));
}

inline double normal_cdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }
inline double normal_ccdf(double x) { return 0.5 * std::erfc(x / std::sqrt(2.0)); }

struct Moments {
  double mean = 0, var = 0, m4 = 0;  // central moments
};
inline Moments moments(const std::vector<double>& x) {
  Moments m;
  long double s = 0;
  for (double v : x) s += v;
  m.mean = static_cast<double>(s / x.size());
  long double s2 = 0, s4 = 0;
  for (double v : x) {
    const long double d = v - m.mean;
    s2 += d * d;
    s4 += d * d * d * d;
  }
  m.var = static_cast<double>(s2 / x.size());
  m.m4 = static_cast<double>(s4 / x.size());
  return m;
}

}  // namespace paraminit_test
