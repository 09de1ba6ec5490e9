// The peak FMA loop for avx2 (compiled with only its flags).
#define TCONV_ISA_NAMESPACE avx2
#include "peak/fma_loop-inl.hpp"

namespace tconv::bench {

float fma_loop_avx2(int64_t iterations) { return avx2::fma_loop<xsimd::fma3<xsimd::avx2>>(iterations); }
// Floating-point operations per iteration of the loop.
int fma_flops_per_iteration_avx2() { return avx2::fma_chains<xsimd::fma3<xsimd::avx2>>() * int(xsimd::batch<float, xsimd::fma3<xsimd::avx2>>::size) * 2; }

}  // namespace tconv::bench
