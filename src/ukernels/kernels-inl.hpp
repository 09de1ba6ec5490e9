// Kernel bodies, templated on the xsimd architecture tag. Only the per-ISA translation units
// (src/ukernels/<isa>/kernels.cpp) include this file, each compiled with exactly its ISA's flags;
// everything here lives in a namespace named after that ISA so no symbol is shared between
// translation units built with different flags (see ../shared/design/STYLE.md, ODR traps).
#pragma once

#include <xsimd/xsimd.hpp>

#include <algorithm>
#include <array>
#include <climits>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "dispatch/kernel_table.hpp"
#include "epilogue/epilogue.hpp"

#ifndef TCONV_ISA_NAMESPACE
#error "define TCONV_ISA_NAMESPACE before including kernels-inl.hpp"
#endif

namespace tconv::detail::TCONV_ISA_NAMESPACE {

template <class Arch>
using vf = xsimd::batch<float, Arch>;

// tanh and sigmoid expand to long polynomials: kept out of line so the many tile bodies that
// store through activate() still inline it (its cheap cases are a compare and a select).
template <class Arch>
__attribute__((noinline)) vf<Arch> activate_transcendental(vf<Arch> v, const Epilogue& e) {
  using V = vf<Arch>;
  if (e.activation == Activation::tanh) return xsimd::tanh(v);
  return V(1.0f) / (V(1.0f) + xsimd::exp(-v));
}

template <class Arch>
__attribute__((always_inline)) inline vf<Arch> activate(vf<Arch> v, const Epilogue& e) {
  using V = vf<Arch>;
  switch (e.activation) {
    case Activation::none: return v;
    case Activation::relu: return xsimd::max(v, V(0.0f));
    case Activation::leaky_relu: return xsimd::select(v < V(0.0f), v * V(e.alpha), v);
    case Activation::clamp: return xsimd::min(xsimd::max(v, V(e.min)), V(e.max));
    case Activation::tanh:
    case Activation::sigmoid: return activate_transcendental<Arch>(v, e);
  }
  return v;
}

// The activation as a compile-time constant, for kernels that store one vector per handful of
// FMAs: they dispatch once per call (with_activation) instead of running the switch's compare
// chain per stored vector. No and ReLU activations get their own code; the rest keep the switch.
template <Activation A>
using ActivationIs = std::integral_constant<Activation, A>;
struct AnyActivation {};

template <class Arch>
__attribute__((always_inline)) inline vf<Arch> activate(vf<Arch> v, const Epilogue&, ActivationIs<Activation::none>) {
  return v;
}
template <class Arch>
__attribute__((always_inline)) inline vf<Arch> activate(vf<Arch> v, const Epilogue&, ActivationIs<Activation::relu>) {
  return xsimd::max(v, vf<Arch>(0.0f));
}
template <class Arch>
__attribute__((always_inline)) inline vf<Arch> activate(vf<Arch> v, const Epilogue& e, AnyActivation) {
  return activate<Arch>(v, e);
}

template <class F>
__attribute__((always_inline)) inline void with_activation(Activation a, F&& f) {
  switch (a) {
    case Activation::none: return f(ActivationIs<Activation::none>());
    case Activation::relu: return f(ActivationIs<Activation::relu>());
    default: return f(AnyActivation());
  }
}

template <class Arch>
inline vf<Arch> fmadd(vf<Arch> a, vf<Arch> b, vf<Arch> c) {
  return xsimd::fma(a, b, c);  // mul + add on SSE2, one instruction where FMA exists
}

// A loaded (or broadcast) vector several FMAs share, kept in a register: GCC otherwise folds
// the load into each FMA as a memory operand, one load per FMA. Zen 4 takes one 512-bit load
// per cycle, so lane_taps' 4 pixels x 3 channels ran 12 vector loads per 12 FMAs instead of 4.
template <class Arch>
__attribute__((always_inline)) inline vf<Arch> in_register(vf<Arch> v) {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  typename vf<Arch>::register_type r = v;
  __asm__("" : "+v"(r));
  return r;
#else
  return v;
#endif
}

#ifdef __AVX__
// The first n < 8 floats of an AVX vector, in pieces of 4, 2 and 1 (vmaskmovps is microcoded on
// Zen 1, and a trip through a buffer costs a store-forwarding stall).
inline __m256 load_first8(const float* p, int64_t n) {
  if (n >= 8) return _mm256_loadu_ps(p);
  __m128 lo = _mm_setzero_ps(), hi = _mm_setzero_ps();
  __m128* part = &lo;
  if (n >= 4) {
    lo = _mm_loadu_ps(p);
    part = &hi;
    p += 4;
    n -= 4;
  }
  __m128 tail = _mm_setzero_ps();
  if (n & 2) tail = _mm_castsi128_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));  // unaligned-safe
  if (n & 1) {
    const __m128 last = _mm_load_ss(p + (n & 2));
    tail = n & 2 ? _mm_movelh_ps(tail, last) : last;
  }
  *part = tail;
  return _mm256_insertf128_ps(_mm256_castps128_ps256(lo), hi, 1);
}

inline void store_first8(float* p, __m256 v, int64_t n) {
  if (n >= 8) return _mm256_storeu_ps(p, v);
  __m128 part = _mm256_castps256_ps128(v);
  if (n >= 4) {
    _mm_storeu_ps(p, part);
    part = _mm256_extractf128_ps(v, 1);
    p += 4;
    n -= 4;
  }
  if (n >= 2) {
    _mm_storel_pi(reinterpret_cast<__m64*>(p), part);
    part = _mm_movehl_ps(part, part);
    p += 2;
    n -= 2;
  }
  if (n == 1) _mm_store_ss(p, part);
}

#ifdef __AVX2__
// dst[2j] = v[j] for j < 8, the odd floats between rewritten with what they held (another W
// phase's: TileStore::gaps_writable). Two overlapping windows, dst[0, 8) and dst[7, 15), so
// nothing past the last column is touched. AVX2 has no fast masked store (vmaskmovps stores are
// microcoded on Zen), and a float at a time took 17% of an NCHW k1 s2 layer.
inline void store_every_other_rewriting_gaps(float* dst, __m256 v) {
  const __m256 first = _mm256_permutevar8x32_ps(v, _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3));
  const __m256 second = _mm256_permutevar8x32_ps(v, _mm256_setr_epi32(4, 4, 5, 5, 6, 6, 7, 7));
  const __m256 gaps_first = _mm256_loadu_ps(dst), gaps_second = _mm256_loadu_ps(dst + 7);
  _mm256_storeu_ps(dst, _mm256_blend_ps(first, gaps_first, 0xAA));
  _mm256_storeu_ps(dst + 7, _mm256_blend_ps(gaps_second, second, 0xAA));
}
#endif
#endif

// Loads and stores of the first n < W lanes that never touch memory past them: masked where the
// ISA has masks, in pieces on AVX2, through a small buffer otherwise.
template <class Arch>
inline vf<Arch> load_partial(const float* p, int64_t n) {
  using V = vf<Arch>;
#ifdef __AVX512F__
  if constexpr (std::is_same<Arch, xsimd::avx512f>::value) {
    return V(_mm512_maskz_loadu_ps(__mmask16((1u << n) - 1u), p));
  }
#endif
#ifdef __AVX__
  if constexpr (V::size == 8) return V(load_first8(p, n));
#endif
  alignas(64) float buf[V::size] = {};
  for (int64_t i = 0; i < n; ++i) buf[i] = p[i];
  return V::load_aligned(buf);
}

// Lane numbers 0, 1, 2, ... as floats (lane masks by comparison).
template <class Arch>
inline vf<Arch> lane_index() {
  alignas(64) float lanes[vf<Arch>::size];
  for (size_t i = 0; i < vf<Arch>::size; ++i) lanes[i] = float(i);
  return vf<Arch>::load_aligned(lanes);
}

template <class Arch>
inline void store_partial(float* p, vf<Arch> v, int64_t n) {
  using V = vf<Arch>;
#ifdef __AVX512F__
  if constexpr (std::is_same<Arch, xsimd::avx512f>::value) {
    _mm512_mask_storeu_ps(p, __mmask16((1u << n) - 1u), v);
    return;
  }
#endif
#ifdef __AVX__
  if constexpr (V::size == 8) return store_first8(p, v, n);
#endif
  alignas(64) float buf[V::size];
  v.store_aligned(buf);
  for (int64_t i = 0; i < n; ++i) p[i] = buf[i];
}

// (a0 b0 a1 b1 ...): the first W of the interleaved pair in lo, the rest in hi.
template <class Arch>
inline void interleave(vf<Arch> a, vf<Arch> b, vf<Arch>& lo, vf<Arch>& hi) {
  using V = vf<Arch>;
#ifdef __AVX512F__
  if constexpr (std::is_same<Arch, xsimd::avx512f>::value) {
    const __m512i first = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i second = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    lo = V(_mm512_permutex2var_ps(a, first, b));
    hi = V(_mm512_permutex2var_ps(a, second, b));
    return;
  }
#endif
#ifdef __AVX__
  if constexpr (V::size == 8) {
    const __m256 l = _mm256_unpacklo_ps(a, b), h = _mm256_unpackhi_ps(a, b);  // per 128-bit lane
    lo = V(_mm256_permute2f128_ps(l, h, 0x20));
    hi = V(_mm256_permute2f128_ps(l, h, 0x31));
    return;
  }
#endif
  if constexpr (V::size == 4) {
    lo = V(_mm_unpacklo_ps(a, b));
    hi = V(_mm_unpackhi_ps(a, b));
  } else {
    alignas(64) float x[V::size], y[V::size], z[2 * V::size];
    a.store_aligned(x);
    b.store_aligned(y);
    for (size_t i = 0; i < V::size; ++i) {
      z[2 * i] = x[i];
      z[2 * i + 1] = y[i];
    }
    lo = V::load_aligned(z);
    hi = V::load_aligned(z + V::size);
  }
}

// The first n lanes (all when n >= W): full vectors where possible, masked or buffered otherwise.
template <class Arch>
inline vf<Arch> load_n(const float* p, int64_t n) {
  return n >= int64_t(vf<Arch>::size) ? vf<Arch>::load_unaligned(p) : load_partial<Arch>(p, n);
}
template <class Arch>
inline void store_n(float* p, vf<Arch> v, int64_t n) {
  if (n >= int64_t(vf<Arch>::size)) v.store_unaligned(p);
  else store_partial<Arch>(p, v, n);
}

// dst[2j] = a[j], dst[2j + 1] = b[j]: the first n floats of the two vectors interleaved (two
// stride-2 output phases of one row). A whole AVX2 pair leaves its 128-bit halves where they
// are and stores them separately: Zen 1 splits 256-bit stores anyway, while the vperm2f128 of
// interleave() is microcoded there.
template <class Arch>
inline void store_interleaved(float* dst, vf<Arch> a, vf<Arch> b, int64_t n) {
  using V = vf<Arch>;
  constexpr int64_t W = int64_t(V::size);
#ifdef __AVX__
  if constexpr (W == 8) {
    if (n >= 2 * W) {
      const __m256 lo = _mm256_unpacklo_ps(a, b), hi = _mm256_unpackhi_ps(a, b);  // per 128-bit half
      _mm_storeu_ps(dst, _mm256_castps256_ps128(lo));
      _mm_storeu_ps(dst + 4, _mm256_castps256_ps128(hi));
      _mm_storeu_ps(dst + 8, _mm256_extractf128_ps(lo, 1));
      _mm_storeu_ps(dst + 12, _mm256_extractf128_ps(hi, 1));
      return;
    }
  }
#endif
  V lo, hi;
  interleave<Arch>(a, b, lo, hi);
  store_n<Arch>(dst, lo, n);
  if (n > W) store_n<Arch>(dst + W, hi, n - W);
}

// The lanes of S interleaved output phases: output vector u, lane l holds element (W*u + l) / S of
// phase (W*u + l) % S (S vectors of S phases' W consecutive outputs become S*W consecutive
// outputs). Per ISA: per output vector, one permute of each phase vector merged under that
// phase's lane mask (AVX-512), permutes and blends (AVX2, S = 3), two 4 x 4 transposes (AVX2, S =
// 4); through memory otherwise.
template <int S, int W>
struct GroupLanes {
  alignas(64) int32_t index[S][W];  // element of output vector u's lane l in its phase
  int32_t from[S][S];               // lane mask of output vector u: lanes taken from phase r
  constexpr GroupLanes() : index{}, from{} {
    for (int u = 0; u < S; ++u)
      for (int l = 0; l < W; ++l) {
        index[u][l] = (W * u + l) / S;
        from[u][(W * u + l) % S] |= 1 << l;
      }
  }
};

template <class Arch, int S>
__attribute__((always_inline)) inline void interleave_group(const vf<Arch> (&in)[S], vf<Arch> (&out)[S]) {
  using V = vf<Arch>;
  constexpr int W = int(V::size);
  static_assert(S >= 2 && S <= kMaxRowGroup, "groups of 2 to kMaxRowGroup phases");
  if constexpr (S == 2) {
    interleave<Arch>(in[0], in[1], out[0], out[1]);
    return;
  }
#ifdef __AVX512F__
  if constexpr (std::is_same<Arch, xsimd::avx512f>::value) {
    static constexpr GroupLanes<S, 16> lanes{};
#pragma GCC unroll 8
    for (int u = 0; u < S; ++u) {
      const __m512i index = _mm512_load_si512(lanes.index[u]);
      __m512 o = _mm512_permutexvar_ps(index, in[0]);
#pragma GCC unroll 8
      for (int r = 1; r < S; ++r) o = _mm512_mask_permutexvar_ps(o, __mmask16(lanes.from[u][r]), index, in[r]);
      out[u] = V(o);
    }
    return;
  }
#endif
#ifdef __AVX2__
  if constexpr (W == 8 && S == 3) {
    static constexpr GroupLanes<3, 8> lanes{};
    auto mask = [](int32_t bits) {
      return _mm256_castsi256_ps(_mm256_cmpeq_epi32(
          _mm256_and_si256(_mm256_set1_epi32(bits), _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128)),
          _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128)));
    };
