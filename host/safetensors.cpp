// safetensors, read and written by the library (include/paraminit/safetensors.hpp). The reader
// treats the file as untrusted: every length and offset is checked against the file before use, the
// JSON is parsed by nlohmann::json (which rejects invalid UTF-8) with a callback that catches
// duplicate names, and data is read with pread into memory the caller sized from validated shapes.
#include "paraminit/safetensors.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#if defined(PARAMINIT_WITH_JSON)
#include <nlohmann/json.hpp>
#endif
#include <set>
#include <unordered_set>

#include "../kernels/dists.hpp"
#include "internal.hpp"
#include "params.hpp"

namespace paraminit {
namespace detail {
namespace {

[[noreturn]] void io_fail(const std::string& where_, const std::string& what) {
  fail(Status::io, "paraminit safetensors: " + where_ + ": " + what);
}

struct DTypeName {
  const char* name;
  unsigned size;
  bool readable;
  DType dtype;
};
constexpr DTypeName kDTypes[] = {
    {"F32", 4, true, DType::f32},    {"F64", 8, true, DType::f64},    {"F16", 2, true, DType::f16},
    {"BF16", 2, true, DType::bf16},  {"BOOL", 1, false, DType::f32},  {"U8", 1, false, DType::f32},
    {"I8", 1, false, DType::f32},    {"F8_E5M2", 1, false, DType::f32}, {"F8_E4M3", 1, false, DType::f32},
    {"I16", 2, false, DType::f32},   {"U16", 2, false, DType::f32},   {"I32", 4, false, DType::f32},
    {"U32", 4, false, DType::f32},   {"I64", 8, false, DType::f32},   {"U64", 8, false, DType::f32},
};

[[maybe_unused]] const char* file_dtype(DType t) {
  switch (t) {
    case DType::f32: return "F32";
    case DType::f64: return "F64";
    case DType::f16: return "F16";
    case DType::bf16: return "BF16";
  }
  return "?";
}

struct Parsed {
  std::vector<SafetensorsTensor> tensors;
  std::map<std::string, std::string> metadata;
};

std::uint64_t read_le64(const unsigned char* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

#if defined(PARAMINIT_WITH_JSON)
// The header JSON against a data section of `data_size` bytes.
Parsed parse_header(std::string_view json, std::uint64_t data_size, const std::string& where_) {
  std::unordered_set<std::string> names;
  std::string duplicate;
  auto callback = [&](int depth, nlohmann::json::parse_event_t ev, nlohmann::json& parsed) {
    if (depth == 1 && ev == nlohmann::json::parse_event_t::key && duplicate.empty()) {
      const std::string& k = parsed.get_ref<const std::string&>();
      if (!names.insert(k).second) duplicate = k;
    }
    return true;
  };
  nlohmann::json h;
  try {
    h = nlohmann::json::parse(json.begin(), json.end(), callback);
  } catch (const nlohmann::json::exception& e) {
    io_fail(where_, std::string("the header is not valid JSON (") + e.what() + ")");
  }
  if (!duplicate.empty()) io_fail(where_, "the tensor name \"" + duplicate + "\" appears twice");
  if (!h.is_object()) io_fail(where_, "the header is not a JSON object");
  Parsed out;
  for (auto it = h.begin(); it != h.end(); ++it) {
    const std::string& name = it.key();
    const nlohmann::json& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) io_fail(where_, "__metadata__ is not an object");
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string()) io_fail(where_, "__metadata__[\"" + m.key() + "\"] is not a string");
        out.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string at = "tensor \"" + name + "\"";
    if (name.empty()) io_fail(where_, "a tensor has an empty name");
    if (!v.is_object()) io_fail(where_, at + " is not an object");
    const auto dt = v.find("dtype"), sh = v.find("shape"), off = v.find("data_offsets");
    if (dt == v.end() || !dt->is_string()) io_fail(where_, at + " has no string \"dtype\"");
    if (sh == v.end() || !sh->is_array()) io_fail(where_, at + " has no array \"shape\"");
    if (off == v.end() || !off->is_array() || off->size() != 2) io_fail(where_, at + " has no [begin, end] \"data_offsets\"");
    SafetensorsTensor t;
    t.name = name;
    t.dtype_name = dt->get<std::string>();
    const DTypeName* d = nullptr;
    for (const auto& k : kDTypes)
      if (t.dtype_name == k.name) d = &k;
    if (d == nullptr) io_fail(where_, at + " has the unknown dtype \"" + t.dtype_name + "\"");
    t.readable = d->readable;
    t.dtype = d->dtype;
    if (sh->size() > 64) io_fail(where_, at + " has " + std::to_string(sh->size()) + " dimensions");
    std::uint64_t count = 1;
    bool overflow = false;
    for (const auto& e : *sh) {
      if (!e.is_number_unsigned()) io_fail(where_, at + " has a shape entry that is not a non-negative integer");
      const std::uint64_t x = e.get<std::uint64_t>();
      if (x > static_cast<std::uint64_t>(INT64_MAX)) io_fail(where_, at + " has an extent beyond 2^63");
      t.shape.push_back(static_cast<std::int64_t>(x));
      overflow = overflow || (x != 0 && count > UINT64_MAX / x);
      count = overflow ? count : count * x;
    }
    for (const auto& e : *off)
      if (!e.is_number_unsigned()) io_fail(where_, at + " has a data offset that is not a non-negative integer");
    t.begin = (*off)[0].get<std::uint64_t>();
    t.end = (*off)[1].get<std::uint64_t>();
    if (t.begin > t.end) io_fail(where_, at + " has data_offsets [" + std::to_string(t.begin) + ", " + std::to_string(t.end) + "] with begin > end");
    if (t.end > data_size)
      io_fail(where_, at + " ends at byte " + std::to_string(t.end) + " of a data section of " + std::to_string(data_size) + " bytes");
    const bool any_zero = std::find(t.shape.begin(), t.shape.end(), 0) != t.shape.end();
    if (!any_zero && (overflow || count > UINT64_MAX / d->size))
      io_fail(where_, at + "'s byte size overflows 64 bits");
    const std::uint64_t bytes = any_zero ? 0 : count * d->size;
    if (t.end - t.begin != bytes)
      io_fail(where_, at + " holds " + std::to_string(t.end - t.begin) + " bytes but " + t.dtype_name + " x " +
                          std::to_string(any_zero ? 0 : count) + " elements need " + std::to_string(bytes));
    out.tensors.push_back(std::move(t));
  }
  // The tensors must tile [0, data_size) exactly, as the reference implementation requires.
  std::sort(out.tensors.begin(), out.tensors.end(), [](const SafetensorsTensor& a, const SafetensorsTensor& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  std::uint64_t at = 0;
  for (const auto& t : out.tensors) {
    if (t.begin < at) io_fail(where_, "tensor \"" + t.name + "\" overlaps the tensor before it (bytes " + std::to_string(t.begin) + " < " + std::to_string(at) + ")");
    if (t.begin > at) io_fail(where_, "bytes [" + std::to_string(at) + ", " + std::to_string(t.begin) + ") of the data section belong to no tensor");
    at = t.end;
  }
  if (at != data_size)
    io_fail(where_, "the data section has " + std::to_string(data_size) + " bytes but the tensors end at " + std::to_string(at));
  return out;
}

#else
Parsed parse_header(std::string_view, std::uint64_t, const std::string& where_) {
  fail(Status::unsupported, "paraminit safetensors: " + where_ + ": this build has no JSON parser (install nlohmann-json3-dev and rebuild)");
}
#endif

// Reads exactly n bytes at offset off (EINTR and short reads handled).
void pread_all(int fd, void* dst, std::uint64_t n, std::uint64_t off, const std::string& where_) {
  auto* p = static_cast<unsigned char*>(dst);
  while (n > 0) {
    const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(n, std::uint64_t{1} << 30));
    const ssize_t got = ::pread(fd, p, want, static_cast<off_t>(off));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) io_fail(where_, std::string("read failed: ") + std::strerror(errno));
    if (got == 0) io_fail(where_, "the file ended early (truncated?)");
    p += got;
    off += static_cast<std::uint64_t>(got);
    n -= static_cast<std::uint64_t>(got);
  }
}

void pwrite_all(int fd, const void* src, std::uint64_t n, std::uint64_t off, const std::string& where_) {
  const auto* p = static_cast<const unsigned char*>(src);
  while (n > 0) {
    const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(n, std::uint64_t{1} << 30));
    const ssize_t put = ::pwrite(fd, p, want, static_cast<off_t>(off));
    if (put < 0 && errno == EINTR) continue;
    if (put <= 0) io_fail(where_, std::string("write failed: ") + std::strerror(errno));
    p += put;
    off += static_cast<std::uint64_t>(put);
    n -= static_cast<std::uint64_t>(put);
  }
}

// n elements of dtype `from` at src -> dtype `to` at dst (host memory).
void convert(const void* src, DType from, void* dst, DType to, std::uint64_t n) {
  if (from == to) {
    std::memcpy(dst, src, n * dtype_size(from));
    return;
  }
  for_dtype(from, [&](auto ftag) {
    using F = decltype(ftag);
    const F* s = static_cast<const F*>(src);
    for_dtype(to, [&](auto ttag) {
      using O = decltype(ttag);
      using C = typename kernels::ComputeType<O>::type;
      O* d = static_cast<O*>(dst);
      for (std::uint64_t i = 0; i < n; ++i) {
        const double v = kernels::load(s + i);
        kernels::store(d + i, static_cast<C>(v));
      }
    });
  });
}

}  // namespace

}  // namespace detail

