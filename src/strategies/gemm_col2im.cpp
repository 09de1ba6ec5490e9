// GEMM + col2im strategy (Caffe, PyTorch slow_conv_transpose2d, TFLite): per image and group,
// cols = W^T x X on the packed engine, then col2im gathers each output pixel's column entries
// with bias and activation in the same pass.
//
// Bounded workspace: instead of PyTorch's N x Cout x KH x KW x H x W column buffer, the output
// is cut into bands of rows; a band needs the columns of only the input rows that reach it
// (band/SH + about KH*DH/SH rows, the overlap recomputed), so one thread holds at most
// Cout/groups * KH * KW * (band input rows) * W floats. Bands also make the threads' outputs
// disjoint, and the band layout never depends on the thread count.
#include <algorithm>
#include <memory>

#include "epilogue/phase_row.hpp"
#include "gemm/gemm.hpp"
#include "plan/aligned_buffer.hpp"
#include "plan/checked.hpp"
#include "plan/geometry.hpp"
#include "strategies/strategy.hpp"
#include "threading/parallel.hpp"

namespace tconv::detail {
namespace {

constexpr int64_t kColumnBudgetFloats = int64_t{1} << 20;  // 4 MiB of columns per thread
constexpr int64_t kMinBands = 4;                           // so two threads have work

struct Band {
  int64_t oh0, oh1;  // output rows
  int64_t ih0, ih1;  // input rows whose columns they need (ih1 <= ih0 when none)
};

class GemmCol2im final : public Strategy {
 public:
  explicit GemmCol2im(const Problem& pr) : pr_(pr), kt_(tiles_for_columns(pr)) {
    const Params& p = pr.params;
    nchw_ = p.layout == Layout::nchw;
    xs_ = strides_of(p.layout, p.in_channels, p.input.h, p.input.w);
    ys_ = strides_of(p.layout, p.out_channels, p.output.h, p.output.w);
    kk_ = p.kernel.h * p.kernel.w;
    rows_ = pr.cog * kk_;  // column rows per group: (co, th, tw) in NCHW, (th, tw, co) in NHWC
    plan_bands();
    phases_h_ = decompose_phases(p.input.h, p.stride.h, p.kernel.h, p.dilation.h, p.crop.h, p.output.h);
    phases_w_ = decompose_phases(p.input.w, p.stride.w, p.kernel.w, p.dilation.w, p.crop.w, p.output.w);
    row_writer_ = std::make_unique<PhaseRowWriter>(phases_w_, p.stride.w, kt_);
    ones_.assign(size_t(kk_), 1.0f);
    // Weights as the GEMM's prepacked operand: element (col row, ci) = w[g*cig + ci][co][th][tw].
    std::vector<int64_t> row_off(static_cast<size_t>(rows_));
    const std::vector<int64_t> ci_off = strided_offsets(pr.cig, pr.cog * kk_);
    for (int64_t co = 0; co < pr.cog; ++co)
      for (int64_t t = 0; t < kk_; ++t) row_off[size_t(col_row(co, t))] = co * kk_ + t;
    const int64_t r = nchw_ ? kt_.mr : kt_.nr;
    for (int64_t g = 0; g < p.groups; ++g) {
      AlignedBuffer buf(size_t(round_up(rows_, r) * pr.cig), /*huge_pages=*/true);
      kt_.pack(pr.weight.data() + g * pr.cig * rows_, row_off.data(), rows_, ci_off.data(), pr.cig, r, buf.data());
      packed_.push_back(std::move(buf));
    }
    ci_off_ = strided_offsets(pr.cig, xs_.c);
    pixel_off_ = strided_offsets(max_pixels_, xs_.w);
    col_ld_off_ = strided_offsets(std::max(rows_, max_pixels_), nchw_ ? max_pixels_ : rows_);
    identity_ = strided_offsets(std::max(rows_, max_pixels_), 1);
    k_range_ = {0, pr.cig};
  }

  size_t workspace_floats(int threads) const override { return size_t(threads) * per_thread_floats(); }

  void execute(const float* x, float* y, float* ws, int threads) const override {
    const Params& p = pr_.params;
    const int64_t per_image = p.groups * int64_t(bands_.size());
    parallel_for(threads, p.batch * per_image, [&](int64_t t, int tid) {
      const int64_t n = t / per_image, g = (t % per_image) / int64_t(bands_.size());
      const Band& band = bands_[size_t(t % int64_t(bands_.size()))];
      float* mine = ws + size_t(tid) * per_thread_floats();
      run_band(band, g, x + n * xs_.n, y + n * ys_.n, mine);
    });
  }

