// libFuzzer target for the safetensors reader: any bytes are a "file"; validate() must either accept
// them or throw paraminit::Error (Status::io), never crash, hang or read out of bounds (built with
// AddressSanitizer). Run by CTest for a bounded time (tests/CMakeLists.txt) when clang is installed.
#include <cstddef>
#include <cstdint>

#include "paraminit/paraminit.hpp"
#include "paraminit/safetensors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    paraminit::SafetensorsReader::validate(data, size);
  } catch (const paraminit::Error& e) {
    if (e.code() != paraminit::Status::io) __builtin_trap();  // bad input must be reported as an I/O error
  }
  return 0;
}
