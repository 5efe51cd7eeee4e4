// The activations of the dense-layer stack (DenseLayer::activation, include/paraminit/calibrate.hpp) and their derivatives,
// shared by the CPU statistics (host/calibrate.cpp) and the CUDA kernels (cuda/calibrate.cu).
// f32 throughout; tanhf / expf / erfcf are the host's libm on the CPU and CUDA's math library on
// the device, which may differ in the last bit: CPU and GPU statistics agree to a tolerance, not
// bitwise (the GEMMs differ anyway).
#pragma once

#include <math.h>

#include "hd.hpp"

namespace paraminit {
namespace kernels {

// Activation codes: the values of the paraminit::Nonlinearity enumerators of the same name (host/
// calibrate.cpp asserts it); the calibration implements only these. Any other code is the identity.
enum ActivationCode : int { kLinear = 0, kSigmoid = 7, kTanh = 8, kRelu = 9, kLeakyRelu = 10, kGelu = 14, kSilu = 16 };

PI_HD float activation(int a, float x, float slope) {
  switch (a) {
    case kLinear: return x;
    case kRelu: return x > 0 ? x : 0.0f;
    case kLeakyRelu: return x > 0 ? x : slope * x;
    case kTanh: return tanhf(x);
    case kSigmoid: return 1.0f / (1.0f + expf(-x));
    case kGelu: return 0.5f * x * erfcf(-x / sqrtf(2.0f));
    case kSilu: return x / (1.0f + expf(-x));
    default: return x;
  }
}

PI_HD float activation_grad(int a, float x, float slope) {
  switch (a) {
    case kLinear: return 1.0f;
    case kRelu: return x > 0 ? 1.0f : 0.0f;
    case kLeakyRelu: return x > 0 ? 1.0f : slope;
    case kTanh: {
      const float t = tanhf(x);
      return 1.0f - t * t;
    }
    case kSigmoid: {
      const float s = 1.0f / (1.0f + expf(-x));
      return s * (1.0f - s);
    }
    case kGelu: return 0.5f * erfcf(-x / sqrtf(2.0f)) + x * expf(-0.5f * x * x) / sqrtf(2.0f * 3.14159265f);
    case kSilu: {
      const float s = 1.0f / (1.0f + expf(-x));
      return s * (1.0f + x * (1.0f - s));
    }
    default: return 1.0f;
  }
}

}  // namespace kernels
}  // namespace paraminit
