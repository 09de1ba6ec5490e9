// The peak FMA loop for avx512f (compiled with only its flags).
#define TCONV_ISA_NAMESPACE avx512f
#include "peak/fma_loop-inl.hpp"

namespace tconv::bench {

float fma_loop_avx512f(int64_t iterations) { return avx512f::fma_loop<xsimd::avx512f>(iterations); }
// Floating-point operations per iteration of the loop.
int fma_flops_per_iteration_avx512f() { return avx512f::fma_chains<xsimd::avx512f>() * int(xsimd::batch<float, xsimd::avx512f>::size) * 2; }

}  // namespace tconv::bench
