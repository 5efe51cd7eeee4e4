// Fills from several host threads: on one shared CPU Context (its pool takes one job at a time, so
// concurrent callers queue) and on one context per thread; contexts created and destroyed while
// another thread fills; the C API's pi_last_error kept per thread. Every concurrent result is
// compared bit for bit with the same fill done serially beforehand, on a 1-thread context, in the
// main thread (the reference: DESIGN's contract is that the thread count changes no bit).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "paraminit/paraminit.h"
#include "paraminit/paraminit.hpp"
#include "test_util.hpp"

namespace {
using namespace paraminit_test;
using paraminit::Context;
using paraminit::Key;
using paraminit::TensorView;

using FillFn = std::function<void(Context&, const TensorView&, Key)>;
struct Case {
  const char* name;
  DType dtype;
  std::vector<std::int64_t> shape;  // (units/out, in) for the 2-D fills
  FillFn fn;
};

// Shapes of a few pool chunks each (the pool splits by 64 Ki elements), ragged ends, every dtype.
std::vector<Case> cases() {
  std::vector<Case> c = {
      {"uniform", DType::bf16, {3 * 65536 + 17}, [](Context& x, const TensorView& t, Key k) { paraminit::uniform(x, t, k, {-0.3, 0.7}); }},
      {"normal", DType::f32, {2 * 65536 + 5}, [](Context& x, const TensorView& t, Key k) { paraminit::normal(x, t, k, {0.1, 0.5}); }},
      {"trunc_normal", DType::f64, {65536 + 3}, [](Context& x, const TensorView& t, Key k) { paraminit::trunc_normal(x, t, k, {0, 1, -1.5, 2.5}); }},
      // k * 32 <= fan: zeros, then the kept values scattered; 2k >= fan: dense fill, zeros scattered.
      {"sparse_few", DType::f16, {301, 640}, [](Context& x, const TensorView& t, Key k) { paraminit::sparse(x, t, k, {15, 0.05}); }},
      {"sparse_most", DType::f32, {257, 512}, [](Context& x, const TensorView& t, Key k) { paraminit::sparse(x, t, k, {400, 0.05}); }},
      {"he_normal", DType::bf16, {384, 3, 3, 65}, [](Context& x, const TensorView& t, Key k) { paraminit::he_normal(x, t, k); }},
  };
  if (paraminit::lapack_built())  // without LAPACK CPU orthogonal reports Status::unsupported (own test)
    c.push_back({"orthogonal", DType::f32, {96, 40}, [](Context& x, const TensorView& t, Key k) { paraminit::orthogonal(x, t, k); }});
  return c;
}

Key key_of(int thread, int round) { return Key{1000u + static_cast<unsigned>(thread), static_cast<unsigned>(round % 2)}; }

// refs[case][thread][round % 2]: each (case, key) filled serially on a 1-thread context.
using Refs = std::vector<std::vector<std::vector<Buffer>>>;
Refs serial_references(const std::vector<Case>& cs, int threads) {
  Context serial = Context::cpu(1);
  Refs refs(cs.size());
  for (std::size_t c = 0; c < cs.size(); ++c)
    for (int t = 0; t < threads; ++t) {
      refs[c].emplace_back();
      for (int r = 0; r < 2; ++r) {
        refs[c][t].emplace_back(cs[c].dtype, numel(cs[c].shape));
        cs[c].fn(serial, view(refs[c][t][r], cs[c].shape), key_of(t, r));
      }
    }
  return refs;
}

// What one worker thread found: mismatches and errors, counted (EXPECTs stay in the main thread).
struct Tally {
  int checked = 0, mismatched = 0, errors = 0;
  std::string first;
};

// `rounds` rounds of every case on `ctx`, each result compared with the serial reference. The
// buffer is poisoned before each fill so that an unwritten element cannot pass.
void worker(Context& ctx, const std::vector<Case>& cs, const Refs& refs, int thread, int rounds, Tally& out) {
  for (int r = 0; r < rounds; ++r)
    for (std::size_t c = 0; c < cs.size(); ++c) {
      const std::size_t ci = (c + static_cast<std::size_t>(thread)) % cs.size();  // threads start on different fills
      Buffer b(cs[ci].dtype, numel(cs[ci].shape));
      b.poison(0x7B);
      try {
        cs[ci].fn(ctx, view(b, cs[ci].shape), key_of(thread, r));
      } catch (const std::exception& e) {
        if (out.errors++ == 0 && out.first.empty()) out.first = std::string(cs[ci].name) + ": " + e.what();
        continue;
      }
      ++out.checked;
      const Buffer& ref = refs[ci][static_cast<std::size_t>(thread)][static_cast<std::size_t>(r % 2)];
      if (std::memcmp(b.bytes(), ref.bytes(), b.nbytes()) != 0 && out.mismatched++ == 0 && out.first.empty())
        out.first = std::string(cs[ci].name) + " differs from the serial fill, thread " + std::to_string(thread) +
                    " round " + std::to_string(r);
    }
}

void expect_clean(const std::vector<Tally>& tallies, int expected_checks) {
  for (std::size_t t = 0; t < tallies.size(); ++t) {
    EXPECT_EQ(tallies[t].checked, expected_checks) << "thread " << t << ": " << tallies[t].first;
    EXPECT_EQ(tallies[t].mismatched, 0) << "thread " << t << ": " << tallies[t].first;
    EXPECT_EQ(tallies[t].errors, 0) << "thread " << t << ": " << tallies[t].first;
  }
}

constexpr int kThreads = 4;  // more callers than the 2 cores: callers really interleave
constexpr int kRounds = 20;

// One context, 2 pool threads, used by 4 host threads at once: the promise of the Context comment.
TEST(Concurrency, SharedContextGivesTheSerialBits) {
  const auto cs = cases();
  const Refs refs = serial_references(cs, kThreads);
  Context shared = Context::cpu(2);
  std::vector<Tally> tallies(kThreads);
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t)
    ts.emplace_back([&, t] { worker(shared, cs, refs, t, kRounds, tallies[static_cast<std::size_t>(t)]); });
  for (auto& th : ts) th.join();
  expect_clean(tallies, kRounds * static_cast<int>(cs.size()));
}

