#pragma once
/// \file
/// A small persistent thread pool, owned by a model. run(n, fn) calls fn(0) ... fn(n-1), task 0 (and any
/// task no worker has taken yet) on the calling thread, and returns when every task has finished. The first
/// exception a task throws is re-thrown in the caller after all tasks have finished, so no task is left
/// running on buffers the caller is about to release. Not re-entrant: one run() at a time.

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace seqnet {
namespace detail {

class ThreadPool {
 public:
  /// A pool with `workers` threads besides the caller (0: every task runs on the caller).
  explicit ThreadPool(int workers = 0) { start(workers); }
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;
  ~ThreadPool() { stop(); }

  /// Number of worker threads (the caller is not counted).
  int workers() const { return static_cast<int>(threads_.size()); }

  /// Stops the current workers and starts `workers` new ones.
  void resize(int workers) {
    if (workers == this->workers()) return;
    stop();
    start(workers);
  }

  /// Runs fn(i) for every i in [0, n) and blocks until all have finished; re-throws the first exception.
  void run(int n, const std::function<void(int)>& fn) {
    if (n <= 0) return;
    if (threads_.empty() || n == 1) {
      for (int i = 0; i < n; ++i) fn(i);
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      fn_ = &fn;
      total_ = n;
      next_ = 0;
      remaining_ = n;
      error_ = nullptr;
      ++generation_;
    }
    work_cv_.notify_all();
    drain();
    std::unique_lock<std::mutex> lock(mutex_);
    done_cv_.wait(lock, [this] { return remaining_ == 0; });
    fn_ = nullptr;
    if (error_) {
      std::exception_ptr e = error_;
      error_ = nullptr;
      std::rethrow_exception(e);
    }
  }

 private:
  void start(int workers) {
    stopping_ = false;
    for (int i = 0; i < workers; ++i) threads_.emplace_back([this] { worker_loop(); });
  }

  void stop() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    work_cv_.notify_all();
    for (auto& t : threads_) t.join();
    threads_.clear();
  }

  // Takes the next task of the current run, if any is left, and runs it.
  bool run_one() {
    const std::function<void(int)>* fn = nullptr;
    int index = 0;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!fn_ || next_ >= total_) return false;
      fn = fn_;
      index = next_++;
    }
    std::exception_ptr err;
    try {
      (*fn)(index);
    } catch (...) {
      err = std::current_exception();
    }
    bool last = false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (err && !error_) error_ = err;
      last = --remaining_ == 0;
    }
    if (last) done_cv_.notify_all();
    return true;
  }

  void drain() {
    while (run_one()) {
    }
  }

  void worker_loop() {
    std::uint64_t seen = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mutex_);
        work_cv_.wait(lock, [&] { return stopping_ || generation_ != seen; });
        if (stopping_) return;
        seen = generation_;
      }
      drain();
    }
  }

  std::vector<std::thread> threads_;
  std::mutex mutex_;
  std::condition_variable work_cv_, done_cv_;
  const std::function<void(int)>* fn_ = nullptr;
  int total_ = 0, next_ = 0, remaining_ = 0;
  std::uint64_t generation_ = 0;
  std::exception_ptr error_;
  bool stopping_ = false;
};

}  // namespace detail
}  // namespace seqnet