  std::string implementation() const override { return std::string("gemm_col2im:") + kt_.gemm_name; }
  uint64_t executed_macs() const override { return executed_per_image_ * uint64_t(pr_.params.batch); }

 private:
  // The GEMM tile for the column rows (co, th, tw) of a group.
  static const KernelTable& tiles_for_columns(const Problem& pr) {
    const ChannelDim rows{pr.cog * pr.params.kernel.h * pr.params.kernel.w, 1.0};
    return tiles_for_channels(*pr.kernels, pr.params.layout == Layout::nchw, &rows, 1);
  }

  int64_t col_row(int64_t co, int64_t t) const { return nchw_ ? co * kk_ + t : t * pr_.cog + co; }

  // Pack buffer, columns, then col2im's scratch: a phase-split row and its tap offsets (NCHW) or
  // a channel vector (NHWC).
  size_t per_thread_floats() const {
    const Params& p = pr_.params;
    const size_t scratch = nchw_ ? cache_line_floats(size_t(p.output.w)) + size_t(2 * kk_) : size_t(pr_.cog);
    return cache_line_floats(gemm_pack_floats(kt_) + cache_line_floats(size_t(rows_ * max_pixels_)) + scratch);
  }

  void plan_bands() {
    const Params& p = pr_.params;
    const int64_t W = p.input.w, SH = p.stride.h;
    const int64_t reach = (p.kernel.h - 1) * p.dilation.h;  // output rows one input row spans - 1
    const int64_t budget_in_rows = std::max<int64_t>(1, kColumnBudgetFloats / std::max<int64_t>(1, rows_ * W));
    int64_t band = std::max<int64_t>(1, budget_in_rows * SH - reach);
    band = std::min(band, std::max<int64_t>(SH, ceil_div(p.output.h, kMinBands)));
    for (int64_t oh0 = 0; oh0 < p.output.h; oh0 += band) {
      Band b{oh0, std::min(p.output.h, oh0 + band), 0, 0};
      b.ih0 = std::max<int64_t>(0, ceil_div(b.oh0 + p.crop.h - reach, SH));
      b.ih1 = std::min<int64_t>(p.input.h, floor_div(b.oh1 - 1 + p.crop.h, SH) + 1);
      const int64_t pixels = std::max<int64_t>(0, b.ih1 - b.ih0) * W;
      max_pixels_ = std::max(max_pixels_, pixels);
      executed_per_image_ += uint64_t(pixels) * uint64_t(rows_) * uint64_t(pr_.cig) * uint64_t(p.groups);
      bands_.push_back(b);
    }
  }

  void run_band(const Band& band, int64_t g, const float* x, float* y, float* ws) const {
    const Params& p = pr_.params;
    float* cols = ws + gemm_pack_floats(kt_);
    const int64_t pixels = std::max<int64_t>(0, band.ih1 - band.ih0) * p.input.w;
    if (pixels > 0) {
      GemmBlock blk;
      blk.k_ranges = &k_range_;
      blk.k_range_count = 1;
      const Operand weights{packed_[size_t(g)].data(), pr_.cig, nullptr, nullptr, nullptr};
      const Operand input{nullptr, 0, x + g * pr_.cig * xs_.c + band.ih0 * xs_.h, pixel_off_.data(), ci_off_.data()};
      blk.c = cols;
      // Column rows (co, t) take the place of output channels: cols[(co, t)][pixel] in NCHW,
      // cols[pixel][(t, co)] in NHWC.
      orient(blk, nchw_, weights, input, 0, rows_, pixels, nchw_ ? col_ld_off_.data() : identity_.data(),
             nchw_ ? identity_.data() : col_ld_off_.data(), nullptr);
      gemm_block(blk, kt_, ws);
    }
    col2im(band, g, cols, y, cols + cache_line_floats(size_t(rows_ * max_pixels_)));  // aligned: holds int64 offsets
  }

