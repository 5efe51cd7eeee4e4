// The shared pieces of the Python module paraminit._core: contexts as Python sees them, a tensor
// taken zero-copy through DLPack and checked, the (seed, name, stream) rule, and run(), which
// releases the GIL around one library call.
//
// Order of every fill: convert and check every argument (tensor, window, key, options, context)
// with the GIL held, then run the library call without it; the library validates its own input
// before it writes, so any error leaves the tensor as it was.
#pragma once

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#include <memory>
#include <mutex>
#include <utility>

#include "paraminit/paraminit.hpp"

namespace paraminit_py {
namespace nb = nanobind;
namespace pi = paraminit;

/// A library context shared by the Python objects that name it and the calls in flight, so that
/// replacing a default context (set_num_threads) never destroys one a running call uses.
struct PyContext {
  pi::Context ctx;
  /// CUDA contexts are not thread-safe (paraminit.hpp): calls on one are serialized here. CPU
  /// contexts are (their pool queues jobs), so their calls do not take it.
  std::mutex mu;
  explicit PyContext(pi::Context c) : ctx(std::move(c)) {}
};
using ContextRef = std::shared_ptr<PyContext>;

/// The default CPU context (all cores until set_num_threads), created on first use.
ContextRef default_cpu_context();
/// The default context of CUDA device `device`, created on first use (Status::unsupported without CUDA).
ContextRef default_cuda_context(int device);

/// A tensor taken through DLPack (zero copy) and checked: writable, contiguous, a supported dtype
/// and device. `view` is the whole tensor, or its window when one was given.
struct Target {
  nb::ndarray<> array;  // holds the producer's memory while the call runs
  pi::TensorView view;
  bool cuda = false;
  int device = -1;  // CUDA ordinal, -1 for host memory
};

/// Throws TypeError (not a tensor, unsupported dtype) or ValueError (read-only, non-contiguous,
/// unsupported device, a malformed window) with a message that says what to do instead.
Target target(nb::handle t, nb::handle window);

/// The context a call runs on: `context` when given (a paraminit.Context whose kind and device must
/// match the tensor's), else the default context of the tensor's device; for CUDA tensors on the
/// default context, the stream to run on (torch's current stream of that device when torch is
/// loaded, else the legacy default stream), set under the context's lock.
struct Runner {
  ContextRef c;
  bool set_stream = false;
  void* stream = nullptr;
};
Runner context_for(const Target& t, nb::handle context);

/// The key of a random fill: name given -> key_for(seed, name); stream given -> (seed, stream);
/// neither -> (seed, 0); both -> ValueError.
pi::Key key_of(nb::handle seed, nb::handle name, nb::handle stream);

/// A Python int (or anything with __index__) as a uint64 / int64; `what` names it in the error.
std::uint64_t to_u64(nb::handle v, const char* what);
std::int64_t to_i64(nb::handle v, const char* what);

/// str(v) as a C++ string ("?" if str() fails). (nb::str(object) would adopt, not convert, its argument.)
std::string text_of(nb::handle v);

/// The fan layout of a "layout" argument: "torch", "jax", or (in_axis, out_axis[, batch_axes]).
pi::FanLayout layout_of(nb::handle layout);

/// Runs f(context, view) without the GIL (and under the context's lock for CUDA); returns `t`.
template <class F>
nb::object run(nb::handle t, nb::handle window, nb::handle context, F&& f) {
  Target tg = target(t, window);
  Runner r = context_for(tg, context);
  {
    nb::gil_scoped_release release;
    if (tg.cuda) {
      std::lock_guard<std::mutex> lock(r.c->mu);
      if (r.set_stream) r.c->ctx.set_stream(r.stream);
      f(r.c->ctx, tg.view);
    } else {
      f(r.c->ctx, tg.view);
    }
  }
  return nb::borrow(t);
}

// The parameters and keyword arguments every random fill ends with (the lambdas' last parameters,
// in this order), and the common part of their docstrings.
#define PI_RANDOM_PARAMS nb::handle seed, nb::handle name, nb::handle stream, nb::handle window, nb::handle context
#define PI_RANDOM_KW_NAMES \
  "seed"_a = nb::none(), "name"_a = nb::none(), "stream"_a = nb::none(), "window"_a = nb::none(), "context"_a = nb::none()
#define PI_RANDOM_KW nb::kw_only(), PI_RANDOM_KW_NAMES
#define PI_KEY_DOC                                                                                       \
  "\n\nKeyword-only: seed (int, required); name (str: the stream is key_for(seed, name)) or stream\n"   \
  "(int) -- neither: stream 0, both: ValueError; window=(dim, start, global_extent): the tensor is\n"   \
  "the slice [start, start + t.shape[dim]) along dim of a parameter of extent global_extent there,\n"  \
  "and gets exactly that part of the whole's values (fans too come from the whole); context: a\n"     \
  "paraminit.Context (default: that of the tensor's device). Fills t in place (any writable DLPack\n" \
  "tensor: torch, NumPy, CuPy; f32, f64, f16, bf16; CPU or CUDA) and returns it. Every value is a\n"  \
  "pure function of (seed, stream, global element index): the C++ API's bits, on any device, for\n"  \
  "any sharding."
// The same for the fills that draw no random numbers.
#define PI_PLAIN_KW nb::kw_only(), "window"_a = nb::none(), "context"_a = nb::none()
#define PI_PLAIN_DOC                                                                                   \
  "\n\nKeyword-only: window=(dim, start, global_extent) (a slice of a larger parameter), context.\n" \
  "Fills t in place and returns it."

void bind_context(nb::module_& m);
void bind_fills(nb::module_& m);
void bind_schemes(nb::module_& m);

}  // namespace paraminit_py
