// Calibration rows of the CPU table: layer_statistics (forward + backward) and calibrate_lsuv on
// 16 dense layers of width 1024 with a 512-row minibatch, beside the sgemm calls they make, alone
// (issue 7: within 1.3 times the GEMMs). Napkin math: one 512 x 1024 x 1024 GEMM is 1.07 GFLOP,
// ~10 ms at ~100 GFLOP/s on 2 Zen 3 cores.
#include <cstdio>
#include <vector>

#include "bench_common.hpp"
#include "paraminit/calibrate.hpp"
#include "paraminit/paraminit.hpp"

extern "C" void sgemm_(const char* ta, const char* tb, const int* m, const int* n, const int* k, const float* alpha,
                       const float* a, const int* lda, const float* b, const int* ldb, const float* beta, float* c,
                       const int* ldc);

namespace paraminit_bench {

void calibration_rows(paraminit::Context& ctx) {
  namespace pi = paraminit;
  const int L = 16, n = 1024, B = 512;
  std::vector<std::vector<float>> w(L, std::vector<float>(static_cast<std::size_t>(n) * n));
  std::vector<pi::DenseLayer> net(L);
  for (int l = 0; l < L; ++l) {
    net[static_cast<std::size_t>(l)].weight = pi::TensorView::of(w[static_cast<std::size_t>(l)].data(), pi::DType::f32, {n, n});
    net[static_cast<std::size_t>(l)].activation = pi::Nonlinearity::relu;
    pi::HeOptions o;
    o.nonlinearity = pi::Nonlinearity::relu;
    pi::he_normal(ctx, net[static_cast<std::size_t>(l)].weight, pi::Key{5, static_cast<std::uint64_t>(l)}, o);
  }
  std::vector<float> x(static_cast<std::size_t>(B) * n), y(x.size(), 0.5f), z(x.size());
  pi::normal(ctx, pi::TensorView::of(x.data(), pi::DType::f32, {B, n}), pi::Key{6, 0}, {0.0, 1.0});
  const pi::TensorView xv = pi::TensorView::of(x.data(), pi::DType::f32, {B, n});
  const float one = 1, zero = 0;
  auto gemms = [&](int per_layer) {  // per_layer: 1 = forward, 2 = forward + backward
    for (int l = 0; l < L; ++l)
      for (int r = 0; r < per_layer; ++r)
        sgemm_(r == 0 ? "T" : "N", "N", &n, &B, &n, &one, w[static_cast<std::size_t>(l)].data(), &n, (r == 0 ? x : y).data(), &n, &zero,
               z.data(), &n);
  };
  const double flop = 2.0 * B * n * static_cast<double>(n) * L;
  std::printf("\n| device | calibration (16 x 1024^2 relu, batch 512) | median s | GFLOP/s | vs its GEMMs alone |\n|---|---|---:|---:|---:|\n");
  // Each pair measured alternately (median_pair_seconds), so the machine's drift hits both alike.
  const auto [st, g2] = median_pair_seconds(7, [&] { (void)pi::layer_statistics(ctx, net, xv); }, [&] { gemms(2); });
  std::printf("| cpu | sgemm alone: forward + backward | %.3f | %.1f | 1.00 |\n", g2, 2 * flop / g2 / 1e9);
  std::printf("| cpu | layer_statistics (forward + backward + statistics) | %.3f | %.1f | %.2f |\n", st, 2 * flop / st / 1e9, st / g2);
  pi::LsuvOptions lo;
  lo.max_iterations = 0;  // the fixed cost: one measured forward per layer (each rescaling adds one more)
  const auto [ls, g1] = median_pair_seconds(7, [&] { (void)pi::calibrate_lsuv(ctx, net, xv, lo); }, [&] { gemms(1); });
  std::printf("| cpu | sgemm alone: 1 forward per layer | %.3f | %.1f | 1.00 |\n", g1, flop / g1 / 1e9);
  std::printf("| cpu | calibrate_lsuv, per measured forward (1 per layer) | %.3f | %.1f | %.2f |\n", ls, flop / ls / 1e9, ls / g1);
  std::fflush(stdout);
}

}  // namespace paraminit_bench
