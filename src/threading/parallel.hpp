// The one place strategies get threads from: OpenMP loops over independent tasks.
// Tasks must write disjoint outputs; which thread runs a task never changes what it computes,
// so results are bitwise identical for any thread count.
#pragma once

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstdint>

namespace tconv::detail {

// Runs body(thread_id, team) on each thread of a team of min(threads, count) threads; inline
// on the calling thread when that is one.
template <class B>
void on_team(int threads, int64_t count, B&& body) {
  const int team = int(std::min<int64_t>(count, std::max(threads, 1)));
  if (team <= 1) {
    body(0, 1);
    return;
  }
#pragma omp parallel num_threads(team)
  body(omp_get_thread_num(), team);
}

// Calls f(task, thread_id) for every task in [0, count), thread_id in [0, threads).
template <class F>
void parallel_for(int threads, int64_t count, F&& f) {
  // Many tasks are taken a few at a time: one shared counter step per task cost more than the
  // task itself where there are hundreds of tiny ones (4 images of a depthwise 64-channel layer,
  // 8x36: 256 tasks of 0.3 us, 2 threads slower than 1), and kChunksPerThread chunks each still
  // even out the threads.
  constexpr int64_t kChunksPerThread = 16;
  on_team(threads, count, [&](int tid, int team) {
    if (team == 1) {
      for (int64_t i = 0; i < count; ++i) f(i, 0);
      return;
    }
    const int64_t chunk = std::max<int64_t>(1, count / (kChunksPerThread * team));
#pragma omp for schedule(dynamic, chunk)
    for (int64_t i = 0; i < count; ++i) f(i, tid);
  });
}

// Calls f(task, thread_id) for every task in [0, count), thread t taking the same contiguous
// share of the tasks on every call: for memory-bound copies, where a thread that writes the same
// part of a buffer call after call finds its lines in its own cache, while a dynamic schedule
// hands them to the other core at random and each store first pulls its line across.
template <class F>
void parallel_for_static(int threads, int64_t count, F&& f) {
  on_team(threads, count, [&](int tid, int team) {
    for (int64_t i = count * tid / team; i < count * (tid + 1) / team; ++i) f(i, tid);
  });
}

// Calls f(task, thread_id) for every task in [0, count): thread t starts on its own contiguous
// share of the tasks, in order, and once that is done takes tasks one at a time from the ends of
// the other shares. For many small tasks where neighbours share data (output rows reading the
// same input rows): each thread keeps to its part of the tensors as with parallel_for_static,
// and a thread that runs slower (a busy core of a shared machine) is still helped out. The
// shares hold equal sums of cost(task) (a double; equal counts without it).
template <class F, class C>
void parallel_for_contiguous(int threads, int64_t count, F&& f, C&& cost) {
  constexpr int kMaxTeam = 64;
  if (count <= 0) return;  // on_team would still run one thread, on a share never set up
  const int team = int(std::min<int64_t>(count, std::max(threads, 1)));
  if (team > kMaxTeam || count >= (int64_t{1} << 31)) return parallel_for(threads, count, f);
  // Each share's next and end task in one word, so taking the last task is one compare-exchange
  // whoever takes it.
  struct alignas(64) Share {
    std::atomic<uint64_t> range;
  };
  Share shares[kMaxTeam];
  auto pack = [](int64_t next, int64_t end) { return uint64_t(next) | uint64_t(end) << 32; };
  double total = 0;
  for (int64_t i = 0; i < count; ++i) total += cost(i);
  // Share t starts at the first task whose preceding costs reach t / team of the total.
  int64_t begin = 0;
  double before = 0;
  for (int t = 0; t < team; ++t) {
    int64_t end = begin;
    if (t + 1 == team) {
      end = count;
    } else {
      while (end < count && before + cost(end) * 0.5 < total * double(t + 1) / team) before += cost(end++);
    }
    shares[t].range.store(pack(begin, end), std::memory_order_relaxed);
    begin = end;
  }
  // Takes the next task of a share from its front (owner) or back (helper); -1 when it is empty.
  auto take = [&](Share& share, bool front) -> int64_t {
    uint64_t v = share.range.load(std::memory_order_acquire);
    for (;;) {
      const int64_t next = int64_t(v & 0xffffffffu), end = int64_t(v >> 32);
      if (next >= end) return -1;
      const uint64_t taken = front ? pack(next + 1, end) : pack(next, end - 1);
      if (share.range.compare_exchange_weak(v, taken, std::memory_order_acq_rel)) return front ? next : end - 1;
    }
  };
  on_team(team, count, [&](int tid, int) {
    for (int64_t i; (i = take(shares[tid], true)) >= 0;) f(i, tid);
    for (int v = 1; v < team; ++v)
      for (int64_t i; (i = take(shares[(tid + v) % team], false)) >= 0;) f(i, tid);
  });
}

template <class F>
void parallel_for_contiguous(int threads, int64_t count, F&& f) {
  parallel_for_contiguous(threads, count, f, [](int64_t) { return 1.0; });
}

// Calls f(begin, end) for contiguous ranges covering [0, count), a few per thread: for cheap
// per-item work (filling output rows), where a task per item costs a scheduling step each and
// puts neighbouring items, which may share cache lines, on different threads.
template <class F>
void parallel_ranges(int threads, int64_t count, F&& f) {
  constexpr int64_t kRangesPerThread = 4;
  const int64_t ranges = std::min<int64_t>(count, kRangesPerThread * std::max(threads, 1));
  parallel_for(threads, ranges, [&](int64_t r, int) { f(count * r / ranges, count * (r + 1) / ranges); });
}

}  // namespace tconv::detail
