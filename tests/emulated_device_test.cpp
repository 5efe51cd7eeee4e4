// Tests of the emulated device itself (emulate/) and of the library's CUDA behaviour that only the
// emulation can observe (label emulated; built only with PARAMINIT_CUDA=EMULATE).
//  1. The emulation fails where the real device and libraries fail: bad launch configurations,
//     copies outside an allocation or in the wrong direction, synchronizing a capturing stream,
//     cuBLAS leading dimensions, a cuSOLVER workspace one element short. Without this, a wrong call
//     in the library could pass quietly.
//  2. Its results match independent references: a block reduction through shared memory and
//     __syncthreads (the fiber scheduler), and cuBLAS gemm / syrk / geam against naive loops over
//     column-major indices written here.
//  3. Library contracts: element-wise fills allocate nothing and never synchronize; every call
//     restores the calling thread's CUDA context exactly (none stays none: no primary context is
//     created on a device the caller never used); device memory of another device is refused.
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cusolverDn.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "paraminit/calibrate.hpp"
#include "paraminit/paraminit.hpp"

namespace {

using paraminit::Context;
using paraminit::DType;
using paraminit::Key;
using paraminit::TensorView;

struct DeviceBuffer {
  void* p = nullptr;
  explicit DeviceBuffer(std::size_t n) { EXPECT_EQ(cudaMalloc(&p, n), cudaSuccess); }
  ~DeviceBuffer() { cudaFree(p); }
  template <class T>
  T* as() const {
    return static_cast<T*>(p);
  }
};

cudaLaunchConfig_t config(unsigned grid, unsigned block) {
  cudaLaunchConfig_t c = {};
  c.gridDim = dim3(grid, 1, 1);
  c.blockDim = dim3(block, 1, 1);
  return c;
}

__global__ void write_index(unsigned* out) { out[blockIdx.x * blockDim.x + threadIdx.x] = blockIdx.x * 1000 + threadIdx.x; }

// A shared-memory tree reduction of each block's 256 values: wrong unless every thread waits at
// each barrier for all the others.
__global__ void block_sum(const float* in, float* out) {
  __shared__ float s[256];
  const unsigned t = threadIdx.x;
  s[t] = in[blockIdx.x * 256 + t];
  __syncthreads();
  for (unsigned half = 128; half > 0; half /= 2) {
    if (t < half) s[t] += s[t + half];
    __syncthreads();
  }
  if (t == 0) out[blockIdx.x] = s[0];
}

TEST(EmulatedDevice, LaunchConfigurationsTheDeviceRejects) {
  DeviceBuffer d(4096 * sizeof(unsigned));
  auto* out = d.as<unsigned>();
  cudaLaunchConfig_t c = config(0, 32);
  EXPECT_EQ(cudaLaunchKernelEx(&c, write_index, out), cudaErrorInvalidConfiguration);  // an empty grid
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidConfiguration);
  c = config(1, 1025);
  EXPECT_EQ(cudaLaunchKernelEx(&c, write_index, out), cudaErrorInvalidConfiguration);  // > 1024 threads
  c = config(4, 1024);
  ASSERT_EQ(cudaLaunchKernelEx(&c, write_index, out), cudaSuccess);
  std::vector<unsigned> h(4096);
  ASSERT_EQ(cudaMemcpy(h.data(), out, h.size() * 4, cudaMemcpyDeviceToHost), cudaSuccess);
  for (unsigned i = 0; i < 4096; ++i) ASSERT_EQ(h[i], (i / 1024) * 1000 + i % 1024);
}

TEST(EmulatedDevice, BarriersAreHonoured) {
  const int blocks = 37;
  std::vector<float> in(blocks * 256);
  for (std::size_t i = 0; i < in.size(); ++i) in[i] = static_cast<float>(i % 251) - 100.0f;  // exact sums
  DeviceBuffer din(in.size() * 4), dout(blocks * 4);
  ASSERT_EQ(cudaMemcpy(din.p, in.data(), in.size() * 4, cudaMemcpyHostToDevice), cudaSuccess);
  cudaLaunchConfig_t c = config(blocks, 256);
  ASSERT_EQ(cudaLaunchKernelEx(&c, block_sum, din.as<const float>(), dout.as<float>()), cudaSuccess);
  std::vector<float> out(blocks);
  ASSERT_EQ(cudaMemcpy(out.data(), dout.p, out.size() * 4, cudaMemcpyDeviceToHost), cudaSuccess);
  for (int b = 0; b < blocks; ++b) {
    double want = 0;
    for (int t = 0; t < 256; ++t) want += in[b * 256 + t];
    EXPECT_EQ(out[b], static_cast<float>(want)) << "block " << b;
  }
}