std::int64_t SafetensorsTensor::numel() const noexcept {
  std::int64_t n = 1;
  for (auto e : shape) n *= e;
  return n;
}

struct SafetensorsReader::Impl {
  std::string path;
  int fd = -1;
  std::uint64_t data_start = 0;
  detail::Parsed parsed;
  ~Impl() {
    if (fd >= 0) ::close(fd);
  }
};

SafetensorsReader::SafetensorsReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SafetensorsReader::SafetensorsReader(SafetensorsReader&&) noexcept = default;
SafetensorsReader& SafetensorsReader::operator=(SafetensorsReader&&) noexcept = default;
SafetensorsReader::~SafetensorsReader() = default;

namespace {
// The common checks of open() and validate() on the first bytes; returns the header length.
std::uint64_t header_length(const unsigned char* first8, std::uint64_t size, const SafetensorsLimits& lim,
                            const std::string& where_) {
  const std::uint64_t n = detail::read_le64(first8);
  if (n > lim.max_header_bytes)
    detail::io_fail(where_, "the header claims " + std::to_string(n) + " bytes, over the limit of " +
                                std::to_string(lim.max_header_bytes));
  if (n > size - 8)
    detail::io_fail(where_, "the header claims " + std::to_string(n) + " bytes but the file has " + std::to_string(size - 8) +
                                " after the length");
  return n;
}
}  // namespace

