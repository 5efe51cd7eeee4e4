// paraminit.Context and the default contexts: one per device, created on first use, so that most
// code never names a context at all.
#include <nanobind/stl/shared_ptr.h>
#include <nanobind/stl/string.h>

#include <cstdint>
#include <map>
#include <string>

#include "common.hpp"

namespace paraminit_py {
namespace {

// The defaults live as long as the process and are never destroyed: a CUDA context torn down
// after the CUDA runtime's own exit handlers would fail. Accessed with the GIL held only.
struct Defaults {
  ContextRef cpu;
  std::map<int, ContextRef> cuda;
};
Defaults& defaults() {
  static Defaults* d = new Defaults;
  return *d;
}

// A CUDA stream argument: None (the legacy default stream), an int cudaStream_t, or an object that
// carries one (torch.cuda.Stream.cuda_stream, cupy.cuda.Stream.ptr).
void* stream_of(nb::handle s) {
  if (s.is_none()) return nullptr;
  nb::handle v = s;
  nb::object attr;
  if (!PyLong_Check(s.ptr())) {
    if (nb::hasattr(s, "cuda_stream")) attr = s.attr("cuda_stream");
    else if (nb::hasattr(s, "ptr")) attr = s.attr("ptr");
    else
      throw nb::type_error(("paraminit: stream must be an int cudaStream_t, a torch.cuda.Stream or a cupy Stream, got " +
                            std::string(nb::type_name(s.type()).c_str())).c_str());
    v = attr;
  }
  return reinterpret_cast<void*>(static_cast<std::uintptr_t>(to_u64(v, "stream")));
}

// torch's current stream on `device` when torch is loaded (never imported here), else nullptr.
void* torch_current_stream(int device) {
  PyObject* torch = PyDict_GetItemString(PyImport_GetModuleDict(), "torch");  // borrowed
  if (torch == nullptr) return nullptr;
  try {
    nb::object s = nb::borrow(torch).attr("cuda").attr("current_stream")(device);
    return reinterpret_cast<void*>(static_cast<std::uintptr_t>(to_u64(s.attr("cuda_stream"), "torch stream")));
  } catch (const nb::python_error&) {  // a torch without CUDA filling a CuPy array: the default stream
    return nullptr;
  }
}

std::string describe(const PyContext& c) {
  if (c.ctx.is_cuda())
    return "paraminit.Context.cuda(device=" + std::to_string(c.ctx.device()) + ", stream=" +
           std::to_string(reinterpret_cast<std::uintptr_t>(c.ctx.stream())) + ")";
  return "paraminit.Context.cpu(threads=" + std::to_string(c.ctx.threads()) + ")";
}

// The default context of a device argument: None / "cpu" -> CPU; an int n, "cuda", "cuda:n" or a
// torch.device -> CUDA device n.
ContextRef default_for(nb::handle device) {
  if (device.is_none()) return default_cpu_context();
  if (PyLong_Check(device.ptr())) {
    const std::int64_t n = to_i64(device, "device");
    if (n < 0 || n > INT32_MAX) throw nb::value_error(("paraminit: device " + std::to_string(n) + " is not a CUDA ordinal").c_str());
    return default_cuda_context(static_cast<int>(n));
  }
  std::string s;
  if (PyUnicode_Check(device.ptr())) s = nb::cast<std::string>(device);
  else if (nb::hasattr(device, "type") && nb::hasattr(device, "index")) {  // torch.device
    s = text_of(device.attr("type"));
    nb::object idx = device.attr("index");
    if (!idx.is_none()) s += ":" + text_of(idx);
  } else {
    throw nb::type_error("paraminit: device must be None, an int, \"cpu\", \"cuda\", \"cuda:N\" or a torch.device");
  }
  if (s == "cpu") return default_cpu_context();
  if (s == "cuda") return default_cuda_context(0);
  if (s.rfind("cuda:", 0) == 0) {
    int n = -1;
    try {
      std::size_t used = 0;
      n = std::stoi(s.substr(5), &used);
      if (used != s.size() - 5) n = -1;
    } catch (const std::exception&) {  // not a number: the error below
    }
    if (n >= 0) return default_cuda_context(n);
  }
  throw nb::value_error(("paraminit: unknown device \"" + s + "\" (cpu, cuda, cuda:N)").c_str());
}

}  // namespace

ContextRef default_cpu_context() {
  Defaults& d = defaults();
  if (!d.cpu) d.cpu = std::make_shared<PyContext>(pi::Context::cpu(0));
  return d.cpu;
}

ContextRef default_cuda_context(int device) {
  Defaults& d = defaults();
  auto it = d.cuda.find(device);
  if (it != d.cuda.end()) return it->second;
  ContextRef c = std::make_shared<PyContext>(pi::Context::cuda(device, nullptr));
  d.cuda.emplace(device, c);
  return c;
}

Runner context_for(const Target& t, nb::handle context) {
  Runner r;
  if (context.is_none()) {
    if (!t.cuda) {
      r.c = default_cpu_context();
    } else {
      r.c = default_cuda_context(t.device);
      r.set_stream = true;
      r.stream = torch_current_stream(t.device);
    }
    return r;
  }
  if (!nb::try_cast(context, r.c) || !r.c)
    throw nb::type_error(("paraminit: context must be a paraminit.Context, got " +
                          std::string(nb::type_name(context.type()).c_str())).c_str());
  const pi::Context& c = r.c->ctx;
  if (c.is_cuda() != t.cuda || (t.cuda && c.device() != t.device)) {
    const std::string where = t.cuda ? "CUDA device " + std::to_string(t.device) : std::string("host memory");
    throw nb::value_error(("paraminit: the tensor is in " + where + " but the context is " + describe(*r.c) +
                           ": pass a context of the tensor's device, or none (the device's default)").c_str());
  }
  return r;
}

void bind_context(nb::module_& m) {
  using namespace nb::literals;
  nb::class_<PyContext>(m, "Context",
                        "Where fills run: a CPU thread pool, or a CUDA device and stream.\n\n"
                        "Most code needs none: a fill without context= runs on the default context of the\n"
                        "tensor's device (created on first use; CPU: all cores, see set_num_threads; CUDA:\n"
                        "the device of the tensor, on torch's current stream when torch is loaded).")
      .def_static("cpu", [](int threads) { return std::make_shared<PyContext>(pi::Context::cpu(threads)); },
                  "threads"_a = 0, "A CPU context with `threads` worker threads (0: every core).")
      .def_static("cuda",
                  [](int device, nb::handle stream) {
                    void* s = stream_of(stream);
                    return std::make_shared<PyContext>(pi::Context::cuda(device, s));
                  },
                  "device"_a = 0, "stream"_a = nb::none(),
                  "A CUDA context on `device`, running on `stream` (an int cudaStream_t, a torch.cuda.Stream,\n"
                  "a cupy Stream; None: the legacy default stream). ValueError when paraminit was built\n"
                  "without CUDA or the device does not exist.")
      .def_prop_ro("is_cuda", [](const PyContext& c) { return c.ctx.is_cuda(); })
      .def_prop_ro("threads", [](const PyContext& c) { return c.ctx.threads(); }, "CPU worker threads (0 for CUDA).")
      .def_prop_ro("device", [](const PyContext& c) { return c.ctx.device(); }, "CUDA ordinal (-1 for CPU).")
      .def_prop_ro("stream", [](const PyContext& c) { return reinterpret_cast<std::uintptr_t>(c.ctx.stream()); },
                   "The cudaStream_t as an int (0: the legacy default stream, and for CPU).")
      .def("set_stream",
           [](PyContext& c, nb::handle stream) {
             void* s = stream_of(stream);
             std::lock_guard<std::mutex> lock(c.mu);
             c.ctx.set_stream(s);
           },
           "stream"_a, "Later calls of this CUDA context run on `stream` (ValueError for a CPU context).")
      .def("__repr__", [](const PyContext& c) { return describe(c); });

  m.def("default_context", [](nb::handle device) { return default_for(device); }, "device"_a = nb::none(),
        "The default context of a device, created on first use: None or \"cpu\" -> the CPU context;\n"
        "an int n, \"cuda\", \"cuda:n\" or a torch.device -> the context of CUDA device n.");
  m.def("set_num_threads",
        [](int n) {
          ContextRef c = std::make_shared<PyContext>(pi::Context::cpu(n));  // validates n first
          defaults().cpu = std::move(c);  // calls in flight keep the old one alive
        },
        "n"_a, "Replace the default CPU context by one with n threads (0: every core).");
  m.def("get_num_threads", [] { return default_cpu_context()->ctx.threads(); },
        "The thread count of the default CPU context.");
  m.def("cuda_built", &pi::cuda_built, "Whether this build of paraminit has the CUDA backend.");
  m.def("cuda_device_count", &pi::cuda_device_count, "CUDA devices visible (0 without CUDA).");
  m.def("lapack_built", &pi::lapack_built, "Whether this build has LAPACK (the CPU orthogonal family).");
}

}  // namespace paraminit_py
