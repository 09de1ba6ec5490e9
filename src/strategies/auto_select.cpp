// The heuristic behind strategy "auto": rules over the parameters alone, read off `tconv bench`
// on the built-in layer suite in both layouts (bench/results/latest.json; the README's "Which
// strategy wins where" summarises it).
#include <string>

#include "strategies/strategy.hpp"

namespace tconv::detail {

Choice choose_strategy(const Params& p, const KernelTable&) {
  const int64_t cig = p.in_channels / p.groups, cog = p.out_channels / p.groups;
  if (p.stride.h * p.stride.w > (int64_t{1} << 16)) {
    return {"im2col_gemm", "stride_h*stride_w beyond the phase planners: im2col over the output, the one strategy without them"};
  }
  if (cig == 1 && cog == 1) {
    // bilinear_dw: memory-bound; every GEMM tile would be 1 channel wide.
    return {"direct_scatter", "depthwise (one channel per group): memory-bound, direct reads the input in place"};
  }
  if (cog <= 4) {
    // dcgan_g5, tfgan_4: a GEMM tile over output channels would be mostly padding, while
    // cols = W^T x X has M = Cout*KH*KW rows and K = Cin: full tiles; col2im is then a cheap
    // row pass (measured ahead of direct_scatter in both layouts).
    return {"gemm_col2im", "at most 4 output channels per group: GEMM over (Cout*KH*KW) x pixels, then col2im"};
  }
  return {"subpixel", "zero-free stride-phase GEMM on the packed micro-kernel"};
}

}  // namespace tconv::detail
