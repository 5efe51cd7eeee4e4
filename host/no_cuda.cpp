// The stand-in for cuda/context.cpp in builds without CUDA: no devices, CUDA contexts refused, every
// pointer taken to be host memory.
#include <string>

#include "internal.hpp"

namespace paraminit {

bool cuda_built() noexcept { return false; }

namespace detail {

int cuda_devices() noexcept { return 0; }

void cuda_init_context(ContextImpl&, int, void*) {
  fail(Status::unsupported,
       "paraminit::Context::cuda: this build of paraminit has no CUDA backend (configure with "
       "PARAMINIT_CUDA=ON on a machine with the CUDA toolkit)");
}

void check_pointer_location(const ContextImpl&, const void*, const char*) {}

}  // namespace detail
}  // namespace paraminit
