// AVX-512F kernels. Compiled with -mavx512f -mfma only (see cmake/TconvIsa.cmake).
//
// Tile 14x32: 28 zmm accumulators + 2 for B; A is broadcast from memory. KC=256 keeps the
// 32 KiB B micro-panel in the 48 KiB L1 while A panels stream from L2; MC*KC (~350 KiB) of packed
// A sits in the 2 MiB L2; NC bounds the packed B block a task owns.
#define TCONV_ISA_NAMESPACE avx512f
#include "ukernels/kernels-inl.hpp"

namespace tconv::detail {

const KernelTable& avx512f_kernels() {
  static const KernelTable table = avx512f::make_table<xsimd::avx512f, 14, 2>(
      Isa::avx512f, "avx512f", "f32_gemm_14x32__avx512f", 256, 14 * 24, 32 * 32);
  return table;
}

}  // namespace tconv::detail