SafetensorsReader SafetensorsReader::open(const std::string& path, SafetensorsLimits lim) {
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (impl->fd < 0) detail::io_fail(path, std::string("cannot open: ") + std::strerror(errno));
  struct stat st {};
  if (::fstat(impl->fd, &st) != 0) detail::io_fail(path, std::string("cannot stat: ") + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) detail::io_fail(path, "not a regular file");
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (size < 8) detail::io_fail(path, "the file has " + std::to_string(size) + " bytes, fewer than the 8 of the header length");
  unsigned char len[8];
  detail::pread_all(impl->fd, len, 8, 0, path);
  const std::uint64_t n = header_length(len, size, lim, path);
  std::string json(static_cast<std::size_t>(n), '\0');
  detail::pread_all(impl->fd, json.data(), n, 8, path);
  impl->data_start = 8 + n;
  impl->parsed = detail::parse_header(json, size - 8 - n, path);
  return SafetensorsReader(std::move(impl));
}

void SafetensorsReader::validate(const void* bytes, std::size_t size, SafetensorsLimits lim) {
  const std::string where_ = "<memory>";
  if (size < 8) detail::io_fail(where_, "the file has " + std::to_string(size) + " bytes, fewer than the 8 of the header length");
  const auto* p = static_cast<const unsigned char*>(bytes);
  const std::uint64_t n = header_length(p, size, lim, where_);
  (void)detail::parse_header(std::string_view(reinterpret_cast<const char*>(p + 8), static_cast<std::size_t>(n)), size - 8 - n, where_);
}

