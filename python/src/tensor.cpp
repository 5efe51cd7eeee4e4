// Tensors through DLPack, windows, keys and fan layouts: the argument conversions every fill shares.
#include <nanobind/stl/string.h>

#include <string>

#include "common.hpp"

namespace paraminit_py {
namespace {

// DLPack device types (dlpack.h's DLDeviceType).
constexpr int kDLCPU = 1, kDLCUDA = 2, kDLCUDAHost = 3, kDLCUDAManaged = 13;

std::string tname(nb::handle h) { return nb::type_name(h.type()).c_str(); }

[[noreturn]] void value_error(const std::string& msg) { throw nb::value_error(msg.c_str()); }
[[noreturn]] void type_error(const std::string& msg) { throw nb::type_error(msg.c_str()); }

std::string dtype_text(nb::dlpack::dtype d) {
  const char* kind = "?";
  switch (static_cast<nb::dlpack::dtype_code>(d.code)) {
    case nb::dlpack::dtype_code::Int: kind = "int"; break;
    case nb::dlpack::dtype_code::UInt: kind = "uint"; break;
    case nb::dlpack::dtype_code::Float: kind = "float"; break;
    case nb::dlpack::dtype_code::Bfloat: kind = "bfloat"; break;
    case nb::dlpack::dtype_code::Complex: kind = "complex"; break;
    case nb::dlpack::dtype_code::Bool: kind = "bool"; break;
    default: return "DLPack dtype code " + std::to_string(d.code) + " of " + std::to_string(d.bits) + " bits";
  }
  std::string s = kind + std::to_string(d.bits);
  if (d.lanes != 1) s += "x" + std::to_string(d.lanes);
  return s;
}

pi::DType dtype_of(nb::dlpack::dtype d) {
  using code = nb::dlpack::dtype_code;
  if (d.lanes == 1) {
    if (d.code == static_cast<std::uint8_t>(code::Float)) {
      if (d.bits == 32) return pi::DType::f32;
      if (d.bits == 64) return pi::DType::f64;
      if (d.bits == 16) return pi::DType::f16;
    } else if (d.code == static_cast<std::uint8_t>(code::Bfloat) && d.bits == 16) {
      return pi::DType::bf16;
    }
  }
  type_error("paraminit: unsupported dtype " + dtype_text(d) +
             ": paraminit fills float32, float64, float16 and bfloat16 tensors");
}

// Why a tensor the writable import refused was refused (or a second chance for a torch tensor that
// requires grad: its __dlpack__ refuses to export, its detach() shares the same memory).
nb::ndarray<> import_refused(nb::handle t) {
  nb::ndarray<> a;
  if (nb::hasattr(t, "requires_grad") && nb::hasattr(t, "detach") && nb::bool_(t.attr("requires_grad"))) {
    if (nb::try_cast(t.attr("detach")(), a, false)) return a;
  }
  nb::ndarray<nb::ro> ro;
  if (nb::try_cast(t, ro, false))
    value_error("paraminit: the " + tname(t) +
                " is read-only (a NumPy array with writeable=False, a JAX array, a read-only DLPack export): "
                "paraminit fills tensors in place; fill a writable copy instead");
  if (nb::hasattr(t, "__dlpack__")) {  // a tensor type whose export failed: say why, in its words
    std::string why = "its export failed";
    PyObject* cap = PyObject_CallMethod(t.ptr(), "__dlpack__", nullptr);
    if (cap != nullptr) {
      Py_DECREF(cap);
    } else {
      PyObject *type, *value, *trace;
      PyErr_Fetch(&type, &value, &trace);
      PyErr_NormalizeException(&type, &value, &trace);
      nb::object ty = nb::steal(type), val = nb::steal(value), tb = nb::steal(trace);
      if (val.is_valid()) why = std::string(Py_TYPE(val.ptr())->tp_name) + ": " + text_of(val);
    }
    std::string device;
    if (nb::hasattr(t, "device")) device = " on device " + text_of(t.attr("device"));
    value_error("paraminit: the " + tname(t) + device + " cannot be taken through DLPack (" + why +
                "): paraminit fills host memory and CUDA device memory");
  }
  type_error("paraminit: expected a tensor that supports DLPack or the buffer protocol (torch, NumPy, CuPy, ...), got " +
             tname(t));
}

// JAX arrays are immutable, whatever flags their DLPack export carries: refused before the import.
bool is_jax_array(nb::handle t) {
  PyObject* modules = PyImport_GetModuleDict();  // borrowed
  PyObject* jax = PyDict_GetItemString(modules, "jax");  // borrowed; no import when JAX is not loaded
  if (jax == nullptr) return false;
  static nb::object jax_array;  // jax.Array, looked up once
  if (!jax_array.is_valid()) {
    PyObject* arr = PyObject_GetAttrString(jax, "Array");
    if (arr == nullptr) {
      PyErr_Clear();
      return false;
    }
    jax_array = nb::steal(arr);
  }
  const int r = PyObject_IsInstance(t.ptr(), jax_array.ptr());
  if (r < 0) PyErr_Clear();
  return r == 1;
}

// torch.Tensor and nn.Parameter (these exact types; subclasses such as DTensor keep their own
// __dlpack__): the capsule of torch._C._to_dlpack, the C export under Tensor.__dlpack__. That
// Python method costs ~4 us a call, more than the rest of a small fill together; its checks are
// not needed here: requires_grad (paraminit writes in place like torch.nn.init under no_grad), the
// conjugate bit (complex: refused by dtype), the layout (a sparse tensor fails the export and takes
// the general path's message), and a CUDA stream handshake (the fill runs on torch's current
// stream). nullptr: not such a tensor, or the export failed (no Python error left set).
nb::object torch_capsule(nb::handle t) {
  struct Torch {
    bool looked = false;
    PyTypeObject* tensor = nullptr;
    PyTypeObject* parameter = nullptr;
    nb::object to_dlpack;
  };
  static Torch* tt = new Torch;  // never destroyed: outlives the interpreter's module teardown
  if (tt->tensor == nullptr) {
    if (tt->looked) return nb::object();
    PyObject* torch = PyDict_GetItemString(PyImport_GetModuleDict(), "torch");  // borrowed; never imported here
    if (torch == nullptr) return nb::object();
    tt->looked = true;
    try {
      nb::handle mod(torch);
      nb::object tensor = mod.attr("Tensor"), param = mod.attr("nn").attr("Parameter");
      tt->to_dlpack = mod.attr("_C").attr("_to_dlpack");
      tt->parameter = reinterpret_cast<PyTypeObject*>(param.release().ptr());
      tt->tensor = reinterpret_cast<PyTypeObject*>(tensor.release().ptr());
    } catch (const nb::python_error&) {  // another torch: the general path
      return nb::object();
    }
  }
  if (Py_TYPE(t.ptr()) != tt->tensor && Py_TYPE(t.ptr()) != tt->parameter) return nb::object();
  PyObject* cap = PyObject_CallOneArg(tt->to_dlpack.ptr(), t.ptr());
  if (cap == nullptr) PyErr_Clear();
  return nb::steal(cap);
}

}  // namespace

std::string text_of(nb::handle v) {
  PyObject* s = PyObject_Str(v.ptr());
  const char* c = s != nullptr ? PyUnicode_AsUTF8(s) : nullptr;
  std::string out = c != nullptr ? c : "?";
  Py_XDECREF(s);
  if (c == nullptr) PyErr_Clear();
  return out;
}

namespace {

// v as a Python int (anything with __index__, e.g. a NumPy integer), read by `read` (PyLong_As*),
// whose error (overflow, a negative number for unsigned) becomes "what = v is outside <range>".
template <class T>
T int_of(nb::handle v, const char* what, T (*read)(PyObject*), const char* range) {
  PyObject* i = PyNumber_Index(v.ptr());
  if (i == nullptr) {
    PyErr_Clear();
    type_error(std::string("paraminit: ") + what + " must be an int, got " + tname(v));
  }
  nb::object owned = nb::steal(i);
  const T x = read(i);
  if (x == static_cast<T>(-1) && PyErr_Occurred()) {
    PyErr_Clear();
    value_error(std::string("paraminit: ") + what + " = " + text_of(owned) + " is outside " + range);
  }
  return x;
}

}  // namespace

std::uint64_t to_u64(nb::handle v, const char* what) {
  return int_of<unsigned long long>(v, what, &PyLong_AsUnsignedLongLong, "[0, 2**64)");
}

std::int64_t to_i64(nb::handle v, const char* what) {
  return int_of<long long>(v, what, &PyLong_AsLongLong, "the int64 range");
}

Target target(nb::handle t, nb::handle window) {
  Target r;
  if (is_jax_array(t))
    value_error("paraminit: the " + tname(t) +
                " is a JAX array, which is immutable: paraminit fills tensors in place; fill a NumPy or torch "
                "tensor and convert it (jax.numpy.asarray)");
  nb::object cap = torch_capsule(t);
  if (!(cap.is_valid() && nb::try_cast(cap, r.array, false)) && !nb::try_cast(t, r.array, false))
    r.array = import_refused(t);
  const nb::ndarray<>& a = r.array;
  const pi::DType dt = dtype_of(a.dtype());
  const int dev = a.device_type();
  if (dev == kDLCUDA || dev == kDLCUDAManaged) {
    r.cuda = true;
    r.device = a.device_id();
  } else if (dev != kDLCPU && dev != kDLCUDAHost) {
    value_error("paraminit: unsupported device (DLPack device type " + std::to_string(dev) +
                "): paraminit fills host memory and CUDA device memory");
  }
  const int rank = static_cast<int>(a.ndim());
  if (rank > pi::kMaxRank)
    value_error("paraminit: a tensor of rank " + std::to_string(rank) + ": paraminit fills ranks 0..8");
  // Contiguous row-major (DLPack strides count elements; extents of 1 may have any stride; a tensor
  // of at most one element is contiguous whatever its strides).
  if (a.stride_ptr() != nullptr && a.size() > 1) {
    std::int64_t expect = 1;
    for (int d = rank - 1; d >= 0; --d) {
      const std::int64_t e = static_cast<std::int64_t>(a.shape(static_cast<std::size_t>(d)));
      if (e != 1 && a.stride(static_cast<std::size_t>(d)) != expect) {
        std::string shape, strides;
        for (int k = 0; k < rank; ++k) {
          shape += (k ? ", " : "") + std::to_string(a.shape(static_cast<std::size_t>(k)));
          strides += (k ? ", " : "") + std::to_string(a.stride(static_cast<std::size_t>(k)));
        }
        value_error("paraminit: the tensor is not contiguous (shape (" + shape + "), strides (" + strides +
                    ") in elements): paraminit fills contiguous row-major memory only; fill a contiguous tensor "
                    "(e.g. .contiguous()) and copy it, or give the slice as a window of a contiguous one");
      }
      expect *= e;
    }
  }
  void* data = static_cast<char*>(a.data_handle()) + a.byte_offset();
  r.view = pi::TensorView::of(data, dt, a.shape_ptr(), rank);
  if (!window.is_none()) {
    PyObject* seq = PySequence_Fast(window.ptr(), "");
    if (seq == nullptr) PyErr_Clear();
    nb::object owned = nb::steal(seq);
    if (seq == nullptr || PySequence_Fast_GET_SIZE(seq) != 3)
      value_error("paraminit: window must be (dim, start, global_extent), got " + std::string(nb::repr(window).c_str()));
    PyObject** items = PySequence_Fast_ITEMS(seq);
    std::int64_t dim = to_i64(items[0], "window dim");
    const std::int64_t start = to_i64(items[1], "window start");
    const std::int64_t global = to_i64(items[2], "window global_extent");
    if (dim < 0 && dim >= -rank) dim += rank;  // -1: the last dimension, as in torch
    if (dim < 0 || dim >= rank)
      value_error("paraminit: window dim " + std::to_string(to_i64(items[0], "window dim")) +
                  " is not a dimension of a tensor of rank " + std::to_string(rank));
    r.view = r.view.window(static_cast<int>(dim), start, global);  // start and extent: checked by the library
  }
  return r;
}

pi::Key key_of(nb::handle seed, nb::handle name, nb::handle stream) {
  pi::Key k;
  if (seed.is_none())  // a default of None only so that forgetting it gets this message, not nanobind's
    type_error("paraminit: seed is required (keyword-only, an int in [0, 2**64)): every random fill is a pure "
               "function of (seed, stream, element index), and paraminit has no global seed");
  k.seed = to_u64(seed, "seed");
  if (!name.is_none()) {
    if (!stream.is_none())
      value_error("paraminit: give name or stream, not both (name gives the stream key_for(seed, name))");
    Py_ssize_t n = 0;
    const char* s = PyUnicode_Check(name.ptr()) ? PyUnicode_AsUTF8AndSize(name.ptr(), &n) : nullptr;
    if (s == nullptr) {
      PyErr_Clear();
      type_error("paraminit: name must be a str, got " + tname(name));
    }
    k.stream = pi::stream_for_name(std::string_view(s, static_cast<std::size_t>(n)));
  } else if (!stream.is_none()) {
    k.stream = to_u64(stream, "stream");
  }
  return k;
}

pi::FanLayout layout_of(nb::handle layout) {
  if (PyUnicode_Check(layout.ptr())) {
    const std::string s = nb::cast<std::string>(layout);
    if (s == "torch") return pi::FanLayout::torch();
    if (s == "jax") return pi::FanLayout::jax();
    value_error("paraminit: unknown layout \"" + s + "\" (torch, jax, or (in_axis, out_axis[, batch_axes]))");
  }
  PyObject* seq = PySequence_Fast(layout.ptr(), "");
  if (seq == nullptr) PyErr_Clear();
  nb::object owned = nb::steal(seq);
  const Py_ssize_t n = seq != nullptr ? PySequence_Fast_GET_SIZE(seq) : 0;
  if (n != 2 && n != 3)
    value_error("paraminit: layout must be \"torch\", \"jax\" or (in_axis, out_axis[, batch_axes]), got " +
                std::string(nb::repr(layout).c_str()));
  // An axis is checked against the rank by the library; here only that it is a small int.
  auto axis = [](nb::handle v, const char* what) {
    const std::int64_t a = to_i64(v, what);
    if (a < -pi::kMaxRank || a >= pi::kMaxRank)
      value_error(std::string("paraminit: ") + what + " = " + std::to_string(a) + " is not an axis of a rank <= 8 tensor");
    return static_cast<int>(a);
  };
  pi::FanLayout f;
  f.in_axis = axis(PySequence_Fast_GET_ITEM(seq, 0), "layout in_axis");
  f.out_axis = axis(PySequence_Fast_GET_ITEM(seq, 1), "layout out_axis");
  if (n == 3) {
    for (nb::handle b : nb::handle(PySequence_Fast_GET_ITEM(seq, 2))) {
      if (f.num_batch_axes == pi::kMaxRank) value_error("paraminit: layout has more than 8 batch axes");
      f.batch_axes[f.num_batch_axes++] = axis(b, "layout batch axis");
    }
  }
  return f;
}

}  // namespace paraminit_py
