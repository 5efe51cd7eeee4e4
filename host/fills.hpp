// The fills as internal functions over an already validated view (`geo` from check_view), named
// `fn` in their messages: the public fills and the schemes built on them (schemes.cpp) share them,
// so a scheme gives exactly the bits of the fill it uses and reports errors under its own name.
#pragma once

#include <cstdint>
#include <vector>

#include "cuda_launch.hpp"
#include "../kernels/structured.hpp"
#include "cpu_fill.hpp"
#include "internal.hpp"
#include "params.hpp"

namespace paraminit {
namespace detail {

void constant_fill(ContextImpl& ctx, const TensorView& t, const Geometry& geo, double value, const char* fn);
void uniform_fill(ContextImpl& ctx, const TensorView& t, const Geometry& geo, Key key, const UniformOptions& o,
                  const char* fn);
void normal_fill(ContextImpl& ctx, const TensorView& t, const Geometry& geo, Key key, const NormalOptions& o,
                 const char* fn);
void trunc_normal_fill(ContextImpl& ctx, const TensorView& t, const Geometry& geo, Key key,
                       const TruncNormalOptions& o, const char* fn);

// Writes values[g] (one double per element of the global parameter) to the view's elements,
// rounded like constant(). Validates every value that this view writes (finite, in the dtype's
// range) before writing; CUDA: one cudaMemcpyAsync of the view's converted values.
void host_values_fill(ContextImpl& ctx, const TensorView& t, const Geometry& geo, const std::vector<double>& values,
                      const char* fn);

// Structured fills: element = MakeFn<T>(...)(global index), for the dtype of t. `make(T{})` builds
// the functor in the compute type T.
template <template <class> class Fn, class Make>
void index_fill(ContextImpl& ctx, const TensorView& t, const Geometry& geo, Make make) {
  if (geo.numel == 0) return;
  for_dtype(t.dtype, [&](auto tag) {
    using Out = decltype(tag);
    using T = typename kernels::ComputeType<Out>::type;
    const Fn<T> f = make(T{});
    Out* data = static_cast<Out*>(t.data);
#if defined(PARAMINIT_WITH_CUDA)
    if (ctx.cuda) {
      kernels::launch_fill_index<Fn<T>, Out>(ctx.device, ctx.stream, geo, data, f);
      return;
    }
#endif
    cpu_fill_index(*ctx.pool, geo, data, f);
  });
}

}  // namespace detail
}  // namespace paraminit
