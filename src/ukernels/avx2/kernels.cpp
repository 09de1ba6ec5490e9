// AVX2+FMA kernels. Compiled with -mavx2 -mfma only (see cmake/TconvIsa.cmake).
//
// Tile 6x16: 12 ymm accumulators + 2 for B + 1 broadcast of A, within the 16 ymm registers.
// Packing budget as for AVX-512 (see avx512f/kernels.cpp), scaled to the narrower panels.
// Short tile 4x16 (8 accumulators), for channel counts 6 rows would pad (see avx512f/kernels.cpp).
#define TCONV_ISA_NAMESPACE avx2
#include "ukernels/kernels-inl.hpp"

namespace tconv::detail {

const KernelTable& avx2_kernels() {
  static const KernelTable short_tile = avx2::make_table<xsimd::fma3<xsimd::avx2>, 4, 2>(
      Isa::avx2, "avx2", "f32_gemm_4x16__avx2", 2048, 1 << 17);
  static const KernelTable table = avx2::make_table<xsimd::fma3<xsimd::avx2>, 6, 2>(
      Isa::avx2, "avx2", "f32_gemm_6x16__avx2", 2048, 1 << 17, &short_tile);
  return table;
}

}  // namespace tconv::detail
