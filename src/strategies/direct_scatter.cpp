// Direct strategy: the definition without lowering, no packing and no GEMM. Each output row is
// owned by one task, which accumulates into it the products of the input rows that reach it:
//
// NCHW (vectors along the width): a row of up to 4 output channels, split by W stride phase, is
// a sum of shifted input rows times scalar taps (kernel row_fma, one load feeding every channel);
// the W phases are then interleaved into the output rows with bias and activation (stride 2
// with whole phase rows per tap list: both phases at once, interleaved in registers).
// When the image is small, a task first stages its group's input as rows [ih][ci][iw] with zero
// columns either side (and zero rows above and below): every W tap then covers a whole phase row
// in full vectors and every H tap a whole phase column (no one-pixel border segments, which run
// in short, slow blocks), and the channel rows no longer sit 4 KiB apart, where L1 sets alias.
// Staging is used only when the zeros cost little (executed_macs() counts them); otherwise
// border pixels use only their valid taps (the phase segments of plan/geometry.hpp).
// Consecutive H taps of a phase read consecutive input rows, so the row kernel loads each input
// row once for every output row of a block it feeds (tap groups of h_taps H taps).
// NHWC (vectors along channels): each output pixel's channel vector gathers every valid
// (input pixel, tap) pair's channel vector times the tap matrix (vec_mat). Depthwise layers
// multiply by the tap vector instead (chan_fma), one call per run of output pixels that see the
// same taps. With few output channels per group, vec_mat's vectors would be mostly empty lanes:
// each output channel is then a dot product along the input channels (contiguous in NHWC),
// again per run of output pixels with the same taps (dot_taps; for one output channel, each
// input vector loaded once per run of a phase's W taps, as lane_taps does below: 64 -> 1
// channels, 14x14, k5 s2, 4 images, AVX2, 1 thread: 0.126-0.137 -> 0.099-0.101 ms).
//
// Batch lanes (either layout, few output channels per group, a batch of at least one vector of
// images): vectors across images instead. For a band of output rows, the input rows it reads of
// a block of L images (L = the vector width) are staged as [ih][iw][ci][image], every tap is
// then one broadcast weight times one full vector per input channel (lane_taps, the dot_taps loop
// without the horizontal sums), and each output row comes back through a transpose with bias and
// activation. For one output channel, a phase's W taps read consecutive input pixels, so
// lane_taps loads each input vector once per run of W taps (tfgan_4, AVX2, 1 thread, drv:
// NCHW 0.411-0.417 -> 0.380-0.383 ms, NHWC 0.379-0.380 -> 0.350). Rows of a thin
// layer's phases are short (tfgan_4: 14 pixels), so vectors along them are partly empty, and
// dot products need a horizontal sum per output; lanes need neither.
//
// Image lanes (NCHW, the same form with one image per "vector", for batches too small for lanes
// across images): each image's band of input rows is staged pixel-major ([ih][iw][ci], a
// transpose), then every output channel is a dot product along the input channels (dot_taps,
// with its W-tap runs for one output channel) and the output rows come back through a transpose.
// It replaces the rows wherever the input channels fill vectors (at least 32 per group): 256 -> 2
// channels, 7x7, k5 s2, 1 image, AVX2: 0.142 ms on rows, 0.051 on image lanes (gemm_col2im
// 0.104); 64 -> 1, 56x56, k4 s2, 6 images: 3.15 -> 2.39 (bench/data/avx2/tune_thin_nchw.json).
//
// Tap sums (NCHW, AVX-512, few output channels against at least 16 input channels per group,
// rows that fill their vectors): for each input row, a vector of its pixels times every tap
// (kernel row, kernel column, output channel), summed over the input channels in registers
// (tap_sums), then added into the band's rows of that kernel column's plane; each output row
// is the sum of its phase's columns, with bias and activation. The input is read in place, once,
// with no staging and no transposes (which were a quarter of tfgan_4's time in batch lanes).
//
// Memory-bound layers (depthwise, very few channels) are where this wins: it reads the input
// and weights in place and writes each output element once.
#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <memory>
#include <numeric>

#include "epilogue/phase_row.hpp"
#include "plan/checked.hpp"
#include "plan/geometry.hpp"
#include "strategies/strategy.hpp"
#include "threading/parallel.hpp"

