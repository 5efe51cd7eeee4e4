// paraminit_bench: throughput of every fill and dtype against the limit (writing the bytes once:
// memset with the same threads on the CPU, cudaMemsetAsync on the GPU) and against cuRAND's
// generators, in one run. The main job of the README. On the CPU each row of the fill x dtype grid
// has its "of limit" against memset of the same bytes timed alternately with it (the memset rows at
// the top are the limit's own medians, taken first; the scheme rows use those).
//
//   paraminit_bench [--device auto|cpu|cuda] [--elements N] [--threads T] [--reps R] [--no-orthogonal]
//                   [--cpu-tier best|avx512|avx2|portable]
//
// Napkin math (this project's 2-core build machine, Zen 5 at ~3.7 GHz with AVX-512, 4 vector ALU
// instructions a cycle): memset of 64 Mi f32 (256 MiB) with 2 threads runs at 35-82 GB/s = 9-20 G
// elem/s depending on the host's load; Philox4x32-10 at 16 lanes takes 12 vector instructions per
// round per 16 calls (about 2 per 32-bit word with the transpose), the uniform f32 element 10 more
// per 16, so uniform f32 is compute-bound at ~3.7 G elem/s a core, 7-7.5 on 2 cores.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "../host/cpu_tier.hpp"
#include "../host/thread_pool.hpp"
#include "bench_common.hpp"
#include "paraminit/paraminit.hpp"

#if defined(PARAMINIT_WITH_CUDA)
#include <curand.h>
#endif

namespace pb = paraminit_bench;
using paraminit::DType;

namespace paraminit_bench {
int run_gpu_table(std::int64_t elements, int reps);  // bench_gpu.cu (CUDA builds)
}

namespace {

struct Options {
  std::string device = "auto";
  std::int64_t elements = std::int64_t{1} << 26;  // 64 Mi
  int threads = 0;
  int reps = 7;
  bool orthogonal = true;
  int ortho_reps = 5;
  std::string cpu_tier = "best";  // the CPU loops' instruction set (host/cpu_tier.hpp)
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "paraminit_bench: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--device") o.device = next();
    else if (a == "--elements") o.elements = std::stoll(next());
    else if (a == "--threads") o.threads = std::stoi(next());
    else if (a == "--reps") o.reps = std::stoi(next());
    else if (a == "--no-orthogonal") o.orthogonal = false;
    else if (a == "--cpu-tier") o.cpu_tier = next();
    else {
      std::fprintf(stderr, "usage: paraminit_bench [--device auto|cpu|cuda] [--elements N] [--threads T] [--reps R] [--no-orthogonal] [--cpu-tier best|avx512|avx2|portable]\n");
      std::exit(a == "--help" || a == "-h" ? 0 : 2);
    }
  }
  return o;
}

paraminit::detail::CpuTier tier_named(const std::string& name) {
  using paraminit::detail::CpuTier;
  if (name == "portable") return CpuTier::portable;
  if (name == "avx2") return CpuTier::avx2;
  if (name == "avx512") return CpuTier::avx512;
  if (name != "best") {
    std::fprintf(stderr, "paraminit_bench: --cpu-tier takes best, avx512, avx2 or portable, not %s\n", name.c_str());
    std::exit(2);
  }
  return paraminit::detail::cpu_best_tier();
}

