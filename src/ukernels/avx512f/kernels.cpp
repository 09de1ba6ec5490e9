// AVX-512F kernels. Compiled with -mavx512f -mfma only (see cmake/TconvIsa.cmake).
//
// Tile 14x32: 28 zmm accumulators + 2 for B; A is broadcast from memory (14 loads + 2 per 28
// FMAs, within the two 512-bit load ports). The whole K of a pass stays in registers: a B
// micro-panel (K x 32) streams from L2 at 128 bytes per 28 FMAs, which L2 sustains, so no KC
// blocking is needed and C is written once. A prepacked A too big for L2 streams from L3 on the
// kernel that prefetches it (gemm_streamed_a): square 2048 went from 85% to 92-93% of the peak. Packing budget: K up to 2048 per pass (a B
// micro-panel of at most 256 KiB, packed just before use) and 1 MiB of packed A per thread,
// inside the 2 MiB L2.
//
// Short tile 8x32: 16 accumulators + 2 for B, the same pixel panels, for channel counts that 14
// rows would pad (see tiles_for_channels). Measured (subpixel NCHW, 1 thread, min of 6 rounds):
// linknet_up (32 rows) 2.23 vs 3.88 ms, stride1_full 2.48 vs 2.66, unet_up4 34.8 vs 36.9; an
// 8x48 tile did no better on those and worse where 32-wide rows fit 32-pixel panels.
//
// Grouped tile 12x32: 24 accumulators, for NCHW W phases of strides 3 and 4 stacked as rows (see
// KernelTable::grouped_tile).
//
// NHWC pixels are read in place (no A packing) for up to 2 B panels, 64 output channels; wider
// layers pack A with in-register 16x16 transposes, which paid on this ISA.
#define TCONV_ISA_NAMESPACE avx512f
#include "ukernels/kernels-inl.hpp"

namespace tconv::detail {

const KernelTable& avx512f_kernels() {
  static const KernelTable short_tile = avx512f::make_table<xsimd::avx512f, 8, 2>(
      Isa::avx512f, "avx512f", "f32_gemm_8x32__avx512f", 2048, 1 << 18, 2);
  static const KernelTable grouped_tile = avx512f::make_table<xsimd::avx512f, 12, 2>(
      Isa::avx512f, "avx512f", "f32_gemm_12x32__avx512f", 2048, 1 << 18, 2);
  static const KernelTable table = avx512f::make_table<xsimd::avx512f, 14, 2>(
      Isa::avx512f, "avx512f", "f32_gemm_14x32__avx512f", 2048, 1 << 18, 2, &short_tile, &grouped_tile,
      &avx2_kernels());
  return table;
}

}  // namespace tconv::detail
