// The GEMM driver: K-ranges grouped into passes that stay in registers, packed panels of B
// reused across every A panel, micro-tiles of MR x NR.
#include "gemm/gemm.hpp"

#include <algorithm>
#include <limits>

#include "epilogue/epilogue.hpp"
#include "threading/parallel.hpp"

namespace tconv::detail {
namespace {

// The most rows of any tile (the narrow tile's 2 * MR).
constexpr int64_t kMaxTileRows = 32;

// A pass: K pieces (each inside one K-range) whose total fits the packing budget.
struct Pass {
  KRange piece[kMaxSegments];
  int64_t length[kMaxSegments];
  int64_t offset[kMaxSegments];  // where each piece starts in the packed K of the pass
  int64_t count = 0;
  int64_t k = 0;
};

// Floats between the first and the last k row a gathered operand reads in this pass.
int64_t k_row_span(const Operand& op, const Pass& pass) {
  int64_t lo = INT64_MAX, hi = INT64_MIN;
  for (int64_t s = 0; s < pass.count; ++s)
    for (int64_t k = pass.piece[s].begin; k < pass.piece[s].end; ++k) {
      lo = std::min(lo, op.inner_off[k]);
      hi = std::max(hi, op.inner_off[k]);
    }
  return pass.count > 0 && hi >= lo ? hi - lo : 0;
}

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

// Packs rows [o0, o0 + count) of a gathered operand over the pass's K into micro-panels of R,
// each [pass.k][R], the pieces one after another.
void pack_pass(const KernelTable& kt, const Operand& op, int64_t o0, int64_t count, const Pass& pass,
               int64_t r, float* dst) {
  if (pass.count == 1) {  // the panels' layout is kt.pack's own: one call packs them all
    kt.pack(op.src, op.outer_off + o0, count, op.inner_off + pass.piece[0].begin, pass.length[0], r, dst);
    return;
  }
  for (int64_t p = 0; p * r < count; ++p) {
    for (int64_t s = 0; s < pass.count; ++s) {
      kt.pack(op.src, op.outer_off + o0 + p * r, std::min(r, count - p * r), op.inner_off + pass.piece[s].begin,
              pass.length[s], r, dst + p * pass.k * r + pass.offset[s] * r);
    }
  }
}

// Micro-panel pointers of panel `p` for each piece: in the pass's packed copy, or in place in a
// prepacked operand (whose panels hold its whole K).
void panel_pointers(const Operand& op, const float* packed_copy, int64_t p, const Pass& pass, int64_t r,
                    const float** out) {
  for (int64_t s = 0; s < pass.count; ++s) {
    out[s] = op.packed ? op.packed + p * op.packed_k * r + pass.piece[s].begin * r
                       : packed_copy + p * pass.k * r + pass.offset[s] * r;
  }
}

// Splits the pass's pieces of a gathered operand into runs of k whose inner offsets step evenly
// by 1..max_step floats; false when some run steps otherwise or there are more than kMaxRuns.
bool split_runs_uncached(const Pass& pass, const int64_t* inner_off, int64_t max_step, Run* runs, int64_t* length,
                         int64_t& count) {
  count = 0;
  for (int64_t s = 0; s < pass.count; ++s) {
    const int64_t* in = inner_off + pass.piece[s].begin;
    for (int64_t t = 0; t < pass.length[s];) {
      const int64_t step = t + 1 < pass.length[s] ? in[t + 1] - in[t] : 1;
      int64_t u = t + 1;
      while (u < pass.length[s] && in[u] - in[u - 1] == step) ++u;
      if (count == kMaxRuns || step <= 0 || step > max_step) return false;
      runs[count] = {s, t, pass.piece[s].begin + t, step};
      length[count++] = u - t;
      t = u;
    }
  }
  return true;
}

// split_runs_uncached, or what `memo` (if any) kept from the same question last time.
bool split_runs(const Pass& pass, const int64_t* inner_off, int64_t max_step, Run* runs, int64_t* length,
                int64_t& count, GemmRunMemo* memo) {
  if (!memo) return split_runs_uncached(pass, inner_off, max_step, runs, length, count);
  bool same = memo->inner_off == inner_off && memo->max_step == max_step && memo->piece_count == pass.count;
  for (int64_t s = 0; same && s < pass.count; ++s) {
    same = memo->piece[s].begin == pass.piece[s].begin && memo->piece[s].end == pass.piece[s].end;
  }
  if (!same) {
    memo->ok = split_runs_uncached(pass, inner_off, max_step, memo->runs, memo->length, memo->count);
    memo->inner_off = inner_off;
    memo->max_step = max_step;
    memo->piece_count = pass.count;
    std::copy(pass.piece, pass.piece + pass.count, memo->piece);
  }
  count = memo->count;
  std::copy(memo->runs, memo->runs + count, runs);
  std::copy(memo->length, memo->length + count, length);
  return memo->ok;
}

constexpr int64_t kMaxGroupPanels = 8, kGroupFloats = 128 << 10;

// B panels of `pass_k` rows per group against an A streamed from beyond L2 (run_pass).
int64_t streamed_a_group_panels(int64_t pass_k, const KernelTable& kt) {
  const int64_t panel_floats = std::max<int64_t>(pass_k, 1) * kt.nr;
  return std::clamp<int64_t>(std::min<int64_t>(kGroupFloats, int64_t(gemm_pack_floats(kt))) / panel_floats, 1, kMaxGroupPanels);
}

// How a micro-tile gets its operands: both from packed micro-panels, B read in place along
// runs, or A read in place along runs (B packed).
enum class TileMode { packed, b_in_place, a_in_place };

void run_pass(const GemmBlock& blk, const KernelTable& kt, float* pack, const Pass& pass, bool accumulate,
              bool finish, const Epilogue& epilogue) {
  const int64_t MR = kt.mr, NR = kt.nr;
  float* pack_b = pack;                      // one B micro-panel: pass.k x NR
  float* pack_a = pack + kt.k_max * kt.nr;   // a block of A micro-panels
  const int64_t mc_max = blk.a.packed ? blk.m_count : std::max(MR, kt.pack_a_floats / pass.k / MR * MR);
  const float* a_ptr[kMaxSegments];
  const float* b_ptr[kMaxRuns];
  int64_t b_step[kMaxRuns];
  // A gathered B is read in place, without packing, for panels of consecutive pixels when
  // packing would not pay: few A rows reuse each panel, and its k rows are close enough (within
  // a few pages) for the prefetchers and the TLB. Measured: dcgan_g5 1.8x faster, while
  // unet_up4 (K rows 150 KiB apart, 9 tiles per panel) is faster packed. The kernel then
  // reads each piece as runs of evenly stepped k (NCHW: one tap's channels, a plane apart),
  // one segment per run.
  constexpr int64_t kInPlaceMaxRows = 56, kInPlaceMaxStep = 4096;  // 56: four 14-row tiles
  Run runs[kMaxRuns];
  int64_t run_count = 0, run_length[kMaxRuns];
  // With at most two tiles of A rows per panel, packing costs more than it saves even where
  // the k rows lie far apart (NCHW: one input plane per channel, 51 KiB at 113x113): the first
  // tile reads B from L2 either way, packing then writes and re-reads it. 82 NCHW layers of the
  // tune sets (random, diverse, thin), subpixel, 1 thread, best of 2 alternating runs: 0.94x the
  // time (1 image of 64 -> 1 channel, 166x249, k3 s2: 7.2 -> 2.2 ms; 1 image of 32 -> 16,
  // 256x256, k3 s1: 8.8 -> 6.4), none slower beyond noise.
  const int64_t in_place_max_step =
      gemm_reads_far_b_in_place(blk.m_count, kt) ? std::numeric_limits<int64_t>::max() : kInPlaceMaxStep;
  const bool b_in_place_possible = !blk.b.packed && blk.m_count <= kInPlaceMaxRows &&
                             split_runs(pass, blk.b.inner_off, in_place_max_step, runs, run_length, run_count, blk.run_memo) &&
                             run_count * 8 <= pass.k;  // runs long enough to pay
  // A gathered A (NHWC pixels) is read in place when few B panels reuse it (the ISA's
  // direct_a_max_panels): packing would read, write and re-read each value for few uses. Its
  // runs must be contiguous (one tap's channels), each tile row a pointer per run, and of 3
  // floats on average at least: with 3 to 7 input channels per group, packing gathered each
  // float on its own and took as long as the tile (NHWC, 1 image of 3 -> 16 channels, 256x256,
  // k3 s2: 3.8 -> 2.4 ms at 1 thread, 16 layers of 3-7 Cin/g: 0.84x / 0.87x at 1 / 2 threads).
  constexpr int64_t kMinRunFloats = 3;
  // B (prepacked weights) at most one vector wide (NHWC, at most 16 output channels per group
  // on AVX-512): the narrow tile, twice the rows on one vector, instead of a wide tile half
  // padding. 39 such NHWC layers of the tune data, subpixel: 0.63x / 0.64x the time at 1 / 2
  // threads (2 images of 3 -> 16 channels, 256x256, k3 s1: 3.04 -> 1.93 ms at 1 thread).
  const bool narrow_b = blk.b.packed && blk.n_count <= kt.narrow_nr;
  const int64_t direct_rows = narrow_b ? 2 * MR : MR;
  const bool a_in_place = !blk.a.packed && blk.b.packed && (blk.n_count + NR - 1) / NR <= std::min(kt.direct_a_max_panels, kMaxRuns) &&
                          direct_rows <= kMaxTileRows && split_runs(pass, blk.a.inner_off, 1, runs, run_length, run_count, blk.run_memo) &&
                          run_count * kMinRunFloats <= pass.k;
  const float* a_run[kMaxRuns * kMaxTileRows];
  // A prepacked and too big to stay in L2 while one B panel runs over all of it (square 2048:
  // 16 MiB, read from L3 or memory once per panel): each A tile runs against a group of B
  // panels (below) on the kernel that prefetches A.
  constexpr int64_t kCachedFloats = 64 << 10;
  const bool b_gathered = blk.a.packed && !blk.b.packed;
  const bool a_tiles_outer = b_gathered && blk.m_count * pass.k > kCachedFloats;
  // B prepacked (NHWC weights) and as big: every A block streams all of it from L3 again.
  const bool b_streamed = !blk.a.packed && blk.b.packed && blk.n_count * pass.k > kCachedFloats;
  const GemmUkernel gemm_packed = a_tiles_outer ? kt.gemm_streamed_a : b_streamed ? kt.gemm_streamed_b : kt.gemm;
  // The output columns of B panel `jr` (narrow: narrow_nr wide): contiguous, or `phase_stride`
  // (2 to kMaxRowGroup) apart, one of that many interleaved W phases (0: neither, or a
  // bias per column, which the interleaving stores do not take).
  struct Columns {
    int64_t n, nr;
    bool contiguous;
    int64_t phase_stride;
  };
  auto columns_of = [&](int64_t jr, bool narrow) {
    const int64_t n = blk.n0 + jr, nr = std::min(narrow ? kt.narrow_nr : NR, blk.n_count - jr);
    const int64_t* col = blk.c_col_off + n;
    Columns c{n, nr, true, 0};
    for (int64_t j = 1; c.contiguous && j < nr; ++j) c.contiguous = col[j] == col[0] + j;
    if (!c.contiguous && !blk.bias_col) {
      c.phase_stride = col[1] - col[0];
      if (c.phase_stride < 2 || c.phase_stride > kMaxRowGroup) c.phase_stride = 0;
      for (int64_t j = 2; c.phase_stride && j < nr; ++j)
        if (col[j] != col[0] + c.phase_stride * j) c.phase_stride = 0;
    }
    return c;
  };
  // With a short reduction a tile is mostly its stores, and where C is far beyond the caches
  // each stored line waits on memory: too many rows (channels) advance a few lines per panel for
  // the prefetchers to follow. Each tile then prefetches the lines its rows store for the next
  // panel, a whole column of tiles ahead. NCHW subpixel, best of 5 alternating runs, 1 / 2
  // threads: 16 images of 1 -> 64 channels, 72x108, k4 s2 (127 MB of output) 19.6 / 10.2 ->
  // 16.2 / 8.4 ms; 1 -> 64, 256x256, k2 s2 (67 MB) 8.5 / 4.1 -> 6.0 / 2.8. (With C in cache the
  // prefetches cost up to 6%.) The caller knows where C lives and bounds K: prefetch_c_max_k.
  const bool prefetch_output = finish && pass.k <= blk.prefetch_c_max_k;
  auto tile_store = [&](int64_t m, int64_t n, bool contiguous, int rows_interleaved, bool col_stride2) {
    return TileStore{blk.c,
                     blk.c_row_off + m,
                     blk.c_col_off + n,
                     contiguous,
                     rows_interleaved,
                     col_stride2,
                     blk.c_rows_private,
                     accumulate,
                     finish,
                     blk.bias_row ? blk.bias_row + m : nullptr,
                     blk.bias_col ? blk.bias_col + n : nullptr,
                     &epilogue};
  };
  // One micro-tile column: B panel `jr` against rows [ic, ic + mc) of A. A narrow panel (B
  // packed narrow_nr wide, or the first narrow_nr columns of a prepacked one) runs on the narrow
  // tile, 2 * MR rows at a time.
  auto tile_column = [&](const Columns& cols, int64_t ic, int64_t mc, bool narrow, TileMode mode) {
    const int64_t tile_mr = narrow ? 2 * MR : MR;
    const int64_t nr = cols.nr, n = cols.n;
    const int64_t* col = blk.c_col_off + n;
    const bool contiguous = cols.contiguous;
    const int64_t phase_stride = cols.phase_stride;
    // The next panel's output span in each row (empty when there is none or it is scattered).
    int64_t next_lo = 0, next_hi = -1;
    if (prefetch_output && n + nr < blk.n0 + blk.n_count) {
      const int64_t next_nr = std::min(NR, blk.n0 + blk.n_count - n - nr);
      next_lo = col[nr];
      next_hi = col[nr + next_nr - 1];
      if (next_hi < next_lo || next_hi - next_lo > 4 * NR) next_hi = -1;
    }
    for (int64_t ir = 0; ir < mc; ir += tile_mr) {
      const int64_t m = blk.m0 + ic + ir, mr = std::min(tile_mr, mc - ir);
      for (int64_t i = 0; next_hi >= next_lo && i < mr; ++i) {
        const float* row = blk.c + blk.c_row_off[m + i];
        for (int64_t f = next_lo; f <= next_hi + 15; f += 16) __builtin_prefetch(row + std::min(f, next_hi), 1, 3);
      }
      if (mode != TileMode::a_in_place) {  // (in place: a_run holds the tile's row pointers already)
        panel_pointers(blk.a, pack_a, blk.a.packed ? m / MR : ir / MR, pass, MR, a_ptr);
        for (int64_t q = 0; mode == TileMode::b_in_place && q < run_count; ++q) {
          a_run[q] = a_ptr[runs[q].piece] + runs[q].offset * MR;
        }
      }
      const bool by_runs = mode != TileMode::packed;
      const int64_t segments = by_runs ? run_count : pass.count;
      const int64_t* lengths = by_runs ? run_length : pass.length;
      const float* const* a_seg = by_runs ? a_run : a_ptr;
      // Rows in groups of phase_stride neighbouring outputs: the W phases stacked as rows.
      bool groups = phase_stride > 0 && mr % phase_stride == 0;
      for (int64_t i = 0; groups && i < mr; i += phase_stride)
        for (int64_t r = 1; groups && r < phase_stride; ++r) groups = blk.c_row_off[m + i + r] == blk.c_row_off[m + i] + r;
      const TileStore store = tile_store(m, n, contiguous, groups ? int(phase_stride) : 1, phase_stride == 2);
      if (mode == TileMode::a_in_place) {
        (narrow ? kt.gemm_direct_a_narrow : kt.gemm_direct_a)(segments, lengths, a_seg, b_ptr, mr, nr, store);
      } else if (narrow) {
        const int64_t a_panel_stride = mr <= MR ? 0 : (blk.a.packed ? blk.a.packed_k : pass.k) * MR;
        kt.gemm_narrow(segments, lengths, a_seg, a_panel_stride, b_ptr, b_step, mr, nr, store);
      } else {
        gemm_packed(segments, lengths, a_seg, b_ptr, b_step, mr, nr, store);
      }
    }
  };
  // The last mr rows of a block, B prepacked: up to across_panels() panels at a time from panel
  // jr on, as many as exist with consecutive columns (NHWC channels of one phase). Returns the
  // columns done, 0 when fewer than two panels qualify (the caller runs panel jr alone).
  // (b_ptr: panel jr's segments.) tfgan_2 NHWC (regions 1-3 pixels wide: tiles of 6 + 2 rows),
  // Zen 2 AVX2, plans for 2 threads: a quarter of the time was in 2-row tiles at 4 FMAs in
  // flight. Not for a short reduction, where a tile is mostly its stores and the driver's work:
  // 1 image of 48 -> 128 channels, 3x48, k2 s2 (K 48) and three layers of K 12-24 ran 2-4% slower.
  constexpr int64_t kAcrossMinK = 64;
  const bool across = !narrow_b && blk.b.packed && pass.k >= kAcrossMinK;
  const int64_t b_panel_stride = blk.b.packed_k * NR;
  auto panels_across = [&](int64_t mr) { return across_panels(MR, NR / kt.narrow_nr, kt.vector_registers, mr); };
  auto rows_across = [&](int64_t m, int64_t mr, int64_t jr, const float* const* a_seg, int64_t segments,
                         const int64_t* lengths, bool a_is_in_place) -> int64_t {
    if (!across || jr + NR >= blk.n_count) return 0;
    const int64_t n = blk.n0 + jr, most = std::min(panels_across(mr) * NR, blk.n_count - jr);
    const int64_t* col = blk.c_col_off + n;
    int64_t nr = 1;
    while (nr < most && col[nr] == col[0] + nr) ++nr;
    if (nr < most) nr -= nr % NR;  // whole panels, unless the last reaches the block's end
    if (nr <= NR) return 0;
    const TileStore store = tile_store(m, n, true, 1, false);
    (a_is_in_place ? kt.gemm_direct_a_across : kt.gemm_across)(segments, lengths, a_seg, b_ptr, b_panel_stride, mr, nr,
                                                               store);
    return nr;
  };
  if (a_in_place) {
    // Tile rows outer, so a tile's A rows are still in L1 for the next B panels; their row
    // pointers, and each panel's output columns, are worked out once for all of them.
    Columns panel_columns[kMaxRuns];
    const int64_t panels = (blk.n_count + NR - 1) / NR;
    for (int64_t p = 0; p < panels; ++p) panel_columns[p] = columns_of(p * NR, narrow_b);
    for (int64_t ic = 0; ic < blk.m_count; ic += direct_rows) {
      const int64_t mc = std::min(direct_rows, blk.m_count - ic);
      for (int64_t q = 0; q < run_count; ++q) {
        const float* run = blk.a.src + blk.a.inner_off[runs[q].k];
        for (int64_t i = 0; i < mc; ++i) a_run[q * direct_rows + i] = run + blk.a.outer_off[blk.m0 + ic + i];
      }
      for (int64_t jr = 0; jr < blk.n_count;) {
        const float* panel = blk.b.packed + (blk.n0 + jr) / NR * blk.b.packed_k * NR;
        for (int64_t q = 0; q < run_count; ++q) b_ptr[q] = panel + runs[q].k * NR;
        if (across && mc < MR) {
          const int64_t done = rows_across(blk.m0 + ic, mc, jr, a_run, run_count, run_length, true);
          if (done > 0) {
            jr += done;
            continue;
          }
        }
        tile_column(panel_columns[jr / NR], ic, mc, narrow_b, TileMode::a_in_place);
        jr += NR;
      }
    }
    return;
  }
  if (!blk.a.packed && blk.b.packed) {
    // Gathered A (pixels in NHWC): pack a block of A once, run it against every B panel.
    for (int64_t ic = 0; ic < blk.m_count; ic += mc_max) {
      const int64_t mc = std::min(mc_max, blk.m_count - ic);
      pack_pass(kt, blk.a, blk.m0 + ic, mc, pass, MR, pack_a);
      // The block's last rows, fewer than a tile, run across a group of panels where they can,
      // before the group's whole tiles.
      const int64_t rest = across && panels_across(mc % MR) > 1 ? mc % MR : 0;
      for (int64_t jr = 0; jr < blk.n_count;) {
        int64_t group_end = jr + NR, rows = mc;
        if (rest > 0) {
          panel_pointers(blk.a, pack_a, (mc - rest) / MR, pass, MR, a_ptr);
          panel_pointers(blk.b, pack_b, (blk.n0 + jr) / NR, pass, NR, b_ptr);
          const int64_t done = rows_across(blk.m0 + ic + mc - rest, rest, jr, a_ptr, pass.count, pass.length, false);
          if (done > 0) {
            group_end = jr + done;
            rows = mc - rest;
          }
        }
        for (; jr < group_end; jr += NR) {
          panel_pointers(blk.b, pack_b, (blk.n0 + jr) / NR, pass, NR, b_ptr);
          std::fill(b_step, b_step + pass.count, NR);
          tile_column(columns_of(jr, narrow_b), ic, rows, narrow_b, TileMode::packed);
        }
      }
    }
    return;
  }
  // Gathered B (pixels in NCHW) or both prepacked: pack one B panel right before the A panels
  // use it, so it is still in cache (a packed block of B would be written to and read back
  // from L2 or beyond).
  // A gathered panel of at most narrow_nr pixels (small regions) is packed narrow and runs on
  // the narrow tile instead of a mostly empty wide one.
  // Readies the panel at jr: read in place, or packed into `slot`; its segment pointers and
  // k steps go to ptr and step. Returns whether it is read in place.
  // `slot_filled`: the caller packed it into `slot` already.
  auto prepare_panel = [&](int64_t jr, int64_t count, bool narrow, float* slot, const float** ptr, int64_t* step,
                           bool slot_filled = false) {
    const int64_t r = narrow ? kt.narrow_nr : NR;
    const int64_t* oo = blk.b.outer_off + blk.n0 + jr;
    // In place: a panel of consecutive pixels, full or with the kernel's r-float loads inside
    // the source (a region row of 31 pixels: the 32nd lane reads the next input pixel).
    bool in_place = b_in_place_possible && !slot_filled;
    for (int64_t j = 1; in_place && j < count; ++j) in_place = oo[j] == oo[0] + j;
    for (int64_t q = 0; in_place && count < r && q < run_count; ++q) {
      in_place = oo[0] + blk.b.inner_off[runs[q].k + run_length[q] - 1] + r <= blk.b.src_extent;
    }
    if (in_place) {
      for (int64_t q = 0; q < run_count; ++q) {
        ptr[q] = blk.b.src + oo[0] + blk.b.inner_off[runs[q].k];
        step[q] = runs[q].step;
      }
    } else {
      if (!blk.b.packed && !slot_filled) pack_pass(kt, blk.b, blk.n0 + jr, count, pass, r, slot);
      panel_pointers(blk.b, slot, blk.b.packed ? (blk.n0 + jr) / NR : 0, pass, r, ptr);
      std::fill(step, step + pass.count, r);
    }
    return in_place;
  };
  // Panels of B run in groups in two cases, both with A prepacked and B gathered:
  // - A too big to stay in L2 while one B panel runs over all of it (square 2048: 16 MiB, read
  //   from memory once per panel): each A tile runs against the whole group, so A is read once
  //   per group. The group's packed panels fill the pack buffer (its A part is idle with A
  //   prepacked) up to about half of L2.
  // - B's k rows many and spread over megabytes (NCHW: one big input plane per channel):
  //   packing one panel reads NR floats from each of K rows on as many pages, more streams than
  //   the prefetchers follow and more pages than the TLB holds, so the pack waits on memory.
  //   The group is packed in one go, each row read in longer runs, and then runs panel by
  //   panel; kStreamedGroupFloats (an L1 data cache) keeps it cached. Zen 3 AVX2, `tconv bench`
  //   (NCHW, 1 / 2 threads, best of 2 runs): unet_up4 (K = 128 planes 150 KiB apart) subpixel
  //   39.3 / 20.5 -> 34.7 / 17.8 ms, gemm_col2im 46.6 / 24.4 -> 42.9 / 22.4. Rows close
  //   together gain nothing: grouped_up (planes 4 KiB apart) was 4-6% slower this way.
  constexpr int64_t kManyStreams = 64, kStreamedGroupFloats = 8 << 10, kStreamedSpanFloats = 1 << 20;
  const int64_t panel_floats = pass.k * NR;
  const bool streamed = b_gathered && !a_tiles_outer && !b_in_place_possible && pass.k >= kManyStreams &&
                        blk.m_count > MR && k_row_span(blk.b, pass) >= kStreamedSpanFloats;
  const int64_t group_max =
      a_tiles_outer ? streamed_a_group_panels(pass.k, kt)
      : streamed    ? std::clamp<int64_t>(kStreamedGroupFloats / panel_floats, 1, kMaxGroupPanels)
                    : 1;
  struct GroupPanel {
    Columns cols;
    bool narrow, in_place;
    const float* ptr[kMaxRuns];
    int64_t step[kMaxRuns];
  };
  GroupPanel group[kMaxGroupPanels + 1];
  for (int64_t jr = 0; jr < blk.n_count;) {
    const int64_t count = std::min(NR, blk.n_count - jr);
    const bool narrow = !blk.b.packed && count <= kt.narrow_nr;
    if (group_max > 1 && !narrow) {
      int64_t panels = 0, columns = 0;
      while (panels < group_max && jr + columns < blk.n_count && std::min(NR, blk.n_count - jr - columns) > kt.narrow_nr) {
        columns += std::min(NR, blk.n_count - jr - columns);  // (the narrow last panel runs on its own)
        ++panels;
      }
      // Packed in one go when nothing is read in place: each k row of B is then read once.
      const bool group_packed = !blk.b.packed && !b_in_place_possible;
      if (group_packed) pack_pass(kt, blk.b, blk.n0 + jr, columns, pass, NR, pack_b);
      for (int64_t p = 0; p < panels; ++p) {
        const int64_t cnt = std::min(NR, blk.n_count - jr);
        GroupPanel& g = group[p];
        g.narrow = false;
        g.in_place = prepare_panel(jr, cnt, false, pack_b + p * panel_floats, g.ptr, g.step, group_packed);
        g.cols = columns_of(jr, false);
        jr += cnt;
      }
      // A narrow last panel joins the group, packed after it: on its own it would stream all of
      // A from beyond L2 once more for a sliver of the work (unet_up1 NCHW: blocks of 112
      // pixels, three wide panels and a narrow one, against 2 MiB of A).
      const int64_t rest = blk.n_count - jr;
      if (!blk.b.packed && rest > 0 && rest <= kt.narrow_nr &&
          panels * panel_floats + pass.k * kt.narrow_nr <= int64_t(gemm_pack_floats(kt))) {
        GroupPanel& g = group[panels++];
        g.narrow = true;
        g.in_place = prepare_panel(jr, rest, true, pack_b + (panels - 1) * panel_floats, g.ptr, g.step);
        g.cols = columns_of(jr, true);
        jr += rest;
      }
      // Big A: each A tile against every panel; else each panel against all of A (mc_max).
      const int64_t rows_per_step = a_tiles_outer ? MR : mc_max;
      for (int64_t ic = 0; ic < blk.m_count; ic += rows_per_step) {
        const int64_t mc = std::min(rows_per_step, blk.m_count - ic);
        for (int64_t p = 0; p < panels; ++p) {
          const GroupPanel& g = group[p];
          const int64_t segments = g.in_place ? run_count : pass.count;
          std::copy(g.ptr, g.ptr + segments, b_ptr);
          std::copy(g.step, g.step + segments, b_step);
          tile_column(g.cols, ic, mc, g.narrow, g.in_place ? TileMode::b_in_place : TileMode::packed);
        }
      }
      continue;
    }
    const bool in_place = prepare_panel(jr, count, narrow, pack_b, b_ptr, b_step);
    const Columns cols = columns_of(jr, narrow);
    for (int64_t ic = 0; ic < blk.m_count; ic += mc_max) {
      const int64_t mc = std::min(mc_max, blk.m_count - ic);
      if (!blk.a.packed) pack_pass(kt, blk.a, blk.m0 + ic, mc, pass, MR, pack_a);  // both gathered: tests only
      tile_column(cols, ic, mc, narrow, in_place ? TileMode::b_in_place : TileMode::packed);
    }
    jr += count;
  }
}

}  // namespace

size_t gemm_pack_floats(const KernelTable& kt) { return size_t(kt.k_max * kt.nr + kt.pack_a_floats); }

bool gemm_reads_far_b_in_place(int64_t m_count, const KernelTable& kt) { return m_count <= 2 * int64_t(kt.mr); }

int64_t gemm_streamed_a_group_columns(int64_t k, const KernelTable& kt) {
  return streamed_a_group_panels(std::min(k, kt.k_max), kt) * kt.nr;
}

std::vector<int64_t> strided_offsets(int64_t n, int64_t step, int64_t start) {
  std::vector<int64_t> v(size_t(n < 0 ? 0 : n));
  for (int64_t i = 0; i < n; ++i) v[size_t(i)] = start + i * step;
  return v;
}

void gemm_block(const GemmBlock& blk, const KernelTable& kt, float* pack) {
  static const Epilogue kPlain{};
  const Epilogue& epilogue = blk.epilogue ? *blk.epilogue : kPlain;
  // Split the K-ranges into passes of at most k_max and kMaxSegments pieces; the pieces and so
  // the summation order depend only on the ranges, never on M, N or threading.
  Pass pass;
  bool first = true, any = false;
  auto flush = [&](bool last) {
    if (pass.count == 0) return;
    run_pass(blk, kt, pack, pass, blk.accumulate || !first, last, epilogue);
    first = false;
    pass = Pass{};
  };
  int64_t remaining = 0;
  for (int64_t r = 0; r < blk.k_range_count; ++r) remaining += std::max<int64_t>(0, blk.k_ranges[r].end - blk.k_ranges[r].begin);
  for (int64_t r = 0; r < blk.k_range_count; ++r) {
    for (int64_t kb = blk.k_ranges[r].begin; kb < blk.k_ranges[r].end;) {
      if (pass.count == kMaxSegments || pass.k == kt.k_max) flush(false);
      const int64_t len = std::min(blk.k_ranges[r].end - kb, kt.k_max - pass.k);
      pass.piece[pass.count] = {kb, kb + len};
      pass.length[pass.count] = len;
      pass.offset[pass.count] = pass.k;
      ++pass.count;
      pass.k += len;
      kb += len;
      remaining -= len;
      any = true;
      if (remaining == 0) flush(true);
    }
  }
  if (!any) store_bias_only(blk, epilogue);
}

void orient(GemmBlock& blk, bool channels_on_m, const Operand& weights, const Operand& pixels,
            int64_t c0, int64_t c_count, int64_t pixel_count, const int64_t* channel_off,
            const int64_t* pixel_off, const float* bias) {
  if (channels_on_m) {
    blk.m0 = c0;
    blk.m_count = c_count;
    blk.n0 = 0;
    blk.n_count = pixel_count;
    blk.a = weights;
    blk.b = pixels;
    blk.c_row_off = channel_off;
    blk.c_col_off = pixel_off;
    blk.bias_row = bias;
  } else {
    blk.m0 = 0;
    blk.m_count = pixel_count;
    blk.n0 = c0;
    blk.n_count = c_count;
    blk.a = pixels;
    blk.b = weights;
    blk.c_row_off = pixel_off;
    blk.c_col_off = channel_off;
    blk.bias_col = bias;
  }
}

void gemm_parallel(const GemmBlock& whole, const KernelTable& kt, float* pack, int threads) {
  // Any tiling gives the same sums (K is never split across tasks); tiles just balance threads.
  // A prepacked A is read in place, so a task takes all of M: each gathered B panel is then
  // packed once, not once per row tile (square 1024, 1 thread: 64 -> 88 GFLOP/s).
  const int64_t m_tile = whole.a.packed ? std::max<int64_t>(whole.m_count, 1) : 16 * kt.mr, n_tile = 8 * kt.nr;
  const int64_t m_tiles = (whole.m_count + m_tile - 1) / m_tile, n_tiles = (whole.n_count + n_tile - 1) / n_tile;
  const size_t stride = gemm_pack_floats(kt);
  parallel_for(threads, m_tiles * n_tiles, [&](int64_t t, int tid) {
    GemmBlock part = whole;
    const int64_t mi = t / n_tiles, ni = t % n_tiles;
    part.m0 = whole.m0 + mi * m_tile;
    part.m_count = std::min(m_tile, whole.m_count - mi * m_tile);
    part.n0 = whole.n0 + ni * n_tile;
    part.n_count = std::min(n_tile, whole.n_count - ni * n_tile);
    gemm_block(part, kt, pack + size_t(tid) * stride);
  });
}

}  // namespace tconv::detail
