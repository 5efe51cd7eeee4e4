// The GPU table of paraminit_bench: each fill and dtype against cudaMemsetAsync of the same bytes
// (the limit) and against cuRAND's host API (curandGenerateUniform + a scaling pass,
// curandGenerateNormal), timed with CUDA events on one stream, medians.
//
// Napkin math (H200): ~4.8 TB/s HBM3e peak, ~4.0-4.3 TB/s reachable for a pure write stream; 2^30
// f32 = 4 GiB, so memset takes ~1 ms and a fill at 85% of it ~1.2 ms.
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <curand.h>

#include <cstdio>
#include <functional>
#include <vector>

#include "bench_common.hpp"
#include "paraminit/calibrate.hpp"
#include "paraminit/paraminit.hpp"

namespace paraminit_bench {
namespace {

#define BENCH_CUDA(x)                                                                    \
  do {                                                                                   \
    const cudaError_t e_ = (x);                                                          \
    if (e_ != cudaSuccess) {                                                             \
      std::fprintf(stderr, "paraminit_bench: %s: %s\n", #x, cudaGetErrorString(e_));     \
      return 1;                                                                          \
    }                                                                                    \
  } while (0)

double median_ms_events(cudaStream_t s, int reps, const std::function<void()>& fn) {
  cudaEvent_t a, b;
  cudaEventCreate(&a);
  cudaEventCreate(&b);
  fn();
  std::vector<double> t;
  for (int r = 0; r < reps; ++r) {
    cudaEventRecord(a, s);
    fn();
    cudaEventRecord(b, s);
    cudaEventSynchronize(b);
    float ms = 0;
    cudaEventElapsedTime(&ms, a, b);
    t.push_back(ms);
  }
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  std::sort(t.begin(), t.end());
  return t[t.size() / 2] / 1e3;  // seconds
}

__global__ void scale_kernel(float* p, std::size_t n, float lo, float width) {
  for (std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::size_t>(gridDim.x) * blockDim.x)
    p[i] = __fadd_rn(lo, __fmul_rn(width, p[i]));
}

}  // namespace

int run_gpu_table(std::int64_t n, int reps) {
  cudaStream_t s;
  BENCH_CUDA(cudaStreamCreate(&s));
  void* p = nullptr;
  BENCH_CUDA(cudaMalloc(&p, static_cast<std::size_t>(n) * 4));  // f32 / f16 / bf16 (f64 at n/2)
  cudaDeviceProp prop{};
  BENCH_CUDA(cudaGetDeviceProperties(&prop, 0));
  char title[256];
  std::snprintf(title, sizeof title, "GPU %s: %lld elements (f64: %lld), median of %d", prop.name,
                static_cast<long long>(n), static_cast<long long>(n / 2), reps);
  print_header(title);
  paraminit::Context ctx = paraminit::Context::cuda(0, s);
  double limit[4];
  for (paraminit::DType t : {paraminit::DType::f32, paraminit::DType::f64, paraminit::DType::f16, paraminit::DType::bf16}) {
    const std::int64_t m = t == paraminit::DType::f64 ? n / 2 : n;
    const double bytes = static_cast<double>(m) * paraminit::dtype_size(t);
    const double sec = median_ms_events(s, reps, [&] { cudaMemsetAsync(p, 0, static_cast<std::size_t>(bytes), s); });
    limit[static_cast<int>(t)] = bytes / sec;
    print_row({"gpu", "cudaMemsetAsync (limit)", paraminit::to_string(t), static_cast<double>(m), bytes, sec, bytes / sec});
  }
  for (const auto& f : fills())
    for (paraminit::DType t : {paraminit::DType::f32, paraminit::DType::f64, paraminit::DType::f16, paraminit::DType::bf16}) {
      const std::int64_t m = t == paraminit::DType::f64 ? n / 2 : n;
      const auto v = paraminit::TensorView::of(p, t, {m});
      const double bytes = static_cast<double>(m) * paraminit::dtype_size(t);
      const double sec = median_ms_events(s, reps, [&] { f.run(ctx, v); });
      print_row({"gpu", f.name, paraminit::to_string(t), static_cast<double>(m), bytes, sec, limit[static_cast<int>(t)]});
    }
  for (const auto& f : sparse_fills()) {
    const auto v = paraminit::TensorView::of(p, paraminit::DType::f32, {4096, 4096});
    const double m = 4096.0 * 4096.0;
    const double sec = median_ms_events(s, reps, [&] { f.run(ctx, v); });
    print_row({"gpu", f.name, "f32", m, m * 4, sec, limit[0]});
  }
  // Schemes against the fills they run (issue 3: within 5%).
  {
    const std::int64_t rows = 8192, cols = n / rows;
    const auto v = paraminit::TensorView::of(p, paraminit::DType::f32, {rows, cols});
    const double m = static_cast<double>(rows * cols);
    for (const auto& sp : scheme_pairs(cols)) {
      const double ts = median_ms_events(s, reps, [&] { sp.run_scheme(ctx, v); });
      const double tf = median_ms_events(s, reps, [&] { sp.run_fill(ctx, v); });
      print_row({"gpu", sp.scheme, "f32", m, m * 4, ts, limit[0]});
      print_row({"gpu", std::string(sp.fill) + " (its fill; scheme/fill " + ratio_text(ts, tf) + ")", "f32", m, m * 4, tf, limit[0]});
    }
  }
  // The orthogonal family (issue 5: 1.5x and 3x faster than torch.nn.init.orthogonal_ on the GPU).
  {
    std::printf("\n| device | orthogonal | dtype | shape | median s | path | passes | measured max|QtQ-I| |\n");
    std::printf("|---|---|---|---|---:|---|---:|---:|\n");
    void* big = nullptr;
    if (cudaMalloc(&big, std::size_t{65536} * 4096 * 4) == cudaSuccess) {
      for (const auto& sh : orthogonal_shapes(true)) {
        const auto v = paraminit::TensorView::of(big, paraminit::DType::f32, {sh.rows, sh.cols});
        paraminit::OrthogonalInfo info;
        const double sec = median_ms_events(s, 3, [&] { info = paraminit::orthogonal(ctx, v, paraminit::Key{1, 2}, {1.0, sh.path}); });
        print_ortho_row("gpu", sh, "f32", sec, info);
      }
      cudaFree(big);
    } else {
      (void)cudaGetLastError();
      std::printf("| gpu | orthogonal | - | - | not enough memory | | | |\n");
    }
  }
  // Calibration on the device (issue 7): layer_statistics and LSUV's measured forwards against the
  // cuBLAS sgemm calls they make, alone. 16 relu layers of 4096^2, batch 4096: 2.2 TFLOP per
  // direction, a few ms per GEMM at H200 FP32 rates.
  {
    namespace pi = paraminit;
    const int L = 16;
    const std::int64_t w = 4096, B = 4096;
    std::printf("\n| device | calibration (16 x 4096^2 relu, batch 4096) | median s | GFLOP/s | vs its GEMMs alone |\n|---|---|---:|---:|---:|\n");
    void *wp = nullptr, *xp = nullptr, *yp = nullptr, *zp = nullptr;
    cublasHandle_t h = nullptr;
    const std::size_t wbytes = static_cast<std::size_t>(L) * w * w * 4, abytes = static_cast<std::size_t>(B) * w * 4;
    if (cudaMalloc(&wp, wbytes) == cudaSuccess && cudaMalloc(&xp, abytes) == cudaSuccess && cudaMalloc(&yp, abytes) == cudaSuccess &&
        cudaMalloc(&zp, abytes) == cudaSuccess && cublasCreate(&h) == CUBLAS_STATUS_SUCCESS) {
      cublasSetStream(h, s);
      std::vector<pi::DenseLayer> net(L);
      for (int l = 0; l < L; ++l) {
        auto& layer = net[static_cast<std::size_t>(l)];
        layer.weight = pi::TensorView::of(static_cast<float*>(wp) + static_cast<std::size_t>(l) * w * w, pi::DType::f32, {w, w});
        layer.activation = pi::Nonlinearity::relu;
        pi::HeOptions o;
        o.nonlinearity = pi::Nonlinearity::relu;
        pi::he_normal(ctx, layer.weight, pi::Key{5, static_cast<std::uint64_t>(l)}, o);
      }
      const auto xv = pi::TensorView::of(xp, pi::DType::f32, {B, w});
      pi::normal(ctx, xv, pi::Key{6, 0}, {0.0, 1.0});
      pi::normal(ctx, pi::TensorView::of(yp, pi::DType::f32, {B, w}), pi::Key{6, 1}, {0.0, 1.0});
      const float one = 1, zero = 0;
      auto gemms = [&](int per_layer) {  // 1 = forward, 2 = forward + backward (as layer_statistics calls them)
        for (int l = 0; l < L; ++l) {
          const float* wl = static_cast<const float*>(wp) + static_cast<std::size_t>(l) * w * w;
          cublasSgemm_64(h, CUBLAS_OP_T, CUBLAS_OP_N, w, B, w, &one, wl, w, static_cast<const float*>(xp), w, &zero,
                         static_cast<float*>(zp), w);
          if (per_layer == 2)
            cublasSgemm_64(h, CUBLAS_OP_N, CUBLAS_OP_N, w, B, w, &one, wl, w, static_cast<const float*>(yp), w, &zero,
                           static_cast<float*>(zp), w);
        }
      };
      const double flop = 2.0 * static_cast<double>(B) * static_cast<double>(w) * static_cast<double>(w) * L;
      const double g2 = median_ms_events(s, 5, [&] { gemms(2); });
      const double st = median_ms_events(s, 5, [&] { (void)pi::layer_statistics(ctx, net, xv); });
      std::printf("| gpu | cublasSgemm alone: forward + backward | %.4f | %.0f | 1.00 |\n", g2, 2 * flop / g2 / 1e9);
      std::printf("| gpu | layer_statistics (forward + backward + statistics) | %.4f | %.0f | %.2f |\n", st, 2 * flop / st / 1e9, st / g2);
      pi::LsuvOptions lo;
      lo.max_iterations = 0;  // the fixed cost: one measured forward per layer
      const double g1 = median_ms_events(s, 5, [&] { gemms(1); });
      const double ls = median_ms_events(s, 5, [&] { (void)pi::calibrate_lsuv(ctx, net, xv, lo); });
      std::printf("| gpu | cublasSgemm alone: 1 forward per layer | %.4f | %.0f | 1.00 |\n", g1, flop / g1 / 1e9);
      std::printf("| gpu | calibrate_lsuv, per measured forward (1 per layer) | %.4f | %.0f | %.2f |\n", ls, flop / ls / 1e9, ls / g1);
    } else {
      (void)cudaGetLastError();
      std::printf("| gpu | calibration | not enough memory (or cuBLAS) | | |\n");
    }
    if (h != nullptr) cublasDestroy(h);
    for (void* q : {wp, xp, yp, zp})
      if (q != nullptr) cudaFree(q);
  }
  // Peer: cuRAND's host API on the device (Philox), uniform + a scaling pass, and normal.
  curandGenerator_t gen;
  if (curandCreateGenerator(&gen, CURAND_RNG_PSEUDO_PHILOX4_32_10) == CURAND_STATUS_SUCCESS) {
    curandSetStream(gen, s);
    curandSetPseudoRandomGeneratorSeed(gen, 2026);
    float* fp = static_cast<float*>(p);
    const double bytes = static_cast<double>(n) * 4;
    const unsigned blocks = static_cast<unsigned>(prop.multiProcessorCount) * 16;
    double sec = median_ms_events(s, reps, [&] {
      curandGenerateUniform(gen, fp, static_cast<std::size_t>(n));
      scale_kernel<<<blocks, 256, 0, s>>>(fp, static_cast<std::size_t>(n), -0.05f, 0.1f);
    });
    print_row({"gpu", "curand uniform + scale", "f32", static_cast<double>(n), bytes, sec, limit[0]});
    sec = median_ms_events(s, reps, [&] { curandGenerateNormal(gen, fp, static_cast<std::size_t>(n), 0.0f, 0.02f); });
    print_row({"gpu", "curand normal", "f32", static_cast<double>(n), bytes, sec, limit[0]});
    curandDestroyGenerator(gen);
  }
  BENCH_CUDA(cudaStreamSynchronize(s));
  BENCH_CUDA(cudaGetLastError());
  cudaFree(p);
  cudaStreamDestroy(s);
  return 0;
}

}  // namespace paraminit_bench
