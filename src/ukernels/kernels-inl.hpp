// Kernel bodies, templated on the xsimd architecture tag. Only the per-ISA translation units
// (src/ukernels/<isa>/kernels.cpp) include this file, each compiled with exactly its ISA's flags;
// everything here lives in a namespace named after that ISA so no symbol is shared between
// translation units built with different flags (see ../shared/design/STYLE.md, ODR traps).
#pragma once

#include <xsimd/xsimd.hpp>

#include <cstdint>

#include "dispatch/kernel_table.hpp"
#include "epilogue/epilogue.hpp"

#ifndef TCONV_ISA_NAMESPACE
#error "define TCONV_ISA_NAMESPACE before including kernels-inl.hpp"
#endif

namespace tconv::detail::TCONV_ISA_NAMESPACE {

template <class Arch>
using vf = xsimd::batch<float, Arch>;

template <class Arch>
inline vf<Arch> activate(vf<Arch> v, const Epilogue& e) {
  using V = vf<Arch>;
  switch (e.activation) {
    case Activation::none: return v;
    case Activation::relu: return xsimd::max(v, V(0.0f));
    case Activation::leaky_relu: return xsimd::select(v < V(0.0f), v * V(e.alpha), v);
    case Activation::clamp: return xsimd::min(xsimd::max(v, V(e.min)), V(e.max));
    case Activation::tanh: return xsimd::tanh(v);
    case Activation::sigmoid: return V(1.0f) / (V(1.0f) + xsimd::exp(-v));
  }
  return v;
}

template <class Arch>
inline vf<Arch> fmadd(vf<Arch> a, vf<Arch> b, vf<Arch> c) {
  return xsimd::fma(a, b, c);  // mul + add on SSE2, one instruction where FMA exists
}

// The MR x (NV * simd width) GEMM micro-kernel (contract in dispatch/kernel_table.hpp).
template <class Arch, int MR, int NV>
void gemm_ukernel(int64_t kc, const float* a, const float* b, int64_t mr, int64_t nr,
                  const TileStore& s) {
  using V = vf<Arch>;
  constexpr int W = int(V::size);
  constexpr int NR = NV * W;
  V acc[MR][NV];
#pragma GCC unroll 32
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) acc[i][v] = V(0.0f);
  for (int64_t k = 0; k < kc; ++k) {
    V bv[NV];
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) bv[v] = V::load_aligned(b + v * W);
#pragma GCC unroll 32
    for (int i = 0; i < MR; ++i) {
      const V ai(a[i]);
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) acc[i][v] = fmadd<Arch>(ai, bv[v], acc[i][v]);
    }
    a += MR;
    b += NR;
  }
  const Epilogue& e = *s.epilogue;
  if (s.col_contiguous && nr == NR) {
    for (int i = 0; i < MR; ++i) {
      if (i >= mr) break;
      float* row = s.c + s.row_off[i] + s.col_off[0];
      const V brow(s.bias_row ? s.bias_row[i] : 0.0f);
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) {
        V r = acc[i][v];
        if (s.accumulate) r += V::load_unaligned(row + v * W);
        if (s.finish) {
          if (s.bias_row) r += brow;
          if (s.bias_col) r += V::load_unaligned(s.bias_col + v * W);
          r = activate<Arch>(r, e);
        }
        r.store_unaligned(row + v * W);
      }
    }
    return;
  }
  alignas(64) float tile[MR][NR];
  for (int i = 0; i < MR; ++i)
    for (int v = 0; v < NV; ++v) acc[i][v].store_aligned(&tile[i][v * W]);
  for (int64_t i = 0; i < mr; ++i) {
    float* row = s.c + s.row_off[i];
    for (int64_t j = 0; j < nr; ++j) {
      float r = tile[i][j];
      float* dst = row + s.col_off[j];
      if (s.accumulate) r += *dst;
      if (s.finish) {
        if (s.bias_row) r += s.bias_row[i];
        if (s.bias_col) r += s.bias_col[j];
        r = apply_activation(r, e);
      }
      *dst = r;
    }
  }
}

