#include "epilogue/phase_row.hpp"

namespace tconv::detail {

namespace {
constexpr int64_t kMaxTransposedStride = 16;  // the widest vector (AVX-512)
}  // namespace

PhaseRowWriter::PhaseRowWriter(const std::vector<Phase1D>& phases_w, int64_t stride_w, const KernelTable& kt)
    : phases_w_(phases_w), stride_w_(stride_w), kt_(kt) {
  if (stride_w == 2 && phases_w[0].count > 0 && phases_w[1].count > 0) even_ = phases_w[0].first == 0 ? 0 : 1;
  if (stride_w >= 3 && stride_w <= kMaxTransposedStride) {
    std::vector<int64_t> start(size_t(stride_w), -1);
    int64_t at = 0;
    for (const Phase1D& ph : phases_w) {
      if (ph.count == 0 || ph.first < 0 || ph.first >= stride_w) return;
      start[size_t(ph.first)] = at;
      at += ph.count;
    }
    for (const int64_t s : start)
      if (s < 0) return;
    start_by_residue_ = std::move(start);
  }
}

void PhaseRowWriter::write(float* row, int64_t width, float bias, const Epilogue& epilogue, float* out) const {
  if (even_ >= 0) return zip(row, bias, epilogue, out);
  kt_.epilogue(row, width, &bias, 0, epilogue);
  interleave(row, width, out);
}

void PhaseRowWriter::interleave(const float* row, int64_t width, float* out) const {
  if (even_ >= 0) return zip(row, 0.0f, Epilogue{}, out);
  if (start_by_residue_.empty()) return interleave_phases(phases_w_, stride_w_, row, out);
  // Element by element, the interleave was a third of a stride-4 depthwise layer's time (16
  // images of 128 channels, 54x54, k8 s4, NCHW, AVX2: 155 -> 125 ms at 1 thread with transposes).
  const float* phase[kMaxTransposedStride];
  for (int64_t r = 0; r < stride_w_; ++r) phase[r] = row + start_by_residue_[size_t(r)];
  const int64_t done = kt_.interleave_phase_rows(phase, stride_w_, width, out);  // a multiple of s
  for (int64_t r = 0; r < stride_w_; ++r)
    for (int64_t o = done + r, q = done / stride_w_; o < width; o += stride_w_, ++q) out[o] = phase[r][q];
}

int64_t PhaseRowWriter::position(int64_t ow) const {
  int64_t start = 0;
  for (const Phase1D& ph : phases_w_) {
    const int64_t d = ow - ph.first;
    if (ph.count > 0 && d >= 0 && d % stride_w_ == 0 && d / stride_w_ < ph.count) return start + d / stride_w_;
    start += ph.count;
  }
  return 0;  // not reached for 0 <= ow < width: every output column lies in one phase
}

void PhaseRowWriter::zip(const float* row, float bias, const Epilogue& epilogue, float* out) const {
  const Phase1D &even = phases_w_[size_t(even_)], &odd = phases_w_[size_t(1 - even_)];
  const float* even_row = row + (even_ == 0 ? 0 : odd.count);
  const float* odd_row = row + (even_ == 0 ? even.count : 0);
  kt_.zip_store(even_row, even.count, odd_row, odd.count, bias, epilogue, out);
}

}  // namespace tconv::detail