const std::vector<SafetensorsTensor>& SafetensorsReader::tensors() const noexcept { return impl_->parsed.tensors; }
const std::map<std::string, std::string>& SafetensorsReader::metadata() const noexcept { return impl_->parsed.metadata; }
const std::string& SafetensorsReader::path() const noexcept { return impl_->path; }
const SafetensorsTensor* SafetensorsReader::find(std::string_view name) const noexcept {
  for (const auto& t : impl_->parsed.tensors)
    if (t.name == name) return &t;
  return nullptr;
}

void SafetensorsReader::read(Context& c, std::string_view name, const TensorView& dst) const {
  using namespace detail;
  const char* fn = "paraminit::SafetensorsReader::read";
  auto& ctx = detail::impl(c);
  const SafetensorsTensor* t = find(name);
  if (t == nullptr) fail(Status::invalid_argument, where(fn) + "no tensor \"" + std::string(name) + "\" in " + impl_->path);
  if (!t->readable)
    fail(Status::unsupported, where(fn) + "tensor \"" + t->name + "\" has dtype " + t->dtype_name + ", which paraminit does not load");
  const Geometry geo = check_view(ctx, dst, fn);
  std::int64_t shape[kMaxRank];
  global_shape(dst, shape);
  bool same = static_cast<std::size_t>(dst.rank) == t->shape.size();
  for (int d = 0; same && d < dst.rank; ++d) same = shape[d] == t->shape[static_cast<std::size_t>(d)];
  if (!same) {
    std::string s = "(";
    for (std::size_t d = 0; d < t->shape.size(); ++d) s += (d ? ", " : "") + std::to_string(t->shape[d]);
    fail(Status::invalid_argument, where(fn) + "tensor \"" + t->name + "\" has shape " + s + ") in the file; the view's (global) shape differs");
  }
  if (geo.numel == 0) return;
  const std::uint64_t fes = dtype_size(t->dtype), des = dtype_size(dst.dtype);
  const std::uint64_t base = impl_->data_start + t->begin;
  constexpr std::uint64_t kChunkElems = (std::uint64_t{64} << 20) / 8;  // 64 MiB of the widest dtype
  std::vector<unsigned char> tmp;
  // Local elements [l, l + n) of the view, all in one run: global elements g...
  auto produce = [&](void* out, std::uint64_t local0, std::uint64_t n) {
    std::uint64_t done = 0;
    while (done < n) {
      const std::uint64_t l = local0 + done, run = l / geo.run_len, off = l % geo.run_len;
      const std::uint64_t k = std::min(n - done, geo.run_len - off);
      const std::uint64_t g = geo.global_base + run * geo.global_stride + off;
      unsigned char* o = static_cast<unsigned char*>(out) + done * des;
      if (t->dtype == dst.dtype) {
        pread_all(impl_->fd, o, k * fes, base + g * fes, impl_->path);
      } else {
        tmp.resize(static_cast<std::size_t>(k * fes));
        pread_all(impl_->fd, tmp.data(), k * fes, base + g * fes, impl_->path);
        convert(tmp.data(), t->dtype, o, dst.dtype, k);
      }
      done += k;
    }
  };
#if defined(PARAMINIT_WITH_CUDA)
  if (ctx.cuda) {
    cuda_stream_to_device(ctx, dst.data, geo.numel * des,
                          [&](void* staging, std::uint64_t byte_off, std::uint64_t bytes) { produce(staging, byte_off / des, bytes / des); },
                          fn);
    return;
  }
#endif
  for (std::uint64_t l = 0; l < geo.numel; l += kChunkElems)
    produce(static_cast<unsigned char*>(dst.data) + l * des, l, std::min(kChunkElems, geo.numel - l));
}

