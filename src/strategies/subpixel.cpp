// Sub-pixel (stride-phase) strategy: the output splits into SH x SW phases, each an ordinary
// stride-1 correlation with a sub-kernel, run as an implicit GEMM on the shared engine.
//
// Zero-free: each phase is further cut into rectangular regions whose pixels all see the same
// run of valid taps (plan/geometry.hpp), and a region multiplies exactly those taps. Weights are
// packed once per (phase, group) with K ordered (tap_h, tap_w, ci) (NHWC: W taps last to
// first), so a region's taps are a few contiguous K-ranges of the same packed panels. The input
// is gathered through offset tables while packing; no zero-inserted or im2col copy exists.
//
// Orientation follows the layout so the micro-kernel's vector stores run along contiguous output:
//   NCHW: C[co][pixel] = W_phase[co][k] * X[k][pixel]   (weights are the prepacked A)
//   NHWC: C[pixel][co] = X[pixel][k] * W_phase[k][co]   (weights are the prepacked B)
#include <algorithm>
#include <limits>
#include <map>

#include "epilogue/epilogue.hpp"
#include "epilogue/phase_row.hpp"
#include "gemm/gemm.hpp"
#include "plan/aligned_buffer.hpp"
#include "plan/checked.hpp"
#include "plan/geometry.hpp"
#include "strategies/strategy.hpp"
#include "threading/parallel.hpp"

namespace tconv::detail {
namespace {

constexpr int64_t kMaxPhases = 1 << 16;

// A group of H phases times a group of W phases, each group sharing its input geometry (same
// output count, tap bases and border segments; e.g. all SW phases when KW and the crop are
// multiples of SW, as in every k == s layer). The group runs as one GEMM whose output-channel
// dimension is (co, member), member = (H member, W member): the phases are extra rows of A
// (NCHW) or columns of B (NHWC), so the input is packed once for all of them, even thin layers
// with a large stride fill the micro-kernel's tiles, and one tile writes neighbouring outputs of
// neighbouring phases.
struct PhasePlan {
  std::vector<int64_t> members_h;  // indices into phases_h_; [0] describes the geometry
  std::vector<int64_t> members;    // indices into phases_w_; [0] describes the geometry
  int64_t k_total;              // taps_h * taps_w * cig
  std::vector<int64_t> k_off;   // input offset of each k relative to the phase pixel
  std::vector<AlignedBuffer> packed;  // per group: weights, rows/columns (co, member) x K
  std::vector<int64_t> channel_off;   // output offset of each (co, member) row/column
  std::vector<int64_t> split_off;     // phase-split rows: scratch offset of each (co, member) row
  std::vector<float> bias;            // per group: bias of each (co, member)
};

struct Region {
  int64_t phase;                 // index into phases_
  int64_t q0h, q1h, q0w, q1w;    // phase-output rectangle
  std::vector<KRange> k_ranges;  // the valid taps, empty for bias-only regions
  int64_t k = 0;                 // their total length: the region's GEMM reduction
  // Multiply-adds per pixel and output channel, at least one (a bias-only region still stores).
  double work() const { return double(std::max<int64_t>(k, 1)); }
};

// The regions of one H phase and H segment, across every W phase and W segment: together they
// cover whole output rows.
struct RowBand {
  int64_t q0h, q1h;
  std::vector<int64_t> members_h;  // the H phases (pieces) of its rows, as in PhasePlan
  std::vector<int64_t> regions;
};

// One task: rows [r0, r1) of a band (rows run over batch x phase rows), every region in it,
// output channels [c0, c0 + c_count) of one group. All W phases of those output rows are
// written by the same task, while the rows are in cache.
struct Task {
  int64_t band, group;
  int64_t r0, r1;
  int64_t c0, c_count;
};

class Subpixel final : public Strategy {
 public:
  // Phases that differ only by a shift of the input (k = 4, s = 2, pad = 1 ...) are cut so their
  // common outputs form pieces of equal geometry, which group_phases() then runs as one GEMM.
  explicit Subpixel(const Problem& pr)
      : pr_(pr),
        phases_h_(align_phases(decompose_phases(pr.params.input.h, pr.params.stride.h, pr.params.kernel.h,
                                                pr.params.dilation.h, pr.params.crop.h, pr.params.output.h),
                               pr.params.stride.h)),
        phases_w_(align_phases(decompose_phases(pr.params.input.w, pr.params.stride.w, pr.params.kernel.w,
                                                pr.params.dilation.w, pr.params.crop.w, pr.params.output.w),
                               pr.params.stride.w)),
        h_groups_(group_phases(phases_h_)),
        w_groups_(group_phases(phases_w_)),
        channels_on_m_(channels_on_m(pr, phases_w_, w_groups_)),
        row_group_(stacked_w_phases(pr, channels_on_m_, w_groups_)),
        kt_(tiles_for_phases(pr, channels_on_m_, row_group_, phases_h_, phases_w_, h_groups_, w_groups_)) {
    const Params& p = pr.params;
    nchw_ = p.layout == Layout::nchw;
    xs_ = strides_of(p.layout, p.in_channels, p.input.h, p.input.w);
    ys_ = strides_of(p.layout, p.out_channels, p.output.h, p.output.w);
    const int64_t r_packed = channels_on_m_ ? kt_.mr : kt_.nr;
    const int64_t KK = p.kernel.h * p.kernel.w;
    plan_phase_split_rows();

    for (const auto& members_h : h_groups_) {
      for (const auto& members : w_groups_) {
        const int64_t ih = members_h[0];
        const Phase1D& fh = phases_h_[size_t(ih)];
        const Phase1D& fw = phases_w_[size_t(members[0])];
        const int64_t nth = int64_t(fh.taps.size()), ntw = int64_t(fw.taps.size());
        if (nth == 0 || ntw == 0) continue;  // no tap reaches these outputs: fill_bias_row()
        const int64_t nmw = int64_t(members.size()), nm = int64_t(members_h.size()) * nmw, rows = pr.cog * nm;
        PhasePlan phase{members_h, members, nth * ntw * pr.cig, {}, {}, {}, {}, {}};
        // Rows/columns (co, member), member = (H member, W member) with W fastest: member fastest
        // in NCHW (one tile writes neighbouring outputs), co fastest in NHWC (contiguous channel
        // vectors).
        auto row_of = [&](int64_t co, int64_t m) { return nchw_ ? co * nm + m : m * pr.cog + co; };
        // A member's taps are its first tap plus j * step, the same step for every member.
        const int64_t step_h = nth > 1 ? fh.taps[1].k - fh.taps[0].k : 0;
        const int64_t step_w = ntw > 1 ? fw.taps[1].k - fw.taps[0].k : 0;
        std::vector<int64_t> row_w_off(static_cast<size_t>(rows));
        phase.channel_off.resize(size_t(rows));
        if (row_writer_) phase.split_off.resize(size_t(rows));
        for (int64_t co = 0; co < pr.cog; ++co)
          for (int64_t m = 0; m < nm; ++m) {
            const Phase1D& fmh = phases_h_[size_t(members_h[size_t(m / nmw)])];
            const Phase1D& fmw = phases_w_[size_t(members[size_t(m % nmw)])];
            row_w_off[size_t(row_of(co, m))] =
                co * KK + (nth > 0 ? fmh.taps[0].k * p.kernel.w : 0) + (ntw > 0 ? fmw.taps[0].k : 0);
            phase.channel_off[size_t(row_of(co, m))] = co * ys_.c + fmh.first * ys_.h + fmw.first * ys_.w;
            if (row_writer_) {
              phase.split_off[size_t(row_of(co, m))] =
                  ((co % split_channels_) * int64_t(members_h.size()) + m / nmw) * split_rows_ * p.output.w +
                  row_writer_->position(fmw.first);
            }
          }
        for (int64_t g = 0; g < p.groups; ++g)
          for (int64_t co = 0; co < pr.cog; ++co)
            for (int64_t m = 0; m < nm; ++m) phase.bias.push_back(0.0f);
        for (int64_t g = 0; g < p.groups; ++g)
          for (int64_t co = 0; co < pr.cog; ++co)
            for (int64_t m = 0; m < nm; ++m) phase.bias[size_t(g * rows + row_of(co, m))] = pr.bias[size_t(g * pr.cog + co)];
        // K order (tap_h, tap_w, ci): input offsets and weight offsets of each k. NHWC takes the
        // W taps last to first, in ascending input pixel: with dilation 1 a tap row's channels
        // are then one contiguous run of the input (ntw * Cin/g floats) where they were ntw runs
        // of Cin/g, each a row pointer per tile row and a segment of the tile's K loop.
        const bool w_taps_reversed = !nchw_;
        auto k_of_tap = [&](int64_t jh, int64_t jw) {
          return (jh * ntw + (w_taps_reversed ? ntw - 1 - jw : jw)) * pr.cig;
        };
        std::vector<int64_t> k_w_off(size_t(phase.k_total));
        phase.k_off.resize(size_t(phase.k_total));
        for (int64_t jh = 0; jh < nth; ++jh)
          for (int64_t jw = 0; jw < ntw; ++jw)
            for (int64_t ci = 0; ci < pr.cig; ++ci) {
              const size_t k = size_t(k_of_tap(jh, jw) + ci);
              phase.k_off[k] = ci * xs_.c + fh.taps[size_t(jh)].base * xs_.h + fw.taps[size_t(jw)].base * xs_.w;
              k_w_off[k] = ci * pr.cog * KK + jh * step_h * p.kernel.w + jw * step_w;
            }
        if (phase.k_total > 0) {
          for (int64_t g = 0; g < p.groups; ++g) {
            AlignedBuffer buf(size_t(round_up(rows, r_packed) * phase.k_total), /*huge_pages=*/true);
            kt_.pack(pr.weight.data() + g * pr.cig * pr.cog * KK, row_w_off.data(), rows, k_w_off.data(),
                     phase.k_total, r_packed, buf.data());
            phase.packed.push_back(std::move(buf));
          }
        }
        const int64_t phase_index = int64_t(phases_.size());
        phases_.push_back(std::move(phase));
        for (size_t hs = 0; hs < fh.segments.size(); ++hs) {
          const auto& sh = fh.segments[hs];
          RowBand& band = band_for(ih, int64_t(hs), sh, members_h);
          for (const auto& sw : fw.segments) {
            Region region{phase_index, sh.q0, sh.q1, sw.q0, sw.q1, {}};
            if (sw.tap_end > sw.tap_begin) {
              for (int64_t jh = sh.tap_begin; jh < sh.tap_end; ++jh) {
                const int64_t a = k_of_tap(jh, sw.tap_begin), b = k_of_tap(jh, sw.tap_end - 1);
                region.k_ranges.push_back({std::min(a, b), std::max(a, b) + pr.cig});
              }
            }
            const int64_t pixels = (sh.q1 - sh.q0) * (sw.q1 - sw.q0);
            for (const auto& r : region.k_ranges) region.k += r.end - r.begin;
            executed_ += uint64_t(p.batch) * uint64_t(pixels) * uint64_t(region.k) * uint64_t(rows) * uint64_t(p.groups);
            band.regions.push_back(int64_t(regions_.size()));
            max_width_ = std::max(max_width_, sw.q1 - sw.q0);
            regions_.push_back(std::move(region));
          }
        }
      }
    }
    build_tasks();
    plan_bias_fill();
  }