namespace tconv::detail {
namespace {

// Output channels one NCHW task computes together, sharing every input load, and output rows
// (of one H phase) sharing every weight broadcast.
constexpr int64_t kChannelBlock = 4;
constexpr int64_t kRowBlock = 8;
// NCHW bands and channel passes (plan_bands()): input floats one band or pass reads at most (in
// L2 with the partial sums), and the partial sums' floats. AVX2 (Zen 3, 512 KiB L2), ms at 1 / 2
// threads, 2^16 and 2^14 -> these: 2 images of 512 -> 1 channels, 156x156, k2 s2 16.4 / 9.1 ->
// 14.0 / 8.5; 4 of 128 -> 1, 179x256, k4 s2 34.5 / 18.7 -> 30.2 / 14.8.
constexpr int64_t kPassInputFloats = int64_t{1} << 15, kPassAccFloats = int64_t{1} << 15;
// Largest prebuilt tap-list table (floats) a plan keeps; beyond it tasks build their own.
constexpr int64_t kPrebuiltFloats = int64_t{1} << 23;
// Staging limits: the staged image (floats, per thread, within L2) and the multiply-adds the zero
// columns may add (executed / useful).
constexpr int64_t kMaxStagedFloats = int64_t{1} << 18;
constexpr double kMaxStagedWaste = 1.25;

// Rounded down and up for any sign of a (b > 0).
int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
int64_t ceil_div(int64_t a, int64_t b) { return -floor_div(-a, b); }

bool single_channel(const Params& p) { return p.in_channels == 1 && p.out_channels == 1; }

// Tap groups per list up to which NCHW stride-2 rows run both W phases at once (plan_zip()).
constexpr int64_t kZipMaxGroups = 8;

// NHWC output channels per dot_taps call, and output pixels per epilogue call after them.
constexpr int64_t kDotChannels = 4, kDotBiasPixels = 64;
// NHWC tasks: output floats a task writes at least (unless that leaves fewer than
// kNhwcTasksPerThread tasks per thread).
constexpr int64_t kNhwcTaskFloats = 2048, kNhwcTasksPerThread = 4;
// Batch lanes: at most this many output channels per group (lane_taps' channel blocks of
// kDotChannels reload the input for each block), images padded to whole vectors adding at most
// half of the multiply-adds, the input rows one output row reads at most kMaxLaneStagedFloats
// staged, and not depthwise. A task stages the input rows of a band of output rows, as many
// rows as kLaneBandFloats holds (within L2), so the workspace does not grow with the image.
// Measured on AVX2 (tconv bench --strategies direct_scatter, 1 / 2 threads, ms, rows -> lanes):
// 64 -> 1 channels, 14x14, k5 s2 with 12 images (16 lanes) 2.3 -> 0.86 at 1 thread; 32 -> 3,
// 64x64, k4 s2 11.3 -> 9.8 / 7.2 -> 6.7; but depthwise, 16 images of 32 channels 32x32, k4 s2
// 3.9 -> 5.0 / 3.7 -> 3.5: with one channel per group the two transposes cost more than the
// rows' partial vectors, so depthwise stays on rows.
constexpr int64_t kLaneMaxChannels = 4;
constexpr int64_t kMaxLaneStagedFloats = int64_t{1} << 21, kLaneBandFloats = int64_t{1} << 18;
// NCHW lanes staging: pixels per chunk (whole cache lines of each channel row). dcgan_g5 NCHW,
// 3 alternating runs, 1 / 2 threads: 64 -> 128 pixels, 3.52-3.72 -> 3.56-3.64 / 1.92-1.96 ->
// 1.86-1.89 ms (32: 3.83-3.94; 256: 3.66-3.74); tfgan_4 unchanged.
constexpr int64_t kLaneStagePixels = 128;
// Image lanes (NCHW, one image at a time, dot products on its input staged pixel-major): at least
// this many input channels per group (fewer make short dot products whose per-call costs and
// the staging outweigh them), and bands of at most kImageLaneBandFloats staged floats.
constexpr int64_t kImageLaneMinChannels = 32, kImageLaneBandFloats = int64_t{1} << 16;
// NCHW: input floats per image and group from which the rows beat the lanes (nchw_rows_beat_lanes()).
constexpr double kRowsOverLanesFloats = double(int64_t{1} << 22);
// Segment forms: tap list entries prebuilt for every output row at most (16 bytes each); beyond,
// each row builds its lists as it goes. Prebuilt, 64 -> 1 channels, 14x14, k5 s2, AVX2, 1 thread:
// 1 image NCHW (image lanes) 0.036 -> 0.0335 ms, NHWC (dot products) 0.0297 -> 0.0262; 4 images
// 0.143 -> 0.134 and 0.119 -> 0.103; tfgan_4 NHWC (16 images, batch lanes) 0.338 -> 0.330.
constexpr int64_t kMaxPrebuiltSegmentTaps = int64_t{1} << 16;
// NHWC batch lanes compute a whole output row, every group, per task: at most this many floats.
constexpr int64_t kMaxLaneRowFloats = int64_t{1} << 18;
// Tap sums: the phase-split output rows of one band, every output channel, at most (in L2).
constexpr int64_t kTapSumsBandFloats = int64_t{1} << 15;
// Tap sums: input rows ahead the kernel prefetches (see tap_sums_block).
constexpr int64_t kTapSumsPrefetchRows = 2;
// Tap sums replace the other NCHW forms for at most kLaneMaxChannels output channels per group
// with at least kTapSumsMinChannels input channels, kTapSumsMinMacsPerOutput multiply-adds per
// output element (Cin/g * KH * KW / (SH * SW)) and input rows that fill kTapSumsMinRowLanes of
// their vectors. Measured on 52 thin NCHW layers (bench/data/thin_layers_nchw.csv and the
// lanes_*_nchw.csv sets), AVX-512, 1 thread, ms, old form -> tap sums: tfgan_4 0.132-0.137 ->
// 0.119-0.126 (batch lanes), 32 rows: 16 images of 64 -> 1 channels k4 s2 0.65 -> 0.33, of 96
// -> 2 channels, 64 wide: 5.8 -> 2.1 (batch lanes staged from memory); 6 images of 64 -> 1,
// 56x56 0.71 -> 0.43 (rows). Slower on rows filling 62-75% of their vectors (20, 24, 33 and 36
// pixels: batch lanes 1.1x-1.4x faster), on 7- and 8-pixel rows (1.5x) and with 8-16 input
// channels over few taps (2 images of 16 -> 4 channels, k2 s2: rows 1.2x-1.5x faster).
constexpr int64_t kTapSumsMinChannels = 16;
constexpr double kTapSumsMinMacsPerOutput = 64, kTapSumsMinRowLanes = 0.8;

// AVX-512 batches of 8-15 and 17-21 images on AVX2's 8 lanes: NHWC only, fewer input channels
// per group than this. 13 such layers of the tune data (8 or 20 images, 1-32 output channels),
// Zen 4, direct_scatter, best of 2 alternating runs, 1 / 2 threads, ms, AVX-512 forms -> 8 lanes:
// NHWC 3 -> 3 channels, 41x25, k2 s1 (dot products) 0.42 -> 0.025; 16 -> 32 in 8 groups
// 1.60 -> 0.40; 32 -> 16 in 8 groups (n21) 2.16 -> 0.75; 128 -> 16 in 8 groups 2.69 -> 1.73;
// against 256 -> 1 1.39 -> 3.60 and 256 -> 3 0.24 -> 0.38 (dot products along 256 channels),
// 32 -> 1 and 32 -> 3 1.15x-1.28x slower (one of 32 -> 3 0.5x). NCHW lost on 7 of the 13 (rows
// or tap sums: 16 -> 32 in 8 groups 0.092 -> 0.40, 1.25x-1.7x on four more).
constexpr int64_t kHalfWidthLanesMaxCin = 32;

int64_t lane_blocks(const Params& p, int64_t lanes) { return (p.batch + lanes - 1) / lanes; }

// Whether lane_row's form fits a layer with `lanes` images per vector: few output channels per
// group, the input rows one output row reads within kMaxLaneStagedFloats when staged.
bool lanes_fit(const Params& p, int64_t lanes) {
  const int64_t cig = p.in_channels / p.groups, cog = p.out_channels / p.groups;
  return cog <= kLaneMaxChannels && cig > 1 && p.stride.h * p.stride.w <= (int64_t{1} << 16) &&
         std::min(p.input.h, (p.kernel.h - 1) * p.dilation.h / p.stride.h + 1) * p.input.w * p.in_channels * lanes <=
             kMaxLaneStagedFloats &&
         (p.layout == Layout::nchw || p.output.w * p.out_channels * lanes <= kMaxLaneRowFloats);
}

// NHWC, per (pixel, tap): vec_mat runs Cin/g FMAs of ceil(Cout/g / W) vectors (W floats per
// vector), mostly empty lanes when Cout/g is small; dot_taps runs Cout/g FMAs per vector of
// input channels plus a horizontal sum per channel. Dot when that is at most half the vectors
// (tfgan_4, 64 -> 1 channels: 4 vectors instead of 64).
bool dot_beats_vec_mat(int64_t cig, int64_t cog, int64_t vector_floats) {
  const auto vectors = [&](int64_t n) { return (n + vector_floats - 1) / vector_floats; };
  return 2 * cog * vectors(cig) <= cig * vectors(cog);
}

// (Output, tap) pairs along one dimension: all of them (`all`, what the staged form multiplies)
// and the valid ones. The other dimension's pairs, batch and channels are common factors.
struct Pairs {
  uint64_t all = 0, valid = 0;
};
Pairs pairs(const std::vector<Phase1D>& phases) {
  Pairs n;
  for (const auto& ph : phases) {
    n.all += uint64_t(ph.count) * ph.taps.size();
    for (const auto& seg : ph.segments) n.valid += uint64_t(seg.q1 - seg.q0) * uint64_t(seg.tap_end - seg.tap_begin);
  }
  return n;
}

// Zero rows or columns one dimension's staging needs before and after the input so that every
// tap of every phase output lies inside.
struct Margins {
  int64_t before = 0, after = 0;
};
Margins margins(const std::vector<Phase1D>& phases, int64_t in) {
  Margins m;
  for (const auto& ph : phases)
    for (const auto& tap : ph.taps) {
      m.before = std::max(m.before, -tap.base);
      m.after = std::max(m.after, tap.base + ph.count - in);
    }
  return m;
}

// NCHW staging of one problem: the image copied as rows [ih][ci][iw] with zero columns either
// side and, when they cost little too, zero rows above and below (then no output row or column
// has a tap outside the staged image). Staged only when the image fits kMaxStagedFloats and the
// zeros add at most kMaxStagedWaste of multiply-adds; `macs` counts what it multiplies.
struct Staging {
  bool staged = false, rows_padded = false;
  int64_t top = 0, left = 0, height = 0, width = 0;
  uint64_t macs = 0;
};

Staging plan_staging(const Params& p, const std::vector<Phase1D>& phases_h, const std::vector<Phase1D>& phases_w) {
  const Margins mh = margins(phases_h, p.input.h), mw = margins(phases_w, p.input.w);
  const Pairs nh = pairs(phases_h), nw = pairs(phases_w);
  const int64_t width = mw.before + p.input.w + mw.after, cig = p.in_channels / p.groups;
  const double useful = double(nh.valid) * double(nw.valid);
  // Padded H too when it fits the limits, else only W.
  for (const bool pad_h : {true, false}) {
    const int64_t height = pad_h ? mh.before + p.input.h + mh.after : p.input.h;
    const uint64_t h_pairs = pad_h ? nh.all : nh.valid;
    if (height * cig * width > kMaxStagedFloats || double(h_pairs) * double(nw.all) > kMaxStagedWaste * useful)
      continue;
    // useful_macs() = batch * Cin * Cout/groups * valid H pairs * valid W pairs.
    const uint64_t macs = useful == 0 ? 0 : p.useful_macs() / (nh.valid * nw.valid) * h_pairs * nw.all;
    return {true, pad_h, pad_h ? mh.before : 0, mw.before, height, width, macs};
  }
  return {};
}

// A phase of the staged image: input shifted by `pad`, and one segment, all taps, for every output.
Phase1D staged_phase(Phase1D ph, int64_t pad) {
  for (auto& tap : ph.taps) tap.base += pad;
  ph.segments.assign(1, {0, ph.count, 0, int64_t(ph.taps.size())});
  return ph;
}

class DirectScatter final : public Strategy {
 public:
  explicit DirectScatter(const Problem& pr) : pr_(pr), kt_(*pr.kernels) {
    const Params& p = pr.params;
    // With one channel in and out, NHWC and NCHW tensors are the same bytes: use the row kernels.
    nchw_ = p.layout == Layout::nchw || single_channel(p);
    depthwise_ = pr.cig == 1 && pr.cog == 1;
    const Layout layout = nchw_ ? Layout::nchw : Layout::nhwc;
    xs_ = strides_of(layout, p.in_channels, p.input.h, p.input.w);
    ys_ = strides_of(layout, p.out_channels, p.output.h, p.output.w);
    phases_h_ = decompose_phases(p.input.h, p.stride.h, p.kernel.h, p.dilation.h, p.crop.h, p.output.h);
    phases_w_ = decompose_phases(p.input.w, p.stride.w, p.kernel.w, p.dilation.w, p.crop.w, p.output.w);
    if (direct_uses_tap_sums(p, kt_)) {
      plan_tap_sums();
      return;
    }
    lane_kt_ = direct_batch_lane_kernels(p, kt_);
    lanes_ = lane_kt_ != nullptr || direct_uses_image_lanes(p, kt_);
    lane_width_ = lane_kt_ != nullptr ? lane_kt_->narrow_nr : 1;
    if (!nchw_ || lanes_) {
      size_t h_taps = 0, w_taps = 0;
      for (const auto& ph : phases_h_) h_taps = std::max(h_taps, ph.taps.size());
      for (const auto& pw : phases_w_) w_taps = std::max(w_taps, pw.taps.size());
      pixel_taps_ = int64_t(h_taps * w_taps);
      dot_ = !lanes_ && direct_uses_dot_products(p, kt_);
      if (!dot_ && !depthwise_ && !lanes_)
        for (int64_t ow = 0; ow < p.output.w; ++ow) runs_w_.push_back(tap_run_at(phases_w_, ow, p.crop.w, p.stride.w));
      if (dot_)
        for (int64_t ow = 0; ow < std::min(p.output.w, kDotBiasPixels); ++ow)
          row_bias_.insert(row_bias_.end(), pr.bias.begin(), pr.bias.end());
      // Lanes: the same for the [ow][channel][image] rows lane_row adds the bias to (NCHW: one
      // group's channels, group after group).
      if (lanes_)
        for (int64_t g = 0; g < (nchw_ ? p.groups : 1); ++g)
          for (int64_t ow = 0; ow < std::min(p.output.w, kDotBiasPixels); ++ow)
            for (int64_t c = nchw_ ? g * pr.cog : 0; c < (nchw_ ? (g + 1) * pr.cog : p.out_channels); ++c)
              row_bias_.insert(row_bias_.end(), size_t(lane_width_), pr.bias[size_t(c)]);
      // Tap matrices [th][tw][g][ci][co] (vec_mat), or [th][tw][g][co][ci] for dot_taps and
      // depthwise chan_fma (where it is [th][tw][c]) and lane_taps.
      const int64_t KH = p.kernel.h, KW = p.kernel.w;
      taps_.resize(size_t(KH * KW * p.in_channels * pr.cog));
      for (int64_t t = 0; t < KH * KW; ++t)
        for (int64_t g = 0; g < p.groups; ++g)
          for (int64_t ci = 0; ci < pr.cig; ++ci)
            for (int64_t co = 0; co < pr.cog; ++co) {
              const int64_t at = depthwise_ || dot_ || lanes_ ? ((t * p.groups + g) * pr.cog + co) * pr.cig + ci
                                                    : (t * p.in_channels + g * pr.cig + ci) * pr.cog + co;
              taps_[size_t(at)] = pr.w(g * pr.cig + ci, co, t / KW, t % KW);
            }
      if (lanes_) {
        plan_segments(p.input.w * lane_pixel_step(), lane_pixel_step());
        plan_lane_bands();
      } else if (dot_ || depthwise_) {
        plan_segments(xs_.h, xs_.w);
      }
    } else {
      use_staging();
      prebuild_lists();
      plan_zip();
      plan_bands();
      if (zip_first_ < 0) row_writer_ = std::make_unique<PhaseRowWriter>(phases_w_, p.stride.w, kt_);
    }
  }

