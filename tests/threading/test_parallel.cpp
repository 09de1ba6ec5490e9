// The thread helpers: every task runs exactly once, on a thread id inside the team.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

#include "threading/parallel.hpp"

using namespace tconv::detail;

namespace {

// Leaves the stack below the caller full of words that read as a share holding task 0 (next 0,
// end 1), so a share the helper forgets to set up runs a task that does not exist.
[[gnu::noinline]] void dirty_stack() {
  volatile uint64_t words[1024];
  for (auto& w : words) w = uint64_t{1} << 32;
}

// parallel_for_contiguous(threads, count, f) in a frame of its own, over the words
// dirty_stack() left.
template <class F>
[[gnu::noinline]] void on_dirty_stack(int threads, int64_t count, F&& f) {
  parallel_for_contiguous(threads, count, f);
}

}  // namespace

TEST_CASE("parallel_for_contiguous runs every task once", "[threading]") {
  for (int threads : {1, 2, 3, 4, 7, 64, 65}) {
    for (int64_t count : {0, 1, 2, 3, 5, 17, 64, 100, 1000}) {
      INFO("threads=" << threads << " count=" << count);
      std::vector<std::atomic<int>> runs(static_cast<size_t>(count));
      std::atomic<bool> bad_task{false};
      dirty_stack();
      on_dirty_stack(threads, count, [&](int64_t t, int tid) {
        if (tid < 0 || tid >= threads || t < 0 || t >= count) {
          bad_task = true;
          return;
        }
        runs[size_t(t)].fetch_add(1);
      });
      REQUIRE_FALSE(bad_task);
      for (int64_t t = 0; t < count; ++t) REQUIRE(runs[size_t(t)].load() == 1);
      // Shares of equal cost: uneven, all zero, or one task holding all of it.
      for (int shape = 0; shape < 3; ++shape) {
        for (auto& r : runs) r = 0;
        parallel_for_contiguous(
            threads, count, [&](int64_t t, int) { runs[size_t(t)].fetch_add(1); },
            [&](int64_t t) { return shape == 0 ? double(t % 7) : shape == 1 ? 0.0 : double(t == count / 2); });
        for (int64_t t = 0; t < count; ++t) REQUIRE(runs[size_t(t)].load() == 1);
      }
    }
  }
}

TEST_CASE("parallel_for_contiguous: a slow thread's share is taken over", "[threading]") {
  // Thread 0 holds its first task until thread 1 has run more than its own half (or 10 s pass):
  // thread 1 must then have taken tasks from the end of thread 0's share.
  constexpr int64_t kCount = 64;
  std::vector<int> owner(kCount, -1);
  std::atomic<int64_t> by_second{0};
  std::atomic<int> team{1};
  parallel_for_contiguous(2, kCount, [&](int64_t t, int tid) {
    team = omp_get_num_threads();
    if (tid == 1) by_second.fetch_add(1);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (tid == 0 && t == 0 && team.load() == 2 && by_second.load() <= kCount / 2 &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    owner[size_t(t)] = tid;
  });
  for (int64_t t = 0; t < kCount; ++t) REQUIRE(owner[size_t(t)] >= 0);
  if (team.load() == 2) {
    CHECK(owner[kCount / 2 - 1] == 1);  // the helper takes from the end
    CHECK(by_second.load() > kCount / 2);
  }
}