// acc[j] += sum_t w[t] * x[off[t] + j], j < n: one output row segment of a direct convolution.
template <class Arch>
void row_fma(float* acc, int64_t n, const float* x, const int64_t* off, const float* w,
             int64_t taps) {
  using V = vf<Arch>;
  constexpr int64_t W = int64_t(V::size);
  int64_t j = 0;
  for (; j + 2 * W <= n; j += 2 * W) {
    V a0 = V::load_unaligned(acc + j), a1 = V::load_unaligned(acc + j + W);
    for (int64_t t = 0; t < taps; ++t) {
      const float* p = x + off[t] + j;
      const V wt(w[t]);
      a0 = fmadd<Arch>(wt, V::load_unaligned(p), a0);
      a1 = fmadd<Arch>(wt, V::load_unaligned(p + W), a1);
    }
    a0.store_unaligned(acc + j);
    a1.store_unaligned(acc + j + W);
  }
  for (; j + W <= n; j += W) {
    V a0 = V::load_unaligned(acc + j);
    for (int64_t t = 0; t < taps; ++t) a0 = fmadd<Arch>(V(w[t]), V::load_unaligned(x + off[t] + j), a0);
    a0.store_unaligned(acc + j);
  }
  for (; j < n; ++j) {
    float a = acc[j];
    for (int64_t t = 0; t < taps; ++t) a += w[t] * x[off[t] + j];
    acc[j] = a;
  }
}

// acc[c] += sum_i x[i] * w[i*ldw + c], c < cout: one input pixel's channel vector times a tap matrix.
template <class Arch>
void vec_mat(float* acc, const float* x, int64_t cin, const float* w, int64_t ldw, int64_t cout) {
  using V = vf<Arch>;
  constexpr int64_t W = int64_t(V::size);
  int64_t c = 0;
  for (; c + 4 * W <= cout; c += 4 * W) {
    V a0 = V::load_unaligned(acc + c), a1 = V::load_unaligned(acc + c + W);
    V a2 = V::load_unaligned(acc + c + 2 * W), a3 = V::load_unaligned(acc + c + 3 * W);
    for (int64_t i = 0; i < cin; ++i) {
      const V xi(x[i]);
      const float* wr = w + i * ldw + c;
      a0 = fmadd<Arch>(xi, V::load_unaligned(wr), a0);
      a1 = fmadd<Arch>(xi, V::load_unaligned(wr + W), a1);
      a2 = fmadd<Arch>(xi, V::load_unaligned(wr + 2 * W), a2);
      a3 = fmadd<Arch>(xi, V::load_unaligned(wr + 3 * W), a3);
    }
    a0.store_unaligned(acc + c);
    a1.store_unaligned(acc + c + W);
    a2.store_unaligned(acc + c + 2 * W);
    a3.store_unaligned(acc + c + 3 * W);
  }
  for (; c + W <= cout; c += W) {
    V a0 = V::load_unaligned(acc + c);
    for (int64_t i = 0; i < cin; ++i) a0 = fmadd<Arch>(V(x[i]), V::load_unaligned(w + i * ldw + c), a0);
    a0.store_unaligned(acc + c);
  }
  for (; c < cout; ++c) {
    float a = acc[c];
    for (int64_t i = 0; i < cin; ++i) a += x[i] * w[i * ldw + c];
    acc[c] = a;
  }
}

// acc[c] += sum_t x[off[t] + c] * w[t*ldw + c], c < n: depthwise taps, vectors along channels.
template <class Arch>
void chan_fma(float* acc, int64_t n, const float* x, const int64_t* off, const float* w,
              int64_t ldw, int64_t taps) {
  using V = vf<Arch>;
  constexpr int64_t W = int64_t(V::size);
  int64_t c = 0;
  for (; c + W <= n; c += W) {
    V a0 = V::load_unaligned(acc + c);
    for (int64_t t = 0; t < taps; ++t) {
      a0 = fmadd<Arch>(V::load_unaligned(x + off[t] + c), V::load_unaligned(w + t * ldw + c), a0);
    }
    a0.store_unaligned(acc + c);
  }
  for (; c < n; ++c) {
    float a = acc[c];
    for (int64_t t = 0; t < taps; ++t) a += x[off[t] + c] * w[t * ldw + c];
    acc[c] = a;
  }
}

// One ISA's table. MR/NV and the cache blocking come from the including translation unit.
template <class Arch, int MR, int NV>
KernelTable make_table(Isa isa, const char* isa_name, const char* gemm_name, int64_t kc,
                       int64_t mc, int64_t nc) {
  return KernelTable{isa,
                     isa_name,
                     int(vf<Arch>::size),
                     &gemm_ukernel<Arch, MR, NV>,
                     gemm_name,
                     MR,
                     NV * int(vf<Arch>::size),
                     kc,
                     mc,
                     nc,
                     &row_fma<Arch>,
                     &vec_mat<Arch>,
                     &chan_fma<Arch>};
}

}  // namespace tconv::detail::TCONV_ISA_NAMESPACE
