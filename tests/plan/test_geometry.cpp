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
    const auto phases = decompose_phases(in, s, k, d, crop, out);
    REQUIRE(int64_t(phases.size()) == s);
    uint64_t covered_outputs = 0, segment_pairs = 0;
    for (const auto& ph : phases) {
      covered_outputs += uint64_t(ph.count);
      int64_t expect_q = 0;
      for (const auto& seg : ph.segments) {
        REQUIRE(seg.q0 == expect_q);
        expect_q = seg.q1;
        for (int64_t q = seg.q0; q < seg.q1; ++q) {
          const int64_t o = ph.first + q * s;
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
    REQUIRE(covered_outputs == uint64_t(out));
    REQUIRE(segment_pairs == pairs);
  }
}