TEST(EmulatedDevice, CopiesOutsideAnAllocationOrInTheWrongDirectionFail) {
  DeviceBuffer d(64);
  std::vector<unsigned char> h(128, 7);
  EXPECT_EQ(cudaMemcpy(d.p, h.data(), 65, cudaMemcpyHostToDevice), cudaErrorInvalidValue);  // one byte past the end
  EXPECT_EQ(cudaMemcpy(static_cast<char*>(d.p) + 1, h.data(), 64, cudaMemcpyHostToDevice), cudaErrorInvalidValue);
  EXPECT_EQ(cudaMemcpy(h.data(), d.p, 64, cudaMemcpyHostToDevice), cudaErrorInvalidValue);  // swapped direction
  EXPECT_EQ(cudaMemset(h.data(), 0, 8), cudaErrorInvalidValue);                            // host memory
  EXPECT_EQ(cudaMemcpy(d.p, h.data(), 64, cudaMemcpyHostToDevice), cudaSuccess);
  (void)cudaGetLastError();
  EXPECT_EQ(cudaFree(static_cast<char*>(d.p) + 8), cudaErrorInvalidValue);  // not an allocation's base
  (void)cudaGetLastError();
}

TEST(EmulatedDevice, SynchronizingACapturingStreamInvalidatesTheCapture) {
  cudaStream_t s;
  ASSERT_EQ(cudaStreamCreate(&s), cudaSuccess);
  ASSERT_EQ(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal), cudaSuccess);
  EXPECT_EQ(cudaStreamSynchronize(s), cudaErrorStreamCaptureUnsupported);
  cudaGraph_t g = nullptr;
  EXPECT_EQ(cudaStreamEndCapture(s, &g), cudaErrorStreamCaptureInvalidated);
  (void)cudaGetLastError();
  // Work captured is recorded, not run, until the graph is launched.
  DeviceBuffer d(16 * 4);
  ASSERT_EQ(cudaMemset(d.p, 0, 64), cudaSuccess);
  ASSERT_EQ(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal), cudaSuccess);
  cudaLaunchConfig_t c = config(1, 16);
  c.stream = s;
  ASSERT_EQ(cudaLaunchKernelEx(&c, write_index, d.as<unsigned>()), cudaSuccess);
  ASSERT_EQ(cudaStreamEndCapture(s, &g), cudaSuccess);
  unsigned h[16];
  ASSERT_EQ(cudaMemcpy(h, d.p, 64, cudaMemcpyDeviceToHost), cudaSuccess);
  EXPECT_EQ(h[5], 0u);
  cudaGraphExec_t e;
  ASSERT_EQ(cudaGraphInstantiate(&e, g, 0), cudaSuccess);
  ASSERT_EQ(cudaGraphLaunch(e, s), cudaSuccess);
  ASSERT_EQ(cudaStreamSynchronize(s), cudaSuccess);
  ASSERT_EQ(cudaMemcpy(h, d.p, 64, cudaMemcpyDeviceToHost), cudaSuccess);
  EXPECT_EQ(h[5], 5u);
  cudaGraphExecDestroy(e);
  cudaGraphDestroy(g);
  cudaStreamDestroy(s);
}

// Column-major element (i, j) of op(X) for X stored with leading dimension ld.
float at(const std::vector<float>& x, std::int64_t ld, bool t, std::int64_t i, std::int64_t j) {
  return t ? x[static_cast<std::size_t>(j + i * ld)] : x[static_cast<std::size_t>(i + j * ld)];
}