  size_t workspace_floats(int threads) const override {
    return size_t(threads) * per_thread_floats();
  }

  void execute(const float* x, float* y, float* ws, int threads) const override {
    const Params& p = pr_.params;
    if (tap_sums_) return execute_tap_sums(x, y, ws, threads);
    if (lanes_) return execute_lanes(x, y, ws, threads);
    if (nchw_) {
      // Tasks are (image, group, channel block), split by rows (whole bands, or row blocks) when
      // too few of them would leave threads idle: into as many parts as make the task count a
      // multiple of the threads.
      const int64_t blocks = (pr_.cog + kChannelBlock - 1) / kChannelBlock;
      const int64_t outer = p.batch * p.groups * blocks, rows = max_phase_rows();
      const int64_t unit = std::min(band_rows_, kRowBlock), units = (rows + unit - 1) / unit;
      const int64_t splits =
          outer >= 4 * threads ? 1 : std::min(units, threads / std::gcd(outer, int64_t{threads}));
      parallel_for(threads, outer * splits, [&](int64_t t, int tid) {
        const int64_t o = t / splits, part = t % splits;
        const int64_t n = o / (p.groups * blocks), g = (o / blocks) % p.groups, b = o % blocks;
        const int64_t co0 = b * kChannelBlock;
        block_nchw(x + n * xs_.n, y + n * ys_.n, g, co0, std::min(kChannelBlock, pr_.cog - co0),
                   part * units / splits * unit, std::min(rows, (part + 1) * units / splits * unit),
                   ws + size_t(tid) * per_thread_floats());
      });
    } else {
      // Tasks of consecutive output rows (over batch x height) writing at least kNhwcTaskFloats:
      // short rows of few channels would otherwise share cache lines between threads. Each
      // thread runs its own contiguous share of them, so neighbouring rows, which read the same
      // input rows, stay on one core (parallel_for_contiguous): 117 NHWC layers of the tune data
      // run this way, Zen 2, 2 threads, best of 2 alternating runs: 0.90x the time against
      // dealing tasks out as they come (bilinear_dw 0.21 -> 0.16 ms median; worst 1.04x).
      const int64_t rows = p.batch * p.output.h;
      const int64_t per_task = std::clamp<int64_t>(kNhwcTaskFloats / std::max<int64_t>(1, p.output.w * p.out_channels), 1,
                                                   std::max<int64_t>(1, rows / (kNhwcTasksPerThread * threads)));
      auto body = [&](int64_t t, int tid) {
        for (int64_t r = t * per_task; r < std::min(rows, (t + 1) * per_task); ++r) {
          const int64_t n = r / p.output.h, oh = r % p.output.h;
          row_nhwc(x + n * xs_.n, y + n * ys_.n, oh, ws + size_t(tid) * per_thread_floats());
        }
      };
      parallel_for_contiguous(threads, (rows + per_task - 1) / per_task, body);
    }
  }

  std::string implementation() const override {
    // Batch lanes name their width (AVX-512 runs AVX2's 8 lanes on some NHWC batches).
    if (lane_width_ > 1) return "direct_lanes" + std::to_string(lane_width_) + "_f32__" + kt_.isa_name;
    const char* form = tap_sums_     ? "direct_tap_sums_"
                       : lanes_        ? "direct_dot_staged_"
                       : nchw_       ? (zip_first_ >= 0                ? "direct_rows_zip_"
                                        : pass_channels_ < pr_.cig ? "direct_rows_passes_"
                                                                   : "direct_rows_")
                       : depthwise_  ? "direct_chanwise_"
                       : dot_        ? "direct_dot_"
                                     : "direct_vecmat_";
    return std::string(form) + "f32__" + kt_.isa_name;
  }
  uint64_t executed_macs() const override {
    const Params& p = pr_.params;
    if (lanes_) return p.useful_macs() / uint64_t(p.batch) * uint64_t(lane_blocks(p, lane_width_) * lane_width_);
    if (tap_sums_) return ts_macs_;
    return st_.staged ? st_.macs : p.useful_macs();
  }

 private:
  // Taps of every W-phase segment of one output row, for the H segment with the most taps.
  int64_t max_row_taps() const {
    int64_t h_taps = 0, w_taps = 0;
    for (const auto& ph : phases_h_)
      for (const auto& seg : ph.segments) h_taps = std::max(h_taps, seg.tap_end - seg.tap_begin);
    for (const auto& pw : phases_w_)
      for (const auto& seg : pw.segments) w_taps += seg.tap_end - seg.tap_begin;
    return pr_.cig * h_taps * w_taps;
  }

  // Staged, the phases address the staged image: shifted tap bases, one segment per phase.
  void use_staging() {
    st_ = plan_staging(pr_.params, phases_h_, phases_w_);
    if (st_.staged) {
      if (st_.rows_padded)
        for (auto& ph : phases_h_) ph = staged_phase(ph, st_.top);
      for (auto& ph : phases_w_) ph = staged_phase(ph, st_.left);
    }
    row_step_ = st_.staged ? pr_.cig * st_.width : xs_.h;
    chan_step_ = st_.staged ? st_.width : xs_.c;
  }
  int64_t staged_floats() const {
    return st_.staged ? int64_t(cache_line_floats(size_t(st_.height * row_step_))) : 0;
  }
  size_t per_thread_floats() const {
    const Params& p = pr_.params;
    // NCHW: acc_rows() phase-split rows per channel of a block, tap offsets (int64: 2 floats
    // each), tap weights.
    // NHWC: the channel accumulator, or (depthwise, dot) a pixel's input and weight offsets.
    // Staged: the staged image first.
    // Lanes: the staged input rows of a band, one output row [ow][channel][image] (NCHW: of one
    // group), then a pixel's input and weight offsets.
    if (lanes_) return lane_band_floats() + lane_row_floats() + cache_line_floats(size_t(4 * pixel_taps_));
    // Tap sums: the band's rows of every plane and channel, then one output row in phase order.
    if (tap_sums_)
      return cache_line_floats(size_t(int64_t(ts_kw_.size()) * ts_plane_floats_)) + cache_line_floats(size_t(p.output.w));
    if (!nchw_) return cache_line_floats(size_t(depthwise_ || dot_ ? 4 * pixel_taps_ : p.out_channels));
    return cache_line_floats(size_t(staged_floats()) + acc_rows() * kChannelBlock * cache_line_floats(size_t(p.output.w)) +
                             size_t((2 + kChannelBlock) * max_row_taps()) +
                             size_t(w_segments()) * sizeof(List) / sizeof(float));
  }
  // Row lists per H segment, at most.
  int64_t w_segments() const {
    int64_t n = 0;
    for (const auto& pw : phases_w_) n += int64_t(pw.segments.size());
    return n;
  }

  // One row segment of the tap lists: outputs [out_start, out_start + len) of the phase-split
  // row take the tap groups [first_group, first_group + groups) (offsets), each of h_taps H taps
  // (weights from first_weight on, h_taps per group).
  struct List {
    int64_t out_start, len, first_group, groups, h_taps, first_weight;
  };
  // Numbers of offsets and weights (per channel) of some tap lists.
  struct ListSize {
    int64_t groups = 0, weights = 0;
  };

  // H taps one tap group of segment seg_h holds: all of them when each reads the input row
  // above the previous one's (dilation and stride coprime, the usual case), else one.
  static int64_t h_taps_of(const Phase1D& fh, const Phase1D::Segment& seg_h) {
    for (int64_t jh = seg_h.tap_begin + 1; jh < seg_h.tap_end; ++jh)
      if (fh.taps[size_t(jh)].base != fh.taps[size_t(jh - 1)].base - 1) return 1;
    return std::max<int64_t>(1, seg_h.tap_end - seg_h.tap_begin);
  }

  // Builds the tap lists of one H segment (one list per W-phase segment): input offsets of each
  // tap group relative to the row (offs), weights of channels [co0, co0 + nco) of group g as
  // [tap group][h tap][nco] (wts). Returns the number of lists; *size gets the numbers of tap
  // groups and weights.
  int64_t build_lists(int64_t g, int64_t co0, int64_t nco, const Phase1D& fh, const Phase1D::Segment& seg_h,
                      int64_t* offs, float* wts, List* lists, ListSize* size) const {
    const int64_t h_taps = h_taps_of(fh, seg_h);
    int64_t n_lists = 0, phase_start = 0;
    ListSize n;
    for (const Phase1D& fw : phases_w_) {
      for (const auto& seg_w : fw.segments) {
        const ListSize first = n;
        for (int64_t ci = 0; ci < pr_.cig; ++ci)
          for (int64_t jh0 = seg_h.tap_begin; jh0 < seg_h.tap_end; jh0 += h_taps)
            for (int64_t jw = seg_w.tap_begin; jw < seg_w.tap_end; ++jw) {
              const auto& tw = fw.taps[size_t(jw)];
              if (offs)
                offs[n.groups] = ci * chan_step_ + fh.taps[size_t(jh0)].base * row_step_ + tw.base + seg_w.q0;
              ++n.groups;
              for (int64_t jh = jh0; jh < jh0 + h_taps; ++jh, ++n.weights)
                for (int64_t c = 0; c < nco; ++c)
                  wts[n.weights * nco + c] = pr_.w(g * pr_.cig + ci, co0 + c, fh.taps[size_t(jh)].k, tw.k);
            }
        if (n.groups > first.groups)
          lists[n_lists++] = {phase_start + seg_w.q0, seg_w.q1 - seg_w.q0, first.groups, n.groups - first.groups,
                              h_taps, first.weights};
      }
      phase_start += fw.count;
    }
    *size = n;
    return n_lists;
  }