#pragma GCC unroll 3
    for (int u = 0; u < 3; ++u) {
      const __m256i index = _mm256_load_si256(reinterpret_cast<const __m256i*>(lanes.index[u]));
      __m256 o = _mm256_permutevar8x32_ps(in[0], index);
      o = _mm256_blendv_ps(o, _mm256_permutevar8x32_ps(in[1], index), mask(lanes.from[u][1]));
      o = _mm256_blendv_ps(o, _mm256_permutevar8x32_ps(in[2], index), mask(lanes.from[u][2]));
      out[u] = V(o);
    }
    return;
  }
  if constexpr (W == 8 && S == 4) {
    const __m256 ab_lo = _mm256_unpacklo_ps(in[0], in[1]), ab_hi = _mm256_unpackhi_ps(in[0], in[1]);
    const __m256 cd_lo = _mm256_unpacklo_ps(in[2], in[3]), cd_hi = _mm256_unpackhi_ps(in[2], in[3]);
    const __m256 q04 = _mm256_shuffle_ps(ab_lo, cd_lo, 0x44), q15 = _mm256_shuffle_ps(ab_lo, cd_lo, 0xEE);
    const __m256 q26 = _mm256_shuffle_ps(ab_hi, cd_hi, 0x44), q37 = _mm256_shuffle_ps(ab_hi, cd_hi, 0xEE);
    out[0] = V(_mm256_permute2f128_ps(q04, q15, 0x20));
    out[1] = V(_mm256_permute2f128_ps(q26, q37, 0x20));
    out[2] = V(_mm256_permute2f128_ps(q04, q15, 0x31));
    out[3] = V(_mm256_permute2f128_ps(q26, q37, 0x31));
    return;
  }
#endif
  alignas(64) float phase[S][W], merged[S * W];
  for (int r = 0; r < S; ++r) in[r].store_aligned(phase[r]);
  for (int o = 0; o < S * W; ++o) merged[o] = phase[o % S][o / S];
  for (int u = 0; u < S; ++u) out[u] = V::load_aligned(merged + u * W);
}

// Writes an accumulator tile of ROWS x (NV * simd width) (mr x nr of it valid) to C as TileStore
// describes: vector stores along contiguous rows, interleaved row groups, or a gather/scatter
// through a small buffer. Adds bias and applies the activation when s.finish.
#ifdef __AVX512F__
// In-register transpose of 16 rows of 16 floats (unpack, then 64-bit, 128-bit and 256-bit
// lane shuffles).
inline void transpose16x16(__m512 (&r)[16]) {
  __m512 t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    r[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
    r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
    r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
  }
  for (int h = 0; h < 16; h += 8) {
    for (int i = 0; i < 4; ++i) {
      t[h + i] = _mm512_shuffle_f32x4(r[h + i], r[h + 4 + i], 0x88);
      t[h + 4 + i] = _mm512_shuffle_f32x4(r[h + i], r[h + 4 + i], 0xDD);
    }
  }
  for (int i = 0; i < 8; ++i) {
    r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
    r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xDD);
  }
}

// The first `count` even lanes of 16 (all 8 from count 8 on).
inline __mmask16 even_lanes(int64_t count) {
  return __mmask16(0x5555u & ((count >= 8 ? 0x10000u : 1u << (2 * count)) - 1u));
}

// dst[2j] = v[j] for j < min(count, 16), the odd floats between untouched (another W phase's):
// the vector spread over the even lanes of two, each written with a masked store.
inline void store_every_other(float* dst, __m512 v, int64_t count) {
  const __m512i spread_lo = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
  const __m512i spread_hi = _mm512_setr_epi32(8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15);
  _mm512_mask_storeu_ps(dst, even_lanes(count), _mm512_permutexvar_ps(spread_lo, v));
  if (count > 8) _mm512_mask_storeu_ps(dst + 16, even_lanes(count - 8), _mm512_permutexvar_ps(spread_hi, v));
}

// store_tile for tiles whose rows fall in a few runs of consecutive outputs (NCHW, W phases of
// a stride above 2 stacked on the rows: row i + 1 writes the output right of row i's) and whose
// columns are scattered: the tile is transposed in registers and each column's part of a run
// written with one masked store, instead of one scalar store per element. False (nothing
// written) when the runs are too short to pay.
template <int ROWS, int NV>
bool store_tile_by_columns(xsimd::batch<float, xsimd::avx512f> (&acc)[ROWS][NV], int64_t mr, int64_t nr,
                           const TileStore& s) {
  constexpr int W = 16;
  constexpr int kMinRowsPerRun = 6;
  if (mr < kMinRowsPerRun) return false;
  // Runs of rows whose outputs are consecutive: [run_begin[q], run_begin[q + 1]).
  int run_begin[ROWS + 1];
  int runs = 0;
  for (int i = 0; i < mr; ++i)
    if (i == 0 || s.row_off[i] != s.row_off[i - 1] + 1) run_begin[runs++] = i;
  run_begin[runs] = int(mr);
  if (runs * kMinRowsPerRun > mr) return false;
  const Epilogue& e = *s.epilogue;
  const __m512 zero = _mm512_setzero_ps();
#pragma GCC unroll 2
  for (int rb = 0; rb < ROWS; rb += W) {
    if (rb >= mr) break;
    const int64_t rows = mr - rb < W ? mr - rb : W;
    const __mmask16 row_mask = __mmask16(rows == W ? 0xFFFFu : (1u << rows) - 1u);
    const __m512 bias_rows = s.finish && s.bias_row ? _mm512_maskz_loadu_ps(row_mask, s.bias_row + rb) : zero;
    // Lanes of each run inside this block of 16 rows.
    __mmask16 lanes[ROWS];
    int first_run = runs, last_run = 0;
    for (int q = 0; q < runs; ++q) {
      const int lo = run_begin[q] > rb ? run_begin[q] : rb, hi = run_begin[q + 1] < rb + W ? run_begin[q + 1] : rb + W;
      lanes[q] = lo < hi ? __mmask16(((1u << (hi - rb)) - 1u) & ~((1u << (lo - rb)) - 1u)) : __mmask16(0);
      if (lo < hi) {
        first_run = q < first_run ? q : first_run;
        last_run = q + 1;
      }
    }
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) {
      const int64_t cols = nr - v * W < W ? nr - v * W : W;
      if (cols <= 0) break;
      __m512 t[W];
#pragma GCC unroll 16
      for (int i = 0; i < W; ++i) t[i] = rb + i < ROWS ? __m512(acc[rb + i < ROWS ? rb + i : 0][v]) : zero;
      transpose16x16(t);
      for (int64_t j = 0; j < cols; ++j) {
        const int64_t col = s.col_off[v * W + j];
        __m512 x = t[j];
        if (s.accumulate) {
          __m512 held = zero;
          for (int q = first_run; q < last_run; ++q) {
            const int start = run_begin[q] > rb ? run_begin[q] : rb;
            const int n = __builtin_popcount(lanes[q]);
            held = _mm512_mask_expand_ps(held, lanes[q],
                                         _mm512_maskz_loadu_ps(__mmask16((1u << n) - 1u), s.c + s.row_off[start] + col));
          }
          x = _mm512_add_ps(x, held);
        }
        if (s.finish) {
          x = _mm512_add_ps(x, bias_rows);
          if (s.bias_col) x = _mm512_add_ps(x, _mm512_set1_ps(s.bias_col[v * W + j]));
          x = activate<xsimd::avx512f>(xsimd::batch<float, xsimd::avx512f>(x), e);
        }
        for (int q = first_run; q < last_run; ++q) {
          const int start = run_begin[q] > rb ? run_begin[q] : rb;
          const int n = __builtin_popcount(lanes[q]);
          _mm512_mask_storeu_ps(s.c + s.row_off[start] + col, __mmask16((1u << n) - 1u),
                                _mm512_maskz_compress_ps(lanes[q], x));
        }
      }
    }
  }
  return true;
}
#endif

// Whether the inlined tile store takes a partial last vector: only where masked stores make
// that cheap.
template <class Arch>
constexpr bool kPartialTailInline = std::is_same<Arch, xsimd::avx512f>::value;

// A whole tile of contiguous rows, of interleaved row groups (W phases), or (AVX-512) of rows
// writing every other output (one of two W phases of different taps, k3 s2), overwritten: bias and the
// activation `act` decided once per tile, not per vector (the general path's branches were a
// tenth of grouped_up's time). Where masked stores are cheap, any columns of the tile: a region
// of 31 pixels between two border columns, 16 NHWC channels on a 32-wide tile. Out of line (a
// call, the tile copied through memory), every other output cost 17 NCHW stride-2 layers of the
// tune data 7% / 3% of subpixel's time at 1 / 2 threads (geometric mean), and 16 channels were
// 17% of the NHWC time of 1 image of 3 -> 16 channels, 256x256, k3 s2 (Zen 4, session 29).
enum class FullTileStore { rows, row_groups, every_other_column };

// Row groups of S interleaved phases (TileStore::rows_interleaved), finished: each group's vector
// v leaves as S * len[v] contiguous floats.
template <class Arch, int S, int ROWS, int NV>
__attribute__((always_inline)) inline void store_row_groups(xsimd::batch<float, Arch> (&acc)[ROWS][NV],
                                                            const int64_t (&len)[NV], const TileStore& s) {
  using V = vf<Arch>;
  constexpr int W = int(V::size);
  if constexpr (ROWS % S == 0) {
#pragma GCC unroll 32
    for (int i = 0; i < ROWS; i += S)
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) {
        if (len[v] <= 0) continue;
        float* o = s.c + s.row_off[i] + s.col_off[0] + S * v * W;
        if constexpr (S == 2) {  // (AVX2 stores the pair's halves where they lie)
          store_interleaved<Arch>(o, acc[i][v], acc[i + 1][v], 2 * len[v]);
        } else {
          V in[S], merged[S];
#pragma GCC unroll 8
          for (int r = 0; r < S; ++r) in[r] = acc[i + r][v];
          interleave_group<Arch, S>(in, merged);
#pragma GCC unroll 8
          for (int u = 0; u < S; ++u)
            if (S * len[v] > u * W) store_n<Arch>(o + u * W, merged[u], S * len[v] - u * W);
        }
      }
  }
}

template <class Arch, int ROWS, int NV, class Act>
__attribute__((always_inline)) inline void store_full_tile(xsimd::batch<float, Arch> (&acc)[ROWS][NV], int64_t nr,
                                                           const TileStore& s, FullTileStore mode, Act act) {
  using V = vf<Arch>;
  constexpr int W = int(V::size);
  int64_t len[NV];  // columns of vector v
  V bcol[NV];
#pragma GCC unroll 8
  for (int v = 0; v < NV; ++v) {
    len[v] = kPartialTailInline<Arch> ? std::min<int64_t>(std::max<int64_t>(nr - v * W, 0), W) : W;
    bcol[v] = !s.bias_col || len[v] == 0 ? V(0.0f) : load_n<Arch>(s.bias_col + v * W, len[v]);
  }
#pragma GCC unroll 32
  for (int i = 0; i < ROWS; ++i)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) acc[i][v] = act(acc[i][v] + V(s.bias_row ? s.bias_row[i] : 0.0f) + bcol[v]);
  if (mode == FullTileStore::rows) {
#pragma GCC unroll 32
    for (int i = 0; i < ROWS; ++i) {
      float* row = s.c + s.row_off[i] + s.col_off[0];
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v)
        if (len[v] > 0) store_n<Arch>(row + v * W, acc[i][v], len[v]);
    }
    return;
  }
#ifdef __AVX512F__
  if constexpr (std::is_same<Arch, xsimd::avx512f>::value) {
    if (mode == FullTileStore::every_other_column) {
#pragma GCC unroll 32
      for (int i = 0; i < ROWS; ++i) {
        float* row = s.c + s.row_off[i] + s.col_off[0];
#pragma GCC unroll 8
        for (int v = 0; v < NV; ++v)
          if (len[v] > 0) store_every_other(row + 2 * v * W, acc[i][v], len[v]);
      }
      return;
    }
  }
#endif
#ifdef __AVX2__
  if constexpr (W == 8) {
    if (mode == FullTileStore::every_other_column) {  // whole vectors (len[v] == W), gaps writable
#pragma GCC unroll 32
      for (int i = 0; i < ROWS; ++i) {
        float* row = s.c + s.row_off[i] + s.col_off[0];
#pragma GCC unroll 8
        for (int v = 0; v < NV; ++v) store_every_other_rewriting_gaps(row + 2 * v * W, acc[i][v]);
      }
      return;
    }
  }
#endif
  switch (s.rows_interleaved) {
    case 2: return store_row_groups<Arch, 2>(acc, len, s);
    case 3: return store_row_groups<Arch, 3>(acc, len, s);
    case 4: return store_row_groups<Arch, 4>(acc, len, s);
    default: return;  // not reached: store_tile() checks
  }
}

// The tile's columns as runs [run_begin[r], run_begin[r + 1]) of consecutive outputs, or of every
// step-th output (step 2 to kMaxRowGroup) when the rows come in groups of `step` interleaved
// phases (row_off[i + r] == row_off[i] + r for r < step, i < mr a multiple of step); their count,
// or 0 when there is no such split into runs of 4 columns on average. `step` is set either way.
inline int column_runs(int64_t mr, int64_t nr, const TileStore& s, int* run_begin, int& step) {
  step = 1;
  if (nr < 2) return 0;
  step = int(std::clamp<int64_t>(s.col_off[1] - s.col_off[0], 0, kMaxRowGroup + 1));
  if (step < 1 || step > kMaxRowGroup || mr % step != 0) return 0;
  for (int64_t i = 0; i < mr; i += step)
    for (int r = 1; r < step; ++r)
      if (s.row_off[i + r] != s.row_off[i] + r) return 0;
  int runs = 0;
  run_begin[runs++] = 0;
  for (int64_t j = 1; j < nr; ++j) {
    if (s.col_off[j] != s.col_off[j - 1] + step) run_begin[runs++] = int(j);
  }
  run_begin[runs] = int(nr);
  return runs * 4 <= nr ? runs : 0;
}

// Row groups of S interleaved phases, partial, accumulating or of any activation: false (nothing
// stored) when ROWS is no multiple of S.
template <class Arch, int S, int ROWS, int NV>
inline bool store_row_groups_general(xsimd::batch<float, Arch> (&acc)[ROWS][NV], int64_t mr, int64_t nr,
                                     const TileStore& s) {
  using V = vf<Arch>;
  constexpr int W = int(V::size);
  if constexpr (ROWS % S != 0) {
    return false;
  } else {
    for (int i = 0; i < ROWS; i += S) {
      if (i >= mr) break;
      float* out = s.c + s.row_off[i] + s.col_off[0];
      V bias[S], bias_merged[S];
      for (int r = 0; r < S; ++r) bias[r] = V(s.bias_row ? s.bias_row[i + r] : 0.0f);
      interleave_group<Arch, S>(bias, bias_merged);
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) {
        const int64_t len = S * (nr - v * W);  // floats of the group from o on
        if (len <= 0) break;
        float* o = out + S * v * W;
        V in[S], merged[S];
        for (int r = 0; r < S; ++r) in[r] = acc[i + r][v];
        interleave_group<Arch, S>(in, merged);
        for (int u = 0; u < S && len > u * W; ++u) {
          if (s.accumulate) merged[u] += load_n<Arch>(o + u * W, len - u * W);
          if (s.finish) merged[u] = activate<Arch>(merged[u] + bias_merged[u], *s.epilogue);
          store_n<Arch>(o + u * W, merged[u], len - u * W);
        }
      }
    }
    return true;
  }
}