TEST(EmulatedCublas, GemmSyrkGeamAgainstNaiveLoops) {
  cublasHandle_t h;
  ASSERT_EQ(cublasCreate(&h), CUBLAS_STATUS_SUCCESS);
  const std::int64_t m = 5, n = 7, k = 3;
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      const std::int64_t lda = (ta ? k : m) + 2, ldb = (tb ? n : k) + 1, ldc = m + 3;
      std::vector<float> a(static_cast<std::size_t>(lda * (ta ? m : k))), b(static_cast<std::size_t>(ldb * (tb ? k : n)));
      std::vector<float> c(static_cast<std::size_t>(ldc * n), 0.5f);
      for (std::size_t i = 0; i < a.size(); ++i) a[i] = static_cast<float>(static_cast<int>(i % 7) - 3);
      for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<float>(static_cast<int>(i % 5) - 2);
      DeviceBuffer da(a.size() * 4), db(b.size() * 4), dc(c.size() * 4);
      cudaMemcpy(da.p, a.data(), a.size() * 4, cudaMemcpyHostToDevice);
      cudaMemcpy(db.p, b.data(), b.size() * 4, cudaMemcpyHostToDevice);
      cudaMemcpy(dc.p, c.data(), c.size() * 4, cudaMemcpyHostToDevice);
      const float alpha = 2, beta = -1;
      ASSERT_EQ(cublasSgemm_64(h, ta ? CUBLAS_OP_T : CUBLAS_OP_N, tb ? CUBLAS_OP_T : CUBLAS_OP_N, m, n, k, &alpha, da.as<float>(), lda,
                               db.as<float>(), ldb, &beta, dc.as<float>(), ldc),
                CUBLAS_STATUS_SUCCESS);
      std::vector<float> got(c.size());
      cudaMemcpy(got.data(), dc.p, got.size() * 4, cudaMemcpyDeviceToHost);
      for (std::int64_t j = 0; j < n; ++j)
        for (std::int64_t i = 0; i < m; ++i) {
          float want = 0;  // small integers: exact in any order
          for (std::int64_t l = 0; l < k; ++l) want += at(a, lda, ta, i, l) * at(b, ldb, tb, l, j);
          EXPECT_EQ(got[static_cast<std::size_t>(i + j * ldc)], alpha * want + beta * 0.5f) << ta << tb << " " << i << "," << j;
        }
      // A leading dimension below the rows of the stored operand is refused, as the real call does.
      EXPECT_EQ(cublasSgemm_64(h, ta ? CUBLAS_OP_T : CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, &alpha, da.as<float>(), (ta ? k : m) - 1,
                               db.as<float>(), ldb, &beta, dc.as<float>(), ldc),
                CUBLAS_STATUS_INVALID_VALUE);
      // An operand that would be read past its allocation is refused too.
      EXPECT_EQ(cublasSgemm_64(h, CUBLAS_OP_N, CUBLAS_OP_N, m, n + 40, k, &alpha, da.as<float>(), lda, db.as<float>(), ldb, &beta,
                               dc.as<float>(), ldc),
                CUBLAS_STATUS_INVALID_VALUE);
    }
  // syrk (upper, A^T A of a 4 x 3 A) and geam (a transpose).
  const std::vector<float> a = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};  // 4 x 3 column-major, ld 4
  DeviceBuffer da(a.size() * 4), dg(9 * 4), dt(12 * 4);
  cudaMemcpy(da.p, a.data(), 48, cudaMemcpyHostToDevice);
  const float one = 1, zero = 0;
  ASSERT_EQ(cublasSsyrk_v2_64(h, CUBLAS_FILL_MODE_UPPER, CUBLAS_OP_T, 3, 4, &one, da.as<float>(), 4, &zero, dg.as<float>(), 3),
            CUBLAS_STATUS_SUCCESS);
  ASSERT_EQ(cublasSgeam_64(h, CUBLAS_OP_T, CUBLAS_OP_N, 3, 4, &one, da.as<float>(), 4, &zero, dt.as<float>(), 3, dt.as<float>(), 3),
            CUBLAS_STATUS_SUCCESS);
  std::vector<float> g(9), t(12);
  cudaMemcpy(g.data(), dg.p, 36, cudaMemcpyDeviceToHost);
  cudaMemcpy(t.data(), dt.p, 48, cudaMemcpyDeviceToHost);
  for (int i = 0; i < 3; ++i)
    for (int j = i; j < 3; ++j) {
      float want = 0;
      for (int r = 0; r < 4; ++r) want += a[r + i * 4] * a[r + j * 4];
      EXPECT_EQ(g[i + j * 3], want) << i << "," << j;
    }
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 4; ++j) EXPECT_EQ(t[i + j * 3], a[j + i * 4]);
  // geam in place with a transposed B is not allowed.
  EXPECT_EQ(cublasSgeam_64(h, CUBLAS_OP_N, CUBLAS_OP_T, 3, 3, &one, dg.as<float>(), 3, &one, dg.as<float>(), 3, dg.as<float>(), 3),
            CUBLAS_STATUS_INVALID_VALUE);
  cublasDestroy(h);
}

