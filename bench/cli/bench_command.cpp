// `tconv bench`: every strategy and the peer libraries, side by side on a layer suite, timed with
// Google Benchmark after each implementation's output was checked.
#include <omp.h>

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <sstream>

#include "cli/commands.hpp"
#include "cli/layers.hpp"
#include "cli/timing.hpp"
#include "peers/peer.hpp"

namespace tconv::bench {

float fma_loop_avx512f(int64_t iterations);
int fma_flops_per_iteration_avx512f();
float fma_loop_avx2(int64_t iterations);
int fma_flops_per_iteration_avx2();

namespace {

struct PeakInfo {
  std::string isa;
  std::map<int, double> gflops;
};

PeakInfo measure_peak(const std::vector<int>& threads, double min_time) {
  PeakInfo info;
  float (*loop)(int64_t) = &fma_loop_avx2;
  int flops_per_iteration = 0;
  const auto isas = supported_isas();
  if (std::find(isas.begin(), isas.end(), "avx512f") != isas.end()) {
    loop = &fma_loop_avx512f;
    flops_per_iteration = fma_flops_per_iteration_avx512f();
    info.isa = "avx512f";
  } else if (std::find(isas.begin(), isas.end(), "avx2") != isas.end()) {
    flops_per_iteration = fma_flops_per_iteration_avx2();
    info.isa = "avx2";
  } else {
    info.isa = "sse2";
    return info;
  }
  constexpr int64_t kIters = 1 << 20;
  for (int t : threads) {
    volatile float sink = 0;
    const Timing tm = time_it("peak/threads:" + std::to_string(t), [&] {
#pragma omp parallel num_threads(t)
      { sink = sink + loop(kIters); }
    }, min_time, 3);
    // Fastest repetition: the peak is what the machine can do, not its average.
    info.gflops[t] = tm.min > 0 ? double(t) * double(kIters) * flops_per_iteration / tm.min / 1e9 : 0;
  }
  return info;
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      auto pos = line.find(':');
      if (pos != std::string::npos) return line.substr(pos + 2);
    }
  }
  return "unknown";
}

struct Row {
  std::string layer, impl, kind, detail;
  int threads = 1;
  Timing t;
  double gflops = 0, peak_pct = 0;
  uint64_t useful = 0, executed = 0;  // executed 0: unknown (peers)
  size_t workspace = 0;
  bool correct = false;
  std::string note;  // why not run / what was wrong
};

double max_abs(const std::vector<float>& v) {
  double m = 0;
  for (float e : v) m = std::max(m, double(std::fabs(e)));
  return m;
}

// Error bound scaled to the accumulation length and the magnitudes (as in the test suite).
bool close_enough(const Params& p, const std::vector<float>& got, const std::vector<float>& want,
                  double x_max, double w_max, double b_max, std::string* why) {
  if (got.size() != want.size()) {
    *why = "output size differs";
    return false;
  }
  const double len = double(p.in_channels / p.groups * p.kernel.h * p.kernel.w);
  const double tol = 2e-6 * (len * x_max * w_max + b_max + 1.0);
  for (size_t i = 0; i < got.size(); ++i) {
    const double e = std::fabs(double(got[i]) - double(want[i]));
    if (!(e <= tol)) {
      std::ostringstream s;
      s << "element " << i << ": " << got[i] << " vs " << want[i] << " (tolerance " << tol << ")";
      *why = s.str();
      return false;
    }
  }
  return true;
}

std::vector<float> run_plan(const Params& p, const std::vector<float>& x, const std::vector<float>& w,
                            const std::vector<float>& b, const std::string& strategy, int threads) {
  PlanOptions o;
  o.strategy = strategy;
  o.max_threads = threads;
  const Plan plan(p, w.data(), b.data(), o);
  std::vector<float> y(size_t(p.output_elements()));
  plan.execute(x.data(), y.data(), nullptr, threads);
  return y;
}

// The same geometry with few channels: cheap enough for the reference.
Params sibling_of(const Params& p) {
  Params s = p;
  s.batch = 1;
  s.groups = std::min<int64_t>(p.groups, 2);
  s.in_channels = s.groups * std::min<int64_t>(p.in_channels / p.groups, 8);
  s.out_channels = s.groups * std::min<int64_t>(p.out_channels / p.groups, 8);
  return s;
}

struct Data {
  std::vector<float> x, w, b;
  double x_max, w_max, b_max;
};

