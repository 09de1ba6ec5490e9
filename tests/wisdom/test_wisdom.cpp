// Wisdom files: the format round-trips, plans follow matching entries and only those, and any
// defective file (missing, corrupt, truncated, foreign, fuzzed) is ignored without harm.
#include <unistd.h>

#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>

#include "support/test_support.hpp"
#include "wisdom/wisdom.hpp"

namespace tconv {
namespace {

using detail::WisdomTable;

// A scratch file path unique to this process and call (the loader caches by path and version).
std::string scratch_path(const std::string& tag) {
  static int counter = 0;
  return "/tmp/tconv_wisdom_test_" + std::to_string(::getpid()) + "_" + tag + "_" + std::to_string(counter++);
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

Params small_shape(Layout layout = Layout::nchw) {
  PyTorchArgs a;
  a.in_channels = 6;
  a.out_channels = 5;
  a.kernel = {4, 4};
  a.stride = {2, 2};
  a.padding = {1, 1};
  return from_pytorch(a, 2, {5, 7}, layout);
}

// The strategy the heuristic would not pick for `p`: what a wisdom entry must override.
std::string non_heuristic_strategy(const Params& p, int threads) {
  PlanOptions o;
  o.max_threads = threads;
  o.use_wisdom = false;
  std::vector<float> w(static_cast<size_t>(p.weight_elements()), 0.5f), b(static_cast<size_t>(p.out_channels), 0.0f);
  const std::string heuristic = Plan(p, w.data(), b.data(), o).strategy();
  return heuristic == "im2col_gemm" ? "direct_scatter" : "im2col_gemm";
}

struct Outcome {
  std::string strategy, reason;
  std::vector<float> output;
};

Outcome plan_with(const Params& p, const std::string& wisdom_file, int threads, bool use_wisdom = true) {
  std::mt19937 rng(5);
  const auto x = test::random_tensor(size_t(p.input_elements()), rng);
  const auto w = test::random_tensor(size_t(p.weight_elements()), rng);
  const auto b = test::random_tensor(size_t(p.out_channels), rng);
  PlanOptions o;
  o.max_threads = threads;
  o.wisdom_file = wisdom_file;
  o.use_wisdom = use_wisdom;
  const Plan plan(p, w.data(), b.data(), o);
  std::vector<float> y(size_t(p.output_elements()));
  plan.execute(x.data(), y.data(), nullptr, threads);
  const auto want = test::run(p, x, w, b, "reference");
  CHECK(test::excess_error(p, y, want, x, w, b) <= 0);
  return {plan.strategy(), plan.reason(), y};
}

std::string one_entry_file(const Params& p, const std::string& strategy, int threads) {
  WisdomTable t;
  t[detail::wisdom_key(p, active_isa(), threads)] = {strategy, 1.5};
  return detail::format_wisdom(t);
}

TEST_CASE("wisdom format round-trips", "[wisdom]") {
  WisdomTable t;
  t[detail::wisdom_key(small_shape(), "avx2", 1)] = {"subpixel", 0.25};
  t[detail::wisdom_key(small_shape(Layout::nhwc), "avx512f", 3)] = {"gemm_col2im", 12.5};
  const std::string text = detail::format_wisdom(t);
  WisdomTable back;
  std::string why;
  REQUIRE(detail::parse_wisdom(text, &back, &why));
  REQUIRE(back.size() == t.size());
  for (const auto& [k, e] : t) {
    REQUIRE(back.count(k));
    CHECK(back[k].strategy == e.strategy);
    CHECK(back[k].median_ms == Approx(e.median_ms));
  }
  // CRLF line ends and comments are accepted.
  std::string crlf;
  for (char c : text) crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
  REQUIRE(detail::parse_wisdom("# leading comment is not allowed before the header\n" + text, &back, &why) == false);
  CHECK(detail::parse_wisdom(crlf, &back, &why));
}

TEST_CASE("a matching wisdom entry decides auto; anything else falls back to the heuristic", "[wisdom]") {
  for (const Layout layout : {Layout::nchw, Layout::nhwc}) {
    const Params p = small_shape(layout);
    const std::string wanted = non_heuristic_strategy(p, 2);
    const std::string path = scratch_path("match");
    write_file(path, one_entry_file(p, wanted, 2));

    const Outcome hit = plan_with(p, path, 2);
    CHECK(hit.strategy == wanted);
    CHECK(hit.reason.find("measured fastest by tconv tune") != std::string::npos);
    CHECK(hit.reason.find(path) != std::string::npos);

    // Another thread count, layout or shape: no entry, the heuristic decides and says so.
    const Outcome other_threads = plan_with(p, path, 1);
    CHECK(other_threads.strategy != wanted);
    CHECK(other_threads.reason.find("no entry for this shape") != std::string::npos);
    Params other_layout = p;
    other_layout.layout = layout == Layout::nchw ? Layout::nhwc : Layout::nchw;
    CHECK(plan_with(other_layout, path, 2).strategy != wanted);
    Params other_batch = p;
    other_batch.batch = 3;
    CHECK(plan_with(other_batch, path, 2).strategy != wanted);
    // use_wisdom = false ignores the file.
    CHECK(plan_with(p, path, 2, false).strategy != wanted);
    std::remove(path.c_str());
  }
}

TEST_CASE("entries for another ISA or library version do not match", "[wisdom]") {
  const Params p = small_shape();
  const std::string wanted = non_heuristic_strategy(p, 1);
  std::string text = one_entry_file(p, wanted, 1);
  const std::string isa = active_isa();
  std::string foreign_isa = text, foreign_version = text;
  foreign_isa.replace(foreign_isa.find("isa=" + isa), 4 + isa.size(), isa == "sse2" ? "isa=avx2" : "isa=sse2");
  const std::string v = std::string("version=") + version();
  foreign_version.replace(foreign_version.find(v), v.size(), "version=0.0.0-other");
  for (const auto& t : {foreign_isa, foreign_version}) {
    const std::string path = scratch_path("foreign");
    write_file(path, t);
    const Outcome o = plan_with(p, path, 1);
    CHECK(o.strategy != wanted);
    CHECK(o.reason.find("no entry for this shape") != std::string::npos);
    std::remove(path.c_str());
  }
}

TEST_CASE("TCONV_WISDOM names the file when the options do not", "[wisdom]") {
  const Params p = small_shape();
  const std::string wanted = non_heuristic_strategy(p, 1);
  const std::string path = scratch_path("env");
  write_file(path, one_entry_file(p, wanted, 1));
  ::setenv("TCONV_WISDOM", path.c_str(), 1);
  const Outcome via_env = plan_with(p, "", 1);
  const Outcome disabled = plan_with(p, "", 1, false);
  ::unsetenv("TCONV_WISDOM");
  CHECK(via_env.strategy == wanted);
  CHECK(disabled.strategy != wanted);
  CHECK(plan_with(p, "", 1).reason.find("wisdom") == std::string::npos);
  std::remove(path.c_str());
}

TEST_CASE("an entry naming a strategy that cannot run the shape falls back", "[wisdom]") {
  // stride_h * stride_w beyond 65536: subpixel's phase planner declines.
  Params p;
  p.in_channels = 2;
  p.out_channels = 2;
  p.input = {1, 2};
  p.kernel = {1, 1};
  p.stride = {300, 300};
  p.output = {1, 301};
  validate(p);
  const std::string path = scratch_path("inapplicable");
  write_file(path, one_entry_file(p, "subpixel", 1));
  const Outcome o = plan_with(p, path, 1);
  CHECK(o.strategy != "subpixel");
  CHECK(o.reason.find("cannot run this shape") != std::string::npos);
  std::remove(path.c_str());
}

TEST_CASE("defective wisdom files are rejected, naming the line and the rule", "[wisdom]") {
  const Params p = small_shape();
  const std::string good = one_entry_file(p, "im2col_gemm", 1);
  const std::string entry = good.substr(good.find("entry "), good.find("\nend") - good.find("entry ") + 1);
  const std::string header = "tconv-wisdom 1\n";
  auto with_entry = [&](const std::string& from, const std::string& to) {
    std::string e = entry;
    const size_t at = e.find(from);
    REQUIRE(at != std::string::npos);
    e.replace(at, from.size(), to);
    return header + e + "end 1\n";
  };
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "the file is empty"},
      {"garbage\n", "not a tconv wisdom file"},
      {"tconv-wisdom 2\nend 0\n", "format '2'"},
      {header + entry, "truncated"},
      {header + entry + "end 2\n", "does not match"},
      {header + entry + entry + "end 2\n", "same key"},
      {header + entry + "end 1\nentry x=1\n", "after the 'end' line"},
      {header + "something else\nend 0\n", "expected 'entry"},
      {with_entry("strategy=im2col_gemm", "strategy=fastest"), "not a registered strategy"},
      {with_entry(" ms=", " bogus=1 ms="), "unknown key 'bogus'"},
      {with_entry(" N=2", " N=2 N=3"), "appears twice"},
      {with_entry(" N=2", ""), "missing key 'N'"},
      {with_entry(" N=2", " N=two"), "N=two is not an integer"},
      {with_entry(" N=2", " N=99999999999999999999"), "is not an integer"},
      {with_entry(" g=1", " g=2"), "not a valid transposed convolution"},  // Cout=5
      {with_entry(" oh=", " junk oh="), "is not key=value"},
      {with_entry("threads=1", "threads=0"), "threads=0"},
      {with_entry("layout=nchw", "layout=chwn"), "layout=chwn"},
      {with_entry("isa=", "isa=a/b"), "not an ISA name"},
      {with_entry(" ms=1.5", " ms=-1"), "non-negative"},
      {with_entry(" ms=1.5", " ms=nan"), "non-negative"},
      {header + std::string(5000, 'x') + "\nend 0\n", "longer than"},
  };
  for (const auto& [text, rule] : cases) {
    INFO(text);
    WisdomTable t;
    std::string why;
    CHECK_FALSE(detail::parse_wisdom(text, &t, &why));
    CHECK(t.empty());
    CHECK(why.find(rule) != std::string::npos);
    CHECK(why.rfind("line ", 0) == 0);

    // Through a plan: the heuristic decides, the reason carries the warning, the output is right.
    const std::string path = scratch_path("defect");
    write_file(path, text);
    const Outcome o = plan_with(p, path, 1);
    CHECK(o.reason.find("ignoring wisdom file") != std::string::npos);
    std::remove(path.c_str());
  }
  const Outcome missing = plan_with(p, "/nonexistent/dir/wisdom.txt", 1);
  CHECK(missing.reason.find("cannot open it") != std::string::npos);
  const Outcome directory = plan_with(p, "/tmp", 1);
  CHECK(directory.reason.find("not a regular file") != std::string::npos);
}

TEST_CASE("the wisdom parser survives fuzzed files", "[wisdom][fuzz]") {
  WisdomTable seed_table;
  for (int threads : {1, 2}) {
    for (const Layout l : {Layout::nchw, Layout::nhwc}) {
      seed_table[detail::wisdom_key(small_shape(l), active_isa(), threads)] = {threads == 1 ? "subpixel" : "gemm_col2im", 2.0};
    }
  }
  const std::string seed = detail::format_wisdom(seed_table);
  const std::string alphabet = "tconv-wisdom entry end=0123456789 \n\r#xyzNCHWkhsgdctlow.";
  std::mt19937 rng(2024);
  const auto names = strategy_names();
  const int rounds = test::sweep_cases(1000) * 20;
  int accepted = 0;
  for (int round = 0; round < rounds; ++round) {
    std::string text = seed;
    const int edits = 1 + int(rng() % 4);
    for (int e = 0; e < edits && !text.empty(); ++e) {
      const size_t at = rng() % text.size();
      switch (rng() % 6) {
        case 0: text[at] = char(rng() % 256); break;                       // any byte
        case 1: text[at] = alphabet[rng() % alphabet.size()]; break;       // a plausible byte
        case 2: text.erase(at, 1 + rng() % 40); break;                     // a hole
        case 3: text.resize(at); break;                                    // truncation
        case 4: text.insert(at, text.substr(rng() % text.size(), rng() % 80)); break;  // duplicated run
        default: text.insert(at, std::string(1 + rng() % 3, alphabet[rng() % alphabet.size()])); break;
      }
    }
    if (round % 100 == 0) {
      // The whole path too: whatever the file holds, the plan is made and computes the right output.
      const std::string path = scratch_path("fuzz");
      write_file(path, text);
      plan_with(small_shape(round % 200 ? Layout::nchw : Layout::nhwc), path, 1 + round % 2);
      std::remove(path.c_str());
    }
    WisdomTable t;
    std::string why;
    if (!detail::parse_wisdom(text, &t, &why)) {
      CHECK(t.empty());
      CHECK(!why.empty());
      continue;
    }
    ++accepted;
    // Whatever is accepted is well-formed: registered strategies, and it formats back to itself.
    for (const auto& [k, e] : t) CHECK(std::find(names.begin(), names.end(), e.strategy) != names.end());
    WisdomTable again;
    REQUIRE(detail::parse_wisdom(detail::format_wisdom(t), &again, &why));
    CHECK(again.size() == t.size());
  }
  CHECK(accepted > 0);  // some mutations (e.g. in a comment or the ms value) keep the file valid
}

}  // namespace
}  // namespace tconv