  size_t workspace_floats(int threads) const override {
    return size_t(threads) * per_thread_floats();
  }

  void execute(const float* x, float* y, float* ws, int threads) const override { run(x, y, ws, threads, nullptr); }

  bool execute_by_rows(const float* x, float* y, float* ws, int threads, const OutputRowSink& sink) const override {
    if (!tasks_finish_rows_) return false;
    run(x, y, ws, threads, &sink);
    return true;
  }

  std::string implementation() const override {
    return std::string(row_writer_ ? "subpixel_phase_rows:" : "subpixel:") + kt_.gemm_name;
  }
  uint64_t executed_macs() const override { return executed_; }

 private:
  void run(const float* x, float* y, float* ws, int threads, const OutputRowSink* sink) const {
    const Params& p = pr_.params;
    if (!bias_rows_.empty() || !bias_cols_.empty()) {
      // First, so the GEMMs then overwrite the outputs with taps. In contiguous ranges of rows:
      // one row per task made 2 threads slower than 1 on layers of narrow bias-only rows (4
      // images of 48 -> 16 channels, 63x8, k1 s2: a third of the time in this loop, a third in
      // OpenMP's scheduler, rows of 15 floats sharing cache lines between the threads).
      parallel_ranges(threads, p.batch * p.output.h, [&](int64_t begin, int64_t end) {
        int64_t run_begin = -1;  // of a run of one image's rows no task writes: final now
        for (int64_t t = begin; t < end; ++t) {
          const int64_t n = t / p.output.h, oh = t % p.output.h;
          fill_bias_row(y + n * ys_.n, oh);
          if (!sink || task_rows_[size_t(oh)]) continue;
          if (run_begin < 0) run_begin = oh;
          if (oh + 1 == p.output.h || t + 1 == end || task_rows_[size_t(oh + 1)]) {
            sink->rows_done(n, run_begin, oh + 1);
            run_begin = -1;
          }
        }
      });
    }
    auto body = [&](int64_t t, int tid) {
      const Task& task = tasks_[size_t(t)];
      run_task(task, x, y, ws + size_t(tid) * per_thread_floats());
      if (sink) rows_done(task, *sink);
    };
    // Contiguous shares (see build_tasks()), or as the tasks come, largest first.
    if (contiguous_shares_ || sink) {
      parallel_for_contiguous(threads, int64_t(tasks_.size()), body, [&](int64_t t) { return task_cost_[size_t(t)]; });
    } else {
      parallel_for(threads, int64_t(tasks_.size()), body);
    }
  }

  // Whether a band's H members are every H phase in output order: its rows, band row by band
  // row, are then consecutive output rows.
  bool consecutive_rows(const RowBand& band) const {
    const int64_t first = phases_h_[size_t(band.members_h[0])].first;
    bool consecutive = int64_t(band.members_h.size()) == pr_.params.stride.h;
    for (size_t m = 0; consecutive && m < band.members_h.size(); ++m)
      consecutive = phases_h_[size_t(band.members_h[m])].first == first + int64_t(m);
    return consecutive;
  }

  // Pixels of the shortest run of consecutive output rows rows_done() tells at once, for tasks
  // of `rows_chunk` band rows (a run ends with its image).
  int64_t shortest_row_run(int64_t rows_chunk) const {
    const Params& p = pr_.params;
    int64_t shortest = p.output.h * p.output.w;
    for (const RowBand& band : bands_) {
      const int64_t rows = consecutive_rows(band) ? std::min(rows_chunk, band.q1h - band.q0h) * p.stride.h : 1;
      shortest = std::min(shortest, rows * p.output.w);
    }
    return shortest;
  }

