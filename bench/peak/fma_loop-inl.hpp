// FMA throughput loop for the peak measurement: independent accumulator chains, enough to cover
// the FMA latency on every x86 core. Included only by the per-ISA files in this folder.
#pragma once

#include <xsimd/xsimd.hpp>

#include <cstdint>

namespace tconv::bench::TCONV_ISA_NAMESPACE {

// Runs `iterations` rounds of 16 vector FMAs; returns a value depending on all of them so the
// compiler keeps the work.
template <class Arch>
float fma_loop(int64_t iterations) {
  using V = xsimd::batch<float, Arch>;
  V acc[16];
  for (int i = 0; i < 16; ++i) acc[i] = V(float(i) * 1e-3f);
  const V a(0.999999f), b(1e-7f);
  for (int64_t it = 0; it < iterations; ++it) {
#pragma GCC unroll 16
    for (int i = 0; i < 16; ++i) acc[i] = xsimd::fma(acc[i], a, b);
  }
  V s = acc[0];
  for (int i = 1; i < 16; ++i) s += acc[i];
  alignas(64) float lanes[V::size];
  s.store_aligned(lanes);
  return lanes[0];
}

}  // namespace tconv::bench::TCONV_ISA_NAMESPACE
