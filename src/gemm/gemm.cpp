// The blocked GEMM driver: K-chunks of KC, M-blocks of MC, micro-tiles of MR x NR.
#include "gemm/gemm.hpp"

#include <algorithm>
#include <cstring>

#include "epilogue/epilogue.hpp"
#include "threading/parallel.hpp"

namespace tconv::detail {

size_t gemm_pack_floats(const KernelTable& kt) {
  return size_t(kt.kc * (round_up(kt.mc, kt.mr) + round_up(kt.nc, kt.nr)));
}

std::vector<int64_t> strided_offsets(int64_t n, int64_t step, int64_t start) {
  std::vector<int64_t> v(size_t(n < 0 ? 0 : n));
  for (int64_t i = 0; i < n; ++i) v[size_t(i)] = start + i * step;
  return v;
}

namespace {

// No K at all (a phase no tap reaches): C is bias and activation alone.
void store_bias_only(const GemmBlock& blk, const Epilogue& e) {
  for (int64_t m = blk.m0; m < blk.m0 + blk.m_count; ++m) {
    for (int64_t n = blk.n0; n < blk.n0 + blk.n_count; ++n) {
      float* dst = blk.c + blk.c_row_off[m] + blk.c_col_off[n];
      float v = blk.accumulate ? *dst : 0.0f;
      if (blk.bias_row) v += blk.bias_row[m];
      if (blk.bias_col) v += blk.bias_col[n];
      *dst = apply_activation(v, e);
    }
  }
}

}  // namespace

void gemm_block(const GemmBlock& whole, const KernelTable& kt, float* pack) {
  // Column chunks of NC: the packed B block of one chunk fits the pack buffer.
  const int64_t NC = round_up(kt.nc, kt.nr);
  if (whole.n_count > NC) {
    for (int64_t jc = 0; jc < whole.n_count; jc += NC) {
      GemmBlock part = whole;
      part.n0 = whole.n0 + jc;
      part.n_count = std::min(NC, whole.n_count - jc);
      gemm_block(part, kt, pack);
    }
    return;
  }
  const GemmBlock& blk = whole;
  static const Epilogue kPlain{};
  const Epilogue& epilogue = blk.epilogue ? *blk.epilogue : kPlain;
  const int64_t MR = kt.mr, NR = kt.nr, KC = kt.kc, MC = round_up(kt.mc, kt.mr);
  float* pack_b = pack;
  float* pack_a = pack + KC * round_up(kt.nc, NR);

  int64_t last_range = -1;
  for (int64_t r = 0; r < blk.k_range_count; ++r) {
    if (blk.k_ranges[r].end > blk.k_ranges[r].begin) last_range = r;
  }
  if (last_range < 0) {
    store_bias_only(blk, epilogue);
    return;
  }
  bool first = true;
  for (int64_t r = 0; r <= last_range; ++r) {
    const KRange range = blk.k_ranges[r];
    for (int64_t kb = range.begin; kb < range.end; kb += KC) {
      const int64_t kc = std::min(KC, range.end - kb);
      const bool last = r == last_range && kb + kc >= range.end;
      const float* bp;
      int64_t b_stride;
      if (blk.b.packed) {
        bp = blk.b.packed + (blk.n0 / NR) * blk.b.packed_k * NR + kb * NR;
        b_stride = blk.b.packed_k * NR;
      } else {
        kt.pack(blk.b.src, blk.b.outer_off + blk.n0, blk.n_count, blk.b.inner_off + kb, kc, NR, pack_b);
        bp = pack_b;
        b_stride = kc * NR;
      }
      for (int64_t ic = 0; ic < blk.m_count; ic += MC) {
        const int64_t mc = std::min(MC, blk.m_count - ic);
        const float* ap;
        int64_t a_stride;
        if (blk.a.packed) {
          ap = blk.a.packed + ((blk.m0 + ic) / MR) * blk.a.packed_k * MR + kb * MR;
          a_stride = blk.a.packed_k * MR;
        } else {
          kt.pack(blk.a.src, blk.a.outer_off + blk.m0 + ic, mc, blk.a.inner_off + kb, kc, MR, pack_a);
          ap = pack_a;
          a_stride = kc * MR;
        }
        for (int64_t jr = 0; jr < blk.n_count; jr += NR) {
          const int64_t nr = std::min(NR, blk.n_count - jr);
          const int64_t* col = blk.c_col_off + blk.n0 + jr;
          bool contiguous = true;
          for (int64_t j = 1; contiguous && j < nr; ++j) contiguous = col[j] == col[0] + j;
          for (int64_t ir = 0; ir < mc; ir += MR) {
            const int64_t m = blk.m0 + ic + ir, n = blk.n0 + jr;
            const TileStore store{blk.c,
                                  blk.c_row_off + m,
                                  blk.c_col_off + n,
                                  contiguous,
                                  blk.accumulate || !first,
                                  last,
                                  blk.bias_row ? blk.bias_row + m : nullptr,
                                  blk.bias_col ? blk.bias_col + n : nullptr,
                                  &epilogue};
            kt.gemm(kc, ap + (ir / MR) * a_stride, bp + (jr / NR) * b_stride, std::min(MR, mc - ir), nr, store);
          }
        }
      }
      first = false;
    }
  }
}

void gemm_parallel(const GemmBlock& whole, const KernelTable& kt, float* pack, int threads) {
  const int64_t MC = round_up(kt.mc, kt.mr), NC = round_up(kt.nc, kt.nr);
  const int64_t m_tiles = (whole.m_count + MC - 1) / MC, n_tiles = (whole.n_count + NC - 1) / NC;
  const size_t stride = gemm_pack_floats(kt);
  parallel_for(threads, m_tiles * n_tiles, [&](int64_t t, int tid) {
    GemmBlock part = whole;
    const int64_t mi = t / n_tiles, ni = t % n_tiles;
    part.m0 = whole.m0 + mi * MC;
    part.m_count = std::min(MC, whole.m_count - mi * MC);
    part.n0 = whole.n0 + ni * NC;
    part.n_count = std::min(NC, whole.n_count - ni * NC);
    gemm_block(part, kt, pack + size_t(tid) * stride);
  });
}

}  // namespace tconv::detail
