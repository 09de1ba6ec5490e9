// The per-ISA kernel table: what a plan resolves once at creation and calls through afterwards.
//
// GEMM micro-kernel contract (BLIS style, vectors along N):
//   C[0:mr, 0:nr] := (accumulate ? C : 0) + sum over segments s of A_s * B_s
//                    then, if finish: + bias, activation
// A_s is a packed micro-panel a_seg[s][k*MR + i] (k < kc[s], i < MR), B_s one packed micro-panel
// b_seg[s][k*NR + j]. All of K accumulates in registers, so C is read (when accumulating) and
// written exactly once. The kernel computes exactly mr rows (a body per row count) and never
// reads A rows >= mr; columns >= nr of the panels are zero padding it reads but never stores. C element (i, j) lives at c + row_off[i] + col_off[j]; the kernel
// writes exactly the mr x nr elements named that way and reads them only when accumulating.
// Every b_seg[s] is 64-byte aligned; kc[s] >= 0; 1 <= mr <= MR; 1 <= nr <= NR.
#pragma once

#include <cstdint>

#include "tconv/tconv.hpp"

namespace tconv::detail {

enum class Isa { sse2 = 0, avx2 = 1, avx512f = 2 };

// The most interleaved phases a tile store takes (TileStore::rows_interleaved).
constexpr int kMaxRowGroup = 4;

struct TileStore {
  float* c;
  const int64_t* row_off;
  const int64_t* col_off;
  bool col_contiguous;     // col_off[j] == col_off[0] + j for all j < nr
  // 1, or S (2 to kMaxRowGroup) when the rows come in groups of S interleaved output phases:
  // S divides mr, col_off[j] == col_off[0] + S*j, and for every i < mr a multiple of S,
  // row_off[i + r] == row_off[i] + r for r < S. Each group is stored as S * nr contiguous floats
  // (NCHW, W phases of stride S stacked as rows).
  int rows_interleaved;
  // col_off[j] == col_off[0] + 2j for all j < nr: one of two interleaved output phases, written
  // with masked vector stores where the ISA has them (the other phase's lanes untouched).
  bool col_stride2;
  // The floats between strided columns belong to the caller's other phases, which no other
  // thread writes meanwhile: ISAs without masked stores (AVX2) may then read and rewrite them
  // unchanged, to store every other column as whole vectors.
  bool gaps_writable;
  bool accumulate;         // add to what C holds
  bool finish;             // last K block: add bias, apply the activation
  const float* bias_row;   // bias_row[i] added to row i (may be null)
  const float* bias_col;   // bias_col[j] added to column j (may be null)
  const Epilogue* epilogue;
};

// b_step[s]: floats from one k row of segment s's B to the next (NR for a packed micro-panel;
// a plain row stride when B is read in place).
using GemmUkernel = void (*)(int64_t segments, const int64_t* kc, const float* const* a_seg,
                             const float* const* b_seg, const int64_t* b_step, int64_t mr,
                             int64_t nr, const TileStore& store);

// The tile with A in place: row i < mr of segment s is a_rows[s * MR + i][0 .. kc[s]); B
// micro-panels packed NR wide.
using GemmDirectAUkernel = void (*)(int64_t segments, const int64_t* kc, const float* const* a_rows,
                                    const float* const* b_seg, int64_t mr, int64_t nr, const TileStore& store);

// The last mr <= MR / 2 rows of a block (a region's pixel count is rarely a multiple of MR) across
// ceil(nr / NR) neighbouring B micro-panels packed NR wide, 2 to across_panels(MR, NR / narrow_nr,
// vector_registers, mr) of them, as one tile of nr columns: A packed (a[s][k*MR + i]) or, for the
// direct-A entry, read in place (a[s*MR + i][k]); B panel p of segment s at b_seg[s] + p *
// b_panel_stride, 64-byte aligned, k rows NR apart. Columns [0, nr) are stored; every panel is
// read whole.
using GemmAcrossUkernel = void (*)(int64_t segments, const int64_t* kc, const float* const* a,
                                   const float* const* b_seg, int64_t b_panel_stride, int64_t mr, int64_t nr,
                                   const TileStore& store);

// How many B panels GemmAcrossUkernel spans with mr rows of a tile of tile_rows x vectors: as
// many as keep its accumulators within the full tile's and, with the mr broadcast A values and
// one B vector, within the ISA's vector registers (else they spill: AVX-512, 7 rows x 2 panels),
// at most kMaxAcrossPanels; 1 means the plain tile.
constexpr int64_t kMaxAcrossPanels = 4;
constexpr int64_t across_panels(int64_t tile_rows, int64_t vectors, int64_t registers, int64_t mr) {
  if (mr < 1 || 2 * mr > tile_rows) return 1;
  int64_t panels = tile_rows / mr;
  if (panels > kMaxAcrossPanels) panels = kMaxAcrossPanels;
  if (panels * mr * vectors > registers - 1 - mr) panels = (registers - 1 - mr) / (mr * vectors);
  return panels < 1 ? 1 : panels;
}

// The narrow tile (2*MR x narrow_nr): A rows of two consecutive MR-row micro-panels, the second
// at a_seg[s] + a_panel_stride (read only when mr > MR; 0 otherwise); B micro-panels packed
// narrow_nr wide. For pixel panels too narrow for the wide tile.
using GemmNarrowUkernel = void (*)(int64_t segments, const int64_t* kc, const float* const* a_seg,
                                   int64_t a_panel_stride, const float* const* b_seg,
                                   const int64_t* b_step, int64_t mr, int64_t nr,
                                   const TileStore& store);

// Direct row kernel: acc[(r*channels + c)*ld + j] = sum_g sum_h w[(g*h_taps + h)*channels + c] *
// x[(r - h)*x_row_step + tap_offsets[g] + j] for r < rows, c < channels (1..4), j < n: a row
// segment of up to 4 output channels in each of `rows` output rows whose inputs lie x_row_step
// apart, all taps that reach it (see direct_scatter.cpp). Taps come in `groups` groups of h_taps
// H taps, tap h of a group reading the input row h rows above tap 0's (so one loaded input row
// serves several output rows). Reads x only at the named positions. accumulate: acc += the sums
// instead of acc = (a block of input channels at a time).
using RowFmaKernel = void (*)(float* acc, int64_t ld, int64_t channels, int64_t rows, int64_t n,
                              const float* x, int64_t x_row_step, const int64_t* tap_offsets,
                              const float* tap_weights, int64_t groups, int64_t h_taps, bool accumulate);

// The tap groups of one W phase for RowFmaZipKernel: as RowFmaKernel's off, w, groups, h_taps.
struct RowTaps {
  const int64_t* off;
  const float* w;
  int64_t groups, h_taps;
};

// RowFmaKernel for both W phases of stride 2 at once, stored straight into output rows with bias
// and activation: for r < rows, c < channels (1..4), q < n_first (resp. n_second),
//   out[c*out_c_step + r*out_r_step + 2q]     = act(first-phase sum at q + bias[c])
//   out[c*out_c_step + r*out_r_step + 2q + 1] = act(second-phase sum at q + bias[c])
// where "first" is the phase holding column 0 (n_first - n_second is 0 or 1) and each phase
// sum is RowFmaKernel's with that phase's taps over the same input x. Writes only those
// n_first + n_second floats of each output row.
using RowFmaZipKernel = void (*)(float* out, int64_t out_c_step, int64_t out_r_step, int64_t channels, int64_t rows,
                                 int64_t n_first, int64_t n_second, const float* x, int64_t x_row_step,
                                 const RowTaps& first, const RowTaps& second, const float* bias,
                                 const Epilogue& epilogue);

// Channel-vector kernel: acc[c] += sum_i x[i] * w[i*ldw + c] for c < cout, i < cin.
using VecMatKernel = void (*)(float* acc, const float* x, int64_t cin, const float* w,
                              int64_t ldw, int64_t cout);

// Channel-wise kernel over a run of output pixels that see the same taps: for p < pixels and
// c < n, out[p*out_step + c] = activation(bias[c] + sum_t x[p*x_step + x_off[t] + c] *
// w[w_off[t] + c]): depthwise taps, channels contiguous, and the epilogue.
using ChanFmaKernel = void (*)(float* out, int64_t out_step, int64_t pixels, int64_t n, const float* x,
                               int64_t x_step, const int64_t* x_off, const float* w, const int64_t* w_off,
                               int64_t taps, const float* bias, const Epilogue& epilogue);

// Few-channel dot products over a run of output pixels that see the same taps (dot_taps): for
// p < pixels, c < cout (1..4),
//   out[p*out_step + c] = sum_t sum_i x[p*x_step + x_off[t] + i] * w[w_off[t] + c*cin + i], i < cin:
// NHWC output pixels with few output channels as dot products along the input channels
// (contiguous in NHWC), every tap in one call.
// The same over lanes of images (lane_taps; L = the vector width in floats, one image per lane):
// for p < pixels, c < cout (1..4), l < L,
//   out[p*out_step + c*L + l] = sum_t sum_i x[p*x_step + x_off[t] + i*L + l] * w[w_off[t] + c*cin + i]:
// thin layers of a batch of at least L images, input staged as [pixel][channel][image]
// (direct_scatter's batch lanes).
// Both overwrite only the named outputs. The taps come in runs of `run` (>= 1, dividing taps)
// whose input pixels are consecutive, x_off[t + m] = x_off[t] - m * x_step for m < run (the W
// taps of one phase, dilation 1): the kernel may then load each input vector once per run.
using TapsKernel = void (*)(float* out, int64_t out_step, int64_t pixels, int64_t cout, const float* x,
                            int64_t x_step, const int64_t* x_off, const float* w, const int64_t* w_off, int64_t taps,
                            int64_t run, int64_t cin);

// Tap sums of one row of input pixels (direct_scatter's NCHW tap-sums form): for t < taps,
//   out[shift + off[t] + i] += sum_c w[c*w_step + t] * x[c*x_step + i], c < channels,
// for i < pixels rounded up to whole vectors; the lanes past `pixels` read no input and add zero
// (the caller's out has room for them). Each x vector is loaded once per block of taps, the
// sums stay in registers for the whole channel loop. prefetch != 0: the kernel also prefetches
// x[c*x_step + prefetch] (a hint, wherever it points). Null where the form does not pay.
using TapSumsKernel = void (*)(const float* x, int64_t x_step, int64_t channels, int64_t pixels, const float* w,
                               int64_t w_step, int64_t taps, float* out, int64_t shift, const int64_t* off,
                               int64_t prefetch);
// out[i] = sum_r base[off[r] + i] for i < len, the rows added in order r = 0, 1, ... (zero for
// rows == 0).
using AddRowsKernel = void (*)(const float* base, const int64_t* off, int64_t rows, int64_t len, float* out);
// Micro-panel packing: contract in gemm/gemm.hpp ("Packing").
using PackKernel = void (*)(const float* src, const int64_t* outer_off, int64_t outer_count,
                            const int64_t* inner_off, int64_t k, int64_t r, float* dst);

// The epilogue over a contiguous run: v[i] = activation(v[i] + bias[i * bias_step]) for i < n
// (bias_step 0: one bias for the run, 1: a bias per element).
using EpilogueKernel = void (*)(float* v, int64_t n, const float* bias, int64_t bias_step,
                                const Epilogue& epilogue);

// Two stride-2 phase rows into one output row with bias and activation:
// out[2i] = act(even[i] + bias), out[2i + 1] = act(odd[i] + bias); n_even - n_odd is 0 or 1.
using ZipStoreKernel = void (*)(const float* even, int64_t n_even, const float* odd, int64_t n_odd,
                                float bias, const Epilogue& epilogue, float* out);

// Stride-s phase rows into one output row, s from 2 to the vector width: out[r + s*q] =
// phase[r][q] for outputs [0, returned) (a multiple of s; phase r holds outputs r, r + s, ...
// of a row `width` long). Writes nothing at or past `width`, but garbage at [returned, returned +
// vector width - s), which the caller then overwrites with the outputs from `returned` on. Once
// one block fits (width >= vector width * (s + 1) - s), fewer than a vector width are left.
using InterleavePhaseRowsKernel = int64_t (*)(const float* const* phase, int64_t s, int64_t width, float* out);

// Short rows with zero columns either side: for r < rows, dst[r*dst_step + i] = 0 for i < total
// except dst[r*dst_step + pad_left + j] = src[r*src_step + j] for j < n (total >= pad_left + n,
// dst_step >= total). Writes nothing else.
using PadRowsKernel = void (*)(const float* src, int64_t src_step, int64_t rows, int64_t n, int64_t pad_left,
                               int64_t total, float* dst, int64_t dst_step);

// Layout change of a matrix: dst[j * dst_ld + i] = src[i * src_ld + j] for i < rows, j < cols.
using TransposeKernel = void (*)(const float* src, int64_t src_ld, int64_t rows, int64_t cols, float* dst,
                                 int64_t dst_ld);

struct KernelTable {
  Isa isa;
  const char* isa_name;
  GemmUkernel gemm;
  // The same contract, for A micro-panels read from beyond L2 (prepacked A too big to stay
  // cached, each tile run against a group of B panels): prefetches A ahead in software, which
  // the hardware prefetchers alone did not keep up with. Costs a little where A is cached.
  GemmUkernel gemm_streamed_a;
  // The same for a prepacked B too big to stay in L2 (NHWC weights of many output channels and a
  // long reduction): prefetches B ahead.
  GemmUkernel gemm_streamed_b;
  // A block's last rows across several B panels (GemmAcrossUkernel), A packed / A in place. A
  // tile of few rows holds few accumulators, and its FMAs wait on each other's latency: AVX2's
  // 6x16 with 2 rows left keeps 4 FMAs in flight where a Zen 2 takes 10 (2 units x 5 cycles).
  GemmAcrossUkernel gemm_across, gemm_direct_a_across;
  GemmDirectAUkernel gemm_direct_a;
  const char* gemm_name;  // e.g. f32_gemm_14x32__avx512f
  int mr, nr;
  GemmNarrowUkernel gemm_narrow;
  // The narrow tile with A in place (2*MR rows, a_rows[s * 2*MR + i]; B read along the first
  // narrow_nr floats of each k row of NR-wide prepacked micro-panels).
  GemmDirectAUkernel gemm_direct_a_narrow;
  int narrow_nr;  // one vector
  int vector_registers;  // of the ISA (AVX-512: 32, else 16)
  // Packing budget for this kernel (see the ukernel TU for why): the most K one pass holds, and
  // the floats of packed A (gathered operands) one thread keeps. Gathered B is packed one
  // micro-panel (k_max x NR) at a time.
  int64_t k_max, pack_a_floats;
  // Gathered A (NHWC pixels) is read in place, not packed, when at most this many B panels
  // (NR output channels each) reuse it: packing then costs more than the strided broadcasts.
  int64_t direct_a_max_panels;
  PackKernel pack;
  RowFmaKernel row_fma;
  RowFmaZipKernel row_fma_zip;
  VecMatKernel vec_mat;
  ChanFmaKernel chan_fma;
  TapsKernel dot_taps;
  TapsKernel lane_taps;
  TapSumsKernel tap_sums;
  AddRowsKernel add_rows;
  EpilogueKernel epilogue;
  ZipStoreKernel zip_store;
  InterleavePhaseRowsKernel interleave_phase_rows;
  PadRowsKernel pad_rows;
  TransposeKernel transpose;
  // The same kernels around a GEMM tile of fewer rows and the same width (8x32 beside 14x32 on
  // AVX-512), for channel counts the default tile's rows would pad (32 channels on 14-row tiles:
  // 42 rows, 24% idle); null in that table itself and on SSE2.
  const KernelTable* short_tile = nullptr;
  // The same kernels around a tile of 12 rows (AVX-512 only), a multiple of 3 and 4: W phases of
  // those strides stacked as rows (see TileStore::rows_interleaved) then leave every tile as
  // whole groups, where 14 rows would split one across two tiles.
  const KernelTable* grouped_tile = nullptr;
  // The table of the ISA below whose vectors are half as wide (AVX2 beside AVX-512; null
  // elsewhere), for kernels whose lanes are images (lane_taps): batches of 8-15 or 17-21 images
  // leave AVX-512's 16 lanes idle or too padded, and fill AVX2's 8. Zen 4 runs both widths at
  // the same FMA rate.
  const KernelTable* half_width = nullptr;
  // The short tile's multiply-add rate relative to this table's tile, per useful row. AVX2's 4x16
  // holds 8 accumulators, fewer than the 10 FMAs a Zen 2 keeps in flight (2 units x 5 cycles),
  // and ran at 0.75-0.8 of the 6x16's rate: 12.5% padding (32 channels on 6 rows) cost less than
  // that (see avx2/kernels.cpp).
  double short_tile_rate = 1.0;
};

// A channel dimension of a GEMM-based plan: `count` channels (rows of C when channels_on_m,
// columns otherwise) carrying `work` multiply-adds per channel.
struct ChannelDim {
  int64_t count;
  double work;
};

// The table (kt or kt.short_tile) whose tile pads the channel dimensions least, weighted by their
// work and divided by the tile's rate (kt.short_tile_rate); kt unless the short tile saves at
// least 3% of the time that gives. Channels are the
// dimension a tile can waste most of: pixel counts are large or run on the narrow tile.
// row_group > 1 (channels_on_m): the rows come in groups of that many interleaved W phases, and
// only tables whose tile rows are a multiple of it compete (kt, else kt.grouped_tile, against
// kt.short_tile); kt when none is.
const KernelTable& tiles_for_channels(const KernelTable& kt, bool channels_on_m, const ChannelDim* dims,
                                      int64_t count, int64_t row_group = 1);

// Each per-ISA translation unit defines one of these.
const KernelTable& sse2_kernels();
const KernelTable& avx2_kernels();
const KernelTable& avx512f_kernels();

// The table for the best ISA the CPU and OS support, capped by TCONV_ISA (throws Error on an
// unknown TCONV_ISA value). Re-reads the environment on every call: plans call it once.
const KernelTable& resolve_kernels();
bool isa_supported(Isa isa);

}  // namespace tconv::detail