// The same through the C API: one pi_context, several threads.
TEST(Concurrency, SharedCContextGivesTheSerialBits) {
  const std::int64_t n = 4 * 65536 + 9;
  Buffer ref(DType::f32, static_cast<std::size_t>(n));
  {
    Context serial = Context::cpu(1);
    paraminit::uniform(serial, ref.view1d(), Key{5, 6}, {-2.0, 3.0});
  }
  pi_context* c = nullptr;
  ASSERT_EQ(pi_context_create_cpu(2, &c), PI_OK) << pi_last_error();
  std::atomic<int> bad{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t)
    ts.emplace_back([&] {
      for (int r = 0; r < 8; ++r) {
        Buffer b(DType::f32, static_cast<std::size_t>(n));
        const pi_tensor pt = pi_tensor_make(b.data(), PI_F32, 1, &n);
        if (pi_uniform(c, &pt, pi_key{5, 6}, -2.0, 3.0) != PI_OK || std::memcmp(b.bytes(), ref.bytes(), ref.nbytes()) != 0) ++bad;
      }
    });
  for (auto& th : ts) th.join();
  pi_context_destroy(c);
  EXPECT_EQ(bad.load(), 0);
}

// One context per thread (the old rule): independent pools, the same bits.
TEST(Concurrency, ContextPerThreadGivesTheSerialBits) {
  const auto cs = cases();
  const Refs refs = serial_references(cs, kThreads);
  std::vector<Tally> tallies(kThreads);
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t)
    ts.emplace_back([&, t] {
      Context own = Context::cpu(1 + t % 3);  // 1, 2, 3 pool threads: the count changes no bit either
      worker(own, cs, refs, t, kRounds, tallies[static_cast<std::size_t>(t)]);
    });
  for (auto& th : ts) th.join();
  expect_clean(tallies, kRounds * static_cast<int>(cs.size()));
}

// Contexts (C++ and C) created, used and destroyed in one thread while another thread fills on
// its own context the whole time: pools start and join their workers without disturbing others.
TEST(Concurrency, ContextsComeAndGoWhileAnotherFills) {
  const auto cs = cases();
  const Refs refs = serial_references(cs, 1);
  std::atomic<bool> stop{false};
  std::atomic<int> churned{0}, churn_bad{0};
  std::thread churn([&] {
    Buffer small(DType::f32, 1000);
    Buffer small_ref(DType::f32, 1000);
    {
      Context serial = Context::cpu(1);
      paraminit::normal(serial, small_ref.view1d(), Key{77, 1});
    }
    while (!stop.load()) {
      {
        Context c = Context::cpu(1 + churned.load() % 4);
        paraminit::normal(c, small.view1d(), Key{77, 1});
        if (std::memcmp(small.bytes(), small_ref.bytes(), small.nbytes()) != 0) ++churn_bad;
      }
      pi_context* pc = nullptr;
      if (pi_context_create_cpu(2, &pc) != PI_OK) ++churn_bad;
      pi_context_destroy(pc);
      ++churned;
    }
  });
  while (churned.load() == 0) std::this_thread::yield();  // the churn is under way before the fills start
  const int before = churned.load();
  Tally tally;
  {
    Context mine = Context::cpu(2);
    worker(mine, cs, refs, 0, kRounds, tally);
  }
  const int during = churned.load() - before;
  stop = true;
  churn.join();
  expect_clean({tally}, kRounds * static_cast<int>(cs.size()));
  EXPECT_EQ(churn_bad.load(), 0);
  std::printf("  %d contexts created and destroyed while the other thread filled\n", during);
}