  // The output rows a task finishes (with tasks_finish_rows_): every H member's row of each of its
  // band rows; in runs of whole images' consecutive rows where its members are every H phase.
  void rows_done(const Task& task, const OutputRowSink& sink) const {
    const RowBand& band = bands_[size_t(task.band)];
    const int64_t band_rows = band.q1h - band.q0h, s = pr_.params.stride.h;
    const int64_t first = phases_h_[size_t(band.members_h[0])].first;
    const bool consecutive = consecutive_rows(band);
    for (int64_t row = task.r0; row < task.r1;) {
      const int64_t n = row / band_rows, qh = band.q0h + row % band_rows;
      if (consecutive) {
        const int64_t rows = std::min(task.r1, (n + 1) * band_rows) - row;  // to the task's or the image's end
        sink.rows_done(n, first + qh * s, first + (qh + rows) * s);
        row += rows;
        continue;
      }
      for (int64_t member : band.members_h) {
        const int64_t oh = phases_h_[size_t(member)].first + qh * s;
        sink.rows_done(n, oh, oh + 1);
      }
      ++row;
    }
  }

  // Rows of a band per task: about kTaskOutputPixels output pixels (all W phases), enough to
  // amortise packing and few enough that the rows stay in cache while every W phase writes them.
  static constexpr int64_t kTaskOutputPixels = 2048;
  static constexpr int64_t kTasksPerThread = 4;
  static constexpr double kMinSplitTaskMacs = double(1 << 22);  // build_tasks(): channel splits
  static constexpr double kSplitMinGain = 0.1;                    // build_tasks(): row splits
  static constexpr int64_t kSplitMinTasksPerThread = 2;
  static constexpr int64_t kBeyondL2WeightFloats = 256 << 10;  // 1 MiB: build_tasks()
  static constexpr int64_t kMinGemmPixelTiles = 8;
  // build_tasks(): streaming the weights once costs about as much as half a pixel tile against
  // them (Zen 2, NCHW unet_up1: 2-row tasks, one panel group each, 19.8 ms at 2 threads; 7-row
  // tasks, 4 panel groups per thread instead of 7 for the same tiles, 18.7 ms).
  static constexpr double kStreamedATiles = 0.5;
  // execute_by_rows(): only where rows_done() tells runs of at least this many output pixels,
  // each then transposed as a whole. Shorter runs (single rows of 36 to 57 pixels, where H phases
  // without taps or with other tap counts split the bands) ran up to 1.2x slower at 2 threads
  // (Zen 2) than one transpose of the whole output after the inner plan.
  static constexpr int64_t kMinRowRunPixels = 64;
  static constexpr int64_t kSharedInputBytes = 256 << 10;  // half of a Zen 1 L2
  int64_t rows_per_task() const { return std::max<int64_t>(1, kTaskOutputPixels / pr_.params.output.w); }
  // Output channel rows/columns ((co, member) pairs) per task. NHWC: each task packs its pixels'
  // A panels once for all its channels, so wide chunks amortise that packing: unet_up1 (2048
  // stacked channels, K 1024), AVX-512 Zen 4, 1 thread: 32.0 -> 30.3 ms with 1024 instead of
  // 256 (packing was 6% of the time); the other suite layers within noise.
  int64_t channel_chunk(int64_t rows) const { return channels_on_m_ ? rows : round_up(1024, kt_.nr); }

  size_t per_thread_floats() const {
    // Pack buffer, two int64 offset tables of one region's pixels in a task (2 floats each), the
    // phase-split rows.
    return cache_line_floats(gemm_pack_floats(kt_) + size_t(4 * rows_chunk_ * max_width_)) + cache_line_floats(size_t(split_floats_));
  }
  float* split_scratch(float* ws) const { return ws + cache_line_floats(gemm_pack_floats(kt_) + size_t(4 * rows_chunk_ * max_width_)); }

  // The GEMM tile for the phase groups' channel dimensions ((co, member) rows), weighted by work.
  // NCHW puts output channels on the tile's rows and pixels on its vectors, except when every
  // W phase group has a multiple of NR members: a vector then holds NR neighbouring output
  // columns of one channel (one per W phase), so pixels go on the rows as in NHWC. Else, with
  // a stride of 32 (fcn32_up), each pixel vector would be stored one float at a time.
  // auto_select.cpp approximates this with the largest group of equal tap counts.
  static bool channels_on_m(const Problem& pr, const std::vector<Phase1D>& phases_w,
                            const std::vector<std::vector<int64_t>>& w_groups) {
    if (pr.params.layout != Layout::nchw) return false;
    for (const auto& members : w_groups)
      if (!phases_w[size_t(members[0])].taps.empty() && int64_t(members.size()) % pr.kernels->nr != 0) return true;
    return false;
  }

  // NCHW, channels on the rows, all SW phases of stride 3 or 4 in one group (kw a multiple of
  // the stride, as in every k = s layer), outputs narrower than the phase-split rows take: a
  // group's rows (co, H member, W member 0 .. SW-1) are SW neighbouring outputs, which the
  // micro-kernel interleaves in registers and stores as whole vectors (TileStore::
  // rows_interleaved) on a tile of a multiple of SW rows. SW then, else 1. (Stride 2 pairs up
  // on every tile already.) These layers stored each tile's rows one float at a time before: 13
  // such layers of the tune data, Zen 4, best of 3 alternating runs, 0.81x the time (1 image of
  // 64 -> 256, 28x28, k3 s3: 4.46 -> 2.78 ms at 1 thread; 1 -> 256, 16x16, k3 s3: 0.38 -> 0.09).
  // Wider outputs keep the phase-split rows: there, tiles storing straight into an output far
  // beyond the caches were up to 1.25x slower than a cached scratch interleaved row by row.
  // Only onto a tile that runs at the full rate: AVX2's one tile of a multiple of 4 rows is the
  // short 4x16 (short_tile_rate), and stride-4 layers ran faster scattered from the 6x16 (16
  // NCHW layers of the tune data, Zen 2, 1 thread, best of 2 alternating runs: 0.934x the time;
  // 4 images of 128 -> 64 channels, 18x18, k4 s4: 8.65 -> 5.31 ms).
  static int64_t stacked_w_phases(const Problem& pr, bool channels_on_m, const std::vector<std::vector<int64_t>>& w_groups) {
    const int64_t s = pr.params.stride.w;
    if (!channels_on_m || s < 3 || s > kMaxRowGroup || pr.params.output.w >= kSplitMinOutputWidth) return 1;
    const KernelTable& kt = *pr.kernels;
    auto fits = [&](const KernelTable* t) { return t != nullptr && t->mr % s == 0; };
    if (!fits(&kt) && !fits(kt.grouped_tile) && !(fits(kt.short_tile) && kt.short_tile_rate >= 1)) return 1;
    for (const auto& members : w_groups)
      if (int64_t(members.size()) == s) return s;
    return 1;
  }

