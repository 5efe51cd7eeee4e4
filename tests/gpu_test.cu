// GPU tests (label gpu): GPU bits == CPU bits for every fill and dtype, odd sizes, unaligned
// starts, windows, a tensor over 2^31 elements (sampled), the Philox known answers on the device,
// and the pointer checks. Each test skips, saying why, when no CUDA device is visible.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <tuple>

#include "../kernels/philox.hpp"
#include "kat_vectors.hpp"
#include "paraminit/calibrate.hpp"
#include "paraminit/paraminit.hpp"
#include "paraminit/safetensors.hpp"
#include "test_util.hpp"

namespace {
using namespace paraminit_test;
using paraminit::Context;
using paraminit::Key;
using paraminit::TensorView;

#define REQUIRE_GPU()                                                                       \
  do {                                                                                      \
    if (paraminit::cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device is visible"; \
  } while (0)
#define CUDA_OK(x) ASSERT_EQ((x), cudaSuccess) << #x

struct DeviceBuffer {
  void* p = nullptr;
  std::size_t bytes = 0;
  explicit DeviceBuffer(std::size_t n) : bytes(n) {
    if (cudaMalloc(&p, n) != cudaSuccess) p = nullptr;
  }
  ~DeviceBuffer() { cudaFree(p); }
};

using FillFn = std::function<void(Context&, const TensorView&, Key)>;
const std::pair<const char*, FillFn> kFills[] = {
    {"uniform", [](Context& c, const TensorView& t, Key k) { paraminit::uniform(c, t, k, {-0.04, 0.04}); }},
    {"normal", [](Context& c, const TensorView& t, Key k) { paraminit::normal(c, t, k, {0.0, 0.02}); }},
    {"trunc_normal", [](Context& c, const TensorView& t, Key k) { paraminit::trunc_normal(c, t, k, {0, 1, 3, 4}); }},
    {"trunc_normal_std", [](Context& c, const TensorView& t, Key k) { paraminit::trunc_normal(c, t, k, {0, 0.02, -0.04, 0.04}); }},
    {"constant", [](Context& c, const TensorView& t, Key) { paraminit::constant(c, t, 0.1); }},
};

__global__ void kat_kernel(const paraminit_test::PhiloxKat* kats, int n, std::uint32_t* out) {
  const int i = threadIdx.x;
  if (i >= n) return;
  const auto& k = kats[i];
  const auto w = paraminit::kernels::philox4x32_10({k.ctr[0], k.ctr[1], k.ctr[2], k.ctr[3]}, k.key[0], k.key[1]);
  out[4 * i] = w.x, out[4 * i + 1] = w.y, out[4 * i + 2] = w.z, out[4 * i + 3] = w.w;
}

TEST(Gpu, PhiloxKnownAnswersOnTheDevice) {
  REQUIRE_GPU();
  constexpr int n = sizeof(kPhiloxKats) / sizeof(kPhiloxKats[0]);
  DeviceBuffer kats(sizeof(kPhiloxKats)), out(16 * n);
  CUDA_OK(cudaMemcpy(kats.p, kPhiloxKats, sizeof(kPhiloxKats), cudaMemcpyHostToDevice));
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = dim3(1, 1, 1);
  cfg.blockDim = dim3(32, 1, 1);
  CUDA_OK(cudaLaunchKernelEx(&cfg, kat_kernel, static_cast<const PhiloxKat*>(kats.p), n, static_cast<std::uint32_t*>(out.p)));
  std::uint32_t got[4 * n];
  CUDA_OK(cudaMemcpy(got, out.p, sizeof got, cudaMemcpyDeviceToHost));
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < 4; ++j) EXPECT_EQ(got[4 * i + j], kPhiloxKats[i].out[j]) << "kat " << i;
}

// Fill `view` (data ignored) on the GPU at byte offset `offset` of a device buffer and on the CPU;
// compare bytes.
void compare(const char* name, const FillFn& fn, TensorView view, std::size_t offset_elems) {
  const std::size_t n = static_cast<std::size_t>(view.numel()), es = paraminit::dtype_size(view.dtype);
  DeviceBuffer d((n + offset_elems) * es);  // exact: a store past the end is an error under ASan
  ASSERT_NE(d.p, nullptr);
  Context gpu = Context::cuda(0), cpu = Context::cpu(2);
  TensorView gv = view;
  gv.data = static_cast<char*>(d.p) + offset_elems * es;
  fn(gpu, gv, Key{31, 41});
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  std::vector<unsigned char> got(n * es), want(n * es);
  ASSERT_EQ(cudaMemcpy(got.data(), gv.data, n * es, cudaMemcpyDeviceToHost), cudaSuccess);
  TensorView cv = view;
  cv.data = want.data();
  fn(cpu, cv, Key{31, 41});
  EXPECT_EQ(std::memcmp(got.data(), want.data(), n * es), 0)
      << name << " " << paraminit::to_string(view.dtype) << " n = " << n << " offset " << offset_elems;
}

TEST(Gpu, BitsEqualCpuForEveryFillDtypeSizeAndOffset) {
  REQUIRE_GPU();
  for (DType t : kAllDTypes)
    for (const auto& [name, fn] : kFills)
      for (std::int64_t n : {1, 3, 4, 5, 7, 8, 9, 1023, 1 << 16, (1 << 20) + 1, (1 << 20) + 3})
        for (std::size_t off : {0, 1, 3}) compare(name, fn, TensorView::of(nullptr, t, {n}), off);
}

TEST(Gpu, SparseEqualsCpu) {
  REQUIRE_GPU();
  auto sp = [](int axis, std::int64_t kk) {
    return FillFn([axis, kk](Context& c, const TensorView& t, Key key) {
      paraminit::SparseOptions o;
      o.nonzeros_per_unit = kk;
      o.unit_axis = axis;
      paraminit::sparse(c, t, key, o);
    });
  };
  for (DType t : kAllDTypes) {
    // k <= F/32: the scatter kernel (zero + one thread per kept element); otherwise the mask.
    compare("sparse", sp(0, 15), TensorView::of(nullptr, t, {512, 1000}), 0);
    compare("sparse", sp(0, 15), TensorView::of(nullptr, t, {512, 1000}), 3);
    compare("sparse", sp(0, 15), TensorView::of(nullptr, t, {40, 1000}).window(0, 5, 60), 0);
    compare("sparse", sp(0, 400), TensorView::of(nullptr, t, {512, 1000}), 0);
    // numel not a multiple of the vector width: the mask runs past the end (no endless cycle walk)
    compare("sparse", sp(0, 1), TensorView::of(nullptr, t, {3, 4}), 0);
    compare("sparse", sp(0, 2), TensorView::of(nullptr, t, {6, 7, 3, 3}), 0);
    compare("sparse", sp(1, 5), TensorView::of(nullptr, t, {64, 3, 3, 3}), 0);
    compare("sparse", sp(0, 7), TensorView::of(nullptr, t, {40, 77}).window(1, 13, 101), 1);
    compare("sparse_fraction", FillFn([](Context& c, const TensorView& v, Key key) { paraminit::sparse_fraction(c, v, key, 0.9, 0.01); }),
            TensorView::of(nullptr, t, {300, 200}), 0);
  }
}

TEST(Gpu, WindowsEqualCpu) {
  REQUIRE_GPU();
  for (DType t : kAllDTypes)
    for (const auto& [name, fn] : kFills) {
      compare(name, fn, TensorView::of(nullptr, t, {100, 37}).window(0, 13, 1000), 0);
      compare(name, fn, TensorView::of(nullptr, t, {100, 37}).window(1, 5, 91), 0);
      compare(name, fn, TensorView::of(nullptr, t, {8, 64}).window(1, 64, 256), 0);  // aligned runs
      compare(name, fn, TensorView::of(nullptr, t, {3, 5, 7, 9}).window(2, 2, 11), 1);
      compare(name, fn, TensorView::of(nullptr, t, {4099}).window(0, 8, 10000), 0);  // aligned, base != 0
      // Windows of a huge virtual parameter: Philox calls above 2^32 (the high counter word).
      compare(name, fn, TensorView::of(nullptr, t, {4099}).window(0, (std::int64_t{1} << 36) + 3, std::int64_t{1} << 40), 0);
      compare(name, fn, TensorView::of(nullptr, t, {4096}).window(0, std::int64_t{1} << 37, std::int64_t{1} << 40), 0);
      // A ragged 3-D parameter (7, 9, 11) windowed along each dim: runs of every length and stride.
      compare(name, fn, TensorView::of(nullptr, t, {3, 9, 11}).window(0, 4, 7), 0);
      compare(name, fn, TensorView::of(nullptr, t, {7, 5, 11}).window(1, 3, 9), 1);
      compare(name, fn, TensorView::of(nullptr, t, {7, 9, 6}).window(2, 5, 11), 3);
    }
}

// Over 2^31 elements (f16: 2^31 + 5 elements, 4 GiB): sampled indices, near the start, around
// 2^31 and 2^32 / 2 words, and at the end, against the CPU's value for a one-element window.
// The emulated device runs every CUDA thread on one host core: there the view is the parameter's
// last 2^19 + 5 elements (a window across index 2^31 to the end), not all 4 GiB.
TEST(Gpu, MoreThan2To31ElementsSampled) {
  REQUIRE_GPU();
  const std::int64_t n = (std::int64_t{1} << 31) + 5;
#if defined(PARAMINIT_EMULATED_DEVICE)
  const std::int64_t first = (std::int64_t{1} << 31) - (std::int64_t{1} << 19);
#else
  const std::int64_t first = 0;
#endif
  const std::int64_t len = n - first;
  for (DType t : {DType::f16, DType::f32}) {
    DeviceBuffer d(static_cast<std::size_t>(len) * paraminit::dtype_size(t));
    if (d.p == nullptr) GTEST_SKIP() << "not enough device memory for " << len << " elements";
    Context gpu = Context::cuda(0), cpu = Context::cpu(1);
    TensorView v = TensorView::of(d.p, t, {len});
    if (first > 0) v = v.window(0, first, n);
    for (const auto& [name, fn] : kFills) {
      fn(gpu, v, Key{5, 6});
      ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
      std::mt19937_64 rng(7);
      std::vector<std::int64_t> idx = {(std::int64_t{1} << 31) - 1, std::int64_t{1} << 31, n - 1, n - 2};
      if (first == 0) idx.insert(idx.end(), {0, 1});
      for (int k = 0; k < 200; ++k) idx.push_back(first + static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(len)));
      const std::size_t es = paraminit::dtype_size(t);
      for (std::int64_t i : idx) {
        unsigned char got[8] = {}, want[8] = {};
        ASSERT_EQ(cudaMemcpy(got, static_cast<char*>(d.p) + (i - first) * es, es, cudaMemcpyDeviceToHost), cudaSuccess);
        fn(cpu, TensorView::of(want, t, {1}).window(0, i, n), Key{5, 6});
        ASSERT_EQ(std::memcmp(got, want, es), 0) << name << " " << paraminit::to_string(t) << " index " << i;
      }
    }
  }
}

TEST(Gpu, PointerChecks) {
  REQUIRE_GPU();
  Context gpu = Context::cuda(0), cpu = Context::cpu(1);
  std::vector<float> host(64, 1.0f);
  DeviceBuffer d(256);
  try {
    paraminit::uniform(gpu, TensorView::of(host.data(), DType::f32, {64}), Key{}, {});
    ADD_FAILURE() << "host pointer accepted by a CUDA context";
  } catch (const paraminit::Error& e) {
    EXPECT_NE(std::string(e.what()).find("host memory"), std::string::npos) << e.what();
  }
  for (float v : host) ASSERT_EQ(v, 1.0f);
  try {
    paraminit::uniform(cpu, TensorView::of(d.p, DType::f32, {64}), Key{}, {});
    ADD_FAILURE() << "device pointer accepted by a CPU context";
  } catch (const paraminit::Error& e) {
    EXPECT_NE(std::string(e.what()).find("CPU context"), std::string::npos) << e.what();
  }
}

// Fills are stream-ordered and capturable: capture into a graph, launch it, compare with the CPU.
TEST(Gpu, CapturedInACudaGraph) {
  REQUIRE_GPU();
  cudaStream_t s;
  CUDA_OK(cudaStreamCreate(&s));
  const std::int64_t n = 100003;
  DeviceBuffer d(n * 4);
  Context gpu = Context::cuda(0, s), cpu = Context::cpu(1);
  cudaGraph_t g;
  cudaGraphExec_t ge;
  CUDA_OK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
  paraminit::normal(gpu, TensorView::of(d.p, DType::f32, {n}), Key{3, 3}, {});
  CUDA_OK(cudaStreamEndCapture(s, &g));
  CUDA_OK(cudaGraphInstantiate(&ge, g, 0));
  CUDA_OK(cudaGraphLaunch(ge, s));
  CUDA_OK(cudaStreamSynchronize(s));
  std::vector<float> got(n), want(n);
  CUDA_OK(cudaMemcpy(got.data(), d.p, n * 4, cudaMemcpyDeviceToHost));
  paraminit::normal(cpu, TensorView::of(want.data(), DType::f32, {n}), Key{3, 3}, {});
  EXPECT_EQ(std::memcmp(got.data(), want.data(), n * 4), 0);
  cudaGraphExecDestroy(ge);
  cudaGraphDestroy(g);
  cudaStreamDestroy(s);
}

// The scheme catalog on the GPU: every scheme, windows included, gives the CPU's bits.
TEST(Gpu, SchemesEqualCpu) {
  REQUIRE_GPU();
  static const double marg[] = {0.1, 0.2, 0.3, 0.15, 0.05, 0.2};
  const std::pair<const char*, FillFn> schemes[] = {
      {"he_uniform", [](Context& c, const TensorView& t, Key k) { paraminit::he_uniform(c, t, k); }},
      {"glorot_normal truncated", [](Context& c, const TensorView& t, Key k) { paraminit::glorot_normal(c, t, k, {1.0, true}); }},
      {"variance_scaling uniform", [](Context& c, const TensorView& t, Key k) {
         paraminit::variance_scaling(c, t, k, {2.0, paraminit::FanMode::fan_avg, paraminit::Distribution::uniform});
       }},
  };
  for (DType t : kAllDTypes)
    for (const auto& [name, fn] : schemes) {
      compare(name, fn, TensorView::of(nullptr, t, {96, 120}), 0);
      compare(name, fn, TensorView::of(nullptr, t, {96, 120}).window(1, 24, 240), 1);
      compare(name, fn, TensorView::of(nullptr, t, {64, 32, 3, 3}).window(0, 8, 96), 0);
    }
  const FillFn gate = [](Context& c, const TensorView& v, Key) { paraminit::gate_bias(c, v, {paraminit::GateLayout::cudnn_gru}); };
  for (DType t : kAllDTypes) {
    compare("gate_bias", gate, TensorView::of(nullptr, t, {2, 120}), 0);
    compare("gate_bias", gate, TensorView::of(nullptr, t, {2, 48}).window(1, 24, 240), 1);
  }
  const FillFn eye = [](Context& c, const TensorView& v, Key) { paraminit::eye(c, v, 0.5); };
  const FillFn dirac = [](Context& c, const TensorView& v, Key) { paraminit::dirac(c, v, {2, 1.0}); };
  for (DType t : kAllDTypes) {
    compare("eye", eye, TensorView::of(nullptr, t, {96, 120}), 0);
    compare("eye", eye, TensorView::of(nullptr, t, {96, 120}).window(1, 24, 240), 1);
    compare("dirac", dirac, TensorView::of(nullptr, t, {64, 32, 3, 3}).window(0, 8, 96), 0);
    compare("dirac", dirac, TensorView::of(nullptr, t, {16, 8, 3, 5, 5}), 3);
  }
  for (DType t : kAllDTypes) {
    compare("output_bias", FillFn([](Context& c, const TensorView& v, Key) { paraminit::output_bias(c, v, marg, 6, {paraminit::OutputActivation::softmax, true}); }),
            TensorView::of(nullptr, t, {4}).window(0, 2, 6), 0);
    compare("variance_parameter", FillFn([](Context& c, const TensorView& v, Key) { paraminit::variance_parameter(c, v, paraminit::ScaleParameter::precision, marg, 6); }),
            TensorView::of(nullptr, t, {6}), 1);
  }
}

// Host-value fills (output_bias, variance_parameter) and the orthogonal family refuse stream capture
// before writing anything.
TEST(Gpu, HostValueFillsRefuseGraphCapture) {
  REQUIRE_GPU();
  cudaStream_t s;
  CUDA_OK(cudaStreamCreate(&s));
  DeviceBuffer d(64);
  CUDA_OK(cudaMemset(d.p, 0x5A, 64));
  Context gpu = Context::cuda(0, s);
  const double p[] = {0.25, 0.75};
  cudaGraph_t g;
  CUDA_OK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
  try {
    paraminit::output_bias(gpu, TensorView::of(d.p, DType::f32, {2}), p, 2);
    ADD_FAILURE() << "output_bias accepted a capturing stream";
  } catch (const paraminit::Error& e) {
    EXPECT_EQ(e.code(), paraminit::Status::unsupported) << e.what();
    EXPECT_NE(std::string(e.what()).find("CUDA graph"), std::string::npos) << e.what();
  }
  try {  // the orthogonal family synchronizes its stream: refused under capture as well
    paraminit::orthogonal(gpu, TensorView::of(d.p, DType::f32, {4, 4}), Key{1, 1});
    ADD_FAILURE() << "orthogonal accepted a capturing stream";
  } catch (const paraminit::Error& e) {
    EXPECT_EQ(e.code(), paraminit::Status::unsupported) << e.what();
  }
  // The calibration functions bring statistics back to the host: refused too.
  std::vector<paraminit::DenseLayer> layers(1);
  layers[0].weight = TensorView::of(d.p, DType::f32, {2, 4});
  const TensorView mb = TensorView::of(static_cast<float*>(d.p) + 8, DType::f32, {2, 4});
  for (int which = 0; which < 2; ++which) try {
      if (which == 0) (void)paraminit::layer_statistics(gpu, layers, mb);
      else (void)paraminit::calibrate_lsuv(gpu, layers, mb);
      ADD_FAILURE() << (which == 0 ? "layer_statistics" : "calibrate_lsuv") << " accepted a capturing stream";
    } catch (const paraminit::Error& e) {
      EXPECT_EQ(e.code(), paraminit::Status::unsupported) << e.what();
      EXPECT_NE(std::string(e.what()).find("CUDA graph"), std::string::npos) << e.what();
    }
  CUDA_OK(cudaStreamEndCapture(s, &g));
  cudaGraphDestroy(g);
  unsigned char back[64];
  CUDA_OK(cudaMemcpy(back, d.p, 64, cudaMemcpyDeviceToHost));
  for (unsigned char b : back) ASSERT_EQ(b, 0x5A);
  cudaStreamDestroy(s);
}

// The orthogonal family on the GPU: the same Gaussian bits, cuSOLVER / cuBLAS rounding: GPU == CPU
// within a tolerance, the same path and passes, and the orthogonality bound of paraminit.hpp on the
// GPU's own result.
TEST(Gpu, OrthogonalAgreesWithCpu) {
  REQUIRE_GPU();
  Context gpu = Context::cuda(0), cpu = Context::cpu(2);
  struct C {
    std::vector<std::int64_t> shape;
    paraminit::OrthogonalPath path;
    int batch_dims;
  };
  const C cases[] = {{{256, 256}, paraminit::OrthogonalPath::automatic, 0}, {{2048, 128}, paraminit::OrthogonalPath::automatic, 0},
                     {{128, 2048}, paraminit::OrthogonalPath::automatic, 0}, {{2048, 128}, paraminit::OrthogonalPath::householder, 0},
                     {{300, 100}, paraminit::OrthogonalPath::cholesky_qr2, 0}, {{64, 32, 3, 3}, paraminit::OrthogonalPath::automatic, 0},
                     {{6, 64, 64}, paraminit::OrthogonalPath::automatic, 1}};
  for (const C& c : cases)
    for (DType t : kAllDTypes) {
      TensorView v = TensorView::of(nullptr, t, {});
      v.rank = static_cast<int>(c.shape.size());
      for (int d = 0; d < v.rank; ++d) v.shape[d] = c.shape[d];
      const std::size_t n = static_cast<std::size_t>(v.numel()), es = paraminit::dtype_size(t);
      DeviceBuffer d(n * es);
      std::vector<unsigned char> got(n * es), want(n * es);
      paraminit::OrthogonalOptions o;
      o.gain = 1.5;
      o.path = c.path;
      o.batch_dims = c.batch_dims;
      TensorView gv = v, cv = v;
      gv.data = d.p;
      cv.data = want.data();
      const paraminit::OrthogonalInfo gi = paraminit::orthogonal(gpu, gv, Key{12, 34}, o);
      ASSERT_EQ(cudaMemcpy(got.data(), d.p, n * es, cudaMemcpyDeviceToHost), cudaSuccess);
      const paraminit::OrthogonalInfo ci = paraminit::orthogonal(cpu, cv, Key{12, 34}, o);
      EXPECT_EQ(gi.path, ci.path);
      EXPECT_EQ(gi.cholesky_passes, ci.cholesky_passes);
      Buffer g(t, n), w(t, n);
      std::memcpy(g.data(), got.data(), n * es);
      std::memcpy(w.data(), want.data(), n * es);
      // Measured on the CPU against a long-double Gram-Schmidt of the same draws: at most 2.9e-6 (f32)
      // and 3.8e-15 (f64) with the gain 1.5; half types may differ by one ulp of |q| <= 1.5.
      const double tol = t == DType::f64 ? 1e-12 : t == DType::f32 ? 5e-5 : t == DType::f16 ? 1.5e-3 : 1e-2;
      for (std::size_t i = 0; i < n; ++i)
        ASSERT_NEAR(g.at(i), w.at(i), tol) << paraminit::to_string(t) << " element " << i << " shape[0] " << c.shape[0];
      if (c.batch_dims == 0 && (t == DType::f32 || t == DType::f64)) {  // the orthogonality bound on the GPU's own Q
        const std::size_t rows = static_cast<std::size_t>(c.shape[0]), cols = n / rows, k = std::min(rows, cols);
        double worst = 0;
        for (std::size_t a = 0; a < k; ++a)
          for (std::size_t b = a; b < k; ++b) {
            long double sdot = 0;
            for (std::size_t e = 0; e < std::max(rows, cols); ++e)
              sdot += rows <= cols ? static_cast<long double>(g.at(a * cols + e)) * g.at(b * cols + e)
                                   : static_cast<long double>(g.at(e * cols + a)) * g.at(e * cols + b);
            worst = std::max(worst, std::fabs(static_cast<double>(sdot) / (1.5 * 1.5) - (a == b ? 1.0 : 0.0)));
          }
        EXPECT_LE(worst, (t == DType::f32 ? 1e-5 : 1e-13) * std::sqrt(static_cast<double>(k))) << paraminit::to_string(t) << " " << rows << "x" << cols;
      }
    }
}

TEST(Gpu, OrthogonalWindowsDeltaAndOrthogonalize) {
  REQUIRE_GPU();
  Context gpu = Context::cuda(0);
  const std::int64_t rows = 96, cols = 40;
  DeviceBuffer whole(rows * cols * 4), part(rows * 10 * 4);
  paraminit::orthogonal(gpu, TensorView::of(whole.p, DType::f32, {rows, cols}), Key{1, 2});
  paraminit::orthogonal(gpu, TensorView::of(part.p, DType::f32, {rows, 10}).window(1, 17, cols), Key{1, 2});
  std::vector<float> a(rows * cols), b(rows * 10);
  CUDA_OK(cudaMemcpy(a.data(), whole.p, a.size() * 4, cudaMemcpyDeviceToHost));
  CUDA_OK(cudaMemcpy(b.data(), part.p, b.size() * 4, cudaMemcpyDeviceToHost));
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < 10; ++c) ASSERT_EQ(b[r * 10 + c], a[r * cols + 17 + c]);
  // delta-orthogonal: zeros except the centre tap.
  DeviceBuffer k(32 * 16 * 9 * 4);
  paraminit::delta_orthogonal(gpu, TensorView::of(k.p, DType::f32, {32, 16, 3, 3}), Key{3, 3});
  std::vector<float> kh(32 * 16 * 9);
  CUDA_OK(cudaMemcpy(kh.data(), k.p, kh.size() * 4, cudaMemcpyDeviceToHost));
  for (std::size_t i = 0; i < kh.size(); ++i)
    if (i % 9 != 4) ASSERT_EQ(kh[i], 0.0f) << i;
  // orthogonalize: Gram-Schmidt of (3, 4), (1, 2).
  const double w[] = {3, 1, 4, 2};
  DeviceBuffer m(sizeof w);
  CUDA_OK(cudaMemcpy(m.p, w, sizeof w, cudaMemcpyHostToDevice));
  paraminit::orthogonalize(gpu, TensorView::of(m.p, DType::f64, {2, 2}));
  double q[4];
  CUDA_OK(cudaMemcpy(q, m.p, sizeof q, cudaMemcpyDeviceToHost));
  const double want[] = {0.6, -0.8, 0.8, 0.6};
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(q[i], want[i], 1e-14);
}