// ---- writer ------------------------------------------------------------------------------------------

namespace {
std::string shape_string(const std::vector<std::int64_t>& shape) {
  std::string s = "[";
  for (std::size_t d = 0; d < shape.size(); ++d) s += (d ? ", " : "") + std::to_string(shape[d]);
  return s + "]";
}

// The data section's disk blocks, allocated before anything is written into them. map() hands out
// stores into a MAP_SHARED mapping, and a store into a page that has no block behind it on a full
// file system (or a user over its disk quota) raises SIGBUS and kills the process: a sparse
// ftruncate() succeeds and the failure comes later, at the first store. Allocated up front, the
// failure is ENOSPC / EFBIG here, a Status::io before the file is used (the destructor then removes
// it), and every later store lands in a block the file already owns. We keep the mapping rather than
// write through pwrite(): map() lets a caller fill a tensor of many GB in place, with no second
// buffer of its size and no copy. Where the file system cannot preallocate (EOPNOTSUPP, or EINVAL
// from some) we write zeros instead, which allocates the same blocks at the cost of one pass over
// the data. (A copy-on-write file system such as ZFS may accept fallocate without reserving blocks;
// nothing short of writing through pwrite() helps there.)
void allocate(int fd, std::uint64_t begin, std::uint64_t bytes, const std::string& where_) {
  if (bytes == 0) return;
  int err;
  do err = ::posix_fallocate(fd, static_cast<off_t>(begin), static_cast<off_t>(bytes));
  while (err == EINTR);
  if (err == 0) return;
  if (err != EOPNOTSUPP && err != EINVAL)
    detail::io_fail(where_, "posix_fallocate of " + std::to_string(bytes) + " bytes: " + std::strerror(err));
  const std::vector<unsigned char> zeros(std::size_t{1} << 20, 0);
  for (std::uint64_t done = 0; done < bytes;) {
    const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(bytes - done, zeros.size()));
    const ssize_t put = ::pwrite(fd, zeros.data(), want, static_cast<off_t>(begin + done));
    if (put < 0 && errno == EINTR) continue;
    if (put <= 0)
      detail::io_fail(where_, "pwrite of zeros (posix_fallocate: " + std::string(std::strerror(err)) + ") at byte " +
                                  std::to_string(begin + done) + ": " + std::strerror(put < 0 ? errno : ENOSPC));
    done += static_cast<std::uint64_t>(put);
  }
}
}  // namespace

