// Geometry of one dimension: valid (input, tap) pairs and the stride-phase decomposition.
#include "plan/geometry.hpp"

#include <algorithm>

#include "plan/checked.hpp"

namespace tconv::detail {

uint64_t valid_pairs(int64_t in, int64_t s, int64_t k, int64_t d, int64_t crop, int64_t out) {
  uint64_t total = 0;
  for (int64_t t = 0; t < k; ++t) {
    // 0 <= i*s + t*d - crop <= out-1  <=>  crop - t*d <= i*s <= crop - t*d + out - 1
    const int64_t lo_value = crop - t * d;
    const int64_t i_lo = std::max<int64_t>(0, ceil_div(lo_value, s));
    const int64_t i_hi = std::min<int64_t>(in - 1, floor_div(lo_value + out - 1, s));
    if (i_hi >= i_lo) total += uint64_t(i_hi - i_lo + 1);
  }
  return total;
}

std::vector<Phase1D> decompose_phases(int64_t in, int64_t s, int64_t k, int64_t d, int64_t crop,
                                      int64_t out) {
  std::vector<Phase1D> phases(static_cast<size_t>(s));
  for (int64_t r = 0; r < s; ++r) {
    Phase1D& ph = phases[static_cast<size_t>(r)];
    ph.residue = r;
    ph.first = floor_mod(r - crop, s);
    ph.count = ph.first < out ? ceil_div(out - ph.first, s) : 0;
    if (ph.count == 0) continue;
    // Taps reach this phase iff t*d == r (mod s); their inputs advance one per phase output.
    for (int64_t t = 0; t < k; ++t) {
      if (floor_mod(t * d, s) != r) continue;
      ph.taps.push_back({t, (ph.first + crop - t * d) / s});
    }
    // Tap j is valid for q in [-base_j, in - base_j); both ends rise with j, so the valid taps
    // of any q form one contiguous run. Cut [0, count) where that run changes.
    std::vector<int64_t> cuts{0, ph.count};
    for (const auto& tap : ph.taps) {
      for (int64_t c : {-tap.base, in - tap.base}) {
        if (c > 0 && c < ph.count) cuts.push_back(c);
      }
    }
    std::sort(cuts.begin(), cuts.end());
    cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
    for (size_t c = 0; c + 1 < cuts.size(); ++c) {
      const int64_t q = cuts[c];
      int64_t begin = 0;
      const int64_t n = static_cast<int64_t>(ph.taps.size());
      while (begin < n && !(ph.taps[size_t(begin)].base + q < in)) ++begin;
      int64_t end = begin;
      while (end < n && ph.taps[size_t(end)].base + q >= 0 && ph.taps[size_t(end)].base + q < in) ++end;
      Phase1D::Segment seg{q, cuts[c + 1], begin, end};
      if (!ph.segments.empty() && ph.segments.back().tap_begin == seg.tap_begin &&
          ph.segments.back().tap_end == seg.tap_end) {
        ph.segments.back().q1 = seg.q1;
      } else {
        ph.segments.push_back(seg);
      }
    }
  }
  return phases;
}

Phase1D sub_phase(const Phase1D& ph, int64_t a, int64_t b, int64_t s) {
  Phase1D out;
  out.residue = ph.residue;
  out.first = ph.first + a * s;
  out.count = b - a;
  for (const auto& tap : ph.taps) out.taps.push_back({tap.k, tap.base + a});
  for (const auto& seg : ph.segments) {
    const int64_t q0 = std::max(seg.q0, a), q1 = std::min(seg.q1, b);
    if (q0 < q1) out.segments.push_back({q0 - a, q1 - a, seg.tap_begin, seg.tap_end});
  }
  return out;
}

std::vector<Phase1D> align_phases(const std::vector<Phase1D>& phases, int64_t s) {
  // Phases whose taps match up to a shift: same count of taps, same kernel-index steps.
  auto same_shape = [](const Phase1D& x, const Phase1D& y) {
    if (x.taps.size() != y.taps.size() || x.taps.empty()) return false;
    for (size_t j = 0; j < x.taps.size(); ++j)
      if (x.taps[j].k - x.taps[0].k != y.taps[j].k - y.taps[0].k) return false;
    return true;
  };
  std::vector<std::vector<const Phase1D*>> sets;
  for (const Phase1D& ph : phases) {
    if (ph.count == 0) continue;
    auto it = std::find_if(sets.begin(), sets.end(), [&](const auto& set) { return same_shape(*set[0], ph); });
    if (it == sets.end()) sets.push_back({&ph});
    else it->push_back(&ph);
  }
  std::vector<Phase1D> out;
  for (const auto& set : sets) {
    // Member m's output q meets the same inputs as the reference's output q + shift[m].
    int64_t lo = 0, hi = set[0]->count;
    for (const Phase1D* ph : set) {
      const int64_t shift = ph->taps.empty() ? 0 : ph->taps[0].base - set[0]->taps[0].base;
      lo = std::max(lo, shift);
      hi = std::min(hi, shift + ph->count);
    }
    const size_t begin = out.size();
    for (const Phase1D* ph : set) {
      const int64_t shift = ph->taps.empty() ? 0 : ph->taps[0].base - set[0]->taps[0].base;
      const int64_t a = set.size() > 1 && lo < hi ? lo - shift : 0;
      const int64_t b = set.size() > 1 && lo < hi ? hi - shift : ph->count;
      if (a > 0) out.push_back(sub_phase(*ph, 0, a, s));
      out.push_back(sub_phase(*ph, a, b, s));
      if (b < ph->count) out.push_back(sub_phase(*ph, b, ph->count, s));
    }
    std::stable_sort(out.begin() + std::ptrdiff_t(begin), out.end(),
                     [](const Phase1D& x, const Phase1D& y) { return x.first < y.first; });
  }
  return out;
}

TapRun tap_run_at(const std::vector<Phase1D>& phases, int64_t o, int64_t crop, int64_t s) {
  const Phase1D& ph = phases[size_t(floor_mod(o + crop, s))];
  const int64_t q = (o - ph.first) / s;
  for (const auto& seg : ph.segments) {
    if (q >= seg.q0 && q < seg.q1) return {&ph, q, seg.tap_begin, seg.tap_end};
  }
  return {&ph, q, 0, 0};
}

void interleave_phases(const std::vector<Phase1D>& phases, int64_t s, const float* row, float* out) {
  if (s == 1) {
    std::copy(row, row + phases[0].count, out);
    return;
  }
  for (const Phase1D& ph : phases) {
    for (int64_t q = 0; q < ph.count; ++q) out[ph.first + q * s] = row[q];
    row += ph.count;
  }
}

}  // namespace tconv::detail