// pi_last_error is thread-local: two threads fail in different ways at the same moments (a spin
// barrier every 8 calls keeps them in step even when other work holds the cores; one per call made
// the test take 12 s under load), and each reads its own message; a success clears only its own.
TEST(Concurrency, LastErrorIsPerThread) {
  pi_context* c = nullptr;
  ASSERT_EQ(pi_context_create_cpu(1, &c), PI_OK) << pi_last_error();
  constexpr int kIters = 16000;
  std::atomic<int> arrived{0};
  auto barrier = [&](int i) {  // both threads at barrier i before either goes on
    ++arrived;
    while (arrived.load() < 2 * (i + 1)) std::this_thread::yield();
  };
  std::atomic<int> wrong{0};
  std::string first_wrong[2], last[2];
  auto run = [&](int who) {
    const char* own = who == 0 ? "must be less than high" : "is negative";
    const char* other = who == 0 ? "is negative" : "must be less than high";
    float x[4] = {};
    const std::int64_t n = 4;
    const pi_tensor t = pi_tensor_make(x, PI_F32, 1, &n);
    for (int i = 0; i < kIters; ++i) {
      if (i % 8 == 0) barrier(i / 8);
      // thread 0: low >= high in uniform; thread 1: a negative std in normal.
      const pi_status s = who == 0 ? pi_uniform(c, &t, pi_key{1, 2}, 1.0, 0.5) : pi_normal(c, &t, pi_key{1, 2}, 0.0, -1.0);
      last[who] = pi_last_error();
      const bool mine = s == PI_ERR_INVALID_ARGUMENT && last[who].find(own) != std::string::npos &&
                        last[who].find(other) == std::string::npos;
      if (!mine && wrong++ == 0) first_wrong[who] = last[who];
      if (who == 0 && i % 1000 == 999) {  // a success clears this thread's message only
        if (pi_uniform(c, &t, pi_key{1, 2}, 0.0, 1.0) != PI_OK || std::string(pi_last_error()) != "") ++wrong;
      }
    }
  };
  std::thread a(run, 0), b(run, 1);
  a.join();
  b.join();
  pi_context_destroy(c);
  EXPECT_EQ(wrong.load(), 0) << "thread 0: " << first_wrong[0] << "\nthread 1: " << first_wrong[1];
  EXPECT_NE(last[0].find("uniform"), std::string::npos) << last[0];
  EXPECT_NE(last[1].find("normal"), std::string::npos) << last[1];
  EXPECT_STREQ(pi_last_error(), "") << "the main thread made no failing call";
}

// Serializing one pool loses nothing: N callers of a shared context finish in about the time of
// the same N fills one after another (the pool's threads are busy either way). Reported, and
// checked loosely (3x) because the machine's cores are shared with other work.
TEST(Concurrency, SharedContextThroughputIsThatOfSerialCalls) {
  Context shared = Context::cpu(2);
  const std::size_t n = std::size_t{1} << 22;  // 16 MiB of f32 per fill
  std::vector<Buffer> bufs;
  for (int t = 0; t < kThreads; ++t) bufs.emplace_back(DType::f32, n);
  for (auto& b : bufs) paraminit::normal(shared, b.view1d(), Key{1, 1});  // touch the pages first
  auto now = [] { return std::chrono::steady_clock::now(); };
  constexpr int kReps = 4;
  const auto s0 = now();
  for (int r = 0; r < kReps; ++r)
    for (auto& b : bufs) paraminit::normal(shared, b.view1d(), Key{2, static_cast<unsigned>(r)});
  const double serial_s = std::chrono::duration<double>(now() - s0).count();
  const auto c0 = now();
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t)
    ts.emplace_back([&, t] {
      for (int r = 0; r < kReps; ++r) paraminit::normal(shared, bufs[static_cast<std::size_t>(t)].view1d(), Key{2, static_cast<unsigned>(r)});
    });
  for (auto& th : ts) th.join();
  const double concurrent_s = std::chrono::duration<double>(now() - c0).count();
  std::printf("  %d x %d normal fills of 2^22 f32 on one 2-thread context: serial %.3f s, from %d threads %.3f s\n",
              kThreads, kReps, serial_s, kThreads, concurrent_s);
  EXPECT_LT(concurrent_s, 3 * serial_s + 0.05);
}

}  // namespace
