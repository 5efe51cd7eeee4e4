// A fixed pool of worker threads owned by a CPU Context. run(n, fn) calls fn(0..n-1) spread over
// the workers and the calling thread, and returns when all calls are done. The split never changes
// a value: every element is a pure function of its global index.
// A task may throw (sparse allocates inside its tasks): the first exception is kept, the tasks not
// yet started are skipped, run() waits until every started task has returned -- fn and what it
// captures live on the caller's stack -- and rethrows that exception on the calling thread.
// run() may be called from several threads at once: jobs are taken one at a time (submit_mu_), so
// concurrent callers queue and each gets its own job's results.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace paraminit {
namespace detail {

class ThreadPool {
 public:
  explicit ThreadPool(int threads);  // total threads including the caller; >= 1
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const noexcept { return static_cast<int>(workers_.size()) + 1; }
  void run(std::int64_t tasks, const std::function<void(std::int64_t)>& fn);

 private:
  void worker_loop();
  void drain();  // take tasks of the current job until none is left

  std::vector<std::thread> workers_;
  std::mutex submit_mu_;  // held by run() for a whole job: one job at a time
  std::mutex mu_;
  std::condition_variable wake_, done_;
  const std::function<void(std::int64_t)>* job_ = nullptr;
  std::int64_t tasks_ = 0, next_ = 0, finished_ = 0;  // finished_ counts skipped tasks too
  std::exception_ptr error_;                          // the job's first exception
  std::uint64_t generation_ = 0;
  bool stop_ = false;
};

}  // namespace detail
}  // namespace paraminit