void cpu_table(const Options& o) {
  // A lower tier than asked where the CPU lacks it; the title says which ran.
  const paraminit::detail::ScopedCpuTier at(tier_named(o.cpu_tier));
  paraminit::Context ctx = paraminit::Context::cpu(o.threads);
  const int threads = ctx.threads();
  const std::int64_t n = o.elements;
  // Room for n f64, and for the fixed-size rows (4096^2 sparse, 16384 x 1024 orthogonal).
  std::vector<std::uint64_t> buf(std::max<std::size_t>(static_cast<std::size_t>(n), std::size_t{1} << 24));
  void* p = buf.data();

  // The limit: memset of the same bytes, split over the same number of threads, with a non-zero
  // byte (0x5a, as `paraminit init --compare-write` writes): this VM stores zero bytes about twice
  // as fast as any other (2 threads, 256 MiB, 2026-12-02: memset 0 at 91-93 GB/s, memset 0x5a or 1
  // at 42-44, non-temporal stores of random bytes at 42-43; in a faster phase of the host minutes
  // later 151-163 against 73-82), and a fill's random bits never get that. (Until then half of the
  // 64 chunks were zeros, which put the limit between the two.)
  paraminit::detail::ThreadPool pool(threads);
  auto par_memset = [&](std::size_t bytes) {
    const std::int64_t chunks = 64;
    pool.run(chunks, [&](std::int64_t c) {
      const std::size_t lo = bytes * c / chunks, hi = bytes * (c + 1) / chunks;
      std::memset(static_cast<char*>(p) + lo, 0x5a, hi - lo);
    });
  };
  char title[160];
  std::snprintf(title, sizeof title, "CPU: %lld elements, %d threads, median of %d, %s loops", static_cast<long long>(n), threads,
                o.reps, paraminit::detail::tier_name(paraminit::detail::cpu_tier()));
  pb::print_header(title);
  double limit[4];
  for (DType t : {DType::f32, DType::f64, DType::f16, DType::bf16}) {
    const double bytes = static_cast<double>(n) * paraminit::dtype_size(t);
    const double s = pb::median_seconds(o.reps, [&] { par_memset(static_cast<std::size_t>(bytes)); });
    limit[static_cast<int>(t)] = bytes / s;
    pb::print_row({"cpu", "memset (limit)", paraminit::to_string(t), static_cast<double>(n), bytes, s, bytes / s});
  }
  for (const auto& f : pb::fills())
    for (DType t : {DType::f32, DType::f64, DType::f16, DType::bf16}) {
      const auto v = paraminit::TensorView::of(p, t, {n});
      const double bytes = static_cast<double>(n) * paraminit::dtype_size(t);
      // "of limit": against memset of the same bytes timed alternately with this fill.
      const auto [s, ms] = pb::median_pair_seconds(o.reps, [&] { f.run(ctx, v); }, [&] { par_memset(static_cast<std::size_t>(bytes)); });
      pb::print_row({"cpu", f.name, paraminit::to_string(t), static_cast<double>(n), bytes, s, bytes / ms});
    }
  for (const auto& f : pb::sparse_fills()) {
    const auto v = paraminit::TensorView::of(p, DType::f32, {4096, 4096});
    const double m = 4096.0 * 4096.0;
    const double s = pb::median_seconds(o.reps, [&] { f.run(ctx, v); });
    pb::print_row({"cpu", f.name, "f32", m, m * 4, s, limit[0]});
  }
  // Schemes against the fills they run (same run, alternating, medians): the ratio is the cost
  // of the scheme's fan and gain computation.
  {
    const std::int64_t rows = 8192, cols = n / rows;
    const auto v = paraminit::TensorView::of(p, DType::f32, {rows, cols});
    const double m = static_cast<double>(rows * cols), bytes = m * 4;
    for (const auto& sp : pb::scheme_pairs(cols)) {
      const auto [ts, tf] = pb::median_pair_seconds(o.reps, [&] { sp.run_scheme(ctx, v); }, [&] { sp.run_fill(ctx, v); });
      pb::print_row({"cpu", sp.scheme, "f32", m, bytes, ts, limit[0]});
      pb::print_row({"cpu", std::string(sp.fill) + " (its fill; scheme/fill " + pb::ratio_text(ts, tf) + ")", "f32", m, bytes, tf, limit[0]});
    }
  }
  // The orthogonal family: whole-call seconds (draw + QR + store), the path chosen, against
  // torch.nn.init.orthogonal_ in peers.py (issue 5: no slower at 2048^2, 2x faster at 16384 x 1024).
  if (o.orthogonal && paraminit::lapack_built()) {
    std::printf("\n| device | orthogonal | dtype | shape | median s | path | passes | measured max|QtQ-I| |\n");
    std::printf("|---|---|---|---|---:|---|---:|---:|\n");
    for (const auto& sh : pb::orthogonal_shapes(false)) {
      const auto v = paraminit::TensorView::of(p, DType::f32, {sh.rows, sh.cols});
      paraminit::OrthogonalInfo info;
      const double s = pb::median_seconds(o.ortho_reps, [&] { info = paraminit::orthogonal(ctx, v, paraminit::Key{1, 2}, {1.0, sh.path}); });
      pb::print_ortho_row("cpu", sh, "f32", s, info);
    }
  }
  // Calibration at GEMM speed (issue 7): layer_statistics and calibrate_lsuv on a stack of dense
  // layers against the same sgemm calls alone (forward, and forward + backward).
  if (o.orthogonal && paraminit::lapack_built()) pb::calibration_rows(ctx);
#if defined(PARAMINIT_WITH_CUDA)
  // Peer: cuRAND's host generator (Philox), single call generating n floats into host memory.
  curandGenerator_t gen;
  if (curandCreateGeneratorHost(&gen, CURAND_RNG_PSEUDO_PHILOX4_32_10) == CURAND_STATUS_SUCCESS) {
    curandSetPseudoRandomGeneratorSeed(gen, 2026);
    float* fp = static_cast<float*>(p);
    const double bytes = static_cast<double>(n) * 4;
    double s = pb::median_seconds(o.reps, [&] { curandGenerateUniform(gen, fp, static_cast<size_t>(n)); });
    pb::print_row({"cpu", "curand host uniform", "f32", static_cast<double>(n), bytes, s, limit[0]});
    s = pb::median_seconds(o.reps, [&] { curandGenerateNormal(gen, fp, static_cast<size_t>(n), 0.0f, 0.02f); });
    pb::print_row({"cpu", "curand host normal", "f32", static_cast<double>(n), bytes, s, limit[0]});
    curandDestroyGenerator(gen);
  } else {
    std::printf("| cpu | curand host generator | - | - | unavailable | | | |\n");
  }
#endif
}

}  // namespace

namespace paraminit_bench {
// The table; argv[0] is the command's name ("paraminit_bench" or "bench" under the paraminit program).
int bench_main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  const bool gpu = o.device == "cuda" || (o.device == "auto" && paraminit::cuda_device_count() > 0);
  if (gpu) {
#if defined(PARAMINIT_WITH_CUDA)
    return pb::run_gpu_table(o.elements == (std::int64_t{1} << 26) ? (std::int64_t{1} << 30) : o.elements, o.reps);
#else
    std::fprintf(stderr, "paraminit_bench: this build has no CUDA backend\n");
    return 2;
#endif
  }
  cpu_table(o);
  return 0;
}
}  // namespace paraminit_bench
