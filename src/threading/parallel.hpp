// The one place strategies get threads from: a dynamic OpenMP loop over independent tasks.
// Tasks must write disjoint outputs; which thread runs a task never changes what it computes,
// so results are bitwise identical for any thread count.
#pragma once

#include <omp.h>

#include <cstdint>

namespace tconv::detail {

// Calls f(task, thread_id) for every task in [0, count), thread_id in [0, threads).
template <class F>
void parallel_for(int threads, int64_t count, F&& f) {
  if (threads <= 1 || count <= 1) {
    for (int64_t i = 0; i < count; ++i) f(i, 0);
    return;
  }
  const int team = int(count < threads ? count : threads);
#pragma omp parallel num_threads(team)
  {
    const int tid = omp_get_thread_num();
#pragma omp for schedule(dynamic, 1)
    for (int64_t i = 0; i < count; ++i) f(i, tid);
  }
}

}  // namespace tconv::detail
