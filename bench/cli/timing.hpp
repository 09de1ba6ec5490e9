// Timing with Google Benchmark, shared by `tconv bench` and `tconv tune`.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace tconv::bench {

struct Timing {
  double median = 0, min = 0;  // seconds per run
};

// Initializes Google Benchmark once (no command-line flags of its own).
void init_benchmark_library();

// Times fn() with Google Benchmark: warm-up, repeat to min_time, `reps` repetitions.
Timing time_it(const std::string& name, const std::function<void()>& fn, double min_time, int reps);

// Times one implementation: a one-iteration probe first; an implementation already 30x slower
// than the fastest one timed on this layer, and whose probe took over 10 ms, keeps the probe
// (*probe_only) instead of spending seconds on repetitions that cannot change the verdict.
// (Faster probes are always timed in full: a single cold call of a microsecond layer says
// nothing.)
Timing time_impl(const std::string& name, const std::function<void()>& fn, double min_time, int reps,
                 double best_so_far, bool* probe_only);

// "a,b,,c" -> {"a", "b", "c"}
std::vector<std::string> split(const std::string& s);

// "1,2" -> {1, 2}; throws Error naming `option` on anything but positive integers.
std::vector<int> parse_thread_counts(const std::string& option, const std::string& list);

}  // namespace tconv::bench
