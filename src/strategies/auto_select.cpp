// The heuristic behind strategy "auto": rules over the parameters alone, with thresholds per ISA
// family. They were chosen by a search over measured timings of every strategy on the built-in
// suite and 88 random layers, both layouts, 1 and 2 threads, and 38 random thin layers
// (`tconv tune --json`): bench/data/avx512/tune_*.json on an AVX-512 Zen 4 (776 measurements,
// session 25, with 20 of NCHW batch-lanes layers), bench/data/avx2/tune_*.json on an AVX2 Zen 3
// (596, session 22: the Zen 1 data of sessions 10-17 re-measured with today's code, plus a third
// held-out set of random layers, tune_diverse2.json).
// tools/derive_auto_rules.py scores rule sets against the data and mirrors these rules.
#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "strategies/strategy.hpp"

namespace tconv::detail {
namespace {

// One dimension's stride phases as subpixel sees them: taps per phase that has any, and how many
// phases share the most common tap count (subpixel runs those as one GEMM: align_phases).
struct PhaseShape {
  double taps_per_phase;
  int64_t members;
  double tapped_fraction;  // of the stride's phases, those some tap reaches
};

// The rules' thresholds. They differ by ISA: the vector width moves the balance between direct's
// row kernels, the GEMM tiles and the NHWC copies (tools/derive_auto_rules.py, THRESHOLDS_BY_ISA).
struct Thresholds {
  int64_t one_tap_subpixel_reduction;  // NCHW one-tap layers: subpixel from this Cin/g on,
  double one_tap_subpixel_max_macs;    // below this many multiply-adds per tensor element
  // One-tap layers: NCHW ones with fewer GEMM channels than this (and col2im_cin_nchw input
  // channels) run gemm_col2im, NHWC ones go to subpixel from this many GEMM channels on.
  int64_t one_tap_col2im_channels_nchw, one_tap_subpixel_channels_nhwc;
  int64_t small_cout;             // direct's staged NCHW row kernels: at most this many Cout/g
  int64_t small_cout_max_reduction;  // and at most this K of a phase GEMM
  int64_t dot_channels_nhwc;      // direct's NHWC dot products: at most this many GEMM channels
  int64_t short_reduction;        // NCHW direct: K of a phase GEMM at most this,
  int64_t short_reduction_channels;  // unless more GEMM channels than this (then via NHWC,
  double short_reduction_via_max_output;  // or subpixel past this many output floats with taps)
  int64_t nhwc_direct_reduction, nhwc_direct_cog;  // NHWC direct: K at most, Cout/g at least
  int64_t col2im_channels_nchw, col2im_cin_nchw;  // gemm_col2im: few GEMM channels, many Cin/g
  int64_t col2im_channels_nhwc, col2im_cin_nhwc;
  int64_t small_image_reduction, small_image_pixels;  // NCHW direct on small images
  int64_t via_channels, via_cog;  // subpixel_via_nhwc: GEMM channels at most, Cout/g at least,
  double via_macs_per_element;    // and multiply-adds per tensor element at least,
  int64_t via_width;              // or input rows at most this wide
  int64_t image_lanes_pixels;     // direct's image lanes (NCHW): input images of at most this many pixels,
  int64_t image_lanes_cin;        // or at most this many input channels per group
  int64_t lanes_panel_channels;   // NCHW batch lanes yield to subpixel from this many GEMM channels
                                  // when its phase rows are whole pixel panels (kNever: never)
  // NHWC layers of at least this many groups of at most these Cin/g and Cout/g: direct through
  // NCHW copies.
  int64_t grouped_via_nchw_groups, grouped_via_nchw_cig, grouped_via_nchw_cog;
  // NHWC layers of at most this many Cin/g and Cout/g (one-tap ones only up to stride 2 x 2),
  // too few images for batch lanes: direct through NCHW copies (0: never).
  int64_t few_channels_via_nchw;
  // NCHW one-tap layers with phases no tap reaches (k < s): subpixel through NHWC copies from
  // this many GEMM channels on (kNever: never).
  int64_t one_tap_untapped_via_channels;
};

constexpr int64_t kNever = int64_t{1} << 30;
// AVX-512 (Zen 4, session 18): fitted by tools/derive_auto_rules.py --search on all six sets of
// bench/data/avx512/ (500 measurements: 441 picks within 5% of the winner, geomean 1.033x; the
// Xeon-fitted thresholds used before scored 400, 1.078x). Session 25 re-measured every set on a
// Zen 4 with today's code, plus the two sets only AVX2 had (776 records), and changed the two
// pairs that gained on most held-out sets (fitted without each set, then scored on it):
// short-reduction NCHW layers up to K 64, through NHWC copies above 128 GEMM channels as on
// AVX2 (16 -> 256 channels, 53x8, k3 s2: direct 0.97 ms, through NHWC 0.42), and image lanes
// only up to 64 input channels per group, on any image. On the data (re-measured again after
// the permute interleave of strides 3 and 4): 666 -> 671 of 776 within 5% (1.042x -> 1.038x);
// tune_check22.json 131 -> 134 of 160, tune_diverse2.json 80 -> 81, tune_holdout.json 88 -> 86.
// Session 26 re-measured all 776 after its GEMM changes: 673 within 5% (1.037x), thresholds kept.
// Session 27 added lanes_panel_channels from 24 more NCHW batch-lanes records and checked it on
// 24 measured after the fit (tune_lanes_panels*.json): all 824, 683 -> 716 within 5% (1.035x).
// Session 29 measured 32 new random layers (bench/data/random_layers_s29.csv: tools/random_layers.py
// 16 2929 and 16 of random_layers_diverse.py, tune_random_s29.json), never fitted before: 105 of
// 128 within 5% (1.086x). NCHW one-tap layers go to subpixel only from 32 input channels per
// group (was 16): below, the stacked phases' strided NCHW stores outweigh the shared input
// loads (1 image of 24 -> 64 channels, 41x26, k4 s4, 1 thread: subpixel 1.23 ms, through NHWC 0.74).
// That threshold gains on both the old records (725 -> 727 of 810) and the new (105 -> 110 of
// 128, 1.069x); the other moves the search found helped one set and not the other.
// Session 30: the GEMM runs NHWC B panels of at most 16 channels on the narrow tile (subpixel
// 0.63x the time on 39 such layers), so the 135 NHWC layers of at most 16 GEMM channels in the
// tune data were re-measured (tune_narrow_nhwc_s30.json). On them two thresholds moved together:
// NHWC layers never take gemm_col2im for few GEMM channels (h22: 4 images of 64 -> 16, 5x9,
// k4 s1, subpixel 3.3x faster) and one-tap ones go to subpixel from 12 GEMM channels: 248 -> 258 of 270
// within 5% (1.033x -> 1.011x), the other 764 records unchanged.
constexpr Thresholds kAvx512Thresholds{
    32, 64,                     // one_tap_subpixel_reduction, one_tap_subpixel_max_macs
    8, 12,                      // one_tap_col2im_channels_nchw, one_tap_subpixel_channels_nhwc
    8, kNever, 16, 64, 128,     // small_cout, small_cout_max_reduction, dot_channels_nhwc, short_reduction(_channels)
    8 << 20,                    // short_reduction_via_max_output
    8, 128,                     // nhwc_direct_reduction, nhwc_direct_cog
    8, 32, 0, 64,               // col2im channels / Cin per group, NCHW then NHWC
    64, 65536,                  // small_image_reduction, small_image_pixels
    kNever, 8, 128, 32,         // via_channels, via_cog, via_macs_per_element, via_width
    0, 64,                      // image_lanes_pixels, image_lanes_cin (rule 4 up to 64 Cin/g, any image)
    8,                          // lanes_panel_channels (session 27)
    4, 16, 8,                   // grouped_via_nchw_groups, _cig, _cog (session 31)
    3,                          // few_channels_via_nchw (session 32)
    kNever};                    // one_tap_untapped_via_channels (AVX2's 32 moves 2 of 1100 picks)
// AVX2: fitted in sessions 10-17 on an AVX2 Zen 1, re-fitted in session 22 on an AVX2 Zen 3
// after every set was re-measured there (bench/data/avx2/, 596 measurements; the Zen 1 files
// are in git history). The Zen 1 thresholds scored 522 of 596 within 5% of the winner (geomean
// 1.040x) on the new data, these 546 (1.020x). Cross-check, fitting without the never-fitted
// tune_diverse2.json and scoring it: 83 of 96 (1.062x) against the Zen 1 thresholds' 82 (1.078x).
// Two rules gained a threshold there: direct's image lanes also for 32 input channels per group
// on any image size, and short-reduction NCHW layers with many GEMM channels go through NHWC.
// Session 33 ran on a Zen 1 (AVX2, 128-bit FMA units, 8 MiB L3) and measured 24 new random layers
// there (bench/data/avx2/tune_zen1_s33.json, never fitted on): 73 of 96 picks within 5%
// (1.054x). The worst, 2 images of 1 -> 128 channels, 256x256, k3 s3 (300 MB of output), ran
// 1.43x / 1.76x slower through NHWC copies than on subpixel: the short-reduction rule's output
// limit, which AVX2 lacked for want of data past L3, is now AVX-512's (75 of 96, 1.043x; the
// Zen 3 data 654 -> 656 of 732, nothing slower than 1.03x).
// Session 34 ran on a Zen 2 (AVX2, 256-bit FMA units, 16 MiB L3) and measured 24 more new random
// layers there (bench/data/avx2/tune_zen2_s34.json, measured with the session's final kernels):
// 80 of 96 within 5% (1.063x), all misses NCHW. One rule came of them
// (one_tap_untapped_via_channels): 83 of 96 (1.051x), and on the older data Zen 3 656 -> 661 of
// 732, Zen 1 75 -> 77 of 96.
// SSE2 machines share them for want of their own data.
constexpr Thresholds kAvx2Thresholds{
    4, 1024,                    // one_tap_subpixel_reduction, one_tap_subpixel_max_macs
    8, kNever,                  // one_tap_col2im_channels_nchw, one_tap_subpixel_channels_nhwc
    4, 512, 16, 32, 128,        // small_cout, small_cout_max_reduction, dot_channels_nhwc, short_reduction(_channels)
    8 << 20,                    // short_reduction_via_max_output (session 33, as on AVX-512)
    4, 128,                     // nhwc_direct_reduction, nhwc_direct_cog
    4, 32, 4, 64,               // col2im channels / Cin per group, NCHW then NHWC
    32, 65536,                  // small_image_reduction, small_image_pixels
    kNever, 8, 32, 0,           // via_channels, via_cog, via_macs_per_element, via_width
    256, 32,                    // image_lanes_pixels, image_lanes_cin
    kNever,                     // lanes_panel_channels (Zen 3: dcgan_g5 NCHW direct 1.4x faster)
    4, 16, 8,                   // grouped_via_nchw_groups, _cig, _cog (session 31, as on AVX-512)
    0,                          // few_channels_via_nchw (no AVX2 data)
    32};                        // one_tap_untapped_via_channels (session 34)

PhaseShape phase_shape(int64_t k, int64_t s, int64_t d) {
  std::map<int64_t, int64_t> taps_of_residue;
  for (int64_t t = 0; t < k; ++t) ++taps_of_residue[t * d % s];
  std::map<int64_t, int64_t> phases_with_count;
  for (const auto& rt : taps_of_residue) ++phases_with_count[rt.second];
  int64_t members = 0;
  for (const auto& cp : phases_with_count) members = std::max(members, cp.second);
  return {double(k) / double(taps_of_residue.size()), members, double(taps_of_residue.size()) / double(s)};
}

}  // namespace

Choice choose_strategy(const Params& p, const KernelTable& kt) {
  const int64_t cig = p.in_channels / p.groups, cog = p.out_channels / p.groups;
  const bool nchw = p.layout == Layout::nchw;
  const Thresholds& t = kt.isa == Isa::avx512f ? kAvx512Thresholds : kAvx2Thresholds;
  const auto n = [](double v) { return std::to_string(int64_t(v)); };
  if (p.stride.h * p.stride.w > (int64_t{1} << 16)) {
    return {"im2col_gemm", "stride_h*stride_w beyond the phase planners: im2col over the output, the one strategy without them"};
  }
  const PhaseShape sh = phase_shape(p.kernel.h, p.stride.h, p.dilation.h);
  const PhaseShape sw = phase_shape(p.kernel.w, p.stride.w, p.dilation.w);
  const double reduction = double(cig) * sh.taps_per_phase * sw.taps_per_phase;  // K of a phase GEMM
  const int64_t gemm_channels = cog * sh.members * sw.members;  // subpixel's channel dimension
  const int64_t input_pixels = p.batch * p.input.h * p.input.w;
  // subpixel stores two W phases as interleaved register pairs: contiguous NCHW rows.
  const bool paired_stores = p.stride.w == 2 && p.kernel.w % 2 == 0;

  if (cig == 1 && cog == 1) {
    // bilinear_dw, seed_5x5: memory-bound; every GEMM tile would be 1 channel wide. (A single
    // channel is the same tensor in NHWC and NCHW; direct runs its row kernels on it.)
    return {"direct_scatter", "one channel per group (depthwise): memory-bound, direct reads the input in place"};
  }
  if (!nchw && p.groups >= t.grouped_via_nchw_groups && cig <= t.grouped_via_nchw_cig && cog <= t.grouped_via_nchw_cog) {
    // Session 31 (Zen 4): each NHWC pixel holds a few floats per group, too few for any
    // kernel's vectors (subpixel's tiles a few channels wide, direct's channel vectors a
    // fraction of a register), while NCHW direct runs each channel's rows as whole vectors. Two
    // transposes cost less than that: 4 images of 24 -> 48 channels in 24 groups, 31x64, k5 s2,
    // 1 thread: subpixel 12.5 ms, through NCHW 0.84. Fitted on the 24 grouped NHWC layers of
    // the tune data (bench/data/avx512/tune_grouped_nhwc_s31.json, 48 records: 29 -> 45 within
    // 5% of the fastest, geomean 1.55x -> 1.04x) and 16 new random grouped layers
    // (tools/random_layers_grouped.py 16 3131, tune_grouped_holdout_nhwc_s31.json: 16 -> 23 of
    // 32, 1.53x -> 1.15x), the thresholds chosen by the two sets' scores together. Not with 2
    // groups (8 images of 8 -> 16 channels, 24x7, k2 s1: subpixel 2.5x faster), nor more output
    // channels per group (e09, 16 groups of 1 -> 16: 1.4x slower at 2 threads, where the
    // bridge's three parallel steps on one image scale poorly).
    return {"direct_scatter_via_nchw", "NHWC, " + n(double(p.groups)) + " groups of " + n(double(cig)) + " -> " +
                                           n(double(cog)) + " channels: too few per pixel for vectors; direct's NCHW rows "
                                           "on NCHW copies"};
  }
  const bool one_tap = sh.taps_per_phase <= 1 && sw.taps_per_phase <= 1;
  if (!nchw && cig <= t.few_channels_via_nchw && cog <= t.few_channels_via_nchw &&
      (!one_tap || p.stride.h * p.stride.w <= 4) && !direct_uses_batch_lanes(p, kt)) {
    // Session 32 (Zen 4, bench/data/avx512/tune_few_channels_nhwc_s32.json): NHWC layers of 1-3
    // channels in and out, ungrouped, leave every NHWC kernel a few floats per pixel, as the
    // grouped ones above do. 1 thread: 4 images of 3 -> 3 channels, 256x256, k3 s2: subpixel
    // 9.9 ms, through NCHW 6.6; 1 image of 2 -> 1, k4 s2: 0.78 against 0.32. Not one-tap
    // layers of stride 4 (3 -> 3, k4 s4: subpixel's 16 stacked phases fill its tiles, 8.6 ms
    // against 9.8). All AVX-512 records: 958 -> 969 of 1100 within 5% of the fastest.
    return {"direct_scatter_via_nchw", "NHWC, " + n(double(cig)) + " -> " + n(double(cog)) +
                                           " channels per group: too few per pixel for vectors; direct's NCHW rows on "
                                           "NCHW copies"};
  }
  if (nchw && direct_uses_tap_sums(p, kt)) {
    // Session 28 (Zen 4, bench/data/avx512/tune_tap_sums_nchw.json): the 48 NCHW layers of the
    // tune data where direct's tap sums apply, re-measured: direct within 5% of the fastest
    // strategy in 95 of 96 records (the other: 64 -> 4 channels, k4 s2, subpixel 1.07x faster).
    // 16 images of 64 -> 3 channels, 32x32, k4 s2 (dcgan_g5), 1 thread: direct 0.98 ms against
    // subpixel's 1.11; 4 images of 128 -> 1, 179x256, k4 s2: 9.8 against gemm_col2im's 25.
    return {"direct_scatter", "NCHW, at most 4 output channels per group against Cin/g = " + n(double(cig)) +
                                  " and rows filling their vectors: direct tap sums (channel sums in registers, "
                                  "input read in place)"};
  }
  if (nchw && one_tap && cog <= 4 && nchw_rows_beat_lanes(p)) {
    // Session 23 (AVX2): each input element feeds at most cog multiply-adds and the input is
    // tens of megabytes: memory-bound, and direct's channel passes read it once in runs of rows.
    // 2 images of 512 -> 1 channels, 156x156, k2 s2: 15.6 ms against gemm_col2im's 35.5; 16
    // images of 128 -> 1, 130x130, k2 s2: 33.7 against 59.8 (bench/data/avx2/tune_check22.json,
    // tune_random.json).
    return {"direct_scatter", "NCHW, one input pixel per output, at most 4 output channels per group and " +
                                  n(double(cig) * double(p.input.h) * double(p.input.w) * 4 / (1 << 20)) +
                                  " MiB of input per image and group: memory-bound, direct's channel passes read it once"};
  }
  // Session 13 (bench/data/avx2/tune_diverse.json): not with so few stacked GEMM channels that
  // subpixel's tiles stay mostly empty. NCHW with many input channels: 8 images of 256 -> 1
  // channels, k2 s4, gemm_col2im 1.7x faster (with 24 -> 1, subpixel stays 1.4x ahead of direct
  // and 4x ahead of gemm_col2im). NHWC: with 12 GEMM channels (64 -> 3, k2 s4) subpixel was 2.2x
  // faster than direct's dot products on Zen 1; on Zen 3 (session 22) they were within noise of
  // each other, and the AVX2 threshold no longer sets one-tap NHWC layers apart.
  if (nchw && one_tap && gemm_channels < t.one_tap_col2im_channels_nchw && cig >= t.col2im_cin_nchw && input_pixels >= 64) {
    return {"gemm_col2im", "NCHW, one input pixel per output, " + n(double(gemm_channels)) + " GEMM channels and Cin/g = " +
                               n(double(cig)) + ": GEMM over (Cout*KH*KW) x pixels reuses each packed input row for every tap"};
  }
  // Batch lanes (direct with vectors across images) apply to thin layers of a batch of at least
  // one vector of images. Measured on AVX2 (session 9, tconv bench): faster than direct's rows
  // and dot products, subpixel and gemm_col2im on 9 of 10 such layers of 8-32 images in each
  // layout (e.g. 16 images of 64 -> 3 channels, 64x64, k4 s2, NCHW: 16.0 ms against
  // gemm_col2im's 21.2), except where every output reads one input pixel (k <= s): then each
  // input vector is loaded once per output pixel it reaches, while subpixel stacks all phases on
  // one GEMM and loads it once. NCHW one-tap layers: subpixel faster on 3 of 4 (1.1-1.4x), tied
  // on the 4th; NHWC: direct faster with at most 9 GEMM channels (1.5x), subpixel with 16
  // (48 -> 1 channels, k = s = 4: 1.5x / 1.8x at 1 / 2 threads).
  const bool one_tap_subpixel = one_tap && (nchw || gemm_channels >= t.one_tap_subpixel_channels_nhwc);
  if (cog <= 4 && direct_uses_batch_lanes(p, kt)) {
    if (one_tap_subpixel) {
      return {"subpixel", "one input pixel per output and " + n(double(gemm_channels)) +
                              " GEMM channels: subpixel loads each input once for all stacked phases"};
    }
    // Session 27 (Zen 4, bench/data/avx512/tune_lanes_panels*.json): NCHW stride-2 layers whose
    // two W phases are stored as register pairs and whose phase rows are whole pixel panels:
    // subpixel's tiles then store whole rows and pack each panel from one input row, and with
    // 8-16 GEMM channels its tile is mostly full; direct's lanes pay two transposes. 16 images
    // of 64 -> 3 channels, k4 s2, 1 / 2 threads: 32x32 (dcgan_g5) direct 1.22 / 0.64 ms,
    // subpixel 1.11 / 0.56; 128 -> 3 channels 3.15 / 1.50 against 2.30 / 1.09. Not on rows of
    // 40 or 48 pixels (direct 1.8x / 1.3x faster), nor with 4 GEMM channels (64 -> 1: both lose
    // to gemm_col2im), nor on AVX2 (Zen 3: dcgan_g5 direct 1.4x faster).
    if (nchw && paired_stores && p.output.w % (2 * kt.nr) == 0 && gemm_channels >= t.lanes_panel_channels) {
      return {"subpixel", "NCHW stride-2 phase rows of whole " + n(double(kt.nr)) + "-pixel panels and " +
                              n(double(gemm_channels)) + " GEMM channels: subpixel stores whole tile rows"};
    }
    return {"direct_scatter", "at most 4 output channels per group and a batch of at least one vector of images: "
                              "direct batch lanes (vectors across images)"};
  }
  if (nchw && !one_tap && (p.input.h * p.input.w <= t.image_lanes_pixels || cig <= t.image_lanes_cin) &&
      direct_uses_image_lanes(p, kt)) {
    // Session 17 (bench/data/avx2/tune_thin_nchw.json): NCHW layers of at most 4 output channels
    // per group and at least 32 input channels, too few images for batch lanes. Direct stages
    // each image pixel-major and runs dot products along the input channels; on small images
    // it beat every other strategy (256 -> 2 channels, 7x7, k5 s2, 1 image: 0.051 ms against
    // gemm_col2im's 0.104 and subpixel's 0.50), on 56x56 ones gemm_col2im's larger GEMMs won.
    // Session 22 (Zen 3): with only 32 input channels per group on any image size too (32 -> 1,
    // 256x256, k5 s3: 7.5 against subpixel's 14.7 ms; 32 -> 1, 44x29, k7 s2: 1.5x).
    return {"direct_scatter", "NCHW, at most 4 output channels per group against Cin/g = " + n(double(cig)) +
                                  ", too few images for lanes across them, a small image or few input channels: "
                                  "direct dot products on each image staged pixel-major"};
  }
  if (nchw && one_tap_subpixel && p.groups == 1 && (sh.tapped_fraction < 1 || sw.tapped_fraction < 1) &&
      gemm_channels >= t.one_tap_untapped_via_channels) {
    // Session 34 (Zen 2, AVX2): phases no tap reaches (k < s) leave gaps in every NCHW output row:
    // subpixel fills such rows with bias first and stores the tapped phases' outputs s apart over
    // it, writing every line twice; through NHWC each pixel's channels are whole vectors and the
    // transpose writes whole rows. 8 images of 256 -> 96 channels, 33x42, k1 s2, 1 / 2 threads:
    // subpixel 12.4 / 7.7 ms, through NHWC 8.7 / 4.4 (bench/data/avx2/tune_zen2_s34.json, r08);
    // the Zen 3 and Zen 1 data agree (48 -> 128, k1 s2: 0.97x / 0.75x). Not with few GEMM
    // channels (128 -> 8, k1 s2: through NHWC 1.9x slower), whose copies outweigh the GEMM.
    return {"subpixel_via_nhwc", "NCHW, one input pixel per output, phases no tap reaches and " + n(double(gemm_channels)) +
                                     " GEMM channels: subpixel on NHWC copies writes whole rows instead of strided phase outputs"};
  }
  const double macs_per_element = double(p.useful_macs()) / double(p.input_elements() + p.output_elements());
  if (nchw && one_tap_subpixel && reduction >= double(t.one_tap_subpixel_reduction) &&
      macs_per_element < t.one_tap_subpixel_max_macs) {
    // Each output reads one input pixel: subpixel stacks every phase on one GEMM, so each input
    // value is loaded once for all of them, where direct's row kernels load it per phase. With
    // hundreds of multiply-adds per element (unet_up1: 683) the NHWC copies cost too little to
    // matter and the via rule below takes it: 47.9 against 49.6 ms at 2 threads.
    return {"subpixel", "NCHW, one input pixel per output (k <= s) and Cin/g = " + n(reduction) +
                            ": subpixel runs all stacked phases as one GEMM"};
  }
  if (nchw && cog <= t.small_cout && reduction <= double(t.small_cout_max_reduction) && direct_stages_nchw_input(p)) {
    // dcgan_g5, tfgan_4: a GEMM tile over output channels would be mostly padding; direct's
    // row kernel runs up to 8 output rows x 4 channels per input load on a staged image. Not
    // with a long reduction on AVX2: 4 images of 96 -> 1 and 96 -> 3 channels, k7x5 s2 and k5
    // s3 (K 840 and 267), gemm_col2im 1.3x faster (Zen 1; on Zen 3, session 22, the limit rose
    // from 64 to 512: 16 -> 8 channels in 2 groups, k7x5 s1, K 280: direct 1.9x faster).
    return {"direct_scatter", "NCHW with at most " + n(double(t.small_cout)) + " output channels per group on a small image: direct row kernels on the staged input"};
  }
  if (!nchw && gemm_channels <= t.dot_channels_nhwc && !one_tap_subpixel && direct_uses_dot_products(p, kt)) {
    // dcgan_g5, tfgan_4: a GEMM tile over (few) output channels would be mostly padding; direct
    // runs each output channel as dot products along the contiguous input channels, several
    // pixels per weight load. Measured on 20 random NHWC layers with 1-8 output channels
    // (bench/data/tune_thin_nhwc.json): direct was fastest on all 16 with at most 16 GEMM
    // channels at 1 thread (14 at 2; e.g. 128 -> 4 channels, 56x56, 3x3 s1: 1.14 ms against
    // gemm_col2im's 2.77), subpixel on the 4 with 24-32 (k = s layers, stacked phases fill its
    // tiles). Threshold 16 from tools/derive_auto_rules.py over all the data (4: 299 of 354
    // picks within 5%, 16: 317, 32: 307).
    return {"direct_scatter", "NHWC with " + n(double(gemm_channels)) +
                                  " <= " + n(double(t.dot_channels_nhwc)) + " GEMM channels: direct dot products along the input channels"};
  }
  if (nchw && reduction <= double(t.short_reduction) && !paired_stores) {
    // A GEMM tile would do a few multiply-adds per element it stores, and NCHW phase outputs
    // are strided; direct writes whole output rows. Except with many GEMM channels: then the
    // output is most of the traffic, and NHWC writes it as whole channel vectors, with one
    // contiguous transpose. Session 22 (Zen 3, bench/data/avx2/): 8 -> 256 channels, k4 s3,
    // 1 image, 1 / 2 threads: direct 8.5 / 4.1 ms, through NHWC 4.2 / 2.2; 1 -> 64 channels,
    // 116x116, k8 s4: 22.8 / 10.7 against 15.1 / 9.1 (bench/data/avx2/tune_diverse2.json,
    // tune_holdout.json).
    // Session 30 (Zen 4): not with over 32 MiB of output that taps reach (beyond L3, so the
    // NHWC copy of the output goes to memory and back): subpixel, which writes it once, is then
    // 1.3-2.4x faster on 12 of 14 such records of the tune data and 10 new layers (1 image of
    // 1 -> 256 channels, 165x165, k3 s3: 33 / 17 ms at 1 / 2 threads against 61 / 36 through
    // NHWC and direct's 42 / 22). Smaller outputs stay below (h15: 12.8 M floats, a third of
    // them tapped, through NHWC 1.7x faster than subpixel).
    if (gemm_channels > t.short_reduction_channels && p.groups == 1) {
      const double tapped_output = double(p.output_elements()) * sh.tapped_fraction * sw.tapped_fraction;
      if (tapped_output > t.short_reduction_via_max_output) {
        return {"subpixel", "NCHW with a short reduction (" + n(reduction) + "), " + n(double(gemm_channels)) +
                                " GEMM channels and " + n(tapped_output * 4 / (1 << 20)) +
                                " MiB of output with taps: subpixel writes it once"};
      }
      return {"subpixel_via_nhwc", "NCHW with a short reduction (" + n(reduction) + ") and " + n(double(gemm_channels)) +
                                       " GEMM channels: the output dominates; subpixel on NHWC copies stores whole channel vectors"};
    }
    return {"direct_scatter", "NCHW with a short reduction (Cin/g x taps per phase = " + n(reduction) +
                                  " <= " + n(double(t.short_reduction)) + ") and strided phase outputs: direct row kernels"};
  }
  if (!nchw && reduction <= double(t.nhwc_direct_reduction) && cog >= t.nhwc_direct_cog) {
    // A GEMM tile would do a few multiply-adds per element it stores or packs; direct's vec_mat
    // reads each input channel vector in place and writes whole output channel vectors.
    return {"direct_scatter", "NHWC with a short reduction (Cin/g x taps per phase = " + n(reduction) + " <= " +
                                  n(double(t.nhwc_direct_reduction)) + ") and " + n(double(cog)) +
                                  " output channels per group: direct channel vectors"};
  }
  if (gemm_channels <= (nchw ? t.col2im_channels_nchw : t.col2im_channels_nhwc) &&
      cig >= (nchw ? t.col2im_cin_nchw : t.col2im_cin_nhwc) && input_pixels >= 64) {
    // linknet-like and Cout = 1 layers: the implicit GEMM re-packs K = taps x Cin/g input values
    // per pixel tile and reuses them for only that many channels; cols = W^T x X packs plain
    // input rows and reuses them KH*KW times more.
    return {"gemm_col2im", "few GEMM channels per phase group (" + n(double(gemm_channels)) + ") against Cin/g = " +
                               n(double(cig)) + ": GEMM over (Cout*KH*KW) x pixels, then col2im"};
  }
  if (nchw && reduction <= double(t.small_image_reduction) && input_pixels <= t.small_image_pixels) {
    return {"direct_scatter", "NCHW, small image, moderate reduction (" + n(reduction) +
                                  " <= " + n(double(t.small_image_reduction)) + "): direct row kernels beat packing small GEMM panels"};
  }
  if (nchw && cog <= 4 && !one_tap && reduction <= double(t.small_cout_max_reduction)) {
    // Session 24: the small-Cout rule above for inputs too large to stage. A GEMM tile over up
    // to 4 output channels is mostly padding here too, and direct's row kernels read the input
    // in place: 1 image of 8 -> 3 channels, 229x256, k3 s1: direct 0.69 ms against subpixel's
    // 1.86 (bench/data/avx2/tune_check22.json). Large unstaged layers of many input channels
    // (64 -> 1, 166x249, k3 s2; 128 -> 1, 179x256, k4 s2), where gemm_col2im is 1.2-1.4x faster
    // than direct, took the gemm_col2im rule before this one. On the data, it changes no other
    // pick (AVX2 677 of 756 within 5%, was 675; AVX-512 unchanged).
    return {"direct_scatter", "NCHW, at most 4 output channels per group, several taps per phase and an input too large "
                              "to stage: direct row kernels on the input in place"};
  }
  if (nchw && sw.members % kt.nr == 0) {
    // Subpixel::channels_on_m (subpixel.cpp): W phase groups of whole tile widths put pixels on
    // the tile's rows in NCHW too, so the NHWC copies below would buy nothing. fcn32_up (32 W
    // phases), 1 / 2 threads: 15.1-16.0 / 7.8-8.5 ms against 17.1 / 9.4 through NHWC copies.
    return {"subpixel", "NCHW with W phases in groups of " + n(double(sw.members)) +
                            ": subpixel's tile vectors run along output rows, one W phase per lane"};
  }
  // NCHW subpixel gathers pixel panels across rows and images of small regions and stores them
  // in stride-phase pieces, amortised over few GEMM rows; NHWC packs (or reads in place) whole
  // channel vectors and stores them whole, which outweighs two transposes where the layer does
  // enough multiply-adds per tensor element, or where input rows are so short (at most 8
  // pixels, a quarter of a pixel panel) that every NCHW panel spans several rows or images.
  // Thresholds from tools/derive_auto_rules.py over bench/data (NCHW records re-measured with
  // this strategy in session 7; 326 of 368 picks within 5% of the winner, 319 without the width
  // term). Measured there, subpixel -> this, 1 / 2 threads: dcgan_g1 (1x1 input) 0.82 -> 0.57
  // ms at 1 thread, tfgan_3 5.71 -> 5.31 / 3.42 -> 2.29, rand19 1.44 -> 0.61 / 1.07 -> 0.66;
  // not with few multiply-adds per element on wide rows (grouped_up, 99 per element, 32 wide:
  // 1.45x / 1.72x slower; unet_up4, 85, 196 wide: 1.26x / 1.37x), where the copies cost more
  // than they save.
  // Not for grouped layers: on the AVX2 data subpixel was ahead or tied on all 7 (grouped_up:
  // 20.5 against 23.5 ms at 1 thread).
  if (nchw && p.groups == 1 && ((gemm_channels <= t.via_channels && cog >= t.via_cog && macs_per_element >= t.via_macs_per_element) ||
               p.input.w <= t.via_width)) {
    return {"subpixel_via_nhwc", "NCHW with " + n(double(gemm_channels)) + " GEMM channels, " + n(macs_per_element) +
                                     " multiply-adds per tensor element and input rows " + n(double(p.input.w)) +
                                     " wide: subpixel on NHWC copies"};
  }
  return {"subpixel", "zero-free stride-phase GEMM on the packed micro-kernel"};
}

}  // namespace tconv::detail
