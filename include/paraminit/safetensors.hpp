/// @file safetensors.hpp
/// @brief safetensors files, read and written by paraminit itself: the format is an 8-byte
/// little-endian header length N, N bytes of JSON ({"name": {"dtype": "F32", "shape": [...],
/// "data_offsets": [begin, end]}, ..., "__metadata__": {"key": "value"}}), then the raw tensor data,
/// little-endian, row-major, with offsets relative to the end of the header.
///
/// The reader treats every file as untrusted: the header length is bounded (by the file and by a
/// limit), the JSON must be valid UTF-8, names unique, dtypes known, shapes non-negative, byte
/// lengths equal dtype size x element count (without overflow), and the tensors must tile the data
/// section exactly (no gap, no overlap, nothing past the end), as the reference implementation
/// requires. A bad file gets Status::io with a message naming the problem; nothing reads outside it.
///
/// Compiles as C++17 without CUDA headers.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "paraminit/paraminit.hpp"

namespace paraminit {

/// One tensor of a safetensors file.
struct SafetensorsTensor {
  std::string name;
  std::string dtype_name;  ///< as in the file: "F32", "BF16", "I64", ...
  bool readable = false;   ///< a paraminit dtype (F32, F64, F16, BF16): read() can load it
  DType dtype = DType::f32;
  std::vector<std::int64_t> shape;
  std::uint64_t begin = 0, end = 0;  ///< byte range relative to the data section
  std::int64_t numel() const noexcept;
};

struct SafetensorsLimits {
  std::uint64_t max_header_bytes = 100'000'000;  ///< the reference implementation's limit
};

/// A parsed safetensors file (the header in memory; data read on demand with pread).
class SafetensorsReader {
 public:
  /// Opens and validates `path`. Errors: Status::io naming the file and the problem.
  static SafetensorsReader open(const std::string& path, SafetensorsLimits limits = {});
  /// Validates a whole file held in memory (what open() checks; used by the fuzzer and tests).
  static void validate(const void* bytes, std::size_t size, SafetensorsLimits limits = {});

  SafetensorsReader(SafetensorsReader&&) noexcept;
  SafetensorsReader& operator=(SafetensorsReader&&) noexcept;
  ~SafetensorsReader();

  const std::vector<SafetensorsTensor>& tensors() const noexcept;  ///< in data order
  const SafetensorsTensor* find(std::string_view name) const noexcept;
  const std::map<std::string, std::string>& metadata() const noexcept;
  const std::string& path() const noexcept;

  /// Reads tensor `name` into `dst` (host memory for a CPU context, device memory for a CUDA one),
  /// converting the dtype when it differs (f16/bf16 through fp32, rounded to nearest even). `dst`
  /// must have the tensor's shape, or be a window of it (then only the window's bytes are read).
  /// On CUDA the data goes through a pinned staging buffer in chunks of 64 MiB, so a tensor of tens
  /// of GB needs no more host memory than that; the call synchronizes the context's stream.
  /// The file is read with pread, never through a mapping: a file truncated or rewritten by another
  /// process after open() gives Status::io naming the file for each tensor past its new end (a
  /// tensor still wholly inside it reads as usual), never SIGBUS.
  /// Errors: no such tensor, a shape mismatch, an unreadable dtype, a short read (Status::io).
  void read(Context& ctx, std::string_view name, const TensorView& dst) const;

 private:
  struct Impl;
  explicit SafetensorsReader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// Writes a safetensors file: the tensors are declared up front (the header is written at once,
/// padded with spaces to a multiple of 8 bytes), then each tensor's data is written, in any order,
/// from host memory. Readable by Python's safetensors.
class SafetensorsWriter {
 public:
  struct Decl {
    std::string name;
    DType dtype;
    std::vector<std::int64_t> shape;
  };
  /// Writes to `path`.tmp.<pid>, renamed to `path` by close() (a writer destroyed before close()
  /// removes it, leaving any previous `path` untouched). Errors: duplicate or empty names, negative
  /// extents, an element count, byte size or total data size past 2^63 - 1 (Status::invalid_argument,
  /// naming the tensor, before the file is created; a zero extent makes any shape empty),
  /// Status::io when the file cannot be written. The data section's disk blocks are allocated here
  /// (posix_fallocate, or zeros written where the file system cannot), so a full disk, a quota or
  /// RLIMIT_FSIZE is a Status::io from the constructor (ENOSPC, EFBIG; no file left behind), not a
  /// SIGBUS at the first store through map().
  SafetensorsWriter(const std::string& path, const std::vector<Decl>& tensors,
                    const std::map<std::string, std::string>& metadata = {});
  SafetensorsWriter(SafetensorsWriter&&) noexcept;
  ~SafetensorsWriter();
  /// Writes tensor `name`'s bytes (its dtype size x element count) from host memory.
  void write(std::string_view name, const void* data);
  /// Writes `bytes` bytes of tensor `name` from host memory at `offset` bytes into the tensor: a
  /// tensor written part by part, in order (each part starts where the previous one ended), counts
  /// as written once its last byte is. Lets a caller fill a large tensor slab by slab in a small
  /// buffer that stays in cache. Write-back of the parts is started every 32 MiB (Linux:
  /// sync_file_range), so close()'s fsync has only the last ones left. Errors
  /// (Status::invalid_argument, nothing written): an undeclared name, a closed file, null data with
  /// bytes > 0, a part that does not start where the previous one ended or runs past the tensor's
  /// end; Status::io when the write fails (the part may be partly written; the same part may be
  /// written again). write() and map() do not count as parts: mix them with write_part on one
  /// tensor and the parts still start at byte 0.
  void write_part(std::string_view name, std::uint64_t offset, const void* data, std::uint64_t bytes);
  /// Tensor `name`'s bytes inside the file, mapped into memory (MAP_SHARED; the whole file is mapped
  /// on the first call): fill them in place and the file gets them without a copy. Marks the tensor
  /// written. Valid until close(). nullptr for an empty tensor.
  void* map(std::string_view name);
  /// Checks that every tensor was written, flushes the file to disk (fsync), closes it, renames it
  /// to its path and fsyncs the directory: once close() returns, a crash cannot leave `path` empty
  /// or half written. Errors: a tensor not written; Status::io naming the file and the failed call
  /// (fsync, close, rename: the temporary file is removed and any previous `path` kept; the
  /// directory's fsync: the file is in place but its new name may not survive a crash).
  void close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace paraminit
