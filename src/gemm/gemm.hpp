// The packed GEMM engine shared by every GEMM-based strategy (BLIS/Goto loops around the per-ISA
// micro-kernel). Operands are described by offset tables, so one engine serves plain matrices,
// implicit-GEMM gathers straight from the input tensor, and weights packed at plan creation.
//
//   C[m][n] (+)= sum over k in K-ranges of A[m][k] * B[k][n]      (then bias + activation)
//
// A gathered operand reads element (outer o, inner k) at src[outer_off[o] + inner_off[k]]
// (outer = m for A, n for B). A prepacked operand holds micro-panels [panel][K][R] (R = MR for A,
// NR for B) built by KernelTable::pack over its whole K; any K sub-range is addressable in place.
// C element (m, n) lives at c + c_row_off[m] + c_col_off[n].
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "dispatch/kernel_table.hpp"

namespace tconv::detail {

struct Operand {
  const float* packed = nullptr;  // prepacked panels, or null for a gather
  int64_t packed_k = 0;           // K of the prepacked panels
  const float* src = nullptr;     // gather source
  const int64_t* outer_off = nullptr;
  const int64_t* inner_off = nullptr;
  // Floats readable from src (0: only the named elements). A gathered B panel of consecutive
  // pixels narrower than the tile is then read in place when the kernel's full-width loads stay
  // inside this extent: the lanes past the panel read neighbouring floats and are never stored.
  int64_t src_extent = 0;
};

struct KRange {
  int64_t begin, end;
};

// At most this many micro-kernel segments when an operand is read in place (runs of evenly
// stepped k), and at most this many K pieces in one pass.
constexpr int64_t kMaxRuns = 64, kMaxSegments = 16;

// A run of a pass's piece: `offset` k into piece `piece`, which is k index `k` of the operand,
// inner offsets `step` apart (the length is kept in its own array, which the kernel takes).
struct Run {
  int64_t piece, offset, k, step;
};

// gemm_block's split of a gathered operand's K into runs, kept from one call to the next with
// the same K-ranges and offset tables (a region's pixels, one row per call: working it out again
// was a tenth of dcgan_g5's time). Owned by the caller, who keeps the tables it saw unchanged
// while it is in use; a fresh one holds nothing.
struct GemmRunMemo {
  const int64_t* inner_off = nullptr;
  int64_t max_step = 0, piece_count = -1;
  KRange piece[kMaxSegments];
  bool ok = false;
  int64_t count = 0;
  Run runs[kMaxRuns];
  int64_t length[kMaxRuns];
};

struct GemmBlock {
  int64_t m0 = 0, m_count = 0;  // m0 a multiple of MR when A is prepacked
  int64_t n0 = 0, n_count = 0;  // n0 a multiple of NR when B is prepacked
  const KRange* k_ranges = nullptr;
  int64_t k_range_count = 0;
  Operand a, b;
  float* c = nullptr;
  const int64_t* c_row_off = nullptr;  // indexed by absolute m
  const int64_t* c_col_off = nullptr;  // indexed by absolute n
  bool accumulate = false;             // add to C instead of overwriting it
  const float* bias_row = nullptr;     // indexed by absolute m
  const float* bias_col = nullptr;     // indexed by absolute n
  const Epilogue* epilogue = nullptr;  // null: store the plain product
  GemmRunMemo* run_memo = nullptr;     // optional, see GemmRunMemo
  // No other thread writes C's rows during the call, so the floats between strided columns
  // (other phases' outputs) may be read and rewritten unchanged (TileStore::gaps_writable).
  bool c_rows_private = false;
  // C is far beyond the caches (the caller's output, tens of megabytes): passes of K up to this
  // prefetch, in each tile, the lines it will store for the next panel (see run_pass); 0: never.
  int64_t prefetch_c_max_k = 0;
};

// The orientation every strategy uses. channels_on_m (NCHW): output channels [c0, c0 + c_count)
// are rows of C and the weights the prepacked A; otherwise (NHWC) they are columns and the
// weights the prepacked B. Either way the micro-kernel's vector stores run along the output's
// contiguous dimension. channel_off / bias are indexed by channel, pixel_off by pixel.
void orient(GemmBlock& blk, bool channels_on_m, const Operand& weights, const Operand& pixels,
            int64_t c0, int64_t c_count, int64_t pixel_count, const int64_t* channel_off,
            const int64_t* pixel_off, const float* bias);

// Floats of pack buffer one thread needs for gemm_block().
size_t gemm_pack_floats(const KernelTable& kt);

// Whether gemm_block() reads a gathered B in place (no packing) whatever the distance between
// its k rows, for a block of `m_count` rows of A: at most two tiles of them reuse each panel.
// (It still needs each panel's pixels consecutive.)
bool gemm_reads_far_b_in_place(int64_t m_count, const KernelTable& kt);

// Columns of a gathered B that run as one group of panels against a prepacked A too big for L2
// (reduction k): each group reads all of A once, so a block of fewer columns reads it as often.
int64_t gemm_streamed_a_group_columns(int64_t k, const KernelTable& kt);

// Computes one C block on the calling thread. `pack` holds gemm_pack_floats() floats, 64-byte
// aligned. Summation order depends only on the block and the K-ranges, never on threading.
void gemm_block(const GemmBlock& block, const KernelTable& kt, float* pack);

// The whole block on `threads` threads: tasks are tiles of C, never a split of K, so every element is summed in the same order for any thread count. `pack` holds
// gemm_pack_floats() floats per thread, thread t's at pack + t * gemm_pack_floats().
void gemm_parallel(const GemmBlock& block, const KernelTable& kt, float* pack, int threads);

// Packing (KernelTable::pack, per ISA): outer rows [0, outer_count) x inner [0, k) of a gathered
// operand into micro-panels of R: dst[p][kk][r] = src[outer_off[p*R + r] + inner_off[kk]], zero
// past outer_count. dst holds ceil(outer_count / R) * R * k floats. Reads only named elements.

// Offsets 0, step, 2*step, ... (n of them): the table of a plain strided dimension.
std::vector<int64_t> strided_offsets(int64_t n, int64_t step, int64_t start = 0);

inline int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

}  // namespace tconv::detail
