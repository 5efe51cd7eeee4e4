// The fills: validate the view, build the kernels' parameter structs (params.hpp, which validates
// the options), then run the same generator on the CPU or on CUDA.
#include <cmath>
#include <cstring>
#include <string>

#include "fills.hpp"

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

// make params (validates options) -> fill, for the dtype of t.
template <template <class> class Dist, class Options, class Make>
void random_fill(ContextImpl& ctx, const TensorView& t, const Geometry& geo, Key key, const Options& o,
                 const char* fn, Make make) {
  for_dtype(t.dtype, [&](auto tag) {
    using Out = decltype(tag);
    using T = typename kernels::ComputeType<Out>::type;
    const Dist<T> d = make(T{}, fn, o, t.dtype);
    run_fill<Out>(ctx, t, geo, kernels::Generator<Dist<T>, T>{d, key.seed, key.stream});
  });
}

}  // namespace

void constant_fill(ContextImpl& ctx, const TensorView& t, const Geometry& geo, double value, const char* fn) {
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

void uniform_fill(ContextImpl& ctx, const TensorView& t, const Geometry& geo, Key key, const UniformOptions& o,
                  const char* fn) {
  random_fill<kernels::UniformDist>(ctx, t, geo, key, o, fn, [](auto tag, auto... a) {
    return make_uniform<decltype(tag)>(a...);
  });
}

void normal_fill(ContextImpl& ctx, const TensorView& t, const Geometry& geo, Key key, const NormalOptions& o,
                 const char* fn) {
  random_fill<kernels::NormalDist>(ctx, t, geo, key, o, fn, [](auto tag, auto... a) {
    return make_normal<decltype(tag)>(a...);
  });
}

void trunc_normal_fill(ContextImpl& ctx, const TensorView& t, const Geometry& geo, Key key,
                       const TruncNormalOptions& o, const char* fn) {
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

void host_values_fill(ContextImpl& ctx, const TensorView& t, const Geometry& geo, const std::vector<double>& values,
                      const char* fn) {
  if (values.size() != geo.global_numel)
    fail(Status::internal, where(fn) + "values for " + std::to_string(values.size()) + " elements, the parameter has " +
                               std::to_string(geo.global_numel));
  // The view's global indices, run by run.
  auto for_each_local = [&](auto&& f) {
    for (std::uint64_t k = 0; k < geo.runs; ++k)
      for (std::uint64_t e = 0; e < geo.run_len; ++e) f(k * geo.run_len + e, geo.global_base + k * geo.global_stride + e);
  };
  // Every value of the parameter, not only this window's: a window fails exactly when the whole would.
  for (std::size_t g = 0; g < values.size(); ++g) {
    const double v = values[g];
    if (!std::isfinite(v) || !std::isfinite(round_to_dtype(v, t.dtype)))
      fail(Status::invalid_argument, where(fn) + "element " + std::to_string(g) + " would be " + fmt_double(v) +
                                         ", which is not finite in " + to_string(t.dtype));
  }
  if (geo.numel == 0) return;
  for_dtype(t.dtype, [&](auto tag) {
    using Out = decltype(tag);
    using T = typename kernels::ComputeType<Out>::type;
    std::vector<Out> local(geo.numel);
    for_each_local([&](std::uint64_t l, std::uint64_t g) { kernels::store(&local[l], static_cast<T>(values[g])); });
#if defined(PARAMINIT_WITH_CUDA)
    if (ctx.cuda) {
      kernels::copy_from_host(ctx.device, ctx.stream, t.data, local.data(), local.size() * sizeof(Out), fn);
      return;
    }
#endif
    (void)ctx;
    std::memcpy(t.data, local.data(), local.size() * sizeof(Out));
  });
}

}  // namespace detail

void constant(Context& c, const TensorView& t, double value) {
  const char* fn = "paraminit::constant";
  detail::constant_fill(detail::impl(c), t, detail::check_view(detail::impl(c), t, fn), value, fn);
}

void uniform(Context& c, const TensorView& t, Key key, UniformOptions o) {
  const char* fn = "paraminit::uniform";
  detail::uniform_fill(detail::impl(c), t, detail::check_view(detail::impl(c), t, fn), key, o, fn);
}

void normal(Context& c, const TensorView& t, Key key, NormalOptions o) {
  const char* fn = "paraminit::normal";
  detail::normal_fill(detail::impl(c), t, detail::check_view(detail::impl(c), t, fn), key, o, fn);
}

void trunc_normal(Context& c, const TensorView& t, Key key, TruncNormalOptions o) {
  const char* fn = "paraminit::trunc_normal";
  detail::trunc_normal_fill(detail::impl(c), t, detail::check_view(detail::impl(c), t, fn), key, o, fn);
}

}  // namespace paraminit
