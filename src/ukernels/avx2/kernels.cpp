// AVX2+FMA kernels. Compiled with -mavx2 -mfma only (see cmake/TconvIsa.cmake).
//
// Tile 6x16: 12 ymm accumulators + 2 for B + 1 broadcast of A, within the 16 ymm registers.
// Packing budget as for AVX-512 (see avx512f/kernels.cpp), scaled to the narrower panels.
// Short tile 4x16 (8 accumulators), for channel counts 6 rows would pad (see avx512f/kernels.cpp).
//
// NHWC pixels are read in place (no A packing) for up to 8 B panels, 128 output channels.
// Measured on Zen 1 (subpixel NHWC, 1 thread, two alternating runs each, ms, packed -> in
// place): stride1_full 7.26/7.17 -> 7.04/6.81, tfgan_3 8.42/8.33 -> 7.60/7.65, tfgan_2
// 28.6/26.5 -> 26.0/25.4; dcgan_g4, dcgan_g3, grouped_up, linknet_up unchanged.
#define TCONV_ISA_NAMESPACE avx2
#include "ukernels/kernels-inl.hpp"

namespace tconv::detail {

const KernelTable& avx2_kernels() {
  static const KernelTable short_tile = avx2::make_table<xsimd::fma3<xsimd::avx2>, 4, 2>(
      Isa::avx2, "avx2", "f32_gemm_4x16__avx2", 2048, 1 << 17, 8);
  static const KernelTable table = avx2::make_table<xsimd::fma3<xsimd::avx2>, 6, 2>(
      Isa::avx2, "avx2", "f32_gemm_6x16__avx2", 2048, 1 << 17, 8, &short_tile);
  return table;
}

}  // namespace tconv::detail
