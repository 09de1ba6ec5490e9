// `tconv tune`: times every applicable strategy on each layer and records the winners in a
// wisdom file, which plans made with "auto" then follow (PlanOptions::wisdom_file, TCONV_WISDOM).
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <random>

#include "cli/commands.hpp"
#include "cli/layers.hpp"
#include "cli/timing.hpp"
#include "tconv/tconv.hpp"
#include "wisdom/wisdom.hpp"

namespace tconv::bench {
namespace {

const char* kTuneUsage =
    "usage: tconv tune --wisdom FILE [--layers FILE] [--threads 1,2] [--layout nchw,nhwc]\n"
    "                  [--strategies LIST] [--min-time SECONDS] [--repetitions N] [--json FILE]\n\n"
    "Times every applicable strategy on each layer (default: bench/layers.csv) and records the fastest\n"
    "in the wisdom file, keyed by shape, layout, ISA, thread count and library version. Entries\n"
    "already in the file for other keys are kept. Plans made with strategy \"auto\" use the file when\n"
    "given it (PlanOptions::wisdom_file or the TCONV_WISDOM environment variable).\n"
    "  --wisdom FILE        the wisdom file to create or update (required)\n"
    "  --layers FILE        CSV: name,N,Cin,Cout,H,W,kh,kw,sh,sw,ph,pw,oph,opw,dh,dw,groups\n"
    "  --threads LIST       thread counts to tune for (a plan's max_threads; default 1,2)\n"
    "  --layout LIST        nchw, nhwc or both (default nchw,nhwc)\n"
    "  --strategies LIST    candidates (default: every registered strategy but reference)\n"
    "  --min-time S         Google Benchmark minimum time per repetition (default 0.1)\n"
    "  --repetitions N      repetitions; the median decides (default 3)\n"
    "  --json FILE          also write every strategy's timings (data for the auto heuristic)";

std::vector<float> random_floats(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& e : v) e = d(rng);
  return v;
}

struct Measured {
  std::string layer, layout, params, heuristic;
  int threads = 1;
  std::map<std::string, Timing> times;  // strategy -> timing (probe-only timings included)
  std::string winner;
};

void write_json(const std::string& path, const std::vector<Measured>& all) {
  std::ofstream out(path);
  out << "{\n  \"tconv_version\": \"" << version() << "\",\n  \"isa\": \"" << active_isa() << "\",\n  \"results\": [";
  for (size_t i = 0; i < all.size(); ++i) {
    const Measured& m = all[i];
    out << (i ? ",\n" : "\n") << "    {\"layer\": \"" << m.layer << "\", \"layout\": \"" << m.layout
        << "\", \"threads\": " << m.threads << ", \"params\": \"" << m.params << "\", \"heuristic\": \""
        << m.heuristic << "\", \"winner\": \"" << m.winner << "\", \"ms\": {";
    bool first = true;
    for (const auto& [s, t] : m.times) {
      out << (first ? "" : ", ") << "\"" << s << "\": [" << t.median * 1e3 << ", " << t.min * 1e3 << "]";
      first = false;
    }
    out << "}}";
  }
  out << "\n  ]\n}\n";
  if (!out) throw Error("cannot write " + path);
}

}  // namespace