// The fallback: a forced CholeskyQR on a weight whose columns differ from the first by 1e-9 noise:
// the Schur complements of its Gram matrix (~1e-18) are below the Gram's rounding (~1e-16), so a
// Cholesky pivot goes non-positive and both backends fall back to Householder, which resolves the
// matrix (min |R_jj| / max |R_jj| ~ 1e-9, far above the rank check's 2 max(m, n) 2^-52); Q agrees to
// cond(A) eps ~ 1e-7.
TEST(Gpu, OrthogonalizeFallsBackToHouseholderOnBothBackends) {
  REQUIRE_GPU();
  Context gpu = Context::cuda(0), cpu = Context::cpu(2);
  const std::int64_t rows = 64, cols = 16;
  std::vector<double> w(rows * cols);
  std::mt19937_64 rng(3);
  std::normal_distribution<double> z;  // any full-rank input will do: the result is compared, not reproduced
  for (std::int64_t i = 0; i < rows; ++i) {
    w[i * cols] = z(rng);
    for (std::int64_t j = 1; j < cols; ++j) w[i * cols + j] = w[i * cols] + 1e-9 * z(rng);
  }
  DeviceBuffer d(w.size() * 8);
  CUDA_OK(cudaMemcpy(d.p, w.data(), w.size() * 8, cudaMemcpyHostToDevice));
  std::vector<double> host = w, got(w.size());
  const auto gi = paraminit::orthogonalize(gpu, TensorView::of(d.p, DType::f64, {rows, cols}), 1.0, paraminit::OrthogonalPath::cholesky_qr);
  const auto ci = paraminit::orthogonalize(cpu, TensorView::of(host.data(), DType::f64, {rows, cols}), 1.0, paraminit::OrthogonalPath::cholesky_qr);
  EXPECT_EQ(gi.path, paraminit::OrthogonalPath::householder);
  EXPECT_EQ(ci.path, paraminit::OrthogonalPath::householder);
  CUDA_OK(cudaMemcpy(got.data(), d.p, got.size() * 8, cudaMemcpyDeviceToHost));
  for (std::size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], host[i], 1e-5) << i;
}

