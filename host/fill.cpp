// The public fill functions: validate the view, build the kernels' parameter structs (params.hpp,
// which validates the options), then run the same generator on the CPU or on CUDA.
#include <string>

#include "../kernels/launch.hpp"
#include "cpu_fill.hpp"
#include "internal.hpp"
#include "params.hpp"

namespace paraminit {
namespace detail {
namespace {

template <class Out, class Gen>
void run_fill(ContextImpl& ctx, const TensorView& t, const Geometry& geo, const Gen& gen) {
  if (geo.numel == 0) return;
  Out* data = static_cast<Out*>(t.data);
#if defined(PARAMINIT_WITH_CUDA)
  if (ctx.cuda) {
    kernels::launch_fill<Gen, Out>(ctx.device, ctx.stream, geo, data, gen);
    return;
  }
#endif
  cpu_fill(*ctx.pool, geo, data, gen);
}

// check view -> make params (validates options) -> fill, for the dtype of t.
template <template <class> class Dist, class Options, class Make>
void random_fill(Context& c, const TensorView& t, Key key, const Options& o, const char* fn, Make make) {
  auto& ctx = c.impl();
  const Geometry geo = check_view(ctx, t, fn);
  for_dtype(t.dtype, [&](auto tag) {
    using Out = decltype(tag);
    using T = typename kernels::ComputeType<Out>::type;
    const Dist<T> d = make(T{}, fn, o, t.dtype);
    run_fill<Out>(ctx, t, geo, kernels::Generator<Dist<T>, T>{d, key.seed, key.stream});
  });
}

}  // namespace
}  // namespace detail

void constant(Context& c, const TensorView& t, double value) {
  using namespace detail;
  const char* fn = "paraminit::constant";
  auto& ctx = c.impl();
  const Geometry geo = check_view(ctx, t, fn);
  require_finite(fn, "value", value);
  if (!std::isfinite(round_to_dtype(value, t.dtype)))
    fail(Status::invalid_argument, where(fn) + "value = " + fmt_double(value) + " overflows " + to_string(t.dtype));
  if (geo.numel == 0) return;
  for_dtype(t.dtype, [&](auto tag) {
    using Out = decltype(tag);
    using T = typename kernels::ComputeType<Out>::type;
    Out v;
    kernels::store(&v, static_cast<T>(value));  // f16/bf16: from the fp32 value, nearest even
    Out* data = static_cast<Out*>(t.data);
#if defined(PARAMINIT_WITH_CUDA)
    if (ctx.cuda) {
      kernels::launch_fill_value<Out>(ctx.device, ctx.stream, geo.numel, data, v);
      return;
    }
#endif
    cpu_fill_value(*ctx.pool, geo.numel, data, v);
  });
}

void uniform(Context& c, const TensorView& t, Key key, UniformOptions o) {
  detail::random_fill<kernels::UniformDist>(c, t, key, o, "paraminit::uniform", [](auto tag, auto... a) {
    return detail::make_uniform<decltype(tag)>(a...);
  });
}

void normal(Context& c, const TensorView& t, Key key, NormalOptions o) {
  detail::random_fill<kernels::NormalDist>(c, t, key, o, "paraminit::normal", [](auto tag, auto... a) {
    return detail::make_normal<decltype(tag)>(a...);
  });
}

void trunc_normal(Context& c, const TensorView& t, Key key, TruncNormalOptions o) {
  using namespace detail;
  const char* fn = "paraminit::trunc_normal";
  auto& ctx = c.impl();
  const Geometry geo = check_view(ctx, t, fn);
  for_dtype(t.dtype, [&](auto tag) {
    using Out = decltype(tag);
    using T = typename kernels::ComputeType<Out>::type;
    const kernels::TruncNormalDist<T> d = make_trunc_normal<T>(fn, o, t.dtype);
    if (d.central) {
      const kernels::TruncNormalCentralDist<T> dc{d};
      run_fill<Out>(ctx, t, geo, kernels::Generator<kernels::TruncNormalCentralDist<T>, T>{dc, key.seed, key.stream});
    } else {
      run_fill<Out>(ctx, t, geo, kernels::Generator<kernels::TruncNormalDist<T>, T>{d, key.seed, key.stream});
    }
  });
}

}  // namespace paraminit