int tune_command(const std::vector<std::string>& args) {
  std::string layers_path = default_layers_path(), wisdom_path, json_path;
  std::string threads_arg = "1,2", layout_arg = "nchw,nhwc", strategies_arg;
  double min_time = 0.1;
  int reps = 3;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= args.size()) throw Error("tconv tune: " + a + " needs a value");
      return args[++i];
    };
    if (a == "--help" || a == "-h") {
      std::puts(kTuneUsage);
      return 0;
    }
    if (a == "--wisdom") wisdom_path = value();
    else if (a == "--layers") layers_path = value();
    else if (a == "--threads") threads_arg = value();
    else if (a == "--layout") layout_arg = value();
    else if (a == "--strategies") strategies_arg = value();
    else if (a == "--min-time") min_time = std::stod(value());
    else if (a == "--repetitions") reps = std::stoi(value());
    else if (a == "--json") json_path = value();
    else throw Error("tconv tune: unknown argument '" + a + "' (see tconv tune --help)");
  }
  if (wisdom_path.empty()) throw Error("tconv tune: --wisdom FILE is required (see tconv tune --help)");
  if (!(min_time > 0) || reps < 1) throw Error("tconv tune: --min-time must be > 0 and --repetitions >= 1");
  const std::vector<int> threads = parse_thread_counts("tconv tune: --threads", threads_arg);
  const std::vector<std::string> layouts = split(layout_arg);
  for (const auto& l : layouts) {
    if (l != "nchw" && l != "nhwc") throw Error("tconv tune: --layout " + layout_arg + ": each must be nchw or nhwc");
  }
  const auto registered = strategy_names();
  std::vector<std::string> candidates;
  if (strategies_arg.empty()) {
    for (const auto& s : registered)
      if (s != "reference") candidates.push_back(s);
  } else {
    for (const auto& s : split(strategies_arg)) {
      if (std::find(registered.begin(), registered.end(), s) == registered.end()) {
        throw Error("tconv tune: --strategies: '" + s + "' is not a registered strategy");
      }
      candidates.push_back(s);
    }
  }
  const auto layers = read_layers(layers_path);

  // Keep what the file already knows; a defective file is replaced (with the loader's warning).
  detail::WisdomTable table;
  {
    std::ifstream probe(wisdom_path);
    if (probe) {
      std::string warning;
      if (auto existing = detail::load_wisdom(wisdom_path, &warning)) table = *existing;
    }
  }

  init_benchmark_library();
  std::printf("tconv %s tune | ISA %s | wisdom %s\n\n", version(), active_isa().c_str(), wisdom_path.c_str());
  std::printf("%-14s %-6s %3s  %-17s %10s  %-17s %8s  %s\n", "layer", "layout", "thr", "winner", "ms(med)",
              "heuristic", "heur/win", "all (ms, median)");
  std::vector<Measured> all;
  int agree = 0;
  double worst_ratio = 1;
  for (const auto& layout : layouts) {
    for (size_t li = 0; li < layers.size(); ++li) {
      Params p = layers[li].params;
      p.layout = layout == "nchw" ? Layout::nchw : Layout::nhwc;
      const detail::AlignedBuffer x = aligned_copy(random_floats(p.input_elements(), 7 + uint32_t(li)));
      const auto w = random_floats(p.weight_elements(), 11 + uint32_t(li));
      const auto b = random_floats(p.out_channels, 13 + uint32_t(li));
      detail::AlignedBuffer y(static_cast<size_t>(p.output_elements()));
      for (int t : threads) {
        Measured m{layers[li].name, layout, p.to_string(), "", t, {}, ""};
        PlanOptions heuristic_options;
        heuristic_options.max_threads = t;
        heuristic_options.use_wisdom = false;
        m.heuristic = Plan(p, w.data(), b.data(), heuristic_options).strategy();
        // Every applicable strategy, timed interleaved.
        std::vector<std::string> names;
        std::vector<std::unique_ptr<Plan>> plans;
        std::vector<detail::AlignedBuffer> workspaces;
        for (const auto& s : candidates) {
          PlanOptions o;
          o.strategy = s;
          o.max_threads = t;
          try {
            plans.push_back(std::make_unique<Plan>(p, w.data(), b.data(), o));
          } catch (const Error&) {
            continue;  // not applicable to this shape
          }
          names.push_back(s);
          workspaces.emplace_back((plans.back()->workspace_bytes() + sizeof(float) - 1) / sizeof(float));
        }
        std::vector<Contender> contenders;
        for (size_t i = 0; i < plans.size(); ++i) {
          const Plan* pl = plans[i].get();
          float* ws = workspaces[i].data();
          contenders.push_back({layers[li].name + "/" + names[i] + "/" + std::to_string(t),
                                [pl, ws, &x, &y, t] { pl->execute(x.data(), y.data(), ws, t); }});
        }
        std::vector<bool> probe_only;
        const std::vector<Timing> times = time_interleaved(contenders, min_time, reps, &probe_only);
        double best = 0;
        for (size_t i = 0; i < names.size(); ++i) {
          m.times[names[i]] = times[i];
          if (!probe_only[i] && (best == 0 || times[i].median < best)) {
            best = times[i].median;
            m.winner = names[i];
          }
        }
        if (m.winner.empty()) {
          std::fprintf(stderr, "tconv tune: %s (%s, %d threads): no strategy ran\n", m.layer.c_str(), layout.c_str(), t);
          continue;
        }
        table[detail::wisdom_key(p, active_isa(), t)] = {m.winner, best * 1e3};
        const double heuristic_ms = m.times.count(m.heuristic) ? m.times[m.heuristic].median * 1e3 : 0;
        const double ratio = heuristic_ms / (best * 1e3);
        agree += m.heuristic == m.winner;
        worst_ratio = std::max(worst_ratio, ratio);
        std::string others;
        for (const auto& [s, tm] : m.times) {
          char buf[64];
          std::snprintf(buf, sizeof buf, "%s%s %.4g", others.empty() ? "" : ", ", s.c_str(), tm.median * 1e3);
          others += buf;
        }
        std::printf("%-14s %-6s %3d  %-17s %10.4f  %-17s %7.2fx  %s\n", m.layer.c_str(), layout.c_str(), t,
                    m.winner.c_str(), best * 1e3, m.heuristic.c_str(), ratio, others.c_str());
        std::fflush(stdout);
        all.push_back(m);
      }
    }
  }
  detail::save_wisdom(wisdom_path, table);
  std::printf("\nheuristic picked the measured winner on %d of %zu; its worst case is %.2fx the winner's time\n",
              agree, all.size(), worst_ratio);
  std::printf("wrote %zu entries to %s\n", table.size(), wisdom_path.c_str());
  if (!json_path.empty()) write_json(json_path, all);
  return 0;
}

}  // namespace tconv::bench