// safetensors read() into device memory goes through pinned staging in 64 MiB chunks: a tensor of
// 2 chunks + 1 MiB + 12 bytes, read whole (f32) and converted (to bf16), and a window, equal the
// host reads of the same file.
TEST(Gpu, SafetensorsReadThroughStagingEqualsHostRead) {
  REQUIRE_GPU();
#if !defined(PARAMINIT_WITH_JSON)
  GTEST_SKIP() << "this build has no JSON library, so no safetensors";
#endif
  const std::int64_t n = ((std::int64_t{129} << 20) + 12) / 4;
  const std::string path = "gpu_test_staging.safetensors";
  {
    std::vector<float> v(static_cast<std::size_t>(n));
    Context cpu = Context::cpu(2);
    paraminit::normal(cpu, TensorView::of(v.data(), DType::f32, {n}), Key{4, 4}, {});
    paraminit::SafetensorsWriter wr(path, {{"w", DType::f32, {n}}});
    wr.write("w", v.data());
    wr.close();
  }
  const paraminit::SafetensorsReader rd = paraminit::SafetensorsReader::open(path);
  Context gpu = Context::cuda(0), cpu = Context::cpu(2);
  for (DType t : {DType::f32, DType::bf16}) {
    const std::size_t bytes = static_cast<std::size_t>(n) * paraminit::dtype_size(t);
    DeviceBuffer d(bytes);
    std::vector<unsigned char> got(bytes), want(bytes);
    rd.read(gpu, "w", TensorView::of(d.p, t, {n}));
    rd.read(cpu, "w", TensorView::of(want.data(), t, {n}));
    CUDA_OK(cudaMemcpy(got.data(), d.p, bytes, cudaMemcpyDeviceToHost));
    EXPECT_EQ(std::memcmp(got.data(), want.data(), bytes), 0) << paraminit::to_string(t);
  }
  const std::int64_t len = 1000003, start = n - len;  // a window at the end
  DeviceBuffer d(len * 4);
  std::vector<float> got(len), want(len);
  rd.read(gpu, "w", TensorView::of(d.p, DType::f32, {len}).window(0, start, n));
  rd.read(cpu, "w", TensorView::of(want.data(), DType::f32, {len}).window(0, start, n));
  CUDA_OK(cudaMemcpy(got.data(), d.p, len * 4, cudaMemcpyDeviceToHost));
  EXPECT_EQ(std::memcmp(got.data(), want.data(), len * 4), 0);
  std::remove(path.c_str());
}

