// paraminit._core: the module, its exception, keys and streams, and the helpers of the benchmark.
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

#include "common.hpp"
#include "paraminit/version.hpp"

namespace paraminit_py {
namespace {

using namespace nb::literals;

// paraminit.Error: every paraminit::Error, a ValueError subclass with the library's message and its
// category as .status ("invalid_argument", "unsupported", "device", "out_of_memory", ...).
PyObject* error_type() {
  static PyObject* t = PyErr_NewExceptionWithDoc(
      "paraminit.Error",
      "An error reported by the paraminit library: the library's message; .status is its category\n"
      "(invalid_argument, unsupported, device, out_of_memory, numerical, io, internal).",
      PyExc_ValueError, nullptr);
  return t;
}

void translate(const std::exception_ptr& p, void*) {
  try {
    std::rethrow_exception(p);
  } catch (const pi::Error& e) {
    PyObject* exc = PyObject_CallFunction(error_type(), "s", e.what());
    if (exc == nullptr) return;  // the call's own error stands
    PyObject* status = PyUnicode_FromString(pi::to_string(e.code()));
    if (status != nullptr) {
      PyObject_SetAttrString(exc, "status", status);
      Py_DECREF(status);
    }
    PyErr_SetObject(error_type(), exc);
    Py_DECREF(exc);
  }
}

// The median seconds of one direct C++ call of pi::uniform on a 1-element f32 buffer, on the
// default CPU context: what a Python call's overhead is measured against.
double direct_call_seconds(int reps) {
  if (reps < 1) throw nb::value_error("paraminit: reps must be >= 1");
  ContextRef c = default_cpu_context();
  float x = 0;
  const pi::TensorView v = pi::TensorView::of(&x, pi::DType::f32, {1});
  std::vector<double> t(static_cast<std::size_t>(reps));
  nb::gil_scoped_release release;
  for (int i = 0; i < reps; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    pi::uniform(c->ctx, v, pi::Key{static_cast<std::uint64_t>(i), 0}, {-1.0, 1.0});
    t[static_cast<std::size_t>(i)] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  std::nth_element(t.begin(), t.begin() + reps / 2, t.end());
  return t[static_cast<std::size_t>(reps / 2)];
}

}  // namespace
}  // namespace paraminit_py

NB_MODULE(_core, m) {
  namespace nb = nanobind;
  namespace pi = paraminit;
  using namespace nb::literals;
  using namespace paraminit_py;

  m.doc() = "paraminit's C++ library as a Python module (the package paraminit re-exports it).";
  m.attr("__version__") = PARAMINIT_VERSION_STRING;
  m.attr("Error") = nb::handle(error_type());
  nb::register_exception_translator(&translate);

  m.def("stream_for_name", [](const std::string& name) { return pi::stream_for_name(name); }, "name"_a,
        "The stable 64-bit stream of a parameter name: FNV-1a (64-bit) of its UTF-8 bytes, then the\n"
        "SplitMix64 finalizer. Fixed forever; equal to the C++ and C APIs'.");
  m.def("key_for",
        [](nb::handle seed, const std::string& name) {
          const pi::Key k = pi::key_for(to_u64(seed, "seed"), name);
          return std::make_tuple(k.seed, k.stream);
        },
        "seed"_a, "name"_a,
        "(seed, stream_for_name(name)): the key of parameter `name`, so that its values depend on its name\n"
        "only -- not on the order in which a model is initialized, nor on which process does it.");
  m.def("batch_stream",
        [](nb::handle stream, nb::handle k) { return pi::batch_stream(to_u64(stream, "stream"), to_u64(k, "k")); },
        "stream"_a, "k"_a,
        "The stream of matrix k of a batched orthogonal_: the SplitMix64 finalizer of\n"
        "stream + (k + 1) 0x9E3779B97F4A7C15.");
  m.def("philox_bits",
        [](nb::handle seed, nb::handle stream, nb::handle first, nb::handle count) {
          const pi::Key k{to_u64(seed, "seed"), to_u64(stream, "stream")};
          const std::uint64_t f = to_u64(first, "first"), n = to_u64(count, "count");
          if (n > (std::uint64_t{1} << 32)) throw nb::value_error("paraminit: philox_bits: count over 2**32");
          auto* words = new std::uint32_t[n ? n : 1];
          nb::capsule owner(words, [](void* p) noexcept { delete[] static_cast<std::uint32_t*>(p); });
          {
            nb::gil_scoped_release release;
            pi::philox_bits(k, f, n, words);
          }
          const std::size_t shape[1] = {static_cast<std::size_t>(n)};
          return nb::ndarray<nb::numpy, std::uint32_t, nb::ndim<1>>(words, 1, shape, owner);
        },
        "seed"_a, "stream"_a, "first"_a, "count"_a,
        "The raw 32-bit words of a stream (a NumPy uint32 array): out[j] = word (first + j) % 4 of\n"
        "Philox4x32-10 call (first + j) / 4 with counter (call, stream) and key seed. For reproducing\n"
        "paraminit's values elsewhere.");
  m.def("_direct_call_seconds", &direct_call_seconds, "reps"_a,
        "Median seconds of one direct C++ call of uniform on a 1-element f32 buffer (default CPU context).");

  bind_context(m);
  bind_fills(m);
  bind_schemes(m);
}
