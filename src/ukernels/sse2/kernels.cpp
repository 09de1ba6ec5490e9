// SSE2 kernels: the x86-64 baseline, no extra flags. No FMA: multiply then add.
//
// Tile 6x8: 12 xmm accumulators + 2 for B + 1 broadcast of A, within the 16 xmm registers.
// NHWC pixels are read in place for up to 8 B panels (64 channels): stride1_full NHWC on Zen 1,
// 1 thread, 13.3 -> 12.3 ms.
#define TCONV_ISA_NAMESPACE sse2
#include "ukernels/kernels-inl.hpp"

namespace tconv::detail {

const KernelTable& sse2_kernels() {
  static const KernelTable table = sse2::make_table<xsimd::sse2, 6, 2>(
      Isa::sse2, "sse2", "f32_gemm_6x8__sse2", 2048, 1 << 17, 8);
  return table;
}

}  // namespace tconv::detail
