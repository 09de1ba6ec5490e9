#include "epilogue/phase_row.hpp"

namespace tconv::detail {

PhaseRowWriter::PhaseRowWriter(const std::vector<Phase1D>& phases_w, int64_t stride_w, const KernelTable& kt)
    : phases_w_(phases_w), stride_w_(stride_w), kt_(kt) {
  if (stride_w == 2 && phases_w[0].count > 0 && phases_w[1].count > 0) even_ = phases_w[0].first == 0 ? 0 : 1;
}

void PhaseRowWriter::write(float* row, int64_t width, float bias, const Epilogue& epilogue, float* out) const {
  if (even_ >= 0) {
    const Phase1D &even = phases_w_[size_t(even_)], &odd = phases_w_[size_t(1 - even_)];
    const float* even_row = row + (even_ == 0 ? 0 : odd.count);
    const float* odd_row = row + (even_ == 0 ? even.count : 0);
    kt_.zip_store(even_row, even.count, odd_row, odd.count, bias, epilogue, out);
    return;
  }
  kt_.epilogue(row, width, &bias, 0, epilogue);
  interleave_phases(phases_w_, stride_w_, row, out);
}

}  // namespace tconv::detail
