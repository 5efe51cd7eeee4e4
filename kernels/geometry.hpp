// Where a (possibly windowed) view lies in its global parameter, as the kernels need it:
// local elements [k * run_len, (k + 1) * run_len) are the global elements
// [global_base + k * global_stride, ... + run_len), for k in [0, runs).
// (An unwindowed view, or a window along a dimension whose outer extents are all 1, is one run.)
#pragma once

#include <cstdint>

namespace paraminit {
namespace detail {

struct Geometry {
  std::uint64_t numel = 0;  // local elements = runs * run_len
  std::uint64_t run_len = 0;
  std::uint64_t runs = 0;
  std::uint64_t global_stride = 0;
  std::uint64_t global_base = 0;
  std::uint64_t global_numel = 0;
};

}  // namespace detail
}  // namespace paraminit
