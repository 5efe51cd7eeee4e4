// What the program's commands share: their entry points and usage texts (main.cpp dispatches),
// option parsing, the clock, and device memory for the CUDA paths of init and load.
#pragma once

#include <chrono>
#include <cstddef>
#include <stdexcept>
#include <string>

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

// The value after option argv[i] (i advances past it); an option without one is an error naming it.
inline std::string option_value(int argc, char** argv, int& i) {
  if (i + 1 >= argc) throw std::invalid_argument(std::string(argv[i]) + " needs a value");
  return argv[++i];
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