// Calibration on a CUDA context: cuBLAS sgemm and the row kernels against the CPU's OpenBLAS path on
// the same weights and minibatch. The GEMMs sum in different orders and CUDA's tanhf / expf / erfcf
// may differ from glibc's in the last bit, so the bound is relative: 1e-4 (f32 rounding ~6e-8 per
// operation, amplified by at most ~100 through the stack; the gradient of a random output is the
// same draw on both sides, bit for bit). The stack has every activation, non-square layers (so a
// swapped dimension or leading dimension fails), one layer wider than a row block's 256 threads,
// layers with and without bias, a bf16 weight, and f16 and f32 minibatches.
TEST(Gpu, CalibrationOnTheDeviceAgreesWithTheCpu) {
  REQUIRE_GPU();
  Context gpu = Context::cuda(0), cpu = Context::cpu(2);
  using paraminit::Nonlinearity;
  const std::int64_t width[] = {40, 96, 24, 300, 50, 64, 33, 20};
  const Nonlinearity act[] = {Nonlinearity::tanh,      Nonlinearity::gelu,    Nonlinearity::relu,     Nonlinearity::leaky_relu,
                            Nonlinearity::silu,      Nonlinearity::sigmoid, Nonlinearity::linear};
  constexpr int L = 7;
  const std::int64_t B = 48;
  std::vector<Buffer> hw, hb;
  std::vector<DeviceBuffer> dw, db;
  hw.reserve(L), hb.reserve(L), dw.reserve(L), db.reserve(L);  // DeviceBuffer has no move constructor
  std::vector<paraminit::DenseLayer> hl(L), dl(L);
  for (int l = 0; l < L; ++l) {
    const std::int64_t in = width[l], out = width[l + 1];
    const DType wt = l == 1 ? DType::bf16 : DType::f32;
    hw.emplace_back(wt, static_cast<std::size_t>(out * in));
    hb.emplace_back(DType::f32, static_cast<std::size_t>(out));
    paraminit::normal(cpu, view(hw[l], {out, in}), Key{7, static_cast<std::uint64_t>(l)}, {0.0, 1.5 / std::sqrt(double(in))});
    paraminit::uniform(cpu, view(hb[l], {out}), Key{9, static_cast<std::uint64_t>(l)}, {-0.1, 0.1});
    dw.emplace_back(hw[l].nbytes());
    db.emplace_back(hb[l].nbytes());
    CUDA_OK(cudaMemcpy(dw.back().p, hw[l].data(), hw[l].nbytes(), cudaMemcpyHostToDevice));
    CUDA_OK(cudaMemcpy(db.back().p, hb[l].data(), hb[l].nbytes(), cudaMemcpyHostToDevice));
    hl[l].weight = view(hw[l], {out, in});
    dl[l].weight = TensorView::of(dw.back().p, wt, {out, in});
    if (l % 2 == 0) {  // bias on every other layer
      hl[l].bias = view(hb[l], {out});
      dl[l].bias = TensorView::of(db.back().p, DType::f32, {out});
    }
    hl[l].activation = dl[l].activation = act[l];
    hl[l].negative_slope = dl[l].negative_slope = 0.2;
  }
  auto near = [](double want, double got, const char* what, int l) {
    EXPECT_NEAR(got, want, 1e-4 * std::max(1.0, std::fabs(want))) << what << " layer " << l;
  };
  for (DType xt : {DType::f16, DType::f32}) {
    SCOPED_TRACE(paraminit::to_string(xt));
    Buffer x(xt, static_cast<std::size_t>(B * width[0]));
    paraminit::normal(cpu, view(x, {B, width[0]}), Key{8, 0}, {0.0, 1.0});
    DeviceBuffer dx(x.nbytes());
    CUDA_OK(cudaMemcpy(dx.p, x.data(), x.nbytes(), cudaMemcpyHostToDevice));
    const TensorView hx = view(x, {B, width[0]}), gx = TensorView::of(dx.p, xt, {B, width[0]});
    const auto a = paraminit::layer_statistics(cpu, hl, hx);
    const auto b = paraminit::layer_statistics(gpu, dl, gx);
    for (int l = 0; l < L; ++l)
      for (auto [sa, sb, what] : {std::tuple{a[l].pre_activation, b[l].pre_activation, "pre-activation"},
                                  std::tuple{a[l].activation, b[l].activation, "activation"},
                                  std::tuple{a[l].gradient, b[l].gradient, "gradient"}}) {
        near(sa.mean, sb.mean, what, l), near(sa.std, sb.std, what, l), near(sa.min, sb.min, what, l);
        near(sa.max, sb.max, what, l), near(sa.log_rms, sb.log_rms, what, l);
      }
  }
  // LSUV (f32 minibatch): the same iterations, std_after, and weights left in device memory.
  Buffer x(DType::f32, static_cast<std::size_t>(B * width[0]));
  paraminit::normal(cpu, view(x, {B, width[0]}), Key{8, 1}, {0.0, 1.0});
  DeviceBuffer dx(x.nbytes());
  CUDA_OK(cudaMemcpy(dx.p, x.data(), x.nbytes(), cudaMemcpyHostToDevice));
  paraminit::LsuvOptions o;
  o.tolerance = 0.01;
  const auto ra = paraminit::calibrate_lsuv(cpu, hl, view(x, {B, width[0]}), o);
  const auto rb = paraminit::calibrate_lsuv(gpu, dl, TensorView::of(dx.p, DType::f32, {B, width[0]}), o);
  for (int l = 0; l < L; ++l) {
    EXPECT_EQ(ra[l].iterations, rb[l].iterations) << l;
    EXPECT_TRUE(rb[l].converged) << l;
    near(ra[l].std_after, rb[l].std_after, "LSUV std_after", l);
    Buffer back(hw[l].dtype, hw[l].n);
    CUDA_OK(cudaMemcpy(back.data(), dw[l].p, back.nbytes(), cudaMemcpyDeviceToHost));
    double worst = 0;
    for (std::size_t i = 0; i < hw[l].n; ++i)
      worst = std::max(worst, std::fabs(back.at(i) - hw[l].at(i)) / std::max(1e-3, std::fabs(hw[l].at(i))));
    // f32: the same scale factors to ~1e-5; bf16: a value may round to the neighbouring bf16 value
    // (relative spacing at most 2^-7) where the two scales straddle a rounding boundary.
    EXPECT_LE(worst, hw[l].dtype == DType::bf16 ? 1.0 / 128 : 1e-4) << "layer " << l;
  }
}

}  // namespace