  // Tap lists of every H segment built at plan creation, when they fit kPrebuiltFloats: then a
  // task only runs kernels. (Offsets are the same for every group and channel block.)
  void prebuild_lists() {
    const Params& p = pr_.params;
    const int64_t blocks = (pr_.cog + kChannelBlock - 1) / kChannelBlock;
    int64_t groups = 0, weights = 0, lists = 0;
    std::vector<List> scratch(static_cast<size_t>(w_segments()));
    std::vector<float> wscratch(size_t(kChannelBlock * max_row_taps()));
    for (const Phase1D& fh : phases_h_)
      for (const auto& seg_h : fh.segments) {
        ListSize size;
        lists += build_lists(0, 0, 0, fh, seg_h, nullptr, wscratch.data(), scratch.data(), &size);
        groups += size.groups;
        weights += size.weights;
      }
    if (2 * groups + weights * p.groups * blocks * kChannelBlock > kPrebuiltFloats) return;
    pre_offs_.resize(size_t(groups));
    pre_weights_per_block_ = weights * kChannelBlock;
    pre_wts_.resize(size_t(pre_weights_per_block_ * p.groups * blocks));
    pre_lists_.resize(size_t(lists));
    int64_t group0 = 0, weight0 = 0, list0 = 0;
    for (const Phase1D& fh : phases_h_)
      for (const auto& seg_h : fh.segments) {
        ListSize size;
        const int64_t n = build_lists(0, 0, 0, fh, seg_h, pre_offs_.data() + group0, wscratch.data(),
                                      pre_lists_.data() + list0, &size);
        for (int64_t g = 0; g < p.groups; ++g)
          for (int64_t b = 0; b < blocks; ++b) {
            const int64_t co0 = b * kChannelBlock, nco = std::min(kChannelBlock, pr_.cog - co0);
            build_lists(g, co0, nco, fh, seg_h, nullptr, prebuilt_weights(g, b) + weight0 * nco, scratch.data(), &size);
          }
        hseg_first_.push_back({group0, weight0, list0, n});
        group0 += size.groups;
        weight0 += size.weights;
        list0 += n;
      }
  }
  float* prebuilt_weights(int64_t g, int64_t block) {
    const int64_t blocks = (pr_.cog + kChannelBlock - 1) / kChannelBlock;
    return pre_wts_.data() + (g * blocks + block) * pre_weights_per_block_;
  }

  // Output channels [co0, co0 + nco) of group g (nco <= 4), phase rows [q_begin, q_end) of every H
  // phase (q_begin a multiple of band_rows_ when banded). Rows are visited by H
  // phase and H segment: all rows of a segment share their tap lists (offsets relative to the
  // row, weights), prebuilt at plan creation or built once per segment here. In bands
  // (plan_bands()), band_rows_ rows of every H phase at a time, each summed over the input
  // channels a pass at a time.
  void block_nchw(const float* x, float* y, int64_t g, int64_t co0, int64_t nco, int64_t q_begin, int64_t q_end,
                  float* ws) const {
    const Params& p = pr_.params;
    const float* xg = st_.staged ? stage(x + g * pr_.cig * xs_.c, ws) : x + g * pr_.cig * xs_.c;
    ws += staged_floats();
    const int64_t ld = int64_t(cache_line_floats(size_t(p.output.w)));  // one phase-split row per channel
    float* acc = ws;
    const bool prebuilt = !pre_offs_.empty();
    int64_t* offs = reinterpret_cast<int64_t*>(ws + acc_rows() * kChannelBlock * ld);
    float* wts = reinterpret_cast<float*>(offs + (prebuilt ? 0 : max_row_taps()));
    List* lists = reinterpret_cast<List*>(wts + (prebuilt ? 0 : kChannelBlock * max_row_taps()));
    const int64_t blocks = (pr_.cog + kChannelBlock - 1) / kChannelBlock;
    const bool passes = pass_channels_ < pr_.cig, banded = band_rows_ < max_phase_rows();
    for (int64_t qa = q_begin; qa < q_end; qa += band_rows_) {
      const int64_t qz = std::min(q_end, qa + band_rows_);
      for (int64_t c0 = 0; c0 < pr_.cig; c0 += pass_channels_) {
        const int64_t c1 = std::min(pr_.cig, c0 + pass_channels_);
        size_t hseg = 0;
        for (size_t ih = 0; ih < phases_h_.size(); ++ih) {
          const Phase1D& fh = phases_h_[ih];
          for (const auto& seg_h : fh.segments) {
            int64_t n_lists = 0;
            const int64_t* seg_offs = offs;
            const float* seg_wts = wts;
            const List* seg_lists = lists;
            const HsegLists* pre = prebuilt ? &hseg_first_[hseg++] : nullptr;
            // The segment's row blocks that start in [qa, qz), and where the last one ends: a
            // block's rows, hence its sums' order, do not depend on how tasks split the rows.
            const auto block_start = [&](int64_t q) {
              if (banded) return std::max(seg_h.q0, q);
              return seg_h.q0 + std::max<int64_t>(0, q - seg_h.q0 + kRowBlock - 1) / kRowBlock * kRowBlock;
            };
            const int64_t q0 = block_start(qa), q1 = std::min(seg_h.q1, block_start(qz));
            if (q0 >= q1) continue;
            if (pre) {
              seg_offs = pre_offs_.data() + pre->first_group;
              seg_wts = pre_wts_.data() + (g * blocks + co0 / kChannelBlock) * pre_weights_per_block_ +
                        pre->first_weight * nco;
              seg_lists = pre_lists_.data() + pre->first_list;
              n_lists = pre->lists;
            } else {
              ListSize size;
              n_lists = build_lists(g, co0, nco, fh, seg_h, offs, wts, lists, &size);
            }
            if (zip_first_ >= 0) {
              zip_rows(y, g, co0, nco, fh, q0, q1, xg, seg_offs, seg_wts, seg_lists);
              continue;
            }
            int64_t covered = 0;
            for (int64_t l = 0; l < n_lists; ++l) covered += seg_lists[l].len;
            for (int64_t q = q0; q < q1; q += kRowBlock) {
              const int64_t rows = std::min(kRowBlock, q1 - q);
              float* rows_acc = acc + (passes ? int64_t(ih) * band_rows_ + (q - qa) : 0) * nco * ld;
              // Lists cover disjoint outputs and the kernel writes (not adds) them in the first
              // pass: zero only rows some output of which no tap reaches.
              if (c0 == 0 && covered < p.output.w) std::fill(rows_acc, rows_acc + rows * nco * ld, 0.0f);
              for (int64_t l = 0; l < n_lists; ++l) {
                const List& li = seg_lists[l];
                // A list's groups run channel by channel, the same number for each.
                const int64_t per_channel = li.groups / pr_.cig;
                kt_.row_fma(rows_acc + li.out_start, ld, nco, rows, li.len, xg + q * row_step_, row_step_,
                            seg_offs + li.first_group + c0 * per_channel,
                            seg_wts + (li.first_weight + c0 * per_channel * li.h_taps) * nco, (c1 - c0) * per_channel,
                            li.h_taps, c0 > 0);
              }
              if (c1 == pr_.cig)
                for (int64_t r = 0; r < rows; ++r)
                  store_rows(y, g, co0, nco, fh.first + (q + r) * p.stride.h, rows_acc + r * nco * ld, ld);
            }
          }
        }
      }
    }
  }

  // Bands and channel passes. With several H phases and an input image beyond kPassInputFloats,
  // rows run in bands of kRowBlock rows of every H phase, so the input rows a band reads stay in
  // cache for every H phase instead of being read from memory by each (4 times at stride 4; the
  // W-phase lists of a row block already share its rows). When one band's input rows, over every
  // input channel, exceed kPassInputFloats, the band's sums also run over pass_channels_ input
  // channels at a time (fewer rows per band, so every H phase's partial sums fit
  // kPassAccFloats): each pass reads a few runs of consecutive rows per channel plane once from
  // memory, and then from cache for every H phase and list. (Only with prebuilt tap lists, which
  // are not rebuilt per band, and not with row_fma_zip, which stores finished outputs.)
  void plan_bands() {
    const Params& p = pr_.params;
    int64_t lo = 0, hi = 0;
    bool any = false;
    for (const Phase1D& fh : phases_h_)
      for (const auto& t : fh.taps) {
        lo = any ? std::min(lo, t.base) : t.base;
        hi = any ? std::max(hi, t.base) : t.base;
        any = true;
      }
    pass_channels_ = pr_.cig;
    band_rows_ = std::max<int64_t>(1, max_phase_rows());
    const int64_t width = st_.staged ? st_.width : p.input.w;
    const int64_t height = st_.staged ? st_.height : p.input.h;
    if (!any || band_rows_ <= kRowBlock || pre_offs_.empty() || phases_h_.size() < 2 ||
        pr_.cig * height * width <= kPassInputFloats)
      return;
    band_rows_ = kRowBlock;
    const int64_t span = hi - lo;  // input rows a band reads beyond its own count
    if (zip_first_ >= 0 || pr_.cig * (kRowBlock + span) * width <= kPassInputFloats) return;
    const int64_t ld = int64_t(cache_line_floats(size_t(p.output.w)));
    const int64_t rows = std::min<int64_t>(kRowBlock, kPassAccFloats / (int64_t(phases_h_.size()) * kChannelBlock * ld));
    const int64_t channels = kPassInputFloats / ((std::max<int64_t>(rows, 1) + span) * width);
    if (rows < 1 || channels >= pr_.cig) return;
    band_rows_ = rows;
    pass_channels_ = std::max<int64_t>(1, channels);
  }
  int64_t max_phase_rows() const {
    int64_t max_q = 0;
    for (const Phase1D& fh : phases_h_) max_q = std::max(max_q, fh.count);
    return max_q;
  }
  // Phase-split rows block_nchw keeps per channel.
  int64_t acc_rows() const {
    return pass_channels_ < pr_.cig ? int64_t(phases_h_.size()) * band_rows_ : kRowBlock;
  }

