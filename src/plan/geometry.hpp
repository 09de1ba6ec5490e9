// One-dimensional geometry of a transposed convolution: which (input, tap) pairs reach which
// output positions. Shared by the work counter, the sub-pixel strategy and `tconv shape`.
#pragma once

#include <cstdint>
#include <vector>

namespace tconv::detail {

// Number of pairs (i, t), 0 <= i < in, 0 <= t < k, with 0 <= i*s + t*d - crop < out.
uint64_t valid_pairs(int64_t in, int64_t s, int64_t k, int64_t d, int64_t crop, int64_t out);

// A stride phase along one dimension: outputs o = first + q*s for q in [0, count), all with
// (o + crop) mod s == residue. Tap t of `taps` reaches output q from input base[t] + q.
struct Phase1D {
  struct Tap {
    int64_t k;     // kernel index (th)
    int64_t base;  // input index feeding phase output q = 0 (may be outside [0, in))
  };
  // Phase outputs [q0, q1) all see exactly the taps [tap_begin, tap_end) with valid inputs.
  struct Segment {
    int64_t q0, q1;
    int64_t tap_begin, tap_end;
  };
  int64_t residue = 0;
  int64_t first = 0;
  int64_t count = 0;
  std::vector<Tap> taps;  // ascending k, hence descending base
  std::vector<Segment> segments;
};

// The s phases of one dimension (some may have count == 0 when out < s).
std::vector<Phase1D> decompose_phases(int64_t in, int64_t s, int64_t k, int64_t d, int64_t crop,
                                      int64_t out);

// Outputs [a, b) of a phase as a phase of their own (first, tap bases and segments shifted).
Phase1D sub_phase(const Phase1D& ph, int64_t a, int64_t b, int64_t s);

// The phases cut into pieces so that phases with the same taps up to a shift of the input (same
// tap count and kernel spacing, e.g. both phases of k = 4, s = 2, pad = 1) share one central
// piece geometry: equal count, tap bases and segments, so one GEMM can run them together on the
// same gathered input. The outputs of a phase that fall outside the common range become edge
// pieces of their own. Pieces are sorted by shape, then by first output; empty phases dropped.
// Together the pieces cover every output of every phase exactly once.
std::vector<Phase1D> align_phases(const std::vector<Phase1D>& phases, int64_t s);

// The valid taps of output position o: its phase, its index q in the phase, and the run
// [begin, end) of the phase's taps whose input lies inside the tensor.
struct TapRun {
  const Phase1D* phase;
  int64_t q;
  int64_t begin, end;
};
TapRun tap_run_at(const std::vector<Phase1D>& phases, int64_t o, int64_t crop, int64_t s);

// A row kept phase-major (all of phase 0's outputs, then phase 1's, ...) written back in output
// order: out[first + q*s] = row[phase start + q].
void interleave_phases(const std::vector<Phase1D>& phases, int64_t s, const float* row, float* out);

}  // namespace tconv::detail