TEST(EmulatedCusolver, AWorkspaceOneElementShortIsAWrongParameter) {
  cusolverDnHandle_t h;
  cusolverDnParams_t params;
  ASSERT_EQ(cusolverDnCreate(&h), CUSOLVER_STATUS_SUCCESS);
  ASSERT_EQ(cusolverDnCreateParams(&params), CUSOLVER_STATUS_SUCCESS);
  const std::int64_t m = 40, n = 12;
  std::vector<double> a(m * n);
  for (std::size_t i = 0; i < a.size(); ++i) a[i] = std::sin(static_cast<double>(i) + 1.0);
  DeviceBuffer da(a.size() * 8), dtau(n * 8), dinfo(sizeof(int));
  cudaMemcpy(da.p, a.data(), a.size() * 8, cudaMemcpyHostToDevice);
  std::size_t dev = 0, host = 0;
  ASSERT_EQ(cusolverDnXgeqrf_bufferSize(h, params, m, n, CUDA_R_64F, da.p, m, CUDA_R_64F, dtau.p, CUDA_R_64F, &dev, &host),
            CUSOLVER_STATUS_SUCCESS);
  ASSERT_GT(dev, 8u);
  DeviceBuffer ws(dev);
  int info = 0;
  ASSERT_EQ(cusolverDnXgeqrf(h, params, m, n, CUDA_R_64F, da.p, m, CUDA_R_64F, dtau.p, CUDA_R_64F, ws.p, dev - 8, nullptr, 0,
                             dinfo.as<int>()),
            CUSOLVER_STATUS_SUCCESS);
  cudaMemcpy(&info, dinfo.p, sizeof info, cudaMemcpyDeviceToHost);
  EXPECT_EQ(info, -11);
  // A workspace pointer whose allocation is smaller than the size passed is refused outright.
  DeviceBuffer small(dev - 8);
  EXPECT_EQ(cusolverDnXgeqrf(h, params, m, n, CUDA_R_64F, da.p, m, CUDA_R_64F, dtau.p, CUDA_R_64F, small.p, dev, nullptr, 0,
                             dinfo.as<int>()),
            CUSOLVER_STATUS_INVALID_VALUE);
  ASSERT_EQ(cusolverDnXgeqrf(h, params, m, n, CUDA_R_64F, da.p, m, CUDA_R_64F, dtau.p, CUDA_R_64F, ws.p, dev, nullptr, 0,
                             dinfo.as<int>()),
            CUSOLVER_STATUS_SUCCESS);
  cudaMemcpy(&info, dinfo.p, sizeof info, cudaMemcpyDeviceToHost);
  EXPECT_EQ(info, 0);
  int lwork = 0;
  ASSERT_EQ(cusolverDnDorgqr_bufferSize(h, m, n, n, da.as<double>(), m, dtau.as<double>(), &lwork), CUSOLVER_STATUS_SUCCESS);
  DeviceBuffer ow(static_cast<std::size_t>(lwork) * 8);
  ASSERT_EQ(cusolverDnDorgqr(h, m, n, n, da.as<double>(), m, dtau.as<double>(), ow.as<double>(), lwork - 1, dinfo.as<int>()),
            CUSOLVER_STATUS_SUCCESS);
  cudaMemcpy(&info, dinfo.p, sizeof info, cudaMemcpyDeviceToHost);
  EXPECT_EQ(info, -8);
  // devInfo in host memory: the real call writes it from the device.
  EXPECT_EQ(cusolverDnDorgqr(h, m, n, n, da.as<double>(), m, dtau.as<double>(), ow.as<double>(), lwork, &info),
            CUSOLVER_STATUS_INVALID_VALUE);
  cusolverDnDestroyParams(params);
  cusolverDnDestroy(h);
}

// DESIGN section 6: element-wise fills allocate nothing and never synchronize (so they are safe in
// a CUDA graph and never stall a training step); they do launch kernels.
TEST(EmulatedContract, ElementWiseFillsAllocateNothingAndNeverSynchronize) {
  DeviceBuffer d(64 * 96 * 8);
  Context gpu = Context::cuda(0);
  const auto before = paraminit_emu::counters();
  for (DType t : {DType::f32, DType::f64, DType::f16, DType::bf16}) {
    const TensorView v = TensorView::of(d.p, t, {64, 96});
    paraminit::uniform(gpu, v, Key{1, 2}, {-1, 1});
    paraminit::normal(gpu, v, Key{1, 2}, {});
    paraminit::trunc_normal(gpu, v, Key{1, 2}, {});
    paraminit::constant(gpu, v, 0.5);
    paraminit::he_normal(gpu, v, Key{1, 2});
    paraminit::glorot_uniform(gpu, v.window(1, 0, 96), Key{1, 2});
    paraminit::eye(gpu, v);
    paraminit::SparseOptions few, many;
    few.nonzeros_per_unit = 2;  // the scatter path (memset + one thread per kept element)
    many.nonzeros_per_unit = 60;  // the mask path
    paraminit::sparse(gpu, v, Key{1, 2}, few);
    paraminit::sparse(gpu, v, Key{1, 2}, many);
  }
  const auto after = paraminit_emu::counters();
  EXPECT_EQ(after.allocations, before.allocations);
  EXPECT_EQ(after.synchronizations, before.synchronizations);
  EXPECT_GE(after.launches - before.launches, 4u * 8u);
}

