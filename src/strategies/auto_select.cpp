// The heuristic behind strategy "auto": rules over the parameters alone. The thresholds were
// read off measured timings of every strategy on the built-in suite and 40 random layers, both
// layouts, 1 and 2 threads (bench/data/tune_{layers,random}.json, written by `tconv tune
// --json`), then checked on 24 more random layers (tune_holdout.json), which refined two of
// them. tools/derive_auto_rules.py scores rule sets against the data and mirrors these rules.
#include <algorithm>
#include <string>

#include "strategies/strategy.hpp"

namespace tconv::detail {

Choice choose_strategy(const Params& p, const KernelTable&) {
  const int64_t cig = p.in_channels / p.groups, cog = p.out_channels / p.groups;
  const int64_t taps_per_phase = std::max<int64_t>(1, (p.kernel.h / p.stride.h) * (p.kernel.w / p.stride.w));
  // subpixel stacks W phases with the same geometry into one GEMM (all SW of them when KW is a
  // multiple of SW), so its GEMM has cog * members output rows or columns.
  const int64_t w_members = p.kernel.w % p.stride.w == 0 ? p.stride.w : 1;
  // Two stacked W phases are stored as interleaved register pairs (contiguous NCHW rows).
  const bool paired_stores = p.stride.w == 2 && p.kernel.w % 2 == 0;
  const auto n = [](int64_t v) { return std::to_string(v); };

  if (p.stride.h * p.stride.w > (int64_t{1} << 16)) {
    return {"im2col_gemm", "stride_h*stride_w beyond the phase planners: im2col over the output, the one strategy without them"};
  }
  if (cig == 1 && cog == 1 && (p.groups > 1 || p.layout == Layout::nchw)) {
    // bilinear_dw: memory-bound; every GEMM tile would be 1 channel wide. (A plain 1-to-1
    // channel layer in NHWC is one contiguous plane: subpixel's pixel tiles win there.)
    return {"direct_scatter", "depthwise (one channel per group): memory-bound, direct reads the input in place"};
  }
  if (p.layout == Layout::nchw && cig * taps_per_phase <= 32 && !paired_stores) {
    // rand04, rand09, rand11, rand12, rand14: a GEMM tile would do a few multiply-adds per
    // element it stores, and NCHW phase outputs are strided; direct writes whole output rows.
    return {"direct_scatter", "NCHW with a short reduction (Cin/g x taps per phase = " + n(cig * taps_per_phase) +
                                  " <= 32) and strided phase outputs: direct row kernels"};
  }
  if (cog <= 4 && cig >= 8) {
    // dcgan_g5, tfgan_4: a GEMM tile over output channels would be mostly padding, while
    // cols = W^T x X has M = Cout*KH*KW rows and K = Cin: full tiles; col2im is then a cheap
    // row pass.
    return {"gemm_col2im", "at most 4 output channels per group from at least 8 inputs: GEMM over (Cout*KH*KW) x pixels, then col2im"};
  }
  // Stride 1 has no phase to stack and no col2im overlap to save: a lower bar.
  const int64_t few_channels = p.stride.h * p.stride.w == 1 ? 16 : 32;
  if (cog * w_members <= few_channels && cig >= 32 && p.batch * p.input.h * p.input.w >= 64) {
    // rand03, rand15, rand27, rand31, linknet_up: the implicit GEMM re-packs K = taps x Cin/g
    // input values per pixel tile and reuses them for only cog * members channels; cols = W^T x X
    // packs plain input rows and reuses them KH*KW times more.
    return {"gemm_col2im", "few output channels per stride phase (" + n(cog * w_members) + " <= " + n(few_channels) + ") against Cin/g = " +
                               n(cig) + ": GEMM over (Cout*KH*KW) x pixels, then col2im"};
  }
  return {"subpixel", "zero-free stride-phase GEMM on the packed micro-kernel"};
}

}  // namespace tconv::detail
