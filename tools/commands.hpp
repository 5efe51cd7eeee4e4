// What the program's commands share: their entry points and usage texts (main.cpp dispatches),
// option parsing, the clock, and device memory for the CUDA paths of init and load.
#pragma once

#include <charconv>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <system_error>

#if defined(PARAMINIT_WITH_CUDA)
#include <cuda_runtime.h>
#endif

namespace paraminit_program {

// Each command takes argv from its own name on (argv[0] == "init", ...) and returns the exit
// status. A std::invalid_argument out of one is a usage error: main prints it with that command's
// usage text and exits 2; any other exception is printed alone and exits 1.
int cmd_init(int argc, char** argv);
int cmd_load(int argc, char** argv);
int cmd_depth(int argc, char** argv);
int cmd_bench(int argc, char** argv);
extern const char* const kInitUsage;
extern const char* const kLoadUsage;
extern const char* const kDepthUsage;
extern const char* const kBenchUsage;

// The value after option argv[i] (i advances past it). Missing is an error naming the option: at
// the end, empty (no option takes ""), or another option ("--out --quiet" would write a file named
// --quiet). Negative numbers ("-1") are values, for the range checks below to reject by name.
inline std::string option_value(int argc, char** argv, int& i) {
  const std::string option = argv[i];
  if (i + 1 >= argc || argv[i + 1][0] == '\0' || std::strncmp(argv[i + 1], "--", 2) == 0)
    throw std::invalid_argument(option + " needs a value");
  return argv[++i];
}

// An integer option's value: all of the text, a decimal integer in [lo, hi]. std::stoi would take
// "12abc" as 12, stoull "-1" as 2^64 - 1, and name neither the option nor the value when it fails.
inline std::int64_t int_value(const std::string& option, const std::string& text, std::int64_t lo, std::int64_t hi) {
  std::int64_t v = 0;
  const char* end = text.data() + text.size();
  const auto [at, ec] = std::from_chars(text.data(), end, v);
  if (ec != std::errc() || at != end || v < lo || v > hi)
    throw std::invalid_argument(option + ": expected an integer from " + std::to_string(lo) + " to " + std::to_string(hi) + ", got \"" +
                                text + "\"");
  return v;
}

// A seed: all of the text, a decimal integer in [0, 2^64).
inline std::uint64_t seed_value(const std::string& option, const std::string& text) {
  std::uint64_t v = 0;
  const char* end = text.data() + text.size();
  const auto [at, ec] = std::from_chars(text.data(), end, v);
  if (ec != std::errc() || at != end) throw std::invalid_argument(option + ": expected an integer from 0 to 2^64 - 1, got \"" + text + "\"");
  return v;
}

// --device's value, checked.
inline std::string device_value(const std::string& text) {
  if (text != "auto" && text != "cpu" && text != "cuda") throw std::invalid_argument("--device must be auto, cpu or cuda, not \"" + text + "\"");
  return text;
}

inline double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// Device memory for one parameter (CUDA contexts), freed at scope exit.
struct DeviceMem {
  void* p = nullptr;
  explicit DeviceMem(std::size_t bytes) {
#if defined(PARAMINIT_WITH_CUDA)
    if (bytes > 0 && cudaMalloc(&p, bytes) != cudaSuccess) throw std::runtime_error("cudaMalloc of " + std::to_string(bytes) + " bytes failed");
#else
    (void)bytes;
#endif
  }
  ~DeviceMem() {
#if defined(PARAMINIT_WITH_CUDA)
    if (p != nullptr) cudaFree(p);
#endif
  }
  DeviceMem(const DeviceMem&) = delete;
  DeviceMem& operator=(const DeviceMem&) = delete;
};

inline void to_host(void* dst, const void* src, std::size_t bytes) {
#if defined(PARAMINIT_WITH_CUDA)
  if (bytes > 0 && cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost) != cudaSuccess) throw std::runtime_error("cudaMemcpy failed");
#else
  (void)dst, (void)src, (void)bytes;
#endif
}

}  // namespace paraminit_program
