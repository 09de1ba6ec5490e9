#include "cli/timing.hpp"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <sstream>

#include "tconv/tconv.hpp"

namespace tconv::bench {
namespace {

// Collects each repetition's seconds per iteration.
class CollectingReporter final : public benchmark::BenchmarkReporter {
 public:
  bool ReportContext(const Context&) override { return true; }
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& r : runs) {
      if (r.run_type != Run::RT_Iteration || r.iterations == 0) continue;
      seconds.push_back(r.GetAdjustedRealTime() / 1e9);  // time unit: ns
    }
  }
  std::vector<double> seconds;  // one benchmark is registered per run
};

}  // namespace

void init_benchmark_library() {
  static bool done = false;
  if (done) return;
  int argc = 1;
  char prog[] = "tconv";
  char* argv[] = {prog, nullptr};
  benchmark::Initialize(&argc, argv);
  done = true;
}

Timing time_it(const std::string& name, const std::function<void()>& fn, double min_time, int reps) {
  benchmark::ClearRegisteredBenchmarks();
  benchmark::RegisterBenchmark(name.c_str(), [&fn](benchmark::State& st) {
    for (auto _ : st) fn();
  })
      ->MinTime(min_time)
      ->Repetitions(reps)
      ->UseRealTime()
      ->Unit(benchmark::kNanosecond);
  CollectingReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::ClearRegisteredBenchmarks();
  std::vector<double> s = reporter.seconds;
  if (s.empty()) return {};
  std::sort(s.begin(), s.end());
  const size_t n = s.size();
  return {n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]), s.front()};
}

Timing time_impl(const std::string& name, const std::function<void()>& fn, double min_time, int reps,
                 double best_so_far, bool* probe_only) {
  const Timing probe = time_it(name + "/probe", fn, 1e-9, 1);
  *probe_only = best_so_far > 0 && probe.median > 30 * best_so_far && probe.median > 0.01;
  if (*probe_only) return probe;
  return time_it(name, fn, min_time, reps);
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

std::vector<int> parse_thread_counts(const std::string& option, const std::string& list) {
  std::vector<int> out;
  for (const auto& t : split(list)) {
    int64_t v = 0;
    std::istringstream in(t);
    if (!(in >> v) || !in.eof() || v < 1 || v > 4096) {
      throw Error(option + " " + list + ": each thread count must be an integer in [1, 4096]");
    }
    out.push_back(int(v));
  }
  if (out.empty()) throw Error(option + " " + list + ": give at least one thread count");
  return out;
}

}  // namespace tconv::bench
