// Timing with Google Benchmark, shared by `tconv bench` and `tconv tune`.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "plan/aligned_buffer.hpp"

namespace tconv::bench {

struct Timing {
  double median = 0, min = 0;  // seconds per run
};

// Initializes Google Benchmark once (no command-line flags of its own).
void init_benchmark_library();

// Times fn() with Google Benchmark: warm-up, repeat to min_time, `reps` repetitions.
Timing time_it(const std::string& name, const std::function<void()>& fn, double min_time, int reps);

// A 64-byte aligned copy of a tensor: every timed tensor is aligned, as frameworks allocate
// them (a vector's 16-byte alignment would split vector stores across cache lines for some
// implementations and not others).
detail::AlignedBuffer aligned_copy(const std::vector<float>& v);

// One implementation to time among others: its name and one run.
struct Contender {
  std::string name;
  std::function<void()> run;
  bool peer = false;  // another library's (its own thread pool)
};

// Times implementations against each other, interleaved so that a burst of noise from other
// tenants of the machine (which lasts seconds) hits them alike: each repetition times every
// contender once (min_time each, starting from a different one each round), and each gets the
// median and minimum of its `reps` repetitions. First every contender runs once as a probe; one
// over 30x slower than the fastest probe in two probes, and whose probe took over 10 ms, keeps it
// (probe_only[i]) instead of spending seconds on repetitions that cannot change the verdict.
// (Faster probes are always timed in full: a single cold call of a microsecond layer says
// nothing.)
std::vector<Timing> time_interleaved(const std::vector<Contender>& contenders, double min_time, int reps,
                                     std::vector<bool>* probe_only);

// "a,b,,c" -> {"a", "b", "c"}
std::vector<std::string> split(const std::string& s);

// "1,2" -> {1, 2}; throws Error naming `option` on anything but positive integers.
std::vector<int> parse_thread_counts(const std::string& option, const std::string& list);

}  // namespace tconv::bench