struct SafetensorsWriter::Impl {
  std::string path, tmp;
  int fd = -1;
  bool closed = false;
  std::uint64_t data_start = 0;
  struct Slot {
    std::uint64_t begin, bytes;
    bool written = false;
    std::uint64_t parts_done = 0;  // write_part: bytes written so far, in order
  };
  std::map<std::string, Slot, std::less<>> slots;
  void* mapping = nullptr;
  std::uint64_t file_bytes = 0;
  // write_part: the file's bytes [wb_begin, wb_end) were written since write-back was last started.
  std::uint64_t wb_begin = 0, wb_end = 0;
  // all: up to wb_end; else up to the last page boundary, so the next part does not dirty a page
  // under write-back again (which waits for its I/O where the device needs stable pages).
  void start_write_back(bool all) {
    const std::uint64_t end = all ? wb_end : std::max(wb_begin, wb_end & ~std::uint64_t{4095});
#if defined(__linux__)
    // Hands the pages to the disk now, while the caller fills the next parts, so close()'s fsync
    // waits for the last few only (a 500 MB file: fsync 0.003-0.04 s after the parts against
    // 0.15-0.17 s for all of it; bench/RESULTS.md). Only a hint: a failure here is not an error,
    // and close()'s fsync reports any write error.
    if (end > wb_begin)
      (void)::sync_file_range(fd, static_cast<off_t>(wb_begin), static_cast<off_t>(end - wb_begin), SYNC_FILE_RANGE_WRITE);
#endif
    wb_begin = end;
  }
  void unmap() {
    if (mapping != nullptr) ::munmap(mapping, static_cast<std::size_t>(file_bytes));
    mapping = nullptr;
  }
  ~Impl() {
    unmap();
    if (fd >= 0) ::close(fd);
    if (!closed && !tmp.empty()) ::unlink(tmp.c_str());  // never closed: no output
  }
};