// Rows i .. i + S - 1 of the tile interleaved into dst (S * NV vectors, 64-byte aligned):
// dst[S*j + r] = column j of row i + r.
template <class Arch, int S, int ROWS, int NV>
inline void interleave_rows(const xsimd::batch<float, Arch> (&acc)[ROWS][NV], int64_t i, float* dst) {
  using V = vf<Arch>;
  constexpr int W = int(V::size);
#pragma GCC unroll 8
  for (int v = 0; v < NV; ++v) {
    V in[S], merged[S];
    for (int r = 0; r < S; ++r) in[r] = acc[i + r][v];
    interleave_group<Arch, S>(in, merged);
    for (int u = 0; u < S; ++u) merged[u].store_aligned(dst + S * v * W + u * W);
  }
}

// Every other tile: partial, accumulating, scattered or interleaved outputs.
template <class Arch, int ROWS, int NV>
__attribute__((noinline)) void store_tile_general(xsimd::batch<float, Arch> (&acc)[ROWS][NV], int64_t mr, int64_t nr,
                                                  const TileStore& s) {
  using V = vf<Arch>;
  constexpr int W = int(V::size);
  constexpr int NR = NV * W;
  constexpr int MR = ROWS;
  const Epilogue& e = *s.epilogue;
  if (s.col_contiguous) {
    for (int i = 0; i < MR; ++i) {
      if (i >= mr) break;
      float* row = s.c + s.row_off[i] + s.col_off[0];
      const V brow(s.bias_row ? s.bias_row[i] : 0.0f);
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) {
        const int64_t len = nr - v * W;
        if (len <= 0) break;
        V r = acc[i][v];
        if (s.accumulate) r += load_n<Arch>(row + v * W, len);
        if (s.finish) {
          if (s.bias_row) r += brow;
          if (s.bias_col) r += load_n<Arch>(s.bias_col + v * W, len);
          r = activate<Arch>(r, e);
        }
        store_n<Arch>(row + v * W, r, len);
      }
    }
    return;
  }
  switch (s.rows_interleaved) {
    case 2: if (store_row_groups_general<Arch, 2>(acc, mr, nr, s)) return; break;
    case 3: if (store_row_groups_general<Arch, 3>(acc, mr, nr, s)) return; break;
    case 4: if (store_row_groups_general<Arch, 4>(acc, mr, nr, s)) return; break;
    default: break;
  }
#ifdef __AVX512F__
  if constexpr (std::is_same<Arch, xsimd::avx512f>::value) {
    if (!s.col_stride2 && store_tile_by_columns<ROWS, NV>(acc, mr, nr, s)) return;
    if (s.col_stride2) {
      // Every other output: compact the even lanes of two vectors to read, spread a vector over
      // the even lanes of two to write (store_every_other); masks keep the odd lanes (another
      // phase's) untouched.
      const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
      for (int i = 0; i < MR; ++i) {
        if (i >= mr) break;
        float* row = s.c + s.row_off[i] + s.col_off[0];
        const V brow(s.bias_row ? s.bias_row[i] : 0.0f);
        for (int v = 0; v < NV; ++v) {
          const int64_t len = nr - v * W;
          if (len <= 0) break;
          float* o = row + 2 * v * W;
          V r = acc[i][v];
          if (s.accumulate) {
            r += V(_mm512_permutex2var_ps(_mm512_maskz_loadu_ps(even_lanes(len), o), even,
                                          _mm512_maskz_loadu_ps(len > 8 ? even_lanes(len - 8) : __mmask16(0), o + W)));
          }
          if (s.finish) {
            if (s.bias_row) r += brow;
            if (s.bias_col) r += load_n<Arch>(s.bias_col + v * W, len);
            r = activate<Arch>(r, e);
          }
          store_every_other(o, r, len);
        }
      }
      return;
    }
  }
#endif
  // Scattered or partial tile: gather what C holds (when accumulating), finish in registers,
  // then scatter plain values, so no per-element branching on the epilogue.
  // Columns in a few runs of consecutive outputs (a pixel panel straddling input rows), or of
  // every s-th output with row groups interleaving (stacked W phases of stride s), move a run at a
  // time: one float at a time, every store to a line not yet cached takes its own store-queue
  // entry and the queue fills (unet_up1 NCHW, Zen 4: 6% of subpixel's time in this function).
  int run_begin[NR + 1];
  int step = 1;
  const int runs = column_runs(mr, nr, s, run_begin, step);
  const int group = runs > 0 ? step : 1;  // rows moved together, interleaved
  alignas(64) float tile[MR][NR];
  alignas(64) float grouped[kMaxRowGroup * NR];  // a row group interleaved, as the output holds it
  auto for_each_run = [&](int64_t i, auto&& move) {  // move(output, row-group/row floats, count)
    for (int r = 0; r < runs; ++r) {
      const int b = run_begin[r], len = run_begin[r + 1] - b;
      move(s.c + s.row_off[i] + s.col_off[b], group > 1 ? grouped + group * b : &tile[i][b], group * len);
    }
  };
  if (s.accumulate) {
    for (int64_t i = 0; i < mr; i += group) {
      const float* row = s.c + s.row_off[i];
      if (runs == 0) {
        for (int64_t j = 0; j < nr; ++j) tile[i][j] = row[s.col_off[j]];
        continue;
      }
      for_each_run(i, [](const float* out, float* in, int count) { std::copy(out, out + count, in); });
      for (int64_t j = 0; group > 1 && j < nr; ++j)
        for (int r = 0; r < group; ++r) tile[i + r][j] = grouped[group * j + r];
    }
#pragma GCC unroll 32
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) acc[i][v] += V::load_aligned(&tile[i][v * W]);
  }
  if (s.finish) {
    V bcol[NV];
    for (int v = 0; v < NV; ++v) {
      const int64_t len = nr - v * W;
      bcol[v] = !s.bias_col || len <= 0 ? V(0.0f)
                : len >= W              ? V::load_unaligned(s.bias_col + v * W)
                                        : load_partial<Arch>(s.bias_col + v * W, len);
    }
    for (int i = 0; i < MR; ++i) {
      const V brow(s.bias_row && i < mr ? s.bias_row[i] : 0.0f);
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) acc[i][v] = activate<Arch>(acc[i][v] + brow + bcol[v], e);
    }
  }
  for (int i = 0; i < MR; ++i)
    for (int v = 0; v < NV; ++v) acc[i][v].store_aligned(&tile[i][v * W]);
  for (int64_t i = 0; i < mr; i += group) {
    float* row = s.c + s.row_off[i];
    if (runs == 0) {
      for (int64_t j = 0; j < nr; ++j) row[s.col_off[j]] = tile[i][j];
      continue;
    }
    switch (group) {  // the group's rows interleaved in registers, as the output holds them
      case 2: interleave_rows<Arch, 2>(acc, i, grouped); break;
      case 3: interleave_rows<Arch, 3>(acc, i, grouped); break;
      case 4: interleave_rows<Arch, 4>(acc, i, grouped); break;
      default: break;
    }
    for_each_run(i, [](float* out, const float* in, int count) { std::copy(in, in + count, out); });
  }
}

// The end of every micro-kernel. The common case (a whole tile of plain rows, row groups or rows
// of every other output, last K block, no or ReLU activation) is inlined so the accumulators go straight from registers to
// memory; the rest is out of line.
template <class Arch, int ROWS, int NV>
__attribute__((always_inline)) inline void store_tile(xsimd::batch<float, Arch> (&acc)[ROWS][NV], int64_t mr,
                                                      int64_t nr, const TileStore& s) {
  using V = vf<Arch>;
  const bool rows = s.col_contiguous, groups = s.rows_interleaved > 1 && ROWS % s.rows_interleaved == 0;
  const bool every_other = (std::is_same<Arch, xsimd::avx512f>::value || (V::size == 8 && s.gaps_writable)) &&
                           s.col_stride2 && !groups;
  const FullTileStore mode = rows ? FullTileStore::rows : groups ? FullTileStore::row_groups : FullTileStore::every_other_column;
  constexpr int64_t kMinFastNr = kPartialTailInline<Arch> ? 1 : NV * int64_t(V::size);
  if ((rows || groups || every_other) && mr == ROWS && nr >= kMinFastNr && !s.accumulate && s.finish) {
    switch (s.epilogue->activation) {
      case Activation::none: return store_full_tile<Arch>(acc, nr, s, mode, [](V v) { return v; });
      case Activation::relu: return store_full_tile<Arch>(acc, nr, s, mode, [](V v) { return xsimd::max(v, V(0.0f)); });
      default: break;
    }
  }
  // A copy goes out of line: were the accumulators' own address taken, GCC would keep them in
  // memory and load and store all of them around every K segment's loop.
  V copy[ROWS][NV];
#pragma GCC unroll 32
  for (int i = 0; i < ROWS; ++i)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) copy[i][v] = acc[i][v];
  store_tile_general<Arch, ROWS, NV>(copy, mr, nr, s);
}

// The GEMM micro-kernels (contracts in dispatch/kernel_table.hpp). Each body computes ROWS rows
// of a tile whose A micro-panels are PANEL rows wide; the table's entry points call the body of
// exactly mr rows, so a partial tile (a region of 16 pixels on 14-row tiles: 14 + 2) costs its
// rows, not a whole tile's FMAs. Every row count is instantiated: the rows' FMAs unroll fully.
// STREAMED names an operand streamed from beyond L2 (KernelTable::gemm_streamed_a / _b): each k
// row prefetches that operand's row kStreamedPrefetchRows k ahead, to L1 (a hint: past the
// panel it reads nothing the program sees, and the address is formed as an integer, never as an
// out-of-range pointer).
enum class Streamed { none, a, b };

// How many k rows ahead a streamed operand is prefetched. A: Zen 4 AVX-512, 14x32 tile (3.5 KiB
// ahead), alternating runs: square 2048 at 1 thread 94-101 -> 104-108 GFLOP/s; 16, 32 and 192
// rows gained less on subpixel NCHW unet_up1 / unet_up4 / dcgan_g2 / fcn32_up. B (NHWC weights,
// 2 MiB per phase group of dcgan_g2): Zen 2 AVX2, 16 and 48 rows ahead, subpixel NHWC dcgan_g2
// 10.4 -> 9.8 / 9.6 ms at 1 thread; 64 as for A.
constexpr int kStreamedPrefetchRows = 64;

template <class Arch, int ROWS, int PANEL, int NV, Streamed STREAMED = Streamed::none>
void gemm_tile(int64_t segments, const int64_t* kc, const float* const* a_seg, const float* const* b_seg,
               const int64_t* b_step, int64_t mr, int64_t nr, const TileStore& s) {
  using V = vf<Arch>;
  constexpr int W = int(V::size);
  V acc[ROWS][NV];
#pragma GCC unroll 32
  for (int i = 0; i < ROWS; ++i)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) acc[i][v] = V(0.0f);
  for (int64_t seg = 0; seg < segments; ++seg) {
    const float* a = a_seg[seg];
    const float* b = b_seg[seg];
    const int64_t step = b_step[seg];
    for (int64_t k = kc[seg]; k > 0; --k) {
      if constexpr (STREAMED == Streamed::a) {
        __builtin_prefetch(reinterpret_cast<const void*>(reinterpret_cast<uintptr_t>(a) + kStreamedPrefetchRows * PANEL * sizeof(float)), 0, 3);
      }
      if constexpr (STREAMED == Streamed::b) {
        __builtin_prefetch(reinterpret_cast<const void*>(reinterpret_cast<uintptr_t>(b) + kStreamedPrefetchRows * step * sizeof(float)), 0, 3);
      }
      V bv[NV];
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) bv[v] = V::load_unaligned(b + v * W);
#pragma GCC unroll 32
      for (int i = 0; i < ROWS; ++i) {
        const V ai(a[i]);
#pragma GCC unroll 8
        for (int v = 0; v < NV; ++v) acc[i][v] = fmadd<Arch>(ai, bv[v], acc[i][v]);
      }
      a += PANEL;
      b += step;
    }
  }
  store_tile<Arch, ROWS, NV>(acc, mr, nr, s);
}

// A read in place: row i of segment s runs along a_rows[s * PANEL + i], one float per k, so
// pixels whose channels are contiguous (NHWC) need no packing when each is used by few B panels.
// B's k rows are B_STEP floats apart: NV vectors, or (the narrow tile, NV = 1) the first vector
// of a wider prepacked panel.
template <class Arch, int ROWS, int PANEL, int NV, int B_STEP = NV * int(vf<Arch>::size)>
void gemm_tile_direct_a(int64_t segments, const int64_t* kc, const float* const* a_rows, const float* const* b_seg,
                        int64_t mr, int64_t nr, const TileStore& s) {
  using V = vf<Arch>;
  constexpr int W = int(V::size);
  V acc[ROWS][NV];
#pragma GCC unroll 32
  for (int i = 0; i < ROWS; ++i)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) acc[i][v] = V(0.0f);
  for (int64_t seg = 0; seg < segments; ++seg) {
    const float* const* rows = a_rows + seg * PANEL;
    const float* b = b_seg[seg];
    const int64_t n = kc[seg];
    for (int64_t k = 0; k < n; ++k) {
      V bv[NV];
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) bv[v] = V::load_aligned(b + v * W);
#pragma GCC unroll 32
      for (int i = 0; i < ROWS; ++i) {
        const V ai(rows[i][k]);
#pragma GCC unroll 8
        for (int v = 0; v < NV; ++v) acc[i][v] = fmadd<Arch>(ai, bv[v], acc[i][v]);
      }
      b += B_STEP;
    }
  }
  store_tile<Arch, ROWS, NV>(acc, mr, nr, s);
}

