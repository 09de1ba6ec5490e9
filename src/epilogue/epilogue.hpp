// The scalar epilogue: bias already added, apply the fused activation. Shared by every strategy
// and by the micro-kernels' edge tiles.
#pragma once

#include <algorithm>
#include <cmath>

#include "tconv/tconv.hpp"

namespace tconv::detail {

// `static` on purpose: per-ISA translation units include this header too, and an inline function
// with external linkage compiled there with AVX-512 flags could be the copy the linker keeps for
// baseline callers.
static inline float apply_activation(float v, const Epilogue& e) {
  switch (e.activation) {
    case Activation::none: return v;
    case Activation::relu: return v > 0.0f ? v : 0.0f;
    case Activation::leaky_relu: return v < 0.0f ? v * e.alpha : v;
    case Activation::clamp: return v < e.min ? e.min : (v > e.max ? e.max : v);
    case Activation::tanh: return std::tanh(v);
    case Activation::sigmoid: return 1.0f / (1.0f + std::exp(-v));
  }
  return v;
}

}  // namespace tconv::detail
