// The peak FMA loop for avx2 (compiled with only its flags).
#define TCONV_ISA_NAMESPACE avx2
#include "peak/fma_loop-inl.hpp"

namespace tconv::bench {

float fma_loop_avx2(int64_t iterations) { return avx2::fma_loop<xsimd::fma3<xsimd::avx2>>(iterations); }
int fma_width_avx2() { return int(xsimd::batch<float, xsimd::fma3<xsimd::avx2>>::size); }

}  // namespace tconv::bench