// A tile of the last ROWS rows of a block (ROWS <= MR / 2) across PANELS neighbouring B panels:
// the accumulators of PANELS tiles of ROWS rows, at most the full tile's, so the FMAs of one k
// row no longer wait on each other's latency (see KernelTable::gemm_across). A packed
// (A_IN_PLACE false: a[s][k*PANEL + i]) or read in place (a[s*PANEL + i][k]); B panel p of
// segment s at b_seg[s] + p * b_panel_stride, NV vectors wide.
template <class Arch, int ROWS, int PANEL, int NV, int PANELS, bool A_IN_PLACE>
void gemm_tile_across(int64_t segments, const int64_t* kc, const float* const* a_src, const float* const* b_seg,
                      int64_t b_panel_stride, int64_t mr, int64_t nr, const TileStore& s) {
  using V = vf<Arch>;
  constexpr int W = int(V::size), NR = NV * W;
  V acc[ROWS][PANELS * NV];
#pragma GCC unroll 32
  for (int i = 0; i < ROWS; ++i)
#pragma GCC unroll 32
    for (int v = 0; v < PANELS * NV; ++v) acc[i][v] = V(0.0f);
  for (int64_t seg = 0; seg < segments; ++seg) {
    const float* a = a_src[seg];
    const float* const* rows = a_src + seg * PANEL;
    const float* b = b_seg[seg];
    const int64_t n = kc[seg];
    for (int64_t k = 0; k < n; ++k) {
      V ai[ROWS];
#pragma GCC unroll 32
      for (int i = 0; i < ROWS; ++i) ai[i] = V(A_IN_PLACE ? rows[i][k] : a[k * PANEL + i]);
#pragma GCC unroll 8
      for (int p = 0; p < PANELS; ++p) {
#pragma GCC unroll 8
        for (int v = 0; v < NV; ++v) {
          const V bv = V::load_aligned(b + p * b_panel_stride + k * NR + v * W);
#pragma GCC unroll 32
          for (int i = 0; i < ROWS; ++i) acc[i][p * NV + v] = fmadd<Arch>(ai[i], bv, acc[i][p * NV + v]);
        }
      }
    }
  }
  store_tile<Arch, ROWS, PANELS * NV>(acc, mr, nr, s);
}

// The narrow tile for pixel panels of at most one vector (small regions in NCHW): up to 2*PANEL
// rows x W columns, rows from two consecutive PANEL-row micro-panels (the second at
// a + a_panel_stride), B packed W wide. Same register budget as the wide tile.
template <class Arch, int ROWS, int PANEL>
void gemm_tile_narrow(int64_t segments, const int64_t* kc, const float* const* a_seg, int64_t a_panel_stride,
                      const float* const* b_seg, const int64_t* b_step, int64_t mr, int64_t nr, const TileStore& s) {
  using V = vf<Arch>;
  constexpr int FIRST = ROWS < PANEL ? ROWS : PANEL;
  V acc[ROWS][1];
#pragma GCC unroll 64
  for (int i = 0; i < ROWS; ++i) acc[i][0] = V(0.0f);
  for (int64_t seg = 0; seg < segments; ++seg) {
    const float* a0 = a_seg[seg];
    const float* a1 = a0 + a_panel_stride;
    const float* b = b_seg[seg];
    const int64_t step = b_step[seg];
    for (int64_t k = kc[seg]; k > 0; --k) {
      const V bv = V::load_unaligned(b);
#pragma GCC unroll 32
      for (int i = 0; i < FIRST; ++i) acc[i][0] = fmadd<Arch>(V(a0[i]), bv, acc[i][0]);
#pragma GCC unroll 32
      for (int i = FIRST; i < ROWS; ++i) acc[i][0] = fmadd<Arch>(V(a1[i - PANEL]), bv, acc[i][0]);
      a0 += PANEL;
      a1 += PANEL;
      b += step;
    }
  }
  store_tile<Arch, ROWS, 1>(acc, mr, nr, s);
}

// Instantiations for every count 1..N (rows of a tile, pixels of a dot block), indexed by count - 1.
template <class Fn, int... R, class Make>
constexpr std::array<Fn, sizeof...(R)> by_count(std::integer_sequence<int, R...>, Make make) {
  return {make(std::integral_constant<int, R + 1>{})...};
}

template <class Arch, int MR, int NV, Streamed STREAMED = Streamed::none>
void gemm_ukernel(int64_t segments, const int64_t* kc, const float* const* a_seg, const float* const* b_seg,
                  const int64_t* b_step, int64_t mr, int64_t nr, const TileStore& s) {
  static constexpr auto bodies = by_count<GemmUkernel>(std::make_integer_sequence<int, MR>{}, [](auto rows) {
    return GemmUkernel(&gemm_tile<Arch, decltype(rows)::value, MR, NV, STREAMED>);
  });
  bodies[size_t(mr - 1)](segments, kc, a_seg, b_seg, b_step, mr, nr, s);
}

template <class Arch>
constexpr int kVectorRegisters = std::is_same<Arch, xsimd::avx512f>::value ? 32 : 16;

// The bodies of ROWS rows across 1..kMaxAcrossPanels panels (counts past the ISA's limit for
// those rows are never called; they get the limit's body rather than one that would spill).
template <class Arch, int MR, int NV, bool A_IN_PLACE, int ROWS, int... P>
constexpr std::array<GemmAcrossUkernel, sizeof...(P)> across_bodies(std::integer_sequence<int, P...>) {
  constexpr int kMost = int(across_panels(MR, NV, kVectorRegisters<Arch>, ROWS));
  return {GemmAcrossUkernel(&gemm_tile_across<Arch, ROWS, MR, NV, (P + 1 < kMost ? P + 1 : kMost), A_IN_PLACE>)...};
}

template <class Arch, int MR, int NV, bool A_IN_PLACE>
void gemm_ukernel_across(int64_t segments, const int64_t* kc, const float* const* a, const float* const* b_seg,
                         int64_t b_panel_stride, int64_t mr, int64_t nr, const TileStore& s) {
  using Bodies = std::array<GemmAcrossUkernel, kMaxAcrossPanels>;
  static constexpr auto bodies = by_count<Bodies>(std::make_integer_sequence<int, MR / 2>{}, [](auto rows) {
    return across_bodies<Arch, MR, NV, A_IN_PLACE, decltype(rows)::value>(
        std::make_integer_sequence<int, int(kMaxAcrossPanels)>{});
  });
  constexpr int64_t kNr = NV * int64_t(vf<Arch>::size);
  bodies[size_t(mr - 1)][size_t((nr + kNr - 1) / kNr - 1)](segments, kc, a, b_seg, b_panel_stride, mr, nr, s);
}

template <class Arch, int MR, int NV>
void gemm_ukernel_direct_a(int64_t segments, const int64_t* kc, const float* const* a_rows,
                           const float* const* b_seg, int64_t mr, int64_t nr, const TileStore& s) {
  static constexpr auto bodies = by_count<GemmDirectAUkernel>(std::make_integer_sequence<int, MR>{}, [](auto rows) {
    return GemmDirectAUkernel(&gemm_tile_direct_a<Arch, decltype(rows)::value, MR, NV>);
  });
  bodies[size_t(mr - 1)](segments, kc, a_rows, b_seg, mr, nr, s);
}

// The narrow tile with A in place: up to 2 * MR rows x one vector, the first vector of each k
// row of B panels prepacked NV vectors wide (NHWC layers of at most one vector of output
// channels per group, which the wide tile would half pad).
template <class Arch, int MR, int NV>
void gemm_ukernel_direct_a_narrow(int64_t segments, const int64_t* kc, const float* const* a_rows,
                                  const float* const* b_seg, int64_t mr, int64_t nr, const TileStore& s) {
  static constexpr auto bodies = by_count<GemmDirectAUkernel>(std::make_integer_sequence<int, 2 * MR>{}, [](auto rows) {
    return GemmDirectAUkernel(&gemm_tile_direct_a<Arch, decltype(rows)::value, 2 * MR, 1, NV * int(vf<Arch>::size)>);
  });
  bodies[size_t(mr - 1)](segments, kc, a_rows, b_seg, mr, nr, s);
}

template <class Arch, int MR>
void gemm_ukernel_narrow(int64_t segments, const int64_t* kc, const float* const* a_seg, int64_t a_panel_stride,
                         const float* const* b_seg, const int64_t* b_step, int64_t mr, int64_t nr,
                         const TileStore& s) {
  static constexpr auto bodies = by_count<GemmNarrowUkernel>(std::make_integer_sequence<int, 2 * MR>{}, [](auto rows) {
    return GemmNarrowUkernel(&gemm_tile_narrow<Arch, decltype(rows)::value, MR>);
  });
  bodies[size_t(mr - 1)](segments, kc, a_seg, a_panel_stride, b_seg, b_step, mr, nr, s);
}

// How many of the first `limit` offsets continue off[0] one by one.
inline int64_t contiguous_run_length(const int64_t* off, int64_t limit) {
  int64_t n = 1;
  while (n < limit && off[n] == off[0] + n) ++n;
  return n;
}

#ifdef __AVX512F__
// dst[j][i] = s[oo[i] + j] for j < n <= 16, i < cnt (zero for cnt <= i < r), r <= 16. Reads
// only those n floats of each row.
inline void pack_transposed16(const float* s, const int64_t* oo, int64_t cnt, int64_t r, int64_t n, float* dst) {
  const __mmask16 valid = __mmask16((1u << n) - 1u);
  __m512 rows[16];
  for (int i = 0; i < 16; ++i) rows[i] = i < cnt ? _mm512_maskz_loadu_ps(valid, s + oo[i]) : _mm512_setzero_ps();
  transpose16x16(rows);
  const __mmask16 lanes = __mmask16((1u << r) - 1u);
  for (int j = 0; j < n; ++j) _mm512_mask_storeu_ps(dst + j * r, lanes, rows[j]);
}

inline bool fits_int32(const int64_t* off, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    if (off[i] < INT32_MIN || off[i] > INT32_MAX) return false;
  return true;
}

// dst[kk][i] = src[inner_off[kk] + oo[i]] for i < cnt (zero for cnt <= i < r), r <= 32.
inline void pack_gathered32(const float* src, const int64_t* oo, int64_t cnt, const int64_t* inner_off, int64_t k,
                            int64_t r, float* dst) {
  alignas(64) int32_t idx[32] = {};
  for (int64_t i = 0; i < cnt; ++i) idx[i] = int32_t(oo[i]);
  const __m512i idx0 = _mm512_load_si512(idx), idx1 = _mm512_load_si512(idx + 16);
  auto first = [](int64_t n) { return __mmask16(n >= 16 ? 0xFFFFu : n <= 0 ? 0u : (1u << n) - 1u); };
  const __mmask16 g0 = first(cnt), g1 = first(cnt - 16), s0 = first(r), s1 = first(r - 16);
  const __m512 zero = _mm512_setzero_ps();
  for (int64_t kk = 0; kk < k; ++kk) {
    const float* s = src + inner_off[kk];
    float* d = dst + kk * r;
    _mm512_mask_storeu_ps(d, s0, _mm512_mask_i32gather_ps(zero, g0, idx0, s, 4));
    if (s1) _mm512_mask_storeu_ps(d + 16, s1, _mm512_mask_i32gather_ps(zero, g1, idx1, s, 4));
  }
}
#endif

#ifdef __AVX__
// In-register transpose of 8 rows of 8 floats: r[j] becomes column j.
inline void transpose8x8(__m256 (&r)[8]) {
  __m256 t[8];
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {
    r[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
    r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
    r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
  }
  for (int i = 0; i < 4; ++i) {
    t[i] = _mm256_permute2f128_ps(r[i], r[i + 4], 0x20);
    t[i + 4] = _mm256_permute2f128_ps(r[i], r[i + 4], 0x31);
  }
  for (int i = 0; i < 8; ++i) r[i] = t[i];
}

// The columns of the 8 x 8 block whose row i starts at row[i]: col[j] = column j. The 128-bit
// halves are exchanged by the loads (vinsertf128) instead of vperm2f128, which Zen 1 microcodes:
// an NHWC -> NCHW output transpose of 2 MB runs 1.7x faster this way.
__attribute__((always_inline)) inline void load_columns8x8(const float* const (&row)[8], __m256 (&col)[8]) {
  __m256 r[8];  // r[i], r[i + 4]: columns 0-3 and 4-7 of rows i (low half) and i + 4 (high half)
  for (int i = 0; i < 4; ++i) {
    r[i] = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(row[i])), _mm_loadu_ps(row[i + 4]), 1);
    r[i + 4] = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(row[i] + 4)), _mm_loadu_ps(row[i + 4] + 4), 1);
  }
  for (int h = 0; h < 8; h += 4) {  // columns h .. h + 3
    const __m256 lo01 = _mm256_unpacklo_ps(r[h], r[h + 1]), hi01 = _mm256_unpackhi_ps(r[h], r[h + 1]);
    const __m256 lo23 = _mm256_unpacklo_ps(r[h + 2], r[h + 3]), hi23 = _mm256_unpackhi_ps(r[h + 2], r[h + 3]);
    col[h] = _mm256_shuffle_ps(lo01, lo23, 0x44);
    col[h + 1] = _mm256_shuffle_ps(lo01, lo23, 0xEE);
    col[h + 2] = _mm256_shuffle_ps(hi01, hi23, 0x44);
    col[h + 3] = _mm256_shuffle_ps(hi01, hi23, 0xEE);
  }
}

// dst[j][i] = s[oo[i] + j] for j < n <= 8, i < cnt (zero for cnt <= i < r), r <= 8: the
// AVX2 counterpart of pack_transposed16 (NHWC pixels: a tap's channels are contiguous, so each
// pixel is one vector load instead of n scalar ones). Reads only those n floats of each row and
// writes only dst[0 .. n * r).
inline void pack_transposed8(const float* s, const int64_t* oo, int64_t cnt, int64_t r, int64_t n, float* dst) {
  alignas(32) static constexpr int32_t kLanes[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
  const __m256i valid = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kLanes + 8 - n));
  __m256 rows[8];
  if (n == 8) {
    alignas(32) static constexpr float kZeroRow[8] = {};
    const float* row[8];
    for (int i = 0; i < 8; ++i) row[i] = i < cnt ? s + oo[i] : kZeroRow;
    load_columns8x8(row, rows);
  } else {
    for (int i = 0; i < 8; ++i) rows[i] = i < cnt ? _mm256_maskload_ps(s + oo[i], valid) : _mm256_setzero_ps();
    transpose8x8(rows);
  }
  // A row's full-width store spills into the next rows' slots, rewritten right after; rows whose
  // 8 floats would pass dst[n * r] store only their r floats, without masked moves (microcoded
  // on Zen 1, they cost more than the rest of the pack).
  int j = 0;
  for (; j < n && j * r + 8 <= n * r; ++j) _mm256_storeu_ps(dst + j * r, rows[j]);
  for (; j < n; ++j) store_first8(dst + j * r, rows[j], r);
}
#endif

