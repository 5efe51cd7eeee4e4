/// @file calibrate.hpp
/// @brief Choosing the scale from data (Goodfellow et al. 8.4): the statistics of activations and
/// back-propagated gradients of a stack of dense layers on one minibatch, LSUV (Mishkin & Matas
/// 2015), and the random-walk gain (Sussillo & Abbott 2014).
///
/// Layers are PyTorch Linear layers: weight (out, in), optional bias (out,), then an activation;
/// the minibatch is (batch, in). Storage may be any dtype; the math is f32 (BLAS sgemm on the CPU,
/// cuBLAS sgemm on CUDA in its default math mode, no TF32).
/// Compiles as C++17 without CUDA headers.
#pragma once

#include <cstdint>
#include <vector>

#include "paraminit/paraminit.hpp"

namespace paraminit {

/// The activations the dense-layer stack implements (a subset of Nonlinearity): linear (identity),
/// relu, leaky_relu, tanh, sigmoid, gelu (the erf form), silu. Any other Nonlinearity given to
/// layer_statistics, calibrate_lsuv or random_walk_gain is a Status::unsupported error that names it
/// (and the layer).
bool calibration_supports(Nonlinearity nl) noexcept;

struct DenseLayer {
  TensorView weight;                     ///< (out, in)
  TensorView bias;                       ///< (out,), or data == nullptr for none
  Nonlinearity activation = Nonlinearity::linear;
  double negative_slope = 0.01;          ///< leaky_relu's slope (ignored by the other activations)
};

/// Statistics of a (batch, width) array: over all its elements, and `log_rms`, the mean over the
/// batch's rows of ln(sqrt(mean of the row's squares)) -- the quantity whose drift over depth the
/// random-walk theory predicts (-inf when a row is all zeros).
struct Summary {
  double mean = 0, std = 0, min = 0, max = 0, log_rms = 0;
};

/// Per layer l: its pre-activation z = h W^T + b, its output h = f(z), and the gradient of the loss
/// with respect to its input (the back-propagated vector arriving below it), for a random N(0, 1)
/// gradient at the output of the last layer (drawn with gradient_key).
struct LayerStatistics {
  Summary pre_activation, activation, gradient;
};

struct StatisticsOptions {
  Key gradient_key = {};
  bool check_finite = true;  ///< false: report inf/nan statistics instead of failing (the depth experiment)
};

/// Forward the minibatch through the layers and back-propagate a random output gradient: OpenBLAS
/// sgemm on a CPU context; on a CUDA context (every view in device memory) cuBLAS sgemm and row
/// kernels on the context's stream, with the call synchronizing the stream (the statistics come back
/// to the host; refused while the stream is being captured into a graph). Its device memory (f32
/// copies of non-f32 views, every layer's pre-activations, two activation buffers) is a grow-only
/// workspace the context keeps until it is destroyed. The gradient is the
/// library's own normal draw, the same bits on both; the GEMMs and the device's tanhf/expf/erfcf sum
/// and round differently, so CPU and GPU statistics agree to about 1e-5 relative (the test asserts
/// 1e-4), not bitwise.
/// Errors: no layers, an empty minibatch, a weight that is not 2-D, a layer whose in does not match
/// the previous out (named by index), a bias not (out,), non-finite statistics (with check_finite),
/// a build without BLAS.
std::vector<LayerStatistics> layer_statistics(Context& ctx, const std::vector<DenseLayer>& layers, const TensorView& minibatch,
                                              const StatisticsOptions& opt = {});

struct LsuvOptions {
  double target_std = 1.0;
  double tolerance = 0.05;     ///< stop when |std(z) - target| < tolerance
  int max_iterations = 10;
  bool orthogonalize_first = false;  ///< LSUV's pre-initialization: orthogonal(weight, key of layer l)
  Key key = {};                      ///< layer l's orthogonal draw uses Key{key.seed, batch_stream(key.stream, l)}
};

struct LsuvLayerReport {
  double std_before = 0, std_after = 0;  ///< of the layer's pre-activation on the minibatch
  int iterations = 0;
  bool converged = false;
};

/// Layer-sequential unit-variance calibration (Mishkin & Matas 2015): layer by layer (earlier layers
/// already calibrated), W := W * target / std(z) until |std(z) - target| < tolerance, where z is the
/// layer's pre-activation on the minibatch. Weights are rewritten in their storage dtype; std_after is
/// measured with the weights as stored. On a CUDA context the weights are rescaled in device memory
/// (cuBLAS as layer_statistics; one stream synchronization per measurement). Errors: those of layer_statistics, and a layer whose
/// pre-activation std is 0 or not finite (it cannot be rescaled), named by index.
std::vector<LsuvLayerReport> calibrate_lsuv(Context& ctx, const std::vector<DenseLayer>& layers, const TensorView& minibatch,
                                            const LsuvOptions& opt = {});

/// The gain g of W = g W0, W0 ~ N(0, 1/width), that makes ln |delta| of back-propagated vectors an
/// unbiased random walk (Sussillo & Abbott 2014): E[ln Z] = 0 for Z = |delta_d|^2 / |delta_{d+1}|^2.
/// With delta_d = g W0^T D delta_{d+1}, D = diag f'(z): |W0^T v|^2 = |v|^2 chi2_N / N, so
///   E[ln Z] = ln g^2 + E[ln |D u|^2] + psi(N/2) + ln(2/N)   (u uniform on the unit sphere).
///   linear:    g^2 = N / (2 exp(psi(N/2)))                        (-> exp(1/N) for large N)
///   relu:      g^2 = N / (2 exp(E_k[psi(k/2)])),  k ~ Binomial(N, 1/2), k >= 1
/// (|D u|^2 ~ Beta(k/2, (N-k)/2) for k active units). Other activations: E[ln |D u|^2] by a
/// deterministic Monte-Carlo average over M = clamp(2^20 / N, 64, 4096) draws of N pre-activations
/// xi and N directions eta, the library's own normal() in f64 with Key{0x5eed5eed, 0} (xi, element
/// s N + i), Key{0x5eed5eed, 1} (eta) and Key{0x5eed5eed, 2} (2^14 draws for q), so the value does
/// not depend on the standard library, at the mean-field fixed point of the
/// pre-activation variance q = g^2 E[f(sqrt(q) z)^2]. leaky_relu (f' does not depend on q):
/// g^2 = exp(-E[ln Z](1)) directly. Others: a sign change of E[ln Z] found by doubling or halving g
/// from 1 (within [2^-30, 2^30]), then bisection to ~1e-14 relative (sigmoid's g is about 10).
/// Errors: width < 2, a slope not finite, Status::unsupported for an activation outside
/// calibration_supports; Status::numerical (naming the activation and width) when
/// E[ln Z] does not change sign within that range or is not finite (e.g. leaky_relu with slope 0 at a
/// small width, where some draws have every unit inactive).
double random_walk_gain(Nonlinearity activation, std::int64_t width, double negative_slope = 0.01);

}  // namespace paraminit