  // Stride-2 W phases that each run one tap list over their whole phase row in every H segment
  // (a staged image's zero columns make every W tap valid: bilinear_dw, k = 4, s = 2) are
  // computed together and stored straight into the output rows (row_fma_zip): no phase-split
  // row buffer and no second pass to interleave it. Only for short tap lists (at most
  // kZipMaxGroups (channel, W tap) groups): the zip kernel holds both phases' sums, so it runs
  // half the rows per input load, which costs more than the saved pass once the lists are long.
  // Measured on AVX2, 1 thread, two alternating runs each, rows -> zip: bilinear_dw NCHW
  // (2 groups) 1.28 / 1.35 -> 1.12 / 1.17 ms (0.63 -> 0.56 at 2 threads); 4 images of 3
  // channels, 256x256, k3 s2 (3-6 groups) 6.86 / 6.83 -> 4.93 / 4.84; 16 depthwise channels, k2
  // s2 5.87 -> 4.91; but dcgan_g5 with 1 image (128 groups) 0.317 -> 0.357, and 16 or 32 -> 1
  // channels, k4 s2 (32, 64 groups) 8-16% slower.
  void plan_zip() {
    const Params& p = pr_.params;
    if (!st_.staged || p.stride.w != 2 || phases_w_.size() != 2) return;
    const int64_t first = phases_w_[0].first == 0 ? 0 : 1;
    const int64_t n_first = phases_w_[size_t(first)].count, n_second = phases_w_[size_t(1 - first)].count;
    if (n_second == 0 || n_first - n_second < 0 || n_first - n_second > 1) return;
    std::vector<List> lists(static_cast<size_t>(w_segments()));
    std::vector<float> wscratch(size_t(kChannelBlock * max_row_taps()));
    for (const Phase1D& fh : phases_h_)
      for (const auto& seg_h : fh.segments) {
        ListSize size;
        if (build_lists(0, 0, 0, fh, seg_h, nullptr, wscratch.data(), lists.data(), &size) != 2) return;
        if (lists[0].groups > kZipMaxGroups || lists[1].groups > kZipMaxGroups) return;
        if (lists[0].out_start != 0 || lists[0].len != phases_w_[0].count || lists[1].out_start != phases_w_[0].count ||
            lists[1].len != phases_w_[1].count)
          return;
      }
    zip_first_ = first;
  }

  // Output rows [q0, q1) of H phase fh, channels [co0, co0 + nco) of group g, through
  // row_fma_zip (the segment's two lists are W phases 0 and 1, plan_zip()).
  void zip_rows(float* y, int64_t g, int64_t co0, int64_t nco, const Phase1D& fh, int64_t q0, int64_t q1,
                const float* xg, const int64_t* offs, const float* wts, const List* lists) const {
    const Params& p = pr_.params;
    auto taps = [&](const List& li) { return RowTaps{offs + li.first_group, wts + li.first_weight * nco, li.groups, li.h_taps}; };
    const RowTaps first = taps(lists[zip_first_]), second = taps(lists[1 - zip_first_]);
    const int64_t n_first = phases_w_[size_t(zip_first_)].count, n_second = phases_w_[size_t(1 - zip_first_)].count;
    const int64_t channel = g * pr_.cog + co0;
    for (int64_t q = q0; q < q1; q += kRowBlock) {
      const int64_t rows = std::min(kRowBlock, q1 - q);
      float* out = y + channel * ys_.c + (fh.first + q * p.stride.h) * ys_.h;
      kt_.row_fma_zip(out, ys_.c, p.stride.h * ys_.h, nco, rows, n_first, n_second, xg + q * row_step_, row_step_, first,
                      second, pr_.bias.data() + channel, p.epilogue);
    }
  }

  // The group's input image as rows [ih][ci][staged column] with zero columns either side.
  const float* stage(const float* xg, float* dst) const {
    const Params& p = pr_.params;
    std::fill(dst, dst + st_.top * row_step_, 0.0f);
    // Channel by channel: the source is read in order (one channel's rows are contiguous).
    for (int64_t ci = 0; ci < pr_.cig; ++ci)
      kt_.pad_rows(xg + ci * xs_.c, xs_.h, p.input.h, p.input.w, st_.left, st_.width,
                   dst + st_.top * row_step_ + ci * chan_step_, row_step_);
    std::fill(dst + (st_.top + p.input.h) * row_step_, dst + st_.height * row_step_, 0.0f);
    return dst;
  }

  // Bias and activation, and the W phases interleaved into output row oh.
  void store_rows(float* y, int64_t g, int64_t co0, int64_t nco, int64_t oh, float* acc, int64_t ld) const {
    const Params& p = pr_.params;
    for (int64_t c = 0; c < nco; ++c) {
      const int64_t channel = g * pr_.cog + co0 + c;
      float* out = y + channel * ys_.c + oh * ys_.h;
      row_writer_->write(acc + c * ld, p.output.w, pr_.bias[size_t(channel)], p.epilogue, out);
    }
  }

  void row_nhwc(const float* x, float* y, int64_t oh, float* ws) const {
    if (dot_ || depthwise_) return row_nhwc_segments(x, y + oh * ys_.h, oh, ws);
    const Params& p = pr_.params;
    const int64_t C = p.out_channels, KW = p.kernel.w;
    float* acc = ws;
    const TapRun rh = tap_run_at(phases_h_, oh, p.crop.h, p.stride.h);
    for (int64_t ow = 0; ow < p.output.w; ++ow) {
      const TapRun& rw = runs_w_[size_t(ow)];
      std::fill(acc, acc + C, 0.0f);
      for (int64_t jh = rh.begin; jh < rh.end; ++jh) {
        const auto& th = rh.phase->taps[size_t(jh)];
        for (int64_t jw = rw.begin; jw < rw.end; ++jw) {
          const auto& tw = rw.phase->taps[size_t(jw)];
          const float* pixel = x + (th.base + rh.q) * xs_.h + (tw.base + rw.q) * xs_.w;
          const float* tap = taps_.data() + (th.k * KW + tw.k) * p.in_channels * pr_.cog;
          for (int64_t g = 0; g < p.groups; ++g) {
            kt_.vec_mat(acc + g * pr_.cog, pixel + g * pr_.cig, pr_.cig, tap + g * pr_.cig * pr_.cog,
                        pr_.cog, pr_.cog);
          }
        }
      }
      kt_.epilogue(acc, C, pr_.bias.data(), 1, p.epilogue);
      std::copy(acc, acc + C, y + oh * ys_.h + ow * ys_.w);
    }
  }

  // The taps output row rh.q of an H phase and W-phase segment seg share: for each, the input
  // offset of the segment's first pixel (input rows row_step, pixels pixel_step apart, the input
  // starting at row row0) and the offset of its tap matrix in taps_ ([th][tw][g][co][ci] layout).
  // Returns their number.
  int64_t segment_taps(const TapRun& rh, int64_t row0, const Phase1D& fw, const Phase1D::Segment& seg,
                       int64_t row_step, int64_t pixel_step, int64_t* x_off, int64_t* w_off) const {
    const Params& p = pr_.params;
    int64_t taps = 0;
    for (int64_t jh = rh.begin; jh < rh.end; ++jh) {
      const auto& th = rh.phase->taps[size_t(jh)];
      for (int64_t jw = seg.tap_begin; jw < seg.tap_end; ++jw, ++taps) {
        const auto& tw = fw.taps[size_t(jw)];
        x_off[taps] = (th.base + rh.q - row0) * row_step + (tw.base + seg.q0) * pixel_step;
        w_off[taps] = (th.k * p.kernel.w + tw.k) * p.out_channels * pr_.cig;
      }
    }
    return taps;
  }

  // The segment's W tap count when its taps read consecutive input pixels (base one less per
  // tap: dilation 1, or d / gcd(d, s) = 1): segment_taps' list is then runs of that many taps
  // one pixel apart (lane_taps' `run`). Otherwise 1.
  static int64_t consecutive_w_taps(const Phase1D& fw, const Phase1D::Segment& seg) {
    for (int64_t jw = seg.tap_begin + 1; jw < seg.tap_end; ++jw)
      if (fw.taps[size_t(jw)].base != fw.taps[size_t(jw - 1)].base - 1) return 1;
    return std::max<int64_t>(1, seg.tap_end - seg.tap_begin);
  }

  // Floats from one staged pixel to the next: its C vectors, plus one vector in NCHW when they
  // span a multiple of 4 cache lines. The NCHW staging writes one vector per pixel at this
  // stride; at 2 KB (C = 64 on AVX2) a chunk's pixels fall into 2 of the L1's 64 sets and each
  // line is evicted before the next channel completes it (staging 16 images of tfgan_4: 92 ->
  // 48 us). NHWC staging writes contiguously.
  int64_t lane_pixel_step() const {
    const int64_t L = lane_width_, floats = pr_.params.in_channels * L;
    return nchw_ && L > 1 && floats % (4 * kCacheLineFloats) == 0 ? floats + L : floats;
  }
  size_t lane_band_floats() const {
    const Params& p = pr_.params;
    return cache_line_floats(size_t(lane_band_span_ * p.input.w * lane_pixel_step()));
  }
  size_t lane_row_floats() const {
    const Params& p = pr_.params;
    return cache_line_floats(size_t(p.output.w * (nchw_ ? pr_.cog : p.out_channels) * lane_width_));
  }

  // Input rows [lo, hi) that output rows [oh0, oh1) read (lo == hi when none).
  std::pair<int64_t, int64_t> lane_input_rows(int64_t oh0, int64_t oh1) const {
    int64_t lo = std::numeric_limits<int64_t>::max(), hi = 0;
    for (int64_t oh = oh0; oh < oh1; ++oh)
      if (seg_row_lo_[size_t(oh)] < seg_row_hi_[size_t(oh)]) {
        lo = std::min(lo, seg_row_lo_[size_t(oh)]);
        hi = std::max(hi, seg_row_hi_[size_t(oh)]);
      }
    return lo < hi ? std::make_pair(lo, hi) : std::make_pair(int64_t{0}, int64_t{0});
  }

  // Segment forms: the input rows [lo, hi) each output row reads, and the tap lists of its
  // W-phase segments (see seg_lists_), given the steps between input rows and pixels.
  void plan_segments(int64_t row_step, int64_t pixel_step) {
    const Params& p = pr_.params;
    seg_row_step_ = row_step;
    seg_pixel_step_ = pixel_step;
    w_segment_count_ = w_segments();
    std::vector<TapRun> runs;
    int64_t entries = 0;
    for (int64_t oh = 0; oh < p.output.h; ++oh) {
      const TapRun rh = tap_run_at(phases_h_, oh, p.crop.h, p.stride.h);
      int64_t lo = 0, hi = 0;
      if (rh.begin < rh.end) {  // taps in ascending k: descending input rows
        lo = rh.phase->taps[size_t(rh.end - 1)].base + rh.q;
        hi = rh.phase->taps[size_t(rh.begin)].base + rh.q + 1;
      }
      seg_row_lo_.push_back(lo);
      seg_row_hi_.push_back(hi);
      runs.push_back(rh);
      for (const Phase1D& fw : phases_w_)
        for (const auto& seg : fw.segments) entries += (rh.end - rh.begin) * (seg.tap_end - seg.tap_begin);
    }
    if (entries > kMaxPrebuiltSegmentTaps) return;
    seg_x_off_.resize(size_t(entries));
    seg_w_off_.resize(size_t(entries));
    int64_t first = 0;
    for (int64_t oh = 0; oh < p.output.h; ++oh)
      for (const Phase1D& fw : phases_w_)
        for (const auto& seg : fw.segments) {
          const int64_t taps = segment_taps(runs[size_t(oh)], seg_row_lo_[size_t(oh)], fw, seg, row_step, pixel_step,
                                            seg_x_off_.data() + first, seg_w_off_.data() + first);
          seg_lists_.push_back({first, taps, consecutive_w_taps(fw, seg)});
          first += taps;
        }
  }