// Micro-panel packing (contract in gemm/gemm.hpp, "Packing"). Outer offsets usually come in
// contiguous runs (pixels of one row, rows of a matrix): each run is copied with vector loads
// and stores per k; scattered offsets fall back to an element gather.
template <class Arch>
void pack(const float* src, const int64_t* outer_off, int64_t outer_count, const int64_t* inner_off,
          int64_t k, int64_t r, float* dst) {
  using V = vf<Arch>;
  constexpr int64_t W = int64_t(V::size);
  constexpr int64_t kMaxRuns = 64;
  int64_t run_start[kMaxRuns], run_len[kMaxRuns];
  // Several whole panels of one contiguous run (a plain matrix's columns): each k row is read
  // once across all of them, not one panel-width piece per panel, which on a big matrix is one
  // page (and TLB miss) per k row per panel.
  if (outer_count >= 2 * r && outer_off[outer_count - 1] == outer_off[0] + outer_count - 1 &&
      contiguous_run_length(outer_off, outer_count) == outer_count) {
    const int64_t panels = (outer_count + r - 1) / r;
    for (int64_t kk = 0; kk < k; ++kk) {
      const float* s = src + inner_off[kk] + outer_off[0];
      for (int64_t p = 0; p < panels; ++p) {
        float* to = dst + p * k * r + kk * r;
        const int64_t cnt = outer_count - p * r < r ? outer_count - p * r : r;
        int64_t i = 0;
        for (; i + W <= cnt; i += W) V::load_unaligned(s + p * r + i).store_unaligned(to + i);
        if (i < cnt) store_partial<Arch>(to + i, load_partial<Arch>(s + p * r + i, cnt - i), cnt - i);
        for (int64_t j = cnt; j < r; ++j) to[j] = 0.0f;
      }
    }
    return;
  }
  for (int64_t o0 = 0; o0 < outer_count; o0 += r) {
    const int64_t cnt = outer_count - o0 < r ? outer_count - o0 : r;
    const int64_t* oo = outer_off + o0;
    float* d = dst + o0 * k;
    int64_t runs = 0;
    for (int64_t i = 0; i < cnt && runs <= kMaxRuns;) {
      int64_t j = i + 1;
      while (j < cnt && oo[j] == oo[j - 1] + 1) ++j;
      if (runs < kMaxRuns) {
        run_start[runs] = i;
        run_len[runs] = j - i;
      }
      ++runs;
      i = j;
    }
#ifdef __AVX512F__
    if constexpr (std::is_same<Arch, xsimd::avx512f>::value) {
      // Short runs (small NCHW regions): hardware gathers, 16 outer rows per instruction.
      if (r <= 32 && runs * 4 > cnt && contiguous_run_length(inner_off, k < 4 ? k : 4) < 4 && fits_int32(oo, cnt)) {
        pack_gathered32(src, oo, cnt, inner_off, k, r, d);
        continue;
      }
    }
#endif
    if (runs <= kMaxRuns && runs * 2 <= cnt) {
      for (int64_t kk = 0; kk < k; ++kk) {
        const float* s = src + inner_off[kk];
        float* dk = d + kk * r;
        for (int64_t q = 0; q < runs; ++q) {
          const float* from = s + oo[run_start[q]];
          float* to = dk + run_start[q];
          const int64_t len = run_len[q];
          int64_t i = 0;
          for (; i + W <= len; i += W) V::load_unaligned(from + i).store_unaligned(to + i);
          if (i < len) store_partial<Arch>(to + i, load_partial<Arch>(from + i, len - i), len - i);
        }
        for (int64_t i = cnt; i < r; ++i) dk[i] = 0.0f;
      }
      continue;
    }
    for (int64_t kk = 0; kk < k;) {
#ifdef __AVX512F__
      if constexpr (std::is_same<Arch, xsimd::avx512f>::value) {
        // 16 consecutive k with consecutive inner offsets (NHWC: channels of one tap): read
        // each outer row as a vector and transpose in registers.
        if (r <= 16) {
          const int64_t run = contiguous_run_length(inner_off + kk, k - kk < 16 ? k - kk : 16);
          if (run >= 4) {
            pack_transposed16(src + inner_off[kk], oo, cnt, r, run, d + kk * r);
            kk += run;
            continue;
          }
        }
      }
#endif
#ifdef __AVX__
      if constexpr (W == 8) {
        if (r <= 8) {
          const int64_t run = contiguous_run_length(inner_off + kk, k - kk < 8 ? k - kk : 8);
          if (run >= 4) {
            pack_transposed8(src + inner_off[kk], oo, cnt, r, run, d + kk * r);
            kk += run;
            continue;
          }
        }
      }
#endif
      const float* s = src + inner_off[kk];
      float* dk = d + kk * r;
      for (int64_t i = 0; i < cnt; ++i) dk[i] = s[oo[i]];
      for (int64_t i = cnt; i < r; ++i) dk[i] = 0.0f;
      ++kk;
    }
  }
}

// Loads for kernels that run whole vectors and a partial last one through the same body (a
// length test per load costs branches and spilled registers in the loop).
template <class Arch>
struct WholeVector {
  vf<Arch> operator()(const float* p) const { return vf<Arch>::load_unaligned(p); }
};
template <class Arch>
struct FirstLanes {
  int64_t n;
  vf<Arch> operator()(const float* p) const { return load_partial<Arch>(p, n); }
};

// One chunk of NH H taps of one tap group of row_fma_block: tap j of output row r reads input
// row r - j (relative to p, tap 0's row), so the R + NH - 1 rows are each loaded once and feed
// every (row, tap) pair they meet. Tap j goes to partial (Q0 + j) % P.
template <class Arch, int C, int R, int P, int NH, int Q0, class Load>
__attribute__((always_inline)) inline void row_fma_chunk(vf<Arch> (&a)[R][C][P], const float* p,
                                                         int64_t x_row_step, const float* w, const Load& load) {
  using V = vf<Arch>;
  V wv[NH][C];
#pragma GCC unroll 4
  for (int j = 0; j < NH; ++j)
#pragma GCC unroll 4
    for (int c = 0; c < C; ++c) wv[j][c] = NH > 1 && V::size == 16 ? in_register<Arch>(V(w[j * C + c])) : V(w[j * C + c]);
  const float* row = p - (NH - 1) * x_row_step;
#pragma GCC unroll 16
  for (int i = 0; i < R + NH - 1; ++i, row += x_row_step) {
    // Kept in a register only when several H taps share it (with one tap, k <= s, 4 random k2 s2
    // layers ran 1.06x-1.14x slower in a register), and only with AVX-512's 32 registers: on
    // AVX2's 16 the row kernels ran up to 1.2x slower (k2 s2 and k3 s1 random layers, Zen 4).
    V xv = load(row);
    if constexpr (NH > 1 && V::size == 16) xv = in_register<Arch>(xv);
#pragma GCC unroll 4
    for (int j = 0; j < NH; ++j) {
      const int r = i - (NH - 1) + j;
      if (r < 0 || r >= R) continue;
#pragma GCC unroll 4
      for (int c = 0; c < C; ++c) a[r][c][(Q0 + j) % P] = fmadd<Arch>(wv[j][c], xv, a[r][c][(Q0 + j) % P]);
    }
  }
}

// Taps [t0, t0 + NH) of every tap group (in w, H taps C floats apart, groups h_taps * C floats
// apart). Groups run in sets of P, each starting on its own partial (constant indices only: the
// partials stay in registers).
template <class Arch, int C, int R, int P, int NH, class Load>
__attribute__((always_inline)) inline void row_fma_groups(vf<Arch> (&a)[R][C][P], const float* x, int64_t x_row_step,
                                                          const int64_t* off, const float* w, int64_t groups,
                                                          int64_t h_taps, int64_t t0, const Load& load) {
  const int64_t group_w = h_taps * C;
  x -= t0 * x_row_step;
  w += t0 * C;
  int64_t g = 0;
  for (; g + P <= groups; g += P) {
    row_fma_chunk<Arch, C, R, P, NH, 0>(a, x + off[g], x_row_step, w + g * group_w, load);
    if constexpr (P > 1) row_fma_chunk<Arch, C, R, P, NH, 1 % P>(a, x + off[g + 1], x_row_step, w + (g + 1) * group_w, load);
    if constexpr (P > 2) {
      row_fma_chunk<Arch, C, R, P, NH, 2 % P>(a, x + off[g + 2], x_row_step, w + (g + 2) * group_w, load);
      row_fma_chunk<Arch, C, R, P, NH, 3 % P>(a, x + off[g + 3], x_row_step, w + (g + 3) * group_w, load);
    }
  }
  for (; g < groups; ++g) row_fma_chunk<Arch, C, R, P, NH, 0>(a, x + off[g], x_row_step, w + g * group_w, load);
}

// Every tap group and H tap into the partial sums a, H taps in chunks of at most 4 (each chunk
// size a loop of its own).
template <class Arch, int C, int R, int P, class Load>
__attribute__((always_inline)) inline void row_fma_taps(vf<Arch> (&a)[R][C][P], const float* x, int64_t x_row_step,
                                                        const int64_t* off, const float* w, int64_t groups,
                                                        int64_t h_taps, const Load& load) {
  int64_t t = 0;
  for (; t + 4 <= h_taps; t += 4) row_fma_groups<Arch, C, R, P, 4>(a, x, x_row_step, off, w, groups, h_taps, t, load);
  switch (h_taps - t) {
    case 3: row_fma_groups<Arch, C, R, P, 3>(a, x, x_row_step, off, w, groups, h_taps, t, load); break;
    case 2: row_fma_groups<Arch, C, R, P, 2>(a, x, x_row_step, off, w, groups, h_taps, t, load); break;
    case 1: row_fma_groups<Arch, C, R, P, 1>(a, x, x_row_step, off, w, groups, h_taps, t, load); break;
    default: break;
  }
}

// acc[(r*C + c)*ld + j] = sum_g sum_h w[(g*h_taps + h)*C + c] * x[(r - h)*x_row_step + off[g] + j]
// for r < R, c < C, j < n: R rows of C output channels of a direct convolution. A tap group g is
// one input channel and W tap with h_taps consecutive H taps (each one input row further up):
// one input load feeds C channels and up to h_taps rows, one weight broadcast R rows.
// R*C*P independent sums hide the FMA latency (P partials per sum, added in a fixed order).
template <class Arch, int C, int R>
void row_fma_block(float* acc, int64_t ld, int64_t n, const float* x, int64_t x_row_step, const int64_t* off,
                   const float* w, int64_t groups, int64_t h_taps, bool accumulate) {
  using V = vf<Arch>;
  constexpr int64_t W = int64_t(V::size);
  constexpr int P = R * C >= 8 ? 1 : (R * C >= 4 ? 2 : 4);
  for (int64_t j0 = 0; j0 < n; j0 += W) {
    // A partial last vector moves back to end at n (whole loads; the overlap is rewritten with
    // the same values) unless the row is shorter than one vector. Accumulating, the lanes it
    // shares with the previous vector already hold their sums: they keep what acc holds.
    const int64_t j = n - j0 < W && n >= W ? n - W : j0, len = n - j < W ? n - j : W;
    V a[R][C][P];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
      for (int c = 0; c < C; ++c)
#pragma GCC unroll 4
        for (int q = 0; q < P; ++q) a[r][c][q] = V(0.0f);
    if (len == W) row_fma_taps<Arch, C, R, P>(a, x + j, x_row_step, off, w, groups, h_taps, WholeVector<Arch>());
    else row_fma_taps<Arch, C, R, P>(a, x + j, x_row_step, off, w, groups, h_taps, FirstLanes<Arch>{len});
    const auto shared = lane_index<Arch>() < V(float(j0 - j));
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
      for (int c = 0; c < C; ++c) {
        float* dst = acc + (r * C + c) * ld + j;
        V sum = a[r][c][0];
        if constexpr (P == 2) sum = a[r][c][0] + a[r][c][1];
        if constexpr (P == 4) sum = (a[r][c][0] + a[r][c][1]) + (a[r][c][2] + a[r][c][3]);
        if (accumulate) {
          const V held = len == W ? V::load_unaligned(dst) : load_partial<Arch>(dst, len);
          sum = xsimd::select(shared, held, held + sum);
        }
        if (len == W) sum.store_unaligned(dst);
        else store_partial<Arch>(dst, sum, len);
      }
  }
}

// Rows in blocks of R (R*C sums fill the FMA pipeline), the remainder in halving blocks.
template <class Arch, int C, int R>
void row_fma_rows(float* acc, int64_t ld, int64_t rows, int64_t n, const float* x, int64_t x_row_step,
                  const int64_t* off, const float* w, int64_t groups, int64_t h_taps, bool accumulate) {
  int64_t r = 0;
  for (; r + R <= rows; r += R)
    row_fma_block<Arch, C, R>(acc + r * C * ld, ld, n, x + r * x_row_step, x_row_step, off, w, groups, h_taps,
                              accumulate);
  if constexpr (R > 1) {
    if (r < rows)
      row_fma_rows<Arch, C, R / 2>(acc + r * C * ld, ld, rows - r, n, x + r * x_row_step, x_row_step, off, w, groups,
                                   h_taps, accumulate);
  }
}

template <class Arch>
void row_fma(float* acc, int64_t ld, int64_t channels, int64_t rows, int64_t n, const float* x,
             int64_t x_row_step, const int64_t* off, const float* w, int64_t groups, int64_t h_taps, bool accumulate) {
  switch (channels) {
    case 1: return row_fma_rows<Arch, 1, 8>(acc, ld, rows, n, x, x_row_step, off, w, groups, h_taps, accumulate);
    case 2: return row_fma_rows<Arch, 2, 4>(acc, ld, rows, n, x, x_row_step, off, w, groups, h_taps, accumulate);
    case 3: return row_fma_rows<Arch, 3, 2>(acc, ld, rows, n, x, x_row_step, off, w, groups, h_taps, accumulate);
    default: return row_fma_rows<Arch, 4, 2>(acc, ld, rows, n, x, x_row_step, off, w, groups, h_taps, accumulate);
  }
}

