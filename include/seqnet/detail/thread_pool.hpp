#pragma once
/// \file
/// A small persistent thread pool, owned by a model. run(n, fn) calls fn(0) ... fn(n-1) and returns when
/// every task has finished: task 0 runs on the calling thread, task k (k <= workers) on worker k-1 (so a
/// thread keeps working on the same slice of the batch and its caches stay warm), and any further tasks go to
/// whichever thread is free first. The first exception a task throws is re-thrown in the caller after all
/// tasks have finished, so no task is left running on buffers the caller is about to release. Not
/// re-entrant: one run() at a time.
///
/// A training step hands out work every few hundred microseconds, far less than it takes to wake a thread
/// that sleeps on a condition variable on a busy machine. So idle workers, and the caller waiting for them,
/// first spin for a short while (kSpin) on an atomic counter, and only then block.
///
/// Every task runs under the caller's floating-point control word (float_env.hpp): a worker takes the word
/// that run()'s caller had, for the run, and restores its own afterwards.

#include "seqnet/detail/float_env.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace seqnet {
namespace detail {

/// One iteration of a spin-wait loop.
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#else
  std::this_thread::yield();
#endif
}

/// Spins until pred() holds or `limit` has passed; returns pred().
template <typename Pred>
inline bool spin_until(Pred pred, std::chrono::microseconds limit) {
  const auto end = std::chrono::steady_clock::now() + limit;
  for (int i = 0;; ++i) {
    if (pred()) return true;
    cpu_relax();
    if ((i & 63) == 63 && std::chrono::steady_clock::now() > end) return pred();
  }
}

class ThreadPool {
 public:
  /// How long an idle thread spins before it blocks.
  static constexpr std::chrono::microseconds kSpin{300};

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

  /// Runs fn(0) ... fn(n-1) (see the file comment); re-throws the first exception of a task.
  void run(int n, const std::function<void(int)>& fn) {
    if (n <= 0) return;
    if (threads_.empty() || n == 1) {
      for (int i = 0; i < n; ++i) fn(i);
      return;
    }
    fn_ = &fn;
    total_ = n;
    env_ = float_env();
    next_.store(workers() + 1, std::memory_order_relaxed);
    remaining_.store(n, std::memory_order_relaxed);
    finished_workers_.store(0, std::memory_order_relaxed);
    error_ = nullptr;
    {
      // Publishes the run: workers read fn_, total_ after seeing the new generation.
      std::lock_guard<std::mutex> lock(mutex_);
      generation_.fetch_add(1, std::memory_order_release);
    }
    work_cv_.notify_all();
    run_task(0);
    drain();
    // Done when every task has finished AND every worker has left this run, so that no worker still reads
    // fn_ or total_ when the next run() writes them.
    const auto done = [this] {
      return remaining_.load(std::memory_order_acquire) == 0 &&
             finished_workers_.load(std::memory_order_acquire) == workers();
    };
    if (!spin_until(done, kSpin)) {
      std::unique_lock<std::mutex> lock(mutex_);
      done_cv_.wait(lock, done);
    }
    fn_ = nullptr;
    if (error_) {
      std::exception_ptr e = error_;
      error_ = nullptr;
      std::rethrow_exception(e);
    }
  }

 private:
  void start(int workers) {
    stopping_.store(false);
    const std::uint64_t now = generation_.load();
    for (int i = 0; i < workers; ++i) threads_.emplace_back([this, i, now] { worker_loop(i + 1, now); });
  }

  void stop() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_.store(true);
    }
    work_cv_.notify_all();
    for (auto& t : threads_) t.join();
    threads_.clear();
  }

  // Runs task `index` of the current run and counts it done.
  void run_task(int index) {
    try {
      (*fn_)(index);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!error_) error_ = std::current_exception();
    }
    if (remaining_.fetch_sub(1, std::memory_order_acq_rel) == 1) notify_done();
  }

  void notify_done() {
    std::lock_guard<std::mutex> lock(mutex_);  // pairs with the caller's blocking wait
    done_cv_.notify_all();
  }

  // Runs the tasks beyond the fixed ones, while any are left.
  void drain() {
    for (;;) {
      const int index = next_.fetch_add(1, std::memory_order_relaxed);
      if (index >= total_) return;
      run_task(index);
    }
  }

  void worker_loop(int own_task, std::uint64_t seen) {
    for (;;) {
      const auto ready = [&] {
        return stopping_.load(std::memory_order_acquire) || generation_.load(std::memory_order_acquire) != seen;
      };
      if (!spin_until(ready, kSpin)) {
        std::unique_lock<std::mutex> lock(mutex_);
        work_cv_.wait(lock, ready);
      }
      if (stopping_.load(std::memory_order_acquire)) return;
      seen = generation_.load(std::memory_order_acquire);
      // The run does not end before this thread has counted itself finished, so fn_, total_ and env_ stay
      // valid.
      {
        const ScopedFloatEnv env(env_);
        if (own_task < total_) run_task(own_task);
        drain();
      }
      if (finished_workers_.fetch_add(1, std::memory_order_acq_rel) + 1 == workers()) notify_done();
    }
  }

  // The counters that different threads write while others spin on them sit on cache lines of their own:
  // sharing a line, each write by one thread would take it away from the threads spinning on the other.
  static constexpr std::size_t kLine = 64;

  std::vector<std::thread> threads_;
  std::mutex mutex_;
  std::condition_variable work_cv_, done_cv_;
  const std::function<void(int)>* fn_ = nullptr;
  int total_ = 0;
  FloatEnv env_ = 0;
  std::exception_ptr error_;
  alignas(kLine) std::atomic<std::uint64_t> generation_{0};
  std::atomic<bool> stopping_{false};
  alignas(kLine) std::atomic<int> next_{0};
  alignas(kLine) std::atomic<int> remaining_{0};
  alignas(kLine) std::atomic<int> finished_workers_{0};
};

}  // namespace detail
}  // namespace seqnet
