#include "cli/timing.hpp"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
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

// Median and minimum of some runs' seconds (zeros when there are none).
Timing median_and_min(std::vector<double> s) {
  if (s.empty()) return {};
  std::sort(s.begin(), s.end());
  const size_t n = s.size();
  return {n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]), s.front()};
}

// Runs fn() untimed for `seconds`.
void warm_up(const std::function<void()>& fn, double seconds) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) fn();
}

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
  return median_and_min(reporter.seconds);
}

detail::AlignedBuffer aligned_copy(const std::vector<float>& v) {
  detail::AlignedBuffer out(v.size());
  std::copy(v.begin(), v.end(), out.data());
  return out;
}

std::vector<Timing> time_interleaved(const std::vector<Contender>& contenders, double min_time, int reps,
                                     std::vector<bool>* probe_only) {
  const size_t n = contenders.size();
  std::vector<Timing> out(n);
  probe_only->assign(n, false);
  // A tconv contender right after a peer first runs untimed for a while (kAfterPeerWarmUp, below),
  // probes too: the one-run probes of `auto` at 2 threads, the first contender after the last
  // 1-thread one (XNNPACK), took 20-23 ms twice in a row for plans timed at 0.28-0.47 ms, which
  // left `auto` a one-run row (session 38, dcgan_g1 NCHW and dilated_up NHWC). Whatever ran
  // before this call may have been a peer.
  constexpr double kAfterPeerWarmUp = 0.3;
  bool after_peer = true;
  auto probe = [&](size_t i) {
    if (after_peer && !contenders[i].peer) warm_up(contenders[i].run, kAfterPeerWarmUp);
    after_peer = contenders[i].peer;
    return time_it(contenders[i].name + "/probe", contenders[i].run, 1e-9, 1);
  };
  double fastest_probe = 0;
  for (size_t i = 0; i < n; ++i) {
    out[i] = probe(i);
    if (out[i].median > 0 && (fastest_probe == 0 || out[i].median < fastest_probe)) fastest_probe = out[i].median;
  }
  const auto too_slow = [&](size_t i) { return out[i].median > 30 * fastest_probe && out[i].median > 0.01; };
  for (size_t i = 0; i < n; ++i) {
    // A second probe before giving up on one: a burst from another tenant once made `auto` (the
    // same plan as a strategy timed at 0.75 ms) a 24 ms one-run row.
    if (too_slow(i)) {
      const Timing again = probe(i);
      if (again.median < out[i].median) out[i] = again;
    }
    (*probe_only)[i] = too_slow(i);
  }
  // A tconv plan timed right after XNNPACK (its own thread pool) ran up to 1.6x slower at 2
  // threads while it had run for under about 0.3 s; timed for longer, or after another tconv
  // plan, it did not. The rotation put `auto` after the last peer in every repetition but one
  // (rand NHWC, 1 image of 128 -> 64, 105x105, k2 s2: auto 5.3-6.3 ms, the same subpixel plan
  // 3.6-3.9 ms). So a tconv contender that follows a peer first runs untimed for a while.
  std::vector<std::vector<double>> seconds(n);
  for (int rep = 0; rep < reps; ++rep) {
    for (size_t j = 0; j < n; ++j) {
      const size_t i = (j + size_t(rep)) % n;
      if ((*probe_only)[i]) continue;
      if (after_peer && !contenders[i].peer) warm_up(contenders[i].run, kAfterPeerWarmUp);
      after_peer = contenders[i].peer;
      const Timing one = time_it(contenders[i].name, contenders[i].run, min_time, 1);
      if (one.median > 0) seconds[i].push_back(one.median);
    }
  }
  for (size_t i = 0; i < n; ++i)
    if (!seconds[i].empty()) out[i] = median_and_min(seconds[i]);
  return out;
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