  static const KernelTable& tiles_for_phases(const Problem& pr, bool channels_on_m, int64_t row_group,
                                             const std::vector<Phase1D>& phases_h,
                                             const std::vector<Phase1D>& phases_w,
                                             const std::vector<std::vector<int64_t>>& h_groups,
                                             const std::vector<std::vector<int64_t>>& w_groups) {
    std::vector<ChannelDim> dims;
    for (const auto& members_h : h_groups) {
      for (const auto& members : w_groups) {
        const Phase1D& fh = phases_h[size_t(members_h[0])];
        const Phase1D& fw = phases_w[size_t(members[0])];
        const int64_t members_count = int64_t(members_h.size() * members.size());
        dims.push_back({pr.cog * members_count, double(fh.taps.size() * fw.taps.size()) * double(fh.count * fw.count)});
      }
    }
    return tiles_for_channels(*pr.kernels, channels_on_m, dims.data(), int64_t(dims.size()), row_group);
  }

  // Phases of one dimension with equal output count, tap bases, tap spacing and border segments,
  // in order of their first member, each group's members in order of their first output (so
  // stacked W phases are rows of neighbouring outputs); phases no output falls into are left out.
  static std::vector<std::vector<int64_t>> group_phases(const std::vector<Phase1D>& phases) {
    std::vector<std::vector<int64_t>> groups;
    auto same = [](const Phase1D& a, const Phase1D& b) {
      if (a.count != b.count || a.taps.size() != b.taps.size() || a.segments.size() != b.segments.size()) return false;
      for (size_t j = 0; j < a.taps.size(); ++j) {
        if (a.taps[j].base != b.taps[j].base) return false;
        if (j > 0 && a.taps[j].k - a.taps[j - 1].k != b.taps[j].k - b.taps[j - 1].k) return false;
      }
      for (size_t j = 0; j < a.segments.size(); ++j) {
        const auto &x = a.segments[j], &y = b.segments[j];
        if (x.q0 != y.q0 || x.q1 != y.q1 || x.tap_begin != y.tap_begin || x.tap_end != y.tap_end) return false;
      }
      return true;
    };
    for (size_t i = 0; i < phases.size(); ++i) {
      if (phases[i].count == 0) continue;
      bool placed = false;
      for (auto& grp : groups) {
        if (same(phases[size_t(grp[0])], phases[i])) {
          grp.push_back(int64_t(i));
          placed = true;
          break;
        }
      }
      if (!placed) groups.push_back({int64_t(i)});
    }
    for (auto& grp : groups)
      std::stable_sort(grp.begin(), grp.end(), [&](int64_t a, int64_t b) { return phases[size_t(a)].first < phases[size_t(b)].first; });
    return groups;
  }

  RowBand& band_for(int64_t phase_h, int64_t seg_h, const Phase1D::Segment& sh, const std::vector<int64_t>& members_h) {
    const std::pair<int64_t, int64_t> key{phase_h, seg_h};
    auto it = band_index_.find(key);
    if (it != band_index_.end()) return bands_[size_t(it->second)];
    band_index_[key] = int64_t(bands_.size());
    bands_.push_back({sh.q0, sh.q1, members_h, {}});
    return bands_.back();
  }

  // NCHW with output channels on the tile's rows and a W stride of 3 and more: a tile row holds
  // one W phase's outputs, s apart, which the tile stores one by one, into as many output rows
  // as it has tile rows, while the pixel panel's tiles run down every channel (rand12: 8 images,
  // 8 -> 64 channels, 59x59, k4 s4, Zen 3 AVX2, 1 thread: 45 ms, against 23 for the same GEMM
  // in NHWC; stores to memory waited on). Instead a task's GEMMs write phase-split rows (each W
  // phase's outputs contiguous, as PhaseRowWriter takes them) to a per-thread scratch with whole
  // vector stores and the epilogue, and each finished row is interleaved into the output, one
  // output row after the other: rand12 45 -> 33 ms. Rows under kSplitMinOutputWidth lost (the
  // output fits in cache, and the row overheads are not repaid: a 44-wide row 1.4x slower), as
  // did stride 2, whose row pairs already leave the tile as whole vectors, and strides beyond
  // the vector width, which the writer interleaves element by element (random layers of
  // strides 9-16: up to 1.56x slower). Needs every W phase to have taps (the writer writes them
  // all). On a Zen 4 (AVX-512, session 25), with the permute interleave at strides 3 and 4:
  // 22 layers of the tune sets, 0.69x / 0.67x of the time at 1 / 2 threads (rand12 52 -> 22 ms,
  // rand06 25 -> 8.9); at strides 5 to 16, where the writer transposes 16 x 16 blocks, 16 random
  // layers ran 1.30x / 1.32x slower.
  void plan_phase_split_rows() {
    const Params& p = pr_.params;
    if (!nchw_ || !channels_on_m_ || p.stride.w < 3 || p.stride.w > subpixel_phase_split_max_stride(kt_) ||
        p.output.w < kSplitMinOutputWidth) {
      return;
    }
    split_phases_w_ = decompose_phases(p.input.w, p.stride.w, p.kernel.w, p.dilation.w, p.crop.w, p.output.w);
    for (const Phase1D& ph : split_phases_w_)
      if (ph.count > 0 && ph.taps.empty()) return;
    int64_t members_h = 1;
    for (const auto& g : h_groups_) members_h = std::max(members_h, int64_t(g.size()));
    // As many output channels as fit the scratch with one band row each, in whole tiles of A
    // rows (a chunk starts at channel row co * members, a multiple of MR); then more band rows.
    const int64_t row_floats = members_h * p.output.w;
    if (kt_.mr * row_floats > kSplitMaxScratchFloats) return;  // a tile's rows of one band row: over 16 MiB
    split_channels_ = std::max<int64_t>(kt_.mr, kSplitScratchFloats / row_floats / kt_.mr * kt_.mr);
    if (split_channels_ >= pr_.cog) {
      split_channels_ = pr_.cog;
      split_rows_ = std::max<int64_t>(1, kSplitScratchFloats / (pr_.cog * row_floats));
    }
    split_floats_ = split_channels_ * split_rows_ * row_floats;
    row_writer_ = std::make_unique<PhaseRowWriter>(split_phases_w_, p.stride.w, kt_);
  }