// row_fma_block for both W phases of stride 2 at once, written straight into the output rows
// with bias and activation (contract in dispatch/kernel_table.hpp): no phase-split row buffer
// and no second pass to interleave it.
// G > 0: both phases have G tap groups of NH H taps each, unrolled at compile time (with the
// runtime loops over groups and H-tap chunks, bilinear_dw's kernel took 1.23x as long).
template <class Arch, int C, int R, int G, int NH, class Act>
void row_fma_zip_block(float* out, int64_t out_c_step, int64_t out_r_step, int64_t n_first, int64_t n_second,
                       const float* x, int64_t x_row_step, const RowTaps& first, const RowTaps& second,
                       const float* bias, const Epilogue& e, Act act) {
  using V = vf<Arch>;
  constexpr int64_t W = int64_t(V::size);
  // Both phases' sums stay live together: one partial each (more would spill on 16 registers).
  constexpr int P = 1;
  // Forced inline: otherwise GCC kept the sums a and b, passed by reference, on the stack.
  auto taps = [&](V(&acc)[R][C][P], const float* xj, const RowTaps& rt,
                  const auto& load) __attribute__((always_inline)) {
    if constexpr (G > 0) {
#pragma GCC unroll 4
      for (int g = 0; g < G; ++g)
        row_fma_chunk<Arch, C, R, P, NH, 0>(acc, xj + rt.off[g], x_row_step, rt.w + g * NH * C, load);
    } else {
      row_fma_taps<Arch, C, R, P>(acc, xj, x_row_step, rt.off, rt.w, rt.groups, rt.h_taps, load);
    }
  };
  for (int64_t j0 = 0; j0 < n_first; j0 += W) {
    // As in row_fma_block, a partial last pair of vectors moves back to end at the row's end
    // when both phases are equally long.
    const int64_t j = n_first - j0 < W && n_first == n_second && n_first >= W ? n_first - W : j0;
    const int64_t len1 = n_first - j < W ? n_first - j : W;
    const int64_t len2 = n_second - j < W ? n_second - j : W;  // <= 0: no second-phase output left
    V a[R][C][P], b[R][C][P];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
      for (int c = 0; c < C; ++c)
#pragma GCC unroll 4
        for (int q = 0; q < P; ++q) a[r][c][q] = b[r][c][q] = V(0.0f);
    if (len1 == W && len2 == W) {
      taps(a, x + j, first, WholeVector<Arch>());
      taps(b, x + j, second, WholeVector<Arch>());
    } else {
      taps(a, x + j, first, FirstLanes<Arch>{len1});
      if (len2 > 0) taps(b, x + j, second, FirstLanes<Arch>{len2});
    }
    const int64_t n = len1 + (len2 > 0 ? len2 : 0);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
      for (int c = 0; c < C; ++c) {
        const V bv(bias[c]);
        store_interleaved<Arch>(out + c * out_c_step + r * out_r_step + 2 * j, activate<Arch>(a[r][c][0] + bv, e, act),
                                activate<Arch>(b[r][c][0] + bv, e, act), n);
      }
  }
}

template <class Arch, int C, int R, int G, int NH, class Act>
void row_fma_zip_rows(float* out, int64_t out_c_step, int64_t out_r_step, int64_t rows, int64_t n_first,
                      int64_t n_second, const float* x, int64_t x_row_step, const RowTaps& first,
                      const RowTaps& second, const float* bias, const Epilogue& e, Act act) {
  int64_t r = 0;
  for (; r + R <= rows; r += R)
    row_fma_zip_block<Arch, C, R, G, NH, Act>(out + r * out_r_step, out_c_step, out_r_step, n_first, n_second,
                                          x + r * x_row_step, x_row_step, first, second, bias, e, act);
  if constexpr (R > 1) {
    if (r < rows)
      row_fma_zip_rows<Arch, C, R / 2, G, NH, Act>(out + r * out_r_step, out_c_step, out_r_step, rows - r, n_first, n_second,
                                               x + r * x_row_step, x_row_step, first, second, bias, e, act);
  }
}

template <class Arch>
void row_fma_zip(float* out, int64_t out_c_step, int64_t out_r_step, int64_t channels, int64_t rows, int64_t n_first,
                 int64_t n_second, const float* x, int64_t x_row_step, const RowTaps& first, const RowTaps& second,
                 const float* bias, const Epilogue& e) {
  // The activation dispatched once per call (a compare chain per stored vector otherwise). One
  // channel with 2 x 2 taps per phase (depthwise k = 4, s = 2: bilinear upsampling) gets its
  // taps unrolled.
  const bool two_by_two = first.groups == 2 && second.groups == 2 && first.h_taps == 2 && second.h_taps == 2;
  with_activation(e.activation, [&](auto act) {
    using A = decltype(act);
    switch (channels) {
      case 1:
        if (two_by_two)
          return row_fma_zip_rows<Arch, 1, 4, 2, 2, A>(out, out_c_step, out_r_step, rows, n_first, n_second, x, x_row_step, first, second, bias, e, act);
        return row_fma_zip_rows<Arch, 1, 4, 0, 0, A>(out, out_c_step, out_r_step, rows, n_first, n_second, x, x_row_step, first, second, bias, e, act);
      case 2: return row_fma_zip_rows<Arch, 2, 2, 0, 0, A>(out, out_c_step, out_r_step, rows, n_first, n_second, x, x_row_step, first, second, bias, e, act);
      case 3: return row_fma_zip_rows<Arch, 3, 1, 0, 0, A>(out, out_c_step, out_r_step, rows, n_first, n_second, x, x_row_step, first, second, bias, e, act);
      default: return row_fma_zip_rows<Arch, 4, 1, 0, 0, A>(out, out_c_step, out_r_step, rows, n_first, n_second, x, x_row_step, first, second, bias, e, act);
    }
  });
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
  if (c < cout) {
    const int64_t len = cout - c;
    V a0 = load_partial<Arch>(acc + c, len);
    for (int64_t i = 0; i < cin; ++i) a0 = fmadd<Arch>(V(x[i]), load_partial<Arch>(w + i * ldw + c, len), a0);
    store_partial<Arch>(acc + c, a0, len);
  }
}

// Depthwise taps for a run of pixels (contract in dispatch/kernel_table.hpp): vectors along
// channels, four channel vectors at a time so their sums overlap.
// - A channel count off the vector width ends with a vector (or, past 2 vectors left, a block
//   of 4) shifted back to end at n: it rewrites some channels with the same values (the kernel
//   writes, never adds) instead of running partial vectors. bilinear_dw's shape in NHWC with
//   60 channels, AVX2, 1 thread: 1.84-1.96 -> 0.94-1.20 ms (64 channels: 0.87-1.10).
// - The activation is dispatched once per call: bilinear_dw NHWC 0.90-0.92 -> 0.86 ms.
template <class Arch>
void chan_fma(float* out, int64_t out_step, int64_t pixels, int64_t n, const float* x, int64_t x_step,
              const int64_t* x_off, const float* w, const int64_t* w_off, int64_t taps, const float* bias,
              const Epilogue& e) {
  using V = vf<Arch>;
  constexpr int64_t W = int64_t(V::size);
  // Channels [c, c + U*W) of the pixel at out, x.
  auto vectors = [&](float* o, const float* xp, int64_t c, auto u, auto act) {
    constexpr int U = decltype(u)::value;
    V a[U];
#pragma GCC unroll 4
    for (int v = 0; v < U; ++v) a[v] = V(0.0f);
    for (int64_t t = 0; t < taps; ++t) {
      const float* xt = xp + x_off[t] + c;
      const float* wt = w + w_off[t] + c;
#pragma GCC unroll 4
      for (int v = 0; v < U; ++v) a[v] = fmadd<Arch>(V::load_unaligned(xt + v * W), V::load_unaligned(wt + v * W), a[v]);
    }
#pragma GCC unroll 4
    for (int v = 0; v < U; ++v) activate<Arch>(a[v] + V::load_unaligned(bias + c + v * W), e, act).store_unaligned(o + c + v * W);
  };
  const std::integral_constant<int, 4> four;
  const std::integral_constant<int, 1> one;
  with_activation(e.activation, [&](auto act) {
    for (int64_t p = 0; p < pixels; ++p, out += out_step, x += x_step) {
      int64_t c = 0;
      for (; c + 4 * W <= n; c += 4 * W) vectors(out, x, c, four, act);
      if (c == n) continue;
      if (n - c > 2 * W && n >= 4 * W) {
        vectors(out, x, n - 4 * W, four, act);
        continue;
      }
      for (; c + W <= n; c += W) vectors(out, x, c, one, act);
      if (c == n) continue;
      if (n >= W) {
        vectors(out, x, n - W, one, act);
        continue;
      }
      V a0(0.0f);  // fewer channels than one vector
      for (int64_t t = 0; t < taps; ++t)
        a0 = fmadd<Arch>(load_partial<Arch>(x + x_off[t], n), load_partial<Arch>(w + w_off[t], n), a0);
      store_partial<Arch>(out, activate<Arch>(a0 + load_partial<Arch>(bias, n), e, act), n);
    }
  });
}

// v[i] = activation(v[i] + bias[i * bias_step]), i < n (contract in dispatch/kernel_table.hpp).
// Sum of the lanes. (xsimd 8.1's AVX-512 hadd uses an AVX512DQ instruction, which the AVX-512F
// translation unit may not.)
template <class Arch>
inline float horizontal_sum(vf<Arch> v) {
#ifdef __AVX512F__
  if constexpr (std::is_same<Arch, xsimd::avx512f>::value) return _mm512_reduce_add_ps(v);
#endif
#ifdef __AVX__
  if constexpr (vf<Arch>::size == 8) {  // xsimd's hadd starts with a vperm2f128, microcoded on Zen 1
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    return _mm_cvtss_f32(_mm_add_ss(h, _mm_shuffle_ps(h, h, 1)));
  }
#endif
  return xsimd::hadd(v);
}

// dot_taps and lane_taps for P pixels x C output channels; each weight loaded once for the P
// pixels, each input vector once for the C channels.
// dot (LANES false): vectors along the input channels, one horizontal sum per output at the end.
// lanes (LANES true): vectors across the lanes (images) of one input channel, each weight
// broadcast; no sums, every lane is an output.
template <class Arch, bool LANES, int C, int P>
void taps_block(float* out, int64_t out_step, const float* x, int64_t x_step, const int64_t* x_off, const float* w,
                const int64_t* w_off, int64_t taps, int64_t cin) {
  using V = vf<Arch>;
  constexpr int64_t W = int64_t(V::size);
  constexpr int U = LANES ? (8 + P * C - 1) / (P * C) : 1;
  V part[U][P][C];
  auto& acc = part[0];
#pragma GCC unroll 8
  for (int u = 0; u < U; ++u)
#pragma GCC unroll 8
    for (int p = 0; p < P; ++p)
#pragma GCC unroll 4
      for (int c = 0; c < C; ++c) part[u][p][c] = V(0.0f);
  for (int64_t t = 0; t < taps; ++t) {
    const float* xt = x + x_off[t];
    const float* wt = w + w_off[t];
    if constexpr (LANES) {
      // U input channels at a time into U sets of sums, so that small blocks (border pixels of
      // a phase row run alone) still keep about 8 independent FMA chains in flight.
      int64_t i = 0;
      for (; i + U <= cin; i += U, xt += U * W) {
#pragma GCC unroll 8
        for (int u = 0; u < U; ++u) {
          V wv[C];
#pragma GCC unroll 4
          for (int c = 0; c < C; ++c) wv[c] = in_register<Arch>(V(wt[c * cin + i + u]));
#pragma GCC unroll 8
          for (int p = 0; p < P; ++p) {
            const V xv = in_register<Arch>(V::load_unaligned(xt + p * x_step + u * W));
#pragma GCC unroll 4
            for (int c = 0; c < C; ++c) part[u][p][c] = fmadd<Arch>(xv, wv[c], part[u][p][c]);
          }
        }
      }
      for (; i < cin; ++i, xt += W) {
        V wv[C];
#pragma GCC unroll 4
        for (int c = 0; c < C; ++c) wv[c] = in_register<Arch>(V(wt[c * cin + i]));
#pragma GCC unroll 8
        for (int p = 0; p < P; ++p) {
          const V xv = in_register<Arch>(V::load_unaligned(xt + p * x_step));
#pragma GCC unroll 4
          for (int c = 0; c < C; ++c) part[0][p][c] = fmadd<Arch>(xv, wv[c], part[0][p][c]);
        }
      }
    } else {
      // Input channels [i, i + W) of every pixel times every channel's weights, read by `load`.
      auto step = [&](int64_t i, auto load) {
        V wv[C];
#pragma GCC unroll 4
        for (int c = 0; c < C; ++c) wv[c] = in_register<Arch>(load(wt + c * cin + i));
#pragma GCC unroll 8
        for (int p = 0; p < P; ++p) {
          const V xv = in_register<Arch>(load(xt + p * x_step + i));
#pragma GCC unroll 4
          for (int c = 0; c < C; ++c) acc[p][c] = fmadd<Arch>(xv, wv[c], acc[p][c]);
        }
      };
      // Whole vectors in a loop of their own: with the partial last vector's length test inside
      // it, GCC spilled the pixel pointers around every iteration (r10 of the diverse set, 192
      // -> 1 channels: 30 instructions per 8 FMAs).
      int64_t i = 0;
      for (; i + W <= cin; i += W) step(i, WholeVector<Arch>());
      if (i < cin) step(i, FirstLanes<Arch>{cin - i});
    }
  }
#pragma GCC unroll 8
  for (int u = 1; u < U; ++u)
#pragma GCC unroll 8
    for (int p = 0; p < P; ++p)
#pragma GCC unroll 4
      for (int c = 0; c < C; ++c) acc[p][c] += part[u][p][c];
#pragma GCC unroll 8
  for (int p = 0; p < P; ++p)
#pragma GCC unroll 4
    for (int c = 0; c < C; ++c) {
      if constexpr (LANES) acc[p][c].store_unaligned(out + p * out_step + c * W);
      else out[p * out_step + c] = horizontal_sum<Arch>(acc[p][c]);
    }
}

// Pixels in blocks of as many as the registers hold (P x C sums, C weight vectors, one input).
template <class Arch, bool LANES, int C>
void taps_pixels(float* out, int64_t out_step, int64_t pixels, const float* x, int64_t x_step, const int64_t* x_off,
                 const float* w, const int64_t* w_off, int64_t taps, int64_t cin) {
  constexpr int kBlock = C == 1 ? 8 : C == 2 ? 6 : 4;
  using Block = void (*)(float*, int64_t, const float*, int64_t, const int64_t*, const float*, const int64_t*,
                         int64_t, int64_t);
  static constexpr auto blocks = by_count<Block>(std::make_integer_sequence<int, kBlock>{}, [](auto p) {
    return Block(&taps_block<Arch, LANES, C, decltype(p)::value>);
  });
  for (int64_t p = 0; p < pixels; p += kBlock) {
    const int64_t n = pixels - p < kBlock ? pixels - p : kBlock;
    blocks[size_t(n - 1)](out + p * out_step, out_step, x + p * x_step, x_step, x_off, w, w_off, taps, cin);
  }
}