Data make_data(const Params& p, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  Data out;
  out.x.resize(size_t(p.input_elements()));
  out.w.resize(size_t(p.weight_elements()));
  out.b.resize(size_t(p.out_channels));
  for (auto& v : out.x) v = d(rng);
  for (auto& v : out.w) v = d(rng);
  for (auto& v : out.b) v = d(rng);
  out.x_max = max_abs(out.x);
  out.w_max = max_abs(out.w);
  out.b_max = max_abs(out.b);
  return out;
}

std::string json_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\';
    if (static_cast<unsigned char>(c) < 0x20) continue;
    o += c;
  }
  return o;
}

constexpr uint64_t kReferenceMacLimit = 200'000'000;

}  // namespace

int bench_command(const std::vector<std::string>& args) {
  std::string layers_path = default_layers_path(), json_path, layout = "nchw";
  std::string strategies_arg = "all", peers_arg = "all", threads_arg = "1,2";
  double min_time = 0.2;
  int reps = 5;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= args.size()) throw Error("tconv bench: " + a + " needs a value");
      return args[++i];
    };
    if (a == "--help" || a == "-h") {
      std::puts(
          "usage: tconv bench [--layers FILE] [--threads 1,2] [--strategies LIST|all] [--peers LIST|all|none]\n"
          "                   [--layout nchw|nhwc] [--min-time SECONDS] [--repetitions N] [--json FILE]\n\n"
          "Times every tconv strategy (and `auto`) and the peer libraries on each layer of the suite\n"
          "(default: bench/layers.csv), after checking each implementation's output against the reference\n"
          "(or, for layers too big for it, against a strategy checked on a smaller sibling layer).\n"
          "  --layers FILE        CSV: name,N,Cin,Cout,H,W,kh,kw,sh,sw,ph,pw,oph,opw,dh,dw,groups\n"
          "  --threads LIST       thread counts to time (default 1,2)\n"
          "  --strategies LIST    tconv strategies, plus `auto`; `all` = every registered one but reference\n"
          "  --peers LIST         onednn, onednn_plain, xnnpack; `all` (default) or `none`\n"
          "  --layout L           activation layout for tconv and oneDNN (default nchw)\n"
          "  --min-time S         Google Benchmark minimum time per repetition (default 0.2)\n"
          "  --repetitions N      repetitions; median and min are over these (default 5)\n"
          "  --json FILE          write the results as JSON");
      return 0;
    }
    if (a == "--layers") layers_path = value();
    else if (a == "--threads") threads_arg = value();
    else if (a == "--strategies") strategies_arg = value();
    else if (a == "--peers") peers_arg = value();
    else if (a == "--layout") layout = value();
    else if (a == "--min-time") min_time = std::stod(value());
    else if (a == "--repetitions") reps = std::stoi(value());
    else if (a == "--json") json_path = value();
    else throw Error("tconv bench: unknown argument '" + a + "' (see tconv bench --help)");
  }
  if (layout != "nchw" && layout != "nhwc") throw Error("tconv bench: --layout " + layout + " must be nchw or nhwc");
  if (!(min_time > 0) || reps < 1) throw Error("tconv bench: --min-time must be > 0 and --repetitions >= 1");
  const std::vector<int> threads = parse_thread_counts("tconv bench: --threads", threads_arg);
  std::vector<std::string> strategies;
  const auto registered = strategy_names();
  if (strategies_arg == "all") {
    // `auto` first: usually the fastest, it sets the bar that lets slow strategies be probed once.
    strategies.push_back("auto");
    for (const auto& s : registered)
      if (s != "reference") strategies.push_back(s);
  } else {
    for (const auto& s : split(strategies_arg)) {
      if (s != "auto" && std::find(registered.begin(), registered.end(), s) == registered.end()) {
        throw Error("tconv bench: --strategies: '" + s + "' is not a registered strategy");
      }
      strategies.push_back(s);
    }
  }
  std::vector<const Peer*> peers;
  if (peers_arg != "none") {
    for (const auto& name : peers_arg == "all" ? std::vector<std::string>{} : split(peers_arg)) {
      bool found = false;
      for (const auto& p : available_peers()) found = found || p.name == name;
      if (!found) throw Error("tconv bench: --peers: '" + name + "' is not available in this build");
    }
    for (const auto& p : available_peers()) {
      const auto wanted = split(peers_arg);
      if (peers_arg == "all" || std::find(wanted.begin(), wanted.end(), p.name) != wanted.end()) peers.push_back(&p);
    }
  }
  const auto layers = read_layers(layers_path);
  init_benchmark_library();

  std::fprintf(stderr, "measuring the FMA peak...\n");
  const PeakInfo peak = measure_peak(threads, 0.1);
  std::string isa_list;
  for (const auto& i : supported_isas()) isa_list += (isa_list.empty() ? "" : ",") + i;
  std::printf("tconv %s bench | CPU: %s | ISAs: %s (plans use %s) | layout %s\n", version(), cpu_model().c_str(),
              isa_list.c_str(), active_isa().c_str(), layout.c_str());
  for (int t : threads) std::printf("FMA peak (%s, %d thread%s): %.1f GFLOP/s\n", peak.isa.c_str(), t, t > 1 ? "s" : "", peak.gflops.at(t));
  for (const auto& m : missing_peers()) std::printf("peer missing: %s\n", m.c_str());
  std::printf("\n%-13s %-17s %3s %10s %10s %8s %6s %6s %11s  %s\n", "layer", "impl", "thr", "ms(med)", "ms(min)",
              "GFLOP/s", "%peak", "exec/u", "workspace", "detail");

  std::vector<Row> rows;
  const int max_threads = *std::max_element(threads.begin(), threads.end());
  for (size_t li = 0; li < layers.size(); ++li) {
    const Layer& layer = layers[li];
    Params p = layer.params;
    p.layout = layout == "nchw" ? Layout::nchw : Layout::nhwc;
    const Data data = make_data(p, 1234 + uint32_t(li));
    const uint64_t useful = p.useful_macs();
    std::fprintf(stderr, "[layer %zu/%zu] %s: checking outputs\n", li + 1, layers.size(), layer.name.c_str());

    // The expected output: the reference, or a strategy that matched the reference on a sibling.
    std::vector<float> expected;
    std::string expected_from = "reference";
    std::map<std::string, std::string> sibling_failures;
    if (useful <= kReferenceMacLimit) {
      expected = run_plan(p, data.x, data.w, data.b, "reference", max_threads);
    } else {
      const Params sib = sibling_of(p);
      const Data sd = make_data(sib, 99);
      const auto sib_ref = run_plan(sib, sd.x, sd.w, sd.b, "reference", max_threads);
      // The oracle may be any registered strategy, whether or not it is being timed.
      const std::vector<std::string> oracles{"subpixel", "gemm_col2im", "direct_scatter", "im2col_gemm"};
      std::vector<std::string> candidates = strategies;
      for (const auto& o : oracles) {
        if (std::find(candidates.begin(), candidates.end(), o) == candidates.end()) candidates.push_back(o);
      }
      for (const auto& c : candidates) {
        std::string why;
        std::vector<float> got;
        try {
          got = run_plan(sib, sd.x, sd.w, sd.b, c, max_threads);
        } catch (const Error&) {
          continue;  // a strategy that declines these parameters: its row below says why
        }
        if (!close_enough(sib, got, sib_ref, sd.x_max, sd.w_max, sd.b_max, &why)) {
          sibling_failures[c] = "wrong on the sibling layer: " + why;
        }
      }
      for (const std::string& pref : oracles) {
        if (!sibling_failures.count(pref)) {
          expected = run_plan(p, data.x, data.w, data.b, pref, max_threads);
          expected_from = pref + " (checked on a sibling)";
          break;
        }
      }
      if (expected.empty()) {
        expected_from = "";
        std::fprintf(stderr, "  no checked strategy to compare against: every row of %s is marked wrong\n", layer.name.c_str());
      }
    }

    for (int t : threads) {
      // Every implementation is built and checked first, then all are timed interleaved.
      struct Ready {
        size_t row;
        std::unique_ptr<Plan> plan;
        detail::AlignedBuffer x, y, ws;  // aligned: see aligned_copy()
        std::unique_ptr<PeerInstance> peer;
      };
      std::vector<std::unique_ptr<Ready>> ready;
      std::vector<Contender> contenders;
      auto fail = [&](Row& r, const std::string& why) {
        r.note = "WRONG vs " + expected_from + ": " + why;
        std::fprintf(stderr, "  !!! %s %s threads=%d: %s\n", layer.name.c_str(), r.impl.c_str(), t, r.note.c_str());
      };
      // tconv strategies.
      for (const auto& s : strategies) {
        Row r{layer.name, s, "strategy", "", t, {}, 0, 0, useful, 0, 0, false, ""};
        PlanOptions o;
        o.strategy = s;
        o.max_threads = t;
        o.use_wisdom = false;  // `auto` here is the heuristic alone (TCONV_WISDOM is not consulted)
        auto rd = std::make_unique<Ready>();
        try {
          rd->plan = std::make_unique<Plan>(p, data.w.data(), data.b.data(), o);
        } catch (const Error& e) {
          r.note = e.what();
          rows.push_back(r);
          continue;
        }
        const Plan& pl = *rd->plan;
        r.detail = s == "auto" ? pl.strategy() + ":" + pl.implementation() : pl.implementation();
        r.executed = pl.executed_macs();
        r.workspace = pl.workspace_bytes();
        rd->x = aligned_copy(data.x);
        rd->y.resize(size_t(p.output_elements()));
        rd->ws.resize((r.workspace + sizeof(float) - 1) / sizeof(float));
        pl.execute(rd->x.data(), rd->y.data(), rd->ws.data(), t);
        const std::vector<float> y(rd->y.data(), rd->y.data() + rd->y.size());
        std::string why;
        r.correct = !expected.empty() && close_enough(p, y, expected, data.x_max, data.w_max, data.b_max, &why);
        if (sibling_failures.count(s)) {
          r.correct = false;
          why = sibling_failures[s];
        }
        if (!r.correct) fail(r, why);
        rd->row = rows.size();
        rows.push_back(r);
        if (!r.correct) continue;
        Ready* me = rd.get();
        contenders.push_back({layer.name + "/" + s + "/" + std::to_string(t),
                              [me, t] { me->plan->execute(me->x.data(), me->y.data(), me->ws.data(), t); }});
        ready.push_back(std::move(rd));
      }
      // Peers.
      for (const Peer* peer : peers) {
        Row r{layer.name, peer->name, "peer", "", t, {}, 0, 0, useful, 0, 0, false, ""};
        std::string why;
        auto rd = std::make_unique<Ready>();
        rd->peer = peer->create(p, data.x, data.w, data.b, t, &why);
        if (!rd->peer) {
          r.note = "not run: " + why;
          rows.push_back(r);
          continue;
        }
        r.detail = rd->peer->detail();
        r.workspace = rd->peer->workspace_bytes();
        rd->peer->run();
        r.correct = !expected.empty() && close_enough(p, rd->peer->output(), expected, data.x_max, data.w_max, data.b_max, &why);
        if (!r.correct) fail(r, why);
        rd->row = rows.size();
        rows.push_back(r);
        if (!r.correct) continue;
        PeerInstance* ip = rd->peer.get();
        contenders.push_back({layer.name + "/" + peer->name + "/" + std::to_string(t), [ip] { ip->run(); }, true});
        ready.push_back(std::move(rd));
      }
      std::fprintf(stderr, "[layer %zu/%zu] %s: timing %zu implementations interleaved, %d thread%s\n", li + 1,
                   layers.size(), layer.name.c_str(), contenders.size(), t, t > 1 ? "s" : "");
      std::vector<bool> probe_only;
      const std::vector<Timing> times = time_interleaved(contenders, min_time, reps, &probe_only);
      for (size_t i = 0; i < ready.size(); ++i) {
        Row& r = rows[ready[i]->row];
        r.t = times[i];
        if (probe_only[i]) r.detail += " [one run: >30x the best]";
      }
    }
    // Print this layer's rows.
    for (Row& r : rows) {
      if (r.layer != layer.name) continue;
      if (r.t.median > 0) {
        r.gflops = 2.0 * double(r.useful) / r.t.median / 1e9;
        r.peak_pct = 100.0 * r.gflops / peak.gflops.at(r.threads);
      }
      if (!r.correct) {
        std::printf("%-13s %-17s %3d %10s %10s %8s %6s %6s %11s  %s\n", r.layer.c_str(), r.impl.c_str(), r.threads, "-", "-",
                    "-", "-", "-", "-", r.note.c_str());
        continue;
      }
      char ratio[16] = "-";
      if (r.executed) std::snprintf(ratio, sizeof ratio, "%.2f", double(r.executed) / double(r.useful));
      std::printf("%-13s %-17s %3d %10.4f %10.4f %8.1f %6.1f %6s %11zu  %s\n", r.layer.c_str(), r.impl.c_str(), r.threads,
                  r.t.median * 1e3, r.t.min * 1e3, r.gflops, r.peak_pct, ratio, r.workspace, r.detail.c_str());
    }
    std::fflush(stdout);
  }

  // Summary: the winner per layer and thread count; geometric-mean speed-ups over each peer.
  std::printf("\nWinner per layer (median time):\n");
  for (const auto& layer : layers) {
    for (int t : threads) {
      const Row* best = nullptr;
      const Row* best_peer = nullptr;
      for (const Row& r : rows) {
        if (r.layer != layer.name || r.threads != t || !r.correct || r.t.median <= 0) continue;
        if (!best || r.t.median < best->t.median) best = &r;
        if (r.kind == "peer" && (!best_peer || r.t.median < best_peer->t.median)) best_peer = &r;
      }
      if (!best) continue;
      std::printf("  %-13s threads=%d  %-17s %9.4f ms", layer.name.c_str(), t, best->impl.c_str(), best->t.median * 1e3);
      if (best_peer) std::printf("   best peer %-17s %9.4f ms (%.2fx)", best_peer->impl.c_str(), best_peer->t.median * 1e3,
                                 best_peer->t.median / best->t.median);
      std::printf("\n");
    }
  }
  std::printf("\nGeometric-mean speed-up (peer time / strategy time, layers where both ran):\n");
  std::vector<std::string> peer_names;
  for (const Peer* pe : peers) peer_names.push_back(pe->name);
  peer_names.push_back("best_peer");
  std::printf("  %-17s %3s", "strategy", "thr");
  for (const auto& pn : peer_names) std::printf(" %13s", pn.c_str());
  std::printf("\n");
  for (const auto& s : strategies) {
    for (int t : threads) {
      std::printf("  %-17s %3d", s.c_str(), t);
      for (const auto& pn : peer_names) {
        double log_sum = 0;
        int n = 0;
        for (const auto& layer : layers) {
          const Row* mine = nullptr;
          double peer_time = 0;
          for (const Row& r : rows) {
            if (r.layer != layer.name || r.threads != t || !r.correct || r.t.median <= 0) continue;
            if (r.impl == s) mine = &r;
            if (r.kind == "peer" && (r.impl == pn || pn == "best_peer") && (peer_time == 0 || r.t.median < peer_time)) {
              peer_time = r.t.median;
            }
          }
          if (mine && peer_time > 0) {
            log_sum += std::log(peer_time / mine->t.median);
            ++n;
          }
        }
        if (n) std::printf(" %12.2fx", std::exp(log_sum / n));
        else std::printf(" %13s", "-");
      }
      std::printf("\n");
    }
  }

  if (!json_path.empty()) {
    std::ofstream js(json_path);
    if (!js) throw Error("tconv bench: --json " + json_path + ": cannot write the file");
    js << "{\n  \"machine\": {\"cpu\": \"" << json_escape(cpu_model()) << "\", \"isa\": \"" << isa_list
       << "\", \"plan_isa\": \"" << active_isa() << "\", \"peak_gflops\": {";
    for (size_t i = 0; i < threads.size(); ++i) js << (i ? ", " : "") << "\"" << threads[i] << "\": " << peak.gflops.at(threads[i]);
    js << "}},\n  \"layout\": \"" << layout << "\",\n  \"layers_file\": \"" << json_escape(layers_path) << "\",\n  \"results\": [\n";
    for (size_t i = 0; i < rows.size(); ++i) {
      const Row& r = rows[i];
      js << "    {\"layer\": \"" << r.layer << "\", \"impl\": \"" << r.impl << "\", \"kind\": \"" << r.kind
         << "\", \"threads\": " << r.threads;
      if (r.correct) {
        js << ", \"ms_median\": " << r.t.median * 1e3 << ", \"ms_min\": " << r.t.min * 1e3 << ", \"gflops\": " << r.gflops
           << ", \"peak_pct\": " << r.peak_pct;
      } else {
        js << ", \"ms_median\": null, \"ms_min\": null, \"gflops\": null, \"peak_pct\": null";
      }
      js << ", \"useful_macs\": " << r.useful << ", \"executed_macs\": ";
      if (r.executed) js << r.executed;
      else js << "null";
      js << ", \"workspace_bytes\": " << r.workspace << ", \"detail\": \"" << json_escape(r.detail)
         << "\", \"correct\": " << (r.correct ? "true" : "false");
      if (!r.note.empty()) js << ", \"note\": \"" << json_escape(r.note) << "\"";
      js << "}" << (i + 1 < rows.size() ? "," : "") << "\n";
    }
    js << "  ]\n}\n";
    std::fprintf(stderr, "wrote %s\n", json_path.c_str());
  }
  bool all_correct = true;
  for (const Row& r : rows) all_correct = all_correct && (r.correct || r.note.rfind("not run", 0) == 0 ||
                                                          r.note.find("cannot run these parameters") != std::string::npos);
  if (!all_correct) std::printf("\nSOME IMPLEMENTATIONS GAVE WRONG RESULTS (rows marked WRONG above)\n");
  return all_correct ? 0 : 1;
}

}  // namespace tconv::bench
