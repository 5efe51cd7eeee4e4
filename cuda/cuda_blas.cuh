// cuBLAS for the kernels' translation units: the status check and the context's handle (kept in
// the context's linear-algebra state, cuda/orthogonal.cu, bound to the context's stream).
#pragma once

#include <cublas_v2.h>

#include <cstddef>
#include <string>

#include "../host/internal.hpp"

namespace paraminit {
namespace detail {

inline void check_cublas(cublasStatus_t s, const char* call) {
  if (s != CUBLAS_STATUS_SUCCESS)
    fail(s == CUBLAS_STATUS_ALLOC_FAILED ? Status::out_of_memory : Status::device,
         std::string("paraminit: ") + call + ": cuBLAS status " + std::to_string(static_cast<int>(s)) + " (" +
             cublasGetStatusString(s) + ")");
}

// The context's cuBLAS handle, created on first use, on the context's stream.
cublasHandle_t context_blas(ContextImpl& ctx);

// The context's grow-only device workspace for the calibration functions (shared/DESIGN.md
// section 6): at least `bytes`, stream-ordered; valid until the next call that grows it.
void* context_calibration_workspace(ContextImpl& ctx, std::size_t bytes, const char* what);

}  // namespace detail
}  // namespace paraminit