template <class Arch, bool LANES>
void taps_channels(float* out, int64_t out_step, int64_t pixels, int64_t cout, const float* x, int64_t x_step,
                   const int64_t* x_off, const float* w, const int64_t* w_off, int64_t taps, int64_t cin) {
  switch (cout) {
    case 1: return taps_pixels<Arch, LANES, 1>(out, out_step, pixels, x, x_step, x_off, w, w_off, taps, cin);
    case 2: return taps_pixels<Arch, LANES, 2>(out, out_step, pixels, x, x_step, x_off, w, w_off, taps, cin);
    case 3: return taps_pixels<Arch, LANES, 3>(out, out_step, pixels, x, x_step, x_off, w, w_off, taps, cin);
    default: return taps_pixels<Arch, LANES, 4>(out, out_step, pixels, x, x_step, x_off, w, w_off, taps, cin);
  }
}

// f(integral_constant<int, FIRST + i>) for i = 0 .. N - 1, in order, unrolled at compile time.
template <int FIRST, class F, int... I>
__attribute__((always_inline)) inline void unrolled(std::integer_sequence<int, I...>, F&& f) {
  (f(std::integral_constant<int, FIRST + I>{}), ...);
}

// dot_taps and lane_taps for one output channel whose taps come in runs of RUN W taps reading
// consecutive input pixels (x_off[t + m] = x_off[t] - m * x_step): P pixels of a run read only
// P + RUN - 1 distinct input vectors, so each is loaded once and multiplied by the RUN weights it
// meets, instead of once per tap. Per step and run: P + RUN - 1 input loads and RUN weight loads
// for P * RUN FMAs (P = 8, RUN = 3: 13 for 24) against P + 1 per P FMAs tap by tap, which keeps
// the load ports, not the FMA units, the limit. U sets of sums over interleaved steps keep at
// least 6 independent FMA chains for small P.
// lanes (LANES true): step i is input channel i, one image per lane, its weight broadcast.
// dot (LANES false): step i is input channels [i*W, i*W + W) times their weights' vector (the
// last step partial), one horizontal sum per pixel at the end.
template <class Arch, bool LANES, int P, int RUN>
void run_block(float* out, int64_t out_step, const float* x, int64_t x_step, const int64_t* x_off, const float* w,
               const int64_t* w_off, int64_t taps, int64_t cin) {
  using V = vf<Arch>;
  constexpr int64_t W = int64_t(V::size);
  constexpr int U = P >= 6 ? 1 : P >= 3 ? 2 : 4;
  const int64_t steps = LANES ? cin : cin / W;  // whole steps
  V part[U][P];
#pragma GCC unroll 8
  for (int u = 0; u < U; ++u)
#pragma GCC unroll 8
    for (int p = 0; p < P; ++p) part[u][p] = V(0.0f);
  for (int64_t t = 0; t < taps; t += RUN) {
    const float* xt = x + x_off[t];
    const float* wt[RUN];
#pragma GCC unroll 4
    for (int m = 0; m < RUN; ++m) wt[m] = w + w_off[t + m];
    // Step i into sums s: input j (pixel p - m of tap m) for j = 1 - RUN .. P - 1.
    auto step = [&](V* s, int64_t i, const auto& load) __attribute__((always_inline)) {
      V wv[RUN];
#pragma GCC unroll 4
      for (int m = 0; m < RUN; ++m) {
        if constexpr (LANES) wv[m] = in_register<Arch>(V(wt[m][i]));
        else wv[m] = in_register<Arch>(load(wt[m] + i * W));
      }
      const float* xi = xt + i * W;
      unrolled<1 - RUN>(std::make_integer_sequence<int, P + RUN - 1>{}, [&](auto j) __attribute__((always_inline)) {
        const V xv = in_register<Arch>(load(xi + decltype(j)::value * x_step));
        unrolled<0>(std::make_integer_sequence<int, RUN>{}, [&](auto m) __attribute__((always_inline)) {
          constexpr int p = decltype(j)::value + decltype(m)::value;
          if constexpr (p >= 0 && p < P) s[p] = fmadd<Arch>(xv, wv[decltype(m)::value], s[p]);
        });
      });
    };
    int64_t i = 0;
    for (; i + U <= steps; i += U)
#pragma GCC unroll 4
      for (int u = 0; u < U; ++u) step(part[u], i + u, WholeVector<Arch>());
    for (; i < steps; ++i) step(part[0], i, WholeVector<Arch>());
    if constexpr (!LANES)
      if (steps * W < cin) step(part[0], steps, FirstLanes<Arch>{cin - steps * W});
  }
#pragma GCC unroll 8
  for (int p = 0; p < P; ++p) {
#pragma GCC unroll 4
    for (int u = 1; u < U; ++u) part[0][p] += part[u][p];
    if constexpr (LANES) part[0][p].store_unaligned(out + p * out_step);
    else out[p * out_step] = horizontal_sum<Arch>(part[0][p]);
  }
}

template <class Arch, bool LANES, int RUN>
void run_pixels(float* out, int64_t out_step, int64_t pixels, const float* x, int64_t x_step, const int64_t* x_off,
                const float* w, const int64_t* w_off, int64_t taps, int64_t cin) {
  constexpr int kBlock = 8;
  using Block = void (*)(float*, int64_t, const float*, int64_t, const int64_t*, const float*, const int64_t*,
                         int64_t, int64_t);
  static constexpr auto blocks = by_count<Block>(std::make_integer_sequence<int, kBlock>{}, [](auto p) {
    return Block(&run_block<Arch, LANES, decltype(p)::value, RUN>);
  });
  for (int64_t p = 0; p < pixels; p += kBlock) {
    const int64_t n = pixels - p < kBlock ? pixels - p : kBlock;
    blocks[size_t(n - 1)](out + p * out_step, out_step, x + p * x_step, x_step, x_off, w, w_off, taps, cin);
  }
}

// One output channel with runs of 2-4 taps: each input vector loaded once per run; otherwise
// tap by tap.
template <class Arch, bool LANES>
void taps_runs(float* out, int64_t out_step, int64_t pixels, int64_t cout, const float* x, int64_t x_step,
               const int64_t* x_off, const float* w, const int64_t* w_off, int64_t taps, int64_t run, int64_t cin) {
  if (cout == 1 && taps % run == 0) switch (run) {
      case 2: return run_pixels<Arch, LANES, 2>(out, out_step, pixels, x, x_step, x_off, w, w_off, taps, cin);
      case 3: return run_pixels<Arch, LANES, 3>(out, out_step, pixels, x, x_step, x_off, w, w_off, taps, cin);
      case 4: return run_pixels<Arch, LANES, 4>(out, out_step, pixels, x, x_step, x_off, w, w_off, taps, cin);
      default: break;
    }
  taps_channels<Arch, LANES>(out, out_step, pixels, cout, x, x_step, x_off, w, w_off, taps, cin);
}

// T tap sums of one vector of input pixels over every input channel, then scattered: for t < T,
// out[shift + off[t] + l] += sum_c w[c*w_step + t] * x[c*x_step + l] for every lane l (lanes >= len
// read no input and add zero). The x vector stays in a register for its T FMAs (each with its
// weight broadcast from memory, an AVX-512 FMA operand), the T sums for the whole channel loop.
// prefetch != 0: each channel also prefetches x + prefetch floats further on into L2 (a hint,
// the address formed as an integer). Channel rows a multiple of 4 KiB apart defeat the hardware
// prefetchers, each in a page of its own: 32 images of 64 channels 32x32 waited on memory.
template <class Arch, int T>
void tap_sums_block(const float* x, int64_t x_step, int64_t channels, int64_t len, const float* w, int64_t w_step,
                    float* out, int64_t shift, const int64_t* off, int64_t prefetch) {
  using V = vf<Arch>;
  constexpr int64_t W = int64_t(V::size);
  V acc[T];
#pragma GCC unroll 32
  for (int t = 0; t < T; ++t) acc[t] = V(0.0f);
  const auto channel_loop = [&](const auto& load, auto with_prefetch) __attribute__((always_inline)) {
    for (int64_t c = 0; c < channels; ++c) {
      if constexpr (decltype(with_prefetch)::value)
        __builtin_prefetch(reinterpret_cast<const void*>(reinterpret_cast<uintptr_t>(x + c * x_step) +
                                                         uintptr_t(prefetch) * sizeof(float)),
                           0, 2);
      const V xv = in_register<Arch>(load(x + c * x_step));
      const float* wc = w + c * w_step;
#pragma GCC unroll 32
      for (int t = 0; t < T; ++t) acc[t] = fmadd<Arch>(xv, V(wc[t]), acc[t]);
    }
  };
  const auto whole = [](const float* p) { return V::load_unaligned(p); };
  const auto first = [len](const float* p) { return load_partial<Arch>(p, len); };
  if (prefetch != 0) {
    if (len >= W) channel_loop(whole, std::true_type());
    else channel_loop(first, std::true_type());
  } else {
    if (len >= W) channel_loop(whole, std::false_type());
    else channel_loop(first, std::false_type());
  }
#pragma GCC unroll 32
  for (int t = 0; t < T; ++t) {
    float* o = out + (shift + off[t]);
    (V::load_unaligned(o) + acc[t]).store_unaligned(o);
  }
}

// TapSumsKernel (AVX-512 only, see make_table): a row of pixels a vector at a time, taps in
// blocks of at most kTapSumsMax, as even as the count allows (25 taps as 13 + 12: a block of one
// tap would reload x for a single FMA per channel). The first block of a vector prefetches.
// (Two vectors sharing each broadcast, 12 taps a block, ran 1.08x-1.7x slower.)
constexpr int kTapSumsMax = 24;

template <class Arch>
void tap_sums(const float* x, int64_t x_step, int64_t channels, int64_t pixels, const float* w, int64_t w_step,
              int64_t taps, float* out, int64_t shift, const int64_t* off, int64_t prefetch) {
  using Block = void (*)(const float*, int64_t, int64_t, int64_t, const float*, int64_t, float*, int64_t,
                         const int64_t*, int64_t);
  constexpr int64_t W = int64_t(vf<Arch>::size);
  static constexpr auto blocks =
      by_count<Block>(std::make_integer_sequence<int, kTapSumsMax>{},
                      [](auto t) { return Block(&tap_sums_block<Arch, decltype(t)::value>); });
  const int64_t n_blocks = (taps + kTapSumsMax - 1) / kTapSumsMax;
  for (int64_t p = 0; p < pixels; p += W)
    for (int64_t b = 0, t0 = 0; b < n_blocks; ++b) {
      const int64_t t1 = (b + 1) * taps / n_blocks;
      blocks[size_t(t1 - t0 - 1)](x + p, x_step, channels, pixels - p, w + t0, w_step, out, shift + p, off + t0,
                                  b == 0 ? prefetch : 0);
      t0 = t1;
    }
}

// The table's tap_sums: AVX-512 only (see make_table), not even instantiated elsewhere.
template <class Arch>
constexpr TapSumsKernel tap_sums_kernel() {
  if constexpr (vf<Arch>::size == 16) return &tap_sums<Arch>;
  else return nullptr;
}

template <class Arch>
void add_rows(const float* base, const int64_t* off, int64_t rows, int64_t len, float* out) {
  using V = vf<Arch>;
  constexpr int64_t W = int64_t(V::size);
  for (int64_t i = 0; i < len; i += W) {
    const int64_t n = len - i < W ? len - i : W;
    V sum(0.0f);
    for (int64_t r = 0; r < rows; ++r) sum = sum + load_n<Arch>(base + off[r] + i, n);
    store_n<Arch>(out + i, sum, n);
  }
}

template <class Arch>
void epilogue_run(float* v, int64_t n, const float* bias, int64_t bias_step, const Epilogue& e) {
  using V = vf<Arch>;
  constexpr int64_t W = int64_t(V::size);
  int64_t i = 0;
  const V b0(bias_step == 0 ? *bias : 0.0f);
  for (; i < n; i += W) {
    const int64_t len = n - i < W ? n - i : W;
    V x = len == W ? V::load_unaligned(v + i) : load_partial<Arch>(v + i, len);
    x += bias_step == 0 ? b0 : (len == W ? V::load_unaligned(bias + i) : load_partial<Arch>(bias + i, len));
    x = activate<Arch>(x, e);
    if (len == W) x.store_unaligned(v + i);
    else store_partial<Arch>(v + i, x, len);
  }
}

// out[2i] = act(even[i] + bias), out[2i + 1] = act(odd[i] + bias): two stride-2 phase rows
// interleaved into one output row, n_even - n_odd in {0, 1}.
template <class Arch>
void zip_store(const float* even, int64_t n_even, const float* odd, int64_t n_odd, float bias,
               const Epilogue& e, float* out) {
  using V = vf<Arch>;
  constexpr int64_t W = int64_t(V::size);
  const V b(bias);
  int64_t i = 0;
  for (; i + W <= n_odd; i += W) {
    store_interleaved<Arch>(out + 2 * i, activate<Arch>(V::load_unaligned(even + i) + b, e),
                            activate<Arch>(V::load_unaligned(odd + i) + b, e), 2 * W);
  }
  if (i < n_even) {  // the last partial pair, and the lone even element when n_even > n_odd
    V lo, hi;
    interleave<Arch>(activate<Arch>(load_partial<Arch>(even + i, n_even - i) + b, e),
                     activate<Arch>(load_partial<Arch>(odd + i, n_odd - i) + b, e), lo, hi);
    const int64_t n = n_even + n_odd - 2 * i;
    store_n<Arch>(out + 2 * i, lo, n);
    if (n > W) store_partial<Arch>(out + 2 * i + W, hi, n - W);
  }
}

// Short rows with zero columns either side (contract in dispatch/kernel_table.hpp). Writes exactly
// each row's `total` floats, so rows may be written in any order.
template <class Arch>
void pad_rows(const float* src, int64_t src_step, int64_t rows, int64_t n, int64_t pad_left, int64_t total,
              float* dst, int64_t dst_step) {
  using V = vf<Arch>;
  constexpr int64_t W = int64_t(V::size);
  const V zero(0.0f);
#ifdef __AVX512F__
  if constexpr (std::is_same<Arch, xsimd::avx512f>::value) {
    if (total <= W) {  // one vector per row: the data lanes moved up by pad_left, one store
      const __m512i shift = _mm512_sub_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                             _mm512_set1_epi32(int(pad_left)));
      const __mmask16 data = __mmask16(((1u << n) - 1u) << pad_left), row = __mmask16((1u << total) - 1u);
      for (int64_t r = 0; r < rows; ++r, src += src_step, dst += dst_step) {
        const __m512 x = _mm512_maskz_loadu_ps(__mmask16((1u << n) - 1u), src);
        _mm512_mask_storeu_ps(dst, row, _mm512_maskz_permutexvar_ps(data, shift, x));
      }
      return;
    }
  }