  // Output row oh's W-phase segments in order: f(first output column, pixels, x_off, w_off, taps,
  // run), input offsets from row seg_row_lo_[oh]. `scratch` (2 * pixel_taps_) holds the lists
  // when they are not prebuilt.
  template <class F>
  void for_each_segment(int64_t oh, int64_t* scratch, F&& f) const {
    const Params& p = pr_.params;
    const SegmentList* list = seg_lists_.empty() ? nullptr : seg_lists_.data() + oh * w_segment_count_;
    const TapRun rh = list ? TapRun{} : tap_run_at(phases_h_, oh, p.crop.h, p.stride.h);
    for (const Phase1D& fw : phases_w_)
      for (const auto& seg : fw.segments) {
        const int64_t first = fw.first + seg.q0 * p.stride.w, pixels = seg.q1 - seg.q0;
        if (list) {
          f(first, pixels, seg_x_off_.data() + list->first, seg_w_off_.data() + list->first, list->taps, list->run);
          ++list;
          continue;
        }
        int64_t* x_off = scratch;
        int64_t* w_off = scratch + pixel_taps_;
        const int64_t taps = segment_taps(rh, seg_row_lo_[size_t(oh)], fw, seg, seg_row_step_, seg_pixel_step_, x_off, w_off);
        f(first, pixels, x_off, w_off, taps, consecutive_w_taps(fw, seg));
      }
  }

  // The most output rows per band whose input rows fit kLaneBandFloats (image lanes:
  // kImageLaneBandFloats; at least one), with the most input rows any such band reads: every band
  // of at most lane_band_rows_ rows, wherever it starts, stages at most lane_band_span_ rows.
  void plan_lane_bands() {
    const Params& p = pr_.params;
    const int64_t OH = p.output.h;
    const int64_t band_floats = lane_width_ > 1 ? kLaneBandFloats : kImageLaneBandFloats;
    const int64_t budget = std::max<int64_t>(1, band_floats / (p.input.w * lane_pixel_step()));
    // The most input rows a window of `rows` output rows reads: sliding minimum of lo and
    // maximum of hi (monotonic queues of row indices), rows without taps left out.
    const auto widest = [&](int64_t rows) {
      std::deque<int64_t> lows, highs;
      int64_t most = 0;
      for (int64_t oh = 0; oh < OH; ++oh) {
        if (seg_row_lo_[size_t(oh)] < seg_row_hi_[size_t(oh)]) {
          while (!lows.empty() && seg_row_lo_[size_t(lows.back())] >= seg_row_lo_[size_t(oh)]) lows.pop_back();
          while (!highs.empty() && seg_row_hi_[size_t(highs.back())] <= seg_row_hi_[size_t(oh)]) highs.pop_back();
          lows.push_back(oh);
          highs.push_back(oh);
        }
        while (!lows.empty() && lows.front() <= oh - rows) lows.pop_front();
        while (!highs.empty() && highs.front() <= oh - rows) highs.pop_front();
        if (!lows.empty()) most = std::max(most, seg_row_hi_[size_t(highs.front())] - seg_row_lo_[size_t(lows.front())]);
      }
      return most;
    };
    // Rows per band: the largest count whose bands fit the budget (binary search: a band's rows
    // only grow with its height), at least one.
    int64_t fits = 1, over = std::min(OH, (budget + 1) * p.stride.h + 1) + 1;
    while (over - fits > 1) {
      const int64_t mid = (fits + over) / 2;
      (widest(mid) <= budget ? fits : over) = mid;
    }
    lane_band_rows_ = fits;
    lane_band_span_ = widest(fits);
  }

  // Tap sums (NCHW): for one input row, the sums over the input channels of its product with
  // every tap (kernel row, kernel column, output channel) stay in registers, one vector of input
  // pixels at a time (tap_sums), and are then added into the band's rows of that tap's plane.
  // Input read in place, no staging, no zero multiplied but the lanes past a row's end and the
  // products landing in the cropped border.
  //
  // One plane per kernel column kw: pixel iw's sums at ts_margin_ + iw of a row; the output of W
  // phase r at q is the sum over the columns of that phase of plane kw at q - shift(kw) (ow =
  // s*iw + d*kw - crop = r + s*(iw + shift)), zeros around each row's pixels. Adding the columns
  // in the one pass that writes the row, instead of as the taps' sums arrive, keeps the sums
  // of one call from overlapping: unaligned vectors a float apart made every load wait for the
  // previous store (store forwarding fails on a partial overlap).
  void plan_tap_sums() {
    const Params& p = pr_.params;
    tap_sums_ = true;
    const int64_t s = p.stride.w, V = kt_.narrow_nr;
    const int64_t padded_w = (p.input.w + V - 1) / V * V;
    int64_t margin = 0, row_floats = padded_w;
    for (int64_t kw = 0; kw < p.kernel.w; ++kw) {
      const int64_t off = kw * p.dilation.w - p.crop.w;  // ow = s*iw + off
      const int64_t r = off - floor_div(off, s) * s, shift = floor_div(off, s);
      if (r >= p.output.w) continue;  // a phase past the output: the column reaches nothing
      const int64_t count = (p.output.w - r + s - 1) / s;
      ts_kw_.push_back({kw, r, shift});
      margin = std::max(margin, shift);
      row_floats = std::max(row_floats, count - shift);
    }
    ts_margin_ = margin;
    ts_row_floats_ = margin + row_floats;
    const int64_t taps_per_kh = int64_t(ts_kw_.size()) * pr_.cog;
    ts_taps_ = p.kernel.h * taps_per_kh;
    // Rows per band: the band's rows of every plane and channel within kTapSumsBandFloats.
    const int64_t plane_rows = std::max<int64_t>(1, int64_t(ts_kw_.size()) * pr_.cog);
    ts_band_rows_ = std::clamp<int64_t>(kTapSumsBandFloats / (plane_rows * ts_row_floats_), 1, p.output.h);
    ts_plane_floats_ = pr_.cog * ts_band_rows_ * ts_row_floats_;
    // Where each W phase's columns hold output q = 0, from the start of a row of plane 0.
    ts_phase_columns_.assign(size_t(std::min(s, p.output.w)), {});
    for (size_t j = 0; j < ts_kw_.size(); ++j)
      ts_phase_columns_[size_t(ts_kw_[j].residue)].push_back(int64_t(j) * ts_plane_floats_ + ts_margin_ - ts_kw_[j].shift);
    // Taps (kh, kw, co) in that order: the taps one input row has in a band (a run of kh) are a
    // run of the list. Offsets from the band's row of kh = 0.
    for (int64_t kh = 0; kh < p.kernel.h; ++kh)
      for (size_t j = 0; j < ts_kw_.size(); ++j)
        for (int64_t co = 0; co < pr_.cog; ++co)
          ts_tap_off_.push_back(int64_t(j) * ts_plane_floats_ + (co * ts_band_rows_ + kh * p.dilation.h) * ts_row_floats_ +
                                ts_margin_);
    // Weights [g][ci][tap].
    ts_weights_.resize(size_t(p.groups * pr_.cig * ts_taps_));
    for (int64_t g = 0; g < p.groups; ++g)
      for (int64_t ci = 0; ci < pr_.cig; ++ci) {
        float* w = ts_weights_.data() + (g * pr_.cig + ci) * ts_taps_;
        for (int64_t kh = 0, t = 0; kh < p.kernel.h; ++kh)
          for (const TapColumn& c : ts_kw_)
            for (int64_t co = 0; co < pr_.cog; ++co) w[t++] = pr_.w(g * pr_.cig + ci, co, kh, c.kw);
      }
    // Multiply-adds, whole vectors: each (input row, H tap reaching the output) once.
    uint64_t row_taps = 0;
    for (int64_t ih = 0; ih < p.input.h; ++ih) {
      const auto kh = tap_sums_kh(ih, 0, p.output.h);
      row_taps += uint64_t(kh.second - kh.first);
    }
    ts_macs_ = row_taps * uint64_t(taps_per_kh) * uint64_t(padded_w) * uint64_t(pr_.cig) * uint64_t(p.groups) *
               uint64_t(p.batch);
    row_writer_ = std::make_unique<PhaseRowWriter>(phases_w_, p.stride.w, kt_);
  }

  // The H taps [first, second) by which input row ih reaches output rows [oh0, oh1): output row
  // s*ih + d*kh - crop rises with kh.
  std::pair<int64_t, int64_t> tap_sums_kh(int64_t ih, int64_t oh0, int64_t oh1) const {
    const Params& p = pr_.params;
    const int64_t d = p.dilation.h, base = p.stride.h * ih - p.crop.h;  // output row of kh = 0
    const int64_t a = std::clamp<int64_t>(ceil_div(oh0 - base, d), 0, p.kernel.h);
    const int64_t b = std::clamp<int64_t>(ceil_div(oh1 - base, d), 0, p.kernel.h);
    return {a, std::max(a, b)};
  }