// DeviceGuard: a thread that has no current context (it never used CUDA) still has none after the
// library worked on device 1 for it -- no primary context appears on device 0 -- and a thread whose
// current device is 0 is back on device 0.
TEST(EmulatedContract, EveryCallRestoresTheCallersContextExactly) {
  int count = 0;
  ASSERT_EQ(cudaGetDeviceCount(&count), cudaSuccess);
  ASSERT_GE(count, 2) << "the emulation has 2 devices unless PARAMINIT_EMULATED_DEVICES says otherwise";
  void* mem = nullptr;
  std::thread owner([&] {  // device 1 memory, allocated on a thread of its own
    ASSERT_EQ(cudaSetDevice(1), cudaSuccess);
    ASSERT_EQ(cudaMalloc(&mem, 256 * 256 * 4 + 4096), cudaSuccess);
  });
  owner.join();
  ASSERT_NE(mem, nullptr);
  std::thread fresh([&] {
    ASSERT_EQ(paraminit_emu::current_context_device(), -1);
    {
      Context gpu = Context::cuda(1);
      paraminit::normal(gpu, TensorView::of(mem, DType::f32, {256, 256}), Key{1, 1}, {});
      EXPECT_EQ(paraminit_emu::current_context_device(), -1) << "after a fill";
      paraminit::orthogonal(gpu, TensorView::of(mem, DType::f32, {256, 64}), Key{1, 1});
      EXPECT_EQ(paraminit_emu::current_context_device(), -1) << "after orthogonal";
      std::vector<paraminit::DenseLayer> layers(1);
      layers[0].weight = TensorView::of(mem, DType::f32, {16, 16});
      (void)paraminit::layer_statistics(gpu, layers, TensorView::of(static_cast<float*>(mem) + 256, DType::f32, {8, 16}));
      EXPECT_EQ(paraminit_emu::current_context_device(), -1) << "after layer_statistics";
    }  // the context's cuBLAS / cuSOLVER state is destroyed here, on device 1
    EXPECT_EQ(paraminit_emu::current_context_device(), -1) << "after the context's destruction";
  });
  fresh.join();
  ASSERT_EQ(cudaSetDevice(0), cudaSuccess);
  {
    Context gpu = Context::cuda(1);
    paraminit::uniform(gpu, TensorView::of(mem, DType::f32, {64}), Key{1, 1}, {});
  }
  int dev = -1;
  ASSERT_EQ(cudaGetDevice(&dev), cudaSuccess);
  EXPECT_EQ(dev, 0);
  std::thread freer([&] {
    cudaSetDevice(1);
    cudaFree(mem);
  });
  freer.join();
}

TEST(EmulatedContract, MemoryOfAnotherDeviceIsRefusedBeforeAnythingIsWritten) {
  ASSERT_EQ(cudaSetDevice(1), cudaSuccess);
  void* mem = nullptr;
  ASSERT_EQ(cudaMalloc(&mem, 64 * 4), cudaSuccess);
  ASSERT_EQ(cudaMemset(mem, 0x5A, 64 * 4), cudaSuccess);
  ASSERT_EQ(cudaSetDevice(0), cudaSuccess);
  Context gpu = Context::cuda(0);
  try {
    paraminit::uniform(gpu, TensorView::of(mem, DType::f32, {64}), Key{}, {});
    ADD_FAILURE() << "device 1 memory accepted by a device 0 context";
  } catch (const paraminit::Error& e) {
    EXPECT_EQ(e.code(), paraminit::Status::invalid_argument);
    EXPECT_NE(std::string(e.what()).find("memory of CUDA device 1 but the context is on device 0"), std::string::npos) << e.what();
  }
  ASSERT_EQ(cudaSetDevice(1), cudaSuccess);
  unsigned char back[256];
  ASSERT_EQ(cudaMemcpy(back, mem, 256, cudaMemcpyDeviceToHost), cudaSuccess);
  for (unsigned char b : back) ASSERT_EQ(b, 0x5A);
  cudaFree(mem);
  ASSERT_EQ(cudaSetDevice(0), cudaSuccess);
}

}  // namespace