  // out[oh][ow] = act(bias + sum of the column entries of the taps that reach it), taps in
  // ascending (th, tw) order. NCHW: per channel and output row, the column rows of the valid
  // taps are summed into a phase-split row with the direct row kernel (unit weights; segments
  // are disjoint, so each writes its own outputs; the fill zeroes outputs no tap reaches), then bias,
  // activation and interleave. NHWC: per output pixel, the valid taps' channel vectors are added.
  void col2im(const Band& band, int64_t g, const float* cols, float* y, float* scratch) const {
    const Params& p = pr_.params;
    const int64_t W = p.input.w, cog = pr_.cog;
    const float* bias = pr_.bias.data() + g * cog;
    if (nchw_) {
      int64_t* offs = reinterpret_cast<int64_t*>(scratch + cache_line_floats(size_t(p.output.w)));
      for (int64_t co = 0; co < cog; ++co) {
        for (int64_t oh = band.oh0; oh < band.oh1; ++oh) {
          const TapRun rh = tap_run_at(phases_h_, oh, p.crop.h, p.stride.h);
          std::fill(scratch, scratch + p.output.w, 0.0f);
          float* phase_row = scratch;
          for (const Phase1D& fw : phases_w_) {
            for (const auto& seg : fw.segments) {
              int64_t taps = 0;
              for (int64_t jh = rh.begin; jh < rh.end; ++jh) {
                const auto& th = rh.phase->taps[size_t(jh)];
                const int64_t ih = th.base + rh.q;
                for (int64_t jw = seg.tap_begin; jw < seg.tap_end; ++jw) {
                  const auto& tw = fw.taps[size_t(jw)];
                  offs[taps++] = col_row(co, th.k * p.kernel.w + tw.k) * max_pixels_ + (ih - band.ih0) * W + tw.base + seg.q0;
                }
              }
              if (taps > 0) kt_.row_fma(phase_row + seg.q0, 0, 1, 1, seg.q1 - seg.q0, cols, 0, offs, ones_.data(), taps, 1, false);
            }
            phase_row += fw.count;
          }
          row_writer_->write(scratch, p.output.w, bias[co], p.epilogue, y + (g * cog + co) * ys_.c + oh * ys_.h);
        }
      }
      return;
    }
    for (int64_t oh = band.oh0; oh < band.oh1; ++oh) {
      const TapRun rh = tap_run_at(phases_h_, oh, p.crop.h, p.stride.h);
      for (int64_t ow = 0; ow < p.output.w; ++ow) {
        const TapRun rw = tap_run_at(phases_w_, ow, p.crop.w, p.stride.w);
        std::fill(scratch, scratch + cog, 0.0f);
        for (int64_t jh = rh.begin; jh < rh.end; ++jh) {
          const auto& th = rh.phase->taps[size_t(jh)];
          const int64_t ih = th.base + rh.q;
          for (int64_t jw = rw.begin; jw < rw.end; ++jw) {
            const auto& tw = rw.phase->taps[size_t(jw)];
            const float* src = cols + ((ih - band.ih0) * W + tw.base + rw.q) * rows_ + col_row(0, th.k * p.kernel.w + tw.k);
            for (int64_t co = 0; co < cog; ++co) scratch[co] += src[co];
          }
        }
        kt_.epilogue(scratch, cog, bias, 1, p.epilogue);
        std::copy(scratch, scratch + cog, y + g * cog + oh * ys_.h + ow * ys_.w);
      }
    }
  }

  const Problem& pr_;
  const KernelTable& kt_;
  bool nchw_ = true;
  TensorStrides xs_{}, ys_{};
  int64_t kk_ = 0, rows_ = 0, max_pixels_ = 0;
  std::vector<Band> bands_;
  std::vector<Phase1D> phases_h_, phases_w_;
  std::unique_ptr<PhaseRowWriter> row_writer_;
  std::vector<float> ones_;  // unit weights: col2im adds column rows with the direct row kernel
  std::vector<AlignedBuffer> packed_;
  std::vector<int64_t> ci_off_, pixel_off_, col_ld_off_, identity_;
  KRange k_range_{};
  uint64_t executed_per_image_ = 0;
};

}  // namespace

StrategyInfo gemm_col2im_strategy() {
  return {"gemm_col2im",
          [](const Params& p) -> std::string {
            if (p.stride.h * p.stride.w > (int64_t{1} << 16)) return "stride_h*stride_w exceeds 65536 phases";
            return {};
          },
          [](const Problem& pr) -> std::unique_ptr<Strategy> { return std::make_unique<GemmCol2im>(pr); }};
}

}  // namespace tconv::detail