  // Tasks of (image, group, band of output rows); bands as tall as kTapSumsBandFloats allows, or
  // shorter so that every thread gets work. Each (input row, H tap) pair is computed by the one
  // band its output row lies in, and every output element receives its products in the same
  // order (input row, vector of pixels, tap) whatever the bands: results do not depend on the
  // thread count.
  void execute_tap_sums(const float* x, float* y, float* ws, int threads) const {
    const Params& p = pr_.params;
    const int64_t OH = p.output.h, W = p.input.w, cog = pr_.cog, cig = pr_.cig;
    const int64_t outer = p.batch * p.groups;
    int64_t bands = std::max((threads + outer - 1) / outer, (OH + ts_band_rows_ - 1) / ts_band_rows_);
    while (outer * bands % threads != 0 && outer * bands < 4 * threads && bands < OH) ++bands;
    const int64_t rows = (OH + bands - 1) / bands;
    bands = (OH + rows - 1) / rows;
    const int64_t taps_per_kh = ts_taps_ / p.kernel.h, planes = int64_t(ts_kw_.size());
    parallel_for(threads, outer * bands, [&](int64_t t, int tid) {
      float* buf = ws + size_t(tid) * per_thread_floats();
      float* out_row = buf + cache_line_floats(size_t(planes * ts_plane_floats_));
      const int64_t n = t / bands / p.groups, g = t / bands % p.groups;
      const int64_t oh0 = t % bands * rows, oh1 = std::min(OH, oh0 + rows);
      std::fill(buf, buf + planes * ts_plane_floats_, 0.0f);
      const float* xg = x + n * xs_.n + g * cig * xs_.c;
      const float* wg = ts_weights_.data() + g * cig * ts_taps_;
      const int64_t sh = p.stride.h, reach = (p.kernel.h - 1) * p.dilation.h;
      // Input rows with an H tap into the band: from the first whose last tap reaches oh0.
      const int64_t ih0 = std::max<int64_t>(0, ceil_div(oh0 + p.crop.h - reach, sh));
      for (int64_t ih = ih0; ih < p.input.h && sh * ih - p.crop.h < oh1; ++ih) {
        const auto kh = tap_sums_kh(ih, oh0, oh1);
        if (kh.first == kh.second) continue;
        const int64_t t0 = kh.first * taps_per_kh, taps = (kh.second - kh.first) * taps_per_kh;
        const int64_t row_shift = (sh * ih - p.crop.h - oh0) * ts_row_floats_;  // output row of kh = 0, in the band
        kt_.tap_sums(xg + ih * xs_.h, xs_.c, cig, W, wg + t0, ts_taps_, taps, buf, row_shift, ts_tap_off_.data() + t0,
                     kTapSumsPrefetchRows * xs_.h);
      }
      // Each output row: its phases as sums of their columns' planes (phase-split, in the
      // order of phases_w_), then bias, activation and the interleave into the output.
      for (int64_t co = 0; co < cog; ++co)
        for (int64_t oh = oh0; oh < oh1; ++oh) {
          const float* row = buf + (co * ts_band_rows_ + oh - oh0) * ts_row_floats_;
          int64_t at = 0;
          for (const Phase1D& ph : phases_w_) {
            if (ph.count == 0) continue;
            const auto& cols = ts_phase_columns_[size_t(ph.first)];
            kt_.add_rows(row, cols.data(), int64_t(cols.size()), ph.count, out_row + at);
            at += ph.count;
          }
          const int64_t c = g * cog + co;
          row_writer_->write(out_row, p.output.w, pr_.bias[size_t(c)], p.epilogue, y + n * ys_.n + c * ys_.c + oh * ys_.h);
        }
    });
  }

  // Batch lanes: tasks of (block of L images, band of output rows), each staging the input rows
  // its band reads and then computing the band's rows. Bands are as tall as kLaneBandFloats
  // allows, or shorter so that every thread gets a task; a band's rows are computed the same
  // way whatever its height, so the result does not depend on the thread count. (Two tasks per
  // thread staged each band's border input rows twice as often: tfgan_4, one block of 16
  // images, 4 bands at 2 threads 0.080-0.086 ms, 2 bands 0.067-0.073.)
  void execute_lanes(const float* x, float* y, float* ws, int threads) const {
    const Params& p = pr_.params;
    const int64_t L = lane_width_, C = p.in_channels, W = p.input.w, OH = p.output.h;
    const int64_t blocks = lane_blocks(p, L);
    // At least a task per thread, and as many tasks as make a whole number per thread (3 bands
    // on 2 threads left one idle for a third of the time).
    int64_t bands = std::max((threads + blocks - 1) / blocks, (OH + lane_band_rows_ - 1) / lane_band_rows_);
    while (blocks * bands % threads != 0 && blocks * bands < 4 * threads && bands < OH) ++bands;
    const int64_t rows = (OH + bands - 1) / bands;
    bands = (OH + rows - 1) / rows;
    parallel_for(threads, blocks * bands, [&](int64_t t, int tid) {
      float* staged = ws + size_t(tid) * per_thread_floats();
      float* row_ws = staged + lane_band_floats();
      const int64_t n0 = t / bands * L, images = std::min(L, p.batch - n0);
      const int64_t oh0 = t % bands * rows, oh1 = std::min(OH, oh0 + rows);
      const auto in = lane_input_rows(oh0, oh1);
      const int64_t pixels = (in.second - in.first) * W;
      // [pixel][ci][image] from the block's images. Lanes past the batch only feed outputs never
      // stored; zeroed anyway, as workspace garbage may hold slow denormals.
      const int64_t pixel_step = lane_pixel_step();
      if (images < L) std::fill(staged, staged + pixels * pixel_step, 0.0f);
      if (!nchw_)  // the band's channel vectors are contiguous rows, one per image
        kt_.transpose(x + n0 * xs_.n + in.first * xs_.h, xs_.n, images, pixels * C, staged, L);
      else if (L == 1)  // one image: its channel rows of the band become pixel rows
        kt_.transpose(x + n0 * xs_.n + in.first * xs_.h, xs_.c, C, pixels, staged, pixel_step);
      else  // chunks of pixels, every channel of a chunk at once: a chunk's staged floats stay in
            // cache until complete instead of the whole band being swept once per channel
        for (int64_t j0 = 0; j0 < pixels; j0 += kLaneStagePixels)
          for (int64_t ci = 0; ci < C; ++ci)
            kt_.transpose(x + n0 * xs_.n + ci * xs_.c + in.first * xs_.h + j0, xs_.n, images,
                          std::min(kLaneStagePixels, pixels - j0), staged + j0 * pixel_step + ci * L, pixel_step);
      for (int64_t oh = oh0; oh < oh1; ++oh)
        for (int64_t g = 0; g < (nchw_ ? p.groups : 1); ++g)
          lane_row(staged, in.first, y + n0 * ys_.n, images, nchw_ ? g : 0, nchw_ ? g + 1 : p.groups, oh, row_ws);
    });
  }

  // Output row oh of groups [g0, g1) for a block of `images` images: lane_taps per W-phase
  // segment into [ow][channel][image], bias and activation, then a transpose into the images'
  // rows (NCHW: per channel; NHWC: the whole row, every group, at once).
  // `staged` holds input rows from row0 on.
  void lane_row(const float* staged, int64_t row0, float* y, int64_t images, int64_t g0, int64_t g1, int64_t oh,
                float* ws) const {
    const Params& p = pr_.params;
    const int64_t L = lane_width_, cog = pr_.cog, pixel_step = lane_pixel_step(), row_step = p.input.w * pixel_step;
    const int64_t channels = (g1 - g0) * cog, c0 = g0 * cog, ow = p.output.w;
    float* acc = ws;
    // Tap offsets count from the lowest input row the row reads (any row when it reads none).
    const int64_t lo = seg_row_lo_[size_t(oh)] < seg_row_hi_[size_t(oh)] ? seg_row_lo_[size_t(oh)] : row0;
    const float* x = staged + (lo - row0) * row_step;
    for_each_segment(oh, reinterpret_cast<int64_t*>(ws + lane_row_floats()),
                     [&](int64_t first, int64_t pixels, const int64_t* x_off, const int64_t* w_off, int64_t taps,
                         int64_t run) {
                       float* out = acc + first * channels * L;
                       for (int64_t g = g0; g < g1; ++g)
                         for (int64_t co = 0; co < cog; co += kDotChannels) {
                           const int64_t c = g * cog + co;
                           (L > 1 ? lane_kt_->lane_taps : kt_.dot_taps)(
                               out + (c - c0) * L, p.stride.w * channels * L, pixels, std::min(kDotChannels, cog - co),
                               x + g * pr_.cig * L, pixel_step, x_off, taps_.data() + c * pr_.cig, w_off, taps, run,
                               pr_.cig);
                         }
                     });
    // Bias and activation on the row while it is in cache, before it is transposed out.
    const int64_t bias_pixels = std::min(kDotBiasPixels, ow);
    const float* bias = row_bias_.data() + (nchw_ ? g0 * bias_pixels * channels * L : 0);
    for (int64_t q = 0; q < ow; q += kDotBiasPixels)
      kt_.epilogue(acc + q * channels * L, std::min(kDotBiasPixels, ow - q) * channels * L, bias, 1, p.epilogue);
    if (!nchw_)
      kt_.transpose(acc, L, ow * channels, images, y + oh * ys_.h, ys_.n);
    else if (L == 1)
      kt_.transpose(acc, channels, ow, channels, y + c0 * ys_.c + oh * ys_.h, ys_.c);
    else
      for (int64_t c = c0; c < c0 + channels; ++c)
        kt_.transpose(acc + (c - c0) * L, channels * L, ow, images, y + c * ys_.c + oh * ys_.h, ys_.n);
  }

  // NHWC output row oh, one kernel call per W-phase segment, whose output pixels see the same
  // taps: depthwise channel vectors (chan_fma, with the epilogue), or, with few output channels
  // per group, dot products along the input channels (dot_taps: each weight vector loaded once
  // for several pixels), then bias and activation over the whole row while it is in cache.
  void row_nhwc_segments(const float* x, float* row, int64_t oh, float* ws) const {
    const Params& p = pr_.params;
    const int64_t C = p.out_channels;
    const float* xr = x + seg_row_lo_[size_t(oh)] * xs_.h;  // the tap offsets count from this row
    const int64_t out_step = p.stride.w * ys_.w;
    for_each_segment(oh, reinterpret_cast<int64_t*>(ws),
                     [&](int64_t first, int64_t pixels, const int64_t* x_off, const int64_t* w_off, int64_t taps,
                         int64_t run) {
                       float* out = row + first * ys_.w;
                       if (depthwise_) {
                         kt_.chan_fma(out, out_step, pixels, C, xr, xs_.w, x_off, taps_.data(), w_off, taps,
                                      pr_.bias.data(), p.epilogue);
                         return;
                       }
                       for (int64_t g = 0; g < p.groups; ++g)
                         for (int64_t co = 0; co < pr_.cog; co += kDotChannels) {
                           const int64_t c = g * pr_.cog + co;
                           kt_.dot_taps(out + c, out_step, pixels, std::min(kDotChannels, pr_.cog - co),
                                        xr + g * pr_.cig, xs_.w, x_off, taps_.data() + c * pr_.cig, w_off, taps, run,
                                        pr_.cig);
                         }
                     });
    if (depthwise_) return;
    for (int64_t ow = 0; ow < p.output.w; ow += kDotBiasPixels)
      kt_.epilogue(row + ow * C, std::min(kDotBiasPixels, p.output.w - ow) * C, row_bias_.data(), 1, p.epilogue);
  }