SafetensorsWriter::SafetensorsWriter(const std::string& path, const std::vector<Decl>& tensors,
                                     const std::map<std::string, std::string>& metadata)
    : impl_(std::make_unique<Impl>()) {
  using namespace detail;
#if !defined(PARAMINIT_WITH_JSON)
  (void)tensors, (void)metadata, (void)path;
  fail(Status::unsupported, "paraminit::SafetensorsWriter: this build has no JSON writer (install nlohmann-json3-dev and rebuild)");
#else
  nlohmann::ordered_json h = nlohmann::ordered_json::object();
  if (!metadata.empty()) {
    nlohmann::ordered_json m = nlohmann::ordered_json::object();
    for (const auto& [k, v] : metadata) m[k] = v;
    h["__metadata__"] = m;
  }
  // Data laid out by element size, largest first (then in declared order), as the reference
  // implementation does: every tensor then starts aligned to its element size.
  std::vector<const Decl*> order;
  for (const Decl& d : tensors) order.push_back(&d);
  std::stable_sort(order.begin(), order.end(), [](const Decl* a, const Decl* b) { return dtype_size(a->dtype) > dtype_size(b->dtype); });
  std::uint64_t at = 0;
  for (const Decl* dp : order) {
    const Decl& d = *dp;
    if (d.name.empty() || d.name == "__metadata__")
      fail(Status::invalid_argument, "paraminit::SafetensorsWriter: invalid tensor name \"" + d.name + "\"");
    if (impl_->slots.count(d.name) != 0)
      fail(Status::invalid_argument, "paraminit::SafetensorsWriter: the tensor name \"" + d.name + "\" is declared twice");
    // Counts are checked before anything is written: wrapped, {2^62, 8} would be 0 elements and a
    // file the reader rejects. Offsets, off_t and numel() are signed 64-bit, hence the INT64_MAX
    // limits. A zero extent makes the tensor empty whatever the others are (as the reader counts).
    const bool empty = std::find(d.shape.begin(), d.shape.end(), 0) != d.shape.end();
    std::uint64_t n = 1;
    for (auto e : d.shape) {
      if (e < 0) fail(Status::invalid_argument, "paraminit::SafetensorsWriter: tensor \"" + d.name + "\" has a negative extent");
      const auto x = static_cast<std::uint64_t>(e);
      if (!empty && n > static_cast<std::uint64_t>(INT64_MAX) / x)
        fail(Status::invalid_argument, "paraminit::SafetensorsWriter: tensor \"" + d.name + "\" has a shape " + shape_string(d.shape) +
                                           " of more than 2^63 - 1 elements");
      n = empty ? 0 : n * x;
    }
    const std::uint64_t size = dtype_size(d.dtype), room = static_cast<std::uint64_t>(INT64_MAX) - at;
    if (n > room / size)
      fail(Status::invalid_argument, "paraminit::SafetensorsWriter: tensor \"" + d.name + "\" of shape " + shape_string(d.shape) + " needs " +
                                         std::to_string(n) + " x " + std::to_string(size) + " bytes, past 2^63 - 1 bytes of data" +
                                         (at > 0 ? " after the " + std::to_string(at) + " bytes before it" : std::string()));
    const std::uint64_t bytes = n * size;
    h[d.name] = {{"dtype", file_dtype(d.dtype)}, {"shape", d.shape}, {"data_offsets", {at, at + bytes}}};
    impl_->slots[d.name] = Impl::Slot{at, bytes};
    at += bytes;
  }
  std::string json = h.dump();
  json.append((8 - json.size() % 8) % 8, ' ');  // pad: the data section starts 8-byte aligned
  if (at > static_cast<std::uint64_t>(INT64_MAX) - 8 - json.size())
    fail(Status::invalid_argument, "paraminit::SafetensorsWriter: the file would have " + std::to_string(at) + " bytes of data and " +
                                       std::to_string(8 + json.size()) + " of header, past 2^63 - 1 bytes");
  // Written to a temporary name and renamed over `path` by close(): readers never see a half-written
  // file, and a failed initialization leaves the previous file in place.
  impl_->path = path;
  impl_->tmp = path + ".tmp." + std::to_string(::getpid());
  impl_->fd = ::open(impl_->tmp.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (impl_->fd < 0) io_fail(impl_->tmp, std::string("cannot create: ") + std::strerror(errno));
  unsigned char len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(static_cast<std::uint64_t>(json.size()) >> (8 * i));
  pwrite_all(impl_->fd, len, 8, 0, impl_->tmp);
  pwrite_all(impl_->fd, json.data(), json.size(), 8, impl_->tmp);
  impl_->data_start = 8 + json.size();
  impl_->file_bytes = impl_->data_start + at;
  allocate(impl_->fd, impl_->data_start, at, impl_->tmp);
#endif
}

SafetensorsWriter::SafetensorsWriter(SafetensorsWriter&&) noexcept = default;
SafetensorsWriter::~SafetensorsWriter() = default;

void SafetensorsWriter::write(std::string_view name, const void* data) {
  auto it = impl_->slots.find(name);
  if (it == impl_->slots.end())
    detail::fail(Status::invalid_argument, "paraminit::SafetensorsWriter::write: \"" + std::string(name) + "\" was not declared");
  if (impl_->fd < 0) detail::fail(Status::invalid_argument, "paraminit::SafetensorsWriter::write: the file is closed");
  if (it->second.bytes > 0 && data == nullptr)
    detail::fail(Status::invalid_argument, "paraminit::SafetensorsWriter::write: data is null");
  detail::pwrite_all(impl_->fd, data, it->second.bytes, impl_->data_start + it->second.begin, impl_->tmp);
  it->second.written = true;
}

void SafetensorsWriter::write_part(std::string_view name, std::uint64_t offset, const void* data, std::uint64_t bytes) {
  auto refuse = [&](const std::string& why) {
    detail::fail(Status::invalid_argument, "paraminit::SafetensorsWriter::write_part: \"" + std::string(name) + "\"" + why);
  };
  auto it = impl_->slots.find(name);
  if (it == impl_->slots.end()) refuse(" was not declared");
  if (impl_->fd < 0) refuse(": the file is closed");
  if (bytes > 0 && data == nullptr) refuse(": data is null");
  Impl::Slot& slot = it->second;
  if (offset != slot.parts_done)
    refuse(": a part at byte " + std::to_string(offset) + " is out of order (parts are written in order: " +
           (slot.parts_done == slot.bytes ? "all " + std::to_string(slot.bytes) + " bytes are written)"
                                          : "the next one starts at byte " + std::to_string(slot.parts_done) + ")"));
  if (bytes > slot.bytes - offset)
    refuse(": a part of " + std::to_string(bytes) + " bytes at byte " + std::to_string(offset) + " runs past the tensor's " +
           std::to_string(slot.bytes) + " bytes");
  const std::uint64_t at = impl_->data_start + slot.begin + offset;
  detail::pwrite_all(impl_->fd, data, bytes, at, impl_->tmp);
  slot.parts_done += bytes;
  if (slot.parts_done == slot.bytes) slot.written = true;
  if (bytes == 0) return;
  if (at != impl_->wb_end) impl_->start_write_back(true), impl_->wb_begin = at;
  impl_->wb_end = at + bytes;
  constexpr std::uint64_t kWriteBackBytes = std::uint64_t{32} << 20;
  if (impl_->wb_end - impl_->wb_begin >= kWriteBackBytes) impl_->start_write_back(false);
}

void* SafetensorsWriter::map(std::string_view name) {
  auto it = impl_->slots.find(name);
  if (it == impl_->slots.end())
    detail::fail(Status::invalid_argument, "paraminit::SafetensorsWriter::map: \"" + std::string(name) + "\" was not declared");
  if (impl_->fd < 0) detail::fail(Status::invalid_argument, "paraminit::SafetensorsWriter::map: the file is closed");
  it->second.written = true;
  if (it->second.bytes == 0) return nullptr;
  if (impl_->mapping == nullptr) {
    void* m = ::mmap(nullptr, static_cast<std::size_t>(impl_->file_bytes), PROT_READ | PROT_WRITE, MAP_SHARED, impl_->fd, 0);
    if (m == MAP_FAILED) detail::io_fail(impl_->tmp, std::string("mmap failed: ") + std::strerror(errno));
    impl_->mapping = m;
  }
  return static_cast<unsigned char*>(impl_->mapping) + impl_->data_start + it->second.begin;
}

void SafetensorsWriter::close() {
  for (const auto& [name, slot] : impl_->slots)
    if (!slot.written)
      detail::fail(Status::invalid_argument, "paraminit::SafetensorsWriter::close: tensor \"" + name + "\" was " +
                                                 (slot.parts_done > 0 ? "written only to byte " + std::to_string(slot.parts_done) + " of " +
                                                                            std::to_string(slot.bytes) + " (write_part)"
                                                                      : std::string("never written")));
  // Durable before it is visible: without fsync a crash (of the machine, not of us) after the
  // rename can leave `path` naming an empty or partly written file, and the previous model gone.
  // fsync writes back the pages dirtied through the mapping too (munmap keeps them dirty in the page
  // cache), and reports a write-back error (EIO, ENOSPC) that no store could.
  impl_->unmap();
  if (impl_->fd >= 0) {
    const int fd = impl_->fd;
    impl_->fd = -1;
    int rc;
    do rc = ::fsync(fd);
    while (rc != 0 && errno == EINTR);
    if (rc != 0) {
      const int err = errno;
      ::close(fd);
      detail::io_fail(impl_->tmp, std::string("fsync: ") + std::strerror(err));
    }
    if (::close(fd) != 0) detail::io_fail(impl_->tmp, std::string("close: ") + std::strerror(errno));
  }
  if (::rename(impl_->tmp.c_str(), impl_->path.c_str()) != 0)
    detail::io_fail(impl_->path, std::string("rename from ") + impl_->tmp + ": " + std::strerror(errno));
  impl_->closed = true;
  // The rename itself is durable once the directory is: fsync it too. The file is in place either
  // way, so an error here says the new name may not survive a crash. EINVAL: a file system that
  // cannot sync a directory (POSIX allows it), where there is nothing more to do.
  const std::size_t slash = impl_->path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : impl_->path.substr(0, slash);
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) detail::io_fail(impl_->path, "open of its directory " + dir + " to fsync the rename: " + std::strerror(errno));
  int rc;
  do rc = ::fsync(dfd);
  while (rc != 0 && errno == EINTR);
  const int err = errno;
  ::close(dfd);
  if (rc != 0 && err != EINVAL)
    detail::io_fail(impl_->path, "fsync of its directory " + dir + " after the rename: " + std::strerror(err));
}

}  // namespace paraminit
