// FMA throughput loop for the peak measurement: independent accumulator chains, enough to cover
// the FMA latency on every x86 core. Included only by the per-ISA files in this folder.
#pragma once

#include <xsimd/xsimd.hpp>

#include <cstdint>

namespace tconv::bench::TCONV_ISA_NAMESPACE {

// Chains: at least FMA latency x FMA pipes (4 x 2 on Zen 3 and Zen 4) and, with the two
// constants, no more than the vector registers. 16 AVX2 chains spilled two accumulators to the
// stack, whose store-to-load round trip halved the measured Zen 3 peak (58 instead of ~110 GFLOP/s).
template <class Arch>
constexpr int fma_chains() {
  return xsimd::batch<float, Arch>::size >= 16 ? 16 : 12;
}

// Runs `iterations` rounds of fma_chains() vector FMAs; returns a value depending on all of
// them so the compiler keeps the work.
template <class Arch>
float fma_loop(int64_t iterations) {
  using V = xsimd::batch<float, Arch>;
  constexpr int kChains = fma_chains<Arch>();
  V acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = V(float(i) * 1e-3f);
  const V a(0.999999f), b(1e-7f);
  for (int64_t it = 0; it < iterations; ++it) {
#pragma GCC unroll 16
    for (int i = 0; i < kChains; ++i) acc[i] = xsimd::fma(acc[i], a, b);
  }
  V s = acc[0];
  for (int i = 1; i < kChains; ++i) s += acc[i];
  alignas(64) float lanes[V::size];
  s.store_aligned(lanes);
  return lanes[0];
}

}  // namespace tconv::bench::TCONV_ISA_NAMESPACE
