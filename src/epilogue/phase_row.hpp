// Writing a phase-split output row (all of W phase 0's outputs, then phase 1's, ...) back in
// output order with bias and activation: the last step of the row-based NCHW strategies.
#pragma once

#include <vector>

#include "dispatch/kernel_table.hpp"
#include "plan/geometry.hpp"

namespace tconv::detail {

class PhaseRowWriter {
 public:
  PhaseRowWriter(const std::vector<Phase1D>& phases_w, int64_t stride_w, const KernelTable& kt);
  // out[first + q*s] = act(row[phase start + q] + bias). Stride 2 with both phases present is one
  // vector pass (zip); otherwise the row gets the epilogue in place and is then interleaved, by
  // in-register transposes when every phase is present and s fits a vector, else element by
  // element.
  void write(float* row, int64_t width, float bias, const Epilogue& epilogue, float* out) const;
  // The same interleave of a row that has had its bias and activation already.
  void interleave(const float* row, int64_t width, float* out) const;
  // Where output column ow sits in the phase-split row.
  int64_t position(int64_t ow) const;

 private:
  void zip(const float* row, float bias, const Epilogue& epilogue, float* out) const;  // stride 2

  const std::vector<Phase1D>& phases_w_;
  int64_t stride_w_;
  const KernelTable& kt_;
  int64_t even_ = -1;  // stride 2, both phases non-empty: index of the phase holding even outputs
  // 3 <= stride <= 16, every phase non-empty: where the phase holding outputs r, r + s, ... starts
  // in the phase-split row (else empty).
  std::vector<int64_t> start_by_residue_;
};

}  // namespace tconv::detail
