// Bad input (shared/DESIGN.md section 5): every case returns its documented code, a message that
// names the problem, and leaves a poisoned output buffer unchanged. Zero-size tensors are valid.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <functional>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "paraminit/paraminit.h"
#include "paraminit/paraminit.hpp"
#include "test_util.hpp"
#include "../host/thread_pool.hpp"

namespace {
using namespace paraminit_test;
using paraminit::Context;
using paraminit::Status;
using paraminit::TensorView;

constexpr unsigned char kPoison = 0xA5;

// Runs fn on a poisoned buffer; expects paraminit::Error with `code` whose message contains every
// one of `words`, and the buffer unchanged.
void expect_error(Status code, std::vector<std::string> words, const std::function<void(TensorView&)>& fn,
                  DType t = DType::f32, std::size_t n = 64) {
  Buffer b(t, n);
  b.poison(kPoison);
  TensorView v = b.view1d();
  try {
    fn(v);
    ADD_FAILURE() << "no error; expected " << paraminit::to_string(code);
  } catch (const paraminit::Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    for (const auto& w : words) EXPECT_NE(std::string(e.what()).find(w), std::string::npos) << "'" << w << "' not in: " << e.what();
  }
  EXPECT_TRUE(b.all_bytes_are(kPoison)) << "the buffer was written";
}

Context& cpu() { return paraminit_test::ctx(); }
const paraminit::Key kKey{1, 2};
const double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();

// TensorView::of with a run-time shape: the same view as the initializer_list form; bad ranks and a
// null shape are rejected when the view is used, not when it is made.
TEST(Errors, RunTimeShapes) {
  const std::int64_t shape[3] = {4, 2, 8};
  float x[64] = {};
  const TensorView a = TensorView::of(x, DType::f32, shape, 3), b = TensorView::of(x, DType::f32, {4, 2, 8});
  EXPECT_EQ(a.rank, b.rank);
  for (int d = 0; d < paraminit::kMaxRank; ++d) EXPECT_EQ(a.shape[d], b.shape[d]) << d;
  EXPECT_EQ(a.window_dim, -1);
  EXPECT_EQ(TensorView::of(x, DType::f32, nullptr, 0).numel(), 1);  // a scalar needs no extents
  const std::int64_t nine[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
  expect_error(Status::invalid_argument, {"rank 9", "0..8"},
               [&](TensorView& v) { paraminit::uniform(cpu(), TensorView::of(v.data, v.dtype, nine, 9), kKey, {}); });
  expect_error(Status::invalid_argument, {"rank -1"},
               [&](TensorView& v) { paraminit::uniform(cpu(), TensorView::of(v.data, v.dtype, nullptr, 2), kKey, {}); });
}

// No parameter is std::nullopt (the activation's default); NaN is a given, non-finite parameter.
TEST(Errors, GainParameters) {
  EXPECT_EQ(paraminit::calculate_gain(paraminit::Nonlinearity::leaky_relu), paraminit::calculate_gain(paraminit::Nonlinearity::leaky_relu, 0.01));
  EXPECT_EQ(paraminit::calculate_gain(paraminit::Nonlinearity::relu, std::nullopt), std::sqrt(2.0));
  expect_error(Status::invalid_argument, {"negative_slope = nan", "not finite"},
               [&](TensorView&) { paraminit::calculate_gain(paraminit::Nonlinearity::leaky_relu, kNaN); });
  expect_error(Status::invalid_argument, {"relu takes no parameter"},
               [&](TensorView&) { paraminit::quadrature_gain(paraminit::Nonlinearity::relu, 0.5); });
}

TEST(Errors, ViewProblems) {
  auto uni = [](TensorView& v) { paraminit::uniform(cpu(), v, kKey, {}); };
  expect_error(Status::invalid_argument, {"data is null"}, [&](TensorView& v) { v.data = nullptr; uni(v); });
  expect_error(Status::invalid_argument, {"rank 9", "0..8"}, [&](TensorView& v) { v.rank = 9; uni(v); });
  expect_error(Status::invalid_argument, {"rank -1"}, [&](TensorView& v) { v.rank = -1; uni(v); });
  expect_error(Status::invalid_argument, {"shape[1] = -4", "negative"}, [&](TensorView& v) {
    v.rank = 2, v.shape[0] = 8, v.shape[1] = -4;
    uni(v);
  });
  expect_error(Status::invalid_argument, {"overflows"}, [&](TensorView& v) {
    v.rank = 3, v.shape[0] = v.shape[1] = v.shape[2] = std::int64_t{1} << 22;
    uni(v);
  });
  expect_error(Status::invalid_argument, {"byte size overflows"}, [&](TensorView& v) {
    v.rank = 2, v.shape[0] = std::int64_t{1} << 31, v.shape[1] = std::int64_t{1} << 31;  // 2^62 f32
    uni(v);
  });
  expect_error(Status::invalid_argument, {"window", "outside the global extent 16"}, [&](TensorView& v) {
    v = v.window(0, 10, 16);  // [10, 74) of 16
    uni(v);
  });
  expect_error(Status::invalid_argument, {"window", "outside"}, [&](TensorView& v) {
    v = v.window(0, -1, 100);
    uni(v);
  });
  expect_error(Status::invalid_argument, {"window_dim 1"}, [&](TensorView& v) {
    v = v.window(1, 0, 64);
    uni(v);
  });
  expect_error(Status::invalid_argument, {"dtype 7"}, [&](TensorView& v) {
    v.dtype = static_cast<DType>(7);
    uni(v);
  });
  expect_error(Status::invalid_argument, {"not aligned to 4 bytes"}, [&](TensorView& v) {
    v.data = static_cast<char*>(v.data) + 2;
    v.shape[0] = 8;
    uni(v);
  });
}

TEST(Errors, ParameterProblems) {
  using paraminit::normal;
  using paraminit::trunc_normal;
  using paraminit::uniform;
  expect_error(Status::invalid_argument, {"low = 1", "less than high = -1"}, [](TensorView& v) { uniform(cpu(), v, kKey, {1, -1}); });
  expect_error(Status::invalid_argument, {"low = 2", "high = 2"}, [](TensorView& v) { uniform(cpu(), v, kKey, {2, 2}); });
  expect_error(Status::invalid_argument, {"high = inf", "not finite"}, [](TensorView& v) { uniform(cpu(), v, kKey, {0, kInf}); });
  expect_error(Status::invalid_argument, {"low = nan"}, [](TensorView& v) { uniform(cpu(), v, kKey, {kNaN, 1}); });
  expect_error(Status::invalid_argument, {"high = 1e+05", "range of f16"},
               [](TensorView& v) { uniform(cpu(), v, kKey, {0, 1e5}); }, DType::f16);
  expect_error(Status::invalid_argument, {"no bf16 value lies strictly between"},
               [](TensorView& v) { uniform(cpu(), v, kKey, {1.0, 1.001}); }, DType::bf16);
  expect_error(Status::invalid_argument, {"std = -1", "negative"}, [](TensorView& v) { normal(cpu(), v, kKey, {0, -1}); });
  expect_error(Status::invalid_argument, {"mean = nan"}, [](TensorView& v) { normal(cpu(), v, kKey, {kNaN, 1}); });
  expect_error(Status::invalid_argument, {"beyond the range of f16"}, [](TensorView& v) { normal(cpu(), v, kKey, {0, 1e4}); }, DType::f16);
  expect_error(Status::invalid_argument, {"std = 0", "positive"}, [](TensorView& v) { trunc_normal(cpu(), v, kKey, {0, 0, -1, 1}); });
  expect_error(Status::invalid_argument, {"low = 1", "less than high = 1"}, [](TensorView& v) { trunc_normal(cpu(), v, kKey, {0, 1, 1, 1}); });
  expect_error(Status::invalid_argument, {"high = -inf"}, [](TensorView& v) { trunc_normal(cpu(), v, kKey, {0, 1, -1, -kInf}); });
  expect_error(Status::unsupported, {"more than 36 std"}, [](TensorView& v) { trunc_normal(cpu(), v, kKey, {0, 1, 40, 41}); });
  expect_error(Status::invalid_argument, {"no bf16 value lies in"},
               [](TensorView& v) { trunc_normal(cpu(), v, kKey, {1, 1, 1.0001, 1.0002}); }, DType::bf16);
  expect_error(Status::invalid_argument, {"std = 1e+39", "range of f32"}, [](TensorView& v) { trunc_normal(cpu(), v, kKey, {0, 1e39, -1, 1}); }, DType::bf16);
  expect_error(Status::invalid_argument, {"value = nan"}, [](TensorView& v) { paraminit::constant(cpu(), v, kNaN); });
  expect_error(Status::invalid_argument, {"overflows f16"}, [](TensorView& v) { paraminit::constant(cpu(), v, 7e4); }, DType::f16);
}

TEST(Errors, ContextProblems) {
  try {
    (void)Context::cpu(-3);
    ADD_FAILURE();
  } catch (const paraminit::Error& e) {
    EXPECT_EQ(e.code(), Status::invalid_argument);
    EXPECT_NE(std::string(e.what()).find("threads = -3"), std::string::npos);
  }
  try {
    (void)Context::cuda(paraminit::cuda_device_count() + 5);
    ADD_FAILURE();
  } catch (const paraminit::Error& e) {
    EXPECT_EQ(e.code(), paraminit::cuda_built() ? Status::device : Status::unsupported) << e.what();
    EXPECT_NE(std::string(e.what()).find(paraminit::cuda_built() ? "does not exist" : "no CUDA backend"), std::string::npos);
  }
}

// Zero-size views are valid, do nothing, and accept a null pointer; parameters are still checked.
TEST(Errors, ZeroSizeIsValid) {
  TensorView v = TensorView::of(nullptr, DType::f32, {0, 128});
  EXPECT_NO_THROW(paraminit::uniform(cpu(), v, kKey, {}));
  EXPECT_NO_THROW(paraminit::normal(cpu(), v, kKey, {}));
  EXPECT_NO_THROW(paraminit::trunc_normal(cpu(), v, kKey, {}));
  EXPECT_NO_THROW(paraminit::constant(cpu(), v, 1.0));
  EXPECT_THROW(paraminit::uniform(cpu(), v, kKey, {1, 0}), paraminit::Error);
  TensorView w = TensorView::of(nullptr, DType::f16, {4, 0}).window(0, 2, 10);
  EXPECT_NO_THROW(paraminit::uniform(cpu(), w, kKey, {}));
}

// The C API returns the documented codes and keeps the message; the buffer stays poisoned.
TEST(Errors, CApiCodesAndMessages) {
  pi_context* ctx = nullptr;
  ASSERT_EQ(pi_context_create_cpu(1, &ctx), PI_OK);
  Buffer b(DType::f32, 16);
  b.poison(kPoison);
  const std::int64_t shape[1] = {16};
  pi_tensor t = pi_tensor_make(b.data(), PI_F32, 1, shape);
  EXPECT_EQ(pi_trunc_normal(ctx, &t, pi_key{1, 2}, 0, 1, 50, 60), PI_ERR_UNSUPPORTED);
  EXPECT_NE(std::string(pi_last_error()).find("36 std"), std::string::npos);
  t.rank = 12;
  EXPECT_EQ(pi_uniform(ctx, &t, pi_key{1, 2}, 0, 1), PI_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(pi_last_error()).find("rank 12"), std::string::npos);
  EXPECT_TRUE(b.all_bytes_are(kPoison));
  EXPECT_EQ(pi_context_create_cpu(1, nullptr), PI_ERR_INVALID_ARGUMENT);
  pi_context_destroy(ctx);
}

// A task that throws (sparse allocates inside its tasks: std::bad_alloc) must reach the caller of
// run() as that exception, after every worker has left the job: the job's function and what it
// captures are the caller's stack, gone once run() returns. Before the fix a throw on a worker ended
// the process (std::terminate) and one on the calling thread left run() with workers still in it.
TEST(ThreadPool, ATaskThatThrowsReachesTheCallerAfterTheJobDrains) {
  paraminit::detail::ThreadPool pool(4);
  std::atomic<int> in_task{0};
  std::atomic<bool> returned{false};
  std::atomic<int> late{0};  // tasks running or starting after run() returned
  for (int round = 0; round < 300; ++round) {
    returned = false;
    const std::int64_t bad = 7 + round % 50;  // several throwing indices, each task a little work
    try {
      pool.run(400, [&](std::int64_t i) {
        in_task.fetch_add(1);
        struct Leave {
          std::atomic<int>& n;
          ~Leave() { n.fetch_sub(1); }
        } leave{in_task};
        if (returned.load()) late.fetch_add(1);
        volatile double x = 0;
        for (int k = 0; k < 200; ++k) x = x + static_cast<double>(k) * 1e-3;
        if (i % 61 == bad % 61) throw std::runtime_error("task " + std::to_string(i));
        if (returned.load()) late.fetch_add(1);
      });
      ADD_FAILURE() << "round " << round << ": no exception";
    } catch (const std::runtime_error& e) {
      returned = true;
      EXPECT_EQ(std::string(e.what()).rfind("task ", 0), 0u) << e.what();
      const std::int64_t i = std::stoll(std::string(e.what()).substr(5));
      EXPECT_EQ(i % 61, bad % 61) << "round " << round << ": the exception of a task that did not throw: " << e.what();
    }
    EXPECT_EQ(in_task.load(), 0) << "round " << round << ": a worker is still in the job after run() returned";
  }
  EXPECT_EQ(late.load(), 0) << "tasks ran after run() returned";
  // The pool still works, every task exactly once.
  for (int round = 0; round < 20; ++round) {
    std::vector<std::atomic<int>> hits(5000);
    pool.run(5000, [&](std::int64_t i) { hits[static_cast<std::size_t>(i)].fetch_add(1); });
    for (std::size_t i = 0; i < hits.size(); ++i) ASSERT_EQ(hits[i].load(), 1) << "round " << round << ", task " << i;
  }
}

}  // namespace
