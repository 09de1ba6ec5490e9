// The peak FMA loop for avx512f (compiled with only its flags).
#define TCONV_ISA_NAMESPACE avx512f
#include "peak/fma_loop-inl.hpp"

namespace tconv::bench {

float fma_loop_avx512f(int64_t iterations) { return avx512f::fma_loop<xsimd::avx512f>(iterations); }
int fma_width_avx512f() { return int(xsimd::batch<float, xsimd::avx512f>::size); }

}  // namespace tconv::bench