#endif
  for (int64_t r = 0; r < rows; ++r, src += src_step, dst += dst_step) {
    for (int64_t j = 0; j < pad_left; j += W) store_n<Arch>(dst + j, zero, pad_left - j);
    for (int64_t j = 0; j < n; j += W) store_n<Arch>(dst + pad_left + j, load_n<Arch>(src + j, n - j), n - j);
    for (int64_t j = pad_left + n; j < total; j += W) store_n<Arch>(dst + j, zero, total - j);
  }
}

// One W x W block of a transpose (W = the vector width): the W rows loaded from row[i], an
// in-register transpose, column j stored at dst + j * dst_ld, in increasing j (dst_ld < W
// overlaps the stores: each column's excess lanes land where the next column is stored).
template <class Arch>
__attribute__((always_inline)) inline void transpose_rows(const float* const (&row)[vf<Arch>::size], float* dst,
                                                          int64_t dst_ld) {
  using V = vf<Arch>;
  constexpr int W = int(V::size);
#ifdef __AVX512F__
  if constexpr (W == 16) {
    // The 128-bit lane stages done by the loads: vector 4a + k gathers columns 4a .. 4a + 3 of
    // rows k, k + 4, k + 8 and k + 12, one per lane, and then a 4 x 4 transpose within each lane
    // of the vectors 4a .. 4a + 3 completes columns 4a .. 4a + 3: 32 shuffles fewer than
    // transpose16x16. Zen 4, 16 x 16 blocks in L1: 52 -> 28 ns; tfgan_4's batch-lane staging
    // (800 KB) 0.070 -> 0.048 ms alone, the layer (direct, NCHW) 4% faster at 1 thread, 11% at 2.
    __m512 r[16];
    for (int a = 0; a < 4; ++a)
      for (int k = 0; k < 4; ++k) {
        __m512 v = _mm512_castps128_ps512(_mm_loadu_ps(row[k] + 4 * a));
        v = _mm512_insertf32x4(v, _mm_loadu_ps(row[k + 4] + 4 * a), 1);
        v = _mm512_insertf32x4(v, _mm_loadu_ps(row[k + 8] + 4 * a), 2);
        r[4 * a + k] = _mm512_insertf32x4(v, _mm_loadu_ps(row[k + 12] + 4 * a), 3);
      }
    for (int a = 0; a < 16; a += 4) {
      const __m512 t0 = _mm512_unpacklo_ps(r[a], r[a + 1]), t1 = _mm512_unpackhi_ps(r[a], r[a + 1]);
      const __m512 t2 = _mm512_unpacklo_ps(r[a + 2], r[a + 3]), t3 = _mm512_unpackhi_ps(r[a + 2], r[a + 3]);
      r[a] = _mm512_shuffle_ps(t0, t2, 0x44);
      r[a + 1] = _mm512_shuffle_ps(t0, t2, 0xEE);
      r[a + 2] = _mm512_shuffle_ps(t1, t3, 0x44);
      r[a + 3] = _mm512_shuffle_ps(t1, t3, 0xEE);
    }
    for (int i = 0; i < 16; ++i) _mm512_storeu_ps(dst + i * dst_ld, r[i]);
    return;
  }
#endif
#ifdef __AVX__
  if constexpr (W == 8) {
    __m256 col[8];
    load_columns8x8(row, col);
    for (int i = 0; i < 8; ++i) _mm256_storeu_ps(dst + i * dst_ld, col[i]);
    return;
  }
#endif
  if constexpr (W == 4) {
    __m128 r0 = _mm_loadu_ps(row[0]), r1 = _mm_loadu_ps(row[1]), r2 = _mm_loadu_ps(row[2]), r3 = _mm_loadu_ps(row[3]);
    _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
    _mm_storeu_ps(dst, r0);
    _mm_storeu_ps(dst + dst_ld, r1);
    _mm_storeu_ps(dst + 2 * dst_ld, r2);
    _mm_storeu_ps(dst + 3 * dst_ld, r3);
  } else {
    for (int j = 0; j < W; ++j)
      for (int i = 0; i < W; ++i) dst[j * dst_ld + i] = row[i][j];
  }
}

// The W x W block of src (rows src_ld apart) transposed into dst (rows dst_ld apart).
template <class Arch>
__attribute__((always_inline)) inline void transpose_block(const float* src, int64_t src_ld, float* dst, int64_t dst_ld) {
  constexpr int W = int(vf<Arch>::size);
  const float* row[W];
  for (int i = 0; i < W; ++i) row[i] = src + i * src_ld;
  transpose_rows<Arch>(row, dst, dst_ld);
}

// Runs block(q0) for blocks of W elements of every phase, q0 = 0, W, 2W, ... below last_q0, then
// at last_q0 itself (overlapping the block before, whose outputs it writes again, equal), the
// last position a block fits: the caller is left less than one block's outputs, element by
// element. Returns the elements of each phase done (0 when last_q0 < 0: no block fits).
template <int64_t W = 8, class Block>
__attribute__((always_inline)) inline int64_t interleave_blocks(int64_t last_q0, Block&& block) {
  if (last_q0 < 0) return 0;
  int64_t q0 = 0;
  for (; q0 < last_q0; q0 += W) block(q0);
  block(last_q0);
  return last_q0 + W;
}

// Strides 3 and 4 where interleave_group() is cheap (AVX2, AVX-512): S phase vectors in, S output
// vectors out, where the W x W transpose stores W vectors for S useful ones. Zen 4, direct_scatter
// NCHW at strides 3 and 4 (transpose -> permutes, 24 layers x 1 and 2 threads, best of 2
// alternating runs): 0.41x to 1.03x of the time, geometric mean 0.73x. At strides 5 to 8 the S x S
// permutes cost more than the transpose (11 random layers x 1 and 2 threads: 0.93x to 2.06x,
// geometric mean 1.18x): they keep it.
template <class Arch, int S>
inline int64_t interleave_by_groups(const float* const* phase, int64_t width, float* out) {
  using V = vf<Arch>;
  constexpr int64_t W = int64_t(V::size);
  return interleave_blocks<W>(width / S - W, [&](int64_t q0) __attribute__((always_inline)) {
    V in[S], merged[S];
    for (int r = 0; r < S; ++r) in[r] = V::load_unaligned(phase[r] + q0);
    interleave_group<Arch, S>(in, merged);
    for (int u = 0; u < S; ++u) merged[u].store_unaligned(out + q0 * S + W * u);
  }) * S;
}

// Stride-s phase rows back in output order (contract in dispatch/kernel_table.hpp): blocks of W
// outputs of every phase are a W x W transpose whose column stores overlap (rows past s read
// phase 0 again; their lanes are overwritten by the next column), while the last block's excess
// stays inside the row; the last block overlaps the one before.
template <class Arch>
int64_t interleave_phase_rows(const float* const* phase, int64_t s, int64_t width, float* out) {
  constexpr int64_t W = int64_t(vf<Arch>::size);
  if (s < 2 || s > W) return 0;
  if constexpr (W >= 8) {
    if (s == 3) return interleave_by_groups<Arch, 3>(phase, width, out);
    if (s == 4) return interleave_by_groups<Arch, 4>(phase, width, out);
  }
  // The transpose stores W floats at each of W outputs s apart: W - s floats of slack.
  return interleave_blocks<W>((width - (W - s)) / s - W, [&](int64_t q0) {
    const float* row[W];
    for (int64_t r = 0; r < W; ++r) row[r] = phase[r < s ? r : 0] + q0;
    transpose_rows<Arch>(row, out + q0 * s, s);
  }) * s;
}

// Rows [0, S) of W floats from column j0 on, interleaved into S*W contiguous floats at dst.
template <class Arch, int S>
void interleave_rows_block(const float* src, int64_t src_ld, int64_t j0, float* dst) {
  using V = vf<Arch>;
  V in[S], out[S];
  for (int r = 0; r < S; ++r) in[r] = V::load_unaligned(src + r * src_ld + j0);
  interleave_group<Arch, S>(in, out);
  for (int u = 0; u < S; ++u) out[u].store_unaligned(dst + j0 * S + u * int64_t(V::size));
}

// dst[j * dst_ld + i] = src[i * src_ld + j] for i < rows, j < cols (a layout change between
// NCHW and NHWC: rows = channels, cols = pixels, or the reverse). Reads and writes only those.
template <class Arch>
void transpose(const float* src, int64_t src_ld, int64_t rows, int64_t cols, float* dst, int64_t dst_ld) {
  constexpr int64_t W = int64_t(vf<Arch>::size);
  int64_t i0 = 0;
  // 2 to kMaxRowGroup rows into contiguous pixel-major rows (NCHW -> NHWC of a few channels):
  // whole vectors interleaved in registers, where the scalar loop at the end stored one float at
  // a time (2 images of 1 -> 3 channels, 512x512 output, through NCHW copies: the transposes
  // were 5x direct's own time).
  if (rows == 1 && dst_ld == 1) {  // one channel: the same floats in either layout
    std::copy(src, src + cols, dst);
    return;
  }
  if (rows >= 2 && rows <= kMaxRowGroup && dst_ld == rows) {
    int64_t j0 = 0;
    for (; j0 + W <= cols; j0 += W) {
      if (rows == 2) interleave_rows_block<Arch, 2>(src, src_ld, j0, dst);
      else if (rows == 3) interleave_rows_block<Arch, 3>(src, src_ld, j0, dst);
      else interleave_rows_block<Arch, 4>(src, src_ld, j0, dst);
    }
    for (; j0 < cols; ++j0)
      for (int64_t i = 0; i < rows; ++i) dst[j0 * rows + i] = src[i * src_ld + j0];
    return;
  }
  // Blocks of W rows and W columns; a matrix of at least W rows (columns) but not a multiple of
  // W takes one more block ending at its last row (column), overlapping the one before (whose
  // floats it writes again, equal), where the rest went float by float: the NCHW output rows of
  // a through-NHWC plan, transposed as each is finished, are often a few floats past a multiple of W.
  const int64_t full_rows = rows / W * W, full_cols = cols / W * W;
  const bool last_row_block = rows >= W && full_rows < rows, last_col_block = cols >= W && full_cols < cols;
  const int64_t block_rows = last_row_block ? rows : full_rows;  // rows the blocks cover
  auto block = [&](int64_t i, int64_t j) { transpose_block<Arch>(src + i * src_ld + j, src_ld, dst + j * dst_ld + i, dst_ld); };
  // The columns past the blocks, of the rows they cover; then the rows past them, every column.
  auto scalar_edges = [&]() {
    for (int64_t j = last_col_block ? cols : full_cols; j < cols; ++j)
      for (int64_t i = 0; i < block_rows; ++i) dst[j * dst_ld + i] = src[i * src_ld + j];
    for (int64_t i = block_rows; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j) dst[j * dst_ld + i] = src[i * src_ld + j];
  };
  // Destination rows far apart (NHWC -> NCHW outputs: one channel plane from the next) would
  // each get W floats at a time while `cols` rows compete for the same cache sets; walking each
  // group of W destination rows to its end writes whole lines instead (linknet_up through NHWC,
  // 1 thread: 5.3 -> 5.0 ms).
  if (dst_ld > 4096 && cols >= W) {
    auto column_group = [&](int64_t j0) {
      for (i0 = 0; i0 < full_rows; i0 += W) block(i0, j0);
      if (last_row_block) block(rows - W, j0);
    };
    for (int64_t j0 = 0; j0 < full_cols; j0 += W) column_group(j0);
    if (last_col_block) column_group(cols - W);
    scalar_edges();
    return;
  }
  auto row_group = [&](int64_t r0) {
    for (int64_t j0 = 0; j0 < full_cols; j0 += W) block(r0, j0);
    if (last_col_block) block(r0, cols - W);
  };
  for (i0 = 0; i0 < full_rows; i0 += W) row_group(i0);
  if (last_row_block) row_group(rows - W);
  scalar_edges();
}

// One ISA's table. MR/NV and the cache blocking come from the including translation unit.
template <class Arch, int MR, int NV>
KernelTable make_table(Isa isa, const char* isa_name, const char* gemm_name, int64_t k_max,
                       int64_t pack_a_floats, int64_t direct_a_max_panels,
                       const KernelTable* short_tile = nullptr, const KernelTable* grouped_tile = nullptr,
                       const KernelTable* half_width = nullptr) {
  return KernelTable{isa,
                     isa_name,
                     &gemm_ukernel<Arch, MR, NV>,
                     &gemm_ukernel<Arch, MR, NV, Streamed::a>,
                     &gemm_ukernel<Arch, MR, NV, Streamed::b>,
                     &gemm_ukernel_across<Arch, MR, NV, false>,
                     &gemm_ukernel_across<Arch, MR, NV, true>,
                     &gemm_ukernel_direct_a<Arch, MR, NV>,
                     gemm_name,
                     MR,
                     NV * int(vf<Arch>::size),
                     &gemm_ukernel_narrow<Arch, MR>,
                     &gemm_ukernel_direct_a_narrow<Arch, MR, NV>,
                     int(vf<Arch>::size),
                     kVectorRegisters<Arch>,
                     k_max,
                     pack_a_floats,
                     direct_a_max_panels,
                     &pack<Arch>,
                     &row_fma<Arch>,
                     &row_fma_zip<Arch>,
                     &vec_mat<Arch>,
                     &chan_fma<Arch>,
                     &taps_runs<Arch, false>,
                     &taps_runs<Arch, true>,
                     // Tap sums only where FMAs take their broadcast weight as an operand: AVX2's
                     // separate broadcast loads left them load-bound (TCONV_ISA=avx2 on Zen 4,
                     // 52 thin layers: geometric mean 1.0x of the other forms, some 2x-3x slower).
                     tap_sums_kernel<Arch>(),
                     &add_rows<Arch>,
                     &epilogue_run<Arch>,
                     &zip_store<Arch>,
                     &interleave_phase_rows<Arch>,
                     &pad_rows<Arch>,
                     &transpose<Arch>,
                     short_tile,
                     grouped_tile,
                     half_width};
}

}  // namespace tconv::detail::TCONV_ISA_NAMESPACE