  const Problem& pr_;
  const KernelTable& kt_;
  // Tap sums (NCHW, see plan_tap_sums()): where each W phase sits in a phase-split row (start
  // of its span, and q = 0 within it), the floats of such a row, the W taps used (those reaching
  // an output phase), taps per input row at most, and for each tap (kh, kw, co) its offset from
  // the band's kh = 0 row; weights [g][ci][tap]; rows per band; multiply-adds executed.
  bool tap_sums_ = false;
  struct TapColumn {
    int64_t kw, residue, shift;  // ow = s*(iw + shift) + residue
  };
  std::vector<TapColumn> ts_kw_;
  std::vector<int64_t> ts_tap_off_;
  std::vector<std::vector<int64_t>> ts_phase_columns_;  // per W phase (by residue): add_rows' offsets
  int64_t ts_margin_ = 0, ts_row_floats_ = 0, ts_plane_floats_ = 0, ts_taps_ = 0, ts_band_rows_ = 1;
  std::vector<float> ts_weights_;
  uint64_t ts_macs_ = 0;
  bool nchw_ = true, depthwise_ = false;
  bool lanes_ = false;  // batch lanes, or image lanes (see the top of the file)
  int64_t lane_width_ = 0;  // lanes: images per vector (1: image lanes, dot products)
  const KernelTable* lane_kt_ = nullptr;  // batch lanes: the table of their lane_taps
  // Segment forms (lanes, NHWC dot products and depthwise): the input rows [lo, hi) each output
  // row reads, and the steps between input rows and pixels its tap lists use.
  std::vector<int64_t> seg_row_lo_, seg_row_hi_;
  int64_t seg_row_step_ = 0, seg_pixel_step_ = 0, w_segment_count_ = 0;
  // Prebuilt tap lists of every output row's W-phase segments (w_segment_count_ per row, offsets
  // from the row's lowest input row) when they fit kMaxPrebuiltSegmentTaps; empty otherwise.
  struct SegmentList {
    int64_t first, taps, run;  // into seg_x_off_ / seg_w_off_
  };
  std::vector<SegmentList> seg_lists_;
  std::vector<int64_t> seg_x_off_, seg_w_off_;
  int64_t lane_band_rows_ = 1, lane_band_span_ = 0;  // lanes: output rows per band, input rows per band
  bool dot_ = false;  // NHWC: dot products along input channels (dot_taps) instead of vec_mat
  std::vector<float> row_bias_;  // dot, lanes: the bias of every element of kDotBiasPixels output pixels
  // NCHW staging (see the top of the file), and the steps between input rows and channel rows of
  // what the tap lists address.
  Staging st_;
  int64_t row_step_ = 0, chan_step_ = 0;
  int64_t pixel_taps_ = 0;  // NHWC: taps of one output pixel, at most
  std::unique_ptr<PhaseRowWriter> row_writer_;  // NCHW without row_fma_zip
  int64_t zip_first_ = -1;  // NCHW row_fma_zip: the W phase holding column 0 (plan_zip()), -1: not used
  int64_t pass_channels_ = 0, band_rows_ = 0;  // NCHW rows: input channels per pass, rows per band
  TensorStrides xs_{}, ys_{};
  std::vector<Phase1D> phases_h_, phases_w_;
  std::vector<float> taps_;
  std::vector<TapRun> runs_w_;  // NHWC vec_mat: the valid taps of each output column
  // Prebuilt NCHW tap lists (empty when they would exceed kPrebuiltFloats).
  struct HsegLists {
    int64_t first_group, first_weight, first_list, lists;
  };
  std::vector<int64_t> pre_offs_;
  std::vector<float> pre_wts_;  // [group][channel block][tap group][h tap][nco]
  int64_t pre_weights_per_block_ = 0;
  std::vector<List> pre_lists_;
  std::vector<HsegLists> hseg_first_;
};

}  // namespace

bool direct_stages_nchw_input(const Params& p) {
  if ((p.layout != Layout::nchw && !single_channel(p)) || p.stride.h * p.stride.w > (int64_t{1} << 16)) return false;
  return plan_staging(p, decompose_phases(p.input.h, p.stride.h, p.kernel.h, p.dilation.h, p.crop.h, p.output.h),
                      decompose_phases(p.input.w, p.stride.w, p.kernel.w, p.dilation.w, p.crop.w, p.output.w))
      .staged;
}

// NCHW lanes stage their input through transposes, which read every channel plane a few
// pixels at a time: from memory (inputs beyond the last-level cache) that runs at half the speed
// of the rows' channel passes, which read runs of rows. The rows win on such inputs, and from
// half that size when each input element feeds at most about one multiply-add (cog * KH * KW
// <= SH * SW). Measured on AVX2, NCHW, ms at 1 / 2 threads, lanes -> rows: 2 images of 512 -> 1
// channels, 156x156, k2 s2 34.9 / 18.3 -> 16.6 / 11.4; 16 of 128 -> 1, 130x130, k2 s2 30.3 /
// 18.5 -> 26.5 / 13.1; 4 of 128 -> 1, 179x256, k4 s2 41.8 / 22.8 -> 34.5 / 17.4; but 1 of 32 ->
// 1, 256x256, k4 s2 2.70 / 1.42 -> 3.21 / 1.63 (8 MB of input stays in cache between calls).
bool nchw_rows_beat_lanes(const Params& p) {
  const int64_t cig = p.in_channels / p.groups, cog = p.out_channels / p.groups;
  const double image_floats = double(cig) * double(p.input.h) * double(p.input.w);
  return p.layout == Layout::nchw &&
         (image_floats >= kRowsOverLanesFloats ||
          (image_floats >= kRowsOverLanesFloats / 2 &&
           double(cog) * double(p.kernel.h) * double(p.kernel.w) <= double(p.stride.h) * double(p.stride.w)));
}

// The table whose lane_taps runs direct's batch lanes (narrow_nr images per vector): kt, or its
// half-width table when the batch fills too little of kt's vectors, for NHWC layers of fewer
// than kHalfWidthLanesMaxCin input channels per group (dot products fill few of their vectors);
// null when lanes do not fit.
const KernelTable* direct_batch_lane_kernels(const Params& p, const KernelTable& kt) {
  if (nchw_rows_beat_lanes(p)) return nullptr;
  for (const KernelTable* t = &kt; t != nullptr; t = t->half_width) {
    if (t != &kt && (p.layout == Layout::nchw || p.in_channels / p.groups >= kHalfWidthLanesMaxCin)) break;
    const int64_t lanes = t->narrow_nr;
    if (p.batch >= lanes && 2 * lane_blocks(p, lanes) * lanes <= 3 * p.batch && lanes_fit(p, lanes)) return t;
  }
  return nullptr;
}

bool direct_uses_batch_lanes(const Params& p, const KernelTable& kt) { return direct_batch_lane_kernels(p, kt) != nullptr; }

bool direct_uses_image_lanes(const Params& p, const KernelTable& kt) {
  const int64_t cig = p.in_channels / p.groups, cog = p.out_channels / p.groups;
  return p.layout == Layout::nchw && !direct_uses_batch_lanes(p, kt) && lanes_fit(p, 1) &&
         cig >= kImageLaneMinChannels && dot_beats_vec_mat(cig, cog, kt.narrow_nr) && !nchw_rows_beat_lanes(p);
}

bool direct_uses_tap_sums(const Params& p, const KernelTable& kt) {
  const int64_t cig = p.in_channels / p.groups, cog = p.out_channels / p.groups, V = kt.narrow_nr;
  const double row_lanes = double(p.input.w) / double((p.input.w + V - 1) / V * V);
  const double macs_per_output = double(cig) * double(p.kernel.h) * double(p.kernel.w) / double(p.stride.h * p.stride.w);
  // One output row of every kernel column's plane within a band's budget (plan_tap_sums(): the
  // row's padded pixels, and the shifts of the columns either side, at most this).
  const double plane_row = double(p.input.w + V) +
                           (double(p.output.w) + std::abs(double(p.crop.w)) + double(p.kernel.w) * double(p.dilation.w)) /
                               double(p.stride.w) + 2;
  return kt.tap_sums != nullptr && p.layout == Layout::nchw && !single_channel(p) && cog <= kLaneMaxChannels &&
         cig >= kTapSumsMinChannels && macs_per_output >= kTapSumsMinMacsPerOutput && row_lanes >= kTapSumsMinRowLanes &&
         double(p.kernel.w) * double(cog) * plane_row <= double(kTapSumsBandFloats) &&
         p.stride.h * p.stride.w <= (int64_t{1} << 16);
}

bool direct_uses_dot_products(const Params& p, const KernelTable& kt) {
  const int64_t cig = p.in_channels / p.groups, cog = p.out_channels / p.groups;
  return p.layout == Layout::nhwc && !single_channel(p) && !(cig == 1 && cog == 1) &&
         dot_beats_vec_mat(cig, cog, kt.narrow_nr);
}

namespace {

std::string direct_scatter_not_applicable(const Params& p) {
  if (p.stride.h * p.stride.w > (int64_t{1} << 16)) return "stride_h*stride_w exceeds 65536 phases";
  return {};
}

std::unique_ptr<Strategy> create_direct_scatter(const Problem& pr) { return std::make_unique<DirectScatter>(pr); }

}  // namespace

StrategyInfo direct_scatter_strategy() {
  return {"direct_scatter", direct_scatter_not_applicable, create_direct_scatter};
}

// Direct's NCHW plan on NHWC tensors, through NCHW copies (see layout_bridge.cpp for why).
StrategyInfo direct_scatter_via_nchw_strategy() {
  return {"direct_scatter_via_nchw",
          [](const Params& p) -> std::string {
            if (p.layout != Layout::nhwc) return "layout=nchw: direct_scatter runs NCHW tensors directly";
            return direct_scatter_not_applicable(p);
          },
          [](const Problem& pr) { return through_other_layout(pr, create_direct_scatter); }};
}

}  // namespace tconv::detail
