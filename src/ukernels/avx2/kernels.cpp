// AVX2+FMA kernels. Compiled with -mavx2 -mfma only (see cmake/TconvIsa.cmake).
//
// Tile 6x16: 12 ymm accumulators + 2 for B + 1 broadcast of A, within the 16 ymm registers.
// Packing budget as for AVX-512 (see avx512f/kernels.cpp), scaled to the narrower panels.
// Short tile 4x16 (8 accumulators), for channel counts 6 rows would pad (see avx512f/kernels.cpp),
// at 0.8 of the 6x16's rate (short_tile_rate): 8 accumulators cannot cover a Zen 2's FMA latency.
// Measured there (session 35), the 183 NCHW layers of the tune data on which subpixel took the
// short tile at rate 1, 1 thread, best of 2 alternating runs: 0.951x the time at 0.8 (grouped_up
// 9.30 -> 7.59 ms, 1 image of 64 -> 32, 64x64, k3 s2: 3.17 -> 2.45), 0.956x with no short tile
// (128 -> 8 channels, k1 s2, 8 rows: 1.14x slower on 6 rows, tied at 0.8).
//
// NHWC pixels are read in place (no A packing) for up to 16 B panels, 256 output channels.
// Measured on Zen 1 with 8 (subpixel NHWC, 1 thread, two alternating runs each, ms, packed ->
// in place): stride1_full 7.26/7.17 -> 7.04/6.81, tfgan_3 8.42/8.33 -> 7.60/7.65, tfgan_2
// 28.6/26.5 -> 26.0/25.4; dcgan_g4, dcgan_g3, grouped_up, linknet_up unchanged. 8 -> 16 on a
// Zen 2 (session 34): the 28 NHWC subpixel layers of the tune data with 129-256 GEMM channels,
// best of 2 alternating runs, 0.965x the time at 1 and 2 threads (unet_up4 34.4 / 17.6 ->
// 31.4 / 15.9 ms; slower: 1 image of 128 -> 128 in 2 groups, 108x108, k2 s2, 1.03x / 1.15x).
#define TCONV_ISA_NAMESPACE avx2
#include "ukernels/kernels-inl.hpp"

namespace tconv::detail {

const KernelTable& avx2_kernels() {
  static const KernelTable short_tile = avx2::make_table<xsimd::fma3<xsimd::avx2>, 4, 2>(
      Isa::avx2, "avx2", "f32_gemm_4x16__avx2", 2048, 1 << 17, 16);
  static const KernelTable table = [] {
    KernelTable t = avx2::make_table<xsimd::fma3<xsimd::avx2>, 6, 2>(Isa::avx2, "avx2", "f32_gemm_6x16__avx2", 2048,
                                                                     1 << 17, 16, &short_tile);
    t.short_tile_rate = 0.8;
    return t;
  }();
  return table;
}

}  // namespace tconv::detail
