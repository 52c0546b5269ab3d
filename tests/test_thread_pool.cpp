#include <catch2/catch.hpp>
#include <seqnet/detail/thread_pool.hpp>

#include <atomic>
#include <stdexcept>
#include <thread>
#include <vector>

namespace test_thread_pool {

using seqnet::detail::ThreadPool;

TEST_CASE("ThreadPool: every task runs exactly once, over many runs", "[thread_pool]") {
  for (int workers : {0, 1, 3}) {
    ThreadPool pool(workers);
    CHECK(pool.workers() == workers);
    for (int round = 0; round < 200; ++round) {
      const int n = 1 + round % 7;
      std::vector<std::atomic<int>> hits(static_cast<std::size_t>(n));
      for (auto& h : hits) h = 0;
      pool.run(n, [&](int i) { hits[static_cast<std::size_t>(i)]++; });
      for (int i = 0; i < n; ++i) REQUIRE(hits[static_cast<std::size_t>(i)] == 1);
    }
  }
}

TEST_CASE("ThreadPool: tasks run on more than one thread", "[thread_pool]") {
  ThreadPool pool(1);
  std::vector<std::thread::id> ids(2);
  std::atomic<int> arrived{0};
  pool.run(2, [&](int i) {
    ids[static_cast<std::size_t>(i)] = std::this_thread::get_id();
    arrived++;
    // Each task waits for the other, so both must be running at the same time on different threads.
    while (arrived.load() < 2) std::this_thread::yield();
  });
  CHECK(ids[0] != ids[1]);
}

TEST_CASE("ThreadPool: an exception in a task reaches the caller after all tasks finished", "[thread_pool]") {
  ThreadPool pool(2);
  std::atomic<int> finished{0};
  CHECK_THROWS_WITH(pool.run(3,
                             [&](int i) {
                               if (i == 1) throw std::runtime_error("task 1 failed");
                               finished++;
                             }),
                    "task 1 failed");
  CHECK(finished == 2);
  // The pool still works afterwards.
  std::atomic<int> count{0};
  pool.run(4, [&](int) { count++; });
  CHECK(count == 4);
}

TEST_CASE("ThreadPool: resize changes the number of workers", "[thread_pool]") {
  ThreadPool pool;
  CHECK(pool.workers() == 0);
  pool.resize(2);
  CHECK(pool.workers() == 2);
  std::atomic<int> count{0};
  pool.run(5, [&](int) { count++; });
  CHECK(count == 5);
  pool.resize(0);
  CHECK(pool.workers() == 0);
  pool.run(0, [&](int) { count++; });
  CHECK(count == 5);
}

}  // namespace test_thread_pool
