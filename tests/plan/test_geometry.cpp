// Geometry: valid pair counts and the stride-phase decomposition against brute force.
#include <catch2/catch.hpp>

#include <algorithm>
#include <random>

#include "plan/geometry.hpp"

using namespace tconv::detail;

TEST_CASE("valid_pairs and phase segments match brute force", "[geometry]") {
  std::mt19937 rng(5);
  auto pick = [&](int lo, int hi) { return int64_t(std::uniform_int_distribution<int>(lo, hi)(rng)); };
  for (int it = 0; it < 3000; ++it) {
    const int64_t in = pick(1, 9), s = pick(1, 5), k = pick(1, 7), d = pick(1, 3);
    const int64_t crop = pick(-3, 12), out = pick(1, 30);
    INFO("in=" << in << " s=" << s << " k=" << k << " d=" << d << " crop=" << crop << " out=" << out);
    // Brute force: taps reaching each output.
    std::vector<std::vector<std::pair<int64_t, int64_t>>> reach(static_cast<size_t>(out));  // (tap, input)
    uint64_t pairs = 0;
    for (int64_t i = 0; i < in; ++i)
      for (int64_t t = 0; t < k; ++t) {
        const int64_t o = i * s + t * d - crop;
        if (o >= 0 && o < out) {
          reach[size_t(o)].push_back({t, i});
          ++pairs;
        }
      }
    REQUIRE(valid_pairs(in, s, k, d, crop, out) == pairs);
    // Phases or aligned pieces: every output exactly once, with exactly the taps that reach it.
    auto check_cover = [&](const std::vector<Phase1D>& phases) {
      std::vector<int> seen(static_cast<size_t>(out), 0);
      uint64_t segment_pairs = 0;
      for (const auto& ph : phases) {
        int64_t expect_q = 0;
        for (const auto& seg : ph.segments) {
          REQUIRE(seg.q0 == expect_q);
          expect_q = seg.q1;
          for (int64_t q = seg.q0; q < seg.q1; ++q) {
            const int64_t o = ph.first + q * s;
            REQUIRE((o >= 0 && o < out));
            ++seen[size_t(o)];
            REQUIRE((o + crop - ph.residue) % s == 0);
            std::vector<std::pair<int64_t, int64_t>> mine;
            for (int64_t j = seg.tap_begin; j < seg.tap_end; ++j) mine.push_back({ph.taps[size_t(j)].k, ph.taps[size_t(j)].base + q});
            auto want = reach[size_t(o)];
            std::sort(want.begin(), want.end());
            REQUIRE(mine == want);
            segment_pairs += uint64_t(seg.tap_end - seg.tap_begin);
          }
        }
        REQUIRE(expect_q == ph.count);
      }
      REQUIRE(std::all_of(seen.begin(), seen.end(), [](int n) { return n == 1; }));
      REQUIRE(segment_pairs == pairs);
    };
    const auto phases = decompose_phases(in, s, k, d, crop, out);
    REQUIRE(int64_t(phases.size()) == s);
    check_cover(phases);
    check_cover(align_phases(phases, s));
  }
}

TEST_CASE("align_phases gives phases that differ by an input shift one central geometry", "[geometry]") {
  // k = 4, s = 2, crop = 1 (PyTorch padding 1), 8 -> 16: phase 0 reads inputs {q, q-1}, phase 1
  // reads {q+1, q}. Their common outputs (output 1..14) form two equal pieces; outputs 0 and 15
  // are edge pieces.
  const auto pieces = align_phases(decompose_phases(8, 2, 4, 1, 1, 16), 2);
  REQUIRE(pieces.size() == 4);
  std::vector<int64_t> firsts;
  for (const auto& p : pieces) firsts.push_back(p.first);
  CHECK(firsts == std::vector<int64_t>{0, 1, 2, 15});  // sorted by first output
  const Phase1D &a = pieces[1], &b = pieces[2];
  REQUIRE(a.count == 7);
  REQUIRE(b.count == 7);
  REQUIRE(a.taps.size() == 2);
  for (size_t j = 0; j < 2; ++j) CHECK(a.taps[j].base == b.taps[j].base);
  REQUIRE(a.segments.size() == b.segments.size());
  CHECK(pieces[0].count == 1);
  CHECK(pieces[3].count == 1);
  // Phases with different tap counts (k = 5, s = 2) are left whole.
  CHECK(align_phases(decompose_phases(7, 2, 5, 1, 2, 14), 2).size() == 2);
}