  // A band's rows run over the whole batch, so layers with small images still fill the
  // micro-kernel's tiles. Tasks split rows and channels, never K, so no result depends on them.
  void build_tasks() {
    // Channel chunks only matter for NHWC (N = channels); every region of a band has the same
    // H phase, so the widest group's channel count bounds them.
    int64_t channels = pr_.cog;
    for (const auto& ph : phases_) channels = std::max(channels, pr_.cog * members_of(ph));
    int64_t cc = channel_chunk(channels);
    // Multiply-adds per band row and channel (at least one per output: bias-only regions).
    std::vector<double> per_row(bands_.size());
    double total = 0;
    for (size_t b = 0; b < bands_.size(); ++b) {
      for (int64_t r : bands_[b].regions) {
        const Region& rg = regions_[size_t(r)];
        per_row[b] += double(rg.q1w - rg.q0w) * rg.work();
      }
      total += per_row[b] * double(band_rows(b)) * double(channels) * double(pr_.params.groups);
    }
    // Every thread busy to the end: halve the row chunk while the largest task holds more than
    // 1/kTasksPerThread of a thread's share (small layers with one tall band and thin border
    // bands: stride1_full at 2 threads had 3 tasks of 17 rows and 5 of one) and still holds two
    // pixel tiles of the widest region.
    const int64_t pixel_tile = channels_on_m_ ? kt_.nr : kt_.mr;
    const double wanted = double(kTasksPerThread * std::max(1, pr_.max_threads));
    auto largest = [&](int64_t rows_chunk) {
      double most = 0;
      for (size_t b = 0; b < bands_.size(); ++b)
        most = std::max(most, per_row[b] * double(std::min(rows_chunk, band_rows(b))) * double(std::min(cc, channels)));
      return most;
    };
    int64_t rows_chunk = rows_per_task();
    // NHWC groups share every input pixel (each reads its own channels of it), so all groups run
    // over a chunk of rows while its input is in L2: chunks of at most kSharedInputBytes of
    // input, groups inner. grouped_up (4 groups, 512-byte pixels), 1 / 2 threads: 19.9 / 10.0 ->
    // 17.3 / 9.3 ms. NCHW groups read disjoint planes and keep whole chunks. With more threads,
    // each runs its own contiguous share of the tasks first (contiguous_shares_ below): dealt
    // out as they come, a chunk's groups went to both threads, so each core read every chunk's
    // input into its L2. 16 grouped NHWC layers of the tune data, Zen 2, 2 threads, best of 2
    // alternating runs: 0.77x the time (grouped_up 3.84 -> 3.19 ms), none slower beyond noise.
    const bool groups_share_pixels = !nchw_ && pr_.params.groups > 1;
    if (groups_share_pixels) {
      const int64_t row_bytes = pr_.params.input.w * pr_.params.in_channels * int64_t(sizeof(float));
      rows_chunk = std::min(rows_chunk, std::max<int64_t>(1, kSharedInputBytes / row_bytes));
    }
    // Whether the channel split below halves cc once more for chunks of `rows_chunk` rows.
    auto splits_channels = [&](int64_t rows_chunk) {
      return !channels_on_m_ && largest(rows_chunk) * wanted > total && std::min(cc, channels) >= 4 * kt_.nr &&
             largest(rows_chunk) >= 2 * kMinSplitTaskMacs;
    };
    // A band of `rows` rows in equal chunks of at most rows_chunk (no small remainder task):
    // their count and rows.
    auto equal_chunks = [](int64_t rows, int64_t rows_chunk) {
      const int64_t chunks = (rows + rows_chunk - 1) / rows_chunk;
      return std::pair<int64_t, int64_t>{chunks, (rows + chunks - 1) / chunks};
    };
    // The channel split: halves cc, in whole panels, while splits_channels() holds.
    auto split_channels = [&](int64_t rows_chunk) {
      while (splits_channels(rows_chunk)) cc = round_up(std::min(cc, channels) / 2, kt_.nr);
    };
    auto task_count = [&](int64_t rows_chunk) {
      int64_t count = 0;
      for (size_t b = 0; b < bands_.size(); ++b) count += equal_chunks(band_rows(b), rows_chunk).first;
      return count * pr_.params.groups;
    };
    // NCHW weights beyond L2 are a streamed A: the GEMM reads all of them once per group of
    // pixel panels (gemm_streamed_a_group_columns), so a task of fewer pixels reads them as often.
    auto a_streamed = [&](const Region& rg) {
      return channels_on_m_ && pr_.cog * members_of(phases_[size_t(rg.phase)]) * rg.k > kBeyondL2WeightFloats;
    };
    // Estimated time of each task on one thread, dealt largest first to the least loaded thread
    // (as the dynamic schedule runs them): the finish of the last thread, in pixel tiles x K.
    auto makespan = [&](int64_t rows_chunk) {
      std::vector<double> task_cost;
      for (size_t b = 0; b < bands_.size(); ++b) {
        const int64_t rows = band_rows(b), chunk = equal_chunks(rows, rows_chunk).second;
        for (int64_t r0 = 0; r0 < rows; r0 += chunk) {
          double cost = 0;
          for (int64_t r : bands_[b].regions) {
            const Region& rg = regions_[size_t(r)];
            const int64_t pixels = std::min(chunk, rows - r0) * (rg.q1w - rg.q0w);
            double tiles = double(ceil_div(pixels, pixel_tile));
            if (a_streamed(rg)) tiles += kStreamedATiles * double(ceil_div(pixels, gemm_streamed_a_group_columns(rg.k, kt_)));
            cost += tiles * rg.work();
          }
          for (int64_t g = 0; g < pr_.params.groups; ++g) task_cost.push_back(cost);
        }
      }
      std::sort(task_cost.begin(), task_cost.end(), std::greater<double>());
      std::vector<double> load(size_t(std::max(1, pr_.max_threads)), 0.0);
      for (double c : task_cost) *std::min_element(load.begin(), load.end()) += c;
      return *std::max_element(load.begin(), load.end());
    };
    auto finest_halving = [&](int64_t rows_chunk) {
      while (rows_chunk > 1 && largest(rows_chunk) * wanted > total && (rows_chunk / 2) * max_width_ >= 2 * pixel_tile)
        rows_chunk /= 2;
      return rows_chunk;
    };
    // The mean pixels of a region GEMM (weighted by multiply-adds) in chunks of `rows_chunk`.
    auto pixels_per_gemm = [&](int64_t rows_chunk) {
      double weight = 0, sum = 0;
      for (size_t b = 0; b < bands_.size(); ++b)
        for (int64_t r : bands_[b].regions) {
          const Region& rg = regions_[size_t(r)];
          const double w = double(band_rows(b) * (rg.q1w - rg.q0w)) * rg.work();
          weight += w;
          sum += w * double(std::min(rows_chunk, band_rows(b)) * (rg.q1w - rg.q0w));
        }
      return weight > 0 ? sum / weight : 0.0;
    };
    // NHWC weights beyond L2 stream from L3 once per region GEMM. Where chunks of the finest
    // halving hold few pixel tiles of each region (small images: regions 1-3 pixels wide, 16
    // of them in dcgan_g2's 8-row chunks), each chunk reads them for little work; the tasks are
    // then made by channel shares first (the split below), the rows halved only as still needed.
    // 28 NHWC layers where that changes the tasks (24 random ones of 2-16 images of 3x3 to 12x12,
    // 128-512 -> 64-384 channels, and 4 of the tune data), Zen 2, best of 2 alternating runs:
    // 0.975x / 0.947x the time at 1 / 2 threads (dcgan_g2 9.28 / 5.14 -> 8.97 / 4.59 ms), none
    // slower beyond 1.3%.
    int64_t weight_floats = 0;
    for (const auto& ph : phases_) weight_floats = std::max(weight_floats, ph.k_total * pr_.cog * members_of(ph));
    if (!channels_on_m_ && weight_floats > kBeyondL2WeightFloats &&
        pixels_per_gemm(finest_halving(rows_chunk)) < double(kMinGemmPixelTiles * pixel_tile)) {
      split_channels(rows_chunk);
    }
    const int64_t rows_chunk_max = rows_chunk;
    const int64_t finest = finest_halving(rows_chunk);
    rows_chunk = finest;
    // NHWC: a coarser one of those halvings where its tasks end sooner on the plan's threads. A
    // region narrower than a pixel tile (a border column one pixel wide) runs a tile per chunk
    // however few rows the chunk holds, so halving its rows doubles what it pays for, which the
    // finer tasks win back only where they even out the threads. Estimated from the tasks' pixel
    // tiles x K, dealt largest first to the least loaded thread (as the dynamic schedule runs
    // them). 29 NHWC layers of the tune data where it changes the chunk, Zen 2, best of 2
    // alternating runs: 0.91x / 0.75x the time at 1 / 2 threads (fcn8_up2, regions 1, 15 and 1
    // pixels wide, 17 rows: 1-row chunks took 0.086 ms of work against 0.066 in whole bands, and
    // 0.053 ms at 2 threads, 4-row ones 0.036). (NCHW runs a narrow region's few pixels as one
    // panel against every channel either way, and its fcn8_up2 ran faster in the finer tasks:
    // 0.045 against 0.063 ms.) Except where it streams its weights: there the estimate counts
    // what each task pays for reading them (kStreamedATiles per panel group). 31 NCHW layers
    // where that changes the chunk (tune data and bench/data/small_images_big_weights_s37.csv),
    // Zen 2, best of 2 alternating runs: 0.96x / 0.96x the time at 1 / 2 threads (2 images of
    // 384 -> 256 channels, 10x10, k4 s1: 10.6 -> 9.2 ms at 1 thread; 4 images of 128 -> 256,
    // 12x5, k4 s2: 3.9 / 2.3 -> 3.2 / 1.8 ms; unet_up1 19.8 -> 18.4 ms at 2 threads).
    bool any_streamed = false;
    for (const auto& rg : regions_) any_streamed = any_streamed || a_streamed(rg);
    if (!channels_on_m_ || any_streamed) {
      // A coarser chunk only where the estimate gains kSplitMinGain on the finest, and never
      // into fewer than kSplitMinTasksPerThread tasks per thread: with one task each a thread
      // that starts late leaves the other nothing to take over (1 image of 24 -> 256, 51x14, k1
      // s2, 2 threads: 2 tasks 0.16-0.24 ms from run to run, 1.3x fewer tiles than 8 of 4 rows).
      // Nor chunks the channel split below would cut: it packs each chunk's pixels once per
      // channel share (1 image of 16 -> 256 channels, 17x24, k4 s3, 2 threads: 14-row chunks
      // in 4 channel shares 0.68 ms, 1-row chunks with all channels 0.45).
      double best = makespan(finest) * (1 - kSplitMinGain);
      for (int64_t r = rows_chunk_max; r > finest; r /= 2) {  // (coarse to fine: a tie goes to the finer)
        if (splits_channels(r) || task_count(r) < kSplitMinTasksPerThread * int64_t(std::max(1, pr_.max_threads))) continue;
        const double m = makespan(r);
        if (m <= best) {
          rows_chunk = r;
          best = m;
        }
      }
    }
    // Still too few tasks (bands too short to halve without half-empty pixel tiles): channels
    // on the tile's columns are halved too, in whole panels, while a chunk keeps two of them.
    // (NCHW channels on the rows would re-pack the pixel panels per chunk.) tfgan_2 NHWC (7x7
    // outputs) had 7 tasks at 2 threads, the largest 17% of the work, and a thread idle for a
    // tenth of the time; 14 tasks: 4.63 -> 4.13 ms (dcgan_g2: 5 -> 10 tasks, 4.19 -> 3.95).
    // Not into tasks of under kMinSplitTaskMacs, whose fixed costs (offset tables, the pixel
    // tiles read again) then show: dcgan_g1, 3.3 M multiply-adds per task, 0.138 -> 0.153 ms.
    split_channels(rows_chunk);
    std::vector<std::pair<double, Task>> costed;
    for (size_t b = 0; b < bands_.size(); ++b) {
      const int64_t rows = band_rows(b);
      const auto [chunks, chunk] = equal_chunks(rows, rows_chunk);
      rows_chunk_ = std::max(rows_chunk_, chunk);
      const int64_t groups = pr_.params.groups;
      for (int64_t i = 0; i < groups * chunks; ++i)
        for (int64_t c0 = 0; c0 < channels; c0 += cc) {
          const int64_t g = groups_share_pixels ? i % groups : i / chunks;
          const int64_t r0 = (groups_share_pixels ? i / groups : i % chunks) * chunk;
          const Task t{int64_t(b), g, r0, std::min(rows, r0 + chunk), c0, std::min(cc, channels - c0)};
          costed.push_back({per_row[b] * double(t.r1 - t.r0) * double(t.c_count), t});
        }
    }
    // Each output row is then final when the one task that writes it ends, or after the bias
    // fill where none does (execute_by_rows).
    tasks_finish_rows_ = pr_.params.groups == 1 && cc >= channels && shortest_row_run(rows_chunk) >= kMinRowRunPixels;
    task_rows_.assign(size_t(pr_.params.output.h), 0);
    for (const RowBand& band : bands_)
      for (int64_t qh = band.q0h; qh < band.q1h; ++qh)
        for (int64_t member : band.members_h) task_rows_[size_t(phases_h_[size_t(member)].first + qh * pr_.params.stride.h)] = 1;
    // Which thread runs what. NCHW tasks, NHWC groups sharing pixels (above), and any run that
    // hands its rows to a sink (run()) go on contiguous shares of the task list, of equal
    // estimated work: each thread starts on its own share and then takes tasks from the ends of
    // the others' (parallel_for_contiguous), so neighbouring row chunks, which read the same
    // input rows, stay on one core. Zen 2, 2 threads, best of 2 alternating runs, auto, a random
    // 70 of the NCHW tune layers: 0.89x the time on NCHW subpixel plans (35 layers, worst
    // 1.06x), 0.94x through NHWC copies (worst 1.04x); dilated_up NCHW 0.73 -> 0.62 ms. Not for
    // other NHWC runs: 70 layers 0.98x, but up to 1.25x slower (16 images of 8 -> 8 channels,
    // 73x73, k3 s2: 183 tasks of 7 us, 1.81 -> 2.36 ms), so those are dealt out as they come.
    contiguous_shares_ = nchw_ || groups_share_pixels;
    // Largest first: the dynamic schedule then ends with small tasks that even out the threads.
    std::stable_sort(costed.begin(), costed.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    for (const auto& c : costed) {
      tasks_.push_back(c.second);
      task_cost_.push_back(c.first);
    }
  }

  int64_t band_rows(size_t b) const { return pr_.params.batch * (bands_[b].q1h - bands_[b].q0h); }

  // Outputs of phases no tap reaches (k < s, or dilation sharing a factor with the stride) are
  // act(bias): written by a plain fill rather than as K = 0 GEMM rows, whose per-phase channel
  // tables would grow with stride_h * stride_w * Cout.
  void plan_bias_fill() {
    const Params& p = pr_.params;
    bool any_row = false;
    for (const auto& ph : phases_h_) any_row = any_row || (ph.taps.empty() && ph.count > 0);
    if (any_row) {
      bias_rows_.assign(size_t(p.output.h), 0);
      for (const auto& ph : phases_h_)
        if (ph.taps.empty())
          for (int64_t q = 0; q < ph.count; ++q) bias_rows_[size_t(ph.first + q * p.stride.h)] = 1;
    }
    for (const auto& pw : phases_w_)
      if (pw.taps.empty())
        for (int64_t q = 0; q < pw.count; ++q) bias_cols_.push_back(pw.first + q * p.stride.w);
    std::sort(bias_cols_.begin(), bias_cols_.end());
    for (int64_t c = 0; c < p.out_channels; ++c) act_bias_.push_back(apply_activation(pr_.bias[size_t(c)], p.epilogue));
  }

  // The tap-less outputs of output row oh of one image: the whole row when its H phase has no
  // taps, else the columns of W phases without taps. NCHW fills the whole row then too, and the
  // GEMMs overwrite the outputs with taps afterwards: scattering the columns a float at a time
  // took up to half the time of layers with k < s or k = 1 (4 images of 48 -> 16 channels,
  // 63x8, k1 s2, 1 thread: 0.110 -> 0.079 ms). NHWC columns are whole channel vectors.
  void fill_bias_row(float* y, int64_t oh) const {
    const Params& p = pr_.params;
    const bool whole = !bias_rows_.empty() && bias_rows_[size_t(oh)];
    if (!whole && bias_cols_.empty()) return;
    if (nchw_) {
      for (int64_t c = 0; c < p.out_channels; ++c) {
        float* row = y + c * ys_.c + oh * ys_.h;
        std::fill(row, row + p.output.w, act_bias_[size_t(c)]);
      }
      return;
    }
    float* row = y + oh * ys_.h;
    auto put = [&](int64_t ow) { std::copy(act_bias_.begin(), act_bias_.end(), row + ow * ys_.w); };
    if (whole)
      for (int64_t ow = 0; ow < p.output.w; ++ow) put(ow);
    else
      for (int64_t ow : bias_cols_) put(ow);
  }

  static int64_t members_of(const PhasePlan& phase) {
    return int64_t(phase.members_h.size() * phase.members.size());
  }

  void run_task(const Task& task, const float* x, float* y, float* ws) const {
    const RowBand& band = bands_[size_t(task.band)];
    if (!row_writer_) {
      for (int64_t r : band.regions) run_region(task, regions_[size_t(r)], x, y, ws, nullptr);
      return;
    }
    // Phase-split rows: a chunk of band rows and output channels at a time, every region (all
    // W phases and segments) into the scratch, then the chunk's rows into the output.
    const Params& p = pr_.params;
    float* split = split_scratch(ws);
    const int64_t nmh = int64_t(band.members_h.size()), band_rows = band.q1h - band.q0h, ow = p.output.w;
    for (int64_t r0 = task.r0; r0 < task.r1; r0 += split_rows_) {
      const int64_t r1 = std::min(task.r1, r0 + split_rows_);
      for (int64_t co0 = 0; co0 < pr_.cog; co0 += split_channels_) {
        const int64_t co1 = std::min(pr_.cog, co0 + split_channels_);
        for (int64_t r : band.regions) {
          const Region& region = regions_[size_t(r)];
          const int64_t members = members_of(phases_[size_t(region.phase)]);
          const Task chunk{task.band, task.group, r0, r1, co0 * members, (co1 - co0) * members};
          run_region(chunk, region, x, y, ws, split);
        }
        for (int64_t co = co0; co < co1; ++co) {
          float* y_channel = y + (task.group * pr_.cog + co) * ys_.c;
          for (int64_t hm = 0; hm < nmh; ++hm) {
            const int64_t first_h = phases_h_[size_t(band.members_h[size_t(hm)])].first;
            for (int64_t row = r0; row < r1; ++row) {
              const int64_t n = row / band_rows, oh = first_h + (band.q0h + row % band_rows) * p.stride.h;
              float* split_row = split + (((co - co0) * nmh + hm) * split_rows_ + (row - r0)) * ow;
              row_writer_->interleave(split_row, ow, y_channel + n * ys_.n + oh * ys_.h);
            }
          }
        }
      }
    }
  }

  // Rows [task.r0, task.r1) of one region: pixel (row, qw) with row = n * band rows + (qh - q0h).
  // Into the output, or (split) into the phase-split rows of rows from task.r0 on.
  void run_region(const Task& task, const Region& region, const float* x, float* y, float* ws, float* split) const {
    const PhasePlan& phase = phases_[size_t(region.phase)];
    const int64_t rows = pr_.cog * members_of(phase);
    if (task.c0 >= rows) return;  // a narrower group than the task's channel range
    const int64_t c_count = std::min(task.c_count, rows - task.c0);
    const Params& p = pr_.params;
    int64_t* in_off = reinterpret_cast<int64_t*>(ws + gemm_pack_floats(kt_));
    const int64_t width = region.q1w - region.q0w, band_rows = region.q1h - region.q0h;
    const int64_t pixels = (task.r1 - task.r0) * width;
    int64_t* out_off = in_off + pixels;
    // Row by row, pixels by stepping (no divisions per pixel: a few percent of small layers).
    for (int64_t row = task.r0, i = 0; row < task.r1; ++row) {
      const int64_t n = row / band_rows, qh = region.q0h + row % band_rows;
      int64_t in = n * xs_.n + qh * xs_.h + region.q0w * xs_.w;
      // + the member's first row/column (its channel offset)
      int64_t out = split ? (row - task.r0) * p.output.w + region.q0w
                          : n * ys_.n + qh * p.stride.h * ys_.h + region.q0w * p.stride.w * ys_.w;
      const int64_t out_step = split ? 1 : p.stride.w * ys_.w;
      for (int64_t qw = 0; qw < width; ++qw, ++i, in += xs_.w, out += out_step) {
        in_off[i] = in;
        out_off[i] = out;
      }
    }
    const float* xg = x + task.group * pr_.cig * xs_.c;
    const int64_t x_extent = p.input_elements() - task.group * pr_.cig * xs_.c;  // floats from xg on
    const float* bias = phase.bias.data() + task.group * rows;
    const float* packed = phase.k_total > 0 ? phase.packed[size_t(task.group)].data() : nullptr;

    GemmBlock blk;
    blk.k_ranges = region.k_ranges.data();
    blk.k_range_count = int64_t(region.k_ranges.size());
    blk.c = split ? split : y + task.group * pr_.cog * ys_.c;
    blk.epilogue = &p.epilogue;
    const int64_t* channel_off = split ? phase.split_off.data() : phase.channel_off.data();
    const Operand weights{packed, phase.k_total, nullptr, nullptr, nullptr};
    // NCHW pixel panels that straddle two region rows lose the vector stores (their outputs are
    // not evenly spaced) and fall back to a scatter. Regions whose rows nearly fill whole wide
    // panels (31 of 32 pixels: the central piece of k = 4, s = 2, pad = 1 on a 32-wide input)
    // run row by row instead: no extra packing (the weights are prepacked), at most 1/16 of the
    // lanes idle. (Rows further from a panel multiple measured slower that way: narrow tiles,
    // and more panels each streaming the weights.)
    // With a short reduction every row runs on its own, whatever its width: the tiles are then
    // all stores, and a straddling panel's scattered store cost more than the narrow tile on
    // each row's end. 10 NCHW layers of K <= 32: 0.89x / 0.93x the time at 1 / 2 threads (best
    // of 3 alternating runs; 16 images of 1 -> 64 channels, 72x108, k4 s2: 26.7 -> 19.2 ms).
    // So do regions of at most two tiles of channels, whose B the GEMM reads in place (no
    // packing) wherever a panel's pixels are consecutive: a straddling panel was packed instead.
    // 14 NCHW layers of the random sets, subpixel, best of 3-4 alternating runs, 1 / 2 threads:
    // 0.87x / 0.81x the time (1 image of 192 -> 1 channel, 54x46, k3x5 s2: 1.43 -> 0.75 ms;
    // 16 images of 128 -> 1, 130x130, k2 s2, rows of 128 + 2 pixels: 1.11x / 0.87x).
    constexpr int64_t kShortRowReduction = 32;
    const int64_t row_lanes = round_up(width, kt_.nr);
    // Stacked W phases (row_group_) run row by row too, so their tiles leave as whole interleaved
    // groups, when a row's panels keep 3/4 of their lanes (a narrow last panel counting 16 on
    // AVX-512): below, panels across rows and their scattered stores were faster (4 images of 96
    // -> 128 channels, 18x18, k3 s3: 3.6 ms scattered, 5.1 row by row).
    const int64_t rem = width % kt_.nr;
    const int64_t row_tile_lanes = width - rem + (rem == 0 ? 0 : rem <= kt_.narrow_nr ? kt_.narrow_nr : kt_.nr);
    const bool b_in_place = gemm_reads_far_b_in_place(c_count, kt_);
    const bool by_row = channels_on_m_ && width != row_lanes && task.r1 - task.r0 > 1 &&
                        ((width > kt_.narrow_nr &&
                          (16 * (row_lanes - width) <= row_lanes || region.k <= kShortRowReduction || b_in_place)) ||
                         (row_group_ > 2 && 4 * width >= 3 * row_tile_lanes));
    const int64_t step = by_row ? width : pixels;
    GemmRunMemo memo;  // every row of the region has the same K
    blk.run_memo = &memo;
    // A task writes every W phase of its output rows, and the bias fill is done before any task
    // runs: no other thread touches these rows meanwhile.
    blk.c_rows_private = true;
    // Outputs past a quarter of the L3 already gain from the prefetch of C: 41 layers of 4-34 MB
    // outputs and K <= 32, Zen 4, best of 2 alternating runs: from 16 MB on mostly 0.7-1.0x (1
    // image of 16 -> 256, 45x60, k3 s3, NHWC: 3.64 -> 2.63 ms), under 8 MB neutral to 1.05x.
    // The K bound on AVX-512: up to 32 in both layouts; NHWC tiles (14 pixels, each storing to its own
    // output pixel) gain up to 64 too (8 layers of K 36-64: 0.96x, 2 images of 64 -> 256, 54x54,
    // k2 s2: 8.29 -> 7.61 ms), NCHW ones lost there (1.02x / 1.05x at 1 / 2 threads).
    // AVX2's tiles (6 x 16 floats, a line or two per row) gain at every K: 16 layers of 8-64 MB
    // outputs and K 40-1024, Zen 2, best of 2 alternating runs, 1 / 2 threads: NCHW 0.92x /
    // 0.94x the time (unet_up4 36.8 / 19.0 -> 33.0 / 17.0 ms; 1 image of 64 -> 64, 196x196,
    // k2 s2: 23.4 / 12.8 -> 19.0 / 9.9), NHWC 0.97x / 0.96x, none slower beyond 1.5%.
    // On AVX2 from 4 MiB on (session 41, Zen 3, 512 KiB L2): grouped_up (8 MiB, one 16-channel
    // line per tile row, the next store waiting on the last) NHWC 7.75 / 3.59 -> 6.79 / 3.32 ms at
    // 1 / 2 threads, NCHW 0.96x / 0.99x; 9 layers of 3-8 MiB outputs, best of 6 alternating runs,
    // geometric mean 0.99x / 0.98x NCHW, 1.00x / 1.00x NHWC (worst: 1 image of 16 -> 96, 40x40,
    // k3 s3, NHWC, K 16, 1.08x at 1 thread, 0.99x at 2).
    const int64_t beyond_cache_output_floats = kt_.isa == Isa::avx512f ? 2 << 20 : 1 << 20;  // 8 / 4 MiB
    const int64_t prefetch_max_k =
        kt_.isa == Isa::avx512f ? (nchw_ ? 32 : 64) : std::numeric_limits<int64_t>::max();
    if (!split && p.output_elements() > beyond_cache_output_floats) blk.prefetch_c_max_k = prefetch_max_k;
    for (int64_t i = 0; i < pixels; i += step) {
      const Operand input{nullptr, 0, xg, in_off + i, phase.k_off.data(), x_extent};
      orient(blk, channels_on_m_, weights, input, task.c0, c_count, step, channel_off, out_off + i, bias);
      gemm_block(blk, kt_, ws);
    }
  }

  const Problem& pr_;
  std::vector<Phase1D> phases_h_, phases_w_;
  std::vector<std::vector<int64_t>> h_groups_, w_groups_;  // group_phases() of each dimension
  bool channels_on_m_;  // output channels on the tile's rows (the weights are the packed A)
  int64_t row_group_;   // stacked_w_phases()
  const KernelTable& kt_;
  bool nchw_ = true;
  TensorStrides xs_{}, ys_{};
  std::vector<PhasePlan> phases_;
  std::vector<Region> regions_;
  std::vector<RowBand> bands_;
  std::map<std::pair<int64_t, int64_t>, int64_t> band_index_;  // (H phase, H segment) -> band
  int64_t max_width_ = 1;
  int64_t rows_chunk_ = 1;  // band rows per task
  std::vector<Task> tasks_;
  std::vector<double> task_cost_;  // estimated multiply-adds of each task
  bool tasks_finish_rows_ = false;  // every task writes whole output rows, all channels
  bool contiguous_shares_ = false;  // each thread runs its own run of tasks first (build_tasks())
  std::vector<char> task_rows_;     // per output row: some task writes it (else only the bias fill)
  std::vector<char> bias_rows_;      // per output row: its H phase has no taps (empty: none has)
  std::vector<int64_t> bias_cols_;   // output columns whose W phase has no taps, ascending
  std::vector<float> act_bias_;      // act(bias) per output channel
  // Phase-split rows (plan_phase_split_rows; no writer: tiles store into the output).
  static constexpr int64_t kSplitScratchFloats = 64 << 10;
  static constexpr int64_t kSplitMinOutputWidth = 96;
  static constexpr int64_t kSplitMaxScratchFloats = 1 << 22;  // 16 MiB per thread
  std::vector<Phase1D> split_phases_w_;  // the W phases as the writer takes them
  std::unique_ptr<PhaseRowWriter> row_writer_;
  int64_t split_channels_ = 1, split_rows_ = 1;  // output channels and band rows per chunk
  int64_t split_floats_ = 0;                     // scratch per thread
  uint64_t executed_ = 0;
};

}  // namespace

int64_t subpixel_phase_split_max_stride(const KernelTable& kernels) {
  return kernels.isa == Isa::avx512f ? 4 : kernels.narrow_nr;
}

namespace {

std::string subpixel_not_applicable(const Params& p) {
  if (p.stride.h * p.stride.w > kMaxPhases) {
    return "stride_h*stride_w=" + std::to_string(p.stride.h * p.stride.w) + " exceeds the " +
           std::to_string(kMaxPhases) + " phases it plans for";
  }
  return {};
}

std::unique_ptr<Strategy> create_subpixel(const Problem& pr) { return std::make_unique<Subpixel>(pr); }

}  // namespace

StrategyInfo subpixel_strategy() { return {"subpixel", subpixel_not_applicable, create_subpixel}; }

// Subpixel's NHWC plan on NCHW tensors, through NHWC copies (see layout_bridge.cpp for why).
StrategyInfo subpixel_via_nhwc_strategy() {
  return {"subpixel_via_nhwc",
          [](const Params& p) -> std::string {
            if (p.layout != Layout::nchw) return "layout=nhwc: subpixel runs NHWC tensors directly";
            return subpixel_not_applicable(p);
          },
          [](const Problem& pr) { return through_other_layout(pr, create_subpixel); }};
}

}  // namespace tconv::detail
