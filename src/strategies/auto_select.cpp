// The heuristic behind strategy "auto": rules over the parameters alone, derived from the
// benchmark (the README's "Which strategy wins where" has the data behind each rule).
#include <string>

#include "strategies/strategy.hpp"

namespace tconv::detail {

Choice choose_strategy(const Params& p, const KernelTable&) {
  const int64_t cig = p.in_channels / p.groups, cog = p.out_channels / p.groups;
  if (p.stride.h * p.stride.w > (int64_t{1} << 16)) {
    return {"gemm_col2im", "stride_h*stride_w beyond the phase planner: GEMM + col2im"};
  }
  if (cig == 1 && cog == 1) {
    return {"direct_scatter", "depthwise (one channel per group): memory-bound, direct needs no packing"};
  }
  if (cog <= 4) {
    return {"direct_scatter", "at most 4 output channels per group: a GEMM tile would be mostly padding"};
  }
  return {"subpixel", "zero-free stride-phase GEMM on the packed micro-kernel"};
}

}  // namespace tconv::detail
